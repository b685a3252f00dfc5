r"""Entry formulas in ntlib.notation: index variables, cases, comparisons,
\sum over an index, the indicator of a statement.

Each value is checked against an independent computation: Python loops over
the entries with the math module, positional torch, or the library's own
blocks written elsewhere (nt.causal_mask, nt.models.positional_encoding,
nt.examples.sudoku_check), never against the notation module itself.
"""

from __future__ import annotations

import math

import pytest
import torch

import ntlib as nt
from ntlib.notation import (Cases, Compare, IndexSum, Indicator, Logic, NotationError,
                            Parity, evaluate, parse, run_cell, sides, to_latex)
from ntlib.testing import assert_close

CAUSAL = (r"M_{\seq(i), \name{query}(j)} = \begin{cases} 0 & i \le j \\"
          r" -\infty & \text{otherwise.} \end{cases}")
LOCAL = (r"M_{\seq(i), \seq'(j)} = \begin{cases} 0 & j - w < i \le j, \\"
         r" -\infty & \text{otherwise,} \end{cases}")
ENCODING = (r"P_{\seq(p), \layer(i)} = \begin{cases}"
            r" \sin\bigl((p-1) / 10000^{(i-1)/|\layer|}\bigr) & i \text{ odd,} \\"
            r" \cos\bigl((p-1) / 10000^{(i-2)/|\layer|}\bigr) & i \text{ even.}"
            r" \end{cases}")
SUDOKU = (r"\mathbb{I}\Big[\nsum{\assign} X = 1 \wedge \nsum{\height \\ \width} Y = 1"
          r" \wedge \nsum{\height} X = 1 \wedge \nsum{\width} X = 1\Big]")


# --------------------------------------------------------------------------
# parsing


def test_cases_parse_into_branches_with_otherwise_last():
    eq = parse(CAUSAL)
    cases = eq.sides[1]
    assert isinstance(cases, Cases) and len(cases.branches) == 2
    assert isinstance(cases.branches[0][1], Compare) and cases.branches[0][1].ops == ("<=",)
    assert cases.branches[1][1] is None


def test_a_chain_of_comparisons_is_one_node():
    cond = parse(LOCAL).sides[1].branches[0][1]
    assert isinstance(cond, Compare) and cond.ops == ("<", "<=")


def test_parity_words():
    branches = parse(ENCODING).sides[1].branches
    assert [b[1] for b in branches] == [Parity(branches[0][1].x, True),
                                        Parity(branches[1][1].x, False)]


def test_and_binds_tighter_than_or():
    node = parse(r"\mathbb{I}[a > 1 \vee a < 0 \wedge b = 2]")
    assert isinstance(node, Indicator)
    assert isinstance(node.cond, Logic) and node.cond.op == "or"
    assert isinstance(node.cond.right, Logic) and node.cond.right.op == "and"


def test_sum_over_an_index_variable_parses():
    node = parse(r"\sum_{i} X_{\ax(i)}")
    assert isinstance(node, IndexSum) and node.var == "i"
    assert parse(r"\sum_i X_{\ax(i)}") == node


@pytest.mark.parametrize("formula", [CAUSAL, LOCAL, ENCODING, SUDOKU,
                                     r"\nsum{\ax} X = \sum_{i} 2 X_{\ax(i)}",
                                     r"\mathbb{I}[(a > 1 \vee a < 0) \wedge b \ne 2]"])
def test_to_latex_round_trips(formula):
    printed = to_latex(parse(formula))
    assert to_latex(parse(printed)) == printed


@pytest.mark.parametrize("formula, token, message", [
    (r"\begin{cases} 0 & \text{otherwise} \\ 1 & i < j \end{cases}", "1",
     "'otherwise' must be the last case"),
    (r"\begin{cases} 0 i < j \end{cases}", "<", "expected '&'"),
    (r"\begin{cases} 0 & i < j", "end of formula", "end of formula"),
    (r"\mathbb{I}[X = 1", "end of formula", "expected ']'"),
])
def test_malformed_cases_raise_a_notation_error(formula, token, message):
    with pytest.raises(NotationError, match=message) as err:
        parse(formula)
    assert err.value.token == token


