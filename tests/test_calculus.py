"""ntlib.calculus against independent computations.

- ``derivative`` / ``differential`` against torch.autograd.functional.jacobian
  and torch.func.jvp applied to *positional* torch code written separately
  (dims in a fixed, stated order), on random sizes, random storage orders of
  the named input, and a function lifted over several axes;
- the worked formulas of §5 against ``derivative`` and against central
  finite differences (no autograd at all), and torch.autograd.gradcheck on
  the formula functions;
- each differentiation rule of §5 on random shapes (hypothesis);
- the exercises' reference answers against autograd, and wrong answers
  rejected;
- bad input raising AxisError that names the axis.
"""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ntlib as nt
from ntlib.exercises import ExerciseError

F64 = torch.float64
SETTINGS = settings(max_examples=15, deadline=None)


def g(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64)


def named(data, names, perm):
    """A named tensor from positional ``data`` (dims = ``names``), stored in order ``perm``."""
    return nt.tensor(data.permute(perm).contiguous(), [names[p] for p in perm])


def close(a, b, tol=1e-10):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


sizes3 = st.tuples(*[st.integers(1, 4)] * 3)
perms3 = st.permutations([0, 1, 2])


# --------------------------------------------------------------------------
# a lifted function, named and positional

def f_named(X, W):
    """softmax over seq, contracted with W over key, times tanh(Σ_batch X).

    Output axes batch, seq, val, key: it shares three names with its input.
    """
    a = nt.contract(nt.softmax(X, "seq"), W, over="key")
    return a * nt.tanh(nt.sum(X, "batch"))


def f_pos(x, w):
    """The same, positionally: x is (batch, seq, key), w (key, val); out (b, s, v, k)."""
    a = torch.einsum("bsk,kv->bsv", torch.softmax(x, 1), w)
    t = torch.tanh(x.sum(0))
    return a[:, :, :, None] * t[None, :, None, :]


OUT = ("batch", "seq", "val", "key")
STARRED = ("batch*", "seq*", "key*")


@SETTINGS
@given(sizes3, st.integers(1, 3), perms3)
def test_derivative_against_autograd_jacobian(sz, v, perm):
    b, s, k = sz
    x, w = g(b, s, k, seed=1), g(k, v, seed=2)
    X = named(x, ("batch", "seq", "key"), perm)
    W = nt.tensor(w, ("key", "val"))
    D = nt.calculus.derivative(lambda X: f_named(X, W), X)
    assert nt.shape(D) == {"batch": b, "seq": s, "val": v, "key": k,
                           "batch*": b, "seq*": s, "key*": k}
    J = torch.autograd.functional.jacobian(lambda x: f_pos(x, w), x)
    close(nt.positional(D, OUT + STARRED), J)


@SETTINGS
@given(sizes3, st.integers(1, 3), perms3, perms3)
def test_differential_against_positional_jvp(sz, v, perm, hperm):
    b, s, k = sz
    x, h, w = g(b, s, k, seed=3), g(b, s, k, seed=4), g(k, v, seed=5)
    names = ("batch", "seq", "key")
    X, H = named(x, names, perm), named(h, names, hperm)
    W = nt.tensor(w, ("key", "val"))
    dY = nt.calculus.differential(lambda X: f_named(X, W), X, H)
    _, t = torch.func.jvp(lambda x: f_pos(x, w), (x,), (h,))
    close(nt.positional(dY, OUT), t)
    # and the differential is the derivative contracted with H*
    D = nt.calculus.derivative(lambda X: f_named(X, W), X)
    close(nt.positional(nt.contract(D, nt.calculus.star(H), over=STARRED), OUT), t)


def test_derivative_on_the_plain_path():
    """Inside nt.plain() softmax runs its formula (max, exp, sum): same result."""
    x, w = g(2, 3, 4, seed=23), g(4, 2, seed=24)
    X, W = named(x, ("batch", "seq", "key"), (2, 0, 1)), nt.tensor(w, ("key", "val"))
    with nt.plain():
        D = nt.calculus.derivative(lambda X: f_named(X, W), X)
    J = torch.autograd.functional.jacobian(lambda x: f_pos(x, w), x)
    close(nt.positional(D, OUT + STARRED), J)


