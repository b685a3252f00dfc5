"""The paper's operations on named tensors (section 3).

Elementwise functions and binary operations (lifted over every axis),
reductions, contraction, functions from vectors to vectors (softmax,
argmax), renaming and reshaping, indexing, and the methods of NamedTensor,
installed from one table (METHODS) so that x.sum is nt.sum.

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
import operator
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np
import torch

from .._internal import (AxisError, Axes, Axis, Order, DeviceError, as_named, axis_name,
                         axis_size, bounded_cache, checked, data_in, float_dtype,
                         floating, fmt,
                         fused_by, is_float, make, merged_sizes, missing_axis,
                         positional_error, promote, refuse_complex, same_device,
                         scalar_operand, sizes_of, torch_dtype, values_readable, wrap)
from .._internal import funsor_compat as fc
from . import _windowed as windowed
from .named_tensor import Named, NamedTensor, positional, shape

__all__ = [
    "contract", "sum", "mean", "var", "std", "prod", "max", "min", "logsumexp", "norm",
    "softmax", "log_softmax", "argmax", "argmin", "argmax_index", "argmin_index",
    "topk", "sigmoid", "relu", "exp", "log", "tanh", "sqrt", "abs", "rename",
    "flatten", "unflatten", "index", "narrow", "cat", "stack", "unbind",
    "astype", "equal", "allclose", "backward", "grad",
]

_builtin_sum, _builtin_max, _builtin_abs = sum, max, abs
#: a function laying a tensor's data out in a common axis order (see layout)
Viewer = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------
# elementwise binary operations, lifted over the union of the axes

def _as_is(data):
    return data


def _viewer(perm, shape_, has):
    """A function laying data out in the common order: its dims permuted by perm,
    and reshaped to shape_ unless the axes it lacks all come first (torch's
    broadcasting aligns dimensions from the right)."""
    permute = perm != sorted(perm)
    reshape = not all(has[len(has) - len(perm):])
    if not permute and not reshape:
        return _as_is
    if not permute:
        return lambda d: d.reshape(shape_)
    if not reshape:
        return lambda d: d.permute(perm)
    return lambda d: d.permute(perm).reshape(shape_)


@bounded_cache
def layout(what: str, x_axes: tuple[str, ...], x_shape: Sequence[int],
           y_axes: tuple[str, ...], y_shape: Sequence[int]
           ) -> tuple[tuple[str, ...], Viewer, Viewer]:
    """One axis order for two named tensors (x's axes, then those only y has),
    and for each a function laying its data out in that order, with a
    dimension of size 1 for an axis it lacks, so that torch broadcasts.
    Shared axes must have equal sizes.  Remembered per signature."""
    sizes = dict(zip(x_axes, x_shape))
    for a, n in zip(y_axes, y_shape):
        if sizes.setdefault(a, n) != n:
            raise AxisError(f"{what}: axis {a!r} has size {sizes[a]} in "
                            f"operand 0 but size {n} in operand 1")
    order = tuple(sizes)

    def view(axes):
        perm = [axes.index(a) for a in order if a in axes]
        return _viewer(perm, [sizes[a] if a in axes else 1 for a in order],
                       [a in axes for a in order])

    return order, view(x_axes), view(y_axes)


def elementwise(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: Named,
                y: Named, what: str = "binary operation") -> Named:
    """fn(X, Y) entry by entry, lifted over the union of the axes:

    [fn(X, Y)]_s = fn(X_{s|shp X}, Y_{s|shp Y}).

    The operands' data are laid out in one axis order (see layout) and
    torch broadcasts.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> x = nt.tensor([2., 7], "height")
    >>> nt.show(nt.core.elementwise(torch.mul, A, x), ("height", "width"))
    height[2] × width[3]   (rows: height, columns: width)
    [[ 6.  2.  8.]
     [ 7. 35. 63.]]
    """
    order, x_view, y_view = layout(what, x.names, x.data.shape,
                                   y.names, y.data.shape)
    return make(fn(x_view(x.data), y_view(y.data)), order)


_HALF = (torch.float16, torch.bfloat16)


def _bools_as_ints(a, b):
    """Booleans count as integers in arithmetic: bool operands take the dtype
    torch.result_type gives (int64 if both are booleans)."""
    dt = torch.result_type(a, b)
    if dt is torch.bool:
        dt = torch.int64

    def conv(v):
        if isinstance(v, torch.Tensor) and v.dtype is torch.bool:
            return v.to(dt)
        if isinstance(v, bool):
            return int(v)
        return v
    return conv(a), conv(b)


def _operand(other, what):
    if isinstance(other, NamedTensor):
        return other
    if isinstance(other, fc.Tensor):
        return as_named(other, what)
    s = scalar_operand(other, what)
    if s is None:
        raise TypeError(f"{what}: cannot combine a named tensor with "
                        f"{type(other).__name__}; use a number or a named tensor")
    return s


def _binary(fn, name, arithmetic, ordered=False):
    """x name y as a method, its reflection and a function of two operands;
    ordered: an operation that orders values (<, //, %), which complex numbers
    do not have (refused with a TypeError)."""
    what = f"binary operation {name}"

    def apply(x, y):
        xn, yn = isinstance(x, NamedTensor), isinstance(y, NamedTensor)
        xd = x.data if xn else x
        yd = y.data if yn else y
        if ordered:
            for k, (n, d) in enumerate(((xn, xd), (yn, yd))):
                if n and d.is_complex():
                    refuse_complex(what, f"operand {k}", x if k == 0 else y)
        if arithmetic and ((xn and xd.dtype is torch.bool) or (yn and yd.dtype is torch.bool)):
            xd, yd = _bools_as_ints(xd, yd)
            if xn:
                x = make(xd, x.names)
            if yn:
                y = make(yd, y.names)
        if xn and yn:
            if xd.device != yd.device:
                raise DeviceError(f"{what}: operand 0 is on device {xd.device} but "
                                  f"operand 1 is on device {yd.device}; move them to "
                                  f"one device first")
            return elementwise(fn, x, y, what)
        if xn:
            return make(fn(xd, yd), x.names)
        return make(fn(xd, yd), y.names)

    def method(self, other):
        c = other.__class__
        if (c is float or c is int) and not (arithmetic and self.data.dtype is torch.bool) \
                and not (ordered and self.data.is_complex()):
            return make(fn(self.data, other), self.names)
        if not isinstance(other, NamedTensor):
            other = _operand(other, what)
        return apply(self, other)

    def reflected(self, other):
        c = other.__class__
        if (c is float or c is int) and not (arithmetic and self.data.dtype is torch.bool) \
                and not (ordered and self.data.is_complex()):
            return make(fn(other, self.data), self.names)
        if not isinstance(other, NamedTensor):
            other = _operand(other, what)
        return apply(other, self)

    method.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    method.__doc__ = reflected.__doc__ = (
        f"x {name} y entry by entry, axes matched by name (see nt.core.elementwise).")
    return method, reflected, apply


def _funsor_binary(op, lhs, rhs):
    """funsor's Binary(op, ., .) with a named operand: the named operation."""
    apply = _APPLY.get(op.__name__)
    if apply is None:
        apply = _APPLY[op.__name__] = _binary(op, op.__name__, False)[2]
    return apply(as_named(lhs), as_named(rhs))


_APPLY: dict = {}
_OPERATORS = {}
for _name, _fn, _arith in [
        ("add", torch.add, True), ("sub", torch.sub, True), ("mul", torch.mul, True),
        ("truediv", torch.true_divide, True), ("floordiv", torch.floor_divide, True),
        ("mod", torch.remainder, True), ("pow", torch.pow, True),
        ("and", operator.and_, False), ("or", operator.or_, False),
        ("xor", operator.xor, False), ("lt", torch.lt, False), ("le", torch.le, False),
        ("gt", torch.gt, False), ("ge", torch.ge, False), ("eq", torch.eq, False),
        ("ne", torch.ne, False)]:
    _m, _r, _APPLY[_name] = _binary(_fn, _name, _arith,
                                    _name in ("floordiv", "mod", "lt", "le", "gt", "ge"))
    _OPERATORS[f"__{_name}__"] = _m
    if _name not in ("lt", "le", "gt", "ge", "eq", "ne"):
        _OPERATORS[f"__r{_name}__"] = _r
_APPLY["div"] = _APPLY["truediv"]
_APPLY["max"], _APPLY["min"] = _binary(torch.maximum, "max", False)[2], \
    _binary(torch.minimum, "min", False)[2]

fc.register_named_binary(NamedTensor, _funsor_binary)


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
# contraction

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@bounded_cache
def _contractible_signature(signature: tuple, over: tuple) -> bool:
    """Whether the named operands' signature ((names, shape), ...) can be
    contracted over ``over``: shared axes of equal size, at most as many axes
    as einsum has letters, every axis of over an axis of some operand."""
    sizes: dict = {}
    for names_, shape_ in signature:
        for a, n in zip(names_, shape_):
            if sizes.setdefault(a, n) != n:
                return False
    return len(sizes) <= len(_LETTERS) and all(a in sizes for a in over)


def _contractible(tensors, over):
    """At least two operands, one named; one device; shared axes of equal size;
    every axis of over an axis of some operand (remembered per signature)."""
    if len(tensors) == 2:
        x, y = tensors
        if isinstance(x, NamedTensor) and isinstance(y, NamedTensor):
            xd, yd = x.data, y.data
            if xd.device != yd.device:
                same_device(tensors, "contract")
            if _contractible_signature(((x.names, xd.shape), (y.names, yd.shape)), over):
                return
    if len(tensors) < 2:
        raise TypeError("contract needs at least two operands")
    named = [t for t in tensors if isinstance(t, NamedTensor)]
    if not named:
        raise TypeError("contract needs a named tensor among its operands")
    dev = named[0].data.device
    for t in named:
        if t.data.device != dev:
            same_device(named, "contract")
    if _contractible_signature(tuple([(t.names, t.data.shape) for t in named]), over):
        return
    sizes = merged_sizes(named, "contract")
    if len(sizes) > len(_LETTERS):
        raise AxisError(f"contract: too many distinct axes ({len(sizes)})")
    for a in over:
        if a not in sizes:
            raise AxisError(f"contract: no operand has axis {a!r} to contract over; "
                            f"the operands' axes are {fmt(sizes)}")


@bounded_cache
def einsum_equation(axes: tuple[tuple[str, ...], ...],
                    over: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The torch.einsum equation of X ⊙_over Y ⊙_over ... from the operands'
    axes (a tuple of name tuples): a letter per axis name, the output keeping
    the axes not in over, in the order they first appear.  Returns
    (equation, kept axes); remembered per signature.

    Example:

    >>> nt.core.einsum_equation((("height", "width"), ("height",)),
    ...                          ("height",))
    ('ab,a->b', ('width',))
    """
    letter: dict[str, str] = {}
    for names_ in axes:
        for a in names_:
            letter.setdefault(a, _LETTERS[len(letter)])
    keep = tuple(a for a in letter if a not in over)
    ins = ",".join("".join(letter[a] for a in names_) for names_ in axes)
    return ins + "->" + "".join(letter[a] for a in keep), keep


@checked(tensors="numbers", check=_contractible, compatible=False)
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


@bounded_cache
def _matmul_plan(equation, shapes):
    """How a two-operand equation is one (batched) matrix product: the axes
    split into batch (in both and kept), m (only in X), k (in both, summed) and
    n (only in Y); X is laid out as [batch..., m, k], Y as [batch..., k, n],
    each group merged into one dimension only where it has several axes (or,
    for m and n, none) and torch.matmul broadcasts over batch.  Returns the
    permutations and reshapes to apply (None where there is nothing to do)
    and whether an operand is large enough for the window route
    (ntlib.core._windowed), or None if the equation is not a matrix
    product."""
    ins, out = equation.split("->")
    xs, ys = ins.split(",")
    shared = [a for a in xs if a in ys]
    k = [a for a in shared if a not in out]
    if not k or any(a not in out and a not in shared for a in xs + ys):
        return None
    b = [a for a in shared if a in out]
    m = [a for a in xs if a not in ys]
    n = [a for a in ys if a not in xs]
    size = dict(zip(xs, shapes[0]))
    size.update(zip(ys, shapes[1]))

    def sizes(g):
        return [size[a] for a in g]

    def prod(g):
        return math.prod(sizes(g))
    one_m, one_k, one_n = len(m) == 1, len(k) == 1, len(n) == 1
    if b:
        xshape = None if one_m and one_k else sizes(b) + [prod(m), prod(k)]
        yshape = None if one_k and one_n else sizes(b) + [prod(k), prod(n)]
        got = sizes(b) + [prod(m), prod(n)]
    else:         # no batch: X may keep its m axes, torch.matmul treats them as batch
        xshape = None if one_k else [prod(m), prod(k)]
        yshape = None if one_k and one_n else [prod(k), prod(n)]
        got = (sizes(m) if xshape is None else [prod(m)]) + [prod(n)]
    want = sizes(b + m + n)
    outshape = None if got == want else want
    xperm = [xs.index(a) for a in b + m + k]
    yperm = [ys.index(a) for a in b + k + n]
    outperm = [(b + m + n).index(a) for a in out]
    # an operand this large may be a view of overlapping windows (unroll's)
    large = _builtin_max(math.prod(shapes[0]), math.prod(shapes[1])) >= windowed.MIN_ELEMENTS
    return (None if xperm == sorted(xperm) else xperm,
            None if yperm == sorted(yperm) else yperm, xshape, yshape, outshape,
            None if outperm == sorted(outperm) else outperm, large)




def einsum(equation: str, operands: Sequence[Named | float]) -> torch.Tensor:
    """torch.einsum(equation, ...) on the operands' data, promoted to one dtype
    (booleans as int64; a number becomes a factor in that dtype).  Two
    operands whose equation is a matrix product go to torch.matmul directly,
    which is what einsum would call, without einsum's own set-up; a large
    operand that is a view of overlapping windows (unroll's) is contracted
    window position by window position instead of being copied
    (ntlib.core._windowed)."""
    if len(operands) == 2 and isinstance(operands[0], NamedTensor) \
            and isinstance(operands[1], NamedTensor):
        x, y = operands[0].data, operands[1].data
        dtype = x.dtype
        if y.dtype is not dtype or dtype is torch.bool or not is_float(dtype):
            return _einsum_general(equation, operands)
        plan = _matmul_plan(equation, (x.shape, y.shape))
        if plan is None:
            return torch.einsum(equation, x, y)
        if plan[6]:   # a large operand: overlapping windows are not laid out
            data = windowed.contract(equation, x, y)
            if data is not None:
                return data
        return _matmul(plan, x, y)
    return _einsum_general(equation, operands)


def _matmul(plan, x, y):
    xperm, yperm, xshape, yshape, outshape, outperm, _ = plan
    if xperm is not None:
        x = x.permute(xperm)
    if yperm is not None:
        y = y.permute(yperm)
    if xshape is not None:
        x = x.reshape(xshape)
    if yshape is not None:
        y = y.reshape(yshape)
    data = torch.matmul(x, y)
    if outshape is not None:
        data = data.reshape(outshape)
    return data if outperm is None else data.permute(outperm)


def _int_products_on(dev: torch.device) -> bool:
    """Whether torch multiplies integer matrices on dev: on the CPU, and on the
    meta device (shapes only); not on CUDA, where integer contractions go
    to the CPU and back (exact there).  One predicate, so that a test can
    force the CUDA branch on the CPU."""
    return dev.type in ("cpu", "meta")


def _einsum_general(equation, operands):
    named = [t for t in operands if isinstance(t, NamedTensor)]
    dev = named[0].data.device
    dtype = promote(operands)
    if dtype is torch.bool:
        dtype = torch.int64
    datas = [(t.data if t.data.dtype is dtype else t.data.to(dtype))
             if isinstance(t, NamedTensor) else torch.tensor(t, dtype=dtype, device=dev)
             for t in operands]
    off_cpu = not is_float(dtype) and not _int_products_on(dev)
    if off_cpu:  # integer matrix products exist on the CPU only: exact there
        datas = [d.cpu() for d in datas]
    plan = None
    if len(datas) == 2:
        plan = _matmul_plan(equation, (datas[0].shape, datas[1].shape))
    data = torch.einsum(equation, *datas) if plan is None else _matmul(plan, *datas)
    return data.to(dev) if off_cpu else data


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
# indexing, through torch (select, advanced indexing)

_INDEX_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
                 torch.uint16, torch.uint32, torch.uint64)


def _position(i, n, ax, what):
    """An int position on an axis of size n (negative counts from the end)."""
    if i.__class__ is not int:
        if isinstance(i, fc.Number):
            i = i.data
        if isinstance(i, (torch.Tensor, np.ndarray)) and i.ndim > 0:
            raise positional_error(i, what)
        if isinstance(i, (torch.Tensor, np.ndarray, np.generic)):
            dt = i.dtype
            if isinstance(i, torch.Tensor) and (dt.is_floating_point or dt.is_complex
                                                or dt is torch.bool) \
                    or not isinstance(i, torch.Tensor) and not np.issubdtype(dt, np.integer):
                raise TypeError(f"{what}: position must be an integer, got {i!r}")
            i = int(i.item())
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"{what}: position must be an integer, got {i!r}")
    if not -n <= i < n:
        raise AxisError(f"{what}: position {i} is out of range for axis {ax!r}[{n}]")
    return i


def _index_data(i, ax, what, x):
    """The int64 data of an index tensor i for axis ax of x (any integer dtype)."""
    d = i.data
    if d.dtype is torch.int64:
        pass
    elif d.dtype in _INDEX_DTYPES:
        d = d.long()   # uint8 would be read as a mask; int8/int16/uint16 as nothing
    else:
        kind = "a boolean mask, not positions" if d.dtype is torch.bool else \
            f"of dtype {d.dtype}"
        raise TypeError(f"{what}: the index tensor for axis {ax!r} must hold integer "
                        f"positions; it is {kind} (convert with nt.astype(i, "
                        f"torch.int64), or select with a mask by multiplying)")
    if d.device != x.data.device:
        raise DeviceError(f"{what}: the tensor is on device {x.data.device} but the "
                          f"index tensor for axis {ax!r} is on device {d.device}")
    return d


def _in_range(d, n, ax, what):
    """d with negative positions counted from the end; AxisError unless every
    position lies in [-n, n)."""
    if torch.compiler.is_compiling():   # no int() while traced: a check in the graph
        torch._assert_async(((d >= -n) & (d < n)).all(),
                            f"{what}: indices into axis {ax!r}[{n}] must lie in "
                            f"[{-n}, {n})")
        return torch.where(d < 0, d + n, d)
    if not d.numel() or d.device.type == "meta":
        return d
    if not values_readable(d):     # under vmap or grad: no values to read; torch checks
        return torch.where(d < 0, d + n, d)
    lo, hi = (int(v) for v in torch.aminmax(d))
    if lo < -n or hi >= n:
        raise AxisError(f"{what}: indices into axis {ax!r}[{n}] must lie in "
                        f"[{-n}, {n}); got values from {lo} to {hi}")
    return torch.where(d < 0, d + n, d) if lo < 0 else d


@bounded_cache(maxsize=256)
def _arange(n, dev):
    return torch.arange(n, device=dev)


def select(x: Named, indices: Mapping[str, int | Named], what: str = "index") -> Named:
    """X_{ax1(i1), ax2(i2), ...}: x at the given positions of several axes at once.

    An int removes its axis; an integer named tensor I puts its own axes in
    the axis' place, and an axis that I shares with x is matched by name
    (not multiplied out).  Computed by torch: select for ints, index_select
    or one advanced indexing for tensors.
    """
    names_, data = x.names, x.data
    tensors = {}
    for ax, i in indices.items():
        if ax.__class__ is not str:
            axis_name(ax, what, "axis")
        if ax not in names_:
            raise missing_axis(what, ax, x)
        k = names_.index(ax)
        n = data.shape[k]
        if isinstance(i, fc.Tensor):
            i = i if isinstance(i, NamedTensor) else as_named(i, what)
            tensors[ax] = (i, _index_data(i, ax, what, x))
        else:
            p = _position(i, n, ax, what)
            data = data.select(k, p)
            names_ = names_[:k] + names_[k + 1:]
    if not tensors:
        return make(data, names_)
    if len(tensors) == 1:
        (ax, (i, d)), = tensors.items()
        for a in i.names:
            if a in names_:
                break
        else:
            return _take(data, names_, ax, i, d, what)
    return _advanced(make(data, names_), tensors, what)


def _bounds_checked_by_torch(dev: torch.device) -> bool:
    """Whether index_select checks its positions on dev (the CPU: a bad one
    raises, and we check only then); elsewhere an index out of bounds is a
    fatal device error, so ntlib checks first (on meta no values: no check).
    One predicate, so that a test can force the accelerator branch on the CPU."""
    return dev.type == "cpu"


def _take(data, names_, ax, i, d, what):
    """data (axes names_) at the positions d (the data of i) of axis ax, when i
    shares no axis with it: i's axes take ax's place (torch.index_select)."""
    k = names_.index(ax)
    n = data.shape[k]
    flat = d if d.dim() == 1 else d.reshape(-1)
    if _bounds_checked_by_torch(d.device) and not torch.compiler.is_compiling():
        try:      # torch checks the bounds on the CPU; negative positions need a second go
            out = data.index_select(k, flat)
        except (IndexError, RuntimeError):
            out = data.index_select(k, _in_range(flat, n, ax, what))
    else:         # on an accelerator an index out of bounds is fatal (and a compiled
        # graph cannot catch an error): check first
        out = data.index_select(k, _in_range(flat, n, ax, what))
    if d.dim() != 1:
        shape_ = data.shape
        out = out.reshape(shape_[:k] + d.shape + shape_[k + 1:])
    return make(out, names_[:k] + i.names + names_[k + 1:])


def _advanced(x, tensors, what):
    """x indexed at its axes ax by the integer tensors tensors[ax] = (I, data),
    all at once: [indexed axes] replaced by the union of the indices' axes."""
    idx = [t for t, _ in tensors.values()]
    sizes, where = {}, {}
    operands = [[(a, n) for a, n in zip(x.names, x.data.shape) if a not in tensors]]
    operands += [list(zip(t.names, t.data.shape)) for t in idx]
    for k, axes in enumerate(operands):
        for a, n in axes:
            m = sizes.setdefault(a, n)
            if m != n:
                raise AxisError(f"{what}: axis {a!r} has size {m} in operand {where[a]} "
                                f"but size {n} in operand {k}")
            where.setdefault(a, k)
    union = tuple(dict.fromkeys(a for t in idx for a in t.names))
    shared = [a for a in union if a in x.names and a not in tensors]
    rest = [a for a in x.names if a not in tensors and a not in shared]
    data = data_in(x, tuple(shared) + tuple(tensors) + tuple(rest))
    ushape = [sizes[a] for a in union]
    keys = []
    for a in shared:
        s = [1] * len(union)
        s[union.index(a)] = sizes[a]
        keys.append(_arange(sizes[a], data.device).reshape(s))
    for ax, (t, d) in tensors.items():
        d = _in_range(d, x.data.shape[x.names.index(ax)], ax, what)
        order = tuple(a for a in union if a in t.names)
        perm = [t.names.index(a) for a in order]
        if perm != sorted(perm):
            d = d.permute(perm)
        keys.append(d.reshape([sizes[a] if a in t.names else 1 for a in union]))
    out = data[tuple(keys)]
    if out.dim() != len(union) + len(rest):   # every index without axes
        out = out.reshape(ushape + [sizes[a] for a in rest])
    return make(out, union + tuple(rest))


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


def _call(self, /, *args, **indices):
    """x(ax=i, ...) is nt.index(x, ax, i) for each axis given (at once)."""
    if args:
        raise TypeError("index a named tensor by axis name: x(height=0), or "
                        "x[{'height': 0}]; positional arguments have no meaning")
    return select(self, indices)


def _getitem(self, item):
    """x[{"ax": i, ...}] is nt.index(x, ax, i) for each axis given (at once)."""
    if isinstance(item, Mapping):
        return select(self, item)
    raise TypeError(
        f"index a named tensor with a dict of axis names, e.g. "
        f"x[{{{next(iter(self.names), 'ax')!r}: 0}}], not with {item!r}: its axes "
        f"{fmt(self.shape)} have no order")


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
    **_OPERATORS,
    "__neg__": _neg, "__pos__": _pos, "__abs__": abs, "__invert__": _invert,
    "__call__": _call, "__getitem__": _getitem,
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

_ = (Sequence, shape, wrap, _builtin_sum, _builtin_max, _builtin_abs)
