"""Author and execute the book's notebooks.

    python tools/nb.py build SRC.py chapters/NAME.ipynb   # jupytext percent script -> executed notebook
    python tools/nb.py run chapters/NAME.ipynb [...]      # re-execute in place, in a fresh kernel
    python tools/nb.py export chapters/NAME.ipynb         # -> build/nbsrc/NAME.py, to edit and build again

``build`` puts two standard cells first (both tagged ``remove-cell``, so the
rendered book omits them): the paper's TeX macros as a Markdown cell, so that
Jupyter and Colab render the formulas too, and a set-up cell that installs
the book's requirements in Colab and does nothing anywhere else.

Execution runs top to bottom in a fresh kernel started in ``chapters/``,
fails on any error, and fails if any cell wrote to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
HEAD_TAG = "ntlib-head"


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


def _setup_cell() -> nbformat.NotebookNode:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = cfg["repository"]["url"]
    src = f'''# Set-up for Google Colab: fetch the book and install ntlib with its requirements.
# Anywhere else (a local clone, the test suite) this cell does nothing.
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run("git clone -q --depth 1 {url} /content/ntn-book && "
                   "pip install -q -r /content/ntn-book/requirements.txt -e /content/ntn-book",
                   shell=True, check=True)
    sys.path.insert(0, "/content/ntn-book")'''
    return nbformat.v4.new_code_cell(src, metadata={"tags": ["remove-cell", HEAD_TAG]})


def with_head(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    body = [c for c in nb.cells if HEAD_TAG not in c.get("metadata", {}).get("tags", [])]
    nb.cells = [_macro_cell(), _setup_cell()] + body
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 900) -> nbformat.NotebookNode:
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "chapters")}})
    client.execute()
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                raise SystemExit(f"cell {k} wrote to stderr:\n{out['text']}\n--- source:\n{cell.source}")
    return nb


def build(src: Path, dest: Path) -> None:
    import jupytext

    nb = jupytext.read(src)
    nb = with_head(nb)
    nb.metadata.pop("jupytext", None)
    execute(nb)
    nbformat.write(nb, dest)
    print(f"built {dest}")


def run(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    execute(with_head(nb))
    nbformat.write(nb, path)
    print(f"executed {path}")


def export(path: Path) -> None:
    import jupytext

    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if HEAD_TAG not in c.get("metadata", {}).get("tags", [])]
    out = ROOT / "build" / "nbsrc" / (path.stem + ".py")
    out.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, out, fmt="py:percent")
    print(f"wrote {out}")


def main(argv):
    if len(argv) >= 3 and argv[0] == "build":
        build(Path(argv[1]), Path(argv[2]))
    elif len(argv) >= 2 and argv[0] == "run":
        for p in argv[1:]:
            run(Path(p))
    elif len(argv) >= 2 and argv[0] == "export":
        for p in argv[1:]:
            export(Path(p))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
