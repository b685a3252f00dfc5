"""The book's marked formulas: extraction and evaluation (used by test_formulas.py).

The convention (CONTRIBUTING.md, Appendix C "Which formulas run"): a formula
that denotes a computation on named tensors carries a mark, one HTML comment
line directly above it in the chapter's markdown, invisible in Jupyter, in the
HTML book and in the PDF::

    <!-- ntn: KIND; ITEM; ITEM; ... -->
    $$
    ...
    $$

KIND says what the formula is:

- ``definition``: it defines a function that the book implements; the items
  bind the function's name as written to that code (``Attention=nt.attention``),
  and every side of the formula must agree with every other;
- ``identity``: a law that holds for all data (every side agrees);
- ``condition``: a condition on the data, checked on data that satisfies it
  (built by the items);
- ``example``: a worked example on the book's concrete data (``\\nmatrix``
  literals are read as data);
- ``misprint``: a formula quoted as printed; its sides must DIFFER (or the
  printed form must raise nt.AxisError): that is the evidence of the misprint;
- ``excluded``: a computing formula the notation does not run, with
  ``id=...`` and ``reason=...``, listed in Appendix C's table.

Items (separated by ``;``):

- ``X[height,width]``: the variable written ``X`` is random normal data
  (float64) with these axes; sizes from ``SIZES`` unless ``@ax=n`` sets them;
- ``NAME=python``: the variable or function written NAME is the value of a
  Python expression (``nt``, ``torch``, ``math``, ``F`` (torch.nn.functional)
  and the helpers ``randn``, ``pos``, ``onehot``, ``running`` are in scope;
  ``V`` is the dict of what is bound so far, ``size`` the sizes);
- ``@ax=n``: the size of an axis;
- ``~TEXT=REPLACEMENT``: substitute text in the formula before reading it
  (to instantiate a general shape: ``~\\mathcal{S}=\\height``);
- ``expect=python``: the value the formula's last side must have;
- ``at=k``: for a mark above a paragraph, the k-th inline formula of that
  paragraph (1-based) is the marked one;
- ``orders=1``: evaluate in one storage order only (default 3);
- ``id=...``, ``reason=...`` (excluded formulas).

A display formula is split into parts: rows of ``aligned`` (at ``\\\\``),
and clauses at ``\\qquad``/``\\quad``/``,\\;``.  A part ``X \\in \\reals^{...}``
that binds nothing is a declaration and is skipped; ``expr \\in \\reals^{a
\\times b}`` checks that expr has exactly those axes; a part ``Name = expr``
whose Name is not yet bound binds it (``\\leftarrow`` always binds); other
parts must have all their sides equal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
KINDS = ("definition", "identity", "condition", "example", "misprint", "excluded")
COMPUTING_MACROS = re.compile(r"\\(ndot|nsum|nfun|nbin|ncat)(?![A-Za-z])")
MARK = re.compile(r"^#\s+<!-- ntn: (.*?) -->\s*$")   # indented in a list item too

#: default size of each axis (chosen unequal, so a mixed-up axis shows)
SIZES = {"height": 3, "width": 4, "seq": 5, "seq'": 4, "key": 3, "val": 2, "layer": 4,
         "layer'": 3, "heads": 2, "batch": 3, "input": 4, "hidden": 5, "out": 3,
         "chans": 2, "chans'": 3, "kernel": 3, "kh": 2, "kw": 2, "vocab": 6, "classes": 3,
         "state": 4, "emb": 3, "ax": 5, "d": 3, "clusters": 2, "subseq": 3}


@dataclass
class Formula:
    chapter: str          # file name, e.g. "03_operations.py"
    line: int             # 1-based line of the formula's first line
    kind: str
    items: list[str]
    text: str             # the LaTeX between the delimiters
    display: bool

    @property
    def where(self) -> str:
        return f"{self.chapter}:{self.line}"

    def item(self, key: str, default: str | None = None) -> str | None:
        for it in self.items:
            if it.startswith(key + "="):
                return it[len(key) + 1:].strip()
        return default


def _markdown_lines(path: Path):
    """(line number, text without '# ') of the markdown cells' lines."""
    md = False
    fences: list[str] = []
    for k, raw in enumerate(path.read_text().splitlines(), 1):
        if raw.startswith("# %%"):
            md = "[markdown]" in raw
            fences = []
            continue
        if md and re.match(r"# (```|~~~)", raw):
            opener = raw[2:].strip().lstrip("`~")
            if opener.startswith("{"):
                fences.append("directive")    # {prf:definition}: text with formulas
                yield k, ""
                continue
            if opener or not fences:
                fences.append("code")
            else:
                fences.pop()
            yield k, None
            continue
        if md and "code" in fences:
            yield k, None      # a code block shows text; it holds no formula
            continue
        if md:
            if raw == "#":
                yield k, ""
            elif raw.startswith("# "):
                yield k, raw[2:]
            else:
                yield k, None      # a blank line ends the cell's text


