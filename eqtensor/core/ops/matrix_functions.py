"""Functions of matrices after ``scipy.linalg``: the op ``expm`` (the matrix exponential, batched
over leading dimensions; dtypes: :mod:`.lapack`) and the formula :func:`block_diag`.

>>> from eqtensor import tensor as pt
>>> expm(pt.tensor3("A", shape=(5, 3, 3))).type
TensorType(float64, shape=(5, 3, 3))
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, declare
from .creation import zeros
from .lapack import batch_shape, batch_size, cast, check_square, matrix_dims, work_dtype
from .linalg import _known
from .shape import shape_i
from .subtensor import set_subtensor


# ============================================================================ expm
def _expm_infer(op, inputs):
    (a,) = inputs
    n, _ = matrix_dims("expm", a)
    return TensorType(work_dtype(a.dtype), a.type.shape[:-2] + (n, n))


def _expm(a):
    import scipy.linalg  # lazy

    a = cast(a, work_dtype(a.dtype))
    check_square("expm", a)
    if a.size == 0:
        return np.zeros(a.shape, a.dtype)
    return np.array(scipy.linalg.expm(a), dtype=a.dtype)


declare("expm", "linalg", 1, _expm_infer, _expm,
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 20.0 * _known(types[0].shape[-1]) ** 3,
        doc="matrix exponential (scipy.linalg.expm: Pade approximation with scaling and squaring)")


def expm(A):
    """The matrix exponential of square ``A`` (or of each matrix of a stack), ``scipy.linalg.expm``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> expm(A).eval({A: np.array([[0.0, 1.0], [0.0, 0.0]])})
    array([[1., 1.],
           [0., 1.]])
    """
    return Op(OPS["expm"])(as_tensor_variable(A))


# ============================================================================ block_diag (a formula)
def block_diag(*matrices):
    """The block-diagonal matrix with ``matrices`` on its diagonal (``scipy.linalg.block_diag`` over the
    last two axes; inputs of the same rank with broadcasting batch dimensions), in the inputs'
    promoted dtype; built from ``alloc`` and ``set_subtensor``.

    >>> import numpy as np
    >>> block_diag(np.array([[1, 2], [3, 4]]), np.array([[5]])).eval()
    array([[1, 2, 0],
           [3, 4, 0],
           [0, 0, 5]])
    """
    if not matrices:
        raise TypeError("block_diag needs at least one matrix")
    ms = [as_tensor_variable(m) for m in matrices]
    if len(ms) == 1:
        return ms[0]
    if any(m.ndim < 2 for m in ms) or len({m.ndim for m in ms}) != 1:
        raise TypeError(f"block_diag: all inputs must be matrices (or stacks of the same rank), got "
                        f"{[str(m.type) for m in ms]}")
    batch_shape("block_diag", *(m.type.shape[:-2] for m in ms))
    dtype = np.result_type(*(np.dtype(m.dtype) for m in ms)).name
    nd = ms[0].ndim

    def length(m, d):
        s = m.type.shape[d]
        return s if s is not None else shape_i(m, d)

    batch = []
    for d in range(nd - 2):
        src = next((m for m in ms if m.type.shape[d] != 1), ms[0])  # (only static 1s broadcast)
        batch.append(length(src, d))
    rows, cols = [length(m, nd - 2) for m in ms], [length(m, nd - 1) for m in ms]
    out = zeros(tuple(batch) + (_sum(rows), _sum(cols)), dtype=dtype)
    r0 = c0 = 0
    for m, r, c in zip(ms, rows, cols):
        r1, c1 = _add(r0, r), _add(c0, c)
        out = set_subtensor(out[(Ellipsis, slice(r0, r1), slice(c0, c1))], m)
        r0, c0 = r1, c1
    return out


def _add(a, b):
    """``a + b`` for lengths that are ints or int64 scalars (an int when both are)."""
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    if isinstance(a, int) and a == 0:
        return b
    return as_tensor_variable(a) + b


def _sum(xs):
    out = 0
    for x in xs:
        out = _add(out, x)
    return out


__all__ = ["block_diag", "expm"]
