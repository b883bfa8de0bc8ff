"""Checking modes (``pytensor.compile.debug``): :mod:`.debugmode` (``DebugMode``: every call
computed by the C backend, the NumPy backend and the unoptimized graph, compared) and
:mod:`.nanguardmode` (``NanGuardMode``: every value checked for NaN, infinities and huge
magnitudes). Importing the package registers the mode names ``"DebugMode"`` and ``"NanGuardMode"``.

>>> from eqtensor.compile.debug import DebugMode, NanGuardMode
>>> NanGuardMode(big_is_error=False).big_is_error, DebugMode().backend
(False, 'c')
"""

from .debugmode import DebugMode, DebugModeError
from .nanguardmode import NanGuardMode

__all__ = ["DebugMode", "DebugModeError", "NanGuardMode"]
