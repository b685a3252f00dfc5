"""Inputs nobody tuned for, in the core: each class over the
functions it applies to, against torch or a direct computation:

- index tensors of every integer dtype index by value (uint8 is not a mask),
  negative entries count from the end, a bool or float index tensor is refused;
- float16/bfloat16 reductions accumulate in float32 and return the input dtype,
  and the plain and fused layer_norm agree for half types;
- var/std of complex data are real, E|x - mean x|^2;
- operands on different devices raise DeviceError naming both devices;
- sizes given as name=size are non-negative ints;
- integer x bool follows torch.result_type; booleans count as integers in norm
  and argmax_index; norm p=-inf and p=0; NaN in argmax and argmax_index;
- an axis argument that is not a str, a repeated axis in over=, names=None, max
  over an axis of size 0: ntlib's own errors naming the argument or axis;
- repr is short for a large tensor and works for a meta tensor.
"""

import math

import pytest
import torch

import ntlib as nt

INT_DTYPES = [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
              torch.uint16]


# --------------------------------------------------------------------------
# index tensors

@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("how", ["index", "call", "getitem"])
def test_index_by_value_for_every_integer_dtype(dtype, how):
    X = nt.randn(seed=0, batch=3, seq=5)
    pos = [4, 0, 2, 2, 1, 3]          # with 0/1 only, uint8 as a mask would differ too
    I = nt.tensor(torch.tensor(pos, dtype=dtype), "k")
    got = {"index": lambda: nt.index(X, "seq", I), "call": lambda: X(seq=I),
           "getitem": lambda: X[{"seq": I}]}[how]()
    want = nt.positional(X, ("batch", "seq"))[:, pos]
    torch.testing.assert_close(nt.positional(got, ("batch", "k")), want)


def test_uint8_zeros_and_ones_are_positions_not_a_mask():
    X = nt.tensor([10., 20., 30.], "a")
    I = nt.tensor(torch.tensor([1, 0, 1, 1], dtype=torch.uint8), "k")
    assert nt.positional(X(a=I), "k").tolist() == [20., 10., 20., 20.]


@pytest.mark.parametrize("dtype", [torch.int64, torch.int8, torch.int16])
def test_negative_entries_count_from_the_end(dtype):
    X = nt.randn(seed=1, batch=2, seq=5)
    pos = [-1, -5, 0, 3, -2]
    I = nt.tensor(torch.tensor(pos, dtype=dtype), ("k",))
    want = nt.positional(X, ("batch", "seq"))[:, pos]
    torch.testing.assert_close(nt.positional(X(seq=I), ("batch", "k")), want)
    # with a shared axis (the general path) too
    J = nt.tensor(torch.tensor([[-1, 0], [2, -3]], dtype=dtype), ("batch", "k"))
    d = nt.positional(X, ("batch", "seq"))
    want = torch.stack([d[0, [-1, 0]], d[1, [2, -3]]])
    torch.testing.assert_close(nt.positional(X(seq=J), ("batch", "k")), want)
    with pytest.raises(nt.AxisError, match=r"'seq'\[5\].*from -6 to 3"):
        X(seq=nt.tensor(torch.tensor([-6, 3], dtype=dtype), "k"))


@pytest.mark.parametrize("data", [[True, False], [0.0, 1.0]])
def test_bool_and_float_index_tensors_are_refused(data):
    X = nt.randn(seed=0, a=3)
    with pytest.raises(TypeError, match="'a'.*integer positions"):
        X(a=nt.tensor(data, "k"))


def test_int_positions_negative_and_numpy():
    import numpy as np
    X = nt.randn(seed=2, a=4, b=3)
    d = nt.positional(X, ("a", "b"))
    torch.testing.assert_close(nt.positional(X(a=-1), "b"), d[-1])
    torch.testing.assert_close(nt.positional(X(a=np.int16(2), b=-3), ()), d[2, -3])
    with pytest.raises(TypeError, match="integer"):
        X(a=np.float32(1))


