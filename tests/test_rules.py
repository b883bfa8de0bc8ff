"""The rule language, the default rule sets and the rule checker."""

import numpy as np
import pytest

from eqtensor import tensor as pt
from eqtensor.rules import (
    RuleSet, Schedule, algebraic, check, default_rules, nonzero_const, positive, rewrite, stability, var,
)


@pytest.mark.parametrize("rule", default_rules().rules, ids=lambda r: r.name)
def test_every_default_rule_passes_the_checker(rule):
    res = check(rule, trials=60, seed=7)
    assert res.ok, str(res)
    assert rule.why, f"rule {rule.name} has no reason"


def test_default_rule_names_are_unique_and_cover_the_seed_rules():
    names = default_rules().names()
    assert len(names) == len(set(names))
    for required in ("neg_neg", "mul_one", "add_zero", "mul_div_cancel", "exp_log", "log_exp", "log1p", "expm1",
                     "softplus", "log_sigmoid", "logsumexp", "log1mexp", "log_softmax", "pow_pow"):
        assert required in names


@pytest.mark.parametrize("make", [
    lambda x, y: rewrite("w_log", pt.log(1 + x), pt.log(x)),
    lambda x, y: rewrite("w_exp_log", pt.exp(pt.log(x)), x),  # missing the x > 0 guard
    lambda x, y: rewrite("w_sub", x - y, y - x),
    lambda x, y: rewrite("w_div", x * y / x, y),  # missing the non-zero constant guard
    lambda x, y: rewrite("w_softplus", pt.log(1 + pt.exp(x)), x),
    lambda x, y: rewrite("w_sqrt", pt.sqrt(pt.sqr(x)), x),
    lambda x, y: rewrite("w_exp", pt.exp(x) * pt.exp(y), pt.exp(x * y)),
])
def test_checker_catches_wrong_rules(make):
    rule = make(var("x"), var("y"))
    res = check(rule, trials=40)
    assert not res.ok
    assert res.failures[0].startswith(rule.name)


def test_checker_reports_dtype_mismatch():
    x = var("x")
    res = check(rewrite("w_dtype2", x + x, pt.cast(x + x, "float32")))
    assert not res.ok and "type" in res.failures[0]


def test_check_result_is_readable():
    res = check(algebraic(), trials=4)
    assert res.ok and bool(res)
    assert f"checked {len(algebraic())} rules" in str(res)


def test_rule_definition_errors():
    x, y = var("x"), var("y")
    with pytest.raises(ValueError, match="does not occur in the pattern"):
        rewrite("r1", -x, y)
    with pytest.raises(ValueError, match="identifier"):
        rewrite("not a name", -x, x)
    with pytest.raises(ValueError, match="must be an operation"):
        rewrite("r2", x, x)
    with pytest.raises(ValueError, match="bare constant"):
        rewrite("r3", x - x, pt.as_tensor_variable(0.0))
    with pytest.raises(ValueError, match="uniform scalar"):
        rewrite("r3b", x * 2, x * np.arange(3.0))
    with pytest.raises(ValueError, match="pattern variables"):
        rewrite("r4", -(-x), x, when=[positive(y)])
    with pytest.raises(ValueError, match="is not a pattern variable"):
        rewrite("r6", -(-x), x + pt.dvector("free"))
    with pytest.raises(TypeError, match="guards"):
        rewrite("r5", -(-x), x, when=["x > 0"])
    with pytest.raises(ValueError, match="dtypes"):
        rewrite("r7", -(-x), x, dtypes=("int8",))
    with pytest.raises(TypeError, match="assumptions"):
        rewrite("r8", x - x, pt.zeros_like(x), assumes=[positive(x)])
    with pytest.raises(TypeError):
        check("not a rule")


def test_rulesets_compose():
    a, s = algebraic(), stability()
    both = a + s
    assert both.names() == a.names() + s.names()
    assert len(both + a) == len(both)
    assert "neg_neg" not in both.without("neg_neg").names()
    with pytest.raises(KeyError):
        both.without("no_such_rule")
    x = var("x")
    clash = rewrite("neg_neg", -(-x), x)
    with pytest.raises(ValueError, match="two different rules"):
        a + clash
    assert both["softplus"].name == "softplus"


def test_schedules_compose():
    sched = algebraic().saturate(5) + stability() * 2
    assert isinstance(sched, Schedule)
    assert [(n, sat) for _, n, sat in sched.phases] == [(5, True), (2, True)]
    assert set(sched.rules().names()) == set((algebraic() + stability()).names())


def test_guards_describe_themselves():
    x = var("x")
    r = rewrite("g", x * x / x, x, when=[nonzero_const(x)], why="demo")
    assert "nonzero_const(x)" in repr(r)
    assert isinstance(RuleSet([r]), RuleSet)


def test_checker_is_deterministic():
    a = check(default_rules(), trials=6, seed=3)
    b = check(default_rules(), trials=6, seed=3)
    assert str(a) == str(b)


def test_checker_edge_values_reach_the_rules():
    # softplus at +-1000 is where the naive form fails: the checker must exercise it and accept
    x = var("x")
    r = rewrite("sp", pt.log(1 + pt.exp(x)), pt.softplus(x), exact=False)
    assert check(r, trials=40).ok
    # ... and reject a "stable" op that is wrong at large x
    bad = rewrite("sp_bad", pt.log(1 + pt.exp(x)), pt.log1p(x), exact=False)
    assert not check(bad, trials=40).ok
    assert np.isfinite(1.0)
