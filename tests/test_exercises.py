"""The exercises' checker, over every exercise id (generic: nothing here knows
one exercise from another).

For each id: the reference solution passes; the exercise is well posed (at
least three cases, and an answer that ignores its input fails); wrong answers
derived automatically from the reference are rejected with an ExerciseError
whose message names the case; report() prints "not yet" for a stub and never
raises.  Then, by kind: the function exercises' named formulas and plausible
mistakes, the stubs and solution cells in the chapters, chapter 5's
references against autograd and against the rules of section 5, and the
exercises whose answer is a formula, checked with ntlib.notation.  (One file
for every exercise test.)
"""

import itertools
import time

import pytest
import torch

import ntlib as nt
from ntlib.exercises import ExerciseError, check, get, ids, report, solution, validate

IDS = ids()
FUNCTION_IDS = [i for i in IDS if get(i).kind == "function"]
OTHER_IDS = [i for i in IDS if get(i).kind in ("value", "choice")]   # formulas: below


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


@pytest.fixture(scope="module")
def _autograd_loaded():
    # torch imports sympy on its first autograd call (1-2 s on a loaded
    # machine); chapter 5's references use autograd, and the chapter has used
    # it long before its exercises, so the timing below leaves that out
    x = torch.ones(2, dtype=torch.float64)
    torch.func.jvp(lambda x: x * x, (x,), (x,))
    torch.autograd.functional.jacobian(torch.sigmoid, x)


@pytest.mark.parametrize("id", IDS)
def test_checking_is_quick(id, _autograd_loaded):
    """The checker runs every case of an exercise in under a second (it runs
    the reference; whether it accepts right answers is tested below with
    answers computed independently)."""
    ex = get(id)
    t = time.perf_counter()
    for _, kw in ex.cases() if ex.kind in ("function", "formula") else [("", {})]:
        ex.reference(kw) if ex.kind == "formula" else ex.reference(**kw)
    assert time.perf_counter() - t < 1.0, f"exercise {id}: the cases take over 1 s"


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
# The references themselves. The checker's reference for a function exercise
# is computed positionally (torch.nn.functional, plain torch, autograd in
# chapter 5), never with the named formula a solution cell writes out, so the
# check in the book compares two computations. Here each reference is checked
# against that named formula, on every case; and a named solution with a
# plausible mistake in it is rejected by the checker.

import ast  # noqa: E402
import inspect  # noqa: E402
import math  # noqa: E402
import textwrap  # noqa: E402


def _n_1_3(Q, K, V):
    scores = nt.contract(Q, K, over="key") / math.sqrt(nt.shape(K)["key"])
    s = nt.flatten(scores, ("height", "width"), "pixel")
    alpha = nt.unflatten(nt.softmax(s, "pixel"), "pixel",
                         {"height": nt.shape(K)["height"], "width": nt.shape(K)["width"]})
    return nt.contract(alpha, V, over=("height", "width"))


def _n_2_3(X, r):
    for ax, i in r.items():
        X = nt.index(X, ax, i)
    return float(nt.positional(X, ()))


def _n_4_2(Q, K, V, w):
    n = nt.shape(K)["seq"]
    i = torch.arange(n).reshape(n, 1)
    j = torch.arange(n).reshape(1, n)
    M = torch.zeros(n, n, dtype=torch.float64).masked_fill(~((i <= j) & (i > j - w)),
                                                           -math.inf)
    return nt.attention(Q, K, V, nt.tensor(M, ("seq", "seq'")))


def _n_4_3(X, kh, kw):
    P = nt.pool(nt.pool(X, kh, seq="height", kernel="kh"), kw, seq="width", kernel="kw")
    return nt.mean(P, ("kh", "kw"))


def _n_a1_1(I, E):
    W = nt.models.embed(I, E)
    return W + nt.models.positional_encoding(nt.shape(I)["seq"], nt.shape(E)["layer"])


