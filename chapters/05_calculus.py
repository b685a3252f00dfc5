# %% [markdown]
# # Differential calculus
#
# This chapter follows §5 and Appendix B of *Named Tensor Notation*
# {cite}`chiang+:2023`: how to differentiate functions of named tensors. The
# paper works with *differentials* — the part of a change in the output that is
# linear in a change of the input — in the manner of
# {cite:t}`magnus+neudecker:1985`, and derives everything from a handful of rules.
# Here every definition, rule and theorem is a numbered block followed by the
# cell that executes it: both sides are computed independently on random
# float64 tensors with several axes — one by automatic differentiation of the
# composed function or by finite differences, the other by the rule — and a
# cell asserts that they agree. The worked results of §5 (softmax and
# self-attention) are checked the same way, including two places where the
# print differs from what holds.
#
# The code lives in `ntlib.calculus` (`nt.calculus`). Its two workhorses,
# `derivative` and `differential`, wrap PyTorch's `torch.func.jacrev` (reverse
# mode) and `torch.func.jvp` (forward mode); `partial_derivatives` computes the
# definition literally, by finite differences, with no autograd at all;
# everything else is a named formula.

# %%
import logging

logging.getLogger("matplotlib").setLevel(logging.ERROR)  # no font-cache notice
import matplotlib.pyplot as plt
import numpy as np
import torch

import ntlib as nt
from ntlib.testing import agree

f64 = torch.float64
calc = nt.calculus


# %% [markdown]
# ## Derivatives and starred axes
#
# The paper opens §5 with the trouble positional notation has here. The
# partial derivatives of a function from vectors to vectors form a matrix, the
# Jacobian, with one axis for the directions in which the input can change and
# one for the directions in which the output can. Which comes first is a
# convention, and both are in use: the output first is called *numerator
# layout*, the input first *denominator layout*. A function from vectors to
# matrices, or from matrices to vectors, has no matrix derivative at all until
# the matrices are flattened into vectors. In index notation derivatives are
# not hard {cite}`laue+:2018`, but again only by convention: the output's
# indices come first and the input's after them, set off by a comma. Named
# axes have no order, so there is nothing to remember about which comes first;
# what must hold instead is that the input's axes and the output's axes have
# different names. (PyTorch's `jacobian`, used below, puts the output's
# dimensions first: numerator layout.)
#
# Take $X \in \reals^{\seq}$ and $f = \nfun{\seq}{softmax}$. The output also has
# the axis $\seq$, and the derivative needs one axis for the output position and
# one for the input position; with names, both would be called $\seq$. Once $f$ is lifted over more axes
# ($\batch$, $\heads$, ...), which dimension of a positional Jacobian is which is
# only a convention of the code that produced it. The paper gives the input's
# copy of each axis its own name, marked with a star.
#
# ```{prf:definition} Starred axes (§5.1; the paper's Definition 7)
# :label: def-starred-axes
#
# For a shape $\mathcal{S} = \ax_1 \times \cdots \times \ax_r$, its starred
# copy is $\mathcal{S}^* = \ax_1^* \times \cdots \times \ax_r^*$; a record
# $s = \{\ax_1(i_1), \ldots, \ax_r(i_r)\}$ becomes
# $s^* = \{\ax_1^*(i_1), \ldots, \ax_r^*(i_r)\}$, and a tensor
# $X \in \reals^{\mathcal{S}}$ becomes $X^* = X_{\mathcal{S} \to \mathcal{S}^*}$.
# ```
#
# <!-- ntn: identity; ~I_{\ax,\ax'}=I; I=N(torch.eye(size["ax"], dtype=torch.float64), "ax", "ax'"); A[ax,height]; at=2 -->
# In `ntlib` the starred name of an axis is the name followed by `*`.
# `calc.star` renames; `calc.identity` makes the identity tensor
# $I_{\ax,\ax'} \in \reals^{\ax[n] \times \ax'[n]}$ (1 where the two indices
# agree, else 0), which §5.3 uses to write renaming as a contraction,
# $A_{\ax \to \ax'} = I_{\ax,\ax'} \ndot{\ax} A$ (the paper's equation (12)):

# %%
nt.source(nt.calculus.star, nt.calculus.identity)

# %%
A = nt.randn(seed=1, seq=3, key=4)
I_key = calc.identity("key", "key*", 4)
print(sorted(nt.shape(calc.star(A))))
print(agree(nt.contract(I_key, A, over="key"), calc.star(A, "key")))
nt.show(I_key, ("key", "key*"))

# %% [markdown]
# ```{prf:definition} Derivative (§5.1; the paper's Definition 8)
# :label: def-derivative
#
# Let $f \colon \reals^{\mathcal{S}} \to \reals^{\mathcal{T}}$. The
# derivative of $f(X)$ with respect to $X^*$ is the tensor
# $\dfrac{\partial f(X)}{\partial X^*} \in
# \reals^{\mathcal{S}^* \cup \mathcal{T}}$ with
# $\left[\dfrac{\partial f(X)}{\partial X^*}\right]_{s^*, t} =
# \dfrac{\partial f(X)_t}{\partial X_s}$ for all
# $s \in \rec \mathcal{S}$, $t \in \rec \mathcal{T}$.
# ```
#
# The definition needs $\mathcal{S}^*$ and $\mathcal{T}$ to be orthogonal
# (no shared names); the star is there to make them so. Where it does not
# suffice, the input's axes get yet another mark. The paper's example is the
# second derivative, the Hessian, whose two input copies are starred and
# daggered:
#
# $$
# \frac{\partial^2 f(X)}{\partial X^* \, \partial X^\dagger} \in
#   \reals^{\mathcal{S}^* \cup \mathcal{S}^\dagger \cup \mathcal{T}}, \qquad
# \left[\frac{\partial^2 f(X)}{\partial X^* \, \partial X^\dagger}
#   \right]_{r^*, s^\dagger, t} = \frac{\partial^2 f(X)_t}{\partial X_r \,
#   \partial X_s}
# \quad \text{for all } r, s \in \rec \mathcal{S},\ t \in \rec \mathcal{T}.
# $$
# `calc.partial_derivatives(f, X)` computes the definition literally, one
# partial derivative at a time, as a central difference — no automatic
# differentiation. `calc.derivative(f, X)` computes the same tensor by
# reverse-mode autograd, and `calc.differential(f, X, H)` the contraction
# $\frac{\partial f}{\partial X^*} \ndot{\mathcal{S}^*} H^*$ by forward mode,
# without forming the derivative. Both hand a *positional* version of $f$ to
# PyTorch: they fix an order for the axes of $X$, rebuild the named tensor
# inside, call $f$, and read its output in a fixed order. The orders are
# internal; the result is named.

# %%
nt.source(nt.calculus.partial_derivatives, nt.calculus.derivative,
          nt.calculus.differential)

# %% [markdown]
# A first check, on a lifted softmax: $X \in \reals^{\batch[2] \times \seq[3]}$,
# softmax over $\seq$. The derivative has the output axes $\batch, \seq$ and the
# starred input axes $\batch^*, \seq^*$. The three computations agree: the
# definition by finite differences, reverse mode, and
# `torch.autograd.functional.jacobian` applied to positional code written
# separately (dim 0 = batch, dim 1 = seq, in and out).

# %%
X = nt.randn(seed=2, batch=2, seq=3)
H = nt.randn(seed=3, seq=3, batch=2)        # another storage order


def softmax_seq(X):
    return nt.softmax(X, "seq")


D = calc.derivative(softmax_seq, X)
print(sorted(nt.shape(D).items()))
print("definition (finite differences) and reverse mode:")
print("  ", agree(calc.partial_derivatives(softmax_seq, X), D, tol=1e-8))

x = nt.positional(X, ("batch", "seq"))
J = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, 1), x)
order = ("batch", "seq", "batch*", "seq*")
assert torch.allclose(nt.positional(D, order), J, rtol=1e-12, atol=1e-14)
dY = calc.differential(softmax_seq, X, H)
print("forward mode:",
      agree(dY, nt.contract(D, calc.star(H), over=("batch*", "seq*"))))

