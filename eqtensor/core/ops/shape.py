"""Shape ops: dimshuffle (transpose / add / drop broadcastable dims) and its builders (transpose,
swapaxes, expand_dims, squeeze, shape_padleft…, atleast_Nd, moveaxis), shape and shape_i,
make_vector, reshape and flatten, and the helpers reading axes and static lengths (as_axis,
axis_tuple, static_entries, get_vector_length).

Building arrays of a new shape is in :mod:`.broadcast` (alloc, broadcast_to, fill), joining them in
:mod:`.join` (concatenate, stack…), asserting a shape in :mod:`.shape_checks` (specify_shape).

>>> from eqtensor import tensor as pt
>>> x = pt.matrix("x", shape=(3, 4))
>>> x.T.type.shape, x.reshape((2, -1)).type.shape
((4, 3), (2, 6))
"""

from __future__ import annotations

import math

import numpy as np

from ..graph import TensorType, Variable
from ..op import OPS, Op, as_tensor_variable, constant_value, declare, dtype_by_numpy, normalize_axis
from .elemwise import cast


# ----------------------------------------------------------------------------- dimshuffle
def _dimshuffle_perform(x, order):
    kept = [d for d in order if d != "x"]
    dropped = tuple(d for d in range(x.ndim) if d not in kept)
    if dropped:
        x = x.reshape(tuple(s for d, s in enumerate(x.shape) if d not in dropped))
        kept = [k - sum(1 for d in dropped if d < k) for k in kept]
    x = np.transpose(x, kept)
    return x.reshape(_expand_shape(x.shape, order))


def _expand_shape(shape, order):
    it = iter(shape)
    return tuple(1 if d == "x" else next(it) for d in order)


def _dimshuffle_infer(op, inputs):
    (x,) = inputs
    order = op.params["order"]
    kept = [d for d in order if d != "x"]
    if sorted(kept) != sorted(set(kept)) or any(not 0 <= d < x.ndim for d in kept):
        raise ValueError(f"dimshuffle: invalid order {order} for a tensor of {x.ndim} dimensions")
    for d in range(x.ndim):
        if d not in kept and x.type.shape[d] != 1:
            raise ValueError(
                f"dimshuffle: cannot drop dimension {d} of {x} (static shape {x.type.shape}); only "
                f"dimensions of static length 1 can be dropped"
            )
    return TensorType(x.dtype, tuple(1 if d == "x" else x.type.shape[d] for d in order))


declare("dimshuffle", "shape", 1, _dimshuffle_infer, _dimshuffle_perform, params=("order",), cost=0,
        view_of=0, doc="permute dims, insert broadcastable ('x') dims, drop length-1 dims")


def dimshuffle(x, *order):
    """PyTensor's ``x.dimshuffle(...)``: e.g. ``(1, 0)`` transposes, ``('x', 0)`` makes a row.

    >>> from eqtensor import tensor as pt
    >>> pt.dvector("v").dimshuffle("x", 0).type.shape
    (1, None)
    """

    x = as_tensor_variable(x)
    if len(order) == 1 and isinstance(order[0], (list, tuple)):
        order = tuple(order[0])
    order = tuple(d if d == "x" else int(d) for d in order)
    if order == tuple(range(x.ndim)):
        return x
    return Op(OPS["dimshuffle"], {"order": order})(x)


def expand_left(x, ndim):
    return dimshuffle(x, *(["x"] * (ndim - x.ndim) + list(range(x.ndim))))


def transpose(x, axes=None):
    """Permute dimensions (reverse them when ``axes`` is None: the result of a named ``x`` is then
    named ``x.T``, as PyTensor names it).

    >>> from eqtensor import tensor as pt
    >>> pt.transpose(pt.tensor3("t", shape=(2, 3, 4)), (2, 0, 1)).type.shape
    (4, 2, 3)
    >>> pt.dmatrix("m").T.name
    'm.T'
    """

    x = as_tensor_variable(x)
    reverse = axes is None
    if reverse:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(int(a) % max(x.ndim, 1) for a in as_axis(tuple(axes)))
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} dimensions")
    normalize_axis(axes, x.ndim, "transpose")
    out = dimshuffle(x, *axes)
    if reverse and x.name and out is not x and out.name is None:
        out.name = x.name + ".T"
    return out


