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
OTHER_IDS = [i for i in IDS if get(i).kind != "function"]


def _is_named(x):
    return isinstance(x, nt.core.Funsor) and not isinstance(x, (int, float)) \
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
        assert report(id, wrong) is False
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
    assert report(id, answer) is False
    out = capsys.readouterr().out
    assert out.startswith("not yet: ") and "no answer yet" in out, out
    assert out.count("\n") == 1      # one line


def test_report_never_raises_on_odd_answers(capsys):
    for id in IDS:
        for odd in (None, ..., "x", 3, torch.zeros(2), lambda *a, **k: None,
                    lambda *a, **k: torch.zeros(2), lambda *a, **k: {"a": 1}):
            assert report(id, odd) in (True, False)
    capsys.readouterr()


def test_unknown_id():
    with pytest.raises(KeyError, match="no exercise"):
        check("9.99", lambda: None)
