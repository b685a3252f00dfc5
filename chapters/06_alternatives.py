# %% [markdown]
# # One formula in every notation
#
# Section 6 of Chiang, Rush and Barak, *Named Tensor Notation* (TMLR 2023) places
# named notation among its alternatives: index (Einstein) notation, graphical
# (tensor-network) notation, relational algebra, and the named axes of programming
# libraries. This chapter makes that comparison runnable. It takes three formulas
#
# 1. single-query attention,
# 2. batched multi-head self-attention with a causal mask (Appendix A),
# 3. one fully connected layer, FullConn (§4),
#
# and writes each of them in seven ways: named notation (`ntlib`), positional
# PyTorch, index notation executed as a `torch.einsum` string, einops, xarray, SQL
# run by sqlite3, and a tensor-network diagram drawn from the operands' axis names.
# Every translation is run on the same random float64 inputs and asserted equal to
# the `ntlib` result. Then each notation shows the mistake it lets through, and a
# table compares the libraries that give tensors named axes.
#
# Positions are 0-based in all the code below (and in SQL, whose index columns are
# plain integers); the paper counts from 1.

# %%
import logging
import math
import sqlite3
import textwrap

logging.getLogger("matplotlib").setLevel(logging.ERROR)
import einops
import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr

import ntlib as nt

f64 = torch.float64


