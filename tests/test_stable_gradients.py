"""Gradients as stable as the values: naive formulas differentiated through their stable forms.

Each case is a naive formula evaluated where it overflows, underflows or cancels; its gradient
(``eqtensor.grad``) must be finite and within 1e-9 of the exact derivative (mpmath, 100 digits)
wherever that is finite, in both optimizing modes.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.rules import autodiff

X = np.array([-1000.0, -40.0, -1.5, 0.0, 0.7, 40.0, 1000.0])
T = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0])


def _mp(fn, *vals):
    """The derivative of the scalar ``fn`` at ``vals`` with respect to the first, exactly (1000
    digits: ``1 - sigmoid(1000)`` is about 1e-435)."""
    with mpmath.workdps(1000):
        return float(mpmath.diff(lambda v: fn(v, *[mpmath.mpf(float(w)) for w in vals[1:]]),
                                 mpmath.mpf(float(vals[0]))))


def _sigmoid(v):
    return 1 / (1 + mpmath.exp(-v))


# name -> (cost builder over x (and t), exact d cost / d x_i as a function of (x_i, t_i))
ELEMENTWISE = {
    "log1p_exp": (lambda x, t: pt.log(1 + pt.exp(x)).sum(), lambda v, t: mpmath.log(1 + mpmath.exp(v))),
    "log_sigmoid": (lambda x, t: pt.log(pt.sigmoid(x)).sum(), lambda v, t: mpmath.log(_sigmoid(v))),
    "log_one_minus_sigmoid": (lambda x, t: pt.log(1 - pt.sigmoid(x)).sum(),
                              lambda v, t: mpmath.log(1 - _sigmoid(v))),
    "log_exp": (lambda x, t: pt.log(pt.exp(x)).sum(), lambda v, t: mpmath.log(mpmath.exp(v))),
    "sigmoid_cross_entropy": (
        lambda x, t: -(t * pt.log(pt.sigmoid(x)) + (1 - t) * pt.log(1 - pt.sigmoid(x))).sum(),
        lambda v, t: -(t * mpmath.log(_sigmoid(v)) + (1 - t) * mpmath.log(1 - _sigmoid(v)))),
    "log_of_exp_over_one_plus_exp": (lambda x, t: pt.log(1 / (1 + pt.exp(-x))).sum(),
                                     lambda v, t: -mpmath.log(1 + mpmath.exp(-v))),
}


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_formulas_have_exact_gradients(name, mode):
    build, exact = ELEMENTWISE[name]
    x, t = pt.dvector("x"), pt.dvector("t")
    cost = build(x, t)
    f = et.function([x, t], et.grad(cost, x), mode=mode, on_unused_input="ignore")
    got = f(X, T)
    want = np.array([_mp(exact, v, w) for v, w in zip(X, T)])
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-300)


def _softmax_exact(v):
    with mpmath.workdps(100):
        e = [mpmath.exp(mpmath.mpf(float(a))) for a in v]
        s = mpmath.fsum(e)
        return np.array([float(a / s) for a in e])


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_log_sum_exp_and_log_softmax(mode):
    x = pt.dvector("x")
    v = np.array([1000.0, 999.0, -5.0, 0.0])
    g_lse = et.function([x], et.grad(pt.log(pt.exp(x).sum()), x), mode=mode)(v)
    np.testing.assert_allclose(g_lse, _softmax_exact(v), rtol=1e-9, atol=1e-300)
    # d/dx sum(log_softmax(x)) = 1 - n * softmax(x)
    g_ls = et.function([x], et.grad(pt.log(pt.special.softmax(x)).sum(), x), mode=mode)(v)
    np.testing.assert_allclose(g_ls, 1 - len(v) * _softmax_exact(v), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_product_of_exponentials(mode):
    a, b = pt.dvector("a"), pt.dvector("b")
    cost = pt.log(pt.exp(a) * pt.exp(b)).sum()
    ga, gb = et.function([a, b], et.grad(cost, [a, b]), mode=mode, on_unused_input="ignore")(np.array([800.0, -3.0]), np.array([-800.0, 2.0]))
    np.testing.assert_array_equal(ga, [1.0, 1.0])
    np.testing.assert_array_equal(gb, [1.0, 1.0])


def test_logistic_regression_written_naively_trains():
    """The PyTensor tutorial's logistic regression with a naive loss: the gradient stays finite."""
    rng = np.random.default_rng(0)
    X_ = rng.normal(0, 30, (40, 3))
    y_ = (X_[:, 0] > 0).astype(float)
    X, y = pt.dmatrix("X"), pt.dvector("y")
    w = et.shared(np.full(3, 5.0), name="w")
    p = 1 / (1 + pt.exp(-pt.dot(X, w)))
    loss = -(y * pt.log(p) + (1 - y) * pt.log(1 - p)).mean()
    gw = et.grad(loss, w)
    train = et.function([X, y], loss, updates={w: w - 0.01 * gw})
    for _ in range(5):
        assert np.isfinite(train(X_, y_))
    assert np.all(np.isfinite(w.get_value()))


def test_kept_variables_and_raw_differentiation():
    x = pt.dvector("x")
    h = x * 2.0
    cost = pt.log(1 + pt.exp(h)).sum()
    # with respect to an intermediate variable: it is kept as itself
    gh = et.function([x], et.grad(cost, h))(np.array([500.0]))
    np.testing.assert_array_equal(gh, [1.0])
    # the stable form of x - x drops x: differentiated as written (connected, zero)
    np.testing.assert_array_equal(et.function([x], et.grad((x - x).sum(), x))(np.array([1.0])), [0.0])
    # the rules layer differentiates as written
    raw = autodiff.grad(pt.log(1 + pt.exp(x)).sum(), x)
    assert np.isnan(et.function([x], raw, mode="FAST_COMPILE")(np.array([1000.0]))[0])


def test_hessian_and_jacobian_of_stable_forms():
    x = pt.dvector("x", shape=(2,))
    cost = pt.log(1 + pt.exp(x)).sum()
    h = et.function([x], et.gradient.hessian(cost, x))(np.array([1000.0, 0.0]))
    np.testing.assert_allclose(h, np.diag([0.0, 0.25]), atol=1e-300)
    j = et.function([x], et.gradient.jacobian(pt.log(1 + pt.exp(x)), x))(np.array([1000.0, 0.0]))
    np.testing.assert_allclose(j, np.diag([1.0, 0.5]))
