"""ntlib.nn against positional torch: values (float64) and gradients, on both paths.

Every check runs twice: with the fused kernels (the default) and inside
``with nt.plain():`` (the formula-shaped definitions).  Shapes include
untuned sizes (5, 7, 13) and operands whose storage order is permuted, so
that nothing depends on axis order.
"""

import contextlib
import math

import pytest
import torch
import torch.nn.functional as F

import ntlib as nt
from ntlib.testing import assert_close, named

TOL = dict(rtol=1e-10, atol=1e-10)


@pytest.fixture(params=["fused", "plain"])
def path(request):
    return request.param


def run(path, fn, *args, **kw):
    ctx = nt.plain() if path == "plain" else contextlib.nullcontext()
    with ctx:
        return fn(*args, **kw)


def g(*shape, seed=0, grad=False):
    t = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return t.requires_grad_(grad)


# --------------------------------------------------------------------------
# full_conn and feedforward

@pytest.mark.parametrize("n,i,o,perm", [(5, 7, 13, None), (3, 13, 1, (1, 0))])
def test_full_conn(path, n, i, o, perm):
    xd, Wd, bd = g(n, i, seed=1), g(o, i, seed=2), g(o, seed=3)
    x = named(xd, ("batch", "layer"), storage=perm)
    W = named(Wd, ("out", "layer"), storage=perm)
    y = run(path, nt.full_conn, x, nt.tensor(Wd, ("out", "layer")) if perm is None else W,
            nt.tensor(bd, "out"))
    assert_close(y, torch.sigmoid(F.linear(xd, Wd, bd)), order=("batch", "layer"), **TOL)


def test_feedforward(path):
    sizes = [7, 5, 13, 3]
    xd = g(4, 7, seed=0)
    params, ref = [], xd
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        Wd, bd = g(b, a, seed=10 + k), g(b, seed=20 + k)
        params.append((nt.tensor(Wd, ("out", "layer")), nt.tensor(bd, "out")))
        ref = torch.sigmoid(F.linear(ref, Wd, bd))
    y = run(path, nt.feedforward, nt.tensor(xd, ("batch", "layer")), params)
    assert_close(y, ref, order=("batch", "layer"), **TOL)


def test_full_conn_custom_names_and_lifted_weights(path):
    # W with an extra "heads" axis: lifted (the fused path declines, the formula runs)
    xd, Wd, bd = g(2, 5, seed=1), g(3, 4, 5, seed=2), g(4, seed=3)
    x = nt.tensor(xd, ("b", "d"))
    y = run(path, nt.full_conn, x, nt.tensor(Wd, ("heads", "o", "d")), nt.tensor(bd, "o"),
            layer="d", out="o")
    ref = torch.sigmoid(torch.einsum("hod,bd->hbo", Wd, xd) + bd)
    assert_close(y, ref, order=("heads", "b", "d"), **TOL)


def test_full_conn_grad():
    xd, Wd, bd = g(5, 7, seed=1, grad=True), g(3, 7, seed=2, grad=True), g(3, seed=3, grad=True)
    torch.sigmoid(F.linear(xd, Wd, bd)).pow(2).sum().backward()
    want = [t.grad.clone() for t in (xd, Wd, bd)]
    for p in ("fused", "plain"):
        for t in (xd, Wd, bd):
            t.grad = None
        y = run(p, nt.full_conn, nt.tensor(xd, ("batch", "layer")),
                nt.tensor(Wd, ("out", "layer")), nt.tensor(bd, "out"))
        nt.sum(y ** 2, ("batch", "layer")).data.backward()
        for t, w in zip((xd, Wd, bd), want):
            torch.testing.assert_close(t.grad, w, **TOL)


# --------------------------------------------------------------------------
# rnn

def rnn_ref(xd, hd, Whd, Wid, bd):
    """x: (time, batch, input), h: (batch, hidden); a positional loop."""
    hs, h = [], hd
    for t in range(xd.shape[0]):
        h = torch.sigmoid(h @ Whd + xd[t] @ Wid + bd)
        hs.append(h)
    return torch.stack(hs)


