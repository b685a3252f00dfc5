"""The exercises' checker, over every exercise id (generic: nothing here knows
one exercise from another).

For each id: the reference solution passes; the exercise is well posed (at
least three cases, and an answer that ignores its input fails); wrong answers
derived automatically from the reference are rejected with an ExerciseError
whose message names the case; report() prints "not yet" for a stub and never
raises.
"""

import time

import pytest
import torch

import ntlib as nt
from ntlib.exercises import ExerciseError, check, get, ids, report, solution

IDS = ids()
FUNCTION_IDS = [i for i in IDS if get(i).kind == "function"]
OTHER_IDS = [i for i in IDS if get(i).kind in ("value", "choice")]   # formulas: test_formula_exercises.py


def _is_named(x):
    return isinstance(x, nt.NamedTensor) and not isinstance(x, (int, float)) \
        and hasattr(x, "data") and isinstance(x.data, torch.Tensor)


def test_ids_in_book_order():
    assert IDS, "no exercises registered"
    chapters = [i for i in IDS if i[0].isdigit()]
    appendices = [i for i in IDS if i[0].isalpha()]
    assert IDS == chapters + appendices
    key = [(int(i.split(".")[0]), int(i.split(".")[1])) for i in chapters]
    assert key == sorted(key)
    assert len(set(IDS)) == len(IDS)
    assert {"0.1", "1.1", "2.1", "3.1", "4.1", "A1.1", "A2.1", "A3.1"} <= set(IDS)


@pytest.mark.parametrize("id", IDS)
def test_solution_passes_quickly(id, capsys):
    t = time.perf_counter()
    assert check(id, solution(id)) is True
    assert time.perf_counter() - t < 1.0, f"exercise {id}: check takes over 1 s"
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("id", IDS)
def test_well_posed(id):
    nt.exercises.validate(id)


def _expected(id):
    ex = get(id)
    return [(desc, kw, ex.reference(**kw)) for desc, kw in ex.cases()]


def _wrong_answers(id):
    """Wrong answers derived from the reference: (what, function)."""
    ref = solution(id)
    first = _expected(id)[0][2]
    out = {}

    def scaled(**kw):
        y = ref(**kw)
        if _is_named(y):
            if y.data.is_floating_point():
                return y * 2
            return y + 1
        if isinstance(y, (int, float)) and not isinstance(y, bool):
            return y * 2 + 1
        if isinstance(y, dict):
            return {**y, "extra": 1}
        return "something else"
    out["scaled by 2 (+1 for integers)"] = scaled

    if _is_named(first) and nt.names(first):
        def renamed(**kw):
            y = ref(**kw)
            a = nt.names(y)[0]
            return nt.rename(y, {a: a + "_renamed"})

        def summed_out(**kw):
            y = ref(**kw)
            return nt.sum(y, nt.names(y)[0])
        out["an axis renamed"] = renamed
        out["an axis summed out"] = summed_out

    def raises(**kw):
        raise nt.AxisError("axis 'nope' is not an axis of the tensor")
    out["raises AxisError"] = raises

    def crashes(**kw):
        return 1 / 0
    out["raises ZeroDivisionError"] = crashes

    def constant(**kw):
        return first
    out["a constant: the first case's answer"] = constant
    return out


@pytest.mark.parametrize("id", FUNCTION_IDS)
def test_wrong_functions_rejected(id):
    cases = [desc for desc, _ in get(id).cases()]
    for what, wrong in _wrong_answers(id).items():
        with pytest.raises(ExerciseError) as err:
            check(id, wrong)
        msg = str(err.value)
        assert f"exercise {id}, case " in msg, (what, msg)
        assert any(repr(c) in msg for c in cases), (what, msg)
        if what.startswith("raises"):
            assert "your function raised" in msg, msg
        if what == "an axis renamed":
            assert "_renamed" in msg, msg


@pytest.mark.parametrize("id", FUNCTION_IDS)
def test_wrong_functions_reported_not_raised(id, capsys):
    for wrong in _wrong_answers(id).values():
        assert report(id, wrong) is None
        assert capsys.readouterr().out.startswith("not yet: ")


@pytest.mark.parametrize("id", FUNCTION_IDS)
def test_not_a_function_rejected(id):
    with pytest.raises(ExerciseError, match="should be a function"):
        check(id, 42)


