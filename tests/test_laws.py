"""Property tests of the paper's laws (hypothesis draws shapes, axis orders, values)."""

import torch
from hypothesis import given, strategies as st

import ntlib as nt
from ntlib.testing import assert_close, named_tensors

POOL = ("p", "q", "r", "s", "t")   # (the hypothesis profile is in conftest.py)


@st.composite
def sizes(draw):
    return {a: draw(st.integers(1, 4)) for a in POOL}


@st.composite
def named_tensor(draw, sz, axes=None):
    """A float64 tensor over a subset of ``sz``'s axes, stored in a drawn order."""
    if axes is None:
        axes = draw(st.lists(st.sampled_from(POOL), unique=True, max_size=3))
    return draw(named_tensors(names=tuple(axes), sizes=sz))


@given(st.data())
def test_binary_lifting_is_broadcasting_by_name(data):
    sz = data.draw(sizes())
    x = data.draw(named_tensor(sz))
    y = data.draw(named_tensor(sz))
    allax = tuple(dict.fromkeys(nt.names(x) + nt.names(y)))
    for f in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b):
        got = f(x, y)
        if allax:
            # The definition: [f(X, Y)]_s = f(X_{s|shp X}, Y_{s|shp Y}), by a loop.
            assert_close(got, nt.lift(f, x, y, over=allax))


@given(st.data())
def test_contraction_is_commutative_and_a_sum_of_products(data):
    sz = data.draw(sizes())
    x = data.draw(named_tensor(sz))
    y = data.draw(named_tensor(sz))
    shared = sorted(set(nt.names(x)) | set(nt.names(y)))
    over = data.draw(st.lists(st.sampled_from(shared), unique=True)) if shared else []
    if not nt.names(x) and not nt.names(y):
        return
    xy = nt.contract(x, y, over=over)
    assert_close(xy, nt.contract(y, x, over=over))
    assert_close(xy, nt.sum(x * y, over) if over else x * y)


@given(st.data())
def test_associative_like_law(data):
    # X ⊙_{S∪T} (Y ⊙_U Z) = (X ⊙_S Y) ⊙_{T∪U} Z  when S ∩ shp Z = U ∩ shp X = ∅.
    sz = data.draw(sizes())
    x = data.draw(named_tensor(sz))
    y = data.draw(named_tensor(sz))
    z = data.draw(named_tensor(sz))
    sx, sz_ = set(nt.names(x)), set(nt.names(z))
    everything = sorted(sx | set(nt.names(y)) | sz_)
    S, T, U = set(), set(), set()
    for a in everything:
        # each axis is kept, or contracted in exactly one of S, T, U,
        # respecting the side condition S ∩ shp Z = U ∩ shp X = ∅
        choices = ["keep", "T"] + (["S"] if a not in sz_ else []) + (["U"] if a not in sx else [])
        {"keep": set(), "S": S, "T": T, "U": U}[data.draw(st.sampled_from(choices))].add(a)
    left = nt.contract(x, nt.contract(y, z, over=sorted(U)), over=sorted(S | T))
    right = nt.contract(nt.contract(x, y, over=sorted(S)), z, over=sorted(T | U))
    assert_close(left, right)


def test_contraction_is_not_associative_without_the_side_condition():
    x = nt.randn(seed=0, i=3)
    y = nt.randn(seed=1, i=3)
    z = nt.randn(seed=2, i=3)
    a = nt.contract(nt.contract(x, y, over="i"), z, over="i")   # (x·y) Σ z
    b = nt.contract(x, nt.contract(y, z, over="i"), over="i")   # Σ x (y·z)
    assert not nt.allclose(a, b)


@given(st.data())
def test_rename_round_trip(data):
    sz = data.draw(sizes())
    x = data.draw(named_tensor(sz, axes=data.draw(st.lists(st.sampled_from(POOL), unique=True, min_size=1, max_size=3))))
    old = data.draw(st.sampled_from(nt.names(x)))
    new = "fresh"
    y = nt.rename(x, {old: new})
    assert new in nt.names(y) and old not in nt.names(y)
    assert_close(nt.rename(y, {new: old}), x)


@given(st.data())
def test_flatten_round_trip(data):
    sz = data.draw(sizes())
    axes = data.draw(st.lists(st.sampled_from(POOL), unique=True, min_size=1, max_size=3))
    x = data.draw(named_tensor(sz, axes=axes))
    k = data.draw(st.integers(1, len(axes)))
    merged = data.draw(st.permutations(axes))[:k]
    f = nt.flatten(x, merged, "m")
    assert nt.shape(f)["m"] == torch.tensor([sz[a] for a in merged]).prod().item()
    assert_close(nt.unflatten(f, "m", {a: sz[a] for a in merged}), x)


@given(st.data())
def test_softmax_sums_to_one_in_any_axis_order(data):
    sz = data.draw(sizes())
    axes = data.draw(st.lists(st.sampled_from(POOL), unique=True, min_size=1, max_size=3))
    x = data.draw(named_tensor(sz, axes=axes)) * 10.0
    ax = data.draw(st.sampled_from(axes))
    s = nt.softmax(x, ax)
    total = nt.sum(s, ax)
    rest = [a for a in axes if a != ax]
    assert_close(total, torch.ones([sz[a] for a in rest], dtype=torch.float64), order=rest)
    assert bool(nt.min(s) >= 0)