def test_derivative_scalar_output_and_unlifted():
    x = g(3, 4, seed=6)
    X = nt.tensor(x, ("seq", "key"))
    D = nt.calculus.derivative(lambda X: nt.sum(X * X, ("seq", "key")), X)
    assert nt.shape(D) == {"seq*": 3, "key*": 4}
    close(nt.positional(D, ("seq*", "key*")), 2 * x)


# --------------------------------------------------------------------------
# star, identity, identify

def test_star_and_identity_renaming():
    A = nt.randn(seed=7, seq=3, key=4)
    assert nt.shape(nt.calculus.star(A)) == {"seq*": 3, "key*": 4}
    assert nt.shape(nt.calculus.star(A, "key")) == {"seq": 3, "key*": 4}
    I = nt.calculus.identity("key", "emb", 4)
    R = nt.contract(I, A, over="key")
    close(nt.positional(R, ("seq", "emb")), nt.positional(A, ("seq", "key")))
    close(nt.positional(I, ("key", "emb")), torch.eye(4, dtype=F64))
    IS = nt.calculus.identity_like(A)
    e = torch.einsum("ac,bd->abcd", torch.eye(3, dtype=F64), torch.eye(4, dtype=F64))
    close(nt.positional(IS, ("seq", "key", "seq*", "key*")), e)


@SETTINGS
@given(sizes3, perms3)
def test_identify_reads_off_the_derivative(sz, perm):
    b, s, k = sz
    X = named(g(b, s, k, seed=8), ("batch", "seq", "key"), perm)
    A = nt.calculus.identify(lambda H: nt.calculus.softmax_differential(X, H, "seq"), X)
    J = torch.autograd.functional.jacobian(
        lambda x: torch.softmax(x, 1), nt.positional(X, ("batch", "seq", "key")))
    close(nt.positional(A, ("batch", "seq", "key") + STARRED), J)


# --------------------------------------------------------------------------
# the worked formulas of section 5

def central_difference(fpos, x, eps=1e-6):
    """The Jacobian by central differences, without autograd: (out..., in...)."""
    cols = []
    flat = x.reshape(-1)
    for i in range(flat.numel()):
        e = torch.zeros_like(flat)
        e[i] = eps
        cols.append((fpos((flat + e).reshape(x.shape))
                     - fpos((flat - e).reshape(x.shape))) / (2 * eps))
    J = torch.stack(cols, -1)
    return J.reshape(J.shape[:-1] + x.shape)


@SETTINGS
@given(sizes3, perms3)
def test_softmax_formulas(sz, perm):
    b, s, k = sz
    x, h = g(b, s, k, seed=9), g(b, s, k, seed=10)
    names = ("batch", "seq", "key")
    X, H = named(x, names, perm), named(h, names, perm)
    # the differential formula against forward-mode autograd
    _, t = torch.func.jvp(lambda x: torch.softmax(x, 1), (x,), (h,))
    close(nt.positional(nt.calculus.softmax_differential(X, H, "seq"), names), t)
    # the derivative of the lift: g ⊙ I_{S',S'*} against finite differences
    G = nt.calculus.derivative_of_lift(nt.calculus.softmax_derivative(X, "seq"), ("batch", "key"))
    J = central_difference(lambda x: torch.softmax(x, 1), x)
    close(nt.positional(G, names + STARRED), J, tol=1e-7)
    D = nt.calculus.derivative(lambda X: nt.softmax(X, "seq"), X)
    close(nt.positional(G, names + STARRED), nt.positional(D, names + STARRED))


