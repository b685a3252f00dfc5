"""What the exercises' references share: reading named tensors positionally.

Each reference answer of a function exercise is computed with positional
torch (or, in chapter 5, with torch's automatic differentiation), never with
the named formula a solution cell writes out, so that a check in the book
compares two different computations.  The axes of a case that the formula
does not mention (the ones an answer lifts over) are put first, in sorted
order, and broadcast by torch.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch

from ..core import names, positional, shape, tensor


def extras(kw: dict, formula_axes: Iterable[str]) -> list[str]:
    """The axes of the case's named tensors that the formula does not mention."""
    axes: set = set()
    for v in kw.values():
        if not isinstance(v, (int, float, str, dict, type(None))):
            axes |= set(names(v))
    return sorted(axes - set(formula_axes))


def p(x: Any, E: Sequence[str], *tail: str) -> torch.Tensor:
    """``x`` read in the order ``E + tail``, as float64; an axis of ``E`` that
    ``x`` lacks becomes a dimension of size 1 (broadcast by torch)."""
    s = shape(x)
    have = [a for a in E if a in s]
    data = positional(x, tuple(have) + tuple(tail))
    if data.is_floating_point():
        data = data.double()
    return data.reshape([s[a] if a in s else 1 for a in E] + [s[a] for a in tail])


def named(data: torch.Tensor, order: Sequence[str]) -> Any:
    """A positional result back as a named tensor, its dimensions named ``order``."""
    return tensor(data, tuple(order))
