"""Asserting a shape: the op ``specify_shape`` (static lengths stated, checked at run time) and
``specify_broadcastable``.

>>> from eqtensor import tensor as pt
>>> pt.specify_shape(pt.dmatrix("x"), (None, 3)).type.shape
(None, 3)
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES
from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, constant_value, declare, normalize_axis
from .shape import as_axis, static_entries


# ----------------------------------------------------------------------------- specify_shape
def _specify_shape_infer(op, inputs):
    x, dims = inputs[0], inputs[1:]
    spec = op.params["shape"]
    if len(spec) != x.ndim:
        raise ValueError(f"specify_shape: {x} has {x.ndim} dimensions (type {x.type}); it will never match a "
                         f"shape of {len(spec)} entries")
    it = iter(dims)
    out = []
    for d, (want, have) in enumerate(zip(spec, x.type.shape)):
        if want == "?":
            dim = next(it)
            if dim.ndim != 0 or dim.dtype not in INT_DTYPES:
                raise TypeError(f"specify_shape: shape entries must be integer types (integer scalars), got {dim.type}")
            c = constant_value(dim)  # a constant entry's value is a static length
            want = None if c is None else int(c)
        if want is not None and have is not None and want != have:
            raise ValueError(f"specify_shape: {x} has static shape {x.type.shape}, which can never be {spec}")
        out.append(have if want is None else want)
    return TensorType(x.dtype, tuple(out))


def _specify_shape_perform(x, *dims, shape):
    it = iter(dims)
    want = [int(next(it)) if s == "?" else s for s in shape]
    if np.ndim(x) != len(want) or any(w is not None and w != n for w, n in zip(want, np.shape(x))):
        raise AssertionError(f"specify_shape: got shape {np.shape(x)}, expected {tuple(want)}")
    return x


declare("specify_shape", "shape", None, _specify_shape_infer, _specify_shape_perform, params=("shape",),
        cost=0, view_of=0, doc="x, checked at run time to have the given shape (static lengths become known)")


def specify_shape(x, shape):
    """``x`` with the lengths ``shape`` made part of its type and checked at run time
    (``AssertionError``). Entries are ints, None (unknown) or integer scalars; one ``...`` stands
    for as many None as needed; a vector of known length gives one entry per element.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dmatrix("x")
    >>> y = pt.specify_shape(x, (None, 3))
    >>> y.type.shape, pt.specify_shape(x, (2, ...)).type.shape
    ((None, 3), (2, None))
    >>> y.sum().eval({x: np.ones((2, 3))})
    array(6.)
    """
    x = as_tensor_variable(x)
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    shape = list(shape)
    if len(shape) == 1 and shape[0] is not None and shape[0] is not Ellipsis:
        vec = as_tensor_variable(shape[0])
        if vec.ndim == 1:
            if vec.type.shape[0] is None:
                raise ValueError("specify_shape: a shape vector must have a known length")
            entries = static_entries(vec)
            shape = [e if e is not None else vec[k] for k, e in enumerate(entries)]
    if sum(1 for s in shape if s is Ellipsis) > 1:
        raise ValueError("specify_shape: only one ... is allowed (Multiple Ellipsis in specify_shape)")
    if Ellipsis in shape:
        k = shape.index(Ellipsis)
        shape[k:k + 1] = [None] * (x.ndim - len(shape) + 1)
    spec, dims, stated = [], [], []  # stated: the static lengths, variable entries' constant values included
    for s in shape:
        if s is None:
            spec.append(None)
            stated.append(None)
            continue
        if isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)):
            spec.append(int(s))
            stated.append(int(s))
            continue
        v = as_tensor_variable(s)
        c = constant_value(v) if v.ndim == 0 and v.dtype in INT_DTYPES else None
        spec.append("?")  # a variable entry stays an input, so clone_replace can replace it
        dims.append(v)
        stated.append(None if c is None else int(c))
    if len(spec) == x.ndim and all(e is None or (w is not None and w == h)
                                   for e, w, h in zip(spec, stated, x.type.shape)):
        return x
    return Op(OPS["specify_shape"], {"shape": tuple(spec)})(x, *dims)


def specify_broadcastable(x, *axes):
    """``x`` with the dimensions ``axes`` declared of length 1 (checked at run time).

    >>> from eqtensor import tensor as pt
    >>> pt.specify_broadcastable(pt.dmatrix("x"), 0).type.shape
    (1, None)
    """
    x = as_tensor_variable(x)
    if not axes:
        return x
    axes = normalize_axis(as_axis(axes), x.ndim, "specify_broadcastable")
    return specify_shape(x, tuple(1 if d in axes else s for d, s in enumerate(x.type.shape)))


__all__ = ["specify_broadcastable", "specify_shape"]
