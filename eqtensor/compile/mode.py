"""Compilation modes: which optimizer and which backend ``function`` uses.

``"FAST_COMPILE"`` skips optimization and runs on NumPy; ``"NUMPY"`` optimizes and runs on NumPy;
``"FAST_RUN"`` (the default, ``config.mode``) optimizes and runs on the best available backend.
PyTensor's ``"NUMBA"`` is ``"C"``; ``"DebugMode"`` and ``"NanGuardMode"`` check every call
(:mod:`.debug`).

>>> from eqtensor.compile.mode import get_mode
>>> get_mode("FAST_COMPILE").optimize, get_mode("FAST_COMPILE").backend
(False, 'numpy')
"""

from __future__ import annotations

import weakref
from dataclasses import InitVar, dataclass, field, replace
from typing import Any

from ..core.config import config
from ..egraph.report import Budget
from ..rules import default_rules
from ..rules.checker import CheckResult, RuleRejected, check
from ..rules.language import Rule, RuleSet, Schedule, as_schedule

BACKENDS = ("numpy", "c", "jax")

#: PyTensor's linker names -> the backend that plays their part: PyTensor's Python linker is the
#: NumPy backend; its C linkers, VMs and Numba (compiled code) are the C backend
LINKERS = {"py": "numpy", "c": "c", "c|py": "c", "c|py_nogc": "c", "vm": "c", "vm_nogc": "c", "cvm": "c",
           "cvm_nogc": "c", "numba": "c", "auto": "c", "jax": "jax"}

#: PyTensor's optimizer names -> whether the e-graph optimizer runs. eqtensor has one optimizer (the
#: e-graph: merging, canonicalization, stabilization, specialization together), so PyTensor's
#: partial ones (merge only, the fast_compile set, o1, o2) compile without it, as FAST_COMPILE
OPTIMIZERS = {None: False, "None": False, "merge": False, "minimum_compile": False, "fast_compile": False,
              "o1": False, "o2": False, "o3": True, "o4": True, "fast_run": True, "fast_run_stable": True,
              "stabilize": True, "unsafe": True, "default": True}


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

    PyTensor's ``linker=`` and ``optimizer=`` are accepted (keywords only) and mapped by
    :data:`LINKERS` and :data:`OPTIMIZERS` (``optimizer=`` may also be a rule, rule set or schedule:
    the ``rules``).

    >>> from eqtensor.rules import algebraic
    >>> Mode(rules=algebraic()).rules is not None
    True
    >>> m = Mode(linker="py", optimizer=None)
    >>> m.backend, m.optimize
    ('numpy', False)
    >>> Mode(linker="cvm", optimizer="fast_run").backend
    'c'
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
    #: JAX backend only: ``{input name or variable: jax.sharding.Sharding}`` (docs/jax-backend.md)
    sharding: Any = None
    name: str = field(default="custom", compare=False)
    linker: InitVar[Any] = None
    optimizer: InitVar[Any] = "default"

    def __post_init__(self, linker=None, optimizer="default"):
        self._pytensor_names(linker, optimizer)
        if self.backend not in BACKENDS:
            raise ValueError(f"Mode backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.sharding is not None:
            if self.backend != "jax":
                raise ValueError(f"Mode(sharding=...) needs backend='jax', got backend={self.backend!r}")
            pairs = self.sharding.items() if hasattr(self.sharding, "items") else self.sharding
            object.__setattr__(self, "sharding", tuple(pairs))  # hashable, like the Mode
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

    def _pytensor_names(self, linker, optimizer):
        """Set ``backend`` and ``optimize``/``rules`` from PyTensor's ``linker`` and ``optimizer``."""
        if linker is not None:
            if linker not in LINKERS:
                raise ValueError(f"Mode(linker=...): unknown or unsupported linker {linker!r}; eqtensor maps "
                                 f"{sorted(LINKERS)} (or pass backend= one of {BACKENDS})")
            object.__setattr__(self, "backend", LINKERS[linker])
        if isinstance(optimizer, (Rule, RuleSet, Schedule)):
            object.__setattr__(self, "rules", optimizer)
            object.__setattr__(self, "optimize", True)
        elif optimizer != "default":
            if optimizer not in OPTIMIZERS:
                raise ValueError(f"Mode(optimizer=...): unknown optimizer {optimizer!r}; eqtensor maps "
                                 f"{sorted(map(str, OPTIMIZERS))} or takes a rule set")
            object.__setattr__(self, "optimize", OPTIMIZERS[optimizer])

    def including(self, **changes) -> "Mode":
        return replace(self, **changes)

    def for_inner_graphs(self) -> "Mode":
        """The mode of the step functions of scans: this one without ``sharding`` (it names outer
        inputs), and a checking mode's plain counterpart (the C loop calls a step's compiled entry
        directly; the checking mode checks what the scan computes from the outer function)."""
        if type(self).wrap_thunk is not Mode.wrap_thunk:
            return Mode(optimize=self.optimize, backend=self.backend, rules=self.rules, budget=self.budget,
                        cost_model=self.cost_model, trusted=self.trusted, name=self.name)
        return replace(self, sharding=None) if self.sharding else self

    def wrap_thunk(self, maker, thunk):
        """The thunk a function compiled with this mode calls: ``thunk`` itself. Checking modes
        (:class:`~eqtensor.compile.debug.NanGuardMode`,
        :class:`~eqtensor.compile.debug.DebugMode`) return one that checks every call."""
        return thunk


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
    "JAX": Mode(optimize=True, backend="jax", name="JAX"),
}


#: PyTensor's mode names -> the eqtensor mode that plays their part: Numba's compiled code is the C
#: backend (``"DebugMode"`` and ``"NanGuardMode"`` are checking modes of their own, registered by
#: :mod:`.debug`)
ALIASES = {"NUMBA": "C"}


def register_mode(name: str, mode: Mode) -> None:
    """Make ``mode`` available by ``name`` (any case) to ``function(mode=...)`` and ``get_mode``."""
    _NAMED[name.upper()] = mode


def get_mode(mode) -> Mode:
    """Resolve ``None`` (→ ``config.mode``), a mode name (any case; PyTensor's ``"NUMBA"`` is
    ``"C"``) or a :class:`Mode`.

    >>> get_mode("NUMBA").backend, get_mode("FAST_RUN").optimize
    ('c', True)
    """
    if mode is None:
        mode = config.mode
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        key = ALIASES.get(mode.upper(), mode.upper())
        if key in _NAMED:
            return _NAMED[key]
    raise ValueError(f"unknown mode {mode!r}; use one of {sorted(_NAMED) + sorted(ALIASES)} or a Mode(...)")
