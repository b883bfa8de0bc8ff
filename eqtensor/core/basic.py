"""Building blocks: lifting values to variables, constants, and typed input constructors.

>>> from eqtensor import tensor as pt
>>> pt.dmatrix("A").type
TensorType(float64, shape=(None, None))
>>> pt.tensor("x", dtype="float32", shape=(None, 3)).type
TensorType(float32, shape=(None, 3))
>>> pt.constant(2.0).dtype, pt.as_tensor_variable([1, 2]).type
('float64', TensorType(int64, shape=(2,)))
"""

from __future__ import annotations

import numpy as np

from .config import config
from .dtypes import as_dtype
from .graph import Constant, SharedVariable, TensorType, Variable

def constant(x, name=None, ndim=None, dtype=None) -> Constant:
    """A constant (never weak: it keeps its dtype, ``config.floatX`` for Python floats)."""
    arr = np.asarray(x)
    if dtype is not None:
        arr = arr.astype(as_dtype(dtype))
    elif isinstance(x, float):
        arr = arr.astype(config.floatX)
    c = Constant(arr, name=name)
    if ndim is not None and c.ndim != ndim:
        raise TypeError(f"constant: expected {ndim} dimensions, got {c.ndim}")
    return c


def tensor(name=None, *, dtype=None, shape=None) -> Variable:
    """A symbolic input of the given dtype (default ``config.floatX``) and static shape."""
    if isinstance(name, TensorType):
        raise TypeError("tensor() takes a name; build from a type with TensorType(...)(name)")
    if shape is None:
        raise TypeError("tensor() needs shape= (a tuple, None for unknown lengths)")
    return Variable(TensorType(dtype or config.floatX, shape), name=name)


def _ctor(ndim, dtype=None, doc=""):
    def make(name=None, dtype=dtype, shape=None):
        dtype = dtype or config.floatX
        shape = (None,) * ndim if shape is None else tuple(shape)
        if len(shape) != ndim:
            raise ValueError(f"a {ndim}-d tensor needs a shape of {ndim} entries, got {shape}")
        return Variable(TensorType(dtype, shape), name=name)

    make.__doc__ = doc or f"A symbolic {ndim}-d input."
    return make


scalar, vector, matrix, tensor3, tensor4 = (_ctor(n) for n in range(5))


def row(name=None, dtype=None, shape=(1, None)):
    """A 2-d input whose first dimension has static length 1."""
    return matrix(name, dtype=dtype, shape=shape)


def col(name=None, dtype=None, shape=(None, 1)):
    """A 2-d input whose second dimension has static length 1."""
    return matrix(name, dtype=dtype, shape=shape)


_PREFIX = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64",
           "c": "complex64", "z": "complex128"}
_KINDS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}

#: dscalar, fvector, imatrix, ltensor3, … as in PyTensor
TYPED = {p + k: _ctor(n, dt, f"A symbolic {n}-d {dt} input.") for p, dt in _PREFIX.items() for k, n in _KINDS.items()}


def shared(value, name=None, borrow=False, shape=None) -> SharedVariable:
    """A variable whose value persists across calls and can be updated by functions.

    >>> import numpy as np, eqtensor as et
    >>> w = et.shared(np.zeros(3), name="w")
    >>> w.get_value()
    array([0., 0., 0.])
    >>> w.set_value(np.ones(3)); w.get_value()
    array([1., 1., 1.])
    """
    if isinstance(value, Variable):
        raise TypeError("shared() takes a value (NumPy array or scalar), not a symbolic variable")
    arr = np.array(value, copy=not borrow) if not isinstance(value, float) else np.asarray(value, config.floatX)
    if arr.dtype.kind in "OUSVMm":
        raise TypeError(f"shared() cannot hold a value of dtype {arr.dtype}")
    static = (None,) * arr.ndim if shape is None else tuple(shape)
    t = TensorType(arr.dtype, static)
    problem = t.describe_mismatch(arr)
    if problem:
        raise ValueError(f"shared variable {name}: {problem}")
    return SharedVariable(t, arr, name=name)