# %% [markdown]
# The Hessian, run: $f(X) = \log \nsum{\seq} \exp X$ on
# $X \in \reals^{\batch[2] \times \seq[3]}$, so $\mathcal{T} = \batch$. The
# first derivative has axes $\batch^*, \seq^*, \batch$; renamed to daggers
# and differentiated again, it gains $\batch^*, \seq^*$. Positionally,
# `torch.autograd.functional.hessian` of each output entry $f(X)_t$ gives the
# same numbers:

# %%
def log_sum_exp(X):
    return nt.log(nt.sum(nt.exp(X), "seq"))


def first_derivative_daggered(X):
    D1 = calc.derivative(log_sum_exp, X)
    return nt.rename(D1, {"batch*": "batch†", "seq*": "seq†"})


Hess = calc.derivative(first_derivative_daggered, X)
print(sorted(nt.shape(Hess).items()))
per_t = torch.stack([
    torch.autograd.functional.hessian(
        lambda x, t=t: torch.logsumexp(x, 1)[t], x)
    for t in range(2)])          # (t, r_batch, r_seq, s_batch, s_seq)
hess_order = ("batch", "batch*", "seq*", "batch†", "seq†")
assert torch.allclose(nt.positional(Hess, hess_order), per_t,
                      rtol=1e-10, atol=1e-12)
print("the Hessian by name equals torch's, entry by entry")

# %% [markdown]
# ## Differentials and their rules
#
# Near a point $X$, a differentiable $f$ is its value plus a linear function of
# the step $H$ plus something smaller than $H$ (§5.2):
#
# <!-- ntn: excluded; id=first-order-approx; reason=an approximation (\approx) whose derivative is written as an operator on f (checked by finite differences in the cells) -->
# $$
# f(X + H) \approx f(X) + \frac{\partial f(X)}{\partial X^*}
#   \ndot{\mathcal{S}^*} H^*, \qquad H \in \reals^{\mathcal{S}}.
# $$
#
# The linear term is the **differential** $\partial f(X; H)$; Appendix B makes
# "smaller than $H$" precise ({prf:ref}`def-differentiable` below). The paper
# computes differentials by rules, as in one-variable calculus, writing
# $\partial U$ for the differential of an expression $U$ in $X$ (so
# $\partial X = H$).
#
# Two worked examples come first in the paper (§5.2, equations (8a) and (8b)).
# The identity: $\text{id}(X + H) = X + H$, so
# $\partial\,\text{id}(X; H) = H$ (8a). A squared norm,
# $f(X) = X \ndot{\ax} X$ for $X \in \reals^{\ax}$: expanding,
# $f(X + H) = X \ndot{\ax} X + 2 X \ndot{\ax} H + H \ndot{\ax} H$, and the
# part linear in $H$ is $\partial f(X; H) = 2 X \ndot{\ax} H$ (8b); written
# with $\partial X$ in place of $H$, $\partial(X \ndot{\ax} X) = 2 X \ndot{\ax}
# \partial X$. Both, run: the expansion holds exactly, what is left over is
# quadratic in $H$ (a step ten times smaller leaves a remainder a hundred
# times smaller), and forward-mode autograd agrees with each differential.

# %%
Xa = nt.randn(seed=30, ax=5)
Ha = nt.randn(seed=31, ax=5)


def sq_norm(X):
    return nt.contract(X, X, over="ax")


agree(calc.differential(lambda X: X, Xa, Ha), Ha)                     # (8a)
agree(calc.differential(sq_norm, Xa, Ha), 2 * nt.contract(Xa, Ha, over="ax"))
expansion = (sq_norm(Xa) + 2 * nt.contract(Xa, Ha, over="ax")
             + sq_norm(Ha))
agree(sq_norm(Xa + Ha), expansion)                                    # (8b)
lin = nt.contract(Xa, Ha, over="ax")
rest = [sq_norm(Xa + h * Ha) - sq_norm(Xa) - 2 * h * lin for h in (1e-1, 1e-2)]
ratio = float(nt.positional(rest[0] / rest[1], ()))
assert abs(ratio - 100) < 1e-6
print("(8a) and (8b) hold; the remainder shrinks 100-fold for a 10-fold "
      "smaller step")

# %% [markdown]
# Each rule below is run on a test bed:
# $X, H \in \reals^{\batch[2] \times \seq[3] \times \key[4]}$ (stored in different
# orders), $U = 1.5 \tanh X + W_1 \odot X$ with $W_1 \in \reals^{\seq \times \key}$
# (axes $\batch, \seq, \key$), and $V = \sigma(X \ndot{\key} W_2) + 0.5$ with
# $W_2 \in \reals^{\key \times \val[2]}$ (axes $\batch, \seq, \val$, positive, so
# that we may divide by it). Each left side is `calc.differential` of the
# composed function (forward-mode autograd); each right side uses only the
# differentials of $U$ and $V$ and the rule.

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
dU, dV = calc.differential(u, X, H), calc.differential(v, X, H)


def lhs(f):
    """The left side: the differential of the composition, by autograd."""
    return calc.differential(f, X, H)


# %% [markdown]
# ```{prf:proposition} Sum rule (§5.2, equation (9a))
# :label: rule-sum
#
# $\partial (U + V) = \partial U + \partial V$.
# ```
#
# $U$ and $V$ share $\batch$ and $\seq$; the sum broadcasts over $\key$ and
# $\val$.

# %%
print(agree(lhs(lambda X: u(X) + v(X)), dU + dV))

# %% [markdown]
# ```{prf:proposition} Product rule (§5.2, equation (9b))
# :label: rule-product
#
# $\partial (U \odot V) = U \odot \partial V + V \odot \partial U$.
# ```

# %%
print(agree(lhs(lambda X: u(X) * v(X)), U * dV + V * dU))

# %% [markdown]
# ```{prf:proposition} Quotient rule (§5.2, equation (9c))
# :label: rule-quotient
#
# $\partial \left(\dfrac{U}{V}\right) =
# \dfrac{V \odot \partial U - U \odot \partial V}{V^2}$.
# ```

# %%
print(agree(lhs(lambda X: u(X) / v(X)), (V * dU - U * dV) / V**2))

# %% [markdown]
# ```{prf:proposition} Sum over an axis (§5.2, equation (9d))
# :label: rule-nsum
#
# <!-- ntn: identity; ~\partial \nsum{\ax} U=\mathrm{dsum}(U); ~\partial U=H; U[ax,batch]; H[ax,batch]; dsum=lambda U: N(torch.func.jvp(lambda u: u.sum(0), (P(U, "ax", "batch"),), (P(V["H"], "ax", "batch"),))[1], "batch") -->
# $\partial \nsum{\ax} U = \nsum{\ax} \partial U$.
# ```

# %%
print(agree(lhs(lambda X: nt.sum(u(X), "seq")), nt.sum(dU, "seq")))

# %% [markdown]
# ```{prf:proposition} Contraction rule (§5.2, equation (9e))
# :label: rule-contraction
#
# <!-- ntn: identity; ~\partial (U \ndot{\ax} V)=\mathrm{dprod}(U, V); ~\partial V=H; ~\partial U=G; U[ax,batch]; V[ax,height]; G[ax,batch]; H[ax,height]; dprod=lambda U, W: N(torch.func.jvp(lambda u, w: u.T @ w, (P(U, "ax", "batch"), P(W, "ax", "height")), (P(V["G"], "ax", "batch"), P(V["H"], "ax", "height")))[1], "batch", "height") -->
# $\partial (U \ndot{\ax} V) = U \ndot{\ax} \partial V + V \ndot{\ax} \partial U$.
# ```

# %%
print(agree(lhs(lambda X: nt.contract(u(X), v(X), over="seq")),
            nt.contract(U, dV, over="seq") + nt.contract(V, dU, over="seq")))