_DISPLAY_OPEN = re.compile(r"^\s*(\$\$|\\begin\{(align\*?|equation\*?|aligned)\})")


def display_formulas(path: Path) -> list[tuple[int, str, str | None]]:
    """Every display formula of a chapter: (line, LaTeX, the mark above it or None)."""
    lines = list(_markdown_lines(path))
    out = []
    k = 0
    while k < len(lines):
        n, text = lines[k]
        m = _DISPLAY_OPEN.match(text or "")
        if m:
            close = "$$" if m.group(1) == "$$" else f"\\end{{{m.group(2)}}}"
            body = [text[m.end():]] if m.group(1) != "$$" else []
            j = k + 1
            while j < len(lines) and close not in (lines[j][1] or ""):
                body.append(lines[j][1] or "")
                j += 1
            if j < len(lines) and m.group(1) != "$$":
                body.append(lines[j][1].split(close)[0])
            prev = lines[k - 1][1] if k else None
            mk = MARK.match("# " + prev) if prev is not None and lines[k - 1][0] == n - 1 \
                else None
            out.append((n + (1 if m.group(1) == "$$" else 0), "\n".join(body).strip(),
                        mk.group(1) if mk else None))
            k = j + 1
            continue
        k += 1
    return out


_INLINE = re.compile(r"(?<![\\$])\$([^$]+?)\$(?!\$)")


def formulas(path: Path) -> list[Formula]:
    """Every marked formula of a chapter's text source."""
    lines = list(_markdown_lines(path))
    out = []
    for k, (n, text) in enumerate(lines):
        m = MARK.match("# " + text) if text is not None else None
        if not m:
            continue
        kind, *items = [s.strip() for s in _split_items(m.group(1))]
        items = [s for s in items if s]
        if kind not in KINDS:
            raise ValueError(f"{path.name}:{n}: unknown kind {kind!r} (one of {KINDS})")
        nxt = lines[k + 1][1] if k + 1 < len(lines) else None
        if nxt is not None and _DISPLAY_OPEN.match(nxt):
            found = [d for d in display_formulas(path) if d[0] in (n + 1, n + 2)]
            if not found:
                raise ValueError(f"{path.name}:{n}: mark above an unclosed formula")
            line, body, _ = found[0]
            out.append(Formula(path.name, line, kind, items, body, True))
            continue
        # a mark above a paragraph: its at-th inline formula
        para, j = [], k + 1
        while j < len(lines) and lines[j][1] and MARK.match("# " + lines[j][1]):
            j += 1        # several marks above one paragraph
        while j < len(lines) and lines[j][1] and not MARK.match("# " + lines[j][1]):
            para.append(lines[j])
            j += 1
        at = int(next((i[3:] for i in items if i.startswith("at=")), "1"))
        joined, starts = "", []
        for ln, t in para:          # an inline formula may run over a line break
            starts.append((len(joined), ln))
            joined += t + "\n"
        hits = [(max(ln for off, ln in starts if off <= mm.start()), " ".join(mm.group(1).split()))
                for mm in _INLINE.finditer(joined)]
        if len(hits) < at:
            raise ValueError(f"{path.name}:{n}: the paragraph below has no inline "
                             f"formula number {at}")
        ln, body = hits[at - 1]
        out.append(Formula(path.name, ln, kind, items, body, False))
    return out


