"""``eqtensor.ifelse.ifelse``: results against NumPy, type rules and errors."""

import functools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from eqtensor import function, tensor as pt
from eqtensor.ifelse import ifelse


@functools.cache
def _choice():
    cond, x = pt.dscalar("c"), pt.dvector("x")
    return function([cond, x], ifelse(pt.gt(cond, 0.0), pt.exp(x / 1e3), x * 2))


@given(st.floats(-10, 10), st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=5))
def test_ifelse_matches_python_choice(c, xs):
    f = _choice()
    v = np.array(xs)
    want = np.exp(v / 1e3) if c > 0 else v * 2
    np.testing.assert_allclose(f(c, v), want, rtol=4e-16, atol=0)  # exp: a vectorized libm may differ by 1 ulp


def test_ifelse_lists_and_numeric_conditions():
    i, a, b = pt.iscalar("i"), pt.dmatrix("a"), pt.dmatrix("b")
    f = function([i, a, b], ifelse(i, [a, b], [b, a]))
    x, y = np.ones((2, 2)), np.zeros((2, 2))
    big, small = f(3, x, y)
    np.testing.assert_array_equal(big, x)
    np.testing.assert_array_equal(small, y)
    first, second = f(0, x, y)
    np.testing.assert_array_equal(first, y)
    np.testing.assert_array_equal(second, x)


def test_ifelse_python_scalar_branch_takes_the_other_dtype():
    c, v = pt.bscalar("c"), pt.fvector("v")
    out = ifelse(c, v, 0.5)
    assert out.dtype == "float32" and out.ndim == 1
    f = function([c, v], out)
    np.testing.assert_array_equal(f(0, np.array([1, 2], dtype="float32")), np.full(2, 0.5, dtype="float32"))
    np.testing.assert_array_equal(f(1, np.array([1, 2], dtype="float32")), [1.0, 2.0])
    k = pt.bvector("k")
    assert ifelse(c, 2, k).dtype == "int8"


def test_ifelse_name():
    c, x = pt.dscalar("c"), pt.dscalar("x")
    assert ifelse(c, x, -x, name="pick").name == "pick"
    assert [o.name for o in ifelse(c, [x, x], [x, -x], name="p")] == ["p[0]", "p[1]"]


def test_ifelse_errors():
    c, x, y = pt.dscalar("c"), pt.dvector("x"), pt.fvector("y")
    with pytest.raises(TypeError, match=r"condition must be a scalar \(0-d\), got x of type float64\[\?\]"):
        ifelse(x, x, x)
    with pytest.raises(TypeError, match=r"same dtype and number of dimensions, got then=float64\[\?\] and "
                                        r"else=float32\[\?\]"):
        ifelse(c, x, y)
    with pytest.raises(TypeError, match=r"\(output 1\) must have the same dtype and number of dimensions"):
        ifelse(c, [x, x], [x, pt.dmatrix("m")])
    with pytest.raises(ValueError, match="lists of the same length, got 2 and 1"):
        ifelse(c, [x, x], [x])
    with pytest.raises(ValueError, match="lists of the same length"):
        ifelse(c, x, [x])
    b = pt.tensor("b", dtype="float64", shape=(1,))
    with pytest.raises(ValueError, match=r"static shapes \(1,\) and \(None,\)"):
        ifelse(c, b, x)
    s3 = pt.tensor("s3", dtype="float64", shape=(3,))
    s4 = pt.tensor("s4", dtype="float64", shape=(4,))
    with pytest.raises(ValueError, match=r"static shapes \(3,\) and \(4,\)"):
        ifelse(c, s3, s4)
    with pytest.raises(TypeError, match="real or bool"):
        ifelse(pt.zscalar("z"), x, x)
