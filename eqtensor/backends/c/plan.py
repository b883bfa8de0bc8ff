"""Unit planning: how each node of a schedule is generated, and which nodes one C function computes.

:func:`classify` gives each node its mode (a fused elementwise loop, a reduction, a row op, a
scatter, the indexing runtime, a structural op or a NumPy fallback); :func:`plan_units` fuses
elementwise chains into each other and into reductions, row ops and scatters, and recomputes cheap
values in each loop reading them (:func:`_recompute_cheap`). Each resulting *unit* becomes one C
function of the generated module (:mod:`eqtensor.backends.c.codegen`).

>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> e = pt.exp(x) + 1
>>> plan = plan_units([e.owner.inputs[0].owner, e.owner], [e])
>>> plan.units, [plan.mode[u] for u in plan.units], len(plan.members[1])
([1], ['elem'], 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ...core.op import OPS
from ..fusion import fusion_groups
from . import indexing as IX
from . import kernels as K
from . import rows as R
from .scan_loop import LOOP_OPS, loop_ok
from .structural import STRUCTURAL, struct_ok


def elem_compute(node):
    """(compute dtype, template) when the elementwise node has a C kernel, else None."""
    return _elem_compute(node.op.name, tuple(i.dtype for i in node.inputs), node.out.dtype)


@lru_cache(maxsize=None)
def _elem_compute(name: str, in_dtypes: tuple, out_dtype: str):
    """:func:`elem_compute` of an op ``name`` over inputs of ``in_dtypes`` (big graphs ask for the
    same few combinations tens of thousands of times)."""
    kern = K.ELEMWISE.get(name)
    if kern is None or any(d not in K.C_TYPES for d in (*in_dtypes, out_dtype)):
        return None
    if kern.compute == "common":
        comp = np.result_type(*[np.dtype(d) for d in in_dtypes]).name
        if comp not in K.C_TYPES:
            return None
    elif kern.compute == "own":
        comp = in_dtypes[0] if name in ("isnan", "isinf") else out_dtype
    else:
        comp = out_dtype
    tpl = kern.templates.get(K.kind(comp))
    return None if tpl is None else (comp, tpl)


def reduce_ok(node) -> bool:
    """True when the reduction has a C kernel for its dtypes."""
    spec = K.REDUCE.get(node.op.name)
    dts = (node.inputs[0].dtype, node.out.dtype)
    return spec is not None and all(d in K.C_TYPES for d in dts) and K.kind(node.out.dtype) in spec[0]


def alloc_fusible(node) -> bool:
    """``alloc(value, *dims)`` as an elementwise op of the loops (the value broadcast to the loop):
    native dtypes, integer dims."""
    return node.op.name == "alloc" and node.out.dtype in K.C_TYPES and node.inputs[0].dtype == node.out.dtype \
        and STRUCTURAL["alloc"].ok(node)


def classify(node) -> str:
    """How a node is generated: ``elem`` (in a fused elementwise loop: elementwise ops, the gather
    ``x[idx]`` of a vector, ``alloc``), ``reduce``, ``rows`` (softmax, log_softmax, argmax, argmin:
    :mod:`~eqtensor.backends.c.rows`), ``scatter`` (``set/inc_subtensor`` of a vector by one index
    array: a loop kernel), ``index`` (other advanced indexing on adjacent integer arrays: the
    runtime's ``eq_adv``), ``struct`` (an entry of
    :data:`~eqtensor.backends.c.structural.STRUCTURAL`) or ``fallback`` (NumPy)."""
    kind = node.op.defn.kind
    if kind == "elemwise" and elem_compute(node) is not None:
        return "elem"
    if IX.gather1_ok(node) or alloc_fusible(node):
        return "elem"
    if kind == "reduce" and reduce_ok(node):
        return "reduce"
    if R.rows_ok(node):
        return "rows"
    if IX.scatter1_ok(node):
        return "scatter"
    if IX.adv_layout(node) is not None:
        return "index"
    if struct_ok(node):
        return "struct"
    if node.op.name in LOOP_OPS and loop_ok(node):
        return "scan"
    return "fallback"


def loop_positions(node, mode: str) -> tuple:
    """The input positions a unit of ``mode`` rooted at (or computing) ``node`` reads elementwise in
    its loop — where a fused producer may be computed — as opposed to the table of a gather, the
    array a scatter copies, the value and dims of an alloc (read by the unit's glue)."""
    name = node.op.name
    if mode == "elem" and name == "advanced_subtensor":
        return (1,)
    if mode == "elem" and name == "alloc":
        return ()
    if mode == "scatter":
        return (1, 2)
    if mode in ("index", "struct", "scan", "fallback"):
        return ()
    return tuple(range(len(node.inputs)))


def is_literal(v) -> bool:
    return hasattr(v, "data") and v.owner is None and v.data.size == 1 and v.dtype in K.C_TYPES \
        and not hasattr(v, "container")


def _alloc_blocks_scatter(ms) -> bool:
    """A group holding an alloc of a non-literal value is not computed inside a scatter's loop (the
    value's broadcast view would have to follow the index shape too)."""
    return any(m.op.name == "alloc" and not is_literal(m.inputs[0]) for m in ms)


@dataclass
class Plan:
    """A schedule's nodes grouped into *units*, each generated as one C function.

    ``units``: the node index of each unit's root, in order; ``members[u]``: the nodes of unit
    ``u`` (its fused producers, then the root); ``mode[k]``: how node ``k`` is generated
    (:func:`classify`); ``reads[u]``: the variables unit ``u`` reads; ``last[id(v)]``: the position
    of the last unit reading ``v``; ``siblings[u]``: further reductions a reduction unit computes in
    the same pass over its input (:func:`_merge_sibling_reductions`; they are among ``members[u]``)."""

    units: list
    members: dict
    mode: dict
    reads: dict
    last: dict
    siblings: dict = field(default_factory=dict)


def plan_units(nodes, outputs) -> Plan:
    """Classify the nodes and fuse elementwise chains (into each other and into reductions)."""
    mode = {k: classify(node) for k, node in enumerate(nodes)}
    idx = {id(n): k for k, n in enumerate(nodes)}
    def absorbs(n):
        m = mode[idx[id(n)]]
        return (m == "reduce" and n.op.name != "logsumexp") or m in ("rows", "scatter")

    groups = fusion_groups(nodes, outputs, lambda n: mode[idx[id(n)]] == "elem", absorbs,
                           lambda n, pos: pos in loop_positions(n, mode[idx[id(n)]]))
    members: dict[int, list] = {}
    for k, node in enumerate(nodes):
        members.setdefault(groups[k], []).append(node)
    for u, ms in list(members.items()):
        # a scatter broadcasts its value's leaves to the index shape; an alloc's loop length would
        # not follow: such a group is not fused
        if mode[u] == "scatter" and _alloc_blocks_scatter(ms[:-1]):
            for m in ms[:-1]:
                k = idx[id(m)]
                groups[k] = k
                members[k] = [m]
            members[u] = [ms[-1]]
    dissolved = _recompute_cheap(nodes, outputs, mode, members, idx)
    units = [k for k in range(len(nodes)) if groups[k] == k and k not in dissolved]
    siblings = _merge_sibling_reductions(nodes, mode, members, units, idx)
    reads: dict[int, list] = {}
    for u in units:
        produced = {id(m.out) for m in members[u]}
        reads[u] = [i for m in members[u] for i in m.inputs if id(i) not in produced]
    last = {id(i): pos for pos, u in enumerate(units) for i in reads[u]}
    return Plan(units, members, mode, reads, last, siblings)


#: reductions computed several in one pass (their combine is an OpenMP reduction clause)
SIBLING_OPS = ("sum", "prod")


def _loop_leaves(ms, root) -> dict:
    """The variables (id -> variable) a reduction unit's loop reads: its members' loop inputs not
    produced inside, and the reduced value itself when no member produces it."""
    produced = {id(m.out) for m in ms}
    leaves = {id(i): i for m in ms if m is not root for pos, i in enumerate(m.inputs)
              if id(i) not in produced and pos in loop_positions(m, "elem")}
    if id(root.inputs[0]) not in produced:
        leaves[id(root.inputs[0])] = root.inputs[0]
    return leaves


def _sibling_key(node, mode_k):
    """What must match for two reductions to share a pass: the reduced value's static shape and the
    axes (the accumulators' layout; keepdims only adds length-1 axes to an output)."""
    if mode_k != "reduce" or node.op.name not in SIBLING_OPS:
        return None
    axis = node.op.params["axis"]
    return node.inputs[0].type.shape, None if axis is None else tuple(sorted(axis))


def _merge_sibling_reductions(nodes, mode, members, units, idx) -> dict:
    """Multi-output fusion: two sum/prod units share one pass when both reduce values of one static
    shape over the same axes and their loops read a common variable of that full shape (so their
    run-time loop shapes are equal): the earlier one moves down into the later one when no unit
    between them (nor the later one) reads its result, else the later one moves up into the earlier
    one when everything it reads is computed before that. Updates ``units`` and ``members``;
    returns ``siblings``: unit -> the further reductions it computes."""
    siblings: dict = {}
    readers: dict = {}  # id(variable) -> positions of the units reading it
    where: dict = {}    # id(variable) -> position of the unit computing it
    for pos, u in enumerate(units):
        for m in members[u]:
            where[id(m.out)] = min(where.get(id(m.out), pos), pos)
            for i in m.inputs:
                readers.setdefault(id(i), set()).add(pos)
    merged: set = set()
    for pb, b in enumerate(units):
        if _sibling_key(nodes[b], mode[b]) is None:  # not a reduction that can share a pass
            continue
        for pa in range(pb):
            a = units[pa]
            if a in merged or b in merged or not _siblings_ok(nodes, mode, members, a, b):
                continue
            if not any(pa < r <= pb for n in [nodes[a], *siblings.get(a, [])] for r in readers.get(id(n.out), ())):
                into, other, pos = b, a, pb      # a moves down to b
            elif all(where.get(id(i), -1) < pa for i in _unit_reads(members[b])):
                into, other, pos = a, b, pa      # b moves up to a
            else:
                continue
            for m in members[other]:
                where[id(m.out)] = pos
                for i in m.inputs:
                    readers.setdefault(id(i), set()).add(pos)
            have = {id(m) for m in members[into]}
            rest = [m for m in members[into] + [m for m in members[other] if id(m) not in have] if m is not nodes[into]]
            members[into] = sorted(rest, key=lambda m: idx[id(m)]) + [nodes[into]]  # the root stays last
            siblings[into] = siblings.get(into, []) + [nodes[other], *siblings.pop(other, [])]
            merged.add(other)
    units[:] = [u for u in units if u not in merged]
    return siblings


def _unit_reads(ms) -> list:
    produced = {id(m.out) for m in ms}
    return [i for m in ms for i in m.inputs if id(i) not in produced]


def _siblings_ok(nodes, mode, members, a, b) -> bool:
    """Units ``a`` and ``b`` reduce alike (:func:`_sibling_key`), read a common variable of the
    reduced values' full shape, and stay within the fused group size together."""
    key = _sibling_key(nodes[b], mode[b])
    if key is None or _sibling_key(nodes[a], mode[a]) != key \
            or len(members[a]) + len(members[b]) > RECOMPUTE_MAX_NODES:
        return False
    leaves_b = _loop_leaves(members[b], nodes[b])
    return any(v.type.shape == key[0] for k, v in _loop_leaves(members[a], nodes[a]).items() if k in leaves_b)


def _one_sibling_pass(nodes, mode, members, idx, targets, ms) -> bool:
    """The groups ``targets`` reading the value of group ``ms`` are sum/prod reductions of its full
    shape over the same axes (:func:`_sibling_key`), small enough together, reading nothing computed
    after the first of them: :func:`_merge_sibling_reductions` computes them in one pass, so the
    value fused into them is computed once, whatever its cost (a Gaussian mixture's gradient: the
    (N, K) value two column sums read, and a third sum beside them, in one pass instead of three)."""
    keys = {_sibling_key(nodes[r], mode[r]) for r in targets}
    if len(targets) < 2 or len(keys) != 1 or None in keys or next(iter(keys))[0] != ms[-1].out.type.shape \
            or sum(len(members[r]) for r in targets) + len(ms) > RECOMPUTE_MAX_NODES:
        return False
    first = min(targets)
    return all(i.owner is None or idx.get(id(i.owner), first) < first
               for r in targets for i in _unit_reads(members[r]))


#: a materialized elementwise value is recomputed in each of its consumers' loops instead when its
#: fused group costs at most this much arithmetic per element (the ops' ``cost``: add/mul 1, exp 10)
RECOMPUTE_COST = 12
#: and the consumers' groups stay below this many nodes
RECOMPUTE_MAX_NODES = 64


def _recompute_cheap(nodes, outputs, mode, members, idx) -> set:
    """Dissolve cheap elementwise groups read by several loops into each reader: a value (not an
    output) whose group costs at most :data:`RECOMPUTE_COST` per element and whose every consumer
    computes it in a loop (an elementwise node of its shape, or a reduction/row op/scatter at a loop
    input) is recomputed there instead of being written and read back, when the reads of its leaves
    cost no more memory traffic than materializing it: ``L (k - 1) <= k + 1`` for ``L`` full-size
    leaves read by ``k`` consumer loops. A costlier value is dissolved too when its readers will
    share one pass (:func:`_one_sibling_pass`; ``k`` is then 1). Processed producers first, so chains dissolve in turn.
    Updates ``members`` (a node may now belong to several groups); returns the dissolved roots."""
    out_ids = {id(o) for o in outputs}
    group_of = {id(m): u for u, ms in members.items() for m in ms}
    readers: dict[int, list] = {}
    for c in nodes:
        for pos, i in enumerate(c.inputs):
            readers.setdefault(id(i), []).append((c, pos))
    dissolved: set = set()
    for u in sorted(members):
        ms = members[u]
        p = ms[-1]
        if mode[u] != "elem" or id(p.out) in out_ids or u in dissolved or idx.get(id(p)) != u:
            continue
        targets, ok = set(), True
        for c, pos in readers.get(id(p.out), []):
            r = group_of.get(id(c))
            rm = mode[r] if r is not None else None
            if r is None or r in dissolved or pos not in loop_positions(c, rm if c is members[r][-1] else "elem"):
                ok = False
            elif c is not members[r][-1] or rm == "elem":
                ok = ok and c.out.type.shape == p.out.type.shape and (rm != "scatter" or not _alloc_blocks_scatter(ms))
            else:
                ok = ok and rm in ("reduce", "rows", "scatter") and (rm != "scatter" or not _alloc_blocks_scatter(ms)) \
                    and (rm != "reduce" or c.op.name != "logsumexp")
            targets.add(r)
        if not ok or not targets or any(len(members[r]) + len(ms) > RECOMPUTE_MAX_NODES for r in targets):
            continue
        shared = _one_sibling_pass(nodes, mode, members, idx, targets, ms)
        if sum(OPS[m.op.name].cost for m in ms) > RECOMPUTE_COST and not shared:
            continue
        produced = {id(m.out) for m in ms}
        full = {id(i) for m in ms for pos, i in enumerate(m.inputs) if id(i) not in produced
                and pos in loop_positions(m, "elem") and not is_literal(i) and i.type.shape == p.out.type.shape}
        k = 1 if shared else len(targets)
        if len(full) * (k - 1) > k + 1:
            continue
        for r in targets:
            have = {id(m) for m in members[r]}
            members[r] = sorted(members[r] + [m for m in ms if id(m) not in have], key=lambda m: idx[id(m)])
        dissolved.add(u)
    return dissolved