# --------------------------------------------------------------------------
# low precision

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_reductions_accumulate_in_float32(dtype):
    x = nt.tensor(torch.tensor([60000., 60000.], dtype=dtype), "a")
    m = nt.mean(x, "a")
    assert nt.dtype(m) == dtype
    assert float(m) == float(torch.tensor([60000., 60000.], dtype=dtype).mean())
    v = nt.var(nt.tensor(torch.tensor([400., 0.], dtype=dtype), "a"), "a")
    assert nt.dtype(v) == dtype and math.isfinite(float(v))
    assert float(v) == float(torch.tensor(40000., dtype=dtype))
    s = nt.std(nt.tensor(torch.tensor([400., 0.], dtype=dtype), "a"))
    assert float(s) == 200


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_layer_norm_plain_and_fused_agree(dtype):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(3, 8, generator=g) * 300).to(dtype)
    X = nt.tensor(x, ("batch", "layer"))
    gamma = nt.tensor(torch.ones(8, dtype=dtype), "layer")
    beta = nt.tensor(torch.zeros(8, dtype=dtype), "layer")
    with nt.strict_fused():
        fused = nt.layer_norm(X, gamma, beta, chans=None)
    with nt.plain():
        plain = nt.layer_norm(X, gamma, beta, chans=None)
    ref = torch.nn.functional.layer_norm(x.float(), (8,)).to(dtype)
    for y in (fused, plain):
        assert nt.dtype(y) == dtype
        torch.testing.assert_close(nt.positional(y, ("batch", "layer")), ref,
                                   rtol=2e-2, atol=2e-2)


# --------------------------------------------------------------------------
# complex data

def test_var_and_std_of_complex_data_are_real():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 5, dtype=torch.complex128, generator=g)
    Z = nt.tensor(z, ("a", "b"))
    v, s = nt.var(Z, "b"), nt.std(Z, "b")
    want = (z - z.mean(1, keepdim=True)).abs().pow(2).mean(1)
    assert not nt.dtype(v).is_complex and not nt.dtype(s).is_complex
    torch.testing.assert_close(nt.positional(v, "a"), want)
    torch.testing.assert_close(nt.positional(v, "a"), torch.var(z, 1, correction=0))
    torch.testing.assert_close(nt.positional(s, "a"), want.sqrt())


# --------------------------------------------------------------------------
# devices

def _pair():
    return (nt.tensor(torch.ones(3, 2, device="meta"), ("a", "b")),
            nt.tensor(torch.ones(3, 2), ("a", "b")))


@pytest.mark.parametrize("op", [
    lambda m, c: m + c, lambda m, c: c * m, lambda m, c: c - m, lambda m, c: m < c,
    lambda m, c: nt.contract(m, c, over="a"), lambda m, c: nt.contract(c, m, c, over="b"),
    lambda m, c: nt.cat([c, m], "a"), lambda m, c: nt.stack([c, m], "k"),
    lambda m, c: nt.equal(c, m), lambda m, c: nt.allclose(m, c),
    lambda m, c: nt.full_conn(nt.rename(c, {"b": "layer"}),
                              nt.rename(m, {"a": "out", "b": "layer"}),
                              nt.sum(nt.rename(m, {"a": "out"}), "b")),
    lambda m, c: nt.attention(c, m, m, key="b", seq="a") if False else
    nt.attention(nt.rename(c, {"a": "q"}), m, m, key="b", seq="a"),
    lambda m, c: nt.lift(lambda u, v: u + v, c, m, over="a"),
])
def test_operands_on_different_devices(op):
    m, c = _pair()
    with pytest.raises(nt.DeviceError, match="meta.*cpu|cpu.*meta"):
        op(m, c)


def test_device_error_is_a_value_error_and_a_meta_tensor_prints():
    assert issubclass(nt.DeviceError, ValueError)
    m, _ = _pair()
    r = repr(m)
    assert "meta" in r and "a[3] × b[2]" in r
    assert "meta" in repr(m + m)


