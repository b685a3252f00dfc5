"""Plain formulas and fused kernels: ``fused_by``, ``plain``, ``strict_fused``.

A block is written once as its formula (the plain definition, which the book
shows) and paired with a fused implementation that calls torch's kernel.  The
fused one runs by default; ``with nt.plain():`` runs the formula.
"""

from __future__ import annotations

import os
from typing import Any, Callable, cast

from . import checks
from .checks import F

__all__ = ["plain", "strict_fused", "fused_enabled", "fused_by", "PLAIN", "STRICT", "OUTER"]


class _Outer:
    """The mode of ``nt.plain(nested=False)``: the blocks called directly run
    their formulas, the blocks those formulas call run as by default."""

    def __repr__(self):
        return "OUTER"


OUTER = _Outer()
# The dispatch mode, innermost last: False (fused kernels), OUTER, True (every
# block at every depth runs its formula), or a frozenset of the formulas (the
# ``.plain`` functions) of the blocks that run their formulas wherever called.
PLAIN: list = [False]
STRICT = [os.environ.get("NTLIB_STRICT_FUSED", "") not in ("", "0")]


class plain:
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
        self.mode = frozenset(getattr(b, "plain") for b in blocks) if blocks else \
            (OUTER if nested is False else True)

    def __enter__(self) -> plain:
        PLAIN.append(self.mode)
        return self

    def __exit__(self, *exc: object) -> None:
        PLAIN.pop()


class strict_fused:
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

    def __enter__(self) -> strict_fused:
        STRICT.append(True)
        return self

    def __exit__(self, *exc: object) -> None:
        STRICT.pop()


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
    return PLAIN[-1] is False


def outer_formula(formula: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """formula(*args, **kwargs) with the blocks it calls at their default (the
    mode of nt.plain(nested=False))."""
    PLAIN.append(False)
    try:
        return formula(*args, **kwargs)
    finally:
        PLAIN.pop()


def fused_by(fast: Callable[..., Any],
             check: Callable[..., Any] | None = None) -> Callable[[F], F]:
    """Decorator: pair a plain (formula-shaped) definition with a fused kernel.

    The decorated block first runs its checks (those declared with
    ntlib's checking decorator, and ``check(**arguments)`` if given), which raise
    on unfit axes on both paths alike.  Then, unless "with nt.plain(...):"
    asks for its formula (see nt.plain), it calls fast with every argument by
    keyword (defaults filled in); fast returns a named tensor, or
    NotImplemented to decline, in which case the plain definition runs
    (inside "with nt.strict_fused():" declining raises).  The two
    implementations stay reachable as block.plain and block.fused.

    Example:

    >>> def cube_fused(x):                        # the fused kernel
    ...     return nt.tensor(torch.pow(x.data, 3), nt.names(x))
    >>> @nt.fused_by(cube_fused)
    ... def cube(x):                              # the formula
    ...     return x * x * x
    >>> x = nt.tensor([1., 2, 3], "a")
    >>> nt.show(cube(x))
    a[3]
    [ 1.  8. 27.]
    >>> cube.plain is not cube and nt.equal(cube.plain(x), cube.fused(x))
    True
    """
    def pair(plain_def: F) -> F:
        info = getattr(plain_def, "__ntlib__", None)
        if info is not None:   # over the checking decorator: one wrapper for both
            return cast(F, checks.generate(getattr(plain_def, "__wrapped__"), info["tensors"],
                                           info["requirements"], info["check"] or check,
                                           info["compat"], fast, info["accumulate"],
                                           values=info.get("values", False)))
        return cast(F, checks.generate(plain_def, check=check, compat=False, fast=fast))
    return pair
