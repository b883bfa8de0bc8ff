"""Neural-network ops: ``softmax`` and ``log_softmax`` over ``axis`` (None = all axes, as PyTensor),
computed stably by subtracting the (finite) maximum; dtypes as SciPy's special functions
(:func:`~eqtensor.core.ops.elemwise.special_float`). Also exported from ``eqtensor.tensor.special``.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> x = pt.dmatrix("x")
>>> pt.special.softmax(x, axis=-1).eval({x: np.array([[1000.0, 1000.0]])})
array([[0.5, 0.5]])
>>> pt.special.log_softmax(x, axis=1).eval({x: np.array([[0.0, 0.0]])})
array([[-0.69314718, -0.69314718]])
"""

from __future__ import annotations

import numpy as np

from ..op import OPS, Op, as_tensor_variable, declare, dtype_by_numpy, exact, normalize_axis
from ..graph import TensorType
from .elemwise import special_float


def _shifted(x, axis):
    x = np.asarray(x)
    x = x.astype(special_float(x.dtype), copy=False)
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((), x.dtype)
    return x - np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)


def _softmax(x, axis):
    e = np.exp(_shifted(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    t = _shifted(x, axis)
    return t - np.log(np.sum(np.exp(t), axis=axis, keepdims=True))


def _softmax_ref(mp, x, axis, log=False):
    (x,) = exact(mp, x)
    e = np.vectorize(mp.exp, otypes=[object])(x)
    total = np.sum(e, axis=axis, keepdims=True)
    return x - np.vectorize(mp.log, otypes=[object])(total) if log else e / total


def _infer(op, inputs):
    (x,) = inputs
    return TensorType(dtype_by_numpy(op, [x.dtype], [x.ndim]), x.type.shape)


declare("softmax", "nnet", 1, _infer, _softmax, params=("axis",), cost=16, reference=_softmax_ref,
        doc="exp(x) / sum(exp(x), axis), stable")
declare("log_softmax", "nnet", 1, _infer, _log_softmax, params=("axis",), cost=16,
        reference=lambda mp, x, axis: _softmax_ref(mp, x, axis, log=True), doc="x - logsumexp(x, axis), stable")


def _apply(name, c, axis):

    c = as_tensor_variable(c)
    if c.dtype.startswith("complex"):
        raise TypeError(f"{name}: complex inputs are not supported, got {c.type}")
    return Op(OPS[name], {"axis": normalize_axis(axis, c.ndim, name)})(c)


def softmax(c, axis=None):
    """``exp(c) / sum(exp(c), axis, keepdims=True)``; ``axis=None`` normalises over all axes.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> pt.special.softmax(x).eval({x: np.log([1.0, 1.0, 2.0])})
    array([0.25, 0.25, 0.5 ])
    """
    return _apply("softmax", c, axis)


def log_softmax(c, axis=None):
    """``c - logsumexp(c, axis, keepdims=True)``; ``axis=None`` normalises over all axes.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> pt.special.log_softmax(x).eval({x: np.array([0.0, 0.0])})
    array([-0.69314718, -0.69314718])
    """
    return _apply("log_softmax", c, axis)


__all__ = ["log_softmax", "softmax"]
