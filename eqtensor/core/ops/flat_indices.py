"""Flat indices and multi-indices (``pytensor.tensor.extra_ops``): :func:`unravel_index` and
:func:`ravel_multi_index`, formulas of integer arithmetic over the array's lengths (``dims``).

Out-of-range entries raise as NumPy's do (``IndexError`` at run time; with ``mode="wrap"`` or
``"clip"`` ``ravel_multi_index`` defines them instead): each checked entry goes through an index
into ``arange(length)``, which is the entry itself when it is in range.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> i = pt.lvector("i")
>>> [r.eval({i: np.array([5, 7])}) for r in pt.unravel_index(i, (3, 4))]
[array([1, 1]), array([1, 3])]
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES
from ..op import as_tensor_variable
from . import elemwise as E
from .creation import arange
from .dims import _int_scalar
from .shape import static_entries
from .subtensor import getitem


def _lengths(opname, dims, n=None) -> list:
    """The entries of ``dims`` (a sequence of integer scalars or an integer vector) as ints or int64
    scalars; ``n``: the number of entries expected (needed when a vector's length is unknown)."""
    if isinstance(dims, (tuple, list)):
        out = [_int_scalar(opname, "each length of dims", d) for d in dims]
    else:
        vec = as_tensor_variable(dims)
        if vec.ndim != 1 or vec.dtype not in INT_DTYPES:
            raise TypeError(f"{opname}: dims must be a sequence of integers or an integer vector, got {vec.type}")
        k = vec.type.shape[0] if vec.type.shape[0] is not None else n
        if k is None:
            raise ValueError(f"{opname}: the length of dims ({vec}, type {vec.type}) must be known when the graph "
                             f"is built; give it a static shape or pass a tuple")
        entries = static_entries(vec) if vec.type.shape[0] is not None else [None] * k
        out = [e if e is not None else E.cast(getitem(vec, j), "int64") for j, e in enumerate(entries)]
    if n is not None and len(out) != n:
        raise ValueError(f"{opname}: {n} indices for {len(out)} lengths in dims")
    return [E.cast(d, "int64") if not isinstance(d, int) else d for d in out]


def _strides(dims, order) -> list:
    """Elements between consecutive entries along each axis (C: last axis fastest; F: first)."""
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    seq = dims if order == "F" else dims[::-1]
    out, s = [], 1
    for d in seq:
        out.append(s)
        s = d * s if isinstance(d, int) and isinstance(s, int) else E.mul(d, s)
    return out if order == "F" else out[::-1]


def _checked(i, d):
    """``i``, with an ``IndexError`` at run time where it is not in ``[0, d)``."""
    return getitem(arange(d, dtype="int64"), E.switch(E.lt(i, 0), d, i))


def unravel_index(indices, dims, order="C"):
    """The multi-indices of the flat ``indices`` into an array of lengths ``dims``: a tuple of
    ``len(dims)`` integer tensors of ``indices``' shape (``np.unravel_index``). Out-of-range
    indices raise ``IndexError`` at run time.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> tuple(int(r.eval()) for r in pt.unravel_index(22, (3, 4, 5), order="F"))  # 22 = 1 + 3 * (3 + 4 * 1)
    (1, 3, 1)
    """
    indices = as_tensor_variable(indices)
    if indices.dtype not in INT_DTYPES:
        raise TypeError(f"unravel_index: indices must be integers, got {indices.type}")
    dims = _lengths("unravel_index", dims)
    strides = _strides(dims, order)
    outer = 0 if order == "C" else len(dims) - 1  # the axis whose index is not reduced modulo its length
    out = []
    for k, (d, s) in enumerate(zip(dims, strides)):
        q = E.floor_div(indices, np.int64(s)) if isinstance(s, int) else E.floor_div(indices, s)
        out.append(_checked(q, d) if k == outer else E.mod(q, d))
    return tuple(E.cast(o, "int64") for o in out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """The flat indices of the multi-indices ``multi_index`` (a sequence of integer tensors, one
    per axis, broadcast together) into an array of lengths ``dims`` (``np.ravel_multi_index``).
    ``mode`` (or one per axis): ``"raise"`` (an out-of-range entry raises ``IndexError`` at run
    time), ``"wrap"`` (taken modulo the length), ``"clip"`` (clipped to ``[0, length - 1]``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.ravel_multi_index(([1, 2], [3, -1]), (3, 4), mode="wrap").eval()
    array([ 7, 11])
    """
    if not isinstance(multi_index, (tuple, list)):
        raise TypeError(f"ravel_multi_index: multi_index must be a sequence of integer tensors, got {multi_index!r}")
    idx = [as_tensor_variable(i) for i in multi_index]
    for i in idx:
        if i.dtype not in INT_DTYPES:
            raise TypeError(f"ravel_multi_index: indices must be integers, got {i} of type {i.type}")
    dims = _lengths("ravel_multi_index", dims, len(idx))
    modes = [mode] * len(idx) if isinstance(mode, str) else list(mode)
    if len(modes) != len(idx) or any(m not in ("raise", "wrap", "clip") for m in modes):
        raise ValueError(f"ravel_multi_index: mode must be 'raise', 'wrap' or 'clip', or one of them per axis; "
                         f"got {mode!r}")
    total = None
    for i, d, s, m in zip(idx, dims, _strides(dims, order), modes):
        i = E.cast(i, "int64")
        i = _checked(i, d) if m == "raise" else E.mod(i, d) if m == "wrap" else E.clip(i, 0, E.sub(d, 1))
        term = E.mul(i, np.int64(s)) if isinstance(s, int) else E.mul(i, s)
        total = term if total is None else E.add(total, term)
    return total


__all__ = ["ravel_multi_index", "unravel_index"]
