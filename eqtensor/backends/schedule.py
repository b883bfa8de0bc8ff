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

    def broadcast_checks(self) -> dict[int, list[tuple[int, list[int]]]]:
        """The run-time broadcast checks still needed, per node index (see :func:`broadcast_checks`)."""
        checks = self.__dict__.get("_checks")
        if checks is None:
            checks = self.__dict__["_checks"] = broadcast_checks(self.nodes)
        return checks


def broadcast_checks(nodes) -> dict[int, list[tuple[int, list[int]]]]:
    """For each elementwise node (by index in ``nodes``, a topological order), the run-time checks
    ``(axis, input positions)`` that must still run: those of
    :func:`~eqtensor.core.op.runtime_broadcast_checks` whose inputs are not already known to have
    equal lengths along the axis.

    Lengths are tracked in classes: a node's output length along an axis equals its inputs' there
    once an elementwise node's check passed (or was not needed), a dimshuffle keeps its input's
    lengths, and ``alloc(v, shape_i(x, i), …)`` has ``x``'s length ``i``; a static length is its
    own class. A check whose inputs are all in one class is dropped, so the chains a gradient builds
    (``g * (1 - sqr(tanh(x)))`` over the same run-time length) check once, not at every node.

    >>> from eqtensor import tensor as pt
    >>> from eqtensor.core.graph import toposort
    >>> x, y = pt.dvector("x"), pt.dvector("y")
    >>> nodes = toposort([(x * y) + x])
    >>> broadcast_checks(nodes)   # the add needs no check: x * y has x's length
    {0: [(0, [0, 1])]}
    """
    parent: dict = {}

    def find(t):
        root = t
        while parent.get(root, root) != root:
            root = parent[root]
        while t != root:
            parent[t], t = root, parent.get(t, t)
        return root

    def union(a, b):
        a, b = find(a), find(b)
        if a != b:
            if isinstance(b, tuple) and b[0] == "static":  # a static length stays the class's name
                a, b = b, a
            parent[b] = a

    def length(v, axis):
        s = v.type.shape[axis]
        return ("static", s) if s is not None else find((id(v), axis))

    out: dict[int, list] = {}
    for k, node in enumerate(nodes):
        o, name = node.out, node.op.name
        if node.op.defn.kind == "elemwise":
            # the checks of runtime_broadcast_checks (inputs not statically broadcastable along an
            # axis, some length unknown) whose inputs are not known to agree already
            needed = []
            ins = node.inputs
            shapes = [i.type.shape for i in ins]
            oshape = o.type.shape
            for d in range(len(oshape)):
                idx = [j for j, sh in enumerate(shapes) if sh[d] != 1]
                if not idx:
                    continue
                first = length(ins[idx[0]], d)
                if len(idx) > 1:
                    classes = [length(ins[j], d) for j in idx[1:]]
                    if any(c != first for c in classes):
                        needed.append((d, idx))
                        for c in classes:
                            union(first, c)
                        first = find(first)
                if oshape[d] is None:
                    union((id(o), d), first)
            if needed:
                out[k] = needed
        elif name == "dimshuffle":
            for d, src in enumerate(node.op.params["order"]):
                if src != "x" and o.type.shape[d] is None:
                    union((id(o), d), length(node.inputs[0], src))
        elif name == "alloc":
            for d, dim in enumerate(node.inputs[1:]):
                while dim.owner is not None and dim.owner.op.name == "cast" and dim.dtype == "int64" \
                        and dim.owner.inputs[0].dtype == "int64":
                    dim = dim.owner.inputs[0]
                if dim.owner is not None and dim.owner.op.name == "shape_i" and d < o.ndim \
                        and o.type.shape[d] is None:
                    union((id(o), d), length(dim.owner.inputs[0], dim.owner.op.params["i"]))
    return out


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
