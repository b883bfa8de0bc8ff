"""Casts with NumPy's semantics on traced values (shared by every lowering table)."""

from __future__ import annotations

import numpy as np

from . import runtime as rt


def cast(x, dtype):
    """``x`` as ``dtype``: NumPy values stay NumPy (known while tracing), others become JAX arrays."""
    if rt.is_concrete(x):
        return np.asarray(x).astype(dtype, copy=False)
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind in "iu" and np.dtype(x.dtype).kind == "f" and dtype.itemsize < 8:
        x = rt.lax.convert_element_type(x, np.dtype("int64"))  # wrap out-of-range values, as NumPy
    return rt.lax.convert_element_type(x, dtype)
