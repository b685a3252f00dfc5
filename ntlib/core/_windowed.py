"""Contracting a tensor of overlapping windows without laying the windows out.

``unroll`` (paper section 4.3) gives a strided view in which a kernel axis and
the axis it slides along step through the same memory: for X over
batch × chans × height × width, ``U = unroll_{height,kh} unroll_{width,kw} X``
has strides (C·H·W, H·W, W, 1, W, 1).  Contracting it with a kernel W over
chans, kh and kw as one matrix product first copies U into a matrix of
|chans|·|kh|·|kw| rows and one column per output position (a copy nine times
the size of X for a 3×3 kernel), and the gradient of that copy flows back
through torch's unfold_backward, which is slow on the CPU.

This module computes the same contraction as a sum over the window
positions j = (kh, kw):

    Σ_j  W[kh=j] ⊙_chans U[kh=j],

where each U[kh=j] is read straight from X's memory (an offset view).  The
kept axes the windows slide along (height, width) are read as one range of
memory that covers them (row after row, the |kw| − 1 positions between two
rows included); the product is a batched matrix product over that range
(torch.bmm and torch.baddbmm_, accumulating in place), and the positions of
the range that are not output positions are dropped at the end (a strided
view).  Every product U·W of the contraction is formed once, in the same
precision, only the order of the additions differs (as between any two
matrix-product routes), so the result is the contraction, not an
approximation.  For the gradient, the views are taken of the tensor U is a
view of (its _base), so autograd routes the gradient to it by strided
additions instead of unfold_backward.

The route is taken only where it pays: floating-point data, U's windows at
least MIN_ELEMENTS entries, each product at least MIN_WORK multiplications,
at most MAX_POSITIONS window positions, the
covering range at most MAX_WASTE times the output positions, every axis in
a role the route knows (see ``plan``), and memory and autograd as checked
in ``contract``; otherwise the caller uses its ordinary route.
"""

from __future__ import annotations

import math

import torch

from .._internal import bounded_cache

__all__ = ["contract", "MIN_ELEMENTS"]

#: the smallest window tensor (entries of U) worth the route; smaller ones are
#: copied, which costs less than a Python loop over the window positions
MIN_ELEMENTS = 1 << 21
#: the smallest matrix product per batch entry and window position
#: (|outs|·|chans|·range) worth the route; below it bmm's per-entry set-up
#: costs more than the copy saves (LeNet's 6 and 16 channels at batch 256)
MIN_WORK = 1 << 16
MAX_POSITIONS = 64
MAX_WASTE = 1.5

# view operations whose backward nodes may stand between U and the tensor it is a view of
_VIEW_NODES = frozenset({
    "UnfoldBackward0", "PermuteBackward0", "ViewBackward0", "SliceBackward0",
    "SelectBackward0", "TransposeBackward0", "AsStridedBackward0", "UnsqueezeBackward0",
    "SqueezeBackward0", "SqueezeBackward1", "ExpandBackward0", "AliasBackward0",
    "UnbindBackward0", "NarrowBackward0", "TBackward0", "DiagonalBackward0",
    "UnsqueezeBackward1", "SplitBackward0", "SplitWithSizesBackward0",
})

try:   # torch.func wraps tensors; the route's strided views are not for it
    from torch._C._functorch import is_functorch_wrapped_tensor as _wrapped
except ImportError:  # pragma: no cover (another torch: never take the route)
    def _wrapped(tensor: torch.Tensor) -> bool:
        return True


def _merge(dims, sizes, strides):
    """One (size, stride) for dims (outer first), or None if they are not one
    evenly strided range; (1, 1) for no dims."""
    if not dims:
        return 1, 1
    n, t = sizes[dims[-1]], strides[dims[-1]]
    for d in reversed(dims[:-1]):
        if sizes[d] != 1 and strides[d] != n * t:
            return None
        n *= sizes[d]
    return n, t


@bounded_cache(maxsize=1024)
def _plan(equation, wshape, ushape, ustride, swap):
    return plan(equation, wshape, ushape, ustride, swap)


