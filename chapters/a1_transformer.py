# %% [markdown]
# # Appendix A.1: the Transformer
#
# Appendix A.1 of Chiang, Rush and Barak, *Named Tensor Notation* (TMLR 2023)
# {cite}`chiang+:2023` writes a complete Transformer {cite}`vaswani+:2017`,
# decoder only, in named notation. This chapter
# builds it from the formulas, one piece at a time, checks every piece against
# positional PyTorch, then checks the whole model against an independent
# positional implementation, runs it at GPT-3's size with shapes only (on
# PyTorch's meta device), and finally trains a small instance on the CPU to
# show that the named program is not only a faithful transcription but a working
# model.
#
# We follow the paper's **latest** version. The first arXiv version (v1, 2021)
# {cite}`chiang+:2021` has the same model as its §3.2 and differs from Appendix A.1 in three places;
# the chapter runs both where the difference matters:
#
# | | v1, §3.2 | latest, Appendix A.1 |
# |---|---|---|
# | residual + norm | $\mathrm{LayerNorm}(\mathrm{SelfAtt}(X)) + X$ | $\mathrm{LayerNorm}(\mathrm{SelfAtt}(X) + X)$ |
# | FFN | ends with a second $\mathrm{relu}$ | no $\mathrm{relu}$ after the second layer |
# | normalization | $\nfun{\layer}{XNorm}(X; \beta, \gamma)$, never defined | $\nfun{\layer}{standardize}(X) \odot \gamma + \beta$ |
#
# Both versions print one misprint, corrected here: the FFN's second bias is
# printed $b^{l,2} \in \reals^{\hidden}$, but it is added to a tensor over
# $\layer$ and must range over $\layer$ too (checked in the section on the
# feedforward sublayer). Appendix A's displays carry no equation numbers, so we
# point to each by the part of A.1 it defines.
# Appendix A.2 has the other one ($\mathrm{MaxPool2d}_{ph^l,ph^l}$).
#
# Positions count from 1 in the paper and from 0 in code; the positional encoding
# and the causal mask are the two places where this shows, and both are given in
# the paper's form and checked against a 0-based one.

# %%
import functools
import logging
import math
import sys
import time

# no font-cache notice on stderr
logging.getLogger("matplotlib").setLevel(logging.ERROR)
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from tqdm import tqdm

import ntlib as nt

f64 = torch.float64


# the chapter's check: ntlib.testing.same, to 1e-10 unless told
same = functools.partial(nt.testing.same, tol=1e-10)

# %% [markdown]
# ## Parameters
#
# A model's parameters are a dictionary of named tensors.
# `nt.models.init_transformer` draws them from a seed, with
# $|\key| = |\val| = |\layer| / |\heads|$; the keys follow the paper's
# superscripts, so `"1.WQ"` is $W^{1,Q}$. The printed shapes are the paper's
# parameter shapes (with $b^{l,2}$ corrected), read directly off the dictionary.

# %%
params = nt.models.init_transformer(
    vocab=7, layers=2, heads=2, layer=8, hidden=16, seed=0, dtype=f64
)
for k in ["E"] + [k for k in params if k.startswith("1.")]:
    print(f"{k:9s}", nt.shape(params[k]))

# %% [markdown]
# Like most training recipes, `init_transformer` starts every bias and every
# $\beta$ at 0 and every $\gamma$ at 1. A check run with those values cannot see
# a bias that was forgotten or a $\gamma$ swapped with its $\beta$: the missing
# term is zero either way. For every check in this chapter we therefore redraw
# them at random ($\gamma$ around 1):

# %%
def perturbed(params, seed):
    """A copy of `params` whose biases, γ and β are random, so that no term
    of a formula is 0 or 1."""
    out = dict(params)
    for k, (key, v) in enumerate(params.items()):
        base = key.split(".")[-1].rstrip("'")
        if base in ("b1", "b2", "gamma", "beta"):
            r = 0.5 * nt.randn(seed=seed + k, dtype=f64, **nt.shape(v))
            out[key] = r + 1 if base == "gamma" else r
    return out


params = perturbed(params, seed=1000)
nt.show(params["1.b2"], ("layer",))

# %% [markdown]
# ## Input: embedding and positions
#
# <!-- ntn: condition; I=onehot("vocab", "seq"); at=2 -->
# The input is a sequence of tokens, one-hot over the vocabulary,
# $I \in \{0,1\}^{\seq \times \vocab}$ with $\nsum{\vocab} I = 1$. One embedding
# matrix $E \in \reals^{\vocab \times \layer}$ turns tokens into vectors,
#
# <!-- ntn: definition; E[vocab,layer]; I=onehot("vocab", "seq"); expect=N(F.embedding(P(V["I"], "seq", "vocab").argmax(-1), P(V["E"], "vocab", "layer")) * math.sqrt(size["layer"]), "seq", "layer") -->
# $$
# W = (E \ndot{\vocab} I)\sqrt{|\layer|} \in \reals^{\seq \times \layer},
# $$
#
# <!-- ntn: identity; E[vocab,layer]; J=nt.tensor([2, 6, 1, 3, 3], "seq"); I=N(F.one_hot(P(V["J"], "seq") - 1, size["vocab"]).double(), "seq", "vocab"); at=4 -->
# and the same $E$ will turn the last layer's vectors back into scores over the
# vocabulary. Contracting with a one-hot vector picks a row: if $I$ is the one-hot
# form of token ids $J \in [|\vocab|]^{\seq}$, then
# $E \ndot{\vocab} I = \nfun{\vocab}{index}(E, J)$, the indexing function of
# §3.7. `nt.models.embed` accepts either form.

# %%
nt.source(nt.models.embed, nt.models.one_hot)

# %% [markdown]
# Both forms, and the scale $\sqrt{|\layer|} = \sqrt 8$, checked against
# PyTorch's positional embedding lookup `F.embedding` (which does not scale):

# %%
tokens = nt.tensor([[3, 1, 4, 1, 5], [2, 6, 5, 3, 5]], ("batch", "seq"))
I = nt.models.one_hot(tokens, size=7)
print(nt.shape(I))
d = nt.shape(params["E"])["layer"]
lookup = F.embedding(
    nt.positional(tokens, ("batch", "seq")).cpu(),
    nt.positional(params["E"], ("vocab", "layer")).cpu(),
)
order = ("batch", "seq", "layer")
for form in (I, tokens):      # one-hot, then token ids
    same(nt.models.embed(form, params["E"]), order, lookup * math.sqrt(d))
W_named = nt.positional(nt.models.embed(tokens, params["E"]), order).cpu()
assert not torch.allclose(W_named, lookup)     # so a missing √8 would show
print("W = F.embedding(J, E) · √|layer|, from one-hot I and from ids J:",
      True)

# %% [markdown]
# Attention itself treats the positions as a set. Order enters in two places: the
# causal mask (below), which lets each position attend only to itself and earlier
# positions,
# and a fixed positional encoding $P \in \reals^{\seq \times \layer}$, added to
# $W$: $X^0 = W + P$, which tells the model where each token is. In the paper's
# 1-based indices (A.1's first display, with the embedding),
#
# <!-- ntn: definition; P=nt.models.positional_encoding(7, 6) -->
# $$
# P_{\seq(p), \layer(i)} =
# \begin{cases}
# \sin\bigl((p-1) / 10000^{(i-1)/|\layer|}\bigr) & i \text{ odd,} \\
# \cos\bigl((p-1) / 10000^{(i-2)/|\layer|}\bigr) & i \text{ even.}
# \end{cases}
# $$
#
# The implementation uses the same $p$ and $i$, starting at 1, and stores entry
# $(p, i)$ at 0-based position $(p-1, i-1)$:

