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

**On disk** a recipe is data, never code: one file ``<cache_dir>/optimizer/<key>.json`` holding a
header line ``eqtensor-optimizer-recipe 2 sha256=<hex>`` (SHA-256 of the rest) and a JSON payload:
the key, the steps — ``["leaf", k]``, ``["const", dtype, shape, base64 little-endian bytes, weak]``,
``["op", name, [[param, value], ...], [input steps]]`` —, the output steps and the report summary of
the run. Parameter values use a tagged encoding that keeps their exact Python types (``{"t": [...]}``
a tuple, ``{"f": float.hex}`` a float, ``{"s": [start, stop, step]}`` a slice, ...); a recipe with a
value it cannot encode is kept in memory only.

**Damage** (checksum mismatch, a truncated or unparsable file, an unknown op or parameter, an input
or leaf index out of range, a constant whose bytes do not match its shape, a rebuilt node failing
its op's type rule or an output whose type differs from the graph's) is detected before anything is
used: the entry is removed, the e-graph runs again (and stores a good entry), and the report counts
it (``cache_damaged``, ``cache_note``). A damaged recipe is never replayed.

**Trust model.** The checksum detects damage, not tampering: whoever can write the cache directory
can make eqtensor compile a different (well-typed) graph. So ``cache_dir`` (and missing parents) and
``<cache_dir>/optimizer`` are created owner-only (0o700), an ``optimizer`` directory of yours that
others can write is tightened to 0o700, one owned by another user is not used, and only regular
files owned by the current (effective) user are read (symbolic links, FIFOs and other users'
entries are not). A cache directory that cannot be created or written, or that vanishes, leaves
compiling unaffected: results are kept in memory, with one ``RuntimeWarning`` per process and
directory. Entries are written to a temporary file and renamed into place (atomic on POSIX).

>>> from eqtensor import tensor as pt
>>> x, y = pt.dvector("x"), pt.dvector("y")
>>> structure(*leaves_and_nodes([pt.exp(x) + 1])) == structure(*leaves_and_nodes([pt.exp(y) + 1]))
True
>>> structure(*leaves_and_nodes([pt.exp(x) + 1])) == structure(*leaves_and_nodes([pt.exp(x) + 2]))
False
>>> decode_value(encode_value((1, ("slice", None, -1.5), frozenset({"a"})))) == (1, ("slice", None, -1.5), frozenset({"a"}))
True
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import stat
import tempfile
import threading
import warnings
from collections import OrderedDict
from dataclasses import fields
from pathlib import Path

import numpy as np

from ..core.config import config
from ..core.dtypes import DTYPES
from ..core.graph import Constant, toposort
from ..core.op import OPS, Op
from .extract import CostModel
from .report import IterationStats, OptimizationReport

#: recipes kept in memory (least recently used dropped first)
MEMORY_ENTRIES = 512
#: format of a stored entry; part of the key
FORMAT = 2
#: entries larger than this are neither written nor read
MAX_ENTRY_BYTES = 64 << 20

_HEADER = re.compile(rb"eqtensor-optimizer-recipe 2 sha256=([0-9a-f]{64})")
_EXPECTED_ENTRIES = 4096

_memory: OrderedDict = OrderedDict()
_expected: OrderedDict = OrderedDict()  # key -> output types of the graph it was computed for
_source_hash: str | None = None
_rule_keys: dict = {}
_lock = threading.Lock()
_warned: set[str] = set()
_tls = threading.local()


class Uncacheable(Exception):
    """The graph, rules or cost model cannot be described by a stable key."""


class Damaged(Exception):
    """A stored entry that must not be used."""


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


def key(leaves, nodes, outputs, schedule, budget, model) -> str:
    """The cache key of an optimization (raises :class:`Uncacheable`)."""
    phases = [(tuple(_rule_key(r) for r in rs.rules), n, sat) for rs, n, sat in schedule.phases]
    text = "\n".join([f"format {FORMAT}", _eqtensor_source(), repr(phases), repr(budget), _model_key(model),
                      f"unknown_dim_size {config.unknown_dim_size}", structure(leaves, nodes, outputs)])
    k = hashlib.sha256(text.encode()).hexdigest()
    with _lock:  # what a replay for this key must produce (checked before a recipe is used)
        _expected[k] = tuple((o.type.dtype, o.type.shape) for o in outputs)
        _expected.move_to_end(k)
        while len(_expected) > _EXPECTED_ENTRIES:
            _expected.popitem(last=False)
    return k


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


