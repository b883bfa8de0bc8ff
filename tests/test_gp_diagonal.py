"""The C paths of the Gaussian-process family (issue 14): the blocked reverse pass of ``cholesky``
(``cholesky_grad``, ``backends/c/lapack_calls.py``) across block boundaries against the unblocked
formula and finite differences; diagonals and diagonal increments (``x[..., arange(n), arange(n)]``),
``arange``, basic indexing (``subtensor``, ``set_subtensor``/``inc_subtensor`` of ``x[1:, 2]``) and the
masks ``eye``/``tri`` as C code, without NumPy fallbacks, against NumPy; the GP log marginal
likelihood's gradient against finite differences."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as sl

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.core.op import OPS, Op
from eqtensor.gradient import grad
from eqtensor.tensor import slinalg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import gp_family  # noqa: E402


def _fallbacks(f) -> list[str]:
    """The ops the C function runs through NumPy (the labels of its fallback calls)."""
    return re.findall(r'eq_result\(&V\[\d+\], r, \d+, \d+, "([^"]+)"\)', f.maker.backend_source)


def _c(ins, outs, **kw):
    f = et.function(ins, outs, mode="C", **kw)
    assert not _fallbacks(f), _fallbacks(f)
    return f


def _spd(rng, n):
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


def _unblocked(ell, g):
    """fold(L^-T Phi(L^T G) L^-1) with SciPy: the formula of the cholesky VJP, written out here."""
    phi = np.tril(ell.T @ np.tril(g))
    phi[np.diag_indices_from(phi)] *= 0.5
    s = sl.solve_triangular(ell.T, sl.solve_triangular(ell.T, phi, lower=False).T, lower=False).T
    out = np.tril(s + s.T)
    out[np.diag_indices_from(out)] = np.diagonal(s)
    return out


@pytest.mark.parametrize("n", [1, 47, 48, 49, 100, 181])
def test_blocked_cholesky_grad_matches_the_unblocked_formula(rng, n):
    ell, lt, g = pt.dmatrix("l"), pt.dmatrix("lt"), pt.dmatrix("g")
    cg = Op(OPS["cholesky_grad"])
    f = _c([ell, lt, g], [cg(ell, g), cg(lt.T, g[::-1].T)])  # L stored column-major, a strided G
    f32 = _c([ell, g], cg(ell.astype("float32"), g.astype("float32")))
    L, G = np.linalg.cholesky(_spd(rng, n)), rng.standard_normal((n, n))
    ref = _unblocked(L, G)
    a, b = f(L, L.T.copy(), G)
    np.testing.assert_allclose(a, ref, rtol=1e-11, atol=1e-13 * np.abs(ref).max())
    np.testing.assert_allclose(b, _unblocked(L, G[::-1].T), rtol=1e-11, atol=1e-13 * np.abs(ref).max())
    np.testing.assert_allclose(f32(L, G), ref, rtol=2e-3, atol=1e-5 * np.abs(ref).max())
    assert not np.triu(a, 1).any()


def test_blocked_cholesky_grad_by_finite_differences(rng):
    """d/dA of sum(cholesky(A) * W) over A's lower triangle (what cholesky reads), n = 60 > one block."""
    n = 60
    a = pt.dmatrix("a")
    W = rng.standard_normal((n, n))
    f = _c([a], grad((slinalg.cholesky(a) * W).sum(), a))
    A = _spd(rng, n)
    got = f(A)
    eps, fd = 1e-6, np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            E = np.zeros((n, n))
            E[i, j] = eps
            fd[i, j] = ((np.linalg.cholesky(np.tril(A + E) + np.tril(A + E, -1).T)
                         - np.linalg.cholesky(np.tril(A - E) + np.tril(A - E, -1).T)) * W).sum() / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def test_cholesky_of_sizes_around_the_copy_tiles(rng):
    a = pt.dmatrix("a")
    f = _c([a], [slinalg.cholesky(a), slinalg.cholesky(a[::-1, ::-1].T)])
    for n in (31, 32, 33, 65):
        S = _spd(rng, n)
        A = np.tril(S) + np.triu(rng.standard_normal((n, n)), 1)  # only the lower triangle is read
        lo, rev = f(A)
        np.testing.assert_allclose(lo, np.linalg.cholesky(S), rtol=1e-12, atol=1e-12)
        R = A[::-1, ::-1].T
        np.testing.assert_allclose(rev, np.linalg.cholesky(np.tril(R) + np.tril(R, -1).T), rtol=1e-12, atol=1e-12)


