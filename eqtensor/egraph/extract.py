"""Cost models and the DAG-aware extractor over a frozen e-graph.

The default cost of a node is ``(op cost + memory pass) × elements`` where elements come from the
static shape (unknown lengths count ``config.unknown_dim_size``), reductions pay per *input*
element, views are free, and raw ``exp``/``log`` pay an instability penalty so the forms the
stability rules produce win. A class's cost is its best node's cost plus its children's costs,
each child's cost divided by the number of e-classes that use it (a shared subterm is paid about
once) — or, in a second pass, not divided; the selection with the lower exact DAG cost wins, and
the optimizer keeps the input graph if that is cheaper still.

Fusion. The exact DAG cost (used to compare whole selections, and by :func:`graph_cost`) knows
which nodes the scheduler (:func:`eqtensor.backends.fusion.fusion_groups`) computes inside their
consumer's kernel: an elementwise node (``OPS[name].kind == "elemwise"``) whose value has exactly
one consumer node in the selected DAG, is not an output, and either has the consumer's static
shape with an elementwise consumer or feeds a reduction that absorbs producers. Such a node never
touches memory, so it pays ``node_cost - CostModel.fused_memory_saving`` (by default its whole
memory pass). A node with several consumers is materialized: it pays its full ``node_cost`` once
(one write; its consumers' reads are not charged separately, just as reads of inputs are not).
The scheduler never duplicates a producer into several kernels, so the cost never assumes
recomputation either, even where recomputing a cheap op would beat the memory pass. The greedy
per-class passes see fusion only where it is certain: an e-class with a single parent e-class.
The model prices the C backend's kernels; the NumPy backend makes one call per node and does not
fuse.

>>> from eqtensor.core.graph import TensorType
>>> m = CostModel()
>>> v = TensorType("float64", (10,))
>>> m.node_cost("exp", {}, v, [v], [None])
321.0
>>> m.fused_memory_saving("exp", {}, v, [v], [None])   # exp fused into its consumer: no memory pass
20.0
"""

from __future__ import annotations

import heapq

from ..core.config import config
from ..core.graph import Constant, toposort
from ..core.op import OPS, Op


class CostModel:
    """The default cost model; subclass and override :meth:`node_cost` to plug in your own
    (``Mode(cost_model=MyModel())``).

    Fusion is priced by two further methods, overridable too: :meth:`fused_memory_saving` (what a
    node saves when it is computed inside its consumer's kernel) and :meth:`fusion_consumer`
    (which consumers take a producer into their kernel). Set ``fusion = False`` for a model whose
    ``node_cost`` does not count memory passes. Cost models that are not subclasses (any object
    with ``node_cost``) get no fusion pricing unless they define both methods and ``fusion``.
    """

    #: cost of one memory pass (read + write) per output element of a non-view op
    memory_pass = 2.0
    #: extra cost per element of an e-node a stability rule identified as an unstable form
    unstable_penalty = 1000.0
    #: cost of any node, even a free view: of two graphs doing equal work, the one with fewer nodes wins
    node_overhead = 1.0
    #: price fusion in the exact DAG cost (see the module docstring)
    fusion = True

    def elements(self, t) -> float:
        n = 1.0
        for d in t.shape:
            n *= config.unknown_dim_size if d is None else d
        return n

    def node_cost(self, opname: str, params: dict, out_type, in_types, in_values) -> float:
        """Cost of computing one node of op ``opname`` (a leaf when ``opname`` is None) whose inputs
        have static types ``in_types`` and values ``in_values`` (an array for a constant input, else
        None). The facts come from the op's record (:class:`~eqtensor.core.op.OpDef`): ``cost`` per
        element, or ``flops`` for the whole node, plus ``unstable`` per element."""
        if opname is None:
            return 0.0
        d = OPS[opname]
        out_n = self.elements(out_type)
        mem = 0.0 if d.view_of is not None else self.memory_pass * out_n
        if d.flops is not None:
            return float(d.flops(Op(d, params), list(in_types), list(in_values))) + mem + self.node_overhead
        work_n = max([out_n] + [self.elements(t) for t in in_types]) if d.kind == "reduce" else out_n
        return d.cost * work_n + mem + d.unstable * out_n + self.node_overhead

    def fused_memory_saving(self, opname: str, params: dict, out_type, in_types, in_values) -> float:
        """How much of ``node_cost`` a node saves when it is computed inside its single consumer's
        kernel instead of being written to memory: the memory pass of an elementwise op (kind
        ``"elemwise"`` in the op table), 0 for every other op. The extractor clamps the result to
        ``[0, node_cost]``."""
        if opname is None or OPS[opname].kind != "elemwise":
            return 0.0
        return self.memory_pass * self.elements(out_type)

    def fusion_consumer(self, opname: str) -> str | None:
        """How a node of op ``opname`` takes a fusible producer into its kernel: ``"elemwise"``
        (only a producer of the same static shape), ``"reduce"`` (a producer of any shape: the
        reduction computes it in its input loop), or None (never)."""
        kind = OPS[opname].kind
        if kind == "elemwise":
            return "elemwise"
        if kind == "reduce" and OPS[opname].absorbs_producers:
            return "reduce"
        return None


