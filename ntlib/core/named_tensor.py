"""The named-tensor type and its construction (paper section 2).

A named tensor is a NamedTensor: a funsor Tensor whose inputs are the axes
(x.inputs maps each axis name to Bint[size]) and whose value at each index
record is a scalar.  It is a subclass, so it can be passed wherever funsor
Tensors are (x.data and x.inputs are funsor's), but what a user does with it
is named: every method a user would call with an axis name (x.sum("height"),
x(height=0), x[{"height": 0}], ...) is the ntlib function of that name
(ntlib.core.operations; the methods are installed from one table there),
arithmetic is done by torch with axes matched by name, and operations that
would silently give something else (a positional torch.Tensor operand, @,
len, x[0]) raise a clear error.

Axis order inside x.data is an implementation detail; positional(x, names)
is the one explicit way back to a positional torch.Tensor.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Mapping, NoReturn, Union

import numpy as np
import torch

from .._internal import (LAID_OUT, AxisError, AxisTypeError, Axes, Axis, Order,
                         axis_size, bounded_cache, checked, data_in, device, fmt, laid_out,
                         needs_values, on_device, refuse_complex, seeded_data,
                         set_named_type, sizes_of, wrap)
from .._internal import funsor_compat as fc

__all__ = ["NamedTensor", "AxisError", "AxisTypeError", "device", "on_device", "tensor",
           "randn", "rand", "randint", "positional", "names", "shape", "dtype"]


class _computed:
    """A funsor attribute computed from the axis names when first read, then kept."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn, self.name = fn, fn.__name__

    def __get__(self, obj: Any, cls: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


@bounded_cache
def _inputs(names: tuple[str, ...], shape: torch.Size) -> OrderedDict:
    return OrderedDict((a, fc.bint(s)) for a, s in zip(names, shape))


def _no_positional(what: str, hint: str) -> Callable[..., NoReturn]:
    def method(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"{what} is not defined for named tensors: their axes have no "
                        f"order.  {hint}")
    method.__name__ = what
    return method


class NamedTensor(fc.Tensor):
    """A named tensor: a funsor Tensor whose inputs are the axes and values are scalars.

    It can go wherever a funsor Tensor can (.data, .inputs and .output are
    funsor's), but what a user does with it is named:

    - arithmetic and comparisons (+ - * / // % ** < <= > >= == != & | ^)
      match axes by name and broadcast over the rest, computed by torch with
      torch's type promotion; a size clash is an AxisError; a positional
      torch.Tensor or numpy array operand with dimensions is a TypeError
      (name it with nt.tensor first);
    - x.sum(axes), x.mean(axes), x.max(axes), x.min(axes), x.prod, x.var,
      x.std, x.logsumexp, x.softmax(ax), x.log_softmax(ax), x.argmax(ax),
      x.exp(), ... are the ntlib functions of the same name (no axes: all
      axes);
    - x(ax=i) and x[{"ax": i}] are nt.index; an unknown axis is an AxisError;
    - x.shape is the dict {axis: size} and x.names the axis names;
    - what needs an axis order (x @ y, x[0], len(x), iteration, x.reshape,
      numpy conversion) raises a TypeError that says what to use instead;
      bool, float, int and .item() work for a tensor without axes.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> A.shape
    {'height': 2, 'width': 3}
    >>> nt.show(A.sum("height") + nt.tensor([10., 20, 30], "width"))
    width[3]
    [14. 26. 43.]
    >>> nt.show(A(width=2))
    height[2]
    [4. 9.]
    >>> len(A)
    Traceback (most recent call last):
        ...
    TypeError: len() is not defined for named tensors: ... Use nt.shape(x)...
    """

    __hash__ = fc.Tensor.__hash__
    __array_ufunc__ = None          # numpy defers to our reflected operators

    def __init__(self, data: torch.Tensor, inputs: Any = None, dtype: str = "real") -> None:
        # funsor's own constructor (NamedTensor(data, inputs)) comes here;
        # ntlib's operations build results without it (ntlib._internal.make)
        super().__init__(data, inputs, dtype)
        self._names = tuple(self.inputs)

    # -- funsor's attributes, from the axis names ----------------------------
    @_computed
    def inputs(self):
        return _inputs(self._names, self.data.shape)

    @_computed
    def output(self):
        return fc.Real

    @_computed
    def fresh(self):
        return frozenset(self._names)

    @_computed
    def bound(self):
        return {}

    @_computed
    def _ast_values(self):
        return (self.data, tuple(self.inputs.items()), "real")

    # -- description ---------------------------------------------------------
    @property
    def shape(self) -> dict[str, int]:
        """The axes and their sizes, {axis: size} (as nt.shape)."""
        return dict(zip(self._names, self.data.shape))

    @property
    def names(self) -> tuple[str, ...]:
        """The axis names (storage order, which carries no meaning)."""
        return self._names

    def __repr__(self) -> str:
        if laid_out(self):   # on a device mesh: ntlib.distributed's repr
            return LAID_OUT["repr"](self)
        d = self.data
        head = "named tensor " + (" × ".join(f"{a}[{s}]" for a, s in self.shape.items())
                                  or "(no axes)")
        head += f", {str(d.dtype).replace('torch.', '')}, {d.device}"
        if d.requires_grad:
            head += ", requires_grad"
        if d.device.type == "meta":
            return head + "\n(no values: a meta tensor has only its shape)"
        n = d.dim()
        with torch.no_grad():
            t = d.detach().cpu()
            if t.dtype in (torch.bfloat16, torch.float16):
                t = t.float()
            edge = 3 if n <= 2 else 2 if n == 3 else 1
            arr = t.numpy()
            if arr.dtype.kind == "f":  # rounded, and + 0.0: never a "-0."
                arr = np.round(arr, 4) + 0.0
            body = np.array2string(arr, precision=4, separator=" ",
                                   suppress_small=True, threshold=200, edgeitems=edge)
        lines = body.splitlines()
        if len(lines) > 40:   # a summary, never pages of numbers
            lines = lines[:20] + [" ..."] + lines[-4:]
            body = "\n".join(lines)
        if n > 1:
            head += "   (values nested in this order)"
        return head + "\n" + body

    __str__ = __repr__

    # -- the methods installed from the table METHODS of ntlib.core.operations,
    # declared here for type checkers (x + y, x.sum("a"), ... are named tensors)
    if TYPE_CHECKING:
        def __add__(self, other: Operand) -> NamedTensor: ...
        def __radd__(self, other: Operand) -> NamedTensor: ...
        def __sub__(self, other: Operand) -> NamedTensor: ...
        def __rsub__(self, other: Operand) -> NamedTensor: ...
        def __mul__(self, other: Operand) -> NamedTensor: ...
        def __rmul__(self, other: Operand) -> NamedTensor: ...
        def __truediv__(self, other: Operand) -> NamedTensor: ...
        def __rtruediv__(self, other: Operand) -> NamedTensor: ...
        def __floordiv__(self, other: Operand) -> NamedTensor: ...
        def __rfloordiv__(self, other: Operand) -> NamedTensor: ...
        def __mod__(self, other: Operand) -> NamedTensor: ...
        def __rmod__(self, other: Operand) -> NamedTensor: ...
        def __pow__(self, other: Operand) -> NamedTensor: ...
        def __rpow__(self, other: Operand) -> NamedTensor: ...
        def __and__(self, other: Operand) -> NamedTensor: ...
        def __rand__(self, other: Operand) -> NamedTensor: ...
        def __or__(self, other: Operand) -> NamedTensor: ...
        def __ror__(self, other: Operand) -> NamedTensor: ...
        def __xor__(self, other: Operand) -> NamedTensor: ...
        def __rxor__(self, other: Operand) -> NamedTensor: ...
        def __lt__(self, other: Operand) -> NamedTensor: ...
        def __le__(self, other: Operand) -> NamedTensor: ...
        def __gt__(self, other: Operand) -> NamedTensor: ...
        def __ge__(self, other: Operand) -> NamedTensor: ...
        # elementwise, as in torch and numpy (object's == returns a bool)
        def __eq__(self, other: object) -> NamedTensor: ...  # type: ignore[override]
        def __ne__(self, other: object) -> NamedTensor: ...  # type: ignore[override]
        def __neg__(self) -> NamedTensor: ...
        def __pos__(self) -> NamedTensor: ...
        def __abs__(self) -> NamedTensor: ...
        def __invert__(self) -> NamedTensor: ...
        def __call__(self, **indices: int | NamedTensor) -> NamedTensor: ...
        def __getitem__(self, item: Mapping[str, int | NamedTensor]) -> NamedTensor: ...
        def sum(self, axes: Axes | None = None) -> NamedTensor: ...
        def mean(self, axes: Axes | None = None) -> NamedTensor: ...
        def max(self, axes: Axes | None = None) -> NamedTensor: ...
        def min(self, axes: Axes | None = None) -> NamedTensor: ...
        def prod(self, axes: Axes | None = None) -> NamedTensor: ...
        def var(self, axes: Axes | None = None) -> NamedTensor: ...
        def std(self, axes: Axes | None = None) -> NamedTensor: ...
        def logsumexp(self, axes: Axes | None = None) -> NamedTensor: ...
        def all(self, axes: Axes | None = None) -> NamedTensor: ...
        def any(self, axes: Axes | None = None) -> NamedTensor: ...
        def norm(self, axes: Axes | None = None, p: float = 2) -> NamedTensor: ...
        def softmax(self, ax: Axis) -> NamedTensor: ...
        def log_softmax(self, ax: Axis) -> NamedTensor: ...
        def argmax(self, ax: Axis) -> NamedTensor: ...
        def argmin(self, ax: Axis) -> NamedTensor: ...
        def exp(self) -> NamedTensor: ...
        def log(self) -> NamedTensor: ...
        def log1p(self) -> NamedTensor: ...
        def sqrt(self) -> NamedTensor: ...
        def abs(self) -> NamedTensor: ...
        def sigmoid(self) -> NamedTensor: ...
        def tanh(self) -> NamedTensor: ...
        def atanh(self) -> NamedTensor: ...
        def rename(self, mapping: Mapping[str, str] | None = None, /,
                   **names: str) -> NamedTensor: ...
        def astype(self, dtype: torch.dtype) -> NamedTensor: ...
        def positional(self, names: Order) -> torch.Tensor: ...

    # -- what needs an axis order ------------------------------------------
    __lshift__ = __rshift__ = __rlshift__ = __rrshift__ = _no_positional(
        "bit shifting", "Use torch on nt.positional(x, order).")
    __matmul__ = __rmatmul__ = _no_positional(
        "@ (matrix product)",
        "Contract over named axes instead: nt.contract(x, y, over='ax').")
    __len__ = _no_positional("len()", "Use nt.shape(x), a dict {axis: size}.")
    __iter__ = _no_positional(
        "iteration", "Use nt.unbind(x, ax) for the slices along one axis.")
    __contains__ = _no_positional("'in'", "Compare with nt.any(x == v) instead.")
    reshape = _no_positional(
        "reshape", "Use nt.flatten(x, axes, new) and nt.unflatten(x, ax, sizes).")

    def __array__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a named tensor has no axis order to give numpy; use "
                        "nt.positional(x, order) (then .cpu().numpy())")

    # -- scalars -------------------------------------------------------------
    def _scalar(self, what: str) -> torch.Tensor:
        if self._names:
            raise AxisError(
                f"{what} needs a named tensor without axes; this one has "
                f"{fmt(self.shape)} (reduce them first, e.g. nt.sum(x))")
        if self.data.is_meta:
            needs_values(what, (self,))
        return self.data

    def item(self) -> Any:
        return self._scalar("item()").item()

    def __bool__(self) -> bool:
        return bool(self._scalar("bool()"))

    def __float__(self) -> float:
        d = self._scalar("float()")
        if d.is_complex():     # as Python's float(complex): refused
            refuse_complex("float()", "the tensor", self)
        return float(d)

    def __int__(self) -> int:
        d = self._scalar("int()")
        if d.is_complex():
            refuse_complex("int()", "the tensor", self)
        return int(d)

    def __treescope_ndarray_adapter__(self) -> Any:
        """treescope's array adapter: ``treescope.render_array(x)`` draws the
        tensor faceted by axis name (see :mod:`ntlib._treescope`)."""
        from .._treescope import NamedTensorAdapter
        return NamedTensorAdapter()


