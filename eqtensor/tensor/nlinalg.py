"""``pytensor.tensor.nlinalg``: the linear algebra of ``numpy.linalg`` (see ``docs/linear-algebra.md``).

PyTensor now keeps these names in ``pytensor.tensor.linalg`` (its ``nlinalg`` module is a deprecated
alias); eqtensor offers both paths.

>>> import numpy as np
>>> from eqtensor.tensor import dmatrix, nlinalg
>>> A = dmatrix("A")
>>> float(nlinalg.slogdet(A)[1].eval({A: np.diag([1e200, 1e200])}))
921.0340371976183
"""

from ..core.ops.linalg import det, matrix_inverse, trace
from ..core.ops.nlinalg import eig, eigh, kron, matrix_dot, matrix_power, norm, pinv, slogdet, svd

inv = matrix_inverse

__all__ = ["det", "eig", "eigh", "inv", "kron", "matrix_dot", "matrix_inverse", "matrix_power", "norm", "pinv",
           "slogdet", "svd", "trace"]