# %% [markdown]
# ```{prf:proposition} Indexing (§5.2, equation (9f))
# :label: rule-index
#
# $\partial U_s = [\partial U]_s$.
# ```
#
# (The record $s = \{\seq(3)\}$ is position 2 in code.)

# %%
print(agree(lhs(lambda X: nt.index(u(X), "seq", 2)), nt.index(dU, "seq", 2)))

# %% [markdown]
# ```{prf:proposition} Renaming (§5.2, equation (9g))
# :label: rule-rename
#
# $\partial U_{\ax \to \ax'} = [\partial U]_{\ax \to \ax'}$.
# ```

# %%
print(agree(lhs(lambda X: nt.rename(u(X), {"key": "emb"})),
            nt.rename(dU, {"key": "emb"})))

# %% [markdown]
# ```{prf:proposition} Chain rule (§5.2, equation (9h))
# :label: rule-chain
#
# For $f \colon \reals^{\mathcal{S}} \to \reals^{\mathcal{T}}$,
# $\partial f(U) = \left.\dfrac{\partial f(X)}{\partial X^*}\right|_{X=U}
# \ndot{\mathcal{S}^*} \partial U_{\mathcal{S} \to \mathcal{S}^*}$.
# ```
#
# Here $f = \nfun{\key}{softmax}$ applied to $U$: the derivative of $f$ at $U$
# (axes $\batch, \seq, \key$ and their stars), contracted with $\partial U^*$
# over the starred axes.

# %%
dF = calc.derivative(lambda Y: nt.softmax(Y, "key"), U)
print(agree(lhs(lambda X: nt.softmax(u(X), "key")),
            nt.contract(dF, calc.star(dU), over=("batch*", "seq*", "key*"))))

# %% [markdown]
# ```{prf:proposition} Elementwise functions (§5.2, equation (9i))
# :label: rule-elementwise
#
# For $f \colon \reals \to \reals$ applied elementwise,
# $\partial f(U) = \left.\dfrac{\mathrm{d} f(x)}{\mathrm{d} x}\right|_{x=U}
# \odot \partial U$.
# ```
#
# With $f = \tanh$, $\tanh' = 1 - \tanh^2$:

# %%
print(agree(lhs(lambda X: nt.tanh(u(X))), (1 - nt.tanh(U) ** 2) * dU))

# %% [markdown]
# ```{prf:proposition} Exponential (§5.2, equation (9j))
# :label: rule-exp
#
# $\partial (\exp U) = \exp U \odot \partial U$.
# ```

# %%
print(agree(lhs(lambda X: nt.exp(u(X))), nt.exp(U) * dU))

# %% [markdown]
# ## Softmax
#
# <!-- ntn: identity; X[ax,batch] -->
# With the quotient, sum and exp rules, §5.2 differentiates
# $\nfun{\ax}{softmax} X = \exp X / \nsum{\ax} \exp X$ and simplifies to its
# equation (10):
#
# <!-- ntn: definition; ~\partial (\nfun{\ax}{softmax} X)=\mathrm{dS}(X); ~\partial X=H; X[ax,batch]; H[ax,batch]; dS=lambda X: N(torch.func.jvp(lambda x: torch.softmax(x, 0), (P(X, "ax", "batch"),), (P(V["H"], "ax", "batch"),))[1], "ax", "batch"); ~\nfun{\ax}{softmax} X=(\nfun{\ax}{softmax} X) -->
# $$
# \partial (\nfun{\ax}{softmax} X) = \nfun{\ax}{softmax} X \odot
#   \left(\partial X - \nfun{\ax}{softmax} X \ndot{\ax} \partial X\right).
# $$
#
# <!-- ntn: identity; ~\partial X^*=S; ~\partial X=H; ~I_{\ax,\ax^*}=I; H[ax,batch]; S=nt.calculus.star(V["H"], "ax"); I=N(torch.eye(size["ax"], dtype=torch.float64), "ax", "ax*") -->
# §5.3 then writes $\partial X = I_{\ax,\ax^*} \ndot{\ax^*} \partial X^*$ (its
# equation (13)), moves the contraction with $\partial X^*$ to the outside, and
# reads the derivative off the result by the identification theorem
# ({prf:ref}`thm-identification` below), for $X \in \reals^{\ax}$:
#
# <!-- ntn: definition; ~\frac{\partial}{\partial X^*} \nfun{\ax}{softmax} X=\mathrm{D}(X); ~I_{\ax,\ax^*}=I; ~(\nfun{\ax}{softmax} X)^*=\mathrm{star}(\nfun{\ax}{softmax} X); star=nt.calculus.star; I=N(torch.eye(size["ax"], dtype=torch.float64), "ax", "ax*"); X[ax]; D=lambda X: N(torch.autograd.functional.jacobian(lambda x: torch.softmax(x, 0), P(X, "ax")), "ax", "ax*"); ~\nfun{\ax}{softmax} X=(\nfun{\ax}{softmax} X) -->
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
print(agree(calc.softmax_differential(X, H, "ax"),
            calc.differential(lambda X: nt.softmax(X, "ax"), X, H)))
D_formula = calc.softmax_derivative(X, "ax")
D_auto = calc.derivative(lambda X: nt.softmax(X, "ax"), X)
print(agree(D_formula, D_auto))

# %% [markdown]
# The picture: entry $(\ax(i), \ax^*(j))$ is how much output $i$ moves when input
# $j$ moves. The diagonal $s_i(1 - s_i)$ is positive; off the diagonal,
# $-s_i s_j$ is negative: raising one input takes probability from all the
# others. Every column sums to 0 because the outputs always sum to 1.

# %% tags=["hide-input"]
s = nt.positional(nt.softmax(X, "ax"), "ax").cpu().numpy()
Jm = nt.positional(D_formula, ("ax", "ax*")).cpu().numpy()
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
# The paper's LaTeX source prints equation (14), the result above, as
#
# ```latex
# \frac{\partial}{\partial X} (\nfun{\ax}{softmax} X) &= \nfun{\ax}{softmax} X
#   \odot (I_{\ax,\ax\inax} - (\nfun{\ax}{softmax} X)\inax)
# ```
#
# where `\inax` is the paper's macro for the star: the left side has no star on
# $X$, the right side has two. The right side, evaluated exactly as printed, is
# the tensor computed above (`calc.softmax_derivative` is its transcription): its
# axes are $\ax$ and $\ax^*$, and it equals the derivative with respect to
# $X^*$ of {prf:ref}`def-derivative`, computed by finite differences. The left
# side as printed cannot be that tensor: by the definition with $X$ unstarred,
# its axes would be $\mathcal{S} \cup \mathcal{T} = \{\ax\} \cup \{\ax\}$, one
# name for two axes, which a named tensor cannot have — `ntlib` refuses to make
# one. So the values printed are right and only the star on the left is
# missing; the same slip recurs in §5.4's sentence "it would be incorrect to
# conclude that $\frac{\partial f^{\mathcal{S}'}(X)}{\partial X} =
# g^{\mathcal{S}'}(X)$".

# %%
s_X = nt.softmax(X, "ax")
eye = calc.identity("ax", "ax*", 6)
printed_rhs = s_X * (eye - calc.star(s_X))         # as printed, term by term
print("printed right side:", sorted(nt.shape(printed_rhs)))
by_definition = calc.partial_derivatives(lambda X: nt.softmax(X, "ax"), X)
print("∂/∂X* by the definition:", agree(printed_rhs, by_definition, tol=1e-8))
J_plain = nt.positional(by_definition, ("ax", "ax*"))
try:                                  # the same numbers, both axes named ax
    nt.tensor(J_plain, ("ax", "ax"))
    raise AssertionError("expected an AxisError")
except nt.AxisError as err:
    print("unstarred left side:", type(err).__name__, "-",
          str(err).split(";")[0])