@pytest.mark.parametrize("T,B,I,H", [(7, 5, 3, 13), (1, 2, 5, 4)])
def test_rnn(path, T, B, I, H):
    xd, hd, Whd, Wid, bd = g(T, B, I, seed=1), g(B, H, seed=2), g(H, H, seed=3), g(I, H, seed=4), g(H, seed=5)
    x = named(xd, ("time", "batch", "input"), storage=(2, 0, 1))
    y = run(path, nt.rnn, x, nt.tensor(hd, ("batch", "hidden")),
            nt.tensor(Whd, ("hidden", "hidden_out")), nt.tensor(Wid, ("input", "hidden_out")),
            nt.tensor(bd, "hidden_out"))
    assert_close(y, rnn_ref(xd, hd, Whd, Wid, bd), order=("time", "batch", "hidden"), **TOL)


def test_rnn_unbatched_h0(path):
    # h0 without the batch axis is broadcast over it
    xd, hd, Whd, Wid, bd = g(4, 3, 5, seed=1), g(6, seed=2), g(6, 6, seed=3), g(5, 6, seed=4), g(6, seed=5)
    y = run(path, nt.rnn, nt.tensor(xd, ("time", "batch", "input")), nt.tensor(hd, "hidden"),
            nt.tensor(Whd, ("hidden", "hidden_out")), nt.tensor(Wid, ("input", "hidden_out")),
            nt.tensor(bd, "hidden_out"))
    assert_close(y, rnn_ref(xd, hd.expand(3, 6), Whd, Wid, bd),
                 order=("time", "batch", "hidden"), **TOL)


def test_rnn_grad():
    ts = [g(5, 3, 4, seed=1, grad=True), g(3, 6, seed=2, grad=True), g(6, 6, seed=3, grad=True),
          g(4, 6, seed=4, grad=True), g(6, seed=5, grad=True)]
    rnn_ref(*ts).pow(2).sum().backward()
    want = [t.grad.clone() for t in ts]
    for p in ("fused", "plain"):
        for t in ts:
            t.grad = None
        y = run(p, nt.rnn, nt.tensor(ts[0], ("time", "batch", "input")),
                nt.tensor(ts[1], ("batch", "hidden")), nt.tensor(ts[2], ("hidden", "hidden_out")),
                nt.tensor(ts[3], ("input", "hidden_out")), nt.tensor(ts[4], "hidden_out"))
        nt.sum(y ** 2, ("time", "batch", "hidden")).data.backward()
        for t, w in zip(ts, want):
            torch.testing.assert_close(t.grad, w, **TOL)


# --------------------------------------------------------------------------
# attention

def test_attention_single_query(path):
    qd, kd, vd = g(4, seed=1), g(7, 4, seed=2), g(7, 5, seed=3)
    y = run(path, nt.attention, nt.tensor(qd, "key"), nt.tensor(kd, ("seq", "key")),
            nt.tensor(vd, ("seq", "val")))
    ref = F.scaled_dot_product_attention(qd[None, None], kd[None], vd[None])[0, 0]
    assert_close(y, ref, order=("val",), **TOL)


@pytest.mark.parametrize("mask", ["none", "float", "causal"])
@pytest.mark.parametrize("B,H,L,S,E,V", [(2, 3, 5, 7, 13, 4), (1, 2, 13, 13, 5, 7)])
def test_attention_batch_heads(path, mask, B, H, L, S, E, V):
    if mask == "causal" and L != S:
        pytest.skip("causal mask is square")
    qd, kd, vd = g(B, H, L, E, seed=1), g(B, H, S, E, seed=2), g(B, H, S, V, seed=3)
    Q = named(qd, ("batch", "heads", "query", "key"), storage=(3, 2, 0, 1))
    K = named(kd, ("batch", "heads", "seq", "key"), storage=(1, 3, 2, 0))
    Vn = named(vd, ("batch", "heads", "seq", "val"), storage=(3, 0, 2, 1))
    if mask == "none":
        M, md = None, None
    elif mask == "float":
        md = g(L, S, seed=4)
        M = nt.tensor(md.T.contiguous(), ("seq", "query"))
    else:
        M = nt.causal_mask(S)
        md = torch.zeros(L, S, dtype=torch.float64).masked_fill(
            torch.ones(L, S, dtype=torch.bool).triu(1), -math.inf)
    y = run(path, nt.attention, Q, K, Vn, M)
    ref = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=md)
    assert_close(y, ref, order=("batch", "heads", "query", "val"), **TOL)


