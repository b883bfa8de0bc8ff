"""The e-graph program derived from the op table, and the compilation of rules to it (as text).

Encoding (documented in ``docs/optimizer.md``):

- one e-class sort ``T``; leaves are ``(Leaf k)`` with ``k`` an index into the compile's leaf
  table (inputs, shared variables, constants — constants live in Python, never as ``f64``);
- one constructor per op of :data:`~eqtensor.core.op.OPS`, ``(op_<name> [P] x1 … xn)`` where
  ``P`` (only for ops with parameters) is the id of the interned parameter tuple; variadic ops take a
  cons-list ``TL``;
- facts: ``(ty x)`` the interned static type (no merge: an unsound union is an error), ``(cval x)``
  the interned value of a uniform constant (merged: a rule exact up to the sign of zero, such as
  ``neg_sub``, may union a folded ``-0.0`` with ``0.0``; the smaller id is kept), relations ``pos``/``nonneg``/``nzconst``/``intconst`` and
  ``(float_ty t)``; ``(tyK op P t1 … tK)`` tables of result types filled by Python (from the op
  table's type rules) for the entries rules request through ``(needK op P t1 … tK)``, so a rule can
  type the nodes it creates;
- constants: ``(Const v t)`` is a uniform constant created by a rule (value id ``v``, type id ``t``,
  looked up in ``(cty t_root spec)``, filled by Python for every type of the graph); ``(isconst x)``
  marks constant e-classes, and ``(foldK op P a1 … aK z t)`` records an e-node whose inputs are all
  constants (and its type ``t``), which the optimizer evaluates and unions with a new leaf
  (constant folding);
- ``(varies x)``: ``x`` depends on an input (set on insertion, and carried to the terms rules
  create through the ops of :data:`VARIES_THROUGH`); rules with ``assumes=`` apply their
  assumptions only to such terms, never to constants;
- ``(refines a b)``: type ``a`` is type ``b`` with possibly more static lengths. The op table types
  ``reshape`` and ``alloc`` from input *types* only (a constant shape's value is unseen); a rule
  replacing a ``reshape`` by a ``reshape`` to the same shape operand, or creating ``zeros_like(v)``
  where ``v`` has the matched term's type, gives the new node the matched term's type when that
  refines the table's;
- ``(unstable x op)``: a stability rule matched e-class ``x`` with a pattern rooted at ``op``;
  the extractor penalises that op's e-nodes in ``x``;
- ``(made x r)``: rule ``r`` (an id of :data:`MADE`: its name and its replacement's root op) rewrote
  e-class ``x``; the report's ``rules_contributed`` reads it after extraction;
- ``(Root k x)`` marks output ``k``;
- ``(Ref k)``: a handle by which a big graph, inserted in several rules (chunks), refers to an e-class
  an earlier chunk created (unioned with it there); no rule matches it and extraction ignores it.

Nothing here imports egglog: this module produces text that :mod:`.bridge` feeds to it.

>>> "(constructor op_exp (T) T)" in declarations()
True
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from ..core.graph import Constant, TensorType, Variable, uniform_value
from ..core.traversal import toposort
from ..core.locks import ForkSafeLock
from ..core.op import NEVER_FOLDED, OPS, Op
from ..rules.language import is_pattern_var


class Interner:
    """Process-wide ids for hashable keys (types, parameter tuples, scalar values, op names);
    thread-safe (compiles may run in several threads, each with its own e-graph)."""

    def __init__(self, first=()):
        self.ids: dict = {}
        self.keys: list = []
        self._lock = ForkSafeLock()
        for k in first:
            self(k)

    def __call__(self, key) -> int:
        i = self.ids.get(key)
        if i is None:
            with self._lock:
                i = self.ids.get(key)
                if i is None:
                    self.keys.append(key)
                    i = self.ids[key] = len(self.keys) - 1
        return i

    def __getitem__(self, i: int):
        return self.keys[i]


#: rules can create nodes of ops with at most this many inputs (one type table per arity)
MAX_CREATED_ARITY = 5

TYPES = Interner()
PARAMS = Interner([()])  # id 0 = no parameters
VALUES = Interner()
OPIDS = Interner()
#: the rules as the ``made`` relation names them: (rule name, its replacement's root op or None)
MADE = Interner()
CONST_SPECS = Interner()  # (value key, shape) of constants rules create

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
    lines = ["(sort T)", "(sort TL)", "(sort R)", "(constructor Leaf (i64) T)", "(constructor Const (i64 i64) T)",
             "(constructor Nil () TL)",
             "(constructor Cons (T TL) TL)", "(constructor Root (i64 T) R)", "(constructor Ref (i64) T)",
             "(constructor RefL (i64) TL)"]
    for name in sorted(OPS):
        d = OPS[name]
        args = (["i64"] if d.params else []) + (["TL"] if d.nin is None else ["T"] * d.nin)
        lines.append(f"(constructor {constructor_name(name)} ({' '.join(args)}) T)")
    lines += ["(function ty (T) i64 :no-merge)", "(function cval (T) i64 :merge (min old new))", "(relation pos (T))",
              "(relation nonneg (T))", "(relation nzconst (T))", "(relation float_ty (i64))",
              "(relation unstable (T i64))", "(relation made (T i64))", "(relation isconst (T))",
              "(relation varies (T))", "(relation intconst (T))",
              "(relation refines (i64 i64))", "(function cty (i64 i64) i64 :no-merge)"]
    for k in range(1, MAX_CREATED_ARITY + 1):
        lines.append(f"(function ty{k} ({' '.join(['i64'] * (k + 2))}) i64 :no-merge)")
        lines.append(f"(relation need{k} ({' '.join(['i64'] * (k + 2))}))")
        lines.append(f"(relation fold{k} (i64 i64 {' '.join(['T'] * (k + 1))} i64))")
    lines.append("(ruleset facts)")
    ok = set(OPS)
    for name, body, head in FACT_RULES:
        used = {w[3:] for w in body.replace("(", " ").split() if w.startswith("op_")}
        if used <= ok:
            lines.append(f'(rule {body} {head} :ruleset facts :name "fact_{name}")')
    lines += _varies_rules()
    for name in sorted(OPS):  # constant folding: e-nodes whose inputs are all constants
        d = OPS[name]
        if d.nin is None or not 1 <= d.nin <= MAX_CREATED_ARITY or d.kind in NEVER_FOLDED:
            continue
        kids = [f"a{i}" for i in range(d.nin)]
        p = "p" if d.params else ""
        body = " ".join([f"(= z ({constructor_name(name)} {p} {' '.join(kids)}))"] + [f"(isconst {a})" for a in kids]
                        + ["(= t (ty z))"])
        head = f"(fold{d.nin} {OPIDS(name)} {p or 0} {' '.join(kids)} z t)"
        lines.append(f'(rule ({body}) ({head}) :ruleset facts :name "fact_fold_{name}")')
    return "\n".join(lines + load_declarations())


#: ops through which ``varies`` reaches the terms rules create (so the assumed rules, which apply
#: only to terms that depend on an input, also see what the broadcast rules and lifts make)
VARIES_THROUGH = ("add", "sub", "mul", "true_div", "neg", "dimshuffle", "sum", "alloc")


def _varies_rules() -> list[str]:
    """Fact rules: an e-node of :data:`VARIES_THROUGH` with an operand that varies varies."""
    out = []
    for name in VARIES_THROUGH:
        d = OPS.get(name)
        if d is None:
            continue
        cn, p = constructor_name(name), "p " if d.params else ""
        if d.nin is None:  # variadic (alloc): its value, the first of the list
            out.append(f'(rule ((= z ({cn} {p}(Cons a r))) (varies a)) ((varies z)) :ruleset facts '
                       f':name "fact_varies_{name}")')
            continue
        kids = " ".join(f"a{i}" for i in range(d.nin))
        for i in range(d.nin):
            out.append(f'(rule ((= z ({cn} {p}{kids})) (varies a{i})) ((varies z)) :ruleset facts '
                       f':name "fact_varies_{name}_{i}")')
    return out


#: the fact relations of constants (:func:`const_facts`), each with a staging relation
CONST_FACTS = ("isconst", "pos", "nonneg", "nzconst", "intconst")


def load_relation(opname: str) -> str:
    """The staging relation of op ``opname``'s nodes (see :func:`load_declarations`)."""
    return f"Load_{constructor_name(opname)}"


