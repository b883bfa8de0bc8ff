"""Compilation modes: which optimizer and which backend ``function`` uses.

``"FAST_COMPILE"`` skips optimization and runs on NumPy; ``"NUMPY"`` optimizes and runs on NumPy;
``"FAST_RUN"`` (the default, ``config.mode``) optimizes and runs on the best available backend.

>>> from eqtensor.compile.mode import get_mode
>>> get_mode("FAST_COMPILE").optimize, get_mode("FAST_COMPILE").backend
(False, 'numpy')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..core.config import config
from ..egraph.report import Budget
from ..rules.language import Rule, RuleSet, Schedule

BACKENDS = ("numpy", "c")


@dataclass(frozen=True)
class Mode:
    """An optimizer setting and a backend. ``rules``/``budget``/``cost_model`` configure the e-graph.

    ``rules``: a :class:`~eqtensor.rules.Rule`, ``RuleSet`` or ``Schedule`` replacing the default
    rules (``None``: :func:`eqtensor.rules.default_schedule`); ``budget``: an
    :class:`~eqtensor.egraph.Budget`; ``cost_model``: a
    :class:`~eqtensor.egraph.CostModel` (anything with ``node_cost``).

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
    name: str = field(default="custom", compare=False)

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"Mode backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.rules is not None:

            if not isinstance(self.rules, (Rule, RuleSet, Schedule)):
                raise TypeError(f"Mode(rules=...) takes a Rule, RuleSet or Schedule, got "
                                f"{type(self.rules).__name__}")
        if self.budget is not None:

            if not isinstance(self.budget, Budget):
                raise TypeError(f"Mode(budget=...) takes an eqtensor.egraph.Budget, got "
                                f"{type(self.budget).__name__}")
        if self.cost_model is not None and not callable(getattr(self.cost_model, "node_cost", None)):
            raise TypeError("Mode(cost_model=...) takes an object with a node_cost(opname, params, out_type, "
                            "in_types, in_values) method (see eqtensor.egraph.CostModel)")

    def including(self, **changes) -> "Mode":
        return replace(self, **changes)


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
