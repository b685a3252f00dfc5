"""Every chapter as Google Colab runs it: ntlib installed, no clone in sight.

In Colab the hidden set-up cell (tools/nb.py) installs
``ntlib[chapters] @ git+<repository>`` and the notebook runs with nothing else
of the repository around it.  This test takes the same path offline:

1. a wheel is built from the source tree (what pip builds from the git URL);
   it must carry the book's files that chapters read (setup.py:
   ``ntlib/_book/``);
2. a fresh venv gets that wheel and, beside it, exactly the distributions that
   the wheel's metadata asks for with the ``chapters`` extra (and what they
   need in turn), linked from this venv instead of downloaded, plus ipykernel
   to run a notebook (Colab has it).  A chapter importing a package that
   ``ntlib[chapters]`` does not declare fails with ModuleNotFoundError, as it
   would in Colab; ``ntlib.__file__`` is checked to be the wheel's;
3. the notebooks are copied to an empty folder and every chapter is executed
   there with nbclient, in a kernel of that venv with no PYTHONPATH: no cell
   may raise or write to stderr.

It runs every chapter once more (about 4 minutes on 2 cores), so it is not part
of ``make test`` (which CI runs twice) but its own target, run once by
``.ci/run``::

    make test-installed            # BOOK_INSTALLED=1 pytest tests/test_installed.py
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

pytestmark = pytest.mark.skipif(
    not os.environ.get("BOOK_INSTALLED"),
    reason="runs every chapter from an installed wheel: make test-installed")


def _requirements(lines, extras):
    from packaging.requirements import Requirement

    out = []
    for line in lines or ():
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras):
            out.append(req)
    return out


def _closure(roots):
    """The installed distributions that ``roots`` (Requirements) need, transitively."""
    from packaging.utils import canonicalize_name

    seen: dict = {}
    todo = list(roots)
    while todo:
        req = todo.pop()
        key = canonicalize_name(req.name)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            if req in roots:
                raise
            continue                    # an optional dependency not installed here
        extras = set(req.extras) | {""}
        if key in seen and extras <= seen[key][1]:
            continue
        seen[key] = (dist, seen.get(key, (None, set()))[1] | extras)
        todo += _requirements(dist.requires, extras)
    return [dist for dist, _ in seen.values()]


def _link_distribution(dist, site: Path):
    """Link a distribution's top-level files into ``site`` (no copy, no download)."""
    tops = {Path(f).parts[0] for f in dist.files or ()}
    for top in sorted(tops):
        if top in ("..", "__pycache__") or top.startswith("__editable__"):
            continue
        target = Path(dist.locate_file(top)).resolve()
        if target.exists() and not (site / top).exists():
            (site / top).symlink_to(target)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A venv with the wheel and its declared dependencies only: its python."""
    from packaging.requirements import Requirement

    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("ntlib/_book/references.bib", "ntlib/_book/_config.yml",
                "ntlib/_book/chapters/a5_references.py"):
        assert rel in names, f"the wheel does not carry {rel}"
    assert any(re.match(r"ntlib/_book/benchmarks/results/.+\.json$", n) for n in names), \
        "the wheel does not carry the benchmark results (Appendix A.3)"
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    declared = _requirements(re.findall(r"^Requires-Dist: (.+)$", text, re.M), {"", "chapters"})
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    # the kernel that runs a notebook, as Colab's Jupyter has it
    for dist in _closure(declared + [Requirement("ipykernel")]):
        _link_distribution(dist, site)
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                          "-q", "--target", str(site), str(wheel)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(python), "-c", "import ntlib; print(ntlib.__file__)"],
                           capture_output=True, text=True, env=env, cwd=venv)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().parent == (site / "ntlib").resolve(), \
        f"ntlib imported from {where.stdout.strip()}, not from the wheel in {site}"
    return python


def test_the_setup_cell_installs_from_the_configured_repository():
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for path in CHAPTERS:
        setup = nbformat.read(path, as_version=4).cells[1].source
        assert f'"ntlib[chapters] @ git+{url}@' in setup, \
            f"{path.name}: the set-up cell does not install from {url}"


@pytest.fixture(scope="module")
def kernel(installed, tmp_path_factory):
    """A kernel spec for the venv's python, found through JUPYTER_PATH."""
    jpath = tmp_path_factory.mktemp("jupyter")
    spec = jpath / "kernels" / "installed-ntlib"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [str(installed), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ntlib from its wheel", "language": "python"}))
    old = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "PYTHONPATH", "MPLBACKEND")}
    os.environ["JUPYTER_PATH"] = str(jpath)
    os.environ.pop("PYTHONPATH", None)      # the kernel must not see the source tree
    os.environ["MPLBACKEND"] = "Agg"
    yield "installed-ntlib"
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_from_the_installed_package(path, kernel, tmp_path):
    from nbclient import NotebookClient

    copy = tmp_path / path.name          # elsewhere: no chapters/, no ntlib/ beside it
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name=kernel,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    where = [o for c in nb.cells for o in c.get("outputs", [])
             if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    assert not where, f"{path.name} wrote to stderr: {where[0]['text'][:500]}"
