r"""ntlib.notation: the paper's formulas parsed and evaluated (issue 24).

Every construct is checked against positional torch written from the paper's
definitions (softmax = exp / sum exp, var = mean of squared deviations,
norm_p = (sum |x|^p)^(1/p), indices from 1, ...), never against the ntlib
function that evaluate() calls; inputs are stored in several axis orders and
the sizes are all different, so an axis mix-up cannot cancel out.
"""

import itertools
import json
import math
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import ntlib as nt
from ntlib import notation as N
from ntlib.testing import assert_close, named

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIZES = {"height": 3, "width": 5, "seq": 4, "key": 6, "val": 2, "batch": 2}


def _data(seed, *axes, positive=False):
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(*(SIZES[a] for a in axes), generator=g, dtype=torch.float64)
    return d.abs() + 0.5 if positive else d


def _env(storage):
    """Positional data (fixed order) and named tensors stored in another order."""
    pos = {"A": (_data(1, "height", "width"), ("height", "width")),
           "B": (_data(2, "width", "height"), ("width", "height")),
           "P": (_data(3, "height", "width", positive=True), ("height", "width")),
           "Q": (_data(4, "batch", "key"), ("batch", "key")),
           "K": (_data(5, "seq", "key", "batch"), ("seq", "key", "batch")),
           "V": (_data(6, "seq", "val"), ("seq", "val")),
           "M": (_data(7, "seq", "batch"), ("seq", "batch")),
           "x": (_data(8, "height"), ("height",)),
           "y": (_data(9, "width"), ("width",))}
    env = {}
    for k, (d, axes) in pos.items():
        order = axes if storage == 0 else (axes[::-1] if storage == 1 else
                                           axes[1:] + axes[:1])
        env[k] = named(d, axes, storage=order)
    env["\\alpha"] = 1.7
    return {k: v[0] for k, v in pos.items()}, env


def t(name, pos):
    return pos[name]


def _softmax(d, dim):
    e = torch.exp(d)
    return e / e.sum(dim, keepdim=True)


