"""Appendix A models: ntlib against positional torch references (issue 4).

Cases (float32, on nt.device()):

- Transformer: 2 layers, 4 heads, |layer| = 128, |hidden| = 512, |vocab| = 1000,
  seq 128, batch 16, causal mask; ``nt.models.transformer`` vs the positional
  reference of ntlib.testing, tested in tests/test_models.py (einsum,
  F.layer_norm, torch.softmax), with the same weights.
  Also small (``transformer_small``: |layer| 64, |hidden| 256, seq 32,
  batch 4), where ntlib's fixed cost per operation shows.
- LeNet: batch 64, 1×28×28 inputs, channels 6 and 16, 5×5 kernels, 2×2 pools,
  hidden 120, 10 classes; ``nt.models.lenet`` vs F.conv2d → F.max_pool2d →
  F.linear.  Also at batch 1 (``lenet1``) and, for context, 256 (``lenet256``).

Targets of the forward pass on the default (fused) path (issue 19): LeNet
≤ 1.10x at batch 64 and ≤ 2x at batch 1, the Transformer ≤ 1.5x small and
≤ 1.05x at |layer| 128; the plain path within 3x.

Passes: ``forward`` (under torch.no_grad, the softmax output) and
``forward+backward`` (cross-entropy loss against fixed targets, backward to
every parameter).  Paths: ``fused`` (ntlib's default dispatch to torch's fused
kernels) and ``plain`` (``with nt.plain():``, the formulas as written).
Times are medians of ``--repeat`` alternating runs; peak memory is measured
in a fresh process per number (see benchmarks/common.py).

    .venv/bin/python benchmarks/bench_models.py [--repeat 7] [--min-time 2] [--no-peak] [--out benchmarks/results/models-cpu.json]

NTLIB_DEVICE=cuda runs it on the GPU; BENCH_THREADS=N pins torch's CPU threads.
Exit status 1 if a forward ratio on the fused path misses its target.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import finish, peak_in_subprocess, print_peak, row, timed_pair  # noqa: E402
import ntlib as nt  # noqa: E402
from ntlib.testing import (lenet_reference as ref_lenet_logits, lenet_weights,  # noqa: E402
                           transformer_reference as ref_transformer_logits,
                           transformer_weights)

TF = dict(layers=2, heads=4, layer=128, hidden=512, vocab=1000, seq=128, batch=16)
TF_SMALL = dict(layers=2, heads=4, layer=64, hidden=256, vocab=1000, seq=32, batch=4)
LN = dict(batch=64, height=28, width=28, chans=(1, 6, 16), hidden=120, classes=10)
CASES = {
    "transformer": "Transformer L=2 heads=4 layer=128 seq=128 batch=16",
    "transformer_small": "Transformer L=2 heads=4 layer=64 seq=32 batch=4 (small tensors)",
    "lenet": "LeNet batch=64 28x28 chans 6,16",
    "lenet1": "LeNet batch=1 28x28 chans 6,16 (small tensors)",
    "lenet256": "LeNet batch=256 28x28 chans 6,16 (context: fixed per-op cost amortised)",
}


def _leaves(w):
    """Positional weights as fresh leaves (contiguous copies) for the reference."""
    if isinstance(w, dict):
        return {k: _leaves(v) for k, v in w.items()}
    if isinstance(w, list):
        return [_leaves(v) for v in w]
    return w.detach().clone().contiguous().requires_grad_(True)


def _all_leaves(w):
    if isinstance(w, dict):
        return [t for v in w.values() for t in _all_leaves(v)]
    if isinstance(w, list):
        return [t for v in w for t in _all_leaves(v)]
    return [w]


def setup(case, batch=None):
    """(ntlib forward, ntlib loss, reference forward, reference loss, parameter leaves of each);
    batch, if given, replaces the case's batch size."""
    dt = torch.float32
    if case.startswith("transformer"):
        tf = TF_SMALL if case == "transformer_small" else TF
        if batch is not None:
            tf = dict(tf, batch=batch)
        params = nt.models.init_transformer(vocab=tf["vocab"], layers=tf["layers"],
                                            heads=tf["heads"], layer=tf["layer"],
                                            hidden=tf["hidden"], seed=0, dtype=dt)
        I = nt.randint(0, tf["vocab"], seed=1, batch=tf["batch"], seq=tf["seq"])
        tokens = nt.positional(I, ("batch", "seq"))
        w = _leaves(transformer_weights(params))

        def nt_fwd():
            return nt.models.transformer(I, params)

        def nt_loss():
            return nt.models.cross_entropy(nt.models.transformer_logits(I, params), I).data

        def ref_fwd():
            return torch.softmax(ref_transformer_logits(tokens, w), -1)

        def ref_loss():
            z = ref_transformer_logits(tokens, w)
            return F.cross_entropy(z.reshape(-1, z.shape[-1]), tokens.reshape(-1))
    else:
        params = nt.models.init_lenet(chans=LN["chans"], height=LN["height"], width=LN["width"],
                               hidden=LN["hidden"], classes=LN["classes"], seed=0, dtype=dt)
        nb = batch or {"lenet256": 256, "lenet1": 1}.get(case, LN["batch"])
        X = nt.randn(seed=2, dtype=dt, batch=nb, chans=1, height=LN["height"], width=LN["width"])
        y = nt.randint(0, LN["classes"], seed=3, batch=nb)
        x, yd = nt.positional(X, ("batch", "chans", "height", "width")), nt.positional(y, "batch")
        w = _leaves(lenet_weights(params))

        def nt_fwd():
            return nt.models.lenet(X, params)

        def nt_loss():
            return nt.models.cross_entropy(nt.models.lenet_logits(X, params), y, vocab="classes").data

        def ref_fwd():
            return torch.softmax(ref_lenet_logits(x, w), -1)

        def ref_loss():
            return F.cross_entropy(ref_lenet_logits(x, w), yd)
    return nt_fwd, nt_loss, ref_fwd, ref_loss, nt.models.parameters(params), _all_leaves(w)