def _fusion_on(model) -> bool:
    return bool(getattr(model, "fusion", False)) and callable(getattr(model, "fused_memory_saving", None)) \
        and callable(getattr(model, "fusion_consumer", None))


def _consumer_modes(model):
    """``opname -> 0 (no fusion) | 1 (same-shape elementwise) | 2 (reduction)``, memoized."""
    memo: dict = {}

    def mode(opname):
        m = memo.get(opname)
        if m is None:
            m = memo[opname] = {"elemwise": 1, "reduce": 2}.get(model.fusion_consumer(opname), 0)
        return m
    return mode


def _saving(model, opname, params, out_t, in_types, in_values, cost) -> float:
    s = float(model.fused_memory_saving(opname, params, out_t, in_types, in_values))
    return min(max(s, 0.0), cost) if s == s else 0.0


def graph_cost(outputs, model: CostModel) -> float:
    """The DAG cost of a core graph, as the extractor would price it: each value paid once
    (structurally equal nodes — same op, parameters and inputs — count as one value, as the
    e-graph merges them on insertion), and, when ``model.fusion`` is on, elementwise nodes that
    fuse into their single consumer pay no memory pass (see the module docstring).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> e = pt.exp(x)
    >>> graph_cost([e * 2 + 1], CostModel()) < graph_cost([e * 2 + e], CostModel())
    True
    """
    fuse = _fusion_on(model)
    value: dict = {}        # id(variable) -> value number
    numbers: dict = {}      # leaf or node key -> value number (hash-consing)
    nodes: dict = {}        # node value number -> (node, input types, node cost)
    clients: dict = {}      # value number -> its first consumer's value number
    many = set()            # value numbers with several consumers
    total = 0.0
    for n in toposort(outputs):
        kids = []
        for i in n.inputs:
            k = value.get(id(i))
            if k is None:
                key = ("c", i.signature()) if isinstance(i, Constant) else id(i)
                k = numbers.get(key)
                if k is None:
                    k = numbers[key] = len(numbers)
                value[id(i)] = k
            kids.append(k)
        op = n.op
        key = (op.key, *kids)
        me = numbers.get(key)
        if me is not None:
            value[id(n.out)] = me
            continue
        me = value[id(n.out)] = numbers[key] = len(numbers)
        in_types = [i.type for i in n.inputs]
        in_values = [i.data if isinstance(i, Constant) else None for i in n.inputs]
        cost = float(model.node_cost(op.name, op.params, n.out.type, in_types, in_values))
        total += cost
        if fuse:
            nodes[me] = (n, in_types, cost)
            for c in kids:
                if clients.setdefault(c, me) != me:
                    many.add(c)
    if fuse:
        mode = _consumer_modes(model)
        roots = {value.get(id(o)) for o in outputs}
        for c, p in clients.items():
            if c in many or c in roots or c not in nodes:
                continue
            n, in_types, cost = nodes[c]
            consumer = nodes[p][0]
            m = mode(consumer.op.name)
            if m == 2 or (m == 1 and n.out.type.shape == consumer.out.type.shape):
                total -= _saving(model, n.op.name, n.op.params, n.out.type, in_types,
                                 [i.data if isinstance(i, Constant) else None for i in n.inputs], cost)
    return total


