"""Benchmark of ntlib.notation (issue 24): a parsed formula vs the hand-written call.

Evaluating the attention formula of the paper, parsed once (``parse`` is
cached), against ``nt.attention`` at the shapes of the blocks benchmark
(batch 16, heads 8, seq 256, key = val 64, float32): forward and
forward+backward, on the default path and inside ``nt.plain()``, timed
alternately in one process (median of --repeat runs).  The ratio
evaluate / nt.attention is the figure of merit (target: ≤ 1.2); evaluate
finds the attention formula and calls nt.attention for it.  The rows with
path "as_written" time evaluate(..., as_written=True), the formula operation
by operation (contract, softmax, contract), against nt.attention's fused
kernel: what the shortcut saves.  A small case
(batch 2, heads 2, seq 16, key 8) shows the fixed cost of walking the tree.

    BENCH_THREADS=1 .venv/bin/python benchmarks/bench_notation.py \
        [--repeat 7] [--out benchmarks/results/notation-cpu.json]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import nt  # noqa: E402

from ntlib import notation  # noqa: E402

ATTENTION = (r"\left(\nfun{\seq}{softmax} \frac{Q \ndot{\key} K}{\sqrt{|\key|}}\right)"
             r" \ndot{\seq} V")
PASSES = ("forward", "forward+backward")
SHAPES = {"large": (16, 8, 256, 64), "small": (2, 2, 16, 8)}


def _inputs(grad, shape):
    b, h, s, d = shape
    out = []
    for seed, names in ((1, ("batch", "heads", "query", "key")),
                        (2, ("batch", "heads", "seq", "key")),
                        (3, ("batch", "heads", "seq", "val"))):
        g = torch.Generator().manual_seed(seed)
        t = torch.randn(b, h, s, d, generator=g, dtype=torch.float32).to(nt.device())
        out.append(t.requires_grad_(grad))
    Q, K, V = (nt.tensor(t, n) for t, n in zip(out, (
        ("batch", "heads", "query", "key"), ("batch", "heads", "seq", "key"),
        ("batch", "heads", "seq", "val"))))
    return out, {"Q": Q, "K": K, "V": V}


def make(shape, pass_, path, which):
    grad = pass_ == "forward+backward"
    leaves, env = _inputs(grad, SHAPES[shape])
    tree = notation.parse(ATTENTION)
    if which == "notation":
        def f():
            return notation.evaluate(tree, env)
    elif which == "as_written":
        def f():
            return notation.evaluate(tree, env, as_written=True)
    else:
        def f():
            return nt.attention(env["Q"], env["K"], env["V"])

    def call():
        with nt.plain() if path == "plain" else contextlib.nullcontext():
            out = f()
        if grad:
            for t in leaves:
                t.grad = None
            out.data.sum().backward()
    return call


def check():
    _, env = _inputs(False, SHAPES["small"])
    for ctx in (contextlib.nullcontext(), nt.plain()):
        with ctx:
            got = notation.evaluate(ATTENTION, env)
            want = nt.attention(env["Q"], env["K"], env["V"])
        assert nt.allclose(got, want, rtol=1e-4, atol=1e-5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    check()
    rows = []
    # parsing: a few hundred distinct formulas, uncached
    formulas = [f"{ATTENTION} + {k} M" for k in range(300)]
    notation.parse.cache_clear()
    t0 = time.perf_counter()
    for f in formulas:
        notation.parse(f)
    t_parse = (time.perf_counter() - t0) / len(formulas)
    print(f"parse (uncached)  {t_parse * 1e6:9.1f} µs per formula "
          f"({len(formulas)} formulas)", flush=True)
    rows.append({"suite": "notation", "case": "parse one attention-sized formula, uncached",
                 "pass": "parse", "path": "-", "ntlib_s": t_parse, "reference_s": None,
                 "ratio": None})
    for shape in SHAPES:
        b, h, s, d = SHAPES[shape]
        desc = (f"evaluate(attention formula) vs nt.attention, batch {b}, heads {h}, "
                f"seq {s}, key=val {d}")
        for pass_ in PASSES:
            for path in ("fused", "plain"):
                fn = make(shape, pass_, path, "notation")
                ref = make(shape, pass_, path, "hand")
                t_nt, t_ref = common.timed_pair(fn, ref, repeat=args.repeat,
                                                min_time=args.min_time)
                r = common.row("notation", desc, pass_, path, t_nt, t_ref)
                rows.append(r)
                print(f"{shape:6s} {pass_:17s} {path:6s} {t_nt * 1e3:9.3f} ms / "
                      f"{t_ref * 1e3:9.3f} ms = {r['ratio']:6.2f}x", flush=True)
            if shape == "large":
                # the formula operation by operation (as_written=True), against
                # the block on its default (fused) path
                fn = make(shape, pass_, "fused", "as_written")
                ref = make(shape, pass_, "fused", "hand")
                t_nt, t_ref = common.timed_pair(fn, ref, repeat=args.repeat,
                                                min_time=args.min_time)
                r = common.row("notation", desc.replace("evaluate(", "evaluate(as_written, "),
                               pass_, "as_written", t_nt, t_ref)
                rows.append(r)
                print(f"{shape:6s} {pass_:17s} as_written {t_nt * 1e3:9.3f} ms / "
                      f"{t_ref * 1e3:9.3f} ms = {r['ratio']:6.2f}x", flush=True)
    if args.out:
        common.write_results(args.out, rows)
        print("wrote", args.out)


if __name__ == "__main__":
    main()