def test_diagonal_forms_run_in_c(rng):
    x, t, v = pt.dmatrix("x"), pt.dtensor3("t"), pt.dvector("v")
    idx = pt.arange(x.shape[0])
    outs = [pt.diagonal(x), pt.extract_diag(x), pt.trace(x), pt.diagonal(x, 1), pt.diagonal(t, axis1=1, axis2=2),
            pt.fill_diagonal(x, 2.0), pt.inc_subtensor(x[..., idx, idx], v), pt.set_subtensor(x[idx, idx], v),
            pt.diag(v), pt.inc_subtensor(t[..., pt.arange(3), pt.arange(3)], 1.0), pt.diagonal(x, -1)]
    f = _c([x, t, v], outs)
    X, T, V = rng.standard_normal((3, 3)), rng.standard_normal((2, 3, 3)), rng.standard_normal(3)
    incd, setd, tinc = X.copy(), X.copy(), T.copy()
    np.add.at(incd, (np.arange(3), np.arange(3)), V)
    setd[np.arange(3), np.arange(3)] = V
    tinc[..., np.arange(3), np.arange(3)] += 1.0
    filled = X.copy()
    np.fill_diagonal(filled, 2.0)
    want = [np.diagonal(X), np.diagonal(X), np.trace(X), np.diagonal(X, 1), np.diagonal(T, axis1=1, axis2=2),
            filled, incd, setd, np.diag(V), tinc, np.diagonal(X, -1)]
    for got, ref in zip(f(X, T, V), want):
        np.testing.assert_allclose(got, ref, rtol=1e-15)


def test_ellipsis_between_index_arrays_keeps_numpy_axis_order(rng):
    """``x[:, i, ..., j]``: NumPy moves the broadcast index axes first (the arrays are not adjacent)."""
    x = pt.dtensor4("x")
    f = et.function([x], x[:, [0, 1], ..., [0, 1]], mode="C")
    X = rng.standard_normal((2, 3, 4, 5))
    np.testing.assert_array_equal(f(X), X[:, [0, 1], ..., [0, 1]])


def test_arange_in_c():
    a, b, s = pt.lscalar("a"), pt.lscalar("b"), pt.iscalar("s")
    f = _c([a, b, s], pt.arange(a, b, s))
    for args in [(0, 10, 3), (10, 0, -3), (5, 0, 1), (0, 5, -1), (-7, 7, 2), (0, 0, 1), (9, -9, -4), (3, 4, 100)]:
        got = f(*args)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, np.arange(*args))
    t = pt.lscalar("t")
    g = _c([a, b, t], pt.arange(a, b, t))
    np.testing.assert_array_equal(g(-2 ** 62, 2 ** 62, 2 ** 60), np.arange(-2 ** 62, 2 ** 62, 2 ** 60))
    with pytest.raises(ZeroDivisionError):
        f(0, 5, 0)


_BASIC = ["x[1]", "x[-1, 2]", "x[1:, ::-1, None]", "x[..., 0]", "x[i]", "x[:, j:i:k]", "x[None, ..., None, -2]",
          "x[i::k, 1]", "x[-10:10:3]", "x[5:1]", "x[::-2, ::k]"]


def test_basic_indexing_views_in_c(rng):
    x, i, j, k = pt.dtensor3("x"), pt.lscalar("i"), pt.iscalar("j"), pt.lscalar("k")
    takes = [eval(f"lambda x, i, j, k: {index}") for index in _BASIC]  # noqa: S307  (the test's own indices)
    f = _c([x, i, j, k], [take(x, i, j, k) * 1.0 for take in takes])
    X = rng.standard_normal((4, 5, 3))
    for arr in (X, X.transpose(1, 0, 2)[::2]):
        for iv, jv, kv in [(1, 0, 1), (-1, 3, -1), (2, -4, 2)]:
            for index, take, got in zip(_BASIC, takes, f(arr, iv, jv, kv)):
                np.testing.assert_array_equal(got, take(arr, iv, jv, kv), err_msg=index)


