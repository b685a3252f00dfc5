"""ntlib under input nobody tuned for (issue 16): each class of unusual or bad
input runs over every public function it applies to.

The functions come from ``tests/public_api.py``, a table of every public
callable of ntlib with how to call it; the first test fails when ntlib gains
a public callable the table lacks.  The classes here: axis arguments that
are not axis names, repeated axes, new axis names that are not str, sizes
that are not non-negative ints, the decided conventions, ``max`` over an
empty axis, integer input to the linear algebra of the examples, and
``repr``.  Indices, low precision and complex numbers are in
``test_robustness_dtypes.py``, devices in ``test_robustness_devices.py``,
funsor left as it was in ``test_robustness_funsor.py``.

No case is marked xfail: each class holds over every function it applies
to, and where a convention had to be chosen the test asserts the one chosen.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ntlib as nt
from public_api import (BY_NAME, TABLE, entry_for, public_callables, resolve)
from robust import cases, expect_own_error, params

F64 = torch.float64

# ---------------------------------------------------------------------------
# the table covers every public callable


def test_table_covers_every_public_callable():
    found = public_callables()
    missing = sorted(names[0] for obj, names in found.values()
                     if entry_for((obj, names)) is None)
    assert not missing, (
        f"public callables missing from tests/public_api.py's TABLE: {missing}; add "
        f"an entry saying how to call each on small named inputs")
    stale = []
    for e in TABLE:
        try:
            resolve(e.name)
        except AttributeError:
            stale.append(e.name)
    assert not stale, f"TABLE entries that are no longer public: {stale}"


@pytest.mark.parametrize("name", [e.name for e in TABLE if e.build is not None])
def test_every_entry_runs_as_built(name):
    """The table's calls are valid: each class starts from a call that works."""
    BY_NAME[name].call()


def test_entries_without_a_call_say_why():
    for e in TABLE:
        if e.build is None:
            assert e.note, f"{e.name}: no call and no note saying why"


# ---------------------------------------------------------------------------
# an int (or None) where an axis name belongs


def _with(entry, param, value):
    """entry's valid call with ``param`` set to ``value`` (or a custom substitution)."""
    if isinstance(param, tuple):
        label, fn = param
        return lambda: entry.call(*fn(value))
    ba = entry.bind()
    ba.arguments[param] = value
    return lambda: entry.fn(*ba.args, **ba.kwargs)


def _param_ids(field):
    out = []
    for e in TABLE:
        for p in getattr(e, field):
            out.append((e.name, p if isinstance(p, str) else p[0]))
    return out


def _param(name, label, field):
    for p in getattr(BY_NAME[name], field):
        if (p if isinstance(p, str) else p[0]) == label:
            return p
    raise KeyError(label)


AXIS_ARGS = _param_ids("axes")


def _label_cases(pairs):
    return [(f"{n}:{lab}", (n, lab)) for n, lab in pairs]


@pytest.mark.parametrize("name,label", cases(_label_cases(AXIS_ARGS)))
@pytest.mark.parametrize("bad", [0, -1])
def test_int_where_an_axis_name_belongs(name, label, bad):
    e = BY_NAME[name]
    p = _param(name, label, "axes")
    expect_own_error(_with(e, p, bad), nt.AxisError, repr(bad), what=f"{name}({label}={bad})")


def test_int_axis_class_covers_every_axis_argument():
    """Every parameter whose default is an axis name (a str) is listed as an axis
    or a new-axis parameter of its entry: none escapes the two classes."""
    import inspect
    unlisted = []
    for e in TABLE:
        if e.build is None or e.name.startswith("NamedTensor."):
            continue
        listed = {p if isinstance(p, str) else p[0] for p in e.axes + e.new}
        for p in inspect.signature(e.fn).parameters.values():
            if isinstance(p.default, str) and p.name not in listed \
                    and p.name not in ("version", "reduction", "value", "table"):
                unlisted.append(f"{e.name}:{p.name}")
    assert not unlisted, f"axis parameters missing from the table: {unlisted}"


# ---------------------------------------------------------------------------
# a new axis name that is not a str; names=None


NEW_ARGS = _param_ids("new")
@pytest.mark.parametrize("name,label", cases(_label_cases(NEW_ARGS)))
@pytest.mark.parametrize("bad", [3, None], ids=["int", "None"])
def test_new_axis_name_that_is_not_a_str(name, label, bad):
    e = BY_NAME[name]
    p = _param(name, label, "new")
    if name in ("tensor",) and bad is not None:
        bad = ("a", bad)         # names: one name of the two is not a str
    expect_own_error(_with(e, p, bad), nt.AxisError, repr(bad if not isinstance(bad, tuple)
                                                          else bad[1]),
                     what=f"{name}({label}={bad!r})")