@pytest.mark.parametrize("id", OTHER_IDS)
def test_wrong_value_or_choice_rejected(id):
    ex = get(id)
    right = ex.reference()
    if ex.kind == "choice":
        wrongs = [c for c in ex.choices if c != right] + ["z", None]
    elif isinstance(right, dict):
        wrongs = [{k: v + 1 for k, v in right.items()},
                  {k: v for k, v in list(right.items())[:-1]}, None]
    else:
        wrongs = [right * 2 + 1, right + 1, -right, "text", None]
    assert right not in wrongs
    for w in wrongs:
        with pytest.raises(ExerciseError, match=f"exercise {id}"):
            check(id, w)
    assert check(id, right) is True


@pytest.mark.parametrize("id", IDS)
def test_stub_reports_not_yet(id, capsys):
    """The reader's stub: a function whose body is `...`, or the value `...`."""
    if get(id).kind == "function":
        def stub(*args, **kwargs):
            ...
        answer = stub
    else:
        answer = ...
    assert report(id, answer) is None
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and "no answer yet" in " ".join(out.split()), out
    assert max(len(line) for line in out.splitlines()) <= 79   # no scrolling


def test_report_never_raises_on_odd_answers(capsys):
    for id in IDS:
        for odd in (None, ..., "x", 3, torch.zeros(2), lambda *a, **k: None,
                    lambda *a, **k: torch.zeros(2), lambda *a, **k: {"a": 1}):
            assert report(id, odd) is None
    capsys.readouterr()


def test_unknown_id():
    with pytest.raises(KeyError, match="no exercise"):
        check("9.99", lambda: None)


# --------------------------------------------------------------------------
# The references themselves, against INDEPENDENT positional computations
# (torch.nn.functional, plain torch, loops), on every case of every exercise.
# The generic tests above only show that the checker rejects answers that
# differ from the reference; these show that the reference is right.

import math  # noqa: E402

import torch.nn.functional as F  # noqa: E402


def _extras(kw, formula_axes):
    """The axes of the case's tensors that the formula does not mention (lifted)."""
    axes = set()
    for v in kw.values():
        if _is_named(v):
            axes |= set(nt.names(v))
    return sorted(axes - set(formula_axes))


def _p(x, E, *tail):
    return nt.positional(x, tuple(E) + tuple(tail)).double()


def _ref_0_1(A):
    E = _extras(dict(A=A), ("height", "width"))
    return _p(A, E, "height", "width").sum(-2), E + ["width"]


def _ref_1_1(Q, K):
    E = _extras(dict(Q=Q, K=K), ("seq", "seq'", "key"))
    many = "seq'" in nt.names(Q)
    q = _p(Q, E, *(["seq'"] if many else []), "key")
    q = q if many else q.unsqueeze(-2)
    k = _p(K, E, "seq", "key")
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(k.shape[-1]), dim=-1)
    return (w, E + ["seq'", "seq"]) if many else (w.squeeze(-2), E + ["seq"])


def _ref_1_3(Q, K, V):
    E = _extras(dict(Q=Q, K=K, V=V), ("height", "width", "key", "val"))
    k = _p(K, E, "height", "width", "key").flatten(-3, -2)
    v = _p(V, E, "height", "width", "val").flatten(-3, -2)
    q = _p(Q, E, "key")
    a = torch.softmax((k @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(k.shape[-1]), -1)
    return (a.unsqueeze(-2) @ v).squeeze(-2), E + ["val"]


def _ref_2_2(S, T):
    for a in S:
        if a in T and T[a] != S[a]:
            return None
    out = dict(S)
    out.update(T)
    return out


def _ref_2_3(X, r):
    return float(nt.positional(X, tuple(r))[tuple(r.values())])


def _ref_3_1(x, A, y):
    E = _extras(dict(x=x, A=A, y=y), ("height", "width"))
    xs, As, ys = _p(x, E, "height"), nt.positional(A, ("height", "width")), _p(y, E, "width")
    return torch.einsum("...h,hw,...w->...", xs, As.double(), ys), E


def _ref_3_2(X):
    E = _extras(dict(X=X), ("height", "width"))
    x = _p(X, E, "height", "width")
    return torch.softmax(x.flatten(-2), -1).reshape(x.shape), E + ["height", "width"]


def _ref_3_3(X):
    E = _extras(dict(X=X), ("seq", "layer"))
    x = _p(X, E, "seq", "layer")
    return x @ x.transpose(-1, -2), E + ["seq", "seq'"]


def _ref_3_4(X, C):
    E = _extras(dict(X=X, C=C), ("batch", "d", "clusters"))
    x, c = _p(X, E, "batch", "d"), _p(C, E, "clusters", "d")
    q = F.one_hot(torch.cdist(x, c).argmin(-1), c.shape[-2]).double()   # (E, batch, clusters)
    return (q.transpose(-1, -2) @ x) / q.sum(-2).unsqueeze(-1), E + ["clusters", "d"]


def _ref_4_1(x, W, b):
    E = _extras(dict(x=x, W=W, b=b), ("layer", "layer'"))
    out = torch.tanh(F.linear(_p(x, E, "layer"), _p(W, [], "layer'", "layer"),
                              _p(b, [], "layer'")))
    return out, E + ["layer"]


def _ref_4_2(Q, K, V, w):
    E = _extras(dict(Q=Q, K=K, V=V), ("seq", "seq'", "key", "val"))
    q, k, v = _p(Q, E, "seq'", "key"), _p(K, E, "seq", "key"), _p(V, E, "seq", "val")
    n = k.shape[-2]
    allowed = torch.tensor([[j - w < i <= j for i in range(n)] for j in range(n)])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), E + ["seq'", "val"]