def test_causal_mask():
    M = nt.causal_mask(4, seq="s", query="q")
    m = nt.positional(M, ("s", "q"))
    for i in range(4):
        for j in range(4):
            assert m[i, j] == (0 if i <= j else -math.inf)


def test_attention_batched_mask(path):
    # a padding mask with a batch axis (no query axis)
    qd, kd, vd = g(3, 5, 4, seed=1), g(3, 7, 4, seed=2), g(3, 7, 2, seed=3)
    md = torch.zeros(3, 7, dtype=torch.float64)
    md[0, 5:] = -math.inf
    md[2, 3:] = -math.inf
    y = run(path, nt.attention, nt.tensor(qd, ("batch", "query", "key")),
            nt.tensor(kd, ("batch", "seq", "key")), nt.tensor(vd, ("batch", "seq", "val")),
            nt.tensor(md, ("batch", "seq")))
    ref = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=md[:, None, :])
    assert_close(y, ref, order=("batch", "query", "val"), **TOL)


def test_attention_grad():
    ts = [g(2, 3, 5, 4, seed=1, grad=True), g(2, 3, 5, 4, seed=2, grad=True),
          g(2, 3, 5, 6, seed=3, grad=True)]
    md = g(5, 5, seed=4)
    F.scaled_dot_product_attention(*ts, attn_mask=md).pow(2).sum().backward()
    want = [t.grad.clone() for t in ts]
    for p in ("fused", "plain"):
        for t in ts:
            t.grad = None
        y = run(p, nt.attention, nt.tensor(ts[0], ("batch", "heads", "query", "key")),
                nt.tensor(ts[1], ("batch", "heads", "seq", "key")),
                nt.tensor(ts[2], ("batch", "heads", "seq", "val")),
                nt.tensor(md, ("query", "seq")))
        nt.sum(y ** 2, ("batch", "heads", "query", "val")).data.backward()
        for t, w in zip(ts, want):
            torch.testing.assert_close(t.grad, w, **TOL)


# --------------------------------------------------------------------------
# unroll, convolution

def test_unroll_is_a_view():
    xd = torch.arange(7.0, dtype=torch.float64).reshape(1, 7).expand(2, 7).contiguous()
    X = nt.tensor(xd, ("batch", "seq"))
    U = nt.unroll(X, 3)
    assert nt.shape(U) == {"batch": 2, "seq": 5, "kernel": 3}
    u = nt.positional(U, ("batch", "seq", "kernel"))
    for i in range(5):
        for j in range(3):
            assert u[0, i, j] == xd[0, i + j]
    assert U.data.data_ptr() == xd.data_ptr() or U.data._base is not None


@pytest.mark.parametrize("B,C,O,n,k", [(2, 3, 5, 13, 3), (1, 1, 7, 5, 5)])
def test_conv1d(path, B, C, O, n, k):
    xd, wd, bd = g(B, C, n, seed=1), g(O, C, k, seed=2), g(O, seed=3)
    X = named(xd, ("batch", "chans", "seq"), storage=(2, 0, 1))
    W = named(wd, ("chans2", "chans", "kernel"), storage=(1, 2, 0))
    y = run(path, nt.conv1d, X, W, nt.tensor(bd, "chans2"))
    assert_close(y, F.conv1d(xd, wd, bd), order=("batch", "chans2", "seq"), **TOL)


@pytest.mark.parametrize("B,C,O,H,Wd,kh,kw", [(2, 3, 4, 7, 13, 3, 2), (1, 5, 1, 5, 5, 1, 5)])
def test_conv2d(path, B, C, O, H, Wd, kh, kw):
    xd, wd, bd = g(B, C, H, Wd, seed=1), g(O, C, kh, kw, seed=2), g(O, seed=3)
    X = named(xd, ("batch", "chans", "height", "width"), storage=(3, 1, 0, 2))
    W = named(wd, ("out", "chans", "kh", "kw"), storage=(2, 0, 3, 1))
    y = run(path, nt.conv2d, X, W, nt.tensor(bd, "out"))
    assert_close(y, F.conv2d(xd, wd, bd), order=("batch", "out", "height", "width"), **TOL)


