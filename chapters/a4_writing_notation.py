# %% [markdown]
# # Appendix C: writing named tensor notation
#
# The paper's Appendix C describes the LaTeX macros its authors wrote for the
# notation {cite}`chiang+:2023`. They are in a small style file,
# `namedtensor.sty`, on CTAN as the package
# [namedtensor](https://ctan.org/pkg/namedtensor) (MIT licence). This page shows
# each macro with what it prints, as this book renders it, and the further
# macros the paper's own source defines, so that the notation can be written in
# any paper. A copy of the style file, version 0.4 as in the paper's
# repository, is part of this book's repository:
# {download}`namedtensor.sty <latex/namedtensor.sty>` (with its
# {download}`licence <latex/LICENSE-namedtensor.txt>`), and so is a preamble
# with the paper's notation macros: {download}`preamble.tex <latex/preamble.tex>`
# (five typesetting helpers of the paper's source are left out; they are listed
# at the end of the next section).
#
# ## The style file
#
# Load it in the preamble, after `\documentclass{...}` and before
# `\begin{document}`:
#
# ```latex
# \usepackage{namedtensor}
# ```
#
# Axis names are set in sans-serif. `\name{ax}` prints one, and
# `\ndef{\ax}{ax}` defines a macro `\ax` that prints it; the paper defines one
# such macro per axis name it uses. Operators carry their axes underneath;
# `\\` stacks several.
#
# | you write | you get |
# |---|---|
# | `\name{height}` | $\name{height}$ |
# | `\ndef{\height}{height}`, then `A \in \reals^{\height \times \width}` | $A \in \reals^{\height \times \width}$ |
# | `A \ndot{\key} B` (contraction) | $A \ndot{\key} B$ |
# | `A \ndot{\height \\ \width} B` (over two axes) | $A \ndot{\height \\ \width} B$ |
# | `A \ncat{\seq} B` (concatenation) | $A \ncat{\seq} B$ |
# | `A \nbin{\ax}{\star} B` (any binary operator) | $A \nbin{\ax}{\star} B$ |
# | `\nsum{\batch} A` (sum) | $\nsum{\batch} A$ |
# | `\nfun{\seq}{softmax} A` (any function along an axis) | $\nfun{\seq}{softmax} A$ |
#
# Put together, the paper's definition of attention (its §1):
#
# ```latex
# \text{Attention}(Q,K,V) = \left( \nfun{\seq}{softmax}
#   \frac{Q \ndot{\key} K}{\sqrt{|\key|}} \right) \ndot{\seq} V
# ```
#
# <!-- ntn: definition; Attention=nt.attention; Q[key]; K[seq,key]; V[seq,val] -->
# $$
# \text{Attention}(Q,K,V) = \left( \nfun{\seq}{softmax}
#   \frac{Q \ndot{\key} K}{\sqrt{|\key|}} \right) \ndot{\seq} V
# $$
#
# ## The paper's own macros
#
# The paper's source defines a few more macros on top of the style file
# (they are collected in `preamble.tex` above):
#
# | macro | you write | you get |
# |---|---|---|
# | `\softmax` (an operator with limits) | `\softmax_i X_i` | $\softmax_i X_i$ |
# | `\reals` | `\reals^{\seq \times \key}` | $\reals^{\seq \times \key}$ |
# | `\rec`, `\shp`, `\ind` | `s \in \rec \shp X` | $s \in \rec \shp X$ |
# | `\restrict` | `\restrict{s}{\mathcal{T}}` | $\restrict{s}{\mathcal{T}}$ |
# | `\inax` (the star of §5) | `X\inax`, `\ax\inax` | $X\inax$, $\ax\inax$ |
# | `\ddx` (a derivative) | `\ddx{f(X)}` | $\ddx{f(X)}$ |
#
# The paper also defines `\nmatrix{row axis}{column axis}{entries}`, which
# sets a matrix with its axis names beside and above it:
#
# ```latex
# \nmatrix{\height}{\width}{3 & 1 & 4 \\ 1 & 5 & 9 \\ 2 & 6 & 5}
# ```
#
# This book's web pages use a variant for MathJax with the same purpose that
# takes the bare names, `\nmatrix{height}{width}{...}`:
#
# <!-- ntn: example; A=running() -->
# $$
# A = \nmatrix{height}{width}{3 & 1 & 4 \\ 1 & 5 & 9 \\ 2 & 6 & 5}
# $$
#
# Five more macros of the paper's source are not in `preamble.tex` and have no
# counterpart in this book, because they are layout helpers or abbreviations
# used in one derivation rather than notation:
#
# - `\eqby{label}` (the paper's `defs.tex`) puts the number of the equation
#   that justifies a step above its equals sign, as in §5's derivations;
# - `\firsteq{...}` (also `defs.tex`) sets the first line of a long
#   derivation in a box of fixed width and breaks the line after it (the
#   paper's web version, `web.tex`, makes it do nothing);
# - `\smseq{X}` for $\nfun{\seq}{softmax} X$, `\qk` for $Q \ndot{\key} K$
#   and `\attwt` for $\alpha$, the attention weights, are defined in
#   `calculus.tex` for §5.5's derivative of attention alone.
#
# ## The book's macros agree with the paper's
#
# The web pages of this book render the notation with MathJax, using macro
# definitions in the book's configuration (`_config.yml`). The cell below
# reads the style file and the preamble and checks, macro by macro, that the
# book defines each one to print the same thing, once the LaTeX-only wrappers
# are expanded (`\namedtensorstrut` is `\vphantom{fg}`; `\ensuremath` and
# `\mathopen{}` do nothing in MathJax; `\DeclareMathOperator` is
# `\operatorname`; `\ndot` and `\ncat` are written out through `\nbin`) and
# spaces ignored. The only deliberate difference is `\nmatrix`.

