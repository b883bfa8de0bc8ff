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

from .graph import Constant, SharedVariable, Variable


def evaluate(outputs: list[Variable], values: dict) -> list[np.ndarray]:
    """The values of ``outputs`` given ``values`` ({input variable: array}) for their inputs.

    Constants and shared variables supply their own values; any other leaf must be in ``values``.
    Evaluation is demand-driven: an ``ifelse`` node evaluates its condition, then only the chosen
    branch (nodes needed only by the other branch are never run). Floating-point warnings are
    silenced: a graph's value may be inf or nan.
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

    def pending(v: Variable) -> bool:
        return v.owner is not None and id(v) not in env

    with np.errstate(all="ignore"):
        stack = [o for o in reversed(outputs) if pending(o)]
        while stack:  # explicit stack: deep graphs do not reach the recursion limit
            v = stack[-1]
            if not pending(v):
                stack.pop()
                continue
            node = v.owner
            if node.op.name == "ifelse":
                cond = node.inputs[0]
                needed = [cond] if pending(cond) else [node.inputs[1 if value(cond) else 2]]
            else:
                needed = node.inputs
            missing = [i for i in needed if pending(i)]
            if missing:
                stack.extend(missing)
                continue
            if node.op.name == "ifelse":
                env[id(v)] = value(needed[0])
            else:
                env[id(v)] = np.asarray(node.op.perform(*[value(i) for i in node.inputs]))
            stack.pop()
    return [value(o) for o in outputs]