def load_declarations() -> list[str]:
    """Staging relations and the ``load`` ruleset that builds a graph from them.

    A graph is loaded as rows of plain integers, read from files by egglog's ``input`` command
    (about a microsecond per row; building the same graph as the actions of a rule costs egglog
    ~25-50 µs per action to compile). Every node and leaf has an integer id and the handle
    ``(Ref id)``; every cons list an id and ``(RefL id)``. One iteration of ``load`` unions each
    handle with what its row defines — ``(Leaf k)``, ``(op_add (Ref a) (Ref b))``… — and sets the
    facts: the type, ``varies``, the outputs' ``Root``, constants' ``cval`` and sign facts. Rows
    are deleted as they are used. Handles are not e-nodes of any op: no rule matches them and the
    extractor ignores them.

    Relations: ``(LoadLeaf id k)``, ``(LoadNil l)``, ``(LoadCons l head tail)``, ``(LoadTy id type
    id)``, ``(LoadVaries id)``, ``(LoadRoot k id)``, ``(LoadCval id value id)``, ``(LoadSame id id)``
    (two nodes known equal: their e-classes are unioned),
    ``(LoadFact_<fact> id)``; each op's ``(Load_op_<name> id [params id] kid ids… | list id)`` is
    declared on first use (:func:`load_op_declarations`), so the e-graph has no empty tables for
    the ops a program never uses (every table costs each push, pop and freeze).
    """
    lines = ["(ruleset load)", "(relation LoadLeaf (i64 i64))", "(relation LoadNil (i64))",
             "(relation LoadCons (i64 i64 i64))", "(relation LoadTy (i64 i64))", "(relation LoadVaries (i64))",
             "(relation LoadRoot (i64 i64))", "(relation LoadCval (i64 i64))", "(relation LoadSame (i64 i64))"]
    rules = [("LoadLeaf z k", "(union (Ref z) (Leaf k))"), ("LoadNil l", "(union (RefL l) (Nil))"),
             ("LoadCons l h t", "(union (RefL l) (Cons (Ref h) (RefL t)))"), ("LoadTy z t", "(set (ty (Ref z)) t)"),
             ("LoadVaries z", "(varies (Ref z))"), ("LoadRoot k z", "(Root k (Ref z))"),
             ("LoadCval z v", "(set (cval (Ref z)) v)"), ("LoadSame a b", "(union (Ref a) (Ref b))")]
    for f in CONST_FACTS:
        lines.append(f"(relation LoadFact_{f} (i64))")
        rules.append((f"LoadFact_{f} z", f"({f} (Ref z))"))
    return lines + [_load_rule(row, action, f"load_{k}") for k, (row, action) in enumerate(rules)]


