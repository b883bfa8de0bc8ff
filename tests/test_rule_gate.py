"""The rule checker is a gate: Mode(rules=...) refuses a user rule that fails it."""

from __future__ import annotations

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.compile.mode import unchecked_rules
from eqtensor.rules import RuleRejected, RuleSet, check, default_rules, rewrite, var


def test_a_wrong_rule_is_refused_with_its_name_and_a_counterexample():
    x = var("x")
    bad = rewrite("my_sqrt_sqr", pt.sqrt(pt.sqr(x)), x, why="wrong for x < 0")
    with pytest.raises(RuleRejected, match=r"my_sqrt_sqr: at .*inputs \{'x'"):
        et.Mode(rules=default_rules() + bad)


def test_a_trusted_rule_is_used_unchecked():
    x = var("x")
    bad = rewrite("my_sqrt_sqr", pt.sqrt(pt.sqr(x)), x, why="wrong for x < 0")
    mode = et.Mode(rules=default_rules() + bad, trusted=("my_sqrt_sqr",), backend="numpy")
    v = pt.dvector("v")
    f = et.function([v], pt.sqrt(pt.sqr(v)), mode=mode)
    assert f(np.array([-3.0])).tolist() == [-3.0]  # the user asked for it


def test_trusted_names_must_be_rules_of_the_mode():
    with pytest.raises(ValueError, match="not in Mode"):
        et.Mode(rules=default_rules(), trusted=("nope",))
    with pytest.raises(ValueError, match="no rules were given"):
        et.Mode(trusted=("nope",))


def test_sampling_includes_the_rules_constants():
    """switch(x > 12345, x + 1, x) -> x is wrong only above 12345: plain random draws miss it."""
    x = var("x")
    rule = rewrite("my_switch", pt.switch(x > 12345, x + 1, x), x)
    res = check(rule)
    assert not res.ok and "12345" in res.failures[0]
    with pytest.raises(RuleRejected):
        et.Mode(rules=rule)


def test_a_rule_without_a_reference_is_unchecked_not_an_error():
    a = var("A", ndim=2)
    rule = rewrite("my_det_inv", pt.linalg.det(pt.linalg.inv(a)), 1 / pt.linalg.det(a), exact=False)
    res = check(rule)
    assert res.ok and res.unchecked and "my_det_inv" in res.unchecked[0]
    mode = et.Mode(rules=RuleSet([rule]))
    assert unchecked_rules(RuleSet([rule])) == ["my_det_inv"]
    assert mode.rules is not None


def test_default_rules_are_not_rechecked_and_pass():
    assert check(default_rules()).ok
    et.Mode(rules=default_rules())  # no RuleRejected
