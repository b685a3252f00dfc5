r"""The paper's notation, executed: parse a formula, evaluate it on named tensors.

``parse(formula)`` reads a formula written in the paper's LaTeX macros
(``\name``, ``\ndot``, ``\nsum``, ``\nfun``, ``\nbin``, ``\ncat`` and the
per-axis macros such as ``\height``) into a small typed tree of frozen
dataclasses; ``evaluate(formula, env)`` computes it with ntlib's own
functions (``nt.contract``, ``nt.softmax``, ``nt.mean``, ... : there is no
second softmax); ``sides(formula, env)`` gives the value of each side of an
equation; ``latex(fn, *args)`` prints a function built from ntlib operations
back in the notation; ``to_latex(node)`` prints a tree.  In IPython,
``%load_ext ntlib.notation`` registers the ``%%ntn`` cell magic.

Grammar (EBNF; ``{ }`` repetition, ``[ ]`` option, terminals quoted)::

    formula  = expr { ("=" | ":=" | "\coloneqq") expr } ;
    expr     = ["+" | "-"] term { ("+" | "-") term } ;
    term     = unary { mulop unary | unary } ;         (* juxtaposition *)
    mulop    = "\ndot{" axes "}" | "\odot" | "\nbin{" axes "}{" binop "}"
             | "\ncat{" axes "}" | "\cdot" | "\times" | "*" | "/" ;
    unary    = "-" unary | "+" unary
             | "\nfun{" axes "}{" fname "}" ["_" group] operand
             | "\nsum{" axes "}" operand | "\sum_" group operand
             | "\sum_" letter operand              (* an index variable *)
             | named "_" group operand                (* \softmax_{\seq} X *)
             | lifted ( "(" expr ")" { post } | unary )
             | postfix ;
    operand  = term                      (* to the next + - = or bracket *)
             | "(" expr "," expr ")"     (* \nfun{ax}{index}(X, i) *) ;
    postfix  = primary { post } ;
    post     = "_" group                 (* index, rename, flatten; or a name *)
             | "^" group                 (* power; or part of a bound name *)
             | "'" | "|_" group ;        (* prime; restriction *)
    primary  = number | variable | "(" expr ")" | "[" expr "]"
             | "\frac" group group | "\sqrt" group | "|" axis "|"
             | "|" expr "|" | call | "\restrict{" expr "}{" subscript "}"
             | "\begin{cases}" case { "\\" case } "\end{cases}"
             | "\mathbb{I}[" condition "]" ;
    case     = expr "&" ( condition | "\text{otherwise}" ) ;
    condition = conj { "\vee" conj } ;  conj = relation { "\wedge" relation } ;
    relation = expr { relop expr } [ "\text{odd}" | "\text{even}" ] ;
    relop    = "<" | ">" | "\le" | "\ge" | "\ne" | "=" ;
    call     = (fname_text [ "^" group ] [ "_" group ] | macro)
               "(" expr { ("," | ";") expr } ")" ;
    subscript = item { ("," | "\\") item } ;
    item     = axis "(" expr ")"                     (* X_{\height(1)}: 1-based *)
             | axis "\to" axis                       (* renaming *)
             | "(" axis { "," axis } ")" "\to" axis ;  (* flattening *)
    axes     = axis { ("\\" | ",") axis } ;
    axis     = ("\name{" text "}" | axis_macro) { "'" | "^*" | "\inax" } ;
    fname    = "softmax" | "argmax" | "argmin" | "max" | "min" | "mean"
             | "var" | "std" | "sum" | "norm" ["_" p] | "logsumexp" | "index"
             | name ;   (* any other: env[name](args..., *axes) *)
    lifted   = "\exp" | "\log" | "\sigma" | "\tanh" | "\sqrt"
             | "\text{relu}" ... ;

``\left`` and ``\right`` are read as the bracket they qualify; spacing
(``\,``, ``\;``, ``\quad``...) is skipped.

Rules that execution forces (the paper leaves them implicit):

- ``\nfun`` and ``\nsum`` reach to the end of the product they start
  (``\nfun{\ax}{softmax} \alpha X`` is softmax of alpha X), so a power after
  the operand applies to the operand (``\nfun{\ax}{mean} (X - Y)^2``);
- a lifted function or a named function written with parentheses takes only
  them, and a subscript after its parentheses applies to the result
  (``\text{MaxPool}(X)_{...}``, ``\sigma(W \ndot{\layer} x + b)_{\out\to\layer}``);
- indices in subscripts are 1-based, as the paper's ind(ax) = {1, ..., n};
- operators of one level group to the left: ``A / B C`` is (A / B) C;
- a letter that ``env`` does not bind, written as the index of an axis
  (``M_{\seq(i), \seq'(j)}``), is an index variable: it stands for every
  index of that axis at once (the named tensor 1, ..., n along it), so an
  entry formula computes every entry together; ``\begin{cases}`` picks,
  entry by entry, the first value whose condition holds, and ``\sum_{i}``
  sums over the axis that ``i`` indexes;
- a function of axes that is not built in (``\nfun{\layer}{standardize}``,
  ``\operatorname{pool}_{\seq,\kernel}``) is the function ``env`` binds to
  its name, called with its arguments and then the axes' names
  (``pool(X, "seq", "kernel")``); written with parentheses it takes only
  them, as a named function does;
- ``\mathbb{I}[statement]`` is one number: 1 when the statement holds at
  every entry (as an equation between tensors does), else 0.

Environment keys (``env``) are the variables as written, with braces around a
single token dropped and spaces removed: ``"A"``, ``"\\gamma"``, ``"W^Q"``
(for ``W^Q`` and ``W^{Q}``), ``"W^{l,Q}"``, ``"x_1"``, ``"X'"``, ``"X^*"``.
A superscript on a variable is part of its name when ``env`` binds the
decorated name (``X^0``), and a power otherwise (``X^2``).  Functions are
keyed by the name inside ``\text{}``, ``\mathrm{}`` or ``\operatorname{}``
(``"Attention"``, ``"LayerNorm"``; with a superscript, ``"LayerNorm^l"`` is
tried first), or by a macro written with parentheses (``\softmax(X)`` is
``env["\\softmax"]``), and are called with the arguments in order.  ``|ax|`` is the
size of the axis in the named tensors of ``env``, or ``env["|ax|"]``.
In a ``%%ntn`` cell and in ``latex()``, a Python name stands for the LaTeX the
paper would write: ``gamma`` is ``\gamma``, ``W1`` is ``W^1``, ``WQ`` is
``W^Q``, ``W_q`` is ``W_q``, any other longer name ``\mathit{name}``.
``X^*``, unless bound itself, is ``X`` with every axis starred (the paper's
section 5).  A variable that ``env`` does not bind raises ``UnboundError``,
which is both a ``NotationError`` and a ``KeyError``; a malformed formula raises
``NotationError`` naming the token and its (1-based) column; an axis a
tensor lacks raises ``nt.AxisError`` from the ntlib function that needs it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence, cast

import torch

from . import core, nn
from ._internal import AxisError, align, device, is_named, make, merged_sizes

__all__ = ["NotationError", "UnboundError", "parse", "evaluate", "sides", "defines",
           "to_latex", "latex", "trace", "canonical_name", "walk", "run_cell", "MACROS",
           "AXIS_MACROS", "load_ipython_extension",
           # the tree
           "Node", "Num", "Var", "Size", "Neg", "Add", "Mul", "Contract", "Cat", "Pow",
           "Reduce", "IndexFn", "Lift", "Call", "Select", "Rename", "Flatten", "Equation",
           "Compare", "Logic", "Parity", "Cases", "Indicator", "IndexSum", "AxisCall"]


def __dir__() -> list[str]:
    """dir() of the namespace: its own names, not the ones it imports."""
    return sorted(__all__)


# --------------------------------------------------------------------------
# the paper's macros (a copy of _config.yml's sphinx.config.mathjax3_config
# tex.macros, so that the module works installed without the book;
# tests/test_notation.py checks the two are equal)

#: the paper's macros, name -> body or [body, number of arguments] (as in
#: ``_config.yml``)
MACROS: dict[str, Any] = {
    "name": ["\\mathsf{\\vphantom{fg}#1}", 1],
    "nbin": ["\\mathbin{\\underset{\\substack{#1}}{\\vphantom{fg}#2}}", 2],
    "ndot": ["\\mathbin{\\underset{\\substack{#1}}{\\vphantom{fg}\\odot}}", 1],
    "ncat": ["\\mathbin{\\underset{\\substack{#1}}{\\vphantom{fg}\\oplus}}", 1],
    "nsum": ["\\sum\\limits_{\\substack{#1}}", 1],
    "nfun": ["\\mathop{\\underset{\\substack{#1}}{\\vphantom{fg}\\mathrm{#2}}}", 2],
    "softmax": "\\operatorname*{softmax}",
    "ind": "\\operatorname{ind}",
    "rec": "\\operatorname{rec}",
    "shp": "\\operatorname{shp}",
    "reals": "\\mathbb{R}",
    "restrict": ["\\left.#1\\right|_{#2}", 2],
    "inax": "^*",
    "ddx": ["\\frac{\\partial #1}{\\partial X^*}", 1],
    "ax": "\\name{ax}", "dd": "\\name{d}", "layer": "\\name{layer}",
    "seq": "\\name{seq}", "subseq": "\\name{subseq}", "key": "\\name{key}",
    "val": "\\name{val}", "heads": "\\name{heads}", "batch": "\\name{batch}",
    "inp": "\\name{input}", "hidden": "\\name{hidden}", "out": "\\name{out}",
    "height": "\\name{height}", "width": "\\name{width}", "chans": "\\name{chans}",
    "kernel": "\\name{kernel}", "kh": "\\name{kh}", "kw": "\\name{kw}",
    "vocab": "\\name{vocab}", "classes": "\\name{classes}", "state": "\\name{state}",
    "emb": "\\name{emb}",
    "vdotswithin": ["\\mathrel{\\vdots}", 1],
    "nmatrix": ["\\begin{array}{@{}r@{\\,}c@{}}& \\name{#2}\\\\ \\name{#1} & "
                "\\begin{bmatrix}#3\\end{bmatrix}\\end{array}", 3],
    "query": "\\name{query}", "time": "\\name{time}", "assign": "\\name{assign}",
    "beam": "\\name{beam}", "clusters": "\\name{clusters}", "ph": "\\name{ph}",
    "pw": "\\name{pw}",
}

#: axis macro -> axis name (``\inp`` is ``input``, ``\dd`` is ``d``)
AXIS_MACROS: dict[str, str] = {
    k: v[len("\\name{"):-1] for k, v in MACROS.items()
    if isinstance(v, str) and v.startswith("\\name{") and v.endswith("}")}
_MACRO_OF_AXIS = {v: k for k, v in AXIS_MACROS.items()}


class NotationError(ValueError):
    """A formula that the notation cannot read, naming the token and its column.

    ``.token`` is the offending token's text, ``.column`` its 1-based column.

    Example:

    >>> nt.notation.parse(r"A + * B")
    Traceback (most recent call last):
        ...
    ntlib.notation.NotationError: unexpected '*' at column 5 ...
    """

    def __init__(self, message: str, token: str = "", column: int = 0) -> None:
        super().__init__(message)
        self.token, self.column = token, column


class UnboundError(NotationError, KeyError):
    """A variable or function the environment does not bind (also a KeyError)."""

    def __init__(self, message: str, token: str = "", column: int = 0) -> None:
        NotationError.__init__(self, message, token, column)

    def __str__(self) -> str:
        return str(self.args[0])


# --------------------------------------------------------------------------
# the tree

@dataclass(frozen=True)
class Node:
    """A node of the expression tree."""


@dataclass(frozen=True)
class Num(Node):
    value: float


@dataclass(frozen=True)
class Var(Node):
    name: str            # the env key
    column: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Size(Node):
    axis: str


@dataclass(frozen=True)
class Neg(Node):
    x: Node


@dataclass(frozen=True)
class Add(Node):
    op: str              # "+" or "-"
    left: Node
    right: Node


@dataclass(frozen=True)
class Mul(Node):
    op: str              # "*" (juxtaposition, \cdot, \times, \odot) or "/"
    left: Node
    right: Node
    written: str = dataclasses.field(default="", compare=False)


@dataclass(frozen=True)
class Contract(Node):
    axes: tuple[str, ...]
    left: Node
    right: Node
    written_out: bool = dataclasses.field(default=False, repr=False)


@dataclass(frozen=True)
class Cat(Node):
    axis: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Pow(Node):
    base: Node
    exp: Node | None     # None: the superscript is no expression (only a name)
    raw: str             # the superscript as written, canonical


@dataclass(frozen=True)
class Reduce(Node):
    """\\nfun{axes}{fn} x (also \\nsum: fn = "sum")."""
    fn: str
    axes: tuple[str, ...]
    x: Node
    p: float | None = None


@dataclass(frozen=True)
class IndexFn(Node):
    """\\nfun{ax}{index}(x, i): 1-based."""
    axis: str
    x: Node
    i: Node


@dataclass(frozen=True)
class Lift(Node):
    fn: str              # exp log sigma tanh relu sqrt abs
    x: Node
    parens: bool = False


@dataclass(frozen=True)
class Call(Node):
    name: str            # env key of the function (decorated, e.g. "LayerNorm^l")
    args: tuple[Node, ...]
    plain: str = ""      # the undecorated name, tried second
    column: int = dataclasses.field(default=0, compare=False, repr=False)
    mul: bool = False    # a one-letter name: a product when env binds no function


@dataclass(frozen=True)
class Select(Node):
    x: Node
    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class Rename(Node):
    x: Node
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Flatten(Node):
    x: Node
    axes: tuple[str, ...]
    new: str


@dataclass(frozen=True)
class Equation(Node):
    sides: tuple[Node, ...]


@dataclass(frozen=True)
class AxisCall(Node):
    """A function of axes that the bindings give, not one of the built-in
    reductions: ``\\nfun{\\ax}{f} X`` or ``\\operatorname{f}_{\\ax} X`` calls
    ``env["f"](X, "ax")``, the arguments first, then the axes' names."""
    name: str
    axes: tuple[str, ...]
    args: tuple[Node, ...]
    column: int = dataclasses.field(default=0, compare=False, repr=False)
    parens: bool = False     # written f(X): the parentheses are its arguments