def _n_a1_2(X, WQ, WK, WV, WO, gamma, beta):
    N = nt.standardize(X, "layer") * gamma + beta
    return X + nt.models.self_attention(N, WQ, WK, WV, WO)


def _n_a1_3(X, WQ, WK):
    Q = nt.contract(WQ, nt.rename(X, {"seq": "seq'"}), over="layer")
    K = nt.contract(WK, X, over="layer")
    M = nt.causal_mask(nt.shape(X)["seq"], seq="seq", query="seq'")
    scores = nt.contract(Q, K, over="key") / math.sqrt(nt.shape(K)["key"]) + M
    return nt.mean(nt.softmax(scores, "seq"), "heads")


def _n_a3_1(X, W):
    return nt.contract(X, W, over="layer")


def _kmeans_step(X, C):
    Q = nt.argmin(nt.norm(C - X, "d"), "clusters")
    return nt.contract(Q, X, over="batch") / nt.sum(Q, "batch")


NAMED = {
    "0.1": lambda A: nt.sum(A, "height"),
    "1.1": lambda Q, K: nt.softmax(nt.contract(Q, K, over="key")
                                   / math.sqrt(nt.shape(K)["key"]), "seq"),
    "1.3": _n_1_3,
    "2.2": lambda S, T: {**S, **T} if nt.compatible(S, T) else None,
    "2.3": _n_2_3,
    "3.1": lambda x, A, y: nt.contract(x, A, y, over=("height", "width")),
    "3.2": lambda X: nt.softmax(nt.flatten(X, ("height", "width"), "hw"), "hw"),
    "3.3": lambda X: nt.contract(X, nt.rename(X, {"seq": "seq'"}), over="layer"),
    "3.4": _kmeans_step,
    "4.1": lambda x, W, b: nt.rename(nt.tanh(nt.contract(W, x, over="layer") + b),
                                     {"layer'": "layer"}),
    "4.2": _n_4_2,
    "4.3": _n_4_3,
    "4.4": lambda X, gamma: X / (nt.mean(X * X, "layer") + 1e-5) ** 0.5 * gamma,
    "6.1": lambda X, W: nt.contract(X, W, over="layer"),
    "6.2": lambda X, W: nt.rename(nt.contract(W, X, over="layer"), {"out": "layer"}),
    "6.3": lambda Q, K, M: nt.softmax(nt.contract(Q, K, over="key")
                                      / math.sqrt(nt.shape(K)["key"]) + M, "seq"),
    "7.1": lambda p_B_given_A, p_A: nt.contract(p_B_given_A, p_A, over="A"),
    "7.2": lambda p_B_given_A, p_A: nt.examples.bayes(p_B_given_A, p_A),
    "7.3": lambda X, C: nt.sum(nt.min(nt.sum((C - X) ** 2, "d"), "clusters"), "batch"),
    "7.4": lambda F, m: nt.contract(F, m, over="b") / nt.sum(nt.contract(F, m, over="b"), "a"),
    "A1.1": _n_a1_1, "A1.2": _n_a1_2, "A1.3": _n_a1_3,
    "A2.2": lambda X, W, b: nt.max_pool2d(
        nt.relu(nt.rename(nt.conv2d(X, W, b), {"chans'": "chans"})), 2, 2),
    "A2.3": lambda X2, W3, b3: nt.relu(nt.contract(
        W3, nt.flatten(X2, ("height", "width", "chans"), "layer"), over="layer") + b3),
    "A3.1": _n_a3_1,
}


def _unflattened(id, got, kw):
    # 3.2's named formula softmaxes a flattened axis; bring it back
    if id == "3.2":
        X = kw["X"]
        return nt.unflatten(got, "hw", {"height": nt.shape(X)["height"],
                                        "width": nt.shape(X)["width"]})
    return got


