"""Saturation: the schedule's rules compiled and registered once per process, then run one iteration
at a time under the budget (iterations, e-nodes with growth prediction, back-off of explosive
rules, wall time), serving between iterations the type-table entries rules request and the
constant folds they make possible."""

from __future__ import annotations

import time

from .bridge import session
from .folding import CONSTANT_FOLDING, serve_folds
from .insertion import entry_actions
from .program import MAX_CREATED_ARITY, compile_rule, type_entry
from .report import IterationStats

_COMPILED: dict = {}


def _compiled(rule):
    c = _COMPILED.get(rule)
    if c is None:
        c = _COMPILED.setdefault(rule, compile_rule(rule))
    return c


def _register(s, compiled):
    for c in compiled:
        s.register(c.ruleset, f"(ruleset {c.ruleset})")
        s.register(c.ruleset + ":rule", c.text)


def prepared_session(schedule):
    """``(session, compiled phases)``: this thread's e-graph with the schedule's rules registered
    (compiled once per process and rule)."""
    phases = [[_compiled(r) for r in rs] for rs, _, _ in schedule.phases]
    s = session()
    for c in phases:
        _register(s, c)
    return s, phases


def serve_requests(s, served: set, loader) -> bool:
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
        s.insert(entry_actions(entries, loader.types, loader.refined))
    return bool(entries)


class _Saturation:
    """One saturation run: the e-graph's size, the rules dropped, the combined rulesets made, the
    requests and folds served, the iterations run."""

    def __init__(self, s, budget, report, loader, clock):
        self.s, self.budget, self.report, self.loader, self.clock = s, budget, report, loader, clock
        self.size = self.prev_size = report.enodes_inserted
        self.dropped: set[str] = set()
        self.combos: dict[tuple, str] = {}
        self.served: set = set()
        self.folds_served: set = set()
        self.it = 0

    def limit(self) -> str | None:
        """Why no further iteration may start (a budget already spent), or None."""
        budget, clock = self.budget, self.clock
        if self.it >= budget.iterations:
            return f"iteration budget ({budget.iterations}) reached"
        if clock.past_soft():
            return f"time budget ({clock.seconds:g} s) reached"
        if self.size >= budget.enodes:
            return f"e-node budget ({budget.enodes}) reached: {self.size} e-nodes"
        return None

    def ruleset(self, p: int, compiled) -> tuple[str, tuple]:
        """``(name, active rulesets)``: the combined ruleset of phase ``p``'s rules not dropped."""
        active = tuple(c.ruleset for c in compiled if c.name not in self.dropped)
        name = self.combos.get(active)
        if name is None:
            name = self.combos[active] = f"phase{p}_{len(self.combos)}"
            self.s.combine(name, ("facts",) + active)
        return name, active

    def predicted_stop(self) -> str | None:
        """Why the next iteration must not start (egglog cannot interrupt one: predicted from the
        last one's time and growth), or None."""
        budget, clock, size = self.budget, self.clock, self.size
        if not self.report.iterations:
            if clock.iteration_time(size) + clock.extract_time(size) > clock.left():
                return f"time budget ({clock.seconds:g} s) would be exceeded by the first iteration and extraction"
            return None
        last = self.report.iterations[-1]
        growth = max(1.0, size / max(1, self.prev_size))
        if size * growth > budget.enodes:
            return f"e-node budget ({budget.enodes}) would be exceeded: {size} e-nodes growing {growth:.1f}x"
        if last.seconds * growth + clock.extract_time(size * growth) > clock.left():
            return (f"time budget ({clock.seconds:g} s) would be exceeded by the next iteration and the "
                    f"extraction after it")
        return None

    def iterate(self, p: int, name: str) -> bool:
        """Run one iteration of ruleset ``name`` (phase ``p``), serve its requests and folds, record it
        and drop the rules that exploded; True if the e-graph changed."""
        s, report = self.s, self.report
        self.prev_size = self.size
        t = time.perf_counter()
        updated, matches = s.run_once(name)
        self.size = s.size()
        requested = any(v for k, v in matches.items() if k.startswith("req_"))
        fed = requested and serve_requests(s, self.served, self.loader)
        if any(v for k, v in matches.items() if k.startswith("fact_fold_")):
            folded = serve_folds(s, self.loader, self.folds_served)
            fed = fed or bool(folded)
            self.size = s.size()
            matches[CONSTANT_FOLDING] = folded
        matches = {k: v for k, v in matches.items() if v and not k.startswith(("fact_", "req_"))}
        report.iterations.append(IterationStats(p, self.size, time.perf_counter() - t, matches))
        for rule, m in matches.items():
            report.rule_matches[rule] = report.rule_matches.get(rule, 0) + m
            if m > max(self.budget.match_limit, self.size):
                self.dropped.add(rule)
                report.dropped_rules.append(rule)
        self.it += 1
        return bool(updated or fed)


def saturate(s, phases, budget, report, loader, clock):
    """Run the phases one iteration at a time, checking the budget between iterations.

    An iteration is not started when, growing as much as the last one did, it would pass the e-node
    budget, or when it and the extraction of the e-graph it leaves would pass the time budget
    (``clock``, a :class:`~.deadline.Deadline`).

    Back-off: a rule with more new matches in one iteration than ``max(budget.match_limit, size)``
    grows the e-graph faster than linearly (associativity, commutativity, distribution…): it is
    dropped for the rest of the run, so explosive rules cannot crowd out the others (and egglog,
    which cannot interrupt an iteration, never searches them again).
    """
    run = _Saturation(s, budget, report, loader, clock)
    stop = None
    for p, (compiled, (_, n, _)) in enumerate(zip(phases, report.schedule.phases)):
        saturated = False
        for _ in range(n):
            stop = run.limit()
            if stop:
                break
            name, active = run.ruleset(p, compiled)
            stop = run.predicted_stop()
            if stop:
                break
            if not run.iterate(p, name) and len(active) == len(compiled):
                saturated = True
                break
        if stop:
            break
        if not saturated and p == len(phases) - 1:
            stop = "iteration limit of the last phase reached"
    report.stop_reason = stop or "saturated"