@dataclass(frozen=True)
class Compare(Node):
    """A chain of comparisons, ``a < b \\le c``: true where every link holds."""
    ops: tuple[str, ...]          # "<", "<=", ">", ">=", "=", "!="
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Logic(Node):
    """``a \\wedge b`` (op "and") or ``a \\vee b`` (op "or")."""
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Parity(Node):
    """``i \\text{ odd}`` / ``i \\text{ even}``: a condition on an integer."""
    x: Node
    odd: bool


@dataclass(frozen=True)
class Cases(Node):
    """``\\begin{cases} a & c_1 \\\\ b & \\text{otherwise} \\end{cases}``:
    entry by entry, the value of the first branch whose condition holds
    (condition None: otherwise)."""
    branches: tuple[tuple[Node, Node | None], ...]


@dataclass(frozen=True)
class Indicator(Node):
    """``\\mathbb{I}[c]``: 1 if the statement c holds at every entry, else 0."""
    cond: Node


@dataclass(frozen=True)
class IndexSum(Node):
    """``\\sum_{i} x``: the sum over the axis that the index variable i ranges over."""
    var: str
    x: Node


# --------------------------------------------------------------------------
# tokens

class _Tok(NamedTuple):
    kind: str            # cmd num letter sym eof
    text: str
    col: int             # 1-based


_SKIP = {"\\,", "\\;", "\\:", "\\!", "\\ ", "\\quad", "\\qquad", "\\displaystyle",
         "\\limits", "\\nolimits", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl",
         "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr", "\\middle", "&"}


_ALL = re.compile(r"[\s~]+|\\(?:begin|end)\{cases\}|\\[A-Za-z]+\*?|\\.|"
                  r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+|[A-Za-z]|\S", re.S)
_DELIMS = {"\\{": "{", "\\}": "}", "\\|": "|", "\\vert": "|", "\\lvert": "|",
           "\\rvert": "|", "\\langle": "(", "\\rangle": ")", "\\lbrack": "[",
           "\\rbrack": "]"}


def _tokens(s: str) -> list[_Tok]:
    out: list[_Tok] = []
    n = len(s)
    pending = ""          # \left or \right waiting for its delimiter
    pcol = 0
    cases = 0             # inside \begin{cases}: & separates value and condition
    for m in _ALL.finditer(s):
        t = m.group()
        c = t[0]
        if c.isspace() or c == "~":
            continue
        col = m.start() + 1
        if pending:
            # \left( -> (, \left. -> nothing, \right| -> |
            d = _DELIMS.get(t, t)
            if d != ".":
                if d not in ("(", ")", "[", "]", "|"):
                    raise NotationError(f"{pending}{t}: unknown delimiter at column {pcol}",
                                        pending + t, pcol)
                out.append(_Tok("sym", d, pcol))
            pending = ""
            continue
        if t == "&" and cases:
            out.append(_Tok("sym", "&", m.start() + 1))
            continue
        if t in _SKIP:
            continue
        if t in ("\\begin{cases}", "\\end{cases}"):
            cases += 1 if t[1] == "b" else -1
            out.append(_Tok("cmd", t, m.start() + 1))
            continue
        if c == "\\":
            kind = "cmd"
            if t == "\\left" or t == "\\right":
                pending, pcol = t, col
                continue
        elif c in "0123456789.":
            kind = "num" if t != "." else "sym"
        elif c.isalpha() and c.isascii():
            kind = "letter"
        else:
            kind = "sym"
        if kind != "cmd":
            out.append(_Tok(kind, t, col))
            continue
        if t in ("\\lvert", "\\rvert", "\\vert", "\\mid"):
            out.append(_Tok("sym", "|", col))
            continue
        if t in ("\\colon", ):
            out.append(_Tok("sym", ":", col))
            continue
        if t == "\\prime":
            out.append(_Tok("sym", "'", col))
            continue
        if t == "\\inax":
            out.append(_Tok("sym", "^", col))
            out.append(_Tok("sym", "*", col))
            continue
        if t == "\\ast":
            out.append(_Tok("sym", "*", col))
            continue
        if t in ("\\{", "\\}"):
            out.append(_Tok("sym", "(" if t == "\\{" else ")", col))
            continue
        out.append(_Tok(kind, t, col))
    if pending:
        raise NotationError(f"{pending} without a delimiter at column {pcol}", pending, pcol)
    out.append(_Tok("eof", "end of formula", n + 1))
    return out


# --------------------------------------------------------------------------
# the parser

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta",
          "theta", "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho",
          "varrho", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
          "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi",
          "Psi", "Omega", "ell", "sigma", "pi"}
_FONTS = {"\\mathbf", "\\boldsymbol", "\\bm", "\\mathcal", "\\mathbb", "\\mathit",
          "\\tilde", "\\hat", "\\bar", "\\vec", "\\widetilde", "\\widehat",
          "\\overline", "\\dot", "\\mathfrak", "\\mathscr"}
_TEXT = {"\\text", "\\mathrm", "\\operatorname", "\\operatorname*", "\\textrm",
         "\\mathsf", "\\textsf", "\\texttt", "\\mathtt"}
#: lifted scalar functions and the ntlib function each is
_LIFTED = {"exp": "exp", "log": "log", "ln": "log", "sigma": "sigma", "sigmoid": "sigma",
           "tanh": "tanh", "relu": "relu", "ReLU": "relu", "sqrt": "sqrt", "abs": "abs",
           "sin": "sin", "cos": "cos"}
_LIFTED_CMDS = {"\\exp": "exp", "\\log": "log", "\\ln": "log", "\\tanh": "tanh",
                "\\sin": "sin", "\\cos": "cos", "\\sigma": "sigma"}
#: functions of axes (\nfun{ax}{f})
_NFUNS = {"softmax", "argmax", "argmin", "max", "min", "mean", "var", "std", "sum",
          "norm", "logsumexp", "log_softmax", "logsoftmax", "prod", "index"}
_ONE_AXIS = {"softmax", "argmax", "argmin", "log_softmax", "logsoftmax", "index"}
_EQ = {"=", "\\coloneqq", "\\eqqcolon"}
_MULOPS = {"\\ndot", "\\odot", "\\nbin", "\\ncat", "\\cdot", "\\times", "*", "/",
           "\\oplus"}
_STOP = {"eof"}
#: comparisons (in a condition: cases, an indicator) and what each tests
_RELOPS = {"<": "<", "\\lt": "<", ">": ">", "\\gt": ">", "\\le": "<=", "\\leq": "<=",
           "\\leqslant": "<=", "\\ge": ">=", "\\geq": ">=", "\\geqslant": ">=",
           "\\ne": "!=", "\\neq": "!=", "=": "="}
_LOGIC = {"\\wedge": "and", "\\land": "and", "\\vee": "or", "\\lor": "or"}
#: words of a condition written in text: i \text{ odd}, \text{otherwise}
_COND_WORDS = {"odd", "even", "otherwise", "else", "if"}


def _canon_group(text: str) -> str:
    text = re.sub(r"\s+", "", text)
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}" and _balanced(text[1:-1]):
        text = text[1:-1]
    toks = _tokens(text)
    if len(toks) == 2 and (len(text) == 1 or toks[0].kind == "cmd"):   # one token
        return text
    return "{" + text + "}"


