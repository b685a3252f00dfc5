# %% [markdown]
# # Introduction
#
# This chapter follows §1 of Chiang, Rush and Barak, *Named Tensor Notation* (TMLR
# 2023) {cite}`chiang+:2023`. Its example is the attention function of the
# Transformer {cite}`vaswani+:2017`, a formula that almost every reader of
# machine-learning papers has met, and that positional notation leaves
# surprisingly underspecified.

# %%
import math

import matplotlib.pyplot as plt
import torch

import ntlib as nt

f64 = torch.float64

# %% [markdown]
# ## Attention, positionally
#
# In its usual form, the notation of vectors and matrices
# {cite}`goodfellow2016deep`, attention is written (with the parentheses
# where the paper puts them)
#
# $$
# \text{Attention}(Q, K, V) = \left( \softmax \frac{QK^\top}{\sqrt{d_k}} \right) V,
# $$
#
# where $Q$ holds one query vector per row, $K$ one key vector per row, $V$ one value
# vector per row, and $d_k$ is the length of the key vectors. Several things are left
# to the reader:
#
# - The paper's first question: **does the product $QK^\top$ sum over the
#   sequence, or over the features?** A matrix product sums over columns, but
#   nothing in the formula says what the columns of $Q$ and $K$ are. When the
#   sequence is as long as a feature vector, $QK^\top$ and $Q^\top K$ are both
#   square, both run, and they differ (checked below). (The intended answer:
#   over the features.)
# - $QK^\top$ is a matrix of scores, one row per query and one column per key.
#   **Along which of the two does the softmax normalise?** Softmax is a function of
#   vectors; applied to a matrix it has to be told which axis is the vector. The
#   formula does not say. (The intended answer is: along the keys, so that each query
#   gets a set of weights summing to one.)
# - In practice $Q$, $K$, $V$ also have a **batch** axis, and with multi-head
#   attention a **heads** axis. Where do these go, what does $K^\top$ transpose then,
#   and what does the matrix product multiply? Again the formula is silent; code has
#   to fix a convention (PyTorch's {cite}`pytorch` `scaled_dot_product_attention`
#   puts them in front and transposes the last two dimensions).
#
# Both readings of the softmax are equally legal PyTorch, and with square score
# matrices both run without complaint:

# %%
n, d_k, d_v = 4, 3, 2
Qt = torch.randn(n, d_k, dtype=f64, generator=torch.Generator().manual_seed(0))
Kt = torch.randn(n, d_k, dtype=f64, generator=torch.Generator().manual_seed(1))
Vt = torch.randn(n, d_v, dtype=f64, generator=torch.Generator().manual_seed(2))

scores = Qt @ Kt.T / math.sqrt(d_k)  # rows: queries, columns: keys
over_keys = torch.softmax(scores, dim=1)  # intended
over_queries = torch.softmax(scores, dim=0)  # also "softmax(QK^T / sqrt d_k)"
print(
    "weights per query sum to",
    over_keys.sum(dim=1).numpy().round(4),
    "(intended)",
)
print(
    "weights per query sum to",
    over_queries.sum(dim=1).numpy().round(4),
    "(other reading)",
)
assert not torch.allclose(over_keys @ Vt, over_queries @ Vt)

