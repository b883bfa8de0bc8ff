"""The reference interpreter: evaluate a graph node by node with each op's NumPy ``perform``.

It defines what a graph means without optimizing or compiling it; the rule checker, the scan
op (before a backend compiles its inner graph) and the gradient checks use it.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> evaluate([pt.exp(x) + 1], {x: np.zeros(2)})
[array([2., 2.])]
"""

from __future__ import annotations

import numpy as np

from .graph import Constant, SharedVariable, Variable, toposort


def evaluate(outputs: list[Variable], values: dict) -> list[np.ndarray]:
    """The values of ``outputs`` given ``values`` ({input variable: array}) for their inputs.

    Constants and shared variables supply their own values; any other leaf must be in ``values``.
    Floating-point warnings are silenced: a graph's value may be inf or nan.
    """
    env = {id(v): np.asarray(a) for v, a in values.items()}

    def value(v: Variable):
        if id(v) in env:
            return env[id(v)]
        if isinstance(v, Constant):
            return v.data
        if isinstance(v, SharedVariable):
            return v.value
        raise ValueError(f"evaluate: no value given for the input {v} ({v.type})")

    with np.errstate(all="ignore"):
        for node in toposort(outputs):
            env[id(node.out)] = np.asarray(node.op.perform(*[value(i) for i in node.inputs]))
    return [value(o) for o in outputs]