def swapaxes(x, axis1, axis2):
    """Interchange two axes (``np.swapaxes``).

    >>> from eqtensor import tensor as pt
    >>> pt.swapaxes(pt.tensor3("t", shape=(2, 3, 4)), 0, -1).type.shape
    (4, 3, 2)
    """

    x = as_tensor_variable(x)
    a1, a2 = (normalize_axis(as_axis(a), x.ndim, "swapaxes")[0] for a in (axis1, axis2))
    order = list(range(x.ndim))
    order[a1], order[a2] = a2, a1
    return dimshuffle(x, *order)


def expand_dims(x, axis):
    """Insert broadcastable dimensions at ``axis`` (int or tuple), as ``np.expand_dims``.

    >>> from eqtensor import tensor as pt
    >>> pt.expand_dims(pt.dvector("v"), -1).type.shape
    (None, 1)
    """

    x = as_tensor_variable(x)
    axis = as_axis(axis)
    axes = normalize_axis(axis, x.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1), "expand_dims")
    order, it = [], iter(range(x.ndim))
    for d in range(x.ndim + len(axes)):
        order.append("x" if d in axes else next(it))
    return dimshuffle(x, *order)


def squeeze(x, axis=None):
    """Drop dimensions of static length 1 (all of them when ``axis`` is None).

    >>> from eqtensor import tensor as pt
    >>> pt.squeeze(pt.tensor("x", shape=(1, None, 1))).type.shape
    (None,)
    """

    x = as_tensor_variable(x)
    if axis is None:
        axes = tuple(d for d, s in enumerate(x.type.shape) if s == 1)
    else:
        axes = normalize_axis(as_axis(axis), x.ndim, "squeeze")
    return dimshuffle(x, *[d for d in range(x.ndim) if d not in axes])


# ----------------------------------------------------------------------------- shape
def _shape_infer(op, inputs):
    return TensorType("int64", (inputs[0].ndim,))


declare("shape", "shape", 1, _shape_infer, lambda x: np.array(np.shape(x), dtype="int64"), cost=0,
        differentiable=False, doc="the run-time shape as an int64 vector")
declare("shape_i", "shape", 1, lambda op, inputs: TensorType("int64", ()),
        lambda x, i: np.array(np.shape(x)[i], dtype="int64"), params=("i",), cost=0,
        differentiable=False, doc="the run-time length of dimension i")


def shape(x):

    return Op(OPS["shape"])(as_tensor_variable(x))


def shape_i(x, i):

    x = as_tensor_variable(x)
    i = int(i)
    if not -x.ndim <= i < x.ndim:
        raise IndexError(f"shape_i: dimension {i} out of range for {x.ndim} dimensions")
    return Op(OPS["shape_i"], {"i": i % x.ndim})(x)


def length(x, i):
    """The run-time length of dimension ``i`` of ``x`` as ``shape_i`` of the earliest variable known
    to have it: through elementwise ops (an operand whose dimension ``i`` is not the static
    broadcast length 1 has the result's length: PyTensor's static broadcasting) and dimshuffles. A
    count or a gradient's shape then does not keep an intermediate alive just for its length.

    >>> from eqtensor import tensor as pt
    >>> x, m = pt.dmatrix("x"), pt.dcol("m")
    >>> length(pt.sqr(x - m), 1).owner.inputs[0] is x
    True
    """
    x = as_tensor_variable(x)
    i = int(i) % max(x.ndim, 1)
    while x.owner is not None:
        op = x.owner.op
        if op.defn.kind == "elemwise":
            full = [v for v in x.owner.inputs if v.type.shape[i] != 1]
            if not full:
                break
            x = next((v for v in full if v.owner is None), full[0])
        elif op.name == "dimshuffle" and op.params["order"][i] != "x":
            x, i = x.owner.inputs[0], op.params["order"][i]
        else:
            break
    return shape_i(x, i)


