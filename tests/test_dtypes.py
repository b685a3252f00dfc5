"""One dtype rule (torch's promotion) everywhere, and fused kernels that really run.

- binary operations, contract, reductions and every block give the dtype
  ``torch.result_type`` gives, on the fused and the plain path alike, for
  mixed float32/float64, integer and boolean operands;
- comparisons and argmax_index results can be counted and averaged;
- under ``nt.strict_fused()`` every block runs its fused kernel on the inputs
  that kernel is meant for (a kernel that always declined would raise here).
"""

import contextlib

import pytest
import torch

import ntlib as nt

F32, F64, I64, BOOL = torch.float32, torch.float64, torch.int64, torch.bool


def dt(x):
    return x.data.dtype


def rnd(dtype, seed, **sizes):
    if dtype == BOOL:
        return nt.randn(seed=seed, **sizes) > 0
    if dtype.is_floating_point:
        return nt.randn(seed=seed, dtype=dtype, **sizes)
    return nt.randint(-3, 4, seed=seed, dtype=dtype, **sizes)


PAIRS = [(F32, F64), (F64, F32), (I64, F32), (F32, I64), (I64, I64), (BOOL, I64),
         (BOOL, F64), (BOOL, BOOL), (torch.int32, I64)]


@pytest.mark.parametrize("a,b", PAIRS)
def test_binary_and_contract_promote_like_torch(a, b):
    x, y = rnd(a, 1, i=3, j=4), rnd(b, 2, j=4, k=5)
    xd, yd = nt.positional(x, ("i", "j")), nt.positional(y, ("j", "k"))
    want = torch.result_type(xd, yd)
    if a != BOOL or b != BOOL:
        s = x * y
        assert dt(s) == want
        torch.testing.assert_close(nt.positional(s, ("i", "j", "k")), xd[:, :, None] * yd[None])
    c = nt.contract(x, y, over="j")
    want_c = I64 if want == BOOL else want
    assert dt(c) == want_c
    ref = torch.einsum("ij,jk->ik", xd.to(want_c), yd.to(want_c))
    torch.testing.assert_close(nt.positional(c, ("i", "k")), ref)


def test_contract_of_booleans_counts():
    x = nt.tensor([[True, False, True], [True, True, True]], ("i", "j"))
    y = nt.tensor([True, True, False], "j")
    c = nt.contract(x, y, over="j")
    assert dt(c) == I64 and nt.positional(c, ("i",)).tolist() == [1, 2]


@pytest.mark.parametrize("dtype", [I64, BOOL, F32, F64])
def test_reductions_follow_the_rule(dtype):
    x = rnd(dtype, 3, i=4, j=5)
    d = nt.positional(x, ("i", "j"))
    s = nt.sum(x, "i")
    assert dt(s) == d.sum(0).dtype                      # counts are integers (int64)
    torch.testing.assert_close(nt.positional(s, ("j",)), d.sum(0))
    m = nt.mean(x, "i")
    want = dtype if dtype.is_floating_point else torch.get_default_dtype()
    assert dt(m) == want                                 # means are floats
    torch.testing.assert_close(nt.positional(m, ("j",)), d.to(want).mean(0))
    if dtype != BOOL:
        torch.testing.assert_close(nt.positional(nt.max(x, "j"), ("i",)), d.amax(1))
        torch.testing.assert_close(nt.positional(nt.prod(x, "j"), ("i",)), d.prod(1))
    v = nt.var(x, "i")
    assert dt(v) == want
    torch.testing.assert_close(nt.positional(v, ("j",)), d.to(want).var(0, unbiased=False))
    for f, tf in [(nt.softmax, torch.softmax), (nt.log_softmax, torch.log_softmax)]:
        for ctx in (contextlib.nullcontext(), nt.plain()):
            with ctx:
                r = f(x, "j")
            assert dt(r) == want
            torch.testing.assert_close(nt.positional(r, ("i", "j")), tf(d.to(want), 1))
    torch.testing.assert_close(nt.positional(nt.logsumexp(x, "j"), ("i",)),
                               torch.logsumexp(d.to(want), 1))


def test_counting_comparisons_and_accuracy():
    A = nt.randn(seed=0, height=5, width=3) * 3
    d = nt.positional(A, ("height", "width"))
    torch.testing.assert_close(nt.positional(nt.mean(A > 3, "height"), ("width",)),
                               (d > 3).float().mean(0))
    mask = A > 0
    torch.testing.assert_close(nt.positional(nt.sum(mask, "height") / 3, ("width",)),
                               (d > 0).sum(0) / 3)
    logits = nt.randn(seed=1, batch=50, classes=4)
    target = nt.randint(0, 4, seed=2, batch=50)
    acc = nt.mean(nt.argmax_index(logits, "classes") == target, "batch")
    ref = (nt.positional(logits, ("batch", "classes")).argmax(1)
           == nt.positional(target, ("batch",))).float().mean()
    torch.testing.assert_close(nt.positional(acc, ()), ref)
    assert 0 < float(acc) < 1
    assert dt(nt.argmax_index(logits, "classes")) == I64
    assert dt(nt.sum(mask)) == I64 and int(nt.sum(mask)) == int((d > 0).sum())


# --------------------------------------------------------------------------
# every block: fused and plain agree on every input both accept, mixed dtypes included

