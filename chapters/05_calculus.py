# %% [markdown]
# # Differential calculus
#
# This chapter follows §5 and Appendix B of Chiang, Rush and Barak, *Named Tensor
# Notation* (TMLR 2023): how to differentiate functions of named tensors. The
# paper works with *differentials* — the part of a change in the output that is
# linear in a change of the input — and derives everything from a handful of
# rules. Here each rule is executed: both sides are computed independently on
# random float64 tensors with several axes, the left side by automatic
# differentiation of the composed function, the right side by the rule, and a
# cell asserts that they agree. The worked results of §5 (softmax and
# self-attention) are then checked against autograd, including two misprints in
# the paper.
#
# The code lives in `ntlib.calculus`. Its two workhorses, `nt.calculus.derivative` and
# `nt.calculus.differential`, wrap PyTorch's `torch.func.jacrev` (reverse mode) and
# `torch.func.jvp` (forward mode); everything else is a named formula.

# %%
import logging

logging.getLogger("matplotlib").setLevel(logging.ERROR)  # no font-cache notice
import matplotlib.pyplot as plt
import numpy as np
import torch

import ntlib as nt

f64 = torch.float64


def agree(lhs, rhs, tol=1e-10):
    """Assert that two named tensors have the same axes and values."""
    assert nt.shape(lhs) == nt.shape(rhs), (nt.shape(lhs), nt.shape(rhs))
    diff = nt.calculus.max_difference(lhs, rhs)
    assert diff < tol, diff
    axes = ", ".join(f"{a}[{n}]" for a, n in sorted(nt.shape(lhs).items()))
    return f"agree on {{{axes}}} (max difference < {tol:g})"


# %% [markdown]
# ## Differentials and starred axes
#
# Let $f$ map tensors of shape $\mathcal{S}$ to tensors of shape $\mathcal{T}$.
# Near a point $X$, a differentiable $f$ is its value plus a linear function of
# the step $H$ plus something smaller than $H$:
#
# $$
# f(X + H) = f(X) + \partial f(X; H) + o(\lVert H \rVert).
# $$
#
# The linear part $\partial f(X; H)$ is the **differential**. Like every linear
# map between named tensors it is a contraction with a fixed tensor, the
# **derivative**. The paper writes it $\partial f / \partial X^*$: its axes are the
# output axes $\mathcal{T}$ together with a *starred* copy $\mathcal{S}^*$ of every
# input axis, and
#
# $$
# \partial f(X; H) = \frac{\partial f}{\partial X^*} \ndot{\mathcal{S}^*} H^*,
# \qquad H^* = H_{\mathcal{S} \to \mathcal{S}^*}.
# $$
#
# Why the star? Take $X \in \reals^{\seq}$ and $f = \nfun{\seq}{softmax}$. The
# output also has the axis $\seq$, and the derivative needs one axis for the output
# position and one for the input position. Positionally one would say "rows are
# outputs, columns are inputs"; with names, both would be called $\seq$. Once $f$
# is lifted over more axes ($\batch$, $\heads$, ...), which dimension of a
# positional Jacobian is which is only a convention of the code that produced
# it. The star gives the input's copy of each axis its own name, $\seq^*$, so the
# derivative is an ordinary named tensor with axes $\seq$ and $\seq^*$, and a
# contraction over $\seq^*$ with $H^*$ says exactly what is summed.
#
# In `ntlib` the starred name of an axis is the name followed by `*`. `nt.calculus.star`
# renames; `nt.calculus.identity` makes the identity tensor
# $I_{\ax,\ax'} \in \reals^{\ax[n] \times \ax'[n]}$:

# %%
nt.source(nt.calculus.star, nt.calculus.identity)

# %% [markdown]
# Renaming is itself a contraction, $A_{\ax \to \ax'} = I_{\ax,\ax'} \ndot{\ax} A$:
# the identity tensor moves each entry from $\ax(i)$ to $\ax'(i)$. This is how
# identity tensors enter derivatives below.

# %%
A = nt.randn(seed=1, seq=3, key=4)
I_key = nt.calculus.identity("key", "key*", 4)
print(agree(nt.contract(I_key, A, over="key"), nt.calculus.star(A, "key")))
nt.show(I_key, ("key", "key*"))

# %% [markdown]
# `nt.calculus.derivative(f, X)` evaluates $\partial f / \partial X^*$ at $X$, and
# `nt.calculus.differential(f, X, H)` evaluates $\partial f(X; H)$ without forming the
# derivative. Both hand a *positional* version of $f$ to PyTorch: they fix an
# order for the axes of $X$, rebuild the named tensor inside, call $f$, and read
# its output in a fixed order. The orders are internal; the result is named.

