"""Scheduling: order the nodes, compute liveness and memory aliasing, pick in-place ops.

Backends receive a :class:`Schedule` (never the e-graph). A variable's *root* is the variable
whose memory it may share (through view ops such as dimshuffle and reshape); leaves (inputs,
shared values, constants) are roots the function does not own and must never write to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.fgraph import FunctionGraph
from ..core.graph import Apply, Variable
from ..core.op import runtime_broadcast_checks
from ..core.ops.ifelse import IFELSE
from .branches import conditional_indices, order_branches


@dataclass
class Schedule:
    fgraph: FunctionGraph
    nodes: list[Apply]
    root: dict[int, Variable]  # id(var) -> memory root
    last_use: dict[int, int]  # id(var) -> index of the last node reading it (len(nodes) for outputs)
    inplace: dict[int, int]  # node index -> input position whose buffer receives the output
    copy_outputs: list[bool]  # output position -> must be copied (aliases a leaf or another output)
    branches: dict = field(default_factory=dict)  # lazy ifelse groups: eqtensor.backends.branches

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
            checks = self.__dict__["_checks"] = broadcast_checks(self.nodes, conditional_indices(self.branches))
        return checks


def broadcast_checks(nodes, conditional=frozenset()) -> dict[int, list[tuple[int, list[int]]]]:
    """For each elementwise node (by index in ``nodes``, a topological order), the run-time checks
    ``(axis, input positions)`` that must still run: those of
    :func:`~eqtensor.core.op.runtime_broadcast_checks` whose inputs are not already known to have
    equal lengths along the axis.

    Lengths are tracked in classes: a node's output length along an axis equals its inputs' there
    once an elementwise node's check passed (or was not needed), a dimshuffle keeps its input's
    lengths, and ``alloc(v, shape_i(x, i), …)`` has ``x``'s length ``i``; a static length is its
    own class. Nodes of ``conditional`` (indices of nodes that run only when an ``ifelse`` branch is
    taken) keep all their checks and teach nothing: they may not run. A check whose inputs are all in one class is dropped, so the chains a gradient builds
    (``g * (1 - sqr(tanh(x)))`` over the same run-time length) check once, not at every node.

    >>> from eqtensor import tensor as pt
    >>> from eqtensor.core.traversal import toposort
    >>> x, y = pt.dvector("x"), pt.dvector("y")
    >>> nodes = toposort([(x * y) + x])
    >>> broadcast_checks(nodes)   # the add needs no check: x * y has x's length
    {0: [(0, [0, 1])]}
    """
    lengths = _Lengths()
    out: dict[int, list] = {}
    for k, node in enumerate(nodes):
        o, name = node.out, node.op.name
        if k in conditional:
            needed = runtime_broadcast_checks(node.inputs) if node.op.defn.kind == "elemwise" else None
            if needed:
                out[k] = needed
        elif node.op.defn.kind == "elemwise":
            needed = _elemwise_checks(node, lengths)
            if needed:
                out[k] = needed
        elif name == "dimshuffle":
            for d, src in enumerate(node.op.params["order"]):
                if src != "x" and o.type.shape[d] is None:
                    lengths.union((id(o), d), lengths.of(node.inputs[0], src))
        elif name == "alloc":
            _alloc_lengths(node, lengths)
    return out


class _Lengths:
    """Classes of run-time lengths known to be equal (union-find): a length is ``(id(var), axis)``,
    or ``("static", n)`` for a static length ``n``, which names its class."""

    def __init__(self):
        self.parent: dict = {}

    def find(self, t):
        parent = self.parent
        root = t
        while parent.get(root, root) != root:
            root = parent[root]
        while t != root:
            parent[t], t = root, parent.get(t, t)
        return root

    def union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b:
            if isinstance(b, tuple) and b[0] == "static":  # a static length stays the class's name
                a, b = b, a
            self.parent[b] = a

    def of(self, v, axis):
        """The class of ``v``'s length along ``axis``."""
        s = v.type.shape[axis]
        return ("static", s) if s is not None else self.find((id(v), axis))


def _elemwise_checks(node, lengths) -> list[tuple[int, list[int]]]:
    """The checks of :func:`~eqtensor.core.op.runtime_broadcast_checks` of elementwise ``node``
    (inputs not statically broadcastable along an axis, some length unknown) whose inputs are not
    known to agree already; records that they agree afterwards, and the output's lengths."""
    o = node.out
    needed = []
    ins = node.inputs
    shapes = [i.type.shape for i in ins]
    oshape = o.type.shape
    for d in range(len(oshape)):
        idx = [j for j, sh in enumerate(shapes) if sh[d] != 1]
        if not idx:
            continue
        first = lengths.of(ins[idx[0]], d)
        if len(idx) > 1:
            classes = [lengths.of(ins[j], d) for j in idx[1:]]
            if any(c != first for c in classes):
                needed.append((d, idx))
                for c in classes:
                    lengths.union(first, c)
                first = lengths.find(first)
        if oshape[d] is None:
            lengths.union((id(o), d), first)
    return needed


def _alloc_lengths(node, lengths):
    """``alloc(v, shape_i(x, i), …)`` (through int64 casts) has ``x``'s length ``i`` along that axis."""
    o = node.out
    for d, dim in enumerate(node.inputs[1:]):
        while dim.owner is not None and dim.owner.op.name == "cast" and dim.dtype == "int64" \
                and dim.owner.inputs[0].dtype == "int64":
            dim = dim.owner.inputs[0]
        if dim.owner is not None and dim.owner.op.name == "shape_i" and d < o.ndim \
                and o.type.shape[d] is None:
            lengths.union((id(o), d), lengths.of(dim.owner.inputs[0], dim.owner.op.params["i"]))


def make_schedule(fgraph: FunctionGraph, allow_inplace: bool = True) -> Schedule:
    """Order ``fgraph``'s nodes and decide buffers (see the module docstring)."""
    nodes, branches = order_branches(fgraph.toposort(), fgraph.outputs)
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
    # an ifelse output is the value of whichever branch was taken: like a leaf, it is never written
    # in place, and an output rooted at it is copied
    borrowed: set[int] = set()
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
                    and id(r) not in borrowed
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
        elif node.op.name == IFELSE:
            add(out, out)
            borrowed.add(id(out))
        else:
            add(out, out)
    copy_outputs = []
    seen_roots: set[int] = set()
    for o in fgraph.outputs:
        r = root[id(o)] if id(o) in root else o
        copy_outputs.append(r.owner is None or id(r) in seen_roots or id(r) in borrowed)
        seen_roots.add(id(r))
    return Schedule(fgraph, nodes, root, last_use, inplace, copy_outputs, branches)