# %% [markdown]
# ## The derivative of a lift is not the lift of the derivative
#
# Softmax over $\ax$ applied to $X \in \reals^{\batch[3] \times \ax[4]}$ is the lift
# of the one-axis softmax over $\batch$ (§3.1). Lifting the one-axis derivative
# $g$ over $\batch$ gives a tensor $g^{\batch}(X)$ with axes $\batch, \ax, \ax^*$
# — each row's own Jacobian. The derivative of the lifted function has one more
# axis, $\batch^*$: row $b$ of the output could in principle depend on row $b^*$
# of the input. It does not, and §5.4 says so with an identity tensor:
#
# ```{prf:proposition} Derivative of a lift (§5.4)
# :label: prop-lift
#
# If $g(X) = \dfrac{\partial f(X)}{\partial X^*}$ for
# $f \colon \reals^{\mathcal{S}} \to \reals^{\mathcal{T}}$, and $f^{\mathcal{S}'}$
# is the lift of $f$ over $\mathcal{S}'$, then
# $\dfrac{\partial f^{\mathcal{S}'}(X)}{\partial X^*}
# = g^{\mathcal{S}'}(X) \odot I_{\mathcal{S}',\mathcal{S}'^*}$.
# ```

# %%
nt.source(nt.calculus.derivative_of_lift)

# %%
X = nt.randn(seed=10, batch=3, ax=4)
H = nt.randn(seed=11, ax=4, batch=3)
lift_of_derivative = calc.softmax_derivative(X, "ax")      # g^{batch}(X)
derivative_of_lift = calc.derivative(lambda X: nt.softmax(X, "ax"), X)
print("lift of the derivative: ", sorted(nt.shape(lift_of_derivative)))
print("derivative of the lift: ", sorted(nt.shape(derivative_of_lift)))
print(agree(calc.derivative_of_lift(lift_of_derivative, "batch"),
            derivative_of_lift))

# %% [markdown]
# Where they differ: taken for $\partial f / \partial X^*$ — the conclusion §5.4
# warns against — the lift of the derivative has no $\batch^*$ axis, so
# contracting it with $H^*$ over all starred axes sums $H$ over every row: each
# output row would respond to every input row. The derivative of the lift,
# block-diagonal in $(\batch, \batch^*)$, contracts correctly. (Contracting
# $g^{\batch}$ over $\ax^*$ alone, with $H_{\ax \to \ax^*}$, also works:
# $\batch$ is then matched by name, which is the chain rule under lifting.)

# %%
exact = calc.differential(lambda X: nt.softmax(X, "ax"), X, H)
starred = ("batch*", "ax*")
misused = nt.contract(lift_of_derivative, calc.star(H), over=starred)
gap = calc.max_difference(misused, exact)
print(f"lift of the derivative, used as ∂f/∂X*: max difference {gap:.3f}")
assert not gap < 1e-6
print(agree(nt.contract(derivative_of_lift, calc.star(H), over=starred),
            exact))
print(agree(nt.contract(lift_of_derivative, calc.star(H, "ax"), over="ax*"),
            exact))

# %% [markdown]
# Flattened to a matrix with rows $(\batch, \ax)$ and columns $(\batch^*, \ax^*)$,
# the derivative of the lift is block diagonal, one $4 \times 4$ softmax Jacobian
# per row of $X$; the off-diagonal blocks are exactly zero.

# %% tags=["hide-input"]
M = nt.flatten(nt.flatten(derivative_of_lift, ("batch", "ax"), "row"),
               ("batch*", "ax*"), "col")
Mm = nt.positional(M, ("row", "col")).cpu().numpy()
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
# The flattening above chose an order for the picture. treescope (as in
# chapters 2–4) draws the derivative itself, with its four axes named in the
# picture, starred ones included, and places each where we name it (hover on
# an entry for its record, e.g. `{batch: 1, ax: 2, batch*: 1, ax*: 0}`). On
# the left, rows are $\ax$ within $\batch$ and columns $\ax^*$ within
# $\batch^*$: the three Jacobians of the rows of $X$ sit on the diagonal, as
# above. On the right the same tensor with the nesting swapped, $\batch$
# within $\ax$ and $\batch^*$ within $\ax^*$: now each of the $4 \times 4$
# blocks is a diagonal $\batch \times \batch^*$ matrix, the identity
# $I_{\batch,\batch^*}$ of {prf:ref}`prop-lift` scaled by one entry of each
# row's Jacobian.

# %%
import treescope

treescope.figures.inline(
    treescope.render_array(derivative_of_lift, rows=["ax", "batch"],
                           columns=["ax*", "batch*"], pixels_per_cell=10),
    treescope.render_array(derivative_of_lift, rows=["batch", "ax"],
                           columns=["batch*", "ax*"], pixels_per_cell=10),
)

# %% [markdown]
# ## Self-attention
#
# The extended example of §5.5 differentiates attention for one query,
# $Q \in \reals^{\key}$, $K \in \reals^{\seq \times \key}$,
# $V \in \reals^{\seq \times \val}$, leaving out the factor $1/\sqrt{|\key|}$ (it
# only rescales $Q$):
#
# <!-- ntn: definition; Att=nt.calculus.attention_unscaled; Q[key]; K[seq,key]; V[seq,val]; \alpha=nt.softmax(nt.contract(V["Q"], V["K"], over="key"), "seq") -->
# $$
# \text{Att}(Q, K, V) = \alpha \ndot{\seq} V, \qquad
# \alpha = \nfun{\seq}{softmax}(Q \ndot{\key} K).
# $$
#
# Its three derivatives, with the parentheses of the last one balanced (see the
# erratum below):
#
# <!-- ntn: definition; ~\frac{\partial \text{Att}}{\partial V^*}=\mathrm{dV}(Q, K, V); ~\frac{\partial \text{Att}}{\partial Q^*}=\mathrm{dQ}(Q, K, V); ~\frac{\partial \text{Att}}{\partial K^*}=\mathrm{dK}(Q, K, V); dV=nt.calculus.attention_dV; dQ=nt.calculus.attention_dQ; dK=nt.calculus.attention_dK; ~I_{\val,\val^*}=I_v; ~I_{\seq,\seq^*}=I_s; I_v=N(torch.eye(size["val"], dtype=torch.float64), "val", "val*"); I_s=N(torch.eye(size["seq"], dtype=torch.float64), "seq", "seq*"); Q[key]; K[seq,key]; V[seq,val]; \alpha=nt.softmax(nt.contract(V["Q"], V["K"], over="key"), "seq"); Q^*=nt.calculus.star(V["Q"]) -->
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
nt.source(nt.calculus.attention_unscaled, nt.calculus.attention_dV,
          nt.calculus.attention_dQ, nt.calculus.attention_dK)

# %% [markdown]
# Each formula against `calc.derivative` of attention in that argument, with
# $|\seq| = 5$, $|\key| = 3$, $|\val| = 2$:

# %%
Q = nt.randn(seed=12, key=3)
K = nt.randn(seed=13, seq=5, key=3)
V = nt.randn(seed=14, val=2, seq=5)
att = calc.attention_unscaled
dAtt_dQ = calc.derivative(lambda Q: att(Q, K, V), Q)
dAtt_dK = calc.derivative(lambda K: att(Q, K, V), K)
dAtt_dV = calc.derivative(lambda V: att(Q, K, V), V)
print("∂Att/∂Q*:", agree(calc.attention_dQ(Q, K, V), dAtt_dQ))
print("∂Att/∂K*:", agree(calc.attention_dK(Q, K, V), dAtt_dK))
print("∂Att/∂V*:", agree(calc.attention_dV(Q, K, V), dAtt_dV))

# %% [markdown]
# The three derivatives as blocks, one row per output entry $\val$, each with
# its own colour scale (the bar under it): the $\key^*$ columns of $\partial\text{Att}/\partial Q^*$; the
# $(\seq^*, \key^*)$ columns of $\partial\text{Att}/\partial K^*$ (one block of
# $|\key|$ columns per key position); the $(\seq^*, \val^*)$ columns of
# $\partial\text{Att}/\partial V^*$, where output $\val(i)$ depends only on input
# $\val^*(i)$, with weight $\alpha_{\seq^*}$.