# %%
nt.source(nt.calculus.derivative, nt.calculus.differential)

# %% [markdown]
# A first check, on a lifted softmax: $X \in \reals^{\batch[2] \times \seq[3]}$,
# softmax over $\seq$. The derivative has the output axes $\batch, \seq$ and the
# starred input axes $\batch^*, \seq^*$. It agrees with
# `torch.autograd.functional.jacobian` applied to positional code written
# separately (dim 0 = batch, dim 1 = seq, in and out), and contracting it with
# $H^*$ gives the forward-mode differential.

# %%
X = nt.randn(seed=2, batch=2, seq=3)
H = nt.randn(seed=3, seq=3, batch=2)        # another storage order


def softmax_seq(X):
    return nt.softmax(X, "seq")


D = nt.calculus.derivative(softmax_seq, X)
print(sorted(nt.shape(D).items()))

x = nt.positional(X, ("batch", "seq"))
J = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, 1), x)
order = ("batch", "seq", "batch*", "seq*")
assert torch.allclose(nt.positional(D, order), J, rtol=1e-12, atol=1e-14)
dY = nt.calculus.differential(softmax_seq, X, H)
print(agree(dY, nt.contract(D, nt.calculus.star(H), over=("batch*", "seq*"))))

# %% [markdown]
# ## The rules
#
# The paper computes differentials by rules, as in one-variable calculus. Below,
# $U$ and $V$ are functions of $X$ and $\partial U$, $\partial V$ are short for
# their differentials $\partial U(X; H)$, $\partial V(X; H)$. The rules are (§5 of
# the paper):
#
# $$
# \begin{aligned}
# \partial(U + V) &= \partial U + \partial V \\
# \partial(U \odot V) &= U \odot \partial V + V \odot \partial U \\
# \partial\frac{U}{V} &= \frac{V \odot \partial U - U \odot \partial V}{V^2} \\
# \partial \nsum{\ax} U &= \nsum{\ax} \partial U \\
# \partial(U \ndot{\ax} V) &= U \ndot{\ax} \partial V + V \ndot{\ax} \partial U \\
# \partial U_s &= [\partial U]_s \\
# \partial U_{\ax \to \ax'} &= [\partial U]_{\ax \to \ax'}
# \end{aligned}
# $$
#
# and for functions applied to $U$:
#
# $$
# \begin{aligned}
# \partial f(U) &= \left.\frac{\partial f}{\partial X^*}\right|_{X=U}
#   \ndot{\mathcal{S}^*} \partial U_{\mathcal{S} \to \mathcal{S}^*}
#   && \text{(chain rule)} \\
# \partial f(U) &= f'(U) \odot \partial U
#   && \text{($f$ elementwise)} \\
# \partial \exp U &= \exp U \odot \partial U.
# \end{aligned}
# $$
#
# The test bed: $X, H \in \reals^{\batch[2] \times \seq[3] \times \key[4]}$ (stored
# in different orders), $U = 1.5 \tanh X + W_1 \odot X$ with
# $W_1 \in \reals^{\seq \times \key}$ (axes $\batch, \seq, \key$), and
# $V = \sigma(X \ndot{\key} W_2) + 0.5$ with $W_2 \in \reals^{\key \times \val[2]}$
# (axes $\batch, \seq, \val$, positive, so that we may divide by it). Each left
# side is `nt.calculus.differential` of the composed function; each right side uses only
# `nt.calculus.differential` of $U$ and $V$ and the rule.

# %%
X = nt.randn(seed=4, batch=2, seq=3, key=4)
H = nt.randn(seed=5, key=4, batch=2, seq=3)
W1 = nt.randn(seed=6, seq=3, key=4)
W2 = nt.randn(seed=7, key=4, val=2)


def u(X):
    return 1.5 * nt.tanh(X) + W1 * X


def v(X):
    return nt.sigmoid(nt.contract(X, W2, over="key")) + 0.5


U, V = u(X), v(X)
dU, dV = nt.calculus.differential(u, X, H), nt.calculus.differential(v, X, H)


def lhs(f):
    """The left side: the differential of the composition, by autograd."""
    return nt.calculus.differential(f, X, H)


# %% [markdown]
# Sum and product. $U$ and $V$ share $\batch$ and $\seq$; the product broadcasts
# over $\key$ and $\val$.

