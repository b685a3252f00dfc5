"""Book checks: configuration, notebooks, and the rendered HTML in a real browser."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
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
    """The chapters listed in _toc.yml (the reference part is generated and
    taken by a glob: see test_reference_pages_cover_the_package)."""
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [c["file"] for c in part["chapters"] if c.get("file", "").startswith("chapters/")]
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
# readability rules, checked on the text sources (no browser needed)

def _code_cells(path):
    """(tags, source) of each code cell of a chapter's text source."""
    import jupytext

    nb = jupytext.read(path)
    return [(c.metadata.get("tags", []), c.source) for c in nb.cells
            if c.cell_type == "code"]


SOURCES = sorted((ROOT / "chapters").glob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_code_lines_fit_the_column(path):
    long = [line for _, src in _code_cells(path) for line in src.splitlines()
            if len(line) > 79]
    assert not long, f"code lines over 79 characters: {long[:5]}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_figures_are_sized_for_the_page(path):
    """figsize width <= 8 in and font sizes >= 10 pt, so that a figure is shown
    at about its natural size and its text stays legible (the browser test
    measures the rendered result)."""
    import re

    for _, src in _code_cells(path):
        for w in re.findall(r"figsize=\(\s*([0-9.]+)\s*\*?", src):
            assert float(w) <= 8, f"figure {w} in wide: {src[:120]}"
        for m in re.finditer(r"figsize=\(\s*([0-9.]+)\s*\*\s*(\w+)", src):
            assert re.search(rf"{m.group(2)} = min\(", src), \
                "a computed figure width must be capped"
        for size in re.findall(r"fontsize=([0-9.]+)", src):
            assert float(size) >= 10, f"font size {size} pt: {src[:120]}"
        assert not re.search(r"fontsize=[\"'](x+-)?small", src)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_plotting_helpers_are_hidden(path):
    """A cell that is mostly drawing code shows its figure, not its code."""
    for tags, src in _code_cells(path):
        drawing = sum(("ax." in line or "plt." in line or "fig." in line)
                      for line in src.splitlines())
        if drawing >= 10:
            assert {"hide-input", "remove-input"} & set(tags), \
                f"tag this plotting cell hide-input: {src[:120]}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_chapter_does_not_depend_on_the_working_directory(path):
    import re

    for _, src in _code_cells(path):
        assert not re.search(r"Path\(\s*[\"']\.\.|[\"']\.\./|os\.chdir", src), \
            f"relative path in {path.name}: find files from nt.__file__ instead"


def test_performance_appendix_runs_from_another_directory(tmp_path):
    path = ROOT / "chapters" / "a3_performance.py"
    if not path.exists():
        pytest.skip("no performance appendix")
    first = next(src for tags, src in _code_cells(path)
                 if "ntlib-head" not in tags)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", first], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert " rows from " in proc.stdout and not proc.stdout.startswith("0 rows")


def _shown_functions():
    import re

    import ntlib as nt

    names = set()
    for path in SOURCES:
        for m in re.finditer(r"nt\.source\(([^)]*)\)", path.read_text()):
            names.update(n.strip() for n in m.group(1).split(",") if n.strip())
    fns = {}
    for name in sorted(names):
        try:
            fns[name] = eval(name, {"nt": nt})
        except Exception:     # e.g. nt.exercises.solution(...) calls
            pass
    return fns


def test_shown_sources_read_like_the_formula():
    """nt.source breaks a listing's long lines to the book's column (the text
    itself is the file's: tests/test_layout.py, test_listings_hold_no_plumbing)."""
    from ntlib import display

    fns = _shown_functions()
    assert fns
    wide = {}
    for name, fn in fns.items():
        text = display.Source(fn).text
        over = [ln for ln in text.splitlines() if len(ln) > 79]
        if over:
            wide[name] = over
    assert not wide, wide
    # the line breaking itself, on a made-up function
    src = ('def f(alpha, beta):\n'
           '    """A docstring that goes on and on, longer than the column of '
           'the book, surely."""\n'
           '    return some_function(alpha, beta, alpha + beta, alpha * beta, '
           'alpha - beta)  # a note\n')
    fitted = display._fit(src)
    assert display._same_program(src, fitted)
    assert max(map(len, fitted.splitlines())) <= 79, fitted
    assert display._fit(src.replace("beta)  #", "beta  #")) == \
        src.replace("beta)  #", "beta  #"), "text that does not parse is kept"


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
    if os.environ.get("BOOK_HTML"):      # an existing build, e.g. _build/html
        return Path(os.environ["BOOK_HTML"]).resolve()
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "--warningiserror", "--nitpick",
         "--keep-going"],
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


_VISIBLE_JS = """
const visible = e => {
  const r = e.getBoundingClientRect();
  const shown = e.checkVisibility ? e.checkVisibility(
      {contentVisibilityAuto: true, visibilityProperty: true}) : true;
  return shown && r.width > 0 && r.height > 0;
};
"""

