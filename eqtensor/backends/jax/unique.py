"""``unique`` under ``jax.jit``: its length depends on the values, and JAX traces static shapes.

An input known while tracing (computed from constants and static arguments) is computed with NumPy's
``unique`` (the op's ``perform``). Otherwise the number of distinct values (or slices along
``axis``) is found by a *probe*, as the steps of an ``until`` scan are (:mod:`.scan`): the call
first runs the program up to the ``unique``, returning that number (a sort of the values); the
program then runs with it as a static argument, lowering the op to ``jnp.unique(x, size=number)``
(sorted, NaNs equal, as NumPy). The outputs of one input and axis (values, index, inverse, counts)
share one probe. Each new number of distinct values compiles the program once more (cached
afterwards); new values with as many distinct ones do not. Inside an ``ifelse`` branch or a scan's
step no probe can stop the program: ``LoweringError`` there.
"""

from __future__ import annotations

import numpy as np

from . import runtime as rt
from .errors import LoweringError


def _length(x, axis) -> int:
    return int(np.size(x)) if axis is None else int(np.shape(x)[axis])


def _distinct(x, axis):
    """The traced number of distinct values (slices) of ``x``: of real values, one sort (NaNs are
    equal, as for ``unique``); else the nonzero counts of ``jnp.unique``."""
    jnp = rt.jnp
    if axis is None and np.dtype(x.dtype).kind != "c":
        s = jnp.sort(jnp.ravel(x))
        same = s[1:] == s[:-1]
        if s.dtype.kind == "f":
            same = same | (jnp.isnan(s[1:]) & jnp.isnan(s[:-1]))
        return s.size - jnp.sum(same)
    counts = jnp.unique(x, axis=axis, return_counts=True, size=_length(x, axis))[1]
    return jnp.sum(counts > 0)


def _count(node, x, env, trace) -> int:
    """The number of distinct values, found once per input and axis (by a probe)."""
    axis = node.op.params["axis"]
    if _length(x, axis) == 0:
        return 0
    key = ("unique", id(node.inputs[0]), axis)
    if key not in env:
        if trace.nested:
            raise LoweringError(f"unique of {node.inputs[0]} inside an ifelse branch or a scan's step: its length "
                                f"depends on the values, which JAX must know when tracing; compute it outside the "
                                f"branch or loop, or use another backend")
        env[key] = trace.count(lambda: _distinct(x, axis), f"the number of unique values of {node.inputs[0]}")
    return int(env[key])


def lower_unique(node, x, env, trace):
    """Output ``which`` of ``np.unique(x, axis=axis)``: 0 values, 1 first indices, 2 inverse, 3 counts."""
    which, axis = node.op.params["which"], node.op.params["axis"]
    if rt.is_concrete(x):
        return np.asarray(node.op.perform(x))
    n = _count(node, x, env, trace)
    res = rt.jnp.unique(x, return_index=which == 1, return_inverse=which == 2, return_counts=which == 3,
                        axis=axis, size=n)
    return res if which == 0 else res[1].reshape(-1).astype("int64")