# %%
print(agree(lhs(lambda X: u(X) + v(X)), dU + dV))
print(agree(lhs(lambda X: u(X) * v(X)), U * dV + V * dU))

# %% [markdown]
# Quotient, and a sum over an axis.

# %%
print(agree(lhs(lambda X: u(X) / v(X)), (V * dU - U * dV) / V**2))
print(agree(lhs(lambda X: nt.sum(u(X), "seq")), nt.sum(dU, "seq")))

# %% [markdown]
# Contraction, the product rule with a sum:
# $\partial(U \ndot{\seq} V) = U \ndot{\seq} \partial V + V \ndot{\seq} \partial U$.

# %%
print(agree(lhs(lambda X: nt.contract(u(X), v(X), over="seq")),
            nt.contract(U, dV, over="seq") + nt.contract(V, dU, over="seq")))

# %% [markdown]
# Indexing and renaming commute with $\partial$. (The paper's $\seq(3)$ is
# position 2 in code.)

# %%
print(agree(lhs(lambda X: nt.index(u(X), "seq", 2)), nt.index(dU, "seq", 2)))
print(agree(lhs(lambda X: nt.rename(u(X), {"key": "emb"})),
            nt.rename(dU, {"key": "emb"})))

# %% [markdown]
# The chain rule, for $f = \nfun{\key}{softmax}$ applied to $U$: the derivative of
# $f$ evaluated at $U$ (axes $\batch, \seq, \key$ and their stars), contracted
# with $\partial U^*$ over the starred axes.

# %%
dF = nt.calculus.derivative(lambda Y: nt.softmax(Y, "key"), U)
print(
    agree(
        lhs(lambda X: nt.softmax(u(X), "key")),
        nt.contract(dF, nt.calculus.star(dU), over=("batch*", "seq*", "key*")),
    )
)

# %% [markdown]
# Elementwise functions: $\tanh' = 1 - \tanh^2$ and $\exp' = \exp$.

# %%
print(agree(lhs(lambda X: nt.tanh(u(X))), (1 - nt.tanh(U) ** 2) * dU))
print(agree(lhs(lambda X: nt.exp(u(X))), nt.exp(U) * dU))

# %% [markdown]
# ## Softmax
#
# With the rules, the paper differentiates
# $\nfun{\ax}{softmax} X = \exp X / \nsum{\ax} \exp X$ (quotient, exp and sum
# rules, then simplify):
#
# $$
# \partial \nfun{\ax}{softmax} X = \nfun{\ax}{softmax} X \odot
#   \left(\partial X - \nfun{\ax}{softmax} X \ndot{\ax} \partial X\right).
# $$
#
# For $X \in \reals^{\ax}$, the identification theorem (Appendix B, below) reads
# the derivative off this differential:
#
# $$
# \frac{\partial}{\partial X^*} \nfun{\ax}{softmax} X = \nfun{\ax}{softmax} X
#   \odot \left(I_{\ax,\ax^*} - (\nfun{\ax}{softmax} X)^*\right).
# $$
#
# Both as code:

# %%
nt.source(nt.calculus.softmax_differential, nt.calculus.softmax_derivative)

# %%
X = nt.randn(seed=8, ax=6)
H = nt.randn(seed=9, ax=6)
print(agree(nt.calculus.softmax_differential(X, H, "ax"),
            nt.calculus.differential(lambda X: nt.softmax(X, "ax"), X, H)))
D_formula = nt.calculus.softmax_derivative(X, "ax")
D_auto = nt.calculus.derivative(lambda X: nt.softmax(X, "ax"), X)
print(agree(D_formula, D_auto))

# %% [markdown]
# The picture: entry $(\ax(i), \ax^*(j))$ is how much output $i$ moves when input
# $j$ moves. The diagonal $s_i(1 - s_i)$ is positive; off the diagonal,
# $-s_i s_j$ is negative: raising one input takes probability from all the
# others. Every column sums to 0 because the outputs always sum to 1.

# %% tags=["hide-input"]
s = nt.positional(nt.softmax(X, "ax"), "ax").numpy()
Jm = nt.positional(D_formula, ("ax", "ax*")).numpy()
lim = np.abs(Jm).max()
fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 3.4),
                             gridspec_kw=dict(width_ratios=[1, 1.25]))
