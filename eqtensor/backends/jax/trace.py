"""The graph traced into JAX: each node's lowering applied in schedule order.

:data:`LOWERINGS` maps every op name the backend lowers to ``lower(node, *values)``;
:data:`NOT_LOWERED` names the ops it does not lower, each with the reason (a test fails when an op of
the op table is in neither). While tracing, a value is either a JAX tracer or a NumPy value known
at trace time (constants, static shapes, static arguments): a node whose inputs are all known is
computed with the op's NumPy ``perform`` (the reference semantics), so shape arithmetic stays
exact and static; creation ops are always lowered (their outputs may be large).
"""

from __future__ import annotations

import numpy as np

from ...core.graph import Constant
from ...core.op import runtime_broadcast_checks
from . import runtime as rt
from .elemwise import ELEMWISE, REDUCE, lower_elemwise, lower_reduce, lower_softmax
from .linalg import LINALG
from .structural import STATIC, STRUCTURAL


class LoweringError(NotImplementedError):
    """A graph the JAX backend cannot trace (an op it does not lower, a shape JAX cannot make static)."""


def _ifelse(node, cond, then, other):
    if tuple(then.shape) != tuple(other.shape):
        raise LoweringError(f"ifelse: on the JAX backend both branches must have one shape (JAX traces static "
                            f"shapes), got {tuple(then.shape)} and {tuple(other.shape)}")
    jnp = rt.jnp
    return rt.lax.cond(jnp.asarray(cond, bool), lambda a, b: a, lambda a, b: b, jnp.asarray(then), jnp.asarray(other))


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
    "ifelse": _ifelse,
}

#: op name -> why the JAX backend does not lower it (tracing a graph that uses it raises LoweringError)
NOT_LOWERED = {
    "random": "draws come from NumPy generators (same values as NumPy for a seed), not from JAX PRNG keys",
    "random_next": "the state of a NumPy generator after a draw is not a JAX value",
    "scan": "the scan op is being rebuilt (taps, until); its lowering to lax.scan follows the new inner-graph API",
    **{name: "special function: jax.scipy.special lacks it or its edge values are not checked against SciPy's yet"
       for name in ("gamma", "erfcinv", "j0", "j1", "i0", "i1", "gammainc", "gammaincc", "gammaincinv", "gammainccinv",
                    "jv", "iv", "ive", "kv", "kve", "owens_t", "betainc", "betaincinv")},
    "searchsorted": "not lowered yet (jnp.searchsorted exists; its dtype rules are not checked)",
    "unique": "its length depends on the values: JAX traces static shapes",
    "print": "a Python print at run time; jax.debug.print is not wired yet",
}

_NEVER_FOLDED = {"alloc", "arange", "eye", "tri", "ifelse"}


def leaf_value(v):
    if isinstance(v, Constant):
        return v.data
    raise LoweringError(f"the traced graph reads {v}, which is neither an input nor a constant")


def _check_broadcast(node, values):
    for axis, idx in runtime_broadcast_checks(node.inputs):
        lengths = {np.shape(values[j])[axis] for j in idx}
        if len(lengths) > 1:
            desc = ", ".join(f"{node.inputs[j].name or f'input {j}'}: shape {tuple(np.shape(values[j]))}" for j in idx)
            raise ValueError(f"{node.op.name}: run-time lengths differ along axis {axis} ({desc}). Only dimensions "
                             f"declared with static length 1 broadcast (PyTensor semantics)")


def _static_inputs(node, values):
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
    lower = LOWERINGS.get(name)
    if lower is None:
        raise LoweringError(f"op {name!r} is not lowered to JAX: {NOT_LOWERED.get(name, 'no lowering')}")
    if node.op.defn.kind == "elemwise":
        _check_broadcast(node, values)
    _static_inputs(node, values)
    if name not in _NEVER_FOLDED and all(rt.is_concrete(v) for v in values):
        with np.errstate(all="ignore"):
            return np.asarray(node.op.perform(*values))
    return lower(node, *values)


def run_nodes(nodes, env: dict) -> dict:
    """Trace ``nodes`` (in order); ``env`` maps ``id(variable)`` to its value and is filled."""
    for node in nodes:
        values = [env[id(i)] if id(i) in env else leaf_value(i) for i in node.inputs]
        env[id(node.out)] = apply_node(node, values)
    return env


def static_leaves(nodes) -> set:
    """ids of the leaves whose values decide shapes (see :data:`STATIC`): they must be known while tracing.
    The walk stops at ``shape``/``shape_i`` (static under tracing) and at constants."""
    todo = []
    for node in nodes:
        static = STATIC.get(node.op.name)
        if static is not None:
            todo.extend(node.inputs[k] for k in static(node))
    seen, leaves = set(), set()
    while todo:
        v = todo.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.owner is None:
            if not isinstance(v, Constant):
                leaves.add(id(v))
        elif v.owner.op.name not in ("shape", "shape_i"):
            todo.extend(v.owner.inputs)
    return leaves
