"""Values known when the graph is built: :func:`get_underlying_scalar_constant_value` and
:func:`get_scalar_constant_value` (PyTensor's), which raise :class:`NotScalarConstantError` when a
variable's value is not one known scalar.

The graph is evaluated from its constants through the structural ops (``concatenate``/``stack``,
``make_vector``, ``dimshuffle``, ``subtensor``, ``reshape``, ``specify_shape``), ``shape``,
``shape_i``, casts, ``alloc`` of a constant and, with ``elemwise=True``, elementwise ops. Entries
of unknown value are carried as None, so ``stack([b, 2, 3])[1]`` is 2 whatever ``b`` is.

>>> from eqtensor import tensor as pt
>>> b = pt.lscalar("b")
>>> int(pt.get_underlying_scalar_constant_value(pt.stack([b, 2, 3])[1] + 1))
3
"""

from __future__ import annotations

import numpy as np

from ..errors import NotScalarConstantError
from ..graph import Constant, Variable
from ..op import as_tensor_variable

#: ops evaluated on arrays with unknown (None) entries
_STRUCTURAL = ("concatenate", "dimshuffle", "subtensor", "reshape", "specify_shape")
#: ops evaluated when every input is known
_FULL = ("cast", "shape_i", "shape")


def _unknown(v: Variable):
    """An array of None of ``v``'s static shape (None when the shape is not static)."""
    return None if None in v.type.shape else np.full(v.type.shape, None, dtype=object)


def _known(a) -> bool:
    return a is not None and (a.dtype != object or not any(e is None for e in a.flat))


def _value(v: Variable, elemwise: bool, depth: int):
    """``v``'s value as an array, with None where an entry is not known (None: nothing known)."""
    if isinstance(v, Constant):
        return v.data
    node = v.owner
    if node is None or depth < 0:
        return _unknown(v)
    name, kind = node.op.name, node.op.defn.kind
    if name == "shape":
        return np.array(node.inputs[0].type.shape, dtype=object)
    if name == "shape_i":
        return np.array(node.inputs[0].type.shape[node.op.params["i"]], dtype=object)
    vals = [_value(i, elemwise, depth - 1) for i in node.inputs]
    try:
        if name == "make_vector":
            return np.array([None if a is None else a.reshape(()).item() if _known(a) else None for a in vals],
                            dtype=object)
        if name == "alloc" and _known(vals[0]) and np.unique(np.asarray(vals[0].tolist())).size == 1:
            return np.asarray(vals[0].tolist()).reshape(-1)[0:1].reshape(())  # the underlying constant
        if name in _STRUCTURAL and vals[0] is not None and all(_known(a) for a in vals[1:]):
            out = node.op.perform(vals[0], *[np.asarray(a.tolist(), dtype=i.dtype)
                                             for a, i in zip(vals[1:], node.inputs[1:])])
            return np.asarray(out, dtype=object) if not _known(vals[0]) else np.asarray(out)
        if (name in _FULL or (elemwise and kind == "elemwise")) and all(_known(a) for a in vals):
            return np.asarray(node.op.perform(*[np.asarray(a.tolist(), dtype=i.dtype)
                                                for a, i in zip(vals, node.inputs)]))
    except Exception:  # an op refusing the partial values: the value is unknown
        return _unknown(v)
    return _unknown(v)


def get_underlying_scalar_constant_value(v, elemwise=True, only_process_constants=False, max_recur=10,
                                         raise_not_constant=True):
    """The single value of ``v`` (a variable, a number or an array) as a 0-d array, when it is
    known when the graph is built: a constant, an expression of constants, a static length, or
    an array whose elements are all equal. Otherwise raises :class:`NotScalarConstantError`
    (returns ``v`` with ``raise_not_constant=False``). ``only_process_constants``: constants
    only; ``elemwise=False``: no elementwise ops; ``max_recur``: how many nodes deep to look.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.get_underlying_scalar_constant_value(pt.row("r").shape[0])
    array(1)
    """
    if not isinstance(v, Variable):
        arr = np.asarray(v)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"get_scalar_constant_value: expected a variable, a number or an array, got {v!r}")
        v = as_tensor_variable(v)
    if isinstance(v, Constant) or not only_process_constants:
        arr = _value(v, elemwise, max_recur)
        if _known(arr) and arr.size:
            arr = np.asarray(arr.tolist(), dtype=v.dtype).reshape(-1)
            if arr.size == 1 or np.all(arr == arr[0]):
                return arr[0:1].reshape(())
    if not raise_not_constant:
        return v
    raise NotScalarConstantError(f"{v} (type {v.type}) is not a known scalar constant")


def get_scalar_constant_value(v, elemwise=True, only_process_constants=False, max_recur=10,
                              raise_not_constant=True):
    """:func:`get_underlying_scalar_constant_value` of a scalar ``v``; a variable with
    dimensions raises :class:`NotScalarConstantError`.

    >>> from eqtensor import tensor as pt
    >>> pt.get_scalar_constant_value(pt.constant(2.5) * 2)
    array(5.)
    """
    if isinstance(v, Variable) and v.ndim != 0:
        if not raise_not_constant:
            return v
        raise NotScalarConstantError(f"{v} has {v.ndim} dimensions (type {v.type}): not a scalar")
    return get_underlying_scalar_constant_value(v, elemwise, only_process_constants, max_recur, raise_not_constant)


__all__ = ["NotScalarConstantError", "get_scalar_constant_value", "get_underlying_scalar_constant_value"]