a0.bar(range(6), s, color="tab:gray")
a0.set_title("softmax over ax", fontsize=11)
a0.set_xlabel("ax (0-based)", fontsize=10)
im = a1.imshow(Jm, cmap="RdBu_r", vmin=-lim, vmax=lim)
a1.set_title("∂ softmax / ∂X*", fontsize=11)
a1.set_xlabel("ax*", fontsize=10)
a1.set_ylabel("ax", fontsize=10)
fig.colorbar(im, ax=a1)
for a in (a0, a1):
    a.tick_params(labelsize=10)
fig.tight_layout()
plt.show()

# %%
assert np.allclose(Jm.sum(axis=0), 0) and (np.diag(Jm) > 0).all()
assert (Jm[~np.eye(6, dtype=bool)] < 0).all()

# %% [markdown]
# ### Erratum: $\partial/\partial X$ should be $\partial/\partial X^*$
#
# The paper prints the left side of the softmax derivative as
# $\frac{\partial}{\partial X} \nfun{\ax}{softmax} X$, without the star. Taken at
# its word, that tensor would have the output axis $\ax$ and an input axis also
# called $\ax$ — one axis, not two. Renaming $\ax^*$ back to $\ax$ in the right
# side, $I_{\ax,\ax^*}$ becomes $1$ and $(\nfun{\ax}{softmax} X)^*$ becomes
# $\nfun{\ax}{softmax} X$: what is left is only the diagonal
# $s \odot (1 - s)$. Contracted with $H$ it does not give the differential; the
# starred derivative does.

# %%
s = nt.softmax(X, "ax")
unstarred = s * (1 - s)                    # I -> 1, s* -> s
exact = nt.calculus.differential(lambda X: nt.softmax(X, "ax"), X, H)
printed = unstarred * H
corrected = nt.contract(D_formula, nt.calculus.star(H), over="ax*")
gap = nt.calculus.max_difference(printed, exact)
print(f"printed (unstarred) form: max difference {gap:.3f}")
assert not gap < 1e-6
print("corrected form:", agree(corrected, exact))

# %% [markdown]
# ## The derivative of a lift is not the lift of the derivative
#
# Softmax over $\ax$ applied to $X \in \reals^{\batch[3] \times \ax[4]}$ is the lift
# of the one-axis softmax over $\batch$ (§3.1). Lifting the one-axis derivative
# over $\batch$ gives a tensor $g^{\batch}(X)$ with axes $\batch, \ax, \ax^*$ —
# each row's own Jacobian. The derivative of the lifted function has one more
# axis, $\batch^*$: row $b$ of the output could in principle depend on row $b^*$
# of the input. It does not, and the paper's formula says so with an identity
# tensor:
#
# $$
# \frac{\partial f^{\mathcal{S}'}(X)}{\partial X^*}
#   = g^{\mathcal{S}'}(X) \odot I_{\mathcal{S}',\mathcal{S}'^*},
# $$
#
# where $g$ is the derivative of the unlifted $f$.

# %%
nt.source(nt.calculus.derivative_of_lift)

# %%
X = nt.randn(seed=10, batch=3, ax=4)
H = nt.randn(seed=11, ax=4, batch=3)
lift_of_derivative = nt.calculus.softmax_derivative(X, "ax")  # g^{batch}(X)
derivative_of_lift = nt.calculus.derivative(lambda X: nt.softmax(X, "ax"), X)
print("lift of the derivative: ", sorted(nt.shape(lift_of_derivative)))
print("derivative of the lift: ", sorted(nt.shape(derivative_of_lift)))
print(agree(nt.calculus.derivative_of_lift(lift_of_derivative, "batch"),
            derivative_of_lift))

# %% [markdown]
# Where they differ: used as if it were $\partial f / \partial X^*$, the lift of the
# derivative has no $\batch^*$ axis, so contracting it with $H^*$ over all starred
# axes sums $H$ over every row — each output row would respond to every input
# row. The derivative of the lift, block-diagonal in $(\batch, \batch^*)$,
# contracts correctly. (Contracting $g^{\batch}$ over $\ax^*$ alone, with
# $H_{\ax \to \ax^*}$, also works: $\batch$ is then matched by name, which is the
# lift of the differential.)

# %%
exact = nt.calculus.differential(lambda X: nt.softmax(X, "ax"), X, H)
starred = ("batch*", "ax*")
misused = nt.contract(lift_of_derivative, nt.calculus.star(H), over=starred)
gap = nt.calculus.max_difference(misused, exact)
print(f"lift of the derivative, used as ∂f/∂X*: max difference {gap:.3f}")
assert not gap < 1e-6
print(
    agree(
        nt.contract(derivative_of_lift, nt.calculus.star(H), over=starred),
        exact,
    )
)
print(
    agree(
        nt.contract(lift_of_derivative, nt.calculus.star(H, "ax"), over="ax*"),
        exact,
    )
)

