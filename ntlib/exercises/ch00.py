"""Exercises of the preface: warm-ups that show how the checker works."""

import torch

import ntlib as nt

from . import exercise
from ._positional import extras, named, p


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
    # positionally: the other axes first, then (height, width); sum dim -2
    E = extras(dict(A=A), (height, "width"))
    return named(p(A, E, height, "width").sum(-2), E + ["width"])


CHOICES_0_2 = {"a": "torch.softmax(At, dim=0)",
               "b": "torch.softmax(At, dim=1)",
               "c": "torch.softmax(At, dim=-1)"}


@exercise("0.2", title="softmax along height, positionally", kind="choice",
          choices=CHOICES_0_2)
def ex_0_2():
    # run each choice on the preface's A; the one that is softmax along height
    A = _a()
    At = nt.positional(A, ("height", "width"))
    want = torch.exp(At) / torch.exp(At).sum(0, keepdim=True)
    right = [k for k, code in CHOICES_0_2.items()
             if torch.allclose(eval(code, {"torch": torch, "At": At}), want)]
    assert len(right) == 1, right
    return right[0]
