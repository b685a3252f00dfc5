"""ntlib: the named-tensor functions of the book *Named Tensor Notation, executable*.

``nt.*`` is the notation itself: named tensors and their operations (paper
sections 2 and 3, ntlib.core), the neural-network building blocks (section 4,
ntlib.nn), nt.show and nt.source, and plain/fused dispatch.  The other parts
of the book are namespaces, one module per part, so a reader of chapter N
knows which file to open:

- ntlib.core: named tensors and their operations (sections 2 and 3)
- ntlib.nn: neural-network building blocks (section 4)
- ntlib.calculus: derivatives and differentials (section 5, Appendix B)
- ntlib.alternatives: other notations (section 6): xarray, SQL, tensor-network diagrams
- ntlib.examples: the first version's other examples and belief propagation
- ntlib.models: the Transformer and LeNet (Appendix A)
- ntlib.notation: the notation itself, parsed and evaluated (Appendix C)
- ntlib.exercises: the chapters' exercises and their checker (nt.exercises.check)
- ntlib.testing: assert helpers and hypothesis strategies for tests
- ntlib.display: showing sources and tensors in the book
"""

import importlib as _importlib

from . import alternatives, calculus, core, display, examples, exercises, models, nn
from . import notation
from .core import *  # noqa: F401,F403
# nt.sum, nt.max, nt.min, nt.abs: module attributes, kept out of __all__ so that
# "from ntlib import *" does not shadow Python's built-ins.
from .core import abs, max, min, sum  # noqa: F401,A004
from ._internal import fused_enabled
from .display import show, source
from .nn import *  # noqa: F401,F403

__all__ = (list(core.__all__) + list(nn.__all__)
           + ["fused_enabled", "show", "source"])
# whatever a module exports, the star-export never shadows a Python built-in
__all__ = [n for n in __all__ if not hasattr(__import__("builtins"), n)]
__version__ = "0.1.0"


def __getattr__(name):
    # nt.testing is imported when first used (it needs hypothesis)
    if name == "testing":
        try:
            return _importlib.import_module(".testing", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.testing":
                raise
    raise AttributeError(f"module 'ntlib' has no attribute {name!r}")