# What a reader sees on a page: measured in the browser after MathJax ran.
_MEASURE_JS = "() => {" + _VISIBLE_JS + """
  const art = document.querySelector('article.bd-article')
           || document.querySelector('main');
  const rect = e => e.getBoundingClientRect();
  const longest = t => t.split('\\n').reduce((a, l) => l.length > a.length ? l : a, '');
  const code = [...art.querySelectorAll('pre')].filter(visible);
  const codeOver = code.filter(p => p.scrollWidth > p.clientWidth + 1)
    .map(p => `${p.scrollWidth - p.clientWidth} px too wide: ${longest(p.textContent).slice(0, 90)}`);
  const eqs = [...art.querySelectorAll('mjx-container[display="true"]')].filter(visible);
  const eqOver = eqs.filter(c => {
      const m = c.querySelector('mjx-math');
      return c.scrollWidth > c.clientWidth + 1
          || (m && rect(m).width > rect(c).width + 1); })
    .map(c => `${Math.round(rect(c.querySelector('mjx-math')).width)} px in a `
            + `${Math.round(rect(c).width)} px box`);
  const tables = [...art.querySelectorAll('table')].filter(visible).map(t => ({
      rows: t.rows.length, height: Math.round(rect(t).height),
      // inline code broken into lines of a few characters (the columns of a
      // table squeezed to one character): the fewest characters per line
      squeezed: [...t.querySelectorAll('code')].filter(c => c.textContent.length >= 12)
        .map(c => { const lh = parseFloat(getComputedStyle(c).lineHeight) || 20;
                    const lines = Math.max(1, Math.round(rect(c).height / lh));
                    return {text: c.textContent.slice(0, 40), per: c.textContent.length / lines}; })
        .filter(c => c.per < 6).slice(0, 3),
      over: t.parentElement.scrollWidth > t.parentElement.clientWidth + 1
            || rect(t).width > rect(art).width + 1}));
  const images = [...art.querySelectorAll('img')].filter(visible).map(i => ({
      src: i.getAttribute('src'), natural: i.naturalWidth,
      shown: rect(i).width}));
  const search = [...document.querySelectorAll(
      '.search-button-field, form.bd-search, input[type=search]')]
      .filter(visible).length;
  // nothing may widen the page: what is wider than the column scrolls inside
  // its own box (code, tables, display formulas, long inline formulas)
  const pageWidth = document.documentElement.scrollWidth;
  // every glyph of a formula can be seen, or scrolled to, inside the nearest
  // box that clips or scrolls it (the theme clipped inline formulas)
  const unreachable = [];
  for (const c of [...art.querySelectorAll('mjx-container')].filter(visible)) {
    let box = c;
    while (box && box !== art && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    if (!box || box === art) continue;
    const rb = rect(box), scrolls = ['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
    const left = rb.left - box.scrollLeft - 1;
    const right = (scrolls ? rb.left - box.scrollLeft + box.scrollWidth : rb.right) + 1;
    const out = [...c.querySelectorAll('mjx-c, mjx-utext')].find(g => {
        const r = rect(g); return r.width > 0 && (r.left < left || r.right > right); });
    if (out) unreachable.push(`${c.getAttribute('display') ? 'display' : 'inline'} formula `
        + `cut off in a ${box.tagName.toLowerCase()}.${box.className.split(' ')[0]} `
        + `(${getComputedStyle(box).overflowX}): ${c.textContent.slice(0, 60)}`);
  }
  // a displayed formula that scrolls says so (_static/ntn.js + ntn.css)
  const eqHidden = eqs.filter(c => c.scrollWidth > c.clientWidth + 1)
    .filter(c => !c.classList.contains('ntn-scrolls')
                 || getComputedStyle(c).backgroundImage === 'none')
    .map(c => c.textContent.slice(0, 60));
  const eqScrolls = eqs.filter(c => c.scrollWidth > c.clientWidth + 1).length;
  // LaTeX source shown as text: a macro outside rendered math and code
  const skip = 'mjx-container, pre, code, script, style, .highlight, kbd, samp, '
             + 'mjx-assistive-mml, .MathJax_Preview, [class*="ansi"]';
  const rawTex = [];
  const walker = document.createTreeWalker(art, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || !visible(el)) continue;
    const m = n.textContent.match(/\\\\[A-Za-z]{2,}|\\$[^$\\s][^$]*\\\\[^$]*\\$/);
    if (m) rawTex.push(n.textContent.trim().slice(0, 80));
  }
  const pdf = [...document.querySelectorAll('a')].filter(
      a => (a.getAttribute('href') || '').endsWith('ntn-book.pdf')).length;
  const proofs = [...art.querySelectorAll('div.proof')].filter(visible).map(
      d => (d.querySelector('.admonition-title, p.admonition-title') || d).textContent.trim().slice(0, 80));
  return {code: code.length, codeOver, eqs: eqs.length, eqOver, eqHidden, eqScrolls, rawTex,
          height: document.documentElement.scrollHeight, tables, images, search,
          pageWidth, width: innerWidth, unreachable, pdf, proofs,
          errors: [...document.querySelectorAll('mjx-merror')]
              .map(e => e.getAttribute('data-mjx-error') || e.textContent),
          red: document.querySelectorAll('mjx-container [style*="color: red"]').length,
          broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
              .map(i => i.getAttribute('src')),
          math: document.querySelectorAll('mjx-container').length};
}"""

