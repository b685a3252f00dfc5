# %% [markdown]
# # More examples
#
# The first arXiv version of *Named Tensor Notation* (Chiang, Rush and Barak,
# arXiv:2102.13196v1, §3.4 "Other examples") worked through problems that
# the published version (TMLR 2023) dropped. Two of them are elsewhere in
# this book: GroupNorm in the chapter on neural networks, and advanced
# indexing, which became §3.7. This chapter runs the other six — discrete
# random variables, a continuous bag of words, Sudoku, k-means, beam search
# and the multivariate normal — and adds
# one the authors considered and never merged: belief propagation on a factor
# graph. Three of the printed formulas contain misprints (the k-means update,
# the Sudoku box index and the identity that defines argmaxk); for each, a
# cell below runs the printed form, watches it fail, and runs the corrected
# one.
#
# As elsewhere in the book, every function lives once in `ntlib` (module
# `ntlib.examples`), its source is shown next to its formula, and each result
# is checked against a computation that does not use it. The paper counts
# from 1; code counts from 0.

# %%
import codecs
import contextlib
import io
import itertools
import re
import sys
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import ntlib as nt

f64 = torch.float64


def T(data, names):
    """A float64 named tensor from nested lists."""
    return nt.tensor(torch.tensor(data, dtype=f64), names)


def cpu(x, order):
    """nt.positional, copied to the CPU (to compare with NumPy and friends)."""
    return nt.positional(x, order).detach().cpu()


def close(a, b, **kw):
    return torch.allclose(torch.as_tensor(a, dtype=f64).cpu(),
                          torch.as_tensor(b, dtype=f64).cpu(), **kw)

# %% [markdown]
# ## Discrete random variables
#
# A discrete random variable can be an axis: its positions are the values it
# takes. A distribution $p(\name{A}) \in [0,1]^{\name{A}}$ sums to one over
# $\name{A}$, and a conditional distribution
# $p(\name{B} \mid \name{A}) \in [0,1]^{\name{A} \times \name{B}}$ sums to one
# over $\name{B}$ for every value of $\name{A}$. The three rules of
# probability that relate them are then a product, a contraction and a
# quotient:
#
# $$
# \begin{aligned}
# p(\name{A}, \name{B}) &= p(\name{B} \mid \name{A}) \odot p(\name{A})
#   && \text{(chain rule)}\\
# p(\name{B}) &= p(\name{B} \mid \name{A}) \ndot{\name{A}} p(\name{A})
#   && \text{(marginal)}\\
# p(\name{A} \mid \name{B}) &=
#   \frac{p(\name{B} \mid \name{A}) \odot p(\name{A})}
#   {p(\name{B} \mid \name{A}) \ndot{\name{A}} p(\name{A})}
#   && \text{(Bayes' rule)}
# \end{aligned}
# $$
#
# No rule needs to say which axis is which: the names do.

# %%
nt.source(nt.examples.joint, nt.examples.marginal, nt.examples.bayes)

# %% [markdown]
# A diagnostic test: one person in a hundred has the disease; the test finds
# 90% of the ill and wrongly flags 5% of the healthy. The axes are the
# variables themselves, `disease` (0 = ill, 1 = healthy) and `test`
# (0 = positive, 1 = negative).

# %%
p_disease = T([0.01, 0.99], "disease")
p_test_given_disease = T([[0.90, 0.10],      # ill:     positive, negative
                          [0.05, 0.95]],     # healthy: positive, negative
                         ("disease", "test"))
post = nt.examples.bayes(p_test_given_disease, p_disease, A="disease")
print(
    nt.show(
        nt.examples.marginal(p_test_given_disease, p_disease, A="disease"),
        ("test",),
    )
)
print(nt.show(post, ("disease", "test")))

# %% [markdown]
# A positive test raises the chance of illness from 1% only to about 15%
# (row 0, column 0), because the healthy are so many more. The check spells
# the three rules out as loops over the values:

# %%
pd = cpu(p_disease, "disease")
pt = cpu(p_test_given_disease, ("disease", "test"))
J = cpu(
    nt.examples.joint(p_test_given_disease, p_disease), ("disease", "test")
)
P = cpu(post, ("disease", "test"))
for t in range(2):
    evidence = sum(pt[a, t] * pd[a] for a in range(2))
    for a in range(2):
        assert close(J[a, t], pt[a, t] * pd[a])
        assert close(P[a, t], pt[a, t] * pd[a] / evidence)
assert close(cpu(nt.sum(post, "disease"), "test"), [1.0, 1.0])
print("chain rule, marginal and Bayes' rule agree with the loops")

# %% [markdown]
# ## Continuous bag of words
#
# A continuous bag of words (CBOW) model classifies a window of words by the
# sum of their embeddings. With the window as one-hot rows
# $X \in \{0,1\}^{\seq \times \vocab}$, an embedding
# $E \in \reals^{\vocab \times \emb}$ and class weights
# $W \in \reals^{\classes \times \emb}$,
#
# $$
# \text{CBOW}(X; E, W) = \nfun{\classes}{softmax} \left(\nsum{\seq}
#   W \ndot{\emb} E \ndot{\vocab} X\right).
# $$
#
# The sum over $\seq$ forgets word order: that is the "bag". In `ntlib` the
# three contractions are one `nt.contract` over $\emb$, $\vocab$ and $\seq$.

# %%
nt.source(nt.examples.cbow)

# %% [markdown]
# The positional reference is PyTorch's `nn.EmbeddingBag` in `"sum"` mode
# (the sum of the embeddings of a list of word ids), then a linear layer and
# a softmax over the last dimension. A batch axis is lifted over:

# %%
V, m, K = 7, 4, 3
ids = torch.randint(0, V, (5, 6), generator=torch.Generator().manual_seed(0))
X = nt.tensor(torch.nn.functional.one_hot(ids, V).to(f64),
              ("batch", "seq", "vocab"))
E = nt.randn(seed=1, vocab=V, emb=m, dtype=f64)
W = nt.randn(seed=2, classes=K, emb=m, dtype=f64)
bag = torch.nn.EmbeddingBag(V, m, mode="sum").double()
bag.weight.data = cpu(E, ("vocab", "emb")).clone()
ref = torch.softmax(bag(ids) @ cpu(W, ("classes", "emb")).T, -1)
assert close(cpu(nt.examples.cbow(X, E, W), ("batch", "classes")),
             ref.detach())
