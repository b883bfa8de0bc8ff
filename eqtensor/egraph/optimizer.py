"""The e-graph optimizer: fold constants, insert the whole graph, saturate under a budget (folding
the all-constant e-nodes rules create and typing the nodes they request between iterations), extract.
Every phase runs against one wall-time :class:`Deadline` (``Budget.seconds``, shared with the code
generation after it): what would overrun is skipped or cut short, and the report says so.

>>> from eqtensor import tensor as pt
>>> from eqtensor.core.fgraph import FunctionGraph
>>> x = pt.dvector("x")
>>> fg = FunctionGraph([x], [-(-x) * 1.0], 1, 1)
>>> new, report = optimize_graph(fg)
>>> new.outputs[0] is x, report.nodes_before, report.nodes_after
(True, 3, 0)
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time

import numpy as np

from ..core.config import config
from ..core.graph import Constant, gc_paused, toposort, uniform_value
from ..core.op import OPS, Op
from . import cache as opt_cache
from .bridge import discard_session, session
from .extract import CostModel, OutOfTime, extract, graph_cost
from .program import (
    MAX_CREATED_ARITY, OPIDS, PARAMS, TYPES, VALUES, compile_rule, const_facts, const_type, constructor_name,
    is_float_type, load_op_declarations, load_relation, prefill_entries, refines, type_entry, value_key,
)
from .report import Budget, EGraphSnapshot, IterationStats, OptimizationReport
from ..rules import default_schedule
from ..rules.language import as_schedule

#: largest constant (in elements) the optimizer creates by folding
FOLD_LIMIT = 10_000

#: the name under which folding inside the e-graph appears among the rules fired
CONSTANT_FOLDING = "constant_folding"

_COMPILED: dict = {}

# The time model of the budget (seconds, on the 2-core reference machine, with some margin). The
# steps egglog cannot interrupt (insertion, an iteration) are predicted with it before they start;
# extraction and rebuilding also check the clock as they go.
#: fixed cost of a run: push/pop, rulesets, type-table entries
T_FIXED = 0.02
#: one action of an insertion rule (type-table entries, constant folds)
T_ACTION = 25e-6
#: one row of a staging relation (a node is 2-3 rows: its e-node, its type, ``varies``)
T_ROW = 3e-6
#: pricing one node of a graph (the report's cost before and after)
T_NODE_COST = 6e-6
#: folding, loading and inserting one node of the input graph
T_NODE_INSERT = 20e-6
#: freezing, pricing, extracting and rebuilding, per e-node (per node of the input graph)
T_NODE_EXTRACT = 35e-6
#: the first iteration, per e-node (later ones are predicted from the last one's time and growth)
T_ENODE_ITERATION = 4e-6
#: past the soft deadline (the budget minus what the caller reserved), the hard limit leaves this
#: fraction of the budget for mandatory work before it gives up and keeps the input graph
HARD_SLACK = 0.25


class Deadline:
    """The wall-time budget of one compile (``Budget.seconds``), shared by its phases.

    It starts at ``start`` (default: now). ``per_node`` is the time the caller needs per node of the
    graph *after* the optimizer (code generation); once the graph's size is known (:meth:`plan`)
    that much is reserved. The optimizer plans to be done by :attr:`soft` (past it, optional work
    is skipped: iterations, the tree-cost extraction pass, local search) and gives up mandatory work
    (extraction, rebuilding) past :attr:`hard` — :meth:`check` raises :class:`~.extract.OutOfTime` —
    keeping the input graph.

    >>> d = Deadline(2.0, start=0.0, per_node=1e-3)
    >>> d.plan(500); d.soft, d.hard
    (1.5, 2.0)
    """

    def __init__(self, seconds: float, start: float | None = None, per_node: float = 0.0):
        self.start = time.perf_counter() if start is None else start
        self.seconds = float(seconds)
        self.per_node = per_node
        self.reserve = 0.0
        self.speed = 1.0  # measured slowdown against the time model (a loaded machine is slower)

    def extend(self, seconds: float) -> None:
        """Move the deadline ``seconds`` later (one-time setup not charged to a compile)."""
        self.start += seconds

    def plan(self, n_nodes: int) -> None:
        """Reserve the caller's time for a graph of ``n_nodes`` nodes."""
        self.reserve = self.per_node * n_nodes

    def calibrate(self, seconds_per_action: float) -> None:
        """Scale the time model by the insertion's measured speed (seconds per staging row)."""
        self.speed = min(4.0, max(0.5, seconds_per_action / T_ROW))

    @property
    def soft(self) -> float:
        return self.start + self.seconds - self.reserve

    @property
    def hard(self) -> float:
        return self.soft + HARD_SLACK * self.seconds

    def left(self) -> float:
        """Seconds until the soft deadline (negative once past it)."""
        return self.soft - time.perf_counter()

    def past_soft(self) -> bool:
        return time.perf_counter() > self.soft

    def check(self) -> None:
        """Raise :class:`~.extract.OutOfTime` past the hard limit."""
        if time.perf_counter() > self.hard:
            raise OutOfTime(f"time budget ({self.seconds:g} s) exhausted")

    def extract_time(self, enodes: float) -> float:
        return T_NODE_EXTRACT * self.speed * enodes

    def iteration_time(self, enodes: float) -> float:
        return T_ENODE_ITERATION * self.speed * enodes


