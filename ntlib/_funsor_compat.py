"""Everything ntlib knows about funsor's internals, in one place.

ntlib's named tensor is a subclass of :class:`funsor.tensor.Tensor` (see
``ntlib.core.NamedTensor``), so its ``.data`` and ``.inputs`` are funsor's and
code written for funsor Tensors keeps working.  Beyond funsor's public
constructor, ntlib relies on the following internals; each is checked by a
test in ``tests/test_core.py`` (``test_funsor_*``), and the funsor versions
they were tested with are pinned in ``requirements.txt`` and
``pyproject.toml`` (``funsor>=0.4.8,<0.5``, tested with 0.4.8 and pyro-ppl
1.9; 0.4.5 does not import with current pyro-ppl):

1. **Cached construction** (:func:`make`).  funsor builds a Tensor through
   its ``reflect`` interpretation: look the term up in the class's cons cache
   ``cls._cons_cache`` keyed by the argument ids/values, else find the
   parametrised class ``get_origin(cls)[deep_type(args)]`` and call
   ``type.__call__`` on it, then set ``_ast_values``.  We do the same steps but
   remember the parametrised class per argument *types* (about 30 µs down to
   10 µs a tensor).  If ``_cons_cache`` is missing we fall back to funsor's
   ``reflect.interpret``.

2. **The eager rule for ``Binary(BinaryOp, Tensor, Tensor)``**
   (:func:`register_binary_check`).  ntlib's own named tensors do their
   arithmetic in torch (``NamedTensor.__add__`` and friends), but plain funsor
   Tensors still go through funsor's rule; we find that rule in
   ``eager_base.registry[Binary].funcs`` by its signature and register a
   wrapper over it that checks axis sizes first.

3. **Substitution** (:func:`subs`): ``Funsor.__call__(x, **{name: value})``
   with ``value`` an int or a ``Tensor`` whose dtype is ``Bint[n]`` — funsor's
   indexing, used by ``ntlib.index``.

Nothing else in ntlib imports funsor.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # funsor's torch backend imports pyro, which imports tqdm.auto; in a
    # notebook without ipywidgets that warns on stderr.  ntlib shows no widgets.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import funsor
    import funsor.ops as ops
    from funsor.domains import Bint
    from funsor.interpretations import eager_base, reflect
    from funsor.tensor import Tensor
    from funsor.terms import Binary, Funsor, FunsorMeta, Number, eager
    from funsor.typing import deep_type, get_args, get_origin

    funsor.set_backend("torch")

__all__ = ["funsor", "ops", "Tensor", "Funsor", "Number", "bint", "make", "plain",
           "register_binary_check", "subs"]

_BINT: dict = {}


def bint(size: int):
    """funsor's Bint[size], cached (the domain lookup is slow next to a small op)."""
    dom = _BINT.get(size)
    if dom is None:
        dom = _BINT[size] = Bint[size]
    return dom


_SPECIFIC: dict = {}


def make(cls, data, inputs: tuple, dtype="real"):
    """funsor's ``cls(data, OrderedDict(inputs), dtype)`` for ``cls`` Tensor or a subclass.

    ``inputs`` is a tuple of (name, Bint[size]).  The result is the very
    object funsor's own constructor returns (tested).
    """
    args = (data, inputs, dtype)
    cache = cls.__dict__.get("_cons_cache")
    if cache is None:
        return reflect.interpret(cls, *args)
    key = (id(data), inputs, dtype)
    hit = cache.get(key)
    if hit is not None:
        return hit
    skey = (cls, type(data), tuple(type(d) for _, d in inputs), type(dtype))
    specific = _SPECIFIC.get(skey)
    if specific is None:
        specific = _SPECIFIC[skey] = get_origin(cls)[tuple(map(deep_type, args))]
    result = super(FunsorMeta, specific).__call__(*args)
    result._ast_values = args
    cache[key] = result
    return result


def plain(x, dtype="real"):
    """The plain funsor Tensor with x's data and inputs (and funsor dtype ``dtype``)."""
    return make(Tensor, x.data, tuple(x.inputs.items()), dtype)


def subs(t, values):
    """funsor's substitution ``t(**values)``; t a plain funsor Tensor, values a dict."""
    return Funsor.__call__(t, **values)


def _funsor_rule(op_class):
    for sig, fn in eager_base.registry[Binary].funcs.items():
        if len(sig) == 3 and sig[1:] == (Tensor, Tensor) and get_args(sig[0]) == (op_class,):
            return fn
    raise ImportError(f"funsor has no eager rule for Binary({op_class.__name__}, Tensor, Tensor)")


_funsor_binary = _funsor_rule(ops.BinaryOp)


def register_binary_check(check, named=None):
    """Put ``check(op, lhs, rhs)`` in front of funsor's eager elementwise binary rule.

    When both operands are real tensors of scalars (what ntlib's named tensors
    are) and ``named`` is given, the operation is ``named(op, lhs, rhs)``:
    funsor's own rule reads the operands' ``.shape`` as the shape of their
    *values*, which a named tensor reports as its axes, so funsor code that
    multiplies named tensors (``ops.mul``, ``funsor.sum_product``) must not
    reach it.  Vector-valued funsor tensors keep funsor's rule, after the check.

    (funsor.tensor names its rules for BinaryOp and MatmulOp alike, so the rule
    is looked up in the registry, before we register ours over it, not by its
    module attribute.)
    """
    @eager.register(Binary, ops.BinaryOp, Tensor, Tensor)
    def _checked_binary(op, lhs, rhs):
        if (named is not None and lhs.dtype == rhs.dtype == "real"
                and not lhs.output.shape and not rhs.output.shape):
            return named(op, lhs, rhs)
        check(op, lhs, rhs)
        return _funsor_binary(op, lhs, rhs)
    return _checked_binary
