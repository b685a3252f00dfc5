# The README's two commands:  make book  (the main job)  and  make test.
# Each creates .venv on first use and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first, on its own: on this project's machines 2.13.0 is a
# local CPU wheel, while an open range would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: book test test-gpu install browser bench lab clean

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "book: open _build/html/index.html"

test: $(STAMP) browser
	$(BIN)/python -m pytest

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

# The chapters in JupyterLab, started in chapters/ (installs JupyterLab into
# .venv on first use; every chapter also runs from any other directory).
lab: $(STAMP)
	$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install -q "jupyterlab>=4"
	cd chapters && $(abspath $(BIN))/jupyter lab

# One torch thread on the CPU (BENCH_THREADS=1): the recorded results are
# single-threaded, timed by the thread's CPU time (see benchmarks/common.py).
bench: $(STAMP)
	BENCH_THREADS=$${BENCH_THREADS:-1} $(BIN)/python benchmarks/run.py

clean:
	rm -rf _build build
