"""The accumulator of the BLAS ops and what surrounds their call: ``gemm``/``gemv``/``ger`` follow
PyTensor's static broadcasting for their accumulator ``C`` on both backends (as the elementwise sum
they replace), a bias ``b`` broadcast into each chunk of a split matrix product right before the
chunk's BLAS call, the float32 workloads' graphs computed in float32 with ``sgemm``, and the fused
loops between the products whose comparisons feed arithmetic (the relu's gradient)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from eqtensor import config, function, tensor as pt
from eqtensor.backends.c.toolchain import compiler_works
from eqtensor.core.ops.blas import gemm, gemv, ger
from eqtensor.gradient import grad

THREADS = (1, 2, 3)  # 3: capped at the cores
MODES = ["NUMPY", pytest.param("C", marks=pytest.mark.skipif(not compiler_works(), reason="no working C compiler"))]


def _ops(f):
    return [n.op.name for n in f.maker.fgraph.toposort()]


# ----------------------------------------------------------------------------- static broadcasting
@pytest.mark.parametrize("mode", MODES)
def test_gemm_accumulator_of_unknown_length_does_not_broadcast(rng, mode):
    """``2*dot(x, W) + 3*C``, C of static shape (None, None): a (1, n) or (m, 1) value raises as the
    elementwise sum does (PyTensor's static broadcasting); C of static shape (1, None) broadcasts"""
    x, W, C = pt.dmatrix("x"), pt.dmatrix("W"), pt.dmatrix("C")
    f = function([x, W, C], 2 * pt.dot(x, W) + 3 * C, mode=mode)
    assert "gemm" in _ops(f)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    c = rng.standard_normal((4, 3))
    np.testing.assert_allclose(f(a, b, c), 2 * a @ b + 3 * c, rtol=1e-12)
    for bad, axis in ((c[:1], 0), (c[:, :1], 1)):
        with pytest.raises(ValueError, match=f"gemm: run-time lengths differ along axis {axis}.*static length 1"):
            f(a, b, bad)
    R = pt.matrix("R", dtype="float64", shape=(1, None))
    h = function([x, W, R], 2 * pt.dot(x, W) + 3 * R, mode=mode)
    np.testing.assert_allclose(h(a, b, c[:1]), 2 * a @ b + 3 * c[:1], rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("alpha", [0.5, 0.0])
def test_blas_ops_accumulator_static_broadcasting(rng, mode, alpha):
    """gemm, gemv and ger built directly: their accumulator broadcasts only along axes of static
    length 1, for a BLAS-path alpha and for alpha 0 (computed by the formula)"""
    A, B, x, y = pt.dmatrix("A"), pt.dmatrix("B"), pt.dvector("x"), pt.dvector("y")
    C, v = pt.dmatrix("C"), pt.dvector("v")
    C1 = pt.matrix("C1", dtype="float64", shape=(1, None))
    v1 = pt.vector("v1", dtype="float64", shape=(1,))
    a, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 5))
    xv, yv = rng.standard_normal(6), rng.standard_normal(5)
    cases = [
        ([C, A, B], gemm(C, alpha, A, B, 2.0), (rng.standard_normal((1, 5)), a, b), "gemm", 0),
        ([C, A, B], gemm(C, alpha, A, B, 2.0), (rng.standard_normal((6, 1)), a, b), "gemm", 1),
        ([v, A, x], gemv(v, alpha, A.T, x, 2.0), (rng.standard_normal(1), a, xv), "gemv", 0),
        ([C, x, y], ger(C, alpha, x, y), (rng.standard_normal((1, 5)), xv, yv), "ger", 0),
        ([C, x, y], ger(C, alpha, x, y), (rng.standard_normal((6, 1)), xv, yv), "ger", 1),
    ]
    for ins, out, args, name, axis in cases:
        f = function(ins, out, mode=mode)
        with pytest.raises(ValueError, match=f"{name}: run-time lengths differ along axis ({axis}|-1)"):
            f(*args)
    # statically broadcastable accumulators broadcast
    c1, w1 = rng.standard_normal((1, 5)), rng.standard_normal(1)
    f = function([C1, A, B], gemm(C1, alpha, A, B, 2.0), mode=mode)
    np.testing.assert_allclose(f(c1, a, b), alpha * a @ b + 2 * c1, rtol=1e-12, atol=1e-12)
    f = function([v1, A, x], gemv(v1, alpha, A.T, x, 2.0), mode=mode)
    np.testing.assert_allclose(f(w1, a, xv), alpha * a.T @ xv + 2 * w1, rtol=1e-12, atol=1e-12)
    f = function([C1, x, y], ger(C1, alpha, x, y), mode=mode)
    np.testing.assert_allclose(f(c1, xv, yv), c1 + alpha * np.outer(xv, yv), rtol=1e-12, atol=1e-12)


