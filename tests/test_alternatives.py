"""ntlib.alternatives against independent engines: xarray (numpy), sqlite3.

Operands are drawn by hypothesis: a pool of axes with untuned sizes, each
operand a random subset in a random storage order, contracted over a random
subset of the axes — so shared, unshared, kept and summed axes all occur.
"""

import sqlite3

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import ntlib as nt

POOL = ("batch", "heads", "seq'", "seq", "key", "val")
SETTINGS = settings(max_examples=25, deadline=None)


def named(seed, order, sizes):
    """A float64 named tensor with axes stored in ``order``."""
    return nt.randn(seed=seed, dtype=torch.float64, **{a: sizes[a] for a in order})


@st.composite
def operands(draw, n_min=2, n_max=3):
    sizes = {a: draw(st.integers(1, 4)) for a in POOL}
    n = draw(st.integers(n_min, n_max))
    ts = []
    for k in range(n):
        axes = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True))
        ts.append(named(100 * k + draw(st.integers(0, 99)), axes, sizes))
    union = sorted({a for t in ts for a in nt.names(t)})
    over = draw(st.lists(st.sampled_from(union), unique=True)) if union else []
    return ts, over


def pos(x, order):
    return nt.positional(x, order).detach().cpu().double()


def same(a, b, tol=1e-10):
    assert nt.shape(a) == nt.shape(b), (nt.shape(a), nt.shape(b))
    order = nt.names(a)
    torch.testing.assert_close(pos(a, order), pos(b, order), rtol=tol, atol=tol)


# --------------------------------------------------------------------------
# xarray

@SETTINGS
@given(st.data())
def test_xarray_round_trip(data):
    order = data.draw(st.permutations(POOL[:4]))
    k = data.draw(st.integers(1, 4))
    sizes = {a: data.draw(st.integers(1, 5)) for a in POOL}
    x = named(data.draw(st.integers(0, 1000)), order[:k], sizes)
    da = nt.alternatives.to_xarray(x)
    assert isinstance(da, xr.DataArray)
    assert set(da.dims) == set(nt.names(x))
    assert dict(da.sizes) == nt.shape(x)
    # the values, read by numpy in another order, are x's values
    want = list(reversed(order[:k]))
    np.testing.assert_array_equal(da.transpose(*want).values, pos(x, want).numpy())
    back = nt.alternatives.from_xarray(da)
    assert nt.shape(back) == nt.shape(x)
    assert torch.equal(pos(back, want), pos(x, want))          # exact
    # and from an xarray-side transpose
    back2 = nt.alternatives.from_xarray(da.transpose(*want))
    assert torch.equal(pos(back2, order[:k]), pos(x, order[:k]))


def test_xarray_integer_and_coords_rule():
    i = nt.tensor([[1, 2, 3], [4, 5, 6]], ("batch", "seq"))
    da = nt.alternatives.to_xarray(i, coords={"seq": ["a", "b", "c"]})
    assert list(da.coords["seq"].values) == ["a", "b", "c"]
    back = nt.alternatives.from_xarray(da)                         # coordinates are dropped
    assert not back.data.is_floating_point()
    assert torch.equal(pos(back, ("batch", "seq")), pos(i, ("batch", "seq")))
    # a DataArray with labels in another order: values taken in da's order
    da2 = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("a", "b"),
                       coords={"b": [30, 10, 20], "extra": ("a", [7, 8])})
    y = nt.alternatives.from_xarray(da2)
    assert nt.shape(y) == {"a": 2, "b": 3}
    np.testing.assert_array_equal(pos(y, ("a", "b")).numpy(), np.arange(6.0).reshape(2, 3))


def test_from_xarray_rejects_non_string_dims():
    da = xr.DataArray(np.zeros((2, 3)), dims=("a", 5))
    with pytest.raises(nt.AxisError, match="5"):
        nt.alternatives.from_xarray(da)


@SETTINGS
@given(operands())
def test_xr_dot_equals_contract(ops):
    ts, over = ops
    want = nt.contract(*ts, over=over)
    got = xr.dot(*[nt.alternatives.to_xarray(t) for t in ts], dim=list(over))
    same(nt.alternatives.from_xarray(got), want)


# --------------------------------------------------------------------------
# SQL

@SETTINGS
@given(operands())
def test_sql_contract_equals_contract(ops):
    ts, over = ops
    same(nt.alternatives.sql_contract(*ts, over=over), nt.contract(*ts, over=over))


@SETTINGS
@given(operands(n_min=2, n_max=2), st.data())
def test_sql_contract_with_rename(ops, data):
    ts, over = ops
    want = nt.contract(*ts, over=over)
    kept = nt.names(want)
    if not kept:
        return
    old = data.draw(st.sampled_from(kept))
    mapping = {old: old + "_new"}
    same(nt.alternatives.sql_contract(*ts, over=over, rename=mapping), nt.rename(want, mapping))


def test_sql_tables_hold_every_record():
    x = nt.randn(seed=4, dtype=torch.float64, seq=3, key=2)
    conn = sqlite3.connect(":memory:")
    nt.alternatives.sql_load(conn, "X", x)
    rows = conn.execute('SELECT "key", "seq", "v" FROM "X" ORDER BY "key", "seq"').fetchall()
    assert len(rows) == 6
    for k, s, v in rows:
        assert v == pos(x, ("key", "seq"))[k, s].item()


