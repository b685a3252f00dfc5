# %% [markdown]
# # Alternatives and related work
#
# Section 6 of *Named Tensor Notation* {cite}`chiang+:2023` sets named notation
# beside four alternatives and says what each lacks: index notation (§6.1),
# graphical notations (§6.2), relational algebra (§6.3), and presenting models
# as code instead of equations (§6.4). The first half of this chapter runs those
# arguments: each point the paper makes becomes a cell that shows the problem or
# the correspondence and checks it. (The list of software libraries with named
# axes is in the paper's §1, where it motivates the notation; the table at the
# end of this chapter takes it up and says which rows were run here.)
#
# The second half is this book's own extension: three formulas written in seven
# notations — named (`ntlib`), positional PyTorch, index notation executed by
# `torch.einsum`, einops {cite}`einops`, xarray {cite}`xarray`, SQL run by
# sqlite3, and tensor-network diagrams — each run on the same inputs and
# asserted equal to the `ntlib` result, and the mistake each notation lets
# through.
#
# Positions are 0-based in all the code below (and in SQL, whose index columns
# are plain integers); the paper counts from 1.

# %%
import functools
import logging
import math
import sqlite3
import textwrap
import warnings
from collections import OrderedDict

logging.getLogger("matplotlib").setLevel(logging.ERROR)
import einops
import funsor
import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr
from functorch.dim import dims
from funsor import ops
from funsor.domains import Bint
from IPython.display import Markdown, display

import ntlib as nt
from ntlib.testing import allclose

f64 = torch.float64
alt = nt.alternatives
P = nt.positional


# the chapter's check: ntlib.testing.same, to 1e-12 unless told
same = functools.partial(nt.testing.same, tol=1e-12)


def bound(x):
    """A nonzero difference as a printable lower bound (no noise digits)."""
    return f"{float(x):.2f}"


# %% [markdown]
# ## Index notation (§6.1)
#
# In index notation {cite}`ricci+levi-civita:1901`, the notation of physics
# (other fields use related ones {cite}`harshman:2001`), the axes are ordered
# and every equation is written for the components of tensors, an index that appears on both sides ranges over
# all its values, and Einstein's summation convention {cite}`einstein:1916`
# sums over an index that appears twice on one side only. The paper writes
# single-query attention this way, for $Q \in \reals^{d_k}$,
# $K \in \reals^{n \times d_k}$, $V \in \reals^{n \times d_v}$:
#
# $$
# \left[\text{Attention}(Q, K, V)\right]_k = \softmax_i \left(
#   \frac{Q_j K_{ij}}{\sqrt{d_k}} \right) V_{ik}.
# $$
#
# In the paper's letters, $i$ is a key position, $j$ a key feature and $k$ a
# value feature. The paper notes two things that must be settled before this
# means one thing: the $i$ under the softmax is *bound* there (the softmax runs
# over it) yet *free* outside it (it is summed against $V_{ik}$); and the sum
# over $j$ must happen *inside* the softmax, while Einstein's convention, taken
# literally, sums a repeated index over the whole term — and softmax does not
# distribute over addition. The two readings of the sum, run:

# %%
d_k, n, d_v = 3, 4, 3
q = nt.randn(seed=1, key=d_k)
K1 = nt.randn(seed=2, seq=n, key=d_k)
V1 = nt.randn(seed=3, seq=n, val=d_v)
qt, Kt, Vt = P(q, "key"), P(K1, ["seq", "key"]), P(V1, ["seq", "val"])
y1 = nt.attention(q, K1, V1)

# the intended reading: sum over j inside the softmax, over i outside it
s_i = torch.einsum("j,ij->i", qt, Kt) / math.sqrt(d_k)
intended = torch.einsum("i,ik->k", torch.softmax(s_i, 0), Vt)
same(y1, ["val"], intended)

# the convention taken literally: one softmax over i for each j, and the
# repeated indices i and j both summed over the whole term
s_ij = qt[None, :] * Kt / math.sqrt(d_k)          # (i, j), no sum yet
literal = torch.einsum("ij,ik->k", torch.softmax(s_ij, 0), Vt)
gap = (literal - intended).abs().max()
print(f"the two readings differ by up to {bound(gap)}")
assert gap > 0.1

# %% [markdown]
# Executing the formula forced a choice the formula does not make: `einsum`
# has no softmax, so the expression had to be cut into two sums, and the $i$ of
# the second string is a fresh letter that merely repeats the first. The named
# formula has nothing left to settle: $\nfun{\seq}{softmax}$ names the axis it
# runs over, $\ndot{\key}$ and $\ndot{\seq}$ name what they sum, and $\seq$ is
# the same axis in $K$ and in $V$ because it has the same name.
#
# Index notation also spends an index on every reduction and contraction, where
# named notation writes the axis once (the paper's second point):
#
# <!-- ntn: excluded; id=index-vs-named; reason=index notation (\max_i A_i, A_i B_i) set beside the named form for comparison -->
# $$
# C = \max_i A_i \quad\text{vs.}\quad C = \nfun{\ax}{max} A, \qquad\qquad
# C = A_i B_i \quad\text{vs.}\quad C = A \ndot{\ax} B.
# $$
#
# Both pairs, run, first on vectors and then on tensors with a $\batch$ axis:
# the named formulas are unchanged, while the index formulas gain an index,
# $C_b = \max_i A_{bi}$ and $C_b = A_{bi} B_{bi}$.

# %%
A = nt.randn(seed=4, ax=5)
B = nt.randn(seed=5, ax=5)
a, b = P(A, "ax"), P(B, "ax")
same(nt.max(A, "ax"), [], a.max())                       # max_i A_i
same(nt.contract(A, B, over="ax"), [], torch.einsum("i,i->", a, b))
Ab = nt.randn(seed=6, ax=5, batch=2)
Bb = nt.randn(seed=7, batch=2, ax=5)
ab, bb = P(Ab, ["batch", "ax"]), P(Bb, ["batch", "ax"])
same(nt.max(Ab, "ax"), ["batch"], ab.amax(1))            # C_b = max_i A_bi
same(nt.contract(Ab, Bb, over="ax"), ["batch"],
     torch.einsum("bi,bi->b", ab, bb))                    # C_b = A_bi B_bi
print("max and contraction: index and named forms agree, with and without "
      "a batch axis")

# %% [markdown]
# The paper's third point is lifting: index notation writes out every index.
# With a batch ($b$), heads ($h$) and many queries ($i'$) it prints
#
# $$
# \left[\text{Attention}(Q, K, V)\right]_{bhi'k} = \softmax_i \left(
#   \frac{Q_{bhi'j} K_{bhij}}{\sqrt{d_k}} \right) V_{bhik},
# $$
#
# which `einsum` runs once the query index, which it cannot spell $i'$, gets a
# letter of its own ($p$ below). The named function is the single-query one,
# unchanged; its inputs simply have more axes.

# %%
Bn, Hn, n_q = 2, 2, 5
Qb = nt.randn(seed=8, batch=Bn, heads=Hn, **{"seq'": n_q}, key=d_k)
Kb = nt.randn(seed=9, batch=Bn, heads=Hn, seq=n, key=d_k)
Vb = nt.randn(seed=10, batch=Bn, heads=Hn, seq=n, val=d_v)
Qp = P(Qb, ["batch", "heads", "seq'", "key"])
Kp = P(Kb, ["batch", "heads", "seq", "key"])
Vp = P(Vb, ["batch", "heads", "seq", "val"])
S_p = torch.einsum("bhpj,bhij->bhpi", Qp, Kp) / math.sqrt(d_k)
index_form = torch.einsum("bhpi,bhik->bhpk", torch.softmax(S_p, -1), Vp)
same(nt.attention(Qb, Kb, Vb), ["batch", "heads", "seq'", "val"], index_form)
print("the paper's batched index formula equals nt.attention, unchanged")

