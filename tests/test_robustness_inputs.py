"""The second round of inputs nobody tuned for (issue 28), each a class run
over the public-API table (``tests/public_api.py``) where it applies, and
checked against an independent computation: positional torch, autograd's
finite differences, or the same call written with plain names.

- axis names that are instances of a subclass of str (a str-valued Enum);
- sets where the order of the axes matters (refused) or does not (accepted);
- wrong-type axis arguments: both nt.AxisError and TypeError;
- second derivatives of every reduction and block, and the subgradients at
  0 of norm and std;
- the fused and plain paths on masked and empty inputs;
- crashes and unclear errors found on inputs of this kind.
"""

from __future__ import annotations

import enum
import math

import numpy as np
import pytest
import torch
from torch.autograd import gradgradcheck

import ntlib as nt
from public_api import (BY_NAME, TABLE, beam_f, fused_blocks, lenet_params, LENET,
                        replace_tensors, tensors_in, transformer_params)
from robust import cases, expect_own_error

F64 = torch.float64


# ---------------------------------------------------------------------------
# an axis name that is an instance of a subclass of str


class Whole(str):
    """A str subclass that refuses to be split into its characters."""

    def __iter__(self):
        raise AssertionError(f"the axis name {str.__str__(self)!r} was split into "
                             f"characters")


def _whole(value):
    if isinstance(value, str):
        return Whole(value)
    return type(value)(Whole(a) for a in value)


def _axis_params():
    out = []
    for e in TABLE:
        for p in e.axes + e.new:
            if isinstance(p, str):
                out.append((f"{e.name}:{p}", (e.name, p)))
    return out


def _same(out, ref):
    if isinstance(ref, nt.NamedTensor):
        assert isinstance(out, nt.NamedTensor)
        assert set(nt.names(out)) == set(nt.names(ref))
        order = nt.names(ref)
        torch.testing.assert_close(nt.positional(out, order), nt.positional(ref, order),
                                   equal_nan=True, rtol=0, atol=0)
    elif isinstance(ref, (tuple, list)):
        assert len(out) == len(ref)
        for o, r in zip(out, ref):
            _same(o, r)
    elif isinstance(ref, (str, int, float, bool)):
        assert out == ref


@pytest.mark.parametrize("name,param", cases(_axis_params()))
def test_a_str_subclass_is_an_axis_name_taken_whole(name, param):
    """Every axis argument of every public function: the same call with the
    names given as a str subclass gives the same result, and the names are
    never iterated over (Whole refuses)."""
    e = BY_NAME[name]
    ba = e.bind()
    ba.apply_defaults()
    value = ba.arguments[param]
    ref = e.fn(*ba.args, **ba.kwargs)
    ba.arguments[param] = _whole(value)
    _same(e.fn(*ba.args, **ba.kwargs), ref)
    if isinstance(value, (tuple, list)) and len(value) > 1 and param in e.multi:
        # one name where several may be given: taken whole, not as characters
        ba.arguments[param] = value[0]
        try:
            ref = e.fn(*ba.args, **ba.kwargs)
        except nt.AxisError:       # positional, show, tuples: every axis needed
            return
        ba.arguments[param] = Whole(value[0])
        _same(e.fn(*ba.args, **ba.kwargs), ref)


class Ax(str, enum.Enum):
    AB = "ab"
    A = "a"


def test_a_str_enum_whose_characters_are_axes_names_one_axis():
    x = nt.randn(seed=3, a=2, b=3, ab=4)
    d = nt.positional(x, ("a", "b", "ab"))
    for fn, tfn in ((nt.sum, torch.sum), (nt.mean, torch.mean),
                    (nt.logsumexp, torch.logsumexp), (nt.max, torch.amax)):
        torch.testing.assert_close(nt.positional(fn(x, Ax.AB), ("a", "b")), tfn(d, 2))
        torch.testing.assert_close(nt.positional(fn(x, (Ax.AB, Ax.A)), ("b",)),
                                   tfn(d, (0, 2)))
    y = nt.randn(seed=4, ab=4, c=2)
    torch.testing.assert_close(nt.positional(nt.contract(x, y, over=Ax.AB), ("a", "b", "c")),
                               torch.einsum("abk,kc->abc", d, nt.positional(y, ("ab", "c"))))
    f = nt.flatten(x, (Ax.AB, "a"), "z")
    torch.testing.assert_close(nt.positional(f, ("b", "z")),
                               d.permute(1, 2, 0).reshape(3, 8))
    assert nt.names(nt.tensor([1.0, 2.0], Ax.AB)) == ("ab",)
    assert all(type(a) is str for a in nt.names(nt.rename(x, {Ax.AB: Ax.A.value + "'"})))
    assert nt.names(nt.softmax(x, Ax.AB)) == nt.names(x)
    assert set(nt.names(x(**{Ax.AB.value: 0}))) == {"a", "b"}


