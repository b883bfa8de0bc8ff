"""The graph traced into JAX: each node's lowering applied in schedule order.

:data:`LOWERINGS` maps the op names the backend lowers node by node to ``lower(node, *values)``;
:data:`IN_CONTEXT` the ops the tracer lowers with their context (whether the node runs inside a
branch or a loop, the counts found by probes): an ``ifelse`` group becomes one ``lax.cond`` whose
branches trace the nodes needed only by their side; a ``scan`` becomes ``lax.scan`` or
``lax.while_loop`` (:mod:`.scan`); ``check`` becomes a checkify assertion (:mod:`.checks`);
``unique`` takes its length from a probe (:mod:`.unique`). :data:`NOT_LOWERED` names the ops it
does not lower, each with the reason (a test fails when an op of the op table is in none).
While tracing, a value is either a JAX tracer or a NumPy value known at trace time (constants,
static shapes, static arguments): a node whose inputs are all known is computed with the op's
NumPy ``perform`` (the reference semantics), so shape arithmetic stays exact and static; creation
ops are always lowered (their outputs may be large).
"""

from __future__ import annotations

from collections import ChainMap

import numpy as np

from ...core.graph import Constant
from ...core.op import OPS, runtime_broadcast_checks
from ..branches import branch_at
from . import runtime as rt
from .casts import cast
from .checks import lower_check
from .elemwise import ELEMWISE, REDUCE, by_name, lower_elemwise, lower_reduce, lower_softmax
from .errors import CountNeeded, LoweringError
from .linalg import LINALG
from .random import RANDOM
from .scan import lower_scan
from .special import HOST, lower_host
from .static import STATIC
from .structural import STRUCTURAL
from .unique import lower_unique


class Trace:
    """What one trace knows besides the values: ``counts``, the numbers found by probe calls (the
    steps run by the ``until`` scans whose history is used, :mod:`.scan`; the numbers of ``unique``
    values, :mod:`.unique`) in the order the trace meets them; ``nested``: inside a ``lax.cond``
    branch or a loop body (no probe can stop there)."""

    __slots__ = ("counts", "met", "nested")

    def __init__(self, counts=(), nested=False):
        self.counts, self.met, self.nested = tuple(counts), 0, nested

    def inside(self) -> "Trace":
        return Trace(nested=True)

    def count(self, find, what: str) -> int:
        """The next count the program needs as a static number: from an earlier probe, else this trace
        is a probe and ends (:class:`CountNeeded` with ``find()``, the traced count; ``what`` names it)."""
        j = self.met
        self.met += 1
        if j < len(self.counts):
            return self.counts[j]
        raise CountNeeded(find(), what)


#: op name -> lowering(node, *values)
LOWERINGS = {
    **{name: lower_elemwise for name in ELEMWISE},
    "cast": lower_elemwise,
    "polygamma": lower_elemwise,
    **{name: lower_reduce for name in REDUCE},
    "softmax": lower_softmax,
    "log_softmax": lower_softmax,
    **STRUCTURAL,
    **LINALG,
    **{name: lower_host for name in HOST},
    **RANDOM,
}

#: op name -> why the JAX backend does not lower it (tracing a graph that uses it raises LoweringError)
NOT_LOWERED: dict[str, str] = {}

_NEVER_FOLDED = {"alloc", "arange", "eye", "tri", "print"}


def leaf_value(v):
    if isinstance(v, Constant):
        return v.data
    raise LoweringError(f"the traced graph reads {v}, which is neither an input nor a constant")


def value(env, v):
    return env[id(v)] if id(v) in env else leaf_value(v)


def _check_broadcast(node, values):
    for axis, idx in runtime_broadcast_checks(node.inputs):
        lengths = {np.shape(values[j])[axis] for j in idx}
        if len(lengths) > 1:
            desc = ", ".join(f"{node.inputs[j].name or f'input {j}'}: shape {tuple(np.shape(values[j]))}" for j in idx)
            raise ValueError(f"{node.op.name}: run-time lengths differ along axis {axis} ({desc}). Only dimensions "
                             f"declared with static length 1 broadcast (PyTensor semantics)")


def check_static_inputs(node, values):
    """LoweringError when an input that decides a shape (:data:`STATIC`) is a traced value."""
    static = STATIC.get(node.op.name)
    if static is None:
        return
    for k in static(node):
        if not rt.is_concrete(values[k]):
            raise LoweringError(f"{node.op!r}: input {k} ({node.inputs[k]}) decides a shape, and JAX needs it when "
                                f"tracing, but it is computed from traced values; make the inputs it depends on "
                                f"function inputs (they become static arguments) or constants")


