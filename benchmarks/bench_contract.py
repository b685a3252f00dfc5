"""Contraction benchmark (issue 2, section 6).

For W ∈ R^{out[512]×input[512]} and x ∈ R^{batch[256]×input[512]} in float32,
time nt.contract(W, x, over="input") against torch.matmul on the same data in
the same run (median of --repeat runs), and, for context, funsor's eager
(W * x).reduce(ops.add, "input"), which materialises the broadcast product.

    .venv/bin/python benchmarks/bench_contract.py [--repeat 15] [--out benchmarks/results/contract-cpu.json]

NTLIB_DEVICE=cuda selects the GPU (timings synchronise the device).
"""

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone

import funsor.ops as ops
import torch

import ntlib as nt


def timed(fn, repeat, warmup=3):
    sync = torch.cuda.synchronize if nt.device().type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": str(nt.device()), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--eager-repeat", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    W = nt.randn(seed=0, dtype=torch.float32, out=512, input=512)
    x = nt.randn(seed=1, dtype=torch.float32, batch=256, input=512)
    Wd, xd = nt.positional(W, ("out", "input")), nt.positional(x, ("batch", "input"))
    ref = torch.matmul(xd, Wd.T)
    got = nt.positional(nt.contract(W, x, over="input"), ("batch", "out"))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)

    t_mm = timed(lambda: torch.matmul(xd, Wd.T), args.repeat)
    t_nt = timed(lambda: nt.contract(W, x, over="input"), args.repeat)
    t_eager = timed(lambda: (W * x).reduce(ops.add, "input"), args.eager_repeat, warmup=1)
    rows = [
        {"suite": "core", "case": "contract 256x512x512", "pass": "forward", "path": "einsum",
         "ntlib_s": t_nt, "reference_s": t_mm, "ratio": t_nt / t_mm},
        {"suite": "core", "case": "funsor eager (W*x).reduce 256x512x512", "pass": "forward",
         "path": "eager", "ntlib_s": t_eager, "reference_s": t_mm, "ratio": t_eager / t_mm},
    ]
    print(f"torch.matmul            {t_mm * 1e3:8.3f} ms")
    print(f"nt.contract             {t_nt * 1e3:8.3f} ms   ratio {t_nt / t_mm:6.2f}x  (target ≤ 1.5x)")
    print(f"funsor eager reduce     {t_eager * 1e3:8.3f} ms   ratio {t_eager / t_mm:6.1f}x")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": machine(), "rows": rows}, f, indent=1)
        print(f"wrote {args.out}")
    return 0 if t_nt / t_mm <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
