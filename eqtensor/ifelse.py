"""``ifelse`` (``pytensor.ifelse``): choose between two branches on a scalar condition, lazily.

Only the chosen branch is computed: nodes needed only by the other branch do not run (in the
reference interpreter, the NumPy backend and the C backend, where the choice is an ``if`` in the
generated code). The branches may have different shapes; tuples of outputs may mix dtypes.
``pt.switch`` is the elementwise (eager) choice.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.ifelse import ifelse
>>> c, x = pt.dscalar("c"), pt.dvector("x")
>>> f = function([c, x], ifelse(pt.lt(c, 0.0), -x, x[:1] * 2))
>>> f(-1.0, [1.0, 2.0]), f(1.0, [1.0, 2.0])
(array([-1., -2.]), array([2.]))
"""

from __future__ import annotations

import numpy as np

from .core.op import OPS, Op, as_tensor_variable
from .core.graph import Constant, Variable
from .core.ops.elemwise import neq
from .core.ops.ifelse import IFELSE

__all__ = ["ifelse"]


def _weak(v):
    return isinstance(v, Constant) and v.weak


def _like(weak: Constant, other: Variable) -> Constant:
    """A Python scalar branch with the other branch's dtype (NEP 50)."""
    return Constant(weak.data.astype(other.dtype))


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is nonzero, else ``else_branch``; only the chosen
    branch is computed.

    The branches are variables (the result is one variable) or equally long lists/tuples of
    variables (the result is a list). Each pair must have the same dtype and number of dimensions
    (their shapes may differ); a Python scalar takes the dtype of the other branch.

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
        elif t_weak and e_weak:  # two Python scalars: their common NumPy type
            dtype = np.result_type(t.data, e.data)
            t, e = Constant(t.data.astype(dtype)), Constant(e.data.astype(dtype))
        where = "" if single else f" (output {k})"
        if t.dtype != e.dtype or t.ndim != e.ndim:
            raise TypeError(f"ifelse: the two branches{where} must have the same dtype and number of "
                            f"dimensions, got then={t.type} and else={e.type}; cast one of them "
                            f"(e.g. .astype({t.dtype!r})) or give it the other's rank")
        out = Op(OPS[IFELSE])(cond, t, e)
        if name is not None:
            out.name = name if single else f"{name}[{k}]"
        outs.append(out)
    return outs[0] if single else outs
