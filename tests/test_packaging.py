"""The package as a user installs it: a wheel built from the source tree.

The editable install of the development venv reads ntlib/ in place, so a
package that pyproject.toml forgot (a new subpackage such as ntlib.core or
ntlib._internal) or a missing data file (py.typed) would go unnoticed there.
This test takes the wheel of conftest.py's ``wheel`` fixture (built from a
copy of the tracked files pip needs, offline), checks that it holds
every module of the source tree and the py.typed marker, then unpacks it into
a temporary folder and imports every module from there, with Python's site
machinery off (``-S``), so that the editable install cannot fill a gap.
"""

import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import ntlib

PKG = pathlib.Path(ntlib.__file__).resolve().parent


def _source_files():
    """Every file of the package in the source tree that git would track."""
    out = set()
    for path in PKG.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        out.add(path.relative_to(PKG.parent).as_posix())
    return out


def _modules(files):
    mods = []
    for f in sorted(files):
        if not f.endswith(".py"):
            continue
        parts = f[:-3].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


def test_wheel_holds_every_module_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    in_wheel = {n for n in names if n.startswith("ntlib/")}
    source = _source_files()
    assert "ntlib/py.typed" in source, "the py.typed marker is missing from ntlib/"
    missing = sorted(source - in_wheel)
    assert not missing, f"the wheel lacks {missing}"
    # the subpackages that a fixed package list once left out
    for sub in ("ntlib/core/__init__.py", "ntlib/_internal/__init__.py",
                "ntlib/exercises/__init__.py"):
        assert sub in in_wheel


def test_wheel_imports_without_the_source_tree(wheel, tmp_path):
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    deps = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    modules = _modules(_source_files())
    script = (
        "import importlib, pathlib, sys\n"
        f"root = pathlib.Path({str(target)!r}).resolve()\n"
        f"for m in {modules!r}:\n"
        "    mod = importlib.import_module(m)\n"
        "    where = pathlib.Path(mod.__file__).resolve()\n"
        "    assert root in where.parents, (m, where)\n"
        "import ntlib as nt\n"
        "x = nt.tensor([[1., 2.], [3., 4.]], ('a', 'b'))\n"
        "print(nt.show(nt.sum(x, 'a')))\n")
    env = {"PYTHONPATH": ":".join([str(target)] + sorted(deps)),
           "PATH": "/usr/bin:/bin", "NTLIB_DEVICE": "cpu"}
    run = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True,
                         text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == ["b[2]", "[4. 6.]"]
