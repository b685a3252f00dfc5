"""Book checks: configuration, notebooks, and the rendered HTML in a real browser."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_MACROS = ROOT.parent / "shared" / "paper" / "mathjax-macros.json"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files():
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_config_carries_every_paper_macro():
    if not SHARED_MACROS.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI runs beside shared/, but {SHARED_MACROS} is missing")
        pytest.skip(f"{SHARED_MACROS} not present outside the project's machines")
    paper = json.loads(SHARED_MACROS.read_text())
    ours = CONFIG["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    for name, body in paper.items():
        assert ours.get(name) == body, f"macro \\{name} differs from the paper's"


def test_mathjax_is_served_locally():
    path = CONFIG["sphinx"]["config"]["mathjax_path"]
    assert "://" not in path and not path.startswith("//")


def test_toc_and_chapters_agree():
    listed = {ROOT / (f + ".ipynb") for f in toc_files()}
    assert listed == set(CHAPTERS), "every chapter notebook is in _toc.yml and vice versa"
    names = [p.name for p in CHAPTERS]
    assert names == sorted(names)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_is_executed_with_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code, "a chapter runs code"
    counts = [c.execution_count for c in code]
    assert all(n is not None for n in counts), "every code cell was executed"
    assert counts == sorted(counts), "cells were executed top to bottom"
    assert any(c.outputs for c in code), "outputs are stored (nbval compares them)"
    for c in code:
        for out in c.outputs:
            assert not (out.output_type == "stream" and out.name == "stderr"), \
                f"a cell wrote to stderr: {out.text[:200]}"
            assert out.output_type != "error"
    tags = [c.metadata.get("tags", []) for c in nb.cells[:2]]
    assert all("ntlib-head" in t and "remove-cell" in t for t in tags), \
        "built with tools/nb.py (macro and Colab head cells)"
    shows_source = any("nt.source(" in c.source for c in code)
    if path.stem[:2].isdigit() and path.stem not in ("00_preface",):
        assert shows_source, "a chapter shows the ntlib source next to its formulas"


def _nbtool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("nbtool", ROOT / "tools" / "nb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_chapter_has_a_text_source():
    sources = {p.with_suffix(".ipynb") for p in (ROOT / "chapters").glob("*.py")}
    assert sources == set(CHAPTERS), "each chapter is chapters/NAME.py (text) + chapters/NAME.ipynb (built)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_matches_its_text_source(path):
    """Cells, tags and ids of the executed notebook are those its text source stands for."""
    problem = _nbtool().mismatch(path.with_suffix(".py"))
    assert problem is None, problem


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_is_deterministic(path):
    """No execution timestamps, and each progress bar stored as its final state."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        assert "execution" not in cell.metadata, "execution timestamps are not stored"
        streams = [o for o in cell.get("outputs", []) if o.output_type == "stream"]
        for a, b in zip(streams, streams[1:]):
            assert a.name != b.name, "consecutive stream outputs are merged into one"
        for out in streams:
            assert "\r" not in out.text, "progress-bar refreshes are reduced to the final state"


def test_text_source_edit_changes_one_cell_id():
    tool = _nbtool()
    nb = tool.from_text(ROOT / "chapters" / "02_named_tensors.py")
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids)
    k = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and i >= 2)
    nb.cells[k].source += " (edited)"
    tool._stable_ids(nb)
    changed = [i for i, (a, c) in enumerate(zip(ids, nb.cells)) if a != c.id]
    assert changed == [k]


def test_progress_bar_final_state():
    final = _nbtool()._final_state
    assert final("\rtrain:  0%|  | 0/4\rtrain: 50%|# | 2/4\rtrain:100%|##| 4/4\ndone\n") \
        == "train:100%|##| 4/4\ndone\n"
    assert final("a\nb\n") == "a\nb\n"


# --------------------------------------------------------------------------
# the rendered book in a headless browser

def _chromium():
    for name in ("chromium", "chromium-browser"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "--warningiserror", "--keep-going"],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    html = out / "_build" / "html"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    return html


def _serve(directory):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_every_page_renders_its_math_offline(built_book):
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium for the browser test (make test installs it as root)")
        pytest.skip("no chromium on this machine")
    from playwright.sync_api import sync_playwright

    pages = sorted(built_book.rglob("*.html"))
    pages = [p for p in pages if "_static" not in p.parts and p.name not in ("genindex.html", "search.html")]
    chapter_pages = {p.with_suffix(".html").name for p in CHAPTERS}
    assert chapter_pages <= {p.name for p in pages}
    srv = _serve(built_book)
    base = f"http://127.0.0.1:{srv.server_port}/"
    problems, offsite, math_count = [], [], {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page()

            def route(r):
                if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                    r.continue_()
                else:
                    offsite.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            for p in pages:
                rel = p.relative_to(built_book).as_posix()
                page.goto(base + rel, wait_until="load")
                page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=30000)
                page.evaluate("MathJax.startup.promise")
                errs = page.evaluate(
                    "[...document.querySelectorAll('mjx-merror')]"
                    ".map(e => e.getAttribute('data-mjx-error') || e.textContent)")
                red = page.evaluate(
                    "[...document.querySelectorAll('mjx-container [style*=\"color: red\"]')].length")
                imgs = page.evaluate(
                    "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                    ".map(i => i.getAttribute('src'))")
                math_count[rel] = page.evaluate("document.querySelectorAll('mjx-container').length")
                for e in errs:
                    problems.append(f"{rel}: MathJax error: {e}")
                if red:
                    problems.append(f"{rel}: {red} undefined macro(s) shown in red")
                for src in imgs:
                    problems.append(f"{rel}: image does not load: {src}")
            browser.close()
    finally:
        srv.shutdown()
    assert not problems, "\n".join(problems)
    assert not offsite, f"pages tried to reach the network: {sorted(set(offsite))[:10]}"
    for stem in ("02_named_tensors", "03_operations"):
        if (ROOT / "chapters" / f"{stem}.ipynb").exists():
            assert math_count.get(f"chapters/{stem}.html", 0) > 10, f"{stem} shows its formulas"
