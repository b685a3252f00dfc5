"""The contraction planner: X ⊙_over Y ⊙_over ... as one torch call (section 3.2).

nt.contract (ntlib.core.operations) writes the contraction as an einsum
equation, a letter per axis name (``einsum_equation``); ``einsum`` runs it
on the operands' data after promoting them to one dtype.  Two operands whose
equation is a (batched) matrix product go to torch.matmul directly, with the
permutations and reshapes planned once per signature (``_matmul_plan``); a
large operand that is a view of overlapping windows is contracted window
position by window position (ntlib.core._windowed); integer products on an
accelerator are computed on the CPU, where they are exact.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .._internal import (AxisError, bounded_cache, fmt, is_float, merged_sizes, promote,
                         same_device)
from . import _windowed as windowed
from .named_tensor import Named, NamedTensor


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


def contractible(tensors, over):
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
    large = max(math.prod(shapes[0]), math.prod(shapes[1])) >= windowed.MIN_ELEMENTS
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
