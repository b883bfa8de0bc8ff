"""VJP rules of the gradient markers declared in :mod:`eqtensor.core.ops.markers` (``zero_grad``,
``disconnected_grad``, ``undefined_grad``, ``grad_clip``, ``grad_scale``) and of the identity ``print``.
"""

from __future__ import annotations

from ..core.ops import elemwise as E
from .vjp import ZERO, NullGrad, VJPRule, collector

VJPS: list[VJPRule] = []
vjp = collector(VJPS)


@vjp("zero_grad", "zero_grad(x) is x with a zero gradient")
def _zero_grad(op, inputs, out, g):
    return (ZERO,)


@vjp("disconnected_grad", "disconnected_grad(x) is x seen as a constant by grad", only=())
def _disconnected_grad(op, inputs, out, g):
    return (None,)


@vjp("undefined_grad", "undefined_grad(x) is x whose gradient is undefined")
def _undefined_grad(op, inputs, out, g):
    return (NullGrad(f"the gradient of {inputs[0]} was declared undefined by undefined_grad"),)


@vjp("grad_clip", "grad_clip(x, lo, hi) is x whose gradient is clipped to [lo, hi]")
def _grad_clip(op, inputs, out, g):
    return (E.clip(g, op.params["lower"], op.params["upper"]),)


@vjp("grad_scale", "grad_scale(x, m) is x whose gradient is multiplied by m")
def _grad_scale(op, inputs, out, g):
    return (g * op.params["multiplier"],)


@vjp("print", "print(x) is x (printed at run time): the gradient passes through, unprinted")
def _print(op, inputs, out, g):
    return (g,)


@vjp("check", "check(x, cond) is x (cond asserted at run time): the gradient passes through", only=(0,))
def _check(op, inputs, out, g):
    return g, None
