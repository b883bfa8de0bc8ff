"""eqtensor: tensor expressions optimized by equality saturation, compiled to C or NumPy.

>>> import eqtensor as et
>>> from eqtensor import tensor as pt
>>> a, b = pt.dscalar("a"), pt.dscalar("b")
>>> f = et.function([a, b], a + b)
>>> float(f(1, 2))
3.0
"""

#: the package version; pyproject.toml reads it from here (``[tool.setuptools.dynamic]``)
__version__ = "0.1.0"

from . import gradient, graph, tensor  # noqa: F401  (the public faces: eqtensor.gradient, .graph, .tensor)
from .core.basic import shared
from .core.config import config
from .core.errors import DisconnectedInputError, MissingInputError, UnusedInputError
from .compile.builders import OpFromGraph
from .compile.compiled_function import Function
from .compile.function import function
from .compile.io import In, Out
from .compile.mode import Mode
from .gradient import Lop, Rop, grad, pullback, pushforward
from .printing import debugprint, dprint, pprint
from .scan import scan  # the function, as ``pytensor.scan``; the module stays importable

change_flags = config.change_flags

__all__ = [
    "DisconnectedInputError", "Function", "In", "Lop", "MissingInputError", "Mode", "OpFromGraph", "Out", "Rop",
    "UnusedInputError",
    "__version__", "change_flags", "config", "debugprint", "dprint", "function", "grad", "gradient", "pprint",
    "pullback", "pushforward", "scan", "shared", "tensor",
]
