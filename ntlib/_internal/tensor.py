"""The named-tensor type, with the functions that build every named tensor.

A named tensor is a NamedTensor: a funsor Tensor whose inputs are the axes
(x.inputs maps each axis name to Bint[size]) and whose value at each index
record is a scalar.  It is a subclass, so it can be passed wherever funsor
Tensors are (x.data and x.inputs are funsor's), but what a user does with it
is named: every method a user would call with an axis name (x.sum("height"),
x(height=0), x[{"height": 0}], ...) is the ntlib function of that name
(ntlib.core.operations installs them from one table), arithmetic is done by
torch with axes matched by name, and operations that would silently give
something else (a positional torch.Tensor operand, @, len, x[0]) raise a
clear error.

A named tensor holds two things: ``x.data``, a torch tensor, and ``x.names``,
its axis names, one per dimension (plain attributes, to be read and never
assigned: nt.rename makes a tensor with other names; the order of the names
inside x.data is an implementation detail, and nt.positional(x, names) is the
one explicit way back to a positional torch.Tensor).  ``make`` builds one from both without
checks (for results ntlib computes), ``wrap`` with them; every other module
reads ``x.names`` and ``x.data`` and builds through these two.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, Mapping, NoReturn, Union

import numpy as np
import torch

from . import funsor_compat as fc
from .base import (LAID_OUT, AxisError, axis_name, device, fmt, laid_out, needs_values,
                   positional_error, refuse_complex, refuse_unordered)
from .cache import bounded_cache

if TYPE_CHECKING:
    from .checks import Axes, Axis, Order

__all__ = ["NamedTensor", "Named", "Operand", "is_named", "make", "wrap", "as_named",
           "real"]


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

    #: the axis names, one per dimension of data (in storage order, which
    #: carries no meaning); read it, never assign it (nt.rename)
    names: tuple[str, ...]
    __hash__ = fc.Tensor.__hash__
    __array_ufunc__ = None          # numpy defers to our reflected operators

    def __init__(self, data: torch.Tensor, inputs: Any = None, dtype: str = "real") -> None:
        # funsor's own constructor (NamedTensor(data, inputs)) comes here;
        # ntlib's operations build results without it (ntlib._internal.make)
        super().__init__(data, inputs, dtype)
        self.names = tuple(self.inputs)

    # -- funsor's attributes, from the axis names ----------------------------
    @_computed
    def inputs(self):
        return _inputs(self.names, self.data.shape)

    @_computed
    def output(self):
        return fc.Real

    @_computed
    def fresh(self):
        return frozenset(self.names)

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
        return dict(zip(self.names, self.data.shape))

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
        if self.names:
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


#: the type of a named tensor in ntlib's annotations (``x: Named``)
Named = NamedTensor
#: what arithmetic takes besides a named tensor: a Python number (a 0-dim torch
#: tensor works too; a positional one is refused)
Operand = Union[NamedTensor, complex, torch.Tensor]


# --------------------------------------------------------------------------
# making named tensors

_new = object.__new__
# the classes of torch.Tensor data up to rank 12, made now, so that the first
# call at a new rank does not run funsor's type machinery while torch.compile
# traces (it cannot)
_CLASSES = [fc.typed_class(NamedTensor, torch.Tensor, ndim) for ndim in range(13)]


@bounded_cache(maxsize=256)
def _typed_class_of(data_class: type, ndim: int) -> Any:
    return fc.typed_class(NamedTensor, data_class, ndim)


def _typed_class(data_class: type, ndim: int) -> Any:
    """The funsor class of a named tensor with ndim axes over data of data_class."""
    if data_class is torch.Tensor and ndim < 13:
        return _CLASSES[ndim]
    return _typed_class_of(data_class, ndim)


def is_named(x: object) -> bool:
    return isinstance(x, NamedTensor)


def make(data: torch.Tensor, names: tuple[str, ...]) -> Named:
    """A named tensor with ``data`` and axes ``names`` (a tuple of distinct str,
    one per dimension of data; not checked: for results ntlib computes).

    An instance of the class funsor's constructor would make, without the
    constructor's checks and cons cache; funsor's attributes (inputs, output,
    ...) are computed from the names when first read.
    """
    x = _new(_typed_class(data.__class__, len(names)))
    x.data = data
    x.names = names
    return x


def wrap(data: torch.Tensor, names: Iterable[str], what: str = "tensor") -> Named:
    """A named tensor with axes ``names``, one per dimension of ``data`` (checked)."""
    if names.__class__ is not tuple:
        if isinstance(names, str):
            names = (axis_name(names, what, "names"),)
        refuse_unordered(names, what, "names")
    names = tuple(names)
    if len(names) != data.dim():
        raise AxisError(
            f"{data.dim()}-dimensional data of shape {tuple(data.shape)} needs "
            f"{data.dim()} axis names, got {len(names)}: {names}")
    if any(a.__class__ is not str for a in names):
        names = tuple(axis_name(a, what, "names") for a in names)
    if len(set(names)) != len(names):
        dup = sorted({a for a in names if names.count(a) > 1})
        raise AxisError(f"axis names must be distinct; repeated: {dup}")
    return make(data, names)


def as_named(x: Any, what: str = "expected a named tensor",
             param: str | None = None) -> Named:
    """x as a named tensor: a NamedTensor itself; a funsor Tensor of scalars or a
    funsor Number with the same data; a Python number as a tensor without axes.
    A positional torch tensor or numpy array is refused (TypeError saying how to
    name it), and so is anything else."""
    if isinstance(x, NamedTensor):
        return x
    if isinstance(x, fc.Tensor):
        if x.output.shape:
            raise TypeError(
                f"a funsor Tensor whose values are arrays of shape {x.output.shape} "
                f"is not a named tensor; name every dimension with nt.tensor(data, names)")
        return make(x.data, tuple(x.inputs))
    if isinstance(x, fc.Number):
        return make(torch.as_tensor(x.data, device=device()), ())
    if isinstance(x, (bool, int, float)):
        return make(torch.as_tensor(x, device=device()), ())
    if isinstance(x, (torch.Tensor, np.ndarray)):
        raise positional_error(x, what)
    where = f" for argument {param!r}" if param else ""
    raise TypeError(
        f"{what}: expected a named tensor{where} (make one with nt.tensor), "
        f"got {type(x).__name__}")


def real(what: str, **tensors: Any) -> None:
    """TypeError unless each named tensor given (by role) holds real data;
    None and values that are not named tensors are passed over."""
    for role, x in tensors.items():
        if is_named(x) and x.data.dtype.is_complex:
            refuse_complex(what, role, x)
