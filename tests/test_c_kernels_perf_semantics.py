"""Semantics of the C backend's fast paths: the one-pass logsumexp, the softplus kernel, threads
(config.num_threads) and gemm/gemv/ger as BLAS calls — always against NumPy/SciPy/mpmath."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.special as sps

import eqtensor
from eqtensor import config, function, tensor as pt
from eqtensor.backends.c.toolchain import compiler_works

pytestmark = pytest.mark.skipif(not compiler_works(), reason="no working C compiler")


def _c(inputs, outputs, **kw):
    f = function(inputs, outputs, mode="C", **kw)
    assert f.maker.backend == "c"
    return f


# ----------------------------------------------------------------------------- logsumexp
def _lse_inputs(rng):
    a = 800 + rng.standard_normal((11, 5000))
    a[1, :] = -np.inf  # all -inf: -inf
    a[2, 7] = np.inf  # one +inf: inf
    a[3, 4100] = np.nan  # nan in the second block: nan
    a[4, :] = np.linspace(-2000, 2000, 5000)  # max grows block after block (rescaling)
    a[5, :] = np.linspace(2000, -2000, 5000)
    a[6, 4500:] = -np.inf
    a[7, :4096] = -np.inf  # first block all -inf, then finite
    a[8, 0] = 1e300  # huge spread: every other term underflows
    a[9, 0] = np.nan  # nan first (the shift)
    a[10, 17] = np.nan  # nan inside the first block, below the max
    a[10, 18] = 900
    return a


@pytest.mark.parametrize("threads", [1, 2])
def test_logsumexp_rows_and_columns_match_scipy(rng, threads):
    X = pt.dmatrix("X")
    with config.change_flags(num_threads=threads):
        f = _c([X], [pt.log(pt.sum(pt.exp(X), axis=1)), pt.log(pt.sum(pt.exp(X), axis=0)),
                     pt.logsumexp(X, axis=None) if hasattr(pt, "logsumexp") else pt.log(pt.sum(pt.exp(X)))])
    a = _lse_inputs(rng)
    with np.errstate(all="ignore"):
        for v in (a, a.T.copy().T, a[:, ::-1], a[::2], np.asfortranarray(a)):
            r1, r0, rall = f(v)
            np.testing.assert_allclose(r1, sps.logsumexp(v, axis=1), rtol=1e-13, equal_nan=True)
            np.testing.assert_allclose(r0, sps.logsumexp(v, axis=0), rtol=1e-13, equal_nan=True)
            np.testing.assert_allclose(rall, sps.logsumexp(v), rtol=1e-13, equal_nan=True)
        b = 800 + rng.standard_normal((9000, 64))  # many rows, short: row mode threads (>= EQ_PAR_MIN)
        b[17, :] = -np.inf
        b[18, 3] = np.nan
        r1, r0, _ = f(b)
        np.testing.assert_allclose(r1, sps.logsumexp(b, axis=1), rtol=1e-13, equal_nan=True)
        np.testing.assert_allclose(r0, sps.logsumexp(b, axis=0), rtol=1e-13, equal_nan=True)


def test_logsumexp_column_kernel_starts_from_large_magnitudes():
    """The row-updating kernel (reduced axis outer, e.g. rows of length 1 or axis 0) rescales its
    running sum when the maximum moves; the first finite value far from 0 (|x| > 709 in float64,
    > 88 in float32) must not turn the empty sum into 0 * inf = nan (found by the random graphs)."""
    for dtype, big in (("float64", 800.0), ("float32", 100.0)):
        X = pt.matrix("X", dtype=dtype)
        f = _c([X], [pt.logsumexp(X, axis=1, keepdims=True), pt.logsumexp(X, axis=0)])
        for v in ([[-big], [big], [0.0], [-np.inf], [np.nan]],
                  [[-np.inf, -big, big], [-big, -np.inf, -big], [-big, big, -np.inf]]):
            a = np.array(v, dtype=dtype)
            with np.errstate(all="ignore"):
                rows, cols = f(a)
                np.testing.assert_allclose(rows, sps.logsumexp(a.astype(float), axis=1, keepdims=True),
                                           rtol=1e-6 if dtype == "float32" else 1e-13, equal_nan=True)
                np.testing.assert_allclose(cols, sps.logsumexp(a.astype(float), axis=0),
                                           rtol=1e-6 if dtype == "float32" else 1e-13, equal_nan=True)


def test_logsumexp_zero_size_keepdims_float32_and_fused_producer(rng):
    X = pt.dmatrix("X")
    Y = pt.fmatrix("Y")
    f = _c([X], [pt.log(pt.sum(pt.exp(X), axis=1, keepdims=True)), pt.log(pt.sum(pt.exp(2 * X + 1), axis=0))])
    for shape in ((0, 3), (3, 0), (0, 0)):
        v = np.zeros(shape)
        with np.errstate(divide="ignore"):
            a, b = f(v)
            np.testing.assert_array_equal(a, sps.logsumexp(v, axis=1, keepdims=True))
            np.testing.assert_array_equal(b, sps.logsumexp(2 * v + 1, axis=0))
    v = rng.standard_normal((50, 6000)) * 30
    a, b = f(v)
    np.testing.assert_allclose(a, sps.logsumexp(v, axis=1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(b, sps.logsumexp(2 * v + 1, axis=0), rtol=1e-13)
    g = _c([Y], pt.log(pt.sum(pt.exp(Y), axis=1)))
    w = (rng.standard_normal((40, 5000)) * 20).astype("float32")
    got = g(w)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, sps.logsumexp(w.astype("float64"), axis=1), rtol=2e-6)


def test_logsumexp_3d_over_outer_and_inner_axes(rng):
    T3 = pt.dtensor3("T")
    f = _c([T3], [pt.log(pt.sum(pt.exp(T3), axis=(0, 2))), pt.log(pt.sum(pt.exp(T3), axis=(1,)))])
    v = 500 + 40 * rng.standard_normal((7, 30, 3000))
    v[2, 5, :] = -np.inf
    with np.errstate(all="ignore"):
        a, b = f(v)
        np.testing.assert_allclose(a, sps.logsumexp(v, axis=(0, 2)), rtol=1e-13)
        np.testing.assert_allclose(b, sps.logsumexp(v, axis=1), rtol=1e-13)
        a, b = f(v.transpose(2, 1, 0).copy().transpose(2, 1, 0))
        np.testing.assert_allclose(a, sps.logsumexp(v, axis=(0, 2)), rtol=1e-13)
        np.testing.assert_allclose(b, sps.logsumexp(v, axis=1), rtol=1e-13)


# ----------------------------------------------------------------------------- softplus
def test_softplus_kernel_against_mpmath(rng):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = pt.dvector("x")
    f = _c([x], pt.log(1 + pt.exp(x)))
    v = np.concatenate([rng.uniform(-1000, 1000, 3000), rng.uniform(-40, 40, 3000), np.linspace(-760, -700, 400),
                        np.linspace(700, 720, 50), -np.exp(rng.uniform(-50, 7, 500)), np.exp(rng.uniform(-50, 7, 500)),
                        [0.0, -0.0, 1e-300, -1e-300, 5e-324, 707, 708, 709, -708, -744.4, -745, -746, 36, 37, 38]])
    got = f(v)
    ref = np.array([float(mpmath.log1p(mpmath.exp(mpmath.mpf(float(t))))) for t in v])
    normal = np.abs(ref) >= np.finfo("float64").tiny
    np.testing.assert_allclose(got[normal], ref[normal], rtol=1e-12)
    np.testing.assert_allclose(got[~normal], ref[~normal], rtol=0, atol=np.finfo("float64").tiny * 1e-12 + 5e-324)
    with np.errstate(invalid="ignore"):
        special = f(np.array([np.inf, -np.inf, np.nan, 1e308, -1e308]))
    np.testing.assert_array_equal(special, [np.inf, 0.0, np.nan, 1e308, 0.0])


def test_softplus_float32_and_sigmoid_match_numpy(rng):
    x = pt.fvector("x")
    f = _c([x], [pt.softplus(x), pt.sigmoid(x)])
    v = np.concatenate([rng.uniform(-200, 200, 5000), rng.uniform(-20, 20, 5000),
                        [0, 86, 87, 88, -86, -87, -88, -103, -104, -105, np.inf, -np.inf, np.nan]]).astype("float32")
    with np.errstate(all="ignore"):
        sp, sg = f(v)
        ref = np.logaddexp(0, v.astype("float64"))
        sref = sps.expit(v.astype("float64"))
    normal = np.abs(ref) >= np.finfo("float32").tiny
    np.testing.assert_allclose(sp[normal], ref[normal], rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(sp[~normal], ref[~normal], rtol=0, atol=2e-45)
    snormal = np.abs(sref) >= np.finfo("float32").tiny
    np.testing.assert_allclose(sg[snormal], sref[snormal], rtol=1e-6, equal_nan=True)


# ----------------------------------------------------------------------------- threads
def test_num_threads_config_is_validated():
    with pytest.raises(ValueError, match="num_threads"):
        config.num_threads = -1
    with pytest.raises(ValueError, match="num_threads"):
        config.num_threads = "2"
    assert config.num_threads == 0


def test_results_identical_for_every_thread_count(rng):
    x, y = pt.dvector("x"), pt.dvector("y")
    X, r = pt.dmatrix("X"), pt.dmatrix("r", shape=(1, None))
    outs = [pt.exp(x) * pt.sin(y) + pt.log1p(x * x) - pt.sqrt(abs(y) + 1) / (1 + pt.exp(-x)),
            pt.softplus(x * 300), pt.log(pt.sum(pt.exp(X), axis=1)), pt.tanh(X) * r, pt.sum(pt.exp(X), axis=1)]
    xv, yv = rng.standard_normal(600_001), rng.standard_normal(600_001)  # above EQ_PAR_MIN = 2**18
    Xv, rv = rng.standard_normal((1601, 333)), rng.standard_normal((1, 333))
    results = []
    for t in (1, 2, 3, 5):
        with config.change_flags(num_threads=t):
            f = _c([x, y, X, r], outs)
        results.append(f(xv, yv, Xv, rv))
    for res in results[1:]:
        for a, b in zip(res, results[0]):
            np.testing.assert_array_equal(a, b)
    want = [np.exp(xv) * np.sin(yv) + np.log1p(xv * xv) - np.sqrt(abs(yv) + 1) / (1 + np.exp(-xv)),
            np.logaddexp(0, xv * 300), sps.logsumexp(Xv, axis=1), np.tanh(Xv) * rv, np.exp(Xv).sum(1)]
    for a, b in zip(results[0], want):  # the chain cancels near 0: libmvec's few ulp show as 1e-16 absolute
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_threaded_function_works_in_a_forked_child(tmp_path):
    # the child does not use or wait for its parent's pool workers (they do not exist there): it
    # starts a fresh pool (an OpenMP pool would hang the child)
    code = textwrap.dedent("""
        import os, sys, numpy as np
        from eqtensor import config, function, tensor as pt
        config.num_threads = 2
        x = pt.dvector("x")
        f = function([x], pt.exp(x) * 2 + 1, mode="C")
        v = np.linspace(-1, 1, 1_000_000)
        want = np.exp(v) * 2 + 1
        np.testing.assert_allclose(f(v), want, rtol=1e-12)
        pid = os.fork()
        if pid == 0:
            ok = np.allclose(f(v), want, rtol=1e-12)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    env = dict(os.environ, EQTENSOR_CACHE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], env=env, timeout=120, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_env_variable_sets_the_default_thread_count(monkeypatch):
    from eqtensor.backends.c.toolchain import threads

    monkeypatch.setenv("EQTENSOR_NUM_THREADS", "3")
    assert threads() == 3
    with config.change_flags(num_threads=1):
        assert threads() == 1
    monkeypatch.delenv("EQTENSOR_NUM_THREADS")
    assert threads() == len(os.sched_getaffinity(0))