set_named_type(NamedTensor)

#: the type of a named tensor in ntlib's annotations (``x: Named``)
Named = NamedTensor
#: what arithmetic takes besides a named tensor: a Python number (a 0-dim torch
#: tensor works too; a positional one is refused)
Operand = Union[NamedTensor, complex, torch.Tensor]


# --------------------------------------------------------------------------
# construction

def _as_data(data, dtype, dev):
    """data as a torch tensor on dev; Python lists of reals become float64 exactly
    (torch would make float32), a tensor or array keeps its own dtype."""
    t = torch.as_tensor(data, dtype=dtype)
    if dtype is None and t.is_floating_point() and not isinstance(data, torch.Tensor) \
            and not hasattr(data, "dtype"):
        t = torch.as_tensor(data, dtype=torch.float64)  # from the Python numbers, exactly
    if t.device == dev or t.is_meta:   # a meta tensor has no values to move
        return t
    return t.to(dev)


def _not_named_yet(data, names, dtype):
    # a torch tensor is never a funsor; asked first, so that torch.compile
    # (2.15 on) need not trace funsor's metaclass __instancecheck__
    if not isinstance(data, torch.Tensor) and isinstance(data, fc.Funsor):
        raise TypeError("tensor: data is already a named tensor; use "
                        "nt.rename to change its names or nt.astype to "
                        "change its dtype")


