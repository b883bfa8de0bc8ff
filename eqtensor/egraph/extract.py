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
from ..core.graph import Constant
from ..core.traversal import toposort
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
        reduction, or the row kernel of ``softmax``/``log_softmax`` (kind ``"nnet"``), computes it
        in its input loop), or None (never)."""
        kind = OPS[opname].kind
        if kind == "elemwise":
            return "elemwise"
        if kind in ("reduce", "nnet") and OPS[opname].absorbs_producers:
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


def graph_cost(outputs, model: CostModel, nodes=None) -> float:
    """The DAG cost of a core graph, as the extractor would price it: each value paid once
    (structurally equal nodes — same op, parameters and inputs — count as one value, as the
    e-graph merges them on insertion), and, when ``model.fusion`` is on, elementwise nodes that
    fuse into their single consumer pay no memory pass (see the module docstring).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> e = pt.exp(x)
    >>> graph_cost([e * 2 + 1], CostModel()) < graph_cost([e * 2 + e], CostModel())
    True

    ``nodes``: the outputs' apply nodes in topological order, if the caller has them already.
    """
    fuse = _fusion_on(model)
    order = toposort(outputs) if nodes is None else nodes
    total, value, priced, clients, many = _node_costs(order, model, fuse)
    if fuse:
        total = _minus_fusion_savings(total, model, outputs, value, priced, clients, many)
    return total


def _interned(table: dict, key) -> int:
    sid = table.get(key)
    if sid is None:
        sid = table[key] = len(table)
    return sid


def _leaf_number(i, numbers: dict, sigs: dict, vsig: list) -> int:
    """The value number of leaf ``i`` (equal constants share one), its signature recorded if new."""
    const = isinstance(i, Constant)
    key = ("c", i.signature()) if const else id(i)
    k = numbers.get(key)
    if k is None:
        k = numbers[key] = len(numbers)
        t = i.type
        vsig.append(_interned(sigs, (t.dtype, t.shape, k if const else -1)))
    return k


def _node_costs(order, model, fuse):
    """Price the apply nodes ``order`` with hash-consing: ``(total, value, priced, clients, many)``
    with ``value`` id(variable) -> value number and, when ``fuse``, ``priced`` node value number ->
    (node, signature, cost), ``clients`` value number -> its first consumer's, ``many`` the value
    numbers with several consumers."""
    value: dict = {}        # id(variable) -> value number
    numbers: dict = {}      # leaf or node key -> value number (hash-consing)
    priced: dict = {}       # node value number -> (node, signature, node cost)
    clients: dict = {}      # value number -> its first consumer's value number
    many = set()            # value numbers with several consumers
    total = 0.0
    # node_cost is a function of (op, types, constant values): nodes of one signature share it.
    # Signatures are small ints: interned op keys, and per value number its interned
    # (dtype, shape, constant's value number or -1).
    op_ids: dict = {}
    sigs: dict = {}
    vsig: list = []         # value number -> signature id
    memo: dict = {}
    for n in order:
        kids = []
        for i in n.inputs:
            k = value.get(id(i))
            if k is None:
                k = value[id(i)] = _leaf_number(i, numbers, sigs, vsig)
            kids.append(k)
        op = n.op
        key = (_interned(op_ids, op.key), *kids)
        me = numbers.get(key)
        if me is not None:
            value[id(n.out)] = me
            continue
        me = value[id(n.out)] = numbers[key] = len(numbers)
        out_t = n.out.type
        vsig.append(_interned(sigs, (out_t.dtype, out_t.shape, -1)))
        ckey = (key[0], vsig[-1], *[vsig[c] for c in kids])
        cost = memo.get(ckey)
        if cost is None:
            in_types = [i.type for i in n.inputs]
            in_values = [i.data if isinstance(i, Constant) else None for i in n.inputs]
            cost = memo[ckey] = float(model.node_cost(op.name, op.params, out_t, in_types, in_values))
        total += cost
        if fuse:
            priced[me] = (n, ckey, cost)
            for c in kids:
                if clients.setdefault(c, me) != me:
                    many.add(c)
    return total, value, priced, clients, many


def _minus_fusion_savings(total, model, outputs, value, priced, clients, many) -> float:
    """``total`` less the memory pass of every node that fuses into its single consumer."""
    mode = _consumer_modes(model)
    savings: dict = {}
    roots = {value.get(id(o)) for o in outputs}
    for c, p in clients.items():
        if c in many or c in roots or c not in priced:
            continue
        n, ckey, cost = priced[c]
        consumer = priced[p][0]
        m = mode(consumer.op.name)
        if m == 2 or (m == 1 and n.out.type.shape == consumer.out.type.shape):
            saving = savings.get(ckey)
            if saving is None:
                saving = savings[ckey] = _saving(
                    model, n.op.name, n.op.params, n.out.type, [i.type for i in n.inputs],
                    [i.data if isinstance(i, Constant) else None for i in n.inputs], cost)
            total -= saving
    return total


class OutOfTime(Exception):
    """The time budget ran out during extraction (raised by a deadline's ``check``)."""


def extract(enodes, class_type, roots, model: CostModel, types, params, unstable=frozenset(),
            original=None, constants=None, deadline=None, notes=None) -> dict:
    """Choose one e-node per needed e-class.

    ``enodes``: list of ``(cls, opname or None, pid, kids, leaf)``; ``class_type``: cls -> type id;
    ``roots``: e-classes to extract; ``unstable``: ``(e-class, op name)`` pairs where a stability
    rule matched, whose e-nodes pay ``model.unstable_penalty`` per element; ``original``: the input
    graph's own ``{e-class: e-node}`` choice, a third candidate (so the result is never costlier
    than the input, penalties included); ``constants``: ``{e-class: array}`` for classes holding a
    constant (the cost model sees them as ``in_values``). Returns ``{cls: enode index}`` for every class reachable from
    the roots through the choice. Two greedy passes run — one charging each child its cost divided
    by its number of users (sharing-aware), one plain tree costs (up to :data:`TREE_PASS_LIMIT`
    e-nodes) — and the selection with the lower exact DAG cost (fusion-aware, see the module
    docstring) wins; small selections are then improved by switching single e-classes while the
    exact cost drops (within :data:`REFINE_WORK`). Ties break on the e-node's
    (op name, index) so the result is deterministic.
    Raises ``LookupError`` if a root has no finite extraction.

    ``deadline`` (optional): an object with ``past_soft()`` (optional work — the tree-cost pass,
    the comparison with the input graph, local search — is skipped once it is true; what was
    skipped is appended to the list ``notes``) and ``check()`` (raises :class:`OutOfTime` once the
    time budget is exhausted; called regularly in the long loops).
    """
    constants = constants or {}
    check = deadline.check if deadline is not None else None
    fz = _Fusion(model, enodes, types, class_type, params, roots, constants) if _fusion_on(model) else None
    own = _own_costs(enodes, class_type, model, types, params, unstable, constants, fz, check)
    best = _best_greedy(enodes, own, roots, fz, check, deadline, notes)
    _, sel, choice = best
    if original:
        if deadline is not None and deadline.past_soft():
            _note(notes, "extraction: not compared with the input graph")
        else:
            mixed = {**choice, **original}
            cost, sel_o = _reachable(enodes, own, roots, mixed, fz)
            if cost < best[0]:
                sel, choice = sel_o, mixed
    if len(sel) <= REFINE_LIMIT:
        if deadline is not None and deadline.past_soft():
            _note(notes, "extraction: no local search")
        else:
            sel = _refine(enodes, own, roots, choice, sel, fz, deadline, notes)
    return sel


def _own_costs(enodes, class_type, model, types, params, unstable, constants, fz, check) -> list:
    """Each e-node's own cost (its op's ``node_cost`` plus the penalty of an unstable form); the
    costs without penalties go to ``fz``."""
    # a cost model need only have node_cost: the penalty for unstable forms defaults to ours
    penalty = getattr(model, "unstable_penalty", CostModel.unstable_penalty)
    elements = getattr(model, "elements", None) or CostModel().elements
    own = []
    memo: dict = {}  # node_cost is a function of its arguments: e-nodes of equal signature share it
    for k, (cls, op, pid, kids, leaf) in enumerate(enodes):
        cost = 0.0
        if op is not None:
            tid = class_type[cls]
            key = (op, pid, tid, tuple([class_type[c] for c in kids]),
                   tuple([c if c in constants else -1 for c in kids]) if constants else ())
            cost = memo.get(key)
            if cost is None:
                cost = memo[key] = float(model.node_cost(
                    op, params[pid], types[tid], [types[class_type[c]] for c in kids],
                    [constants.get(c) for c in kids]))
            if check is not None and not k & 8191:
                check()
        if fz is not None:
            fz.cost.append(cost)
        if op is not None and (cls, op) in unstable:
            cost += penalty * elements(types[class_type[cls]])
        own.append(cost)
    return own


def _best_greedy(enodes, own, roots, fz, check, deadline, notes):
    """``(DAG cost, selection, choice)`` of the better greedy pass: sharing-aware, then (on graphs
    small enough, with time left) plain tree costs."""
    best = uses = None
    for share in (True, False):
        if not share and len(enodes) > TREE_PASS_LIMIT:
            break
        if not share and deadline is not None and deadline.past_soft():
            _note(notes, "extraction: sharing-aware greedy pass only (no tree-cost pass)")
            break
        uses = uses or _Uses(enodes, roots)
        sel, choice = _greedy(enodes, own, roots, share, fz, check, uses)
        cost = _dag_cost(enodes, own, sel, fz)
        if best is None or cost < best[0]:
            best = (cost, sel, choice)
    return best


def _note(notes, text):
    if notes is not None and text not in notes:
        notes.append(text)


#: selections of at most this many e-classes are improved by single-class switches
REFINE_LIMIT = 200
#: e-graphs of more e-nodes than this get the sharing-aware greedy pass only: on graphs that big
#: (gradients, long chains) the tree-cost pass, which pays a shared subterm once per use, does not win
TREE_PASS_LIMIT = 50_000


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
        self._memo: dict = {}   # fused_memory_saving is a function of its arguments
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
                ct, types, consts = self.class_type, self.types, self.constants
                key = (op, pid, ct[cls], tuple([ct[c] for c in kids]),
                       tuple([c if c in consts else -1 for c in kids]) if consts else (), self.cost[k])
                s = self._memo.get(key)
                if s is None:
                    s = self._memo[key] = _saving(self.model, op, self.params[pid], types[ct[cls]],
                                                  [types[ct[c]] for c in kids], [consts.get(c) for c in kids],
                                                  self.cost[k])
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


#: the local search stops after trying selections of this many e-classes in total (an e-graph that
#: associativity and commutativity rules exploded has hundreds of e-nodes per class)
REFINE_WORK = 60_000


def _refine(enodes, own, roots, choice, sel, fz=None, deadline=None, notes=None):
    """Local search on the exact DAG cost: switch one e-class at a time to another of its e-nodes
    (e.g. back to a form whose subterms another output needs anyway, or to a form that fuses)
    while that lowers the cost — within :data:`REFINE_WORK` and the deadline's soft limit."""
    by_class: dict[int, list[int]] = {}
    for k, e in enumerate(enodes):
        if all(c in choice for c in e[3]):
            by_class.setdefault(e[0], []).append(k)
    choice = dict(choice)
    base, sel = _reachable(enodes, own, roots, choice, fz)
    work = 0
    for _ in range(2):
        improved = False
        for cls in sorted(sel):
            for k in by_class.get(cls, ()):
                if k == choice[cls]:
                    continue
                work += len(sel)
                if work > REFINE_WORK:
                    return sel
                if deadline is not None and deadline.past_soft():
                    _note(notes, "extraction: local search cut short")
                    return sel
                old, choice[cls] = choice[cls], k
                cost, trial = _reachable(enodes, own, roots, choice, fz)
                if cost < base * (1 - 1e-12):
                    base, sel, improved = cost, trial, True
                else:
                    choice[cls] = old
        if not improved:
            break
    return sel


class _Uses:
    """Who uses whom in the e-graph, computed once for both greedy passes: each e-node's distinct
    child classes, the e-nodes using each class, the number of distinct classes using each class
    (each of them pays that fraction of its cost), the classes a single class uses, and the
    childless e-nodes the passes start from."""

    def __init__(self, enodes, roots):
        self.kids = kids = []
        self.parents = parents = {}
        users: dict[int, set] = {}
        self.start = []
        for k, (cls, op, _, ks, _) in enumerate(enodes):
            distinct = tuple(set(ks)) if len(ks) > 1 else ks
            kids.append(distinct)
            for c in distinct:
                parents.setdefault(c, []).append(k)
                users.setdefault(c, set()).add(cls)
            if not distinct:
                self.start.append(k)
        self.share = {x: max(1, len(u)) for x, u in users.items()}
        self.sole = {x for x, u in users.items() if len(u) == 1} - set(roots)


def _greedy(enodes, own, roots, share: bool, fz=None, check=None, uses=None) -> dict:
    uses = uses or _Uses(enodes, roots)
    parents, dkids, part = uses.parents, uses.kids, uses.share
    pending = [len(k) for k in dkids]
    heap = [(own[k], enodes[k][1] or "", k) for k in uses.start]
    heapq.heapify(heap)
    if fz is not None:  # e-classes that one e-class uses: their consumer is known in advance
        sole = uses.sole - fz.roots
        fmode, fshape, fsave = fz.mode, fz.shape, fz.save
    best: dict[int, float] = {}
    choice: dict[int, int] = {}
    pops = 0
    while heap:
        pops += 1
        if check is not None and not pops & 4095:
            check()
        cost, _, k = heapq.heappop(heap)
        cls = enodes[k][0]
        if cls in choice:
            continue
        choice[cls] = k
        best[cls] = cost
        for p in parents.get(cls, ()):
            pending[p] -= 1
            if pending[p] == 0 and (pcls := enodes[p][0]) not in choice:
                if share:
                    c = own[p]
                    for x in dkids[p]:
                        c += best[x] / part[x]
                else:
                    c = own[p]
                    for x in enodes[p][3]:
                        c += best[x]
                m = fmode[p] if fz is not None else 0
                if m:
                    # a child no other e-class uses has this e-node as its only consumer: if it
                    # fuses here it certainly saves its memory pass in any selection through p
                    for x in dkids[p]:
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
