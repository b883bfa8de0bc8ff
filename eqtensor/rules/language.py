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
- A constant in the replacement is a uniform scalar value; it is created with the matched term's
  dtype and the constant's own (broadcastable) shape, e.g. ``x + x → 2 * x`` or
  ``x - x → zeros_like(x)``. The rule does not fire where the value is not exact in that dtype.
- ``assumes=[finite(x)]`` declares what a rule takes for granted but cannot know (PyTensor's
  default cancellations): the checker draws ``x`` from the assumed domain and the report lists the
  assumption whenever the rule fires. Such rules live in their own group
  (:func:`~eqtensor.rules.algebraic_assuming_finite`) so they can be left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.graph import Constant, Variable, uniform_value
from ..core.traversal import toposort
from ..core.graph import TensorType


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


#: guard kind -> what it asserts (facts the e-graph knows; see eqtensor/egraph/program.py)
GUARD_KINDS = {
    "positive": "every element is > 0 (or nan, or a value that underflowed to 0)",
    "nonneg": "every element is >= 0 (or nan)",
    "nonzero_const": "a constant with no zero, inf or nan element",
    "constant": "a constant (the optimizer folds operations whose inputs are all constants)",
    "integral_const": "a constant whose elements are all finite integers (in any dtype)",
    "nonconstant": "a term of the input graph that depends on an input (never a constant expression)",
    "is_float": "the dtype is a floating-point dtype",
    "same_type": "the two variables have the same dtype and static shape",
}


@dataclass(frozen=True)
class Assumption:
    """What a rule assumes about a pattern variable without the e-graph knowing it: ``kind`` is one
    of :data:`ASSUMPTION_KINDS`. It never blocks a match (except on constants known to violate it);
    the checker draws the variable from the assumed domain and the report lists it.

    >>> finite_nonzero(var("x")).describe()
    'finite_nonzero(x)'
    """

    kind: str
    args: tuple

    def describe(self) -> str:
        return f"{self.kind}({', '.join(a.name for a in self.args)})"


#: assumption kind -> (what it assumes, the checker's domain for the variable)
ASSUMPTION_KINDS = {
    "finite": ("every element is finite (not inf or nan)", "finite"),
    "finite_nonzero": ("every element is finite and non-zero", "nonzero"),
    "no_overflow": ("every element is finite and small enough that the rule's arithmetic does not overflow",
                    "moderate"),
}


def finite(x) -> Assumption:
    """Assumption: ``x`` has no inf or nan element (``x - x → 0``)."""
    return Assumption("finite", (x,))


def finite_nonzero(x) -> Assumption:
    """Assumption: ``x`` has no zero, inf or nan element (``x*y/x → y``)."""
    return Assumption("finite_nonzero", (x,))


def no_overflow(*xs) -> Assumption:
    """Assumption: the ``xs`` are finite and sums/products of them do not overflow (factoring
    ``a*b + a*c → a*(b+c)`` is wrong where ``b + c`` overflows and ``a*b``, ``a*c`` do not).

    >>> no_overflow(var("a"), var("b")).describe()
    'no_overflow(a, b)'
    """
    return Assumption("no_overflow", tuple(xs))


def positive(x) -> Guard:
    """Guard: ``x`` is known positive (e.g. ``exp(y)``, ``sigmoid(y)``, a positive constant)."""
    return Guard("positive", (x,))


def nonneg(x) -> Guard:
    """Guard: ``x`` is known non-negative (e.g. ``sqr(y)``, ``abs(y)``, ``softplus(y)``)."""
    return Guard("nonneg", (x,))


def nonzero_const(x) -> Guard:
    """Guard: ``x`` is a constant whose elements are finite and non-zero."""
    return Guard("nonzero_const", (x,))


def constant(x) -> Guard:
    """Guard: ``x`` is a constant (any value); ops over constants only are folded in the e-graph."""
    return Guard("constant", (x,))


def integral_const(x) -> Guard:
    """Guard: ``x`` is a constant of finite integral values (e.g. the exponent ``3.0``).

    >>> integral_const(var("a")).describe()
    'integral_const(a)'
    """
    return Guard("integral_const", (x,))


