"""What the LAPACK-backed ops of :mod:`.solvers`, :mod:`.factorizations`, :mod:`.matrix_functions`,
:mod:`.eigen` and :mod:`.nlinalg` share: dtype rules, checks of matrix and batch shapes, the loop
over the matrices of a stack, and the one-entry memo that lets the sibling nodes of a
decomposition share one LAPACK call.

Every op is batched over leading dimensions (a stack of matrices ``(..., m, m)``; batch dimensions
of several inputs broadcast as in ``np.matmul``). Dtypes follow LAPACK (PyTensor's
``linalg_output_dtype``): float64 and integers wider than 16 bits compute in float64, float32 and
narrower types in float32, complex stays complex; the implementations cast their inputs to that
dtype, so the static dtype is the result's.

>>> work_dtype("int32"), work_dtype("int16"), real_dtype("complex64")
('float64', 'float32', 'float32')
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ..op import as_tensor_variable
from .linalg import _known
from .shape import dimshuffle


def work_dtype(*dtypes) -> str:
    """The dtype LAPACK computes in for inputs of these dtypes (PyTensor's ``linalg_output_dtype``).

    >>> work_dtype("int8"), work_dtype("int64"), work_dtype("float32", "float64"), work_dtype("complex64")
    ('float32', 'float64', 'float64', 'complex64')
    """

    def one(dt):
        dt = np.dtype(dt)
        if dt.kind == "c":
            return np.dtype("complex64" if dt.itemsize <= 8 else "complex128")
        if dt.kind not in "biuf":
            raise TypeError(f"linear algebra does not support inputs of dtype {dt}")
        if (dt.kind == "f" and dt.itemsize > 4) or (dt.kind in "iub" and dt.itemsize > 2):
            return np.dtype("float64")
        return np.dtype("float32")

    return np.result_type(*(one(d) for d in dtypes)).name


def real_dtype(dtype: str) -> str:
    """The real dtype of the same precision (singular values, eigenvalues of Hermitian matrices)."""
    dt = np.dtype(dtype)
    return np.finfo(dt).dtype.name if dt.kind == "c" else dt.name


def _fmt(shape):
    return str(tuple(shape))


def matrix_dims(opname, x, square=True):
    """The static ``(rows, cols)`` of ``x``'s core matrices; errors name the shape."""
    if x.ndim < 2:
        raise ValueError(f"{opname}: expected a matrix (or a stack of matrices), got {x.type}")
    n, m = x.type.shape[-2:]
    if square and n is not None and m is not None and n != m:
        raise ValueError(f"{opname}: expected square matrices, got static shape {_fmt(x.type.shape)}")
    if square:
        n = m = n if n is not None else m
    return n, m


def batch_shape(opname, *shapes) -> tuple:
    """Static broadcast of batch shapes (length 1 broadcasts; an unknown length takes a known one)."""
    nd = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    out = []
    for d, dims in enumerate(zip(*padded)):
        known = {x for x in dims if x is not None and x != 1}
        if len(known) > 1:
            raise ValueError(f"{opname}: batch dimensions {[_fmt(s) for s in shapes]} do not broadcast "
                             f"(batch axis {d}: {sorted(known)})")
        out.append(known.pop() if known else 1 if all(x == 1 for x in dims) else None)
    return tuple(out)


def core_b(opname, a, b, b_ndim):
    """Check ``b`` against the square ``a`` for a solve; returns the static shape of the solution."""
    if b_ndim not in (1, 2):
        raise ValueError(f"{opname}: b_ndim must be 1 or 2, got {b_ndim!r}")
    n, _ = matrix_dims(opname, a)
    if b.ndim < b_ndim:
        raise ValueError(f"{opname}: b must have at least b_ndim={b_ndim} dimensions, got {b.type}")
    k = b.type.shape[b.ndim - b_ndim]
    if n is not None and k is not None and n != k:
        raise ValueError(f"{opname}: shapes {_fmt(a.type.shape)} and {_fmt(b.type.shape)} are not aligned: a "
                         f"has {n} rows but the core of b has {k}")
    core = (n if n is not None else k,) + b.type.shape[b.ndim - b_ndim + 1:]
    return batch_shape(opname, a.type.shape[:-2], b.type.shape[:b.ndim - b_ndim]) + core


def batch_size(shape) -> float:
    return float(math.prod(_known(s) for s in shape))


def cast(a, dtype):
    return np.asarray(a).astype(dtype, copy=False)


def check_square(opname, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{opname}: expected square matrices, got an array of shape {a.shape}")


def check_aligned(opname, a, b, b_ndim):
    check_square(opname, a)
    if b.ndim < b_ndim or b.shape[b.ndim - b_ndim] != a.shape[-1]:
        raise ValueError(f"{opname}: shapes {a.shape} and {b.shape} are not aligned (b_ndim={b_ndim})")


def per_matrix(fn, arrays, cores):
    """``fn`` applied to the core blocks of ``arrays`` (``cores[i]`` trailing dimensions of array
    ``i``), over their broadcast batch dimensions; ``fn`` returns an array or a tuple of arrays,
    stacked the same way. An empty batch calls ``fn`` once on zeros for the result shapes."""
    shapes = [a.shape[:a.ndim - c] for a, c in zip(arrays, cores)]
    batch = np.broadcast_shapes(*shapes)
    if not batch:
        return fn(*arrays)
    arrays = [np.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, cores)]
    results = [fn(*(a[i] for a in arrays)) for i in np.ndindex(*batch)]
    if not results:
        probe = fn(*(np.zeros(a.shape[a.ndim - c:], a.dtype) for a, c in zip(arrays, cores)))
        many = isinstance(probe, tuple)
        outs = [np.empty(batch + p.shape, p.dtype) for p in (probe if many else (probe,))]
        return tuple(outs) if many else outs[0]
    if isinstance(results[0], tuple):
        return tuple(np.stack(r).reshape(batch + r[0].shape) for r in zip(*results))
    return np.stack(results).reshape(batch + results[0].shape)


_MEMO = threading.local()


def decomposition(key, fn, *arrays):
    """Every result of the decomposition ``fn(*arrays)``, remembered for the last inputs of ``key``
    (op name and parameters other than ``which``) in this thread: the sibling nodes selecting the
    other results of the same input reuse the call. The inputs are compared bit for bit with a
    copy, so a hit returns exactly what a new call would; callers return copies of the results
    (the schedule may overwrite an op's output in place)."""
    memo = getattr(_MEMO, "entries", None)
    if memo is None:
        memo = _MEMO.entries = {}
    arrays = [np.ascontiguousarray(a) for a in arrays]
    hit = memo.get(key)
    if hit is not None and len(hit[0]) == len(arrays) and all(
            p.shape == a.shape and p.dtype == a.dtype and np.array_equal(p.view(np.uint8), a.view(np.uint8))
            for p, a in zip(hit[0], arrays)):
        return hit[1]
    outs = fn(*arrays)
    memo[key] = ([a.copy() for a in arrays], outs)
    return outs


def _nan_like(shape, dtype):
    return np.full(shape, np.nan, dtype)


def _which(opname, which, n):
    if which not in range(n):
        raise ValueError(f"{opname}: which must be in 0..{n - 1}, got {which!r}")


def _bool(opname, what, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{opname}: {what} must be a bool, got {v!r}")
    return bool(v)


def swap_last(x):
    """``x.mT``: the last two axes swapped."""
    order = list(range(x.ndim))
    order[-2], order[-1] = order[-1], order[-2]
    return dimshuffle(x, *order)


def default_b_ndim(b, b_ndim):
    """PyTensor's rule: the core of ``b`` is a matrix when ``b`` has 2 or more dimensions."""
    if b_ndim is None:
        return min(as_tensor_variable(b).ndim, 2)
    if b_ndim not in (1, 2):
        raise ValueError(f"b_ndim must be None, 1 or 2, got {b_ndim!r}")
    return b_ndim


def _check_solve_params(opname, lower, b_ndim):
    _bool(opname, "lower", lower)
    if b_ndim not in (1, 2):
        raise ValueError(f"{opname}: b_ndim must be 1 or 2, got {b_ndim!r}")
