"""Serve MathJax 3 from the built book instead of a CDN.

The files come from the PyPI package ``django-static-mathjax`` (MathJax 3.2.2),
which installs them under ``mathjax/static/mathjax/es5``.  After an HTML build
they are copied to ``_static/mathjax`` in the output, matching
``mathjax_path: mathjax/tex-chtml.js`` in ``_config.yml``.  Nothing is fetched
from the network at build time or when a reader opens a page.
"""

import shutil
from pathlib import Path


def mathjax_source() -> Path:
    import mathjax  # the django-static-mathjax package

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (src / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax 3 not found at {src}; pip install django-static-mathjax")
    return src


def _copy(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / "mathjax"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(mathjax_source(), dest, ignore=shutil.ignore_patterns("sre", "*.map"))


def _check_path(app, config):
    path = config.mathjax_path
    if "://" in path or path.startswith("//"):
        raise RuntimeError(f"mathjax_path {path!r} points off the machine; the book must render offline")
    mathjax_source()


def setup(app):
    app.connect("config-inited", _check_path)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
