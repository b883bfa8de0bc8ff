"""What an optimizer cache key covers: the input graph's structure (ops, parameters, static types,
constant values — not the identity of its variables), the rules, the budget, the cost model, the
unknown-dimension size and eqtensor's own source (see :mod:`eqtensor.egraph.cache`).

>>> from eqtensor import tensor as pt
>>> x, y = pt.dvector("x"), pt.dvector("y")
>>> structure(*leaves_and_nodes([pt.exp(x) + 1])) == structure(*leaves_and_nodes([pt.exp(y) + 1]))
True
>>> structure(*leaves_and_nodes([pt.exp(x) + 1])) == structure(*leaves_and_nodes([pt.exp(x) + 2]))
False
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..core.config import config
from ..core.graph import Constant
from ..core.traversal import toposort
from .cache_codec import Uncacheable
from .extract import CostModel

#: format of a stored entry; part of the key
FORMAT = 2

_source_hash: str | None = None
_rule_keys: dict = {}

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
        package = Path(__file__).resolve().parents[1]
        for p in sorted(package.rglob("*.py")):
            h.update(str(p.relative_to(package.parent)).encode())
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


def digest(leaves, nodes, outputs, schedule, budget, model) -> str:
    """The hash of everything an optimization's result depends on (raises :class:`Uncacheable`)."""
    phases = [(tuple(_rule_key(r) for r in rs.rules), n, sat) for rs, n, sat in schedule.phases]
    text = "\n".join([f"format {FORMAT}", _eqtensor_source(), repr(phases), repr(budget), _model_key(model),
                      f"unknown_dim_size {config.unknown_dim_size}", structure(leaves, nodes, outputs)])
    return hashlib.sha256(text.encode()).hexdigest()