def test_every_function_exercise_has_a_named_formula():
    # chapter 5's references are checked against the rules of section 5 below
    mine = [i for i in FUNCTION_IDS if not i.startswith("5.")]
    assert sorted(mine) == sorted(NAMED)


@pytest.mark.parametrize("id", sorted(NAMED))
def test_reference_agrees_with_the_named_formula(id):
    ex = get(id)
    for desc, kw in ex.cases():
        got = ex.reference(**kw)
        want = _unflattened(id, NAMED[id](**kw), kw)
        if _is_named(want) or isinstance(want, nt.NamedTensor):
            assert set(nt.names(got)) == set(nt.names(want)), (id, desc)
            order = nt.names(want)
            torch.testing.assert_close(nt.positional(got, order).double(),
                                       nt.positional(want, order).double(),
                                       rtol=1e-9, atol=1e-10, msg=f"{id}, {desc}")
        else:
            assert got == want, (id, desc, got, want)


@pytest.mark.parametrize("id", sorted(NAMED))
def test_checker_accepts_the_named_formula(id, capsys):
    """An answer written by name (the formula, not the positional reference)
    passes the checker and is reported correct."""
    def answer(**kw):
        return _unflattened(id, NAMED[id](**kw), kw)
    assert check(id, answer) is True
    assert "correct" in capsys.readouterr().out




# the named operations a reference may not use: it must not be the formula
_NAMED_OPS = {"contract", "softmax", "sum", "mean", "max", "min", "argmin", "norm",
              "rename", "flatten", "unflatten", "attention", "pool", "tanh", "relu",
              "exp", "log", "sigmoid", "standardize", "conv2d", "max_pool2d", "index",
              "compatible", "calculus", "models", "examples"}


def _nt_attributes(fn):
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "nt"}


@pytest.mark.parametrize("id", FUNCTION_IDS)
def test_reference_is_not_the_named_formula(id):
    used = _nt_attributes(get(id).reference) & _NAMED_OPS
    assert not used, f"exercise {id}: the reference uses nt.{sorted(used)}"


# A solution a reader might write, with one mistake in it: the checker says no.
WRONG = {
    "0.1": lambda A: nt.sum(A, "width"),
    "1.1": lambda Q, K: nt.softmax(nt.contract(Q, K, over="key"), "seq"),   # unscaled
    "1.3": lambda Q, K, V: nt.contract(nt.softmax(
        nt.contract(Q, K, over="key") / math.sqrt(nt.shape(K)["key"]), "width"), V,
        over=("height", "width")),                                      # two softmaxes
    "3.1": lambda x, A, y: nt.contract(x, A, over="height") * nt.sum(y, "width"),
    "3.2": lambda X: nt.softmax(nt.softmax(X, "height"), "width"),
    "3.3": lambda X: nt.contract(X, nt.rename(X, {"layer": "layer'"}), over="seq"),
    "3.4": lambda X, C: nt.contract(nt.argmin(nt.norm(C - X, "d"), "clusters"), X,
                                    over="batch"),                      # not divided
    "4.1": lambda x, W, b: nt.rename(nt.tanh(nt.contract(W, x, over="layer")),
                                     {"layer'": "layer"}),              # no bias
    "4.2": lambda Q, K, V, w: _n_4_2(Q, K, V, w + 1),                    # window off by one
    "4.3": lambda X, kh, kw: _n_4_3(X, kw, kh),                          # kernel swapped
    "4.4": lambda X, gamma: X / (nt.mean(X * X, "layer") + 1e-5) * gamma,  # no root
    "6.1": lambda X, W: nt.sum(X, "layer") * nt.sum(W, "layer"),
    "6.2": lambda X, W: nt.rename(nt.contract(W, X, over="layer"), {"out": "layer"}) * 1.01,
    "6.3": lambda Q, K, M: nt.softmax(nt.contract(Q, K, over="key") + M, "seq"),
    "7.1": lambda p_B_given_A, p_A: nt.sum(p_B_given_A, "A"),
    "7.2": lambda p_B_given_A, p_A: p_B_given_A * p_A,                   # not normalised
    "7.3": lambda X, C: nt.sum(nt.min(nt.norm(C - X, "d"), "clusters"), "batch"),  # not squared
    "7.4": lambda F, m: nt.contract(F, m, over="b"),                     # not normalised
    "A1.1": lambda I, E: nt.models.embed(I, E),                          # no encoding
    "A1.2": lambda X, WQ, WK, WV, WO, gamma, beta: X + nt.models.self_attention(
        X, WQ, WK, WV, WO),                                              # no LayerNorm
    "A1.3": lambda X, WQ, WK: nt.mean(nt.softmax(nt.contract(
        nt.contract(WQ, nt.rename(X, {"seq": "seq'"}), over="layer"),
        nt.contract(WK, X, over="layer"), over="key")
        / math.sqrt(nt.shape(WK)["key"]), "seq"), "heads"),              # no mask
    "A2.2": lambda X, W, b: nt.relu(nt.max_pool2d(
        nt.rename(nt.conv2d(X, W, b), {"chans'": "chans"}), 2, 2)) * 1.001,
    "A2.3": lambda X2, W3, b3: nt.relu(nt.contract(
        W3, nt.flatten(X2, ("chans", "height", "width"), "layer"), over="layer") + b3),
    "A3.1": lambda X, W: nt.contract(X, W, over="layer") + 1e-3,
}