# %% [markdown]
# The alternative the paper mentions, a convention that lifts a function to
# extra axes on the *left*, is what positional libraries do, and it is where
# the "messy reordering and squeezing/unsqueezing" comes from. A positional
# single-query attention, correct for its inputs, does not survive the extra
# axes: `K @ q` now multiplies a key matrix by a query matrix that needs
# transposing, and the softmax runs over dimension 0, which is now the batch.

# %%
def attention_one_query(q, K, V):
    """Positional: q (d_k,), K (n, d_k), V (n, d_v) -> (d_v,)."""
    return torch.softmax(K @ q / math.sqrt(q.shape[-1]), dim=0) @ V


same(y1, ["val"], attention_one_query(qt, Kt, Vt))
try:
    attention_one_query(Qp, Kp, Vp)
    raise AssertionError("expected a RuntimeError")
except RuntimeError:
    print(f"RuntimeError: K @ q cannot multiply K {tuple(Kp.shape)} by "
          f"q {tuple(Qp.shape)}")


def attention_lifted(q, K, V):
    """The rewrite: q (..., n', d_k), K (..., n, d_k), V (..., n, d_v)."""
    s = K @ q.transpose(-1, -2) / math.sqrt(q.shape[-1])   # (..., n, n')
    return (torch.softmax(s, dim=-2).transpose(-1, -2)) @ V  # (..., n', d_v)


same(nt.attention(Qb, Kb, Vb), ["batch", "heads", "seq'", "val"],
     attention_lifted(Qp, Kp, Vp))
print("the positional version needed a transpose, a new softmax dimension")
print("and a transpose back")

# %% [markdown]
# The cells above show the costs; the paper's verdict also credits index
# notation. Once the softmax's bound index and the place of the sum are
# settled, which the paper counts as correctable, the notation handles any
# number of axes, and it is concise and unambiguous. What it does not do is
# the thing named axes are for. Its indices act as names for the axes, and in
# the *abstract* index notation of {cite:t}`penrose+rindler:1984` they are
# symbols rather than variables, but they last for one equation only: the
# next equation may call the same axis something else, and keeping the
# letters consistent is left to the author's care. The axes are still ordered,
# so the reader must still remember what each position means. In the cells
# above, `einsum` spelled the query axis `p` in one string and `i` stood for
# the keys in both, by our choice; nothing carried the meaning from one string
# to the next. A named axis keeps its name in every formula.
#
# ## Graphical notations (§6.2)
#
# In the graphical notation of {cite:t}`penrose:1971` a tensor is a node and
# each of its indices an edge; an edge between two nodes is a contraction.
# The variant of {cite:t}`alsberg:1997` names the edges instead of ordering
# them.
#
# Graphs also describe probability models {cite}`koller+friedman:2009`: there
# a node is a random variable and an edge, or a hyperedge, a dependency among
# variables. When the variables take finitely many values, a hyperedge joining
# $r$ of them is an order-$r$ tensor (a factor, one axis per variable), and the
# whole graph is the product of its factors contracted over the variables
# summed out; chapter 7's belief propagation computes such contractions.
# Extensions in which a graph chooses between two subgraphs, such as the gates
# of {cite:t}`minka+winn:2008`, then amount to adding tensors.
#
# <!-- ntn: definition; Q[key]; K[seq,key]; expect=N(P(V["K"], "seq", "key") @ P(V["Q"], "key"), "seq") -->
# The paper's assessment has two sides. In favour: diagrams are obviously
# useful for visualisation, and they can, at least in principle, treat the
# indices as unordered. Against: they seem best suited to linear functions;
# even there, a picture costs its author more effort than a formula, and the
# way from a picture to code in most programming languages is less direct than
# from an equation. The second half of this chapter draws
# named contraction diagrams from the tensors' axis names
# ({ref}`sec-diagrams`); attention shows the limitation: the
# softmax is not a contraction, so the diagrams stop at the scores
# $Q \ndot{\key} K$ and start again after the softmax, with its result as a
# node.
#
# ## Relational algebra (§6.3)
#
# In relational algebra {cite}`codd:1970` the objects are relations, sets of
# tuples whose members — the axes — were named and ordered in the original
# formulation, and only named in later ones {cite}`pirotte:1982`. The paper observes that an $r$-ary relation can be
# read as an order-$r$ tensor with Boolean entries, that contraction is
# similar to the natural join $\bowtie$, and that renaming is the same as the
# relational $\rho$. `alt.relation` turns a set of tuples into such a tensor
# and `alt.tuples` turns it back:

# %%
nt.source(nt.alternatives.relation, nt.alternatives.tuples)

# %% [markdown]
# Two small relations, stored in sqlite3 as plain tables of tuples: which
# student takes which course, $R \subseteq \name{student} \times
# \name{course}$, and which course meets in which room,
# $S \subseteq \name{course} \times \name{room}$.

# %%
sizes_rel = {"student": 4, "course": 3, "room": 2}
R_rows = [(0, 0), (0, 2), (1, 1), (2, 0), (2, 1), (3, 2)]
S_rows = [(0, 1), (1, 0), (1, 1), (2, 0)]
rdb = sqlite3.connect(":memory:")
rdb.execute("CREATE TABLE R (student INTEGER, course INTEGER)")
rdb.execute("CREATE TABLE S (course INTEGER, room INTEGER)")
rdb.executemany("INSERT INTO R VALUES (?, ?)", R_rows)
rdb.executemany("INSERT INTO S VALUES (?, ?)", S_rows)
R = alt.relation(R_rows, ("student", "course"), sizes_rel)
S = alt.relation(S_rows, ("course", "room"), sizes_rel)
nt.show(R, ("student", "course"))

# %% [markdown]
# **The natural join is the elementwise product.** $R \bowtie S$ keeps the
# tuples $(s, c, r)$ with $(s, c) \in R$ and $(c, r) \in S$; the Boolean
# tensor $R \odot S$ — a contraction over no axis, broadcasting over the
# names the two do not share — is true exactly there.

# %%
join_sql = set(rdb.execute(
    "SELECT student, course, room FROM R NATURAL JOIN S").fetchall())
join_tensor = alt.tuples(R * S, ("student", "course", "room"))
assert join_tensor == join_sql
print(f"R ⋈ S: {len(join_sql)} tuples, the same set from sqlite3 and R ⊙ S")

# %% [markdown]
# <!-- ntn: definition; R[student,course]; S[course,room]; @student=4,course=3,room=2; expect=N(P(V["R"], "student", "course") @ P(V["S"], "course", "room"), "student", "room") -->
# **Contraction is join, then projection.** $R \ndot{\name{course}} S$ sums
# over the course: its nonzero entries are the projection
# $\pi_{\name{student}, \name{room}}(R \bowtie S)$, and its values count how
# many courses connect the two, SQL's `COUNT(*) ... GROUP BY`. So contraction
# is "similar to" the join, as the paper puts it: a join followed by a
# projection that counts.

# %%
C_rel = nt.contract(R, S, over="course")
projection = set(rdb.execute(
    "SELECT DISTINCT student, room FROM R NATURAL JOIN S").fetchall())
