"""The e-graph optimizer: fold constants, insert the whole graph, saturate under a budget (folding
the all-constant e-nodes rules create and typing the nodes they request between iterations), extract.

>>> from eqtensor import tensor as pt
>>> from eqtensor.core.fgraph import FunctionGraph
>>> x = pt.dvector("x")
>>> fg = FunctionGraph([x], [-(-x) * 1.0], 1, 1)
>>> new, report = optimize_graph(fg)
>>> new.outputs[0] is x, report.nodes_before, report.nodes_after
(True, 3, 0)
"""

from __future__ import annotations

import struct
import time

import numpy as np

from ..core.config import config
from ..core.graph import Constant, toposort, uniform_value
from ..core.op import OPS, Op
from . import cache as opt_cache
from .bridge import discard_session, session
from .extract import CostModel, extract, graph_cost
from .program import (
    MAX_CREATED_ARITY, OPIDS, PARAMS, TYPES, VALUES, compile_rule, const_facts, const_type, constructor_name,
    is_float_type, prefill_entries, refines, type_entry, value_key,
)
from .report import Budget, EGraphSnapshot, IterationStats, OptimizationReport
from ..rules import default_schedule
from ..rules.language import as_schedule

#: largest constant (in elements) the optimizer creates by folding
FOLD_LIMIT = 10_000

#: the name under which folding inside the e-graph appears among the rules fired
CONSTANT_FOLDING = "constant_folding"

_COMPILED: dict = {}


def _compiled(rule):
    c = _COMPILED.get(rule)
    if c is None:
        c = _COMPILED.setdefault(rule, compile_rule(rule))
    return c


