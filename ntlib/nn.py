"""Neural-network building blocks (paper section 4), named.

Every block is written once as its formula (the *plain* definition, which
the book shows) and paired with a *fused* implementation that converts the
named operands to positional tensors with an explicit axis order, calls
torch's fused kernel (F.linear, F.scaled_dot_product_attention,
F.conv2d, F.max_pool2d, F.layer_norm, ...) and names the result.
The pairing is made by ntlib.fused_by; the fused version runs by default, and
"with ntlib.plain():" runs the formula.  When the operands carry axes that the
positional kernel cannot express (for example, weights with an extra axis to
lift over), the fused version declines and the formula runs.  What a block
requires of its arguments is declared with the checking decorator of
ntlib._internal (@checked), which runs the checks before either path, so the
formula's body holds the formula only.

Every axis a block consumes or produces is a keyword argument whose default
is the paper's name; all other axes are carried through by lifting.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from ._internal import (AxisError, Axes, Axis, align, axis_name, axis_size, checked, data_in, device,
                        float_dtype, fmt, fused_by, is_float, make, merged_sizes, promote,
                        laid_out, sizes_of, union_sizes)
from .core import (Named, contract, flatten, index, max, mean, rename, shape, sigmoid, softmax,
                   sqrt, unflatten)

__all__ = [
    "full_conn", "feedforward", "rnn", "attention", "causal_mask",
    "unroll", "conv1d", "conv2d", "pool", "max_pool1d", "max_pool2d",
    "standardize", "batch_norm", "instance_norm", "layer_norm", "group_norm",
]


def _pos(t, order, sizes, dtype=None):
    """The data of t with dims in order; axes t lacks are broadcast (views).

    With dtype, the data is converted to it (the fused kernels compute in the
    dtype the plain formula's promotion gives, see float_dtype).
    """
    names = t.names
    have = tuple(a for a in order if a in names)
    data = data_in(t, have)
    if dtype is not None and data.dtype != dtype:
        data = data.to(dtype)
    if len(have) == len(order):
        return data
    data = data.reshape([sizes[a] if a in names else 1 for a in order])
    return data.expand([sizes[a] for a in order])


def _axes_of(t):
    return set(t.names)


def _stack(ts, ax):
    """Stack named tensors with equal axes along a new axis ax (first)."""
    order = ts[0].names
    return make(torch.stack([data_in(t, order) for t in ts]), (ax,) + order)


# --------------------------------------------------------------------------
# feedforward layers

def _full_conn_fused(x, W, b, layer, out):
    if _axes_of(W) != {out, layer} or _axes_of(b) != {out}:
        return NotImplemented
    dt = float_dtype(x, W, b)
    rest = tuple(a for a in x.names if a != layer)
    y = F.linear(data_in(x, rest + (layer,)).to(dt), data_in(W, (out, layer)).to(dt),
                 b.data.to(dt))
    return make(torch.sigmoid(y), rest + (layer,))


@checked(x="has layer, lacks out", W="has out layer", b="has out", real=True)
@fused_by(_full_conn_fused)
def full_conn(x: Named, W: Named, b: Named, *, layer: Axis = "layer",
              out: Axis = "out") -> Named:
    """FullConn(x) = σ(W ⊙_layer x + b)_{out→layer}, W ∈ R^{out×layer}, b ∈ R^{out}.

    Example:

    >>> x = nt.tensor([1., -1], "layer")
    >>> W = nt.tensor([[2., 1], [0, 0], [1, 1]], ("out", "layer"))
    >>> b = nt.tensor([-1., 0, 1], "out")
    >>> nt.show(nt.full_conn(x, W, b))    # σ([0, 0, 1]), along layer
    layer[3]
    [0.5    0.5    0.7311]
    """
    return rename(sigmoid(contract(W, x, over=layer) + b), {out: layer})


def feedforward(x: Named, params: Sequence[tuple[Named, Named]], *,
                layer: Axis = "layer", out: Axis = "out") -> Named:
    """A stack of full_conn layers; params is a list of (W, b), sizes may differ.

    Example:

    >>> x = nt.randn(seed=0, batch=2, layer=4)
    >>> params = [(nt.randn(seed=1, out=5, layer=4), nt.randn(seed=2, out=5)),
    ...           (nt.randn(seed=3, out=3, layer=5), nt.randn(seed=4, out=3))]
    >>> nt.shape(nt.feedforward(x, params))
    {'batch': 2, 'layer': 3}
    """
    for W, b in params:
        x = full_conn(x, W, b, layer=layer, out=out)
    return x


# --------------------------------------------------------------------------
# recurrent network

def _rnn_check(x, h0, Wh, Wi, b, time, hidden, hidden_out, input):
    sizes = merged_sizes((x, h0, Wh, Wi, b), "rnn")
    if sizes[hidden] != sizes[hidden_out]:
        raise AxisError(f"rnn: axis {hidden!r}[{sizes[hidden]}] and axis "
                        f"{hidden_out!r}[{sizes[hidden_out]}] must have the same size")


def _rnn_fused(x, h0, Wh, Wi, b, time, hidden, hidden_out, input):
    if (_axes_of(Wh) != {hidden, hidden_out} or _axes_of(Wi) != {input, hidden_out}
            or _axes_of(b) != {hidden_out} or hidden in x.names or input in h0.names):
        return NotImplemented
    sizes = union_sizes((x, h0, Wh, Wi, b), "rnn")
    dt = float_dtype(x, h0, Wh, Wi, b)
    batch = [a for a in sizes if a not in (time, input, hidden, hidden_out)]
    xs = _pos(x, [time] + batch + [input], sizes, dt)
    h = _pos(h0, batch + [hidden], sizes, dt)
    proj = torch.matmul(xs, data_in(Wi, (input, hidden_out)).to(dt)) + b.data.to(dt)
    wh = data_in(Wh, (hidden, hidden_out)).to(dt)
    hs = []
    for t in range(sizes[time]):
        h = torch.sigmoid(torch.addmm(proj[t], h, wh) if h.dim() == 2
                          else proj[t] + torch.matmul(h, wh))
        hs.append(h)
    out = torch.stack(hs) if hs else torch.sigmoid(proj)    # no steps: time[0]
    return make(out, tuple([time] + batch + [hidden]))


@checked(x="has time input, lacks hidden_out",
         h0="has hidden, lacks hidden_out time", Wh="has hidden hidden_out",
         Wi="has input hidden_out", b="has hidden_out", check=_rnn_check, real=True)
@fused_by(_rnn_fused)
def rnn(x: Named, h0: Named, Wh: Named, Wi: Named, b: Named, *, time: Axis = "time",
        hidden: Axis = "hidden", hidden_out: Axis = "hidden_out",
        input: Axis = "input") -> Named:
    """Elman RNN: h^t = σ(Wh ⊙_hidden h^{t-1} + Wi ⊙_input x^t + b)_{hidden_out→hidden}.

    Returns h^1, ..., h^n stacked along time (0-based: position t holds h^{t+1});
    over an empty time axis, an empty stack (time[0] and the other axes of a step).

    Example:

    >>> x = nt.randn(seed=0, time=5, input=3)
    >>> h0 = nt.randn(seed=1, hidden=4)
    >>> Wh = nt.randn(seed=2, hidden=4, hidden_out=4)
    >>> Wi = nt.randn(seed=3, input=3, hidden_out=4)
    >>> b = nt.randn(seed=4, hidden_out=4)
    >>> H = nt.rnn(x, h0, Wh, Wi, b)
    >>> nt.shape(H)
    {'time': 5, 'hidden': 4}
    >>> with nt.plain():          # the formula, step by step
    ...     nt.allclose(nt.rnn(x, h0, Wh, Wi, b), H)
    True
    """
    h, hs = h0, []
    for t in range(shape(x)[time]):
        h = rename(sigmoid(contract(Wh, h, over=hidden)
                           + contract(Wi, index(x, time, t), over=input) + b),
                   {hidden_out: hidden})
        hs.append(h)
    if not hs:   # no steps: the step over all of x at once, an empty stack along time
        return rename(sigmoid(contract(Wh, h0, over=hidden) + contract(Wi, x, over=input)
                              + b), {hidden_out: hidden})
    return _stack(hs, time)


# --------------------------------------------------------------------------
# attention

def _query_positions(Q, K, V, M, key, seq):
    if seq in Q.names:
        raise AxisError(f"attention: Q must not have the key-position axis {seq!r}; "
                        f"name its query positions differently (e.g. {seq + chr(39)!r}); "
                        f"Q's axes are {fmt(sizes_of(Q))}")


def _attention_fused(Q, K, V, M, key, seq):
    ops = [t for t in (Q, K, V, M) if t is not None]
    if laid_out(*ops):   # SDPA has no DTensor sharding strategy on the CPU
        return NotImplemented
    if key in V.names or (M is not None and key in M.names):
        return NotImplemented
    sizes = union_sizes(ops, "attention")
    if sizes[seq] == 0:         # torch's versions disagree; the formula gives 0
        return NotImplemented
    dt = float_dtype(*ops)
    qs, ks, vs = _axes_of(Q), _axes_of(K), _axes_of(V)
    ms = _axes_of(M) if M is not None else set()
    L = [a for a in Q.names if a != key and a not in ks | vs]
    E = [a for a in V.names if a != seq and a not in qs | ks | ms]
    B = [a for a in sizes if a not in (key, seq) and a not in L and a not in E]
    bs = [sizes[a] for a in B]
    nL, nE = math.prod([sizes[a] for a in L]), math.prod([sizes[a] for a in E])
    q = _pos(Q, B + L + [key], sizes, dt).reshape(bs + [nL, sizes[key]])
    k = _pos(K, B + [seq, key], sizes, dt)
    v = _pos(V, B + [seq] + E, sizes, dt).reshape(bs + [sizes[seq], nE])
    m = None
    if M is not None:
        m = _pos(M, B + L + [seq], sizes, dt).reshape(bs + [nL, sizes[seq]])
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    y = y.reshape(bs + [sizes[a] for a in L] + [sizes[a] for a in E])
    if M is not None:   # every key masked: softmax is 0/0, NaN as in the formula
        j = M.names.index(seq)        # (read on M itself, not on m, its broadcast)
        dead = make(torch.isneginf(M.data).all(j), M.names[:j] + M.names[j + 1:])
        y = y.masked_fill(align(dead, B + L + E, sizes), math.nan)
    return make(y, tuple(B + L + E))


@checked(Q="has key", K="has seq key", V="has seq", M="has seq",
         check=_query_positions, real=True)
@fused_by(_attention_fused)
def attention(Q: Named, K: Named, V: Named, M: Named | None = None, *,
              key: Axis = "key", seq: Axis = "seq") -> Named:
    """Attention(Q, K, V, M) = softmax_seq(Q ⊙_key K / sqrt|key| + M) ⊙_seq V.

    Where M masks every key of a query (all −∞) the softmax is 0/0 and the
    result NaN, on both paths (torch's fused kernel would give 0); over an
    empty seq the contraction is an empty sum, 0.

    Example:

    >>> Q = nt.randn(seed=0, batch=2, key=4)       # one query per example
    >>> K = nt.randn(seed=1, batch=2, seq=3, key=4)
    >>> V = nt.randn(seed=2, batch=2, seq=3, val=5)
    >>> Y = nt.attention(Q, K, V)
    >>> nt.shape(Y)
    {'batch': 2, 'val': 5}
    >>> with nt.plain():
    ...     nt.allclose(nt.attention(Q, K, V), Y)
    True
    """
    scores = contract(Q, K, over=key) / math.sqrt(shape(K)[key])
    if M is not None:
        scores = scores + M
    return contract(softmax(scores, seq), V, over=seq)


def _mask_size(n, seq, query, dtype):
    axis_size(n, "causal_mask", seq)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"causal_mask: dtype must be a floating-point torch dtype (the "
                        f"mask holds −∞), got {dtype!r}")


@checked(check=_mask_size)
def causal_mask(n: int, *, seq: Axis = "seq", query: Axis = "query",
                dtype: torch.dtype = torch.float64) -> Named:
    """M ∈ R^{seq[n]×query[n]}: M_{seq(i),query(j)} = 0 if i ≤ j, else −∞.

    Key position i may be attended to from query position j only if it is not later.

    Example:

    >>> nt.show(nt.causal_mask(3), ("seq", "query"))
    seq[3] × query[3]   (rows: seq, columns: query)
    [[  0.   0.   0.]
     [-inf   0.   0.]
     [-inf -inf   0.]]
    """
    pos = torch.arange(n, device=device())
    i, j = pos.reshape(n, 1), pos.reshape(1, n)
    data = torch.zeros(n, n, dtype=dtype, device=pos.device)
    return make(data.masked_fill(i > j, -math.inf), (seq, query))


# --------------------------------------------------------------------------
# convolution

def _kernel_fits(X, k, seq, kernel):
    n = X.data.shape[X.names.index(seq)]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise AxisError(f"unroll: kernel size {k} does not fit axis {seq!r}[{n}]")


@checked(X="has seq, lacks kernel", check=_kernel_fits)
def unroll(X: Named, k: int, *, seq: Axis = "seq", kernel: Axis = "kernel") -> Named:
    """unroll_{seq,kernel}: R^{seq[n]} → R^{seq[n-k+1]×kernel[k]}, Y_{seq(i),kernel(j)} = X_{seq(i+j)}.

    0-based.  The result is a strided view of X (torch's unfold), not a copy.

    Example:

    >>> x = nt.tensor([1, 2, 3, 4], "seq")
    >>> nt.show(nt.unroll(x, 2), ("seq", "kernel"))
    seq[3] × kernel[2]   (rows: seq, columns: kernel)
    [[1 2]
     [2 3]
     [3 4]]
    """
    return make(X.data.unfold(X.names.index(seq), k, 1), X.names + (kernel,))


def _kernels_fit(X, W, b, spatial, kernels, what):
    sizes = union_sizes((X, W, b), what)
    for ax, kern in zip(spatial, kernels):
        if sizes[kern] > sizes[ax]:
            raise AxisError(f"{what}: kernel axis {kern!r}[{sizes[kern]}] is longer than "
                            f"axis {ax!r}[{sizes[ax]}]")


def _conv_fused(X, W, b, chans, spatial, kernels, conv):
    outs = [a for a in W.names if a not in (chans,) + kernels]
    if any(a in X.names for a in outs) or not _axes_of(b) <= set(outs):
        return NotImplemented
    dt = promote((X, W, b))
    if not is_float(dt):
        return NotImplemented   # integer convolution: the plain formula computes it exactly
    sizes = union_sizes((X, W, b), "conv")
    rest = [a for a in X.names if a not in (chans,) + spatial]
    x = _pos(X, rest + [chans] + list(spatial), sizes, dt)
    if len(rest) > 1:          # torch convolves a batch of one axis, or none
        x = x.reshape([-1, sizes[chans]] + [sizes[a] for a in spatial])
    w = _pos(W, outs + [chans] + list(kernels), sizes, dt)
    if len(outs) != 1:
        w = w.reshape([-1, sizes[chans]] + [sizes[a] for a in kernels])
    bias = _pos(b, outs, sizes, dt)
    if bias.dim() != 1:
        bias = bias.reshape(-1)
    y = conv(x, w, bias)
    if len(rest) > 1 or len(outs) != 1:
        y = y.reshape([sizes[a] for a in rest + outs] + list(y.shape[y.dim() - len(spatial):]))
    return make(y, tuple(rest + outs) + spatial)


def _conv1d_check(X, W, b, chans, seq, kernel):
    _kernels_fit(X, W, b, (seq,), (kernel,), "conv1d")


def _conv1d_fused(X, W, b, chans, seq, kernel):
    return _conv_fused(X, W, b, chans, (seq,), (kernel,), F.conv1d)


@checked(X="has chans seq, lacks kernel", W="has chans kernel", b="",
         check=_conv1d_check, real=True)
@fused_by(_conv1d_fused)
def conv1d(X: Named, W: Named, b: Named, *, chans: Axis = "chans", seq: Axis = "seq",
           kernel: Axis = "kernel") -> Named:
    """Conv1d(X; W, b) = W ⊙_{chans,kernel} unroll_{seq,kernel} X + b.

    W has axes chans, kernel and the output channel axis (any other name, e.g. chans').

    Example:

    >>> X = nt.tensor([[1., 2, 4, 8]], ("chans", "seq"))
    >>> W = nt.tensor([[[-1., 1]]], ("out", "chans", "kernel"))  # differences
    >>> b = nt.tensor([0.], "out")
    >>> nt.show(nt.conv1d(X, W, b), ("out", "seq"))
    out[1] × seq[3]   (rows: out, columns: seq)
    [[1. 2. 4.]]
    """
    U = unroll(X, shape(W)[kernel], seq=seq, kernel=kernel)
    return contract(W, U, over=(chans, kernel)) + b


def _conv2d_check(X, W, b, chans, height, width, kh, kw):
    _kernels_fit(X, W, b, (height, width), (kh, kw), "conv2d")


def _conv2d_fused(X, W, b, chans, height, width, kh, kw):
    return _conv_fused(X, W, b, chans, (height, width), (kh, kw), F.conv2d)


@checked(X="has chans height width, lacks kh kw", W="has chans kh kw", b="",
         check=_conv2d_check, real=True)
@fused_by(_conv2d_fused)
def conv2d(X: Named, W: Named, b: Named, *, chans: Axis = "chans",
           height: Axis = "height", width: Axis = "width", kh: Axis = "kh",
           kw: Axis = "kw") -> Named:
    """Conv2d(X; W, b) = W ⊙_{chans,kh,kw} unroll_{height,kh} unroll_{width,kw} X + b.

    Example:

    >>> X = nt.randn(seed=0, batch=2, chans=3, height=6, width=5)
    >>> W = nt.randn(seed=1, out=4, chans=3, kh=3, kw=2)
    >>> b = nt.randn(seed=2, out=4)
    >>> nt.shape(nt.conv2d(X, W, b))
    {'batch': 2, 'out': 4, 'height': 4, 'width': 4}
    """
    U = unroll(unroll(X, shape(W)[kh], seq=height, kernel=kh),
               shape(W)[kw], seq=width, kernel=kw)
    return contract(W, U, over=(chans, kh, kw)) + b


# --------------------------------------------------------------------------
# pooling

def _divides(X, k, ax, what):
    n = X.data.shape[X.names.index(ax)]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or n % k:
        raise AxisError(f"{what}: axis {ax!r}[{n}] is not divisible by the pool size {k}")


def _pool_check(X, k, seq, kernel):
    _divides(X, k, seq, "pool")


@checked(X="has seq, lacks kernel", check=_pool_check)
def pool(X: Named, k: int, *, seq: Axis = "seq", kernel: Axis = "kernel") -> Named:
    """pool_{seq,kernel}: R^{seq[n]} → R^{seq[n/k]×kernel[k]}, Y_{seq(i),kernel(j)} = X_{seq(ik+j)}.

    0-based.  A reshape (a view), so n must be divisible by k.

    Example:

    >>> x = nt.tensor([1, 2, 3, 4, 5, 6], "seq")
    >>> nt.show(nt.pool(x, 2), ("seq", "kernel"))
    seq[3] × kernel[2]   (rows: seq, columns: kernel)
    [[1 2]
     [3 4]
     [5 6]]
    """
    return unflatten(X, seq, {seq: shape(X)[seq] // k, kernel: k})


def _fresh(X, base):
    name, have = base, set(shape(X))
    while name in have:
        name += "'"
    return name


def _max_pool1d_check(X, k, seq, kernel):
    _divides(X, k, seq, "max_pool1d")
    axis_name(kernel, "max_pool1d", "kernel")   # the fused path never uses it


def _max_pool1d_fused(X, k, seq, kernel):
    if not is_float(X.data.dtype):
        return NotImplemented   # torch pools floats only; the plain max is exact
    sizes = sizes_of(X)
    rest = tuple(a for a in X.names if a != seq)
    x = data_in(X, rest + (seq,)).reshape(-1, 1, sizes[seq])
    y = F.max_pool1d(x, k)
    return make(y.reshape([sizes[a] for a in rest] + [sizes[seq] // k]), rest + (seq,))


@checked(X="has seq", check=_max_pool1d_check, real=True)
@fused_by(_max_pool1d_fused)
def max_pool1d(X: Named, k: int, *, seq: Axis = "seq", kernel: Axis = "kernel") -> Named:
    """MaxPool1d_k(X) = max_kernel pool_{seq,kernel} X.

    Example:

    >>> nt.show(nt.max_pool1d(nt.tensor([1., 5, 3, 2, 6, 4], "seq"), 2))
    seq[3]
    [5. 3. 6.]
    """
    return max(pool(X, k, seq=seq, kernel=kernel), kernel)


def _max_pool2d_check(X, kh, kw, height, width):
    _divides(X, kh, height, "max_pool2d")
    _divides(X, kw, width, "max_pool2d")


def _max_pool2d_fused(X, kh, kw, height, width):
    if not is_float(X.data.dtype):
        return NotImplemented   # torch pools floats only; the plain max is exact
    rest = tuple(a for a in X.names if a not in (height, width))
    x = data_in(X, rest + (height, width))
    lead = x.shape[:len(rest)]
    if len(rest) not in (1, 2):     # torch pools [C, H, W] or [N, C, H, W]
        x = x.reshape((-1, 1) + x.shape[len(rest):])
    y = F.max_pool2d(x, (kh, kw))
    if len(rest) not in (1, 2):
        y = y.reshape(lead + y.shape[-2:])
    return make(y, rest + (height, width))


@checked(X="has height width", check=_max_pool2d_check, real=True)
@fused_by(_max_pool2d_fused)
def max_pool2d(X: Named, kh: int, kw: int, *, height: Axis = "height",
               width: Axis = "width") -> Named:
    """MaxPool2d_{kh,kw}(X) = max_{kh,kw} pool_{height,kh} pool_{width,kw} X.

    Example:

    >>> X = nt.tensor([[1., 2, 3, 4], [5, 6, 7, 8]], ("height", "width"))
    >>> nt.show(nt.max_pool2d(X, 2, 2), ("height", "width"))
    height[1] × width[2]   (rows: height, columns: width)
    [[6. 8.]]
    """
    a, b = _fresh(X, "kh"), _fresh(X, "kw")
    P = pool(pool(X, kh, seq=height, kernel=a), kw, seq=width, kernel=b)
    return max(P, (a, b))


# --------------------------------------------------------------------------
# normalization

def _standardize_fused(X, over, eps):
    over = (over,) if isinstance(over, str) else tuple(over)
    x = X.data
    if not x.dtype.is_floating_point or isinstance(eps, torch.Tensor) or x.numel() == 0:
        return NotImplemented   # integers promote, complex and empty stay with the formula
    rest = tuple(a for a in X.names if a not in over)
    x = data_in(X, rest + over)
    y = F.layer_norm(x, x.shape[len(rest):], None, None, float(eps))
    return make(y, rest + over)


@checked(X="has over", accumulate=True)
@fused_by(_standardize_fused)
def standardize(X: Named, over: Axes, eps: float = 1e-5) -> Named:
    """standardize_over(X) = (X − mean_over X) / sqrt(var_over X + ε).

    With D = X − mean_over X, var_over X = mean_over D², so D is computed once,
    and D is multiplied by the reciprocal of the scale: a division per row,
    not per entry (compiled, as fast as torch's layer_norm).  float16 and
    bfloat16 data are standardized in float32, as torch does.

    Example:

    >>> x = nt.tensor([1., 2, 3], "layer")
    >>> nt.show(nt.standardize(x, "layer", eps=0))
    layer[3]
    [-1.2247  0.      1.2247]
    """
    D = X - mean(X, over)
    return D * (1 / sqrt(mean(D * D, over) + eps))


def _params(gamma, beta, allowed):
    return _axes_of(gamma) <= set(allowed) and _axes_of(beta) <= set(allowed)


def _batch_norm_fused(X, gamma, beta, batch, chans, layer, eps):
    sizes = sizes_of(X)
    extra = [a for a in X.names if a not in (batch, chans, layer)]
    if not _params(gamma, beta, extra + [chans]) or sizes[batch] * sizes[layer] == 1:
        return NotImplemented
    dt = float_dtype(X, gamma, beta)
    order = [batch] + extra + [chans, layer]
    x = data_in(X, tuple(order)).to(dt).reshape(sizes[batch], -1, sizes[layer])
    w = _pos(gamma, extra + [chans], sizes, dt).reshape(-1)
    bb = _pos(beta, extra + [chans], sizes, dt).reshape(-1)
    y = F.batch_norm(x, None, None, w, bb, training=True, eps=eps)
    return make(y.reshape([sizes[a] for a in order]), tuple(order))


@checked(X="has batch chans layer", gamma="", beta="", real=True)
@fused_by(_batch_norm_fused)
def batch_norm(X: Named, gamma: Named, beta: Named, *, batch: Axis = "batch",
               chans: Axis = "chans", layer: Axis = "layer", eps: float = 1e-5) -> Named:
    """BatchNorm(X; γ, β) = standardize_{batch,layer}(X) ⊙ γ + β, γ, β ∈ R^{chans}.

    Example:

    >>> X = nt.randn(seed=0, batch=4, chans=2, layer=3)
    >>> gamma, beta = nt.tensor([1., 2], "chans"), nt.tensor([0., 5], "chans")
    >>> Y = nt.batch_norm(X, gamma, beta)
    >>> nt.show(nt.mean(Y, ("batch", "layer")))      # β, per channel
    chans[2]
    [0. 5.]
    """
    return standardize(X, (batch, layer), eps) * gamma + beta


def _instance_norm_fused(X, gamma, beta, chans, layer, eps):
    sizes = sizes_of(X)
    if not _params(gamma, beta, [chans]) or sizes[layer] == 1:
        return NotImplemented
    dt = float_dtype(X, gamma, beta)
    rest = [a for a in X.names if a not in (chans, layer)]
    order = rest + [chans, layer]
    x = data_in(X, tuple(order)).to(dt).reshape(-1, sizes[chans], sizes[layer])
    w, bb = _pos(gamma, [chans], sizes, dt), _pos(beta, [chans], sizes, dt)
    y = F.instance_norm(x, weight=w, bias=bb, eps=eps)
    return make(y.reshape([sizes[a] for a in order]), tuple(order))


@checked(X="has chans layer", gamma="", beta="", real=True)
@fused_by(_instance_norm_fused)
def instance_norm(X: Named, gamma: Named, beta: Named, *, chans: Axis = "chans",
                  layer: Axis = "layer", eps: float = 1e-5) -> Named:
    """InstanceNorm(X; γ, β) = standardize_layer(X) ⊙ γ + β, γ, β ∈ R^{chans}.

    Example:

    >>> X = nt.randn(seed=0, batch=4, chans=2, layer=3)
    >>> ones, zeros = nt.tensor([1., 1], "chans"), nt.tensor([0., 0], "chans")
    >>> Y = nt.instance_norm(X, ones, zeros)
    >>> nt.show(nt.mean(Y, "layer"), ("batch", "chans"))
    batch[4] × chans[2]   (rows: batch, columns: chans)
    [[0. 0.]
     [0. 0.]
     [0. 0.]
     [0. 0.]]
    """
    return standardize(X, layer, eps) * gamma + beta


def _layer_norm_axes(chans, layer):
    return (layer,) if chans is None else (chans, layer)


def _layer_norm_fused(X, gamma, beta, layer, chans, eps):
    over = list(_layer_norm_axes(chans, layer))
    if not _params(gamma, beta, over):
        return NotImplemented
    sizes = sizes_of(X)
    dt = float_dtype(X, gamma, beta)
    rest = [a for a in X.names if a not in over]
    x = data_in(X, tuple(rest + over)).to(dt)
    w = _pos(gamma, over, sizes, dt).contiguous()
    bb = _pos(beta, over, sizes, dt).contiguous()
    y = F.layer_norm(x, [sizes[a] for a in over], w, bb, eps)
    return make(y, tuple(rest + over))


@checked(X="has layer chans", gamma="", beta="", real=True)
@fused_by(_layer_norm_fused)
def layer_norm(X: Named, gamma: Named, beta: Named, *, layer: Axis = "layer",
               chans: Axis | None = "chans", eps: float = 1e-5) -> Named:
    """LayerNorm(X; γ, β) = standardize_{layer,chans}(X) ⊙ γ + β, γ, β ∈ R^{chans×layer}.

    With chans=None it standardizes over layer alone (the Transformer's LayerNorm).

    Example:

    >>> X = nt.randn(seed=0, batch=2, layer=4)
    >>> gamma = nt.tensor([1., 1, 1, 1], "layer")
    >>> beta = nt.tensor([0., 0, 0, 0], "layer")
    >>> Y = nt.layer_norm(X, gamma, beta, chans=None)   # over layer alone
    >>> nt.show(nt.mean(Y, "layer"))
    batch[2]
    [0. 0.]
    >>> nt.show(nt.mean(Y * Y, "layer"), decimals=3)   # variance 1 (less ε)
    batch[2]
    [1. 1.]
    """
    return standardize(X, _layer_norm_axes(chans, layer), eps) * gamma + beta


def _group_norm_check(X, gamma, beta, k, chans, layer, kernel, eps):
    _divides(X, k, chans, "group_norm")
    axis_name(kernel, "group_norm", "kernel")   # the fused path never uses it


def _group_norm_fused(X, gamma, beta, k, chans, layer, kernel, eps):
    if not _params(gamma, beta, [chans]):
        return NotImplemented
    sizes = sizes_of(X)
    dt = float_dtype(X, gamma, beta)
    rest = [a for a in X.names if a not in (chans, layer)]
    order = rest + [chans, layer]
    x = data_in(X, tuple(order)).to(dt).reshape(-1, sizes[chans], sizes[layer])
    w, bb = _pos(gamma, [chans], sizes, dt), _pos(beta, [chans], sizes, dt)
    y = F.group_norm(x, sizes[chans] // k, w, bb, eps)
    return make(y.reshape([sizes[a] for a in order]), tuple(order))


@checked(X="has chans layer", gamma="", beta="", check=_group_norm_check, real=True)
@fused_by(_group_norm_fused)
def group_norm(X: Named, gamma: Named, beta: Named, k: int, *, chans: Axis = "chans",
               layer: Axis = "layer", kernel: Axis = "kernel", eps: float = 1e-5) -> Named:
    """GroupNorm_k(X; γ, β) = [standardize_{kernel,layer} pool_{chans,kernel} X]_{(chans,kernel)→chans} ⊙ γ + β.

    Groups of k consecutive channels are standardized together; γ, β ∈ R^{chans}.

    Example:

    >>> X = nt.randn(seed=0, batch=2, chans=4, layer=3)
    >>> ones = nt.tensor([1., 1, 1, 1], "chans")
    >>> zeros = nt.tensor([0., 0, 0, 0], "chans")
    >>> Y = nt.group_norm(X, ones, zeros, 2)     # two groups of two channels
    >>> nt.shape(Y)
    {'batch': 2, 'chans': 4, 'layer': 3}
    """
    P = pool(X, k, seq=chans, kernel=kernel)
    return flatten(standardize(P, (kernel, layer), eps), (chans, kernel), chans) * gamma + beta
