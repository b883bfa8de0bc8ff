"""Cumulative ops: ``cumsum`` and ``cumprod`` (ops; dtype as NumPy: small integers accumulate in
int64, each with a VJP rule and a C fallback), and :func:`diff` (a formula over slices).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.cumsum(np.array([1, 2, 3])).eval()
array([1, 3, 6])
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, declare, dtype_by_numpy
from .dims import _along, _one_axis
from .shape import flatten
from .subtensor import getitem


def _cum_infer(op, inputs):
    (x,) = inputs
    if not 0 <= op.params["axis"] < x.ndim:
        raise ValueError(f"{op.name}: axis {op.params['axis']} is out of range for {x.type}")
    return TensorType(dtype_by_numpy(op, [x.dtype], [x.ndim]), x.type.shape)


declare("cumsum", "other", 1, _cum_infer, lambda x, axis: np.cumsum(x, axis=axis), params=("axis",), cost=1,
        numpy="np.cumsum({0}, axis={axis})", doc="cumulative sum along an axis (np.cumsum)")
declare("cumprod", "other", 1, _cum_infer, lambda x, axis: np.cumprod(x, axis=axis), params=("axis",), cost=1,
        numpy="np.cumprod({0}, axis={axis})", doc="cumulative product along an axis (np.cumprod)")


def cumsum(x, axis=None):
    """Cumulative sum along ``axis`` (of the flattened ``x`` when None), as ``np.cumsum``: integer
    and boolean inputs accumulate in int64 (PyTensor keeps the input's dtype).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.cumsum(np.array([[1, 2], [3, 4]]), axis=0).eval()
    array([[1, 2],
           [4, 6]])
    """
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    return Op(OPS["cumsum"], {"axis": _one_axis(axis, x.ndim, "cumsum")})(x)


def cumprod(x, axis=None):
    """Cumulative product along ``axis`` (of the flattened ``x`` when None), as ``np.cumprod``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.cumprod(np.array([1.0, 2.0, 3.0])).eval()
    array([1., 2., 6.])
    """
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    return Op(OPS["cumprod"], {"axis": _one_axis(axis, x.ndim, "cumprod")})(x)


def diff(x, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis`` (``np.diff``), by slicing.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.diff(np.array([1, 4, 9, 16]), n=2).eval()
    array([2, 2])
    """
    x = as_tensor_variable(x)
    axis = _one_axis(axis, x.ndim, "diff")
    for _ in range(int(n)):
        x = getitem(x, _along(axis, x.ndim, slice(1, None))) - getitem(x, _along(axis, x.ndim, slice(None, -1)))
    return x


__all__ = ["cumprod", "cumsum", "diff"]
