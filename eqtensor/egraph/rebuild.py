"""From the saturated e-graph back to a graph: the frozen tables extraction reads become e-nodes, the
extractor (:mod:`.extract`) selects one per e-class, and the selection is rebuilt as core variables
by calling the ops (their type rules re-validate it), reusing the input graph's unchanged nodes."""

from __future__ import annotations

from ..core.graph import Constant
from ..core.op import NEVER_FOLDED, OPS, Op
from ..core.traversal import toposort
from .extract import extract
from .folding import const_of_row, try_fold
from .program import MADE, OPIDS, PARAMS, TYPES
from .report import EGraphSnapshot

#: the tables of the e-graph extraction reads (besides the ``op_*`` tables)
EXTRACT_TABLES = {"Leaf", "Const", "Cons", "Nil", "ty", "Root", "unstable", "made"}


def extract_graph(frozen, loader, outputs, model, keep=None, clock=None, notes=None, contributed=None):
    """Extract the cheapest selection from the frozen e-graph and rebuild it as core variables:
    ``(outputs, their apply nodes)``; ``contributed`` (a list) receives the names of the rules whose
    results the selection uses (:func:`rules_in_result`). Raises :class:`OutOfTime` past the clock's
    hard limit."""
    leaves, n_outputs = loader.leaves, len(outputs)
    cons = {out: ins for ins, out in frozen.get("Cons", [])}
    nil = {out for _, out in frozen.get("Nil", [])}

    def unlist(c):
        items = []
        while c not in nil:
            head, c = cons[c]
            items.append(head)
        return tuple(items)

    enodes = []
    for ins, out in frozen.get("Leaf", []):
        enodes.append((out, None, 0, (), ins[0]))
    leaves = list(leaves)
    for (vid, tid), out in frozen.get("Const", []):  # constants created by rules: leaves too
        enodes.append((out, None, 0, (), len(leaves)))
        leaves.append(const_of_row(vid, tid))
    for table in sorted(frozen):
        if not table.startswith("op_") or table[3:] not in OPS:
            continue
        d = OPS[table[3:]]
        for ins, out in frozen[table]:
            pid = ins[0] if d.params else 0
            rest = ins[1:] if d.params else ins
            kids = unlist(rest[0]) if d.nin is None else tuple(rest)
            enodes.append((out, d.name, pid, kids, None))
    class_type = {ins[0]: out for ins, out in frozen["ty"]}
    roots = dict(frozen["Root"][i][0] for i in range(len(frozen["Root"])))
    root_classes = [roots[k] for k in range(n_outputs)]
    types = {tid: TYPES[tid] for tid in set(class_type.values())}
    params = {pid: dict(PARAMS[pid]) for pid in {e[2] for e in enodes}}
    unstable = {(ins[0], OPIDS[ins[1]]) for ins, _ in frozen.get("unstable", [])}
    originals, original_choice = originals_of(enodes, loader, outputs)
    constants = {cls: leaves[leaf].data for cls, op, _, _, leaf in enodes
                 if op is None and isinstance(leaves[leaf], Constant)}
    if clock is not None:
        clock.check()
    selection = extract(enodes, class_type, root_classes, model, types, params, unstable, original_choice,
                        constants, deadline=clock, notes=notes)
    if keep is not None:
        keep.egraph = EGraphSnapshot(enodes, class_type, selection, root_classes, leaves)
    if contributed is not None:
        contributed.extend(rules_in_result(frozen.get("made", []), enodes, selection, root_classes, originals,
                                           len(loader.leaves)))
    outs = rebuild(enodes, selection, root_classes, leaves, class_type, originals, clock)
    return outs, toposort(outs)