def block_cases(d1, d2):
    """(name, block, kwargs): operand X in dtype d1, parameters in dtype d2."""
    r = rnd
    return [
        ("full_conn", nt.full_conn, dict(x=r(d1, 1, batch=3, layer=5),
                                         W=r(d2, 2, out=4, layer=5), b=r(d2, 3, out=4))),
        ("rnn", nt.rnn, dict(x=r(d1, 1, time=4, batch=2, input=3), h0=r(d2, 2, batch=2, hidden=5),
                             Wh=r(d2, 3, hidden=5, hidden_out=5),
                             Wi=r(d2, 4, input=3, hidden_out=5), b=r(d2, 5, hidden_out=5))),
        ("attention", nt.attention, dict(Q=r(d1, 1, batch=2, query=3, key=4),
                                         K=r(d2, 2, batch=2, seq=5, key=4),
                                         V=r(d2, 3, batch=2, seq=5, val=6),
                                         M=nt.astype(r(d2, 4, seq=5, query=3), F64) * 0.5)),
        ("conv1d", nt.conv1d, dict(X=r(d1, 1, batch=2, chans=3, seq=7),
                                   W=r(d2, 2, out=4, chans=3, kernel=3), b=r(d2, 3, out=4))),
        ("conv2d", nt.conv2d, dict(X=r(d1, 1, batch=2, chans=3, height=5, width=6),
                                   W=r(d2, 2, out=4, chans=3, kh=2, kw=3), b=r(d2, 3, out=4))),
        ("max_pool1d", nt.max_pool1d, dict(X=r(d1, 1, batch=2, chans=3, seq=6), k=3)),
        ("max_pool2d", nt.max_pool2d, dict(X=r(d1, 1, batch=2, chans=3, height=4, width=6),
                                           kh=2, kw=3)),
        ("batch_norm", nt.batch_norm, dict(X=r(d1, 1, batch=3, chans=4, layer=5),
                                           gamma=r(d2, 2, chans=4), beta=r(d2, 3, chans=4))),
        ("instance_norm", nt.instance_norm, dict(X=r(d1, 1, batch=3, chans=4, layer=5),
                                                 gamma=r(d2, 2, chans=4),
                                                 beta=r(d2, 3, chans=4))),
        ("layer_norm", nt.layer_norm, dict(X=r(d1, 1, batch=3, chans=4, layer=5),
                                           gamma=r(d2, 2, chans=4, layer=5),
                                           beta=r(d2, 3, chans=4, layer=5))),
        ("group_norm", nt.group_norm, dict(X=r(d1, 1, batch=3, chans=6, layer=5),
                                           gamma=r(d2, 2, chans=6), beta=r(d2, 3, chans=6), k=2)),
        ("softmax", nt.softmax, dict(x=r(d1, 1, batch=3, vocab=5), ax="vocab")),
        ("log_softmax", nt.log_softmax, dict(x=r(d1, 1, batch=3, vocab=5), ax="vocab")),
        ("cross_entropy", nt.models.cross_entropy, dict(logits=r(d1, 1, batch=3, seq=2, vocab=5),
                                                 target=nt.randint(0, 5, seed=9, seq=2,
                                                                   batch=3))),
    ]


BLOCKS = [c[0] for c in block_cases(F64, F64)]
DTYPES = [(F64, F64), (F32, F32), (F32, F64), (F64, F32), (I64, F32), (I64, F64), (I64, I64)]


@pytest.mark.parametrize("d1,d2", DTYPES)
@pytest.mark.parametrize("name", BLOCKS)
def test_fused_and_plain_agree_for_every_dtype(name, d1, d2):
    (_, block, kw), = [c for c in block_cases(d1, d2) if c[0] == name]
    fused = block(**kw)
    with nt.plain():
        plain = block(**kw)
    order = nt.names(plain)
    assert set(nt.names(fused)) == set(order)
    assert dt(fused) == dt(plain), (dt(fused), dt(plain))
    low = (d1, d2) != (F64, F64)     # some operand computed in float32 on one path
    tol = dict(rtol=2e-4, atol=2e-4) if low else dict(rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(nt.positional(fused, order), nt.positional(plain, order),
                               **tol, check_dtype=False)


@pytest.mark.parametrize("name", BLOCKS)
@pytest.mark.parametrize("dtype", [F64, F32])
def test_every_fused_kernel_runs_under_strict_mode(name, dtype):
    """The fused kernel of every block accepts the inputs it is meant for, and is what runs."""
    (_, block, kw), = [c for c in block_cases(dtype, dtype) if c[0] == name]
    with nt.strict_fused():
        out = block(**kw)
    direct = block.fused(**block_kwargs(block, kw))   # the kernel itself, called directly
    assert direct is not NotImplemented
    order = nt.names(out)
    torch.testing.assert_close(nt.positional(out, order), nt.positional(direct, order))


def block_kwargs(block, kw):
    import inspect
    sig = inspect.signature(block.plain)
    bound = sig.bind(**kw)
    bound.apply_defaults()
    return dict(bound.arguments)


def test_strict_mode_catches_a_declining_kernel():
    @nt.fused_by(lambda x: NotImplemented)
    def doubled(x):
        return x * 2

    x = nt.randn(seed=0, i=3)
    assert nt.equal(doubled(x), x * 2)          # by default the formula runs quietly
    with nt.strict_fused(), pytest.raises(RuntimeError, match="doubled.*declined"):
        doubled(x)
    with nt.strict_fused(), nt.plain():
        assert nt.equal(doubled(x), x * 2)      # plain mode never asks the kernel


def test_strict_mode_from_the_environment():
    import subprocess
    import sys
    code = ("import ntlib as nt\n"
            "f = nt.fused_by(lambda x: NotImplemented)(lambda x: x)\n"
            "try:\n    f(nt.randn(seed=0, i=2))\nexcept RuntimeError:\n    print('raised')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "NTLIB_STRICT_FUSED": "1"})
    assert out.stdout.strip() == "raised", out.stderr
