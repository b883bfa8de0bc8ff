"""Repeating arrays: the op ``repeat`` (a vector of repeats; a scalar count is a formula over
``alloc`` and ``reshape``) and ``tile``. Static lengths follow from the inputs when known.

>>> from eqtensor import tensor as pt
>>> pt.tile(pt.matrix("m", shape=(2, 3)), (2, 1)).type.shape
(4, 3)
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES
from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, constant_value, declare
from . import elemwise as E
from .broadcast import alloc
from .dims import _dim, _int_scalar, _one_axis, _prod
from .shape import expand_dims, flatten, get_vector_length, reshape, shape_padleft, static_entries


def _repeat_infer(op, inputs):
    x, reps = inputs
    axis = op.params["axis"]
    if not 0 <= axis < x.ndim:
        raise ValueError(f"repeat: axis {axis} is out of range for {x.type}")
    if reps.ndim != 1 or reps.dtype not in INT_DTYPES:
        raise TypeError(f"repeat: repeats must be an integer vector, got {reps.type}")
    n, m = x.type.shape[axis], reps.type.shape[0]
    if n is not None and m is not None and m not in (1, n):
        raise ValueError(f"repeat: {m} repeats for an axis of length {n}")
    length = None
    values = constant_value(reps)
    if values is not None:
        if (values < 0).any():
            raise ValueError("repeat: negative repeats")
        if m == 1:
            length = None if n is None else n * int(values[0])
        else:
            length = int(values.sum())
    shape = x.type.shape[:axis] + (length,) + x.type.shape[axis + 1:]
    return TensorType(x.dtype, shape)


declare("repeat", "other", 2, _repeat_infer, lambda x, reps, axis: np.repeat(x, reps, axis=axis),
        params=("axis",), cost=1, doc="each element along an axis repeated by the matching entry of an integer vector")


def repeat(a, repeats, axis=None):
    """Repeat the elements of ``a`` along ``axis`` (of the flattened ``a`` when None), as
    ``np.repeat``: ``repeats`` is an integer (a broadcast and a reshape) or one count per element
    (the op ``repeat``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.repeat(np.arange(4).reshape((2, 2)), [2, 3], axis=0).eval()
    array([[0, 1],
           [0, 1],
           [2, 3],
           [2, 3],
           [2, 3]])
    >>> pt.repeat(pt.matrix("m", shape=(2, 3)), 2, axis=1).type.shape
    (2, 6)
    """
    a = as_tensor_variable(a)
    if axis is None:
        a, axis = flatten(a), 0
    else:
        axis = _one_axis(axis, a.ndim, "repeat")
    reps = as_tensor_variable(repeats)
    if reps.dtype not in INT_DTYPES:
        raise TypeError(f"repeat: repeats must be integers, got dtype {reps.dtype}")
    if reps.ndim > 1:
        raise ValueError(f"repeat: repeats must be a scalar or a vector, got {reps.type}")
    if reps.ndim == 1 and reps.type.shape[0] == 1:
        reps = reps[0]
    if reps.ndim == 1:
        return Op(OPS["repeat"], {"axis": axis})(a, E.cast(reps, "int64"))
    r = _int_scalar("repeat", "repeats", reps)
    if isinstance(r, int) and r < 0:
        raise ValueError("repeat: negative repeats")
    r = r if isinstance(r, int) else E.cast(r, "int64")
    dims = [_dim(a, d) for d in range(a.ndim)]
    spread = alloc(expand_dims(a, axis + 1), *dims[:axis + 1], r, *dims[axis + 1:])
    merged = _prod([dims[axis], r]) if isinstance(r, int) else E.mul(dims[axis], r)
    return reshape(spread, tuple(dims[:axis]) + (merged,) + tuple(dims[axis + 1:]))


def tile(A, reps):
    """``A`` repeated ``reps`` times along each axis (``np.tile``; ``reps`` an int, a sequence of
    ints or integer scalars, or an integer vector of known length). Built from a broadcast and a
    reshape.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.tile(np.array([[1, 2], [3, 4]]), 2).eval()
    array([[1, 2, 1, 2],
           [3, 4, 3, 4]])
    """
    A = as_tensor_variable(A)
    if not isinstance(reps, (list, tuple)):
        rv = as_tensor_variable(reps)
        if rv.ndim == 0:
            reps = (rv,)
        elif rv.ndim == 1:
            try:
                get_vector_length(rv)
            except ValueError as e:
                raise ValueError("tile: the length of reps is unknown. Use specify_shape to set the length of "
                                 "reps") from e
            entries = static_entries(rv)
            reps = tuple(e if e is not None else rv[k] for k, e in enumerate(entries))
        else:
            raise ValueError(f"tile: reps must be a scalar or a vector, got {rv.type}")
    try:
        reps = [_int_scalar("tile", "each entry of reps", r) for r in reps]
    except TypeError as e:  # PyTensor's error type for a reps entry that is not an integer scalar
        raise ValueError(str(e)) from e
    nd = max(len(reps), A.ndim)
    reps = [1] * (nd - len(reps)) + reps
    if A.ndim < nd:
        A = shape_padleft(A, nd - A.ndim)
    reps = [r if isinstance(r, int) else E.cast(r, "int64") for r in reps]
    if all(isinstance(r, int) and r == 1 for r in reps):
        return A
    dims = [_dim(A, d) for d in range(nd)]
    spread = alloc(expand_dims(A, tuple(range(0, 2 * nd, 2))), *[v for pair in zip(reps, dims) for v in pair])
    return reshape(spread, tuple(_prod([r, n]) if isinstance(r, int) and isinstance(n, int) else E.mul(r, n)
                                 for r, n in zip(reps, dims)))


__all__ = ["repeat", "tile"]
