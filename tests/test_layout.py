"""The package's layout: one declared internal layer, a narrow public face.

- core/operations.py holds the formulas of section 3; broadcasting, the
  contraction planner and the indexing engine are modules of their own;
- the named-tensor type lives with the functions that build it, in the
  internal layer, registered nowhere; no other module reads a private
  attribute of it; no module imports one that imports it back;
- public modules import from ntlib._internal and the public names of other
  modules, never a private name of a public module (checked by reading every
  import with ast);
- nt.* is the notation (sections 2-4) in at most 90 names; the other parts
  are namespaces; "from ntlib import *" shadows no Python built-in;
- NamedTensor's methods are the functions of the same name (one table), so
  help(x.sum) shows nt.sum's docstring.
"""

import ast
import builtins
import inspect
import pathlib
import subprocess
import sys

import pytest

import ntlib as nt

PKG = pathlib.Path(nt.__file__).resolve().parent


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _is_private_module(name):
    return any(p.startswith("_") for p in name.split("."))


def _resolve(module, level, importer, is_package):
    if level == 0:
        return module
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(name, path):
    """(imported module, imported name or None) for every import in the file."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = _resolve(node.module, node.level, name, is_package)
            for alias in node.names:
                yield mod, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def test_no_private_name_of_a_public_module_is_imported():
    bad = []
    for name, path in _modules():
        for mod, imported in _imports(name, path):
            if not mod.startswith("ntlib"):
                continue
            if _is_private_module(mod):
                continue        # the internal layer (or funsor_compat inside it)
            if imported and imported.startswith("_") and imported != "__all__" \
                    and not _is_submodule(mod, imported):
                bad.append(f"{name}: from {mod} import {imported}")
    assert not bad, "\n".join(bad)


def _is_submodule(mod, name):
    """from mod import name imports a module (a private one is the internal layer)."""
    base = PKG.parent.joinpath(*mod.split("."), name)
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_the_scan_sees_a_private_import(tmp_path):
    # the check above can fail: a made-up module importing core's private name
    src = "from .core.operations import _map\nfrom ._internal import make\n"
    path = tmp_path / "fake.py"
    path.write_text(src)
    found = [(m, i) for m, i in _imports("ntlib.fake", path)]
    assert ("ntlib.core.operations", "_map") in found
    assert ("ntlib._internal", "make") in found
    assert not _is_submodule("ntlib.core.operations", "_map")
    assert _is_submodule("ntlib", "_internal")


def _type_only_imports(path):
    """The import nodes inside "if TYPE_CHECKING:" blocks (for annotations
    only: they never run)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        out.add((sub.lineno, sub.col_offset))
    return out


