"""Differential calculus of named tensors (paper section 5 and Appendix B).

For f mapping tensors of shape S to tensors of shape T, the paper writes the
derivative as ∂f/∂X* ∈ R^{S* ∪ T}: every input axis ``a`` is renamed ``a*``
(:func:`star`), so that input and output axes stay apart even when f is
lifted and its output shares names with its input.  The linear part of
f(X + H) is the differential ∂f(X; H) = ∂f/∂X* ⊙_{S*} H*.

:func:`derivative` and :func:`differential` compute both with torch's
automatic differentiation (reverse mode and forward mode); the other
functions are the paper's worked results written as named formulas.  The
book checks each formula against the autograd ones.
"""

from __future__ import annotations

import warnings

import torch

from .core import (AxisError, _as_funsor, _fmt, _require, _wrap, contract,
                   device, positional, rename, shape, softmax)
from .core import dtype as _dtype

__all__ = [
    "STAR", "star", "identity", "identity_like", "derivative", "differential",
    "identify", "max_difference", "softmax_differential",
    "softmax_derivative", "derivative_of_lift", "attention_unscaled",
    "attention_dV", "attention_dQ", "attention_dK",
]

STAR = "*"


# --------------------------------------------------------------------------
# the starred axes and the identity tensor

def star(x, axes=None):
    """X*: the axes ``axes`` of ``x`` (default: all of them) renamed a → a*.

    The starred name is the name followed by ``*``.
    """
    x = _as_funsor(x)
    axes = tuple(shape(x)) if axes is None else \
        ((axes,) if isinstance(axes, str) else tuple(axes))
    _require(x, axes, "star")
    return rename(x, {a: a + STAR for a in axes})


def identity(ax: str, new: str, size: int, *, dtype=torch.float64):
    """I_{ax,new} ∈ R^{ax[size] × new[size]}: 1 where the indices agree, else 0
    (the identity tensor).

    Contracting with it renames: I_{ax,new} ⊙_ax A = A_{ax→new}.
    """
    if ax == new:
        raise AxisError(f"identity: the two axes must have different names; "
                        f"got {ax!r} twice (size {size})")
    return _wrap(torch.eye(int(size), dtype=dtype, device=device()), (ax, new))


def identity_like(x, axes=None):
    """I_{S,S*}: the product of I_{a,a*} over the axes ``a`` of ``x``.

    ``axes`` defaults to all of them.

    Its axes are S and S*; ``x``'s sizes and dtype are used.
    """
    x = _as_funsor(x)
    sizes = shape(x)
    axes = tuple(sizes) if axes is None else \
        ((axes,) if isinstance(axes, str) else tuple(axes))
    _require(x, axes, "identity_like")
    out = None
    for a in axes:
        eye = identity(a, a + STAR, sizes[a], dtype=_dtype(x))
        out = eye if out is None else contract(out, eye)
    return out


# --------------------------------------------------------------------------
# derivative and differential by automatic differentiation

def _check_input(X, what):
    X = _as_funsor(X)
    sizes = shape(X)
    for a in sizes:
        if a.endswith(STAR):
            raise AxisError(
                f"{what}: the input already has a starred axis "
                f"{a!r}[{sizes[a]}]; the derivative's own starred axes "
                f"could not be told apart from it. Rename it first; the "
                f"input's axes are {_fmt(sizes)}")
    if not _dtype(X).is_floating_point:
        raise TypeError(f"{what}: the input must be real-valued, "
                        f"got {_dtype(X)}")
    return X, sizes


def _positional_fn(f, in_order, out_order):
    """f as a function of positional tensors, with both axis orders fixed."""
    def pf(x):
        return positional(f(_wrap(x, in_order)), out_order)
    return pf


def derivative(f, X):
    """∂f/∂X*, evaluated at X: axes of f(X) plus the starred axes of X.

    ``f`` maps a named tensor to a named tensor.  Entry (t, s*) is the
    partial derivative of f(X)_t with respect to X_s.  Computed in reverse
    mode (torch.func.jacrev) on a positional wrapper of ``f``: X's axes are
    put in a fixed order, f is called on the named tensor rebuilt from it,
    and f's output is read in a fixed order.  A lifted f, whose output
    shares axis names with X, is fine: output axis ``a`` and input axis
    ``a*`` are different axes.
    """
    X, sizes = _check_input(X, "derivative")
    in_order = tuple(sizes)
    Y = _as_funsor(f(X))
    out = shape(Y)
    for a in sizes:
        if a + STAR in out:
            raise AxisError(
                f"derivative: f's output has an axis {a + STAR!r}, the "
                f"starred name of the input axis {a!r}[{sizes[a]}]; f's "
                f"output axes are {_fmt(out)}")
    out_order = tuple(out)
    pf = _positional_fn(f, in_order, out_order)
    J = torch.func.jacrev(pf)(positional(X, in_order))
    return _wrap(J, out_order + tuple(a + STAR for a in in_order))