def _keeps_type(want, new) -> bool:
    """``new`` may stand for an output of type ``want`` = (dtype, shape): same dtype and rank, every
    static length kept."""
    dtype, shape = want
    return new.dtype == dtype and new.ndim == len(shape) and all(
        o is None or n == o for o, n in zip(shape, new.type.shape))


def replay(entry, leaves):
    """The outputs of a stored recipe rebuilt over ``leaves``. A recipe that does not rebuild (an index
    out of range, a node its op's type rule refuses, outputs of other types than the graph's) is
    removed from the cache, counted as damaged (:func:`last_lookup`) and raises :class:`Damaged`."""
    (steps, outs), k = entry[0], (entry[2] if len(entry) > 2 else None)
    try:
        vals = []
        for s in steps:
            if s[0] == "leaf":
                if not 0 <= s[1] < len(leaves):
                    raise Damaged(f"leaf index {s[1]} out of range (the graph has {len(leaves)} leaves)")
                vals.append(leaves[s[1]])
            elif s[0] == "const":
                vals.append(Constant(s[1], weak=s[2]))
            else:
                vals.append(Op(OPS[s[1]], s[2])(*[vals[j] for j in s[3]]))
        new = [vals[j] for j in outs]
        with _lock:
            want = _expected.get(k) if k is not None else None
        if want is not None:
            if len(want) != len(new):
                raise Damaged(f"{len(new)} outputs for a graph of {len(want)}")
            for w, v in zip(want, new):
                if not _keeps_type(w, v):
                    raise Damaged(f"an output of type {v.type} for one of type {w[0]}{w[1]}")
        return new
    except Exception as e:  # noqa: BLE001  (whatever the reason, this recipe is never used)
        why = str(e) if isinstance(e, Damaged) else f"{type(e).__name__}: {e}"
        if k is not None:
            _discard(k, f"recipe does not replay: {why}")
        raise Damaged(why) from e


# --- the report of a lookup ---------------------------------------------------------------------------


def last_lookup() -> tuple[int, str | None]:
    """``(damaged entries, note)`` found by this thread's latest :func:`lookup` and the
    :func:`replay` of what it returned: the number of damaged entries removed, and what went wrong
    (a damaged entry, an entry of another user, an unusable cache directory), if anything."""
    return getattr(_tls, "damaged", 0), getattr(_tls, "note", None)


def _note(text: str, damaged: bool = False):
    if damaged:
        _tls.damaged = getattr(_tls, "damaged", 0) + 1
    _tls.note = text


def _discard(k: str, why: str):
    """Forget entry ``k`` (memory and disk) and count it as damaged."""
    with _lock:
        _memory.pop(k, None)
    _note(f"damaged optimizer cache entry {k[:16]}… removed and recomputed ({why})", damaged=True)
    try:
        root = _root(create=False)
    except (_Unusable, OSError):
        return
    _remove(os.path.join(root, f"{k}.json"))


# --- value encoding -----------------------------------------------------------------------------------

_SCALAR_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                  "float32", "float64"}


def encode_value(v):
    """A JSON-able form of a parameter or report value keeping its exact type (raises
    :class:`Uncacheable` for anything else)."""
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is float:
        return {"f": v.hex()}
    if isinstance(v, np.generic):
        name = v.dtype.name
        if name not in _SCALAR_DTYPES:
            raise Uncacheable(f"a {name} scalar")
        value = bool(v) if name == "bool" else float(v).hex() if v.dtype.kind == "f" else int(v)
        return {"n": [name, value]}
    if type(v) is tuple:
        return {"t": [encode_value(x) for x in v]}
    if type(v) is list:
        return {"l": [encode_value(x) for x in v]}
    if type(v) is frozenset:
        return {"fs": sorted((encode_value(x) for x in v), key=lambda e: json.dumps(e, sort_keys=True))}
    if type(v) is dict:
        return {"d": [[encode_value(a), encode_value(b)] for a, b in v.items()]}
    if type(v) is bytes:
        return {"b": base64.b64encode(v).decode()}
    if type(v) is slice:
        return {"s": [encode_value(v.start), encode_value(v.stop), encode_value(v.step)]}
    if isinstance(v, np.dtype):
        if v.name not in DTYPES:
            raise Uncacheable(f"dtype {v}")
        return {"dt": v.name}
    if type(v) is IterationStats:
        return {"it": [[f.name, encode_value(getattr(v, f.name))] for f in fields(IterationStats)]}
    raise Uncacheable(f"a value of type {type(v).__name__}")


