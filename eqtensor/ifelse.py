"""``ifelse`` (``pytensor.ifelse``): choose between two branches on a scalar condition.

In this version ``ifelse`` is *eager*: both branches are computed and the result is selected
elementwise (``switch`` on the scalar condition), so both branches must be computable and have
the same shape at run time. Types are checked when the graph is built.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.ifelse import ifelse
>>> c, x = pt.dscalar("c"), pt.dvector("x")
>>> f = function([c, x], ifelse(pt.lt(c, 0.0), -x, x * 2))
>>> f(-1.0, [1.0, 2.0]), f(1.0, [1.0, 2.0])
(array([-1., -2.]), array([2., 4.]))
"""

from __future__ import annotations

from .core.op import as_tensor_variable
from .core.graph import Constant, Variable
from .core.ops.elemwise import neq, switch

__all__ = ["ifelse"]


def _weak(v):
    return isinstance(v, Constant) and v.weak


def _like(weak: Constant, other: Variable) -> Constant:
    """A Python scalar branch with the other branch's dtype, broadcastable to its shape (NEP 50)."""
    return as_tensor_variable(weak.data.astype(other.dtype).reshape((1,) * other.ndim))


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is nonzero, else ``else_branch``.

    The branches are variables (the result is one variable) or equally long lists of variables
    (the result is a list). Each pair must have the same dtype and number of dimensions; Python
    scalars take the dtype of the other branch and broadcast to its shape.

    >>> from eqtensor import tensor as pt
    >>> from eqtensor.ifelse import ifelse
    >>> a, b = pt.dscalar("a"), pt.dscalar("b")
    >>> big, small = ifelse(pt.gt(a, b), [a, b], [b, a])
    >>> float(big.eval({a: 1.0, b: 5.0})), float(small.eval({a: 1.0, b: 5.0}))
    (5.0, 1.0)
    """
    cond = as_tensor_variable(condition)
    if cond.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar (0-d), got {cond} of type {cond.type}")
    if cond.dtype.startswith("complex"):
        raise TypeError(f"ifelse: the condition must be real or bool, got dtype {cond.dtype}")
    if cond.dtype != "bool":
        cond = neq(cond, 0)
    single = not isinstance(then_branch, (list, tuple))
    thens = [then_branch] if single else list(then_branch)
    elses = [else_branch] if not isinstance(else_branch, (list, tuple)) else list(else_branch)
    if single != (not isinstance(else_branch, (list, tuple))) or len(thens) != len(elses):
        raise ValueError(f"ifelse: both branches must be single variables or lists of the same length, got "
                         f"{len(thens)} and {len(elses)} output(s)")
    outs = []
    for k, (t, e) in enumerate(zip(thens, elses)):
        t, e = as_tensor_variable(t), as_tensor_variable(e)
        t_weak, e_weak = _weak(t), _weak(e)
        if e_weak and not t_weak:
            e = _like(e, t)
        elif t_weak and not e_weak:
            t = _like(t, e)
        where = "" if single else f" (output {k})"
        if not (t_weak or e_weak):
            if t.dtype != e.dtype or t.ndim != e.ndim:
                raise TypeError(f"ifelse: the two branches{where} must have the same dtype and number of "
                                f"dimensions, got then={t.type} and else={e.type}; cast one of them "
                                f"(e.g. .astype({t.dtype!r}))")
            if any((a == 1) != (b == 1) or a is not None and b is not None and a != b
                   for a, b in zip(t.type.shape, e.type.shape)):
                raise ValueError(f"ifelse: the two branches{where} have static shapes {t.type.shape} and "
                                 f"{e.type.shape}; this eager ifelse needs the same shape and the same "
                                 f"broadcastable (length-1) dimensions")
        out = switch(cond, t, e)
        if name is not None:
            out.name = name if single else f"{name}[{k}]"
        outs.append(out)
    return outs[0] if single else outs