def fold_constants(outputs):
    """Replace every node whose inputs are all constants by its (small) value. Returns
    ``(new outputs, number of folded nodes)``."""
    memo: dict[int, object] = {}
    folded = 0
    for node in toposort(outputs):
        ins = [memo.get(id(i), i) for i in node.inputs]
        new = node.out if all(a is b for a, b in zip(ins, node.inputs)) else node.op(*ins)
        if ins and all(isinstance(i, Constant) for i in ins) and node.op.defn.kind != "creation":
            value = _try_fold(node.op, ins, new.type)
            if value is not None:
                new = value
                folded += 1
        memo[id(node.out)] = new
    return [memo.get(id(o), o) for o in outputs], folded


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
    """Builds the insertion actions for a list of output expressions."""

    def __init__(self):
        self.actions: list = []
        self.leaves: list = []
        self.names: dict[int, str] = {}
        self._leaf_keys: dict = {}
        self.types: set[int] = set()
        self.params: set[int] = {0}
        self.count = 0
        self._seen: dict = {}
        self.merged = 0  # nodes that repeat an earlier node (common subexpressions)
        self._varies: set[str] = set()  # inserted e-nodes that depend on an input
        self.refined: set = set()  # (graph type, table type) pairs recorded as ``refines``
        self.folded: dict = {}  # (constant signature, type id) -> leaf index, for folding in the e-graph

    def _ty(self, name, t):
        tid = TYPES(t)
        self.types.add(tid)
        self.actions.append(("set", "ty", (("var", name),), tid))

    def leaf(self, v) -> str:
        key = ("c", v.signature()) if isinstance(v, Constant) else id(v)
        name = self._leaf_keys.get(key)
        if name is None:
            k = len(self.leaves)
            self.leaves.append(v)
            name = self._leaf_keys[key] = f"l{k}"
            self.actions.append(("let", name, "Leaf", (("int", k),)))
            self._ty(name, v.type)
            if isinstance(v, Constant):
                self._facts(name, v)
                self.folded[(v.signature(), TYPES(v.type))] = k
            else:
                self.actions.append(("call", "varies", (("var", name),)))
                self._varies.add(name)
        self.names[id(v)] = name
        return name

    def _facts(self, name, c):
        self.actions += constant_actions(name, c)

    def load(self, outputs):
        for node in toposort(outputs):
            kids = [self.names[id(i)] if id(i) in self.names else self.leaf(i) for i in node.inputs]
            d = node.op.defn
            args = []
            if d.params:
                pid = PARAMS(node.op.key[1])
                self.params.add(pid)
                args.append(("int", pid))
            if d.nin is None:
                lst = self._fresh()
                self.actions.append(("let", lst, "Nil", ()))
                for kid in reversed(kids):
                    nxt = self._fresh()
                    self.actions.append(("let", nxt, "Cons", (("var", kid), ("var", lst))))
                    lst = nxt
                args.append(("var", lst))
            else:
                args += [("var", k) for k in kids]
            key = (d.name, tuple(args))
            name = self._seen.get(key)
            if name is not None:  # the same op on the same e-classes: one e-node (hash-consing)
                self.merged += 1
                self.names[id(node.out)] = name
                continue
            name = self._seen[key] = self._fresh()
            self.actions.append(("let", name, constructor_name(d.name), tuple(args)))
            self._ty(name, node.out.type)
            if any(k in self._varies for k in kids):
                self.actions.append(("call", "varies", (("var", name),)))
                self._varies.add(name)
            self.names[id(node.out)] = name
        for k, o in enumerate(outputs):
            name = self.names.get(id(o)) or self.leaf(o)
            self.actions.append(("call", "Root", (("int", k), ("var", name))))

    def _fresh(self) -> str:
        self.count += 1
        return f"n{self.count}"


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
                   keep_egraph: bool = False):
    """Optimize a :class:`~eqtensor.core.fgraph.FunctionGraph`; returns ``(fgraph, report)``.

    ``rules`` is a Rule, RuleSet or Schedule (default: :func:`eqtensor.rules.default_schedule`).
    ``keep_egraph=True`` stores the saturated e-graph in ``report.egraph`` (see :mod:`.render`).
    On any failure the input graph is returned and ``report.fallback`` says why.
    """

    budget = budget or Budget()
    model = cost_model or CostModel()
    schedule = default_schedule() if rules is None else as_schedule(rules)
    report = OptimizationReport(schedule=schedule)
    report.nodes_before = report.nodes_after = fgraph.size()
    if report.nodes_before > budget.max_graph_nodes:
        report.stop_reason = f"not optimized: {report.nodes_before} nodes > budget {budget.max_graph_nodes}"
        return fgraph, report
    t0 = time.perf_counter()
    try:
        report.cost_before = report.cost_after = graph_cost(fgraph.outputs, model)
        cache_key, leaves = _cache_key(fgraph, schedule, budget, model, keep_egraph)
        if cache_key is not None:
            entry, where = opt_cache.lookup(cache_key)
            if entry is not None:
                replayed = _replay(fgraph, entry, where, leaves, report, model, t0)
                if replayed is not None:
                    return replayed
        t0 = time.perf_counter()
        outputs, report.folded = fold_constants(fgraph.outputs)
        report.times["fold"] = time.perf_counter() - t0
        new_outputs = _saturate_and_extract(outputs, schedule, budget, model, report, keep_egraph)
        cost_after = graph_cost(new_outputs, model)
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
    report.nodes_after = new_fg.size()
    report.cost_after = cost_after
    if cache_key is not None and "time budget" not in report.stop_reason:
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


