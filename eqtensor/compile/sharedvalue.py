"""Shared variables at PyTensor's path ``pytensor.compile.sharedvalue``: the class
``SharedVariable`` (defined with the graph IR, :mod:`eqtensor.core.graph`) and ``shared``.

>>> import numpy as np
>>> from eqtensor.compile.sharedvalue import SharedVariable, shared
>>> w = shared(np.zeros(3), name="w")
>>> isinstance(w, SharedVariable), w.type.numpy_dtype
(True, dtype('float64'))
"""

from ..core.basic import shared
from ..core.graph import SharedVariable

__all__ = ["SharedVariable", "shared"]
