"""funsor stays funsor (issue 16): importing ntlib does not change what plain
funsor code computes, and named tensors still take ntlib's path.

The same funsor program runs in a fresh interpreter without ntlib and here,
after ``import ntlib``; the values and the types of the results must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

import ntlib as nt

PROGRAM = textwrap.dedent(r'''
    import json, sys, warnings
    from collections import OrderedDict
    warnings.filterwarnings("ignore")
    import torch
    import funsor
    import funsor.ops as ops
    from funsor.domains import Bint
    from funsor.sum_product import sum_product
    funsor.set_backend("torch")

    def T(seed, *axes, out=()):
        g = torch.Generator().manual_seed(seed)
        shape = [s for _, s in axes] + list(out)
        data = torch.rand(shape, generator=g, dtype=torch.float64) + 0.5
        inputs = OrderedDict((a, Bint[s]) for a, s in axes)
        return funsor.Tensor(data, inputs, "real")   # out: vector values

    a = T(1, ("i", 2), ("j", 3))
    b = T(2, ("j", 3), ("k", 4))
    v = T(3, ("i", 2), out=(3,))
    w = T(4, ("j", 3), out=(3,))
    idx = funsor.Tensor(torch.tensor([2, 0]), OrderedDict(m=Bint[2]), 3)
    cases = {
        "mul": lambda: a * b,
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "truediv": lambda: a / b,
        "pow": lambda: a ** 2,
        "neg": lambda: -a,
        "lt": lambda: a < b,
        "reduce_add": lambda: (a * b).reduce(ops.add, "j"),
        "reduce_logaddexp": lambda: (a + b).reduce(ops.logaddexp, frozenset({"j", "k"})),
        "reduce_max": lambda: a.reduce(ops.max, "i"),
        "sum_all": lambda: a.reduce(ops.add),
        "exp": lambda: a.exp(),
        "ops_exp": lambda: ops.exp(a),
        "subs_int": lambda: a(i=1),
        "subs_tensor": lambda: a(j=idx),
        "vector_mul": lambda: v * w,
        "vector_add_scalar": lambda: v + a,
        "sum_product": lambda: sum_product(ops.logaddexp, ops.add, [a, b],
                                           eliminate=frozenset({"j"}),
                                           plates=frozenset()),
        "align": lambda: (a * b).align(("k", "j", "i")),
        "materialize_shape": lambda: (a * b).shape,
    }

    def describe(r):
        if isinstance(r, tuple):
            return {"type": "tuple", "value": list(r)}
        out = {"type": type(r).__module__ + "." + type(r).__name__.split("[")[0]}
        if isinstance(r, funsor.Tensor):
            names = sorted(r.inputs)
            x = r.align(tuple(names))
            out.update(inputs=[(n, r.inputs[n].size) for n in names],
                       output=str(r.output), value=x.data.double().tolist())
        elif isinstance(r, funsor.Number):
            out.update(value=float(r.data))
        return out

    if sys.argv[1:] == ["with-ntlib"]:
        import ntlib                       # noqa: F401
    res = {}
    for name, f in cases.items():
        try:
            res[name] = describe(f())
        except Exception as e:
            res[name] = {"error": type(e).__name__}
    assert ("ntlib" in sys.modules) == (sys.argv[1:] == ["with-ntlib"])
    print(json.dumps(res))
''')


def _run(*argv):
    out = subprocess.run([sys.executable, "-c", PROGRAM, *argv], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def results():
    return _run(), _run("with-ntlib")


CASES = ["mul", "add", "sub", "truediv", "pow", "neg", "lt", "reduce_add",
         "reduce_logaddexp", "reduce_max", "sum_all", "exp", "ops_exp", "subs_int",
         "subs_tensor", "vector_mul", "vector_add_scalar", "sum_product", "align",
         "materialize_shape"]


@pytest.mark.parametrize("case", CASES)
def test_plain_funsor_gives_what_funsor_gives_without_ntlib(results, case):
    without, with_ = results
    assert "error" not in without[case], f"the program itself fails: {without[case]}"
    assert with_[case] == without[case], (case, with_[case], without[case])


def test_program_cases_are_all_checked(results):
    assert set(results[0]) == set(CASES)


def test_named_tensors_take_ntlibs_path():
    """The other way: NamedTensor operands give NamedTensors with ntlib's
    semantics (x.sum() sums every axis; arithmetic matches axes by name)."""
    x = nt.randn(seed=1, i=2, j=3)
    y = nt.randn(seed=2, k=4, j=3)
    for r in (x * y, x + y, x - y, -x, x.exp(), x(i=1)):
        assert isinstance(r, nt.NamedTensor)
    s = x.sum()
    assert isinstance(s, nt.NamedTensor) and nt.shape(s) == {}
    torch.testing.assert_close(s.data, nt.positional(x, ("i", "j")).sum())
    p = x * y
    torch.testing.assert_close(nt.positional(p, ("i", "j", "k")),
                               nt.positional(x, ("i", "j"))[:, :, None]
                               * nt.positional(y, ("j", "k"))[None])