def test_accumulator_checks_in_the_interpreted_numpy_thunk(rng, monkeypatch):
    """large graphs run as interpreted steps: the same accumulator checks there"""
    from eqtensor.backends import numpy_backend

    monkeypatch.setattr(numpy_backend, "INTERPRET_FROM", 0)
    A, B, x, y, C = pt.dmatrix("A"), pt.dmatrix("B"), pt.dvector("x"), pt.dvector("y"), pt.dmatrix("C")
    f = function([C, A, B], gemm(C, 0.5, A, B, 1.0), mode="NUMPY")
    g = function([C, x, y], ger(C, 0.5, x, y), mode="NUMPY")
    assert f.maker.backend_source.startswith("# interpreted thunk")
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    xv, yv = rng.standard_normal(3), rng.standard_normal(4)
    with pytest.raises(ValueError, match="gemm: run-time lengths differ along axis 0"):
        f(np.ones((1, 4)), a, b)
    with pytest.raises(ValueError, match="ger: run-time lengths differ along axis -1"):
        g(np.ones((3, 1)), xv, yv)
    np.testing.assert_allclose(f(np.ones((3, 4)), a, b), 0.5 * a @ b + 1, rtol=1e-12)
    np.testing.assert_allclose(g(np.ones((3, 4)), xv, yv), 1 + 0.5 * np.outer(xv, yv), rtol=1e-12)


# ----------------------------------------------------------------------------- bias in each chunk
def _c(inputs, outputs, threads):
    with config.change_flags(num_threads=threads):
        return function(inputs, outputs, mode="C", on_unused_input="ignore")


@pytest.mark.skipif(not compiler_works(), reason="no working C compiler")
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_bias_activation_of_split_products_match_numpy_bitwise_across_calls(rng, dt):
    """``act(dot(x, W) + b)`` (relu, tanh, sigmoid: the optimizer computes bias and activation in one
    pass after the product), and gemm with a row bias (then relu) and a column bias, products above the
    split threshold cut along rows (m >= n) or columns (n > m): the broadcast bias is written into
    each chunk right before its BLAS call. Against NumPy for 1, 2 and 3 threads; for a given thread
    count every call gives the same bits, whatever the machine's load (the chunks do not depend on it)"""
    x, W, b = pt.matrix("x", dtype=dt), pt.matrix("W", dtype=dt), pt.vector("b", dtype=dt)
    c = pt.matrix("c", dtype=dt, shape=(None, 1))
    z = pt.dot(x, W) + b
    outs = [pt.maximum(z, 0), pt.tanh(z), pt.sigmoid(z), pt.maximum(gemm(b.dimshuffle("x", 0), 1.0, x, W, 1.0), 0),
            gemm(c, 2.0, x, W, -1.0)]
    fs = {t: [_c([x, W, b, c], o, t) for o in outs] for t in THREADS}
    assert all("gemm" in _ops(f) for f in fs[1][3:])
    rtol, atol = (1e-4, 1e-4) if dt == "float32" else (1e-11, 1e-11)
    for m, k, n in ((300, 200, 100), (100, 200, 300), (513, 64, 70)):
        xv, Wv = rng.standard_normal((m, k)).astype(dt), (rng.standard_normal((k, n)) / np.sqrt(k)).astype(dt)
        bv, cv = rng.standard_normal(n).astype(dt), rng.standard_normal((m, 1)).astype(dt)
        z64 = xv.astype("float64") @ Wv.astype("float64")
        wants = [np.maximum(z64 + bv, 0), np.tanh(z64 + bv), 1 / (1 + np.exp(-(z64 + bv))), np.maximum(z64 + bv, 0),
                 2 * z64 - cv]
        for t in THREADS:
            for f, want in zip(fs[t], wants):
                got = f(xv, Wv, bv, cv)
                assert got.dtype == np.dtype(dt)
                np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{(m, k, n)} threads {t}")
                for _ in range(5):
                    np.testing.assert_array_equal(f(xv, Wv, bv, cv), got)