# %% [markdown]
# Flattened to a matrix with rows $(\batch, \ax)$ and columns $(\batch^*, \ax^*)$,
# the derivative of the lift is block diagonal, one $4 \times 4$ softmax Jacobian
# per row of $X$; the off-diagonal blocks are exactly zero.

# %% tags=["hide-input"]
M = nt.flatten(nt.flatten(derivative_of_lift, ("batch", "ax"), "row"),
               ("batch*", "ax*"), "col")
Mm = nt.positional(M, ("row", "col")).numpy()
lim = np.abs(Mm).max()
fig, ax = plt.subplots(figsize=(4.8, 4))
im = ax.imshow(Mm, cmap="RdBu_r", vmin=-lim, vmax=lim)
for k in range(1, 3):
    ax.axhline(4 * k - 0.5, color="k", lw=0.6)
    ax.axvline(4 * k - 0.5, color="k", lw=0.6)
ax.set_xlabel("(batch*, ax*)", fontsize=10)
ax.set_ylabel("(batch, ax)", fontsize=10)
ax.set_title("∂ softmax_ax X / ∂X*, X with a batch axis", fontsize=11)
ax.tick_params(labelsize=10)
fig.colorbar(im, ax=ax)
fig.tight_layout()
plt.show()

# %%
blocks = Mm.reshape(3, 4, 3, 4)
assert all(np.all(blocks[b, :, c, :] == 0)
           for b in range(3) for c in range(3) if b != c)

# %% [markdown]
# ## Self-attention
#
# The paper's extended example differentiates attention for one query,
# $Q \in \reals^{\key}$, $K \in \reals^{\seq \times \key}$,
# $V \in \reals^{\seq \times \val}$, leaving out the factor $1/\sqrt{|\key|}$ (it
# only rescales $Q$):
#
# $$
# \text{Att}(Q, K, V) = \alpha \ndot{\seq} V, \qquad
# \alpha = \nfun{\seq}{softmax}(Q \ndot{\key} K).
# $$
#
# Its three derivatives, with the parentheses of the last one balanced:
#
# $$
# \begin{aligned}
# \frac{\partial \text{Att}}{\partial V^*} &= \alpha_{\seq \to \seq^*} \odot
#   I_{\val,\val^*} \\
# \frac{\partial \text{Att}}{\partial Q^*} &= V \ndot{\seq} \left(\alpha \odot
#   \left(K_{\key \to \key^*} - \alpha \ndot{\seq} K_{\key \to \key^*}\right)
#   \right) \\
# \frac{\partial \text{Att}}{\partial K^*} &= V \ndot{\seq} \left(\alpha \odot
#   \left(Q^* \odot I_{\seq,\seq^*} - \alpha \ndot{\seq}
#   \left(Q^* \odot I_{\seq,\seq^*}\right)\right)\right)
# \end{aligned}
# $$

# %%
nt.source(
    nt.calculus.attention_unscaled,
    nt.calculus.attention_dV,
    nt.calculus.attention_dQ,
    nt.calculus.attention_dK,
)

# %% [markdown]
# Each formula against `nt.calculus.derivative` of attention in that argument, with
# $|\seq| = 5$, $|\key| = 3$, $|\val| = 2$:

# %%
Q = nt.randn(seed=12, key=3)
K = nt.randn(seed=13, seq=5, key=3)
V = nt.randn(seed=14, val=2, seq=5)
att = nt.calculus.attention_unscaled
dAtt_dQ = nt.calculus.derivative(lambda Q: att(Q, K, V), Q)
dAtt_dK = nt.calculus.derivative(lambda K: att(Q, K, V), K)
dAtt_dV = nt.calculus.derivative(lambda V: att(Q, K, V), V)
print("∂Att/∂Q*:", agree(nt.calculus.attention_dQ(Q, K, V), dAtt_dQ))
print("∂Att/∂K*:", agree(nt.calculus.attention_dK(Q, K, V), dAtt_dK))
print("∂Att/∂V*:", agree(nt.calculus.attention_dV(Q, K, V), dAtt_dV))

