"""VJP rules: one per differentiable op of :data:`eqtensor.core.op.OPS`, keyed by the op's name.

Each rule reads as a rewrite ``op(inputs) with output cotangent g  ->  input cotangents``: a
function ``(op, inputs, out, g)`` returning one expression per input, written with the same tensor
API users write (so the result is an ordinary graph: printable, differentiable again, optimized by
the e-graph). An entry may be ``None`` (the input is disconnected, e.g. a shape argument) or
:data:`~eqtensor.rules.vjp.ZERO` (connected, zero gradient). The driver (:mod:`eqtensor.rules.autodiff`) sums
cotangents back over the input's statically broadcastable dimensions and casts them to the input's
dtype, so elementwise rules simply return ``g``-shaped expressions.

Ops declared ``differentiable=False`` have no rule: their float inputs get a zero gradient (ops of
kind ``shape`` — ``shape``, ``shape_i`` — are disconnected from their input, as in PyTensor).

The gradient-marker ops (``zero_grad``, ``disconnected_grad``, ``undefined_grad``, ``grad_clip``,
``grad_scale``, declared in :mod:`eqtensor.core.ops.markers`) have rules like any other op.

The rules are written by op family — :mod:`~eqtensor.rules.vjp_elemwise`, :mod:`~eqtensor.rules.vjp_reduction`,
:mod:`~eqtensor.rules.vjp_shape`, :mod:`~eqtensor.rules.vjp_linalg`, :mod:`~eqtensor.rules.vjp_decompositions`,
:mod:`~eqtensor.rules.vjp_markers`, :mod:`~eqtensor.rules.vjp_control`, :mod:`~eqtensor.rules.vjp_special`,
:mod:`~eqtensor.rules.vjp_scan` — and assembled here into
:data:`RULES`, the one table the driver reads.

>>> RULES["exp"].why
'd exp(x) = exp(x) dx: reuse the output'
>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> [gx] = RULES["sin"](pt.sin(x).owner.op, (x,), pt.sin(x), x, backprop=None)  # only scan's rule uses backprop
>>> gx.owner.op.name
'mul'
"""

from __future__ import annotations

from . import vjp_control, vjp_decompositions, vjp_elemwise, vjp_linalg, vjp_markers, vjp_reduction, vjp_shape
from . import vjp_scan, vjp_special
from .vjp import VJPRule

#: differentiable ops whose VJP rule is a placeholder that raises ``NotImplementedError`` (op name ->
#: why): they are exempt from the finite-difference samples the test suite otherwise requires, and
#: the suite checks instead that ``grad`` through them raises. Remove an entry with its real rule.
NOT_IMPLEMENTED: dict[str, str] = {}


def _table(*families: list[VJPRule]) -> dict[str, VJPRule]:
    table: dict[str, VJPRule] = {}
    for family in families:
        for rule in family:
            if rule.name in table:
                raise ValueError(f"VJP rule for {rule.name!r} defined twice")
            table[rule.name] = rule
    return table


#: op name -> VJPRule
RULES: dict[str, VJPRule] = _table(vjp_elemwise.VJPS, vjp_reduction.VJPS, vjp_shape.VJPS, vjp_linalg.VJPS,
                                   vjp_decompositions.VJPS, vjp_markers.VJPS, vjp_control.VJPS, vjp_special.VJPS,
                                   vjp_scan.VJPS)