def _split_items(text: str) -> list[str]:
    """Split a mark at the semicolons outside brackets (a formula's (X; W, b) stays)."""
    out, depth, cur = [], 0, ""
    for c in text:
        depth += (c in "([{") - (c in ")]}")
        if c == ";" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    return out + [cur]


def all_formulas() -> list[Formula]:
    return [f for p in sorted(CHAPTERS.glob("*.py")) for f in formulas(p)]


# ---------------------------------------------------------------------------
# splitting a display into parts


def _split_top(text: str, seps: tuple[str, ...]) -> list[str]:
    """Split at separators that are outside braces and \\left ... \\right."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(text):
        c = text[i]
        if c in "{(":
            depth += 1
        elif c in "})":
            depth -= 1
        elif text.startswith("\\left", i) and not text.startswith("\\leftarrow", i):
            depth += 1
        elif text.startswith("\\begin{cases}", i):
            depth += 1      # the rows and & of cases belong to the expression
        elif text.startswith("\\end{cases}", i):
            depth -= 1
        elif text.startswith("\\right", i) and not text.startswith("\\rightarrow", i):
            depth -= 1
        if depth == 0:
            sep = next((s for s in seps if text.startswith(s, i)
                        and not (s[-1].isalpha() and text[i + len(s):i + len(s) + 1].isalpha())),
                       None)
            if sep is not None:
                parts.append("".join(cur))
                cur = []
                i += len(sep)
                continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _is_statement(text: str) -> bool:
    return len(_split_top(text, ("=", "\\in ", "\\leftarrow"))) > 1


def _equations(clauses: list[str]) -> list[str]:
    """Split a clause at the top-level commas that end a statement
    (``X &= a, & Y &= b``; ``\\gamma, \\beta \\in ...`` stays one)."""
    out: list[str] = []
    for clause in clauses:
        groups: list[str] = []
        buf = ""
        for piece in _split_top(clause, (",",)):
            buf = buf + "," + piece if buf else piece
            if _is_statement(piece):
                groups.append(buf)
                buf = ""
        if buf:
            if groups:
                groups[-1] += "," + buf
            else:
                groups.append(buf)
        out += groups
    return out


def parts(text: str) -> list[str]:
    text = re.sub(r"\\(begin|end)\{(aligned|align\*?|split|gathered)\}", " ", text)
    text = re.sub(r"\\tag\{[^}]*\}", " ", text)
    text = re.sub(r"\\text\{\([^}]*\)\}", " ", text)     # (chain rule), (marginal)
    out = []
    for row in _split_top(text, ("\\\\",)):
        row = "".join(_split_top(row, ("&",)))   # alignment marks
        for clause in _equations(_split_top(row, ("\\qquad", "\\quad", ",\\;"))):
            clause = re.sub(r"\\[;,!]", " ", clause).strip()
            clause = re.sub(r"^\\text\{[^}]*\}\s*$", "", clause)
            clause = clause.strip().rstrip(".,;:").strip()
            if clause:
                out.append(clause)
    return out


# ---------------------------------------------------------------------------
# data


def _sizes(f: Formula) -> dict[str, int]:
    sizes = dict(SIZES)
    for it in f.items:
        if it.startswith("@"):
            for kv in it[1:].split(","):
                a, _, n = kv.partition("=")
                sizes[a.strip()] = int(n)
    return sizes


class _Data:
    """Random data for one formula, in storage order number `order`."""

    def __init__(self, sizes: dict[str, int], order: int, seed: int):
        self.sizes, self.order, self.seed = sizes, order, seed

    def _store(self, data: torch.Tensor, axes: tuple[str, ...]):
        from ntlib.testing import named

        if self.order == 0 or len(axes) < 2:
            return named(data, axes)
        perm = list(reversed(axes)) if self.order == 1 else list(axes[1:]) + [axes[0]]
        return named(data, axes, storage=perm)

    def _draw(self, axes) -> torch.Tensor:
        self.seed += 1
        g = torch.Generator().manual_seed(1000 + self.seed)
        return torch.randn(*[self.sizes[a] for a in axes], generator=g,
                           dtype=torch.float64)

    def randn(self, *axes: str):
        return self._store(self._draw(axes), tuple(axes))

    def pos(self, *axes: str):
        """Positive data (for logs, square roots, probabilities)."""
        return self._store(self._draw(axes).abs() + 0.5, tuple(axes))

    def onehot(self, ax: str, *others: str):
        """Data that is one-hot along ax (for index and argmax formulas)."""
        g = torch.Generator().manual_seed(2000 + self.seed)
        self.seed += 1
        idx = torch.randint(self.sizes[ax], [self.sizes[a] for a in others], generator=g)
        data = torch.nn.functional.one_hot(idx, self.sizes[ax]).double()
        return self._store(data, tuple(others) + (ax,))

    def running(self, rows="height", cols="width"):
        """The book's running example A (Chapter 2)."""
        return self._store(torch.tensor([[3., 1., 4.], [1., 5., 9.], [2., 6., 5.]],
                                        dtype=torch.float64), (rows, cols))


