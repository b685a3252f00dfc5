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

from ._internal import AxisError, Axes, Axis, axis_size, checked, device, fmt, make, wrap
from .core import contract, positional, rename, shape, softmax
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

@checked(x="has axes")
def star(x, axes: Axes = None):
    """X*: the axes of x given by axes (default: all of them) renamed a → a*.

    The starred name is the name followed by *.
    """
    return rename(x, {a: a + STAR for a in axes})


def _different(ax, new, size, dtype):
    axis_size(size, "identity", new)
    if ax == new:
        raise AxisError(f"identity: the two axes must have different names; "
                        f"got {ax!r} twice (size {size})")


@checked(check=_different)
def identity(ax: Axis, new: Axis, size: int, *, dtype=torch.float64):
    """I_{ax,new} ∈ R^{ax[size] × new[size]}: 1 where the indices agree, else 0
    (the identity tensor).

    Contracting with it renames: I_{ax,new} ⊙_ax A = A_{ax→new}.
    """
    return make(torch.eye(int(size), dtype=dtype, device=device()), (ax, new))


@checked(x="has axes")
def identity_like(x, axes: Axes = None):
    """I_{S,S*}: the product of I_{a,a*} over the axes a of x.

    axes defaults to all of them.

    Its axes are S and S*; x's sizes and dtype are used.
    """
    sizes = shape(x)
    out = None
    for a in axes:
        eye = identity(a, a + STAR, sizes[a], dtype=_dtype(x))
        out = eye if out is None else contract(out, eye)
    return out


# --------------------------------------------------------------------------
# derivative and differential by automatic differentiation

def _check_input(X, what):
    sizes = shape(X)
    for a in sizes:
        if a.endswith(STAR):
            raise AxisError(
                f"{what}: the input already has a starred axis "
                f"{a!r}[{sizes[a]}]; the derivative's own starred axes "
                f"could not be told apart from it. Rename it first; the "
                f"input's axes are {fmt(sizes)}")
    if not _dtype(X).is_floating_point:
        raise TypeError(f"{what}: the input must be real-valued, "
                        f"got {_dtype(X)}")


def _derivative_check(f, X):
    _check_input(X, "derivative")


def _differential_check(f, X, H):
    _check_input(X, "differential")
    sizes, hs = shape(X), shape(H)
    if hs != sizes:
        bad = [a for a in dict.fromkeys(list(sizes) + list(hs))
               if sizes.get(a) != hs.get(a)]
        raise AxisError(f"differential: H must have the axes and sizes of X; "
                        f"axes {bad} differ: X has {fmt(sizes)}, "
                        f"H has {fmt(hs)}")


def _identify_check(df, X):
    _check_input(X, "identify")


def _positional_fn(f, in_order, out_order):
    """f as a function of positional tensors, with both axis orders fixed."""
    def pf(x):
        return positional(f(wrap(x, in_order)), out_order)
    return pf


def _starred_output(Y, sizes):
    out = shape(Y)
    for a in sizes:
        if a + STAR in out:
            raise AxisError(
                f"derivative: f's output has an axis {a + STAR!r}, the "
                f"starred name of the input axis {a!r}[{sizes[a]}]; f's "
                f"output axes are {fmt(out)}")
    return tuple(out)


@checked("X", check=_derivative_check)
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
    in_order = X.names
    out_order = _starred_output(f(X), shape(X))
    pf = _positional_fn(f, in_order, out_order)
    J = torch.func.jacrev(pf)(positional(X, in_order))
    return make(J, out_order + tuple(a + STAR for a in in_order))


def _jvp(pf, x, h):
    with warnings.catch_warnings():
        # torch's first jvp call scripts its decompositions with torch.jit,
        # which torch itself now deprecates; not the caller's concern
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=".*torch.jit.script.*")
        return torch.func.jvp(pf, (x,), (h,))[1]


@checked("X", "H", check=_differential_check)
def differential(f, X, H):
    """∂f(X; H): the part of f(X + H) − f(X) that is linear in H.

    ``H`` has the axes and sizes of ``X``.  Computed in forward mode
    (torch.func.jvp), without forming the derivative; it equals
    ∂f/∂X* ⊙_{S*} H* (see :func:`derivative`).
    """
    in_order = X.names
    out_order = f(X).names
    pf = _positional_fn(f, in_order, out_order)
    h = positional(H, in_order).to(_dtype(X))
    return make(_jvp(pf, positional(X, in_order), h), out_order)


@checked("X", check=_identify_check)
def identify(df, X):
    """Read the derivative off a differential (first identification theorem).

    ``df`` is H ↦ ∂f(X; H), written with named operations so that it lifts
    over axes H has and X lacks.  If it is linear in H, ∂f(X; H) = A ⊙_{S*} H*
    and A = ∂f/∂X*.  Feeding it H = I_{S,S*} (one unit tensor per record of
    S*, as a lifted argument) returns A.
    """
    return df(identity_like(X))


def _same_axes(x, y):
    sx, sy = shape(x), shape(y)
    if sx != sy:
        bad = [a for a in dict.fromkeys(list(sx) + list(sy))
               if sx.get(a) != sy.get(a)]
        raise AxisError(f"max_difference: axes {bad} differ: the first "
                        f"tensor has {fmt(sx)}, the second {fmt(sy)}")


@checked("x", "y", check=_same_axes, compatible=False)
def max_difference(x, y) -> float:
    """max |x − y| over all entries of two named tensors with the same axes."""
    order = x.names
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


@checked(G="has over")
def derivative_of_lift(G, over: Axes):
    """∂f^{S'}(X)/∂X* = g^{S'}(X) ⊙ I_{S',S'*}.

    ``G`` = g^{S'}(X) is the derivative of the unlifted f, lifted over the
    axes ``over`` (= S'); the lifted f's derivative has, in addition, the
    axes S'* and is zero off the diagonal s' = s'*.
    """
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


@checked(V="has val", compatible=False)
def attention_dV(Q, K, V, *, key="key", seq="seq", val="val"):
    """∂Att/∂V* = α_{seq→seq*} ⊙ I_{val,val*}, α = softmax_seq(Q ⊙_key K)."""
    a = _alpha(Q, K, key, seq)
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
