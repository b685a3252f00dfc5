"""nt.distributed: named tensors laid out on a device mesh by axis name.

- the layout logic without processes: the rule's errors (ntlib's LayoutError,
  naming the axis and the mesh dimension), placements, memory per device;
- gloo on the CPU with 2 and then 4 processes, each world size spawned once
  and running every check inside: shard/full, layouts of results (a sum over
  a split axis is a partial sum), ntlib operations, repr/show/comparisons,
  and A.1's Transformer trained data-parallel (batch), tensor-parallel
  (heads, hidden) and on a 2-D mesh, against the single-process run: losses,
  gradients and parameters after the optimizer's steps;
- a failing rank fails the launch (with its traceback) instead of hanging:
  every collective is under the process group's timeout and the launch
  under an outer one;
- NCCL with two GPUs where they exist (make test-gpu), skipped otherwise.
"""

from __future__ import annotations

import time

import pytest
import torch

import ntlib as nt

D = pytest.importorskip("ntlib.distributed")
if not torch.distributed.is_available():   # pragma: no cover
    pytest.skip("torch.distributed is not available in this build of torch",
                allow_module_level=True)

TIMEOUT = 120.0     # per collective; the launch waits at most twice that
TP_RULE = {"heads": "tp", "hidden": "tp"}
SMALL = dict(batch=4, seq=6, vocab=11, heads=4, layer=16, hidden=24, steps=2)


# --------------------------------------------------------------------------
# the layout logic, no processes

def test_rule_errors_name_the_axis_and_the_mesh_dimension():
    sizes = {"batch": 8, "seq": 6, "heads": 4}
    mesh = {"dp": 2, "tp": 4}
    with pytest.raises(D.LayoutError, match=r"axis 'depth' .*'dp'.* not an axis"):
        D.check_rule(sizes, mesh, {"depth": "dp"})
    with pytest.raises(D.LayoutError, match=r"axis 'batch' to mesh dimension 'pp'.*lacks"):
        D.check_rule(sizes, mesh, {"batch": "pp"})
    with pytest.raises(D.LayoutError,
                       match=r"mesh dimension 'tp' would split two axes .*'batch' and 'heads'"):
        D.check_rule(sizes, mesh, {"batch": "tp", "heads": "tp"})
    with pytest.raises(D.LayoutError,
                       match=r"axis 'seq' of size 6 .* mesh dimension 'tp' of size 4"):
        D.check_rule(sizes, mesh, {"seq": "tp"})
    with pytest.raises(D.LayoutError, match=r"axis names \(str\)"):
        D.check_rule(sizes, mesh, {0: "dp"})
    with pytest.raises(TypeError, match="must map axis names"):
        D.check_rule(sizes, mesh, "batch")
    # as (axis, mesh dim) pairs, an axis can be written twice: refused
    assert D.check_rule(sizes, mesh, [("batch", "dp")]) == {"batch": "dp"}
    with pytest.raises(D.LayoutError, match=r"axis 'batch' is mapped twice, .*'dp' and 'tp'"):
        D.check_rule(sizes, mesh, [("batch", "dp"), ("batch", "tp")])
    assert issubclass(D.LayoutError, nt.AxisError)


def test_rule_for_a_whole_model_passes_over_missing_axes():
    mesh = {"dp": 2, "tp": 2}
    rule = {"batch": "dp", "heads": "tp", "hidden": "tp"}
    assert D.check_rule({"hidden": 8, "layer": 4}, mesh, rule, strict=False) == \
        {"hidden": "tp"}
    # heads and hidden share tp: fine for tensors with one of them, not both
    with pytest.raises(D.LayoutError, match="'heads' and 'hidden'"):
        D.check_rule({"heads": 2, "hidden": 8}, mesh, rule, strict=False)


def test_placements_follow_the_storage_order():
    R, S = D.Replicate(), D.Shard
    mesh = {"dp": 2, "tp": 2}
    rule = {"batch": "dp", "heads": "tp"}
    assert D.placements(("heads", "seq", "batch"), mesh, rule) == (S(2), S(0))
    assert D.placements(("batch", "seq", "heads"), mesh, rule) == (S(0), S(2))
    assert D.placements(("seq", "batch"), mesh, {"batch": "tp"}) == (R, S(1))
    whole = {"batch": "dp", "heads": "tp", "hidden": "tp"}      # a model's rule
    assert D.placements(("hidden", "layer"), mesh, whole) == (R, S(0))
    with pytest.raises(D.LayoutError, match="'heads' and 'hidden'"):
        D.placements(("hidden", "heads"), mesh, whole)


