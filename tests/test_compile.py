"""torch.compile end to end (issue 25), and the modes per thread and per task (issue 28).

Every block and both models compile with fullgraph=True from a fresh compile
cache (no eager warm-up of the compiled function), on the default path and
under nt.plain(); the compiled values equal eager; a second and third call at
the same shapes compile nothing; dynamic=True covers batch and sequence
lengths.  Graph and recompile counts come from a CompileCounter backend
(which runs the captured graph eagerly); the backward graphs go through
aot_eager, and one loss through inductor.  Timings are in
benchmarks/bench_compile.py, not here.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch

import ntlib as nt
from ntlib._internal import bounded_cache, plain_mode, strict_mode
from ntlib._internal.cache import every_cache

dynamo = pytest.importorskip("torch._dynamo")
if not hasattr(torch.compiler, "is_dynamo_compiling"):
    pytest.skip("torch.compile of ntlib needs torch 2.3 or later", allow_module_level=True)
from torch._dynamo.testing import CompileCounter  # noqa: E402

F32 = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(autouse=True)
def fresh():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def compiled(fn, **kw):
    """fn compiled with fullgraph=True through a counting backend, and the counter."""
    cc = CompileCounter()
    return torch.compile(fn, fullgraph=True, backend=cc, **kw), cc


def _transformer(batch=3, seq=5, seed=1):
    params = nt.models.init_transformer(vocab=23, layers=2, heads=2, layer=8, hidden=12,
                                        seed=0, dtype=torch.float32)
    return params, nt.randint(0, 23, seed=seed, batch=batch, seq=seq)


def _lenet(batch=3):
    params = nt.models.init_lenet(chans=(1, 3, 4), height=28, width=28, hidden=7,
                                  classes=5, seed=0, dtype=torch.float32)
    X = nt.randn(seed=2, dtype=torch.float32, batch=batch, chans=1, height=28, width=28)
    return params, X, nt.randint(0, 5, seed=3, batch=batch)


def _model(which):
    """(loss function of the parameters' dict, its arguments, parameter leaves)."""
    if which == "transformer":
        params, I = _transformer()

        def loss(I, params):
            return nt.models.cross_entropy(nt.models.transformer_logits(I, params), I).data
        return loss, (I, params), params
    params, X, y = _lenet()

    def loss(X, y, params):
        return nt.models.cross_entropy(nt.models.lenet_logits(X, params), y,
                                       vocab="classes").data
    return loss, (X, y, params), params


def _in_mode(fn, path):
    if path == "fused":
        return fn

    def run(*args):
        with nt.plain():
            return fn(*args)
    return run


# --------------------------------------------------------------------------
# the models: one graph, no recompiles, values and gradients as eager

@pytest.mark.parametrize("path", ["fused", "plain"])
@pytest.mark.parametrize("which", ["transformer", "lenet"])
def test_model_loss_compiles_to_one_graph(which, path):
    loss, args, params = _model(which)
    fn = _in_mode(loss, path)
    g, cc = compiled(fn)
    for _ in range(3):
        got = g(*args)
    assert cc.frame_count == 1          # fullgraph: one graph, and no recompile
    torch.testing.assert_close(got, fn(*args), **F32)


@pytest.mark.parametrize("which, path", [("transformer", "plain"), ("lenet", "fused")])
def test_model_loss_backward_through_aot_autograd(which, path):
    loss, args, params = _model(which)
    fn = _in_mode(loss, path)
    leaves = nt.models.parameters(params)
    fn(*args).backward()
    want = [p.grad.clone() for p in leaves]
    for p in leaves:
        p.grad = None
    g = torch.compile(fn, fullgraph=True, backend="aot_eager")
    g(*args).backward()
    for p, w in zip(leaves, want):
        torch.testing.assert_close(p.grad, w, rtol=1e-4, atol=1e-6)


def test_transformer_logits_dynamic_over_batch_and_sequence():
    params, _ = _transformer()

    def logits(I, params):
        return nt.positional(nt.models.transformer_logits(I, params), ("batch", "seq", "vocab"))
    g, cc = compiled(logits, dynamic=True)
    for batch, seq in [(3, 5), (4, 6), (2, 7), (5, 3)]:
        I = nt.randint(0, 23, seed=batch + seq, batch=batch, seq=seq)
        got = g(I, params)
        assert got.shape == (batch, seq, 23)
        torch.testing.assert_close(got, logits(I, params), **F32)
    assert cc.frame_count == 1


def test_no_recompile_when_ntlib_caches_change():
    """Filling (and evicting from) ntlib's memos between calls leaves the graph valid:
    the compiled code guards on no cache's contents."""
    loss, args, _ = _model("transformer")
    g, cc = compiled(loss)
    g(*args)
    for n in range(2, 40):   # new signatures in every memo ntlib keeps
        x = nt.randn(seed=n, a=n, b=3)
        nt.contract(x, nt.randn(seed=0, b=3, c=2), over="b") + x.sum("a")
    for c in every_cache():
        c.cache_clear()
    g(*args)
    assert cc.frame_count == 1


# --------------------------------------------------------------------------
# the blocks, on both paths

def _blocks():
    r = nt.randn
    Q, K, V = r(seed=1, batch=2, query=5, key=4), r(seed=2, batch=2, seq=5, key=4), \
        r(seed=3, batch=2, seq=5, val=6)
    M = nt.causal_mask(5, dtype=torch.float32)
    X = r(seed=4, batch=2, seq=5, layer=6)
    gamma, beta = r(seed=5, layer=6) + 2, r(seed=6, layer=6)
    W1, b1 = r(seed=7, hidden=7, layer=6), r(seed=8, hidden=7)
    W2, b2 = r(seed=9, layer=6, hidden=7), r(seed=10, layer=6)
    Wf, bf = r(seed=14, out=3, layer=6), r(seed=15, out=3)
    img = r(seed=11, batch=2, chans=3, height=8, width=6)
    Wc, bc = r(seed=12, out=2, chans=3, kh=3, kw=2), r(seed=13, out=2)
    return {
        "attention": lambda: nt.attention(Q, K, V),
        "attention_masked": lambda: nt.attention(Q, K, V, M),
        "layer_norm": lambda: nt.layer_norm(X, gamma, beta, chans=None),
        "ffn": lambda: nt.models.ffn(X, W1, b1, W2, b2),
        "full_conn": lambda: nt.full_conn(X, Wf, bf),
        "softmax": lambda: nt.softmax(X, "seq"),
        "var_std": lambda: nt.var(X, "layer") + nt.std(X, ("seq", "layer")),
        "contract": lambda: nt.contract(X, W1, W2, over=("layer", "hidden")),
        "conv2d": lambda: nt.conv2d(img, Wc, bc),
        "max_pool2d": lambda: nt.max_pool2d(img, 2, 2),
        "index": lambda: X(seq=nt.tensor([4, 0, -1], "pick")),
    }


@pytest.mark.parametrize("path", ["fused", "plain"])
@pytest.mark.parametrize("block", list(_blocks()))
def test_block_compiles_to_one_graph(block, path):
    fn = _in_mode(_blocks()[block], path)

    def data():
        return nt.positional(fn(), sorted(nt.names(fn())))
    want = data()
    g, cc = compiled(data)
    got = g()
    g()
    assert cc.frame_count == 1
    torch.testing.assert_close(got, want, **F32)


def test_var_loss_backward_through_inductor():
    """The formula of var (a mean of squared deviations), compiled by inductor,
    then backward: gradients as eager (and as positional torch)."""
    x = nt.randn(seed=0, dtype=torch.float32, a=3, b=5)
    x.data.requires_grad_(True)

    def loss(x):
        with nt.plain():
            return (nt.var(x, "b") * nt.tensor(torch.arange(1., 4.), "a")).data.sum()
    g = torch.compile(loss, fullgraph=True)
    g(x).backward()
    got = x.data.grad.clone()
    x.data.grad = None
    d = x.data.detach().clone().requires_grad_(True)
    (d.var(1, unbiased=False) * torch.arange(1., 4.)).sum().backward()
    torch.testing.assert_close(got, d.grad, **F32)


# --------------------------------------------------------------------------
# value checks: in the graph when compiled, never skipped eagerly

def test_token_ids_out_of_range_refused_eagerly_and_compiled():
    params, I = _transformer()
    bad = nt.tensor(torch.tensor([[0, 1, 23]]), ("batch", "seq"))

    def logits(I):
        return nt.models.transformer_logits(I, params).data
    with pytest.raises(nt.AxisError, match=r"\[-23, 23\)"):
        logits(bad)
    g, _ = compiled(logits)
    g(I)                                   # fine ids pass
    with pytest.raises(RuntimeError, match=r"must lie in \[-23, 23\)"):
        g(bad)


def test_index_out_of_range_refused_eagerly_and_compiled():
    x = nt.randn(seed=0, a=4, b=2)

    def pick(i):
        return x(a=i).data
    with pytest.raises(nt.AxisError, match="must lie in"):
        pick(nt.tensor([0, 4], "c"))
    g, _ = compiled(pick)
    torch.testing.assert_close(g(nt.tensor([3, -4], "c")), pick(nt.tensor([3, -4], "c")))
    with pytest.raises(RuntimeError, match="must lie in"):
        g(nt.tensor([0, 4], "c"))


# --------------------------------------------------------------------------
# the modes: per thread, per task, and while traced

def _toy_block():
    """A block whose two halves give different values, to see which one ran."""
    def fused(x):
        return nt.tensor(x.data + 2, nt.names(x))

    @nt.fused_by(fused)
    def toy(x):
        """Formula."""
        return x + 1
    return toy


def test_modes_inside_a_compiled_function():
    toy = _toy_block()
    x = nt.tensor([0., 0.], "a")

    def both(x):
        with nt.plain():
            p = toy(x).data
        with nt.plain(toy):
            q = toy(x).data
        return torch.stack([p, q, toy(x).data])
    g, cc = compiled(both)
    torch.testing.assert_close(g(x), torch.tensor([[1., 1], [1, 1], [2, 2]], dtype=x.data.dtype))
    assert cc.frame_count == 1 and plain_mode() is False


def test_strict_fused_inside_a_compiled_function():
    @nt.fused_by(lambda x: NotImplemented)
    def declines(x):
        """Formula."""
        return x + 1
    x = nt.tensor([0., 0.], "a")

    def strict(x):
        with nt.strict_fused():
            return declines(x).data
    g, _ = compiled(strict)
    with pytest.raises(Exception, match="declined"):
        g(x)
    torch.testing.assert_close(torch.compile(lambda x: declines(x).data, fullgraph=True,
                                             backend="eager")(x), torch.ones_like(x.data))


def test_mode_entered_outside_is_read_when_traced():
    toy = _toy_block()
    x = nt.tensor([0., 0.], "a")
    g, _ = compiled(lambda x: toy(x).data)
    with nt.plain():
        torch.testing.assert_close(g(x), torch.ones_like(x.data))


def _seen_in_thread(enter, read):
    """What read() gives in a second thread while the first is inside enter()."""
    inside, done, seen = threading.Event(), threading.Event(), []

    def holder():
        with enter():
            inside.set()
            done.wait(10)

    def reader():
        inside.wait(10)
        seen.append(read())
        done.set()
    threads = [threading.Thread(target=holder), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return seen[0]


def test_modes_are_per_thread():
    toy = _toy_block()
    x = nt.tensor(0., ())
    assert _seen_in_thread(nt.plain, lambda: (nt.fused_enabled(), float(toy(x)))) == (True, 2.)
    assert _seen_in_thread(nt.strict_fused, strict_mode) is False
    assert _seen_in_thread(lambda: nt.on_device("meta"), lambda: nt.device().type) != "meta"
    with nt.plain():           # and the thread that entered it is in the mode
        assert float(toy(x)) == 1. and not nt.fused_enabled()


def test_modes_are_per_asyncio_task():
    toy = _toy_block()
    x = nt.tensor(0., ())

    async def in_plain(entered, release):
        with nt.plain(), nt.on_device("meta"):
            entered.set()
            await release.wait()
            return float(toy(x)), nt.device().type

    async def outside(entered, release):
        await entered.wait()
        seen = (nt.fused_enabled(), float(toy(x)), nt.device().type)
        release.set()
        return seen

    async def main():
        entered, release = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(in_plain(entered, release), outside(entered, release))
    (inner, inner_device), seen = asyncio.run(main())
    assert inner == 1. and inner_device == "meta"
    assert seen == (True, 2., nt.device().type) and seen[2] != "meta"


# --------------------------------------------------------------------------
# the one bounded cache

def test_bounded_cache_holds_its_bound():
    calls = []

    @bounded_cache(maxsize=8)
    def square(n):
        calls.append(n)
        return n * n
    for n in range(100):
        assert square(n) == n * n
    assert square.cache_info().currsize == 8 and len(calls) == 100
    square(99)
    assert len(calls) == 100            # the most recent are kept
    square(0)
    assert len(calls) == 101            # the oldest went


def test_every_ntlib_cache_is_bounded():
    caches = every_cache()
    assert len(caches) >= 10
    for c in caches:
        assert c.cache_info().maxsize is not None and c.cache_info().maxsize <= 4096
    # the arange tensors of indexing too: many sizes, a bounded number kept
    arange = next(c for c in caches if c.__wrapped__.__name__ == "_arange")
    for n in range(1, 300):   # the index shares axis b: the positions of b are an arange
        nt.randn(seed=0, a=2, b=n)(a=nt.tensor([0] * n, "b"))
    info = arange.cache_info()
    assert info.misses >= 299 - 256 and info.currsize == info.maxsize == 256
    assert all(c.cache_info().currsize <= c.cache_info().maxsize for c in caches)
