# %% [markdown]
# # Named tensors
#
# This chapter follows §2 of Chiang, Rush and Barak, *Named Tensor Notation* (TMLR
# 2023) {cite}`chiang+:2023`. It introduces the vocabulary — axes, named indices, shapes, records — first
# by example and then formally, and checks each definition in code.

# %%
import torch
import ntlib as nt

# %% [markdown]
# ## Axes and named indices
#
# An **axis** pairs a name with a size: $\height[3]$ is an axis called $\height$ with
# three positions. A **named index** pairs a name with one position on that axis:
# $\height(1)$ is the first position of $\height$. The paper numbers positions
# $1, \dots, n$ (its index sets are always $\{1, \dots, n\}$, TMLR §2.3); in code
# they are $0, \dots, n-1$, so the paper's $\height(1)$ is `height=0` here, and an
# error message quotes positions counted from 0.
#
# A tensor's type lists its axes, and the order of the list does not matter:
# $\reals^{\height[3] \times \width[3]}$ and $\reals^{\width[3] \times \height[3]}$
# are the same set of tensors.
#
# ## The running example
#
# The paper's running example (TMLR §2.1, equation 1) is the matrix
#
# <!-- ntn: example; A=running() -->
# $$
# A = \nmatrix{height}{width}{3 & 1 & 4 \\ 1 & 5 & 9 \\ 2 & 6 & 5}
# \in \reals^{\height[3] \times \width[3]},
# $$
#
# drawn with $\height$ down the rows and $\width$ across the columns. Drawn the other
# way round it is the same tensor:
#
# <!-- ntn: example; A=running() -->
# $$
# A = \nmatrix{width}{height}{3 & 1 & 2 \\ 1 & 5 & 6 \\ 4 & 9 & 5}.
# $$
#
# `nt.tensor` attaches one name to each dimension of the data it is given:

# %%
nt.source(nt.tensor)