def _balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = _tokens(src)
        self.i = 0
        self.bars = 0           # inside | ... |: a bar closes, it does not open
        self.in_cond = 0        # inside a condition: brackets may hold conditions

    # token helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def error(self, msg: str, tok: _Tok | None = None) -> NotationError:
        tok = tok or self.tok
        return NotationError(f"{msg} at column {tok.col}: '{tok.text}' in "
                             f"'{self.src}'", tok.text, tok.col)

    def unexpected(self, tok: _Tok | None = None, hint: str = "") -> NotationError:
        tok = tok or self.tok
        return NotationError(f"unexpected '{tok.text}' at column {tok.col}"
                             f"{': ' + hint if hint else ''} in '{self.src}'",
                             tok.text, tok.col)

    def expect(self, text: str) -> _Tok:
        if self.tok.text != text:
            raise self.unexpected(hint=f"expected '{text}'")
        return self.next()

    def group_text(self) -> str:
        """The raw source of a {group} or one token (for names and sizes)."""
        t = self.tok
        if t.text == "{":
            start = self.i
            depth = 0
            while True:
                t2 = self.next()
                if t2.kind == "eof":
                    raise self.error("unclosed '{'", self.toks[start])
                depth += {"{": 1, "}": -1}.get(t2.text, 0)
                if depth == 0:
                    break
            end_col = self.toks[self.i - 1].col
            return self.src[t.col - 1:end_col]
        if t.kind == "eof" or t.text in ("}", ")", "]"):
            raise self.unexpected(hint="expected a group")
        self.next()
        if t.kind == "num" and len(t.text) > 1:
            # X^12 is X^{1}2 in TeX; read it as X^{12} is unlikely to be meant
            return t.text
        return t.text

    # grammar
    def formula(self) -> Node:
        sides = [self.expr()]
        while self.tok.text in _EQ or (self.tok.text == ":" and self.peek().text == "="):
            if self.next().text == ":":
                self.next()
            sides.append(self.expr())
        if self.tok.kind != "eof":
            raise self.unexpected()
        return sides[0] if len(sides) == 1 else Equation(tuple(sides))

    def expr(self) -> Node:
        if self.tok.text in ("+", "-"):
            sign = self.next().text
            x = self.term()
            node: Node = Neg(x) if sign == "-" else x
        else:
            node = self.term()
        while self.tok.text in ("+", "-"):
            op = self.next().text
            node = Add(op, node, self.term())
        return node

    def starts_primary(self) -> bool:
        t = self.tok
        if t.kind in ("letter", "num"):
            return True
        if t.kind == "cmd":
            if t.text in _TEXT and self.text_word() in _COND_WORDS:
                return False     # i \text{ odd}: the end of an operand
            return t.text not in _MULOPS and t.text not in _EQ and t.text not in (
                "\\to", "\\rightarrow", "\\\\", "\\in", "\\mapsto", "\\end{cases}") \
                and t.text not in _RELOPS and t.text not in _LOGIC
        if t.text == "|":
            return self.bars == 0
        return t.text in ("(", "[")

    def term(self) -> Node:
        node = self.unary()
        while True:
            t = self.tok
            if t.text in _MULOPS:
                self.next()
                if t.text == "\\ndot":
                    axes = self.axes_group()
                    node = Contract(axes, node, self.unary()) if axes else \
                        Mul("*", node, self.unary(), "\\odot")
                elif t.text == "\\ncat":
                    axes = self.axes_group()
                    if len(axes) != 1:
                        raise self.error("\\ncat takes one axis", t)
                    node = Cat(axes[0], node, self.unary())
                elif t.text == "\\nbin":
                    axes = self.axes_group()
                    opt = self.tok
                    op = self.group_text().strip("{} ")
                    if op in ("\\odot", "\\cdot"):
                        node = Contract(axes, node, self.unary()) if axes else \
                            Mul("*", node, self.unary(), "\\odot")
                    elif op == "\\oplus" and len(axes) == 1:
                        node = Cat(axes[0], node, self.unary())
                    else:
                        raise self.error(f"\\nbin with operator {op!r} is not supported",
                                         opt)
                elif t.text == "/":
                    node = Mul("/", node, self.unary(), "/")
                elif t.text == "\\oplus":
                    raise self.error("\\oplus needs an axis: write \\ncat{ax}", t)
                else:
                    node = Mul("*", node, self.unary(), t.text)
            elif self.starts_primary():
                node = Mul("*", node, self.unary(), " ")
            else:
                return node

    # conditions (inside cases and an indicator)
    def text_word(self, k: int = 0) -> str:
        """The word of a \\text{...} at the cursor (+k), lower case, without
        spaces and punctuation ('' if there is none)."""
        if self.peek(k + 1).text != "{":
            return ""
        word, j = "", k + 2
        while self.peek(j).text != "}" and self.peek(j).kind != "eof":
            word += self.peek(j).text
            j += 1
        return word.strip(" ,.;:").lower()

    def skip_text(self) -> None:
        self.next()
        self.group_text()

    def condition(self) -> Node:
        """condition = conj { "\\vee" conj } ; conj = relation { "\\wedge" relation }
        (and binds tighter than or)."""
        self.in_cond += 1
        try:
            node = self.conjunction()
            while _LOGIC.get(self.tok.text) == "or":
                self.next()
                node = Logic("or", node, self.conjunction())
        finally:
            self.in_cond -= 1
        return node

    def conjunction(self) -> Node:
        node = self.relation()
        while _LOGIC.get(self.tok.text) == "and":
            self.next()
            node = Logic("and", node, self.relation())
        return node

    def relation(self) -> Node:
        """relation = expr { relop expr } [ \\text{odd} | \\text{even} ]"""
        operands = [self.expr()]
        ops: list[str] = []
        while self.tok.text in _RELOPS:
            ops.append(_RELOPS[self.next().text])
            operands.append(self.expr())
        node: Node = Compare(tuple(ops), tuple(operands)) if ops else operands[0]
        if self.tok.text in _TEXT and self.text_word() in ("odd", "even"):
            odd = self.text_word() == "odd"
            self.skip_text()
            node = Parity(node, odd)
        return node

    def cases(self) -> Node:
        """\\begin{cases} value & condition \\\\ ... \\end{cases}; the last
        condition may be \\text{otherwise}."""
        start = self.next()
        branches: list[tuple[Node, Node | None]] = []
        while True:
            value = self.expr()
            self.expect("&")
            cond: Node | None
            if self.tok.text in ("\\text", "\\mathrm", "\\textrm") and \
                    self.text_word() in ("otherwise", "else"):
                self.skip_text()
                cond = None
            else:
                if self.tok.text in _TEXT and self.text_word() == "if":
                    self.skip_text()
                cond = self.condition()
            branches.append((value, cond))
            while self.tok.text in (",", ".", ";"):
                self.next()
            if self.tok.text == "\\\\":
                self.next()
                if self.tok.text != "\\end{cases}":
                    if cond is None:
                        raise self.error("'otherwise' must be the last case")
                    continue
            self.expect("\\end{cases}")
            if not branches:
                raise self.error("empty cases", start)
            return Cases(tuple(branches))

    # axes
    def axis(self) -> str:
        t = self.tok
        if t.text == "\\name":
            self.next()
            name = self.group_text()
            name = name[1:-1] if name.startswith("{") else name
            name = re.sub(r"\\_", "_", name).strip()
            if not name:
                raise self.error("empty axis name", t)
        elif t.kind == "cmd" and t.text[1:] in AXIS_MACROS:
            self.next()
            name = AXIS_MACROS[t.text[1:]]
        else:
            raise self.unexpected(hint="expected an axis (\\name{...} or an axis macro)")
        while True:
            if self.tok.text == "'":
                self.next()
                name += "'"
            elif self.tok.text == "^" and self.peek().text == "*":
                self.next()
                self.next()
                name += "*"
            elif self.tok.text == "^" and self.peek().text == "{" and \
                    self.peek(2).text == "*" and self.peek(3).text == "}":
                for _ in range(4):
                    self.next()
                name += "*"
            else:
                return name

    def is_axis(self, k: int = 0) -> bool:
        t = self.peek(k) if k else self.tok
        return t.text == "\\name" or (t.kind == "cmd" and t.text[1:] in AXIS_MACROS)

    def axes_list(self, close: str) -> tuple[str, ...]:
        axes: list[str] = []
        while self.tok.text != close:
            axes.append(self.axis())
            if self.tok.text in (",", "\\\\"):
                self.next()
            elif self.tok.text != close:
                raise self.unexpected(hint="expected ',' or '\\\\' between axes")
        return tuple(axes)

    def axes_group(self) -> tuple[str, ...]:
        if self.tok.text != "{":
            return (self.axis(),)
        self.next()
        axes = self.axes_list("}")
        self.expect("}")
        return axes

    # unary and prefix operators
    def unary(self) -> Node:
        t = self.tok
        if t.text == "-":
            self.next()
            return Neg(self.unary())
        if t.text == "+":
            self.next()
            return self.unary()
        if t.text == "\\nfun":
            self.next()
            axes = self.axes_group()
            ft = self.tok
            fname = self.group_text()
            fname = re.sub(r"\s+", "", fname[1:-1] if fname.startswith("{") else fname)
            fname = fname.replace("\\_", "_")
            p = None
            m = re.fullmatch(r"norm_\{?([0-9.]+|\\infty)\}?", fname)
            if m:
                fname = "norm"
                p = math.inf if m.group(1) == "\\infty" else float(m.group(1))
            if self.tok.text == "_" and fname == "norm":
                self.next()
                pt = self.group_text().strip("{}")
                p = math.inf if pt == "\\infty" else self.number(pt, ft)
            return self.apply_nfun(fname, axes, ft, p)
        if t.text == "\\nsum":
            self.next()
            axes = self.axes_group()
            return Reduce("sum", axes, self.operand())
        if t.text == "\\sum" and self.peek().text == "_" and (
                self.peek(2).kind == "letter" or (
                    self.peek(2).text == "{" and self.peek(3).kind == "letter" and
                    self.peek(4).text == "}")):
            # \sum_{i} X_{\ax(i)}: a sum over an index variable
            self.next()
            self.next()
            var = self.group_text().strip("{}")
            return IndexSum(var, self.operand())
        if t.text in ("\\sum", "\\softmax", "\\max", "\\min", "\\argmax", "\\argmin") \
                and self.peek().text == "_":
            self.next()
            self.next()
            return self.apply_nfun(t.text[1:], self.sub_axes(), t, None)
        if t.text in _TEXT and self.peek().text == "{":
            # \text{softmax}_{\seq} X, \operatorname{relu}(X), \text{Attention}(Q, K, V)
            save = self.i
            self.next()
            name = self.group_text().strip("{}").strip().replace("\\_", "_")
            if name in _NFUNS and self.tok.text == "_" and self.is_sub_axes():
                self.next()
                return self.apply_nfun(name, self.sub_axes(), t, None)
            if name not in _LIFTED and self.tok.text == "_" and self.is_sub_axes() and \
                    re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                self.next()
                return self.axis_call(name, self.sub_axes(), t)
            if name in _LIFTED and self.tok.text not in ("^", "_"):
                return self.lifted(_LIFTED[name])
            self.i = save
        if t.kind == "cmd" and t.text in _LIFTED_CMDS:
            fn = _LIFTED_CMDS[t.text]
            if fn == "sigma" and not (self.peek().text in ("(", "[") or
                                      self.peek().kind in ("letter", "num") or
                                      (self.peek().kind == "cmd" and
                                       self.peek().text not in _MULOPS)):
                return self.postfix()       # \sigma alone is a variable
            self.next()
            return self.lifted(fn)
        if t.kind == "letter" and self.word_ahead() in _LIFTED:
            word = self.word_ahead()
            self.i += len(word)
            return self.lifted(_LIFTED[word])
        if t.kind == "letter" and self.word_ahead() in _NFUNS and \
                self.peek(len(self.word_ahead())).text == "_":
            word = self.word_ahead()
            self.i += len(word) + 1
            return self.apply_nfun(word, self.sub_axes(), t, None)
        return self.postfix()

    def word_ahead(self) -> str:
        """The run of letters at the cursor (relu, exp, ...), if it is a known word."""
        j = self.i
        word = ""
        while self.toks[j].kind == "letter" and self.toks[j].text.isalpha():
            word += self.toks[j].text
            j += 1
            if word in _LIFTED or word in _NFUNS:
                nxt = self.toks[j]
                if not (nxt.kind == "letter"):
                    return word
        return ""

    def is_sub_axes(self) -> bool:
        t = self.peek()
        return self.is_axis(1) or (t.text == "{" and self.is_axis(2))

    def sub_axes(self) -> tuple[str, ...]:
        if self.tok.text == "{":
            self.next()
            if self.tok.text == "\\substack":
                self.next()
                axes = self.axes_group()
            else:
                axes = self.axes_list("}")
            self.expect("}")
            return axes
        return (self.axis(),)

    def lifted(self, fn: str) -> Node:
        if self.tok.text in ("(", "["):
            return self.postfix_ops(Lift(fn, self.paren(), True))
        if fn == "sqrt" and self.tok.text == "{":
            self.next()
            x = self.expr()
            self.expect("}")
            return self.postfix_ops(Lift(fn, x, True))
        if not self.starts_primary() and self.tok.text not in ("-", "\\nfun", "\\nsum"):
            raise self.unexpected(hint="expected the argument of " + fn)
        return Lift(fn, self.unary())

    def apply_nfun(self, fname: str, axes: tuple[str, ...], ft: _Tok,
                   p: float | None) -> Node:
        if fname == "logsoftmax":
            fname = "log_softmax"
        if fname not in _NFUNS:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", fname):
                raise self.error(f"unknown function of axes {fname!r} (known: "
                                 f"{', '.join(sorted(_NFUNS))}, or a name the "
                                 f"bindings give)", ft)
            return self.axis_call(fname, axes, ft)
        if not axes:
            raise self.error(f"{fname} needs an axis", ft)
        if fname in _ONE_AXIS and len(axes) != 1:
            raise self.error(f"{fname} takes one axis, not {len(axes)}", ft)
        if fname == "index":
            if self.tok.text != "(":
                raise self.unexpected(hint="index is written \\nfun{ax}{index}(X, i)")
            self.next()
            x = self.expr()
            self.expect(",")
            i = self.expr()
            self.expect(")")
            return self.postfix_ops(IndexFn(axes[0], x, i))
        return Reduce("sum" if fname == "sum" else fname, axes, self.operand(), p)

    def axis_call(self, fname: str, axes: tuple[str, ...], ft: _Tok) -> Node:
        """A function of axes from the bindings: written f(...), the
        parentheses hold its arguments (and a subscript after them applies
        to the result); otherwise it reaches to the end of the product."""
        if not axes:
            raise self.error(f"{fname} needs an axis", ft)
        if self.tok.text == "(":
            return self.postfix_ops(AxisCall(fname, axes, self.args(), ft.col, True))
        return AxisCall(fname, axes, (self.operand(),), ft.col)

    def operand(self) -> Node:
        if not self.starts_primary() and self.tok.text not in ("-", "+"):
            raise self.unexpected(hint="expected an operand")
        return self.term()

    def paren(self) -> Node:
        close = {"(": ")", "[": "]"}[self.next().text]
        saved, self.bars = self.bars, 0
        x = self.condition() if self.in_cond else self.expr()
        self.bars = saved
        self.expect(close)
        return x

    def number(self, text: str, tok: _Tok) -> float:
        try:
            return float(text)
        except ValueError:
            raise self.error("expected a number", tok) from None

    # postfix: subscripts, superscripts, primes
    def postfix(self) -> Node:
        return self.postfix_ops(self.primary())

    def postfix_ops(self, node: Node) -> Node:
        while True:
            t = self.tok
            if t.text == "_" or (t.text == "|" and self.bars == 0 and
                                 self.peek().text == "_"):
                if t.text == "|":
                    self.next()
                node = self.subscript(node)
            elif t.text == "^":
                self.next()
                node = self.superscript(node)
            elif t.text == "'":
                if not isinstance(node, Var):
                    raise self.unexpected(hint="a prime belongs to a name")
                self.next()
                node = Var(node.name + "'", node.column)
            else:
                return node

    def subscript(self, node: Node) -> Node:
        ut = self.next()           # "_"
        braced = self.tok.text == "{"
        if self.is_axis(1 if braced else 0) or (braced and self.peek().text == "(" and
                                                 self.is_axis(2)):
            if not braced:
                ax = self.axis()
                raise self.error(f"write the subscript in braces: _{{{ax}(...)}}", ut)
            self.next()
            base = node
            while True:
                node = self.sub_item(node, base)
                if self.tok.text in (",", "\\\\"):
                    self.next()
                    continue
                self.expect("}")
                return node
        if isinstance(node, Var):
            return Var(node.name + "_" + _canon_group(self.group_text()), node.column)
        raise self.unexpected(ut, "a subscript here must index or rename axes")

    def sub_item(self, node: Node, base: Node) -> Node:
        """One item of a subscript; items of one subscript merge (a swap of
        two axes is one renaming), those of the next subscript do not."""
        if self.tok.text == "(":
            self.next()
            axes = self.axes_list(")")
            self.expect(")")
            self.to_arrow()
            return Flatten(node, axes, self.axis())
        ax = self.axis()
        if self.tok.text == "(":
            self.next()
            saved, self.bars = self.bars, 0
            i = self.expr()
            self.bars = saved
            self.expect(")")
            if isinstance(node, Select) and node is not base:
                return Select(node.x, node.items + ((ax, i),))
            return Select(node, ((ax, i),))
        self.to_arrow()
        new = self.axis()
        if isinstance(node, Rename) and node is not base:
            return Rename(node.x, node.pairs + ((ax, new),))
        return Rename(node, ((ax, new),))

    def to_arrow(self) -> None:
        if self.tok.text not in ("\\to", "\\rightarrow"):
            raise self.unexpected(hint="expected ax(i) or ax \\to ax'")
        self.next()

    def superscript(self, node: Node) -> Node:
        start = self.i
        raw = _canon_group(self.group_text())
        if isinstance(node, Var) and (raw in ("*", "\\ast") or "," in raw or
                                      raw.startswith("{(")):
            return Var(node.name + "^" + raw, node.column)
        # parse the superscript as an expression
        end = self.i
        sub = _Parser.__new__(_Parser)
        sub.src, sub.bars, sub.in_cond = self.src, 0, 0
        sub.toks = self.toks[start:end] + [_Tok("eof", "end of superscript",
                                                self.toks[end - 1].col)]
        if sub.toks[0].text == "{":
            sub.toks = sub.toks[1:-2] + sub.toks[-1:]
        sub.i = 0
        try:
            e: Node | None = sub.formula()
        except NotationError:
            if not isinstance(node, Var):
                raise
            e = None
        if isinstance(e, Equation):
            e = None
        if e is None and not isinstance(node, Var):
            raise self.error("a superscript here must be a power", self.toks[start])
        return Pow(node, e, raw)

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.next()
            return Num(float(t.text) if "." in t.text else int(t.text))
        if t.kind == "letter":
            self.next()
            if self.tok.text in ("(",) and self.call_like():
                return Call(t.text, self.args(), t.text, t.col, mul=True)
            return Var(t.text, t.col)
        if t.text in ("(", "["):
            return self.paren()
        if t.text == "|" and self.bars == 0:
            self.next()
            if self.is_axis() and self.after_axis_is_bar():
                ax = self.axis()
                self.expect("|")
                return Size(ax)
            self.bars += 1
            x = self.expr()
            self.bars -= 1
            self.expect("|")
            return Lift("abs", x, True)
        if t.kind != "cmd":
            raise self.unexpected()
        name = t.text[1:]
        if t.text in ("\\frac", "\\tfrac", "\\dfrac"):
            self.next()
            a = self.frac_arg()
            b = self.frac_arg()
            return Mul("/", a, b, "\\frac")
        if t.text == "\\sqrt":
            self.next()
            if self.tok.text == "[":
                raise self.unexpected(hint="only square roots")
            return Lift("sqrt", self.frac_arg(), True)
        if t.text == "\\restrict":
            self.next()
            self.expect("{")
            x = self.expr()
            self.expect("}")
            self.toks.insert(self.i, _Tok("sym", "_", self.tok.col))
            return self.subscript(x)
        if t.text in _TEXT:
            self.next()
            fname = self.group_text().strip("{}").strip().replace("\\_", "_")
            if not fname:
                raise self.error("empty function name", t)
            key = fname
            while self.tok.text in ("^", "_") and not (
                    self.tok.text == "_" and self.is_sub_axes()):
                mark = self.next().text
                key += mark + _canon_group(self.group_text())
            if self.tok.text != "(":
                raise self.unexpected(hint=f"expected '(' after {fname}")
            return Call(key, self.args(), fname, t.col)
        if t.text == "\\begin{cases}":
            return self.cases()
        if name in _GREEK or t.text in _FONTS:
            self.next()
            if t.text in _FONTS:
                text = t.text + _canon_group(self.group_text())
                if text in ("\\mathbbI", "\\mathbb1") and self.tok.text == "[":
                    self.next()
                    saved, self.bars = self.bars, 0
                    cond = self.condition()
                    self.bars = saved
                    self.expect("]")
                    return Indicator(cond)
            else:
                text = t.text
            if self.tok.text == "(" and self.call_like():
                return Call(text, self.args(), text, t.col, mul=True)
            if text == "\\pi":
                return Var("\\pi", t.col)
            return Var(text, t.col)
        if t.text == "\\infty":
            self.next()
            return Num(math.inf)
        if t.text in ("\\nfun", "\\nsum"):
            return self.unary()
        if self.peek().text == "(" and t.text[1:] not in AXIS_MACROS and t.text not in (
                "\\to", "\\rightarrow", "\\in"):
            # \Phi(X), \softmax(X): a function the bindings give under that key
            self.next()
            return Call(t.text, self.args(), t.text, t.col)
        raise self.unexpected(hint="unknown command")

    def call_like(self) -> bool:
        """After a one-letter name, does ( ... ) hold a comma (an argument list)?"""
        return True

    def after_axis_is_bar(self) -> bool:
        j = self.i + 1
        if self.toks[self.i].text == "\\name":
            depth = 0
            while True:
                t = self.toks[j]
                if t.kind == "eof":
                    return False
                depth += {"{": 1, "}": -1}.get(t.text, 0)
                j += 1
                if depth == 0:
                    break
        while self.toks[j].text in ("'",) or (self.toks[j].text == "^" and
                                             self.toks[j + 1].text == "*"):
            j += 1 if self.toks[j].text == "'" else 2
        return self.toks[j].text == "|"

    def frac_arg(self) -> Node:
        t = self.tok
        if t.text == "{":
            self.next()
            saved, self.bars = self.bars, 0
            x = self.expr()
            self.bars = saved
            self.expect("}")
            return x
        if t.kind == "num" and len(t.text) > 1 and t.text[1] != ".":
            # \frac12: TeX reads one digit
            self.toks[self.i] = _Tok("num", t.text[1:], t.col + 1)
            return Num(int(t.text[0]))
        if t.kind in ("num", "letter") or (t.kind == "cmd" and t.text[1:] in _GREEK):
            self.next()
            return Num(int(t.text)) if t.kind == "num" and "." not in t.text else (
                Num(float(t.text)) if t.kind == "num" else Var(t.text, t.col))
        raise self.unexpected(hint="expected {...}")

    def args(self) -> tuple[Node, ...]:
        self.expect("(")
        saved, self.bars = self.bars, 0
        out = [self.expr()]
        while self.tok.text in (",", ";"):
            self.next()
            out.append(self.expr())
        self.bars = saved
        self.expect(")")
        return tuple(out)


