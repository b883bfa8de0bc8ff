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

import time
import warnings

from ..core.config import config
from ..core.graph import gc_paused
from ..core.traversal import toposort
from . import cache as opt_cache
from .bridge import discard_session
from .cache_codec import Uncacheable
from .cache_key import leaves_and_nodes
from .canonical import PRODUCT_RULE, SUM_RULE, alternatives
from .deadline import T_FIXED, T_ACTION, T_NODE_COST, T_NODE_EXTRACT, T_NODE_INSERT, T_ROW, Deadline
from .extract import CostModel, OutOfTime, graph_cost
from .folding import fold_graph
from .insertion import Loader, declare_staging, fact_actions, insert_rows
from .rebuild import EXTRACT_TABLES, extract_graph
from .report import Budget, OptimizationReport
from .saturation import prepared_session, saturate
from ..rules import default_schedule
from ..rules.language import as_schedule


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
        new, report = _optimize_graph(fgraph, rules, budget, cost_model, keep_egraph, deadline)
    if report.time_limited:
        _warn_time_limited(report)
    return new, report


_WARNED: list = []  # the time-limit warning is given once per process


def _warn_time_limited(report) -> None:
    """Warn, once per process, that the wall-clock safety net (``Budget.seconds``) decided where this
    optimization stopped: iterations and e-nodes are what should, so its result depends on the
    machine's load. The report says it every time (``report.time_limited``)."""
    if _WARNED:
        return
    _WARNED.append(True)
    why = report.budget_notes[0] if report.budget_notes else report.stop_reason
    warnings.warn(f"eqtensor's optimizer hit its wall-clock safety net (Budget.seconds): {why}. The result "
                  f"depends on the machine's load; raise Budget(seconds=...) for reproducible optimization "
                  f"(warned once per process; see the report's time_limited)", RuntimeWarning, stacklevel=3)


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
            replayed = _from_cache(fgraph, cache_key, leaves, report, model, nodes, t0)
            if replayed is not None:
                return replayed
        if _too_big(nodes, budget, clock, report):  # even inserting and extracting once would overrun
            return fgraph, report
        report.cost_before = report.cost_after = graph_cost(fgraph.outputs, model, nodes)
        t0 = time.perf_counter()
        outputs, report.folded, folded_nodes = fold_graph(fgraph.outputs, nodes)
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
    return _finish(fgraph, new_outputs, new_nodes, cost_after, report, cache_key, leaves)


def _from_cache(fgraph, cache_key, leaves, report, model, nodes, t0):
    """The cached optimization of ``fgraph`` replayed, or None (the report then counts the damaged
    entries the lookup found)."""
    entry, where = opt_cache.lookup(cache_key)
    if entry is not None:
        report.cost_before = report.cost_after = graph_cost(fgraph.outputs, model, nodes)
        replayed = _replay(fgraph, entry, where, leaves, nodes, report, model, t0)
        if replayed is not None:
            return replayed
    report.cache_damaged, report.cache_note = opt_cache.last_lookup()  # damaged entries found
    return None


def _too_big(nodes, budget, clock, report) -> bool:
    """True (and the report says why) when inserting and extracting ``nodes`` once would overrun the
    time budget."""
    need = T_FIXED + len(nodes) * (2 * T_NODE_COST + T_NODE_INSERT + T_NODE_EXTRACT)
    if clock.left() >= need:
        return False
    note = (f"not optimized: {len(nodes)} nodes need about {need:.2g} s, more than the time budget "
            f"({clock.seconds:g} s) leaves ({max(0.0, clock.left()):.2g} s)")
    report.stop_reason = note
    report.budget_notes.append(note)
    return True