# %%
A = nt.tensor(
    [[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"), dtype=torch.float64
)
nt.show(A, ("height", "width"))

# %%
nt.show(A, ("width", "height"))

# %% [markdown]
# The same two drawings as pictures. [treescope](https://treescope.readthedocs.io)
# draws a named tensor with its axes labelled by name (`ntlib` tells it the names);
# each square is an entry, its colour the value (hover over a square, or click it,
# for the entry and its record). `rows` and `columns` say which axis runs where,
# by name:

# %%
import treescope

treescope.render_array(A, rows=["height"], columns=["width"],
                       pixels_per_cell=20)

# %%
treescope.render_array(A, rows=["width"], columns=["height"],
                       pixels_per_cell=20)

# %% [markdown]
# The same tensor can also be built from data stored the other way round. Only the
# names tie positions to meaning, so the two constructions agree entry by entry:

# %%
A_transposed_data = nt.tensor(
    [[3, 1, 2], [1, 5, 6], [4, 9, 5]], ("width", "height"), dtype=torch.float64
)
assert torch.equal(
    nt.positional(A, ("height", "width")),
    nt.positional(A_transposed_data, ("height", "width")),
)
print("same tensor:", nt.shape(A) == nt.shape(A_transposed_data))

# %% [markdown]
# ## Indexing
#
# Indexing a tensor picks positions by name. Fixing every axis gives a scalar: the
# paper's (TMLR §2.1)
#
# <!-- ntn: example; A=running() -->
# $$
# A_{\height(1), \width(3)} = A_{\width(3), \height(1)} = 4
# $$
#
# is, counting from zero, `height=0, width=2`. `nt.index` fixes one axis at a time,
# and the order in which the axes are fixed is immaterial:

# %%
nt.source(nt.index)

# %%
a13 = nt.index(nt.index(A, "height", 0), "width", 2)
a31 = nt.index(nt.index(A, "width", 2), "height", 0)
assert nt.shape(a13) == {} and float(nt.positional(a13, ())) == 4.0
assert float(nt.positional(a31, ())) == 4.0
# positional: [row, column]
assert (float(nt.positional(A, ("height", "width"))[0, 2]) == 4.0)
nt.show(a13)

# %% [markdown]
# Fixing only some axes is **partial indexing**: the result keeps the other axes.
# The paper's examples (TMLR §2.1) are the first row and the third column,
# $A_{\height(1)} \in \reals^{\width[3]}$ and
# $A_{\width(3)} \in \reals^{\height[3]}$:
#
# <!-- ntn: example; A=running() -->
# $$
# A_{\height(1)} = \nmatrix{}{width}{3 & 1 & 4}, \qquad
# A_{\width(3)} = \nmatrix{}{height}{4 & 9 & 5}.
# $$

# %%
row1 = nt.index(A, "height", 0)
col3 = nt.index(A, "width", 2)
assert torch.equal(
    nt.positional(row1, "width"), nt.positional(A, ("height", "width"))[0, :]
)
assert torch.equal(
    nt.positional(col3, "height"), nt.positional(A, ("height", "width"))[:, 2]
)
assert nt.positional(row1, "width").tolist() == [3, 1, 4]
assert nt.positional(col3, "height").tolist() == [4, 9, 5]
print(nt.show(row1))
print(nt.show(col3))

# %% [markdown]
# ## Choosing names
#
# Any string can name an axis, but the paper (§2.2) recommends two habits. First,
# name axes with *words*, not single letters, so that a name says what the axis
# means: $\seq$ and $\layer$ rather than $n$ and $d$.
#
# Second, and more subtly, a good axis name describes the axis as a whole — the
# quantity that runs along it — rather than one of its entries. An image has a
# $\height$ and a $\width$ axis, not a "row" and a "column" axis; a sentence has
# a $\seq$ axis rather than a "word" or "token" axis; a minibatch has a $\batch$
# axis rather than an "example" axis. The paper's reason is that the two cases
# are not symmetric. Some wholes have a name while their parts have no
# unambiguous one ($\height$ and $\width$: is a "row" a unit of height or of
# width?); when only the part has a name, the plural of that name serves for the
# whole. Red, green and blue are *channels*, so the axis of an RGB image is
# $\chans$. A name for the whole is therefore always available.
#
# <!-- ntn: example; A=running(); expect=N(P(V["A"], "height", "width").sum(0), "width"); at=1 -->
# A further reason is how the names read in formulas: $\nsum{\height} A$ sums
# *along the height*, and $A_{\height(3)}$ is the slice at the third position of
# the height. A name for one element would turn these into "sum over row", which
# describes a single row rather than the direction of the sum.
#
# Names are also reused: two tensors whose axes carry the same name are understood
# to share that axis, and the operations of Chapter 3 pair up their entries along it.
# So the same name should be used for the same quantity everywhere in a formula, and
# a second, distinct axis of the same kind gets a new name (the paper primes it: the
# queries of attention get an axis $\seq'$ in TMLR §4.3, and $\text{FullConn}$
# in §4.1 computes its output over $\layer'$).

# %% [markdown]
# ## The formal definitions
#
# We now restate §2's definitions one at a time. In code, a shape is a `dict` from
# axis names to sizes (the index set of an axis of size $n$ is
# $\{0, \dots, n-1\}$), and a record is a `dict` from axis names to positions.
#
# :::{prf:definition} Named indices and records
# :label: def-record
#
# A named index is a pair $\ax(i)$ of a name and a
# position. A *record* is a set of named indices with distinct names,
# $\{\ax_1(i_1), \dots, \ax_r(i_r)\}$.
# :::
#
# :::{prf:definition} Axes and shapes
# :label: def-shape
#
# An axis $\ax[I]$ pairs a name with an index set $I$. Where only one
# axis carries the name $\ax$, $\ax$ also stands for the axis; its index set
# is then written $\ind(\ax)$, and its size $|\ax|$ is short for
# $|\ind(\ax)|$. A *shape* is a set of axes with distinct names,
# $\mathcal{S} = \{\ax_1[I_1], \dots, \ax_r[I_r]\}$.
# :::
#
# :::{prf:definition} Compatible and orthogonal shapes
# :label: def-compatible
#
# Two shapes are *compatible* when every name
# they share has the same index set in both; their union is then again a shape. They
# are *orthogonal* when they share no name at all (orthogonal shapes are in
# particular compatible).
# :::

# %%
nt.source(nt.compatible, nt.orthogonal)

# %%
S = {"height": 3, "width": 3}
T = {"width": 3, "chans": 2}
U = {"width": 4}
V = {"chans": 2}
# share width, same size
assert nt.compatible(S, T) and not nt.orthogonal(S, T)
assert not nt.compatible(S, U)  # width[3] vs width[4]
assert nt.orthogonal(S, V) and nt.compatible(S, V)  # nothing shared
print("S ∪ T =", {**S, **T})

# %% [markdown]
# :::{prf:definition} Records of a shape
# :label: def-records
#
# The set of all records of a shape collects one named index
# per axis, in every combination:
#
# $$
# \rec \mathcal{S} = \left\{ \{\ax_1(i_1), \dots, \ax_r(i_r)\} \mid
#   i_1 \in I_1, \dots, i_r \in I_r \right\}.
# $$
# :::
#
# This is the formula as the paper prints it (TMLR §2.3, Definition "Shapes"; the
# first version has it in §5.1). `nt.records` lists $\rec \mathcal{S}$; its size is
# the product of the axis sizes, and the check below also builds the set from the
# formula itself.

# %%
nt.source(nt.records)

# %%
import itertools

shape_S = {"height": 2, "width": 3}
recs = list(nt.records(shape_S))
for r in recs:
    print(r)
assert len(recs) == 2 * 3
assert len({frozenset(r.items()) for r in recs}) == len(recs)  # all distinct

# the formula, literally: one named index ax_k(i_k) per axis, i_k ranging
# over I_k
names_S = list(shape_S)
by_formula = {
    frozenset((names_S[k], i_k) for k, i_k in enumerate(i))
    for i in itertools.product(*(range(shape_S[a]) for a in names_S))
}
assert by_formula == {frozenset(r.items()) for r in recs}

# %% [markdown]
# :::{prf:definition} Restriction
# :label: def-restriction
#
# If $t \in \rec \mathcal{T}$ and $\mathcal{S} \subseteq
# \mathcal{T}$, the restriction $\restrict{t}{\mathcal{S}}$ keeps the named indices of
# $t$ whose names are in $\mathcal{S}$ (TMLR §2.3 writes
# $\restrict{t}{\mathcal{S}}$ and defines it as the unique record of
# $\rec \mathcal{S}$ contained in $t$):
#
# $$
# \restrict{t}{\mathcal{S}} = \{ \ax(i) \in t \mid \ax \in \mathcal{S} \}.
# $$
# :::
#
# Restriction is what lets an operation on a big tensor pick out the matching entry of
# a smaller one; Chapter 3 uses it to define broadcasting.

# %%
nt.source(nt.restrict)

# %%
t = {"batch": 1, "height": 2, "width": 0}
print(nt.restrict(t, ("height", "width")))
print(nt.restrict(t, "batch"))
# every record of T restricts to a record of S, and every record of S
# arises this way
T3 = {"batch": 2, "height": 3, "width": 3}
restricted = {
    frozenset(nt.restrict(r, ("height", "width")).items())
    for r in nt.records(T3)
}
assert restricted == {frozenset(r.items()) for r in nt.records(S)}

# %% [markdown]
# :::{prf:definition} Named tensors
# :label: def-named-tensor
#
# A named tensor of shape $\mathcal{S}$ over a field $F$ (the
# paper's word: its entries are numbers that can be added, multiplied and
# divided, usually $F = \reals$) is a function from $\rec \mathcal{S}$ to
# $F$; the set of all of them is written
# $F^{\mathcal{S}}$, and the shape of a tensor $X$ is $\shp X$. The entry at record
# $r$ is $X_r$. Nothing in this definition orders the axes.
# :::
#
# The braces of the record are usually dropped: $X_{\ax_1(i_1), \dots, \ax_r(i_r)}$
# stands for $X_{\{\ax_1(i_1), \dots, \ax_r(i_r)\}}$, and a tensor given by an
# expression is indexed through square brackets, as in
# $[X+Y]_{\ax_1(i_1), \dots, \ax_r(i_r)}$.
#
# *Erratum.* The paper prints both shorthands with $\ax_r(x_r)$ as the last named
# index: $X_{\ax_1(i_1), \ldots, \ax_r(x_r)}$ and
# $[X+Y]_{\ax_1(i_1), \ldots, \ax_r(x_r)}$ (TMLR §2.3, the paragraph after
# Definition "Named tensors"; the first version, §5.2, prints the same with $A$ and
# $[A+B]$). There is no $x_r$ in scope: the positions are $i_1, \dots, i_r$, as in
# the record the shorthand abbreviates, so both should end in $\ax_r(i_r)$. The
# definition of $\rec \mathcal{S}$ above is printed correctly.
#
# We can build that function literally — a dictionary keyed by records — from an
# `ntlib` tensor, and check that the two differently stored constructions of $A$
# above are the same function:

# %%
def as_function(X):
    """The named tensor X as a literal map from records (frozensets) to
    numbers."""
    table = {}
    for r in nt.records(nt.shape(X)):
        entry = X
        for ax, i in r.items():
            entry = nt.index(entry, ax, i)
        table[frozenset(r.items())] = float(nt.positional(entry, ()))
    return table


fA = as_function(A)
assert fA == as_function(A_transposed_data)
assert len(fA) == 9
print(fA[frozenset({"height": 0, "width": 2}.items())])

# %% [markdown]
# The corrected shorthand, executed: for every record $\{\height(i), \width(j)\}$,
#
# <!-- ntn: identity; A[height,width]; B[height,width]; i=2; j=3 -->
# $$
# [A+B]_{\height(i), \width(j)} = A_{\height(i), \width(j)} +
#   B_{\height(i), \width(j)},
# $$
#
# with $B$ stored width-major to make sure that the names, not the storage order,
# pick the entries. The right side is read off the
# nested lists the two tensors were built from.

# %%
A_rows = [[3, 1, 4], [1, 5, 9], [2, 6, 5]]  # A_rows[i][j]: height i, width j
B_cols = [[2, 7, 1], [1, 4, 1], [6, 3, 5]]  # B_cols[j][i]: width j, height i
B = nt.tensor(B_cols, ("width", "height"), dtype=torch.float64)
for r in nt.records({"height": 3, "width": 3}):
    i, j = r["height"], r["width"]
    entry = nt.index(nt.index(A + B, "height", i), "width", j)   # [A+B]_r
    assert float(nt.positional(entry, ())) == A_rows[i][j] + B_cols[j][i]
entry = float(nt.positional((A + B)(height=0, width=2), ()))
print(f"[A+B] at height(1), width(3) = {A_rows[0][2]} + {B_cols[2][0]} "
      f"= {entry}")

# %% [markdown]
# **Scalars.** The empty shape $\emptyset$ has exactly one record, the empty record,
# so a tensor of shape $\emptyset$ is a single value: $F^{\emptyset}$ is identified
# with $F$. In `ntlib`, summing out every axis gives such a tensor; `nt.shape` is
# empty and `nt.records` yields one empty record.

# %%
total = nt.sum(A, ("height", "width"))
assert nt.shape(total) == {}
assert list(nt.records(nt.shape(total))) == [{}]
assert as_function(total) == {frozenset(): 36.0}
nt.show(total)

# %% [markdown]
# ## How `ntlib` represents a named tensor
#
# The definitions above say what a named tensor *is*: a function from the records
# of a shape to numbers. `ntlib` stores one as a `torch.Tensor` (the values, in
# some storage order) together with the axis names and sizes. The type that holds
# them is `nt.NamedTensor`. It is a subclass of the tensor type of
# [funsor](https://funsor.pyro.ai) {cite}`obermeyer+:2019`, a library in which
# the *inputs* of a tensor are named, exactly as our axes are; being a subclass, a named tensor can be handed
# to any code written for funsor tensors.
#
# A subclass also inherits methods, and funsor's methods have funsor's meanings:
# its `sum()` adds up the entries of each *value* (here: a single number, so it
# would return the tensor unchanged), and calling a funsor tensor with an unknown
# name ignores that name. A reader who writes `A.sum("height")` expects the sum
# over $\height$. So `NamedTensor` redefines every method one would call with an
# axis name to be the `ntlib` function of the same name, and turns everything
# that would need an axis *order* into an error that says what to use instead:
#
# - `A.sum("height")`, `A.mean(...)`, `A.max(...)`, `A.softmax("width")`, ... are
#   `nt.sum(A, "height")`, ...; without axes they reduce over all axes;
# - `A(height=0)` and `A[{"height": 0}]` are `nt.index(A, "height", 0)`; an axis
#   that `A` does not have is an `AxisError`;
# - `A + B`, `A * B`, `A > B`, ... match axes by name (computed by torch);
# - `A @ B`, `A[0]`, `len(A)`, `A.reshape(...)`, and mixing `A` with a positional
#   `torch.Tensor` raise a `TypeError` — a positional tensor must first be named
#   with `nt.tensor(t, names)`;
# - `A.shape` is the dict of axis sizes, and the printed form of `A` lists its
#   axes with their sizes, its dtype and its device.

# %%
A = nt.tensor([[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"))
assert nt.equal(A.sum("height"), nt.sum(A, "height"))
assert nt.equal(A(height=0), nt.index(A, "height", 0))
assert nt.equal(A[{"height": 0, "width": 2}], nt.tensor(4, ()))
print(A.shape)
print(nt.show(A.sum("height")))

import textwrap

for attempt in ("A + torch.ones(3, 3)", "A @ A", "A[0]", "A(depth=1)"):
    try:
        eval(attempt)
        raise AssertionError(f"{attempt} did not raise")
    except (TypeError, nt.AxisError) as e:
        msg = f"{attempt}  →  {type(e).__name__}: {e}"
        print(textwrap.fill(msg, 76, subsequent_indent="    "))

# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise 2.1: the paper's indices in code
#
# Counting from 1, as the paper does, the running example has
# $A_{\height(2), \width(3)} = 9$. Give the positions to use in
# code, as a dict from axis names to positions, e.g.
# `answer = {"height": 0, "width": 0}`.

# %%
answer = ...  # your answer

nt.exercises.report("2.1", answer)

# %% tags=["hide-cell"]
answer = {"height": 1, "width": 2}  # the paper's height(2), width(3), minus 1

assert nt.exercises.check("2.1", answer)

# %% [markdown]
# ### Exercise 2.2: the union of two shapes
#
# Shapes are dicts from axis names to sizes. Write a function that returns the
# union $\mathcal{S} \cup \mathcal{T}$ of two shapes when they are compatible, and
# `None` when they are not.

# %%
def answer(S, T):
    ...  # your code here


nt.exercises.report("2.2", answer)

# %% tags=["hide-cell"]
def answer(S, T):
    if any(S[ax] != T[ax] for ax in S.keys() & T.keys()):
        return None  # an axis with two different sizes: not compatible
    return {**S, **T}


assert nt.exercises.check("2.2", answer)

# %% [markdown]
# ### Exercise 2.3: a tensor is a function of records
#
# A named tensor $X$ is a function from $\rec \shp X$ to the reals. Write that
# function: given $X$ and a record $r$ (a dict with one position for every axis of
# $X$), return the entry $X_r$ as a Python `float`. Remember that the order in
# which $X$ stores its axes is not the order in which $r$ lists them.

# %%
def answer(X, r):
    ...  # your code here


nt.exercises.report("2.3", answer)

# %% tags=["hide-cell"]
def answer(X, r):
    for ax, i in r.items():  # index by name, in whatever order r lists them
        X = nt.index(X, ax, i)
    return float(nt.positional(X, ()))  # no axes left: a scalar


assert nt.exercises.check("2.3", answer)

# %% [markdown]
# ### Exercise 2.4: which of these raises `AxisError`?
#
# With $A$ as above, exactly one of these lines raises `nt.AxisError`. Which one,
# and why?
#
# - **a**: `nt.tensor([[1., 2.], [3., 4.]], ("seq", "seq"))`
# - **b**: `nt.positional(A, ("width", "height"))`
# - **c**: `nt.index(A, "width", 2)`
#
# Answer with the letter, e.g. `answer = "c"`.

# %%
answer = ...  # your answer

nt.exercises.report("2.4", answer)

# %% tags=["hide-cell"]
answer = "a"  # two axes named seq: a shape's names must be distinct

assert nt.exercises.check("2.4", answer)

# %% [markdown]
# ### Exercise 2.5: a row of A, in the notation
#
# Some answers are formulas. Write, in the paper's notation, the second row of
# $A$: the vector along $\width$ that $A$ holds at $\height$ 2 (counting from 1,
# as the paper does). Give it as a Python string of LaTeX, e.g.
# `answer = r"\nsum{\width} A"`; the checker evaluates your formula with
# `ntlib.notation` on tensors of its own, so any formula equal to the right one
# passes.

# %%
answer = ...  # your answer

nt.exercises.report("2.5", answer)

# %% tags=["hide-cell"]
answer = r"A_{\height(2)}"  # fix height only: what is left runs along width

assert nt.exercises.check("2.5", answer)