# ---------------------------------------------------------------------------
# a set where the order of the axes matters, and where it does not

#: the axis arguments whose order is part of the meaning (refuse a set)
ORDERED = {"positional:names", "NamedTensor.positional:names", "flatten:axes",
           "show:order", "alternatives.tuples:names", "alternatives.dropout:over"}
MULTI = [(f"{e.name}:{p}", (e.name, p)) for e in TABLE for p in e.multi]


@pytest.mark.parametrize("name,param", cases(MULTI))
def test_a_set_of_axes_is_refused_only_where_order_matters(name, param):
    e = BY_NAME[name]
    ba = e.bind()
    ba.apply_defaults()
    value = ba.arguments[param]
    value = (value,) if isinstance(value, str) else tuple(value)
    ref = e.fn(*ba.args, **ba.kwargs)
    for given in (set(value), frozenset(value)):
        ba.arguments[param] = given
        if f"{name}:{param}" in ORDERED:
            err = expect_own_error(lambda: e.fn(*ba.args, **ba.kwargs), nt.AxisTypeError,
                                   repr(param), "order", what=f"{name}({param}=set)")
            assert isinstance(err, TypeError)
        else:
            out = e.fn(*ba.args, **ba.kwargs)
            if name.startswith("alternatives.sql_contract_query"):
                continue            # the query's text lists the axes; its rows are equal
            _same(out, ref)


def test_a_set_of_names_for_new_axes_is_refused():
    data = torch.arange(6.0, dtype=F64).reshape(2, 3)
    for make in (lambda n: nt.tensor(data, n),
                 lambda n: nt.alternatives.relation([(0, 1)], n, {"a": 2, "b": 3})):
        err = expect_own_error(lambda: make({"a", "b"}), nt.AxisTypeError, "'names'",
                               "order")
        assert isinstance(err, TypeError)
    # dict keys keep their order: accepted
    assert nt.names(nt.tensor(data, {"b": 2, "a": 3}.keys())) == ("b", "a")


# ---------------------------------------------------------------------------
# a wrong-type axis argument is both an AxisError and a TypeError


AXIS_ARGS = [(f"{e.name}:{p}", (e.name, p)) for e in TABLE for p in e.axes
             if isinstance(p, str)]


@pytest.mark.parametrize("name,param", cases(AXIS_ARGS))
def test_a_wrong_type_axis_argument_is_also_a_TypeError(name, param):
    e = BY_NAME[name]
    for bad in (0, {"a": 1}):
        ba = e.bind()
        ba.arguments[param] = bad
        with pytest.raises(TypeError) as info:
            e.fn(*ba.args, **ba.kwargs)
        assert isinstance(info.value, nt.AxisError), info.value
        assert isinstance(info.value, nt.AxisTypeError)


def test_axis_type_error_is_exported_and_both():
    assert issubclass(nt.AxisTypeError, nt.AxisError)
    assert issubclass(nt.AxisTypeError, TypeError)
    assert "AxisTypeError" in nt.__all__
    with pytest.raises(TypeError):
        nt.sum(nt.randn(seed=0, a=2), ("a", 1))


# ---------------------------------------------------------------------------
# second derivatives of every reduction and block


#: a[2] x b[3] data where entries equal the mean (2), one entry is 0, no ties
#: in a row or column, and no row or column constant
TIES = torch.tensor([[1.0, 2.0, 4.0], [0.0, 2.0, 3.0]], dtype=F64)


def _tied(t):
    if set(nt.names(t)) == {"a", "b"} and nt.shape(t) == {"a": 2, "b": 3} \
            and t.data.is_floating_point():
        return nt.tensor(TIES.clone(), ("a", "b"))
    return t


def _float_leaves(args, kwargs, tie):
    """The call's float tensors as leaves, with the tie data in place."""
    args, kwargs = replace_tensors((args, kwargs), _tied if tie else (lambda t: t))
    leaves = [t for t in tensors_in([args, kwargs]) if t.data.is_floating_point()]
    return args, kwargs, leaves


def _as_function(e, args, kwargs, leaves):
    ids = [id(t) for t in leaves]

    def f(*datas):
        sub = dict(zip(ids, datas))

        def put(t):
            d = sub.get(id(t))
            return t if d is None else nt.tensor(d, nt.names(t))
        a, k = replace_tensors((args, kwargs), put)
        out = e.fn(*a, **k)
        return out.data if isinstance(out, nt.NamedTensor) else out[0].data
    return f