# (formula, expected axes order, positional reference from the paper's definitions)
CASES = [
    (r"A_{\height(1), \width(3)}", (), lambda p: p["A"][0, 2]),
    (r"A_{\height(3)}", ("width",), lambda p: p["A"][2]),
    (r"A_{\width(5)}", ("height",), lambda p: p["A"][:, 4]),
    (r"\nsum{\height} A", ("width",), lambda p: p["A"].sum(0)),
    (r"\nsum{\height \\ \width} A", (), lambda p: p["A"].sum()),
    (r"\sum_{\width} A", ("height",), lambda p: p["A"].sum(1)),
    (r"A + x", ("height", "width"), lambda p: p["A"] + p["x"][:, None]),
    (r"A + y - B", ("height", "width"), lambda p: p["A"] + p["y"][None] - p["B"].T),
    (r"A \odot B", ("height", "width"), lambda p: p["A"] * p["B"].T),
    (r"A \ndot{\width} B", ("height",), lambda p: (p["A"] * p["B"].T).sum(1)),
    (r"A \ndot{\height \\ \width} B", (), lambda p: (p["A"] * p["B"].T).sum()),
    (r"x \ndot{\height} A", ("width",), lambda p: p["x"] @ p["A"]),
    (r"A \ndot{\width} y", ("height",), lambda p: p["A"] @ p["y"]),
    (r"x \odot y", ("height", "width"), lambda p: p["x"][:, None] * p["y"][None]),
    (r"\nfun{\width}{softmax} A", ("height", "width"), lambda p: _softmax(p["A"], 1)),
    (r"\nfun{\height}{softmax} A", ("height", "width"), lambda p: _softmax(p["A"], 0)),
    (r"\nfun{\width}{softmax} \alpha A", ("height", "width"),
     lambda p: _softmax(1.7 * p["A"], 1)),
    (r"\nfun{\height}{max} A", ("width",), lambda p: p["A"].amax(0)),
    (r"\nfun{\width}{min} A", ("height",), lambda p: p["A"].amin(1)),
    (r"\nfun{\width}{mean} A", ("height",), lambda p: p["A"].sum(1) / 5),
    (r"\nfun{\width}{var} A", ("height",),
     lambda p: ((p["A"] - p["A"].sum(1, keepdim=True) / 5) ** 2).sum(1) / 5),
    (r"\nfun{\height}{norm} A", ("width",), lambda p: (p["A"] ** 2).sum(0) ** 0.5),
    (r"\nfun{\height}{norm_3} A", ("width",),
     lambda p: (p["A"].abs() ** 3).sum(0) ** (1 / 3)),
    (r"\nfun{\width}{argmax} A", ("height", "width"),
     lambda p: (p["A"] == p["A"].amax(1, keepdim=True)).double()),
    (r"\nfun{\height}{argmin} A", ("height", "width"),
     lambda p: (p["A"] == p["A"].amin(0, keepdim=True)).double()),
    (r"\nfun{\width}{index}(A, 2)", ("height",), lambda p: p["A"][:, 1]),
    (r"\exp A", ("height", "width"), lambda p: torch.exp(p["A"])),
    (r"\log P", ("height", "width"), lambda p: torch.log(p["P"])),
    (r"\sigma(A)", ("height", "width"), lambda p: 1 / (1 + torch.exp(-p["A"]))),
    (r"\tanh A", ("height", "width"), lambda p: torch.tanh(p["A"])),
    (r"\text{relu}(A)", ("height", "width"), lambda p: p["A"].clamp(min=0)),
    (r"\mathrm{ReLU}(A - 0.5)", ("height", "width"), lambda p: (p["A"] - 0.5).clamp(min=0)),
    (r"\sqrt{P}", ("height", "width"), lambda p: p["P"] ** 0.5),
    (r"\frac{A}{P}", ("height", "width"), lambda p: p["A"] / p["P"]),
    (r"\frac12 A", ("height", "width"), lambda p: p["A"] / 2),
    (r"2 A^2", ("height", "width"), lambda p: 2 * p["A"] ** 2),
    (r"-A", ("height", "width"), lambda p: -p["A"]),
    (r"|\width| A", ("height", "width"), lambda p: 5 * p["A"]),
    (r"\frac{A}{\sqrt{|\height|}}", ("height", "width"), lambda p: p["A"] / 3 ** 0.5),
    (r"A_{\height \to \seq}", ("seq", "width"), lambda p: p["A"]),
    (r"A_{\height \to \width', \width \to \height'}", ("width'", "height'"), lambda p: p["A"]),
    (r"A_{(\height, \width) \to \layer}", ("layer",), lambda p: p["A"].reshape(-1)),
    (r"x \ncat{\height} x", ("height",), lambda p: torch.cat([p["x"], p["x"]])),
    (r"\left(A + x\right)_{\height(2)}", ("width",), lambda p: p["A"][1] + p["x"][1]),
    (r"\left(\nfun{\seq}{softmax} \frac{Q \ndot{\key} K}{\sqrt{|\key|}}\right) \ndot{\seq} V",
     ("batch", "val"),
     lambda p: torch.einsum("sb,sv->bv", _softmax(
         torch.einsum("bk,skb->sb", p["Q"], p["K"]) / 6 ** 0.5, 0), p["V"])),
    (r"\left(\nfun{\seq}{softmax} \left(\frac{Q \ndot{\key} K}{\sqrt{|\key|}} + M\right)"
     r"\right) \ndot{\seq} V", ("batch", "val"),
     lambda p: torch.einsum("sb,sv->bv", _softmax(
         torch.einsum("bk,skb->sb", p["Q"], p["K"]) / 6 ** 0.5 + p["M"], 0), p["V"])),
]

