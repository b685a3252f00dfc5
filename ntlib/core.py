"""Named tensors and their operations (paper sections 2 and 3).

A named tensor here is a :class:`funsor.tensor.Tensor` whose *inputs* are the
axes: ``x.inputs`` maps each axis name to ``Bint[size]`` and the value at each
index record is a scalar (``x.output`` is ``Real``).  Axis order inside
``x.data`` is an implementation detail; every function in this module refers to
axes by name only, and :func:`positional` is the one explicit way back to a
positional :class:`torch.Tensor`.

Indices are 0-based (Python's convention); the paper counts from 1.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import os
import string
import warnings
from collections import OrderedDict
from typing import Iterable, Mapping, Sequence, Union

import torch

with warnings.catch_warnings():
    # funsor's torch backend imports pyro, which imports tqdm.auto; in a
    # notebook without ipywidgets that warns on stderr.  ntlib shows no widgets.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import funsor
    import funsor.ops as ops
    from funsor.domains import Bint
    from funsor.interpretations import eager_base, reflect
    from funsor.tensor import Tensor
    from funsor.terms import Binary, Funsor, FunsorMeta, Number, eager
    from funsor.typing import deep_type, get_args, get_origin

    funsor.set_backend("torch")

Axes = Union[str, Iterable[str]]

__all__ = [
    "AxisError", "device", "tensor", "randn", "rand", "randint", "positional",
    "names", "shape", "records", "compatible", "orthogonal", "restrict",
    "contract", "sum", "mean", "var", "max", "min", "norm", "softmax",
    "argmax", "argmin", "argmax_index", "argmin_index", "sigmoid", "relu", "abs",
    "exp", "log", "tanh", "rename", "flatten", "unflatten", "index", "lift",
    "plain", "fused_enabled", "fused_by",
]


class AxisError(ValueError):
    """An operation was given axes that do not fit its operands.

    The message always names the offending axis and the sizes involved.
    """


# --------------------------------------------------------------------------
# device, construction, conversion

def device() -> torch.device:
    """The device every ntlib tensor is placed on.

    ``NTLIB_DEVICE`` (``cpu``, ``cuda``, ``cuda:N``) if set, else CUDA when
    available, else the CPU.  This is the only place the choice is made.
    """
    name = os.environ.get("NTLIB_DEVICE", "").strip()
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _axes(axes: Axes) -> tuple:
    """Normalise an axis argument (one name or an iterable of names)."""
    if isinstance(axes, str):
        return (axes,)
    axes = tuple(axes)
    for a in axes:
        if not isinstance(a, str):
            raise TypeError(f"axis names must be str, got {a!r}")
    return axes


_BINT: dict = {}


def _bint(size: int):
    """funsor's Bint[size], cached (the domain lookup is slow next to a small op)."""
    dom = _BINT.get(size)
    if dom is None:
        dom = _BINT[size] = Bint[size]
    return dom


def _wrap(data: torch.Tensor, axis_names: Sequence[str], dtype="real") -> Tensor:
    """A funsor Tensor whose inputs are ``axis_names`` (one per dim of data)."""
    axis_names = tuple(axis_names)
    if len(axis_names) != data.dim():
        raise AxisError(
            f"{data.dim()}-dimensional data of shape {tuple(data.shape)} needs "
            f"{data.dim()} axis names, got {len(axis_names)}: {axis_names}")
    if len(set(axis_names)) != len(axis_names):
        dup = sorted({a for a in axis_names if axis_names.count(a) > 1})
        raise AxisError(f"axis names must be distinct; repeated: {dup}")
    return _make(data, tuple((a, _bint(s)) for a, s in zip(axis_names, data.shape)), dtype)


_SPECIFIC: dict = {}


