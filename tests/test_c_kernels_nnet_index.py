"""The C backend's kernels for softmax, log_softmax, argmax/argmin and advanced indexing (gather
``x[idx]``, ``set_subtensor``/``inc_subtensor`` on integer index arrays) against NumPy — random
shapes, axes and dtypes, edge values, empty arrays, repeated, negative and out-of-range indices,
threads — and checks that the compiled C function no longer runs these ops through NumPy. Also: the
fusion of their producers and consumers, cheap values recomputed in several loops, ``alloc`` inside
loops, the per-function buffer cache, float32 kept float32 (loops and BLAS)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from eqtensor import config, function, grad, tensor as pt
from eqtensor.backends import c as cbackend
from eqtensor.backends.c.plan import plan_units
from eqtensor.backends.c.toolchain import compiler_works
from eqtensor.core.op import OPS

pytestmark = pytest.mark.skipif(not compiler_works(), reason="no working C compiler")

NNET_INDEX_OPS = ("softmax", "log_softmax", "argmax", "argmin", "advanced_subtensor", "set_subtensor",
                  "inc_subtensor")


def fallbacks(f) -> list[str]:
    """The ops the compiled C function runs through NumPy (the labels of their result checks)."""
    return re.findall(r'eq_result\(&V\[\d+\], r, \d+, \d+, "([^"]+)"\)', f.maker.backend_source)


def c_function(inputs, outputs, native=NNET_INDEX_OPS, **kw):
    """A C function whose ops of ``native`` all run in C."""
    f = function(inputs, outputs, mode="C", **kw)
    assert f.maker.backend == "c"
    bad = [n for n in fallbacks(f) if n in native]
    assert not bad, f"ops still run through NumPy: {bad}"
    return f


def _close(got, want, dtype):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    rtol, atol = (2e-6, 1e-6) if dtype == "float32" else (1e-13, 1e-15)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def _with_edges(a, rng):
    """``a`` (ndim >= 1, float) with rows of edge values along the last axis when it has room."""
    a = a.copy()
    flat = a.reshape(-1, a.shape[-1]) if a.size else a
    if a.size and flat.shape[0] >= 5 and flat.shape[1] >= 3:
        flat[0, :] = -np.inf  # all -inf: nan (softmax), index 0 (argmax)
        flat[1, 1] = np.inf  # one +inf
        flat[2, 2] = np.nan  # a nan
        flat[3, :] = 700.0 if a.dtype == np.float64 else 80.0  # overflow without the shift; ties
        flat[4, 0] = -np.inf
    return a


# ----------------------------------------------------------------------------- softmax, log_softmax
SOFTMAX_CASES = [((7,), (0,)), ((5, 9), (1,)), ((5, 9), (0,)), ((4, 3, 6), (1,)), ((4, 3, 6), (0, 2)),
                 ((4, 3, 6), (0, 1, 2)), ((2, 3, 4, 5), (1, 3)), ((0, 4), (1,)), ((4, 0), (1,)), ((), ())]


#: cases compiled together: independent inputs and outputs in one C function (one C module costs ~0.3 s
#: of compiler time), kept under the C backend's table threshold (16 inputs or outputs) so that each case
#: goes through the code path of a small function
PER_FUNCTION = 5


def _batched_calls(cases, variants_of):
    """Call the function of ``cases`` once per layout variant: each case gets its ``j``-th variant
    (its last one when it has fewer); yields the case, the argument and the case's results."""
    variants = [variants_of(case) for case in cases]
    for j in range(max(map(len, variants))):
        yield [(case, vs[min(j, len(vs) - 1)]) for case, vs in zip(cases, variants)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_log_softmax_match_numpy(rng, dtype):
    def variants_of(case):
        v = (rng.standard_normal(case[0]) * 3).astype(dtype)
        if v.ndim:
            v = _with_edges(v, rng)
        if v.ndim >= 2:
            return [v, v[:, ::-1], np.asfortranarray(v), v.swapaxes(0, 1).copy().swapaxes(0, 1)]
        return [v]

    for start in range(0, len(SOFTMAX_CASES), PER_FUNCTION):
        cases = SOFTMAX_CASES[start:start + PER_FUNCTION]
        xs = [pt.tensor(f"x{k}", dtype=dtype, shape=(None,) * len(shape)) for k, (shape, _) in enumerate(cases)]
        f = c_function(xs, [o for x, (_, axes) in zip(xs, cases)
                            for o in (pt.special.softmax(x, axis=axes), pt.special.log_softmax(x, axis=axes))])
        with np.errstate(all="ignore"):
            for call in _batched_calls(cases, variants_of):
                res = f(*[arg for _, arg in call])
                for ((_, axes), arg), s, ls in zip(call, res[::2], res[1::2]):
                    _close(s, OPS["softmax"].perform(arg, axis=axes), dtype)
                    _close(ls, OPS["log_softmax"].perform(arg, axis=axes), dtype)


def test_softmax_all_axes_integer_input_and_fused_producers(rng):
    x, b = pt.dmatrix("x"), pt.dvector("b")
    i = pt.lmatrix("i")
    z = pt.matrix("z", dtype="float32")
    outs = [pt.special.softmax(x), pt.special.softmax(i, axis=1), pt.special.log_softmax(x * 2 + b, axis=1),
            pt.special.softmax(pt.exp(z) - 1, axis=0)]
    f = c_function([x, b, i, z], outs)
    v, bv = rng.standard_normal((6, 5)), rng.standard_normal(5)
    iv, zv = rng.integers(-3, 3, (6, 5)), rng.standard_normal((6, 5)).astype("float32")
    r = f(v, bv, iv, zv)
    _close(r[0], OPS["softmax"].perform(v, axis=(0, 1)), "float64")
    _close(r[1], OPS["softmax"].perform(iv, axis=(1,)), "float64")
    _close(r[2], OPS["log_softmax"].perform(v * 2 + bv, axis=(1,)), "float64")
    _close(r[3], OPS["softmax"].perform(np.exp(zv) - 1, axis=(0,)), "float32")
    src = f.maker.backend_source
    assert "eq_rows(" in src


@pytest.mark.parametrize("threads", [1, 2])
def test_softmax_large_rows_on_threads(rng, threads):
    x = pt.matrix("x", dtype="float32")
    with config.change_flags(num_threads=threads):
        f = c_function([x], [pt.special.softmax(x, axis=1), pt.special.log_softmax(x, axis=0),
                             pt.argmax(x, axis=1)])
    v = rng.standard_normal((700, 600)).astype("float32")  # 2^18+ elements: rows on the pool
    v[5, :] = -np.inf
    v[9, 3] = np.nan
    with np.errstate(all="ignore"):
        s, ls, am = f(v)
        _close(s, OPS["softmax"].perform(v, axis=(1,)), "float32")
        _close(ls, OPS["log_softmax"].perform(v, axis=(0,)), "float32")
        np.testing.assert_array_equal(am, np.argmax(v, axis=1))


def test_float32_softmax_stays_float32(rng):
    x = pt.matrix("x", dtype="float32")
    f = c_function([x], pt.special.softmax(x * 2, axis=1))
    out = f(rng.standard_normal((3, 4)).astype("float32"))
    assert out.dtype == np.float32
    kernel = f.maker.backend_source.split("EQ_KFN void eq_k_")[1].split("EQ_KFN")[0]  # the first kernel
    # float math in float (expf, float division); only the sum of the exponentials is a double
    assert "expf(" in kernel and "exp(" not in kernel.replace("expf(", "")
    assert [ln for ln in kernel.splitlines() if "double" in ln] == ["double s = 0;"]


# ----------------------------------------------------------------------------- argmax, argmin
ARG_CASES = [((9,), (0,), False), ((5, 8), (1,), False), ((5, 8), (0,), True), ((3, 4, 5), (0, 2), False),
             ((3, 4, 5), (0, 1, 2), True), ((3, 4, 5), (1,), True), ((600,), (0,), False), ((0, 3), (1,), False),
             ((3, 4), (), False)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int32", "uint64", "bool"])
def test_argmax_argmin_match_numpy(rng, dtype):
    def variants_of(case):
        shape = case[0]
        if dtype == "bool":
            v = rng.integers(0, 2, shape).astype(bool)
        elif dtype.startswith(("int", "uint")):
            info = np.iinfo(dtype)
            v = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
            v.flat[: min(v.size, 3)] = info.max  # ties at the extremes: the first wins
        else:
            v = rng.integers(-4, 4, shape).astype(dtype)  # many ties
            if v.ndim:
                v = _with_edges(v, rng)
        return [v] + ([v[::-1], np.asfortranarray(v)] if v.ndim >= 2 else [])

    for start in range(0, len(ARG_CASES), PER_FUNCTION):
        cases = ARG_CASES[start:start + PER_FUNCTION]
        xs = [pt.tensor(f"x{k}", dtype=dtype, shape=(None,) * len(shape)) for k, (shape, _, _) in enumerate(cases)]
        f = c_function(xs, [o for x, (_, axes, keep) in zip(xs, cases)
                            for o in (pt.argmax(x, axis=axes, keepdims=keep), pt.argmin(x, axis=axes, keepdims=keep))])
        for call in _batched_calls(cases, variants_of):
            res = f(*[arg for _, arg in call])
            for ((_, axes, keep), arg), amax, amin in zip(call, res[::2], res[1::2]):
                np.testing.assert_array_equal(amax, OPS["argmax"].perform(arg, axis=axes, keepdims=keep))
                np.testing.assert_array_equal(amin, OPS["argmin"].perform(arg, axis=axes, keepdims=keep))
                assert amax.dtype == np.int64


def test_argmax_nan_first_and_empty_rows(rng):
    x = pt.dmatrix("x")
    f = c_function([x], [pt.argmax(x, axis=1), pt.argmin(pt.exp(x) * 2, axis=1)])
    v = rng.standard_normal((4, 700))
    v[0, 650] = np.nan
    v[0, 660] = np.nan
    v[1, 3] = np.nan
    v[2, :] = -np.inf
    v[3, 300:] = 5.0
    with np.errstate(all="ignore"):
        amax, amin = f(v)
        np.testing.assert_array_equal(amax, np.argmax(v, axis=1))
        np.testing.assert_array_equal(amin, np.argmin(np.exp(v) * 2, axis=1))
    with pytest.raises(ValueError, match="empty sequence"):
        f(np.zeros((3, 0)))
    a, b = f(np.zeros((0, 5)))
    assert a.shape == (0,) and b.shape == (0,)


# ----------------------------------------------------------------------------- gather
@pytest.mark.parametrize("idt", ["int8", "int16", "int32", "int64", "uint8", "uint64"])
def test_gather_vector_matches_numpy(rng, idt):
    mu = pt.dvector("mu")
    i1 = pt.tensor("i1", dtype=idt, shape=(None,))
    i2 = pt.tensor("i2", dtype=idt, shape=(None, None))
    f = c_function([mu, i1, i2], [mu[i1], mu[i2] * 2 + 1, pt.sum(mu[i1])])
    m = rng.standard_normal(7)
    lo = 0 if idt.startswith("uint") else -7
    a = rng.integers(lo, 7, 50).astype(idt)
    b = rng.integers(lo, 7, (3, 4)).astype(idt)
    for mm in (m, np.arange(14.0)[::2]):  # a strided vector
        r = f(mm, a, b)
        np.testing.assert_array_equal(r[0], mm[a])
        np.testing.assert_array_equal(r[1], mm[b] * 2 + 1)
        np.testing.assert_allclose(r[2], mm[a].sum(), rtol=1e-14)
    r = f(m, a[:0], b[:0])
    assert r[0].shape == (0,) and r[1].shape == (0, 4) and float(r[2]) == 0.0
    r = f(m[:0], a[:0], b[:0])  # empty vector, empty index: fine
    assert r[0].shape == (0,)


def test_gather_out_of_range_raises_index_error(rng):
    mu, idx = pt.dvector("mu"), pt.lvector("idx")
    u = pt.tensor("u", dtype="uint64", shape=(None,))
    f = c_function([mu, idx], mu[idx] + 1)
    g = c_function([mu, idx], pt.sum(mu[idx + 1]))  # the index computed inside the loop
    h = c_function([mu, u], mu[u])
    m = np.arange(5.0)
    for bad, val in ((np.array([0, 5, 1]), 5), (np.array([-6, 0]), -6)):
        with pytest.raises(IndexError, match=f"index {val} is out of bounds for axis 0 with size 5"):
            f(m, bad)
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 5"):
        g(m, np.array([0, 4]))
    with pytest.raises(IndexError, match="index 18446744073709551615 is out of bounds"):
        h(m, np.array([1, 2**64 - 1], dtype="uint64"))
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 0"):
        f(m[:0], np.array([0]))
    np.testing.assert_array_equal(f(m, np.array([-5, 4, 4])), m[[-5, 4, 4]] + 1)


@pytest.mark.parametrize("threads", [1, 2])
def test_gather_fused_in_large_threaded_loops(rng, threads):
    mu, idx, y = pt.dvector("mu"), pt.lvector("idx"), pt.dvector("y")
    with config.change_flags(num_threads=threads):
        f = c_function([mu, idx, y], [pt.sum((y - mu[idx]) ** 2), pt.exp(mu[idx]) * y])
    n = 600_000
    m, i, yv = rng.standard_normal(1000), rng.integers(-1000, 1000, n), rng.standard_normal(n)
    s, e = f(m, i, yv)
    np.testing.assert_allclose(s, np.sum((yv - m[i]) ** 2), rtol=1e-12)
    np.testing.assert_allclose(e, np.exp(m[i]) * yv, rtol=1e-15)
    i[n - 7] = 1000
    with pytest.raises(IndexError, match="index 1000 is out of bounds for axis 0 with size 1000"):
        f(m, i, yv)
    assert "advanced_subtensor" not in fallbacks(f)


def test_gather_general_forms(rng):
    x = pt.dmatrix("x")
    t = pt.tensor("t", dtype="float32", shape=(None, None, None))
    i, j = pt.lvector("i"), pt.ivector("j")
    c, k = pt.lmatrix("c"), pt.bvector("k")
    outs = [x[i], x[:, j], x[pt.arange(i.shape[0]), i], x[c], t[:, i, j], t[c], x[c, k], x[i][:, ::-1]]
    f = c_function([x, t, i, j, c, k], outs)
    xv, tv = rng.standard_normal((6, 5)), rng.standard_normal((4, 5, 5)).astype("float32")
    iv, jv = np.array([0, 3, -1, 3]), np.array([4, 0, -5, 2], "int32")
    cv, kv = rng.integers(-4, 4, (2, 3)), np.array([1, -2, 0], "int8")
    r = f(xv, tv, iv, jv, cv, kv)
    want = [xv[iv], xv[:, jv], xv[np.arange(4), iv], xv[cv], tv[:, iv, jv], tv[cv], xv[cv, kv], xv[iv][:, ::-1]]
    for got, w in zip(r, want):
        np.testing.assert_array_equal(got, w)
        assert got.dtype == w.dtype
    with pytest.raises(IndexError, match="index 6 is out of bounds for axis 0 with size 6"):
        f(xv, tv, np.array([6]), jv[:1], cv, kv)
    with pytest.raises(IndexError, match="index -6 is out of bounds for axis 1 with size 5"):
        f(xv, tv, iv, np.array([0, -6, 0, 0], "int32"), cv, kv)
    with pytest.raises(IndexError, match="broadcast"):
        f(xv, tv, iv, jv[:3], cv, kv)


def test_other_advanced_forms_still_run_through_numpy(rng):
    x, i = pt.dmatrix("x"), pt.lvector("i")
    f = function([x, i], [x[x > 0], x[1:, i], x[i, 2]], mode="C")
    assert set(fallbacks(f)) == {"advanced_subtensor"}
    v = rng.standard_normal((4, 5))
    r = f(v, np.array([0, 2]))
    for got, want in zip(r, [v[v > 0], v[1:, [0, 2]], v[[0, 2], 2]]):
        np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------- scatter
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "bool"])
def test_scatter_vector_matches_numpy(rng, dtype):
    x = pt.tensor("x", dtype=dtype, shape=(None,))
    y = pt.tensor("y", dtype=dtype, shape=(None,))
    y0 = pt.tensor("y0", dtype=dtype, shape=())
    idx = pt.lvector("idx")
    f = c_function([x, y, y0, idx], [pt.inc_subtensor(x[idx], y), pt.set_subtensor(x[idx], y),
                                     pt.inc_subtensor(x[idx], y0), pt.set_subtensor(x[idx], y0)])
    n = 9
    xv = (rng.standard_normal(n) * 4).astype(dtype)
    iv = np.array([0, 3, 3, -1, 8, 3, -9, 2])  # repeated and negative indices
    yv = (rng.standard_normal(len(iv)) * 4).astype(dtype)
    y0v = np.asarray(yv[0])
    keep = xv.copy()
    inc, st, inc0, st0 = f(xv, yv, y0v, iv)
    np.testing.assert_array_equal(xv, keep)  # the input is not written
    for got, (fn, val) in zip((inc, st, inc0, st0), ((np.add.at, yv), (None, yv), (np.add.at, y0v), (None, y0v))):
        want = xv.copy()
        if fn is None:
            want[iv] = val  # repeated indices: the last write wins
        else:
            fn(want, iv, val)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
    r = f(xv, yv[:0], y0v, iv[:0])
    np.testing.assert_array_equal(r[0], xv)
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 0 with size 9"):
        f(xv, yv[:2], y0v, np.array([1, 9]))
    with pytest.raises(IndexError, match="index -10 is out of bounds"):
        f(xv, yv[:2], y0v, np.array([-10, 1]))


