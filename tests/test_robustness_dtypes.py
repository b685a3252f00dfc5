"""Robustness over dtypes (issue 16): index tensors of every integer dtype,
low-precision accumulation, complex data; each class over every public
function it applies to (see tests/public_api.py).

References are independent of ntlib: torch on positional data (with int64
indices), numpy, xarray, and float64 computations of the same rounded
inputs.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ntlib as nt
from ntlib.testing import assert_close
from public_api import BY_NAME, TABLE, fused_blocks, has_float_tensor, replace_tensors, \
    tensors_in
from robust import cases, expect_own_error, params

F64 = torch.float64

# ---------------------------------------------------------------------------
# index tensors of every integer dtype

INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
              torch.uint16, torch.uint32, torch.uint64]
SIGNED = [d for d in INT_DTYPES if d.is_signed]
N = 3                                           # the size of the indexed axis

X = torch.randn(2, N, generator=torch.Generator().manual_seed(1), dtype=F64)  # a, b
E = torch.randn(N, 4, generator=torch.Generator().manual_seed(2), dtype=F64)  # vocab, layer
Z = torch.randn(3, N, generator=torch.Generator().manual_seed(3), dtype=F64)  # c, vocab


def _x():
    return nt.tensor(X, ("a", "b"))


# name: (call(i) -> named result, reference(i as int64 in [0, N)) -> (tensor, names),
#        the axis the indices point into)
INDEX_CASES = {
    "index": (lambda i: nt.index(_x(), "b", i), lambda il: (X[:, il], ("a", "c")), "b"),
    "NamedTensor.__call__": (lambda i: _x()(b=i), lambda il: (X[:, il], ("a", "c")), "b"),
    "NamedTensor.__getitem__": (lambda i: _x()[{"b": i}],
                                lambda il: (X[:, il], ("a", "c")), "b"),
    "models.one_hot": (lambda i: nt.models.one_hot(i, size=N),
                       lambda il: (F.one_hot(il, N).to(F64), ("c", "vocab")), "vocab"),
    "models.embed": (lambda i: nt.models.embed(i, nt.tensor(E, ("vocab", "layer"))),
                     lambda il: (E[il] * 2.0, ("c", "layer")), "vocab"),
    "models.cross_entropy": (
        lambda i: nt.models.cross_entropy(nt.tensor(Z, ("c", "vocab")), i,
                                          reduction="none"),
        lambda il: (F.cross_entropy(Z, il, reduction="none"), ("c",)), "vocab"),
}



def test_index_class_covers_every_function_taking_indices():
    assert set(INDEX_CASES) == {e.name for e in TABLE if e.indices}


def _paths(name):
    """Both paths of a fused block, else the one path."""
    fn = BY_NAME[name].fn
    if hasattr(fn, "plain"):
        return [contextlib.nullcontext, nt.plain]
    return [contextlib.nullcontext]


def _check_index(name, values, dtype):
    call, ref, _ = INDEX_CASES[name]
    i = nt.tensor(torch.tensor(values).to(dtype), "c")
    want, names = ref(torch.tensor(values) % N)
    for path in _paths(name):
        with path():
            assert_close(call(i), nt.tensor(want, names))


@pytest.mark.parametrize("name,dtype", cases(
    [(f"{n}-{dt}", (n, dt)) for n in INDEX_CASES for dt in INT_DTYPES]))
def test_index_of_every_integer_dtype_indexes_by_value(name, dtype):
    """uint8 is not a mask; int8, int16, uint16, ... index like int64."""
    _check_index(name, [2, 0, 1], dtype)


@pytest.mark.parametrize("name,dtype", cases(
    [(f"{n}-{dt}", (n, dt)) for n in INDEX_CASES for dt in SIGNED]))
def test_negative_index_counts_from_the_end(name, dtype):
    """-1 is the last position, as a negative int index (and numpy, xarray)."""
    _check_index(name, [-1, 0, -3], dtype)


@pytest.mark.parametrize("values", [[N, 0, 1], [-N - 1, 0, 1]], ids=["N", "-N-1"])
@pytest.mark.parametrize("name", params(list(INDEX_CASES)))
def test_index_out_of_range_names_the_axis(name, values):
    call, _, axis = INDEX_CASES[name]
    i = nt.tensor(torch.tensor(values), "c")
    for path in _paths(name):
        with path():
            expect_own_error(lambda: call(i), nt.AxisError, repr(axis), str(values[0]),
                             what=f"{name} with index {values[0]}")


@pytest.mark.parametrize("dtype", [torch.bool, torch.float32, torch.float64,
                                   torch.complex64], ids=str)
@pytest.mark.parametrize("name", params(list(INDEX_CASES)))
def test_bool_and_float_index_tensors_are_refused(name, dtype):
    """A boolean index tensor is refused (it is not a mask here), as are floats."""
    call, _, _ = INDEX_CASES[name]
    i = nt.tensor(torch.tensor([1, 0, 1]).to(dtype), "c")
    for path in _paths(name):
        with path():
            expect_own_error(lambda: call(i), TypeError, str(dtype).replace("torch.", ""),
                             what=f"{name} with a {dtype} index")


# ---------------------------------------------------------------------------
# low-precision accumulation

HALF = [torch.float16, torch.bfloat16]


def _vec(values):
    return torch.tensor(values, dtype=F64)


# name: (data over axis a, call(x) -> named, reference on float64 positional data)
_R = {
    "sum": ([1.0] * 4096, lambda x: nt.sum(x, "a"), lambda d: d.sum()),
    "mean": ([60000.0, 60000.0], lambda x: nt.mean(x, "a"), lambda d: d.mean()),
    "var": ([400.0, 0.0], lambda x: nt.var(x, "a"), lambda d: d.var(unbiased=False)),
    "std": ([400.0, 0.0], lambda x: nt.std(x, "a"), lambda d: d.std(unbiased=False)),
    "prod": ([4.0, 0.5, 300.0, 100.0], lambda x: nt.prod(x, "a"), lambda d: d.prod()),
    "logsumexp": ([60000.0, 60000.0], lambda x: nt.logsumexp(x, "a"),
                  lambda d: torch.logsumexp(d, 0)),
    "max": ([60000.0, -60000.0, 3.0], lambda x: nt.max(x, "a"), lambda d: d.max()),
    "min": ([60000.0, -60000.0, 3.0], lambda x: nt.min(x, "a"), lambda d: d.min()),
    "norm": ([300.0, 400.0], lambda x: nt.norm(x, "a"), lambda d: d.norm()),
    "contract": ([1.0] * 4096, lambda x: nt.contract(x, x, over="a"), lambda d: d @ d),
    "softmax": ([60000.0, 60000.0, 0.0], lambda x: nt.softmax(x, "a"),
                lambda d: torch.softmax(d, 0)),
    "log_softmax": ([60000.0, 60000.0, 0.0], lambda x: nt.log_softmax(x, "a"),
                    lambda d: torch.log_softmax(d, 0)),
    "argmax": ([1.0, 60000.0, 3.0], lambda x: nt.argmax(x, "a"),
               lambda d: F.one_hot(d.argmax(), 3).to(F64)),
    "argmin": ([1.0, 60000.0, 3.0], lambda x: nt.argmin(x, "a"),
               lambda d: F.one_hot(d.argmin(), 3).to(F64)),
    "nn.standardize": ([400.0, 0.0], lambda x: nt.nn.standardize(x, "a"),
                       lambda d: (d - d.mean()) / (d.var(unbiased=False) + 1e-5).sqrt()),
}
_R["calculus.tensor_norm"] = ([300.0, 400.0], lambda x: nt.calculus.tensor_norm(x),
                              lambda d: d.norm())
HALF_CASES = dict(_R)
for _m in ("sum", "mean", "max", "min", "prod", "var", "std", "logsumexp", "norm",
           "softmax", "log_softmax", "argmax", "argmin"):
    HALF_CASES[f"NamedTensor.{_m}"] = (
        _R[_m][0], (lambda m: lambda x: getattr(x, m)("a"))(_m), _R[_m][2])


def test_half_class_covers_every_reduction():
    assert set(HALF_CASES) == {e.name for e in TABLE if e.reduction}


@pytest.mark.parametrize("name,dtype", cases(
    [(f"{n}-{dt}", (n, dt)) for n in HALF_CASES for dt in HALF]))
def test_half_precision_reductions(name, dtype):
    """mean([60000, 60000]) = 60000, var([400, 0]) = 40000, a sum of 4096 ones is
    4096: the result is in the input dtype and as exact as that dtype allows."""
    values, call, ref = HALF_CASES[name]
    d = _vec(values).to(dtype)                   # the values as stored
    got = call(nt.tensor(d, "a"))
    want = ref(d.to(F64))
    names = ("a",) if want.dim() else ()
    assert nt.dtype(got) == dtype, f"{name}: {nt.dtype(got)} from {dtype} input"
    assert bool(torch.isfinite(nt.positional(got, names)).all()), \
        f"{name} overflowed: {got}"
    assert_close(got, nt.tensor(want.to(dtype), names))


def _half_inputs(entry, dtype):
    args, kwargs = entry.build()
    scale = 300.0 if "norm" in entry.name else 1.0      # squares overflow float16
    first = tensors_in([args, kwargs])[0]

    def conv(t):
        if not t.data.is_floating_point():
            return t
        d = t.data * (scale if t is first else 1.0)
        return nt.tensor(d.to(dtype), nt.names(t))
    return replace_tensors(args, conv), replace_tensors(kwargs, conv)


def _as64(t):
    return nt.tensor(t.data.to(F64), nt.names(t)) if t.data.is_floating_point() else t


@pytest.mark.parametrize("name,dtype", cases(
    [(f"{n}-{dt}", (n, dt)) for n in sorted(fused_blocks()) for dt in HALF]))
def test_plain_and_fused_agree_in_half_precision(name, dtype):
    """Every block with a fused kernel: both paths give, in the input dtype, the
    float64 result of the same (rounded) inputs."""
    entry = BY_NAME[name]
    args, kwargs = _half_inputs(entry, dtype)
    ref = entry.fn(*replace_tensors(args, _as64), **replace_tensors(kwargs, _as64))
    # measured: at most 9e-4 (float16) and 7e-3 (bfloat16) relative to |ref| + 1
    tol = dict(rtol=4e-3, atol=4e-3) if dtype == torch.float16 else \
        dict(rtol=2.5e-2, atol=2.5e-2)
    for path in (contextlib.nullcontext, nt.plain):
        with path():
            got = entry.fn(*args, **kwargs)
        assert nt.dtype(got) == dtype, f"{name} ({path.__name__}): {nt.dtype(got)}"
        assert_close(got, nt.astype(ref, dtype), **tol)


# ---------------------------------------------------------------------------
# complex data

def _complexify(t):
    if not t.data.is_floating_point():
        return t
    d = t.data.to(F64)
    return nt.tensor(torch.complex(d, d.flip(0) * 0.5 + 0.25), nt.names(t))


def _complex_call(entry):
    args, kwargs = entry.build()
    return lambda: entry.fn(*replace_tensors(args, _complexify),
                            **replace_tensors(kwargs, _complexify))


COMPLEX_ENTRIES = [e.name for e in TABLE if has_float_tensor(e)]


def test_complex_class_says_for_every_function_whether_it_accepts_complex():
    undecided = [n for n in COMPLEX_ENTRIES if BY_NAME[n].complex is None]
    assert not undecided, f"say complex=True or False in the table: {undecided}"


@pytest.mark.filterwarnings("ignore:Casting complex values to real:UserWarning")
@pytest.mark.parametrize("name", params(COMPLEX_ENTRIES))
def test_complex_input_is_accepted_or_refused_clearly(name):
    entry = BY_NAME[name]
    if entry.complex:
        _complex_call(entry)()
    else:
        expect_own_error(_complex_call(entry), TypeError, "complex", what=name)


CPLX = torch.tensor([[1 + 2j, -0.5 + 0j, 3 - 1j], [0 + 1j, 2 + 2j, -1 - 1j]],
                    dtype=torch.complex128)


@pytest.mark.parametrize("fn", ["var", "std"])
@pytest.mark.parametrize("axes", [("b",), ("a",), ("a", "b")], ids=str)
def test_complex_var_std_are_real(fn, axes):
    """var = E|x − x̄|² (real), as numpy, xarray and torch give."""
    import xarray as xr
    x = nt.tensor(CPLX, ("a", "b"))
    got = getattr(nt, fn)(x, axes)
    dims = tuple(("a", "b").index(a) for a in axes)
    keep = tuple(a for a in ("a", "b") if a not in axes)
    want_np = getattr(np, fn)(CPLX.numpy(), axis=dims)
    want_t = getattr(torch, fn)(CPLX, dim=dims, unbiased=False)
    want_xr = getattr(xr.DataArray(CPLX.numpy(), dims=("a", "b")), fn)(dim=list(axes))
    assert nt.dtype(got) == F64
    assert_close(got, torch.as_tensor(want_np), order=keep)
    assert_close(got, want_t, order=keep)
    assert_close(got, torch.as_tensor(want_xr.transpose(*keep).values), order=keep)
    assert_close(getattr(x, fn)(axes), want_t, order=keep)


@pytest.mark.parametrize("name,call,ref", [
    ("sum", lambda x: nt.sum(x, "b"), lambda d: d.sum(1)),
    ("mean", lambda x: nt.mean(x, "b"), lambda d: d.mean(1)),
    ("prod", lambda x: nt.prod(x, "b"), lambda d: d.prod(1)),
    ("abs", lambda x: nt.sum(nt.abs(x), "b"), lambda d: np.abs(d).sum(1)),
    ("exp", lambda x: nt.sum(nt.exp(x), "b"), lambda d: np.exp(d).sum(1)),
    ("norm", lambda x: nt.norm(x, "b"), lambda d: np.linalg.norm(d, axis=1)),
    ("contract", lambda x: nt.contract(x, nt.rename(x, {"a": "c"}), over="b"),
     lambda d: np.einsum("ab,cb->ac", d, d)),
    ("det", lambda x: nt.examples.det(nt.narrow(x, "b", 0, 2), "a", "b"),
     lambda d: np.linalg.det(d[:, :2])),
], ids=lambda v: v if isinstance(v, str) else "")
def test_complex_values_agree_with_numpy(name, call, ref):
    got = call(nt.tensor(CPLX, ("a", "b")))
    want = torch.as_tensor(ref(CPLX.numpy()))
    names = nt.names(got)
    order = tuple(a for a in ("a", "c") if a in names)
    assert_close(got, want.to(nt.dtype(got)), order=order)