def test_softmax_derivative_one_axis_against_closed_form():
    x = g(5, seed=11)
    X = nt.tensor(x, "ax")
    p = torch.softmax(x, 0)
    close(nt.positional(nt.calculus.softmax_derivative(X, "ax"), ("ax", "ax*")),
          torch.diag(p) - torch.outer(p, p))


def att_pos(q, k, v):
    """Unscaled attention, positionally: q (key), k (seq, key), v (seq, val) -> (val)."""
    return torch.softmax(k @ q, 0) @ v


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_attention_formulas(n, dk, dv, flip):
    q, k, v = g(dk, seed=12), g(n, dk, seed=13), g(n, dv, seed=14)
    Q = nt.tensor(q, "key")
    K = nt.tensor(k.T.contiguous(), ("key", "seq")) if flip else nt.tensor(k, ("seq", "key"))
    V = nt.tensor(v.T.contiguous(), ("val", "seq")) if flip else nt.tensor(v, ("seq", "val"))
    close(nt.positional(nt.calculus.attention_unscaled(Q, K, V), "val"), att_pos(q, k, v))
    dQ = central_difference(lambda q: att_pos(q, k, v), q)
    dK = central_difference(lambda k: att_pos(q, k, v), k)
    dV = central_difference(lambda v: att_pos(q, k, v), v)
    close(nt.positional(nt.calculus.attention_dQ(Q, K, V), ("val", "key*")), dQ, tol=1e-7)
    close(nt.positional(nt.calculus.attention_dK(Q, K, V), ("val", "seq*", "key*")), dK, tol=1e-7)
    close(nt.positional(nt.calculus.attention_dV(Q, K, V), ("val", "seq*", "val*")), dV, tol=1e-7)
    for which, formula in (("Q", nt.calculus.attention_dQ), ("K", nt.calculus.attention_dK),
                           ("V", nt.calculus.attention_dV)):
        args = dict(Q=Q, K=K, V=V)
        D = nt.calculus.derivative(lambda T: nt.calculus.attention_unscaled(**{**args, which: T}), args[which])
        assert nt.calculus.max_difference(D, formula(Q, K, V)) < 1e-12


def test_misread_dK_grouping_is_wrong():
    """(α ⊙_seq Q*) ⊙ I, the other way to close the paper's parenthesis, gives 0."""
    Q, K, V = nt.randn(seed=15, key=3), nt.randn(seed=16, seq=4, key=3), \
        nt.randn(seed=17, seq=4, val=2)
    a = nt.softmax(nt.contract(Q, K, over="key"), "seq")
    QI = nt.contract(nt.calculus.star(Q), nt.calculus.identity("seq", "seq*", 4))
    wrong_inner = nt.contract(nt.contract(a, nt.calculus.star(Q), over="seq"),
                              nt.calculus.identity("seq", "seq*", 4))
    wrong = nt.contract(V, a * (QI - wrong_inner), over="seq")
    assert nt.calculus.max_difference(wrong, nt.calculus.attention_dK(Q, K, V)) > 1e-2


def test_gradcheck_formula_functions():
    x = g(2, 3, seed=18, ).requires_grad_()
    q, k, v = (g(3, seed=19).requires_grad_(), g(4, 3, seed=20).requires_grad_(),
               g(4, 2, seed=21).requires_grad_())
    h = g(2, 3, seed=22)

    def sm_deriv(x):
        return nt.positional(nt.calculus.softmax_derivative(nt.tensor(x, ("b", "ax")), "ax"),
                             ("b", "ax", "ax*"))

    def sm_diff(x):
        X, H = nt.tensor(x, ("b", "ax")), nt.tensor(h, ("b", "ax"))
        return nt.positional(nt.calculus.softmax_differential(X, H, "ax"), ("b", "ax"))

    def att(fn, order):
        def run(q, k, v):
            return nt.positional(fn(nt.tensor(q, "key"), nt.tensor(k, ("seq", "key")),
                                    nt.tensor(v, ("seq", "val"))), order)
        return run

    assert torch.autograd.gradcheck(sm_deriv, (x,))
    assert torch.autograd.gradcheck(sm_diff, (x,))
    assert torch.autograd.gradcheck(att(nt.calculus.attention_dQ, ("val", "key*")), (q, k, v))
    assert torch.autograd.gradcheck(att(nt.calculus.attention_dK, ("val", "seq*", "key*")), (q, k, v))
    assert torch.autograd.gradcheck(att(nt.calculus.attention_dV, ("val", "seq*", "val*")), (q, k, v))


