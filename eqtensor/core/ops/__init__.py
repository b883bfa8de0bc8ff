"""Op declarations, one module per family. Importing this package fills :data:`eqtensor.core.op.OPS`."""

from . import elemwise, shape, reduction  # noqa: F401  (registration order is the table order)
