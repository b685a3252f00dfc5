"""Exercises of chapter 2: named indices, shapes and records."""

import torch

import ntlib as nt

from . import exercise


@exercise("2.1", title="the paper's indices in code", kind="value")
def ex_2_1():
    # the 1-based A_{height(2), width(3)} of the running example is 9: find
    # the (unique) 0-based record of the 9 by searching the positional data
    A = torch.tensor([[3, 1, 4], [1, 5, 9], [2, 6, 5]])
    (h, w), = (A == 9).nonzero().tolist()
    return {"height": h, "width": w}


def _cases_2_2():
    return [
        ("compatible shapes sharing width",
         dict(S={"height": 3, "width": 3}, T={"width": 3, "chans": 2})),
        ("orthogonal shapes", dict(S={"batch": 2}, T={"seq": 5, "key": 4})),
        ("incompatible shapes: width[3] and width[4]",
         dict(S={"height": 3, "width": 3}, T={"width": 4})),
        ("several shared axes, listed in another order",
         dict(S={"seq": 5, "batch": 2, "key": 4},
              T={"key": 4, "heads": 3, "seq": 5})),
    ]


@exercise("2.2", title="the union of two shapes", cases=_cases_2_2)
def ex_2_2(S, T):
    # written out, without nt.compatible: a shared name must have one size
    for a in S:
        if a in T and T[a] != S[a]:
            return None
    out = dict(S)
    out.update(T)
    return out


def _cases_2_3():
    A = nt.tensor([[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"),
                  dtype=torch.float64)
    B = nt.randn(seed=1, width=4, height=2)
    C = nt.randn(seed=2, chans=3, height=2, width=5)
    return [
        ("the running example A", dict(X=A, r={"height": 0, "width": 2})),
        ("a tensor stored width-first, record height-first",
         dict(X=B, r={"height": 1, "width": 3})),
        ("three axes, record in yet another order",
         dict(X=C, r={"width": 4, "chans": 1, "height": 0})),
    ]


@exercise("2.3", title="a tensor is a function of records", cases=_cases_2_3)
def ex_2_3(X, r):
    # positionally: read X in the record's order, then index with a tuple
    return float(nt.positional(X, tuple(r))[tuple(r.values())])


CHOICES_2_4 = {
    "a": 'nt.tensor([[1., 2.], [3., 4.]], ("seq", "seq"))',
    "b": 'nt.positional(A, ("width", "height"))',
    "c": 'nt.index(A, "width", 2)',
}


@exercise("2.4", title="which of these raises AxisError?", kind="choice",
          choices=CHOICES_2_4)
def ex_2_4():
    # run each choice on the running A; the one that raises AxisError
    A = nt.tensor([[3., 1., 4.], [1., 5., 9.], [2., 6., 5.]], ("height", "width"))
    raised = []
    for key, code in CHOICES_2_4.items():
        try:
            eval(code, {"nt": nt, "A": A})
        except nt.AxisError:
            raised.append(key)
    assert len(raised) == 1, raised
    return raised[0]


def _cases_2_5():
    A = nt.tensor([[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"),
                  dtype=torch.float64)
    B = nt.randn(seed=3, width=5, height=4)            # stored width first
    C = nt.randn(seed=4, batch=2, width=3, height=2)   # an extra axis
    return [("the running example A", {"A": A}),
            ("a 4 x 5 tensor stored width-first", {"A": B}),
            ("a batch of 2 tensors", {"A": C})]


@exercise("2.5", title="a row of A, in the notation", kind="formula", cases=_cases_2_5,
          formula=r"A_{\height(2)}")
def ex_2_5(env):
    # positional reference: the second row (index 1 from 0) of the height axis
    A = env["A"]
    extra = [a for a in nt.names(A) if a not in ("height", "width")]
    data = nt.positional(A, (*extra, "height", "width"))[..., 1, :]
    return nt.tensor(data, (*extra, "width"))
