"""The paper's operations on named tensors (section 3).

Elementwise functions and binary operations (lifted over every axis),
reductions, contraction, functions from vectors to vectors (softmax,
argmax), renaming and reshaping, indexing, and the methods of NamedTensor,
installed from one table (METHODS) so that x.sum is nt.sum.  The formulas
are here; the machinery they stand on is beside them: broadcasting by name
and the arithmetic operators (ntlib.core._layouts), the contraction planner
(ntlib.core._contraction) and the indexing engine (ntlib.core._indexing).

dtypes.  Every operation follows one rule, torch's type promotion
(torch.result_type): mixing float32 and float64 gives float64, integers with
floats give floats, booleans count as integers.  Sums, maxima, counts and
contractions of integers (or booleans) stay integers (int64); operations that
need real numbers (means, variances, softmax, exp, log, division, the neural
network blocks) turn integer or boolean input into torch's default float
dtype (float32 unless torch.set_default_dtype says otherwise), as torch's own
true division does.  Means and variances of float16 and bfloat16 data are
accumulated in float32, as torch does, and returned in the input's dtype.
The fused kernels apply the same rule.

Indices are 0-based (Python's convention); the paper counts from 1.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np
import torch

from .._internal import (AxisError, Axes, Axis, Order, axis_name, axis_size, bounded_cache,
                         checked, data_in, float_dtype, floating, fmt, fused_by, is_float, make,
                         missing_axis, promote, same_device, sizes_of, torch_dtype)
from ._contraction import contractible, einsum, einsum_equation
from ._indexing import call, getitem, select
from ._layouts import OPERATORS
from .named_tensor import Named, NamedTensor, positional

__all__ = [
    "contract", "sum", "mean", "var", "std", "prod", "max", "min", "logsumexp", "norm",
    "softmax", "log_softmax", "argmax", "argmin", "argmax_index", "argmin_index",
    "topk", "sigmoid", "relu", "exp", "log", "tanh", "sqrt", "abs", "rename",
    "flatten", "unflatten", "index", "narrow", "cat", "stack", "unbind",
    "astype", "equal", "allclose", "backward", "grad",
]

# --------------------------------------------------------------------------
# elementwise functions (lifted to every axis automatically)

def _map(fn: Callable[[torch.Tensor], torch.Tensor], x: Named,
         real: bool = False) -> Named:
    """fn applied to x's data; real: integer input is made float first."""
    return make(fn(floating(x.data) if real else x.data), x.names)


@checked("x")
def sigmoid(x: Named) -> Named:
    """σ(X) = 1 / (1 + exp(-X)), elementwise.

    Example:

    >>> nt.show(nt.sigmoid(nt.tensor([0., 2], "a")))
    a[2]
    [0.5    0.8808]
    """
    return _map(torch.sigmoid, x, real=True)


def _abs(d):
    return torch.abs(d.long() if d.dtype is torch.bool else d)  # booleans count as integers


@checked("x")
def abs(x: Named) -> Named:
    """|X|, elementwise (booleans count as integers).

    Example:

    >>> nt.show(nt.abs(nt.tensor([-3, 0, 2], "a")))
    a[3]
    [3 0 2]
    """
    return _map(_abs, x)


@checked("x", real=True)
def relu(x: Named) -> Named:
    """relu(X) = max(X, 0), elementwise.

    Example:

    >>> nt.show(nt.relu(nt.tensor([-1.5, 0, 2], "a")))
    a[3]
    [0. 0. 2.]
    """
    return _map(torch.relu, x)


@checked("x")
def exp(x: Named) -> Named:
    """exp(X), elementwise.

    Example:

    >>> nt.show(nt.exp(nt.tensor([0., 1], "a")))
    a[2]
    [1.     2.7183]
    """
    return _map(torch.exp, x, real=True)


@checked("x")
def log(x: Named) -> Named:
    """log(X), elementwise.

    Example:

    >>> nt.show(nt.log(nt.tensor([1., 10], "a")))
    a[2]
    [0.     2.3026]
    """
    return _map(torch.log, x, real=True)


@checked("x")
def tanh(x: Named) -> Named:
    """tanh(X), elementwise.

    Example:

    >>> nt.show(nt.tanh(nt.tensor([0., 1], "a")))
    a[2]
    [0.     0.7616]
    """
    return _map(torch.tanh, x, real=True)


