"""Gradients checked against central finite differences: ``verify_grad_with`` and the reference
``evaluator`` it compiles graphs with when no backend is wanted."""

from __future__ import annotations

import numpy as np

from ..core.dtypes import FLOAT_DTYPES
from ..core.evaluate import evaluate
from ..core.graph import TensorType, Variable
from .autodiff import GradientError, grad

#: dtype -> (finite-difference step, default abs_tol and rel_tol)
_FD = {"float16": (1e-1, 5e-2), "float32": (1e-3, 1e-2), "float64": (1e-6, 1e-4)}


def evaluator(inputs, outputs):
    """A callable evaluating ``outputs`` from ``inputs`` with the reference interpreter (for
    :func:`verify_grad_with`): the graph as written, without optimizing or compiling it."""
    many = isinstance(outputs, (list, tuple))
    outs = list(outputs) if many else [outputs]

    def run(*values):
        res = evaluate(outs, {i: i.type.filter(v, name=str(i), allow_downcast=True) for i, v in zip(inputs, values)})
        return res if many else res[0]

    return run


def _rel_err(a, b):
    abs_err = np.abs(a - b)
    denom = np.abs(a) + np.abs(b)
    with np.errstate(all="ignore"):
        rel = np.where(denom > 0, abs_err / np.where(denom > 0, denom, 1), 0.0)
    return abs_err, rel


def _point(pt):
    """The arrays of the point ``pt``, checked to be a list of floating-point arrays."""
    if not isinstance(pt, (list, tuple)):
        raise TypeError(f"verify_grad: pt must be a list of arrays (one per argument of fun), got {type(pt).__name__}")
    values = [np.array(p) for p in pt]
    for k, v in enumerate(values):
        if v.dtype.name not in FLOAT_DTYPES:
            raise TypeError(f"verify_grad: argument {k} has dtype {v.dtype}; gradients are checked at "
                            f"floating-point points")
    return values


def _traced(fun, values):
    """``(inputs, out)``: one symbolic input per value and ``fun``'s floating-point output on them."""
    inputs = [Variable(TensorType(v.dtype, tuple(1 if s == 1 else None for s in v.shape)), name=f"input_{k}")
              for k, v in enumerate(values)]
    out = fun(*inputs)
    if not isinstance(out, Variable):
        raise TypeError(f"verify_grad: fun must return one symbolic variable, got {type(out).__name__}")
    if out.dtype not in FLOAT_DTYPES:
        raise TypeError(f"verify_grad: fun returned {out} of dtype {out.dtype}; it must be floating-point")
    return inputs, out


def _numeric_grad(f_cost, values, k, p, eps):
    """The central finite-difference gradient of ``f_cost`` with respect to argument ``k``."""
    v = values[k]
    numeric = np.zeros(v.shape, dtype="float64")
    for idx in np.ndindex(*v.shape):
        x = [w.copy() for w in values]
        x[k][idx] = v[idx] + eps
        hi = float(f_cost(*x, p))
        x[k][idx] = v[idx] - eps
        lo = float(f_cost(*x, p))
        numeric[idx] = (hi - lo) / (2 * eps)
    return numeric


def _compare(k, v, a, numeric, abs_tol, rel_tol):
    """Raise :class:`GradientError` when the analytic ``a`` and ``numeric`` disagree somewhere."""
    abs_err, rel_err = _rel_err(np.asarray(a, dtype="float64"), numeric)
    if not np.isfinite(abs_err).all():  # a NaN or infinite gradient checks nothing (PyTensor: ValueError too)
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(abs_err))[0])
        raise ValueError(
            f"verify_grad: the gradients of argument {k} (shape {v.shape}) are not finite at index {idx}: "
            f"analytic {float(np.asarray(a, dtype='float64')[idx]):.6g}, numeric {numeric[idx]:.6g}; "
            f"choose a point where the function and its derivatives are finite")
    bad = (abs_err > abs_tol) & (rel_err > rel_tol)
    if not bad.any():
        return
    idx = np.unravel_index(int(np.argmax(np.where(bad, abs_err, -1))), v.shape)
    raise GradientError(
        f"verify_grad: analytic and numeric gradients differ for argument {k} (shape {v.shape}) at "
        f"index {tuple(int(i) for i in idx)}: analytic {float(np.asarray(a)[idx]):.6g}, numeric "
        f"{numeric[idx]:.6g}; abs. error {abs_err[idx]:.3g} (tol {abs_tol:g}), rel. error "
        f"{rel_err[idx]:.3g} (tol {rel_tol:g})",
        arg=k, index=idx, analytic=np.asarray(a), numeric=numeric, abs_err=abs_err, rel_err=rel_err,
        abs_tol=abs_tol, rel_tol=rel_tol)


def verify_grad_with(compile, fun, pt, n_tests=2, rng=None, eps=None, abs_tol=None, rel_tol=None):
    """Check ``grad`` of ``fun`` at the point ``pt`` (a list of arrays) against central finite
    differences, on ``n_tests`` random projections of ``fun``'s output. Raises :class:`GradientError`
    naming the argument, the element, both values and the errors when they disagree (an element
    passes when within ``abs_tol`` or within ``rel_tol``).

    ``compile(inputs, outputs)`` turns graphs into callables: :func:`eqtensor.gradient.verify_grad`
    passes ``function`` in a mode; :func:`evaluator` checks the graphs as written, unoptimized.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> from eqtensor.rules.autodiff import zero_grad
    >>> verify_grad_with(evaluator, lambda x: pt.tanh(x) * x, [np.array([0.5, -1.0])], rng=np.random.default_rng(0))
    >>> verify_grad_with(evaluator, lambda x: zero_grad(x) * x, [np.array([0.5, 2.0])])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    eqtensor.rules.autodiff.GradientError: verify_grad: analytic and numeric gradients differ for argument 0 (shape (2,)) at index (1,): analytic ..., numeric ...; abs. error ... (tol 0.0001), rel. error 0.333 (tol 0.0001)
    """
    values = _point(pt)
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    inputs, out = _traced(fun, values)
    lowest = min([out.dtype] + [v.dtype.name for v in values], key=lambda d: np.finfo(d).bits)
    step, tol = _FD[lowest]
    eps = step if eps is None else eps
    abs_tol = tol if abs_tol is None else abs_tol
    rel_tol = tol if rel_tol is None else rel_tol
    proj = Variable(TensorType(out.dtype, out.type.shape), name="projection")
    cost = (out * proj).sum()
    f_cost = compile(inputs + [proj], cost)
    f_grad = compile(inputs + [proj], grad(cost, inputs, disconnected_inputs="ignore"))
    out_shape = np.shape(compile(inputs, out)(*values))
    for _ in range(n_tests):
        p = np.asarray(rng.random(out_shape) + 0.5, dtype=out.dtype)
        analytic = f_grad(*values, p)
        for k, (v, a) in enumerate(zip(values, analytic)):
            _compare(k, v, a, _numeric_grad(f_cost, values, k, p, eps), abs_tol, rel_tol)
