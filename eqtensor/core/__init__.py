"""The core: types, graph, op table, function. Importing it registers every op."""

from . import ops  # noqa: F401
