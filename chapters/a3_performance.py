# %% [markdown]
# # Performance
#
# `ntlib` is meant to be usable, not only readable: a named block should cost about
# what the positional PyTorch code costs. This appendix collects the measurements
# recorded by the scripts in `benchmarks/` and compares every `ntlib` function with a
# positional reference computed on the same data in the same run.
#
# **What is measured.** For each case, the `ntlib` call and its reference are run
# alternately (so that load from other processes affects both alike), after a
# warm-up, and the median time of each is recorded; on a GPU every run is
# synchronised. The figure of merit is the **ratio**
#
# $$
# \text{ratio} = \frac{\operatorname{median} t_{\text{ntlib}}}{\operatorname{median} t_{\text{reference}}},
# $$
#
# and the target is at most 1.5. Blocks of §4 are measured forward and
# forward+backward, on two paths: **fused** (the default, where the named formula
# is dispatched to PyTorch's kernel) and **plain** (`with nt.plain():`, the formula
# executed as written), so the table shows what the dispatch buys.
#
# **Peak memory** is measured in a fresh process per function: after a warm-up run,
# the resident memory is recorded, the kernel's high-water mark is reset, the
# function runs once more, and the growth of the high-water mark over the baseline is
# reported (outputs and autograd buffers included, inputs excluded; on a GPU, the
# growth of `torch.cuda.max_memory_allocated`). Peaks below about 1 MB are within
# allocator noise.
#
# **Reproducing.** On the machine at hand (absolute times differ between machines;
# the ratios are what to compare):
#
# ```
# .venv/bin/python benchmarks/bench_contract.py --out benchmarks/results/contract-cpu.json
# .venv/bin/python benchmarks/bench_blocks.py --out benchmarks/results/blocks-cpu.json
# NTLIB_DEVICE=cuda .venv/bin/python benchmarks/bench_blocks.py --out benchmarks/results/blocks-cuda.json
# ```
#
# The numbers below are read from `benchmarks/results/*.json` as recorded; this page
# does not re-run them. The CPU files were recorded on a small machine (2 cores) that
# was running other jobs at the same time: absolute times there vary severalfold
# between runs, and the ratios of the short cases by some tens of percent. Alternating
# the two functions and taking medians keeps the ratios usable, but treat a single
# ratio near the target as a sample, not a constant.

# %%
import json
import logging
from pathlib import Path

logging.getLogger("matplotlib").setLevel(logging.ERROR)  # no font-cache notice on stderr in a fresh environment
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown

RESULTS = Path("..") / "benchmarks" / "results"
results = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
rows = [dict(r, file=name) for name, res in results.items() for r in res["rows"]]
print(f"{len(rows)} rows from {len(results)} files: {', '.join(results)}")

# %% [markdown]
# ## Machines

# %%
keys = ["cpu", "cores", "threads", "gpu", "device", "torch", "python", "date"]
lines = ["| file | " + " | ".join(k for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
for name, res in results.items():
    m = res.get("machine", {})
    lines.append(f"| {name} | " + " | ".join(str(m.get(k, "")) for k in keys) + " |")
Markdown("\n".join(lines))

# %% [markdown]
# ## All measurements
#
# Times in milliseconds; a ratio above 1 means `ntlib` is slower than the reference.
# Memory columns are peak growth in MiB.

# %%
def fmt(v, spec):
    return "" if v is None else format(v, spec)


head = ["file", "suite", "case", "pass", "path", "ntlib ms", "reference ms", "ratio",
        "ntlib MiB", "reference MiB", "memory ratio"]
lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
for r in rows:
    ratio = fmt(r["ratio"], ".2f")
    if r.get("path") in ("fused", "einsum") and r["ratio"] > 1.5:
        ratio = f"**{ratio}**"
    lines.append("| " + " | ".join([
        r["file"], r.get("suite", ""), r["case"], r.get("pass", ""), r.get("path", ""),
        fmt(r["ntlib_s"] * 1e3, ".3f"), fmt(r["reference_s"] * 1e3, ".3f"), ratio,
        fmt(r.get("ntlib_peak_mb"), ".1f"), fmt(r.get("reference_peak_mb"), ".1f"),
        fmt(r.get("mem_ratio"), ".2f")]) + " |")
Markdown("\n".join(lines))

# %% [markdown]
# ## Ratios at a glance
#
# One bar per measurement, on a logarithmic scale; the dashed line is the 1.5 target.
# Bars of the default (fused) path are solid, those of the plain formula are hatched.

# %%
def label(r):
    case = r["case"].split(" (")[0]
    return f"{case} · {r.get('pass', '')} · {r.get('path', '')}"


fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.2))
ys = np.arange(len(rows))[::-1]
suites = sorted({r.get("suite", "") for r in rows})
colors = {s: plt.cm.tab10(k) for k, s in enumerate(suites)}
for y, r in zip(ys, rows):
    plain = r.get("path") in ("plain", "eager")
    ax.barh(y, r["ratio"], color=colors[r.get("suite", "")], alpha=0.55 if plain else 0.9,
            hatch="//" if plain else None, edgecolor="black", linewidth=0.4)
