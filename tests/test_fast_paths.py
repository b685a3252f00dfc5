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


# --------------------------------------------------------------------------
# contracting overlapping windows (unroll's view) without laying them out


import pytest  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ntlib.core import _windowed as windowed  # noqa: E402
from ntlib.core import _contraction as contraction  # noqa: E402
from ntlib.testing import assert_close, named  # noqa: E402


@pytest.fixture
def window_route(monkeypatch):
    """The window route for tensors of any size; yields the list of its results
    (True: it computed, False: it declined at run time)."""
    monkeypatch.setattr(windowed, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(windowed, "MIN_WORK", 0)
    contraction._matmul_plan.cache_clear()
    windowed._plan.cache_clear()
    taken = []
    real = windowed._run

    def spy(p, w, u):
        out = real(p, w, u)
        taken.append(out is not None)
        return out
    monkeypatch.setattr(windowed, "_run", spy)
    yield taken
    contraction._matmul_plan.cache_clear()
    windowed._plan.cache_clear()


def _g(*shape, seed, grad=False):
    t = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return t.requires_grad_(grad)


CONV = ("batch", "chans", "height", "width")


@pytest.mark.parametrize("shape,kernel,route", [
    ((3, 4, 9, 11), (2, 3), True), ((2, 2, 6, 8), (3, 3), True), ((1, 1, 6, 5), (2, 5), True),
    ((1, 1, 5, 5), (5, 5), False),   # one output position: no window slides
    ((2, 3, 7, 6), (7, 1), False),   # kh spans the height, kw is 1: nothing overlaps
])
def test_window_route_convolution_values_and_gradients(window_route, shape, kernel, route):
    """conv2d's formula by the window route: F.conv2d's values and gradients."""
    x, w, b = _g(*shape, seed=1, grad=True), _g(5, shape[1], *kernel, seed=2, grad=True), \
        _g(5, seed=3, grad=True)
    with nt.plain():
        y = nt.conv2d(nt.tensor(x, CONV), nt.tensor(w, ("out", "chans", "kh", "kw")),
                      nt.tensor(b, "out"))
    assert window_route == ([True] if route else [])
    ref = F.conv2d(x, w, b)
    assert_close(y, ref, order=("batch", "out", "height", "width"), rtol=1e-12, atol=1e-12)
    u = _g(*ref.shape, seed=4)
    got = torch.autograd.grad((nt.positional(y, ("batch", "out", "height", "width")) * u).sum(),
                              (x, w, b))
    want = torch.autograd.grad((ref * u).sum(), (x, w, b))
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-12)


def test_window_route_second_derivatives(window_route):
    def conv(x, w, b):
        with nt.plain():
            y = nt.conv2d(nt.tensor(x, CONV), nt.tensor(w, ("out", "chans", "kh", "kw")),
                          nt.tensor(b, "out"))
        return nt.positional(y, ("batch", "out", "height", "width"))
    args = (_g(2, 2, 5, 6, seed=1, grad=True), _g(3, 2, 2, 3, seed=2, grad=True),
            _g(3, seed=3, grad=True))
    assert torch.autograd.gradcheck(conv, args)
    assert torch.autograd.gradgradcheck(conv, args)
    assert window_route and all(window_route)


def test_window_route_conv1d_without_batch_and_with_two_batch_axes(window_route):
    x, w, b = _g(4, 20, seed=1), _g(6, 4, 3, seed=2), _g(6, seed=3)
    with nt.plain():
        y = nt.conv1d(nt.tensor(x, ("chans", "seq")), nt.tensor(w, ("out", "chans", "kernel")),
                      nt.tensor(b, "out"))
    assert_close(y, F.conv1d(x[None], w, b)[0], order=("out", "seq"), rtol=1e-12, atol=1e-12)
    x2 = _g(2, 3, 4, 20, seed=4)       # two batch axes, stored one after the other
    with nt.plain():
        y2 = nt.conv1d(nt.tensor(x2, ("group", "batch", "chans", "seq")),
                       nt.tensor(w, ("out", "chans", "kernel")), nt.tensor(b, "out"))
    ref = F.conv1d(x2.reshape(6, 4, 20), w, b).reshape(2, 3, 6, 18)
    assert_close(y2, ref, order=("group", "batch", "out", "seq"), rtol=1e-12, atol=1e-12)
    assert window_route == [True, True]


def test_window_route_declines_and_the_ordinary_route_computes(window_route):
    # integers: the ordinary route (exact)
    xi = torch.randint(-3, 4, (2, 3, 6, 7))
    wi = torch.randint(-3, 4, (4, 3, 2, 2))
    with nt.plain():
        yi = nt.conv2d(nt.tensor(xi, CONV), nt.tensor(wi, ("out", "chans", "kh", "kw")),
                       nt.tensor(torch.zeros(4, dtype=torch.int64), "out"))
    assert torch.equal(nt.positional(yi, ("batch", "out", "height", "width")),
                       F.conv2d(xi.double(), wi.double()).long())
    # height stored outermost: the rows of a window lie far apart, no covering range
    x = _g(9, 2, 3, 11, seed=1)
    w, b = _g(4, 3, 2, 3, seed=2), _g(4, seed=3)
    with nt.plain():
        y = nt.conv2d(nt.tensor(x, ("height", "batch", "chans", "width")),
                      nt.tensor(w, ("out", "chans", "kh", "kw")), nt.tensor(b, "out"))
    assert_close(y, F.conv2d(x.permute(1, 2, 0, 3), w, b),
                 order=("batch", "out", "height", "width"), rtol=1e-12, atol=1e-12)
    assert window_route == []


