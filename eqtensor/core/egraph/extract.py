"""Cost models and the DAG-aware extractor over a frozen e-graph.

The default cost of a node is ``(op cost + memory pass) × elements`` where elements come from the
static shape (unknown lengths count ``config.unknown_dim_size``), reductions pay per *input*
element, views are free, and raw ``exp``/``log`` pay an instability penalty so the forms the
stability rules produce win. A class's cost is its best node's cost plus its children's costs,
each child's cost divided by the number of e-classes that use it (a shared subterm is paid about
once) — or, in a second pass, not divided; the selection with the lower exact DAG cost wins, and
the optimizer keeps the input graph if that is cheaper still.

>>> from eqtensor.core.types import TensorType
>>> m = CostModel()
>>> m.node_cost("exp", {}, TensorType("float64", (10,)), [TensorType("float64", (10,))])
321.0
"""

from __future__ import annotations

import heapq

from ..config import config
from ..graph import toposort
from ..op import OPS, Op


class CostModel:
    """The default cost model; subclass and override :meth:`node_cost` to plug in your own
    (``Mode(cost_model=MyModel())``)."""

    #: cost of one memory pass (read + write) per output element of a non-view op
    memory_pass = 2.0
    #: extra cost per element of raw exp/log: their naive compositions overflow or cancel
    unstable = {"exp": 20.0, "log": 20.0}
    #: extra cost per element of an e-node a stability rule identified as an unstable form
    unstable_penalty = 1000.0
    #: cost of any node, even a free view: of two graphs doing equal work, the one with fewer nodes wins
    node_overhead = 1.0

    def elements(self, t) -> float:
        n = 1.0
        for d in t.shape:
            n *= config.unknown_dim_size if d is None else d
        return n

    def node_cost(self, opname: str, params: dict, out_type, in_types) -> float:
        """Cost of computing one node of op ``opname`` (a leaf when ``opname`` is None)."""
        if opname is None:
            return 0.0
        d = OPS[opname]
        out_n = self.elements(out_type)
        mem = 0.0 if d.view_of is not None else self.memory_pass * out_n
        if "flops" in d.extra:
            return float(d.extra["flops"](Op(d, params), list(in_types))) + mem + self.node_overhead
        work_n = max([out_n] + [self.elements(t) for t in in_types]) if d.kind == "reduce" else out_n
        return d.cost * work_n + mem + self.unstable.get(opname, 0.0) * out_n + self.node_overhead


def graph_cost(outputs, model: CostModel) -> float:
    """The DAG cost of a core graph (each node paid once)."""
    return sum(model.node_cost(n.op.name, n.op.params, n.out.type, [i.type for i in n.inputs])
               for n in toposort(outputs))


def extract(enodes, class_type, roots, model: CostModel, types, params, unstable=frozenset(),
            original=None) -> dict:
    """Choose one e-node per needed e-class.

    ``enodes``: list of ``(cls, opname or None, pid, kids, leaf)``; ``class_type``: cls -> type id;
    ``roots``: e-classes to extract; ``unstable``: ``(e-class, op name)`` pairs where a stability
    rule matched, whose e-nodes pay ``model.unstable_penalty`` per element; ``original``: the input
    graph's own ``{e-class: e-node}`` choice, a third candidate (so the result is never costlier
    than the input, penalties included). Returns ``{cls: enode index}`` for every class reachable from
    the roots through the choice. Two greedy passes run — one charging each child its cost divided
    by its number of users (sharing-aware), one plain tree costs — and the selection with the lower
    exact DAG cost wins; small selections are then improved by switching single e-classes while the
    exact cost drops. Ties break on the e-node's (op name, index) so the result is deterministic.
    Raises ``LookupError`` if a root has no finite extraction.
    """
    own = []
    for cls, op, pid, kids, leaf in enodes:
        if op is None:
            own.append(0.0)
        else:
            out_t = types[class_type[cls]]
            cost = float(model.node_cost(op, params[pid], out_t, [types[class_type[c]] for c in kids]))
            if (cls, op) in unstable:
                cost += model.unstable_penalty * model.elements(out_t)
            own.append(cost)
    best = None
    for share in (True, False):
        sel, choice = _greedy(enodes, own, roots, share)
        cost = sum(own[k] for k in sel.values())
        if best is None or cost < best[0]:
            best = (cost, sel, choice)
    _, sel, choice = best
    if original:
        mixed = {**choice, **original}
        cost, sel_o = _reachable(enodes, own, roots, mixed)
        if cost < best[0]:
            sel, choice = sel_o, mixed
    if len(sel) <= REFINE_LIMIT:
        sel = _refine(enodes, own, roots, choice, sel)
    return sel