def load_op_declarations(opname: str) -> str:
    """The staging relation of op ``opname`` and its ``load`` rule (see :func:`load_declarations`)."""
    d = OPS[opname]
    cols = (["p"] if d.params else []) + (["l"] if d.nin is None else [f"a{i}" for i in range(d.nin)])
    rel = load_relation(opname)
    args = (["p"] if d.params else []) + (["(RefL l)"] if d.nin is None else [f"(Ref a{i})" for i in range(d.nin)])
    return "\n".join([f"(relation {rel} ({' '.join(['i64'] * (1 + len(cols)))}))",
                      _load_rule(f"{rel} z {' '.join(cols)}".rstrip(),
                                 f"(union (Ref z) ({constructor_name(opname)} {' '.join(args)}))", f"load_{rel}")])


def _load_rule(row: str, action: str, name: str) -> str:
    return f'(rule (({row})) ({action} (delete ({row}))) :ruleset load :name "{name}")'


def const_facts(value) -> list[str]:
    """The fact relations a constant with these elements (an array) satisfies."""
    d = np.asarray(value)
    out = ["isconst"]
    if d.size and d.dtype.kind in "biuf":
        with np.errstate(all="ignore"):
            finite = bool(np.all(np.isfinite(d)))
            out += [n for n, ok in (("pos", np.all(d > 0)), ("nonneg", np.all(d >= 0)),
                                    ("nzconst", finite and np.all(d != 0)),
                                    ("intconst", finite and np.all(d == np.round(d)))) if ok]
    return out


def const_type(tid: int, spec: int):
    """The type of a constant a rule creates (spec: value and shape) where the matched term has type
    ``tid``: the matched term's dtype and the constant's own shape; None if the value is not exact
    in that dtype (or not numeric: a random generator's type)."""
    (_, bits), shape = CONST_SPECS[spec]
    value = struct.unpack("<d", bits)[0] if bits else float("nan")
    dtype = TYPES[tid].dtype
    if dtype == "object":
        return None
    with np.errstate(all="ignore"):
        cast = np.asarray(value).astype(dtype)
    if not (cast == value or (value != value and cast != cast)):
        return None

    return TYPES(TensorType(dtype, shape))