def decode_value(e, depth: int = 0):
    """The value :func:`encode_value` encoded (raises :class:`Damaged` for anything malformed)."""
    if depth > 64:
        raise Damaged("values nested too deeply")
    if e is None or isinstance(e, (bool, str)) or type(e) is int:
        return e
    if type(e) is not dict or len(e) != 1:
        raise Damaged(f"malformed value {str(e)[:60]}")
    (tag, x), = e.items()
    d = depth + 1
    if tag == "f" and type(x) is str:
        return float.fromhex(x)
    if tag == "n" and type(x) is list and len(x) == 2 and x[0] in _SCALAR_DTYPES:
        name, value = x
        if name == "bool" and type(value) is bool:
            return np.bool_(value)
        if name.startswith("float") and type(value) is str:
            return np.dtype(name).type(float.fromhex(value))
        if name[0] in "iu" and type(value) is int:
            info = np.iinfo(name)
            if info.min <= value <= info.max:
                return np.dtype(name).type(value)
    elif tag in ("t", "l", "fs") and type(x) is list:
        items = [decode_value(i, d) for i in x]
        return tuple(items) if tag == "t" else items if tag == "l" else frozenset(items)
    elif tag == "d" and type(x) is list and all(type(p) is list and len(p) == 2 for p in x):
        return {decode_value(a, d): decode_value(b, d) for a, b in x}
    elif tag == "b" and type(x) is str:
        return base64.b64decode(x, validate=True)
    elif tag == "s" and type(x) is list and len(x) == 3:
        return slice(*(decode_value(i, d) for i in x))
    elif tag == "dt" and x in DTYPES:
        return np.dtype(x)
    elif tag == "it" and type(x) is list and all(type(p) is list and len(p) == 2 for p in x):
        values = {name: decode_value(v, d) for name, v in x}
        if set(values) == _ITERATION_FIELDS and len(values) == len(x):
            return IterationStats(**values)
    raise Damaged(f"malformed value {str(e)[:60]}")


_ITERATION_FIELDS = {f.name for f in fields(IterationStats)}


def _int(v, lo: int, hi: int | None = None) -> int:
    if type(v) is not int or v < lo or (hi is not None and v >= hi):
        raise Damaged(f"index {v!r} out of range")
    return v


#: report fields a stored summary may not set (they describe this compile, not the cached run)
_NOT_SUMMARY = {"fallback", "cached", "schedule", "egraph", "times", "cost_before", "cost_after", "nodes_before",
                "nodes_after", "cache_damaged", "cache_note"}
_SUMMARY_FIELDS = {f.name for f in fields(OptimizationReport)} - _NOT_SUMMARY


def _encode_entry(k: str, entry) -> bytes:
    (steps, outs), summary = entry[0], entry[1]
    out_steps = []
    for s in steps:
        if s[0] == "leaf":
            out_steps.append(["leaf", s[1]])
        elif s[0] == "const":
            data = np.ascontiguousarray(s[1])
            if data.dtype.name not in DTYPES:
                raise Uncacheable(f"a constant of dtype {data.dtype}")
            raw = data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
            out_steps.append(["const", data.dtype.name, list(data.shape), base64.b64encode(raw).decode(),
                              bool(s[2])])
        else:
            out_steps.append(["op", s[1], [[name, encode_value(v)] for name, v in s[2].items()], list(s[3])])
    payload = {"key": k, "steps": out_steps, "outputs": list(outs),
               "summary": [[name, encode_value(v)] for name, v in summary.items()]}
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return b"eqtensor-optimizer-recipe 2 sha256=" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _decode_entry(k: str, data: bytes):
    """The entry stored in ``data`` under key ``k`` (raises :class:`Damaged`, never anything else)."""
    try:
        return _decode(k, data)
    except Damaged:
        raise
    except Exception as e:  # noqa: BLE001  (a malformed payload: an unhashable name, a bad number...)
        raise Damaged(f"malformed: {type(e).__name__}: {str(e)[:80]}") from None


