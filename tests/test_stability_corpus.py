"""The stability corpus: naive formulas, evaluated where they overflow, underflow or cancel.

Each entry is a formula as a user writes it, inputs where the naive evaluation fails, and the op
the stable form must use. Its value and its gradient (``eqtensor.grad``), compiled in NUMPY and
C, must be finite and within 1e-9 (relative) of the exact result wherever that is finite. The
exact results come from the naive graphs themselves, evaluated in 1000-digit arithmetic
(``eqtensor.rules.reference.evaluate_mp``): the value graph for values, the gradient graph taken
as written (``eqtensor.rules.autodiff.grad``) for gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.core.traversal import toposort
from eqtensor.rules import autodiff
from eqtensor.rules.reference import evaluate_mp

BIG = np.array([-1000.0, -50.0, -1.0, 0.0, 1e-12, 2.0, 50.0, 1000.0])
NEG = np.array([-1000.0, -50.0, -1.0, -1e-12, -1e-300])
ERFX = np.array([-30.0, -6.0, -1.0, 0.0, 0.5, 6.0, 26.0])
LOG_ERFC_X = np.array([-1e4, -30.0, -1.0, 0.0, 1e-10, 0.5, 0.5000001, 3.0, 26.0, 30.0, 1e4, 1e150])
# ties (the gradient is 1/2 each), huge, tiny and opposite arguments
TIE_A = np.array([1000.0, -1000.0, 0.0, 3.0, 800.0, -800.0, 1e-9, 710.0, -745.5, 1e300])
TIE_B = np.array([1000.0, -1000.0, 0.0, -3.0, -800.0, 800.0, -1e-9, 709.9, -745.0, 1e300])

# name -> (builder over inputs (a, b), values of a, values of b or None, ops the stable form uses)
CORPUS = {
    "softplus": (lambda a, b: pt.log(1 + pt.exp(a)), BIG, None, {"softplus"}),
    "softplus_log1p": (lambda a, b: pt.log1p(pt.exp(a)), BIG, None, {"softplus"}),
    "log_sigmoid": (lambda a, b: pt.log(pt.sigmoid(a)), BIG, None, {"softplus"}),
    "log_one_minus_sigmoid": (lambda a, b: pt.log(1 - pt.sigmoid(a)), BIG, None, {"softplus"}),
    "sigmoid_formula": (lambda a, b: 1 / (1 + pt.exp(-a)), BIG, None, {"sigmoid"}),
    "sigmoid_ratio": (lambda a, b: pt.exp(a) / (1 + pt.exp(a)), BIG, None, {"sigmoid"}),
    "exp_times_sigmoid": (lambda a, b: pt.exp(a) * pt.sigmoid(-a), BIG, None, {"sigmoid"}),
    "logit_of_sigmoid": (lambda a, b: pt.log(pt.sigmoid(a) / (1 - pt.sigmoid(a))), BIG, None, set()),
    "log1p": (lambda a, b: pt.log(1 + a), np.array([1e-20, -1e-15, 3.0]), None, {"log1p"}),
    "expm1": (lambda a, b: pt.exp(a) - 1, np.array([1e-20, -1e-15, 3.0]), None, {"expm1"}),
    "log1mexp": (lambda a, b: pt.log(1 - pt.exp(a)), NEG, None, {"log1mexp"}),
    "log_neg_expm1": (lambda a, b: pt.log(-pt.expm1(a)), NEG, None, {"log1mexp"}),
    "log_exp": (lambda a, b: pt.log(pt.exp(a)), BIG, None, set()),
    "exp_times_exp": (lambda a, b: pt.exp(a) * pt.exp(b), np.array([800.0, -3.0, -800.0]),
                      np.array([-799.0, 2.0, 800.5]), {"exp"}),
    "exp_over_exp": (lambda a, b: pt.exp(a) / pt.exp(b), np.array([800.0, -3.0, -800.0]),
                     np.array([799.0, 2.0, -800.5]), {"exp"}),
    "logsubexp": (lambda a, b: pt.log(pt.exp(a) - pt.exp(b)), np.array([1000.0, -1000.0, 3.0, 1.0]),
                  np.array([999.0, -1001.0, -3.0, 1.0 - 1e-9]), {"log1mexp"}),
    "logaddexp": (lambda a, b: pt.log(pt.exp(a) + pt.exp(b)), TIE_A, TIE_B, {"logaddexp"}),
    "hypot": (lambda a, b: pt.sqrt(a**2 + b**2), np.array([1e200, 3.0, 1e-200, -1e300, 5.0, -2e-300]),
              np.array([1e200, -4.0, 1e-200, 1.0, 0.0, 3e-300]), {"hypot"}),
    "hypot_mul": (lambda a, b: pt.sqrt(a * a + b * b), np.array([1e200, 3.0, -1e-200]),
                  np.array([-1e199, 4.0, 1e-200]), {"hypot"}),
    "log_erfc": (lambda a, b: pt.log(pt.erfc(a)), LOG_ERFC_X, None, {"erfcx"}),
    "erfc": (lambda a, b: 1 - pt.erf(a), ERFX, None, {"erfc"}),
    "one_plus_erf": (lambda a, b: 1 + pt.erf(a), -ERFX, None, {"erfc"}),
    "erf_minus_one": (lambda a, b: pt.erf(a) - 1, ERFX, None, {"erfc"}),
    "log_cosh": (lambda a, b: pt.log(pt.cosh(a)), np.array([-1000.0, -3.0, 1e-9, 0.5, 800.0]), None,
                 {"softplus", "log1p"}),
    "tanh_formula": (lambda a, b: (pt.exp(a) - pt.exp(-a)) / (pt.exp(a) + pt.exp(-a)),
                     np.array([-1000.0, -1.0, 1e-10, 0.3, 800.0]), None, {"tanh"}),
    "log_mean_exp": (lambda a, b: pt.log(pt.mean(pt.exp(a))), np.array([800.0, 801.0, -1000.0, 3.0]), None,
                     {"logsumexp"}),
}

ROWS = np.array([[1000.0, 999.0, -5.0], [-800.0, -801.0, -1000.0]])
REDUCTIONS = {
    "logsumexp": (lambda m: pt.log(pt.exp(m).sum(axis=1)), {"logsumexp"}),
    "log_softmax": (lambda m: pt.log(pt.special.softmax(m, axis=1)), {"log_softmax"}),
    "hand_log_softmax": (lambda m: pt.log(pt.exp(m - m.max(axis=1, keepdims=True))
                                          / pt.exp(m - m.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)),
                         {"log_softmax"}),
    "softmax_formula": (lambda m: pt.exp(m) / pt.exp(m).sum(axis=1, keepdims=True), {"softmax"}),
    "log_mean_exp": (lambda m: pt.log(pt.mean(pt.exp(m), axis=1)), {"logsumexp"}),
}


def _exact(graph, inputs, values):
    (out,) = evaluate_mp([graph], dict(zip(inputs, values)), digits=1000)
    return np.array([np.nan if v is None else float(v) for v in out.reshape(-1)]).reshape(out.shape)


def _close(got, want, what):
    finite = np.isfinite(want)
    assert np.all(np.isfinite(got[finite])), f"{what}: {got} where the exact values are {want}"
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9, atol=1e-300, err_msg=what)


def _ops(f):
    return {n.op.name for o in f.maker.fgraph.outputs for n in toposort([o])}


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_values_and_gradients(name, mode):
    build, va, vb, stable_ops = CORPUS[name]
    a, b = pt.dvector("a"), pt.dvector("b")
    ins, vals = ([a], [va]) if vb is None else ([a, b], [va, vb])
    y = build(a, b)
    f = et.function(ins, y, mode=mode)
    assert stable_ops <= _ops(f), f"the compiled graph uses {_ops(f)}"
    _close(f(*vals), _exact(y, ins, vals), f"{name} value")
    cost = y.sum()
    grads = et.function(ins, et.grad(cost, ins), mode=mode, on_unused_input="ignore")(*vals)
    for k, (g, w) in enumerate(zip(grads, ins)):
        _close(g, _exact(autodiff.grad(cost, w), ins, vals), f"{name} gradient {k}")


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_row_reductions(name, mode):
    build, stable_ops = REDUCTIONS[name]
    m = pt.dmatrix("m")
    y = build(m)
    f = et.function([m], y, mode=mode)
    assert stable_ops <= _ops(f), f"the compiled graph uses {_ops(f)}"
    _close(f(ROWS), _exact(y, [m], [ROWS]), f"{name} value")
    cost = y.sum()
    g = et.function([m], et.grad(cost, m), mode=mode)(ROWS)
    _close(g, _exact(autodiff.grad(cost, m), [m], [ROWS]), f"{name} gradient")


@pytest.mark.parametrize("mode", ["NUMPY", "C", "FAST_COMPILE"])
def test_float32_mean_and_var_accumulate_wide(mode):
    x = pt.fvector("x")
    v = np.array([1e8, 1.0, -1e8], dtype="float32")
    m, s = et.function([x], [pt.mean(x), pt.var(x)], mode=mode)(v)
    assert m.dtype == s.dtype == np.float32
    np.testing.assert_allclose(m, 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(s, np.var(v.astype("float64")), rtol=1e-6)
