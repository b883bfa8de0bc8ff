"""Public compilation face (``pytensor.compile``): ``function``, ``In``, ``Out``, ``shared``, ``SharedVariable``,
``Mode``.

>>> from eqtensor.compile import function, In
>>> from eqtensor import tensor as pt
>>> x = pt.dscalar("x")
>>> float(function([In(x, value=2.0)], x * 3)())
6.0
"""

from ..core.basic import shared
from ..core.graph import SharedVariable
from .compiled_function import Function
from .function import FunctionMaker, function
from .io import In, Out
from .mode import Mode, get_mode
from . import builders, debug  # noqa: E402  (compile.builders; compile.debug registers "DebugMode", "NanGuardMode")

__all__ = ["Function", "FunctionMaker", "In", "Mode", "Out", "SharedVariable", "function", "get_mode", "shared"]
