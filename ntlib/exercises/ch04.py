"""Exercises of chapter 4: a layer, a mask, a pooling and a normalization."""


import torch
import torch.nn.functional as F

import ntlib as nt

from . import exercise
from ._positional import extras, named, p

_L = "layer'"


def _cases_4_1():
    return [
        ("x[layer=3], W[layer'=2, layer=3]",
         dict(x=nt.randn(seed=1, layer=3),
              W=nt.randn(seed=2, **{_L: 2}, layer=3),
              b=nt.randn(seed=3, **{_L: 2}))),
        ("other sizes, W stored layer-first",
         dict(x=nt.randn(seed=4, layer=4),
              W=nt.randn(seed=5, layer=4, **{_L: 5}),
              b=nt.randn(seed=6, **{_L: 5}))),
        ("an extra axis 'batch' to lift over",
         dict(x=nt.randn(seed=7, layer=3, batch=4),
              W=nt.randn(seed=8, **{_L: 3}, layer=3),
              b=nt.randn(seed=9, **{_L: 3}))),
    ]


@exercise("4.1", title="a fully connected layer with tanh", cases=_cases_4_1)
def ex_4_1(x, W, b, *, layer="layer"):
    # positionally: torch's linear layer, then tanh
    E = extras(dict(x=x, W=W, b=b), (layer, layer + "'"))
    y = torch.tanh(F.linear(p(x, E, layer), p(W, [], layer + "'", layer),
                            p(b, [], layer + "'")))
    return named(y, E + [layer])


def _qkv(seed, n, key=3, val=2, **extra):
    return dict(Q=nt.randn(seed=seed, **extra, **{"seq'": n}, key=key),
                K=nt.randn(seed=seed + 1, seq=n, **extra, key=key),
                V=nt.randn(seed=seed + 2, val=val, seq=n, **extra))


def _cases_4_2():
    return [
        ("n = 5 positions, window w = 2", dict(**_qkv(1, 5), w=2)),
        ("n = 6, w = 3, other sizes", dict(**_qkv(4, 6, key=2, val=3), w=3)),
        ("w = 1: each query sees only its own position",
         dict(**_qkv(7, 4), w=1)),
        ("extra axes 'batch' and 'heads' to lift over",
         dict(**_qkv(10, 5, batch=2, heads=2), w=2)),
    ]


@exercise("4.2", title="attention with a sliding-window mask",
          cases=_cases_4_2)
def ex_4_2(Q, K, V, w, *, seq="seq", query="seq'"):
    # positionally: torch's scaled_dot_product_attention with a Boolean mask
    # (rows are queries j, columns keys i; allowed where j - w < i <= j)
    E = extras(dict(Q=Q, K=K, V=V), (seq, query, "key", "val"))
    q, k = p(Q, E, query, "key"), p(K, E, seq, "key")
    v = p(V, E, seq, "val")
    n = k.shape[-2]
    allowed = torch.tensor([[j - w < i <= j for i in range(n)]
                            for j in range(n)])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    return named(out, E + [query, "val"])


def _cases_4_3():
    return [
        ("X[height=4, width=6], 2 x 3 pools",
         dict(X=nt.randn(seed=1, height=4, width=6), kh=2, kw=3)),
        ("other sizes, width first, 3 x 2 pools",
         dict(X=nt.randn(seed=2, width=4, height=6), kh=3, kw=2)),
        ("extra axes 'batch' and 'chans' to lift over",
         dict(X=nt.randn(seed=3, batch=2, chans=3, height=4, width=4),
              kh=2, kw=2)),
    ]


@exercise("4.3", title="average pooling in two dimensions", cases=_cases_4_3)
def ex_4_3(X, kh, kw, *, height="height", width="width"):
    # positionally: torch's avg_pool2d over the last two dimensions
    E = extras(dict(X=X), (height, width))
    x = p(X, E, height, width)
    y = F.avg_pool2d(x.reshape(-1, 1, *x.shape[-2:]), (kh, kw))
    return named(y.reshape(*x.shape[:-2], *y.shape[-2:]), E + [height, width])


def _cases_4_4():
    return [
        ("X[layer=4], gamma[layer=4]",
         dict(X=nt.randn(seed=1, layer=4), gamma=nt.randn(seed=2, layer=4))),
        ("other sizes, an axis 'seq' first",
         dict(X=nt.randn(seed=3, seq=3, layer=6),
              gamma=nt.randn(seed=4, layer=6))),
        ("extra axes 'batch' and 'seq' to lift over",
         dict(X=nt.randn(seed=5, layer=3, batch=2, seq=4),
              gamma=nt.randn(seed=6, layer=3))),
    ]


@exercise("4.4", title="RMS normalization", cases=_cases_4_4)
def ex_4_4(X, gamma, *, layer="layer", eps=1e-5):
    # positionally: torch's rms_norm over the last dimension
    E = extras(dict(X=X, gamma=gamma), (layer,))
    x = p(X, E, layer)
    return named(F.rms_norm(x, (x.shape[-1],), p(gamma, [], layer), eps=eps),
                 E + [layer])


def _cases_4_5():
    def case(seed, n_in, n_out, batch=None, storage=("out", "layer")):
        g = torch.Generator().manual_seed(seed)
        W = torch.randn(n_out, n_in, generator=g, dtype=torch.float64)
        sizes = {"batch": batch} if batch else {}
        x = nt.randn(seed=seed + 1, **sizes, layer=n_in)
        b = nt.randn(seed=seed + 2, out=n_out)
        Wn = nt.tensor(W, ("out", "layer"))
        if storage != ("out", "layer"):
            Wn = nt.tensor(W.T, ("layer", "out"))
        return {"x": x, "W": Wn, "b": b}
    return [("layer[3] to out[2]", case(40, 3, 2)),
            ("layer[5] to out[4], W stored layer-first", case(41, 5, 4, storage=("layer", "out"))),
            ("a batch of 3 inputs", case(42, 4, 3, batch=3))]


@exercise("4.5", title="a fully connected layer, in the notation", kind="formula",
          cases=_cases_4_5, formula=r"\sigma(W \ndot{\layer} x + b)")
def ex_4_5(env):
    # positional reference: torch.nn.functional.linear computes x W^T + b
    x, W, b = env["x"], env["W"], env["b"]
    extra = [a for a in nt.names(x) if a != "layer"]
    y = F.linear(nt.positional(x, (*extra, "layer")), nt.positional(W, ("out", "layer")),
                 nt.positional(b, "out"))
    return nt.tensor(torch.sigmoid(y), (*extra, "out"))