# --------------------------------------------------------------------------
# the rules of section 5, each on random shapes

def _setup(sz, v, perm, seed):
    b, s, k = sz
    names = ("batch", "seq", "key")
    X = named(g(b, s, k, seed=seed), names, perm)
    H = named(g(b, s, k, seed=seed + 1), names, perm)
    W1 = nt.tensor(g(s, k, seed=seed + 2), ("seq", "key"))
    W2 = nt.tensor(g(k, v, seed=seed + 3), ("key", "val"))

    def u(X):                                   # axes batch, seq, key
        return nt.tanh(X) * 1.5 + W1 * X

    def w(X):                                   # axes batch, seq, val; positive
        return nt.sigmoid(nt.contract(X, W2, over="key")) + 0.5
    return X, H, u, w


def d(fn, X, H):
    return nt.calculus.differential(fn, X, H)


RULES = {
    "sum": lambda X, H, u, w: (lambda X: u(X) + w(X), d(u, X, H) + d(w, X, H)),
    "product": lambda X, H, u, w: (
        lambda X: u(X) * w(X), u(X) * d(w, X, H) + w(X) * d(u, X, H)),
    "quotient": lambda X, H, u, w: (
        lambda X: u(X) / w(X),
        (w(X) * d(u, X, H) - u(X) * d(w, X, H)) / (w(X) * w(X))),
    "sum over an axis": lambda X, H, u, w: (
        lambda X: nt.sum(u(X), "seq"), nt.sum(d(u, X, H), "seq")),
    "contraction": lambda X, H, u, w: (
        lambda X: nt.contract(u(X), w(X), over="seq"),
        nt.contract(u(X), d(w, X, H), over="seq")
        + nt.contract(w(X), d(u, X, H), over="seq")),
    "indexing": lambda X, H, u, w: (
        lambda X: nt.index(u(X), "seq", -1), nt.index(d(u, X, H), "seq", -1)),
    "renaming": lambda X, H, u, w: (
        lambda X: nt.rename(u(X), {"key": "emb"}),
        nt.rename(d(u, X, H), {"key": "emb"})),
    "chain": lambda X, H, u, w: (
        lambda X: nt.softmax(u(X), "key"),
        nt.contract(nt.calculus.derivative(lambda Y: nt.softmax(Y, "key"), u(X)),
                    nt.calculus.star(d(u, X, H)), over=STARRED)),
    "elementwise": lambda X, H, u, w: (
        lambda X: nt.tanh(u(X)), (1 - nt.tanh(u(X)) ** 2) * d(u, X, H)),
    "exp": lambda X, H, u, w: (lambda X: nt.exp(u(X)), nt.exp(u(X)) * d(u, X, H)),
}


@pytest.mark.parametrize("rule", list(RULES))
@settings(max_examples=8, deadline=None)
@given(sizes3, st.integers(1, 3), perms3)
def test_rule(rule, sz, v, perm):
    X, H, u, w = _setup(sz, v, perm, seed=30)
    composed, rhs = RULES[rule](X, H, u, w)
    lhs = d(composed, X, H)
    assert nt.shape(lhs) == nt.shape(rhs)
    assert nt.calculus.max_difference(lhs, rhs) < 1e-10


# --------------------------------------------------------------------------
# exercises: the references against autograd; wrong answers rejected

