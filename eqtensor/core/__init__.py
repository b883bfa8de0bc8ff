"""The IR: types, the graph, the op table (every op declared in :mod:`eqtensor.core.ops`), the
reference interpreter and the tensor methods. Importing it fills the op table completely."""

from . import ops, tensor_methods  # noqa: F401  (declares every op; installs Variable's methods)
