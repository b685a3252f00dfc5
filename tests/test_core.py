"""ntlib core (paper §2-3) against independent positional torch computations.

Every test draws random inputs of several shapes (including sizes nobody tuned
for) and stores them in several axis orders, then compares ntlib's named result,
read back with an explicit order, with torch code that uses positions only.
"""

import itertools
import math

import numpy as np
import pytest
import torch

import ntlib as nt
from ntlib.testing import named

SHAPES = [(1, 1, 1), (2, 3, 4), (5, 7, 3), (13, 1, 6)]
AXES = ("a", "b", "c")


def cases():
    for k, shp in enumerate(SHAPES):
        for order in itertools.permutations(AXES):
            yield k, shp, order


def data_for(k, shp, dtype=torch.float64):
    g = torch.Generator().manual_seed(1000 + k)
    return torch.randn(shp, generator=g, dtype=dtype)


def back(x, order=AXES):
    return nt.positional(x, [a for a in order if a in nt.names(x)]).cpu()


@pytest.mark.parametrize("k,shp,order", list(cases()))
def test_positional_round_trip(k, shp, order):
    d = data_for(k, shp)
    x = named(d, AXES, storage=order)
    assert nt.shape(x) == dict(zip(AXES, shp)) or set(nt.shape(x).items()) == set(zip(AXES, shp))
    torch.testing.assert_close(nt.positional(x, AXES).cpu(), d)
    torch.testing.assert_close(nt.positional(x, ("c", "a", "b")).cpu(), d.permute(2, 0, 1))


@pytest.mark.parametrize("k,shp,order", list(cases()))
@pytest.mark.parametrize("axes", [("a",), ("b",), ("a", "c"), ("a", "b", "c")])
def test_reductions(k, shp, order, axes):
    d = data_for(k, shp)
    x = named(d, AXES, storage=order)
    dims = tuple(AXES.index(a) for a in axes)
    torch.testing.assert_close(back(nt.sum(x, axes)), d.sum(dims))
    torch.testing.assert_close(back(nt.mean(x, axes)), d.mean(dims))
    torch.testing.assert_close(back(nt.var(x, axes)), d.var(dims, unbiased=False))
    torch.testing.assert_close(back(nt.max(x, axes)), d.amax(dims))
    torch.testing.assert_close(back(nt.min(x, axes)), d.amin(dims))
    for p in (1, 2, 3.5, math.inf):
        torch.testing.assert_close(back(nt.norm(x, axes, p=p)),
                                   torch.linalg.vector_norm(d, ord=p, dim=dims))


def test_single_axis_name_is_accepted_as_str():
    d = data_for(1, (2, 3, 4))
    x = named(d, AXES)
    torch.testing.assert_close(back(nt.sum(x, "b")), d.sum(1))


@pytest.mark.parametrize("k,shp,order", list(cases()))
@pytest.mark.parametrize("ax", AXES)
def test_softmax_and_argmax(k, shp, order, ax):
    d = data_for(k, shp)
    x = named(d, AXES, storage=order)
    dim = AXES.index(ax)
    torch.testing.assert_close(back(nt.softmax(x, ax)), torch.softmax(d, dim))
    with nt.plain():  # the formula exp X / Σ exp X rather than torch.softmax
        torch.testing.assert_close(back(nt.softmax(x, ax)), torch.softmax(d, dim))
    onehot = torch.nn.functional.one_hot(d.argmax(dim), shp[dim]).to(d.dtype)
    onehot = onehot.movedim(-1, dim)
    torch.testing.assert_close(back(nt.argmax(x, ax)), onehot)
    onehot_min = torch.nn.functional.one_hot(d.argmin(dim), shp[dim]).to(d.dtype).movedim(-1, dim)
    torch.testing.assert_close(back(nt.argmin(x, ax)), onehot_min)
    i = nt.argmax_index(x, ax)
    assert back(i).dtype == torch.int64
    torch.testing.assert_close(back(i), d.argmax(dim))
    torch.testing.assert_close(back(nt.argmin_index(x, ax)), d.argmin(dim))


