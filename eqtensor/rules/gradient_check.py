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

from .autodiff import GradientError
from .finite_differences import evaluator, verify_grad_with
from ..core.graph import Constant
from ..core.op import OPS, Op
from ..core.ops import (
    blas, broadcast, cumulative, elemwise, join, linalg, nnet, reduction, repetition, shape_checks, sorting, statistics,
    subtensor,
)
from ..core.ops import eigen, factorizations, matrix_functions, nlinalg, solvers
from ..core.ops.scan import Recurrent, ScanInner, apply_scan
from ..core.ops.shape import make_vector
from ..core.graph import TensorType, Variable
from .checker import CheckResult
from ..core.ops.elemwise import polygamma


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


def _scan_sample(x, init, w):
    """A scan: ``h_t = tanh(w * h_{t-2} + x_t) + h_{t-1} / 2`` over the rows of ``x`` (taps -2, -1)."""
    x_t, h2, h1, w_ph = (Variable(TensorType("float64", (None,))) for _ in range(4))
    step = elemwise.tanh(w_ph * h2 + x_t) + h1 * 0.5
    inner = ScanInner([x_t], [h2, h1], [w_ph], [step], [Recurrent(0, (-2, -1))])
    return apply_scan(inner, [x, init, w])[0]


MASK = np.array([[True, False, True], [False, True, True]])

def _from_domain(name) -> list:
    """The sample of an elementwise op from its record's ``grad_domain``: random inputs in the domain,
    of shapes (3,) for one input, else (2, 3), (1, 3), (2, 1) (broadcasting)."""
    d = OPS[name]
    shapes = [(3,)] if d.nin == 1 else [(2, 3), (1, 3), (2, 1)][:d.nin]
    return [(lambda *xs: Op(d)(*xs), [u(lo, hi, *shape) for (lo, hi), shape in zip(d.grad_domain, shapes)])]


