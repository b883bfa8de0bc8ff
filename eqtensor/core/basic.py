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
from .graph import Constant, SharedVariable, TensorType, Variable
from .op import as_tensor_variable as _as_tensor_variable
from .ops.random import shared_rng

def as_tensor_variable(x, name=None, ndim=None, dtype=None) -> Variable:
    """PyTensor's ``as_tensor_variable``: ``x`` if it is a variable, else a constant holding it (see
    :func:`eqtensor.core.op.as_tensor_variable`: weak Python scalars, ``ndim=``, ``dtype=``). A Python
    ``bool`` is refused, as PyTensor: ``v == w`` on variables compares identity, and
    ``np.array(True)`` is the boolean constant.

    >>> from eqtensor import tensor as pt
    >>> pt.as_tensor_variable(True)
    Traceback (most recent call last):
    ...
    TypeError: cannot turn the Python bool True into a tensor: use np.array(True) for a boolean constant. (v == w on variables compares identity, not values: use eqtensor.tensor.eq(v, w).)
    """
    if isinstance(x, bool):
        raise TypeError(
            f"cannot turn the Python bool {x} into a tensor: use np.array({x}) for a boolean constant. "
            f"(v == w on variables compares identity, not values: use eqtensor.tensor.eq(v, w).)"
        )
    return _as_tensor_variable(x, name=name, ndim=ndim, dtype=dtype)


def constant(x, name=None, ndim=None, dtype=None) -> Constant:
    """A constant (never weak: it keeps its dtype, ``config.floatX`` for Python floats and empty
    lists). ``ndim=`` drops leading length-1 axes or adds them on the left, as PyTensor.

    >>> from eqtensor import tensor as pt
    >>> pt.constant([[1, 2]], ndim=1).type, pt.constant(1.5, ndim=2).type
    (TensorType(int64, shape=(2,)), TensorType(float64, shape=(1, 1)))
    """
    if isinstance(x, Constant) and dtype is None and ndim in (None, x.ndim) and name in (None, x.name) \
            and not x.weak:
        return x
    if isinstance(x, Constant):
        x = x.data
    if isinstance(x, (bool, int, float, complex)) and dtype is None:  # a Python scalar: strong, floatX for floats
        x = np.asarray(x, config.floatX) if isinstance(x, float) else np.asarray(x)
    c = _as_tensor_variable(x, name=name, ndim=ndim, dtype=dtype)
    if not isinstance(c, Constant):
        raise TypeError(f"constant() takes a value, got the symbolic variable {x!r}")
    return Constant(c.data, name=name) if c.weak else c


def tensor(name=None, *, dtype=None, shape=None) -> Variable:
    """A symbolic input of the given dtype (default ``config.floatX``) and static shape."""
    if isinstance(name, TensorType):
        raise TypeError("tensor() takes a name; build from a type with TensorType(...)(name)")
    if shape is None:
        raise TypeError("tensor() needs shape= (a tuple, None for unknown lengths)")
    return Variable(TensorType(dtype or config.floatX, shape), name=name)


class TypedTensorType(TensorType):
    """A :class:`TensorType` that is also a constructor, as PyTensor's ``dscalar``, ``fvector``…:
    ``pt.dvector == TensorType("float64", (None,))`` and ``pt.dvector("x")`` is a new input of that
    type; ``shape=`` may make unknown lengths known (``pt.dvector("x", shape=(3,))``).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dmatrix("x")
    >>> x.type == pt.dmatrix, pt.dmatrix == TensorType("float64", (None, None))
    (True, True)
    >>> pt.dvector("v", shape=(3,)).type
    TensorType(float64, shape=(3,))
    """

    __slots__ = ()

    def __call__(self, name=None, shape=None):
        t = self
        if shape is not None:
            shape = tuple(shape)
            if len(shape) != self.ndim or any(s is not None and s != d for s, d in zip(self.shape, shape)):
                raise ValueError(f"shape={shape} is incompatible with the type's static shape {self.shape}")
            t = TensorType(self.dtype, shape)
        return Variable(TensorType(t.dtype, t.shape), name=name)

    def __reduce__(self):
        return (TypedTensorType, (self.dtype, self.shape))


def _ctor(ndim, default_shape=None, doc=""):
    default_shape = (None,) * ndim if default_shape is None else default_shape

    def make(name=None, dtype=None, shape=default_shape):
        dtype = dtype or config.floatX
        shape = default_shape if shape is None else tuple(shape)
        if len(shape) != ndim:
            raise ValueError(f"a {ndim}-d tensor needs a shape of {ndim} entries, got {shape}")
        for d, want in enumerate(default_shape):
            if want is not None and shape[d] != want:
                raise ValueError(f"dimension {d} of this constructor must have static length {want}, got {shape}")
        return Variable(TensorType(dtype, shape), name=name)

    make.__doc__ = doc or f"A symbolic {ndim}-d input (default dtype ``config.floatX``)."
    return make


scalar, vector, matrix, tensor3, tensor4, tensor5, tensor6, tensor7 = (_ctor(n) for n in (0, 1, 2, 3, 4, 5, 6, 7))
row = _ctor(2, (1, None), "A 2-d input whose first dimension has static length 1.")
col = _ctor(2, (None, 1), "A 2-d input whose second dimension has static length 1.")

