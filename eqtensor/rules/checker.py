"""The rule checker: evaluate both sides of a rule on random inputs and compare.

For each trial it draws shapes (all pattern variables of one rank share a shape, within their static
shape; every other pair of trials uses one length for all axes so contractions line up), a dtype
(float64, or float32 every other trial, unless the rule declares fewer ``dtypes``) and values mixing normal draws with edge values (0, -0.0,
±1, tiny, ±30, ±700, ±1000, ±1e300, ±inf, nan), restricted by the rule's ``domain``
(``"length_of:x:0"`` makes an integer scalar the length of ``x``'s axis 0; ``"shape_of:x"`` makes
an integer vector a valid shape for reshaping ``x``'s value) and by its assumptions ( a variable the rule assumes
``finite``/``finite_nonzero`` is drawn from that domain, the others keep every edge value). Both sides
must have the same dtype and shape; where the pattern is nan (undefined) the replacement must be
nan too unless the reference is defined there (so a missing guard such as ``x > 0`` for
``exp(log x) → x`` is caught, while ``exp(-inf)*exp(1000) → exp(-inf+1000)`` is fine); each other
element must agree within a few ulps, or else the
replacement must be at least as close as the pattern to a 200-bit mpmath evaluation of the pattern
(so stability rules pass where they improve accuracy, and wrong rules fail).

>>> from eqtensor import tensor as pt
>>> from eqtensor.rules import rewrite, var, check
>>> x = var("x")
>>> bad = rewrite("bad_log1p", pt.log(1 + x), pt.log(x), why="deliberately wrong")
>>> res = check(bad)
>>> res.ok, res.failures[0].startswith("bad_log1p")
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.evaluate import evaluate
from ..core.graph import Constant, TensorType, Variable
from ..core.traversal import toposort
from .language import Rule, RuleSet
from .reference import NoReference, evaluate_mp

EDGES = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 1e-10, -1e-10, 1e-300, 30.0, -30.0, 700.0, -700.0, 1000.0,
                  -1000.0, 1e300, -1e300, np.inf, -np.inf, np.nan])


class RuleRejected(ValueError):
    """A rule failed the checker where a checked rule is required (``Mode(rules=...)``)."""


@dataclass
class CheckResult:
    """``ok`` when no rule failed; ``failures`` holds one message per failing rule, ``unchecked``
    one per rule that could not be judged (an op of it has no high-precision reference)."""

    rules: int = 0
    trials: int = 0
    failures: list = field(default_factory=list)
    unchecked: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __bool__(self):
        return self.ok

    def __str__(self):
        head = f"checked {self.rules} rules over {self.trials} trials: "
        text = head + ("all passed" if self.ok else "\n  " + "\n  ".join(self.failures))
        return text + "".join(f"\n  unchecked: {u}" for u in self.unchecked)


def check(rules, trials: int = 24, seed: int = 0) -> CheckResult:
    """Check a Rule or RuleSet (see the module docstring). Deterministic for a given ``seed``."""
    if isinstance(rules, Rule):
        rules = RuleSet([rules])
    if not isinstance(rules, RuleSet):
        raise TypeError(f"check() takes a Rule or a RuleSet, got {type(rules).__name__}")
    res = CheckResult()
    for rule in rules:
        res.rules += 1
        try:
            msg = _check_rule(rule, trials, np.random.default_rng(seed))
        except NoReference as e:
            res.unchecked.append(f"{rule.name}: {e}")
            continue
        finally:
            res.trials += trials
        if msg:
            res.failures.append(f"{rule.name}: {msg}")
    return res


def _check_rule(rule: Rule, trials: int, rng) -> str | None:
    p, r = rule.pattern, rule.replacement
    if p.type != r.type:
        return f"types differ: pattern {p.type}, replacement {r.type}"
    pvars = rule.pattern_vars()
    domain = rule.checker_domain()  # assumed variables come from their assumed domain
    edges = np.concatenate([EDGES, _around(_constants(rule))])
    for t in range(trials):
        dtype = rule.dtypes[t % len(rule.dtypes)]
        try:
            (p2, r2), vars2 = _retype([p, r], pvars, dtype)
        except (TypeError, ValueError):
            continue  # the rule's pattern cannot be built for this dtype
        if p2.dtype != r2.dtype:
            return f"for {dtype} inputs the pattern has dtype {p2.dtype}, the replacement {r2.dtype}"
        if t % 4 < 2:  # one length for every axis (contractions line up)
            n = int(rng.integers(1, 5))
            shapes = {nd: (n,) * nd for nd in {v.ndim for v in vars2}}
        else:
            shapes = {nd: tuple(int(s) for s in rng.integers(1, 4, nd)) for nd in {v.ndim for v in vars2}}
        values, by_name = {}, {}
        for v, v2 in sorted(zip(pvars, vars2), key=lambda p: _derived(domain.get(p[0].tag["pattern"], ""))):
            kind = domain.get(v.tag["pattern"], "")
            if kind.startswith("shape_of:"):
                values[v2] = _shape_for(rng, by_name[kind[9:]].size, v2)
            elif kind.startswith("length_of:"):
                name, axis = kind[10:].split(":")
                values[v2] = np.array(by_name[name].shape[int(axis)], dtype=v2.dtype)
            else:
                shape = tuple(d if d is not None else s for d, s in zip(v2.type.shape, shapes[v2.ndim]))
                values[v2] = _values(rng, v.tag["pattern"], domain, v2, shape, edges)
            by_name[v.tag["pattern"]] = values[v2]
        try:
            (pv,) = evaluate([p2], values)
        except Exception:
            continue  # the pattern itself is undefined on these inputs
        try:
            (rv,) = evaluate([r2], values)
        except Exception as e:
            return f"replacement raised {type(e).__name__}: {e} where the pattern did not"
        if pv.dtype != rv.dtype or pv.shape != rv.shape:
            return f"pattern gives {pv.dtype}{pv.shape}, replacement {rv.dtype}{rv.shape}"
        msg = _compare(p2, values, pv, rv, dtype, rule.ulps)
        if msg:
            inputs = {v.tag["pattern"]: values[v2].tolist() for v, v2 in zip(pvars, vars2)}
            return f"{msg} (inputs {inputs})"
    return None


def _derived(kind: str) -> bool:
    """Whether a variable's value is derived from another's (drawn after the others)."""
    return kind.startswith(("shape_of:", "length_of:"))


def _retype(roots, pvars, dtype):
    """Rebuild ``roots`` with the pattern variables (and float constants) in ``dtype``."""

    memo = {}
    new_vars = []
    for v in pvars:
        nv = Variable(TensorType(dtype if v.dtype.startswith("float") else v.dtype, v.type.shape), name=v.name)
        nv.tag["pattern"] = v.tag["pattern"]
        memo[id(v)] = nv
        new_vars.append(nv)
    for node in toposort(roots):
        ins = []
        for i in node.inputs:
            if id(i) in memo:
                ins.append(memo[id(i)])
            elif isinstance(i, Constant) and i.dtype.startswith("float"):
                ins.append(Constant(i.data.astype(dtype)))
            else:
                ins.append(i)
        memo[id(node.out)] = node.op(*ins)
    return [memo.get(id(r), r) for r in roots], new_vars


def _shape_for(rng, size, v):
    """A random shape vector (``v``'s static length entries, one of them maybe -1) of ``size`` elements."""
    k = v.type.shape[0]
    dims = [1] * k
    n, p = size, 2
    while n > 1:  # deal the prime factors of size to random axes
        while n % p:
            p += 1
        dims[int(rng.integers(k))] *= p
        n //= p
    if rng.random() < 0.5:
        dims[int(rng.integers(k))] = -1
    return np.array(dims, dtype=v.dtype)


def _constants(rule: Rule) -> list[float]:
    """The scalar constants written in the rule (both sides)."""
    out = []
    for node in toposort([rule.pattern, rule.replacement]):
        for i in node.inputs:
            if isinstance(i, Constant) and i.data.size and i.data.dtype.kind in "biuf":
                out.extend(float(c) for c in np.unique(i.data.reshape(-1))[:8])
    return out


def _around(constants) -> np.ndarray:
    """Each constant and the values next to it: where a rule's guards and cases change."""
    c = np.array([v for v in constants if np.isfinite(v)], dtype=float)
    if not c.size:
        return c
    return np.concatenate([c, c + 1, c - 1, c + 0.5, c - 0.5, np.nextafter(c, np.inf), np.nextafter(c, -np.inf),
                           c * (1 + 1e-9), -c])


def _values(rng, name, domain, v, shape, edges=EDGES):
    kind = domain.get(name, "any")
    if not v.dtype.startswith("float"):
        return rng.integers(-5, 6, shape).astype(v.dtype)
    x = rng.normal(0.0, 3.0, shape)
    mask = rng.random(shape) < 0.5
    x[mask] = rng.choice(edges, int(mask.sum()))
    if kind == "small":
        x = rng.uniform(-3, 3, shape)
    elif kind == "integer":
        x = rng.integers(-3, 4, shape).astype(float)
    elif kind == "positive":
        x = np.where(np.isnan(x), 1.0, np.abs(x))
        x[x == 0] = 1e-10
    elif kind == "nonneg":
        x = np.abs(x)
    elif kind == "moderate":  # finite, and far from overflow
        x[~np.isfinite(x) | (np.abs(x) > 1e30)] = -2.5
    with np.errstate(all="ignore"):
        x = x.astype(v.dtype)
    if kind in ("nonzero", "finite"):
        x[~np.isfinite(x) | ((x == 0) if kind == "nonzero" else False)] = 1.5
    return x


def _compare(pattern, values, pv, rv, dtype, ulps):
    """None when the replacement's values ``rv`` are as good as the pattern's ``pv``, else why not.
    Raises :class:`~eqtensor.rules.reference.NoReference` when the truth is needed but unknown."""
    import mpmath

    eps = np.finfo(dtype).eps if dtype.startswith("float") else 0
    with np.errstate(all="ignore"):
        close = np.isclose(rv, pv, rtol=ulps * eps, atol=ulps * eps, equal_nan=True) if eps else rv == pv
    lost = np.isnan(pv) & ~np.isnan(rv) if pv.dtype.kind == "f" else np.zeros(pv.shape, bool)
    if np.all(close) and not np.any(lost):
        return None
    (ref,) = evaluate_mp([pattern], values, digits=60)
    for idx in np.argwhere(~np.asarray(close) | lost):  # argwhere: 0-d outputs too
        idx = tuple(int(i) for i in idx)
        truth = ref[idx]
        if truth is None:
            if lost[idx]:
                return f"at {idx}: the pattern is undefined (nan) but the replacement gives {float(rv[idx])!r}"
            continue
        er, ep = _err(mpmath, rv[idx], truth), _err(mpmath, pv[idx], truth)
        if not er <= ep * (1 + 1e-6) + ulps * eps * abs(truth) + mpmath.mpf(1e-300):
            return (f"at {idx}: pattern {float(pv[idx])!r}, replacement {float(rv[idx])!r}, reference "
                    f"{mpmath.nstr(truth, 17)}")
    return None


def _err(mpmath, v, truth):
    v = float(v)
    if v != v:
        return mpmath.inf
    if v in (np.inf, -np.inf):
        return mpmath.mpf(0) if (mpmath.isinf(truth) and (truth > 0) == (v > 0)) else mpmath.inf
    return abs(mpmath.mpf(v) - truth)