# --------------------------------------------------------------------------
# entry formulas against independent references


@pytest.mark.parametrize("n", [1, 3, 6])
def test_causal_mask_entry_formula_equals_the_block(n):
    left, right = sides(CAUSAL, {"M": nt.causal_mask(n)})
    want = [[0.0 if i <= j else -math.inf for j in range(n)] for i in range(n)]
    got = nt.positional(right, ("seq", "query")).tolist()
    assert got == want
    assert_close(left, right)


@pytest.mark.parametrize("n, w", [(5, 2), (6, 3), (4, 1), (3, 5)])
def test_local_mask_against_loops(n, w):
    K = nt.randn(seed=1, seq=n, key=2)
    Q = nt.randn(seed=2, key=2, **{"seq'": n})
    value = evaluate(LOCAL, {"w": w, "K": K, "Q": Q})
    want = [[0.0 if j - w < i <= j else -math.inf for j in range(1, n + 1)]
            for i in range(1, n + 1)]
    assert nt.positional(value, ("seq", "seq'")).tolist() == want


@pytest.mark.parametrize("n, d", [(7, 6), (3, 10)])
def test_positional_encoding_against_loops_and_the_block(n, d):
    P = nt.models.positional_encoding(n, d)
    left, right = sides(ENCODING, {"P": P})
    want = torch.tensor([[math.sin((p - 1) / 10000 ** ((i - 1) / d)) if i % 2 else
                          math.cos((p - 1) / 10000 ** ((i - 2) / d))
                          for i in range(1, d + 1)] for p in range(1, n + 1)],
                        dtype=torch.float64)
    torch.testing.assert_close(nt.positional(right, ("seq", "layer")), want)
    assert_close(left, right)


def test_index_variables_with_the_storage_order_reversed():
    data = torch.randn(4, 3, dtype=torch.float64)
    X = nt.tensor(data.T.contiguous(), ("b", "a"))          # stored b-major
    value = evaluate(r"\begin{cases} X_{\name{a}(i), \name{b}(j)} & i < j \\"
                     r" 0 & \text{otherwise} \end{cases}", {"X": X})
    want = torch.where(torch.arange(4)[:, None] < torch.arange(3)[None, :], data, 0.0)
    torch.testing.assert_close(nt.positional(value, ("a", "b")), want)


def test_sum_over_an_index_variable_is_the_sum_over_its_axis():
    data = torch.randn(5, 3, dtype=torch.float64)
    X = nt.tensor(data, ("ax", "height"))
    left, right = sides(r"\nsum{\ax} X = \sum_{i} X_{\ax(i)}", {"X": X})
    torch.testing.assert_close(nt.positional(right, ("height",)), data.sum(0))
    weighted = evaluate(r"\sum_{i} i X_{\ax(i)}", {"X": X})
    torch.testing.assert_close(nt.positional(weighted, ("height",)),
                               (torch.arange(1, 6, dtype=torch.float64)[:, None]
                                * data).sum(0))


def test_an_index_variable_bound_in_env_is_an_index():
    A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    assert float(evaluate(r"A_{\height(i), \width(3)}", {"A": A, "i": 2})) == 9.0


def test_cases_without_otherwise_leave_nan_where_nothing_holds():
    X = nt.tensor([-1.0, 0.0, 2.0], "ax")
    value = evaluate(r"\begin{cases} X & X > 0 \\ -X & X < 0 \end{cases}", {"X": X})
    got = nt.positional(value, ("ax",))
    assert got[0] == 1.0 and math.isnan(got[1]) and got[2] == 2.0


def test_the_first_condition_that_holds_wins():
    X = nt.tensor([1.0, 2.0, 3.0, 4.0], "ax")
    value = evaluate(r"\begin{cases} 10 & X > 1 \\ 20 & X > 2 \\ 30 & \text{otherwise}"
                     r" \end{cases}", {"X": X})
    assert nt.positional(value, ("ax",)).tolist() == [30.0, 10.0, 10.0, 10.0]


@pytest.mark.parametrize("a, b, want", [(2, 3, 1.0), (2, 2, 1.0), (-1, 3, 0.0),
                                        (-1, 2, 1.0), (0.5, 2, 0.0)])
