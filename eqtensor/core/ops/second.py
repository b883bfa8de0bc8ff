"""PyTensor's ``second``: ``b`` broadcast against ``a``, whose values are never read.

Its use is the gradient's seed: the reverse pass starts from ``second(cost, 1)`` (and gives zero
gradients as ``second(wrt, 0)``), so a gradient's graph keeps the cost's inputs and a function of
it takes them, as in PyTensor. The algebraic rule ``second_same_type`` rewrites ``second(a, b)``
to ``b`` when ``b`` already has the result's type, so an optimized function computes neither.
See docs/derivatives.md, "The seed".

>>> from eqtensor import tensor as pt
>>> x = pt.dscalar("x")
>>> y = second(x, 1.0)
>>> y.owner.inputs[0] is x, float(y.eval({x: 5.0}))
(True, 1.0)
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, broadcast_static_shapes, declare


def _infer(op, inputs):
    return TensorType(inputs[1].dtype, broadcast_static_shapes("second", inputs))


def _perform(a, b):
    return np.array(np.broadcast_to(b, np.broadcast_shapes(np.shape(a), np.shape(b))))


declare("second", "elemwise", 2, _infer, _perform, cost=0, reference=lambda mp, a, b: b,
        grad_domain=((-2, 2), (-2, 2)), doc="b broadcast against a (a's values unused)")


def second(a, b):
    """``b`` broadcast against ``a`` (the shape both broadcast to, ``b``'s dtype), with ``a`` kept
    in the graph. ``eqtensor.tensor.second`` is :func:`~eqtensor.core.ops.broadcast.fill`, which
    returns ``b`` itself when it already has that shape."""
    return Op(OPS["second"])(as_tensor_variable(a), as_tensor_variable(b))
