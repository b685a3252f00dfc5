# %% [markdown]
# # Preface
#
# This book is an executable companion to the paper *Named Tensor Notation* by
# David Chiang, Alexander M. Rush and Boaz Barak (Transactions on Machine Learning
# Research, 2023; arXiv:2102.13196) {cite}`chiang+:2023`. The paper proposes writing tensor formulas with
# **named axes** — $\height$, $\width$, $\seq$, $\key$, … — instead of positions
# ("dimension 0", "the last dimension"), so that each formula says by itself which
# axis an operation acts on, and keeps working when a tensor gains extra axes such as
# a batch.
#
# We follow the structure of the paper's latest version. The formulas in the
# chapters below are typeset with the paper's own macros and then *run*: the
# named-tensor functions live in a small Python package, `ntlib`, built on
# [funsor](https://github.com/pyro-ppl/funsor) {cite}`obermeyer+:2019` with the
# PyTorch backend {cite}`pytorch`. Each
# chapter shows the source of the `ntlib` function next to the formula it
# implements, applies it to concrete numbers, and compares the result with a
# computation that does not use it: ordinary positional PyTorch, automatic
# differentiation, or brute-force enumeration. Where the paper has a misprint we
# quote what it prints, with section and equation, and check the corrected
# formula. Not everything in the paper is a formula: the *map of the paper* at
# the end of this preface says, part by part, what the book runs and what it
# only states. The explanations are ours;
# for the ideas, please cite the paper.
#
# The formulas are checked as well as the code. Each formula that computes
# something (every such display, and the inline formulas the text works with)
# carries a mark, invisible on the page, that says what it is and binds it to
# the code beside it; the test suite reads the formula itself with
# `ntlib.notation` and evaluates it on random data against that code
# (Appendix C, *Which formulas run*). 142 of 149 formulas in this book run; the
# others are listed there, each with the reason.
#
# ## How to read it
#
# The book has three parts and a few pages around them.
#
# **The notation** follows the paper's sections 1 to 6.
#
# - **Chapter 1** (§1) motivates the notation with attention, the formula where
#   positional notation is most ambiguous, and lifts it to batches and heads.
# - **Chapter 2** (§2) defines named tensors, by example and then formally:
#   axes, records, shapes, named tensors.
# - **Chapter 3** (§3) goes through the operations: lifting, elementwise functions
#   and broadcasting, reductions, contraction, functions from vectors to vectors
#   such as softmax, renaming and reshaping, indexing.
# - **Chapter 4** (§4) builds the blocks of neural networks: feedforward layers,
#   recurrent networks, attention, convolution, pooling, normalization.
# - **Chapter 5** (§5 and Appendix B) does differential calculus with named
#   tensors: differentials, derivatives with starred axes, and the formal
#   definitions behind them.
# - **Chapter 6** (§6) runs the paper's arguments about the alternatives (index
#   notation, graphical notation, relational algebra, code in place of
#   equations), then writes three formulas in seven notations, among them
#   software with named axes.
#
# **More examples.** **Chapter 7** runs the examples that the paper's first
# arXiv version {cite}`chiang+:2021` had and the published one dropped (random
# variables, a bag of words, Sudoku, k-means, beam search, the multivariate
# normal), and one of our own, belief propagation.
#
# **Appendices.** **Appendix A.1** and **Appendix A.2** are the paper's
# Appendix A: a complete Transformer and LeNet, each checked against a positional
# implementation and trained. **Appendix A.3** records how fast the named code
# runs next to positional PyTorch (not in the paper). **Appendix C**,
# [*Writing named tensor notation*](a4_writing_notation.ipynb), shows the
# paper's LaTeX macros with their rendered output, for use in your own papers.
#
# At the end of the book, the [**bibliography**](a5_references.ipynb) lists the
# works the book cites, and the {doc}`API reference </reference/index>`
# documents every public function of `ntlib`, with its formula and an example.
#
# Chapters 1–3 are the core; read them in order. Chapters 4 to 7 and the
# appendices can be read in any order after them. Each code cell depends only on
# the cells above it in the same chapter, so any chapter can be run on its own.
#
# Two conventions to keep in mind:
#
# - **Indices start at 0** in code, as in Python; the paper counts from 1 (its
#   index sets are $\{1, \ldots, n\}$, §2.3). So the paper's
#   $A_{\height(1),\width(3)} = 4$ (§2.1) is `height=0, width=2` here. Chapters
#   point this out where it matters.
# - **The order in which a tensor stores its axes carries no meaning.** To leave the
#   named world you name the order explicitly: `nt.positional(A, ("height", "width"))`.
#
# ## How to run it
#
# **In the browser.** Each chapter page has a launch button (the rocket icon) that
# opens the notebook in Google Colab. A hidden set-up cell at the top of every
# notebook installs `ntlib` there, with what the chapters import (matplotlib, tqdm,
# scikit-learn); running it again does no harm, and elsewhere it does nothing.
#
# **Locally.** With Python 3.10+ and `make`, from a clone of the repository:
#
# ```bash
# make book    # build the HTML book into _build/html (creates .venv on first use)
# make test    # the whole test suite, including every chapter notebook
# make lab     # open the chapters in JupyterLab (installed on first use)
# ```
#
# To use `ntlib` in your own environment instead, `pip install -e ".[chapters]"`
# in the repository root (`ntlib` with what the chapters import: matplotlib,
# tqdm, scikit-learn, ...; add `-r requirements.txt` for the book and test
# tools).
#
# **Tests.** `pytest` runs the unit tests (ntlib against positional torch, algebraic
# laws with hypothesis, error messages) and, through the `--nbval` option set in
# `pyproject.toml`, re-executes every chapter and compares each cell's output with
# the one stored in the notebook. To check a single chapter:
#
# ```bash
# .venv/bin/python -m pytest chapters/03_operations.ipynb -q
# ```
#
# **Device.** `ntlib` decides once where tensors live: the environment variable
# `NTLIB_DEVICE` (`cpu`, `cuda`, `cuda:1`, …) if it is set, otherwise a GPU when one
# is available, otherwise the CPU. Random tensors are drawn on the CPU from a seed and
# then moved, and printed tensors are rounded, so the stored outputs are the same on
# every device:
#
# ```bash
# NTLIB_DEVICE=cpu .venv/bin/python -m pytest chapters -q
# ```