def same(named, order, expected, tol=1e-12):
    """Assert that a named tensor, laid out in `order`, equals `expected`."""
    got = nt.positional(named, order)
    expected = torch.as_tensor(np.asarray(expected), dtype=got.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


# %% [markdown]
# ## The three formulas in named notation
#
# **Single-query attention.** A query $q \in \reals^{\key}$ looks up keys
# $K \in \reals^{\seq \times \key}$ and returns a mixture of values
# $V \in \reals^{\seq \times \val}$:
#
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
# $$
# \begin{aligned}
# Q &= W^Q \ndot{\layer} X_{\seq \to \name{seq'}}, \\
# K &= W^K \ndot{\layer} X, \quad V = W^V \ndot{\layer} X, \\
# \text{SelfAtt}(X) &= W^O \ndot{\heads, \val}
#   \text{Attention}(Q, K, V, M)_{\name{seq'} \to \seq},
# \end{aligned}
# $$
#
# where Attention adds the mask before the softmax and
# $M_{\seq(i), \name{seq'}(j)} = 0$ if $i \le j$ and $-\infty$ otherwise: a query at
# position $j$ sees the keys at positions up to $j$.
#
# **FullConn** (§4), with $W \in \reals^{\out \times \layer}$ and
# $b \in \reals^{\out}$:
#
# $$
# \text{FullConn}(x) = \sigma\left(W \ndot{\layer} x + b\right)_{\out \to \layer}.
# $$
#
# `ntlib` has all three: `nt.attention` and `nt.full_conn` (chapter 4) and
# `nt.models.self_attention` (Appendix A.1), whose sources are these formulas,
# transcribed. They are the reference for everything below. The inputs: random float64 tensors, with the sizes chosen small enough to print
# and the two sequence axes (queries and keys) of equal length, which matters for
# the section on mistakes.

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
# ## Positional PyTorch
#
# The same computations with plain tensors. The code now depends on a layout
# convention, written in the comments: which dimension is which is nowhere in the
# data. `nt.positional(x, order)` hands each tensor over in the order the
# convention asks for.

# %%
P = nt.positional
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
# ## Index notation, executed by `einsum`
#
# Index notation names each dimension by a letter, locally, in every formula, and
# sums over repeated indices (in Einstein's convention the sum is implicit; we write
# it). It is the notation the paper compares with first. For multi-head attention,
# with $b$ the batch, $h$ the head, $i$ the query position, $j$ the key position,
# $l$ the layer, $k$ and $v$ the key and value features:
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
# ## einops
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
# ## xarray
#
# [xarray](https://docs.xarray.dev) is the labelled-array library of the scientific
# Python world. A `DataArray` carries its `dims` (axis names) with it, arithmetic
# broadcasts by name, and `xr.dot` contracts over the named dims. That is named
# notation, almost operation for operation: contraction is `xr.dot(..., dim=...)`,
# renaming is `.rename(...)`, and a softmax is written with reductions over a
# named dim. `nt.alternatives.to_xarray` and `nt.alternatives.from_xarray` convert in both directions (the
# names are kept; xarray's coordinates have no counterpart in a named tensor and
# are dropped when converting back):

# %%
nt.source(nt.alternatives.to_xarray, nt.alternatives.from_xarray)

# %%
xa = nt.alternatives.to_xarray


def softmax_x(a, dim):
    z = np.exp(a - a.max(dim))
    return z / z.sum(dim)


s = xr.dot(xa(q), xa(K1), dim="key") / math.sqrt(D)
xr1 = xr.dot(softmax_x(s, "seq"), xa(V1), dim="seq")
same(y1, ["val"], nt.positional(nt.alternatives.from_xarray(xr1), ["val"]))

Xx = xa(X)
Qx = xr.dot(xa(WQ), Xx.rename(seq="seq'"), dim="layer")
Kx = xr.dot(xa(WK), Xx, dim="layer")
Vx = xr.dot(xa(WV), Xx, dim="layer")
Sx = xr.dot(Qx, Kx, dim="key") / math.sqrt(D) + xa(M)
Ax = xr.dot(softmax_x(Sx, "seq"), Vx, dim="seq").rename({"seq'": "seq"})
xr2 = xr.dot(xa(WO), Ax, dim=["heads", "val"])
print(xr2.dims)
same(
    y2,
    ["batch", "seq", "layer"],
    nt.positional(nt.alternatives.from_xarray(xr2), ["batch", "seq", "layer"]),
)

z = xr.dot(xa(W), xa(x), dim="layer") + xa(b)
xr3 = (1 / (1 + np.exp(-z))).rename(out="layer")
same(y3, ["batch", "layer"],
     nt.positional(nt.alternatives.from_xarray(xr3), ["batch", "layer"]))
print("xarray: all three equal")

# %% [markdown]
# The xarray code is the named formula with other spellings, and it never says in
# which order the dims are stored (`xr2.dims` printed above comes out in xarray's
# own order).
#
# ## SQL: relational algebra on a real engine
#
# The paper observes that a named tensor is a relation: a table with one column per
# axis holding the index, and one column for the value, one row per index record.
# Then
#
# - the elementwise product of two tensors is the **natural join** on their shared
#   index columns, multiplying the values;
# - a sum over an axis is a **GROUP BY** of the other columns with `SUM`;
# - so a contraction $A \ndot{\ax} B$ is JOIN, then GROUP BY the kept columns, then
#   `SUM(a.v * b.v)`;
# - renaming an axis is the relational $\rho$: a column alias, `AS`.
#
# `nt.alternatives.sql_load` stores a tensor as such a table in sqlite3 (float64 values), and
# `nt.alternatives.sql_contract_query` writes the contraction query:

# %%
nt.source(nt.alternatives.sql_contract_query)

# %% [markdown]
# FullConn in SQL: the contraction $W \ndot{\layer} x$, then the bias joined on
# $\out$, the sigmoid, and the renaming $\out \to \layer$ as a column alias. The
# query `nt.alternatives.sql_contract_query` writes for the contraction:

# %%
db = sqlite3.connect(":memory:")
db.create_function("exp", 1, math.exp, deterministic=True)
sizes = {}
for name, t in {"x": x, "W": W, "b": b}.items():
    sizes.update(nt.alternatives.sql_load(db, name, t))
z_sql = nt.alternatives.sql_contract_query(
    {"W": ["out", "layer"], "x": ["batch", "layer"]}, over="layer"
)
print(z_sql)

# %%
full_conn_sql = f"""
WITH z AS ({z_sql})
SELECT z."batch", z."out" AS "layer",
       1.0 / (1.0 + exp(-(z."v" + b."v"))) AS "v"
FROM z JOIN "b" AS b ON b."out" = z."out"
"""
sq3 = nt.alternatives.sql_read(db, full_conn_sql, sizes)
same(sq3, ["batch", "layer"], nt.positional(y3, ["batch", "layer"]))
print("SQL FullConn equals nt.full_conn")

# %% [markdown]
# A softmax needs a sum over one axis for every value of the others: SQL's window
# functions, `OVER (PARTITION BY ...)` the kept columns. Subtracting the maximum
# first keeps `exp` from overflowing, as in `nt.softmax`. Single-query attention is
# then three steps:

# %%
def softmax_sql(table, keep, value="v"):
    """softmax over the columns not in `keep`, as a SELECT on `table`."""
    cols = ", ".join(f'"{c}"' for c in keep)
    part = f"PARTITION BY {cols}" if keep else ""
    return f"""
    SELECT *, exp("{value}" - MAX("{value}")
                  OVER ({part})) AS e
    FROM {table}"""


def normalise_sql(table, axes, keep):
    cols = ", ".join(f'"{c}"' for c in axes)
    part = ", ".join(f'"{c}"' for c in keep)
    over = f"PARTITION BY {part}" if keep else ""
    return f"""
    SELECT {cols},
           e / SUM(e) OVER ({over}) AS "v"
    FROM {table}"""


for name, t in {"q1": q, "K1": K1, "V1": V1}.items():
    sizes.update(nt.alternatives.sql_load(db, name, t))
scores_sql = nt.alternatives.sql_contract_query(
    {"q1": ["key"], "K1": ["seq", "key"]}, over="key", scale=1 / math.sqrt(D)
)
weighted_sql = nt.alternatives.sql_contract_query(
    {"p": ["seq"], "V1": ["seq", "val"]}, over="seq"
)
attention1_sql = f"""
WITH s AS ({scores_sql}),
     e AS ({softmax_sql("s", [])}),
     p AS ({normalise_sql("e", ["seq"], [])})
{weighted_sql}
"""
sq1 = nt.alternatives.sql_read(db, attention1_sql, sizes)
same(sq1, ["val"], nt.positional(y1, ["val"]))
print("SQL single-query attention equals nt.attention")

# %% [markdown]
# Multi-head causal self-attention is the same pattern, one `WITH` step per line of
# the formula. The renaming $X_{\seq \to \name{seq'}}$ is an alias on the query
# side, the mask is added by a join on both position columns, and the final
# $\name{seq'} \to \seq$ is an alias again. The whole query, executed by sqlite3:

# %%
for name, t in {"X": X, "WQ": WQ, "WK": WK, "WV": WV, "WO": WO,
                "M": M}.items():
    sizes.update(nt.alternatives.sql_load(db, name, t))
sizes["seq'"] = N
Cq = nt.alternatives.sql_contract_query
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
with_clause = ",\n".join(f"{k} AS ({v.strip()})" for k, v in steps.items())
attention2_sql = (f"WITH {with_clause}\n"
                  + Cq({"A": ["batch", "heads", "seq", "val"],
                        "WO": ["heads", "val", "layer"]},
                       over=["heads", "val"]))
print(attention2_sql)

# %%
sq2 = nt.alternatives.sql_read(db, attention2_sql, sizes)
same(sq2, ["batch", "seq", "layer"],
     nt.positional(y2, ["batch", "seq", "layer"]))
print("SQL multi-head causal self-attention equals nt.models.self_attention")

# %% [markdown]
# SQL knows columns only by name, so, like named notation, it has no axis order to
# get wrong; the price is that every join condition is written out, and a dense
# tensor is stored one number per row. The test suite checks `nt.alternatives.sql_contract`
# against `nt.contract` on random operands with shared, unshared, kept and summed
# axes.
#
# ## Tensor-network diagrams
#
# In graphical notation (Penrose's, and the tensor networks of physics) a tensor
# is a node and each of its axes a line attached to it. A line joining two nodes is
# an axis they share and that is summed over; a line with a free end is an axis of
# the result. The picture is determined by the axis names, so it can be drawn by
# code: `nt.alternatives.network(*tensors, names=..., over=...)` returns the graph
# (nodes, edges labelled by axis, dangling legs), and its `draw` method draws it.
# An axis that three tensors share, or that two share but is kept (such as
# $\batch$ in the scores $Q \ndot{\key} K$), does not fit on one line; it becomes
# a small dot joined to every tensor that has it (a hyperedge, the "copy tensor" of
# the tensor-network literature).

# %%
nt.source(nt.alternatives.network)

# %%
Qn = nt.contract(nt.rename(X, {"seq": "seq'"}), WQ, over="layer")
Kn = nt.contract(X, WK, over="layer")
Pn = nt.softmax(nt.contract(Qn, Kn, over="key") + M, "seq")
An = nt.rename(nt.contract(Pn, nt.contract(X, WV, over="layer"), over="seq"),
               {"seq'": "seq"})
diagrams = {
    "1. scores q·K": nt.alternatives.network(
        q, K1, names=["q", "K"], over="key"
    ),
    "2. queries Q": nt.alternatives.network(
        nt.rename(X, {"seq": "seq'"}), WQ, names=["X", "WQ"], over="layer"
    ),
    "2. scores Q·K": nt.alternatives.network(
        Qn, Kn, names=["Q", "K"], over="key"
    ),
    "2. output": nt.alternatives.network(
        An, WO, names=["A", "WO"], over=["heads", "val"]
    ),
    "3. FullConn": nt.alternatives.network(
        W, x, names=["W", "x"], over="layer"
    ),
}
for title, g in diagrams.items():
    print(title)
    print("  edges:", [(u, v, a) for u, v, a in g.edges])
    print("  hubs: ", list(g.hubs), "  legs:", list(g.free))

# %% tags=["hide-input"]
fig, axs = plt.subplots(3, 2, figsize=(8, 8.4))
for ax, (title, g) in zip(axs.flat, diagrams.items()):
    g.draw(ax, fontsize=10, title=title)
axs.flat[-1].axis("off")
fig.tight_layout()
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
      round((out_slip - out_right).abs().max().item(), 4))

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
# The paper's §6 lists software that gives tensors named axes. The table compares
# them on five things named notation does: broadcasting by name, contraction by
# name, axis-polymorphic functions (a function written for some axes, lifted over
# any others), renaming, and indexing by name. The rows for the libraries
# installed here are checked by the next cell; the others are taken from their
# documentation (linked), and where we did not verify a feature the cell says
# *not checked*.