def apply_node(node, values):
    """The value of ``node`` on ``values`` (NumPy when all are known while tracing, else JAX)."""
    name = node.op.name
    lower = LOWERINGS.get(name) or (lower_elemwise if node.op.defn.kind == "elemwise" and by_name(name) else None)
    if lower is None:
        raise LoweringError(f"op {name!r} is not lowered to JAX: {NOT_LOWERED.get(name, 'no lowering')}")
    if node.op.defn.kind == "elemwise":
        _check_broadcast(node, values)
    check_static_inputs(node, values)
    if name not in _NEVER_FOLDED and node.op.defn.kind != "random" and all(rt.is_concrete(v) for v in values):
        with np.errstate(all="ignore"):
            return np.asarray(node.op.perform(*values))
    return lower(node, *values)


def _scan(node, env, trace):
    values = [value(env, i) for i in node.inputs]
    check_static_inputs(node, values)
    return lower_scan(node, values, env, trace, run_schedule)


def _check(node, env, trace):
    return lower_check(node, *(value(env, i) for i in node.inputs), nested=trace.nested)


def _unique(node, env, trace):
    return lower_unique(node, value(env, node.inputs[0]), env, trace)


#: op name -> lowering(node, env, trace) of the nodes lowered one by one with the trace's context
_NODE_IN_CONTEXT = {"scan": _scan, "check": _check, "unique": _unique}


def run_range(nodes, branches, start, stop, env, trace):
    """Trace ``nodes[start:stop]`` (with their ``ifelse`` groups); ``env`` maps ``id(variable)``
    to its value and is filled."""
    k = start
    while k < stop:
        group = branch_at(branches, k, stop)
        if group is not None:
            _ifelse_group(nodes, branches, group, env, trace)
            k = group.end
            continue
        node = nodes[k]
        if node.op.name in _NODE_IN_CONTEXT:
            env[id(node.out)] = _NODE_IN_CONTEXT[node.op.name](node, env, trace)
        else:
            env[id(node.out)] = apply_node(node, [value(env, i) for i in node.inputs])
        k += 1
    return env


def run_schedule(schedule, env, trace) -> dict:
    """Trace every node of ``schedule`` (see :func:`run_range`)."""
    return run_range(schedule.nodes, schedule.branches, 0, len(schedule.nodes), env, trace)


def _ifelse_group(nodes, branches, group, env, trace):
    """The ``ifelse`` nodes of one group as one ``lax.cond``: each branch function traces the nodes
    only its side needs (so only the branch taken runs); a condition known while tracing traces
    the chosen side alone."""
    members = nodes[group.else_end:group.end]
    cond = value(env, members[0].inputs[0])

    def side(lo, hi, pick):
        def branch():
            local = run_range(nodes, branches, lo, hi, ChainMap({}, env), trace.inside())
            return tuple(cast(value(local, m.inputs[pick]), m.out.dtype) for m in members)
        return branch

    then_fn, else_fn = side(group.start, group.then_end, 1), side(group.then_end, group.else_end, 2)
    if rt.is_concrete(cond):
        results = (then_fn if bool(cond) else else_fn)()
    else:
        try:
            results = rt.lax.cond(rt.jnp.asarray(cond, bool), then_fn, else_fn)
        except TypeError:
            shapes = [tuple(tuple(s.shape) for s in rt.jax.eval_shape(f)) for f in (then_fn, else_fn)]
            if shapes[0] == shapes[1]:
                raise
            raise LoweringError(
                f"ifelse ({', '.join(str(m.out) for m in members)}): the branches have shapes {shapes[0]} (then) "
                f"and {shapes[1]} (else); JAX's lax.cond returns one shape whichever branch runs. Make the "
                f"branches' shapes equal (pad, or select after the ifelse), or use another backend") from None
    for m, r in zip(members, results):
        env[id(m.out)] = r


#: op name -> the tracer's lowering of an op lowered with its context (see the module docstring)
IN_CONTEXT = {"ifelse": _ifelse_group, **_NODE_IN_CONTEXT}


def lowers(name: str) -> bool:
    """Whether op ``name`` is lowered: by :data:`LOWERINGS`, :data:`IN_CONTEXT`, or (an elementwise op
    named as its ``jax.numpy`` function) by name. Loads JAX."""
    rt.load()
    return name in LOWERINGS or name in IN_CONTEXT or (OPS[name].kind == "elemwise" and by_name(name) is not None)
