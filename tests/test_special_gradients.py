"""Derivatives of the special functions in their parameters (core/ops/special_functions.py and the VJP
rules of rules/vjp_special.py) against mpmath at 30 digits, over grids with small and large shape
parameters: d/dk of gammainc/gammaincc, d/da and d/db of betainc, the inverse functions
(implicitly), hyp2f1 and its four derivatives, polygamma of a symbolic order."""

from __future__ import annotations

from functools import cache

import mpmath
import numpy as np
import pytest
import scipy.special as sp

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.core.ops import special_functions as sf
from eqtensor.gradient import grad

MODES = ["NUMPY", "C"]
#: the accuracy asked of every derivative on the grids (measured worst cases: docs/porting.md)
RTOL = 1e-9


def _mp(fn):
    """``fn`` of float arrays evaluated elementwise in mpmath at 30 digits (a float64 array)."""
    def run(*arrays):
        def one(*v):
            with mpmath.workdps(30):
                return float(fn(*[mpmath.mpf(float(t)) for t in v]))
        return np.vectorize(one, otypes=[np.float64])(*arrays)
    return run


def _assert_close(got, exact, what, rtol=RTOL):
    """Relative error at most ``rtol`` where the exact value is a normal float (below, both tiny)."""
    normal = np.abs(exact) > 1e-300
    rel = np.abs(got - exact) / np.where(normal, np.abs(exact), 1)
    bad = normal & ~(rel <= rtol) | ~normal & ~(np.abs(got) < 1e-290)
    assert not bad.any(), f"{what}: {np.argwhere(bad).ravel()[:5]} got {got[bad][:5]}, exactly {exact[bad][:5]}"


def _grid(*axes):
    return [g.ravel() for g in np.meshgrid(*axes, indexing="ij")]


def _p_or_q(k, x, upper):
    return mpmath.gammainc(k, x, mpmath.inf, regularized=True) if upper else \
        mpmath.gammainc(k, 0, x, regularized=True)


def _dp_dk(k, x):
    """d P / dk, differentiating the smaller of P and Q (d Q = -d P: no cancellation against 1)."""
    up = x > k
    return (-1 if up else 1) * mpmath.diff(lambda t: _p_or_q(t, x, up), k)


K, X = _grid([1e-3, 0.05, 0.5, 1.0, 2.5, 10.0, 60.0, 400.0, 3000.0],
             [1e-4, 0.05, 0.5, 1.0, 3.0, 10.0, 45.0, 150.0, 500.0, 3100.0, 5000.0])


@cache
def _dp_dk_exact():
    return _mp(_dp_dk)(K, X)


@pytest.mark.parametrize("mode", MODES)
def test_gammainc_and_gammaincc_derivatives_in_k(mode):
    k, x = pt.dvectors("k", "x")
    f = et.function([k, x], [grad(pt.gammainc(k, x).sum(), k), grad(pt.gammaincc(k, x).sum(), k)], mode=mode)
    dp, dq = f(K, X)
    _assert_close(dp, _dp_dk_exact(), "d gammainc / dk")
    _assert_close(dq, -_dp_dk_exact(), "d gammaincc / dk")


def test_gammainc_dk_for_large_k_near_the_mean():
    """Where x ~ k ~ 1e6 the first term's log (k log x - x - gammaln(k+1), ~1e7 before cancelling)
    is taken with Stirling's series: computed naively it costs ~1e-9 of relative accuracy."""
    k = np.array([1e5, 1e5, 1e6, 1e6, 1e6, 1e6])
    x = np.array([1e5 - 316.0, 1e5 + 0.7, 0.98e6, 1e6, 1e6 + 0.7, 1e6 + 1.5])
    _assert_close(sf._gammainc_dk(k, x), _mp(_dp_dk)(k, x), "d gammainc / dk, large k", rtol=1e-11)


def test_gammainc_dk_edges():
    k = np.array([2.0, 2.0, 0.0, -1.0, 2.0, np.nan, np.inf])
    x = np.array([0.0, np.inf, 1.0, 1.0, -1.0, 1.0, 1.0])
    got = sf._gammainc_dk(k, x)
    np.testing.assert_array_equal(got[:2], [0.0, 0.0])
    assert np.isnan(got[2:]).all()
    assert sf._gammainc_dk(np.float32(2.0), np.float32(1.5)).dtype == np.float32