# ---------------------------------------------------------------------------
# an axis repeated where several are given


MULTI = [(e.name, p) for e in TABLE for p in e.multi]


@pytest.mark.parametrize("name,param", cases(_label_cases(MULTI)))
def test_repeated_axis_is_refused_as_in_sum(name, param):
    e = BY_NAME[name]
    ba = e.bind()
    given = ba.arguments[param]
    first = given if isinstance(given, str) else tuple(given)[0]
    expect_own_error(_with(e, param, (first, first)), nt.AxisError, repr(first),
                     what=f"{name}({param}=({first!r}, {first!r}))")


# ---------------------------------------------------------------------------
# sizes that are not non-negative ints


SIZE_ARGS = [(e.name, label) for e in TABLE for label in e.sizes]
BAD_SIZES = {"float": 2.5, "negative": -2, "bool": True, "str": "3"}


@pytest.mark.parametrize("name,label,bad", cases(
    [(f"{n}:{lab}:{b}", (n, lab, v)) for n, lab in SIZE_ARGS for b, v in BAD_SIZES.items()]))
def test_size_that_is_not_a_non_negative_int(name, label, bad):
    axis, fn = BY_NAME[name].sizes[label]
    e = BY_NAME[name]
    expect_own_error(lambda: e.call(*fn(bad)), nt.AxisError, repr(axis),
                     what=f"{name} with {axis} of size {bad!r}")


def test_size_class_covers_every_name_size_constructor():
    """Every public function with a ``**sizes`` or ``size``/``sizes``/``n``
    parameter is in the size class."""
    import inspect
    unlisted = []
    for e in TABLE:
        if e.build is None or e.name.startswith("NamedTensor."):
            continue
        ps = inspect.signature(e.fn).parameters.values()
        if any(p.kind == p.VAR_KEYWORD and p.name == "sizes"
               or p.name in ("size", "sizes", "n") for p in ps) and not e.sizes:
            unlisted.append(e.name)
    assert not unlisted, unlisted


def test_zero_size_is_a_size():
    x = nt.randn(seed=0, a=0, b=3)
    assert nt.shape(x) == {"a": 0, "b": 3}
    assert nt.shape(nt.sum(x, "a")) == {"b": 3}


# ---------------------------------------------------------------------------
# decided conventions

INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]
_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
        "pow": lambda a, b: a ** b, "and": lambda a, b: a & b, "or": lambda a, b: a | b,
        "xor": lambda a, b: a ^ b, "lt": lambda a, b: a < b, "eq": lambda a, b: a == b}
ARITH = [f"__{op}__" for op in _OPS] + [f"__r{op}__" for op in
                                        ("add", "sub", "mul", "floordiv", "mod", "pow")]


def _torch_op(dunder):
    """The operator of a dunder, on positional torch tensors (reflected: swapped)."""
    name = dunder.strip("_")
    if name not in _OPS:
        return lambda a, b: _OPS[name[1:]](b, a)
    return _OPS[name]


@pytest.mark.parametrize("dt,dunder", cases(
    [(f"{dt}-{d}", (dt, d)) for dt in INT_DTYPES for d in ARITH]))
def test_integer_times_bool_follows_result_type(dt, dunder):
    """Booleans count as integers of the other operand's type: the result dtype
    is torch.result_type's, and the values those of the bool cast to it (torch
    itself refuses to subtract booleans)."""
    i = nt.tensor(torch.tensor([3, 1, 2], dtype=dt), "a")
    mask = [True, True, True] if "div" in dunder or "mod" in dunder else [True, False, True]
    b = nt.tensor(torch.tensor(mask), "a")
    ipos, bpos = nt.positional(i, "a"), nt.positional(b, "a")
    op = _torch_op(dunder)
    for x, y, xp, yp in ((i, b, ipos, bpos), (b, i, bpos, ipos)):
        got = getattr(x, dunder)(y)
        rt = torch.result_type(xp, yp)
        want = op(xp.to(rt), yp.to(rt))
        assert nt.dtype(got) == want.dtype, (dt, dunder, nt.dtype(got), want.dtype)
        assert torch.equal(nt.positional(got, "a"), want)


def test_integer_times_bool_in_contract():
    """contract of integers with booleans: int64 counts when both are bool,
    else torch's promotion (int16 ⊙ bool is int16)."""
    i = nt.tensor(torch.tensor([3, 1, 2], dtype=torch.int16), "a")
    b = nt.tensor(torch.tensor([True, False, True]), "a")
    c = nt.contract(i, b, over="a")
    assert nt.dtype(c) in (torch.int16, torch.int64)   # contract sums: int64 allowed
    assert int(c) == 5
    assert int(nt.contract(b, b, over="a")) == 2


