"""Exercises of Appendix A.1: pieces of the Transformer."""

import math

import ntlib as nt

from . import exercise


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
    W = nt.models.embed(I, E, vocab=vocab, layer=layer)   # (E ⊙_vocab I) √|layer|
    P = nt.models.positional_encoding(nt.shape(I)[seq], nt.shape(E)[layer],
                               seq=seq, layer=layer)
    return W + P


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
    N = nt.standardize(X, layer) * gamma + beta           # LayerNorm(X)
    return X + nt.models.self_attention(N, WQ, WK, WV, WO, layer=layer)


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
    Q = nt.contract(WQ, nt.rename(X, {seq: query}), over=layer)
    K = nt.contract(WK, X, over=layer)
    M = nt.causal_mask(nt.shape(X)[seq], seq=seq, query=query)
    scores = nt.contract(Q, K, over=key) / math.sqrt(nt.shape(K)[key]) + M
    return nt.mean(nt.softmax(scores, seq), heads)


@exercise("A1.4", title="the shape of the second FFN bias", kind="choice",
          choices={"a": "R^{hidden}", "b": "R^{layer}",
                   "c": "R^{heads x layer}"})
def ex_a1_4():
    # b^{l,2} is added to W^{l,2} ⊙_hidden X^1, which lies in R^{layer}
    return "b"