def test_internal_layer_does_not_import_public_modules():
    """At run time; an annotation may name a public type (Named) under
    "if TYPE_CHECKING:"."""
    for name, path in _modules():
        if not name.startswith("ntlib._internal"):
            continue
        type_only = _type_only_imports(path)
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if (node.lineno, node.col_offset) in type_only if isinstance(
                    node, (ast.Import, ast.ImportFrom)) else True:
                continue
            mods = ([_resolve(node.module, node.level, name, is_package)]
                    if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
            for mod in mods:
                assert not mod.startswith("ntlib") or mod.startswith("ntlib._internal"), \
                    f"{name} imports {mod}"


def test_type_only_imports_are_told_apart(tmp_path):
    path = tmp_path / "fake.py"
    path.write_text("from typing import TYPE_CHECKING\nimport ntlib.core\n"
                    "if TYPE_CHECKING:\n    from ntlib.core import Named\n")
    assert _type_only_imports(path) == {(4, 4)}


# --------------------------------------------------------------------------
# one layer owns the named tensor (issue 28)

def _module_imports(name, path, local):
    """The ntlib modules that module ``name`` imports when it is imported (with
    ``local``, in its functions too), type-only imports left out.  An import
    of a submodule from its own package ("from . import base") depends on the
    submodule, not on the package, which is being imported already."""
    known = dict(_modules())
    type_only = _type_only_imports(path)
    tree = ast.parse(path.read_text())
    in_functions = {(n.lineno, n.col_offset) for f in ast.walk(tree)
                    if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                    for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        key = (node.lineno, node.col_offset)
        if key in type_only or (key in in_functions and not local):
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
            continue
        mod = _resolve(node.module, node.level, name, is_package)
        for alias in node.names:
            sub = f"{mod}.{alias.name}"
            if sub in known:
                out.add(sub)
            elif mod in known:   # a name from a package (the importer's own: a cycle)
                out.add(mod)
    out.discard(name)
    return out


def _cycles(graph):
    """The import cycles of graph {module: imported modules}: its strongly
    connected components of more than one module."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    """No module imports, while it is being imported, a module that imports it
    back; within the internal layer not even from inside a function."""
    mods = dict(_modules())
    graph = {n: _module_imports(n, p, local=False) for n, p in mods.items()}
    assert not _cycles(graph), _cycles(graph)
    layer = {n: {m for m in _module_imports(n, p, local=True) if m.startswith("ntlib._internal")}
             for n, p in mods.items() if n.startswith("ntlib._internal")}
    assert not _cycles(layer), _cycles(layer)
    # the graph is read, not empty: the type's module stands on base, checks on both
    assert "ntlib._internal.base" in graph["ntlib._internal.tensor"]
    assert {"ntlib._internal.base", "ntlib._internal.tensor"} <= graph["ntlib._internal.checks"]


def test_the_cycle_scan_can_fail(tmp_path):
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    path = tmp_path / "m.py"
    path.write_text("from . import base\nfrom ..core import shape\n"
                    "def f():\n    from .tensor import make\n")
    assert _module_imports("ntlib._internal.m", path, local=False) == {
        "ntlib._internal.base", "ntlib.core"}
    assert "ntlib._internal.tensor" in _module_imports("ntlib._internal.m", path, local=True)


def test_the_type_and_its_construction_live_in_one_module():
    """NamedTensor is defined beside the functions that build every named tensor,
    and nothing registers it anywhere (no registry: is_named and make name the
    class itself)."""
    from ntlib import _internal
    home = nt.NamedTensor.__module__
    assert home == "ntlib._internal.tensor"
    for fn in (_internal.make, _internal.wrap, _internal.as_named, _internal.is_named):
        assert fn.__module__ == home, fn
    assert "NamedTensor" in _internal.make.__globals__ and \
        "NamedTensor" in _internal.is_named.__code__.co_names
    for name, path in _modules():
        text = path.read_text()
        for word in ("set_named_type", "named_type()", "_NAMED"):
            assert word not in text, f"{name} still has a registry of the type: {word}"


def _private_attributes_of_the_type():
    x = nt.randn(seed=0, a=2, b=3)
    x.inputs, x.fresh   # the computed attributes, so that they are in its dict
    found = {n for n in [*vars(nt.NamedTensor), *vars(x)]
             if n.startswith("_") and not n.endswith("__")}
    return found | {"_names"}   # the attribute it had before the names were public


def _private_reads(path, private):
    tree = ast.parse(path.read_text())
    return [(node.lineno, node.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in private]


def test_no_private_attribute_of_the_type_is_read_elsewhere():
    private = _private_attributes_of_the_type()
    assert {"_scalar", "_ast_values"} <= private, private
    home = pathlib.Path(sys.modules[nt.NamedTensor.__module__].__file__).resolve()
    found = {name: reads for name, path in _modules() if path.resolve() != home
             and (reads := _private_reads(path, private))}
    assert not found, found


def test_the_private_read_scan_can_fail(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f(x):\n    return x._names, x.names, x._scalar('a')\n")
    assert _private_reads(path, _private_attributes_of_the_type()) == [
        (2, "_names"), (2, "_scalar")]


def test_each_room_has_one_job():
    """The operations of section 3 are formulas over three engines, each in a
    module of its own: broadcasting by name, the contraction planner, the
    indexing engine; every public operation is defined with the formulas."""
    from ntlib.core import _contraction, _indexing, _layouts, operations
    homes = {nt.core.layout: _layouts, nt.core.elementwise: _layouts,
             nt.core.einsum: _contraction, nt.core.einsum_equation: _contraction,
             nt.core.select: _indexing}
    for fn, mod in homes.items():
        assert fn.__module__ == mod.__name__, (fn, fn.__module__)
    for name in operations.__all__:
        fn = getattr(operations, name)
        assert inspect.unwrap(fn).__module__ == operations.__name__, name
    # no room holds the whole floor again
    for path in (PKG / "core").glob("*.py"):
        assert len(path.read_text().splitlines()) < 1200, path.name


def test_public_face_is_narrow():
    public = [n for n in dir(nt) if not n.startswith("_")]
    assert len(public) <= 90, len(public)
    for ns in ("core", "nn") + nt._NAMESPACES:
        assert hasattr(nt, ns), ns
    # the other parts are namespaces, not flat names
    for flat in ("kmeans", "box_rows", "STAR", "joint", "transformer", "derivative",
                 "to_xarray", "sql_contract"):
        assert not hasattr(nt, flat), flat
    assert nt.examples.kmeans and nt.calculus.STAR == "*" and nt.models.transformer


def test_star_import_shadows_no_builtin():
    code = ("import builtins\nfrom ntlib import *\n"
            "assert sum is builtins.sum and max is builtins.max\n"
            "import ntlib\n"
            "assert not [n for n in ntlib.__all__ if hasattr(builtins, n)]\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert not [n for n in nt.__all__ if hasattr(builtins, n)]


@pytest.mark.parametrize("method", ["sum", "mean", "max", "min", "prod", "var", "std",
                                    "logsumexp", "norm", "softmax", "log_softmax",
                                    "argmax", "argmin", "exp", "log", "sqrt", "sigmoid",
                                    "tanh", "rename", "astype", "positional"])
def test_methods_are_the_functions(method):
    x = nt.randn(seed=0, a=2, b=3)
    bound = getattr(x, method)
    assert bound.__func__ is getattr(nt, method)
    assert bound.__doc__ == getattr(nt, method).__doc__ and bound.__doc__


# --------------------------------------------------------------------------
# the listings the chapters show are the formulas

PLUMBING = ("_as_funsor", "as_named(", "_require(", "_not_axis(", "_wrap(", "catch_warnings",
            "raise ", "_fmt(", "fmt(", "AxisError(", "isinstance(x", "``", ":func:`",
            "make(", "._names", "_core.", "_nn.")

_WORD = r"[A-Za-z_][A-Za-z_0-9]*"


def _not_in_file(fn, text):
    """The words (identifiers, keywords) of a listing that its function's
    source in the file does not hold: a listing may leave text out
    (annotations, examples, markup) but never put any in."""
    import inspect
    import re
    target = inspect.unwrap(fn)
    if isinstance(target, type):
        return []
    source = inspect.getsource(target)
    have = set(re.findall(_WORD, source))
    return sorted(set(re.findall(_WORD, text)) - have)


def _shown():
    import re
    names = set()
    for path in sorted((PKG.parent / "chapters").glob("*.py")):
        for m in re.finditer(r"nt\.source\(((?:[^()]|\([^()]*\))*)\)", path.read_text()):
            for n in re.split(r",\s*(?![^()]*\))", m.group(1)):
                n = n.strip()
                if n and "=" not in n and "solution" not in n:
                    names.add(n)
    return sorted(names)


# shown because checking is their subject: chapter 3 shows how binary operations
# match axes by name and refuse a size clash
CHECKING_IS_THE_POINT = {"nt.core.layout"}

# listings that build their results with make(data, names), the unchecked
# constructor of ntlib._internal.tensor: nt.tensor checks its arguments and
# moves the data to nt.device(), which costs microseconds per operation (and
# would gather a DTensor); make keeps the data where it is.  No listing may
# join them.
CONSTRUCTS = {"nt.attention.fused", "nt.calculus.derivative", "nt.calculus.differential",
              "nt.calculus.identity", "nt.calculus.partial_derivatives", "nt.causal_mask",
              "nt.contract", "nt.core.elementwise", "nt.core.reduce", "nt.flatten",
              "nt.lift", "nt.rename", "nt.unflatten", "nt.unroll",
              "nt.distributed.shard"}   # builds a named tensor around a DTensor


def test_listings_hold_no_plumbing():
    shown = _shown()
    assert len(shown) > 60, shown
    bad = []
    for n in shown:
        if n in CHECKING_IS_THE_POINT:
            continue
        fn = eval(n, {"nt": nt})
        text = nt.source(fn).text
        body = "\n".join(line for line in text.splitlines()
                         if not line.lstrip().startswith(("@", "#")))
        found = [p for p in PLUMBING if p in body
                 and not (n in CONSTRUCTS and p == "make(")]
        if found:
            bad.append(f"{n}: {found}")
        added = _not_in_file(fn, text)
        if added:
            bad.append(f"{n}: the listing shows {added}, which the file does not hold")
    assert not bad, "\n".join(bad)
    stale = sorted(n for n in CONSTRUCTS if n not in shown
                   or "make(" not in nt.source(eval(n, {"nt": nt})).text)
    assert not stale, f"CONSTRUCTS lists listings that no longer need it: {stale}"


def test_the_plumbing_scan_can_fail():
    def f(x):
        """A ``literal``."""
        if not isinstance(x, int):
            raise TypeError("no")
        return x
    text = nt.source(f).text
    assert "``" not in text and "A literal." in text       # markup rendered as text
    assert "raise " in text and "isinstance(x" in text     # what the test above refuses
    assert _not_in_file(f, text) == []
    assert _not_in_file(f, text + "\nnt.sum") == ["nt", "sum"]   # rewritten text is found


# --------------------------------------------------------------------------
# each namespace shows its own functions (issue 28)


@pytest.mark.parametrize("space", nt._NAMESPACES)
def test_each_namespace_shows_only_its_own_functions(space):
    mod = getattr(nt, space)
    assert mod.__all__, space
    assert dir(mod) == sorted(mod.__all__), (space, sorted(set(dir(mod)) - set(mod.__all__)))
    for n in mod.__all__:
        obj = getattr(mod, n)
        home = getattr(obj, "__module__", None)
        if callable(obj) and home is not None:
            assert home == mod.__name__ or home.startswith(mod.__name__ + "."), \
                f"nt.{space}.{n} is {home}'s, not the namespace's own"


def test_the_namespaces_are_listed_once():
    """ntlib._NAMESPACES is the one list: no other file spells the list out."""
    import re
    spelled = re.compile(r'"calculus",\s*"examples"|"examples",\s*"models"')
    copies = []
    for path in [*PKG.parent.glob("tests/*.py"), *PKG.parent.glob("_ext/*.py"),
                 *PKG.parent.glob("benchmarks/*.py"), *PKG.parent.glob("tools/*.py"),
                 *PKG.rglob("*.py")]:
        if spelled.search(path.read_text()) and path != PKG / "__init__.py" \
                and path.name != "test_layout.py":
            copies.append(str(path))
    assert not copies, copies
