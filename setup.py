"""The package carries the book's files that its chapters read.

pyproject.toml describes the package; this file only adds one step to the
build.  A chapter opened outside a clone of the repository (Google Colab,
whose set-up cell runs ``pip install "ntlib[chapters] @ git+URL"``, or any
``pip install`` of the package) finds no ``references.bib``, no
``benchmarks/results`` and no ``_config.yml`` beside ``ntlib``.  So the wheel
carries a copy of them in ``ntlib/_book/``, laid out as in the repository
(``ntlib/_book/benchmarks/results/*.json``, ...), and a chapter looks for
them first beside the package (a clone, an editable install), then there.
``tests/test_installed.py`` (``make test-installed``) runs every chapter that
way.  MANIFEST.in puts the same files into an sdist.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# the repository's files a chapter reads: the macros (Appendix C), the
# bibliography (References), the recorded benchmarks (Appendix A.3), the
# chapters' text sources (References checks their citations) and the LaTeX
# files of Appendix C
BOOK_FILES = ("_config.yml", "references.bib", "benchmarks/results/*.json",
              "chapters/*.py", "chapters/latex/*")


def book_files(root: Path) -> list:
    """The files of BOOK_FILES under ``root``, relative to it."""
    found = []
    for pattern in BOOK_FILES:
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matches:
            raise FileNotFoundError(f"the package carries {pattern}, not found in {root}")
        found += [p.relative_to(root) for p in matches]
    return found


class BuildPyWithBook(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return          # an editable install reads them in the clone
        target = Path(self.build_lib) / "ntlib" / "_book"
        for rel in book_files(HERE):
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HERE / rel, dest)


setup(cmdclass={"build_py": BuildPyWithBook})
