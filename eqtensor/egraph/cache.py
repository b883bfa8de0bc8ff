"""The optimizer's cache: the result of an e-graph run, remembered by the input graph's structure.

Saturation and extraction are deterministic functions of the input graph's *structure* (ops,
parameters, static types, constant values — not the identity of its variables), of the rules, the
budget, the cost model and eqtensor's own source. A run that finished within its iteration and e-node
budgets (not its wall-time budget, which is not reproducible) is stored as a *recipe*: the optimized
graph's nodes in terms of the input graph's leaves. Compiling a graph of the same structure again —
in this process (memory) or a later one (``config.cache_dir``/``optimizer``) — replays the recipe over
the new graph's leaves instead of running the e-graph, and the report says so. Set
``config.optimizer_cache = False`` to always run the e-graph.

Graphs whose op parameters are not plain data (e.g. ``scan``'s inner graphs), custom cost models
other than :class:`~eqtensor.egraph.extract.CostModel` with plain attributes, and runs kept for
rendering (``keep_egraph``) are not cached.

>>> from eqtensor import tensor as pt
>>> x, y = pt.dvector("x"), pt.dvector("y")
>>> structure(*leaves_and_nodes([pt.exp(x) + 1])) == structure(*leaves_and_nodes([pt.exp(y) + 1]))
True
>>> structure(*leaves_and_nodes([pt.exp(x) + 1])) == structure(*leaves_and_nodes([pt.exp(x) + 2]))
False
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..core.config import config
from ..core.graph import Constant, toposort
from ..core.op import OPS, Op
from .extract import CostModel

#: recipes kept in memory (least recently used dropped first)
MEMORY_ENTRIES = 512
#: format of a stored entry; part of the key
FORMAT = 1

_memory: OrderedDict = OrderedDict()
_source_hash: str | None = None
_rule_keys: dict = {}


class Uncacheable(Exception):
    """The graph, rules or cost model cannot be described by a stable key."""


_PLAIN = (int, float, bool, str, bytes, type(None), np.integer, np.floating, np.bool_)


def _plain(v) -> bool:
    if isinstance(v, _PLAIN):
        return True
    if isinstance(v, (tuple, list, frozenset)):
        return all(_plain(x) for x in v)
    if isinstance(v, slice):
        return _plain((v.start, v.stop, v.step))
    return isinstance(v, np.dtype)


def leaves_and_nodes(outputs):
    """The leaves (in first-use order) and apply nodes (topological order) of ``outputs``."""
    nodes = toposort(outputs)
    leaves, seen = [], set()
    for v in [i for n in nodes for i in n.inputs] + list(outputs):
        if v.owner is None and id(v) not in seen:
            seen.add(id(v))
            leaves.append(v)
    return leaves, nodes, list(outputs)


def _leaf_key(v):
    t = (v.type.dtype, v.type.shape)
    if isinstance(v, Constant):
        return ("const", t, hashlib.sha1(np.ascontiguousarray(v.data).tobytes()).hexdigest(), v.weak)
    return (type(v).__name__, t, v.tag.get("pattern"))


def structure(leaves, nodes, outputs) -> str:
    """A canonical text of a graph's structure (raises :class:`Uncacheable`)."""
    ref = {id(v): f"L{k}" for k, v in enumerate(leaves)}
    parts = [repr(_leaf_key(v)) for v in leaves]
    for k, n in enumerate(nodes):
        if not _plain(n.op.key):
            raise Uncacheable(f"op {n.op.name} has parameters that are not plain data")
        ref[id(n.out)] = f"N{k}"
        parts.append(f"{n.op.key!r}({','.join(ref[id(i)] for i in n.inputs)})")
    parts.append("->" + ",".join(ref[id(o)] for o in outputs))
    return "\n".join(parts)


def _eqtensor_source() -> str:
    """A hash of eqtensor's own Python source (op type rules, rules, optimizer): a changed library
    never reuses recipes of another version."""
    global _source_hash
    if _source_hash is None:
        h = hashlib.sha256()
        root = Path(__file__).resolve().parents[2]
        for p in sorted(root.rglob("*.py")):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
        try:
            from importlib.metadata import version

            h.update(version("egglog").encode())
        except Exception:  # noqa: BLE001  (egglog's version only refines the key)
            pass
        _source_hash = h.hexdigest()
    return _source_hash


