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
