"""Gradient-marker ops: identities in the forward graph (a view of their input, NumPy template
``{0}``) whose only meaning is their VJP rule (in :mod:`eqtensor.rules.gradients`). Built by
:func:`eqtensor.gradient.zero_grad`, ``disconnected_grad``, ``undefined_grad``, ``grad_clip`` and
``grad_scale``.

>>> from eqtensor.core.op import OPS
>>> OPS["grad_clip"].params
('lower', 'upper')
"""

from __future__ import annotations

from ..op import declare


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