def test_scatter_value_broadcasts_as_numpy_and_fuses_producers(rng):
    x, y, idx = pt.dvector("x"), pt.dvector("y"), pt.lvector("idx")
    z = pt.vector("z", dtype="float32")
    f = c_function([x, y, idx, z], [pt.inc_subtensor(x[idx], pt.exp(y) * 2), pt.inc_subtensor(x[idx], z),
                                    pt.inc_subtensor(pt.zeros_like(x)[idx], y),
                                    pt.inc_subtensor(x[idx], pt.alloc(3.0, y.shape[0]) * y)])
    xv, iv = rng.standard_normal(6), np.array([1, 1, 5, 0])
    yv, zv = rng.standard_normal(4), rng.standard_normal(4).astype("float32")
    a, b, c, d = f(xv, yv, iv, zv)
    for got, base, val in ((a, xv, np.exp(yv) * 2), (b, xv, zv), (c, np.zeros(6), yv), (d, xv, 3 * yv)):
        want = base.copy()
        np.add.at(want, iv, val)
        np.testing.assert_allclose(got, want, rtol=1e-15)
    # a value of run-time length 1 broadcasts to the index (NumPy), through its fused producers too
    a, b, c, d = f(xv, yv[:1], iv, zv[:1])
    for got, base, val in ((a, xv, np.exp(yv[:1]) * 2), (b, xv, zv[:1]), (c, np.zeros(6), yv[:1]),
                           (d, xv, 3 * yv[:1])):
        want = base.copy()
        np.add.at(want, iv, val)
        np.testing.assert_allclose(got, want, rtol=1e-15)
    with pytest.raises(ValueError, match="could not be broadcast"):
        f(xv, yv[:3], iv, zv)
    assert "eq_scatter_base(" in f.maker.backend_source