def _make(data: torch.Tensor, inputs: tuple, dtype="real") -> Tensor:
    """funsor's ``Tensor(data, inputs, dtype)``, for ``inputs`` a tuple of (name, Bint).

    Every ntlib operation ends here, so its fixed cost matters for small
    models.  funsor builds a Tensor through its reflect interpretation: look
    the term up in the cons cache, else find the parametrised class for the
    argument types and construct it.  We do the same steps, but remember the
    parametrised class per argument *types* (the data's type, the number and
    domain types of the inputs, the dtype's type) instead of recomputing it
    each time (about 30 µs down to 10 µs a tensor).  The
    result is the very object funsor's own constructor returns (tested);
    if funsor's internals ever differ, we fall back to funsor's path.
    """
    args = (data, inputs, dtype)
    cache = getattr(Tensor, "_cons_cache", None)
    if cache is None:
        return reflect.interpret(Tensor, *args)
    key = (id(data), inputs, dtype)
    hit = cache.get(key)
    if hit is not None:
        return hit
    skey = (type(data), tuple(type(d) for _, d in inputs), type(dtype))
    specific = _SPECIFIC.get(skey)
    if specific is None:
        specific = _SPECIFIC[skey] = get_origin(Tensor)[tuple(map(deep_type, args))]
    result = super(FunsorMeta, specific).__call__(*args)
    result._ast_values = args
    cache[key] = result
    return result


def tensor(data, names: Axes, *, dtype=None) -> Tensor:
    """Make a named tensor whose axes are ``names``, one per dimension of ``data``.

    ``data`` may be nested lists, a numpy array or a torch tensor; it is moved
    to :func:`device`.  Integer data stays integer (useful as indices).  Real
    numbers given as Python lists become float64 (torch would make float32);
    a tensor or array keeps its own dtype unless ``dtype`` says otherwise.
    """
    t = torch.as_tensor(data, dtype=dtype)
    if dtype is None and not isinstance(data, torch.Tensor) and t.is_floating_point() \
            and not hasattr(data, "dtype"):
        t = t.to(torch.float64)
    return _wrap(t.to(device()), _axes(names))


def _generate(kind, seed, dtype, sizes, **kw):
    if not sizes:
        raise AxisError("give at least one axis as name=size")
    g = torch.Generator(device="cpu").manual_seed(seed)
    shape = tuple(int(s) for s in sizes.values())
    if kind == "randint":
        data = torch.randint(kw["low"], kw["high"], shape, generator=g,
                             dtype=dtype or torch.int64)
    else:
        fn = torch.randn if kind == "randn" else torch.rand
        data = fn(shape, generator=g, dtype=dtype or torch.float64)
    return _wrap(data.to(device()), tuple(sizes))


def randn(*, seed: int, dtype=None, **sizes: int) -> Tensor:
    """Standard normal entries, axes ``name=size`` in the order given.

    Drawn on the CPU from ``seed`` and then moved to :func:`device`, so the
    same seed gives the same values on every device.  float64 by default.
    """
    return _generate("randn", seed, dtype, sizes)


def rand(*, seed: int, dtype=None, **sizes: int) -> Tensor:
    """Uniform [0, 1) entries; otherwise as :func:`randn`."""
    return _generate("rand", seed, dtype, sizes)


def randint(low: int, high: int, *, seed: int, dtype=None, **sizes: int) -> Tensor:
    """Integers uniform in [low, high) (int64 by default); otherwise as :func:`randn`."""
    return _generate("randint", seed, dtype, sizes, low=low, high=high)


def _as_funsor(x) -> Funsor:
    if isinstance(x, Funsor):
        return x
    if isinstance(x, (int, float)):
        return Number(x)
    raise TypeError(
        f"expected a named tensor (make one with ntlib.tensor), got {type(x).__name__}")


def names(x) -> tuple:
    """The axis names of ``x`` (in storage order, which carries no meaning)."""
    return tuple(_as_funsor(x).inputs)


def shape(x) -> dict:
    """The shape of ``x`` as a dict ``{axis: size}`` (the paper's shp X with sizes)."""
    return {a: d.size for a, d in _as_funsor(x).inputs.items()}


