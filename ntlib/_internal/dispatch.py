"""Plain formulas and fused kernels: ``fused_by``.

A block is written once as its formula (the plain definition, which the book
shows) and paired with a fused implementation that calls torch's kernel.  The
fused one runs by default; ``with nt.plain():`` (ntlib._internal.modes) runs
the formula.
"""

from __future__ import annotations

from typing import Any, Callable, cast

from . import checks
from .checks import F

__all__ = ["fused_by"]


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
