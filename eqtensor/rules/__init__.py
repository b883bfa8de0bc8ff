"""Rewrite rules written in the tensor language, their default sets, and the rule checker.

>>> from eqtensor import tensor as pt
>>> from eqtensor.rules import rewrite, var, check
>>> x = var("x")
>>> r = rewrite("double_neg", -(-x), x, why="negation is an involution")
>>> check(r).ok
True
"""

from .algebraic import algebraic
from .blas import blas
from .checker import CheckResult, check
from .language import (
    Guard, Rule, RuleSet, Schedule, as_schedule, is_float, nonneg, nonzero_const, positive, rewrite, same_type,
    var,
)
from .stability import stability


def default_rules() -> RuleSet:
    """Every default rule: algebraic + stability + BLAS."""
    return algebraic() + stability() + blas()


def default_schedule() -> Schedule:
    """How the default rules run: everything together until saturation (or the budget)."""
    return default_rules().saturate()


__all__ = [
    "CheckResult", "Guard", "Rule", "RuleSet", "Schedule", "algebraic", "as_schedule", "blas", "check",
    "default_rules", "default_schedule", "is_float", "nonneg", "nonzero_const", "positive", "rewrite",
    "same_type", "stability", "var",
]
