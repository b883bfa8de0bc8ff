"""Lazy ``ifelse`` in the schedule: which nodes run only when a branch is taken, and in what order.

A node *belongs to* a region: the whole function (the root), or one side of an ``ifelse`` group
inside a region. Nodes are placed in reverse topological order: a node's region is the deepest
region that contains every use of its output, where a use as the ``then`` (``else``) input of an
``ifelse`` node of region ``R`` is a use inside the ``then`` (``else``) side of that node's group
in ``R``, and any other use is a use in the consumer's region. So a node needed only by one branch
runs only when that branch is taken, and a node needed by both sides of a group (or by two
groups, or unconditionally) runs in the region enclosing all its uses (once, before the branch).

A *group* gathers the ``ifelse`` nodes of one region that test the same condition variable, so the
outputs of a tuple ``ifelse`` share one ``if``: the nodes needed only by the ``then`` side of any
of them run inside it. Two such nodes where one depends on the other (``ifelse(c, ifelse(c, a,
b) * 2, d)``) go to different groups (their *generation* differs), which keeps the groups of a
region acyclic.

The schedule stays one flat list (liveness and buffers are computed on it as before), ordered so
that each group is contiguous: its ``then`` side, its ``else`` side, then its ``ifelse`` nodes.
:class:`Branch` records those ranges; backends emit ``if cond: <then side>; out = then-input …
else: <else side>; out = else-input …`` from them, nesting groups that start inside a side.

>>> from eqtensor import tensor as pt
>>> from eqtensor.ifelse import ifelse
>>> from eqtensor.core.traversal import toposort
>>> c, x = pt.bscalar("c"), pt.dvector("x")
>>> y = ifelse(pt.neq(c, 0), pt.exp(x), pt.log(x)) + 1
>>> nodes, branches = order_branches(toposort([y]), [y])
>>> [n.op.name for n in nodes], branches
(['neq', 'exp', 'log', 'ifelse', 'add'], {1: (Branch(start=1, then_end=2, else_end=3, end=4),)})
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ..core.ops.ifelse import IFELSE


@dataclass(frozen=True)
class Branch:
    """One group in the flat order: ``nodes[start:then_end]`` run when the condition is true,
    ``nodes[then_end:else_end]`` when it is false, ``nodes[else_end:end]`` are the group's
    ``ifelse`` nodes (all with the same condition, ``nodes[else_end].inputs[0]``)."""

    start: int
    then_end: int
    else_end: int
    end: int


class _Region:
    __slots__ = ("group", "depth", "nodes", "groups")

    def __init__(self, group):
        self.group = group  # the group whose side this is (None: the root)
        self.depth = 0 if group is None else group.region.depth + 1
        self.nodes = []  # indices (in the input order) of the nodes that belong here (ifelse: in groups)
        self.groups = {}  # (id(cond), generation) -> _Group


class _Group:
    __slots__ = ("region", "sides", "members")

    def __init__(self, region):
        self.region = region
        self.sides = (_Region(self), _Region(self))
        self.members = []  # indices of its ifelse nodes


def _lca(a: _Region, b: _Region) -> _Region:
    while a.depth > b.depth:
        a = a.group.region
    while b.depth > a.depth:
        b = b.group.region
    while a is not b:
        a, b = a.group.region, b.group.region
    return a


def _generations(nodes) -> dict[int, int]:
    """For each ifelse node (by index), 1 + the highest generation of an ifelse ancestor testing
    the same condition variable (0 if none)."""
    seen: dict[int, dict] = {}  # id(var) -> {id(cond): highest generation among its ifelse ancestors}
    gen: dict[int, int] = {}
    for k, node in enumerate(nodes):
        merged: dict = {}
        for i in node.inputs:
            for c, g in seen.get(id(i), {}).items():
                if merged.get(c, -1) < g:
                    merged[c] = g
        if node.op.name == IFELSE:
            c = id(node.inputs[0])
            gen[k] = merged.get(c, -1) + 1
            merged = {**merged, c: gen[k]}
        if merged:
            seen[id(node.out)] = merged
    return gen


def _regions(nodes, outputs):
    """The region of every node (by index) and the root region."""
    gen = _generations(nodes)
    root = _Region(None)
    demand: dict[int, _Region] = {id(o): root for o in outputs}
    where: list = [None] * len(nodes)

    def use(v, region):
        if v.owner is not None:
            have = demand.get(id(v))
            demand[id(v)] = region if have is None else _lca(have, region)

    for k in range(len(nodes) - 1, -1, -1):
        node = nodes[k]
        region = demand.get(id(node.out), root)
        if node.op.name == IFELSE:
            cond = node.inputs[0]
            key = (id(cond), gen[k])
            group = region.groups.get(key)
            if group is None:
                group = region.groups[key] = _Group(region)
            group.members.append(k)
            where[k] = group
            use(cond, region)
            use(node.inputs[1], group.sides[0])
            use(node.inputs[2], group.sides[1])
        else:
            region.nodes.append(k)
            where[k] = region
            for i in node.inputs:
                use(i, region)
    return where, root


def _unit(place, region: _Region):
    """What stands for a node placed at ``place`` (its region, or its group for an ifelse node)
    among the items of ``region`` (an ancestor): the node's own region's entry, or the group of
    ``region`` that contains it."""
    group = place if isinstance(place, _Group) else None
    reg = place.region if group is not None else place
    while reg is not region:
        group = reg.group
        reg = group.region
    return group


def order_branches(nodes, outputs):
    """``(nodes, branches)``: ``nodes`` (a topological order of the graph of ``outputs``)
    reordered so that each ``ifelse`` group is contiguous, and ``{start index: (Branch, ...)}``
    (groups nested at the start of another's ``then`` side start at the same index: outermost
    first; :func:`branch_at` picks the right one). Without ``ifelse`` nodes, ``nodes`` is returned
    as it is with no branches."""
    if not any(n.op.name == IFELSE for n in nodes):
        return nodes, {}
    where, root = _regions(nodes, outputs)
    index = {id(n.out): k for k, n in enumerate(nodes)}
    # an item of a region is a node index or a group (ints hash by value, groups by identity)
    after: dict = {}  # item -> items of the same region that read it
    count: dict = {}  # item -> how many items of its region it waits for
    for k, node in enumerate(nodes):
        for i in node.inputs:
            j = index.get(id(i))
            if j is None:
                continue
            a, b = where[j], where[k]
            region = _lca(a.region if isinstance(a, _Group) else a, b.region if isinstance(b, _Group) else b)
            src, dst = _unit(a, region), _unit(b, region)
            src = j if src is None else src
            dst = k if dst is None else dst
            if src is not dst:
                after.setdefault(src, []).append(dst)
                count[dst] = count.get(dst, 0) + 1
    order: list = []
    branches: dict = {}

    def first(item):
        return item if isinstance(item, int) else min(item.members)

    def emit(region: _Region):
        items = region.nodes + list(region.groups.values())
        ready = [(first(it), n, it) for n, it in enumerate(items) if count.get(it, 0) == 0]
        heapq.heapify(ready)
        pos = {it: n for n, it in enumerate(items)}
        while ready:
            _, _, item = heapq.heappop(ready)
            if isinstance(item, int):
                order.append(nodes[item])
            else:
                start = len(order)
                emit(item.sides[0])
                then_end = len(order)
                emit(item.sides[1])
                else_end = len(order)
                order.extend(nodes[k] for k in sorted(item.members))
                branches[start] = (Branch(start, then_end, else_end, len(order)),) + branches.get(start, ())
            for nxt in after.get(item, ()):
                count[nxt] -= 1
                if count[nxt] == 0:
                    heapq.heappush(ready, (first(nxt), pos[nxt], nxt))

    emit(root)
    if len(order) != len(nodes):
        raise RuntimeError("order_branches: the ifelse groups could not be ordered (a dependency cycle)")
    return order, branches


def branch_at(branches, k: int, stop: int):
    """The outermost group starting at index ``k`` and ending at or before ``stop`` (the end of
    the range being emitted), or None: at the start of a group's ``then`` side, the groups nested
    there, not the group itself."""
    for b in branches.get(k, ()):
        if b.end <= stop:
            return b
    return None


def walk(branches, start: int, stop: int, depth: int = 0):
    """The structured walk of the scheduled nodes ``start..stop``, for code generators: yields
    ``("node", k, depth)`` for a node outside groups, and for a group ``b`` (nested groups inside
    its sides, one level deeper)::

        ("if", b, depth)    then side    ("then", b, depth + 1)    ("else", b, depth)
        else side    ("else values", b, depth + 1)    ("end", b, depth)

    where ``"then"``/``"else values"`` mark where the group's ``ifelse`` outputs take their
    then/else inputs.

    >>> [(kind, depth) for kind, _, depth in walk({0: (Branch(0, 1, 2, 3),)}, 0, 4)]
    [('if', 0), ('node', 1), ('then', 1), ('else', 0), ('node', 1), ('else values', 1), ('end', 0), ('node', 0)]
    """
    k = start
    while k < stop:
        b = branch_at(branches, k, stop)
        if b is None:
            yield "node", k, depth
            k += 1
            continue
        yield "if", b, depth
        yield from walk(branches, b.start, b.then_end, depth + 1)
        yield "then", b, depth + 1
        yield "else", b, depth
        yield from walk(branches, b.then_end, b.else_end, depth + 1)
        yield "else values", b, depth + 1
        yield "end", b, depth
        k = b.end


def conditional_indices(branches) -> frozenset:
    """The indices of the nodes that run only when a branch is taken (inside some group's side)."""
    return frozenset(k for groups in branches.values() for b in groups for k in range(b.start, b.else_end))