def plan(equation, wshape, ushape, ustride, swap):
    """How to contract W (letters before the comma, or after if swap) with the
    window tensor U, or None.

    Roles of U's letters: a *window* letter is summed, in both operands, and
    has the stride of a *partner* letter, which is kept and in U only (kh and
    height); the other summed letters are *channels* (in both operands); the
    other kept letters of U are *batch* letters (U only).  W's other letters
    are *output* letters (kept, W only).  Any other arrangement (a kept letter
    in both operands, a summed letter in one) is left to the ordinary route.
    """
    ins, out = equation.split("->")
    xs, ys = ins.split(",")
    ws, us = (ys, xs) if swap else (xs, ys)
    if len(set(us)) != len(us) or len(set(ws)) != len(ws):
        return None
    usize = dict(zip(us, ushape))
    ustr = dict(zip(us, ustride))
    wsize = dict(zip(ws, wshape))
    summed = [a for a in us if a not in out]
    if any(a not in ws for a in summed) or any(a not in us and a not in out for a in ws):
        return None
    if any(a in ws and a in out for a in us):
        return None            # a kept letter in both operands
    kept_u = [a for a in us if a in out]
    windows, partners = [], []
    for k in summed:
        if usize[k] < 2:
            continue
        for h in kept_u:
            if h not in partners and usize[h] > 1 and ustr[h] == ustr[k]:
                windows.append(k)
                partners.append(h)
                break
    if not windows:
        return None
    chans = [a for a in summed if a not in windows]
    batch = [a for a in kept_u if a not in partners]
    outs = [a for a in ws if a in out]
    if any(ustr[a] <= 0 for a in us):
        return None
    # the partners as one covering range with the smallest partner stride
    parts = sorted(partners, key=lambda a: ustr[a])
    t0 = ustr[parts[0]]
    span = 0
    for a in parts:
        if ustr[a] % t0 or (span and ustr[a] <= span):
            return None
        span += (usize[a] - 1) * ustr[a]
    L = span // t0 + 1
    npos = math.prod([usize[a] for a in partners])
    if L > MAX_WASTE * npos:
        return None
    nwin = math.prod([usize[a] for a in windows])
    if nwin > MAX_POSITIONS or math.prod(ushape) < MIN_ELEMENTS:
        return None
    b = _merge(sorted(batch, key=lambda a: -ustr[a]), usize, ustr)
    c = _merge(sorted(chans, key=lambda a: -ustr[a]), usize, ustr)
    if b is None or c is None:
        return None
    batch = sorted(batch, key=lambda a: -ustr[a])
    chans = sorted(chans, key=lambda a: -ustr[a])
    nb, tb = b
    nc, tc = c
    no = math.prod([wsize[a] for a in outs])
    if no * nc * L < MIN_WORK:
        return None
    # W laid out as [windows, outs, chans] -> [nwin, no, nc], each W[j] a
    # contiguous matrix (a strided one makes bmm copy it once per batch entry)
    wperm = [ws.index(a) for a in windows + outs + chans]
    # offsets of the window positions, in W's window order
    offsets = [0]
    for k in windows:
        offsets = [o + j * ustr[k] for o in offsets for j in range(usize[k])]
    # the result [nb, no, L] read as [batch..., outs..., partners...]
    rsizes = [usize[a] for a in batch] + [wsize[a] for a in outs] + [usize[a] for a in partners]
    rstrides = []
    acc = no * L
    for a in reversed(batch):
        rstrides.insert(0, acc)
        acc *= usize[a]
    ostr = []
    acc = L
    for a in reversed(outs):
        ostr.insert(0, acc)
        acc *= wsize[a]
    rstrides += ostr + [ustr[a] // t0 for a in partners]
    order = batch + outs + partners
    perm = [order.index(a) for a in out]
    reach = sum((usize[a] - 1) * ustr[a] for a in windows + batch + chans) + span
    return dict(wperm=wperm, wshape=[nwin, no, nc], offsets=offsets, nb=nb, tb=tb, nc=nc,
                tc=tc, no=no, L=L, t0=t0, rsizes=rsizes, rstrides=rstrides,
                perm=None if perm == sorted(perm) else perm, reach=reach)


def _view_of(u, base):
    """True if autograd's record of u is a chain of views of base."""
    node = u.grad_fn
    while node is not None and type(node).__name__ in _VIEW_NODES:
        nxt = node.next_functions
        if not nxt:
            return False
        node = nxt[0][0]
    if base.grad_fn is not None:
        return node is base.grad_fn
    return node is not None and getattr(node, "variable", None) is base


def contract(equation, x, y):
    """The data of the two-operand einsum ``equation`` of x and y (torch
    tensors of one floating dtype) by the window route, or None where the
    route does not apply (see the module docstring)."""
    for swap, (w, u) in ((True, (y, x)), (False, (x, y))):
        if u.is_contiguous():
            continue
        p = _plan(equation, w.shape, u.shape, u.stride(), swap)
        if p is not None:
            return _run(p, w, u)
    return None


def _run(p, w, u):
    if u.device.type == "meta" or _wrapped(u) or _wrapped(w):
        return None
    base = u
    if torch.is_grad_enabled() and u.requires_grad:
        base = u._base
        if base is None or not _view_of(u, base):
            return None
    storage = u.untyped_storage().nbytes() // u.element_size()
    off0 = u.storage_offset()
    if off0 + p["reach"] >= storage:
        return None           # the covering range would read past the memory
    wm = w.permute(p["wperm"]).reshape(p["wshape"]).contiguous()
    nb, no, nc, L = p["nb"], p["no"], p["nc"], p["L"]
    size, stride = [nb, nc, L], [p["tb"], p["tc"], p["t0"]]
    acc = None
    for j, off in enumerate(p["offsets"]):
        uj = base.as_strided(size, stride, off0 + off)
        wj = wm[j].expand(nb, no, nc)
        acc = torch.bmm(wj, uj) if acc is None else acc.baddbmm_(wj, uj)
    out = acc.as_strided(p["rsizes"], p["rstrides"])
    return out if p["perm"] is None else out.permute(p["perm"])