# %%
nt.source(nt.models.positional_encoding)

# %% [markdown]
# Shifting to 0-based $p' = p-1$, $i' = i-1$ gives the usual form: even $i'$ carries
# $\sin(p'/10000^{i'/|\layer|})$ and the next, odd $i'$ the cosine with the same
# frequency. We check that, and print $P$ for $|\seq| = 4$, $|\layer| = 6$:

# %%
P = nt.models.positional_encoding(4, 6)
pe = torch.zeros(4, 6, dtype=f64)
pos = torch.arange(4, dtype=f64).unsqueeze(1)
freq = 10000 ** (torch.arange(0, 6, 2, dtype=f64) / 6)
pe[:, 0::2], pe[:, 1::2] = torch.sin(pos / freq), torch.cos(pos / freq)
same(P, ("seq", "layer"), pe)
nt.show(P, ("seq", "layer"))

# %% [markdown]
# ## Self-attention with heads
#
# Each layer $l$ starts with self-attention. Queries, keys and values are
# projections of the same $X \in \reals^{\seq \times \layer}$; the queries' positions
# are renamed to $\seq'$ so that they can be told apart from the keys':
#
# <!-- ntn: definition; Attention=nt.attention; X[seq,layer]; W^{l,Q}[heads,layer,key]; W^{l,K}[heads,layer,key]; W^{l,V}[heads,layer,val]; W^{l,O}[heads,val,layer]; M=nt.causal_mask(5, query="seq'"); expect=nt.models.self_attention(V["X"], V["W^{l,Q}"], V["W^{l,K}"], V["W^{l,V}"], V["W^{l,O}"], V["M"]) -->
# $$
# \begin{aligned}
# Q &= W^{l,Q} \ndot{\layer} X_{\seq \rightarrow \seq'}, & W^{l,Q} &\in \reals^{\heads \times \layer \times \key}, \\
# K &= W^{l,K} \ndot{\layer} X, & W^{l,K} &\in \reals^{\heads \times \layer \times \key}, \\
# V &= W^{l,V} \ndot{\layer} X, & W^{l,V} &\in \reals^{\heads \times \layer \times \val}, \\
# Y &= W^{l,O} \ndot{\heads \\ \val} \mathrm{Attention}(Q, K, V, M)_{\seq' \rightarrow \seq}, & W^{l,O} &\in \reals^{\heads \times \val \times \layer},
# \end{aligned}
# $$
#
# <!-- ntn: definition; Attention=nt.attention; Q[seq',key]; K[seq,key]; V[seq,val]; M=nt.causal_mask(5, query="seq'"); @seq'=5 -->
# with $\mathrm{Attention}(Q, K, V, M) = \bigl(\nfun{\seq}{softmax}\bigl(\frac{Q \ndot{\key} K}{\sqrt{|\key|}} + M\bigr)\bigr) \ndot{\seq} V$
# from §4.3. Nothing in these formulas mentions the heads except the last
# contraction: $\heads$ is an axis of the weights, so $Q$, $K$ and $V$ have it too,
# attention is lifted over it, and $W^{l,O}$ finally sums the heads' results away.
# In code, $\seq'$ is the keyword argument `query` (default `"seq'"`):

# %%
nt.source(nt.models.self_attention, nt.attention)

# %% [markdown]
# The mask makes the model causal: query position $j$ may look at key position $i$
# only if $i \le j$,
#
# <!-- ntn: definition; @seq=5,seq'=5; M=nt.causal_mask(5, query="seq'") -->
# $$
# M \in \reals^{\seq \times \seq'}, \qquad
# M_{\seq(i), \seq'(j)} = \begin{cases} 0 & i \le j \\ -\infty & \text{otherwise.} \end{cases}
# $$
#
# The condition $i \le j$ is the same with 0-based or 1-based positions. Rows are
# key positions, columns query positions:

# %%
M = nt.causal_mask(5, seq="seq", query="seq'")
nt.show(M, ("seq", "seq'"))

# %% [markdown]
# **Check against `torch.nn.MultiheadAttention`.** PyTorch's module stores the
# query, key and value projections as one matrix whose rows are the flattened pairs
# (head, key) and whose columns are $\layer$; its output projection has rows $\layer$
# and columns (head, val). Laying out our weights in those orders with
# `nt.positional` gives the module the same parameters:

# %%
h = 2
W = {k: params[f"1.{k}"] for k in ("WQ", "WK", "WV", "WO")}
X = nt.randn(seed=1, batch=2, seq=5, layer=d)
Y = nt.models.self_attention(X, W["WQ"], W["WK"], W["WV"], W["WO"], M)

mha = torch.nn.MultiheadAttention(
    d, h, bias=False, batch_first=True, dtype=f64
)
with torch.no_grad():
    mha.in_proj_weight.copy_(
        torch.cat(
            [
                nt.positional(W["WQ"], ("heads", "key", "layer")).reshape(
                    d, d
                ),
                nt.positional(W["WK"], ("heads", "key", "layer")).reshape(
                    d, d
                ),
                nt.positional(W["WV"], ("heads", "val", "layer")).reshape(
                    d, d
                ),
            ]
        ).cpu()
    )
    mha.out_proj.weight.copy_(
        nt.positional(W["WO"], ("layer", "heads", "val")).reshape(d, d).cpu()
    )
x = nt.positional(X, ("batch", "seq", "layer")).cpu()
ref, _ = mha(
    x,
    x,
    x,
    attn_mask=nt.positional(M, ("seq'", "seq")).cpu(),
    need_weights=False,
)
print(
    "SelfAtt = nn.MultiheadAttention:", same(Y, ("batch", "seq", "layer"), ref)
)
with nt.plain():  # the formulas themselves, not torch's fused attention kernel
    print(
        "plain definition agrees too:   ",
        same(
            nt.models.self_attention(
                X, W["WQ"], W["WK"], W["WV"], W["WO"], M
            ),
            ("batch", "seq", "layer"),
            ref,
        ),
    )

