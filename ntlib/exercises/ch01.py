"""Exercises of chapter 1: attention, positionally and by name."""

import math

import ntlib as nt

from . import exercise


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
    scores = nt.contract(Q, K, over=key) / math.sqrt(nt.shape(K)[key])
    return nt.softmax(scores, seq)


@exercise("1.2", title="which softmax is this?", kind="choice",
          choices={"a": "softmax over seq (the keys), for each query",
                   "b": "softmax over seq' (the queries), for each key",
                   "c": "softmax over all entries of the score matrix"})
def ex_1_2():
    # scores has rows = queries (seq'), columns = keys (seq); dim=0 runs
    # down the rows, i.e. along the queries
    return "b"


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
    scores = nt.contract(Q, K, over=key) / math.sqrt(nt.shape(K)[key])
    # one softmax over all pixels: flatten the two axes into one, and back
    s = nt.flatten(scores, (height, width), "pixel")
    alpha = nt.unflatten(nt.softmax(s, "pixel"),
                         "pixel", {height: nt.shape(K)[height],
                                   width: nt.shape(K)[width]})
    return nt.contract(alpha, V, over=(height, width))