def _ref_4_3(X, kh, kw):
    E = _extras(dict(X=X), ("height", "width"))
    x = _p(X, E, "height", "width")
    y = F.avg_pool2d(x.reshape(-1, 1, *x.shape[-2:]), (kh, kw))
    return y.reshape(*x.shape[:-2], *y.shape[-2:]), E + ["height", "width"]


def _ref_4_4(X, gamma):
    E = _extras(dict(X=X, gamma=gamma), ("layer",))
    x = _p(X, E, "layer")
    return F.rms_norm(x, (x.shape[-1],), _p(gamma, [], "layer"), eps=1e-5), E + ["layer"]


def _pe(n, d):
    P = torch.zeros(n, d, dtype=torch.float64)
    for p in range(1, n + 1):          # the paper's 1-based formula, entry by entry
        for i in range(1, d + 1):
            P[p - 1, i - 1] = (math.sin((p - 1) / 10000 ** ((i - 1) / d)) if i % 2
                               else math.cos((p - 1) / 10000 ** ((i - 2) / d)))
    return P


def _ref_a1_1(I, E):
    X = _extras(dict(I=I), ("seq",))
    ids_ = nt.positional(I, tuple(X) + ("seq",))
    emb = _p(E, [], "vocab", "layer")
    d = emb.shape[-1]
    return F.embedding(ids_, emb) * math.sqrt(d) + _pe(ids_.shape[-1], d), X + ["seq", "layer"]


def _heads(Xp, W, out):
    return torch.einsum("...sl,hlk->...hsk", Xp, _p(W, [], "heads", "layer", out))


def _ref_a1_2(X, WQ, WK, WV, WO, gamma, beta):
    E = _extras(dict(X=X), ("seq", "layer"))
    x = _p(X, E, "seq", "layer")
    nx = F.layer_norm(x, (x.shape[-1],), _p(gamma, [], "layer"), _p(beta, [], "layer"),
                      eps=1e-5)
    att = F.scaled_dot_product_attention(_heads(nx, WQ, "key"), _heads(nx, WK, "key"),
                                         _heads(nx, WV, "val"))
    y = torch.einsum("...hsv,hvl->...sl", att, _p(WO, [], "heads", "val", "layer"))
    return x + y, E + ["seq", "layer"]


def _ref_a1_3(X, WQ, WK):
    E = _extras(dict(X=X), ("seq", "layer"))
    x = _p(X, E, "seq", "layer")
    q, k = _heads(x, WQ, "key"), _heads(x, WK, "key")     # (E, heads, seq, key)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (E, heads, seq', seq)
    n = s.shape[-1]
    s = s.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), -math.inf)
    return torch.softmax(s, -1).mean(-3), E + ["seq'", "seq"]


def _ref_a2_2(X, W, b):
    E = _extras(dict(X=X), ("chans", "height", "width"))
    x = _p(X, E, "chans", "height", "width")
    x = x if E else x.unsqueeze(0)
    y = F.max_pool2d(torch.relu(F.conv2d(x, _p(W, [], "chans'", "chans", "kh", "kw"),
                                         _p(b, [], "chans'"))), 2)
    return (y if E else y.squeeze(0)), E + ["chans", "height", "width"]


