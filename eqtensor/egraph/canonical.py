"""Sums and products as canonical multisets, computed at insertion: cancellation whatever the
nesting, association, order and interleaving with constants and negation, without associativity
or commutativity rules (which explode the e-graph: ``docs/optimizer.md``).

Every float ``mul``/``true_div``/``neg`` chain is read as ``coefficient * Π factor**exponent`` and
every ``add``/``sub``/``neg`` chain as ``constant + Σ count * term``, where factors and terms are
the canonical keys of the operands (so ``a*b`` and ``b*a`` have one key). Where a node's multiset
is smaller than its operands' together — a factor met in the numerator and the denominator, a term
added and subtracted (the constants met are folded with it) — the multiset rebuilt as a graph is an
alternative of the node: the optimizer loads it and unions it with the node, and extraction
chooses. Two nodes equal up to the order of commutative operands are unioned too (shared
subexpressions found up to commutation; not up to association, which rounds differently). The flattening is bounded (:data:`FLAT_MAX` distinct entries; a
larger sum or product is an opaque operand), so the pass is linear in the graph.

The cancellations are those of the ``algebraic_assuming_finite`` rules ``div_common_factor``
(a factor assumed finite and non-zero) and ``add_sub_cancel`` (a term assumed finite): the pass
runs for the kinds whose rule is in the schedule and reports its unions under that rule's name.

>>> from eqtensor import tensor as pt
>>> a, b, c, d, e = (pt.dvector(n) for n in "abcde")
>>> f = ((a * b) * c) / ((a * d) * e)
>>> alternatives([f], products=True, sums=True)[0][1].owner.op.name   # (b*c)/(d*e)
'true_div'
"""

from __future__ import annotations

import math
from collections import Counter

from ..core.graph import Constant, uniform_value
from ..core.ops.elemwise import add, mul, neg, pow, sub, true_div
from ..core.traversal import toposort

#: most distinct factors (terms) a flattened product (sum) holds; larger ones are opaque operands
FLAT_MAX = 8

#: the rules whose n-ary form this pass is (the report counts its unions under these names)
PRODUCT_RULE, SUM_RULE = "div_common_factor", "add_sub_cancel"

_PRODUCT_OPS, _SUM_OPS = ("mul", "true_div", "neg"), ("add", "sub", "neg")
_COMMUTATIVE = ("mul", "add")


class _Flat:
    """A flattened product ``coef * Π reps[k]**parts[k]`` or sum ``coef + Σ parts[k] * reps[k]``;
    ``size`` counts its entries with their multiplicities (a cancellation makes it shrink)."""

    __slots__ = ("coef", "parts", "reps")

    def __init__(self, coef, parts, reps):
        self.coef, self.parts, self.reps = coef, parts, reps

    def size(self) -> int:
        return sum(abs(n) for n in self.parts.values())


class _Canon:
    """Canonical keys (interned ints) and flattened forms of the nodes of one graph."""

    def __init__(self, products: bool, sums: bool):
        self.products, self.sums = products, sums
        self.ids: dict = {}
        self.key: dict[int, int] = {}  # id(variable) -> canonical key
        self.exact: dict[int, int] = {}  # id(variable) -> key up to commutation
        self.prod: dict[int, _Flat] = {}
        self.sum: dict[int, _Flat] = {}

    def intern(self, k) -> int:
        return self.ids.setdefault(k, len(self.ids))

    def leaf_key(self, v) -> int:
        k = self.key.get(id(v))
        if k is None:
            k = self.key[id(v)] = self.intern(("c", v.signature()) if isinstance(v, Constant) else ("v", id(v)))
        return k

    def operand(self, v, kind):
        """``v`` as an operand of a flattened product/sum: its flat form, or itself as one entry; None
        for a constant that is not a finite (non-zero, in a product) scalar."""
        table = self.prod if kind == "prod" else self.sum
        flat = table.get(id(v))
        if flat is not None:
            return flat
        identity = 1.0 if kind == "prod" else 0.0
        if isinstance(v, Constant):  # a coefficient; the assumptions do not hold for other constants
            c = uniform_value(v) if _is_float(v) else None
            if c is not None and math.isfinite(c) and (c != 0 or kind == "sum"):
                return _Flat(float(c), Counter(), {})
            return None
        k = self.key[id(v)] if v.owner is not None else self.leaf_key(v)
        return _Flat(identity, Counter({k: 1}), {k: v})

    def flatten(self, node):
        """The node's flat product or sum (None when it is neither or too large) and its operands'."""
        name, out, ins = node.op.name, node.out, node.inputs
        if not _is_float(out) or not all(_is_float(i) for i in ins):
            return None, None, ()
        if self.products and name in _PRODUCT_OPS:
            kind, ops = "prod", [self.operand(i, "prod") for i in ins]
            if None in ops:
                flat = None
            elif name == "mul":
                flat = _combine(ops[0], ops[1], 1, lambda x, y: x * y)
            elif name == "true_div":
                flat = _combine(ops[0], ops[1], -1, lambda x, y: x / y if y else None)
            else:
                flat = _Flat(-ops[0].coef, ops[0].parts, ops[0].reps)
                term = self.operand(ins[0], "sum") if self.sums else None
                if term is not None:  # a negation is also a (negated) sum
                    self.sum[id(out)] = _negated(term)
            if flat is not None and len(flat.parts) <= FLAT_MAX:
                self.prod[id(out)] = flat
                return kind, flat, ops
        if self.sums and name in _SUM_OPS:
            ops = [self.operand(i, "sum") for i in ins]
            if None in ops:
                flat = None
            elif name == "add":
                flat = _combine(ops[0], ops[1], 1, lambda x, y: x + y)
            elif name == "sub":
                flat = _combine(ops[0], ops[1], -1, lambda x, y: x - y)
            else:
                flat = _negated(ops[0])
            if flat is not None and len(flat.parts) <= FLAT_MAX:
                self.sum[id(out)] = flat
                return "sum", flat, ops
        return None, None, ()

    def node_key(self, node, kind, flat) -> int:
        t = (node.out.type.dtype, node.out.type.shape)
        if kind is None:
            return self.intern(("n", node.op.key, t, tuple(self.key_of(i) for i in node.inputs)))
        return self.intern((kind, t, flat.coef, tuple(sorted(flat.parts.items()))))

    def exact_key(self, node) -> int:
        """The node's key up to the order of a commutative op's operands only (equal keys: equal
        values; association is not exact in floating point)."""
        kids = [self.exact.get(id(i)) if id(i) in self.exact else self.leaf_key(i) for i in node.inputs]
        if node.op.name in _COMMUTATIVE:
            kids.sort()
        k = self.exact[id(node.out)] = self.intern(("x", node.op.key, tuple(kids)))
        return k

    def key_of(self, v) -> int:
        return self.key[id(v)] if id(v) in self.key else self.leaf_key(v)