def bindings(f: Formula, order: int) -> tuple[dict[str, Any], dict[str, str]]:
    """(env, substitutions) for formula f in storage order `order`."""
    import torch.nn.functional as F

    import ntlib as nt

    sizes = _sizes(f)
    data = _Data(sizes, order, seed=0)
    env: dict[str, Any] = {}
    subs: dict[str, str] = {}
    scope = dict(nt=nt, torch=torch, math=math, F=F, randn=data.randn, pos=data.pos,
                 onehot=data.onehot, running=data.running, V=env, size=sizes,
                 P=lambda x, *axes: nt.positional(x, axes),
                 N=lambda t, *axes: nt.tensor(t, axes))
    for it in f.items:
        if it.startswith("@") or it.split("=")[0] in ("expect", "at", "orders", "id",
                                                       "reason"):
            continue
        if it.startswith("~"):
            k, _, v = it[1:].partition("=")
            subs[k.strip()] = v.strip()
            continue
        m = re.fullmatch(r"(.+?)\[([^\]]*)\]", it)
        if m and "=" not in it.split("[")[0]:
            axes = tuple(a.strip() for a in m.group(2).split(",") if a.strip())
            env[m.group(1).strip()] = data.randn(*axes)
            continue
        k, eq, v = it.partition("=")
        if not eq:
            raise ValueError(f"{f.where}: cannot read the item {it!r}")
        env[k.strip()] = eval(v, scope)   # noqa: S307 (the book's own marks)
    return env, subs


# ---------------------------------------------------------------------------
# evaluation


_NMATRIX = re.compile(r"\\nmatrix\{([^}]*)\}\{([^}]*)\}\{")


def _literals(text: str, env: dict[str, Any], order: int) -> str:
    """Replace each \\nmatrix{rows}{cols}{entries} by a variable bound to it."""
    import ntlib as nt

    k = 0
    while True:
        m = _NMATRIX.search(text)
        if not m:
            return text
        depth, j = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        entries = text[m.end():j - 1]
        rows = [[float(eval(e.replace("\\cdot", "*"), {"__builtins__": {}}))   # noqa: S307
                 for e in r.split("&")] for r in entries.split("\\\\") if r.strip()]
        rname, cname = m.group(1), m.group(2)
        data = torch.tensor(rows, dtype=torch.float64)
        if not rname:
            value = nt.tensor(data[0], cname)
        else:
            value = _Data({}, order, 0)._store(data, (rname, cname))
        k += 1
        var = f"\\Lambda_{k}"
        env[var] = value
        text = text[:m.start()] + var + text[j:]