BOOLS = torch.tensor([[True, False, True], [False, False, True]])


@pytest.mark.parametrize("p", [1, 2, 3, math.inf, -math.inf, 0])
def test_booleans_count_as_integers_in_norm(p):
    x = nt.tensor(BOOLS, ("a", "b"))
    got = nt.norm(x, "b", p=p)
    want = torch.linalg.vector_norm(BOOLS.to(torch.get_default_dtype()), ord=p, dim=1)
    torch.testing.assert_close(nt.positional(got, "a").float(), want.float())


@pytest.mark.parametrize("fn,tfn", [("argmax_index", torch.argmax),
                                    ("argmin_index", torch.argmin)])
def test_booleans_count_as_integers_in_argmax_index(fn, tfn):
    x = nt.tensor(BOOLS, ("a", "b"))
    got = getattr(nt, fn)(x, "b")
    assert torch.equal(nt.positional(got, "a"), tfn(BOOLS.long(), 1))


NORM_DATA = torch.tensor([[3.0, -1.0, 0.0, 2.5], [0.0, 0.0, -4.0, 0.5]], dtype=F64)


@pytest.mark.parametrize("p", cases([(str(p), (p,)) for p in (-math.inf, 0.5, 1, 2, 3,
                                                                math.inf)]))
def test_norm_is_torchs_vector_norm(p):
    """p = -inf is min |x| (torch's value); numpy agrees where it has the norm."""
    x = nt.tensor(NORM_DATA, ("a", "b"))
    got = nt.positional(nt.norm(x, "b", p=p), "a")
    torch.testing.assert_close(got, torch.linalg.vector_norm(NORM_DATA, ord=p, dim=1))
    want = np.abs(NORM_DATA.numpy())
    if math.isinf(p):
        want = want.min(1) if p < 0 else want.max(1)
    else:
        want = (want ** p).sum(1) ** (1 / p)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_norm_p0_counts_non_zeros():
    x = nt.tensor(NORM_DATA, ("a", "b"))
    got = nt.positional(nt.norm(x, "b", p=0), "a")
    assert got.tolist() == [3.0, 2.0]


NAN_DATA = torch.tensor([[1.0, math.nan, 3.0], [2.0, 5.0, -1.0], [math.nan, 0.0, math.nan]],
                        dtype=F64)


@pytest.mark.parametrize("one_hot,index,tfn", [
    ("argmax", "argmax_index", torch.argmax), ("argmin", "argmin_index", torch.argmin)])
def test_nan_one_hot_and_index_agree(one_hot, index, tfn):
    """NaN is the extreme value, as in torch: argmax_index gives torch's position
    (the first NaN), and the one-hot argmax puts its mass on the NaNs.  Decided
    (core's tie rule, nt.core.one_hot_limit): the one-hot form shares the mass
    equally among tied extremes, several NaNs included, so with one NaN it is
    the one-hot vector of argmax_index's position and with several it is 1/k
    on each NaN, the first of them (argmax_index's) among them."""
    x = nt.tensor(NAN_DATA, ("a", "b"))
    idx = getattr(nt, index)(x, "b")
    assert torch.equal(nt.positional(idx, "a"), tfn(NAN_DATA, 1))
    oh = nt.positional(getattr(nt, one_hot)(x, "b"), ("a", "b"))
    nan = torch.isnan(NAN_DATA)
    ref = torch.where(nan.any(1, keepdim=True), nan,
                      NAN_DATA == getattr(NAN_DATA, "amax" if one_hot == "argmax"
                                          else "amin")(1, keepdim=True)).to(F64)
    want = ref / ref.sum(1, keepdim=True)
    assert torch.equal(oh, want)
    assert torch.equal(oh.argmax(1), tfn(NAN_DATA, 1))    # the first extreme
    # one NaN in a row: exactly the one-hot vector of argmax_index's position
    assert torch.equal(oh[0], torch.nn.functional.one_hot(tfn(NAN_DATA, 1)[0], 3).to(F64))


def test_nan_topk_and_argmax_index_agree():
    x = nt.tensor(NAN_DATA, ("a", "b"))
    _, idx = nt.topk(x, "b", 1)
    assert torch.equal(nt.positional(idx, ("a", "k"))[:, 0],
                       nt.positional(nt.argmax_index(x, "b"), "a"))


# ---------------------------------------------------------------------------
# clear errors: max over an empty axis; integer input to the linear algebra