# the first question: with n = d_k, summing over the features (QK^T) and
# over the sequence (Q^T K) are both legal, and differ
Qs, Ks = Qt[:d_k], Kt[:d_k]  # d_k queries and keys: square matrices
over_features, over_sequence = Qs @ Ks.T, Qs.T @ Ks
assert over_features.shape == over_sequence.shape == (d_k, d_k)
assert not torch.allclose(over_features, over_sequence)
print("QK^T and Q^TK: both", tuple(over_features.shape), "and different")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
for ax, (title, Wt) in zip(
    axes,
    [
        ("softmax over keys (intended):\neach row sums to 1", over_keys),
        ("softmax over queries:\neach column sums to 1", over_queries),
    ],
):
    ax.imshow(Wt.numpy(), vmin=0, vmax=0.8, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{float(Wt[i, j]):.2f}",
                ha="center",
                va="center",
                fontsize=10,
            )
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Attention, with named axes
#
# Named tensor notation makes the axis of every operation part of the formula. A
# single query is a vector over an axis $\key$; the keys and values are indexed by a
# sequence axis $\seq$:
#
# $$
# Q \in \reals^{\key}, \qquad K \in \reals^{\seq \times \key}, \qquad
# V \in \reals^{\seq \times \val},
# $$
#
# <!-- ntn: definition; Attention=nt.attention; Q[key]; K[seq,key]; V[seq,val] -->
# $$
# \text{Attention}(Q, K, V) = \left(\nfun{\seq}{softmax}
#   \frac{Q \ndot{\key} K}{\sqrt{|\key|}}\right) \ndot{\seq} V
#   \;\in \reals^{\val}.
# $$
#
# <!-- ntn: definition; Q[key]; K[seq,key]; expect=N(P(V["K"], "seq", "key") @ P(V["Q"], "key"), "seq") -->
# The dot product $Q \ndot{\key} K$ sums over $\key$ and leaves a score for each
# position of $\seq$; the softmax is explicitly along $\seq$; the weighted sum
# $\ndot{\seq}$ combines the rows of $V$. Nothing needs transposing, because
# contraction pairs axes by name. In code the formula is three `ntlib` calls:

# %%
nt.source(nt.contract, nt.softmax)

# %% [markdown]
# The line `@fused_by(...)` above `softmax` pairs the formula with a faster
# implementation that computes the same thing (here `torch.softmax` along the same
# axis). That one runs by default; inside `with nt.plain():` the formula below it
# runs as written. Chapter 4 explains the mechanism, and the tests check that both
# agree. With these, attention is three lines:

# %%
def attention(Q, K, V):
    """(softmax_seq (Q ⊙_key K) / sqrt|key|) ⊙_seq V."""
    scores = nt.contract(Q, K, over="key") / math.sqrt(nt.shape(K)["key"])
    return nt.contract(nt.softmax(scores, "seq"), V, over="seq")

# %% [markdown]
# One query, on the data above (its first row), checked against the positional
# computation for a single vector:

# %%
K = nt.tensor(Kt, ("seq", "key"))
V = nt.tensor(Vt, ("seq", "val"))
q = nt.tensor(Qt[0], "key")
out = attention(q, K, V)
expected = torch.softmax(Kt @ Qt[0] / math.sqrt(d_k), dim=0) @ Vt
assert torch.allclose(nt.positional(out, "val").cpu(), expected)
nt.show(out)

# %% [markdown]
# ## The same formula, with more axes
#
# The named formula was written for one query, one sequence and one head. Give the
# inputs more axes and every operation in it is lifted over them (Chapter 3, §3.1):
# the formula does not change.
#
# **Many queries.** A second sequence axis $\seq'$ for the query positions,
# $Q \in \reals^{\seq' \times \key}$, gives $\text{Attention}(Q, K, V) \in
# \reals^{\seq' \times \val}$. The softmax is still along $\seq$ — the keys — because
# that is what the formula says; there is no second reading. This is the positional
# computation with `dim=1`:

# %%
Q = nt.tensor(Qt, ("seq'", "key"))
out = attention(Q, K, V)
assert torch.allclose(
    nt.positional(out, ("seq'", "val")).cpu(), over_keys @ Vt
)
nt.show(out, ("seq'", "val"))

# %% [markdown]
# <!-- ntn: definition; Q[key]; K[seq,key]; expect=N(P(V["K"], "seq", "key") @ P(V["Q"], "key"), "seq"); at=6 -->
# The new axis needs a name of its own. §1 of the paper words this step
# differently: it lets $Q$ have "three axes $\key$, $\seq$ and $\batch$
# (corresponding to tokens of a sequence and examples in a minibatch,
# respectively)" and says that the function then "works as written" (the
# first version's §1 says the same {cite}`chiang+:2021`). With
# the name $\seq$, though, the query positions are not lifted over: they
# share their name with the key positions, so $Q \ndot{\key} K$ matches them
# (query $i$ meets only key $i$), the softmax and the sum over $\seq$ then run
# across the queries too, and the result is a single vector over $\val$ —
# one weighted average of the values, with weights from the diagonal scores
# $Q_i \cdot K_i$. The paper's own §4.3 and Appendix A.1 give the queries the
# axis $\seq'$, as here. The reading with $\seq$, run and checked against
# that positional computation:

# %%
Q_on_seq = nt.tensor(Qt, ("seq", "key"))  # query positions named like keys
matched = attention(Q_on_seq, K, V)
print(nt.shape(matched))
diagonal = (Qt * Kt).sum(dim=1) / math.sqrt(d_k)  # Q_i . K_i, one per i
assert torch.allclose(
    nt.positional(matched, "val").cpu(), torch.softmax(diagonal, 0) @ Vt
)

# %% [markdown]
# **Batches and heads.** Add $\batch$ and $\heads$ axes to all three inputs:
# $Q \in \reals^{\batch \times \heads \times \seq' \times \key}$,
# $K \in \reals^{\batch \times \heads \times \seq \times \key}$,
# $V \in \reals^{\batch \times \heads \times \seq \times \val}$. The function is
# unchanged. Positionally, one must choose a layout — here PyTorch's
# `(batch, heads, seq', key)` — transpose only the last two dimensions of $K$, and
# softmax along the last dimension; `scaled_dot_product_attention` does the same.

# %%
sizes = dict(batch=2, heads=3)
Qb = nt.randn(seed=10, **sizes, **{"seq'": 4}, key=6)
Kb = nt.randn(seed=11, **sizes, seq=5, key=6)
Vb = nt.randn(seed=12, **sizes, seq=5, val=7)
out = attention(Qb, Kb, Vb)
print(nt.shape(out))

Qp = nt.positional(Qb, ("batch", "heads", "seq'", "key"))
Kp = nt.positional(Kb, ("batch", "heads", "seq", "key"))
Vp = nt.positional(Vb, ("batch", "heads", "seq", "val"))
by_hand = torch.softmax(Qp @ Kp.transpose(-2, -1) / math.sqrt(6), dim=-1) @ Vp
fused = torch.nn.functional.scaled_dot_product_attention(Qp, Kp, Vp)
order = ("batch", "heads", "seq'", "val")
assert torch.allclose(nt.positional(out, order), by_hand)
assert torch.allclose(nt.positional(out, order), fused)
print("named attention == positional batched multi-head attention")
print("                == scaled_dot_product_attention")

# %% [markdown]
# That the automatic lifting is the lifting the paper defines — apply the one-query
# function to every slice — can be checked by running that definition literally,
# one call per combination of $\batch$, $\heads$ and $\seq'$ (`nt.lift`, Chapter 3):

# %%
looped = nt.lift(attention, Qb, Kb, Vb, over=("batch", "heads", "seq'"))
assert torch.allclose(nt.positional(looped, order), nt.positional(out, order))
print("lifted by loop == lifted automatically")

# %% [markdown]
# The storage order of the axes plays no role. Here the keys are stored in a
# scrambled order, as they might come out of some other computation; the named
# function needs no change, while positional code would need a `permute` first:

# %%
Kb_scrambled = nt.tensor(nt.positional(Kb, ("key", "seq", "heads", "batch")),
                         ("key", "seq", "heads", "batch"))
out2 = attention(Qb, Kb_scrambled, Vb)
assert torch.allclose(nt.positional(out2, order), nt.positional(out, order))
print("same result with K stored as (key, seq, heads, batch)")

# %% [markdown]
# A genuine mismatch, on the other hand, is caught by name. If the values cover a
# sequence of a different length than the keys, the contraction over $\seq$ reports
# it:

# %%
V_short = nt.randn(seed=13, **sizes, seq=4, val=7)
try:
    attention(Qb, Kb, V_short)
except nt.AxisError as err:
    print(f"AxisError: {err}")

# %% [markdown]
# The book's library has the same formula as a building block, `nt.nn.attention`
# (Chapter 4), with an optional mask. It agrees with the three-line version above:

# %%
nt.source(nt.nn.attention)

# %%
assert torch.allclose(
    nt.positional(nt.nn.attention(Qb, Kb, Vb), order),
    nt.positional(out, order),
)
with nt.plain():
    assert torch.allclose(
        nt.positional(nt.nn.attention(Qb, Kb, Vb), order),
        nt.positional(out, order),
    )