def _decode(k: str, data: bytes):
    head, sep, body = data.partition(b"\n")
    m = _HEADER.fullmatch(head)
    if not sep or m is None:
        raise Damaged("not an optimizer cache entry (header)")
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), m.group(1)):
        raise Damaged("checksum mismatch")
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise Damaged(f"unparsable: {e}") from None
    if type(payload) is not dict or set(payload) != {"key", "steps", "outputs", "summary"}:
        raise Damaged("unexpected layout")
    if payload["key"] != k:
        raise Damaged("stored under another key")
    raw_steps, raw_outs, raw_summary = payload["steps"], payload["outputs"], payload["summary"]
    if type(raw_steps) is not list or type(raw_outs) is not list or type(raw_summary) is not list or not raw_outs:
        raise Damaged("unexpected layout")
    steps = []
    for i, s in enumerate(raw_steps):
        if type(s) is not list or not s:
            raise Damaged(f"step {i} malformed")
        if s[0] == "leaf" and len(s) == 2:
            steps.append(("leaf", _int(s[1], 0)))
        elif s[0] == "const" and len(s) == 5:
            steps.append(("const", _decode_array(*s[1:4]), _bool(s[4])))
        elif s[0] == "op" and len(s) == 4 and type(s[1]) is str and type(s[2]) is list and type(s[3]) is list:
            defn = OPS.get(s[1])
            if defn is None:
                raise Damaged(f"step {i}: unknown op {s[1][:40]!r}")
            params = {}
            for p in s[2]:
                if type(p) is not list or len(p) != 2 or p[0] not in defn.params or p[0] in params:
                    raise Damaged(f"step {i}: bad parameter for op {defn.name}")
                params[p[0]] = decode_value(p[1])
            if set(params) != set(defn.params):
                raise Damaged(f"step {i}: missing parameters for op {defn.name}")
            ins = tuple(_int(j, 0, i) for j in s[3])
            if defn.nin is not None and len(ins) != defn.nin:
                raise Damaged(f"step {i}: op {defn.name} with {len(ins)} inputs")
            steps.append(("op", defn.name, params, ins))
        else:
            raise Damaged(f"step {i} malformed")
    outs = [_int(j, 0, len(steps)) for j in raw_outs]
    summary = {}
    for p in raw_summary:
        if type(p) is not list or len(p) != 2 or p[0] not in _SUMMARY_FIELDS:
            raise Damaged("malformed summary")
        summary[p[0]] = decode_value(p[1])
    return (steps, outs), summary, k


def _bool(v) -> bool:
    if type(v) is not bool:
        raise Damaged("malformed flag")
    return v


def _decode_array(dtype, shape, b64):
    if dtype not in DTYPES or type(shape) is not list or len(shape) > 32 or type(b64) is not str:
        raise Damaged("malformed constant")
    shape = tuple(_int(n, 0) for n in shape)
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise Damaged("malformed constant bytes") from None
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise Damaged("constant bytes do not match its shape")
    return np.frombuffer(raw, dtype=dt).reshape(shape).astype(dtype)


# --- the cache directory ------------------------------------------------------------------------------


class _Unusable(Exception):
    """The cache directory cannot be used (the reason is the message)."""


