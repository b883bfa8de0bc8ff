"""Operators and methods of symbolic tensors, installed on :class:`eqtensor.core.graph.Variable`.

The graph module knows no op; this module, above the op declarations, gives variables their
NumPy-like face (``x + y``, ``x.sum()``, ``x.T``, ``x[i]``) when :mod:`eqtensor.core` is imported.

>>> from eqtensor import tensor as pt
>>> x = pt.dmatrix("x")
>>> (x @ x.T + 1).sum(axis=1).type
TensorType(float64, shape=(None,))
"""

from __future__ import annotations

import numpy as np

from .graph import Variable
from .ops import (
    broadcast, casts, creation, cumulative, elemwise, linalg, rearranging, reduction, repetition, selection, sorting,
    statistics, subtensor,
)
from .ops import shape as shape_ops
from .ops.shape import as_axis


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
        n = self.type.shape[0] if self.ndim == 1 else None
        if n is None:
            raise TypeError("a symbolic tensor cannot be iterated (only a vector of known length can); index it "
                            "with x[i] instead")
        return iter([self[i] for i in range(n)])

    def __ceil__(self):
        return elemwise.ceil(self)

    def __floor__(self):
        return elemwise.floor(self)

    def __trunc__(self):
        return elemwise.trunc(self)

    def __divmod__(self, other):
        return elemwise.floor_div(self, other), elemwise.mod(self, other)

    def __rdivmod__(self, other):
        return elemwise.floor_div(other, self), elemwise.mod(other, self)

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

    @property
    def mT(self):
        return rearranging.matrix_transpose(self)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple, np.ndarray)):
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

    def ravel(self):
        return shape_ops.flatten(self)

    def squeeze(self, axis=None):
        return shape_ops.squeeze(self, axis)

    def take(self, indices, axis=None, mode="raise"):
        return subtensor.take(self, indices, axis, mode)

    def astype(self, dtype):
        return casts.cast(self, dtype)

    def repeat(self, repeats, axis=None):
        return repetition.repeat(self, repeats, axis)

    def fill(self, value):
        """A tensor shaped like ``self`` filled with ``value`` (PyTensor's ``x.fill(v)``; symbolic)."""
        return broadcast.fill(self, value)

    def zeros_like(self, dtype=None):
        return creation.zeros_like(self, dtype)

    def ones_like(self, dtype=None):
        return creation.ones_like(self, dtype)

    # ------------------------------------------------------------------ indexed updates
    def set(self, y, **kwargs):
        """``t[idx].set(y)``: a copy of ``t`` with ``t[idx] = y`` (:func:`set_subtensor`)."""
        return subtensor.set_subtensor(self, y, **kwargs)

    def inc(self, y, **kwargs):
        """``t[idx].inc(y)``: a copy of ``t`` with ``y`` added at ``idx`` (:func:`inc_subtensor`)."""
        return subtensor.inc_subtensor(self, y, **kwargs)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return reduction.sum(self, as_axis(axis), dtype, keepdims, acc_dtype)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return reduction.prod(self, as_axis(axis), dtype, keepdims, acc_dtype)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return reduction.mean(self, as_axis(axis), dtype, keepdims, acc_dtype)

    def var(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return reduction.var(self, as_axis(axis), ddof, keepdims, corrected)

    def std(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return reduction.std(self, as_axis(axis), ddof, keepdims, corrected)

    def max(self, axis=None, keepdims=False):
        return reduction.max(self, as_axis(axis), keepdims)

    def min(self, axis=None, keepdims=False):
        return reduction.min(self, as_axis(axis), keepdims)

    def argmax(self, axis=None, keepdims=False):
        return reduction.argmax(self, as_axis(axis), keepdims)

    def argmin(self, axis=None, keepdims=False):
        return reduction.argmin(self, as_axis(axis), keepdims)

    def all(self, axis=None, keepdims=False):
        return reduction.all(self, as_axis(axis), keepdims)

    def any(self, axis=None, keepdims=False):
        return reduction.any(self, as_axis(axis), keepdims)

    def ptp(self, axis=None):
        return statistics.ptp(self, axis)

    def norm(self, L, axis=None, keepdims=False):
        """``(sum |x|**L) ** (1/L)`` over ``axis`` (PyTensor's ``x.norm(L)``; L 0 and inf are not
        supported)."""
        if L == 0 or np.isinf(L):
            raise NotImplementedError("norm: L = 0 and L = inf are not supported (as PyTensor)")
        total = reduction.sum(elemwise.pow(elemwise.abs(self), L), as_axis(axis), keepdims=keepdims)
        return elemwise.pow(total, 1.0 / L)

    def cumsum(self, axis=None):
        return cumulative.cumsum(self, axis)

    def cumprod(self, axis=None):
        return cumulative.cumprod(self, axis)

    def sort(self, axis=-1, kind=None, order=None):
        return sorting.sort(self, axis, kind, order)

    def argsort(self, axis=-1, kind=None, order=None):
        return sorting.argsort(self, axis, kind, order)

    def nonzero(self, return_matrix=False):
        return selection.nonzero(self, return_matrix)

    def nonzero_values(self):
        return selection.nonzero_values(self)

    def compress(self, a, axis=None):
        return selection.compress(a, self, axis)

    # ------------------------------------------------------------------ elementwise helpers
    def diagonal(self, offset=0, axis1=0, axis2=1):
        return linalg.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0):
        return linalg.trace(self, offset)

    def dot(self, other):
        return linalg.dot(self, other)

    def clip(self, lo, hi):
        return elemwise.clip(self, lo, hi)

    def copy(self, name=None):
        """A symbolic copy of this variable (``tensor_copy``) named ``name``; the optimizer removes
        it (compiled functions never return an alias).

        >>> from eqtensor import tensor as pt
        >>> x = pt.dvector("x")
        >>> y = x.copy(name="y")
        >>> y.name, y.owner.op.name, y is x
        ('y', 'tensor_copy', False)
        """
        out = elemwise.tensor_copy(self)
        out.name = name
        return out

    @property
    def real(self):
        """The real part (``eqtensor.tensor.real``)."""
        return elemwise.real(self)

    @property
    def imag(self):
        """The imaginary part, zeros for real dtypes (``eqtensor.tensor.imag``)."""
        return elemwise.imag(self)

    def conj(self):
        """The complex conjugate; a variable of a real dtype is its own (returned as it is, as PyTensor).

        >>> import numpy as np
        >>> from eqtensor import tensor as pt
        >>> z = pt.zvector("z")
        >>> z.conj().eval({z: np.array([1 + 2j])}), z.real.eval({z: np.array([1 + 2j])})
        (array([1.-2.j]), array([1.]))
        """
        return elemwise.conj(self) if self.dtype.startswith("complex") else self

    conjugate = conj

    def round(self, mode=None):
        if mode not in (None, "half_to_even"):
            raise NotImplementedError(f"round: mode {mode!r} is not supported (only half_to_even, NumPy's)")
        return elemwise.round_half_to_even(self)


def _unary(name):
    def method(self):
        return getattr(elemwise, name)(self)

    method.__name__ = name
    method.__doc__ = f"Elementwise {name} (``eqtensor.tensor.{name}(x)``)."
    return method


#: PyTensor's one-input elementwise methods (``x.exp()``, ``x.arccos()``…)
for _name in ("arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "ceil", "cos", "cosh", "exp", "exp2",
              "expm1", "floor", "log", "log10", "log1p", "log2", "sin", "sinh", "sqrt", "tan", "tanh", "trunc"):
    setattr(TensorMethods, _name, _unary(_name))


def install():
    """Give :class:`Variable` the methods and operators above (idempotent)."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(Variable, name, member)


install()