def extract(enodes, class_type, roots, model: CostModel, types, params, unstable=frozenset(),
            original=None, constants=None) -> dict:
    """Choose one e-node per needed e-class.

    ``enodes``: list of ``(cls, opname or None, pid, kids, leaf)``; ``class_type``: cls -> type id;
    ``roots``: e-classes to extract; ``unstable``: ``(e-class, op name)`` pairs where a stability
    rule matched, whose e-nodes pay ``model.unstable_penalty`` per element; ``original``: the input
    graph's own ``{e-class: e-node}`` choice, a third candidate (so the result is never costlier
    than the input, penalties included); ``constants``: ``{e-class: array}`` for classes holding a
    constant (the cost model sees them as ``in_values``). Returns ``{cls: enode index}`` for every class reachable from
    the roots through the choice. Two greedy passes run — one charging each child its cost divided
    by its number of users (sharing-aware), one plain tree costs — and the selection with the lower
    exact DAG cost (fusion-aware, see the module docstring) wins; small selections are then
    improved by switching single e-classes while the exact cost drops. Ties break on the e-node's
    (op name, index) so the result is deterministic.
    Raises ``LookupError`` if a root has no finite extraction.
    """
    constants = constants or {}
    fz = _Fusion(model, enodes, types, class_type, params, roots, constants) if _fusion_on(model) else None
    # a cost model need only have node_cost: the penalty for unstable forms defaults to ours
    penalty = getattr(model, "unstable_penalty", CostModel.unstable_penalty)
    elements = getattr(model, "elements", None) or CostModel().elements
    own = []
    for cls, op, pid, kids, leaf in enodes:
        cost = 0.0
        if op is not None:
            out_t = types[class_type[cls]]
            cost = float(model.node_cost(op, params[pid], out_t, [types[class_type[c]] for c in kids],
                                         [constants.get(c) for c in kids]))
        if fz is not None:
            fz.cost.append(cost)
        if op is not None and (cls, op) in unstable:
            cost += penalty * elements(out_t)
        own.append(cost)
    best = None
    for share in (True, False):
        sel, choice = _greedy(enodes, own, roots, share, fz)
        cost = _dag_cost(enodes, own, sel, fz)
        if best is None or cost < best[0]:
            best = (cost, sel, choice)
    _, sel, choice = best
    if original:
        mixed = {**choice, **original}
        cost, sel_o = _reachable(enodes, own, roots, mixed, fz)
        if cost < best[0]:
            sel, choice = sel_o, mixed
    if len(sel) <= REFINE_LIMIT:
        sel = _refine(enodes, own, roots, choice, sel, fz)
    return sel


#: selections of at most this many e-classes are improved by single-class switches
REFINE_LIMIT = 200