#: selections of at most this many e-classes are improved by single-class switches
REFINE_LIMIT = 200


def _reachable(enodes, own, roots, choice):
    """``(cost, selection)`` of the DAG the choice reaches from the roots (inf if it has a cycle)."""
    sel: dict[int, int] = {}
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    for root in roots:
        stack = [(root, False)]
        while stack:
            cls, done = stack.pop()
            if done:
                state[cls] = 2
                continue
            st = state.get(cls)
            if st == 2:
                continue
            if st == 1:
                return float("inf"), sel
            state[cls] = 1
            k = sel[cls] = choice[cls]
            stack.append((cls, True))
            stack.extend((c, False) for c in enodes[k][3])
    return sum(own[k] for k in sel.values()), sel


def _refine(enodes, own, roots, choice, sel):
    """Local search on the exact DAG cost: switch one e-class at a time to another of its e-nodes
    (e.g. back to a form whose subterms another output needs anyway) while that lowers the cost."""
    by_class: dict[int, list[int]] = {}
    for k, e in enumerate(enodes):
        if all(c in choice for c in e[3]):
            by_class.setdefault(e[0], []).append(k)
    choice = dict(choice)
    base, sel = _reachable(enodes, own, roots, choice)
    for _ in range(2):
        improved = False
        for cls in sorted(sel):
            for k in by_class.get(cls, ()):
                if k == choice[cls]:
                    continue
                old, choice[cls] = choice[cls], k
                cost, trial = _reachable(enodes, own, roots, choice)
                if cost < base * (1 - 1e-12):
                    base, sel, improved = cost, trial, True
                else:
                    choice[cls] = old
        if not improved:
            break
    return sel


def _greedy(enodes, own, roots, share: bool) -> dict:
    parents: dict[int, list[int]] = {}
    users: dict[int, set] = {}
    pending = []
    heap = []
    for k, (cls, op, pid, kids, leaf) in enumerate(enodes):
        distinct = set(kids)
        pending.append(len(distinct))
        for c in distinct:
            parents.setdefault(c, []).append(k)
            users.setdefault(c, set()).add(cls)
        if not distinct:
            heapq.heappush(heap, (own[k], op or "", k))
    best: dict[int, float] = {}
    choice: dict[int, int] = {}
    while heap:
        cost, _, k = heapq.heappop(heap)
        cls = enodes[k][0]
        if cls in choice:
            continue
        choice[cls] = k
        best[cls] = cost
        for p in parents.get(cls, ()):
            pending[p] -= 1
            if pending[p] == 0 and enodes[p][0] not in choice:
                kids = set(enodes[p][3]) if share else enodes[p][3]
                c = own[p] + sum(best[x] / (max(1, len(users[x])) if share else 1) for x in kids)
                heapq.heappush(heap, (c, enodes[p][1] or "", p))
    out: dict[int, int] = {}
    stack = list(roots)
    while stack:
        cls = stack.pop()
        if cls in out:
            continue
        if cls not in choice:
            raise LookupError(f"e-class {cls} has no finite extraction")
        out[cls] = choice[cls]
        stack.extend(enodes[choice[cls]][3])
    return out, choice
