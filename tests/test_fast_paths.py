"""The fast paths compute what the formulas say.

ntlib caches a plan per signature and calls torch directly: a contraction of
two operands as one matrix product, an elementwise operation on data laid out
by a remembered layout, an index through index_select or one advanced
indexing.  Each is compared here with an independent computation (torch.einsum
on positional data, a loop over records) on random axis assignments, storage
orders and sizes, and a plan reused for a second signature must not leak.
"""

import itertools

import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ntlib as nt

POOL = ("p", "q", "r", "s", "t")
SET = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def two_operands(draw):
    sizes = {a: draw(st.integers(1, 4)) for a in POOL}
    xa = draw(st.lists(st.sampled_from(POOL), unique=True, min_size=0, max_size=4))
    ya = draw(st.lists(st.sampled_from(POOL), unique=True, min_size=0, max_size=4))
    over = draw(st.lists(st.sampled_from(sorted(set(xa) | set(ya)) or ["p"]),
                         unique=True, max_size=3)) if xa or ya else []
    seed = draw(st.integers(0, 10 ** 6))
    dtype = draw(st.sampled_from([torch.float64, torch.float32, torch.int64]))
    return sizes, xa, ya, [a for a in over if a in set(xa) | set(ya)], seed, dtype


def _named(sizes, axes, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        d = torch.randn([sizes[a] for a in axes], generator=g, dtype=dtype)
    else:
        d = torch.randint(-3, 4, [sizes[a] for a in axes], generator=g, dtype=dtype)
    return nt.tensor(d, tuple(axes))


_SIZES = {"p": 2, "q": 3, "r": 4, "s": 2, "t": 3}


@given(two_operands())
@example((_SIZES, ["p", "q", "r"], ["q", "r", "s"], ["r"], 1, torch.float64))  # m before batch
@example((_SIZES, ["q", "p", "r", "t"], ["r", "q", "t", "s"], ["r", "t"], 2, torch.float32))
@example((_SIZES, ["r"], ["q", "r"], ["r"], 3, torch.float64))                # vector-matrix
@example((_SIZES, ["q", "r"], ["r"], ["r"], 4, torch.int64))                  # matrix-vector
@example((_SIZES, ["p", "q"], ["q", "p"], [], 5, torch.float64))              # no k: einsum
@SET
def test_contraction_of_two_against_einsum(case):
    sizes, xa, ya, over, seed, dtype = case
    x, y = _named(sizes, xa, seed, dtype), _named(sizes, ya, seed + 1, dtype)
    got = nt.contract(x, y, over=tuple(over))
    letters = {a: chr(97 + k) for k, a in enumerate(POOL)}
    keep = [a for a in dict.fromkeys(xa + ya) if a not in over]
    eq = ("".join(letters[a] for a in xa) + "," + "".join(letters[a] for a in ya) + "->"
          + "".join(letters[a] for a in keep))
    want = torch.einsum(eq, x.data.double(), y.data.double())
    assert sorted(got.names) == sorted(keep)
    torch.testing.assert_close(nt.positional(got, keep).double(), want,
                               rtol=1e-5, atol=1e-5)


@given(two_operands())
@SET
def test_elementwise_against_a_loop_over_records(case):
    sizes, xa, ya, _, seed, dtype = case
    x, y = _named(sizes, xa, seed, dtype), _named(sizes, ya, seed + 1, dtype)
    for f in (lambda u, v: u - v, lambda u, v: u * v):
        got = f(x, y)
        axes = list(dict.fromkeys(xa + ya))
        assert sorted(got.names) == sorted(axes)
        for rec in itertools.product(*(range(sizes[a]) for a in axes)):
            r = dict(zip(axes, rec))
            xv = x.data[tuple(r[a] for a in xa)]
            yv = y.data[tuple(r[a] for a in ya)]
            assert got.data[tuple(r[a] for a in got.names)] == f(xv, yv)


@given(st.data())
@SET
def test_indexing_against_a_loop(data):
    sizes = {a: data.draw(st.integers(1, 4)) for a in POOL}
    xa = data.draw(st.permutations(["p", "q", "r"]))
    ia = data.draw(st.lists(st.sampled_from(["q", "s", "t"]), unique=True, max_size=2))
    ax = data.draw(st.sampled_from(["p", "r"]))
    x = _named(sizes, xa, data.draw(st.integers(0, 999)), torch.float64)
    n = sizes[ax]
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 999)))
    dtype = data.draw(st.sampled_from([torch.int64, torch.int16, torch.uint8]))
    lo = 0 if dtype == torch.uint8 else -n
    i = nt.tensor(torch.randint(lo, n, [sizes[a] for a in ia], generator=g).to(dtype),
                  tuple(ia))
    got = x(**{ax: i})
    axes = [a for a in xa if a != ax] + [a for a in ia if a not in xa]
    assert sorted(got.names) == sorted(axes)
    for rec in itertools.product(*(range(sizes[a]) for a in axes)):
        r = dict(zip(axes, rec))
        pos = int(i.data[tuple(r[a] for a in ia)])
        r2 = dict(r, **{ax: pos})
        assert got.data[tuple(r[a] for a in got.names)] == \
            x.data[tuple(r2[a] for a in xa)]


def test_plans_are_per_signature():
    a = nt.randn(seed=0, i=2, j=3)
    b = nt.randn(seed=1, j=3, k=4)
    c = nt.randn(seed=2, j=3, k=5)          # same names, another size: a new plan
    torch.testing.assert_close(nt.positional(nt.contract(a, b, over="j"), ("i", "k")),
                               a.data @ b.data)
    torch.testing.assert_close(nt.positional(nt.contract(a, c, over="j"), ("i", "k")),
                               a.data @ c.data)
    bad = nt.randn(seed=3, j=2, k=5)        # a size clash is caught, plan or not
    import pytest
    with pytest.raises(nt.AxisError, match="'j'"):
        nt.contract(a, bad, over="j")
    with pytest.raises(nt.AxisError, match="'j'"):
        a + nt.randn(seed=4, j=1)           # torch would broadcast size 1 silently


def test_results_built_without_funsors_constructor_pickle_and_copy():
    import copy
    import pickle
    x = nt.randn(seed=0, a=2, b=3) * 2            # made by ntlib._internal.make
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x), copy.copy(x)):
        assert isinstance(y, nt.NamedTensor) and y.names == ("a", "b")
        assert nt.equal(x, y)
