"""The C backend: a scheduled graph compiled to one C function through cffi and the system compiler.

See ``docs/c-backend.md`` for the design (call path, output allocation, fusion, BLAS, cache).

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> x = pt.dvector("x")
>>> f = function([x], pt.exp(x) * 2, mode="C")
>>> f.maker.backend
'c'
>>> np.allclose(f(np.array([0.0, 1.0])), 2 * np.exp([0.0, 1.0]))
True
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

from ...core.config import config
from .branch_calls import BRANCH_OPS
from .build import build_module, first_output_function, new_function, set_kernels
from .codegen import generate
from .indexing import INDEX_OPS
from .kernels import ELEMWISE, FALLBACK, REDUCE
from .libraries import kernel_addresses, known, runtime_library
from .rows import ROWS
from .scan_loop import LOOP_OPS
from .structural import STRUCTURAL
from .toolchain import CompileError, compiler_works


def has_kernel(opname: str) -> bool:
    """True when the op has a C kernel (it may still fall back for some dtypes, for advanced
    indexing some index forms, for scan a step not compiled as C)."""
    return opname in ELEMWISE or opname in REDUCE or opname in STRUCTURAL or opname in ROWS or opname in INDEX_OPS \
        or opname in BRANCH_OPS or opname in LOOP_OPS


def compile_schedule(schedule):
    """Compile ``schedule``; returns ``(thunk, source, info)``.

    ``thunk`` is the compiled function object itself (a C function taking the inputs then the
    shared values and returning the tuple of outputs and update values). ``info`` records the
    cache key, the ops that run through NumPy, and ``first_output(slow)``, which makes the C
    function returning ``thunk``'s first output directly (see :func:`.build.first_output_function`).
    """
    gen = generate(schedule)
    cache_dir = config.cache_dir
    if known(gen.kernels):
        addresses = kernel_addresses(gen.kernels, cache_dir)
        module, info = build_module(gen.source, cache_dir, runtime_library(cache_dir), parts=gen.parts)
    else:  # the kernels' library (when missing) is compiled while the module is
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(kernel_addresses, gen.kernels, cache_dir)
            module, info = build_module(gen.source, cache_dir, runtime_library(cache_dir), parts=gen.parts)
            addresses = pending.result()
    set_kernels(module, addresses)
    thunk = new_function(module, gen.state)
    info["fallback_ops"] = gen.fallback_ops
    info["first_output"] = functools.partial(first_output_function, module, thunk)
    return thunk, "\n".join([gen.source, *gen.parts, *gen.kernels.values()]), info


__all__ = ["CompileError", "FALLBACK", "compile_schedule", "compiler_works", "has_kernel"]
