"""The special functions of ``pytensor.tensor`` / ``pytensor.tensor.special`` (gamma, incomplete
gamma and beta functions and their inverses, Bessel functions, Owen's T, and the formulas betaln,
logit, xlogy…): values against SciPy on the NumPy and C backends, the functions without a
high-precision reference in the op table against mpmath at chosen points, gradients against
finite differences (the per-op checks in test_op_matrix.py and test_gradient_rules.py cover
dtypes, edge values and the table's references)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special as sp

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.gradient import GradientError, NullTypeGradError, grad, verify_grad
from eqtensor.rules.finite_differences import evaluator
from eqtensor.tensor import special

MODES = ["NUMPY", "C"]
RNG = np.random.default_rng(0)

UNARY = {"gamma": (0.1, 6), "erfcinv": (0.01, 1.99), "j0": (-20, 20), "j1": (-20, 20), "i0": (-20, 20),
         "i1": (-20, 20)}
BINARY = {"gammainc": ((0.1, 8), (0, 10)), "gammaincc": ((0.1, 8), (0, 10)), "gammaincinv": ((0.1, 8), (0, 1)),
          "gammainccinv": ((0.1, 8), (0, 1)), "jv": ((-3, 5), (0, 20)), "iv": ((-3, 5), (0, 20)),
          "ive": ((-3, 5), (-20, 20)), "kv": ((-3, 5), (0.01, 20)), "kve": ((-3, 5), (0.01, 20)),
          "owens_t": ((-4, 4), (-3, 3))}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_scipy(name, mode):
    lo, hi = UNARY[name]
    v = RNG.uniform(lo, hi, 50)
    for dtype, rtol in (("float64", 1e-12), ("float32", 2e-6)):
        x = pt.vector("x", dtype=dtype)
        got = et.function([x], getattr(pt, name)(x), mode=mode)(v.astype(dtype))
        want = getattr(sp, name)(v.astype(dtype))
        assert got.dtype == want.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_scipy_with_broadcasting(name, mode):
    (alo, ahi), (xlo, xhi) = BINARY[name]
    a, x = RNG.uniform(alo, ahi, (4, 1)), RNG.uniform(xlo, xhi, (1, 6))
    av, xv = pt.matrix("a", shape=(None, 1)), pt.matrix("x", shape=(1, None))
    got = et.function([av, xv], getattr(pt, name)(av, xv), mode=mode)(a, x)
    np.testing.assert_allclose(got, getattr(sp, name)(a, x), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("mode", MODES)
def test_ternary_and_integer_inputs(mode):
    a, b, x = pt.dvector("a"), pt.dscalar("b"), pt.dvector("x")
    av, bv, xv = np.array([0.5, 2.0, 7.0]), 3.0, np.array([0.1, 0.5, 0.9])
    f = et.function([a, b, x], [pt.betainc(a, b, x), pt.betaincinv(a, b, x)], mode=mode)
    got = f(av, bv, xv)
    np.testing.assert_allclose(got[0], sp.betainc(av, bv, xv), rtol=1e-12)
    np.testing.assert_allclose(got[1], sp.betaincinv(av, bv, xv), rtol=1e-12)
    n = pt.ivector("n")  # integer orders and arguments compute in float64, as SciPy's rule for them
    out = pt.jv(n, pt.cast(n, "int8"))
    assert out.dtype == "float64"
    np.testing.assert_allclose(et.function([n], out, mode=mode)(np.array([0, 1, 3], "int32")),
                               sp.jv([0, 1, 3], [0.0, 1.0, 3.0]), rtol=1e-12)


def test_complex_inputs_are_refused_except_gamma():
    z = pt.zvector("z")
    assert pt.gamma(z).dtype == "complex128"
    for fn in (pt.j0, pt.erfcinv, lambda v: pt.gammainc(v, 1.0), lambda v: pt.jv(1.0, v)):
        with pytest.raises(TypeError, match="does not support inputs of dtype"):
            fn(z)


def _mp_float(fn, *args):
    with mpmath.workdps(40):
        return float(fn(*[mpmath.mpf(float(a)) for a in args]))


# the functions whose op has no reference in the table (mpmath is slow on the per-op grid): checked here
MP_CASES = [
    ("iv", lambda v, x: mpmath.besseli(v, x), [(0.5, 2.0), (-1.25, 3.5), (3.0, 0.25), (2.0, -1.5)], 1e-13),
    ("ive", lambda v, x: mpmath.besseli(v, x) * mpmath.exp(-abs(x)), [(0.5, 2.0), (1.5, 30.0), (2.0, -4.0)], 1e-13),
    ("owens_t", lambda h, a: mpmath.quad(lambda u: mpmath.exp(-h * h * (1 + u * u) / 2) / (1 + u * u), [0, a])
     / (2 * mpmath.pi), [(0.5, 1.0), (-1.5, 0.3), (2.0, -2.5), (0.0, 1.0)], 1e-13),
]


@pytest.mark.parametrize("name, ref, points, rtol", MP_CASES, ids=[c[0] for c in MP_CASES])
def test_against_mpmath(name, ref, points, rtol):
    a, x = (np.array(c) for c in zip(*points))
    got = getattr(pt, name)(a, x).eval()
    want = [_mp_float(ref, *p) for p in points]
    np.testing.assert_allclose(got, want, rtol=rtol)


@pytest.mark.parametrize("upper", [False, True])
def test_gammainc_inverses_invert_in_mpmath(upper):
    a, y = np.array([0.5, 2.5, 7.0, 30.0]), np.array([0.3, 0.9, 0.01, 0.5])
    x = (pt.gammainccinv if upper else pt.gammaincinv)(a, y).eval()
    with mpmath.workdps(40):
        back = [float(mpmath.gammainc(float(k), float(v), mpmath.inf, regularized=True) if upper
                      else mpmath.gammainc(float(k), 0, float(v), regularized=True)) for k, v in zip(a, x)]
    np.testing.assert_allclose(back, y, rtol=1e-12)


def test_betaincinv_inverts_betainc_exactly_in_mpmath():
    a, b, y = np.array([0.5, 2.0, 5.0]), np.array([1.5, 3.0, 0.7]), np.array([0.2, 0.5, 0.99])
    x = pt.betaincinv(a, b, y).eval()
    with mpmath.workdps(40):
        back = [float(mpmath.betainc(float(p), float(q), 0, float(v), regularized=True)) for p, q, v in zip(a, b, x)]
    np.testing.assert_allclose(back, y, rtol=1e-12)


def test_formulas_of_pytensor_tensor_special():
    a, b = np.array([0.5, 2.0, 7.5]), np.array([1.5, 3.0, 0.25])
    np.testing.assert_allclose(special.betaln(a, b).eval(), sp.betaln(a, b), rtol=1e-12)
    np.testing.assert_allclose(special.beta(a, b).eval(), sp.beta(a, b), rtol=1e-12)
    np.testing.assert_allclose(special.poch(a, b).eval(), sp.poch(a, b), rtol=1e-12)
    np.testing.assert_allclose(special.factorial(np.array([0, 1, 5, 10])).eval(), sp.factorial([0, 1, 5, 10]))
    p = np.array([1e-9, 0.25, 0.5, 0.999])
    np.testing.assert_allclose(special.logit(p).eval(), sp.logit(p), rtol=1e-9)
    x, y = np.array([0.0, 0.0, 2.0, 3.0]), np.array([0.0, np.nan, np.e, 0.5])
    np.testing.assert_allclose(special.xlogy(x, y).eval(), [0.0, 0.0, 2.0, 3 * np.log(0.5)], rtol=1e-15)
    assert np.isnan(sp.xlogy(0.0, np.nan))  # SciPy propagates nan; PyTensor's switch (and ours) gives 0
    y1 = np.array([-1.0, 0.5, 2.0, 1e-12])
    np.testing.assert_allclose(special.xlog1py(x, y1).eval(), sp.xlog1py(x, y1), rtol=1e-15)
    k, v = np.array([0.5, 2.0, 4.0]), np.array([0.3, 1.5, 6.0])
    np.testing.assert_allclose(pt.gammau(k, v).eval(), sp.gammaincc(k, v) * sp.gamma(k), rtol=1e-12)
    np.testing.assert_allclose(pt.gammal(k, v).eval(), sp.gammainc(k, v) * sp.gamma(k), rtol=1e-12)
    np.testing.assert_allclose(pt.kn(2, v).eval(), sp.kn(2, v), rtol=1e-12)
    np.testing.assert_allclose(pt.chi2sf(v, 3).eval(), sp.chdtrc(3, v), rtol=1e-12)
    np.testing.assert_allclose(pt.tri_gamma(v).eval(), sp.polygamma(1, v), rtol=1e-12)
    np.testing.assert_allclose(pt.log1pexp(np.array([-800.0, 0.0, 800.0])).eval(), [0.0, np.log(2), 800.0])
    for name in special.__all__:  # every name of pytensor.tensor.special is here
        assert callable(getattr(special, name))


GRADIENTS = {
    "gamma": pt.gamma, "j0": pt.j0, "j1": pt.j1, "i0": pt.i0, "i1": pt.i1, "erfcinv": lambda v: pt.erfcinv(v / 3),
    "gammainc": lambda v: pt.gammainc(1.7, v), "gammaincc": lambda v: pt.gammaincc(0.6, v),
    "gammaincinv": lambda v: pt.gammaincinv(2.0, v / 3), "gammainccinv": lambda v: pt.gammainccinv(2.0, v / 3),
    "jv": lambda v: pt.jv(1.5, v), "iv": lambda v: pt.iv(-0.5, v), "ive": lambda v: pt.ive(2.0, -v),
    "kv": lambda v: pt.kv(0.5, v), "kve": lambda v: pt.kve(3.0, v), "owens_t": lambda v: pt.owens_t(v, 2.0 - v),
    "betainc": lambda v: pt.betainc(2.0, 3.0, v / 3), "betaincinv": lambda v: pt.betaincinv(0.5, 2.5, v / 3),
    "betaln": lambda v: special.betaln(v, 2.0 * v), "xlogy": lambda v: special.xlogy(v, v + 1),
    "logit": lambda v: special.logit(v / 3),
}


@pytest.mark.parametrize("mode", MODES)
def test_gradients_by_finite_differences(mode):
    """Every function of GRADIENTS at once: one argument per function and their outputs concatenated,
    so that the derivative with respect to argument k is function k's alone, checked element by element
    (three compiled functions in all instead of three per function). Every value must be finite at the
    point: a nan would make the finite differences of every argument nan, and nan passes the comparison.
    (The other functions' terms cost the differences ~1e-8 of precision here: the outputs sum to ~110.)"""
    x = np.array([0.7, 1.3, 2.2])
    names = list(GRADIENTS)
    v = pt.dvector("v")
    for name in names:
        assert np.isfinite(evaluator([v], GRADIENTS[name](v))(x)).all(), f"{name} is not finite at {x}"
    try:
        verify_grad(lambda *xs: pt.concatenate([GRADIENTS[n](v) for n, v in zip(names, xs)]), [x] * len(names),
                    rng=np.random.default_rng(1), mode=mode)
    except GradientError as e:
        raise AssertionError(f"the gradient of {names[e.arg]}: {e}") from e


def test_parameter_gradients_not_written_raise_as_pytensor():
    k = pt.dscalar("k")
    for out in (pt.jv(k, 2.0), pt.kv(k, 2.0)):  # (gammainc, betainc: tests/test_special_gradients.py)
        with pytest.raises(NullTypeGradError, match="not implemented in eqtensor"):
            grad(out, k)
    # a constant parameter costs nothing: the gradient in x is defined
    x = pt.dscalar("x")
    assert float(grad(pt.gammainc(2.0, x), x).eval({x: 1.0})) == pytest.approx(np.exp(-1.0), rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_searchsorted_and_unique(mode):
    x, v = pt.dvector("x"), pt.dmatrix("v")
    xs, vs = np.array([1.0, 2.0, 2.0, 5.0]), np.array([[2.0, 0.0], [6.0, 2.5]])
    f = et.function([x, v], [pt.searchsorted(x, v), pt.searchsorted(x, v, side="right")], mode=mode)
    left, right = f(xs, vs)
    np.testing.assert_array_equal(left, np.searchsorted(xs, vs))
    np.testing.assert_array_equal(right, np.searchsorted(xs, vs, side="right"))
    perm = np.array([3, 0, 2, 1])
    unsorted = xs[np.argsort(perm)]
    s = pt.lvector("s")
    g = et.function([x, v, s], pt.searchsorted(x, v, sorter=s), mode=mode)
    np.testing.assert_array_equal(g(unsorted, vs, np.argsort(unsorted)),
                                  np.searchsorted(unsorted, vs, sorter=np.argsort(unsorted)))
    m = pt.imatrix("m")
    mv = np.array([[3, 1, 3], [2, 1, 3]], "int32")
    outs = pt.unique(m, return_index=True, return_inverse=True, return_counts=True)
    got = et.function([m], outs, mode=mode)(mv)
    want = np.unique(mv, return_index=True, return_inverse=True, return_counts=True)
    for g_, w in zip(got, want):
        np.testing.assert_array_equal(g_, w.reshape(-1))  # the inverse indexes the flattened array (PyTensor)
    rows = et.function([m], pt.unique(m, axis=1), mode=mode)(mv)
    np.testing.assert_array_equal(rows, np.unique(mv, axis=1))
    with pytest.raises(ValueError, match="side must be"):
        pt.searchsorted(x, v, side="middle")
    with pytest.raises(ValueError, match="x must be a vector"):
        pt.searchsorted(v, x)


@pytest.mark.parametrize("mode", MODES)
def test_xlogy_gradients_are_right_where_x_is_zero(mode):
    """d/dx x*log(y) is log(y) at x = 0 too (a `switch(x == 0, 0, ...)` formula gave 0 there);
    values as SciPy's except a nan y at x = 0 (0, as PyTensor's)."""
    x, y = pt.dvector("x"), pt.dvector("y")
    xs = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.5, -2.0, 0.0])
    for fn, ref, dx, dy, ys in (
            (special.xlogy, sp.xlogy, np.log, lambda a, b: a / b,
             np.array([2.0, 0.5, 1e-300, 0.0, np.inf, 2.0, 3.0, -1.0])),
            (special.xlog1py, sp.xlog1py, np.log1p, lambda a, b: a / (1 + b),
             np.array([2.0, -0.5, 1e-300, -1.0, np.inf, 2.0, 3.0, -3.0]))):
        out = fn(x, y)
        f = et.function([x, y], [out, *grad(out.sum(), [x, y])], mode=mode)
        v, gx, gy = f(xs, ys)
        np.testing.assert_allclose(v, ref(xs, ys), rtol=1e-15, atol=0)
        finite = np.isfinite(ys) & (ys > (0 if fn is special.xlogy else -1))
        np.testing.assert_allclose(gx[finite], dx(ys[finite]), rtol=1e-15)
        np.testing.assert_allclose(gy[finite], dy(xs, ys)[finite], rtol=1e-15)
        assert np.all(gx[~finite] == 0) and np.all(gy[~finite] == 0)
        np.testing.assert_allclose(gx[0], dx(2.0), rtol=1e-15)  # x = 0, y = 2: log(2), not 0
