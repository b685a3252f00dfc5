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



import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ntlib as nt
from ntlib.testing import assert_close, named

F64 = torch.float64
SETTINGS = settings(max_examples=15, deadline=None)


def g(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64)


TOL = dict(rtol=1e-10, atol=1e-10)


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
    X = named(x, ("batch", "seq", "key"), storage=perm)
    W = nt.tensor(w, ("key", "val"))
    D = nt.calculus.derivative(lambda X: f_named(X, W), X)
    assert nt.shape(D) == {"batch": b, "seq": s, "val": v, "key": k,
                           "batch*": b, "seq*": s, "key*": k}
    J = torch.autograd.functional.jacobian(lambda x: f_pos(x, w), x)
    assert_close(D, J, order=OUT + STARRED, **TOL)


@SETTINGS
@given(sizes3, st.integers(1, 3), perms3, perms3)
def test_differential_against_positional_jvp(sz, v, perm, hperm):
    b, s, k = sz
    x, h, w = g(b, s, k, seed=3), g(b, s, k, seed=4), g(k, v, seed=5)
    names = ("batch", "seq", "key")
    X, H = named(x, names, storage=perm), named(h, names, storage=hperm)
    W = nt.tensor(w, ("key", "val"))
    dY = nt.calculus.differential(lambda X: f_named(X, W), X, H)
    _, t = torch.func.jvp(lambda x: f_pos(x, w), (x,), (h,))
    assert_close(dY, t, order=OUT, **TOL)
    # and the differential is the derivative contracted with H*
    D = nt.calculus.derivative(lambda X: f_named(X, W), X)
    assert_close(nt.contract(D, nt.calculus.star(H), over=STARRED), t, order=OUT, **TOL)


def test_derivative_on_the_plain_path():
    """Inside nt.plain() softmax runs its formula (max, exp, sum): same result."""
    x, w = g(2, 3, 4, seed=23), g(4, 2, seed=24)
    X, W = named(x, ("batch", "seq", "key"), storage=(2, 0, 1)), nt.tensor(w, ("key", "val"))
    with nt.plain():
        D = nt.calculus.derivative(lambda X: f_named(X, W), X)
    J = torch.autograd.functional.jacobian(lambda x: f_pos(x, w), x)
    assert_close(D, J, order=OUT + STARRED, **TOL)


def test_derivative_scalar_output_and_unlifted():
    x = g(3, 4, seed=6)
    X = nt.tensor(x, ("seq", "key"))
    D = nt.calculus.derivative(lambda X: nt.sum(X * X, ("seq", "key")), X)
    assert nt.shape(D) == {"seq*": 3, "key*": 4}
    assert_close(D, 2 * x, order=("seq*", "key*"), **TOL)


# --------------------------------------------------------------------------
# star, identity, identify

def test_star_and_identity_renaming():
    A = nt.randn(seed=7, seq=3, key=4)
    assert nt.shape(nt.calculus.star(A)) == {"seq*": 3, "key*": 4}
    assert nt.shape(nt.calculus.star(A, "key")) == {"seq": 3, "key*": 4}
    I = nt.calculus.identity("key", "emb", 4)
    R = nt.contract(I, A, over="key")
    assert_close(R, nt.positional(A, ("seq", "key")), order=("seq", "emb"), **TOL)
    assert_close(I, torch.eye(4, dtype=F64), order=("key", "emb"), **TOL)
    IS = nt.calculus.identity_like(A)
    e = torch.einsum("ac,bd->abcd", torch.eye(3, dtype=F64), torch.eye(4, dtype=F64))
    assert_close(IS, e, order=("seq", "key", "seq*", "key*"), **TOL)


@SETTINGS
@given(sizes3, perms3)
def test_identify_reads_off_the_derivative(sz, perm):
    b, s, k = sz
    X = named(g(b, s, k, seed=8), ("batch", "seq", "key"), storage=perm)
    A = nt.calculus.identify(lambda H: nt.calculus.softmax_differential(X, H, "seq"), X)
    J = torch.autograd.functional.jacobian(
        lambda x: torch.softmax(x, 1), nt.positional(X, ("batch", "seq", "key")))
    assert_close(A, J, order=("batch", "seq", "key") + STARRED, **TOL)


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
    X, H = named(x, names, storage=perm), named(h, names, storage=perm)
    # the differential formula against forward-mode autograd
    _, t = torch.func.jvp(lambda x: torch.softmax(x, 1), (x,), (h,))
    assert_close(nt.calculus.softmax_differential(X, H, "seq"), t, order=names, **TOL)
    # the derivative of the lift: g ⊙ I_{S',S'*} against finite differences
    G = nt.calculus.derivative_of_lift(nt.calculus.softmax_derivative(X, "seq"), ("batch", "key"))
    J = central_difference(lambda x: torch.softmax(x, 1), x)
    assert_close(G, J, order=names + STARRED, rtol=1e-7, atol=1e-7)
    D = nt.calculus.derivative(lambda X: nt.softmax(X, "seq"), X)
    assert_close(G, D, **TOL)