def test_sql_query_text():
    q = nt.alternatives.sql_contract_query({"W": ("out", "layer"), "X": ("batch", "layer")}, "layer",
                              rename={"out": "layer"})
    assert 'JOIN "X" AS t1 ON t1."layer" = t0."layer"' in q
    assert 'GROUP BY t0."out", t1."batch"' in q
    assert 't0."out" AS "layer"' in q
    assert 'SUM(t0."v" * t1."v")' in q


def test_sql_errors_name_the_axis():
    x = nt.randn(seed=1, dtype=torch.float64, seq=3, key=2)
    y = nt.randn(seed=2, dtype=torch.float64, seq=4, key=2)
    with pytest.raises(nt.AxisError, match="'seq'"):
        nt.alternatives.sql_contract(x, y, over="key")
    with pytest.raises(nt.AxisError, match="'kye'"):
        nt.alternatives.sql_contract_query({"X": ("seq", "key")}, over="kye")
    with pytest.raises(nt.AxisError, match="'seq'"):
        nt.alternatives.sql_contract_query({"X": ("seq", "key")}, over="key", rename={"seq": "key2",
                                                                        "key": "z"})
    with pytest.raises(nt.AxisError, match="'v'"):
        nt.alternatives.sql_load(sqlite3.connect(":memory:"), "X",
                    nt.randn(seed=1, dtype=torch.float64, v=2))


# --------------------------------------------------------------------------
# diagrams

def brute_network(ts, labels, over):
    """Edges, hubs and legs from the definition, axis by axis."""
    axes = {a for t in ts for a in nt.names(t)}
    edges, hubs, legs = set(), {}, set()
    for a in axes:
        hs = [v for v, t in zip(labels, ts) if a in nt.names(t)]
        if a in over and len(hs) == 2:
            edges.add((frozenset(hs), a))
        elif a not in over and len(hs) == 1:
            legs.add((hs[0], a))
        else:
            hubs[a] = set(hs)
            if a not in over:
                legs.add((("hub", a), a))
    return edges, hubs, legs


@SETTINGS
@given(operands())
def test_network_structure(ops):
    ts, over = ops
    labels = [f"X{k}" for k in range(len(ts))]
    g = nt.alternatives.network(*ts, names=labels, over=over)
    edges, hubs, legs = brute_network(ts, labels, over)
    assert g.nodes == labels
    assert {(frozenset((u, v)), a) for u, v, a in g.edges} == edges
    assert {a: set(h) for a, h in g.hubs.items()} == hubs
    assert set(g.legs) == legs
    # the dangling legs are the axes of the contraction's result
    assert sorted(g.free) == sorted(nt.names(nt.contract(*ts, over=over)))


def test_network_attention_and_draw():
    import matplotlib
    matplotlib.use("Agg")
    q = nt.randn(seed=1, dtype=torch.float64, key=3)
    K = nt.randn(seed=2, dtype=torch.float64, seq=4, key=3)
    g = nt.alternatives.network(q, K, names=["q", "K"], over="key")
    assert g.edges == [("q", "K", "key")] and g.legs == [("K", "seq")] and not g.hubs
    ax = g.draw()
    assert len(ax.lines) == 2                    # one edge, one leg
    with pytest.raises(nt.AxisError, match="'kye'"):
        nt.alternatives.network(q, K, over="kye")


# --------------------------------------------------------------------------
# exercises of chapter 6

def test_exercise_solutions_pass():
    ids = [i for i in nt.exercises.ids() if i.startswith("6.")]
    assert len(ids) >= 3
    for i in ids:
        sol = nt.exercises.solution(i)
        answer = sol() if nt.exercises.get(i).kind != "function" else sol
        assert nt.exercises.check(i, answer)


def _wrong_answers(ref):
    def scaled(*a, **k):
        return 2 * ref(*a, **k)

    def renamed(*a, **k):
        y = ref(*a, **k)
        return nt.rename(y, {nt.names(y)[0]: "wrong"})

    def raising(*a, **k):
        raise nt.AxisError("no")
    return scaled, renamed, raising


@pytest.mark.parametrize("i", ["6.1", "6.2", "6.3"])
def test_exercise_wrong_answers_rejected(i):
    ref = nt.exercises.solution(i)
    for bad in _wrong_answers(ref):
        with pytest.raises(nt.exercises.ExerciseError):
            nt.exercises.check(i, bad)


def test_exercise_choice_rejects_wrong_keys():
    ex = nt.exercises.get("6.4")
    right = ex.reference()
    for key in ex.choices:
        if key != right:
            with pytest.raises(nt.exercises.ExerciseError):
                nt.exercises.check("6.4", key)


def test_sql_query_scale_and_cte():
    """A scaled contraction, used as a WITH step of a larger query."""
    a = nt.randn(seed=7, dtype=torch.float64, batch=2, key=3)
    k = nt.randn(seed=8, dtype=torch.float64, key=3, seq=4)
    conn = sqlite3.connect(":memory:")
    sizes = {**nt.alternatives.sql_load(conn, "A", a), **nt.alternatives.sql_load(conn, "K", k)}
    inner = nt.alternatives.sql_contract_query({"A": ("batch", "key"), "K": ("key", "seq")},
                                  "key", scale=0.25)
    query = f"WITH S AS ({inner}) SELECT \"seq\", SUM(\"v\") AS \"v\" " \
            f"FROM S GROUP BY \"seq\""
    got = nt.alternatives.sql_read(conn, query, sizes)
    same(got, nt.sum(nt.contract(a, k, over="key"), "batch") * 0.25)
