"""Exercises of chapter 5: differentials and derivatives by the rules of §5.

The reader derives each answer with the rules; the reference answers the
checker compares with are computed the other way, positionally with torch's
automatic differentiation (``torch.func.jvp`` and
``torch.autograd.functional.jacobian``).
The tests (tests/test_calculus.py) check each reference against the rules'
formula written by name.
"""

import torch

import ntlib as nt

from . import exercise
from ._positional import extras, named, p


def _jvp(f, x, h):
    """The differential of positional ``f`` at ``x`` in direction ``h``
    (forward mode, as the chapter's ``calc.differential`` uses it)."""
    return torch.func.jvp(f, (x,), (h,))[1]


def _xh(seed, **sizes):
    return dict(X=nt.randn(seed=seed, **sizes),
                H=nt.randn(seed=seed + 100, **sizes))


def _cases_d():
    return [
        ("the prompt's sizes", _xh(1, batch=2, d=3)),
        ("other sizes, other axis order", _xh(2, d=4, batch=5)),
        ("an extra axis 'heads' to lift over", _xh(3, heads=2, batch=3, d=4)),
    ]


def _cases_ax():
    return [
        ("the prompt's sizes", _xh(11, batch=2, ax=3)),
        ("other sizes, other axis order", _xh(12, ax=5, batch=3)),
        ("an extra axis 'heads' to lift over",
         _xh(13, heads=2, ax=4, batch=3)),
    ]


@exercise("5.1", title="the differential of X ⊙ X", cases=_cases_d)
def ex_5_1(X, H):
    """∂(X ⊙ X) = X ⊙ ∂X + ∂X ⊙ X = 2 X ⊙ H (product rule)."""
    E = extras(dict(X=X, H=H), ())
    return named(_jvp(lambda x: x * x, p(X, E), p(H, E)), E)


@exercise("5.2", title="the differential of a squared norm", cases=_cases_d)
def ex_5_2(X, H, *, d="d"):
    """∂(X ⊙_d X) = X ⊙_d ∂X + ∂X ⊙_d X = 2 X ⊙_d H (contraction rule)."""
    E = extras(dict(X=X, H=H), (d,))
    return named(_jvp(lambda x: (x * x).sum(-1), p(X, E, d), p(H, E, d)), E)


@exercise("5.3", title="the derivative of an elementwise function",
          cases=_cases_d)
def ex_5_3(X, H):
    """∂σ(X)/∂X* = σ'(X) ⊙ I_{S,S*}, σ' = σ ⊙ (1 − σ), over all axes S of X.

    (H is not needed: the derivative depends on X alone.)
    """
    E = extras(dict(X=X), ())
    J = torch.autograd.functional.jacobian(torch.sigmoid, p(X, E))
    return named(J, E + [a + "*" for a in E])


@exercise("5.4", title="the differential of log-softmax", cases=_cases_ax)
def ex_5_4(X, H, *, ax="ax"):
    """∂ log softmax_ax X = ∂softmax_ax X / softmax_ax X.

    By the softmax differential this is H − softmax_ax X ⊙_ax H.
    """
    E = extras(dict(X=X, H=H), (ax,))
    return named(_jvp(lambda x: torch.log_softmax(x, -1), p(X, E, ax),
                      p(H, E, ax)), E + [ax])


def _cases_att():
    def case(seed, q_extra, **sizes):
        n, k, v = sizes["seq"], sizes["key"], sizes["val"]
        return dict(Q=nt.randn(seed=seed, key=k, **q_extra),
                    K=nt.randn(seed=seed + 1, seq=n, key=k),
                    V=nt.randn(seed=seed + 2, val=v, seq=n),
                    H=nt.randn(seed=seed + 3, key=k, seq=n))
    return [
        ("the prompt's sizes", case(21, {}, seq=4, key=3, val=2)),
        ("other sizes", case(22, {}, seq=6, key=2, val=3)),
        ("queries along an extra axis 'query' to lift over",
         case(23, {"query": 3}, seq=5, key=3, val=2)),
    ]


@exercise("5.5", title="the differential of attention in its keys",
          cases=_cases_att)
def ex_5_5(Q, K, V, H, *, key="key", seq="seq"):
    """∂Att(Q, K; H) in K: V ⊙_seq (α ⊙ (Q ⊙_key H − α ⊙_seq (Q ⊙_key H)))."""
    E = extras(dict(Q=Q, K=K, V=V, H=H), (key, seq, "val"))
    q = p(Q, E, key).unsqueeze(-1)                       # (..., key, 1)
    v = p(V, E, seq, "val")

    def att(k):                                          # k: (..., seq, key)
        alpha = torch.softmax((k @ q).squeeze(-1), -1)   # (..., seq)
        return (alpha.unsqueeze(-2) @ v).squeeze(-2)     # (..., val)
    k, h = p(K, E, seq, key), p(H, E, seq, key)
    k, h = (t.expand(*q.shape[:-2], *t.shape[-2:]).contiguous() for t in (k, h))
    return named(_jvp(att, k, h), E + ["val"])


@exercise("5.6", title="the softmax differential, in the notation", kind="formula",
          cases=_cases_ax,
          formula=r"(\nfun{\ax}{softmax} X) \odot \left(H - (\nfun{\ax}{softmax} X) "
                  r"\ndot{\ax} H\right)")
def ex_5_6(env):
    # reference by forward-mode autograd on positional data: the directional
    # derivative of torch.softmax along ax at X, in the direction H
    import torch

    X, H = env["X"], env["H"]
    order = tuple(a for a in nt.names(X) if a != "ax") + ("ax",)
    _, tangent = torch.func.jvp(lambda x: torch.softmax(x, dim=-1),
                                (nt.positional(X, order),), (nt.positional(H, order),))
    return nt.tensor(tangent, order)