#: op name -> list of (fun, input specs): a spec is a :class:`U` (random) or a fixed array; an input of
#: shape (1, n) against (m, n) exercises broadcasting. Elementwise ops with a ``grad_domain`` get
#: their sample from it (:func:`_from_domain`) unless listed here.
#: a matrix whose LU factorization interchanges rows
PIVOTING = np.array([[0.1, 2.0, 0.3], [1.5, 0.2, 0.4], [0.3, 0.5, 2.5]])
_SPD = u(-0.3, 0.3, 3, 3, diag=2.0)  # diagonally dominant: each triangle gives a positive-definite matrix
_LINALG = {
    "cholesky": [(lambda a: solvers.cholesky(a), [_SPD]),
                 (lambda a: solvers.cholesky(a, lower=False), [u(-0.3, 0.3, 2, 3, 3, diag=2.0)])],
    "cholesky_grad": [(lambda ell, g: Op(OPS["cholesky_grad"])(ell, g), [_SPD, u(-1, 1, 3, 3)])],
    "solve_triangular": [(lambda a, b: solvers.solve_triangular(a, b, lower=True), [_SPD, u(-1, 1, 3)]),
                         (lambda a, b: solvers.solve_triangular(a, b, trans=1, unit_diagonal=True),
                          [_SPD, u(-1, 1, 3, 2)]),
                         (lambda a, b: solvers.solve_triangular(a, b), [u(-0.3, 0.3, 2, 3, 3, diag=2.0),
                                                                        u(-1, 1, 3, 2)])],
    "cho_solve": [(lambda c, b: solvers.cho_solve((c, True), b), [_SPD, u(-1, 1, 3)]),
                  (lambda c, b: solvers.cho_solve((c, False), b), [_SPD, u(-1, 1, 2, 3, 2)])],
    "blockwise_solve": [(lambda a, b: solvers.solve(a, b), [u(-0.3, 0.3, 2, 3, 3, diag=2.0), u(-1, 1, 2, 3, 2)]),
                        (lambda a, b: solvers.solve(a, b, assume_a="sym", lower=True), [_SPD, u(-1, 1, 3)]),
                        (lambda a, b: solvers.solve(a, b, assume_a="pos", b_ndim=1), [_SPD, u(-1, 1, 2, 3)]),
                        (lambda a, b: solvers.solve(a, b, transposed=True, b_ndim=1), [_SPD, u(-1, 1, 2, 3)])],
    "lu": [(lambda a: factorizations.lu(a)[1], [PIVOTING]), (lambda a: factorizations.lu(a)[2], [PIVOTING]),
           (lambda a: factorizations.lu(a, permute_l=True)[0], [PIVOTING]),
           (lambda a: factorizations.lu(a, p_indices=True)[2] * factorizations.lu(a, p_indices=True)[1], [u(-1, 1, 2, 3, 3)])],
    "lu_factor": [(lambda a: factorizations.lu_factor(a)[0], [PIVOTING]),
                  (lambda a: factorizations.lu_factor(a)[0], [u(-1, 1, 2, 3, 3)])],
    "lu_solve": [(lambda a, b: factorizations.lu_solve(factorizations.lu_factor(a), b), [PIVOTING, u(-1, 1, 3)]),
                 (lambda a, b: factorizations.lu_solve(factorizations.lu_factor(a), b, trans=True), [PIVOTING, u(-1, 1, 3, 2)]),
                 (lambda lu_, b: factorizations.lu_solve((lu_, Constant(np.array([2, 1, 2], "int32"))), b),
                  [_SPD, u(-1, 1, 3, 2)])],
    "qr": [(lambda a: factorizations.qr(a)[1], [u(-1, 1, 3, 3)]), (lambda a: factorizations.qr(a)[0], [u(-1, 1, 2, 3)]),
           (lambda a: factorizations.qr(a, mode="economic")[0], [u(-1, 1, 4, 3)]),
           (lambda a: factorizations.qr(a, mode="economic")[1], [u(-1, 1, 2, 4)]),
           (lambda a: factorizations.qr(a, mode="r"), [u(-1, 1, 2, 4, 3)])],
    "expm": [(lambda a: matrix_functions.expm(a), [u(-0.5, 0.5, 3, 3)]), (lambda a: matrix_functions.expm(a), [u(-0.5, 0.5, 2, 2, 2)])],
    "eigvalsh": [(lambda a: eigen.eigvalsh(a), [u(-1, 1, 3, 3)]),
                 (lambda a, b: eigen.eigvalsh(a, b, lower=False), [u(-1, 1, 3, 3), _SPD])],
    "eigh": [(lambda a: nlinalg.eigh(a)[0], [u(-1, 1, 2, 3, 3)]),
             (lambda a: nlinalg.eigh(a, lower=False)[1] ** 2, [u(-1, 1, 3, 3)]),
             (lambda a, b: nlinalg.eigh(a, b)[1] ** 2, [u(-1, 1, 3, 3), _SPD]),
             (lambda a, b: nlinalg.eigh(a, b, lower=False)[0], [u(-1, 1, 3, 3), _SPD])],
    "svd": [(lambda a: nlinalg.svd(a, compute_uv=False), [u(-1, 1, 3, 2)]),
            (lambda a: nlinalg.svd(a, full_matrices=False)[1], [u(-1, 1, 2, 3)]),
            (lambda a: nlinalg.svd(a, full_matrices=False)[0] ** 2, [u(-1, 1, 4, 3)]),
            (lambda a: nlinalg.svd(a, full_matrices=False)[0] ** 2, [u(-1, 1, 3, 4)]),
            (lambda a: nlinalg.svd(a, full_matrices=False)[2] ** 2, [u(-1, 1, 2, 4)]),
            (lambda a: nlinalg.svd(a, full_matrices=False)[2] ** 2, [u(-1, 1, 4, 2)]),
            (lambda a: nlinalg.svd(a)[2] ** 2, [u(-1, 1, 2, 3, 3)])],
    "pinv": [(lambda a: nlinalg.pinv(a), [u(-1, 1, 3, 2)]), (lambda a: nlinalg.pinv(a), [u(-1, 1, 2, 2, 3)])],
    "slogdet": [(lambda a: nlinalg.slogdet(a)[1], [_SPD]),
                (lambda a: nlinalg.slogdet(a)[1], [u(-0.3, 0.3, 2, 3, 3, diag=-2.0)]),
                (lambda a: nlinalg.slogdet(a)[0] * a, [_SPD]), (lambda a: Op(OPS["slogdet"], {"which": 2})(a), [_SPD])],
}

