"""Contraction benchmark (issue 2, section 6).

For W ∈ R^{out[512]×input[512]} and x ∈ R^{batch[256]×input[512]} in float32,
time nt.contract(W, x, over="input") against torch.matmul on the same data,
alternately in the same run (median), and, for context, funsor's eager
(W * x).reduce(ops.add, "input"), which materialises the broadcast product.

    .venv/bin/python benchmarks/bench_contract.py [--repeat 15] [--out benchmarks/results/contract-cpu.json]

NTLIB_DEVICE=cuda selects the GPU (timings synchronise the device).
Exit status 1 when the contraction misses its target (≤ 1.5x matmul).
"""

import argparse
import sys
from pathlib import Path

import funsor.ops as ops
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import nt  # noqa: E402

TARGET = 1.5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--eager-repeat", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    W = nt.randn(seed=0, dtype=torch.float32, out=512, input=512)
    x = nt.randn(seed=1, dtype=torch.float32, batch=256, input=512)
    Wd, xd = nt.positional(W, ("out", "input")), nt.positional(x, ("batch", "input"))
    torch.testing.assert_close(nt.positional(nt.contract(W, x, over="input"), ("batch", "out")),
                               torch.matmul(xd, Wd.T), rtol=1e-4, atol=1e-4)

    t_nt, t_mm = common.timed_pair(lambda: nt.contract(W, x, over="input"),
                                   lambda: torch.matmul(xd, Wd.T), repeat=args.repeat, min_time=1.0)
    t_eager = common.timed(lambda: (W * x).reduce(ops.add, "input"), args.eager_repeat, warmup=1)
    rows = [common.row("core", "contract 256x512x512 (ref torch.matmul)", "forward", "einsum", t_nt, t_mm),
            common.row("core", "funsor eager (W*x).reduce 256x512x512", "forward", "eager", t_eager, t_mm)]
    print(f"torch.matmul            {t_mm * 1e3:8.3f} ms")
    print(f"nt.contract             {t_nt * 1e3:8.3f} ms   ratio {t_nt / t_mm:6.2f}x  (target ≤ {TARGET}x)")
    print(f"funsor eager reduce     {t_eager * 1e3:8.3f} ms   ratio {t_eager / t_mm:6.1f}x")
    if args.out:
        common.write_results(args.out, rows)
        print(f"wrote {args.out}")
    return 0 if t_nt / t_mm <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
