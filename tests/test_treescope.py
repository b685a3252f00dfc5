"""treescope's array adapter for named tensors (ntlib/_treescope.py).

The reference is a positional torch tensor ``X`` laid out (a, b, c); the named
tensors under test store it in other orders, so an adapter that reported
storage positions, or mixed up names and sizes, would fail.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import ntlib as nt

treescope = pytest.importorskip("treescope")
from treescope import lowering, ndarray_adapters  # noqa: E402

SIZES = {"a": 3, "b": 5, "c": 4}
X = torch.arange(60, dtype=torch.float64).reshape(3, 5, 4) * 0.5 - 7


def stored(order):
    """X as a named tensor stored in ``order``."""
    perm = [list(SIZES).index(a) for a in order]
    return nt.tensor(X.permute(*perm).contiguous(), tuple(order))


ORDERS = [("a", "b", "c"), ("c", "a", "b"), ("b", "c", "a")]


def adapter(x):
    return type(x).__treescope_ndarray_adapter__(x)


def as_abc(data, infos):
    """Adapter data (in the adapter's axis order) back to the (a, b, c) layout."""
    names = [i.axis_name for i in infos]
    return torch.as_tensor(np.asarray(data)).permute(*[names.index(a) for a in SIZES])


@pytest.mark.parametrize("order", ORDERS, ids="".join)
def test_axes_are_named_with_their_sizes(order):
    x = stored(order)
    infos = adapter(x).get_axis_info_for_array_data(x)
    assert all(isinstance(i, ndarray_adapters.NamedPositionlessAxisInfo) for i in infos)
    assert sorted((i.axis_name, i.size) for i in infos) == sorted(SIZES.items())


@pytest.mark.parametrize("order", ORDERS, ids="".join)
def test_values_by_name_match_the_positional_reference(order):
    x = stored(order)
    ad = adapter(x)
    infos = ad.get_axis_info_for_array_data(x)
    data, mask = ad.get_array_data_with_truncation(x, None, (None,) * 3)
    assert data.dtype == ad.get_numpy_dtype(x) == np.float64
    assert torch.equal(as_abc(data, infos), X)
    assert mask.shape == data.shape and mask.all()


@pytest.mark.parametrize("order", ORDERS, ids="".join)
def test_truncation_keeps_the_edges_and_masks_the_middle(order):
    x = stored(order)
    ad = adapter(x)
    infos = ad.get_axis_info_for_array_data(x)
    edges = {"a": None, "b": 2, "c": 1}
    data, mask = ad.get_array_data_with_truncation(
        x, None, tuple(edges[i.axis_name] for i in infos))
    data, mask = as_abc(data, infos), as_abc(mask, infos)
    assert tuple(data.shape) == (3, 5, 3)
    keep_b, keep_c = [0, 1, 3, 4], [0, 2]
    assert torch.equal(data[:, keep_b][:, :, keep_c], X[:, [0, 1, 3, 4]][:, :, [0, 3]])
    assert not mask[:, 2].any() and not mask[:, :, 1].any()
    assert mask[:, keep_b][:, :, keep_c].all()


def test_a_named_mask_is_matched_by_name_and_broadcast():
    x = stored(("c", "a", "b"))
    ad = adapter(x)
    infos = ad.get_axis_info_for_array_data(x)
    keep = torch.tensor([[True, False, True, True, False]] * 3)     # (a, b)
    m = nt.tensor(keep.T.contiguous(), ("b", "a"))
    _, mask = ad.get_array_data_with_truncation(x, m, (None,) * 3)
    assert torch.equal(as_abc(mask, infos), keep[:, :, None].expand(3, 5, 4))
    with pytest.raises(nt.AxisError, match="'d'"):
        ad.get_array_data_with_truncation(x, nt.tensor(torch.ones(2, dtype=torch.bool), "d"),
                                          (None,) * 3)
    with pytest.raises(nt.AxisError, match="'a'.*size 2"):
        ad.get_array_data_with_truncation(x, nt.tensor(torch.ones(2, dtype=torch.bool), "a"),
                                          (None,) * 3)
    with pytest.raises(TypeError, match="named tensor"):
        ad.get_array_data_with_truncation(x, np.ones((4, 3, 5), bool), (None,) * 3)


def test_low_precision_and_integer_dtypes():
    h = nt.tensor(X.to(torch.bfloat16), ("a", "b", "c"))
    ad = adapter(h)
    data, _ = ad.get_array_data_with_truncation(h, None, (None,) * 3)
    assert data.dtype == ad.get_numpy_dtype(h) == np.float32
    assert np.array_equal(data, X.to(torch.bfloat16).float().numpy())
    i = nt.tensor(torch.tensor([[2, -1], [0, 7]]), ("r", "s"))
    summary = lowering.render_to_text_as_root(adapter(i).get_array_summary(i, fast=False))
    assert "int64(r:2, s:2)" in summary and "[≥-1, ≤7]" in summary


def _arrayviz_config(html):
    """The JSON arrayviz draws from, in uncompressed treescope HTML."""
    m = re.search(r'<template class="deferred_args">\s*<script type="application/json">'
                  r"(.*?)</script>", html, re.S)
    assert m, "an arrayviz figure"
    return json.loads(m.group(1))


def _values_by_label(cfg):
    """Rebuild the drawn values as {axis label: ...} from the figure's data,
    strides and axis specs, as arrayviz's JavaScript reads them."""
    flat = np.frombuffer(base64.b64decode(cfg["arrayBase64"]), dtype=cfg["arrayDtype"])
    specs = cfg["xAxisSpecs"] + cfg["yAxisSpecs"] + cfg["slicedAxisSpecs"]
    labels = [s["label"] for s in specs]
    sizes = [s["end"] - s["start"] for s in specs]
    out = np.zeros(sizes)
    for idx in np.ndindex(*sizes):
        out[idx] = flat[sum(i * cfg["dataStrides"][s["name"]] for i, s in zip(idx, specs))]
    return labels, out


@pytest.mark.parametrize("order", ORDERS, ids="".join)
def test_render_array_lays_out_axes_by_name(order):
    x = stored(order)
    fig = treescope.render_array(x, columns=["c", "a"], rows=["b"])
    html = lowering.render_to_html_as_root(fig.treescope_part, compressed=False)
    cfg = _arrayviz_config(html)
    assert [s["label"] for s in cfg["xAxisSpecs"]] == ["c: 4", "a: 3"]
    assert [s["label"] for s in cfg["yAxisSpecs"]] == ["b: 5"]
    labels, values = _values_by_label(cfg)
    assert labels == ["c: 4", "a: 3", "b: 5"]
    assert np.array_equal(values, X.permute(2, 0, 1).numpy())
    # the tooltip indexes by name, as x[{"c": i, "a": j, "b": k}] does
    literals = "".join(v.get("value", "") for v in cfg["valueFormattingInstructions"])
    assert all(f"'{a}':" in literals for a in SIZES)


def test_sliders_and_the_compressed_html_of_a_notebook():
    x = stored(("b", "c", "a"))
    fig = treescope.render_array(x, columns=["b"], rows=["c"], sliders=["a"])
    cfg = _arrayviz_config(lowering.render_to_html_as_root(fig.treescope_part,
                                                           compressed=False))
    assert [s["label"] for s in cfg["slicedAxisSpecs"]] == ["a"]   # a slider shows the name
    bundle = fig._repr_html_()
    assert bundle.startswith("<script>") and "treescope-container" in bundle


def test_automatic_visualisation_shows_names_and_summary():
    x = stored(("c", "a", "b"))
    with treescope.active_autovisualizer.set_scoped(treescope.ArrayAutovisualizer()):
        text = treescope.render_to_text(x)
        html = treescope.render_to_html(x, compressed=False)
    assert text.startswith("<ntlib.NamedTensor float64(c:4, a:3, b:5)")
    mean, std = float(X.mean()), float(X.std(correction=0))
    assert f"≈{mean:.2} ±{std:.2} [≥{float(X.min()):.2}, ≤{float(X.max()):.2}]" in text
    labels = sorted(s["label"] for k in ("xAxisSpecs", "yAxisSpecs", "slicedAxisSpecs")
                    for s in _arrayviz_config(html)[k])
    assert labels == ["a: 3", "b: 5", "c: 4"]


def test_text_repr_is_unchanged_and_treescope_is_imported_lazily():
    x = stored(("a", "b", "c"))
    assert repr(x).startswith("named tensor a[3] × b[5] × c[4], float64")
    code = ("import sys, ntlib as nt; x = nt.randn(seed=0, i=2); repr(x); "
            "print('treescope' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
