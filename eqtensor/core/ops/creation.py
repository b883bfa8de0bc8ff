"""Creating tensors: the ops ``arange``, ``eye`` and ``tri``, and the formulas ``zeros``, ``ones``,
``full`` (and their ``*_like``), ``identity_like``, ``tril``, ``triu`` over them and ``alloc``.

Sizes may be Python ints or symbolic integer scalars; constant sizes give static shapes.

>>> from eqtensor import tensor as pt
>>> pt.zeros((2, 3)).type, pt.arange(5).type
(TensorType(float64, shape=(2, 3)), TensorType(int64, shape=(5,)))
>>> n = pt.lscalar("n")
>>> pt.eye(n, dtype="int32").type
TensorType(int32, shape=(None, None))
"""

from __future__ import annotations

import math

import numpy as np

from ..config import config
from ..dtypes import INT_DTYPES, as_dtype
from ..op import OPS, Op, as_tensor_variable, constant_value, declare, dtype_by_numpy
from ..graph import TensorType, Variable
from .elemwise import cast, sub, switch
from .broadcast import alloc
from .shape import shape_i


def _int_scalar(opname, what, v):

    v = as_tensor_variable(v)
    if v.ndim != 0 or v.dtype not in INT_DTYPES:
        raise TypeError(f"{opname}: {what} must be an integer scalar, got {v} of type {v.type}")
    return v


def _static_int(v):
    c = constant_value(v)
    return None if c is None else int(c)


