"""Finite-difference checks of the VJP rules (the rule checker for gradients).

:data:`SAMPLES` gives, per op name, graphs that use the op and the domains of their inputs;
:func:`check_vjp` draws random inputs from those domains and compares ``grad`` with central finite
differences (:func:`eqtensor.gradient.verify_grad`). The test suite requires a sample for every
differentiable op and every rule.

>>> check_vjp(["exp", "dot"], trials=1).ok
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import tensor as pt
from ..core.gradient import GradientError, verify_grad
from ..core.graph import Constant
from ..core.op import OPS, Op
from ..core.ops import blas
from ..core.ops.shape import make_vector
from .checker import CheckResult
from .gradients import polygamma


@dataclass(frozen=True)
class U:
    """Uniform random values in ``[lo, hi)`` of ``shape`` and ``dtype``, plus ``diag`` on the diagonal."""

    lo: float
    hi: float
    shape: tuple
    dtype: str = "float64"
    diag: float = 0.0

    def draw(self, rng):
        v = rng.uniform(self.lo, self.hi, self.shape)
        if self.diag:
            v = v + self.diag * np.eye(self.shape[-1])
        return v.astype(self.dtype)


def u(lo, hi, *shape, dtype="float64", diag=0.0) -> U:
    return U(lo, hi, shape, dtype, diag)


def un(name):
    """A graph applying elementwise op ``name`` to one input."""
    return lambda x: Op(OPS[name])(x)


def bi(name):
    """A graph applying elementwise op ``name`` to two inputs."""
    return lambda x, y: Op(OPS[name])(x, y)


MASK = np.array([[True, False, True], [False, True, True]])

#: op name -> list of (fun, input specs): a spec is a :class:`U` (random) or a fixed array; an input of
#: shape (1, n) against (m, n) exercises broadcasting
SAMPLES = {
    "add": [(bi("add"), [u(-2, 2, 2, 3), u(-2, 2, 1, 3)])],
    "sub": [(bi("sub"), [u(-2, 2, 2, 3), u(-2, 2, 2, 1)])],
    "mul": [(bi("mul"), [u(-2, 2, 2, 3), u(-2, 2, 1, 3)]), (lambda x: x * x, [u(-2, 2, 4)])],
    "true_div": [(bi("true_div"), [u(-2, 2, 2, 3), u(0.5, 2, 1, 3)])],
    "mod": [(bi("mod"), [u(2.5, 2.9, 3), u(1.5, 1.6, 3)])],
    "pow": [(bi("pow"), [u(0.5, 2, 2, 3), u(-1.5, 1.5, 2, 3)]), (lambda x: x ** 3, [u(-2, 2, 3)]),
            (lambda x: x ** 2, [u(-2, 2, 3)])],
    "maximum": [(bi("maximum"), [np.array([0.3, -1.0, 2.0]), np.array([0.1, 0.5, 2.5])])],
    "minimum": [(bi("minimum"), [np.array([0.3, -1.0, 2.0]), np.array([0.1, 0.5, 2.5])])],
    "arctan2": [(bi("arctan2"), [u(-2, 2, 3), u(0.5, 2, 3)])],
    "neg": [(un("neg"), [u(-2, 2, 3)])],
    "abs": [(un("abs"), [np.array([-1.5, 0.7, 2.0])])],
    "exp": [(un("exp"), [u(-2, 2, 3)])],
    "exp2": [(un("exp2"), [u(-2, 2, 3)])],
    "expm1": [(un("expm1"), [u(-2, 2, 3)])],
    "log": [(un("log"), [u(0.5, 3, 3)])],
    "log2": [(un("log2"), [u(0.5, 3, 3)])],
    "log10": [(un("log10"), [u(0.5, 3, 3)])],
    "log1p": [(un("log1p"), [u(-0.5, 3, 3)])],
    "sqrt": [(un("sqrt"), [u(0.5, 3, 3)])],
    "sqr": [(un("sqr"), [u(-2, 2, 3)])],
    "reciprocal": [(un("reciprocal"), [u(0.5, 3, 3)])],
    "sin": [(un("sin"), [u(-3, 3, 3)])],
    "cos": [(un("cos"), [u(-3, 3, 3)])],
    "tan": [(un("tan"), [u(-1, 1, 3)])],
    "arcsin": [(un("arcsin"), [u(-0.8, 0.8, 3)])],
    "arccos": [(un("arccos"), [u(-0.8, 0.8, 3)])],
    "arctan": [(un("arctan"), [u(-3, 3, 3)])],
    "sinh": [(un("sinh"), [u(-2, 2, 3)])],
    "cosh": [(un("cosh"), [u(-2, 2, 3)])],
    "tanh": [(un("tanh"), [u(-2, 2, 3)])],
    "arcsinh": [(un("arcsinh"), [u(-2, 2, 3)])],
    "arccosh": [(un("arccosh"), [u(1.5, 3, 3)])],
    "arctanh": [(un("arctanh"), [u(-0.8, 0.8, 3)])],
    "sigmoid": [(un("sigmoid"), [u(-3, 3, 3)])],
    "softplus": [(un("softplus"), [u(-3, 3, 3)])],
    "log1mexp": [(un("log1mexp"), [u(-3, -0.1, 3)])],
    "erf": [(un("erf"), [u(-2, 2, 3)])],
    "erfc": [(un("erfc"), [u(-2, 2, 3)])],
    "erfinv": [(un("erfinv"), [u(-0.8, 0.8, 3)])],
    "gammaln": [(un("gammaln"), [u(0.5, 4, 3)])],
    "psi": [(un("psi"), [u(0.5, 4, 3)])],
    "polygamma": [(lambda x: polygamma(1, x), [u(0.5, 4, 3)])],
    "switch": [(lambda a, b: pt.switch(Constant(np.array([True, False, True])), a, b), [u(-2, 2, 3), u(-2, 2, 1)])],
    "clip": [(lambda x, lo, hi: pt.clip(x, lo, hi), [np.array([-2.0, 0.1, 2.0, 0.5]), np.array([-1.0]),
                                                      np.array([1.0])])],
    "cast": [(lambda x: pt.cast(x, "float32"), [u(-2, 2, 3)]),
             (lambda x: pt.cast(x, "float64"), [u(-2, 2, 3, dtype="float32")])],
    "dimshuffle": [(lambda x: x.dimshuffle(1, "x", 0), [u(-2, 2, 2, 3)]),
                   (lambda x: x.dimshuffle(1), [u(-2, 2, 1, 3)])],
    "reshape": [(lambda x: x.reshape((3, 2)), [u(-2, 2, 2, 3)]), (lambda x: x.flatten(), [u(-2, 2, 2, 1)])],
    "alloc": [(lambda x: pt.alloc(x, 2, 3), [u(-2, 2, 3)]), (lambda x: pt.alloc(x, 4, 3), [u(-2, 2, 1, 3)]),
              (lambda x: pt.alloc(x, 2, 3), [u(-2, 2)])],
    "concatenate": [(lambda a, b: pt.concatenate([a, b], axis=1), [u(-2, 2, 2, 3), u(-2, 2, 2, 1)]),
                    (lambda a, b: pt.concatenate([a, b, a]), [u(-2, 2, 2), u(-2, 2, 3)])],
    "make_vector": [(lambda a, b: make_vector(a, b * 2), [u(-2, 2), u(-2, 2)])],
    "sum": [(lambda x: x.sum(), [u(-2, 2, 2, 3)]), (lambda x: x.sum(axis=0), [u(-2, 2, 2, 3)]),
            (lambda x: x.sum(axis=1, keepdims=True), [u(-2, 2, 2, 3)]), (lambda x: x.sum(axis=0), [u(-2, 2, 1, 3)])],
    "prod": [(lambda x: x.prod(axis=1), [u(0.5, 2, 2, 3)]),
             (lambda x: x.prod(axis=1), [np.array([[0.0, 1.5, 2.0], [0.0, 0.0, 3.0]])]),
             (lambda x: x.prod(), [np.array([0.7, -1.2, 0.0])])],
    "max": [(lambda x: x.max(axis=1), [np.array([[0.1, 0.9, -0.3], [1.2, -2.0, 0.4]])]),
            (lambda x: x.max(), [np.array([[0.1, 0.9, -0.3]])])],
    "min": [(lambda x: x.min(axis=0, keepdims=True), [np.array([[0.1, 0.9, -0.3], [1.2, -2.0, 0.4]])])],
    "logsumexp": [(lambda x: pt.logsumexp(x, axis=1), [u(-3, 3, 2, 3)]), (lambda x: pt.logsumexp(x), [u(-3, 3, 4)])],
    "softmax": [(lambda x: pt.special.softmax(x, axis=-1), [u(-3, 3, 2, 3)]),
                (lambda x: pt.special.softmax(x), [u(-3, 3, 4)])],
    "log_softmax": [(lambda x: pt.special.log_softmax(x, axis=1), [u(-3, 3, 2, 3)])],
    "dot": [(lambda a, b: pt.dot(a, b), [u(-1, 1, 2, 3), u(-1, 1, 3, 4)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 2, 3), u(-1, 1, 3)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 3), u(-1, 1, 3, 4)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 3), u(-1, 1, 3)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1), u(-1, 1, 2, 3)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 2, 2, 3), u(-1, 1, 4, 3, 2)])],
    "matmul": [(lambda a, b: a @ b, [u(-1, 1, 2, 3), u(-1, 1, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 2, 2, 3), u(-1, 1, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 1, 2, 3), u(-1, 1, 2, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 3), u(-1, 1, 2, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 2, 3), u(-1, 1, 3)])],
    "matrix_inverse": [(lambda x: pt.linalg.inv(x), [u(-0.3, 0.3, 3, 3, diag=2.0)])],
    "det": [(lambda x: pt.linalg.det(x), [u(-0.3, 0.3, 3, 3, diag=2.0)])],
    "solve": [(lambda a, b: pt.linalg.solve(a, b), [u(-0.3, 0.3, 3, 3, diag=2.0), u(-1, 1, 3)]),
              (lambda a, b: pt.linalg.solve(a, b), [u(-0.3, 0.3, 3, 3, diag=2.0), u(-1, 1, 3, 2)])],
    "gemm": [(lambda c, al, a, b, be: blas.gemm(c, al, a, b, be), [u(-1, 1, 2, 4), u(0.5, 1, 1, 1), u(-1, 1, 2, 3),
                                                                   u(-1, 1, 3, 4), u(0.5, 1)])],
    "gemv": [(lambda y, al, a, x, be: blas.gemv(y, al, a, x, be), [u(-1, 1, 2), u(0.5, 1, 1), u(-1, 1, 2, 3),
                                                                   u(-1, 1, 3), u(0.5, 1, 1, 1)])],
    "ger": [(lambda c, al, x, y: blas.ger(c, al, x, y), [u(-1, 1, 2, 3), u(0.5, 1), u(-1, 1, 2), u(-1, 1, 3)])],
    "subtensor": [(lambda x: x[1:, ::2], [u(-2, 2, 3, 4)]), (lambda x: x[0], [u(-2, 2, 3, 4)]),
                  (lambda x: x[None, ..., -1], [u(-2, 2, 3, 4)])],
    "advanced_subtensor": [(lambda x: x[[0, 2, 0]], [u(-2, 2, 3, 2)]),
                           (lambda x: x[Constant(MASK)], [u(-2, 2, 2, 3)]),
                           (lambda x: x[:, [1, 1]], [u(-2, 2, 2, 3)])],
    "set_subtensor": [(lambda x, y: pt.set_subtensor(x[1:], y), [u(-2, 2, 3, 2), u(-2, 2, 2)]),
                      (lambda x, y: pt.set_subtensor(x[[0, 2]], y), [u(-2, 2, 3, 2), u(-2, 2, 2, 2)])],
    "inc_subtensor": [(lambda x, y: pt.inc_subtensor(x[1:], y), [u(-2, 2, 3, 2), u(-2, 2, 1, 2)]),
                      (lambda x, y: pt.inc_subtensor(x[[0, 0, 2]], y), [u(-2, 2, 3, 2), u(-2, 2, 2)])],
}

#: gradient-marker ops: identities whose gradient is deliberately not the identity's (checked by
#: their own tests)
MARKERS = {"zero_grad", "disconnected_grad", "undefined_grad", "grad_clip", "grad_scale"}


def draw(specs, rng) -> list:
    """Input values for a sample's specs."""
    return [s.draw(rng) if isinstance(s, U) else np.array(s) for s in specs]


def check_vjp(names=None, trials: int = 2, seed: int = 0, mode="FAST_COMPILE") -> CheckResult:
    """Check the VJP rules of ``names`` (default: every op with samples) on ``trials`` random draws of
    each sample; failures name the op, the sample and the mismatch."""
    rng = np.random.default_rng(seed)
    names = sorted(SAMPLES) if names is None else list(names)
    result = CheckResult(rules=len(names))
    for name in names:
        for k, (fun, specs) in enumerate(SAMPLES[name]):
            for _ in range(trials if any(isinstance(s, U) for s in specs) else 1):
                result.trials += 1
                try:
                    verify_grad(fun, draw(specs, rng), n_tests=1, rng=rng, mode=mode)
                except GradientError as e:
                    result.failures.append(f"{name} (sample {k}): {e}")
                    break
    return result
