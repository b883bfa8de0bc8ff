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
import importlib.util
import os
import re
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..core.config import config
from ..core.graph import Constant
from ..core.traversal import toposort
from ..core.cachedir import Unusable
from .cache_codec import Damaged, Uncacheable
from .cache_files import Foreign, cache_root, read_entry, write_atomic
from .extract import CostModel

#: format of a stored entry; part of the key
FORMAT = 2

_source_hash: str | None = None
_SOURCE_LINE = re.compile(rb"([0-9a-f]{64}) ([0-9a-f]{64})\n")
_rule_keys: dict = {}
_plain_keys: dict = {}  # op key -> whether it is plain data

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


def _plain_op(key) -> bool:
    """``_plain(key)`` of an op's key, remembered for hashable keys (op keys repeat)."""
    try:
        known = _plain_keys.get(key)
    except TypeError:  # unhashable, so not plain data
        return False
    if known is None:
        known = _plain_keys[key] = _plain(key)
    return known


def structure(leaves, nodes, outputs) -> str:
    """A canonical text of a graph's structure (raises :class:`Uncacheable`)."""
    ref = {id(v): f"L{k}" for k, v in enumerate(leaves)}
    parts = [repr(_leaf_key(v)) for v in leaves]
    for k, n in enumerate(nodes):
        if not _plain_op(n.op.key):
            raise Uncacheable(f"op {n.op.name} has parameters that are not plain data")
        ref[id(n.out)] = f"N{k}"
        parts.append(f"{n.op.key!r}({','.join(ref[id(i)] for i in n.inputs)})")
    parts.append("->" + ",".join(ref[id(o)] for o in outputs))
    return "\n".join(parts)


def _source_files(package: Path) -> list:
    """``(relative path, path, stat identity)`` of eqtensor's Python files, sorted, and of egglog's
    ``__init__`` (standing for the installed egglog)."""
    out, dirs = [], [(str(package), package.name)]
    while dirs:
        path, rel = dirs.pop()
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name, reverse=True)
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if e.name != "__pycache__":
                    dirs.append((e.path, f"{rel}/{e.name}"))
            elif e.name.endswith(".py"):
                st = e.stat()
                out.append((f"{rel}/{e.name}", e.path, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)))
    out.sort()
    spec = importlib.util.find_spec("egglog")
    if spec is not None and spec.origin:
        st = os.stat(spec.origin)
        out.append(("egglog", spec.origin, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)))
    return out


def _content_hash(files) -> str:
    h = hashlib.sha256()
    for rel, path, _ in files:
        if rel != "egglog":
            h.update(rel.encode())
            h.update(Path(path).read_bytes())
    try:
        h.update(version("egglog").encode())
    except Exception:  # noqa: BLE001  (egglog's version only refines the key)
        pass
    return h.hexdigest()


def _eqtensor_source() -> str:
    """A hash of eqtensor's own Python source (op type rules, rules, optimizer) and egglog's version:
    a changed library never reuses recipes of another version. Reading and hashing the source costs
    every process ~10 ms, so the hash is remembered under ``<cache_dir>/optimizer`` in a file named by
    the files' identities (paths, inodes, sizes, modification times): any change to a file names
    another one."""
    global _source_hash
    if _source_hash is None:
        files = _source_files(Path(__file__).resolve().parents[1])
        stamp = hashlib.sha256(repr([(rel, ident) for rel, _, ident in files]).encode()).hexdigest()[:32]
        name = f"source-{stamp}.txt"
        _source_hash = _remembered(name)
        if _source_hash is None:
            _source_hash = _content_hash(files)
            _remember(name, _source_hash)
    return _source_hash


def _remembered(name: str) -> str | None:
    """The source hash in the file ``name`` of the optimizer cache (the hash and its SHA-256 on one
    line), or None (absent, damaged, someone else's, an unusable directory)."""
    try:
        got = read_entry(os.path.join(cache_root(create=False), name))
    except (OSError, Unusable, Damaged, Foreign):
        return None
    m = _SOURCE_LINE.fullmatch(got[0]) if got is not None else None
    if m is None or hashlib.sha256(m.group(1)).hexdigest().encode() != m.group(2):
        return None
    return m.group(1).decode()


def _remember(name: str, value: str) -> None:
    try:
        write_atomic(cache_root(create=True), name,
                     f"{value} {hashlib.sha256(value.encode()).hexdigest()}\n".encode())
    except (OSError, Unusable):
        pass  # the optimizer cache warns about an unusable directory when it stores a recipe


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
