"""Arrays of a value broadcast to a shape: the op ``alloc`` and the formulas over it
(``broadcast_to``, ``fill``/``second``, ``broadcast_arrays``).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.alloc(np.float64(2.0), 2, 3).type.shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES, promote
from ..graph import Constant, TensorType
from ..op import OPS, Op, _is_weak, as_tensor_variable, broadcast_static_shapes, constant_value, declare
from .elemwise import cast
from .shape import shape_i, shape_padleft


# ----------------------------------------------------------------------------- alloc
def _alloc_infer(op, inputs):
    value, dims = inputs[0], inputs[1:]
    for k, d in enumerate(dims):
        if d.ndim != 0 or not d.dtype.startswith(("int", "uint")):
            raise TypeError(f"alloc: dimension {k} must be an integer scalar, got {d.type}")
    if value.ndim > len(dims):
        raise ValueError(f"alloc: value of {value.ndim} dimensions cannot fill {len(dims)} dimensions")
    static = []
    for d in dims:
        c = constant_value(d)
        static.append(None if c is None else int(c))
    for k, s in enumerate(static):
        if s is not None and s < 0:
            raise ValueError(f"alloc: negative dimension {s}")
    off = len(dims) - value.ndim
    for k, vs in enumerate(value.type.shape):
        if vs not in (None, 1) and static[off + k] not in (None, vs):
            raise ValueError(f"alloc: value of shape {value.type.shape} cannot be broadcast to {tuple(static)}")
        if static[off + k] is None and vs not in (None, 1):
            static[off + k] = vs
    return TensorType(value.dtype, tuple(static))


def _alloc_perform(value, *dims):
    return np.array(np.broadcast_to(value, tuple(int(d) for d in dims)))


declare("alloc", "creation", None, _alloc_infer, _alloc_perform, cost=0.5,
        doc="a new tensor of the given shape filled by broadcasting value")


def alloc(value, *shape):
    """Fill a new tensor of ``shape`` with ``value`` broadcast (PyTensor's ``alloc``).

    >>> from eqtensor import tensor as pt
    >>> pt.alloc(pt.dvector("v", shape=(3,)), 2, 3).type.shape
    (2, 3)
    """

    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    dims = []
    for k, d in enumerate(shape):
        d = as_tensor_variable(d)
        if d.ndim != 0 or d.dtype not in INT_DTYPES:
            raise TypeError(f"alloc: dimension {k} must be an integer scalar, got {d} of type {d.type}")
        dims.append(cast(d, "int64"))
    return Op(OPS["alloc"])(as_tensor_variable(value), *dims)


def broadcast_to(x, shape):
    """Broadcast ``x`` to ``shape`` (a new tensor, as PyTensor's ``alloc``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.broadcast_to(np.arange(3), (2, 3)).eval()
    array([[0, 1, 2],
           [0, 1, 2]])
    """
    return alloc(x, *shape)


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


__all__ = ["alloc", "broadcast_arrays", "broadcast_to", "fill"]