def _require(x, axes, what):
    """Raise AxisError unless every axis in ``axes`` is an axis of ``x``."""
    have = shape(x)
    for a in axes:
        if a not in have:
            raise AxisError(f"{what}: axis {a!r} is not an axis of the tensor, "
                            f"whose axes are {_fmt(have)}")


def _fmt(sizes: Mapping[str, int]) -> str:
    if not sizes:
        return "{} (a scalar)"
    return "{" + ", ".join(f"{a}[{s}]" for a, s in sizes.items()) + "}"


def _data(x, order) -> torch.Tensor:
    """x's data with dims permuted into ``order`` (all of x's axes), as a view.

    funsor's ``x.align(order).data`` does the same but builds a new funsor
    term on the way; this is the hot path of every fused kernel call.
    """
    have = tuple(x.inputs)
    order = tuple(order)
    if have == order:
        return x.data
    return x.data.permute([have.index(a) for a in order])


def positional(x, names: Axes) -> torch.Tensor:
    """The data of ``x`` as a plain torch.Tensor with dimensions in the order ``names``.

    ``names`` must list every axis of ``x`` exactly once.
    """
    x = _as_funsor(x)
    want = _axes(names)
    have = shape(x)
    missing = [a for a in want if a not in have]
    extra = [a for a in have if a not in want]
    if missing or extra or len(set(want)) != len(want):
        raise AxisError(
            f"positional: names {want} must list each axis of the tensor once; "
            f"the tensor has {_fmt(have)}"
            + (f"; not axes of it: {missing}" if missing else "")
            + (f"; left out: {extra}" if extra else ""))
    if isinstance(x, Number):
        return torch.tensor(x.data, device=device())
    return _data(x, want)


# --------------------------------------------------------------------------
# shapes, records, restriction (the formal definitions of section 2)