A, B, XB = _grid([1e-3, 0.1, 1.0, 2.5, 30.0, 400.0], [1e-3, 0.1, 1.0, 2.5, 30.0, 400.0],
                 [1e-5, 0.1, 0.5, 0.9, 1 - 1e-5])


def _ibeta(a, b, x, upper):
    """I_x(a, b), or its complement I_(1-x)(b, a) (the smaller one differentiates without cancellation)."""
    return mpmath.betainc(b, a, 0, 1 - x, regularized=True) if upper else mpmath.betainc(a, b, 0, x, regularized=True)


@cache
def _di_exact(wrt):
    def ref(a, b, x):
        up = x > (a + 1) / (a + b + 2)
        p = [a, b]
        return (-1 if up else 1) * mpmath.diff(lambda t: _ibeta(*(p[:wrt] + [t] + p[wrt + 1:]), x, up), p[wrt])
    return _mp(ref)(A, B, XB)


@pytest.mark.parametrize("mode", MODES)
def test_betainc_derivatives_in_a_and_b(mode):
    a, b, x = pt.dvectors("a", "b", "x")
    f = et.function([a, b, x], grad(pt.betainc(a, b, x).sum(), [a, b]), mode=mode)
    da, db = f(A, B, XB)
    _assert_close(da, _di_exact(0), "d betainc / da")
    _assert_close(db, _di_exact(1), "d betainc / db")


def test_betainc_der_edges():
    got = sf._betainc_der(np.array([2.0, 2.0, 0.0, 2.0]), np.array([3.0, 3.0, 1.0, 3.0]),
                          np.array([0.0, 1.0, 0.5, 1.5]), 0)
    np.testing.assert_array_equal(got[:2], [0.0, 0.0])
    assert np.isnan(got[2:]).all()


def _implicit(fn, wrt):
    """d x / d p[wrt] where ``fn(*p, x) = y`` (x: the root refined at 30 digits; derivatives by mpmath)."""
    def ref(*args):
        *p, y, x0 = args
        x = x0
        for _ in range(2):  # Newton from the float64 root: 1e-16 -> 1e-30
            x -= (fn(*p, x) - y) / mpmath.diff(lambda t: fn(*p, t), x)
        dp = mpmath.diff(lambda t: fn(*(p[:wrt] + [t] + p[wrt + 1:]), x), p[wrt])
        return -dp / mpmath.diff(lambda t: fn(*p, t), x)
    return _mp(ref)


def test_inverse_functions_derivatives_in_their_parameters():
    k, y, a, b = pt.dvectors("k", "y", "a", "b")
    kv, yv = _grid([0.3, 2.0, 25.0], [0.05, 0.5, 0.9])
    f = et.function([k, y], [pt.gammaincinv(k, y), grad(pt.gammaincinv(k, y).sum(), k),
                             pt.gammainccinv(k, y), grad(pt.gammainccinv(k, y).sum(), k)])
    x_low, d_low, x_up, d_up = f(kv, yv)
    _assert_close(d_low, _implicit(lambda k, x: mpmath.gammainc(k, 0, x, regularized=True), 0)(kv, yv, x_low),
                  "d gammaincinv / dk")
    _assert_close(d_up, _implicit(lambda k, x: mpmath.gammainc(k, x, mpmath.inf, regularized=True), 0)(kv, yv, x_up),
                  "d gammainccinv / dk")
    av, bv, yb = _grid([0.5, 4.0], [0.7, 12.0], [0.1, 0.5, 0.95])
    g = et.function([a, b, y], [pt.betaincinv(a, b, y), *grad(pt.betaincinv(a, b, y).sum(), [a, b])])
    xb, da, db = g(av, bv, yb)
    ib = lambda a, b, x: mpmath.betainc(a, b, 0, x, regularized=True)  # noqa: E731
    _assert_close(da, _implicit(ib, 0)(av, bv, yb, xb), "d betaincinv / da")
    _assert_close(db, _implicit(ib, 1)(av, bv, yb, xb), "d betaincinv / db")


