"""Gradient-marker ops: identities in the forward graph (a view of their input, NumPy template
``{0}``) whose only meaning is their VJP rule. Built by :func:`eqtensor.gradient.zero_grad`,
``disconnected_grad``, ``undefined_grad``, ``grad_clip`` and ``grad_scale``.

>>> from eqtensor.rules.gradients import RULES
>>> RULES["grad_clip"].why
'grad_clip(x, lo, hi) is x whose gradient is clipped to [lo, hi]'
"""

from __future__ import annotations

from ..core.op import declare
from ..core.ops import elemwise as E
from .gradients import ZERO, NullGrad, vjp


def _identity(x, **params):
    return x


def _marker(name, doc, params=()):
    return declare(name, "other", 1, lambda op, inputs: inputs[0].type, _identity, params=params, cost=0,
                   view_of=0, numpy="{0}", doc=doc)


_marker("zero_grad", "identity whose gradient is zero")
_marker("disconnected_grad", "identity through which the gradient is disconnected")
_marker("undefined_grad", "identity whose gradient is undefined")
_marker("grad_clip", "identity whose gradient is clipped to [lower, upper]", ("lower", "upper"))
_marker("grad_scale", "identity whose gradient is multiplied by multiplier", ("multiplier",))


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
