"""Reverse-mode differentiation: ``grad``, ``Lop``, ``Rop``, ``hessian_vector_product``, the gradient markers.

``grad`` walks the graph once in reverse topological order (iteratively: deep graphs are fine),
applies each op's VJP rule from :data:`eqtensor.rules.gradients.RULES` and sums the cotangents of
variables used more than once. The result is an ordinary symbolic graph: it can be printed,
differentiated again and compiled (the optimizer sees forward and backward graphs together).

Conventions, as in PyTensor:

- the cost is a scalar, seeded with ``second(cost, 1)`` (1 that keeps the cost's inputs in the
  gradient's graph; zero gradients are ``second(wrt, 0)``); ``known_grads`` seeds cotangents of
  other variables as given (the cost may then be ``None``);
- cotangents are summed back over the input's statically broadcastable dimensions and have the
  input's dtype; an op with an integer or boolean output passes no gradient to its inputs, and an
  integer ``wrt`` gets the real-valued gradient (of dtype ``config.floatX``) flowing into it from
  ops with float outputs (``grad(i * 2.5, i)`` is 2.5, ``grad(i ** 2, i)`` is 0: ``i ** 2`` is an
  integer);
- ``consider_constant`` variables and ``disconnected_grad(x)`` stop the gradient (a ``wrt`` among
  them gets its gradient, passed no further); cotangents of complex values are undefined; ops declared
  ``differentiable=False`` give zero gradients (``shape``/``shape_i`` are disconnected);
- a ``wrt`` the cost does not depend on raises :class:`DisconnectedInputError` (see
  ``disconnected_inputs`` and ``return_disconnected``).

``jacobian`` and ``hessian`` are in :mod:`eqtensor.rules.jacobian` (and, with a scan over the rows,
:mod:`eqtensor.gradient`); ``Rop`` uses the double-VJP trick.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> x = pt.dvector("x")
>>> gx = grad((x ** 2).sum(), x)
>>> function([x], gx)(np.array([1.0, 2.0]))
array([2., 4.])
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from ..core.op import as_tensor_variable
from ..core.config import config
from ..core.dtypes import FLOAT_DTYPES
from ..core.errors import DisconnectedInputError
from ..core.graph import Constant, Variable, gc_paused
from ..core.traversal import ancestors, toposort
from ..core.replace import clone_replace
from ..core.op import OPS, Op
from ..core.graph import TensorType
from ..core.ops.elemwise import cast
from ..core.ops.second import second
from ..core.ops.reduction import sum as reduce_sum
from . import gradients, vjp


class NullTypeGradError(TypeError):
    """A gradient asked for is undefined (it went through ``undefined_grad``)."""


class GradientError(ValueError):
    """``verify_grad`` found analytic and finite-difference gradients that disagree.

    Attributes: ``arg`` (argument position), ``index`` (element), ``analytic``, ``numeric``,
    ``abs_err``, ``rel_err``, ``abs_tol``, ``rel_tol``.
    """

    def __init__(self, message, **info):
        super().__init__(message)
        self.__dict__.update(info)


class DisconnectedType:
    """What ``grad(..., return_disconnected='disconnected')`` returns for a disconnected input."""

    def __repr__(self):
        return "DisconnectedType()"


# --------------------------------------------------------------------------- the reverse pass
_UNREACHED = "unreached"  # no path from the cost: disconnected
_ZERO = "zero"  # connected, but every path has a zero gradient


def _grad_dtype(v) -> str:
    return v.dtype if v.dtype in FLOAT_DTYPES else config.floatX


def _discrete(v) -> bool:
    return v.dtype not in FLOAT_DTYPES


def _through_complex(v):
    """The cotangent of a complex value ``v``: undefined (complex cotangents are not supported; a
    gradient that needs one raises ``NullTypeGradError``, where PyTensor raises a ``TypeError``)."""
    return vjp.NullGrad(f"it goes through the complex value {v} ({v.type}), and eqtensor does not "
                        f"differentiate through complex values")


def _differentiable(defn) -> bool:
    """Declared differentiable, or given a rule anyway (a rule is never ignored)."""
    return defn.differentiable or defn.name in gradients.RULES


def _connected(node, pos) -> bool:
    defn = node.op.defn
    if not _differentiable(defn):
        return defn.kind != "shape"
    rule = gradients.RULES.get(defn.name)
    return rule is None or rule.connected(pos)


def _fit(r, x, node):
    """Rule output ``r`` as a cotangent of input ``x``: summed over x's broadcastable dims, x's dtype."""

    r = as_tensor_variable(r)
    if isinstance(r, Constant) and r.weak:  # a gradient has a fixed dtype, not a Python scalar's
        r = Constant(r.data)
    if r.ndim != x.ndim:
        raise RuntimeError(f"VJP rule of {node.op} returned a cotangent of {r.ndim} dimensions for {x} "
                           f"({x.ndim} dimensions)")
    axes = tuple(d for d in range(x.ndim) if x.type.shape[d] == 1 and r.type.shape[d] != 1)
    if axes:
        r = reduce_sum(r, axis=axes, keepdims=True)
    dtype = _grad_dtype(x)
    return r if r.dtype == dtype else cast(r, dtype)


#: more cotangent terms than this are summed as a balanced tree (depth log2 n), fewer left to right
BALANCED_SUM_FROM = 8


def _total(terms):
    """The sum of cotangent ``terms`` (or the first undefined one). Many terms — a variable used
    thousands of times — are added as a balanced tree: a left-to-right chain would be as deep as
    the number of uses, and every later pass over the graph would walk that depth."""
    for t in terms:
        if isinstance(t, vjp.NullGrad):
            return t
    if len(terms) <= BALANCED_SUM_FROM:
        return functools.reduce(lambda a, b: a + b, terms)
    terms = list(terms)
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def backprop(seeds, wrt, consider_constant=()):
    """Cotangents of ``wrt`` given ``seeds`` (``[(variable, cotangent)]``).

    Returns one entry per ``wrt``: a variable, a ``NullGrad``, ``"zero"`` (connected, zero) or
    ``"unreached"`` (disconnected).
    """
    with gc_paused():  # a big gradient builds as many nodes as the graph has: no full collections
        return _backprop(seeds, wrt, consider_constant)



def _backprop(seeds, wrt, consider_constant):
    nodes = toposort([v for v, _ in seeds])
    wrt_ids = {id(w) for w in wrt}
    cut = {id(v) for v in consider_constant}  # a wrt among them gets its gradient, passed no further (PyTensor)
    relevant = set(wrt_ids)  # variables that depend on some wrt through connected edges
    for node in nodes:
        o = node.out
        if id(o) in relevant or id(o) in cut:
            continue
        if any(id(i) in relevant and _connected(node, p) for p, i in enumerate(node.inputs)):
            relevant.add(id(o))
    ct: dict[int, list] = {}
    reached: set[int] = set()
    for v, g in seeds:
        if id(v) in relevant:
            ct.setdefault(id(v), []).append(g)
            reached.add(id(v))
    for node in reversed(nodes):
        o = node.out
        if id(o) not in reached or id(o) in cut:
            continue
        targets = [(p, i) for p, i in enumerate(node.inputs) if id(i) in relevant and _connected(node, p)]
        reached.update(id(i) for _, i in targets)
        terms = ct.get(id(o))
        complex_out = o.dtype.startswith("complex")
        if not targets or not terms or (_discrete(o) or not _differentiable(node.op.defn)) and not complex_out:
            continue
        g = _through_complex(o) if complex_out else _total(terms)
        ct[id(o)] = [g]
        if isinstance(g, vjp.NullGrad):
            results = [g] * len(node.inputs)
        else:
            rule = gradients.RULES.get(node.op.name)
            if rule is None:
                raise NotImplementedError(
                    f"op {node.op.name!r} has no VJP rule in eqtensor.rules.gradients and is not declared "
                    f"differentiable=False; cannot differentiate through {o}")
            results = rule(node.op, node.inputs, o, g, backprop)  # scan's rule differentiates its step with it
            if len(results) != len(node.inputs):
                raise RuntimeError(f"VJP rule of {node.op} returned {len(results)} cotangents for "
                                   f"{len(node.inputs)} inputs")
        for p, i in targets:
            r = results[p]
            if r is not None and r is not vjp.ZERO and i.dtype.startswith("complex"):
                r = _through_complex(i)
            elif r is None or r is vjp.ZERO or (_discrete(i) and id(i) not in wrt_ids):
                continue  # an integer wrt gets its real-valued cotangent (PyTensor); other integers none
            ct.setdefault(id(i), []).append(r if isinstance(r, vjp.NullGrad) else _fit(r, i, node))
    out = []
    for w in wrt:
        terms = ct.get(id(w))
        out.append(_total(terms) if terms else _ZERO if id(w) in reached else _UNREACHED)
    return out


# --------------------------------------------------------------------------- grad
def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _as_list(x, what):
    """``(items, rebuild)``: ``rebuild`` gives results the structure of ``x`` (single, list, tuple)."""
    if isinstance(x, (list, tuple)):
        items = list(x)
        rebuild = tuple if isinstance(x, tuple) else list
    else:
        items = [x]
        rebuild = lambda r: r[0]  # noqa: E731
    for k, v in enumerate(items):
        if not isinstance(v, Variable):
            raise TypeError(f"{what} must be a symbolic variable or a list of them; item {k} is "
                            f"{type(v).__name__} {v!r}")
    return items, rebuild


def _seeds(cost, known_grads, where):
    seeds = []
    if cost is None and not known_grads:
        raise ValueError(f"{where}: give a cost or known_grads")
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(
                f"{where}: the cost must be a scalar (0-d tensor), got {cost} of type {cost.type}; reduce "
                f"it (e.g. cost.sum()) or use jacobian / Lop for non-scalar expressions")
        # PyTensor's seed: 1 that keeps the cost (hence its inputs) in the gradient's graph, so a
        # function of the gradient takes the inputs the cost took (``second_same_type`` drops it)
        seeds.append((cost, second(cost, Constant(np.ones((), _grad_dtype(cost))))))
    for v, g in (known_grads or {}).items():
        if not isinstance(v, Variable):
            raise TypeError(f"{where}: known_grads keys must be symbolic variables, got {v!r}")
        g = as_tensor_variable(g)
        if g.ndim != v.ndim:
            raise ValueError(f"{where}: known gradient of {v} ({v.type}) has {g.ndim} dimensions, expected "
                             f"{v.ndim}")
        for d, (a, b) in enumerate(zip(v.type.shape, g.type.shape)):
            if a is not None and b is not None and a != b:
                raise ValueError(f"{where}: known gradient of {v} has static shape {g.type.shape}, but {v} has "
                                 f"static shape {v.type.shape}")
        if not _discrete(v) and g.dtype != v.dtype:
        
            g = cast(g, v.dtype)
        seeds.append((v, g))
    return cost, seeds


def zeros_like(x, dtype=None):
    """Zeros with ``x``'s run-time shape, with ``x`` kept in the graph (as PyTensor's zero gradients:
    a function of them takes ``x`` as an input even when its shape is static)."""
    return second(x, vjp.zeros_like(x, dtype))


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True, known_grads=None,
         return_disconnected="zero", null_gradients="raise"):
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or a list/tuple;
    the result has the same structure).

    ``consider_constant``: variables treated as constants. ``known_grads``: ``{variable: cotangent}``
    seeds added to (or, with ``cost=None``, replacing) the cost's. ``disconnected_inputs``:
    ``'raise'`` (:class:`DisconnectedInputError`), ``'warn'`` or ``'ignore'`` when the cost does not
    depend on a ``wrt``; its gradient is then zeros, ``None`` or a :class:`DisconnectedType` per
    ``return_disconnected`` (``'zero'``, ``'none'``, ``'disconnected'``). ``null_gradients``:
    ``'raise'`` (:class:`NullTypeGradError`) or ``'return'`` for undefined gradients.

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> gx, gy = grad(x * y + x, [x, y])
    >>> float(gx.eval({x: 2.0, y: 3.0})), float(gy.eval({x: 5.0, y: 3.0}))  # the cost's inputs (see _seeds)
    (4.0, 5.0)
    >>> grad(pt.dvector("v"), x)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: grad: the cost must be a scalar (0-d tensor), got v of type ...; reduce it (e.g. cost.sum()) ...
    """
    _check_choice("disconnected_inputs", disconnected_inputs, ("raise", "warn", "ignore"))
    _check_choice("return_disconnected", return_disconnected, ("zero", "none", "disconnected"))
    _check_choice("null_gradients", null_gradients, ("raise", "return"))
    wrt_list, rebuild = _as_list(wrt, "grad: wrt")
    cost, seeds = _seeds(cost, known_grads, "grad")
    consider_constant = list(consider_constant or [])
    results = backprop(seeds, wrt_list, consider_constant)
    existing = {id(v) for v in ancestors([v for s in seeds for v in s])} if add_names else set()
    out = []
    for k, (w, r) in enumerate(zip(wrt_list, results)):
        if r is _UNREACHED:
            if disconnected_inputs != "ignore":
                msg = (f"grad: the cost does not depend on wrt[{k}] ({w}): it is not part of the cost's graph, "
                       f"or only reaches it through disconnected_grad, consider_constant or a shape. Use "
                       f"disconnected_inputs='ignore' (or 'warn') to get a zero gradient")
                if disconnected_inputs == "raise":
                    raise DisconnectedInputError(msg)
                warnings.warn(msg, stacklevel=2)
            r = {"zero": zeros_like(w, _grad_dtype(w)), "none": None,
                 "disconnected": DisconnectedType()}[return_disconnected]
        elif r is _ZERO:
            r = zeros_like(w, _grad_dtype(w))
        elif isinstance(r, vjp.NullGrad):
            if null_gradients == "raise":
                raise NullTypeGradError(f"grad: the gradient with respect to wrt[{k}] ({w}) is undefined: "
                                        f"{r.reason}")
        elif add_names and cost is not None and cost.name and w.name and r.name is None and id(r) not in existing:
            r.name = f"(d{cost.name}/d{w.name})"
        out.append(r)
    return rebuild(out)


