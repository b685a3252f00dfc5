"""The examples in ntlib's docstrings run, and print what they say.

Every public function of the notation (``nt.*``) and the main functions of
the namespaces end their docstring with an ``Example:`` section of ``>>>``
lines (``help(nt.contract)`` shows it, the book's reference renders it,
``nt.source`` leaves it out of the listings).  Each docstring with examples
is one test here, run by :mod:`doctest` with ``nt`` (ntlib) and ``torch`` in
its namespace, as a reader would type them after ``import ntlib as nt``.

The examples follow the rule of the chapters: their output is the same on
every device (seeded or literal data, values printed with ``nt.show`` or as
integers, no device names, no signed zeros), which this file also checks of
the expected outputs.  (Under ``NTLIB_DEVICE=meta`` there are no values to
print, and the examples are skipped.)  We collect the examples here rather
than with pytest's ``--doctest-modules``, whose ``testpaths`` would also
import the chapters' jupytext sources as modules.
"""

import doctest
import importlib
import pathlib
import pkgutil
import re

import pytest
import torch

import ntlib as nt

PKG = pathlib.Path(nt.__file__).resolve().parent
NAMESPACES = ("calculus", "examples", "models", "alternatives", "testing")


def _modules():
    out = [nt]
    for info in pkgutil.walk_packages([str(PKG)], prefix="ntlib."):
        out.append(importlib.import_module(info.name))
    return out


def _tests():
    """{name: DocTest} for the module docstrings and for every function and
    class defined in each module of ntlib (the functions that @checked wraps
    included: doctest's own search skips them, their globals being the
    wrapper's), each docstring once."""
    top = doctest.DocTestFinder(recurse=False, exclude_empty=True)
    deep = doctest.DocTestFinder(exclude_empty=True)
    found, seen = {}, set()

    def keep(tests):
        for test in tests:
            if test.examples and test.docstring not in seen:
                seen.add(test.docstring)
                found[test.name] = test

    for mod in _modules():
        keep(top.find(mod, mod.__name__, globs={}))
        for name, obj in vars(mod).items():
            if getattr(obj, "__module__", None) == mod.__name__ and \
                    (callable(obj) or isinstance(obj, type)):
                keep(deep.find(obj, f"{mod.__name__}.{name}", module=False, globs={}))
    return found


TESTS = _tests()


def _flat_callables():
    """The public functions of nt.* (classes and modules aside)."""
    out = {}
    for name in dir(nt):
        obj = getattr(nt, name)
        if name.startswith("_") or isinstance(obj, type) or not callable(obj):
            continue
        out[name] = obj
    return out


def _examples_of(obj):
    doc = getattr(obj, "__doc__", None) or ""
    return doc.count(">>>")


def test_there_are_enough_examples():
    n = sum(len(t.examples) for t in TESTS.values())
    assert len(TESTS) >= 40 and n >= 100, (len(TESTS), n)


def test_every_function_of_the_notation_has_an_example():
    missing = sorted(n for n, f in _flat_callables().items() if not _examples_of(f))
    assert not missing, f"nt.* functions without a >>> example: {missing}"


@pytest.mark.parametrize("space", NAMESPACES)
def test_each_namespace_shows_examples(space):
    mod = getattr(nt, space)
    with_examples = [n for n in mod.__all__ if _examples_of(getattr(mod, n))]
    assert len(with_examples) >= 2, (space, with_examples)


_DEVICE_WORDS = re.compile(r"\b(cpu|cuda(:\d+)?|mps|meta)\b|device=")
_SIGNED_ZERO = re.compile(r"(?<![\w.])-0(\.0*)?(?![\d.]*[1-9])(?=[\s,\])]|$)")


@pytest.mark.parametrize("name", sorted(TESTS))
def test_expected_outputs_are_device_free(name):
    for ex in TESTS[name].examples:
        assert not _DEVICE_WORDS.search(ex.want), (name, ex.source, ex.want)
        assert not _SIGNED_ZERO.search(ex.want), (name, ex.source, ex.want)


def test_the_output_checks_can_fail():
    assert _DEVICE_WORDS.search("tensor([1.], device='cuda:0')")
    assert _SIGNED_ZERO.search("[ 0.5 -0.   1. ]") and _SIGNED_ZERO.search("-0.0\n")
    assert not _SIGNED_ZERO.search("[-0.5  -0.0001 -10.]")


# The book's reference renders each example as a code block: 79 columns at
# 1280 px, less where a method's docstring is nested (tests/test_book.py
# measures the rendered pages in a browser; this catches it without one).
WIDTH = 74


def _too_wide(test):
    out = []
    for ex in test.examples:
        src = ex.source.rstrip("\n").split("\n")
        lines = [(">>> " if k == 0 else "... ") + ln for k, ln in enumerate(src)]
        lines += ex.want.rstrip("\n").split("\n") if ex.want else []
        out += [ln for ln in lines if len(ln) > WIDTH]
    return out


def test_examples_fit_the_reference_column():
    wide = {name: _too_wide(t) for name, t in TESTS.items() if _too_wide(t)}
    assert not wide, wide
    fake = doctest.DocTestParser().get_doctest(
        ">>> x = 1  " + "#" * WIDTH + "\n", {}, "fake", None, 0)
    assert _too_wide(fake)


@pytest.mark.parametrize("name", sorted(TESTS))
def test_docstring_examples_run(name):
    if nt.device().type == "meta":
        pytest.skip("a meta tensor has no values to print")
    test = TESTS[name]
    test.globs = {"nt": nt, "torch": torch}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out = []
    runner.run(test, out=out.append, clear_globs=True)
    assert runner.failures == 0, "".join(out)