@functools.lru_cache(maxsize=4096)
def parse(formula: str) -> Node:
    r"""The expression tree of a formula in the paper's notation (cached).

    A top-level ``=`` (or a chain ``a = b = c``, or ``:=``/``\coloneqq``)
    gives an ``Equation`` whose ``.sides`` are the sides.  A formula the
    grammar cannot read raises ``NotationError`` naming the token and column.

    Example:

    >>> nt.notation.parse(r"\nsum{\height} A")
    Reduce(fn='sum', axes=('height',), x=Var(name='A'), p=None)
    """
    if not isinstance(formula, str):
        raise TypeError(f"parse: expected a str, not {type(formula).__name__}")
    try:
        return _Parser(formula).formula()
    except RecursionError:
        raise NotationError(f"formula nested too deeply: {formula[:40]!r}", formula[:1],
                            1) from None


@functools.lru_cache(maxsize=4096)
def canonical_name(key: str) -> str:
    r"""The env key of a variable written ``key`` (``"W^{Q}"`` -> ``"W^Q"``)."""
    try:
        node = parse(key)
    except NotationError:
        return key
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Pow) and isinstance(node.base, Var):
        return node.base.name + "^" + node.raw
    return key


# --------------------------------------------------------------------------
# evaluation

Value = Any
_Fn = Callable[["_Ctx"], Value]


