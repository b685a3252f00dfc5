# %% [markdown]
# # Preface
#
# This book is an executable companion to the paper *Named Tensor Notation* by
# David Chiang, Alexander M. Rush and Boaz Barak (Transactions on Machine Learning
# Research, 2023; arXiv:2102.13196). The paper proposes writing tensor formulas with
# **named axes** — $\height$, $\width$, $\seq$, $\key$, … — instead of positions
# ("dimension 0", "the last dimension"), so that each formula says by itself which
# axis an operation acts on, and keeps working when a tensor gains extra axes such as
# a batch.
#
# We follow the structure of the paper's latest version. Every formula in the chapters
# below is typeset with the paper's own macros and is then *run* (the map of the paper
# at the end of this preface says which parts are covered so far): the named-tensor
# functions live in a small
# Python package, `ntlib`, built on [funsor](https://github.com/pyro-ppl/funsor) with
# the PyTorch backend. Each chapter shows the source of the `ntlib` function next to
# the formula it implements, applies it to concrete numbers, and compares the result
# with an ordinary positional PyTorch computation. Where the paper has a misprint we
# say so and check the corrected formula. The explanations are ours; for the ideas,
# please cite the paper.
#
# ## How to read it
#
# - **Chapter 1** motivates the notation with attention, the formula where positional
#   notation is most ambiguous.
# - **Chapter 2** defines named tensors, informally and then formally.
# - **Chapter 3** goes through the operations: lifting, elementwise functions and
#   broadcasting, reductions, contraction, softmax, renaming and reshaping, indexing.
# - **Chapter 4** and the appendices build neural networks (feedforward, RNN,
#   attention, convolution, pooling, normalization, the Transformer, LeNet) from these
#   operations; the last appendix records how fast the named code runs.
#
# Chapters 1–3 are the core; read them in order. Each code cell depends only on the
# cells above it in the same chapter, so any chapter can be run on its own.
#
# Two conventions to keep in mind:
#
# - **Indices start at 0** in code, as in Python; the paper counts from 1. So the
#   paper's $A_{\height(1),\width(3)}$ is `height=0, width=2` here. Chapters point this
#   out where it matters.
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
# To use `ntlib` in your own environment instead, `pip install -e .` in the
# repository root (add `-r requirements.txt` for the notebook and test tools).
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
# The running example of the paper is a $3\times 3$ matrix whose rows are indexed by
# $\height$ and whose columns by $\width$:
#
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
# Where each part of the paper (latest version, TMLR 2023, unless marked v1) is
# executed in this book, and how far:
#
# | paper | topic | book | status |
# | --- | --- | --- | --- |
# | §1 | introduction: attention, positional vs named | [Chapter 1](01_introduction.ipynb) | done |
# | §2 | named tensors, informal and formal definitions | [Chapter 2](02_named_tensors.ipynb) | done |
# | §3 | operations: lifting, reductions, contraction, softmax, renaming and reshaping, indexing | [Chapter 3](03_operations.ipynb) | done |
# | §4 | neural networks: feedforward, RNN, attention, convolution, pooling, normalization | [Chapter 4](04_neural_networks.ipynb) | done |
# | v1 §3.4 | GroupNorm | [Chapter 4](04_neural_networks.ipynb) | done |
# | §5 and Appendix B | differential calculus; formal differentiability | [Chapter 5](05_calculus.ipynb) | done |
# | §6 | alternatives and related work: index notation, graphical notation, relational algebra | [Chapter 6](06_alternatives.ipynb) | done |
# | v1 §3.4 | other examples: random variables, CBOW, Sudoku, k-means, beam search, multivariate normal | [Chapter 7](07_more_examples.ipynb) | done |
# | — | belief propagation (proposed for the paper, never merged) | [Chapter 7](07_more_examples.ipynb) | done |
# | Appendix A | the Transformer | [Appendix A.1](a1_transformer.ipynb) | done |
# | Appendix A | LeNet | [Appendix A.2](a2_lenet.ipynb) | done |
# | Appendix C | the LaTeX macros | the book's MathJax macros (`_config.yml`) | done |
# | — | speed and memory of `ntlib` against positional PyTorch (not in the paper) | [Appendix A.3](a3_performance.ipynb) | done |
# | — | exercises, checked by the computer (not in the paper) | the end of every chapter | done |

# %% [markdown]
# ## Exercises
#
# Every chapter ends with exercises, and every exercise is checked by the
# computer. An exercise gives you a code cell with a *stub*: a function whose body
# is `...` (or, for questions with a single answer, a value `...`). Replace the
# `...` with your code and run the cell. The last line,
# `nt.exercises.report(id, answer)`, hands your answer to the checker, which runs
# it next to a reference answer on several inputs of its own choosing: the sizes
# of the prompt, but also other sizes, axes stored in another order, and an extra
# axis that a named formula should lift over. It prints either `correct` or
# `not yet:` followed by the first case that failed and what went wrong there
# (axes missing or unexpected, or the first entry that differs). A function that
# only works for the example in the prompt does not pass.
#
# Below each stub is a collapsed cell with the reference solution and the
# checker's verdict on it; open it when you are done, or stuck. The functions
# behind the checker are `nt.exercises.check(id, answer)`, which raises an
# `ExerciseError` for a wrong answer (useful in your own tests), and
# `nt.exercises.solution(id)`, which returns the reference answer.

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
display(nt.source(nt.exercises.solution("0.1")))
assert nt.exercises.check("0.1", nt.exercises.solution("0.1"))

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
answer = ...  # your choice

nt.exercises.report("0.2", answer)

# %% tags=["hide-cell"]
display(nt.source(nt.exercises.solution("0.2")))
assert nt.exercises.check("0.2", nt.exercises.solution("0.2"))
