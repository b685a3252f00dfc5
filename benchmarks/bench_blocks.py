"""Benchmark of the section-4 blocks (issue 3): ntlib vs positional torch.

For each block, in float32, time the ntlib call and its positional torch
reference alternately in the same run (median of --repeat runs), forward and
forward+backward, on the fused path (the default) and on the plain,
formula-shaped path (``with nt.plain():``).  The ratio ntlib / reference is
the figure of merit (target: ≤ 1.5 on the fused path).  Peak memory of each
function is measured in its own process (see benchmarks/common.py).

    .venv/bin/python benchmarks/bench_blocks.py [--repeat 7] [--no-memory] \
        [--cases attention,conv2d] [--out benchmarks/results/blocks-cpu.json]

BENCH_THREADS=N sets torch's thread count (recorded as "threads" in the machine entry).

NTLIB_DEVICE=cuda runs on the GPU (timings synchronise the device).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import nt  # noqa: E402

SCRIPT = Path(__file__).resolve()
PASSES = ("forward", "forward+backward")


def _rnd(grad, *shape, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=torch.float32).to(nt.device())
    return t.requires_grad_(grad)


# Each case builds its inputs (positional tensors, and named tensors that share
# their storage) and returns (ntlib_fn, reference_fn, leaves, description).

def case_full_conn(grad):
    x, W, b = _rnd(grad, 256, 512, seed=1), _rnd(grad, 512, 512, seed=2), _rnd(grad, 512, seed=3)
    X, Wn, bn = nt.tensor(x, ("batch", "layer")), nt.tensor(W, ("out", "layer")), nt.tensor(b, "out")
    return (lambda: nt.full_conn(X, Wn, bn), lambda: torch.sigmoid(F.linear(x, W, b)),
            [x, W, b], "full_conn batch 256, 512→512 (ref sigmoid(F.linear))")


def case_attention(grad):
    q, k, v = (_rnd(grad, 16, 8, 256, 64, seed=s) for s in (1, 2, 3))
    Q = nt.tensor(q, ("batch", "heads", "query", "key"))
    K = nt.tensor(k, ("batch", "heads", "seq", "key"))
    V = nt.tensor(v, ("batch", "heads", "seq", "val"))
    return (lambda: nt.attention(Q, K, V), lambda: F.scaled_dot_product_attention(q, k, v),
            [q, k, v], "attention batch 16, heads 8, seq 256, key=val 64 (ref F.scaled_dot_product_attention)")


def case_conv2d(grad):
    x, W, b = _rnd(grad, 32, 16, 64, 64, seed=1), _rnd(grad, 32, 16, 3, 3, seed=2), _rnd(grad, 32, seed=3)
    X = nt.tensor(x, ("batch", "chans", "height", "width"))
    Wn, bn = nt.tensor(W, ("out", "chans", "kh", "kw")), nt.tensor(b, "out")
    return (lambda: nt.conv2d(X, Wn, bn), lambda: F.conv2d(x, W, b),
            [x, W, b], "conv2d batch 32, chans 16→32, 64×64, 3×3 (ref F.conv2d)")


def case_max_pool2d(grad):
    x = _rnd(grad, 32, 32, 64, 64, seed=1)
    X = nt.tensor(x, ("batch", "chans", "height", "width"))
    return (lambda: nt.max_pool2d(X, 2, 2), lambda: F.max_pool2d(x, 2),
            [x], "max_pool2d batch 32, chans 32, 64×64, 2×2 (ref F.max_pool2d)")


def case_layer_norm(grad):
    x, gm, bt = _rnd(grad, 32, 256, 512, seed=1), _rnd(grad, 512, seed=2), _rnd(grad, 512, seed=3)
    X = nt.tensor(x, ("batch", "seq", "layer"))
    G, B = nt.tensor(gm, "layer"), nt.tensor(bt, "layer")
    return (lambda: nt.layer_norm(X, G, B, chans=None), lambda: F.layer_norm(x, (512,), gm, bt),
            [x, gm, bt], "layer_norm batch 32, seq 256, layer 512 (ref F.layer_norm)")


def case_rnn(grad):
    T, B, I, H = 100, 64, 128, 256
    x, h0 = _rnd(grad, T, B, I, seed=1), _rnd(grad, B, H, seed=2)
    Wh, Wi, b = _rnd(grad, H, H, seed=3) * 0.1, _rnd(grad, I, H, seed=4) * 0.1, _rnd(grad, H, seed=5)
    if grad:  # keep the scaled weights as leaves
        Wh, Wi = Wh.detach().requires_grad_(), Wi.detach().requires_grad_()
    X = nt.tensor(x, ("time", "batch", "input"))
    names = (nt.tensor(h0, ("batch", "hidden")), nt.tensor(Wh, ("hidden", "hidden_out")),
             nt.tensor(Wi, ("input", "hidden_out")), nt.tensor(b, "hidden_out"))

    def reference():
        # positional Elman RNN: project all inputs at once, then loop over time
        proj = torch.matmul(x, Wi) + b
        h, hs = h0, []
        for t in range(T):
            h = torch.sigmoid(torch.addmm(proj[t], h, Wh))
            hs.append(h)
        return torch.stack(hs)

    return (lambda: nt.rnn(X, *names), reference, [x, h0, Wh, Wi, b],
            "rnn batch 64, seq 100, input 128, hidden 256 (ref positional loop)")


CASES = {"full_conn": case_full_conn, "attention": case_attention, "conv2d": case_conv2d,
         "max_pool2d": case_max_pool2d, "layer_norm": case_layer_norm, "rnn": case_rnn}


def make(case, pass_, which):
    """The function to time: which ∈ {fused, plain, reference}."""
    grad = pass_ == "forward+backward"
    fn, ref, leaves, desc = CASES[case](grad)
    f = ref if which == "reference" else fn

    def call():
        ctx = nt.plain() if which == "plain" else contextlib.nullcontext()
        with ctx:
            out = f()
        if grad:
            for t in leaves:
                t.grad = None
            data = out if isinstance(out, torch.Tensor) else out.data
            data.sum().backward()

    return call, desc


def check(case):
    """The ntlib result (both paths) agrees with the reference (float32 tolerance)."""
    fn, ref, _, _ = CASES[case](False)
    want = ref()
    for ctx in (contextlib.nullcontext(), nt.plain()):
        with ctx:
            got = fn()
        # the named output's axes, in the reference's order
        order = {"full_conn": ("batch", "layer"), "attention": ("batch", "heads", "query", "val"),
                 "conv2d": ("batch", "out", "height", "width"),
                 "max_pool2d": ("batch", "chans", "height", "width"),
                 "layer_norm": ("batch", "seq", "layer"), "rnn": ("time", "batch", "hidden")}[case]
        # float32; on a GPU cuDNN may use TF32 for convolutions, hence the looser bound
        tol = 1e-2 if common.is_cuda() else 2e-4
        torch.testing.assert_close(nt.positional(got, order), want, rtol=tol, atol=tol)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--plain-repeat", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="run short cases for about this many seconds (more samples)")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--peak", nargs=3, metavar=("CASE", "PASS", "WHICH"))
    args = ap.parse_args()
    if args.peak:
        case, pass_, which = args.peak
        common.print_peak(make(case, pass_, which)[0])
        return

    rows = []
    for case in args.cases.split(","):
        check(case)
        for pass_ in PASSES:
            ref_peak = None
            if not args.no_memory:
                ref_peak = common.peak_in_subprocess(SCRIPT, [case, pass_, "reference"])
            for path in ("fused", "plain"):
                fn, desc = make(case, pass_, path)
                ref, _ = make(case, pass_, "reference")
                rep = args.repeat if path == "fused" else args.plain_repeat
                t_nt, t_ref = common.timed_pair(fn, ref, repeat=rep, min_time=args.min_time)
                peak = None
                if not args.no_memory:
                    peak = common.peak_in_subprocess(SCRIPT, [case, pass_, path])
                r = common.row("blocks", desc, pass_, path, t_nt, t_ref, peak, ref_peak)
                rows.append(r)
                mem = (f"  mem {peak:8.1f} / {ref_peak:8.1f} MB = {r['mem_ratio']:5.2f}x"
                       if peak is not None and r.get("mem_ratio") is not None else "")
                print(f"{case:11s} {pass_:17s} {path:6s} {t_nt * 1e3:9.3f} ms / {t_ref * 1e3:9.3f} ms"
                      f" = {r['ratio']:6.2f}x{mem}", flush=True)
    if args.out:
        common.write_results(args.out, rows)
        print("wrote", args.out)


if __name__ == "__main__":
    main()