def _autograd_answers():
    ex = nt.exercises
    for desc, kw in ex.get("5.1").cases():
        yield "5.1", kw, d(lambda X: X * X, kw["X"], kw["H"])
    for desc, kw in ex.get("5.2").cases():
        yield "5.2", kw, d(lambda X: nt.contract(X, X, over="d"), kw["X"], kw["H"])
    for desc, kw in ex.get("5.3").cases():
        yield "5.3", kw, nt.calculus.derivative(nt.sigmoid, kw["X"])
    for desc, kw in ex.get("5.4").cases():
        yield "5.4", kw, d(lambda X: nt.log(nt.softmax(X, "ax")), kw["X"], kw["H"])
    for desc, kw in ex.get("5.5").cases():
        Q, V = kw["Q"], kw["V"]
        yield "5.5", kw, d(lambda K: nt.calculus.attention_unscaled(Q, K, V), kw["K"], kw["H"])


def test_exercise_references_match_autograd():
    seen = set()
    for id, kw, expected in _autograd_answers():
        got = nt.exercises.solution(id)(**kw)
        assert nt.calculus.max_difference(got, expected) < 1e-10, id
        seen.add(id)
    assert seen == {"5.1", "5.2", "5.3", "5.4", "5.5"}


@pytest.mark.parametrize("id", ["5.1", "5.2", "5.3", "5.4", "5.5"])
def test_exercises_accept_solution_reject_wrong(id):
    ref = nt.exercises.solution(id)
    assert nt.exercises.check(id, ref)

    def scaled(**kw):
        return 1.5 * ref(**kw)

    def renamed(**kw):
        out = ref(**kw)
        a = nt.names(out)[0]
        return nt.rename(out, {a: a + "_"})

    def raising(**kw):
        raise nt.AxisError("no")

    for wrong in (scaled, renamed, raising):
        with pytest.raises(ExerciseError):
            nt.exercises.check(id, wrong)


def test_exercise_cases_differ():
    for id in ["5.1", "5.2", "5.3", "5.4", "5.5"]:
        outs = [nt.exercises.solution(id)(**kw) for _, kw in nt.exercises.get(id).cases()]
        assert len(outs) >= 3
        for a, b in itertools.combinations(outs, 2):
            assert nt.shape(a) != nt.shape(b) or nt.calculus.max_difference(a, b) > 1e-3


# --------------------------------------------------------------------------
# bad input

def test_derivative_rejects_starred_input_axis():
    X = nt.randn(seed=40, seq=3, **{"key*": 2})
    with pytest.raises(nt.AxisError, match=r"'key\*'"):
        nt.calculus.derivative(lambda X: X, X)
    with pytest.raises(nt.AxisError, match=r"'key\*'"):
        nt.calculus.differential(lambda X: X, X, X)


def test_derivative_rejects_output_with_starred_name():
    X = nt.randn(seed=41, seq=3)
    with pytest.raises(nt.AxisError, match=r"'seq\*'"):
        nt.calculus.derivative(lambda X: nt.rename(X, {"seq": "seq*"}), X)


def test_differential_rejects_mismatched_H():
    X = nt.randn(seed=42, seq=3, key=2)
    with pytest.raises(nt.AxisError, match="'key'"):
        nt.calculus.differential(lambda X: X, X, nt.randn(seed=43, seq=3, key=4))
    with pytest.raises(nt.AxisError, match="'val'"):
        nt.calculus.differential(lambda X: X, X, nt.randn(seed=43, seq=3, val=2))


def test_identity_name_clash_and_star_absent_axis():
    with pytest.raises(nt.AxisError, match="'seq'"):
        nt.calculus.identity("seq", "seq", 3)
    with pytest.raises(nt.AxisError, match="'val'"):
        nt.calculus.star(nt.randn(seed=44, seq=3), "val")
    with pytest.raises(nt.AxisError, match="'val'"):
        nt.calculus.max_difference(nt.randn(seed=45, seq=3), nt.randn(seed=45, val=3))


def test_derivative_rejects_integer_input():
    with pytest.raises(TypeError, match="real-valued"):
        nt.calculus.derivative(lambda X: X, nt.randint(0, 3, seed=46, seq=3))
