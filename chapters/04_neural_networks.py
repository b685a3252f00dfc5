# %% [markdown]
# # Neural networks
#
# This chapter follows §4 of Chiang, Rush and Barak, *Named Tensor Notation* (TMLR
# 2023) {cite}`chiang+:2023`: the building blocks of neural networks, written in named notation. Each block
# is given by its formula, then by the `ntlib` function that implements it (the printed
# source is the formula, transcribed), then run on a small example and checked against
# PyTorch's positional implementation. The section on normalization also includes
# GroupNorm, which appeared in the paper's first arXiv version {cite}`chiang+:2021`
# (its §3.1.6, "Normalization layers") and is not printed in the TMLR version.
#
# The blocks never mention batch or head axes. A block uses only the axes its formula
# names, and any other axis of its arguments is carried through by lifting (§3.1), so
# the same code runs on one example, on a batch, or on a batch of attention heads.
#
# Positions are counted from 0 in code and from 1 in the paper. Where a formula
# depends on the position (unrolling, pooling, the causal mask), the book gives the
# 0-based form next to the paper's.

# %%
import functools
import logging
import math

# no font-cache notice on stderr in a fresh environment
logging.getLogger("matplotlib").setLevel(logging.ERROR)
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import ntlib as nt

f64 = torch.float64


# the chapter's check: ntlib.testing.same, to 1e-12 unless told
same = functools.partial(nt.testing.same, tol=1e-12)


def r(seed, **sizes):
    """A float64 named tensor of standard normal entries."""
    return nt.randn(seed=seed, **sizes)

# %% [markdown]
# ## Feedforward networks
#
# A feedforward network maps an input vector $X^0 \in \reals^{\inp}$ through layers
# of possibly different widths. With the logistic sigmoid $\sigma$ as nonlinearity,
# the paper writes a three-layer network as follows (TMLR §4.1, first display; the
# first version has the same in §3.1.1), each layer with axes of its own:
#
# <!-- ntn: definition; X^0[batch,input]; W^1[input,hidden_1]; b^1[hidden_1]; W^2[hidden_2,hidden_1]; b^2[hidden_2]; W^3[hidden_2,out]; b^3[out]; @hidden_1=5,hidden_2=3,out=2; expect=N(torch.sigmoid(F.linear(torch.sigmoid(F.linear(torch.sigmoid(F.linear(P(V["X^0"],"batch","input"), P(V["W^1"],"hidden_1","input"), P(V["b^1"],"hidden_1"))), P(V["W^2"],"hidden_2","hidden_1"), P(V["b^2"],"hidden_2"))), P(V["W^3"],"out","hidden_2"), P(V["b^3"],"out"))), "batch", "out") -->
# $$
# \begin{aligned}
# X^1 &= \sigma(W^1 \ndot{\inp} X^0 + b^1), & W^1 &\in \reals^{\name{hidden_1} \times \inp}, & b^1 &\in \reals^{\name{hidden_1}},\\
# X^2 &= \sigma(W^2 \ndot{\name{hidden_1}} X^1 + b^2), & W^2 &\in \reals^{\name{hidden_2} \times \name{hidden_1}}, & b^2 &\in \reals^{\name{hidden_2}},\\
# X^3 &= \sigma(W^3 \ndot{\name{hidden_2}} X^2 + b^3), & W^3 &\in \reals^{\out \times \name{hidden_2}}, & b^3 &\in \reals^{\out}.
# \end{aligned}
# $$
#
# The three lines run as written, with the axes named as in the paper:
# $|\inp| = 4$, $|\name{hidden_1}| = 5$, $|\name{hidden_2}| = 3$, $|\out| = 2$,
# and a batch of six inputs that every line lifts over. The weights are stored in
# whatever order, since each contraction names its axis. The positional reference
# is three calls of `F.linear` (which computes $x W^\top + b$) with the weights laid
# out output-major.

# %%
X0 = r(90, batch=6, input=4)
W1, b1 = r(91, input=4, hidden_1=5), r(92, hidden_1=5)
W2, b2 = r(93, hidden_2=3, hidden_1=5), r(94, hidden_2=3)
W3, b3 = r(95, hidden_2=3, out=2), r(96, out=2)

X1 = nt.sigmoid(nt.contract(W1, X0, over="input") + b1)
X2 = nt.sigmoid(nt.contract(W2, X1, over="hidden_1") + b2)
X3 = nt.sigmoid(nt.contract(W3, X2, over="hidden_2") + b3)

ref = nt.positional(X0, ("batch", "input"))
for W_, b_, out_ax, in_ax in ((W1, b1, "hidden_1", "input"),
                              (W2, b2, "hidden_2", "hidden_1"),
                              (W3, b3, "out", "hidden_2")):
    ref = torch.sigmoid(F.linear(ref, nt.positional(W_, (out_ax, in_ax)),
                                 nt.positional(b_, out_ax)))
same(X3, ("batch", "out"), ref)
print(nt.shape(X1), nt.shape(X2), nt.shape(X3))
nt.show(X3, ("batch", "out"))

# %% [markdown]
# Every layer has the same form, so it helps to give all the layers' vectors one axis
# name, $\layer$, and let only the size change. One layer is then a function of a
# vector in $\reals^{\layer[n_{l-1}]}$: contract with the weights over $\layer$, add
# the bias, apply $\sigma$, and rename the output axis back to $\layer$:
#
# <!-- ntn: definition; ~\operatorname{FullConn}^l=\operatorname{FullConn}; FullConn=lambda x: nt.full_conn(x, V["W^l"], V["b^l"], out="layer'"); x[layer,batch]; W^l[layer',layer]; b^l[layer'] -->
# $$
# \operatorname{FullConn}^l(x) = \sigma\left(W^l \ndot{\layer} x + b^l\right)_{\layer' \to \layer},
# \qquad W^l \in \reals^{\layer'[n_l] \times \layer[n_{l-1}]}, \quad b^l \in \reals^{\layer'[n_l]}.
# $$
#
# In `ntlib` the output axis is the keyword `out` (default `"out"`; the paper's
# $\layer'$ can be spelled `"layer'"`):

# %%
nt.source(nt.full_conn)

# %% [markdown]
# The first decorator line says what the layer needs of its arguments: $x$ has the
# axis named by `layer` and not the one named by `out`, $W$ has both, $b$ has `out`,
# and all three hold real numbers (`real=True`: a layer of complex numbers is
# refused). `ntlib` checks this before the formula runs, so the body is the formula
# alone. The
# second pairs the formula with a fused implementation; the last section of this
# chapter explains both. A layer from $\layer[3]$ to $\layer[2]$:

# %%
x = nt.tensor([1.0, -2.0, 0.5], "layer", dtype=f64)
W = nt.tensor(
    [[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], ("layer'", "layer"), dtype=f64
)
b = nt.tensor([0.1, -0.2], "layer'", dtype=f64)
h = nt.full_conn(x, W, b, out="layer'")
nt.show(h, ("layer",))

# %% [markdown]
# Positionally this is `sigmoid(W @ x + b)` with `W` stored output-major, which is
# what `torch.nn.functional.linear` computes:

# %%
Wt = nt.positional(W, ("layer'", "layer"))
same(
    h,
    ("layer",),
    torch.sigmoid(
        F.linear(nt.positional(x, "layer"), Wt, nt.positional(b, "layer'"))
    ),
)
print("full_conn agrees with sigmoid(F.linear(x, W, b))")

# %% [markdown]
# The same function applied to a minibatch $X \in \reals^{\batch[4] \times \layer[3]}$
# lifts over $\batch$; nothing in the definition changes. `nt.feedforward` composes
# layers, here $3 \to 5 \to 2$:

# %%
nt.source(nt.feedforward)

# %%
X = r(0, batch=4, layer=3)
params = [
    (r(1, out=5, layer=3), r(2, out=5)),
    (r(3, out=2, layer=5), r(4, out=2)),
]
Y = nt.feedforward(X, params)

ref = nt.positional(X, ("batch", "layer"))
for Wl, bl in params:
    ref = torch.sigmoid(
        F.linear(
            ref, nt.positional(Wl, ("out", "layer")), nt.positional(bl, "out")
        )
    )
same(Y, ("batch", "layer"), ref)
nt.show(Y, ("batch", "layer"))

# %% [markdown]
# ## Recurrent neural networks
#
# An Elman recurrent network reads a sequence $x^1, \dots, x^n \in \reals^{\inp}$ and
# keeps a hidden state $h^t \in \reals^{\hidden}$. Each step mixes the previous state
# and the current input:
#
# <!-- ntn: definition; h^{t-1}[hidden,batch]; x^t[input,batch]; W^{h}[hidden',hidden]; W^{i}[hidden',input]; b[hidden']; @hidden'=5; expect=N(torch.sigmoid(F.linear(P(V["h^{t-1}"],"batch","hidden"), P(V["W^{h}"],"hidden'","hidden")) + F.linear(P(V["x^t"],"batch","input"), P(V["W^{i}"],"hidden'","input"), P(V["b"],"hidden'"))), "batch", "hidden") -->
# $$
# h^t = \sigma\left(W^{h} \ndot{\hidden} h^{t-1} + W^{i} \ndot{\inp} x^t + b\right)_{\hidden' \to \hidden},
# \qquad t = 1, \dots, n,
# $$
#
# with $W^h \in \reals^{\hidden \times \hidden'}$, $W^i \in \reals^{\inp \times \hidden'}$,
# $b \in \reals^{\hidden'}$ and $|\hidden| = |\hidden'|$. The inputs are the slices of
# one tensor $x \in \reals^{\name{time} \times \inp}$; `nt.rnn` returns all the states
# $h^1, \dots, h^n$ as one tensor with a $\name{time}$ axis (position $t$ holds
# $h^{t+1}$). The primed axis is the keyword `hidden_out`:

# %%
nt.source(nt.rnn)

# %%
xs = r(10, time=4, input=2)
h0 = nt.tensor([0.0, 0.0, 0.0], "hidden", dtype=f64)
Wh, Wi, bh = (
    r(11, hidden=3, hidden_out=3),
    r(12, input=2, hidden_out=3),
    r(13, hidden_out=3),
)
H = nt.rnn(xs, h0, Wh, Wi, bh)
nt.show(H, ("time", "hidden"))

# %% [markdown]
# The positional loop below writes the same recurrence with explicit dimension roles
# (`x[t]` is a row of shape `(input,)`, `Wh` is `(hidden, hidden')`):

# %%
xt, ht = nt.positional(xs, ("time", "input")), nt.positional(h0, "hidden")
Wht, Wit = (
    nt.positional(Wh, ("hidden", "hidden_out")),
    nt.positional(Wi, ("input", "hidden_out")),
)
bt = nt.positional(bh, "hidden_out")
states = []
for t in range(4):
    ht = torch.sigmoid(ht @ Wht + xt[t] @ Wit + bt)
    states.append(ht)
same(H, ("time", "hidden"), torch.stack(states))
print("rnn agrees with the positional loop")

# %% [markdown]
# ## Attention
#
# The introduction opened with attention, the core of the Transformer
# {cite}`vaswani+:2017`. For one query $Q \in \reals^{\key}$,
# keys $K \in \reals^{\seq \times \key}$ and values $V \in \reals^{\seq \times \val}$,
#
# <!-- ntn: definition; Attention=nt.attention; Q[seq',key]; K[seq,key]; V[seq,val] -->
# $$
# \operatorname{Attention}(Q, K, V) = \left(\nfun{\seq}{softmax} \frac{Q \ndot{\key} K}{\sqrt{|\key|}}\right) \ndot{\seq} V .
# $$
#
# The query is compared with every key (a contraction over $\key$), the scores are
# normalized along $\seq$, and the values are averaged with those weights (a
# contraction over $\seq$). A mask $M \in \reals^{\seq}$, added to the scores before
# the softmax, removes positions: an entry $-\infty$ gets weight zero. In `ntlib`
# the mask is an optional fourth argument:

# %%
nt.source(nt.attention)

# %%
Q1 = r(20, key=4)
K1, V1 = r(21, seq=5, key=4), r(22, seq=5, val=3)
A1 = nt.attention(Q1, K1, V1)
nt.show(A1, ("val",))

# %% [markdown]
# PyTorch's `scaled_dot_product_attention` expects a query *matrix*; one query is a
# matrix with one row. The named version needs no such adjustment:

# %%
ref = F.scaled_dot_product_attention(nt.positional(Q1, "key")[None],
                                     nt.positional(K1, ("seq", "key")),
                                     nt.positional(V1, ("seq", "val")))[0]
same(A1, ("val",), ref)
print("attention agrees with F.scaled_dot_product_attention")

# %% [markdown]
# ### Many queries, a batch and heads
#
# Give $Q$ a query axis, $\query$, and attention is lifted over it: each query attends
# independently. Give all three arguments $\batch$ and $\heads$ axes and it is lifted
# over those too. The code is the same function; only the arguments have more axes.
# The storage orders below are deliberately different from PyTorch's `(batch, heads,
# position, feature)` convention.
#
# A word on the name. The paper calls the queries' axis $\seq'$ (TMLR §4.3 and
# Appendix A.1), a primed copy of
# $\seq$, and Chapter 1 and Appendix A.1 follow it. In this chapter, where queries
# and keys sit side by side in every printed shape and in the mask below, we call it
# $\query$ so that the two cannot be misread; nothing depends on the choice, since
# every function takes the axis names as keywords (for example
# `nt.causal_mask(n, query="seq'")` gives the paper's naming).

# %%
Q = r(23, key=8, query=6, heads=2, batch=3)
K = r(24, heads=2, seq=7, batch=3, key=8)
V = r(25, seq=7, val=5, batch=3, heads=2)
AQ = nt.attention(Q, K, V)
print(nt.shape(AQ))
ref = F.scaled_dot_product_attention(
    nt.positional(Q, ("batch", "heads", "query", "key")),
    nt.positional(K, ("batch", "heads", "seq", "key")),
    nt.positional(V, ("batch", "heads", "seq", "val")),
)
same(AQ, ("batch", "heads", "query", "val"), ref)
print("lifted attention agrees with F.scaled_dot_product_attention")
print("on (batch, heads, query, key)")

# %% [markdown]
# <!-- ntn: definition; Q[seq',key]; K[seq,key]; expect=N(torch.softmax(P(V["Q"], "seq'", "key") @ P(V["K"], "seq", "key").T / math.sqrt(size["key"]), -1), "seq'", "seq") -->
# The attention weights of this call,
# $\nfun{\seq}{softmax}(Q \ndot{\key} K / \sqrt{|\key|})$, have all four axes.
# treescope draws them by name: one $\seq \times \query$ picture per head, side by
# side, and a slider for the $\batch$ element. In every picture each column (one
# query) sums to 1.

# %%
import treescope

W = nt.softmax(nt.contract(Q, K, over="key") / math.sqrt(8), "seq")
assert nt.allclose(W.sum("seq"), nt.tensor(torch.ones(3, 2, 6),
                                            ("batch", "heads", "query")))
treescope.render_array(W, rows=["seq"], columns=["query", "heads"],
                       sliders=["batch"], around_zero=False, vmin=0,
                       pixels_per_cell=16)

# %% [markdown]
# ### Causal masking
#
# In self-attention over a sequence, the keys and the queries are the same positions.
# A decoder must not look ahead, so the query at position $j$ may use only the keys at
# positions $i \le j$. With the keys on $\seq$ and the queries on $\query$, the mask is
#
# <!-- ntn: definition; @seq=5,query=5; M=nt.causal_mask(5) -->
# $$
# M \in \reals^{\seq[n] \times \query[n]}, \qquad
# M_{\seq(i), \query(j)} = \begin{cases} 0 & i \le j \\ -\infty & \text{otherwise.} \end{cases}
# $$
#
# The condition $i \le j$ reads the same whether positions start at 0 or at 1.

# %%
nt.source(nt.causal_mask)

# %%
M = nt.causal_mask(4)
nt.show(M, ("seq", "query"))

# %% [markdown]
# The mask has a $\query$ axis, so adding it to the scores lifts the softmax over
# queries with a different mask for each. PyTorch's `attn_mask` is laid out
# `(query, key)`, the transpose of how $M$ is printed above; by name there is nothing
# to transpose:

# %%
n = 6
Qs, Ks, Vs = r(30, query=n, key=4), r(31, seq=n, key=4), r(32, seq=n, val=3)
Mc = nt.causal_mask(n)
masked = nt.attention(Qs, Ks, Vs, Mc)
qt, kt, vt = (
    nt.positional(Qs, ("query", "key")),
    nt.positional(Ks, ("seq", "key")),
    nt.positional(Vs, ("seq", "val")),
)
same(
    masked,
    ("query", "val"),
    F.scaled_dot_product_attention(qt, kt, vt, is_causal=True),
)
same(
    masked,
    ("query", "val"),
    F.scaled_dot_product_attention(
        qt, kt, vt, attn_mask=nt.positional(Mc, ("query", "seq"))
    ),
)
print("causal attention agrees with is_causal=True and with attn_mask")

# %% [markdown]
# <!-- ntn: definition; Q[query,key]; K[seq,key]; @query=5; M=nt.causal_mask(5); expect=N(torch.softmax(P(V["Q"], "query", "key") @ P(V["K"], "seq", "key").T / math.sqrt(size["key"]) + P(V["M"], "query", "seq"), -1), "query", "seq") -->
# The attention weights $\nfun{\seq}{softmax}(Q \ndot{\key} K / \sqrt{|\key|} + M)$,
# computed with `ntlib`, with and without the mask. Rows are key positions $i$
# ($\seq$), columns query positions $j$ ($\query$). Each column (one query) sums to
# 1; with the mask, the weights *below* the diagonal ($i > j$, keys later than the
# query) are 0.

# %% tags=["hide-input"]
def weights(Q, K, M=None):
    s = nt.contract(Q, K, over="key") / math.sqrt(nt.shape(K)["key"])
    return nt.softmax(s if M is None else s + M, "seq")

fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
for ax, (title, w) in zip(axes, [("no mask", weights(Qs, Ks)),
                                 ("causal mask", weights(Qs, Ks, Mc))]):
    data = nt.positional(w, ("seq", "query")).cpu().numpy()
    assert np.allclose(data.sum(axis=0), 1.0)
    im = ax.imshow(data, cmap="viridis", vmin=0, vmax=1)
    for (i, j), val in np.ndenumerate(data):
        ax.text(j, i, f"{val:.1f}", ha="center", va="center", fontsize=10,
                color="white" if val < 0.6 else "black")
        ax.set_title(f"weights, {title}")
    ax.set_xlabel("query (j)")
    ax.set_ylabel("seq: key (i)")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()

# %% [markdown]
# ## Convolution
#
# A convolution slides a kernel along a sequence and takes an inner product at every
# offset. In named notation the sliding is a separate, linear operation: **unroll**
# turns the sequence into a tensor of windows, with a new axis $\kernel$ for the
# position inside a window,
#
# <!-- ntn: identity; X[seq,batch]; Y=nt.unroll(V["X"], 3); i=2; j=3 -->
# $$
# \operatorname{unroll}_{\seq,\kernel} \colon \reals^{\seq[n]} \to \reals^{\seq[n - |\kernel| + 1] \times \kernel},
# \qquad Y_{\seq(i), \kernel(j)} = X_{\seq(i + j - 1)} ,
# $$
#
# with positions from 1; from 0, $Y_{\seq(i),\kernel(j)} = X_{\seq(i+j)}$. `ntlib`
# builds it as a strided view of the input (PyTorch's `unfold`), so no window is
# copied:

# %%
nt.source(nt.unroll)

# %%
seq = nt.tensor(torch.arange(10, 17, dtype=f64), "seq")
U = nt.unroll(seq, 3)
print(nt.show(seq, ("seq",)))
print(nt.show(U, ("seq", "kernel")))
assert U.data.data_ptr() == seq.data.data_ptr() and U.data.stride() == (1, 1)
print("a view of the same storage, strides", tuple(U.data.stride()))

# %% [markdown]
# Each row of the unrolled tensor is one window. Drawn over the sequence (the numbers
# in the boxes are the values of `U`, read off the tensor):

# %% tags=["hide-input"]
def draw_windows(ax, X, W, outer, inner, title):
    """Draw X as a row of boxes, and each slice of W along `outer` under it.

    The values of X are distinct, so each entry of W is placed where its
    value sits in X.
    """
    vals = nt.positional(W, (outer, inner)).cpu().numpy()
    base = nt.positional(X, ("seq",)).cpu().numpy()
    n = len(base)
    for row, window in enumerate(vals):
        for v in window:
            # where this value sits in the sequence
            p = int(np.flatnonzero(base == v)[0])
            ax.add_patch(
                plt.Rectangle(
                    (p, -row - 1),
                    1,
                    0.8,
                    color=plt.cm.tab10(row % 10),
                    alpha=0.7,
                )
            )
            ax.text(
                p + 0.5,
                -row - 0.6,
                f"{v:.0f}",
                ha="center",
                va="center",
                fontsize=10,
            )
    for p, v in enumerate(base):
        ax.add_patch(plt.Rectangle((p, 0.2), 1, 0.8, fill=False))
        ax.text(p + 0.5, 0.6, f"{v:.0f}", ha="center", va="center",
                fontsize=10)
    ax.set_xlim(0, n)
    ax.set_ylim(-len(vals) - 0.2, 1.2)
    ax.set_yticks([0.6] + [-k - 0.6 for k in range(len(vals))])
    ax.set_yticklabels(["X"] + [f"{outer}({k})" for k in range(len(vals))])
    ax.set_xticks(np.arange(n) + 0.5)
    ax.set_xticklabels(range(n))
    ax.set_xlabel("position in the input sequence")
    ax.set_title(title)


fig, ax = plt.subplots(figsize=(6, 3))
draw_windows(
    ax, seq, U, "seq", "kernel", "unroll(X, 3): windows overlap, stride 1"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# A one-dimensional convolution with input channels $\chans$ and output channels
# $\chans'$ contracts the unrolled input with the kernel weights over the channel and
# window axes:
#
# <!-- ntn: definition; ~(X; W, b)=(X, W, b); unroll=lambda X, seq, kernel: nt.unroll(X, size[kernel], seq=seq, kernel=kernel); Conv1d=nt.conv1d; X[chans,seq,batch]; W[chans',chans,kernel]; b[chans']; @kernel=3 -->
# $$
# \operatorname{Conv1d}(X; W, b) = W \ndot{\chans \\ \kernel} \operatorname{unroll}_{\seq,\kernel} X + b,
# $$
#
# with $X \in \reals^{\chans \times \seq[n]}$,
# $W \in \reals^{\chans' \times \chans \times \kernel}$ and $b \in \reals^{\chans'}$.
# The result lies in $\reals^{\chans' \times \seq[n-|\kernel|+1]}$; a network renames
# $\chans'$ back to $\chans$ before the next layer. The output axis can have any name
# (here the paper's `"chans'"`); the kernel size is read off $W$.

# %%
nt.source(nt.conv1d)

# %%
X1 = r(40, batch=2, chans=3, seq=9)
W1, b1 = (
    r(41, **{"chans'": 4, "chans": 3, "kernel": 3}),
    r(42, **{"chans'": 4}),
)
C1 = nt.conv1d(X1, W1, b1)
print(nt.shape(C1))
print(nt.show(nt.index(C1, "batch", 0), ("chans'", "seq")))
same(
    C1,
    ("batch", "chans'", "seq"),
    F.conv1d(
        nt.positional(X1, ("batch", "chans", "seq")),
        nt.positional(W1, ("chans'", "chans", "kernel")),
        nt.positional(b1, "chans'"),
    ),
)
print("conv1d agrees with F.conv1d")

# %% [markdown]
# Two-dimensional convolution unrolls both spatial axes, $\height$ with kernel axis
# $\kh$ and $\width$ with $\kw$, and contracts over all three:
#
# <!-- ntn: definition; ~(X; W, b)=(X, W, b); unroll=lambda X, seq, kernel: nt.unroll(X, size[kernel], seq=seq, kernel=kernel); Conv2d=nt.conv2d; X[chans,height,width,batch]; W[chans',chans,kh,kw]; b[chans'] -->
# $$
# \operatorname{Conv2d}(X; W, b) = W \ndot{\chans \\ \kh \\ \kw}
# \operatorname{unroll}_{\height,\kh} \operatorname{unroll}_{\width,\kw} X + b,
# $$
#
# with $W \in \reals^{\chans' \times \chans \times \kh \times \kw}$ and
# $b \in \reals^{\chans'}$.

# %%
nt.source(nt.conv2d)

# %%
X2 = r(43, batch=2, chans=3, height=7, width=6)
W2, b2 = (
    r(44, **{"chans'": 5, "chans": 3, "kh": 3, "kw": 2}),
    r(45, **{"chans'": 5}),
)
C2 = nt.conv2d(X2, W2, b2)
print(nt.shape(C2))
print("batch 0, output channel 0:")
print(
    nt.show(
        nt.index(nt.index(C2, "batch", 0), "chans'", 0), ("height", "width")
    )
)
same(
    C2,
    ("batch", "chans'", "height", "width"),
    F.conv2d(
        nt.positional(X2, ("batch", "chans", "height", "width")),
        nt.positional(W2, ("chans'", "chans", "kh", "kw")),
        nt.positional(b2, "chans'"),
    ),
)
print("conv2d agrees with F.conv2d")

# %% [markdown]
# ## Pooling
#
# Pooling cuts a sequence into consecutive, non-overlapping blocks of $|\kernel|$
# positions and summarizes each block. The cutting is a reshape:
#
# <!-- ntn: identity; X[seq,batch]; Y=nt.pool(V["X"], 2); i=2; j=2; @seq=6 -->
# $$
# \operatorname{pool}_{\seq,\kernel} \colon \reals^{\seq[n]} \to \reals^{\seq[n/|\kernel|] \times \kernel},
# \qquad Y_{\seq(i), \kernel(j)} = X_{\seq((i-1)|\kernel| + j)} ,
# $$
#
# from 1; from 0, $Y_{\seq(i),\kernel(j)} = X_{\seq(i|\kernel| + j)}$. The length $n$
# must be a multiple of $|\kernel|$; otherwise `ntlib` raises an `AxisError` that
# names the axis.

# %%
nt.source(nt.pool)

# %%
seq6 = nt.tensor(torch.arange(10, 16, dtype=f64), "seq")
P = nt.pool(seq6, 2)
print(nt.show(P, ("seq", "kernel")))
try:
    nt.pool(seq, 2)
except nt.AxisError as e:
    print("AxisError:", e)

# %%
fig, ax = plt.subplots(figsize=(6, 2.6))
draw_windows(ax, seq6, P, "seq", "kernel", "pool(X, 2): blocks do not overlap")
fig.tight_layout()
plt.show()

# %% [markdown]
# Max pooling takes the maximum over $\kernel$; in two dimensions both spatial axes
# are pooled and the maximum is over both kernel axes:
#
# <!-- ntn: definition; ~\operatorname{MaxPool1d}_{k}=\mathrm{MaxPool1d}; ~\operatorname{MaxPool2d}_{kh,kw}=\mathrm{MaxPool2d}; pool=lambda X, seq, kernel: nt.pool(X, size[kernel], seq=seq, kernel=kernel); MaxPool1d=lambda X: nt.max_pool1d(X, 3); MaxPool2d=lambda X: nt.max_pool2d(X, 2, 2); X[seq,height,width]; @seq=6,height=4,width=4 -->
# $$
# \begin{aligned}
# \operatorname{MaxPool1d}_{k}(X) &= \nfun{\kernel}{max} \operatorname{pool}_{\seq,\kernel} X, \\
# \operatorname{MaxPool2d}_{kh,kw}(X) &= \nfun{\kh \\ \kw}{max}
# \operatorname{pool}_{\height,\kh} \operatorname{pool}_{\width,\kw} X,
# \end{aligned}
# $$
#
# with $|\kernel| = k$, $|\kh| = kh$, $|\kw| = kw$.

# %%
nt.source(nt.max_pool1d, nt.max_pool2d)

# %%
Xp = r(50, batch=2, chans=3, height=6, width=9)
MP = nt.max_pool2d(Xp, 2, 3)
print(nt.shape(MP))
print("batch 0, channel 0, before and after pooling:")
print(
    nt.show(
        nt.index(nt.index(Xp, "batch", 0), "chans", 0),
        ("height", "width"),
        decimals=2,
    )
)
print(
    nt.show(
        nt.index(nt.index(MP, "batch", 0), "chans", 0),
        ("height", "width"),
        decimals=2,
    )
)
same(
    MP,
    ("batch", "chans", "height", "width"),
    F.max_pool2d(
        nt.positional(Xp, ("batch", "chans", "height", "width")), (2, 3)
    ),
)
Xq = r(51, batch=2, chans=3, seq=12)
same(
    nt.max_pool1d(Xq, 4),
    ("batch", "chans", "seq"),
    F.max_pool1d(nt.positional(Xq, ("batch", "chans", "seq")), 4),
)
print("max_pool2d and max_pool1d agree with F.max_pool2d and F.max_pool1d")

# %% [markdown]
# ## Normalization
#
# The paper starts §4.6 from a complaint. Normalization layers appear in every
# large model, and different architectures need different ones, yet how they
# differ is seldom said clearly: the PyTorch documentation {cite}`pytorchdoc`
# describes every one of them with one and the same equation,
#
# $$
# Y = \frac{X - \operatorname{mean}(X)}{\sqrt{\operatorname{var}(X) + \epsilon}}
#   \odot \gamma + \beta,
# $$
#
# which does not say over what the mean and variance are taken, nor what shape
# $\gamma$ and $\beta$ have. {cite:t}`wu+he:2018` write essentially the same
# equation and convey the differences with words, formulas and pictures, but
# not the differences in $\gamma$ and $\beta$. With names, both become part of
# the formula.
#
# Normalization layers subtract a mean and divide by a standard deviation, computed
# over some set of axes. The shared step is
#
# <!-- ntn: definition; standardize=lambda X, *axes: nt.standardize(X, axes); X[ax,batch]; \epsilon=1e-5 -->
# $$
# \operatorname{standardize}_{\ax}(X) = \frac{X - \nfun{\ax}{mean} X}{\sqrt{\nfun{\ax}{var} X + \epsilon}},
# $$
#
# where $\ax$ may be several axes, $\operatorname{var}$ is the population variance
# (§3.3), and $\epsilon$ (here $10^{-5}$ unless given) keeps the denominator away from
# zero. The layers differ only in the axes they standardize over and in the shape of
# the learned scale $\gamma$ and shift $\beta$. For $X \in \reals^{\batch \times
# \chans \times \layer}$:
#
# <!-- ntn: definition; ~(X; \gamma, \beta)=(X, \gamma, \beta); standardize=lambda X, *axes: nt.standardize(X, axes); BatchNorm=nt.batch_norm; InstanceNorm=nt.instance_norm; LayerNorm=nt.layer_norm; X[batch,chans,layer]; \gamma[chans]; \beta[chans] -->
# $$
# \begin{aligned}
# \operatorname{BatchNorm}(X; \gamma, \beta) &= \operatorname{standardize}_{\batch,\layer}(X) \odot \gamma + \beta, & \gamma, \beta &\in \reals^{\chans},\\
# \operatorname{InstanceNorm}(X; \gamma, \beta) &= \operatorname{standardize}_{\layer}(X) \odot \gamma + \beta, & \gamma, \beta &\in \reals^{\chans},\\
# \operatorname{LayerNorm}(X; \gamma, \beta) &= \operatorname{standardize}_{\layer,\chans}(X) \odot \gamma + \beta, & \gamma, \beta &\in \reals^{\chans \times \layer}.
# \end{aligned}
# $$
#
# (These three are TMLR §4.6, unnumbered display: BatchNorm
# {cite}`ioffe+szegedy:2015`, InstanceNorm {cite}`ulyanov+:2016` and LayerNorm
# {cite}`ba+:2016`.) GroupNorm {cite}`wu+he:2018`, from the first version
# of the paper {cite}`chiang+:2021` (§3.1.6, "Normalization layers"), splits the channels into groups of
# $k$ consecutive channels with $\operatorname{pool}$, standardizes each group
# together with $\layer$, and flattens the channels back:
#
# <!-- ntn: definition; ~\operatorname{GroupNorm}_k(X; \gamma, \beta)=\mathrm{GroupNorm}(X, \gamma, \beta); pool=lambda X, seq, kernel: nt.pool(X, size[kernel], seq=seq, kernel=kernel); standardize=lambda X, *axes: nt.standardize(X, axes); GroupNorm=lambda X, g, b: nt.group_norm(X, g, b, 2); X[batch,chans,layer]; \gamma[chans]; \beta[chans]; @chans=4,kernel=2 -->
# $$
# \operatorname{GroupNorm}_k(X; \gamma, \beta) =
# \left[\operatorname{standardize}_{\kernel,\layer} \operatorname{pool}_{\chans,\kernel} X\right]_{(\chans,\kernel) \to \chans}
# \odot \gamma + \beta,
# $$
#
# with $|\kernel| = k$ and $\gamma, \beta \in \reals^{\chans}$. The flattening order matters: $(\chans, \kernel) \to \chans$ must put channel $j$ of
# group $g$ back at position $gk + j$ (from 0), which is the row-major order that
# `nt.flatten` uses (§3.6) and the inverse of how `pool` cut the axis.

# %%
nt.source(
    nt.standardize,
    nt.batch_norm,
    nt.instance_norm,
    nt.layer_norm,
    nt.group_norm,
)

# %% [markdown]
# Each is checked against PyTorch's functional form with the same $\epsilon$
# (`F.batch_norm` in training mode, which uses the batch's statistics):

# %%
eps = 1e-5
XN = r(60, batch=4, chans=6, layer=5) * 2 + 1
xn = nt.positional(XN, ("batch", "chans", "layer"))
g_c, b_c = r(61, chans=6), r(62, chans=6)
g_cl, b_cl = r(63, chans=6, layer=5), r(64, chans=6, layer=5)
gc, bc = nt.positional(g_c, "chans"), nt.positional(b_c, "chans")
order = ("batch", "chans", "layer")

same(
    nt.batch_norm(XN, g_c, b_c, eps=eps),
    order,
    F.batch_norm(xn, None, None, gc, bc, training=True, eps=eps),
)
same(
    nt.instance_norm(XN, g_c, b_c, eps=eps),
    order,
    F.instance_norm(xn, weight=gc, bias=bc, eps=eps),
)
same(
    nt.layer_norm(XN, g_cl, b_cl, eps=eps),
    order,
    F.layer_norm(
        xn,
        (6, 5),
        nt.positional(g_cl, ("chans", "layer")),
        nt.positional(b_cl, ("chans", "layer")),
        eps=eps,
    ),
)
same(
    nt.group_norm(XN, g_c, b_c, 3, eps=eps),
    order,
    F.group_norm(xn, 2, gc, bc, eps=eps),
)
print("batch_norm, instance_norm, layer_norm, group_norm agree with")
print("F.batch_norm, F.instance_norm, F.layer_norm, F.group_norm")
print("group_norm with k = 3, batch 0:")
print(
    nt.show(
        nt.index(nt.group_norm(XN, g_c, b_c, 3, eps=eps), "batch", 0),
        ("chans", "layer"),
    )
)

# %% [markdown]
# The Transformer of Appendix A standardizes over $\layer$ alone, with
# $\gamma, \beta \in \reals^{\layer}$; `nt.layer_norm(..., chans=None)` does that.
# Checked against `F.layer_norm` over the last dimension:

# %%
XT = r(65, batch=2, seq=3, layer=8)
gl, bl = r(66, layer=8), r(67, layer=8)
same(nt.layer_norm(XT, gl, bl, chans=None), ("batch", "seq", "layer"),
     F.layer_norm(nt.positional(XT, ("batch", "seq", "layer")), (8,),
                  nt.positional(gl, "layer"), nt.positional(bl, "layer")))
print("layer_norm over layer alone agrees with F.layer_norm(x, (|layer|,))")

# %% [markdown]
# Which entries are standardized together? The picture below does not draw the axis
# sets from the formulas: it computes them from the functions. Two entries of $X$ are
# in the same group exactly when the output at one depends on the input at the other,
# so the groups are read off the nonzero pattern of the Jacobian of each layer (with
# $\gamma = 1$, $\beta = 0$) at a random $X \in \reals^{\batch[3] \times \chans[4]
# \times \layer[3]}$. Rows are $\batch$; the columns are the pairs $(\chans, \layer)$,
# one block of $\layer$ per channel; one colour per group. (The code is behind the
# toggle; it uses only the layers above and `torch.autograd`.)

# %% tags=["hide-input"]
sizes = dict(batch=3, chans=4, layer=3)
order = ("batch", "chans", "layer")
X0 = r(70, **sizes)
ones = {
    "c": nt.tensor(torch.ones(4, dtype=f64), "chans"),
    "cl": nt.tensor(torch.ones(4, 3, dtype=f64), ("chans", "layer")),
}
zero_c, zero_cl = 0 * ones["c"], 0 * ones["cl"]
layers = {
    "BatchNorm: batch, layer": lambda X: nt.batch_norm(X, ones["c"], zero_c),
    "InstanceNorm: layer": lambda X: nt.instance_norm(X, ones["c"], zero_c),
    "LayerNorm: chans, layer": lambda X: nt.layer_norm(X, ones["cl"], zero_cl),
    "GroupNorm (k=2): kernel, layer": lambda X: nt.group_norm(
        X, ones["c"], zero_c, 2
    ),
}


def groups(layer):
    """Group label of every entry, from the Jacobian's nonzero pattern."""

    def f(flat):
        Xn = nt.tensor(flat.reshape(3, 4, 3), order)
        return nt.positional(layer(Xn), order).reshape(-1)

    J = torch.autograd.functional.jacobian(
        f, nt.positional(X0, order).reshape(-1)
    )
    linked = J.abs() > 1e-12
    # the first entry that each entry is linked to
    label = linked.to(torch.int64).argmax(dim=1)
    return label.reshape(3, 4 * 3).numpy()


fig, axes = plt.subplots(2, 2, figsize=(8, 5.6))
counts = {}
for ax, (title, layer) in zip(axes.flat, layers.items()):
    lab = groups(layer)
    _, ids = np.unique(lab, return_inverse=True)
    ids = ids.reshape(lab.shape)
    counts[title.split(":")[0]] = int(ids.max()) + 1
    ax.imshow(ids, cmap="tab20", vmin=0, vmax=19, aspect="auto")
    for c in range(1, 4):
        ax.axvline(3 * c - 0.5, color="black", lw=1.5)
    ax.set_title(f"{title}\n{ids.max() + 1} groups", fontsize=11)
    ax.set_yticks(range(3))
    ax.set_ylabel("batch")
    ax.set_xticks([1, 4, 7, 10])
    ax.set_xticklabels([f"chans({c})" for c in range(4)], fontsize=10)
    ax.set_xlabel("layer, within each channel")
fig.tight_layout()
plt.show()
# the counts the text below reads off the figure, from the formulas' axes:
# one group per chans (4), per (batch, chans) (12), per batch (3), per
# (batch, pair of channels) (6)
assert counts == {"BatchNorm": 4, "InstanceNorm": 3 * 4, "LayerNorm": 3,
                  "GroupNorm (k=2)": 3 * 2}, counts

# %% [markdown]
# BatchNorm has one group per channel (across the whole batch), InstanceNorm one per
# example and channel, LayerNorm one per example, and GroupNorm one per example and
# pair of channels: 4, 12, 3 and 6 groups for these sizes, which the cell above
# asserts.
#
# ## Formulas and fused kernels
#
# Each block above is written as its formula. PyTorch also has a hand-optimized kernel
# for most of them (`F.linear`, `F.scaled_dot_product_attention`, `F.conv1d`,
# `F.conv2d`, `F.max_pool1d`, `F.max_pool2d`, `F.batch_norm`, `F.instance_norm`,
# `F.layer_norm`, `F.group_norm`), which avoids, for instance, the materialized
# windows of `unroll` in a convolution or the full score matrix in attention. `ntlib`
# keeps both: the decorator `nt.fused_by` pairs the formula with a function that
# lays the named arguments out in an explicit axis order, calls the kernel, and names
# the result. The kernel runs by default; inside `with nt.plain():` the formula runs,
# and so do the formulas of the blocks it calls, such as the softmax inside
# attention. (`nt.plain(nested=False)` runs only the formula of the block called,
# the blocks inside it as by default; `nt.plain(nt.attention, nt.softmax)` exactly
# the blocks named.)
# If the arguments carry axes the kernel cannot express (a weight lifted over an
# extra axis, say), the fused function declines and the formula runs anyway.
#
# From the two decorator lines, `ntlib` writes one wrapper per block, once, when the
# module is imported: it converts and checks the arguments as declared, then calls
# the kernel or the formula. For attention it reads:

# %%
nt.source(nt.attention, generated=True)

# %% [markdown]
# The fused half of attention, for example. It sorts the axes into those of the
# queries only, those of the values only, and the rest (batch-like axes such as
# $\batch$ and $\heads$), and flattens each group into the dimension PyTorch expects:

# %%
nt.source(nt.attention.fused)

# %% [markdown]
# The check cells beside each block above run the default path, which hands the work
# to the same PyTorch kernel they compare with: they check the naming and the axis
# layout, not the formula. The formula is checked here. Every block of the chapter
# runs inside `with nt.plain():` and is compared with an independent positional
# computation (PyTorch's functional kernels, or attention written out with `@` and
# `torch.softmax`); then the default path is compared with the formula:

# %%
def pos(t, order):
    return nt.positional(t, order)


def feedforward_ref():
    h = pos(X, ("batch", "layer"))
    for W_l, b_l in params:
        h = torch.sigmoid(h @ pos(W_l, ("out", "layer")).T + pos(b_l, "out"))
    return h


def attention_ref(Q, K, V, M=None, lead=("batch", "heads")):
    q = pos(Q, lead + ("query", "key"))
    k, v = pos(K, lead + ("seq", "key")), pos(V, lead + ("seq", "val"))
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if M is not None:
        s = s + pos(M, ("query", "seq"))
    return torch.softmax(s, dim=-1) @ v


bcs, bcl = ("batch", "chans", "seq"), ("batch", "chans", "layer")
bchw = ("batch", "chans", "height", "width")
bchw_out = ("batch", "chans'", "height", "width")
g_cl_t, b_cl_t = pos(g_cl, ("chans", "layer")), pos(b_cl, ("chans", "layer"))
cases = {  # name: (named computation, axis order, independent reference)
    "full_conn": (lambda: nt.feedforward(X, params), ("batch", "layer"),
                  feedforward_ref()),
    "rnn": (lambda: nt.rnn(xs, h0, Wh, Wi, bh), ("time", "hidden"),
            torch.stack(states)),
    "attention": (lambda: nt.attention(Q, K, V),
                  ("batch", "heads", "query", "val"), attention_ref(Q, K, V)),
    "causal attention": (lambda: nt.attention(Qs, Ks, Vs, Mc),
                         ("query", "val"),
                         attention_ref(Qs, Ks, Vs, Mc, lead=())),
    "conv1d": (lambda: nt.conv1d(X1, W1, b1), ("batch", "chans'", "seq"),
               F.conv1d(pos(X1, bcs), pos(W1, ("chans'", "chans", "kernel")),
                        pos(b1, "chans'"))),
    "conv2d": (lambda: nt.conv2d(X2, W2, b2), bchw_out,
               F.conv2d(pos(X2, bchw),
                        pos(W2, ("chans'", "chans", "kh", "kw")),
                        pos(b2, "chans'"))),
    "max_pool1d": (lambda: nt.max_pool1d(Xq, 4), bcs,
                   F.max_pool1d(pos(Xq, bcs), 4)),
    "max_pool2d": (lambda: nt.max_pool2d(Xp, 2, 3), bchw,
                   F.max_pool2d(pos(Xp, bchw), (2, 3))),
    "batch_norm": (lambda: nt.batch_norm(XN, g_c, b_c), bcl,
                   F.batch_norm(xn, None, None, gc, bc, training=True)),
    "instance_norm": (lambda: nt.instance_norm(XN, g_c, b_c), bcl,
                      F.instance_norm(xn, weight=gc, bias=bc)),
    "layer_norm": (lambda: nt.layer_norm(XN, g_cl, b_cl), bcl,
                   F.layer_norm(xn, (6, 5), g_cl_t, b_cl_t)),
    "layer_norm over layer": (
        lambda: nt.layer_norm(XT, gl, bl, chans=None),
        ("batch", "seq", "layer"),
        F.layer_norm(pos(XT, ("batch", "seq", "layer")), (8,),
                     pos(gl, "layer"), pos(bl, "layer"))),
    "group_norm": (lambda: nt.group_norm(XN, g_c, b_c, 3), bcl,
                   F.group_norm(xn, 2, gc, bc)),
}
for name, (run, axes_order, expected) in cases.items():
    with nt.plain():
        plain = run()
    same(plain, axes_order, expected, tol=1e-10)
    same(run(), axes_order, pos(plain, axes_order), tol=1e-10)
print("formula (nt.plain) == PyTorch, and default path == formula, for:")
for k in range(0, len(cases), 5):
    print("  " + ", ".join(list(cases)[k:k + 5]))

# %% [markdown]
# The two paths must also agree where the formula meets an edge. If the mask hides
# every key from a query, that query's softmax is $0/0$: the formula has no value
# there, and both paths give NaN for it (PyTorch's fused attention kernel returns 0,
# which would hide the mistake). Over an empty $\seq$ axis nothing is divided: the
# softmax has no entries, and its contraction with $V$ is an empty sum, 0, on both
# paths. A softmax over an empty axis is likewise an empty tensor.

# %%
Qe, Ke = nt.randn(seed=1, query=2, key=3), nt.randn(seed=2, seq=4, key=3)
Ve = nt.randn(seed=3, seq=4, val=2)
hidden = torch.zeros(2, 4, dtype=torch.float64)
hidden[0] = -math.inf                                # query 0 sees no key
Mh = nt.tensor(hidden, ("query", "seq"))
no_keys = (nt.randn(seed=2, seq=0, key=3), nt.randn(seed=3, seq=0, val=2))


def edges():
    y = nt.positional(nt.attention(Qe, Ke, Ve, Mh), ("query", "val"))
    y0 = nt.positional(nt.attention(Qe, *no_keys), ("query", "val"))
    s0 = nt.softmax(nt.randn(seed=4, seq=0, batch=2), "seq")
    return (bool(y[0].isnan().all()), bool(y[1].isfinite().all()),
            bool((y0 == 0).all()), nt.shape(s0))


with nt.plain():
    plain_edges = edges()
assert edges() == plain_edges
print("(query 0 NaN, query 1 finite, no keys give 0, softmax over seq[0]):")
print("  default:", edges())
print("  plain:  ", plain_edges)

# %% [markdown]
# The tests (`tests/test_nn.py`) check both paths against PyTorch on more shapes, with
# permuted storage orders, and compare gradients. The timings of both paths against
# positional PyTorch are in the performance appendix.

# %% [markdown]
# ### The code, printed back as the formula
#
# The formula of a block can also be read off its code. `nt.notation.latex(fn,
# *args)` runs `fn` once on the arguments, inside `nt.plain()`, while every `ntlib`
# operation records what it computes; it then prints the result in the paper's
# notation, with the variables named after `fn`'s parameters (`gamma` is
# $\gamma$). For attention it prints the formula of this chapter's attention
# section; for layer normalization, standardization written out ($\epsilon =
# 10^{-5}$ appears as a number). Each printed formula is then parsed and
# evaluated (`nt.notation.evaluate`, Appendix C) on the same tensors, and must
# give the block's value back:

# %%
from IPython.display import Math, display

blocks = {
    r"\text{Attention}(Q, K, V)": (nt.attention, (Q, K, V)),
    r"\text{LayerNorm}(X; \gamma, \beta)": (nt.layer_norm, (XN, g_cl, b_cl)),
}
checks = []
for lhs, (block, args) in blocks.items():
    formula = nt.notation.latex(block, *args)
    display(Math(f"{lhs} = {formula}"))
    _, bindings = nt.notation.trace(block, *args)
    back = nt.notation.evaluate(formula, bindings)
    with nt.plain():
        value = block(*args)
    gap = (back - value).abs().max().item()
    checks.append(f"{block.__name__}: evaluated back, "
                  f"max |formula - code| < 1e-12: {gap < 1e-12}")
print("\n".join(checks))

# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise 4.1: a fully connected layer with tanh
#
# Write the layer
#
# <!-- ntn: definition; FullConn=lambda x: nt.exercises.solution("4.1")(x, V["W"], V["b"]); x[layer,batch]; W[layer',layer]; b[layer'] -->
# $$
# \operatorname{FullConn}(x) = \tanh\left(W \ndot{\layer} x + b\right)_{\layer' \to \layer},
# \qquad W \in \reals^{\layer' \times \layer},\; b \in \reals^{\layer'}:
# $$
#
# the chapter's layer with $\tanh$ in place of $\sigma$ (the primed axis is
# spelled `"layer'"`).

# %%
def answer(x, W, b, *, layer="layer"):
    ...  # your code here


nt.exercises.report("4.1", answer)

# %% tags=["hide-cell"]
def answer(x, W, b, *, layer="layer"):
    y = nt.tanh(nt.contract(W, x, over=layer) + b)  # over layer'
    return nt.rename(y, {layer + "'": layer})


assert nt.exercises.check("4.1", answer)

# %% [markdown]
# ### Exercise 4.2: attention with a sliding-window mask
#
# Queries along $\seq'$, keys and values along $\seq$, both of length $n$. In
# *local* attention, the query at position $j$ sees only the $w$ most recent keys,
# itself included:
#
# <!-- ntn: definition; @seq=6,seq'=6; Q[seq',key]; K[seq,key]; V[seq,val]; w=3; Attention=nt.attention; expect=nt.exercises.solution("4.2")(V["Q"], V["K"], V["V"], 3) -->
# $$
# M_{\seq(i), \seq'(j)} = \begin{cases} 0 & j - w < i \le j, \\
#   -\infty & \text{otherwise,} \end{cases}
# \qquad
# \operatorname{Attention}(Q, K, V, M).
# $$
#
# Build the mask $M \in \reals^{\seq \times \seq'}$ and return the masked
# attention. With $w \ge n$ this is the causal attention of this chapter.

# %%
def answer(Q, K, V, w, *, seq="seq", query="seq'"):
    ...  # your code here


nt.exercises.report("4.2", answer)

# %% tags=["hide-cell"]
def answer(Q, K, V, w, *, seq="seq", query="seq'"):
    n = nt.shape(K)[seq]
    i = torch.arange(n).reshape(n, 1)  # key positions, rows
    j = torch.arange(n).reshape(1, n)  # query positions, columns
    allowed = (j - w < i) & (i <= j)
    M = torch.zeros(n, n, dtype=torch.float64)
    M = M.masked_fill(~allowed, -math.inf)
    return nt.attention(Q, K, V, nt.tensor(M, (seq, query)), seq=seq)


assert nt.exercises.check("4.2", answer)

# %% [markdown]
# ### Exercise 4.3: average pooling in two dimensions
#
# Write $\operatorname{AvgPool2d}_{kh,kw}$, the average over each $kh \times kw$ block:
#
# <!-- ntn: definition; ~\operatorname{AvgPool2d}_{kh,kw}(X)=\mathrm{AvgPool}(X); pool=lambda X, seq, kernel: nt.pool(X, size[kernel], seq=seq, kernel=kernel); AvgPool=lambda X: nt.exercises.solution("4.3")(X, 3, 2); X[height,width,batch]; @height=6,width=4,kh=3,kw=2 -->
# $$
# \operatorname{AvgPool2d}_{kh,kw}(X) = \nfun{\kh \\ \kw}{mean}
#   \operatorname{pool}_{\height,\kh} \operatorname{pool}_{\width,\kw} X .
# $$
#
# `nt.pool` is the chapter's $\operatorname{pool}$; the sizes $kh$ and $kw$ divide the
# height and the width.

# %%
def answer(X, kh, kw, *, height="height", width="width"):
    ...  # your code here


nt.exercises.report("4.3", answer)

# %% tags=["hide-cell"]
def answer(X, kh, kw, *, height="height", width="width"):
    P = nt.pool(X, kh, seq=height, kernel="kh")
    P = nt.pool(P, kw, seq=width, kernel="kw")
    return nt.mean(P, ("kh", "kw"))


assert nt.exercises.check("4.3", answer)

# %% [markdown]
# ### Exercise 4.4: RMS normalization
#
# A lighter relative of LayerNorm divides by the root mean square over $\layer$
# and does not subtract the mean:
#
# <!-- ntn: definition; ~(X; \gamma)=(X, \gamma); RMSNorm=nt.exercises.solution("4.4"); X[layer,batch]; \gamma[layer]; \epsilon=1e-5 -->
# $$
# \operatorname{RMSNorm}(X; \gamma) =
#   \frac{X}{\sqrt{\nfun{\layer}{mean} (X \odot X) + \epsilon}} \odot \gamma,
# \qquad \gamma \in \reals^{\layer},\; \epsilon = 10^{-5}.
# $$

# %%
def answer(X, gamma, *, layer="layer", eps=1e-5):
    ...  # your code here


nt.exercises.report("4.4", answer)

# %% tags=["hide-cell"]
def answer(X, gamma, *, layer="layer", eps=1e-5):
    rms = (nt.mean(X * X, layer) + eps) ** 0.5
    return X / rms * gamma


assert nt.exercises.check("4.4", answer)

# %% [markdown]
# ### Exercise 4.5: a fully connected layer, in the notation
#
# Write, as a formula in the paper's notation, the layer that maps
# $x \in \reals^{\layer}$ to $\reals^{\out}$ with weights
# $W \in \reals^{\out \times \layer}$, a bias $b \in \reals^{\out}$ and the
# logistic sigmoid $\sigma$ (no renaming: the result keeps the axis $\out$).
# Answer with a string of LaTeX; the checker evaluates it with `ntlib.notation`
# against `torch.nn.functional.linear`, for other sizes and a batch of inputs too.

# %%
answer = ...  # your answer

nt.exercises.report("4.5", answer)

# %% tags=["hide-cell"]
answer = r"\sigma(x \ndot{\layer} W + b)"  # the contraction is symmetric

assert nt.exercises.check("4.5", answer)
