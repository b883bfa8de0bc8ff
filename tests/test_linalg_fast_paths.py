"""The C kernels of the Cholesky family (``backends/c/lapack_calls.py``: ``cholesky``,
``solve_triangular``, ``cholesky_grad``) against SciPy, and the compact VJP of ``cholesky``
(``cholesky_grad``) against finite differences, to first and second order."""

import numpy as np
import pytest
import scipy.linalg as sl

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.core.op import OPS, Op
from eqtensor.gradient import verify_grad
from eqtensor.tensor import slinalg


def _spd(rng, n, batch=(), dtype="float64"):
    m = rng.standard_normal(batch + (n, n))
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)


def _cfun(ins, outs, kernel):
    """The function compiled with the C backend, checked to call ``kernel`` (not a NumPy fallback)."""
    f = et.function(ins, outs, mode="C")
    assert f"{kernel}(" in f.maker.backend_source
    return f


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-4)])
def test_cholesky_kernel_matches_numpy(rng, dtype, tol):
    a = pt.tensor("a", dtype=dtype, shape=(None, None))
    s = pt.tensor3("s", dtype=dtype)
    f = _cfun([a, s], [slinalg.cholesky(a), slinalg.cholesky(s), slinalg.cholesky(a.T, lower=False)], "eq_cholesky")
    A, S = _spd(rng, 7, dtype=dtype), _spd(rng, 4, (3,), dtype)
    S[1, 0, 0] = -1.0  # not positive definite: nan for that matrix only
    lo, st, up = f(A, S)
    np.testing.assert_allclose(lo, np.linalg.cholesky(A), rtol=tol, atol=tol)
    np.testing.assert_allclose(up, sl.cholesky(A.T, lower=False), rtol=tol, atol=tol)
    assert lo.dtype == dtype and np.all(np.triu(lo, 1) == 0)
    assert np.all(np.isnan(st[1])) and not np.any(np.isnan(st[[0, 2]]))
    np.testing.assert_allclose(st[[0, 2]], np.linalg.cholesky(S[[0, 2]]), rtol=tol, atol=tol)


def test_cholesky_kernel_reads_the_lower_triangle_of_strided_inputs(rng):
    a = pt.dmatrix("a")
    f = _cfun([a], slinalg.cholesky(a[::2, ::2]), "eq_cholesky")
    big = _spd(rng, 10)
    big[np.triu_indices(10, 1)] = 99.0  # the upper triangle is not read
    np.testing.assert_allclose(f(big), np.linalg.cholesky(np.tril(big[::2, ::2]) + np.tril(big[::2, ::2], -1).T),
                               rtol=1e-12)
    assert f(np.zeros((0, 0))).shape == (0, 0)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular_kernel_matches_scipy(rng, lower, unit):
    a, b, v = pt.dmatrix("a"), pt.dmatrix("b"), pt.dvector("v")
    outs = [slinalg.solve_triangular(a, b, lower=lower, unit_diagonal=unit),
            slinalg.solve_triangular(a, v, lower=lower, unit_diagonal=unit),
            slinalg.solve_triangular(a.T, b[::-1], lower=not lower, unit_diagonal=unit)]  # strided views
    f = _cfun([a, b, v], outs, "eq_trsolve")
    A = np.linalg.cholesky(_spd(rng, 6))
    A = A if lower else A.T
    B, V = rng.standard_normal((6, 4)), rng.standard_normal(6)
    x, y, z = f(A, B, V)
    np.testing.assert_allclose(x, sl.solve_triangular(A, B, lower=lower, unit_diagonal=unit), rtol=1e-10)
    np.testing.assert_allclose(y, sl.solve_triangular(A, V, lower=lower, unit_diagonal=unit), rtol=1e-10)
    np.testing.assert_allclose(z, sl.solve_triangular(A.T, B[::-1], lower=not lower, unit_diagonal=unit), rtol=1e-10)


def test_solve_triangular_kernel_singular_and_errors(rng):
    a, v = pt.dmatrix("a"), pt.dvector("v")
    f = _cfun([a, v], slinalg.solve_triangular(a, v, lower=True), "eq_trsolve")
    A = np.tril(rng.standard_normal((4, 4))) + 4 * np.eye(4)
    A[2, 2] = 0.0
    assert np.all(np.isnan(f(A, np.ones(4))))  # SciPy raises, the op gives nan (as PyTensor)
    with pytest.raises(ValueError, match="solve_triangular.*not aligned"):
        f(np.eye(4), np.ones(3))
    a32, v32 = pt.fmatrix("a"), pt.fvector("v")
    f32 = _cfun([a32, v32], slinalg.solve_triangular(a32, v32, lower=True), "eq_trsolve")
    L = np.linalg.cholesky(_spd(rng, 5)).astype("float32")
    np.testing.assert_allclose(f32(L, np.ones(5, "float32")), sl.solve_triangular(L, np.ones(5), lower=True),
                               rtol=1e-4)


