"""Iteration and e-node budgets decide where saturation stops: the default rules saturate the test and
benchmark graphs within them; the wall-clock limit is a safety net, reported and warned once."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from eqtensor import config, tensor as pt
from eqtensor.core.fgraph import FunctionGraph
from eqtensor.egraph import Budget, optimize_graph
from eqtensor.egraph import optimizer as optimizer_module
from eqtensor.printing import pprint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_optimize import random_graph  # noqa: E402

UNHURRIED = Budget(seconds=120)  # the default iteration and e-node budgets; time out of the way


def _run(fg):
    with config.change_flags(optimizer_cache=False):
        return optimize_graph(fg, budget=UNHURRIED)


@pytest.mark.parametrize("n_ops", [10, 100, 500, pytest.param(5000, marks=pytest.mark.slow)])
def test_benchmark_graphs_saturate_within_the_default_budgets(n_ops):
    default = Budget()
    new, report = _run(random_graph(n_ops))
    assert report.stop_reason == "saturated", str(report)
    assert not report.time_limited and report.fallback is None
    assert len(report.iterations) < default.iterations
    assert max(s.enodes for s in report.iterations) < default.enodes / 4
    assert not report.dropped_rules
    again, report2 = _run(random_graph(n_ops))  # the same graph optimizes the same way
    assert [pprint(o) for o in again.outputs] == [pprint(o) for o in new.outputs]
    assert [s.enodes for s in report2.iterations] == [s.enodes for s in report.iterations]


def test_the_wall_clock_safety_net_is_reported_and_warned_once(monkeypatch):
    monkeypatch.setattr(optimizer_module, "_WARNED", [])
    x = pt.dvector("x")
    fg = FunctionGraph([x], [pt.log(1 + pt.exp(x)) * 1.0], 1, 1)
    with config.change_flags(optimizer_cache=False), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reports = [optimize_graph(fg, budget=Budget(seconds=0.0))[1] for _ in range(2)]
    assert all(r.time_limited for r in reports)
    assert all("SAFETY NET" in str(r) for r in reports)
    mine = [w for w in caught if "wall-clock safety net" in str(w.message)]
    assert len(mine) == 1 and issubclass(mine[0].category, RuntimeWarning)
    _, calm = optimize_graph(fg)
    assert not calm.time_limited and "SAFETY NET" not in str(calm)


def test_the_default_safety_net_scales_with_the_graph():
    from eqtensor.egraph.deadline import Deadline, safety_net_seconds

    assert Budget().seconds is None  # automatic
    clock = Deadline(None)
    clock.plan(5000)
    assert clock.seconds == safety_net_seconds(5000) == 10
    small = Deadline(None)
    small.plan(500)
    assert small.seconds == safety_net_seconds(500) == 7
    explicit = Deadline(0.5)
    explicit.plan(5000)
    assert explicit.seconds == 0.5  # an explicit budget is the bound itself


def test_same_program_same_graph_on_a_loaded_machine():
    """Two busy loops load both cores: the default budget still lets the iteration and e-node budgets
    decide, so the optimized graph is the one of an unloaded run."""
    import subprocess

    fg = random_graph(500, seed=3)
    with config.change_flags(optimizer_cache=False):
        calm, calm_report = optimize_graph(fg)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        with config.change_flags(optimizer_cache=False):
            loaded, report = optimize_graph(fg)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert not report.time_limited and report.stop_reason == "saturated", str(report)
    assert [pprint(o) for o in loaded.outputs] == [pprint(o) for o in calm.outputs]
    assert [s.enodes for s in report.iterations] == [s.enodes for s in calm_report.iterations]
