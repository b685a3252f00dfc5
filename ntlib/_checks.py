"""Argument checks for the modules after core (nn, calculus, examples, models,
alternatives) that stay out of the function bodies the book shows.

:func:`checked` runs a check before a function and keeps the function's own
source for ``nt.source`` (``inspect.getsource`` follows ``__wrapped__``);
:func:`size`, :func:`axis_names` and :func:`real` raise ntlib's own errors
(AxisError for axes and sizes, TypeError for a value of the wrong kind).
"""

from __future__ import annotations

import functools
import inspect
import operator
from typing import Mapping

from .core import AxisError, _as_funsor, _fmt, dtype

__all__ = ["checked", "size", "axis_names", "real"]


def checked(fn, check):
    """``fn`` preceded by ``check(**arguments)`` (defaults filled in).

    ``check`` raises for bad arguments, or returns a dict of arguments to
    replace (e.g. index tensors converted to int64).  ``nt.source(fn)`` still
    shows ``fn``'s own body.
    """
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        new = check(**bound.arguments)
        if new:
            bound.arguments.update(new)
            return fn(*bound.args, **bound.kwargs)
        return fn(*args, **kwargs)
    return wrapper


def size(n, axis, what) -> int:
    """``n`` as the size of axis ``axis``: a non-negative int (not a bool; numpy
    and 0-dim torch integers count, as for ``operator.index``)."""
    try:
        k = None if isinstance(n, bool) else operator.index(n)
    except TypeError:
        k = None
    if k is None or k < 0:
        raise AxisError(f"{what}: the size of axis {axis!r} must be a non-negative "
                        f"int, got {n!r}")
    return k


def axis_names(axes, what, param) -> tuple:
    """One axis name or several, as a tuple of distinct str (AxisError otherwise)."""
    if isinstance(axes, str):
        return (axes,)
    if isinstance(axes, Mapping) or not hasattr(axes, "__iter__"):
        raise AxisError(f"{what}: {param} must be an axis name (a str) or a sequence "
                        f"of them, got {axes!r}")
    axes = tuple(axes)
    for a in axes:
        if not isinstance(a, str):
            raise AxisError(f"{what}: axis names in {param} must be str, got {a!r} "
                            f"in {axes!r}")
    dup = sorted({a for a in axes if axes.count(a) > 1})
    if dup:
        raise AxisError(f"{what}: {param} {axes!r} repeat the axes {dup}")
    return axes


def real(what, **tensors) -> None:
    """TypeError unless each named tensor given is real (not complex)."""
    for role, t in tensors.items():
        if t is None:
            continue
        t = _as_funsor(t)
        if dtype(t).is_complex:
            raise TypeError(f"{what}: {role} must be real; got {dtype(t)} values over "
                            f"{_fmt({a: d.size for a, d in t.inputs.items()})} "
                            f"(complex input is not supported here)")