SECOND = [e.name for e in TABLE
          if e.build is not None and (e.reduction or e.name.startswith("nn."))
          and e.complex is not None and e.name not in (
              "nn.causal_mask",                  # no tensor argument
              "argmax", "argmin", "NamedTensor.argmax", "NamedTensor.argmin",
              "argmax_index", "argmin_index")]   # piecewise constant


@pytest.mark.parametrize("name", SECOND)
@pytest.mark.parametrize("path", ["fused", "plain"])
def test_second_derivatives_are_right(name, path):
    """gradgradcheck (autograd's second derivatives against finite differences
    of the first) in float64, with entries equal to the mean and an entry 0."""
    e = BY_NAME[name]
    if path == "plain" and name not in fused_blocks() \
            and name not in ("softmax", "log_softmax"):
        pytest.skip("one path only")
    args, kwargs = e.build()
    args, kwargs, leaves = _float_leaves(args, kwargs, tie=True)
    if not leaves:
        pytest.skip("no float input")
    f = _as_function(e, args, kwargs, leaves)
    datas = [t.data.detach().clone().requires_grad_(True) for t in leaves]
    if path == "plain":
        with nt.plain():
            assert gradgradcheck(f, datas, atol=1e-6, fast_mode=True)
    else:
        assert gradgradcheck(f, datas, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("nt_fn,torch_fn", [
    (nt.var, lambda d: d.var(1, correction=0)),
    (nt.std, lambda d: d.std(1, correction=0)),
    (nt.norm, lambda d: torch.linalg.vector_norm(d, dim=1)),
    (nt.mean, lambda d: d.mean(1)),
    (nt.logsumexp, lambda d: d.logsumexp(1)),
    (nt.prod, lambda d: d.prod(1)),
    (nt.softmax, lambda d: d.softmax(1)),
    (nt.log_softmax, lambda d: d.log_softmax(1)),
], ids=["var", "std", "norm", "mean", "logsumexp", "prod", "softmax", "log_softmax"])
def test_hessians_are_torchs(nt_fn, torch_fn):
    """torch.func.hessian of a weighted sum of the result, against the same
    with torch's own function on positional data (rows of TIES: reduce over b)."""
    w = torch.tensor([[0.7, -1.3, 0.4], [-2.0, 0.9, 1.1]], dtype=F64)

    def weighted(out):
        return (out * (w[:, 0] if out.dim() == 1 else w)).sum()

    def named(d):
        out = nt_fn(nt.tensor(d.T, ("b", "a")), "b")
        return weighted(nt.positional(out, tuple(a for a in ("a", "b")
                                                 if a in nt.names(out))))

    def positional(d):
        return weighted(torch_fn(d))

    torch.testing.assert_close(torch.func.hessian(named)(TIES),
                               torch.func.hessian(positional)(TIES))


def test_subgradients_at_zero_are_torchs():
    """norm at an all-zero row and std of a constant row: gradient 0, as torch
    gives (the derivative of the root is infinite there)."""
    data = torch.tensor([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0], [1.0, -2.0, 0.5]], dtype=F64)
    for nt_fn, torch_fn in ((nt.norm, lambda d: torch.linalg.vector_norm(d, dim=1)),
                            (nt.std, lambda d: d.std(1, correction=0))):
        d1 = data.clone().requires_grad_(True)
        nt.backward(nt.sum(nt_fn(nt.tensor(d1, ("r", "c")), "c")))
        d2 = data.clone().requires_grad_(True)
        torch_fn(d2).sum().backward()
        assert not d1.grad.isnan().any()
        torch.testing.assert_close(d1.grad, d2.grad)
    for p in (1, 3):
        d1 = data.clone().requires_grad_(True)
        nt.backward(nt.sum(nt.norm(nt.tensor(d1, ("r", "c")), "c", p=p)))
        d2 = data.clone().requires_grad_(True)
        torch.linalg.vector_norm(d2, ord=p, dim=1).sum().backward()
        torch.testing.assert_close(d1.grad, d2.grad)


# ---------------------------------------------------------------------------
# the fused and plain paths on masked and empty inputs


def _both(fn, *args, **kw):
    out = fn(*args, **kw)
    with nt.plain():
        ref = fn(*args, **kw)
    return out, ref


