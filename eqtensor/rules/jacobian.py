"""``jacobian`` and ``hessian``: full derivative matrices from vector-Jacobian products.

Row ``i`` of the Jacobian of ``y`` is the gradient of ``y.ravel()[i]``: a VJP seeded with the
one-hot vector ``e_i``. Two ways to build all rows here:

- **unrolled** (``vectorize=False``, shapes known statically): one VJP per element, stacked. Each
  row is an ordinary graph the e-graph optimizes with the rest; the graph grows with the size.
- **batched** (``vectorize=True``, any shapes): one VJP seeded with a symbolic row vector, then
  :func:`~eqtensor.core.vectorize.vectorize_graph` over the rows of ``eye(n)``: the whole Jacobian
  is one graph of batched ops (a matrix product where the VJP has a vector product), whatever ``n``
  is at run time. Every op of the gradient graph needs a batching rule.

Each row's seed is ``second(expression, e_i)``: a row of the Jacobian is the gradient of a cost
(an element of the expression), and like every gradient it keeps the expression's inputs in the
graph (docs/derivatives.md, "The seed").

The third way, a loop over the rows (``scan``, PyTensor's default, for sizes known only at run
time), needs the scan face and lives in :func:`eqtensor.gradient.jacobian`.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")    # no static shape
>>> jacobian(x ** 2, x, vectorize=True).eval({x: np.array([1.0, 3.0])})
array([[2., 0.],
       [0., 6.]])
"""

from __future__ import annotations

import math

import numpy as np

from ..core.graph import Constant, TensorType, Variable
from ..core.op import as_tensor_variable
from ..core.ops.broadcast import alloc
from ..core.ops.creation import eye
from ..core.ops.second import second
from ..core.ops.join import stack
from ..core.ops.shape import reshape
from ..core.vectorize import vectorize_graph
from . import vjp
from .autodiff import _as_list, _grad_dtype, grad


def static_shape(expression, hint=None):
    """``expression``'s shape if known when the graph is built (``hint`` fills unknown lengths), else None."""
    hint = hint or expression.type.shape
    shape = tuple(a if a is not None else b for a, b in zip(expression.type.shape, hint))
    return None if None in shape else shape


def _shaped(rows, expression, w):
    """``rows`` (``(n, *w.shape)``) as ``expression.shape + w.shape``."""
    if expression.ndim == 1:
        return rows
    return reshape(rows, tuple(vjp.dims(expression)) + tuple(vjp.dims(w)))


def unrolled(expression, wrt_list, shape, consider_constant=None, disconnected_inputs="raise"):
    """The Jacobians of ``expression`` (of static shape ``shape``) with respect to each of
    ``wrt_list``, one VJP per element."""
    n = math.prod(shape)
    rows = [[] for _ in wrt_list]
    dtype = _grad_dtype(expression)
    for k in range(n):
        seed = np.zeros(n, dtype)
        seed[k] = 1
        gs = grad(None, wrt_list, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
                  known_grads={expression: second(expression, Constant(seed.reshape(shape)))})
        for row, g in zip(rows, gs):
            row.append(g)
    out = []
    for row, w in zip(rows, wrt_list):
        j = stack(row)
        if len(shape) != 1:
            j = reshape(j, tuple(shape) + tuple(vjp.dims(w)))
        out.append(j)
    return out


def flat_length(expression):
    """The number of elements of ``expression``: an int if known statically, else an int64 scalar."""
    known = static_shape(expression)
    if known is not None:
        return math.prod(known)
    dims = vjp.dims(expression)
    n = dims[0]
    for d in dims[1:]:
        n = n * d
    return n


def batched(expression, wrt_list, consider_constant=None, disconnected_inputs="raise"):
    """The Jacobians of ``expression`` with respect to each of ``wrt_list`` by one batched VJP
    (shapes may be symbolic)."""
    n = flat_length(expression)
    flat = reshape(expression, (n,))
    tangent = Variable(TensorType(_grad_dtype(expression), flat.type.shape), name="row_tangent")
    single_rows = grad(None, wrt_list, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
                       known_grads={flat: second(flat, tangent)}, return_disconnected="zero")
    try:
        all_rows = vectorize_graph(single_rows, {tangent: eye(n, dtype=tangent.dtype)})
    except NotImplementedError as e:
        e.add_note("(jacobian(..., vectorize=True) batches the gradient graph; vectorize=False loops instead)")
        raise
    out = []
    for single, rows, w in zip(single_rows, all_rows, wrt_list):
        if rows.ndim == single.ndim:  # the row does not depend on the seed (a disconnected or zero gradient)
            rows = alloc(rows, n, *vjp.dims(w))
        out.append(_shaped(rows, expression, w))
    return out


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise", vectorize=False):
    """d expression / d wrt, of shape ``expression.shape + wrt.shape`` (one per ``wrt`` if a list).

    ``vectorize=True`` builds it by one batched VJP (any shapes); ``vectorize=False`` by one VJP per
    element, which needs the expression's shape statically (:func:`eqtensor.gradient.jacobian`
    loops with ``scan`` otherwise). A 0-d expression gives its gradient.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.vector("x", shape=(2,), dtype="float64")
    >>> jacobian(x ** 2, x).eval({x: np.array([1.0, 3.0])})
    array([[2., 0.],
           [0., 6.]])
    """
    expression = as_tensor_variable(expression)
    wrt_list, rebuild = _as_list(wrt, "jacobian: wrt")
    if expression.ndim == 0:
        return grad(expression, wrt, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    if vectorize:
        return rebuild(batched(expression, wrt_list, consider_constant, disconnected_inputs))
    shape = static_shape(expression)
    if shape is None:
        raise ValueError(
            f"jacobian: the shape of {expression} is not known statically (static shape "
            f"{expression.type.shape}), and vectorize=False builds one vector-Jacobian product per element. "
            f"Use vectorize=True (one batched product), or eqtensor.gradient.jacobian (a scan over the rows)")
    return rebuild(unrolled(expression, wrt_list, shape, consider_constant, disconnected_inputs))