def _owner_only_dirs(path: str):
    """Create ``path`` and its missing parents with mode 0o700 (existing ones are left as they are)."""
    missing = []
    p = path
    while not os.path.lexists(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass


def _root(create: bool) -> str:
    """``<cache_dir>/optimizer``: a directory of this user's that nobody else can write (tightened
    when it is ours), created owner-only with its missing parents when ``create``. Raises
    :class:`_Unusable`, or ``FileNotFoundError`` when it is missing and not ``create``."""
    root = os.path.join(os.path.abspath(config.cache_dir), "optimizer")
    try:
        if create:
            _owner_only_dirs(root)
        st = os.stat(root)
    except FileNotFoundError:
        if create:
            raise _Unusable(f"cannot create {root}: it vanished") from None
        raise
    except OSError as e:
        raise _Unusable(f"cannot {'create' if create else 'use'} {root}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise _Unusable(f"{root} is not a directory")
    if st.st_uid != os.geteuid():
        raise _Unusable(f"{root} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o077:
        try:
            os.chmod(root, 0o700)
        except OSError as e:
            raise _Unusable(f"{root} is open to other users and cannot be made private: {e.strerror}") from None
    return root


def _warn(reason: str):
    where = os.path.abspath(config.cache_dir)
    with _lock:
        if where in _warned:
            return
        _warned.add(where)
    warnings.warn(f"eqtensor: optimizer cache {where!r} unusable ({reason}); keeping optimization results "
                  "in memory only for this process", RuntimeWarning, stacklevel=4)


def _remove(path: str, ino: int | None = None):
    """Remove the entry at ``path`` (only if it is still the file ``ino``, when given)."""
    try:
        st = os.lstat(path)
        if ino is not None and st.st_ino != ino:
            return  # replaced meanwhile (by a process storing a good entry)
        if stat.S_ISDIR(st.st_mode):
            if st.st_uid == os.geteuid():
                shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _read_entry(path: str):
    """``(bytes, inode)`` of the entry file ``path``; None when absent. Raises :class:`Damaged` (not a
    regular file, too large, unreadable) or :class:`_Foreign` (owned by another user)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Damaged("a symbolic link") from None
        raise Damaged(f"unreadable: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise _Foreign(st.st_uid)
        if not stat.S_ISREG(st.st_mode):
            raise Damaged("not a regular file")
        if st.st_size > MAX_ENTRY_BYTES:
            raise Damaged("too large")
        chunks, n = [], 0
        while n <= MAX_ENTRY_BYTES and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            n += len(chunk)
        if n > MAX_ENTRY_BYTES:
            raise Damaged("too large")
        return b"".join(chunks), st.st_ino
    except OSError as e:
        raise Damaged(f"unreadable: {e.strerror}") from None
    finally:
        os.close(fd)


def _writable(path: str) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, os.W_OK | os.X_OK, effective_ids=True)
    return os.access(path, os.W_OK | os.X_OK)


class _Foreign(Exception):
    """An entry owned by another user (its uid is the argument)."""


def lookup(k: str):
    """``(entry, where)`` for key ``k`` (``where`` is ``"memory"`` or ``"disk"``), or ``(None, None)``.
    A damaged disk entry is removed and counted (see :func:`last_lookup`); entries of other users are
    not read."""
    _tls.damaged, _tls.note = 0, None
    with _lock:
        entry = _memory.get(k)
        if entry is not None:
            _memory.move_to_end(k)
    if entry is not None:
        return entry, "memory"
    try:
        root = _root(create=False)
    except FileNotFoundError:
        return None, None
    except _Unusable as e:
        _note(f"optimizer cache not used: {e}")
        return None, None
    if not _writable(root):
        _note(f"optimizer cache directory {root} is not writable: results are kept in memory only")
    path = os.path.join(root, f"{k}.json")
    ino = None
    try:
        got = _read_entry(path)
        if got is None:
            return None, None
        data, ino = got
        entry = _decode_entry(k, data)
    except _Foreign as e:
        _note(f"optimizer cache entry {k[:16]}… belongs to another user (uid {e.args[0]}): not loaded")
        return None, None
    except Damaged as e:
        _remove(path, ino)
        _note(f"damaged optimizer cache entry {k[:16]}… removed and recomputed ({e})", damaged=True)
        return None, None
    _remember(k, entry)
    return entry, "disk"


def _remember(k, entry):
    with _lock:
        _memory[k] = entry
        _memory.move_to_end(k)
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)


def store(k: str, entry) -> None:
    """Keep ``entry`` = ``(recipe, summary)`` in memory and write it to disk atomically. A recipe
    that cannot be encoded stays in memory only; a cache directory that cannot be written gives one
    warning per process and directory."""
    entry = (entry[0], entry[1], k)
    _remember(k, entry)
    try:
        data = _encode_entry(k, entry)
    except (Uncacheable, TypeError, ValueError):  # a parameter JSON cannot hold: memory only
        return
    if len(data) > MAX_ENTRY_BYTES:
        return
    tmp = None
    try:
        root = _root(create=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, os.path.join(root, f"{k}.json"))
        tmp = None
    except _Unusable as e:
        _warn(str(e))
    except OSError as e:
        _warn(f"cannot write to it: {e.strerror or e}")
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def clear_memory() -> None:
    """Forget the recipes held in memory (the disk entries stay)."""
    with _lock:
        _memory.clear()


def _after_fork_in_child():
    global _lock
    _lock = threading.Lock()  # another thread may have held it at fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
