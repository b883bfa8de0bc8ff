"""Vector and matrix products of NumPy 2 and PyTensor built on ``matmul``/``dot``: ``vecdot``,
``matvec``, ``vecmat``, ``dense_dot``, ``batched_dot``.

>>> from eqtensor import tensor as pt
>>> pt.matvec(pt.dmatrix("a", shape=(2, 3)), pt.dvector("v", shape=(3,))).type.shape
(2,)
"""

from __future__ import annotations

import warnings

from ..dtypes import as_dtype
from ..op import as_tensor_variable
from . import elemwise as E
from .linalg import dot, matmul
from .shape import dimshuffle, expand_dims


def vecdot(x1, x2, dtype=None):
    """The dot product of ``x1`` and ``x2`` along their last axis, broadcast over the others
    (``np.vecdot`` for real inputs; complex ``x1`` is not conjugated).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.vecdot(np.ones((2, 3)), np.arange(3.0)).eval()
    array([3., 3.])
    """
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("vecdot: the inputs need at least one dimension")
    out = matmul(expand_dims(x1, -2), expand_dims(x2, -1))
    out = dimshuffle(out, *range(out.ndim - 2))
    return out if dtype is None else E.cast(out, as_dtype(dtype))


def dense_dot(a, b):
    """``np.dot(a, b)``: a product by a scalar, the inner product of vectors, the matrix product,
    the sum over a's last and b's second-to-last axis for more dimensions.

    >>> from eqtensor import tensor as pt
    >>> pt.dense_dot(pt.tensor3("a", shape=(2, 3, 4)), pt.tensor3("b", shape=(5, 4, 6))).type.shape
    (2, 3, 5, 6)
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return E.mul(a, b)
    return dot(a, b)


def matvec(x1, x2, dtype=None):
    """Matrix-vector products over the last axes, broadcast over the others (``np.matvec``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.matvec(np.ones((2, 3)), np.arange(3.0)).eval()
    array([3., 3.])
    """
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim < 2 or x2.ndim < 1:
        raise ValueError(f"matvec: expected a matrix and a vector (or stacks), got {x1.type} and {x2.type}")
    out = matmul(x1, expand_dims(x2, -1))
    out = dimshuffle(out, *range(out.ndim - 1))
    return out if dtype is None else E.cast(out, as_dtype(dtype))


def vecmat(x1, x2, dtype=None):
    """Vector-matrix products over the last axes, broadcast over the others (``np.vecmat``)."""
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim < 1 or x2.ndim < 2:
        raise ValueError(f"vecmat: expected a vector and a matrix (or stacks), got {x1.type} and {x2.type}")
    out = matmul(expand_dims(x1, -2), x2)
    out = dimshuffle(out, *range(out.ndim - 2), out.ndim - 1)
    return out if dtype is None else E.cast(out, as_dtype(dtype))


def batched_dot(a, b):
    """``dot(a[i], b[i])`` for each ``i`` along the first axis, stacked (PyTensor's deprecated
    ``batched_dot``: it warns with ``FutureWarning`` as PyTensor does; ``matmul`` broadcasts over
    leading axes). ``a[i]`` and ``b[i]`` may be scalars, vectors or matrices.

    >>> import numpy as np, warnings
    >>> from eqtensor import tensor as pt
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     pt.batched_dot(np.ones((2, 3)), np.arange(6.0).reshape(2, 3)).eval()
    array([ 3., 12.])
    """
    warnings.warn("batched_dot is deprecated (as in PyTensor): use matmul, which broadcasts over leading axes, "
                  "or vecdot/matvec/vecmat", FutureWarning, stacklevel=2)
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    for name, v in (("a", a), ("b", b)):
        if v.ndim == 0:
            raise TypeError(f"batched_dot: {name} must have at least one (batch) axis, got {v.type}")
        if v.ndim > 3:
            raise NotImplementedError(f"batched_dot: {name} has {v.ndim} dimensions; at most 3 (a batch of matrices) "
                                      f"are supported: use matmul or tensordot")
    if a.ndim == 1 or b.ndim == 1:  # a batch of scalars: scale the other operand's entries
        pad = max(a.ndim, b.ndim)
        return E.mul(expand_dims(a, tuple(range(a.ndim, pad))), expand_dims(b, tuple(range(b.ndim, pad))))
    if a.ndim == 2 and b.ndim == 2:
        return vecdot(a, b)
    if a.ndim == 3 and b.ndim == 2:
        return matvec(a, b)
    if a.ndim == 2:
        return vecmat(a, b)
    return matmul(a, b)


__all__ = ["batched_dot", "dense_dot", "matvec", "vecdot", "vecmat"]
