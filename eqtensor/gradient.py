"""Symbolic differentiation, mirroring ``pytensor.gradient``: gradients as stable as the values.

The reverse pass and the VJP rules are in :mod:`eqtensor.rules` (``autodiff.py``,
``gradients.py``). This face differentiates the *stable form* of what it is given: before the
reverse pass, the expression goes through the e-graph with the algebraic and stability rules
(the rules compiled functions use, without BLAS), so ``log(1 + exp(x))`` is differentiated as
``softplus(x)`` and ``log(sum(exp(x)))`` as ``logsumexp(x)`` — their gradients are finite where
the naive formula's gradient is nan. Variables the gradient is taken with respect to (and
``consider_constant``, ``known_grads``) are kept as they are; if the stable form no longer
depends on one of them (``x - x``), the expression is differentiated as written.
:func:`eqtensor.rules.autodiff.grad` differentiates as written, always. :func:`verify_grad`
compiles the graphs it checks.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.gradient import grad
>>> x = pt.dvector("x")
>>> function([x], grad(pt.exp(x).sum(), x))(np.zeros(2))
array([1., 1.])
"""

from .compile.function import function
from .core.errors import DisconnectedInputError
from .core.fgraph import FunctionGraph
from .core.graph import Constant, SharedVariable, Variable, ancestors, graph_inputs, toposort
from .core.op import OPS
from .core.replace import clone_replace
from .egraph import optimize_graph
from .rules import algebraic, algebraic_assuming_finite, autodiff, stability
from .rules.autodiff import (
    DisconnectedType, GradientError, NullTypeGradError, disconnected_grad, grad_clip, grad_scale, undefined_grad,
    verify_grad_with, zero_grad,
)

#: the rules a gradient's expression is stabilized with (BLAS ops are not differentiable)
STABILIZE = (algebraic() + algebraic_assuming_finite() + stability()).saturate()

#: ops whose naive compositions the stability rules rewrite: an expression without any is
#: differentiated as it is (no e-graph run)
_UNSTABLE_OPS = frozenset(
    node.op.name for r in stability() for node in toposort([r.pattern])
    if OPS[node.op.name].cost >= 10
)


def stable_form(outputs: list, keep: list) -> list:
    """``outputs`` rewritten by :data:`STABILIZE`, with every variable of ``keep`` still in the
    graph as itself (intermediate ones stand in as inputs during the rewrite); ``outputs``
    unchanged when there is nothing to stabilize or when the stable form drops a kept variable.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> [y] = stable_form([pt.log(1 + pt.exp(x)).sum()], [x])
    >>> y.owner.inputs[0].owner.op.name
    'softplus'
    """
    if not any(n.op.name in _UNSTABLE_OPS for n in toposort(outputs)):
        return outputs
    keep = [k for k in keep if isinstance(k, Variable)]
    stand_in = {k: k.type() for k in keep if k.owner is not None}
    inner = clone_replace(outputs, stand_in) if stand_in else list(outputs)
    leaves = [v for v in graph_inputs(inner) if not isinstance(v, Constant)]
    explicit = [v for v in leaves if not isinstance(v, SharedVariable)]
    shared = [v for v in leaves if isinstance(v, SharedVariable)]
    fgraph = FunctionGraph(explicit + shared, inner, len(explicit), len(inner))
    optimized, _ = optimize_graph(fgraph, rules=STABILIZE)
    kept_before = _reached([stand_in.get(k, k) for k in keep], inner)
    if kept_before != _reached([stand_in.get(k, k) for k in keep], optimized.outputs):
        return outputs
    back = {v: k for k, v in stand_in.items()}
    return clone_replace(optimized.outputs, back) if back else list(optimized.outputs)


def _reached(variables, outputs) -> list[bool]:
    seen = {id(v) for v in ancestors(outputs)}
    return [id(v) in seen for v in variables]


def _listed(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True, known_grads=None,
         return_disconnected="zero", null_gradients="raise"):
    """The gradient of the stable form of ``cost`` (see the module docstring); the arguments are
    :func:`eqtensor.rules.autodiff.grad`'s.

    >>> import numpy as np
    >>> from eqtensor import function, tensor as pt
    >>> x = pt.dvector("x")
    >>> function([x], grad(pt.log(1 + pt.exp(x)).sum(), x))(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    if cost is not None:
        keep = _listed(wrt) + _listed(consider_constant) + list(known_grads or {})
        [cost] = stable_form([cost], keep)
    return autodiff.grad(cost, wrt, consider_constant, disconnected_inputs, add_names, known_grads,
                         return_disconnected, null_gradients)


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """:func:`eqtensor.rules.autodiff.jacobian` of the stable form of ``expression``."""
    [expression] = stable_form([expression], _listed(wrt) + _listed(consider_constant))
    return autodiff.jacobian(expression, wrt, consider_constant, disconnected_inputs)


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """:func:`eqtensor.rules.autodiff.hessian` of the stable form of ``cost``."""
    [cost] = stable_form([cost], _listed(wrt) + _listed(consider_constant))
    return autodiff.hessian(cost, wrt, consider_constant, disconnected_inputs)


def hessian_vector_product(cost, wrt, p, **grad_kwargs):
    """:func:`eqtensor.rules.autodiff.hessian_vector_product` of the stable form of ``cost``."""
    [cost] = stable_form([cost], _listed(wrt) + _listed(grad_kwargs.get("consider_constant")))
    return autodiff.hessian_vector_product(cost, wrt, p, **grad_kwargs)


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """:func:`eqtensor.rules.autodiff.Lop` of the stable form of ``f``."""
    fs = stable_form(_listed(f), _listed(wrt) + _listed(consider_constant))
    return autodiff.Lop(fs if isinstance(f, (list, tuple)) else fs[0], wrt, eval_points, consider_constant,
                        disconnected_inputs)


def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero"):
    """:func:`eqtensor.rules.autodiff.Rop` of the stable form of ``f``."""
    fs = stable_form(_listed(f), _listed(wrt))
    return autodiff.Rop(fs if isinstance(f, (list, tuple)) else fs[0], wrt, eval_points, disconnected_outputs,
                        return_disconnected)


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, abs_tol=None, rel_tol=None, mode=None):
    """Check ``grad`` of ``fun`` at the point ``pt`` (a list of arrays) against central finite
    differences, compiling with ``mode`` (see :func:`~eqtensor.rules.autodiff.verify_grad_with`).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> verify_grad(lambda x: pt.tanh(x) * x, [np.array([0.5, -1.0])], rng=np.random.default_rng(0))
    >>> verify_grad(lambda x: zero_grad(x) * x, [np.array([0.5, 2.0])])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    eqtensor.rules.autodiff.GradientError: verify_grad: analytic and numeric gradients differ for argument 0 ...
    """

    def compile(inputs, outputs):
        return function(inputs, outputs, mode=mode, on_unused_input="ignore")

    verify_grad_with(compile, fun, pt, n_tests=n_tests, rng=rng, eps=eps, abs_tol=abs_tol, rel_tol=rel_tol)


__all__ = [
    "DisconnectedInputError", "DisconnectedType", "GradientError", "Lop", "NullTypeGradError", "Rop",
    "disconnected_grad", "grad", "grad_clip", "grad_scale", "hessian", "hessian_vector_product", "jacobian",
    "stable_form", "undefined_grad", "verify_grad", "zero_grad",
]
