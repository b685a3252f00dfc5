"""The meta device (issue 18): shapes only, no values, no memory.

Every entry of tests/public_api.py's table that has a build runs twice, once
with ``nt.on_device("cpu")`` and once with ``nt.on_device("meta")`` (arguments
built there: ``nt.randn``, ``nt.tensor`` and the models' ``init_*`` make them
on meta).  On meta each call either returns the same structure as on the CPU,
every tensor in it on meta with the same names, sizes and dtype, or, for the
operations that need values (``META_REFUSES``, with the reason; the README's
section *The meta device* lists them), raises ``nt.DeviceError`` from ntlib's
own code.  The set of refusing entries is exact: an operation that starts to
fail on meta, or a listed one that starts to run, fails the test.

Also: the models forward, loss and backward on meta; integer ``contract``
and negative indices on meta; parameters made on meta without drawing
anything on the CPU (torch's generators patched to fail; a GPT-3-sized
model in a subprocess whose address space is capped); ``nt.on_device`` and
``NTLIB_DEVICE=meta``.  ``make test-meta`` runs this file and
tests/test_device_branches.py.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import types

import pytest
import torch

import ntlib as nt
from ntlib.testing import to_device
from public_api import TABLE, replace_tensors
from robust import expect_own_error, params

#: entries that need values, refused on meta with nt.DeviceError, and why
META_REFUSES = {
    "equal": "a Python bool from comparing values",
    "allclose": "a Python bool from comparing values",
    "show": "prints values",
    "NamedTensor.item": "a Python number from the value",
    "NamedTensor.__bool__": "a Python bool from the value",
    "NamedTensor.__float__": "a Python number from the value",
    "NamedTensor.__int__": "a Python number from the value",
    "calculus.max_difference": "a Python float from the values",
    "calculus.remainder_ratio": "a Python float from the values",
    "examples.sudoku_propagate": "loops until the candidates stop changing",
    "examples.belief_propagation": "checks that factors are nonnegative and "
                                   "loops until the messages converge",
    "alternatives.to_xarray": "hands the values to xarray (numpy)",
    "alternatives.sql_load": "writes the values into an SQLite table",
    "alternatives.sql_contract": "computes in SQLite, from the values",
    "alternatives.tuples": "the set of records where the values are nonzero",
    "alternatives.varying_axes": "compares slices of values",
}

#: entries whose arguments cannot be built on meta (the build itself calls a
#: refusing function): built on the CPU, their tensors moved to meta
BUILT_ON_CPU = {
    "alternatives.from_xarray": "its DataArray comes from to_xarray",
    "alternatives.sql_read": "its table is written by sql_load",
}

BUILT = [e.name for e in TABLE if e.build is not None]
# the string forms print values on the CPU and "no values" on meta
TEXT = {"NamedTensor.__repr__", "NamedTensor.__str__"}


def _describe(obj, where):
    """A device-free description of a result: tensors by names, sizes and dtype
    (each asserted to be on ``where``), containers by their parts, other
    values as they are."""
    if isinstance(obj, nt.NamedTensor):
        assert obj.data.device.type == where, (obj.data.device, where)
        return ("named", tuple(obj.names), tuple(obj.data.shape), obj.data.dtype)
    if isinstance(obj, torch.Tensor):
        assert obj.device.type == where, (obj.device, where)
        return ("tensor", tuple(obj.shape), obj.dtype)
    if isinstance(obj, torch.device):
        assert obj.type == where
        return "device"
    if isinstance(obj, dict):
        return {k: _describe(v, where) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_describe(v, where) for v in obj)
    if isinstance(obj, types.GeneratorType):
        return [_describe(v, where) for v in obj]
    if dataclasses.is_dataclass(obj):
        return (type(obj).__name__, _describe(dataclasses.asdict(obj), where))
    return obj


def _run(entry, where):
    with nt.on_device(where):
        try:
            args, kwargs = entry.build()
        except nt.DeviceError:
            assert where == "meta" and entry.name in BUILT_ON_CPU, entry.name
            with nt.on_device("cpu"):
                args, kwargs = entry.build()
            args, kwargs = (replace_tensors(a, lambda t: to_device(t, "meta"))
                            for a in (args, kwargs))
        return entry.fn(*args, **kwargs)


@pytest.mark.parametrize("name", params(BUILT))
def test_table_on_meta(name):
    entry = next(e for e in TABLE if e.name == name)
    cpu = _run(entry, "cpu")
    if name in META_REFUSES:
        expect_own_error(lambda: _run(entry, "meta"), nt.DeviceError, "meta",
                         "values", what=f"{name} on meta")
        return
    meta = _run(entry, "meta")
    if name in TEXT:
        assert "meta" in meta and "no values" in meta, meta
        head = cpu.splitlines()[0].split("   (values")[0]
        assert meta.splitlines()[0] == head.replace(", cpu", ", meta")
        return
    assert _describe(meta, "meta") == _describe(cpu, "cpu"), name


def test_meta_coverage_is_counted():
    """The numbers the README gives: entries with a build, and how many refuse."""
    assert set(META_REFUSES) <= set(BUILT)
    assert set(BUILT_ON_CPU) <= set(BUILT)
    assert len(BUILT) - len(META_REFUSES) > 150, len(BUILT)


def test_device_error_on_meta_names_the_operation():
    with nt.on_device("meta"):
        x = nt.randn(seed=0, a=2, b=3)
    err = expect_own_error(lambda: float(nt.sum(x)), nt.DeviceError, "float()",
                           "meta")
    assert isinstance(err, ValueError)
    with nt.on_device("meta"):
        C = nt.examples.sudoku_one_hot([[1, 0], [0, 0]])
    expect_own_error(lambda: nt.examples.sudoku_propagate(C), nt.DeviceError,
                     "sudoku_propagate", "meta")


# --------------------------------------------------------------------------
# what the table does not reach: integer contraction, negative indices,
# n-ary contraction, loss and backward of both models


def test_integer_contract_on_meta():
    """Integer contractions go to the CPU on CUDA; on meta they stay there."""
    for where in ("cpu", "meta"):
        with nt.on_device(where):
            a = nt.randint(-3, 4, seed=1, a=2, b=3)
            b = nt.randint(-3, 4, seed=2, b=3, c=4)
            c = nt.randint(-3, 4, seed=3, c=4, d=5)
            two = nt.contract(a, b, over="b")
            three = nt.contract(a, b, c, over=("b", "c"))
            mixed = nt.contract(a > 0, b, over="b")     # bool with int
        for r, names in ((two, {"a", "c"}), (three, {"a", "d"}), (mixed, {"a", "c"})):
            assert r.data.device.type == where
            assert set(r.names) == names and r.data.dtype == torch.int64


def test_negative_indices_on_meta():
    with nt.on_device("meta"):
        x = nt.randn(seed=0, a=2, b=5)
        i = nt.tensor(torch.tensor([-1, 3, -5]), "c")
        j = nt.tensor(torch.tensor([1, -2, 0]), "c")
        for r in (nt.index(x, "b", i), x[{"b": i}], x(b=i, a=j), x(a=-1)):
            assert r.data.is_meta
        assert nt.shape(nt.index(x, "b", i)) == {"a": 2, "c": 3}
        assert nt.shape(x(b=i, a=j)) == {"c": 3}


def _leaf_shapes(params_):
    return {k: (tuple(v.names), tuple(v.data.shape)) for k, v in params_.items()}


def _transformer_step(where):
    with nt.on_device(where):
        P = nt.models.init_transformer(vocab=11, layers=2, heads=2, layer=8,
                                       hidden=12, seed=0)
        I = nt.randint(0, 11, seed=1, batch=3, seq=5)
        Z = nt.models.transformer_logits(I, P)
        loss = nt.models.cross_entropy(Z, I)
        loss.data.backward()
        with nt.plain():
            Zp = nt.models.transformer_logits(I, P, version="v1")
    return P, Z, loss, Zp


def test_transformer_forward_loss_backward_on_meta():
    P, Z, loss, Zp = _transformer_step("meta")
    Pc, Zc, lossc, _ = _transformer_step("cpu")
    for t in (Z, loss, Zp):
        assert t.data.is_meta
    assert nt.shape(Z) == nt.shape(Zc) == nt.shape(Zp) == {"batch": 3, "seq": 5,
                                                           "vocab": 11}
    assert nt.shape(loss) == {}
    assert _leaf_shapes(P) == _leaf_shapes(Pc)
    for k, v in P.items():
        g = v.data.grad
        assert g is not None and g.is_meta and g.shape == v.data.shape, k


def test_lenet_forward_loss_backward_on_meta():
    shapes = {}
    for where in ("cpu", "meta"):
        with nt.on_device(where):
            P = nt.models.init_lenet(height=16, width=16, pools=((2, 2), (1, 1)),
                                     seed=0)
            X = nt.randn(seed=1, batch=4, chans=1, height=16, width=16,
                         dtype=torch.float32)
            y = nt.randint(0, 10, seed=2, batch=4)
            for flatten in (True, False):
                Z = nt.models.lenet_logits(X, P, pools=((2, 2), (1, 1)),
                                           flatten=flatten)
            loss = nt.models.cross_entropy(Z, y, vocab="classes")
            loss.data.backward()
        assert all(v.data.grad.device.type == where for v in P.values())
        shapes[where] = (nt.shape(Z), _leaf_shapes(P),
                         {k: tuple(v.data.grad.shape) for k, v in P.items()})
    assert shapes["meta"] == shapes["cpu"]


# --------------------------------------------------------------------------
# parameters on meta: nothing drawn, nothing allocated on the CPU

GPT3 = dict(vocab=50257, layers=96, heads=96, layer=12288)   # hidden = 4 |layer|


def _refuse(*args, **kwargs):
    raise AssertionError("a random generator ran")


@pytest.fixture
def no_generators(monkeypatch):
    """torch's random generators (and CPU factory of seeded generators) fail."""
    for fn in ("randn", "rand", "randint", "normal", "bernoulli", "multinomial",
               "Generator"):
        monkeypatch.setattr(torch, fn, _refuse)
    for fn in ("normal_", "uniform_", "random_"):
        monkeypatch.setattr(torch.Tensor, fn, _refuse)


