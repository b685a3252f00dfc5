"""Author and execute the book's notebooks.

Every chapter has two files in ``chapters/``:

- ``NAME.py`` — the text source (a jupytext *percent* script): the source of
  truth, the file to edit and review;
- ``NAME.ipynb`` — the executed notebook built from it, with the outputs that
  the book shows and nbval compares.

Commands::

    python tools/nb.py build chapters/NAME.py [...]   # text source -> executed chapters/NAME.ipynb
    python tools/nb.py build --all                     # every chapter
    python tools/nb.py check                           # each notebook matches its text source (no run)
    python tools/nb.py export chapters/NAME.ipynb      # notebook -> text source (migration only)
    python tools/nb.py repo URL                        # the book's repository (make book REPO=URL)

``build`` puts two standard cells first (both tagged ``remove-cell``, so the
rendered book omits them): the paper's TeX macros as a Markdown cell, so that
Jupyter and Colab render the formulas too, and a set-up cell that installs
ntlib in Colab; anywhere else it is silent when ntlib imports and otherwise
says what to install (instead of a bare ``ModuleNotFoundError``).

The built notebook is deterministic apart from its outputs: each cell's id is
derived from its content (a one-word change touches one cell), execution
timestamps are not recorded, and a progress bar's refreshes are stored as its
final state only.  Execution runs top to bottom in a fresh kernel started in
``chapters/``, fails on any error, and fails if any cell wrote to stderr.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
HEAD_TAG = "ntlib-head"
TEXT_FORMAT = "py:percent"
# cell metadata that jupytext uses for a faithful round trip, or that a run
# adds; neither is part of what a chapter says
_VOLATILE_META = ("execution", "lines_to_next_cell", "collapsed", "scrolled")


def _macro_cell() -> nbformat.NotebookNode:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    macros = cfg["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    lines = []
    for name, body in macros.items():
        if isinstance(body, list):
            text, nargs = body
            lines.append(f"\\newcommand{{\\{name}}}[{nargs}]{{{text}}}")
        else:
            lines.append(f"\\newcommand{{\\{name}}}{{{body}}}")
    src = ("<!-- The paper's TeX macros, for Jupyter and Colab (the book defines them in _config.yml). -->\n"
           "$$\n" + "\n".join(lines) + "\n$$")
    return nbformat.v4.new_markdown_cell(src, metadata={"tags": ["remove-cell", HEAD_TAG]})


def repository() -> tuple:
    """(url, branch) of the book's repository: the one setting in _config.yml
    (``make book REPO=...`` rewrites it with ``tools/nb.py repo URL``)."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    return cfg["repository"]["url"], cfg["repository"].get("branch", "main")


def install_requirement() -> str:
    """What the set-up cell installs in Colab: the package, built from the
    repository, with what the chapters import (it carries the book's files
    they read: setup.py)."""
    url, branch = repository()
    return f"ntlib[chapters] @ git+{url}@{branch}"


def _setup_cell() -> nbformat.NotebookNode:
    url, _ = repository()
    src = f'''# Set-up for Google Colab: install ntlib from the book's repository, with what
# the chapters need (not the book-building and test tools).  Safe to run again.
# Anywhere else this cell only checks that ntlib imports, and says what to
# install if it does not; when it does (a local clone, the test suite) it
# does nothing.
import sys
if "google.colab" in sys.modules:
    import importlib.util, subprocess
    if importlib.util.find_spec("ntlib") is None:
        package = "{install_requirement()}"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", package],
                       check=True)
else:
    try:
        import ntlib
    except ModuleNotFoundError as err:
        what = ("ntlib, the book's package," if err.name == "ntlib"
                else f"{{err.name!r}}, which ntlib needs,")
        raise ModuleNotFoundError(
            f"{{what}} is not installed for this kernel ({{sys.executable}}). "
            f"From a clone of the book run `make lab` (a .venv with "
            f"everything, then JupyterLab), or install into this Python:\\n"
            f"    pip install -e '.[chapters]'      (in the clone)\\n"
            f"    pip install 'ntlib[chapters] @ git+{url}'\\n"
            f"In Google Colab the set-up runs by itself.",
            name=err.name) from None
# %%ntn: a cell of formulas in the paper's notation, run (Appendix C)
if "get_ipython" in globals():   # Jupyter, Colab, IPython
    get_ipython().run_line_magic("load_ext", "ntlib.notation")'''
    return nbformat.v4.new_code_cell(src, metadata={"tags": ["remove-cell", HEAD_TAG]})