def runners(case, pass_, path):
    nt_fwd, nt_loss, ref_fwd, ref_loss, p_nt, p_ref = setup(case)
    ctx = nt.plain if path == "plain" else contextlib.nullcontext

    if pass_ == "forward":
        def f_nt():
            with torch.no_grad(), ctx():
                return nt_fwd()

        def f_ref():
            with torch.no_grad():
                return ref_fwd()
    else:
        def f_nt():
            for p in p_nt:
                p.grad = None
            with ctx():
                nt_loss().backward()

        def f_ref():
            for p in p_ref:
                p.grad = None
            ref_loss().backward()
    return f_nt, f_ref


def check(case):
    """The two sides agree (float32 tolerance) before anything is timed."""
    nt_fwd, nt_loss, ref_fwd, ref_loss, _, _ = setup(case)
    order = ("batch", "seq", "vocab") if case.startswith("transformer") else ("batch", "classes")
    with torch.no_grad():
        for ctx in (contextlib.nullcontext, nt.plain):
            with ctx():
                torch.testing.assert_close(nt.positional(nt_fwd(), order), ref_fwd(),
                                           rtol=1e-3, atol=1e-4)
        torch.testing.assert_close(nt_loss(), ref_loss(), rtol=1e-4, atol=1e-4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=2.0,
                    help="run more pairs (up to 200) until about this many seconds per row")
    ap.add_argument("--no-peak", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--peak", nargs=4, metavar=("CASE", "PASS", "PATH", "SIDE"))
    ap.add_argument("--cases", default="transformer,transformer_small,lenet,lenet1,lenet256")
    args = ap.parse_args()
    if args.peak:
        case, pass_, path, side = args.peak
        f_nt, f_ref = runners(case, pass_, path)
        print_peak(f_nt if side == "ntlib" else f_ref)
        return 0

    targets = {"transformer": 1.05, "transformer_small": 1.5, "lenet": 1.10, "lenet1": 2.0}
    rows, missed = [], []
    for case in args.cases.split(","):
        check(case)
        for pass_ in ("forward", "forward+backward"):
            for path in ("fused", "plain"):
                f_nt, f_ref = runners(case, pass_, path)
                t_nt, t_ref = timed_pair(f_nt, f_ref, repeat=args.repeat, min_time=args.min_time)
                pk_nt = pk_ref = None
                if not args.no_peak:
                    script = Path(__file__).resolve()
                    pk_nt = peak_in_subprocess(script, [case, pass_, path, "ntlib"])
                    pk_ref = peak_in_subprocess(script, [case, pass_, path, "reference"])
                r = row("models", CASES[case], pass_, path, t_nt, t_ref, pk_nt, pk_ref)
                rows.append(r)
                if pass_ == "forward" and path == "fused" and case in targets:
                    r["target"] = targets[case]
                    if r["ratio"] > targets[case]:
                        missed.append(f"{case} {r['ratio']:.2f}x > {targets[case]}x")
                mem = (f"   peak {pk_nt:7.1f} MB vs {pk_ref:7.1f} MB" if pk_nt is not None else "")
                print(f"{case:12s} {pass_:17s} {path:6s} ntlib {t_nt * 1e3:8.2f} ms   "
                      f"reference {t_ref * 1e3:8.2f} ms   ratio {r['ratio']:5.2f}x{mem}", flush=True)
    return finish(args.out, rows, missed)


if __name__ == "__main__":
    raise SystemExit(main())