_PREFIX = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64",
           "c": "complex64", "z": "complex128"}
_KINDS = {"scalar": (), "vector": (None,), "matrix": (None, None), "row": (1, None), "col": (None, 1),
          **{f"tensor{n}": (None,) * n for n in range(3, 8)}}

#: dscalar, fvector, imatrix, lrow, zcol, btensor7, … as in PyTensor: callable TensorType instances
TYPED = {p + k: TypedTensorType(dt, shape) for p, dt in _PREFIX.items() for k, shape in _KINDS.items()}


#: PyTensor's tuples of types by kind (``int_types``, ``float_vector_types``…)
int_types = int_scalar_types = tuple(TYPED[p + "scalar"] for p in "bwil")
float_types = float_scalar_types = tuple(TYPED[p + "scalar"] for p in "fd")
complex_types = complex_scalar_types = tuple(TYPED[p + "scalar"] for p in "cz")
int_vector_types = tuple(TYPED[p + "vector"] for p in "bwil")
float_vector_types = tuple(TYPED[p + "vector"] for p in "fd")
complex_vector_types = tuple(TYPED[p + "vector"] for p in "cz")
int_matrix_types = tuple(TYPED[p + "matrix"] for p in "bwil")
float_matrix_types = tuple(TYPED[p + "matrix"] for p in "fd")
complex_matrix_types = tuple(TYPED[p + "matrix"] for p in "cz")
TYPE_TUPLES = {name: globals()[name] for name in (
    "int_types", "int_scalar_types", "float_types", "float_scalar_types", "complex_types", "complex_scalar_types",
    "int_vector_types", "float_vector_types", "complex_vector_types", "int_matrix_types", "float_matrix_types",
    "complex_matrix_types")}


def _plural(make, kind):
    def many(*names):
        if names and isinstance(names[0], (int, np.integer)) and not isinstance(names[0], bool):
            return [make() for _ in range(int(names[0]))]
        if len(names) == 1:
            names = names[0]  # one string is a string of one-letter names, as PyTensor
        if len(names) == 1:
            return make(names[0])  # a single name gives a single variable, as PyTensor
        return [make(n) for n in names]

    many.__name__ = kind
    many.__doc__ = (f"Several {kind[:-1] if kind.endswith('s') else kind} inputs, one per name (PyTensor's "
                    f"``{kind}``): ``{kind}('x', 'y')`` or ``{kind}('xy')`` give two variables, ``{kind}(3)`` "
                    f"three unnamed ones; a single one-letter name gives the variable itself.")
    return many


_GENERIC = {"scalar": scalar, "vector": vector, "matrix": matrix, "row": row, "col": col,
            **{f"tensor{n}": globals()[f"tensor{n}"] for n in range(3, 8)}}
_PLURAL_NAME = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "row": "rows", "col": "cols",
                **{f"tensor{n}": f"tensor{n}s" for n in range(3, 8)}}

#: scalars, dvectors, fmatrices, itensor3s, … (PyTensor's plural constructors: generic and f, d, i, l)
PLURAL = {}
for _kind, _plural_name in _PLURAL_NAME.items():
    PLURAL[_plural_name] = _plural(_GENERIC[_kind], _plural_name)
    for _p in "fdil":
        PLURAL[_p + _plural_name] = _plural(TYPED[_p + _kind], _p + _plural_name)


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False, shape=None) -> SharedVariable:
    """A variable whose value persists across calls and can be updated by functions.

    ``strict=True``: ``value`` (and every later ``set_value``) must be a NumPy array, kept with its
    own dtype (a Python float is not turned into ``floatX``); ``allow_downcast=True``: ``set_value``
    accepts any cast to the variable's dtype (by default only safe casts), as PyTensor's.

    >>> import numpy as np, eqtensor as et
    >>> w = et.shared(np.zeros(3), name="w")
    >>> w.get_value()
    array([0., 0., 0.])
    >>> w.set_value(np.ones(3)); w.get_value()
    array([1., 1., 1.])
    """
    if isinstance(value, Variable):
        raise TypeError("shared() takes a value (NumPy array or scalar), not a symbolic variable")
    if isinstance(value, np.ma.MaskedArray):
        raise NotImplementedError("MaskedArrays are not supported (a masked array: pass value.filled(...) or value.data)")
    if isinstance(value, (np.random.Generator, np.random.RandomState)):  # a shared random generator
        return shared_rng(value, name=name, borrow=borrow)
    if strict and not isinstance(value, np.ndarray):
        raise TypeError(f"shared(strict=True) takes a numpy.ndarray, got {type(value).__name__}")
    arr = np.array(value, copy=not borrow) if not isinstance(value, float) else np.asarray(value, config.floatX)
    if arr.dtype.kind in "OUSVMm":
        raise TypeError(f"shared() cannot hold a value of dtype {arr.dtype}")
    static = (None,) * arr.ndim if shape is None else tuple(shape)
    t = TensorType(arr.dtype, static)
    problem = t.describe_mismatch(arr)
    if problem:
        raise ValueError(f"shared variable {name}: {problem}")
    return SharedVariable(t, arr, name=name, strict=strict, allow_downcast=allow_downcast)