print(nt.show(nt.examples.cbow(X, E, W), ("batch", "classes")))

# %% [markdown]
# CBOW was introduced to learn word embeddings by predicting a word from the
# words around it (Mikolov et al., 2013). A text small enough to inspect
# ships with Python: the Zen of Python, `import this`, which the module
# stores in rot13. Each window is two words on each side of a centre word;
# the class is the centre word, so $\classes$ has one position per word.

# %%
with contextlib.redirect_stdout(io.StringIO()):   # `import this` prints
    import this
zen = codecs.decode(this.s, "rot13")
words = re.findall(r"[a-z']+", zen.lower())
vocab = sorted(set(words))
index_of = {w: i for i, w in enumerate(vocab)}
ids = torch.tensor([index_of[w] for w in words])
c = 2
ctx = torch.stack([torch.cat([ids[i - c:i], ids[i + 1:i + 1 + c]])
                   for i in range(c, len(ids) - c)])
target = ids[c:len(ids) - c]
print(len(words), "words,", len(vocab), "distinct,", len(target), "windows")
for i in range(3):
    print(" ".join(vocab[j] for j in ctx[i]), "->", vocab[target[i]])

# %% [markdown]
# Training minimises the cross-entropy $-\log \text{CBOW}(X)_{\classes(y)}$,
# averaged over windows, with Adam. The cell is float32 and its printed
# numbers may vary in the last digits between machines.

# %% tags=["nbval-ignore-output"]
Xw = nt.tensor(torch.nn.functional.one_hot(ctx, len(vocab)).float(),
               ("batch", "seq", "vocab"))
Y = nt.tensor(target, "batch")
torch.manual_seed(0)
Ep = torch.nn.Parameter(0.1 * torch.randn(len(vocab), 16))
Wp = torch.nn.Parameter(0.1 * torch.randn(len(vocab), 16))
opt = torch.optim.Adam([Ep, Wp], lr=0.02)
losses = []
t0 = time.perf_counter()
for step in range(300):
    probs = nt.examples.cbow(
        Xw, nt.tensor(Ep, ("vocab", "emb")), nt.tensor(Wp, ("classes", "emb"))
    )
    loss = -nt.mean(nt.log(nt.index(probs, "classes", Y)), "batch")
    loss = nt.positional(loss, ())
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
with torch.no_grad():
    probs = nt.examples.cbow(
        Xw, nt.tensor(Ep, ("vocab", "emb")), nt.tensor(Wp, ("classes", "emb"))
    )
pred = cpu(nt.argmax_index(probs, "classes"), "batch")
accuracy = (pred == target).double().mean().item()
print(f"{time.perf_counter() - t0:.1f} s; loss {losses[0]:.2f} -> "
      f"{losses[-1]:.3f}; training accuracy {accuracy:.3f}")
for i in (0, 40, 90):
    left = " ".join(vocab[j] for j in ctx[i][:c])
    right = " ".join(vocab[j] for j in ctx[i][c:])
    print(f"{left} [{vocab[pred[i]]}] {right}")

# %%
assert losses[-1] < 0.1 * losses[0] and accuracy > 0.9, (losses[-1], accuracy)
print("the loss fell more than tenfold and over 90% of the centre words "
      "are recovered")

# %% [markdown]
# The text is far too short for the embeddings to mean much; what the run
# shows is that the formula, lifted over $\batch$, trains as written. The
# Zen has a few windows whose context words are the same but whose centre
# words differ, so the training accuracy cannot reach 1.

