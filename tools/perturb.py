"""Perturbation mode: rerun the chapters as if on another device.

A GPU, another BLAS or another thread count rounds the last bits of
reductions, matrix products, convolutions and transcendental functions
differently, while elementwise arithmetic (+, -, *, /, sqrt: correctly
rounded in IEEE 754) and integer-valued results stay exact.  This module
simulates that on the CPU: a ``torch.overrides.TorchFunctionMode`` multiplies
every such result by ``1 + eps * u``.

The exact rule, per element ``x`` of a result of one of the functions in
``PERTURBED`` (or a name starting ``special_`` / ``linalg_``):

- ``x`` is left alone if its dtype is not floating (integers, bools), if it
  is complex, or if ``x`` is integer-valued (``x == round(x)``: 0, 3.0, -2.0,
  ±inf; also -0.0 stays -0.0); NaN stays NaN;
- otherwise ``x`` becomes ``x * (1 + eps * u)`` (one multiplication, rounded
  in ``x``'s dtype) with
  ``eps = 1e-5`` for float32, ``eps = 2**-51`` (2 machine epsilons,
  ~4.4e-16, a change of 2 to 4 units in the last place at ``|u| = 1``) for
  float64, and ``eps = 2 * finfo.eps`` for float16 and bfloat16;
- ``u`` in [-1, 1) is a hash of ``x``'s bit pattern, the seed and the
  function's name (see :func:`unit` and ``Perturb._key``; aliases such as
  ``torch.exp``, ``Tensor.exp``, ``Tensor.exp_`` share a name), so the same
  value from the same function is perturbed the same way in every run
  (reruns agree), two functions that compute the same value (``einsum`` and
  ``sum`` of products) round it differently, as two kernels would, and
  another seed is another pattern.
- ``x ** p`` with ``p`` an integer scalar in 0..3 is exact on every device
  (torch computes it with multiplications) and is not perturbed.
- Each call is perturbed once: the functions that a perturbed function calls
  run with the mode switched off (how TorchFunctionMode works), so
  ``F.softmax`` is one perturbation, not several.

Gradients: autograd sees ``f(x) * c`` with ``c`` a constant, so a gradient
through a perturbed op is scaled by the same factor; the backward pass's own
kernels (run by autograd's engine, not through Python) are not perturbed.
Functions called inside ``torch.func`` transforms (``jvp``, ``jacrev``) are
perturbed like any other call.

Not simulated: NumPy, SQLite and Python float arithmetic (not torch), and the
error growth of a sum with cancellation (a relative change of the result
stands for it).

Use::

    python tools/perturb.py                   # nbval on every chapter, seeds 1 and 2
    python tools/perturb.py --seed 3 -- chapters/05_calculus.ipynb -x

Each seed runs ``python -m pytest chapters`` (the project's nbval options from
pyproject.toml) with ``IPYTHONDIR`` set to a fresh folder whose start-up file
installs the mode in every kernel nbval starts.  In Python::

    import perturb; perturb.install(seed=1)   # this process; uninstall() ends it
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

ROOT = Path(__file__).resolve().parents[1]
ENV_SEED = "NTLIB_PERTURB_SEED"

# torch functions whose floating results round differently across devices.
# Matched on the function's canonical name (_canonical: torch.sum, Tensor.sum
# and Tensor.sum_ alike; A @ B is matmul, torch.arcsin is asin).
PERTURBED = frozenset("""
    sum nansum mean nanmean prod std var std_mean var_mean norm dist trace
    cumsum cumprod logcumsumexp logsumexp softmax log_softmax softmin
    matmul mm bmm mv dot vdot inner einsum tensordot
    addmm addbmm baddbmm addmv chain_matmul linear bilinear
    conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d
    avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d
    adaptive_avg_pool3d lp_pool1d lp_pool2d
    layer_norm batch_norm group_norm instance_norm rms_norm normalize
    local_response_norm cosine_similarity pairwise_distance cdist pdist
    cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss huber_loss kl_div
    binary_cross_entropy binary_cross_entropy_with_logits
    scaled_dot_product_attention multi_head_attention_forward
    exp exp2 expm1 log log2 log10 log1p xlogy logaddexp logaddexp2
    sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh
    sigmoid logsigmoid logit softplus gelu silu mish elu celu selu glu
    tanhshrink erf erfc erfinv lgamma digamma polygamma mvlgamma i0 sinc
    pow float_power rpow rsqrt
    det logdet slogdet inverse pinverse cholesky cholesky_solve cholesky_inverse
    triangular_solve lu_solve matrix_exp svd qr