def set_repository(url: str) -> None:
    """Make ``url`` the book's repository: _config.yml's ``repository.url``
    (the launch and repository buttons) and every notebook's set-up cell
    (written again in place; the head cells have no outputs, nothing runs)."""
    url = url.rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    cfg = ROOT / "_config.yml"
    text, n = re.subn(r"(?m)^(repository:\n(?:  .*\n)*?  url: ).*$",
                      lambda m: m.group(1) + url, cfg.read_text(), count=1)
    if n != 1:
        raise SystemExit("no repository.url line in _config.yml")
    if text != cfg.read_text():
        cfg.write_text(text)
        print(f"_config.yml: repository.url = {url}")
    for path in sorted(CHAPTERS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        head = [_macro_cell(), _setup_cell()]
        # the set-up cell ran first and printed nothing: it keeps its count
        head[1].execution_count = 1
        body = [c for c in nb.cells if not _is_head(c)]
        old = [(c.source, c.get("execution_count")) for c in nb.cells if _is_head(c)]
        if old == [(c.source, c.get("execution_count")) for c in head]:
            continue
        nb.cells = head + body
        _stable_ids(nb)
        nbformat.write(nb, path)
        print(f"{path.relative_to(ROOT)}: set-up cell installs from {url}")


def _is_head(cell) -> bool:
    return HEAD_TAG in cell.get("metadata", {}).get("tags", [])


def with_head(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    body = [c for c in nb.cells if not _is_head(c)]
    nb.cells = [_macro_cell(), _setup_cell()] + body
    return nb


def _stable_ids(nb: nbformat.NotebookNode) -> None:
    """Give each cell an id made from its type and source (unique within the notebook)."""
    seen: dict = {}
    for cell in nb.cells:
        digest = hashlib.sha1((cell.cell_type + "\0" + cell.source).encode()).hexdigest()[:12]
        n = seen[digest] = seen.get(digest, -1) + 1
        cell["id"] = digest if n == 0 else f"{digest}-{n}"


def _clean_meta(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        for key in _VOLATILE_META:
            cell.metadata.pop(key, None)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("widgets", None)


def from_text(src: Path) -> nbformat.NotebookNode:
    """The unexecuted notebook a text source stands for, head cells included."""
    import jupytext

    nb = jupytext.read(src, fmt=TEXT_FORMAT)
    nb = with_head(nb)
    _clean_meta(nb)
    _stable_ids(nb)
    nbformat.validate(nb)
    return nb


_CR_LINE = re.compile(r"[^\n]*\r(?=[^\n])")


def _final_state(text: str) -> str:
    """What a terminal shows for ``text``: of a line rewritten with \\r, its last version."""
    return _CR_LINE.sub("", text).replace("\r", "")


def _collapse_streams(cell) -> None:
    """Merge consecutive stream outputs and keep a progress bar's final state only."""
    merged = []
    for out in cell.get("outputs", []):
        if (out.get("output_type") == "stream" and merged
                and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == out["name"]):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    for out in merged:
        if out.get("output_type") == "stream":
            out["text"] = _final_state(out["text"])
    cell["outputs"] = merged


def execute(nb: nbformat.NotebookNode, timeout: int = 900) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(CHAPTERS)}})
    client.execute()
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                raise SystemExit(f"cell {k} wrote to stderr:\n{out['text']}\n--- source:\n{cell.source}")
        if cell.cell_type == "code":
            _collapse_streams(cell)
    _clean_meta(nb)
    return nb


def notebook_for(src: Path) -> Path:
    return src.with_suffix(".ipynb")


def build(src: Path, dest: Path | None = None) -> None:
    dest = dest or notebook_for(src)
    nb = execute(from_text(src))
    nbformat.write(nb, dest)
    print(f"built {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")


def text_sources() -> list:
    return sorted(CHAPTERS.glob("*.py"))


def _comparable(nb: nbformat.NotebookNode) -> list:
    return [(c.get("id"), c.cell_type, c.source,
             {k: v for k, v in c.metadata.items() if k not in _VOLATILE_META})
            for c in nb.cells]


def mismatch(src: Path) -> str | None:
    """None if the notebook next to ``src`` was built from it; else what differs."""
    path = notebook_for(src)
    if not path.exists():
        return f"{path.name} is missing: run tools/nb.py build {src.relative_to(ROOT)}"
    want = _comparable(from_text(src))
    have = _comparable(nbformat.read(path, as_version=4))
    if want == have:
        return None
    for k, (w, h) in enumerate(zip(want, have)):
        if w != h:
            first = (w[2] or h[2]).strip().splitlines()[:1]
            return (f"{path.name} differs from {src.name} at cell {k} ({first}); "
                    f"rebuild with tools/nb.py build {src.relative_to(ROOT)}")
    return f"{path.name} has {len(have)} cells, {src.name} stands for {len(want)}"


def export(path: Path) -> None:
    """Write the text source of an existing notebook next to it (used once, to migrate)."""
    import jupytext

    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not _is_head(c)]
    for c in nb.cells:
        c.outputs = [] if c.cell_type == "code" else c.get("outputs")
        if c.cell_type != "code":
            c.pop("outputs", None)
        c.metadata.pop("execution", None)
    out = path.with_suffix(".py")
    nb.metadata = {"jupytext": {"notebook_metadata_filter": "-all", "cell_metadata_filter": "-execution,-lines_to_next_cell,-collapsed,-scrolled"}}
    jupytext.write(nb, out, fmt=TEXT_FORMAT)
    print(f"wrote {out.relative_to(ROOT)}")


def main(argv):
    if argv[:2] == ["build", "--all"]:
        for src in text_sources():
            build(src)
    elif len(argv) >= 2 and argv[0] == "build":
        for s in argv[1:]:
            build(Path(s).resolve())
    elif argv[:1] == ["check"]:
        bad = [m for m in (mismatch(s) for s in text_sources()) if m]
        print("\n".join(bad) if bad else f"{len(text_sources())} notebooks match their text sources")
        return 1 if bad else 0
    elif len(argv) == 2 and argv[0] == "repo":
        set_repository(argv[1])
    elif len(argv) >= 2 and argv[0] == "export":
        for p in argv[1:]:
            export(Path(p).resolve())
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
