"""The indexing engine: X_{ax(i)} through torch (section 3, indexing).

``select`` takes a tensor at positions of several axes at once: an int
removes its axis (torch's select), an integer named tensor puts its own axes
in the indexed axis' place (index_select, or one advanced indexing when
several index tensors or shared axes are involved, matched by name).
Positions are checked before the data is read where torch would not check
them (on an accelerator an index out of range is fatal) and inside a
compiled graph as an assertion.  nt.index, x(ax=i) and x[{ax: i}] all come
here.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from .._internal import (AxisError, DeviceError, as_named, axis_name, bounded_cache, data_in,
                         fmt, make, missing_axis, positional_error, values_readable)
from .._internal import funsor_compat as fc
from .named_tensor import Named, NamedTensor


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


def call(self, /, *args, **indices):
    """x(ax=i, ...) is nt.index(x, ax, i) for each axis given (at once)."""
    if args:
        raise TypeError("index a named tensor by axis name: x(height=0), or "
                        "x[{'height': 0}]; positional arguments have no meaning")
    return select(self, indices)


def getitem(self, item):
    """x[{"ax": i, ...}] is nt.index(x, ax, i) for each axis given (at once)."""
    if isinstance(item, Mapping):
        return select(self, item)
    raise TypeError(
        f"index a named tensor with a dict of axis names, e.g. "
        f"x[{{{next(iter(self.names), 'ax')!r}: 0}}], not with {item!r}: its axes "
        f"{fmt(self.shape)} have no order")
