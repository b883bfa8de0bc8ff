"""Scheduling: order the nodes, compute liveness and memory aliasing, pick in-place ops.

Backends receive a :class:`Schedule` (never the e-graph). A variable's *root* is the variable
whose memory it may share (through view ops such as dimshuffle and reshape); leaves (inputs,
shared values, constants) are roots the function does not own and must never write to.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.fgraph import FunctionGraph
from ..core.graph import Apply, Variable


@dataclass
class Schedule:
    fgraph: FunctionGraph
    nodes: list[Apply]
    root: dict[int, Variable]  # id(var) -> memory root
    last_use: dict[int, int]  # id(var) -> index of the last node reading it (len(nodes) for outputs)
    inplace: dict[int, int]  # node index -> input position whose buffer receives the output
    copy_outputs: list[bool]  # output position -> must be copied (aliases a leaf or another output)

    @property
    def inputs(self):
        return self.fgraph.inputs

    @property
    def outputs(self):
        return self.fgraph.outputs


def make_schedule(fgraph: FunctionGraph, allow_inplace: bool = True) -> Schedule:
    """Order ``fgraph``'s nodes and decide buffers (see the module docstring)."""
    nodes = fgraph.toposort()
    end = len(nodes)
    last_use: dict[int, int] = {}
    for k, node in enumerate(nodes):
        for i in node.inputs:
            last_use[id(i)] = k
    for o in fgraph.outputs:
        last_use[id(o)] = end
    root: dict[int, Variable] = {}
    root_last: dict[int, int] = {}  # id(root) -> last node reading any variable sharing its memory

    def add(v, r):
        root[id(v)] = r
        root_last[id(r)] = max(root_last.get(id(r), -1), last_use.get(id(v), -1))

    for v in fgraph.inputs:
        add(v, v)
    inplace: dict[int, int] = {}
    for k, node in enumerate(nodes):
        for i in node.inputs:
            if id(i) not in root:
                add(i, i)
        out, defn = node.out, node.op.defn
        chosen = None
        if allow_inplace and defn.ufunc is not None and out.ndim > 0:
            for pos, i in enumerate(node.inputs):
                r = root[id(i)]
                if (
                    r.owner is not None
                    and i.dtype == out.dtype
                    and i.type.shape == out.type.shape
                    and root_last[id(r)] == k
                    and sum(1 for j in node.inputs if root[id(j)] is r) == 1
                ):
                    chosen = pos
                    break
        if chosen is not None:
            inplace[k] = chosen
            add(out, root[id(node.inputs[chosen])])
        elif defn.view_of is not None:
            add(out, root[id(node.inputs[defn.view_of])])
        else:
            add(out, out)
    copy_outputs = []
    seen_roots: set[int] = set()
    for o in fgraph.outputs:
        r = root[id(o)] if id(o) in root else o
        copy_outputs.append(r.owner is None or id(r) in seen_roots)
        seen_roots.add(id(r))
    return Schedule(fgraph, nodes, root, last_use, inplace, copy_outputs)
