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


def cases(items, xfail=None):
    """pytest params from ``items`` (a list of (id, values) or of names), each
    marked xfail(strict=True) when its id is a key of ``xfail`` ({id: reason}).

    With NTLIB_NO_XFAIL=1 no case is marked (to see what still fails).  Every
    key of ``xfail`` must be the id of a case, so that a stale mark is noticed.
    """
    xfail = dict(xfail or {})
    items = [(i, (i,)) if isinstance(i, str) else (i[0], tuple(i[1])) for i in items]
    unknown = set(xfail) - {i for i, _ in items}
    assert not unknown, f"xfail marks for cases that do not exist: {sorted(unknown)}"
    off = os.environ.get("NTLIB_NO_XFAIL", "") not in ("", "0")
    out = []
    for i, values in items:
        marks = ([pytest.mark.xfail(strict=True, reason=xfail[i])]
                 if i in xfail and not off else [])
        out.append(pytest.param(*values, marks=marks, id=i))
    return out


def params(names, xfail=None):
    """cases() over entry names."""
    return cases(list(names), xfail)


def expand(reason, spec):
    """{id: reason} from {name: "label label ..."} ids "name:label" (or from
    {name: None}: the id is the name)."""
    out = {}
    for name, labels in spec.items():
        if labels is None:
            out[name] = reason
        else:
            for lab in labels.split():
                out[f"{name}:{lab}"] = reason
    return out


def entries(pred):
    return [e.name for e in TABLE if pred(e)]


__all__ = ["raised_in_ntlib", "expect_own_error", "cases", "params", "expand", "entries",
           "BY_NAME", "TABLE"]