@checked("x")
def sqrt(x: Named) -> Named:
    """sqrt(X), elementwise.

    Example:

    >>> nt.show(nt.sqrt(nt.tensor([4., 2], "a")))
    a[2]
    [2.     1.4142]
    """
    return _map(torch.sqrt, x, real=True)


@checked("x")
def log1p(x: Named) -> Named:
    """log(1 + X), elementwise.

    Example:

    >>> nt.show(nt.tensor([0., 1], "a").log1p())
    a[2]
    [0.     0.6931]
    """
    return _map(torch.log1p, x, real=True)


@checked("x")
def atanh(x: Named) -> Named:
    """atanh(X), elementwise.

    Example:

    >>> nt.show(nt.tensor([0., 0.5], "a").atanh())
    a[2]
    [0.     0.5493]
    """
    return _map(torch.atanh, x, real=True)


def _neg(x):
    return _map(torch.neg, x)


def _pos(x):
    return x


def _invert(x):
    return _map(torch.bitwise_not, x)


def _astype_check(x, dtype):
    return {"dtype": torch_dtype(dtype, "astype")}


@checked("x", check=_astype_check, replaces="dtype")
def astype(x: Named, dtype: torch.dtype) -> Named:
    """x with its values converted to the torch dtype dtype (same axes).

    dtype may also be given as numpy gives it (np.float32, np.dtype("int64"))
    or by name ("float32", "torch.int64"); anything else is a TypeError.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.dtype(nt.astype(A, torch.float32))
    torch.float32
    >>> nt.show(nt.astype(nt.tensor([0.5, 2.7], "a"), torch.int64))
    a[2]
    [0 2]
    """
    return make(x.data.to(dtype), x.names)


# --------------------------------------------------------------------------
# reductions (no axes given: over all axes)

@bounded_cache
def _dims(axes, over):
    return [axes.index(a) for a in over], tuple(a for a in axes if a not in over)


def reduce(fn: Callable[[torch.Tensor, list[int]], torch.Tensor], x: Named,
           axes: Sequence[str] | None) -> Named:
    """fn over the dims of the axes axes of x, lifted over x's other axes,
    which the result keeps."""
    if not axes:
        return x
    dims, rest = _dims(x.names, axes)
    return make(fn(x.data, dims), rest)


def _abs2(x: Named) -> Named:
    """|X|^2 elementwise, as X * conj(X): its first and second derivatives are
    right at 0 (through abs the second is 0 there instead of 2)."""
    d = floating(x.data)
    return make((d * d.conj()).real if d.is_complex() else d * d, x.names)


def _root(x: Named, p: float) -> Named:
    """X^(1/p) elementwise for X >= 0, with gradient 0 where X = 0 (torch's
    subgradient for std and norm; the derivative of the root is infinite there)."""
    d = x.data
    pos = d > 0
    return make(torch.where(pos, torch.where(pos, d, 1) ** (1.0 / p), 0), x.names)


def _not_empty(what):
    """A check: the axes (or the axis ax) to take an extreme value over are not empty."""
    def check(x, axes=(), ax=None):
        for a in (axes if ax is None else (ax,)):
            if x.data.shape[x.names.index(a)] == 0:
                raise AxisError(f"{what}: axis {a!r} has size 0, and no values have "
                                f"an extreme; the tensor has {fmt(sizes_of(x))}")
    return check


@checked(x="has axes")
def sum(x: Named, axes: Axes | None = None) -> Named:
    """Sum over axes (one name or several; all if omitted): Σ_ax X.

    Integers and booleans are summed as int64 (a count), as in torch.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.sum(A, "height"))
    width[3]
    [ 4.  6. 13.]
    >>> nt.show(nt.sum(A))
    scalar: 23.
    >>> nt.show(nt.sum(A > 2, "width"))    # a count
    height[2]
    [2 2]
    """
    return reduce(torch.sum, x, axes)


@checked(x="has axes", check=_not_empty("max"), real=True)
def max(x: Named, axes: Axes | None = None) -> Named:
    """Maximum over axes (all if omitted).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.max(A, "width"))
    height[2]
    [4. 9.]
    """
    return reduce(torch.amax, x, axes)