HA, HB, HC, HZ = _grid([-2.0, -0.5, 0.3, 7.0], [-3.0, 0.2, 2.0], [0.5, 10.0], [-20.0, -0.7, 0.0, 0.3, 0.95])


@cache
def _hyp2f1_exact(wrt):
    """hyp2f1 (``wrt=None``) or its derivative in argument ``wrt`` on the grid, at 30 digits."""
    if wrt is None:
        return _mp(mpmath.hyp2f1)(HA, HB, HC, HZ)

    def d(*p):
        return mpmath.diff(lambda t: mpmath.hyp2f1(*(p[:wrt] + (t,) + p[wrt + 1:])), p[wrt])
    return _mp(d)(HA, HB, HC, HZ)


@pytest.mark.parametrize("mode", MODES)
def test_hyp2f1_values_and_gradients_in_all_arguments(mode):
    a, b, c, z = pt.dvectors("a", "b", "c", "z")
    out = pt.hyp2f1(a, b, c, z)
    assert pt.special.hyp2f1 is pt.hyp2f1
    f = et.function([a, b, c, z], [out, *grad(out.sum(), [a, b, c, z])], mode=mode)
    value, *grads = f(HA, HB, HC, HZ)
    np.testing.assert_allclose(value, sp.hyp2f1(HA, HB, HC, HZ), rtol=1e-15)
    _assert_close(value, _hyp2f1_exact(None), "hyp2f1", rtol=1e-12)
    for wrt, got in enumerate(grads):
        _assert_close(got, _hyp2f1_exact(wrt), f"d hyp2f1 / d{'abcz'[wrt]}")


def test_hyp2f1_parameter_derivatives_are_nan_from_z_1_and_float32_stays():
    got = sf._hyp2f1_der(np.array([1.0, 1.0]), 2.0, 3.0, np.array([1.0, 1.5]), 0)
    assert np.isnan(got).all()
    a = pt.fvector("a")
    assert pt.hyp2f1(a, 1.0, 2.0, 0.5).dtype == "float32"
    assert grad(pt.hyp2f1(a, 1.0, 2.0, 0.5).sum(), a).dtype == "float32"
    with pytest.raises(TypeError, match="complex"):
        pt.hyp2f1(pt.zvector("z"), 1.0, 2.0, 0.5)


@pytest.mark.parametrize("mode", MODES)
def test_polygamma_of_a_symbolic_order(mode):
    n, x = pt.ivector("n"), pt.dvector("x")
    out = pt.polygamma(n, x)
    f = et.function([n, x], [out, grad(out.sum(), x)], mode=mode)
    nv, xv = np.array([0, 1, 2, 4, -1], "int32"), np.array([0.3, 1.5, 2.0, 7.5, 1.0])
    value, dx = f(nv, xv)
    np.testing.assert_allclose(value[:4], sp.polygamma(nv[:4], xv[:4]), rtol=1e-14)
    assert np.isnan(value[4])
    np.testing.assert_allclose(dx[:4], sp.polygamma(nv[:4] + 1, xv[:4]), rtol=1e-14)
    s = pt.iscalar("s")
    assert float(pt.polygamma(s, 2.0).eval({s: 1})) == pytest.approx(sp.polygamma(1, 2.0), rel=1e-14)
    # an order known when building keeps the parameter op; a float order is refused
    assert pt.polygamma(2, x).owner.op.name == "polygamma"
    assert pt.polygamma(n, x).owner.op.name == "polygamma_n"
    with pytest.raises(TypeError, match="must be an integer"):
        pt.polygamma(pt.dscalar("f"), x)


def test_parameter_gradients_are_not_computed_for_constant_parameters():
    x = pt.dvector("x")
    f = et.function([x], grad(pt.betainc(2.0, 3.0, x).sum() + pt.gammainc(1.5, x).sum(), x), mode="NUMPY")
    used = {node.op.name for node in f.maker.fgraph.toposort()}
    assert not used & {"betainc_der", "gammainc_dk"}, used
