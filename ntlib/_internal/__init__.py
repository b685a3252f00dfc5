"""ntlib's internal layer: what the public modules share, not part of the notation.

- funsor_compat: every funsor internal ntlib relies on;
- base: the errors, the device, axis arguments, error messages, reading a
  named tensor's axes and sizes, the dtype rule;
- tensor: the named-tensor type (NamedTensor), and making named tensors
  (make, wrap, as_named): the one module that builds them;
- checks: the checking decorator (argument checks that stay out of the formula);
- modes: nt.plain() and nt.strict_fused(), per thread and per task;
- dispatch: plain formulas paired with fused kernels (fused_by).

Public modules import from here and from the public names of other modules,
never a private name of a public module (tests/test_layout.py checks this).
"""

from . import funsor_compat
from .base import *  # noqa: F401,F403
from .base import __all__ as _base_all
from .tensor import *  # noqa: F401,F403
from .tensor import __all__ as _tensor_all
from .cache import bounded_cache
from .checks import Axes, Axis, Order, checked, compatible
from .dispatch import fused_by
from .modes import fused_enabled, plain, plain_mode, strict_fused, strict_mode

__all__ = list(_base_all) + list(_tensor_all) + [
    "funsor_compat", "bounded_cache", "Axes", "Axis", "Order", "checked", "compatible",
    "fused_by", "fused_enabled", "plain", "plain_mode", "strict_mode", "strict_fused"]
