"""treescope's array adapter for named tensors (rich display in notebooks).

`treescope <https://treescope.readthedocs.io>`_ draws arrays as faceted,
interactive pictures in Jupyter, Colab and static HTML.  A named tensor tells
treescope its axes through :meth:`NamedTensor.__treescope_ndarray_adapter__`,
which returns a :class:`NamedTensorAdapter`: every axis is *named and
positionless* (treescope's ``NamedPositionlessAxisInfo``), so pictures are
laid out by name, e.g. ``treescope.render_array(A, columns=["width"])``, and
the storage order never shows.

treescope is an optional dependency (``pip install ntlib[treescope]``); this
module is imported only when treescope asks a named tensor for its adapter,
and treescope is then already imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from treescope import ndarray_adapters, rendering_parts

# ntlib's public names only (the package is fully imported by the time
# treescope asks for an adapter)
from . import AxisError, DeviceError, NamedTensor, positional, shape


def _fmt(sizes: dict[str, int]) -> str:
    return " × ".join(f"{a}[{s}]" for a, s in sizes.items()) or "(no axes)"


def _numpy(data: torch.Tensor) -> np.ndarray:
    if data.dtype in (torch.bfloat16, torch.float16):
        data = data.float()
    return data.detach().cpu().numpy()


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    if dtype in (torch.bfloat16, torch.float16):
        dtype = torch.float32
    return torch.empty((), dtype=dtype).numpy().dtype


def _mask_data(array: NamedTensor, mask: Any) -> torch.Tensor:
    """``mask`` as a bool torch tensor laid out like ``array.data``.

    A mask is a named tensor whose axes are among the array's (matched by
    name, broadcast over the others) or a Python/torch bool scalar; a
    positional array with dimensions has no axis names to match.
    """
    sizes = shape(array)
    if mask is None:
        return torch.ones((1,) * len(sizes), dtype=torch.bool,
                          device=array.data.device).expand(*sizes.values())
    if isinstance(mask, NamedTensor):
        extra = [a for a in mask.inputs if a not in sizes]
        if extra:
            raise AxisError(
                f"treescope valid_mask: axis {extra[0]!r} of the mask "
                f"{_fmt(shape(mask))} is not an axis of the array "
                f"{_fmt(sizes)}")
        for a, s in shape(mask).items():
            if s != sizes[a]:
                raise AxisError(
                    f"treescope valid_mask: axis {a!r} has size {s} in the mask "
                    f"and {sizes[a]} in the array")
        order = [a for a in sizes if a in mask.inputs]
        data = positional(mask, order).to(array.data.device).bool()
        view = [sizes[a] if a in mask.inputs else 1 for a in sizes]
        return data.reshape(view).expand(*sizes.values())
    if isinstance(mask, (bool, np.bool_)) or (
            isinstance(mask, torch.Tensor) and mask.dim() == 0):
        return torch.full(tuple(sizes.values()), bool(mask),
                          device=array.data.device)
    raise TypeError(
        f"treescope valid_mask for a named tensor must be a named tensor (or a "
        f"bool), not {type(mask).__name__}: name its axes with nt.tensor first")


def _truncate(data: torch.Tensor, edge_items_per_axis: Any) -> torch.Tensor:
    """Keep ``e`` items at each end of an axis with ``e`` edge items, plus one
    (arbitrary) middle item, as treescope's adapter protocol asks."""
    for k, e in enumerate(edge_items_per_axis):
        if e is not None:
            n = data.shape[k]
            idx = list(range(e)) + [0] + list(range(n - e, n))
            data = data.index_select(k, torch.tensor(idx, device=data.device))
    return data


class NamedTensorAdapter(ndarray_adapters.NDArrayAdapter):
    """treescope's view of an :class:`ntlib.NamedTensor`: axes by name only."""

    def get_axis_info_for_array_data(self, array):
        return tuple(ndarray_adapters.NamedPositionlessAxisInfo(a, s)
                     for a, s in shape(array).items())

    def get_array_data_with_truncation(self, array, mask, edge_items_per_axis):
        data = array.data.detach()
        if data.is_meta:
            raise DeviceError(f"treescope: a picture needs the values of the tensor "
                              f"{_fmt(shape(array))}, and a tensor on device meta has "
                              f"none (only its shape)")
        keep = _mask_data(array, mask)
        data = _truncate(data, edge_items_per_axis)
        keep = _truncate(keep, edge_items_per_axis).clone()
        for k, e in enumerate(edge_items_per_axis):
            if e is not None:          # the middle item stands for the rest
                index = [slice(None)] * keep.dim()
                index[k] = e
                keep[tuple(index)] = False
        return _numpy(data), _numpy(keep)

    def get_numpy_dtype(self, array):
        return _numpy_dtype(array.data.dtype)

    def get_array_summary(self, array, fast):
        sizes = shape(array)
        dtype = str(array.data.dtype).replace("torch.", "")
        axes = ", ".join(f"{a}:{s}" for a, s in sizes.items())
        head = f"{dtype}({axes})"
        parts = [rendering_parts.abbreviatable(
                     rendering_parts.text("ntlib.NamedTensor "),
                     rendering_parts.text("nt ")),
                 rendering_parts.text(head)]
        data = array.data.detach()
        if not fast and not data.is_meta and 0 < data.numel() < 100_000:
            if data.is_floating_point():
                finite = data[torch.isfinite(data)].double()
                if finite.numel():
                    parts.append(rendering_parts.text(
                        f" ≈{float(finite.mean()):.2} ±{float(finite.std(correction=0)):.2}"
                        f" [≥{float(finite.min()):.2}, ≤{float(finite.max()):.2}]"))
                nan = int(torch.isnan(data).sum())
                if nan:
                    parts.append(rendering_parts.text(f" nan:{nan}"))
            elif data.dtype == torch.bool:
                parts.append(rendering_parts.text(
                    f" true:{int(data.sum())} false:{int((~data).sum())}"))
            elif not data.is_complex():
                parts.append(rendering_parts.text(
                    f" [≥{int(data.min())}, ≤{int(data.max())}]"))
        if data.device.type != "cpu":
            parts.append(rendering_parts.text(f" {data.device}"))
        if data.requires_grad:
            parts.append(rendering_parts.text(" requires_grad"))
        return rendering_parts.siblings(*parts)
