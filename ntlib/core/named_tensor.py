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

import numpy as np
import torch

from .._internal import (AxisError, Axes, axis_size, checked, data_in, device, fmt,
                         needs_values, on_device, refuse_complex, seeded_data,
                         set_named_type, sizes_of, wrap)
from .._internal import funsor_compat as fc

__all__ = ["NamedTensor", "AxisError", "device", "on_device", "tensor", "randn", "rand", "randint",
           "positional", "names", "shape", "dtype"]


class _computed:
    """A funsor attribute computed from the axis names when first read, then kept."""

    def __init__(self, fn):
        self.fn, self.name = fn, fn.__name__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


_INPUTS: dict = {}


def _no_positional(what, hint):
    def method(self, *args, **kwargs):
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
    """

    __hash__ = fc.Tensor.__hash__
    __array_ufunc__ = None          # numpy defers to our reflected operators

    def __init__(self, data, inputs=None, dtype="real"):
        # funsor's own constructor (NamedTensor(data, inputs)) comes here;
        # ntlib's operations build results without it (ntlib._internal.make)
        super().__init__(data, inputs, dtype)
        self._names = tuple(self.inputs)

    # -- funsor's attributes, from the axis names ----------------------------
    @_computed
    def inputs(self):
        key = (self._names, self.data.shape)
        inputs = _INPUTS.get(key)
        if inputs is None:
            if len(_INPUTS) > 4096:
                _INPUTS.clear()
            inputs = _INPUTS[key] = OrderedDict(
                (a, fc.bint(s)) for a, s in zip(self._names, self.data.shape))
        return inputs

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
    def shape(self):
        """The axes and their sizes, {axis: size} (as nt.shape)."""
        return dict(zip(self._names, self.data.shape))

    @property
    def names(self):
        """The axis names (storage order, which carries no meaning)."""
        return self._names

    def __repr__(self):
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
            arr = d.detach().cpu()
            if arr.dtype in (torch.bfloat16, torch.float16):
                arr = arr.float()
            edge = 3 if n <= 2 else 2 if n == 3 else 1
            arr = arr.numpy()
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

    def __array__(self, *args, **kwargs):
        raise TypeError("a named tensor has no axis order to give numpy; use "
                        "nt.positional(x, order) (then .cpu().numpy())")

    # -- scalars -------------------------------------------------------------
    def _scalar(self, what):
        if self._names:
            raise AxisError(
                f"{what} needs a named tensor without axes; this one has "
                f"{fmt(self.shape)} (reduce them first, e.g. nt.sum(x))")
        if self.data.is_meta:
            needs_values(what, (self,))
        return self.data

    def item(self):
        return self._scalar("item()").item()

    def __bool__(self):
        return bool(self._scalar("bool()"))

    def __float__(self):
        d = self._scalar("float()")
        if d.is_complex():     # as Python's float(complex): refused
            refuse_complex("float()", "the tensor", self)
        return float(d)

    def __int__(self):
        d = self._scalar("int()")
        if d.is_complex():
            refuse_complex("int()", "the tensor", self)
        return int(d)

    def __treescope_ndarray_adapter__(self):
        """treescope's array adapter: ``treescope.render_array(x)`` draws the
        tensor faceted by axis name (see :mod:`ntlib._treescope`)."""
        from .._treescope import NamedTensorAdapter
        return NamedTensorAdapter()


set_named_type(NamedTensor)


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
    if isinstance(data, fc.Funsor):
        raise TypeError("tensor: data is already a named tensor; use "
                        "nt.rename to change its names or nt.astype to "
                        "change its dtype")


@checked(check=_not_named_yet)
def tensor(data, names: Axes, *, dtype=None) -> NamedTensor:
    """Make a named tensor whose axes are names, one per dimension of data.

    data may be nested lists, a numpy array or a torch tensor; it is moved to
    nt.device() (a tensor on the meta device, which has no values, stays
    there).  Integer data stays integer (useful as indices).  Real numbers
    given as Python lists become float64 (torch would make float32); a
    tensor or array keeps its own dtype unless dtype says otherwise.
    """
    return wrap(_as_data(data, dtype, device()), names)


def _generate(kind, seed, dtype, sizes, **kw):
    if not sizes:
        raise AxisError("give at least one axis as name=size")
    shape_ = tuple(axis_size(s, kind, a) for a, s in sizes.items())
    default = torch.int64 if kind == "randint" else torch.float64
    return wrap(seeded_data(kind, shape_, seed, dtype or default, **kw), tuple(sizes))


def randn(*, seed: int, dtype=None, **sizes: int) -> NamedTensor:
    """Standard normal entries, axes name=size in the order given.

    Drawn on the CPU from seed and then moved to nt.device(), so the same
    seed gives the same values on every device.  float64 by default.  On the
    meta device nothing is drawn: the tensor is made there directly, with its
    shape and dtype only (no memory, however large).
    """
    return _generate("randn", seed, dtype, sizes)


def rand(*, seed: int, dtype=None, **sizes: int) -> NamedTensor:
    """Uniform [0, 1) entries; otherwise as nt.randn."""
    return _generate("rand", seed, dtype, sizes)


def randint(low: int, high: int, *, seed: int, dtype=None, **sizes: int) -> NamedTensor:
    """Integers uniform in [low, high) (int64 by default); otherwise as nt.randn."""
    return _generate("randint", seed, dtype, sizes, low=low, high=high)


# --------------------------------------------------------------------------
# reading a named tensor

@checked("x")
def names(x) -> tuple:
    """The axis names of x (in storage order, which carries no meaning)."""
    return x._names


@checked("x")
def shape(x) -> dict:
    """The shape of x as a dict {axis: size} (the paper's shp X with sizes)."""
    return sizes_of(x)


@checked("x")
def dtype(x) -> torch.dtype:
    """The torch dtype of x's values (x.dtype is funsor's output domain)."""
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
def positional(x, names: Axes) -> torch.Tensor:
    """The data of x as a plain torch.Tensor with dimensions in the order names.

    names must list every axis of x exactly once.
    """
    return data_in(x, names)
