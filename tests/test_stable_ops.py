"""logaddexp, hypot, erfcx and log1mexp: values and gradients where naive formulas fail, against mpmath;
and the canonical algebra of sums and products (order, association, cancellation), asserted on the
compiled graphs."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.core.traversal import toposort

MODES = ["NUMPY", "C"]

# ties (1/2 each), far apart, huge, tiny, and values where exp overflows or underflows
A = np.array([0.0, 1000.0, -1000.0, 3.0, 800.0, -800.0, 1e-9, 710.0, -745.5, 1e300, -1e300, 40.0])
B = np.array([0.0, 1000.0, -1000.0, -3.0, -800.0, 800.0, -1e-9, 709.9, -745.0, 1e300, 1e300, -40.0])


def _mp(fn, *arrays, digits=200):
    with mpmath.workdps(digits):
        return np.array([float(fn(*(mpmath.mpf(float(v)) for v in vs))) for vs in zip(*arrays)])


def _ops(f):
    return [n.op.name for o in f.maker.fgraph.outputs for n in toposort([o])]


@pytest.mark.parametrize("mode", MODES)
def test_logaddexp_value_and_gradient_at_ties_and_extremes(mode):
    a, b = pt.dvector("a"), pt.dvector("b")
    y = pt.logaddexp(a, b)
    f = et.function([a, b], [y, *et.grad(y.sum(), [a, b])], mode=mode)
    val, ga, gb = f(A, B)
    want = _mp(lambda x, z: mpmath.log(mpmath.exp(x) + mpmath.exp(z)), A, B)
    np.testing.assert_allclose(val, want, rtol=1e-15)
    da = _mp(lambda x, z: 1 / (1 + mpmath.exp(z - x)), A, B)  # d/da = e^a / (e^a + e^b)
    db = _mp(lambda x, z: 1 / (1 + mpmath.exp(x - z)), A, B)
    np.testing.assert_allclose(ga, da, rtol=1e-15, atol=0)
    np.testing.assert_allclose(gb, db, rtol=1e-15, atol=0)
    assert ga[0] == gb[0] == 0.5 and ga[1] == 0.5 and gb[3] < 1e-2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logaddexp_special_values_as_numpy(mode, dtype):
    inf, nan = np.inf, np.nan
    x = np.array([inf, -inf, inf, -inf, nan, 1.0, inf, 0.0, -0.0, 88.0, -100.0], dtype)
    y = np.array([inf, -inf, -inf, 3.0, 1.0, nan, nan, -0.0, 0.0, 88.0, -100.0], dtype)
    a, b = pt.vector("a", dtype=dtype), pt.vector("b", dtype=dtype)
    got = et.function([a, b], pt.logaddexp(a, b), mode=mode)(x, y)
    with np.errstate(invalid="ignore"):
        want = np.logaddexp(x, y)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps, equal_nan=True)


@pytest.mark.parametrize("mode", MODES)
def test_naive_logaddexp_compiles_to_the_op(mode):
    a, b = pt.dvector("a"), pt.dvector("b")
    f = et.function([a, b], pt.log(pt.exp(a) + pt.exp(b)), mode=mode)
    assert _ops(f) == ["logaddexp"]
    np.testing.assert_allclose(f(A, B), np.logaddexp(A, B), rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_hypot_value_and_gradient(mode):
    x = np.array([1e200, 3.0, 1e-200, -1e300, 5.0, -2e-300, 0.0])
    y = np.array([1e200, -4.0, 1e-200, 1.0, 0.0, 3e-300, 2.0])
    a, b = pt.dvector("a"), pt.dvector("b")
    naive = pt.sqrt(a**2 + b**2)
    f = et.function([a, b], [naive, *et.grad(naive.sum(), [a, b])], mode=mode)
    assert "hypot" in _ops(f)
    val, ga, gb = f(x, y)
    np.testing.assert_allclose(val, _mp(lambda u, v: mpmath.sqrt(u * u + v * v), x, y), rtol=1e-15)
    np.testing.assert_allclose(ga, _mp(lambda u, v: u / mpmath.sqrt(u * u + v * v), x, y), rtol=1e-15)
    np.testing.assert_allclose(gb, _mp(lambda u, v: v / mpmath.sqrt(u * u + v * v), x, y), rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_erfcx_value_and_gradient(mode):
    import scipy.special as sps

    v = np.array([-26.0, -3.0, -1e-12, 0.0, 0.5, 3.0, 30.0, 1e4, 1e150])
    x = pt.dvector("x")
    f = et.function([x], [pt.erfcx(x), et.grad(pt.erfcx(x).sum(), x)], mode=mode)
    val, g = f(v)
    np.testing.assert_allclose(val, sps.erfcx(v), rtol=1e-13)
    exact = _mp(lambda t: 2 * t * mpmath.exp(t * t) * mpmath.erfc(t) - 2 / mpmath.sqrt(mpmath.pi), v[:7])
    np.testing.assert_allclose(g[:7], exact, rtol=1e-9)


@pytest.mark.parametrize("mode", MODES)
def test_log_erfc_uses_erfcx_and_is_finite_with_its_gradient(mode):
    v = np.array([-1e4, -30.0, -1.0, 0.0, 1e-10, 0.5, 0.5000001, 3.0, 26.0, 30.0, 1e4, 1e150])
    x = pt.dvector("x")
    y = pt.log(pt.erfc(x))
    f = et.function([x], [y, et.grad(y.sum(), x)], mode=mode)
    assert "erfcx" in _ops(f)
    val, g = f(v)
    np.testing.assert_allclose(val, _mp(lambda t: mpmath.log(mpmath.erfc(t)), v), rtol=1e-9)
    dlog = _mp(lambda t: -2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-t * t) / mpmath.erfc(t), v)
    np.testing.assert_allclose(g, dlog, rtol=1e-9)


@pytest.mark.parametrize("mode", MODES + ["FAST_COMPILE"])
def test_log1mexp_gradient_is_minus_inf_at_zero(mode):
    v = np.array([0.0, -0.0, -1e-300, -1e-12, -0.5, -50.0, -1000.0])
    x = pt.dvector("x")
    g = et.function([x], et.grad(pt.log1mexp(x).sum(), x), mode=mode)(v)
    assert g[0] == g[1] == -np.inf
    exact = _mp(lambda t: mpmath.exp(t) / mpmath.expm1(t), v[2:])
    np.testing.assert_allclose(g[2:], exact, rtol=1e-12)


# ------------------------------------------------------------------ canonical algebra
def _compiled(inputs, y, **kw):
    f = et.function(inputs, y, on_unused_input="ignore", **kw)
    return f, f.maker.fgraph.outputs[0]


@pytest.mark.parametrize("build", [
    lambda a, b, c: (a * b) * c / (c * a),
    lambda a, b, c: (b * a) * c / (a * c),
    lambda a, b, c: c * (a * b) / (a * c),
    lambda a, b, c: (a * b) / a,
    lambda a, b, c: a * (c * b) / (c * a),
], ids=["issue", "swapped", "factor_first", "depth1", "inner_swapped"])
def test_products_cancel_whatever_the_order(build):
    a, b, c = pt.dvector("a"), pt.dvector("b"), pt.dvector("c")
    f, out = _compiled([a, b, c], build(a, b, c))
    assert out is b, f.maker.fgraph.outputs
    v = np.array([1.5, -2.0, 3.0])
    np.testing.assert_array_equal(f(v, v * 2, v * 3), v * 2)


def test_common_factor_at_depth_two_cancels():
    a, b, c, d = (pt.dvector(n) for n in "abcd")
    f, out = _compiled([a, b, c, d], (a * b * c) / (a * d))
    ops = _ops(f)
    assert ops.count("mul") == 1 and ops.count("true_div") == 1, f.maker.fgraph.outputs
    v = np.array([1.5, -2.0, 3.0])
    np.testing.assert_allclose(f(v, v + 1, v + 2, v + 3), (v + 1) * (v + 2) / (v + 3), rtol=1e-15)


def test_sums_cancel_before_factoring_hides_them():
    a, b, c = pt.dvector("a"), pt.dvector("b"), pt.dvector("c")
    f, out = _compiled([a, b, c], pt.log(1 + pt.exp(a * b + a * c - a * c)))
    assert out.owner.op.name == "softplus"
    inner = out.owner.inputs[0]
    assert inner.owner.op.name == "mul" and {id(i) for i in inner.owner.inputs} == {id(a), id(b)}
    v = np.array([1.5, -2.0, 30.0])
    np.testing.assert_allclose(f(v, v, v), np.logaddexp(0, v * v), rtol=1e-15)


@pytest.mark.parametrize("build", [
    lambda a, b, c: (a + b) - b, lambda a, b, c: (b + a) - b, lambda a, b, c: (a - b) + b,
    lambda a, b, c: b + (a - b), lambda a, b, c: b - (b - a), lambda a, b, c: ((a + b) + c) - (b + c),
])
def test_sums_cancel_whatever_the_order(build):
    a, b, c = pt.dvector("a"), pt.dvector("b"), pt.dvector("c")
    f, out = _compiled([a, b, c], build(a, b, c))
    assert out is a, f.maker.fgraph.outputs


def test_commuted_products_are_one_subexpression():
    a, b = pt.dvector("a"), pt.dvector("b")
    f, out = _compiled([a, b], pt.exp(a * b) + pt.exp(b * a))
    ops = _ops(f)
    assert ops.count("exp") == 1 and ops.count("mul") == 1, f.maker.fgraph.outputs
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(f(v, v + 1), 2 * np.exp(v * (v + 1)), rtol=1e-15)


def test_cancellations_are_reported_as_assumed():
    a, b, c = pt.dvector("a"), pt.dvector("b"), pt.dvector("c")
    f, _ = _compiled([a, b, c], (a * b) * c / (c * a))
    assumed = f.optimization_report().assumed
    assert any(name.startswith(("div_common_factor", "mul_div_cancel")) for name in assumed), assumed
