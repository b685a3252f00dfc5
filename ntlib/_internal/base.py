"""What every ntlib module shares: errors, the device, axes and dtypes.

The errors, the device, axis arguments and their messages, reading a named
tensor's axes and sizes, and the dtype rule.

Nothing here is part of the notation; the public modules import it as
``from .._internal import ...`` (or ``from ._internal import ...``).
"""

from __future__ import annotations

import contextvars
import operator
import os
from collections.abc import Iterable, KeysView, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import funsor_compat as fc
from .cache import bounded_cache

if TYPE_CHECKING:
    from .tensor import Named

__all__ = [
    "AxisError", "AxisTypeError", "DeviceError", "unordered", "refuse_unordered",
    "values_readable", "torch_dtype", "count",
    "device", "on_device", "needs_values", "seeded_data",
    "positional_error", "scalar_operand", "fmt", "sizes_of",
    "missing_axis", "require", "forbid", "axis_name", "axis_names", "axis_size",
    "data_in", "align", "merged_sizes", "union_sizes", "same_device", "is_float", "promote",
    "float_dtype", "floating", "refuse_complex", "laid_out", "LAID_OUT",
]


class AxisError(ValueError):
    """An operation was given axes that do not fit its operands.

    The message always names the offending axis (or argument) and the sizes
    involved: a missing or repeated axis, a size clash, an axis name that is
    not a str, a size that is not a non-negative int.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.sum(A, "depth")
    Traceback (most recent call last):
        ...
    ntlib.AxisError: sum: axis 'depth' is not an axis of the tensor, ...
    >>> A + nt.tensor([1., 2, 3, 4], "width")
    Traceback (most recent call last):
        ...
    ntlib.AxisError: binary operation add: axis 'width' has size 3 in ...
    """


class AxisTypeError(AxisError, TypeError):
    """An axis argument of the wrong type: an int, None or a dict where an axis
    name belongs, or a set where the order of the axes matters.

    Both an AxisError (as every bad axis argument is) and a TypeError (as a
    value of the wrong kind is in Python), so code catching either catches it.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.sum(A, 0)
    Traceback (most recent call last):
        ...
    ntlib.AxisTypeError: sum: argument 'axes' must be an axis name ...
    >>> isinstance(nt.AxisTypeError("x"), TypeError)
    True
    """


class DeviceError(ValueError):
    """Operands of one operation live on different devices; the message names both.

    Also raised when an operation needs the values of tensors on the meta
    device, which have none (only their shapes): comparing or printing
    values, a Python number from a tensor, a loop that stops when the values
    converge, handing the values to another library (see :func:`on_device`).

    Example:

    >>> x = nt.tensor([1., 2], "a")
    >>> x + nt.testing.to_device(x, "meta")
    Traceback (most recent call last):
        ...
    ntlib.DeviceError: binary operation add: operand 0 is on device ... first
    """


AxisError.__module__ = AxisTypeError.__module__ = DeviceError.__module__ = "ntlib"


# --------------------------------------------------------------------------
# the device, read from NTLIB_DEVICE (looked up in os.environ's own dict: the
# mapping's get costs microseconds, a construction should not)

_ENV: Mapping[Any, Any]
try:
    _ENV, _KEY = getattr(os.environ, "_data"), os.environ.encodekey("NTLIB_DEVICE")
except AttributeError:  # pragma: no cover (not CPython's os.environ)
    _ENV, _KEY = os.environ, "NTLIB_DEVICE"
# the innermost "with nt.on_device(...)", if any: per thread and per asyncio
# task; while torch.compile traces, as ntlib._internal.modes keeps its modes
_FORCED: contextvars.ContextVar[torch.device | None] = contextvars.ContextVar(
    "ntlib_device", default=None)
_TRACED_DEVICE: list = []
# torch.compiler.is_dynamo_compiling: torch 2.3 on; older torch has no fullgraph
# support for ntlib anyway
_tracing = getattr(torch.compiler, "is_dynamo_compiling", None) or (lambda: False)


@torch.compiler.assume_constant_result
def _entry_device() -> torch.device | None:
    return _FORCED.get()