EXPLICIT = {
    "mul": [(bi("mul"), [u(-2, 2, 2, 3), u(-2, 2, 1, 3)]), (lambda x: x * x, [u(-2, 2, 4)])],
    "pow": [(bi("pow"), [u(0.5, 2, 2, 3), u(-1.5, 1.5, 2, 3)]), (lambda x: x ** 3, [u(-2, 2, 3)]),
            (lambda x: x ** 2, [u(-2, 2, 3)])],
    "maximum": [(bi("maximum"), [np.array([0.3, -1.0, 2.0]), np.array([0.1, 0.5, 2.5])])],
    "minimum": [(bi("minimum"), [np.array([0.3, -1.0, 2.0]), np.array([0.1, 0.5, 2.5])])],
    "abs": [(un("abs"), [np.array([-1.5, 0.7, 2.0])])],
    "polygamma": [(lambda x: polygamma(1, x), [u(0.5, 4, 3)])],
    "print": [(lambda x: Op(OPS["print"], {"message": "x", "attrs": ("shape",)})(x) * 2, [u(-2, 2, 3)])],
    "check": [(lambda x: Op(OPS["check"], {"message": "x"})(x, Constant(np.array(True))) * 2, [u(-2, 2, 3)])],
    # special functions whose derivative in a parameter (the order) is not written: that parameter constant
    # (ive at negative x: integer orders, where I_v(x) is real)
    **{name: [(lambda x, name=name, k=k: Op(OPS[name])(Constant(np.array([[k], [k + 1.0]])), x), [u(lo, hi, 2, 3)])]
       for name, k, lo, hi in (("jv", 0.5, 0.5, 3), ("iv", 0.5, 0.5, 3), ("ive", 1.0, -3, -0.5), ("kv", 0.5, 0.5, 3),
                               ("kve", 1.5, 0.5, 3))},
    "hyp2f1": [(lambda a, b, c, z: Op(OPS["hyp2f1"])(a, b, c, z), [u(0.5, 2, 2, 3), u(0.5, 2, 1, 3), u(2.5, 4, 2, 1),
                                                                   u(-2, 0.5, 2, 3)])],
    "polygamma_n": [(lambda x: Op(OPS["polygamma_n"])(Constant(np.array([0, 1, 3])), x), [u(0.5, 4, 2, 3)])],
    "switch": [(lambda a, b: elemwise.switch(Constant(np.array([True, False, True])), a, b), [u(-2, 2, 3), u(-2, 2, 1)])],
    "clip": [(lambda x, lo, hi: elemwise.clip(x, lo, hi), [np.array([-2.0, 0.1, 2.0, 0.5]), np.array([-1.0]),
                                                      np.array([1.0])])],
    "cast": [(lambda x: elemwise.cast(x, "float32"), [u(-2, 2, 3)]),
             (lambda x: elemwise.cast(x, "float64"), [u(-2, 2, 3, dtype="float32")])],
    "dimshuffle": [(lambda x: x.dimshuffle(1, "x", 0), [u(-2, 2, 2, 3)]),
                   (lambda x: x.dimshuffle(1), [u(-2, 2, 1, 3)])],
    "reshape": [(lambda x: x.reshape((3, 2)), [u(-2, 2, 2, 3)]), (lambda x: x.flatten(), [u(-2, 2, 2, 1)])],
    "alloc": [(lambda x: broadcast.alloc(x, 2, 3), [u(-2, 2, 3)]), (lambda x: broadcast.alloc(x, 4, 3), [u(-2, 2, 1, 3)]),
              (lambda x: broadcast.alloc(x, 2, 3), [u(-2, 2)])],
    "concatenate": [(lambda a, b: join.concatenate([a, b], axis=1), [u(-2, 2, 2, 3), u(-2, 2, 2, 1)]),
                    (lambda a, b: join.concatenate([a, b, a]), [u(-2, 2, 2), u(-2, 2, 3)])],
    "make_vector": [(lambda a, b: make_vector(a, b * 2), [u(-2, 2), u(-2, 2)])],
    "sum": [(lambda x: x.sum(), [u(-2, 2, 2, 3)]), (lambda x: x.sum(axis=0), [u(-2, 2, 2, 3)]),
            (lambda x: x.sum(axis=1, keepdims=True), [u(-2, 2, 2, 3)]), (lambda x: x.sum(axis=0), [u(-2, 2, 1, 3)])],
    "prod": [(lambda x: x.prod(axis=1), [u(0.5, 2, 2, 3)]),
             (lambda x: x.prod(axis=1), [np.array([[0.0, 1.5, 2.0], [0.0, 0.0, 3.0]])]),
             (lambda x: x.prod(), [np.array([0.7, -1.2, 0.0])])],
    "max": [(lambda x: x.max(axis=1), [np.array([[0.1, 0.9, -0.3], [1.2, -2.0, 0.4]])]),
            (lambda x: x.max(), [np.array([[0.1, 0.9, -0.3]])])],
    "min": [(lambda x: x.min(axis=0, keepdims=True), [np.array([[0.1, 0.9, -0.3], [1.2, -2.0, 0.4]])])],
    "logsumexp": [(lambda x: reduction.logsumexp(x, axis=1), [u(-3, 3, 2, 3)]), (lambda x: reduction.logsumexp(x), [u(-3, 3, 4)])],
    "softmax": [(lambda x: nnet.softmax(x, axis=-1), [u(-3, 3, 2, 3)]),
                (lambda x: nnet.softmax(x), [u(-3, 3, 4)])],
    "log_softmax": [(lambda x: nnet.log_softmax(x, axis=1), [u(-3, 3, 2, 3)])],
    "dot": [(lambda a, b: linalg.dot(a, b), [u(-1, 1, 2, 3), u(-1, 1, 3, 4)]),
            (lambda a, b: linalg.dot(a, b), [u(-1, 1, 2, 3), u(-1, 1, 3)]),
            (lambda a, b: linalg.dot(a, b), [u(-1, 1, 3), u(-1, 1, 3, 4)]),
            (lambda a, b: linalg.dot(a, b), [u(-1, 1, 3), u(-1, 1, 3)]),
            (lambda a, b: linalg.dot(a, b), [u(-1, 1), u(-1, 1, 2, 3)]),
            (lambda a, b: linalg.dot(a, b), [u(-1, 1, 2, 2, 3), u(-1, 1, 4, 3, 2)])],
    "matmul": [(lambda a, b: a @ b, [u(-1, 1, 2, 3), u(-1, 1, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 2, 2, 3), u(-1, 1, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 1, 2, 3), u(-1, 1, 2, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 3), u(-1, 1, 2, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 2, 3), u(-1, 1, 3)])],
    "matrix_inverse": [(lambda x: linalg.matrix_inverse(x), [u(-0.3, 0.3, 3, 3, diag=2.0)])],
    "det": [(lambda x: linalg.det(x), [u(-0.3, 0.3, 3, 3, diag=2.0)])],
    "solve": [(lambda a, b: linalg.solve(a, b), [u(-0.3, 0.3, 3, 3, diag=2.0), u(-1, 1, 3)]),
              (lambda a, b: linalg.solve(a, b), [u(-0.3, 0.3, 3, 3, diag=2.0), u(-1, 1, 3, 2)])],
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
    "set_subtensor": [(lambda x, y: subtensor.set_subtensor(x[1:], y), [u(-2, 2, 3, 2), u(-2, 2, 2)]),
                      (lambda x, y: subtensor.set_subtensor(x[[0, 2]], y), [u(-2, 2, 3, 2), u(-2, 2, 2, 2)])],
    "inc_subtensor": [(lambda x, y: subtensor.inc_subtensor(x[1:], y), [u(-2, 2, 3, 2), u(-2, 2, 1, 2)]),
                      (lambda x, y: subtensor.inc_subtensor(x[[0, 0, 2]], y), [u(-2, 2, 3, 2), u(-2, 2, 2)])],
    "cumsum": [(lambda x: cumulative.cumsum(x, axis=1), [u(-2, 2, 2, 3)]), (lambda x: cumulative.cumsum(x), [u(-2, 2, 2, 2)])],
    "cumprod": [(lambda x: cumulative.cumprod(x, axis=0), [u(0.5, 2, 3, 2)]), (lambda x: cumulative.cumprod(x), [u(-2, -0.5, 4)])],
    "sort": [(lambda x: sorting.sort(x, axis=0), [u(-2, 2, 3, 2)]), (lambda x: sorting.sort(x, axis=None), [u(-2, 2, 2, 3)]),
             (lambda x: statistics.median(x, axis=1), [u(-2, 2, 2, 4)])],
    "repeat": [(lambda x: repetition.repeat(x, Constant(np.array([2, 0, 1])), axis=1), [u(-2, 2, 2, 3)]),
               (lambda x: repetition.repeat(x, Constant(np.array([1, 3]))), [u(-2, 2, 2)])],
    "specify_shape": [(lambda x: shape_checks.specify_shape(x, (2, None)) * 2, [u(-2, 2, 2, 3)])],
    # ifelse: each branch's cotangent with its own shape (the condition is a constant: it is not differentiable)
    "ifelse": [(lambda x, y: Op(OPS["ifelse"])(Constant(np.bool_(taken)), x * 2, y[:2] ** 2), [u(-2, 2, 3), u(-2, 2, 4)])
               for taken in (True, False)],
    # scan: sequences, initial values at two taps, a non-sequence (the reverse scan of rules/vjp_scan.py)
    "scan": [(_scan_sample, [u(-1, 1, 4, 2), u(-1, 1, 2, 2), u(-1, 1, 2)])],
    # linear algebra (core/ops/solvers.py, factorizations.py, matrix_functions.py, eigen.py, nlinalg.py):
    # well-conditioned draws (a diagonal of 2), a fixed matrix whose LU pivots rows, distinct
    # eigen/singular values; eigenvectors and singular vectors enter squared (their sign is arbitrary)
    **_LINALG,
}
SAMPLES = {**{name: _from_domain(name) for name, d in OPS.items() if d.kind == "elemwise" and d.grad_domain
              and name not in EXPLICIT}, **EXPLICIT}