def _compiled(rule):
    c = _COMPILED.get(rule)
    if c is None:
        c = _COMPILED.setdefault(rule, compile_rule(rule))
    return c


def fold_constants(outputs):
    """Replace every node whose inputs are all constants by its (small) value. Returns
    ``(new outputs, number of folded nodes)``."""
    outs, folded, _ = _fold(outputs, toposort(outputs))
    return outs, folded


def _fold(outputs, nodes):
    """:func:`fold_constants` over ``outputs``' apply ``nodes`` (topological order); also returns
    the new graph's apply nodes when nothing changed (else None)."""
    memo: dict[int, object] = {}
    folded = 0
    changed = False
    for node in nodes:
        if changed:
            ins = [memo.get(id(i), i) for i in node.inputs]
            new = node.out if all(a is b for a, b in zip(ins, node.inputs)) else node.op(*ins)
        else:
            ins, new = node.inputs, node.out
        if ins and node.op.defn.kind != "creation" and all(isinstance(i, Constant) for i in ins):
            value = _try_fold(node.op, ins, new.type)
            if value is not None:
                new = value
                folded += 1
                changed = True
        memo[id(node.out)] = new
    if not changed:
        return list(outputs), 0, nodes
    return [memo.get(id(o), o) for o in outputs], folded, None


def _try_fold(op, consts, out_type):
    known = None not in out_type.shape and int(np.prod(out_type.shape, dtype=np.int64)) > FOLD_LIMIT
    if known or any(c.data.size > FOLD_LIMIT for c in consts):
        return None  # never spend time or memory on big constants at compile time
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(op.perform(*[c.data for c in consts]))
    except Exception:
        return None
    if value.size > FOLD_LIMIT or value.dtype.name != out_type.dtype or not out_type.is_compatible(value.shape):
        return None
    return Constant(value)


class _Loader:
    """Turns a list of output expressions into the rows of the staging relations
    (:func:`~.program.load_declarations`): every leaf and node gets an integer id; ``rows`` lists
    ``(relation, row)`` in definition order. ``actions`` holds the other facts to insert (type-table
    entries…) as rule actions."""

    def __init__(self):
        self.rows: list[tuple[str, tuple]] = []
        self.actions: list = []
        self.leaves: list = []
        self.names: dict[int, int] = {}  # id(variable) -> node id
        self._leaf_keys: dict = {}
        self.types: set[int] = set()
        self.params: set[int] = {0}
        self.count = 0  # node ids given
        self.lists = 0  # cons-list ids given
        self._seen: dict = {}
        self.merged = 0  # nodes that repeat an earlier node (common subexpressions)
        self._varies: set[int] = set()  # inserted e-nodes that depend on an input
        self.refined: set = set()  # (graph type, table type) pairs recorded as ``refines``
        self.folded: dict = {}  # (constant signature, type id) -> leaf index, for folding in the e-graph
        self.nodes = None  # the inserted graph's apply nodes, in topological order
        self._tids: dict = {}  # (dtype, shape) -> type id
        self._rels: dict = {}  # op name -> staging relation
        self.opnames = self._rels.keys()  # the ops of the inserted nodes

    def _ty(self, nid, t):
        key = (t.dtype, t.shape)  # hashes and compares in C (TensorType.__eq__ is Python)
        tid = self._tids.get(key)
        if tid is None:
            tid = self._tids[key] = TYPES(t)
            self.types.add(tid)
        self.rows.append(("LoadTy", (nid, tid)))

    def leaf(self, v) -> int:
        key = ("c", v.signature()) if isinstance(v, Constant) else id(v)
        nid = self._leaf_keys.get(key)
        if nid is None:
            k = len(self.leaves)
            self.leaves.append(v)
            nid = self._leaf_keys[key] = self._fresh()
            self.rows.append(("LoadLeaf", (nid, k)))
            self._ty(nid, v.type)
            if isinstance(v, Constant):
                val = uniform_value(v)
                if val is not None:
                    self.rows.append(("LoadCval", (nid, VALUES(value_key(val)))))
                self.rows += [(f"LoadFact_{f}", (nid,)) for f in const_facts(v.data)]
                self.folded[(v.signature(), TYPES(v.type))] = k
            else:
                self.rows.append(("LoadVaries", (nid,)))
                self._varies.add(nid)
        self.names[id(v)] = nid
        return nid

    def load(self, outputs, nodes=None, check=None):
        self.nodes = nodes = toposort(outputs) if nodes is None else nodes
        names, rows = self.names, self.rows
        for count, node in enumerate(nodes):
            if check is not None and count and not count & 4095:
                check()
            kids = [names[id(i)] if id(i) in names else self.leaf(i) for i in node.inputs]
            d = node.op.defn
            pid = None
            if d.params:
                pid = PARAMS(node.op.key[1])
                self.params.add(pid)
            key = (d.name, pid, tuple(kids))
            nid = self._seen.get(key)
            if nid is not None:  # the same op on the same e-classes: one e-node (hash-consing)
                self.merged += 1
                names[id(node.out)] = nid
                continue
            if d.nin is None:  # variadic: the inputs as a cons list
                self.lists += 1
                lst = self.lists
                rows.append(("LoadNil", (lst,)))
                for kid in reversed(kids):
                    self.lists += 1
                    rows.append(("LoadCons", (self.lists, kid, lst)))
                    lst = self.lists
                kids = [lst]
            nid = self._seen[key] = self._fresh()
            rel = self._rels.get(d.name)
            if rel is None:
                rel = self._rels[d.name] = load_relation(d.name)
            rows.append((rel, (nid, pid, *kids) if pid is not None else (nid, *kids)))
            self._ty(nid, node.out.type)
            if any(k in self._varies for k in key[2]):
                rows.append(("LoadVaries", (nid,)))
                self._varies.add(nid)
            names[id(node.out)] = nid
        for k, o in enumerate(outputs):
            nid = names.get(id(o))
            rows.append(("LoadRoot", (k, self.leaf(o) if nid is None else nid)))

    def _fresh(self) -> int:
        self.count += 1
        return self.count


