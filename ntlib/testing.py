"""Testing code that uses named tensors: assertions by name, positional
references, and hypothesis strategies.

- :func:`assert_close` and :func:`assert_equal` compare a named tensor with
  another one *by name* (the storage order of the axes does not matter), or
  with a positional ``torch.Tensor`` / numpy array read in an explicit
  ``order``.  A failure names the axes and sizes, or the first index record
  whose values differ.
- :func:`named` makes a named tensor from positional data and stores it in
  another axis order (so that a test exercises an order nobody tuned for);
  :func:`positional_reference` runs a positional torch function on named
  inputs read in an explicit order and names its result: the independent
  computation a test compares with.
- :func:`shapes`, :func:`axis_orders` and :func:`named_tensors` are
  hypothesis strategies (hypothesis is imported only when they are called).

Example::

    >>> import torch, ntlib as nt
    >>> from ntlib.testing import assert_close, positional_reference
    >>> X = nt.randn(seed=0, batch=2, layer=3)
    >>> W = nt.randn(seed=1, out=4, layer=3)
    >>> ref = positional_reference(lambda x, w: x @ w, X, W,
    ...                            order=("batch", "layer", "out"),
    ...                            names=("batch", "out"))
    >>> assert_close(nt.contract(X, W, over="layer"), ref)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

import ntlib as _nt

from ._internal import fmt as _fmt
from .core import Named

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
else:
    class SearchStrategy:
        """hypothesis' SearchStrategy in annotations (hypothesis itself is
        imported only when a strategy is asked for)."""

        def __class_getitem__(cls, item: Any) -> type:
            return cls

__all__ = ["assert_close", "assert_equal", "named", "positional_reference", "to_device",
           "default_tolerances", "same", "agree", "allclose", "shapes", "axis_orders",
           "named_tensors",
           "positional_encoding_reference", "transformer_weights", "transformer_reference",
           "lenet_weights", "lenet_reference"]


def __dir__() -> list[str]:
    """dir() of the namespace: its own functions, not the names it imports."""
    return sorted(__all__)

# torch.testing.assert_close's defaults (rtol, atol) per dtype; exact otherwise
_TOLERANCES = {
    torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7),
    torch.complex32: (1e-3, 1e-5), torch.complex64: (1.3e-6, 1e-5),
    torch.complex128: (1e-7, 1e-7),
}


def default_tolerances(*dtypes: torch.dtype) -> tuple:
    """(rtol, atol) as torch.testing.assert_close chooses them: per dtype,
    the loosest over ``dtypes``; 0 for integers and booleans.

    Example:

    >>> from ntlib.testing import default_tolerances
    >>> default_tolerances(torch.float32, torch.float64)     # the looser one
    (1.3e-06, 1e-05)
    >>> default_tolerances(torch.int64)
    (0.0, 0.0)
    """
    tols = [_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes]
    return max(t[0] for t in tols), max(t[1] for t in tols)


def _is_named(x: Any) -> bool:
    return isinstance(x, _nt.NamedTensor)


def _names_of(order: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(order, str):
        return (order,)
    return tuple(order)


def _as_pair(actual, expected, order, what):
    """(actual data, expected data, axis order, sizes) as CPU tensors, or an
    AssertionError naming the axes and sizes that do not match."""
    if not _is_named(actual):
        raise TypeError(
            f"{what}: actual must be a named tensor, got {type(actual).__name__}; "
            f"compare positional tensors with torch.testing.assert_close")
    have = _nt.shape(actual)
    order = None if order is None else _names_of(order)
    if _is_named(expected):
        want = _nt.shape(expected)
        missing = [a for a in want if a not in have]
        extra = [a for a in have if a not in want]
        if missing or extra:
            raise AssertionError(
                f"{what}: the axes differ: actual has {_fmt(have)}, expected has "
                f"{_fmt(want)}"
                + (f"; missing from actual: {missing}" if missing else "")
                + (f"; not expected: {extra}" if extra else ""))
        bad = [a for a in have if have[a] != want[a]]
        if bad:
            raise AssertionError(
                f"{what}: axis sizes differ: "
                + ", ".join(f"{a!r} has size {have[a]} in actual but {want[a]} in "
                            f"expected" for a in bad))
        if order is not None and sorted(order) != sorted(have):
            raise AssertionError(f"{what}: order {order} must list each axis of "
                                 f"{_fmt(have)} once")
        order = order or tuple(have)
        e = _nt.positional(expected, order)
    else:
        if isinstance(expected, (bool, int, float, complex)):
            # a Python number takes actual's dtype (its own says nothing)
            expected = torch.tensor(expected, dtype=actual.data.dtype)
        elif isinstance(expected, np.ndarray) or isinstance(expected, np.generic):
            expected = torch.from_numpy(np.asarray(expected))
        if not isinstance(expected, torch.Tensor):
            raise TypeError(f"{what}: expected must be a named tensor, a torch "
                            f"tensor, a numpy array or a number, got "
                            f"{type(expected).__name__}")
        if order is None:
            if expected.dim() or have:
                raise TypeError(
                    f"{what}: a positional expected value of shape "
                    f"{tuple(expected.shape)} needs order=, the axis of each of its "
                    f"dimensions (actual has {_fmt(have)})")
            order = ()
        if sorted(order) != sorted(have) or len(set(order)) != len(order):
            raise AssertionError(
                f"{what}: order {order} must list each axis of actual once; actual "
                f"has {_fmt(have)}")
        if tuple(expected.shape) != tuple(have[a] for a in order):
            raise AssertionError(
                f"{what}: expected has shape {tuple(expected.shape)}, read in order "
                f"{order}: {_fmt(dict(zip(order, expected.shape)))}; actual has "
                f"{_fmt(have)}")
        e = expected
    a = _nt.positional(actual, order)
    return a.detach().cpu(), e.detach().cpu(), order, {x: have[x] for x in order}


def _compare(actual, expected, order, rtol, atol, equal_nan, check_dtype, what):
    a, e, order, sizes = _as_pair(actual, expected, order, what)
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(f"{what}: dtypes differ: actual {a.dtype}, expected "
                             f"{e.dtype} (axes {_fmt(sizes)})")
    if (rtol is None) != (atol is None):
        raise ValueError(f"{what}: give both rtol and atol, or neither")
    if rtol is None:
        rtol, atol = default_tolerances(a.dtype, e.dtype)
    dt = torch.promote_types(a.dtype, e.dtype)
    if dt == torch.bool:
        dt = torch.int64
    if dt.is_floating_point and dt in (torch.float16, torch.bfloat16):
        dt = torch.float32
    a2, e2 = a.to(dt), e.to(dt)
    if dt.is_floating_point or dt.is_complex:
        ok = torch.isclose(a2, e2, rtol=rtol, atol=atol, equal_nan=equal_nan)
    else:
        ok = a2 == e2
        if rtol or atol:
            diff = (a2.double() - e2.double()).abs()
            ok = ok | (diff <= atol + rtol * e2.double().abs())
    if bool(ok.all()):
        return
    bad = (~ok).nonzero()
    first = tuple(int(i) for i in bad[0])
    record = dict(zip(order, first))
    x, y = a2[first].item(), e2[first].item()
    diff = abs(x - y) if not (isinstance(x, float) and (math.isnan(x) or math.isnan(y))) \
        else float("nan")
    raise AssertionError(
        f"{what}: {bad.shape[0]} of {ok.numel()} values differ (axes {_fmt(sizes)}); "
        f"the first at index record {record}: actual {x!r}, expected {y!r} "
        f"(|difference| {diff:.3g}; allowed: atol {atol:g} + rtol {rtol:g} * "
        f"|expected|)")


def assert_close(actual: Named, expected: Any, *, order: Sequence[str] | str | None = None,
                 rtol: float | None = None, atol: float | None = None,
                 equal_nan: bool = False, check_dtype: bool = True) -> None:
    """Assert that the named tensor ``actual`` equals ``expected`` within tolerance.

    ``expected`` is a named tensor (compared by name: the same axes with the
    same sizes, in any storage order), or a positional ``torch.Tensor``,
    numpy array or number whose dimensions are the axes ``order`` in that
    order.  Tolerances default to torch.testing's for the dtypes involved
    (``default_tolerances``); dtypes must agree unless ``check_dtype=False``.
    The AssertionError names the axes and sizes that differ, or the number of
    differing values and the first index record where they differ.

    Example:

    >>> from ntlib.testing import assert_close
    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> assert_close(A, nt.tensor([[1., 3], [2, 4]], ("j", "i")))    # by name
    >>> assert_close(A, torch.tensor([[1., 3], [2, 4]], dtype=torch.float64),
    ...              order=("j", "i"))            # positional, read as j, i
    >>> assert_close(A, nt.tensor([[1., 2], [3, 4.001]], ("i", "j")))
    Traceback (most recent call last):
        ...
    AssertionError: assert_close: 1 of 4 values differ ... expected 4.001 ...
    """
    _compare(actual, expected, order, rtol, atol, equal_nan, check_dtype,
             "assert_close")


def same(named: Named, order: Sequence[str] | str, expected: Any,
         tol: float | None = None) -> bool:
    """The chapters' check: the named tensor, read in ``order``, equals the
    positional ``expected`` (a torch tensor, numpy array or number) within
    ``tol`` (relative and absolute; None: assert_close's defaults for the
    dtypes), dtypes not compared.  Returns True, or raises AssertionError
    (assert_close's message).

    Example:

    >>> from ntlib.testing import same
    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> same(A, ("j", "i"), torch.tensor([[1., 3], [2, 4]]), tol=1e-12)
    True
    """
    assert_close(named, expected, order=order, rtol=tol, atol=tol, check_dtype=False)
    return True


def agree(lhs: Named, rhs: Named, tol: float = 1e-10) -> str:
    """The chapters' check of an identity between named tensors: ``lhs`` and
    ``rhs`` have the same axes (by name) and values within the absolute
    tolerance ``tol`` (dtypes not compared), or AssertionError
    (assert_close's message).  Returns a line for the page that says what
    was checked.

    Example:

    >>> from ntlib.testing import agree
    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> agree(A + A, 2 * A)
    'agree on {i[2], j[2]} (max difference < 1e-10)'
    """
    assert_close(lhs, rhs, rtol=0, atol=tol, check_dtype=False)
    return f"agree on {_fmt(dict(sorted(lhs.shape.items())))} (max difference < {tol:g})"


def allclose(actual: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Whether two positional arrays (torch tensors on any device, numpy arrays,
    nested lists, numbers) have the same shape and the same values within
    tolerance, compared on the CPU in float64: for the chapters' tables that
    check a named result, made positional, against another library.

    Unlike torch.allclose, shapes are not broadcast (a (3,) array is not
    close to a (2, 3) one) and dtypes and devices may differ.

    Example:

    >>> from ntlib.testing import allclose
    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> allclose(nt.positional(A, ("j", "i")), [[1, 3], [2, 4]])
    True
    >>> row = nt.positional(A, ("i", "j"))[0]
    >>> allclose(row, [[1, 2], [1, 2]])         # not broadcast
    False
    """
    a = torch.as_tensor(actual).detach().cpu().to(torch.float64)
    b = torch.as_tensor(expected).detach().cpu().to(torch.float64)
    return a.shape == b.shape and torch.allclose(a, b, rtol=rtol, atol=atol)


def assert_equal(actual: Named, expected: Any, *, order: Sequence[str] | str | None = None,
                 check_dtype: bool = True) -> None:
    """Assert that ``actual`` equals ``expected`` exactly (see :func:`assert_close`
    for the arguments); NaN equals NaN, as in numpy.testing.assert_array_equal.

    Example:

    >>> from ntlib.testing import assert_equal
    >>> x = nt.tensor([1, 2, 3], "a")
    >>> assert_equal(x + x, 2 * x)
    >>> assert_equal(x, nt.tensor([1, 2], "a"))
    Traceback (most recent call last):
        ...
    AssertionError: assert_equal: axis sizes differ: 'a' has size 3 ... 2 ...
    """
    _compare(actual, expected, order, 0.0, 0.0, True, check_dtype, "assert_equal")


def named(data: Any, names: Sequence[str] | str, *,
          storage: Sequence[str] | Sequence[int] | None = None) -> Named:
    """A named tensor holding the positional ``data`` whose dims are ``names``.

    ``storage`` (axis names, or a permutation of the dims as ints) stores the
    result with its axes in that order instead (a permuted view, not a copy),
    so that code which relied on the storage order or on contiguous data would
    fail; the values by name are the same.

    Example:

    >>> from ntlib.testing import named
    >>> B = named([[1, 2, 3], [4, 5, 6]], ("a", "b"), storage=("b", "a"))
    >>> B.names                                       # stored b first
    ('b', 'a')
    >>> nt.show(B, ("a", "b"))                  # the same values by name
    a[2] × b[3]   (rows: a, columns: b)
    [[1 2 3]
     [4 5 6]]
    """
    axes = _names_of(names)
    data = torch.as_tensor(data)
    if storage is None:
        return _nt.tensor(data, axes)
    order = tuple(axes[p] if isinstance(p, int) else p for p in storage)
    if sorted(order) != sorted(axes):
        raise ValueError(f"named: storage {tuple(storage)} must list each of {axes} once")
    perm = [axes.index(a) for a in order]
    return _nt.tensor(data.permute(perm), order)


def positional_reference(fn: Callable[..., Any], *tensors: Any, order: Sequence[Any],
                         names: Sequence[Any] = ()) -> Any:
    """``fn`` run on the positional data of ``tensors``, its result named ``names``.

    Each named tensor among ``tensors`` is passed to ``fn`` as a torch tensor
    whose dimensions are its axes in the order they have in ``order`` (one
    sequence of names for all), or in ``order[k]`` for the k-th argument (a
    sequence of sequences); other arguments are passed unchanged.  ``fn``
    returns a torch tensor whose dimensions are ``names``, or a tuple of
    them, with ``names`` a sequence of name sequences.  Axis order is then
    explicit everywhere, as in a positional reference implementation.

    Example:

    >>> from ntlib.testing import assert_close, positional_reference
    >>> X = nt.randn(seed=0, batch=2, layer=3)
    >>> W = nt.randn(seed=1, out=4, layer=3)
    >>> ref = positional_reference(lambda x, w: x @ w.T, X, W,
    ...                            order=("batch", "out", "layer"),
    ...                            names=("batch", "out"))
    >>> nt.shape(ref)
    {'batch': 2, 'out': 4}
    >>> assert_close(nt.contract(X, W, over="layer"), ref)
    """
    per_arg = (not isinstance(order, str) and len(order) > 0
               and not isinstance(order[0], str))
    args = []
    for k, t in enumerate(tensors):
        if not _is_named(t):
            args.append(t)
            continue
        have = _nt.shape(t)
        o = _names_of(order[k] if per_arg else order)
        missing = [a for a in have if a not in o]
        if missing:
            raise ValueError(f"positional_reference: argument {k} has axes {missing} "
                             f"that order {o} does not place")
        if per_arg and len(o) != len(have):
            raise ValueError(f"positional_reference: order {o} for argument {k} "
                             f"must list its axes {_fmt(have)} once")
        args.append(_nt.positional(t, [a for a in o if a in have]))
    out = fn(*args)
    if isinstance(out, (tuple, list)):
        if len(names) != len(out) or isinstance(names, str):
            raise ValueError(f"positional_reference: fn returned {len(out)} tensors; "
                             f"give names= as {len(out)} sequences of axis names")
        return tuple(_nt.tensor(o, _names_of(n)) for o, n in zip(out, names))
    return _nt.tensor(out, _names_of(names))


# ---------------------------------------------------------------------------
# hypothesis strategies


def _st() -> Any:
    try:
        from hypothesis import strategies as st
    except ImportError as e:  # pragma: no cover
        raise ImportError("ntlib.testing's strategies need hypothesis "
                          "(pip install hypothesis)") from e
    return st


POOL = ("a", "b", "c", "d")


def shapes(names: Sequence[str] = POOL, *, min_size: int = 1, max_size: int = 4,
           min_axes: int | None = None, max_axes: int | None = None
           ) -> SearchStrategy[dict[str, int]]:
    """A strategy of shapes ``{axis: size}``.

    Without ``min_axes``/``max_axes`` every name of ``names`` is an axis;
    with them, a drawn subset of ``names`` (in a drawn order) of that many
    axes.  Sizes lie in [min_size, max_size].
    """
    st = _st()
    names = _names_of(names)

    @st.composite
    def draw_shape(draw):
        axes = names
        if min_axes is not None or max_axes is not None:
            lo = 0 if min_axes is None else min_axes
            hi = len(names) if max_axes is None else max_axes
            axes = tuple(draw(st.lists(st.sampled_from(names), min_size=lo,
                                       max_size=hi, unique=True)))
        return {a: draw(st.integers(min_size, max_size)) for a in axes}
    return draw_shape()


def axis_orders(names: Sequence[str]) -> SearchStrategy[tuple[str, ...]]:
    """A strategy of the orders (permutations, as tuples) of the axis names."""
    st = _st()
    return st.permutations(list(_names_of(names))).map(tuple)


def _values(shape_, dtype, seed, low, high):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape_, generator=g) < 0.5
    if dtype.is_complex:
        return torch.randn(shape_, generator=g, dtype=dtype)
    if dtype.is_floating_point:
        return torch.randn(shape_, generator=g, dtype=torch.float64).to(dtype)
    info = torch.iinfo(dtype)
    lo, hi = max(low, info.min), min(high, info.max)
    return torch.randint(lo, hi + 1, shape_, generator=g, dtype=torch.int64).to(dtype)


def named_tensors(names: Sequence[str] | None = None, sizes: Any = None,
                  dtype: torch.dtype = torch.float64, *, elements: Any = None,
                  min_size: int = 1, max_size: int = 4, low: int = -4,
                  high: int = 4) -> SearchStrategy[Named]:
    """A strategy of named tensors stored in a drawn axis order.

    ``names``: the axes (default: a drawn subset of ``a, b, c, d``);
    ``sizes``: ``{axis: size}``, a strategy of such dicts (``shapes(...)``),
    or None for sizes drawn in [min_size, max_size].  Values are drawn from a
    seeded torch generator (floats standard normal, integers in [low, high],
    booleans fair) unless ``elements`` (a hypothesis strategy of numbers)
    says otherwise.
    """
    st = _st()

    @st.composite
    def draw_tensor(draw):
        if sizes is None:
            axes = _names_of(names) if names is not None else tuple(draw(
                st.lists(st.sampled_from(POOL), max_size=len(POOL), unique=True)))
            sz = {a: draw(st.integers(min_size, max_size)) for a in axes}
        else:
            sz = dict(draw(sizes) if hasattr(sizes, "example") else sizes)
            axes = _names_of(names) if names is not None else tuple(sz)
            missing = [a for a in axes if a not in sz]
            if missing:
                raise ValueError(f"named_tensors: no size for axes {missing}")
        order = draw(st.permutations(list(axes))) if axes else []
        shape_ = [sz[a] for a in order]
        if elements is None:
            data = _values(shape_, dtype, draw(st.integers(0, 2**31 - 1)), low, high)
        else:
            flat = draw(st.lists(elements, min_size=math.prod(shape_),
                                 max_size=math.prod(shape_)))
            data = torch.tensor(flat, dtype=dtype).reshape(shape_)
        return _nt.tensor(data, tuple(order))
    return draw_tensor()


def to_device(x: Named, device: str | torch.device) -> Named:
    """The named tensor ``x`` with its data on ``device`` (e.g. ``"meta"``).

    Unlike :func:`ntlib.tensor`, which places data on :func:`ntlib.device`,
    this keeps the device asked for, so that a test can mix devices.
    """
    return type(x)(x.data.to(device), x.inputs, "real")


# --------------------------------------------------------------------------
# the models of Appendix A in positional torch: the tests (tests/test_models.py)
# compare ntlib's models with them, and the benchmarks (benchmarks/bench_models.py)
# time them beside ntlib's


def positional_encoding_reference(n: int, d: int,
                                  dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Vaswani et al.'s 0-based form, (n, d): PE[p, 2k] = sin(p / 10000^(2k/d)),
    PE[p, 2k+1] = cos(p / 10000^(2k/d))."""
    pe = torch.zeros(n, d, dtype=dtype)
    p = torch.arange(n, dtype=dtype).unsqueeze(1)
    div = 10000 ** (torch.arange(0, d, 2, dtype=dtype) / d)
    pe[:, 0::2] = torch.sin(p / div)
    pe[:, 1::2] = torch.cos(p / div[: d // 2])
    return pe


def transformer_weights(params: Mapping[str, Named]) -> dict[str, Any]:
    """A Transformer's parameter dict (nt.models.init_transformer) as positional
    tensors in fixed orders, read with nt.positional: {"E": (vocab, layer),
    "layers": [one dict per layer]}."""
    n_layers = len([k for k in params if k.endswith(".WQ")])
    w: dict[str, Any] = {"E": _nt.positional(params["E"], ("vocab", "layer")), "layers": []}
    for l in range(1, n_layers + 1):
        def g(k: str, order: tuple[str, ...], l: int = l) -> torch.Tensor:
            return _nt.positional(params[f"{l}.{k}"], order)
        w["layers"].append(dict(
            WQ=g("WQ", ("heads", "layer", "key")), WK=g("WK", ("heads", "layer", "key")),
            WV=g("WV", ("heads", "layer", "val")), WO=g("WO", ("heads", "val", "layer")),
            g1=g("gamma", ("layer",)), b1n=g("beta", ("layer",)),
            W1=g("W1", ("hidden", "layer")), b1=g("b1", ("hidden",)),
            W2=g("W2", ("hidden", "layer")), b2=g("b2", ("layer",)),
            g2=g("gamma'", ("layer",)), b2n=g("beta'", ("layer",))))
    return w


def _attention_block(x: torch.Tensor, p: Mapping[str, torch.Tensor],
                     mask: torch.Tensor | None) -> torch.Tensor:
    """x: (batch, n, d) -> multi-head self-attention output (batch, n, d)."""
    q = torch.einsum("bnd,hdk->bhnk", x, p["WQ"])
    k = torch.einsum("bnd,hdk->bhnk", x, p["WK"])
    v = torch.einsum("bnd,hdk->bhnk", x, p["WV"])
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    a = torch.softmax(s, dim=-1) @ v
    return torch.einsum("bhnv,hvd->bnd", a, p["WO"])


def transformer_reference(tokens: torch.Tensor, w: Mapping[str, Any],
                          version: str = "latest", causal: bool = True,
                          eps: float = 1e-5) -> torch.Tensor:
    """The Transformer's logits in positional torch, from the equations:
    tokens (batch, n) int64 and weights from transformer_weights -> (batch, n, vocab)."""
    E = w["E"]
    n, d = tokens.shape[1], E.shape[1]
    x = E[tokens] * math.sqrt(d) + positional_encoding_reference(n, d, E.dtype).to(E.device)
    mask = None
    if causal:  # rows: queries j, columns: keys i; i > j is masked
        mask = torch.full((n, n), -math.inf, dtype=E.dtype, device=E.device).triu(1)
    for p in w["layers"]:
        att = _attention_block(x, p, mask)

        def ln1(z: torch.Tensor, p: Mapping[str, torch.Tensor] = p) -> torch.Tensor:
            return F.layer_norm(z, (d,), p["g1"], p["b1n"], eps)

        def ln2(z: torch.Tensor, p: Mapping[str, torch.Tensor] = p) -> torch.Tensor:
            return F.layer_norm(z, (d,), p["g2"], p["b2n"], eps)

        def ff(z: torch.Tensor, p: Mapping[str, torch.Tensor] = p) -> torch.Tensor:
            return torch.relu(z @ p["W1"].T + p["b1"]) @ p["W2"] + p["b2"]
        if version == "latest":
            t = ln1(att + x)
            x = ln2(ff(t) + t)
        else:
            t = ln1(att) + x
            x = ln2(torch.relu(ff(t))) + t
    return x @ E.T


def lenet_weights(params: Mapping[str, Named]) -> dict[str, torch.Tensor]:
    """LeNet's parameter dict (nt.models.init_lenet) as positional tensors in
    torch's orders (convolutions (out, in, kh, kw), linear maps (out, in))."""
    def g(k: str, order: tuple[str, ...]) -> torch.Tensor:
        return _nt.positional(params[k], order)
    conv = ("chans'", "chans", "kh", "kw")
    return dict(W1=g("W1", conv), b1=g("b1", ("chans'",)), W2=g("W2", conv),
                b2=g("b2", ("chans'",)), W3=g("W3", ("hidden", "layer")),
                b3=g("b3", ("hidden",)), W4=g("W4", ("classes", "hidden")),
                b4=g("b4", ("classes",)))


def lenet_reference(x: torch.Tensor, w: Mapping[str, torch.Tensor],
                    pools: Sequence[tuple[int, int]] = ((2, 2), (2, 2))) -> torch.Tensor:
    """LeNet's logits in positional torch: x (batch, chans, height, width) and
    weights from lenet_weights -> (batch, classes)."""
    x = F.max_pool2d(torch.relu(F.conv2d(x, w["W1"], w["b1"])), pools[0])
    x = F.max_pool2d(torch.relu(F.conv2d(x, w["W2"], w["b2"])), pools[1])
    x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten in (height, width, chans) order
    x = torch.relu(F.linear(x, w["W3"], w["b3"]))
    return F.linear(x, w["W4"], w["b4"])
