"""Showing ntlib in a notebook: function sources and named tensors as text."""

from __future__ import annotations

import inspect

import numpy as np

from .core import _as_funsor, positional, shape


class Source:
    """A function's source, shown as highlighted code in the book and as text elsewhere."""

    def __init__(self, *fns):
        self.text = "\n\n".join(inspect.getsource(f).rstrip() for f in fns)

    def _repr_markdown_(self):
        return "```python\n" + self.text + "\n```"

    def __repr__(self):
        return self.text


def source(*fns) -> Source:
    """Display the source code of ntlib functions (the code lives only in ntlib)."""
    return Source(*fns)


class Pretty:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def show(x, order=None, decimals: int = 4) -> Pretty:
    """A device-independent text view of a named tensor.

    ``order`` fixes which axis is printed as rows, columns, ... (default: the
    storage order).  Values are rounded to ``decimals`` places so the view is
    the same on every device.
    """
    x = _as_funsor(x)
    sizes = shape(x)
    order = tuple(order) if order is not None else tuple(sizes)
    data = positional(x, order).detach().cpu()
    if data.is_floating_point():
        arr = np.round(data.double().numpy(), decimals) + 0.0
        body = np.array2string(arr, precision=decimals, suppress_small=True,
                               floatmode="maxprec", separator=" ")
    else:
        body = np.array2string(data.numpy(), separator=" ")
    if not order:
        return Pretty(f"scalar: {body}")
    head = " × ".join(f"{a}[{sizes[a]}]" for a in order)
    if len(order) == 2:
        head += f"   (rows: {order[0]}, columns: {order[1]})"
    elif len(order) > 2:
        head += f"   (nested in this order; innermost: {order[-1]})"
    return Pretty(head + "\n" + body)