def test_conv2d_grad():
    ts = [g(2, 3, 7, 5, seed=1, grad=True), g(4, 3, 3, 2, seed=2, grad=True), g(4, seed=3, grad=True)]
    F.conv2d(*ts).pow(2).sum().backward()
    want = [t.grad.clone() for t in ts]
    for p in ("fused", "plain"):
        for t in ts:
            t.grad = None
        y = run(p, nt.conv2d, nt.tensor(ts[0], ("batch", "chans", "height", "width")),
                nt.tensor(ts[1], ("out", "chans", "kh", "kw")), nt.tensor(ts[2], "out"))
        nt.sum(y ** 2, ("batch", "out", "height", "width")).data.backward()
        for t, w in zip(ts, want):
            torch.testing.assert_close(t.grad, w, **TOL)


def test_conv1d_grad():
    ts = [g(2, 3, 13, seed=1, grad=True), g(5, 3, 3, seed=2, grad=True), g(5, seed=3, grad=True)]
    F.conv1d(*ts).pow(2).sum().backward()
    want = [t.grad.clone() for t in ts]
    for p in ("fused", "plain"):
        for t in ts:
            t.grad = None
        y = run(p, nt.conv1d, nt.tensor(ts[0], ("batch", "chans", "seq")),
                nt.tensor(ts[1], ("out", "chans", "kernel")), nt.tensor(ts[2], "out"))
        nt.sum(y ** 2, ("batch", "out", "seq")).data.backward()
        for t, w in zip(ts, want):
            torch.testing.assert_close(t.grad, w, **TOL)


# --------------------------------------------------------------------------
# pooling

def test_pool_layout():
    X = nt.tensor(torch.arange(12.0, dtype=torch.float64), "seq")
    P = nt.pool(X, 3)
    p = nt.positional(P, ("seq", "kernel"))
    for i in range(4):
        for j in range(3):
            assert p[i, j] == 3 * i + j


@pytest.mark.parametrize("B,C,n,k", [(2, 3, 14, 7), (1, 5, 13, 13), (3, 1, 10, 5)])
def test_max_pool1d(path, B, C, n, k):
    xd = g(B, C, n, seed=1)
    y = run(path, nt.max_pool1d, named(xd, ("batch", "chans", "seq"), storage=(2, 1, 0)), k)
    assert_close(y, F.max_pool1d(xd, k), order=("batch", "chans", "seq"), **TOL)


@pytest.mark.parametrize("B,C,H,W,kh,kw", [(2, 3, 10, 14, 5, 7), (1, 2, 13, 4, 13, 2)])
def test_max_pool2d(path, B, C, H, W, kh, kw):
    xd = g(B, C, H, W, seed=1)
    X = named(xd, ("batch", "chans", "height", "width"), storage=(3, 0, 2, 1))
    y = run(path, nt.max_pool2d, X, kh, kw)
    assert_close(y, F.max_pool2d(xd, (kh, kw)), order=("batch", "chans", "height", "width"), **TOL)


def test_max_pool2d_grad():
    xd = g(2, 3, 10, 14, seed=1, grad=True)
    F.max_pool2d(xd, (5, 7)).pow(2).sum().backward()
    want = xd.grad.clone()
    for p in ("fused", "plain"):
        xd.grad = None
        y = run(p, nt.max_pool2d, nt.tensor(xd, ("batch", "chans", "height", "width")), 5, 7)
        nt.sum(y ** 2, ("batch", "chans", "height", "width")).data.backward()
        torch.testing.assert_close(xd.grad, want, **TOL)


# --------------------------------------------------------------------------
# normalization

EPS = 1e-3
NORM_SHAPES = [(5, 6, 7), (13, 4, 3)]


def norm_inputs(B, C, L):
    xd = g(B, C, L, seed=1) * 3 + 1
    X = named(xd, ("batch", "chans", "layer"), storage=(2, 0, 1))
    return xd, X


@pytest.mark.parametrize("B,C,L", NORM_SHAPES)
def test_batch_norm(path, B, C, L):
    xd, X = norm_inputs(B, C, L)
    gd, bd = g(C, seed=2), g(C, seed=3)
    y = run(path, nt.batch_norm, X, nt.tensor(gd, "chans"), nt.tensor(bd, "chans"), eps=EPS)
    ref = F.batch_norm(xd, None, None, gd, bd, training=True, eps=EPS)
    assert_close(y, ref, order=("batch", "chans", "layer"), **TOL)