def compatible(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are compatible when every shared name has the same size."""
    return all(s[a] == t[a] for a in s if a in t)


def orthogonal(s: Mapping[str, int], t: Mapping[str, int]) -> bool:
    """Two shapes are orthogonal when they share no name."""
    return not (set(s) & set(t))


def records(s: Mapping[str, int]):
    """Every index record of shape ``s`` (the paper's rec S), as dicts, in row-major order."""
    axes = list(s)
    for idx in itertools.product(*(range(s[a]) for a in axes)):
        yield dict(zip(axes, idx))


def restrict(record: Mapping[str, int], axes: Axes) -> dict:
    """The restriction r|_T of a record to the axes ``T`` (those it has)."""
    axes = _axes(axes)
    return {a: i for a, i in record.items() if a in axes}


def _merged_sizes(operands, what) -> "OrderedDict[str, int]":
    """Union of the operands' shapes; AxisError on a size clash."""
    sizes: OrderedDict = OrderedDict()
    where = {}
    for k, t in enumerate(operands):
        for a, d in t.inputs.items():
            if a in sizes and sizes[a] != d.size:
                raise AxisError(
                    f"{what}: axis {a!r} has size {sizes[a]} in operand {where[a]} "
                    f"but size {d.size} in operand {k}")
            sizes.setdefault(a, d.size)
            where.setdefault(a, k)
    return sizes


# Every binary operation on two named tensors (+, -, *, /, **, comparisons)
# goes through funsor's eager rule for Binary(op, Tensor, Tensor).  We put a
# shape check in front of it, so that a size clash is reported by axis name
# instead of as torch's positional broadcasting error.  (funsor.tensor names
# its rules for BinaryOp and MatmulOp alike, so the rule is looked up in the
# registry, before we register ours over it, not by its module attribute.)

def _funsor_rule(op_class):
    for sig, fn in eager_base.registry[Binary].funcs.items():
        if len(sig) == 3 and sig[1:] == (Tensor, Tensor) and get_args(sig[0]) == (op_class,):
            return fn
    raise ImportError(f"funsor has no eager rule for Binary({op_class.__name__}, Tensor, Tensor)")


_funsor_binary = _funsor_rule(ops.BinaryOp)


@eager.register(Binary, ops.BinaryOp, Tensor, Tensor)
def _checked_binary(op, lhs, rhs):
    _merged_sizes((lhs, rhs), f"binary operation {op.__name__}")
    return _funsor_binary(op, lhs, rhs)


# --------------------------------------------------------------------------
# contraction

_LETTERS = string.ascii_letters


def contract(*tensors, over: Axes = ()) -> Tensor:
    """The paper's contraction ``X ⊙_over Y ⊙_over ...``.

    Multiply the operands elementwise (broadcasting by name) and sum over the
    axes ``over`` (one name or several; empty means the elementwise product).
    It is computed as one ``torch.einsum`` call, which dispatches to a matrix
    multiplication, never by materialising the broadcast product.
    """
    if len(tensors) < 2:
        raise TypeError("contract needs at least two operands")
    ts = [_as_funsor(t) for t in tensors]
    over = _axes(over)
    sizes = _merged_sizes(ts, "contract")
    for a in over:
        if a not in sizes:
            raise AxisError(f"contract: no operand has axis {a!r} to contract over; "
                            f"the operands' axes are {_fmt(sizes)}")
    if len(sizes) > len(_LETTERS):
        raise AxisError(f"contract: too many distinct axes ({len(sizes)})")
    letter = dict(zip(sizes, _LETTERS))
    keep = [a for a in sizes if a not in over]
    datas, subs = [], []
    dtype = next((t.data.dtype for t in ts if not isinstance(t, Number)), None)
    for t in ts:
        if isinstance(t, Number):  # a plain scalar factor, in the operands' precision
            datas.append(torch.tensor(t.data, dtype=dtype, device=device()))
        else:
            datas.append(t.data)
        subs.append("".join(letter[a] for a in t.inputs))
    data = torch.einsum(",".join(subs) + "->" + "".join(letter[a] for a in keep), *datas)
    return _wrap(data, keep)


# --------------------------------------------------------------------------
# reductions

def _reduce(op, x, axes, what):
    x = _as_funsor(x)
    axes = _axes(axes)
    _require(x, axes, what)
    if not axes:
        return x
    return x.reduce(op, frozenset(axes))


def sum(x, axes: Axes) -> Tensor:
    """Sum over the axes ``axes`` (one name or several): the paper's Σ_ax X."""
    return _reduce(ops.add, x, axes, "sum")


def max(x, axes: Axes) -> Tensor:
    """Maximum over ``axes``."""
    return _reduce(ops.max, x, axes, "max")


def min(x, axes: Axes) -> Tensor:
    """Minimum over ``axes``."""
    return _reduce(ops.min, x, axes, "min")


def _count(x, axes) -> int:
    s = shape(x)
    return math.prod(s[a] for a in _axes(axes))


def mean(x, axes: Axes) -> Tensor:
    """mean_ax X = (Σ_ax X) / |ax|, over one axis or several."""
    return sum(x, axes) / _count(x, axes)


def var(x, axes: Axes) -> Tensor:
    """Population variance: var_ax X = mean_ax (X - mean_ax X)^2."""
    return mean((x - mean(x, axes)) ** 2, axes)


def norm(x, axes: Axes, p: float = 2) -> Tensor:
    """The p-norm over ``axes``: (Σ_ax |X|^p)^(1/p); p = inf gives max |X|."""
    if p == math.inf:
        return max(abs(x), axes)
    return sum(abs(x) ** p, axes) ** (1.0 / p)


# --------------------------------------------------------------------------
# elementwise functions (lifted to every axis automatically)

def _map(fn, x) -> Tensor:
    x = _as_funsor(x)
    return _make(fn(x.data), tuple(x.inputs.items()), x.dtype)


def sigmoid(x) -> Tensor:
    """σ(X) = 1 / (1 + exp(-X)), elementwise."""
    return _map(torch.sigmoid, x)


def abs(x) -> Tensor:
    """|X|, elementwise."""
    return _map(torch.abs, x)


def relu(x) -> Tensor:
    """relu(X) = max(X, 0), elementwise."""
    return _map(torch.relu, x)


def exp(x) -> Tensor:
    """exp(X), elementwise."""
    return _map(torch.exp, x)


def log(x) -> Tensor:
    """log(X), elementwise."""
    return _map(torch.log, x)


def tanh(x) -> Tensor:
    """tanh(X), elementwise."""
    return _map(torch.tanh, x)


# --------------------------------------------------------------------------
# plain definitions vs fused kernels

_PLAIN = [False]


class plain:
    """Context manager: run the formula-shaped definitions, not fused kernels.

    Blocks such as attention or convolution are written in ntlib exactly as
    the book's formulas read.  Where torch has a fused kernel for the same
    computation, ntlib dispatches to it by default (tests check that both
    paths agree).  Inside ``with ntlib.plain():`` every block runs its plain
    definition instead.
    """

    def __enter__(self):
        _PLAIN.append(True)
        return self

    def __exit__(self, *exc):
        _PLAIN.pop()
        return False


def fused_enabled() -> bool:
    """True unless inside ``with ntlib.plain():``."""
    return not _PLAIN[-1]


# --------------------------------------------------------------------------
# pairing a formula with a fused kernel (used here for softmax, and by ntlib.nn and ntlib.models)

def fused_by(fast, check=None):
    """Decorator: pair a plain (formula-shaped) definition with ``fast``.

    The decorated block first runs ``check`` (which raises :class:`AxisError`
    for unfit axes, on both paths alike).  Then, unless inside
    ``with ntlib.plain():``, it calls ``fast`` with every argument by keyword
    (defaults filled in); ``fast`` returns a named tensor, or ``NotImplemented``
    to decline, in which case the plain definition runs.  The two
    implementations stay reachable as ``block.plain`` and ``block.fused``.
    """
    def pair(plain_def):
        bind = _binder(plain_def)

        @functools.wraps(plain_def)
        def block(*args, **kwargs):
            kw = bind(args, kwargs)
            if check is not None:
                check(**kw)
            if fused_enabled():
                out = fast(**kw)
                if out is not NotImplemented:
                    return out
            return plain_def(**kw)

        block.plain = plain_def
        block.fused = fast
        return block
    return pair


def _binder(fn):
    """A fast equivalent of inspect.signature(fn).bind + apply_defaults, as a dict."""
    params = list(inspect.signature(fn).parameters.values())
    positional = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    allowed = {p.name for p in params}
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    required = [p.name for p in params if p.default is p.empty]

    def bind(args, kwargs):
        if len(args) > len(positional):
            raise TypeError(f"{fn.__name__}() takes {len(positional)} positional "
                            f"arguments but {len(args)} were given")
        kw = dict(defaults)
        kw.update(zip(positional, args))
        for k in kwargs:
            if k not in allowed:
                raise TypeError(f"{fn.__name__}() got an unexpected keyword argument {k!r}")
            if k in positional[:len(args)]:
                raise TypeError(f"{fn.__name__}() got multiple values for argument {k!r}")
        kw.update(kwargs)
        missing = [k for k in required if k not in kw]
        if missing:
            raise TypeError(f"{fn.__name__}() missing required arguments: {missing}")
        return kw
    return bind


# --------------------------------------------------------------------------
# functions from vectors to vectors

def _softmax_check(x, ax):
    _require(_as_funsor(x), (ax,), "softmax")


def _softmax_fused(x, ax):
    x = _as_funsor(x)
    return _make(torch.softmax(x.data, list(x.inputs).index(ax)), tuple(x.inputs.items()), x.dtype)


@fused_by(_softmax_fused, _softmax_check)
def softmax(x, ax: str) -> Tensor:
    """softmax_ax X = exp X / Σ_ax exp X.

    The maximum over ``ax`` is subtracted first; it cancels in the quotient
    and keeps exp from overflowing.  (Outside ``with ntlib.plain():`` this
    runs as torch.softmax along ``ax``; see :func:`fused_by`.)
    """
    z = exp(x - max(x, ax))
    return z / sum(z, ax)


def _one_hot_limit(x, ax, extreme):
    hits = _eq(_as_funsor(x), extreme(x, ax))
    return hits / sum(hits, ax)


def _eq(x, m):
    """1 where x equals m (broadcast by name), else 0, in x's float dtype."""
    shape_m = [x.inputs[a].size if a in m.inputs else 1 for a in x.inputs]
    order = [a for a in x.inputs if a in m.inputs]
    md = _data(m, tuple(order)).reshape(shape_m)
    dt = x.data.dtype if x.data.is_floating_point() else torch.float64
    return _make((x.data == md).to(dt), tuple(x.inputs.items()))


def argmax(x, ax: str) -> Tensor:
    """The one-hot argmax along ``ax``: lim_{α→∞} softmax_ax(α X).

    In the limit, tied maxima share the mass equally, so the result sums to 1
    along ``ax`` even with ties.
    """
    return _one_hot_limit(x, ax, max)


def argmin(x, ax: str) -> Tensor:
    """The one-hot argmin along ``ax``: lim_{α→-∞} softmax_ax(α X)."""
    return _one_hot_limit(x, ax, min)


def _arg_index(x, ax, fn):
    x = _as_funsor(x)
    _require(x, (ax,), fn.__name__)
    order = tuple(x.inputs)
    k = order.index(ax)
    data = fn(x.data, dim=k)
    rest = tuple(a for a in order if a != ax)
    return _wrap(data, rest, dtype=x.inputs[ax].size)


def argmax_index(x, ax: str) -> Tensor:
    """The position (0-based) of the maximum along ``ax``; ``ax`` is removed.

    The result is an integer named tensor that :func:`index` accepts.  Ties go
    to the first position, as in torch.argmax.
    """
    return _arg_index(x, ax, torch.argmax)


def argmin_index(x, ax: str) -> Tensor:
    """The position (0-based) of the minimum along ``ax``; ``ax`` is removed."""
    return _arg_index(x, ax, torch.argmin)


# --------------------------------------------------------------------------
# renaming and reshaping

def rename(x, mapping: Mapping[str, str]) -> Tensor:
    """X_{old→new}: the same tensor with axes renamed by ``mapping``.

    Several axes can be renamed at once (a swap included); a new name may not
    be one that the tensor keeps.
    """
    x = _as_funsor(x)
    have = shape(x)
    _require(x, mapping, "rename")
    new = [mapping.get(a, a) for a in have]
    for old, nw in mapping.items():
        if new.count(nw) > 1:
            raise AxisError(
                f"rename: cannot rename {old!r}[{have[old]}] to {nw!r}: the tensor "
                f"already has an axis {nw!r}[{have[nw] if nw in have else '?'}]; "
                f"its axes are {_fmt(have)}")
    return _make(x.data, tuple(zip(new, x.inputs.values())), x.dtype)


def flatten(x, axes: Sequence[str], new: str) -> Tensor:
    """X_{(axes)→new}: merge ``axes`` into one axis ``new``.

    Element order is row-major in the order ``axes`` is given: the first axis
    varies slowest, so for axes (height, width) position
    ``h * |width| + w`` of ``new`` holds X_{height(h), width(w)}.
    """
    x = _as_funsor(x)
    axes = _axes(axes)
    if not axes:
        raise AxisError("flatten: give at least one axis to flatten")
    _require(x, axes, "flatten")
    have = shape(x)
    rest = [a for a in have if a not in axes]
    if new in rest:
        raise AxisError(f"flatten: new axis name {new!r} is already an axis "
                        f"({new}[{have[new]}]) of the tensor {_fmt(have)}")
    data = _data(x, tuple(rest) + axes)
    data = data.reshape(data.shape[: len(rest)] + (-1,))
    return _wrap(data, rest + [new], x.dtype)


def unflatten(x, ax: str, sizes: Mapping[str, int]) -> Tensor:
    """Split axis ``ax`` into the axes of ``sizes`` (an ordered dict), row-major.

    The inverse of :func:`flatten`: ``unflatten(flatten(X, (a, b), "ab"), "ab",
    {a: |a|, b: |b|})`` is X.
    """
    x = _as_funsor(x)
    _require(x, (ax,), "unflatten")
    have = shape(x)
    if math.prod(sizes.values()) != have[ax]:
        raise AxisError(f"unflatten: axis {ax!r} has size {have[ax]}, which is not "
                        f"the product of the sizes {dict(sizes)}")
    rest = [a for a in have if a != ax]
    clash = [a for a in sizes if a in rest]
    if clash:
        raise AxisError(f"unflatten: new axis {clash[0]!r} is already an axis of "
                        f"the tensor {_fmt(have)}")
    data = _data(x, tuple(rest) + (ax,))
    data = data.reshape(data.shape[: len(rest)] + tuple(sizes.values()))
    return _wrap(data, rest + list(sizes), x.dtype)


# --------------------------------------------------------------------------
# indexing

def index(x, ax: str, i) -> Tensor:
    """index_ax(X, i) = X_{ax(i)}, lifted over the axes of ``i``.

    ``i`` is an int (the axis disappears) or an integer-valued named tensor
    (made by :func:`tensor`): the result has X's other axes and ``i``'s axes,
    and shared axes are matched by name, not broadcast.  This single function
    covers E[I], take, index_select, take_along_axis and gather; indexing two
    axes with indices that share an axis gives double indexing.
    """
    x = _as_funsor(x)
    _require(x, (ax,), "index")
    n = x.inputs[ax].size
    if isinstance(i, Funsor) and not isinstance(i, Number):
        if i.data.is_floating_point() or i.data.dtype == torch.bool:
            raise TypeError(f"index: indices must be integers, got {i.data.dtype}")
        _merged_sizes((x, i), "index")
        if i.data.numel() and (int(i.data.min()) < 0 or int(i.data.max()) >= n):
            raise AxisError(f"index: indices into axis {ax!r}[{n}] must lie in "
                            f"[0, {n}); got values from {int(i.data.min())} to "
                            f"{int(i.data.max())}")
        i = _make(i.data, tuple(i.inputs.items()), n)
    else:
        i = int(i.data if isinstance(i, Number) else i)
        if not -n <= i < n:
            raise AxisError(f"index: position {i} is out of range for axis {ax!r}[{n}]")
        i %= n
    return x(**{ax: i})


# --------------------------------------------------------------------------
# lifting, written out

def lift(f, *args, over: Axes):
    """Apply ``f`` to every slice of ``args`` along the axes ``over``, by a loop.

    This is the paper's definition of lifting, [f^{S'}(X)]_{s'} = f(X_{s'}),
    executed literally: for each index record s' over ``over``, each argument
    is restricted to s' (on the axes it has) and ``f`` is applied.  The results
    are stacked back along ``over``.  Slow; it exists to check that ntlib's
    automatic lifting agrees with the definition.
    """
    over = _axes(over)
    fargs = [_as_funsor(a) for a in args]
    sizes = _merged_sizes(fargs, "lift")
    for a in over:
        if a not in sizes:
            raise AxisError(f"lift: no argument has axis {a!r}; their axes are {_fmt(sizes)}")
    s_over = OrderedDict((a, sizes[a]) for a in over)
    outs, out_names = [], None
    for r in records(s_over):
        sliced = [a(**restrict(r, names(a))) if restrict(r, names(a)) else a for a in fargs]
        y = _as_funsor(f(*sliced))
        if out_names is None:
            out_names = tuple(y.inputs)
        outs.append(positional(y, out_names))
    data = torch.stack(outs).reshape(tuple(s_over.values()) + outs[0].shape)
    return _wrap(data, over + out_names)
