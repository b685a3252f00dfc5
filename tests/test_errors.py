"""Bad input raises ntlib.AxisError naming the axis and the sizes involved."""

import pytest
import torch

import ntlib as nt


@pytest.fixture
def A():
    return nt.randn(seed=0, height=3, width=4)


def test_axis_error_is_a_value_error():
    assert issubclass(nt.AxisError, ValueError)


@pytest.mark.parametrize("op", [
    lambda A: nt.sum(A, "depth"),
    lambda A: nt.mean(A, ("height", "depth")),
    lambda A: nt.var(A, "depth"),
    lambda A: nt.max(A, "depth"),
    lambda A: nt.min(A, "depth"),
    lambda A: nt.norm(A, "depth"),
    lambda A: nt.softmax(A, "depth"),
    lambda A: nt.argmax(A, "depth"),
    lambda A: nt.argmax_index(A, "depth"),
    lambda A: nt.index(A, "depth", 0),
    lambda A: nt.rename(A, {"depth": "d"}),
    lambda A: nt.unflatten(A, "depth", {"a": 1}),
])
def test_missing_axis(A, op):
    with pytest.raises(nt.AxisError, match=r"'depth'.*height\[3\], width\[4\]"):
        op(A)


@pytest.mark.parametrize("op", [
    lambda A, B: A + B, lambda A, B: A - B, lambda A, B: A * B,
    lambda A, B: A / B, lambda A, B: A ** B,
])
def test_size_clash_in_binary_ops(A, op):
    B = nt.randn(seed=1, width=5)
    with pytest.raises(nt.AxisError, match=r"'width'.*size 4.*size 5"):
        op(A, B)
    with pytest.raises(nt.AxisError, match=r"'width'.*size 5.*size 4"):
        op(B, A)


def test_size_clash_in_contraction(A):
    B = nt.randn(seed=1, width=5, out=2)
    with pytest.raises(nt.AxisError, match=r"'width'.*size 4.*size 5"):
        nt.contract(A, B, over="width")
    C = nt.randn(seed=2, height=2)
    with pytest.raises(nt.AxisError, match=r"'height'.*size 3.*size 2"):
        nt.contract(A, nt.randn(seed=3, width=4), C, over="width")


def test_size_clash_in_indexing_with_a_tensor():
    X = nt.randn(seed=0, batch=3, seq=5)
    I = nt.tensor(torch.zeros(4, dtype=torch.int64), "batch")
    with pytest.raises(nt.AxisError, match=r"'batch'.*size 3.*size 4"):
        nt.index(X, "seq", I)


def test_contract_over_an_axis_no_operand_has(A):
    B = nt.randn(seed=1, width=4)
    with pytest.raises(nt.AxisError, match=r"no operand has axis 'depth'.*height\[3\], width\[4\]"):
        nt.contract(A, B, over=("width", "depth"))


def test_rename_onto_an_existing_name(A):
    with pytest.raises(nt.AxisError, match=r"'height'\[3\].*'width'.*'width'\[4\]"):
        nt.rename(A, {"height": "width"})


def test_positional_with_missing_or_extra_names(A):
    with pytest.raises(nt.AxisError, match=r"left out: \['width'\]"):
        nt.positional(A, ("height",))
    with pytest.raises(nt.AxisError, match=r"not axes of it: \['depth'\]"):
        nt.positional(A, ("height", "width", "depth"))
    with pytest.raises(nt.AxisError, match=r"height\[3\], width\[4\]"):
        nt.positional(A, ("height", "height"))


def test_flatten_absent_axes(A):
    with pytest.raises(nt.AxisError, match=r"'depth'.*height\[3\], width\[4\]"):
        nt.flatten(A, ("height", "depth"), "layer")
    with pytest.raises(nt.AxisError, match=r"'width'.*width\[4\]"):
        nt.flatten(nt.randn(seed=0, height=3, width=4, chans=2), ("height", "chans"), "width")


def test_unflatten_with_wrong_sizes(A):
    with pytest.raises(nt.AxisError, match=r"'width' has size 4.*\{'a': 3, 'b': 2\}"):
        nt.unflatten(A, "width", {"a": 3, "b": 2})


def test_index_out_of_range(A):
    with pytest.raises(nt.AxisError, match=r"'height'\[3\]"):
        nt.index(A, "height", 3)
    with pytest.raises(nt.AxisError, match=r"'width'\[4\].*from 0 to 4"):
        nt.index(A, "width", nt.tensor([0, 4], "k"))


def test_tensor_name_count_and_duplicates():
    with pytest.raises(nt.AxisError, match=r"shape \(2, 3\).*2 axis names"):
        nt.tensor(torch.zeros(2, 3), ("a",))
    with pytest.raises(nt.AxisError, match=r"repeated: \['a'\]"):
        nt.tensor(torch.zeros(2, 3), ("a", "a"))


@pytest.mark.parametrize("op", [
    lambda A: nt.prod(A, "depth"),
    lambda A: nt.std(A, "depth"),
    lambda A: nt.logsumexp(A, "depth"),
    lambda A: nt.log_softmax(A, "depth"),
    lambda A: nt.narrow(A, "depth", 0, 1),
    lambda A: nt.unbind(A, "depth"),
    lambda A: nt.topk(A, "depth", 1),
    lambda A: nt.cat([A, A], "depth"),
    lambda A: A.sum("depth"),
    lambda A: A.mean(("height", "depth")),
    lambda A: A.max("depth"),
    lambda A: A.min("depth"),
    lambda A: A.softmax("depth"),
    lambda A: A.log_softmax("depth"),
    lambda A: A(depth=0),
    lambda A: A[{"depth": 0}],
])
def test_missing_axis_in_new_functions_and_methods(A, op):
    with pytest.raises(nt.AxisError, match=r"'depth'.*height\[3\], width\[4\]"):
        op(A)


def test_cat_and_stack_with_mismatched_operands(A):
    with pytest.raises(nt.AxisError, match=r"'width' has size 4 in operand 0 but size 3"):
        nt.cat([A, nt.narrow(A, "width", 0, 3)], "height")
    with pytest.raises(nt.AxisError, match=r"operand 1 has axes \{height\[3\]\}"):
        nt.stack([A, nt.sum(A, "width")], "k")
    with pytest.raises(nt.AxisError, match=r"'height'.*already an axis"):
        nt.stack([A, A], "height")


def test_narrow_and_topk_out_of_range(A):
    with pytest.raises(nt.AxisError, match=r"'width'\[4\]"):
        nt.narrow(A, "width", 2, 3)
    with pytest.raises(nt.AxisError, match=r"k = 5.*'width'\[4\]"):
        nt.topk(A, "width", 5)
    with pytest.raises(nt.AxisError, match=r"'height'.*already an axis"):
        nt.topk(A, "width", 2, new="height")


def test_positional_operands_name_the_fix(A):
    with pytest.raises(TypeError, match=r"shape \(3, 4\).*nt\.tensor\(t, names\)"):
        A + torch.zeros(3, 4)
    with pytest.raises(TypeError, match=r"shape \(3, 4\).*nt\.tensor\(t, names\)"):
        torch.zeros(3, 4) * A