def rules_in_result(made, enodes, selection, roots, originals, n_input_leaves) -> list[str]:
    """The rules that contributed to the selection: a rule rewrote an e-class the selection uses
    (``made`` rows), the e-node selected there is not what the input graph computed there (a new
    e-node, or one of several input nodes the rules merged), and it is an e-node of the kind the rule
    builds (its replacement's root op; any, for a replacement that is a pattern variable). Rules whose
    alternatives lost to another rule's, or that rewrote only parts the selection does not use, are
    not listed."""
    used, stack = set(), list(roots)
    while stack:
        c = stack.pop()
        if c not in used:
            used.add(c)
            stack.extend(enodes[selection[c]][3])
    index = {(op, pid, kids): k for k, (_, op, pid, kids, _) in enumerate(enodes) if op is not None}
    input_enodes = {index[key] for key in originals if key in index}
    input_enodes |= {k for k, e in enumerate(enodes) if e[1] is None and e[4] < n_input_leaves}
    inputs_per_class: dict[int, int] = {}
    for k in input_enodes:
        inputs_per_class[enodes[k][0]] = inputs_per_class.get(enodes[k][0], 0) + 1
    out = set()
    for (cls, rid), _ in made:
        if cls not in used:
            continue
        name, op = MADE[rid]
        chosen = selection[cls]
        changed = chosen not in input_enodes or inputs_per_class.get(cls, 0) > 1
        if changed and (op is None or enodes[chosen][1] == op):
            out.add(name)
    return sorted(out)


def originals_of(enodes, loader, outputs):
    """The input graph inside the e-graph: ``{e-node key: Variable}`` (unchanged parts are reused as
    they are instead of being rebuilt) and ``{e-class: e-node index}`` (the input's own selection,
    one of the extractor's candidates)."""
    index = {(op, pid, kids): (cls, k) for k, (cls, op, pid, kids, _) in enumerate(enodes) if op is not None}
    leaf_class = {leaf: (cls, k) for k, (cls, op, _, _, leaf) in enumerate(enodes) if op is None}
    cls_of, choice, const_cls = {}, {}, {}
    for k, v in enumerate(loader.leaves):
        if k in leaf_class:
            cls_of[id(v)] = leaf_class[k][0]
            choice[leaf_class[k][0]] = leaf_class[k][1]
            if isinstance(v, Constant):
                const_cls.setdefault(v.signature(), leaf_class[k][0])
    found = {}
    for node in (loader.nodes if loader.nodes is not None else toposort(outputs)):
        kids = tuple(cls_of.get(id(i)) if id(i) in cls_of or not isinstance(i, Constant)
                     else const_cls.get(i.signature()) for i in node.inputs)
        d = node.op.defn
        key = (d.name, PARAMS(node.op.key[1]) if d.params else 0, kids)
        hit = index.get(key)
        if hit is None:
            continue
        cls_of[id(node.out)] = hit[0]
        choice.setdefault(hit[0], hit[1])
        found[key] = node.out
    return found, choice


def rebuild(enodes, selection, roots, leaves, class_type, originals, clock=None):
    memo: dict[int, object] = {}
    steps = 0
    for root in roots:
        stack = [root]
        while stack:
            steps += 1
            if clock is not None and not steps & 4095:
                clock.check()
            c = stack[-1]
            if c in memo:
                stack.pop()
                continue
            _, op, pid, kids, leaf = enodes[selection[c]]
            missing = [x for x in kids if x not in memo]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            if op is None:
                memo[c] = leaves[leaf]
                continue
            ins = [memo[x] for x in kids]
            orig = originals.get((op, pid, kids))
            if orig is not None and all(a is b or same_constant(a, b) for a, b in zip(orig.owner.inputs, ins)):
                memo[c] = orig
                continue
            o = Op(OPS[op], dict(PARAMS[pid]))
            v = o(*ins)
            expect = TYPES[class_type[c]]
            if v.dtype != expect.dtype or v.ndim != expect.ndim or any(
                    a is not None and b is not None and a != b for a, b in zip(v.type.shape, expect.shape)):
                raise TypeError(f"rebuilt {op} has type {v.type}, its e-class has {expect}")
            if ins and all(isinstance(i, Constant) for i in ins) and OPS[op].kind not in NEVER_FOLDED:
                folded = try_fold(o, ins, v.type)  # a Constant has no truth value: no `or`
                v = v if folded is None else folded
            memo[c] = v
    return [memo[r] for r in roots]


def same_constant(a, b) -> bool:
    """Equal constants (the e-graph keeps one leaf per value: a node of the input graph whose
    constant is another object of the same value is still reused as it is)."""
    return isinstance(a, Constant) and isinstance(b, Constant) and a.signature() == b.signature()
