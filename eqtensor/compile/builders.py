"""``OpFromGraph`` (``pytensor.compile.builders``): a callable op made from a graph.

``OpFromGraph(inputs, outputs)`` is called like an op: ``op(a, b)`` gives the outputs computed from
``a`` and ``b`` in place of ``inputs``. eqtensor always inlines the graph into the caller's (as
PyTensor's ``inline=True``): the call is the graph itself with the arguments substituted, so the
e-graph optimizer sees through it (sharing common parts, applying its rules across the boundary)
and gradients are those of the inlined graph. ``inline=`` is accepted for that reason and changes
nothing. Shared variables of the inner graph stay shared (implicit inputs of the functions that
use the op). Gradient overrides (``pullback=``, ``pushforward=``, ``lop_overrides=``,
``rop_overrides=``) and ``connection_pattern`` are not supported; the graph a call builds holds no
node of this op (``isinstance(node.op, OpFromGraph)`` finds nothing).

>>> import numpy as np
>>> import eqtensor as et
>>> from eqtensor import tensor as pt
>>> from eqtensor.compile.builders import OpFromGraph
>>> x, y, z = pt.dscalars("x", "y", "z")
>>> op = OpFromGraph([x, y, z], [x + y * z])
>>> e2 = op(x, y, z) + op(z, y, x)
>>> fn = et.function([x, y, z], [e2, et.grad(e2, y)])
>>> [float(v) for v in fn(2.0, 3.0, 4.0)]
[24.0, 6.0]
"""

from __future__ import annotations

from ..core.errors import MissingInputError
from ..core.graph import Constant, SharedVariable, Variable
from ..core.op import as_tensor_variable
from ..core.ops.elemwise import cast
from ..core.replace import clone_replace
from ..core.traversal import graph_inputs

_OVERRIDES = ("pullback", "pushforward", "lop_overrides", "rop_overrides", "grad_overrides", "connection_pattern")


class OpFromGraph:
    """An op computing ``outputs`` from ``inputs``, inlined where it is called (see the module).

    ``inputs``: the graph's input variables (not constants or shared variables); ``outputs``: a
    list of variables computed from them, constants and shared variables. Other keywords of
    PyTensor's (``strict``, ``destroy_map``, ``function``'s ``mode``…) are accepted and unused: the
    inlined graph is compiled with the function that uses it. A call takes one argument
    per input, of the input's dtype (Python numbers are converted to it) and number of dimensions,
    and returns the single output, or the list of outputs when there are several.
    """

    def __init__(self, inputs, outputs, *, inline=False, strict=False, name=None, destroy_map=None, **kwargs):
        given = sorted(k for k in _OVERRIDES + ("updates", "givens") if kwargs.get(k) is not None)
        if given:
            raise NotImplementedError(f"OpFromGraph: {', '.join(given)} not supported (the graph is inlined "
                                      f"where it is called and differentiated as it is)")
        if not isinstance(inputs, (list, tuple)) or not isinstance(outputs, (list, tuple)):
            raise TypeError("OpFromGraph: inputs and outputs must be lists of variables")
        for k, v in enumerate(inputs):
            if not isinstance(v, Variable) or isinstance(v, (Constant, SharedVariable)) or v.owner is not None:
                raise TypeError(f"OpFromGraph: input {k} ({v!r}) must be a root variable (not a constant, a shared "
                                f"variable or a computed expression)")
        outputs = [as_tensor_variable(o) for o in outputs]
        known = {id(v) for v in inputs}
        for leaf in graph_inputs(outputs):
            if id(leaf) not in known and not isinstance(leaf, (Constant, SharedVariable)):
                raise MissingInputError(f"OpFromGraph: the outputs depend on {leaf} ({leaf.type}), which is not "
                                        f"one of the inputs")
        self.inner_inputs = list(inputs)
        self.inner_outputs = outputs
        self.name = name
        self.inline = bool(inline)

    def __call__(self, *args):
        if len(args) != len(self.inner_inputs):
            raise TypeError(f"{self}: takes {len(self.inner_inputs)} inputs, got {len(args)}")
        replace = {inner: self._argument(k, inner, a) for k, (inner, a) in enumerate(zip(self.inner_inputs, args))}
        outs = clone_replace(self.inner_outputs, replace, rebuild_strict=False)
        return outs[0] if len(outs) == 1 else outs

    @staticmethod
    def _argument(k, inner, value):
        v = as_tensor_variable(value)
        if v.ndim != inner.ndim:
            raise TypeError(f"OpFromGraph: argument {k} has {v.ndim} dimensions ({v.type}); the input {inner} "
                            f"has {inner.ndim} ({inner.type})")
        if v.dtype != inner.dtype:
            if not isinstance(value, (Constant, int, float)) and isinstance(value, Variable):
                raise TypeError(f"OpFromGraph: argument {k} has dtype {v.dtype}; the input {inner} has "
                                f"{inner.dtype} (cast it first)")
            v = cast(v, inner.dtype)
        return v

    def __str__(self) -> str:
        return self.name or "OpFromGraph"

    __repr__ = __str__


__all__ = ["OpFromGraph"]