ax.set_yticks(ys)
ax.set_yticklabels([label(r) for r in rows], fontsize=7)
ax.set_xscale("log")
ax.axvline(1.0, color="black", lw=0.8)
ax.axvline(1.5, color="red", ls="--", lw=1, label="target 1.5")
ax.set_xlabel("ntlib time / reference time (log scale)")
handles = [plt.Rectangle((0, 0), 1, 1, color=colors[s]) for s in suites]
ax.legend(handles + [ax.lines[-1]], suites + ["target 1.5"], fontsize=8, loc="upper left",
          bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# The default path of every block is what the book's code runs; the plain path is
# there to show the formula executes, and how much slower that is.

# %%
default = [r for r in rows if r.get("path") in ("fused", "einsum")]
over = [r for r in default if r["ratio"] > 1.5]
print(f"default path: {len(default) - len(over)} of {len(default)} time ratios within 1.5x")
for r in over:
    print(f"  above target: {label(r)} ({r['file']}): {r['ratio']:.2f}x")
mem = [r for r in default if r.get("mem_ratio") is not None]
if mem:
    worst = max(mem, key=lambda r: r["mem_ratio"])
    print(f"default path: largest peak-memory ratio {worst['mem_ratio']:.2f}x ({label(worst)})")
plain = [r for r in rows if r.get("path") == "plain"]
if plain:
    print(f"plain path: time ratios from {min(r['ratio'] for r in plain):.2f}x "
          f"to {max(r['ratio'] for r in plain):.2f}x")

# %% [markdown]
# ## Exercises
#
# Complete each stub and run its cell; the checker tries your answer on inputs of
# its own (see the preface). The reference solutions are in the collapsed cells.
# This page so far only read files; the exercises need `ntlib` and `torch`:

# %%
import torch

import ntlib as nt

# %% [markdown]
# ### Exercise A3.1: a named contraction as one einsum
#
# The default path of every contraction is a single `torch.einsum` call. Write one
# yourself: given named tensors $X$ and $W$ that share the axis $\layer$, return
# $X \ndot{\layer} W$ by building an einsum string from the axis names, calling
# `torch.einsum` once on the positional data, and naming the result. Every other
# axis is kept; an axis that both tensors have (say $\heads$) is matched, not
# summed. Your function should not assume any particular axis names besides
# $\layer$ or any storage order.

# %%
def answer(X, W, *, layer="layer"):
    ...  # your code here


nt.exercises.report("A3.1", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("A3.1")))
assert nt.exercises.check("A3.1", nt.exercises.solution("A3.1"))

# %% [markdown]
# ### Exercise A3.2: how `nt.contract` computes
#
# How does `nt.contract(X, Y, over=...)` compute its result? (`nt.source` will
# tell you.)
#
# - **a**: it forms the broadcast product $X \odot Y$, then sums over the axes
# - **b**: it makes one `torch.einsum` call
# - **c**: it loops over the records of the axes it keeps
#
# Answer with the letter, e.g. `answer = "c"`.

# %%
answer = ...  # your choice

nt.exercises.report("A3.2", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("A3.2")))
assert nt.exercises.check("A3.2", nt.exercises.solution("A3.2"))

# %% [markdown]
# ### Exercise A3.3: the cost of a contraction
#
# A contraction multiplies and adds once for every record of all the axes
# involved, kept or summed. How many multiply-adds does $X \ndot{\layer} W$ take
# for $X \in \reals^{\batch[32] \times \seq[128] \times \layer[512]}$ and
# $W \in \reals^{\layer[512] \times \hidden[2048]}$? (Profilers count each
# multiply-add as two floating-point operations.) Answer with a number.

# %%
answer = ...  # a number

nt.exercises.report("A3.3", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("A3.3")))
assert nt.exercises.check("A3.3", nt.exercises.solution("A3.3"))
