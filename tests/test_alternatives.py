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
from ntlib.testing import assert_close, assert_equal, named_tensors

POOL = ("batch", "heads", "seq'", "seq", "key", "val")
SETTINGS = settings(max_examples=25, deadline=None)
TOL = dict(rtol=1e-10, atol=1e-10)


@st.composite
def operands(draw, n_min=2, n_max=3):
    sizes = {a: draw(st.integers(1, 4)) for a in POOL}
    n = draw(st.integers(n_min, n_max))
    ts = []
    for k in range(n):
        axes = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True))
        ts.append(draw(named_tensors(names=axes, sizes=sizes)))
    union = sorted({a for t in ts for a in nt.names(t)})
    over = draw(st.lists(st.sampled_from(union), unique=True)) if union else []
    return ts, over


# --------------------------------------------------------------------------
# xarray

@SETTINGS
@given(st.data())
def test_xarray_round_trip(data):
    order = data.draw(st.permutations(POOL[:4]))
    k = data.draw(st.integers(1, 4))
    sizes = {a: data.draw(st.integers(1, 5)) for a in POOL}
    x = data.draw(named_tensors(names=order[:k], sizes=sizes, max_size=5))
    da = nt.alternatives.to_xarray(x)
    assert isinstance(da, xr.DataArray)
    assert set(da.dims) == set(nt.names(x))
    assert dict(da.sizes) == nt.shape(x)
    # the values, read by numpy in another order, are x's values
    want = list(reversed(order[:k]))
    assert_equal(x, da.transpose(*want).values, order=want)
    back = nt.alternatives.from_xarray(da)
    assert_equal(back, x)                                       # exact
    # and from an xarray-side transpose
    assert_equal(nt.alternatives.from_xarray(da.transpose(*want)), x)


def test_xarray_integer_and_coords_rule():
    i = nt.tensor([[1, 2, 3], [4, 5, 6]], ("batch", "seq"))
    da = nt.alternatives.to_xarray(i, coords={"seq": ["a", "b", "c"]})
    assert list(da.coords["seq"].values) == ["a", "b", "c"]
    back = nt.alternatives.from_xarray(da)                         # coordinates are dropped
    assert not back.data.is_floating_point()
    assert_equal(back, i)
    # a DataArray with labels in another order: values taken in da's order
    da2 = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("a", "b"),
                       coords={"b": [30, 10, 20], "extra": ("a", [7, 8])})
    y = nt.alternatives.from_xarray(da2)
    assert nt.shape(y) == {"a": 2, "b": 3}
    assert_equal(y, np.arange(6.0).reshape(2, 3), order=("a", "b"))


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
    assert_close(nt.alternatives.from_xarray(got), want, **TOL)


# --------------------------------------------------------------------------
# SQL

@SETTINGS
@given(operands())
def test_sql_contract_equals_contract(ops):
    ts, over = ops
    assert_close(nt.alternatives.sql_contract(*ts, over=over), nt.contract(*ts, over=over), **TOL)


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
    assert_close(nt.alternatives.sql_contract(*ts, over=over, rename=mapping), nt.rename(want, mapping),
                 **TOL)


def test_sql_tables_hold_every_record():
    x = nt.randn(seed=4, dtype=torch.float64, seq=3, key=2)
    conn = sqlite3.connect(":memory:")
    nt.alternatives.sql_load(conn, "X", x)
    rows = conn.execute('SELECT "key", "seq", "v" FROM "X" ORDER BY "key", "seq"').fetchall()
    assert len(rows) == 6
    for k, s, v in rows:
        assert v == x(key=k, seq=s).item()


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
# relations as Boolean tensors (§6.3), against Python sets and sqlite3

@st.composite
def two_relations(draw):
    sizes = {a: draw(st.integers(1, 4)) for a in ("student", "course", "room")}

    def rows(a, b):
        pairs = [(i, j) for i in range(sizes[a]) for j in range(sizes[b])]
        return draw(st.sets(st.sampled_from(pairs)))

    return sizes, rows("student", "course"), rows("course", "room")


