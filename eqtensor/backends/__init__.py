"""Backends compile a typed, scheduled graph into a callable. They know nothing of the e-graph.

``mode.backend`` picks the backend: ``"numpy"`` (generated Python over NumPy, the reference),
``"c"`` (:mod:`eqtensor.backends.c`) or ``"jax"`` (:mod:`eqtensor.backends.jax`, one ``jax.jit``
program; JAX is imported when the first such function is compiled). Without a working C compiler, ``"c"`` falls back to NumPy
with one warning per process.
"""

from __future__ import annotations

import warnings

from .schedule import Schedule, make_schedule
from . import c, numpy_backend
from . import jax as jax_backend

_warned_no_compiler = False


def compile_fgraph(fgraph, mode):
    """Schedule ``fgraph`` and compile it with ``mode.backend``.

    Returns ``(thunk, schedule, source, backend_name, first_output)``; ``thunk(*inputs, *shared)``
    returns the tuple of outputs followed by update values; ``first_output(slow)`` (C backend only,
    else None) makes a C callable returning the first output directly for the inputs alone, calling
    ``slow`` for keywords or another argument count.
    """
    global _warned_no_compiler

    schedule = make_schedule(fgraph)
    if mode.backend == "jax":
        thunk, src, _ = jax_backend.compile_schedule(schedule, sharding=mode.sharding)
        return thunk, schedule, src, "jax", None
    if mode.backend == "c":
        if c.compiler_works():
            thunk, src, info = c.compile_schedule(schedule)
            return thunk, schedule, src, "c", info["first_output"]
        if not _warned_no_compiler:
            _warned_no_compiler = True
            warnings.warn("eqtensor: no working C compiler found (set $CC); the C backend falls back to "
                          "the NumPy backend", RuntimeWarning, stacklevel=3)
    thunk, src = numpy_backend.compile_schedule(schedule)
    return thunk, schedule, src, "numpy", None


__all__ = ["Schedule", "compile_fgraph", "make_schedule"]