# %% [markdown]
# ## Feedforward sublayer and layer normalization
#
# The second sublayer is a two-layer network applied at every position,
# $\mathrm{FFN}^l \colon \reals^{\layer} \rightarrow \reals^{\layer}$, with
#
# <!-- ntn: definition; X[seq,layer]; W^{l,1}[hidden,layer]; b^{l,1}[hidden]; W^{l,2}[layer,hidden]; b^{l,2}[layer]; expect=nt.models.ffn(V["X"], V["W^{l,1}"], V["b^{l,1}"], V["W^{l,2}"], V["b^{l,2}"]) -->
# $$
# \begin{aligned}
# X^1 &= \mathrm{relu}(W^{l,1} \ndot{\layer} X + b^{l,1}), & W^{l,1} &\in \reals^{\hidden \times \layer}, & b^{l,1} &\in \reals^{\hidden}, \\
# X^2 &= W^{l,2} \ndot{\hidden} X^1 + b^{l,2}, & W^{l,2} &\in \reals^{\layer \times \hidden}, & b^{l,2} &\in \reals^{\layer}.
# \end{aligned}
# $$
#
# <!-- ntn: misprint; X^1[seq,hidden]; W^{l,2}[layer,hidden]; b^{l,2}[hidden]; b2[layer]; expect=nt.contract(V["W^{l,2}"], V["X^1"], over="hidden") + V["b2"]; at=2 -->
# **Erratum.** In A.1's definition of the feedforward networks, the line for
# $X^2$ reads $X^2 = W^{l,2} \ndot{\hidden} X^1 + b^{l,2}$,
# $W^{l,2} \in \reals^{\layer \times \hidden}$, $b^{l,2} \in \reals^{\hidden}$
# (v1's §3.2 prints the same, inside a relu). But
# $W^{l,2} \ndot{\hidden} X^1$ ranges over $\layer$ alone, and the display just
# above it declares
# $\mathrm{FFN}^l \colon \reals^{\layer} \rightarrow \reals^{\layer}$; so the
# bias ranges over $\layer$. v1 ended the FFN with a second relu;
# `final_relu=True` reproduces that.

# %%
nt.source(nt.models.ffn)

# %% [markdown]
# The FFN against PyTorch's own two-layer network,
# `nn.Linear(|layer|, |hidden|)`, relu, `nn.Linear(|hidden|, |layer|)`, given the
# same weights and (random, non-zero) biases. PyTorch's second bias has one
# entry per output feature, that is $|\layer|$ entries, like ours:

# %%
p1 = [params[f"1.{k}"] for k in ("W1", "b1", "W2", "b2")]
W1, b1, W2, b2 = p1
hid = nt.shape(W1)["hidden"]
torch_ffn = torch.nn.Sequential(
    torch.nn.Linear(d, hid, dtype=f64),
    torch.nn.ReLU(),
    torch.nn.Linear(hid, d, dtype=f64),
)
with torch.no_grad():   # nn.Linear stores its weight as (out, in)
    torch_ffn[0].weight.copy_(nt.positional(W1, ("hidden", "layer")).cpu())
    torch_ffn[0].bias.copy_(nt.positional(b1, "hidden").cpu())
    torch_ffn[2].weight.copy_(nt.positional(W2, ("layer", "hidden")).cpu())
    torch_ffn[2].bias.copy_(nt.positional(b2, "layer").cpu())
assert nt.shape(b2) == {"layer": d} and torch_ffn[2].bias.shape == (d,)
print("b^{1,2}:", nt.shape(b2), "| torch's second bias:",
      tuple(torch_ffn[2].bias.shape))
order = ("batch", "seq", "layer")
print("FFN = nn.Linear, relu, nn.Linear:",
      same(nt.models.ffn(X, *p1), order, torch_ffn(x)))

# %% [markdown]
# The same code printed back in the notation by `nt.notation.latex` (Appendix C),
# which runs `ffn` once and records what each operation computes: it is the
# formula for $X^2$ above with $X^1$ substituted, the layer's $l$ left out of the
# names ($W^1$ is the parameter `W1`). Parsed and evaluated on the same
# tensors, it gives `ffn`'s value back:

# %%
from IPython.display import Math, display

ffn_tex = nt.notation.latex(nt.models.ffn, X, *p1)
display(Math(r"\mathrm{FFN}(X) = " + ffn_tex))
_, bindings = nt.notation.trace(nt.models.ffn, X, *p1)
back = nt.notation.evaluate(ffn_tex, bindings)
gap = (back - nt.models.ffn(X, *p1)).abs().max().item()
print("evaluated back, max |formula - code| < 1e-12:", gap < 1e-12)

# %% [markdown]
# Read as printed, with $b^{l,2} \in \reals^{\hidden}$, the sum is still defined
# (named broadcasting adds the two over the union of their axes), but the
# result is not the $\reals^{\layer}$ that $\mathrm{FFN}^l$ must return: it gains
# a $\hidden$ axis, and every later formula would carry it along.

# %%
X1 = nt.relu(nt.contract(W1, X, over="layer") + b1)
b2_printed = nt.randn(seed=2, hidden=hid, dtype=f64)   # b ∈ R^{hidden}
X2_printed = nt.contract(W2, X1, over="hidden") + b2_printed
s = nt.shape(X2_printed)
assert set(s) == {"batch", "seq", "layer", "hidden"}
print("X^2 with b^{l,2} over hidden:",
      {ax: s[ax] for ax in ("batch", "seq", "layer", "hidden")})

# %% [markdown]
# v1's FFN is the latest one followed by a relu:

# %%
F_latest = nt.models.ffn(X, *p1)
F_v1 = nt.models.ffn(X, *p1, final_relu=True)
print(
    "latest FFN has negative outputs:",
    bool((nt.positional(F_latest, order) < 0).any()),
)
print(
    "v1 FFN = relu(latest FFN):     ",
    same(F_v1, order, torch.relu(nt.positional(F_latest, order))),
)

# %% [markdown]
# Both sublayers are followed by layer normalization over $\layer$, with a learned
# scale and shift per layer:
#
# <!-- ntn: definition; ~\mathrm{LayerNorm}^l=\mathrm{LayerNorm}; ~\gamma^l=\gamma; ~\beta^l=\beta; standardize=lambda X, *axes: nt.standardize(X, axes); LayerNorm=lambda X: nt.layer_norm(X, V["\\gamma"], V["\\beta"], chans=None); X[seq,layer]; \gamma[layer]; \beta[layer] -->
# $$
# \mathrm{LayerNorm}^l(X) = \nfun{\layer}{standardize}(X) \odot \gamma^l + \beta^l,
# \qquad \gamma^l, \beta^l \in \reals^{\layer},
# $$
#
# <!-- ntn: definition; standardize=lambda X, *axes: nt.standardize(X, axes); \epsilon=1e-5; X[layer,seq] -->
# where $\nfun{\layer}{standardize}(X) = (X - \nfun{\layer}{mean} X) / \sqrt{\nfun{\layer}{var} X + \epsilon}$
# (§4.6; the paper leaves $\epsilon > 0$ open, we take $\epsilon = 10^{-5}$ as
# PyTorch does). This is `nt.layer_norm` with `chans=None`, so that it
# standardizes over $\layer$ alone:

# %%
nt.source(nt.layer_norm, nt.standardize)

