"""Named tensors and their operations (paper sections 2 and 3).

- ntlib.core.named_tensor: the named-tensor type and its construction (section 2);
- ntlib.core.shapes: the set-level definitions of section 2 (shapes,
  records, restriction) and lifting written out;
- ntlib.core.operations: the operations of section 3, and NamedTensor's
  methods (installed from one table there).

Everything is re-exported here: ntlib.core.sum is ntlib.sum.
"""

from .._internal import AxisError, DeviceError, fused_by, plain, strict_fused
from . import named_tensor as _named_tensor, operations as _operations, shapes as _shapes
from .operations import *  # noqa: F401,F403
from .operations import abs, einsum, einsum_equation, elementwise, layout, max, min, \
    one_hot_limit, reduce, select, sum  # noqa: F401,A004
from .shapes import *  # noqa: F401,F403
from .named_tensor import *  # noqa: F401,F403
# the annotation alias (x: Named), for ntlib's modules; not part of nt.*
from .named_tensor import Named  # noqa: F401

_BUILTIN_NAMES = ("sum", "max", "min", "abs")
__all__ = [n for n in (["DeviceError", "fused_by", "plain", "strict_fused"]
                       + _named_tensor.__all__ + _shapes.__all__ + _operations.__all__)
           if n not in _BUILTIN_NAMES]