def test_basic_indexing_errors():
    x, i, k = pt.dmatrix("x"), pt.lscalar("i"), pt.lscalar("k")
    f = _c([x, i, k], [x[i], x[::k]])
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 4"):
        f(np.zeros((4, 2)), 4, 1)
    with pytest.raises(IndexError, match="index -5 is out of bounds"):
        f(np.zeros((4, 2)), -5, 1)
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        f(np.zeros((4, 2)), 0, 0)
    out = _c([x], [x[1], x[:, ::-1]])
    X = np.arange(6.0).reshape(2, 3)
    assert not any(np.shares_memory(o, X) for o in out(X))


_UPDATES = [("x[1]", "m"), ("x[-1, 2]", "v"), ("x[1:, ::-1]", "v"), ("x[..., 0]", "m"), ("x[i]", "s"),
            ("x[:, i::k]", "v"), ("x[-10:10:2]", "s"), ("x[0, 0, 0]", "s")]


def test_basic_set_and_inc_subtensor_in_c(rng):
    x, i, k = pt.dtensor3("x"), pt.lscalar("i"), pt.lscalar("k")
    ys = [{"v": pt.dvector, "m": pt.dmatrix, "s": pt.dscalar}[value](f"y{n}") for n, (_, value) in enumerate(_UPDATES)]
    parts = [eval(f"lambda x, i, k: {index}") for index, _ in _UPDATES]  # noqa: S307
    f = _c([x, i, k, *ys], [update(part(x, i, k), y) for part, y in zip(parts, ys)
                            for update in (pt.set_subtensor, pt.inc_subtensor)])
    X = rng.standard_normal((4, 5, 3))
    for iv, kv in [(1, 1), (-1, -1), (2, 2)]:
        vals = [rng.standard_normal({"v": part(X, iv, kv).shape[-1:], "m": part(X, iv, kv).shape[-2:], "s": ()}[value])
                for part, (_, value) in zip(parts, _UPDATES)]
        got = f(X, iv, kv, *vals)
        for n, ((index, _), y) in enumerate(zip(_UPDATES, vals)):
            for m, op in enumerate(("=", "+=")):
                want = X.copy()
                exec(f"want{index[1:]} {op} y", {"want": want, "y": y, "i": iv, "k": kv})  # noqa: S102
                np.testing.assert_array_equal(got[2 * n + m], want, err_msg=f"{index} {op}")
    v, w = pt.dvector("v"), pt.dvector("w")
    with pytest.raises(ValueError, match="y has length 2 along its axis 0, the indexed part 3"):
        _c([v, w], pt.inc_subtensor(v[1:], w))(np.zeros(4), np.ones(2))


@pytest.mark.parametrize("dtype", ["float64", "float32", "bool", "int8", "uint16"])
def test_eye_and_tri_masks(dtype):
    n, m, k = pt.lscalar("n"), pt.lscalar("m"), pt.lscalar("k")
    f = _c([n, m, k], [pt.eye(n, m, k, dtype=dtype), pt.tri(n, m, k, dtype=dtype)])
    for args in [(0, 0, 0), (3, 5, 0), (5, 3, 1), (4, 4, -2), (4, 6, 9), (4, 6, -9), (3, 3, 2 ** 62), (3, 3, -2 ** 62)]:
        e, t = f(*args)
        np.testing.assert_array_equal(e, np.eye(*args, dtype=dtype))
        np.testing.assert_array_equal(t, np.tri(*args, dtype=dtype))
        assert e.dtype == t.dtype == dtype


def test_gp_family_without_fallbacks_matches_numpy_and_finite_differences():
    rng = np.random.default_rng(0)
    d = gp_family.data(rng)
    d = {"Z": d["Z"][:120], "t": d["t"][:120], "th": d["th"]}
    ins = {"Z": pt.dmatrix("Z"), "t": pt.dvector("t"), "th": pt.dvector("th")}
    f = _c(list(ins.values()), gp_family.graph(pt, grad, ins))
    lml, g = f(d["Z"], d["t"], d["th"])
    ref_lml, ref_g = gp_family.numpy_eager(d)
    np.testing.assert_allclose(lml, ref_lml, rtol=1e-12)
    np.testing.assert_allclose(g, ref_g, rtol=1e-9)
    eps, fd = 1e-6, []
    for j in range(3):
        e = np.eye(3)[j] * eps
        fd.append((gp_family.numpy_eager({**d, "th": d["th"] + e})[0]
                   - gp_family.numpy_eager({**d, "th": d["th"] - e})[0]) / (2 * eps))
    np.testing.assert_allclose(g, fd, rtol=1e-6)