@functools.lru_cache(maxsize=1024)
def _index_candidates(node: Node) -> tuple[tuple[tuple[str, str, int], ...],
                                           tuple[str, ...]]:
    """(name, axis, column) of each variable written as the index of an axis,
    and the variables of the \\sum_{i} in the tree."""
    subs = tuple((i.name, ax, i.column) for n in walk(node) if isinstance(n, Select)
                 for ax, i in n.items if isinstance(i, Var))
    sums = tuple(n.var for n in walk(node) if isinstance(n, IndexSum))
    return subs, sums


class _Ctx:
    __slots__ = ("env", "_sizes", "index_axes")

    def __init__(self, env: Mapping[str, object]) -> None:
        self.env = {canonical_name(k): v for k, v in env.items()}
        self._sizes: dict[str, int] | None = None
        self.index_axes: dict[str, str] = {}

    def bind_indices(self, node: Node) -> None:
        """Bind the formula's index variables: a letter that ``env`` does not
        bind, written as the index of an axis (``M_{\\seq(i), \\seq'(j)}``),
        stands for every index of that axis at once: the named tensor
        1, ..., |ax| along ax (float64, so that arithmetic on it is exact)."""
        subscripts, sums = _index_candidates(node)
        if not subscripts and not sums:
            return
        found: dict[str, str] = {}
        for name, ax, col in subscripts:
            if name not in self.env and found.setdefault(name, ax) != ax:
                raise NotationError(f"index variable '{name}' indexes two axes, "
                                    f"{found[name]!r} and {ax!r}", name, col)
        for var in sums:
            if var not in found and var not in self.env:
                raise NotationError(f"\\sum_{{{var}}}: the index variable "
                                    f"'{var}' is the index of no axis (write "
                                    f"X_{{\\name{{ax}}({var})}} in the summand)", var, 0)
        for var, ax in found.items():
            n_ax = self.size(ax)
            idx = torch.arange(1, n_ax + 1, dtype=torch.float64, device=device())
            self.env[var] = make(idx, (ax,))
            self.index_axes[var] = ax

    def size_ok(self, ax: str, x: Any) -> bool:
        """Is |ax| (as the formula reads it) the size of ax in x?"""
        try:
            return self.size(ax) == x.inputs[ax].size
        except AxisError:
            return False

    def size(self, ax: str) -> int:
        for key in (f"|{ax}|", f"|\\name{{{ax}}}|", ax):
            if key in self.env and isinstance(self.env[key], int):
                return self.env[key]  # type: ignore[return-value]
        found: dict[int, list[str]] = {}
        for k, v in self.env.items():
            v = cast(Any, v)
            if is_named(v) and ax in v.inputs:
                found.setdefault(v.inputs[ax].size, []).append(k)
        if not found:
            raise AxisError(f"|{ax}|: axis {ax!r} is in none of the named tensors "
                            f"bound ({', '.join(sorted(self.env)) or 'none'})")
        if len(found) > 1:
            raise AxisError(f"|{ax}|: axis {ax!r} has different sizes: " + "; ".join(
                f"{n} in {', '.join(ks)}" for n, ks in sorted(found.items())))
        return next(iter(found))


def _lookup(ctx: _Ctx, name: str, col: int) -> Value:
    try:
        return ctx.env[name]
    except KeyError:
        pass
    if name.endswith("^*") and name[:-2] in ctx.env and is_named(ctx.env[name[:-2]]):
        # the paper's section 5: X^* is X with every axis starred
        x = cast(Any, ctx.env[name[:-2]])
        return core.rename(x, {ax: ax + "*" for ax in x.inputs})
    if name == "\\pi":
        return math.pi
    if name == "e":
        return math.e
    raise UnboundError(f"unbound variable '{name}' at column {col} (bound: "
                       f"{_some(ctx.env)})", name, col)


def _some(env: Mapping[str, object]) -> str:
    names = sorted(env)
    more = f", ... {len(names) - 12} more" if len(names) > 12 else ""
    return (", ".join(names[:12]) + more) or "nothing"


def _is_tensor(x: Value) -> bool:
    return isinstance(x, torch.Tensor)


def _lift(fn: str) -> Callable[[Value], Value]:
    named = {"exp": core.exp, "log": core.log, "sigma": core.sigmoid, "tanh": core.tanh,
             "relu": core.relu, "sqrt": core.sqrt, "abs": core.abs}
    scalar = {"exp": math.exp, "log": math.log, "sigma": lambda v: 1 / (1 + math.exp(-v)),
              "tanh": math.tanh, "relu": lambda v: v if v > 0 else 0 * v,
              "sqrt": math.sqrt, "abs": abs, "sin": math.sin, "cos": math.cos}
    tens = {"exp": torch.exp, "log": torch.log, "sigma": torch.sigmoid,
            "tanh": torch.tanh, "relu": torch.relu, "sqrt": torch.sqrt, "abs": torch.abs,
            "sin": torch.sin, "cos": torch.cos}
    nf = named.get(fn)

    def apply(x: Value) -> Value:
        if is_named(x):
            if nf is None:
                return make(tens[fn](x.data), tuple(x.inputs))
            return nf(x)
        if _is_tensor(x):
            return tens[fn](x)
        return scalar[fn](x)
    return apply


def _reduce_fn(fn: str, axes: tuple[str, ...], p: float | None) -> Callable[[Value], Value]:
    ax = axes[0] if len(axes) == 1 else axes
    if fn == "norm":
        pp = 2.0 if p is None else p
        return lambda x: core.norm(x, ax, pp)
    f: Any = {"sum": core.sum, "max": core.max, "min": core.min, "mean": core.mean,
         "var": core.var, "std": core.std, "logsumexp": core.logsumexp, "prod": core.prod,
         "softmax": core.softmax, "argmax": core.argmax, "argmin": core.argmin,
         "log_softmax": core.log_softmax}[fn]
    return lambda x: f(_named(x, fn), ax)


def _named(x: Value, what: str) -> Value:
    if not is_named(x):
        raise AxisError(f"{what}: its operand is a scalar with no axes ({x!r})")
    return x


def _index_value(i: Value, ax: str) -> Value:
    """1-based index (the paper's) -> 0-based (ntlib's), refusing 0 and below."""
    if is_named(i):
        if bool((i.data < 1).any()):
            raise AxisError(f"index along {ax!r}: the paper's indices start at 1, "
                            f"got {int(i.data.min())}")
        if i.data.is_floating_point():       # an index variable (float64)
            if not bool((i.data == i.data.round()).all()):
                raise TypeError(f"index along {ax!r}: expected integers")
            return make((i.data - 1).long(), tuple(i.inputs))
        return i - 1
    if _is_tensor(i):
        i = int(i)
    if isinstance(i, float) and i.is_integer():
        i = int(i)
    if not isinstance(i, int):
        raise TypeError(f"index along {ax!r}: expected an integer, got {i!r}")
    if i < 1:
        raise AxisError(f"index along {ax!r}: the paper's indices start at 1, got {i}")
    return i - 1


def _mul(a: Value, b: Value) -> Value:
    return a * b


def _div(a: Value, b: Value) -> Value:
    return a / b


def _contract(a: Value, b: Value, axes: tuple[str, ...]) -> Value:
    if not is_named(a) or not is_named(b):
        raise AxisError(f"contraction over {', '.join(axes)}: an operand is a scalar "
                        f"with no axes")
    return core.contract(a, b, over=axes[0] if len(axes) == 1 else axes)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _compare(op: str, a: Value, b: Value) -> Value:
    if is_named(b) and not is_named(a):          # 1 = X: the named side first
        a, b, op = b, a, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
    return _COMPARE[op](a, b)


def _logic(op: str, a: Value, b: Value) -> Value:
    """a and b / a or b, entry by entry; a Python bool on one side decides or passes."""
    if not is_named(a):
        a, b = b, a
    if not is_named(b):
        if op == "and":
            return a if bool(b) else False
        return True if bool(b) else a
    return (a & b) if op == "and" else (a | b)


def _where(c: Value, a: Value, b: Value) -> Value:
    """a where c holds, else b, entry by entry over the union of the axes."""
    if not is_named(c):
        return a if bool(c) else b
    named = [x for x in (c, a, b) if is_named(x)]
    sizes = merged_sizes(named, "cases")
    order = tuple(sizes)
    dts = [(x.data if is_named(x) else x).dtype for x in (a, b)
           if is_named(x) or _is_tensor(x)]
    dtype = functools.reduce(torch.promote_types, dts) if dts else torch.float64
    if not dtype.is_floating_point and any(isinstance(x, float) for x in (a, b)):
        dtype = torch.float64

    def data(x: Value) -> torch.Tensor:
        if is_named(x):
            return align(x, order, sizes).to(dtype)
        return torch.as_tensor(x, dtype=dtype, device=c.data.device)
    return make(torch.where(align(c, order, sizes).bool(), data(a), data(b)), order)


def _indicator(c: Value) -> float:
    """1 if the statement holds at every entry, else 0."""
    if is_named(c):
        return 1.0 if bool(c.data.bool().all()) else 0.0
    return 1.0 if bool(c) else 0.0


