"""Selection by condition: ``where`` (``switch``, or ``nonzero`` with the condition alone),
``nonzero``, ``flatnonzero``, ``nonzero_values``, ``compress``. Data-dependent lengths have static
length None.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.flatnonzero(np.array([0, 3, 0, 5])).eval()
array([1, 3])
"""

from __future__ import annotations

from ..op import as_tensor_variable
from . import elemwise as E
from .creation import arange
from .dims import _dim, _prod
from .join import stack
from .shape import flatten
from .subtensor import getitem, take


def where(cond, ift=None, iff=None):
    """``switch(cond, ift, iff)``; with the condition alone, ``nonzero(cond)`` (NumPy's ``where``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> [v.eval() for v in pt.where(np.array([[0, 1], [1, 0]]))]
    [array([0, 1]), array([1, 0])]
    """
    if ift is not None and iff is not None:
        return E.switch(cond, ift, iff)
    if ift is None and iff is None:
        return nonzero(cond)
    raise ValueError("where: give either both ift and iff, or neither")


def _truth(a):
    return a if a.dtype == "bool" else E.neq(a, 0)


def flatnonzero(a):
    """Indices (int64) of the nonzero elements of the flattened ``a`` (``np.flatnonzero``; the
    length is data-dependent, so its static length is None).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.flatnonzero(np.array([[0, 3], [4, 0]])).eval()
    array([1, 2])
    """
    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError("flatnonzero: a 0-d tensor is not supported (as PyTensor)")
    mask = flatten(_truth(a))
    return getitem(arange(_prod([_dim(a, d) for d in range(a.ndim)])), (mask,))


def nonzero(a, return_matrix=False):
    """Per-axis int64 indices of the nonzero elements of ``a`` (a tuple, as ``np.nonzero``), or a
    matrix of them (one row per axis) with ``return_matrix=True``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.nonzero(np.array([[0, 3], [4, 0]]), return_matrix=True).eval()
    array([[0, 1],
           [1, 0]])
    """
    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError("nonzero: a 0-d tensor is not supported (as PyTensor)")
    flat = flatnonzero(a)
    dims = [_dim(a, d) for d in range(a.ndim)]
    res = []
    for d in range(a.ndim):
        stride = _prod(dims[d + 1:])
        idx = flat if (isinstance(stride, int) and stride == 1) else E.floor_div(flat, stride)
        res.append(idx if d == 0 else E.mod(idx, dims[d]))
    if return_matrix:
        return stack(res, 0)
    return tuple(res)


def nonzero_values(a):
    """The nonzero elements of ``a``, flattened in C order (data-dependent length).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.nonzero_values(np.array([[0.0, 3.0], [4.0, 0.0]])).eval()
    array([3., 4.])
    """
    a = as_tensor_variable(a)
    return getitem(flatten(a), (flatten(_truth(a)),))


def compress(condition, x, axis=None):
    """The slices of ``x`` along ``axis`` (of the flattened ``x`` when None) where ``condition`` (a
    vector) is nonzero, as ``np.compress``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.compress(np.array([1, 0, 1]), np.arange(6).reshape((3, 2)), axis=0).eval()
    array([[0, 1],
           [4, 5]])
    """
    return take(as_tensor_variable(x), flatnonzero(condition), axis=axis)


__all__ = ["compress", "flatnonzero", "nonzero", "nonzero_values", "where"]