def test_logic_on_numbers(a, b, want):
    assert evaluate(r"\mathbb{I}[a > 1 \vee a < 0 \wedge b = 2]", {"a": a, "b": b}) == want


# --------------------------------------------------------------------------
# the indicator of a statement


def _grid_check(grid):
    X = nt.examples.sudoku_one_hot(grid)
    env = {"X": X, "Y": nt.examples.sudoku_boxes(X)}
    return evaluate(SUDOKU, env), float(nt.examples.sudoku_check(X))


SOLVED = [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]


@pytest.mark.parametrize("grid, valid", [
    (SOLVED, 1.0),
    (SOLVED[:3] + [[4, 3, 1, 2]], 0.0),                       # two 1s in a box
    ([[(r + c) % 4 + 1 for c in range(4)] for r in range(4)], 0.0),   # boxes only
    ([SOLVED[1], SOLVED[0], SOLVED[2], SOLVED[3]], 1.0),      # rows 1, 2 swapped
])
def test_sudoku_indicator_matches_the_code(grid, valid):
    formula, code = _grid_check(grid)
    assert formula == code == valid


def test_indicator_is_one_only_when_every_entry_holds():
    X = nt.tensor([[1.0, 0.0], [0.0, 1.0]], ("a", "b"))
    assert evaluate(r"\mathbb{I}[\nsum{\name{a}} X = 1]", {"X": X}) == 1.0
    assert evaluate(r"\mathbb{I}[X = 1]", {"X": X}) == 0.0
    assert evaluate(r"\mathbb{I}[X \ge 0]", {"X": X}) == 1.0


# --------------------------------------------------------------------------
# errors


def test_an_index_variable_on_two_axes_is_refused():
    X = nt.randn(seed=0, a=2, b=2)
    with pytest.raises(NotationError, match="indexes two axes"):
        evaluate(r"X_{\name{a}(i), \name{b}(i)}", {"X": X})


def test_sum_over_a_letter_that_indexes_nothing_is_refused():
    X = nt.randn(seed=0, ax=3)
    with pytest.raises(NotationError, match="index of no axis"):
        evaluate(r"\sum_{k} X", {"X": X})


def test_an_index_variable_of_an_axis_nothing_has_names_the_axis():
    with pytest.raises(nt.AxisError, match="seq"):
        evaluate(CAUSAL, {})


# --------------------------------------------------------------------------
# the %%ntn magic


def test_an_entry_formula_in_a_cell_binds_its_tensor():
    data = torch.randn(3, 4, dtype=torch.float64)
    ns = {"A": nt.tensor(data, ("height", "width"))}
    value = run_cell("T_{\\height(i), \\width(j)} = \\begin{cases}\n"
                     "    A_{\\height(i), \\width(j)} & i \\le j \\\\\n"
                     "    0 & \\text{otherwise} \\end{cases}\n"
                     "\\nsum{\\width} T", ns)
    torch.testing.assert_close(nt.positional(ns["T"], ("height", "width")), data.triu())
    torch.testing.assert_close(nt.positional(value, ("height",)), data.triu().sum(1))


def test_an_entry_formula_of_a_bound_tensor_binds_nothing():
    A = nt.randn(seed=0, height=2, width=2)
    ns = {"A": A}
    run_cell("A_{\\height(i), \\width(j)} = A_{\\height(i), \\width(j)}", ns)
    assert ns["A"] is A and set(ns) == {"A"}


@pytest.mark.parametrize("formula, env, want", [
    (CAUSAL, {}, "M"),
    (CAUSAL, {"M": 1}, None),                                  # M is bound already
    (r"M_{\seq(i), \seq'(j)} = 0", {"i": 2}, None),             # i is an index
    (r"M_{\seq(i)} = i", {}, "M"),
    (r"MM_{\seq(i)} = i", {}, None),                             # not one letter
    (r"M_{\seq(i)}", {}, None),                                  # not an equation
    (r"Y = X + 1", {}, None),
])
def test_defines_names_the_tensor_an_entry_formula_defines(formula, env, want):
    assert nt.notation.defines(formula, env) == want
