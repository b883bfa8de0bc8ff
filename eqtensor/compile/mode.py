"""Compilation modes: which optimizer and which backend ``function`` uses.

``"FAST_COMPILE"`` skips optimization and runs on NumPy; ``"NUMPY"`` optimizes and runs on NumPy;
``"FAST_RUN"`` (the default, ``config.mode``) optimizes and runs on the best available backend.

>>> from eqtensor.compile.mode import get_mode
>>> get_mode("FAST_COMPILE").optimize, get_mode("FAST_COMPILE").backend
(False, 'numpy')
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.config import config
from ..egraph.report import Budget
from ..rules import default_rules
from ..rules.checker import CheckResult, RuleRejected, check
from ..rules.language import Rule, RuleSet, Schedule, as_schedule

BACKENDS = ("numpy", "c")


@dataclass(frozen=True)
class Mode:
    """An optimizer setting and a backend. ``rules``/``budget``/``cost_model`` configure the e-graph.

    ``rules``: a :class:`~eqtensor.rules.Rule`, ``RuleSet`` or ``Schedule`` replacing the default
    rules (``None``: :func:`eqtensor.rules.default_schedule`); ``budget``: an
    :class:`~eqtensor.egraph.Budget`; ``cost_model``: a
    :class:`~eqtensor.egraph.CostModel` (anything with ``node_cost``).

    The rule checker is a gate: every rule that is not one of eqtensor's default rules is checked
    (:func:`eqtensor.rules.check`) when the mode is made, and a rule that fails is refused with
    :class:`~eqtensor.rules.RuleRejected` naming it and a counterexample, unless its name is in
    ``trusted`` (then it is used unchecked, and the optimization report lists it). Rules the checker
    cannot judge (an op without a high-precision reference) are accepted and listed as unchecked.

    >>> from eqtensor.rules import algebraic
    >>> Mode(rules=algebraic()).rules is not None
    True
    >>> Mode(budget=5)
    Traceback (most recent call last):
    ...
    TypeError: Mode(budget=...) takes an eqtensor.egraph.Budget, got int
    """

    optimize: bool = True
    backend: str = "numpy"
    rules: Any = None
    budget: Any = None
    cost_model: Any = None
    trusted: tuple = ()
    name: str = field(default="custom", compare=False)

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"Mode backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.rules is not None:

            if not isinstance(self.rules, (Rule, RuleSet, Schedule)):
                raise TypeError(f"Mode(rules=...) takes a Rule, RuleSet or Schedule, got "
                                f"{type(self.rules).__name__}")
            object.__setattr__(self, "trusted", tuple(self.trusted))
            _gate(as_schedule(self.rules).rules(), self.trusted)
        elif self.trusted:
            raise ValueError("Mode(trusted=...) names rules of Mode(rules=...); no rules were given")
        if self.budget is not None:

            if not isinstance(self.budget, Budget):
                raise TypeError(f"Mode(budget=...) takes an eqtensor.egraph.Budget, got "
                                f"{type(self.budget).__name__}")
        if self.cost_model is not None and not callable(getattr(self.cost_model, "node_cost", None)):
            raise TypeError("Mode(cost_model=...) takes an object with a node_cost(opname, params, out_type, "
                            "in_types, in_values) method (see eqtensor.egraph.CostModel)")

    def including(self, **changes) -> "Mode":
        return replace(self, **changes)


#: the checker's verdict on each user rule checked so far (rules are immutable)
_VERDICTS: "weakref.WeakKeyDictionary[Rule, CheckResult]" = weakref.WeakKeyDictionary()


def unchecked_rules(rules: RuleSet) -> list[str]:
    """The user rules of ``rules`` the checker could not judge (see :class:`Mode`)."""
    return [r.name for r in rules if r in _VERDICTS and _VERDICTS[r].unchecked]


def _gate(rules: RuleSet, trusted: tuple) -> None:
    unknown = set(trusted) - set(rules.names())
    if unknown:
        raise ValueError(f"Mode(trusted=...) names rules that are not in Mode(rules=...): {sorted(unknown)}")
    defaults = set(default_rules().rules)
    for rule in rules:
        if rule in defaults or rule.name in trusted:
            continue
        verdict = _VERDICTS.get(rule)
        if verdict is None:
            verdict = _VERDICTS[rule] = check(rule)
        if verdict.failures:
            raise RuleRejected(f"Mode(rules=...): the rule checker refuses {verdict.failures[0]}. Fix the rule "
                               f"(a guard or an assumption may be missing), or pass trusted=({rule.name!r},) "
                               f"to use it unchecked")


_NAMED = {
    "FAST_COMPILE": Mode(optimize=False, backend="numpy", name="FAST_COMPILE"),
    "NUMPY": Mode(optimize=True, backend="numpy", name="NUMPY"),
    "C": Mode(optimize=True, backend="c", name="C"),
    "FAST_RUN": Mode(optimize=True, backend="c", name="FAST_RUN"),
}


def get_mode(mode) -> Mode:
    """Resolve ``None`` (→ ``config.mode``), a mode name or a :class:`Mode`."""
    if mode is None:
        mode = config.mode
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str) and mode.upper() in _NAMED:
        return _NAMED[mode.upper()]
    raise ValueError(f"unknown mode {mode!r}; use one of {sorted(_NAMED)} or a Mode(...)")