def test_scatter_general_forms(rng):
    x = pt.dmatrix("x")
    xf = pt.matrix("xf", dtype="float32")
    i, lab = pt.lvector("i"), pt.lvector("lab")
    y2, y1 = pt.dmatrix("y2"), pt.dvector("y1")
    yf = pt.vector("yf", dtype="float32")
    outs = [pt.inc_subtensor(x[i], y2), pt.set_subtensor(x[i], y1), pt.inc_subtensor(x[:, i], y2.T),
            pt.inc_subtensor(x[pt.arange(lab.shape[0]), lab], y1), pt.inc_subtensor(xf[i, lab], yf),
            pt.inc_subtensor(x[i, lab], yf)]
    f = c_function([x, xf, i, lab, y2, y1, yf], outs)
    xv, iv, lv = rng.standard_normal((4, 4)), np.array([0, 3, 0, -1]), np.array([1, 1, 2, 3])
    y2v, y1v = rng.standard_normal((4, 4)), rng.standard_normal(4)
    xfv, yfv = xv.astype("float32"), y1v.astype("float32")
    r = f(xv, xfv, iv, lv, y2v, y1v, yfv)
    w = [xv.copy() for _ in range(6)]
    np.add.at(w[0], iv, y2v)
    w[1][iv] = y1v
    np.add.at(w[2], (slice(None), iv), y2v.T)
    np.add.at(w[3], (np.arange(4), lv), y1v)
    w[4] = xfv.copy()
    np.add.at(w[4], (iv, lv), yfv)
    np.add.at(w[5], (iv, lv), yfv.astype("float64"))
    for got, want in zip(r, w):
        np.testing.assert_allclose(got, want, rtol=1e-6 if want.dtype == np.float32 else 1e-15)
        assert got.dtype == want.dtype
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 1 with size 4"):
        f(xv, xfv, iv, np.array([1, 1, 4, 0]), y2v, y1v, yfv)


