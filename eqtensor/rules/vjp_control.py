"""VJP rule of the control-flow op ``ifelse`` (declared in :mod:`eqtensor.core.ops.ifelse`).

The cotangent goes to the branch that was taken, with that branch's shape; the other branch gets
zeros of its own shape: ``d then = ifelse(c, g, zeros_like(then))`` and ``d else = ifelse(c,
zeros_like(else), g)``. Each is itself a lazy ``ifelse`` (the zeros are only made when needed);
the backward pass through the branches' own ops runs whichever branch was taken, as in PyTensor.
The condition is disconnected.

>>> from eqtensor import tensor as pt
>>> from eqtensor.ifelse import ifelse
>>> from eqtensor.gradient import grad
>>> c, x = pt.bscalar("c"), pt.dscalar("x")
>>> g = grad(ifelse(c, x ** 2, 3 * x), x)
>>> float(g.eval({c: 1, x: 5.0})), float(g.eval({c: 0, x: 5.0}))
(10.0, 3.0)
"""

from __future__ import annotations

from ..core.op import OPS, Op
from ..core.ops.ifelse import IFELSE
from .vjp import VJPRule, collector, zeros_like

VJPS: list[VJPRule] = []
vjp = collector(VJPS)


@vjp(IFELSE, "d ifelse(c, a, b) = ifelse(c, da, 0) + ifelse(c, 0, db): the taken branch gets the cotangent",
     only=(1, 2))
def _ifelse(op, inputs, out, g):
    cond, then, other = inputs
    choose = Op(OPS[IFELSE])
    return (None, choose(cond, g, zeros_like(then)), choose(cond, zeros_like(other), g))