#: graphs of fewer staging rows are inserted as the actions of one rule (measured crossover: files
#: and ``input`` commands cost a fixed ~6 ms, actions ~30 µs each)
ROWS_BY_FILE_FROM = 400


def _register_loads(s, opnames) -> None:
    """Declare the staging relations (and ``load`` rules) of these ops, once per e-graph."""
    for name in sorted(opnames):
        s.register(f"load:{name}", load_op_declarations(name))


def _insert_rows(s, rows, actions=()) -> None:
    """Insert the staging ``rows`` (``(relation, row)``) with egglog's ``input`` command (one file of
    tab-separated integers per relation, in a private temporary directory; the ops' relations must
    be registered: :func:`_register_loads`), run the ``load`` ruleset once, then insert
    ``actions``. A small graph — or where files cannot be used — is inserted as the actions of one
    rule (:func:`_rows_as_actions`; ~30× slower per node, but without the files' fixed cost)."""
    if len(rows) < ROWS_BY_FILE_FROM:
        s.insert(_rows_as_actions(rows) + list(actions))
        return
    by_rel: dict[str, list] = {}
    for rel, row in rows:
        by_rel.setdefault(rel, []).append(row)
    try:
        folder = tempfile.mkdtemp(prefix="eqtensor-load-")
    except OSError:
        folder = None
    if folder is None or '"' in folder or "\\" in folder:
        s.insert(_rows_as_actions(rows) + list(actions))
        return
    try:
        for rel, rs in by_rel.items():
            path = os.path.join(folder, rel + ".tsv")
            with open(path, "w") as fh:
                fh.write("\n".join(["\t".join(map(str, r)) for r in rs]))
                fh.write("\n")
            s.command(f'(input {rel} "{path}")')
        s.command("(run-schedule (run load))")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if actions:
        s.insert(actions)


def _rows_as_actions(rows) -> list:
    """The staging rows as insertion actions (local lets ``r<id>``, ``q<list id>``) for one rule."""
    acts = []
    for rel, row in rows:
        if rel.startswith("Load_op_"):
            d = OPS[rel[8:]]
            args = [("int", row[1])] if d.params else []
            kids = row[2:] if d.params else row[1:]
            args += [("var", f"q{kids[0]}")] if d.nin is None else [("var", f"r{k}") for k in kids]
            acts.append(("let", f"r{row[0]}", rel[5:], tuple(args)))
        elif rel == "LoadLeaf":
            acts.append(("let", f"r{row[0]}", "Leaf", (("int", row[1]),)))
        elif rel == "LoadTy":
            acts.append(("set", "ty", (("var", f"r{row[0]}"),), row[1]))
        elif rel == "LoadVaries":
            acts.append(("call", "varies", (("var", f"r{row[0]}"),)))
        elif rel == "LoadRoot":
            acts.append(("call", "Root", (("int", row[0]), ("var", f"r{row[1]}"))))
        elif rel == "LoadCval":
            acts.append(("set", "cval", (("var", f"r{row[0]}"),), row[1]))
        elif rel == "LoadNil":
            acts.append(("let", f"q{row[0]}", "Nil", ()))
        elif rel == "LoadCons":
            acts.append(("let", f"q{row[0]}", "Cons", (("var", f"r{row[1]}"), ("var", f"q{row[2]}"))))
        else:  # LoadFact_<fact>
            acts.append(("call", rel[9:], (("var", f"r{row[0]}"),)))
    return acts


