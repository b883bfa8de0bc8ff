"""Sorting: the ops ``sort`` and ``argsort`` (NumPy's kinds; a VJP rule and a C fallback each), and
the formulas over them and over gathers: ``take_along_axis``, ``permute_row_elements``,
``inverse_permutation``; the ops over sorted values ``searchsorted`` and ``unique`` (integer or
data-dependent outputs: not differentiable).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.argsort(np.array([3.0, 1.0, 2.0])).eval()
array([1, 2, 0])
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES
from ..graph import TensorType, Variable
from ..op import OPS, Op, as_tensor_variable, constant_value, declare, dtype_by_numpy
from . import elemwise as E
from .creation import arange
from .dims import _dim, _one_axis
from .shape import dimshuffle, flatten, shape_padleft
from .subtensor import getitem


SORT_KINDS = ("quicksort", "mergesort", "heapsort", "stable")


def _sort_kind(kind, order, stable):
    if order is not None:
        raise ValueError("sort: the order argument (structured arrays) does not apply to tensors")
    if stable is not None and kind is not None:
        raise ValueError("sort: give kind or stable, not both")
    kind = "stable" if stable else (kind or "quicksort")
    if kind not in SORT_KINDS:
        raise ValueError(f"sort: kind must be one of {SORT_KINDS}, got {kind!r}")
    return kind


def _sort_infer(op, inputs):
    (x,) = inputs
    if not 0 <= op.params["axis"] < x.ndim:
        raise ValueError(f"{op.name}: axis {op.params['axis']} is out of range for {x.type}")
    dtype = "int64" if op.name == "argsort" else dtype_by_numpy(op, [x.dtype], [x.ndim])
    return TensorType(dtype, x.type.shape)


declare("sort", "other", 1, _sort_infer, lambda x, axis, kind: np.sort(x, axis=axis, kind=kind),
        params=("axis", "kind"), cost=6, numpy="np.sort({0}, axis={axis}, kind={kind!r})",
        doc="sorted copy along an axis (np.sort; nan last)")
declare("argsort", "other", 1, _sort_infer,
        lambda x, axis, kind: np.argsort(x, axis=axis, kind=kind).astype("int64", copy=False),
        params=("axis", "kind"), cost=6, differentiable=False,
        doc="indices that sort along an axis (np.argsort; integer output, no derivative)")


def _sorting(opname, a, axis, kind, order, stable):
    kind = _sort_kind(kind, order, stable)
    a = as_tensor_variable(a)
    if axis is None:
        a, axis = flatten(a), 0
    if a.ndim == 0:
        raise ValueError(f"{opname}: a 0-d tensor has no axis to sort along (use axis=None)")
    if isinstance(axis, Variable) and constant_value(axis) is None:
        return _along_symbolic_axis(opname, a, axis, kind)
    return Op(OPS[opname], {"axis": _one_axis(axis, a.ndim, opname), "kind": kind})(a)


def _along_symbolic_axis(opname, a, axis, kind):
    """``a`` sorted along ``axis``, a 0-d integer tensor known only at run time: one sort per axis
    of ``a``, chosen by nested ``ifelse`` (only the chosen one runs), the axis checked in range at
    run time. The ops ``check`` and ``ifelse`` belong to later families: found by name."""
    if axis.ndim != 0 or axis.dtype not in INT_DTYPES:
        raise ValueError(f"Sort axis must have an integer dtype, got {axis.dtype} ({opname}: a 0-d integer axis; "
                         f"got {axis.type})")
    n = a.ndim
    in_range = E.and_(E.ge(axis, -n), E.lt(axis, n))
    axis = Op(OPS["check"], {"message": f"{opname}: axis is out of bounds for a tensor of {n} dimensions"})(
        axis, in_range)
    axis = E.mod(axis, n)
    out = Op(OPS[opname], {"axis": n - 1, "kind": kind})(a)
    for d in reversed(range(n - 1)):
        out = Op(OPS["ifelse"])(E.eq(axis, d), Op(OPS[opname], {"axis": d, "kind": kind})(a), out)
    return out


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """A sorted copy of ``a`` along ``axis`` (of the flattened ``a`` when None), as ``np.sort``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.sort(np.array([[3, 1, 2], [0, 5, 4]])).eval()
    array([[1, 2, 3],
           [0, 4, 5]])
    """
    return _sorting("sort", a, axis, kind, order, stable)


def argsort(a, axis=-1, kind=None, order=None, stable=None):
    """The int64 indices that sort ``a`` along ``axis`` (``np.argsort``; not differentiable).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.argsort(np.array([3.0, 1.0, 2.0])).eval()
    array([1, 2, 0])
    """
    return _sorting("argsort", a, axis, kind, order, stable)


def take_along_axis(arr, indices, axis=0):
    """Values of ``arr`` at ``indices`` along ``axis``, matching the other axes (``np.take_along_axis``):
    what ``argsort`` returns picks the sorted values. Built by advanced indexing.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> a = np.array([[10, 30, 20], [60, 40, 50]])
    >>> pt.take_along_axis(a, np.argsort(a, axis=1), axis=1).eval()
    array([[10, 20, 30],
           [40, 50, 60]])
    """
    arr = as_tensor_variable(arr)
    indices = as_tensor_variable(indices)
    if indices.dtype not in INT_DTYPES:
        raise IndexError(f"take_along_axis: indices must be integers, got dtype {indices.dtype}")
    if axis is None:
        arr, axis = flatten(arr), 0
    else:
        axis = _one_axis(axis, arr.ndim, "take_along_axis")
    if arr.ndim != indices.ndim:
        raise ValueError(f"take_along_axis: indices ({indices.type}) and arr ({arr.type}) must have the same number "
                         f"of dimensions")
    index = []
    for d in range(arr.ndim):
        if d == axis:
            index.append(indices)
        else:
            index.append(dimshuffle(arange(_dim(arr, d)), *(["x"] * d + [0] + ["x"] * (arr.ndim - d - 1))))
    return getitem(arr, tuple(index))


def permute_row_elements(x, y, inverse=False):
    """Each row (last axis) of ``x`` permuted by the matching row of the integer tensor ``y``
    (``out[..., j] = x[..., y[..., j]]``), the leading axes broadcasting; with ``inverse=True`` the
    inverse permutation (``out[..., y[..., j]] = x[..., j]``). Built from ``take_along_axis``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.permute_row_elements(np.array([10, 20, 30]), np.array([[2, 0, 1], [1, 2, 0]])).eval()
    array([[30, 10, 20],
           [20, 30, 10]])
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if y.dtype not in INT_DTYPES:
        raise TypeError(f"permute_row_elements: the permutation must be integers, got dtype {y.dtype}")
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("permute_row_elements: x and y need at least one dimension")
    nd = max(x.ndim, y.ndim)
    x = x if x.ndim == nd else shape_padleft(x, nd - x.ndim)
    y = y if y.ndim == nd else shape_padleft(y, nd - y.ndim)
    if inverse:
        y = argsort(y, axis=-1)
    return take_along_axis(x, y, axis=-1)


