"""Rearranging arrays with formulas over the shape and indexing families: ``flip``,
``matrix_transpose``, ``split``, ``concat_with_broadcast``, and the test ``is_flat``.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.flip(np.arange(3)).eval()
array([2, 1, 0])
"""

from __future__ import annotations

from ..op import as_tensor_variable, normalize_axis
from . import elemwise as E
from .broadcast import alloc
from .dims import _along, _dim, _int_scalar, _one_axis
from .join import concatenate
from .shape import as_axis, dimshuffle, static_entries
from .subtensor import getitem


def matrix_transpose(x):
    """``x`` with its last two axes swapped (``x.mT``).

    >>> from eqtensor import tensor as pt
    >>> pt.matrix_transpose(pt.tensor3("t", shape=(2, 3, 4))).type.shape
    (2, 4, 3)
    """
    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: expected at least 2 dimensions, got {x.type}")
    return dimshuffle(x, *range(x.ndim - 2), x.ndim - 1, x.ndim - 2)


def flip(arr, axis=None):
    """``arr`` reversed along ``axis`` (all axes when None), as ``np.flip`` (a view, by slicing).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.flip(np.arange(6).reshape((2, 3)), axis=1).eval()
    array([[2, 1, 0],
           [5, 4, 3]])
    """
    arr = as_tensor_variable(arr)
    axes = normalize_axis(as_axis(axis), arr.ndim, "flip")
    return getitem(arr, tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(arr.ndim)))


def is_flat(var, ndim=1):
    """Whether ``var`` has ``ndim`` dimensions."""
    return as_tensor_variable(var).ndim == ndim


def concat_with_broadcast(tensor_list, axis=0):
    """Concatenate tensors along ``axis``, broadcasting their other (static length-1) dimensions to
    a common length first.

    >>> from eqtensor import tensor as pt
    >>> a, b = pt.matrix("a", shape=(2, 3)), pt.matrix("b", shape=(1, 1))
    >>> pt.concat_with_broadcast([a, b], axis=1).type.shape
    (2, 4)
    """
    tensors = [as_tensor_variable(t) for t in tensor_list]
    if not tensors:
        raise ValueError("concat_with_broadcast: Cannot concatenate an empty list of tensors")
    nd = tensors[0].ndim
    if any(t.ndim != nd for t in tensors):
        raise TypeError(f"concat_with_broadcast: all tensors need {nd} dimensions, got {[t.ndim for t in tensors]}")
    axis = _one_axis(axis, nd, "concat_with_broadcast")
    common = []
    for d in range(nd):
        if d == axis:
            common.append(None)
            continue
        full = [t for t in tensors if t.type.shape[d] != 1]
        common.append(_dim(full[0], d) if full else 1)
    out = []
    for t in tensors:
        dims = [_dim(t, d) if d == axis else common[d] for d in range(nd)]
        need = any(t.type.shape[d] == 1 and not (isinstance(c, int) and c == 1)
                   for d, c in enumerate(common) if d != axis)
        out.append(alloc(t, *dims) if need else t)
    return concatenate(out, axis=axis)


def split(x, splits_size, n_splits=None, axis=0):
    """``x`` split along ``axis`` into pieces of the given lengths (a list; ``splits_size`` a sequence
    or an integer vector of known length, or give ``n_splits``). The lengths must add up to the
    axis length (not checked at run time).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> [p.eval() for p in pt.split(np.arange(5), [2, 3])]
    [array([0, 1]), array([2, 3, 4])]
    """
    x = as_tensor_variable(x)
    axis = _one_axis(axis, x.ndim, "split")
    if isinstance(splits_size, (list, tuple)):
        sizes = [_int_scalar("split", "each size", s) for s in splits_size]
    else:
        vec = as_tensor_variable(splits_size)
        if vec.ndim != 1:
            raise ValueError(f"split: splits_size must be a vector, got {vec.type}")
        n = vec.type.shape[0] if n_splits is None else int(n_splits)
        if n is None:
            raise ValueError("split: the number of pieces is unknown; give n_splits")
        entries = static_entries(vec) if vec.type.shape[0] is not None else [None] * n
        sizes = [e if e is not None else vec[k] for k, e in enumerate(entries)]
    if n_splits is not None and len(sizes) != int(n_splits):
        raise ValueError(f"split: {len(sizes)} sizes for n_splits={n_splits}")
    total = _dim(x, axis)
    if all(isinstance(s, int) for s in sizes) and isinstance(total, int) and sum(sizes) != total:
        raise ValueError(f"split: the sizes {sizes} do not add up to the axis length {total}")
    out, start = [], 0
    for s in sizes:
        stop = start + s if isinstance(start, int) and isinstance(s, int) else E.add(start, s)
        out.append(getitem(x, _along(axis, x.ndim, slice(start, stop))))
        start = stop
    return out


__all__ = ["concat_with_broadcast", "flip", "is_flat", "matrix_transpose", "split"]