# --------------------------------------------------------------------------- hessian-vector product
def hessian_vector_product(cost, wrt, p, **grad_kwargs):
    """``H p`` for the hessian ``H`` of ``cost`` (``wrt`` and ``p`` variables or lists), without
    building ``H``: the gradient of ``sum(grad(cost, wrt) * p)``. No static shapes needed.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x, p = pt.dvector("x"), pt.dvector("p")
    >>> hessian_vector_product((x ** 3).sum(), x, p).eval({x: np.array([1.0, 2.0]), p: np.array([1.0, 1.0])})
    array([ 6., 12.])
    """
    wrt_list, rebuild = _as_list(wrt, "hessian_vector_product: wrt")
    p_list = [as_tensor_variable(v) for v in (p if isinstance(p, (list, tuple)) else [p])]
    if len(p_list) != len(wrt_list):
        raise ValueError(f"hessian_vector_product: {len(wrt_list)} wrt variables but {len(p_list)} vectors p")

    grads = grad(cost, wrt_list, **grad_kwargs)
    inner = _total([reduce_sum(g * v) for g, v in zip(grads, p_list)])
    return rebuild(grad(inner, wrt_list, **grad_kwargs))


# --------------------------------------------------------------------------- Lop / Rop
def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """Left operator: ``eval_points^T (d f / d wrt)`` (a vector-Jacobian product), shaped like ``wrt``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x, v = pt.dvector("x"), pt.dvector("v")
    >>> Lop(x ** 2, x, v).eval({x: np.array([1.0, 2.0]), v: np.array([1.0, 10.0])})
    array([ 2., 40.])
    """
    f_list, _ = _as_list(f, "Lop: f")
    ev_list, _ = _as_list(eval_points if isinstance(eval_points, (list, tuple)) else as_tensor_variable(eval_points),
                          "Lop: eval_points")
    if len(f_list) != len(ev_list):
        raise ValueError(f"Lop: {len(f_list)} expressions but {len(ev_list)} eval_points")
    return grad(None, wrt, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
                known_grads=dict(zip(f_list, ev_list)), add_names=False)


