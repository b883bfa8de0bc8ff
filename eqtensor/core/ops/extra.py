"""PyTensor's ``extra_ops``, ``sort`` and ``einsum``, and the NumPy-like helpers of
``pytensor.tensor`` that are formulas over the other families.

Ops (each with a NumPy implementation, a VJP rule in :mod:`eqtensor.rules.gradients` and a C
fallback): ``cumsum``, ``cumprod`` (dtype as NumPy: small integers accumulate in int64), ``sort``,
``argsort`` and ``repeat`` with a vector of repeats. Everything else here is built from existing
ops and needs nothing more: ``tile``, ``repeat`` by a scalar, ``diff``, ``median``, ``einsum``,
``linspace``, ``take_along_axis``, ``nonzero``…

Data-dependent lengths (``nonzero``, ``flatnonzero``, ``nonzero_values``, ``compress``) have
static length None; everything else keeps the static lengths its inputs give.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.tile(pt.matrix("m", shape=(2, 3)), (2, 1)).type.shape
(4, 3)
>>> pt.median(np.array([3.0, 1.0, 2.0, 10.0])).eval()
array(2.5)
>>> pt.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((3, 4))).type.shape
(2, 4)
"""

from __future__ import annotations

import math

import numpy as np

from ..config import config
from ..dtypes import INT_DTYPES, as_dtype, promote
from ..graph import Constant, TensorType
from ..op import (
    OPS, Op, _is_weak, as_tensor_variable, broadcast_static_shapes, constant_value, declare, dtype_by_numpy,
    normalize_axis,
)
from . import elemwise as E
from . import reduction as R
from .creation import arange, tri, zeros, zeros_like
from .linalg import diagonal, dot, matmul
from .shape import (
    alloc, as_axis, axis_tuple, concatenate, dimshuffle, expand_dims, flatten, get_vector_length, moveaxis, reshape,
    shape_i, shape_padleft, shape_padright, stack, static_entries, transpose,
)
from .subtensor import getitem, inc_subtensor, set_subtensor, take


# ----------------------------------------------------------------------------- helpers
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


# ----------------------------------------------------------------------------- casts and conversions
def cast(x, dtype):
    """Convert ``x`` to ``dtype`` (NumPy's ``astype``; ``"floatX"`` is ``config.floatX``). A complex
    tensor is not cast to a real dtype (ambiguous: take ``abs`` or a part first), as PyTensor.

    >>> from eqtensor import tensor as pt
    >>> pt.cast(pt.ivector("i"), "floatX").dtype
    'float64'
    >>> pt.cast(pt.zvector("z"), "int64")
    Traceback (most recent call last):
    ...
    TypeError: cast: casting complex128 to int64 is ambiguous; take abs() or a part of the number first
    """
    x = as_tensor_variable(x)
    dtype = as_dtype(config.floatX if isinstance(dtype, str) and dtype == "floatX" else dtype)
    if x.dtype.startswith("complex") and not dtype.startswith("complex"):
        raise TypeError(f"cast: casting {x.dtype} to {dtype} is ambiguous; take abs() or a part of the number first")
    return E.cast(x, dtype)


def scalar_from_tensor(t):
    """PyTensor's conversion of a 0-d tensor to a scalar: eqtensor has no separate scalar type, so
    this checks that ``t`` is 0-d and returns it.

    >>> from eqtensor import tensor as pt
    >>> pt.scalar_from_tensor(pt.dscalar("s")).type
    TensorType(float64, shape=())
    """
    t = as_tensor_variable(t)
    if t.ndim != 0:
        raise TypeError(f"scalar_from_tensor: the input must be a 0-d tensor, got {t.type}")
    return t


tensor_from_scalar = scalar_from_tensor


def where(cond, ift=None, iff=None):
    """``switch(cond, ift, iff)``; with the condition alone, ``nonzero(cond)`` (NumPy's ``where``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> [v.eval() for v in pt.where(np.array([[0, 1], [1, 0]]))]
    [array([0, 1]), array([1, 0])]
    """
    if ift is not None and iff is not None:
        return E.switch(cond, ift, iff)
    if ift is None and iff is None:
        return nonzero(cond)
    raise ValueError("where: give both ift and iff, or neither")


