# %% [markdown]
# # Appendix A.2b: Named axes across devices
#
# The models of Appendices A.1 and A.2 fit in one process. The models that
# people who write this notation train do not: their parameters and
# activations are spread over many devices. How to spread them is usually
# written positionally (shard dimension 0 of this tensor, dimension 2 of that
# one), and it has to be rewritten whenever a tensor's dimensions are
# reordered. Mesh-TensorFlow {cite}`shazeer+:2018` wrote it by *name*
# instead: a layout is a rule from tensor dimension names to the dimensions of
# a mesh of devices, such as $\batch \mapsto \name{dp}$ and
# $\heads \mapsto \name{tp}$, and one rule lays out every tensor of a model.
# With named tensors that rule is the natural one.
#
# This appendix writes Mesh-TensorFlow's rules in the paper's notation and runs
# them with PyTorch's own engine for it (`torch.distributed`, whose
# `DeviceMesh` and `DTensor` do the positional bookkeeping): A.1's Transformer
# is trained for a few steps data-parallel, tensor-parallel and on a
# two-dimensional mesh, by processes this notebook starts, and each run is
# checked against one process. `nt.distributed` holds the code.

# %%
import textwrap

import torch

import ntlib as nt
import ntlib.distributed as ntd

# %% [markdown]
# ## Layout rules, by name
#
# A *mesh* is a set of devices arranged along named axes, for instance four
# processes as $\name{dp}[2] \times \name{tp}[2]$; it is a shape in the
# paper's sense, and a device is one of its index records
# $(\name{dp}(i), \name{tp}(j))$. A *layout rule* $\lambda$ maps some axis
# names to mesh axes, with $|\ax|$ divisible by $|\lambda(\ax)|$. A tensor
# $X \in \reals^{\batch \times \seq \times \layer}$ laid out by
# $\lambda = \{\batch \mapsto \name{dp}\}$ is held in blocks: the device
# $(\name{dp}(i), \name{tp}(j))$ holds the restriction
#
# $$
# X^{(i)} = X|_{\batch(B_i)}, \qquad
# B_i = \{\, (i-1)\,b + 1, \dots, i\,b \,\}, \quad b = |\batch| / |\name{dp}|,
# $$
#
# the same block for every $j$: the axes $\lambda$ does not name are
# replicated. Mesh-TensorFlow's conditions and rules then read:
#
# - **Valid layout.** No two axes of one tensor go to the same mesh axis
#   (a rule may send $\heads$ and $\hidden$ both to $\name{tp}$: no tensor of
#   the Transformer has both).
# - **Functions applied by name.** An operation lifted over an axis (§3:
#   $\nfun{\layer}{softmax}$, $+$, $\mathrm{relu}$, a contraction over
#   another axis) works on each block alone: the blocks of the result are the
#   results on the blocks, with no communication.
# - **Contraction over a split axis.** If $\lambda(\ax) = m$, each device
#   contracts its own blocks, and the result is the sum over the devices
#   along $m$,
#
#   <!-- ntn: identity; @ax=6; X[ax,height]; Y[width,ax]; B=N(torch.arange(1, 7).reshape(2, 3), "m", "blk"); b=3 -->
#   $$
#   X \ndot{\ax} Y = \nsum{\name{m}} X_{\ax(B)} \ndot{\name{blk}} Y_{\ax(B)},
#   \qquad B_{\name{m}(i), \name{blk}(k)} = (i - 1)\, b + k,
#   $$
#
#   with $b = |\ax| / |\name{m}|$: the index tensor $B$ (§3's indexing by a
#   named tensor) holds along $\name{blk}$ the indices $B_i$ of device $i$'s
#   block, so that $X_{\ax(B)}$ is every device's block side by side. Each
#   device's contraction over $\name{blk}$ is a *partial sum* until an
#   all-reduce over $m$ adds them up; it is done only when something needs the total (DTensor's `Partial`
#   placement).
# - **A split axis that must be whole** (a softmax over it, say): an
#   all-gather over $m$ first.
#
# `ntd.check_rule` checks a rule against a tensor's shape and a mesh, and
# `ntd.placements` turns it into DTensor's positional placements for one
# storage order, which is all the positional bookkeeping there is:

# %%
rule = {"batch": "dp", "heads": "tp", "hidden": "tp"}
mesh = {"dp": 2, "tp": 2}
print(ntd.check_rule({"batch": 8, "seq": 5, "layer": 64}, mesh, rule,
                     strict=False))
print(ntd.placements(("seq", "batch", "heads"), mesh, rule))
try:
    ntd.check_rule({"heads": 3, "key": 8}, mesh, rule, strict=False)
except ntd.LayoutError as err:
    print("LayoutError:", textwrap.fill(str(err), 60, subsequent_indent="  "))