@checked(x="has axes", check=_not_empty("min"), real=True)
def min(x: Named, axes: Axes | None = None) -> Named:
    """Minimum over axes (all if omitted).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.min(A, "height"))
    width[3]
    [1. 1. 4.]
    >>> nt.show(nt.min(A))
    scalar: 1.
    """
    return reduce(torch.amin, x, axes)


def _prod(d, dims):
    for k in sorted(dims, reverse=True):
        d = torch.prod(d, k)
    return d


@checked(x="has axes")
def prod(x: Named, axes: Axes | None = None) -> Named:
    """Product over axes (all if omitted): Π_ax X.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.prod(A, "height"))
    width[3]
    [ 3.  5. 36.]
    """
    return reduce(_prod, x, axes)


def _logsumexp(d, dims):
    return torch.logsumexp(floating(d), dims)


@checked(x="has axes")
def logsumexp(x: Named, axes: Axes | None = None) -> Named:
    """log Σ_ax exp X, computed stably (torch.logsumexp); all axes if omitted.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.logsumexp(A, "width"))
    height[2]
    [4.349  9.0185]
    """
    return reduce(_logsumexp, x, axes)


@checked(x="has axes", accumulate=True)
def mean(x: Named, axes: Axes | None = None) -> Named:
    """mean_ax X = (Σ_ax X) / |ax|, over one axis or several (all if omitted).

    The mean of integers or booleans (an accuracy, say) is a float.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.mean(A, "width"))
    height[2]
    [2.6667 5.    ]
    >>> nt.show(nt.mean(nt.tensor([1, 0, 1, 1], "batch")))   # a float
    scalar: 0.75
    """
    if TYPE_CHECKING:  # None reaches the body as all of x's axes (@checked)
        assert axes is not None
    return sum(x, axes) / math.prod([x.shape[a] for a in axes])


@checked(x="has axes", accumulate=True)
def var(x: Named, axes: Axes | None = None) -> Named:
    """Population variance: var_ax X = mean_ax |X - mean_ax X|^2.

    Over all axes if axes is omitted; real also for complex X.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.var(A, "height"))
    width[3]
    [1.   4.   6.25]
    """
    return mean(_abs2(x - mean(x, axes)), axes)


@checked(x="has axes")
def std(x: Named, axes: Axes | None = None) -> Named:
    """Population standard deviation: sqrt(var_ax X) (all axes if omitted).

    Where X is constant along the axes the gradient is 0, as in torch.std.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.std(A, "height"))
    width[3]
    [1.  2.  2.5]
    """
    return _root(var(x, axes), 2)


@checked(x="has axes", accumulate=True)
def norm(x: Named, axes: Axes | None = None, p: float = 2) -> Named:
    """The p-norm over axes (all if omitted): (Σ_ax |X|^p)^(1/p).

    p = inf gives max |X|, p = -inf min |X|, and p = 0 the number of
    non-zero entries (torch's values); booleans count as integers.  Where
    every entry is 0 the gradient is 0 (torch's subgradient).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.norm(A, "height"))
    width[3]
    [3.1623 5.099  9.8489]
    >>> nt.show(nt.norm(A, "width", p=1))
    height[2]
    [ 8. 15.]
    """
    if p == math.inf:
        return max(abs(x), axes)
    if p == -math.inf:
        return min(abs(x), axes)
    if p == 0:
        return astype(sum(x != 0, axes), float_dtype(x))
    if p == 2:
        return _root(sum(_abs2(x), axes), 2)
    return _root(sum(abs(x) ** p, axes), p)


# --------------------------------------------------------------------------
# contraction (one einsum: the planner is ntlib.core._contraction)

@checked(tensors="numbers", check=contractible, compatible=False)
def contract(*tensors: Named | float, over: Axes = ()) -> Named:
    """The paper's contraction X ⊙_over Y ⊙_over ...

    Multiply the operands elementwise (broadcasting by name) and sum over the
    axes over (one name or several; empty means the elementwise product), as
    one torch.einsum call whose equation the names give, so the broadcast
    product is never materialised.  The operands are promoted to one dtype
    first (torch's rule; booleans count as int64), so float32 with float64
    gives float64.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> x = nt.tensor([2., 7], "height")
    >>> nt.show(nt.contract(A, x, over="height"))
    width[3]
    [13. 37. 71.]
    >>> nt.show(nt.contract(A, x), ("height", "width"))   # over nothing
    height[2] × width[3]   (rows: height, columns: width)
    [[ 6.  2.  8.]
     [ 7. 35. 63.]]
    """
    # each operand's axes (a number has none)
    axes = tuple(getattr(t, "names", ()) for t in tensors)
    equation, keep = einsum_equation(axes, over)
    return make(einsum(equation, tensors), keep)


