"""Op declarations, one module per family. Importing this package fills :data:`eqtensor.core.op.OPS`."""

from . import elemwise, shape, reduction, linalg, subtensor, creation, nnet, blas, scan  # noqa: F401  (table order)