@checked(check=_not_named_yet)
def tensor(data: Any, names: Order, *, dtype: torch.dtype | None = None) -> Named:
    """Make a named tensor whose axes are names, one per dimension of data.

    data may be nested lists, a numpy array or a torch tensor; it is moved to
    nt.device() (a tensor on the meta device, which has no values, stays
    there).  Integer data stays integer (useful as indices).  Real numbers
    given as Python lists become float64 (torch would make float32); a
    tensor or array keeps its own dtype unless dtype says otherwise.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.shape(A), nt.dtype(A)
    ({'height': 2, 'width': 3}, torch.float64)
    >>> nt.show(A, ("width", "height"))
    width[3] × height[2]   (rows: width, columns: height)
    [[3. 1.]
     [1. 5.]
     [4. 9.]]
    >>> nt.dtype(nt.tensor([2, 0, 1], "seq"))   # integers stay integers
    torch.int64
    """
    return wrap(_as_data(data, dtype, device()), names)


def _generate(kind: str, seed: int, dtype: torch.dtype | None, sizes: dict[str, int],
              **kw: int) -> Named:
    if not sizes:
        raise AxisError("give at least one axis as name=size")
    shape_ = tuple(axis_size(s, kind, a) for a, s in sizes.items())
    default = torch.int64 if kind == "randint" else torch.float64
    return wrap(seeded_data(kind, shape_, seed, dtype or default, **kw), tuple(sizes))


