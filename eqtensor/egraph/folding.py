"""Constant folding: before insertion (:func:`fold_constants`, nodes whose inputs are all constants
replaced by their small values) and inside the e-graph between iterations (:func:`serve_folds`, the
all-constant e-nodes rules create, unioned with a new constant leaf).

>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> outs, n = fold_constants([x * (pt.constant(2.0) + 3.0)])
>>> n, outs[0].owner.inputs[1].data.tolist()  # 2 + 3, then its broadcast to x's rank
(2, [5.0])
"""

from __future__ import annotations

import struct

import numpy as np

from ..core.graph import Constant
from ..core.op import NEVER_FOLDED, OPS, Op
from ..core.traversal import toposort
from .insertion import constant_actions
from .program import MAX_CREATED_ARITY, OPIDS, PARAMS, TYPES, VALUES, constructor_name

#: largest constant (in elements) the optimizer creates by folding
FOLD_LIMIT = 10_000


#: the name under which folding inside the e-graph appears among the rules fired
CONSTANT_FOLDING = "constant_folding"


def fold_constants(outputs):
    """Replace every node whose inputs are all constants by its (small) value. Returns
    ``(new outputs, number of folded nodes)``."""
    outs, folded, _ = fold_graph(outputs, toposort(outputs))
    return outs, folded


def fold_graph(outputs, nodes):
    """:func:`fold_constants` over ``outputs``' apply ``nodes`` (topological order); also returns
    the new graph's apply nodes when nothing changed (else None)."""
    memo: dict[int, object] = {}
    folded = 0
    changed = False
    for node in nodes:
        if changed:
            ins = [memo.get(id(i), i) for i in node.inputs]
            new = node.out if all(a is b for a, b in zip(ins, node.inputs)) else node.op(*ins)
        else:
            ins, new = node.inputs, node.out
        if ins and node.op.defn.kind not in NEVER_FOLDED and all(isinstance(i, Constant) for i in ins):
            value = try_fold(node.op, ins, new.type)
            if value is not None:
                new = value
                folded += 1
                changed = True
        memo[id(node.out)] = new
    if not changed:
        return list(outputs), 0, nodes
    return [memo.get(id(o), o) for o in outputs], folded, None


def try_fold(op, consts, out_type):
    known = None not in out_type.shape and int(np.prod(out_type.shape, dtype=np.int64)) > FOLD_LIMIT
    if known or any(c.data.size > FOLD_LIMIT for c in consts):
        return None  # never spend time or memory on big constants at compile time
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(op.perform(*[c.data for c in consts]))
    except Exception:
        return None
    if value.size > FOLD_LIMIT or value.dtype.name != out_type.dtype or not out_type.is_compatible(value.shape):
        return None
    return Constant(value)


def const_of_row(vid: int, tid: int) -> Constant:
    """The constant a ``(Const v t)`` e-node stands for."""
    kind, bits = VALUES[vid]
    value = struct.unpack("<d", bits)[0] if kind == "f" else np.nan
    t = TYPES[tid]
    with np.errstate(all="ignore"):
        return Constant(np.full(t.shape, value, dtype=t.dtype))


def serve_folds(s, loader, served: set) -> int:
    """Constant folding inside the e-graph: evaluate every recorded e-node whose inputs are all
    constants (``foldK`` rows) with its op's NumPy implementation, and union it with a new leaf
    holding the (small) result. Returns the number of e-nodes folded."""
    frozen = s.freeze(lambda name: name.startswith("fold") or name in ("Leaf", "Const"))
    consts = {}  # e-class -> (constructor, args, Constant)
    for (k,), cls in frozen.get("Leaf", ()):
        if isinstance(loader.leaves[k], Constant):
            consts[cls] = ("Leaf", (k,), loader.leaves[k])
    for (vid, tid), cls in frozen.get("Const", ()):
        consts.setdefault(cls, ("Const", (vid, tid), const_of_row(vid, tid)))
    acts, n = [], 0
    for k in range(1, MAX_CREATED_ARITY + 1):
        for ins, _ in frozen.get(f"fold{k}", ()):
            if ins in served:
                continue
            served.add(ins)
            opid, pid, kids, tz = ins[0], ins[1], ins[2:2 + k], ins[3 + k]  # the row carries ty(z)
            if not all(c in consts for c in kids):
                continue
            d = OPS[OPIDS[opid]]
            value = try_fold(Op(d, dict(PARAMS[pid])), [consts[c][2] for c in kids], TYPES[tz])
            if value is None:
                continue
            n += 1
            key = (value.signature(), tz)
            k_leaf = loader.folded.get(key)
            if k_leaf is None:  # one leaf per value and type: equal folds share an e-class
                k_leaf = loader.folded[key] = len(loader.leaves)
                loader.leaves.append(value)
            args = [("int", pid)] if d.params else []
            for j, c in enumerate(kids):
                fn, cargs, _ = consts[c]
                acts.append(("let", f"f{n}_{j}", fn, tuple(("int", a) for a in cargs)))
                args.append(("var", f"f{n}_{j}"))
            acts.append(("let", f"f{n}", constructor_name(d.name), tuple(args)))
            leaf = f"f{n}_leaf"
            acts.append(("let", leaf, "Leaf", (("int", k_leaf),)))
            acts.append(("set", "ty", (("var", leaf),), tz))
            acts += constant_actions(leaf, value)
            acts.append(("union", f"f{n}", leaf))
    if acts:
        s.insert(acts)
    return n