def test_cholesky_gradient_is_one_op_and_matches_the_formula(rng):
    a = pt.dmatrix("a")
    W = rng.standard_normal((6, 6))
    g = pt.grad((slinalg.cholesky(a) * W).sum(), a)
    fc = _cfun([a], g, "eq_cholesky_grad")
    fn = et.function([a], g, mode="NUMPY")
    A = _spd(rng, 6)
    # reference: A's lower triangle perturbed entry by entry (cholesky reads only that triangle)
    ref = np.zeros_like(A)
    eps = 1e-6
    for i, j in zip(*np.tril_indices(6)):
        E = np.zeros_like(A)
        E[i, j] = eps
        ref[i, j] = ((np.linalg.cholesky(A + E) - np.linalg.cholesky(A - E)) * W).sum() / (2 * eps)
    np.testing.assert_allclose(fc(A), ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fn(A), fc(A), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["C", "NUMPY"])
def test_cholesky_gradients_by_finite_differences(rng, mode):
    W = rng.standard_normal((2, 5, 5))
    verify_grad(lambda a: slinalg.cholesky(a) * W[0], [_spd(rng, 5)], rng=rng, mode=mode)
    verify_grad(lambda a: slinalg.cholesky(a) * W, [_spd(rng, 5, (2,))], rng=rng, mode=mode)  # a stack
    verify_grad(lambda ell, g: Op(OPS["cholesky_grad"])(ell, g),
                [np.linalg.cholesky(_spd(rng, 4)), rng.standard_normal((4, 4))], rng=rng, mode=mode)


@pytest.mark.parametrize("mode", ["C", "NUMPY"])
def test_second_derivative_through_cholesky(rng, mode):
    a = pt.dmatrix("a")
    W, V = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    g = pt.grad((slinalg.cholesky(a) * W).sum(), a)
    hv = pt.grad((g * V).sum(), a)
    f = et.function([a], hv, mode=mode)
    gv = et.function([a], (g * V).sum(), mode=mode)
    A, E = _spd(rng, 5), rng.standard_normal((5, 5))
    eps = 1e-5
    fd = (gv(A + eps * E) - gv(A - eps * E)) / (2 * eps)
    np.testing.assert_allclose((f(A) * E).sum(), fd, rtol=1e-6)


def _gp_lml(M, sl_mod, Z, t, th, eye):
    sq = M.sum(Z * Z, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * (Z @ Z.T)
    K = M.exp(th[1]) * M.exp(-0.5 * d2 / M.exp(2 * th[0])) + M.exp(th[2]) * eye
    L = sl_mod.cholesky(K, lower=True)
    a = sl_mod.solve_triangular(L, t, lower=True)
    return -0.5 * M.sum(a ** 2) - M.sum(M.log(M.diagonal(L)))


@pytest.mark.parametrize("mode", ["C", "NUMPY"])
def test_gaussian_process_gradient(rng, mode):
    Z, t, th = pt.dmatrix("Z"), pt.dvector("t"), pt.dvector("th")
    lml = _gp_lml(pt, slinalg, Z, t, th, pt.eye(Z.shape[0]))
    f = et.function([Z, t, th], [lml, pt.grad(lml, th)], mode=mode)
    Zv, tv, thv = rng.standard_normal((40, 2)), rng.standard_normal(40), np.array([0.2, -0.1, -1.0])

    def ref(th_):
        return _gp_lml(np, sl, Zv, tv, th_, np.eye(40))

    val, grad = f(Zv, tv, thv)
    np.testing.assert_allclose(val, ref(thv), rtol=1e-12)
    eps = 1e-6
    fd = [(ref(thv + eps * e) - ref(thv - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["bool", "float64", "float32", "int8", "uint16"])
def test_eye_and_tri_masks_in_c(dtype):
    n, m, k, i = pt.lscalar("n"), pt.lscalar("m"), pt.lscalar("k"), pt.iscalar("i")
    f = et.function([n, m, k, i], [pt.eye(n, m, k, dtype=dtype), pt.tri(n, m, k, dtype=dtype), pt.tri(i, dtype=dtype)],
                    mode="C")
    assert "negative dimensions are not allowed" in f.maker.backend_source  # the C entries, not NumPy's
    for a, b, c in [(4, 5, 0), (5, 3, -1), (3, 3, 2), (0, 3, 0), (3, 0, 1)]:
        e, t, t3 = f(a, b, c, 3)
        assert e.dtype == dtype and np.array_equal(e, np.eye(a, b, c, dtype=dtype))
        assert t.dtype == dtype and np.array_equal(t, np.tri(a, b, c, dtype=dtype))
        assert np.array_equal(t3, np.tri(3, dtype=dtype))
    with pytest.raises(ValueError, match="eye: negative dimensions"):
        f(-1, 2, 0, 3)