# formulas written in the paper's macros that the book does not contain
NOT_IN_BOOK = [
    (r"\nsum{\height \\ \width} A \odot B", (), lambda p: (p["A"] * p["B"].T).sum()),
    (r"\nfun{\width}{softmax} \left(2 A - \nfun{\width}{max} A\right)", ("height", "width"),
     lambda p: _softmax(2 * p["A"] - p["A"].amax(1, keepdim=True), 1)),
    (r"\nfun{\seq}{argmax} \left(Q \ndot{\key} K\right)", ("seq", "batch"),
     lambda p: (lambda s: (s == s.amax(0, keepdim=True)).double())(
         torch.einsum("bk,skb->sb", p["Q"], p["K"]))),
    (r"\frac{A - \nfun{\width}{mean} A}{\sqrt{\nfun{\width}{var} A + 0.25}}",
     ("height", "width"),
     lambda p: (p["A"] - p["A"].mean(1, keepdim=True)) /
     (p["A"].var(1, unbiased=False, keepdim=True) + 0.25) ** 0.5),
    (r"|\height| \nfun{\height}{mean} A - \nsum{\height} A", ("width",),
     lambda p: 3 * p["A"].mean(0) - p["A"].sum(0)),
    (r"\text{relu}(A) - \text{relu}(-A)", ("height", "width"), lambda p: p["A"]),
    (r"\left(A \ndot{\width} B\right)_{\height(2)}", (), lambda p: (p["A"] @ p["B"])[1, 1]),
    (r"\nfun{\height}{mean} \left(A - \nfun{\height}{mean} A\right)^2", ("width",),
     lambda p: p["A"].var(0, unbiased=False)),
    (r"\nfun{\width}{norm_1} \left(A - B\right)", ("height",),
     lambda p: (p["A"] - p["B"].T).abs().sum(1)),
    (r"\exp \nfun{\width}{max} A \odot x", ("height",),
     lambda p: torch.exp((p["A"] * p["x"][:, None]).amax(1))),   # \nfun reaches to the end
    (r"\frac{\exp A}{\nsum{\width} \exp A} \ndot{\width} y", ("height",),
     lambda p: _softmax(p["A"], 1) @ p["y"]),
    (r"\sigma\left(A \ndot{\width} y + x\right)_{\height \to \out}", ("out",),
     lambda p: torch.sigmoid(p["A"] @ p["y"] + p["x"])),
    (r"\left(x \odot y\right)_{\height(3), \width(1)} + A_{\height(1)} \ndot{\width} y", (),
     lambda p: p["x"][2] * p["y"][0] + p["A"][0] @ p["y"]),
    # attention's shape with a Q that has seq: nt.attention refuses it, the formula
    # is then evaluated operation by operation (the same value)
    (r"\left(\nfun{\seq}{softmax} \frac{K \ndot{\key} K}{\sqrt{|\key|}}\right) \ndot{\seq} V",
     ("batch", "val"),
     lambda p: torch.einsum("sb,sv->bv", _softmax(
         torch.einsum("skb,skb->sb", p["K"], p["K"]) / 6 ** 0.5, 0), p["V"])),
    (r"\nfun{\height}{softmax} \alpha \left(x \ncat{\height} x\right)", ("height",),
     lambda p: _softmax(1.7 * torch.cat([p["x"], p["x"]]), 0)),
]


@pytest.mark.parametrize("storage", [0, 1, 2])
@pytest.mark.parametrize("formula,order,ref", CASES + NOT_IN_BOOK,
                         ids=[c[0][:40] for c in CASES + NOT_IN_BOOK])
def test_construct_against_positional_torch(formula, order, ref, storage):
    pos, env = _env(storage)
    got = N.evaluate(formula, env)
    want = ref(pos)
    if order:
        assert_close(got, want, order=order)
    else:
        assert torch.allclose(torch.as_tensor(got, dtype=torch.float64), want)


def test_attention_shortcut_and_as_written_agree(monkeypatch):
    pos, env = _env(2)
    f = CASES[-1][0]
    fast, slow = N.evaluate(f, env), N.evaluate(f, env, as_written=True)
    assert_close(fast, slow)
    # as_written never calls the block; the default does
    calls = []
    monkeypatch.setattr(nt.nn, "attention", lambda *a, **k: calls.append(a))
    N._compile.cache_clear()
    N.evaluate(f, env, as_written=True)
    assert calls == []
    N.evaluate(f, env)
    assert len(calls) == 1
    N._compile.cache_clear()


def test_a_broken_definition_is_caught():
    # the check can fail: population vs sample variance differ on this data
    pos, env = _env(0)
    got = N.evaluate(r"\nfun{\width}{var} A", env)
    with pytest.raises(AssertionError):
        assert_close(got, pos["A"].var(1), order=("height",))