# ----------------------------------------------------------------------------- arange
def _arange_infer(op, inputs):
    for what, v in zip(("start", "stop", "step"), inputs):
        if v.ndim != 0:
            raise TypeError(f"arange: {what} must be a scalar, got {v.type}")
    dtype = op.params["dtype"]
    vals = [constant_value(v) for v in inputs]
    if vals[2] is not None and vals[2] == 0:
        raise ValueError("arange: step must not be zero")
    length = None
    if all(v is not None for v in vals):
        start, stop, step = (v.item() for v in vals)
        if all(isinstance(v, int) for v in (start, stop, step)):
            length = max(0, -((start - stop) // step))
        else:
            length = max(0, math.ceil((stop - start) / step))
    return TensorType(dtype, (length,))


def _arange_perform(start, stop, step, dtype):
    return np.arange(start.item(), stop.item(), step.item(), dtype=dtype)


declare("arange", "creation", 3, _arange_infer, _arange_perform, params=("dtype",), cost=1,
        differentiable=False, doc="evenly spaced values in [start, stop) (np.arange)")


def arange(start, stop=None, step=1, dtype=None):
    """``np.arange``: values from ``start`` to ``stop`` (exclusive) by ``step``; ``arange(n)`` counts
    from 0. Without ``dtype``, integer bounds give int64 and float bounds float64 (NumPy's rule).

    >>> from eqtensor import tensor as pt
    >>> pt.arange(1, 2, 0.25).eval()
    array([1.  , 1.25, 1.5 , 1.75])
    """

    if stop is None:
        start, stop = 0, start
    ins = [as_tensor_variable(v) for v in (start, stop, step)]
    for what, v in zip(("start", "stop", "step"), ins):
        if v.ndim != 0 or v.dtype.startswith("complex"):
            raise TypeError(f"arange: {what} must be a real scalar, got {v} of type {v.type}")
    if dtype is None:
        dtype = dtype_by_numpy(Op(OPS["arange"], {"dtype": None}), [v.dtype for v in ins], [0, 0, 0])
    return Op(OPS["arange"], {"dtype": as_dtype(dtype)})(*ins)


# ----------------------------------------------------------------------------- eye / tri
def _matrix_infer(opname):
    def infer(op, inputs):
        n, m, k = inputs
        for what, v in zip(("N", "M", "k"), inputs):
            _int_scalar(opname, what, v)
        sn, sm = _static_int(n), _static_int(m)
        for s in (sn, sm):
            if s is not None and s < 0:
                raise ValueError(f"{opname}: negative dimension {s}")
        return TensorType(op.params["dtype"], (sn, sm))

    return infer


def _eye_perform(n, m, k, dtype):
    return np.eye(int(n), int(m), int(k), dtype=dtype)


def _tri_perform(n, m, k, dtype):
    return np.tri(int(n), int(m), int(k), dtype=dtype)


declare("eye", "creation", 3, _matrix_infer("eye"), _eye_perform, params=("dtype",), cost=0.5,
        differentiable=False, doc="N x M matrix with ones on diagonal k (np.eye)")
declare("tri", "creation", 3, _matrix_infer("tri"), _tri_perform, params=("dtype",), cost=0.5,
        differentiable=False, doc="N x M matrix with ones at and below diagonal k (np.tri)")


def eye(n, m=None, k=0, dtype=None):
    """An ``n`` x ``m`` matrix with ones on the ``k``-th diagonal (default dtype ``config.floatX``).

    >>> from eqtensor import tensor as pt
    >>> pt.eye(2, 3, k=1, dtype="int8").eval()
    array([[0, 1, 0],
           [0, 0, 1]], dtype=int8)
    """
    n = _int_scalar("eye", "N", n)
    m = n if m is None else _int_scalar("eye", "M", m)
    return Op(OPS["eye"], {"dtype": as_dtype(dtype or config.floatX)})(n, m, _int_scalar("eye", "k", k))


def tri(n, m=None, k=0, dtype=None):
    """An ``n`` x ``m`` matrix with ones at and below the ``k``-th diagonal (``np.tri``).

    >>> from eqtensor import tensor as pt
    >>> pt.tri(3, 2, dtype="int8").eval()
    array([[1, 0],
           [1, 1],
           [1, 1]], dtype=int8)
    """
    n = _int_scalar("tri", "N", n)
    m = n if m is None else _int_scalar("tri", "M", m)
    return Op(OPS["tri"], {"dtype": as_dtype(dtype or config.floatX)})(n, m, _int_scalar("tri", "k", k))


def _last_two(opname, x):

    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"{opname}: expected at least 2 dimensions, got {x.type}")
    return x, [s if s is not None else shape_i(x, d) for d, s in zip((-2, -1), x.type.shape[-2:])]


def tril(x, k=0):
    """``x`` with the elements above the ``k``-th diagonal set to zero (last two axes).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.tril(np.ones((2, 3)), k=-1).eval()
    array([[0., 0., 0.],
           [1., 0., 0.]])
    """

    x, (n, m) = _last_two("tril", x)
    return switch(tri(n, m, k, dtype="bool"), x, np.zeros((), x.dtype))


def triu(x, k=0):
    """``x`` with the elements below the ``k``-th diagonal set to zero (last two axes).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.triu(np.ones((2, 3), dtype="int32")).eval()
    array([[1, 1, 1],
           [0, 1, 1]], dtype=int32)
    """

    x, (n, m) = _last_two("triu", x)
    below = k - 1 if isinstance(k, (int, np.integer)) else sub(_int_scalar("triu", "k", k), 1)
    return switch(tri(n, m, below, dtype="bool"), np.zeros((), x.dtype), x)


def identity_like(x, dtype=None):
    """An identity matrix with the shape of the matrix ``x`` (its dtype unless ``dtype`` is given).

    >>> from eqtensor import tensor as pt
    >>> pt.identity_like(pt.matrix("m", shape=(2, 3))).type
    TensorType(float64, shape=(2, 3))
    """
    x, (n, m) = _last_two("identity_like", x)
    if x.ndim != 2:
        raise ValueError(f"identity_like: expected a matrix, got {x.type}")
    return eye(n, m, 0, dtype=dtype or x.dtype)


# ----------------------------------------------------------------------------- fills
def _dims(shape, opname):

    if isinstance(shape, Variable):
        if shape.ndim == 0:
            return [shape]
        if shape.ndim != 1 or shape.type.shape[0] is None:
            raise TypeError(f"{opname}: shape must be an int, a sequence, or an integer vector of static "
                            f"length, got {shape.type}")
        return [shape[i] for i in range(shape.type.shape[0])]
    if isinstance(shape, (int, np.integer)):
        return [shape]
    return list(shape)


def full(shape, fill_value, dtype=None):
    """A new tensor of ``shape`` filled with ``fill_value`` (its dtype unless ``dtype`` is given).

    >>> from eqtensor import tensor as pt
    >>> pt.full((2,), 7, dtype="int8").eval()
    array([7, 7], dtype=int8)
    """

    v = as_tensor_variable(fill_value)
    if v.ndim != 0:
        raise ValueError(f"full: fill_value must be a scalar, got {v.type}")
    if dtype is not None:
        v = cast(v, as_dtype(dtype))
    return alloc(v, *_dims(shape, "full"))


def zeros(shape, dtype=None):
    """A new tensor of ``shape`` filled with 0 (default dtype ``config.floatX``).

    >>> from eqtensor import tensor as pt
    >>> pt.zeros((pt.lscalar("n"), 3), dtype="int8").type
    TensorType(int8, shape=(None, 3))
    """
    return full(shape, np.zeros((), as_dtype(dtype or config.floatX)))


def ones(shape, dtype=None):
    """A new tensor of ``shape`` filled with 1 (default dtype ``config.floatX``).

    >>> from eqtensor import tensor as pt
    >>> pt.ones(3).eval()
    array([1., 1., 1.])
    """
    return full(shape, np.ones((), as_dtype(dtype or config.floatX)))


def full_like(x, fill_value, dtype=None):
    """A new tensor shaped like ``x`` filled with ``fill_value`` (dtype of ``x`` unless given).

    >>> from eqtensor import tensor as pt
    >>> pt.full_like(pt.matrix("x", shape=(2, 3)), 1.5).type
    TensorType(float64, shape=(2, 3))
    """

    x = as_tensor_variable(x)
    dtype = as_dtype(dtype or x.dtype)
    if not isinstance(fill_value, Variable):
        value = np.asarray(fill_value)
        if value.ndim != 0:
            raise ValueError(f"full_like: fill_value must be a scalar, got shape {value.shape}")
        with np.errstate(all="ignore"):
            fill_value = value.astype(dtype)
    dims = [s if s is not None else shape_i(x, d) for d, s in enumerate(x.type.shape)]
    return full(dims, fill_value, dtype=dtype)


def zeros_like(x, dtype=None):
    """Zeros shaped like ``x`` (dtype of ``x`` unless given).

    >>> from eqtensor import tensor as pt
    >>> pt.zeros_like(pt.imatrix("m")).type
    TensorType(int32, shape=(None, None))
    """
    return full_like(x, 0, dtype)


def ones_like(x, dtype=None):
    """Ones shaped like ``x`` (dtype of ``x`` unless given).

    >>> from eqtensor import tensor as pt
    >>> pt.ones_like(pt.fvector("v", shape=(4,)), dtype="bool").type
    TensorType(bool, shape=(4,))
    """
    return full_like(x, 1, dtype)


__all__ = ["arange", "eye", "full", "full_like", "identity_like", "ones", "ones_like", "tri", "tril", "triu", "zeros", "zeros_like"]