def inverse_permutation(perm):
    """The inverse of each permutation (last axis) of the integer tensor ``perm``, in its dtype.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.inverse_permutation(np.array([2, 0, 1], "int32")).eval()
    array([1, 2, 0], dtype=int32)
    """
    perm = as_tensor_variable(perm)
    if perm.dtype not in INT_DTYPES:
        raise TypeError(f"inverse_permutation: expected integers, got dtype {perm.dtype}")
    return E.cast(argsort(perm, axis=-1), perm.dtype)



def _searchsorted_infer(op, inputs):
    x, v = inputs
    if x.ndim != 1:
        raise ValueError(f"searchsorted: x must be a vector (1-D), got {x.type}")
    dtype_by_numpy(op, [x.dtype, v.dtype])  # comparable dtypes (TypeError otherwise)
    return TensorType("int64", v.type.shape)


declare("searchsorted", "other", 2, _searchsorted_infer,
        lambda x, v, side: np.asarray(np.searchsorted(x, v, side=side), dtype="int64"), params=("side",), cost=8,
        differentiable=False, doc="indices where v's elements would be inserted into the sorted vector x "
                                  "(np.searchsorted; integer output, no derivative)")


def searchsorted(x, v, side="left", sorter=None):
    """For each element of ``v``, the int64 index where it would be inserted into the sorted vector
    ``x`` to keep it sorted (``side='left'``: before equal values, ``'right'``: after), shaped like
    ``v``; with ``sorter`` (indices that sort ``x``), ``x`` need not be sorted. As ``np.searchsorted``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.searchsorted(np.array([1.0, 2.0, 2.0, 5.0]), np.array([2.0, 6.0]), side="right").eval()
    array([3, 4])
    """
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    x, v = as_tensor_variable(x), as_tensor_variable(v)
    if sorter is not None:
        sorter = as_tensor_variable(sorter)
        if sorter.dtype not in INT_DTYPES or sorter.ndim != 1:
            raise TypeError(f"searchsorted: sorter must be an integer vector, got {sorter.type}")
        x = getitem(x, sorter)  # the indices into the sorted order are those of x[sorter]
    return Op(OPS["searchsorted"], {"side": side})(x, v)


