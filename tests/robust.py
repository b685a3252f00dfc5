"""Helpers shared by the robustness tests (tests/test_robustness*.py)."""

from __future__ import annotations

import os

import pytest

import ntlib as nt
from public_api import BY_NAME, TABLE

NTLIB_DIR = os.path.dirname(os.path.abspath(nt.__file__))


def raised_in_ntlib(exc) -> bool:
    """True when the innermost frame that raised ``exc`` is ntlib's own code
    (not funsor's, torch's or Python's inside them)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and os.path.abspath(last).startswith(NTLIB_DIR + os.sep)


def expect_own_error(fn, kind, *mentions, what=""):
    """Run fn(); it must raise ``kind`` from ntlib's own code, and the message
    must contain each of ``mentions``.  Returns the exception."""
    with pytest.raises(Exception) as info:
        fn()
    err = info.value
    head = f"{what}: " if what else ""
    assert isinstance(err, kind), (
        f"{head}expected {kind.__name__}, got {type(err).__module__}."
        f"{type(err).__name__}: {err}")
    assert raised_in_ntlib(err), (
        f"{head}{type(err).__name__} raised outside ntlib (funsor/torch internals): {err}")
    for m in mentions:
        assert m in str(err), f"{head}message {str(err)!r} does not mention {m!r}"
    return err


def cases(items):
    """pytest params from ``items`` (a list of (id, values) or of names), each
    with its id."""
    items = [(i, (i,)) if isinstance(i, str) else (i[0], tuple(i[1])) for i in items]
    return [pytest.param(*values, id=i) for i, values in items]


def params(names):
    """cases() over entry names."""
    return cases(list(names))


def entries(pred):
    return [e.name for e in TABLE if pred(e)]


__all__ = ["raised_in_ntlib", "expect_own_error", "cases", "params", "entries",
           "BY_NAME", "TABLE"]