# %% tags=["hide-input"]
import re
from pathlib import Path

import yaml

import ntlib as nt

# the repository beside ntlib, or the copy an installed package carries
ROOT = Path(nt.__file__).resolve().parent.parent
if not (ROOT / "_config.yml").is_file():
    ROOT = Path(nt.__file__).resolve().parent / "_book"
config = yaml.safe_load((ROOT / "_config.yml").read_text())
book = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]


def braced(text, start):
    """The text inside the braces that open at text[start], and the end."""
    depth = 0
    for k in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return text[start + 1:k], k + 1
    raise ValueError(text[start:start + 40])


def latex_macros(text):
    """{name: (body, number of arguments)} from LaTeX definitions."""
    text = re.sub(r"(?<!\\)%.*", "", text)
    out = {}
    for m in re.finditer(r"\\newcommand\{\\(\w+)\}(?:\[(\d)\])?", text):
        body, _ = braced(text, m.end())
        out[m.group(1)] = (body, int(m.group(2) or 0))
    for m in re.finditer(r"\\DeclareMathOperator(\*?)\{\\(\w+)\}", text):
        body, _ = braced(text, m.end())
        out[m.group(2)] = (f"\\operatorname{m.group(1)}{{{body}}}", 0)
    for m in re.finditer(r"\\ndef\{\\(\w+)\}\{(\w+)\}", text):
        out[m.group(1)] = (f"\\name{{{m.group(2)}}}", 0)
    return out


def expand(body, macros):
    """Expand uses of the file's own macros with arguments (one level)."""
    for name, (inner, n) in macros.items():
        k = body.find("\\" + name + "{")
        while n and k >= 0:
            args, end = [], k + len(name) + 1
            for _ in range(n):
                arg, end = braced(body, end)
                args.append(arg)
            text = inner
            for j, arg in enumerate(args, 1):
                text = text.replace(f"#{j}", arg)
            body = body[:k] + text + body[end:]
            k = body.find("\\" + name + "{")
    return body


