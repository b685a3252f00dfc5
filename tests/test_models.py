"""Appendix A models against independent positional torch implementations.

The references below are written with ordinary positional torch (einsum over
explicit dimension orders, F.layer_norm, F.conv2d, F.max_pool2d, F.linear) from
the equations, and read the same weights through ``nt.positional`` with an
explicit axis order; they live in ntlib.testing, and ``benchmarks/bench_models.py``
times the same references.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import ntlib as nt
from ntlib.testing import (lenet_reference as ref_lenet_logits, lenet_weights,
                           positional_encoding_reference as ref_positional_encoding,
                           transformer_reference as ref_transformer_logits,
                           transformer_weights)

TOL = dict(rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------
# positional references: ntlib.testing's (the benchmarks time the same ones)

def randomize(params, seed):
    """Replace the initial biases (0), γ (1) and β (0) by random non-zero values.

    With the initial values a model that dropped a bias, or swapped γ and β,
    would still match the reference; with these it cannot (tested below).
    """
    out = dict(params)
    for k, (name, v) in enumerate(sorted(params.items())):
        base = name.split(".")[-1]
        if base.startswith(("b", "gamma", "beta")) and not base.startswith("W"):
            d = nt.positional(v, nt.names(v))
            g = torch.Generator().manual_seed(seed * 1000 + k)
            r = torch.randn(d.shape, generator=g, dtype=d.dtype).to(d.device) * 0.5
            if base.startswith("gamma"):
                r = r + 1.0
            out[name] = nt.tensor(r.requires_grad_(True), nt.names(v))
    return out


def _tf(vocab=11, layers=2, heads=4, layer=16, seed=0, random_affine=True):
    params = nt.models.init_transformer(vocab=vocab, layers=layers, heads=heads, layer=layer,
                                 hidden=24, seed=seed, dtype=torch.float64)
    return randomize(params, seed) if random_affine else params


def _lenet(seed=0, **cfg):
    return randomize(nt.models.init_lenet(seed=seed, dtype=torch.float64, **cfg), seed + 1)


def test_positional_encoding_matches_vaswani():
    P = nt.models.positional_encoding(9, 12)
    torch.testing.assert_close(nt.positional(P, ("seq", "layer")).cpu(),
                               ref_positional_encoding(9, 12), **TOL)


def test_positional_encoding_one_based_entries():
    d = 6
    P = nt.models.positional_encoding(4, d)
    for p in range(1, 5):          # the paper's 1-based p and i
        for i in range(1, d + 1):
            want = (math.sin((p - 1) / 10000 ** ((i - 1) / d)) if i % 2 == 1
                    else math.cos((p - 1) / 10000 ** ((i - 2) / d)))
            assert abs(float(P.data[p - 1, i - 1]) - want) < 1e-12


def test_embedding_one_hot_equals_index():
    params = _tf()
    I = nt.randint(0, 11, seed=1, batch=3, seq=5)
    a = nt.models.embed(I, params["E"])
    b = nt.models.embed(nt.models.one_hot(I, size=11), params["E"])
    torch.testing.assert_close(nt.positional(a, ("batch", "seq", "layer")),
                               nt.positional(b, ("batch", "seq", "layer")), **TOL)


@pytest.mark.parametrize("version", ["latest", "v1"])
@pytest.mark.parametrize("layers,heads", [(1, 1), (2, 4), (3, 2)])
@pytest.mark.parametrize("fused", [True, False])
def test_transformer_matches_positional_reference(version, layers, heads, fused):
    params = _tf(layers=layers, heads=heads, seed=layers * 10 + heads)
    tokens = nt.randint(0, 11, seed=2, batch=3, seq=7)
    if fused:
        O = nt.models.transformer(tokens, params, version=version)
    else:
        with nt.plain():
            O = nt.models.transformer(tokens, params, version=version)
    ref = torch.softmax(ref_transformer_logits(nt.positional(tokens, ("batch", "seq")),
                                               transformer_weights(params), version), -1)
    torch.testing.assert_close(nt.positional(O, ("batch", "seq", "vocab")), ref, **TOL)


def test_transformer_without_mask_and_without_batch():
    params = _tf()
    tokens = nt.randint(0, 11, seed=3, seq=6)
    O = nt.models.transformer(tokens, params, causal=False)
    ref = torch.softmax(ref_transformer_logits(nt.positional(tokens, "seq").unsqueeze(0),
                                               transformer_weights(params), causal=False), -1)[0]
    torch.testing.assert_close(nt.positional(O, ("seq", "vocab")), ref, **TOL)


def test_transformer_gradients_match_reference():
    params = _tf(layers=2, heads=2)
    tokens = nt.randint(0, 11, seed=4, batch=2, seq=5)
    loss = nt.models.cross_entropy(nt.models.transformer_logits(tokens, params), tokens)
    loss.data.backward()
    w = transformer_weights(params)
    ref_w = {"E": w["E"].detach().clone().requires_grad_(),
             "layers": [{k: v.detach().clone().requires_grad_() for k, v in p.items()}
                        for p in w["layers"]]}
    logits = ref_transformer_logits(nt.positional(tokens, ("batch", "seq")), ref_w)
    ref_loss = F.cross_entropy(logits.reshape(-1, 11), nt.positional(tokens, ("batch", "seq")).reshape(-1))
    ref_loss.backward()
    torch.testing.assert_close(loss.data, ref_loss, **TOL)
    torch.testing.assert_close(params["E"].data.grad, ref_w["E"].grad, **TOL)
    got = nt.tensor(params["1.WQ"].data.grad, nt.names(params["1.WQ"]))
    torch.testing.assert_close(nt.positional(got, ("heads", "layer", "key")),
                               ref_w["layers"][0]["WQ"].grad, **TOL)


def test_self_attention_matches_torch_multihead_attention():
    d, h, n = 16, 4, 6
    params = _tf(layer=d, heads=h, layers=1)
    X = nt.randn(seed=5, batch=3, seq=n, layer=d)
    M = nt.causal_mask(n, seq="seq", query="seq'")
    p = {k: params[f"1.{k}"] for k in ("WQ", "WK", "WV", "WO")}
    Y = nt.models.self_attention(X, p["WQ"], p["WK"], p["WV"], p["WO"], M)
    mha = torch.nn.MultiheadAttention(d, h, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # in_proj rows are (head, key) flattened; columns are layer
        proj = [nt.positional(p[k], ("heads", ax, "layer")).reshape(d, d)
                for k, ax in (("WQ", "key"), ("WK", "key"), ("WV", "val"))]
        mha.in_proj_weight.copy_(torch.cat(proj).cpu())
        mha.out_proj.weight.copy_(nt.positional(p["WO"], ("layer", "heads", "val")).reshape(d, d).cpu())
    x = nt.positional(X, ("batch", "seq", "layer")).cpu()
    mask = nt.positional(M, ("seq'", "seq")).cpu()   # (query, key), as torch wants
    ref, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(nt.positional(Y, ("batch", "seq", "layer")).cpu(), ref, **TOL)
    with nt.plain():
        Y2 = nt.models.self_attention(X, p["WQ"], p["WK"], p["WV"], p["WO"], M)
    torch.testing.assert_close(nt.positional(Y2, ("batch", "seq", "layer")).cpu(), ref, **TOL)


def test_ffn_b2_is_over_layer_and_v1_ends_in_relu():
    params = _tf(layers=1)
    X = nt.randn(seed=6, seq=4, layer=16)
    args = [params[f"1.{k}"] for k in ("W1", "b1", "W2", "b2")]
    assert nt.shape(params["1.b2"]) == {"layer": 16}
    Y = nt.models.ffn(X, *args)
    Yv1 = nt.models.ffn(X, *args, final_relu=True)
    assert nt.shape(Y) == {"seq": 4, "layer": 16}
    y = nt.positional(Y, ("seq", "layer"))
    assert (y < 0).any()
    torch.testing.assert_close(nt.positional(Yv1, ("seq", "layer")), torch.relu(y), **TOL)


def test_versions_differ():
    params = _tf()
    tokens = nt.randint(0, 11, seed=7, batch=2, seq=5)
    a = nt.positional(nt.models.transformer(tokens, params), ("batch", "seq", "vocab"))
    b = nt.positional(nt.models.transformer(tokens, params, version="v1"), ("batch", "seq", "vocab"))
    assert (a - b).abs().max() > 1e-2
    with pytest.raises(ValueError):
        nt.models.transformer(tokens, params, version="v2")


def test_transformer_custom_axis_names():
    params = _tf()
    renamed = {k: nt.rename(v, {a: a.upper() for a in nt.names(v)}) for k, v in params.items()}
    tokens = nt.randint(0, 11, seed=8, batch=2, seq=5)
    O = nt.models.transformer(tokens, params)
    O2 = nt.models.transformer(nt.rename(tokens, {"seq": "SEQ"}), renamed, seq="SEQ", query="Q",
                        vocab="VOCAB", layer="LAYER", heads="HEADS", key="KEY", val="VAL",
                        hidden="HIDDEN")
    torch.testing.assert_close(nt.positional(O2, ("batch", "SEQ", "VOCAB")),
                               nt.positional(O, ("batch", "seq", "vocab")), **TOL)


def test_causal_prefix_property():
    """With the causal mask, outputs at positions < k do not depend on tokens at positions ≥ k."""
    params = _tf()
    a = torch.tensor([[1, 2, 3, 4, 5, 6]])
    b = a.clone()
    b[0, 4:] = torch.tensor([9, 0])
    Oa = nt.positional(nt.models.transformer(nt.tensor(a, ("batch", "seq")), params), ("batch", "seq", "vocab"))
    Ob = nt.positional(nt.models.transformer(nt.tensor(b, ("batch", "seq")), params), ("batch", "seq", "vocab"))
    torch.testing.assert_close(Oa[:, :4], Ob[:, :4], **TOL)
    assert (Oa[:, 4:] - Ob[:, 4:]).abs().max() > 1e-3


def test_heads_must_divide_layer():
    with pytest.raises(nt.AxisError, match="divisible"):
        nt.models.init_transformer(vocab=5, layer=10, heads=4)


def test_parameters_are_seeded_leaves():
    a, b = _tf(seed=3, random_affine=False), _tf(seed=3, random_affine=False)
    assert all(torch.equal(a[k].data, b[k].data) for k in a)
    leaves = nt.models.parameters(a)
    assert all(t.is_leaf and t.requires_grad and t.device == nt.device() for t in leaves)
    assert not torch.equal(a["1.WQ"].data, a["1.WK"].data)


# --------------------------------------------------------------------------
# LeNet

@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cfg", [
    dict(height=28, width=28, kernels=((5, 5), (5, 5)), pools=((2, 2), (2, 2))),
    dict(height=16, width=12, kernels=((3, 5), (2, 3)), pools=((2, 1), (1, 2))),
])
def test_lenet_matches_positional_reference(fused, cfg):
    params = _lenet(chans=(2, 4, 5), height=cfg["height"], width=cfg["width"],
                    kernels=cfg["kernels"], pools=cfg["pools"], hidden=7)
    X = nt.randn(seed=9, batch=3, chans=2, height=cfg["height"], width=cfg["width"])
    if fused:
        O = nt.models.lenet(X, params, pools=cfg["pools"])
    else:
        with nt.plain():
            O = nt.models.lenet(X, params, pools=cfg["pools"])
    x = nt.positional(X, ("batch", "chans", "height", "width"))
    ref = torch.softmax(ref_lenet_logits(x, lenet_weights(params), cfg["pools"]), -1)
    torch.testing.assert_close(nt.positional(O, ("batch", "classes")), ref, **TOL)


def test_lenet_contraction_form_equals_flattening_form():
    params = _lenet(height=16, width=16, kernels=((5, 5), (3, 3)))
    X = nt.randn(seed=10, batch=5, chans=1, height=16, width=16)
    a = nt.models.lenet(X, params)
    b = nt.models.lenet(X, params, flatten=False)
    torch.testing.assert_close(nt.positional(a, ("batch", "classes")),
                               nt.positional(b, ("batch", "classes")), **TOL)


def test_lenet_pool_uses_ph_and_pw():
    """The erratum: MaxPool2d_{ph,pw}, not _{ph,ph}; a 2x1 pool halves height only."""
    params = nt.models.init_lenet(chans=(1, 2, 2), height=14, width=6, kernels=((3, 3), (3, 1)),
                           pools=((2, 1), (2, 1)), hidden=3, dtype=torch.float64)
    # height 14 -> 12 -> 6 -> 4 -> 2; width 6 -> 4 -> 4 -> 4 -> 4; layer = 2 * 4 * 2 chans
    assert nt.shape(params["W3"])["layer"] == 16
    X = nt.randn(seed=11, batch=2, chans=1, height=14, width=6)
    T = nt.models.lenet(X, params, pools=((2, 1), (2, 1)))
    assert nt.shape(T) == {"batch": 2, "classes": 10}
    with pytest.raises(nt.AxisError):
        nt.models.lenet(X, params, pools=((2, 2), (2, 2)))


def test_cross_entropy_and_softmax_fused_equal_plain():
    z = nt.randn(seed=12, batch=4, seq=3, vocab=6)
    t = nt.randint(0, 6, seed=13, batch=4, seq=3)
    ref = F.cross_entropy(nt.positional(z, ("batch", "seq", "vocab")).reshape(-1, 6),
                          nt.positional(t, ("batch", "seq")).reshape(-1))
    torch.testing.assert_close(nt.models.cross_entropy(z, t).data, ref, **TOL)
    with nt.plain():
        torch.testing.assert_close(nt.models.cross_entropy(z, t).data, ref, **TOL)
    params = _tf()
    tokens = nt.randint(0, 11, seed=14, batch=2, seq=4)
    a = nt.positional(nt.models.transformer(tokens, params), ("batch", "seq", "vocab"))
    with nt.plain():
        b = nt.positional(nt.models.transformer(tokens, params), ("batch", "seq", "vocab"))
    torch.testing.assert_close(a, b, **TOL)


def test_one_hot_input_in_float32_model():
    params = nt.models.init_transformer(vocab=11, layers=1, heads=2, layer=8, seed=1, dtype=torch.float32)
    tokens = nt.randint(0, 11, seed=15, batch=2, seq=4)
    a = nt.positional(nt.models.transformer(tokens, params), ("batch", "seq", "vocab"))
    b = nt.positional(nt.models.transformer(nt.models.one_hot(tokens, size=11), params), ("batch", "seq", "vocab"))
    assert a.dtype == b.dtype == torch.float32
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# the checks above can fail: a deliberately broken model is caught

def _broken_ffn(X, W1, b1, W2, b2, *, layer="layer", hidden="hidden", final_relu=False):
    X1 = nt.relu(nt.contract(X, W1, over=layer) + b1)
    X2 = nt.contract(X1, W2, over=hidden)          # b2 dropped
    return nt.relu(X2) if final_relu else X2


def _swapped_layer_norm(X, gamma, beta, *, layer, eps):
    return nt.layer_norm(X, beta, gamma, layer=layer, chans=None, eps=eps)   # γ, β swapped


def _conv_without_bias(X, W, b, *, chans, height, width):
    return nt.rename(nt.conv2d(X, W, b * 0, chans=chans, height=height, width=width),
                     {"chans'": chans})


def _transformer_matches(params):
    tokens = nt.randint(0, 11, seed=2, batch=2, seq=5)
    O = nt.models.transformer(tokens, params)
    ref = torch.softmax(ref_transformer_logits(nt.positional(tokens, ("batch", "seq")),
                                               transformer_weights(params)), -1)
    try:
        torch.testing.assert_close(nt.positional(O, ("batch", "seq", "vocab")), ref, **TOL)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("attr,broken", [("ffn", _broken_ffn),
                                         ("_layer_norm", _swapped_layer_norm)])
def test_broken_transformer_is_caught(monkeypatch, attr, broken):
    params = _tf(layers=1, heads=2)
    assert _transformer_matches(params)
    monkeypatch.setattr(nt.models, attr, broken)
    assert not _transformer_matches(params)
    if attr == "ffn":   # why the biases must be random: with b2 = 0 it would pass
        assert _transformer_matches(_tf(layers=1, heads=2, random_affine=False))


def test_broken_lenet_is_caught(monkeypatch):
    cfg = dict(chans=(1, 3, 4), height=18, width=18, kernels=((3, 3), (3, 3)), hidden=5)
    params = _lenet(**cfg)
    X = nt.randn(seed=9, batch=2, chans=1, height=18, width=18)
    ref = torch.softmax(ref_lenet_logits(nt.positional(X, ("batch", "chans", "height", "width")),
                                         lenet_weights(params)), -1)
    torch.testing.assert_close(nt.positional(nt.models.lenet(X, params), ("batch", "classes")), ref,
                               **TOL)
    monkeypatch.setattr(nt.models, "_conv", _conv_without_bias)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(nt.positional(nt.models.lenet(X, params), ("batch", "classes")),
                                   ref, **TOL)
