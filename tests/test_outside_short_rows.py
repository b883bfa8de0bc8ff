"""Row reductions over short rows on the C backend (the Gaussian mixture of
benchmarks/outside_families.py reduces rows of 8): max/min/any/all fold a row shorter than 64 with 8
partial accumulators or one by one, and logsumexp sums a row shorter than 32 after its max instead of
in one pass. Every length around those thresholds, with NaN, infinities and large values, against
NumPy and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import eqtensor as et
from eqtensor import tensor as pt

LENGTHS = [1, 2, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 130]


@pytest.fixture(scope="module")
def reductions():
    x, b, i = pt.dmatrix("x"), pt.matrix("b", dtype="bool"), pt.lmatrix("i")
    return {"max": et.function([x], pt.max(x, axis=1), mode="C"), "min": et.function([x], pt.min(x, axis=1), mode="C"),
            "max_all": et.function([x], pt.max(x), mode="C"), "any": et.function([b], pt.any(b, axis=1), mode="C"),
            "all": et.function([b], pt.all(b, axis=1), mode="C"), "imax": et.function([i], pt.max(i, axis=1), mode="C")}


@pytest.fixture(scope="module")
def logsumexps():
    x, xf = pt.dmatrix("x"), pt.matrix("xf", dtype="float32")
    return {"rows": et.function([x], pt.logsumexp(x, axis=1), mode="C"),
            "cols": et.function([x], pt.logsumexp(x, axis=0), mode="C"),
            "rows32": et.function([xf], pt.logsumexp(xf, axis=1), mode="C")}


@pytest.mark.parametrize("n", LENGTHS)
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


@pytest.mark.parametrize("n", LENGTHS)
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