# ----------------------------------------------------------------------------- BLAS ops
def _blas_cases(rng, dt):
    A = rng.standard_normal((37, 23)).astype(dt)
    B = rng.standard_normal((23, 41)).astype(dt)
    C = rng.standard_normal((37, 41)).astype(dt)
    big = rng.standard_normal((80, 90)).astype(dt)
    return [(A, B, C), (np.asfortranarray(A), B.T.copy().T, C), (big[:37, :23], big[:23, ::2][:, :41], C),
            (A.T.copy().T, np.asfortranarray(B), np.asfortranarray(C)), (A, B, C[::-1]),
            (A[:0], B, C[:0]), (A[:, :0], B[:0], C)]


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_gemm_gemv_ger_ops_match_numpy(rng, dt):
    from eqtensor.core.ops.blas import gemm, gemv, ger

    A, B, C = (pt.matrix(k, dtype=dt) for k in "ABC")
    x, y, z = (pt.vector(k, dtype=dt) for k in "xyz")
    a, b = pt.scalar("a", dtype=dt), pt.scalar("b", dtype=dt)
    f = _c([A, B, C, a, b], gemm(C, a, A, B, b))
    fn = function([A, B, C, a, b], gemm(C, a, A, B, b), mode="FAST_COMPILE")
    tol = 1e-12 if dt == "float64" else 1e-5
    for Av, Bv, Cv in _blas_cases(rng, dt):
        for al, be in ((0.5, 2.0), (1.0, 0.0), (0.0, 1.0), (-1.5, 1.0)):
            al, be = np.asarray(al, dt), np.asarray(be, dt)
            Cin = Cv.copy()
            got = f(Av, Bv, Cv, al, be)
            np.testing.assert_array_equal(Cv, Cin)  # never written
            assert got.dtype == np.dtype(dt) and got.shape == (Av.shape[0], Bv.shape[1])
            want = al * (Av.astype("float64") @ Bv.astype("float64")) + be * Cv
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
            np.testing.assert_allclose(got, fn(Av, Bv, Cv, al, be), rtol=tol, atol=tol * 10)
    # inf/nan in C with beta = 0 and in A with alpha = 0 propagate as the formula (0 * inf = nan)
    Av, Bv, Cv = _blas_cases(rng, dt)[0]
    Cn = Cv.copy()
    Cn[0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(np.isnan(f(Av, Bv, Cn, np.asarray(1, dt), np.asarray(0, dt))),
                                      np.isnan(0 * Cn))
    g = _c([A, x, y, a, b], gemv(y, a, A, x, b))
    h = _c([C, x, z, a], ger(C, a, x, z))
    Av = rng.standard_normal((30, 20)).astype(dt)
    Cv = rng.standard_normal((30, 25)).astype(dt)
    xv, yv, zv = (rng.standard_normal(n).astype(dt) for n in (20, 30, 25))
    for M in (Av, np.asfortranarray(Av), rng.standard_normal((20, 30)).astype(dt).T):
        for xx in (xv, rng.standard_normal(40).astype(dt)[::2]):
            got = g(M, xx, yv, np.asarray(0.5, dt), np.asarray(2, dt))
            np.testing.assert_allclose(got, 0.5 * (M @ xx) + 2 * yv, rtol=tol, atol=tol * 10)
    for Cm in (Cv, np.asfortranarray(Cv), Cv[::-1]):
        Cin = Cm.copy()
        xr = rng.standard_normal(30).astype(dt)
        got = h(Cm, xr, zv, np.asarray(1.5, dt))
        np.testing.assert_array_equal(Cm, Cin)
        np.testing.assert_allclose(got, Cm + 1.5 * np.outer(xr, zv), rtol=tol, atol=tol * 10)


# ----------------------------------------------------------------------------- scalar arguments
def test_scalar_arguments_are_bound_without_conversion(monkeypatch):
    """0-d inputs take NumPy scalars of their dtype (and floats for float64) straight, checked and
    trusted: the Python conversion (``TensorType.filter``) is not called; values equal NumPy's; a
    Python float is never written to (it is bound read-only)."""
    a, b, n = pt.dscalar("a"), pt.fscalar("b"), pt.lscalar("n")
    outs = [pt.exp(a) * b + n, a + 1, a]
    f = _c([a, b, n], outs)
    calls = [(0.5, np.float32(2.0), np.int64(3)), (np.float64(-1.5), np.float32(0.25), np.int64(-2))]
    want = [[np.exp(x) * np.float32(y) + z, x + 1, x] for x, y, z in calls]
    filter_type = type(a.type)
    real_filter = filter_type.filter
    monkeypatch.setattr(filter_type, "filter", lambda *args, **kw: pytest.fail("argument converted"))
    for trust in (False, True):
        f.trust_input = trust
        for args, w in zip(calls, want):
            got = f(*args)
            for g, r in zip(got, w):
                assert type(g) is np.ndarray and g.shape == ()
                np.testing.assert_allclose(g, r, rtol=1e-6)
            assert got[0].dtype == np.float64 and got[2].flags.writeable
    monkeypatch.setattr(filter_type, "filter", real_filter)
    f.trust_input = False
    np.testing.assert_allclose(f(np.float32(0.5), 2, 3)[0], np.exp(0.5) * 2 + 3, rtol=1e-6)  # converted
    f.trust_input = True
    with pytest.raises(TypeError, match=r"input 0 \(a\) .* must be a numpy.ndarray or numpy.float64 or float"):
        f(np.float32(0.5), np.float32(2.0), np.int64(3))
    g = _c([a], a * 2 + 1, trust_input=True)  # the one-output call straight in C
    x = 0.75
    assert g(x) == 2.5 and g(np.float64(x)) == 2.5 and x == 0.75
    with pytest.raises(TypeError, match="must be a numpy.ndarray, got int"):
        g(1)


# ----------------------------------------------------------------------------- max/min/all/any lanes
@pytest.mark.parametrize("dt", ["float64", "float32", "int64", "int16"])
def test_lane_reductions_every_length_and_nan_position(dt, rng):
    """max/min/all/any (64 partial accumulators, blocks of 8, then one by one, the lanes folded
    pairwise) against NumPy over rows of every length around the block sizes, with a NaN (floats)
    or the extreme value at every kind of position: in a 64-block, in an 8-block, in the last
    elements."""
    X = pt.matrix("X", dtype=dt)
    outs = [pt.max(X, axis=1), pt.min(X, axis=1), pt.max(X), pt.min(X), pt.all(X, axis=1), pt.any(X, axis=1)]
    f = _c([X], outs)
    flt = dt.startswith("float")
    for n in (1, 7, 8, 9, 63, 64, 65, 71, 72, 73, 127, 128, 200):
        x = (rng.standard_normal((6, n)) * 100).astype(dt)
        for r, pos in enumerate((0, n // 2, n - 1, min(n - 1, 64), min(n - 1, 70))):
            if flt:
                x[r, pos] = np.nan
            else:
                x[r, pos] = np.iinfo(dt).max
        x[5, :] = 0 if n % 2 else x[5, :]  # all-zero rows for all/any
        want = [x.max(axis=1), x.min(axis=1), x.max(), x.min(), x.all(axis=1), x.any(axis=1)]
        for got, w in zip(f(x), want):
            np.testing.assert_array_equal(got, w, err_msg=f"n={n}")


# ----------------------------------------------------------------------------- sibling reductions
def _siblings(f):
    from eqtensor.backends.c.plan import plan_units

    s = f.maker.schedule
    plan = plan_units(s.nodes, s.outputs)
    return sorted(len(v) + 1 for v in plan.siblings.values())


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_sibling_reductions_share_one_pass(axis, rng):
    """sum/prod reductions over the same axes of values of one shape that read a common input run
    in one loop (one accumulator each, keepdims may differ); results equal NumPy's for C-ordered,
    transposed and strided inputs, float and integer."""
    X, Y, N = pt.dmatrix("X"), pt.dmatrix("Y"), pt.lmatrix("N")
    outs = [pt.sum(X * Y, axis=axis), pt.sum(X, axis=axis, keepdims=True), pt.prod(1 + X * 1e-3, axis=axis),
            pt.sum(pt.exp(X) - Y, axis=axis), pt.sum(N * 2 + (X > 0), axis=axis)]
    f = _c([X, Y, N], outs)
    assert _siblings(f) == [5]
    base = rng.standard_normal((70, 90))
    for x in (base, base.T.copy().T, base[::2, ::3], np.asfortranarray(base)):
        y = rng.standard_normal(x.shape)
        n = rng.integers(-5, 5, x.shape)
        want = [np.sum(x * y, axis=axis), np.sum(x, axis=axis, keepdims=True), np.prod(1 + x * 1e-3, axis=axis),
                np.sum(np.exp(x) - y, axis=axis), np.sum(n * 2 + (x > 0), axis=axis)]
        for got, w in zip(f(x, y, n), want):
            assert got.shape == np.shape(w) and got.dtype == np.asarray(w).dtype
            np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-10)


def test_dependent_reductions_stay_in_order(rng):
    """a reduction reading another's result (through an elementwise step) is not merged with it;
    an independent one moves up into the earlier pass when everything it reads exists there"""
    x, g = pt.dvector("x"), pt.dvector("g")
    s1 = pt.sum(x * g)
    s2 = pt.sum((x - s1) ** 2 * g)       # depends on s1
    s3 = pt.sum(g * 3 - x)               # independent: joins s1's pass
    f = _c([x, g], [s1, s2, s3, s2 + s3])
    assert _siblings(f) == [2]
    xv, gv = rng.standard_normal(1001), rng.standard_normal(1001)
    a = np.sum(xv * gv)
    b = np.sum((xv - a) ** 2 * gv)
    c = np.sum(gv * 3 - xv)
    np.testing.assert_allclose(f(xv, gv), [a, b, c, b + c], rtol=1e-12)
    with pytest.raises(ValueError):
        f(xv, gv[:-1])  # the shared loop still checks its operands' lengths
