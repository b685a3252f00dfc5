"""Per-operation overhead on tiny tensors: ntlib, positional torch and the peers.

Every operation is timed on 4×4 float32 tensors (one torch thread), where the
computation itself is negligible and what is measured is each library's fixed
cost per call: building the result, matching axes by name, checking.  In the
same process, and interleaved, the same operation is timed in

- positional torch (the reference of every ratio),
- ntlib (``nt.*``, the default path),
- funsor used directly (``funsor.Tensor`` with named inputs, as the notebook
  this book grew from used it),
- harvardnlp's ``namedtensor`` (PyPI 0.0.2),
- xarray (``DataArray`` over numpy; xarray does not hold torch tensors),
- ``functorch.dim`` (first-class dimensions, shipped inside torch),
- einops (positional patterns; only what it has: reductions, einsum).

A peer that is not installed, or that has no such operation, is recorded as
``null`` with a note.

Timing: ``--rounds`` rounds; in each round every contender runs a batch of
calls (sized by a calibration to about ``--batch-ms`` milliseconds) and the time
per call is recorded; contenders take turns within a round, in a rotating
order, so that load from other processes falls on all of them alike.  The
figure is the median over rounds of the time per call.  The clock is the
thread's CPU time with one torch thread on the CPU (see common.clock).

    BENCH_THREADS=1 .venv/bin/python benchmarks/bench_ops.py [--rounds 15] \
        [--out benchmarks/results/ops-cpu.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import nt  # noqa: E402

N = 4
PEERS = ("funsor", "namedtensor", "xarray", "functorch.dim", "einops")


def _data(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, N, generator=g, dtype=torch.float32).to(nt.device())


def contenders():
    """{op: {contender: (fn or None, note)}} and a short description per op."""
    a, b = _data(0), _data(1)
    i = torch.tensor([2, 0, 3], device=a.device)
    A, B = nt.tensor(a, ("a", "b")), nt.tensor(b, ("b", "c"))
    B2 = nt.tensor(b, ("a", "b"))
    I = nt.tensor(i, "k")
    desc = OrderedDict([
        ("add", "A + B (same axes)"),
        ("mul_broadcast", "A * v (v over one axis)"),
        ("exp", "exp(A)"),
        ("sum", "sum over one axis"),
        ("mean", "mean over one axis"),
        ("contract", "A ⊙_b B (matrix product)"),
        ("softmax", "softmax along one axis"),
        ("index_int", "A(a=0): one position"),
        ("index_tensor", "A(a=I): positions from an integer tensor"),
        ("tensor", "construction from a torch tensor"),
    ])
    v = b[0]
    V = nt.tensor(v, "b")
    ops = OrderedDict()
    ops["add"] = {"torch": lambda: a + b, "ntlib": lambda: A + B2}
    ops["mul_broadcast"] = {"torch": lambda: a * v, "ntlib": lambda: A * V}
    ops["exp"] = {"torch": lambda: torch.exp(a), "ntlib": lambda: nt.exp(A)}
    ops["sum"] = {"torch": lambda: a.sum(0), "ntlib": lambda: nt.sum(A, "a")}
    ops["mean"] = {"torch": lambda: a.mean(0), "ntlib": lambda: nt.mean(A, "a")}
    ops["contract"] = {"torch": lambda: a @ b, "ntlib": lambda: nt.contract(A, B, over="b")}
    ops["softmax"] = {"torch": lambda: torch.softmax(a, 0), "ntlib": lambda: nt.softmax(A, "a")}
    ops["index_int"] = {"torch": lambda: a[0], "ntlib": lambda: A(a=0)}
    ops["index_tensor"] = {"torch": lambda: a[i], "ntlib": lambda: A(a=I)}
    ops["tensor"] = {"torch": lambda: torch.as_tensor(a),
                     "ntlib": lambda: nt.tensor(a, ("a", "b"))}
    for op in ops:
        for p in PEERS:
            ops[op][p] = None
    notes = {}

    # funsor, used directly
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import funsor
            import funsor.ops as fops
            from funsor.domains import Bint
        funsor.set_backend("torch")
        FA = funsor.Tensor(a, OrderedDict(a=Bint[N], b=Bint[N]))
        FB = funsor.Tensor(b, OrderedDict(a=Bint[N], b=Bint[N]))
        FBc = funsor.Tensor(b, OrderedDict(b=Bint[N], c=Bint[N]))
        Fv = funsor.Tensor(v, OrderedDict(b=Bint[N]))
        FI = funsor.Tensor(i, OrderedDict(k=Bint[3]), N)

        def f_softmax():
            z = (FA - FA.reduce(fops.max, "a")).exp()
            return z / z.reduce(fops.add, "a")
        ops["add"]["funsor"] = lambda: FA + FB
        ops["mul_broadcast"]["funsor"] = lambda: FA * Fv
        ops["exp"]["funsor"] = lambda: FA.exp()
        ops["sum"]["funsor"] = lambda: FA.reduce(fops.add, "a")
        ops["mean"]["funsor"] = lambda: FA.reduce(fops.mean, "a")
        ops["contract"]["funsor"] = lambda: (FA * FBc).reduce(fops.add, "b")
        ops["softmax"]["funsor"] = f_softmax
        ops["index_int"]["funsor"] = lambda: FA(a=0)
        ops["index_tensor"]["funsor"] = lambda: FA(a=FI)
        ops["tensor"]["funsor"] = lambda: funsor.Tensor(a, OrderedDict(a=Bint[N], b=Bint[N]))
    except ImportError as e:  # pragma: no cover
        notes["funsor"] = f"not installed ({e})"

    # harvardnlp namedtensor 0.0.2
    try:
        from namedtensor import NamedTensor as HT
        from namedtensor import ntorch
        HA, HB, HBc = HT(a, ("a", "b")), HT(b, ("a", "b")), HT(b, ("b", "c"))
        Hv, HI = HT(v, ("b",)), HT(i, ("k",))
        ops["add"]["namedtensor"] = lambda: HA + HB
        ops["mul_broadcast"]["namedtensor"] = lambda: HA * Hv
        ops["exp"]["namedtensor"] = lambda: HA.exp()
        ops["sum"]["namedtensor"] = lambda: HA.sum("a")
        ops["mean"]["namedtensor"] = lambda: HA.mean("a")
        ops["contract"]["namedtensor"] = lambda: ntorch.dot("b", HA, HBc)
        ops["softmax"]["namedtensor"] = lambda: HA.softmax("a")
        ops["index_int"]["namedtensor"] = lambda: HA.get("a", 0)
        ops["index_tensor"]["namedtensor"] = lambda: HA.index_select("a", HI)
        ops["tensor"]["namedtensor"] = lambda: HT(a, ("a", "b"))
        # check the peer computes what we think before timing it
        torch.testing.assert_close(ntorch.dot("b", HA, HBc).values, a @ b)
    except Exception as e:  # ImportError, or an API this version lacks
        notes["namedtensor"] = f"not usable: {type(e).__name__}: {e}"
        for op in ops:
            ops[op]["namedtensor"] = None

    # xarray (numpy arrays)
    try:
        import xarray as xr
        an, bn, vn, inn = (t.cpu().numpy() for t in (a, b, v, i))
        XA, XB = xr.DataArray(an, dims=("a", "b")), xr.DataArray(bn, dims=("a", "b"))
        XBc, Xv = xr.DataArray(bn, dims=("b", "c")), xr.DataArray(vn, dims=("b",))
        XI = xr.DataArray(inn, dims=("k",))

        def x_softmax():
            z = np.exp(XA - XA.max("a"))
            return z / z.sum("a")
        ops["add"]["xarray"] = lambda: XA + XB
        ops["mul_broadcast"]["xarray"] = lambda: XA * Xv
        ops["exp"]["xarray"] = lambda: np.exp(XA)
        ops["sum"]["xarray"] = lambda: XA.sum("a")
        ops["mean"]["xarray"] = lambda: XA.mean("a")
        ops["contract"]["xarray"] = lambda: xr.dot(XA, XBc, dim="b")
        ops["softmax"]["xarray"] = x_softmax
        ops["index_int"]["xarray"] = lambda: XA.isel(a=0)
        ops["index_tensor"]["xarray"] = lambda: XA.isel(a=XI)
        ops["tensor"]["xarray"] = lambda: xr.DataArray(an, dims=("a", "b"))
    except ImportError as e:
        notes["xarray"] = f"not installed ({e})"

    # functorch.dim (first-class dimensions)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from functorch.dim import dims
        di, dj, dk = dims(3)
        DA, DB, DBc = a[di, dj], b[di, dj], b[dj, dk]
        Dv = v[dj]

        ops["add"]["functorch.dim"] = lambda: DA + DB
        ops["mul_broadcast"]["functorch.dim"] = lambda: DA * Dv
        ops["exp"]["functorch.dim"] = lambda: torch.exp(DA)
        ops["sum"]["functorch.dim"] = lambda: DA.sum(di)
        ops["mean"]["functorch.dim"] = lambda: DA.mean(di)
        ops["contract"]["functorch.dim"] = lambda: (DA * DBc).sum(dj)
        ops["softmax"]["functorch.dim"] = lambda: DA.softmax(di)
        ops["tensor"]["functorch.dim"] = lambda: a[di, dj]
        notes["functorch.dim"] = "no indexing of a bound dimension by position"
    except Exception as e:
        notes["functorch.dim"] = f"not usable: {type(e).__name__}: {e}"

    # einops (positional patterns)
    try:
        import einops
        ops["sum"]["einops"] = lambda: einops.reduce(a, "a b -> b", "sum")
        ops["mean"]["einops"] = lambda: einops.reduce(a, "a b -> b", "mean")
        ops["contract"]["einops"] = lambda: einops.einsum(a, b, "a b, b c -> a c")
        notes["einops"] = "positional patterns; no elementwise, softmax, indexing or tensor type"
    except ImportError as e:
        notes["einops"] = f"not installed ({e})"
    return ops, desc, notes


def _calibrate(fn, batch_s):
    fn()
    now = common.clock()
    n, t = 1, 0.0
    while t < batch_s / 4:
        n *= 4
        t0 = now()
        for _ in range(n):
            fn()
        t = now() - t0
    return max(1, int(n * batch_s / t))


def time_op(fns, rounds, batch_s):
    """{name: median seconds per call} over ``rounds`` interleaved rounds."""
    names = [k for k, f in fns.items() if f is not None]
    loops = {k: _calibrate(fns[k], batch_s) for k in names}
    samples = {k: [] for k in names}
    now = common.clock()
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            f, n = fns[k], loops[k]
            common.sync()
            t0 = now()
            for _ in range(n):
                f()
            common.sync()
            samples[k].append((now() - t0) / n)
    return {k: statistics.median(v) for k, v in samples.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch-ms", type=float, default=4.0)
    ap.add_argument("--ops", default=None, help="comma-separated subset")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    ops, desc, notes = contenders()
    rows = []
    for op, fns in ops.items():
        if args.ops and op not in args.ops.split(","):
            continue
        t = time_op(fns, args.rounds, args.batch_ms / 1e3)
        r = common.row("ops", f"{op}: {desc[op]} (4x4 float32)", "forward", "default",
                       t["ntlib"], t["torch"])
        r["op"] = op
        r["peers"] = {p: t.get(p) for p in PEERS}
        r["peer_notes"] = {p: notes[p] for p in PEERS if p in notes}
        rows.append(r)
        peers = "  ".join(f"{p} {t[p] * 1e6:7.1f}" for p in PEERS if t.get(p) is not None)
        print(f"{op:14s} torch {t['torch'] * 1e6:6.2f} µs  ntlib {t['ntlib'] * 1e6:7.2f} µs "
              f"({r['ratio']:5.1f}x)   {peers}", flush=True)
    for p, n in notes.items():
        print(f"note: {p}: {n}")
    if args.out:
        common.write_results(args.out, rows)
        print("wrote", args.out)


if __name__ == "__main__":
    main()