def _saturate_and_extract(outputs, schedule, budget, model, report, keep_egraph=False):
    times = report.times
    compiled_phases = [[_compiled(r) for r in rs] for rs, _, _ in schedule.phases]
    t = time.perf_counter()
    s = session()
    for c in compiled_phases:
        _register(s, c)
    loader = _Loader()
    loader.load(outputs)
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
    t = time.perf_counter()
    s.push()
    try:
        s.insert(acts)
        report.enodes_inserted = s.size()
        times["insert"] = time.perf_counter() - t
        t = time.perf_counter()
        _saturate(s, compiled_phases, budget, report, loader)
        times["saturate"] = time.perf_counter() - t
        t = time.perf_counter()
        frozen = s.freeze(lambda name: name.startswith("op_") or name in _EXTRACT_TABLES)
    finally:
        s.pop()
    result = _extract(frozen, loader, outputs, model, report if keep_egraph else None)
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
    frozen = s.freeze(lambda name: name.startswith("fold") or name in ("Leaf", "Const", "ty"))
    consts = {}  # e-class -> (constructor, args, Constant)
    for (k,), cls in frozen.get("Leaf", ()):
        if isinstance(loader.leaves[k], Constant):
            consts[cls] = ("Leaf", (k,), loader.leaves[k])
    for (vid, tid), cls in frozen.get("Const", ()):
        consts.setdefault(cls, ("Const", (vid, tid), _const_of_row(vid, tid)))
    class_type = {ins[0]: out for ins, out in frozen["ty"]}
    acts, n = [], 0
    for k in range(1, MAX_CREATED_ARITY + 1):
        for ins, _ in frozen.get(f"fold{k}", ()):
            if ins in served:
                continue
            served.add(ins)
            opid, pid, kids, z = ins[0], ins[1], ins[2:2 + k], ins[2 + k]
            if not all(c in consts for c in kids):
                continue
            d = OPS[OPIDS[opid]]
            value = _try_fold(Op(d, dict(PARAMS[pid])), [consts[c][2] for c in kids], TYPES[class_type[z]])
            if value is None:
                continue
            n += 1
            key = (value.signature(), class_type[z])
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
            acts.append(("set", "ty", (("var", leaf),), class_type[z]))
            acts += constant_actions(leaf, value)
            acts.append(("union", f"f{n}", leaf))
    if acts:
        s.insert(acts)
    return n


def _saturate(s, phases, budget, report, loader):
    """Run the phases one iteration at a time, checking the budget between iterations.

    An iteration is not started when, growing as much as the last one did, it would pass the e-node
    or time budget.

    Back-off: a rule with more new matches in one iteration than ``max(budget.match_limit, size)``
    grows the e-graph faster than linearly (associativity, commutativity, distribution…): it is
    dropped for the rest of the run, so explosive rules cannot crowd out the others (and egglog,
    which cannot interrupt an iteration, never searches them again).
    """
    start = time.perf_counter()
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
            elif time.perf_counter() - start > budget.seconds:
                stop = f"time budget ({budget.seconds} s) reached"
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
                elif time.perf_counter() - start + last.seconds * growth > budget.seconds:
                    stop = f"time budget ({budget.seconds} s) would be exceeded by the next iteration"
                if stop:
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


def _extract(frozen, loader, outputs, model, keep=None):
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
    selection = extract(enodes, class_type, root_classes, model, types, params, unstable, original_choice,
                        constants)
    if keep is not None:
        keep.egraph = EGraphSnapshot(enodes, class_type, selection, root_classes, leaves)
    return _rebuild(enodes, selection, root_classes, leaves, class_type, originals)


def _originals(enodes, loader, outputs):
    """The input graph inside the e-graph: ``{e-node key: Variable}`` (unchanged parts are reused as
    they are instead of being rebuilt) and ``{e-class: e-node index}`` (the input's own selection,
    one of the extractor's candidates)."""
    index = {(op, pid, kids): (cls, k) for k, (cls, op, pid, kids, _) in enumerate(enodes) if op is not None}
    leaf_class = {leaf: (cls, k) for k, (cls, op, _, _, leaf) in enumerate(enodes) if op is None}
    cls_of, choice = {}, {}
    for k, v in enumerate(loader.leaves):
        if k in leaf_class:
            cls_of[id(v)] = leaf_class[k][0]
            choice[leaf_class[k][0]] = leaf_class[k][1]
    found = {}
    for node in toposort(outputs):
        kids = tuple(cls_of.get(id(i)) for i in node.inputs)
        d = node.op.defn
        key = (d.name, PARAMS(node.op.key[1]) if d.params else 0, kids)
        hit = index.get(key)
        if hit is None:
            continue
        cls_of[id(node.out)] = hit[0]
        choice.setdefault(hit[0], hit[1])
        found[key] = node.out
    return found, choice


def _rebuild(enodes, selection, roots, leaves, class_type, originals):
    memo: dict[int, object] = {}
    for root in roots:
        stack = [root]
        while stack:
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
            if orig is not None and all(a is b for a, b in zip(orig.owner.inputs, ins)):
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
