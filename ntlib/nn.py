"""Neural-network building blocks (paper section 4), named.

Every block is written once as its formula (the *plain* definition, which
the book shows) and paired with a *fused* implementation that converts the
named operands to positional tensors with an explicit axis order, calls
torch's fused kernel (``F.linear``, ``F.scaled_dot_product_attention``,
``F.conv2d``, ``F.max_pool2d``, ``F.layer_norm``, ...) and names the result.
The pairing is made by :func:`ntlib.fused_by` (in core); the fused version runs by default,
and ``with ntlib.plain():`` runs the formula.  When the operands carry axes
that the positional kernel cannot express (for example, weights with an
extra axis to lift over), the fused version declines and the formula runs.

Every axis a block consumes or produces is a keyword argument whose default
is the paper's name; all other axes are carried through by lifting.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _checks
from ._funsor_compat import Tensor

from .core import (AxisError, _as_funsor, _data, _fmt, _is_float, _merged_sizes, _not_axis,
                   _require, _wrap, contract, device, flatten, float_dtype, fused_by, index,
                   max, mean, names, rename, shape, sigmoid, softmax, unflatten, var)

__all__ = [
    "full_conn", "feedforward", "rnn", "attention", "causal_mask",
    "unroll", "conv1d", "conv2d", "pool", "max_pool1d", "max_pool2d",
    "standardize", "batch_norm", "instance_norm", "layer_norm", "group_norm",
]


def _pos(t, order, sizes, dtype=None):
    """The data of ``t`` with dims in ``order``; axes ``t`` lacks are broadcast (views).

    With ``dtype``, the data is converted to it (the fused kernels compute in
    the dtype the plain formula's promotion gives, see core.float_dtype).
    """
    t = _as_funsor(t)
    have = tuple(a for a in order if a in t.inputs)
    extra = [a for a in t.inputs if a not in order]
    if extra:
        raise AxisError(f"internal: axes {extra} not in {order}")
    data = _data(t, have) if have else t.data
    if dtype is not None and data.dtype != dtype:
        data = data.to(dtype)
    if len(have) == len(order):
        return data
    data = data.reshape([sizes[a] if a in t.inputs else 1 for a in order])
    return data.expand([sizes[a] for a in order])


def _axes_of(t):
    return set(_as_funsor(t).inputs)


def _stack(ts, ax):
    """Stack named tensors with equal axes along a new axis ``ax`` (first)."""
    order = names(ts[0])
    return _wrap(torch.stack([_data(t, order) for t in ts]), (ax,) + order)


# --------------------------------------------------------------------------
# feedforward layers

def _full_conn_check(x, W, b, layer, out):
    _require(x, (layer,), "full_conn (x)")
    _require(W, (out, layer), "full_conn (W)")
    _require(b, (out,), "full_conn (b)")
    _not_axis(x, out, "full_conn", "the input x")
    _merged_sizes((x, W, b), "full_conn")


def _full_conn_fused(x, W, b, layer, out):
    if _axes_of(W) != {out, layer} or _axes_of(b) != {out}:
        return NotImplemented
    dt = float_dtype(x, W, b)
    rest = tuple(a for a in x.inputs if a != layer)
    y = F.linear(_data(x, rest + (layer,)).to(dt), _data(W, (out, layer)).to(dt),
                 b.data.to(dt))
    return _wrap(torch.sigmoid(y), rest + (layer,))


@fused_by(_full_conn_fused, _full_conn_check)
def full_conn(x, W, b, *, layer="layer", out="out"):
    """FullConn(x) = σ(W ⊙_layer x + b)_{out→layer}, W ∈ R^{out×layer}, b ∈ R^{out}."""
    return rename(sigmoid(contract(W, x, over=layer) + b), {out: layer})


def feedforward(x, params, *, layer="layer", out="out"):
    """A stack of :func:`full_conn` layers; ``params`` is a list of (W, b), sizes may differ."""
    for W, b in params:
        x = full_conn(x, W, b, layer=layer, out=out)
    return x


# --------------------------------------------------------------------------
# recurrent network

def _rnn_check(x, h0, Wh, Wi, b, time, hidden, hidden_out, input):
    _require(x, (time, input), "rnn (x)")
    _require(h0, (hidden,), "rnn (h0)")
    _require(Wh, (hidden, hidden_out), "rnn (Wh)")
    _require(Wi, (input, hidden_out), "rnn (Wi)")
    _require(b, (hidden_out,), "rnn (b)")
    for t, role in ((x, "x"), (h0, "h0")):
        _not_axis(t, hidden_out, "rnn", role)
    _not_axis(h0, time, "rnn", "h0")
    sizes = _merged_sizes((x, h0, Wh, Wi, b), "rnn")
    if sizes[hidden] != sizes[hidden_out]:
        raise AxisError(f"rnn: axis {hidden!r}[{sizes[hidden]}] and axis "
                        f"{hidden_out!r}[{sizes[hidden_out]}] must have the same size")


def _rnn_fused(x, h0, Wh, Wi, b, time, hidden, hidden_out, input):
    if (_axes_of(Wh) != {hidden, hidden_out} or _axes_of(Wi) != {input, hidden_out}
            or _axes_of(b) != {hidden_out} or hidden in x.inputs or input in h0.inputs):
        return NotImplemented
    sizes = _merged_sizes((x, h0, Wh, Wi, b), "rnn")
    dt = float_dtype(x, h0, Wh, Wi, b)
    batch = [a for a in sizes if a not in (time, input, hidden, hidden_out)]
    xs = _pos(x, [time] + batch + [input], sizes, dt)
    h = _pos(h0, batch + [hidden], sizes, dt)
    proj = torch.matmul(xs, _data(Wi, (input, hidden_out)).to(dt)) + b.data.to(dt)
    wh = _data(Wh, (hidden, hidden_out)).to(dt)
    hs = []
    for t in range(sizes[time]):
        h = torch.sigmoid(torch.addmm(proj[t], h, wh) if h.dim() == 2
                          else proj[t] + torch.matmul(h, wh))
        hs.append(h)
    return _wrap(torch.stack(hs), [time] + batch + [hidden])


@fused_by(_rnn_fused, _rnn_check)
def rnn(x, h0, Wh, Wi, b, *, time="time", hidden="hidden", hidden_out="hidden_out",
        input="input"):
    """Elman RNN: h^t = σ(Wh ⊙_hidden h^{t-1} + Wi ⊙_input x^t + b)_{hidden_out→hidden}.

    Returns h^1, ..., h^n stacked along ``time`` (0-based: position t holds h^{t+1}).
    """
    h, hs = h0, []
    for t in range(shape(x)[time]):
        h = rename(sigmoid(contract(Wh, h, over=hidden)
                           + contract(Wi, index(x, time, t), over=input) + b),
                   {hidden_out: hidden})
        hs.append(h)
    return _stack(hs, time)


# --------------------------------------------------------------------------
# attention

def _attention_check(Q, K, V, M, key, seq):
    _require(Q, (key,), "attention (Q)")
    _require(K, (seq, key), "attention (K)")
    _require(V, (seq,), "attention (V)")
    if seq in Q.inputs:
        raise AxisError(f"attention: Q must not have the key-position axis {seq!r}; "
                        f"name its query positions differently (e.g. {seq + chr(39)!r}); "
                        f"Q's axes are {_fmt(shape(Q))}")
    if M is not None:
        _require(M, (seq,), "attention (M)")
    _merged_sizes([t for t in (Q, K, V, M) if t is not None], "attention")


def _attention_fused(Q, K, V, M, key, seq):
    ops = [t for t in (Q, K, V, M) if t is not None]
    if key in V.inputs or (M is not None and key in M.inputs):
        return NotImplemented
    sizes = _merged_sizes(ops, "attention")
    dt = float_dtype(*ops)
    qs, ks, vs = _axes_of(Q), _axes_of(K), _axes_of(V)
    ms = _axes_of(M) if M is not None else set()
    L = [a for a in Q.inputs if a != key and a not in ks | vs]
    E = [a for a in V.inputs if a != seq and a not in qs | ks | ms]
    B = [a for a in sizes if a not in (key, seq) and a not in L and a not in E]
    bs = [sizes[a] for a in B]
    nL, nE = math.prod(sizes[a] for a in L), math.prod(sizes[a] for a in E)
    q = _pos(Q, B + L + [key], sizes, dt).reshape(bs + [nL, sizes[key]])
    k = _pos(K, B + [seq, key], sizes, dt)
    v = _pos(V, B + [seq] + E, sizes, dt).reshape(bs + [sizes[seq], nE])
    m = None
    if M is not None:
        m = _pos(M, B + L + [seq], sizes, dt).reshape(bs + [nL, sizes[seq]])
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    y = y.reshape(bs + [sizes[a] for a in L] + [sizes[a] for a in E])
    return _wrap(y, B + L + E)


@fused_by(_attention_fused, _attention_check)
def attention(Q, K, V, M=None, *, key="key", seq="seq"):
    """Attention(Q, K, V, M) = softmax_seq(Q ⊙_key K / sqrt|key| + M) ⊙_seq V."""
    scores = contract(Q, K, over=key) / math.sqrt(shape(K)[key])
    if M is not None:
        scores = scores + M
    return contract(softmax(scores, seq), V, over=seq)


def causal_mask(n, *, seq="seq", query="query", dtype=torch.float64):
    """M ∈ R^{seq[n]×query[n]}: M_{seq(i),query(j)} = 0 if i ≤ j, else −∞.

    Key position i may be attended to from query position j only if it is not later.
    """
    i = torch.arange(n).reshape(n, 1)
    j = torch.arange(n).reshape(1, n)
    data = torch.zeros(n, n, dtype=dtype).masked_fill(i > j, -math.inf)
    return _wrap(data.to(device()), (seq, query))


def _causal_mask_check(n, seq, query, dtype):
    _checks.size(n, seq, "causal_mask")


causal_mask = _checks.checked(causal_mask, _causal_mask_check)


# --------------------------------------------------------------------------
# convolution

def unroll(X, k, *, seq="seq", kernel="kernel"):
    """unroll_{seq,kernel}: R^{seq[n]} → R^{seq[n-k+1]×kernel[k]}, Y_{seq(i),kernel(j)} = X_{seq(i+j)}.

    0-based.  The result is a strided view of X (torch's ``unfold``), not a copy.
    """
    X = _as_funsor(X)
    _require(X, (seq,), "unroll")
    _not_axis(X, kernel, "unroll", "the tensor")
    n = X.inputs[seq].size
    if not 1 <= k <= n:
        raise AxisError(f"unroll: kernel size {k} does not fit axis {seq!r}[{n}]")
    order = tuple(X.inputs)
    data = X.data.unfold(order.index(seq), k, 1)
    return _wrap(data, order + (kernel,))


def _conv_check(X, W, b, chans, spatial, kernels, what):
    _require(X, (chans,) + spatial, f"{what} (X)")
    _require(W, (chans,) + kernels, f"{what} (W)")
    for kern in kernels:
        _not_axis(X, kern, what, "X")
    sizes = _merged_sizes((X, W, b), what)
    for ax, kern in zip(spatial, kernels):
        if sizes[kern] > sizes[ax]:
            raise AxisError(f"{what}: kernel axis {kern!r}[{sizes[kern]}] is longer than "
                            f"axis {ax!r}[{sizes[ax]}]")


def _conv_fused(X, W, b, chans, spatial, kernels, conv):
    outs = [a for a in W.inputs if a not in (chans,) + kernels]
    if any(a in X.inputs for a in outs) or not _axes_of(b) <= set(outs):
        return NotImplemented
    dt = torch.result_type(X.data, W.data)
    dt = torch.promote_types(dt, b.data.dtype) if isinstance(b, Tensor) else dt
    if not _is_float(dt):
        return NotImplemented   # integer convolution: the plain formula computes it exactly
    sizes = _merged_sizes((X, W, b), "conv")
    rest = [a for a in X.inputs if a not in (chans,) + spatial]
    x = _pos(X, rest + [chans] + list(spatial), sizes, dt)
    x = x.reshape([-1, sizes[chans]] + [sizes[a] for a in spatial])
    w = _pos(W, outs + [chans] + list(kernels), sizes, dt)
    w = w.reshape([-1, sizes[chans]] + [sizes[a] for a in kernels])
    bias = _pos(b, outs, sizes, dt).reshape(-1)
    y = conv(x, w, bias)
    y = y.reshape([sizes[a] for a in rest + outs] + list(y.shape[2:]))
    return _wrap(y, rest + outs + list(spatial))


def _conv1d_check(X, W, b, chans, seq, kernel):
    _conv_check(X, W, b, chans, (seq,), (kernel,), "conv1d")


def _conv1d_fused(X, W, b, chans, seq, kernel):
    return _conv_fused(X, W, b, chans, (seq,), (kernel,), F.conv1d)


@fused_by(_conv1d_fused, _conv1d_check)
def conv1d(X, W, b, *, chans="chans", seq="seq", kernel="kernel"):
    """Conv1d(X; W, b) = W ⊙_{chans,kernel} unroll_{seq,kernel} X + b.

    W has axes chans, kernel and the output channel axis (any other name, e.g. chans').
    """
    U = unroll(X, shape(W)[kernel], seq=seq, kernel=kernel)
    return contract(W, U, over=(chans, kernel)) + b


def _conv2d_check(X, W, b, chans, height, width, kh, kw):
    _conv_check(X, W, b, chans, (height, width), (kh, kw), "conv2d")


def _conv2d_fused(X, W, b, chans, height, width, kh, kw):
    return _conv_fused(X, W, b, chans, (height, width), (kh, kw), F.conv2d)


@fused_by(_conv2d_fused, _conv2d_check)
def conv2d(X, W, b, *, chans="chans", height="height", width="width", kh="kh", kw="kw"):
    """Conv2d(X; W, b) = W ⊙_{chans,kh,kw} unroll_{height,kh} unroll_{width,kw} X + b."""
    U = unroll(unroll(X, shape(W)[kh], seq=height, kernel=kh),
               shape(W)[kw], seq=width, kernel=kw)
    return contract(W, U, over=(chans, kh, kw)) + b


# --------------------------------------------------------------------------
# pooling

def _pool_check(X, ax, k, what):
    _require(X, (ax,), what)
    n = shape(X)[ax]
    if k < 1 or n % k:
        raise AxisError(f"{what}: axis {ax!r}[{n}] is not divisible by the pool size {k}")


def pool(X, k, *, seq="seq", kernel="kernel"):
    """pool_{seq,kernel}: R^{seq[n]} → R^{seq[n/k]×kernel[k]}, Y_{seq(i),kernel(j)} = X_{seq(ik+j)}.

    0-based.  A reshape (a view), so n must be divisible by k.
    """
    _pool_check(X, seq, k, "pool")
    _not_axis(X, kernel, "pool", "the tensor")
    return unflatten(X, seq, {seq: shape(X)[seq] // k, kernel: k})


def _fresh(X, base):
    name, have = base, set(shape(X))
    while name in have:
        name += "'"
    return name


def _max_pool1d_check(X, k, seq, kernel):
    _pool_check(X, seq, k, "max_pool1d")
    _checks.axis_names(kernel, "max_pool1d", "kernel")  # the fused path never uses it


def _max_pool1d_fused(X, k, seq, kernel):
    if not _is_float(X.data.dtype):
        return NotImplemented   # torch pools floats only; the plain max is exact
    sizes = shape(X)
    rest = tuple(a for a in X.inputs if a != seq)
    x = _data(X, rest + (seq,)).reshape(-1, 1, sizes[seq])
    y = F.max_pool1d(x, k)
    return _wrap(y.reshape([sizes[a] for a in rest] + [sizes[seq] // k]), rest + (seq,))


@fused_by(_max_pool1d_fused, _max_pool1d_check)
def max_pool1d(X, k, *, seq="seq", kernel="kernel"):
    """MaxPool1d_k(X) = max_kernel pool_{seq,kernel} X."""
    return max(pool(X, k, seq=seq, kernel=kernel), kernel)


def _max_pool2d_check(X, kh, kw, height, width):
    _pool_check(X, height, kh, "max_pool2d")
    _pool_check(X, width, kw, "max_pool2d")


def _max_pool2d_fused(X, kh, kw, height, width):
    if not _is_float(X.data.dtype):
        return NotImplemented   # torch pools floats only; the plain max is exact
    sizes = shape(X)
    rest = tuple(a for a in X.inputs if a not in (height, width))
    x = _data(X, rest + (height, width)).reshape(-1, 1, sizes[height], sizes[width])
    y = F.max_pool2d(x, (kh, kw))
    y = y.reshape([sizes[a] for a in rest] + [sizes[height] // kh, sizes[width] // kw])
    return _wrap(y, rest + (height, width))


@fused_by(_max_pool2d_fused, _max_pool2d_check)
def max_pool2d(X, kh, kw, *, height="height", width="width"):
    """MaxPool2d_{kh,kw}(X) = max_{kh,kw} pool_{height,kh} pool_{width,kw} X."""
    a, b = _fresh(X, "kh"), _fresh(X, "kw")
    P = pool(pool(X, kh, seq=height, kernel=a), kw, seq=width, kernel=b)
    return max(P, (a, b))


# --------------------------------------------------------------------------
# normalization

def standardize(X, over, eps=1e-5):
    """standardize_over(X) = (X − mean_over X) / sqrt(var_over X + ε)."""
    return (X - mean(X, over)) / (var(X, over) + eps) ** 0.5


def _norm_check(X, gamma, beta, axes, what):
    _require(X, axes, what)
    _merged_sizes((X, gamma, beta), what)


def _params(gamma, beta, allowed):
    return _axes_of(gamma) <= set(allowed) and _axes_of(beta) <= set(allowed)


def _batch_norm_check(X, gamma, beta, batch, chans, layer, eps):
    _norm_check(X, gamma, beta, (batch, chans, layer), "batch_norm")


def _batch_norm_fused(X, gamma, beta, batch, chans, layer, eps):
    sizes = shape(X)
    extra = [a for a in X.inputs if a not in (batch, chans, layer)]
    if not _params(gamma, beta, extra + [chans]) or sizes[batch] * sizes[layer] == 1:
        return NotImplemented
    dt = float_dtype(X, gamma, beta)
    order = [batch] + extra + [chans, layer]
    x = _data(X, tuple(order)).to(dt).reshape(sizes[batch], -1, sizes[layer])
    w = _pos(gamma, extra + [chans], sizes, dt).reshape(-1)
    bb = _pos(beta, extra + [chans], sizes, dt).reshape(-1)
    y = F.batch_norm(x, None, None, w, bb, training=True, eps=eps)
    return _wrap(y.reshape([sizes[a] for a in order]), order)


@fused_by(_batch_norm_fused, _batch_norm_check)
def batch_norm(X, gamma, beta, *, batch="batch", chans="chans", layer="layer", eps=1e-5):
    """BatchNorm(X; γ, β) = standardize_{batch,layer}(X) ⊙ γ + β, γ, β ∈ R^{chans}."""
    return standardize(X, (batch, layer), eps) * gamma + beta


def _instance_norm_check(X, gamma, beta, chans, layer, eps):
    _norm_check(X, gamma, beta, (chans, layer), "instance_norm")


def _instance_norm_fused(X, gamma, beta, chans, layer, eps):
    sizes = shape(X)
    if not _params(gamma, beta, [chans]) or sizes[layer] == 1:
        return NotImplemented
    dt = float_dtype(X, gamma, beta)
    rest = [a for a in X.inputs if a not in (chans, layer)]
    order = rest + [chans, layer]
    x = _data(X, tuple(order)).to(dt).reshape(-1, sizes[chans], sizes[layer])
    w, bb = _pos(gamma, [chans], sizes, dt), _pos(beta, [chans], sizes, dt)
    y = F.instance_norm(x, weight=w, bias=bb, eps=eps)
    return _wrap(y.reshape([sizes[a] for a in order]), order)


@fused_by(_instance_norm_fused, _instance_norm_check)
def instance_norm(X, gamma, beta, *, chans="chans", layer="layer", eps=1e-5):
    """InstanceNorm(X; γ, β) = standardize_layer(X) ⊙ γ + β, γ, β ∈ R^{chans}."""
    return standardize(X, layer, eps) * gamma + beta


def _layer_norm_axes(chans, layer):
    return (layer,) if chans is None else (chans, layer)


def _layer_norm_check(X, gamma, beta, layer, chans, eps):
    _norm_check(X, gamma, beta, _layer_norm_axes(chans, layer), "layer_norm")


def _layer_norm_fused(X, gamma, beta, layer, chans, eps):
    over = list(_layer_norm_axes(chans, layer))
    if not _params(gamma, beta, over):
        return NotImplemented
    sizes = shape(X)
    dt = float_dtype(X, gamma, beta)
    rest = [a for a in X.inputs if a not in over]
    x = _data(X, tuple(rest + over)).to(dt)
    w = _pos(gamma, over, sizes, dt).contiguous()
    bb = _pos(beta, over, sizes, dt).contiguous()
    y = F.layer_norm(x, [sizes[a] for a in over], w, bb, eps)
    return _wrap(y, rest + over)


@fused_by(_layer_norm_fused, _layer_norm_check)
def layer_norm(X, gamma, beta, *, layer="layer", chans="chans", eps=1e-5):
    """LayerNorm(X; γ, β) = standardize_{layer,chans}(X) ⊙ γ + β, γ, β ∈ R^{chans×layer}.

    With ``chans=None`` it standardizes over ``layer`` alone (the Transformer's LayerNorm).
    """
    return standardize(X, _layer_norm_axes(chans, layer), eps) * gamma + beta


def _group_norm_check(X, gamma, beta, k, chans, layer, kernel, eps):
    _norm_check(X, gamma, beta, (chans, layer), "group_norm")
    _pool_check(X, chans, k, "group_norm")
    _checks.axis_names(kernel, "group_norm", "kernel")  # the fused path never uses it


def _group_norm_fused(X, gamma, beta, k, chans, layer, kernel, eps):
    if not _params(gamma, beta, [chans]):
        return NotImplemented
    sizes = shape(X)
    dt = float_dtype(X, gamma, beta)
    rest = [a for a in X.inputs if a not in (chans, layer)]
    order = rest + [chans, layer]
    x = _data(X, tuple(order)).to(dt).reshape(-1, sizes[chans], sizes[layer])
    w, bb = _pos(gamma, [chans], sizes, dt), _pos(beta, [chans], sizes, dt)
    y = F.group_norm(x, sizes[chans] // k, w, bb, eps)
    return _wrap(y.reshape([sizes[a] for a in order]), order)


@fused_by(_group_norm_fused, _group_norm_check)
def group_norm(X, gamma, beta, k, *, chans="chans", layer="layer", kernel="kernel", eps=1e-5):
    """GroupNorm_k(X; γ, β) = [standardize_{kernel,layer} pool_{chans,kernel} X]_{(chans,kernel)→chans} ⊙ γ + β.

    Groups of k consecutive channels are standardized together; γ, β ∈ R^{chans}.
    """
    P = pool(X, k, seq=chans, kernel=kernel)
    return flatten(standardize(P, (kernel, layer), eps), (chans, kernel), chans) * gamma + beta
