"""The perturbation mode of tools/perturb.py (make test-perturbed) really acts.

In this process: non-integer floating results of reductions, products and
transcendental functions change in their last bits (at most eps relative),
integer-valued results, integer dtypes and elementwise arithmetic stay exact,
and the pattern is a deterministic function of the value and the seed.  In a
kernel: a notebook that prints a value with its noise digits passes nbval
without the perturbation and fails with it, while the same value printed to
the digits the computation supports passes both.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

import ntlib as nt

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_perturb_under_test",
                                               ROOT / "tools" / "perturb.py")
perturb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(perturb)

f32, f64 = torch.float32, torch.float64


def _bound(dt):
    """The largest relative change: eps, plus the rounding of x·(1 + eps·u)
    and of the ratio that measures it."""
    return perturb.epsilon(dt) + 2 * torch.finfo(dt).eps


@pytest.fixture
def perturbed():
    """Run the body with the perturbation (seed 1) installed; always removed."""
    def run(fn, seed=1):
        perturb.install(seed)
        try:
            return fn()
        finally:
            perturb.uninstall()
    return run


def test_a_sum_changes_in_its_last_bits(perturbed):
    # column k sums three copies of 1/k: 3/k, an integer only for k = 1, 3
    k = torch.arange(1.0, 21.0)
    for dt in (f32, f64):
        terms = torch.ones(3, 20, dtype=dt) / k.to(dt)
        plain = terms.sum(0)
        got = perturbed(lambda: terms.sum(0))
        rel = (got / plain - 1).abs()
        assert got.dtype == dt
        assert torch.equal(got[[0, 2]], plain[[0, 2]])      # 3.0 and 1.0
        # a float64 factor within half an ulp of 1 rounds back: most change
        assert (rel > 0).double().mean() > 0.6, (dt, rel)
        assert rel.max() <= _bound(dt), (dt, rel)


def test_integer_valued_results_stay_exact(perturbed):
    # torch.ones(3).sum() / 3: the sum is 3 (integer-valued, exact on every
    # device) and division is correctly rounded, so the result is exactly 1
    got = perturbed(lambda: torch.ones(3).sum() / 3)
    assert got.item() == 1.0
    A = torch.arange(12.0).reshape(3, 4)
    assert torch.equal(perturbed(lambda: A @ A.T), A @ A.T)
    assert torch.equal(perturbed(lambda: torch.exp(torch.zeros(3))), torch.ones(3))
    n = torch.arange(10).reshape(2, 5)
    got = perturbed(lambda: (n.sum(1), n @ n.T, n.prod(0)))
    assert [t.dtype for t in got] == [torch.int64] * 3
    assert torch.equal(got[0], n.sum(1)) and torch.equal(got[1], n @ n.T)


def test_elementwise_arithmetic_is_not_perturbed(perturbed):
    a = torch.linspace(0.1, 2.0, 50, dtype=f64)
    b = torch.linspace(3.0, 0.7, 50, dtype=f64)
    got = perturbed(lambda: (a + b, a * b, a / b, a - b, a.sqrt(), a ** 2, a.max()))
    want = (a + b, a * b, a / b, a - b, a.sqrt(), a ** 2, a.max())
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def test_every_listed_kind_of_op_is_perturbed(perturbed):
    x = torch.linspace(0.1, 2.0, 24, dtype=f64).reshape(2, 3, 4)
    W = torch.linspace(-1.0, 1.3, 12, dtype=f64).reshape(4, 3)
    img = torch.linspace(0.1, 2.0, 50, dtype=f64).reshape(1, 2, 5, 5)
    k = torch.linspace(-0.3, 0.4, 8, dtype=f64).reshape(1, 2, 2, 2)
    ops = {
        "sum": lambda: x.sum(-1), "mean": lambda: torch.mean(x, 0),
        "matmul": lambda: x @ W, "einsum": lambda: torch.einsum("abc,cd->abd", x, W),
        "conv2d": lambda: torch.nn.functional.conv2d(img, k),
        "exp": lambda: x.exp(), "log": lambda: torch.log(x), "tanh": lambda: x.tanh(),
        "softmax": lambda: x.softmax(-1), "logsumexp": lambda: x.logsumexp(-1),
        "pow 0.5": lambda: x ** 0.5, "2 ** x": lambda: 2 ** x,
        "nt.contract": lambda: nt.positional(nt.contract(
            nt.tensor(x, ("a", "b", "c")), nt.tensor(W, ("c", "d")), over="c"),
            ("a", "b", "d")),
    }
    for name, op in ops.items():
        plain, got = op(), perturbed(op)
        changed = (got != plain).double().mean().item()
        rel = ((got - plain) / plain).abs().max().item()
        # in float64 a factor within half an ulp of 1 rounds back
        assert changed > 0.3, (name, changed)
        assert rel <= _bound(f64), (name, rel)


def test_the_pattern_spans_eps_and_depends_on_the_seed(perturbed):
    x = torch.linspace(0.1, 3.0, 2001, dtype=f32)
    plain = x.exp()
    r1 = perturbed(lambda: x.exp(), seed=1) / plain - 1
    r1_again = perturbed(lambda: x.exp(), seed=1) / plain - 1
    r2 = perturbed(lambda: x.exp(), seed=2) / plain - 1
    assert torch.equal(r1, r1_again)            # reruns agree
    assert (r1 != r2).double().mean() > 0.9     # another seed, another pattern
    eps = perturb.epsilon(f32)
    assert r1.abs().max() <= eps * 1.02 and r1.abs().max() > 0.9 * eps
    assert r1.min() < -0.5 * eps and r1.max() > 0.5 * eps  # both signs
    assert abs(r1.mean().item()) < 0.1 * eps


def test_two_functions_round_the_same_value_differently(perturbed):
    # einsum("ij->i") and sum(1) give identical bits on the CPU; on another
    # device two kernels need not, so a torch.equal between them must fail
    x = torch.linspace(0.1, 2.0, 60, dtype=f32).reshape(20, 3)
    assert torch.equal(torch.einsum("ij->i", x), x.sum(1))
    a, b = perturbed(lambda: (torch.einsum("ij->i", x), x.sum(1)))
    assert (a != b).double().mean() > 0.9
    # aliases of one computation stay identical
    W = torch.linspace(-1.0, 1.0, 12, dtype=f32).reshape(3, 4)
    pairs = perturbed(lambda: [(x.sum(1), torch.sum(x, 1)),
                               (x @ W, torch.matmul(x, W)),
                               (x.exp(), torch.exp(x))])
    for p, q in pairs:
        assert torch.equal(p, q)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script")  # torch's own jvp
def test_gradients_and_torch_func_run_under_the_mode(perturbed):
    x = torch.linspace(0.1, 1.0, 5, dtype=f64)

    def grads():
        t = x.clone().requires_grad_()
        t.exp().sum().backward()
        jac = torch.func.jacrev(lambda s: s.exp().sum())(x)
        _, tangent = torch.func.jvp(lambda s: s.sin(), (x,), (torch.ones_like(x),))
        return t.grad, jac, tangent

    g, jac, tangent = perturbed(grads)
    for got, want in ((g, x.exp()), (jac, x.exp()), (tangent, x.cos())):
        assert torch.allclose(got, want, rtol=1e-15, atol=0)


def test_structured_and_in_place_results(perturbed):
    M = torch.tensor([[4.0, 1.0], [1.0, 3.0]])
    out = perturbed(lambda: torch.linalg.cholesky_ex(M))
    assert type(out) is type(torch.linalg.cholesky_ex(M))
    assert out.info.dtype == torch.int32 and int(out.info) == 0
    L = torch.linalg.cholesky(M)
    assert not torch.equal(out.L, L) and torch.allclose(out.L, L, rtol=2e-5)
    sign, logabsdet = perturbed(lambda: torch.linalg.slogdet(M))
    assert float(sign) == 1.0                   # integer-valued: exact
    assert logabsdet != torch.linalg.slogdet(M).logabsdet
    x = torch.linspace(0.1, 1.0, 7)
    y = x.clone()
    perturbed(lambda: y.exp_())                 # in place: y itself changes
    assert not torch.equal(y, x.exp()) and torch.allclose(y, x.exp(), rtol=2e-5)


def test_uninstall_restores_exact_results(perturbed):
    x = torch.linspace(0.1, 1.0, 7, dtype=f64)
    perturbed(lambda: x.exp())
    assert torch.equal(x.exp(), torch.exp(x)) and not perturb._active
    assert torch.overrides._get_current_function_mode() is None


def _notebook(path, cells):
    """Execute ``cells`` in a fresh kernel (no perturbation) and save them
    with their outputs, as tools/nb.py would."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, path)


