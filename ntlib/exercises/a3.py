"""Exercises of Appendix A.3: what a named contraction costs."""

import torch

import ntlib as nt

from . import exercise


def _cases_a3_1():
    return [
        ("X[batch=2, seq=3, layer=4], W[layer=4, hidden=5]",
         dict(X=nt.randn(seed=1, batch=2, seq=3, layer=4),
              W=nt.randn(seed=2, layer=4, hidden=5))),
        ("other sizes and axis orders",
         dict(X=nt.randn(seed=3, layer=3, seq=2, batch=4),
              W=nt.randn(seed=4, hidden=2, layer=3))),
        ("an axis 'heads' on both, to lift over (not to contract)",
         dict(X=nt.randn(seed=5, heads=2, seq=3, layer=2),
              W=nt.randn(seed=6, layer=2, hidden=3, heads=2))),
    ]


@exercise("A3.1", title="a named contraction as one einsum",
          cases=_cases_a3_1)
def ex_a3_1(X, W, *, layer="layer"):
    axes = list(dict.fromkeys(nt.names(X) + nt.names(W)))   # all, once
    letter = {a: chr(ord("a") + k) for k, a in enumerate(axes)}
    keep = [a for a in axes if a != layer]
    spec = ("".join(letter[a] for a in nt.names(X)) + ","
            + "".join(letter[a] for a in nt.names(W)) + "->"
            + "".join(letter[a] for a in keep))
    data = torch.einsum(spec, nt.positional(X, nt.names(X)),
                        nt.positional(W, nt.names(W)))
    return nt.tensor(data, keep)


@exercise("A3.2", title="how nt.contract computes", kind="choice",
          choices={"a": "it forms the broadcast product X * Y, then sums",
                   "b": "it makes one torch call: torch.einsum, or the matrix "
                        "product einsum would make",
                   "c": "it loops over the records of the kept axes"})
def ex_a3_2():
    return "b"


@exercise("A3.3", title="the cost of a contraction", kind="value")
def ex_a3_3():
    # one multiply-add for every record of all the axes involved:
    # |batch| |seq| |layer| |hidden|
    return 32 * 128 * 512 * 2048
