"""The book's reference part, generated from ntlib, and links to it from the chapters.

**Pages.**  When the build starts, this extension writes ``reference/*.rst``
(git-ignored; ``_toc.yml`` takes them by a glob) from the package as it is:

- ``reference/nt.rst`` — everything at ``nt.*`` (``import ntlib as nt``): each
  public, non-module attribute of ``ntlib`` that ntlib defines outside the
  namespaces below, grouped by the module that defines it, under that
  module's docstring;
- ``reference/nt.NAME.rst`` — one page per namespace ``nt.NAME``: the
  namespaces the book calls through their module (``ntlib._NAMESPACES``) and any
  other public submodule that adds nothing to ``nt.*``; the entries are the
  module's ``__all__`` in order.

Each entry is Sphinx autodoc's (signature and docstring: the formula), followed
by the chapters whose text or code uses it ("In the book: ...").  Names moved
from one module to another, a new namespace, a new function: the pages follow
at the next build.

**Links.**  In the chapters, inline code that names an ntlib function,
``nt.contract`` or ``nt.examples.kmeans`` (also ``nt.contract(A, x, ...)``),
becomes a link to its entry (every builder: HTML and PDF).  In the HTML, the
same names in code cells and listings (``nt.contract(X, Y, over="b")``) link
to their entries too: the highlighted tokens ``nt`` ``.`` ``contract`` are
wrapped in a link (class ``ntn-ref``) when the page is written.  A name is
looked up in the package (so a name reachable two ways, e.g. ``nt.kmeans``
and ``nt.examples.kmeans`` while both exist, links to the one entry of that
function); a name that is not public stays plain code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
import typing
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform

PACKAGE = "ntlib"
ALIAS = "nt"
OUT = "reference"

_NAME = re.compile(rf"^{ALIAS}((?:\.[A-Za-z_]\w*)+)(?:\(.*\))?$", re.S)


# --------------------------------------------------------------------------
# what the package offers

def _public(name: str) -> bool:
    return not name.startswith("_")


def _defined_in_ntlib(obj) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == PACKAGE


def namespaces(pkg) -> list:
    """[(name, module)] of the namespace pages, in ntlib._NAMESPACES order, then others."""
    found = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if _public(info.name):
            found[info.name] = importlib.import_module(f"{PACKAGE}.{info.name}")
    flat = {id(getattr(pkg, n)) for n in dir(pkg) if _public(n)}
    names = [n for n in pkg._NAMESPACES if n in found]    # ntlib's one list
    for n, mod in sorted(found.items()):
        if n in names:
            continue
        exported = [getattr(mod, a) for a in getattr(mod, "__all__", ())]
        if exported and not any(id(o) in flat for o in exported):
            names.append(n)
    return [(n, found[n]) for n in names]


def _members(mod) -> list:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, o in vars(mod).items() if _public(n)
                 and not isinstance(o, types.ModuleType) and _defined_in_ntlib(o)]
    return list(names)


def pages(pkg) -> list:
    """[(slug, title, groups)], groups = [(module, [(name, target, obj)])]."""
    spaces = namespaces(pkg)
    space_modules = {m.__name__ for _, m in spaces}
    top: dict = {}
    for name in sorted(dir(pkg)):
        obj = getattr(pkg, name)
        if (not _public(name) or isinstance(obj, types.ModuleType)
                or not _defined_in_ntlib(obj) or obj.__module__ in space_modules):
            continue
        top.setdefault(obj.__module__, []).append((name, f"{PACKAGE}.{name}", obj))
    order = list(getattr(pkg, "__all__", ()))

    def rank(entry):
        return order.index(entry[0]) if entry[0] in order else len(order)

    groups = [(importlib.import_module(m), sorted(es, key=rank)) for m, es in top.items()]
    groups.sort(key=lambda g: min(rank(e) for e in g[1]))
    out = [(ALIAS, ALIAS, groups)]
    for n, mod in spaces:
        entries = [(a, f"{mod.__name__}.{a}", getattr(mod, a)) for a in _members(mod)]
        out.append((f"{ALIAS}.{n}", f"{ALIAS}.{n}", [(mod, entries)]))
    return out


def targets(pkg) -> dict:
    """id(object) -> the documented name of its entry (methods of documented
    classes included)."""
    found = {}
    for _, _, groups in pages(pkg):
        for _, entries in groups:
            for _, target, obj in entries:
                found.setdefault(id(obj), target)
                if inspect.isclass(obj):
                    for m, f in vars(obj).items():
                        if _public(m) and callable(f) and getattr(f, "__doc__", None):
                            found.setdefault(id(f), f"{target}.{m}")
    return found


def resolve(pkg, dotted: str):
    """The object ``nt.<dotted>`` names, or None."""
    obj = pkg
    for part in dotted.strip(".").split("."):
        if not _public(part):
            return None
        try:
            obj = inspect.getattr_static(obj, part) if inspect.isclass(obj) else getattr(obj, part)
        except AttributeError:
            return None
    return obj


# --------------------------------------------------------------------------
# where the chapters use each entry

def _chapters(srcdir: Path) -> list:
    import yaml

    toc = yaml.safe_load((srcdir / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", [])
                             for c in part.get("chapters", []) if "file" in c]
    return [f for f in files if f.startswith("chapters/")]


def usage(pkg, srcdir: Path) -> dict:
    """id(object) -> chapter docnames whose text source mentions ``nt.<name>``."""
    found: dict = {}
    for doc in _chapters(srcdir):
        path = srcdir / (doc + ".py")
        if not path.exists():
            continue
        for m in re.finditer(rf"\b{ALIAS}((?:\.[A-Za-z_]\w*)+)", path.read_text()):
            obj = resolve(pkg, m.group(1))
            if obj is not None and not isinstance(obj, types.ModuleType):
                docs = found.setdefault(id(obj), [])
                if doc not in docs:
                    docs.append(doc)
    return found


# --------------------------------------------------------------------------
# writing the pages

def _title(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _directive(obj) -> tuple:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return "autoexception", []
    if inspect.isclass(obj):
        return "autoclass", [":members:"]
    if callable(obj):
        return "autofunction", []
    return "autodata", [":annotation:"]


def _docstring_lines(mod) -> tuple:
    doc = inspect.getdoc(mod) or ""
    head, _, rest = doc.partition("\n")
    return head.strip().rstrip("."), rest.strip()


def _entry(name, target, obj, used) -> str:
    kind, options = _directive(obj)
    lines = [f".. {kind}:: {target}"] + [f"   {o}" for o in options]
    docs = used.get(id(obj), [])
    if docs:
        links = ", ".join(f":doc:`/{d}`" for d in docs)
        lines += ["", f"   *In the book:* {links}"]
    return "\n".join(lines) + "\n"


def render(slug, title, groups, used) -> str:
    out = [".. This page is generated by _ext/ntlib_reference.py; edit ntlib's docstrings instead.\n",
           _title(f"``{title}``", "=")]
    if slug == ALIAS:
        out.append(f"Everything at ``{ALIAS}.*`` after ``import {PACKAGE} as {ALIAS}``, "
                   "grouped by the module that defines it.  The other pages of this part "
                   f"are the namespaces, called as ``{ALIAS}.NAME.f``.\n")
        for mod, entries in groups:
            head, rest = _docstring_lines(mod)
            out.append(_title(head or mod.__name__, "-"))
            out.append(f".. py:currentmodule:: {PACKAGE}\n")
            if rest:
                out.append(rest + "\n")
            out += [_entry(n, t, o, used) for n, t, o in entries]
    else:
        (mod, entries), = groups
        out.append(f".. automodule:: {mod.__name__}\n")
        out.append(f".. py:currentmodule:: {mod.__name__}\n")
        out += [_entry(n, t, o, used) for n, t, o in entries]
    return "\n".join(out)


def _index(all_pages) -> str:
    rows = []
    for slug, title, groups in all_pages:
        summary = "; ".join(_docstring_lines(m)[0] for m, _ in groups)
        rows.append(f"   * - :doc:`{slug}`\n     - {summary}")
    return (".. This page is generated by _ext/ntlib_reference.py.\n\n"
            + _title(f"The modules of {PACKAGE}", "=") + "\n"
            f"Every public function of ``{PACKAGE}``, generated from its docstring: the "
            "signature, the formula it implements, and the chapters that run it.  In "
            f"the chapters, a function named in the text (``{ALIAS}.contract``) links "
            "to its entry here.\n\n"
            ".. list-table::\n   :header-rows: 1\n   :widths: 30 70\n\n"
            "   * - page\n     - contents\n" + "\n".join(rows) + "\n")


def write_pages(srcdir: Path) -> list:
    """Write reference/*.rst (only files whose text changed); return the slugs."""
    pkg = importlib.import_module(PACKAGE)
    all_pages = pages(pkg)
    used = usage(pkg, srcdir)
    out = srcdir / OUT
    out.mkdir(exist_ok=True)
    want = {"index.rst": _index(all_pages)}
    for slug, title, groups in all_pages:
        want[f"{slug}.rst"] = render(slug, title, groups, used)
    for old in out.glob("*.rst"):
        if old.name not in want:
            old.unlink()
    for name, text in want.items():
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return [slug for slug, _, _ in all_pages]


def _generate(app, config):
    write_pages(Path(app.srcdir))


_LITERAL = re.compile(r"(``.+?``)")
_BLOCK = re.compile(r"\s*(\|(\s|$)|\+[-=])")


def escape_bars(lines) -> None:
    """In docstrings, ``|x|`` is the paper's size or absolute value, never a
    reST substitution: escape each ``|`` outside inline literals (the lines of
    line blocks and tables, which start with ``| `` or ``+-``, are left alone)."""
    for k, line in enumerate(lines):
        if "|" not in line or _BLOCK.match(line):
            continue
        parts = _LITERAL.split(line)
        lines[k] = "".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def _process_docstring(app, what, name, obj, options, lines):
    escape_bars(lines)


# --------------------------------------------------------------------------
# links from the chapters

_TARGETS: dict = {}


def _known(pkg) -> dict:
    """targets(pkg), computed once per process (keys are object ids)."""
    if not _TARGETS:
        _TARGETS.update(targets(pkg))
    return _TARGETS


class LinkNtNames(SphinxTransform):
    """Inline code naming an ntlib function becomes a link to its entry."""

    default_priority = 400

    def apply(self, **kwargs):
        pkg = importlib.import_module(PACKAGE)
        known = _known(pkg)
        for lit in list(self.document.findall(nodes.literal)):
            if isinstance(lit.parent, (nodes.reference, addnodes.pending_xref)) \
                    or "xref" in lit.get("classes", []):
                continue
            m = _NAME.match(lit.astext().strip())
            if not m:
                continue
            target = known.get(id(resolve(pkg, m.group(1))))
            if target is None:
                continue
            ref = addnodes.pending_xref(
                "", refdomain="py", reftype="obj", reftarget=target,
                refexplicit=True, refwarn=False, refdoc=self.env.docname)
            lit.replace_self(ref)
            ref += lit


# highlighted code: nt . name ( . name )* as Pygments writes it
_TOKEN = r'<span class="n">{}</span>'
_DOT = r'<span class="o">\.</span>'
_CODE_NAME = re.compile(
    _TOKEN.format(ALIAS) + r"((?:" + _DOT + _TOKEN.format(r"[A-Za-z_]\w*") + r")+)")
_PART = re.compile(_TOKEN.format(r"([A-Za-z_]\w*)"))


def _link_code(app, pagename, templatename, context, doctree):
    """Link nt.NAME in the highlighted code of a chapter to its entry."""
    body = context.get("body")
    if app.builder.format != "html" or not body or not pagename.startswith("chapters/"):
        return
    pkg = importlib.import_module(PACKAGE)
    known = _known(pkg)
    objects = app.env.get_domain("py").objects

    def link(m):
        parts = _PART.findall(m.group(1))
        # the longest prefix that names a documented object: nt.f in nt.f.__name__
        for k in range(len(parts), 0, -1):
            target = known.get(id(resolve(pkg, ".".join(parts[:k]))))
            if target in objects:
                entry = objects[target]
                url = app.builder.get_relative_uri(pagename, entry.docname) + "#" + entry.node_id
                n = m.group(0).count("</span>") - 2 * (len(parts) - k)
                spans = m.group(0).split("</span>")
                head = "</span>".join(spans[:n]) + "</span>"
                rest = m.group(0)[len(head):]
                return (f'<a class="ntn-ref" href="{url}" title="{target}">{head}</a>{rest}')
        return m.group(0)

    context["body"] = _CODE_NAME.sub(link, body)


# --------------------------------------------------------------------------
# types in signatures that have no entry of their own (make book builds with
# -n, so every type in a signature resolves or is named here)

# an annotation's name inside ntlib -> the object it stands for in another
# project's documentation (through the stored inventories, tools/inventories.py)
EXTERNAL = {"ntlib.testing.SearchStrategy": "hypothesis.strategies.SearchStrategy"}
# what nt.show and nt.source return: text with a rich display, described in
# the entries of those two functions; shown as its name, without a link
UNLINKED = {"ntlib.display.Pretty", "ntlib.display.Source"}


def _signature_types(app, env, node, contnode):
    """Resolve or plainly show the types of ntlib's signatures that have no
    entry: a TypeVar (``F`` in ``Callable[[F], F]``) is shown as its name,
    an alias of EXTERNAL links to the other project's documentation."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if target in EXTERNAL:
        from sphinx.ext import intersphinx

        alias = node.deepcopy()
        alias["reftarget"] = EXTERNAL[target]
        return intersphinx.missing_reference(app, env, alias, contnode)
    if target in UNLINKED:
        return contnode
    module, _, attr = target.rpartition(".")
    if not module.startswith(PACKAGE):
        return None
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None
    if isinstance(obj, typing.TypeVar):
        return contnode
    return None


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.intersphinx")
    app.connect("missing-reference", _signature_types)
    # before sphinx-external-toc reads _toc.yml (its glob takes the pages)
    app.connect("config-inited", _generate, priority=100)
    app.connect("autodoc-process-docstring", _process_docstring)
    app.add_transform(LinkNtNames)
    app.connect("html-page-context", _link_code)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