""".split())

_EXACT_POWERS = (0, 1, 2, 3)


def epsilon(dtype: torch.dtype) -> float:
    """The relative size of the perturbation for a floating dtype."""
    if dtype == torch.float32:
        return 1e-5
    if dtype == torch.float64:
        return 2.0 ** -51
    return 2 * torch.finfo(dtype).eps


_BITS = {torch.float64: torch.int64, torch.float32: torch.int32,
         torch.float16: torch.int16, torch.bfloat16: torch.int16}
# odd 32-bit constants (as signed int32) of the hash
_K1, _K2, _K3 = -1640531535, -2048144789, 0x27D4EB2F


def unit(x: torch.Tensor, seed: int) -> torch.Tensor:
    """u in [-1, 1): a hash of each element's bit pattern and the seed.

    On int32 words (products wrap modulo 2**32): ``w`` is the float32 bit
    pattern, the 16-bit one widened, or for float64 ``lo ^ hi·K3`` of its two
    halves; then ``h = (w ^ seed·K3)·K1; h ^= h >> 15; h = h·K2; h ^= h >> 13``
    and ``u = ((h >> 7) & 0xFFFFFF) / 2**23 - 1`` (bits 7 to 30 of h;
    the sign bit is always 0 after the arithmetic shifts).
    """
    bits = x.detach().view(_BITS[x.dtype])
    if x.dtype == torch.float64:
        w = (bits ^ ((bits >> 32) * _K3)).to(torch.int32)
    else:
        w = bits.to(torch.int32)
    h = (w ^ ((seed * _K3) & 0x7FFFFFFF)) * _K1
    h ^= h >> 15
    h *= _K2
    h ^= h >> 13
    u = ((h >> 7) & 0xFFFFFF).to(torch.float64 if x.dtype == torch.float64
                                  else torch.float32)
    return u / 2.0 ** 23 - 1


def factor(x: torch.Tensor, seed: int) -> torch.Tensor:
    """1 + eps·u where x is not integer-valued, else exactly 1 (x's dtype)."""
    with torch.no_grad():
        d = x.detach()
        f = unit(d, seed).mul_(epsilon(d.dtype)).add_(1)
        f.masked_fill_(d == torch.round(d), 1)
        return f.to(d.dtype)


def _perturbable(t) -> bool:
    return (isinstance(t, torch.Tensor) and t.dtype in _BITS
            and t.layout == torch.strided and t.numel() > 0
            and t.device.type != "meta")


def _canonical(name: str) -> str:
    """One name per computation: Tensor.exp_, torch.exp and Tensor.exp are
    "exp"; A @ B (__matmul__, __rmatmul__) is "matmul"; arcsin is "asin"."""
    n = name.strip("_")
    if n == "rmatmul":
        n = "matmul"
    if n.startswith("arc"):
        n = "a" + n[3:]
    return n


def _kind(name: str) -> str:
    """'no', 'yes', or 'pow' (perturbed unless the exponent is 0..3); a
    scalar to a tensor power (``2 ** x``, __rpow__: "rpow") is 'yes'."""
    base = _canonical(name)
    if base == "pow":
        return "pow"
    if base in PERTURBED or base.startswith("linalg_") or (
            base.startswith("special_") and base != "special_round"):
        return "yes"
    return "no"


class Perturb(TorchFunctionMode):
    """Multiply the floating results of the functions in PERTURBED by 1 + eps·u."""

    def __init__(self, seed: int = 1):
        super().__init__()
        self.seed = int(seed)
        self._kinds: dict = {}

    def _key(self, name: str) -> int:
        """The hash key of one function: the seed and the function's name, so
        that two functions computing the same value (einsum and a sum of
        products, say) round it differently, as two kernels would."""
        return (self.seed ^ zlib.crc32(_canonical(name).encode())) & 0x7FFFFFFF

    def _apply(self, out, key: int, inplace: bool = False):
        if _perturbable(out):
            f = factor(out, key)
            if not inplace:
                return out * f
            if out.requires_grad:
                return out.mul_(f)
            with torch.no_grad():
                return out.mul_(f)
        if type(out) in (tuple, list):
            return type(out)(self._apply(o, key) for o in out)
        if isinstance(out, tuple):  # torch.return_types (a structseq)
            return type(out)([self._apply(o, key) for o in out])
        return out

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        try:
            kind, key = self._kinds[func]
        except KeyError:
            kind, key = self._kinds[func] = (_kind(name), self._key(name))
        except TypeError:  # an unhashable callable
            kind, key = _kind(name), self._key(name)
        if kind == "no":
            return out
        if kind == "pow":
            p = args[1] if len(args) > 1 else kwargs.get("exponent")
            if (isinstance(p, (int, float)) and not isinstance(p, bool)
                    and float(p) in _EXACT_POWERS):
                return out
        # in place (Tensor.exp_, out=...): perturb the tensor that was written
        target = kwargs.get("out")
        if target is None and args and name.endswith("_") \
                and not name.endswith("__"):
            target = args[0]
        return self._apply(out, key, inplace=target is not None and target is out)


_active: list = []


def install(seed: int = 1) -> Perturb:
    """Switch the perturbation on in this process (until :func:`uninstall`)."""
    mode = Perturb(seed)
    mode.__enter__()
    _active.append(mode)
    return mode


def uninstall() -> None:
    while _active:
        _active.pop().__exit__(None, None, None)


STARTUP = '''\
# Installed by tools/perturb.py: every kernel started with this IPYTHONDIR
# rounds like another device (see that file).
import importlib.util as _ilu, os as _os, sys as _sys
_spec = _ilu.spec_from_file_location("_ntlib_perturb", {path!r})
_mod = _ilu.module_from_spec(_spec)
_sys.modules["_ntlib_perturb"] = _mod
_spec.loader.exec_module(_mod)
_mod.install(int(_os.environ["{env}"]))
del _ilu, _os, _sys, _spec, _mod
'''


def run(seed: int, pytest_args: list) -> int:
    """nbval (pytest) with the perturbation installed in every kernel."""
    with tempfile.TemporaryDirectory(prefix="ntlib-perturb-") as ipdir:
        startup = Path(ipdir, "profile_default", "startup")
        startup.mkdir(parents=True)
        (startup / "00-perturb.py").write_text(
            STARTUP.format(path=str(Path(__file__).resolve()), env=ENV_SEED))
        env = dict(os.environ, IPYTHONDIR=ipdir, **{ENV_SEED: str(seed)})
        cmd = [sys.executable, "-m", "pytest", *pytest_args]
        print(f"perturb: seed {seed}: {' '.join(cmd[1:])}", flush=True)
        return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, action="append",
                    help="perturbation pattern (repeatable; default: 1 and 2)")
    ap.add_argument("pytest_args", nargs="*",
                    help="after --: arguments for pytest (default: chapters -q)")
    ns = ap.parse_args(argv)
    seeds = ns.seed or [1, 2]
    args = ns.pytest_args or ["chapters", "-q"]
    codes = [run(s, args) for s in seeds]
    bad = [s for s, c in zip(seeds, codes) if c]
    print(f"perturb: seeds {seeds}: " + (f"FAILED with seed(s) {bad}" if bad else "all passed"))
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
