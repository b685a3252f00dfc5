"""Shared test configuration: the hypothesis profile of the whole suite, and
the wheel a user installs (``wheel``, for test_packaging.py and
test_installed.py).

Every property test draws its examples deterministically (``derandomize``),
so a failure repeats on a rerun and on every machine; ``deadline=None``
because the first call of a torch kernel can be slow on a busy machine.
Tests that want fewer examples say so with their own ``settings(...)``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("ntlib", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("ntlib")


def _setup_module():
    """setup.py's module (its table of book files) without running setup()."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_setup", ROOT / "setup.py")
    mod = importlib.util.module_from_spec(spec)
    # setup.py calls setup() at import: read its table without running it
    src = (ROOT / "setup.py").read_text().replace(
        'setup(cmdclass={"build_py": BuildPyWithBook})', "")
    exec(compile(src, str(ROOT / "setup.py"), "exec"), mod.__dict__)
    return mod


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The wheel pip builds from a checkout (only what git tracks is copied),
    offline: ``pip wheel --no-deps --no-build-isolation``."""
    src = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, src)
    shutil.copytree(ROOT / "ntlib", src / "ntlib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for rel in _setup_module().book_files(ROOT):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, src / rel)
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
         "--no-build-isolation", "--no-index", "-q", "-w", str(out)],
        capture_output=True, text=True, cwd=src)
    assert run.returncode == 0, run.stdout + run.stderr
    wheels = list(out.glob("ntlib-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]