def _unique_infer(op, inputs):
    """``which``: the output of ``np.unique``, 0 values, 1 index, 2 inverse, 3 counts."""
    (x,) = inputs
    which, axis = op.params["which"], op.params["axis"]
    if which == 0:
        shape = (None,) if axis is None else tuple(None if d == axis else s for d, s in enumerate(x.type.shape))
        return TensorType(x.dtype, shape)
    if which == 2:  # one index per element (axis None, flattened as PyTensor) or per slice along axis
        n = (None if None in x.type.shape else int(np.prod(x.type.shape))) if axis is None else x.type.shape[axis]
        return TensorType("int64", (n,))
    return TensorType("int64", (None,))


def _unique_perform(x, which, axis):
    res = np.unique(x, axis=axis, return_index=which == 1, return_inverse=which == 2, return_counts=which == 3)
    if which == 0:
        return res
    return np.asarray(res[1], dtype="int64").reshape(-1)


declare("unique", "other", 1, _unique_infer, _unique_perform, params=("which", "axis"), cost=8,
        differentiable=False, doc="the sorted unique values of x, or their first indices, the inverse indices or "
                                  "the counts (np.unique; data-dependent length)")


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None):
    """The sorted unique elements of ``ar`` (of its slices along ``axis``), as ``np.unique``; with
    ``return_index``, ``return_inverse``, ``return_counts`` a list ``[values, index, inverse,
    counts]`` of those asked for (int64). With ``axis=None`` the inverse indexes the flattened
    ``ar`` (a vector, as PyTensor's; NumPy 2 gives it ``ar``'s shape).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> values, counts = pt.unique(np.array([3, 1, 3, 2]), return_counts=True)
    >>> values.eval(), counts.eval()
    (array([1, 2, 3]), array([1, 1, 2]))
    """
    ar = as_tensor_variable(ar)
    if axis is not None:
        axis = _one_axis(axis, ar.ndim, "unique")
    asked = [True, return_index, return_inverse, return_counts]
    outs = [Op(OPS["unique"], {"which": k, "axis": axis})(ar) for k, want in enumerate(asked) if want]
    return outs[0] if len(outs) == 1 else outs

__all__ = ["argsort", "inverse_permutation", "permute_row_elements", "searchsorted", "sort",
           "take_along_axis", "unique"]