def constant_actions(name, c: Constant) -> list:
    """Insertion actions for the facts of constant leaf ``name``: its uniform value and sign facts."""
    ref = (("var", name),)
    val = uniform_value(c)
    out = [("set", "cval", ref, VALUES(value_key(val)))] if val is not None else []
    return out + [("call", f, ref) for f in const_facts(c.data)]


def _register(s, compiled):
    for c in compiled:
        s.register(c.ruleset, f"(ruleset {c.ruleset})")
        s.register(c.ruleset + ":rule", c.text)


def optimize_graph(fgraph, rules=None, budget: Budget | None = None, cost_model: CostModel | None = None,
                   keep_egraph: bool = False, deadline=None):
    """Optimize a :class:`~eqtensor.core.fgraph.FunctionGraph`; returns ``(fgraph, report)``.

    ``rules`` is a Rule, RuleSet or Schedule (default: :func:`eqtensor.rules.default_schedule`).
    ``keep_egraph=True`` stores the saturated e-graph in ``report.egraph`` (see :mod:`.render`).
    ``deadline``: a :class:`Deadline` shared with the caller's later phases (default: the budget's
    ``seconds`` from now, all for the optimizer).
    On any failure the input graph is returned and ``report.fallback`` says why.
    """
    with gc_paused():
        return _optimize_graph(fgraph, rules, budget, cost_model, keep_egraph, deadline)


def _optimize_graph(fgraph, rules, budget, cost_model, keep_egraph, deadline):
    """:func:`optimize_graph`, with the garbage collector paused."""

    budget = budget or Budget()
    clock = deadline if deadline is not None else Deadline(budget.seconds)
    model = cost_model or CostModel()
    schedule = default_schedule() if rules is None else as_schedule(rules)
    report = OptimizationReport(schedule=schedule)
    nodes = toposort(fgraph.outputs)
    report.nodes_before = report.nodes_after = len(nodes)
    clock.plan(len(nodes))
    if report.nodes_before > budget.max_graph_nodes:
        report.stop_reason = f"not optimized: {report.nodes_before} nodes > budget {budget.max_graph_nodes}"
        return fgraph, report
    t0 = time.perf_counter()
    try:
        cache_key, leaves = _cache_key(fgraph, schedule, budget, model, keep_egraph)
        if cache_key is not None:
            entry, where = opt_cache.lookup(cache_key)
            if entry is not None:
                report.cost_before = report.cost_after = graph_cost(fgraph.outputs, model, nodes)
                replayed = _replay(fgraph, entry, where, leaves, report, model, t0)
                if replayed is not None:
                    return replayed
            report.cache_damaged, report.cache_note = opt_cache.last_lookup()  # damaged entries found
        need = T_FIXED + len(nodes) * (2 * T_NODE_COST + T_NODE_INSERT + T_NODE_EXTRACT)
        if clock.left() < need:  # even inserting and extracting once would overrun: keep the input
            note = (f"not optimized: {len(nodes)} nodes need about {need:.2g} s, more than the time budget "
                    f"({budget.seconds:g} s) leaves ({max(0.0, clock.left()):.2g} s)")
            report.stop_reason = note
            report.budget_notes.append(note)
            return fgraph, report
        report.cost_before = report.cost_after = graph_cost(fgraph.outputs, model, nodes)
        t0 = time.perf_counter()
        outputs, report.folded, folded_nodes = _fold(fgraph.outputs, nodes)
        report.times["fold"] = time.perf_counter() - t0
        new_outputs, new_nodes = _saturate_and_extract(outputs, schedule, budget, model, report, keep_egraph,
                                                       clock, folded_nodes)
        if new_outputs is None:  # out of time: the input graph as it is
            return fgraph, report
        cost_after = graph_cost(new_outputs, model, new_nodes)
    except OutOfTime:
        report.budget_notes.append("out of time before a result was ready: the input graph is kept")
        report.stop_reason = report.stop_reason or f"time budget ({clock.seconds:g} s) exhausted"
        return fgraph, report
    except Exception as e:  # egglog errors and panics (bridge.EGraphError), anything unexpected: stay correct
        discard_session()
        report.fallback = f"{type(e).__name__}: {e}"
        report.stop_reason = report.stop_reason or "error"
        return fgraph, report
    for old, new in zip(fgraph.outputs, new_outputs):
        if not _keeps_type(old, new):
            report.fallback = f"extracted output type {new.type} differs from {old.type}"
            return fgraph, report
    new_fg = fgraph.replace_outputs(new_outputs)
    report.nodes_after = len(new_nodes)
    report.cost_after = cost_after
    if cache_key is not None and "time budget" not in report.stop_reason and not report.budget_notes:
        try:
            opt_cache.store(cache_key, (opt_cache.recipe(leaves, new_outputs), _summary(report)))
        except opt_cache.Uncacheable:
            pass
    return new_fg, report