def device() -> torch.device:
    """The device every ntlib tensor is placed on.

    Inside ``with nt.on_device(d):``, d; else NTLIB_DEVICE (cpu, cuda, cuda:N,
    meta) if set, else CUDA when available, else the CPU.  This is the only
    place the choice is made.

    Example:

    >>> x = nt.tensor([1., 2], "a")
    >>> x.data.device == nt.device()
    True
    """
    forced = _FORCED.get() if not _tracing() else \
        _TRACED_DEVICE[-1] if _TRACED_DEVICE else _entry_device()
    if forced is not None:
        return forced
    return _default_device(_ENV.get(_KEY)) if not _tracing() else _entry_default_device()


@bounded_cache(maxsize=16)
def _default_device(raw: Any) -> torch.device:
    name = (raw.decode() if isinstance(raw, bytes) else raw or "").strip()
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.compiler.assume_constant_result
def _entry_default_device() -> torch.device:   # NTLIB_DEVICE read when traced
    return _default_device(_ENV.get(_KEY))


class on_device:
    """Context manager: inside ``with nt.on_device("meta"):``, nt.device() is
    that device (over NTLIB_DEVICE), so every tensor ntlib makes there
    (nt.tensor, nt.randn, a model's parameters, a mask) is made on it.

    On the meta device a tensor has a shape and a dtype but no values and no
    memory: every operation computes the shape of its result, so a model far
    too large for this machine runs in seconds, shapes only.  What needs
    values (printing or comparing them, ``float(x)``, a loop that stops when
    values converge, another library) raises nt.DeviceError there.
    """

    def __init__(self, dev):
        self.device = dev if isinstance(dev, torch.device) else torch.device(dev)
        self._tokens = []

    def __enter__(self):
        if _tracing():
            _TRACED_DEVICE.append(self.device)
            self._tokens.append(None)
        else:
            self._tokens.append(_FORCED.set(self.device))
        return self.device

    def __exit__(self, *exc):
        token = self._tokens.pop()
        if token is None:
            _TRACED_DEVICE.pop()
        else:
            _FORCED.reset(token)
        return False


