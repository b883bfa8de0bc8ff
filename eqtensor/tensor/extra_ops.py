"""``pytensor.tensor.extra_ops``: the names eqtensor has (all also in :mod:`eqtensor.tensor`).

>>> import numpy as np
>>> from eqtensor.tensor.extra_ops import cumsum
>>> cumsum(np.array([1, 2, 3])).eval()
array([1, 3, 6])
"""

from ..core.ops.broadcast import broadcast_arrays, broadcast_shape, broadcast_to
from ..core.ops.cumulative import cumprod, cumsum, diff
from ..core.ops.diagonals import fill_diagonal, fill_diagonal_offset
from ..core.ops.flat_indices import ravel_multi_index, unravel_index
from ..core.ops.ranges import bartlett, geomspace, linspace, logspace
from ..core.ops.rearranging import concat_with_broadcast
from ..core.ops.repetition import repeat
from ..core.ops.selection import compress
from ..core.ops.shape import squeeze
from ..core.ops.sorting import searchsorted, unique
from ..core.ops.statistics import bincount

__all__ = ["bartlett", "bincount", "broadcast_arrays", "broadcast_shape", "broadcast_to", "compress",
           "concat_with_broadcast", "cumprod", "cumsum", "diff", "fill_diagonal", "fill_diagonal_offset", "geomspace",
           "linspace", "logspace", "ravel_multi_index", "repeat", "searchsorted", "squeeze", "unique", "unravel_index"]