# %% tags=["hide-input"]
panels = [
    ("∂Att/∂Q*", nt.positional(dAtt_dQ, ("val", "key*")), None),
    ("∂Att/∂K*",
     nt.positional(dAtt_dK, ("val", "seq*", "key*")).reshape(2, -1), 3),
    ("∂Att/∂V*",
     nt.positional(dAtt_dV, ("val", "seq*", "val*")).reshape(2, -1), 2),
]
fig, axs = plt.subplots(1, 3, figsize=(8, 3.2), layout="constrained",
                        gridspec_kw=dict(width_ratios=[3, 15, 10]))
for a, (title, m, block) in zip(axs, panels):
    lim = float(m.abs().max())
    im = a.imshow(m.cpu().numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim,
                  aspect="auto")
    a.set_title(title, fontsize=11)
    a.set_yticks([0, 1])
    a.set_ylabel("val", fontsize=10)
    if block:
        for k in range(1, m.shape[1] // block):
            a.axvline(block * k - 0.5, color="k", lw=0.6)
    a.tick_params(labelsize=10)
    bar = fig.colorbar(im, ax=a, orientation="horizontal", pad=0.02,
                       aspect=12 if block else 4)
    bar.set_ticks([-lim, 0, lim], labels=[f"{-lim:.2f}", "0", f"{lim:.2f}"])
    bar.ax.tick_params(labelsize=10)
axs[0].set_xticks(range(3))
axs[0].set_xlabel("key*", fontsize=10)
axs[1].set_xticks([3 * k + 1 for k in range(5)], range(5))
axs[1].set_xlabel("seq* (blocks of key*)", fontsize=10)
axs[2].set_xticks([2 * k + 0.5 for k in range(5)], range(5))
axs[2].set_xlabel("seq* (blocks of val*)", fontsize=10)
plt.show()

# %% [markdown]
# ### Erratum: the parentheses of $\partial\text{Att}/\partial K^*$
#
# The last two lines of §5.5 in the paper's LaTeX source (an unnumbered
# display) print the derivative in the keys as
#
# ```latex
# \frac{\partial}{\partial K\inax} \text{Att}(Q, K, V) &= V \ndot{\seq}
#   (\attwt \odot (Q\inax \odot I_{\seq,\seq\inax}) - \attwt \ndot{\seq}
#   (Q\inax \odot I_{\seq,\seq\inax})))
# ```
#
# (`\attwt` is $\alpha$), and the line before it, the canonical form, has the
# same parentheses. There are three `(` and four `)`. Which formula did the
# authors mean? The candidates are the formulas one parenthesis away from the
# print: delete one `(` or `)`, or insert one, anywhere, and keep what is well
# formed. `calc.paren_repairs` lists them, and `calc.evaluate_formula` evaluates
# each with the usual convention that products bind tighter than differences
# (the print itself relies on it):

# %%
nt.source(nt.calculus.paren_repairs)

# %%
printed = "V ⊙_seq (α ⊙ (Q* ⊙ I) − α ⊙_seq (Q* ⊙ I)))"   # token by token
alpha = nt.softmax(nt.contract(Q, K, over="key"), "seq")
I_seq = calc.identity("seq", "seq*", 5)
env = {"V": V, "α": alpha, "Q*": calc.star(Q), "I": I_seq}
reference = calc.partial_derivatives(lambda K: att(Q, K, V), K)  # no autograd
readings = {}
for text in calc.paren_repairs(printed):
    value = calc.evaluate_formula(text, env)
    gap = calc.max_difference(value, reference)
    key = round(gap, 3)                       # same tensor, same gap
    readings.setdefault(key, []).append(text)
for gap, texts in sorted(readings.items()):
    verdict = "matches ∂Att/∂K*" if gap < 1e-6 else f"off by {gap:.3f}"
    print(f"{len(texts)} edits give one tensor, {verdict}; e.g.")
    print("   ", texts[0])
assert len(readings) == 2 and min(readings) < 1e-6 < max(readings)

# %% [markdown]
# Nine edits make a well-formed formula, and they give only two different
# tensors. Dropping one of the closing parentheses at the end — the obvious
# repair — leaves $V \ndot{\seq} (\alpha \odot (Q^* \odot I) - \alpha
# \ndot{\seq} (Q^* \odot I))$: the second term then lost its factor $\alpha
# \odot$ and contracts $V$ with $\alpha \ndot{\seq} (Q^* \odot I)$, which has
# no $\seq$ axis left, so it is $(\nsum{\seq} V) \odot \ldots$. It does not
# match the finite differences. Every edit that matches does the same thing:
# it groups $Q^* \odot I_{\seq,\seq^*} - \alpha \ndot{\seq}(Q^* \odot
# I_{\seq,\seq^*})$ under $\alpha \odot$ — by deleting the `)` after the
# first $I_{\seq,\seq^*}$, or by opening one more parenthesis inside that
# first group — the same shape as the paper's $\partial\text{Att}/\partial
# Q^*$ a few lines earlier. The derivation below arrives at this grouping step by step.
#
# ### A derivation by the rules, step by step
#
# <!-- ntn: definition; Q[key]; K[seq,key]; expect=N(P(V["K"], "seq", "key") @ P(V["Q"], "key"), "seq"); at=7 -->
# The paper derives $\partial\text{Att}/\partial Q^*$ in full and gives the
# $K^*$ case in a single step ("Similarly, ..."). Here it is in full, each step a
# cell that evaluates the step's expression at a random increment $H$ of $K$
# (so $\partial K = H$, $\partial Q = \partial V = 0$) and compares it with
# forward-mode autograd of the corresponding piece of attention. Names:
# $S = Q \ndot{\key} K$ (the scores), $\alpha = \nfun{\seq}{softmax} S$.

# %%
H = nt.randn(seed=15, key=3, seq=5)


def scores(K):
    return nt.contract(Q, K, over="key")


def weights(K):
    return nt.softmax(scores(K), "seq")


def attention_in_K(K):
    return att(Q, K, V)


dS_auto = calc.differential(scores, K, H)
dalpha_auto = calc.differential(weights, K, H)
dAtt_auto = calc.differential(attention_in_K, K, H)

# %% [markdown]
# **Step 1**, the contraction rule {prf:ref}`rule-contraction` on
# $\text{Att} = \alpha \ndot{\seq} V$: $\partial\text{Att} = \alpha
# \ndot{\seq} \partial V + V \ndot{\seq} \partial \alpha = V \ndot{\seq}
# \partial\alpha$, since $V$ does not depend on $K$.

# %%
print(agree(nt.contract(V, dalpha_auto, over="seq"), dAtt_auto))

# %% [markdown]
# <!-- ntn: identity; ~\partial\alpha=\mathrm{dA}(S); ~\partial S=H; S[seq,batch]; H[seq,batch]; \alpha=nt.softmax(V["S"], "seq"); dA=lambda S: N(torch.func.jvp(lambda s: torch.softmax(s, 0), (P(S, "seq", "batch"),), (P(V["H"], "seq", "batch"),))[1], "seq", "batch"); at=2 -->
# **Step 2**, the softmax differential (equation (10)) with $X = S$:
# $\partial\alpha = \alpha \odot (\partial S - \alpha \ndot{\seq} \partial S)$.

# %%
print(agree(alpha * (dS_auto - nt.contract(alpha, dS_auto, over="seq")),
            dalpha_auto))

# %% [markdown]
# **Step 3**, the contraction rule again:
# $\partial S = Q \ndot{\key} \partial K + K \ndot{\key} \partial Q = Q \ndot{\key} H$.

# %%
print(agree(nt.contract(Q, H, over="key"), dS_auto))

# %% [markdown]
# **Step 4**, equation (13): $\partial K = (I_{\seq,\seq^*} \odot
# I_{\key,\key^*}) \ndot{\seq^* \\ \key^*} \partial K^*$, so
# $\partial S = Q \ndot{\key} \left((I_{\seq,\seq^*} \odot I_{\key,\key^*})
# \ndot{\seq^* \\ \key^*} H^*\right)$.

# %%
I_key = calc.identity("key", "key*", 3)
stars = ("seq*", "key*")
Hs = calc.star(H)
print(agree(nt.contract(I_seq * I_key, Hs, over=stars), H))
step4 = nt.contract(Q, nt.contract(I_seq * I_key, Hs, over=stars), over="key")
print(agree(step4, dS_auto))

# %% [markdown]
# <!-- ntn: identity; ~I_{\key,\key^*}=I; Q[key,batch]; Q^*=nt.calculus.star(V["Q"], "key"); I=N(torch.eye(size["key"], dtype=torch.float64), "key", "key*"); at=7 -->
# **Step 5**, the associative law for contractions (§3.4, equation (4)):
# $X \ndot{\mathcal{S}} (Y \ndot{\mathcal{U}} Z) = (X \ndot{\mathcal{S}} Y)
# \ndot{\mathcal{U}} Z$ if $\mathcal{S} \cap \shp Z = \mathcal{U} \cap \shp X =
# \emptyset$. With $X = Q$, $\mathcal{S} = \{\key\}$,
# $\mathcal{U} = \{\seq^*, \key^*\}$, $Z = H^*$ the conditions hold, and
# $Q \ndot{\key} I_{\key,\key^*} = Q^*$ (equation (12)):
# $\partial S = (Q^* \odot I_{\seq,\seq^*}) \ndot{\seq^* \\ \key^*} H^*$. Call
# $G = Q^* \odot I_{\seq,\seq^*}$ (axes $\key^*, \seq, \seq^*$).


# %%
def assoc_applies(S, U, X, Z):
    """The side conditions of equation (4): S ∩ shp Z = U ∩ shp X = ∅."""
    return not set(S) & set(nt.names(Z)) and not set(U) & set(nt.names(X))


assert assoc_applies({"key"}, set(stars), Q, Hs)
print(agree(nt.contract(Q, I_key, over="key"), calc.star(Q)))
G = calc.star(Q) * I_seq
print(sorted(nt.shape(G)))
print(agree(nt.contract(G, Hs, over=stars), dS_auto))

# %% [markdown]
# **Step 6**, substituting steps 5, 2 and 1:
# $\partial\text{Att} = V \ndot{\seq} \left(\alpha \odot \left(G
# \ndot{\seq^* \\ \key^*} H^* - \alpha \ndot{\seq} (G \ndot{\seq^* \\ \key^*}
# H^*)\right)\right)$.

# %%
GH = nt.contract(G, Hs, over=stars)
step6 = nt.contract(V, alpha * (GH - nt.contract(alpha, GH, over="seq")),
                    over="seq")
print(agree(step6, dAtt_auto))

# %% [markdown]
# **Step 7**, equation (4) three times — for $\alpha \ndot{\seq}$, for
# $\alpha \odot$ (a contraction over no axis) and for $V \ndot{\seq}$, each
# time with $\mathcal{U} = \{\seq^*, \key^*\}$ and $Z = H^*$ — and
# distributivity over the difference move $\ndot{\seq^* \\ \key^*} H^*$ to the
# outside: the canonical form (equation (11))
# $\partial\text{Att} = \left(V \ndot{\seq} (\alpha \odot (G - \alpha
# \ndot{\seq} G))\right) \ndot{\seq^* \\ \key^*} H^*$.

# %%
for S_, X_ in (({"seq"}, alpha), (set(), alpha), ({"seq"}, V)):
    assert assoc_applies(S_, set(stars), X_, Hs)
D_K = nt.contract(V, alpha * (G - nt.contract(alpha, G, over="seq")),
                  over="seq")
print(agree(nt.contract(D_K, Hs, over=stars), dAtt_auto))

# %% [markdown]
# **Step 8**, identification ({prf:ref}`thm-identification`): the tensor in
# front of $\ndot{\seq^* \\ \key^*} H^*$ is the derivative,
# $\frac{\partial\text{Att}}{\partial K^*} = V \ndot{\seq} (\alpha \odot
# (Q^* \odot I_{\seq,\seq^*} - \alpha \ndot{\seq} (Q^* \odot
# I_{\seq,\seq^*})))$ — the grouping that matched above, and
# `calc.attention_dK`.

# %%
print("by the definition:", agree(D_K, reference, tol=1e-8))
print("reverse mode:     ", agree(D_K, dAtt_dK))
print("attention_dK:     ", agree(D_K, calc.attention_dK(Q, K, V)))

# %% [markdown]
# ## Appendix B: differentiability and identification
#
# <!-- ntn: definition; ~\lVert X \rVert=\mathrm{fro}(X); ~\mathcal{S}=\height, \width; X[height,width]; fro=lambda X: torch.linalg.norm(P(X, "height", "width")).item() -->
# Appendix B of the paper puts §5 on a formal footing. Its definition and
# theorem come, as it says, from {cite:t}`magnus+neudecker:1985`,
# generalised to named tensors. It writes
# $\lVert X \rVert = \nfun{\mathcal{S}}{norm} X$ for $X \in
# \reals^{\mathcal{S}}$, the 2-norm over all axes (`calc.tensor_norm`).
#
# ```{prf:definition} Differentiability and the differential (Appendix B; the paper's Definition 9)
# :label: def-differentiable
#
# Let $f \colon S \to \reals^{\mathcal{T}}$ with $S \subseteq
# \reals^{\mathcal{S}}$, and let $A$ be an interior point of $S$:
# $\{X \mid \lVert X - A \rVert < r\} \subseteq S$ for some $r > 0$. If there
# are a tensor $D(A) \in \reals^{\mathcal{S}^* \cup \mathcal{T}}$ and
# $R(A, H) \in \reals^{\mathcal{T}}$ with
#
# <!-- ntn: excluded; id=derivative-definition; reason=the definition of the derivative: R(A, H) is whatever remains, so the equation holds by construction (the cells bound R by finite differences) -->
# $$
# f(A + H) = f(A) + D(A) \ndot{\mathcal{S}^*} H_{\mathcal{S} \to \mathcal{S}^*}
#   + R(A, H)
# $$
#
# for all $H \in \reals^{\mathcal{S}}$ with $\lVert H \rVert < r$, and
# $\lim_{H \to \mathbf{0}} R(A, H) / \lVert H \rVert = \mathbf{0}$, then $f$ is
# *differentiable* at $A$, and
# $\partial f(A; H) = D(A) \ndot{\mathcal{S}^*} H_{\mathcal{S} \to \mathcal{S}^*}$
# is its (first) *differential* at $A$ with increment $H$.
# ```
#
# (The paper calls $A$ "an interior point of $\reals^{\mathcal{S}}$"; the
# condition it then states, that a ball around $A$ lies in $S$, makes $A$ an
# interior point of $S$, which is what the definition needs.)
#
# Given a candidate $D(A)$, the remainder $R(A, H)$ is whatever is left over, and
# the definition asks whether $\lVert R(A, H) \rVert / \lVert H \rVert$ goes to 0:

# %%
nt.source(nt.calculus.tensor_norm, nt.calculus.remainder,
          nt.calculus.remainder_ratio)

# %% [markdown]
# **The limit, for the true derivative.** $f$ is attention in its keys, lifted
# over a query axis $\seq'$ (so $f \colon \reals^{\seq \times \key} \to
# \reals^{\seq' \times \val}$), at a random point $A$, with $D(A)$ from
# reverse-mode autograd. Along $H = t H_0$ the ratio shrinks in proportion to
# $t$, so its limit is 0:

# %%
Qs = nt.randn(seed=16, key=3, **{"seq'": 4})
A = nt.randn(seed=17, seq=5, key=3)
H0 = nt.randn(seed=18, key=3, seq=5)


def f_att(K):
    return nt.attention(Qs, K, V)


D_A = calc.derivative(f_att, A)
ts = 10.0 ** -np.arange(1, 6)
ratios = [calc.remainder_ratio(f_att, A, D_A, t * H0) for t in ts]
for t, r in zip(ts, ratios):
    print(f"t = {t:.0e}:  ‖R(A, tH)‖ / ‖tH‖ = {r:.1e}")
steps = np.array(ratios[:-1]) / np.array(ratios[1:])
assert np.all((steps > 8) & (steps < 12))        # ×10 smaller per decade

# %% [markdown]
# **The limit, for a wrong candidate.** The lifted softmax of the previous
# section, with the lift of its derivative $g^{\batch}$ as the candidate $D$ (the
# conclusion §5.4 calls incorrect): the ratio settles at a positive constant,
# so $g^{\batch}$ is not the derivative of the lift, whatever $H$ is.

# %%
Xb = nt.randn(seed=19, batch=3, ax=4)
Hb = nt.randn(seed=20, ax=4, batch=3)


def softmax_ax(X):
    return nt.softmax(X, "ax")


g_lift = calc.softmax_derivative(Xb, "ax")                  # no batch* axis
wrong = [calc.remainder_ratio(softmax_ax, Xb, g_lift, t * Hb) for t in ts]
right = [calc.remainder_ratio(softmax_ax, Xb,
                              calc.derivative(softmax_ax, Xb), t * Hb)
         for t in ts]
for t, w, r in zip(ts, wrong, right):
    print(f"t = {t:.0e}:  with g^batch {w:.3f},  with ∂f/∂X* {r:.1e}")
assert abs(wrong[-1] - wrong[-2]) < 1e-3 * wrong[-1] and wrong[-1] > 0.1
assert right[-1] < 1e-4

# %% [markdown]
# **No candidate at all.** $f(X) = \lVert X \rVert$ is not differentiable at
# $A = \mathbf{0}$: whatever $D$ is, the linear terms cancel in
# $R(\mathbf{0}, H) + R(\mathbf{0}, -H) = \lVert H \rVert + \lVert -H \rVert
# = 2\lVert H \rVert$, so the two ratios add up to 2 and cannot both go to 0.

# %%
Z0 = 0 * nt.randn(seed=21, seq=3, key=2)
Hn = nt.randn(seed=22, key=2, seq=3)
for name, D_try in (("D = 0", 0 * nt.randn(seed=23, **{"seq*": 3, "key*": 2})),
                    ("D random", nt.randn(seed=24, **{"key*": 2, "seq*": 3}))):
    for t in (1e-2, 1e-6):
        r_plus = calc.remainder_ratio(calc.tensor_norm, Z0, D_try, t * Hn)
        r_minus = calc.remainder_ratio(calc.tensor_norm, Z0, D_try, -t * Hn)
        assert abs(r_plus + r_minus - 2) < 1e-9
    print(f"{name}: ratios at ±tH are {r_plus:.3f} and {r_minus:.3f}")

# %% [markdown]
# The same measurement as a picture. The remainder itself,
# $\lVert f(X + tH) - f(X) - \partial f(X; tH) \rVert$, shrinks like $t^2$ for a
# differentiable function and its true differential — a line of slope 2 on a
# log–log plot — and like $t$ when the candidate is wrong. Below: softmax,
# attention in its keys (with the usual $1/\sqrt{|\key|}$ factor), LayerNorm
# over $\layer, \chans$ (random $\gamma$, $\beta$), each with its differential from
# `calc.differential`, and the lifted softmax with the wrong candidate
# $g^{\batch}$, for $t$ from $10^{-5}$ to $10^{-1}$, with fitted slopes.


# %%
def remainder_norm(f, X, dY, H, t):
    r = f(X + t * H) - f(X) - t * dY
    return float(calc.tensor_norm(r))


Xs = nt.randn(seed=25, batch=2, seq=5)
Xl = nt.randn(seed=26, batch=2, chans=3, layer=4)
gamma = 1 + 0.3 * nt.randn(seed=27, chans=3, layer=4)
beta = nt.randn(seed=28, layer=4, chans=3)
cases = {
    "softmax_seq": (lambda X: nt.softmax(X, "seq"), Xs),
    "attention (in K)": (f_att, A),
    "LayerNorm": (lambda X: nt.layer_norm(X, gamma, beta), Xl),
}
ts = np.logspace(-5, -1, 9)
slopes, curves = {}, {}
for i, (name, (f, X0)) in enumerate(cases.items()):
    Hc = nt.randn(seed=30 + i, **nt.shape(X0))
    dY = calc.differential(f, X0, Hc)
    curves[name] = np.array([remainder_norm(f, X0, dY, Hc, t) for t in ts])
dY_wrong = nt.contract(g_lift, calc.star(Hb), over=("batch*", "ax*"))
name = "softmax, g^batch as D"
curves[name] = np.array([remainder_norm(softmax_ax, Xb, dY_wrong, Hb, t)
                         for t in ts])
for name, r in curves.items():
    slopes[name] = np.polyfit(np.log10(ts), np.log10(r), 1)[0]
    print(f"{name:22s} fitted slope {slopes[name]:.1f}")
assert all(1.9 <= k <= 2.1 for n, k in slopes.items() if "g^" not in n)
assert 0.9 <= slopes["softmax, g^batch as D"] <= 1.1

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6.4, 4))
for (name, r), mk in zip(curves.items(), "osdx"):
    ax.loglog(ts, r, marker=mk, label=f"{name} (slope {slopes[name]:.1f})")