def test_argmax_is_the_limit_of_softmax_with_ties():
    d = torch.tensor([[1.0, 3.0, 3.0], [0.0, -1.0, 2.0]], dtype=torch.float64)
    x = nt.tensor(d, ("r", "c"))
    expect = torch.tensor([[0.0, 0.5, 0.5], [0.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(back(nt.argmax(x, "c"), ("r", "c")), expect)
    near = nt.softmax(x * 200.0, "c")
    torch.testing.assert_close(back(near, ("r", "c")), expect, atol=1e-12, rtol=0)


@pytest.mark.parametrize("k,shp,order", list(cases()))
def test_elementwise_and_broadcast(k, shp, order):
    d = data_for(k, shp)
    x = named(d, AXES, storage=order)
    g = torch.Generator().manual_seed(7)
    v = torch.randn(shp[1], generator=g, dtype=torch.float64)
    w = torch.randn(shp[2], shp[0], generator=g, dtype=torch.float64)
    y = nt.tensor(v, "b")
    z = nt.tensor(w, ("c", "a"))
    torch.testing.assert_close(back(x + y), d + v[None, :, None])
    torch.testing.assert_close(back(x * z), d * w.T[:, None, :])
    torch.testing.assert_close(back(y - z), v[None, :, None] - w.T[:, None, :])
    torch.testing.assert_close(back(nt.sigmoid(x)), torch.sigmoid(d))
    torch.testing.assert_close(back(nt.relu(x)), torch.relu(d))
    torch.testing.assert_close(back(nt.exp(x)), torch.exp(d))
    torch.testing.assert_close(back(nt.tanh(x)), torch.tanh(d))
    torch.testing.assert_close(back(nt.abs(x)), torch.abs(d))


CONTRACTIONS = [
    # (shape of X, shape of Y, over, einsum) with axes named by letters
    ({"i": 5}, {"i": 5}, "i", "i,i->"),
    ({"i": 3}, {"j": 4}, (), "i,j->ij"),
    ({"i": 3, "j": 7}, {"j": 7}, "j", "ij,j->i"),
    ({"j": 7}, {"j": 7, "k": 2}, "j", "j,jk->k"),
    ({"i": 3, "j": 5}, {"j": 5, "k": 6}, "j", "ij,jk->ik"),
    ({"b": 4, "i": 3, "j": 5}, {"b": 4, "j": 5, "k": 2}, "j", "bij,bjk->bik"),
    ({"b": 4, "i": 3, "j": 5}, {"b": 4, "j": 5, "k": 2}, ("b", "j"), "bij,bjk->ik"),
    ({"i": 3, "j": 5}, {"i": 3, "j": 5}, (), "ij,ij->ij"),
    ({"i": 3, "j": 5}, {"j": 5, "i": 3}, ("i", "j"), "ij,ij->"),
]


@pytest.mark.parametrize("sx,sy,over,spec", CONTRACTIONS)
@pytest.mark.parametrize("seed", [0, 1])
def test_contract_two(sx, sy, over, spec, seed):
    x = nt.randn(seed=seed, **sx)
    y = nt.randn(seed=seed + 10, **sy)
    lhs, out = spec.split("->")
    xs, ys = lhs.split(",")
    xd = nt.positional(x, tuple(xs)).cpu()
    yd = nt.positional(y, tuple(ys)).cpu()
    expect = torch.einsum(spec, xd, yd)
    torch.testing.assert_close(back(nt.contract(x, y, over=over), tuple(out)), expect)
    torch.testing.assert_close(back(nt.contract(y, x, over=over), tuple(out)), expect)


def test_contract_three_operands_matches_loop():
    x = nt.randn(seed=1, i=3, j=4)
    y = nt.randn(seed=2, j=4, k=5)
    z = nt.randn(seed=3, k=5, i=3, l=2)
    got = back(nt.contract(x, y, z, over=("j", "k")), ("i", "l"))
    X, Y, Z = (nt.positional(t, tuple(o)).cpu() for t, o in ((x, "ij"), (y, "jk"), (z, "kil")))
    expect = torch.zeros(3, 2, dtype=torch.float64)
    for i, j, k, l in itertools.product(range(3), range(4), range(5), range(2)):
        expect[i, l] += X[i, j] * Y[j, k] * Z[k, i, l]
    torch.testing.assert_close(got, expect)


def test_contract_with_a_python_scalar():
    x = nt.randn(seed=0, i=3, j=2)
    y = nt.randn(seed=1, j=2)
    got = nt.contract(x, 2.5, y, over="j")
    torch.testing.assert_close(back(got, ("i",)), 2.5 * back(x, ("i", "j")) @ back(y, ("j",)))


def _aten_calls(fn):
    """The aten operators fn() runs, in order (torch's dispatch, below Python)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.calls.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with Record() as rec:
        fn()
    return rec.calls


@pytest.mark.parametrize("sx,sy,over", [
    ({"batch": 4, "input": 6}, {"out": 5, "input": 6}, "input"),
    ({"b": 3, "i": 4, "j": 5}, {"b": 3, "j": 5, "k": 2}, "j"),
    ({"i": 4, "j": 5}, {"j": 5, "i": 4}, ("i", "j")),
])
def test_contract_is_one_matrix_product(sx, sy, over):
    # a contraction of two operands is one (batched) matrix product, never the
    # broadcast product followed by a sum
    x, W = nt.randn(seed=0, **sx), nt.randn(seed=1, **sy)
    calls = _aten_calls(lambda: nt.contract(W, x, over=over))
    products = [c for c in calls if c in ("mm", "bmm", "matmul", "dot", "mv", "einsum")]
    assert len(products) == 1, calls
    assert not {"mul", "sum"} & set(calls), calls


def test_contract_of_three_operands_is_one_einsum(monkeypatch):
    calls = []
    real = torch.einsum

    def spy(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(torch, "einsum", spy)
    x = nt.randn(seed=0, i=3, j=4)
    y = nt.randn(seed=1, j=4, k=5)
    z = nt.randn(seed=2, k=5, l=2)
    nt.contract(x, y, z, over=("j", "k"))
    assert len(calls) == 1


@pytest.mark.parametrize("k,shp,order", list(cases())[::3])
def test_rename(k, shp, order):
    d = data_for(k, shp)
    x = named(d, AXES, storage=order)
    y = nt.rename(x, {"a": "z"})
    assert set(nt.names(y)) == {"z", "b", "c"}
    torch.testing.assert_close(nt.positional(y, ("z", "b", "c")).cpu(), d)
    s = nt.rename(x, {"a": "b", "b": "a"})  # a swap is allowed
    torch.testing.assert_close(nt.positional(s, ("b", "a", "c")).cpu(), d)


@pytest.mark.parametrize("k,shp,order", list(cases())[::2])
@pytest.mark.parametrize("axes", [("a", "b"), ("c", "a"), ("b", "c", "a"), ("b",)])
def test_flatten_row_major(k, shp, order, axes):
    d = data_for(k, shp)
    x = named(d, AXES, storage=order)
    f = nt.flatten(x, axes, "m")
    rest = tuple(a for a in AXES if a not in axes)
    perm = [AXES.index(a) for a in rest + axes]
    expect = d.permute(perm).reshape(tuple(shp[AXES.index(a)] for a in rest) + (-1,))
    torch.testing.assert_close(nt.positional(f, rest + ("m",)).cpu(), expect)
    sizes = {a: shp[AXES.index(a)] for a in axes}
    u = nt.unflatten(f, "m", sizes)
    torch.testing.assert_close(back(u), d)


def test_index_int_and_negative():
    d = data_for(1, (2, 3, 4))
    x = named(d, AXES, storage=("c", "a", "b"))
    torch.testing.assert_close(back(nt.index(x, "b", 2)), d[:, 2, :])
    torch.testing.assert_close(back(nt.index(x, "c", -1)), d[:, :, -1])


def test_index_cases_of_section_3_7():
    g = torch.Generator().manual_seed(5)
    E = torch.randn(11, 6, generator=g, dtype=torch.float64)            # vocab × emb
    Ipos = torch.randint(0, 11, (7,), generator=g)                          # seq
    En = nt.tensor(E, ("vocab", "emb"))
    In = nt.tensor(Ipos, "seq")
    # E[I] / embedding lookup / index_select
    got = nt.index(En, "vocab", In)
    torch.testing.assert_close(back(got, ("seq", "emb")), E[Ipos])
    torch.testing.assert_close(back(got, ("seq", "emb")), torch.index_select(E, 0, Ipos))
    # take: flat array indexed by an array of any shape
    A = torch.randn(9, generator=g, dtype=torch.float64)
    J = torch.randint(0, 9, (3, 4), generator=g)
    got = nt.index(nt.tensor(A, "x"), "x", nt.tensor(J, ("p", "q")))
    torch.testing.assert_close(back(got, ("p", "q")), torch.take(A, J))
    # take_along_axis / gather along seq with a batch axis shared by name
    X = torch.randn(4, 10, generator=g, dtype=torch.float64)                # batch × seq
    K = torch.randint(0, 10, (4, 3), generator=g)                           # batch × k
    got = nt.index(nt.tensor(X, ("batch", "seq")), "seq", nt.tensor(K, ("batch", "k")))
    torch.testing.assert_close(back(got, ("batch", "k")), torch.gather(X, 1, K))
    np.testing.assert_allclose(back(got, ("batch", "k")).numpy(),
                               np.take_along_axis(X.numpy(), K.numpy(), axis=1))
    # gather with batch_dims=1: params batch × seq × emb, indices batch × k
    P = torch.randn(4, 10, 5, generator=g, dtype=torch.float64)
    got = nt.index(nt.tensor(P, ("batch", "seq", "emb")), "seq", nt.tensor(K, ("batch", "k")))
    expect = torch.stack([P[b][K[b]] for b in range(4)])
    torch.testing.assert_close(back(got, ("batch", "k", "emb")), expect)


def test_double_indexing():
    g = torch.Generator().manual_seed(9)
    P = torch.randn(6, 8, generator=g, dtype=torch.float64)   # seq × vocab
    I = torch.randint(0, 6, (5,), generator=g)
    J = torch.randint(0, 8, (5,), generator=g)
    Pn = nt.tensor(P, ("seq", "vocab"))
    S = nt.index(nt.index(Pn, "seq", nt.tensor(I, "subseq")), "vocab", nt.tensor(J, "subseq"))
    torch.testing.assert_close(back(S, ("subseq",)), P[I, J])


def test_randn_is_seeded_on_the_cpu():
    a = nt.randn(seed=3, x=4, y=5)
    b = nt.randn(seed=3, x=4, y=5)
    g = torch.Generator().manual_seed(3)
    expect = torch.randn(4, 5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(nt.positional(a, ("x", "y")).cpu(), expect)
    torch.testing.assert_close(nt.positional(b, ("x", "y")), nt.positional(a, ("x", "y")))
    assert nt.positional(a, ("x", "y")).device.type == nt.device().type
    assert nt.positional(nt.randn(seed=1, dtype=torch.float32, x=2), "x").dtype == torch.float32
    r = nt.randint(2, 5, seed=0, x=100)
    rd = nt.positional(r, "x")
    assert rd.dtype == torch.int64 and rd.min() >= 2 and rd.max() < 5
    u = nt.positional(nt.rand(seed=0, x=100), "x")
    assert u.min() >= 0 and u.max() < 1


def test_device_selection(monkeypatch):
    monkeypatch.setenv("NTLIB_DEVICE", "cpu")
    assert nt.device() == torch.device("cpu")
    assert nt.positional(nt.randn(seed=0, x=2), "x").device.type == "cpu"
    monkeypatch.delenv("NTLIB_DEVICE")
    expect = "cuda" if torch.cuda.is_available() else "cpu"
    assert nt.device().type == expect


def test_tensor_dtypes():
    assert nt.positional(nt.tensor([1.5, 2], "x"), "x").dtype == torch.float64
    assert nt.positional(nt.tensor([1, 2], "x"), "x").dtype == torch.int64
    assert nt.positional(nt.tensor(torch.ones(2), "x"), "x").dtype == torch.float32
    assert nt.positional(nt.tensor(np.ones(2, np.float32), "x"), "x").dtype == torch.float32
    assert nt.positional(nt.tensor([1, 2], "x", dtype=torch.float32), "x").dtype == torch.float32


def test_tensor_from_lists_numpy_torch():
    rows = [[3, 1, 4], [1, 5, 9], [2, 6, 5]]
    for data in (rows, np.array(rows), torch.tensor(rows)):
        A = nt.tensor(data, ("height", "width"))
        assert nt.shape(A) == {"height": 3, "width": 3}
        assert nt.positional(A, ("height", "width"))[0, 2].item() == 4
        assert nt.positional(A, ("width", "height"))[0, 2].item() == 2


def test_formal_definitions():
    s = {"height": 3, "width": 2}
    t = {"width": 2, "chans": 4}
    assert nt.compatible(s, t) and not nt.orthogonal(s, t)
    assert not nt.compatible(s, {"width": 3})
    assert nt.orthogonal(s, {"chans": 4})
    recs = list(nt.records(s))
    assert len(recs) == 6 and recs[1] == {"height": 0, "width": 1}
    assert nt.restrict({"height": 2, "width": 1}, "width") == {"width": 1}


def test_lift_agrees_with_automatic_lifting():
    x = nt.randn(seed=0, height=3, width=4, chans=2)
    looped = nt.lift(lambda v: nt.softmax(v, "width"), x, over=("height", "chans"))
    torch.testing.assert_close(nt.positional(looped, ("height", "chans", "width")),
                               nt.positional(nt.softmax(x, "width"), ("height", "chans", "width")))


def test_gradients_flow_through_named_ops():
    d = data_for(1, (2, 3, 4)).requires_grad_(True)
    w = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    x = nt.tensor(d, AXES)
    W = nt.tensor(w, ("c", "o"))
    y = nt.softmax(nt.contract(x, W, over="c"), "o")
    loss = nt.positional(nt.sum(y * y, ("a", "b", "o")), ())
    loss.backward()
    d2 = d.detach().clone().requires_grad_(True)
    w2 = w.detach().clone().requires_grad_(True)
    ref = (torch.softmax(d2 @ w2, -1) ** 2).sum()
    ref.backward()
    torch.testing.assert_close(d.grad, d2.grad)
    torch.testing.assert_close(w.grad, w2.grad)


def test_funsor_named_tensor_is_what_funsors_constructor_makes():
    # ntlib builds results without funsor's constructor (ntlib._internal.make);
    # the object must be the one funsor's constructor would make: same class,
    # same inputs, output, fresh and bound variables, same _ast_values
    from collections import OrderedDict

    from funsor.domains import Bint, Real
    from funsor.tensor import Tensor

    from ntlib._internal import make

    d = torch.randn(3, 4, dtype=torch.float64)
    ours = make(d, ("a", "b"))
    theirs = nt.NamedTensor(d, OrderedDict(a=Bint[3], b=Bint[4]))
    assert type(ours) is type(theirs) and isinstance(ours, Tensor)
    assert ours.inputs == theirs.inputs == OrderedDict(a=Bint[3], b=Bint[4])
    assert ours.output == theirs.output == Real
    assert ours.fresh == theirs.fresh == frozenset({"a", "b"})
    assert ours.bound == theirs.bound == {}
    assert ours._ast_values[1:] == theirs._ast_values[1:]
    assert ours._ast_values[0] is theirs._ast_values[0] is d
    assert theirs.names == ("a", "b") and nt.equal(ours, theirs)
    torch.testing.assert_close(nt.positional(ours + theirs, ("a", "b")), 2 * d)
    # funsor's own algorithms accept it: reduce, substitution, sum_product
    from funsor import ops
    from funsor.sum_product import sum_product

    from ntlib._internal import funsor_compat as fc
    r = ours.reduce(ops.add, "a")
    assert isinstance(r, Tensor) and not isinstance(r, nt.NamedTensor) and not r.output.shape
    torch.testing.assert_close(r.data, d.sum(0))
    i = Tensor(torch.tensor([0, 2]), OrderedDict(k=Bint[2]), 3)
    torch.testing.assert_close(nt.positional(fc.subs(ours, {"a": i}), ("k", "b")), d[[0, 2]])
    torch.testing.assert_close(nt.positional(fc.subs(ours, {"b": 1}), "a"), d[:, 1])
    y = make(torch.randn(4, 2, dtype=torch.float64), ("b", "c"))
    m = sum_product(ops.add, ops.mul, [ours, y], eliminate=frozenset({"b"}))
    torch.testing.assert_close(nt.positional(m, ("a", "c")),
                               d @ nt.positional(y, ("b", "c")))
    # and funsor's reinterpretation rebuilds it
    from funsor.interpreter import reinterpret
    assert nt.equal(reinterpret(ours), ours)


def test_funsor_stays_funsor():
    # after import ntlib, plain funsor Tensors keep funsor's semantics exactly:
    # their products are plain funsor Tensors (funsor's .sum() sums values)
    import subprocess
    import sys
    code = """
import torch, funsor, funsor.ops as ops
from collections import OrderedDict
from funsor.domains import Bint
funsor.set_backend("torch")
def run():
    a = funsor.Tensor(torch.arange(6.).reshape(2, 3), OrderedDict(i=Bint[2]))
    b = funsor.Tensor(torch.arange(2.) + 1, OrderedDict(i=Bint[2]))
    c = funsor.Tensor(torch.arange(3.), OrderedDict(j=Bint[3]))
    out = []
    for r in (a * b, a + b, ops.mul(b, c), b - c, a.sum(), (b * c).reduce(ops.add, "i")):
        out.append((type(r).__name__, tuple(r.inputs), tuple(r.output.shape),
                    r.data.tolist()))
    return out
before = run()
import ntlib as nt
after = run()
assert before == after, (before, after)
assert all(t == "Tensor" for t, *_ in after), after
x = nt.tensor(torch.arange(2.) + 1, "i")
c = funsor.Tensor(torch.arange(3.), OrderedDict(j=Bint[3]))
assert isinstance(c * x, nt.NamedTensor) and isinstance(x * c, nt.NamedTensor)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_funsor_checked_binary_keeps_funsors_elementwise_rule():
    # ntlib puts a size check in front of funsor's eager rule for binary ops;
    # the rule behind it must still be the elementwise one, also for funsor
    # tensors whose values are vectors (funsor's matmul rule would not be).
    from collections import OrderedDict

    from funsor.domains import Bint
    from funsor.tensor import Tensor

    a = torch.randn(3, 2, dtype=torch.float64)
    b = torch.randn(3, 2, dtype=torch.float64)
    x = Tensor(a, OrderedDict(i=Bint[3]))
    y = Tensor(b, OrderedDict(i=Bint[3]))
    torch.testing.assert_close((x + y).data, a + b)
    torch.testing.assert_close((x * y).data, a * b)


def test_softmax_dispatches_to_torch_softmax_unless_plain(monkeypatch):
    calls = []
    real = torch.softmax

    def spy(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("dim"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "softmax", spy)
    x = nt.randn(seed=0, a=3, b=4)
    nt.softmax(x, "b")
    assert calls == [1]
    with nt.plain():
        nt.softmax(x, "b")
    assert calls == [1]


def test_funsor_pin_is_the_tested_range():
    # requirements.txt and pyproject.toml pin the same funsor range, and the
    # funsor these tests run with lies in it
    import pathlib
    import re

    import funsor

    root = pathlib.Path(__file__).resolve().parent.parent
    req = re.search(r"^funsor([^\s#]*)", (root / "requirements.txt").read_text(), re.M)
    pyp = re.search(r'"funsor([^"]*)"', (root / "pyproject.toml").read_text())
    assert req.group(1) == pyp.group(1) == ">=0.4.8,<0.5"
    v = tuple(int(p) for p in funsor.__version__.split(".")[:3])
    assert (0, 4, 8) <= v < (0, 5)


def test_python_floats_become_float64_exactly():
    x = nt.tensor([0.7, 1 / 3, [0.1][0]], "x")
    assert nt.positional(x, "x").cpu().tolist() == [0.7, 1 / 3, 0.1]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_funsor_ops_on_named_tensors_keep_scalar_values(n):
    """funsor's own machinery (ops.mul, sum_product) on named tensors, size-1 axes included."""
    import funsor.ops as fops
    from funsor.sum_product import sum_product

    a = nt.rand(seed=1, v0=n, v1=n)
    b = nt.rand(seed=2, v0=n, v2=n)
    c = nt.rand(seed=3, v0=n, v3=n)
    r = b.reduce(fops.add, frozenset({"v2"}))          # a plain funsor Tensor
    for prod in (fops.mul(a, r), fops.mul(r, a)):
        assert not prod.output.shape
        want = torch.einsum("ij,ik->ij", nt.positional(a, ("v0", "v1")),
                            nt.positional(b, ("v0", "v2")))
        assert torch.allclose(nt.positional(prod, ("v0", "v1")), want)
    m = sum_product(fops.add, fops.mul, [a, b, c], eliminate=frozenset({"v0", "v2", "v3"}))
    want = torch.einsum("ij,ik,il->j", *(nt.positional(t, ("v0", o)) for t, o in
                                          ((a, "v1"), (b, "v2"), (c, "v3"))))
    assert torch.allclose(nt.positional(m, "v1"), want)