# %% [markdown]
# ## One layer, and the whole model
#
# The latest version puts each normalization *after* the residual sum (post-norm):
#
# <!-- ntn: definition; X^{l-1}[seq,layer]; pp={"1." + k: v for k, v in dict(WQ=randn("heads", "layer", "key"), WK=randn("heads", "layer", "key"), WV=randn("heads", "layer", "val"), WO=randn("heads", "val", "layer"), gamma=randn("layer"), beta=randn("layer"), W1=randn("hidden", "layer"), b1=randn("hidden"), W2=randn("layer", "hidden"), b2=randn("layer"), **{"gamma'": randn("layer"), "beta'": randn("layer")}).items()}; SelfAtt^l=lambda X: nt.models.self_attention(X, V["pp"]["1.WQ"], V["pp"]["1.WK"], V["pp"]["1.WV"], V["pp"]["1.WO"]); FFN^l=lambda X: nt.models.ffn(X, V["pp"]["1.W1"], V["pp"]["1.b1"], V["pp"]["1.W2"], V["pp"]["1.b2"]); LayerNorm^l=lambda X: nt.layer_norm(X, V["pp"]["1.gamma"], V["pp"]["1.beta"], chans=None); LayerNorm^{l'}=lambda X: nt.layer_norm(X, V["pp"]["1.gamma'"], V["pp"]["1.beta'"], chans=None); expect=nt.models.transformer_layer(V["X^{l-1}"], V["pp"], 1) -->
# $$
# \begin{aligned}
# T^l &= \mathrm{LayerNorm}^l\bigl(\mathrm{SelfAtt}^l(X^{l-1}) + X^{l-1}\bigr), \\
# X^l &= \mathrm{LayerNorm}^{l'}\bigl(\mathrm{FFN}^l(T^l) + T^l\bigr).
# \end{aligned}
# $$
#
# v1's §3.2 normalized the sublayer's output and added the residual afterwards,
# $T^l = \mathrm{LayerNorm}^l(\mathrm{SelfAtt}^l(X^{l-1})) + X^{l-1}$ and likewise
# for the FFN, with $\mathrm{LayerNorm}^l(X) = \nfun{\layer}{XNorm}(X; \beta^l,
# \gamma^l)$. Reading the undefined $\mathrm{XNorm}$ as the same standardization
# with $\gamma^l$ and $\beta^l$, `version="v1"` runs that layer. (This is not the
# "pre-norm" Transformer of later work, $X + \mathrm{SelfAtt}(\mathrm{LayerNorm}(X))$,
# either; it is its own variant.)

# %%
nt.source(nt.models.transformer_layer)

# %% [markdown]
# After $L$ layers, the embedding matrix maps each position back to the vocabulary
# and a softmax over $\vocab$ gives a distribution over the next token:
#
# <!-- ntn: definition; W[seq,layer]; P=nt.models.positional_encoding(5, 4); E[vocab,layer]; X^L[seq,layer]; expect=N(torch.softmax(P(V["X^L"], "seq", "layer") @ P(V["E"], "vocab", "layer").T, -1), "seq", "vocab") -->
# $$
# X^0 = W + P, \qquad O = \nfun{\vocab}{softmax}(E \ndot{\layer} X^L) \in \reals^{\seq \times \vocab}.
# $$
#
# Every axis name is a keyword argument with the paper's name as default; a batch
# axis needs no argument at all.

# %%
nt.source(nt.models.transformer_logits, nt.models.transformer)

# %%
O = nt.models.transformer(tokens, params)
print(nt.shape(O))
print(
    "Σ_vocab O = 1:",
    same(nt.sum(O, "vocab"), ("batch", "seq"), torch.ones(2, 5, dtype=f64)),
)
nt.show(nt.index(O, "batch", 0), ("seq", "vocab"), decimals=3)

# %% [markdown]
# ### The whole model against an independent positional implementation
#
# The pieces agree with PyTorch; so does the whole. Below (open the toggle) is
# the same Transformer written once more, in plain positional PyTorch, from the
# formulas above and from nothing in `ntlib`: a one-hot matrix product for
# $E \ndot{\vocab} I$, the 0-based sinusoids, `einsum` strings for the heads, an
# upper-triangular $-\infty$ mask, `F.layer_norm`, and `@` for the FFN. It reads
# the same weights, laid out by `nt.positional` in orders it fixes itself.

# %% tags=["hide-input"]
ORDERS = {
    "WQ": ("heads", "layer", "key"), "WK": ("heads", "layer", "key"),
    "WV": ("heads", "layer", "val"), "WO": ("heads", "val", "layer"),
    "W1": ("hidden", "layer"), "b1": ("hidden",),
    "W2": ("hidden", "layer"), "b2": ("layer",),
    "gamma": ("layer",), "beta": ("layer",),
    "gamma'": ("layer",), "beta'": ("layer",),
}


def positional_weights(params):
    """Every parameter as a CPU torch tensor, in the orders of ORDERS."""
    L = len([k for k in params if k.endswith(".WQ")])
    E = nt.positional(params["E"], ("vocab", "layer")).cpu()
    layers = [
        {k: nt.positional(params[f"{l}.{k}"], o).cpu()
         for k, o in ORDERS.items()}
        for l in range(1, L + 1)
    ]
    return E, layers


def positional_transformer(tokens, E, layers, version="latest", eps=1e-5):
    """tokens: (batch, n) int64 -> next-token probabilities, (batch, n,
    vocab)."""
    n, (v, d) = tokens.shape[1], E.shape
    x = F.one_hot(tokens, v).to(E.dtype) @ E * math.sqrt(d)     # W
    p = torch.arange(n, dtype=E.dtype)[:, None]
    freq = 10000 ** (torch.arange(0, d, 2, dtype=E.dtype) / d)
    pe = torch.zeros(n, d, dtype=E.dtype)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(p / freq), torch.cos(p / freq)
    x = x + pe                                                   # X^0
    mask = torch.full((n, n), -math.inf, dtype=E.dtype).triu(1)  # (q, k)
    for w in layers:
        q = torch.einsum("bnd,hdk->bhnk", x, w["WQ"])
        k = torch.einsum("bnd,hdk->bhnk", x, w["WK"])
        val = torch.einsum("bnd,hdk->bhnk", x, w["WV"])
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask
        a = torch.softmax(s, dim=-1) @ val
        att = torch.einsum("bhnv,hvd->bnd", a, w["WO"])

        def ln(z, g, b):
            return F.layer_norm(z, (d,), w[g], w[b], eps)

        def ffn(z):
            return torch.relu(z @ w["W1"].T + w["b1"]) @ w["W2"] + w["b2"]

        if version == "latest":
            t = ln(att + x, "gamma", "beta")
            x = ln(ffn(t) + t, "gamma'", "beta'")
        else:   # v1: norm, then add; the FFN ends in a relu
            t = ln(att, "gamma", "beta") + x
            x = ln(torch.relu(ffn(t)), "gamma'", "beta'") + t
    return torch.softmax(x @ E.T, dim=-1)

# %% [markdown]
# Both versions, on the fused path (torch kernels where `ntlib` has them) and on
# the plain one (the formulas only), with this chapter's random biases, $\gamma$
# and $\beta$, on a batch of 3 sequences of length 6 that no cell above used:

# %%
E_pos, layers_pos = positional_weights(params)
toks = nt.randint(0, 7, seed=3, batch=3, seq=6)
t_pos = nt.positional(toks, ("batch", "seq")).cpu()
order = ("batch", "seq", "vocab")
for version in ("latest", "v1"):
    want = positional_transformer(t_pos, E_pos, layers_pos, version)
    same(nt.models.transformer(toks, params, version=version), order, want)
    with nt.plain():
        O_plain = nt.models.transformer(toks, params, version=version)
    same(O_plain, order, want)
    print(f"{version:>6}: max |named − positional| < 1e-10, fused and plain")

# %% [markdown]
# The comparison can fail. A model whose last FFN bias is lost, or whose
# $\gamma$ and $\beta$ are swapped, is off by far more than the tolerance (with
# `init_transformer`'s zero biases and unit $\gamma$ both mistakes would pass):

# %%
want = positional_transformer(t_pos, E_pos, layers_pos)


def gap(p):
    got = nt.positional(nt.models.transformer(toks, p), order).cpu()
    return (got - want).abs().max().item()


