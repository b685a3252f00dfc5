"""ntlib: the named-tensor functions of the book *Named Tensor Notation, executable*.

Modules follow the paper:

- :mod:`ntlib.core` — named tensors and their operations (sections 2 and 3)
- :mod:`ntlib.display` — showing sources and tensors in the book
"""

from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all
from .display import Source, show, source

__all__ = list(_core_all) + ["show", "source", "Source"]
__version__ = "0.1.0"

from .nn import *  # noqa: F401,F403,E402
from .nn import __all__ as _nn_all  # noqa: E402

__all__ += list(_nn_all)

from .models import *  # noqa: F401,F403,E402
from .models import __all__ as _models_all  # noqa: E402

__all__ += list(_models_all)