def test_softmax_derivative_one_axis_against_closed_form():
    x = g(5, seed=11)
    X = nt.tensor(x, "ax")
    p = torch.softmax(x, 0)
    assert_close(nt.calculus.softmax_derivative(X, "ax"), torch.diag(p) - torch.outer(p, p),
                 order=("ax", "ax*"), **TOL)


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
    assert_close(nt.calculus.attention_unscaled(Q, K, V), att_pos(q, k, v), order="val", **TOL)
    dQ = central_difference(lambda q: att_pos(q, k, v), q)
    dK = central_difference(lambda k: att_pos(q, k, v), k)
    dV = central_difference(lambda v: att_pos(q, k, v), v)
    tol = dict(rtol=1e-7, atol=1e-7)
    assert_close(nt.calculus.attention_dQ(Q, K, V), dQ, order=("val", "key*"), **tol)
    assert_close(nt.calculus.attention_dK(Q, K, V), dK, order=("val", "seq*", "key*"), **tol)
    assert_close(nt.calculus.attention_dV(Q, K, V), dV, order=("val", "seq*", "val*"), **tol)
    for which, formula in (("Q", nt.calculus.attention_dQ), ("K", nt.calculus.attention_dK),
                           ("V", nt.calculus.attention_dV)):
        args = dict(Q=Q, K=K, V=V)
        D = nt.calculus.derivative(lambda T: nt.calculus.attention_unscaled(**{**args, which: T}), args[which])
        assert nt.calculus.max_difference(D, formula(Q, K, V)) < 1e-12


# the paper's print of ∂Att/∂K* (§5.5), transliterated token by token from
# V \ndot{\seq} (\attwt \odot (Q\inax \odot I_{\seq,\seq\inax}) - \attwt
# \ndot{\seq} (Q\inax \odot I_{\seq,\seq\inax})))
PRINTED_DK = "V ⊙_seq (α ⊙ (Q* ⊙ I) − α ⊙_seq (Q* ⊙ I)))"


def test_printed_dK_readings_against_finite_differences():
    """Of the formulas one parenthesis away from the print, those that close
    the group after Q* ⊙ I before the difference match finite differences;
    dropping one of the final parentheses gives another tensor."""
    q, k, v = g(3, seed=15), g(4, 3, seed=16), g(4, 2, seed=17)
    Q, K, V = nt.tensor(q, "key"), nt.tensor(k, ("seq", "key")), \
        nt.tensor(v, ("seq", "val"))
    a = nt.softmax(nt.contract(Q, K, over="key"), "seq")
    env = {"V": V, "α": a, "Q*": nt.calculus.star(Q),
           "I": nt.calculus.identity("seq", "seq*", 4)}
    dK = central_difference(lambda k: att_pos(q, k, v), k)
    good, bad = [], []
    for text in nt.calculus.paren_repairs(PRINTED_DK):
        D = nt.calculus.evaluate_formula(text, env)
        err = (nt.positional(D, ("val", "seq*", "key*")) - dK).abs().max()
        (good if err < 1e-7 else bad).append(text)
    assert "V ⊙_seq ( α ⊙ ( Q* ⊙ I − α ⊙_seq ( Q* ⊙ I ) ) )" in good
    assert "V ⊙_seq ( α ⊙ ( Q* ⊙ I ) − α ⊙_seq ( Q* ⊙ I ) )" in bad
    assert len(good) + len(bad) == 9


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
    X = named(g(b, s, k, seed=seed), names, storage=perm)
    H = named(g(b, s, k, seed=seed + 1), names, storage=perm)
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


# --------------------------------------------------------------------------
# the definitions of §5.1 and Appendix B, executed

@SETTINGS
@given(sizes3, st.integers(1, 3), perms3)
def test_partial_derivatives_against_autograd_jacobian(sz, v, perm):
    b, s, k = sz
    x, w = g(b, s, k, seed=31), g(k, v, seed=32)
    X = named(x, ("batch", "seq", "key"), storage=perm)
    W = nt.tensor(w, ("key", "val"))
    P = nt.calculus.partial_derivatives(lambda X: f_named(X, W), X)
    J = torch.autograd.functional.jacobian(lambda x: f_pos(x, w), x)
    torch.testing.assert_close(nt.positional(P, OUT + STARRED), J, rtol=1e-8, atol=1e-8)