def _make_vector_infer(op, inputs):
    for k, i in enumerate(inputs):
        if i.ndim != 0:
            raise TypeError(f"make_vector: element {k} must be a scalar, got {i.type}")
    dtype = dtype_by_numpy(op, [i.dtype for i in inputs], [0] * len(inputs)) if inputs else "int64"
    return TensorType(dtype, (len(inputs),))


declare("make_vector", "shape", None, _make_vector_infer,
        lambda *xs: np.array([np.asarray(x) for x in xs]) if xs else np.zeros(0, "int64"), cost=0,
        doc="a vector from scalars")


def make_vector(*xs):
    """A 1-d tensor built from scalars (used for symbolic shapes).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dmatrix("x")
    >>> pt.shape(x).eval({x: np.zeros((2, 5))})
    array([2, 5])

    >>> from eqtensor import tensor as pt
    >>> pt.shape_i(pt.dmatrix("x"), -1).type
    TensorType(int64, shape=())

    >>> from eqtensor import tensor as pt
    >>> make_vector(pt.lscalar("n"), 3).type
    TensorType(int64, shape=(2,))
    """

    return Op(OPS["make_vector"])(*[as_tensor_variable(x) for x in xs])


def as_shape_vector(shp, what="shape"):
    """A symbolic int64 shape vector from a tuple of ints/scalars or a vector variable."""

    if isinstance(shp, Variable):
        if shp.ndim != 1 or shp.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise TypeError(f"{what} must be an integer vector, got {shp.type}")
        if shp.type.shape[0] is None:
            raise ValueError(f"{what} must have a static length")
        return cast(shp, "int64")
    if isinstance(shp, (int, np.integer)):
        shp = (shp,)
    elems = []
    for k, s in enumerate(shp):
        s = as_tensor_variable(s)
        if s.ndim != 0 or s.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise TypeError(f"{what}: entry {k} must be an integer scalar, got {s.type}")
        elems.append(cast(s, "int64"))
    if all(constant_value(e) is not None for e in elems):
        return as_tensor_variable(np.array([int(constant_value(e)) for e in elems], dtype="int64"))
    return make_vector(*elems)


def static_entries(vec) -> list:
    """Per-entry static values of an int shape vector (None where unknown)."""
    val = constant_value(vec)
    if val is not None:
        return [int(v) for v in val]
    node = vec.owner
    if node is not None and node.op.name == "make_vector":
        out = []
        for e in node.inputs:
            c = constant_value(e)
            out.append(None if c is None else int(c))
        return out
    if node is not None and node.op.name == "shape":
        return list(node.inputs[0].type.shape)
    if node is not None and node.op.name in ("subtensor", "cast") and len(node.inputs) == 1:
        inner = np.array(static_entries(node.inputs[0]) + [None], dtype=object)[:-1]
        if node.op.name == "cast":
            return list(inner)
        return list(node.op.perform(inner))  # a static index: the subtensor of the entries
    return [None] * vec.type.shape[0]


