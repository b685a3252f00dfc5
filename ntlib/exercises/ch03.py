"""Exercises of chapter 3: contraction, softmax, renaming, a k-means step."""

import torch
import torch.nn.functional as F

import ntlib as nt

from . import exercise
from ._positional import extras, named, p


def _cases_3_1():
    return [
        ("A[height=3, width=3], one x and one y",
         dict(x=nt.randn(seed=1, height=3),
              A=nt.randn(seed=2, height=3, width=3),
              y=nt.randn(seed=3, width=3))),
        ("other sizes, A stored width-first",
         dict(x=nt.randn(seed=4, height=2),
              A=nt.randn(seed=5, width=5, height=2),
              y=nt.randn(seed=6, width=5))),
        ("a batch of x and y (axis 'batch') to lift over",
         dict(x=nt.randn(seed=7, batch=4, height=3),
              A=nt.randn(seed=8, height=3, width=2),
              y=nt.randn(seed=9, width=2, batch=4))),
    ]


@exercise("3.1", title="a batched bilinear form", cases=_cases_3_1)
def ex_3_1(x, A, y, *, height="height", width="width"):
    E = extras(dict(x=x, A=A, y=y), (height, width))
    return named(torch.einsum("...h,...hw,...w->...", p(x, E, height),
                              p(A, E, height, width), p(y, E, width)), E)


def _cases_3_2():
    return [
        ("X[height=2, width=3]", dict(X=nt.randn(seed=1, height=2, width=3))),
        ("other sizes, width first",
         dict(X=nt.randn(seed=2, width=4, height=3) * 5)),
        ("an extra axis 'chans' to lift over",
         dict(X=nt.randn(seed=3, height=2, chans=3, width=2))),
    ]


@exercise("3.2", title="softmax over two axes at once", cases=_cases_3_2)
def ex_3_2(X, *, height="height", width="width"):
    # positionally: flatten (height, width), torch.softmax, reshape back
    E = extras(dict(X=X), (height, width))
    x = p(X, E, height, width)
    return named(torch.softmax(x.flatten(-2), -1).reshape(x.shape),
                 E + [height, width])


def _cases_3_3():
    return [
        ("X[seq=3, layer=4]", dict(X=nt.randn(seed=1, seq=3, layer=4))),
        ("other sizes, layer first", dict(X=nt.randn(seed=2, layer=2, seq=5))),
        ("an extra axis 'batch' to lift over",
         dict(X=nt.randn(seed=3, seq=3, batch=2, layer=3))),
    ]


@exercise("3.3", title="a positional snippet, by name", cases=_cases_3_3)
def ex_3_3(X, *, seq="seq", layer="layer"):
    # positionally, with X stored (seq, layer): X @ X.T
    E = extras(dict(X=X), (seq, layer))
    x = p(X, E, seq, layer)
    return named(x @ x.transpose(-1, -2), E + [seq, seq + "'"])


def _centres(X, k, seed):
    """k starting centres near the first k points (no cluster is empty)."""
    first = nt.index(X, "batch", nt.tensor(list(range(k)), "clusters"))
    return first + 0.1 * nt.randn(seed=seed, clusters=k, d=nt.shape(X)["d"])


def _cases_3_4():
    X1 = nt.randn(seed=1, batch=8, d=2)
    X2 = nt.randn(seed=2, d=3, batch=10)
    X3 = nt.randn(seed=3, runs=2, batch=9, d=2)
    return [
        ("X[batch=8, d=2], 3 clusters", dict(X=X1, C=_centres(X1, 3, 11))),
        ("other sizes, d first, 4 clusters",
         dict(X=X2, C=_centres(X2, 4, 12))),
        ("an extra axis 'runs' (independent problems) to lift over",
         dict(X=X3, C=_centres(X3, 3, 13))),
    ]


@exercise("3.4", title="one step of k-means", cases=_cases_3_4)
def ex_3_4(X, C, *, batch="batch", d="d", clusters="clusters"):
    # positionally: torch.cdist for the distances, one_hot for the assignment
    E = extras(dict(X=X, C=C), (batch, d, clusters))
    x, c = p(X, E, batch, d), p(C, E, clusters, d)
    x = x + torch.zeros_like(c[..., :1, :1])      # c's leading axes too
    q = F.one_hot(torch.cdist(x, c).argmin(-1), c.shape[-2]).double()
    return named((q.transpose(-1, -2) @ x) / q.sum(-2).unsqueeze(-1),
                 E + [clusters, d])


def _cases_3_5():
    A = nt.tensor([[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"),
                  dtype=torch.float64)
    return [("the running example A", {"A": A}),
            ("a 4 x 5 tensor stored width-first",
             {"A": nt.randn(seed=5, width=5, height=4)}),
            ("a batch of 2 tensors", {"A": nt.randn(seed=6, height=3, batch=2, width=2)})]


@exercise("3.5", title="centre the columns, in the notation", kind="formula",
          cases=_cases_3_5, formula=r"A - \nfun{\height}{mean} A")
def ex_3_5(env):
    # positional reference: subtract the mean over the height dimension
    A = env["A"]
    extra = [a for a in nt.names(A) if a not in ("height", "width")]
    a = nt.positional(A, (*extra, "height", "width"))
    return nt.tensor(a - a.mean(dim=-2, keepdim=True), (*extra, "height", "width"))
