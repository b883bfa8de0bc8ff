"""Helpers of ``scan`` that PyTensor users import from ``pytensor.scan.utils``: :class:`until`.

>>> from eqtensor import tensor as pt
>>> from eqtensor.scan.utils import until
>>> stop = until(pt.dscalar("x") > 10)
>>> stop.condition.dtype
'bool'
"""

from __future__ import annotations

from ..core.op import as_tensor_variable
from ..core.ops.elemwise import neq

__all__ = ["until"]


class until:
    """The stopping condition of a ``scan`` used as a while loop: ``fn`` returns
    ``until(condition)`` (alone, or after its outputs and updates), and the loop stops after the
    first step where the condition (a boolean scalar, or a number compared with zero) is true.
    ``n_steps`` (or the sequences) still bound the number of steps."""

    def __init__(self, condition):
        c = as_tensor_variable(condition)
        if c.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {c} ({c.type})")
        if c.dtype != "bool":
            c = neq(c, 0)
        self.condition = c

    def __repr__(self):
        return f"until({self.condition})"
