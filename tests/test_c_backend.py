"""The C backend agrees with the NumPy backend and NumPy on the per-op matrix and random graphs.

Compiling C costs ~0.3 s per module, so the selected cases of the matrix (only those: ``-k cbrt``
compiles cbrt's cases alone) are compiled in batches (many outputs per function) into a
session-scoped temporary cache.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import eqtensor
from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.backends import c as cbackend
from eqtensor.core.op import OPS

from test_op_matrix import SAMPLES, TOL

pytestmark = pytest.mark.skipif(not cbackend.compiler_works(), reason="no working C compiler")


@pytest.fixture(scope="session", autouse=True)
def c_cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("eqtensor-c-cache")
    with eqtensor.config.change_flags(cache_dir=str(d)):
        yield d


def test_every_op_has_a_c_kernel_or_an_explicit_fallback():
    missing = [n for n in OPS if not cbackend.has_kernel(n) and n not in cbackend.FALLBACK]
    assert not missing, f"ops with neither a C kernel nor a FALLBACK entry: {missing}"
    both = [n for n in cbackend.FALLBACK if cbackend.has_kernel(n)]
    assert not both, f"ops both with a C kernel and in FALLBACK: {both}"
    stale = [n for n in cbackend.FALLBACK if n not in OPS]
    assert not stale, f"FALLBACK entries for unknown ops: {stale}"


# ------------------------------------------------------------------------------ op matrix
def _cases():
    out = []
    for name in sorted(SAMPLES):
        for k, case in enumerate(SAMPLES[name]):
            if case.raises is None:
                out.append((f"{name}-{k}-{case.label}", case))
    return out


CASES = _cases()
_RESULTS: dict = {}


def _batch_results(static: bool, selected):
    """Compile the ``selected`` cases of the matrix into a few C functions; returns
    id -> (c, numpy, built)."""
    key = static
    if key in _RESULTS:
        return _RESULTS[key]
    res = {}
    chunk = 80
    cases = [(cid, case) for cid, case in CASES if cid in selected]
    for start in range(0, len(cases), chunk):
        part = cases[start:start + chunk]
        ins, outs, vals, ids = [], [], [], []
        for cid, case in part:
            vars_ = []
            for j, a in enumerate(case.args):
                shape = a.shape if static else tuple(1 if s == 1 else None for s in a.shape)
                vars_.append(pt.tensor(f"in{j}", dtype=a.dtype.name, shape=shape))
            try:
                o = case.build(*vars_)
            except Exception as e:  # noqa: BLE001  (recorded; the op-matrix test owns build errors)
                res[cid] = e
                continue
            ins += vars_
            outs.append(o)
            vals += list(case.args)
            ids.append(cid)
        fc = function(ins, outs, mode=eqtensor.Mode(optimize=False, backend="c"), on_unused_input="ignore")
        fn = function(ins, outs, mode="FAST_COMPILE", on_unused_input="ignore")
        assert fc.maker.backend == "c"
        with np.errstate(all="ignore"):
            rc, rn = fc(*vals), fn(*vals)
        for cid, o, a, b in zip(ids, outs, rc, rn):
            res[cid] = (a, b, o)
    _RESULTS[key] = res
    return res


def _close(res, expected, label):
    assert res.dtype == expected.dtype, f"{label}: dtype {res.dtype} != {expected.dtype}"
    assert res.shape == expected.shape, f"{label}: shape {res.shape} != {expected.shape}"
    if res.dtype.kind in "biu":
        np.testing.assert_array_equal(res, expected, err_msg=label)
    else:
        rtol = TOL[res.dtype.name] * 4
        np.testing.assert_allclose(res, expected, rtol=rtol, atol=rtol * 1e-3, equal_nan=True, err_msg=label)


@pytest.fixture(scope="session")
def selected_cases(request):
    """The ids of the matrix cases this session runs (after ``-k`` and other deselection)."""
    return {item.callspec.params["cid"] for item in request.session.items
            if getattr(item, "originalname", None) == "test_c_matches_numpy_backend_and_reference"}


@pytest.mark.slow
@pytest.mark.parametrize("cid, case", CASES, ids=[c[0] for c in CASES])
def test_c_matches_numpy_backend_and_reference(cid, case, selected_cases):
    for static in (True, False):
        got = _batch_results(static, selected_cases)[cid]
        if isinstance(got, Exception):
            pytest.skip(f"sample does not build: {got}")
        rc, rn, o = got
        with np.errstate(all="ignore"):
            expected = np.asarray(case.ref(*case.args))
        assert isinstance(rc, np.ndarray)
        _close(rc, rn, f"C vs NumPy backend ({'static' if static else 'dynamic'} shapes)")
        _close(rc, expected, "C vs reference")
        assert rc.dtype.name == o.dtype


# ------------------------------------------------------------------------------ random graphs
UNARY = ["exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "neg", "log1p", "expm1", "sigmoid", "softplus",
         "sqr", "floor", "arctan", "erf"]
BINARY = ["add", "sub", "mul", "true_div", "maximum", "minimum", "pow", "mod", "floor_div", "arctan2"]
REDUCE = ["sum", "max", "min", "prod", "logsumexp"]


def _random_graph(draw_int, leaves, depth):
    """A random float64 graph over ``leaves`` (matrices/rows/cols/scalars) built with ``draw_int(n)``."""
    if depth == 0 or draw_int(4) == 0:
        return leaves[draw_int(len(leaves))]
    choice = draw_int(10)
    if choice < 4:
        op, x = UNARY[draw_int(len(UNARY))], _random_graph(draw_int, leaves, depth - 1)
        if op in ("sin", "cos"):
            # periodic functions of huge values (pow(x, 700)) turn the <=4-ulp differences of vector
            # math (libmvec) into O(1) ones: keep their argument in a well-conditioned range
            x = pt.tanh(x) * 10
        return getattr(pt, op)(x)
    if choice < 8:
        a = _random_graph(draw_int, leaves, depth - 1)
        b = _random_graph(draw_int, leaves, depth - 1)
        return getattr(pt, BINARY[draw_int(len(BINARY))])(a, b)
    x = _random_graph(draw_int, leaves, depth - 1)
    if x.ndim == 0:
        return x
    axis = [None, 0, x.ndim - 1][draw_int(3)]
    # keepdims: reduced axes become static 1s, which broadcast against the other leaves
    return getattr(pt, REDUCE[draw_int(len(REDUCE))])(x, axis=axis, keepdims=True)


def _leaves():
    return [pt.dmatrix("X", shape=(None, None)), pt.dmatrix("Y", shape=(None, None)),
            pt.dmatrix("R", shape=(1, None)), pt.dmatrix("C", shape=(None, 1)), pt.dscalar("s")]


def _leaf_values(rng, m, n):
    pick = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 700.0, -800.0, np.inf, -np.inf, np.nan, 3.0, -2.5])

    def arr(shape):
        v = rng.standard_normal(shape) * 3
        mask = rng.random(shape) < 0.15
        v[mask] = rng.choice(pick, size=int(mask.sum()))
        return v

    return [arr((m, n)), arr((m, n)), arr((1, n)), arr((m, 1)), np.array(rng.choice(pick))]


def _compare_graphs(outs, leaves, rng, shapes):
    fc = function(leaves, outs, mode=eqtensor.Mode(optimize=False, backend="c"), on_unused_input="ignore")
    fn = function(leaves, outs, mode="FAST_COMPILE", on_unused_input="ignore")
    for m, n in shapes:
        vals = _leaf_values(rng, m, n)
        with np.errstate(all="ignore"):
            try:
                rn = fn(*vals)
            except ValueError as e:  # e.g. max over a zero-size axis: both backends must refuse
                with pytest.raises(ValueError, match="identity"):
                    fc(*vals)
                assert "identity" in str(e)
                continue
            rc = fc(*vals)
        for k, (a, b) in enumerate(zip(rc, rn)):
            assert a.dtype == b.dtype and a.shape == b.shape, (k, outs[k])
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=str(outs[k]))


@pytest.mark.slow
def test_many_random_graphs_in_one_function():
    rng = np.random.default_rng(7)
    leaves = _leaves()
    outs = [_random_graph(lambda n: int(rng.integers(n)), leaves, 5) for _ in range(120)]
    _compare_graphs(outs, leaves, rng, [(3, 4), (1, 5), (0, 3), (7, 1), (33, 17)])


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_hypothesis_random_graphs(seed):
    rng = np.random.default_rng(seed)
    leaves = _leaves()
    outs = [_random_graph(lambda n: int(rng.integers(n)), leaves, 4) for _ in range(8)]
    _compare_graphs(outs, leaves, rng, [(2, 3), (5, 1)])


# ------------------------------------------------------------------------------ specific paths
@pytest.fixture(scope="module")
def chain():
    x, y = pt.dvector("x"), pt.dvector("y")
    expr = pt.exp(x) * pt.sin(y) + pt.log1p(x * x) - pt.sqrt(abs(y) + 1) / (1 + pt.exp(-x))
    return function([x, y], expr, mode="C"), function([x, y], expr, mode="FAST_COMPILE")


def test_fused_chain_on_contiguous_strided_and_reversed(chain, rng):
    fc, fn = chain
    base = rng.standard_normal(2000)
    for a, b in [(base[:1000], base[1000:2000]), (base[::2], base[1::2]), (base[::-1], base[::-1].copy()),
                 (base[:0], base[:0]), (base[5:6], base[7:8])]:
        np.testing.assert_allclose(fc(a, b), fn(a, b), rtol=1e-12, atol=1e-14)


def test_reductions_over_axes_and_layouts(rng):
    X = pt.tensor3("X")
    outs = []
    for name in REDUCE + ["all", "any"]:
        for axis in [None, 0, 1, 2, (0, 2), (1, 2), (0, 1)]:
            for keep in (False, True):
                outs.append(getattr(pt, name)(X, axis=axis, keepdims=keep))
    fc = function([X], outs, mode="C")
    fn = function([X], outs, mode="FAST_COMPILE")
    base = rng.standard_normal((4, 5, 6)) * 3
    for v in [base, base.transpose(2, 0, 1).copy().transpose(1, 2, 0), base[:, ::-1, ::2], np.zeros((0, 3, 2)) + 0]:
        if v.size == 0:
            continue  # max/min of an empty axis raise (tested below)
        for a, b in zip(fc(v), fn(v)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_logsumexp_extremes():
    X = pt.dmatrix("X")
    fc = function([X], pt.logsumexp(X, axis=1), mode="C")
    fn = function([X], pt.logsumexp(X, axis=1), mode="FAST_COMPILE")
    v = np.array([[800.0, 799.0, -np.inf], [-np.inf, -np.inf, -np.inf], [np.inf, 1.0, 2.0], [np.nan, 1.0, 0.0],
                  [-1000.0, -1001.0, -999.0]])
    np.testing.assert_allclose(fc(v), fn(v), rtol=1e-14)
    assert np.isfinite(fc(v)[0])


def test_empty_max_raises_and_empty_sum_is_zero():
    X = pt.dmatrix("X")
    f = function([X], [X.sum(axis=0), X.max(axis=1)], mode="C")
    s, m = f(np.zeros((0, 3)))
    assert s.tolist() == [0.0, 0.0, 0.0] and m.shape == (0,)
    with pytest.raises(ValueError, match="zero-size"):
        function([X], X.max(axis=0), mode="C")(np.zeros((0, 3)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dot_layouts(dtype, rng):
    A, B, v = pt.matrix("A", dtype=dtype), pt.matrix("B", dtype=dtype), pt.vector("v", dtype=dtype)
    outs = [pt.dot(A, B), pt.dot(A, v), pt.dot(v, A.T), pt.dot(v, v), 0.5 * pt.dot(A, B) + 2 * A]
    fc = function([A, B, v], outs, mode="C")
    fn = function([A, B, v], outs, mode="FAST_COMPILE")
    a = rng.standard_normal((6, 6)).astype(dtype)
    b = rng.standard_normal((6, 6)).astype(dtype)
    w = rng.standard_normal(6).astype(dtype)
    for args in [(a, b, w), (a.T, b[::-1], w[::-1]), (a[:, ::2].repeat(2, 1), np.asfortranarray(b), w),
                 (a[::2, ::2].repeat(2, 0).repeat(2, 1), b, w)]:
        for x, y in zip(fc(*args), fn(*args)):
            np.testing.assert_allclose(x, y, rtol=1e-4 if dtype == "float32" else 1e-12, atol=1e-5)
    z = np.zeros((0, 6), dtype)
    A0 = function([A, B], pt.dot(A, B), mode="C")
    assert A0(z, np.zeros((6, 3), dtype)).shape == (0, 3)
    assert np.all(A0(np.zeros((2, 0), dtype), np.zeros((0, 3), dtype)) == 0)


def test_views_and_reshape_without_aliasing_inputs(rng):
    X = pt.dmatrix("X")
    outs = [X.T, X.reshape((-1,)), (X * 2).T, (X + 1).reshape((3, -1)), X.dimshuffle(1, "x", 0), pt.flatten(X.T)]
    fc = function([X], outs, mode="C")
    fn = function([X], outs, mode="FAST_COMPILE")
    v = rng.standard_normal((4, 6))
    for arg in (v, v[:, ::-1], np.asfortranarray(v)):
        keep = arg.copy()
        res = fc(arg)
        for a, b in zip(res, fn(arg)):
            np.testing.assert_array_equal(a, b)
            assert not np.shares_memory(a, arg)
        res[0][...] = 0
        np.testing.assert_array_equal(arg, keep)


def test_fallback_ops_run_inside_the_compiled_function(rng):
    X = pt.dmatrix("X")
    out = pt.argmax(pt.exp(X) + 1, axis=1) + pt.erfinv(pt.tanh(X)).sum(axis=1).astype("int64")
    fc = function([X], out, mode="C")
    assert fc.maker.backend == "c" and "PyObject_Vectorcall" in fc.maker.backend_source
    v = rng.standard_normal((5, 4))
    np.testing.assert_array_equal(fc(v), function([X], out, mode="FAST_COMPILE")(v))


def test_shared_updates_and_shape_ops(rng):
    w = eqtensor.shared(np.ones(3), name="w")
    x = pt.dvector("x")
    f = function([x], [w.sum() + x.shape[0], pt.alloc(x.sum(), 2, x.shape[0])], updates={w: w * 2 + x},
                 mode="C")
    v = np.arange(3.0)
    a, b = f(v)
    assert float(a) == 6.0 and b.shape == (2, 3) and np.all(b == 3.0)
    np.testing.assert_array_equal(w.get_value(), 2 + v)


def test_inplace_reuse_keeps_values(rng):
    x = pt.dvector("x")
    t = pt.exp(x)
    out = [pt.sin(t.sum() * x) * pt.cos(pt.exp(x).max() + x), t.max()]
    fc = function([x], out, mode="C")
    fn = function([x], out, mode="FAST_COMPILE")
    v = rng.standard_normal(50)
    for a, b in zip(fc(v), fn(v)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_integer_and_bool_kernels(rng):
    i, j = pt.lvector("i"), pt.bvector("j")
    b = pt.vector("b", dtype="bool")
    outs = [i // j, i % j, pt.maximum(i, j), -j, abs(i), i * 3 - j, b & (i > 0), ~b, pt.switch(b, i, j),
            i.sum(), j.prod(), b.all(), b.any(), pt.cast(i, "uint8"), pt.cast(i, "bool")]
    fc = function([i, j, b], outs, mode="C")
    fn = function([i, j, b], outs, mode="FAST_COMPILE")
    iv = np.array([7, -7, 0, 2**63 - 1, -(2**63), 5, -3, 100], dtype="int64")
    jv = np.array([2, 2, 0, -1, -1, 0, 5, -128], dtype="int8")
    bv = np.array([True, False, True, True, False, True, False, True])
    with np.errstate(all="ignore"):
        for a, c in zip(fc(iv, jv, bv), fn(iv, jv, bv)):
            np.testing.assert_array_equal(a, c)


def test_threads_setting_gives_the_same_results(monkeypatch, rng):
    # $EQTENSOR_NUM_THREADS (the default of config.num_threads) is read when a compiled function is
    # created; loops of at least 2**17 elements then run on threads: split along the inner axis
    # (contiguous), over rows (broadcast row, row reductions), or not at all (reductions sharing an
    # accumulator)
    monkeypatch.setenv("EQTENSOR_NUM_THREADS", "2")
    X, r = pt.dmatrix("X"), pt.dmatrix("r", shape=(1, None))
    outs = [pt.exp(X) * 2 + 1, pt.sin(X) * r, pt.log(pt.sum(pt.exp(X), axis=1)), pt.sum(X * r, axis=0),
            pt.sum(pt.exp(X))]
    f = function([X, r], outs, mode="C")
    a, b = rng.standard_normal((700, 400)), rng.standard_normal((1, 400))
    want = [np.exp(a) * 2 + 1, np.sin(a) * b, np.log(np.exp(a).sum(1)), (a * b).sum(0), np.exp(a).sum()]
    for got, ref in zip(f(a, b), want):
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    for got, ref in zip(f(a[::-1], b), [np.exp(a[::-1]) * 2 + 1, np.sin(a[::-1]) * b]):
        np.testing.assert_allclose(got, ref, rtol=1e-12)