_MENU_JS = "() => {" + _VISIBLE_JS + """
  return [...document.querySelectorAll('.bd-sidebar-primary a.reference.internal')]
    .filter(a => { const r = a.getBoundingClientRect();
                   return visible(a) && r.left >= 0 && r.right <= innerWidth; })
    .map(a => a.textContent.trim());
}"""

DESKTOP, PHONE = (1280, 900), (390, 844)

# pages without a formula do not load MathJax (the reference part)
_TYPESET_JS = """() => !document.querySelector('script[src*="mathjax"]')
    || (window.MathJax && MathJax.startup && MathJax.startup.promise)"""

# treescope's pictures of named tensors (chapters 2-4), and the axis labels
# each page shows: every output draws into the shadow DOM of a
# <treescope-container>
_TREESCOPE_PAGES = {"02_named_tensors": ("height: 3", "width: 3"),
                    "03_operations": ("height: 3", "width: 3"),
                    "04_neural_networks": ("seq: 7", "query: 6", "heads: 2", "batch")}
# treescope draws a picture when it scrolls into view: each one is scrolled to
# and waited for, then the text it shows (its axis labels) is read back
_TREESCOPE_JS = """async () => {
  const shown = root => { const parts = [];
    const walk = n => { for (const c of n.childNodes) {
        if (c.nodeType === 3) parts.push(c.textContent);
        else if (c.nodeType === 1 && !['STYLE', 'SCRIPT', 'TEMPLATE'].includes(c.tagName)) {
          walk(c); if (c.shadowRoot) walk(c.shadowRoot); } } };
    walk(root); return parts.join(' ').replace(/\\s+/g, ' '); };
  const out = [];
  for (const c of document.querySelectorAll('treescope-container')) {
    let text = '';
    for (let k = 0; k < 1800; k++) {    // up to three minutes on a busy machine
      c.scrollIntoView();
      text = c.shadowRoot ? shown(c.shadowRoot) : '';
      if (text.trim() && !text.includes('Loading...') && !text.includes('Rendering array')) break;
      await new Promise(r => setTimeout(r, 100));
    }
    const r = c.getBoundingClientRect();
    out.push({text, width: Math.round(r.width), height: Math.round(r.height)});
  }
  return out;
}"""


def _png_dpi(path):
    """Resolution stored in a PNG's pHYs chunk (matplotlib writes it)."""
    import struct

    data = Path(path).read_bytes()
    k = data.find(b"pHYs")
    if k < 0:
        return None
    ppx, _, unit = struct.unpack(">IIB", data[k + 4:k + 13])
    return ppx * 0.0254 if unit == 1 else None


@pytest.fixture(scope="module")
def rendered(built_book):
    """Every page measured in Chromium at 1280 px (and two at 390 px), and the
    menu button tried at 390 px.  With $BOOK_SHOTS set, every page is also
    measured at 390 px and screenshots of each go to that folder."""
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium for the browser test (make test installs it as root)")
        pytest.skip("no chromium on this machine")
    from playwright.sync_api import sync_playwright

    pages = sorted(built_book.rglob("*.html"))
    pages = [p for p in pages if "_static" not in p.parts and p.name not in ("genindex.html", "search.html")
             and 'http-equiv="Refresh"' not in p.read_text(errors="replace")[:2000]]   # redirects
    chapter_pages = {p.with_suffix(".html").name for p in CHAPTERS}
    assert chapter_pages <= {p.name for p in pages}
    shots = Path(os.environ["BOOK_SHOTS"]) if os.environ.get("BOOK_SHOTS") else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    srv = _serve(built_book)
    base = f"http://127.0.0.1:{srv.server_port}/"
    out = {"offsite": [], DESKTOP: {}, PHONE: {}, "treescope": {}}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])

            def route(r):
                if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                    r.continue_()
                else:
                    out["offsite"].append(r.request.url)
                    r.abort()

            console = []
            for size in (DESKTOP, PHONE):
                page = browser.new_page(viewport={"width": size[0], "height": size[1]})
                page.route("**/*", route)
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                        if m.type == "error" else None)
                page.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
                some = pages
                for p in some:
                    rel = p.relative_to(built_book).as_posix()
                    console.clear()
                    page.goto(base + rel, wait_until="load")
                    page.wait_for_function(_TYPESET_JS, timeout=30000)
                    page.evaluate("window.MathJax && MathJax.startup && MathJax.startup.promise")
                    page.wait_for_timeout(100)      # _static/ntn.js, after MathJax
                    out[size][rel] = page.evaluate(_MEASURE_JS)
                    out[size][rel]["console"] = list(console)
                    if size == DESKTOP and p.stem in _TREESCOPE_PAGES:
                        out["treescope"][rel] = page.evaluate(_TREESCOPE_JS)
                    if shots:
                        page.screenshot(path=str(shots / f"{size[0]}-{p.stem}.png"))
                if size == DESKTOP:
                    out["pdf_status"] = page.request.get(base + "ntn-book.pdf").status
                if size == PHONE:
                    rel = f"chapters/{CHAPTERS[-1].stem}.html"
                    page.goto(base + rel, wait_until="load")
                    out["menu_before"] = page.evaluate(_MENU_JS)
                    buttons = page.locator("button.primary-toggle")
                    clicked = False
                    for k in range(buttons.count()):
                        if buttons.nth(k).is_visible():
                            buttons.nth(k).click()
                            clicked = True
                            break
                    out["menu_clicked"] = clicked
                    page.wait_for_timeout(600)       # the drawer slides in
                    out["menu_after"] = page.evaluate(_MENU_JS)
                    if shots:
                        page.screenshot(path=str(shots / f"{size[0]}-menu-open.png"))
                page.close()
            browser.close()
    finally:
        srv.shutdown()
    return out


