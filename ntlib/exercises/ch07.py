"""Exercises of chapter 7: more examples (random variables, k-means, messages)."""

import torch

import ntlib as nt

from . import exercise
from ._positional import extras, named, p

f64 = torch.float64


def _cond(seed, **sizes):
    """A random conditional table p(B | A): positive, normalised over B."""
    x = nt.rand(seed=seed, dtype=f64, **sizes) + 0.1
    return x / nt.sum(x, "B")


def _prior(seed, **sizes):
    x = nt.rand(seed=seed, dtype=f64, **sizes) + 0.1
    return x / nt.sum(x, "A")


def _bayes_cases():
    return [("the prompt's sizes: |A| = 2, |B| = 2",
             dict(p_B_given_A=_cond(1, A=2, B=2), p_A=_prior(2, A=2))),
            ("other sizes, other axis order",
             dict(p_B_given_A=_cond(3, B=4, A=3), p_A=_prior(4, A=3))),
            ("an extra axis 'batch' to lift over",
             dict(p_B_given_A=_cond(5, batch=2, A=3, B=2), p_A=_prior(6, A=3)))]


@exercise("7.1", title="the marginal p(B)", cases=_bayes_cases)
def ex_7_1(p_B_given_A, p_A):
    # positionally: the row vector p(A) times the matrix p(B | A)[A, B]
    E = extras(dict(p_B_given_A=p_B_given_A, p_A=p_A), ("A", "B"))
    y = p(p_A, E, "A").unsqueeze(-2) @ p(p_B_given_A, E, "A", "B")
    return named(y.squeeze(-2), E + ["B"])


@exercise("7.2", title="Bayes' rule by name", cases=_bayes_cases)
def ex_7_2(p_B_given_A, p_A):
    # positionally, in log space: log p(A | B) = log p(B | A) + log p(A)
    # - logsumexp over A
    E = extras(dict(p_B_given_A=p_B_given_A, p_A=p_A), ("A", "B"))
    log_joint = (torch.log(p(p_B_given_A, E, "A", "B"))
                 + torch.log(p(p_A, E, "A")).unsqueeze(-1))
    return named(torch.exp(log_joint - torch.logsumexp(log_joint, -2, keepdim=True)),
                 E + ["A", "B"])


def _kmeans_cases():
    def case(seed, n, dim, k, runs=None):
        X = nt.randn(seed=seed, batch=n, d=dim, dtype=f64)
        rows = torch.arange(k) * (n // k)          # start at data points: no empty cluster
        C = nt.index(X, "batch", nt.tensor(rows, "clusters"))
        if runs:
            C = C + nt.randn(seed=seed + 1, runs=runs, clusters=k, d=dim, dtype=f64) * 0.01
        return dict(X=X, C=C)
    return [("the prompt's sizes: 6 points in 2 dimensions, 2 clusters", case(1, 6, 2, 2)),
            ("other sizes", case(2, 20, 3, 4)),
            ("an extra axis 'runs' of C to lift over", case(3, 15, 2, 3, runs=2))]


@exercise("7.3", title="the k-means objective", cases=_kmeans_cases)
def ex_7_3(X, C):
    # positionally: the squared distance from each point to its nearest
    # centroid (torch.cdist), summed over the points
    E = extras(dict(X=X, C=C), ("batch", "d", "clusters"))
    x, c = p(X, E, "batch", "d"), p(C, E, "clusters", "d")
    x = x + torch.zeros_like(c[..., :1, :1])      # c's leading axes too
    return named((torch.cdist(x, c) ** 2).min(-1).values.sum(-1), E)


def _message_cases():
    return [("the prompt's sizes: |a| = 2, |b| = 3",
             dict(F=nt.rand(seed=1, a=2, b=3, dtype=f64), m=nt.rand(seed=2, b=3, dtype=f64))),
            ("other sizes, other axis order",
             dict(F=nt.rand(seed=3, b=4, a=5, dtype=f64), m=nt.rand(seed=4, b=4, dtype=f64))),
            ("an extra axis 'batch' of m to lift over",
             dict(F=nt.rand(seed=5, a=3, b=2, dtype=f64),
                  m=nt.rand(seed=6, batch=2, b=2, dtype=f64)))]


@exercise("7.4", title="a factor-to-variable message", cases=_message_cases)
def ex_7_4(F, m):
    # positionally: the matrix F[a, b] times the column m[b], then normalised
    E = extras(dict(F=F, m=m), ("a", "b"))
    msg = (p(F, E, "a", "b") @ p(m, E, "b").unsqueeze(-1)).squeeze(-1)
    return named(msg / msg.sum(-1, keepdim=True), E + ["a"])
