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
from .elemwise import cast, maximum
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


def _shape_entries(x, arrays_are_shapes):
    """A shape as a list of ints (known lengths) and int64 scalars."""
    if not arrays_are_shapes:
        x = as_tensor_variable(x)
        return [s if s is not None else shape_i(x, d) for d, s in enumerate(x.type.shape)]
    out = []
    for d in x:
        if isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)):
            out.append(int(d))
            continue
        v = as_tensor_variable(d)
        if v.ndim != 0 or v.dtype not in INT_DTYPES:
            raise TypeError(f"broadcast_shape: shape entries must be integer scalars, got {v} of type {v.type}")
        c = constant_value(v)
        out.append(int(c) if c is not None else cast(v, "int64"))
    return out


def broadcast_shape(*arrays, arrays_are_shapes=False, allow_runtime_broadcast=False):
    """The shape the ``arrays`` broadcast to, as a tuple of int64 scalars (constants where the
    length is known). With ``arrays_are_shapes=True`` the arguments are shapes (sequences of ints
    and integer scalars). A length known to be 1 broadcasts; two different known lengths raise
    ``ValueError``. Where only symbolic lengths remain, the result is their maximum: the length
    when they agree, and with ``allow_runtime_broadcast`` also when some of them are 1 at run
    time (they are not checked against each other).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> [int(d.eval()) for d in pt.broadcast_shape(np.ones((3, 1)), np.ones(4))]
    [3, 4]
    >>> n = pt.lscalar("n")
    >>> pt.broadcast_shape((n, 2), (1, 1), arrays_are_shapes=True)
    (n, 2)
    """
    shapes = [_shape_entries(a, arrays_are_shapes) for a in arrays]
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(ndim):
        entries = [s[d - ndim + len(s)] for s in shapes if d - ndim + len(s) >= 0]
        known = {e for e in entries if isinstance(e, int) and e != 1}
        if len(known) > 1:
            raise ValueError(f"broadcast_shape: shapes {[tuple(s) for s in shapes]} cannot be broadcast: lengths "
                             f"{sorted(known)} along axis {d} (of {ndim})")
        symbolic = [e for e in entries if not isinstance(e, int)]
        if known or not symbolic:
            out.append(Constant(np.int64(known.pop() if known else 1)))
            continue
        m = symbolic[0]
        for e in symbolic[1:]:
            m = maximum(m, e)
        out.append(m)
    return tuple(out)


__all__ = ["alloc", "broadcast_arrays", "broadcast_shape", "broadcast_to", "fill"]