# %% [markdown]
# The three derivatives as blocks, one row per output entry $\val$: the $\key^*$
# columns of $\partial\text{Att}/\partial Q^*$; the $(\seq^*, \key^*)$ columns of
# $\partial\text{Att}/\partial K^*$ (one block of $|\key|$ columns per key
# position); the $(\seq^*, \val^*)$ columns of $\partial\text{Att}/\partial V^*$,
# where output $\val(i)$ depends only on input $\val^*(i)$, with weight
# $\alpha_{\seq^*}$.

# %% tags=["hide-input"]
panels = [
    ("∂Att/∂Q*", nt.positional(dAtt_dQ, ("val", "key*")), None),
    ("∂Att/∂K*",
     nt.positional(dAtt_dK, ("val", "seq*", "key*")).reshape(2, -1), 3),
    ("∂Att/∂V*",
     nt.positional(dAtt_dV, ("val", "seq*", "val*")).reshape(2, -1), 2),
]
fig, axs = plt.subplots(1, 3, figsize=(8, 2.6),
                        gridspec_kw=dict(width_ratios=[3, 15, 10]))
for a, (title, m, block) in zip(axs, panels):
    m = m.numpy()
    lim = np.abs(m).max()
    a.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    a.set_title(title, fontsize=11)
    a.set_yticks([0, 1])
    a.set_ylabel("val", fontsize=10)
    if block:
        for k in range(1, m.shape[1] // block):
            a.axvline(block * k - 0.5, color="k", lw=0.6)
    a.tick_params(labelsize=10)
axs[0].set_xticks(range(3))
axs[0].set_xlabel("key*", fontsize=10)
axs[1].set_xticks([3 * k + 1 for k in range(5)], range(5))
axs[1].set_xlabel("seq* (blocks of key*)", fontsize=10)
axs[2].set_xticks([2 * k + 0.5 for k in range(5)], range(5))
axs[2].set_xlabel("seq* (blocks of val*)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Erratum: the parentheses of $\partial\text{Att}/\partial K^*$
#
# In the paper's formula for $\partial\text{Att}/\partial K^*$ the parentheses do
# not balance, so the reader must guess where the inner group ends. Above
# it is closed after $I_{\seq,\seq^*}$, so that $\alpha \ndot{\seq}$ applies to
# the product $Q^* \odot I_{\seq,\seq^*}$; that version matches autograd. The
# other reading, $(\alpha \ndot{\seq} Q^*) \odot I_{\seq,\seq^*}$, contracts $\alpha$
# with $Q^*$ alone. Since $Q^*$ has no $\seq$ axis and $\alpha$ sums to 1 over
# $\seq$, that is just $Q^*$, the bracket becomes
# $Q^* \odot I - Q^* \odot I = 0$, and the "derivative" is zero.

# %%
alpha = nt.softmax(nt.contract(Q, K, over="key"), "seq")
I_seq = nt.calculus.identity("seq", "seq*", 5)
Qs = nt.calculus.star(Q)
QI = nt.contract(Qs, I_seq)                       # Q* ⊙ I_{seq,seq*}
misread = nt.contract(V, alpha * (QI - nt.contract(
    nt.contract(alpha, Qs, over="seq"), I_seq)), over="seq")
gap = nt.calculus.max_difference(misread, dAtt_dK)
print(f"(α ⊙_seq Q*) ⊙ I reading: max difference {gap:.3f}, "
      f"max |entry| {nt.calculus.max_difference(misread, 0 * misread):.3f}")
assert not gap < 1e-6
balanced = nt.contract(V, alpha * (QI - nt.contract(alpha, QI, over="seq")),
                       over="seq")
print("balanced reading:", agree(balanced, dAtt_dK))

# %% [markdown]
# ## Appendix B material: differentiability and identification
#
# Appendix B of the paper puts §5 on a formal footing, following Magnus and
# Neudecker's treatment of matrix calculus. Two facts carry the whole section.
#
# **Differentiability.** $f$ is differentiable at $X$ if some linear function
# $\partial f(X; \cdot)$ makes the remainder
# $f(X + H) - f(X) - \partial f(X; H)$ vanish faster than $\lVert H \rVert$. For
# the smooth functions of this book it vanishes like $\lVert H \rVert^2$.
#
# **First identification theorem.** If the differential can be written as
# $\partial f(X; H) = A \ndot{\mathcal{S}^*} H^*$ for a tensor $A$ that does not
# depend on $H$, then $A = \partial f / \partial X^*$. This is how the paper turns
# each differential it computes by the rules into a derivative.
#
# ### Identification as code
#
# A differential written with named operations can be evaluated at an $H$ with
# *more* axes than $X$: it lifts over them. Feed it
# $H = I_{\mathcal{S},\mathcal{S}^*}$, the product of one identity tensor per axis
# of $X$. Its axes $\mathcal{S}$ are the ones the differential consumes; its axes
# $\mathcal{S}^*$ are extra, and the differential is lifted over them. At each
# record $s^*$ of the extra axes, this $H$ is the unit tensor with a single 1 at
# position $s^*$, and $A \ndot{\mathcal{S}^*} H^*$ picks out the slice of $A$ at
# $s^*$. Collecting the slices along $\mathcal{S}^*$ gives back $A$: the
# derivative is read off by one call.

# %%
nt.source(nt.calculus.identity_like, nt.calculus.identify)

# %% [markdown]
# Applied to the softmax differential, on a tensor with a lifted axis:

# %%
X = nt.randn(seed=15, batch=2, ax=4)
A = nt.calculus.identify(
    lambda H: nt.calculus.softmax_differential(X, H, "ax"), X
)
print(sorted(nt.shape(A)))
print(agree(A, nt.calculus.derivative(lambda X: nt.softmax(X, "ax"), X)))

# %% [markdown]
# and to the differential of attention in $Q$, derived by the rules (chain rule
# through softmax, then the contraction rule):
# $\partial\text{Att}(Q; H) = V \ndot{\seq} \partial\alpha$ with
# $\partial\alpha = \alpha \odot (K \ndot{\key} H - \alpha \ndot{\seq}
# (K \ndot{\key} H))$. Identification recovers $\partial\text{Att}/\partial Q^*$.

# %%
def att_differential_in_Q(H):
    dS = nt.contract(K, H, over="key")
    d_alpha = alpha * (dS - nt.contract(alpha, dS, over="seq"))
    return nt.contract(V, d_alpha, over="seq")


print(agree(nt.calculus.identify(att_differential_in_Q, Q), dAtt_dQ))

# %% [markdown]
# ### Differentiability, made visible
#
# For a direction $H$ and a step size $t$, the remainder
# $r(t) = \lVert f(X + tH) - f(X) - \partial f(X; tH) \rVert$ (the 2-norm over all
# axes) should shrink like $t^2$: on a log–log plot, a line of slope 2. We measure
# it for softmax, attention (as a function of the keys, with the usual
# $1/\sqrt{|\key|}$ factor this time), and LayerNorm over $\layer, \chans$
# (with $\gamma$, $\beta$ random), in float64, for $t$ from $10^{-5}$ to
# $10^{-1}$, and fit the slope.


# %%
def remainder(f, X, H, t):
    Y0, dY = f(X), nt.calculus.differential(f, X, H)
    r = f(X + t * H) - Y0 - t * dY
    return float(nt.norm(r, tuple(nt.shape(r))))


Xs = nt.randn(seed=16, batch=2, seq=5)
Qa, Ka = nt.randn(seed=17, key=3), nt.randn(seed=18, seq=5, key=3)
Va = nt.randn(seed=19, seq=5, val=2)
Xl = nt.randn(seed=20, batch=2, chans=3, layer=4)
gamma = 1 + 0.3 * nt.randn(seed=21, chans=3, layer=4)
beta = nt.randn(seed=22, layer=4, chans=3)
cases = {
    "softmax_seq": (lambda X: nt.softmax(X, "seq"), Xs),
    "attention (in K)": (lambda K: nt.attention(Qa, K, Va), Ka),
    "LayerNorm": (lambda X: nt.layer_norm(X, gamma, beta), Xl),
}
ts = np.logspace(-5, -1, 9)
slopes, curves = {}, {}
for i, (name, (f, X0)) in enumerate(cases.items()):
    H = nt.randn(seed=30 + i, **nt.shape(X0))
    r = np.array([remainder(f, X0, H, t) for t in ts])
    curves[name] = r
    slopes[name] = np.polyfit(np.log10(ts), np.log10(r), 1)[0]
    print(f"{name:18s} fitted slope {slopes[name]:.1f}")
assert all(1.9 <= k <= 2.1 for k in slopes.values()), slopes

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.8))
for (name, r), mk in zip(curves.items(), "osd"):
    ax.loglog(ts, r, marker=mk, label=f"{name} (slope {slopes[name]:.1f})")
