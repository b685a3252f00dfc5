"""The paper's Appendix A models: a Transformer and LeNet, as named-tensor formulas.

Everything here follows the latest version of the paper (TMLR 2023):

- Transformer: post-norm residuals ``T = LayerNorm(SelfAtt(X) + X)``,
  ``X' = LayerNorm(FFN(T) + T)``; an FFN without a final relu; ``b^{l,2}``
  over ``layer`` (the paper prints ``hidden``: an erratum); a causal mask;
  sinusoidal positional encodings; one embedding matrix ``E`` for input and
  output.  ``version="v1"`` runs the arXiv v1 layer instead (norm, then add;
  FFN ending in a relu) so the two can be compared.
- LeNet: two convolution + relu + max-pool stages, then two fully connected
  layers; ``MaxPool2d_{ph,pw}`` (the paper prints ``ph,ph``).

Parameters are plain dicts of named tensors whose data are leaf torch tensors
(``requires_grad=True``) on :func:`ntlib.device`; :func:`parameters` lists
those leaves for a torch optimizer.  The paper counts layers from 1 and so do
the parameter keys: ``"1.WQ"`` is ``W^{1,Q}``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Literal, Mapping, Sequence

import torch

from . import core
from ._internal import (AxisError, Axis, axis_size, checked, data_in, float_dtype, fmt, fused_by,
                        make, missing_axis, real, values_readable)
from .core import (Named, contract, device, exp, index, log, max, mean, names, randn, relu,
                   rename, shape, softmax, sum, tensor)
from .nn import attention, causal_mask, conv2d, layer_norm, max_pool2d

__all__ = [
    "one_hot", "embed", "positional_encoding", "init_transformer", "self_attention",
    "ffn", "transformer_layer", "transformer_logits", "transformer",
    "init_lenet", "lenet_logits", "lenet", "parameters", "cross_entropy",
]


def __dir__() -> list[str]:
    """dir() of the namespace: its own functions, not the names it imports."""
    return sorted(__all__)


# --------------------------------------------------------------------------
# parameters

def _param(sizes: OrderedDict[str, int], *, seed: int, scale: float,
           dtype: torch.dtype) -> Named:
    """A trainable named tensor: N(0, scale^2) entries drawn from ``seed``."""
    t = randn(seed=seed, dtype=dtype, **sizes)
    data = (t.data * scale).detach().requires_grad_(True)
    return tensor(data, tuple(sizes))


def _const(sizes, value, *, dtype):
    shape_ = tuple(sizes.values())
    data = torch.full(shape_, float(value), dtype=dtype, device=device()).requires_grad_(True)
    return tensor(data, tuple(sizes))


def parameters(params: Mapping[str, Named]) -> list[torch.Tensor]:
    """The leaf torch tensors behind a parameter dict, for a torch optimizer."""
    return [p.data for p in params.values()]


# --------------------------------------------------------------------------
# the Transformer (Appendix A.1)

#: the paper's version of the Transformer layer: the latest (TMLR) or arXiv v1
Version = Literal["latest", "v1"]

def _ids(ids, n, what, role, vocab):
    """Token ids as int64 in [0, n): any integer dtype, negative ids counted
    from the end (as a negative index); TypeError for other dtypes, AxisError
    for ids out of range."""
    dt = ids.data.dtype
    if dt == torch.bool or dt.is_floating_point or dt.is_complex:
        raise TypeError(f"{what}: {role} must hold integer token ids, got {dt} values "
                        f"(a {str(dt).replace('torch.', '')} tensor is not an index)")
    data = ids.data.to(torch.int64)
    if torch.compiler.is_compiling():   # no int() while traced: a check in the graph
        torch._assert_async(((data >= -n) & (data < n)).all(),
                            f"{what}: {role} must lie in [-{n}, {n}) to index axis "
                            f"{vocab!r}[{n}]")
    elif data.numel() and values_readable(data) \
            and (int(data.min()) < -n or int(data.max()) >= n):   # meta, vmap: no values
        raise AxisError(f"{what}: {role} must lie in [-{n}, {n}) to index axis "
                        f"{vocab!r}[{n}]; got ids from {int(data.min())} to "
                        f"{int(data.max())}")
    return data


def _one_hot_ids(tokens, vocab, size):
    size = axis_size(size, "one_hot", vocab)
    data = _ids(tokens, size, "one_hot", "tokens", vocab)
    return {"tokens": make(torch.where(data < 0, data + size, data), tokens.names),
            "size": size}


@checked(tokens="lacks vocab", check=_one_hot_ids, replaces="tokens size")
def one_hot(tokens: Named, *, vocab: Axis = "vocab", size: int) -> Named:
    """I ∈ {0,1}^{... × vocab}: the one-hot form of an integer named tensor.

    Example:

    >>> I = nt.tensor([2, 0, 1], "seq")
    >>> nt.show(nt.models.one_hot(I, size=3), ("seq", "vocab"))
    seq[3] × vocab[3]   (rows: seq, columns: vocab)
    [[0. 0. 1.]
     [1. 0. 0.]
     [0. 1. 0.]]
    """
    data = torch.nn.functional.one_hot(tokens.data, size).to(torch.float64)
    return tensor(data, names(tokens) + (vocab,))


def _embed_check(I, E, vocab, layer):
    if I.data.is_floating_point() and vocab not in I.names:
        raise TypeError(f"embed: I must be integer token ids or one-hot over "
                        f"{vocab!r}; got {I.data.dtype} values over "
                        f"{fmt(I.shape)}, without the axis {vocab!r}")


@checked(I="", E="has vocab layer", check=_embed_check)
def embed(I: Named, E: Named, *, vocab: Axis = "vocab", layer: Axis = "layer") -> Named:
    """W = (E ⊙_vocab I) √|layer|.

    ``I`` is one-hot over ``vocab`` as in the paper, or an integer named tensor
    of token ids; for ids the contraction with a one-hot vector is the same as
    indexing, E ⊙_vocab I = E_{vocab(I)}, and cheaper.
    """
    scale = math.sqrt(shape(E)[layer])
    if I.data.is_floating_point():
        I = tensor(I.data.to(E.data.dtype), names(I))  # one-hot in E's precision
        return contract(I, E, over=vocab) * scale
    return index(E, vocab, I) * scale


def _sizes(n, d, seq, layer, dtype):
    axis_size(n, "positional_encoding", seq)
    axis_size(d, "positional_encoding", layer)


@checked(check=_sizes)
def positional_encoding(n: int, d: int, *, seq: Axis = "seq", layer: Axis = "layer",
                        dtype: torch.dtype = torch.float64) -> Named:
    """P ∈ R^{seq[n] × layer[d]}, with the paper's 1-based p and i:

    P_{seq(p), layer(i)} = sin((p−1) / 10000^{(i−1)/|layer|})  for odd i,
                           cos((p−1) / 10000^{(i−2)/|layer|})  for even i.

    Example:

    >>> nt.show(nt.models.positional_encoding(3, 4), ("seq", "layer"))
    seq[3] × layer[4]   (rows: seq, columns: layer)
    [[ 0.      1.      0.      1.    ]
     [ 0.8415  0.5403  0.01    1.    ]
     [ 0.9093 -0.4161  0.02    0.9998]]
    """
    dev = device()
    p = torch.arange(1, n + 1, dtype=dtype, device=dev).unsqueeze(1)
    i = torch.arange(1, d + 1, dtype=dtype, device=dev).unsqueeze(0)
    P = torch.where(i % 2 == 1,
                    torch.sin((p - 1) / 10000 ** ((i - 1) / d)),
                    torch.cos((p - 1) / 10000 ** ((i - 2) / d)))
    return tensor(P, (seq, layer))


def _transformer_sizes(vocab, layers, heads, layer, hidden, seed, dtype, names):
    for ax, n in (("vocab", vocab), ("heads", heads), ("layer", layer),
                  ("hidden", 4 * layer if hidden is None else hidden)):
        axis_size(n, "init_transformer", (names or {}).get(ax, ax))


@checked(check=_transformer_sizes)
def init_transformer(*, vocab: int, layers: int = 2, heads: int = 4, layer: int = 64,
                     hidden: int | None = None, seed: int = 0,
                     dtype: torch.dtype = torch.float32,
                     names: Mapping[str, str] | None = None) -> dict[str, Named]:
    """Parameters of an L-layer Transformer, seeded, on :func:`ntlib.device`.

    ``|key| = |val| = |layer| / |heads|``; ``hidden`` defaults to 4 |layer|.
    Keys: ``E`` (vocab × layer) and, for l = 1..L, ``l.WQ``, ``l.WK``
    (heads × layer × key), ``l.WV`` (heads × layer × val), ``l.WO``
    (heads × val × layer), ``l.gamma``, ``l.beta`` (layer; after attention),
    ``l.W1`` (hidden × layer), ``l.b1`` (hidden), ``l.W2`` (hidden × layer),
    ``l.b2`` (layer), ``l.gamma'``, ``l.beta'`` (layer; after the FFN).
    ``names`` renames axes (e.g. ``{"layer": "emb"}``).

    Example:

    >>> params = nt.models.init_transformer(vocab=11, layers=1, heads=2,
    ...                                      layer=8)
    >>> nt.shape(params["1.WQ"])
    {'heads': 2, 'layer': 8, 'key': 4}
    >>> sum(p.numel() for p in nt.models.parameters(params))
    928
    """
    if layer % heads:
        raise AxisError(f"|layer| = {layer} is not divisible by |heads| = {heads}")
    hidden = 4 * layer if hidden is None else hidden
    dk = layer // heads
    n = {"vocab": "vocab", "layer": "layer", "heads": "heads", "key": "key",
         "val": "val", "hidden": "hidden"}
    n.update(names or {})

    def S(**sizes):
        return OrderedDict((n[a], s) for a, s in sizes.items())

    params = {"E": _param(S(vocab=vocab, layer=layer), seed=seed, scale=layer ** -0.5, dtype=dtype)}
    for l in range(1, layers + 1):
        s = seed + 100 * l
        params[f"{l}.WQ"] = _param(S(heads=heads, layer=layer, key=dk), seed=s + 1, scale=layer ** -0.5, dtype=dtype)
        params[f"{l}.WK"] = _param(S(heads=heads, layer=layer, key=dk), seed=s + 2, scale=layer ** -0.5, dtype=dtype)
        params[f"{l}.WV"] = _param(S(heads=heads, layer=layer, val=dk), seed=s + 3, scale=layer ** -0.5, dtype=dtype)
        params[f"{l}.WO"] = _param(S(heads=heads, val=dk, layer=layer), seed=s + 4, scale=layer ** -0.5, dtype=dtype)
        params[f"{l}.gamma"] = _const(S(layer=layer), 1.0, dtype=dtype)
        params[f"{l}.beta"] = _const(S(layer=layer), 0.0, dtype=dtype)
        params[f"{l}.W1"] = _param(S(hidden=hidden, layer=layer), seed=s + 5, scale=layer ** -0.5, dtype=dtype)
        params[f"{l}.b1"] = _const(S(hidden=hidden), 0.0, dtype=dtype)
        params[f"{l}.W2"] = _param(S(hidden=hidden, layer=layer), seed=s + 6, scale=hidden ** -0.5, dtype=dtype)
        params[f"{l}.b2"] = _const(S(layer=layer), 0.0, dtype=dtype)
        params[f"{l}.gamma'"] = _const(S(layer=layer), 1.0, dtype=dtype)
        params[f"{l}.beta'"] = _const(S(layer=layer), 0.0, dtype=dtype)
    return params


def _layers(params: Mapping[str, Named]) -> int:
    return len([k for k in params if k.endswith(".WQ")])


@checked("X")
def self_attention(X: Named, WQ: Named, WK: Named, WV: Named, WO: Named,
                   M: Named | None = None, *, seq: Axis = "seq", query: Axis = "seq'",
                   layer: Axis = "layer", heads: Axis = "heads", key: Axis = "key",
                   val: Axis = "val") -> Named:
    """SelfAtt(X) = W^O ⊙_{heads,val} Attention(Q, K, V, M)_{seq'→seq}, with

    Q = W^Q ⊙_layer X_{seq→seq'},  K = W^K ⊙_layer X,  V = W^V ⊙_layer X.

    ``query`` is the paper's seq' (the axis of the queries).  Every head is
    computed at once: ``heads`` is just one more axis that the formulas lift over.
    """
    # ⊙ is commutative; putting the activations first keeps their axis order
    # (batch, seq, ...) in the result, which is the fast layout for what follows.
    Q = contract(rename(X, {seq: query}), WQ, over=layer)
    K = contract(X, WK, over=layer)
    V = contract(X, WV, over=layer)
    A = attention(Q, K, V, M, key=key, seq=seq)
    return contract(rename(A, {query: seq}), WO, over=(heads, val))


def ffn(X: Named, W1: Named, b1: Named, W2: Named, b2: Named, *, layer: Axis = "layer",
        hidden: Axis = "hidden", final_relu: bool = False) -> Named:
    """FFN(X) = W^2 ⊙_hidden relu(W^1 ⊙_layer X + b^1) + b^2  (b^2 over layer).

    ``final_relu=True`` is the arXiv v1 version, which ends with a second relu.
    """
    X1 = relu(contract(X, W1, over=layer) + b1)     # = W^1 ⊙_layer X + b^1
    X2 = contract(X1, W2, over=hidden) + b2
    return relu(X2) if final_relu else X2


def _layer_norm(X, gamma, beta, *, layer, eps):
    """LayerNorm(X) = standardize_layer(X) ⊙ γ + β, γ, β ∈ R^{layer}."""
    return layer_norm(X, gamma, beta, layer=layer, chans=None, eps=eps)


#: the parameters of one Transformer layer l, as keys "l.WQ", ...
_LAYER_KEYS = ("WQ", "WK", "WV", "WO", "gamma", "beta", "W1", "b1", "W2", "b2",
              "gamma'", "beta'")


def _layer_keys(params, l, what):
    """KeyError naming the layer and the keys if layer l lacks a parameter."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{what}: params must be a dict of named tensors (from "
                        f"init_transformer), got {type(params).__name__}")
    missing = ", ".join(f"{l}.{k}" for k in _LAYER_KEYS if f"{l}.{k}" not in params)
    if missing:
        raise KeyError(f"{what}: params lack {missing}, a parameter of layer {l} "
                       f"(init_transformer makes every layer's)")


def _known_version(X, params, l, M, version, **axes):
    if version not in ("latest", "v1"):
        raise ValueError(f"version must be 'latest' or 'v1', got {version!r}")
    _layer_keys(params, l, "transformer_layer")


@checked("X", check=_known_version)
def transformer_layer(X: Named, params: Mapping[str, Named], l: int, M: Named | None = None,
                      *, version: Version = "latest", seq: Axis = "seq", query: Axis = "seq'",
                      layer: Axis = "layer", heads: Axis = "heads", key: Axis = "key",
                      val: Axis = "val", hidden: Axis = "hidden", eps: float = 1e-5) -> Named:
    """Layer l of the Transformer.

    latest (post-norm):  T = LayerNorm^l(SelfAtt^l(X) + X),  X' = LayerNorm^l'(FFN^l(T) + T).
    v1:                  T = LayerNorm^l(SelfAtt^l(X)) + X,  X' = LayerNorm^l'(FFN^l(T)) + T,
    with v1's FFN ending in a relu (v1 writes XNorm, which it never defines; we
    read it as the same LayerNorm).
    """
    p = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(f"{l}.")}
    ax = dict(seq=seq, query=query, layer=layer, heads=heads, key=key, val=val)
    att = self_attention(X, p["WQ"], p["WK"], p["WV"], p["WO"], M, **ax)
    if version == "latest":
        T = _layer_norm(att + X, p["gamma"], p["beta"], layer=layer, eps=eps)
        F = ffn(T, p["W1"], p["b1"], p["W2"], p["b2"], layer=layer, hidden=hidden)
        return _layer_norm(F + T, p["gamma'"], p["beta'"], layer=layer, eps=eps)
    if version == "v1":  # (the declared check admits no other version)
        T = _layer_norm(att, p["gamma"], p["beta"], layer=layer, eps=eps) + X
        F = ffn(T, p["W1"], p["b1"], p["W2"], p["b2"], layer=layer, hidden=hidden,
                final_relu=True)
        return _layer_norm(F, p["gamma'"], p["beta'"], layer=layer, eps=eps) + T


