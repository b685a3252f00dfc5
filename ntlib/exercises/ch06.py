"""Exercises of chapter 6: translating other notations into named tensors."""

import math

import torch

import ntlib as nt

from . import exercise
from ._positional import extras, named, p


def _t(seed, **sizes):
    return nt.randn(seed=seed, dtype=torch.float64, **sizes)


# --------------------------------------------------------------------------
# 6.1  an einsum string

def _cases_6_1():
    return [("the prompt's sizes",
             dict(X=_t(1, batch=2, seq=3, layer=4),
                  W=_t(2, heads=2, layer=4, key=3))),
            ("other sizes, other axis order",
             dict(X=_t(3, layer=5, batch=3, seq=2),
                  W=_t(4, key=2, heads=3, layer=5))),
            ("an extra axis 'chans' to lift over",
             dict(X=_t(5, chans=2, batch=2, seq=3, layer=4),
                  W=_t(6, heads=2, layer=4, key=3)))]


@exercise("6.1", title="An einsum string as a named contraction",
          cases=_cases_6_1)
def ex_6_1(X, W, *, layer="layer"):
    # positionally: every other axis broadcast in front, layer last, summed
    E = extras(dict(X=X, W=W), (layer,))
    return named(torch.einsum("...l,...l->...", p(X, E, layer), p(W, E, layer)), E)


# --------------------------------------------------------------------------
# 6.2  a SQL query with a column alias

def _cases_6_2():
    return [("the prompt's sizes",
             dict(X=_t(11, batch=2, layer=3), W=_t(12, out=4, layer=3))),
            ("other sizes, other axis order",
             dict(X=_t(13, layer=5, batch=3), W=_t(14, layer=5, out=2))),
            ("an extra axis 'seq' to lift over",
             dict(X=_t(15, seq=3, batch=2, layer=3),
                  W=_t(16, out=4, layer=3)))]


@exercise("6.2", title="A SQL query as a named contraction", cases=_cases_6_2)
def ex_6_2(X, W, *, layer="layer", out="out"):
    # positionally: W (out, layer) times the column x (layer, 1)
    E = extras(dict(X=X, W=W), (layer, out))
    y = p(W, E, out, layer) @ p(X, E, layer).unsqueeze(-1)
    return named(y.squeeze(-1), E + [layer])


# --------------------------------------------------------------------------
# 6.3  index notation for masked attention weights

def _mask(n, seed):
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(n, n, generator=g) < 0.6
    keep |= torch.eye(n, dtype=torch.bool)    # every query sees a key
    data = torch.zeros(n, n, dtype=torch.float64).masked_fill(~keep, -math.inf)
    return nt.tensor(data, ("seq", "seq'"))


def _cases_6_3():
    return [("the prompt's sizes",
             dict(Q=_t(21, heads=2, **{"seq'": 4}, key=3),
                  K=_t(22, heads=2, seq=4, key=3), M=_mask(4, 23))),
            ("other sizes, other axis order",
             dict(Q=_t(24, key=2, **{"seq'": 5}, heads=3),
                  K=_t(25, key=2, heads=3, seq=5), M=_mask(5, 26))),
            ("an extra axis 'batch' to lift over",
             dict(Q=_t(27, batch=2, heads=2, **{"seq'": 3}, key=3),
                  K=_t(28, heads=2, batch=2, seq=3, key=3), M=_mask(3, 29)))]


@exercise("6.3", title="Masked attention weights from index notation",
          cases=_cases_6_3)
def ex_6_3(Q, K, M, *, seq="seq", key="key"):
    # positionally: rows are queries (seq'), columns keys (seq)
    E = extras(dict(Q=Q, K=K, M=M), (seq, "seq'", key))
    q, k = p(Q, E, "seq'", key), p(K, E, seq, key)
    s = q @ k.transpose(-1, -2) / math.sqrt(k.shape[-1]) + p(M, E, "seq'", seq)
    return named(torch.softmax(s, -1), E + ["seq'", seq])


# --------------------------------------------------------------------------
# 6.4  which of these raises AxisError?

CHOICES_6_4 = {
    "a": 'nt.softmax(nt.contract(Q, K, over="key"), "seq\'")',
    "b": 'nt.contract(Q, nt.rename(K, {"seq": "seq\'"}), over="key")',
    "c": 'nt.rename(Q, {"key": "seq\'"})',
    "d": "Q + K",
}


@exercise("6.4", title="Which mistake is caught?", kind="choice",
          choices=CHOICES_6_4)
def ex_6_4():
    # run each choice on Q[batch, seq', key] and K[batch, seq, key]
    Q = _t(31, batch=2, **{"seq'": 3}, key=4)
    K = _t(32, batch=2, seq=3, key=4)
    raised = []
    for key, code in CHOICES_6_4.items():
        try:
            eval(code, {"nt": nt, "Q": Q, "K": K})
        except nt.AxisError:
            raised.append(key)
    assert len(raised) == 1, raised
    return raised[0]
