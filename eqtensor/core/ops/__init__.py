"""Op declarations, one module per family. Importing this package fills :data:`eqtensor.core.op.OPS`.

The families are imported in table order, each importing only earlier ones (the helper modules
``dims`` and ``lapack`` declare no op and are imported by the families that use them).
"""

from . import elemwise, shape, broadcast, join, shape_checks, subtensor, reduction, creation, linalg  # noqa: F401
from . import second  # noqa: F401  (the gradient's seed)
from . import solvers, factorizations, matrix_functions, eigen, nlinalg  # noqa: F401  (linear algebra)
from . import casts, cumulative, sorting, repetition, selection, statistics, elemwise_formulas  # noqa: F401
from . import special_functions  # noqa: F401  (hyp2f1, polygamma of a tensor order, parameter derivatives)
from . import products, einsum, ranges, diagonals, rearranging  # noqa: F401  (formulas of pytensor.tensor)
from . import flat_indices, static_values  # noqa: F401  (index arithmetic, values known when building)
from . import nnet, blas, markers, effects, scan, ifelse  # noqa: F401
from . import random, distributions  # noqa: F401  (random variables)