def normal(body):
    """A body with the LaTeX-only wrappers expanded (see the text above)."""
    body = body.replace("\\namedtensorstrut", "\\vphantom{fg}")
    body = body.replace("\\mathopen{}", "").replace("\\inax", "^*")
    body = re.sub(r"\\ensuremath\{(.*)\}$", r"\1", body)
    return re.sub(r"\s+", "", body)


def book_macro(name):
    entry = book.get(name)
    if entry is None:
        return None
    return (entry[0], entry[1]) if isinstance(entry, list) else (entry, 0)


sty = latex_macros((ROOT / "chapters/latex/namedtensor.sty").read_text())
pre = latex_macros((ROOT / "chapters/latex/preamble.tex").read_text())
differ = []
for source, macros in (("namedtensor.sty", sty), ("preamble.tex", pre)):
    same = []
    for name, (body, n) in macros.items():
        if name in ("namedtensorstrut", "ndef"):  # LaTeX-only helpers
            continue
        ours = book_macro(name)
        body = expand(body, macros)
        if ours is not None and \
                (normal(ours[0]), ours[1]) == (normal(body), n):
            same.append(name)
        else:
            differ.append(name)
    print(f"{source}: {len(same)} macros print the same in this book")
print("different:", differ)
assert differ == ["nmatrix"]

# %% [markdown]
# ## Which formulas run
#
# The book's formulas are not only typeset: the test suite reads them with
# `ntlib.notation` and evaluates them. To know what a formula should equal, each
# display formula that computes something carries a *mark*, an HTML comment on
# the line directly above it. Jupyter, the HTML book and the PDF all drop HTML
# comments, so the mark never shows; it lives in the chapter's text source:
#
# ```text
# <!-- ntn: definition; Attention=nt.attention; Q[key]; K[seq,key]; V[seq,val] -->
# $$
# \text{Attention}(Q, K, V) = \left(\nfun{\seq}{softmax}
#   \frac{Q \ndot{\key} K}{\sqrt{|\key|}}\right) \ndot{\seq} V
# $$
# ```
#
# The first word says what the formula is:
#
# | kind | what it is | what the test checks |
# |---|---|---|
# | `definition` | defines a function the book implements | every side equals every other, with the function's name bound to its code |
# | `identity` | a law that holds for all data | every side equals every other, on random data |
# | `condition` | a condition on the data | it holds on data built to satisfy it |
# | `example` | a worked example on the book's numbers | it holds on those numbers (`\nmatrix` literals are read as data) |
# | `misprint` | a formula quoted as the paper prints it | it does *not* hold: its sides differ, or it names an axis that is not there |
# | `excluded` | a formula that computes but that the notation does not read | nothing; it is listed in the table below with the reason |
#
# The items after it, separated by `;`, say what the formula is bound to:
#
# - `X[height,width]`: the variable written $X$ is random data with these axes
#   (sizes from a table, unequal so that a mixed-up axis shows; `@seq=7` sets
#   one);
# - `Attention=nt.attention`, `I=onehot("vocab", "seq")`, `A=running()`: a
#   variable or a function, as written in the formula, bound to a Python value
#   (`V["Q"]` is what is bound so far; `P` and `N` turn named tensors into
#   positional ones and back, for references in plain torch);
# - `expect=...`: the value that the formula's last line must have, for an
#   expression or for a definition whose code is elsewhere (an exercise's
#   reference, a model);
# - `~TEXT=REPLACEMENT`: text replaced before reading, to instantiate a general
#   shape ($\mathcal{S}$ as $\height$) or to read what the notation does not
#   (a derivative written with $\partial$, a function subscripted with numbers
#   such as $\operatorname{MaxPool2d}_{kh,kw}$). A function of axes needs none:
#   $\operatorname{unroll}_{\seq,\kernel} X$ calls the bound `unroll` as
#   `unroll(X, "seq", "kernel")`, so the axes the formula writes are the axes
#   the code gets.
#
# A display is read line by line (the rows of `aligned`, and the clauses
# separated by `\qquad`): $Y = \ldots$ binds $Y$ for the lines after it,
# $X \in \reals^{\height \times \width}$ checks the axes of $X$, and an equation
# with several sides checks that they agree. Each formula is evaluated in three
# storage orders of its random data (as given, reversed, rotated), and compared by
# name with `ntlib.testing.assert_close`. A failure names the chapter and line.
# A test also refuses a display written with `\ndot`, `\nsum`, `\nfun`, `\nbin`
# or `\ncat` that has no mark, so a new formula cannot slip in unchecked; and the
# preface's count of the formulas that run is compared with the marks.
#
# The preface's count is over the marked formulas: every display formula that
# computes, and the inline formulas that the text works with as expressions of
# their own (a fragment such as $\ndot{\seq}$ in a sentence is not counted). A
# mark above a paragraph carries `at=k` to name its k-th inline formula. These
# formulas compute but are not run; each is checked in its chapter by other
# means:
#
# | id | where | formula | why it is left out |
# |---|---|---|---|
# | `lift-unary` | [Ch. 3](03_operations.ipynb) | $\left[f^{\mathcal{S}'}(X)\right]_{s'} = f(X_{s'})$ | lifting written with records: one call of $f$ per record (run literally by `nt.lift`) |
# | `lift-binary` | [Ch. 3](03_operations.ipynb) | $\left[f(X, Y)\right]_{r} = f(X_{\restrict{r}{\mathcal{S}'}}, Y_{\restrict{r}{\mathcal{T}'}})$ | the same, each argument's record restricted |
# | `first-order-approx` | [Ch. 5](05_calculus.ipynb) | $f(X + H) \approx \ldots$ | an approximation, with the derivative as an operator on $f$ (finite differences) |
# | `derivative-definition` | [Ch. 5](05_calculus.ipynb) | $f(A + H) = f(A) + D(A) \ndot{\mathcal{S}^*} H^* + R(A, H)$ | the definition of the derivative: $R$ is whatever remains |
# | `index-vs-named` | [Ch. 6](06_alternatives.ipynb) | $C = \max_i A_i$ vs. $C = \nfun{\ax}{max} A$ | index notation set beside the named form |
# | `beam-step-tuple` | [Ch. 7](07_more_examples.ipynb) | $\nfun{(\beam,\state),\beam}{maxk}$ | $k$-best over a pair of axes written as a tuple (`nt.examples.beam_search` against brute force) |
# | `belief-propagation` | [Ch. 7](07_more_examples.ipynb) | $m_{f \to v} = \phi_f \ndot{\mathcal{V}_f \setminus \{v\}} \bigodot_{u} m_{u \to f}$ | products over the sets of a factor graph (brute force checks it) |