@functools.lru_cache(maxsize=4096)
def _compile(node: Node) -> _Fn:
    """A closure computing the node from a context (cached per tree)."""
    if isinstance(node, Num):
        v = node.value
        return lambda c: v
    if isinstance(node, Var):
        name, col = node.name, node.column
        return lambda c: c.env[name] if name in c.env else _lookup(c, name, col)
    if isinstance(node, Size):
        ax = node.axis
        return lambda c: c.size(ax)
    if isinstance(node, Neg):
        f = _compile(node.x)
        return lambda c: -f(c)
    if isinstance(node, Add):
        fa, fb = _compile(node.left), _compile(node.right)
        if node.op == "+":
            return lambda c: fa(c) + fb(c)
        return lambda c: fa(c) - fb(c)
    if isinstance(node, Mul):
        fa, fb = _compile(node.left), _compile(node.right)
        if node.op == "/":
            return lambda c: fa(c) / fb(c)
        return lambda c: fa(c) * fb(c)
    if isinstance(node, Contract):
        fused = None if node.written_out else _attention_pattern(node)
        if fused is not None:
            return fused
        fa, fb = _compile(node.left), _compile(node.right)
        axes = node.axes
        over = axes[0] if len(axes) == 1 else axes
        contract = core.contract

        def con(c: _Ctx) -> Value:
            a, b = fa(c), fb(c)
            if is_named(a) and is_named(b):
                return contract(a, b, over=over)
            return _contract(a, b, axes)
        return con
    if isinstance(node, Cat):
        fa, fb = _compile(node.left), _compile(node.right)
        ax = node.axis
        return lambda c: core.cat([fa(c), fb(c)], ax)
    if isinstance(node, Pow):
        fb = _compile(node.base)
        fe = _compile(node.exp) if node.exp is not None else None
        if isinstance(node.base, Var):
            key = node.base.name + "^" + node.raw
            base = node.base
            is_e = base.name == "e"

            def power(c: _Ctx) -> Value:
                if key in c.env:
                    return c.env[key]
                if fe is None:
                    return _lookup(c, key, base.column)
                if is_e and "e" not in c.env:
                    return _lift("exp")(fe(c))
                return fb(c) ** fe(c)
            return power
        assert fe is not None
        return lambda c: fb(c) ** fe(c)
    if isinstance(node, Reduce):
        f = _compile(node.x)
        r = _reduce_fn(node.fn, node.axes, node.p)
        return lambda c: r(f(c))
    if isinstance(node, IndexFn):
        fx, fi = _compile(node.x), _compile(node.i)
        ax = node.axis
        return lambda c: core.index(_named(fx(c), "index"), ax, _index_value(fi(c), ax))
    if isinstance(node, Lift):
        f = _compile(node.x)
        lf = _lift(node.fn)
        return lambda c: lf(f(c))
    if isinstance(node, Select):
        fx = _compile(node.x)
        items = [(ax, _compile(i)) for ax, i in node.items]

        def select(c: _Ctx) -> Value:
            x = _named(fx(c), "indexing")
            for ax, fi in items:
                x = core.index(x, ax, _index_value(fi(c), ax))
            return x
        return select
    if isinstance(node, Rename):
        fx = _compile(node.x)
        mapping = dict(node.pairs)
        return lambda c: core.rename(_named(fx(c), "renaming"), mapping)
    if isinstance(node, Flatten):
        fx = _compile(node.x)
        axes, new = node.axes, node.new
        return lambda c: core.flatten(_named(fx(c), "flattening"), axes, new)
    if isinstance(node, Call):
        fargs = [_compile(a) for a in node.args]
        return _compile_call(node, fargs)
    if isinstance(node, Equation):
        fs = [_compile(s) for s in node.sides]
        return lambda c: [f(c) for f in fs]
    if isinstance(node, Compare):
        fs = [_compile(x) for x in node.operands]
        ops = node.ops

        def compare(c: _Ctx) -> Value:
            vals = [f(c) for f in fs]
            out: Value = True
            for op, a, b in zip(ops, vals, vals[1:]):
                out = _logic("and", out, _compare(op, a, b))
            return out
        return compare
    if isinstance(node, Logic):
        fa, fb = _compile(node.left), _compile(node.right)
        op = node.op
        return lambda c: _logic(op, fa(c), fb(c))
    if isinstance(node, Parity):
        fx = _compile(node.x)
        rest = 1 if node.odd else 0
        return lambda c: fx(c) % 2 == rest
    if isinstance(node, Cases):
        branches = [(_compile(v), None if k is None else _compile(k))
                    for v, k in node.branches]

        def cases(c: _Ctx) -> Value:
            fv, fk = branches[-1]
            out = fv(c) if fk is None else _where(fk(c), fv(c), math.nan)
            for fv, fk in reversed(branches[:-1]):
                assert fk is not None          # the parser keeps otherwise last
                out = _where(fk(c), fv(c), out)
            return out
        return cases
    if isinstance(node, Indicator):
        fc = _compile(node.cond)
        return lambda c: _indicator(fc(c))
    if isinstance(node, AxisCall):
        fargs = [_compile(a) for a in node.args]
        name, axes, col = node.name, node.axes, node.column

        def axis_call(c: _Ctx) -> Value:
            fn = c.env.get(name)
            if fn is None:
                raise UnboundError(f"unbound function of axes '{name}' at column {col}: "
                                   f"not one of {', '.join(sorted(_NFUNS))}, and the "
                                   f"bindings give none (bound: {_some(c.env)})",
                                   name, col)
            if not callable(fn) or is_named(fn):
                raise TypeError(f"{name!r} at column {col} is applied to axes but is "
                                f"bound to {type(fn).__name__}, not a function")
            return cast(Any, fn)(*[f(c) for f in fargs], *axes)
        return axis_call
    if isinstance(node, IndexSum):
        fx = _compile(node.x)
        var = node.var

        def index_sum(c: _Ctx) -> Value:
            ax = c.index_axes[var]
            x = fx(c)
            if is_named(x) and ax in x.inputs:
                return core.sum(x, ax)
            return x * c.size(ax)
        return index_sum
    raise TypeError(f"not a notation node: {node!r}")  # pragma: no cover


def _attention_pattern(node: Contract) -> _Fn | None:
    r"""The paper's attention formula, evaluated by nt.attention (its own block).

    (\nfun{seq}{softmax} (Q \ndot{key} K / \sqrt{|key|} [+ M])) \ndot{seq} V is
    what nt.attention computes; calling it lets the formula use the block's
    fused kernel (the same formula inside nt.plain()).  Where nt.attention
    refuses the operands (say Q has the axis seq too), the formula is
    evaluated operation by operation instead.
    """
    soft = node.left
    if len(node.axes) != 1 or not isinstance(soft, Reduce) or soft.fn != "softmax" or \
            soft.axes != node.axes:
        return None
    seq = node.axes[0]
    scores, mask = soft.x, None
    if isinstance(scores, Add) and scores.op == "+":
        for a, b in ((scores.left, scores.right), (scores.right, scores.left)):
            if isinstance(a, Mul) and a.op == "/":
                scores, mask = a, b
                break
    if not (isinstance(scores, Mul) and scores.op == "/" and
            isinstance(scores.left, Contract) and len(scores.left.axes) == 1 and
            isinstance(scores.right, Lift) and scores.right.fn == "sqrt" and
            isinstance(scores.right.x, Size) and
            scores.right.x.axis == scores.left.axes[0]):
        return None
    key = scores.left.axes[0]
    fa, fb = _compile(scores.left.left), _compile(scores.left.right)
    fv = _compile(node.right)
    fm = _compile(mask) if mask is not None else None
    fallback = _compile(dataclasses.replace(node, written_out=True))
    attention = nn.attention

    def att(c: _Ctx) -> Value:
        a, b, v = fa(c), fb(c), fv(c)
        m = fm(c) if fm is not None else None
        if is_named(a) and is_named(b) and is_named(v) and (m is None or is_named(m)):
            if seq in a.inputs and seq not in b.inputs:
                a, b = b, a
            if key in a.inputs and key in b.inputs and seq in b.inputs and \
                    seq not in a.inputs and seq in v.inputs and \
                    a.inputs[key].size == b.inputs[key].size and c.size_ok(key, b):
                return attention(a, b, v, m, key=key, seq=seq)
        return fallback(c)
    return att


_BUILTIN_CALLS = {"relu": "relu", "ReLU": "relu", "exp": "exp", "log": "log",
                  "sigma": "sigma", "sigmoid": "sigma", "tanh": "tanh", "sqrt": "sqrt",
                  "abs": "abs"}


def _compile_call(node: Call, fargs: list[_Fn]) -> _Fn:
    name, plain, col = node.name, node.plain, node.column

    def call(c: _Ctx) -> Value:
        args = [f(c) for f in fargs]
        for key in (name, plain):
            if key in c.env:
                fn = cast(Any, c.env[key])
                if callable(fn) and not is_named(fn):
                    return fn(*args)
                if node.mul and len(args) == 1:
                    return fn * args[0]
                raise TypeError(f"{key!r} at column {col} is called but is bound to "
                                f"{type(fn).__name__}, not a function")
        if plain in _BUILTIN_CALLS and len(args) == 1:
            return _lift(_BUILTIN_CALLS[plain])(args[0])
        if node.mul and len(args) == 1 and plain in ("e", "\\pi"):
            return _lookup(c, plain, col) * args[0]
        raise UnboundError(f"unbound function '{name}' at column {col} (bound: "
                           f"{_some(c.env)})", name, col)
    return call


def _result(v: Value) -> Value:
    if is_named(v) and not v.inputs:
        return v.data
    return v


