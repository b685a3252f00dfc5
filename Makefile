# The README's two commands:  make book  (the main job)  and  make test.
# Each creates .venv on first use and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first, on its own: on this project's machines 2.13.0 is a
# local CPU wheel, while an open range would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# a second venv for the newest torch (make test-newest-torch)
NEWEST_VENV ?= .venv-newest

.PHONY: book pdf test test-installed test-meta test-dist test-perturbed test-newest-torch test-gpu install browser latex bench lab clean

# -n (nitpicky): every type in the reference part's signatures resolves (other
# projects' types through the inventories in _ext/inventories/).
# REPO=https://github.com/OWNER/NAME sets the repository the book is published
# from first (README, *Publishing*): _config.yml's repository.url, which the
# Colab and repository buttons use, and every notebook's set-up cell.
book: $(STAMP)
ifdef REPO
	$(BIN)/python tools/nb.py repo "$(REPO)"
endif
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "book: open _build/html/index.html"
	@test -f _build/html/ntn-book.pdf || echo "book: no PDF edition in it (no page links one): make pdf builds it and adds the links"

# The PDF edition: the whole book through Jupyter Book's LaTeX builder
# (xelatex; the paper's macros come from _config.yml via _ext/pdf_edition.py).
# Writes _build/latex/ntn-book.pdf and, when the HTML book is built, copies it
# next to it (the HTML's download menu links to it).
# The HTML pages link the PDF only when it exists (_ext/book_html.py): an
# HTML book already built is built again (--all), with the links and the copy.
pdf: $(STAMP) latex
	$(BIN)/jupyter-book build . --builder pdflatex --warningiserror --nitpick --keep-going
	test ! -d _build/html || $(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going
	@echo "pdf: _build/latex/ntn-book.pdf"

# mypy first: ntlib's annotations (settings in pyproject.toml's [tool.mypy]),
# a few seconds with its cache in .mypy_cache
test: $(STAMP) browser
	$(BIN)/python -m mypy
	$(BIN)/python -m ruff check
	$(BIN)/python -m pytest

# Every chapter as Google Colab runs it: a wheel built from the tree, installed
# into a fresh venv with only what ntlib[chapters] declares, the notebooks
# copied elsewhere and executed there (tests/test_installed.py; about 4
# minutes, once in .ci/run: not part of make test, which CI runs twice).
test-installed: $(STAMP)
	BOOK_INSTALLED=1 $(BIN)/python -m pytest tests/test_installed.py

# The meta device (shapes only, no values): every public function of the
# table in tests/public_api.py on meta, the models forward, loss and backward,
# parameters made without drawing on the CPU, a GPT-3-sized model in capped
# memory; and the CUDA-only branches forced on the CPU.  Part of `make test`
# too; this runs just these (seconds).
test-meta: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_meta.py tests/test_device_branches.py

# nt.distributed alone: the layout rules, then gloo on the CPU with 2 and with 4
# processes (each spawned once, every collective under a timeout), NCCL where
# two or more GPUs exist (skipped otherwise, with the reason).  Part of
# `make test` too.  For several hosts, see README (torchrun).
test-dist: $(STAMP)
	$(BIN)/python -m pytest -q -rs tests/test_distributed.py

# nbval on every chapter as if on another device: each kernel multiplies the
# floating results of reductions, matrix products, convolutions and
# transcendental functions by 1 + eps*u (eps = 1e-5 in float32, 2**-51 in
# float64; u in [-1, 1) a hash of the value), once with each of two patterns.
# The rule is in tools/perturb.py; tests/test_perturb.py checks that it acts.
test-perturbed: $(STAMP)
	$(BIN)/python tools/perturb.py --seed 1 --seed 2

# The whole suite against the newest torch that the package index serves (what
# a Colab reader may get), in a second venv.  PIP_CONSTRAINT=/dev/null lifts a
# pip constraint file such as this project's machines' cap at the torch on
# their disk; on a machine without a GPU the newest torch is still PyPI's CUDA
# build (several GB: see README).  An existing $(NEWEST_VENV) is upgraded.
test-newest-torch: browser
	test -x $(NEWEST_VENV)/bin/python || $(PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/python -m pip install -q --upgrade pip
	PIP_CONSTRAINT=/dev/null $(NEWEST_VENV)/bin/python -m pip install -q --upgrade torch -r requirements.txt -e .
	MPLBACKEND=Agg $(NEWEST_VENV)/bin/python -c "import matplotlib.pyplot"
	@$(NEWEST_VENV)/bin/python -c "import torch; print('test-newest-torch: torch', torch.__version__)"
	$(NEWEST_VENV)/bin/python -m pytest

# The whole suite, nbval on every chapter included, with every ntlib tensor on
# the GPU (NTLIB_DEVICE=cuda).  Needs a CUDA build of torch in .venv, e.g.
#   make test-gpu TORCH_SPEC=torch      (on a fresh clone of a GPU machine)
test-gpu: $(STAMP)
	$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'test-gpu: torch.cuda.is_available() is False (a CPU build of torch, or no GPU)')"
	NTLIB_DEVICE=cuda $(BIN)/python -m pytest

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -r requirements.txt -e .
	@# matplotlib builds its font cache on first import and says so on stderr;
	@# do it here, so that no notebook's first run prints it.
	MPLBACKEND=Agg $(BIN)/python -c "import matplotlib.pyplot"
	touch $@

# Debian's chromium for the browser test of the built book.  Installed when we
# are root on a Debian-like machine; elsewhere the test is skipped (and fails
# when CI=true, so CI cannot skip it silently).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "note: chromium not found; tests/test_book.py will skip the browser check"; fi; }

# Debian's TeX for `make pdf` (about 114 MB of packages, 370 MB on disk):
# xelatex with the LaTeX packages Sphinx and sphinx-jupyterbook-latex load,
# latexmk, the FreeSerif/FreeSans and DejaVu Sans Mono fonts, and pdftotext
# (poppler-utils) for tests/test_book.py's check of the PDF.  Installed when we
# are root on a Debian-like machine, like chromium above.
LATEX_PACKAGES := latexmk texlive-xetex texlive-latex-extra texlive-fonts-recommended \
  fonts-freefont-otf fonts-dejavu-core poppler-utils
latex:
	@command -v xelatex >/dev/null 2>&1 && command -v latexmk >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(LATEX_PACKAGES) >/dev/null; \
	    else echo "make pdf needs xelatex, latexmk and pdftotext (Debian: apt-get install $(LATEX_PACKAGES))"; exit 1; fi; }

# The chapters in JupyterLab, started in chapters/ (installs JupyterLab into
# .venv on first use; every chapter also runs from any other directory).
lab: $(STAMP)
	$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install -q "jupyterlab>=4"
	cd chapters && $(abspath $(BIN))/jupyter lab

# One torch thread on the CPU (BENCH_THREADS=1): the recorded results are
# single-threaded, timed by the thread's CPU time (see benchmarks/common.py).
# Records benchmarks/results/*-cpu.json (5 to 7 minutes on a 2-core machine),
# then rebuilds the Performance appendix (its tables and figures) from them;
# exits non-zero if a measured ratio missed its target (the results are kept).
bench: $(STAMP)
	BENCH_THREADS=$${BENCH_THREADS:-1} $(BIN)/python benchmarks/run.py; status=$$?; \
	$(BIN)/python tools/nb.py build chapters/a3_performance.py && exit $$status

clean:
	rm -rf _build build