def value_key(x) -> tuple:
    """Interning key of a scalar value: bit-exact, so 0.0 and -0.0 differ; all nans are one value."""
    x = float(x)
    if x != x:
        return ("nan", b"")
    return ("f", struct.pack("<d", x))


# --------------------------------------------------------------------------------- rule compiler
class CompiledRule:
    """A rule as egglog text: the rewrite itself plus one *request* rule per node it creates. A
    request rule matches like the rewrite and records ``(needK op P t1 … tK)``, the type-table entry
    the rewrite waits for; the optimizer fills requested entries between iterations. ``needs`` lists
    (op, arity, params id or None for "any params of that op") for prefilling, ``consts`` the
    ``CONST_SPECS`` ids of the constants it creates (their ``cty`` entries are prefilled)."""

    def __init__(self, name: str, text: str, needs: list, consts: list):
        self.name = name
        self.text = text
        self.needs = needs
        self.consts = consts
        # named by rule name and text: rules that share a name but differ never share a ruleset
        self.ruleset = f"r_{name}_{hashlib.sha1(text.encode()).hexdigest()[:10]}"
        self.text = text.replace("@RS@", self.ruleset)




def _cons_list(kids, fresh, out: list, bind: str) -> str:
    """Bind a ``Cons``/``Nil`` list of ``kids`` with ``bind`` (a fact or a let) into ``out``."""
    lst = fresh("l")
    out.append(bind.format(lst, "(Nil)"))
    for kid in reversed(kids):
        nxt = fresh("l")
        out.append(bind.format(nxt, f"(Cons {kid} {lst})"))
        lst = nxt
    return lst

#: guard kind (see rules.language.GUARD_KINDS) -> the egglog fact that checks it
_GUARD_FACTS = {
    "positive": "(pos {0})",
    "nonneg": "(nonneg {0})",
    "nonzero_const": "(nzconst {0})",
    "nonconstant": "(varies {0})",
    "integral_const": "(intconst {0})",
    "constant": "(isconst {0})",
    "is_float": "(float_ty (ty {0}))",
    "same_type": "(= (ty {0}) (ty {1}))",
}