def test_the_patch_catches_a_cpu_draw(no_generators):
    with nt.on_device("cpu"), pytest.raises(AssertionError, match="generator"):
        nt.randn(seed=0, a=2)


def test_random_tensors_on_meta_draw_nothing(no_generators):
    with nt.on_device("meta"):
        for t in (nt.randn(seed=0, vocab=50257, layer=12288),
                  nt.rand(seed=0, a=2, b=3, dtype=torch.float16),
                  nt.randint(0, 9, seed=0, a=2, b=3),
                  nt.randint(0, 9, seed=0, a=2, dtype=torch.int8)):
            assert t.data.is_meta
        assert nt.dtype(nt.randn(seed=0, a=2)) == torch.float64
        assert nt.dtype(nt.randint(0, 9, seed=0, a=2)) == torch.int64
        assert nt.dtype(nt.rand(seed=0, a=2, dtype=torch.float16)) == torch.float16


def test_model_parameters_on_meta_draw_nothing(no_generators):
    with nt.on_device("meta"):
        P = nt.models.init_transformer(**GPT3, seed=0)
        L = nt.models.init_lenet(seed=0)
    for params_ in (P, L):
        for k, v in params_.items():
            assert v.data.is_meta and v.data.requires_grad and v.data.is_leaf, k
    assert len(P) == 1 + 12 * 96
    n = sum(v.data.numel() for v in P.values())
    assert n == 174_574_350_336, n      # 50257·12288 + 96·(12·12288² + 9·12288)