guide = 0.1 * curves["attention (in K)"][-1] * (ts / ts[-1]) ** 2
ax.loglog(ts, guide, "k:", label="slope 2")
ax.set_xlabel("step size t", fontsize=10)
ax.set_ylabel("‖f(X+tH) − f(X) − ∂f(X; tH)‖", fontsize=10)
ax.tick_params(labelsize=10)
ax.legend(fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# A wrong "differential" fails this test visibly: with the lift of the derivative
# misused as above, or the unstarred softmax derivative, the remainder keeps a
# term linear in $t$ and the slope drops to 1.

# %%
Xb = nt.randn(seed=23, ax=4)
Hb = nt.randn(seed=24, ax=4)
sb = nt.softmax(Xb, "ax")
wrong = sb * (1 - sb) * Hb                     # the unstarred reading
r_wrong = [float(nt.norm(nt.softmax(Xb + t * Hb, "ax") - sb - t * wrong,
                         "ax")) for t in ts]
slope_wrong = np.polyfit(np.log10(ts), np.log10(r_wrong), 1)[0]
print(f"unstarred softmax derivative: fitted slope {slope_wrong:.1f}")
assert abs(slope_wrong - 1) < 0.1

# %% [markdown]
# ## Exercises
#
# Each answer is a function; `nt.exercises.report` runs it on several cases,
# including sizes, axis orders and an extra axis that the prompt does not show,
# and compares it with a reference. The references are written with the rules
# of this chapter and tested against autograd.
#
# ### Exercise 5.1: the differential of $X \odot X$
#
# For $X, H \in \reals^{\batch \times \dd}$, write `answer(X, H)` returning
# $\partial (X \odot X)(X; H)$, by the product rule.

# %%
def answer(X, H):
    return X * H          # replace with your answer


nt.exercises.report("5.1", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("5.1")))
nt.exercises.check("5.1", nt.exercises.solution("5.1"))

