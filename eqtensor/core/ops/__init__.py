"""Op declarations, one module per family. Importing this package fills :data:`eqtensor.core.op.OPS`."""

from . import elemwise, shape, subtensor, reduction, creation, linalg, slinalg, nlinalg, extra, nnet, blas, markers, scan  # noqa: F401  (table order)