def _is_float(v) -> bool:
    return v.type.dtype.startswith("float")


def _negated(x: _Flat) -> _Flat:
    return _Flat(-x.coef, Counter({k: -n for k, n in x.parts.items()}), x.reps)


def _combine(x: _Flat, y: _Flat, sign: int, coef):
    c = coef(x.coef, y.coef)
    if c is None or not math.isfinite(c):
        return None
    parts = Counter(x.parts)
    for k, n in y.parts.items():
        parts[k] += sign * n
    parts = Counter({k: n for k, n in parts.items() if n})
    return _Flat(c, parts, {**x.reps, **y.reps})


def alternatives(outputs, nodes=None, products: bool = True, sums: bool = True) -> list:
    """``[(variable, alternative, rule name)]``: the graph's nodes whose canonical multiset shows a
    cancellation, with that multiset rebuilt (same type), and the nodes equal to an earlier one up to
    commutation (the alternative is the earlier node; rule name None)."""
    canon = _Canon(products, sums)
    first: dict[int, object] = {}
    out = []
    for node in toposort(outputs) if nodes is None else nodes:
        kind, flat, ops = canon.flatten(node)
        canon.key[id(node.out)] = canon.node_key(node, kind, flat)
        earlier = first.setdefault(canon.exact_key(node), node.out)
        if earlier is not node.out:
            out.append((node.out, earlier, None))
            continue
        if kind is not None and flat.size() < sum(o.size() for o in ops):
            try:
                alt = _rebuild(kind, flat)
            except (TypeError, ValueError):  # operands that do not broadcast in the canonical order
                alt = None
            if alt is not None and alt.type == node.out.type:
                out.append((node.out, alt, PRODUCT_RULE if kind == "prod" else SUM_RULE))
    return out


def _rebuild(kind: str, flat: _Flat):
    """The flat form as a graph (entries in key order), or None when nothing is left but a constant."""
    pos = [(flat.reps[k], n) for k, n in sorted(flat.parts.items()) if n > 0]
    negs = [(flat.reps[k], -n) for k, n in sorted(flat.parts.items()) if n < 0]
    if kind == "prod":
        num, den = _chain(pos, mul, _power), _chain(negs, mul, _power)
        if num is None:
            return None if den is None else true_div(flat.coef, den)
        r = num if den is None else true_div(num, den)
        return r if flat.coef == 1.0 else neg(r) if flat.coef == -1.0 else mul(r, flat.coef)
    plus, minus = _chain(pos, add, _times), _chain(negs, add, _times)
    if plus is None:
        return None if minus is None else sub(flat.coef, minus) if flat.coef else neg(minus)
    r = plus if minus is None else sub(plus, minus)
    return add(r, flat.coef) if flat.coef else r


def _chain(entries, op, repeated):
    """``op`` applied left to right over the entries, each with its multiplicity (``repeated(v, n)``),
    or None if there is none."""
    r = None
    for v, n in entries:
        v = v if n == 1 else repeated(v, n)
        r = v if r is None else op(r, v)
    return r


def _power(v, n: int):
    return mul(v, v) if n == 2 else pow(v, float(n))


def _times(v, n: int):
    return mul(v, float(n))