def _keeps_type(old, new) -> bool:
    """``new`` may replace output ``old``: same dtype and rank, every static length of ``old`` kept."""
    return old.dtype == new.dtype and old.ndim == new.ndim and all(
        o is None or n == o for o, n in zip(old.type.shape, new.type.shape))


def _cache_key(fgraph, schedule, budget, model, keep_egraph):
    """``(key, input leaves)`` of this optimization in the optimizer cache, or ``(None, None)``."""
    if keep_egraph or not config.optimizer_cache:
        return None, None
    leaves, nodes, outputs = opt_cache.leaves_and_nodes(fgraph.outputs)
    try:
        return opt_cache.key(leaves, nodes, outputs, schedule, budget, model), leaves
    except opt_cache.Uncacheable:
        return None, None


_SUMMARY = ("stop_reason", "iterations", "rule_matches", "enodes_inserted", "folded", "merged", "dropped_rules")


def _summary(report) -> dict:
    return {name: getattr(report, name) for name in _SUMMARY}


def _replay(fgraph, entry, where, leaves, report, model, t0):
    """The cached optimization of ``fgraph`` and its report, or None if the recipe does not rebuild
    to the output types (then the e-graph runs)."""
    try:
        new_outputs = opt_cache.replay(entry, leaves)
    except Exception:  # noqa: BLE001  (a recipe that no longer builds: optimize afresh)
        return None
    if not all(_keeps_type(old, new) for old, new in zip(fgraph.outputs, new_outputs)):
        return None
    for name, value in entry[1].items():
        setattr(report, name, value)
    new_fg = fgraph.replace_outputs(new_outputs)
    report.cached = where
    report.nodes_after = new_fg.size()
    report.cost_after = graph_cost(new_outputs, model)
    report.times = {"cache": time.perf_counter() - t0}
    return new_fg, report


def _saturate_and_extract(outputs, schedule, budget, model, report, keep_egraph, clock, nodes=None):
    """Insert, saturate, extract and rebuild: ``(new outputs, their apply nodes)``, or ``(None, None)``
    when the time budget ran out before a result was ready (the report's ``budget_notes`` say where)."""
    times = report.times
    notes = report.budget_notes
    t = time.perf_counter()
    compiled_phases = [[_compiled(r) for r in rs] for rs, _, _ in schedule.phases]
    s = session()
    for c in compiled_phases:
        _register(s, c)
    # creating this thread's e-graph and registering rules happen once per process (per rule): that
    # one-time cost is not charged to this compile's budget
    clock.extend(time.perf_counter() - t)
    loader = _Loader()
    loader.load(outputs, nodes, clock.check)
    report.merged = loader.merged
    needs = [n for phase in compiled_phases for c in phase for n in c.needs]
    acts = loader.actions
    entries = prefill_entries(needs, loader.types, loader.params)
    acts += _entry_actions(entries, loader.types, loader.refined)
    specs = sorted({c for phase in compiled_phases for cr in phase for c in cr.consts})
    for tid in sorted(loader.types | {e[-1] for e in entries}) if specs else ():
        for spec in specs:
            ct = const_type(tid, spec)
            if ct is not None:
                acts.append(("set", "cty", (("int", tid), ("int", spec)), ct))
                if is_float_type(ct):
                    acts.append(("call", "float_ty", (("int", ct),)))
    acts += [("call", "float_ty", (("int", tid),)) for tid in sorted(loader.types) if is_float_type(tid)]
    times["setup"] = time.perf_counter() - t
    n_nodes = len(loader.nodes)
    need = len(loader.rows) * T_ROW + len(acts) * T_ACTION + n_nodes * T_NODE_EXTRACT
    if clock.left() < need:
        notes.append(f"not inserted: the insertion and the extraction need about {need:.2g} s, more than the "
                     f"time budget leaves ({max(0.0, clock.left()):.2g} s); the input graph is kept")
        report.stop_reason = f"time budget ({clock.seconds:g} s) too small: not optimized"
        return None, None
    if len(loader.rows) >= ROWS_BY_FILE_FROM:  # new ops' staging relations: declared once (not charged)
        t = time.perf_counter()
        _register_loads(s, loader.opnames)
        clock.extend(time.perf_counter() - t)
    t = time.perf_counter()
    s.push()
    try:
        _insert_rows(s, loader.rows, acts)
        report.enodes_inserted = s.size()
        times["insert"] = time.perf_counter() - t
        if len(loader.rows) >= 5000:
            clock.calibrate(times["insert"] / len(loader.rows))
        t = time.perf_counter()
        _saturate(s, compiled_phases, budget, report, loader, clock)
        times["saturate"] = time.perf_counter() - t
        t = time.perf_counter()
        frozen = s.freeze(lambda name: name.startswith("op_") or name in _EXTRACT_TABLES)
    finally:
        s.pop()
    try:
        result = _extract(frozen, loader, outputs, model, report if keep_egraph else None, clock, notes)
    except OutOfTime:
        notes.append("extraction ran out of time: the input graph is kept")
        result = None, None
    times["extract"] = time.perf_counter() - t
    return result