def test_running_example_of_section_2():
    A = nt.tensor([[3., 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"))
    assert N.sides(r"A_{\height(1), \width(3)} = 4", {"A": A}) == [torch.tensor(4.), 4]
    assert N.evaluate(r"A_{\height(3)}", {"A": A}).data.tolist() == [2., 6., 5.]


def test_index_with_a_named_tensor_of_indices_is_one_based():
    pos, env = _env(1)
    I = nt.tensor(torch.tensor([5, 1, 2]), "subseq")
    got = N.evaluate(r"\nfun{\width}{index}(A, I)", {**env, "I": I})
    assert_close(got, pos["A"][:, [4, 0, 1]], order=("height", "subseq"))
    got = N.evaluate(r"A_{\width(I)}", {**env, "I": I})
    assert_close(got, pos["A"][:, [4, 0, 1]], order=("height", "subseq"))
    with pytest.raises(nt.AxisError, match="width"):
        N.evaluate(r"A_{\width(0)}", env)


def test_equations_and_sides():
    pos, env = _env(2)
    f = r"\nfun{\width}{softmax} A = \frac{\exp A}{\nsum{\width} \exp A}"
    node = N.parse(f)
    assert isinstance(node, N.Equation) and len(node.sides) == 2
    left, right = N.sides(f, env)
    assert_close(left, right)
    assert N.evaluate(f, env) is not None
    assert len(N.sides(r"a = b := c \coloneqq d", {"a": 1, "b": 2, "c": 3, "d": 4})) == 4
    assert N.evaluate(r"a = b", {"a": 1, "b": 2}) == 2
    assert N.sides("a + 1", {"a": 1}) == [2]


def test_names_superscripts_primes_and_functions():
    X0 = nt.randn(seed=0, layer=3)
    env = {"X^{0}": X0, "W^{l,Q}": 2.0, "X'": 3.0, "\\gamma": 0.5, "x_1": 4.0}
    assert_close(N.evaluate(r"X^0 \odot W^{l,Q}", env), X0 * 2)
    assert_close(N.evaluate(r"X^{0}", env), X0)
    assert N.evaluate(r"X' \gamma x_1", env) == 6.0
    assert N.evaluate(r"\gamma^2", env) == 0.25               # not bound: a power
    called = []
    env2 = {"Attention": lambda *a: called.append(a) or 7.0, "LayerNorm^l": lambda x: x + 1}
    assert N.evaluate(r"\text{Attention}(1, 2; 3)", env2) == 7.0 and called == [(1, 2, 3)]
    assert N.evaluate(r"\mathrm{LayerNorm}^l(1)", env2) == 2
    assert N.evaluate(r"f(2)", {"f": lambda v: v * 10}) == 20
    assert N.evaluate(r"\Phi(2) + \mathrm{g}(1)", {"\\Phi": lambda v: v * 10,
                                                    "g": lambda v: -v}) == 19
    assert N.evaluate(r"\softmax(3) - \Attn(1, 2)", {"\\softmax": lambda v: v + 1,
                                                     "\\Attn": max}) == 2
    assert N.evaluate(r"c(2)", {"c": 3}) == 6                 # not a function: a product


def test_starred_tensor_renames_every_axis():
    pos, env = _env(1)
    got = N.evaluate(r"A^* \ndot{\height^*} A_{\height \to \height^*}", env)
    assert_close(got, torch.einsum("hw,hv->wv", pos["A"], pos["A"]), order=("width*", "width"))


def test_sizes():
    env = {"A": nt.randn(seed=0, height=3, width=4)}
    assert N.evaluate(r"|\height| + |\name{width}|", env) == 7
    assert N.evaluate(r"|\seq|", {**env, "|seq|": 9}) == 9
    with pytest.raises(nt.AxisError, match="'seq'"):
        N.evaluate(r"|\seq|", env)
    with pytest.raises(nt.AxisError, match="'height'.*different sizes"):
        N.evaluate(r"|\height|", {**env, "B": nt.randn(seed=1, height=5)})


@pytest.mark.parametrize("formula,token,column", [
    (r"A + * B", "*", 5),
    (r"\nfun{\ax}{1} A", "{", 11),
    (r"A_{\height(1)", "end of formula", 14),
    (r"\frac{A}", "end of formula", 9),
    (r"A \ndot{\nope} B", "\\nope", 9),
    (r"(A + B", "end of formula", 7),
    (r"A + B)", ")", 6),
    (r"\nfun{\height \\ \width}{softmax} A", "{", 25),
    (r"\foo A", "\\foo", 1),
    (r"A_{\height \to }", "}", 16),
])
def test_notation_errors_name_token_and_column(formula, token, column):
    with pytest.raises(N.NotationError) as info:
        N.parse(formula)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.token, err.column) == (token, column)
    assert f"'{token}'" in str(err) and f"column {column}" in str(err)


def test_a_function_of_axes_from_the_bindings():
    X = nt.randn(seed=0, layer=4, seq=3)
    g, b = nt.randn(seed=1, layer=4), nt.randn(seed=2, layer=4)
    seen = []

    def standardize(x, *axes):
        seen.append(axes)
        return nt.standardize(x, axes)
    env = {"X": X, "\\gamma": g, "\\beta": b, "standardize": standardize}
    want = nt.layer_norm(X, g, b, chans=None)
    for f in (r"\nfun{\layer}{standardize}(X) \odot \gamma + \beta",
              r"\operatorname{standardize}_{\layer}(X) \odot \gamma + \beta"):
        assert_close(N.evaluate(f, env), want)    # the parentheses take only X
    assert seen == [("layer",), ("layer",)]
    # without parentheses it reaches to the end of the product, like \nfun
    got = N.evaluate(r"\nfun{\layer \\ \seq}{standardize} 2 X", env)
    assert_close(got, nt.standardize(2 * X, ("layer", "seq")))
    with pytest.raises(N.UnboundError) as info:
        N.evaluate(r"\nfun{\layer}{foo} X", env)
    assert (info.value.token, info.value.column) == ("foo", 14)
    with pytest.raises(TypeError, match="'X'.*not a function"):
        N.evaluate(r"\nfun{\layer}{X} X", env)


def test_absent_axis_and_unbound_variable():
    env = {"A": nt.randn(seed=0, height=3, width=4)}
    with pytest.raises(nt.AxisError, match="'seq'"):
        N.evaluate(r"\nsum{\seq} A", env)
    with pytest.raises(nt.AxisError, match="'seq'"):
        N.evaluate(r"\nfun{\seq}{softmax} A", env)
    with pytest.raises(nt.AxisError, match="'seq'"):
        N.evaluate(r"A_{\seq(1)}", env)
    with pytest.raises(N.UnboundError, match="'B'") as info:
        N.evaluate(r"A + B", env)
    assert isinstance(info.value, KeyError) and isinstance(info.value, N.NotationError)
    assert (info.value.token, info.value.column) == ("B", 5)
    with pytest.raises(N.UnboundError, match="'Attention'"):
        N.evaluate(r"\text{Attention}(A)", env)


def test_macro_table_is_the_books():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    assert N.MACROS == macros
    assert N.AXIS_MACROS["inp"] == "input" and N.AXIS_MACROS["dd"] == "d"
    assert set(N.AXIS_MACROS) >= {"height", "width", "seq", "key", "val", "layer"}
    # the paper's own set, where this checkout has it beside the repository
    shared = ROOT.parent.parent / "shared" / "paper" / "mathjax-macros.json"
    if shared.exists():
        paper = json.loads(shared.read_text())
        assert {k: N.MACROS[k] for k in paper} == paper


# --------------------------------------------------------------------------
# latex(): code printed back as the notation

def _roundtrip(fn, *args):
    text = N.latex(fn, *args)
    node, env = N.trace(fn, *args)
    assert N.to_latex(node) == text
    got = N.evaluate(text, env)
    with nt.plain():
        want = fn(*args)
    assert_close(got, want)
    return text


def test_latex_attention_round_trip():
    Q = named(_data(4, "batch", "key"), ("batch", "key"), storage=("key", "batch"))
    K = nt.randn(seed=1, key=6, seq=4)
    V = nt.randn(seed=2, val=2, seq=4)
    M = nt.randn(seed=3, seq=4)
    text = _roundtrip(nt.attention, Q, K, V)
    assert text == (r"\left(\nfun{\seq}{softmax} \frac{Q \ndot{\key} K}{\sqrt{|\key|}}"
                    r"\right) \ndot{\seq} V")
    assert "+ M" in _roundtrip(nt.attention, Q, K, V, M)


def test_latex_layer_norm_and_ffn_round_trip():
    X = nt.randn(seed=0, batch=2, chans=3, layer=5)
    gamma, beta = nt.randn(seed=1, chans=3, layer=5), nt.randn(seed=2, chans=3, layer=5)
    text = _roundtrip(nt.layer_norm, X, gamma, beta)
    assert r"\odot \gamma + \beta" in text and r"\nfun{\chans \\ \layer}{mean}" in text
    W1, b1 = nt.randn(seed=3, layer=5, hidden=7), nt.randn(seed=4, hidden=7)
    W2, b2 = nt.randn(seed=5, hidden=7, layer=5), nt.randn(seed=6, layer=5)
    text = _roundtrip(nt.models.ffn, X, W1, b1, W2, b2)
    assert text == (r"\text{relu}\left(X \ndot{\layer} W^1 + b^1\right) \ndot{\hidden} W^2"
                    r" + b^2")
    x, W, b = nt.randn(seed=7, layer=4), nt.randn(seed=8, out=3, layer=4), nt.randn(seed=9, out=3)
    assert _roundtrip(nt.full_conn, x, W, b).endswith(r"_{\out \to \layer}")


def test_latex_self_attention_and_a_lambda():
    X = nt.randn(seed=1, batch=2, seq=3, layer=4)
    WQ, WK = nt.randn(seed=6, heads=2, layer=4, key=2), nt.randn(seed=7, heads=2, layer=4, key=2)
    WV, WO = nt.randn(seed=8, heads=2, layer=4, val=2), nt.randn(seed=9, heads=2, val=2, layer=4)
    text = _roundtrip(nt.models.self_attention, X, WQ, WK, WV, WO)
    assert "W^Q" in text and r"\ndot{\heads \\ \val} W^O" in text
    text = _roundtrip(lambda A, scores: nt.softmax(nt.sum(A * scores, "seq") * 2.0, "batch"),
                      X, X)
    assert r"\mathit{scores}" in text
    # the primitives are restored after tracing
    assert nt.contract is N.core.contract and "rec" not in type(X).__add__.__name__


# --------------------------------------------------------------------------
# properties: printed trees parse back to the same values; parse never crashes

_AX = {"height": 3, "width": 4, "layer": 12}
_ENV = {"A": nt.randn(seed=11, height=3, width=4),
        "B": named(torch.randn(4, 3, generator=torch.Generator().manual_seed(12),
                               dtype=torch.float64), ("width", "height"),
                   storage=("height", "width")),
        "x": nt.randn(seed=13, height=3), "y": nt.randn(seed=14, width=4), "c": 0.75}
_LEAVES = [(N.Var("A"), {"height", "width"}), (N.Var("B"), {"height", "width"}),
           (N.Var("x"), {"height"}), (N.Var("y"), {"width"}), (N.Var("c"), set()),
           (N.Num(2), set()), (N.Num(0.5), set()), (N.Size("width"), set())]


def _extend(children):
    def unary(pair):
        node, axes = pair
        return st.one_of(
            st.just((N.Neg(node), axes)),
            st.sampled_from(["tanh", "sigma", "relu", "abs"]).map(
                lambda f: (N.Lift(f, node), axes)),
            st.just((N.Lift("sqrt", N.Add("+", N.Lift("abs", node), N.Num(1))), axes)),
            st.just((N.Pow(node, N.Num(2), "2"), axes)),
            *([st.tuples(st.sampled_from(["sum", "mean", "max", "min", "var", "norm"]),
                         st.sampled_from(sorted(axes))).map(
                lambda fa: (N.Reduce(fa[0], (fa[1],), node), axes - {fa[1]}))] if axes else []),
            *([st.sampled_from(sorted(axes)).map(
                lambda a: (N.Reduce("softmax", (a,), node), axes))] if axes else []),
            *([st.sampled_from(sorted(axes)).flatmap(lambda a: st.integers(1, _AX[a]).map(
                lambda i: (N.Select(node, ((a, N.Num(i)),)), axes - {a})))] if axes else []),
            *([st.just((N.Rename(N.Rename(node, (("height", "seq"),)), (("seq", "height"),)),
                        axes))] if "height" in axes else []),
            *([st.sampled_from(sorted(axes)).flatmap(lambda a: st.integers(1, _AX[a]).map(
                lambda i: (N.IndexFn(a, node, N.Num(i)), axes - {a})))] if axes else []),
            *([st.just((N.Flatten(node, ("height", "width"), "layer"),
                        axes - {"height", "width"} | {"layer"}))]
              if {"height", "width"} <= axes and "layer" not in axes else []),
        )

    def binary(pair):
        (l, la), (r, ra) = pair
        ops = [st.just((N.Add("+", l, r), la | ra)), st.just((N.Add("-", l, r), la | ra)),
               st.just((N.Mul("*", l, r, "\\odot"), la | ra)),
               st.just((N.Mul("*", l, r, " "), la | ra)),
               st.just((N.Mul("/", l, N.Add("+", N.Lift("abs", r), N.Num(1)), "\\frac"),
                        la | ra))]
        common = sorted(la & ra)
        if common:
            ops.append(st.sampled_from(common).map(
                lambda a: (N.Contract((a,), l, r), (la | ra) - {a})))
        return st.one_of(*ops)

    return st.one_of(children.flatmap(unary), st.tuples(children, children).flatmap(binary))


_TREES = st.recursive(st.sampled_from(_LEAVES), _extend, max_leaves=6)


def _same(a, b):
    if nt.core.NamedTensor in type(a).__mro__:
        assert_close(a, b, equal_nan=True)
    else:
        assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(float(a)) and math.isnan(float(b)))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_TREES)