def test_attention_with_every_key_masked_is_nan_on_both_paths():
    """softmax over keys that are all −∞ is 0/0: NaN for that query, on both
    paths; the other queries are untouched."""
    Q, K = nt.randn(seed=1, query=3, key=4), nt.randn(seed=2, seq=5, key=4)
    V = nt.randn(seed=3, seq=5, val=2)
    m = torch.zeros(3, 5, dtype=F64)
    m[1] = -math.inf
    m[2, :4] = -math.inf
    M = nt.tensor(m, ("query", "seq"))
    out, ref = _both(nt.attention, Q, K, V, M)
    a, b = nt.positional(out, ("query", "val")), nt.positional(ref, ("query", "val"))
    assert a[1].isnan().all() and b[1].isnan().all()
    torch.testing.assert_close(a, b, equal_nan=True)
    # independent: query 2 sees only key 4, so its output is V at seq 4
    torch.testing.assert_close(a[2], nt.positional(V, ("seq", "val"))[4])


def test_attention_with_dead_rows_in_a_mask_with_more_axes():
    """The dead rows are found on the mask's own axes, stored in any order, and
    placed by name among the output's axes (heads on Q only, a batch axis on
    the mask, a value axis on V)."""
    Q = nt.randn(seed=1, heads=2, batch=3, query=4, key=5)
    K, V = nt.randn(seed=2, batch=3, seq=6, key=5), nt.randn(seed=3, seq=6, val=2)
    m = torch.zeros(6, 3, 4, dtype=F64)       # (seq, batch, query)
    m[:, 0, 2] = -math.inf                    # batch 0, query 2: every key masked
    m[:5, 2, 0] = -math.inf                   # batch 2, query 0: one key left
    M = nt.tensor(m, ("seq", "batch", "query"))
    out, ref = _both(nt.attention, Q, K, V, M)
    order = ("heads", "batch", "query", "val")
    a, b = nt.positional(out, order), nt.positional(ref, order)
    dead = a.isnan().all(-1)
    assert dead[:, 0, 2].all() and dead.sum() == 2            # both heads, nothing else
    assert not a.isnan().any(-1)[:, [1, 2]].any()
    torch.testing.assert_close(a, b, equal_nan=True)


def test_softmax_and_attention_over_an_empty_axis_agree():
    x = nt.randn(seed=1, a=0, b=3)
    for fn in (nt.softmax, nt.log_softmax):
        out, ref = _both(fn, x, "a")
        assert nt.shape(out) == nt.shape(ref) == {"a": 0, "b": 3}
        assert torch.softmax(torch.zeros(0, 3), 0).shape == (0, 3)   # torch's too
    Q, K = nt.randn(seed=1, query=3, key=4), nt.randn(seed=2, seq=0, key=4)
    V = nt.randn(seed=3, seq=0, val=2)
    for M in (None, nt.tensor(torch.zeros(3, 0, dtype=F64), ("query", "seq"))):
        out, ref = _both(nt.attention, Q, K, V, M)
        # softmax over no keys is empty, and its contraction with V an empty sum: 0
        assert torch.equal(nt.positional(out, ("query", "val")), torch.zeros(3, 2, dtype=F64))
        assert torch.equal(nt.positional(ref, ("query", "val")), torch.zeros(3, 2, dtype=F64))


def test_rnn_over_no_steps_is_an_empty_stack_on_both_paths():
    R = nt.randn
    args = (R(seed=1, time=0, input=2, batch=2), R(seed=2, hidden=4, batch=2, c=3),
            R(seed=3, hidden=4, hidden_out=4), R(seed=4, input=2, hidden_out=4),
            R(seed=5, hidden_out=4))
    out, ref = _both(nt.rnn, *args)
    want = {"time": 0, "batch": 2, "c": 3, "hidden": 4}
    assert nt.shape(out) == want and nt.shape(ref) == want


# ---------------------------------------------------------------------------
# crashes


def test_vmap_over_token_ids_with_a_negative_id():
    """Negative ids count from the end, also under torch.func.vmap (whose
    tensors have no values to range-check in Python); against a loop."""
    E = nt.randn(seed=2, vocab=5, layer=4)
    x = nt.randn(seed=3, a=2, b=5)
    ids = torch.tensor([[0, 4, -1], [-5, 2, 3]])
    for f in (lambda d: nt.positional(nt.models.embed(nt.tensor(d, "seq"), E),
                                      ("seq", "layer")),
              lambda d: nt.positional(nt.models.one_hot(nt.tensor(d, "seq"), size=5),
                                      ("seq", "vocab")),
              lambda d: nt.positional(nt.index(x, "b", nt.tensor(d, "seq")), ("a", "seq"))):
        torch.testing.assert_close(torch.func.vmap(f)(ids), torch.stack([f(r) for r in ids]))
    e = nt.positional(E, ("vocab", "layer"))
    torch.testing.assert_close(
        torch.func.vmap(lambda d: nt.positional(nt.models.embed(nt.tensor(d, "seq"), E),
                                                ("seq", "layer")))(ids),
        e[ids] * 2.0)