# ----------------------------------------------------------------------------- reshape
def _reshape_infer(op, inputs):
    x, shp = inputs
    entries = static_entries(shp)
    if sum(1 for e in entries if e == -1) > 1:
        raise ValueError("reshape: only one dimension can be -1")
    if any(e is not None and e < -1 for e in entries):
        raise ValueError(f"reshape: invalid target shape {entries}")
    size = None if None in x.type.shape else math.prod(x.type.shape)
    if -1 in entries and size is not None and None not in entries:
        rest = math.prod(e for e in entries if e != -1)
        if rest == 0 or size % rest:
            raise ValueError(f"reshape: cannot reshape {x} of shape {x.type.shape} into {tuple(entries)}")
        entries = [size // rest if e == -1 else e for e in entries]
    if size is not None and None not in entries and -1 not in entries and math.prod(entries) != size:
        raise ValueError(f"reshape: cannot reshape {x} of static shape {x.type.shape} into {tuple(entries)}")
    return TensorType(x.dtype, tuple(None if e in (None, -1) else e for e in entries))


def _reshape_perform(x, shp):
    return np.reshape(x, tuple(int(s) for s in shp))


declare("reshape", "shape", 2, _reshape_infer, _reshape_perform, cost=0, view_of=0,
        numpy="{0}.reshape(tuple({1}))", doc="NumPy reshape (one -1 allowed)")


def reshape(x, newshape, ndim=None):
    """Reshape ``x`` (``newshape`` a tuple of ints/scalars, or an int vector variable).

    >>> from eqtensor import tensor as pt
    >>> x = pt.tensor("x", shape=(2, 6))
    >>> pt.reshape(x, (3, -1)).type.shape, pt.reshape(x, (x.shape[1], 2)).type.shape
    ((3, 4), (6, 2))
    """

    x = as_tensor_variable(x)
    shp = as_shape_vector(newshape, "reshape shape")
    if ndim is not None and shp.type.shape[0] != ndim:
        raise ValueError(f"reshape: ndim={ndim} but the shape has {shp.type.shape[0]} entries")
    return Op(OPS["reshape"])(x, shp)


def flatten(x, ndim=1):
    """Collapse the trailing dimensions so the result has ``ndim`` dimensions; static lengths are
    kept, a collapsed axis of static length 1 included (PyTensor's rule).

    >>> from eqtensor import tensor as pt
    >>> pt.flatten(pt.tensor("t", shape=(2, 3, 4)), 2).type.shape
    (2, 12)
    >>> pt.flatten(pt.tensor("t", shape=(None, 1, 1)), 2).type.shape
    (None, 1)
    """

    x = as_tensor_variable(x)
    ndim = 1 if ndim is None else ndim
    if not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten: ndim must be in [1, {max(x.ndim, 1)}], got {ndim}")
    if ndim == x.ndim:
        return x
    kept = [s if s is not None else shape_i(x, d) for d, s in enumerate(x.type.shape[:ndim - 1])]
    rest = x.type.shape[ndim - 1:]
    last = math.prod(rest) if None not in rest else -1
    return reshape(x, tuple(kept) + (last,))


def as_axis(axis):
    """An ``axis`` argument with NumPy integers, 0-d integer arrays and integer constants made
    Python ints (also inside a tuple or list); None and ints unchanged.

    >>> import numpy as np
    >>> as_axis(np.array(1)), as_axis((np.int32(0), -1)), as_axis(None)
    (1, (0, -1), None)
    """
    if axis is None or (type(axis) is int):
        return axis
    if isinstance(axis, Variable):
        value = constant_value(axis)
        if value is None:
            raise TypeError(f"'axis' must be None, an integer, or a tuple of integers known when the graph is built, "
                            f"got the symbolic {axis}")
        axis = value
    if isinstance(axis, (list, tuple)):
        return tuple(as_axis(a) for a in axis)
    arr = np.asarray(axis)
    if arr.dtype.kind not in "iu" or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"axis must be None, an integer or a tuple of integers, got {axis!r}")
    if arr.ndim == 0:
        return int(arr)
    if arr.ndim == 1:
        return tuple(int(a) for a in arr)
    raise TypeError(f"axis must be None, an integer or a tuple of integers, got {axis!r}")


