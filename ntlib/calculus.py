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

import functools
import re
import warnings
from typing import TYPE_CHECKING, Callable, Mapping

import torch

from ._internal import (AxisError, Axes, Axis, axis_size, checked, device, fmt, make,
                        same_device, wrap)
from .core import Named, contract, norm, positional, rename, shape, softmax
from .core import dtype

__all__ = [
    "STAR", "star", "identity", "identity_like", "derivative", "differential",
    "identify", "max_difference", "softmax_differential",
    "softmax_derivative", "derivative_of_lift", "attention_unscaled",
    "attention_dV", "attention_dQ", "attention_dK",
    "partial_derivatives", "tensor_norm", "remainder", "remainder_ratio",
    "evaluate_formula", "paren_repairs",
]


def __dir__() -> list[str]:
    """dir() of the namespace: its own functions, not the names it imports."""
    return sorted(__all__)

STAR = "*"


# --------------------------------------------------------------------------
# the starred axes and the identity tensor

@checked(x="has axes")
def star(x: Named, axes: Axes | None = None) -> Named:
    """X*: the axes of x given by axes (default: all of them) renamed a → a*.

    The starred name is the name followed by ``*``.

    Example:

    >>> nt.shape(nt.calculus.star(nt.tensor([[1., 2]], ("a", "b")), "b"))
    {'a': 1, 'b*': 2}
    """
    if TYPE_CHECKING:  # None reaches the body as all of x's axes (@checked)
        assert axes is not None
    return rename(x, {a: a + STAR for a in axes})


def _different(ax, new, size, dtype):
    axis_size(size, "identity", ax)
    if ax == new:
        raise AxisError(f"identity: the two axes must have different names; "
                        f"got {ax!r} twice (size {size})")


@checked(check=_different)
def identity(ax: Axis, new: Axis, size: int, *,
             dtype: torch.dtype = torch.float64) -> Named:
    """I_{ax,new} ∈ R^{ax[size] × new[size]}: 1 where the indices agree, else 0
    (the identity tensor).

    Contracting with it renames: I_{ax,new} ⊙_ax A = A_{ax→new}.

    Example:

    >>> nt.show(nt.calculus.identity("a", "a*", 2))
    a[2] × a*[2]   (rows: a, columns: a*)
    [[1. 0.]
     [0. 1.]]
    """
    return make(torch.eye(int(size), dtype=dtype, device=device()), (ax, new))


@checked(x="has axes")
def identity_like(x: Named, axes: Axes | None = None) -> Named:
    """I_{S,S*}: the product of I_{a,a*} over the axes a of x.

    axes defaults to all of them.

    Its axes are S and S*; x's sizes and dtype are used.
    """
    if TYPE_CHECKING:  # None reaches the body as all of x's axes (@checked)
        assert axes is not None
    sizes = shape(x)
    eyes = [identity(a, a + STAR, sizes[a], dtype=dtype(x)) for a in axes]
    return functools.reduce(contract, eyes)


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
    if not dtype(X).is_floating_point:
        raise TypeError(f"{what}: the input must be real-valued, "
                        f"got {dtype(X)}")


def _derivative_check(f, X):
    _check_input(X, "derivative")


def _same_shape(what, xname, X, hname, H):
    sizes, hs = shape(X), shape(H)
    if hs != sizes:
        bad = [a for a in dict.fromkeys(list(sizes) + list(hs))
               if sizes.get(a) != hs.get(a)]
        raise AxisError(f"{what}: {hname} must have the axes and sizes of {xname}; "
                        f"axes {bad} differ: {xname} has {fmt(sizes)}, "
                        f"{hname} has {fmt(hs)}")