# %% tags=["hide-input", "nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses)
ax.set_yscale("log")
ax.set_xlabel("Adam step", fontsize=11)
ax.set_ylabel("cross-entropy", fontsize=11)
ax.set_title("CBOW on the Zen of Python", fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Sudoku
#
# A filled Sudoku grid is a one-hot tensor
# $X \in \{0,1\}^{\height[9] \times \width[9] \times \assign[9]}$:
# $X_{\height(i), \width(j), \assign(d)} = 1$ when cell $(i, j)$ holds
# digit $d$. To speak about the nine 3×3 boxes, index the grid a second way,
# by box and by position in the box:
# $Y \in \{0,1\}^{\height'[3] \times \width'[3] \times \height[3] \times
# \width[3] \times \assign[9]}$ with
#
# $$
# Y_{\height'(h'), \width'(w'), \height(h), \width(w)} =
#   X_{\height(3(h'-1)+h),\ \width(3(w'-1)+w)}
# $$
#
# (1-based; in code, 0-based, the row is $3h' + h$). A grid is solved when
# every cell holds one digit and every box, column and row holds each digit
# once:
#
# $$
# \text{check}(X) = \mathbb{I}\Big[\nsum{\assign} X = 1 \wedge
#   \nsum{\height \\ \width} Y = 1 \wedge \nsum{\height} X = 1 \wedge
#   \nsum{\width} X = 1\Big].
# $$
#
# `sudoku_boxes` builds $Y$ by named indexing: an integer tensor over
# $(\height', \height)$ holding $3h' + h$ indexes the grid's rows, one over
# $(\width', \width)$ its columns (§3.7's double indexing).

# %%
nt.source(
    nt.examples.box_rows, nt.examples.sudoku_boxes, nt.examples.sudoku_check
)

# %% [markdown]
# A solved grid (the solution of the example puzzle in Wikipedia's article
# on Sudoku), and grids with one kind of fault each. Swapping two cells of one
# column inside one box breaks only the rows; two cells of one row inside one
# box breaks only the columns; moving every row down by one (cyclically)
# keeps rows and columns intact and breaks only boxes; emptying a cell
# breaks the cell rule (and, with it, the counts of its row, column and box).

# %%
solved = np.array([[int(ch) for ch in row] for row in """
534678912 672195348 198342567 859761423 426853791
713924856 961537284 287419635 345286179""".split()])


def constraints(grid, **kw):
    cons = nt.examples.sudoku_constraints(
        nt.examples.sudoku_one_hot(grid.tolist()), **kw
    )
    return {k: int(cpu(v, ())) for k, v in cons.items()}


def by_loops(grid):
    """Every row, column and box holds 1..9 (plain Python)."""
    units = [grid[r] for r in range(9)] + [grid[:, k] for k in range(9)]
    units += [grid[3 * i:3 * i + 3, 3 * j:3 * j + 3].ravel()
              for i in range(3) for j in range(3)]
    return all(sorted(u) == list(range(1, 10)) for u in units)


rows_bad, cols_bad, empty = solved.copy(), solved.copy(), solved.copy()
rows_bad[[0, 1], 4] = rows_bad[[1, 0], 4]
cols_bad[2, [6, 7]] = cols_bad[2, [7, 6]]
boxes_bad = np.roll(solved, 1, axis=0)
empty[4, 4] = 0
grids = {"solved": solved, "row fault": rows_bad, "column fault": cols_bad,
         "box fault": boxes_bad, "empty cell": empty}
for name, g in grids.items():
    ok = int(
        cpu(
            nt.examples.sudoku_check(nt.examples.sudoku_one_hot(g.tolist())),
            (),
        )
    )
    print(f"{name:13s} check = {ok}   {constraints(g)}")
    assert ok == by_loops(g)
assert constraints(rows_bad) == dict(cell=1, box=1, column=1, row=0)
assert constraints(cols_bad) == dict(cell=1, box=1, column=0, row=1)
assert constraints(boxes_bad) == dict(cell=1, box=0, column=1, row=1)

# %% [markdown]
# `sudoku_check` lifts over a batch of grids, like every other function here:

# %%
stack = torch.stack(
    [
        cpu(
            nt.examples.sudoku_one_hot(g.tolist()),
            ("height", "width", "assign"),
        )
        for g in grids.values()
    ]
)
Xs = nt.tensor(stack, ("grids", "height", "width", "assign"))
print(nt.show(nt.examples.sudoku_check(Xs), ("grids",)))
assert cpu(nt.examples.sudoku_check(Xs), "grids").tolist() == \
    [float(by_loops(g)) for g in grids.values()]

# %% [markdown]
# **Erratum.** The first version prints the box index as $3h' + h - 1$. With
# $h', h \in \{1, 2, 3\}$ that runs from 3 to 11 — past the ninth row — so
# the printed form cannot even be evaluated, and `nt.index` says so:

# %%
def printed_rows(h_box, h, b):
    """3h' + h - 1 with 1-based h', h, as a 0-based row."""
    return (3 * (h_box + 1) + (h + 1) - 1) - 1


try:
    nt.examples.sudoku_check(
        nt.examples.sudoku_one_hot(solved.tolist()), rows=printed_rows
    )
    raise AssertionError("the printed index should not work")
except nt.AxisError as err:
    print(textwrap.fill(f"AxisError: {err}", 79))

# %% [markdown]
# A reader might repair it by wrapping around (row 10 is row 1). Then each
# "box" is a real 3×3 block of the grid shifted two rows down and two columns
# right, cyclically. The repaired check rejects the valid grid — and accepts
# a grid whose true boxes repeat digits (the solved grid shifted the other
# way), which the corrected index $3(h'-1) + h$ catches:

# %%
def wrapped_rows(h_box, h, b):
    return printed_rows(h_box, h, b) % 9


shifted = np.roll(solved, (2, 2), axis=(0, 1))
print("solved,  printed (wrapped):", constraints(solved, rows=wrapped_rows))
print("shifted, printed (wrapped):", constraints(shifted, rows=wrapped_rows))
print("shifted, corrected:        ", constraints(shifted))
assert not by_loops(shifted)
assert constraints(shifted, rows=wrapped_rows)["box"] == 1   # missed
assert constraints(shifted)["box"] == 0                       # caught

# %% [markdown]
# **Going further: solving by constraint propagation.** The same sums can
# solve easy puzzles. Keep a tensor of candidates
# $C \in \{0,1\}^{\height \times \width \times \assign}$ (digit $d$ is
# still possible in cell $(i,j)$). A cell is *decided* when
# $\nsum{\assign} C = 1$. Each round removes a decided digit from the other
# cells of its row ($\nsum{\width}$), column ($\nsum{\height}$) and box (the
# sum over the box tensor, spread back onto the grid by indexing
# $\height'$ with $\lfloor i/3 \rfloor$), and decides a cell when one of its
# digits is possible nowhere else in one of its units:

# %%
nt.source(nt.examples.sudoku_propagate)

# %%
clues = np.array([[int(ch) for ch in row.replace(".", "0")] for row in """
53..7.... 6..195... .98....6. 8...6...3 4..8.3..1
7...2...6 .6....28. ...419..5 ....8..79""".split()])
C = nt.examples.sudoku_propagate(nt.examples.sudoku_one_hot(clues.tolist()))
found = cpu(nt.argmax_index(C, "assign"), ("height", "width")) + 1
print(found.numpy())
assert cpu(nt.sum(C, "assign"), ("height", "width")).eq(1).all()
assert np.array_equal(found.numpy(), solved) and by_loops(found.numpy())
assert int(cpu(nt.examples.sudoku_check(C), ())) == 1

# %% [markdown]
# These are Wikipedia's example clues; the result is the grid used above.
# Harder puzzles need search on top of propagation (try a digit, propagate,
# back up on a contradiction), which is a loop, not a formula.

# %% [markdown]
# ## k-means
#
# Lloyd's k-means alternates two steps on points $X \in \reals^{\batch
# \times \dd}$ and centroids $C \in \reals^{\clusters \times \dd}$: assign
# each point to its nearest centroid (one-hot), then move each centroid to
# the mean of its points:
#
# $$
# \begin{aligned}
# Q &= \nfun{\clusters}{argmin} \nfun{\dd}{norm} (C - X)
#   \in \{0,1\}^{\batch \times \clusters},\\
# C &\leftarrow \frac{Q \ndot{\batch} X}{\nsum{\batch} Q}.
# \end{aligned}
# $$
#
# $C - X$ broadcasts to $\batch \times \clusters \times \dd$: the distance
# of every point to every centroid, with no transpose to get right.

# %%
nt.source(
    nt.examples.kmeans_assign, nt.examples.kmeans_update, nt.examples.kmeans
)

# %% [markdown]
# The iris measurements (150 flowers, 4 measurements; bundled with
# scikit-learn) from three starting centroids: the first three flowers of
# one species, virginica (rows 100, 101 and 102, counting from 0).
# scikit-learn's `KMeans` with the same starting
# centroids, one initialisation, tolerance 0 and Lloyd's algorithm is the
# reference. After 1, 2 and 3 rounds scikit-learn has run exactly that many
# rounds (`n_iter_`); with room for 300 it stops when the assignment no
# longer changes, and from then on our rounds change nothing either.

# %%
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris

iris = load_iris()
Xi = torch.tensor(iris.data, dtype=f64)
X = nt.tensor(Xi, ("batch", "d"))
C0 = nt.tensor(Xi[[100, 101, 102]], ("clusters", "d"))
for steps in (1, 2, 3, 300):
    init = cpu(C0, ("clusters", "d")).numpy()
    km = KMeans(n_clusters=3, init=init, n_init=1, max_iter=steps, tol=0,
                algorithm="lloyd")
    km.fit(iris.data)
    C = nt.examples.kmeans(X, C0, steps=steps)
    diff = np.abs(cpu(C, ("clusters", "d")).numpy()
                  - km.cluster_centers_).max()
    print(f"steps = {steps:3d}: scikit-learn ran {km.n_iter_:2d} rounds; "
          f"largest centroid difference {diff:.0e}")
    assert km.n_iter_ == steps or km.n_iter_ < steps
    assert diff < 1e-12
print(nt.show(C, ("clusters", "d")))

# %% [markdown]
# **Erratum.** The first version prints the update as
# $\nsum{\batch} (Q \odot X) / Q$. Wherever a point is not in a cluster,
# $Q = 0$ and the quotient is $0/0$; every centroid comes out `nan`. Reading
# $0/0$ as 0 does not rescue it: the result is the *sum* of each cluster's
# points, not their mean.

# %%
Q = nt.examples.kmeans_assign(X, C0)
printed = nt.sum(nt.contract(Q, X) / Q, "batch")
pr = cpu(printed, ("clusters", "d"))
print("printed:", int(torch.isnan(pr).sum()), "of", pr.numel(),
      "entries are nan")
as_zero = cpu(nt.contract(Q, X), ("batch", "clusters", "d")) / \
    cpu(Q, ("batch", "clusters")).unsqueeze(-1)
as_zero = torch.nan_to_num(as_zero, nan=0.0).sum(0)
corrected = cpu(nt.examples.kmeans_update(X, Q), ("clusters", "d"))
q = cpu(Q, ("batch", "clusters"))
means = torch.stack([Xi[q[:, j] == 1].mean(0) for j in range(3)])
assert torch.isnan(pr).all()
assert not close(as_zero, means)
assert close(corrected, means)
print("0/0 read as 0 gives sums, e.g.", as_zero[0].numpy().round(1))
print("corrected gives means, e.g.", corrected[0].numpy().round(2))

# %% tags=["hide-input"]
q = cpu(nt.examples.kmeans_assign(X, C), ("batch", "clusters")).argmax(-1)
cent = cpu(C, ("clusters", "d"))
fig, axes = plt.subplots(1, 2, figsize=(8, 3.3))
for ax, (i, j) in zip(axes, [(0, 1), (2, 3)]):
    ax.scatter(Xi[:, i], Xi[:, j], c=q, cmap="viridis", s=14)
    ax.scatter(cent[:, i], cent[:, j], c="red", marker="x", s=90)
    ax.set_xlabel(iris.feature_names[i], fontsize=10)
    ax.set_ylabel(iris.feature_names[j], fontsize=10)
fig.suptitle("k-means on iris: clusters and centroids (x)", fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Beam search
#
# Beam search keeps the $k$ best partial sequences. It needs two functions
# that return several winners at once. $\nfun{\ax,\name{k}}{maxk} \colon
# \reals^{\ax} \to \reals^{\name{k}}$ gives the $k$ largest values along
# $\ax$, best first, and $\nfun{\ax,\name{k}}{argmaxk} \colon \reals^{\ax}
# \to \{0,1\}^{\ax \times \name{k}}$ their positions, one-hot, so that
#
# $$
# A \ndot{\ax} \nfun{\ax,\name{k}}{argmaxk} A = \nfun{\ax,\name{k}}{maxk} A.
# $$
#
# Both accept several axes at once, taken together (row-major), which is
# what beam search needs.

# %%
nt.source(nt.examples.maxk, nt.examples.argmaxk)

# %% [markdown]
# The reference is `torch.topk`; the identity holds:

# %%
A = nt.tensor(torch.tensor([[3., 1, 4], [1, 5, 9], [2, 6, 5]], dtype=f64),
              ("height", "width"))
top = nt.examples.maxk(A, "width", 2)
arg = nt.examples.argmaxk(A, "width", 2)
print(nt.show(top, ("height", "k")))
print(nt.show(arg, ("height", "width", "k")))
vals, idx = torch.topk(cpu(A, ("height", "width")), 2, dim=-1)
assert close(cpu(top, ("height", "k")), vals)
assert torch.equal(cpu(nt.argmax_index(arg, "width"),
                                 ("height", "k")), idx)
assert close(cpu(nt.contract(A, arg, over="width"),
                           ("height", "k")), vals)

# %% [markdown]
# **Erratum.** The first version states the identity with $\max$ on the
# right, $A \ndot{\ax} \text{argmaxk}\, A = \max_{\ax} A$. For $k > 1$ that
# is false: the left side has a $\name{k}$ axis, and only its first entry is
# the maximum.

# %%
lhs = nt.contract(A, arg, over="width")
printed_rhs = nt.max(A, "width")            # broadcast along k
diff = cpu(lhs - printed_rhs, ("height", "k"))
print("printed identity, lhs - rhs:\n", diff.numpy())
assert not close(diff, torch.zeros_like(diff))
assert close(cpu(lhs - nt.examples.maxk(A, "width", 2), ("height", "k")),
             torch.zeros(3, 2))

# %% [markdown]
# Now the search. The hypotheses carry scores $H \in \reals^{\beam}$ and
# current states $S \in \{0,1\}^{\beam \times \state}$ (one-hot); a model
# $f \colon \{0,1\}^{\state} \to \reals^{\state}$ gives the log-score of
# each next state, lifted over $\beam$. One step scores every extension of
# every hypothesis and keeps the best $k$ of the $|\beam| \cdot |\state|$:
#
# $$
# \begin{aligned}
# H' &= H + f(S) \in \reals^{\beam \times \state},\\
# H &\leftarrow \left(\nfun{(\state,\beam),\name{k}}{maxk} H'
#   \right)_{\name{k} \to \beam},\qquad
# S \leftarrow \left(\nsum{\beam}
#   \nfun{(\state,\beam),\name{k}}{argmaxk} H'\right)_{\name{k} \to \beam}.
# \end{aligned}
# $$
#
# The first version writes the first line as a product, $H \odot f(S)$,
# which is right for probabilities; with log-scores, as here and in
# practice, products of probabilities are sums of logarithms. (The version
# recorded in our outline also takes $\max_{\beam}$ at this step; that would
# remove the $\beam$ axis that the next line ranks over, and would turn the
# search into the Viterbi recursion, so we leave it out.) To recover the
# sequences, `beam_search` also keeps
# $\nsum{\state} \text{argmaxk}\, H' \in \{0,1\}^{\beam \times \name{k}}$,
# which says which old hypothesis each new one extends, and reorders the
# history with it — one more contraction.

# %%
nt.source(nt.examples.beam_search)

# %% [markdown]
# The model: a character bigram model estimated from the Zen of Python, with
# 27 states (the letters and a space; everything else counts as a space) and
# add-one smoothing. $L_{\state(a), \state'(b)} = \log p(b \mid a)$ and
# $f(S) = (S \ndot{\state} L)_{\state' \to \state}$.

# %%
alphabet = " abcdefghijklmnopqrstuvwxyz"
text = re.sub(r"[^a-z]+", " ", zen.lower())
codes = torch.tensor([alphabet.index(ch) for ch in text])
counts = torch.ones(27, 27, dtype=f64)
counts.index_put_((codes[:-1], codes[1:]), torch.ones(len(codes) - 1,
                                                      dtype=f64),
                  accumulate=True)
L = nt.tensor(torch.log(counts / counts.sum(1, keepdim=True)),
              ("state", "state'"))


def bigram(L):
    def f(S):
        return nt.rename(nt.contract(S, L, over="state"), {"state'": "state"})
    return f


def start(chars, n=27, names=("beam", "state")):
    """Hypotheses that each start at one character (a beam of width 1)."""
    S = torch.stack([torch.eye(n, dtype=f64)[[alphabet.index(c)]]
                     for c in chars])
    return nt.tensor(S.squeeze(0) if len(chars) == 1 else S,
                     names if len(chars) == 1 else ("batch",) + names)


def strings(Y, order=("beam", "time")):
    pos = cpu(nt.argmax_index(Y, "state"), order)
    rows = pos.reshape(-1, pos.shape[-1])
    return ["".join(alphabet[i] for i in row) for row in rows]


H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
H, Y = nt.examples.beam_search(bigram(L), H0, start(" "), steps=10, k=5)
for s, h in zip(strings(Y), cpu(H, "beam").tolist()):
    print(f"{s!r:16} log p = {h:.3f}")

# %% [markdown]
# The likeliest ten letters after a space are pieces of "be", "the" and
# "than" — a bigram model has a short memory. Each string's score is its
# log-probability under the model, which the next cell recomputes from $L$
# directly. A batch axis (here: three start characters) is lifted over with no
# change to the code,
# and each batch entry equals its own search:

# %%
Lp = cpu(L, ("state", "state'"))


def score(s):
    c = [alphabet.index(ch) for ch in s]
    return float(sum(Lp[a, b] for a, b in zip(c, c[1:])))


assert all(close(score(s), h) for s, h in
           zip(strings(Y), cpu(H, "beam").tolist()))
Hb, Yb = nt.examples.beam_search(bigram(L), H0, start("tsb"), steps=6, k=3)
for b, ch in enumerate("tsb"):
    H1, Y1 = nt.examples.beam_search(bigram(L), H0, start(ch), steps=6, k=3)
    assert close(cpu(Hb, ("batch", "beam"))[b],
                 cpu(H1, "beam"))
    assert strings(Yb, ("batch", "beam", "time"))[3 * b:3 * b + 3] == \
        strings(Y1)
found = strings(Yb, ("batch", "beam", "time"))
for b, ch in enumerate("tsb"):
    print(f"from {ch!r}:", found[3 * b:3 * b + 3])

# %% [markdown]
# Is the best hypothesis the best sequence? Only if the beam never prunes
# the best sequence's prefix. Take the model restricted to five characters
# and sequences of five steps: there are $5^5 = 3125$, few enough to score
# them all. With a beam of $5^4$ nothing is pruned before the last step, and
# the search must find the exact best. Here even the greedy search ($k = 1$)
# happens to find it.

# %%
sub = " ehst"
keep = torch.tensor([alphabet.index(ch) for ch in sub])
Ls = counts[keep][:, keep]
Ls = nt.tensor(torch.log(Ls / Ls.sum(1, keepdim=True)), ("state", "state'"))
Lsp = cpu(Ls, ("state", "state'"))
S0 = nt.tensor(torch.eye(5, dtype=f64)[[0]], ("beam", "state"))
steps = 5
best = max((float(sum(Lsp[a, b] for a, b in zip((0,) + s, s))), s)
           for s in itertools.product(range(5), repeat=steps))
print("exhaustive:", repr("".join(sub[i] for i in (0,) + best[1])),
      f"{best[0]:.4f}")
for k in (1, 2, 5, 25, 5 ** (steps - 1)):
    Hk, Yk = nt.examples.beam_search(bigram(Ls), H0, S0, steps=steps, k=k)
    found = cpu(nt.argmax_index(Yk, "state"), ("beam", "time"))[0]
    print(f"k = {k:3d}:", repr("".join(sub[i] for i in found)),
          f"{float(cpu(Hk, 'beam')[0]):.4f}")
assert abs(float(cpu(Hk, "beam")[0]) - best[0]) < 1e-12

# %% [markdown]
# Narrow beams can miss. Two states: from the start, $p(\mathtt{a}) = 0.6$,
# $p(\mathtt{b}) = 0.4$; $\mathtt{a}$ is followed by either state with
# probability 0.5, $\mathtt{b}$ by itself with probability 0.95. The best
# two-step sequence is $\mathtt{bb}$ ($0.4 \cdot 0.95 = 0.38$), but the
# greedy search commits to $\mathtt{a}$ and ends at $0.6 \cdot 0.5 = 0.3$.
# (No transition back to the start state "^": its probability is $10^{-9}$,
# not 0, because $f$ contracts the one-hot $S$ with $L$, and
# $0 \cdot \log 0 = 0 \cdot (-\infty)$ is not a number.)

# %%
P2 = torch.tensor([[0.50, 0.50, 1e-9],     # from a: to a, b, start
                   [0.05, 0.95, 1e-9],     # from b
                   [0.60, 0.40, 1e-9]],    # from the start
                  dtype=f64)
L2 = nt.tensor(torch.log(P2), ("state", "state'"))
perm = {0: "a", 1: "b", 2: "^"}
S2 = nt.tensor(torch.tensor([[0.0, 0.0, 1.0]], dtype=f64), ("beam", "state"))
for k in (1, 2):
    Hk, Yk = nt.examples.beam_search(bigram(L2), H0, S2, steps=2, k=k)
    seq = cpu(nt.argmax_index(Yk, "state"), ("beam", "time"))[0]
    p = float(torch.exp(cpu(Hk, "beam")[0]))
    print(f"k = {k}: {''.join(perm[int(i)] for i in seq)}  p = {p:.2f}")
    assert close(p, [0.30, 0.38][k - 1], atol=1e-6)

# %% [markdown]
# A beam as wide as the state space is not enough either, although with a
# bigram model it may look so: the best sequence's prefix ending in a state
# $s$ is the best prefix ending in $s$, but several better prefixes can end
# in *another* state and fill the beam. A random three-state model (seed 69
# of the generator below, found by trying seeds) shows it over four steps:
# width 3 misses the best sequence, width $3^3$ cannot.

# %%
L3 = nt.log(nt.softmax(2 * nt.randn(seed=69, state=3, **{"state'": 3},
                                    dtype=f64), "state'"))
L3p = cpu(L3, ("state", "state'"))
S3 = nt.tensor(torch.eye(3, dtype=f64)[[0]], ("beam", "state"))
best3 = max(float(sum(L3p[a, b] for a, b in zip((0,) + s, s)))
            for s in itertools.product(range(3), repeat=4))
for k in (3, 27):
    Hk, _ = nt.examples.beam_search(bigram(L3), H0, S3, steps=4, k=k)
    print(f"k = {k:2d}: best found {float(cpu(Hk, 'beam')[0]):.4f}"
          f"   exact {best3:.4f}")
    assert (abs(float(cpu(Hk, "beam")[0]) - best3) < 1e-12) == \
        (k == 27)

# %% [markdown]
# ## The multivariate normal
#
# Matrix functions act on two axes of a tensor: $\nfun{\name{d1},\name{d2}}
# {det}$ and $\nfun{\name{d1},\name{d2}}{inv}$ treat $\name{d1}$ as rows
# and $\name{d2}$ as columns; the inverse keeps both axes, rows still on
# $\name{d1}$. The normal density with mean $\mu \in \reals^{\dd}$ and
# covariance $\Sigma \in \reals^{\name{d1} \times \name{d2}}$
# ($|\dd| = |\name{d1}| = |\name{d2}|$) renames $X - \mu$ twice so that it
# can meet both axes of the inverse:
#
# $$
# \begin{aligned}
# \mathcal{N}(X; \mu, \Sigma) = {}&
#   \exp\Big(-\tfrac12 \big(\nfun{\name{d1},\name{d2}}{inv} \Sigma\big)
#   \ndot{\name{d1} \\ \name{d2}}
#   \big([X - \mu]_{\dd \to \name{d1}} \odot [X - \mu]_{\dd \to \name{d2}}
#   \big)\Big)\\
# & \Big/ \sqrt{(2\pi)^{|\dd|} \nfun{\name{d1},\name{d2}}{det} \Sigma}.
# \end{aligned}
# $$
#
# `ntlib` returns its logarithm.

# %%
nt.source(nt.examples.det, nt.examples.inv, nt.examples.mvn_log_density)

# %% [markdown]
# Checks: `det` and `inv` against `torch.linalg`, over a batch of matrices;
# the inverse's rows are on $\name{d1}$ (rename its $\name{d2}$ and the
# matrix's $\name{d1}$ to one axis $\name{c}$, contract, and the identity
# comes out); and the log-density against
# `torch.distributions.MultivariateNormal.log_prob`, for a batch of points.

# %%
M = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(3),
                dtype=f64)
Sig = M @ M.transpose(-1, -2) + torch.eye(3, dtype=f64)
Mn = nt.tensor(M, ("batch", "d1", "d2"))
assert close(cpu(nt.examples.det(Mn, "d1", "d2"), "batch"),
             torch.linalg.det(M))
assert close(cpu(nt.examples.inv(Mn, "d1", "d2"), ("batch", "d1", "d2")),
             torch.linalg.inv(M))
I3 = nt.contract(nt.rename(nt.examples.inv(Mn, "d1", "d2"), {"d2": "c"}),
                 nt.rename(Mn, {"d1": "c"}), over="c")
assert close(cpu(I3, ("batch", "d1", "d2")),
             torch.eye(3, dtype=f64).expand(4, 3, 3))

mu = nt.randn(seed=4, d=3, dtype=f64)
Sigma = nt.tensor(Sig[0], ("d1", "d2"))
Xn = nt.randn(seed=5, batch=6, d=3, dtype=f64)
logp = nt.examples.mvn_log_density(Xn, mu, Sigma)
mvn = torch.distributions.MultivariateNormal(cpu(mu, "d"), Sig[0])
assert close(cpu(logp, "batch"),
             mvn.log_prob(cpu(Xn, ("batch", "d"))))
print(nt.show(logp, ("batch",)))

# %% [markdown]
# A covariance with a batch axis of its own lifts too (four distributions,
# each point under each):

# %%
Sigmas = nt.tensor(Sig, ("dist", "d1", "d2"))
logp4 = nt.examples.mvn_log_density(Xn, mu, Sigmas)
ref = torch.stack([torch.distributions.MultivariateNormal(
    cpu(mu, "d"), Sig[i]).log_prob(cpu(Xn, ("batch", "d")))
    for i in range(4)])
assert close(cpu(logp4, ("dist", "batch")), ref)
print(nt.show(logp4, ("dist", "batch")))

# %% [markdown]
# ## Belief propagation
#
# This example goes beyond the paper. A *factor graph* describes a
# distribution over several discrete variables as a product of nonnegative
# factors, each touching a few of the variables:
# $p(x) \propto \prod_f \phi_f(x_f)$. In named-tensor terms a variable is an
# axis name, a factor is a tensor whose axes are the variables it touches,
# and the whole (unnormalised) joint is the contraction of all factors over
# nothing. A marginal sums the joint over every other variable — the
# contraction of all factors over all variables but one. That is exponential
# in the number of variables; belief propagation computes every marginal at
# once by passing small messages, each a vector over one variable:
#
# $$
# \begin{aligned}
# m_{v \to f} &= \bigodot_{g \ni v,\ g \ne f} m_{g \to v},\\
# m_{f \to v} &= \phi_f \ndot{\mathcal{V}_f \setminus \{v\}}
#   \bigodot_{u \in \mathcal{V}_f \setminus \{v\}} m_{u \to f},\\
# p(v) &\propto \bigodot_{f \ni v} m_{f \to v},
# \end{aligned}
# $$
#
# where $\mathcal{V}_f$ is the set of variables (axes) of $\phi_f$. A
# factor's message to one of its variables is one contraction: the factor
# times the incoming messages, summed over every other variable it has. The
# names make the bookkeeping disappear: the messages are broadcast and
# summed by axis name, whatever the order in which the factor stores its
# axes. Messages are normalised to sum to 1 (this changes no belief) and
# updated all at once until they stop changing.

# %%
nt.source(nt.examples.belief_propagation)

# %% [markdown]
# A tree: whether it is cloudy, whether it rains, whether the sprinkler is on,
# whether the traffic is heavy (each 0 = no, 1 = yes), a prior on cloud,
# conditionals for rain and sprinkler given cloud, for traffic given rain,
# and the evidence "the traffic is heavy" as a factor on traffic alone.

# %%
tree = {
    "p(cloudy)": T([0.5, 0.5], "cloudy"),
    "p(rain|cloudy)": T([[0.8, 0.2], [0.2, 0.8]], ("cloudy", "rain")),
    "p(sprinkler|cloudy)": T([[0.5, 0.5], [0.9, 0.1]],
                             ("cloudy", "sprinkler")),
    "p(traffic|rain)": T([[0.7, 0.3], [0.2, 0.8]], ("rain", "traffic")),
    "traffic = yes": T([0.0, 1.0], "traffic"),
}
beliefs, info = nt.examples.belief_propagation(
    list(tree.values()), return_messages=True
)
print(f"{info['iterations']} rounds; P(yes) given heavy traffic:")
for v, b in beliefs.items():
    print(f"  {v:10s} {float(cpu(b, v)[1]):.4f}")

# %% [markdown]
# Two independent references. Brute force: contract all factors into the
# joint and sum out the rest (`nt.contract` of every factor, then a
# positional sum). funsor, on which `ntlib` is built, has its own
# sum-product machinery: `funsor.sum_product.sum_product` eliminates
# variables by its own contraction planner; it accepts our tensors as they
# are, since they are funsor tensors.

# %%
import funsor.ops as fops
from funsor.sum_product import sum_product


def exact_marginals(factors):
    variables = list(dict.fromkeys(a for f in factors for a in nt.names(f)))
    joint = cpu(nt.contract(*factors), variables)
    out = {}
    for i, v in enumerate(variables):
        others = [j for j in range(len(variables)) if j != i]
        m = joint.sum(others) if others else joint
        out[v] = m / m.sum()
    return out


def funsor_marginals(factors):
    variables = frozenset(a for f in factors for a in nt.names(f))
    out = {}
    for v in variables:
        m = sum_product(fops.add, fops.mul, list(factors),
                        eliminate=variables - {v})
        out[v] = cpu(m, v) / cpu(m, v).sum()
    return out


exact = exact_marginals(list(tree.values()))
via_funsor = funsor_marginals(list(tree.values()))
for v in exact:
    assert close(cpu(beliefs[v], v), exact[v], atol=1e-12)
    assert close(via_funsor[v], exact[v], atol=1e-12)
print("belief propagation = brute force = funsor's sum_product on the tree")

# %% [markdown]
# The picture shows the factor graph — variables as circles, factors as
# squares — with each factor-to-variable message $m_{f \to v}$ written on its
# edge as the probability of "yes" it carries.

# %% tags=["hide-input"]
def draw_factor_graph(factors, messages, pos, title, ax, below=()):
    names = list(factors)
    for i, (fname, f) in enumerate(factors.items()):
        for v in nt.names(f):
            (x0, y0), (x1, y1) = pos[fname], pos[v]
            ax.plot([x0, x1], [y0, y1], color="gray", zorder=1)
            m = float(cpu(messages[i, v], v)[1])
            dx, dy = x1 - x0, y1 - y0
            n = (dx * dx + dy * dy) ** 0.5
            ax.text(x0 + 0.5 * dx - 0.14 * dy / n,
                    y0 + 0.5 * dy + 0.14 * dx / n, f"{m:.2f}",
                    fontsize=10, color="tab:blue", ha="center",
                    va="center")
    for key, (x, y) in pos.items():
        if key in names:
            ax.scatter([x], [y], s=300, marker="s", color="lightgray",
                       edgecolors="black", zorder=2)
            up = key not in below
            ax.text(x, y + (0.17 if up else -0.17), key, ha="center",
                    va="bottom" if up else "top", fontsize=10)
        else:
            ax.scatter([x], [y], s=2600, color="white", edgecolors="black",
                       zorder=2)
            ax.text(x, y, key, ha="center", va="center", fontsize=10,
                    zorder=3)
    ax.set_title(title, fontsize=11)
    ax.set_xlim(-0.6, 4.6)
    ax.set_ylim(-1.3, 1.5)
    ax.axis("off")


pos = {"p(cloudy)": (0, 1), "cloudy": (0, 0),
       "p(rain|cloudy)": (1, 0.6), "p(sprinkler|cloudy)": (1, -0.7),
       "rain": (2, 0.6), "sprinkler": (2, -0.7),
       "p(traffic|rain)": (3, 0.6), "traffic": (4, 0.6),
       "traffic = yes": (4, -0.5)}
fig, ax = plt.subplots(figsize=(8, 3.6))
draw_factor_graph(tree, info["factor_to_variable"], pos,
                  "messages m(f → v): probability of 'yes'", ax,
                  below=("p(sprinkler|cloudy)", "traffic = yes"))
plt.show()

# %% [markdown]
# On a tree, a message depends only on the subtree behind it, and after as
# many rounds as the tree is wide every message is final: the beliefs are
# the exact marginals. With a cycle that argument fails. Add wet grass,
# which depends on both sprinkler and rain, and the evidence that the grass
# is wet: now cloudy — rain — wet — sprinkler — cloudy is a cycle, and the
# messages go round it, counting the same evidence more than once. The
# iteration ("loopy" belief propagation) still settles here, but on beliefs
# that are not the marginals.

# %%
loopy = dict(tree)
del loopy["p(traffic|rain)"], loopy["traffic = yes"]
loopy["p(wet|sprinkler,rain)"] = T([[[1.0, 0.0], [0.1, 0.9]],
                                    [[0.1, 0.9], [0.01, 0.99]]],
                                   ("sprinkler", "rain", "wet"))
loopy["wet = yes"] = T([0.0, 1.0], "wet")
exact = exact_marginals(list(loopy.values()))
history, msgs = [], None
for rounds in range(1, 41):          # one round at a time, to watch it
    b, step = nt.examples.belief_propagation(
        list(loopy.values()), max_iter=1, init=msgs, return_messages=True
    )
    msgs = step["factor_to_variable"]
    history.append({v: float(cpu(b[v], v)[1]) for v in exact})
b, info = nt.examples.belief_propagation(
    list(loopy.values()), return_messages=True
)
print(f"converged after {info['iterations']} rounds "
      f"(last change {info['change']:.0e})")
for v in exact:
    bp_yes = float(cpu(b[v], v)[1])
    print(f"  {v:10s} loopy BP {bp_yes:.4f}   exact {float(exact[v][1]):.4f}"
          f"   difference {bp_yes - float(exact[v][1]):+.4f}")
assert info["change"] < 1e-10
rain_bp = float(cpu(b["rain"], "rain")[1])
assert abs(rain_bp - exact["rain"][1]) > 0.05
assert all(close(funsor_marginals(list(loopy.values()))[v], exact[v])
           for v in exact)

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 3.2))
for v, color in zip(["cloudy", "rain", "sprinkler"],
                    ["tab:gray", "tab:blue", "tab:orange"]):
    ax.plot(range(1, 41), [h[v] for h in history], color=color,
            label=f"{v}: loopy BP")
    ax.axhline(float(exact[v][1]), color=color, linestyle=":",
               label=f"{v}: exact")