def shape_padleft(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable dimensions added on the left.

    >>> from eqtensor import tensor as pt
    >>> pt.shape_padleft(pt.dvector("v"), 2).type.shape
    (1, 1, None)
    """
    t = as_tensor_variable(t)
    return dimshuffle(t, *(["x"] * n_ones + list(range(t.ndim))))


def shape_padright(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable dimensions added on the right.

    >>> from eqtensor import tensor as pt
    >>> pt.shape_padright(pt.dvector("v")).type.shape
    (None, 1)
    """
    t = as_tensor_variable(t)
    return dimshuffle(t, *(list(range(t.ndim)) + ["x"] * n_ones))


def shape_padaxis(t, axis):
    """``t`` with a broadcastable dimension inserted at ``axis`` (IndexError when out of range).

    >>> from eqtensor import tensor as pt
    >>> pt.shape_padaxis(pt.dmatrix("m"), -1).type.shape
    (None, None, 1)
    """
    t = as_tensor_variable(t)
    axis = as_axis(axis)
    ndim = t.ndim + 1
    if not -ndim <= axis < ndim:
        raise IndexError(f"shape_padaxis: axis {axis} is out of bounds [-{ndim}, {ndim})")
    order = list(range(t.ndim))
    order.insert(axis % ndim, "x")
    return dimshuffle(t, *order)


def atleast_Nd(arry, *, n=1, left=True):
    """``arry`` with broadcastable dimensions added on the left (``left=True``) or the right until
    it has ``n`` dimensions (PyTensor's rule: ``atleast_3d`` of a vector is ``(1, 1, N)``, not NumPy's
    ``(1, N, 1)``).

    >>> from eqtensor import tensor as pt
    >>> pt.atleast_Nd(pt.dvector("v"), n=3, left=False).type.shape
    (None, 1, 1)
    """
    arry = as_tensor_variable(arry)
    if arry.ndim >= n:
        return arry
    return shape_padleft(arry, n - arry.ndim) if left else shape_padright(arry, n - arry.ndim)


def atleast_1d(arry, n=1, left=True):
    """``arry`` with at least 1 dimension (:func:`atleast_Nd`).

    >>> from eqtensor import tensor as pt
    >>> pt.atleast_1d(pt.dscalar("s")).type.shape
    (1,)
    """
    return atleast_Nd(arry, n=n, left=left)


def atleast_2d(arry, n=2, left=True):
    """``arry`` with at least 2 dimensions, added on the left (:func:`atleast_Nd`).

    >>> from eqtensor import tensor as pt
    >>> pt.atleast_2d(pt.dvector("v")).type.shape
    (1, None)
    """
    return atleast_Nd(arry, n=n, left=left)


def atleast_3d(arry, n=3, left=True):
    """``arry`` with at least 3 dimensions, added on the left (:func:`atleast_Nd`).

    >>> from eqtensor import tensor as pt
    >>> pt.atleast_3d(pt.dvector("v")).type.shape
    (1, 1, None)
    """
    return atleast_Nd(arry, n=n, left=left)


def axis_tuple(axis, ndim, opname) -> tuple[int, ...]:
    """An int or a sequence of ints as non-negative axes, in the order given (repeats and
    out-of-range axes refused), as NumPy's ``normalize_axis_tuple``."""
    axis = as_axis(axis)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{opname}: axis {a} is out of bounds for a tensor of {ndim} dimensions")
        if a % ndim in out:
            raise ValueError(f"{opname}: repeated axis {a}")
        out.append(a % ndim)
    return tuple(out)


def moveaxis(a, source, destination):
    """Move axes ``source`` to positions ``destination`` (ints or sequences), the others keeping
    their order (``np.moveaxis``).

    >>> from eqtensor import tensor as pt
    >>> pt.moveaxis(pt.tensor("t", shape=(2, 3, 4)), 0, -1).type.shape
    (3, 4, 2)
    """
    a = as_tensor_variable(a)
    src = axis_tuple(source, a.ndim, "moveaxis source")
    dst = axis_tuple(destination, a.ndim, "moveaxis destination")
    if len(src) != len(dst):
        raise ValueError("moveaxis: `source` and `destination` arguments must have the same number of elements")
    order = [d for d in range(a.ndim) if d not in src]
    for d, s_ in sorted(zip(dst, src)):
        order.insert(d, s_)
    return dimshuffle(a, *order)


def get_vector_length(v) -> int:
    """The length of the vector ``v`` when it is known while the graph is built (TypeError when
    ``v`` is not a vector, ValueError when its length is unknown).

    >>> from eqtensor import tensor as pt
    >>> pt.get_vector_length(pt.dmatrix("m").shape), pt.get_vector_length([1, 2, 3])
    (2, 3)
    """
    v = as_tensor_variable(v)
    if v.ndim != 1:
        raise TypeError(f"get_vector_length: the argument must be a vector, got {v.type}")
    n = v.type.shape[0]
    if n is None:
        raise ValueError(f"Length of {v} cannot be determined when the graph is built (use specify_shape)")
    return n


__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "atleast_Nd", "dimshuffle", "expand_dims", "flatten",
           "get_vector_length", "moveaxis", "reshape", "shape", "shape_i", "shape_padaxis", "shape_padleft",
           "shape_padright", "squeeze", "swapaxes", "transpose"]