# --------------------------------------------------------------------------
# functions from vectors to vectors

def _shift(x, ax):
    """max_ax X, the shift that keeps exp from overflowing (it cancels); over an
    empty axis, which has no maximum, 0: the result has no entries either way."""
    return max(x, ax) if x.data.shape[x.names.index(ax)] else 0


def _softmax_fused(x, ax):
    return make(torch.softmax(floating(x.data), x.names.index(ax)), x.names)


@checked(x="has ax", real=True)
@fused_by(_softmax_fused)
def softmax(x: Named, ax: Axis) -> Named:
    """softmax_ax X = exp X / Σ_ax exp X.

    The maximum over ax is subtracted first; it cancels in the quotient and
    keeps exp from overflowing.  Over an empty axis the result is empty too
    (as in torch); where every entry is −∞ it is NaN (0/0, as in torch).  (Outside "with nt.plain():" this runs as
    torch.softmax along ax; see nt.fused_by.)

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.softmax(A, "width"), ("height", "width"))
    height[2] × width[3]   (rows: height, columns: width)
    [[0.2595 0.0351 0.7054]
     [0.0003 0.018  0.9817]]
    >>> nt.show(nt.sum(nt.softmax(A, "width"), "width"))
    height[2]
    [1. 1.]
    """
    z = exp(x - _shift(x, ax))
    return z / sum(z, ax)


def _log_softmax_fused(x, ax):
    return make(torch.log_softmax(floating(x.data), x.names.index(ax)), x.names)


@checked(x="has ax", real=True)
@fused_by(_log_softmax_fused)
def log_softmax(x: Named, ax: Axis) -> Named:
    """log softmax_ax X = Z − log Σ_ax exp Z, with Z = X − max_ax X (for safety).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.log_softmax(A, "width"), ("height", "width"))
    height[2] × width[3]   (rows: height, columns: width)
    [[-1.349  -3.349  -0.349 ]
     [-8.0185 -4.0185 -0.0185]]
    """
    z = x - _shift(x, ax)
    return z - log(sum(exp(z), ax))


def one_hot_limit(x: Named, ax: str,
                  extreme: Callable[[Named, str], Named]) -> Named:
    """Where x takes its extreme value along ax (NaN counts as extreme, as in
    torch), with the mass shared equally among ties."""
    hits = _equals(x, extreme(x, ax))
    return hits / sum(hits, ax)


def _equals(x, m):
    """1 where x equals m (broadcast by name; NaN equals NaN), else 0, in x's
    float dtype."""
    shape_m = [x.data.shape[k] if a in m.names else 1 for k, a in enumerate(x.names)]
    md = data_in(m, tuple(a for a in x.names if a in m.names)).reshape(shape_m)
    hit = x.data == md
    if x.data.is_floating_point():
        hit = hit | (torch.isnan(x.data) & torch.isnan(md))
    dt = x.data.dtype if x.data.is_floating_point() else torch.float64
    return make(hit.to(dt), x.names)


@checked(x="has ax", check=_not_empty("argmax"), real=True)
def argmax(x: Named, ax: Axis) -> Named:
    """The one-hot argmax along ax: lim_{α→∞} softmax_ax(α X).

    In the limit, tied maxima share the mass equally, so the result sums to 1
    along ax even with ties.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.argmax(A, "width"), ("height", "width"))
    height[2] × width[3]   (rows: height, columns: width)
    [[0. 0. 1.]
     [0. 0. 1.]]
    >>> nt.show(nt.argmax(nt.tensor([2., 5, 5], "a"), "a"))   # a tie: shared
    a[3]
    [0.  0.5 0.5]
    """
    return one_hot_limit(x, ax, max)


@checked(x="has ax", check=_not_empty("argmin"), real=True)
def argmin(x: Named, ax: Axis) -> Named:
    """The one-hot argmin along ax: lim_{α→-∞} softmax_ax(α X).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.argmin(A, "height"), ("height", "width"))
    height[2] × width[3]   (rows: height, columns: width)
    [[0. 1. 1.]
     [1. 0. 0.]]
    """
    return one_hot_limit(x, ax, min)