def test_softmax_cross_entropy_gradient_has_no_fallback_but_arange(rng):
    """The float32 classifier head of the benchmarks: log_softmax, the label gather and its
    scatter-add gradient all in C, float32 throughout (sgemm)."""
    X, W = pt.matrix("X", dtype="float32"), pt.matrix("W", dtype="float32")
    y = pt.lvector("y")
    lp = pt.special.log_softmax(pt.dot(X, W), axis=1)
    loss = -pt.mean(lp[pt.arange(y.shape[0]), y])
    f = c_function([X, W, y], [loss, grad(loss, W)])
    assert set(fallbacks(f)) <= {"arange"}
    Xv, Wv = rng.standard_normal((8, 5)).astype("float32"), rng.standard_normal((5, 7)).astype("float32")
    yv = rng.integers(0, 7, 8)
    lval, gw = f(Xv, Wv, yv)
    assert gw.dtype == np.float32
    z = (Xv @ Wv).astype("float64")
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(lval, -np.log(p[np.arange(8), yv]).mean(), rtol=1e-5)
    g = p.copy()
    g[np.arange(8), yv] -= 1
    np.testing.assert_allclose(gw, Xv.astype("float64").T @ g / 8, rtol=1e-4, atol=1e-6)
    src = f.maker.backend_source
    assert re.search(r"eq_(gemm|dot)\(&V\[\d+\].*, 0, \d+\) < 0", src)  # float32 BLAS (dbl = 0)


