"""The HTML book's small fixes and additions.

- **Each inline script once.**  Sphinx 7.4 registers an inline script added
  after the builder starts (sphinx-thebe's ``THEBE_JS_URL`` configuration,
  sphinx-togglebutton's selector) twice: once as ``_JavaScript(None, body=...)``
  and again, when it prepares writing, as ``_JavaScript('', body=...)``; the
  two compare unequal, so every page declared ``const THEBE_JS_URL`` twice and
  the browser logged "Identifier 'THEBE_JS_URL' has already been declared".
  Before writing, the first form is rewritten into the second, so the
  duplicate is recognised.
- **No console error on a first visit.**  pydata-sphinx-theme reads the
  colour mode from the template variable ``default_mode``, empty unless set, and logged "Got invalid
  theme mode" when a reader had never chosen one; it is set to ``auto`` (the
  mode the theme then fell back to).
- **The PDF edition.**  When ``make pdf`` has made the PDF
  (``_build/latex/ntn-book.pdf``), every page's header gets a link to
  ``ntn-book.pdf`` at the root of the HTML output (a book icon, and an entry
  in the download menu) and after the build the PDF is copied there.  Without
  it no page links it (no dead link); ``make book`` says how to get it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PDF_NAME = "ntn-book.pdf"


def _one_inline_script_each(app, env):
    builder = app.builder
    files = getattr(builder, "_js_files", None)
    if files is None:
        return
    from sphinx.builders.html._assets import _JavaScript

    fixed = []
    for js in files:
        if js.filename is None:
            js = _JavaScript("", priority=js.priority, **js.attributes)
        if js not in fixed:
            fixed.append(js)
    files[:] = fixed


def _default_mode(app, config):
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def _pdf_buttons(app, pagename, templatename, context, doctree):
    buttons = context.get("header_buttons")
    if buttons is None or built_pdf(app) is None:
        return          # no PDF, no link (make book says how to get one)
    url = context["pathto"](PDF_NAME, 1)
    tip = "The whole book as a PDF"
    for group in buttons:
        if group.get("label") == "download-buttons":
            group["buttons"].append({
                "type": "link", "url": url, "text": "book .pdf", "tooltip": tip,
                "icon": "fas fa-book", "label": "download-book-pdf-button"})
    buttons.insert(0, {
        "type": "link", "url": url, "tooltip": tip, "icon": "fas fa-book",
        "label": "book-pdf-button", "classes": "pst-navbar-icon"})


def built_pdf(app) -> Path | None:
    """The PDF of ``make pdf`` beside this build, or in the source tree."""
    for latex in (Path(app.outdir).parent / "latex", Path(app.srcdir) / "_build" / "latex"):
        if (latex / PDF_NAME).is_file():
            return latex / PDF_NAME
    return None


def _copy_pdf(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    pdf = built_pdf(app)
    if pdf is not None:
        shutil.copyfile(pdf, Path(app.outdir) / PDF_NAME)


def setup(app):
    app.connect("config-inited", _default_mode)
    app.connect("env-updated", _one_inline_script_each)
    # after sphinx-book-theme's add_header_buttons (priority 501)
    app.connect("html-page-context", _pdf_buttons, priority=510)
    app.connect("build-finished", _copy_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