def _rule_key(rule) -> str:
    key = _rule_keys.get(rule)
    if key is None:
        pat = structure(*leaves_and_nodes([rule.pattern, rule.replacement]))
        extra = (rule.name, tuple(g.describe() for g in rule.when), rule.assumption_text(), rule.exact,
                 rule.stabilizes, tuple(rule.dtypes))
        key = _rule_keys.setdefault(rule, hashlib.sha1(f"{pat}\n{extra!r}".encode()).hexdigest())
    return key


def _model_key(model) -> str:

    if type(model) is not CostModel or not _plain(tuple(sorted(vars(model).items()))):
        raise Uncacheable("custom cost model")
    return repr(sorted(vars(model).items()))


def key(leaves, nodes, outputs, schedule, budget, model) -> str:
    """The cache key of an optimization (raises :class:`Uncacheable`)."""
    phases = [(tuple(_rule_key(r) for r in rs.rules), n, sat) for rs, n, sat in schedule.phases]
    text = "\n".join([f"format {FORMAT}", _eqtensor_source(), repr(phases), repr(budget), _model_key(model),
                      f"unknown_dim_size {config.unknown_dim_size}", structure(leaves, nodes, outputs)])
    return hashlib.sha256(text.encode()).hexdigest()


def recipe(leaves, new_outputs):
    """The optimized graph as steps over the input's leaves: ``("leaf", k)``, ``("const", array,
    weak)`` or ``("op", op name, params, input step numbers)``; plus the output step numbers."""
    index = {id(v): k for k, v in enumerate(leaves)}
    steps, step_of = [], {}

    def leaf(v):
        if id(v) in index:
            steps.append(("leaf", index[id(v)]))
        elif isinstance(v, Constant):
            steps.append(("const", v.data, v.weak))
        else:
            raise Uncacheable("the optimized graph has a leaf the input graph does not")
        step_of[id(v)] = len(steps) - 1

    for n in toposort(new_outputs):
        for i in n.inputs:
            if i.owner is None and id(i) not in step_of:
                leaf(i)
        steps.append(("op", n.op.name, dict(n.op.params), tuple(step_of[id(i)] for i in n.inputs)))
        step_of[id(n.out)] = len(steps) - 1
    for o in new_outputs:
        if id(o) not in step_of:
            leaf(o)
    return steps, [step_of[id(o)] for o in new_outputs]


def replay(entry, leaves):
    """The outputs of a stored recipe rebuilt over ``leaves``."""
    (steps, outs), _ = entry
    vals = []
    for s in steps:
        if s[0] == "leaf":
            vals.append(leaves[s[1]])
        elif s[0] == "const":
            vals.append(Constant(s[1], weak=s[2]))
        else:
            vals.append(Op(OPS[s[1]], s[2])(*[vals[k] for k in s[3]]))
    return [vals[k] for k in outs]


def _path(k: str) -> Path:
    return Path(config.cache_dir) / "optimizer" / k[:2] / f"{k}.pkl"


def lookup(k: str):
    """``(entry, where)`` for key ``k`` (``where`` is ``"memory"`` or ``"disk"``), or ``(None, None)``."""
    entry = _memory.get(k)
    if entry is not None:
        _memory.move_to_end(k)
        return entry, "memory"
    p = _path(k)
    try:
        with open(p, "rb") as fh:
            entry = pickle.load(fh)
        (steps, _), summary = entry
        if not isinstance(steps, list) or not isinstance(summary, dict):
            raise ValueError("malformed entry")
    except FileNotFoundError:
        return None, None
    except Exception:  # noqa: BLE001  (a truncated or corrupt entry: drop it, optimize again)
        try:
            p.unlink()
        except OSError:
            pass
        return None, None
    _remember(k, entry)
    return entry, "disk"


def _remember(k, entry):
    _memory[k] = entry
    while len(_memory) > MEMORY_ENTRIES:
        _memory.popitem(last=False)


def store(k: str, entry) -> None:
    """Keep ``entry`` in memory and write it to disk atomically (a failed write is ignored)."""
    try:
        data = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001  (a parameter pickle cannot store: keep it in memory only)
        _remember(k, entry)
        return
    _remember(k, entry)
    p = _path(k)
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except OSError:  # a read-only or full cache directory: the memory entry still serves
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def clear_memory() -> None:
    """Forget the recipes held in memory (the disk entries stay)."""
    _memory.clear()
