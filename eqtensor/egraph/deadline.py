"""The wall-time budget of one compile: the time model the optimizer predicts its uninterruptible
steps with, and the :class:`Deadline` every phase (insertion, saturation, extraction, code
generation) runs against."""

from __future__ import annotations

import time

from .extract import OutOfTime

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
#: the automatic wall-clock safety net (``Budget(seconds=None)``): this much plus ``SAFETY_NET_PER_NODE``
#: per node of the graph — about 4x what the default rules need on the 2-core reference machine
#: when a dozen other processes share it, so that only the iteration and e-node budgets stop saturation
SAFETY_NET_BASE = 5.0
SAFETY_NET_PER_NODE = 4e-3
#: ... and at most this (the compile-time bound of a very large graph: past it the time model keeps
#: the input graph rather than start an optimization it predicts will not finish)
SAFETY_NET_MAX = 10.0


def safety_net_seconds(n_nodes: int) -> float:
    """The default wall-time budget of a compile of an ``n_nodes``-node graph.

    >>> safety_net_seconds(0), safety_net_seconds(500), safety_net_seconds(5000)
    (5.0, 7.0, 10.0)
    """
    return min(SAFETY_NET_BASE + SAFETY_NET_PER_NODE * n_nodes, SAFETY_NET_MAX)


class Deadline:
    """The wall-time budget of one compile (``Budget.seconds``; None: :func:`safety_net_seconds` of
    the graph's size, set by :meth:`plan`), shared by its phases.

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

    def __init__(self, seconds: float | None, start: float | None = None, per_node: float = 0.0):
        self.start = time.perf_counter() if start is None else start
        self.automatic = seconds is None  # the safety net sized by :meth:`plan`
        self.seconds = safety_net_seconds(0) if seconds is None else float(seconds)
        self.per_node = per_node
        self.reserve = 0.0
        self.speed = 1.0  # measured slowdown against the time model (a loaded machine is slower)

    def extend(self, seconds: float) -> None:
        """Move the deadline ``seconds`` later (one-time setup not charged to a compile)."""
        self.start += seconds

    def plan(self, n_nodes: int) -> None:
        """Reserve the caller's time for a graph of ``n_nodes`` nodes (and size the automatic
        safety net for it)."""
        self.reserve = self.per_node * n_nodes
        if self.automatic:
            self.seconds = safety_net_seconds(n_nodes)

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
