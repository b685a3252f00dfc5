"""ntlib: the named-tensor functions of the book *Named Tensor Notation, executable*.

Modules follow the paper, so a reader of chapter N knows which one to open:

- :mod:`ntlib.core` — named tensors and their operations (sections 2 and 3)
- :mod:`ntlib.nn` — neural-network building blocks (section 4)
- :mod:`ntlib.models` — the Transformer and LeNet (Appendix A)
- :mod:`ntlib.examples` — the first version's other examples and belief propagation
- :mod:`ntlib.display` — showing sources and tensors in the book
- :mod:`ntlib.exercises` — the chapters' exercises and their checker (``nt.exercises.check``)
"""

from . import core, examples, exercises, models, nn
from .core import *  # noqa: F401,F403
from .display import Source, show, source
from .examples import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403

__all__ = (list(core.__all__) + list(nn.__all__) + list(models.__all__)
           + list(examples.__all__) + ["show", "source", "Source"])
__version__ = "0.1.0"