no_b2 = dict(params, **{"2.b2": 0 * params["2.b2"]})
swapped = dict(params, **{"1.gamma": params["1.beta"],
                          "1.beta": params["1.gamma"]})
for what, p in [("b^{2,2} dropped", no_b2), ("γ^1, β^1 swapped", swapped)]:
    assert gap(p) > 1e-3
    print(f"{what}: max |named − positional| > 1e-3")

# %% [markdown]
# Causality, checked directly: changing the last two tokens leaves the
# distributions at the first three positions exactly as they were.

# %%
changed = nt.tensor([[3, 1, 4, 6, 6], [2, 6, 5, 0, 0]], ("batch", "seq"))
O2 = nt.models.transformer(changed, params)
a, b = (nt.positional(o, ("batch", "seq", "vocab")) for o in (O, O2))
print("first 3 positions unchanged:", torch.equal(a[:, :3], b[:, :3]),
      "| last 2 changed:", bool((a[:, 3:] - b[:, 3:]).abs().max() > 1e-3))

# %% [markdown]
# **Latest vs v1.** With the same weights the two versions give different
# distributions: the placement of the normalization is not a cosmetic detail.

# %%
O_v1 = nt.models.transformer(tokens, params, version="v1")
diff = (
    (
        nt.positional(O, ("batch", "seq", "vocab"))
        - nt.positional(O_v1, ("batch", "seq", "vocab"))
    )
    .abs()
    .max()
)
print("max |O_latest − O_v1| > 0.01:", bool(diff > 0.01))
nt.show(nt.index(O_v1, "batch", 0), ("seq", "vocab"), decimals=3)

# %% [markdown]
# ## At GPT-3's size: the shapes alone
#
# The notation's promise is that the shapes are in the names: each formula
# above says, through the axes it names, what the shape of its result is,
# whatever the sizes. To see that at a scale no one can run here, we build the
# model with the sizes of the largest GPT-3 {cite}`brown+:2020`: 96 layers,
# $|\layer| = d_\text{model} = 12288$ and 96 heads of
# $|\key| = |\val| = d_\text{head} = 128$ (its Table 2.1),
# $|\hidden| = d_\text{ff} = 4\,d_\text{model} = 49152$ and a context of
# $n_\text{ctx} = 2048$ tokens (its §2.1), and the vocabulary of GPT-2, which
# GPT-3 reuses, $|\vocab| = 50257$ {cite}`radford+:2019`. In float32 its
# parameters alone would take 700 GB.
#
# PyTorch's *meta* device holds tensors that have a shape and a dtype but no
# values: an operation on them computes only the shape of its result, so
# nothing is allocated, and nothing takes time in proportion to the sizes.
# Inside `with nt.on_device("meta"):` every tensor `ntlib` makes is made there;
# `init_transformer` draws nothing (there is nothing to draw into), and what
# would need values, such as `nt.show` or `float(x)`, raises `nt.DeviceError`.
#
# GPT-3 is not exactly the model of this appendix: it follows GPT-2, which
# normalizes before each sublayer rather than after it, learns its positional
# embeddings and has biases in the attention projections, and it alternates
# dense attention with locally banded sparse attention. None of this changes
# the shapes of the stages below; the parameter count, at the end, shows what
# it does change.

# %%
GPT3 = dict(vocab=50257, layers=96, heads=96, layer=12288)  # hidden: 4|layer|
n_ctx = 2048
start = time.perf_counter()
with nt.on_device("meta"):
    gpt3 = nt.models.init_transformer(**GPT3, seed=0)
    J = nt.randint(0, GPT3["vocab"], seed=0, batch=1, seq=n_ctx)  # token ids
print(gpt3["E"])

# %% [markdown]
# A batch of one sequence: on meta a larger batch costs the same. The tables
# below list each tensor's axes with their sizes; a named tensor's axes have no
# order, so the tables print them in one fixed order (the helpers are behind
# the toggle).

# %% tags=["hide-input"]
ORDER = ("batch", "seq'", "seq", "vocab", "heads", "hidden", "layer", "key",
         "val")


def named_shape(t):
    """'batch[1] × seq[2048] × layer[12288]', axes in the order ORDER."""
    s = nt.shape(t)
    return " × ".join(f"{a}[{s[a]}]" for a in sorted(s, key=ORDER.index)) \
        or "(no axes)"


def print_table(rows, head):
    """Rows of (label, named tensor or text), the label column aligned."""
    w = max(len(label) for label, _ in [head, *rows])
    print(f"{head[0]:{w}}  {head[1]}")
    for label, t in rows:
        print(f"{label:{w}}  {t if isinstance(t, str) else named_shape(t)}")

# %% [markdown]
# **One layer, stage by stage**, as the formulas of this appendix write it,
# with layer 1's parameters:

# %%
p = {k[2:]: v for k, v in gpt3.items() if k.startswith("1.")}
with nt.on_device("meta"):
    E = gpt3["E"]
    W = nt.models.embed(J, E)
    P = nt.models.positional_encoding(n_ctx, GPT3["layer"], dtype=E.data.dtype)
    X = W + P
    M = nt.causal_mask(n_ctx, seq="seq", query="seq'", dtype=E.data.dtype)
    Q = nt.contract(nt.rename(X, {"seq": "seq'"}), p["WQ"], over="layer")
    K = nt.contract(X, p["WK"], over="layer")
    V = nt.contract(X, p["WV"], over="layer")
    S = nt.contract(Q, K, over="key") / math.sqrt(nt.shape(K)["key"]) + M
    A = nt.softmax(S, "seq")
    H = nt.contract(A, V, over="seq")
    Y = nt.contract(nt.rename(H, {"seq'": "seq"}), p["WO"],
                    over=("heads", "val"))
    T = nt.layer_norm(Y + X, p["gamma"], p["beta"], chans=None)
    X1 = nt.relu(nt.contract(T, p["W1"], over="layer") + p["b1"])
    X2 = nt.contract(X1, p["W2"], over="hidden") + p["b2"]
    X_next = nt.layer_norm(X2 + T, p["gamma'"], p["beta'"], chans=None)

layer_stages = [
    ("X = X^{l-1}", X),
    ("Q = W^Q ⊙_layer X_seq→seq'", Q),
    ("K = W^K ⊙_layer X", K),
    ("V = W^V ⊙_layer X", V),
    ("M (causal mask)", M),
    ("S = Q ⊙_key K/√|key| + M", S),
    ("α = softmax_seq S", A),
    ("α ⊙_seq V", H),
    ("Y = SelfAtt(X)", Y),
    ("T = LayerNorm(Y + X)", T),
    ("X¹ = relu(W¹ ⊙_layer T + b¹)", X1),
    ("X² = W² ⊙_hidden X¹ + b²", X2),
    ("X^l = LayerNorm(X² + T)", X_next),
]
print_table(layer_stages, ("stage", "named shape"))

# %% [markdown]
# The same shapes, read off the formulas by hand from the figures above, and
# the layer as `nt.models.transformer_layer` computes it (layer 96, the last):

# %%
SIZES = {"batch": 1, "seq": n_ctx, "seq'": n_ctx, "heads": 96, "key": 128,
         "val": 128, "layer": 12288, "hidden": 4 * 12288, "vocab": 50257}
