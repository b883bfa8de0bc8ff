"""The inputs that decide shapes: JAX needs their values when it traces.

:data:`STATIC` maps an op name to ``positions(node)``, the positions of the node's inputs that must
be known while tracing (a reshape's target, slice bounds, a draw's ``size`` and the parameters that
decide its shape, a scan's ``n_steps`` and the non-sequences its step uses as shapes).
:func:`static_leaves` walks back from them to the function's inputs, which
:func:`~eqtensor.backends.jax.compile_schedule` makes static arguments.
"""

from __future__ import annotations

from ...core.graph import Constant
from .scan import inner_schedule
from .structural import STRUCTURAL_STATIC


def _scan_static(node):
    """``n_steps``, and the non-sequences the step needs as shapes."""
    inner = node.op.params["inner"]
    sched = inner_schedule(inner)
    leaves = static_leaves(sched.nodes)
    first = len(node.inputs) - len(inner.nonseq_ph)
    positions = [0] if inner.has_n_steps else []
    placeholders = sched.inputs[len(inner.seq_ph) + len(inner.state_ph):]
    return positions + [first + k for k, ph in enumerate(placeholders) if id(ph) in leaves]


def _draw_static(node):
    """The size, and the parameters that decide a draw's shape: the ``n`` of a permutation of
    ``arange(n)``; the sample shape (last) and an integer population (first) of a choice without
    replacement."""
    family, _, arg = node.op.params["dist"].partition(":")
    if family == "permutation" and arg == "0":
        return (1, 2)
    if family == "choice_without_replacement":
        return (1, len(node.inputs) - 1) + ((2,) if arg.startswith("0") else ())
    return (1,)


#: op name -> positions of the inputs that must be known while tracing
STATIC = {
    **STRUCTURAL_STATIC,
    "random": _draw_static,
    "random_next": lambda node: (1,),
    "scan": _scan_static,
}


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