# ----------------------------------------------------------------------------- loops: alloc, recompute, cache
def test_alloc_inside_loops(rng):
    v, n = pt.dvector("v"), pt.lscalar("n")
    w = pt.dmatrix("w")
    outs = [pt.alloc(v, n, v.shape[0]) * 2, pt.sum(pt.alloc(1.0, n, 3)), w + pt.alloc(v, w.shape[0], w.shape[1])]
    f = c_function([v, n, w], outs)
    vv, wv = rng.standard_normal(3), rng.standard_normal((2, 3))
    a, s, b = f(vv, 4, wv)
    np.testing.assert_array_equal(a, np.broadcast_to(vv, (4, 3)) * 2)
    assert float(s) == 12.0
    np.testing.assert_array_equal(b, wv + vv)
    a, s, b = f(vv[:1], 2, wv)  # run-time length 1 broadcasts (NumPy)
    np.testing.assert_array_equal(b, wv + vv[:1])
    with pytest.raises(ValueError, match="negative dimension"):
        f(vv, -1, wv)
    with pytest.raises(ValueError):
        f(vv[:2], 4, wv)


def test_cheap_values_recomputed_in_each_loop(rng):
    y, mu, ls = pt.dvector("y"), pt.dscalar("mu"), pt.dscalar("ls")
    z = (y - mu) * pt.exp(-ls)
    f = c_function([y, mu, ls], [pt.sum(z * z), pt.sum(z), pt.max(z)])
    yv = rng.standard_normal(1000)
    a, b, c = f(yv, np.array(0.3), np.array(0.2))
    zv = (yv - 0.3) * np.exp(-0.2)
    np.testing.assert_allclose([a, b, c], [np.sum(zv * zv), np.sum(zv), np.max(zv)], rtol=1e-12)
    plan = plan_units(f.maker.schedule.nodes, f.maker.schedule.outputs)
    # z is never written: each reduction loop computes it from y (the two sums, siblings over the
    # same data, share one loop; max has a kernel of its own)
    assert [u for u in plan.units if plan.mode[u] == "elem" and plan.members[u][-1].out.ndim == 1] == []
    loops = [[m.op.name for m in plan.members[u] if m.op.name in ("sum", "max")]
             for u in plan.units if plan.members[u][-1].inputs[0].ndim == 1]
    assert all(plan.mode[u] == "reduce" for u in plan.units if plan.members[u][-1].inputs[0].ndim == 1)
    assert sorted(loops) == [["max"], ["sum", "sum"]]


