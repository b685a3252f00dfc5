"""Named tensors and their operations (paper sections 2 and 3).

- ntlib.core.named_tensor: making named tensors and reading them (section 2;
  the type, nt.NamedTensor, is defined with its constructors in the layer
  below, ntlib._internal.tensor);
- ntlib.core.shapes: the set-level definitions of section 2 (shapes,
  records, restriction) and lifting written out;
- ntlib.core.operations: the formulas of section 3, and NamedTensor's
  methods (installed from one table there), over three engines:
  ntlib.core._layouts (broadcasting by name, the arithmetic operators),
  ntlib.core._contraction (the contraction planner) and ntlib.core._indexing
  (the indexing engine).

Everything is re-exported here: ntlib.core.sum is ntlib.sum.
"""

from .._internal import AxisError, DeviceError, fused_by, plain, strict_fused
from . import named_tensor as _named_tensor, operations as _operations, shapes as _shapes
from .operations import *  # noqa: F401,F403
from .operations import abs, max, min, one_hot_limit, reduce, sum  # noqa: F401,A004
from ._contraction import einsum, einsum_equation  # noqa: F401
from ._indexing import select  # noqa: F401
from ._layouts import elementwise, layout  # noqa: F401
from .shapes import *  # noqa: F401,F403
from .named_tensor import *  # noqa: F401,F403
# the annotation alias (x: Named), for ntlib's modules; not part of nt.*
from .named_tensor import Named  # noqa: F401

_BUILTIN_NAMES = ("sum", "max", "min", "abs")
__all__ = [n for n in (["DeviceError", "fused_by", "plain", "strict_fused"]
                       + _named_tensor.__all__ + _shapes.__all__ + _operations.__all__)
           if n not in _BUILTIN_NAMES]
