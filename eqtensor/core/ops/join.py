"""Joining arrays: the op ``concatenate`` and the formulas over it (``stack``, ``join``,
``horizontal_stack``, ``vertical_stack``, ``stacklists``, ``roll``).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.stack([pt.dvector("a", shape=(3,)), pt.dvector("b", shape=(3,))]).type.shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES
from ..graph import TensorType, Variable
from ..op import OPS, Op, as_tensor_variable, declare, dtype_by_numpy, normalize_axis
from .elemwise import mod, sub
from .shape import as_axis, expand_dims, flatten, reshape, shape_i


# ----------------------------------------------------------------------------- concatenate
def _concat_infer(op, inputs):
    axis = op.params["axis"]
    if not inputs:
        raise ValueError("concatenate needs at least one tensor")
    nd = inputs[0].ndim
    for i in inputs:
        if i.ndim != nd:
            raise ValueError(f"concatenate: all inputs need {nd} dimensions; {i} has {i.ndim}")
    if not 0 <= axis < nd:
        raise ValueError(f"concatenate: axis {axis} out of range for {nd} dimensions")
    shape = []
    for d in range(nd):
        dims = [i.type.shape[d] for i in inputs]
        if d == axis:
            shape.append(None if None in dims else sum(dims))
        else:
            known = {s for s in dims if s is not None}
            if len(known) > 1:
                raise ValueError(
                    f"concatenate: shapes {[i.type.shape for i in inputs]} differ along axis {d}"
                )
            shape.append(known.pop() if known else None)
    dtype = dtype_by_numpy(op, [i.dtype for i in inputs], [nd] * len(inputs))
    return TensorType(dtype, tuple(shape))


declare("concatenate", "shape", None, _concat_infer, lambda *xs, axis: np.concatenate(xs, axis=axis),
        params=("axis",), cost=0.5, doc="join tensors along an existing axis")


def _tensor_list(name, tensors) -> list:
    """``tensors`` (a list or tuple, not one tensor) as a non-empty list of tensor variables."""
    if isinstance(tensors, Variable):
        raise TypeError(f"{name} takes a list or tuple of tensors (did you forget the [] around them?)")
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{name} needs at least one tensor")
    return tensors


def concatenate(tensors, axis=0):
    """Join tensors along ``axis`` (``np.concatenate``).

    >>> from eqtensor import tensor as pt
    >>> pt.concatenate([pt.matrix("a", shape=(2, 3)), pt.matrix("b", shape=(1, 3))]).type.shape
    (3, 3)
    """

    tensors, axis = _tensor_list("concatenate", tensors), as_axis(axis)
    nd = tensors[0].ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    if not -nd <= axis < nd:
        raise ValueError(f"concatenate: axis {axis} out of range for {nd} dimensions")
    if len(tensors) == 1:
        return tensors[0]
    return Op(OPS["concatenate"], {"axis": axis % nd})(*tensors)


def stack(tensors, axis=0):
    """Join tensors along a new ``axis`` (``np.stack``).

    >>> from eqtensor import tensor as pt
    >>> pt.stack([pt.dvector("a"), pt.dvector("b")], axis=1).type.shape
    (None, 2)
    """

    tensors, axis = _tensor_list("stack", tensors), as_axis(axis)
    nd = tensors[0].ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis} out of range for {nd} dimensions")
    return concatenate([expand_dims(t, axis % nd) for t in tensors], axis=axis % nd) if len(tensors) > 1 \
        else expand_dims(tensors[0], axis % nd)


def join(axis, *tensors_list):
    """Concatenate tensors along ``axis`` (PyTensor's ``join``: the axis comes first); a single
    tensor is returned as it is.

    >>> from eqtensor import tensor as pt
    >>> pt.join(1, pt.matrix("a", shape=(2, 3)), pt.matrix("b", shape=(2, 1))).type.shape
    (2, 4)
    """
    if not tensors_list:
        raise ValueError("join: cannot join an empty list of tensors")
    if len(tensors_list) == 1:
        return as_tensor_variable(tensors_list[0])
    return concatenate(list(tensors_list), axis=as_axis(axis))


def _matrices(opname, args):
    if len(args) < 2:
        raise ValueError(f"{opname}: needs at least two tensors")
    out = [as_tensor_variable(a) for a in args]
    for a in out:
        if a.ndim != 2:
            raise ValueError(f"{opname}: all arguments must have two dimensions, got {a.type}")
    return out


def horizontal_stack(*args):
    """Join matrices side by side (along axis 1); PyTensor's, which unlike ``np.hstack`` takes only
    matrices.

    >>> from eqtensor import tensor as pt
    >>> pt.horizontal_stack(pt.matrix("a", shape=(2, 3)), pt.matrix("b", shape=(2, 2))).type.shape
    (2, 5)
    """
    return concatenate(_matrices("horizontal_stack", args), axis=1)


def vertical_stack(*args):
    """Join matrices one below the other (along axis 0); only matrices, as PyTensor.

    >>> from eqtensor import tensor as pt
    >>> pt.vertical_stack(pt.matrix("a", shape=(2, 3)), pt.matrix("b", shape=(1, 3))).type.shape
    (3, 3)
    """
    return concatenate(_matrices("vertical_stack", args), axis=0)


def stacklists(arg):
    """Stack nested lists of tensors into one tensor of the same nesting (``stack`` recursively).

    >>> from eqtensor import tensor as pt
    >>> a, b, c, d = pt.scalars("abcd")
    >>> pt.stacklists([[a, b], [c, d]]).type.shape
    (2, 2)
    """
    if isinstance(arg, (tuple, list)):
        return stack([stacklists(a) for a in arg])
    return arg


def roll(x, shift, axis=None):
    """Shift elements cyclically by ``shift`` along ``axis`` (of the flattened tensor when None),
    as ``np.roll``; built from slices and a concatenation. ``shift`` may be a symbolic integer.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.roll(np.arange(5), 2).eval()
    array([3, 4, 0, 1, 2])
    """

    x = as_tensor_variable(x)
    if axis is None:
        return reshape(roll(flatten(x), shift, 0), tuple(s if s is not None else shape_i(x, d)
                                                         for d, s in enumerate(x.type.shape)))
    (a,) = normalize_axis(as_axis(axis), x.ndim, "roll")
    n = x.type.shape[a]
    if isinstance(shift, (int, np.integer)) and n is not None:
        cut = n - int(shift) % n if n else 0
    else:
        shift = as_tensor_variable(shift)
        if shift.ndim != 0 or shift.dtype not in INT_DTYPES:
            raise TypeError(f"roll: shift must be an integer scalar, got {shift.type}")
        length = n if n is not None else shape_i(x, a)
        cut = sub(length, mod(shift, length))
    head = (slice(None),) * a
    return concatenate([x[head + (slice(cut, None),)], x[head + (slice(None, cut),)]], axis=a)


__all__ = ["concatenate", "horizontal_stack", "join", "roll", "stack", "stacklists", "vertical_stack"]