def _toc_titles():
    titles = []
    for f in toc_files()[1:]:
        nb = nbformat.read(ROOT / (f + ".ipynb"), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith("# "):
                titles.append(cell.source.splitlines()[0][2:].strip())
                break
    return titles


def test_every_page_renders_its_math_offline(rendered):
    problems = []
    for rel, m in rendered[DESKTOP].items():
        problems += [f"{rel}: MathJax error: {e}" for e in m["errors"]]
        if m["red"]:
            problems.append(f"{rel}: {m['red']} undefined macro(s) shown in red")
        problems += [f"{rel}: image does not load: {src}" for src in m["broken"]]
    assert not problems, "\n".join(problems)
    assert not rendered["offsite"], \
        f"pages tried to reach the network: {sorted(set(rendered['offsite']))[:10]}"
    for stem in ("02_named_tensors", "03_operations"):
        if (ROOT / "chapters" / f"{stem}.ipynb").exists():
            assert rendered[DESKTOP][f"chapters/{stem}.html"]["math"] > 10, \
                f"{stem} shows its formulas"


def test_menu_button_shows_the_chapter_list_on_a_phone(rendered):
    assert rendered["menu_clicked"], "no visible menu button at 390 px"
    assert not rendered["menu_before"], "the chapter list is hidden before the click"
    shown = " | ".join(rendered["menu_after"])
    missing = [t for t in _toc_titles() if t not in shown]
    assert rendered["menu_after"] and not missing, \
        f"after the click the chapter list shows {shown!r}; missing {missing}"


def test_one_search_bar(rendered):
    for size in (DESKTOP, PHONE):
        for rel, m in rendered[size].items():
            assert m["search"] <= 1, f"{rel} at {size[0]} px shows {m['search']} search bars"
    assert any(m["search"] == 1 for m in rendered[DESKTOP].values())


def test_no_code_block_or_equation_overflows_on_desktop(rendered):
    problems = []
    for rel, m in rendered[DESKTOP].items():
        problems += [f"{rel}: code block {o}" for o in m["codeOver"]]
        problems += [f"{rel}: display equation {o}" for o in m["eqOver"]]
        problems += [f"{rel}: a table wider than the column" for t in m["tables"] if t["over"]]
    n_code = sum(m["code"] for m in rendered[DESKTOP].values())
    assert n_code > 50
    assert not problems, f"{len(problems)} of {n_code} code blocks etc. overflow at 1280 px:\n" \
        + "\n".join(problems)


def test_long_tables_are_summarised(rendered):
    """A table a reader sees without a click fits about two screens."""
    for rel, m in rendered[DESKTOP].items():
        for t in m["tables"]:
            assert t["height"] <= 1800, \
                f"{rel}: a {t['rows']}-row table {t['height']} px tall; summarise it " \
                "and put the full table behind a toggle (tag hide-output)"


def test_figure_text_is_legible(rendered, built_book):
    """Text drawn at >= 10 pt (test_figures_are_sized_for_the_page) must still be
    >= 9 px on screen at 1280 px and on a phone (390 px), after the browser
    scales the image down (on a phone a wide figure scrolls sideways instead:
    _static/ntn.js)."""
    seen = 0
    problems = []
    for size in (DESKTOP, PHONE):
        for rel, m in rendered[size].items():
            for img in m["images"]:
                if not img["src"].endswith(".png") or not img["natural"]:
                    continue
                file = (built_book / rel).parent / img["src"]
                dpi = _png_dpi(file) or 100.0
                px = 10 * dpi / 72 * img["shown"] / img["natural"]
                seen += 1
                if px < 9:
                    problems.append(f"{rel} at {size[0]} px: {img['src']} shows 10-pt text "
                                    f"at {px:.1f} px")
    assert seen >= 10
    assert not problems, "\n".join(problems[:20])


def test_no_latex_source_outside_rendered_math(rendered):
    """No page shows a macro (\\ndot, \\partial, ...) as text outside a rendered
    formula and outside code: the sign of a formula that Markdown broke up."""
    problems = [f"{rel}: {t}" for rel, m in rendered[DESKTOP].items() for t in m["rawTex"]]
    assert not problems, "\n".join(problems[:20])


def test_phone_tables_formulas_and_landing_page(rendered):
    """At 390 px: no inline code in a table broken into lines of fewer than 6
    characters (the cheat-sheet's code went one character per line, in cells
    1,100 px tall), the landing page at most 2.2 times as tall as at 1280 px
    (it was 24,500 px), and every displayed formula wider than the screen
    marked as scrolling (a shadow on the side where more of it lies)."""
    problems, scrolls = [], 0
    for rel, m in rendered[PHONE].items():
        problems += [f"{rel}: code in a {t['rows']}-row table broken into lines of "
                     f"{c['per']:.1f} characters: {c['text']}"
                     for t in m["tables"] for c in t["squeezed"]]
        problems += [f"{rel}: a display formula scrolls without a sign: {e}" for e in m["eqHidden"]]
        scrolls += m["eqScrolls"]
    landing = rendered[PHONE]["chapters/00_preface.html"]["height"]
    desk = rendered[DESKTOP]["chapters/00_preface.html"]["height"]
    if landing > 2.2 * desk:
        problems.append(f"the landing page is {landing} px tall at 390 px, {desk} px at 1280 px")
    assert not problems, "\n".join(problems[:30])
    assert scrolls > 10, "the phone view has wide formulas to mark (the check would be empty)"


# --------------------------------------------------------------------------
# every page at both widths: nothing widens the page or is cut off, no errors

def test_no_page_widens_or_cuts_off_a_formula(rendered):
    """At 1280 px and at 390 px (a phone) no page is wider than the window
    (what is wider than the column scrolls inside its own box), and every
    glyph of every formula can be seen or scrolled to (the theme used to clip
    long inline formulas and, on a phone, the ends of displayed ones)."""
    problems = []
    for size in (DESKTOP, PHONE):
        assert len(rendered[size]) >= len(CHAPTERS) + 2, "every page, the reference part too"
        for rel, m in rendered[size].items():
            if m["pageWidth"] > m["width"]:
                problems.append(f"{rel} at {size[0]} px: the page is {m['pageWidth']} px wide")
            problems += [f"{rel} at {size[0]} px: {u}" for u in m["unreachable"]]
    assert not problems, "\n".join(problems)


def test_no_page_logs_a_console_error(rendered):
    problems = [f"{rel} at {size[0]} px: {line}" for size in (DESKTOP, PHONE)
                for rel, m in rendered[size].items() for line in m["console"]]
    assert not problems, "\n".join(problems[:20])


def test_every_page_links_the_pdf_edition_when_it_exists(rendered, built_book):
    """With the PDF built, every page links it and the link works; without
    it (make book alone) no page has a dead link to it."""
    if (built_book / "ntn-book.pdf").exists():
        missing = [rel for rel, m in rendered[DESKTOP].items() if not m["pdf"]]
        assert not missing, f"no link to ntn-book.pdf on {missing}"
        assert rendered["pdf_status"] == 200
    else:
        if os.environ.get("BOOK_PDF"):
            pytest.fail("BOOK_PDF is set but the HTML build did not copy the PDF "
                        "(_ext/book_html.py copies _build/latex/ntn-book.pdf)")
        dead = [rel for rel, m in rendered[DESKTOP].items() if m["pdf"]]
        assert not dead, f"dead links to ntn-book.pdf (not built) on {dead[:5]}"


def test_treescope_pictures_render_with_axis_names(rendered):
    """The pictures of named tensors (treescope's HTML, run in the page)
    render, show the axes by name and size, and fit the column."""
    for stem, labels in _TREESCOPE_PAGES.items():
        rel = f"chapters/{stem}.html"
        figs = rendered["treescope"].get(rel)
        assert figs, f"{rel} shows no treescope picture"
        for fig in figs:
            assert fig["width"] > 0 and fig["height"] > 0, f"{rel}: an empty picture"
            assert "Loading" not in fig["text"] and "Rendering" not in fig["text"], \
                f"{rel}: a picture did not render: {fig['text'][:200]!r}"
        shown = " ".join(fig["text"] for fig in figs)
        missing = [label for label in labels if label not in shown]
        assert not missing, f"{rel}: the pictures show no {missing}: {shown[:300]!r}"


def test_definitions_and_laws_are_numbered(rendered):
    """Chapters 2 and 3 state §2's definitions and §3's laws as numbered
    sphinx-proof blocks."""
    defs = rendered[DESKTOP]["chapters/02_named_tensors.html"]["proofs"]
    laws = rendered[DESKTOP]["chapters/03_operations.html"]["proofs"]
    for word in ("record", "shape", "named tensor"):
        assert any(re.match(r"Definition 2\.\d+", d) and word in d.lower() for d in defs), \
            f"chapter 2 has no numbered definition of {word}: {defs}"
    assert any(re.match(r"Definition 3\.\d+", d) and "lift" in d.lower() for d in laws), laws
    assert sum(bool(re.match(r"Theorem 3\.\d+", d)) for d in laws) >= 3, laws


# --------------------------------------------------------------------------
# the reference part (generated by _ext/ntlib_reference.py)

def _reference_ext():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ntlib_reference", ROOT / "_ext" / "ntlib_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reference_pages_cover_the_package():
    """Every public name at nt.* and in every namespace has an entry, and the
    chapters' spellings of a name (nt.f, nt.module.f) lead to it."""
    import ntlib as nt

    ref = _reference_ext()
    pages = ref.pages(nt)
    slugs = [slug for slug, _, _ in pages]
    assert slugs[0] == "nt"
    for space in nt._NAMESPACES:
        if hasattr(nt, space):
            assert f"nt.{space}" in slugs, f"no page for nt.{space}"
    documented = {id(obj) for _, _, groups in pages for _, entries in groups
                  for _, _, obj in entries}
    flat = [n for n in list(nt.__all__) + ["sum", "max", "min", "abs"]
            if not isinstance(getattr(nt, n), type(nt))]
    missing = [n for n in flat if id(getattr(nt, n)) not in documented]
    assert not missing, f"nt.* names without an entry: {missing}"
    for slug, _, groups in pages[1:]:
        (mod, entries), = groups
        assert [n for n, _, _ in entries] == list(mod.__all__), slug
    targets = ref.targets(nt)
    assert targets[id(ref.resolve(nt, "contract"))] == "ntlib.contract"
    assert targets[id(ref.resolve(nt, "examples.kmeans"))] == "ntlib.examples.kmeans"
    if hasattr(nt, "kmeans"):               # the flat name, while it exists
        assert targets[id(ref.resolve(nt, "kmeans"))] == "ntlib.examples.kmeans"
    assert targets[id(ref.resolve(nt, "NamedTensor.sum"))] == "ntlib.NamedTensor.sum"
    assert ref.resolve(nt, "no_such_function") is None
    assert ref.resolve(nt, "_core") is None


def test_docstring_bars_are_not_substitutions():
    ref = _reference_ext()
    lines = ["|X|, elementwise.", "``|x|`` stays", "| a line block", "+--+--+", "a|b ``c|d`` e|f"]
    ref.escape_bars(lines)
    assert lines == ["\\|X\\|, elementwise.", "``|x|`` stays", "| a line block", "+--+--+",
                     "a\\|b ``c|d`` e\\|f"]


def test_chapters_link_to_the_reference(built_book):
    import ntlib as nt

    ref = _reference_ext()
    html = (built_book / "chapters" / "03_operations.html").read_text()
    assert 'href="../reference/nt.html#ntlib.contract"' in html
    # every entry is on its page, with the anchor the links use
    missing = []
    for slug, _, groups in ref.pages(nt):
        page = (built_book / "reference" / f"{slug}.html").read_text()
        missing += [t for _, entries in groups for _, t, _ in entries if f'id="{t}"' not in page]
    assert not missing, f"entries missing from the built reference: {missing[:10]}"
    linked = sum((built_book / "chapters" / f"{p.stem}.html").read_text().count('href="../reference/')
                 for p in CHAPTERS)
    assert linked > 50, f"only {linked} links from the chapters to the reference"
    # names in code cells link too: nt.contract(...) in a cell of chapter 3
    assert re.search(r'<a class="ntn-ref" href="\.\./reference/nt\.html#ntlib\.contract"[^>]*>'
                     r'<span class="n">nt</span><span class="o">\.</span>'
                     r'<span class="n">contract</span></a>', html)
    assert 'href="../reference/nt.examples.html#ntlib.examples.' in \
        (built_book / "chapters" / "07_more_examples.html").read_text()


# --------------------------------------------------------------------------
# the PDF edition (make pdf)

@pytest.fixture(scope="module")
def built_pdf(tmp_path_factory):
    """``BOOK_PDF=_build/latex/ntn-book.pdf`` reuses the PDF of ``make pdf``
    (its LaTeX log beside it); otherwise the book is built into a temporary
    folder when xelatex and latexmk are installed (``make latex``)."""
    if os.environ.get("BOOK_PDF"):
        return Path(os.environ["BOOK_PDF"]).resolve()
    if not (shutil.which("xelatex") and shutil.which("latexmk") and shutil.which("pdftotext")):
        if os.environ.get("CI"):
            pytest.fail("CI checks the PDF: run make pdf and set BOOK_PDF, or install TeX (make latex)")
        pytest.skip("no xelatex/latexmk/pdftotext (make latex installs them)")
    out = tmp_path_factory.mktemp("pdf")
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "--builder", "pdflatex",
         "--warningiserror", "--keep-going"],
        capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out / "_build" / "latex" / "ntn-book.pdf"