def test_gpt3_sized_model_on_meta_in_little_memory():
    """In a fresh process with NTLIB_DEVICE=meta and its address space capped
    at 1.5 GB above what torch takes: a GPT-3-sized model's parameters (700 GB
    in float32), a forward pass and the loss (backward: the test above and
    chapter A.1)."""
    code = textwrap.dedent("""
        import resource, torch, ntlib as nt
        P = nt.models.init_transformer(vocab=5, layers=1, heads=2, layer=4)
        I = nt.randint(0, 5, seed=1, batch=1, seq=3)
        nt.models.cross_entropy(nt.models.transformer_logits(I, P), I).data.backward()
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
        cap = vm + 1536 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert nt.device().type == "meta"
        P = nt.models.init_transformer(vocab=50257, layers=96, heads=96,
                                       layer=12288, seed=0)
        I = nt.randint(0, 50257, seed=0, batch=1, seq=2048)
        Z = nt.models.transformer_logits(I, P)
        loss = nt.models.cross_entropy(Z, I)
        assert nt.shape(Z) == {"batch": 1, "seq": 2048, "vocab": 50257}
        assert loss.data.is_meta and all(v.data.is_meta for v in P.values())
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
        print("grown_kb", grown)
        assert grown < 512 * 1024, grown
    """)
    env = dict(os.environ, NTLIB_DEVICE="meta", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "grown_kb" in out.stdout


# --------------------------------------------------------------------------
# choosing the device


def test_on_device_nests_and_restores(monkeypatch):
    monkeypatch.setenv("NTLIB_DEVICE", "cpu")
    assert nt.device() == torch.device("cpu")
    with nt.on_device("meta") as d:
        assert d == torch.device("meta") == nt.device()
        with nt.on_device(torch.device("cpu")):
            assert nt.device().type == "cpu"
            assert nt.randn(seed=0, a=2).data.device.type == "cpu"
        assert nt.tensor([1.0, 2.0], "a").data.is_meta
        with pytest.raises(KeyError):
            with nt.on_device("cpu"):
                raise KeyError("inside")
        assert nt.device().type == "meta"
    assert nt.device().type == "cpu"


def test_ntlib_device_meta_from_the_environment(monkeypatch):
    monkeypatch.setenv("NTLIB_DEVICE", "meta")
    assert nt.device() == torch.device("meta")
    x = nt.randn(seed=0, a=2, b=3)
    M = nt.causal_mask(4)
    P = nt.models.positional_encoding(4, 6)
    assert x.data.is_meta and M.data.is_meta and P.data.is_meta
    assert "no values" in repr(x)


# --------------------------------------------------------------------------
# meta and the CPU mixed: nt.DeviceError naming both (tests/test_robustness_devices.py
# runs the table's entries with two or more tensors; here n-ary and integer cases)


@pytest.mark.parametrize("k", range(3))
def test_mixed_devices_in_nary_operations(k):
    with nt.on_device("cpu"):   # on the CPU also under NTLIB_DEVICE=meta
        ts = [nt.randn(seed=1, a=2, b=3), nt.randn(seed=2, b=3, c=4),
              nt.randn(seed=3, c=4, a=2)]
        ints = [nt.astype(t * 10, torch.int64) for t in ts]
    for group in (ts, ints):
        moved = [to_device(t, "meta") if j == k else t for j, t in enumerate(group)]
        calls = {
            "contract": lambda: nt.contract(*moved, over=("b", "c")),
            "contract with a number": lambda: nt.contract(moved[0], 2, *moved[1:],
                                                          over="b"),
            "cat": lambda: nt.cat([nt.flatten(t, t.names, "z") for t in moved], "z"),
            "stack": lambda: nt.stack([nt.sum(t) for t in moved], "s"),
            "lift": lambda: nt.lift(lambda x, y, z: x * y * z, *moved,
                                    over=("a", "b", "c")),
        }
        for what, call in calls.items():
            expect_own_error(call, nt.DeviceError, "meta", "cpu",
                             what=f"{what}, operand {k} on meta")
