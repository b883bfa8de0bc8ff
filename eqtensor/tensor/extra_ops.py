"""``pytensor.tensor.extra_ops``: the names eqtensor has (all also in :mod:`eqtensor.tensor`).

>>> import numpy as np
>>> from eqtensor.tensor.extra_ops import cumsum
>>> cumsum(np.array([1, 2, 3])).eval()
array([1, 3, 6])
"""

from ..core.ops.extra import (
    bartlett, bincount, broadcast_arrays, compress, concat_with_broadcast, cumprod, cumsum, diff, fill_diagonal,
    fill_diagonal_offset, geomspace, linspace, logspace, repeat,
)
from ..core.ops.shape import broadcast_to, squeeze

__all__ = ["bartlett", "bincount", "broadcast_arrays", "broadcast_to", "compress", "concat_with_broadcast", "cumprod",
           "cumsum", "diff", "fill_diagonal", "fill_diagonal_offset", "geomspace", "linspace", "logspace", "repeat",
           "squeeze"]
