"""Lazy ``ifelse`` in the generated C: the thunk's calls of the units, nested in real ``if``/``else``.

The schedule orders each ``ifelse`` group as its ``then`` side, its ``else`` side and its
``ifelse`` nodes (:mod:`eqtensor.backends.branches`). The thunk calls each unit's function in that
order, but inside ``if (<condition>) { <then side's units> out = then-input; … } else { <else
side's units> out = else-input; … }``: a unit of the side not taken is never called. An ``ifelse``
node is no unit function: its output slot becomes a view of the chosen input (the slot holds a
reference to the same array; the schedule never lets a later node write into it, and outputs
rooted at it are copied).
"""

from __future__ import annotations

from ...core.ops.ifelse import IFELSE
from ..branches import walk

#: ops the thunk itself generates (no unit function)
BRANCH_OPS = (IFELSE,)


def _take(gen, members, pos):
    """``out = input pos`` for each ifelse node of ``members``: the slot views the chosen input."""
    lines = []
    for node in members:
        o, i = gen.slot_of(node.out), gen.slot_of(node.inputs[pos])
        lines += [f"eq_view(&V[{o}], &V[{i}]); V[{o}].nd = V[{i}].nd;",
                  f"memcpy(V[{o}].shape, V[{i}].shape, sizeof V[{o}].shape); "
                  f"memcpy(V[{o}].strides, V[{i}].strides, sizeof V[{o}].strides);"]
    return lines


def thunk_calls(gen, schedule, calls: dict, releases: dict) -> list[str]:
    """The thunk's lines: ``calls[k]`` (the call of the unit whose root is node ``k``) in schedule
    order, the ``ifelse`` groups as ``if``/``else`` blocks, and after each group ``releases[k]``
    (the slots its ifelse node ``k`` read for the last time)."""
    nodes = schedule.nodes
    lines = []
    for kind, k, depth in walk(schedule.branches, 0, len(nodes)):
        pad = "    " * depth
        if kind == "node":
            if k in calls:
                lines.append(pad + calls[k])
            continue
        members = nodes[k.else_end:k.end]
        if kind == "if":
            cond = gen.slot_of(members[0].inputs[0])
            lines.append(f"{pad}if (*(npy_bool *)V[{cond}].data) {{")
        elif kind in ("then", "else values"):
            lines += [pad + line for line in _take(gen, members, 1 if kind == "then" else 2)]
        elif kind == "else":
            lines.append(pad + "} else {")
        else:
            lines.append(pad + "}")
            lines += [pad + line for m in range(k.else_end, k.end) for line in releases.get(m, ())]
    return lines