counts = rdb.execute("SELECT student, room, COUNT(*) FROM R NATURAL JOIN S "
                     "GROUP BY student, room").fetchall()
assert alt.tuples(C_rel, ("student", "room")) == projection
Cp = P(C_rel, ("student", "room"))
assert all(int(Cp[s, r]) == k for s, r, k in counts)
nt.show(C_rel, ("student", "room"))

# %% [markdown]
# **Renaming is $\rho$.** $\rho_{\name{course} \to \name{class}}(R)$ is a
# column alias in SQL and $R_{\name{course} \to \name{class}}$ in named
# notation:

# %%
rho = set(rdb.execute("SELECT student, course AS class FROM R").fetchall())
renamed = nt.rename(R, {"course": "class"})
assert alt.tuples(renamed, ("student", "class")) == rho
print(nt.names(renamed), f"{len(rho)} tuples, the same as ρ in SQL")

# %% [markdown]
# The paper adds that probabilistic relational algebras
# {cite}`dey+sarkar:1996,fuhr+rolleke:1997`, whose relations carry
# probabilities, correspond to tensors of probabilities; chapter 7's
# random variables are such tensors. The SQL section of the second half
# runs whole formulas this way, with real-valued tensors as tables.
#
# ## Specifications and code (§6.4)
#
# To the reply that papers should simply present models as code, the paper
# answers that a specification must be distinct from any implementation: it
# is what makes an implementation, the original or a reimplementation, correct
# or incorrect. An implementation that serves as its own specification can be
# neither; in the paper's words it is "not even wrong". The paper also argues
# that the meaning of a paper should not depend on the version of a library. Its
# example is PyTorch's `Dropout2d` on order-3 tensors, which the paper says
# has "one behavior in versions 1.11 and 1.13, but another behavior in 1.10,
# 1.12, and future versions" (§6.4, with no citation). We cannot run old
# versions here; we can run the installed one and read off which axes its mask has. A tensor of ones of
# shape (4, 5, 6) goes in; the zero pattern of the output shows the mask (the
# output depends on the installed torch, so the tests do not compare it):

