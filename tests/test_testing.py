"""ntlib.testing: the assertions fail on wrong values, names, sizes and dtypes
(with messages naming them), pass by name whatever the storage order, and
the strategies draw what they say."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ntlib as nt
from ntlib.testing import (assert_close, assert_equal, axis_orders, default_tolerances,
                           named, named_tensors, positional_reference, shapes)

F64 = torch.float64


def data(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------
# named: positional data stored in another order


@pytest.mark.parametrize("storage", [None, ("c", "a", "b"), (2, 0, 1), ("b", "c", "a")])
def test_named_holds_the_data_by_name(storage):
    d = data(2, 3, 4)
    x = named(d, ("a", "b", "c"), storage=storage)
    if storage is not None:
        want = storage if isinstance(storage[0], str) else tuple("abc"[p] for p in storage)
        assert nt.names(x) == want
    for i in range(2):
        for j in range(3):
            for k in range(4):
                assert x(a=i, b=j, c=k).item() == d[i, j, k].item()


def test_named_refuses_a_storage_order_of_other_axes():
    with pytest.raises(ValueError, match="storage"):
        named(data(2, 3), ("a", "b"), storage=("a", "c"))


# --------------------------------------------------------------------------
# assert_close / assert_equal


def test_close_by_name_whatever_the_storage_order():
    d = data(2, 3, 4)
    x = named(d, ("a", "b", "c"))
    y = named(d, ("a", "b", "c"), storage=("c", "a", "b"))
    assert nt.names(x) != nt.names(y)
    assert_close(x, y)
    assert_equal(x, y)
    assert_close(y, d, order=("a", "b", "c"))
    assert_close(y, d.permute(1, 2, 0).numpy(), order=("b", "c", "a"))


def test_close_fails_on_a_wrong_value_and_names_the_record():
    d = data(2, 3, 4)
    e = d.clone()
    e[1, 2, 0] += 1e-3
    x = named(d, ("a", "b", "c"), storage=("c", "b", "a"))
    with pytest.raises(AssertionError, match=r"1 of 24 values differ") as err:
        assert_close(x, named(e, ("a", "b", "c")))
    msg = str(err.value)
    for part in ("a[2]", "b[3]", "c[4]", "'a': 1", "'b': 2", "'c': 0"):
        assert part in msg, (part, msg)
    with pytest.raises(AssertionError, match=r"'a': 1, 'b': 2, 'c': 0"):
        assert_close(x, e, order=("a", "b", "c"))
    assert_close(x, e, order=("a", "b", "c"), rtol=0, atol=2e-3)


def test_close_fails_on_wrong_names():
    x = named(data(2, 3), ("a", "b"))
    with pytest.raises(AssertionError, match=r"axes differ.*a\[2\], b\[3\].*a\[2\], "
                                              r"z\[3\].*missing from actual: \['z'\]"):
        assert_close(x, named(data(2, 3), ("a", "z")))
    with pytest.raises(AssertionError, match=r"axes differ.*not expected: \['b'\]"):
        assert_close(x, nt.sum(x, "b"))


def test_close_fails_on_wrong_sizes():
    x = named(data(2, 3), ("a", "b"))
    with pytest.raises(AssertionError, match=r"'b' has size 3 in actual but 4"):
        assert_close(x, named(data(2, 4), ("a", "b")))
    with pytest.raises(AssertionError, match=r"shape \(3, 2\).*a\[2\], b\[3\]"):
        assert_close(x, data(3, 2), order=("a", "b"))


def test_close_fails_on_a_wrong_dtype_unless_told():
    x = named(data(2, 3), ("a", "b"))
    with pytest.raises(AssertionError, match="dtypes differ"):
        assert_close(x, nt.astype(x, torch.float32))
    assert_close(x, nt.astype(x, torch.float32), check_dtype=False)


def test_positional_expected_needs_an_order():
    x = named(data(2, 3), ("a", "b"))
    with pytest.raises(TypeError, match="needs order="):
        assert_close(x, data(2, 3))
    with pytest.raises(AssertionError, match="each axis"):
        assert_close(x, data(2, 3), order=("a", "c"))
    with pytest.raises(TypeError, match="named tensor"):
        assert_close(data(2, 3), x)
    assert_close(nt.sum(nt.tensor([1.0, 2.0], "a")), 3.0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, F64,
                                   torch.complex64, torch.complex128])
def test_default_tolerances_are_torch_testings(dtype):
    rtol, atol = default_tolerances(dtype)
    a, b = data(5, seed=1).to(dtype), data(5, seed=2).to(dtype)
    torch.testing.assert_close(a, a * (1 + rtol / 2))   # torch agrees it is close
    x = nt.tensor(a, "i")
    assert_close(x, a * (1 + rtol / 2), order="i")
    with pytest.raises(AssertionError):
        torch.testing.assert_close(a, b)
    with pytest.raises(AssertionError):
        assert_close(x, b, order="i")
    # just outside: 3 rtol relative (and above atol) fails for both
    c = a + (a.abs() * 3 * rtol + 3 * atol) * torch.sign(a.real)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(a, c)
    with pytest.raises(AssertionError, match="values differ"):
        assert_close(x, c, order="i")


def test_integers_are_compared_exactly():
    x = nt.tensor([1, 2, 3], "i")
    assert_close(x, torch.tensor([1, 2, 3]), order="i")
    with pytest.raises(AssertionError, match=r"'i': 2.*actual 3, expected 4"):
        assert_close(x, torch.tensor([1, 2, 4]), order="i")


def test_assert_equal_is_exact_and_nan_equals_nan():
    d = data(4)
    x = nt.tensor(d, "i")
    assert_equal(x, d.clone(), order="i")
    with pytest.raises(AssertionError, match="1 of 4 values differ"):
        assert_equal(x, torch.nextafter(d, d + 1) * torch.tensor([1, 0, 0, 0]) +
                     d * torch.tensor([0, 1, 1, 1]), order="i")
    n = torch.tensor([1.0, math.nan])
    assert_equal(nt.tensor(n, "i"), n, order="i")
    with pytest.raises(AssertionError):
        assert_close(nt.tensor(n, "i"), n, order="i")
    assert_close(nt.tensor(n, "i"), n, order="i", equal_nan=True)


# --------------------------------------------------------------------------
# positional_reference


def test_positional_reference_reads_each_argument_in_the_order():
    X = named(data(2, 3, seed=1), ("batch", "layer"), storage=("layer", "batch"))
    W = named(data(4, 3, seed=2), ("out", "layer"))
    ref = positional_reference(lambda x, w: x @ w, X, W,
                               order=("batch", "layer", "out"), names=("batch", "out"))
    assert_close(nt.contract(X, W, over="layer"), ref)
    ref2 = positional_reference(lambda x, w: x @ w.T, X, W,
                                order=(("batch", "layer"), ("out", "layer")),
                                names=("batch", "out"))
    assert_close(ref, ref2)
    # a wrong reference is caught: rows of the product in the wrong places
    wrong = positional_reference(lambda x, w: (x @ w).flip(0), X, W,
                                 order=("batch", "layer", "out"), names=("batch", "out"))
    with pytest.raises(AssertionError, match="values differ"):
        assert_close(nt.contract(X, W, over="layer"), wrong)


def test_positional_reference_checks_its_orders():
    X = named(data(2, 3), ("a", "b"))
    with pytest.raises(ValueError, match="does not place"):
        positional_reference(torch.neg, X, order=("a",), names=("a",))
    out = positional_reference(lambda x: (x.sum(0), x.sum(1)), X, order=("a", "b"),
                               names=(("b",), ("a",)))
    assert_close(out[0], nt.sum(X, "a"))
    assert_close(out[1], nt.sum(X, "b"))


# --------------------------------------------------------------------------
# strategies


@settings(max_examples=30)
@given(named_tensors(names=("a", "b", "c"), sizes={"a": 2, "b": 3, "c": 1},
                     dtype=torch.float32))
def test_named_tensors_have_the_names_sizes_and_dtype(x):
    assert nt.shape(x) == {"a": 2, "b": 3, "c": 1}    # dicts: any order
    assert nt.dtype(x) == torch.float32


@pytest.mark.parametrize("dtype", [torch.int16, torch.bool, torch.complex64])
def test_named_tensors_of_other_dtypes(dtype):
    seen = []

    @settings(max_examples=10)
    @given(named_tensors(names=("a",), dtype=dtype, low=-2, high=2))
    def run(x):
        assert nt.dtype(x) == dtype
        if dtype == torch.int16:
            assert int(nt.max(x)) <= 2 and int(nt.min(x)) >= -2
        seen.append(x)
    run()
    assert seen


def test_named_tensors_vary_the_storage_order_and_sizes():
    orders, sizes = set(), set()

    @settings(max_examples=60)
    @given(named_tensors(names=("a", "b", "c"), min_size=1, max_size=3))
    def run(x):
        orders.add(nt.names(x))
        sizes.add(tuple(sorted(nt.shape(x).items())))
    run()
    assert len(orders) == 6 and len(sizes) > 5


def test_named_tensors_with_elements_and_drawn_shapes():
    @settings(max_examples=20)
    @given(named_tensors(sizes=shapes(("p", "q"), max_size=3),
                         elements=st.floats(-1, 1)))
    def run(x):
        assert sorted(nt.names(x)) == ["p", "q"]
        d = nt.positional(x, ("p", "q"))
        assert bool((d.abs() <= 1).all())
    run()


@given(shapes(("a", "b", "c", "d"), min_axes=1, max_axes=2, max_size=3),
       axis_orders(("x", "y", "z")))
def test_shapes_and_axis_orders(s, order):
    assert 1 <= len(s) <= 2 and set(s) <= set("abcd")
    assert all(1 <= v <= 3 for v in s.values())
    assert sorted(order) == ["x", "y", "z"] and isinstance(order, tuple)


def test_same_reads_the_order_and_binds_a_tolerance():
    from ntlib.testing import same
    A = nt.tensor([[1.0, 2.0], [3.0, 4.0]], ("i", "j"))
    near = torch.tensor([[1.0, 3.0], [2.0, 4.0 + 1e-9]], dtype=torch.float64)
    assert same(A, ("j", "i"), near) is True            # torch's float64 tolerance
    with pytest.raises(AssertionError):
        same(A, ("j", "i"), near, tol=1e-12)
    with pytest.raises(AssertionError):
        same(A, ("i", "j"), near)                        # the order is read, not guessed


# --------------------------------------------------------------------------
# the chapters' comparisons: agree and allclose

def test_allclose_against_numpy_and_never_broadcasts():
    import numpy as np

    from ntlib.testing import allclose
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    for b in (a + 1e-9, a + 1e-3, a.T):
        assert allclose(torch.tensor(a, dtype=torch.float32), b.tolist()) == bool(
            np.allclose(a.astype(np.float32).astype(np.float64), b))
    assert not allclose(a[0], a)              # (2,) against (2, 2): numpy would broadcast
    assert np.allclose(a[0], a[[0, 0]])
    assert not allclose(a[0], a[[0, 0]])
    assert allclose(torch.tensor(3.0), 3)     # numbers and 0-dim tensors


def test_agree_says_what_it_checked_and_fails_on_a_difference():
    from ntlib.testing import agree
    A = nt.randn(seed=0, b=3, a=2)
    assert agree(A, A + 1e-12) == "agree on {a[2], b[3]} (max difference < 1e-10)"
    with pytest.raises(AssertionError):
        agree(A, A + 1e-6)
    with pytest.raises(AssertionError):
        agree(A, nt.rename(A, b="c"))
