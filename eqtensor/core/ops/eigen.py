"""Symmetric (Hermitian) eigenproblems: the op ``eigvalsh{lower}`` of ``scipy.linalg`` (one input,
or two for the generalized problem ``A v = w B v``; batched, dtypes: :mod:`.lapack`), and the type
rule and per-matrix solver :mod:`.nlinalg`'s ``eigh`` shares.

>>> from eqtensor import tensor as pt
>>> eigvalsh(pt.tensor3("A", shape=(5, 3, 3))).type
TensorType(float64, shape=(5, 3))
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, declare
from .lapack import (
    _bool, _fmt, _nan_like, _which, batch_shape, batch_size, cast, check_square, decomposition, matrix_dims,
    per_matrix, real_dtype, work_dtype,
)
from .linalg import _known


# ============================================================================ eigvalsh
def _eig_sym_infer(opname):
    def infer(op, inputs):
        if len(inputs) not in (1, 2):
            raise TypeError(f"{opname} takes a matrix and optionally a second one (generalized problem), "
                            f"got {len(inputs)} inputs")
        a = inputs[0]
        n, _ = matrix_dims(opname, a)
        batch = a.type.shape[:-2]
        if len(inputs) == 2:
            nb, _ = matrix_dims(opname, inputs[1])
            if n is not None and nb is not None and n != nb:
                raise ValueError(f"{opname}: a {_fmt(a.type.shape)} and b {_fmt(inputs[1].type.shape)} differ in size")
            n = n if n is not None else nb
            batch = batch_shape(opname, batch, inputs[1].type.shape[:-2])
        dtype = work_dtype(*(i.dtype for i in inputs))
        which = op.params.get("which", 0)
        _which(opname, which, 2)
        if which == 0:  # eigenvalues of Hermitian matrices are real
            return TensorType(real_dtype(dtype), batch + (n,))
        return TensorType(dtype, batch + (n, n))

    return infer


def eigh_all(arrays, lower):
    """``(w, v)`` of the symmetric (or generalized symmetric-definite) eigenproblem of ``arrays``."""
    dtype = work_dtype(*(a.dtype for a in arrays))
    arrays = [cast(a, dtype) for a in arrays]
    for a in arrays:
        check_square("eigh", a)
    if len(arrays) == 1:
        w, v = np.linalg.eigh(arrays[0], UPLO="L" if lower else "U")
        return w, v
    import scipy.linalg  # lazy

    def one(a1, b1):
        if a1.size == 0:
            return np.zeros(a1.shape[:1], real_dtype(dtype)), np.zeros(a1.shape, dtype)
        try:
            return tuple(scipy.linalg.eigh(a1, b1, lower=lower, check_finite=False))
        except np.linalg.LinAlgError:  # b not positive definite
            return _nan_like(a1.shape[:1], real_dtype(dtype)), _nan_like(a1.shape, dtype)

    return per_matrix(one, arrays, [2, 2])


def _eigvalsh(*arrays, lower):
    dtype = work_dtype(*(a.dtype for a in arrays))
    if len(arrays) == 1:  # no eigenvectors
        a = cast(arrays[0], dtype)
        check_square("eigvalsh", a)
        return np.array(np.linalg.eigvalsh(a, UPLO="L" if lower else "U"), dtype=real_dtype(dtype))
    w, _ = decomposition(("eigh", lower), lambda *xs: eigh_all(xs, lower), *arrays)
    return w.astype(real_dtype(dtype))


declare("eigvalsh", "linalg", None, _eig_sym_infer("eigvalsh"), _eigvalsh, params=("lower",),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 4.0 * _known(types[0].shape[-1]) ** 3,
        doc="eigenvalues (ascending) of symmetric matrices, reading one triangle; optionally of A v = w B v")


def eigvalsh(a, b=None, lower=True):
    """The eigenvalues, ascending, of symmetric ``a`` (reading its ``lower`` or upper triangle), or
    of the generalized problem ``a @ v = w * (b @ v)`` with ``b`` positive definite.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> eigvalsh(A).eval({A: np.array([[2.0, 1.0], [1.0, 2.0]])})
    array([1., 3.])
    """
    ins = [as_tensor_variable(a)] + ([] if b is None else [as_tensor_variable(b)])
    return Op(OPS["eigvalsh"], {"lower": _bool("eigvalsh", "lower", lower)})(*ins)


__all__ = ["eigvalsh"]
