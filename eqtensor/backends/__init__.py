"""Backends compile a typed, scheduled graph into a callable. They know nothing of the e-graph."""

from __future__ import annotations

from .schedule import Schedule, make_schedule


def compile_fgraph(fgraph, mode):
    """Schedule ``fgraph`` and compile it with ``mode.backend``.

    Returns ``(thunk, schedule, source, backend_name)``; ``thunk(*inputs, *shared)`` returns the
    tuple of outputs followed by update values.
    """
    from . import numpy_backend

    schedule = make_schedule(fgraph)
    thunk, src = numpy_backend.compile_schedule(schedule)
    return thunk, schedule, src, "numpy"


__all__ = ["Schedule", "compile_fgraph", "make_schedule"]
