"""Ops, at PyTensor's path ``pytensor.graph.op``.

An :class:`Op` is an entry of the op table (``op.defn``, an :class:`OpDef`) with bound parameters
(``op.params``); ``op.name`` names it. New ops are declared in the table
(``eqtensor.core.op.declare``, see ``docs/architecture.md``), not by subclassing.

>>> from eqtensor import tensor as pt
>>> from eqtensor.graph.op import Op
>>> op = pt.dmatrix("x").sum(axis=0).owner.op
>>> isinstance(op, Op), op.name, op.params
(True, 'sum', {'axis': (0,), 'keepdims': False})
"""

from ..core.op import OPS, Op, OpDef

__all__ = ["OPS", "Op", "OpDef"]
