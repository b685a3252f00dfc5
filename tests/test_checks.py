"""The checking decorator of ntlib._internal (@checked): what the merge of the
two argument-check mechanisms added to it, each shown to act and to fail.

- the word ``real`` and ``real=True``: complex data refused with ntlib's
  TypeError naming the function, the argument, its dtype and axes;
- ``replaces=``: a check that converts arguments (token ids to int64);
- ``each`` over an iterable that is not a list or tuple (read once);
- the helpers the check functions use (base.axis_size, base.real).
"""

from __future__ import annotations

import pytest
import torch

import ntlib as nt
from ntlib import _internal
from ntlib._internal import Axis, base, checked
from robust import expect_own_error

C128 = torch.complex128


def _c(**sizes):
    """A complex named tensor."""
    x = nt.randn(seed=0, **sizes)
    return nt.tensor(torch.complex(x.data, x.data * 0.5), nt.names(x))


@checked(x="real has ax", y="has ax")
def _one_real(x, y, ax: Axis = "a"):
    return x + y


@checked("x", "y", real=True)
def _all_real(x, y):
    return x * y


@checked(xs="each real")
def _each_real(xs):
    return len(xs)


def test_the_word_real_refuses_complex_in_that_argument_only():
    r = nt.randn(seed=1, a=2)
    assert nt.names(_one_real(r, _c(a=2))) == ("a",)          # y may be complex
    expect_own_error(lambda: _one_real(_c(a=2), r), TypeError, "_one_real",
                     "x must be real", "complex128", "a[2]")


def test_real_true_refuses_complex_in_every_tensor_argument():
    r = nt.randn(seed=1, a=2)
    assert nt.shape(_all_real(r, r)) == {"a": 2}
    expect_own_error(lambda: _all_real(r, _c(a=2)), TypeError, "y must be real", "complex")
    expect_own_error(lambda: _all_real(_c(a=2), r), TypeError, "x must be real", "complex")


def test_each_real_names_the_element_and_reads_a_generator_once():
    r = nt.randn(seed=1, a=2)
    assert _each_real(t for t in (r, r, r)) == 3               # a generator
    expect_own_error(lambda: _each_real([r, _c(a=2)]), TypeError, "xs[1]", "complex")


def _to_int64(ids, n):
    return {"ids": nt.tensor(ids.data.to(torch.int64), nt.names(ids)), "n": int(n)}


@checked("ids", check=_to_int64, replaces="ids n")
def _sees(ids, n):
    return nt.dtype(ids), type(n)


def test_replaces_passes_the_converted_arguments_to_the_body():
    ids = nt.tensor(torch.tensor([1, 2], dtype=torch.uint8), "s")
    assert _sees(ids, torch.tensor(3)) == (torch.int64, int)
    assert "ids = new_['ids']" in _sees.__ntlib__["source"]


def test_replaces_needs_a_check_and_a_parameter():
    with pytest.raises(TypeError, match="replaces"):
        checked("x", replaces="x")(lambda x: x)
    with pytest.raises(TypeError, match="replaces"):
        checked("x", check=lambda x: {}, replaces="y")(lambda x: x)


def test_an_unknown_spec_word_is_refused_when_declared():
    with pytest.raises(TypeError, match="realy"):
        checked(x="realy")(lambda x: x)


def test_real_helper_for_dicts_of_parameters():
    _internal.real("f", a=nt.randn(seed=0, a=2), b=None, c=3.0)     # passes over non-tensors
    expect_own_error(lambda: _internal.real("f", p=_c(a=2)), TypeError, "f: p", "complex")


@pytest.mark.parametrize("bad", [2.5, -1, True, "3", None])
def test_axis_size_names_the_axis(bad):
    expect_own_error(lambda: base.axis_size(bad, "f", "seq"), nt.AxisError, "'seq'",
                     repr(bad))
    assert base.axis_size(torch.tensor(3), "f", "seq") == 3


def test_library_functions_use_them():
    """The ones the table of tests/public_api.py reaches (one of each kind)."""
    expect_own_error(lambda: nt.softmax(_c(a=3), "a"), TypeError, "softmax", "complex")
    expect_own_error(lambda: _c(a=3) < 0, TypeError, "lt", "complex")
    ids = nt.tensor(torch.tensor([2, -1], dtype=torch.int8), "s")
    oh = nt.models.one_hot(ids, size=3)                        # int8 and -1: converted
    assert nt.positional(oh, ("s", "vocab")).tolist() == [[0, 0, 1], [0, 0, 1]]


# ---------------------------------------------------------------------------
# the declaration is checked when it is made (issue 28)


def _block_check(x, ax):
    pass


def _block_fused(x, ax):
    return x


def _stale_check(x, axis):          # the block's parameter is called ax
    pass


def _stale_fused(x, ax, eps):       # requires a parameter the block lacks
    return x


@pytest.mark.parametrize("order", ["checked over fused_by", "fused_by over checked"])
def test_a_check_or_kernel_that_disagrees_with_the_block_fails_at_decoration(order):
    def block(x, ax: Axis = "a"):
        return x

    def make(check, fused):
        if order == "checked over fused_by":
            return checked(x="has ax", check=check)(nt.fused_by(fused)(block))
        return nt.fused_by(fused)(checked(x="has ax", check=check)(block))

    make(_block_check, _block_fused)               # agreeing: accepted
    with pytest.raises(TypeError) as info:
        make(_stale_check, _block_fused)
    msg = str(info.value)
    assert "block(x, ax" in msg and "_stale_check(x, axis)" in msg and "'ax'" in msg
    with pytest.raises(TypeError) as info:
        make(_block_check, _stale_fused)
    msg = str(info.value)
    assert "block(x, ax" in msg and "_stale_fused(x, ax, eps)" in msg and "'eps'" in msg
    assert "fused kernel" in msg


def test_every_block_of_the_library_passed_the_decoration_check():
    """The library imports, so each declared check and kernel agrees with its
    block; and each one recorded is one the check read."""
    from public_api import TABLE, resolve
    seen = 0
    for e in TABLE:
        if e.name.startswith("NamedTensor."):
            continue
        try:
            fn = resolve(e.name)
        except AttributeError:
            continue
        info = getattr(fn, "__ntlib__", None)
        if info is None:
            continue
        import inspect
        names = list(inspect.signature(fn.__wrapped__).parameters)
        for other in (info["check"], info["fast"]):
            if other is not None:
                inspect.signature(other).bind(**{n: None for n in names})
                seen += 1
    assert seen > 40
