"""Operators and methods of symbolic tensors, installed on :class:`eqtensor.core.graph.Variable`.

The graph module knows no op; this module, above the op declarations, gives variables their
NumPy-like face (``x + y``, ``x.sum()``, ``x.T``, ``x[i]``) when :mod:`eqtensor.core` is imported.

>>> from eqtensor import tensor as pt
>>> x = pt.dmatrix("x")
>>> (x @ x.T + 1).sum(axis=1).type
TensorType(float64, shape=(None,))
"""

from __future__ import annotations

from .graph import Variable
from .ops import elemwise, linalg, reduction, subtensor
from .ops import shape as shape_ops


def _bin(opname, reflected=False):
    def method(self, other):
        fn = getattr(elemwise, opname)
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = opname
    return method


class TensorMethods:
    """The methods and operators (a namespace copied onto :class:`Variable` by :func:`install`)."""

    __array_priority__ = 1000  # NumPy defers to our operators: np_array + x builds a graph

    __add__, __radd__ = _bin("add"), _bin("add", True)
    __sub__, __rsub__ = _bin("sub"), _bin("sub", True)
    __mul__, __rmul__ = _bin("mul"), _bin("mul", True)
    __truediv__, __rtruediv__ = _bin("true_div"), _bin("true_div", True)
    __floordiv__, __rfloordiv__ = _bin("floor_div"), _bin("floor_div", True)
    __mod__, __rmod__ = _bin("mod"), _bin("mod", True)
    __pow__, __rpow__ = _bin("pow"), _bin("pow", True)
    __lt__, __le__, __gt__, __ge__ = _bin("lt"), _bin("le"), _bin("gt"), _bin("ge")
    __and__, __rand__ = _bin("and_"), _bin("and_", True)
    __or__, __ror__ = _bin("or_"), _bin("or_", True)
    __xor__, __rxor__ = _bin("xor"), _bin("xor", True)

    def __neg__(self):
        return elemwise.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return elemwise.abs(self)

    def __invert__(self):
        return elemwise.invert(self)

    def __matmul__(self, other):
        return linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return linalg.matmul(other, self)

    def __getitem__(self, idx):
        return subtensor.getitem(self, idx)

    def __iter__(self):
        raise TypeError("a symbolic tensor cannot be iterated; index it with x[i] instead")

    def __len__(self):
        raise TypeError("len() of a symbolic tensor is not defined; use x.shape[0]")

    # ------------------------------------------------------------------ shape
    @property
    def shape(self):
        return shape_ops.shape(self)

    @property
    def size(self):
        return reduction.prod(self.shape)

    @property
    def T(self):
        return shape_ops.transpose(self)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return shape_ops.transpose(self, axes or None)

    def swapaxes(self, axis1, axis2):
        return shape_ops.swapaxes(self, axis1, axis2)

    def dimshuffle(self, *order):
        return shape_ops.dimshuffle(self, *order)

    def reshape(self, *shape, ndim=None):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return shape_ops.reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=1):
        return shape_ops.flatten(self, ndim)

    def squeeze(self, axis=None):
        return shape_ops.squeeze(self, axis)

    def take(self, indices, axis=None):
        return subtensor.take(self, indices, axis)

    def astype(self, dtype):
        return elemwise.cast(self, dtype)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False):
        return reduction.sum(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return reduction.prod(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return reduction.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return reduction.min(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return reduction.mean(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return reduction.var(self, axis, keepdims, ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        return reduction.std(self, axis, keepdims, ddof)

    def argmax(self, axis=None, keepdims=False):
        return reduction.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return reduction.argmin(self, axis, keepdims)

    def all(self, axis=None, keepdims=False):
        return reduction.all(self, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return reduction.any(self, axis, keepdims)

    # ------------------------------------------------------------------ elementwise helpers
    def diagonal(self, offset=0, axis1=0, axis2=1):
        return linalg.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0):
        return linalg.trace(self, offset)

    def dot(self, other):
        return linalg.dot(self, other)

    def exp(self):
        return elemwise.exp(self)

    def log(self):
        return elemwise.log(self)

    def sqrt(self):
        return elemwise.sqrt(self)

    def clip(self, lo, hi):
        return elemwise.clip(self, lo, hi)

    def round(self):
        return elemwise.round_half_to_even(self)


def install():
    """Give :class:`Variable` the methods and operators above (idempotent)."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(Variable, name, member)


install()