def count(value: Any, what: str, param: str) -> int:
    """A number of steps or rounds given as ``param``: a non-negative int
    (TypeError for anything else, bools included; ValueError if negative)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: argument {param!r} must be a non-negative int, "
                        f"got {_kind(value)}")
    if value < 0:
        raise ValueError(f"{what}: argument {param!r} must be a non-negative int, "
                         f"got {value}")
    return int(value)


def torch_dtype(value: Any, what: str, param: str = "dtype") -> torch.dtype:
    """``value`` as a torch.dtype: a torch.dtype itself, a numpy dtype or scalar
    type (np.float32, np.dtype("int64")), a Python type (float, int, bool,
    complex, as torch reads them) or a dtype's name ("float32",
    "torch.float32"); TypeError naming the argument for anything else."""
    if isinstance(value, torch.dtype):
        return value
    if value in (float, int, bool, complex):
        return torch.empty(0, dtype=value).dtype
    name = None
    if isinstance(value, str):
        name = value.removeprefix("torch.")
    elif value is not None:
        try:
            name = np.dtype(value).name
        except TypeError:
            name = None
    dt = getattr(torch, name, None) if name else None
    if isinstance(dt, torch.dtype):
        return dt
    raise TypeError(f"{what}: argument {param!r} must be a dtype (torch.float32, "
                    f"np.float32 or 'float32'), got {_kind(value)}")


def values_readable(d: torch.Tensor) -> bool:
    """Whether d's values can be read into Python (int(), .item()): not on the
    meta device, and not a tensor wrapped by a torch.func transform (vmap,
    grad), whose values are per-sample or traced."""
    if d.device.type == "meta":
        return False
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return wrapped is None or not wrapped(d)


def needs_values(what: str, tensors: Sequence[Any]) -> None:
    """DeviceError when ``what`` would read the values of a tensor on the meta
    device, which has none (tensors on several devices: the usual message,
    naming two of them)."""
    for t in tensors:
        if t.data.is_meta:
            break
    else:
        return
    same_device(tensors, what)
    raise DeviceError(
        f"{what} needs the values of its tensors, and a tensor on device meta has "
        f"none (only its shape); make the tensors on a device with values "
        f"(cpu, cuda) to run it")


def seeded_data(kind: str, shape_: tuple, seed: int, dtype: torch.dtype | None,
                low: int = 0, high: int = 1) -> torch.Tensor:
    """Seeded random data of ``shape_`` on nt.device(): drawn on the CPU
    (``kind`` randn, rand or randint) and moved, so that a seed gives the same
    values on every device; on the meta device an empty tensor of that shape,
    made there directly (nothing drawn, nothing allocated on the CPU)."""
    dev = device()
    if dev.type == "meta":
        return torch.empty(shape_, dtype=dtype, device=dev)
    g = torch.Generator(device="cpu").manual_seed(seed)
    if kind == "randint":
        data = torch.randint(low, high, shape_, generator=g, dtype=dtype)
    else:
        data = (torch.randn if kind == "randn" else torch.rand)(
            shape_, generator=g, dtype=dtype)
    return data if dev.type == "cpu" else data.to(dev)


# --------------------------------------------------------------------------
# named tensors laid out on a device mesh

# ntlib.distributed registers, when imported: "type" DTensor, "full" (a laid-out
# named tensor's global value) and "repr" (its repr without communication).
# Before, no named tensor is laid out on a device mesh.
LAID_OUT: dict[str, Any] = {"type": None, "full": None, "repr": None}


def laid_out(*tensors: Any) -> bool:
    """True when the data of a named tensor among ``tensors`` (None passed over)
    is laid out on a device mesh (a DTensor: ntlib.distributed)."""
    cls = LAID_OUT["type"]
    return cls is not None and any(t is not None and isinstance(t.data, cls)
                                   for t in tensors)


def positional_error(x: Any, where: str) -> TypeError:
    shape_ = tuple(x.shape) if hasattr(x, "shape") else "?"
    return TypeError(
        f"{where}: cannot combine a named tensor with a positional "
        f"{type(x).__module__}.{type(x).__name__} of shape {shape_}: its "
        f"dimensions have no names.  Name them first with nt.tensor(t, names), "
        f"e.g. nt.tensor(t, ('height', 'width')).")


def scalar_operand(other: Any, what: str) -> Any:
    """A Python number or 0-dim torch tensor for ``other``, or None if it is not a scalar."""
    if isinstance(other, (bool, int, float)):
        return other
    if isinstance(other, fc.Number):
        return other.data
    if isinstance(other, np.generic):
        return other.item()
    if isinstance(other, torch.Tensor):
        if other.dim() == 0:
            return other
        raise positional_error(other, what)
    if isinstance(other, np.ndarray):
        if other.ndim == 0:
            return other.item()
        raise positional_error(other, what)
    return None


# --------------------------------------------------------------------------
# messages and axis arguments

def fmt(sizes: Mapping[str, int]) -> str:
    if not sizes:
        return "{} (a scalar)"
    return "{" + ", ".join(f"{a}[{s}]" for a, s in sizes.items()) + "}"


def sizes_of(x: Named) -> dict[str, int]:
    """{axis: size} of a named tensor."""
    return dict(zip(x.names, x.data.shape))


def missing_axis(what: str, ax: str, x: Named) -> AxisError:
    return AxisError(f"{what}: axis {ax!r} is not an axis of the tensor, "
                     f"whose axes are {fmt(sizes_of(x))}")


def require(x: Named, axes: Iterable[str], what: str) -> None:
    """Raise AxisError unless every axis in ``axes`` is an axis of ``x``."""
    have = x.names
    for a in axes:
        if a not in have:
            raise missing_axis(what, a, x)


def forbid(x: Named, ax: str, what: str, role: str) -> None:
    """Raise AxisError if ``x`` (called ``role`` in the message) has the axis ``ax``."""
    if ax in x.names:
        raise AxisError(f"{what}: {role} must not have an axis {ax!r}; its axes are "
                        f"{fmt(sizes_of(x))}")


def _kind(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def axis_name(value: Any, what: str, param: str) -> str:
    """``value`` if it is an axis name (a str), else AxisError naming the argument.

    An instance of a subclass of str (a str-valued Enum, say) is an axis name
    too, taken whole: the result is the plain str with its characters."""
    if value.__class__ is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    hint = ""
    if isinstance(value, int) and not isinstance(value, bool):
        hint = "; axes are named, not numbered: pass the axis name"
    elif value is None:
        hint = "; give the axis names"
    raise AxisTypeError(f"{what}: argument {param!r} must be an axis name (a str), "
                        f"got {_kind(value)}{hint}")


def unordered(value: Any) -> bool:
    """Whether ``value`` is a set (or frozenset): a collection whose order is
    its hash order, refused where the order of the axes matters (dict keys,
    which keep their order, are not refused)."""
    return isinstance(value, AbstractSet) and not isinstance(value, KeysView)


def refuse_unordered(value: Any, what: str, param: str) -> None:
    """AxisTypeError if ``value`` is a set where the axes' order matters."""
    if unordered(value):
        raise AxisTypeError(
            f"{what}: argument {param!r} gives the axes in an order, and a "
            f"{type(value).__name__} has none (its order is the hash order, which "
            f"changes between runs): got {value!r}; give a tuple or list, e.g. "
            f"{tuple(sorted(map(str, value)))!r}")



