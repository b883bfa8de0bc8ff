"""Rebuilding graphs with substitutions.

>>> from eqtensor import tensor as pt
>>> x, y = pt.dscalar("x"), pt.dscalar("y")
>>> [z] = clone_replace([x * 2], {x: y})
>>> z.owner.inputs[0] is y
True
"""

from __future__ import annotations

from .graph import Variable, toposort
from .op import as_tensor_variable


def clone_replace(outputs, replace: dict) -> list[Variable]:
    """Rebuild ``outputs`` with variables substituted per ``replace`` (types must match).

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> [z] = clone_replace([x * 2], {x: y})
    >>> z.owner.inputs[0] is y
    True
    """
    memo: dict[int, Variable] = {}
    for old, new in replace.items():
        new = as_tensor_variable(new)
        if new.type.dtype != old.type.dtype or new.type.ndim != old.type.ndim:
            raise TypeError(f"cannot replace {old} of type {old.type} by {new} of type {new.type}")
        memo[id(old)] = new
    for node in toposort(outputs):
        if any(id(o) in memo for o in node.outputs):
            continue
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        memo[id(node.out)] = node.op(*new_inputs)
    return [memo.get(id(o), o) for o in outputs]