# %% [markdown]
# ## A first look
#
# The running example of the paper (§2.1, Eq. (1)) is a $3\times 3$ grayscale
# image, a matrix whose rows are indexed by $\height$ and whose columns by
# $\width$:
#
# <!-- ntn: example; A=running() -->
# $$
# A = \nmatrix{height}{width}{3 & 1 & 4 \\ 1 & 5 & 9 \\ 2 & 6 & 5}
# \in \reals^{\height[3] \times \width[3]}.
# $$

# %%
import torch
import ntlib as nt

A = nt.tensor(
    [[3, 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"), dtype=torch.float64
)
nt.show(A, ("height", "width"))

# %% [markdown]
# `nt.shape` gives the axes and their sizes; `nt.show` prints a tensor with the axis
# order we ask for, so the same tensor can be viewed with $\width$ as rows:

# %%
print(nt.shape(A))
nt.show(A, ("width", "height"))

# %% [markdown]
# Summing over $\width$ leaves a vector over $\height$, whichever way $A$ is stored:

# %%
row_sums = nt.sum(A, "width")
assert torch.equal(nt.positional(row_sums, "height"),
                   nt.positional(A, ("height", "width")).sum(dim=1))
nt.show(row_sums)

# %% [markdown]
# ## Cheat-sheet
#
# The table pairs the paper's notation with `ntlib` and with positional PyTorch.
# In the positional column, `A` is stored with $\height$ as dimension 0 and $\width$
# as dimension 1, and `x` is a vector; the positional code is only correct under such
# a convention, which the named code does not need. Each entry is explained, and
# checked, in Chapter 3.
#
# <!-- ntn: example; E[vocab,emb]; I=nt.tensor([2, 6, 1, 3], "seq"); expect=N(P(V["E"], "vocab", "emb")[P(V["I"], "seq") - 1], "seq", "emb"); at=11 -->
# <!-- ntn: example; A=running(); expect=N(P(V["A"], "height", "width").reshape(-1), "layer"); at=10 -->
# <!-- ntn: example; A=running(); expect=N(P(V["A"], "height", "width"), "height'", "width"); at=9 -->
# <!-- ntn: example; A=running(); expect=N(torch.softmax(P(V["A"], "height", "width"), 1), "height", "width"); at=8 -->
# <!-- ntn: example; A=running(); B[width,classes]; @width=3; expect=N(P(V["A"], "height", "width") @ P(V["B"], "width", "classes"), "height", "classes"); at=7 -->
# <!-- ntn: example; A=running(); expect=N(P(V["A"], "height", "width").sum(0), "width"); at=6 -->
# <!-- ntn: example; A=running(); x=nt.tensor([2., 7., 1.], "height"); expect=N(P(V["A"], "height", "width") + P(V["x"], "height")[:, None], "height", "width"); at=4 -->
# <!-- ntn: example; A=running(); expect=N(torch.sigmoid(P(V["A"], "height", "width")), "height", "width"); at=3 -->
# <!-- ntn: example; A=running(); expect=4.0; at=2 -->
# | operation | paper | `ntlib` | positional `torch` |
# | --- | --- | --- | --- |
# | tensor with named axes | $A \in \reals^{\height[3] \times \width[3]}$ | `A = nt.tensor(data, ("height", "width"))` | `A = torch.tensor(data)` (dim 0 = height by convention) |
# | indexing | $A_{\height(1), \width(3)}$ | `nt.index(nt.index(A, "height", 0), "width", 2)` | `A[0, 2]` |
# | elementwise op, broadcasting | $\sigma(A)$, $A + x$ with $x \in \reals^{\height}$ | `nt.sigmoid(A)`, `A + x` | `torch.sigmoid(A)`, `A + x[:, None]` |
# | reduction | $\nsum{\height} A$ | `nt.sum(A, "height")` | `A.sum(dim=0)` |
# | contraction | $A \ndot{\width} B$ | `nt.contract(A, B, over="width")` | `A @ B` or `torch.einsum("hw,wk->hk", A, B)` |
# | softmax | $\nfun{\width}{softmax} A$ | `nt.softmax(A, "width")` | `torch.softmax(A, dim=1)` |
# | renaming | $A_{\height \to \height'}$ | `nt.rename(A, {"height": "height'"})` | no counterpart: dimensions have no names |
# | flattening | $A_{(\height, \width) \to \layer}$ | `nt.flatten(A, ("height", "width"), "layer")` | `A.reshape(-1)` |
# | indexing with a tensor | $\nfun{\vocab}{index}(E, I)$ | `nt.index(E, "vocab", I)` | `E[I]` |
#
# A few of these, side by side with their positional counterparts:

# %%
At = nt.positional(A, ("height", "width"))
x = nt.tensor([2, 7, 1], "height", dtype=torch.float64)
xt = nt.positional(x, "height")

checks = {
    "indexing": (
        nt.positional(nt.index(nt.index(A, "height", 0), "width", 2), ()),
        At[0, 2],
    ),
    "broadcasting": (
        nt.positional(A + x, ("height", "width")),
        At + xt[:, None],
    ),
    "contraction": (
        nt.positional(nt.contract(x, A, over="height"), "width"),
        xt @ At,
    ),
    "softmax": (
        nt.positional(nt.softmax(A, "width"), ("height", "width")),
        torch.softmax(At, dim=1),
    ),
    "flattening": (
        nt.positional(nt.flatten(A, ("height", "width"), "layer"), "layer"),
        At.reshape(-1),
    ),
}
for what, (named, positional) in checks.items():
    assert torch.allclose(named, positional), what
    print(f"{what:>13}: named == positional")

# %% [markdown]
# ## Map of the paper
#
# Where each part of the paper is in this book, what the book runs (and checks
# against a computation that does not use `ntlib`), and what it only states.
# Sections are those of the latest version (TMLR 2023) unless marked v1, the
# first arXiv version (2021). First the notation:
#
# | paper | topic | book | run and checked | stated, not run |
# | --- | --- | --- | --- | --- |
# | §1 | attention, positional and named | [Ch. 1](01_introduction.ipynb) | both readings of the positional formula; named attention, lifted to queries, batches and heads, against positional torch; §1's sentence that gives the queries the keys' axis $\seq$, run: the positions are then matched, not lifted over | §1's list of software with named axes: compared, not all run, in Ch. 6's table |
# | §2 | named tensors, by example and formally | [Ch. 2](02_named_tensors.ipynb) | the running example and its indexing; axes, records, shapes, restriction, named tensors as functions of records | §2.2's advice on choosing names: words, wholes, plurals (prose) |
# | §3 | operations | [Ch. 3](03_operations.ipynb) | lifting, broadcasting, reductions, contraction, vector functions, renaming, reshaping, indexing, against positional torch; the printed $p$-norm beside ours; §3.7's misprinted entry formula, printed and corrected; §3.7's `tf.gather` call for $P$, run as printed (batch × seq × seq) and corrected | — |
# | §4 | neural networks | [Ch. 4](04_neural_networks.ipynb) | feedforward, RNN, attention, convolution, pooling, the three normalizations, against torch's layers | — |
# | v1 §3.1.6 | GroupNorm | [Ch. 4](04_neural_networks.ipynb) | against `F.group_norm` | — |
# | §5 | differential calculus | [Ch. 5](05_calculus.ipynb) | the derivative's definition by finite differences; the Hessian with starred and daggered axes; the worked examples (8a) and (8b); every rule of §5.2, (9a)–(9j), the softmax differential (10) and derivative (14), a lift's derivative (§5.4) and attention's three derivatives (§5.5), all against autograd; the misprints of (14) and of $\partial\text{Att}/\partial K^*$, evaluated | §5's opening on numerator and denominator layouts (prose) |
# | Appendix B | formal definitions of differentiation | [Ch. 5](05_calculus.ipynb) | the remainder $R(A, H)$ computed, with $\lVert R \rVert / \lVert H \rVert \to 0$ for the true derivative only; the identification theorem both ways, on attention, and uniqueness | the theorem, checked on examples, not proved (the paper states it without proof) |
# | §6 | alternative notations | [Ch. 6](06_alternatives.ipynb) | §6.1's index-notation attention and reductions, by `einsum`; §6.2's diagrams, drawn from the axis names; §6.3's relations as Boolean tensors in sqlite3 (join, contraction, $\rho$); §6.4's `Dropout2d` and dropout with named mask axes | §6.1's verdict and §6.2's graphs and assessment (prose); `Dropout2d` in other torch versions; probabilistic relational algebras (§6.3) |
# | — | three formulas in seven notations (ours) | [Ch. 6](06_alternatives.ipynb) | named, positional, `einsum`, einops, xarray, SQL and diagrams, each asserted equal to the named result; the mistake each lets through; the systems table: each *yes* or *no* of the rows run here is a check | the systems of §1 not installed here (Nexus, tsalib, AxisArrays, NamedTensor, Dex, JAX): cited, not run |
# | §7 | conclusions | — | — | not reproduced |
#
# The examples and the appendices:
#
# | paper | topic | book | run and checked | stated, not run |
# | --- | --- | --- | --- | --- |
# | v1 §3.4.1 | discrete random variables | [Ch. 7](07_more_examples.ipynb) | chain rule, marginal and Bayes' rule against loops over the values | — |
# | v1 §3.4.3 | continuous bag of words | [Ch. 7](07_more_examples.ipynb) | against `nn.EmbeddingBag`, a linear layer and softmax, lifted over a batch; trained on a short text, its accuracy bounded by the one ambiguous bag, counted | — |
# | v1 §3.4.4 | Sudoku | [Ch. 7](07_more_examples.ipynb) | the check on a solved grid and on one fault of each kind, lifted over a batch; the printed box index, out of range, and its wrap-around repair, which accepts a wrong grid; (ours) solving an easy puzzle by constraint propagation | the section's title calls it an ILP; only the check is printed, and no integer program is solved |
# | v1 §3.4.5 | k-means | [Ch. 7](07_more_examples.ipynb) | against scikit-learn's `KMeans` (Lloyd's algorithm, same start) on the iris data, round by round, and the round at which it stops; the printed update, which gives `nan` | — |
# | v1 §3.4.6 | beam search | [Ch. 7](07_more_examples.ipynb) | `maxk` and `argmaxk` against `torch.topk`, and the printed identity (`max` for `maxk`) shown false; the printed update, with recombination (`merge=True`), against exhaustive search on 200 small models (exact at width $\lvert\state\rvert$, never better than exhaustive) and against a positional Viterbi recursion at full width; lifted over a batch; our rank-all-extensions variant (`merge=False`) beside it | — |
# | v1 §3.4.7 | multivariate normal | [Ch. 7](07_more_examples.ipynb) | `det` and `inv` against `torch.linalg`; the log-density against `torch.distributions`, lifted over points and over covariances | — |
# | — | belief propagation (ours, not in the paper) | [Ch. 7](07_more_examples.ipynb) | against brute force and funsor's `sum_product` on a tree; the number of rounds a tree needs; on a graph with a cycle, beliefs that are not the marginals | the junction tree algorithm (named, not run) |
# | Appendix A.1 | the Transformer | [App. A.1](a1_transformer.ipynb) | every piece against torch; the whole model, latest and v1, against a positional implementation; trained | — |
# | Appendix A.2 | LeNet | [App. A.2](a2_lenet.ipynb) | every block and the whole model against torch; the pooling misprint; trained on digits | — |
# | Appendix C | the LaTeX macros | [App. C](a4_writing_notation.ipynb) | every macro of `namedtensor.sty` and of the paper's preamble, compared with the book's MathJax definitions (only `\nmatrix` differs, on purpose); each shown rendered | `namedtensor.sty` itself is not compiled here |
# | — | speed of `ntlib` (not in the paper) | [App. A.3](a3_performance.ipynb) | reads timings recorded by `benchmarks/` | the timings are of one machine, not rerun by the page |
# | — | exercises (not in the paper) | end of each chapter | each written-out solution, by the checker, against a reference computed another way (positional torch, autograd, running the choices) | — |

# %% [markdown]
# ## Exercises
#
# Every chapter ends with exercises, and every exercise is checked by the
# computer. They all follow one convention.
#
# **The stub.** An exercise gives you a code cell with a *stub*. For a function,
# it is a `def answer(...)` whose signature is given (the axis names are keyword
# arguments with the paper's names as defaults, as everywhere in `ntlib`) and
# whose body is `...  # your code here`; for a question with a single answer (a
# number, a dict, the letter of a choice), it is `answer = ...  # your answer`.
# The cell ends with `nt.exercises.report(id, answer)`.
#
# **Your answer.** Replace the `...` with your code and run the cell. `report`
# hands `answer` to the checker, which runs it next to a reference answer on
# several inputs of its own choosing: the sizes of the prompt, but also other
# sizes, axes stored in another order, and an extra axis that a named formula
# should lift over. It prints either `correct` or `not yet:` followed by the
# first case that failed and what went wrong there (axes missing or unexpected,
# or the first entry that differs). A function that only works for the example in
# the prompt does not pass. The stub as given prints `not yet`. The reference
# answer is not the solution shown below the stub: it is computed another way,
# with positional PyTorch (in chapter 5, with automatic differentiation), and
# for a question with one answer by running the choices, searching the data or
# counting, so a check compares two independent computations.
#
# **The solution.** Below each stub is a collapsed cell with one solution,
# written out as you would write it (the same `def answer(...)`, filled in), then
# checked with `assert nt.exercises.check(id, answer)`. Open it when you are
# done, or stuck; other solutions can be just as good, if the checker accepts
# them. `nt.exercises.check` raises an `ExerciseError` for a wrong answer, which
# makes it useful in your own tests.

# %% [markdown]
# ### Exercise 0.1: column sums
#
# Write a function that returns the vector of column sums of a matrix
# $A \in \reals^{\height \times \width}$, that is, $\nsum{\height} A \in
# \reals^{\width}$. For the matrix $A$ above it is $(6, 12, 18)$. The axis name is
# a keyword argument whose default is the paper's name, as everywhere in `ntlib`.

# %%
def answer(A, *, height="height"):
    ...  # your code here


nt.exercises.report("0.1", answer)

# %% tags=["hide-cell"]
def answer(A, *, height="height"):
    return nt.sum(A, height)


assert nt.exercises.check("0.1", answer)

# %% [markdown]
# ### Exercise 0.2: softmax along the height, positionally
#
# Let `At = nt.positional(A, ("height", "width"))`. Which positional expression
# computes the same numbers as `nt.softmax(A, "height")`?
#
# - **a**: `torch.softmax(At, dim=0)`
# - **b**: `torch.softmax(At, dim=1)`
# - **c**: `torch.softmax(At, dim=-1)`
#
# Answer with the letter, e.g. `answer = "c"`.

# %%
answer = ...  # your answer

nt.exercises.report("0.2", answer)

# %% tags=["hide-cell"]
answer = "a"  # At stores height as dimension 0, so dim=0 runs along height

assert nt.exercises.check("0.2", answer)
