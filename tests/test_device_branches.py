"""The paths that differ on CUDA, run on the CPU by forcing their branch (issue 18).

ntlib takes another path on an accelerator in two places, each behind one
predicate (of the contraction planner, ntlib.core._contraction, and of the
indexing engine, ntlib.core._indexing):

- ``_int_products_on(device)``: torch has no integer matrix products on
  CUDA, so an integer (or boolean) contraction there is computed on the CPU
  and moved back;
- ``_bounds_checked_by_torch(device)``: on the CPU ``index_select`` checks
  its positions (ntlib reads them only when it raises, or for negative
  ones); on CUDA an out-of-bounds index is a fatal device error, so ntlib
  checks every index tensor first.

Each test makes the predicate answer as on CUDA, checks that the other
branch really runs (it is spied on), and that it gives what the normal CPU
path gives: the same values, dtypes and names, the same errors.
No GPU is needed; ``make test-gpu`` runs the real thing where there is one.
"""

from __future__ import annotations

import pytest
import torch
from torch.overrides import TorchFunctionMode

import ntlib as nt
from ntlib.core import _contraction as contraction, _indexing as indexing
from ntlib.testing import assert_equal


class Spy(TorchFunctionMode):
    """Records the names of the torch functions and methods called."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


@pytest.fixture(autouse=True)
def on_the_cpu():
    """Every test here runs on the CPU, whatever NTLIB_DEVICE says: meta has
    no values to compare, and on CUDA the branches are real, not forced."""
    with nt.on_device("cpu"):
        yield


@pytest.fixture
def as_on_cuda(monkeypatch):
    """Make both predicates answer as they do on a CUDA device."""
    monkeypatch.setattr(contraction, "_int_products_on", lambda dev: False)
    monkeypatch.setattr(indexing, "_bounds_checked_by_torch", lambda dev: False)


def test_the_predicates_on_each_device():
    cpu, meta, cuda = (torch.device(d) for d in ("cpu", "meta", "cuda"))
    assert contraction._int_products_on(cpu) and contraction._int_products_on(meta)
    assert not contraction._int_products_on(cuda)
    assert indexing._bounds_checked_by_torch(cpu)
    assert not indexing._bounds_checked_by_torch(meta)
    assert not indexing._bounds_checked_by_torch(cuda)


def _contractions():
    a = nt.randint(-4, 5, seed=1, a=3, b=4)
    b = nt.randint(-4, 5, seed=2, c=5, b=4)
    c = nt.randint(-4, 5, seed=3, c=5, d=2)
    small = nt.randint(-4, 5, seed=4, a=3, dtype=torch.int16)
    return {
        "two operands (matrix product)": nt.contract(a, b, over="b"),
        "two operands, nothing contracted": nt.contract(a, c, over=()),
        "three operands (einsum)": nt.contract(a, b, c, over=("b", "c")),
        "int16 with int64 (promoted)": nt.contract(small, a, over="a"),
        "bool with bool (counted in int64)": nt.contract(a > 0, b > 0, over="b"),
        "a Python number among the operands": nt.contract(a, 3, b, over="b"),
        "everything summed": nt.contract(a, b, over=("a", "b", "c")),
    }


def _spied(fn):
    with Spy() as spy:
        out = fn()
    return out, spy.calls


def test_integer_contract_through_the_cpu_fallback(monkeypatch):
    normal, calls = _spied(_contractions)
    assert "cpu" not in calls
    monkeypatch.setattr(contraction, "_int_products_on", lambda dev: False)
    forced, calls = _spied(_contractions)
    assert calls.count("cpu") >= 2 * len(forced), calls    # each operand sent over
    assert "to" in calls                                    # and the result back
    for what, r in forced.items():
        want = normal[what]
        assert r.data.dtype == want.data.dtype == torch.int64, what
        assert_equal(r, want)


def test_float_contract_never_takes_the_fallback(monkeypatch):
    monkeypatch.setattr(contraction, "_int_products_on", lambda dev: False)
    x, y = nt.randn(seed=1, a=3, b=4), nt.randn(seed=2, b=4, c=2)
    _, calls = _spied(lambda: nt.contract(x, y, over="b"))
    assert "cpu" not in calls


def _indexings():
    x = nt.randn(seed=1, a=3, b=5)
    ids = {"in range": [4, 0, 2], "negative": [-1, 3, -5], "repeated": [1, 1, 1]}
    out = {}
    for what, v in ids.items():
        i = nt.tensor(torch.tensor(v), "c")
        out[f"index, {what}"] = nt.index(x, "b", i)
        out[f"index int32, {what}"] = nt.index(x, "b", nt.astype(i, torch.int32))
        out[f"two axes at once, {what}"] = x(b=i, a=nt.tensor([0, -1, 2], "c"))
        out[f"2-d index, {what}"] = nt.index(
            x, "b", nt.tensor(torch.tensor([v, v[::-1]]), ("d", "c")))
    out["embed"] = nt.models.embed(nt.tensor([0, -1, 3], "seq"),
                                   nt.randn(seed=2, vocab=4, layer=2))
    out["cross_entropy"] = nt.models.cross_entropy(
        nt.randn(seed=3, batch=3, vocab=4), nt.tensor([3, -4, 1], "batch"))
    return out


BAD = {
    "index, too large": lambda x: nt.index(x, "b", nt.tensor([0, 5], "c")),
    "index, too negative": lambda x: nt.index(x, "b", nt.tensor([-6, 0], "c")),
    "two axes, one too large": lambda x: x(b=nt.tensor([0, 1], "c"),
                                           a=nt.tensor([3, 0], "c")),
}


def test_index_checked_first_as_on_an_accelerator(monkeypatch):
    normal = _indexings()
    seen = []
    in_range = indexing._in_range

    def spy(d, n, ax, what):
        seen.append(ax)
        return in_range(d, n, ax, what)

    monkeypatch.setattr(indexing, "_in_range", spy)
    _indexings()
    unchecked = len(seen)            # CPU: only negatives (second try) and 2-axis
    seen.clear()
    monkeypatch.setattr(indexing, "_bounds_checked_by_torch", lambda dev: False)
    forced = _indexings()
    assert len(seen) > unchecked     # every single-axis index checked first now
    for what, r in forced.items():
        assert_equal(r, normal[what])


@pytest.mark.parametrize("what", list(BAD))
def test_out_of_range_raises_the_same_error_on_both_branches(what, monkeypatch):
    x = nt.randn(seed=1, a=3, b=5)
    with pytest.raises(nt.AxisError) as normal:
        BAD[what](x)
    monkeypatch.setattr(indexing, "_bounds_checked_by_torch", lambda dev: False)
    with pytest.raises(nt.AxisError) as forced:
        BAD[what](x)
    assert str(forced.value) == str(normal.value)


def test_a_model_step_on_the_cuda_branches(as_on_cuda):
    """A Transformer's logits with integer token ids (embedding by index, the
    loss by index) and an integer contraction, both branches forced."""
    P = nt.models.init_transformer(vocab=7, layers=1, heads=2, layer=4, hidden=6,
                                   seed=0, dtype=torch.float64)
    I = nt.randint(-7, 7, seed=1, batch=2, seq=3)
    forced = nt.models.cross_entropy(nt.models.transformer_logits(I, P), I)
    counts = nt.contract(nt.models.one_hot(I, size=7) > 0, I, over="seq")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(contraction, "_int_products_on", lambda dev: dev.type in ("cpu", "meta"))
        m.setattr(indexing, "_bounds_checked_by_torch", lambda dev: dev.type == "cpu")
        normal = nt.models.cross_entropy(nt.models.transformer_logits(I, P), I)
        counts_normal = nt.contract(nt.models.one_hot(I, size=7) > 0, I, over="seq")
    assert_equal(forced, normal)
    assert_equal(counts, counts_normal)