class _Fusion:
    """Fusion facts for the exact DAG cost: how each e-node takes producers in (``mode``: 0 never,
    1 same-shape elementwise, 2 reduction), each e-class's static shape, and — computed on demand,
    only for e-nodes that do have a single fusing consumer — the memory pass an e-node saves."""

    def __init__(self, model, enodes, types, class_type, params, roots, constants):
        self.model, self.enodes, self.types, self.class_type, self.params = model, enodes, types, class_type, params
        self.constants = constants
        self.roots = set(roots)
        self.cost: list[float] = []   # node_cost of each e-node (before instability penalties)
        self.save: list = [None] * len(enodes)   # filled by saving()
        mode_of = _consumer_modes(model)
        self.mode = [0 if op is None else mode_of(op) for _, op, _, _, _ in enodes]
        self.shape = {cls: types[class_type[cls]].shape for cls in class_type if class_type[cls] in types}

    def saving(self, k) -> float:
        s = self.save[k]
        if s is None:
            cls, op, pid, kids, _ = self.enodes[k]
            if op is None:
                s = 0.0
            else:
                ct, types = self.class_type, self.types
                s = _saving(self.model, op, self.params[pid], types[ct[cls]], [types[ct[c]] for c in kids],
                            [self.constants.get(c) for c in kids], self.cost[k])
            self.save[k] = s
        return s

    def fuses(self, child_k, child_cls, parent_k, parent_cls) -> bool:
        """Whether e-node ``child_k``, given that ``parent_k`` is its only consumer, runs inside it."""
        if child_cls in self.roots:
            return False
        m = self.mode[parent_k]
        if m == 1:
            if self.shape.get(child_cls) != self.shape.get(parent_cls):
                return False
        elif m != 2:
            return False
        return self.saving(child_k) > 0.0


def _dag_cost(enodes, own, sel, fz) -> float:
    """The exact cost of a selection ``{cls: e-node}``: each chosen e-node once, minus the memory
    pass of every e-node that fuses into its single consumer."""
    total = sum(own[k] for k in sel.values())
    if fz is None:
        return total
    first: dict[int, int] = {}
    many = set()
    for p, k in sel.items():
        for c in enodes[k][3]:
            if first.setdefault(c, p) != p:
                many.add(c)
    mode, shape, save, roots = fz.mode, fz.shape, fz.save, fz.roots
    for c, p in first.items():
        if c in many or c in roots:
            continue
        m = mode[sel[p]]
        if m == 2 or (m == 1 and shape.get(c) == shape.get(p)):
            kc = sel[c]
            s = save[kc]
            total -= fz.saving(kc) if s is None else s
    return total


def _reachable(enodes, own, roots, choice, fz=None):
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
    return _dag_cost(enodes, own, sel, fz), sel


def _refine(enodes, own, roots, choice, sel, fz=None):
    """Local search on the exact DAG cost: switch one e-class at a time to another of its e-nodes
    (e.g. back to a form whose subterms another output needs anyway, or to a form that fuses)
    while that lowers the cost."""
    by_class: dict[int, list[int]] = {}
    for k, e in enumerate(enodes):
        if all(c in choice for c in e[3]):
            by_class.setdefault(e[0], []).append(k)
    choice = dict(choice)
    base, sel = _reachable(enodes, own, roots, choice, fz)
    for _ in range(2):
        improved = False
        for cls in sorted(sel):
            for k in by_class.get(cls, ()):
                if k == choice[cls]:
                    continue
                old, choice[cls] = choice[cls], k
                cost, trial = _reachable(enodes, own, roots, choice, fz)
                if cost < base * (1 - 1e-12):
                    base, sel, improved = cost, trial, True
                else:
                    choice[cls] = old
        if not improved:
            break
    return sel


def _greedy(enodes, own, roots, share: bool, fz=None) -> dict:
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
    if fz is not None:  # e-classes that one e-class uses: their consumer is known in advance
        sole = {x for x, u in users.items() if len(u) == 1} - fz.roots
        fmode, fshape, fsave = fz.mode, fz.shape, fz.save
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
            if pending[p] == 0 and (pcls := enodes[p][0]) not in choice:
                kids = set(enodes[p][3]) if share else enodes[p][3]
                c = own[p] + sum(best[x] / (max(1, len(users[x])) if share else 1) for x in kids)
                m = fmode[p] if fz is not None else 0
                if m:
                    # a child no other e-class uses has this e-node as its only consumer: if it
                    # fuses here it certainly saves its memory pass in any selection through p
                    for x in (kids if share else set(kids)):
                        if x in sole and (m == 2 or fshape.get(x) == fshape.get(pcls)):
                            kx = choice[x]
                            save = fsave[kx]
                            c -= fz.saving(kx) if save is None else save
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