# %% [markdown]
# ## Writing your own
#
# A new axis name needs one line, `\ndef{\time}{time}`; a new operator with
# axes underneath is `\nbin` (binary) or `\nfun` (a function), as in
# `\nfun{\ax}{argmax} X` for $\nfun{\ax}{argmax} X$ or
# `X \nbin{\seq}{\oplus} Y` for $X \nbin{\seq}{\oplus} Y$. Renaming and
# indexing need no macro: `X_{\seq \to \seq'}` gives $X_{\seq \to \seq'}$ and
# `A_{\height(1), \width(3)}` gives $A_{\height(1), \width(3)}$.

# %% [markdown]
# ## The notation, executed
#
# The macros above only print. The module `ntlib.notation` also *reads* them:
# `nt.notation.parse` turns a formula written with them into a small tree, and
# `nt.notation.evaluate` computes it on named tensors with `ntlib`'s own
# functions (a softmax in a formula is `nt.softmax`, a contraction
# `nt.contract`). In a notebook, `%load_ext ntlib.notation` adds the cell
# magic `%%ntn` (every chapter's set-up cell has run it, so `%%ntn` works in
# any chapter of this book): each line of such a cell is a formula, the notebook's
# variables are its bindings (`gamma` is read as `\gamma`, `W1` as `W^1`),
# `Y = ...` binds `Y`, and the cell shows the formulas typeset and then the
# value of the last one.

# %%
import torch