def nonconstant(x) -> Guard:
    """Guard: ``x`` is a term of the input graph that depends on an input. Rules that gather
    constants use it so that constant e-classes (``0 ≡ 0*2 ≡ …``) never feed them new values."""
    return Guard("nonconstant", (x,))


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
    assumes: tuple = ()
    dtypes: tuple = ("float64", "float32")

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
        assumed = f" assuming {self.assumption_text()}" if self.assumes else ""
        return f"<rule {self.name}: {self.pattern} -> {self.replacement}{guards}{assumed}>"

    def assumption_text(self) -> str:
        return ", ".join(a.describe() for a in self.assumes)

    def checker_domain(self) -> dict:
        """``domain`` with the assumed variables restricted to their assumed domain."""
        out = dict(self.domain)
        for a in self.assumes:
            for v in a.args:
                out.setdefault(v.tag["pattern"], ASSUMPTION_KINDS[a.kind][1])
        return out


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
            exact: bool = True, domain: dict | None = None, ulps: int = 16, stabilizes: bool = False,
            assumes=(), dtypes=("float64", "float32")) -> Rule:
    """Declare a rule ``pattern → replacement`` (see the module docstring for the conventions).

    ``domain`` maps a pattern variable's name to ``"positive"``, ``"nonneg"``, ``"nonzero"``,
    ``"finite"``, ``"integer"`` (small integral values) or ``"small"`` to restrict the checker's random inputs to what the guards promise. ``ulps`` is the
    relative error (in units of the dtype's epsilon) the replacement may add where it is less
    accurate than the pattern (the checker enforces it). ``stabilizes=True`` marks the pattern as a
    numerically unstable form: wherever the rule matched, the extractor charges the pattern's root
    op the cost model's ``unstable_penalty``, so the stable replacement is kept even where sharing
    would make the naive form cheaper (implies ``exact=False``). ``assumes`` lists
    :class:`Assumption`\\ s (``finite(x)``, ``finite_nonzero(x)``, ``no_overflow(x, ...)``) the rule
    takes for granted. ``dtypes`` are the float dtypes the checker tries (a rule whose replacement
    keeps the dtype only for float64, like ``sum(alloc(c, n)) → c * n``, declares ``("float64",)``;
    in the e-graph the type guard keeps it from firing elsewhere).

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
    _check_replacement(name, replacement, pvars)
    when, assumes = tuple(when), tuple(assumes)
    _check_conditions(name, when, assumes, pvars)
    dtypes = tuple(dtypes)
    if not dtypes or not set(dtypes) <= {"float64", "float32"}:
        raise ValueError(f"rule {name}: dtypes must be a non-empty subset of ('float64', 'float32'), got {dtypes}")
    return Rule(name, pattern, replacement, when, why, exact and not stabilizes, dict(domain or {}), int(ulps),
                bool(stabilizes), assumes, dtypes)


def _check_replacement(name, replacement, pvars):
    """The replacement is built from the pattern's variables and uniform scalar constants."""
    for node in toposort([replacement]):
        for i in node.inputs:
            if i.owner is None and not (is_pattern_var(i) or isinstance(i, Constant)):
                raise ValueError(f"rule {name}: the replacement uses {i}, which is not a pattern variable")
            if is_pattern_var(i) and id(i) not in pvars:
                raise ValueError(f"rule {name}: replacement variable {i.name} does not occur in the pattern")
            if isinstance(i, Constant) and uniform_value(i) is None:
                raise ValueError(f"rule {name}: a constant in the replacement must be a uniform scalar, got {i}")
    if isinstance(replacement, Constant):
        raise ValueError(f"rule {name}: a bare constant cannot be the replacement (its shape is unknown); "
                         f"write e.g. zeros_like(x)")
    if replacement.owner is None and id(replacement) not in pvars:
        raise ValueError(f"rule {name}: the replacement {replacement} does not occur in the pattern")


def _check_conditions(name, when, assumes, pvars):
    """Guards and assumptions are made by their constructors and refer to pattern variables."""
    for g in when:
        if not isinstance(g, Guard) or g.kind not in GUARD_KINDS:
            raise TypeError(f"rule {name}: guards are made with positive(), nonneg(), ...; got {g!r}")
        for a in g.args:
            if not (isinstance(a, Variable) and id(a) in pvars):
                raise ValueError(f"rule {name}: guard {g.describe()} must refer to pattern variables")
    for a in assumes:
        if not isinstance(a, Assumption) or a.kind not in ASSUMPTION_KINDS:
            raise TypeError(f"rule {name}: assumptions are made with finite(), finite_nonzero(), no_overflow(); "
                            f"got {a!r}")
        if not all(isinstance(v, Variable) and id(v) in pvars for v in a.args):
            raise ValueError(f"rule {name}: assumption {a!r} must refer to pattern variables")



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