def test_memory_per_device_against_a_count_of_blocks():
    with nt.on_device("meta"):
        params = nt.models.init_transformer(vocab=50, layers=2, heads=8, layer=32,
                                            hidden=96)
    mesh, rule = {"dp": 2, "tp": 4}, {"batch": "dp", "heads": "tp", "hidden": "tp"}
    got = D.memory_per_device(params, mesh, rule)
    for k, p in params.items():   # brute force: the size of one device's block
        block = [n // (4 if a in ("heads", "hidden") else 1) for a, n in p.shape.items()]
        assert got[k] == 4 * int(torch.Size(block).numel()), k
    assert got["1.WQ"] == 4 * 8 * 32 * 4 // 4 and got["E"] == 4 * 50 * 32
    with pytest.raises(D.LayoutError, match=r"memory_per_device \(1.W1\): axis 'hidden'"):
        D.memory_per_device(params, {"tp": 5}, {"hidden": "tp"})


# --------------------------------------------------------------------------
# processes: the checks each rank runs (module functions: spawned, not forked)

def _checks_in_processes(world: int) -> dict:
    """Run in every process: shard/full and ntlib operations on laid-out
    tensors, then the training runs; the results for rank 0 to compare."""
    D_ = D
    out: dict = {}
    dims = {"dp": 2} if world == 2 else {"dp": 2, "tp": 2}
    m = D_.mesh(**dims)
    x = nt.randn(seed=3, batch=4, seq=6, layer=8, dtype=torch.float64)
    w = nt.randn(seed=4, layer=8, out=2, dtype=torch.float64)
    xs = D_.shard(x, m, {"batch": "dp"})
    out["layout_x"] = D_.layout(xs)
    out["local_x"] = dict(D_.local(xs).shape)
    out["roundtrip"] = float((D_.full(xs) - x).abs().max().data)
    with D_.on_mesh():
        y = nt.contract(xs, w, over="layer")               # w never laid out
        out["layout_y"] = D_.layout(y)
        s = nt.sum(xs, "batch")                              # over the split axis
        out["layout_sum"] = D_.layout(s)
        out["sum"] = float((D_.full(s) - nt.sum(x, "batch")).abs().max().data)
        z = nt.softmax(nt.relu(y) * 2 - 1, "out")
        out["ops"] = float((D_.full(z) - nt.softmax(nt.relu(nt.contract(x, w, over="layer"))
                                                    * 2 - 1, "out")).abs().max().data)
        out["compare"] = bool(nt.allclose(D_.full(xs), x)) and \
            bool(D_.full(xs > 0).data.equal((x > 0).data))
        out["repr"] = repr(nt.index(xs, "layer", 0))
        out["repr_sum"] = repr(s).splitlines()[0]
        out["show"] = str(nt.show(nt.index(xs, "layer", 0), ("batch", "seq")))
        out["show_ref"] = str(nt.show(nt.index(x, "layer", 0), ("batch", "seq")))
        out["eq"] = bool(D_.full((xs * 2) == (x * 2)).data.all())
    runs = {"dp": ({"dp": world}, {"batch": "dp"}),
            "tp": ({"tp": world}, TP_RULE)}
    if world == 4:
        runs = {"dp x tp": ({"dp": 2, "tp": 2}, {"batch": "dp", **TP_RULE})}
    out["runs"] = {k: D_.training_run(mesh_dims=d, rule=r, **SMALL)
                   for k, (d, r) in runs.items()}
    return out


def _fails_on_rank_one() -> None:
    if torch.distributed.get_rank() == 1:
        raise ValueError("rank one broke")
    torch.distributed.all_reduce(torch.ones(3))   # rank 0 waits here


@pytest.fixture(scope="module")
def reference():
    return D.training_run(**SMALL)


@pytest.mark.parametrize("world", [2, 4])
def test_gloo_on_the_cpu(world, reference):
    t0 = time.monotonic()
    results = D.launch(_checks_in_processes, world, world, timeout=TIMEOUT)
    r = results[0]
    assert r["layout_x"] == {"batch": "dp"}
    assert r["local_x"] == {"batch": 2, "seq": 6, "layer": 8}
    assert r["roundtrip"] == 0.0
    assert r["layout_y"] == {"batch": "dp"}
    assert set(r["layout_sum"]) == {"+dp"}            # a partial sum, not reduced yet
    assert r["sum"] < 1e-12 and r["ops"] < 1e-12 and r["compare"]
    assert r["repr"].startswith("named tensor batch[4] × seq[6], laid out on mesh ")
    assert "batch -> dp" in r["repr"] and "this process's block: named tensor batch[2]" \
        in r["repr"]
    assert "partial sums over dp" in r["repr_sum"]
    assert r["show"] == r["show_ref"] and r["eq"]
    for name, run in r["runs"].items():
        diff = D.compare(reference, run)
        # the reference's own steps move the parameters by ~lr: a wrong
        # gradient would show far above these bounds
        assert diff["losses"] < 1e-12, (name, diff)
        assert diff["grads"] < 1e-12, (name, diff)
        assert diff["params"] < 1e-12, (name, diff)
        assert set(run["grads"]) == set(reference["grads"])
    # the other ranks gathered the same global values
    for other in results[1:]:
        for name, run in other["runs"].items():
            assert D.compare(r["runs"][name], run)["params"] == 0.0
    print(f"{world} processes: {time.monotonic() - t0:.1f} s")


def test_the_check_can_fail(reference):
    """compare sees a wrong gradient: one parameter's gradient scaled."""
    bad = {"losses": reference["losses"], "params": reference["params"],
           "grads": dict(reference["grads"])}
    g, names = bad["grads"]["1.WO"]
    bad["grads"]["1.WO"] = (g * 1.001, names)
    assert D.compare(reference, bad)["grads"] > 1e-8


def test_a_failing_rank_fails_the_launch():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"rank 1 of 2 failed(.|\n)*rank one broke"):
        D.launch(_fails_on_rank_one, 2, timeout=30.0)
    assert time.monotonic() - t0 < 60


@pytest.mark.skipif(torch.cuda.device_count() < 2,
                    reason="NCCL needs two or more CUDA GPUs; "
                           f"this machine has {torch.cuda.device_count()}")
def test_nccl_on_two_gpus(reference):   # pragma: no cover (GPU machines)
    results = D.launch(D.training_run, 2, timeout=TIMEOUT, backend="nccl",
                       mesh_dims={"dp": 2}, rule={"batch": "dp"}, **SMALL)
    diff = D.compare(reference, results[0])
    assert max(diff.values()) < 1e-10, diff
