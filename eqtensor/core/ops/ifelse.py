"""The ``ifelse`` op: a lazy choice between two values on a scalar boolean condition.

``ifelse(cond, then, else)`` is one node per output (the face :func:`eqtensor.ifelse.ifelse`
builds one node per pair of branches). Its value is ``then`` when ``cond`` is true, else ``else``;
the two branches may have different shapes (the output's static length is known only where both
agree). To the optimizer it is an ordinary op whose branches are inputs; laziness is a property
of execution: the reference interpreter (:func:`eqtensor.core.evaluate.evaluate`) evaluates only
the chosen branch, and the backends' schedule (:mod:`eqtensor.backends.branches`) runs the nodes
needed only by one branch inside a real ``if``.

>>> from eqtensor.core.op import OPS
>>> OPS["ifelse"].nin, OPS["ifelse"].kind
(3, 'other')
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import declare

#: the op's name, for the modules that treat it specially (interpreter, schedule, backends)
IFELSE = "ifelse"


def _infer(op, inputs):
    cond, then, other = inputs
    if cond.ndim != 0 or cond.dtype != "bool":
        raise TypeError(f"ifelse: the condition must be a boolean scalar, got {cond} of type {cond.type}")
    if then.dtype != other.dtype or then.ndim != other.ndim:
        raise TypeError(f"ifelse: the two branches must have the same dtype and number of dimensions, got "
                        f"then={then.type} and else={other.type}")
    shape = tuple(a if a == b else None for a, b in zip(then.type.shape, other.type.shape))
    return TensorType(then.dtype, shape)


def _perform(cond, then, other):
    """A copy of the chosen value, given both (only constant folding calls this: the interpreter and
    the backends evaluate one branch, and the backends let the output alias it instead)."""
    return np.array(then if cond else other, copy=True)


declare(IFELSE, "other", 3, _infer, _perform, cost=0, differentiable=True,
        doc="lazy choice: the second input if the (boolean scalar) first is true, else the third; only the "
            "chosen branch is computed")