def _differential_check(f, X, H):
    _check_input(X, "differential")
    _same_shape("differential", "X", X, "H", H)


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
def derivative(f: Callable[[Named], Named], X: Named) -> Named:
    """∂f/∂X*, evaluated at X: axes of f(X) plus the starred axes of X.

    ``f`` maps a named tensor to a named tensor.  Entry (t, s*) is the
    partial derivative of f(X)_t with respect to X_s.  Computed in reverse
    mode (torch.func.jacrev) on a positional wrapper of ``f``: X's axes are
    put in a fixed order, f is called on the named tensor rebuilt from it,
    and f's output is read in a fixed order.  A lifted f, whose output
    shares axis names with X, is fine: output axis ``a`` and input axis
    ``a*`` are different axes.

    Example:

    >>> x = nt.tensor([1., 2, 3], "a")
    >>> nt.show(nt.calculus.derivative(lambda t: t * t, x), ("a", "a*"))
    a[3] × a*[3]   (rows: a, columns: a*)
    [[2. 0. 0.]
     [0. 4. 0.]
     [0. 0. 6.]]
    """
    in_order = X.names
    out_order = _starred_output(f(X), shape(X))
    pf = _positional_fn(f, in_order, out_order)
    J = torch.func.jacrev(pf)(positional(X, in_order))
    return make(J, out_order + tuple(a + STAR for a in in_order))


