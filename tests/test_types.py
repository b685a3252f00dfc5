"""ntlib's type annotations: every public function is annotated, and the
annotations survive the checking decorator.

``mypy ntlib`` itself runs in ``make test`` (a line of the Makefile, before
pytest; the settings are in pyproject.toml).  Here:

- every public function of ``nt.*`` and of the namespaces has an annotation
  for each parameter and for its return value, and they evaluate
  (``typing.get_type_hints``), so that ``help()``, ``inspect.signature`` and
  the book's reference show them;
- the wrapper that ``@checked`` writes with exec keeps the signature, the
  annotations and the docstring of the function it wraps;
- axis arguments are annotated with ntlib's ``Axis``/``Axes`` (which the
  decorator reads), named tensors with ``Named``; the package ships py.typed.
"""

import inspect
import pathlib
import typing

import pytest

import ntlib as nt
from ntlib._internal import Axes, Axis
from ntlib.core import Named

NAMESPACES = nt._NAMESPACES


def _public_functions():
    out = {}
    for name in dir(nt):
        obj = getattr(nt, name)
        if not name.startswith("_") and inspect.isfunction(obj):
            out[f"nt.{name}"] = obj
    for space in NAMESPACES:
        mod = getattr(nt, space)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                out[f"nt.{space}.{name}"] = obj
    return out


FUNCTIONS = _public_functions()


def test_there_are_many_public_functions():
    assert len(FUNCTIONS) > 120, sorted(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_public_function_is_annotated(name):
    fn = FUNCTIONS[name]
    sig = inspect.signature(fn, eval_str=True)
    missing = [p.name for p in sig.parameters.values()
               if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without an annotation: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, \
        f"{name}: no return annotation"
    hints = typing.get_type_hints(fn)
    assert "return" in hints


def test_checked_wrapper_keeps_signature_annotations_and_docstring():
    fn = nt.contract                      # a wrapper written by @checked
    assert hasattr(fn, "__ntlib__") and fn.__wrapped__ is not fn
    assert fn.__annotations__ == fn.__wrapped__.__annotations__
    assert fn.__doc__ == fn.__wrapped__.__doc__
    sig = inspect.signature(fn, eval_str=True)
    assert sig.parameters["over"].annotation == Axes
    assert sig.return_annotation is Named
    hints = typing.get_type_hints(nt.softmax, include_extras=True)
    assert hints["ax"] == Axis and hints["x"] is Named
    assert "ax: 'Axis'" in str(inspect.signature(nt.softmax))


def test_help_shows_annotations():
    import pydoc
    text = pydoc.render_doc(nt.sum, renderer=pydoc.plaintext)
    assert "sum(x: 'Named', axes: 'Axes | None' = None) -> 'Named'" in text


def test_axis_arguments_use_the_axis_types():
    """An argument with the paper's axis name as its default is an Axis (the
    decorator reads the annotation; a plain str would not be checked)."""
    bad = []
    for name, fn in FUNCTIONS.items():
        hints = typing.get_type_hints(fn, include_extras=True)
        for p in inspect.signature(fn).parameters.values():
            if p.name in ("layer", "seq", "key", "chans", "height", "width", "batch",
                          "vocab", "hidden", "heads", "time", "kernel") \
                    and isinstance(p.default, str):
                if hints[p.name] not in (Axis, typing.Optional[Axis]):
                    bad.append(f"{name}({p.name}: {hints[p.name]})")
    assert not bad, bad


def test_py_typed_is_in_the_package():
    assert (pathlib.Path(nt.__file__).parent / "py.typed").exists()


def _tool_before_pytest(command: str, requirement: str) -> str:
    """Check that the Makefile's test target runs ``command`` before pytest and
    that ``requirement`` is in requirements.txt; return pyproject.toml's text."""
    root = pathlib.Path(__file__).resolve().parents[1]
    lines = root.joinpath("Makefile").read_text().split("\ntest:", 1)[1].split("\n\n")[0]
    recipe = [ln.strip() for ln in lines.splitlines()[1:] if ln.startswith("\t")]
    tool = [i for i, ln in enumerate(recipe) if command in ln]
    pytest_ = [i for i, ln in enumerate(recipe) if "-m pytest" in ln]
    assert tool and pytest_ and tool[0] < pytest_[0], recipe
    reqs = root.joinpath("requirements.txt").read_text().splitlines()
    assert any(ln.split("#")[0].strip().startswith(requirement) for ln in reqs)
    return root.joinpath("pyproject.toml").read_text()


def test_make_test_runs_mypy_before_pytest():
    """The Makefile's test target type-checks ntlib, and mypy is a requirement."""
    config = _tool_before_pytest("-m mypy", "mypy")
    assert "[tool.mypy]" in config and 'files = ["ntlib"]' in config


def test_make_test_runs_ruff_before_pytest():
    """The Makefile's test target lints with ruff, configured in pyproject.toml,
    and ruff is a requirement."""
    config = _tool_before_pytest("-m ruff check", "ruff")
    assert "[tool.ruff]" in config and "[tool.ruff.lint]" in config
