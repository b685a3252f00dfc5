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
# with every macro used in the paper: {download}`preamble.tex <latex/preamble.tex>`.
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

ROOT = Path(nt.__file__).resolve().parent.parent
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
# ## Writing your own
#
# A new axis name needs one line, `\ndef{\time}{time}`; a new operator with
# axes underneath is `\nbin` (binary) or `\nfun` (a function), as in
# `\nfun{\ax}{argmax} X` for $\nfun{\ax}{argmax} X$ or
# `X \nbin{\seq}{\oplus} Y` for $X \nbin{\seq}{\oplus} Y$. Renaming and
# indexing need no macro: `X_{\seq \to \seq'}` gives $X_{\seq \to \seq'}$ and
# `A_{\height(1), \width(3)}` gives $A_{\height(1), \width(3)}$.
