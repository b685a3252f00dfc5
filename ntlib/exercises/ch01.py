"""Exercises of chapter 1: attention, positionally and by name."""

import math

import torch

import ntlib as nt

from . import exercise
from ._positional import extras, named, p


def _cases_1_1():
    q = {"seq'": 3}
    return [
        ("one query: Q[key=3], K[seq=4, key=3]",
         dict(Q=nt.randn(seed=1, key=3), K=nt.randn(seed=2, seq=4, key=3))),
        ("many queries, other sizes and axis orders",
         dict(Q=nt.randn(seed=3, key=5, **q),
              K=nt.randn(seed=4, key=5, seq=6))),
        ("an extra axis 'heads' to lift over",
         dict(Q=nt.randn(seed=5, heads=2, **q, key=2),
              K=nt.randn(seed=6, seq=4, heads=2, key=2))),
    ]


@exercise("1.1", title="the attention weights", cases=_cases_1_1)
def ex_1_1(Q, K, *, seq="seq", key="key"):
    # positionally: q (..., seq', key) @ k (..., seq, key)^T, softmax on the last
    E = extras(dict(Q=Q, K=K), (seq, "seq'", key))
    many = "seq'" in nt.names(Q)
    q = p(Q, E, "seq'", key) if many else p(Q, E, key).unsqueeze(-2)
    k = p(K, E, seq, key)
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(k.shape[-1]), dim=-1)
    return named(w, E + ["seq'", seq]) if many else named(w.squeeze(-2), E + [seq])


@exercise("1.2", title="which softmax is this?", kind="choice",
          choices={"a": "softmax over seq (the keys), for each query",
                   "b": "softmax over seq' (the queries), for each key",
                   "c": "softmax over all entries of the score matrix"})
def ex_1_2():
    # a score matrix: rows are queries (seq'), columns keys (seq); run
    # torch.softmax(scores, dim=0) and see which named softmax it equals
    scores = nt.randn(seed=0, **{"seq'": 3}, seq=4)
    S = nt.positional(scores, ("seq'", "seq"))
    got = torch.softmax(S, dim=0)
    readings = {"a": nt.softmax(scores, "seq"), "b": nt.softmax(scores, "seq'"),
                "c": nt.tensor(torch.softmax(S.flatten(), 0).reshape(S.shape),
                               ("seq'", "seq"))}
    right = [k for k, v in readings.items()
             if torch.allclose(nt.positional(v, ("seq'", "seq")), got)]
    assert len(right) == 1, right
    return right[0]


def _cases_1_3():
    return [
        ("Q[key=3], an image of height[2] x width[3]",
         dict(Q=nt.randn(seed=1, key=3),
              K=nt.randn(seed=2, height=2, width=3, key=3),
              V=nt.randn(seed=3, height=2, width=3, val=2))),
        ("other sizes and axis orders",
         dict(Q=nt.randn(seed=4, key=4),
              K=nt.randn(seed=5, key=4, width=2, height=4),
              V=nt.randn(seed=6, val=3, width=2, height=4))),
        ("an extra axis 'batch' to lift over",
         dict(Q=nt.randn(seed=7, batch=2, key=2),
              K=nt.randn(seed=8, batch=2, height=3, width=3, key=2),
              V=nt.randn(seed=9, height=3, batch=2, width=3, val=2))),
    ]


@exercise("1.3", title="attention over an image", cases=_cases_1_3)
def ex_1_3(Q, K, V, *, height="height", width="width", key="key"):
    # positionally: the pixels flattened into one dimension of length h*w
    E = extras(dict(Q=Q, K=K, V=V), (height, width, key, "val"))
    k = p(K, E, height, width, key).flatten(-3, -2)
    v = p(V, E, height, width, "val").flatten(-3, -2)
    q = p(Q, E, key)
    s = (k @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(k.shape[-1])
    a = torch.softmax(s, -1)
    return named((a.unsqueeze(-2) @ v).squeeze(-2), E + ["val"])