def _ref_a2_3(X2, W3, b3):
    E = _extras(dict(X2=X2), ("height", "width", "chans"))
    x = _p(X2, E, "height", "width", "chans").flatten(-3)
    y = torch.relu(F.linear(x, _p(W3, [], "hidden", "layer"), _p(b3, [], "hidden")))
    return y, E + ["hidden"]


def _ref_a3_1(X, W):
    shared = [a for a in nt.names(X) if a in nt.names(W) and a != "layer"]
    xo = [a for a in nt.names(X) if a not in shared and a != "layer"]
    wo = [a for a in nt.names(W) if a not in shared and a != "layer"]
    sx, sw = nt.shape(X), nt.shape(W)
    x = _p(X, shared, *xo, "layer").reshape(*[sx[a] for a in shared], -1, sx["layer"])
    w = _p(W, shared, "layer", *wo).reshape(*[sw[a] for a in shared], sw["layer"], -1)
    y = (x @ w).reshape(*[sx[a] for a in shared + xo], *[sw[a] for a in wo])
    return y, shared + xo + wo


INDEPENDENT = {
    "0.1": _ref_0_1, "1.1": _ref_1_1, "1.3": _ref_1_3, "2.2": _ref_2_2, "2.3": _ref_2_3,
    "3.1": _ref_3_1, "3.2": _ref_3_2, "3.3": _ref_3_3, "3.4": _ref_3_4,
    "4.1": _ref_4_1, "4.2": _ref_4_2, "4.3": _ref_4_3, "4.4": _ref_4_4,
    "A1.1": _ref_a1_1, "A1.2": _ref_a1_2, "A1.3": _ref_a1_3,
    "A2.2": _ref_a2_2, "A2.3": _ref_a2_3, "A3.1": _ref_a3_1,
}


def test_every_function_exercise_has_an_independent_check():
    # exercises of chapters that other modules add (5, 6, ...) are checked in their tests
    mine = [i for i in FUNCTION_IDS if i.split(".")[0] in ("0", "1", "2", "3", "4", "A1", "A2", "A3")]
    assert sorted(mine) == sorted(INDEPENDENT)


@pytest.mark.parametrize("id", sorted(INDEPENDENT))
def test_reference_agrees_with_independent_computation(id):
    ex = get(id)
    for desc, kw in ex.cases():
        got = ex.reference(**kw)
        want = INDEPENDENT[id](**kw)
        if isinstance(want, tuple):
            data, order = want
            assert set(nt.names(got)) == set(order), (id, desc, nt.names(got), order)
            torch.testing.assert_close(nt.positional(got, tuple(order)).double(), data,
                                       rtol=1e-9, atol=1e-10, msg=f"{id}, {desc}")
        else:
            assert got == want, (id, desc, got, want)


# value and choice exercises: the expected answer, found independently

def test_value_2_1_paper_indices():
    A = [[3, 1, 4], [1, 5, 9], [2, 6, 5]]
    pos = solution("2.1")()
    assert A[pos["height"]][pos["width"]] == 9          # the paper's A_{height(2), width(3)}


def test_value_a2_1_layer_size():
    x = torch.zeros(1, 1, 32, 32)
    for c_in, c_out in ((1, 6), (6, 16)):
        x = F.max_pool2d(F.conv2d(x, torch.zeros(c_out, c_in, 5, 5)), 2)
    assert solution("A2.1")() == x.numel()


def _eval_choices(id, env):
    out = {}
    for key, code in get(id).choices.items():
        try:
            out[key] = eval(code, env)
        except nt.AxisError as err:
            out[key] = err
    return out


def test_choice_0_2_by_evaluation():
    A = nt.tensor([[3., 1., 4.], [1., 5., 9.], [2., 6., 5.]], ("height", "width"))
    At = nt.positional(A, ("height", "width"))
    want = nt.positional(nt.softmax(A, "height"), ("height", "width"))
    res = _eval_choices("0.2", dict(torch=torch, At=At))
    right = [k for k, v in res.items() if torch.allclose(v, want)]
    assert right == [solution("0.2")()]


