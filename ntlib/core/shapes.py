"""The set-level definitions of section 2, and lifting written out (section 3.1).

Shapes are dicts {axis: size}; an index record is a dict {axis: position}.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterator, Mapping

import torch

from .._internal import AxisError, Axes, checked, fmt, make, merged_sizes
from ._indexing import select
from .named_tensor import Named, NamedTensor, positional, shape

__all__ = ["compatible", "orthogonal", "records", "restrict", "lift"]


def compatible(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are compatible when every shared name has the same size.

    Example:

    >>> nt.compatible({"height": 2, "width": 3}, {"width": 3, "seq": 5})
    True
    >>> nt.compatible({"height": 2, "width": 3}, {"width": 4})
    False
    """
    return all(s[a] == t[a] for a in s if a in t)


def orthogonal(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are orthogonal when they share no name.

    Example:

    >>> nt.orthogonal({"height": 2}, {"width": 3})
    True
    >>> nt.orthogonal({"height": 2}, {"height": 2})
    False
    """
    return not (set(s) & set(t))


def records(s: Mapping[str, int]) -> Iterator[dict[str, int]]:
    """Every index record of shape s (the paper's rec S), as dicts, in row-major order.

    Example:

    >>> for r in nt.records({"height": 2, "width": 2}):
    ...     print(r)
    {'height': 0, 'width': 0}
    {'height': 0, 'width': 1}
    {'height': 1, 'width': 0}
    {'height': 1, 'width': 1}
    """
    axes = list(s)
    for idx in itertools.product(*(range(s[a]) for a in axes)):
        yield dict(zip(axes, idx))


@checked()
def restrict(record: Mapping[str, int], axes: Axes) -> dict[str, int]:
    """The restriction r|_T of a record to the axes T (those it has).

    Example:

    >>> nt.restrict({"height": 1, "width": 2}, "width")
    {'width': 2}
    """
    return {a: i for a, i in record.items() if a in axes}


def _some_argument_has(f, args, over):
    sizes = merged_sizes([a for a in args if isinstance(a, NamedTensor)], "lift")
    for a in over:
        if a not in sizes:
            raise AxisError(f"lift: no argument has axis {a!r}; their axes are {fmt(sizes)}")


@checked(args="numbers", check=_some_argument_has)
def lift(f: Callable[..., Named], *args: Named | float, over: Axes) -> Named:
    """Apply f to every slice of args along the axes over, by a loop.

    This is the paper's definition of lifting, [f^{S'}(X)]_{s'} = f(X_{s'}),
    executed literally: for each index record s' over over, each argument is
    restricted to s' (on the axes it has) and f is applied.  The results are
    stacked back along over.  Slow; it exists to check that ntlib's automatic
    lifting agrees with the definition.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> rows = nt.lift(lambda row: nt.softmax(row, "width"), A, over="height")
    >>> nt.allclose(rows, nt.softmax(A, "width"))    # softmax lifts itself
    True
    """
    named = [t for t in args if isinstance(t, NamedTensor)]  # not numbers
    sizes = {a: n for t in named for a, n in shape(t).items()}
    outs = []
    for r in records({a: sizes[a] for a in over}):
        sliced = [select(a, restrict(r, a.names))
                  if isinstance(a, NamedTensor) else a for a in args]
        outs.append(f(*sliced))
    out_names = outs[0].names
    stacked = torch.stack([positional(y, out_names) for y in outs])
    data = stacked.reshape(tuple(sizes[a] for a in over) + stacked.shape[1:])
    return make(data, tuple(over) + out_names)