@pytest.mark.parametrize("B,C,L", NORM_SHAPES)
def test_instance_norm(path, B, C, L):
    xd, X = norm_inputs(B, C, L)
    gd, bd = g(C, seed=2), g(C, seed=3)
    y = run(path, nt.instance_norm, X, nt.tensor(gd, "chans"), nt.tensor(bd, "chans"), eps=EPS)
    ref = F.instance_norm(xd, weight=gd, bias=bd, eps=EPS)
    assert_close(y, ref, order=("batch", "chans", "layer"), **TOL)


@pytest.mark.parametrize("B,C,L", NORM_SHAPES)
def test_layer_norm(path, B, C, L):
    xd, X = norm_inputs(B, C, L)
    gd, bd = g(C, L, seed=2), g(C, L, seed=3)
    y = run(path, nt.layer_norm, X, named(gd, ("chans", "layer"), storage=(1, 0)),
            nt.tensor(bd, ("chans", "layer")), eps=EPS)
    ref = F.layer_norm(xd, (C, L), gd, bd, eps=EPS)
    assert_close(y, ref, order=("batch", "chans", "layer"), **TOL)


def test_layer_norm_layer_only(path):
    xd = g(3, 5, 13, seed=1)
    gd, bd = g(13, seed=2), g(13, seed=3)
    y = run(path, nt.layer_norm, nt.tensor(xd, ("batch", "seq", "layer")),
            nt.tensor(gd, "layer"), nt.tensor(bd, "layer"), chans=None, eps=EPS)
    assert_close(y, F.layer_norm(xd, (13,), gd, bd, eps=EPS), order=("batch", "seq", "layer"),
                 **TOL)