#: gradient-marker ops: identities whose gradient is deliberately not the identity's (checked by
#: their own tests)
MARKERS = {"zero_grad", "disconnected_grad", "undefined_grad", "grad_clip", "grad_scale"}


def draw(specs, rng) -> list:
    """Input values for a sample's specs."""
    return [s.draw(rng) if isinstance(s, U) else np.array(s) for s in specs]


def check_vjp(names=None, trials: int = 2, seed: int = 0, compile=evaluator) -> CheckResult:
    """Check the VJP rules of ``names`` (default: every op with samples) on ``trials`` random draws of
    each sample; failures name the op, the sample and the mismatch. ``compile`` turns graphs into
    callables (default: the reference interpreter, i.e. the rules as written; see
    :func:`~eqtensor.rules.finite_differences.verify_grad_with`)."""
    rng = np.random.default_rng(seed)
    names = sorted(SAMPLES) if names is None else list(names)
    result = CheckResult(rules=len(names))
    for name in names:
        for k, (fun, specs) in enumerate(SAMPLES[name]):
            for _ in range(trials if any(isinstance(s, U) for s in specs) else 1):
                result.trials += 1
                try:
                    verify_grad_with(compile, fun, draw(specs, rng), n_tests=1, rng=rng)
                except GradientError as e:
                    result.failures.append(f"{name} (sample {k}): {e}")
                    break
    return result