@SETTINGS
@given(two_relations())
def test_relation_join_projection_and_rename(rel):
    sizes, r_rows, s_rows = rel
    R = nt.alternatives.relation(r_rows, ("student", "course"), sizes)
    S = nt.alternatives.relation(s_rows, ("course", "room"), sizes)
    assert nt.alternatives.tuples(R, ("student", "course")) == set(r_rows)
    join = {(a, b, c) for a, b in r_rows for b2, c in s_rows if b == b2}
    got = nt.alternatives.tuples(R * S, ("student", "course", "room"))
    assert got == join
    counts = {}
    for a, _, c in join:
        counts[a, c] = counts.get((a, c), 0) + 1
    C = nt.contract(R, S, over="course")
    assert nt.alternatives.tuples(C, ("student", "room")) == set(counts)
    Cp = nt.positional(C, ("student", "room"))
    for (a, c), n in counts.items():
        assert int(Cp[a, c]) == n
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE R (student INTEGER, course INTEGER)")
    db.execute("CREATE TABLE S (course INTEGER, room INTEGER)")
    db.executemany("INSERT INTO R VALUES (?, ?)", sorted(r_rows))
    db.executemany("INSERT INTO S VALUES (?, ?)", sorted(s_rows))
    sql = set(db.execute("SELECT student, course, room "
                         "FROM R NATURAL JOIN S").fetchall())
    assert got == sql
    renamed = nt.rename(R, {"course": "class"})
    rho = set(db.execute("SELECT student, course AS class FROM R").fetchall())
    assert nt.alternatives.tuples(renamed, ("student", "class")) == rho


def test_relation_errors_name_the_axis():
    with pytest.raises(nt.AxisError, match="course"):
        nt.alternatives.relation([(0, 5)], ("student", "course"),
                                 {"student": 2, "course": 3})
    with pytest.raises(nt.AxisError, match="room"):
        nt.alternatives.relation([(0, 1)], ("student", "room"), {"student": 2})
    R = nt.alternatives.relation([(0, 1)], ("a", "b"), {"a": 2, "b": 2})
    with pytest.raises(nt.AxisError, match="axes"):
        nt.alternatives.tuples(R, ("a",))


# --------------------------------------------------------------------------
# dropout specified by its mask axes (§6.4), and varying_axes

def _varying_by_numpy(data, order):
    """Axes along which max - min is nonzero somewhere (numpy, no torch)."""
    return tuple(a for k, a in enumerate(order)
                 if np.any(np.ptp(data, axis=k) != 0))


@SETTINGS
@given(st.data())
def test_varying_axes_against_numpy(data):
    order = data.draw(st.permutations(["a", "b", "c"]))
    sizes = [data.draw(st.integers(1, 3)) for _ in order]
    vals = data.draw(st.lists(st.integers(0, 1), min_size=int(np.prod(sizes)),
                              max_size=int(np.prod(sizes))))
    arr = np.array(vals, dtype=float).reshape(sizes)
    x = nt.tensor(torch.from_numpy(arr), order)
    assert nt.alternatives.varying_axes(x) == _varying_by_numpy(arr, order)


@pytest.mark.parametrize("over", [("batch", "chans"), ("chans",),
                                  ("batch", "chans", "length")])
def test_dropout_mask_axes_scale_and_rate(over):
    X = 1 + nt.rand(seed=3, length=40, chans=30, batch=20)   # no zeros
    Y = nt.alternatives.dropout(X, 0.3, over, seed=4)
    dropped = Y == 0
    assert set(nt.alternatives.varying_axes(dropped)) == set(over)
    order = ("batch", "chans", "length")
    x, y = nt.positional(X, order), nt.positional(Y, order)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / 0.7, rtol=1e-12, atol=0)
    n = int(np.prod([nt.shape(X)[a] for a in over]))
    rate = float(nt.positional(dropped, order).double().mean())
    assert abs(rate - 0.3) < 4 * (0.3 * 0.7 / n) ** 0.5 + 1e-9
    Y2 = nt.alternatives.dropout(X, 0.3, over, seed=4)
    assert torch.equal(nt.positional(Y2, order), y)


def test_dropout_matches_torch_dropout2d_pattern_on_4d():
    """The named spec with over = (batch, chans) has the zero pattern that
    torch's Dropout2d has on (N, C, H, W): constant along H and W."""
    x = 1 + torch.rand(6, 7, 3, 4, dtype=torch.float64)
    torch.manual_seed(0)
    y = torch.nn.Dropout2d(0.5)(x)
    names = ("batch", "chans", "height", "width")
    torch_axes = nt.alternatives.varying_axes(nt.tensor(y == 0, names))
    ours = nt.alternatives.dropout(nt.tensor(x, names), 0.5,
                                   ("batch", "chans"), seed=1)
    assert set(torch_axes) == set(nt.alternatives.varying_axes(ours == 0)) \
        == {"batch", "chans"}


def test_dropout_errors():
    X = nt.randn(seed=5, batch=2, chans=3)
    with pytest.raises(nt.AxisError, match="length"):
        nt.alternatives.dropout(X, 0.5, ("length",), seed=0)
    with pytest.raises(ValueError, match="p must"):
        nt.alternatives.dropout(X, 1.0, ("batch",), seed=0)