def _nbval(path, *perturb_args):
    cmd = ([sys.executable, str(ROOT / "tools" / "perturb.py"), *perturb_args, "--"]
           if perturb_args else [sys.executable, "-m", "pytest"])
    cmd += [str(path), "-c", str(ROOT / "pyproject.toml"), "-q",
            "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_noisy_printed_value_fails_nbval_only_under_perturbation(tmp_path):
    setup = "import torch\nx = torch.ones(3).div(7).sum().item()  # float32"
    noisy = "print(x)             # every digit: 0.4285714626312256"
    rounded = "print(f'{x:.4f}')    # the digits the computation supports"
    _notebook(tmp_path / "noisy.ipynb", [setup, noisy])
    _notebook(tmp_path / "rounded.ipynb", [setup, rounded])

    plain = _nbval(tmp_path / "noisy.ipynb")
    assert plain.returncode == 0, plain.stdout[-2000:]
    shaken = _nbval(tmp_path / "noisy.ipynb", "--seed", "1")
    assert shaken.returncode != 0, shaken.stdout[-2000:]
    assert "Cell 1: Cell outputs differ" in shaken.stdout
    assert "1 failed, 1 passed" in shaken.stdout      # the set-up cell passed
    assert "FAILED with seed(s) [1]" in shaken.stdout
    steady = _nbval(tmp_path / "rounded.ipynb", "--seed", "1", "--seed", "2")
    assert steady.returncode == 0, steady.stdout[-2000:]
    assert "seeds [1, 2]: all passed" in steady.stdout
