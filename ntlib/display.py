"""Showing ntlib in a notebook: function sources and named tensors as text."""

from __future__ import annotations

import ast
import inspect
import io
import re
import textwrap
import tokenize
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._internal import LAID_OUT, Order, checked, laid_out
from .core import Named, positional, shape


# The book's code column holds 79 characters (tests/test_book.py measures it).
_WIDTH = 79


def _breaks(text):
    """Where a long line may be broken: per line, (column, continuation column,
    quote) after a comma inside brackets (quote "") or after a space inside a
    one-line string literal inside brackets (the literal is closed there and
    reopened on the next line, with its prefix and quote); and the lines of
    docstrings and comments (prose that may be re-filled), and where trailing
    comments start."""
    lines = text.splitlines()
    breaks, prose, comments, stack = {}, set(), {}, []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        (r0, c0), (r1, c1) = tok.start, tok.end
        if tok.type == tokenize.OP and tok.string in "([{":
            stack.append(c1)
        elif tok.type == tokenize.OP and tok.string in ")]}":
            stack.pop()
        elif tok.type == tokenize.OP and tok.string == "," and stack:
            breaks.setdefault(r0, []).append((c1, stack[-1], ""))
        elif tok.string in ("and", "or", "+", "-", "*", "/", "if", "else",
                            "for") and stack and r0 == r1:
            breaks.setdefault(r0, []).append((c0, stack[-1], ""))
        elif tok.type == tokenize.STRING and not lines[r0 - 1][:c0].strip() \
                and tok.string.lstrip("rbuRBU")[:3] in ('"""', "'''"):
            prose.update(range(r0, r1 + 1))
        elif tok.type == tokenize.STRING and r1 == r0 and stack:
            body = tok.string.lstrip("rbfuRBFU")
            quote = tok.string[: len(tok.string) - len(body) + 1]
            if body[:3] in ('"""', "'''"):
                continue
            depth = 0
            for k, ch in enumerate(tok.string):
                depth += (ch == "{") - (ch == "}")
                inside = len(quote) < k < len(tok.string) - 2
                if ch == " " and depth == 0 and inside:
                    breaks.setdefault(r0, []).append((c0 + k + 1, c0, quote))
        elif tok.type == tokenize.COMMENT and not lines[r0 - 1][:c0].strip():
            prose.add(r0)
        elif tok.type == tokenize.COMMENT:
            comments[r0] = c0
    for row in breaks:
        breaks[row].sort()
    return breaks, prose, comments


def _fit(text, width=_WIDTH):
    """``text`` with lines over ``width`` broken for display: code after a
    comma or before an operator inside brackets (aligned under the bracket), or
    between two parts of a string literal; docstrings and comments re-filled.
    Returns ``text`` unchanged unless the result parses to the same program
    (docstrings compared up to white space)."""
    try:
        breaks, prose, comments = _breaks(text)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    out = []
    for row, line in enumerate(text.splitlines(), start=1):
        if len(line) <= width:
            out.append(line)
        elif row in prose:
            body = line.lstrip()
            lead = line[: len(line) - len(body)]
            if body.startswith("#"):
                lead, body = lead + "# ", body.lstrip("# ")
            out += textwrap.wrap(body, width, initial_indent=lead,
                                 subsequent_indent=lead,
                                 break_long_words=False,
                                 break_on_hyphens=False)
        else:
            lead = " " * (len(line) - len(line.lstrip()))
            if row in comments:      # a trailing comment goes above the line
                out += textwrap.wrap(line[comments[row]:].lstrip("# "), width,
                                     initial_indent=lead + "# ",
                                     subsequent_indent=lead + "# ",
                                     break_on_hyphens=False)
                line = line[: comments[row]].rstrip()
            hang = len(lead) + 8         # if the bracket is far right
            pieces, start, head = [], 0, ""
            while len(head) + len(line) - start > width:
                fit = [(c, a, q) for c, a, q in breaks.get(row, [])
                       if start < c
                       and len(head) + c - start + len(q[-1:]) <= width]
                if not fit:
                    break
                c, a, q = fit[-1]
                piece = line[start:c]
                pieces.append(head + (piece + q[-1:] if q else piece.rstrip()))
                start = c
                while not q and start < len(line) and line[start] == " ":
                    start += 1
                head = " " * (a if a <= width - 30 else hang) + q
            pieces.append(head + line[start:])
            out += pieces
    fitted = "\n".join(out)
    return fitted if _same_program(text, fitted) else text


