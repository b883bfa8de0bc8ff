"""``pytensor.tensor.slinalg``: the linear algebra of ``scipy.linalg`` (see ``docs/linear-algebra.md``).

PyTensor now keeps these names in ``pytensor.tensor.linalg`` (its ``slinalg`` module is a deprecated
alias); eqtensor offers both paths.

>>> import numpy as np
>>> from eqtensor.tensor import dmatrix, slinalg
>>> A = dmatrix("A")
>>> slinalg.cholesky(A, lower=False).eval({A: np.array([[4.0, 2.0], [2.0, 5.0]])})
array([[2., 1.],
       [0., 2.]])
"""

from ..core.ops.eigen import eigvalsh
from ..core.ops.factorizations import lu, lu_factor, lu_solve, pivot_to_permutation, qr
from ..core.ops.matrix_functions import block_diag, expm
from ..core.ops.solvers import cho_solve, cholesky, solve, solve_triangular

__all__ = ["block_diag", "cho_solve", "cholesky", "eigvalsh", "expm", "lu", "lu_factor", "lu_solve",
           "pivot_to_permutation", "qr", "solve", "solve_triangular"]