def fill(a, b):
    """``b`` broadcast against ``a`` (the shape both broadcast to, ``b``'s dtype; a Python scalar
    ``b`` takes ``a``'s dtype as in ``a + b``): PyTensor's ``fill``/``second``, ``a.fill(b)``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.fill(np.zeros((2, 2), "float32"), 7).eval()
    array([[7., 7.],
           [7., 7.]], dtype=float32)
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if _is_weak(b):
        b = Constant(np.asarray(b.data.item()).astype(promote([a.dtype, type(b.data.item())])))
    nd = max(a.ndim, b.ndim)
    ap = a if a.ndim == nd else shape_padleft(a, nd - a.ndim)
    bp = b if b.ndim == nd else shape_padleft(b, nd - b.ndim)
    static = broadcast_static_shapes("fill", [ap, bp])
    dims = [s if s is not None else shape_i(ap if ap.type.shape[d] != 1 else bp, d) for d, s in enumerate(static)]
    if static == b.type.shape:
        return b
    return alloc(b, *dims)


def broadcast_arrays(*args):
    """The inputs broadcast against each other (static broadcasting: only static length-1
    dimensions broadcast), as a list.

    >>> from eqtensor import tensor as pt
    >>> [v.type.shape for v in pt.broadcast_arrays(pt.matrix("a", shape=(1, 3)), pt.vector("b", shape=(3,)))]
    [(1, 3), (1, 3)]
    """
    args = [as_tensor_variable(a) for a in args]
    out = []
    for i, a in enumerate(args):
        for j, other in enumerate(args):
            if i != j:
                a = fill(other, a)
        out.append(a)
    return out


# ----------------------------------------------------------------------------- cumulative ops
def _cum_infer(op, inputs):
    (x,) = inputs
    if not 0 <= op.params["axis"] < x.ndim:
        raise ValueError(f"{op.name}: axis {op.params['axis']} is out of range for {x.type}")
    return TensorType(dtype_by_numpy(op, [x.dtype], [x.ndim]), x.type.shape)


declare("cumsum", "other", 1, _cum_infer, lambda x, axis: np.cumsum(x, axis=axis), params=("axis",), cost=1,
        numpy="np.cumsum({0}, axis={axis})", doc="cumulative sum along an axis (np.cumsum)")
declare("cumprod", "other", 1, _cum_infer, lambda x, axis: np.cumprod(x, axis=axis), params=("axis",), cost=1,
        numpy="np.cumprod({0}, axis={axis})", doc="cumulative product along an axis (np.cumprod)")


def cumsum(x, axis=None):
    """Cumulative sum along ``axis`` (of the flattened ``x`` when None), as ``np.cumsum``: integer
    and boolean inputs accumulate in int64 (PyTensor keeps the input's dtype).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.cumsum(np.array([[1, 2], [3, 4]]), axis=0).eval()
    array([[1, 2],
           [4, 6]])
    """
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    return Op(OPS["cumsum"], {"axis": _one_axis(axis, x.ndim, "cumsum")})(x)


def cumprod(x, axis=None):
    """Cumulative product along ``axis`` (of the flattened ``x`` when None), as ``np.cumprod``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.cumprod(np.array([1.0, 2.0, 3.0])).eval()
    array([1., 2., 6.])
    """
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    return Op(OPS["cumprod"], {"axis": _one_axis(axis, x.ndim, "cumprod")})(x)


def diff(x, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis`` (``np.diff``), by slicing.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.diff(np.array([1, 4, 9, 16]), n=2).eval()
    array([2, 2])
    """
    x = as_tensor_variable(x)
    axis = _one_axis(axis, x.ndim, "diff")
    for _ in range(int(n)):
        x = getitem(x, _along(axis, x.ndim, slice(1, None))) - getitem(x, _along(axis, x.ndim, slice(None, -1)))
    return x


# ----------------------------------------------------------------------------- sorting
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
    return Op(OPS[opname], {"axis": _one_axis(axis, a.ndim, opname), "kind": kind})(a)


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


def median(x, axis=None):
    """The median along ``axis`` (all axes when None; an int or a tuple), from a sort: the mean of
    the two middle values for even lengths; nan where a value is nan (NumPy's rule: PyTensor's
    median skips nan, which sorts last). Integer inputs give float64.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.median(np.array([[1, 5, 2], [8, 7, 9]]), axis=1).eval()
    array([2., 8.])
    """
    x = as_tensor_variable(x)
    axes = list(range(x.ndim)) if axis is None else list(axis_tuple(axis, x.ndim, "median"))
    rest = [d for d in range(x.ndim) if d not in axes]
    xr = transpose(x, rest + axes)
    if len(axes) != 1:
        xr = reshape(xr, tuple(_dim(x, d) for d in rest) + (-1,))
    n = _dim(xr, -1)
    out_dtype = x.dtype if x.dtype.startswith(("float", "complex")) else "float64"
    xs = E.cast(sort(xr, axis=-1), out_dtype)
    if isinstance(n, int):
        if n == 0:
            raise ValueError("median: the reduced axes have length 0")
        k = n // 2
        upper = xs[..., k]
        med = upper if n % 2 else E.true_div(E.add(upper, xs[..., k - 1]), np.asarray(2, out_dtype))
    else:
        k = E.floor_div(n, 2)
        upper = xs[..., k]
        even = E.true_div(E.add(upper, xs[..., E.sub(k, 1)]), np.asarray(2, out_dtype))
        med = E.switch(E.eq(E.mod(n, 2), 0), even, upper)
    if x.dtype.startswith("float"):  # nan sorts last: the median of a row holding nan is nan
        med = E.switch(E.isnan(xs[..., -1]), np.asarray(np.nan, out_dtype), med)
    return med


# ----------------------------------------------------------------------------- repeat / tile
def _repeat_infer(op, inputs):
    x, reps = inputs
    axis = op.params["axis"]
    if not 0 <= axis < x.ndim:
        raise ValueError(f"repeat: axis {axis} is out of range for {x.type}")
    if reps.ndim != 1 or reps.dtype not in INT_DTYPES:
        raise TypeError(f"repeat: repeats must be an integer vector, got {reps.type}")
    n, m = x.type.shape[axis], reps.type.shape[0]
    if n is not None and m is not None and m not in (1, n):
        raise ValueError(f"repeat: {m} repeats for an axis of length {n}")
    length = None
    values = constant_value(reps)
    if values is not None:
        if (values < 0).any():
            raise ValueError("repeat: negative repeats")
        if m == 1:
            length = None if n is None else n * int(values[0])
        else:
            length = int(values.sum())
    shape = x.type.shape[:axis] + (length,) + x.type.shape[axis + 1:]
    return TensorType(x.dtype, shape)


declare("repeat", "other", 2, _repeat_infer, lambda x, reps, axis: np.repeat(x, reps, axis=axis),
        params=("axis",), cost=1, doc="each element along an axis repeated by the matching entry of an integer vector")


def repeat(a, repeats, axis=None):
    """Repeat the elements of ``a`` along ``axis`` (of the flattened ``a`` when None), as
    ``np.repeat``: ``repeats`` is an integer (a broadcast and a reshape) or one count per element
    (the op ``repeat``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.repeat(np.arange(4).reshape((2, 2)), [2, 3], axis=0).eval()
    array([[0, 1],
           [0, 1],
           [2, 3],
           [2, 3],
           [2, 3]])
    >>> pt.repeat(pt.matrix("m", shape=(2, 3)), 2, axis=1).type.shape
    (2, 6)
    """
    a = as_tensor_variable(a)
    if axis is None:
        a, axis = flatten(a), 0
    else:
        axis = _one_axis(axis, a.ndim, "repeat")
    reps = as_tensor_variable(repeats)
    if reps.dtype not in INT_DTYPES:
        raise TypeError(f"repeat: repeats must be integers, got dtype {reps.dtype}")
    if reps.ndim > 1:
        raise ValueError(f"repeat: repeats must be a scalar or a vector, got {reps.type}")
    if reps.ndim == 1 and reps.type.shape[0] == 1:
        reps = reps[0]
    if reps.ndim == 1:
        return Op(OPS["repeat"], {"axis": axis})(a, E.cast(reps, "int64"))
    r = _int_scalar("repeat", "repeats", reps)
    if isinstance(r, int) and r < 0:
        raise ValueError("repeat: negative repeats")
    r = r if isinstance(r, int) else E.cast(r, "int64")
    dims = [_dim(a, d) for d in range(a.ndim)]
    spread = alloc(expand_dims(a, axis + 1), *dims[:axis + 1], r, *dims[axis + 1:])
    merged = _prod([dims[axis], r]) if isinstance(r, int) else E.mul(dims[axis], r)
    return reshape(spread, tuple(dims[:axis]) + (merged,) + tuple(dims[axis + 1:]))


def tile(A, reps):
    """``A`` repeated ``reps`` times along each axis (``np.tile``; ``reps`` an int, a sequence of
    ints or integer scalars, or an integer vector of known length). Built from a broadcast and a
    reshape.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.tile(np.array([[1, 2], [3, 4]]), 2).eval()
    array([[1, 2, 1, 2],
           [3, 4, 3, 4]])
    """
    A = as_tensor_variable(A)
    if not isinstance(reps, (list, tuple)):
        rv = as_tensor_variable(reps)
        if rv.ndim == 0:
            reps = (rv,)
        elif rv.ndim == 1:
            try:
                get_vector_length(rv)
            except ValueError as e:
                raise ValueError("tile: the length of reps is unknown; use specify_shape to give it") from e
            entries = static_entries(rv)
            reps = tuple(e if e is not None else rv[k] for k, e in enumerate(entries))
        else:
            raise ValueError(f"tile: reps must be a scalar or a vector, got {rv.type}")
    reps = [_int_scalar("tile", "each entry of reps", r) for r in reps]
    nd = max(len(reps), A.ndim)
    reps = [1] * (nd - len(reps)) + reps
    if A.ndim < nd:
        A = shape_padleft(A, nd - A.ndim)
    reps = [r if isinstance(r, int) else E.cast(r, "int64") for r in reps]
    if all(isinstance(r, int) and r == 1 for r in reps):
        return A
    dims = [_dim(A, d) for d in range(nd)]
    spread = alloc(expand_dims(A, tuple(range(0, 2 * nd, 2))), *[v for pair in zip(reps, dims) for v in pair])
    return reshape(spread, tuple(_prod([r, n]) if isinstance(r, int) and isinstance(n, int) else E.mul(r, n)
                                 for r, n in zip(reps, dims)))


# ----------------------------------------------------------------------------- permutations
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


# ----------------------------------------------------------------------------- nonzero
def _truth(a):
    return a if a.dtype == "bool" else E.neq(a, 0)


def flatnonzero(a):
    """Indices (int64) of the nonzero elements of the flattened ``a`` (``np.flatnonzero``; the
    length is data-dependent, so its static length is None).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.flatnonzero(np.array([[0, 3], [4, 0]])).eval()
    array([1, 2])
    """
    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError("flatnonzero: a 0-d tensor is not supported (as PyTensor)")
    mask = flatten(_truth(a))
    return getitem(arange(_prod([_dim(a, d) for d in range(a.ndim)])), (mask,))


def nonzero(a, return_matrix=False):
    """Per-axis int64 indices of the nonzero elements of ``a`` (a tuple, as ``np.nonzero``), or a
    matrix of them (one row per axis) with ``return_matrix=True``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.nonzero(np.array([[0, 3], [4, 0]]), return_matrix=True).eval()
    array([[0, 1],
           [1, 0]])
    """
    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError("nonzero: a 0-d tensor is not supported (as PyTensor)")
    flat = flatnonzero(a)
    dims = [_dim(a, d) for d in range(a.ndim)]
    res = []
    for d in range(a.ndim):
        stride = _prod(dims[d + 1:])
        idx = flat if (isinstance(stride, int) and stride == 1) else E.floor_div(flat, stride)
        res.append(idx if d == 0 else E.mod(idx, dims[d]))
    if return_matrix:
        return stack(res, 0)
    return tuple(res)


def nonzero_values(a):
    """The nonzero elements of ``a``, flattened in C order (data-dependent length).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.nonzero_values(np.array([[0.0, 3.0], [4.0, 0.0]])).eval()
    array([3., 4.])
    """
    a = as_tensor_variable(a)
    return getitem(flatten(a), (flatten(_truth(a)),))


def compress(condition, x, axis=None):
    """The slices of ``x`` along ``axis`` (of the flattened ``x`` when None) where ``condition`` (a
    vector) is nonzero, as ``np.compress``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.compress(np.array([1, 0, 1]), np.arange(6).reshape((3, 2)), axis=0).eval()
    array([[0, 1],
           [4, 5]])
    """
    return take(as_tensor_variable(x), flatnonzero(condition), axis=axis)


# ----------------------------------------------------------------------------- reductions and tests
def ptp(a, axis=None):
    """Peak to peak: ``max - min`` along ``axis`` (``np.ptp``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.ptp(np.array([[1, 9], [4, 2]]), axis=0).eval()
    array([3, 7])
    """
    a = as_tensor_variable(a)
    axis = as_axis(axis)
    return E.sub(R.max(a, axis), R.min(a, axis))


def isposinf(x):
    """``x == +inf`` elementwise.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.isposinf(np.array([np.inf, -np.inf, 1.0])).eval()
    array([ True, False, False])
    """
    return E.eq(x, np.inf)


def isneginf(x):
    """``x == -inf`` elementwise.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.isneginf(np.array([np.inf, -np.inf, 1.0])).eval()
    array([False,  True, False])
    """
    return E.eq(x, -np.inf)


def isfinite(x):
    """Neither nan nor infinite, elementwise (``~(isnan(x) | isinf(x))``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.isfinite(np.array([np.nan, np.inf, 1.0])).eval()
    array([False, False,  True])
    """
    return E.invert(E.or_(E.isnan(x), E.isinf(x)))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with nan replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (the largest
    finite values of the dtype by default), as ``np.nan_to_num``; integer tensors are returned as
    they are.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.nan_to_num(np.array([np.nan, -np.inf, 2.0], "float32"), posinf=9.0).eval()
    array([ 0.0000000e+00, -3.4028235e+38,  2.0000000e+00], dtype=float32)
    """
    x = as_tensor_variable(x)
    if not x.dtype.startswith(("float", "complex")):
        return x
    if x.dtype.startswith("complex"):
        raise NotImplementedError("nan_to_num: complex tensors are not supported yet (no real/imag ops)")
    info = np.finfo(x.dtype)
    value = {k: np.asarray(info.max if v is None and k == "posinf" else info.min if v is None and k == "neginf"
                           else v).astype(x.dtype) for k, v in (("nan", nan), ("posinf", posinf), ("neginf", neginf))}
    x = E.switch(E.isnan(x), value["nan"], x)
    x = E.switch(isposinf(x), value["posinf"], x)
    return E.switch(isneginf(x), value["neginf"], x)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``m`` (columns with ``rowvar=False``),
    and of ``y`` stacked below, as ``np.cov``: normalized by ``N - 1`` (``N`` with ``bias=True``, or
    ``N - ddof``); computed in at least float64 (NumPy's rule; PyTensor keeps float32).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.cov(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).eval()
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights and aweights are not supported (as PyTensor)")

    def as_rows(v):
        v = as_tensor_variable(v)
        if v.ndim > 2:
            raise ValueError(f"cov: expected a vector or a matrix, got {v.type}")
        v = shape_padleft(v, 2 - v.ndim) if v.ndim < 2 else v
        if not rowvar and v.type.shape[0] != 1:
            v = transpose(v)
        return E.cast(v, promote([v.dtype, "float64"]))

    m = as_rows(m)
    if y is not None:
        y = as_rows(y)
        dt = promote([m.dtype, y.dtype])
        m = concatenate([E.cast(m, dt), E.cast(y, dt)], axis=0)
    ddof = (0 if bias else 1) if ddof is None else int(ddof)
    n = _dim(m, 1)
    fact = np.asarray(n - ddof, m.dtype) if isinstance(n, int) else E.cast(E.sub(n, ddof), m.dtype)
    centered = E.sub(m, R.mean(m, axis=1, keepdims=True))
    c = E.true_div(dot(centered, transpose(centered)), fact)
    return dimshuffle(c, *[d for d in range(2) if c.type.shape[d] != 1])


# ----------------------------------------------------------------------------- products
def vecdot(x1, x2, dtype=None):
    """The dot product of ``x1`` and ``x2`` along their last axis, broadcast over the others
    (``np.vecdot`` for real inputs; complex ``x1`` is not conjugated).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.vecdot(np.ones((2, 3)), np.arange(3.0)).eval()
    array([3., 3.])
    """
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("vecdot: the inputs need at least one dimension")
    out = matmul(expand_dims(x1, -2), expand_dims(x2, -1))
    out = dimshuffle(out, *range(out.ndim - 2))
    return out if dtype is None else E.cast(out, as_dtype(dtype))


def dense_dot(a, b):
    """``np.dot(a, b)``: a product by a scalar, the inner product of vectors, the matrix product,
    the sum over a's last and b's second-to-last axis for more dimensions.

    >>> from eqtensor import tensor as pt
    >>> pt.dense_dot(pt.tensor3("a", shape=(2, 3, 4)), pt.tensor3("b", shape=(5, 4, 6))).type.shape
    (2, 3, 5, 6)
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return E.mul(a, b)
    return dot(a, b)


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


# ----------------------------------------------------------------------------- einsum
def _einsum_terms(subscripts: str, ndims):
    """The label lists of the operands and of the output; ``...`` becomes labels ``('...', k)``
    (aligned from the right across operands, as NumPy broadcasts)."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, rhs = s.split("->")
        if "->" in rhs:
            raise ValueError("einsum: more than one '->' in the subscripts")
    else:
        lhs, rhs = s, None
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the subscripts name {len(terms)} operands, {len(ndims)} were given")
    parsed, ell = [], 0
    for term, nd in zip(terms, ndims):
        if term.count("...") > 1:
            raise ValueError(f"einsum: more than one ellipsis in {term!r}")
        letters = term.replace("...", "")
        if not all(c.isalpha() for c in letters):
            raise ValueError(f"einsum: invalid subscript in {term!r} (letters and one '...' only)")
        n_ell = nd - len(letters)
        if n_ell < 0 or (n_ell and "..." not in term):
            raise ValueError(f"einsum: {term!r} does not match an operand of {nd} dimensions")
        ell = max(ell, n_ell)
        parsed.append((term, n_ell))
    labels_of = []
    for term, n_ell in parsed:
        labels = []
        for part_k, part in enumerate(term.split("...")):
            if part_k == 1:
                labels.extend(("...", k) for k in range(ell - n_ell, ell))
            labels.extend(part)
        labels_of.append(labels)
    ell_labels = [("...", k) for k in range(ell)]
    if rhs is None:
        counts = {}
        for labels in labels_of:
            for lab in labels:
                counts[lab] = counts.get(lab, 0) + 1
        out = ell_labels + sorted(c for c, n in counts.items() if n == 1 and isinstance(c, str))
    else:
        if rhs.count("...") > 1 or not all(c.isalpha() for c in rhs.replace("...", "")):
            raise ValueError(f"einsum: invalid output subscripts {rhs!r}")
        if ell and "..." not in rhs:
            raise ValueError("einsum: the inputs have dimensions under '...': the output needs '...' too (as NumPy)")
        out = []
        for part_k, part in enumerate(rhs.split("...")):
            if part_k == 1:
                out.extend(ell_labels)
            out.extend(part)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: repeated label in the output {rhs!r}")
        known = {lab for labels in labels_of for lab in labels}
        for lab in out:
            if lab not in known:
                raise ValueError(f"einsum: output label {lab!r} is not in any input")
    return labels_of, out


def _einsum_diagonals(x, labels):
    """Repeated labels of one operand: their diagonal (moved last)."""
    labels = list(labels)
    while len(set(labels)) != len(labels):
        lab = next(lb for lb in labels if labels.count(lb) > 1)
        p = labels.index(lab)
        q = labels.index(lab, p + 1)
        x = diagonal(x, 0, p, q)
        labels = [lb for k, lb in enumerate(labels) if k not in (p, q)] + [lab]
    return x, labels


def _einsum_pair(a, la, b, lb, keep):
    """Contract operands ``a`` (labels ``la``) and ``b`` (``lb``), keeping the labels of ``keep``,
    with one batched matrix product."""
    # a shared label to be summed where one side broadcasts (static 1): sum the other side first
    for lab in [lb_ for lb_ in la if lb_ in lb and lb_ not in keep]:
        da, db = a.type.shape[la.index(lab)], b.type.shape[lb.index(lab)]
        if da == 1 and db != 1:
            b, lb = R.sum(b, axis=lb.index(lab)), [x for x in lb if x != lab]
        elif db == 1 and da != 1:
            a, la = R.sum(a, axis=la.index(lab)), [x for x in la if x != lab]
    batch = [lab for lab in la if lab in lb and lab in keep]
    contracted = [lab for lab in la if lab in lb and lab not in keep]
    a_only = [lab for lab in la if lab not in lb]
    b_only = [lab for lab in lb if lab not in la]
    at = transpose(a, [la.index(lab) for lab in batch + a_only + contracted])
    bt = transpose(b, [lb.index(lab) for lab in batch + contracted + b_only])
    nb = len(batch)
    a_dims = [_dim(at, d) for d in range(at.ndim)]
    b_dims = [_dim(bt, d) for d in range(bt.ndim)]
    a2 = reshape(at, tuple(a_dims[:nb]) + (_prod(a_dims[nb:nb + len(a_only)]), _prod(a_dims[nb + len(a_only):])))
    b2 = reshape(bt, tuple(b_dims[:nb]) + (_prod(b_dims[nb:nb + len(contracted)]), _prod(b_dims[nb + len(contracted):])))
    c = matmul(a2, b2)
    c_dims = [_dim(c, d) for d in range(nb)] + a_dims[nb:nb + len(a_only)] + b_dims[nb + len(contracted):]
    return reshape(c, tuple(c_dims)), batch + a_only + b_only


def einsum(subscripts, *operands, optimize=None):
    """Einstein summation, as ``np.einsum``: ``"ij,jk->ik"``, implicit output (``"ij,jk"``), ``...``
    for broadcast dimensions, repeated labels in one operand for diagonals (``"ii->i"``, ``"ii"``).
    Operands are contracted from left to right, each pair with one (batched) matrix product;
    ``optimize`` is accepted and ignored (the e-graph optimizes the result). The result has the
    operands' promoted dtype, as NumPy.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> a = np.arange(6.0).reshape((2, 3))
    >>> pt.einsum("ij,ij->i", a, a).eval()
    array([ 5., 50.])
    >>> pt.einsum("ii", np.arange(4).reshape((2, 2))).eval()
    array(3)
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the subscripts must be a string (the interleaved form is not supported)")
    ops = [as_tensor_variable(o) for o in operands]
    if not ops:
        raise ValueError("einsum needs at least one operand")
    labels_of, out = _einsum_terms(subscripts, [o.ndim for o in ops])
    dtype = promote([o.dtype for o in ops])
    size = {}
    for o, labels in zip(ops, labels_of):
        for lab, s in zip(labels, o.type.shape):
            if s is not None and s != 1:
                if size.get(lab, s) != s:
                    raise ValueError(f"einsum: label {lab if isinstance(lab, str) else '...'} has lengths "
                                     f"{size[lab]} and {s}")
                size[lab] = s
    terms = []
    for k, (o, labels) in enumerate(zip(ops, labels_of)):
        o, labels = _einsum_diagonals(o, labels)
        later = set(out) | {lab for ls in labels_of[:k] + labels_of[k + 1:] for lab in ls}
        alone = [d for d, lab in enumerate(labels) if lab not in later]
        o, labels = _sum(o, alone), [lab for lab in labels if lab in later]
        terms.append((o, labels))
    acc, la = terms[0]
    for k in range(1, len(terms)):
        b, lb = terms[k]
        keep = set(out) | {lab for _, ls in terms[k + 1:] for lab in ls}
        acc, la = _einsum_pair(acc, la, b, lb, keep)
    acc = _sum(acc, [d for d, lab in enumerate(la) if lab not in out])
    la = [lab for lab in la if lab in out]
    acc = transpose(acc, [la.index(lab) for lab in out]) if acc.ndim else acc
    return E.cast(acc, dtype)


# ----------------------------------------------------------------------------- ranges and grids
def _ends(start, stop):
    start, stop = as_tensor_variable(start), as_tensor_variable(stop)
    if _is_weak(start) and _is_weak(stop):
        start, stop = Constant(start.data), Constant(stop.data)
    dt = promote([start.dtype if not _is_weak(start) else type(start.data.item()),
                  stop.dtype if not _is_weak(stop) else type(stop.data.item()), float])
    start, stop = E.cast(start, dt), E.cast(stop, dt)
    start, stop = broadcast_arrays(start, stop)
    return start, stop, dt


def _linspace_core(start, stop, num, endpoint, axis, dt):
    """``num`` evenly spaced samples from ``start`` to ``stop`` along a new ``axis`` and the step,
    computed as NumPy's ``linspace``."""
    num = _int_scalar("linspace", "num", num)
    if isinstance(num, int) and num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    div = (num - 1 if endpoint else num) if isinstance(num, int) else (E.sub(num, 1) if endpoint else num)
    delta = E.sub(stop, start)
    steps = shape_padright(E.cast(arange(num), dt), delta.ndim)
    fdiv = np.asarray(div, dt) if isinstance(div, int) else E.cast(div, dt)
    step = E.true_div(delta, fdiv)
    scaled = E.switch(E.eq(step, 0), E.mul(E.true_div(steps, fdiv), delta), E.mul(steps, step))
    if isinstance(div, int):
        samples = E.add(scaled if div > 0 else E.mul(steps, delta), start)
        if div <= 0:
            step = E.mul(step, np.asarray(np.nan, dt))
        if endpoint and num > 1:
            samples = set_subtensor(samples[-1, ...], stop)
    else:
        samples = E.add(E.switch(E.gt(div, 0), scaled, E.mul(steps, delta)), start)
        if endpoint:
            samples = E.switch(E.gt(num, 1), set_subtensor(samples[-1, ...], stop), samples)
    if axis != 0:
        samples = moveaxis(samples, 0, axis)
    return samples, step


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (included when ``endpoint``), as
    ``np.linspace``; ``start`` and ``stop`` may be tensors (the samples go along a new ``axis``),
    ``num`` a symbolic integer. The dtype is NumPy's (float64 from integers) unless given.

    >>> from eqtensor import tensor as pt
    >>> pt.linspace(0, 1, 5).eval()
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    start, stop, dt = _ends(start, stop)
    axis = _one_axis(axis, start.ndim + 1, "linspace")
    samples, step = _linspace_core(start, stop, num, endpoint, axis, dt)
    samples = _to_dtype(samples, dtype)
    return (samples, step) if retstep else samples


def _to_dtype(x, dtype):
    """Samples in the requested dtype: rounded toward -inf for an integer dtype (NumPy's rule)."""
    if dtype is None:
        return x
    dtype = as_dtype(config.floatX if dtype == "floatX" else dtype)
    if dtype in INT_DTYPES and not x.dtype.startswith(("int", "uint")):
        x = E.floor(x)
    return E.cast(x, dtype)


def logspace(start, stop, num=50, base=10.0, endpoint=True, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``, as ``np.logspace``.

    >>> from eqtensor import tensor as pt
    >>> pt.logspace(0, 2, 3).eval()
    array([  1.,  10., 100.])
    """
    start, stop, dt = _ends(start, stop)
    axis = _one_axis(axis, start.ndim + 1, "logspace")
    samples, _ = _linspace_core(start, stop, num, endpoint, axis, dt)
    return _to_dtype(E.pow(base, samples), dtype)


def geomspace(start, stop, num=50, base=10.0, endpoint=True, dtype=None, axis=0):
    """A geometric progression from ``start`` to ``stop`` (same sign, nonzero), as ``np.geomspace``:
    evenly spaced in log space (``base`` is PyTensor's extra parameter: the log base used), the
    ends exact.

    >>> from eqtensor import tensor as pt
    >>> pt.geomspace(1, 1000, 4).eval()
    array([   1.,   10.,  100., 1000.])
    """
    start, stop, dt = _ends(start, stop)
    axis = _one_axis(axis, start.ndim + 1, "geomspace")
    sign = E.sign(start)
    log_base = E.log(np.asarray(base, dt))
    lo, hi = (E.true_div(E.log(E.mul(v, sign)), log_base) for v in (start, stop))
    logs, _ = _linspace_core(lo, hi, num, endpoint, 0, dt)
    out = E.pow(np.asarray(base, dt), logs)
    n = _int_scalar("geomspace", "num", num)
    if not isinstance(n, int) or n > 0:
        first = set_subtensor(out[0, ...], E.mul(start, sign))
        out = first if isinstance(n, int) else E.switch(E.gt(n, 0), first, out)
    if endpoint and (not isinstance(n, int) or n > 1):
        last = set_subtensor(out[-1, ...], E.mul(stop, sign))
        out = last if isinstance(n, int) else E.switch(E.gt(n, 1), last, out)
    out = E.mul(out, sign)
    if axis != 0:
        out = moveaxis(out, 0, axis)
    return _to_dtype(out, dtype)


# ----------------------------------------------------------------------------- small formulas of pytensor.tensor
def sgn(a):
    """The sign of ``a`` (PyTensor's older name of :func:`sign`)."""
    return E.sign(a)


def deg2rad(x):
    """Degrees to radians (``np.deg2rad``; integers give float64).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.deg2rad(np.array([180])).eval()
    array([3.14159265])
    """
    return E.mul(_floating(x), np.pi / 180)


def rad2deg(x):
    """Radians to degrees (``np.rad2deg``; integers give float64)."""
    return E.mul(_floating(x), 180 / np.pi)


def _floating(x):
    x = as_tensor_variable(x)
    return x if x.dtype.startswith(("float", "complex")) else E.cast(x, "float64")


def divmod(x, y):  # noqa: A001  (PyTensor's name)
    """``(x // y, x % y)``, as Python's ``divmod`` and ``np.divmod``."""
    return E.floor_div(x, y), E.mod(x, y)


def ceil_intdiv(a, b):
    """``ceil(a / b)`` for integers, exactly (``a // b`` plus one where there is a remainder).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.ceil_intdiv(np.array([7, 8, -7]), 4).eval()
    array([ 2,  2, -1])
    """
    div = E.floor_div(a, b)
    return E.add(div, E.cast(E.neq(E.mod(a, b), 0), div.dtype))


def largest(*args):
    """The elementwise maximum of all the arguments."""
    if not args:
        raise ValueError("largest needs at least one tensor")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = E.maximum(out, a)
    return out


def smallest(*args):
    """The elementwise minimum of all the arguments."""
    if not args:
        raise ValueError("smallest needs at least one tensor")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = E.minimum(out, a)
    return out


def log1pexp(x):
    """``log(1 + exp(x))`` computed stably (:func:`softplus`)."""
    return E.softplus(x)


def iround(a, mode=None):
    """``a`` rounded (half to even) and cast to int64."""
    if mode not in (None, "half_to_even"):
        raise NotImplementedError(f"iround: mode {mode!r} is not supported (only half_to_even)")
    return E.cast(E.round_half_to_even(a), "int64")


def max_and_argmax(a, axis=None, keepdims=False):
    """``(max(a, axis), argmax(a, axis))`` as two variables (PyTensor's multi-output op is two nodes
    here).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> [v.eval() for v in pt.max_and_argmax(np.array([[1, 5], [7, 2]]), axis=1)]
    [array([5, 7]), array([1, 0])]
    """
    axis = as_axis(axis)
    return R.max(a, axis, keepdims), R.argmax(a, axis, keepdims)


def matvec(x1, x2, dtype=None):
    """Matrix-vector products over the last axes, broadcast over the others (``np.matvec``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.matvec(np.ones((2, 3)), np.arange(3.0)).eval()
    array([3., 3.])
    """
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim < 2 or x2.ndim < 1:
        raise ValueError(f"matvec: expected a matrix and a vector (or stacks), got {x1.type} and {x2.type}")
    out = matmul(x1, expand_dims(x2, -1))
    out = dimshuffle(out, *range(out.ndim - 1))
    return out if dtype is None else E.cast(out, as_dtype(dtype))


def vecmat(x1, x2, dtype=None):
    """Vector-matrix products over the last axes, broadcast over the others (``np.vecmat``)."""
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim < 1 or x2.ndim < 2:
        raise ValueError(f"vecmat: expected a vector and a matrix (or stacks), got {x1.type} and {x2.type}")
    out = matmul(expand_dims(x1, -2), x2)
    out = dimshuffle(out, *range(out.ndim - 2), out.ndim - 1)
    return out if dtype is None else E.cast(out, as_dtype(dtype))


def empty(shape, dtype=None):
    """A new tensor of ``shape`` (its values are zeros here: there is no uninitialized memory)."""
    return zeros(shape, dtype)


def empty_like(prototype, dtype=None):
    """A new tensor shaped like ``prototype`` (zeros, see :func:`empty`)."""
    return zeros_like(prototype, dtype)


def is_flat(var, ndim=1):
    """Whether ``var`` has ``ndim`` dimensions."""
    return as_tensor_variable(var).ndim == ndim


def extract_diag(x):
    """The main diagonal of a matrix (:func:`diagonal`)."""
    return diagonal(x)


def _tri_indices(opname, n, k, m, lower):
    n = _int_scalar(opname, "n", n)
    m = n if m is None else _int_scalar(opname, "m", m)
    k = _int_scalar(opname, "k", k)
    if all(isinstance(v, int) for v in (n, m, k)):  # known sizes: constant index vectors
        idx = np.tril_indices(n, k, m) if lower else np.triu_indices(n, k, m)
        return tuple(as_tensor_variable(i.astype("int64")) for i in idx)
    mask = tri(n, m, k if lower else (k - 1 if isinstance(k, int) else E.sub(k, 1)), dtype="bool")
    return nonzero(mask if lower else E.invert(mask))


def tril_indices(n, k=0, m=None):
    """The row and column indices of the lower triangle of an ``n`` x ``m`` matrix (``np.tril_indices``).

    >>> from eqtensor import tensor as pt
    >>> [v.eval() for v in pt.tril_indices(3, -1)]
    [array([1, 2, 2]), array([0, 0, 1])]
    """
    return _tri_indices("tril_indices", n, k, m, True)


def triu_indices(n, k=0, m=None):
    """The row and column indices of the upper triangle of an ``n`` x ``m`` matrix (``np.triu_indices``)."""
    return _tri_indices("triu_indices", n, k, m, False)


def tril_indices_from(a, k=0):
    """:func:`tril_indices` for the shape of the matrix ``a``."""
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise ValueError(f"tril_indices_from: expected a matrix, got {a.type}")
    return tril_indices(_dim(a, 0), k, _dim(a, 1))


def triu_indices_from(a, k=0):
    """:func:`triu_indices` for the shape of the matrix ``a``."""
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise ValueError(f"triu_indices_from: expected a matrix, got {a.type}")
    return triu_indices(_dim(a, 0), k, _dim(a, 1))


def fill_diagonal(a, val):
    """A copy of ``a`` with its main diagonal set to ``val`` (a matrix, or a tensor with all lengths
    equal), as ``np.fill_diagonal`` but returning the result.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.fill_diagonal(np.zeros((2, 3)), 5.0).eval()
    array([[5., 0., 0.],
           [0., 5., 0.]])
    """
    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise ValueError(f"fill_diagonal: expected at least 2 dimensions, got {a.type}")
    dims = [_dim(a, d) for d in range(a.ndim)]
    if a.ndim > 2:
        n = dims[0]
    elif all(isinstance(d, int) for d in dims):
        n = min(dims)
    else:
        n = E.cast(smallest(*dims), "int64")
    idx = arange(n)
    return set_subtensor(a[(idx,) * a.ndim], _stored(a, val))


def _stored(a, val):
    """``val`` as a value stored into ``a`` (NumPy's assignment casts it to ``a``'s dtype)."""
    val = as_tensor_variable(val)
    return E.cast(val, a.dtype) if val.dtype != a.dtype and not _is_weak(val) else val


def fill_diagonal_offset(a, val, offset):
    """A copy of the matrix ``a`` with its diagonal ``offset`` (above the main one when positive)
    set to ``val``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.fill_diagonal_offset(np.zeros((2, 3)), 1.0, 1).eval()
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise ValueError(f"fill_diagonal_offset: expected a matrix, got {a.type}")
    k = _int_scalar("fill_diagonal_offset", "offset", offset)
    if not isinstance(k, int):
        raise TypeError("fill_diagonal_offset: the offset must be known when the graph is built")
    rows, cols = _dim(a, 0), _dim(a, 1)
    if isinstance(rows, int) and isinstance(cols, int):
        n = max(0, min(rows + min(k, 0), cols - max(k, 0)))
    else:
        n = E.maximum(E.minimum(E.add(rows, min(k, 0)), E.sub(cols, max(k, 0))), 0)
    idx = arange(n)
    r = E.add(idx, -k) if k < 0 else idx
    c = E.add(idx, k) if k > 0 else idx
    return set_subtensor(a[r, c], _stored(a, val))


def bincount(x, weights=None, minlength=None, assert_nonneg=False):
    """Counts of each value of the non-negative integer vector ``x`` (weighted sums with
    ``weights``), at least ``minlength`` bins, as ``np.bincount``; built as an accumulating indexed
    increment. Negative values are not checked (``assert_nonneg`` is not supported).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.bincount(np.array([0, 2, 2, 5]), minlength=3).eval()
    array([1, 0, 2, 0, 0, 1])
    """
    if assert_nonneg:
        raise NotImplementedError("bincount: assert_nonneg (a run-time check) is not supported")
    x = as_tensor_variable(x)
    if x.ndim != 1 or x.dtype not in INT_DTYPES:
        raise TypeError(f"bincount: x must be an integer vector, got {x.type}")
    n = E.add(E.cast(R.max(x), "int64"), 1) if x.type.shape[0] != 0 else np.int64(0)
    if minlength is not None:
        n = E.maximum(n, _int_scalar("bincount", "minlength", minlength))
    if weights is None:
        return inc_subtensor(zeros((n,), "int64")[x], np.int64(1))
    weights = as_tensor_variable(weights)
    return inc_subtensor(zeros((n,), weights.dtype)[x], weights)


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
        raise ValueError("concat_with_broadcast: cannot concatenate an empty list of tensors")
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


def bartlett(M):
    """The Bartlett (triangular) window of ``M`` points (``np.bartlett``), float64.

    >>> from eqtensor import tensor as pt
    >>> pt.bartlett(5).eval()
    array([0. , 0.5, 1. , 0.5, 0. ])
    """
    M = _int_scalar("bartlett", "M", M)
    if isinstance(M, int):
        return as_tensor_variable(np.bartlett(M))
    n = E.cast(arange(E.sub(1, M), M, 2), "float64")
    half = E.cast(E.sub(M, 1), "float64")
    window = E.switch(E.le(n, 0), E.add(1, E.true_div(n, half)), E.sub(1, E.true_div(n, half)))
    return E.switch(E.eq(M, 1), np.ones((), "float64"), window)


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


class _NDGrid:
    """``mgrid[0:5, 0:3]`` (dense grids) and ``ogrid[...]`` (broadcastable ones), as PyTensor: a
    list of tensors, one per slice (a single slice gives ``arange``)."""

    def __init__(self, sparse=False):
        self.sparse = sparse

    def __getitem__(self, key):
        if isinstance(key, slice):
            return arange(key.start if key.start is not None else 0, key.stop, key.step if key.step is not None else 1)
        key = tuple(key)
        for sl in key:
            if not isinstance(sl, slice):
                raise TypeError(f"{'ogrid' if self.sparse else 'mgrid'}: index with slices, got {sl!r}")
            if isinstance(sl.step, complex):
                raise NotImplementedError("mgrid/ogrid: a complex step (a number of points) is not supported")
        nd = len(key)
        ranges = [arange(sl.start if sl.start is not None else 0, sl.stop, sl.step if sl.step is not None else 1)
                  for sl in key]
        grids = [dimshuffle(r, *(["x"] * j + [0] + ["x"] * (nd - j - 1))) for j, r in enumerate(ranges)]
        if self.sparse:
            return grids
        shape = [_dim(r, 0) for r in ranges]
        return [alloc(g, *shape) for g in grids]

    def __repr__(self):
        return "ogrid" if self.sparse else "mgrid"


#: dense and open grids (``mgrid[0:3, 0:2]``), as PyTensor's
mgrid = _NDGrid()
ogrid = _NDGrid(sparse=True)


__all__ = [
    "argsort", "bartlett", "bincount", "broadcast_arrays", "cast", "ceil_intdiv", "compress", "concat_with_broadcast",
    "cov", "cumprod", "cumsum", "deg2rad", "dense_dot", "diff", "divmod", "einsum", "empty", "empty_like",
    "extract_diag", "fill", "fill_diagonal", "fill_diagonal_offset", "flatnonzero", "flip", "geomspace",
    "inverse_permutation", "iround", "is_flat", "isfinite", "isneginf", "isposinf", "largest", "linspace",
    "log1pexp", "logspace", "matrix_transpose", "matvec", "max_and_argmax", "median", "mgrid",
    "nan_to_num", "nonzero", "nonzero_values", "ogrid", "permute_row_elements", "ptp", "rad2deg", "repeat",
    "scalar_from_tensor", "sgn", "smallest", "sort", "split", "take_along_axis", "tensor_from_scalar", "tile",
    "tril_indices", "tril_indices_from", "triu_indices", "triu_indices_from", "vecdot", "vecmat", "where",
]