def _same_program(a, b):
    def norm(src):
        tree = ast.parse(textwrap.dedent(src))
        for node in ast.walk(tree):       # docstrings: up to white space
            body = getattr(node, "body", None)
            first = body[0] if isinstance(body, list) and body else None
            if isinstance(first, ast.Expr) \
                    and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                first.value.value = " ".join(first.value.value.split())
        return ast.dump(tree)
    try:
        return norm(a) == norm(b)
    except SyntaxError:
        return False


_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|obj|exc|const):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(text):
    """reST markup as plain text: ``x`` reads x, :func:`f` reads f."""
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))


_EXAMPLES = re.compile(r"\s*(Examples?:|>>>)")


def _header(lines, node, offset):
    """The def line of the function node without its annotations, on one line
    (_fit breaks it again at the book's width).  Defaults keep their source
    text; ``offset`` is the indentation that textwrap.dedent removed."""
    src = "\n".join(lines)
    a = node.args

    def seg(n):
        return ast.get_source_segment(src, n)

    params = []
    plain = a.posonlyargs + a.args
    defaults = [None] * (len(plain) - len(a.defaults)) + list(a.defaults)
    for k, (arg, d) in enumerate(zip(plain, defaults)):
        params.append(arg.arg if d is None else f"{arg.arg}={seg(d)}")
        if a.posonlyargs and k == len(a.posonlyargs) - 1:
            params.append("/")
    if a.vararg:
        params.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        params.append("*")
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        params.append(arg.arg if d is None else f"{arg.arg}={seg(d)}")
    if a.kwarg:
        params.append("**" + a.kwarg.arg)
    indent = " " * (offset + node.col_offset)
    return f"{indent}def {node.name}({', '.join(params)}):"


def _listing(text):
    """A function's source as the book lists it: the formula.  Dropped: the
    annotations of its signature (help() and the reference show them), the
    examples section of its docstring (from a line "Example:" or the first
    ">>>" to the end; the reference and help() show it, the doctests run it),
    and "if TYPE_CHECKING:" blocks (narrowing for mypy, no code at run time).
    Anything else, and any text that does not parse, is kept as it is."""
    lines = text.splitlines()
    try:
        dedented = textwrap.dedent(text)
        tree = ast.parse(dedented)
    except SyntaxError:
        return text
    offset = len(lines[0]) - len(dedented.splitlines()[0]) if lines else 0
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    if fn is None:
        return text
    drop, replace = set(), {}
    body = fn.body
    doc = body[0] if body and isinstance(body[0], ast.Expr) \
        and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str) \
        else None
    if doc is not None and doc.end_lineno is not None and doc.lineno < doc.end_lineno:
        first, last = doc.lineno - 1, doc.end_lineno - 1
        cut = next((k for k in range(first + 1, last + 1)
                    if _EXAMPLES.match(lines[k])), None)
        if cut is not None:
            end = cut
            while end > first + 1 and not lines[end - 1].strip():
                end -= 1
            drop.update(range(end, last))
            closing = lines[last].strip()
            if end == first + 1 and closing in ('"""', "'''"):
                replace[first] = lines[first] + closing     # a one-line docstring
                drop.add(last)
    for node in body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING" and not node.orelse \
                and node.end_lineno is not None:
            drop.update(range(node.lineno - 1, node.end_lineno))
    a = fn.args
    annotated = fn.returns is not None or any(
        p.annotation is not None
        for p in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if p)
    if annotated:
        start = fn.lineno - 1
        stop = (body[0].lineno - 1 if body[0].lineno > fn.lineno else start)
        colon = stop - 1    # the header's last line: the one before the body ...
        while colon > start and not lines[colon].rstrip().endswith(":"):
            colon -= 1      # ... or before comments and blank lines
        replace[start] = _header(dedented.splitlines(), fn, offset)
        drop.update(range(start + 1, colon + 1))
    out = [replace.get(k, line) for k, line in enumerate(lines) if k not in drop]
    return "\n".join(out)