# --------------------------------------------------------------------------
# sizes

@pytest.mark.parametrize("size", [2.5, -1, True, "3", None])
@pytest.mark.parametrize("fn", [nt.randn, nt.rand])
def test_sizes_must_be_non_negative_ints(fn, size):
    with pytest.raises(nt.AxisError, match="'a'"):
        fn(seed=0, a=size, b=2)


def test_sizes_elsewhere():
    import numpy as np
    assert nt.shape(nt.randn(seed=0, a=np.int64(2), b=0)) == {"a": 2, "b": 0}
    with pytest.raises(nt.AxisError, match="'a'"):
        nt.randint(0, 3, seed=0, a=1.5)
    with pytest.raises(nt.AxisError, match="'b'"):
        nt.unflatten(nt.randn(seed=0, a=4), "a", {"b": 2.0, "c": 2})
    with pytest.raises(nt.AxisError, match="size"):
        nt.calculus.identity("a", "b", -2)
    with pytest.raises(nt.AxisError, match="size"):
        nt.causal_mask(2.5)


# --------------------------------------------------------------------------
# dtype conventions

@pytest.mark.parametrize("dt", [torch.int16, torch.int32, torch.int64, torch.uint8,
                                torch.float16, torch.float32])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "pow"])
def test_integer_with_bool_follows_torch_result_type(dt, op):
    x = nt.tensor(torch.tensor([3, 1, 2], dtype=dt), "a")
    b = nt.tensor([True, False, True], "a")
    f = {"add": lambda u, v: u + v, "sub": lambda u, v: u - v, "mul": lambda u, v: u * v,
         "pow": lambda u, v: u ** v}[op]
    for u, v in ((x, b), (b, x)):
        r = f(u, v)
        want = torch.result_type(u.data, v.data)
        assert nt.dtype(r) == want, (op, nt.dtype(u), nt.dtype(v))
        ud, vd = u.data.to(want), v.data.to(want)
        torch.testing.assert_close(r.data, f(ud, vd).to(want) if op != "sub" else ud - vd)


def test_bool_with_bool_counts_as_integers():
    b = nt.tensor([True, False, True], "a")
    assert nt.dtype(b + b) == torch.int64 and nt.positional(b + b, "a").tolist() == [2, 0, 2]
    assert nt.positional(b - b, "a").tolist() == [0, 0, 0]


def test_booleans_count_as_integers_in_norm_and_argmax_index():
    b = nt.tensor([[True, False, True], [False, False, True]], ("r", "c"))
    i = nt.astype(b, torch.int64)
    for p in (1, 2, math.inf, -math.inf, 0):
        torch.testing.assert_close(nt.norm(b, "c", p=p).data, nt.norm(i, "c", p=p).data)
    assert nt.positional(nt.argmax_index(b, "c"), "r").tolist() == [0, 2]
    assert nt.positional(nt.argmin_index(b, "c"), "r").tolist() == [1, 0]
    assert nt.positional(nt.abs(b), ("r", "c")).dtype == torch.int64


@pytest.mark.parametrize("p", [-math.inf, 0, 1, 2, 3, math.inf])
def test_norm_values_are_torchs(p):
    x = torch.tensor([[0., -3., 2.], [1., 0., 0.]], dtype=torch.float64)
    X = nt.tensor(x, ("r", "c"))
    want = torch.linalg.vector_norm(x, ord=p, dim=1)
    got = nt.norm(X, "c", p=p)
    assert nt.dtype(got) == want.dtype
    torch.testing.assert_close(nt.positional(got, "r"), want)


