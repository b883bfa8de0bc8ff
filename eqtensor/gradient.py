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

import math

from .compile.function import function
from .core.errors import DisconnectedInputError
from .core.fgraph import FunctionGraph
from .core.graph import Constant, SharedVariable, Variable
from .core.traversal import ancestors, graph_inputs, toposort
from .core.op import OPS
from .core.replace import clone_replace
from .egraph import optimize_graph
from .rules import algebraic, algebraic_assuming_finite, autodiff, stability
from .rules.autodiff import (
    DisconnectedType, GradientError, NullTypeGradError, disconnected_grad, grad_clip, grad_scale, undefined_grad,
    zero_grad,
)
from .rules.finite_differences import verify_grad_with
from .rules import jacobian as jac, vjp
from .core.ops.creation import arange
from .core.ops.second import second
from .core.ops.shape import reshape
from .scan.basic import scan

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


def subgraph_grad(wrt, end, start=None, cost=None, details=False):
    """Gradients of ``cost`` and of the known gradients ``start`` (``{variable: gradient}``) with
    respect to the lists ``wrt`` and ``end``, not propagated past the variables of ``end``
    (PyTensor's ``subgraph_grad``: backpropagation one part of a graph at a time). Disconnected
    variables get zeros. Returns ``(wrt_grads, end_grads)``, and with ``details=True`` also the
    gradients from ``start`` and from ``cost`` alone (each a list over ``wrt + end`` minus
    repeats, or None when that source was not given).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> h = pt.tanh(x)
    >>> [gx], [gh] = subgraph_grad([x], [h], cost=h ** 2)   # stops at h: gx is 0
    >>> [gx2], _ = subgraph_grad([x], [], start={h: gh})       # continues from h
    >>> float(gx.eval({x: 0.5})), bool(np.isclose(gx2.eval({x: 0.5}), 2 * np.tanh(0.5) / np.cosh(0.5) ** 2))
    (0.0, True)
    """
    if cost is None and start is None:
        raise ValueError("subgraph_grad: give a cost or start (known gradients)")
    for what, v, kind in (("wrt", wrt, list), ("end", end, list), ("start", start, (dict, type(None)))):
        if not isinstance(v, kind):
            raise TypeError(f"subgraph_grad: {what} must be a {'dict' if what == 'start' else 'list'}, got "
                            f"{type(v).__name__}")
    params = list({id(v): v for v in wrt + end}.values())
    common = {"consider_constant": end, "disconnected_inputs": "ignore"}
    start_grads = None if start is None else list(grad(None, params, known_grads=start, **common))
    cost_grads = None if cost is None else list(grad(cost, params, **common))
    grads = start_grads if cost_grads is None else cost_grads if start_grads is None else [
        a + b for a, b in zip(start_grads, cost_grads)]
    by_id = {id(p): g for p, g in zip(params, grads)}
    out = [by_id[id(v)] for v in wrt], [by_id[id(v)] for v in end]
    return (*out, start_grads, cost_grads) if details else out


#: ``vectorize=False``: an expression of at most this many elements, known statically, gets one
#: vector-Jacobian product per element (a graph the e-graph optimizes whole); a bigger one, or one
#: whose size is known only at run time, a scan over the rows (PyTensor's way)
UNROLL_UP_TO = 16


def _rows_by_scan(expression, wrt_list, consider_constant, disconnected_inputs):
    """The Jacobians of ``expression`` with respect to ``wrt_list``: a scan whose step ``i`` is the
    gradient of ``expression.ravel()[i]``."""
    n = jac.flat_length(expression)
    flat = reshape(expression, (n,))

    def row(i, y, *ws):
        return autodiff.grad(y[i], list(ws), consider_constant=consider_constant,
                             disconnected_inputs=disconnected_inputs)

    rows = scan(row, sequences=arange(n), non_sequences=[flat, *wrt_list], return_updates=False, return_list=True)
    return [r if expression.ndim == 1 else reshape(r, tuple(vjp.dims(expression)) + tuple(vjp.dims(w)))
            for r, w in zip(rows, wrt_list)]