def _arg_index(fn, x, ax):
    d = x.data
    if d.dtype is torch.bool:    # booleans count as integers
        d = d.to(torch.uint8)
    k = x.names.index(ax)
    return make(fn(d, dim=k), x.names[:k] + x.names[k + 1:])


@checked(x="has ax", check=_not_empty("argmax_index"), real=True)
def argmax_index(x: Named, ax: Axis) -> Named:
    """The position (0-based) of the maximum along ax; ax is removed.

    The result is an integer (int64) named tensor that nt.index accepts and
    that can be compared and counted.  Ties go to the first position, as in
    torch.argmax, and so does NaN, which counts as the maximum.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.argmax_index(A, "width"))
    height[2]
    [2 2]
    """
    return _arg_index(torch.argmax, x, ax)


@checked(x="has ax", check=_not_empty("argmin_index"), real=True)
def argmin_index(x: Named, ax: Axis) -> Named:
    """The position (0-based) of the minimum along ax; ax is removed.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.argmin_index(A, "width"))
    height[2]
    [1 0]
    """
    return _arg_index(torch.argmin, x, ax)


def _topk_check(x, ax, k, new, largest):
    have = sizes_of(x)
    if new != ax and new in have:
        raise AxisError(f"topk: new axis name {new!r} is already an axis "
                        f"({new}[{have[new]}]) of the tensor {fmt(have)}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= have[ax]:
        raise AxisError(f"topk: k = {k} does not fit axis {ax!r}[{have[ax]}]")


@checked(x="has ax", check=_topk_check, real=True)
def topk(x: Named, ax: Axis, k: int, *, new: Axis = "k",
         largest: bool = True) -> tuple[Named, Named]:
    """The k largest values along ax and their positions, over a new axis new.

    Returns (values, indices); both have x's other axes and new[k] (ordered
    from the largest down), and index(x, ax, indices) equals values.
    largest=False gives the k smallest.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> values, indices = nt.topk(A, "width", 2)
    >>> nt.show(values, ("height", "k"))
    height[2] × k[2]   (rows: height, columns: k)
    [[4. 3.]
     [9. 5.]]
    >>> nt.show(indices, ("height", "k"))
    height[2] × k[2]   (rows: height, columns: k)
    [[2 0]
     [2 1]]
    """
    vals, idx = torch.topk(x.data, k, dim=x.names.index(ax), largest=largest)
    out = tuple(new if a == ax else a for a in x.names)
    return make(vals, out), make(idx, out)


# --------------------------------------------------------------------------
# renaming and reshaping

def _rename_check(x, mapping, names):
    mapping = {**(mapping or {}), **names}
    have = sizes_of(x)
    for old, nw in mapping.items():
        axis_name(old, "rename", "mapping")
        if old not in have:
            raise missing_axis("rename", old, x)
        axis_name(nw, "rename", f"the new name of {old!r}")
    new = [mapping.get(a, a) for a in have]
    for old, nw in mapping.items():
        if new.count(nw) > 1:
            raise AxisError(
                f"rename: cannot rename {old!r}[{have[old]}] to {nw!r}: the tensor "
                f"already has an axis {nw!r}[{have[nw] if nw in have else '?'}]; "
                f"its axes are {fmt(have)}")


@checked("x", check=_rename_check)
def rename(x: Named, mapping: Mapping[str, str] | None = None, /,
           **names: str) -> Named:
    """X_{old→new}: the same tensor with axes renamed by mapping (or keywords,
    rename(x, height="h")).

    Several axes can be renamed at once (a swap included); a new name may not
    be one that the tensor keeps.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.names(nt.rename(A, {"height": "h"}))
    ('h', 'width')
    >>> nt.names(nt.rename(A, width="w"))
    ('height', 'w')
    """
    new = {**(mapping or {}), **names}
    return make(x.data, tuple(new.get(a, a) for a in x.names))


def _flatten_check(x, axes, new):
    if not axes:
        raise AxisError("flatten: give at least one axis to flatten")
    have = sizes_of(x)
    if new in have and new not in axes:
        raise AxisError(f"flatten: new axis name {new!r} is already an axis "
                        f"({new}[{have[new]}]) of the tensor {fmt(have)}")


@checked(x="has axes", check=_flatten_check)
def flatten(x: Named, axes: Order, new: Axis) -> Named:
    """X_{(axes)→new}: merge axes into one axis new.

    Element order is row-major in the order axes is given: the first axis
    varies slowest, so for axes (height, width) position h * |width| + w of
    new holds X_{height(h), width(w)}.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.flatten(A, ("height", "width"), "layer"))
    layer[6]
    [3. 1. 4. 1. 5. 9.]
    >>> nt.show(nt.flatten(A, ("width", "height"), "layer"))
    layer[6]
    [3. 1. 1. 5. 4. 9.]
    """
    rest = tuple(a for a in x.names if a not in axes)
    data = data_in(x, rest + tuple(axes))
    return make(data.reshape(data.shape[:len(rest)] + (-1,)), rest + (new,))


def _unflatten_check(x, ax, sizes):
    have = sizes_of(x)
    if not isinstance(sizes, Mapping):
        raise AxisError(f"unflatten: sizes must map each new axis name to its size, "
                        f"got {sizes!r}")
    sizes = dict(sizes)
    for a, s in sizes.items():
        axis_name(a, "unflatten", "sizes")
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            axis_size(s, "unflatten", a)
    unknown = [a for a, s in sizes.items() if s == -1]
    if len(unknown) > 1:
        raise AxisError(f"unflatten: only one size may be -1; got {sizes}")
    if any(s < 0 for a, s in sizes.items() if a not in unknown):
        raise AxisError(f"unflatten: sizes must be positive (or one -1); "
                        f"got {sizes}")
    if unknown:
        known = math.prod([s for s in sizes.values() if s != -1])
        if known == 0 or have[ax] % known:
            raise AxisError(
                f"unflatten: axis {ax!r} has size {have[ax]}, which is not "
                f"divisible by the product {known} of the sizes {sizes}")
    elif math.prod(list(sizes.values())) != have[ax]:
        raise AxisError(f"unflatten: axis {ax!r} has size {have[ax]}, which is not "
                        f"the product of the sizes {dict(sizes)}")
    rest = [a for a in have if a != ax]
    clash = [a for a in sizes if a in rest]
    if clash:
        raise AxisError(f"unflatten: new axis {clash[0]!r} is already an axis of "
                        f"the tensor {fmt(have)}")


@checked(x="has ax", check=_unflatten_check)
def unflatten(x: Named, ax: Axis, sizes: Mapping[str, int]) -> Named:
    """Split axis ax into the axes of sizes (an ordered dict), row-major.

    The inverse of nt.flatten: unflatten(flatten(X, (a, b), "ab"), "ab",
    {a: |a|, b: |b|}) is X.  One size may be -1: it is inferred.

    Example:

    >>> L = nt.tensor([1, 2, 3, 4, 5, 6], "layer")
    >>> nt.show(nt.unflatten(L, "layer", {"height": 2, "width": 3}),
    ...         ("height", "width"))
    height[2] × width[3]   (rows: height, columns: width)
    [[1 2 3]
     [4 5 6]]
    """
    rest = tuple(a for a in x.names if a != ax)
    data = data_in(x, rest + (ax,))
    return make(data.reshape(data.shape[:len(rest)] + tuple(sizes.values())),
                rest + tuple(sizes))


# --------------------------------------------------------------------------
# indexing (the engine is ntlib.core._indexing)

@checked(x="has ax")
def index(x: Named, ax: Axis, i: int | Named) -> Named:
    """index_ax(X, i) = X_{ax(i)}, lifted over the axes of i.

    i is an int (the axis disappears; negative counts from the end) or a
    named tensor of integer positions of any integer dtype (made by
    nt.tensor; negative entries count from the end): the result has X's
    other axes and i's axes, and shared axes are matched by name, not
    broadcast.  This single function covers E[I], take, index_select,
    take_along_axis and gather; indexing two axes with indices that share an
    axis gives double indexing.  Also written X[{ax: i}] or X(ax=i).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.index(A, "width", 2))
    height[2]
    [4. 9.]
    >>> I = nt.tensor([2, 0, 2, 1], "seq")
    >>> nt.show(nt.index(A, "width", I), ("height", "seq"))
    height[2] × seq[4]   (rows: height, columns: seq)
    [[4. 3. 4. 1.]
     [9. 1. 9. 5.]]
    >>> nt.show(A[{"height": 1, "width": -1}])
    scalar: 9.
    """
    return select(x, {ax: i})


def _narrow_check(x, ax, start, length):
    n = x.data.shape[x.names.index(ax)]
    for param, v in (("start", start), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"narrow: argument {param!r} must be an int (positions "
                            f"on axis {ax!r}[{n}]), got {v!r} ({type(v).__name__})")
    if not (0 <= start and length >= 0 and start + length <= n):
        raise AxisError(f"narrow: positions {start} to {start + length - 1} do not fit "
                        f"axis {ax!r}[{n}]")


@checked(x="has ax", check=_narrow_check)
def narrow(x: Named, ax: Axis, start: int, length: int) -> Named:
    """Positions start to start + length − 1 of axis ax (0-based), as a view.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(nt.narrow(A, "width", 1, 2), ("height", "width"))
    height[2] × width[2]   (rows: height, columns: width)
    [[1. 4.]
     [5. 9.]]
    """
    return make(x.data.narrow(x.names.index(ax), start, length), x.names)


def _same_axes(ts, what, except_=None):
    """Check that all named tensors in ts have the same axes, with equal sizes."""
    first = sizes_of(ts[0])
    for k, t in enumerate(ts[1:], start=1):
        s = sizes_of(t)
        if set(s) != set(first):
            raise AxisError(f"{what}: operand {k} has axes {fmt(s)} but operand 0 has "
                            f"{fmt(first)}; they must have the same names")
        for a in s:
            if a != except_ and s[a] != first[a]:
                raise AxisError(f"{what}: axis {a!r} has size {first[a]} in operand 0 "
                                f"but size {s[a]} in operand {k}")


def _cat_check(tensors, ax):
    if not tensors:
        raise TypeError("cat needs at least one tensor")
    same_device(tensors, "cat")
    _same_axes(tensors, "cat", except_=ax)


@checked(tensors="each has ax", check=_cat_check, compatible=False)
def cat(tensors: Sequence[Named], ax: Axis) -> Named:
    """Concatenate named tensors along their axis ax.

    Every operand has the same axes; sizes agree except along ax.  dtypes are
    promoted (torch's rule).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> B = nt.tensor([[2.], [6.]], ("height", "width"))
    >>> nt.show(nt.cat([A, B], "width"), ("height", "width"))
    height[2] × width[4]   (rows: height, columns: width)
    [[3. 1. 4. 2.]
     [1. 5. 9. 6.]]
    """
    order = tensors[0].names
    dt = promote(tensors)
    return make(torch.cat([data_in(t, order).to(dt) for t in tensors], order.index(ax)),
                order)


def _stack_check(tensors, ax):
    if not tensors:
        raise TypeError("stack needs at least one tensor")
    _same_axes(tensors, "stack")
    have = sizes_of(tensors[0])
    if ax in have:
        raise AxisError(f"stack: new axis name {ax!r} is already an axis "
                        f"({ax}[{have[ax]}]) of the operands {fmt(have)}")


@checked(tensors="each", check=_stack_check)
def stack(tensors: Sequence[Named], ax: Axis) -> Named:
    """Stack named tensors with the same axes and sizes along a new axis ax.

    Position k of ax holds tensors[k]; dtypes are promoted (torch's rule).

    Example:

    >>> x = nt.tensor([2., 7], "height")
    >>> nt.show(nt.stack([x, 10 * x], "k"), ("k", "height"))
    k[2] × height[2]   (rows: k, columns: height)
    [[ 2.  7.]
     [20. 70.]]
    """
    order = tensors[0].names
    dt = promote(tensors)
    return make(torch.stack([data_in(t, order).to(dt) for t in tensors]), (ax,) + order)


@checked(x="has ax")
def unbind(x: Named, ax: Axis) -> list[Named]:
    """The slices of x along ax, as a list (ax removed): the inverse of nt.stack.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> top, bottom = nt.unbind(A, "height")
    >>> nt.show(bottom)
    width[3]
    [1. 5. 9.]
    >>> nt.equal(nt.stack([top, bottom], "height"), A)
    True
    """
    k = x.names.index(ax)
    rest = x.names[:k] + x.names[k + 1:]
    return [make(d, rest) for d in torch.unbind(x.data, k)]


# --------------------------------------------------------------------------
# comparing, gradients

def _comparable(x, y, what):
    same_device((x, y), what)
    if sizes_of(x) != sizes_of(y):
        return None
    order = x.names
    dt = promote((x, y))
    return data_in(x, order).to(dt), data_in(y, order).to(dt)


@checked("x", "y", compatible=False, values=True)
def equal(x: Named, y: Named) -> bool:
    """True when x and y have the same axes (names and sizes) and equal values.

    Axis order is ignored; dtypes are promoted before comparing.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.equal(A, nt.tensor([[3., 1], [1, 5], [4, 9]], ("width", "height")))
    True
    >>> nt.equal(A, nt.rename(A, height="h"))
    False
    """
    xy = _comparable(x, y, "equal")
    return xy is not None and bool(torch.equal(*xy))


@checked("x", "y", compatible=False, values=True)
def allclose(x: Named, y: Named, *, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """True when x and y have the same axes and values equal within tolerance
    (torch.allclose).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.allclose(A, A + 1e-9), nt.allclose(A, A + 1e-3)
    (True, False)
    """
    xy = _comparable(x, y, "allclose")
    if xy is None:
        return False
    a, b = xy
    if not is_float(a.dtype):
        a, b = a.double(), b.double()
    return bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def _no_axes(loss):
    if loss.names:
        raise AxisError(f"backward: the loss must have no axes; it has "
                        f"{fmt(sizes_of(loss))} (reduce them first, e.g. nt.sum(loss) "
                        f"or nt.mean(loss))")


@checked("loss", check=_no_axes, real=True)
def backward(loss: Named) -> None:
    """Backpropagate from a named tensor without axes (loss.data.backward()).

    Afterwards nt.grad gives the gradient of each leaf as a named tensor.

    Example:

    >>> w = nt.tensor(torch.tensor([1., 2, 3], dtype=torch.float64,
    ...                            requires_grad=True), "a")
    >>> nt.backward(nt.sum(w * w))
    >>> nt.show(nt.grad(w))    # the gradient of Σ w², 2w
    a[3]
    [2. 4. 6.]
    """
    loss.data.backward()


@checked("x")
def grad(x: Named) -> Named | None:
    """The gradient accumulated in the leaf named tensor x, named like x
    (None if none).

    Example:

    >>> w = nt.tensor(torch.tensor([1., 2, 3], dtype=torch.float64,
    ...                            requires_grad=True), "a")
    >>> nt.grad(w) is None
    True
    >>> nt.backward(nt.sum(3 * w))
    >>> nt.show(nt.grad(w))
    a[3]
    [3. 3. 3.]
    """
    g = x.data.grad
    return None if g is None else make(g, x.names)


# --------------------------------------------------------------------------
# the methods of NamedTensor: one table

def _all(x: Named, axes: Axes | None = None) -> Named:
    """True where every value over axes (all axes if None) is non-zero."""
    return reduce(lambda d, dims: torch.amin(d.bool(), dims), x, axes)


def _any(x: Named, axes: Axes | None = None) -> Named:
    """True where some value over axes (all axes if None) is non-zero."""
    return reduce(lambda d, dims: torch.amax(d.bool(), dims), x, axes)


_all.__name__, _any.__name__ = "all", "any"
_all, _any = checked(x="has axes")(_all), checked(x="has axes")(_any)

METHODS = {
    **OPERATORS,
    "__neg__": _neg, "__pos__": _pos, "__abs__": abs, "__invert__": _invert,
    "__call__": call, "__getitem__": getitem,
    "sum": sum, "mean": mean, "max": max, "min": min, "prod": prod, "var": var,
    "std": std, "logsumexp": logsumexp, "all": _all, "any": _any, "norm": norm,
    "softmax": softmax, "log_softmax": log_softmax, "argmax": argmax, "argmin": argmin,
    "exp": exp, "log": log, "log1p": log1p, "sqrt": sqrt, "abs": abs,
    "sigmoid": sigmoid, "tanh": tanh, "atanh": atanh, "rename": rename,
    "astype": astype, "positional": positional,
}
for _name, _fn in METHODS.items():
    setattr(NamedTensor, _name, _fn)
del _name, _fn