def test_printed_trees_parse_back_to_the_same_value(pair):
    tree, _ = pair
    text = N.to_latex(tree)
    back = N.parse(text)
    _same(N.evaluate(back, _ENV), N.evaluate(tree, _ENV))


_PIECES = ["A", "x", "2", "0.5", "+", "-", "*", "/", "=", "(", ")", "{", "}", "[", "]", "|",
           "_", "^", "'", ",", "\\\\", "\\ndot", "\\nsum", "\\nfun", "\\frac", "\\sqrt",
           "\\height", "\\width", "\\name", "\\to", "\\left(", "\\right)", "\\exp",
           "\\sigma", "\\text", "softmax", "max", "\\odot", "\\ncat", "\\nbin", "\\left.",
           "\\right|", "\\alpha", "\\restrict", " ", "relu", "index", ":", ";", "\\inax"]


@settings(max_examples=400)
@given(st.one_of(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join),
                 st.lists(st.sampled_from(_PIECES), max_size=14).map(" ".join),
                 st.text(max_size=20)))
def test_parse_never_crashes(text):
    try:
        node = N.parse(text)
    except N.NotationError:
        return
    assert isinstance(node, N.Node)
    N.to_latex(node)


def test_deep_nesting_is_a_notation_error():
    with pytest.raises(N.NotationError):
        N.parse("(" * 5000 + "A" + ")" * 5000)


