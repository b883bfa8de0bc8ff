"""Linear algebra: ``dot`` and ``matmul`` (ops), ``outer`` and ``tensordot`` (formulas over them),
and the dense solvers ``matrix_inverse``, ``det``, ``solve``.

Static shapes are checked when a node is built, naming both shapes:

>>> from eqtensor import tensor as pt
>>> a, b = pt.matrix("a", shape=(3, 4)), pt.matrix("b", shape=(4, 2))
>>> pt.dot(a, b).type.shape, (a @ b).type.shape
((3, 2), (3, 2))
>>> pt.dot(a, pt.matrix("c", shape=(5, 2)))
Traceback (most recent call last):
...
ValueError: dot: shapes (3, 4) and (5, 2) are not aligned: a's axis 1 has length 4 but b's axis 0 has length 5

**Cost.** ``OpDef.cost`` of a contraction is the arithmetic per output element *per step of the
contracted axis* (a multiply and an add: 2). The total is ``OpDef.flops(op, input_types, input_values)``:
``2 * (output elements) * (contraction length)``, with unknown lengths counted as
``config.unknown_dim_size``; e.g. a (m, k) by (k, n) ``dot`` costs ``2*m*k*n``.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import config
from ..op import OPS, Op, as_tensor_variable, declare, dtype_by_numpy, exact, normalize_axis
from ..graph import Constant, TensorType
from . import reduction
from .creation import arange
from .elemwise import add, maximum, minimum, mul
from .broadcast import alloc
from .shape import dimshuffle, flatten, reshape, shape_i, transpose
from .subtensor import set_subtensor


def _fmt(shape):
    return str(tuple(shape))


def _agree(opname, a, b, ax_a, ax_b):
    la, lb = a.type.shape[ax_a], b.type.shape[ax_b]
    if la is not None and lb is not None and la != lb:
        raise ValueError(
            f"{opname}: shapes {_fmt(a.type.shape)} and {_fmt(b.type.shape)} are not aligned: a's axis "
            f"{ax_a % a.ndim} has length {la} but b's axis {ax_b % b.ndim} has length {lb}"
        )
    return la if la is not None else lb


def _known(n):
    return config.unknown_dim_size if n is None else n


def _size(shape):
    return math.prod(_known(s) for s in shape)


# ----------------------------------------------------------------------------- dot
def _dot_infer(op, inputs):
    a, b = inputs
    dtype = dtype_by_numpy(op, [a.dtype, b.dtype], [a.ndim, b.ndim])
    if a.ndim == 0 or b.ndim == 0:
        return TensorType(dtype, (b if a.ndim == 0 else a).type.shape)
    if b.ndim == 1:
        _agree("dot", a, b, -1, 0)
        return TensorType(dtype, a.type.shape[:-1])
    _agree("dot", a, b, -1, -2)
    return TensorType(dtype, a.type.shape[:-1] + b.type.shape[:-2] + b.type.shape[-1:])


def _dot_flops(op, types, values):
    """Floating-point operations of a ``dot`` node with inputs of these types."""
    a, b = types
    if a.ndim == 0 or b.ndim == 0:
        return float(_size(a.shape) * _size(b.shape))
    k = a.shape[-1] if a.shape[-1] is not None else b.shape[0 if b.ndim == 1 else -2]
    b_free = b.shape[:-2] + b.shape[-1:] if b.ndim > 1 else ()
    return 2.0 * _size(a.shape[:-1]) * _size(b_free) * _known(k)


declare("dot", "linalg", 2, _dot_infer, np.dot, cost=2.0, numpy="np.dot({0}, {1})",
        reference=lambda mp, a, b: np.dot(*exact(mp, a, b)),
        doc="np.dot: inner product over a's last and b's second-to-last axis",
        flops=_dot_flops)


def dot(a, b):
    """``np.dot(a, b)`` (scalar product for 0-d, inner product, matrix product, N-d contraction).

    >>> from eqtensor import tensor as pt
    >>> pt.dot(pt.dmatrix("A"), pt.dvector("v")).type
    TensorType(float64, shape=(None,))
    """

    return Op(OPS["dot"])(as_tensor_variable(a), as_tensor_variable(b))


# ----------------------------------------------------------------------------- matmul
def _matmul_infer(op, inputs):
    a, b = inputs
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got {a.type} and {b.type}; use * "
                         f"to multiply by a scalar")
    dtype = dtype_by_numpy(op, [a.dtype, b.dtype], [a.ndim, b.ndim])
    sa = (1,) + a.type.shape if a.ndim == 1 else a.type.shape
    sb = b.type.shape + (1,) if b.ndim == 1 else b.type.shape
    ka, kb = sa[-1], sb[-2]
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"matmul: shapes {_fmt(a.type.shape)} and {_fmt(b.type.shape)} are not aligned: "
                         f"contraction lengths {ka} and {kb} differ")
    ba, bb = sa[:-2], sb[:-2]
    nd = max(len(ba), len(bb))
    ba, bb = (1,) * (nd - len(ba)) + ba, (1,) * (nd - len(bb)) + bb
    batch = []
    for d, (x, y) in enumerate(zip(ba, bb)):
        if x is not None and y is not None and 1 not in (x, y) and x != y:
            raise ValueError(f"matmul: batch dimensions of shapes {_fmt(a.type.shape)} and "
                             f"{_fmt(b.type.shape)} do not broadcast (axis {d}: {x} vs {y})")
        batch.append(y if x == 1 else x if y == 1 else x if x is not None else y)
    shape = tuple(batch) + (sa[-2],) * (a.ndim > 1) + (sb[-1],) * (b.ndim > 1)
    return TensorType(dtype, shape)


def _matmul_flops(op, types, values):
    """Floating-point operations of a ``matmul`` node with inputs of these types."""
    a, b = types
    sa = (1,) + a.shape if a.ndim == 1 else a.shape
    sb = b.shape + (1,) if b.ndim == 1 else b.shape
    nd = max(len(sa), len(sb)) - 2
    ba, bb = (1,) * (nd - len(sa) + 2) + sa[:-2], (1,) * (nd - len(sb) + 2) + sb[:-2]
    batch = math.prod(max(_known(x), _known(y)) for x, y in zip(ba, bb))
    k = sa[-1] if sa[-1] is not None else sb[-2]
    return 2.0 * batch * _known(sa[-2]) * _known(sb[-1]) * _known(k)


declare("matmul", "linalg", 2, _matmul_infer, np.matmul, cost=2.0, numpy="np.matmul({0}, {1})",
        reference=lambda mp, a, b: np.matmul(*exact(mp, a, b)),
        doc="np.matmul: matrix product broadcast over leading (batch) dimensions",
        flops=_matmul_flops)


def matmul(a, b):
    """``a @ b`` as ``np.matmul`` (1-d operands are promoted and the added axis removed; batching).

    >>> from eqtensor import tensor as pt
    >>> (pt.tensor3("A", shape=(7, 3, 4)) @ pt.matrix("B", shape=(4, 2))).type.shape
    (7, 3, 2)
    """

    return Op(OPS["matmul"])(as_tensor_variable(a), as_tensor_variable(b))


# ----------------------------------------------------------------------------- formulas
def outer(x, y):
    """Outer product of ``x`` and ``y`` flattened (``np.outer``).

    >>> from eqtensor import tensor as pt
    >>> pt.outer(pt.vector("x", shape=(3,)), pt.vector("y", shape=(2,))).type.shape
    (3, 2)
    """

    x, y = flatten(x), flatten(y)
    return mul(dimshuffle(x, 0, "x"), dimshuffle(y, "x", 0))


def _axes_pair(a, b, axes):
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} needs 0 <= axes <= min(a.ndim, b.ndim) = {min(a.ndim, b.ndim)}")
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    try:
        xa, xb = axes
    except (TypeError, ValueError) as e:
        raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from e
    xa = [xa] if isinstance(xa, (int, np.integer)) else list(xa)
    xb = [xb] if isinstance(xb, (int, np.integer)) else list(xb)
    if len(xa) != len(xb):
        raise ValueError(f"tensordot: axes {xa} and {xb} must have the same length")
    for name, t, ax in (("a", a, xa), ("b", b, xb)):
        for d in ax:
            if not -t.ndim <= d < t.ndim:
                raise ValueError(f"tensordot: axis {d} out of range for {name} of {t.ndim} dimensions")
        if len({d % t.ndim for d in ax}) != len(ax):
            raise ValueError(f"tensordot: repeated axis in {ax} for {name}")
    return [d % a.ndim for d in xa], [d % b.ndim for d in xb]


def _prod_dims(x, dims):

    out = 1
    for d in dims:
        s = x.type.shape[d]
        if s is not None and isinstance(out, int):
            out *= s
        else:
            term = s if s is not None else shape_i(x, d)
            out = mul(out, term) if not (isinstance(out, int) and out == 1) else term
    return out


def tensordot(a, b, axes=2):
    """Sum products over ``axes`` (an int n: a's last n with b's first n; or two axis lists), as
    ``np.tensordot``; built from transposes, reshapes and one ``dot``.

    >>> from eqtensor import tensor as pt
    >>> a, b = pt.tensor3("a", shape=(2, 3, 4)), pt.tensor3("b", shape=(4, 3, 5))
    >>> pt.tensordot(a, b, axes=[[1, 2], [1, 0]]).type.shape
    (2, 5)
    """

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    xa, xb = _axes_pair(a, b, axes)
    for da, db in zip(xa, xb):
        _agree("tensordot", a, b, da, db)
    free_a = [d for d in range(a.ndim) if d not in xa]
    free_b = [d for d in range(b.ndim) if d not in xb]
    a2 = reshape(transpose(a, free_a + xa), (_prod_dims(a, free_a), _prod_dims(a, xa)))
    b2 = reshape(transpose(b, xb + free_b), (_prod_dims(b, xb), _prod_dims(b, free_b)))
    out_shape = [a.type.shape[d] if a.type.shape[d] is not None else shape_i(a, d) for d in free_a]
    out_shape += [b.type.shape[d] if b.type.shape[d] is not None else shape_i(b, d) for d in free_b]
    return reshape(dot(a2, b2), tuple(out_shape))


# ----------------------------------------------------------------------------- dense solvers
def _square(opname, x, ndim_min=2):
    if x.ndim < ndim_min:
        raise ValueError(f"{opname}: expected a matrix (or a stack of matrices), got {x.type}")
    n, m = x.type.shape[-2:]
    if n is not None and m is not None and n != m:
        raise ValueError(f"{opname}: expected square matrices, got static shape {_fmt(x.type.shape)}")
    return n if n is not None else m


def _inv_infer(op, inputs):
    (x,) = inputs
    n = _square("matrix_inverse", x)
    return TensorType(dtype_by_numpy(op, [x.dtype], [x.ndim]), x.type.shape[:-2] + (n, n))


def _det_infer(op, inputs):
    (x,) = inputs
    _square("det", x)
    return TensorType(dtype_by_numpy(op, [x.dtype], [x.ndim]), x.type.shape[:-2])


def _solve_infer(op, inputs):
    a, b = inputs
    n = _square("solve", a)
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise ValueError(f"solve: expected a matrix a and a vector or matrix b, got {a.type} and {b.type}")
    _agree("solve", a, b, -1, 0)
    dtype = dtype_by_numpy(op, [a.dtype, b.dtype], [2, b.ndim])
    return TensorType(dtype, (n if n is not None else b.type.shape[0],) + b.type.shape[1:])


def _solve(a, b):
    return np.linalg.solve(a, b)


declare("matrix_inverse", "linalg", 1, _inv_infer, np.linalg.inv, cost=2.0, doc="inverse of square matrices",
        flops=(lambda op, types, values: 2.0 * _size(types[0].shape[:-2]) * _known(types[0].shape[-1]) ** 3))
declare("det", "linalg", 1, _det_infer, np.linalg.det, cost=1.0, doc="determinant of square matrices",
        flops=(lambda op, types, values: 0.7 * _size(types[0].shape[:-2]) * _known(types[0].shape[-1]) ** 3))
declare("solve", "linalg", 2, _solve_infer, _solve, cost=2.0, doc="x with a @ x = b (a square)",
        flops=(lambda op, types, values: 0.7 * _known(types[0].shape[-1]) ** 3
               + 2.0 * _known(types[0].shape[-1]) ** 2 * (_known(types[1].shape[1]) if types[1].ndim == 2 else 1)))


def matrix_inverse(x):
    """Inverse of a square matrix (or of each matrix of a stack), as ``np.linalg.inv``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> pt.linalg.inv(A).eval({A: np.array([[2.0, 0.0], [0.0, 4.0]])})
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """

    return Op(OPS["matrix_inverse"])(as_tensor_variable(x))


def det(x):
    """Determinant of a square matrix (or of each matrix of a stack), as ``np.linalg.det``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> float(pt.linalg.det(A).eval({A: np.diag([2.0, 3.0])}))
    6.0
    """

    x = as_tensor_variable(x)
    if x.ndim >= 2 and None not in x.type.shape[-2:] and x.type.shape[-2] != x.type.shape[-1]:
        raise ValueError(f"det: Determinant not defined for non-square matrices: expected square matrices, got "
                         f"static shape {_fmt(x.type.shape)}")
    return Op(OPS["det"])(x)


def solve(a, b):
    """The solution ``x`` of ``a @ x = b`` for a square matrix ``a`` and a vector or matrix ``b``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> a, b = pt.dmatrix("a"), pt.dvector("b")
    >>> pt.linalg.solve(a, b).eval({a: np.diag([2.0, 4.0]), b: np.array([1.0, 1.0])})
    array([0.5 , 0.25])
    """

    return Op(OPS["solve"])(as_tensor_variable(a), as_tensor_variable(b))


# ----------------------------------------------------------------------------- diagonals (formulas)
def _dim(x, d):

    return x.type.shape[d] if x.type.shape[d] is not None else shape_i(x, d)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal of the 2-d slices over ``axis1``, ``axis2``, appended as the last axis
    (``np.diagonal``); built by advanced indexing.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.diagonal(np.arange(12).reshape(3, 4), offset=1).eval()
    array([ 1,  6, 11])
    """

    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: expected at least 2 dimensions, got {x.type}")
    a1, a2 = (normalize_axis(a, x.ndim, "diagonal")[0] for a in (axis1, axis2))
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 must differ")
    k = int(offset)
    rest = [d for d in range(x.ndim) if d not in (a1, a2)]
    y = transpose(x, rest + [a1, a2])
    n1, n2 = _dim(x, a1), _dim(x, a2)
    if isinstance(n1, int) and isinstance(n2, int):
        length = max(0, min(n1 + min(k, 0), n2 - max(k, 0)))
    else:
        length = maximum(minimum(add(n1, min(k, 0)), add(n2, -max(k, 0))), 0)
    idx = arange(length)
    return y[(Ellipsis, add(idx, max(-k, 0)) if k < 0 else idx, add(idx, k) if k > 0 else idx)]


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum of the ``offset`` diagonal of the 2-d slices over ``axis1``, ``axis2`` (``np.trace``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> int(pt.trace(np.arange(9).reshape(3, 3)).eval())
    12
    >>> pt.trace(np.ones((2, 3, 4)), axis1=1, axis2=2).eval()
    array([3., 3.])
    """

    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"trace: expected at least 2 dimensions, got {x.type}")
    return reduction.sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diag(v, k=0):
    """A matrix with the vector ``v`` on its ``k``-th diagonal, or the ``k``-th diagonal of the
    matrix ``v`` (``np.diag``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.diag(np.array([1, 2]), k=-1).eval()
    array([[0, 0, 0],
           [1, 0, 0],
           [0, 2, 0]])
    """

    v = as_tensor_variable(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: Input must be 1- or 2-d. It takes a vector or a matrix, got {v.type}")
    k = int(k)
    n = _dim(v, 0)
    size = n + abs(k) if isinstance(n, int) else add(n, abs(k))
    idx = arange(n)
    rows = add(idx, -k) if k < 0 else idx
    cols = add(idx, k) if k > 0 else idx
    return set_subtensor(alloc(Constant(np.zeros((), v.dtype)), size, size)[rows, cols], v)


__all__ = ["det", "diag", "diagonal", "dot", "matmul", "matrix_inverse", "outer", "solve", "tensordot", "trace"]