def test_nan_is_the_maximum_for_argmax_and_argmax_index():
    x = torch.tensor([[1., float("nan"), 3.], [2., 5., float("nan")], [4., 0., 1.]])
    X = nt.tensor(x, ("r", "c"))
    idx = nt.positional(nt.argmax_index(X, "c"), "r")
    assert idx.tolist() == x.argmax(1).tolist() == [1, 2, 0]
    onehot = nt.positional(nt.argmax(X, "c"), ("r", "c"))
    assert onehot.argmax(1).tolist() == idx.tolist()
    assert torch.equal(onehot.sum(1), torch.ones(3))
    assert nt.positional(nt.argmin_index(X, "c"), "r").tolist() == x.argmin(1).tolist()
    assert nt.positional(nt.argmin(X, "c"), ("r", "c")).argmax(1).tolist() == \
        x.argmin(1).tolist()


# --------------------------------------------------------------------------
# clear errors for axis arguments

@pytest.mark.parametrize("op", [
    lambda A: A.sum(0), lambda A: nt.sum(A, 0), lambda A: A.std(-1), lambda A: A.mean([0]),
    lambda A: nt.softmax(A, 1), lambda A: nt.contract(A, A, over=0),
    lambda A: nt.calculus.star(A, 0), lambda A: nt.index(A, 0, 1),
    lambda A: nt.rename(A, {"height": 3}), lambda A: nt.rename(A, {0: "h"}),
    lambda A: nt.flatten(A, ("height", "width"), 7), lambda A: nt.stack([A, A], 1),
    lambda A: nt.topk(A, "width", 2, new=None), lambda A: nt.unflatten(A, "width", {1: 2, 2: 2}),
    lambda A: nt.calculus.identity("a", 5, 3), lambda A: nt.tensor([1., 2.], None),
    lambda A: nt.tensor([1., 2.], [0]), lambda A: nt.positional(A, None),
    lambda A: nt.norm(A, 1), lambda A: nt.cat([A, A], None), lambda A: A(**{"height": 0}).sum(1),
])
def test_an_axis_name_must_be_a_str(op):
    A = nt.randn(seed=0, height=3, width=4)
    with pytest.raises(nt.AxisError, match="axis name|axis names|str"):
        op(A)


def test_the_message_names_the_argument():
    A = nt.randn(seed=0, height=3, width=4)
    with pytest.raises(nt.AxisError, match=r"sum: argument 'axes' must be an axis name.*0 \(int\)"):
        A.sum(0)
    with pytest.raises(nt.AxisError, match=r"contract: argument 'over'"):
        nt.contract(A, A, over=0)
    with pytest.raises(nt.AxisError, match=r"tensor: argument 'names'.*None"):
        nt.tensor([1.], None)


@pytest.mark.parametrize("op", [
    lambda A: nt.sum(A, ("height", "height")),
    lambda A: nt.contract(A, A, over=("width", "width")),
    lambda A: nt.mean(A, ["width", "width"]),
    lambda A: nt.flatten(A, ("width", "width"), "w"),
])
def test_repeated_axes_are_refused(op):
    A = nt.randn(seed=0, height=3, width=4)
    with pytest.raises(nt.AxisError, match="repeat"):
        op(A)


@pytest.mark.parametrize("op", [nt.max, nt.min, nt.argmax, nt.argmin, nt.argmax_index,
                                nt.argmin_index])
def test_extremes_over_an_empty_axis(op):
    X = nt.randn(seed=0, a=3, b=0)
    with pytest.raises(nt.AxisError, match="'b' has size 0"):
        op(X, "b")


# --------------------------------------------------------------------------
# repr

def test_repr_of_a_large_tensor_is_short():
    for sizes in ({"a": 1000, "b": 1000}, {"a": 30, "b": 40, "c": 50, "d": 60},
                  {"a": 10 ** 6}, {"a": 3, "b": 3, "c": 3, "d": 3, "e": 3, "f": 3}):
        r = repr(nt.randn(seed=0, dtype=torch.float32, **sizes))
        assert len(r) < 3000 and len(r.splitlines()) <= 45, (sizes, len(r))
        assert all(f"{a}[{n}]" in r for a, n in sizes.items())