@pytest.mark.parametrize("B,C,L,k", [(5, 6, 7, 2), (3, 12, 5, 3), (2, 13, 3, 13)])
def test_group_norm(path, B, C, L, k):
    xd, X = norm_inputs(B, C, L)
    gd, bd = g(C, seed=2), g(C, seed=3)
    y = run(path, nt.group_norm, X, nt.tensor(gd, "chans"), nt.tensor(bd, "chans"), k, eps=EPS)
    ref = F.group_norm(xd, C // k, gd, bd, eps=EPS)
    assert_close(y, ref, order=("batch", "chans", "layer"), **TOL)


def test_standardize():
    xd = g(5, 7, seed=1)
    y = nt.standardize(nt.tensor(xd, ("a", "b")), "b", eps=0.0)
    ref = (xd - xd.mean(1, keepdim=True)) / xd.var(1, unbiased=False, keepdim=True).sqrt()
    assert_close(y, ref, order=("a", "b"), **TOL)


NORMS = {
    "batch": (lambda x, gd, bd: F.batch_norm(x, None, None, gd, bd, training=True, eps=EPS),
              lambda X, G, B: nt.batch_norm(X, G, B, eps=EPS), "chans"),
    "instance": (lambda x, gd, bd: F.instance_norm(x, weight=gd, bias=bd, eps=EPS),
                 lambda X, G, B: nt.instance_norm(X, G, B, eps=EPS), "chans"),
    "layer": (lambda x, gd, bd: F.layer_norm(x, x.shape[1:], gd, bd, eps=EPS),
              lambda X, G, B: nt.layer_norm(X, G, B, eps=EPS), ("chans", "layer")),
    "group": (lambda x, gd, bd: F.group_norm(x, 2, gd, bd, eps=EPS),
              lambda X, G, B: nt.group_norm(X, G, B, 3, eps=EPS), "chans"),
}


@pytest.mark.parametrize("kind", list(NORMS))
def test_norm_grad(kind):
    ref, fn, paxes = NORMS[kind]
    pshape = (6,) if paxes == "chans" else (6, 5)
    ts = [g(4, 6, 5, seed=1, grad=True), g(*pshape, seed=2, grad=True), g(*pshape, seed=3, grad=True)]
    w = g(4, 6, 5, seed=4)
    (ref(*ts) * w).pow(2).sum().backward()
    want = [t.grad.clone() for t in ts]
    for p in ("fused", "plain"):
        for t in ts:
            t.grad = None
        y = run(p, fn, nt.tensor(ts[0], ("batch", "chans", "layer")),
                nt.tensor(ts[1], paxes), nt.tensor(ts[2], paxes))
        W = nt.tensor(w, ("batch", "chans", "layer"))
        nt.sum((y * W) ** 2, ("batch", "chans", "layer")).data.backward()
        for t, wt in zip(ts, want):
            torch.testing.assert_close(t.grad, wt, rtol=1e-8, atol=1e-8)


# --------------------------------------------------------------------------
# bad input

def test_dispatch_pairing():
    assert nt.attention.plain is not nt.attention.fused
    assert "softmax" in nt.source(nt.attention).text
    assert nt.fused_enabled()
    with nt.plain():
        assert not nt.fused_enabled()


@pytest.mark.parametrize("case,axis", [
    ("full_conn_wrong_axis", "layer"),
    ("full_conn_size", "layer"),
    ("attention_missing_key", "key"),
    ("attention_size", "key"),
    ("attention_seq_in_Q", "seq"),
    ("conv2d_size", "chans"),
    ("conv1d_long_kernel", "kernel"),
    ("pool_divisible", "seq"),
    ("max_pool2d_divisible", "width"),
    ("group_norm_divisible", "chans"),
    ("rnn_hidden_size", "hidden_out"),
    ("layer_norm_missing", "chans"),
])
def test_errors(path, case, axis):
    r = lambda **s: nt.randn(seed=0, **s)  # noqa: E731
    cases = {
        "full_conn_wrong_axis": lambda: nt.full_conn(r(batch=2, inp=3), r(out=2, layer=3), r(out=2)),
        "full_conn_size": lambda: nt.full_conn(r(batch=2, layer=3), r(out=2, layer=4), r(out=2)),
        "attention_missing_key": lambda: nt.attention(r(query=2, dk=3), r(seq=4, key=3), r(seq=4, val=2)),
        "attention_size": lambda: nt.attention(r(query=2, key=3), r(seq=4, key=5), r(seq=4, val=2)),
        "attention_seq_in_Q": lambda: nt.attention(r(seq=2, key=3), r(seq=2, key=3), r(seq=2, val=2)),
        "conv2d_size": lambda: nt.conv2d(r(chans=3, height=5, width=5),
                                         r(out=2, chans=4, kh=2, kw=2), r(out=2)),
        "conv1d_long_kernel": lambda: nt.conv1d(r(chans=3, seq=4), r(out=2, chans=3, kernel=5), r(out=2)),
        "pool_divisible": lambda: nt.max_pool1d(r(batch=2, seq=7), 2),
        "max_pool2d_divisible": lambda: nt.max_pool2d(r(height=4, width=5), 2, 2),
        "group_norm_divisible": lambda: nt.group_norm(r(batch=2, chans=5, layer=3), r(chans=5), r(chans=5), 2),
        "rnn_hidden_size": lambda: nt.rnn(r(time=2, input=3), r(hidden=4), r(hidden=4, hidden_out=5),
                                          r(input=3, hidden_out=5), r(hidden_out=5)),
        "layer_norm_missing": lambda: nt.layer_norm(r(batch=2, layer=3), r(layer=3), r(layer=3)),
    }
    with pytest.raises(nt.AxisError, match=repr(axis)):
        run(path, cases[case])


@pytest.mark.parametrize("block,kernel", [("full_conn", "linear"),
                                          ("attention", "scaled_dot_product_attention"),
                                          ("conv2d", "conv2d"), ("max_pool2d", "max_pool2d"),
                                          ("layer_norm", "layer_norm"), ("group_norm", "group_norm")])
def test_fused_kernel_is_called(monkeypatch, block, kernel):
    """By default the block calls torch's fused kernel; inside nt.plain() it does not."""
    calls = []
    real = getattr(F, kernel)
    monkeypatch.setattr(F, kernel, lambda *a, **k: calls.append(1) or real(*a, **k))
    r = lambda **s: nt.randn(seed=0, **s)  # noqa: E731
    args = {
        "full_conn": lambda: nt.full_conn(r(batch=2, layer=3), r(out=2, layer=3), r(out=2)),
        "attention": lambda: nt.attention(r(query=2, key=3), r(seq=4, key=3), r(seq=4, val=2)),
        "conv2d": lambda: nt.conv2d(r(chans=3, height=5, width=5), r(out=2, chans=3, kh=2, kw=2),
                                    r(out=2)),
        "max_pool2d": lambda: nt.max_pool2d(r(height=4, width=6), 2, 3),
        "layer_norm": lambda: nt.layer_norm(r(batch=2, chans=2, layer=3), r(chans=2, layer=3),
                                            r(layer=3)),
        "group_norm": lambda: nt.group_norm(r(batch=2, chans=4, layer=3), r(chans=4), r(chans=4), 2),
    }[block]
    args()
    assert calls == [1]
    with nt.plain():      # every formula at every depth: no kernel
        args()
    assert calls == [1]
    with nt.plain(nested=False):   # the block's formula; standardize as by default
        args()
    assert calls == ([1, 1] if block == "layer_norm" else [1])


def test_standardize_fused_and_formula_agree_with_positional_torch():
    """standardize by F.layer_norm (the default) and by its formula: the
    positional computation's values and gradients, over axes stored in any order."""
    xd = (g(3, 4, 5, 6, seed=7) * 3 + 1).requires_grad_()
    X = named(xd, ("a", "b", "c", "d"), storage=(2, 0, 3, 1))
    xp = nt.positional(X, ("a", "b", "c", "d"))
    u = g(3, 4, 5, 6, seed=8)
    for over in (("d", "b"), "c"):
        dims = [("a", "b", "c", "d").index(a) for a in over]
        mu = xp.mean(dims, keepdim=True)
        ref = (xp - mu) / (((xp - mu) ** 2).mean(dims, keepdim=True) + 0.3).sqrt()
        want = torch.autograd.grad((ref * u).sum(), xd)[0]
        for ctx in (contextlib.nullcontext(), nt.plain()):
            with ctx:
                y = nt.standardize(X, over, eps=0.3)
            assert_close(y, ref, order=("a", "b", "c", "d"), **TOL)
            got = torch.autograd.grad((nt.positional(y, ("a", "b", "c", "d")) * u).sum(), xd)[0]
            torch.testing.assert_close(got, want, **TOL)


def test_layer_norm_plain_multiplies_by_gamma_itself(monkeypatch):
    """Inside nt.plain(nested=False) layer_norm runs its formula: the only kernel
    call is standardize's (no γ, no β), the ⊙ γ + β is the formula's; inside
    nt.plain() no kernel runs."""
    seen = []
    real = F.layer_norm
    monkeypatch.setattr(F, "layer_norm", lambda x, s, w=None, b=None, eps=1e-5:
                        seen.append((w is None, b is None)) or real(x, s, w, b, eps))
    X, G, B = nt.randn(seed=0, batch=2, layer=5), nt.randn(seed=1, layer=5), nt.randn(seed=2, layer=5)
    nt.layer_norm(X, G, B, chans=None)
    with nt.plain(nested=False):
        y = nt.layer_norm(X, G, B, chans=None)
    assert seen == [(False, False), (True, True)]
    with nt.plain():
        z = nt.layer_norm(X, G, B, chans=None)
    assert seen == [(False, False), (True, True)]
    assert_close(z, y, **TOL)
    ref = F.layer_norm(nt.positional(X, ("batch", "layer")), (5,), nt.positional(G, ("layer",)),
                       nt.positional(B, ("layer",)))
    assert_close(y, ref, order=("batch", "layer"), **TOL)


def _count(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize("mode,sdpa,softmax", [
    ("default", 1, 0),           # the fused kernel, no softmax of its own
    ("plain", 0, 0),             # every block at every depth
    ("one level", 0, 1),         # attention's formula; its softmax as by default
    ("attention", 0, 1),         # nt.plain(nt.attention): the same
    ("attention+softmax", 0, 0),  # both formulas: the softmax as exp / sum
    ("nested", 0, 0),            # nested=True: the same as nt.plain()
    ("softmax", 1, 0),           # only softmax named: attention fused
])
def test_plain_modes_run_what_they_say(monkeypatch, mode, sdpa, softmax):
    """nt.plain() runs every formula at every depth; nested=False the formula of
    the blocks called directly and the blocks that formula calls as by default;
    named blocks wherever they are called."""
    qd, kd, vd = g(2, 3, 4, seed=1), g(5, 4, seed=2), g(5, 6, seed=3)
    Q, K = nt.tensor(qd, ("batch", "query", "key")), nt.tensor(kd, ("seq", "key"))
    V = nt.tensor(vd, ("seq", "val"))
    ctx = {"default": contextlib.nullcontext(), "plain": nt.plain(),
           "one level": nt.plain(nested=False),
           "attention": nt.plain(nt.attention),
           "attention+softmax": nt.plain(nt.attention, nt.softmax),
           "nested": nt.plain(nested=True), "softmax": nt.plain(nt.softmax)}[mode]
    c_sdpa = _count(monkeypatch, F, "scaled_dot_product_attention")
    c_soft = _count(monkeypatch, torch, "softmax")
    with ctx:
        y = nt.attention(Q, K, V)
        assert nt.fused_enabled() is (mode == "default")
    assert (len(c_sdpa), len(c_soft)) == (sdpa, softmax)
    ref = torch.softmax(qd @ kd.T / 2.0, -1) @ vd
    assert_close(y, ref, order=("batch", "query", "val"), **TOL)
    assert nt.fused_enabled()


def test_plain_softmax_called_directly_runs_its_formula(monkeypatch):
    c_soft = _count(monkeypatch, torch, "softmax")
    x = nt.randn(seed=0, a=3, b=4)
    with nt.plain():
        y = nt.softmax(x, "a")
    assert c_soft == []
    assert_close(y, torch.softmax(nt.positional(x, ("a", "b")), 0), order=("a", "b"), **TOL)


def test_plain_mode_restored_after_an_error_in_a_formula():
    from ntlib._internal import plain_mode

    def boom(x):
        """A formula that fails."""
        raise RuntimeError("inside the formula")
    block = nt.fused_by(lambda x: x)(boom)
    assert block(1) == 1                       # the fused half
    with nt.plain(nested=False):
        with pytest.raises(RuntimeError, match="inside the formula"):
            block(1)                           # outer_formula sets, then restores
        assert plain_mode() is not False and not nt.fused_enabled()
    with nt.plain():
        with pytest.raises(RuntimeError, match="inside the formula"):
            block(1)
        assert plain_mode() is True
    assert nt.fused_enabled() and plain_mode() is False


def test_plain_refuses_what_is_not_a_block():
    with pytest.raises(TypeError, match="contract"):
        nt.plain(nt.contract)
    for nested in (True, False):
        with pytest.raises(TypeError):
            nt.plain(nt.attention, nested=nested)


def test_block_signatures():
    x, W, b = nt.randn(seed=0, batch=2, layer=3), nt.randn(seed=1, out=2, layer=3), nt.randn(seed=2, out=2)
    with pytest.raises(TypeError):
        nt.full_conn(x, W)                      # missing b
    with pytest.raises(TypeError):
        nt.full_conn(x, W, b, "layer")          # axis names are keyword-only
    with pytest.raises(TypeError):
        nt.full_conn(x, W, b, lyr="layer")      # unknown keyword
    with pytest.raises(TypeError):
        nt.full_conn(x, W, b, x=x)              # given twice
    same = nt.full_conn(W=W, b=b, x=x)
    assert_close(same, nt.full_conn(x, W, b))


def test_attention_shared_keys_and_extra_axes(path):
    """K, V shared across the batch (no batch axis); a mask with a heads axis only."""
    qd, kd, vd = g(3, 2, 5, 4, seed=1), g(2, 7, 4, seed=2), g(7, 6, seed=3)
    md = g(2, 7, seed=4)
    y = run(path, nt.attention, nt.tensor(qd, ("batch", "heads", "query", "key")),
            nt.tensor(kd, ("heads", "seq", "key")), nt.tensor(vd, ("seq", "val")),
            nt.tensor(md, ("heads", "seq")))
    ref = F.scaled_dot_product_attention(qd, kd.expand(3, 2, 7, 4), vd.expand(3, 2, 7, 6),
                                         attn_mask=md[None, :, None, :])
    assert_close(y, ref, order=("batch", "heads", "query", "val"), **TOL)
