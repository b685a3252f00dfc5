"""The set-level definitions of section 2, and lifting written out (section 3.1).

Shapes are dicts {axis: size}; an index record is a dict {axis: position}.
"""

from __future__ import annotations

import itertools
from typing import Mapping

import torch

from .._internal import AxisError, Axes, checked, fmt, make, merged_sizes
from .operations import select
from .named_tensor import NamedTensor, positional, shape

__all__ = ["compatible", "orthogonal", "records", "restrict", "lift"]


def compatible(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are compatible when every shared name has the same size."""
    return all(s[a] == t[a] for a in s if a in t)


def orthogonal(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are orthogonal when they share no name."""
    return not (set(s) & set(t))


def records(s: Mapping[str, int]):
    """Every index record of shape s (the paper's rec S), as dicts, in row-major order."""
    axes = list(s)
    for idx in itertools.product(*(range(s[a]) for a in axes)):
        yield dict(zip(axes, idx))


@checked()
def restrict(record: Mapping[str, int], axes: Axes) -> dict:
    """The restriction r|_T of a record to the axes T (those it has)."""
    return {a: i for a, i in record.items() if a in axes}


def _some_argument_has(f, args, over):
    sizes = merged_sizes([a for a in args if isinstance(a, NamedTensor)], "lift")
    for a in over:
        if a not in sizes:
            raise AxisError(f"lift: no argument has axis {a!r}; their axes are {fmt(sizes)}")


@checked(args="numbers", check=_some_argument_has)
def lift(f, *args, over: Axes):
    """Apply f to every slice of args along the axes over, by a loop.

    This is the paper's definition of lifting, [f^{S'}(X)]_{s'} = f(X_{s'}),
    executed literally: for each index record s' over over, each argument is
    restricted to s' (on the axes it has) and f is applied.  The results are
    stacked back along over.  Slow; it exists to check that ntlib's automatic
    lifting agrees with the definition.
    """
    named = [t for t in args if isinstance(t, NamedTensor)]  # not numbers
    sizes = {a: n for t in named for a, n in shape(t).items()}
    outs, out_names = [], None
    for r in records({a: sizes[a] for a in over}):
        sliced = [select(a, restrict(r, a.names))
                  if isinstance(a, NamedTensor) else a for a in args]
        y = f(*sliced)
        if out_names is None:
            out_names = y.names
        outs.append(positional(y, out_names))
    stacked = torch.stack(outs)
    data = stacked.reshape(tuple(sizes[a] for a in over) + outs[0].shape)
    return make(data, over + out_names)
