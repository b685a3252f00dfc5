"""torch.compile of ntlib's blocks and models against compiled positional torch (issue 25).

Each case is timed four ways: eager and compiled (``torch.compile``,
inductor, ``fullgraph=True``), named (ntlib) and positional (the torch
references of bench_models.py and bench_blocks.py, with the same weights).
Within a mode the named function and its positional reference run
alternately (benchmarks/common.py, ``timed_pair``); the ratio named /
positional is the figure of merit.

Cases (float32, on nt.device()):

- ``transformer_small``: the small Transformer of bench_models.py (2 layers,
  4 heads, |layer| 64, |hidden| 256, |vocab| 1000, seq 32), at batch 64;
- ``lenet``: LeNet at batch 64 (1×28×28, channels 6 and 16);
- ``attention``: nt.attention, batch 4, heads 4, seq 128, key = val 64;
- ``layer_norm``: nt.layer_norm, batch 8, seq 128, layer 512.

Passes: ``forward`` (under torch.no_grad) and ``forward+backward`` (the
loss compiled, its backward run on the compiled graph); without ``--full``
the models' plain path and the blocks' fused path are timed forward only.  Paths: ``fused``
(the default dispatch) and ``plain`` (``with nt.plain():`` inside the
compiled function, so the formulas as written are what is traced).

Targets (compiled named / compiled positional): the two models on the fused
path at most 1.10x; attention and layer norm on the plain path at most 1.2x.
Each compiled function is compiled in this process from nothing (no eager
warm-up), and the time of its first call is recorded (``compile_s``).

    BENCH_THREADS=1 .venv/bin/python benchmarks/bench_compile.py [--repeat 7] \
        [--min-time 2] [--full] [--cases lenet,attention] \
        [--out benchmarks/results/compile-cpu.json]

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import setup as model_setup  # noqa: E402
from common import finish, nt, sync, timed_pair  # noqa: E402

#: the issue's measure: both models at batch 64 (bench_models.py times the
#: small Transformer at batch 4, where per-call overhead dominates)
MODEL_BATCH = 64

CASES = {
    "transformer_small": "Transformer L=2 heads=4 layer=64 seq=32 batch=64",
    "lenet": "LeNet batch=64 28x28 chans 6,16",
    "attention": "attention batch 4, heads 4, seq 128, key=val 64",
    "layer_norm": "layer_norm batch 8, seq 128, layer 512",
}
TARGETS = {("transformer_small", "fused"): 1.10, ("lenet", "fused"): 1.10,
           ("attention", "plain"): 1.2, ("layer_norm", "plain"): 1.2}


def _rnd(grad, *shape, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=torch.float32).to(nt.device())
    return t.requires_grad_(grad)


def block_setup(case):
    """(named forward, named loss, reference forward, reference loss, leaves, leaves)."""
    if case == "attention":
        q, k, v = (_rnd(True, 4, 4, 128, 64, seed=s) for s in (1, 2, 3))
        Q = nt.tensor(q, ("batch", "heads", "query", "key"))
        K = nt.tensor(k, ("batch", "heads", "seq", "key"))
        V = nt.tensor(v, ("batch", "heads", "seq", "val"))

        def nt_fwd():
            return nt.attention(Q, K, V)

        def ref_fwd():
            return F.scaled_dot_product_attention(q, k, v)
        leaves = [q, k, v]
    else:
        x, gm, bt = _rnd(True, 8, 128, 512, seed=1), _rnd(True, 512, seed=2), _rnd(True, 512, seed=3)
        X = nt.tensor(x, ("batch", "seq", "layer"))
        G, B = nt.tensor(gm, "layer"), nt.tensor(bt, "layer")

        def nt_fwd():
            return nt.layer_norm(X, G, B, chans=None)

        def ref_fwd():
            return F.layer_norm(x, (512,), gm, bt)
        leaves = [x, gm, bt]

    def nt_loss():
        return (nt_fwd().data ** 2).sum()

    def ref_loss():
        return (ref_fwd() ** 2).sum()
    return nt_fwd, nt_loss, ref_fwd, ref_loss, leaves, leaves


def functions(case, pass_, path):
    """(named, reference, named leaves, reference leaves): what a pass computes,
    uncompiled, and the tensors whose gradients the backward pass fills."""
    if case in ("attention", "layer_norm"):
        nt_fwd, nt_loss, ref_fwd, ref_loss, p_nt, p_ref = block_setup(case)
    else:
        nt_fwd, nt_loss, ref_fwd, ref_loss, p_nt, p_ref = model_setup(case, batch=MODEL_BATCH)
    plain = path == "plain"
    if pass_ == "forward":
        def named():
            if plain:
                with nt.plain():
                    return nt_fwd().data
            return nt_fwd().data
        return named, ref_fwd, p_nt, p_ref

    def named_loss():
        if plain:
            with nt.plain():
                return nt_loss()
        return nt_loss()
    return named_loss, ref_loss, p_nt, p_ref


def runner(fn, pass_, leaves):
    if pass_ == "forward":
        def call():
            with torch.no_grad():
                return fn()
    else:
        def call():
            for p in leaves:
                p.grad = None
            fn().backward()
    return call


def measure(case, pass_, path, repeat, min_time):
    """{mode: (named s, reference s, named first call s, reference first call s)}."""
    named, ref, p_nt, p_ref = functions(case, pass_, path)
    out = {}
    for mode in ("eager", "compiled"):
        if mode == "compiled":
            torch._dynamo.reset()
            fn_n = torch.compile(named, fullgraph=True)
            fn_r = torch.compile(ref, fullgraph=True)
        else:
            fn_n, fn_r = named, ref
        call_n, call_r = runner(fn_n, pass_, p_nt), runner(fn_r, pass_, p_ref)
        t0 = time.perf_counter()
        call_n()
        sync()
        first_n = time.perf_counter() - t0
        t0 = time.perf_counter()
        call_r()
        sync()
        first_r = time.perf_counter() - t0
        t_n, t_r = timed_pair(call_n, call_r, repeat=repeat, min_time=min_time)
        out[mode] = (t_n, t_r, first_n, first_r)
    return out


def check(case):
    """Compiled and eager agree (float32 tolerance) before anything is timed."""
    for path in ("fused", "plain"):
        named = functions(case, "forward", path)[0]
        with torch.no_grad():
            want = named()
            got = torch.compile(named, fullgraph=True, backend="eager")()
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    torch._dynamo.reset()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--out", default=None)
    ap.add_argument("--full", action="store_true",
                    help="every pass on every path (by default the models' plain path and "
                         "the blocks' fused path are timed forward only: each row compiles "
                         "two functions, minutes on a small machine)")
    args = ap.parse_args()
    rows, missed = [], []
    for case in args.cases.split(","):
        check(case)
        for pass_ in ("forward", "forward+backward"):
            for path in ("fused", "plain"):
                blocks = case in ("attention", "layer_norm")
                if pass_ != "forward" and not args.full and (path == "fused") == blocks:
                    continue
                res = measure(case, pass_, path, args.repeat, args.min_time)
                (en, er, _, _), (cn, cr, first_n, first_r) = res["eager"], res["compiled"]
                r = {"suite": "compile", "case": CASES[case], "key": case, "pass": pass_,
                     "path": path, "eager_ntlib_s": en, "eager_reference_s": er,
                     "compiled_ntlib_s": cn, "compiled_reference_s": cr,
                     "eager_ratio": en / er, "compiled_ratio": cn / cr,
                     "compile_ntlib_s": first_n, "compile_reference_s": first_r}
                target = TARGETS.get((case, path))
                if target is not None:
                    r["target"] = target
                    if r["compiled_ratio"] > target:
                        missed.append(f"{case} {pass_} {path} {r['compiled_ratio']:.2f}x > {target}x")
                rows.append(r)
                print(f"{case:17s} {pass_:17s} {path:6s} eager {en * 1e3:8.3f} / {er * 1e3:8.3f} ms"
                      f" ({en / er:5.2f}x)   compiled {cn * 1e3:8.3f} / {cr * 1e3:8.3f} ms"
                      f" ({cn / cr:5.2f}x)   first call {first_n:5.1f} s / {first_r:5.1f} s",
                      flush=True)
    return finish(args.out, rows, missed)


if __name__ == "__main__":
    raise SystemExit(main())
