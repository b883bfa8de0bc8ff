"""Budgets for a run of the e-graph and the report of what happened.

>>> b = Budget(iterations=5)
>>> b.iterations, b.enodes
(5, 100000)
>>> r = OptimizationReport(stop_reason="saturated", nodes_before=3, nodes_after=1)
>>> "saturated" in str(r)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Budget:
    """Limits of one optimization run, checked between iterations.

    - ``iterations``: rounds of rule application (over all phases);
    - ``enodes``: e-graph size; no new iteration starts past it, or when growing as much as the
      last one it would pass it;
    - ``seconds``: wall time of the whole optimization — folding, insertion, saturation, extraction,
      rebuilding — and, in ``function``, of the code generation after it (the C compiler's own run
      is not counted): a phase predicted to overrun is skipped or cut short (no iteration is
      started, extraction is greedy only, or the input graph is kept), the report's
      ``budget_notes`` say which, and the compile overshoots by at most about half of it. It is a
      safety net: the default (``None``) scales with the graph, 5 s plus 4 ms per node, at most 10 s
      (:func:`~.deadline.safety_net_seconds`: 7 s at 500 nodes, 10 s from 1 250), so that the iteration and e-node
      budgets decide where saturation stops even on a loaded machine, and results do not depend
      on the load; an explicit value is the bound itself;
    - ``match_limit``: back-off — a rule with more new matches in one iteration than
      ``max(match_limit, e-graph size)`` (it grows the e-graph faster than linearly) is dropped for
      the rest of the run;
    - ``max_graph_nodes``: graphs larger than this are not optimized at all (report says so); below
      it, ``seconds`` decides (a graph that cannot be inserted and extracted in time is not either).
    """

    iterations: int = 30
    enodes: int = 100_000
    seconds: float | None = None
    match_limit: int = 5_000
    max_graph_nodes: int = 200_000

    def __post_init__(self):
        for name in ("iterations", "enodes", "match_limit", "max_graph_nodes"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"Budget.{name} must be a non-negative int, got {v!r}")
        if self.seconds is not None and not self.seconds >= 0:
            raise ValueError(f"Budget.seconds must be None (automatic) or >= 0, got {self.seconds!r}")


@dataclass
class EGraphSnapshot:
    """The saturated e-graph of one run (kept with ``keep_egraph=True``): e-nodes as
    ``(e-class, op name or None for a leaf, params id, child e-classes, leaf index)``, the type id of
    each e-class, the extractor's choice ``{e-class: e-node index}``, the root e-classes and the leaves."""

    enodes: list
    class_type: dict
    selection: dict
    roots: list
    leaves: list


@dataclass
class IterationStats:
    phase: int
    enodes: int
    seconds: float
    matches: dict


@dataclass
class OptimizationReport:
    """What the optimizer did for one compile. ``str(report)`` is a readable summary."""

    stop_reason: str = ""
    fallback: str | None = None  # why the unoptimized graph was returned, if it was
    iterations: list = field(default_factory=list)
    rule_matches: dict = field(default_factory=dict)  # rule name -> matches summed over rounds
    #: the fired rules whose results the extracted graph uses (see
    #: :func:`eqtensor.egraph.rebuild.rules_in_result`): a rule that fired but lost, or rewrote only
    #: parts the result does not use, is not here
    rules_contributed: list = field(default_factory=list)
    times: dict = field(default_factory=dict)  # phase -> seconds
    cost_before: float = 0.0
    cost_after: float = 0.0
    nodes_before: int = 0
    nodes_after: int = 0
    enodes_inserted: int = 0
    folded: int = 0  # nodes replaced by constants before insertion
    merged: int = 0  # repeated subexpressions merged on insertion
    schedule: object = field(default=None, repr=False)
    dropped_rules: list = field(default_factory=list)  # rules the back-off dropped (too many matches)
    egraph: EGraphSnapshot | None = field(default=None, repr=False)
    #: ``"memory"`` or ``"disk"`` when the result came from the optimizer cache (see
    #: :mod:`eqtensor.egraph.cache`): the e-graph did not run, and the rules fired, sizes and
    #: stop reason are those of the run that filled the cache
    cached: str | None = None
    #: what the wall-time budget (``Budget.seconds``, which covers the whole compile) cut short or
    #: skipped, e.g. ``"not optimized: …"``, ``"extraction: sharing-aware greedy pass only …"``,
    #: ``"extraction out of time: the input graph is kept"`` (empty when nothing was)
    budget_notes: list = field(default_factory=list)
    #: damaged optimizer-cache entries found for this graph (bad checksum, unparsable, unknown op,
    #: index out of range, failing type checks on replay): removed and recomputed, never replayed
    cache_damaged: int = 0
    #: what the optimizer cache found wrong, if anything: a damaged entry, an entry owned by another
    #: user (not loaded), an unusable or read-only cache directory (results kept in memory)
    cache_note: str | None = None

    @property
    def rules_fired(self) -> dict:
        """Rules that matched at least once, with their match counts."""
        return {k: v for k, v in sorted(self.rule_matches.items()) if v}

    @property
    def time_limited(self) -> bool:
        """True when the wall-clock safety net (``Budget.seconds``) cut this optimization short — the
        iteration and e-node budgets are what decide where saturation stops; the result then depends
        on the machine's load (the optimizer warns once per process, and does not cache it)."""
        return "time budget" in self.stop_reason or bool(self.budget_notes)

    @property
    def assumed(self) -> dict:
        """Rules that fired on an assumption (``rewrite(..., assumes=...)``): name -> what they assumed."""
        if self.schedule is None:
            return {}
        rules = {r.name: r for r in self.schedule.rules()}
        return {k: rules[k].assumption_text() for k in self.rules_fired if k in rules and rules[k].assumes}

    def __str__(self):
        lines = ["e-graph optimization report"]
        if self.fallback:
            lines.append(f"  FALLBACK to the unoptimized graph: {self.fallback}")
        if self.cached:
            lines.append(f"  from the optimizer cache ({self.cached}): the e-graph did not run; what follows is "
                         "the run that filled the cache")
        lines.append(f"  stop reason: {self.stop_reason}")
        if self.dropped_rules:
            lines.append(f"  rules dropped by the back-off: {', '.join(self.dropped_rules)}")
        lines += [f"  time budget: {note}" for note in self.budget_notes]
        if self.time_limited:
            lines.append("  WALL-CLOCK SAFETY NET FIRED: where this run stopped depends on the machine's load")
        lines.append(f"  graph nodes: {self.nodes_before} -> {self.nodes_after}; "
                     f"cost: {self.cost_before:.4g} -> {self.cost_after:.4g}")
        if self.folded:
            lines.append(f"  constant-folded nodes: {self.folded}")
        if self.merged:
            lines.append(f"  repeated subexpressions merged: {self.merged}")
        sizes = " -> ".join(str(s.enodes) for s in self.iterations)
        lines.append(f"  e-nodes: inserted {self.enodes_inserted}" + (f", per iteration {sizes}" if sizes else ""))
        times = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.times.items())
        lines.append(f"  time: {times}")
        fired = self.rules_fired
        if fired:
            lines.append("  rules fired (matches; * = its result is in the extracted graph):")
            used = set(self.rules_contributed)
            lines += [f"    {'*' if name in used else ' '} {name}: {n}" for name, n in fired.items()]
            lines += [f"  assumed: {name} ({what})" for name, what in self.assumed.items()]
        else:
            lines.append("  rules fired: none")
        return "\n".join(lines)

    def __repr__(self):
        return f"<OptimizationReport {self.stop_reason!r}, nodes {self.nodes_before}->{self.nodes_after}>"
