"""Exercises of Appendix A.1: pieces of the Transformer."""

import math

import torch
import torch.nn.functional as F

import ntlib as nt

from . import exercise
from ._positional import extras, named, p


def _pe(n, d):
    """The positional encoding, entry by entry from the 1-based formula."""
    P = torch.zeros(n, d, dtype=torch.float64)
    for pos in range(1, n + 1):
        for i in range(1, d + 1):
            P[pos - 1, i - 1] = (math.sin((pos - 1) / 10000 ** ((i - 1) / d)) if i % 2
                                 else math.cos((pos - 1) / 10000 ** ((i - 2) / d)))
    return P


def _heads(x, W, out):
    """x (..., seq, layer) and W[heads, layer, out] -> (..., heads, seq, out)."""
    return torch.einsum("...sl,hlk->...hsk", x, p(W, [], "heads", "layer", out))


def _cases_a1_1():
    return [
        ("I[seq=4] over a vocab of 5, |layer| = 4",
         dict(I=nt.tensor([3, 0, 4, 4], "seq"),
              E=nt.randn(seed=1, vocab=5, layer=4))),
        ("other sizes, E stored layer-first, odd |layer| = 5",
         dict(I=nt.randint(0, 7, seed=2, seq=6),
              E=nt.randn(seed=3, layer=5, vocab=7))),
        ("an extra axis 'batch' to lift over",
         dict(I=nt.randint(0, 5, seed=4, seq=3, batch=2),
              E=nt.randn(seed=5, vocab=5, layer=6))),
    ]


@exercise("A1.1", title="the input layer", cases=_cases_a1_1)
def ex_a1_1(I, E, *, seq="seq", vocab="vocab", layer="layer"):
    # positionally: torch's embedding lookup, scaled, plus the encoding
    X = extras(dict(I=I), (seq,))
    ids = nt.positional(I, tuple(X) + (seq,))
    emb = p(E, [], vocab, layer)
    d = emb.shape[-1]
    return named(F.embedding(ids, emb) * math.sqrt(d) + _pe(ids.shape[-1], d),
                 X + [seq, layer])


def _weights(seed, layer, heads, key):
    return dict(WQ=nt.randn(seed=seed, heads=heads, layer=layer, key=key),
                WK=nt.randn(seed=seed + 1, layer=layer, heads=heads, key=key),
                WV=nt.randn(seed=seed + 2, heads=heads, val=key, layer=layer),
                WO=nt.randn(seed=seed + 3, heads=heads, val=key, layer=layer))


def _cases_a1_2():
    return [
        ("X[seq=3, layer=4], 2 heads",
         dict(X=nt.randn(seed=1, seq=3, layer=4), **_weights(2, 4, 2, 2),
              gamma=nt.randn(seed=6, layer=4),
              beta=nt.randn(seed=7, layer=4))),
        ("other sizes, layer first, 3 heads",
         dict(X=nt.randn(seed=8, layer=6, seq=5), **_weights(9, 6, 3, 2),
              gamma=nt.randn(seed=13, layer=6),
              beta=nt.randn(seed=14, layer=6))),
        ("an extra axis 'batch' to lift over",
         dict(X=nt.randn(seed=15, batch=2, seq=4, layer=4),
              **_weights(16, 4, 2, 2),
              gamma=nt.randn(seed=20, layer=4),
              beta=nt.randn(seed=21, layer=4))),
    ]


@exercise("A1.2", title="a pre-norm attention sublayer", cases=_cases_a1_2)
def ex_a1_2(X, WQ, WK, WV, WO, gamma, beta, *, layer="layer"):
    # positionally: torch's layer_norm and scaled_dot_product_attention
    E = extras(dict(X=X), ("seq", layer))
    x = p(X, E, "seq", layer)
    nx = F.layer_norm(x, (x.shape[-1],), p(gamma, [], layer), p(beta, [], layer),
                      eps=1e-5)
    att = F.scaled_dot_product_attention(_heads(nx, WQ, "key"), _heads(nx, WK, "key"),
                                         _heads(nx, WV, "val"))
    y = torch.einsum("...hsv,hvl->...sl", att, p(WO, [], "heads", "val", layer))
    return named(x + y, E + ["seq", layer])


def _qk(*args):
    w = _weights(*args)
    return dict(WQ=w["WQ"], WK=w["WK"])


def _cases_a1_3():
    return [
        ("X[seq=3, layer=4], 2 heads",
         dict(X=nt.randn(seed=1, seq=3, layer=4), **_qk(2, 4, 2, 2))),
        ("other sizes, layer first, 3 heads",
         dict(X=nt.randn(seed=8, layer=6, seq=5), **_qk(9, 6, 3, 2))),
        ("an extra axis 'batch' to lift over",
         dict(X=nt.randn(seed=15, batch=2, seq=4, layer=4),
              **_qk(16, 4, 2, 2))),
    ]


@exercise("A1.3", title="a causal attention map, averaged over heads",
          cases=_cases_a1_3)
def ex_a1_3(X, WQ, WK, *, seq="seq", query="seq'", layer="layer",
            heads="heads", key="key"):
    # positionally: rows are queries, columns keys; a lower-triangular mask
    E = extras(dict(X=X), (seq, layer))
    x = p(X, E, seq, layer)
    q, k = _heads(x, WQ, key), _heads(x, WK, key)        # (..., heads, seq, key)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (..., heads, seq', seq)
    n = s.shape[-1]
    s = s.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), -math.inf)
    return named(torch.softmax(s, -1).mean(-3), E + [query, seq])


@exercise("A1.4", title="the shape of the second FFN bias", kind="choice",
          choices={"a": "R^{hidden}", "b": "R^{layer}",
                   "c": "R^{heads x layer}"})
def ex_a1_4():
    # b^{l,2} is added to W^{l,2} ⊙_hidden X^1: compute that product for one
    # position and read off its axes
    W2 = nt.randn(seed=0, hidden=5, layer=3)
    X1 = nt.randn(seed=1, hidden=5)
    axes = nt.names(nt.contract(W2, X1, over="hidden"))
    return {("hidden",): "a", ("layer",): "b", ("heads", "layer"): "c"}[axes]