def _logits_check(I, params, version, causal, seq, query, vocab, layer, heads, key, val,
                  hidden, eps):
    if "E" not in params:
        raise KeyError("transformer_logits: params lack the embedding 'E' (vocab × layer)")
    numbers = {k.split(".", 1)[0] for k in params if "." in k}
    for l in numbers:
        if not l.isdigit():
            raise KeyError(f"transformer_logits: parameter keys are 'E' and 'l.name' "
                           f"with l a layer number; got a key starting {l + '.'!r}")
    for l in range(1, len(numbers) + 1):
        _layer_keys(params, l, "transformer_logits")
    E = params["E"]
    for a in (vocab, layer):
        if a not in E.names:
            raise missing_axis("transformer_logits (E)", a, E)
    real("transformer_logits", **params)


@checked(I="has seq", check=_logits_check)
def transformer_logits(I: Named, params: Mapping[str, Named], *, version: Version = "latest",
                       causal: bool = True, seq: Axis = "seq", query: Axis = "seq'",
                       vocab: Axis = "vocab", layer: Axis = "layer", heads: Axis = "heads",
                       key: Axis = "key", val: Axis = "val", hidden: Axis = "hidden",
                       eps: float = 1e-5) -> Named:
    """E ⊙_layer X^L: the Transformer's scores over ``vocab`` before the softmax.

    X^0 = W + P with W = (E ⊙_vocab I) √|layer| and P the positional encoding;
    then L layers (:func:`transformer_layer`) with the causal mask
    M_{seq(i), seq'(j)} = 0 if i ≤ j else −∞.
    """
    E = params["E"]
    W = embed(I, E, vocab=vocab, layer=layer)
    n, d = shape(W)[seq], shape(E)[layer]
    X = W + positional_encoding(n, d, seq=seq, layer=layer, dtype=E.data.dtype)
    M = causal_mask(n, seq=seq, query=query, dtype=E.data.dtype) if causal else None
    ax = dict(seq=seq, query=query, layer=layer, heads=heads, key=key, val=val, hidden=hidden)
    for l in range(1, _layers(params) + 1):
        X = transformer_layer(X, params, l, M, version=version, eps=eps, **ax)
    return contract(X, E, over=layer)               # = E ⊙_layer X^L