@pytest.mark.parametrize("id", sorted(WRONG))
def test_a_plausible_mistake_is_rejected(id):
    with pytest.raises(ExerciseError):
        check(id, WRONG[id])


# value and choice exercises: the reference computes its answer (runs the
# choices, searches the data, counts); here it is compared with the answer
# worked out by hand

def test_value_2_1_paper_indices():
    # the paper's (1-based) height(2), width(3), each minus 1
    assert solution("2.1")() == {"height": 2 - 1, "width": 3 - 1}


def test_value_a2_1_layer_size():
    # 32 -conv 5x5-> 28 -pool 2-> 14 -conv 5x5-> 10 -pool 2-> 5; 16 channels
    assert solution("A2.1")() == 5 * 5 * 16


def test_value_a3_3_multiply_adds():
    # one multiply-add per record of all the axes: |batch| |seq| |layer| |hidden|
    assert solution("A3.3")() == 32 * 128 * 512 * 2048


@pytest.mark.parametrize("id, key", [("0.2", "a"), ("1.2", "b"), ("2.4", "a"),
                                     ("6.4", "c"), ("A1.4", "b"), ("A3.2", "b")])
def test_choice_references_find_the_worked_out_answer(id, key):
    assert solution(id)() == key


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

import contextlib  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
_HEADING = re.compile(r"^### Exercise ([0-9A-Za-z]+\.\d+): ", re.M)


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


# --------------------------------------------------------------------------
# chapter 5's exercises: the references against autograd (nt.calculus.differential)

def d(fn, X, H):
    return nt.calculus.differential(fn, X, H)


#: chapter 5's answers by autograd, from each case's arguments
AUTOGRAD = {
    "5.1": lambda kw: d(lambda X: X * X, kw["X"], kw["H"]),
    "5.2": lambda kw: d(lambda X: nt.contract(X, X, over="d"), kw["X"], kw["H"]),
    "5.3": lambda kw: nt.calculus.derivative(nt.sigmoid, kw["X"]),
    "5.4": lambda kw: d(lambda X: nt.log(nt.softmax(X, "ax")), kw["X"], kw["H"]),
    "5.5": lambda kw: d(lambda K: nt.calculus.attention_unscaled(kw["Q"], K, kw["V"]),
                        kw["K"], kw["H"]),
}


def test_chapter_5_is_covered_by_autograd():
    # 5.6's answer is a formula; its reference is forward-mode autograd too
    # (the formula exercises below)
    assert sorted(AUTOGRAD) == sorted(i for i in IDS if i.startswith("5.")
                                      and get(i).kind == "function")