def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero"):
    """Right operator: ``(d f / d wrt) eval_points`` (a Jacobian-vector product), shaped like ``f``.

    Built with the double-VJP trick: ``u -> J^T u`` is linear, and its VJP with ``eval_points`` is
    ``J eval_points``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x, v = pt.dvector("x"), pt.dvector("v")
    >>> Rop(x ** 2, x, v).eval({x: np.array([1.0, 2.0]), v: np.array([1.0, 10.0])})
    array([ 2., 40.])
    """
    _check_choice("disconnected_outputs", disconnected_outputs, ("raise", "warn", "ignore"))
    _check_choice("return_disconnected", return_disconnected, ("zero", "none"))
    f_list, rebuild = _as_list(f, "Rop: f")
    wrt_list, _ = _as_list(wrt, "Rop: wrt")
    ev_list = [as_tensor_variable(e) for e in (eval_points if isinstance(eval_points, (list, tuple))
                                               else [eval_points])]
    if len(wrt_list) != len(ev_list):
        raise ValueError(f"Rop: {len(wrt_list)} wrt variables but {len(ev_list)} eval_points")
    for w, e in zip(wrt_list, ev_list):
        if e.ndim != w.ndim:
            raise ValueError(f"Rop: eval point {e} ({e.type}) must have the dimensions of {w} ({w.type})")
    dummies = [Variable(TensorType(_grad_dtype(fi), fi.type.shape), name=f"u_{k}") for k, fi in enumerate(f_list)]
    vjps = grad(None, wrt_list, known_grads=dict(zip(f_list, dummies)), disconnected_inputs="ignore",
                return_disconnected="none", add_names=False)

    terms = [reduce_sum(vj * e) for vj, e in zip(vjps, ev_list) if vj is not None]
    # seeded as known_grads (no cost kept in the graph): the result reads f's inputs only where it needs them
    jvps = (grad(None, dummies, known_grads={_total(terms): np.ones((), _grad_dtype(terms[0]))},
                 disconnected_inputs="ignore", return_disconnected="none", add_names=False)
            if terms else [None] * len(f_list))
    # the result does not depend on the dummies' values (linearity); they may remain in shapes
    swap = {u: fi for u, fi in zip(dummies, f_list) if u.type.dtype == fi.dtype}
    out = []
    for k, (fi, j) in enumerate(zip(f_list, jvps)):
        if j is None:
            if disconnected_outputs != "ignore":
                msg = f"Rop: f[{k}] ({fi}) does not depend on wrt"
                if disconnected_outputs == "raise":
                    raise DisconnectedInputError(msg)
                warnings.warn(msg, stacklevel=2)
            out.append(zeros_like(fi, _grad_dtype(fi)) if return_disconnected == "zero" else None)
        else:
            out.append(clone_replace([j], swap)[0] if swap else j)
    return rebuild(out)