guide = 0.1 * curves["attention (in K)"][-1] * (ts / ts[-1]) ** 2
ax.loglog(ts, guide, "k:", label="slope 2")
ax.set_xlabel("step size t", fontsize=10)
ax.set_ylabel("‖f(X+tH) − f(X) − D ⊙ tH*‖", fontsize=10)
ax.tick_params(labelsize=10)
ax.legend(fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ```{prf:theorem} First identification theorem (Appendix B; the paper's Theorem 1)
# :label: thm-identification
#
# Let $f \colon S \to \reals^{\mathcal{T}}$, $S \subseteq \reals^{\mathcal{S}}$,
# be differentiable at $A \in S$, and let $D \in \reals^{\mathcal{S}^* \cup
# \mathcal{T}}$. Then
# $\partial f(A; H) = D \ndot{\mathcal{S}^*} H_{\mathcal{S} \to \mathcal{S}^*}$
# for all $H$ if and only if
# $\left.\dfrac{\partial f(X)}{\partial X^*}\right|_{X = A} = D$.
# ```
#
# (The paper writes the tensor as $D(X)$ on both sides; it is evaluated at
# $A$.) This is how §5 turns each differential it computes by the rules into a
# derivative. Both directions run below, on attention in its keys at the point
# $A$ of the definition's example, each against a computation that does not
# share code with it.
#
# **If the differential is $D \ndot{\mathcal{S}^*} H^*$ for all $H$, then $D$
# is the derivative.** The differential from the rules (steps 1–6 above, now
# for the scaled, lifted attention `f_att`) is a function of $H$ written with
# named operations, so it lifts over axes that $H$ has and $A$ lacks.
# `calc.identify` feeds it $H = I_{\mathcal{S},\mathcal{S}^*}$: at each record
# $s^*$ this $H$ is the unit tensor at $s^*$, and
# $D \ndot{\mathcal{S}^*} H^*$ picks out the slice of $D$ at $s^*$; collected
# along $\mathcal{S}^*$ they give $D$ back.

# %%
nt.source(nt.calculus.identity_like, nt.calculus.identify)

# %%
scale = 1 / np.sqrt(3)
alpha_A = nt.softmax(scale * nt.contract(Qs, A, over="key"), "seq")


def att_differential_in_K(H):
    """∂ f_att(A; H) by the rules: steps 1-3 with the factor 1/sqrt|key|."""
    dS = scale * nt.contract(Qs, H, over="key")
    d_alpha = alpha_A * (dS - nt.contract(alpha_A, dS, over="seq"))
    return nt.contract(V, d_alpha, over="seq")


for seed in (40, 41, 42):                 # the hypothesis, on three H
    Hr = nt.randn(seed=seed, seq=5, key=3)
    assert calc.max_difference(att_differential_in_K(Hr),
                               calc.differential(f_att, A, Hr)) < 1e-12
D_read = calc.identify(att_differential_in_K, A)
print(sorted(nt.shape(D_read)))
print("the derivative by its definition:")
print("  ", agree(D_read, calc.partial_derivatives(f_att, A), tol=1e-8))
print("reverse mode:")
print("  ", agree(D_read, D_A))

# %% [markdown]
# **If $D$ is the derivative, then the differential is
# $D \ndot{\mathcal{S}^*} H^*$ for all $H$.** Take $D$ from
# {prf:ref}`def-derivative` itself (finite differences, no autograd). For any
# $H$, $D \ndot{\mathcal{S}^*} H^*$ equals the differential computed by
# forward-mode autograd, and, as {prf:ref}`def-differentiable` demands of a
# differential, it leaves a remainder that vanishes faster than $H$.

# %%
D_def = calc.partial_derivatives(f_att, A)
for seed in (43, 44, 45):
    Hr = nt.randn(seed=seed, key=3, seq=5)
    linear = nt.contract(D_def, calc.star(Hr), over=("seq*", "key*"))
    print(agree(linear, calc.differential(f_att, A, Hr), tol=1e-8))
r = [calc.remainder_ratio(f_att, A, D_def, t * H0) for t in (1e-2, 1e-3)]
assert r[1] < 0.15 * r[0]
print(f"‖R‖/‖H‖ at t = 1e-2 and 1e-3: {r[0]:.1e}, {r[1]:.1e}")

# %% [markdown]
# The theorem also says the derivative is the *only* tensor that works. Change
# one entry of $D$ by $\varepsilon$; the unit increment at that entry's input
# record then shows the change in full, so "for all $H$" fails.

# %%
eps = 1e-3
order = ("seq'", "val", "seq*", "key*")
d = nt.positional(D_A, order).clone()
d[1, 0, 2, 1] += eps        # the entry seq'(1), val(0), seq*(2), key*(1)
D_other = nt.tensor(d, order)
e = torch.zeros(5, 3, dtype=f64)
e[2, 1] = 1                           # the unit increment at seq(2), key(1)
unit = nt.tensor(e, ("seq", "key"))
miss = nt.contract(D_other, calc.star(unit), over=("seq*", "key*")) \
    - calc.differential(f_att, A, unit)
m = nt.positional(miss, ("seq'", "val")).abs()
print(f"miss at seq'(1), val(0): {m[1, 0]:.0e}; elsewhere < 1e-12")
assert abs(m[1, 0] - eps) < 1e-12
assert m.flatten().sort().values[-2] < 1e-12
# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# The checker's references are written with the rules of this chapter
# and tested against autograd.
#
# ### Exercise 5.1: the differential of $X \odot X$
#
# For $X, H \in \reals^{\batch \times \dd}$, write `answer(X, H)` returning
# $\partial (X \odot X)(X; H)$, by the product rule.

# %%
def answer(X, H):
    ...  # your code here


nt.exercises.report("5.1", answer)

# %% tags=["hide-cell"]
def answer(X, H):
    # product rule: ∂(X ⊙ X) = ∂X ⊙ X + X ⊙ ∂X, with ∂X = H
    return H * X + X * H


assert nt.exercises.check("5.1", answer)

# %% [markdown]
# ### Exercise 5.2: the differential of a squared norm
#
# For $X, H \in \reals^{\batch \times \dd}$, write `answer(X, H, *, d="d")`
# returning $\partial (X \ndot{\dd} X)(X; H)$, an element of $\reals^{\batch}$.
# This is the paper's worked example (8b), above, lifted over $\batch$: derive
# it again with the contraction rule, (9e).

# %%
def answer(X, H, *, d="d"):
    ...  # your code here


nt.exercises.report("5.2", answer)

# %% tags=["hide-cell"]
def answer(X, H, *, d="d"):
    # ∂(X ⊙_d X) = ∂X ⊙_d X + X ⊙_d ∂X, with ∂X = H
    return nt.contract(H, X, over=d) + nt.contract(X, H, over=d)


assert nt.exercises.check("5.2", answer)

# %% [markdown]
# ### Exercise 5.3: the derivative of an elementwise function
#
# For $X \in \reals^{\mathcal{S}}$, write `answer(X, H)` returning
# $\partial \sigma(X) / \partial X^*$ (the logistic sigmoid $\sigma$,
# elementwise; $H$ is not needed). Its axes are $\mathcal{S}$ and
# $\mathcal{S}^*$ — all of them, whatever $X$ has. Hint:
# `nt.calculus.identity_like`.

# %%
def answer(X, H):
    ...  # your code here


nt.exercises.report("5.3", answer)

# %% tags=["hide-cell"]
def answer(X, H):
    s = nt.sigmoid(X)
    # σ' elementwise, times the identity that pairs each axis with its star
    return s * (1 - s) * nt.calculus.identity_like(X)


assert nt.exercises.check("5.3", answer)

# %% [markdown]
# ### Exercise 5.4: the differential of log-softmax
#
# Write `answer(X, H, *, ax="ax")` returning
# $\partial \log \nfun{\ax}{softmax} X \,(X; H)$. Use the chain rule for $\log$
# and the softmax differential; the result simplifies.

# %%
def answer(X, H, *, ax="ax"):
    ...  # your code here


nt.exercises.report("5.4", answer)

# %% tags=["hide-cell"]
def answer(X, H, *, ax="ax"):
    # ∂ log Y = ∂Y / Y, and ∂Y = Y ⊙ (H − Y ⊙_ax H) for Y = softmax_ax X
    Y = nt.softmax(X, ax)
    return H - nt.contract(Y, H, over=ax)


assert nt.exercises.check("5.4", answer)

# %% [markdown]
# ### Exercise 5.5: the differential of attention in its keys
#
# For unscaled attention $\text{Att}(Q, K, V)$ as above, write
# `answer(Q, K, V, H, *, key="key", seq="seq")` returning the differential in
# $K$, $\partial\text{Att}(Q, K, V)(K; H)$ with $H \in \reals^{\seq \times \key}$.
# Check yourself: identification (`nt.calculus.identify`) of your answer
# should give `nt.calculus.attention_dK`. The checker also gives $Q$ an extra axis of queries.

# %%
def answer(Q, K, V, H, *, key="key", seq="seq"):
    ...  # your code here


nt.exercises.report("5.5", answer)

# %% tags=["hide-cell"]
def answer(Q, K, V, H, *, key="key", seq="seq"):
    alpha = nt.softmax(nt.contract(Q, K, over=key), seq)
    dS = nt.contract(Q, H, over=key)  # the differential of the scores
    dalpha = alpha * (dS - nt.contract(alpha, dS, over=seq))
    return nt.contract(dalpha, V, over=seq)


assert nt.exercises.check("5.5", answer)

# %% [markdown]
# ### Exercise 5.6: the softmax differential, in the notation
#
# Write equation (10), the differential of $\nfun{\ax}{softmax} X$ at $X$ in
# the direction $H$ (the $\partial X$ of the equation), as a formula in the
# paper's notation with the variables $X$ and $H$. Put the softmax in
# parentheses where it is a factor, $(\nfun{\ax}{softmax} X) \odot \ldots$:
# `ntlib.notation` reads $\nfun{\ax}{softmax}$ as reaching to the end of the
# product that follows it. The checker compares your formula with forward-mode
# automatic differentiation of `torch.softmax`.

# %%
answer = ...  # your answer

nt.exercises.report("5.6", answer)

# %% tags=["hide-cell"]
S = r"(\nfun{\ax}{softmax} X)"
answer = S + r" \odot H - " + S + r" \odot (" + S + r" \ndot{\ax} H)"

assert nt.exercises.check("5.6", answer)
