"""Inserting a graph into the e-graph: its nodes as rows of staging relations (:class:`Loader`),
read by egglog's ``input`` command from files or inserted as the actions of one rule, and the
type-table facts the rules need (entries, constant types, float facts)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from ..core.graph import Constant, uniform_value
from ..core.op import OPS
from ..core.traversal import toposort
from .program import (
    PARAMS, TYPES, VALUES, const_facts, const_type, is_float_type, load_op_declarations, load_relation,
    prefill_entries, refines, value_key,
)

class Loader:
    """Turns a list of output expressions into the rows of the staging relations
    (:func:`~.program.load_declarations`): every leaf and node gets an integer id; ``rows`` lists
    ``(relation, row)`` in definition order. ``actions`` holds the other facts to insert (type-table
    entries…) as rule actions."""

    def __init__(self):
        self.rows: list[tuple[str, tuple]] = []
        self.actions: list = []
        self.leaves: list = []
        self.names: dict[int, int] = {}  # id(variable) -> node id
        self._leaf_keys: dict = {}
        self.types: set[int] = set()
        self.params: set[int] = {0}
        self.count = 0  # node ids given
        self.lists = 0  # cons-list ids given
        self._seen: dict = {}
        self.merged = 0  # nodes that repeat an earlier node (common subexpressions)
        self._varies: set[int] = set()  # inserted e-nodes that depend on an input
        self.refined: set = set()  # (graph type, table type) pairs recorded as ``refines``
        self.folded: dict = {}  # (constant signature, type id) -> leaf index, for folding in the e-graph
        self.nodes = None  # the inserted graph's apply nodes, in topological order
        self.equated: list = []  # (variable, alternative) pairs unioned (:meth:`equate`)
        self._tids: dict = {}  # (dtype, shape) -> type id
        self._rels: dict = {}  # op name -> staging relation
        self.opnames = self._rels.keys()  # the ops of the inserted nodes

    def _ty(self, nid, t):
        key = (t.dtype, t.shape)  # hashes and compares in C (TensorType.__eq__ is Python)
        tid = self._tids.get(key)
        if tid is None:
            tid = self._tids[key] = TYPES(t)
            self.types.add(tid)
        self.rows.append(("LoadTy", (nid, tid)))

    def leaf(self, v) -> int:
        key = ("c", v.signature()) if isinstance(v, Constant) else id(v)
        nid = self._leaf_keys.get(key)
        if nid is None:
            k = len(self.leaves)
            self.leaves.append(v)
            nid = self._leaf_keys[key] = self._fresh()
            self.rows.append(("LoadLeaf", (nid, k)))
            self._ty(nid, v.type)
            if isinstance(v, Constant):
                val = uniform_value(v)
                if val is not None:
                    self.rows.append(("LoadCval", (nid, VALUES(value_key(val)))))
                self.rows += [(f"LoadFact_{f}", (nid,)) for f in const_facts(v.data)]
                self.folded[(v.signature(), TYPES(v.type))] = k
            else:
                self.rows.append(("LoadVaries", (nid,)))
                self._varies.add(nid)
        self.names[id(v)] = nid
        return nid

    def load(self, outputs, nodes=None, check=None):
        self.nodes = nodes = toposort(outputs) if nodes is None else nodes
        names, rows = self.names, self.rows
        for count, node in enumerate(nodes):
            if check is not None and count and not count & 4095:
                check()
            self._node(node)
        for k, o in enumerate(outputs):
            nid = names.get(id(o))
            rows.append(("LoadRoot", (k, self.leaf(o) if nid is None else nid)))

    def _node(self, node) -> None:
        """Load one apply node whose inputs are loaded (or are leaves)."""
        names, rows = self.names, self.rows
        kids = [names[id(i)] if id(i) in names else self.leaf(i) for i in node.inputs]
        d = node.op.defn
        pid = None
        if d.params:
            pid = PARAMS(node.op.key[1])
            self.params.add(pid)
        key = (d.name, pid, tuple(kids))
        nid = self._seen.get(key)
        if nid is not None:  # the same op on the same e-classes: one e-node (hash-consing)
            self.merged += 1
            names[id(node.out)] = nid
            return
        if d.nin is None:  # variadic: the inputs as a cons list
            self.lists += 1
            lst = self.lists
            rows.append(("LoadNil", (lst,)))
            for kid in reversed(kids):
                self.lists += 1
                rows.append(("LoadCons", (self.lists, kid, lst)))
                lst = self.lists
            kids = [lst]
        nid = self._seen[key] = self._fresh()
        rel = self._rels.get(d.name)
        if rel is None:
            rel = self._rels[d.name] = load_relation(d.name)
        rows.append((rel, (nid, pid, *kids) if pid is not None else (nid, *kids)))
        self._ty(nid, node.out.type)
        if any(k in self._varies for k in key[2]):
            rows.append(("LoadVaries", (nid,)))
            self._varies.add(nid)
        names[id(node.out)] = nid

    def equate(self, pairs) -> int:
        """Load each ``(variable, alternative)``'s alternative (new nodes only; the variable is
        loaded) and union the two: the ``LoadSame`` rows. Returns the number of pairs."""
        names = self.names
        self.equated = pairs  # alive while their ids key ``names``
        for v, alt in pairs:
            if id(alt) not in names:
                if alt.owner is None:
                    self.leaf(alt)
                for node in _unloaded_nodes(alt, names):
                    self._node(node)
            self.rows.append(("LoadSame", (names[id(v)], names[id(alt)])))
        return len(pairs)

    def _fresh(self) -> int:
        self.count += 1
        return self.count


def _unloaded_nodes(v, names) -> list:
    """The apply nodes ``v`` needs that are not loaded yet (not in ``names``), inputs first."""
    order, seen, stack = [], set(), [(v, False)]
    while stack:
        v, expanded = stack.pop()
        node = v.owner
        if node is None or id(v) in names or id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            order.append(node)
            continue
        stack.append((v, True))
        stack.extend((i, False) for i in reversed(node.inputs))
    return order


#: graphs of fewer staging rows are inserted as the actions of one rule (measured crossover: files
#: and ``input`` commands cost a fixed ~6 ms, actions ~30 µs each)
ROWS_BY_FILE_FROM = 400


def register_loads(s, opnames) -> None:
    """Declare the staging relations (and ``load`` rules) of these ops, once per e-graph."""
    for name in sorted(opnames):
        s.register(f"load:{name}", load_op_declarations(name))


def insert_rows(s, rows, actions=()) -> None:
    """Insert the staging ``rows`` (``(relation, row)``) with egglog's ``input`` command (one file of
    tab-separated integers per relation, in a private temporary directory; the ops' relations must
    be registered: :func:`register_loads`), run the ``load`` ruleset once, then insert
    ``actions``. A small graph — or where files cannot be used — is inserted as the actions of one
    rule (:func:`rows_as_actions`; ~30× slower per node, but without the files' fixed cost)."""
    if len(rows) < ROWS_BY_FILE_FROM:
        s.insert(rows_as_actions(rows) + list(actions))
        return
    by_rel: dict[str, list] = {}
    for rel, row in rows:
        by_rel.setdefault(rel, []).append(row)
    try:
        folder = tempfile.mkdtemp(prefix="eqtensor-load-")
    except OSError:
        folder = None
    if folder is None or '"' in folder or "\\" in folder:
        s.insert(rows_as_actions(rows) + list(actions))
        return
    try:
        for rel, rs in by_rel.items():
            path = os.path.join(folder, rel + ".tsv")
            with open(path, "w") as fh:
                fh.write("\n".join(["\t".join(map(str, r)) for r in rs]))
                fh.write("\n")
            s.command(f'(input {rel} "{path}")')
        s.command("(run-schedule (run load))")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if actions:
        s.insert(actions)


def rows_as_actions(rows) -> list:
    """The staging rows as insertion actions (local lets ``r<id>``, ``q<list id>``) for one rule."""
    acts = []
    for rel, row in rows:
        if rel.startswith("Load_op_"):
            d = OPS[rel[8:]]
            args = [("int", row[1])] if d.params else []
            kids = row[2:] if d.params else row[1:]
            args += [("var", f"q{kids[0]}")] if d.nin is None else [("var", f"r{k}") for k in kids]
            acts.append(("let", f"r{row[0]}", rel[5:], tuple(args)))
        elif rel == "LoadLeaf":
            acts.append(("let", f"r{row[0]}", "Leaf", (("int", row[1]),)))
        elif rel == "LoadTy":
            acts.append(("set", "ty", (("var", f"r{row[0]}"),), row[1]))
        elif rel == "LoadVaries":
            acts.append(("call", "varies", (("var", f"r{row[0]}"),)))
        elif rel == "LoadRoot":
            acts.append(("call", "Root", (("int", row[0]), ("var", f"r{row[1]}"))))
        elif rel == "LoadCval":
            acts.append(("set", "cval", (("var", f"r{row[0]}"),), row[1]))
        elif rel == "LoadSame":
            acts.append(("union", f"r{row[0]}", f"r{row[1]}"))
        elif rel == "LoadNil":
            acts.append(("let", f"q{row[0]}", "Nil", ()))
        elif rel == "LoadCons":
            acts.append(("let", f"q{row[0]}", "Cons", (("var", f"r{row[1]}"), ("var", f"q{row[2]}"))))
        else:  # LoadFact_<fact>
            acts.append(("call", rel[9:], (("var", f"r{row[0]}"),)))
    return acts


def constant_actions(name, c: Constant) -> list:
    """Insertion actions for the facts of constant leaf ``name``: its uniform value and sign facts."""
    ref = (("var", name),)
    val = uniform_value(c)
    out = [("set", "cval", ref, VALUES(value_key(val)))] if val is not None else []
    return out + [("call", f, ref) for f in const_facts(c.data)]


def entry_actions(entries, graph_types, refined: set):
    """Actions adding type-table entries, their float facts, and ``(refines g out)`` for every type
    ``g`` of the graph at least as static as an entry's result (``refined`` remembers those added)."""
    acts = []
    for k, opid, pid, ins, out in entries:
        acts.append(("set", f"ty{k}", tuple(("int", x) for x in (opid, pid, *ins)), out))
        if is_float_type(out):
            acts.append(("call", "float_ty", (("int", out),)))
        for g in graph_types:
            if (g, out) not in refined and refines(g, out):
                refined.add((g, out))
                acts.append(("call", "refines", (("int", g), ("int", out))))
    return acts


def fact_actions(phases, loader) -> list:
    """The type-table facts the compiled rules of ``phases`` need for the loaded graph: the entries
    they request up front, the types of their constants (``cty``) and the float facts."""
    needs = [n for phase in phases for c in phase for n in c.needs]
    entries = prefill_entries(needs, loader.types, loader.params)
    acts = entry_actions(entries, loader.types, loader.refined)
    specs = sorted({c for phase in phases for cr in phase for c in cr.consts})
    for tid in sorted(loader.types | {e[-1] for e in entries}) if specs else ():
        for spec in specs:
            ct = const_type(tid, spec)
            if ct is not None:
                acts.append(("set", "cty", (("int", tid), ("int", spec)), ct))
                if is_float_type(ct):
                    acts.append(("call", "float_ty", (("int", ct),)))
    acts += [("call", "float_ty", (("int", tid),)) for tid in sorted(loader.types) if is_float_type(tid)]
    return acts


def declare_staging(s, loader, clock) -> None:
    """Declare the staging relations of the loaded ops when its rows go through files (once per
    e-graph: not charged to the compile's ``clock``)."""
    if len(loader.rows) >= ROWS_BY_FILE_FROM:
        t = time.perf_counter()
        register_loads(s, loader.opnames)
        clock.extend(time.perf_counter() - t)
