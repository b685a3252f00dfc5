"""Named tensors (paper section 2): making, drawing and reading them.

From data (nt.tensor) or at random (nt.randn, nt.rand, nt.randint); their
names, shape and dtype; and leaving for positional torch (nt.positional).

The type itself, NamedTensor, is defined with the two functions that build
every named tensor (make and wrap) in ntlib._internal.tensor, the layer all of
ntlib stands on; it is exported here as nt.NamedTensor.  Axis order inside
x.data is an implementation detail; positional(x, names) is the one explicit
way back to a positional torch.Tensor.
"""

from __future__ import annotations

from typing import Any

import torch

from .._internal import (AxisError, AxisTypeError, Named, NamedTensor, Order,
                         axis_size, checked, data_in, device, fmt, on_device, seeded_data,
                         sizes_of, wrap)
from .._internal import funsor_compat as fc

__all__ = ["NamedTensor", "AxisError", "AxisTypeError", "device", "on_device", "tensor",
           "randn", "rand", "randint", "positional", "names", "shape", "dtype"]



def _treescope_adapter(self: NamedTensor) -> Any:
    """treescope's array adapter: ``treescope.render_array(x)`` draws the
    tensor faceted by axis name (see :mod:`ntlib._treescope`)."""
    from .._treescope import NamedTensorAdapter
    return NamedTensorAdapter()


# treescope asks a named tensor for its adapter (ntlib._treescope, imported then)
NamedTensor.__treescope_ndarray_adapter__ = _treescope_adapter  # type: ignore[attr-defined]


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
    return x.names


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