_EXTRACT_TABLES = {"Leaf", "Const", "Cons", "Nil", "ty", "Root", "unstable"}


def _entry_actions(entries, graph_types, refined: set):
    """Actions adding type-table entries, their float facts, and ``(refines g out)`` for every type
    ``g`` of the graph at least as static as an entry's result (``refined`` remembers those added)."""
    acts = []
    for k, opid, pid, ins, out in entries:
        acts.append(("set", f"ty{k}", tuple(("int", x) for x in (opid, pid, *ins)), out))
        if is_float_type(out):
            acts.append(("call", "float_ty", (("int", out),)))
        for g in graph_types:
            if (g, out) not in refined and refines(g, out):
                refined.add((g, out))
                acts.append(("call", "refines", (("int", g), ("int", out))))
    return acts


def _serve_requests(s, served: set, loader) -> bool:
    """Fill the type-table entries rules requested (``needK`` rows); True if any was added."""
    frozen = s.freeze(lambda name: name.startswith("need"))
    entries = []
    for k in range(1, MAX_CREATED_ARITY + 1):
        for ins, _ in frozen.get(f"need{k}", ()):
            if ins in served:
                continue
            served.add(ins)
            out = type_entry(k, ins[0], ins[1], ins[2:])
            if out is not None:
                entries.append((k, ins[0], ins[1], ins[2:], out))
    if entries:
        s.insert(_entry_actions(entries, loader.types, loader.refined))
    return bool(entries)


def _const_of_row(vid: int, tid: int) -> Constant:
    """The constant a ``(Const v t)`` e-node stands for."""
    kind, bits = VALUES[vid]
    value = struct.unpack("<d", bits)[0] if kind == "f" else np.nan
    t = TYPES[tid]
    with np.errstate(all="ignore"):
        return Constant(np.full(t.shape, value, dtype=t.dtype))


def _serve_folds(s, loader, served: set) -> int:
    """Constant folding inside the e-graph: evaluate every recorded e-node whose inputs are all
    constants (``foldK`` rows) with its op's NumPy implementation, and union it with a new leaf
    holding the (small) result. Returns the number of e-nodes folded."""
    frozen = s.freeze(lambda name: name.startswith("fold") or name in ("Leaf", "Const"))
    consts = {}  # e-class -> (constructor, args, Constant)
    for (k,), cls in frozen.get("Leaf", ()):
        if isinstance(loader.leaves[k], Constant):
            consts[cls] = ("Leaf", (k,), loader.leaves[k])
    for (vid, tid), cls in frozen.get("Const", ()):
        consts.setdefault(cls, ("Const", (vid, tid), _const_of_row(vid, tid)))
    acts, n = [], 0
    for k in range(1, MAX_CREATED_ARITY + 1):
        for ins, _ in frozen.get(f"fold{k}", ()):
            if ins in served:
                continue
            served.add(ins)
            opid, pid, kids, tz = ins[0], ins[1], ins[2:2 + k], ins[3 + k]  # the row carries ty(z)
            if not all(c in consts for c in kids):
                continue
            d = OPS[OPIDS[opid]]
            value = _try_fold(Op(d, dict(PARAMS[pid])), [consts[c][2] for c in kids], TYPES[tz])
            if value is None:
                continue
            n += 1
            key = (value.signature(), tz)
            k_leaf = loader.folded.get(key)
            if k_leaf is None:  # one leaf per value and type: equal folds share an e-class
                k_leaf = loader.folded[key] = len(loader.leaves)
                loader.leaves.append(value)
            args = [("int", pid)] if d.params else []
            for j, c in enumerate(kids):
                fn, cargs, _ = consts[c]
                acts.append(("let", f"f{n}_{j}", fn, tuple(("int", a) for a in cargs)))
                args.append(("var", f"f{n}_{j}"))
            acts.append(("let", f"f{n}", constructor_name(d.name), tuple(args)))
            leaf = f"f{n}_leaf"
            acts.append(("let", leaf, "Leaf", (("int", k_leaf),)))
            acts.append(("set", "ty", (("var", leaf),), tz))
            acts += constant_actions(leaf, value)
            acts.append(("union", f"f{n}", leaf))
    if acts:
        s.insert(acts)
    return n