def test_buffer_cache_keeps_results_of_earlier_calls(rng):
    x, idx = pt.dmatrix("x"), pt.lvector("idx")
    h = pt.exp(x) * 2
    outs = [pt.special.softmax(h, axis=1).sum(axis=0), pt.inc_subtensor(pt.zeros_like(x)[idx], h[idx]) + 1,
            pt.sum(h * h)]
    f = c_function([x, idx], outs)
    ref = function([x, idx], outs, mode="NUMPY")
    results = []
    for shape in ((50, 30), (50, 30), (20, 30), (50, 30)):
        xv, iv = rng.standard_normal(shape), rng.integers(0, shape[0], 40)
        results.append((f(xv, iv), ref(xv, iv)))
    for got, want in results:  # earlier outputs are intact after later calls
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12)


def test_every_nnet_index_op_has_a_c_kernel():
    for name in NNET_INDEX_OPS:
        assert cbackend.has_kernel(name) and name not in cbackend.FALLBACK


def test_thunk_takes_numpy_scalars_for_0d_inputs():
    a, b = pt.dscalar("a"), pt.dscalar("b")
    f = c_function([a, b], pt.exp(a) * b + 1)
    thunk = f.maker.thunk
    (r,) = thunk(np.float64(1.0), np.float64(2.0))
    assert r == np.exp(1.0) * 2 + 1 and isinstance(r, np.ndarray)
    with pytest.raises(TypeError, match="must be a numpy.ndarray, got numpy.float32"):
        thunk(np.float32(1.0), np.float64(2.0))
    assert f(np.float64(1.0), 2.0) == r