def test_tensor_norm_and_remainder_against_positional():
    a, h, w = g(2, 3, seed=33), g(2, 3, seed=34), g(3, 4, seed=35)
    A = nt.tensor(a.T.contiguous(), ("seq", "batch"))
    H = nt.tensor(h, ("batch", "seq"))
    W = nt.tensor(w, ("seq", "val"))

    def f(X):
        return nt.tanh(nt.contract(X, W, over="seq"))

    def fp(x):
        return torch.tanh(x @ w)

    assert abs(float(nt.calculus.tensor_norm(H)) - h.norm().item()) < 1e-12
    J = torch.autograd.functional.jacobian(fp, a)          # (b, v, b, s)
    D = nt.tensor(J, ("batch", "val", "batch*", "seq*"))
    R = nt.calculus.remainder(f, A, D, H)
    r = fp(a + h) - fp(a) - torch.einsum("bvcs,cs->bv", J, h)
    torch.testing.assert_close(nt.positional(R, ("batch", "val")), r, rtol=1e-12, atol=1e-12)
    ratio = nt.calculus.remainder_ratio(f, A, D, H)
    assert abs(ratio - r.norm().item() / h.norm().item()) < 1e-12


def test_remainder_ratio_vanishes_only_for_the_derivative():
    X = nt.randn(seed=36, batch=2, ax=3)
    H = nt.randn(seed=37, ax=3, batch=2)

    def f(X):
        return nt.softmax(X, "ax")

    D = nt.calculus.derivative(f, X)
    lift = nt.calculus.softmax_derivative(X, "ax")          # no batch* axis
    good = [nt.calculus.remainder_ratio(f, X, D, t * H) for t in (1e-1, 1e-3)]
    bad = [nt.calculus.remainder_ratio(f, X, lift, t * H) for t in (1e-1, 1e-3)]
    assert good[1] < 2e-2 * good[0]                 # ∝ t
    assert bad[1] > 0.5 * bad[0] > 1e-2             # a constant


def _python_value(text, env):
    """The same formula evaluated by Python's own parser (⊙ as *, − as -)."""
    import ast

    src = text.replace("⊙", "*").replace("−", "-")
    tree = ast.parse(src, mode="eval")
    for node in ast.walk(tree):
        assert isinstance(node, (ast.Expression, ast.BinOp, ast.Mult, ast.Sub,
                                 ast.Name, ast.Load)), ast.dump(node)
    return eval(compile(tree, "<formula>", "eval"), {}, dict(env))


@settings(max_examples=40, deadline=None)
@given(st.recursive(st.sampled_from("abc"),
                    lambda e: st.tuples(e, st.sampled_from("⊙−"), e).map(
                        lambda t: f"({t[0]} {t[1]} {t[2]})")
                    | st.tuples(e, st.sampled_from("⊙−"), e).map(
                        lambda t: f"{t[0]} {t[1]} {t[2]}"),
                    max_leaves=6))
def test_evaluate_formula_against_python_precedence(text):
    env = {c: nt.randn(seed=40 + i, ax=3) for i, c in enumerate("abc")}
    got = nt.calculus.evaluate_formula(text, env)
    want = _python_value(text, env)
    assert nt.calculus.max_difference(got, want) < 1e-12


def test_evaluate_formula_contracts_over_the_named_axes():
    A = nt.randn(seed=44, seq=3, key=2)
    B = nt.randn(seed=45, key=2, seq=3, val=2)
    C = nt.randn(seed=46, val=2)
    got = nt.calculus.evaluate_formula("A ⊙_{seq,key} B − C", dict(A=A, B=B, C=C))
    want = nt.contract(A, B, over=("seq", "key")) - C
    assert nt.calculus.max_difference(got, want) < 1e-12
    with pytest.raises(SyntaxError):
        nt.calculus.evaluate_formula("A ⊙ (B − C", dict(A=A, B=B, C=C))


def _repairs_by_characters(text):
    """Brute force over characters: delete one parenthesis or insert one
    anywhere, keep what Python parses as products and differences of names."""
    import ast

    out = set()
    cands = [text[:k] + text[k + 1:] for k, c in enumerate(text) if c in "()"]
    cands += [text[:k] + p + text[k:] for p in "()" for k in range(len(text) + 1)]
    for c in cands:
        src = c.replace("⊙", "*").replace("−", "-")
        try:
            tree = ast.parse(src, mode="eval")
        except SyntaxError:
            continue
        if all(isinstance(n, (ast.Expression, ast.BinOp, ast.Mult, ast.Sub,
                              ast.Name, ast.Load)) for n in ast.walk(tree)):
            out.add(c.replace(" ", ""))
    return out


@pytest.mark.parametrize("text", ["a ⊙ (b − c))", "(a − b ⊙ (c ⊙ a)",
                                  "a − (b ⊙ (c − a))", "((a ⊙ b) − c))"])
def test_paren_repairs_against_brute_force(text):
    ours = {r.replace(" ", "") for r in nt.calculus.paren_repairs(text)}
    assert ours == _repairs_by_characters(text)