def _saturate(s, phases, budget, report, loader, clock):
    """Run the phases one iteration at a time, checking the budget between iterations.

    An iteration is not started when, growing as much as the last one did, it would pass the e-node
    budget, or when it and the extraction of the e-graph it leaves would pass the time budget
    (``clock``, a :class:`Deadline`).

    Back-off: a rule with more new matches in one iteration than ``max(budget.match_limit, size)``
    grows the e-graph faster than linearly (associativity, commutativity, distribution…): it is
    dropped for the rest of the run, so explosive rules cannot crowd out the others (and egglog,
    which cannot interrupt an iteration, never searches them again).
    """
    size = report.enodes_inserted
    stop = None
    dropped: set[str] = set()
    prev_size = size
    combos: dict[tuple, str] = {}
    served: set = set()
    folds_served: set = set()
    it = 0
    for p, (compiled, (_, n, _)) in enumerate(zip(phases, report.schedule.phases)):
        saturated = False
        for _ in range(n):
            if it >= budget.iterations:
                stop = f"iteration budget ({budget.iterations}) reached"
            elif clock.past_soft():
                stop = f"time budget ({clock.seconds:g} s) reached"
            elif size >= budget.enodes:
                stop = f"e-node budget ({budget.enodes}) reached: {size} e-nodes"
            if stop:
                break
            active = tuple(c.ruleset for c in compiled if c.name not in dropped)
            name = combos.get(active)
            if name is None:
                name = combos[active] = f"phase{p}_{len(combos)}"
                s.combine(name, ("facts",) + active)
            if report.iterations:  # egglog cannot interrupt an iteration: predict the next one
                last = report.iterations[-1]
                growth = max(1.0, size / max(1, prev_size))
                if size * growth > budget.enodes:
                    stop = f"e-node budget ({budget.enodes}) would be exceeded: {size} e-nodes growing {growth:.1f}x"
                elif last.seconds * growth + clock.extract_time(size * growth) > clock.left():
                    stop = (f"time budget ({clock.seconds:g} s) would be exceeded by the next iteration and the "
                            f"extraction after it")
                if stop:
                    break
            elif clock.iteration_time(size) + clock.extract_time(size) > clock.left():
                stop = f"time budget ({clock.seconds:g} s) would be exceeded by the first iteration and extraction"
                break
            prev_size = size
            t = time.perf_counter()
            updated, matches = s.run_once(name)
            size = s.size()
            requested = any(v for k, v in matches.items() if k.startswith("req_"))
            fed = requested and _serve_requests(s, served, loader)
            if any(v for k, v in matches.items() if k.startswith("fact_fold_")):
                folded = _serve_folds(s, loader, folds_served)
                fed = fed or bool(folded)
                size = s.size()
                matches[CONSTANT_FOLDING] = folded
            matches = {k: v for k, v in matches.items() if v and not k.startswith(("fact_", "req_"))}
            report.iterations.append(IterationStats(p, size, time.perf_counter() - t, matches))
            for rule, m in matches.items():
                report.rule_matches[rule] = report.rule_matches.get(rule, 0) + m
                if m > max(budget.match_limit, size):
                    dropped.add(rule)
                    report.dropped_rules.append(rule)
            it += 1
            if not updated and not fed and len(active) == len(compiled):
                saturated = True
                break
        if stop:
            break
        if not saturated and p == len(phases) - 1:
            stop = "iteration limit of the last phase reached"
    report.stop_reason = stop or "saturated"


