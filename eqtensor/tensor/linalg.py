"""Linear algebra, mirroring ``pytensor.tensor.linalg`` (which gathers PyTensor's ``slinalg`` and
``nlinalg``): every op, its PyTensor signature and what differs are listed in
``docs/linear-algebra.md``.

>>> import numpy as np
>>> from eqtensor.tensor import linalg, dmatrix
>>> A = dmatrix("A")
>>> float(linalg.det(A).eval({A: np.array([[1.0, 2.0], [3.0, 4.0]])}))
-2.0000000000000004
"""

from ..core.ops.linalg import det, diagonal, dot, matmul, matrix_inverse, outer, tensordot, trace
from .nlinalg import eig, eigh, kron, matrix_dot, matrix_power, norm, pinv, slogdet, svd
from .slinalg import (
    block_diag, cho_solve, cholesky, eigvalsh, expm, lu, lu_factor, lu_solve, pivot_to_permutation, qr, solve,
    solve_triangular,
)

inv = matrix_inverse

__all__ = ["block_diag", "cho_solve", "cholesky", "det", "diagonal", "dot", "eig", "eigh", "eigvalsh", "expm",
           "inv", "kron", "lu", "lu_factor", "lu_solve", "matmul", "matrix_dot", "matrix_inverse", "matrix_power",
           "norm", "outer", "pinv", "pivot_to_permutation", "qr", "slogdet", "solve", "solve_triangular", "svd",
           "tensordot", "trace"]