def transformer(I: Named, params: Mapping[str, Named], **kw: Any) -> Named:
    """O = softmax_vocab(E ⊙_layer X^L): next-token distributions at every position.

    Keyword arguments (axis names with the paper's defaults, ``version``,
    ``causal``, ``eps``) are those of :func:`transformer_logits`.

    Example:

    >>> params = nt.models.init_transformer(vocab=11, layers=1, heads=2,
    ...                                      layer=8)
    >>> I = nt.models.one_hot(nt.tensor([3, 1, 4, 1, 5], "seq"), size=11)
    >>> Y = nt.models.transformer(I, params)    # causal: p(next token)
    >>> nt.shape(Y)
    {'seq': 5, 'vocab': 11}
    >>> J = nt.models.one_hot(nt.tensor([3, 1, 4, 1, 9], "seq"), size=11)
    >>> first = lambda Z: nt.index(Z, "seq", 0)
    >>> nt.calculus.max_difference(first(nt.models.transformer(J, params)),
    ...                            first(Y)) < 1e-6   # last token unseen
    True
    """
    return softmax(transformer_logits(I, params, **kw), kw.get("vocab", "vocab"))


def _cross_entropy_check(logits, target, vocab, reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    if vocab in target.names:
        raise AxisError(f"cross_entropy: the target holds class ids and must not have "
                        f"the axis {vocab!r}; its axes are {fmt(target.shape)}")
    _ids(target, logits.shape[vocab], "cross_entropy", "target", vocab)


def _cross_entropy_fused(logits, target, vocab, reduction):
    rest = tuple(a for a in logits.names if a != vocab)
    if set(target.names) != set(rest):
        return NotImplemented   # target with other axes: the formula lifts
    z = data_in(logits, rest + (vocab,)).to(float_dtype(logits))
    t = data_in(target, rest).to(torch.int64)
    t = torch.where(t < 0, t + z.shape[-1], t)      # negative ids count from the end
    loss = torch.nn.functional.cross_entropy(z.reshape(-1, z.shape[-1]), t.reshape(-1),
                                             reduction=reduction)
    if reduction == "none":
        return make(loss.reshape(t.shape), rest)
    return make(loss, ())


@checked(logits="has vocab", target="", check=_cross_entropy_check, real=True)
@fused_by(_cross_entropy_fused)
def cross_entropy(logits: Named, target: Named, *, vocab: Axis = "vocab",
                  reduction: str = "mean") -> Named:
    """−log softmax_vocab(logits) at the target ids, averaged over positions.

    −log softmax_vocab(Z)_{vocab(t)} = log Σ_vocab exp Z − Z_{vocab(t)}; the
    maximum over vocab is subtracted first, for floating-point safety.
    ``reduction="sum"`` sums instead of averaging; ``reduction="none"`` keeps
    one loss per position (every axis but ``vocab``).

    Example:

    >>> logits = nt.tensor([[2., 0, 0], [0, 0, 0]], ("seq", "vocab"))
    >>> target = nt.tensor([0, 2], "seq")
    >>> nt.show(nt.models.cross_entropy(logits, target, reduction="none"))
    seq[2]
    [0.2395 1.0986]
    >>> nt.show(nt.models.cross_entropy(logits, target))
    scalar: 0.6691
    """
    z = logits - max(logits, vocab)
    nll = log(sum(exp(z), vocab)) - index(z, vocab, target)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return sum(nll)
    return mean(nll, names(nll))


# --------------------------------------------------------------------------
# LeNet (Appendix A.2)

def _lenet_sizes(chans, kernels, pools, height, width, hidden, classes, seed, dtype):
    for ax, n in (("height", height), ("width", width), ("hidden", hidden),
                  ("classes", classes)):
        axis_size(n, "init_lenet", ax)


@checked(check=_lenet_sizes)
def init_lenet(*, chans: Sequence[int] = (1, 6, 16),
               kernels: Sequence[tuple[int, int]] = ((5, 5), (5, 5)),
               pools: Sequence[tuple[int, int]] = ((2, 2), (2, 2)),
               height: int = 28, width: int = 28, hidden: int = 120, classes: int = 10,
               seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, Named]:
    """Parameters of LeNet, seeded, on :func:`ntlib.device`.

    ``W1``, ``W2`` ∈ R^{chans'[c_l] × chans[c_{l−1}] × kh × kw}, ``b1``, ``b2`` ∈ R^{chans'};
    ``W3`` ∈ R^{hidden × layer}, where layer is the flattened (height, width, chans)
    after the second pooling; ``W4`` ∈ R^{classes × hidden}.  The sizes of
    ``layer`` are found by running the shape arithmetic (valid convolutions,
    pools that divide evenly).
    """
    h, w = height, width
    params = {}
    for l, ((kh, kw), (ph, pw)) in enumerate(zip(kernels, pools), start=1):
        fan_in = chans[l - 1] * kh * kw
        params[f"W{l}"] = _param(OrderedDict([("chans'", chans[l]), ("chans", chans[l - 1]),
                                              ("kh", kh), ("kw", kw)]),
                                 seed=seed + l, scale=fan_in ** -0.5 * math.sqrt(2), dtype=dtype)
        params[f"b{l}"] = _const(OrderedDict([("chans'", chans[l])]), 0.0, dtype=dtype)
        h, w = h - kh + 1, w - kw + 1
        if h % ph or w % pw:
            raise AxisError(f"pool {ph}x{pw} does not divide the {h}x{w} feature map of stage {l}")
        h, w = h // ph, w // pw
    n_layer = h * w * chans[-1]
    params["W3"] = _param(OrderedDict([("hidden", hidden), ("layer", n_layer)]), seed=seed + 3,
                          scale=n_layer ** -0.5 * math.sqrt(2), dtype=dtype)
    params["b3"] = _const(OrderedDict([("hidden", hidden)]), 0.0, dtype=dtype)
    params["W4"] = _param(OrderedDict([("classes", classes), ("hidden", hidden)]), seed=seed + 4,
                          scale=hidden ** -0.5, dtype=dtype)
    params["b4"] = _const(OrderedDict([("classes", classes)]), 0.0, dtype=dtype)
    return params


def _conv(X, W, b, *, chans, height, width):
    """Conv^l(X) = Conv2d(X; W^l, b^l)_{chans'→chans}."""
    Y = conv2d(X, W, b, chans=chans, height=height, width=width, kh="kh", kw="kw")
    return rename(Y, {"chans'": chans})


def _lenet_check(X, params, pools, flatten, chans, height, width, layer, hidden, classes):
    missing = [k for k in ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4") if k not in params]
    if missing:
        raise KeyError(f"lenet_logits: params lack {', '.join(missing)}, parameters of "
                       f"layer {', '.join(sorted({k[1] for k in missing}))} (init_lenet "
                       f"makes them)")
    W4 = params["W4"]
    for a in (classes, hidden):
        if a not in W4.names:
            raise missing_axis("lenet_logits (W4)", a, W4)


@checked("X", check=_lenet_check)
def lenet_logits(X: Named, params: Mapping[str, Named], *,
                 pools: Sequence[tuple[int, int]] = ((2, 2), (2, 2)), flatten: bool = True,
                 chans: Axis = "chans", height: Axis = "height", width: Axis = "width",
                 layer: Axis = "layer", hidden: Axis = "hidden",
                 classes: Axis = "classes") -> Named:
    """W^4 ⊙_hidden X^3 + b^4: LeNet's class scores before the softmax.

    T^1 = relu(Conv^1(X^0)),  X^1 = MaxPool2d_{ph^1,pw^1}(T^1),
    T^2 = relu(Conv^2(X^1)),  X^2 = MaxPool2d_{ph^2,pw^2}(T^2)_{(height,width,chans)→layer},
    X^3 = relu(W^3 ⊙_layer X^2 + b^3).

    ``flatten=False`` skips the flattening and contracts over the three axes
    instead: X^3 = relu(W^3 ⊙_{height,width,chans} X^2 + b^3), with W^3's
    ``layer`` axis unflattened in the same (height, width, chans) order.
    """
    ax = dict(chans=chans, height=height, width=width)
    (ph1, pw1), (ph2, pw2) = pools
    T1 = relu(_conv(X, params["W1"], params["b1"], **ax))
    X1 = max_pool2d(T1, ph1, pw1, height=height, width=width)
    T2 = relu(_conv(X1, params["W2"], params["b2"], **ax))
    X2 = max_pool2d(T2, ph2, pw2, height=height, width=width)
    W3 = params["W3"]
    if flatten:
        X2 = core.flatten(X2, (height, width, chans), layer)
        X3 = relu(contract(X2, W3, over=layer) + params["b3"])
    else:
        s = shape(X2)
        W3 = core.unflatten(W3, layer, {height: s[height], width: s[width], chans: s[chans]})
        X3 = relu(contract(X2, W3, over=(height, width, chans)) + params["b3"])
    return contract(X3, params["W4"], over=hidden) + params["b4"]


def lenet(X: Named, params: Mapping[str, Named], **kw: Any) -> Named:
    """O = softmax_classes(W^4 ⊙_hidden X^3 + b^4); keywords as :func:`lenet_logits`."""
    return softmax(lenet_logits(X, params, **kw), kw.get("classes", "classes"))