# --------------------------------------------------------------------------
# speed sanity (the timings are in benchmarks/bench_notation.py)

def test_parse_is_cached_and_fast():
    f = r"\nfun{\seq}{softmax} \frac{Q \ndot{\key} K}{\sqrt{|\key|}}"
    assert N.parse(f) is N.parse(f)
    formulas = [formula for formula, *_ in CASES + NOT_IN_BOOK]
    many = [f"{f} + {k}" for k in range(8) for f in formulas]     # ~480 distinct
    N.parse.cache_clear()
    start = time.perf_counter()
    for f in many:
        N.parse(f)
    elapsed = time.perf_counter() - start
    assert N.parse.cache_info().misses == len(set(many))
    assert elapsed < 5, f"parsing {len(many)} formulas took {elapsed:.2f} s"


# --------------------------------------------------------------------------
# %%ntn in a fresh IPython

def test_ntn_cell_magic_in_a_fresh_ipython():
    script = textwrap.dedent(r'''
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "ntlib.notation")
        ip.run_cell("import ntlib as nt\n"
                    "Q = nt.randn(seed=0, batch=2, key=4)\n"
                    "K = nt.randn(seed=1, seq=3, key=4)\n"
                    "V = nt.randn(seed=2, seq=3, val=5)\n"
                    "gamma = 2.0\n")
        r = ip.run_cell("%%ntn\n"
                        "S = \\frac{Q \\ndot{\\key} K}{\\sqrt{|\\key|}}  % scores\n"
                        "Y = \\left(\\nfun{\\seq}{softmax} S\\right)\n"
                        "    \\ndot{\\seq} V\n"
                        "\\gamma Y\n")
        assert r.success, r.error_in_exec
        ns = ip.user_ns
        nt = ns["nt"]
        assert nt.allclose(ns["Y"], nt.attention(ns["Q"], ns["K"], ns["V"]))
        assert nt.allclose(r.result, 2 * ns["Y"])
        r = ip.run_cell("%%ntn\nZ = Q + W\n")
        assert not r.success and "'W'" in str(r.error_in_exec)
        print("OK")
    ''')
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK" in out.stdout
    assert "<IPython.core.display.Math object>" in out.stdout      # the formulas typeset


_ = itertools