@functools.lru_cache(maxsize=1024)
def _as_written(node: Node) -> Node:
    """The tree with every contraction marked written out (no block shortcut)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        if isinstance(v, Node):
            changes[f.name] = _as_written(v)
        elif isinstance(v, tuple):
            changes[f.name] = tuple(
                _as_written(x) if isinstance(x, Node) else
                tuple(_as_written(y) if isinstance(y, Node) else y for y in x)
                if isinstance(x, tuple) else x for x in v)
    if isinstance(node, Contract):
        changes["written_out"] = True
    return dataclasses.replace(node, **changes)


def sides(formula: str | Node, env: Mapping[str, object], *,
          as_written: bool = False) -> list:
    r"""The value of each side of an equation (a one-item list for an expression).

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"))
    >>> l, r = nt.notation.sides(r"A_{\height(1), \width(3)} = 4", {"A": A})
    >>> float(l), r
    (4.0, 4)
    """
    node = parse(formula) if isinstance(formula, str) else formula
    if as_written:
        node = _as_written(node)
    ctx = _Ctx(env)
    ctx.bind_indices(node)
    parts = node.sides if isinstance(node, Equation) else (node,)
    return [_run(s, ctx) for s in parts]


def _run(node: Node, ctx: _Ctx) -> Value:
    try:
        return _result(_compile(node)(ctx))
    except UnboundError as err:
        # compiled closures are shared by equal trees: take the column from this one
        cols = [n.column for n in walk(node)
                if isinstance(n, (Var, Call)) and err.token in (n.name, getattr(n, "plain", ""))]
        if cols and cols[0] != err.column:
            msg = str(err).replace(f"at column {err.column}", f"at column {cols[0]}")
            raise UnboundError(msg, err.token, cols[0]) from None
        raise


def evaluate(formula: str | Node, env: Mapping[str, object], *,
             as_written: bool = False) -> Value:
    r"""The value of a formula on the named tensors (and functions) of ``env``.

    The result is a named tensor, or a number (a Python number or a torch
    scalar) where the formula has no axes.  For an equation, the value of
    its last side.  The paper's attention formula is computed by
    nt.attention, the block it defines (and so by its fused kernel);
    ``as_written=True`` computes every formula operation by operation, as a
    check of a block against its formula needs.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9], [2, 6, 5]], ("height", "width"))
    >>> nt.show(nt.notation.evaluate(r"\nfun{\width}{max} A", {"A": A}))
    height[3]
    [4. 9. 6.]
    """
    node = parse(formula) if isinstance(formula, str) else formula
    ctx = _Ctx(env)
    ctx.bind_indices(node)
    if isinstance(node, Equation):
        node = node.sides[-1]
    if as_written:
        node = _as_written(node)
    return _run(node, ctx)


# --------------------------------------------------------------------------
# printing a tree

_PREC_EQ, _PREC_ADD, _PREC_MUL, _PREC_PREFIX, _PREC_UNARY, _PREC_POST = 0, 1, 2, 3, 4, 5


def _axis_tex(ax: str) -> str:
    stars = ""
    while ax.endswith(("'", "*")):
        stars = ("'" if ax[-1] == "'" else "^*") + stars
        ax = ax[:-1]
    m = _MACRO_OF_AXIS.get(ax)
    return (f"\\{m}" if m else f"\\name{{{ax}}}") + stars


def _axes_tex(axes: Sequence[str]) -> str:
    return " \\\\ ".join(_axis_tex(a) for a in axes)


def _num_tex(v: float) -> str:
    if isinstance(v, float) and v == math.inf:
        return "\\infty"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    import numpy as np
    return np.format_float_positional(v, trim="-")


def _prec(node: Node) -> int:
    if isinstance(node, Equation):
        return _PREC_EQ
    if isinstance(node, Add):
        return _PREC_ADD
    if isinstance(node, (Mul, Contract, Cat)):
        return _PREC_POST if isinstance(node, Mul) and node.written == "\\frac" \
            else _PREC_MUL
    if isinstance(node, (Reduce, IndexSum)) or (isinstance(node, AxisCall) and
                                                  not node.parens):
        return _PREC_PREFIX
    if isinstance(node, (Compare, Logic, Parity)):
        return _PREC_EQ
    if isinstance(node, Neg):
        return _PREC_UNARY
    if isinstance(node, Lift) and not node.parens:
        return _PREC_UNARY
    if isinstance(node, Num) and (node.value < 0):
        return _PREC_UNARY
    return _PREC_POST


def _wrap(node: Node, need: int) -> str:
    s = to_latex(node)
    if need > _PREC_POST:     # the base of a power or a subscript
        simple = isinstance(node, (Var, Size, Call)) or (
            isinstance(node, Lift) and node.parens) or (
            isinstance(node, Num) and node.value >= 0) or (
            isinstance(node, Mul) and node.written == "\\frac")
        return s if simple else f"\\left({s}\\right)"
    return f"\\left({s}\\right)" if _prec(node) < need else s


def to_latex(node: Node) -> str:
    r"""Print a tree in the paper's notation; ``parse(to_latex(t))`` evaluates as t.

    Example:

    >>> t = nt.notation.parse(r"\nfun{\seq}{softmax}(Q \ndot{\key} K)")
    >>> nt.notation.to_latex(t)
    '\\nfun{\\seq}{softmax} Q \\ndot{\\key} K'
    """
    if isinstance(node, Num):
        return _num_tex(node.value)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Size):
        return f"|{_axis_tex(node.axis)}|"
    if isinstance(node, Neg):
        return "-" + _wrap(node.x, _PREC_POST)
    if isinstance(node, Add):
        return f"{_wrap(node.left, _PREC_ADD)} {node.op} {_wrap(node.right, _PREC_MUL)}"
    if isinstance(node, (Mul, Contract, Cat)):
        if isinstance(node, Mul) and node.written == "\\frac":
            return f"\\frac{{{to_latex(node.left)}}}{{{to_latex(node.right)}}}"
        if isinstance(node, Mul):
            op = "/" if node.op == "/" else ("\\odot" if node.written == "\\odot"
                                             else "" if node.written == " "
                                             else "\\cdot")
            if node.op == "*" and isinstance(node.left, Num) and node.left.value >= 0 \
                    and not isinstance(node.right, Num):
                op = ""
        elif isinstance(node, Contract):
            op = f"\\ndot{{{_axes_tex(node.axes)}}}"
        else:
            op = f"\\ncat{{{_axis_tex(node.axis)}}}"
        # a prefix operator reaches to the end of the product: bracket it
        left = _wrap(node.left, _PREC_MUL) if _prec(node.left) != _PREC_PREFIX else \
            f"\\left({to_latex(node.left)}\\right)"
        right = _wrap(node.right, _PREC_POST) if not isinstance(node.right, Neg) else \
            f"\\left({to_latex(node.right)}\\right)"
        if isinstance(node.right, Lift) and not node.right.parens:
            right = f"\\left({to_latex(node.right)}\\right)"
        return f"{left} {op} {right}" if op else f"{left} {right}"
    if isinstance(node, Pow):
        if node.exp is None:
            return f"{to_latex(node.base)}^{node.raw}"
        return f"{_wrap(node.base, _PREC_POST + 1)}^{{{to_latex(node.exp)}}}"
    if isinstance(node, Reduce):
        if node.fn == "sum":
            head = f"\\nsum{{{_axes_tex(node.axes)}}}"
        else:
            fn = node.fn if node.p is None else f"norm_{{{_num_tex(node.p)}}}"
            head = f"\\nfun{{{_axes_tex(node.axes)}}}{{{fn}}}"
        return f"{head} {_wrap(node.x, _PREC_MUL)}"
    if isinstance(node, IndexFn):
        return (f"\\nfun{{{_axis_tex(node.axis)}}}{{index}}\\left({to_latex(node.x)}, "
                f"{to_latex(node.i)}\\right)")
    if isinstance(node, Lift):
        name = {"exp": "\\exp", "log": "\\log", "sigma": "\\sigma", "tanh": "\\tanh",
                "relu": "\\text{relu}", "sin": "\\sin", "cos": "\\cos"}.get(node.fn)
        if node.fn == "sqrt":
            return f"\\sqrt{{{to_latex(node.x)}}}"
        if node.fn == "abs":
            inner = to_latex(node.x)
            return f"\\left|{inner}\\right|" if "|" not in inner else \
                f"\\text{{abs}}\\left({inner}\\right)"
        return f"{name}\\left({to_latex(node.x)}\\right)"
    if isinstance(node, Call):
        return f"\\text{{{node.plain}}}" + (node.name[len(node.plain):]) + \
            "\\left(" + ", ".join(to_latex(a) for a in node.args) + "\\right)"
    if isinstance(node, Select):
        items = ", ".join(f"{_axis_tex(ax)}({to_latex(i)})" for ax, i in node.items)
        return f"{_wrap(node.x, _PREC_POST + 1)}_{{{items}}}"
    if isinstance(node, Rename):
        items = ", ".join(f"{_axis_tex(a)} \\to {_axis_tex(b)}" for a, b in node.pairs)
        return f"{_wrap(node.x, _PREC_POST + 1)}_{{{items}}}"
    if isinstance(node, Flatten):
        axes = ", ".join(_axis_tex(a) for a in node.axes)
        return f"{_wrap(node.x, _PREC_POST + 1)}_{{({axes}) \\to {_axis_tex(node.new)}}}"
    if isinstance(node, Equation):
        return " = ".join(to_latex(s) for s in node.sides)
    if isinstance(node, Compare):
        tex = {"<": "<", "<=": "\\le", ">": ">", ">=": "\\ge", "=": "=", "!=": "\\ne"}
        out = to_latex(node.operands[0])
        for op, x in zip(node.ops, node.operands[1:]):
            out += f" {tex[op]} {to_latex(x)}"
        return out
    if isinstance(node, Logic):
        op = "\\wedge" if node.op == "and" else "\\vee"
        left, right = to_latex(node.left), to_latex(node.right)
        if isinstance(node.right, Logic) and (node.op == "and" or node.right.op == "or"):
            right = f"\\left({right}\\right)"
        if isinstance(node.left, Logic) and node.op == "and" and node.left.op == "or":
            left = f"\\left({left}\\right)"
        return f"{left} {op} {right}"
    if isinstance(node, Parity):
        return f"{to_latex(node.x)} \\text{{ {'odd' if node.odd else 'even'}}}"
    if isinstance(node, Cases):
        rows = [f"{to_latex(v)} & " + ("\\text{otherwise}" if k is None else to_latex(k))
                for v, k in node.branches]
        return "\\begin{cases} " + " \\\\ ".join(rows) + " \\end{cases}"
    if isinstance(node, Indicator):
        return f"\\mathbb{{I}}\\left[{to_latex(node.cond)}\\right]"
    if isinstance(node, IndexSum):
        return f"\\sum_{{{node.var}}} {_wrap(node.x, _PREC_MUL)}"
    if isinstance(node, AxisCall):
        head = f"\\nfun{{{_axes_tex(node.axes)}}}{{{node.name}}}"
        if node.parens:
            return head + "\\left(" + ", ".join(to_latex(a) for a in node.args) + \
                "\\right)"
        return f"{head} {_wrap(node.args[0], _PREC_MUL)}"
    raise TypeError(f"not a notation node: {node!r}")


def _postfix_base_prec(node: Node) -> int:
    return _prec(node)


def walk(node: Node) -> Iterator[Node]:
    """Every node of a tree, parents first."""
    yield node
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        if isinstance(v, Node):
            yield from walk(v)
        elif isinstance(v, tuple):
            for item in v:
                if isinstance(item, Node):
                    yield from walk(item)
                elif isinstance(item, tuple):
                    for x in item:
                        if isinstance(x, Node):
                            yield from walk(x)


# --------------------------------------------------------------------------
# code printed back as the notation: tracing ntlib's operations

_GREEK_WORDS = _GREEK - {"pi"}


def _var_tex(name: str) -> str:
    r"""The LaTeX of a Python name, as the paper writes such names.

    gamma -> \gamma; W1 -> W^1, b2 -> b^2 (the paper numbers layers with a
    superscript); WQ -> W^Q; W_q -> W_q; gamma1 -> \gamma^1; any other name
    -> \mathit{name}.
    """
    if name in _GREEK_WORDS:
        return "\\" + name
    m = re.fullmatch(r"([A-Za-z]|" + "|".join(sorted(_GREEK_WORDS)) +
                     r")(?:_([A-Za-z0-9]+)|([0-9]+|[A-Z]+))?", name)
    if m:
        base = ("\\" + m.group(1)) if m.group(1) in _GREEK_WORDS else m.group(1)
        if m.group(2):
            return base + "_" + _canon_group(m.group(2))
        if m.group(3):
            return base + "^" + _canon_group(m.group(3))
        return base
    return f"\\mathit{{{name}}}"


class _Tracer:
    """Records, for each named tensor an ntlib operation returns, its tree."""

    def __init__(self) -> None:
        self.nodes: dict[int, tuple[Any, Node]] = {}
        self.depth = 0
        self.env: dict[str, object] = {}
        self.sizes: dict[str, int] = {}

    def bind(self, name: str, value: Any) -> None:
        tex = _var_tex(name)
        self.env[tex] = value
        self.nodes[id(value)] = (value, Var(tex))
        for ax, dom in value.inputs.items():
            self.sizes.setdefault(ax, dom.size)

    def node(self, v: Any) -> Node:
        if isinstance(v, bool):
            return Num(int(v))
        if isinstance(v, (int, float)):
            return Num(v) if v >= 0 else Neg(Num(-v))
        hit = self.nodes.get(id(v))
        if hit is not None and hit[0] is v:
            return hit[1]
        if is_named(v):
            # a tensor made inside the function (a mask, a constant): a variable
            name = f"C_{{{sum(1 for k in self.env if k.startswith('C_'))}}}"
            self.env[name] = v
            self.nodes[id(v)] = (v, Var(name))
            return Var(name)
        if isinstance(v, torch.Tensor) and v.dim() == 0:
            return Num(v.item())
        raise TypeError(f"latex: cannot print {type(v).__name__} {v!r} in the notation")

    def axes_of(self, x: Any, axes: Any) -> tuple[str, ...]:
        if axes is None:
            return tuple(x.inputs)
        return (axes,) if isinstance(axes, str) else tuple(axes)

    def divisor(self, num: Any, c: float) -> Node:
        """A float divisor; sqrt(n) for an axis size n is printed \\sqrt{|ax|}."""
        if isinstance(c, float) and c > 0:
            have = set(num.inputs) if is_named(num) else set()
            cands = [ax for ax, n in self.sizes.items() if math.isclose(math.sqrt(n), c)]
            cands.sort(key=lambda ax: ax in have)
            if cands:
                return Lift("sqrt", Size(cands[0]), True)
        return self.node(c)

    def build(self, op: str, a: dict[str, Any]) -> Node:
        n = self.node
        if op == "contract":
            ts = list(a["tensors"])
            over = a.get("over", ())
            axes = (over,) if isinstance(over, str) else tuple(over)
            if len(ts) == 2 and axes:
                return Contract(axes, n(ts[0]), n(ts[1]))
            prod = n(ts[0])
            for t in ts[1:]:
                prod = Mul("*", prod, n(t), "\\odot")
            return Reduce("sum", axes, prod) if axes else prod
        if op in ("sum", "mean", "var", "std", "max", "min", "prod", "logsumexp"):
            return Reduce(op, self.axes_of(a["x"], a.get("axes")), n(a["x"]))
        if op == "norm":
            p = a.get("p", 2)
            return Reduce("norm", self.axes_of(a["x"], a.get("axes")), n(a["x"]),
                          None if p == 2 else float(p))
        if op in ("softmax", "log_softmax", "argmax", "argmin"):
            return Reduce(op, (a["ax"],), n(a["x"]))
        if op in ("exp", "log", "tanh", "relu", "sqrt", "abs", "sigmoid"):
            return Lift("sigma" if op == "sigmoid" else op, n(a["x"]), True)
        if op == "rename":
            mapping = {**(a.get("mapping") or {}), **a.get("names", {})}
            return Rename(n(a["x"]), tuple(mapping.items()))
        if op == "flatten":
            return Flatten(n(a["x"]), self.axes_of(a["x"], a["axes"]), a["new"])
        if op == "index":
            i = a["i"]
            inode: Node = Num(i + 1) if isinstance(i, int) else Add("+", n(i), Num(1))
            return Select(n(a["x"]), ((a["ax"], inode),))
        if op == "cat":
            ts = list(a["tensors"])
            out = n(ts[0])
            for t in ts[1:]:
                out = Cat(a["ax"], out, n(t))
            return out
        x, y = a["self"], a.get("other")
        if op == "__neg__":
            return Neg(n(x))
        if op == "__pos__":
            return n(x)
        if op.startswith("__r"):
            x, y, op = y, x, "__" + op[3:]
        if op == "__pow__":
            return Pow(n(x), n(y), to_latex(n(y)))
        if op == "__mul__" and x is y:
            return Pow(n(x), Num(2), "2")
        if op == "__truediv__" and isinstance(y, float):
            return Mul("/", n(x), self.divisor(x, y), "\\frac")
        if op == "__add__":
            return Add("+", n(x), n(y))
        if op == "__sub__":
            return Add("-", n(x), n(y))
        if op == "__mul__":
            scalar = isinstance(x, (int, float)) or isinstance(y, (int, float))
            return Mul("*", n(x), n(y), " " if scalar else "\\odot")
        if op == "__truediv__":
            return Mul("/", n(x), n(y), "\\frac")
        raise TypeError(f"latex: {op} has no notation")  # pragma: no cover


_PRIMITIVES = ("contract", "sum", "mean", "var", "std", "max", "min", "prod", "logsumexp",
               "norm", "softmax", "log_softmax", "argmax", "argmin", "exp", "log", "tanh",
               "relu", "sqrt", "abs", "sigmoid", "rename", "flatten", "index", "cat")
_DUNDERS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
            "__truediv__", "__rtruediv__", "__pow__", "__rpow__", "__neg__", "__pos__")


def _recording(tr: _Tracer, op: str, orig: Callable[..., Any]) -> Callable[..., Any]:
    import inspect
    sig = inspect.signature(orig)

    @functools.wraps(orig)
    def rec(*args: Any, **kwargs: Any) -> Any:
        tr.depth += 1
        try:
            out = orig(*args, **kwargs)
        finally:
            tr.depth -= 1
        if tr.depth == 0 and is_named(out):
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError:
                return out
            bound.apply_defaults()
            a = dict(bound.arguments)
            if op.startswith("__") and "other" not in a:
                names = list(a)
                a = {"self": a[names[0]], **({"other": a[names[1]]} if len(names) > 1
                                             else {})}
            tr.nodes[id(out)] = (out, tr.build(op, a))
        return out
    rec.__ntn_original__ = orig  # type: ignore[attr-defined]
    return rec


def _class_tree(cls: type) -> list[type]:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


def trace(fn: Callable[..., Any], *args: Any) -> tuple[Node, dict[str, object]]:
    """The tree of ``fn(*args)`` in the notation and the bindings it reads.

    fn is run once on args inside ``nt.plain()`` (blocks run their formulas),
    with ntlib's operations recording what they compute; a named tensor that
    fn makes itself (a mask) is bound as C_{0}, C_{1}, ...  The operations
    are swapped for recording ones while fn runs: do not trace from two
    threads at once.
    """
    import inspect
    import sys
    tr = _Tracer()
    try:
        params = inspect.signature(fn).bind(*args).arguments
    except (TypeError, ValueError):
        params = {f"x{k}": a for k, a in enumerate(args)}
    for name, value in params.items():
        if is_named(value):
            tr.bind(name, value)
    originals = {name: getattr(core, name) for name in _PRIMITIVES}
    by_id = {id(f): name for name, f in originals.items()}
    patched: list[tuple[Any, str, Any]] = []
    wrappers = {name: _recording(tr, name, f) for name, f in originals.items()}
    cls = core.NamedTensor
    try:
        mods = [m for k, m in list(sys.modules.items())
                if m is not None and (k == "ntlib" or k.startswith("ntlib."))]
        spaces: list[Any] = [vars(m) for m in mods]
        fg = getattr(fn, "__globals__", None)
        if fg is not None:
            spaces.append(fg)
        for space in spaces:
            for k, v in list(space.items()):
                name = by_id.get(id(v), "")
                if name and v is originals[name]:
                    patched.append((space, k, v))
                    space[k] = wrappers[name]
        for sub in _class_tree(cls):
            for k in list(vars(sub)):
                v = vars(sub)[k]
                name = by_id.get(id(v), "")
                if k in _DUNDERS or (name and v is originals[name]):
                    setattr(sub, k, _recording(tr, k if k in _DUNDERS else name or k, v))
        with core.plain():
            out = fn(*args)
    finally:
        for space, k, v in reversed(patched):
            space[k] = v
        # funsor copies a class's attributes into the subclass it makes for each
        # shape: put the originals back in every one, those made meanwhile too
        for sub in _class_tree(cls):
            for k, v in list(vars(sub).items()):
                orig = getattr(v, "__ntn_original__", None)
                if orig is not None:
                    setattr(sub, k, orig)
    return tr.node(out), tr.env


def latex(fn: Callable[..., Any], *args: Any) -> str:
    r"""``fn(*args)`` printed in the paper's notation (blocks expanded to formulas).

    Variables are named after fn's parameters (``gamma`` is ``\gamma``,
    ``W1`` is ``W^1``, a longer name ``\mathit{name}``);
    ``evaluate(latex(fn, *args), env)`` with env binding those names
    (``trace(fn, *args)[1]``) equals ``fn(*args)``.

    Example:

    >>> x = nt.randn(seed=0, layer=4)
    >>> W = nt.randn(seed=1, out=3, layer=4)
    >>> b = nt.randn(seed=2, out=3)
    >>> print(nt.notation.latex(nt.full_conn, x, W, b))
    \sigma\left(W \ndot{\layer} x + b\right)_{\out \to \layer}
    """
    return to_latex(trace(fn, *args)[0])


def _user_env(ns: Mapping[str, Any]) -> dict[str, object]:
    r"""A notebook's names as formula keys: A, \gamma for gamma, W_1 for W1, ..."""
    env: dict[str, object] = {}
    for k, v in ns.items():
        if k.startswith("_") or not isinstance(k, str) or k in ("In", "Out") or not (
                is_named(v) or isinstance(v, (int, float, torch.Tensor)) or (
                    callable(v) and not isinstance(v, type) and k not in (
                        "exit", "quit", "get_ipython", "open"))):
            continue
        env[k] = v
        tex = _var_tex(k)
        env.setdefault(tex, v)
    return env


