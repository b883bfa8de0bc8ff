"""``jacobian`` and ``hessian`` on inputs with and without static shapes, by a batched
vector-Jacobian product (``vectorize=True``), by a scan over the rows (``vectorize=False``) and
unrolled (small static sizes): values against finite differences and NumPy references."""

import numpy as np
import pytest

from eqtensor import function, tensor as pt
from eqtensor.core.traversal import toposort
from eqtensor.gradient import UNROLL_UP_TO, grad, hessian, jacobian
from eqtensor.scan import scan

RNG = np.random.default_rng(7)


def fd_jacobian(f, x, eps=1e-6):
    """Central finite differences: shape ``f(x).shape + x.shape``."""
    x = np.asarray(x, dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = eps
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


def _uses_scan(v):
    return any(n.op.name == "scan" for n in toposort([v]))


@pytest.mark.parametrize("vectorize", [True, False])
def test_symbolic_shapes_vector_function(vectorize):
    x, A = pt.dvector("x"), pt.dmatrix("A")
    y = pt.tanh(pt.dot(A, x)) * pt.sum(x ** 2)
    Jx, JA = jacobian(y, [x, A], vectorize=vectorize)
    assert _uses_scan(Jx) == (not vectorize)
    f = function([x, A], [Jx, JA])
    for n, m in [(3, 2), (5, 4)]:  # one compiled function, several run-time sizes
        xv, Av = RNG.normal(size=n), RNG.normal(size=(m, n))
        gx, gA = f(xv, Av)
        np.testing.assert_allclose(gx, fd_jacobian(lambda a: np.tanh(Av @ a) * np.sum(a ** 2), xv), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gA, fd_jacobian(lambda b: np.tanh(b @ xv) * np.sum(xv ** 2), Av), rtol=1e-6,
                                   atol=1e-8)


@pytest.mark.parametrize("vectorize", [True, False])
def test_matrix_expression_and_matrix_wrt(vectorize):
    W, x = pt.dmatrix("W"), pt.dvector("x")
    y = pt.exp(W * x) / 3  # (m, n)
    JW = jacobian(y, W, vectorize=vectorize)
    Wv, xv = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    got = function([W, x], JW)(Wv, xv)
    assert got.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(got, fd_jacobian(lambda b: np.exp(b * xv) / 3, Wv), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("vectorize", [True, False])
def test_hessian_symbolic_shape(vectorize):
    x = pt.dvector("x")
    cost = pt.logsumexp(x) + (x[0] * x[1]) ** 2 + pt.sum(pt.sin(x) * x)
    H = function([x], hessian(cost, x, vectorize=vectorize))

    def g(a):
        out = np.exp(a - np.log(np.sum(np.exp(a)))) + np.sin(a) + a * np.cos(a)
        out[0] += 2 * a[0] * a[1] ** 2
        out[1] += 2 * a[1] * a[0] ** 2
        return out

    for n in (2, 4):
        v = RNG.normal(size=n)
        Hv = H(v)
        np.testing.assert_allclose(Hv, fd_jacobian(g, v), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(Hv, Hv.T, atol=1e-12)


def test_hessian_of_quadratic_form_matches_numpy():
    x, A = pt.dvector("x"), pt.dmatrix("A")
    H = function([x, A], hessian(pt.dot(x, pt.dot(A, x)), x, vectorize=True))
    Av = RNG.normal(size=(4, 4))
    np.testing.assert_allclose(H(RNG.normal(size=4), Av), Av + Av.T, rtol=1e-12)


@pytest.mark.parametrize("vectorize", [True, False])
def test_disconnected_and_constant_gradients(vectorize):
    x, z = pt.dvector("x"), pt.dvector("z")
    Jx, Jz = jacobian(x * 3, [x, z], vectorize=vectorize, disconnected_inputs="ignore")
    f = function([x, z], [Jx, Jz])
    a, b = f(np.ones(3), np.ones(2))
    np.testing.assert_array_equal(a, 3 * np.eye(3))
    np.testing.assert_array_equal(b, np.zeros((3, 2)))
    H = function([x], hessian(x.sum() * 2, x, vectorize=vectorize))  # linear: a zero hessian
    np.testing.assert_array_equal(H(np.ones(3)), np.zeros((3, 3)))


def test_static_shapes_small_are_unrolled_large_loop():
    small = pt.vector("s", shape=(UNROLL_UP_TO,), dtype="float64")
    big = pt.vector("b", shape=(UNROLL_UP_TO + 1,), dtype="float64")
    Js, Jb = jacobian(small ** 2, small), jacobian(big ** 2, big)
    assert not _uses_scan(Js) and _uses_scan(Jb)
    assert Js.type.shape == (UNROLL_UP_TO, UNROLL_UP_TO)
    v = np.arange(UNROLL_UP_TO + 1.0)
    np.testing.assert_array_equal(function([big], Jb)(v), np.diag(2 * v))
    np.testing.assert_array_equal(function([small], Js)(v[:-1]), np.diag(2 * v[:-1]))


def test_scalar_expression_gives_the_gradient():
    x = pt.dvector("x")
    j = jacobian((x ** 2).sum(), x, vectorize=True)
    np.testing.assert_allclose(function([x], j)(np.array([1.0, 2.0])), [2.0, 4.0])


def test_pytensor_scan_idiom():
    x = pt.dvector("x")
    y = pt.exp(x) * x.sum()
    J = scan(lambda i, y, x: grad(y[i], x), sequences=pt.arange(y.shape[0]), non_sequences=[y, x],
             return_updates=False)
    v = np.array([0.1, -0.3, 0.5])
    np.testing.assert_allclose(function([x], J)(v), fd_jacobian(lambda a: np.exp(a) * a.sum(), v), rtol=1e-6)