# %% tags=["nbval-ignore-output"]
x3 = torch.ones(4, 5, 6, dtype=f64)
torch.manual_seed(0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    y3 = torch.nn.Dropout2d(0.5)(x3)
dim_names = ("dim0", "dim1", "dim2")
mask_dims = alt.varying_axes(nt.tensor(y3 == 0, dim_names))
reading = {("dim0", "dim1"): "(N, C, L): whole rows along dim2 dropped",
           ("dim0",): "(C, H, W): whole channels dropped"}[mask_dims]
print(f"torch {torch.__version__.split('+')[0]}: the mask varies along "
      f"{mask_dims},")
print(f"so the input was read as {reading}")
for w in caught:
    print(textwrap.fill(f"{w.category.__name__}: {w.message}", 79))
announces = any("future release" in str(w.message) for w in caught)
display(Markdown(
    f"The torch this page was built with ({torch.__version__.split('+')[0]}) "
    f"reads an order-3 input as {reading}"
    + ("; its warning announces that a future release will read the same "
       "input as one image (channels, height, width) and drop whole channels."
       if announces else ".")))

# %% [markdown]
# The sentence above is written from the mask the installed torch drew and
# the warning it gave. Across the versions the paper lists, the same line of
# code meant two models: whole channels of one image, or whole rows of a
# batch of sequences. With
# names the question does not arise: dropout is specified by the axes of its
# mask, $\text{Dropout}_{\mathcal{M}}(X) = X \odot M / (1 - p)$ with
# $M \in \{0, 1\}^{\mathcal{M}}$ drawn independently, equal to 1 with
# probability $1 - p$, and broadcast over the other axes of $X$:

# %%
nt.source(nt.alternatives.dropout, nt.alternatives.varying_axes)

# %% [markdown]
# Channel dropout on a batch of sequences and on a single image are then two
# different, explicit formulas; each mask has the axes it was given, whatever
# order the tensor is stored in:

# %%
X_seq = nt.randn(seed=11, length=6, batch=4, chans=5)
X_img = nt.randn(seed=12, width=6, chans=4, height=5)
Y_seq = alt.dropout(X_seq, 0.5, ("batch", "chans"), seed=13)
Y_img = alt.dropout(X_img, 0.5, "chans", seed=14)
print("batch of sequences, mask over", alt.varying_axes(Y_seq == 0))
print("one image, mask over         ", alt.varying_axes(Y_img == 0))
assert set(alt.varying_axes(Y_seq == 0)) == {"batch", "chans"}
assert alt.varying_axes(Y_img == 0) == ("chans",)

# %% [markdown]
# ## Three formulas in seven notations
#
# The rest of the chapter is ours: it takes three formulas
#
# 1. single-query attention (§4 of the paper),
# 2. batched multi-head self-attention with a causal mask (Appendix A),
# 3. one fully connected layer, FullConn (§4),
#
# and writes each of them in seven ways, all run on the same random float64
# inputs and asserted equal to the `ntlib` result.
#
# **Single-query attention.** A query $q \in \reals^{\key}$ looks up keys
# $K \in \reals^{\seq \times \key}$ and returns a mixture of values
# $V \in \reals^{\seq \times \val}$:
#
# <!-- ntn: definition; Attention=nt.attention; q[key]; K[seq,key]; V[seq,val]; ~\nfun{\seq}{softmax}\left( \frac{q \ndot{\key} K}{\sqrt{|\key|}}\right)=(\nfun{\seq}{softmax}\left( \frac{q \ndot{\key} K}{\sqrt{|\key|}}\right)) -->
# $$
# \text{Attention}(q, K, V) = \nfun{\seq}{softmax}\left(
#   \frac{q \ndot{\key} K}{\sqrt{|\key|}}\right) \ndot{\seq} V .
# $$
#
# **Batched multi-head causal self-attention** (Appendix A). With
# $X \in \reals^{\batch \times \seq \times \layer}$,
# $W^Q, W^K \in \reals^{\heads \times \layer \times \key}$,
# $W^V \in \reals^{\heads \times \layer \times \val}$ and
# $W^O \in \reals^{\heads \times \val \times \layer}$, the queries live on a
# renamed copy $\name{seq'}$ of the sequence axis:
#
# <!-- ntn: definition; Attention=nt.attention; X[seq,layer]; W^Q[heads,layer,key]; W^K[heads,layer,key]; W^V[heads,layer,val]; W^O[heads,val,layer]; M=nt.causal_mask(5, query="seq'"); SelfAtt=lambda X: nt.models.self_attention(X, V["W^Q"], V["W^K"], V["W^V"], V["W^O"], V["M"]) -->
# $$
# \begin{aligned}
# Q &= W^Q \ndot{\layer} X_{\seq \to \name{seq'}}, \\
# K &= W^K \ndot{\layer} X, \quad V = W^V \ndot{\layer} X, \\
# \text{SelfAtt}(X) &= W^O \ndot{\heads, \val}
#   \text{Attention}(Q, K, V, M)_{\name{seq'} \to \seq},
# \end{aligned}
# $$
#
# where Attention adds the mask before the softmax. With $i$ for a query
# position and $j$ for a key position (the letters used for them in every
# formula below), $M_{\seq(j), \name{seq'}(i)} = 0$ if $j \le i$ and $-\infty$
# otherwise: the query at position $i$ sees the keys at positions up to $i$.
# (Appendix A of the paper writes the same mask with the letters the other way
# round.)
#
# **FullConn** (§4), with $W \in \reals^{\out \times \layer}$ and
# $b \in \reals^{\out}$:
#
# <!-- ntn: definition; FullConn=lambda x: nt.full_conn(x, V["W"], V["b"]); W[out,layer]; b[out]; x[layer,batch] -->
# $$
# \text{FullConn}(x) = \sigma\left(W \ndot{\layer} x + b\right)_{\out \to \layer}.
# $$
#
# `ntlib` has all three: `nt.attention` and `nt.full_conn` (chapter 4) and
# `nt.models.self_attention` (Appendix A.1), whose sources are these formulas,
# transcribed. They are the reference for everything below. The inputs are
# random float64 tensors, small enough to print, with the two sequence axes
# (queries and keys) of equal length, which matters for the section on
# mistakes.

# %%
B, H, N, L, D = 2, 2, 4, 6, 3          # batch, heads, seq, layer, key = val
q = nt.randn(seed=1, key=D)
K1 = nt.randn(seed=2, seq=N, key=D)
V1 = nt.randn(seed=3, seq=N, val=D)

X = nt.randn(seed=4, batch=B, seq=N, layer=L)
WQ = nt.randn(seed=5, heads=H, layer=L, key=D) / math.sqrt(L)
WK = nt.randn(seed=6, heads=H, layer=L, key=D) / math.sqrt(L)
WV = nt.randn(seed=7, heads=H, layer=L, val=D) / math.sqrt(L)
WO = nt.randn(seed=8, heads=H, val=D, layer=L) / math.sqrt(H * D)
M = nt.causal_mask(N, seq="seq", query="seq'")

x = nt.randn(seed=9, batch=B, layer=L)
W = nt.randn(seed=10, out=L, layer=L) / math.sqrt(L)
b = nt.randn(seed=11, out=L)

# the three reference results
y1 = nt.attention(q, K1, V1)
y2 = nt.models.self_attention(X, WQ, WK, WV, WO, M)
y3 = nt.full_conn(x, W, b)
print(nt.shape(y1), nt.shape(y2), nt.shape(y3), sep="\n")
nt.show(y1, ["val"])

# %% [markdown]
# ### Positional PyTorch
#
# The same computations with plain tensors. The code now depends on a layout
# convention, written in the comments: which dimension is which is nowhere in the
# data. `nt.positional(x, order)` hands each tensor over in the order the
# convention asks for.

# %%
qt, Kt, Vt = P(q, "key"), P(K1, ["seq", "key"]), P(V1, ["seq", "val"])
# scores over seq, softmax over seq, weighted sum of the rows of V
pt1 = torch.softmax(Kt @ qt / math.sqrt(D), dim=0) @ Vt
same(y1, ["val"], pt1)

# layouts: X (batch, seq, layer); W^Q, W^K, W^V (heads, layer, key|val);
# W^O (heads, val, layer); mask (query, key)
Xt = P(X, ["batch", "seq", "layer"])
WQt, WKt = P(WQ, ["heads", "layer", "key"]), P(WK, ["heads", "layer", "key"])
WVt, WOt = P(WV, ["heads", "layer", "val"]), P(WO, ["heads", "val", "layer"])
Mt = P(M, ["seq'", "seq"])                    # rows: queries, columns: keys
Qt = Xt.unsqueeze(1) @ WQt                    # (batch, heads, seq, key)
Kt2 = Xt.unsqueeze(1) @ WKt
Vt2 = Xt.unsqueeze(1) @ WVt
St = Qt @ Kt2.transpose(-2, -1) / math.sqrt(D) + Mt   # (b, h, query, key)
At = torch.softmax(St, dim=-1) @ Vt2                   # (b, h, query, val)
pt2 = torch.einsum("bhqv,hvl->bql", At, WOt)
same(y2, ["batch", "seq", "layer"], pt2)

xt, Wt, bt = P(x, ["batch", "layer"]), P(W, ["out", "layer"]), P(b, "out")
pt3 = torch.sigmoid(xt @ Wt.T + bt)      # (batch, out); out is the new layer
same(y3, ["batch", "layer"], pt3)
print("positional PyTorch: all three equal")

# %% [markdown]
# ### Index notation, executed by `einsum`
#
# For multi-head attention, with $b$ the batch, $h$ the head, $i$ the query
# position, $j$ the key position, $l$ the layer, $k$ and $v$ the key and value
# features (in Einstein's convention the sums are implicit; we write them):
#
# $$
# \begin{aligned}
# Q_{bhik} &= \textstyle\sum_l X_{bil} W^Q_{hlk}, \quad
# K_{bhjk} = \sum_l X_{bjl} W^K_{hlk}, \\
# V_{bhjv} &= \textstyle\sum_l X_{bjl} W^V_{hlv}, \\
# S_{bhij} &= \textstyle\frac{1}{\sqrt{d_k}} \sum_k Q_{bhik} K_{bhjk} + M_{ji},
# \\
# P_{bhij} &= \frac{\exp S_{bhij}}{\sum_{j'} \exp S_{bhij'}}, \\
# Y_{bil} &= \textstyle\sum_h \sum_v \left(\sum_j P_{bhij} V_{bhjv}\right)
#   W^O_{hvl} .
# \end{aligned}
# $$
#
# The letters carry the meaning, but only inside one equation: $i$ and $j$ both
# range over sequence positions, and nothing outside the formula says which is the
# query. `torch.einsum` executes such a formula when each letter is spelled out
# again, in the order of each operand's dimensions:

# %%
e = torch.einsum
# single-query attention:  s_j = sum_k q_k K_jk,  y_v = sum_j p_j V_jv
s = e("k,jk->j", qt, Kt) / math.sqrt(D)
ein1 = e("j,jv->v", torch.softmax(s, 0), Vt)
same(y1, ["val"], ein1)

# multi-head causal self-attention, the index formulas above
Qe = e("bil,hlk->bhik", Xt, WQt)
Ke = e("bjl,hlk->bhjk", Xt, WKt)
Ve = e("bjl,hlv->bhjv", Xt, WVt)
Me = P(M, ["seq", "seq'"])                    # M_ji: j key, i query
Se = e("bhik,bhjk->bhij", Qe, Ke) / math.sqrt(D) + e("ji->ij", Me)
Pe = torch.softmax(Se, dim=-1)                # over j, the last letter
ein2 = e("bhij,bhjv,hvl->bil", Pe, Ve, WOt)
same(y2, ["batch", "seq", "layer"], ein2)

# FullConn:  y_bo = sigma(sum_l W_ol x_bl + b_o)
ein3 = torch.sigmoid(e("ol,bl->bo", Wt, xt) + bt)
same(y3, ["batch", "layer"], ein3)
print("einsum: all three equal")

# %% [markdown]
# ### einops
#
# [einops](https://einops.rocks) lets the letters be words: `einops.einsum` takes
# multi-letter axis names, and `rearrange` reshapes by a pattern such as
# `"b s (h k) -> b h s k"`. The names still live inside one pattern only (the arrays
# are plain positional arrays), and must be identifiers, so the query axis is
# spelled `qpos` here. The self-attention below is written the way einops code
# often is: one projection for all heads, then the heads split off by `rearrange`.

# %%
ee = einops.einsum
s = ee(qt, Kt, "key, seq key -> seq") / math.sqrt(D)
eo1 = ee(torch.softmax(s, 0), Vt, "seq, seq val -> val")
same(y1, ["val"], eo1)

# all heads in one projection matrix, heads split off afterwards
WQf = einops.rearrange(WQt, "heads layer key -> layer (heads key)")
WKf = einops.rearrange(WKt, "heads layer key -> layer (heads key)")
WVf = einops.rearrange(WVt, "heads layer val -> layer (heads val)")
split = "batch seq (heads key) -> batch heads seq key"
Qo = einops.rearrange(Xt @ WQf, split, heads=H)
Ko = einops.rearrange(Xt @ WKf, split, heads=H)
Vo = einops.rearrange(Xt @ WVf, split, heads=H)
So = ee(Qo, Ko, "b h qpos key, b h seq key -> b h qpos seq") / math.sqrt(D)
So = So + einops.rearrange(P(M, ["seq", "seq'"]), "seq qpos -> qpos seq")
Ao = ee(torch.softmax(So, dim=-1), Vo,
        "b h qpos seq, b h seq val -> b h qpos val")
eo2 = ee(Ao, WOt, "b h qpos val, h val layer -> b qpos layer")
same(y2, ["batch", "seq", "layer"], eo2)

eo3 = torch.sigmoid(ee(xt, Wt, "batch layer, out layer -> batch out") + bt)
same(y3, ["batch", "layer"], eo3)
print("einops: all three equal")

# %% [markdown]
# ### xarray
#
# [xarray](https://docs.xarray.dev) is the labelled-array library of the scientific
# Python world. A `DataArray` carries its `dims` (axis names) with it, arithmetic
# broadcasts by name, and `xr.dot` contracts over the named dims. That is named
# notation, almost operation for operation: contraction is `xr.dot(..., dim=...)`,
# renaming is `.rename(...)`, and a softmax is written with reductions over a
# named dim. `alt.to_xarray` and `alt.from_xarray` convert in both directions
# (the names are kept; xarray's coordinates have no counterpart in a named tensor
# and are dropped when converting back):

# %%
nt.source(nt.alternatives.to_xarray, nt.alternatives.from_xarray)

# %%
xa = alt.to_xarray


def softmax_x(a, dim):
    z = np.exp(a - a.max(dim))
    return z / z.sum(dim)


s = xr.dot(xa(q), xa(K1), dim="key") / math.sqrt(D)
xr1 = xr.dot(softmax_x(s, "seq"), xa(V1), dim="seq")
same(y1, ["val"], nt.positional(alt.from_xarray(xr1), ["val"]))

Xx = xa(X)
Qx = xr.dot(xa(WQ), Xx.rename(seq="seq'"), dim="layer")
Kx = xr.dot(xa(WK), Xx, dim="layer")
Vx = xr.dot(xa(WV), Xx, dim="layer")
Sx = xr.dot(Qx, Kx, dim="key") / math.sqrt(D) + xa(M)
Ax = xr.dot(softmax_x(Sx, "seq"), Vx, dim="seq").rename({"seq'": "seq"})
xr2 = xr.dot(xa(WO), Ax, dim=["heads", "val"])
print(xr2.dims)
same(y2, ["batch", "seq", "layer"],
     nt.positional(alt.from_xarray(xr2), ["batch", "seq", "layer"]))

z = xr.dot(xa(W), xa(x), dim="layer") + xa(b)
xr3 = (1 / (1 + np.exp(-z))).rename(out="layer")
same(y3, ["batch", "layer"],
     nt.positional(alt.from_xarray(xr3), ["batch", "layer"]))
print("xarray: all three equal")

# %% [markdown]
# The xarray code is the named formula with other spellings, and it never says in
# which order the dims are stored (`xr2.dims` printed above comes out in xarray's
# own order).
#
# ### SQL: relational algebra on a real engine
#
# The relational reading of §6.3 extends from Boolean to real-valued tensors: a
# named tensor is a table with one column per axis holding the index and one
# column for the value, one row per index record. Then
#
# - the elementwise product of two tensors is the **natural join** on their shared
#   index columns, multiplying the values;
# - a sum over an axis is a **GROUP BY** of the other columns with `SUM`;
# - so a contraction $A \ndot{\ax} B$ is JOIN, then GROUP BY the kept columns, then
#   `SUM(a.v * b.v)`;
# - renaming an axis is the relational $\rho$: a column alias, `AS`.
#
# `alt.sql_load` stores a tensor as such a table in sqlite3 (float64 values), and
# `alt.sql_contract_query` writes the contraction query (its source is folded
# here: open it with the toggle).

# %% tags=["hide-output"]
nt.source(nt.alternatives.sql_contract_query)

# %% [markdown]
# <!-- ntn: definition; W[out,layer]; x[layer]; expect=N(P(V["W"], "out", "layer") @ P(V["x"], "layer"), "out") -->
# FullConn in SQL: the contraction $W \ndot{\layer} x$, then the bias joined on
# $\out$, the sigmoid, and the renaming $\out \to \layer$ as a column alias. The
# query `alt.sql_contract_query` writes for the contraction:

# %%
db = sqlite3.connect(":memory:")
db.create_function("exp", 1, math.exp, deterministic=True)
sizes = {}
for name, t in {"x": x, "W": W, "b": b}.items():
    sizes.update(alt.sql_load(db, name, t))
z_sql = alt.sql_contract_query(
    {"W": ["out", "layer"], "x": ["batch", "layer"]}, over="layer")
print(z_sql)

# %%
full_conn_sql = f"""
WITH z AS ({z_sql})
SELECT z."batch", z."out" AS "layer",
       1.0 / (1.0 + exp(-(z."v" + b."v"))) AS "v"
FROM z JOIN "b" AS b ON b."out" = z."out"
"""
sq3 = alt.sql_read(db, full_conn_sql, sizes)
same(sq3, ["batch", "layer"], nt.positional(y3, ["batch", "layer"]))
print("SQL FullConn equals nt.full_conn")

# %% [markdown]
# A softmax needs a sum over one axis for every value of the others: SQL's window
# functions, `OVER (PARTITION BY ...)` the kept columns. Subtracting the maximum
# first keeps `exp` from overflowing, as in `nt.softmax`. The two query builders
# (folded) write these steps; single-query attention is then three `WITH` steps
# and a contraction:

# %% tags=["hide-input"]
def softmax_sql(table, keep, value="v"):
    """exp(v - max v) over the columns not in `keep`, a SELECT on `table`."""
    cols = ", ".join(f'"{c}"' for c in keep)
    part = f"PARTITION BY {cols}" if keep else ""
    return f"""
    SELECT *, exp("{value}" - MAX("{value}")
                  OVER ({part})) AS e
    FROM {table}"""


def normalise_sql(table, axes, keep):
    """e / (sum of e over the columns not in `keep`), as a SELECT."""
    cols = ", ".join(f'"{c}"' for c in axes)
    part = ", ".join(f'"{c}"' for c in keep)
    over = f"PARTITION BY {part}" if keep else ""
    return f"""
    SELECT {cols},
           e / SUM(e) OVER ({over}) AS "v"
    FROM {table}"""


# %%
for name, t in {"q1": q, "K1": K1, "V1": V1}.items():
    sizes.update(alt.sql_load(db, name, t))
attention1_sql = f"""
WITH s AS ({alt.sql_contract_query({"q1": ["key"], "K1": ["seq", "key"]},
                                   over="key", scale=1 / math.sqrt(D))}),
     e AS ({softmax_sql("s", [])}),
     p AS ({normalise_sql("e", ["seq"], [])})
{alt.sql_contract_query({"p": ["seq"], "V1": ["seq", "val"]}, over="seq")}
"""
sq1 = alt.sql_read(db, attention1_sql, sizes)
same(sq1, ["val"], nt.positional(y1, ["val"]))
print("SQL single-query attention equals nt.attention")

# %% [markdown]
# Multi-head causal self-attention is the same pattern, one `WITH` step per line of
# the formula. The renaming $X_{\seq \to \name{seq'}}$ is an alias on the query
# side, the mask is added by a join on both position columns, and the final
# $\name{seq'} \to \seq$ is an alias again. The whole query runs in sqlite3; its
# shape, one line per step (what the step reads, joins on, groups by, and the
# columns it returns):

# %%
for name, t in {"X": X, "WQ": WQ, "WK": WK, "WV": WV, "WO": WO,
                "M": M}.items():
    sizes.update(alt.sql_load(db, name, t))
sizes["seq'"] = N
Cq = alt.sql_contract_query
bhqs = ["batch", "heads", "seq'", "seq"]
steps = {
    "Q": Cq({"X": ["batch", "seq", "layer"], "WQ": ["heads", "layer", "key"]},
            over="layer", rename={"seq": "seq'"}),
    "K": Cq({"X": ["batch", "seq", "layer"], "WK": ["heads", "layer", "key"]},
            over="layer"),
    "V": Cq({"X": ["batch", "seq", "layer"], "WV": ["heads", "layer", "val"]},
            over="layer"),
    "S": Cq({"Q": ["batch", "heads", "seq'", "key"],
             "K": ["batch", "heads", "seq", "key"]},
            over="key", scale=1 / math.sqrt(D)),
    "SM": """
    SELECT S."batch", S."heads", S."seq'", S."seq", S."v" + M."v" AS "v"
    FROM S JOIN "M" AS M ON M."seq" = S."seq"
    AND M."seq'" = S."seq'" """,
    "E": softmax_sql("SM", ["batch", "heads", "seq'"]),
    "Pr": normalise_sql("E", bhqs, ["batch", "heads", "seq'"]),
    "A": Cq({"Pr": bhqs, "V": ["batch", "heads", "seq", "val"]},
            over="seq", rename={"seq'": "seq"}),
}
final = Cq({"A": ["batch", "heads", "seq", "val"],
            "WO": ["heads", "val", "layer"]}, over=["heads", "val"])
with_clause = ",\n".join(f"{k} AS ({v.strip()})" for k, v in steps.items())
attention2_sql = f"WITH {with_clause}\n{final}"
sq2 = alt.sql_read(db, attention2_sql, sizes)
same(sq2, ["batch", "seq", "layer"],
     nt.positional(y2, ["batch", "seq", "layer"]))
print("SQL multi-head causal self-attention equals nt.models.self_attention")

# %% tags=["hide-input"]
def sql_step_shape(name, text):
    """One line: the tables a SELECT reads, its join keys, its grouping."""
    import re
    reads = re.findall(r'(?:FROM|JOIN) "?(\w+)"?', text)
    on = sorted(set(re.findall(r'\.("\w+\'?") = ', text)))
    group = "GROUP BY" in text
    window = "OVER" in text
    what = ("sum" if group else "window" if window else "select")
    return (f"{name:>5}: {what:6s} reads {', '.join(reads):9s} "
            f"on {', '.join(on) or '-'}")


for k, v in list(steps.items()) + [("final", final)]:
    print(sql_step_shape(k, v))
n_lines = attention2_sql.count("\n") + 1
print(f"{len(steps)} WITH steps and a final contraction, {n_lines} lines")

# %% [markdown]
# The query itself, for the curious (folded):

# %% tags=["hide-output"]
print(attention2_sql)

# %% [markdown]
# SQL knows columns only by name, so, like named notation, it has no axis order to
# get wrong; the price is that every join condition is written out, and a dense
# tensor is stored one number per row. The test suite checks `alt.sql_contract`
# against `nt.contract` on random operands with shared, unshared, kept and summed
# axes.
#
# (sec-diagrams)=
# ### Tensor-network diagrams
#
# <!-- ntn: definition; Q[key]; K[seq,key]; expect=N(P(V["K"], "seq", "key") @ P(V["Q"], "key"), "seq"); at=2 -->
# In graphical notation (§6.2) a tensor is a node and each of its axes a line
# attached to it. A line joining two nodes is an axis they share and that is
# summed over; a line with a free end is an axis of the result. The picture is
# determined by the axis names, so it can be drawn by code:
# `alt.network(*tensors, names=..., over=...)` returns the graph (nodes, edges
# labelled by axis, dangling legs), and its `draw` method draws it. An axis that
# three tensors share, or that two share but is kept (such as $\batch$ in the
# scores $Q \ndot{\key} K$), does not fit on one line; it becomes a small dot
# joined to every tensor that has it (a hyperedge, the "copy tensor" of the
# tensor-network literature).

# %%
nt.source(nt.alternatives.network)

# %%
Qn = nt.contract(nt.rename(X, {"seq": "seq'"}), WQ, over="layer")
Kn = nt.contract(X, WK, over="layer")
Pn = nt.softmax(nt.contract(Qn, Kn, over="key") + M, "seq")
An = nt.rename(nt.contract(Pn, nt.contract(X, WV, over="layer"), over="seq"),
               {"seq'": "seq"})
diagrams = {
    "1. scores q·K": alt.network(q, K1, names=["q", "K"], over="key"),
    "2. queries Q": alt.network(nt.rename(X, {"seq": "seq'"}), WQ,
                                names=["X", "WQ"], over="layer"),
    "2. scores Q·K": alt.network(Qn, Kn, names=["Q", "K"], over="key"),
    "2. output": alt.network(An, WO, names=["A", "WO"], over=["heads", "val"]),
    "3. FullConn": alt.network(W, x, names=["W", "x"], over="layer"),
}
for title, g in diagrams.items():
    print(title)
    print("  edges:", [(u, v, a) for u, v, a in g.edges])
    print("  hubs: ", list(g.hubs), "  legs:", list(g.free))

# %% tags=["hide-input"]
fig, axs = plt.subplot_mosaic([["1", "3"], ["2", "3"], ["4", "5"]],
                              figsize=(8, 5.6),
                              gridspec_kw=dict(height_ratios=[1, 1, 1]))
for key, (title, g) in zip(["1", "2", "3", "4", "5"], diagrams.items()):
    g.draw(axs[key], fontsize=10, title=title)
fig.tight_layout(pad=0.3)
plt.show()

# %% [markdown]
# The structure is checked, not only the picture: the dangling legs of each
# diagram are exactly the axes of the contraction's result, and every edge is an
# axis that both its ends have and that is summed over.

# %%
Xq = nt.rename(X, {"seq": "seq'"})
pairs = [((q, K1), "key"), ((Xq, WQ), "layer"), ((Qn, Kn), "key"),
         ((An, WO), ["heads", "val"]), ((W, x), "layer")]
for g, (ts, over) in zip(diagrams.values(), pairs):
    assert sorted(g.free) == sorted(nt.names(nt.contract(*ts, over=over)))
    summed = [over] if isinstance(over, str) else over
    for u, v, a in g.edges:
        assert a in g.axes[u] and a in g.axes[v] and a in summed
print("diagrams: legs are the result's axes; edges are summed, shared axes")

# %% [markdown]
# ## The mistake each notation lets through
#
# All the translations above are correct. What differs is what happens to a slip.
# The slip chosen here is the classic one: the query positions and the key positions
# get confused. They are two axes of equal length, so no shape check can notice.
#
# **Positional.** The scores should be $Q K^\top$, laid out (query, key). Put the
# transpose on the other factor and the layout is (key, query); the softmax over the
# last dimension then normalises over queries. Nothing fails:

# %%
S_right = Qt @ Kt2.transpose(-2, -1) / math.sqrt(D) + Mt
S_slip = Kt2 @ Qt.transpose(-2, -1) / math.sqrt(D) + Mt   # transpose misplaced
out_right = torch.softmax(S_right, -1) @ Vt2
out_slip = torch.softmax(S_slip, -1) @ Vt2
assert out_slip.shape == out_right.shape
assert not torch.allclose(out_slip, out_right)
print("positional slip: same shape, no error, max difference",
      bound((out_slip - out_right).abs().max()))

# %% [markdown]
# **einsum.** Two letters swapped in the output, `bhji` for `bhij`: a valid
# string, the same shape, the same silent transposition.

# %%
S_e_slip = e("bhik,bhjk->bhji", Qe, Ke) / math.sqrt(D) + e("ji->ij", Me)
out_e_slip = e("bhij,bhjv->bhiv", torch.softmax(S_e_slip, -1), Ve)
assert out_e_slip.shape == out_right.shape
assert not torch.allclose(out_e_slip, out_right)
print("einsum slip: valid string, no error")

# %% [markdown]
# **einops.** The words do not help: names are attached to positions afresh in
# every pattern, so swapping the two position names on the left of the arrow goes
# through in the same way.

# %%
So_right = ee(Qo, Ko, "b h qpos key, b h seq key -> b h qpos seq")
So_slip = ee(Qo, Ko, "b h seq key, b h qpos key -> b h qpos seq")
assert So_slip.shape == So_right.shape
assert not torch.allclose(So_slip, So_right)
assert torch.allclose(So_slip, So_right.transpose(-2, -1))   # transposed
print("einops slip: valid pattern, no error, scores transposed")

# %% [markdown]
# **Named.** There is no layout to transpose. The corresponding slip is to leave
# the queries on the axis $\seq$ (forgetting the renaming to $\name{seq'}$), so
# that queries and keys can no longer be told apart. `nt.attention` refuses:

# %%
Q_slip = nt.contract(X, WQ, over="layer")           # forgot seq -> seq'
V_n = nt.contract(X, WV, over="layer")
try:
    nt.attention(Q_slip, Kn, V_n, M)
    raise AssertionError("expected an AxisError")
except nt.AxisError as err:
    print(textwrap.fill(f"AxisError: {err}", 79))

# %% [markdown]
# Named notation does not make every slip loud. Contracting `Q_slip` with `Kn`
# directly, `nt.contract(Q_slip, Kn, over="key")`, is legal: both have $\seq$, so
# the product pairs each position with itself only (a diagonal), and no error is
# raised; `nt.attention` raises because it checks that its queries and keys have
# distinct position axes. Likewise, broadcasting by name turns a misspelled axis
# name into an outer product, in `ntlib` and in xarray alike; an operation that is
# told the name (`over=`, `dim=`) is what notices the typo:

# %%
diag = nt.contract(Q_slip, Kn, over="key")    # legal: seq pairs with itself
print(nt.shape(diag))
WQ_typo = nt.rename(WQ, {"layer": "layr"})     # a typo when naming the weights
print(nt.shape(X * WQ_typo))                   # no error: an outer product
try:
    nt.contract(X, WQ, over="layr")
    raise AssertionError("expected an AxisError")
except nt.AxisError as err:
    print(textwrap.fill(f"AxisError: {err}", 79))
try:
    xr.dot(xa(X), xa(WQ), dim="layr")
    raise AssertionError("expected a ValueError")
except ValueError as err:
    first = str(err).split(".")[0]              # the rest lists a set
    print(textwrap.fill(f"xarray ValueError: {first}.", 79))

# %% [markdown]
# ## Named axes in programming systems
#
# The paper's §1 lists the software that recognised the need for named axes:
# xarray {cite}`xarray`, Nexus {cite}`chen2017typesafe`, tsalib {cite}`tsalib`,
# AxisArrays {cite}`axisarrays`, NamedTensor {cite}`namedtensor`, PyTorch
# {cite}`named-tensors`, Dex {cite}`dex`, JAX {cite}`jax_xmap`, einops
# {cite}`einops` and torchdim {cite}`torchdim`. Five things named notation does
# make the columns of the table below: broadcasting by name, contraction by
# name, axis-polymorphic functions (written for some axes, lifted over any
# others *by name*), renaming, and indexing by name. The libraries installed
# here — `ntlib`, funsor {cite}`obermeyer+:2019` (on which `ntlib` is built),
# xarray, einops, torchdim (shipped with PyTorch as `functorch.dim`) and
# PyTorch's own named tensors — are run by the next cell (folded), one small
# check per cell of the table; each *yes* or *no* in their rows is the result
# of that check.

# %% tags=["hide-input"]
A2 = nt.randn(seed=20, a=2, b=3)
c2 = nt.randn(seed=21, a=2)
a2, cc2 = P(A2, ["a", "b"]), P(c2, "a")
ref_bcast, ref_dot = a2 + cc2[:, None], cc2 @ a2
ref_soft = torch.softmax(a2, 1)


ran = {}
ran["ntlib"] = dict(
    broadcast=allclose(P(A2 + c2, ["a", "b"]), ref_bcast),
    contract=allclose(P(nt.contract(A2, c2, over="a"), "b"), ref_dot),
    lift=allclose(P(nt.softmax(A2, "b"), ["a", "b"]), ref_soft),
    rename=nt.names(nt.rename(A2, {"b": "c"})) == ("a", "c"),
    index=allclose(P(nt.index(A2, "b", 0), "a"), a2[:, 0]))
fA = funsor.Tensor(a2, OrderedDict(a=Bint[2], b=Bint[3]))
fc = funsor.Tensor(cc2, OrderedDict(a=Bint[2]))
fb = fA + fc
ran["funsor"] = dict(
    broadcast=allclose(fb.data, ref_bcast) and list(fb.inputs) == ["a", "b"],
    contract=allclose((fA * fc).reduce(ops.add, "a").data, ref_dot),
    lift=allclose(fA.reduce(ops.logaddexp, "b").data, a2.logsumexp(1)),
    rename=list(fA(b="c").inputs) == ["a", "c"],
    index=allclose(fA(b=0).data, a2[:, 0]))
Ax2, cx2 = xa(A2), xa(c2)
ran["xarray"] = dict(
    broadcast=allclose((Ax2 + cx2).transpose("a", "b").values, ref_bcast),
    contract=allclose(xr.dot(Ax2, cx2, dim="a").values, ref_dot),
    lift=allclose(
        xr.apply_ufunc(lambda v: torch.softmax(torch.from_numpy(v), -1)
                       .numpy(), Ax2, input_core_dims=[["b"]],
                       output_core_dims=[["b"]]).transpose("a", "b").values,
        ref_soft),
    rename=Ax2.rename(b="c").dims == ("a", "c"),
    index=allclose(Ax2.isel(b=0).values, a2[:, 0]))
r_eo = einops.einsum(a2, cc2, "a b, a -> b")


def attempt(f):
    """Run an einops attempt; an error counts as "cannot"."""
    try:
        return f()
    except (einops.EinopsError, RuntimeError):
        return False


ran["einops"] = dict(
    # A + c with each operand's names given in a pattern: do they align?
    broadcast=attempt(lambda: allclose(
        einops.rearrange(a2, "a b -> a b") + einops.rearrange(cc2, "a -> a"),
        ref_bcast)),
    contract=allclose(r_eo, ref_dot),
    # a function lifted along the axis named b (a reduction: logsumexp)
    lift=attempt(lambda: allclose(einops.reduce(
        a2, "a b -> a", lambda x, axes: torch.logsumexp(x, axes)),
        a2.logsumexp(1))),
    # rename b to c: the output pattern names an axis the input lacks
    rename=attempt(lambda: einops.rearrange(a2, "a b -> a c").shape == (2, 3)),
    # index: the entries at b = 0, named in the pattern
    index=attempt(lambda: allclose(einops.rearrange(a2, "a b -> a", b=0),
                                   a2[:, 0])))
i_, j_ = dims(2)
ran["torchdim"] = dict(
    broadcast=allclose((a2[i_, j_] + cc2[i_]).order(i_, j_), ref_bcast),
    contract=allclose((a2[i_, j_] * cc2[i_]).sum(i_).order(j_), ref_dot),
    lift=allclose(a2[i_, j_].softmax(j_).order(i_, j_), ref_soft),
    rename=None,
    index=allclose(a2[i_, j_].index(j_, 0).order(i_), a2[:, 0]))
try:
    torch.zeros(2, 3, names=("a", "b"))
    named_ok = True
except TypeError:
    named_ok = False
ran["PyTorch named tensors"] = None if not named_ok else {}
assert all(ran["ntlib"].values()) and all(ran["funsor"].values())
assert all(ran["xarray"].values()) and all(ran["torchdim"][k] for k in
                                           ("broadcast", "contract", "lift",
                                            "index"))
print(f"torch.zeros(..., names=...) accepted: {named_ok}")

# %% tags=["remove-input"]
cols = ["broadcast", "contract", "lift", "rename", "index"]
sourced = ["Nexus", "tsalib", "AxisArrays", "NamedTensor", "Dex",
           "JAX (xmap)"]                  # not installed here


def cell(v):
    return "—" if v is None else ("yes" if v else "no")


rows = ["| system | run here | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 2) + "|"]
for name, res in ran.items():
    if res is None:
        rows.append(f"| {name} | unavailable |" + " — |" * len(cols))
    else:
        rows.append(f"| {name} | yes | "
                    + " | ".join(cell(res[c]) for c in cols) + " |")
for name in sourced:
    rows.append(f"| {name} | no |" + " — |" * len(cols))
display(Markdown("\n".join(rows)))

# %% [markdown]
# *Run here* says whether the row was executed, and every *yes* and *no* is
# the result of a check in the cell above; "—" means *not run*. einops' names
# exist only inside one pattern: its results are plain positional arrays. So
# two arrays named in separate patterns are still added by position (here the
# shapes (2, 3) and (2,) do not even broadcast), a pattern cannot rename an
# axis or pick an index of one, while a reduction can be lifted along an axis
# that its pattern names (`einops.reduce` with a function). torchdim's dimensions are objects
# rather than names, so renaming has no direct counterpart to check there.
# PyTorch's own named tensors are no longer accepted by the torch installed
# here (`names=` raises `TypeError`; *unavailable*). The other systems are not
# installed here; what the paper cites for them: Nexus, typesafe tensor
# abstractions in Scala {cite}`chen2017typesafe`; tsalib, a library of tensor
# shape annotations {cite}`tsalib`; AxisArrays, arrays with named axes in
# Julia {cite}`axisarrays`; NamedTensor, named dimensions for PyTorch
# {cite}`namedtensor`; Dex, whose index sets make array programs
# parallelism-preserving and differentiable {cite}`dex`;
# and JAX's named axes for parallel maps {cite}`jax_xmap`.
# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise 6.1: An einsum string as a named contraction
#
# A positional program computes `torch.einsum("bsl,hlk->bhsk", X, W)`, with
# `X` laid out (batch, seq, layer) and `W` laid out (heads, layer, key). Write it
# as a function of the named tensors `X` (axes $\batch, \seq, \layer$) and `W`
# (axes $\heads, \layer, \key$). Your function must not depend on the order in
# which the axes are stored, and must carry any extra axis of `X` through.

# %%
def answer(X, W, *, layer="layer"):
    ...  # your code here


nt.exercises.report("6.1", answer)

# %% tags=["hide-cell"]
def answer(X, W, *, layer="layer"):
    # "bsl,hlk->bhsk": l appears in both inputs and not in the output
    return nt.contract(X, W, over=layer)


assert nt.exercises.check("6.1", answer)

# %% [markdown]
# ### Exercise 6.2: A SQL query as a named contraction
#
# Translate this query on tables `X(batch, layer, v)` and `W(out, layer, v)` into
# named notation, as a function of named tensors `X` and `W`:
#
# ```sql
# SELECT X.batch, W.out AS layer, SUM(X.v * W.v) AS v
# FROM X JOIN W ON W.layer = X.layer
# GROUP BY X.batch, W.out
# ```
#
# (If `X` has further axes, they are further GROUP BY columns.)

# %%
def answer(X, W, *, layer="layer", out="out"):
    ...  # your code here


nt.exercises.report("6.2", answer)

# %% tags=["hide-cell"]
def answer(X, W, *, layer="layer", out="out"):
    # JOIN ON layer and SUM: a contraction; W.out AS layer: a renaming
    return nt.rename(nt.contract(X, W, over=layer), {out: layer})


assert nt.exercises.check("6.2", answer)

# %% [markdown]
# ### Exercise 6.3: Masked attention weights from index notation
#
# Given $Q_{hik}$, $K_{hjk}$ and a mask $M_{ji}$ (0 or $-\infty$; $i$ indexes query
# positions, axis $\name{seq'}$, and $j$ key positions, axis $\seq$), write the
# attention weights
#
# $$
# P_{hij} = \frac{\exp S_{hij}}{\sum_{j'} \exp S_{hij'}}, \qquad
# S_{hij} = \frac{1}{\sqrt{d_k}} \textstyle\sum_k Q_{hik} K_{hjk} + M_{ji},
# $$
#
# with $d_k = |\key|$, as a function of named tensors `Q`, `K`, `M`.

# %%
def answer(Q, K, M, *, seq="seq", key="key"):
    ...  # your code here


nt.exercises.report("6.3", answer)

# %% tags=["hide-cell"]
def answer(Q, K, M, *, seq="seq", key="key"):
    S = nt.contract(Q, K, over=key) / math.sqrt(nt.shape(K)[key]) + M
    return nt.softmax(S, seq)  # the sum over j' is a sum over seq


assert nt.exercises.check("6.3", answer)

# %% [markdown]
# ### Exercise 6.4: Which mistake is caught?
#
# `Q` has axes $\batch, \name{seq'}, \key$ and `K` has axes $\batch, \seq, \key$,
# with $|\name{seq'}| = |\seq|$. Which one of these raises `nt.AxisError`?
#
# - **a**: `nt.softmax(nt.contract(Q, K, over="key"), "seq'")`
# - **b**: `nt.contract(Q, nt.rename(K, {"seq": "seq'"}), over="key")`
# - **c**: `nt.rename(Q, {"key": "seq'"})`
# - **d**: `Q + K`
#
# Answer with the letter, e.g. `answer = "d"` (run them to find out, if you
# like).

# %%
answer = ...  # your answer

nt.exercises.report("6.4", answer)

# %% tags=["hide-cell"]
answer = "c"  # renaming key to seq' would give Q two axes named seq'

assert nt.exercises.check("6.4", answer)
