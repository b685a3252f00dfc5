"""Exercises of chapter 7: more examples (random variables, k-means, messages)."""

import torch

import ntlib as nt

from . import exercise

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
    return nt.contract(p_B_given_A, p_A, over="A")


@exercise("7.2", title="Bayes' rule by name", cases=_bayes_cases)
def ex_7_2(p_B_given_A, p_A):
    joint = p_B_given_A * p_A
    return joint / nt.sum(joint, "A")


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


@exercise("7.3", title="one named k-means step", cases=_kmeans_cases)
def ex_7_3(X, C):
    Q = nt.argmin(nt.norm(C - X, "d"), "clusters")
    return nt.contract(Q, X, over="batch") / nt.sum(Q, "batch")


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
    msg = nt.contract(F, m, over="b")
    return msg / nt.sum(msg, "a")
