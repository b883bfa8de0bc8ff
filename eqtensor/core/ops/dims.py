"""Lengths, axes and integer arguments shared by the formula modules of :mod:`eqtensor.core.ops`
(cumulative ops, sorting, repetition, einsum, ranges…): a static-or-symbolic length, a product of
lengths, one normalized axis, an integer-scalar argument, a sum over axes, an index tuple along one axis.
"""

from __future__ import annotations

import math

import numpy as np

from ..dtypes import INT_DTYPES
from ..op import as_tensor_variable, constant_value, normalize_axis
from . import elemwise as E
from . import reduction as R
from .shape import as_axis, shape_i


def _dim(x, d):
    """The static length of axis ``d`` of ``x``, else its symbolic length."""
    s = x.type.shape[d]
    return s if s is not None else shape_i(x, d)


def _prod(dims):
    """The product of lengths (ints and int64 scalars): an int when all are known."""
    known = math.prod(d for d in dims if isinstance(d, int))
    out = None
    for d in dims:
        if not isinstance(d, int):
            out = d if out is None else E.mul(out, d)
    if out is None:
        return known
    return out if known == 1 else E.mul(out, np.int64(known))


def _one_axis(axis, ndim, opname) -> int:
    (a,) = normalize_axis(as_axis(axis), ndim, opname)
    return a


def _int_scalar(opname, what, v):
    """A Python int when ``v`` is one (or an integer constant), else an integer scalar variable."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return int(v)
    v = as_tensor_variable(v)
    if v.ndim != 0 or v.dtype not in INT_DTYPES:
        raise TypeError(f"{opname}: {what} must be an integer scalar, got {v} of type {v.type}")
    c = constant_value(v)
    return int(c) if c is not None else v


def _sum(x, axes):
    return R.sum(x, axis=tuple(axes)) if axes else x


def _along(axis, ndim, item):
    """An index tuple applying ``item`` along ``axis`` and ``:`` elsewhere."""
    return (slice(None),) * axis + (item,) + (slice(None),) * (ndim - axis - 1)