def _finish(fgraph, new_outputs, new_nodes, cost_after, report, cache_key, leaves):
    """``(fgraph with the new outputs, report)``, the result stored in the cache when it is
    reproducible; the input graph when an output's type changed."""
    for old, new in zip(fgraph.outputs, new_outputs):
        if not _keeps_type(old, new):
            report.fallback = f"extracted output type {new.type} differs from {old.type}"
            return fgraph, report
    new_fg = fgraph.replace_outputs(new_outputs)
    report.nodes_after = len(new_nodes)
    report.cost_after = cost_after
    if cache_key is not None and not report.time_limited:
        try:
            opt_cache.store(cache_key, (opt_cache.recipe(leaves, new_outputs), _summary(report)))
        except Uncacheable:
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
    leaves, nodes, outputs = leaves_and_nodes(fgraph.outputs)
    try:
        return opt_cache.key(leaves, nodes, outputs, schedule, budget, model), leaves
    except Uncacheable:
        return None, None


_SUMMARY = ("stop_reason", "iterations", "rule_matches", "enodes_inserted", "folded", "merged", "dropped_rules",
            "rules_contributed")


def _summary(report) -> dict:
    return {name: getattr(report, name) for name in _SUMMARY}


def _replay(fgraph, entry, where, leaves, nodes, report, model, t0):
    """The cached optimization of ``fgraph`` and its report, or None if the recipe does not rebuild
    to the output types (then the e-graph runs)."""
    try:
        new_outputs = opt_cache.replay(entry, leaves, nodes)
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
    t = time.perf_counter()
    s, phases = prepared_session(schedule)
    # creating this thread's e-graph and registering rules happen once per process (per rule): that
    # one-time cost is not charged to this compile's budget
    clock.extend(time.perf_counter() - t)
    loader = Loader()
    loader.load(outputs, nodes, clock.check)
    report.merged = loader.merged
    if budget.iterations:  # no rewriting at all with an iteration budget of 0
        _load_alternatives(loader, outputs, schedule, report)
    acts = loader.actions
    acts += fact_actions(phases, loader)
    times["setup"] = time.perf_counter() - t
    if not _insertion_fits(loader, acts, clock, report):
        return None, None
    declare_staging(s, loader, clock)
    t = time.perf_counter()
    s.push()
    try:
        insert_rows(s, loader.rows, acts)
        report.enodes_inserted = s.size()
        times["insert"] = time.perf_counter() - t
        if len(loader.rows) >= 5000:
            clock.calibrate(times["insert"] / len(loader.rows))
        t = time.perf_counter()
        saturate(s, phases, budget, report, loader, clock)
        times["saturate"] = time.perf_counter() - t
        t = time.perf_counter()
        frozen = s.freeze(lambda name: name.startswith("op_") or name in EXTRACT_TABLES)
    finally:
        s.pop()
    try:
        result = extract_graph(frozen, loader, outputs, model, report if keep_egraph else None, clock,
                               report.budget_notes, report.rules_contributed)
    except OutOfTime:
        report.budget_notes.append("extraction ran out of time: the input graph is kept")
        result = None, None
    times["extract"] = time.perf_counter() - t
    return result


def _load_alternatives(loader, outputs, schedule, report) -> None:
    """Load the canonical-multiset alternatives of the graph's sums and products (:mod:`.canonical`)
    for the cancellation rules in the schedule, unioned with their nodes; the report counts them
    under those rules' names."""
    names = {r.name for rs, _, _ in schedule.phases for r in rs.rules}
    products, sums = PRODUCT_RULE in names, SUM_RULE in names
    if not (products or sums):
        return
    alts = alternatives(outputs, loader.nodes, products, sums)
    loader.equate([(v, alt) for v, alt, _ in alts])
    for _, _, rule in alts:
        if rule is not None:
            report.rule_matches[rule] = report.rule_matches.get(rule, 0) + 1


def _insertion_fits(loader, acts, clock, report) -> bool:
    """True when inserting the loaded rows and ``acts`` and extracting afterwards fit the time left;
    else the report says why."""
    need = len(loader.rows) * T_ROW + len(acts) * T_ACTION + len(loader.nodes) * T_NODE_EXTRACT
    if clock.left() >= need:
        return True
    report.budget_notes.append(f"not inserted: the insertion and the extraction need about {need:.2g} s, more "
                               f"than the time budget leaves ({max(0.0, clock.left()):.2g} s); the input graph "
                               f"is kept")
    report.stop_reason = f"time budget ({clock.seconds:g} s) too small: not optimized"
    return False
