"""The modes ``nt.plain()`` and ``nt.strict_fused()``, per thread and task.

``nt.plain()`` runs formulas instead of fused kernels; inside
``nt.strict_fused()`` a declining kernel raises.  Each thread and each
asyncio task has its own.

A block is written once as its formula (the plain definition, which the book
shows) and paired with a fused implementation that calls torch's kernel
(ntlib._internal.dispatch.fused_by).  The fused one runs by default; ``with
nt.plain():`` runs the formula.  The wrappers that ntlib._internal.checks
generates read the modes here.
"""

from __future__ import annotations

import contextvars
import os
from typing import Any, Callable

import torch

__all__ = ["plain", "strict_fused", "fused_enabled", "plain_mode", "strict_mode",
           "outer_formula", "OUTER"]


class _Outer:
    """The mode of ``nt.plain(nested=False)``: the blocks called directly run
    their formulas, the blocks those formulas call run as by default."""

    def __repr__(self):
        return "OUTER"


OUTER = _Outer()

# The modes live in context variables, so that each thread and each asyncio
# task has its own: nt.plain() in one request handler leaves every other
# handler on the fused kernels.  The dispatch mode is False (fused kernels),
# OUTER, True (every block at every depth runs its formula), or a frozenset of
# the formulas (the ``.plain`` functions) of the blocks that run their
# formulas wherever called.
_PLAIN: contextvars.ContextVar[Any] = contextvars.ContextVar("ntlib_plain", default=False)
_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ntlib_strict_fused", default=os.environ.get("NTLIB_STRICT_FUSED", "") not in ("", "0"))

# torch.compile (torch 2.13) cannot trace ContextVar.get or .set.  While dynamo
# traces, a mode entered inside the traced function is kept on these stacks
# (dynamo tracks a list's changes like any side effect), and the mode the
# traced function was called in is read once, at trace time, through
# _entry_index (a constant of the graph; see nt.compile for a compiled
# function that follows the mode it is called in).
# torch.compiler.is_dynamo_compiling: torch 2.3 on; older torch has no fullgraph
# support for ntlib anyway
_tracing = getattr(torch.compiler, "is_dynamo_compiling", None) or (lambda: False)
_TRACED_PLAIN: list = []
_TRACED_STRICT: list = []
_SEEN: list = []     # every mode value read at trace time; a graph holds its index


def _index(value: Any) -> int:
    for i, v in enumerate(_SEEN):
        if v is value or (v.__class__ is value.__class__ and v == value):
            return i
    _SEEN.append(value)
    return len(_SEEN) - 1


@torch.compiler.assume_constant_result
def _entry_plain() -> int:
    return _index(_PLAIN.get())


@torch.compiler.assume_constant_result
def _entry_strict() -> int:
    return _index(_STRICT.get())


def plain_mode() -> Any:
    """The dispatch mode here (see the mode values above)."""
    if _tracing():
        return _TRACED_PLAIN[-1] if _TRACED_PLAIN else _SEEN[_entry_plain()]
    return _PLAIN.get()


def strict_mode() -> bool:
    """True inside "with nt.strict_fused():" (or with NTLIB_STRICT_FUSED=1)."""
    if _tracing():
        return _TRACED_STRICT[-1] if _TRACED_STRICT else _SEEN[_entry_strict()]
    return _STRICT.get()


class _Mode:
    """A context manager that sets a context variable (or, while traced, pushes on
    a stack) and restores it; reentrant."""

    var: contextvars.ContextVar[Any]
    traced: list
    value: Any
    _tokens: list

    def __enter__(self) -> Any:
        if _tracing():
            self.traced.append(self.value)
            self._tokens.append(None)
        else:
            self._tokens.append(self.var.set(self.value))
        return self

    def __exit__(self, *exc: object) -> None:
        token = self._tokens.pop()
        if token is None:
            self.traced.pop()
        else:
            self.var.reset(token)