print("nt.nn.attention agrees (fused and plain paths)")

# %% [markdown]
# The rest of the book makes this precise: Chapter 2 defines named tensors, Chapter 3
# the operations used here (contraction, softmax, lifting) and the rest, and the
# later chapters write whole networks in the same way.

# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise 1.1: the attention weights
#
# Write the weights that attention puts on each key,
#
# <!-- ntn: definition; Q[key]; K[seq,key]; expect=nt.exercises.solution("1.1")(V["Q"], V["K"]) -->
# $$
# \alpha = \nfun{\seq}{softmax} \frac{Q \ndot{\key} K}{\sqrt{|\key|}},
# \qquad Q \in \reals^{\key},\; K \in \reals^{\seq \times \key},
# $$
#
# as a function of $Q$ and $K$. Your function should also work, unchanged, when
# $Q$ holds many queries along an axis $\seq'$, or when both inputs carry an extra
# axis such as $\heads$.

# %%
def answer(Q, K, *, seq="seq", key="key"):
    ...  # your code here


nt.exercises.report("1.1", answer)

# %% tags=["hide-cell"]
def answer(Q, K, *, seq="seq", key="key"):
    scores = nt.contract(Q, K, over=key) / math.sqrt(nt.shape(K)[key])
    return nt.softmax(scores, seq)


assert nt.exercises.check("1.1", answer)

# %% [markdown]
# ### Exercise 1.2: which softmax is this?
#
# In the positional code at the start of this chapter, `scores` has one row per
# query and one column per key. Named, the queries run along $\seq'$ and the keys
# along $\seq$. Which named operation is `torch.softmax(scores, dim=0)`?
#
# - **a**: a softmax over $\seq$ (the keys), for each query
# - **b**: a softmax over $\seq'$ (the queries), for each key
# - **c**: a softmax over all entries of the score matrix at once
#
# Answer with the letter, e.g. `answer = "c"`.

# %%
answer = ...  # your answer

nt.exercises.report("1.2", answer)

# %% tags=["hide-cell"]
answer = "b"  # dim=0 runs down a column: along the queries, seq'

assert nt.exercises.check("1.2", answer)

# %% [markdown]
# ### Exercise 1.3: attention over an image
#
# Let the keys and values sit on a grid of pixels instead of a sequence:
# $K \in \reals^{\height \times \width \times \key}$ and
# $V \in \reals^{\height \times \width \times \val}$, with one query
# $Q \in \reals^{\key}$. The query should attend to all pixels at once: one
# softmax over $\height$ and $\width$ together, then a weighted sum over both,
#
# <!-- ntn: definition; Attention=nt.exercises.solution("1.3"); Q[key]; K[height,width,key]; V[height,width,val] -->
# $$
# \begin{aligned}
# S &= \frac{Q \ndot{\key} K}{\sqrt{|\key|}} \in \reals^{\height \times \width},\\
# \text{Attention}(Q, K, V) &= \frac{\exp S}{\nsum{\height \\ \width} \exp S}
#   \ndot{\height \\ \width} V \in \reals^{\val}.
# \end{aligned}
# $$
#
# Hint: `nt.softmax` takes one axis; the cheat-sheet in the preface shows how to
# merge two axes into one (and `nt.unflatten` splits it again).

# %%
def answer(Q, K, V, *, height="height", width="width", key="key"):
    ...  # your code here


nt.exercises.report("1.3", answer)

# %% tags=["hide-cell"]
def answer(Q, K, V, *, height="height", width="width", key="key"):
    S = nt.contract(Q, K, over=key) / math.sqrt(nt.shape(K)[key])
    # one softmax over all pixels: merge the two axes, softmax, split again
    sizes = {height: nt.shape(K)[height], width: nt.shape(K)[width]}
    pixels = nt.softmax(nt.flatten(S, (height, width), "pixel"), "pixel")
    alpha = nt.unflatten(pixels, "pixel", sizes)
    return nt.contract(alpha, V, over=(height, width))


assert nt.exercises.check("1.3", answer)
