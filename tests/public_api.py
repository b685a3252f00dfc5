"""Every public callable of ntlib, with how to call it on small named inputs.

The robustness tests (``tests/test_robustness*.py``) run each class of
unusual input over every entry of :data:`TABLE` that the class applies to;
``test_table_covers_every_public_callable`` fails when ntlib gains a public
callable that is not here, so a new function cannot escape the classes.

An entry is named as a user reaches it: ``"sum"`` (``nt.sum``),
``"calculus.star"``, ``"nn.attention"``, ``"NamedTensor.sum"`` (the method,
called with the tensor first).  ``build()`` returns ``(args, kwargs)`` of a
valid call on small tensors whose axes all have different sizes.

What the entry says about its parameters:

- ``axes``: parameters that name existing axes (an int there must be an
  AxisError); ``multi``: those of them that take several names (repeating
  one must be an AxisError, as in ``sum``);
- ``new``: parameters that name a new axis (a non-str name must be an
  AxisError); a parameter may be given as ``(label, fn)`` with
  ``fn(bad) -> (args, kwargs)`` when the name sits inside a value (the keys
  of ``unflatten``'s sizes, the values of ``rename``'s mapping);
- ``sizes``: ``{label: (axis, fn)}``, ``fn(bad) -> (args, kwargs)`` a call
  in which ``axis`` gets the size ``bad`` (2.5, -1, True must be an
  AxisError naming the axis);
- ``indices``: the parameter that takes index tensors;
- ``complex``: True if complex input is accepted, False if it is refused
  with ntlib's own TypeError, None if the class does not apply (no floating
  named tensor among the inputs); see ``COMPLEX_NOTE``;
- ``reduction``: a reduction (or a function along an axis that sums or
  compares over it): the low-precision class applies;
- ``device``: a string saying why, for an entry with several tensors that
  does not compute with their values (``network``, ``models.parameters``);
  ``unused``: positions (in the order ``tensors_in`` walks the arguments) of
  tensors whose values are not used, only their axes (the device class
  skips them);
- ``note``: why a class does not apply, for entries without tensors.
"""

from __future__ import annotations

import inspect
import sqlite3
from dataclasses import dataclass, field
from typing import Callable

import torch

import ntlib as nt

F64 = torch.float64

# ---------------------------------------------------------------------------
# small inputs


def R(seed, **sizes):
    """float64 standard normal entries, axes in the order given."""
    return nt.randn(seed=seed, **sizes)


def U(seed, **sizes):
    """float64 entries uniform in [0.5, 1.5): positive (probabilities, scales)."""
    return nt.rand(seed=seed, **sizes) + 0.5


def I(values, names):
    """An int64 named tensor."""
    return nt.tensor(torch.tensor(values, dtype=torch.int64), names)


