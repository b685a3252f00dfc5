"""Plain formulas and fused kernels: ``fused_by``, ``plain``, ``strict_fused``.

A block is written once as its formula (the plain definition, which the book
shows) and paired with a fused implementation that calls torch's kernel.  The
fused one runs by default; ``with nt.plain():`` runs the formula.
"""

from __future__ import annotations

import os

from . import checks

__all__ = ["plain", "strict_fused", "fused_enabled", "fused_by", "PLAIN", "STRICT"]

PLAIN = [False]
STRICT = [os.environ.get("NTLIB_STRICT_FUSED", "") not in ("", "0")]


class plain:
    """Context manager: run the formula-shaped definitions, not fused kernels.

    Blocks such as attention or convolution are written in ntlib exactly as
    the book's formulas read.  Where torch has a fused kernel for the same
    computation, ntlib dispatches to it by default (tests check that both
    paths agree).  Inside "with nt.plain():" every block runs its plain
    definition instead.
    """

    def __enter__(self):
        PLAIN.append(True)
        return self

    def __exit__(self, *exc):
        PLAIN.pop()
        return False


class strict_fused:
    """Context manager: a fused kernel that declines raises instead of falling back.

    For tests: inside "with nt.strict_fused():" a block whose fused kernel
    returns NotImplemented raises RuntimeError, so a kernel that never runs
    cannot go unnoticed.  NTLIB_STRICT_FUSED=1 turns it on for a whole run.
    """

    def __enter__(self):
        STRICT.append(True)
        return self

    def __exit__(self, *exc):
        STRICT.pop()
        return False


def fused_enabled() -> bool:
    """True unless inside "with nt.plain():"."""
    return not PLAIN[-1]


def fused_by(fast, check=None):
    """Decorator: pair a plain (formula-shaped) definition with a fused kernel.

    The decorated block first runs its checks (those declared with
    ntlib's checking decorator, and ``check(**arguments)`` if given), which raise
    on unfit axes on both paths alike.  Then, unless inside
    "with nt.plain():", it calls fast with every argument by keyword
    (defaults filled in); fast returns a named tensor, or NotImplemented to
    decline, in which case the plain definition runs (inside
    "with nt.strict_fused():" declining raises).  The two implementations
    stay reachable as block.plain and block.fused.
    """
    def pair(plain_def):
        info = getattr(plain_def, "__ntlib__", None)
        if info is not None:   # over the checking decorator: one wrapper for both
            return checks.generate(plain_def.__wrapped__, info["tensors"],
                                   info["requirements"], info["check"] or check,
                                   info["compat"], fast, info["accumulate"],
                                   values=info.get("values", False))
        return checks.generate(plain_def, check=check, compat=False, fast=fast)
    return pair