def differential(f, X, H):
    """∂f(X; H): the part of f(X + H) − f(X) that is linear in H.

    ``H`` has the axes and sizes of ``X``.  Computed in forward mode
    (torch.func.jvp), without forming the derivative; it equals
    ∂f/∂X* ⊙_{S*} H* (see :func:`derivative`).
    """
    X, sizes = _check_input(X, "differential")
    H = _as_funsor(H)
    hs = shape(H)
    if hs != sizes:
        bad = [a for a in dict.fromkeys(list(sizes) + list(hs))
               if sizes.get(a) != hs.get(a)]
        raise AxisError(f"differential: H must have the axes and sizes of X; "
                        f"axes {bad} differ: X has {_fmt(sizes)}, "
                        f"H has {_fmt(hs)}")
    in_order = tuple(sizes)
    out_order = tuple(shape(f(X)))
    pf = _positional_fn(f, in_order, out_order)
    h = positional(H, in_order).to(_dtype(X))
    _, dy = _jvp(pf, positional(X, in_order), h)
    return _wrap(dy, out_order)


def _jvp(f, x, h):
    """torch.func.jvp without torch's own warning: its first call scripts
    torch's decompositions with torch.jit, which torch deprecates (a
    DeprecationWarning in torch 2.13, a FutureWarning from 2.14 on); not the
    caller's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*")
        return torch.func.jvp(f, (x,), (h,))


def identify(df, X):
    """Read the derivative off a differential (first identification theorem).

    ``df`` is H ↦ ∂f(X; H), written with named operations so that it lifts
    over axes H has and X lacks.  If it is linear in H, ∂f(X; H) = A ⊙_{S*} H*
    and A = ∂f/∂X*.  Feeding it H = I_{S,S*} (one unit tensor per record of
    S*, as a lifted argument) returns A.
    """
    X, _ = _check_input(X, "identify")
    return df(identity_like(X))


def max_difference(x, y) -> float:
    """max |x − y| over all entries of two named tensors with the same axes."""
    x, y = _as_funsor(x), _as_funsor(y)
    sx, sy = shape(x), shape(y)
    if sx != sy:
        bad = [a for a in dict.fromkeys(list(sx) + list(sy))
               if sx.get(a) != sy.get(a)]
        raise AxisError(f"max_difference: axes {bad} differ: the first "
                        f"tensor has {_fmt(sx)}, the second {_fmt(sy)}")
    order = tuple(sx)
    d = positional(x, order) - positional(y, order)
    return float(d.abs().max()) if d.numel() else 0.0


# --------------------------------------------------------------------------
# the worked results of section 5, as named formulas

def softmax_differential(X, dX, ax: str):
    """∂softmax_ax X = softmax_ax X ⊙ (∂X − softmax_ax X ⊙_ax ∂X)."""
    s = softmax(X, ax)
    return s * (dX - contract(s, dX, over=ax))


def softmax_derivative(X, ax: str):
    """∂/∂X* softmax_ax X = softmax_ax X ⊙ (I_{ax,ax*} − (softmax_ax X)*).

    Only ``ax`` is starred.  For X ∈ R^{ax} this is the whole derivative;
    for X with more axes S' it is the lift g^{S'} of that derivative, and
    the derivative of the lifted softmax is ``derivative_of_lift`` of it.
    """
    s = softmax(X, ax)
    eye = identity(ax, ax + STAR, shape(s)[ax], dtype=_dtype(s))
    return s * (eye - star(s, ax))


def derivative_of_lift(G, over):
    """∂f^{S'}(X)/∂X* = g^{S'}(X) ⊙ I_{S',S'*}.

    ``G`` = g^{S'}(X) is the derivative of the unlifted f, lifted over the
    axes ``over`` (= S'); the lifted f's derivative has, in addition, the
    axes S'* and is zero off the diagonal s' = s'*.
    """
    G = _as_funsor(G)
    over = (over,) if isinstance(over, str) else tuple(over)
    if not over:
        return G
    return contract(G, identity_like(G, over))


def attention_unscaled(Q, K, V, *, key="key", seq="seq"):
    """Att(Q, K, V) = softmax_seq(Q ⊙_key K) ⊙_seq V.

    Without the factor 1/sqrt|key|, as in §5 of the paper.
    """
    return contract(softmax(contract(Q, K, over=key), seq), V, over=seq)


def _alpha(Q, K, key, seq):
    return softmax(contract(Q, K, over=key), seq)


def attention_dV(Q, K, V, *, key="key", seq="seq", val="val"):
    """∂Att/∂V* = α_{seq→seq*} ⊙ I_{val,val*}, α = softmax_seq(Q ⊙_key K)."""
    a = _alpha(Q, K, key, seq)
    V = _as_funsor(V)
    _require(V, (val,), "attention_dV")
    eye = identity(val, val + STAR, shape(V)[val], dtype=_dtype(V))
    return contract(star(a, seq), eye)


def attention_dQ(Q, K, V, *, key="key", seq="seq"):
    """∂Att/∂Q* = V ⊙_seq (α ⊙ (K_{key→key*} − α ⊙_seq K_{key→key*}))."""
    a = _alpha(Q, K, key, seq)
    Ks = star(K, key)
    return contract(V, a * (Ks - contract(a, Ks, over=seq)), over=seq)


def attention_dK(Q, K, V, *, key="key", seq="seq"):
    """∂Att/∂K* = V ⊙_seq (α ⊙ (QI − α ⊙_seq QI)), QI = Q* ⊙ I_{seq,seq*}.

    Here Q* is Q_{key→key*}.  The paper prints this formula with unbalanced
    parentheses; the grouping here is the one that matches autograd.
    """
    a = _alpha(Q, K, key, seq)
    eye = identity(seq, seq + STAR, shape(K)[seq], dtype=_dtype(K))
    QI = contract(star(Q, key), eye)                  # Q* ⊙ I_{seq,seq*}
    return contract(V, a * (QI - contract(a, QI, over=seq)), over=seq)