class _RuleCompiler:
    """Translating one rule: the egglog variables of the pattern's and the replacement's terms, their
    types, the facts (the match) and the actions (the replacement) written so far."""

    def __init__(self, rule):
        self.rule = rule
        self.facts: list[str] = []
        self.actions: list[str] = []
        self.names: dict[int, str] = {}  # id(Variable) -> egglog variable
        self.types: dict[int, str] = {}  # id(Variable) -> egglog variable of its type
        self.needs: list = []
        self.requests: list = []  # (facts before the node's own type lookup, request action)
        self.consts: list = []
        self.counter = 0
        repl_params = {n.op.key[1] for n in toposort([rule.replacement]) if n.op.key[1]}
        repl_params &= {n.op.key[1] for n in toposort([rule.pattern])}  # written on both sides: generalized
        self.repl_params = repl_params
        self.pvars: dict = {}

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def params_of(self, op):
        p = op.key[1]
        if not p:
            return []
        if p in self.repl_params:
            if p not in self.pvars:
                self.pvars[p] = self.fresh("q")
            return [self.pvars[p]]
        return [str(PARAMS(p))]

    def match(self, v: Variable) -> str:
        """The egglog variable of pattern term ``v``, its match facts written."""
        rule, names, facts = self.rule, self.names, self.facts
        if id(v) in names:
            return names[id(v)]
        if is_pattern_var(v):
            names[id(v)] = f"v_{v.tag['pattern']}"
            return names[id(v)]
        if isinstance(v, Constant):
            val = uniform_value(v)
            if val is None:
                raise ValueError(f"rule {rule.name}: pattern constants must be uniform scalars, got {v}")
            name = names[id(v)] = self.fresh("k")
            facts.append(f"(= (cval {name}) {VALUES(value_key(val))})")
            return name
        if v.owner is None:
            raise ValueError(f"rule {rule.name}: {v} is neither a pattern variable nor a constant")
        op = v.owner.op
        me = names[id(v)] = "z" if v is rule.pattern else self.fresh("m")
        kids = [self.match(i) for i in v.owner.inputs]
        if op.defn.nin is None:  # variadic: a cons list of exactly these inputs
            kids = [_cons_list(kids, self.fresh, facts, "(= {} {})")]
        facts.append(f"(= {me} ({constructor_name(op.name)} {' '.join(self.params_of(op) + kids)}))")
        return me

    def type_of(self, v: Variable) -> str:
        if id(v) not in self.types:
            t = self.types[id(v)] = self.fresh("t")
            self.facts.append(f"(= {t} (ty {self.names[id(v)]}))")
        return self.types[id(v)]

    def constant(self, v: Constant) -> str:
        """A constant of the replacement, created with the type ``cty`` gives it next to the root's."""
        val = uniform_value(v)
        vid = VALUES(value_key(val))
        spec = CONST_SPECS((value_key(val), (1,) * v.ndim))
        self.consts.append(spec)
        t, me = self.fresh("t"), self.fresh("c")
        self.facts.append(f"(= {t} (cty t_root {spec}))")
        self.actions.append(f"(let {me} (Const {vid} {t}))")
        self.actions.append(f"(set (ty {me}) {t})")
        self.actions.append(f"(set (cval {me}) {vid})")
        self.actions.extend(f"({f} {me})" for f in const_facts(val))
        self.names[id(v)] = me
        self.types[id(v)] = t
        return me

    def build(self, v: Variable, is_root: bool) -> str:
        """The egglog variable of replacement term ``v``, its creation actions (and the type-table
        lookups typing it) written."""
        rule, names, facts, actions = self.rule, self.names, self.facts, self.actions
        if id(v) in names:
            if is_root:
                facts.append(f"(= (ty {names[id(v)]}) t_root)")
            return names[id(v)]
        if isinstance(v, Constant):
            return self.constant(v)
        op = v.owner.op
        nin = len(v.owner.inputs)
        if nin > MAX_CREATED_ARITY:
            raise ValueError(f"rule {rule.name}: op {op.name} cannot be created by a rule (> {MAX_CREATED_ARITY} inputs)")
        kids = [self.build(i, False) for i in v.owner.inputs]
        kid_types = [self.type_of(i) for i in v.owner.inputs]
        p = self.params_of(op)
        pid = p[0] if p else "0"
        shaped = _value_shaped(rule, v) if is_root else False
        loose = shaped is not False
        if loose and shaped is not True:  # alloc shaped like a pattern variable: it has the root's type
            facts.append(f"(= (ty {names[id(shaped)]}) t_root)")
        t = "t_root" if is_root and not loose else self.fresh("t")
        key = f"{OPIDS(op.name)} {pid} {' '.join(kid_types)}"
        if len(kids) >= 2:  # unary results are prefilled for every type of the graph
            self.requests.append((list(facts), f"(need{len(kids)} {key})"))
        facts.append(f"(= {t} (ty{len(kids)} {key}))")
        if loose:
            facts.append(f"(refines t_root {t})")
            t = "t_root"
        self.needs.append((op.name, len(kids), None if (p and not p[0].isdigit()) else int(pid)))
        if op.defn.nin is None:  # variadic: the inputs as a cons list
            kids = [_cons_list(kids, self.fresh, actions, "(let {} {})")]
        me = self.fresh("n")
        actions.append(f"(let {me} ({constructor_name(op.name)} {' '.join(p + kids)}))")
        actions.append(f"(set (ty {me}) {t})")
        names[id(v)] = me
        self.types[id(v)] = t
        return me

    def guards(self) -> list[str]:
        """The facts of the rule's guards and assumptions."""
        rule, guards = self.rule, []
        for g in rule.when:
            a = [self.names[id(x)] for x in g.args]
            if g.kind not in _GUARD_FACTS:
                raise ValueError(f"rule {rule.name}: unknown guard kind {g.kind!r}")
            guards.append(_GUARD_FACTS[g.kind].format(*a))
        for a in rule.assumes:  # only on terms that depend on an input, never on a constant expression
            guards += [f"(varies {self.names[id(x)]})" for x in a.args]
        return guards

    def text(self, guards: list[str]) -> str:
        """The egglog commands: the rule, and one rule per type-table request of the replacement."""
        name = self.rule.name
        lines = [f'(rule ({" ".join(guards + self.facts)}) ({" ".join(self.actions)}) :ruleset @RS@ :name "{name}")']
        for k, (before, request) in enumerate(self.requests):
            lines.append(f'(rule ({" ".join(guards + before)}) ({request}) :ruleset @RS@ '
                         f':name "req_{name}_{k}")')
        return "\n".join(lines)