def test_window_route_gradient_reaches_only_what_the_view_comes_from(window_route):
    """A window tensor made from a detached copy that requires grad: the gradient
    goes to that copy, never to the tensor it was detached from."""
    x = _g(2, 3, 6, 7, seed=1, grad=True)
    xd = x.detach().requires_grad_()
    w, b = _g(4, 3, 2, 2, seed=2), _g(4, seed=3)
    with nt.plain():
        y = nt.conv2d(nt.tensor(xd, CONV), nt.tensor(w, ("out", "chans", "kh", "kw")),
                      nt.tensor(b, "out"))
    nt.backward(nt.sum(y))
    assert x.grad is None and xd.grad is not None
    ref = torch.autograd.grad(F.conv2d(x, w, b).sum(), x)[0]
    torch.testing.assert_close(xd.grad, ref, rtol=1e-12, atol=1e-12)
    assert window_route == [True]


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # torch's vmap fallback
def test_window_route_under_torch_func(window_route):
    """torch.func transforms wrap tensors: the route steps aside, the result is right."""
    w, b = _g(2, 2, 2, 2, seed=2), _g(2, seed=3)

    def f(x):
        with nt.plain():
            y = nt.conv2d(nt.tensor(x, CONV), nt.tensor(w, ("out", "chans", "kh", "kw")),
                          nt.tensor(b, "out"))
        return nt.positional(y, ("batch", "out", "height", "width"))
    x = _g(1, 2, 4, 5, seed=1)
    J = torch.func.jacrev(f)(x)
    want = torch.func.jacrev(lambda x: F.conv2d(x, w, b))(x)
    torch.testing.assert_close(J, want, rtol=1e-12, atol=1e-12)
    assert not any(window_route)


@st.composite
def windows(draw):
    """A tensor over 2-4 axes in a random storage order, unrolled along one or
    two of them, and a second operand over some of its axes and others."""
    axes = draw(st.lists(st.sampled_from(POOL), unique=True, min_size=2, max_size=4))
    sizes = {a: draw(st.integers(1, 6)) for a in axes}
    storage = draw(st.permutations(range(len(axes))))
    along = draw(st.lists(st.sampled_from(axes), unique=True, min_size=1, max_size=2))
    kernels = {a: draw(st.integers(1, sizes[a])) for a in along}
    extra = draw(st.lists(st.sampled_from(("o1", "o2")), unique=True, max_size=2))
    seed = draw(st.integers(0, 10 ** 6))
    return axes, sizes, tuple(storage), kernels, extra, seed


@given(windows())
@SET
def test_window_route_against_einsum_on_the_laid_out_windows(case):
    axes, sizes, storage, kernels, extra, seed = case
    saved = windowed.MIN_ELEMENTS, windowed.MIN_WORK
    windowed.MIN_ELEMENTS = windowed.MIN_WORK = 0
    contraction._matmul_plan.cache_clear()
    windowed._plan.cache_clear()
    try:
        g = torch.Generator().manual_seed(seed)
        X = named(torch.randn([sizes[a] for a in axes], generator=g, dtype=torch.float64),
                  tuple(axes), storage=storage)
        U = X
        for a, k in kernels.items():
            U = nt.unroll(U, k, seq=a, kernel="k" + a)
        shared = [a for a in U.names if a.startswith("k")] + \
            [a for a in axes if a not in kernels][:1]
        wsizes = {**nt.shape(U), **{e: 2 + len(e) for e in extra}}
        waxes = tuple(shared) + tuple(extra)
        W = nt.tensor(torch.randn([wsizes[a] for a in waxes], generator=g,
                                  dtype=torch.float64), waxes)
        got = nt.contract(W, U, over=tuple(shared))
        u = nt.positional(U, U.names).contiguous()
        letters = {a: "abcdefghij"[i] for i, a in enumerate(dict.fromkeys(waxes + U.names))}
        keep = [a for a in dict.fromkeys(waxes + U.names) if a not in shared]
        eq = ("".join(letters[a] for a in waxes) + "," + "".join(letters[a] for a in U.names)
              + "->" + "".join(letters[a] for a in keep))
        want = torch.einsum(eq, nt.positional(W, waxes), u)
        assert_close(got, want, order=tuple(keep), rtol=1e-12, atol=1e-12)
    finally:
        windowed.MIN_ELEMENTS, windowed.MIN_WORK = saved
        contraction._matmul_plan.cache_clear()
        windowed._plan.cache_clear()