def _is_named(x: Any) -> bool:
    import ntlib as nt

    return isinstance(x, nt.NamedTensor)


def close(a: Any, b: Any) -> str | None:
    """None if a and b agree (by name), else what differs."""
    import ntlib as nt
    from ntlib.testing import assert_close

    if _is_named(a) and not nt.names(a):
        a = float(nt.positional(a, ()))
    if _is_named(b) and not nt.names(b):
        b = float(nt.positional(b, ()))
    if _is_named(a) != _is_named(b):     # X = 1: every entry is the number
        t, c = (a, b) if _is_named(a) else (b, a)
        if c is None or not isinstance(c, (int, float)):
            return f"one side is a named tensor, the other is {c!r}"
        data = nt.positional(t, nt.names(t))
        if torch.allclose(data, torch.full_like(data, float(c)), rtol=1e-9, atol=1e-9):
            return None
        return f"not every entry of the tensor is {c!r}: {t!r}"
    if not _is_named(a):
        return None if math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9) \
            else f"{float(a)!r} != {float(b)!r}"
    try:
        assert_close(a, b, check_dtype=False, rtol=1e-7, atol=1e-9)
    except AssertionError as e:
        return str(e)
    return None


_VAR = re.compile(r"^(\\?[A-Za-z]+|\\hat [A-Za-z])('|\^\*)?(\^\{?[\w,]+\}?)?(_\{?\w\}?)?$")




def _sides(text: str) -> list[str]:
    return [s.strip() for s in _split_top(text, ("=",))]


def _declared_axes(decl: str) -> list[str] | None:
    m = re.fullmatch(r"\\reals\^\{?(.*?)\}?", decl.strip())
    if not m:
        return None
    names = []
    for a in _split_top(m.group(1), ("\\times",)):
        a = re.sub(r"\[[^\]]*\]", "", a).strip()
        mm = re.fullmatch(r"\\name\{([^}]*)\}", a)
        if mm:
            names.append(mm.group(1))
        else:
            from ntlib.notation import AXIS_MACROS

            a = a.strip()
            base = a.rstrip("'*^")
            names.append(AXIS_MACROS.get(base.lstrip("\\"), base.lstrip("\\"))
                         + a[len(base):].replace("^*", "*"))
    return names


def _evaluate(text: str, env: dict[str, Any]) -> Any:
    """The formula's value, operation by operation (``as_written=True``):
    ntlib.notation otherwise evaluates the paper's attention formula through
    nt.attention, for its fused kernel, and a check of that formula against
    nt.attention would compare the block with itself."""
    from ntlib.notation import evaluate

    return evaluate(text, env, as_written=True)


def _evaluate_sides(sides: list[str], env: dict[str, Any]) -> list[Any]:
    """The value of each side, read as one equation: an index variable
    written in one side (M_{\\seq(i), \\seq'(j)}) is bound in all of them."""
    from ntlib.notation import sides as values

    if len(sides) == 1:
        return [_evaluate(sides[0], env)]
    return values(" = ".join(sides), env, as_written=True)


def _defines(expr: str, env: dict) -> str | None:
    """The tensor an entry formula defines, read on its tree as %%ntn reads it
    (nt.notation.defines); None for a formula that does not parse."""
    from ntlib.notation import NotationError, defines

    try:
        return defines(expr, env)
    except NotationError:
        return None


