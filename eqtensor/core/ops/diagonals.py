"""Triangles and diagonals of matrices: the index sets ``tril_indices``, ``triu_indices`` (and their
``_from`` forms), ``fill_diagonal``, ``fill_diagonal_offset`` and ``extract_diag``.

>>> from eqtensor import tensor as pt
>>> [v.eval() for v in pt.tril_indices(2)]
[array([0, 1, 1]), array([0, 0, 1])]
"""

from __future__ import annotations

import numpy as np

from ..op import _is_weak, as_tensor_variable
from . import elemwise as E
from .creation import arange, tri
from .dims import _dim, _int_scalar
from .elemwise_formulas import smallest
from .linalg import diagonal
from .selection import nonzero
from .subtensor import set_subtensor


def extract_diag(x):
    """The main diagonal of a matrix (:func:`diagonal`)."""
    return diagonal(x)


def _tri_indices(opname, n, k, m, lower):
    n = _int_scalar(opname, "n", n)
    m = n if m is None else _int_scalar(opname, "m", m)
    k = _int_scalar(opname, "k", k)
    if all(isinstance(v, int) for v in (n, m, k)):  # known sizes: constant index vectors
        idx = np.tril_indices(n, k, m) if lower else np.triu_indices(n, k, m)
        return tuple(as_tensor_variable(i.astype("int64")) for i in idx)
    mask = tri(n, m, k if lower else (k - 1 if isinstance(k, int) else E.sub(k, 1)), dtype="bool")
    return nonzero(mask if lower else E.invert(mask))


def tril_indices(n, k=0, m=None):
    """The row and column indices of the lower triangle of an ``n`` x ``m`` matrix (``np.tril_indices``).

    >>> from eqtensor import tensor as pt
    >>> [v.eval() for v in pt.tril_indices(3, -1)]
    [array([1, 2, 2]), array([0, 0, 1])]
    """
    return _tri_indices("tril_indices", n, k, m, True)


def triu_indices(n, k=0, m=None):
    """The row and column indices of the upper triangle of an ``n`` x ``m`` matrix (``np.triu_indices``)."""
    return _tri_indices("triu_indices", n, k, m, False)


def tril_indices_from(a, k=0):
    """:func:`tril_indices` for the shape of the matrix ``a``."""
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise ValueError(f"tril_indices_from: the input must be two dimensional (a matrix), got {a.type}")
    return tril_indices(_dim(a, 0), k, _dim(a, 1))


def triu_indices_from(a, k=0):
    """:func:`triu_indices` for the shape of the matrix ``a``."""
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise ValueError(f"triu_indices_from: the input must be two dimensional (a matrix), got {a.type}")
    return triu_indices(_dim(a, 0), k, _dim(a, 1))


def fill_diagonal(a, val):
    """A copy of ``a`` with its main diagonal set to ``val`` (a matrix, or a tensor with all lengths
    equal), as ``np.fill_diagonal`` but returning the result.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.fill_diagonal(np.zeros((2, 3)), 5.0).eval()
    array([[5., 0., 0.],
           [0., 5., 0.]])
    """
    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise ValueError(f"fill_diagonal: expected at least 2 dimensions, got {a.type}")
    dims = [_dim(a, d) for d in range(a.ndim)]
    if a.ndim > 2:
        n = dims[0]
    elif all(isinstance(d, int) for d in dims):
        n = min(dims)
    else:
        n = E.cast(smallest(*dims), "int64")
    idx = arange(n)
    return set_subtensor(a[(idx,) * a.ndim], _stored(a, val))


def _stored(a, val):
    """``val`` as a value stored into ``a`` (NumPy's assignment casts it to ``a``'s dtype)."""
    val = as_tensor_variable(val)
    return E.cast(val, a.dtype) if val.dtype != a.dtype and not _is_weak(val) else val


def fill_diagonal_offset(a, val, offset):
    """A copy of the matrix ``a`` with its diagonal ``offset`` (above the main one when positive)
    set to ``val``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.fill_diagonal_offset(np.zeros((2, 3)), 1.0, 1).eval()
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise ValueError(f"fill_diagonal_offset: expected a matrix, got {a.type}")
    k = _int_scalar("fill_diagonal_offset", "offset", offset)
    if not isinstance(k, int):
        raise TypeError("fill_diagonal_offset: the offset must be known when the graph is built")
    rows, cols = _dim(a, 0), _dim(a, 1)
    if isinstance(rows, int) and isinstance(cols, int):
        n = max(0, min(rows + min(k, 0), cols - max(k, 0)))
    else:
        n = E.maximum(E.minimum(E.add(rows, min(k, 0)), E.sub(cols, max(k, 0))), 0)
    idx = arange(n)
    r = E.add(idx, -k) if k < 0 else idx
    c = E.add(idx, k) if k > 0 else idx
    return set_subtensor(a[r, c], _stored(a, val))


__all__ = [
    "extract_diag", "fill_diagonal", "fill_diagonal_offset", "tril_indices", "tril_indices_from", "triu_indices",
    "triu_indices_from",
]
