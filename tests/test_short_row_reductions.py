"""Reductions over a short last axis in the C backend: ``logsumexp`` over contiguous rows of at most
``EQ_SHORT`` elements runs one short-row kernel over all rows (vectorized across rows); longer rows,
strided or broadcast inputs and several threads take the per-row path. Values against SciPy/NumPy,
with NaN and +-inf, float32 and float64, row lengths 1-40. Then the per-row kernels around their lane
thresholds: max/min/any/all fold a row shorter than 64 with 8 partial accumulators or one by one,
logsumexp sums a row shorter than 32 after its max (lengths up to 130)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

from eqtensor import config, function, tensor as pt
from eqtensor.backends.c.toolchain import compiler_works

pytestmark = pytest.mark.skipif(not compiler_works(), reason="no C compiler")

LENGTHS = list(range(1, 41))


def _c(inputs, outputs, threads=1):
    with config.change_flags(num_threads=threads):
        return function(inputs, outputs, mode="C")


def _check(got, want, dtype, scale=1.0):
    """``got`` (of ``dtype``) close to ``want``; ``scale``: the size of the terms summed (the
    absolute error allowed grows with it)."""
    tol = 2e-6 if dtype == "float32" else 1e-13
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def _with_edges(a, rng):
    """``a`` with some rows holding NaN, +inf, -inf, all -inf, +inf and -inf together, and huge values."""
    a = a.copy()
    rows, n = a.shape
    picks = rng.permutation(rows)[:6]
    a[picks[0], rng.integers(n)] = np.nan
    a[picks[1], rng.integers(n)] = np.inf
    a[picks[2], rng.integers(n)] = -np.inf
    a[picks[3], :] = -np.inf
    a[picks[4], 0] = np.inf
    a[picks[4], -1] = -np.inf
    a[picks[5], :] = 700.0 if a.dtype == np.float64 else 80.0
    return a


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsumexp_short_rows_match_scipy(rng, dtype):
    x = pt.matrix("x", dtype=dtype)
    f = _c([x], [pt.logsumexp(x, axis=1), pt.logsumexp(x, axis=-1, keepdims=True)])
    for n in LENGTHS:
        a = (rng.standard_normal((97, n)) * 30).astype(dtype)
        if n > 1:
            a = _with_edges(a, rng)
        with np.errstate(invalid="ignore"):
            want = sp.logsumexp(a.astype(np.float64), axis=1)
        got, kept = f(a)
        _check(got, want.astype(dtype), dtype)
        _check(kept, want.astype(dtype)[:, None], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsumexp_short_rows_strided_and_3d(rng, dtype):
    """Inputs whose rows are not one contiguous block (a transpose, a column slice, a step) and a 3-d
    input whose leading axes collapse into rows."""
    x = pt.matrix("x", dtype=dtype)
    y = pt.tensor3("y", dtype=dtype)
    f = _c([x, y], [pt.logsumexp(x, axis=1), pt.logsumexp(y, axis=2), pt.logsumexp(y, axis=(1, 2))])
    for n in (1, 3, 8, 16, 17):
        base = (rng.standard_normal((60, 2 * n + 1)) * 10).astype(dtype)
        y_ = (rng.standard_normal((5, 7, n)) * 10).astype(dtype)
        for a in (base[:, :n], base[::2, 1:n + 1], base[:, ::2][:, :n], np.asfortranarray(base[:, :n])):
            got, g3, g2 = f(a, y_)
            _check(got, sp.logsumexp(a.astype(np.float64), axis=1).astype(dtype), dtype)
            _check(g3, sp.logsumexp(y_.astype(np.float64), axis=2).astype(dtype), dtype)
            _check(g2, sp.logsumexp(y_.astype(np.float64), axis=(1, 2)).astype(dtype), dtype)


def test_logsumexp_short_rows_fused_producer_and_broadcast(rng):
    """The Gaussian-mixture pattern: an (N,1) x (1,K) broadcast expression reduced over K."""
    x, mu = pt.vector("x"), pt.vector("mu")
    lp = -0.5 * (x[:, None] - mu[None, :]) ** 2
    f = _c([x, mu], [pt.logsumexp(lp, axis=1), pt.logsumexp(x[:, None] + 0 * mu[None, :], axis=1)])
    for k in (1, 2, 8, 16, 20):
        a, m = rng.standard_normal(1000) * 3, rng.standard_normal(k)
        got, bc = f(a, m)
        _check(got, sp.logsumexp(-0.5 * (a[:, None] - m[None, :]) ** 2, axis=1), "float64")
        _check(bc, a + np.log(k), "float64")


@pytest.mark.parametrize("threads", [1, 2])
def test_logsumexp_short_rows_large(rng, threads):
    """Many short rows on one thread (one kernel call) and on two (the rows shared out)."""
    x = pt.matrix("x")
    f = _c([x], pt.logsumexp(x, axis=1), threads=threads)
    a = _with_edges(rng.standard_normal((40_000, 8)) * 50, rng)
    with np.errstate(invalid="ignore"):
        want = sp.logsumexp(a, axis=1)
    _check(f(a), want, "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_short_row_max_min_any_all_match_numpy(rng, dtype):
    x = pt.matrix("x", dtype=dtype)
    f = _c([x], [pt.max(x, axis=1), pt.min(x, axis=1), pt.any(x > 1, axis=1), pt.all(x > -1, axis=1),
                 pt.sum(x, axis=1)])
    for n in LENGTHS:
        a = _with_edges((rng.standard_normal((53, n)) * 3).astype(dtype), rng) if n > 1 else \
            rng.standard_normal((53, n)).astype(dtype)
        mx, mn, an, al, s = f(a)
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(mx, a.max(axis=1))
            np.testing.assert_array_equal(mn, a.min(axis=1))
            np.testing.assert_array_equal(an, (a > 1).any(axis=1))
            np.testing.assert_array_equal(al, (a > -1).all(axis=1))
            finite = np.where(np.isfinite(a), np.abs(a), 0).astype(np.float64)
            _check(s, a.astype(np.float64).sum(axis=1).astype(dtype), dtype, scale=finite.sum(axis=1).max())


def _gmm_numpy(x, mu, ls, wl):
    """Log-likelihood of a 1-D Gaussian mixture and its gradients wrt mu, ls, wl (by hand)."""
    z = (x[:, None] - mu) * np.exp(-ls)
    lp = (wl - sp.logsumexp(wl)) - 0.5 * z * z - ls - 0.5 * np.log(2 * np.pi)
    lse = sp.logsumexp(lp, axis=1, keepdims=True)
    r = np.exp(lp - lse)
    return [np.sum(lse), np.sum(r * z, axis=0) * np.exp(-ls), np.sum(r * (z * z - 1), axis=0),
            np.sum(r, axis=0) - len(x) * sp.softmax(wl)]


def test_gmm_gradient_sums_share_one_pass(rng):
    """The Gaussian-mixture gradient: the (N, K) value two column sums read (with an exp, too costly
    to recompute in two loops) is fused into them, and the third column sum joins their pass; values
    and gradients equal the hand-written NumPy ones and central differences."""
    from eqtensor import grad
    from eqtensor.backends.c.plan import plan_units

    x, mu, ls, wl = pt.dvector("x"), pt.dvector("mu"), pt.dvector("ls"), pt.dvector("wl")
    z = (x[:, None] - mu[None, :]) * pt.exp(-ls)[None, :]
    lp = pt.special.log_softmax(wl, axis=-1)[None, :] - 0.5 * z * z - ls[None, :] - 0.5 * np.log(2 * np.pi)
    ll = pt.sum(pt.logsumexp(lp, axis=1))
    f = _c([x, mu, ls, wl], [ll, *grad(ll, [mu, ls, wl])])
    s = f.maker.schedule
    plan = plan_units(s.nodes, s.outputs)
    column_sums = [u for u in plan.units if s.nodes[u].op.name == "sum" and s.nodes[u].inputs[0].ndim == 2]
    assert [len(plan.siblings.get(u, [])) + 1 for u in column_sums] == [3]
    k = 8
    args = [np.linspace(-4, 4, k)[rng.integers(0, k, 3000)] + rng.standard_normal(3000) * 0.6,
            np.linspace(-4, 4, k) + rng.standard_normal(k) * 0.3, -0.3 + rng.random(k) * 0.2,
            rng.standard_normal(k) * 0.1]
    got = f(*args)
    for g, w in zip(got, _gmm_numpy(*args)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-8)
    h = 1e-5
    for j, gj in ((1, got[1]), (2, got[2]), (3, got[3])):
        for c in (0, 5):
            up, dn = [a.copy() for a in args], [a.copy() for a in args]
            up[j][c] += h
            dn[j][c] -= h
            fd = (_gmm_numpy(*up)[0] - _gmm_numpy(*dn)[0]) / (2 * h)
            np.testing.assert_allclose(gj[c], fd, rtol=1e-5, atol=1e-5)


def test_costly_value_read_by_dependent_sums_stays_materialized(rng):
    """Two column sums of a costly value where the second reads the first's result cannot share a
    pass: the value is written once and read by both (not computed in each), values as NumPy."""
    from eqtensor.backends.c.plan import plan_units

    x, g = pt.dmatrix("x"), pt.dmatrix("g")
    costly = pt.exp(x) * pt.log1p(x * x) + pt.exp(-x)
    s1 = pt.sum(costly * g, axis=0)
    s2 = pt.sum(costly * s1[None, :], axis=0)
    f = _c([x, g], [s1, s2])
    s = f.maker.schedule
    plan = plan_units(s.nodes, s.outputs)
    assert not plan.siblings
    assert any(s.nodes[u].op.name == "add" and s.nodes[u].out.ndim == 2 for u in plan.units)  # written once
    xv, gv = rng.standard_normal((300, 8)), rng.standard_normal((300, 8))
    c = np.exp(xv) * np.log1p(xv * xv) + np.exp(-xv)
    a = np.sum(c * gv, axis=0)
    got1, got2 = f(xv, gv)
    np.testing.assert_allclose(got1, a, rtol=1e-12)
    np.testing.assert_allclose(got2, np.sum(c * a[None, :], axis=0), rtol=1e-12)


# ---------------------------------------------------------------- per-row kernels around their lane thresholds
LANE_LENGTHS = [1, 2, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 130]


@pytest.fixture(scope="module")
def reductions():
    x, b, i = pt.dmatrix("x"), pt.matrix("b", dtype="bool"), pt.lmatrix("i")
    return {"max": function([x], pt.max(x, axis=1), mode="C"), "min": function([x], pt.min(x, axis=1), mode="C"),
            "max_all": function([x], pt.max(x), mode="C"), "any": function([b], pt.any(b, axis=1), mode="C"),
            "all": function([b], pt.all(b, axis=1), mode="C"), "imax": function([i], pt.max(i, axis=1), mode="C")}


@pytest.fixture(scope="module")
def logsumexps():
    x, xf = pt.dmatrix("x"), pt.matrix("xf", dtype="float32")
    return {"rows": function([x], pt.logsumexp(x, axis=1), mode="C"),
            "cols": function([x], pt.logsumexp(x, axis=0), mode="C"),
            "rows32": function([xf], pt.logsumexp(xf, axis=1), mode="C")}


@pytest.mark.parametrize("n", LANE_LENGTHS)
def test_short_row_max_min_any_all(reductions, n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((4, n))
    if n > 2:
        a[0, n // 2] = np.nan
        a[1, -1] = np.inf
    for name, ref in (("max", np.max), ("min", np.min)):
        np.testing.assert_array_equal(reductions[name](a), ref(a, axis=1))
    np.testing.assert_array_equal(reductions["max_all"](a[1:]), np.max(a[1:]))
    b = a > 0.8
    np.testing.assert_array_equal(reductions["any"](b), b.any(axis=1))
    np.testing.assert_array_equal(reductions["all"](~b), (~b).all(axis=1))
    ia = rng.integers(-100, 100, (3, n))
    np.testing.assert_array_equal(reductions["imax"](ia), ia.max(axis=1))


@pytest.mark.parametrize("n", LANE_LENGTHS)
def test_short_row_logsumexp(logsumexps, n):
    a = np.random.default_rng(n).standard_normal((6, n)) * 300
    a[1] = -np.inf
    a[2, n // 2] = np.inf
    a[3, n // 2] = np.nan
    a[4, 0] = 800.0
    a[5, -1] = -np.inf
    with np.errstate(all="ignore"):
        ref = sp.logsumexp(a, axis=1)
        np.testing.assert_allclose(logsumexps["rows"](a), ref, rtol=1e-13)
        np.testing.assert_allclose(logsumexps["cols"](np.ascontiguousarray(a.T)), ref, rtol=1e-13)
        a32 = a.astype("float32")
        np.testing.assert_allclose(logsumexps["rows32"](a32), sp.logsumexp(a32, axis=1), rtol=1e-5)