# %% [markdown]
# ### Exercise 5.2: the differential of a squared norm
#
# For $X, H \in \reals^{\batch \times \dd}$, write `answer(X, H, *, d="d")`
# returning $\partial (X \ndot{\dd} X)(X; H)$, an element of $\reals^{\batch}$.

# %%
def answer(X, H, *, d="d"):
    return nt.contract(X, H, over=d)          # replace with your answer


nt.exercises.report("5.2", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("5.2")))
nt.exercises.check("5.2", nt.exercises.solution("5.2"))

# %% [markdown]
# ### Exercise 5.3: the derivative of an elementwise function
#
# For $X \in \reals^{\mathcal{S}}$, write `answer(X, H)` returning
# $\partial \sigma(X) / \partial X^*$ (the logistic sigmoid $\sigma$,
# elementwise; $H$ is not needed). Its axes are $\mathcal{S}$ and
# $\mathcal{S}^*$ — all of them, whatever $X$ has. Hint: `nt.calculus.identity_like`.

# %%
def answer(X, H):
    s = nt.sigmoid(X)
    return s * (1 - s)    # replace with your answer


nt.exercises.report("5.3", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("5.3")))
nt.exercises.check("5.3", nt.exercises.solution("5.3"))

# %% [markdown]
# ### Exercise 5.4: the differential of log-softmax
#
# Write `answer(X, H, *, ax="ax")` returning
# $\partial \log \nfun{\ax}{softmax} X \,(X; H)$. Use the chain rule for $\log$
# and the softmax differential; the result simplifies.

# %%
def answer(X, H, *, ax="ax"):
    return nt.calculus.softmax_differential(
        X, H, ax
    )  # replace with your answer


nt.exercises.report("5.4", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("5.4")))
nt.exercises.check("5.4", nt.exercises.solution("5.4"))

# %% [markdown]
# ### Exercise 5.5: the differential of attention in its keys
#
# For unscaled attention $\text{Att}(Q, K, V)$ as above, write
# `answer(Q, K, V, H, *, key="key", seq="seq")` returning the differential in
# $K$, $\partial\text{Att}(Q, K, V)(K; H)$ with $H \in \reals^{\seq \times \key}$.
# Check yourself: identification (`nt.calculus.identify`) of your answer should give
# `nt.calculus.attention_dK`. The checker also gives $Q$ an extra axis of queries.

# %%
def answer(Q, K, V, H, *, key="key", seq="seq"):
    alpha = nt.softmax(nt.contract(Q, K, over=key), seq)
    return nt.contract(V, alpha, over=seq)      # replace with your answer


nt.exercises.report("5.5", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("5.5")))
nt.exercises.check("5.5", nt.exercises.solution("5.5"))
