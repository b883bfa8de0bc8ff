"""Statistics as formulas over the other families: ``median`` (over ``sort``), ``ptp``, ``cov``,
``bincount`` and ``max_and_argmax``.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.median(np.array([3.0, 1.0, 2.0, 10.0])).eval()
array(2.5)
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES, promote
from ..op import OPS, Op, as_tensor_variable
from . import elemwise as E
from . import reduction as R
from .creation import zeros
from .dims import _dim, _int_scalar
from .join import concatenate
from .linalg import dot
from .shape import as_axis, axis_tuple, dimshuffle, reshape, shape_padleft, transpose
from .sorting import sort
from .subtensor import inc_subtensor


def median(x, axis=None):
    """The median along ``axis`` (all axes when None; an int or a tuple), from a sort: the mean of
    the two middle values for even lengths; nan where a value is nan (NumPy's rule: PyTensor's
    median skips nan, which sorts last). Integer inputs give float64.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.median(np.array([[1, 5, 2], [8, 7, 9]]), axis=1).eval()
    array([2., 8.])
    """
    x = as_tensor_variable(x)
    axes = list(range(x.ndim)) if axis is None else list(axis_tuple(axis, x.ndim, "median"))
    rest = [d for d in range(x.ndim) if d not in axes]
    xr = transpose(x, rest + axes)
    if len(axes) != 1:
        xr = reshape(xr, tuple(_dim(x, d) for d in rest) + (-1,))
    n = _dim(xr, -1)
    out_dtype = x.dtype if x.dtype.startswith(("float", "complex")) else "float64"
    xs = E.cast(sort(xr, axis=-1), out_dtype)
    if isinstance(n, int):
        if n == 0:
            raise ValueError("median: the reduced axes have length 0")
        k = n // 2
        upper = xs[..., k]
        med = upper if n % 2 else E.true_div(E.add(upper, xs[..., k - 1]), np.asarray(2, out_dtype))
    else:
        k = E.floor_div(n, 2)
        upper = xs[..., k]
        even = E.true_div(E.add(upper, xs[..., E.sub(k, 1)]), np.asarray(2, out_dtype))
        med = E.switch(E.eq(E.mod(n, 2), 0), even, upper)
    if x.dtype.startswith("float"):  # nan sorts last: the median of a row holding nan is nan
        med = E.switch(E.isnan(xs[..., -1]), np.asarray(np.nan, out_dtype), med)
    return med


def ptp(a, axis=None):
    """Peak to peak: ``max - min`` along ``axis`` (``np.ptp``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.ptp(np.array([[1, 9], [4, 2]]), axis=0).eval()
    array([3, 7])
    """
    a = as_tensor_variable(a)
    axis = as_axis(axis)
    return E.sub(R.max(a, axis), R.min(a, axis))


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``m`` (columns with ``rowvar=False``),
    and of ``y`` stacked below, as ``np.cov``: normalized by ``N - 1`` (``N`` with ``bias=True``, or
    ``N - ddof``); computed in at least float64 (NumPy's rule; PyTensor keeps float32).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.cov(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).eval()
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights and aweights are not supported (as PyTensor)")

    def as_rows(v):
        v = as_tensor_variable(v)
        if v.ndim > 2:
            raise ValueError(f"cov: expected a vector or a matrix, got {v.type}")
        v = shape_padleft(v, 2 - v.ndim) if v.ndim < 2 else v
        if not rowvar and v.type.shape[0] != 1:
            v = transpose(v)
        return E.cast(v, promote([v.dtype, "float64"]))

    m = as_rows(m)
    if y is not None:
        y = as_rows(y)
        dt = promote([m.dtype, y.dtype])
        m = concatenate([E.cast(m, dt), E.cast(y, dt)], axis=0)
    ddof = (0 if bias else 1) if ddof is None else int(ddof)
    n = _dim(m, 1)
    fact = np.asarray(n - ddof, m.dtype) if isinstance(n, int) else E.cast(E.sub(n, ddof), m.dtype)
    centered = E.sub(m, R.mean(m, axis=1, keepdims=True))
    c = E.true_div(dot(centered, transpose(centered)), fact)
    return dimshuffle(c, *[d for d in range(2) if c.type.shape[d] != 1])


def max_and_argmax(a, axis=None, keepdims=False):
    """``(max(a, axis), argmax(a, axis))`` as two variables (PyTensor's multi-output op is two nodes
    here).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> [v.eval() for v in pt.max_and_argmax(np.array([[1, 5], [7, 2]]), axis=1)]
    [array([5, 7]), array([1, 0])]
    """
    axis = as_axis(axis)
    return R.max(a, axis, keepdims), R.argmax(a, axis, keepdims)


def bincount(x, weights=None, minlength=None, assert_nonneg=False):
    """Counts of each value of the non-negative integer vector ``x`` (weighted sums with
    ``weights``), at least ``minlength`` bins, as ``np.bincount``; built as an accumulating indexed
    increment. ``assert_nonneg=True`` checks at run time that ``x`` has no negative value
    (``AssertionError``, as PyTensor); otherwise negative values count from the end, as indexing.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.bincount(np.array([0, 2, 2, 5]), minlength=3).eval()
    array([1, 0, 2, 0, 0, 1])
    >>> pt.bincount(np.array([1, -1]), assert_nonneg=True).eval()
    Traceback (most recent call last):
    ...
    AssertionError: bincount: the input has negative values...
    """
    x = as_tensor_variable(x)
    if x.ndim != 1 or x.dtype not in INT_DTYPES:
        raise TypeError(f"bincount: x must be an integer vector, got {x.type}")
    if assert_nonneg:  # the op of core/ops/effects.py (a later family: found by name)
        x = Op(OPS["check"], {"message": "bincount: the input has negative values"})(x, R.all(E.ge(x, 0)))
    n = E.add(E.cast(R.max(x), "int64"), 1) if x.type.shape[0] != 0 else np.int64(0)
    if minlength is not None:
        n = E.maximum(n, _int_scalar("bincount", "minlength", minlength))
    if weights is None:
        return inc_subtensor(zeros((n,), "int64")[x], np.int64(1))
    weights = as_tensor_variable(weights)
    return inc_subtensor(zeros((n,), weights.dtype)[x], weights)


__all__ = ["bincount", "cov", "max_and_argmax", "median", "ptp"]
