"""The named-tensor type and the API a user reaches for, against positional torch.

Each new function is checked against torch on its own positional data, on
random shapes and storage orders (hypothesis); the guarded methods of
NamedTensor either do the named operation or raise a clear error.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ntlib as nt

SETTINGS = settings(max_examples=25, deadline=None)
NAMES = ("a", "b", "c")


@st.composite
def named_data(draw, dtype=torch.float64):
    """(positional data with dims a, b, c; the same as a named tensor stored in a random order)."""
    sizes = [draw(st.integers(1, 5)) for _ in NAMES]
    perm = draw(st.permutations(range(3)))
    seed = draw(st.integers(0, 10_000))
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        d = torch.randn(*sizes, generator=g, dtype=dtype)
    else:
        d = torch.randint(-4, 5, sizes, generator=g, dtype=dtype)
    x = nt.tensor(d.permute(perm).contiguous(), [NAMES[p] for p in perm])
    return d, x


def back(x, order=NAMES):
    return nt.positional(x, order)


@pytest.fixture
def A():
    return nt.randn(seed=0, height=3, width=4)


# --------------------------------------------------------------------------
# never a silent wrong answer: positional operands

@pytest.mark.parametrize("op", [
    lambda A, t: A + t, lambda A, t: t + A, lambda A, t: A * t, lambda A, t: t * A,
    lambda A, t: A - t, lambda A, t: t / A, lambda A, t: A ** t, lambda A, t: A < t,
    lambda A, t: t == A, lambda A, t: nt.contract(A, t, over="height"),
    lambda A, t: nt.sum(t, "height"), lambda A, t: nt.index(A, "height", t),
])
@pytest.mark.parametrize("kind", ["torch", "numpy", "torch1"])
def test_positional_operand_is_refused(A, op, kind):
    t = {"torch": torch.ones(3, 4, dtype=torch.float64), "numpy": np.ones((3, 4)),
         "torch1": torch.ones(3, dtype=torch.int64)}[kind]
    with pytest.raises(TypeError, match=r"nt\.tensor|named tensor"):
        op(A, t)


def test_scalar_operands_are_fine(A):
    d = nt.positional(A, ("height", "width"))
    for s in (2, 2.5, torch.tensor(2.5, dtype=torch.float64), np.float64(2.5), np.int64(2),
              np.array(2.5)):
        sv = float(s)
        torch.testing.assert_close(nt.positional(A * s, ("height", "width")), d * sv)
        torch.testing.assert_close(nt.positional(s - A, ("height", "width")), sv - d)


# --------------------------------------------------------------------------
# never a silent wrong answer: funsor's methods are the named ones, or errors

@given(named_data(), st.sampled_from(["sum", "mean", "max", "min", "prod", "var", "std",
                                       "logsumexp"]),
       st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
@SETTINGS
def test_reduction_methods_are_named(dx, method, axes):
    d, x = dx
    dims = [NAMES.index(a) for a in axes]
    rest = tuple(a for a in NAMES if a not in axes)
    ref = {
        "sum": lambda: d.sum(dims), "mean": lambda: d.mean(dims),
        "max": lambda: d.amax(dims), "min": lambda: d.amin(dims),
        "prod": lambda: d.prod(dims[0]) if len(dims) == 1 else
        d.permute(*[i for i in range(3) if i not in dims], *dims).reshape(
            *[d.shape[i] for i in range(3) if i not in dims], -1).prod(-1),
        "var": lambda: d.var(dims, unbiased=False),
        "std": lambda: d.std(dims, unbiased=False),
        "logsumexp": lambda: torch.logsumexp(d, dims),
    }[method]()
    got = getattr(x, method)(axes)                         # the method ...
    torch.testing.assert_close(back(got, rest), ref)
    torch.testing.assert_close(back(getattr(nt, method)(x, axes), rest), ref)  # ... and nt.*


@given(named_data())
@SETTINGS
def test_no_axes_means_all_axes(dx):
    d, x = dx
    for method, ref in [("sum", d.sum()), ("mean", d.mean()), ("max", d.max()),
                        ("min", d.min()), ("prod", d.prod()), ("logsumexp", d.logsumexp((0, 1, 2))),
                        ("std", d.std(unbiased=False)), ("var", d.var(unbiased=False))]:
        got = getattr(nt, method)(x)
        assert nt.names(got) == ()
        torch.testing.assert_close(nt.positional(got, ()), ref)
        torch.testing.assert_close(nt.positional(getattr(x, method)(), ()), ref)


@given(named_data(), st.sampled_from(NAMES))
@SETTINGS
def test_vector_methods_are_named(dx, ax):
    d, x = dx
    dim = NAMES.index(ax)
    torch.testing.assert_close(back(x.softmax(ax)), torch.softmax(d, dim))
    torch.testing.assert_close(back(x.log_softmax(ax)), torch.log_softmax(d, dim))
    torch.testing.assert_close(back(nt.log_softmax(x, ax)), torch.log_softmax(d, dim))
    with nt.plain():
        torch.testing.assert_close(back(nt.log_softmax(x, ax)), torch.log_softmax(d, dim))
    torch.testing.assert_close(back(x.exp()), d.exp())
    torch.testing.assert_close(back(abs(x)), d.abs())
    torch.testing.assert_close(back(-x), -d)
    i = int(torch.randint(0, d.shape[dim], ()))
    rest = tuple(a for a in NAMES if a != ax)
    torch.testing.assert_close(back(x(**{ax: i}), rest), d.select(dim, i))
    torch.testing.assert_close(back(x[{ax: i}], rest), d.select(dim, i))


@pytest.mark.parametrize("op,err,match", [
    (lambda A: A.sum("zz"), nt.AxisError, "'zz'"),
    (lambda A: A.mean("zz"), nt.AxisError, "'zz'"),
    (lambda A: A.max("zz"), nt.AxisError, "'zz'"),
    (lambda A: A.softmax("zz"), nt.AxisError, "'zz'"),
    (lambda A: A(zz=1), nt.AxisError, "'zz'"),
    (lambda A: A[{"zz": 1}], nt.AxisError, "'zz'"),
    (lambda A: A(1), TypeError, "axis name"),
    (lambda A: A[0], TypeError, "dict of axis names"),
    (lambda A: A["height"], TypeError, "dict of axis names"),
    (lambda A: A @ A, TypeError, "nt.contract"),
    (lambda A: np.ones((4, 3)) @ A, TypeError, "@|matmul|unsupported"),
    (lambda A: len(A), TypeError, "nt.shape"),
    (lambda A: list(A), TypeError, "nt.unbind"),
    (lambda A: A.reshape(12), TypeError, "flatten"),
    (lambda A: np.asarray(A), TypeError, "nt.positional"),
    (lambda A: bool(A), nt.AxisError, r"height\[3\]"),
    (lambda A: float(A), nt.AxisError, r"height\[3\]"),
    (lambda A: A.item(), nt.AxisError, r"height\[3\]"),
    (lambda A: A(height=3), nt.AxisError, r"'height'\[3\]"),
    (lambda A: A(height=1.0), TypeError, "integer"),
])
def test_guarded_methods_raise_clear_errors(A, op, err, match):
    with pytest.raises(err, match=match):
        op(A)


def test_scalar_conversions(A):
    s = nt.sum(A)
    ref = float(nt.positional(A, ("height", "width")).sum())
    assert float(s) == pytest.approx(ref) and s.item() == pytest.approx(ref)
    assert bool(nt.sum(A > -100)) and int(nt.sum(A > -100)) == 12


def test_shape_and_names_attributes(A):
    assert A.shape == {"height": 3, "width": 4} == nt.shape(A)
    assert A.names == ("height", "width") == nt.names(A)
    assert A.rename(height="h").shape == {"h": 3, "width": 4}


def test_repr_shows_axes_dtype_device_values():
    x = nt.tensor([[1.5, 2.0, -3.25]], ("row", "col"))
    r = repr(x)
    assert "row[1] × col[3]" in r and "float64" in r and str(nt.device().type) in r
    assert "1.5" in r and "-3.25" in r
    assert "int64" in repr(nt.tensor([1, 2], "k"))
    p = nt.models.init_lenet(height=16, width=16, kernels=((3, 3), (3, 3)),
                             pools=((2, 2), (1, 1)))["b1"]
    assert "requires_grad" in repr(p)


def test_named_tensor_is_a_funsor_tensor(A):
    from funsor.tensor import Tensor
    assert isinstance(A, Tensor) and isinstance(A, nt.NamedTensor)
    assert set(A.inputs) == {"height", "width"} and A.data.shape == (3, 4)
    # results of every kind of operation stay named tensors
    for r in (A + 1, A * A, -A, abs(A), A > 0, nt.sum(A, "height"), A(height=0),
              nt.contract(A, A, over="width"), nt.index(A, "width", nt.argmax_index(A, "width"))):
        assert isinstance(r, nt.NamedTensor)
    # funsor's own API still works on it, and ntlib accepts funsor's results
    from funsor import ops
    assert nt.allclose(A.reduce(ops.add, "height"), nt.sum(A, "height"))
    assert nt.allclose(A.align(("width", "height")), A)
    assert nt.allclose(ops.exp(A), nt.exp(A))
    assert isinstance(nt.exp(A.reduce(ops.add, "height")), nt.NamedTensor)


# --------------------------------------------------------------------------
# the API a named-tensor user reaches for

@given(named_data(), st.sampled_from(NAMES), st.integers(1, 3))
@SETTINGS
def test_cat_stack_unbind_narrow(dx, ax, parts):
    d, x = dx
    dim = NAMES.index(ax)
    # cat: pieces stored in other orders
    pieces = [x * (k + 1) for k in range(parts)]
    pieces = [nt.tensor(nt.positional(p, NAMES[::-1]), NAMES[::-1]) if k % 2 else p
              for k, p in enumerate(pieces)]
    ref = torch.cat([d * (k + 1) for k in range(parts)], dim)
    torch.testing.assert_close(back(nt.cat(pieces, ax)), ref)
    # stack: a new axis
    s = nt.stack(pieces, "new")
    torch.testing.assert_close(nt.positional(s, ("new",) + NAMES),
                               torch.stack([d * (k + 1) for k in range(parts)]))
    # unbind inverts stack
    back_ = nt.unbind(s, "new")
    assert len(back_) == parts
    for k, p in enumerate(back_):
        torch.testing.assert_close(back(p), d * (k + 1))
    for k, sl in enumerate(nt.unbind(x, ax)):
        torch.testing.assert_close(back(sl, tuple(a for a in NAMES if a != ax)), d.select(dim, k))
    # narrow
    n = d.shape[dim]
    start = n // 2
    torch.testing.assert_close(back(nt.narrow(x, ax, start, n - start)),
                               d.narrow(dim, start, n - start))


@given(named_data(), st.sampled_from(NAMES), st.booleans())
@SETTINGS
def test_topk(dx, ax, largest):
    d, x = dx
    dim = NAMES.index(ax)
    k = max(1, d.shape[dim] - 1)
    v, i = nt.topk(x, ax, k, new="top", largest=largest)
    order = tuple("top" if a == ax else a for a in NAMES)
    rv, ri = torch.topk(d, k, dim=dim, largest=largest)
    torch.testing.assert_close(nt.positional(v, order), rv)
    torch.testing.assert_close(nt.positional(i, order), ri)
    assert nt.allclose(nt.index(x, ax, i), v)   # the indices pick the values


@given(named_data(), st.sampled_from([0, 1]))
@SETTINGS
def test_unflatten_with_minus_one(dx, which):
    d, x = dx
    f = nt.flatten(x, ("a", "b"), "ab")
    sizes = {"a": d.shape[0], "b": d.shape[1]}
    sizes[("a", "b")[which]] = -1
    assert nt.equal(nt.unflatten(f, "ab", sizes), x)


def test_unflatten_minus_one_errors(A):
    with pytest.raises(nt.AxisError, match="only one size"):
        nt.unflatten(A, "width", {"p": -1, "q": -1})
    with pytest.raises(nt.AxisError, match="'width'.*4.*divisible"):
        nt.unflatten(A, "width", {"p": 3, "q": -1})


def test_astype_equal_allclose(A):
    B = nt.tensor(nt.positional(A, ("width", "height")).clone(), ("width", "height"))
    assert nt.equal(A, B) and nt.allclose(A, B)                  # axis order ignored
    assert nt.equal(A, nt.astype(A, torch.float32)) is False     # values rounded
    assert nt.allclose(A, nt.astype(A, torch.float32), rtol=1e-6, atol=1e-6)
    assert not nt.equal(A, A + 1e-9) and nt.allclose(A, A + 1e-9)
    assert not nt.equal(A, nt.rename(A, {"width": "w"}))          # names must match
    assert not nt.allclose(A, nt.narrow(A, "width", 0, 3))         # sizes must match
    i = nt.astype(A > 0, torch.int64)
    assert nt.dtype(i) == torch.int64 and nt.dtype(A > 0) == torch.bool
    assert nt.dtype(A) == torch.float64 and nt.dtype(2) == torch.int64
    torch.testing.assert_close(nt.positional(i, ("height", "width")),
                               (nt.positional(A, ("height", "width")) > 0).long())


def test_backward_and_grad():
    d = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = nt.tensor(d.clone().requires_grad_(True), ("i", "j"))
    loss = nt.sum(nt.softmax(x, "j") ** 2)
    nt.backward(loss)
    d2 = d.clone().requires_grad_(True)
    (torch.softmax(d2, 1) ** 2).sum().backward()
    torch.testing.assert_close(nt.positional(nt.grad(x), ("i", "j")), d2.grad)
    with pytest.raises(nt.AxisError, match=r"no axes.*i\[3\]"):
        nt.backward(nt.sum(x, "j"))


def test_cross_entropy_reductions():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 5, 7, generator=g, dtype=torch.float64)   # batch, seq, vocab
    t = torch.randint(0, 7, (4, 5), generator=g)
    Z = nt.tensor(z, ("batch", "seq", "vocab"))
    T = nt.tensor(t.T.contiguous(), ("seq", "batch"))
    ref = torch.nn.functional.cross_entropy(z.reshape(-1, 7), t.reshape(-1), reduction="none")
    for path in ("fused", "plain"):
        ctx = nt.plain() if path == "plain" else nt.strict_fused()
        with ctx:
            none = nt.models.cross_entropy(Z, T, reduction="none")
            torch.testing.assert_close(nt.positional(none, ("batch", "seq")), ref.reshape(4, 5))
            torch.testing.assert_close(nt.positional(nt.models.cross_entropy(Z, T, reduction="sum"), ()),
                                       ref.sum())
            torch.testing.assert_close(nt.positional(nt.models.cross_entropy(Z, T), ()), ref.mean())
    with pytest.raises(ValueError, match="reduction"):
        nt.models.cross_entropy(Z, T, reduction="avg")


def test_star_export_does_not_shadow_builtins():
    code = ("import builtins\nfrom ntlib import *\n"
            "assert sum is builtins.sum and max is builtins.max and min is builtins.min "
            "and abs is builtins.abs\n"
            "import ntlib\nbad = [n for n in ntlib.__all__ if hasattr(builtins, n)]\n"
            "assert not bad, bad\n"
            "assert ntlib.sum is ntlib.core.sum and ntlib.max is ntlib.core.max\n"
            "assert ntlib.abs is ntlib.core.abs and ntlib.min is ntlib.core.min\n"
            "assert all(hasattr(ntlib, n) for n in ntlib.__all__)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sum_keeps_its_old_signature(A):
    d = nt.positional(A, ("height", "width"))
    torch.testing.assert_close(nt.positional(nt.sum(A, "height"), ("width",)), d.sum(0))
    torch.testing.assert_close(nt.positional(nt.sum(A, axes=("height", "width")), ()), d.sum())
