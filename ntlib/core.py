"""Named tensors and their operations (paper sections 2 and 3).

A named tensor is a :class:`NamedTensor`: a :class:`funsor.tensor.Tensor`
whose *inputs* are the axes (``x.inputs`` maps each axis name to
``Bint[size]``) and whose value at each index record is a scalar.  It is a
subclass, so it can be passed wherever funsor Tensors are (``x.data`` and
``x.inputs`` are funsor's), but every method a user would call with an axis
name (``x.sum("height")``, ``x(height=0)``, ``x[{"height": 0}]``, ...) is the
ntlib function of that name, arithmetic is done by torch with axes matched by
name, and operations that would silently give something else (a positional
``torch.Tensor`` operand, ``@``, ``len``, ``x[0]``) raise a clear error.

Axis order inside ``x.data`` is an implementation detail; every function in
this module refers to axes by name only, and :func:`positional` is the one
explicit way back to a positional :class:`torch.Tensor`.

**dtypes.**  Every operation follows one rule, torch's type promotion
(``torch.result_type``): mixing float32 and float64 gives float64, integers
with floats give floats, booleans count as integers.  Sums, maxima, counts and
contractions of integers (or booleans) stay integers (int64); operations that
need real numbers (means, variances, softmax, exp, log, division, the neural
network blocks) turn integer or boolean input into torch's default float
dtype (float32 unless ``torch.set_default_dtype`` says otherwise), as torch's
own true division does.  The fused kernels apply the same rule.

Indices are 0-based (Python's convention); the paper counts from 1.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import operator
import os
import string
from collections import OrderedDict
from typing import Iterable, Mapping, Sequence, Union

import numpy as np
import torch

from . import _funsor_compat as _fc
from ._funsor_compat import Funsor, Number, Tensor, ops  # noqa: F401  (Tensor: re-exported)

Axes = Union[str, Iterable[str]]

# sum, max, min and abs are ntlib functions (nt.sum, ...) but stay out of
# __all__, so that ``from ntlib import *`` does not shadow Python's built-ins.
__all__ = [
    "AxisError", "NamedTensor", "device", "tensor", "randn", "rand", "randint",
    "positional", "names", "shape", "records", "compatible", "orthogonal",
    "restrict", "contract", "mean", "var", "std", "prod", "logsumexp", "norm",
    "softmax", "log_softmax", "argmax", "argmin", "argmax_index", "argmin_index",
    "topk", "sigmoid", "relu", "exp", "log", "tanh", "sqrt", "rename",
    "flatten", "unflatten", "index", "narrow", "cat", "stack", "unbind",
    "astype", "dtype", "equal", "allclose", "backward", "grad", "lift", "plain",
    "fused_enabled", "fused_by", "strict_fused", "float_dtype",
]
_BUILTIN_NAMES = ("sum", "max", "min", "abs")


class AxisError(ValueError):
    """An operation was given axes that do not fit its operands.

    The message always names the offending axis and the sizes involved.
    """


# --------------------------------------------------------------------------
# device, construction, conversion

def device() -> torch.device:
    """The device every ntlib tensor is placed on.

    ``NTLIB_DEVICE`` (``cpu``, ``cuda``, ``cuda:N``) if set, else CUDA when
    available, else the CPU.  This is the only place the choice is made.
    """
    name = os.environ.get("NTLIB_DEVICE", "").strip()
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _axes(axes: Axes) -> tuple:
    """Normalise an axis argument (one name or an iterable of names)."""
    if isinstance(axes, str):
        return (axes,)
    if isinstance(axes, Mapping):
        raise TypeError(f"axes must be a name or a sequence of names, got {axes!r}")
    axes = tuple(axes)
    for a in axes:
        if not isinstance(a, str):
            raise TypeError(f"axis names must be str, got {a!r}")
    return axes


_bint = _fc.bint


def _wrap(data: torch.Tensor, axis_names: Sequence[str], dtype="real") -> "NamedTensor":
    """A named tensor whose axes are ``axis_names`` (one per dim of data).

    ``dtype`` is accepted for backward compatibility and ignored: a named
    tensor's funsor output is always ``Real``; its torch dtype is data's.
    """
    axis_names = tuple(axis_names)
    if len(axis_names) != data.dim():
        raise AxisError(
            f"{data.dim()}-dimensional data of shape {tuple(data.shape)} needs "
            f"{data.dim()} axis names, got {len(axis_names)}: {axis_names}")
    if len(set(axis_names)) != len(axis_names):
        dup = sorted({a for a in axis_names if axis_names.count(a) > 1})
        raise AxisError(f"axis names must be distinct; repeated: {dup}")
    return _make(data, tuple((a, _bint(s)) for a, s in zip(axis_names, data.shape)))


def _make(data: torch.Tensor, inputs: tuple, dtype="real") -> "NamedTensor":
    """A :class:`NamedTensor` with ``data`` and ``inputs`` a tuple of (name, Bint).

    Every ntlib operation ends here, so its fixed cost matters for small
    models; see :func:`ntlib._funsor_compat.make`.  ``dtype`` is ignored (see
    :func:`_wrap`).
    """
    return _fc.make(NamedTensor, data, inputs, "real")


def _named(r) -> "NamedTensor":
    """A funsor result (Tensor or Number) as a NamedTensor."""
    if isinstance(r, NamedTensor):
        return r
    if isinstance(r, Tensor):
        if r.output.shape:
            raise TypeError(
                f"a funsor Tensor whose values are arrays of shape {r.output.shape} "
                f"is not a named tensor; name every dimension with nt.tensor(data, names)")
        return _make(r.data, tuple(r.inputs.items()))
    if isinstance(r, Number):
        return _wrap(torch.as_tensor(r.data, device=device()), ())
    raise TypeError(f"expected a named tensor, got the funsor term {type(r).__name__}")


def tensor(data, names: Axes, *, dtype=None) -> "NamedTensor":
    """Make a named tensor whose axes are ``names``, one per dimension of ``data``.

    ``data`` may be nested lists, a numpy array or a torch tensor; it is moved
    to :func:`device`.  Integer data stays integer (useful as indices).  Real
    numbers given as Python lists become float64 (torch would make float32);
    a tensor or array keeps its own dtype unless ``dtype`` says otherwise.
    """
    if isinstance(data, Funsor):
        raise TypeError("tensor: data is already a named tensor; use "
                        "nt.rename to change its names or nt.astype to "
                        "change its dtype")
    t = torch.as_tensor(data, dtype=dtype)
    if dtype is None and not isinstance(data, torch.Tensor) and t.is_floating_point() \
            and not hasattr(data, "dtype"):
        t = torch.as_tensor(data, dtype=torch.float64)  # from the Python numbers, exactly
    return _wrap(t.to(device()), _axes(names))


def _generate(kind, seed, dtype, sizes, **kw):
    if not sizes:
        raise AxisError("give at least one axis as name=size")
    g = torch.Generator(device="cpu").manual_seed(seed)
    shape = tuple(int(s) for s in sizes.values())
    if kind == "randint":
        data = torch.randint(kw["low"], kw["high"], shape, generator=g,
                             dtype=dtype or torch.int64)
    else:
        fn = torch.randn if kind == "randn" else torch.rand
        data = fn(shape, generator=g, dtype=dtype or torch.float64)
    return _wrap(data.to(device()), tuple(sizes))


def randn(*, seed: int, dtype=None, **sizes: int) -> "NamedTensor":
    """Standard normal entries, axes ``name=size`` in the order given.

    Drawn on the CPU from ``seed`` and then moved to :func:`device`, so the
    same seed gives the same values on every device.  float64 by default.
    """
    return _generate("randn", seed, dtype, sizes)


def rand(*, seed: int, dtype=None, **sizes: int) -> "NamedTensor":
    """Uniform [0, 1) entries; otherwise as :func:`randn`."""
    return _generate("rand", seed, dtype, sizes)


def randint(low: int, high: int, *, seed: int, dtype=None, **sizes: int) -> "NamedTensor":
    """Integers uniform in [low, high) (int64 by default); otherwise as :func:`randn`."""
    return _generate("randint", seed, dtype, sizes, low=low, high=high)


def _positional_error(x, where):
    shape_ = tuple(x.shape) if hasattr(x, "shape") else "?"
    return TypeError(
        f"{where}: cannot combine a named tensor with a positional "
        f"{type(x).__module__}.{type(x).__name__} of shape {shape_}: its "
        f"dimensions have no names.  Name them first with nt.tensor(t, names), "
        f"e.g. nt.tensor(t, ('height', 'width')).")


def _as_funsor(x) -> Funsor:
    """x as a named tensor (or a funsor Number for a Python scalar).

    A plain funsor Tensor with scalar values becomes a NamedTensor; positional
    tensors and arrays are refused with a TypeError saying how to name them.
    """
    if isinstance(x, NamedTensor):
        return x
    if isinstance(x, Tensor):
        return _named(x)
    if isinstance(x, Funsor):
        return x
    if isinstance(x, (bool, int, float)):
        return Number(x)
    if isinstance(x, (torch.Tensor, np.ndarray)):
        raise _positional_error(x, "expected a named tensor")
    raise TypeError(
        f"expected a named tensor (make one with ntlib.tensor), got {type(x).__name__}")


def names(x) -> tuple:
    """The axis names of ``x`` (in storage order, which carries no meaning)."""
    return tuple(_as_funsor(x).inputs)


def shape(x) -> dict:
    """The shape of ``x`` as a dict ``{axis: size}`` (the paper's shp X with sizes)."""
    return {a: d.size for a, d in _as_funsor(x).inputs.items()}


def _require(x, axes, what):
    """Raise AxisError unless every axis in ``axes`` is an axis of ``x``."""
    have = shape(x)
    for a in axes:
        if a not in have:
            raise AxisError(f"{what}: axis {a!r} is not an axis of the tensor, "
                            f"whose axes are {_fmt(have)}")


def _not_axis(x, ax, what, role):
    """Raise AxisError if ``x`` (called ``role`` in the message) has the axis ``ax``."""
    have = shape(x)
    if ax in have:
        raise AxisError(f"{what}: {role} must not have an axis {ax!r}; its axes are "
                        f"{_fmt(have)}")


def _fmt(sizes: Mapping[str, int]) -> str:
    if not sizes:
        return "{} (a scalar)"
    return "{" + ", ".join(f"{a}[{s}]" for a, s in sizes.items()) + "}"


def _data(x, order) -> torch.Tensor:
    """x's data with dims permuted into ``order`` (all of x's axes), as a view.

    funsor's ``x.align(order).data`` does the same but builds a new funsor
    term on the way; this is the hot path of every fused kernel call.
    """
    have = tuple(x.inputs)
    order = tuple(order)
    if have == order:
        return x.data
    return x.data.permute([have.index(a) for a in order])


def positional(x, names: Axes) -> torch.Tensor:
    """The data of ``x`` as a plain torch.Tensor with dimensions in the order ``names``.

    ``names`` must list every axis of ``x`` exactly once.
    """
    x = _as_funsor(x)
    want = _axes(names)
    have = shape(x)
    missing = [a for a in want if a not in have]
    extra = [a for a in have if a not in want]
    if missing or extra or len(set(want)) != len(want):
        raise AxisError(
            f"positional: names {want} must list each axis of the tensor once; "
            f"the tensor has {_fmt(have)}"
            + (f"; not axes of it: {missing}" if missing else "")
            + (f"; left out: {extra}" if extra else ""))
    if isinstance(x, Number):
        return torch.tensor(x.data, device=device())
    return _data(x, want)


# --------------------------------------------------------------------------
# dtypes: one rule, torch's promotion

def _is_float(dt) -> bool:
    return dt.is_floating_point or dt.is_complex


def float_dtype(*xs) -> torch.dtype:
    """The dtype in which an operation needing real numbers computes on ``xs``.

    torch's promotion of the operands' dtypes (``torch.result_type``); if
    that is an integer or boolean type, torch's default float dtype instead.
    Python numbers among ``xs`` do not raise the precision (as in torch).
    """
    dt = _promote(xs)
    if dt is None or not _is_float(dt):
        return torch.get_default_dtype()
    return dt


def _promote(xs):
    """torch.result_type over the tensors (named or not) and Python numbers in xs."""
    dt, scalar_float = None, False
    for x in xs:
        if x is None:
            continue
        if isinstance(x, Number):
            x = x.data
        if isinstance(x, (Tensor, torch.Tensor)):
            d = x.data.dtype if isinstance(x, Tensor) else x.dtype
            dt = d if dt is None else torch.promote_types(dt, d)
        elif isinstance(x, float):
            scalar_float = True
    if dt is not None and scalar_float and not _is_float(dt):
        dt = torch.get_default_dtype()
    return dt


def _floating(data: torch.Tensor) -> torch.Tensor:
    """data itself if it holds real numbers, else data in the default float dtype."""
    if _is_float(data.dtype):
        return data
    return data.to(torch.get_default_dtype())


# --------------------------------------------------------------------------
# shapes, records, restriction (the formal definitions of section 2)

def compatible(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are compatible when every shared name has the same size."""
    return all(s[a] == t[a] for a in s if a in t)


def orthogonal(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are orthogonal when they share no name."""
    return not (set(s) & set(t))


def records(s: Mapping[str, int]):
    """Every index record of shape ``s`` (the paper's rec S), as dicts, in row-major order."""
    axes = list(s)
    for idx in itertools.product(*(range(s[a]) for a in axes)):
        yield dict(zip(axes, idx))


def restrict(record: Mapping[str, int], axes: Axes) -> dict:
    """The restriction r|_T of a record to the axes ``T`` (those it has)."""
    axes = _axes(axes)
    return {a: i for a, i in record.items() if a in axes}


def _merged_sizes(operands, what) -> "OrderedDict[str, int]":
    """Union of the operands' shapes; AxisError on a size clash."""
    sizes: OrderedDict = OrderedDict()
    where = {}
    for k, t in enumerate(operands):
        for a, d in t.inputs.items():
            if a in sizes and sizes[a] != d.size:
                raise AxisError(
                    f"{what}: axis {a!r} has size {sizes[a]} in operand {where[a]} "
                    f"but size {d.size} in operand {k}")
            sizes.setdefault(a, d.size)
            where.setdefault(a, k)
    return sizes


# funsor Tensors that are not ntlib's (plain funsor code) still get their
# binary operations from funsor's eager rule; put a size check in front of it
# so that a clash is reported by axis name there too.

def _check_funsor_binary(op, lhs, rhs):
    _merged_sizes((lhs, rhs), f"binary operation {op.__name__}")


_fc.register_binary_check(
    _check_funsor_binary, named=lambda op, lhs, rhs: _checked_binary(op, op.__name__, lhs, rhs))


# --------------------------------------------------------------------------
# the named-tensor type

def _scalar_operand(other, what):
    """A Python number or 0-dim torch tensor for ``other``, or None if it is not a scalar."""
    if isinstance(other, (bool, int, float)):
        return other
    if isinstance(other, Number):
        return other.data
    if isinstance(other, np.generic):
        return other.item()
    if isinstance(other, torch.Tensor):
        if other.dim() == 0:
            return other
        raise _positional_error(other, what)
    if isinstance(other, np.ndarray):
        if other.ndim == 0:
            return other.item()
        raise _positional_error(other, what)
    return None


def _align(t, order, sizes):
    """t's data with dims in ``order`` (a superset of t's axes); missing axes have size 1."""
    have = [a for a in order if a in t.inputs]
    d = _data(t, have)
    if len(have) == len(order):
        return d
    return d.reshape([sizes[a] if a in t.inputs else 1 for a in order])


def _checked_binary(fn, name, lhs, rhs):
    """fn(lhs, rhs) elementwise, lifted over the union of the axes.

    One operand is a named tensor; the other is one too, or a number.
    Shared axes must have equal sizes (checked by name); the data are
    permuted into one order, with size 1 for missing axes, and torch
    broadcasts.  A positional tensor with dimensions is refused.
    """
    what = f"binary operation {name}"
    pair = []
    for x in (lhs, rhs):
        if isinstance(x, Tensor):
            pair.append(_named(x))
            continue
        s = _scalar_operand(x, what)
        if s is None:
            raise TypeError(f"{what}: cannot combine a named tensor with "
                            f"{type(x).__name__}; use a number or a "
                            f"named tensor")
        pair.append(s)
    lhs, rhs = pair
    if name in _ARITHMETIC:  # booleans count as integers
        lhs, rhs = _bool_as_int(lhs), _bool_as_int(rhs)
    if not isinstance(lhs, Tensor):
        return _wrap(fn(lhs, rhs.data), tuple(rhs.inputs))
    if not isinstance(rhs, Tensor):
        return _wrap(fn(lhs.data, rhs), tuple(lhs.inputs))
    sizes = _merged_sizes((lhs, rhs), what)
    order = tuple(sizes)
    lhs, rhs = _align(lhs, order, sizes), _align(rhs, order, sizes)
    return _wrap(fn(lhs, rhs), order)


_ARITHMETIC = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow"}


def _bool_as_int(x):
    if isinstance(x, Tensor) and x.data.dtype == torch.bool:
        return _make(x.data.to(torch.int64), tuple(x.inputs.items()))
    if isinstance(x, torch.Tensor) and x.dtype == torch.bool:
        return x.to(torch.int64)
    return x


def _dunder(fn, name, reflected=False):
    if reflected:
        def method(self, other):
            return _checked_binary(fn, name, other, self)
    else:
        def method(self, other):
            return _checked_binary(fn, name, self, other)
    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _no_positional(what, hint):
    def method(self, *args, **kwargs):
        raise TypeError(f"{what} is not defined for named tensors: their axes have no "
                        f"order.  {hint}")
    method.__name__ = what
    return method


def _axes_or_all(x, axes):
    return tuple(x.inputs) if axes is None else _axes(axes)


class NamedTensor(Tensor):
    """A named tensor: a funsor Tensor whose inputs are the axes and values are scalars.

    It can go wherever a funsor Tensor can (``.data``, ``.inputs`` and
    ``.output`` are funsor's), but what a user does with it is named:

    - arithmetic and comparisons (``+ - * / // % ** < <= > >= == != & | ^``)
      match axes by name and broadcast over the rest, computed by torch with
      torch's type promotion; a size clash is an :class:`AxisError`; a
      positional ``torch.Tensor`` or numpy array operand with dimensions is a
      TypeError (name it with :func:`tensor` first);
    - ``x.sum(axes)``, ``x.mean(axes)``, ``x.max(axes)``, ``x.min(axes)``,
      ``x.prod``, ``x.var``, ``x.std``, ``x.logsumexp``, ``x.softmax(ax)``,
      ``x.log_softmax(ax)``, ``x.argmax(ax)``, ``x.exp()``, ... are the ntlib
      functions of the same name (no axes: all axes);
    - ``x(ax=i)`` and ``x[{"ax": i}]`` are :func:`index`; an unknown axis is
      an AxisError;
    - ``x.shape`` is the dict ``{axis: size}`` and ``x.names`` the axis names;
    - what needs an axis order (``x @ y``, ``x[0]``, ``len(x)``, iteration,
      ``x.reshape``, numpy conversion) raises a TypeError that says what to
      use instead; ``bool``, ``float``, ``int`` and ``.item()`` work for a
      tensor without axes.
    """

    __hash__ = Tensor.__hash__
    __array_ufunc__ = None          # numpy defers to our reflected operators

    # -- arithmetic, by name -------------------------------------------------
    __add__ = _dunder(operator.add, "add")
    __radd__ = _dunder(operator.add, "add", True)
    __sub__ = _dunder(operator.sub, "sub")
    __rsub__ = _dunder(operator.sub, "sub", True)
    __mul__ = _dunder(operator.mul, "mul")
    __rmul__ = _dunder(operator.mul, "mul", True)
    __truediv__ = _dunder(operator.truediv, "truediv")
    __rtruediv__ = _dunder(operator.truediv, "truediv", True)
    __floordiv__ = _dunder(operator.floordiv, "floordiv")
    __rfloordiv__ = _dunder(operator.floordiv, "floordiv", True)
    __mod__ = _dunder(operator.mod, "mod")
    __rmod__ = _dunder(operator.mod, "mod", True)
    __pow__ = _dunder(operator.pow, "pow")
    __rpow__ = _dunder(operator.pow, "pow", True)
    __and__ = _dunder(operator.and_, "and")
    __rand__ = _dunder(operator.and_, "and", True)
    __or__ = _dunder(operator.or_, "or")
    __ror__ = _dunder(operator.or_, "or", True)
    __xor__ = _dunder(operator.xor, "xor")
    __rxor__ = _dunder(operator.xor, "xor", True)
    __lt__ = _dunder(operator.lt, "lt")
    __le__ = _dunder(operator.le, "le")
    __gt__ = _dunder(operator.gt, "gt")
    __ge__ = _dunder(operator.ge, "ge")
    __eq__ = _dunder(operator.eq, "eq")
    __ne__ = _dunder(operator.ne, "ne")
    __lshift__ = __rshift__ = __rlshift__ = __rrshift__ = _no_positional(
        "bit shifting", "Use torch on nt.positional(x, order).")

    def __neg__(self):
        return _map(torch.neg, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _map(torch.abs, self)

    def __invert__(self):
        return _map(torch.bitwise_not, self)

    __matmul__ = __rmatmul__ = _no_positional(
        "@ (matrix product)",
        "Contract over named axes instead: nt.contract(x, y, over='ax').")

    # -- the named operations as methods -----------------------------------
    def sum(self, axes=None):
        """nt.sum(self, axes): sum over ``axes`` (all axes if None)."""
        return sum(self, axes)

    def mean(self, axes=None):
        """nt.mean(self, axes)."""
        return mean(self, axes)

    def max(self, axes=None):
        """nt.max(self, axes)."""
        return max(self, axes)

    def min(self, axes=None):
        """nt.min(self, axes)."""
        return min(self, axes)

    def prod(self, axes=None):
        """nt.prod(self, axes)."""
        return prod(self, axes)

    def var(self, axes=None):
        """nt.var(self, axes)."""
        return var(self, axes)

    def std(self, axes=None):
        """nt.std(self, axes)."""
        return std(self, axes)

    def logsumexp(self, axes=None):
        """nt.logsumexp(self, axes)."""
        return logsumexp(self, axes)

    def all(self, axes=None):
        """True where every value over ``axes`` (all axes if None) is non-zero."""
        return _reduce(lambda d, dims: torch.amin(d.bool(), dims), self, axes, "all")

    def any(self, axes=None):
        """True where some value over ``axes`` (all axes if None) is non-zero."""
        return _reduce(lambda d, dims: torch.amax(d.bool(), dims), self, axes, "any")

    def norm(self, axes=None, p=2):
        """nt.norm(self, axes, p)."""
        return norm(self, _axes_or_all(self, axes), p)

    def softmax(self, ax):
        """nt.softmax(self, ax)."""
        return softmax(self, ax)

    def log_softmax(self, ax):
        """nt.log_softmax(self, ax)."""
        return log_softmax(self, ax)

    def argmax(self, ax):
        """nt.argmax(self, ax): the one-hot argmax (see argmax_index for positions)."""
        return argmax(self, ax)

    def argmin(self, ax):
        """nt.argmin(self, ax): the one-hot argmin (see argmin_index for positions)."""
        return argmin(self, ax)

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    def log1p(self):
        return _map(torch.log1p, self, real=True)

    def sqrt(self):
        return sqrt(self)

    def abs(self):
        return abs(self)

    def sigmoid(self):
        return sigmoid(self)

    def tanh(self):
        return tanh(self)

    def atanh(self):
        return _map(torch.atanh, self, real=True)

    def rename(self, mapping=None, **kw):
        """nt.rename(self, mapping), also as keywords: x.rename(height='h')."""
        return rename(self, {**(mapping or {}), **kw})

    def astype(self, dtype):
        """nt.astype(self, dtype)."""
        return astype(self, dtype)

    def positional(self, order):
        """nt.positional(self, order)."""
        return positional(self, order)

    # -- indexing by name ----------------------------------------------------
    def __call__(self, *args, **indices):
        """x(ax=i, ...) is index(x, ax, i) for each axis given (at once)."""
        if args:
            raise TypeError("index a named tensor by axis name: x(height=0), or "
                            "x[{'height': 0}]; positional arguments have no meaning")
        return _index_many(self, indices, "index")

    def __getitem__(self, item):
        """x[{"ax": i, ...}] is index(x, ax, i) for each axis given (at once)."""
        if isinstance(item, Mapping):
            return _index_many(self, item, "index")
        raise TypeError(
            f"index a named tensor with a dict of axis names, e.g. "
            f"x[{{{next(iter(self.inputs), 'ax')!r}: 0}}], not with {item!r}: its axes "
            f"{_fmt(shape(self))} have no order")

    __len__ = _no_positional("len()", "Use nt.shape(x), a dict {axis: size}.")
    __iter__ = _no_positional(
        "iteration", "Use nt.unbind(x, ax) for the slices along one axis.")
    __contains__ = _no_positional("'in'", "Compare with nt.any(x == v) instead.")
    reshape = _no_positional(
        "reshape", "Use nt.flatten(x, axes, new) and nt.unflatten(x, ax, sizes).")

    def __array__(self, *args, **kwargs):
        raise TypeError("a named tensor has no axis order to give numpy; use "
                        "nt.positional(x, order) (then .cpu().numpy())")

    # -- scalars -------------------------------------------------------------
    def _scalar(self, what):
        if self.inputs:
            raise AxisError(
                f"{what} needs a named tensor without axes; this one has "
                f"{_fmt(shape(self))} (reduce them first, e.g. nt.sum(x))")
        return self.data

    def item(self):
        return self._scalar("item()").item()

    def __bool__(self):
        return bool(self._scalar("bool()"))

    def __float__(self):
        return float(self._scalar("float()"))

    def __int__(self):
        return int(self._scalar("int()"))

    # -- description -------------------------------------------------------
    @property
    def shape(self):
        """The axes and their sizes, ``{axis: size}`` (as :func:`shape`)."""
        return {a: d.size for a, d in self.inputs.items()}

    @property
    def names(self):
        """The axis names (storage order, which carries no meaning)."""
        return tuple(self.inputs)

    def __repr__(self):
        d = self.data
        head = "named tensor " + (" × ".join(f"{a}[{s}]" for a, s in self.shape.items())
                                  or "(no axes)")
        head += f", {str(d.dtype).replace('torch.', '')}, {d.device}"
        if d.requires_grad:
            head += ", requires_grad"
        with torch.no_grad():
            arr = d.detach().cpu()
            if arr.dtype == torch.bfloat16 or arr.dtype == torch.float16:
                arr = arr.float()
            arr = arr.numpy()
            if arr.dtype.kind == "f":  # rounded, and + 0.0: never a "-0."
                arr = np.round(arr, 4) + 0.0
            body = np.array2string(arr, precision=4, separator=" ",
                                   suppress_small=True, threshold=200)
        if len(self.inputs) > 1:
            head += f"   (values nested in this order)"
        return head + "\n" + body

    __str__ = __repr__

    def __treescope_ndarray_adapter__(self):
        """treescope's array adapter: ``treescope.render_array(x)`` draws the
        tensor faceted by axis name (see :mod:`ntlib._treescope`)."""
        from ._treescope import NamedTensorAdapter
        return NamedTensorAdapter()


# --------------------------------------------------------------------------
# contraction

_LETTERS = string.ascii_letters


def contract(*tensors, over: Axes = ()) -> NamedTensor:
    """The paper's contraction ``X ⊙_over Y ⊙_over ...``.

    Multiply the operands elementwise (broadcasting by name) and sum over the
    axes ``over`` (one name or several; empty means the elementwise product).
    It is computed as one ``torch.einsum`` call, which dispatches to a matrix
    multiplication, never by materialising the broadcast product.  The
    operands are promoted to one dtype first (torch's rule; booleans count as
    int64), so float32 with float64 gives float64.
    """
    if len(tensors) < 2:
        raise TypeError("contract needs at least two operands")
    ts = [_as_funsor(t) for t in tensors]
    over = _axes(over)
    sizes = _merged_sizes(ts, "contract")
    for a in over:
        if a not in sizes:
            raise AxisError(f"contract: no operand has axis {a!r} to contract over; "
                            f"the operands' axes are {_fmt(sizes)}")
    if len(sizes) > len(_LETTERS):
        raise AxisError(f"contract: too many distinct axes ({len(sizes)})")
    letter = dict(zip(sizes, _LETTERS))
    keep = [a for a in sizes if a not in over]
    dtype = _promote(ts)
    if dtype is None:
        dtype = torch.get_default_dtype()
    if dtype == torch.bool:
        dtype = torch.int64
    datas, subs = [], []
    for t in ts:
        if isinstance(t, Number):  # a plain scalar factor, in the operands' precision
            datas.append(torch.tensor(t.data, dtype=dtype, device=device()))
        else:
            datas.append(t.data if t.data.dtype == dtype else t.data.to(dtype))
        subs.append("".join(letter[a] for a in t.inputs))
    eq = ",".join(subs) + "->" + "".join(letter[a] for a in keep)
    if _is_float(dtype) or datas[0].device.type == "cpu":
        data = torch.einsum(eq, *datas)
    else:  # integer matrix products exist on the CPU only: exact there
        cpu = [d.cpu() for d in datas]
        data = torch.einsum(eq, *cpu).to(datas[0].device)
    return _wrap(data, keep)


# --------------------------------------------------------------------------
# reductions (no axes given: over all axes)

def _reduce(fn, x, axes, what):
    x = _as_funsor(x)
    if isinstance(x, Number):
        x = _named(x)
    axes = _axes_or_all(x, axes)
    _require(x, axes, what)
    if len(set(axes)) != len(axes):
        raise AxisError(f"{what}: axes {axes} repeat a name")
    if not axes:
        return x
    have = tuple(x.inputs)
    dims = [have.index(a) for a in axes]
    return _wrap(fn(x.data, dims), [a for a in have if a not in axes])


def sum(x, axes: Axes = None) -> NamedTensor:
    """Sum over ``axes`` (one name or several; all if omitted): Σ_ax X.

    Integers and booleans are summed as int64 (a count), as in torch.
    """
    return _reduce(lambda d, dims: torch.sum(d, dims), x, axes, "sum")


def max(x, axes: Axes = None) -> NamedTensor:
    """Maximum over ``axes`` (all if omitted)."""
    return _reduce(torch.amax, x, axes, "max")


def min(x, axes: Axes = None) -> NamedTensor:
    """Minimum over ``axes`` (all if omitted)."""
    return _reduce(torch.amin, x, axes, "min")


def _prod(d, dims):
    for k in sorted(dims, reverse=True):
        d = torch.prod(d, k)
    return d


def prod(x, axes: Axes = None) -> NamedTensor:
    """Product over ``axes`` (all if omitted): Π_ax X."""
    return _reduce(_prod, x, axes, "prod")


def logsumexp(x, axes: Axes = None) -> NamedTensor:
    """log Σ_ax exp X, computed stably (torch.logsumexp); all axes if omitted."""
    return _reduce(lambda d, dims: torch.logsumexp(_floating(d), dims), x, axes, "logsumexp")


def _count(x, axes) -> int:
    s = shape(x)
    return math.prod(s[a] for a in _axes(axes))


def mean(x, axes: Axes = None) -> NamedTensor:
    """mean_ax X = (Σ_ax X) / |ax|, over one axis or several (all if omitted).

    The mean of integers or booleans (an accuracy, say) is a float.
    """
    x = _as_funsor(x)
    axes = _axes_or_all(x, axes)
    return sum(x, axes) / _count(x, axes)


def var(x, axes: Axes = None) -> NamedTensor:
    """Population variance: var_ax X = mean_ax (X - mean_ax X)^2.

    Over all axes if ``axes`` is omitted.
    """
    x = _as_funsor(x)
    axes = _axes_or_all(x, axes)
    return mean((x - mean(x, axes)) ** 2, axes)


def std(x, axes: Axes = None) -> NamedTensor:
    """Population standard deviation: sqrt(var_ax X) (all axes if omitted)."""
    return sqrt(var(x, axes))


def norm(x, axes: Axes, p: float = 2) -> NamedTensor:
    """The p-norm over ``axes``: (Σ_ax |X|^p)^(1/p); p = inf gives max |X|."""
    if p == math.inf:
        return max(abs(x), axes)
    return sum(abs(x) ** p, axes) ** (1.0 / p)


# --------------------------------------------------------------------------
# elementwise functions (lifted to every axis automatically)

def _map(fn, x, real=False) -> NamedTensor:
    """fn applied to x's data; ``real``: integer input is made float first."""
    x = _as_funsor(x)
    if isinstance(x, Number):
        x = _named(x)
    d = _floating(x.data) if real else x.data
    return _make(fn(d), tuple(x.inputs.items()))


def sigmoid(x) -> NamedTensor:
    """σ(X) = 1 / (1 + exp(-X)), elementwise."""
    return _map(torch.sigmoid, x, real=True)


def abs(x) -> NamedTensor:
    """|X|, elementwise."""
    return _map(torch.abs, x)


def relu(x) -> NamedTensor:
    """relu(X) = max(X, 0), elementwise."""
    return _map(torch.relu, x)


def exp(x) -> NamedTensor:
    """exp(X), elementwise."""
    return _map(torch.exp, x, real=True)


def log(x) -> NamedTensor:
    """log(X), elementwise."""
    return _map(torch.log, x, real=True)


def tanh(x) -> NamedTensor:
    """tanh(X), elementwise."""
    return _map(torch.tanh, x, real=True)


def sqrt(x) -> NamedTensor:
    """sqrt(X), elementwise."""
    return _map(torch.sqrt, x, real=True)


def dtype(x) -> torch.dtype:
    """The torch dtype of x's values (``x.dtype`` is funsor's output domain)."""
    if isinstance(x, (bool, int, float)):
        return torch.as_tensor(x).dtype
    x = _as_funsor(x)
    if isinstance(x, Number):
        return torch.as_tensor(x.data).dtype
    return x.data.dtype


def astype(x, dtype) -> NamedTensor:
    """x with its values converted to the torch dtype ``dtype`` (same axes)."""
    x = _as_funsor(x)
    return _make(x.data.to(dtype), tuple(x.inputs.items()))


# --------------------------------------------------------------------------
# plain definitions vs fused kernels

_PLAIN = [False]
_STRICT = [os.environ.get("NTLIB_STRICT_FUSED", "") not in ("", "0")]


class plain:
    """Context manager: run the formula-shaped definitions, not fused kernels.

    Blocks such as attention or convolution are written in ntlib exactly as
    the book's formulas read.  Where torch has a fused kernel for the same
    computation, ntlib dispatches to it by default (tests check that both
    paths agree).  Inside ``with ntlib.plain():`` every block runs its plain
    definition instead.
    """

    def __enter__(self):
        _PLAIN.append(True)
        return self

    def __exit__(self, *exc):
        _PLAIN.pop()
        return False


class strict_fused:
    """Context manager: a fused kernel that declines raises instead of falling back.

    For tests: inside ``with ntlib.strict_fused():`` a block whose fused
    kernel returns ``NotImplemented`` raises RuntimeError, so a kernel that
    never runs cannot go unnoticed.  ``NTLIB_STRICT_FUSED=1`` turns it on for
    a whole run.
    """

    def __enter__(self):
        _STRICT.append(True)
        return self

    def __exit__(self, *exc):
        _STRICT.pop()
        return False


def fused_enabled() -> bool:
    """True unless inside ``with ntlib.plain():``."""
    return not _PLAIN[-1]


# --------------------------------------------------------------------------
# pairing a formula with a fused kernel (used here for softmax, and by ntlib.nn and ntlib.models)

def fused_by(fast, check=None):
    """Decorator: pair a plain (formula-shaped) definition with ``fast``.

    The decorated block first runs ``check`` (which raises :class:`AxisError`
    for unfit axes, on both paths alike).  Then, unless inside
    ``with ntlib.plain():``, it calls ``fast`` with every argument by keyword
    (defaults filled in); ``fast`` returns a named tensor, or ``NotImplemented``
    to decline, in which case the plain definition runs (inside
    ``with ntlib.strict_fused():`` declining raises).  The two
    implementations stay reachable as ``block.plain`` and ``block.fused``.
    """
    def pair(plain_def):
        bind = _binder(plain_def)

        @functools.wraps(plain_def)
        def block(*args, **kwargs):
            kw = bind(args, kwargs)
            if check is not None:
                check(**kw)
            if fused_enabled():
                out = fast(**kw)
                if out is not NotImplemented:
                    return out
                if _STRICT[-1]:
                    raise RuntimeError(
                        f"{plain_def.__name__}: the fused kernel declined "
                        f"these inputs (strict_fused is on)")
            return plain_def(**kw)

        block.plain = plain_def
        block.fused = fast
        return block
    return pair


def _binder(fn):
    """A fast equivalent of inspect.signature(fn).bind + apply_defaults, as a dict."""
    params = list(inspect.signature(fn).parameters.values())
    positional = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    allowed = {p.name for p in params}
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    required = [p.name for p in params if p.default is p.empty]

    def bind(args, kwargs):
        if len(args) > len(positional):
            raise TypeError(f"{fn.__name__}() takes {len(positional)} positional "
                            f"arguments but {len(args)} were given")
        kw = dict(defaults)
        kw.update(zip(positional, args))
        for k in kwargs:
            if k not in allowed:
                raise TypeError(f"{fn.__name__}() got an unexpected keyword argument {k!r}")
            if k in positional[:len(args)]:
                raise TypeError(f"{fn.__name__}() got multiple values for argument {k!r}")
        kw.update(kwargs)
        missing = [k for k in required if k not in kw]
        if missing:
            raise TypeError(f"{fn.__name__}() missing required arguments: {missing}")
        return kw
    return bind


# --------------------------------------------------------------------------
# functions from vectors to vectors

def _softmax_check(x, ax):
    _require(_as_funsor(x), (ax,), "softmax")


def _softmax_fused(x, ax):
    x = _as_funsor(x)
    return _make(torch.softmax(_floating(x.data), list(x.inputs).index(ax)),
                 tuple(x.inputs.items()))


@fused_by(_softmax_fused, _softmax_check)
def softmax(x, ax: str) -> NamedTensor:
    """softmax_ax X = exp X / Σ_ax exp X.

    The maximum over ``ax`` is subtracted first; it cancels in the quotient
    and keeps exp from overflowing.  (Outside ``with ntlib.plain():`` this
    runs as torch.softmax along ``ax``; see :func:`fused_by`.)
    """
    z = exp(x - max(x, ax))
    return z / sum(z, ax)


def _log_softmax_check(x, ax):
    _require(_as_funsor(x), (ax,), "log_softmax")


def _log_softmax_fused(x, ax):
    x = _as_funsor(x)
    return _make(torch.log_softmax(_floating(x.data), list(x.inputs).index(ax)),
                 tuple(x.inputs.items()))


@fused_by(_log_softmax_fused, _log_softmax_check)
def log_softmax(x, ax: str) -> NamedTensor:
    """log softmax_ax X = Z − log Σ_ax exp Z, with Z = X − max_ax X (for safety)."""
    z = x - max(x, ax)
    return z - log(sum(exp(z), ax))


def _one_hot_limit(x, ax, extreme):
    hits = _eq(_as_funsor(x), extreme(x, ax))
    return hits / sum(hits, ax)


def _eq(x, m):
    """1 where x equals m (broadcast by name), else 0, in x's float dtype."""
    shape_m = [x.inputs[a].size if a in m.inputs else 1 for a in x.inputs]
    order = [a for a in x.inputs if a in m.inputs]
    md = _data(m, tuple(order)).reshape(shape_m)
    dt = x.data.dtype if x.data.is_floating_point() else torch.float64
    return _make((x.data == md).to(dt), tuple(x.inputs.items()))


def argmax(x, ax: str) -> NamedTensor:
    """The one-hot argmax along ``ax``: lim_{α→∞} softmax_ax(α X).

    In the limit, tied maxima share the mass equally, so the result sums to 1
    along ``ax`` even with ties.
    """
    _require(_as_funsor(x), (ax,), "argmax")
    return _one_hot_limit(x, ax, max)


def argmin(x, ax: str) -> NamedTensor:
    """The one-hot argmin along ``ax``: lim_{α→-∞} softmax_ax(α X)."""
    _require(_as_funsor(x), (ax,), "argmin")
    return _one_hot_limit(x, ax, min)


def _arg_index(x, ax, fn):
    x = _as_funsor(x)
    _require(x, (ax,), fn.__name__)
    order = tuple(x.inputs)
    k = order.index(ax)
    data = fn(x.data, dim=k)
    rest = tuple(a for a in order if a != ax)
    return _wrap(data, rest)


def argmax_index(x, ax: str) -> NamedTensor:
    """The position (0-based) of the maximum along ``ax``; ``ax`` is removed.

    The result is an integer (int64) named tensor that :func:`index` accepts
    and that can be compared and counted.  Ties go to the first position, as
    in torch.argmax.
    """
    return _arg_index(x, ax, torch.argmax)


def argmin_index(x, ax: str) -> NamedTensor:
    """The position (0-based) of the minimum along ``ax``; ``ax`` is removed."""
    return _arg_index(x, ax, torch.argmin)


def topk(x, ax: str, k: int, *, new: str = "k", largest: bool = True):
    """The ``k`` largest values along ``ax`` and their positions, over a new axis ``new``.

    Returns ``(values, indices)``; both have x's other axes and ``new[k]``
    (ordered from the largest down), and ``index(x, ax, indices)`` equals
    ``values``.  ``largest=False`` gives the k smallest.
    """
    x = _as_funsor(x)
    _require(x, (ax,), "topk")
    have = shape(x)
    if new != ax and new in have:
        raise AxisError(f"topk: new axis name {new!r} is already an axis "
                        f"({new}[{have[new]}]) of the tensor {_fmt(have)}")
    if not 1 <= k <= have[ax]:
        raise AxisError(f"topk: k = {k} does not fit axis {ax!r}[{have[ax]}]")
    order = tuple(x.inputs)
    vals, idx = torch.topk(x.data, k, dim=order.index(ax), largest=largest)
    out = tuple(new if a == ax else a for a in order)
    return _wrap(vals, out), _wrap(idx, out)


# --------------------------------------------------------------------------
# renaming and reshaping

def rename(x, mapping: Mapping[str, str]) -> NamedTensor:
    """X_{old→new}: the same tensor with axes renamed by ``mapping``.

    Several axes can be renamed at once (a swap included); a new name may not
    be one that the tensor keeps.
    """
    x = _as_funsor(x)
    have = shape(x)
    _require(x, mapping, "rename")
    new = [mapping.get(a, a) for a in have]
    for old, nw in mapping.items():
        if new.count(nw) > 1:
            raise AxisError(
                f"rename: cannot rename {old!r}[{have[old]}] to {nw!r}: the tensor "
                f"already has an axis {nw!r}[{have[nw] if nw in have else '?'}]; "
                f"its axes are {_fmt(have)}")
    return _make(x.data, tuple(zip(new, x.inputs.values())))


def flatten(x, axes: Sequence[str], new: str) -> NamedTensor:
    """X_{(axes)→new}: merge ``axes`` into one axis ``new``.

    Element order is row-major in the order ``axes`` is given: the first axis
    varies slowest, so for axes (height, width) position
    ``h * |width| + w`` of ``new`` holds X_{height(h), width(w)}.
    """
    x = _as_funsor(x)
    axes = _axes(axes)
    if not axes:
        raise AxisError("flatten: give at least one axis to flatten")
    _require(x, axes, "flatten")
    have = shape(x)
    rest = [a for a in have if a not in axes]
    if new in rest:
        raise AxisError(f"flatten: new axis name {new!r} is already an axis "
                        f"({new}[{have[new]}]) of the tensor {_fmt(have)}")
    data = _data(x, tuple(rest) + axes)
    data = data.reshape(data.shape[: len(rest)] + (-1,))
    return _wrap(data, rest + [new])


def unflatten(x, ax: str, sizes: Mapping[str, int]) -> NamedTensor:
    """Split axis ``ax`` into the axes of ``sizes`` (an ordered dict), row-major.

    The inverse of :func:`flatten`: ``unflatten(flatten(X, (a, b), "ab"), "ab",
    {a: |a|, b: |b|})`` is X.  One size may be -1: it is inferred.
    """
    x = _as_funsor(x)
    _require(x, (ax,), "unflatten")
    have = shape(x)
    sizes = dict(sizes)
    unknown = [a for a, s in sizes.items() if s == -1]
    if len(unknown) > 1:
        raise AxisError(f"unflatten: only one size may be -1; got {sizes}")
    if any(s < 0 for a, s in sizes.items() if a not in unknown):
        raise AxisError(f"unflatten: sizes must be positive (or one -1); "
                        f"got {sizes}")
    if unknown:
        known = math.prod(s for s in sizes.values() if s != -1)
        if known == 0 or have[ax] % known:
            raise AxisError(
                f"unflatten: axis {ax!r} has size {have[ax]}, which is not "
                f"divisible by the product {known} of the sizes {sizes}")
        sizes[unknown[0]] = have[ax] // known
    if math.prod(sizes.values()) != have[ax]:
        raise AxisError(f"unflatten: axis {ax!r} has size {have[ax]}, which is not "
                        f"the product of the sizes {dict(sizes)}")
    rest = [a for a in have if a != ax]
    clash = [a for a in sizes if a in rest]
    if clash:
        raise AxisError(f"unflatten: new axis {clash[0]!r} is already an axis of "
                        f"the tensor {_fmt(have)}")
    data = _data(x, tuple(rest) + (ax,))
    data = data.reshape(data.shape[: len(rest)] + tuple(sizes.values()))
    return _wrap(data, rest + list(sizes))


# --------------------------------------------------------------------------
# indexing

def _index_many(x, indices, what):
    """Index x at several axes at once: {ax: int or integer named tensor}."""
    x = _as_funsor(x)
    have = shape(x)
    values = {}
    for ax, i in indices.items():
        if ax not in have:
            raise AxisError(f"{what}: axis {ax!r} is not an axis of the tensor, "
                            f"whose axes are {_fmt(have)}")
        n = have[ax]
        if isinstance(i, Tensor):
            i = _named(i)
            if _is_float(i.data.dtype) or i.data.dtype == torch.bool:
                raise TypeError(f"{what}: indices must be integers, got {i.data.dtype}")
            _merged_sizes((x, i), what)
            if i.data.numel() and (int(i.data.min()) < 0 or int(i.data.max()) >= n):
                raise AxisError(f"{what}: indices into axis {ax!r}[{n}] must lie in "
                                f"[0, {n}); got values from {int(i.data.min())} to "
                                f"{int(i.data.max())}")
            values[ax] = _fc.plain(i, n)
        else:
            if isinstance(i, Number):
                i = i.data
            if isinstance(i, (torch.Tensor, np.ndarray)) and i.ndim > 0:
                raise _positional_error(i, what)
            if isinstance(i, (torch.Tensor, np.ndarray, np.generic)):
                if not np.issubdtype(np.asarray(i.cpu() if isinstance(i, torch.Tensor)
                                                else i).dtype, np.integer):
                    raise TypeError(f"{what}: position must be an integer, got {i!r}")
                i = i.item()
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"{what}: position must be an integer, got {i!r}")
            if not -n <= i < n:
                raise AxisError(f"{what}: position {i} is out of range for axis {ax!r}[{n}]")
            values[ax] = i % n
    if not values:
        return x
    return _named(_fc.subs(_fc.plain(x), values))


def index(x, ax: str, i) -> NamedTensor:
    """index_ax(X, i) = X_{ax(i)}, lifted over the axes of ``i``.

    ``i`` is an int (the axis disappears) or an integer-valued named tensor
    (made by :func:`tensor`): the result has X's other axes and ``i``'s axes,
    and shared axes are matched by name, not broadcast.  This single function
    covers E[I], take, index_select, take_along_axis and gather; indexing two
    axes with indices that share an axis gives double indexing.  Also
    written ``X[{ax: i}]`` or ``X(ax=i)``.
    """
    _require(_as_funsor(x), (ax,), "index")
    return _index_many(x, {ax: i}, "index")


def narrow(x, ax: str, start: int, length: int) -> NamedTensor:
    """Positions ``start`` to ``start + length − 1`` of axis ``ax`` (0-based), as a view."""
    x = _as_funsor(x)
    _require(x, (ax,), "narrow")
    n = x.inputs[ax].size
    if not (0 <= start and length >= 0 and start + length <= n):
        raise AxisError(f"narrow: positions {start} to {start + length - 1} do not fit "
                        f"axis {ax!r}[{n}]")
    order = tuple(x.inputs)
    return _wrap(x.data.narrow(order.index(ax), start, length), order)


def _same_axes(ts, what, except_=None):
    """Check that all named tensors in ts have the same axes, with equal sizes."""
    first = shape(ts[0])
    for k, t in enumerate(ts[1:], start=1):
        s = shape(t)
        if set(s) != set(first):
            raise AxisError(f"{what}: operand {k} has axes {_fmt(s)} but operand 0 has "
                            f"{_fmt(first)}; they must have the same names")
        for a in s:
            if a != except_ and s[a] != first[a]:
                raise AxisError(f"{what}: axis {a!r} has size {first[a]} in operand 0 "
                                f"but size {s[a]} in operand {k}")


def cat(tensors, ax: str) -> NamedTensor:
    """Concatenate named tensors along their axis ``ax``.

    Every operand has the same axes; sizes agree except along ``ax``.
    dtypes are promoted (torch's rule).
    """
    ts = [_as_funsor(t) for t in tensors]
    if not ts:
        raise TypeError("cat needs at least one tensor")
    for t in ts:
        _require(t, (ax,), "cat")
    _same_axes(ts, "cat", except_=ax)
    order = tuple(ts[0].inputs)
    dt = _promote(ts)
    return _wrap(torch.cat([_data(t, order).to(dt) for t in ts], order.index(ax)), order)


def stack(tensors, ax: str) -> NamedTensor:
    """Stack named tensors with the same axes and sizes along a new axis ``ax``.

    Position k of ``ax`` holds ``tensors[k]``; dtypes are promoted (torch's rule).
    """
    ts = [_as_funsor(t) for t in tensors]
    if not ts:
        raise TypeError("stack needs at least one tensor")
    ts = [_named(t) if isinstance(t, Number) else t for t in ts]
    _same_axes(ts, "stack")
    have = shape(ts[0])
    if ax in have:
        raise AxisError(f"stack: new axis name {ax!r} is already an axis "
                        f"({ax}[{have[ax]}]) of the operands {_fmt(have)}")
    order = tuple(ts[0].inputs)
    dt = _promote(ts)
    return _wrap(torch.stack([_data(t, order).to(dt) for t in ts]), (ax,) + order)


def unbind(x, ax: str) -> list:
    """The slices of x along ``ax``, as a list (``ax`` removed): the inverse of :func:`stack`."""
    x = _as_funsor(x)
    _require(x, (ax,), "unbind")
    order = tuple(x.inputs)
    rest = tuple(a for a in order if a != ax)
    return [_wrap(d, rest) for d in torch.unbind(x.data, order.index(ax))]


# --------------------------------------------------------------------------
# comparing, gradients

def _comparable(x, y):
    x, y = _as_funsor(x), _as_funsor(y)
    x = _named(x) if isinstance(x, Number) else x
    y = _named(y) if isinstance(y, Number) else y
    if shape(x) != shape(y):
        return None
    order = tuple(x.inputs)
    dt = _promote((x, y))
    return _data(x, order).to(dt), _data(y, order).to(dt)


def equal(x, y) -> bool:
    """True when x and y have the same axes (names and sizes) and equal values.

    Axis order is ignored; dtypes are promoted before comparing.
    """
    xy = _comparable(x, y)
    return xy is not None and bool(torch.equal(*xy))


def allclose(x, y, *, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """True when x and y have the same axes and values equal within tolerance (torch.allclose)."""
    xy = _comparable(x, y)
    if xy is None:
        return False
    a, b = xy
    if not _is_float(a.dtype):
        a, b = a.double(), b.double()
    return bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def backward(loss) -> None:
    """Backpropagate from a named tensor without axes (``loss.data.backward()``).

    Afterwards :func:`grad` gives the gradient of each leaf as a named tensor.
    """
    loss = _as_funsor(loss)
    if loss.inputs:
        raise AxisError(f"backward: the loss must have no axes; it has {_fmt(shape(loss))} "
                        f"(reduce them first, e.g. nt.sum(loss) or nt.mean(loss))")
    loss.data.backward()


def grad(x):
    """The gradient accumulated in the leaf named tensor ``x``, named like ``x`` (None if none)."""
    x = _as_funsor(x)
    g = x.data.grad
    return None if g is None else _wrap(g, tuple(x.inputs))


# --------------------------------------------------------------------------
# lifting, written out

def lift(f, *args, over: Axes):
    """Apply ``f`` to every slice of ``args`` along the axes ``over``, by a loop.

    This is the paper's definition of lifting, [f^{S'}(X)]_{s'} = f(X_{s'}),
    executed literally: for each index record s' over ``over``, each argument
    is restricted to s' (on the axes it has) and ``f`` is applied.  The results
    are stacked back along ``over``.  Slow; it exists to check that ntlib's
    automatic lifting agrees with the definition.
    """
    over = _axes(over)
    fargs = [_as_funsor(a) for a in args]
    sizes = _merged_sizes(fargs, "lift")
    for a in over:
        if a not in sizes:
            raise AxisError(f"lift: no argument has axis {a!r}; their axes are {_fmt(sizes)}")
    s_over = OrderedDict((a, sizes[a]) for a in over)
    outs, out_names = [], None
    for r in records(s_over):
        sliced = [_index_many(a, restrict(r, names(a)), "lift")
                  if not isinstance(a, Number) else a for a in fargs]
        y = _as_funsor(f(*sliced))
        if out_names is None:
            out_names = tuple(y.inputs)
        outs.append(positional(y, out_names))
    data = torch.stack(outs).reshape(tuple(s_over.values()) + outs[0].shape)
    return _wrap(data, over + out_names)