def test_choice_1_2_by_evaluation():
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    S = nt.tensor(scores, ("seq'", "seq"))          # rows: queries, columns: keys
    named = {"a": nt.softmax(S, "seq"), "b": nt.softmax(S, "seq'")}
    pos = torch.softmax(scores, dim=0)
    right = [k for k, v in named.items()
             if torch.allclose(nt.positional(v, ("seq'", "seq")), pos)]
    assert not torch.allclose(pos, torch.softmax(scores.flatten(), 0).reshape(4, 4))   # not c
    assert right == [solution("1.2")()]


def test_choice_2_4_by_evaluation():
    A = nt.tensor([[3., 1., 4.], [1., 5., 9.], [2., 6., 5.]], ("height", "width"))
    res = _eval_choices("2.4", dict(nt=nt, A=A))
    raised = [k for k, v in res.items() if isinstance(v, nt.AxisError)]
    assert raised == [solution("2.4")()]


def test_choice_a1_4_by_shapes():
    W2 = nt.randn(seed=0, hidden=5, layer=3)
    X1 = nt.randn(seed=1, seq=2, hidden=5)
    without_bias = nt.contract(W2, X1, over="hidden")
    assert set(nt.names(without_bias)) - {"seq"} == {"layer"}
    assert get("A1.4").choices[solution("A1.4")()] == "R^{layer}"


def test_choice_a3_2_by_counting_einsum_calls(monkeypatch):
    calls = []
    for name in ("einsum", "matmul"):
        real = getattr(torch, name)
        monkeypatch.setattr(torch, name, lambda *a, _r=real, **k: calls.append(1) or _r(*a, **k))
    X, Y = nt.randn(seed=0, a=3, b=4), nt.randn(seed=1, b=4, c=2)
    nt.contract(X, Y, over="b")
    Z = nt.randn(seed=2, c=2, d=3)
    nt.contract(X, Y, Z, over=("b", "c"))
    assert len(calls) == 2 and solution("A3.2")() == "b"


def test_value_a3_3_by_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode
    x = torch.empty(32, 128, 512, device="meta")          # shapes only, no data
    w = torch.empty(512, 2048, device="meta")
    with FlopCounterMode(display=False) as counter:
        torch.einsum("bsl,lh->bsh", x, w)
    assert 2 * solution("A3.3")() == counter.get_total_flops()


# --------------------------------------------------------------------------
# The exercise cells of the chapters: one convention everywhere (stated in
# the preface and CONTRIBUTING.md), and a solution cell that shows a solution
# written out as a reader would write it, then checks it.
#
# stub (function):      def answer(<args>):
#                           ...  # your code here
#
#
#                       nt.exercises.report("<id>", answer)
# stub (value, choice): answer = ...  # your answer
#
#                       nt.exercises.report("<id>", answer)
# solution (hide-cell): the same `def answer(<args>):` (or `answer = <value>`)
#                       written out, then
#                       assert nt.exercises.check("<id>", answer)

import ast  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
_HEADING = re.compile(r"^### Exercise ([0-9A-Z]+\.\d+): ", re.M)


def _chapter_of(id):
    prefix = id.split(".")[0]
    stem = f"{int(prefix):02d}_" if prefix.isdigit() else prefix.lower() + "_"
    paths = sorted(CHAPTERS.glob(stem + "*.py"))
    assert len(paths) == 1, (id, paths)
    return paths[0]


def _cells(path):
    import jupytext

    return jupytext.read(path).cells


def _exercise_cells(path):
    """{id: (stub cell, solution cell)} of a chapter's text source."""
    cells, out = _cells(path), {}
    for k, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        found = _HEADING.findall(cell.source)
        assert len(found) <= 1, f"{path.name}: one exercise per markdown cell: {found}"
        if found:
            code = [c for c in cells[k + 1:k + 3] if c.cell_type == "code"]
            assert len(code) == 2, f"{path.name}, exercise {found[0]}: stub and solution cells"
            out[found[0]] = tuple(code)
    return out


def _imports(path):
    """The chapter's import statements (what a cell of it can rely on)."""
    lines = []
    for cell in _cells(path):
        if cell.cell_type == "code":
            lines += [ln for ln in cell.source.splitlines()
                      if re.match(r"(import|from) \S", ln)]
    return "\n".join(lines)