def test_an_axis_named_self_in_call_syntax():
    x = nt.randn(seed=1, a=2, self=3)
    torch.testing.assert_close(nt.positional(x(self=1), ("a",)),
                               nt.positional(x, ("a", "self"))[:, 1])


def test_belief_propagation_of_no_factors_is_refused():
    expect_own_error(lambda: nt.examples.belief_propagation([]), ValueError, "factor")


# ---------------------------------------------------------------------------
# bad arguments, unclear errors


def _kmeans(steps):
    return nt.examples.kmeans(nt.randn(seed=1, batch=5, d=2), nt.randn(seed=2, clusters=3, d=2),
                              steps=steps)


def _beam(steps):
    return nt.examples.beam_search(
        beam_f(), nt.tensor(torch.zeros(1, dtype=F64), "beam"),
        nt.tensor(torch.tensor([[1.0, 0, 0]], dtype=F64), ("beam", "state")),
        steps=steps, k=2)


@pytest.mark.parametrize("fn", [_kmeans, _beam], ids=["kmeans", "beam_search"])
def test_steps_must_be_a_non_negative_int(fn):
    expect_own_error(lambda: fn(-1), ValueError, "'steps'", "-1")
    for bad in (2.5, True, "2", None):
        expect_own_error(lambda: fn(bad), TypeError, "'steps'", repr(bad))
    fn(0)
    fn(np.int64(1))


def test_a_missing_model_parameter_is_named_with_its_layer():
    I = nt.tensor([0, 4, 2], "seq")
    p = transformer_params()
    del p["1.WK"]
    for f in (nt.models.transformer, nt.models.transformer_logits):
        expect_own_error(lambda: f(I, p), KeyError, "1.WK", "layer 1")
    expect_own_error(lambda: nt.models.transformer_layer(
        nt.randn(seed=1, seq=3, layer=4), p, 1), KeyError, "1.WK", "layer 1")
    q = lenet_params()
    del q["W2"]
    expect_own_error(lambda: nt.models.lenet(nt.randn(seed=1, batch=2, chans=1, height=8,
                                                      width=8), q, pools=LENET["pools"]),
                     KeyError, "W2", "layer 2")


def test_cat_and_stack_of_something_not_a_list():
    x = nt.randn(seed=1, a=2, b=3)
    for fn in (nt.cat, nt.stack):
        for bad in (None, x, 3):
            expect_own_error(lambda: fn(bad, "b" if fn is nt.cat else "c"), TypeError,
                             "'tensors'", "list or tuple")


def test_astype_takes_numpy_and_string_dtypes():
    x = nt.randn(seed=1, a=2, b=3)
    for given in ("float32", "torch.float32", np.float32, np.dtype("float32"),
                  torch.float32):
        y = nt.astype(x, given)
        assert nt.dtype(y) is torch.float32
        assert torch.equal(nt.positional(y, ("a", "b")),
                           nt.positional(x, ("a", "b")).to(torch.float32))
    assert nt.dtype(nt.astype(x, np.int16)) is torch.int16
    for bad in ("floaty", 3, None, "Tensor"):
        expect_own_error(lambda: nt.astype(x, bad), TypeError, "'dtype'", repr(bad))


def test_narrow_with_a_float_names_the_argument():
    x = nt.randn(seed=1, a=2, b=3)
    expect_own_error(lambda: nt.narrow(x, "b", 1.0, 2), TypeError, "'start'", "1.0")
    expect_own_error(lambda: nt.narrow(x, "b", 1, 2.0), TypeError, "'length'", "2.0")
    assert nt.shape(nt.narrow(x, "b", np.int64(1), 2)) == {"a": 2, "b": 2}


def test_dropout_without_a_seed_names_it():
    x = nt.randn(seed=1, a=2, b=3)
    expect_own_error(lambda: nt.alternatives.dropout(x, 0.5, ("a",), seed=None),
                     TypeError, "seed", "None")


def test_causal_mask_refuses_a_dtype_without_infinity():
    for dt in (torch.int64, torch.bool, torch.uint8):
        expect_own_error(lambda: nt.causal_mask(3, dtype=dt), TypeError, "dtype", str(dt))
    m = nt.causal_mask(3, dtype=torch.float16)
    later = torch.arange(3)[:, None] > torch.arange(3)[None, :]     # seq i after query j
    want = torch.zeros(3, 3, dtype=torch.float16).masked_fill(later, -math.inf)
    assert torch.equal(nt.positional(m, ("seq", "query")), want)