def run(f: Formula, order: int) -> list[str]:
    """Evaluate a marked formula in one storage order: the list of problems
    (empty when the formula holds; for a misprint, when it does NOT hold)."""
    import ntlib as nt

    env, subs = bindings(f, order)
    text = " ".join(f.text.split())
    for k, v in subs.items():
        text = text.replace(k, v)
    text = _literals(text, env, order)
    problems: list[str] = []
    last: Any = None
    compared = 0
    for part in parts(text) if f.display or True else [text]:
        if ("\\colon" in part or "\\text{for" in part or part.startswith("\\text{if")
                or "\\dots" in part or "\\ldots" in part):
            continue      # a signature, a side condition, a range of indices
        expr, _, decl = part.partition("\\in ")
        if decl and len(_split_top(expr, (",",))) > 1:
            continue      # several variables declared at once
        if decl and not decl.strip().startswith("\\reals"):
            decl = ""     # \in a set of indices, {0, 1}^..., ...: not checked
        if "\\leftarrow" in expr:
            name, _, rhs = expr.partition("\\leftarrow")
            env[name.strip()] = last = _evaluate(rhs, env)
            continue
        sides = _sides(expr)
        defined = _defines(expr, env) if len(sides) == 2 else None
        if defined is not None:
            # an entry formula defines the tensor (M_{\seq(i), \seq'(j)} = ...):
            # its index variables range over every entry at once
            env[defined] = last = _evaluate(expr, env)
            continue
        if len(sides) == 1 and _VAR.match(sides[0]) and sides[0] not in env:
            continue      # a declaration: X \in \reals^{...}
        if len(sides) > 1 and _VAR.match(sides[0]) and sides[0] not in env:
            name, sides = sides[0], sides[1:]
        else:
            name = None
        values = _evaluate_sides(sides, env)
        compared += len(values) - 1
        declaration = len(sides) == 1 and bool(_VAR.match(sides[0])) and name is None
        for s, v in zip(sides[1:], values[1:]):
            d = close(values[0], v)
            if d:
                problems.append(f"{sides[0]!r} and {s!r} differ: {d}")
        axes = _declared_axes(decl) if decl else None
        if axes is not None and not (len(sides) == 1 and _VAR.match(sides[0])):
            compared += 1
        if axes is not None:
            got = nt.names(values[-1]) if _is_named(values[-1]) else ()
            if sorted(got) != sorted(axes):
                problems.append(f"{expr.strip()!r} has axes {sorted(got)}, the formula "
                                f"says {sorted(axes)}")
        if name:
            env[name] = values[-1]
        if not declaration:
            last = values[-1]
    expect = f.item("expect")
    if expect is not None:
        import torch.nn.functional as F

        want = eval(expect, dict(nt=nt, torch=torch, math=math, F=F, V=env,   # noqa: S307
                                 size=_sizes(f),
                                 P=lambda x, *axes: nt.positional(x, axes),
                                 N=lambda t, *axes: nt.tensor(t, axes)))
        d = close(want, last)
        compared += 1
        if d:
            problems.append(f"the formula's value differs from expect=: {d}")
    if not compared:
        raise AssertionError(f"{f.where}: the mark checks nothing (no equation with two "
                             f"sides, no declared axes of a result, no expect=)")
    return problems


def orders(f: Formula) -> int:
    return int(f.item("orders", "3"))


def check(f: Formula) -> Any:
    """Check a marked formula in every storage order; raise AssertionError
    naming chapter:line.  Returns the value of the last part in order 0."""
    import ntlib as nt

    if f.kind == "excluded":
        return None
    for order in range(orders(f)):
        if f.kind == "misprint":
            try:
                problems = run(f, order)
            except nt.AxisError:
                continue      # the printed form does not even type-check: differs
            if not problems:
                raise AssertionError(f"{f.where}: the quoted misprint agrees with the "
                                     f"code (order {order}): it is not a misprint")
            continue
        problems = run(f, order)
        if problems:
            raise AssertionError(f"{f.where} (storage order {order}): "
                                 + "; ".join(problems))
    return True


def counts() -> tuple[int, int]:
    """(N, M): formulas checked, computing formulas marked."""
    fs = all_formulas()
    return sum(f.kind != "excluded" for f in fs), len(fs)


if __name__ == "__main__":   # a listing: python tests/book_formulas.py
    for f in all_formulas():
        print(f.where, f.kind, " ".join(f.text.split())[:90])
    print("N of M:", *counts())
