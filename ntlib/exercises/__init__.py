"""Exercises with automatic checking, one module per chapter.

Each chapter's exercises live in ``ntlib.exercises.chNN`` (``ch03`` for
chapter 3, ``a1`` for Appendix A.1) and are registered with :func:`exercise`.
The reader's side is three functions:

- :func:`ids` — every exercise id (``"3.4"`` is chapter 3, exercise 4), in book order;
- :func:`check` — run an answer against the reference on several random cases,
  including sizes, axis orders and an extra (lifted) axis that the prompt did
  not show; True and one line of praise, or :class:`ExerciseError`;
- :func:`solution` — the reference answer, the checker's oracle (the book's
  solution cells write a solution out instead, and check it).

:func:`report` is :func:`check` for notebooks: it prints the verdict instead of
raising (wrapped to 79 columns), so a chapter can store the message a stub
answer gets.  :func:`validate` checks an exercise itself (for the tests): the
reference passes, and a function that ignores its input fails.

Kinds of exercise:

- ``"function"``: the answer is a function; each case is keyword arguments
  for it, and its result is compared with the reference's (named tensors by
  name: same axes and sizes, values within tolerance; other values by ``==``).
- ``"value"``: the answer is a value (a number, a named tensor, ...),
  compared with the reference function's return value.
- ``"choice"``: the answer is one of the keys of ``choices`` (e.g. which of
  these raises AxisError?); the reference returns the right key.
- ``"formula"``: the answer is a formula, a string in the paper's notation;
  each case is a dict of bindings (variables as written, ``"X"``,
  ``"\\gamma"``), the formula is evaluated on them with
  :func:`ntlib.notation.evaluate`, and its value is compared with the
  reference's, a function of the bindings written in positional torch; so any
  formula equal to the reference passes.  ``formula`` is one right answer (for
  the tests; the chapters write their own).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

import torch

from .._internal import AxisError, as_named
from .._internal import fmt as _fmt_shape
from ..core import positional, shape

__all__ = ["ExerciseError", "Exercise", "exercise", "ids", "check", "report", "solution",
           "get", "validate"]


def __dir__() -> list[str]:
    """dir() of the namespace: its own functions, not the names it imports."""
    return sorted(__all__)


#: the reference answer a decorator registers (returned unchanged)
F = TypeVar("F", bound=Callable[..., Any])


class ExerciseError(AssertionError):
    """An answer did not pass; the message names the case and the first difference."""


@dataclass
class Exercise:
    id: str
    title: str
    reference: Callable
    kind: str = "function"
    cases: Callable[[], list] | None = None  # () -> [(description, kwargs), ...]
    choices: dict = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 1e-8
    formula: str | None = None


_REGISTRY: dict = {}


def exercise(id: str, *, title: str, kind: str = "function",
             cases: Callable[[], list] | None = None, choices: Mapping[str, str] | None = None,
             rtol: float = 1e-6, atol: float = 1e-8,
             formula: str | None = None) -> Callable[[F], F]:
    """Decorator: register the decorated function as the reference answer of exercise ``id``.

    ``cases`` (for kind ``"function"``) is a function of no arguments that
    returns a list of ``(description, kwargs)``: at least three, including
    one with sizes and axis orders the prompt did not show and one with an
    extra axis the answer should lift over.  For ``"value"`` and ``"choice"``
    the reference takes no arguments and returns the expected value or key.
    """
    if kind not in ("function", "value", "choice", "formula"):
        raise ValueError(f"unknown exercise kind {kind!r}")
    if kind in ("function", "formula") and cases is None:
        raise ValueError(f"exercise {id}: a {kind} exercise needs cases")
    if kind == "formula" and not formula:
        raise ValueError(f"exercise {id}: a formula exercise needs one right formula")

    def register(ref: F) -> F:
        if id in _REGISTRY and _REGISTRY[id].reference.__qualname__ != ref.__qualname__:
            raise ValueError(f"exercise {id} is registered twice")
        _REGISTRY[id] = Exercise(id, title, ref, kind, cases, dict(choices or {}), rtol, atol,
                                 formula)
        return ref
    return register


def _load_all():
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def _order(id: str) -> tuple[bool, int, str, int]:
    chapter, _, number = id.partition(".")
    # chapters 0-9 first, then appendices A1, A2, ...
    # (A2 before A2b: the chapter's name breaks a tie of numbers)
    return (chapter[:1].isalpha(), int(re.sub(r"\D", "", chapter) or 0), chapter,
            int(number))


def ids() -> list[str]:
    """Every exercise id, in book order (chapters, then appendices)."""
    _load_all()
    return sorted(_REGISTRY, key=_order)


def get(id: str) -> Exercise:
    _load_all()
    try:
        return _REGISTRY[id]
    except KeyError:
        raise KeyError(f"no exercise {id!r}; the exercises are {ids()}") from None


def solution(id: str) -> Callable[..., Any]:
    """The reference answer of exercise ``id`` (a function, or for value/choice
    exercises the function that returns the expected answer)."""
    return get(id).reference


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return (f"a positional torch.Tensor of shape {tuple(x.shape)} (give it names "
                f"with nt.tensor(data, names))")
    if isinstance(x, (bool, int, float)):
        return repr(x)
    try:
        f = as_named(x)
    except TypeError:
        return f"{type(x).__name__} {x!r}"[:200]
    return "a named tensor with axes {" + ", ".join(f"{a}[{s}]" for a, s in shape(f).items()) + "}"


def _is_named(x: Any) -> bool:
    try:
        as_named(x)
        return not isinstance(x, (int, float))
    except TypeError:
        return False


def compare(expected: Any, got: Any, *, rtol: float = 1e-6,
            atol: float = 1e-8) -> str | None:
    """None if ``got`` matches ``expected``; else what differs, without giving the answer away."""
    if (got is None and expected is not None) or got is Ellipsis:
        return ("no answer yet: " + ("your function returned None" if got is None else
                                     "the answer is still ...")
                + " (replace the ... with your code)")
    if _is_named(expected):
        if not _is_named(got):
            return f"expected {_describe(expected)}, got {_describe(got)}"
        es, gs = shape(expected), shape(got)
        if es != gs:
            return (f"expected axes {_fmt_shape(es)}, got {_fmt_shape(gs)}"
                    + _axis_hint(es, gs))
        order = tuple(es)
        e = positional(expected, order).detach().cpu().double()
        g = positional(got, order).detach().cpu().double()
        bad = ~torch.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        if bad.any():
            pos = [int(i) for i in bad.nonzero()[0]]
            where = ", ".join(f"{a}={i}" for a, i in zip(order, pos))
            n = int(bad.sum())
            return (f"{n} of {e.numel()} entries differ; the first at ({where}): "
                    f"expected {e[tuple(pos)].item():.6g}, got {g[tuple(pos)].item():.6g}")
        return None
    if _is_named(got) and not shape(got) and isinstance(expected, (int, float)):
        got = positional(got, ()).item()   # a named scalar stands for its number
    if isinstance(expected, float) or isinstance(got, float):
        try:
            if abs(float(got) - float(expected)) <= atol + rtol * abs(float(expected)):
                return None
        except (TypeError, ValueError):
            pass
        return f"expected a number close to the right one, got {_describe(got)}"
    try:
        same = bool(got == expected)
    except Exception:  # e.g. a tensor compared with a dict
        same = False
    if not same:
        return f"got {_describe(got)}, which is not right"
    return None


def _axis_hint(es: Mapping[str, int], gs: Mapping[str, int]) -> str:
    missing = [a for a in es if a not in gs]
    extra = [a for a in gs if a not in es]
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"unexpected {extra}")
    return " (" + "; ".join(parts) + ")" if parts else ""


def check(id: str, answer: Any) -> bool:
    """Check ``answer`` for exercise ``id``: True (and one line saying so) or ExerciseError."""
    ex = get(id)
    if ex.kind == "formula":
        return _check_formula(ex, answer)
    if ex.kind == "function":
        if not callable(answer):
            raise ExerciseError(f"exercise {id}: the answer should be a function, got {_describe(answer)}")
        cases = _cases(ex)
        for desc, kwargs in cases:
            expected = ex.reference(**kwargs)
            try:
                got = answer(**kwargs)
            except AxisError as err:
                raise ExerciseError(f"exercise {id}, case {desc!r}: your function raised "
                                    f"AxisError: {err}") from None
            except Exception as err:  # the reader's code may fail in any way
                raise ExerciseError(f"exercise {id}, case {desc!r}: your function raised "
                                    f"{type(err).__name__}: {err}") from None
            problem = compare(expected, got, rtol=ex.rtol, atol=ex.atol)
            if problem:
                raise ExerciseError(f"exercise {id}, case {desc!r}: {problem}")
        _say(f"exercise {id} ({ex.title}): correct on all {len(cases)} cases.")
        return True
    expected = ex.reference()
    if answer is ex.reference:   # solution(id) of a value or choice exercise
        answer = expected
    if answer is Ellipsis or answer is None:
        raise ExerciseError(f"exercise {id}: no answer yet (replace the ... "
                            f"with your answer)")
    if ex.kind == "choice" and answer not in ex.choices:
        raise ExerciseError(f"exercise {id}: answer one of {sorted(ex.choices)}, got {answer!r}")
    problem = compare(expected, answer, rtol=ex.rtol, atol=ex.atol)
    if problem:
        raise ExerciseError(f"exercise {id}: {problem}")
    _say(f"exercise {id} ({ex.title}): correct.")
    return True


def _check_formula(ex: Exercise, answer: Any) -> bool:
    from ..notation import NotationError, evaluate

    if answer is ex.reference:   # solution(id): one right formula
        answer = ex.formula
    if answer is Ellipsis or answer is None:
        raise ExerciseError(f"exercise {ex.id}: no answer yet (replace the ... with your "
                            f"formula, a string such as r\"\\nsum{{\\width}} A\")")
    if not isinstance(answer, str):
        raise ExerciseError(f"exercise {ex.id}: the answer should be a formula, a string in "
                            f"the paper's notation, got {_describe(answer)}")
    cases = _cases(ex)
    for desc, env in cases:
        expected = ex.reference(env)
        try:
            got = evaluate(answer, env)
        except NotationError as err:    # unreadable, or a variable the case does not bind
            raise ExerciseError(f"exercise {ex.id}, case {desc!r}: your formula could not "
                                f"be evaluated: {err}") from None
        except Exception as err:   # an axis that is not there, sizes that differ, ...
            raise ExerciseError(f"exercise {ex.id}, case {desc!r}: your formula raised "
                                f"{type(err).__name__}: {err}") from None
        problem = compare(expected, got, rtol=ex.rtol, atol=ex.atol)
        if problem:
            raise ExerciseError(f"exercise {ex.id}, case {desc!r}: {problem}")
    _say(f"exercise {ex.id} ({ex.title}): correct on all {len(cases)} cases.")
    return True


def _cases(ex: Exercise) -> list:
    if ex.cases is None:   # (exercise() refuses a function exercise without cases)
        raise ValueError(f"exercise {ex.id} has no cases")
    return ex.cases()


def _say(text: str) -> None:
    """Print a verdict wrapped to the width of a code cell (no scrolling in the book)."""
    print(textwrap.fill(text, 79, subsequent_indent="  ",
                        break_long_words=False, break_on_hyphens=False))


def report(id: str, answer: Any) -> None:
    """Like :func:`check`, but prints the checker's verdict instead of raising.

    For notebooks: it returns nothing, so a cell that ends with it shows the
    verdict line and no stray ``True``/``False``.
    """
    try:
        check(id, answer)
    except ExerciseError as err:
        # wrapped to the width of a code cell, so the book needs no scrolling
        _say(f"not yet: {err}")


def validate(id: str) -> None:
    """Check exercise ``id`` itself (for the tests): the reference passes, a
    function exercise has at least three cases whose expected results are
    not all the same (so an answer that ignores its input fails), and a choice
    exercise's answer is one of its choices."""
    ex = get(id)
    if ex.kind == "formula":
        cases = _cases(ex)
        if len(cases) < 3:
            raise ValueError(f"exercise {id}: needs at least 3 cases, has {len(cases)}")
        outs = [ex.reference(env) for _, env in cases]
        for i, out in enumerate(outs):   # a constant answer must fail somewhere
            if all(compare(o, out, rtol=ex.rtol, atol=ex.atol) is None for o in outs):
                raise ValueError(f"exercise {id}: the answer of case {cases[i][0]!r} "
                                 f"fits every case")
    elif ex.kind == "function":
        cases = _cases(ex)
        if len(cases) < 3:
            raise ValueError(f"exercise {id}: needs at least 3 cases, has {len(cases)}")
        outs = [ex.reference(**kw) for _, kw in cases]
        for i, out in enumerate(outs):   # a constant answer must fail somewhere
            if all(compare(o, out, rtol=ex.rtol, atol=ex.atol) is None for o in outs):
                raise ValueError(f"exercise {id}: a function that always returns "
                                 f"the answer of case {cases[i][0]!r} passes")
    elif ex.kind == "choice":
        if ex.reference() not in ex.choices or len(ex.choices) < 2:
            raise ValueError(f"exercise {id}: the answer must be one of >= 2 choices")
    check(id, ex.reference)