def _jvp(pf, x, h):
    """The tangent of torch.func.jvp, without torch's own warning: its first
    call scripts torch's decompositions with torch.jit, which torch deprecates
    (a DeprecationWarning in torch 2.13, a FutureWarning from 2.14 on); not
    the caller's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*")
        return torch.func.jvp(pf, (x,), (h,))[1]


@checked("X", "H", check=_differential_check)
def differential(f: Callable[[Named], Named], X: Named, H: Named) -> Named:
    """∂f(X; H): the part of f(X + H) − f(X) that is linear in H.

    ``H`` has the axes and sizes of ``X``.  Computed in forward mode
    (torch.func.jvp), without forming the derivative; it equals
    ∂f/∂X* ⊙_{S*} H* (see :func:`derivative`).

    Example:

    >>> x = nt.tensor([1., 2, 3], "a")
    >>> H = nt.tensor([1., 0, -1], "a")
    >>> nt.show(nt.calculus.differential(lambda t: t * t, x, H))    # 2 x H
    a[3]
    [ 2.  0. -6.]
    """
    in_order = X.names
    out_order = f(X).names
    pf = _positional_fn(f, in_order, out_order)
    h = positional(H, in_order).to(dtype(X))
    return make(_jvp(pf, positional(X, in_order), h), out_order)


@checked("X", check=_identify_check)
def identify(df: Callable[[Named], Named], X: Named) -> Named:
    """Read the derivative off a differential (first identification theorem).

    ``df`` is H ↦ ∂f(X; H), written with named operations so that it lifts
    over axes H has and X lacks.  If it is linear in H, ∂f(X; H) = A ⊙_{S*} H*
    and A = ∂f/∂X*.  Feeding it H = I_{S,S*} (one unit tensor per record of
    S*, as a lifted argument) returns A.

    Example:

    >>> x = nt.tensor([1., 2, 3], "a")
    >>> df = lambda H: x * H             # the differential of x ↦ x²/2 at x
    >>> nt.show(nt.calculus.identify(df, x), ("a", "a*"))
    a[3] × a*[3]   (rows: a, columns: a*)
    [[1. 0. 0.]
     [0. 2. 0.]
     [0. 0. 3.]]
    """
    return df(identity_like(X))


def _same_axes(x, y):
    same_device((x, y), "max_difference")
    sx, sy = shape(x), shape(y)
    if sx != sy:
        bad = [a for a in dict.fromkeys(list(sx) + list(sy))
               if sx.get(a) != sy.get(a)]
        raise AxisError(f"max_difference: axes {bad} differ: the first "
                        f"tensor has {fmt(sx)}, the second {fmt(sy)}")


@checked("x", "y", check=_same_axes, compatible=False, values=True)
def max_difference(x: Named, y: Named) -> float:
    """max |x − y| over all entries of two named tensors with the same axes.

    Example:

    >>> x, y = nt.tensor([1., 2], "a"), nt.tensor([1.5, 2], "a")
    >>> nt.calculus.max_difference(x, y)
    0.5
    """
    order = x.names
    d = positional(x, order) - positional(y, order)
    return float(d.detach().abs().max()) if d.numel() else 0.0


# --------------------------------------------------------------------------
# the worked results of section 5, as named formulas

def softmax_differential(X: Named, dX: Named, ax: Axis) -> Named:
    """∂softmax_ax X = softmax_ax X ⊙ (∂X − softmax_ax X ⊙_ax ∂X)."""
    s = softmax(X, ax)
    return s * (dX - contract(s, dX, over=ax))


def softmax_derivative(X: Named, ax: Axis) -> Named:
    """∂/∂X* softmax_ax X = softmax_ax X ⊙ (I_{ax,ax*} − (softmax_ax X)*).

    Only ``ax`` is starred.  For X ∈ R^{ax} this is the whole derivative;
    for X with more axes S' it is the lift g^{S'} of that derivative, and
    the derivative of the lifted softmax is ``derivative_of_lift`` of it.

    Example:

    >>> X = nt.randn(seed=0, a=3)
    >>> J = nt.calculus.derivative(lambda t: nt.softmax(t, "a"), X)
    >>> S = nt.calculus.softmax_derivative(X, "a")    # the closed form
    >>> nt.calculus.max_difference(S, J) < 1e-12
    True
    """
    s = softmax(X, ax)
    eye = identity(ax, ax + STAR, shape(s)[ax], dtype=dtype(s))
    return s * (eye - star(s, ax))


@checked(G="has over")
def derivative_of_lift(G: Named, over: Axes) -> Named:
    """``∂f^{S'}(X)/∂X* = g^{S'}(X) ⊙ I_{S',S'*}``.

    ``G`` = g^{S'}(X) is the derivative of the unlifted f, lifted over the
    axes ``over`` (= S'); the lifted f's derivative has, in addition, the
    axes ``S'*`` and is zero off the diagonal ``s' = s'*``.
    """
    if not over:
        return G
    return contract(G, identity_like(G, over))


def attention_unscaled(Q: Named, K: Named, V: Named, *, key: Axis = "key",
                       seq: Axis = "seq") -> Named:
    """Att(Q, K, V) = softmax_seq(Q ⊙_key K) ⊙_seq V.

    Without the factor 1/sqrt|key|, as in §5 of the paper.
    """
    return contract(softmax(contract(Q, K, over=key), seq), V, over=seq)


def _alpha(Q, K, key, seq):
    return softmax(contract(Q, K, over=key), seq)


@checked(V="has val", compatible=False)
def attention_dV(Q: Named, K: Named, V: Named, *, key: Axis = "key", seq: Axis = "seq",
                 val: Axis = "val") -> Named:
    """∂Att/∂V* = α_{seq→seq*} ⊙ I_{val,val*}, α = softmax_seq(Q ⊙_key K)."""
    a = _alpha(Q, K, key, seq)
    eye = identity(val, val + STAR, shape(V)[val], dtype=dtype(V))
    return contract(star(a, seq), eye)


def attention_dQ(Q: Named, K: Named, V: Named, *, key: Axis = "key",
                 seq: Axis = "seq") -> Named:
    """∂Att/∂Q* = V ⊙_seq (α ⊙ (K_{key→key*} − α ⊙_seq K_{key→key*}))."""
    a = _alpha(Q, K, key, seq)
    Ks = star(K, key)
    return contract(V, a * (Ks - contract(a, Ks, over=seq)), over=seq)


def attention_dK(Q: Named, K: Named, V: Named, *, key: Axis = "key",
                 seq: Axis = "seq") -> Named:
    """∂Att/∂K* = V ⊙_seq (α ⊙ (QI − α ⊙_seq QI)), QI = Q* ⊙ I_{seq,seq*}.

    Here Q* is Q_{key→key*}.  The paper prints this formula with unbalanced
    parentheses; the grouping here is the one that matches autograd.
    """
    a = _alpha(Q, K, key, seq)
    eye = identity(seq, seq + STAR, shape(K)[seq], dtype=dtype(K))
    QI = contract(star(Q, key), eye)                  # Q* ⊙ I_{seq,seq*}
    return contract(V, a * (QI - contract(a, QI, over=seq)), over=seq)


# --------------------------------------------------------------------------
# the definitions, executed literally (section 5.1 and Appendix B)

def _partial_check(f, X, step):
    _check_input(X, "partial_derivatives")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
        raise ValueError(f"partial_derivatives: step must be a positive number, "
                         f"got {step!r}")


@checked("X", check=_partial_check)
def partial_derivatives(f: Callable[[Named], Named], X: Named, *,
                        step: float = 1e-5) -> Named:
    """∂f(X)/∂X* from its definition (§5.1): entry (s*, t) is ∂f(X)_t/∂X_s.

    Each partial derivative is a central difference
    (f(X + h e_s) − f(X − h e_s)) / 2h, with e_s the unit tensor at the
    record s of X and h = ``step``: no automatic differentiation.  In float64
    with the default step the error is about 1e-10 for smooth f of size ~1.

    Example:

    >>> X = nt.randn(seed=0, a=3)
    >>> f = lambda t: nt.softmax(t, "a")
    >>> P = nt.calculus.partial_derivatives(f, X)       # central differences
    >>> nt.calculus.max_difference(P, nt.calculus.derivative(f, X)) < 1e-9
    True
    """
    order = X.names
    x = positional(X, order)
    out_order = tuple(shape(f(X)))
    columns = []
    for k in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
        e[k] = step
        e = e.reshape(x.shape)
        up = positional(f(make(x + e, order)), out_order)
        down = positional(f(make(x - e, order)), out_order)
        columns.append((up - down) / (2 * step))
    J = torch.stack(columns, -1).reshape(*columns[0].shape, *x.shape)
    return make(J, out_order + tuple(a + STAR for a in order))


@checked("X")
def tensor_norm(X: Named) -> Named:
    """‖X‖ = norm_S X: the 2-norm over all axes S of X (Appendix B).

    Example:

    >>> X = nt.tensor([[3., 0], [0, 4]], ("a", "b"))
    >>> nt.show(nt.calculus.tensor_norm(X))
    scalar: 5.
    """
    return norm(X, X.names)


def _remainder_check(f, A, D, H):
    _same_shape("remainder", "A", A, "H", H)


@checked("A", "D", "H", check=_remainder_check)
def remainder(f: Callable[[Named], Named], A: Named, D: Named, H: Named) -> Named:
    """R(A, H) = f(A + H) − f(A) − D ⊙_{S*} H_{S→S*} (Appendix B).

    ``D`` is a candidate derivative at A, with the axes of f(A) and starred
    axes; the contraction is over the starred names of all the axes S of A.
    f is differentiable at A, with derivative D, when ‖R(A, H)‖ / ‖H‖ → 0
    as H → 0.
    """
    S_star = tuple(a + STAR for a in A.names)
    return f(A + H) - f(A) - contract(D, star(H), over=S_star)


@checked("A", "D", "H", check=_remainder_check, values=True)
def remainder_ratio(f: Callable[[Named], Named], A: Named, D: Named,
                    H: Named) -> float:
    """‖R(A, H)‖ / ‖H‖, the quantity whose limit (H → 0) Appendix B's
    definition of differentiability requires to be 0.

    Example:

    >>> x, H = nt.tensor([1., 2, 3], "a"), nt.tensor([1e-3, 0, -1e-3], "a")
    >>> f = lambda t: t * t
    >>> D = nt.calculus.derivative(f, x)
    >>> f"{nt.calculus.remainder_ratio(f, x, D, H):.1e}"   # ‖H ⊙ H‖ / ‖H‖
    '1.0e-03'
    """
    return float(tensor_norm(remainder(f, A, D, H))) / float(tensor_norm(H))


# --------------------------------------------------------------------------
# reading a printed formula: products before differences, parentheses as
# printed (used to test every reading of a misprinted formula)

_TOKEN = re.compile(r"\s*(⊙_\{[^}]*\}|⊙_[^\s()]+|⊙|[()]|[−-]|[^\s()⊙−-]+)")


def _tokens(text):
    text = text.strip()
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or not m.group(1):
            raise ValueError(f"evaluate_formula: cannot read {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _parse(tokens, env):
    """Recursive descent: expr = term (− term)*; term = atom (⊙ atom)*;
    atom = NAME | ( expr ).  With ``env`` None only the syntax is checked."""
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom():
        t = peek()
        if t == "(":
            take()
            v = expr()
            if take_if(")"):
                return v
            raise SyntaxError("unclosed (")
        if t is None or t in (")", "−", "-") or t.startswith("⊙"):
            raise SyntaxError(f"expected a name, got {t!r}")
        take()
        return None if env is None else env[t]

    def take_if(t):
        if peek() == t:
            take()
            return True
        return False

    def term():
        v = atom()
        while peek() is not None and peek().startswith("⊙"):
            op = take()
            w = atom()
            if env is not None:
                over = op[2:].strip("{}").replace(" ", "")
                v = contract(v, w, over=tuple(a for a in over.split(",") if a))
        return v

    def expr():
        v = term()
        while peek() in ("−", "-"):
            take()
            w = term()
            if env is not None:
                v = v - w
        return v

    v = expr()
    if pos != len(tokens):
        raise SyntaxError(f"unexpected {tokens[pos]!r}")
    return v


def _text_check(text, env=None):
    if not isinstance(text, str):
        raise TypeError(f"a formula must be given as a str, got "
                        f"{type(text).__name__}")


@checked(check=_text_check)
def evaluate_formula(text: str, env: Mapping[str, Named]) -> Named:
    """The value of a formula written with named tensors from ``env``.

    Syntax: names (keys of ``env``, e.g. ``α``, ``Q*``), ``⊙`` (elementwise
    product), ``⊙_seq`` or ``⊙_{seq,key}`` (contraction over those axes),
    ``−`` (difference) and parentheses.  Products bind tighter than
    differences; both group from the left.  Raises SyntaxError if the
    parentheses or operators do not make a formula.

    Example:

    >>> A, B = nt.tensor([[1., 2]], ("a", "b")), nt.tensor([3., 4], "b")
    >>> env = {"A": A, "B": B}
    >>> nt.show(nt.calculus.evaluate_formula("A ⊙_b B", env))
    a[1]
    [11.]
    """
    return _parse(_tokens(text), env)


@checked(check=_text_check)
def paren_repairs(text: str) -> list[str]:
    """Every well-formed formula one parenthesis away from ``text``.

    The candidates are ``text`` with one parenthesis deleted, or with one
    ``(`` or ``)`` inserted between two tokens; those that parse are kept
    (for a print with one ``)`` too many, only deleting a ``)`` or inserting
    a ``(`` can succeed).  The results are token strings joined by single
    spaces, without repeats, deletions first.

    Example:

    >>> nt.calculus.paren_repairs("(A − B ⊙ C")
    ['A − B ⊙ C', '( A ) − B ⊙ C', '( A − B ) ⊙ C', '( A − B ⊙ C )']
    """
    toks = _tokens(text)
    candidates = [toks[:k] + toks[k + 1:] for k, t in enumerate(toks)
                  if t in "()"]
    candidates += [toks[:k] + [p] + toks[k:]
                   for p in "()" for k in range(len(toks) + 1)]
    found = []
    for c in candidates:
        try:
            _parse(c, None)
        except SyntaxError:
            continue
        s = " ".join(c)
        if s not in found:
            found.append(s)
    return found