# %%
checked = {}
# ntlib
A2 = nt.randn(seed=20, a=2, b=3)
c2 = nt.randn(seed=21, a=2)
checked["ntlib"] = dict(
    broadcast=nt.shape(A2 + c2) == {"a": 2, "b": 3},
    contract=nt.shape(nt.contract(A2, c2, over="a")) == {"b": 3},
    lift=nt.shape(nt.softmax(A2, "b")) == {"a": 2, "b": 3},
    rename=nt.names(nt.rename(A2, {"b": "c"})) == ("a", "c"),
    index=nt.shape(nt.index(A2, "b", 0)) == {"a": 2})
# xarray
Ax2, cx2 = xa(A2), xa(c2)
checked["xarray"] = dict(
    broadcast=set((Ax2 + cx2).dims) == {"a", "b"},
    contract=xr.dot(Ax2, cx2, dim="a").dims == ("b",),
    lift=xr.apply_ufunc(np.linalg.norm, Ax2, input_core_dims=[["b"]],
                        kwargs={"axis": -1}).dims == ("a",),
    rename=Ax2.rename(b="c").dims == ("a", "c"),
    index=Ax2.isel(b=0).dims == ("a",))
# einops: names exist inside one pattern; results are plain arrays
r = einops.einsum(P(A2, ["a", "b"]), P(c2, "a"), "a b, a -> b")
r3 = einops.reduce(torch.zeros(4, 2, 3), "... b -> ...", "sum")
checked["einops"] = dict(contract=tuple(r.shape) == (3,),
                         ellipsis=tuple(r3.shape) == (4, 2),
                         plain_result=type(r) is torch.Tensor)