A = nt.tensor([[3., 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"))
x = nt.tensor([2., 7, 1], "height")
y = nt.tensor([1., 4, 1], "width")

# %%
# %%ntn
A_{\height(1), \width(3)}

# %% [markdown]
# ### The grammar
#
# What the parser accepts, in EBNF. It is the module's docstring, printed
# here so that the two cannot differ:

# %%
doc = nt.notation.__doc__
print(doc[doc.index("    formula  ="):doc.index("``\\left``")].rstrip())

# %% [markdown]
# ### Every macro, and what it computes
#
# | macro | meaning when evaluated |
# |---|---|
# | `\name{ax}`, `\height`, `\seq`, ... | the axis named *ax* (`\inp` is *input*, `\dd` is *d*); `'` and `\inax` (`^*`) add to the name |
# | `X \ndot{\ax} Y`, `\ndot{\height \\ \width}` | `nt.contract(X, Y, over=...)`; `\ndot{}` and `\odot` multiply entry by entry |
# | `\nsum{\ax} X` | `nt.sum(X, ...)`; `\sum_{\ax}` too |
# | `\nfun{\ax}{f} X` | f along the axes: softmax, argmax, argmin, max, min, mean, var, std, norm, `norm_p`, logsumexp, prod; `\nfun{\ax}{index}(X, i)`; any other `f` (also `\operatorname{f}_{\ax} X`) is the bound function, called `f(X, "ax")` |
# | `\softmax_{\ax} X`, `\max_{\ax} X`, `\text{mean}_{\ax} X` | the same as `\nfun` |
# | `X \nbin{\ax}{\odot} Y`, `X \nbin{\ax}{\oplus} Y` | contraction; concatenation |
# | `X \ncat{\ax} Y` | `nt.cat([X, Y], ax)` |
# | `\restrict{X}{\ax(i)}` | indexing, as `X_{\ax(i)}` |
# | `\exp`, `\log`, `\sigma`, `\tanh`, `\text{relu}`, `\sqrt{}`, `\lvert \rvert` | lifted to every entry (`nt.exp`, ..., `nt.abs`) |
# | `\frac{a}{b}`, `a b`, `a^{p}`, `\lvert\ax\rvert` | division, product, power, the size of an axis |
# | `X_{\ax(i)}`, `X_{\ax \to \ax'}`, `X_{(\height, \width) \to \layer}` | indexing (from 1), renaming, flattening |
# | `\text{Name}(...)`, `\mathrm{Name}(...)` | the function the bindings give the name `Name` |
# | `X_{\ax(i)}` with `i` bound to nothing | an index variable: `i` is every index of $\ax$ at once (rule 5); `\sum_{i}` sums over $\ax$ |
# | `\begin{cases} a & i \le j \\ b & \text{otherwise} \end{cases}` | entry by entry, the first value whose condition holds (`<`, `\le`, `\ne`, `=`, `\wedge`, `\vee`, `\text{odd}`) |
# | `\mathbb{I}[\ldots]` | 1 if the statement holds at every entry, else 0 (rule 6) |
# | `\reals`, `\rec`, `\shp`, `\ind`, `\ddx`, `\nmatrix` | sets, derivatives and layout: printed, not evaluated |
#
# Each of them at work, on the paper's running example $A$ and the vectors
# $x \in \reals^{\height}$, $y \in \reals^{\width}$ of its section 3:

# %%
# %%ntn
\nsum{\height \\ \width} A
A \ndot{\width} y
\nfun{\width}{max} A + x

# %%
# %%ntn
S = \softmax_{\width} A
\restrict{S}{\height(2)} \ndot{\width} y

# %%
# %%ntn
G = A_{\height \to \height'} \ndot{\width} A
\left(\nfun{\height}{argmax} A\right) \ncat{\height} G_{\height' \to \width}

# %%
# %%ntn
\sigma(A - 5) \odot \text{relu}\left(\sqrt{A} - 2\right) + |\width| \log A

# %%
# %%ntn
A_{(\height, \width) \to \layer}
    \nbin{\layer}{\odot} A_{(\width, \height) \to \layer}

# %%
# %%ntn
T_{\height(i), \width(j)} = \begin{cases}
    A_{\height(i), \width(j)} & i \le j \\
    0 & \text{otherwise} \end{cases}
\mathbb{I}[\nsum{\width} T \le \nsum{\width} A]

# %% [markdown]
# ### Rules that running the formulas forces
#
# The paper leaves a few readings to its reader. Executing the formulas needs
# one answer for each; these are the ones the parser takes, each with the
# place in the paper that asks for it.
#
# 1. **A subscript after a function's parentheses applies to the result.**
#    The paper writes $\text{FullConn}(x) = \sigma(W \ndot{\layer} x +
#    b)_{\layer' \to \layer}$ in its section 4 and
#    $\text{MaxPool}^2(T^2)_{(\height, \width, \chans) \to \layer}$ in
#    Appendix A: in both the renaming must act on the output.
# 2. **`\nfun` and `\nsum` reach to the end of the product they start, so a
#    power after the operand applies to the operand.** The paper defines
#    $\nfun{\ax}{var} X = \nfun{\ax}{mean} (X - \nfun{\ax}{mean} X)^2$ and
#    writes $\nfun{\ax}{softmax} \alpha X$ for the softmax of $\alpha X$
#    when it introduces argmax as a limit.
# 3. **Indices are 1-based.** The paper's index sets are
#    $\ind(\ax) = \{1, \ldots, n\}$, and its running example reads
#    $A_{\height(1), \width(3)} = 4$.
# 4. **A name can mean another shape in another place.** The paper's
#    $Q \in \reals^{\key}$ of section 1 gains $\seq'$ in Appendix A (the
#    queries), which chapter 4 of this book calls $\name{query}$;
#    $\layer$ is the model width in the Transformer and the flattened image
#    in LeNet; and $W$ is a weight in section 4 but the embedded input in
#    Appendix A. A formula is read with the bindings of its own cell, so the
#    same letters may be bound to other shapes elsewhere.
# 5. **A letter that nothing binds, written as an index, is an index
#    variable, and it stands for every index at once.** The paper defines
#    tensors entry by entry, $M_{\seq(i), \seq'(j)} = 0$ if $i \le j$ (the
#    causal mask) and $P_{\seq(p), \layer(i)}$ by the parity of $i$ (the
#    positional encoding), and sums over an index, $\nsum{\ax} X =
#    \sum_{i} X_{\ax(i)}$. Read literally, each needs a loop over the
#    entries; executed, $i$ is the named tensor $1, \ldots, |\ax|$ along
#    its axis, so the formula computes every entry together (a condition
#    of `\begin{cases}` is tested entry by entry, and $\sum_i$ sums over
#    the axis $i$ indexes).
# 6. **An indicator of a statement about tensors is one number.** The
#    paper's first version checks a Sudoku grid with
#    $\mathbb{I}[\nsum{\assign} X = 1 \wedge \ldots]$: an equation
#    between tensors holds when it holds at every entry, so the indicator
#    is 1 for a solved grid and 0 otherwise, not a tensor of 0s and 1s.
# 7. **A function of axes that is not built in is the bound function, and
#    the axes are its arguments.** The paper writes
#    $\nfun{\layer}{standardize}(X) \odot \gamma + \beta$ for layer
#    normalization and $\operatorname{unroll}_{\seq,\kernel} X$,
#    $\operatorname{pool}_{\height,\kh}$ for convolution and pooling: the
#    function is called with its arguments and then the axes' names
#    (`standardize(X, "layer")`), and, written with parentheses, takes only
#    them (standardize $X$, then scale, not standardize $X \odot \gamma$).
#
# Each rule, executed (the first two lines of the next cell are the same
# value; so are the last two):

# %%
W = nt.tensor([[1., -2, 0], [3, 1, -1]], ("out", "height"))
b = nt.tensor([0.5, -1], "out")
alpha = 2.0

# %%
# %%ntn quiet
F1 = \sigma(W \ndot{\height} x + b)_{\out \to \height}
F2 = \left(\sigma(W \ndot{\height} x + b)\right)_{\out \to \height}
V1 = \nfun{\width}{var} A
V2 = \nfun{\width}{mean} (A - \nfun{\width}{mean} A)^2

# %%
assert nt.allclose(F1, F2) and nt.allclose(V1, V2)
print("F1 == F2 and V1 == V2")
print(nt.names(F1), nt.names(V1))

# %% [markdown]
# Rules 5 and 6, executed: Chapter 4's causal mask from its entry formula
# (the letters $i$ and $j$ are bound by nothing, so they are index
# variables), compared with `nt.causal_mask`; and the Sudoku check of
# Chapter 7 on a solved 4 × 4 grid and on one with two 1s in a box.

# %%
left, right = nt.notation.sides(
    r"M_{\seq(i), \name{query}(j)} = \begin{cases} 0 & i \le j \\"
    r" -\infty & \text{otherwise} \end{cases}", {"M": nt.causal_mask(4)})
assert nt.allclose(left, right)
nt.show(right, ("seq", "query"))

# %%
check = (r"\mathbb{I}[\nsum{\assign} X = 1 \wedge \nsum{\height \\ \width} Y"
         r" = 1 \wedge \nsum{\height} X = 1 \wedge \nsum{\width} X = 1]")
grid = [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]
for g in (grid, grid[:3] + [[4, 3, 1, 2]]):
    X = nt.examples.sudoku_one_hot(g)
    env = {"X": X, "Y": nt.examples.sudoku_boxes(X)}
    value = nt.notation.evaluate(check, env)
    print(g[3], "->", value)
    assert value == float(nt.examples.sudoku_check(X))

# %% [markdown]
# Rule 7: layer normalization over $\width$ as the paper writes it, with
# `standardize` bound to a Python function that receives the axis by name.

# %%
def standardize(X, *axes):
    """The bound function of \\nfun{...}{standardize}: axes arrive as names."""
    return nt.standardize(X, axes)


gamma = nt.tensor([2., 1, 0.5], "width")
beta = nt.tensor([0., 1, -1], "width")

# %%
# %%ntn quiet
L = \nfun{\width}{standardize}(A) \odot \gamma + \beta

# %%
assert nt.allclose(L, nt.layer_norm(A, gamma, beta, layer="width", chans=None))
nt.show(L, ("height", "width"), decimals=2)

# %%
# %%ntn
\nfun{\width}{softmax} \alpha A = \nfun{\width}{softmax} (\alpha A)

# %% [markdown]
# A formula that the grammar cannot read is refused with `NotationError`
# (a `ValueError`), which names the token and its column; an axis that a
# tensor lacks is an `nt.AxisError`; a variable that nothing binds is an
# `UnboundError` (both a `NotationError` and a `KeyError`):

# %%
import textwrap

for bad in [r"A \ndot{\width}", r"\nsum{\seq} A", r"A \odot B"]:
    try:
        nt.notation.evaluate(bad, {"A": A, "y": y})
    except (nt.notation.NotationError, nt.AxisError) as err:
        print(textwrap.fill(f"{type(err).__name__}: {err}", 78,
                            subsequent_indent="    "))

# %% [markdown]
# The other direction is `nt.notation.latex(fn, *args)`: it runs a function
# made of `ntlib` operations once, records what each operation computes, and
# prints it in the notation, the blocks as their formulas (as
# `with nt.plain():` runs them) and the variables named after the function's
# parameters. Chapter 4 and Appendix A.1 print their blocks this way.

# %%
Q = nt.randn(seed=0, key=4)
K = nt.randn(seed=1, seq=3, key=4)
V = nt.randn(seed=2, seq=3, val=5)
att = nt.notation.latex(nt.attention, Q, K, V)
# TeX reads a line break as a space: the formula wrapped at 60 columns
print(textwrap.fill(att, 60, break_long_words=False))