by_hand = ["batch seq layer", "batch seq' heads key", "batch seq heads key",
           "batch seq heads val", "seq seq'", "batch seq' heads seq",
           "batch seq' heads seq", "batch seq' heads val", "batch seq layer",
           "batch seq layer", "batch seq hidden", "batch seq layer",
           "batch seq layer"]
for (stage, t), axes in zip(layer_stages, by_hand, strict=True):
    assert nt.shape(t) == {a: SIZES[a] for a in axes.split()}, stage
with nt.on_device("meta"):
    last = nt.models.transformer_layer(X, gpt3, 96, M)
assert nt.shape(last) == nt.shape(X_next) == nt.shape(X)
print("13 stages as read off the formulas; transformer_layer maps\n",
      named_shape(X), "to itself")

# %% [markdown]
# **The whole model**, with `nt.models.transformer_logits` as in the sections
# above, then the loss against next tokens $J'$ and backpropagation: on meta,
# autograd computes the gradients' shapes too.

# %%
with nt.on_device("meta"):
    J_next = nt.randint(0, GPT3["vocab"], seed=1, batch=1, seq=n_ctx)
    Z = nt.models.transformer_logits(J, gpt3)    # E ⊙_layer X^96
    O = nt.softmax(Z, "vocab")
    loss = nt.models.cross_entropy(Z, J_next)
    loss.data.backward()
seconds = time.perf_counter() - start

print_table([
    ("I (token ids)", J),
    ("W = (E ⊙_vocab I) √|layer|", W),
    ("P (positional encoding)", P),
    ("X^0 = W + P", X),
    ("X^1, …, X^96 (each)", last),
    ("E ⊙_layer X^96 (scores)", Z),
    ("O = softmax_vocab(E ⊙_layer X^96)", O),
    ("cross-entropy loss", loss),
], ("stage", "named shape"))
grads = [v.data.grad for v in gpt3.values()]
assert all(g.is_meta and g.shape == v.data.shape
           for g, v in zip(grads, gpt3.values()))
print(f"{len(grads)} gradients, each of its parameter's shape, on meta")

# %% [markdown]
# **The parameters**, with the number of entries each named shape holds. The
# twelve of a layer repeat in each of the 96 layers:

# %%
def entries(t):
    return math.prod(nt.shape(t).values())


names = ["WQ", "WK", "WV", "WO", "gamma", "beta", "W1", "b1", "W2", "b2",
         "gamma'", "beta'"]
rows = [("E", gpt3["E"])] + [(f"l.{k}", gpt3[f"1.{k}"]) for k in names]
print_table([(k, f"{named_shape(t):36s}{entries(t):>14,}") for k, t in rows],
            ("parameter", f"{'named shape':36s}{'entries':>14}"))
per_layer = sum(entries(gpt3[f"1.{k}"]) for k in names)
count = sum(entries(t) for t in gpt3.values())
print(f"\none layer: {per_layer:,}")
print(f"all: {entries(gpt3['E']):,} + 96 × {per_layer:,} = {count:,}")
print(f"in float32: {4 * count / 1e9:.1f} GB")

# %% [markdown]
# The count follows from the shapes alone. With $d = |\layer|$, $L = 96$
# layers and $|\hidden| = 4d$: $E$ has $|\vocab|\, d$ entries, and each layer
# has $4d^2$ in its four attention matrices ($|\heads|\,|\key| = d$),
# $2 \cdot 4d^2$ in the feedforward matrices, $4d + d$ in their biases and
# $4d$ in the two LayerNorms, $12d^2 + 9d$ in all:

# %%
d, L, v = GPT3["layer"], GPT3["layers"], GPT3["vocab"]
by_formula = v * d + L * (12 * d**2 + 9 * d)
print(f"|vocab| d + L (12 d² + 9 d) = {by_formula:,}")
assert by_formula == count
print("the same as the count of entries above:", by_formula == count)
# what GPT-3 has besides: learned positions, biases of the 4 projections,
# a final LayerNorm
extra = n_ctx * d + L * 4 * d + 2 * d
print(f"this model: {count / 1e9:.2f} B parameters; with GPT-3's learned "
      f"positions,\nprojection biases and final LayerNorm: "
      f"{(count + extra) / 1e9:.2f} B; GPT-3's Table 2.1: 175.0 B")
assert abs(count / 175.0e9 - 1) < 0.01
print("within 1% of 175.0 B:", abs(count / 175.0e9 - 1) < 0.01)
assert seconds < 60, seconds
print("built, run forward and backward in under a minute:", seconds < 60)

# %% [markdown]
# The model written here has $174.57$ B parameters, 0.24% fewer than GPT-3's
# 175.0 B. Its parts that this appendix's Transformer does not have, learned
# positional embeddings ($n_\text{ctx}\, d$), biases of $Q$, $K$, $V$ and the
# output projection ($4d$ per layer) and a LayerNorm after the last layer
# ($2d$), add 30 M and bring the count to $174.60$ B; Table 2.1 rounds to
# $175.0$ B without a breakdown. Like GPT-2, the model uses one matrix $E$ for
# the input and the output; a separate output matrix would add another
# $|\vocab|\, d = 0.62$ B.

# %% [markdown]
# ## Training: reversing a sequence
#
# To see the model learn, we train it on a task whose solution requires attention
# across the sequence. Each example is $n = 8$ random digits, a separator token, and
# the same digits reversed:
#
# $$
# x_1\, x_2 \cdots x_8 \;\; \mathtt{|} \;\; x_8\, x_7 \cdots x_1 .
# $$
#
# The model reads the sequence left to right (it is causal) and is trained to
# predict each token of the reversed half from everything before it. Copying
# $x_{9-k}$ at output step $k$ means attending to a position that moves backwards as
# $k$ moves forwards, which no position-independent shortcut can do. The vocabulary
# has 11 tokens (ten digits and the separator); the model has 2 layers, 4 heads,
# $|\layer| = 64$, $|\hidden| = 128$. Training is in float32, with Adam and a short
# warm-up; the test set is 1000 sequences from a different seed, and the target is
# **at least 99% of output digits right under greedy decoding**, where the model
# sees only the first half and the separator and must generate the reversal itself.
#
# The model is small, so each step consists of many small tensor operations; we run
# PyTorch on one thread, which avoids thread start-up and contention costs that
# dominate at this size on a shared machine.

# %%
torch.set_num_threads(1)
torch.manual_seed(0)
n, V = 8, 10
SEP = V  # token 10 is the separator