class plain(_Mode):
    """Context manager: run blocks as their formulas, not as fused kernels.

    Blocks such as attention or convolution are written in ntlib exactly as
    the book's formulas read.  Where torch has a fused kernel for the same
    computation, ntlib dispatches to it by default (tests check that both
    paths agree).

    - "with nt.plain():" every block runs its formula, at every depth
      (attention's softmax as exp and a sum, say).
    - "with nt.plain(nested=False):" every block called in the body runs its
      formula; the blocks that formula calls run as they do by default.  So
      attention runs softmax_seq(Q ⊙_key K / sqrt|key| + M) ⊙_seq V as
      written, and the softmax in it (an operation of section 3 with a
      formula of its own) is torch.softmax, as a contraction is one einsum.
    - "with nt.plain(nt.attention, nt.softmax):" exactly the blocks named run
      their formulas, wherever they are called (inside another block's
      formula too); every other block runs its fused kernel.

    The mode belongs to the thread or asyncio task that enters it (a context
    variable).  Under torch.compile it is read when the function is traced:
    enter it inside the compiled function, or compile one function per mode
    (a graph keeps the mode it was traced in).

    Example:

    >>> x = nt.randn(seed=0, batch=2, seq=3)
    >>> fused = nt.softmax(x, "seq")          # torch.softmax
    >>> with nt.plain():
    ...     formula = nt.softmax(x, "seq")    # exp(x - max) / sum, as shown
    ...     nt.fused_enabled()
    False
    >>> nt.allclose(formula, fused)
    True
    """

    def __init__(self, *blocks: Callable[..., Any], nested: bool | None = None) -> None:
        for b in blocks:
            if not callable(getattr(b, "fused", None)) or not callable(getattr(b, "plain", None)):
                raise TypeError(f"plain: {getattr(b, '__name__', b)!r} is not a block "
                                f"with a formula and a fused kernel (made by nt.fused_by)")
        if blocks and nested is not None:
            raise TypeError("plain: give blocks or nested=..., not both")
        self.mode = self.value = frozenset(getattr(b, "plain") for b in blocks) if blocks \
            else (OUTER if nested is False else True)
        self.var, self.traced = _PLAIN, _TRACED_PLAIN
        self._tokens = []


class strict_fused(_Mode):
    """Context manager: a fused kernel that declines raises instead of falling back.

    For tests: inside "with nt.strict_fused():" a block whose fused kernel
    returns NotImplemented raises RuntimeError, so a kernel that never runs
    cannot go unnoticed.  NTLIB_STRICT_FUSED=1 turns it on for a whole run.

    Example:

    >>> X = nt.randn(seed=0, batch=2, layer=3)
    >>> W = nt.randn(seed=1, batch=2, out=4, layer=3)    # weights per example
    >>> b = nt.randn(seed=2, out=4)
    >>> nt.shape(nt.full_conn(X, W, b))    # F.linear declines: the formula
    {'batch': 2, 'layer': 4}
    >>> with nt.strict_fused():
    ...     nt.full_conn(X, W, b)
    Traceback (most recent call last):
        ...
    RuntimeError: full_conn: the fused kernel declined these inputs ...
    """

    def __init__(self) -> None:
        self.value, self.var, self.traced = True, _STRICT, _TRACED_STRICT
        self._tokens = []


def fused_enabled() -> bool:
    """True unless inside "with nt.plain(...):" (False there even where only some
    blocks are named).

    Example:

    >>> nt.fused_enabled()
    True
    >>> with nt.plain():
    ...     nt.fused_enabled()
    False
    """
    return plain_mode() is False


def outer_formula(formula: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """formula(*args, **kwargs) with the blocks it calls at their default (the
    mode of nt.plain(nested=False))."""
    if _tracing():
        _TRACED_PLAIN.append(False)
        try:
            return formula(*args, **kwargs)
        finally:
            _TRACED_PLAIN.pop()
    token = _PLAIN.set(False)
    try:
        return formula(*args, **kwargs)
    finally:
        _PLAIN.reset(token)