def spd(seed, a, b, n):
    """A symmetric positive definite matrix over axes a, b."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(n, n, generator=g, dtype=F64)
    return nt.tensor(m @ m.T + n * torch.eye(n, dtype=F64), (a, b))


SUDOKU = [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]
SUDOKU_CLUES = [[1, 0, 0, 4], [0, 4, 1, 0], [2, 0, 0, 3], [0, 3, 2, 0]]


def _remainder_args():
    """f, A, D = the derivative of f at A, H: a valid call of remainder(f, A, D, H)."""
    def f(X):
        return X * X * 0.5
    A = R(1, a=2, b=3)
    return (f, A, nt.calculus.derivative(f, A), R(2, b=3, a=2) * 1e-3), {}


def transformer_params():
    return nt.models.init_transformer(vocab=5, layers=1, heads=2, layer=4,
                                      hidden=6, seed=1, dtype=F64)


def layer_params():
    """The parameters of layer 1 (the embedding E is not a layer's)."""
    return {k: v for k, v in transformer_params().items() if k != "E"}


LENET = dict(chans=(1, 2, 3), kernels=((3, 3), (2, 2)), pools=((2, 2), (1, 1)),
             height=8, width=8, hidden=5, classes=3)


def lenet_params():
    return nt.models.init_lenet(**LENET, seed=1, dtype=F64)


def leaf(seed, **sizes):
    """A float64 named tensor whose data is a leaf that requires grad."""
    t = R(seed, **sizes)
    return nt.tensor(t.data.clone().requires_grad_(True), nt.names(t))


def beam_f():
    L = nt.tensor(torch.log_softmax(torch.randn(
        3, 3, generator=torch.Generator().manual_seed(7), dtype=F64), -1),
        ("state", "next"))
    return lambda S: nt.rename(nt.contract(S, L, over="state"), {"next": "state"})


def sql_table():
    conn = sqlite3.connect(":memory:")
    with nt.on_device("cpu"):   # a table holds values, also under meta
        nt.alternatives.sql_load(conn, "T", R(1, a=2, b=3))
    return conn


def data_array():
    """An xarray.DataArray over a[2], b[3]: values, also under meta."""
    with nt.on_device("cpu"):
        return nt.alternatives.to_xarray(R(1, a=2, b=3))


# ---------------------------------------------------------------------------
# the table


@dataclass
class Entry:
    name: str
    build: Callable[[], tuple] | None = None
    axes: tuple = ()
    multi: tuple = ()
    new: tuple = ()
    sizes: dict = field(default_factory=dict)
    indices: str | None = None
    complex: bool | None = None
    device: bool | str = True
    unused: tuple = ()
    reduction: bool = False
    note: str = ""

    @property
    def fn(self):
        return resolve(self.name)

    def call(self, args=None, kwargs=None):
        if args is None:
            args, kwargs = self.build()
        return self.fn(*args, **kwargs)

    def bind(self):
        """The arguments of a valid call, bound to the parameters' names."""
        args, kwargs = self.build()
        sig = inspect.signature(self.fn)
        return sig.bind(*args, **kwargs)


def resolve(name):
    """The public object an entry name stands for."""
    head, _, tail = name.rpartition(".")
    if head == "NamedTensor":
        return getattr(nt.NamedTensor, tail)
    mod = nt
    for part in head.split(".") if head else ():
        mod = getattr(mod, part)
    return getattr(mod, tail)


def a_b():
    return R(1, a=2, b=3)


def unary(seed=1, **sizes):
    """build() for f(x) with x over ``sizes`` (default a[2], b[3])."""
    sizes = sizes or dict(a=2, b=3)
    return lambda: ((R(seed, **sizes),), {})


def reduction(name, complex=True, **extra):
    """f(x, axes) for the reductions (several axes allowed)."""
    return Entry(name, lambda: ((a_b(), ("a", "b")), {}), axes=("axes",),
                 multi=("axes",), complex=complex, reduction=True, **extra)


def along(name, complex=False, reduction=True, **extra):
    """f(x, ax) for the functions along one axis."""
    return Entry(name, lambda: ((a_b(), "a"), {}), axes=("ax",), complex=complex,
                 reduction=reduction, **extra)


def binary(dunder, complex=True, kind="float"):
    """x.__op__(y) for a binary operator; the operands share axis b."""
    def build():
        if kind == "bool":
            return (R(1, a=2, b=3) > 0, R(2, b=3, c=4) > 0), {}
        return (R(1, a=2, b=3), U(2, b=3, c=4)), {}
    return Entry(f"NamedTensor.{dunder}", build, complex=complex)


def method(name, *args, complex=True, axes=(), multi=(), new=(), **extra):
    return Entry(f"NamedTensor.{name}", lambda: ((a_b(),) + args, {}),
                 axes=axes, multi=multi, new=new, complex=complex, **extra)


def _unflatten_new(bad):
    return (R(1, a=2, b=6), "b", {"c": 2, bad: 3}), {}


def _rename_new(bad):
    return (a_b(), {"a": bad}), {}


def _rename_axis(bad):
    return (a_b(), {bad: "z"}), {}


def _sizes_kw(axis, *args, **kw):
    """A sizes entry for name=size constructors: axis gets the bad size."""
    return (axis, lambda bad: (args, {**kw, axis: bad}))


NO_TENSORS = "takes no named tensor"

TABLE = [
    # -- core: construction and conversion ---------------------------------
    Entry("AxisError", note="an exception class"),
    Entry("AxisTypeError", note="an exception class"),
    Entry("DeviceError", note="an exception class"),
    Entry("NamedTensor", note="the class; its methods have their own entries"),
    Entry("device", lambda: ((), {}), note=NO_TENSORS),
    Entry("on_device", note="a context manager (tests/test_meta.py)"),
    Entry("tensor", lambda: (([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], ("a", "b")), {}),
          new=("names",), complex=True),
    Entry("randn", lambda: ((), dict(seed=0, a=2, b=3)),
          sizes={"a": _sizes_kw("a", seed=0, b=3)}, note=NO_TENSORS),
    Entry("rand", lambda: ((), dict(seed=0, a=2, b=3)),
          sizes={"a": _sizes_kw("a", seed=0, b=3)}, note=NO_TENSORS),
    Entry("randint", lambda: ((0, 5), dict(seed=0, a=2, b=3)),
          sizes={"a": _sizes_kw("a", 0, 5, seed=0, b=3)},
          note=NO_TENSORS),
    Entry("positional", lambda: ((a_b(), ("b", "a")), {}), axes=("names",),
          multi=("names",), complex=True),
    Entry("names", unary(), complex=True),
    Entry("shape", unary(), complex=True),
    Entry("records", lambda: (({"a": 2, "b": 3},), {}), note=NO_TENSORS),
    Entry("compatible", lambda: (({"a": 2}, {"a": 2, "b": 3}), {}), note=NO_TENSORS),
    Entry("orthogonal", lambda: (({"a": 2}, {"b": 3}), {}), note=NO_TENSORS),
    Entry("restrict", lambda: (({"a": 1, "b": 2}, ("a",)), {}), axes=("axes",),
          note=NO_TENSORS),
    Entry("dtype", unary(), complex=True),
    Entry("astype", lambda: ((a_b(), torch.float32), {}), complex=True),
    # -- contraction and reductions ---------------------------------------
    Entry("contract", lambda: ((R(1, a=2, b=3), R(2, b=3, c=4)), dict(over="b")),
          axes=("over",), multi=("over",), complex=True, reduction=True),
    reduction("sum"),
    reduction("mean"),
    reduction("var"),
    reduction("std"),
    reduction("prod"),
    reduction("logsumexp"),
    reduction("max", complex=False),
    reduction("min", complex=False),
    Entry("norm", lambda: ((a_b(), ("a", "b")), {}), axes=("axes",),
          multi=("axes",), complex=True, reduction=True),
    # -- along one axis ---------------------------------------------------
    along("softmax"),
    along("log_softmax"),
    along("argmax"),
    along("argmin"),
    along("argmax_index", reduction=False),
    along("argmin_index", reduction=False),
    Entry("topk", lambda: ((a_b(), "b", 2), dict(new="k")), axes=("ax",),
          new=("new",), complex=False),
    # -- elementwise --------------------------------------------------------
    Entry("sigmoid", unary(), complex=True),
    Entry("relu", unary(), complex=False),
    Entry("exp", unary(), complex=True),
    Entry("log", unary(), complex=True),
    Entry("tanh", unary(), complex=True),
    Entry("sqrt", unary(), complex=True),
    Entry("abs", unary(), complex=True),
    # -- renaming, reshaping, indexing -------------------------------------
    Entry("rename", lambda: ((a_b(), {"a": "z"}), {}),
          axes=(("mapping_keys", _rename_axis),),
          new=(("mapping_values", _rename_new),), complex=True),
    Entry("flatten", lambda: ((a_b(), ("a", "b"), "ab"), {}), axes=("axes",),
          multi=("axes",), new=("new",), complex=True),
    Entry("unflatten", lambda: ((R(1, a=2, b=6), "b", {"c": 2, "d": 3}), {}),
          axes=("ax",), new=(("sizes_keys", _unflatten_new),),
          sizes={"c": ("c", lambda bad: ((R(1, a=2, b=6), "b",
                                          {"c": bad, "d": 3}), {}))},
          complex=True),
    Entry("index", lambda: ((a_b(), "b", I([2, 0], "c")), {}), axes=("ax",),
          indices="i", complex=True),
    Entry("narrow", lambda: ((a_b(), "b", 1, 2), {}), axes=("ax",), complex=True),
    Entry("cat", lambda: (([R(1, a=2, b=3), R(2, a=2, b=4)], "b"), {}),
          axes=("ax",), complex=True),
    Entry("stack", lambda: (([R(1, a=2, b=3), R(2, a=2, b=3)], "c"), {}),
          new=("ax",), complex=True),
    Entry("unbind", lambda: ((a_b(), "a"), {}), axes=("ax",), complex=True),
    # -- comparing, gradients, lifting -------------------------------------
    Entry("equal", lambda: ((a_b(), R(2, b=3, a=2)), {}), complex=True),
    Entry("allclose", lambda: ((a_b(), R(2, b=3, a=2)), {}), complex=True),
    Entry("backward", lambda: ((nt.sum(leaf(1, a=2, b=3)),), {}), complex=False),
    Entry("grad", lambda: ((a_b(),), {}), complex=True),
    Entry("lift", lambda: ((lambda x, y: x * y, R(1, a=2, b=3), R(2, b=3)),
                           dict(over=("a", "b"))),
          axes=("over",), multi=("over",), complex=True),
    # -- plain and fused ----------------------------------------------------
    Entry("plain", note="a context manager"),
    Entry("strict_fused", note="a context manager"),
    Entry("fused_enabled", lambda: ((), {}), note=NO_TENSORS),
    Entry("fused_by", note="a decorator for block definitions"),
    # -- display ------------------------------------------------------------
    Entry("show", lambda: ((a_b(), ("b", "a")), {}), axes=("order",),
          multi=("order",), complex=True),
    Entry("source", note="shows source code"),
    # -- the NamedTensor methods ------------------------------------------
    *[binary(f"__{op}__", complex=op in ("add", "sub", "mul", "truediv", "pow",
                                          "eq", "ne"))
      for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow",
                 "lt", "le", "gt", "ge", "eq", "ne")],
    *[binary(f"__r{op}__", complex=op in ("add", "sub", "mul", "truediv", "pow"))
      for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow")],
    *[binary(f"__{r}{op}__", kind="bool")
      for op in ("and", "or", "xor") for r in ("", "r")],
    *[Entry(f"NamedTensor.{d}", note="raises TypeError (no axis order); "
                                     "tests/test_api.py")
      for d in ("__lshift__", "__rshift__", "__rlshift__", "__rrshift__",
                "__matmul__", "__rmatmul__", "__len__", "__iter__",
                "__contains__", "reshape", "__array__")],
    Entry("NamedTensor.__neg__", unary(), complex=True),
    Entry("NamedTensor.__pos__", unary(), complex=True),
    Entry("NamedTensor.__abs__", unary(), complex=True),
    Entry("NamedTensor.__invert__", lambda: ((R(1, a=2) > 0,), {})),
    *[method(m, ("a", "b"), axes=("axes",), multi=("axes",), reduction=True,
             complex=m not in ("max", "min"))
      for m in ("sum", "mean", "max", "min", "prod", "var", "std", "logsumexp")],
    *[method(m, ("a", "b"), axes=("axes",), multi=("axes",))
      for m in ("all", "any")],
    method("norm", ("a", "b"), axes=("axes",), multi=("axes",), reduction=True),
    *[method(m, "a", axes=("ax",), complex=False, reduction=True)
      for m in ("softmax", "log_softmax", "argmax", "argmin")],
    *[method(m) for m in ("exp", "log", "log1p", "sqrt", "abs", "sigmoid", "tanh",
                          "atanh")],
    Entry("NamedTensor.rename", lambda: ((a_b(), {"a": "z"}), {}),
          axes=(("mapping_keys", _rename_axis),),
          new=(("mapping_values", _rename_new),), complex=True),
    method("astype", torch.float32),
    method("positional", ("a", "b"), axes=("names",), multi=("names",)),
    Entry("NamedTensor.item", lambda: ((nt.sum(a_b()),), {}), complex=True),
    Entry("NamedTensor.__bool__", lambda: ((nt.sum(a_b()) > 0,), {})),
    Entry("NamedTensor.__float__", lambda: ((nt.sum(a_b()),), {}), complex=False),
    Entry("NamedTensor.__int__", lambda: ((nt.sum(a_b()),), {}), complex=False),
    Entry("NamedTensor.__call__", lambda: ((a_b(),), dict(b=I([2, 0], "c"))),
          indices="b", complex=True),
    Entry("NamedTensor.__getitem__", lambda: ((a_b(), {"b": I([2, 0], "c")}), {}),
          indices="b", complex=True),
    Entry("NamedTensor.__repr__", unary(), complex=True),
    Entry("NamedTensor.__str__", unary(), complex=True),
    Entry("NamedTensor.shape", note="a property"),
    *[Entry(f"NamedTensor.{a}", note="funsor's attribute, computed from the axis names "
                                      "when first read (tests/test_fast_paths.py)")
      for a in ("inputs", "output", "fresh", "bound")],
    Entry("NamedTensor.__treescope_ndarray_adapter__",
          note="treescope's array adapter (tests/test_treescope.py)"),
    # -- nn: the blocks of section 4 ----------------------------------------
    Entry("nn.full_conn", lambda: ((R(1, batch=2, layer=3), R(2, out=4, layer=3),
                                    R(3, out=4)), {}),
          axes=("layer", "out"), complex=False),
    Entry("nn.feedforward", lambda: ((R(1, batch=2, layer=3),
                                      [(R(2, out=4, layer=3), R(3, out=4))]), {}),
          axes=("layer", "out"), complex=False),
    Entry("nn.rnn", lambda: ((R(1, time=3, input=2, batch=2), R(2, hidden=4, batch=2),
                              R(3, hidden=4, hidden_out=4), R(4, input=2, hidden_out=4),
                              R(5, hidden_out=4)), {}),
          axes=("time", "hidden", "hidden_out", "input"), complex=False),
    Entry("nn.attention", lambda: ((R(1, query=2, key=3), R(2, seq=4, key=3),
                                    R(3, seq=4, val=5), R(4, seq=4, query=2)), {}),
          axes=("key", "seq"), complex=False),
    Entry("nn.causal_mask", lambda: ((3,), {}), new=("seq", "query"),
          sizes={"n": ("seq", lambda bad: ((bad,), {}))}, note=NO_TENSORS),
    Entry("nn.unroll", lambda: ((R(1, seq=5, batch=2), 2), {}), axes=("seq",),
          new=("kernel",), complex=True),
    Entry("nn.conv1d", lambda: ((R(1, chans=2, seq=5), R(2, out=3, chans=2, kernel=2),
                                 R(3, out=3)), {}),
          axes=("chans", "seq", "kernel"), complex=False),
    Entry("nn.conv2d", lambda: ((R(1, chans=2, height=5, width=4),
                                 R(2, out=3, chans=2, kh=2, kw=3), R(3, out=3)), {}),
          axes=("chans", "height", "width", "kh", "kw"), complex=False),
    Entry("nn.pool", lambda: ((R(1, seq=6, batch=2), 2), {}), axes=("seq",),
          new=("kernel",), complex=True),
    Entry("nn.max_pool1d", lambda: ((R(1, seq=6, batch=2), 2), {}), axes=("seq",),
          new=("kernel",), complex=False),
    Entry("nn.max_pool2d", lambda: ((R(1, height=4, width=6, batch=2), 2, 3), {}),
          axes=("height", "width"), complex=False),
    Entry("nn.standardize", lambda: ((R(1, batch=3, layer=4), ("batch", "layer")), {}),
          axes=("over",), multi=("over",), complex=True, reduction=True),
    Entry("nn.batch_norm", lambda: ((R(1, batch=3, chans=2, layer=4), U(2, chans=2),
                                     R(3, chans=2)), {}),
          axes=("batch", "chans", "layer"), complex=False),
    Entry("nn.instance_norm", lambda: ((R(1, batch=3, chans=2, layer=4),
                                        U(2, chans=2), R(3, chans=2)), {}),
          axes=("chans", "layer"), complex=False),
    Entry("nn.layer_norm", lambda: ((R(1, batch=3, chans=2, layer=4),
                                     U(2, chans=2, layer=4), R(3, chans=2, layer=4)),
                                    {}),
          axes=("layer", "chans"), complex=False),
    Entry("nn.group_norm", lambda: ((R(1, batch=2, chans=4, layer=3), U(2, chans=4),
                                     R(3, chans=4), 2), {}),
          axes=("chans", "layer"), new=("kernel",), complex=False),
    # -- calculus (section 5) -----------------------------------------------
    Entry("calculus.star", lambda: ((a_b(), ("a", "b")), {}), axes=("axes",),
          multi=("axes",), complex=True),
    Entry("calculus.identity", lambda: (("a", "z", 3), {}), new=("ax", "new"),
          sizes={"size": ("a", lambda bad: (("a", "z", bad), {}))}, note=NO_TENSORS),
    Entry("calculus.identity_like", lambda: ((a_b(), ("a", "b")), {}), axes=("axes",),
          multi=("axes",), complex=True),
    Entry("calculus.derivative", lambda: ((lambda X: nt.softmax(X, "a"), a_b()), {}),
          complex=False),
    Entry("calculus.differential", lambda: ((lambda X: nt.softmax(X, "a"), a_b(),
                                             R(2, a=2, b=3)), {}), complex=False),
    Entry("calculus.identify", lambda: ((lambda H: 2 * H, a_b()), {}), complex=False),
    Entry("calculus.max_difference", lambda: ((a_b(), R(2, b=3, a=2)), {}),
          complex=True),
    Entry("calculus.softmax_differential", lambda: ((a_b(), R(2, a=2, b=3), "a"), {}),
          axes=("ax",), complex=False),
    Entry("calculus.softmax_derivative", lambda: ((a_b(), "a"), {}), axes=("ax",),
          complex=False),
    Entry("calculus.derivative_of_lift", lambda: ((R(1, a=2, b=3, c=4), ("a", "b")), {}),
          axes=("over",), multi=("over",), complex=True),
    Entry("calculus.attention_unscaled", lambda: ((R(1, query=2, key=3),
                                                   R(2, seq=4, key=3),
                                                   R(3, seq=4, val=5)), {}),
          axes=("key", "seq"), complex=False),
    *[Entry(f"calculus.attention_d{w}", lambda: ((R(1, query=2, key=3),
                                                  R(2, seq=4, key=3),
                                                  R(3, seq=4, val=5)), {}),
            axes=("key", "seq") + (("val",) if w == "V" else ()), complex=False,
            unused=(2,) if w == "V" else ())      # dAtt/dV* needs V's axes only
      for w in "VQK"],
    Entry("calculus.partial_derivatives", lambda: ((lambda X: nt.softmax(X, "a"), a_b()),
                                                   {}),
          complex=False),                 # central differences of a real function
    Entry("calculus.tensor_norm", unary(), complex=True, reduction=True),
    Entry("calculus.remainder", lambda: _remainder_args(), complex=True),
    Entry("calculus.remainder_ratio", lambda: _remainder_args(), complex=True),
    Entry("calculus.evaluate_formula",
          lambda: (("A ⊙_b B − C", {"A": a_b(), "B": R(2, b=3, c=4),
                                    "C": R(3, a=2, c=4)}), {}),
          complex=True),
    Entry("calculus.paren_repairs", lambda: (("(A − B", ), {}),
          note="reads a formula as text"),
    # -- examples -----------------------------------------------------------
    Entry("examples.joint", lambda: ((U(1, A=2, B=3), U(2, A=2)), {}), complex=True),
    Entry("examples.marginal", lambda: ((U(1, A=2, B=3), U(2, A=2)), {}),
          axes=("A",), complex=True),
    Entry("examples.bayes", lambda: ((U(1, A=2, B=3), U(2, A=2)), {}), axes=("A",),
          complex=True),
    Entry("examples.cbow", lambda: ((nt.models.one_hot(I([0, 3, 1], "seq"), size=4),
                                     R(2, vocab=4, emb=2), R(3, classes=3, emb=2)), {}),
          axes=("seq", "vocab", "emb", "classes"), complex=False),
    Entry("examples.sudoku_one_hot", lambda: ((SUDOKU,), {}),
          new=("height", "width", "assign"), note=NO_TENSORS),
    Entry("examples.box_rows", lambda: ((1, 2, 2), {}), note="index arithmetic on ints"),
    Entry("examples.sudoku_boxes",
          lambda: ((nt.examples.sudoku_one_hot(SUDOKU),), {}),
          axes=("height", "width"), new=("height_box", "width_box"), complex=True),
    Entry("examples.sudoku_constraints",
          lambda: ((nt.examples.sudoku_one_hot(SUDOKU),), {}),
          axes=("height", "width", "assign"), complex=True),
    Entry("examples.sudoku_check",
          lambda: ((nt.examples.sudoku_one_hot(SUDOKU),), {}),
          axes=("height", "width", "assign"), complex=True),
    Entry("examples.sudoku_propagate",
          lambda: ((nt.examples.sudoku_one_hot(SUDOKU_CLUES),), {}),
          axes=("height", "width", "assign"), complex=True),
    Entry("examples.kmeans_assign", lambda: ((R(1, batch=5, d=2), R(2, clusters=3, d=2)),
                                             {}),
          axes=("d", "clusters"), complex=True),
    Entry("examples.kmeans_update",
          lambda: ((R(1, batch=5, d=2),
                    nt.examples.kmeans_assign(R(1, batch=5, d=2), R(2, clusters=3, d=2))),
                   {}),
          axes=("batch",), complex=True),
    Entry("examples.kmeans", lambda: ((R(1, batch=5, d=2), R(2, clusters=3, d=2)),
                                      dict(steps=2)),
          axes=("batch", "d", "clusters"), complex=True),
    Entry("examples.maxk", lambda: ((R(1, a=4, b=3), ("a", "b"), 2), {}),
          axes=("ax",), multi=("ax",), new=("new",), complex=False),
    Entry("examples.argmaxk", lambda: ((R(1, a=4, b=3), ("a", "b"), 2), {}),
          axes=("ax",), multi=("ax",), new=("new",), complex=False),
    Entry("examples.beam_search",
          lambda: ((beam_f(), nt.tensor(torch.zeros(1, dtype=F64), "beam"),
                    nt.tensor(torch.tensor([[1.0, 0, 0]], dtype=F64), ("beam", "state"))),
                   dict(steps=2, k=2)),
          axes=("beam", "state"), new=("time",), complex=False),
    Entry("examples.det", lambda: ((R(1, a=3, b=3, c=2), "a", "b"), {}),
          axes=("ax1", "ax2"), complex=True),
    Entry("examples.inv", lambda: ((R(1, a=3, b=3, c=2), "a", "b"), {}),
          axes=("ax1", "ax2"), complex=True),
    Entry("examples.mvn_log_density", lambda: ((R(1, d=2, batch=3), R(2, d=2),
                                                spd(3, "d1", "d2", 2)), {}),
          axes=("d", "d1", "d2"), complex=False),
    Entry("examples.belief_propagation", lambda: (([U(1, x=2, y=3), U(2, y=3, z=4)],),
                                                  {}),
          complex=False),
    # -- models (Appendix A) ------------------------------------------------
    Entry("models.one_hot", lambda: ((I([[0, 4, 2], [1, 1, 3]], ("batch", "seq")),),
                                     dict(size=5)),
          new=("vocab",), indices="tokens",
          sizes={"size": ("vocab", lambda bad: ((I([0, 1], "seq"),), dict(size=bad)))},
          note="integer input only"),
    Entry("models.embed", lambda: ((I([0, 4, 2], "seq"), R(2, vocab=5, layer=4)), {}),
          axes=("vocab", "layer"), indices="I", complex=True),
    Entry("models.positional_encoding", lambda: ((3, 4), {}), new=("seq", "layer"),
          sizes={"n": ("seq", lambda bad: ((bad, 4), {})),
                 "d": ("layer", lambda bad: ((3, bad), {}))}, note=NO_TENSORS),
    Entry("models.init_transformer", lambda: ((), dict(vocab=5, layers=1, heads=2,
                                                       layer=4, hidden=6)),
          sizes={a: (a, (lambda a: lambda bad: ((), {**dict(vocab=5, layers=1, heads=2,
                                                             layer=4, hidden=6),
                                                          a: bad}))(a))
                 for a in ("vocab", "hidden")},
          note=NO_TENSORS),
    Entry("models.self_attention",
          lambda: ((R(1, seq=3, layer=4), *[transformer_params()[f"1.W{w}"]
                                            for w in "QKVO"]), {}),
          axes=("seq", "layer", "heads", "key", "val"), new=("query",), complex=False),
    Entry("models.ffn", lambda: ((R(1, seq=3, layer=4),) + tuple(
        transformer_params()[f"1.{w}"] for w in ("W1", "b1", "W2", "b2")), {}),
          axes=("layer", "hidden"), complex=False),
    Entry("models.transformer_layer",
          lambda: ((R(1, seq=3, layer=4), layer_params(), 1), {}),
          axes=("seq", "layer", "heads", "key", "val", "hidden"), new=("query",),
          complex=False),
    Entry("models.transformer_logits",
          lambda: ((I([0, 4, 2], "seq"), transformer_params()), {}),
          axes=("seq", "vocab", "layer", "heads", "key", "val", "hidden"),
          new=("query",), complex=False),
    Entry("models.transformer", lambda: ((I([0, 4, 2], "seq"), transformer_params()), {}),
          complex=False),
    Entry("models.init_lenet", lambda: ((), LENET),
          sizes={a: (a, (lambda a: lambda bad: ((), {**LENET, a: bad}))(a))
                 for a in ("height", "hidden", "classes")},
          note=NO_TENSORS),
    Entry("models.lenet_logits",
          lambda: ((R(1, batch=2, chans=1, height=8, width=8), lenet_params()),
                   dict(pools=LENET["pools"])),
          axes=("chans", "height", "width", "hidden", "classes"), new=("layer",),
          complex=False),
    Entry("models.lenet",
          lambda: ((R(1, batch=2, chans=1, height=8, width=8), lenet_params()),
                   dict(pools=LENET["pools"])),
          complex=False),
    Entry("models.parameters", lambda: ((transformer_params(),), {}), complex=True,
          device="lists the parameter leaves, computes nothing"),
    Entry("models.cross_entropy", lambda: ((R(1, batch=3, vocab=4), I([3, 0, 1], "batch")),
                                           {}),
          axes=("vocab",), indices="target", complex=False),
    # -- alternatives (section 6) -------------------------------------------
    Entry("alternatives.to_xarray", unary(), complex=True),
    Entry("alternatives.from_xarray",
          lambda: ((data_array(),), {}), note="takes a DataArray"),
    Entry("alternatives.sql_load", lambda: ((sqlite3.connect(":memory:"), "T", a_b()), {}),
          complex=False),
    Entry("alternatives.sql_contract_query",
          lambda: (({"T": ("a", "b"), "U": ("b", "c")}, "b"), {}),
          axes=("over",), multi=("over",), note="takes table names"),
    Entry("alternatives.sql_read",
          lambda: ((sql_table(), 'SELECT "a", "b", "v" FROM "T"', {"a": 2, "b": 3}), {}),
          sizes={"sizes": ("a", lambda bad: ((sql_table(), 'SELECT "a", "b", "v" FROM "T"',
                                              {"a": bad, "b": 3}), {}))},
          note="reads a table"),
    Entry("alternatives.sql_contract", lambda: ((R(1, a=2, b=3), R(2, b=3, c=4)),
                                                dict(over="b")),
          axes=("over",), multi=("over",), complex=False),
    Entry("alternatives.Network", note="a dataclass made by network()"),
    Entry("alternatives.relation",
          lambda: (([(0, 1), (1, 2)], ("a", "b"), {"a": 2, "b": 3}), {}),
          new=("names",),
          sizes={"sizes": ("a", lambda bad: (([(0, 1)], ("a", "b"), {"a": bad, "b": 3}),
                                             {}))},
          note="takes rows of indices"),
    Entry("alternatives.tuples", lambda: ((a_b(), ("b", "a")), {}), axes=("names",),
          multi=("names",), complex=True),
    Entry("alternatives.dropout",
          lambda: ((R(1, batch=2, chans=3, height=4), 0.5, ("batch", "chans")),
                   dict(seed=0)),
          axes=("over",), multi=("over",), complex=True),
    Entry("alternatives.varying_axes", unary(), complex=True),
    Entry("alternatives.network", lambda: ((R(1, a=2, b=3), R(2, b=3, c=4)),
                                           dict(over="b")),
          axes=("over",), multi=("over",), complex=True,
          device="draws a diagram from the axis names only"),
]

BY_NAME = {e.name: e for e in TABLE}
assert len(BY_NAME) == len(TABLE), "an entry is listed twice"

COMPLEX_NOTE = """\
Complex input is accepted where the operation is defined for complex numbers:
construction and conversion, arithmetic (+ - * / ** == !=), contract, sum,
mean, prod, logsumexp, var and std (real: E|x - mean x|^2), norm, abs, exp,
log, sqrt, tanh, sigmoid, renaming, reshaping, indexing, cat, stack, equal,
allclose, show, standardize, unroll, pool, star, identity_like, tensor_norm,
remainder, remainder_ratio, evaluate_formula, the random variables, k-means,
Sudoku, det, inv, embed, to_xarray, tuples, dropout, varying_axes.  What orders values
(max, min, argmax, topk, relu, softmax, <, //, %), the blocks of section 4
(fused_by), the models built on them, the calculus of real functions, the
multivariate normal, belief propagation and the SQL tables refuse it with a
TypeError that says so."""


# ---------------------------------------------------------------------------
# what must be covered


PROTOCOL = {
    "__module__", "__qualname__", "__doc__", "__hash__", "__dict__", "__weakref__",
    "__init__", "__new__", "__slots__", "__annotations__", "__firstlineno__",
    "__static_attributes__", "__array_ufunc__", "__array_priority__", "__orig_bases__",
    "__parameters__", "__init_subclass__", "__class_getitem__",
}


def public_namespaces():
    """(prefix, module, exported names) for each public namespace of ntlib."""
    spaces = [("", nt, list(nt.__all__) + ["sum", "max", "min", "abs"])]
    # nt.testing and nt.exercises are the tools of tests and exercises, not
    # functions of the book, and nt.notation reads strings (tests/test_notation.py
    # feeds it odd input): no class of unusual tensor input runs over them
    for sub in ("nn",) + tuple(n for n in nt._NAMESPACES
                               if n not in ("testing", "exercises", "notation")):
        mod = getattr(nt, sub)
        spaces.append((sub + ".", mod, list(mod.__all__)))
    return spaces


def public_callables():
    """{object id: (object, [public names])} over ntlib's public namespaces,
    plus the methods of NamedTensor (those it adds to funsor's Tensor)."""
    found: dict = {}
    for prefix, mod, names in public_namespaces():
        for n in names:
            obj = getattr(mod, n)
            if callable(obj):
                found.setdefault(id(obj), (obj, []))[1].append(prefix + n)
    funsor_tensor = nt.NamedTensor.__mro__[1]
    for klass in nt.NamedTensor.__mro__:
        if klass is funsor_tensor:
            break
        for k in vars(klass):
            if k in PROTOCOL or (k.startswith("_") and not k.endswith("__")):
                continue
            found.setdefault(("NamedTensor", k), (None, []))[1].append(f"NamedTensor.{k}")
    return found


def entry_for(obj_names):
    """The table entry that covers a public object (by identity or method name)."""
    obj, names = obj_names
    for n in names:
        e = BY_NAME.get(n)
        if e is not None:
            return e
    for e in TABLE:
        if not e.name.startswith("NamedTensor.") and obj is not None:
            try:
                if resolve(e.name) is obj:
                    return e
            except AttributeError:
                continue
    return None


def applies(entry, cls):
    """Whether the class ``cls`` of unusual input applies to ``entry``."""
    return bool(getattr(entry, cls))


def tensors_in(obj):
    """The named tensors in a nested structure of arguments (lists, tuples, dicts)."""
    if isinstance(obj, nt.NamedTensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in tensors_in(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in tensors_in(v)]
    return []


def replace_tensors(obj, f):
    """The same nested structure with every named tensor t replaced by f(t)."""
    if isinstance(obj, nt.NamedTensor):
        return f(obj)
    if isinstance(obj, dict):
        return {k: replace_tensors(v, f) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(replace_tensors(v, f) for v in obj)
    return obj


def n_tensors(entry):
    if entry.build is None:
        return 0
    args, kwargs = entry.build()
    return len(tensors_in([args, kwargs]))


def has_float_tensor(entry):
    if entry.build is None:
        return False
    args, kwargs = entry.build()
    return any(t.data.is_floating_point() for t in tensors_in([args, kwargs]))


def fused_blocks():
    """The public blocks made by nt.fused_by (they have .plain and .fused)."""
    out = {}
    for e in TABLE:
        if e.build is None or e.name.startswith("NamedTensor."):
            continue
        fn = resolve(e.name)
        if hasattr(fn, "plain") and hasattr(fn, "fused"):
            out[e.name] = e
    return out


__all__ = ["TABLE", "BY_NAME", "Entry", "resolve", "public_callables", "entry_for",
           "tensors_in", "replace_tensors", "n_tensors", "has_float_tensor",
           "fused_blocks", "COMPLEX_NOTE"]