def reversal_batch(seed, size):
    """(inputs over batch × seq[2n], targets over batch × out[n]) for the
    reversal task."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, V, (size, n), generator=g)
    full = torch.cat([x, torch.full((size, 1), SEP), x.flip(1)], dim=1)
    return (
        nt.tensor(full[:, :-1], ("batch", "seq")),
        nt.tensor(full[:, n + 1 :], ("batch", "out")),
    )


# positions whose next token is an output digit: n, ..., 2n-1 (0-based)
outputs = nt.tensor(torch.arange(n, 2 * n), "out")

I_demo, T_demo = reversal_batch(0, 1)
print("input: ", nt.positional(I_demo, ("batch", "seq"))[0].tolist())
print("target:", nt.positional(T_demo, ("batch", "out"))[0].tolist())

# %% [markdown]
# The loss is the cross-entropy of the model's scores at the output positions:
# $-\log O_{\vocab(t)}$ averaged over the batch and the $n$ outputs. `nt.index` picks
# the output positions (an index tensor over a new axis $\name{out}$) and
# `nt.models.cross_entropy` the target tokens.

# %%
nt.source(nt.models.cross_entropy)

# %% tags=["nbval-ignore-output"]
model = nt.models.init_transformer(
    vocab=V + 1,
    layers=2,
    heads=4,
    layer=64,
    hidden=128,
    seed=0,
    dtype=torch.float32,
)
steps, batch_size = 400, 64
opt = torch.optim.Adam(nt.models.parameters(model), lr=3e-3)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / steps)
)
losses = []
t0 = time.perf_counter()
for step in tqdm(
    range(steps), file=sys.stdout, desc="training", mininterval=2
):
    I, T = reversal_batch(1 + step, batch_size)
    scores = nt.index(nt.models.transformer_logits(I, model), "seq", outputs)
    loss = nt.models.cross_entropy(scores, T)
    opt.zero_grad()
    loss.data.backward()
    opt.step()
    sched.step()
    losses.append(loss.data.item())
train_seconds = time.perf_counter() - t0
print(
    f"trained {steps} steps in {train_seconds:.1f} s; "
    f"final loss {losses[-1]:.4f}"
)

# %% [markdown]
# Greedy decoding: start from the digits and the separator, append the most likely
# next token, and repeat $n$ times. Only the prompt comes from the data.

# %%
def generate(model, prompt, steps, **kw):
    """Greedy continuation of `prompt` (batch × seq) by `steps` tokens."""
    seq = nt.positional(prompt, ("batch", "seq"))
    with torch.no_grad():
        for _ in range(steps):
            scores = nt.models.transformer_logits(
                nt.tensor(seq, ("batch", "seq")), model, **kw
            )
            last = nt.index(scores, "seq", seq.shape[1] - 1)
            nxt = nt.positional(nt.argmax_index(last, "vocab"), "batch")
            seq = torch.cat([seq, nxt.unsqueeze(1)], dim=1)
    return seq[:, nt.shape(prompt)["seq"] :]


I_test, T_test = reversal_batch(10**6, 1000)
prompt = nt.tensor(
    nt.positional(I_test, ("batch", "seq"))[:, : n + 1], ("batch", "seq")
)

# %% tags=["nbval-ignore-output"]
generated = generate(model, prompt, n)
truth = nt.positional(T_test, ("batch", "out"))
token_acc = (generated == truth).double().mean().item()
seq_acc = (generated == truth).all(dim=1).double().mean().item()
print(
    f"greedy decoding on 1000 held-out sequences: {token_acc:.2%} of digits,"
    f"\n{seq_acc:.2%} of whole sequences right"
)
for k in range(5):
    print(
        nt.positional(prompt, ("batch", "seq"))[k, :n].tolist(),
        "→",
        generated[k].tolist(),
    )

# %%
assert token_acc >= 0.99, token_acc
assert train_seconds < 120, train_seconds
print("held-out digit accuracy ≥ 99%:", token_acc >= 0.99)
print("trained within 2 minutes:", train_seconds < 120)

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats)")
ax.set_title("training loss, reversal task")
plt.show()

# %% [markdown]
# ## Attention maps
#
# What has the model learned? The attention weights of layer $l$ are
# $\nfun{\seq}{softmax}\bigl(Q \ndot{\key} K / \sqrt{|\key|} + M\bigr)$ computed from
# $X^{l-1}$; running the first $l-1$ layers with `nt.models.transformer_layer` gives it. The
# result has axes $\heads$, $\seq'$ (query) and $\seq$ (key), so one call yields
# every head's map.

# %%
def attention_maps(model, I, l):
    """α ∈ R^{heads × seq' × seq (× batch)}: layer l's attention weights
    (l = 1..L)."""
    E = model["E"]
    n_seq, d = nt.shape(I)["seq"], nt.shape(E)["layer"]
    P = nt.models.positional_encoding(n_seq, d, dtype=E.data.dtype)
    X = nt.models.embed(I, E) + P
    M = nt.causal_mask(n_seq, seq="seq", query="seq'", dtype=E.data.dtype)
    for k in range(1, l):
        X = nt.models.transformer_layer(X, model, k, M)
    Q = nt.contract(
        model[f"{l}.WQ"], nt.rename(X, {"seq": "seq'"}), over="layer"
    )
    K = nt.contract(model[f"{l}.WK"], X, over="layer")
    return nt.softmax(
        nt.contract(Q, K, over="key") / math.sqrt(nt.shape(K)["key"]) + M,
        "seq",
    )


# %% tags=["nbval-ignore-output", "hide-input"]
example = nt.index(I_test, "batch", 0)
labels = [
    str(t) if t != SEP else "|" for t in nt.positional(example, "seq").tolist()
]
# one row per head, one column per layer: room for 15 token labels a panel
fig, axes = plt.subplots(4, 2, figsize=(8, 12))
with torch.no_grad():
    for l in (1, 2):
        alpha = attention_maps(model, example, l)
        for hd in range(4):
            a = nt.positional(
                nt.index(alpha, "heads", hd), ("seq'", "seq")
            ).cpu()
            ax = axes[hd, l - 1]
            ax.imshow(a, cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {l}, head {hd + 1}", fontsize=10)
            ax.set_xticks(range(len(labels)), labels, fontsize=10)
            ax.set_yticks(range(len(labels)), labels, fontsize=10)
            ax.tick_params(length=0, pad=1)
            if hd == 3:
                ax.set_xlabel("key (seq)", fontsize=10)
            if l == 1:
                ax.set_ylabel("query (seq')", fontsize=10)
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
# The two readings of the figure below, checked on the maps themselves. The
# query at position q >= n predicts output digit q - n, which sits at the
# mirror position 2n - 1 - q; the separator sits at position n.
with torch.no_grad():
    top = {l: nt.positional(attention_maps(model, example, l),
                            ("heads", "seq'", "seq")).argmax(-1).cpu()
           for l in (1, 2)}
queries = torch.arange(n, 2 * n)
# per head of layer 2: how many of the n output positions put their
# largest weight on the mirror digit (a count, not "every position": a
# near-tie flips with the rounding of another device); per head of
# layer 1: how many of the n - 1 later positions put it on the separator
mirror = (top[2][:, n:2 * n] == 2 * n - 1 - queries).sum(-1)
separator = (top[1][:, n + 1:2 * n] == n).sum(-1)
print("layer 2: every head puts its largest weight on the mirror digit\n"
      "  at three quarters or more of the output positions")
print("layer 1: a head puts its largest weight on the separator\n"
      "  from three quarters or more of the later positions")
assert 4 * mirror.min() >= 3 * n          # every head, >= 3/4
assert 20 * mirror.sum() >= 17 * 4 * n    # all heads together, >= 85%
assert 4 * separator.max() >= 3 * (n - 1)

# %% [markdown]
# One row of panels per head, the first layer on the left and the second on the
# right. In each panel, rows are query positions and columns key positions; the
# causal mask leaves the upper triangle empty. In this run the heads of the
# second layer have solved the task at three quarters or more of the output
# positions (the cell above checks this): from the separator $\mathtt{|}$ on, each query attends to a position that moves one
# step back as the query moves one step forward, the anti-diagonal that picks out
# exactly the digit to be emitted next. In the first layer, one head attends to the
# separator from almost every later position. (The cell above checks both readings on
# the maps: the largest weight of each query.) A plausible reading, which
# nothing here tests, is that this head marks where the second half begins,
# which the second layer needs in order to find each position's mirror image.
# (Which head does what depends on the seed.)
#
# ## Latest vs v1, trained
#
# Both layer variants are trainable. The same recipe and budget, with `version="v1"`
# (norm-then-add and the extra relu):

# %% tags=["nbval-ignore-output"]
model_v1 = nt.models.init_transformer(
    vocab=V + 1,
    layers=2,
    heads=4,
    layer=64,
    hidden=128,
    seed=0,
    dtype=torch.float32,
)
opt = torch.optim.Adam(nt.models.parameters(model_v1), lr=3e-3)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / steps)
)
losses_v1 = []
for step in tqdm(
    range(steps), file=sys.stdout, desc="training v1", mininterval=2
):
    I, T = reversal_batch(1 + step, batch_size)
    logits = nt.models.transformer_logits(I, model_v1, version="v1")
    loss = nt.models.cross_entropy(nt.index(logits, "seq", outputs), T)
    opt.zero_grad()
    loss.data.backward()
    opt.step()
    sched.step()
    losses_v1.append(loss.data.item())
generated_v1 = generate(model_v1, prompt, n, version="v1")
token_acc_v1 = (generated_v1 == truth).double().mean().item()
print(
    f"v1: final loss {losses_v1[-1]:.4f}; "
    f"held-out digit accuracy {token_acc_v1:.2%}"
)

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses, label="latest (post-norm)")
ax.plot(losses_v1, label="v1 (norm, then add)")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats)")
ax.legend()
plt.show()

# %%
print(
    "v1 variant also reaches ≥ 90% held-out digit accuracy:",
    token_acc_v1 >= 0.90,
)

# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise A1.1: the input layer
#
# Write $X^0 = W + P$, with $W = (E \ndot{\vocab} I)\sqrt{|\layer|}$ and $P$ the
# positional encoding, for token ids $I \in [|\vocab|]^{\seq}$ (integers, not
# one-hot) and $E \in \reals^{\vocab \times \layer}$. The functions of this
# appendix do most of the work.

# %%
def answer(I, E, *, seq="seq", vocab="vocab", layer="layer"):
    ...  # your code here


nt.exercises.report("A1.1", answer)

# %% tags=["hide-cell"]
def answer(I, E, *, seq="seq", vocab="vocab", layer="layer"):
    d = nt.shape(E)[layer]
    W = nt.index(E, vocab, I) * math.sqrt(d)  # = (E ⊙_vocab one-hot I) √d
    n = nt.shape(I)[seq]
    P = nt.models.positional_encoding(n, d, seq=seq, layer=layer)
    return W + P


assert nt.exercises.check("A1.1", answer)

# %% [markdown]
# ### Exercise A1.2: a pre-norm attention sublayer
#
# Many Transformers after the original normalize *before* the sublayer and add the
# residual afterwards ("pre-norm"):
#
# <!-- ntn: definition; standardize=lambda X, *axes: nt.standardize(X, axes); LayerNorm=lambda X: nt.layer_norm(X, V["\\gamma"], V["\\beta"], chans=None); SelfAtt=lambda X: X; X[seq,layer]; \gamma[layer]; \beta[layer] -->
# $$
# X + \mathrm{SelfAtt}\bigl(\mathrm{LayerNorm}(X)\bigr), \qquad
# \mathrm{LayerNorm}(X) = \nfun{\layer}{standardize}(X) \odot \gamma + \beta .
# $$
#
# Write it without a mask, with the weights $W^Q, W^K, W^V, W^O$ shaped as in this
# appendix and $\gamma, \beta \in \reals^{\layer}$ ($\epsilon = 10^{-5}$, the
# default of `nt.standardize`).

# %%
def answer(X, WQ, WK, WV, WO, gamma, beta, *, layer="layer"):
    ...  # your code here


nt.exercises.report("A1.2", answer)

# %% tags=["hide-cell"]
def answer(X, WQ, WK, WV, WO, gamma, beta, *, layer="layer"):
    N = nt.standardize(X, layer) * gamma + beta  # LayerNorm(X)
    return X + nt.models.self_attention(N, WQ, WK, WV, WO, layer=layer)


assert nt.exercises.check("A1.2", answer)

# %% [markdown]
# ### Exercise A1.3: a causal attention map, averaged over heads
#
# The attention maps above show, for each head, the weights
#
# <!-- ntn: definition; Q[heads,seq',key]; K[heads,seq,key]; M=nt.causal_mask(5, query="seq'"); @seq'=5; expect=N(torch.softmax(torch.einsum("hqk,hsk->hqs", P(V["Q"], "heads", "seq'", "key"), P(V["K"], "heads", "seq", "key")) / math.sqrt(size["key"]) + P(V["M"], "seq'", "seq"), -1), "heads", "seq'", "seq") -->
# $$
# \alpha = \nfun{\seq}{softmax}\Bigl(\frac{Q \ndot{\key} K}{\sqrt{|\key|}} + M\Bigr)
# \in \reals^{\heads \times \seq \times \seq'},
# $$
#
# <!-- ntn: definition; X[seq,layer]; W^K[heads,layer,key]; expect=N(torch.einsum("sl,hlk->hsk", P(V["X"], "seq", "layer"), P(V["W^K"], "heads", "layer", "key")), "heads", "seq", "key"); at=2 -->
# <!-- ntn: definition; X[seq,layer]; W^Q[heads,layer,key]; expect=N(torch.einsum("sl,hlk->hsk", P(V["X"], "seq", "layer"), P(V["W^Q"], "heads", "layer", "key")), "heads", "seq'", "key") -->
# with $Q = W^Q \ndot{\layer} X_{\seq \to \seq'}$, $K = W^K \ndot{\layer} X$ and
# the causal mask $M$. Return their mean over $\heads$.

# %%
def answer(X, WQ, WK, *, seq="seq", query="seq'", layer="layer",
           heads="heads", key="key"):
    ...  # your code here


nt.exercises.report("A1.3", answer)

# %% tags=["hide-cell"]
def answer(X, WQ, WK, *, seq="seq", query="seq'", layer="layer",
           heads="heads", key="key"):
    Q = nt.contract(WQ, nt.rename(X, {seq: query}), over=layer)
    K = nt.contract(WK, X, over=layer)
    M = nt.causal_mask(nt.shape(X)[seq], seq=seq, query=query)
    S = nt.contract(Q, K, over=key) / math.sqrt(nt.shape(K)[key]) + M
    return nt.mean(nt.softmax(S, seq), heads)


assert nt.exercises.check("A1.3", answer)

# %% [markdown]
# ### Exercise A1.4: the shape of the second bias
#
# In the feedforward sublayer, $X^2 = W^{l,2} \ndot{\hidden} X^1 + b^{l,2}$. In
# which space does $b^{l,2}$ lie?
#
# - **a**: $\reals^{\hidden}$
# - **b**: $\reals^{\layer}$
# - **c**: $\reals^{\heads \times \layer}$
#
# Answer with the letter, e.g. `answer = "c"`.

# %%
answer = ...  # your answer

nt.exercises.report("A1.4", answer)

# %% tags=["hide-cell"]
answer = "b"  # b^{l,2} is added to W^{l,2} ⊙_hidden X^1, which is over layer

assert nt.exercises.check("A1.4", answer)