@bounded_cache
def _distinct_str(names: tuple) -> bool:
    """Whether names (a tuple) are distinct str (remembered per tuple)."""
    return all(a.__class__ is str for a in names) and len(set(names)) == len(names)


def axis_names(value: Any, what: str, param: str,
               owner: Named | None = None, ordered: bool = False) -> tuple[str, ...]:
    """One axis name or a sequence of them, as a tuple (repeats refused; the
    message names the axes of ``owner``, the tensor they belong to, if given).
    With ``ordered`` the order of the names is part of the meaning and a set
    is refused (AxisTypeError); otherwise a set is as good as a tuple."""
    if value.__class__ is str:
        return (value,)
    if isinstance(value, str):
        return (str.__str__(value),)
    if value.__class__ is tuple:
        try:
            if _distinct_str(value):
                return value
        except TypeError:   # unhashable: the checks below say what is wrong
            pass
    if isinstance(value, (Mapping, bytes)) or not isinstance(value, Iterable) \
            or isinstance(value, torch.Tensor):
        axis_name(value, what, param)
    if ordered:
        refuse_unordered(value, what, param)
    names = tuple(value)
    if any(a.__class__ is not str for a in names):
        for a in names:
            if not isinstance(a, str):
                raise AxisTypeError(f"{what}: argument {param!r} must be axis names "
                                    f"(str), got {_kind(a)} among {names!r}")
        names = tuple(str.__str__(a) for a in names)
    if len(set(names)) != len(names):
        dup = sorted({a for a in names if names.count(a) > 1})
        of = f"; the tensor has {fmt(sizes_of(owner))}" if owner is not None else ""
        raise AxisError(f"{what}: axes {names} repeat a name; repeated: {dup}{of}")
    return names


def refuse_complex(what: str, role: str, x: Named) -> None:
    """Raise the TypeError for complex data in ``x`` (called ``role``)."""
    raise TypeError(f"{what}: {role} must be real; got {x.data.dtype} values over "
                    f"{fmt(sizes_of(x))} (complex input is not supported here)")


def axis_size(value: Any, what: str, ax: str) -> int:
    """A size given as ``name=size``: a non-negative int (bools refused)."""
    if _tracing() and isinstance(value, int) and not isinstance(value, bool):
        # perhaps a dynamic size (a SymInt, which dynamo shows as an int):
        # operator.index would make it a constant
        torch._check(value >= 0)
        return value
    if not isinstance(value, bool):
        try:
            n = operator.index(value)
        except TypeError:
            n = None
        if n is not None and n >= 0:
            return n
    raise AxisError(f"{what}: the size of axis {ax!r} must be a non-negative int, "
                    f"got {_kind(value)}")