EMPTY = ["max", "min", "argmax", "argmin", "argmax_index", "argmin_index",
         "NamedTensor.max", "NamedTensor.min", "NamedTensor.argmax",
         "NamedTensor.argmin", "examples.maxk", "examples.argmaxk", "topk"]


@pytest.mark.parametrize("name", params(EMPTY))
def test_extreme_over_an_empty_axis_names_it(name):
    x = nt.randn(seed=0, a=0, b=3)
    e = BY_NAME[name]
    ba = e.bind()
    ba.arguments[next(iter(ba.arguments))] = x
    for p in ("ax", "axes"):
        if p in ba.arguments:
            ba.arguments[p] = "a"
    if "k" in ba.arguments:
        ba.arguments["k"] = 1
    expect_own_error(lambda: e.fn(*ba.args, **ba.kwargs), nt.AxisError, "'a'",
                     what=name)


@pytest.mark.parametrize("dt", [torch.int64, torch.int32, torch.bool])
@pytest.mark.parametrize("name", ["examples.det", "examples.inv",
                                  "examples.mvn_log_density"])
def test_integer_input_to_linear_algebra_is_promoted(name, dt):
    """As the dtype rule says: integer (or boolean) input to an operation that
    needs real numbers is computed in the default float dtype."""
    m = torch.tensor([[2, 1, 0], [1, 3, 1], [0, 1, 4]])
    if dt == torch.bool:
        m = torch.tensor([[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    M = nt.tensor(m.to(dt), ("d1", "d2"))
    mf = m.to(torch.get_default_dtype())
    if name == "examples.det":
        got = nt.examples.det(M, "d1", "d2")
        assert nt.dtype(got) == torch.get_default_dtype()
        assert math.isclose(float(got), float(np.linalg.det(mf.double().numpy())),
                            rel_tol=1e-6)
    elif name == "examples.inv":
        got = nt.examples.inv(M, "d1", "d2")
        assert nt.dtype(got) == torch.get_default_dtype()
        np.testing.assert_allclose(nt.positional(got, ("d1", "d2")).numpy(),
                                   np.linalg.inv(mf.double().numpy()), rtol=1e-5, atol=1e-6)
    else:
        if dt == torch.bool:
            pytest.skip("a boolean matrix is not a covariance")
        X = nt.tensor(torch.tensor([1, -2, 0], dtype=dt), "d")
        mu = nt.tensor(torch.tensor([0, 1, 1], dtype=dt), "d")
        got = nt.examples.mvn_log_density(X, mu, M)
        assert nt.dtype(got) == torch.get_default_dtype()
        from scipy.stats import multivariate_normal
        want = multivariate_normal(mean=[0, 1, 1], cov=m.double().numpy()).logpdf([1, -2, 0])
        assert math.isclose(float(got), want, rel_tol=1e-5)


# ---------------------------------------------------------------------------
# repr: short for a large tensor, working for a meta tensor


@pytest.mark.parametrize("sizes", [
    pytest.param(dict(a=100_000), id="1"),
    pytest.param(dict(a=300, b=300), id="2"),
    pytest.param(dict(a=6, b=5, c=5, d=5, e=5, f=5), id="6"),
    pytest.param(dict(a=2, b=2, c=2, d=2, e=2, f=2, g=2, h=2, i=2, j=2, k=2, m=2), id="12")])
def test_repr_of_a_large_tensor_is_short(sizes):
    x = nt.randn(seed=0, dtype=torch.float32, **sizes)
    for text in (repr(x), str(x)):
        assert len(text) < 3000, len(text)
        for a, s in sizes.items():
            assert f"{a}[{s}]" in text
        assert "float32" in text


def test_repr_of_a_meta_tensor():
    from ntlib.testing import to_device
    x = to_device(nt.randn(seed=0, a=2, b=3), "meta")
    text = repr(x)
    assert "a[2]" in text and "b[3]" in text and "meta" in text


def test_repr_of_a_small_tensor_shows_every_value():
    x = nt.tensor([[1.5, 2.25, 3.0], [4.0, 5.0, 6.125]], ("a", "b"))
    text = repr(x)
    for v in ("1.5", "2.25", "6.125"):
        assert v in text


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_repr_has_no_signed_zero(dtype):
    """Values that round to zero print as 0, never -0 (ci18's rule, kept in the
    new repr), and the others keep their sign."""
    x = nt.tensor(torch.tensor([[-0.0, -1e-7, 2.5], [-3e-5, 1.0, -4e-5]], dtype=dtype),
                  ("a", "b"))
    for text in (repr(x), str(x)):
        body = text.split("\n", 1)[1]
        assert "-0" not in body, text
        assert "2.5" in body and "1." in body
    assert "-2.5" in repr(-x).split("\n", 1)[1]