# PyTorch's own named tensors, in the torch installed here
try:
    torch.zeros(2, 3, names=("a", "b"))
    checked["torch named tensors"] = dict(available=True)
except TypeError as err:
    checked["torch named tensors"] = dict(available=False)
    print(f"torch {torch.__version__}: torch.zeros(..., names=...) ->",
          type(err).__name__)
for k, v in checked.items():
    print(f"{k}:", ", ".join(f"{f} {'yes' if ok else 'no'}"
                             for f, ok in v.items()))
assert all(checked["ntlib"].values()) and all(checked["xarray"].values())
assert all(checked["einops"].values())

# %% [markdown]
# In the table, *yes*/*no* for the first three rows come from the cell above;
# the other rows are taken from documentation (sources below the table), and "—"
# means *not checked*.
#
# | system | run here | broadcast | contract | polymorphic | rename | index |
# |---|---|---|---|---|---|---|
# | `ntlib` | yes | yes | `contract` | yes (lifting) | `rename` | `index` |
# | xarray | yes | yes | `xr.dot` | `apply_ufunc` | `.rename` | `.isel` |
# | einops | yes | no [1] | in a pattern | `...` [2] | no | no |
# | PyTorch named tensors | no [3] | `align_as` | — | dim names | `.rename` | — |
# | harvardnlp namedtensor | no | yes | `.dot` | `.spec` | — | `x[{...}]` |
# | Penzai | no | — | `nmap` | `nmap` | — | `x[{...}]` |
# | Haliax | no | — | — | — | — | — |
# | JAX named axes | no | [4] | — | — | — | — |
# | Dex | no | — | — | — | — | — |
#
# [1] einops names live inside one pattern; the arrays stay positional.
# [2] `...` in a pattern stands for any further axes, by position.
# [3] `torch.zeros(..., names=...)` raises `TypeError` in the torch installed here.
# [4] names refer to mapped axes (`vmap`, `shard_map`) for collectives.
#
# Sources: PyTorch's [named tensor docs](https://docs.pytorch.org/docs/stable/named_tensor.html);
# the [namedtensor README](https://github.com/harvardnlp/namedtensor); Penzai's
# [named_axes](https://penzai.readthedocs.io/en/stable/_autosummary/penzai.core.named_axes.html)
# and [nmap](https://penzai.readthedocs.io/en/stable/_autosummary/leaf/penzai.core.named_axes.nmap.html)
# docs; JAX's [axis_index](https://docs.jax.dev/en/latest/_autosummary/jax.lax.axis_index.html).
#
# Haliax describes itself as a JAX library of named tensors in the tradition of
# *Tensor Considered Harmful* ([PyPI page](https://pypi.org/project/haliax/)).
# We ran neither Haliax nor Dex, and list no feature of either that we have not
# seen documented.
#
# ## Exercises
#
# ### Exercise 6.1: An einsum string as a named contraction
#
# A positional program computes `torch.einsum("bsl,hlk->bhsk", X, W)`, with
# `X` laid out (batch, seq, layer) and `W` laid out (heads, layer, key). Write it
# as a function of the named tensors `X` (axes $\batch, \seq, \layer$) and `W`
# (axes $\heads, \layer, \key$). Your function must not depend on the order in
# which the axes are stored, and must carry any extra axis of `X` through.