ax.set_xlabel("rounds of message passing", fontsize=10)
ax.set_ylabel("P(yes | wet grass)", fontsize=10)
ax.legend(fontsize=10, ncol=2, loc="lower right")
ax.set_ylim(0.15, 0.9)
fig.tight_layout()
plt.show()

# %% [markdown]
# Exact inference on graphs with cycles is possible with the same
# contractions, by eliminating variables in some order (what funsor's
# `sum_product` does) or by grouping variables into a tree of clusters (the
# junction tree algorithm); both can cost exponentially more than belief
# propagation.
#
# ## Exercises
#
# ### Exercise 7.1: the marginal p(B)
#
# Given $p(\name{B} \mid \name{A}) \in [0,1]^{\name{A} \times \name{B}}$
# (argument `p_B_given_A`) and $p(\name{A})$ (argument `p_A`), return
# $p(\name{B})$. Any other axes should be lifted over.

# %%
def marginal_B(p_B_given_A, p_A):
    return p_B_given_A             # replace with your answer


nt.exercises.report("7.1", marginal_B)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("7.1")))
nt.exercises.check("7.1", nt.exercises.solution("7.1"))

# %% [markdown]
# ### Exercise 7.2: Bayes' rule by name
#
# With the same arguments, return $p(\name{A} \mid \name{B})$ without calling
# `nt.examples.bayes`.

