"""Linear algebra, mirroring ``pytensor.tensor.linalg`` / ``nlinalg`` where the concept exists.

>>> import numpy as np
>>> from eqtensor.tensor import linalg, dmatrix
>>> A = dmatrix("A")
>>> float(linalg.det(A).eval({A: np.array([[1.0, 2.0], [3.0, 4.0]])}))
-2.0000000000000004
"""

from ..core.ops.linalg import det, diagonal, dot, matmul, matrix_inverse, outer, solve, tensordot, trace

inv = matrix_inverse

__all__ = ["det", "diagonal", "dot", "inv", "matmul", "matrix_inverse", "outer", "solve", "tensordot", "trace"]