def randn(*, seed: int, dtype: torch.dtype | None = None, **sizes: int) -> Named:
    """Standard normal entries, axes name=size in the order given.

    Drawn on the CPU from seed and then moved to nt.device(), so the same
    seed gives the same values on every device.  float64 by default.  On the
    meta device nothing is drawn: the tensor is made there directly, with its
    shape and dtype only (no memory, however large).

    Example:

    >>> X = nt.randn(seed=0, batch=2, layer=3)
    >>> nt.shape(X)
    {'batch': 2, 'layer': 3}
    >>> nt.show(X, ("batch", "layer"))
    batch[2] × layer[3]   (rows: batch, columns: layer)
    [[ 1.541  -0.2934 -2.1788]
     [ 0.5684 -1.0845 -1.3986]]
    >>> nt.equal(X, nt.randn(seed=0, batch=2, layer=3))   # same seed, values
    True
    """
    return _generate("randn", seed, dtype, sizes)


def rand(*, seed: int, dtype: torch.dtype | None = None, **sizes: int) -> Named:
    """Uniform [0, 1) entries; otherwise as nt.randn.

    Example:

    >>> nt.show(nt.rand(seed=0, a=3))
    a[3]
    [0.9701 0.7078 0.4594]
    """
    return _generate("rand", seed, dtype, sizes)


def randint(low: int, high: int, *, seed: int, dtype: torch.dtype | None = None,
            **sizes: int) -> Named:
    """Integers uniform in [low, high) (int64 by default); otherwise as nt.randn.

    Example:

    >>> nt.show(nt.randint(0, 10, seed=0, a=5))
    a[5]
    [4 9 3 0 3]
    """
    return _generate("randint", seed, dtype, sizes, low=low, high=high)


# --------------------------------------------------------------------------
# reading a named tensor

@checked("x")
def names(x: Named) -> tuple[str, ...]:
    """The axis names of x (in storage order, which carries no meaning).

    Example:

    >>> nt.names(nt.tensor([[1, 2, 3]], ("height", "width")))
    ('height', 'width')
    """
    return x._names


@checked("x")
def shape(x: Named) -> dict[str, int]:
    """The shape of x as a dict {axis: size} (the paper's shp X with sizes).

    Example:

    >>> nt.shape(nt.tensor([[1, 2, 3]], ("height", "width")))
    {'height': 1, 'width': 3}
    """
    return sizes_of(x)


@checked("x")
def dtype(x: Named) -> torch.dtype:
    """The torch dtype of x's values (x.dtype is funsor's output domain).

    Example:

    >>> nt.dtype(nt.tensor([1.5, 2.5], "a"))
    torch.float64
    >>> nt.dtype(nt.tensor([1, 2], "a"))
    torch.int64
    """
    return x.data.dtype


def _each_axis_once(x, names):
    have = sizes_of(x)
    missing = [a for a in names if a not in have]
    extra = [a for a in have if a not in names]
    if missing or extra:
        raise AxisError(
            f"positional: names {names} must list each axis of the tensor once; "
            f"the tensor has {fmt(have)}"
            + (f"; not axes of it: {missing}" if missing else "")
            + (f"; left out: {extra}" if extra else ""))


@checked("x", check=_each_axis_once)
def positional(x: Named, names: Order) -> torch.Tensor:
    """The data of x as a plain torch.Tensor with dimensions in the order names.

    names must list every axis of x exactly once.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.positional(A, ("width", "height")).tolist()
    [[3.0, 1.0], [1.0, 5.0], [4.0, 9.0]]
    >>> nt.positional(A, "width")
    Traceback (most recent call last):
        ...
    ntlib.AxisError: positional: names ('width',) must list each axis ...
    """
    return data_in(x, names)