@pytest.mark.parametrize("id", sorted(AUTOGRAD))
def test_exercise_references_match_autograd(id, capsys):
    for _, kw in get(id).cases():
        got = solution(id)(**kw)
        assert nt.calculus.max_difference(got, AUTOGRAD[id](kw)) < 1e-10, id
    assert check(id, lambda **kw: AUTOGRAD[id](kw)) is True    # the checker accepts it
    assert "correct" in capsys.readouterr().out


def test_exercise_cases_differ():
    for id in sorted(AUTOGRAD):
        outs = [solution(id)(**kw) for _, kw in get(id).cases()]
        assert len(outs) >= 3
        for a, b in itertools.combinations(outs, 2):
            assert nt.shape(a) != nt.shape(b) or nt.calculus.max_difference(a, b) > 1e-3


# --------------------------------------------------------------------------
# exercises whose answer is a formula (kind "formula", chapters 2-5)
#
# The reader types a formula in the paper's notation; the checker evaluates it
# with ntlib.notation on each case's bindings and compares it with a reference
# written in positional torch.  So an equivalent formula written differently
# passes, and wrong formulas (another axis, a scale, a missing term, a variable
# the case does not bind, text that is not a formula) fail with a message
# naming the case.  The generic tests of test_exercises.py (the stub's "not
# yet", the chapter's cells, the stored verdicts) cover these ids too.

FORMULA_IDS = [i for i in ids() if get(i).kind == "formula"]

# another way to write each right answer, and wrong answers a reader might write
EQUIVALENT_FORMULAS = {
    "2.5": [r"\nfun{\height}{index}(A, 2)",
            r"A_{\height(2)} + 0"],
    "3.5": [r"A - \frac{1}{|\height|} \nsum{\height} A",
            r"A - \frac{\nsum{\height} A}{|\height|}"],
    "4.5": [r"\frac{1}{1 + \exp(-(x \ndot{\layer} W + b))}",
            r"\sigma(b + x \ndot{\layer} W)"],
    "5.6": [r"(\nfun{\ax}{softmax} X) \odot H - (\nfun{\ax}{softmax} X) \odot "
            r"((\nfun{\ax}{softmax} X) \ndot{\ax} H)"],
}
WRONG_FORMULAS = {
    "2.5": [r"A_{\height(1)}", r"A_{\width(2)}", r"A", r"\nsum{\height} A"],
    "3.5": [r"A - \nfun{\width}{mean} A", r"A - \nfun{\height}{max} A",
            r"\nfun{\height}{mean} A", r"A - \frac{1}{|\width|} \nsum{\height} A"],
    "4.5": [r"\tanh(W \ndot{\layer} x + b)", r"\sigma(W \ndot{\layer} x)",
            r"W \ndot{\layer} x + b", r"\sigma(W \ndot{\layer} x - b)"],
    "5.6": [r"(\nfun{\ax}{softmax} X) \odot H",
            r"(\nfun{\ax}{softmax} X) \odot \left(H - X \ndot{\ax} H\right)",
            r"H - (\nfun{\ax}{softmax} X) \ndot{\ax} H"],
}
NOT_FORMULAS = ["x +", r"\nsum{\nope} A", "Y", r"\frac{A}", 42, lambda **kw: None]