def _shown(fn, generated=False):
    """The source of fn as the book shows it (see _listing): the text of the
    file, with docstrings as plain text and long lines broken to the book's
    width; no name is rewritten.  With generated, the wrapper that ntlib's
    checking decorator wrote for fn instead."""
    if generated:
        return _fit(fn.__ntlib__["source"].rstrip())
    return _fit(plain_text(_listing(inspect.getsource(fn))).rstrip())


class Source:
    """A function's source: highlighted code in the book, text elsewhere."""

    def __init__(self, *fns: Callable[..., Any], generated: bool = False) -> None:
        self.text = "\n\n".join(_shown(f, generated) for f in fns)

    def _repr_markdown_(self) -> str:
        return "```python\n" + self.text + "\n```"

    def __repr__(self) -> str:
        return self.text


def source(*fns: Callable[..., Any], generated: bool = False) -> Source:
    """Display the source of ntlib functions (the code lives only in ntlib).

    generated=True shows, for a function with declared checks (and a fused
    kernel), the wrapper ntlib writes from the declaration: the conversions,
    checks and dispatch that run before the formula.

    Example:

    >>> listing = nt.source(nt.softmax).text
    >>> for line in listing.splitlines()[:3]:
    ...     print(line)
    @checked(x="has ax", real=True)
    @fused_by(_softmax_fused)
    def softmax(x, ax):
    >>> ">>>" in listing        # no examples (and no annotations)
    False
    """
    return Source(*fns, generated=generated)


class Pretty:
    """Text shown as it is (the repr is the text, without quotes)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@checked(x="has order", values=True)
def show(x: Named, order: Order | None = None, decimals: int = 4) -> Pretty:
    """A device-independent text view of a named tensor.

    ``order`` fixes which axis is printed as rows, columns, ... (default: the
    storage order).  Values are rounded to ``decimals`` places so the view is
    the same on every device.

    Example:

    >>> A = nt.tensor([[3., 1, 4], [1, 5, 9]], ("height", "width"))
    >>> nt.show(A, ("width", "height"))
    width[3] × height[2]   (rows: width, columns: height)
    [[3. 1.]
     [1. 5.]
     [4. 9.]]
    >>> nt.show(A / 3, ("height", "width"), decimals=2)
    height[2] × width[3]   (rows: height, columns: width)
    [[1.   0.33 1.33]
     [0.33 1.67 3.  ]]
    """
    sizes = shape(x)
    if TYPE_CHECKING:  # None reaches the body as all of x's axes (@checked)
        assert order is not None
    if laid_out(x):   # on a device mesh: the global value (every process shows it)
        x = LAID_OUT["full"](x)
    data = positional(x, order).detach().cpu()
    if data.is_floating_point():
        arr = np.round(data.double().numpy(), decimals) + 0.0
        body = np.array2string(arr, precision=decimals, suppress_small=True,
                               floatmode="maxprec", separator=" ")
    else:
        body = np.array2string(data.numpy(), separator=" ")
    if not order:
        return Pretty(f"scalar: {body}")
    head = " × ".join(f"{a}[{sizes[a]}]" for a in order)
    if len(order) == 2:
        head += f"   (rows: {order[0]}, columns: {order[1]})"
    elif len(order) > 2:
        head += f"   (nested in this order; innermost: {order[-1]})"
    return Pretty(head + "\n" + body)
