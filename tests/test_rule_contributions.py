"""The report says which fired rules contributed to the extracted graph (``rules_contributed``)."""

from __future__ import annotations

from eqtensor import tensor as pt
from eqtensor.core.fgraph import FunctionGraph
from eqtensor.egraph import optimize_graph
from eqtensor.rules import RuleSet, default_rules, rewrite, var


def _opt(outputs, inputs, rules=None):
    new, report = optimize_graph(FunctionGraph(inputs, outputs, len(inputs), len(outputs)), rules=rules)
    return new.outputs, report


def test_the_selected_rule_is_listed_and_the_losers_are_not():
    x = pt.dvector("x")
    (out,), report = _opt([pt.log(1 + pt.exp(x))], [x])
    assert out.owner.op.name == "softplus"
    assert {"log1p", "softplus"} <= set(report.rules_fired)
    assert "softplus" in report.rules_contributed
    assert "log1p" not in report.rules_contributed  # log1p(exp(x)) was built, then softplus won
    assert set(report.rules_contributed) <= set(report.rules_fired)
    assert "* softplus" in str(report) and "* log1p:" not in str(report)


def test_a_rule_whose_result_costs_more_fired_but_did_not_contribute():
    x = pt.dvector("x")
    v = var("x")
    costly = rewrite("exp_times_one", pt.exp(v), pt.exp(v) * 1.0, why="a costlier form")
    (out,), report = _opt([pt.exp(x)], [x], rules=RuleSet([costly]))
    assert out.owner.op.name == "exp"
    assert report.rules_fired == {"exp_times_one": 1} and report.rules_contributed == []


def test_cancellations_and_identities_are_listed():
    x, y = pt.dvector("x"), pt.dvector("y")
    (out,), report = _opt([(-(-x)) * 1.0 + y - y], [x, y])
    assert out is x
    assert {"neg_neg", "mul_one"} <= set(report.rules_contributed)
    (out2,), report2 = _opt([pt.log(pt.exp(x)) * y], [x, y], rules=default_rules())
    assert out2.owner.op.name == "mul" and "log_exp" in report2.rules_contributed


def test_only_rules_on_the_used_parts_count():
    x, y = pt.dvector("x"), pt.dvector("y")
    (out,), report = _opt([pt.log(1 + pt.exp(x)) + y], [x, y])
    contributed = set(report.rules_contributed)
    assert "softplus" in contributed and not contributed & {"neg_neg", "mul_one", "logaddexp_formula"}