def _def_answer(source):
    """The `answer` a cell defines: ('def', its arguments) or ('value', expression)."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "answer":
            return "def", ast.dump(node.args), node
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["answer"]:
            return "value", ast.unparse(node.value), node
    return None, None, None


def test_every_exercise_is_in_its_chapter():
    found = {}
    for path in sorted(CHAPTERS.glob("*.py")):
        for id in _exercise_cells(path):
            assert id not in found, f"exercise {id} appears twice"
            found[id] = path
    assert sorted(found, key=IDS.index) == IDS, "chapters and registered exercises differ"
    for id, path in found.items():
        assert path == _chapter_of(id), (id, path.name)


@pytest.mark.parametrize("id", IDS)
def test_stub_follows_the_convention(id):
    stub, _ = _exercise_cells(_chapter_of(id))[id]
    assert stub.metadata.get("tags", []) == [], f"{id}: the stub is a plain visible cell"
    if get(id).kind == "function":
        pattern = (r"def answer\([^)]*\):\n    \.\.\.  # your code here\n\n\n"
                   rf'nt\.exercises\.report\("{re.escape(id)}", answer\)')
    else:
        pattern = rf'answer = \.\.\.  # your answer\n\nnt\.exercises\.report\("{re.escape(id)}", answer\)'
    assert re.fullmatch(pattern, stub.source), f"{id}: stub\n{stub.source}"


@pytest.mark.parametrize("id", IDS)
def test_solution_cell_is_written_out_and_checked(id):
    stub, sol = _exercise_cells(_chapter_of(id))[id]
    assert "hide-cell" in sol.metadata.get("tags", []), f"{id}: the solution is collapsed"
    src = sol.source
    # no cell that merely displays or borrows the reference
    for banned in ("nt.exercises.solution", "exercises.get(", "nt.source", "ntlib.exercises",
                   "display("):
        assert banned not in src, f"{id}: the solution cell uses {banned}"
    assert src.rstrip().splitlines()[-1] == f'assert nt.exercises.check("{id}", answer)', src
    kind, what, node = _def_answer(src)
    if get(id).kind == "function":
        assert kind == "def", f"{id}: the solution cell defines answer with def"
        assert what == _def_answer(stub.source)[1], f"{id}: same signature as the stub"
        body = [s for s in node.body if not (isinstance(s, ast.Expr)
                                             and isinstance(s.value, ast.Constant))]
        assert body and not (len(body) == 1 and isinstance(body[0], ast.Expr)
                             and body[0].value.value is Ellipsis), f"{id}: body is a stub"
    else:
        assert kind == "value" and what not in ("...", "Ellipsis"), f"{id}: answer = value"


@pytest.mark.parametrize("id", IDS)
def test_written_solution_agrees_with_the_reference(id):
    """The chapter's written-out solution, run on its own with the chapter's
    imports, passes the checker (whose oracle is the reference in ntlib)."""
    path = _chapter_of(id)
    _, sol = _exercise_cells(path)[id]
    ns = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(_imports(path), f"{path.name}:imports", "exec"), ns)
        exec(compile(sol.source, f"{path.name}:solution {id}", "exec"), ns)
    assert "correct" in out.getvalue()
    written = ns["answer"]
    assert written is not solution(id) and written != solution(id)
    with contextlib.redirect_stdout(io.StringIO()):
        assert check(id, written) is True


@pytest.mark.parametrize("id", IDS)
def test_notebook_stores_the_verdicts(id):
    """In the executed notebook the stub's output is the checker's 'not yet'
    and the solution's is 'correct'."""
    import nbformat

    path = _chapter_of(id).with_suffix(".ipynb")
    stub, sol = _exercise_cells(_chapter_of(id))[id]
    nb = nbformat.read(path, as_version=4)

    def text(src):
        cells = [c for c in nb.cells if c.cell_type == "code" and c.source == src]
        assert len(cells) == 1, f"{id}: cell not found once in {path.name}"
        return "".join(o.get("text", "") for o in cells[0].outputs
                       if o.output_type == "stream")
    assert text(stub.source).startswith(f"not yet: exercise {id}"), text(stub.source)
    assert text(sol.source).startswith(f"exercise {id} (") and "correct" in text(sol.source)


def test_no_chapter_cell_displays_a_reference_solution():
    for path in sorted(CHAPTERS.glob("*.py")):
        for cell in _cells(path):
            if cell.cell_type == "code":
                assert "nt.exercises.solution(" not in cell.source, path.name