def _jacobian(expression, wrt, consider_constant, disconnected_inputs, vectorize, hint=None):
    wrt_list = _listed(wrt)
    shape = jac.static_shape(expression, hint)
    if expression.ndim == 0 or vectorize:
        return jac.jacobian(expression, wrt, consider_constant, disconnected_inputs, vectorize)
    if shape is not None and math.prod(shape) <= UNROLL_UP_TO:
        out = jac.unrolled(expression, wrt_list, shape, consider_constant, disconnected_inputs)
    else:
        out = _rows_by_scan(expression, wrt_list, consider_constant, disconnected_inputs)
    return out if isinstance(wrt, (list, tuple)) else out[0]


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise", vectorize=False):
    """d expression / d wrt (of the stable form of ``expression``), of shape ``expression.shape +
    wrt.shape``, one per ``wrt`` if a list. Shapes need not be known statically.

    ``vectorize=True``: one batched vector-Jacobian product (:func:`eqtensor.rules.jacobian.batched`:
    the gradient graph vectorized over the rows of an identity matrix). ``vectorize=False`` (as
    PyTensor): a scan over the rows, each the gradient of one element; expressions of at most
    :data:`UNROLL_UP_TO` elements known statically get one product per element instead, unrolled.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> jacobian(pt.exp(x), x).eval({x: np.zeros(2)})
    array([[1., 0.],
           [0., 1.]])
    >>> jacobian(x ** 2, x, vectorize=True).eval({x: np.array([1.0, 2.0])})
    array([[2., 0.],
           [0., 4.]])
    """
    [expression] = stable_form([expression], _listed(wrt) + _listed(consider_constant))
    return _jacobian(expression, wrt, consider_constant, disconnected_inputs, vectorize)


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise", vectorize=False):
    """Second derivatives of the stable form of the scalar ``cost``: for each ``wrt``, shape
    ``wrt.shape + wrt.shape`` — the Jacobian of the gradient, built as :func:`jacobian` builds it
    (``vectorize=`` is an eqtensor extension; PyTensor's hessian loops with scan).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> hessian((x ** 3).sum(), x).eval({x: np.array([1.0, 2.0])})
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    [cost] = stable_form([cost], _listed(wrt) + _listed(consider_constant))
    out = []
    for w in _listed(wrt):
        g = autodiff.grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        out.append(_jacobian(g, w, consider_constant, "ignore", vectorize, hint=w.type.shape))
    return out if isinstance(wrt, (list, tuple)) else out[0]


def hessian_vector_product(cost, wrt, p, **grad_kwargs):
    """:func:`eqtensor.rules.autodiff.hessian_vector_product` of the stable form of ``cost``."""
    [cost] = stable_form([cost], _listed(wrt) + _listed(grad_kwargs.get("consider_constant")))
    return autodiff.hessian_vector_product(cost, wrt, p, **grad_kwargs)


def pullback(f, wrt, cotangents, consider_constant=None, disconnected_inputs="raise", return_disconnected="zero"):
    """The vector-Jacobian product ``cotangents^T (d f / d wrt)`` of the stable form of ``f``, shaped
    like ``wrt`` (PyTensor's ``pullback``; ``f`` and ``cotangents`` a variable or lists of them).
    ``return_disconnected``: ``'zero'``, ``'none'`` or ``'disconnected'`` for a ``wrt`` that ``f``
    does not depend on (with ``disconnected_inputs`` other than ``'raise'``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x, v = pt.dvector("x"), pt.dvector("v")
    >>> pullback(x ** 2, x, v).eval({x: np.array([1.0, 2.0]), v: np.array([1.0, 10.0])})
    array([ 2., 40.])
    """
    fs = stable_form(_listed(f), _listed(wrt) + _listed(consider_constant))
    cots = _listed(cotangents)
    if len(fs) != len(cots):
        raise ValueError(f"pullback: {len(fs)} expressions but {len(cots)} cotangents")
    for k, (fi, c) in enumerate(zip(_listed(f), cots)):
        if not isinstance(fi, Variable):
            raise TypeError(f"pullback: f[{k}] must be a symbolic variable, got {type(fi).__name__}")
    return autodiff.grad(None, wrt, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
                         known_grads=dict(zip(fs, cots)), add_names=False, return_disconnected=return_disconnected)


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise", return_disconnected="zero"):
    """:func:`pullback` under its older name (PyTensor's ``Lop``)."""
    return pullback(f, wrt, eval_points, consider_constant, disconnected_inputs, return_disconnected)


def pushforward(f, wrt, tangents, disconnected_outputs="raise", return_disconnected="zero", use_op_pushforward=False):
    """The Jacobian-vector product ``(d f / d wrt) tangents`` of the stable form of ``f``, shaped
    like ``f`` (PyTensor's ``pushforward``), built as a double pullback (the e-graph optimizes it).
    eqtensor has no per-op forward rules; ``use_op_pushforward=True`` keeps ``f`` (hence its inputs)
    in the result's graph, as PyTensor's per-op rules do (``second(f, jvp)``, dropped by the optimizer),
    so a function of it takes ``f``'s inputs even where the product does not read them; by default,
    as PyTensor's double pullback, the result depends only on what it reads.
    ``return_disconnected``: ``'zero'``, ``'none'`` or ``'disconnected'`` for an ``f`` that does not
    depend on ``wrt`` (with ``disconnected_outputs`` other than ``'raise'``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x, W, V = pt.dvector("x"), pt.dmatrix("W"), pt.dmatrix("V")
    >>> pushforward(pt.dot(x, W), W, V).eval({x: np.array([1.0, 2.0]), V: np.eye(2)})
    array([1., 2.])
    """
    fs = stable_form(_listed(f), _listed(wrt))
    out = autodiff.Rop(fs, wrt, tangents, disconnected_outputs,
                       "none" if return_disconnected == "disconnected" else return_disconnected)
    if use_op_pushforward:
        out = [o if o is None else second(fi, o) for fi, o in zip(fs, out)]
    if return_disconnected == "disconnected":
        out = [DisconnectedType() if o is None else o for o in out]
    return type(f)(out) if isinstance(f, (list, tuple)) else out[0]


def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero",
        use_op_rop_implementation=False):
    """:func:`pushforward` under its older name (PyTensor's ``Rop``)."""
    return pushforward(f, wrt, eval_points, disconnected_outputs, return_disconnected, use_op_rop_implementation)


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, abs_tol=None, rel_tol=None, mode=None):
    """Check ``grad`` of ``fun`` at the point ``pt`` (a list of arrays) against central finite
    differences, compiling with ``mode`` (see :func:`~eqtensor.rules.finite_differences.verify_grad_with`).

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
    "pullback", "pushforward", "stable_form", "subgraph_grad", "undefined_grad", "verify_grad", "zero_grad",
]