def test_pdf_edition(built_pdf):
    """The whole book: a plausible page count, every chapter's title and the
    reference part in the text, and no character missing from a font."""
    assert built_pdf.is_file(), built_pdf
    info = subprocess.run(["pdfinfo", str(built_pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    assert 150 <= pages <= 600, f"{pages} pages"
    text = subprocess.run(["pdftotext", "-layout", str(built_pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    flat = " ".join(text.split())

    def in_pdf(title):
        # an appendix is numbered by its name: "Appendix A.1: the Transformer"
        # is chapter A.1, "The Transformer" (_ext/pdf_edition.py)
        m = re.match(r"Appendix ([A-Z](?:\.\d+)?): (.)(.*)", title)
        if m:
            return f"{m.group(1)} {m.group(2).upper()}{m.group(3)}" in flat
        return " ".join(title.split()) in flat

    missing = [t for t in _toc_titles() if not in_pdf(t)]
    assert not missing, f"chapter titles missing from the PDF: {missing}"
    assert not re.search(r"\b(8|9|10|11) Appendix ", flat), "appendices numbered as chapters"
    # one citation style: the list's labels read as the citations in the text
    assert "[Chiang et al., 2023]" in flat
    alpha = re.findall(r"\[[A-Z][A-Za-z+]{1,4}\d\d[a-z]?\]", flat)
    assert not alpha, f"alpha-style labels in the bibliography: {alpha[:5]}"
    # the list is in the References chapter, not 50 pages after it
    pages = text.split("\f")
    intro = next(k for k, p in enumerate(pages) if "The works this book cites" in p)
    first = next(k for k, p in enumerate(pages)
                 if re.search(r"\[Alpaydin and Kaynak, 1998\]\s+E\. Alpaydin", p))
    assert 0 <= first - intro <= 1, f"References on page {intro + 1}, the list on {first + 1}"
    assert "v1 §3.1.6" in flat, "the preface's map keeps its section numbers whole"
    assert "The modules of ntlib" in flat and "contract(" in flat, "the reference part"
    assert "Definition 2.1" in flat, "the numbered definitions"
    log = built_pdf.with_suffix(".log").read_text(errors="replace")
    lost = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
    assert not lost, f"characters missing from the PDF's fonts: {lost}"
    assert "LaTeX Error" not in log


def raw_tex_in_pdf(xml: str) -> list:
    """(page, text) of each run of text set in a text font (not the code font,
    DejaVu Sans Mono) that shows a LaTeX macro, from ``pdftohtml -xml``: a
    formula that reached the PDF as its source."""
    import html

    fonts = {m.group(1): m.group(2)
             for m in re.finditer(r'<fontspec id="(\d+)"[^>]*family="([^"]+)"', xml)}
    found, page = [], 0
    for m in re.finditer(r'<page number="(\d+)"|<text [^>]*font="(\d+)"[^>]*>(.*?)</text>', xml):
        if m.group(1):
            page = int(m.group(1))
            continue
        text = html.unescape(re.sub(r"<[^>]+>", "", m.group(3)))
        if "Mono" not in fonts[m.group(2)] and re.search(r"\\[A-Za-z]{2,}", text):
            found.append((page, text))
    return found


def test_pdf_shows_no_latex_source(built_pdf):
    """Outside code, no text of the PDF is a macro: the PDF's side of the
    browser test test_no_latex_source_outside_rendered_math."""
    xml = subprocess.run(["pdftohtml", "-xml", "-i", "-q", "-stdout", str(built_pdf)],
                         capture_output=True, text=True, check=True).stdout
    assert xml.count("<text ") > 10000
    found = raw_tex_in_pdf(xml)
    assert not found, f"LaTeX source as text in the PDF: {found[:10]}"


def test_raw_tex_check_can_fail():
    xml = ('<fontspec id="1" size="10" family="AB+FreeSerif" color="#000"/>'
           '<fontspec id="2" size="9" family="CD+DejaVuSansMono" color="#000"/>'
           '<page number="7"><text top="1" left="1" width="9" height="9" font="1">'
           '+ K \\ndot{\\key} \\partial Q</text>'
           '<text top="2" left="1" width="9" height="9" font="2">A \\ndot{\\key} B</text></page>')
    assert raw_tex_in_pdf(xml) == [(7, "+ K \\ndot{\\key} \\partial Q")]


def test_setup_cell_says_what_to_install_when_ntlib_is_missing():
    """Outside Colab the hidden set-up cell is silent (twice in a row) when
    ntlib imports, and otherwise names the package and the commands to install
    it instead of a bare ModuleNotFoundError."""
    src = _nbtool()._setup_cell().source
    ok = subprocess.run([sys.executable, "-c", src + "\n" + src],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == "", ok.stderr
    block = ("import sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] == {name!r}:\n"
             "            raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)\n"
             "sys.meta_path.insert(0, Block())\n")
    for missing, says in (("ntlib", "ntlib, the book's package, is not installed"),
                          ("funsor", "'funsor', which ntlib needs, is not installed")):
        proc = subprocess.run([sys.executable, "-c", block.format(name=missing) + src],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0
        last = proc.stderr.strip().splitlines()
        assert any(line.startswith(f"ModuleNotFoundError: {says}") for line in last), proc.stderr
        assert "pip install -e '.[chapters]'" in proc.stderr and "make lab" in proc.stderr
        assert proc.stderr.count("Traceback") == 1, "no chained traceback"


# --------------------------------------------------------------------------
# the reference part links other projects' types offline (make book uses -n)

def test_stored_inventories_are_what_the_table_makes():
    """_ext/inventories/*.inv are tools/inventories.py's output (rerun it after
    editing its table), and _config.yml's intersphinx_mapping reads them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("inventories", ROOT / "tools" / "inventories.py")
    inv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inv)
    for path, data in inv.files().items():
        assert path.is_file() and path.read_bytes() == data, \
            f"{path.relative_to(ROOT)} is stale: run python tools/inventories.py"
    mapping = CONFIG["sphinx"]["config"]["intersphinx_mapping"]
    for name, (url, _, _) in inv.INVENTORIES.items():
        assert mapping[name] == [url, f"_ext/inventories/{name}.inv"], name
    assert all("://" not in local for _, local in mapping.values()), "no download at build"


# --------------------------------------------------------------------------
# raw LaTeX on the page: a Markdown line inside $...$ that starts like a list
# item, a heading or a quote ("+ K \ndot..." in chapter 5) is parsed as one,
# and the formula is shown as its source

def _lines_breaking_inline_math(text):
    bad, inside = [], False
    for k, line in enumerate(text.split("\n"), 1):
        if not line.startswith("#"):
            inside = False
            continue
        body = line[2:] if line.startswith("# ") else line[1:]
        if not body.strip():
            inside = False
            continue
        if inside and re.match(r"\s*([+*-]\s|\d+[.)]\s|>|#)", body):
            bad.append(f"{k}: {body.strip()[:70]}")
        if len(re.findall(r"(?<!\\)\$", body.replace("$$", ""))) % 2:
            inside = not inside
    return bad


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_line_of_a_formula_starts_like_markdown(path):
    bad = _lines_breaking_inline_math(path.read_text())
    assert not bad, f"inline math continued on a line Markdown reads as a block: {bad}"


def test_the_math_line_check_can_fail():
    src = "# A sum: $\\partial S = Q \\ndot{\\key} \\partial K\n# + K \\ndot{\\key} H$.\n"
    assert _lines_breaking_inline_math(src) == ["2: + K \\ndot{\\key} H$."]
    assert not _lines_breaking_inline_math(src.replace("K\n# + K", "K +\n# K"))


def test_make_book_repo_sets_the_repository_everywhere(tmp_path):
    """make book REPO=URL (tools/nb.py repo URL) writes the address into
    _config.yml, which the launch and repository buttons read, and into every
    notebook's set-up cell, keeping the rest of the notebook as it was."""
    tool = _nbtool()
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "chapters").mkdir()
    for name in ("00_preface.ipynb", "a5_references.ipynb"):
        shutil.copy(ROOT / "chapters" / name, tmp_path / "chapters" / name)
    tool.ROOT, tool.CHAPTERS = tmp_path, tmp_path / "chapters"
    tool.set_repository("https://github.com/someone/fork.git")
    cfg = yaml.safe_load((tmp_path / "_config.yml").read_text())
    assert cfg["repository"]["url"] == "https://github.com/someone/fork"
    assert cfg == {**CONFIG, "repository": {**CONFIG["repository"],
                                            "url": "https://github.com/someone/fork"}}
    for name in ("00_preface.ipynb", "a5_references.ipynb"):
        new = nbformat.read(tmp_path / "chapters" / name, as_version=4)
        old = nbformat.read(ROOT / "chapters" / name, as_version=4)
        assert "git+https://github.com/someone/fork@main" in new.cells[1].source
        assert new.cells[1].execution_count == 1
        assert [c.source for c in new.cells[2:]] == [c.source for c in old.cells[2:]]
        assert [c.get("outputs") for c in new.cells[2:]] == [c.get("outputs") for c in old.cells[2:]]


def test_bibliography_labels_read_as_the_citations(built_book):
    """The list's labels are author and year, as the citations in the text
    ("Chiang et al., 2023"), not pybtex's alpha labels ("CRB23")."""
    page = re.sub(r"<[^>]+>", "", (built_book / "chapters" / "a5_references.html").read_text())
    assert "[Chiang et al., 2023]" in page and "[Hoyer and Hamman, 2017]" in page
    alpha = re.findall(r"\[[A-Z][A-Za-z+]{1,4}\d\d[a-z]?\]", page)
    assert not alpha, f"alpha-style labels: {alpha[:5]}"
    intro = re.sub(r"<[^>]+>", "", (built_book / "chapters" / "01_introduction.html").read_text())
    assert "Chiang et al., 2023" in intro