# --------------------------------------------------------------------------
# data in a given axis order

def data_in(x: Named, order: Sequence[str]) -> torch.Tensor:
    """x's data with dims permuted into ``order`` (all of x's axes), as a view."""
    have = x.names
    if have == order:
        return x.data
    return x.data.permute([have.index(a) for a in order])


def align(x: Named, order: Sequence[str], sizes: Mapping[str, int]) -> torch.Tensor:
    """x's data with dims in ``order`` (a superset of x's axes); missing axes have size 1."""
    names = x.names
    have = tuple(a for a in order if a in names)
    d = data_in(x, have)
    if len(have) == len(order):
        return d
    return d.reshape([sizes[a] if a in names else 1 for a in order])


def merged_sizes(operands: Iterable[Named], what: str) -> dict[str, int]:
    """Union of the operands' shapes ({axis: size}); AxisError on a size clash."""
    sizes: dict[str, int] = {}
    where: dict[str, int] = {}
    for k, t in enumerate(operands):
        for a, n in zip(t.names, t.data.shape):
            m = sizes.setdefault(a, n)
            if m != n:
                raise AxisError(
                    f"{what}: axis {a!r} has size {m} in operand {where[a]} "
                    f"but size {n} in operand {k}")
            where.setdefault(a, k)
    return sizes


@bounded_cache
def _union(signature: tuple) -> dict[str, int] | None:
    """The union of the shapes in signature ((names, shape) per operand), or
    None on a size clash."""
    sizes: dict[str, int] = {}
    for names, shape in signature:
        for a, n in zip(names, shape):
            if sizes.setdefault(a, n) != n:
                return None
    return sizes


def union_sizes(operands: Sequence[Named], what: str) -> dict[str, int]:
    """merged_sizes, remembered per signature of names and shapes (do not
    modify the dict it returns)."""
    sizes = _union(tuple([(t.names, t.data.shape) for t in operands]))
    return merged_sizes(operands, what) if sizes is None else sizes


def same_device(operands: Iterable[Named], what: str) -> None:
    """DeviceError unless every operand's data is on one device."""
    first = None
    for k, t in enumerate(operands):
        d = t.data.device
        if first is None:
            first, k0 = d, k
        elif d != first:
            raise DeviceError(
                f"{what}: operand {k0} is on device {first} but operand {k} is on "
                f"device {d}; move them to one device first (nt.device() is "
                f"{device()})")


# --------------------------------------------------------------------------
# dtypes: one rule, torch's promotion

def is_float(dt: torch.dtype) -> bool:
    return dt.is_floating_point or dt.is_complex


def promote(xs: Iterable[Any]) -> torch.dtype | None:
    """torch.result_type over the tensors (named or not) and Python numbers in xs."""
    dt, scalar_float = None, False
    for x in xs:
        if x is None:
            continue
        if isinstance(x, fc.Number):
            x = x.data
        if isinstance(x, (fc.Tensor, torch.Tensor)):
            d = x.data.dtype if isinstance(x, fc.Tensor) else x.dtype
            dt = d if dt is None or dt is d else torch.promote_types(dt, d)
        elif isinstance(x, float):
            scalar_float = True
    if dt is not None and scalar_float and not is_float(dt):
        dt = torch.get_default_dtype()
    return dt


def float_dtype(*xs: Any) -> torch.dtype:
    """The dtype in which an operation needing real numbers computes on ``xs``.

    torch's promotion of the operands' dtypes (torch.result_type); if that is
    an integer or boolean type, torch's default float dtype instead.  Python
    numbers among ``xs`` do not raise the precision (as in torch).
    """
    dt = promote(xs)
    if dt is None or not is_float(dt):
        return torch.get_default_dtype()
    return dt


def floating(data: torch.Tensor) -> torch.Tensor:
    """data itself if it holds real numbers, else data in the default float dtype."""
    if is_float(data.dtype):
        return data
    return data.to(torch.get_default_dtype())