_TARGET = re.compile(r"^\s*(\\?[A-Za-z][A-Za-z0-9_]*)\s*(?:=|:=|\\coloneqq)(?!=)\s*(.+)$",
                     re.S)


def run_cell(cell: str, ns: dict[str, Any]) -> Any:
    r"""Evaluate the formulas of a ``%%ntn`` cell in the namespace ns.

    One formula per line (a line inside an unclosed brace or ``\left``
    continues on the next, and so does a line that starts with a binary
    operator other than ``-``, or with ``=``); ``%`` starts a comment; ``Y = formula``
    binds ``Y`` (``\gamma = ...`` binds ``gamma``), and so does an entry formula
    ``Y_{\height(i), \width(j)} = ...`` whose ``i`` and ``j`` are bound to
    nothing.  Returns the last value.
    """
    value: Any = None
    for text in _cell_lines(cell):
        m = _TARGET.match(text)
        env = _user_env(ns)
        if m:
            target, formula = m.group(1).lstrip("\\"), m.group(2)
            value = evaluate(formula, env)
            ns[target] = value
        else:
            node = parse(text)
            value = evaluate(node, env)
            target = defines(node, env)
            if target:
                ns[target] = value
    return value


def defines(formula: str | Node, env: Mapping[str, object] | None = None) -> str | None:
    r"""The name of the tensor that ``formula`` defines entry by entry, or None.

    An entry formula writes, on its left, a one-letter tensor indexed by index
    variables, none of them bound in ``env``: ``M_{\seq(i), \seq'(j)} = ...``
    defines M at every entry at once (Appendix C, rule 5); the ``%%ntn`` magic
    and the book's formula checks bind M to its value.

    Example:

    >>> mask = (r"M_{\seq(i), \seq'(j)} = \begin{cases} 0 & i \le j"
    ...         r" \\ -\infty & \text{otherwise} \end{cases}")
    >>> nt.notation.defines(mask)
    'M'
    >>> nt.notation.defines(r"Y = X + 1") is None
    True
    >>> nt.notation.defines(mask, {"M": 1}) is None      # M is bound already
    True
    """
    node = parse(formula) if isinstance(formula, str) else formula
    env = env or {}
    if not (isinstance(node, Equation) and len(node.sides) == 2):
        return None
    lhs = node.sides[0]
    if not (isinstance(lhs, Select) and isinstance(lhs.x, Var) and lhs.x.name not in env
            and re.fullmatch(r"[A-Za-z]", lhs.x.name)):
        return None
    if all(isinstance(i, Var) and i.name not in env for _, i in lhs.items):
        return lhs.x.name
    return None


def _cell_lines(cell: str) -> list[str]:
    out: list[str] = []
    buf = ""
    for line in cell.splitlines():
        line = re.sub(r"(?<!\\)%.*$", "", line).rstrip()
        open_cases = (buf + line).count("\\begin{cases}") > \
            (buf + line).count("\\end{cases}")
        if line.endswith("\\\\") and not open_cases:   # a row break ends a formula
            line = line[:-2]
        line = line.strip()
        if not line:
            continue
        if out and not buf and line.startswith(_CONTINUES):
            buf = out.pop()
        buf = (buf + " " + line).strip() if buf else line
        if _balanced(buf) and buf.count("\\left") <= buf.count("\\right") and \
                buf.count("\\begin{cases}") <= buf.count("\\end{cases}"):
            out.append(buf)
            buf = ""
    if buf:
        out.append(buf)
    return out


#: a line of a %%ntn cell that starts with one of these continues the formula above
_CONTINUES = ("\\ndot", "\\odot", "\\nbin", "\\ncat", "\\cdot", "\\times", "*", "/",
              "+", "=", "\\right", "}")


def _ntn_magic(line: str, cell: str) -> Any:
    from IPython import get_ipython
    from IPython.display import Math, display
    ip = get_ipython()
    ns = ip.user_ns if ip is not None else {}
    value = run_cell(cell, ns)
    formulas = _cell_lines(cell)
    if formulas and "quiet" not in line.split():
        display(Math(" \\\\ ".join(formulas) if len(formulas) == 1 else
                     "\\begin{aligned}" + " \\\\ ".join(formulas) + "\\end{aligned}"))
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        # shown as a named tensor without axes: its repr is the same on any device
        return make(value, ())
    return value


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext ntlib.notation``: the ``%%ntn`` cell magic.

    Each line of the cell is a formula in the paper's notation, read with
    the notebook's variables as bindings (``gamma`` is ``\\gamma``, ``W1``
    is ``W^1``); ``Y = formula`` binds ``Y``.  The cell shows the formulas
    typeset (IPython's Math display, in Jupyter and Colab alike), then
    returns the last value, which the notebook displays as it displays any
    value: by treescope where the notebook has made treescope its display
    (``treescope.basic_interactive_setup()``), else by its repr.  A value
    without axes is returned as a named tensor without axes, whose repr is
    the same on every device.  ``%%ntn quiet`` leaves the formulas out.
    """
    ip.register_magic_function(_ntn_magic, magic_kind="cell", magic_name="ntn")
