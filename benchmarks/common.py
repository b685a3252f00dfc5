"""Shared helpers for the benchmark scripts: timing, peak memory, machine, results.

Timing
    :func:`timed_pair` runs an ntlib function and its positional reference
    *alternately* (so that load from other processes hits both alike) and
    returns the median time of each; CUDA is synchronised after every run.
    The clock (:func:`clock`) is the calling thread's CPU time when torch runs
    on the CPU with one thread (BENCH_THREADS=1): on a machine shared with
    other jobs, time spent waiting for a core is then not counted, while
    everything the thread computes (in torch too, system time included) is;
    otherwise, and on a GPU, it is wall time.

Peak memory (measured honestly, in a fresh process per measurement)
    :func:`peak_in_subprocess` starts ``python SCRIPT --peak ARGS...`` in a new
    process.  That process builds its inputs, calls :func:`measure_peak_mb`
    on the function and prints one JSON line ``{"peak_mb": ...}``.
    :func:`measure_peak_mb` runs the function once as a warm-up (library
    initialisation, lazily created kernels), then records the baseline
    resident set size (``VmRSS``), resets the kernel's high-water mark
    (writing ``5`` to ``/proc/self/clear_refs``), runs the function once more
    and reports ``VmHWM − baseline``: the peak growth of resident memory
    while the function ran, its outputs and autograd buffers included,
    inputs excluded.  The child runs with ``MALLOC_MMAP_THRESHOLD_=65536`` so
    that glibc returns freed large blocks to the system (otherwise memory
    freed by the warm-up would be reused invisibly).  On CUDA it reports
    ``torch.cuda.max_memory_allocated`` growth instead.  Both numbers are
    rounded by page granularity and include allocator slack; ratios below
    about 1 MB of peak are not meaningful.

Results
    :func:`row` makes one result row; :func:`write_results` writes
    ``{"machine": machine(), "rows": [...]}`` as JSON.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ntlib as nt  # noqa: E402

# BENCH_THREADS=N pins torch's intra-op threads (parent and --peak children alike);
# useful on a small machine shared with other work, where threads oversubscribe.
if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))


def is_cuda() -> bool:
    return nt.device().type == "cuda"


def clock():
    """The clock of every timing: thread CPU time (CPU, one torch thread), else wall time."""
    if not is_cuda() and torch.get_num_threads() == 1:
        return time.thread_time
    return time.perf_counter


def clock_name() -> str:
    return "thread CPU time" if clock() is time.thread_time else "wall time"


def sync() -> None:
    if is_cuda():
        torch.cuda.synchronize()


def timed(fn, repeat: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs (after ``warmup`` runs)."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    now = clock()
    for _ in range(repeat):
        t0 = now()
        fn()
        sync()
        times.append(now() - t0)
    return statistics.median(times)


def timed_pair(fn, ref, repeat: int = 7, warmup: int = 2, min_time: float = 0.0,
               max_repeat: int = 200):
    """Median times of ``fn`` and ``ref``, run alternately, as (fn_s, ref_s).

    At least ``repeat`` pairs; more (up to ``max_repeat``) when one pair takes less
    than ``min_time / repeat`` seconds, so that short cases get enough samples for
    the median to be stable on a busy machine.
    """
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
        ref()
    sync()
    per_pair = (time.perf_counter() - t0) / max(warmup, 1)
    if min_time > 0 and per_pair > 0:
        repeat = min(max(repeat, int(min_time / per_pair)), max(max_repeat, repeat))
    tf, tr = [], []
    now = clock()
    for _ in range(repeat):
        for f, out in ((fn, tf), (ref, tr)):
            t0 = now()
            f()
            sync()
            out.append(now() - t0)
    return statistics.median(tf), statistics.median(tr)


# --------------------------------------------------------------------------
# memory

def _status(field: str) -> int:
    """A field of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure_peak_mb(fn) -> float:
    """Peak memory growth (MiB) while ``fn()`` runs, above the memory in use before it."""
    fn()
    gc.collect()
    if is_cuda():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    fn()
    return max(_status("VmHWM") - base, 0) / 2**20


def peak_in_subprocess(script, args, timeout: float = 300) -> float:
    """Run ``python script --peak *args`` in a fresh process; return its printed peak_mb."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    proc = subprocess.run([sys.executable, str(script), "--peak", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"peak measurement failed: {proc.stderr[-2000:]}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)["peak_mb"]
    raise RuntimeError(f"no peak_mb in output: {proc.stdout[-500:]}")


def print_peak(fn) -> None:
    """In a ``--peak`` child: measure ``fn`` and print the JSON line the parent reads."""
    print(json.dumps({"peak_mb": measure_peak_mb(fn)}), flush=True)


# --------------------------------------------------------------------------
# machine and results

def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    info = {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "clock": clock_name(), "load": load,
            "torch": torch.__version__, "device": str(nt.device()),
            "python": platform.python_version(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if is_cuda():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def row(suite, case, pass_, path, ntlib_s, reference_s, ntlib_peak_mb=None,
        reference_peak_mb=None) -> dict:
    r = {"suite": suite, "case": case, "pass": pass_, "path": path,
         "ntlib_s": ntlib_s, "reference_s": reference_s, "ratio": ntlib_s / reference_s}
    if ntlib_peak_mb is not None and reference_peak_mb is not None:
        r["ntlib_peak_mb"] = ntlib_peak_mb
        r["reference_peak_mb"] = reference_peak_mb
        r["mem_ratio"] = ntlib_peak_mb / reference_peak_mb if reference_peak_mb > 0 else None
    return r


def write_results(path, rows) -> None:
    """Write the rows, with the machine's description, to ``path`` (a relative
    path is taken from the repository's root, whatever the working directory:
    every benchmark's ``--out`` means the same file)."""
    path = Path(path)
    if not path.is_absolute():
        path = ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump({"machine": machine(), "rows": rows}, f, indent=1)
        f.write("\n")


def finish(out, rows, missed) -> int:
    """The end of a benchmark with targets: write the rows to ``out`` (a
    relative path is taken from the repository's root), say which targets
    were missed, and return the exit status (1 if any was)."""
    if out:
        write_results(out, rows)
        print(f"wrote {out}")
    print("targets met" if not missed else "missed: " + "; ".join(missed))
    return 1 if missed else 0
