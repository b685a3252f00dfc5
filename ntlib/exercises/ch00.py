"""Exercises of the preface: warm-ups that show how the checker works."""

import torch

import ntlib as nt

from . import exercise


def _a(order=("height", "width")):
    A = nt.tensor([[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"),
                  dtype=torch.float64)
    return nt.tensor(nt.positional(A, order), order)


def _cases_0_1():
    return [
        ("the preface's A", dict(A=_a())),
        ("A stored width-first", dict(A=_a(("width", "height")))),
        ("other sizes: height[2], width[5]",
         dict(A=nt.randn(seed=1, width=5, height=2))),
        ("an extra axis 'batch' to lift over",
         dict(A=nt.randn(seed=2, batch=3, height=4, width=2))),
    ]


@exercise("0.1", title="column sums", cases=_cases_0_1)
def ex_0_1(A, *, height="height"):
    return nt.sum(A, height)


@exercise("0.2", title="softmax along height, positionally", kind="choice",
          choices={"a": "torch.softmax(At, dim=0)",
                   "b": "torch.softmax(At, dim=1)",
                   "c": "torch.softmax(At, dim=-1)"})
def ex_0_2():
    # At = nt.positional(A, ("height", "width")): dimension 0 is height
    return "a"