# %%
def posterior(p_B_given_A, p_A):
    return p_B_given_A * p_A       # replace with your answer


nt.exercises.report("7.2", posterior)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("7.2")))
nt.exercises.check("7.2", nt.exercises.solution("7.2"))

# %% [markdown]
# ### Exercise 7.3: one named k-means step
#
# Given points `X` $\in \reals^{\batch \times \dd}$ and centroids
# `C` $\in \reals^{\clusters \times \dd}$, return the centroids after one
# round of assignment and update, using only named operations (no
# `nt.examples.kmeans`). The checker also gives `C` an extra axis `runs` (several
# sets of centroids at once).

# %%
def kmeans_step(X, C):
    return C                       # replace with your answer


nt.exercises.report("7.3", kmeans_step)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("7.3")))
nt.exercises.check("7.3", nt.exercises.solution("7.3"))

# %% [markdown]
# ### Exercise 7.4: a factor-to-variable message
#
# A pairwise factor `F` $\in \reals^{\name{a} \times \name{b}}$ receives the
# message `m` $\in \reals^{\name{b}}$ from its variable $\name{b}$. Return
# its message to $\name{a}$, normalised to sum to 1 over $\name{a}$.

# %%
def message(F, m):
    return nt.sum(F, "b")          # replace with your answer


nt.exercises.report("7.4", message)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("7.4")))
nt.exercises.check("7.4", nt.exercises.solution("7.4"))
