"""Exercises whose answer is a formula (kind "formula", chapters 2-5).

The reader types a formula in the paper's notation; the checker evaluates it
with ntlib.notation on each case's bindings and compares it with a reference
written in positional torch.  So an equivalent formula written differently
passes, and wrong formulas (another axis, a scale, a missing term, a variable
the case does not bind, text that is not a formula) fail with a message
naming the case.  The generic tests of test_exercises.py (the stub's "not
yet", the chapter's cells, the stored verdicts) cover these ids too.
"""

import pytest

import ntlib as nt
from ntlib.exercises import ExerciseError, check, get, ids, report, validate

FORMULA_IDS = [i for i in ids() if get(i).kind == "formula"]

# another way to write each right answer, and wrong answers a reader might write
EQUIVALENT = {
    "2.5": [r"\nfun{\height}{index}(A, 2)",
            r"A_{\height(2)} + 0"],
    "3.5": [r"A - \frac{1}{|\height|} \nsum{\height} A",
            r"A - \frac{\nsum{\height} A}{|\height|}"],
    "4.5": [r"\frac{1}{1 + \exp(-(x \ndot{\layer} W + b))}",
            r"\sigma(b + x \ndot{\layer} W)"],
    "5.6": [r"(\nfun{\ax}{softmax} X) \odot H - (\nfun{\ax}{softmax} X) \odot "
            r"((\nfun{\ax}{softmax} X) \ndot{\ax} H)"],
}
WRONG = {
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
    assert sorted(EQUIVALENT) == sorted(FORMULA_IDS) == sorted(WRONG)


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_well_posed_and_the_model_formula_passes(id, capsys):
    validate(id)
    assert check(id, get(id).formula) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_an_equivalent_formula_passes(id, capsys):
    for formula in EQUIVALENT[id]:
        assert formula != get(id).formula
        assert check(id, formula) is True, formula
    capsys.readouterr()


@pytest.mark.parametrize("id", FORMULA_IDS)
def test_a_wrong_formula_fails_naming_the_case(id):
    cases = [desc for desc, _ in get(id).cases()]
    for formula in WRONG[id]:
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