# %%
def answer_6_1(X, W, *, layer="layer"):
    return X                                   # replace with your answer


_ = nt.exercises.report("6.1", answer_6_1)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("6.1")))
_ = nt.exercises.check("6.1", nt.exercises.solution("6.1"))

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
def answer_6_2(X, W, *, layer="layer", out="out"):
    return nt.contract(X, W, over=layer)       # not quite: what about AS?


_ = nt.exercises.report("6.2", answer_6_2)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("6.2")))
_ = nt.exercises.check("6.2", nt.exercises.solution("6.2"))

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
def answer_6_3(Q, K, M, *, seq="seq", key="key"):
    return nt.softmax(nt.contract(Q, K, over=key), seq)   # scale? mask?


_ = nt.exercises.report("6.3", answer_6_3)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("6.3")))
_ = nt.exercises.check("6.3", nt.exercises.solution("6.3"))

# %% [markdown]
# ### Exercise 6.4: Which mistake is caught?
#
# `Q` has axes $\batch, \name{seq'}, \key$ and `K` has axes $\batch, \seq, \key$,
# with $|\name{seq'}| = |\seq|$. Which one of these raises `nt.AxisError`? Answer
# with its letter (run them to find out, if you like).

# %%
for letter, text in nt.exercises.get("6.4").choices.items():
    print(letter, text)
_ = nt.exercises.report("6.4", "a")

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("6.4")))
_ = nt.exercises.check("6.4", nt.exercises.solution("6.4")())
