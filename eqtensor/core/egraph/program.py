"""The e-graph program derived from the op table, and the compilation of rules to it (as text).

Encoding (documented in ``docs/optimizer.md``):

- one e-class sort ``T``; leaves are ``(Leaf k)`` with ``k`` an index into the compile's leaf
  table (inputs, shared variables, constants — constants live in Python, never as ``f64``);
- one constructor per op of :data:`~eqtensor.core.op.OPS`, ``(op_<name> [P] x1 … xn)`` where
  ``P`` (only for ops with parameters) is the id of the interned parameter tuple; variadic ops take a
  cons-list ``TL``;
- facts: ``(ty x)`` the interned static type (no merge: an unsound union is an error), ``(cval x)``
  the interned value of a uniform constant, relations ``pos``/``nonneg``/``nzconst`` and
  ``(float_ty t)``; ``(tyK op P t1 … tK)`` tables of result types filled by Python per compile, so a
  rule can type the nodes it creates;
- ``(Root k x)`` marks output ``k``.

Nothing here imports egglog: this module produces text that :mod:`.bridge` feeds to it.

>>> "(constructor op_exp (T) T)" in declarations()
True
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from ..graph import Constant, Variable, toposort
from ..op import OPS
from ..types import TensorType


class Interner:
    """Process-wide ids for hashable keys (types, parameter tuples, scalar values, op names)."""

    def __init__(self, first=()):
        self.ids: dict = {}
        self.keys: list = []
        for k in first:
            self(k)

    def __call__(self, key) -> int:
        i = self.ids.get(key)
        if i is None:
            i = self.ids[key] = len(self.keys)
            self.keys.append(key)
        return i

    def __getitem__(self, i: int):
        return self.keys[i]


#: rules can create nodes of ops with at most this many inputs (one type table per arity)
MAX_CREATED_ARITY = 5

TYPES = Interner()
PARAMS = Interner([()])  # id 0 = no parameters
VALUES = Interner()
OPIDS = Interner()

#: rules that derive the sign facts (``pos``, ``nonneg``) guards rely on; run with every phase
FACT_RULES = [
    ("pos_exp", "((= z (op_exp x)))", "((pos z))"),
    ("pos_exp2", "((= z (op_exp2 x)))", "((pos z))"),
    ("pos_sigmoid", "((= z (op_sigmoid x)))", "((pos z))"),
    ("pos_mul", "((= z (op_mul x y)) (pos x) (pos y))", "((pos z))"),
    ("pos_div", "((= z (op_true_div x y)) (pos x) (pos y))", "((pos z))"),
    ("pos_add", "((= z (op_add x y)) (pos x) (nonneg y))", "((pos z))"),
    ("pos_add2", "((= z (op_add x y)) (nonneg x) (pos y))", "((pos z))"),
    ("pos_sqrt", "((= z (op_sqrt x)) (pos x))", "((pos z))"),
    ("nonneg_pos", "((pos x))", "((nonneg x))"),
    ("nonneg_sqr", "((= z (op_sqr x)))", "((nonneg z))"),
    ("nonneg_abs", "((= z (op_abs x)))", "((nonneg z))"),
    ("nonneg_softplus", "((= z (op_softplus x)))", "((nonneg z))"),
    ("nonneg_sqrt", "((= z (op_sqrt x)))", "((nonneg z))"),
    ("nonneg_add", "((= z (op_add x y)) (nonneg x) (nonneg y))", "((nonneg z))"),
    ("nonneg_mul", "((= z (op_mul x y)) (nonneg x) (nonneg y))", "((nonneg z))"),
]


def constructor_name(opname: str) -> str:
    return f"op_{opname}"


def declarations() -> str:
    """The egglog declarations for the current op table, one command per line."""
    lines = ["(sort T)", "(sort TL)", "(sort R)", "(constructor Leaf (i64) T)", "(constructor Nil () TL)",
             "(constructor Cons (T TL) TL)", "(constructor Root (i64 T) R)"]
    for name in sorted(OPS):
        d = OPS[name]
        args = (["i64"] if d.params else []) + (["TL"] if d.nin is None else ["T"] * d.nin)
        lines.append(f"(constructor {constructor_name(name)} ({' '.join(args)}) T)")
    lines += ["(function ty (T) i64 :no-merge)", "(function cval (T) i64 :no-merge)", "(relation pos (T))",
              "(relation nonneg (T))", "(relation nzconst (T))", "(relation float_ty (i64))"]
    for k in range(1, MAX_CREATED_ARITY + 1):
        lines.append(f"(function ty{k} ({' '.join(['i64'] * (k + 2))}) i64 :no-merge)")
    lines.append("(ruleset facts)")
    ok = set(OPS)
    for name, body, head in FACT_RULES:
        used = {w[3:] for w in body.replace("(", " ").split() if w.startswith("op_")}
        if used <= ok:
            lines.append(f'(rule {body} {head} :ruleset facts :name "fact_{name}")')
    return "\n".join(lines)


def value_key(x) -> tuple:
    """Interning key of a scalar value: bit-exact, so 0.0 and -0.0 differ; all nans are one value."""
    x = float(x)
    if x != x:
        return ("nan",)
    return ("f", struct.pack("<d", x))


def uniform_value(c: Constant):
    """The single value of a constant whose elements are all equal (None otherwise)."""
    d = c.data
    if d.size == 0 or d.dtype.kind not in "biuf":
        return None
    flat = d.reshape(-1)
    first = flat[0]
    if d.size > 1 and not (np.all(flat == first) or (first != first and np.all(flat != flat))):
        return None
    if d.size > 1 and first == 0 and d.dtype.kind == "f" and not np.all(np.signbit(flat) == np.signbit(first)):
        return None
    return first


# --------------------------------------------------------------------------------- rule compiler
class CompiledRule:
    """A rule as egglog text plus the op-type tables it needs (``needs``: (op, arity, params id or
    None for "any params of that op", input ranks or None)). Ops of 3+ inputs created by a rule
    are typed only for the input ranks the rule was written with, which keeps the table small."""

    def __init__(self, name: str, text: str, needs: list):
        self.name = name
        self.text = text
        self.needs = needs
        self.ruleset = f"r_{name}_{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def compile_rule(rule) -> CompiledRule:
    """Translate a :class:`~eqtensor.rules.language.Rule` into one egglog ``rule`` command."""
    from ...rules.language import is_pattern_var

    facts: list[str] = []
    actions: list[str] = []
    names: dict[int, str] = {}  # id(Variable) -> egglog variable
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    repl_params = {n.op.key[1] for n in toposort([rule.replacement]) if n.op.key[1]}
    repl_params &= {n.op.key[1] for n in toposort([rule.pattern])}  # written on both sides: generalized
    pvars: dict = {}

    def params_of(op):
        p = op.key[1]
        if not p:
            return []
        if p in repl_params:
            if p not in pvars:
                pvars[p] = fresh("q")
            return [pvars[p]]
        return [str(PARAMS(p))]

    def match(v: Variable) -> str:
        if id(v) in names:
            return names[id(v)]
        if is_pattern_var(v):
            names[id(v)] = f"v_{v.tag['pattern']}"
            return names[id(v)]
        if isinstance(v, Constant):
            val = uniform_value(v)
            if val is None:
                raise ValueError(f"rule {rule.name}: pattern constants must be uniform scalars, got {v}")
            name = names[id(v)] = fresh("k")
            facts.append(f"(= (cval {name}) {VALUES(value_key(val))})")
            return name
        if v.owner is None:
            raise ValueError(f"rule {rule.name}: {v} is neither a pattern variable nor a constant")
        op = v.owner.op
        if op.defn.nin is None:
            raise ValueError(f"rule {rule.name}: variadic op {op.name} cannot appear in a pattern")
        me = names[id(v)] = "z" if v is rule.pattern else fresh("m")
        args = params_of(op) + [match(i) for i in v.owner.inputs]
        facts.append(f"(= {me} ({constructor_name(op.name)} {' '.join(args)}))")
        return me

    match(rule.pattern)
    facts.append("(= t_root (ty z))")
    types: dict[int, str] = {}
    needs = []

    def type_of(v: Variable) -> str:
        if id(v) not in types:
            t = types[id(v)] = fresh("t")
            facts.append(f"(= {t} (ty {names[id(v)]}))")
        return types[id(v)]

    def build(v: Variable, is_root: bool) -> str:
        if id(v) in names:
            if is_root:
                facts.append(f"(= (ty {names[id(v)]}) t_root)")
            return names[id(v)]
        op = v.owner.op
        if op.defn.nin is None or op.defn.nin > MAX_CREATED_ARITY:
            raise ValueError(f"rule {rule.name}: op {op.name} cannot be created by a rule")
        kids = [build(i, False) for i in v.owner.inputs]
        kid_types = [types[id(i)] if id(i) in types else type_of(i) for i in v.owner.inputs]
        p = params_of(op)
        pid = p[0] if p else "0"
        t = "t_root" if is_root else fresh("t")
        facts.append(f"(= {t} (ty{len(kids)} {OPIDS(op.name)} {pid} {' '.join(kid_types)}))")
        ndims = tuple(i.ndim for i in v.owner.inputs) if len(kids) >= 3 else None
        needs.append((op.name, len(kids), None if (p and not p[0].isdigit()) else int(pid), ndims))
        me = fresh("n")
        actions.append(f"(let {me} ({constructor_name(op.name)} {' '.join(p + kids)}))")
        actions.append(f"(set (ty {me}) {t})")
        names[id(v)] = me
        types[id(v)] = t
        return me

    out = build(rule.replacement, True)
    for g in rule.when:
        a = [names[id(x)] for x in g.args]
        if g.kind == "positive":
            facts.append(f"(pos {a[0]})")
        elif g.kind == "nonneg":
            facts.append(f"(nonneg {a[0]})")
        elif g.kind == "nonzero_const":
            facts.append(f"(nzconst {a[0]})")
        elif g.kind == "is_float":
            facts.append(f"(float_ty (ty {a[0]}))")
        elif g.kind == "same_type":
            facts.append(f"(= (ty {a[0]}) (ty {a[1]}))")
    actions.append(f"(union z {out})")
    name = rule.name
    text = f'(rule ({" ".join(facts)}) ({" ".join(actions)}) :ruleset RULESET :name "{name}")'
    cr = CompiledRule(name, text, needs)
    cr.text = text.replace("RULESET", cr.ruleset)
    return cr


def type_table_entries(needs, graph_types: set[int], graph_params: set[int], max_entries: int = 20000):
    """``(k, opid, pid, in_types, out_type)`` for the ops rules may create, over the graph's types.

    Iterates twice so that types first produced by a rule-created node can feed another one.
    """
    from itertools import product

    from ..op import Op

    entries = {}
    types = set(graph_types)
    by_names: dict = {}
    for pid in graph_params:
        by_names.setdefault(tuple(k for k, _ in PARAMS[pid]), []).append(pid)
    for _ in range(2):
        new_types = set()
        for opname, k, pid, ndims in sorted(set(needs), key=repr):
            defn = OPS[opname]
            pids = [pid] if pid is not None else by_names.get(defn.params, [])
            ordered = sorted(types)
            slots = [ordered if ndims is None else [t for t in ordered if TYPES[t].ndim == nd]
                     for nd in (ndims or (None,) * k)]
            for p in pids:
                op = Op(defn, dict(PARAMS[p]))
                for combo in product(*slots):
                    key = (k, OPIDS(opname), p, combo)
                    if key in entries:
                        continue
                    tts = [TYPES[t] for t in combo]
                    if defn.kind == "elemwise" and len({t.ndim for t in tts}) > 1:
                        continue
                    try:
                        out = defn.infer(op, tuple(Variable(t) for t in tts))
                    except Exception:
                        continue
                    tid = TYPES(out)
                    entries[key] = tid
                    if tid not in types:
                        new_types.add(tid)
                    if len(entries) >= max_entries:
                        return [(*k_, v) for k_, v in entries.items()]
        if not new_types:
            break
        types |= new_types
    return [(*k_, v) for k_, v in entries.items()]


def type_id(t: TensorType) -> int:
    return TYPES(t)


def is_float_type(tid: int) -> bool:
    return TYPES[tid].dtype.startswith("float")
