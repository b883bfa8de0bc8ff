"""Dtypes and NumPy 2 (NEP 50) type promotion.

Python scalars are *weak*: they take the dtype of the tensor they meet, so
``fvector * 2.5`` stays ``float32``.

>>> promote(["float32", float])
'float32'
>>> promote(["int8", "int16"])
'int16'
"""

from __future__ import annotations

import numpy as np

from .config import config

DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
)
FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
DISCRETE_DTYPES = ("bool",) + INT_DTYPES

#: dummy scalar per weak Python kind, used when asking NumPy for a result dtype
WEAK_KINDS = {bool: True, int: 1, float: 1.0, complex: 1j}


def as_dtype(dtype) -> str:
    """Normalise a dtype spec (``'floatX'``, ``np.float32``, ``'f8'``…) to a name in :data:`DTYPES`."""
    if dtype == "floatX":
        return config.floatX
    try:
        name = np.dtype(dtype).name
    except TypeError as e:
        raise TypeError(f"{dtype!r} is not a dtype") from e
    if name not in DTYPES:
        raise TypeError(f"dtype {name!r} is not supported; supported: {', '.join(DTYPES)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def promote(kinds) -> str:
    """Result dtype of combining dtype names and weak Python kinds (``int``, ``float``…)."""
    args = [WEAK_KINDS[k] if k in WEAK_KINDS else np.dtype(k) for k in kinds]
    if all(not isinstance(a, np.dtype) for a in args):
        args = [np.asarray(a) for a in args]
    return as_dtype(np.result_type(*args))