# %% [markdown]
# ## A.1's Transformer on three layouts
#
# `ntd.shard(X, mesh, rule)` lays a named tensor out; its data is then a
# `DTensor`, and every `ntlib` operation runs on it unchanged, the formulas
# of A.1 included. Tensors that were never laid out, such as the causal mask
# and the positional encoding that the model makes inside its blocks, count as
# replicated (inside `ntd.on_mesh()`). Attention runs its formula on laid-out
# tensors, since PyTorch's fused kernel has no sharding rule on the CPU.
# `ntd.full(X)` gathers the global value back.

# %%
nt.source(nt.distributed.shard)

# %% [markdown]
# `ntd.training_run` trains A.1's Transformer (one layer, 4 heads,
# $|\layer| = 16$, $|\hidden| = 24$, float64) for two Adam steps on a batch of
# 4 seeded sequences of 6 tokens: with a mesh and a rule, the parameters and
# the tokens are laid out by that one rule (each tensor's axes that the rule
# does not name replicated); without, one process runs it all. The cell below
# starts four processes (gloo on the CPU) and runs three layouts in them:
#
# - **data parallel**, $\batch \mapsto \name{dp}$ on $\name{dp}[4]$;
# - **tensor parallel**, $\heads \mapsto \name{tp}$ and
#   $\hidden \mapsto \name{tp}$ on $\name{tp}[4]$ (Megatron's layout of
#   attention and the FFN, written as one rule);
# - **both**, on the mesh $\name{dp}[2] \times \name{tp}[2]$.
#
# Every collective runs under a timeout, so a process that fails ends the run
# with its error instead of leaving the others waiting.

# %%
TP = {"heads": "tp", "hidden": "tp"}
layouts = {
    "data parallel": ({"dp": 4}, {"batch": "dp"}),
    "tensor parallel": ({"tp": 4}, TP),
    "dp x tp": ({"dp": 2, "tp": 2}, {"batch": "dp", **TP}),
}
runs = ntd.launch(ntd.training_runs, 4, layouts, count=True, timeout=300)
reference = ntd.training_run()          # one process
print(f"{len(runs)} processes, {len(runs[0])} layouts each")

# %% [markdown]
# Rank 0 gathered each run's losses, the gradients of the first step and the
# parameters after the second (all 13 parameter tensors, by name). They agree
# with the single process to rounding, and the other ranks gathered the same:

# %%
print(f"{'layout':16} {'losses':>9} {'gradients':>10} {'parameters':>11}")
for name, run in runs[0].items():
    d = ntd.compare(reference, run)
    assert max(d.values()) < 1e-12, (name, d)
    assert all(ntd.compare(run, r[name])["params"] == 0 for r in runs[1:])
    print(f"{name:16} {'< 1e-12':>9} {'< 1e-12':>10} {'< 1e-12':>11}")
print("losses:", [round(float(v), 4) for v in reference["losses"]])

# %% [markdown]
# ## What each rule costs
#
# `ntd.communication` recorded the collectives of each run's first step: on
# which mesh axis, in which phase, how many and how many bytes went in. Under
# the data-parallel rule, all of it is $\batch$'s; under the tensor-parallel
# rule, $\heads$'s and $\hidden$'s. (The table records the engine's choices,
# which another version of PyTorch may make differently; the checks after it
# hold for any.)

# %% tags=["nbval-ignore-output"]
print(f"{'layout':16} {'mesh':4} {'phase':9} {'collective':23} "
      f"{'n':>3} {'bytes':>7}")
for name, run in runs[0].items():
    for (md, phase, kind), (n, b) in sorted(run["communication"].items()):
        print(f"{name:16} {md:4} {phase:9} {kind:23} {n:3} {b:7}")

# %% [markdown]
# Read by axis name:
#
# - $\batch \mapsto \name{dp}$: the forward pass reduces nothing (each device
#   runs its sequences); the loss, a mean over $\batch$, and then every
#   parameter's gradient are partial sums over $\name{dp}$, reduced once
#   after the backward pass (`ntd.reduce_gradients`): an all-reduce of all
#   $P$ parameters per step, whatever the batch. (The all-gathers are
#   DTensor's own choice, and differ between torch versions, as does whether
#   the loss is all-reduced in the same phase; the table shows them as they
#   come.)
# - $\heads \mapsto \name{tp}$: $W^O \ndot{\heads,\val} \cdots$ contracts
#   over the split axis, so each layer's attention output is a partial sum, an
#   all-reduce of $|\batch| \cdot |\seq| \cdot |\layer|$ numbers;
#   $\hidden \mapsto \name{tp}$ does the same in the FFN, at
#   $W^2 \ndot{\hidden} \cdots$. The backward pass has the mirror images (the
#   gradient with respect to $X$ of a contraction whose other operand is
#   split), and no parameter gradient needs reducing: each device holds the
#   whole gradient of its own block of heads.
#
# On the two-dimensional mesh the same costs appear on each mesh axis, but
# DTensor chooses its own way to pay them: often a reduce-scatter followed,
# when the whole tensor is needed, by an all-gather (the two halves of an
# all-reduce), which leaves a tensor split along $\seq$ or $\layer$ in
# between. The layout rule says which axes are split; how a partial sum is
# reduced is the engine's choice.
#
# The counts above check these sizes:

# %%
P = sum(p.numel() for p in nt.models.parameters(
    nt.models.init_transformer(vocab=13, layers=1, heads=4, layer=16,
                               hidden=24, dtype=torch.float64)))
dp = runs[0]["data parallel"]["communication"]
n, b = dp[("dp", "backward", "all_reduce")]
# every gradient (8 bytes a number); some torch versions add the loss's 8
assert b - 8 * P in (0, 8), (b, P)
tp = runs[0]["tensor parallel"]["communication"]
n, b = tp[("tp", "forward", "all_reduce")]
assert (n, b) == (2, 2 * 8 * 4 * 6 * 16)   # heads and hidden: B·S·L each
print(f"data parallel: P = {P} parameters, {8 * P} bytes all-reduced")
print(f"tensor parallel, forward: {n} all-reduces of 4·6·16 numbers")

# %% [markdown]
# ## GPT-3 on a mesh: memory per device, computed
#
# A.1 built GPT-3's shapes on the meta device, where tensors have shapes and
# no values. A layout rule turns those shapes into the memory that each
# device of a mesh holds: a tensor's bytes divided by the sizes of the mesh
# axes its split axes go to (`ntd.memory_per_device`, checked against the
# rule). Parameters in float32, and for training with Adam four times that
# (the gradient and two moments):

# %%
GPT3 = dict(vocab=50257, layers=96, heads=96, layer=12288)
with nt.on_device("meta"):
    gpt3 = nt.models.init_transformer(**GPT3, seed=0)
rule = {"heads": "tp", "hidden": "tp"}
print(f"{'mesh':>22} {'params GB':>10} {'with Adam':>10}")
for dims in ({"dp": 1, "tp": 1}, {"dp": 64, "tp": 1}, {"dp": 8, "tp": 8},
             {"dp": 16, "tp": 32}):
    per = ntd.memory_per_device(gpt3, dims, rule)
    gb = sum(per.values()) / 1e9
    print(f"{str(dims):>22} {gb:10.2f} {4 * gb:10.2f}")

# %% [markdown]
# Data parallelism alone leaves every device the whole model; splitting
# $\heads$ and $\hidden$ over $\name{tp}[8]$ divides all but the embedding
# $E$ (vocab × layer, 2.5 GB, replicated by this rule) by 8. The batch's
# axis decides the activations' share, which the same rule divides by
# $|\name{dp}|$.
#
# ## On real machines
#
# The same check runs with `torchrun` on one or several hosts: every process
# trains on the layout, and rank 0 also runs one process's version and
# prints the differences (README, *Several processes and hosts*):
#
# ```
# torchrun --nnodes=2 --nproc-per-node=4 --rdzv-backend=c10d \
#   --rdzv-endpoint=HOST:29500 -m ntlib.distributed \
#   --mesh dp=2,tp=4 --rule batch=dp,heads=tp,hidden=tp
# ```

# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tells you whether it is right (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise A2b.1: one device's block
#
# $X \in \reals^{\batch[8] \times \seq[5] \times \layer[16]}$ holds float32
# numbers (4 bytes each) and is laid out on the mesh $\name{dp}[4]$ by
# $\{\batch \mapsto \name{dp}\}$. How many bytes of $X$ does one device
# hold? Answer with a number.

# %%
answer = ...  # your answer

nt.exercises.report("A2b.1", answer)

# %% tags=["hide-cell"]
answer = 2 * 5 * 16 * 4  # batch 8 / 4 = 2 per device, seq and layer whole

assert nt.exercises.check("A2b.1", answer)

# %% [markdown]
# ### Exercise A2b.2: a layout that is not valid
#
# On the mesh $\name{dp}[2] \times \name{tp}[4]$, which rule is not a valid
# layout for $W^1 \in \reals^{\hidden[96] \times \layer[32]}$?
# **a** $\{\hidden \mapsto \name{tp}\}$,
# **b** $\{\hidden \mapsto \name{tp}, \layer \mapsto \name{dp}\}$,
# **c** $\{\hidden \mapsto \name{tp}, \layer \mapsto \name{tp}\}$,
# **d** $\{\layer \mapsto \name{dp}\}$. Answer with its letter.

# %%
answer = ...  # your answer

nt.exercises.report("A2b.2", answer)

# %% tags=["hide-cell"]
answer = "c"  # hidden and layer, two axes of W^1, on one mesh axis

assert nt.exercises.check("A2b.2", answer)

# %% [markdown]
# ### Exercise A2b.3: all-reduces of tensor parallelism
#
# A Transformer of 12 layers is laid out by
# $\{\heads \mapsto \name{tp}, \hidden \mapsto \name{tp}\}$, as above.
# How many all-reduces over $\name{tp}$ does one forward pass need? Answer
# with a number.

# %%
answer = ...  # your answer

nt.exercises.report("A2b.3", answer)

# %% tags=["hide-cell"]
answer = 2 * 12  # per layer: W^O over heads, W^2 over hidden

assert nt.exercises.check("A2b.3", answer)
