"""ntlib: the named-tensor functions of the book *Named Tensor Notation, executable*.

Modules follow the paper, so a reader of chapter N knows which one to open:

- :mod:`ntlib.core` — named tensors and their operations (sections 2 and 3)
- :mod:`ntlib.nn` — neural-network building blocks (section 4)
- :mod:`ntlib.calculus` — derivatives and differentials (section 5, Appendix B)
- :mod:`ntlib.alternatives` — other notations (section 6): xarray, SQL, tensor-network diagrams
- :mod:`ntlib.models` — the Transformer and LeNet (Appendix A)
- :mod:`ntlib.examples` — the first version's other examples and belief propagation
- :mod:`ntlib.display` — showing sources and tensors in the book
- :mod:`ntlib.exercises` — the chapters' exercises and their checker (``nt.exercises.check``)
"""

from . import alternatives, calculus, core, examples, exercises, models, nn
from .alternatives import *  # noqa: F401,F403
from .calculus import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
# nt.sum, nt.max, nt.min, nt.abs: module attributes, kept out of __all__ so that
# ``from ntlib import *`` does not shadow Python's built-ins.
from .core import abs, max, min, sum  # noqa: F401,A004
from .display import Source, show, source
from .examples import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403

__all__ = (list(core.__all__) + list(nn.__all__) + list(models.__all__)
           + list(calculus.__all__) + list(alternatives.__all__)
           + list(examples.__all__) + ["show", "source", "Source"])
# whatever a module exports, the star-export never shadows a Python built-in
__all__ = [n for n in __all__ if not hasattr(__import__("builtins"), n)]
__version__ = "0.1.0"
