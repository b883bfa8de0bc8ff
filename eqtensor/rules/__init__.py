"""Rewrite rules written in the tensor language, their default sets, and the rule checker.

>>> from eqtensor import tensor as pt
>>> from eqtensor.rules import rewrite, var, check
>>> x = var("x")
>>> r = rewrite("double_neg", -(-x), x, why="negation is an involution")
>>> check(r).ok
True
"""

from .algebraic import algebraic, algebraic_assuming_finite
from .blas import blas
from .checker import CheckResult, RuleRejected, check
from .language import (
    Assumption, Guard, Rule, RuleSet, Schedule, as_schedule, constant, finite, finite_nonzero, integral_const, is_float, no_overflow, nonconstant, nonneg,
    nonzero_const, positive, rewrite, same_type, var,
)
from .linalg import linalg
from .stability import stability


def default_rules() -> RuleSet:
    """Every default rule: algebraic + the cancellations assuming finite values (PyTensor's
    default) + stability + BLAS + linear algebra. Leave out ``algebraic_assuming_finite()`` for IEEE
    semantics.

    >>> "sub_self_1d" in default_rules().names()
    True
    """
    return algebraic() + algebraic_assuming_finite() + stability() + blas() + linalg()


def default_schedule() -> Schedule:
    """How the default rules run: everything together until saturation (or the budget)."""
    return default_rules().saturate()


__all__ = [
    "Assumption", "CheckResult", "RuleRejected", "constant", "Guard", "Rule", "algebraic_assuming_finite", "finite", "finite_nonzero", "RuleSet", "Schedule", "algebraic", "as_schedule", "blas", "check",
    "default_rules", "default_schedule", "integral_const", "linalg", "is_float", "no_overflow", "nonconstant", "nonneg", "nonzero_const", "positive", "rewrite",
    "same_type", "stability", "var",
]