# ----------------------------------------------------------------------------- float32 end to end
@pytest.mark.skipif(not compiler_works(), reason="no working C compiler")
def test_float32_mlp_and_softmax_xent_stay_float32_with_sgemm(rng):
    """the float32 MLP (relu, log_softmax cross-entropy) and its gradients: every matrix of the compiled
    graph is float32 and every matrix product a float32 BLAS call (``dbl`` 0: sgemm); float64 appears
    only in the mean's accumulator (vectors of the batch's length and scalars, as PyTensor's wider sum
    accumulator); values against NumPy"""
    X, W1, W2 = pt.matrix("X", dtype="float32"), pt.matrix("W1", dtype="float32"), pt.matrix("W2", dtype="float32")
    b1, b2, y = pt.vector("b1", dtype="float32"), pt.vector("b2", dtype="float32"), pt.vector("y", dtype="int64")
    h = pt.maximum(pt.dot(X, W1) + b1, 0)
    lp = pt.special.log_softmax(pt.dot(h, W2) + b2, axis=1)
    loss = -pt.mean(lp[pt.arange(y.shape[0]), y])
    f = function([X, y, W1, b1, W2, b2], [loss, *grad(loss, [W1, b1, W2, b2])], mode="C")
    nodes = f.maker.fgraph.toposort()
    for n in nodes:
        if n.out.dtype == "float64":
            assert n.out.ndim <= 1, (n.op.name, n.out.type)
        if n.out.ndim == 2:
            assert n.out.dtype in ("float32", "bool", "int64"), (n.op.name, n.out.type)
    blas = [n for n in nodes if n.op.name in ("dot", "gemm", "gemv", "ger")]
    assert len(blas) == 5 and all(n.out.dtype == "float32" for n in blas)
    calls = re.findall(r"eq_(?:gemm|dot)\(&V[^;]*, (\d), \d+\) < 0", f.maker.backend_source)
    assert calls == ["0"] * 5, calls
    Xv = rng.standard_normal((64, 50)).astype("float32")
    yv = rng.integers(0, 10, 64)
    W1v = (rng.standard_normal((50, 32)) * 0.1).astype("float32")
    W2v = (rng.standard_normal((32, 10)) * 0.1).astype("float32")
    b1v, b2v = rng.standard_normal(32).astype("float32") * 0.1, rng.standard_normal(10).astype("float32") * 0.1
    got = f(Xv, yv, W1v, b1v, W2v, b2v)
    assert all(g.dtype == np.float32 for g in got)
    X64, W164, W264 = Xv.astype("float64"), W1v.astype("float64"), W2v.astype("float64")
    a = X64 @ W164 + b1v
    hv = np.maximum(a, 0)
    zz = hv @ W264 + b2v
    lpv = zz - zz.max(1, keepdims=True)
    lpv -= np.log(np.exp(lpv).sum(1, keepdims=True))
    gz = np.exp(lpv)
    gz[np.arange(64), yv] -= 1
    gz /= 64
    gh = (gz @ W264.T) * (a > 0)
    wants = [-lpv[np.arange(64), yv].mean(), X64.T @ gh, gh.sum(0), hv.T @ gz, gz.sum(0)]
    for g, w in zip(got, wants):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not compiler_works(), reason="no working C compiler")
def test_fused_loops_with_boolean_intermediates_match_numpy_bitwise(rng):
    """the relu's gradient between the MLP's products, ``switch(h == 0, g/2, g) * (z == h)``, and other
    fused loops whose comparisons feed arithmetic, casts, ``switch``, ``invert`` or a boolean output
    (the comparison's local is an ``int``: GCC 12 vectorizes no loop that converts an ``npy_bool`` to
    a float). Exact against NumPy, with ties (h == 0, z == h), nan and signed zeros in the data"""
    h, g, z = (pt.matrix(n, dtype="float32") for n in "hgz")
    d = pt.matrix("d", dtype="float64")
    outs = [pt.switch(pt.eq(h, 0), g * 0.5, g) * pt.eq(z, h),
            (z > 0) * g + pt.lt(z, g),
            pt.cast(pt.gt(z, h), "int8") * 3 + pt.cast(pt.le(g, 0), "float64") * d,
            pt.invert(pt.ge(z, 0)) * g,
            pt.and_(pt.gt(z, 0), pt.lt(g, 0)) | pt.isnan(g)]
    f = function([h, g, z, d], outs, mode="C", on_unused_input="ignore")
    assert "const int t" in f.maker.backend_source and "const npy_bool t" not in f.maker.backend_source
    zv = rng.standard_normal((64, 300)).astype("float32")
    zv[:, ::7] = 0.0
    zv[:, 1::11] = -0.0
    hv = np.maximum(zv, 0)
    gv = rng.standard_normal((64, 300)).astype("float32")
    gv[::5, ::13] = np.nan
    dv = rng.standard_normal((64, 300))
    wants = [np.where(hv == 0, gv * np.float32(0.5), gv) * (zv == hv), (zv > 0) * gv + (zv < gv),
             (zv > hv).astype("int8") * np.int8(3) + (gv <= 0).astype("float64") * dv, ~(zv >= 0) * gv,
             ((zv > 0) & (gv < 0)) | np.isnan(gv)]
    for got, want in zip(f(hv, gv, zv, dv), wants):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
