"""Everything ntlib knows about funsor's internals, in one place.

ntlib's named tensor is a subclass of funsor.tensor.Tensor (see
ntlib._internal.tensor.NamedTensor), so its .data and .inputs are funsor's and
code written for funsor Tensors keeps working.  Beyond funsor's public
constructor, ntlib relies on the following internals; each is checked by a
test in tests/test_core.py (test_funsor_*), and the funsor versions they
were tested with are pinned in requirements.txt and pyproject.toml
(funsor>=0.4.8,<0.5, tested with 0.4.8 and pyro-ppl 1.9; 0.4.5 does not
import with current pyro-ppl):

1. What a funsor Tensor is made of (typed_class, and the attributes that
   NamedTensor computes from its axis names; see ntlib._internal.tensor):
   funsor builds a Tensor through its reflect interpretation, which finds
   the class parametrised by the argument types,
   get_origin(cls)[deep_type(args)], calls type.__call__ on it (Tensor.__init__
   sets .inputs, .output, .fresh, .bound and .data) and sets ._ast_values.
   A named tensor is built without funsor's constructor and cons cache: an
   instance of the same parametrised class whose attributes are computed
   from (data, axis names) when first read.  funsor's own constructor still
   works on NamedTensor and gives an equivalent object.

2. The eager rules for Binary(BinaryOp, ., .) (register_named_binary):
   funsor's rule reads a tensor's .shape as the shape of its *values*, which
   a named tensor reports as its axes, so funsor code that combines a named
   tensor with a funsor Tensor (ops.mul, funsor.sum_product) must not reach
   it.  ntlib registers more specific rules for (NamedTensor, Tensor) and
   (Tensor, NamedTensor) only: plain funsor Tensors keep funsor's rule and
   funsor's semantics exactly.

3. Substitution (subs): Funsor.__call__(x, **{name: value}), funsor's own
   indexing; ntlib indexes through torch, and tests check that funsor's
   substitution on a named tensor agrees.

Nothing else in ntlib imports funsor.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

with warnings.catch_warnings():
    # funsor's torch backend imports pyro, which imports tqdm.auto; in a
    # notebook without ipywidgets that warns on stderr.  ntlib shows no widgets.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import funsor
    import funsor.ops as ops
    from funsor.domains import Bint, Real
    from funsor.interpretations import eager, eager_base
    from funsor.terms import Binary
    from funsor.typing import deep_type, get_args, get_origin

    funsor.set_backend("torch")

if TYPE_CHECKING:
    # funsor has no type information; were its classes Any, a named tensor (a
    # subclass of Tensor) would pass for any type at all (a float, say).  Type
    # checkers see these shells instead: what ntlib reads of them is declared,
    # anything else is Any.
    import torch

    class Funsor:
        inputs: Any
        output: Any

        def __getattr__(self, name: str) -> Any: ...

    class Tensor(Funsor):
        data: torch.Tensor

        def __init__(self, data: Any, inputs: Any = None, dtype: Any = "real") -> None: ...

    class Number(Funsor):
        data: Any
else:
    from funsor.tensor import Tensor
    from funsor.terms import Funsor, Number

from .cache import bounded_cache

__all__ = ["funsor", "ops", "Tensor", "Funsor", "Number", "Real", "bint", "typed_class",
           "funsor_tensor", "register_named_binary", "subs"]

@bounded_cache
def bint(size: int) -> Any:
    """funsor's Bint[size], cached (the domain lookup is slow next to a small op)."""
    return Bint[size]


def typed_class(cls: type, data_class: type, ndim: int) -> Any:
    """The class funsor's constructor would instantiate for cls(data, inputs) with
    data of data_class and ``ndim`` inputs: get_origin(cls)[deep_type((data,
    inputs, "real"))], where deep_type(data) is data's class."""
    inputs = tuple(("a%d" % k, bint(1)) for k in range(ndim))
    return get_origin(cls)[(data_class, deep_type(inputs), deep_type("real"))]


def funsor_tensor(data, inputs, dtype="real"):
    """A plain funsor Tensor, through funsor's own constructor."""
    return Tensor(data, inputs, dtype)


def subs(t, values):
    """funsor's substitution ``t(**values)`` (Funsor.__call__, also on a NamedTensor)."""
    return Funsor.__call__(t, **values)


def _funsor_rule(op_class):
    """funsor's eager rule for Binary(op_class, Tensor, Tensor), found by its signature
    (funsor.tensor names its rules for BinaryOp and MatmulOp alike)."""
    for sig, fn in eager_base.registry[Binary].funcs.items():
        if len(sig) == 3 and sig[1:] == (Tensor, Tensor) and get_args(sig[0]) == (op_class,):
            return fn
    raise ImportError(f"funsor has no eager rule for Binary({op_class.__name__}, Tensor, Tensor)")


def register_named_binary(named_cls, named):
    """Make funsor's elementwise Binary on a named tensor ``named(op, lhs, rhs)``.

    Registered for (named_cls, Tensor), (Tensor, named_cls) and both named;
    more specific than funsor's (Tensor, Tensor) rule, which plain funsor
    Tensors keep.  Vector-valued funsor Tensors paired with a named tensor
    also keep funsor's rule.
    """
    plain = _funsor_rule(ops.BinaryOp)

    def rule(op, lhs, rhs):
        if lhs.output.shape or rhs.output.shape:
            return plain(op, lhs, rhs)
        return named(op, lhs, rhs)

    pairs = ((named_cls, Tensor), (Tensor, named_cls), (named_cls, named_cls))
    # funsor's rules for special ops on two Tensors (matmul, getitem) stay theirs;
    # registering them for the named pairs too keeps the dispatch unambiguous
    for sig, fn in list(eager_base.registry[Binary].funcs.items()):
        if len(sig) == 3 and sig[1:] == (Tensor, Tensor) and get_args(sig[0]) != (ops.BinaryOp,):
            for pair in pairs:
                eager.register(Binary, get_args(sig[0])[0], *pair)(fn)
    for pair in pairs:
        eager.register(Binary, ops.BinaryOp, *pair)(rule)
    return rule
