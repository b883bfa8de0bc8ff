"""The rule language: rewrites written with the tensor API over pattern variables.

A rule is a *pattern* and a *replacement*, both ordinary eqtensor graphs built from pattern
variables (:func:`var`), plus guards (``when=[...]``) and a one-line reason (``why=``). Rule sets
are values that compose with ``+``; a :class:`Schedule` says how rule sets are run.

>>> from eqtensor import tensor as pt
>>> from eqtensor.rules import rewrite, var
>>> x = var("x")
>>> r = rewrite("neg_neg", -(-x), x, why="negation is an involution")
>>> r.name, len(r.pattern_vars())
('neg_neg', 1)
>>> (r + r).names()
['neg_neg']

Conventions (the compiler relies on them; see ``docs/writing-rules.md``):

- A pattern variable matches any e-class; a variable used twice must match the same e-class.
- A constant in the pattern matches any constant whose elements all equal that (scalar) value.
- An op parameter tuple written identically on both sides (e.g. ``axis=1`` in
  ``log(sum(exp(x), axis=1)) → logsumexp(x, axis=1)``) stands for *any* value: it is matched and
  carried over. Parameters written only in the pattern are matched literally.
- Every rule implicitly requires the replacement to have exactly the type (dtype and static
  shape) of the matched term; new intermediate nodes are typed by the op table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.graph import Constant, Variable, toposort
from ..core.types import TensorType


def var(name: str, ndim: int = 1, dtype: str = "float64", shape=None) -> Variable:
    """A pattern variable. ``ndim``/``dtype``/``shape`` only shape how the pattern is built and
    checked; in the e-graph the variable matches any e-class (types are guarded separately).

    >>> var("x").tag["pattern"], var("a", shape=(1, 1)).type.shape
    ('x', (1, 1))
    """
    v = Variable(TensorType(dtype, (None,) * ndim if shape is None else shape), name=name)
    v.tag["pattern"] = name
    return v


def is_pattern_var(v: Variable) -> bool:
    return v.owner is None and "pattern" in v.tag


@dataclass(frozen=True)
class Guard:
    """A side condition on pattern variables: ``kind`` is one of :data:`GUARD_KINDS`."""

    kind: str
    args: tuple

    def describe(self) -> str:
        return f"{self.kind}({', '.join(getattr(a, 'name', repr(a)) for a in self.args)})"


#: guard kind -> what it asserts (facts the e-graph knows; see eqtensor/core/egraph/program.py)
GUARD_KINDS = {
    "positive": "every element is > 0 (or nan, or a value that underflowed to 0)",
    "nonneg": "every element is >= 0 (or nan)",
    "nonzero_const": "a constant with no zero, inf or nan element",
    "is_float": "the dtype is a floating-point dtype",
    "same_type": "the two variables have the same dtype and static shape",
}


def positive(x) -> Guard:
    """Guard: ``x`` is known positive (e.g. ``exp(y)``, ``sigmoid(y)``, a positive constant)."""
    return Guard("positive", (x,))


def nonneg(x) -> Guard:
    """Guard: ``x`` is known non-negative (e.g. ``sqr(y)``, ``abs(y)``, ``softplus(y)``)."""
    return Guard("nonneg", (x,))


def nonzero_const(x) -> Guard:
    """Guard: ``x`` is a constant whose elements are finite and non-zero."""
    return Guard("nonzero_const", (x,))


def is_float(x) -> Guard:
    """Guard: ``x`` has a floating-point dtype."""
    return Guard("is_float", (x,))


def same_type(x, y) -> Guard:
    """Guard: ``x`` and ``y`` have the same dtype and static shape."""
    return Guard("same_type", (x, y))


@dataclass(frozen=True, eq=False)
class Rule:
    """One named rewrite. ``exact=False`` marks rules whose replacement is *more accurate* than the
    pattern (stability rules): the checker then compares both against a high-precision reference."""

    name: str
    pattern: Variable
    replacement: Variable
    when: tuple = ()
    why: str = ""
    exact: bool = True
    domain: dict = field(default_factory=dict)
    ulps: int = 16
    stabilizes: bool = False

    def pattern_vars(self) -> list[Variable]:
        return _vars_of(self.pattern)

    def names(self) -> list[str]:
        return [self.name]

    @property
    def rules(self) -> tuple["Rule", ...]:
        return (self,)

    def __add__(self, other) -> "RuleSet":
        return RuleSet(self.rules) + other

    def __repr__(self):
        guards = f" when {', '.join(g.describe() for g in self.when)}" if self.when else ""
        return f"<rule {self.name}: {self.pattern} -> {self.replacement}{guards}>"


def _vars_of(root: Variable) -> list[Variable]:
    out, seen = [], set()
    nodes = toposort([root])
    leaves = [i for n in nodes for i in n.inputs] + [root]
    for v in leaves:
        if is_pattern_var(v) and id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def rewrite(name: str, pattern: Variable, replacement: Variable, when=(), why: str = "",
            exact: bool = True, domain: dict | None = None, ulps: int = 16, stabilizes: bool = False) -> Rule:
    """Declare a rule ``pattern → replacement`` (see the module docstring for the conventions).

    ``domain`` maps a pattern variable's name to ``"positive"``, ``"nonneg"``, ``"nonzero"`` or
    ``"small"`` to restrict the checker's random inputs to what the guards promise. ``ulps`` is the
    relative error (in units of the dtype's epsilon) the replacement may add where it is less
    accurate than the pattern (the checker enforces it). ``stabilizes=True`` marks the pattern as a
    numerically unstable form: wherever the rule matched, the extractor charges the pattern's root
    op the cost model's ``unstable_penalty``, so the stable replacement is kept even where sharing
    would make the naive form cheaper (implies ``exact=False``).

    >>> from eqtensor import tensor as pt
    >>> x = var("x")
    >>> rewrite("log1p", pt.log(1 + x), pt.log1p(x), why="accurate near 0", exact=False).exact
    False
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a rule name must be an identifier, got {name!r}")
    if not isinstance(pattern, Variable) or not isinstance(replacement, Variable):
        raise TypeError(f"rule {name}: pattern and replacement must be symbolic variables")
    if pattern.owner is None:
        raise ValueError(f"rule {name}: the pattern must be an operation, not a bare variable")
    pvars = {id(v) for v in _vars_of(pattern)}
    for node in toposort([replacement]):
        for i in node.inputs:
            if i.owner is None and not (is_pattern_var(i) or isinstance(i, Constant)):
                raise ValueError(f"rule {name}: the replacement uses {i}, which is not a pattern variable")
            if is_pattern_var(i) and id(i) not in pvars:
                raise ValueError(f"rule {name}: replacement variable {i.name} does not occur in the pattern")
            if isinstance(i, Constant):
                raise ValueError(f"rule {name}: constants in the replacement are not supported; "
                                 f"reuse a matched term instead")
    if replacement.owner is None and id(replacement) not in pvars:
        raise ValueError(f"rule {name}: the replacement {replacement} does not occur in the pattern")
    when = tuple(when)
    for g in when:
        if not isinstance(g, Guard) or g.kind not in GUARD_KINDS:
            raise TypeError(f"rule {name}: guards are made with positive(), nonneg(), ...; got {g!r}")
        for a in g.args:
            if not (isinstance(a, Variable) and id(a) in pvars):
                raise ValueError(f"rule {name}: guard {g.describe()} must refer to pattern variables")
    return Rule(name, pattern, replacement, when, why, exact and not stabilizes, dict(domain or {}), int(ulps),
                bool(stabilizes))


class RuleSet:
    """An ordered collection of uniquely named rules; ``a + b`` is their union.

    >>> from eqtensor.rules import default_rules
    >>> "neg_neg" in default_rules().names()
    True
    """

    def __init__(self, rules=()):
        seen: dict[str, Rule] = {}
        for r in rules:
            if r.name in seen and seen[r.name] is not r:
                raise ValueError(f"two different rules are named {r.name!r}")
            seen[r.name] = r
        self.rules: tuple[Rule, ...] = tuple(seen.values())

    def __add__(self, other) -> "RuleSet":
        if not isinstance(other, (Rule, RuleSet)):
            return NotImplemented
        return RuleSet(self.rules + other.rules)

    __radd__ = __add__

    def __iter__(self):
        return iter(self.rules)

    def __len__(self):
        return len(self.rules)

    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    def without(self, *names: str) -> "RuleSet":
        """This set minus the named rules."""
        unknown = set(names) - set(self.names())
        if unknown:
            raise KeyError(f"no rules named {sorted(unknown)}")
        return RuleSet(r for r in self.rules if r.name not in names)

    def __getitem__(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)

    def saturate(self, max_iterations: int = 30) -> "Schedule":
        """Run until nothing changes (or ``max_iterations``)."""
        return Schedule(((self, max_iterations, True),))

    def __mul__(self, n: int) -> "Schedule":
        """Run ``n`` iterations (stopping early when nothing changes)."""
        return Schedule(((self, int(n), True),))

    def __repr__(self):
        return f"RuleSet({', '.join(self.names())})"


class Schedule:
    """A sequence of phases ``(rule set, max iterations, stop when saturated)``; ``a + b`` runs a
    then b. A bare :class:`RuleSet` used as a schedule means ``ruleset.saturate()``.

    >>> from eqtensor.rules import algebraic, stability
    >>> s = algebraic().saturate() + stability() * 3
    >>> [n for _, n, _ in s.phases]
    [30, 3]
    """

    def __init__(self, phases):
        self.phases = tuple(phases)

    def __add__(self, other) -> "Schedule":
        return Schedule(self.phases + as_schedule(other).phases)

    def rules(self) -> RuleSet:
        out = RuleSet()
        for rs, _, _ in self.phases:
            out = out + rs
        return out

    def __repr__(self):
        return " + ".join(f"{rs!r}*{n}" for rs, n, _ in self.phases)


def as_schedule(rules) -> Schedule:
    """Lift a Rule, RuleSet or Schedule to a Schedule."""
    if isinstance(rules, Schedule):
        return rules
    if isinstance(rules, Rule):
        rules = RuleSet([rules])
    if isinstance(rules, RuleSet):
        return rules.saturate()
    raise TypeError(f"expected a Rule, RuleSet or Schedule, got {type(rules).__name__}")
