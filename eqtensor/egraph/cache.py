"""The optimizer's cache: the result of an e-graph run, remembered by the input graph's structure.

Saturation and extraction are deterministic functions of the input graph's *structure* (ops,
parameters, static types, constant values — not the identity of its variables), of the rules, the
budget, the cost model and eqtensor's own source. A run that finished within its iteration and e-node
budgets (not its wall-time budget, which is not reproducible) is stored as a *recipe*: the optimized
graph's nodes in terms of the input graph's leaves. Compiling a graph of the same structure again —
in this process (memory) or a later one (``config.cache_dir``/``optimizer``) — replays the recipe over
the new graph's leaves instead of running the e-graph, and the report says so. A replay reuses the
nodes of the new graph that a step equals (same op, same inputs), as the e-graph's extraction does:
the graph is the same from the cache as from the e-graph, and so is the key of any graph built on
it (a gradient's). Set ``config.optimizer_cache = False`` to always run the e-graph.

Graphs whose op parameters are not plain data (e.g. ``scan``'s inner graphs), custom cost models
other than :class:`~eqtensor.egraph.extract.CostModel` with plain attributes, and runs kept for
rendering (``keep_egraph``) are not cached.

The hash of eqtensor's source in every key is remembered in
``<cache_dir>/optimizer/source-<stamp>.txt`` (see :func:`~eqtensor.egraph.cache_key._eqtensor_source`).

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

The key is computed in :mod:`~eqtensor.egraph.cache_key`, entries are encoded and checked in
:mod:`~eqtensor.egraph.cache_codec`, and the directory is handled by :mod:`~eqtensor.egraph.cache_files`;
this module holds the recipes (made, replayed), the memory and the lookups.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict

from ..core.cachedir import Unusable
from ..core.config import config
from ..core.graph import Constant
from ..core.locks import ForkSafeLock
from ..core.traversal import toposort
from ..core.op import OPS, Op
from .cache_codec import Damaged, Uncacheable, decode_entry, encode_entry
from .cache_files import MAX_ENTRY_BYTES, Foreign, cache_root, read_entry, remove, writable, write_atomic
from .cache_key import digest

#: recipes kept in memory (least recently used dropped first)
MEMORY_ENTRIES = 512
_EXPECTED_ENTRIES = 4096

_memory: OrderedDict = OrderedDict()
_expected: OrderedDict = OrderedDict()  # key -> output types of the graph it was computed for
_lock = ForkSafeLock()
_warned: set[str] = set()
_tls = threading.local()


def key(leaves, nodes, outputs, schedule, budget, model) -> str:
    """The cache key of an optimization (:func:`~.cache_key.digest`; raises :class:`Uncacheable`), remembering
    the output types a replay under it must produce."""
    k = digest(leaves, nodes, outputs, schedule, budget, model)
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


def _ref(v):
    """What identifies ``v`` as an input of a node being replayed: its identity, or a constant's value."""
    return ("c", v.signature()) if isinstance(v, Constant) else id(v)


def _originals(nodes) -> dict:
    """``{(op key, input refs): output}`` of the input graph's ``nodes`` (the last of equal nodes)."""
    return {(n.op.key, tuple(_ref(i) for i in n.inputs)): n.out for n in nodes}


def replay(entry, leaves, nodes=()):
    """The outputs of a stored recipe rebuilt over ``leaves``; a step equal to one of the input graph's
    ``nodes`` (same op, same inputs) is that node, as the e-graph's extraction reuses the unchanged
    parts of its input (so the graph is the same whether it comes from the e-graph or the cache, and
    so is the key of any graph built on it). A recipe that does not rebuild (an index out of range, a
    node its op's type rule refuses, outputs of other types than the graph's) is removed from the
    cache, counted as damaged (:func:`last_lookup`) and raises :class:`Damaged`."""
    (steps, outs), k = entry[0], (entry[2] if len(entry) > 2 else None)
    originals = _originals(nodes)
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
                op, ins = Op(OPS[s[1]], s[2]), [vals[j] for j in s[3]]
                orig = originals.get((op.key, tuple(_ref(i) for i in ins)))
                vals.append(orig if orig is not None else op(*ins))
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
        root = cache_root(create=False)
    except (Unusable, OSError):
        return
    remove(os.path.join(root, f"{k}.json"))


def _warn(reason: str):
    where = os.path.abspath(config.cache_dir)
    with _lock:
        if where in _warned:
            return
        _warned.add(where)
    warnings.warn(f"eqtensor: optimizer cache {where!r} unusable ({reason}); keeping optimization results "
                  "in memory only for this process", RuntimeWarning, stacklevel=4)


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
        root = cache_root(create=False)
    except FileNotFoundError:
        return None, None
    except Unusable as e:
        _note(f"optimizer cache not used: {e}")
        return None, None
    if not writable(root):
        _note(f"optimizer cache directory {root} is not writable: results are kept in memory only")
    path = os.path.join(root, f"{k}.json")
    ino = None
    try:
        got = read_entry(path)
        if got is None:
            return None, None
        data, ino = got
        entry = decode_entry(k, data)
    except Foreign as e:
        _note(f"optimizer cache entry {k[:16]}… belongs to another user (uid {e.args[0]}): not loaded")
        return None, None
    except Damaged as e:
        remove(path, ino)
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
        data = encode_entry(k, entry)
    except (Uncacheable, TypeError, ValueError):  # a parameter JSON cannot hold: memory only
        return
    if len(data) > MAX_ENTRY_BYTES:
        return
    try:
        write_atomic(cache_root(create=True), f"{k}.json", data)
    except Unusable as e:
        _warn(str(e))
    except OSError as e:
        _warn(f"cannot write to it: {e.strerror or e}")


def clear_memory() -> None:
    """Forget the recipes held in memory (the disk entries stay)."""
    with _lock:
        _memory.clear()