# --------------------------------------------------------------------------- gradient markers
def _marker(name, x, **params):
    return Op(OPS[name], params)(as_tensor_variable(x))


def zero_grad(x):
    """``x`` in the forward graph, with a zero gradient.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> float(grad(x * zero_grad(x), x).eval({x: 3.0}))
    3.0
    """
    return _marker("zero_grad", x)


def disconnected_grad(x):
    """``x`` in the forward graph, treated as a constant by ``grad`` (no gradient flows through it).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> float(grad(x * disconnected_grad(x ** 2), x).eval({x: 3.0}))
    9.0
    """
    return _marker("disconnected_grad", x)


def undefined_grad(x):
    """``x`` in the forward graph, whose gradient is undefined (``grad`` raises
    :class:`NullTypeGradError` when it is needed)."""
    return _marker("undefined_grad", x)


def grad_clip(x, lower_bound, upper_bound):
    """``x`` in the forward graph; the gradient flowing through it is clipped to the bounds.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> float(grad(grad_clip(x, -1.0, 1.0) * 5.0, x).eval({x: 0.0}))
    1.0
    """
    if lower_bound > upper_bound:
        raise ValueError(f"grad_clip: lower_bound {lower_bound} is above upper_bound {upper_bound}")
    return _marker("grad_clip", x, lower=float(lower_bound), upper=float(upper_bound))


def grad_scale(x, multiplier):
    """``x`` in the forward graph; the gradient flowing through it is multiplied by ``multiplier``.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> float(grad(grad_scale(x ** 2, 0.5), x).eval({x: 3.0}))
    3.0
    """
    return _marker("grad_scale", x, multiplier=float(multiplier))