def test_chapters_2_to_5_each_have_a_formula_exercise():
    assert {i.split(".")[0] for i in FORMULA_IDS} >= {"2", "3", "4", "5"}
    assert sorted(EQUIVALENT_FORMULAS) == sorted(FORMULA_IDS) == sorted(WRONG_FORMULAS)


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_well_posed_and_the_model_formula_passes(id, capsys):
    validate(id)
    assert check(id, get(id).formula) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_an_equivalent_formula_passes(id, capsys):
    for formula in EQUIVALENT_FORMULAS[id]:
        assert formula != get(id).formula
        assert check(id, formula) is True, formula
    capsys.readouterr()


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_a_wrong_formula_fails_naming_the_case(id):
    cases = [desc for desc, _ in get(id).cases()]
    for formula in WRONG_FORMULAS[id]:
        with pytest.raises(ExerciseError) as err:
            check(id, formula)
        msg = str(err.value)
        assert f"exercise {id}, case " in msg and any(repr(c) in msg for c in cases), msg


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_not_a_formula_is_refused_and_reported(id, capsys):
    for odd in NOT_FORMULAS:
        with pytest.raises(ExerciseError, match=f"exercise {id}"):
            check(id, odd)
        assert report(id, odd) is None
        assert capsys.readouterr().out.startswith("not yet: ")


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_reference_is_positional(id):
    """The oracle is positional torch, not the notation or ntlib's named ops:
    it must not call ntlib.notation, nt.contract, nt.softmax, nt.mean, ..."""
    import inspect

    src = inspect.getsource(get(id).reference)
    src = src[src.index("\ndef "):]          # the body, not the decorator's title
    for banned in ("notation", "evaluate(", "nt.contract", "nt.softmax", "nt.mean",
                   "nt.sigmoid", "nt.index", "nt.sum"):
        assert banned not in src, (id, banned)


def test_reference_against_the_data_by_hand():
    """Spot values computed by hand on the running example."""
    A = nt.tensor([[3., 1., 4.], [1., 5., 9.], [2., 6., 5.]], ("height", "width"))
    row = get("2.5").reference({"A": A})
    assert nt.positional(row, "width").tolist() == [1., 5., 9.]
    centred = get("3.5").reference({"A": A})
    assert nt.positional(centred, ("height", "width"))[:, 0].tolist() == [1., -1., 0.]


# --------------------------------------------------------------------------
# chapter 5: the references against the rules of section 5, written by name
# (what a solution cell writes); a rule with a term forgotten is rejected

def _rule_answers():
    """The answers by the rules of §5, written by name (what a solution cell
    writes); the references are computed positionally with autograd."""
    for desc, kw in get("5.1").cases():
        yield "5.1", kw, 2 * kw["X"] * kw["H"]
    for desc, kw in get("5.2").cases():
        yield "5.2", kw, 2 * nt.contract(kw["X"], kw["H"], over="d")
    for desc, kw in get("5.3").cases():
        s = nt.sigmoid(kw["X"])
        yield "5.3", kw, s * (1 - s) * nt.calculus.identity_like(kw["X"])
    for desc, kw in get("5.4").cases():
        X, H = kw["X"], kw["H"]
        yield "5.4", kw, H - nt.contract(nt.softmax(X, "ax"), H, over="ax")
    for desc, kw in get("5.5").cases():
        Q, K, V, H = kw["Q"], kw["K"], kw["V"], kw["H"]
        alpha = nt.softmax(nt.contract(Q, K, over="key"), "seq")
        dS = nt.contract(Q, H, over="key")
        yield "5.5", kw, nt.contract(V, alpha * (dS - nt.contract(alpha, dS, over="seq")),
                                     over="seq")


def test_exercise_references_match_the_rules():
    seen = set()
    for id, kw, expected in _rule_answers():
        got = solution(id)(**kw)
        assert nt.calculus.max_difference(got, expected) < 1e-10, id
        seen.add(id)
    assert seen == {"5.1", "5.2", "5.3", "5.4", "5.5"}


def test_exercise_a_wrong_rule_is_rejected():
    # the product rule with one term forgotten: X ⊙_d H instead of 2 X ⊙_d H
    with pytest.raises(ExerciseError):
        check("5.2", lambda X, H: nt.contract(X, H, over="d"))
    # the softmax differential without its correction term
    with pytest.raises(ExerciseError):
        check("5.4", lambda X, H: H)