def _extract(frozen, loader, outputs, model, keep=None, clock=None, notes=None):
    """Extract the cheapest selection from the frozen e-graph and rebuild it as core variables:
    ``(outputs, their apply nodes)``. Raises :class:`OutOfTime` past the clock's hard limit."""
    leaves, n_outputs = loader.leaves, len(outputs)
    cons = {out: ins for ins, out in frozen.get("Cons", [])}
    nil = {out for _, out in frozen.get("Nil", [])}

    def unlist(c):
        items = []
        while c not in nil:
            head, c = cons[c]
            items.append(head)
        return tuple(items)

    enodes = []
    for ins, out in frozen.get("Leaf", []):
        enodes.append((out, None, 0, (), ins[0]))
    leaves = list(leaves)
    for (vid, tid), out in frozen.get("Const", []):  # constants created by rules: leaves too
        enodes.append((out, None, 0, (), len(leaves)))
        leaves.append(_const_of_row(vid, tid))
    for table in sorted(frozen):
        if not table.startswith("op_") or table[3:] not in OPS:
            continue
        d = OPS[table[3:]]
        for ins, out in frozen[table]:
            pid = ins[0] if d.params else 0
            rest = ins[1:] if d.params else ins
            kids = unlist(rest[0]) if d.nin is None else tuple(rest)
            enodes.append((out, d.name, pid, kids, None))
    class_type = {ins[0]: out for ins, out in frozen["ty"]}
    roots = dict(frozen["Root"][i][0] for i in range(len(frozen["Root"])))
    root_classes = [roots[k] for k in range(n_outputs)]
    types = {tid: TYPES[tid] for tid in set(class_type.values())}
    params = {pid: dict(PARAMS[pid]) for pid in {e[2] for e in enodes}}
    unstable = {(ins[0], OPIDS[ins[1]]) for ins, _ in frozen.get("unstable", [])}
    originals, original_choice = _originals(enodes, loader, outputs)
    constants = {cls: leaves[leaf].data for cls, op, _, _, leaf in enodes
                 if op is None and isinstance(leaves[leaf], Constant)}
    if clock is not None:
        clock.check()
    selection = extract(enodes, class_type, root_classes, model, types, params, unstable, original_choice,
                        constants, deadline=clock, notes=notes)
    if keep is not None:
        keep.egraph = EGraphSnapshot(enodes, class_type, selection, root_classes, leaves)
    outs = _rebuild(enodes, selection, root_classes, leaves, class_type, originals, clock)
    return outs, toposort(outs)


def _originals(enodes, loader, outputs):
    """The input graph inside the e-graph: ``{e-node key: Variable}`` (unchanged parts are reused as
    they are instead of being rebuilt) and ``{e-class: e-node index}`` (the input's own selection,
    one of the extractor's candidates)."""
    index = {(op, pid, kids): (cls, k) for k, (cls, op, pid, kids, _) in enumerate(enodes) if op is not None}
    leaf_class = {leaf: (cls, k) for k, (cls, op, _, _, leaf) in enumerate(enodes) if op is None}
    cls_of, choice, const_cls = {}, {}, {}
    for k, v in enumerate(loader.leaves):
        if k in leaf_class:
            cls_of[id(v)] = leaf_class[k][0]
            choice[leaf_class[k][0]] = leaf_class[k][1]
            if isinstance(v, Constant):
                const_cls.setdefault(v.signature(), leaf_class[k][0])
    found = {}
    for node in (loader.nodes if loader.nodes is not None else toposort(outputs)):
        kids = tuple(cls_of.get(id(i)) if id(i) in cls_of or not isinstance(i, Constant)
                     else const_cls.get(i.signature()) for i in node.inputs)
        d = node.op.defn
        key = (d.name, PARAMS(node.op.key[1]) if d.params else 0, kids)
        hit = index.get(key)
        if hit is None:
            continue
        cls_of[id(node.out)] = hit[0]
        choice.setdefault(hit[0], hit[1])
        found[key] = node.out
    return found, choice


def _rebuild(enodes, selection, roots, leaves, class_type, originals, clock=None):
    memo: dict[int, object] = {}
    steps = 0
    for root in roots:
        stack = [root]
        while stack:
            steps += 1
            if clock is not None and not steps & 4095:
                clock.check()
            c = stack[-1]
            if c in memo:
                stack.pop()
                continue
            _, op, pid, kids, leaf = enodes[selection[c]]
            missing = [x for x in kids if x not in memo]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            if op is None:
                memo[c] = leaves[leaf]
                continue
            ins = [memo[x] for x in kids]
            orig = originals.get((op, pid, kids))
            if orig is not None and all(a is b or _same_constant(a, b) for a, b in zip(orig.owner.inputs, ins)):
                memo[c] = orig
                continue
            o = Op(OPS[op], dict(PARAMS[pid]))
            v = o(*ins)
            expect = TYPES[class_type[c]]
            if v.dtype != expect.dtype or v.ndim != expect.ndim or any(
                    a is not None and b is not None and a != b for a, b in zip(v.type.shape, expect.shape)):
                raise TypeError(f"rebuilt {op} has type {v.type}, its e-class has {expect}")
            if ins and all(isinstance(i, Constant) for i in ins) and OPS[op].kind != "creation":
                v = _try_fold(o, ins, v.type) or v
            memo[c] = v
    return [memo[r] for r in roots]


def _same_constant(a, b) -> bool:
    """Equal constants (the e-graph keeps one leaf per value: a node of the input graph whose
    constant is another object of the same value is still reused as it is)."""
    return isinstance(a, Constant) and isinstance(b, Constant) and a.signature() == b.signature()
