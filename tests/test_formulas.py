"""Every formula of the book that computes is checked (issue 24).

Each marked formula of chapters/*.py (the convention: tests/book_formulas.py,
CONTRIBUTING.md and Appendix C) is read by ntlib.notation and evaluated on
random data in three storage orders, against the code it is bound to; a
failure names chapter:line.  A quoted misprint must differ from the code.
A display formula written with the notation's operators must carry a mark,
an excluded one must be listed in Appendix C with its reason, and the
preface's "N of M formulas in this book run" must be the real count.
"""

import re
from collections import Counter

import pytest

import book_formulas as bf

FORMULAS = bf.all_formulas()
CHECKED = [f for f in FORMULAS if f.kind != "excluded"]


@pytest.mark.parametrize("f", CHECKED, ids=[f.where for f in CHECKED])
def test_formula_runs_and_agrees_with_its_code(f):
    assert bf.check(f) is True


def test_every_computing_display_formula_is_marked():
    unmarked = []
    for path in sorted(bf.CHAPTERS.glob("*.py")):
        for line, body, mark in bf.display_formulas(path):
            if mark is None and bf.COMPUTING_MACROS.search(body):
                unmarked.append(f"{path.name}:{line}: {' '.join(body.split())[:60]}")
    assert not unmarked, ("display formulas written with the notation's operators "
                          "but without a mark (<!-- ntn: ... --> above them):\n"
                          + "\n".join(unmarked))


def test_marks_are_well_formed():
    assert len(FORMULAS) > 50
    for f in FORMULAS:
        assert f.kind in bf.KINDS, f.where
        if f.kind == "excluded":
            assert f.item("id") and f.item("reason"), f"{f.where}: id= and reason="
            assert len(f.items) == 2, f"{f.where}: an excluded mark has id= and reason= only"
        else:
            assert f.item("id") is None, f"{f.where}: only excluded formulas have an id"
    ids = [f.item("id") for f in FORMULAS if f.kind == "excluded"]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)


def _appendix_table():
    """{id: chapter stem} from Appendix C's table of the formulas left out."""
    text = (bf.CHAPTERS / "a4_writing_notation.py").read_text()
    return dict(re.findall(r"^# \| `([\w-]+)` \| \[[^\]]*\]\((\w+)\.ipynb\) \|", text, re.M))


def test_appendix_c_lists_every_excluded_formula():
    table = _appendix_table()
    excluded = {f.item("id"): f for f in FORMULAS if f.kind == "excluded"}
    assert sorted(table) == sorted(excluded), (
        "Appendix C's table of formulas left out and the excluded marks differ: "
        f"only in the table {sorted(set(table) - set(excluded))}, "
        f"only marked {sorted(set(excluded) - set(table))}")
    for id_, f in excluded.items():
        assert table[id_] + ".py" == f.chapter, (id_, table[id_], f.where)


def test_preface_states_the_count():
    n, m = bf.counts()
    text = " ".join((bf.CHAPTERS / "00_preface.py").read_text().replace("# ", " ").split())
    found = re.findall(r"(\d+) of (\d+) formulas in this book run", text)
    assert found, "the preface says 'N of M formulas in this book run'"
    assert [(int(a), int(b)) for a, b in found] == [(n, m)], (found, (n, m))


def test_a_broken_formula_fails():
    """The harness can fail: a formula with one operand changed, and a binding
    to the wrong function, are both caught and named by chapter:line."""
    import ntlib as nt

    f = next(f for f in CHECKED if f.chapter.startswith("03") and "softmax" in f.text
             and f.kind == "definition" and "\\frac{\\exp X}" in f.text)
    broken = bf.Formula(f.chapter, f.line, f.kind, f.items,
                        f.text.replace("\\exp X}{", "\\exp 2X}{"), f.display)
    with pytest.raises(AssertionError, match=re.escape(f.where)):
        bf.check(broken)
    g = next(f for f in CHECKED if "Attention=nt.attention" in f.items)
    wrong = bf.Formula(g.chapter, g.line, g.kind,
                       [i if i != "Attention=nt.attention" else
                        "Attention=lambda Q, K, V: nt.attention(Q, K, 2 * V)" for i in g.items],
                       g.text, g.display)
    with pytest.raises(AssertionError, match=re.escape(g.where)):
        bf.check(wrong)
    assert nt is not None


def test_a_misprint_that_agrees_fails():
    """A quoted misprint whose printed form agrees with the code is reported."""
    f = next(f for f in CHECKED if f.kind == "definition" and "Attention=nt.attention" in f.items)
    fake = bf.Formula(f.chapter, f.line, "misprint", f.items, f.text, f.display)
    with pytest.raises(AssertionError, match="not a misprint"):
        bf.check(fake)