def compile_rule(rule) -> CompiledRule:
    """Translate a :class:`~eqtensor.rules.language.Rule` into one egglog ``rule`` command."""
    c = _RuleCompiler(rule)
    c.match(rule.pattern)
    c.facts.append("(= t_root (ty z))")
    out = c.build(rule.replacement, True)
    guards = c.guards()
    c.actions.append(f"(union z {out})")
    if rule.stabilizes:  # the pattern's root op is an unstable form in this e-class
        c.actions.append(f"(unstable z {OPIDS(rule.pattern.owner.op.name)})")
    root = rule.replacement.owner
    c.actions.append(f"(made z {MADE((rule.name, root.op.name if root is not None else None))})")
    return CompiledRule(rule.name, c.text(guards), c.needs, c.consts)


_ENTRIES: dict = {}


def type_entry(k: int, opid: int, pid: int, in_types: tuple):
    """The type id an op gives for inputs of these type ids (None if the op rejects them); cached."""
    key = (opid, pid, in_types)
    if key not in _ENTRIES:

        defn = OPS[OPIDS[opid]]
        tts = [TYPES[t] for t in in_types]
        out = None
        if not (defn.kind == "elemwise" and len({t.ndim for t in tts}) > 1):
            try:
                out = TYPES(defn.infer(Op(defn, dict(PARAMS[pid])), tuple(Variable(t) for t in tts)))
            except Exception:
                out = None
        _ENTRIES[key] = out
    return _ENTRIES[key]


def prefill_entries(needs, graph_types: set[int], graph_params: set[int]):
    """``(k, opid, pid, in_types, out)`` for the ops rules create applied to inputs all of one type
    of the graph (the common case), so most rules fire in the first iteration; other combinations
    are typed on request (unary ops are typed this way only: their rules make no requests)."""
    by_names: dict = {}
    # parameters rules write literally are in the graph once they fire: a rule generalizing over
    # the same parameter names (softmax -> log_softmax for any axis) must be typed for them too
    created = {pid for _, _, pid in needs if pid is not None}
    for pid in set(graph_params) | created:
        by_names.setdefault(tuple(k for k, _ in PARAMS[pid]), []).append(pid)
    out = []
    types = set(graph_types)
    for _ in range(2):  # a unary result type may feed another unary op
        new = set()
        for opname, k, pid in sorted(set(needs), key=repr):
            opid = OPIDS(opname)
            for p in [pid] if pid is not None else by_names.get(OPS[opname].params, []):
                for t in sorted(types):
                    res = type_entry(k, opid, p, (t,) * k)
                    if res is not None:
                        out.append((k, opid, p, (t,) * k, res))
                        new.add(res)
        if new <= types:
            break
        types |= new
    return sorted(set(out))


def _value_shaped(rule, root):
    """Whether the replacement's root, which the op table types from input *types* only, may take
    the matched term's (more static) type. True for a ``reshape`` to the very shape operand of the
    pattern's root ``reshape`` (both results have that shape); the pattern variable ``v`` for an
    ``alloc`` whose dimensions are ``shape_i(v, 0), shape_i(v, 1), …`` (``zeros_like(v)``), which
    has ``v``'s shape: the rule then also requires ``v`` to have the matched term's type. False
    otherwise (``x * zeros(6) → zeros_like(x)`` must not be typed (6,): ``x`` may have length 1)."""

    p, r = rule.pattern.owner, root.owner
    if r.op.name == p.op.name == "reshape" and r.inputs[1] is p.inputs[1]:
        return True
    if r.op.name == "alloc" and len(r.inputs) > 1:
        dims = [d.owner for d in r.inputs[1:]]
        if all(d is not None and d.op.name == "shape_i" and d.op.params["i"] == k for k, d in enumerate(dims)):
            v = dims[0].inputs[0]
            if is_pattern_var(v) and all(d.inputs[0] is v for d in dims) and v.ndim == len(dims):
                return v
    return False


def refines(a: int, b: int) -> bool:
    """Type ``a`` is type ``b`` with possibly more static lengths (same dtype and rank)."""
    ta, tb = TYPES[a], TYPES[b]
    return ta.dtype == tb.dtype and ta.ndim == tb.ndim and all(y is None or x == y for x, y in
                                                              zip(ta.shape, tb.shape))


def is_float_type(tid: int) -> bool:
    return TYPES[tid].dtype.startswith("float")
