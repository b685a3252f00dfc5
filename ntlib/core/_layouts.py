"""Broadcasting layouts: how two named tensors meet (paper section 3.1).

An elementwise binary operation lifts a function of numbers over the union
of its operands' axes.  ``layout`` finds one axis order for both operands
and, for each, how to lay its data out in that order (a permutation, and a
dimension of size 1 for each axis it lacks) so that torch's broadcasting,
which matches dimensions by position, matches them by name; ``elementwise``
applies it.  The arithmetic and comparison operators of NamedTensor (x + y,
x < y, ...) are made here from one table and installed by
ntlib.core.operations; funsor's Binary on a named tensor comes here too.
"""

from __future__ import annotations

import operator
from typing import Callable, Sequence

import torch

from .._internal import (AxisError, DeviceError, as_named, bounded_cache, make, refuse_complex,
                         scalar_operand)
from .._internal import funsor_compat as fc
from .named_tensor import Named, NamedTensor

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
OPERATORS = {}
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
    OPERATORS[f"__{_name}__"] = _m
    if _name not in ("lt", "le", "gt", "ge", "eq", "ne"):
        OPERATORS[f"__r{_name}__"] = _r
_APPLY["div"] = _APPLY["truediv"]
_APPLY["max"], _APPLY["min"] = _binary(torch.maximum, "max", False)[2], \
    _binary(torch.minimum, "min", False)[2]

fc.register_named_binary(NamedTensor, _funsor_binary)
