# %% [markdown]
# # Operations
#
# This chapter follows §3 of Chiang, Rush and Barak, *Named Tensor Notation* (TMLR
# 2023) {cite}`chiang+:2023`, one subsection at a time. Every operation is given by its formula, by the
# `ntlib` function that implements it (its source is printed next to the formula),
# and by a run on the running example, checked against a positional PyTorch
# computation that spells out which dimension is which.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

import ntlib as nt
from ntlib.testing import same

f64 = torch.float64
A = nt.tensor(
    [[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"), dtype=f64
)
x = nt.tensor([2, 7, 1], "height", dtype=f64)
y = nt.tensor([1, 4, 1], "width", dtype=f64)

# Positional copies.  Convention for the positional code only:
# dim 0 = height, dim 1 = width.
At = nt.positional(A, ("height", "width"))
xt = nt.positional(x, "height")
yt = nt.positional(y, "width")

nt.show(A, ("height", "width"))

# %% [markdown]
# ## Lifting
#
# Most operations are first defined on small tensors — a function of a scalar, or of
# a vector along one axis — and then extended to tensors with more axes by applying
# them to every slice. The paper calls this **lifting** (TMLR §3.1, Definitions
# "lifting, unary" and "lifting, binary").
#
# :::{prf:definition} Lifting
# :label: def-lifting
#
# Let
# $f \colon F^{\mathcal{S}} \to G^{\mathcal{T}}$ and let $\mathcal{S}'$ be a shape
# orthogonal to both $\mathcal{S}$ and $\mathcal{T}$. The lift
# $f^{\mathcal{S}'} \colon F^{\mathcal{S} \cup \mathcal{S}'} \to
# G^{\mathcal{T} \cup \mathcal{S}'}$ is
#
# <!-- ntn: excluded; id=lift-unary; reason=lifting written with records: one call of f per record s' (run literally by nt.lift in the cell below) -->
# $$
# \left[f^{\mathcal{S}'}(X)\right]_{s'} = f(X_{s'}) \qquad
# \text{for every } s' \in \rec \mathcal{S}'.
# $$
#
# For functions of two arguments $f \colon F^{\mathcal{S}} \times G^{\mathcal{T}} \to
# H^{\mathcal{U}}$, each argument may carry its own extra axes, $X \in F^{\mathcal{S}
# \cup \mathcal{S}'}$ and $Y \in G^{\mathcal{T} \cup \mathcal{T}'}$, where
# $\mathcal{S}'$ and $\mathcal{T}'$ must be compatible with each other (shared
# names, same sizes), $\mathcal{S}'$ orthogonal to $\mathcal{S}$ and
# $\mathcal{T}'$ orthogonal to $\mathcal{T}$ (an extra axis is not one the
# function already uses), and $\mathcal{S}' \cup \mathcal{T}'$ orthogonal to
# $\mathcal{U}$ (nor one its result has).
# The result has the extra axes of both, and each argument sees only its own:
#
# <!-- ntn: excluded; id=lift-binary; reason=lifting written with records, restricted to each argument's axes (run literally by nt.lift in the cell below) -->
# $$
# \left[f(X, Y)\right]_{r} = f\left(X_{\restrict{r}{\mathcal{S}'}},\,
#   Y_{\restrict{r}{\mathcal{T}'}}\right) \qquad
# \text{for every } r \in \rec (\mathcal{S}' \cup \mathcal{T}').
# $$
# :::
#
# In the paper the superscript is usually dropped (as the last sentence of §3.1's
# unary definition says): a function applied to a tensor with more
# axes than it needs is lifted over the extra ones. `ntlib` does the same, without a
# loop. To check it against the definition, `nt.lift` executes the definition
# literally — one call of $f$ per record $s'$:

# %%
nt.source(nt.lift)

# %% [markdown]
# A function of a vector along $\width$, here softmax (§3.5), lifted over $\height$:
# the automatic lift `nt.softmax(A, "width")` and the literal loop agree.

# %%
def f(row):  # f : R^{width} -> R^{width}
    return nt.softmax(row, "width")


literal = nt.lift(f, A, over="height")
automatic = nt.softmax(A, "width")
same(
    literal, ("height", "width"), nt.positional(automatic, ("height", "width"))
)
nt.show(literal, ("height", "width"))

# %% [markdown]
# A function with a smaller output, $g = \nsum{\width} \colon \reals^{\width} \to
# \reals$, lifted over $\height$; and two binary functions: scalar addition lifted over
# the union of the arguments' axes (which is broadcasting, §3.2), and the inner
# product along $\width$ lifted over $\height$ (which is a matrix–vector product,
# §3.4).

# %%
same(
    nt.lift(lambda row: nt.sum(row, "width"), A, over="height"),
    ("height",),
    nt.positional(nt.sum(A, "width"), ("height",)),
)
same(
    nt.lift(lambda a, b: a + b, A, x, over=("height", "width")),
    ("height", "width"),
    nt.positional(A + x, ("height", "width")),
)
same(
    nt.lift(
        lambda row, v: nt.contract(row, v, over="width"), A, y, over="height"
    ),
    ("height",),
    nt.positional(nt.contract(A, y, over="width"), ("height",)),
)
print("automatic lifting agrees with the literal definition in all four cases")

# %% [markdown]
# ## Elementwise operations and broadcasting
#
# A function $f \colon \reals \to \reals$ of one number lifts to every axis of its
# argument. The logistic sigmoid and the rectified linear unit are
#
# <!-- ntn: definition; ~\max(0, A)=\mathrm{max0}(A); max0=lambda A: N(torch.clamp(P(A, "height", "width"), min=0), "height", "width"); A[height,width]; relu=nt.relu -->
# $$
# \sigma(A) = \frac{1}{1 + \exp(-A)}, \qquad \operatorname{relu}(A) = \max(0, A),
# $$
#
# each taken entry by entry:

# %%
nt.source(nt.sigmoid, nt.relu)

# %%
same(nt.sigmoid(A), ("height", "width"), torch.sigmoid(At))
same(nt.sigmoid(A), ("height", "width"), 1 / (1 + torch.exp(-At)))
B = A - 4
same(nt.relu(B), ("height", "width"), torch.clamp(At - 4, min=0))
print(nt.show(nt.sigmoid(A), ("height", "width")))
print(nt.show(nt.relu(B), ("height", "width")))

# %% [markdown]
# Binary operations such as $+$ lift the same way, over the *union* of the axes of
# their arguments. Adding $x \in \reals^{\height[3]}$ to $A$ adds $x_{\height(i)}$ to
# every entry of row $i$; adding $y \in \reals^{\width[3]}$ adds $y_{\width(j)}$ to
# every entry of column $j$:
#
# <!-- ntn: example; A=running(); x=nt.tensor([2., 7., 1.], "height") -->
# $$
# x = \nmatrix{}{height}{2 & 7 & 1}, \qquad
# A + x = \nmatrix{height}{width}{3+2 & 1+2 & 4+2 \\ 1+7 & 5+7 & 9+7 \\ 2+1 & 6+1 & 5+1};
# $$
#
# <!-- ntn: example; A=running(); y=nt.tensor([1., 4., 1.], "width") -->
# $$
# y = \nmatrix{}{width}{1 & 4 & 1}, \qquad
# A + y = \nmatrix{height}{width}{3+1 & 1+4 & 4+1 \\ 1+1 & 5+4 & 9+1 \\ 2+1 & 6+4 & 5+1}.
# $$
#
# In `ntlib` the operators `+ - * / **` act on named tensors directly. Each one is
# the function below: it checks, by name, that shared axes have equal sizes, lays
# both operands' data out in one axis order (size 1 where an operand lacks an
# axis), and lets torch broadcast:

# %%
nt.source(nt.core.elementwise, nt.core.layout)

# %%
# positional: x must be made a column
same(A + x, ("height", "width"), At + xt[:, None])
same(A + y, ("height", "width"), At + yt[None, :])  # ... and y a row
print(nt.show(A + x, ("height", "width")))
print(nt.show(A + y, ("height", "width")))

# %% [markdown]
# The same sum as pictures (treescope, as in Chapter 2), with $\height$ down and
# $\width$ across and one colour scale for all three: $A$, then $x$, which has no
# $\width$ axis and is drawn as a single column, then $A + x$, in which every entry of
# row $i$ has moved by $x_{\height(i)}$.

# %%
import treescope

scale = dict(vmin=0, vmax=16, around_zero=False, pixels_per_cell=20)
treescope.figures.inline(
    treescope.render_array(A, rows=["height"], columns=["width"], **scale),
    treescope.render_array(x, rows=["height"], **scale),
    treescope.render_array(A + x, rows=["height"], columns=["width"], **scale),
)

# %% [markdown]
# The positional version needs the reader to know that $x$ runs along dimension 0.
# Forget the `[:, None]` and PyTorch broadcasts `x` along the *last* dimension, which
# here has the same size, so it silently computes $A + x_{\height \to \width}$:

# %%
wrong = At + xt
assert not torch.equal(wrong, At + xt[:, None])
same(A + nt.rename(x, {"height": "width"}), ("height", "width"), wrong)
print(wrong.cpu().numpy())

# %% [markdown]
# When named axes clash — the same name with different sizes — `ntlib` refuses and
# says which axis and which sizes:

# %%
import textwrap

C = nt.randn(seed=0, height=3, width=4)
try:
    A + C
except nt.AxisError as err:
    print(textwrap.fill(f"AxisError: {err}", 79, subsequent_indent="    "))

# %% [markdown]
# ## Reductions
#
# Summing over an axis removes it:
#
# <!-- ntn: identity; X[height,ax,width] -->
# $$
# \nsum{\ax} X = \sum_{i} X_{\ax(i)},
# $$
#
# a function $\reals^{\ax} \to \reals$ lifted over all the other axes of $X$. Summing
# over several axes at once, $\nsum{\ax_1 \\ \ax_2} X$, is summing over each in turn.
# On the example,
#
# <!-- ntn: example; A=running() -->
# $$
# \nsum{\height} A = \nmatrix{}{width}{6 & 12 & 18}, \qquad
# \nsum{\width} A = \nmatrix{}{height}{8 & 15 & 13}, \qquad
# \nsum{\height \\ \width} A = 36.
# $$

# %%
nt.source(nt.sum, nt.core.reduce)

# %%
same(nt.sum(A, "height"), ("width",), At.sum(dim=0))
same(nt.sum(A, "width"), ("height",), At.sum(dim=1))
same(nt.sum(A, ("height", "width")), (), At.sum())
same(nt.sum(nt.sum(A, "height"), "width"), (), At.sum())
print(nt.show(nt.sum(A, "height")))
print(nt.show(nt.sum(A, "width")))
print(nt.show(nt.sum(A, ("height", "width"))))

# %% [markdown]
# The other reductions are defined the same way, as functions of a vector along
# $\ax$ lifted over the rest:
#
# <!-- ntn: definition; ~\nfun{\ax}{norm_{\mathit{p}}} X=\mathrm{normp}(X); ~\min_i X_{\ax(i)}=\mathrm{minpos}(X); ~\max_i X_{\ax(i)}=\mathrm{maxpos}(X); minpos=lambda X: N(P(X, "ax", "height").min(0).values, "height"); maxpos=lambda X: N(P(X, "ax", "height").max(0).values, "height"); normp=lambda X: nt.norm(X, "ax", p=3); X[ax,height]; p=3 -->
# $$
# \begin{aligned}
# \nfun{\ax}{norm} X &= \sqrt{\nsum{\ax} X^2}, &
# \nfun{\ax}{norm_{\mathit{p}}} X &= \Bigl(\nsum{\ax} |X|^p\Bigr)^{1/p}, \\
# \nfun{\ax}{min} X &= \min_i X_{\ax(i)}, &
# \nfun{\ax}{max} X &= \max_i X_{\ax(i)}, \\
# \nfun{\ax}{mean} X &= \frac{1}{|\ax|} \nsum{\ax} X, &
# \nfun{\ax}{var} X &= \nfun{\ax}{mean} \bigl(X - \nfun{\ax}{mean} X\bigr)^2 .
# \end{aligned}
# $$
#
# Note that $\operatorname{var}$ divides by $|\ax|$: it is the population variance,
# not the unbiased estimate that `torch.var` computes by default.
#
# <!-- ntn: misprint; ~\nfun{\ax}{norm_\mathit{p}} X=\mathrm{normp}(X); normp=lambda X: nt.norm(X, "ax", p=3); p=3; X[ax,height]; at=2 -->
# <!-- ntn: definition; A[ax,height]; expect=N(P(V["A"], "ax", "height").norm(dim=0), "height"); at=9 -->
# The paper (TMLR §3.3, unnumbered display) prints the $p$-norm as
# $\nfun{\ax}{norm_\mathit{p}} X = \bigl(\nsum{\ax} X^p\bigr)^{1/p}$, without
# the absolute value. The two agree when $p$ is even or $X \ge 0$; `nt.norm` uses
# $|X|^p$, the usual $p$-norm (what `torch.linalg.vector_norm` computes), because
# for odd $p$ the printed form lets negative entries cancel positive ones. (The
# first version defines only $\operatorname{norm}$, as
# $\sqrt{\nsum{\ax} A^2}$, in its §5.4.) The cell after the
# checks evaluates the printed form on $A - 5$, which has negative entries.

# %%
nt.source(nt.norm, nt.max, nt.min, nt.mean, nt.var)

# %%
same(nt.norm(A, "width"), ("height",), torch.linalg.vector_norm(At, dim=1))
same(nt.norm(A, "width", p=1), ("height",), At.abs().sum(dim=1))
same(
    nt.norm(A, "width", p=3),
    ("height",),
    torch.linalg.vector_norm(At, ord=3, dim=1),
)
same(nt.norm(A, "width", p=math.inf), ("height",), At.abs().amax(dim=1))
same(nt.max(A, "height"), ("width",), At.amax(dim=0))
same(nt.min(A, "height"), ("width",), At.amin(dim=0))
same(nt.mean(A, "width"), ("height",), At.mean(dim=1))
same(nt.mean(A, ("height", "width")), (), At.mean())
same(nt.var(A, "width"), ("height",), At.var(dim=1, unbiased=False))
same(nt.var(A, ("height", "width")), (), At.var(unbiased=False))
# torch's default (unbiased) variance differs
assert not torch.allclose(
    nt.positional(nt.var(A, "width"), "height"), At.var(dim=1)
)
for name, value in [
    ("norm_width A", nt.norm(A, "width")),
    ("norm_3,width A", nt.norm(A, "width", p=3)),
    ("max_height A", nt.max(A, "height")),
    ("min_height A", nt.min(A, "height")),
    ("mean_width A", nt.mean(A, "width")),
    ("var_width A", nt.var(A, "width")),
]:
    print(f"{name:>15}:", str(nt.show(value)).replace("\n", "  "))

# %% [markdown]
# The printed $p$-norm beside ours, on $A - 5$ (rows $[-2, -4, -1]$,
# $[-4, 0, 4]$, $[-3, 1, 0]$). For $p = 2$ they agree; for $p = 1$ the printed
# form is the plain sum, negative in the first row; for $p = 3$ it takes the cube
# root of a negative sum, which `torch.pow` returns as `nan`.

# %%
Am5 = A - 5


def printed_norm(X, ax, p):
    """(Σ_ax X^p)^(1/p), as TMLR §3.3 prints it (no absolute value)."""
    return nt.sum(X**p, ax) ** (1.0 / p)


for p in (1, 2, 3):
    ours, printed = nt.norm(Am5, "width", p=p), printed_norm(Am5, "width", p)
    ref = torch.linalg.vector_norm(nt.positional(Am5, ("height", "width")),
                                   ord=p, dim=1)
    same(ours, ("height",), ref)
    print(f"p = {p}: ours", str(nt.show(ours)).split("\n")[1],
          "  printed", str(nt.show(printed)).split("\n")[1])
same(printed_norm(Am5, "width", 2), ("height",), nt.positional(
    nt.norm(Am5, "width"), "height"))
assert nt.positional(printed_norm(Am5, "width", 1), "height")[0] < 0
assert nt.positional(printed_norm(Am5, "width", 3), "height").isnan().any()

# %% [markdown]
# ## Contraction
#
# :::{prf:definition} Contraction
# :label: def-contraction
#
# Contraction multiplies entry by entry and sums over the named axes:
#
# <!-- ntn: identity; X[ax,height]; Y[ax,width] -->
# $$
# X \ndot{\ax} Y = \nsum{\ax} X \odot Y .
# $$
# :::
#
# Both arguments are lifted as in §3.1, so $X$ and $Y$ may carry other axes, and the
# axes they share but are not summed over are matched, not multiplied out.
# `nt.contract` builds one `torch.einsum` call from the names, so the product
# $X \odot Y$ is never materialised:

# %%
nt.source(nt.contract, nt.core.einsum_equation)

# %% [markdown]
# One operator covers all the familiar products. With $x, x' \in \reals^{\height}$,
# $y \in \reals^{\width}$ and $B \in \reals^{\width \times \width'}$:
#
# <!-- ntn: definition; A[height,width]; expect=N(P(V["A"], "height", "width") ** 2, "height", "width"); at=7 -->
# <!-- ntn: definition; A[height,width]; expect=(P(V["A"], "height", "width") ** 2).sum().item(); at=6 -->
# <!-- ntn: definition; A[height,width]; B[width,width']; @width'=2; expect=N(P(V["A"], "height", "width") @ P(V["B"], "width", "width'"), "height", "width'"); at=5 -->
# <!-- ntn: definition; x[height]; A[height,width]; expect=N(P(V["x"], "height") @ P(V["A"], "height", "width"), "width"); at=4 -->
# <!-- ntn: definition; A[height,width]; y[width]; expect=N(P(V["A"], "height", "width") @ P(V["y"], "width"), "height"); at=3 -->
# <!-- ntn: definition; x[height]; y[width]; expect=N(torch.outer(P(V["x"], "height"), P(V["y"], "width")), "height", "width"); at=2 -->
# <!-- ntn: definition; x[height]; x'[height]; expect=(P(V["x"], "height") * P(V["x'"], "height")).sum().item() -->
# | product | named | positional |
# | --- | --- | --- |
# | inner | $x \ndot{\height} x'$ | `x @ x2` |
# | outer | $x \ndot{} y$ | `torch.outer(x, y)` |
# | matrix–vector | $A \ndot{\width} y$ | `A @ y` |
# | vector–matrix | $x \ndot{\height} A$ | `x @ A` |
# | matrix–matrix | $A \ndot{\width} B$ | `A @ B` |
# | over two axes | $A \ndot{\height \\ \width} A$ | `(A * A).sum()` |
# | elementwise | $A \ndot{} A$ | `A * A` |

# %%
x2 = nt.tensor([1, -1, 2], "height", dtype=f64)
Bm = nt.tensor([[1, 0], [2, 1], [0, 3]], ("width", "width'"), dtype=f64)
x2t, Bt = nt.positional(x2, "height"), nt.positional(Bm, ("width", "width'"))

products = {
    "inner x ⊙_height x'": (nt.contract(x, x2, over="height"), (), xt @ x2t),
    "outer x ⊙ y": (
        nt.contract(x, y),
        ("height", "width"),
        torch.outer(xt, yt),
    ),
    "matrix-vector A ⊙_width y": (
        nt.contract(A, y, over="width"),
        ("height",),
        At @ yt,
    ),
    "vector-matrix x ⊙_height A": (
        nt.contract(x, A, over="height"),
        ("width",),
        xt @ At,
    ),
    "matrix-matrix A ⊙_width B": (
        nt.contract(A, Bm, over="width"),
        ("height", "width'"),
        At @ Bt,
    ),
    "two axes A ⊙_height,width A": (
        nt.contract(A, A, over=("height", "width")),
        (),
        (At * At).sum(),
    ),
    "elementwise A ⊙ A": (nt.contract(A, A), ("height", "width"), At * At),
}
for name, (named, order, positional) in products.items():
    same(named, order, positional)
    print(f"{name}:\n{nt.show(named, order)}\n")

# %% [markdown]
# :::{prf:theorem} Contraction is commutative
# :label: thm-commutative
#
# <!-- ntn: identity; ~\mathcal{S}=\height \\ \width; X[height,width,seq]; Y[height,width,key] -->
# $X \ndot{\mathcal{S}} Y = Y \ndot{\mathcal{S}} X$:
# the operands are not distinguished by position.
# :::

# %%
X = nt.randn(seed=1, a=2, b=3, c=4)
Y = nt.randn(seed=2, b=3, c=4, d=5)
for over in [(), "b", ("b", "c")]:
    lhs, rhs = nt.contract(X, Y, over=over), nt.contract(Y, X, over=over)
    order = tuple(nt.shape(lhs))
    same(lhs, order, nt.positional(rhs, order))
print("X ⊙_S Y == Y ⊙_S X for S = ∅, {b}, {b, c}")

# %% [markdown]
# <!-- ntn: identity; u[height]; v[height]; w[height]; expect=((P(V["v"], "height") @ P(V["w"], "height")) * P(V["u"], "height")).sum().item(); at=6 -->
# <!-- ntn: identity; u[height]; v[height]; w[height]; expect=((P(V["u"], "height") @ P(V["v"], "height")) * P(V["w"], "height")).sum().item(); at=2 -->
# It is **not associative**. With three vectors $u, v, w \in \reals^{\height}$,
# $(u \ndot{\height} v) \ndot{\height} w$ multiplies the number $u \cdot v$ into $w$
# and then sums $w$, while $u \ndot{\height} (v \ndot{\height} w)$ multiplies $v \cdot
# w$ into $u$ and sums $u$:

# %%
u, v, w = x, x2, nt.tensor([3, 0, 1], "height", dtype=f64)
left = nt.contract(nt.contract(u, v, over="height"), w, over="height")
right = nt.contract(u, nt.contract(v, w, over="height"), over="height")
ut, vt, wt = (nt.positional(t, "height") for t in (u, v, w))
same(left, (), (ut @ vt) * wt.sum())
same(right, (), ut.sum() * (vt @ wt))
assert not torch.allclose(nt.positional(left, ()), nt.positional(right, ()))
print(nt.show(left), "≠", nt.show(right))

# %% [markdown]
# What does hold is a regrouping law with a side condition:
#
# :::{prf:theorem} Regrouping contractions
# :label: thm-regrouping
#
# <!-- ntn: identity; X[height,width,batch]; Y[height,seq,key]; Z[width,seq,val]; ~\mathcal{S} \cup \mathcal{T}=\height \\ \width; ~\mathcal{T} \cup \mathcal{U}=\width \\ \seq; ~\mathcal{S}=\height; ~\mathcal{U}=\seq -->
# $$
# X \ndot{\mathcal{S} \cup \mathcal{T}} (Y \ndot{\mathcal{U}} Z)
#   = (X \ndot{\mathcal{S}} Y) \ndot{\mathcal{T} \cup \mathcal{U}} Z
# \qquad \text{if } \mathcal{S} \cap \shp Z = \emptyset
#   \text{ and } \mathcal{U} \cap \shp X = \emptyset .
# $$
# :::
#
# Roughly: $\mathcal{S}$ holds the axes that only $X$ and $Y$ sum over,
# $\mathcal{U}$ those that only $Y$ and $Z$ sum over, and $\mathcal{T}$ those summed
# between $X$ and $Z$. The conditions say that an axis summed early must not appear
# in the operand that joins later, because the early sum would remove it before it
# could be matched. An example with axes $\name{a}, \name{b}, \name{c}, \name{e}$:
# $X \in \reals^{\name{a} \times \name{b}}$, $Y \in \reals^{\name{a} \times
# \name{c}}$, $Z \in \reals^{\name{b} \times \name{c} \times \name{e}}$,
# $\mathcal{S} = \{\name{a}\}$, $\mathcal{T} = \{\name{b}\}$, $\mathcal{U} =
# \{\name{c}\}$; $\name{a} \notin \shp Z$ and $\name{c} \notin \shp X$:

# %%
X = nt.randn(seed=3, a=2, b=3)
Y = nt.randn(seed=4, a=2, c=4)
Z = nt.randn(seed=5, b=3, c=4, e=5)
lhs = nt.contract(X, nt.contract(Y, Z, over="c"), over=("a", "b"))
rhs = nt.contract(nt.contract(X, Y, over="a"), Z, over=("b", "c"))
Xt, Yt, Zt = (
    nt.positional(X, ("a", "b")),
    nt.positional(Y, ("a", "c")),
    nt.positional(Z, ("b", "c", "e")),
)
same(lhs, ("e",), torch.einsum("ab,ac,bce->e", Xt, Yt, Zt))
same(rhs, ("e",), nt.positional(lhs, ("e",)))
print(nt.show(lhs))

# %% [markdown]
# <!-- ntn: identity; u[height]; v[height]; w[height]; expect=N((P(V["u"], "height") @ P(V["v"], "height")) * P(V["w"], "height"), "height"); at=14 -->
# <!-- ntn: identity; u[height]; v[height]; w[height]; expect=(P(V["u"], "height") * P(V["v"], "height") * P(V["w"], "height")).sum().item(); at=13 -->
# <!-- ntn: identity; u[height]; v[height]; w[height]; expect=((P(V["u"], "height") @ P(V["v"], "height")) * P(V["w"], "height")).sum().item(); at=7 -->
# <!-- ntn: identity; u[height]; v[height]; w[height]; expect=((P(V["v"], "height") @ P(V["w"], "height")) * P(V["u"], "height")).sum().item(); at=6 -->
# The non-associative example above is this law with $X = u$, $Y = v$, $Z = w$,
# $\mathcal{S} = \mathcal{U} = \{\height\}$ and $\mathcal{T} = \emptyset$: the
# left side is $u \ndot{\height} (v \ndot{\height} w)$, the right side
# $(u \ndot{\height} v) \ndot{\height} w$, and both side conditions fail, since
# $\height \in \shp w$ and $\height \in \shp u$. Breaking one condition is
# enough. With $\mathcal{S} = \{\height\}$ and $\mathcal{T} = \mathcal{U} =
# \emptyset$ only the first fails ($\height \in \shp w$), and the two sides differ
# even in shape: the left side $u \ndot{\height} (v \odot w)$ is a number, the right
# side $(u \ndot{\height} v) \odot w$ a vector:

# %%
lhs = nt.contract(u, nt.contract(v, w), over="height")
rhs = nt.contract(nt.contract(u, v, over="height"), w)
print(nt.shape(lhs), nt.shape(rhs))
assert nt.shape(lhs) != nt.shape(rhs)

# %% [markdown]
# ## Functions from vectors to vectors
#
# Softmax along an axis exponentiates and normalises so that the entries along that
# axis sum to one:
#
# <!-- ntn: definition; X[ax,batch] -->
# $$
# \nfun{\ax}{softmax} X = \frac{\exp X}{\nsum{\ax} \exp X}.
# $$
#
# It is a function $\reals^{\ax} \to \reals^{\ax}$, lifted over every other axis. The
# implementation subtracts the maximum along $\ax$ first, which changes nothing
# mathematically (it cancels in the quotient) and prevents overflow. The line above
# the definition pairs it with `torch.softmax` along the same axis, which runs by
# default; inside `with nt.plain():` the formula itself runs (chapter 4 explains the
# mechanism, and the tests check that both agree):

# %%
nt.source(nt.softmax)

# %% [markdown]
# <!-- ntn: example; A=running(); expect=N(torch.softmax(P(V["A"], "height", "width"), 1), "height", "width"); at=2 -->
# <!-- ntn: example; A=running(); expect=N(torch.softmax(P(V["A"], "height", "width"), 0), "height", "width") -->
# On the example the choice of axis decides everything: $\nfun{\height}{softmax} A$
# has columns that sum to one, $\nfun{\width}{softmax} A$ has rows that sum to one.

# %%
S_h = nt.softmax(A, "height")
S_w = nt.softmax(A, "width")
same(S_h, ("height", "width"), torch.softmax(At, dim=0))
same(S_w, ("height", "width"), torch.softmax(At, dim=1))
same(nt.sum(S_h, "height"), ("width",), torch.ones(3, dtype=f64))
same(nt.sum(S_w, "width"), ("height",), torch.ones(3, dtype=f64))
print("softmax_height A:\n", nt.show(S_h, ("height", "width")), sep="")
print("softmax_width A:\n", nt.show(S_w, ("height", "width")), sep="")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(8, 3))
panels = [
    ("A", At),
    ("softmax over height", nt.positional(S_h, ("height", "width"))),
    ("softmax over width", nt.positional(S_w, ("height", "width"))),
]
for ax, (title, data) in zip(axes, panels):
    data = data.cpu().numpy()
    ax.imshow(data, cmap="viridis")
    for (i, j), val in np.ndenumerate(data):
        ax.text(
            j,
            i,
            f"{val:.2f}" if title != "A" else f"{val:.0f}",
            ha="center",
            va="center",
            color="white" if val < data.max() * 0.6 else "black",
        )
    ax.set_title(title)
    ax.set_xlabel("width")
    ax.set_ylabel("height")
    ax.set_xticks(range(3))
    ax.set_yticks(range(3))
fig.tight_layout()
plt.show()

# %% [markdown]
# Scaling the input sharpens softmax. As $\alpha \to \infty$, $\nfun{\ax}{softmax}
# (\alpha X)$ puts all its mass on the largest entry along $\ax$ (split equally among
# ties), and as $\alpha \to -\infty$ on the smallest. These limits are the one-hot
# $\operatorname{argmax}$ and $\operatorname{argmin}$:
#
# :::{prf:theorem} argmax and argmin as limits of softmax
# :label: thm-argmax-limit
#
# <!-- ntn: identity; ~\lim_{\alpha \to \infty} \nfun{\ax}{softmax} (\alpha X)=\nfun{\ax}{softmax} (\lambda X); ~\lim_{\alpha \to -\infty} \nfun{\ax}{softmax} (\alpha X)=\nfun{\ax}{softmax} (-\lambda X); \lambda=1e4; X[ax,height] -->
# $$
# \nfun{\ax}{argmax} X = \lim_{\alpha \to \infty} \nfun{\ax}{softmax} (\alpha X),
# \qquad
# \nfun{\ax}{argmin} X = \lim_{\alpha \to -\infty} \nfun{\ax}{softmax} (\alpha X).
# $$
# :::
#
# `nt.argmax` computes the limit directly (ones where the maximum is attained,
# normalised along $\ax$); `nt.argmax_index` returns the position instead, as an
# integer tensor that §3.7's indexing accepts.

# %%
nt.source(nt.argmax, nt.argmin, nt.core.one_hot_limit, nt.argmax_index)

# %%
M_w, m_w = nt.argmax(A, "width"), nt.argmin(A, "width")
same(
    M_w,
    ("height", "width"),
    torch.nn.functional.one_hot(At.argmax(dim=1), 3).to(f64),
)
same(
    m_w,
    ("height", "width"),
    torch.nn.functional.one_hot(At.argmin(dim=1), 3).to(f64),
)
assert torch.equal(
    nt.positional(nt.argmax_index(A, "width"), "height"), At.argmax(dim=1)
)
assert torch.equal(
    nt.positional(nt.argmin_index(A, "height"), "width"), At.argmin(dim=0)
)
print("argmax_width A:\n", nt.show(M_w, ("height", "width")), sep="")
print("argmax_index(A, width):", nt.show(nt.argmax_index(A, "width")))

# %% [markdown]
# <!-- ntn: example; A=running(); expect=N(F.one_hot(P(V["A"], "height", "width").argmax(1), 3).double(), "height", "width"); at=2 -->
# <!-- ntn: example; A=running(); \alpha=3.0; expect=N(torch.softmax(3.0 * P(V["A"], "height", "width"), 1), "height", "width") -->
# The limit, numerically: the largest gap between $\nfun{\width}{softmax}(\alpha A)$
# and the one-hot $\nfun{\width}{argmax} A$ shrinks like $e^{-\alpha \delta}$, where
# $\delta = 1$ is the smallest gap between a row's maximum and its runner-up (row 1:
# $4 - 3$). Towards $\operatorname{argmin}$ it shrinks like $e^{-2|\alpha|}$, since
# every row's minimum is at least 2 below the next entry.

# %%
def gap(alpha, target):
    diff = nt.positional(
        nt.softmax(A * alpha, "width") - target, ("height", "width")
    )
    return float(diff.abs().max())


for alpha in [1, 2, 5, 10, 20, 40]:
    print(
        f"α = {alpha:>2}:  softmax(αA) vs argmax A: {gap(alpha, M_w):.1e};"
        f"  softmax(-αA) vs argmin A: {gap(-alpha, m_w):.1e}"
    )
assert gap(40, M_w) < 1e-15 and gap(-40, m_w) < 1e-15

# %%
alphas = np.linspace(0, 30, 61)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogy(
    alphas,
    [gap(a, M_w) for a in alphas],
    label=r"to argmax, $\alpha \to +\infty$",
)
ax.semilogy(
    alphas,
    [gap(-a, m_w) for a in alphas],
    "--",
    label=r"to argmin, $\alpha \to -\infty$",
)
ax.semilogy(
    alphas,
    np.exp(-alphas),
    ":",
    color="black",
    zorder=3,
    label=r"$e^{-|\alpha|}$ (reference)",
)
ax.set_xlabel(r"$|\alpha|$")
ax.set_ylabel("largest entry-wise gap")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# With a tie, the limit is not one-hot: the mass is shared.

# %%
t = nt.tensor([1, 3, 3], "width", dtype=f64)
print(nt.show(nt.argmax(t, "width")))
print(nt.show(nt.softmax(t * 50, "width")))

# %% [markdown]
# ## Renaming and reshaping
#
# **Renaming** changes an axis's name and nothing else:
#
# <!-- ntn: identity; X[ax,height]; i=2 -->
# $$
# [X_{\ax \to \ax'}]_{\ax'(i)} = X_{\ax(i)} .
# $$
#
# <!-- ntn: example; A=running(); expect=N(P(V["A"], "height", "width") @ P(V["A"], "height", "width").T, "height", "height'"); at=3 -->
# It is how one says that two axes of the same kind should *not* be matched. The
# Gram matrix of the rows of $A$, for instance, needs two $\height$ axes:
# $A \ndot{\width} A_{\height \to \height'} \in \reals^{\height \times \height'}$,
# which is $AA^\top$ positionally.

# %%
nt.source(nt.rename)

# %%
A_hp = nt.rename(A, {"height": "height'"})
print(nt.shape(A_hp))
gram = nt.contract(A, A_hp, over="width")
same(gram, ("height", "height'"), At @ At.T)
nt.show(gram, ("height", "height'"))

# %% [markdown]
# **Flattening** merges several axes into one: $A_{(\height, \width) \to \layer} \in
# \reals^{\layer[9]}$. The paper leaves the order of the entries along the new axis
# unspecified ("The order of elements in the new axis is undefined", TMLR §3.6).
# `ntlib` uses **row-major order in the order the axes are listed**: the
# first listed axis varies slowest, so position $h \cdot |\width| + w$ of $\layer$
# (counting from 0) holds $A_{\height(h), \width(w)}$. Listing the axes the other way
# round gives the other order. `nt.unflatten` splits an axis back, with the same
# convention.

# %%
nt.source(nt.flatten, nt.unflatten)

# %%
L_hw = nt.flatten(A, ("height", "width"), "layer")
L_wh = nt.flatten(A, ("width", "height"), "layer")
# row-major: rows of A one after another
same(L_hw, ("layer",), At.reshape(-1))
same(L_wh, ("layer",), At.T.reshape(-1))  # columns one after another
for h in range(3):
    for w_ in range(3):
        assert float(
            nt.positional(nt.index(L_hw, "layer", h * 3 + w_), ())
        ) == float(At[h, w_])
print("(height, width) -> layer:", nt.show(L_hw))
print("(width, height) -> layer:", nt.show(L_wh))

back = nt.unflatten(L_hw, "layer", {"height": 3, "width": 3})
same(back, ("height", "width"), At)
back2 = nt.unflatten(L_wh, "layer", {"width": 3, "height": 3})
same(back2, ("height", "width"), At)
print("unflatten(flatten(A)) == A in both orders")

# %% [markdown]
# ## Indexing
#
# NumPy and PyTorch offer many ways to pick entries out of a tensor with other
# tensors: integer-array indexing `E[I]`, `take`, `index_select`,
# `take_along_axis`, `gather`, and TensorFlow's `gather` with `batch_dims`. With
# named axes they are all one function of a vector and a position,
#
# <!-- ntn: definition; X[ax,height]; i=3 -->
# $$
# \nfun{\ax}{index} \colon \reals^{\ax[n]} \times [n] \to \reals, \qquad
# \nfun{\ax}{index}(X, i) = X_{\ax(i)},
# $$
#
# lifted (§3.1) over the axes of $X$ other than $\ax$ and over the axes of the index.
# Axes that $X$ and the index share are matched by name, like any lifted binary
# function. Positions here run over $\{0, \dots, n-1\}$.

# %%
nt.source(nt.index)

# %% [markdown]
# <!-- ntn: example; E[vocab,emb]; i=3; expect=N(P(V["E"], "vocab", "emb")[2], "emb"); at=3 -->
# **One position.** An embedding table $E \in \reals^{\vocab[n] \times \name{emb}}$
# and a word $i \in [n]$: $\nfun{\vocab}{index}(E, i) \in \reals^{\name{emb}}$ is row
# $i$, `E[i]`.

# %%
n, d = 6, 4
E = nt.randn(seed=10, vocab=n, emb=d)
Et = nt.positional(E, ("vocab", "emb"))
same(nt.index(E, "vocab", 3), ("emb",), Et[3])
nt.show(nt.index(E, "vocab", 3))

# %% [markdown]
# <!-- ntn: example; E[vocab,emb]; I=nt.tensor([2, 6, 1, 3, 3], "seq"); expect=N(P(V["E"], "vocab", "emb")[P(V["I"], "seq") - 1], "seq", "emb"); at=3 -->
# **A sequence of positions.** With $I \in [n]^{\seq}$, the lift over $\seq$ gives
# $\nfun{\vocab}{index}(E, I) \in \reals^{\seq \times \name{emb}}$ — an embedding
# lookup. Positionally this is `E[I]`, `np.take(E, I, axis=0)` or
# `torch.index_select(E, 0, I)`:

# %%
I = nt.tensor([2, 0, 5, 2, 1], "seq")
It = nt.positional(I, "seq")
looked_up = nt.index(E, "vocab", I)
same(looked_up, ("seq", "emb"), Et[It])
same(looked_up, ("seq", "emb"), torch.index_select(Et, 0, It))
same(looked_up, ("seq", "emb"),
     torch.from_numpy(np.take(Et.cpu().numpy(), It.cpu().numpy(), axis=0)))
nt.show(looked_up, ("seq", "emb"))

# %% [markdown]
# <!-- ntn: example; P[seq,vocab]; I=nt.tensor([2, 6, 1, 3, 3], "seq"); expect=N(P(V["P"], "seq", "vocab").gather(1, (P(V["I"], "seq") - 1)[:, None])[:, 0], "seq"); at=6 -->
# **One position per slice.** Now let $P \in \reals^{\seq \times \vocab[n]}$ hold,
# say, a distribution over the vocabulary at each position of a sequence, and
# $I \in [n]^{\seq}$ the observed word at each position. Since $P$ and $I$ share
# $\seq$, the lift matches them along it:
# $\nfun{\vocab}{index}(P, I) \in \reals^{\seq}$ with entry $P_{\seq(k),
# \vocab(I_{\seq(k)})}$. Positionally this is `np.take_along_axis` or `torch.gather`,
# which need the index reshaped to the rank of $P$ and then squeezed. The paper
# writes them with axis `0`, `numpy.take_along_axis(P, I, 0)` and
# `torch.gather(P, 0, I)`, which is right when $P$ is stored vocabulary-first;
# stored (seq, vocab), as here, the axis is `1`. A named tensor has no storage
# order, so this is exactly the detail the positional call has to add:

# %%
P = nt.softmax(nt.randn(seed=11, seq=5, vocab=n), "vocab")
Pt = nt.positional(P, ("seq", "vocab"))
picked = nt.index(P, "vocab", I)
same(picked, ("seq",), torch.gather(Pt, 1, It[:, None])[:, 0])
same(
    picked,
    ("seq",),
    torch.from_numpy(
        np.take_along_axis(
            Pt.cpu().numpy(), It.cpu().numpy()[:, None], axis=1
        )[:, 0]
    ),
)
same(picked, ("seq",), Pt[torch.arange(5, device=Pt.device), It])
# the paper's axis 0, with P stored vocabulary-first
same(picked, ("seq",), torch.gather(Pt.T, 0, It[None, :])[0])
nt.show(picked)

# %% [markdown]
# **A table per batch element.** If every element of a batch has its own table,
# $E \in \reals^{\batch \times \vocab[n] \times \name{emb}}$, and its own sequence,
# $I \in [n]^{\batch \times \seq}$, the same expression $\nfun{\vocab}{index}(E, I)
# \in \reals^{\batch \times \seq \times \name{emb}}$ matches $\batch$ and lifts over
# $\seq$ and $\name{emb}$. This is TensorFlow's `tf.gather(E, I, axis=1,
# batch_dims=1)`, defined there as `out[b, s, :] = E[b, I[b, s], :]`; TensorFlow is
# not a dependency of this book, so we check against that definition directly and
# against PyTorch advanced indexing. (The paper states this correspondence for
# $P$, not $E$: see the misprint below.)

# %%
Eb = nt.randn(seed=12, batch=2, vocab=n, emb=d)
Ib = nt.randint(0, n, seed=13, batch=2, seq=5)
Ebt, Ibt = (
    nt.positional(Eb, ("batch", "vocab", "emb")),
    nt.positional(Ib, ("batch", "seq")),
)
gathered = nt.index(Eb, "vocab", Ib)
# out[b] = E[b][I[b]]
tf_definition = torch.stack([Ebt[b][Ibt[b]] for b in range(2)])
same(gathered, ("batch", "seq", "emb"), tf_definition)
same(
    gathered,
    ("batch", "seq", "emb"),
    Ebt[torch.arange(2, device=Ebt.device)[:, None], Ibt],
)
print(nt.shape(gathered))

# %% [markdown]
# **A misprint: `tf.gather` for $P$.** The paper's last example of the list
# (§3.7) gives $P$ and $I$ a $\batch$ axis "before the other axes" and says
# that $\nfun{\vocab}{index}(P, I)$ is then "the same as
# `tensorflow.gather(P, I, axis=1, batch_dims=1)`". That call does not give
# the answer. With `batch_dims=1` only the batch is matched: every position's
# word id is looked up in every position's distribution, so the result has
# shape batch × seq × seq, and the named result is only its diagonal. (With
# $P$ stored (batch, seq, vocab) instead, axis 1 is $\seq$ itself: the call
# uses word ids as positions, and here fails on an id beyond $|\seq|$.)
# Matching $\seq$ as well takes
# `batch_dims=2`, with the axis counted in that storage order:
# `tf.gather(P, I, axis=2, batch_dims=2)`. Below, `tf_gather` is TensorFlow's
# documented rule written in torch (the output's shape is
# `params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis+1:]`),
# run on the printed call and on the corrected one:

# %%
def tf_gather(params, indices, axis, batch_dims):
    """tf.gather's rule: out[b, p, i, q] = params[b, p, indices[b, i], q],
    b the first batch_dims axes (shared), p the axes before `axis`."""
    lead = params.shape[:batch_dims]
    outs = []
    for b in np.ndindex(*lead):
        x, idx = params[b], indices[b]
        k = axis - batch_dims
        picked = torch.index_select(x, k, idx.flatten())
        outs.append(picked.reshape(x.shape[:k] + idx.shape + x.shape[k + 1:]))
    return torch.stack(outs).reshape(*lead, *outs[0].shape)


Pb = nt.softmax(nt.randn(seed=14, batch=2, seq=5, vocab=n), "vocab")
want = nt.index(Pb, "vocab", Ib)                    # (batch, seq)
# as printed, with P stored (batch, vocab, seq): axis 1 is vocab
printed = tf_gather(nt.positional(Pb, ("batch", "vocab", "seq")), Ibt,
                    axis=1, batch_dims=1)
print("printed:   tf.gather(P, I, axis=1, batch_dims=1) has shape",
      tuple(printed.shape))
assert tuple(printed.shape) == (2, 5, 5)            # batch x seq x seq
same(want, ("batch", "seq"), torch.diagonal(printed, dim1=1, dim2=2))
# as printed, with P stored (batch, seq, vocab): axis 1 is seq, so word ids
# are used as positions
try:
    tf_gather(nt.positional(Pb, ("batch", "seq", "vocab")), Ibt,
              axis=1, batch_dims=1)
    print("printed, seq-first: ran, indexing positions by word ids")
except IndexError:
    print("printed, seq-first: IndexError, a word id beyond |seq| = 5")
# corrected, with P stored (batch, seq, vocab)
corrected = tf_gather(nt.positional(Pb, ("batch", "seq", "vocab")), Ibt,
                      axis=2, batch_dims=2)
print("corrected: tf.gather(P, I, axis=2, batch_dims=2) has shape",
      tuple(corrected.shape))
same(want, ("batch", "seq"), corrected)
nt.show(want, ("batch", "seq"))

# %% [markdown]
# **Double indexing.** Finally let $P \in \reals^{\seq[m] \times \vocab[n]}$ and pick
# a list of pairs of positions, $I \in [m]^{\subseq}$ and $J \in [n]^{\subseq}$.
# Indexing $\seq$ by $I$ and then $\vocab$ by $J$,
#
# <!-- ntn: identity; P[seq,vocab]; I=nt.tensor([1, 4, 2, 4], "subseq"); J=nt.tensor([6, 3, 3, 1], "subseq"); k=2; @seq=4 -->
# $$
# S = \nfun{\vocab}{index}\bigl(\nfun{\seq}{index}(P, I), J\bigr) \in
# \reals^{\subseq}, \qquad
# S_{\subseq(k)} = P_{\seq(I_{\subseq(k)}),\, \vocab(J_{\subseq(k)})},
# $$
#
# picks one entry per $k$: positionally `P[I, J]`. The inner index leaves a tensor
# over $\subseq \times \vocab$, and because $J$ shares the axis $\subseq$ with it, the
# outer index matches the two along $\subseq$ rather than forming all pairs.
#
# *Erratum.* The paper (TMLR §3.7, unnumbered display) prints the entry formula as
# $S_{\subseq(k)} = P_{\seq(I_{\subseq(k)}),\, \vocab(I_{\subseq(k)})}$, with $I$
# twice; the second index must be $J$, as the definition of $S$ shows. (The first
# version, §3.4.2, names the two index tensors $I_1$ and $I_2$ and prints an
# unsubscripted $I$ in both places.) With $m \ne n$ the misprinted
# version is a different number (or out of range):

# %%
m = 4
P2 = nt.randn(seed=14, seq=m, vocab=n)
I2 = nt.tensor([0, 3, 1, 3], "subseq")
J2 = nt.tensor([5, 2, 2, 0], "subseq")
P2t, I2t, J2t = (
    nt.positional(P2, ("seq", "vocab")),
    nt.positional(I2, "subseq"),
    nt.positional(J2, "subseq"),
)
S = nt.index(nt.index(P2, "seq", I2), "vocab", J2)
same(S, ("subseq",), P2t[I2t, J2t])
for k in range(4):  # the corrected entry formula
    assert float(nt.positional(nt.index(S, "subseq", k), ())) == float(
        P2t[I2t[k], J2t[k]]
    )
misprint = nt.index(nt.index(P2, "seq", I2), "vocab", I2)
assert not torch.allclose(nt.positional(misprint, "subseq"), P2t[I2t, J2t])
print("S =", nt.show(S))
print("with I twice:", nt.show(misprint))

# %% [markdown]
# If $J$'s axis had a different name, say $\subseq'$, nothing would be matched and
# the lift would form every pair: a $\subseq \times \subseq'$ table, positionally
# `P[I][:, J]`. The names alone decide between the two.

# %%
J2p = nt.rename(J2, {"subseq": "subseq'"})
table = nt.index(nt.index(P2, "seq", I2), "vocab", J2p)
same(table, ("subseq", "subseq'"), P2t[I2t][:, J2t])
print(nt.shape(table))

# %% [markdown]
# ## Number types
#
# The paper's tensors hold elements of a field $F$ (TMLR §2.3), the reals in most of
# its examples; a computer's hold float32, float64,
# integers or booleans, and an operation on two of them must pick one type for the
# result. `ntlib` uses one rule everywhere — in elementwise operations, contraction,
# reductions and every block of the next chapter, on the fused and the plain path
# alike: **torch's type promotion** (`torch.result_type`). Mixing float32 with
# float64 gives float64; integers with floats give floats. Two additions make it
# total:
#
# - sums, maxima and contractions of integers stay integers, and booleans count
#   as integers (0 and 1), so that counting is summing;
# - an operation that needs real numbers (a mean, a variance, a softmax, exp, a
#   division, a network block) turns integer or boolean input into torch's default
#   float type, float32, just as torch's own division does.
#
# So the share of entries of $A$ above 3, or the accuracy of a classifier, is a
# mean over a comparison:

# %%
A = nt.tensor([[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"))
above = A > 3                                    # booleans
count = nt.sum(above, "height")  # integers: how many per column
share = nt.mean(above, "height")                 # floats
assert nt.dtype(count) == torch.int64 and nt.dtype(share) == torch.float32
At = nt.positional(A, ("height", "width"))
assert torch.equal(nt.positional(count, ("width",)), (At > 3).sum(0))
print("count:", nt.show(count), "\nshare:", nt.show(share))

X32 = nt.randn(seed=20, height=3, width=3, dtype=torch.float32)
Y64 = nt.randn(seed=21, width=3, dtype=torch.float64)
assert nt.dtype(nt.contract(X32, Y64, over="width")) == torch.float64
assert nt.dtype(X32 + Y64) == torch.float64
assert nt.dtype(nt.contract(A, A, over="width")) == torch.int64

# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise 3.1: a batched bilinear form
#
# For $x \in \reals^{\height}$, $A \in \reals^{\height \times \width}$ and
# $y \in \reals^{\width}$, the bilinear form $x^\top A y$ is, by name,
#
# <!-- ntn: definition; x[height]; A[height,width]; y[width]; expect=nt.exercises.solution("3.1")(x=V["x"], A=V["A"], y=V["y"]) -->
# $$
# (x \ndot{\height} A) \ndot{\width} y \in \reals .
# $$
#
# Write it as one contraction of three operands. When $x$ and $y$ carry a $\batch$ axis, the same
# code should give one number per batch entry (and must not sum over $\batch$).

# %%
def answer(x, A, y, *, height="height", width="width"):
    ...  # your code here


nt.exercises.report("3.1", answer)

# %% tags=["hide-cell"]
def answer(x, A, y, *, height="height", width="width"):
    return nt.contract(x, A, y, over=(height, width))  # batch is kept


assert nt.exercises.check("3.1", answer)

# %% [markdown]
# ### Exercise 3.2: softmax over two axes at once
#
# Write the softmax over $\height$ and $\width$ together, so that the entries of
# each $\height \times \width$ slice sum to one:
#
# <!-- ntn: definition; ~\nfun{\height, \width}{softmax} X=\mathrm{softmax2}(X); softmax2=nt.exercises.solution("3.2"); X[height,width,batch] -->
# $$
# \nfun{\height, \width}{softmax} X =
# \frac{\exp X}{\nsum{\height \\ \width} \exp X}.
# $$
#
# <!-- ntn: identity; X[height,width]; expect=N(torch.softmax(torch.softmax(P(V["X"], "height", "width"), 0), 1), "height", "width") -->
# Subtract the maximum over both axes first, as `nt.softmax` does, so that large
# inputs do not overflow. (Is $\nfun{\width}{softmax} \nfun{\height}{softmax} X$
# the same thing? Try it on the checker.)

# %%
def answer(X, *, height="height", width="width"):
    ...  # your code here


nt.exercises.report("3.2", answer)

# %% tags=["hide-cell"]
def answer(X, *, height="height", width="width"):
    Z = nt.exp(X - nt.max(X, (height, width)))  # at most 1: no overflow
    return Z / nt.sum(Z, (height, width))


assert nt.exercises.check("3.2", answer)

# %% [markdown]
# ### Exercise 3.3: a positional snippet, by name
#
# With `Xt` a matrix stored as (seq, layer), the positional code `Xt @ Xt.T`
# computes the dot products of every pair of positions, a matrix over two sequence
# axes. Write it by name: return a tensor over $\seq$ and $\seq'$ (spelled
# `"seq'"`) whose entry $(\seq(i), \seq'(j))$ is the dot product over $\layer$ of
# positions $i$ and $j$. Hint: rename.

# %%
def answer(X, *, seq="seq", layer="layer"):
    ...  # your code here


nt.exercises.report("3.3", answer)

# %% tags=["hide-cell"]
def answer(X, *, seq="seq", layer="layer"):
    X2 = nt.rename(X, {seq: seq + "'"})  # a second copy of the positions
    return nt.contract(X, X2, over=layer)


assert nt.exercises.check("3.3", answer)

# %% [markdown]
# ### Exercise 3.4: one step of k-means
#
# Points $X \in \reals^{\batch \times \dd}$ and centres
# $C \in \reals^{\clusters \times \dd}$. One step of k-means assigns each point to
# its nearest centre and moves each centre to the mean of its points:
#
# <!-- ntn: definition; X[batch,d]; C[clusters,d]; expect=nt.exercises.solution("3.4")(V["X"], V["C"]) -->
# $$
# \begin{aligned}
# Q &= \nfun{\clusters}{argmin} \nfun{\dd}{norm} (C - X)
#   \in \{0, 1\}^{\batch \times \clusters}, \\
# C' &= \frac{Q \ndot{\batch} X}{\nsum{\batch} Q}
#   \in \reals^{\clusters \times \dd}.
# \end{aligned}
# $$
#
# <!-- ntn: misprint; X[batch,d]; C[clusters,d]; Q=nt.examples.kmeans_assign(V["X"], V["C"]); expect=nt.examples.kmeans_update(V["X"], V["Q"]); at=2 -->
# Return $C'$. (The paper's v1, §3.4.5, prints the update as
# $C \leftarrow \nsum{\batch} \frac{Q \odot X}{Q}$; the form above is the
# corrected one, and chapter 7 runs both.)

# %%
def answer(X, C, *, batch="batch", d="d", clusters="clusters"):
    ...  # your code here


nt.exercises.report("3.4", answer)

# %% tags=["hide-cell"]
def answer(X, C, *, batch="batch", d="d", clusters="clusters"):
    Q = nt.argmin(nt.norm(C - X, d), clusters)  # one-hot: nearest centre
    return nt.contract(Q, X, over=batch) / nt.sum(Q, batch)


assert nt.exercises.check("3.4", answer)

# %% [markdown]
# ### Exercise 3.5: centre the columns, in the notation
#
# Write a formula, in the paper's notation, for $A$ with each column centred:
# from every entry subtract the mean of the column it sits in (a column of $A$
# runs along $\height$). Answer with a string of LaTeX, e.g.
# `answer = r"\nsum{\width} A"`; the checker evaluates it on tensors of its
# own, including one with an extra axis, so any equivalent formula passes.

# %%
answer = ...  # your answer

nt.exercises.report("3.5", answer)

# %% tags=["hide-cell"]
# the mean has no height axis; the subtraction broadcasts it down each column
answer = r"A - \frac{1}{|\height|} \nsum{\height} A"

assert nt.exercises.check("3.5", answer)
