"""Broadcasting (PyTensor's static rule) and type promotion (NumPy 2 / NEP 50) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from eqtensor import function
from eqtensor import tensor as pt

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "float16", "float32", "float64",
          "complex128"]
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "true_div": np.divide, "maximum": np.maximum,
          "lt": np.less, "eq": np.equal}


def _value(rng, dtype, shape):
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -50
        return rng.integers(lo, 50, size=shape).astype(dt)
    v = rng.standard_normal(shape) * 10
    if dt.kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return v.astype(dt)


@st.composite
def broadcast_pair(draw):
    """Two operand shapes broadcasting to a common shape, with per-operand declared static shapes."""
    ndim = draw(st.integers(0, 3))
    full = draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim))
    shapes, statics = [], []
    for _ in range(2):
        nd = draw(st.integers(0, ndim))
        shape, static = [], []
        for n in full[ndim - nd:]:
            one = draw(st.booleans())
            shape.append(1 if one else n)
            known = draw(st.booleans())
            static.append(1 if one or n == 1 else (n if known else None))
        shapes.append(tuple(shape))
        statics.append(tuple(static))
    return shapes, statics


@given(pair=broadcast_pair(), d1=st.sampled_from(DTYPES), d2=st.sampled_from(DTYPES),
       opname=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_binary_broadcasting_and_promotion_match_numpy(pair, d1, d2, opname, seed):
    (s1, s2), (t1, t2) = pair
    ref = BINARY[opname]
    rng = np.random.default_rng(seed)
    a, b = _value(rng, d1, s1), _value(rng, d2, s2)
    try:
        with np.errstate(all="ignore"):
            expected = ref(a, b)
    except TypeError:  # NumPy rejects the dtypes: so must we, when the node is built
        with pytest.raises(TypeError):
            getattr(pt, opname)(pt.tensor("a", dtype=d1, shape=t1), pt.tensor("b", dtype=d2, shape=t2))
        return
    x, y = pt.tensor("a", dtype=d1, shape=t1), pt.tensor("b", dtype=d2, shape=t2)
    out = getattr(pt, opname)(x, y)
    assert out.dtype == np.asarray(expected).dtype.name
    assert out.ndim == np.ndim(expected)
    res = function([x, y], out, mode="FAST_COMPILE")(a, b)
    assert res.dtype == expected.dtype and res.shape == expected.shape
    assert out.type.is_compatible(res.shape)
    if res.dtype.kind in "biu":
        np.testing.assert_array_equal(res, expected)
    else:
        np.testing.assert_allclose(res, expected, rtol=1e-3 if res.dtype == np.float16 else 1e-6, equal_nan=True)


@given(dtype=st.sampled_from(DTYPES),
       scalar=st.one_of(st.booleans(), st.integers(-(2**40), 2**40), st.sampled_from([1000, -1, 255, 256, -129]),
                        st.floats(-1e5, 1e5), st.complex_numbers(max_magnitude=1e3)),
       reflected=st.booleans(), opname=st.sampled_from(["add", "mul", "maximum", "lt"]))
def test_weak_python_scalars_follow_nep50(dtype, scalar, reflected, opname):
    ref = BINARY[opname]
    a = _value(np.random.default_rng(0), dtype, (3,))
    args = (scalar, a) if reflected else (a, scalar)
    try:
        with np.errstate(all="ignore"):
            expected = ref(*args)
    except OverflowError:
        x = pt.tensor("x", dtype=dtype, shape=(None,))
        with pytest.raises(OverflowError, match="out of bounds"):
            getattr(pt, opname)(*((scalar, x) if reflected else (x, scalar)))
        return
    except TypeError:
        x = pt.tensor("x", dtype=dtype, shape=(None,))
        with pytest.raises(TypeError):
            getattr(pt, opname)(*((scalar, x) if reflected else (x, scalar)))
        return
    x = pt.tensor("x", dtype=dtype, shape=(None,))
    out = getattr(pt, opname)(*((scalar, x) if reflected else (x, scalar)))
    assert out.dtype == expected.dtype.name
    res = function([x], out, mode="FAST_COMPILE")(a)
    assert res.dtype == expected.dtype
    if res.dtype.kind in "biu":
        np.testing.assert_array_equal(res, expected)
    else:
        np.testing.assert_allclose(res, expected, rtol=1e-3 if res.dtype == np.float16 else 1e-6)


def test_nep50_examples():
    assert (pt.fvector("x") * 2.5).dtype == "float32"
    assert (2.5 * pt.fvector("x")).dtype == "float32"
    assert (pt.bvector("x") + 1).dtype == "int8"
    assert (pt.bvector("x") + 1.0).dtype == "float64"
    assert (pt.ivector("x") + pt.fvector("y")).dtype == "float64"
    assert (pt.fvector("x") + pt.dscalar("y")).dtype == "float64"  # a 0-d tensor is not weak
    with pytest.raises(OverflowError, match="1000 is out of bounds for int8"):
        pt.bvector("x") + 1000
    with pytest.raises(OverflowError):
        pt.vector("u", dtype="uint8") - (-1)


@given(n1=st.integers(0, 6), n2=st.integers(0, 6), ndim=st.integers(1, 3), axis=st.integers(0, 2))
def test_static_mismatch_raises_at_build_time(n1, n2, ndim, axis):
    assume(n1 != n2 and 1 not in (n1, n2))
    axis %= ndim
    s1 = tuple(n1 if d == axis else None for d in range(ndim))
    s2 = tuple(n2 if d == axis else None for d in range(ndim))
    x, y = pt.tensor("x", shape=s1), pt.tensor("y", shape=s2)
    with pytest.raises(ValueError, match=f"along axis {axis}"):
        x + y
    with pytest.raises(ValueError, match="static length 1 broadcast"):
        pt.switch(x > 0, y, 0.0)


@given(n=st.integers(0, 5), ndim=st.integers(1, 3), axis=st.integers(0, 2), which=st.integers(0, 1))
def test_runtime_length_one_not_declared_broadcastable_raises(n, ndim, axis, which):
    assume(n != 1)
    axis %= ndim
    x, y = pt.tensor("x", shape=(None,) * ndim), pt.tensor("y", shape=(None,) * ndim)
    f = function([x, y], x * y, mode="FAST_COMPILE")
    shapes = [[2] * ndim, [2] * ndim]
    shapes[which][axis] = 1
    shapes[1 - which][axis] = n
    with pytest.raises(ValueError, match="declare the input with shape"):
        f(np.ones(shapes[0]), np.ones(shapes[1]))
    # the same lengths declared broadcastable work, as in NumPy
    static = [tuple(1 if s == 1 else None for s in shp) for shp in shapes]
    xb, yb = pt.tensor("x", shape=static[0]), pt.tensor("y", shape=static[1])
    a, b = np.arange(np.prod(shapes[0])).reshape(shapes[0]), np.ones(shapes[1])
    np.testing.assert_array_equal(function([xb, yb], xb * yb, mode="FAST_COMPILE")(a, b), a * b)


def test_declared_broadcastable_input_rejects_other_lengths():
    x = pt.tensor("x", shape=(1, None))
    f = function([x], x + 1.0, mode="FAST_COMPILE")
    with pytest.raises(ValueError, match=r"static shape \(1, None\)"):
        f(np.ones((3, 2)))


def test_three_way_broadcasting():
    c = pt.tensor("c", dtype="bool", shape=(None, 1, None))
    a = pt.tensor("a", dtype="float32", shape=(1, None, 1))
    b = pt.tensor("b", dtype="int8", shape=(None,))
    out = pt.switch(c, a, b)
    assert out.type.shape == (None, None, None) and out.dtype == "float32"
    rng = np.random.default_rng(0)
    cv, av, bv = rng.random((2, 1, 4)) < 0.5, rng.random((1, 3, 1)).astype("float32"), np.arange(4, dtype="int8")
    res = function([c, a, b], out, mode="FAST_COMPILE")(cv, av, bv)
    np.testing.assert_array_equal(res, np.where(cv, av, bv))
    assert res.dtype == np.float32


def test_static_shapes_propagate():
    x = pt.tensor("x", shape=(3, 1, None))
    y = pt.tensor("y", shape=(1, 4, 5))
    assert (x + y).type.shape == (3, 4, 5)
    assert (x + pt.tensor("z", shape=(None,))).type.shape == (3, 1, None)
    assert (pt.tensor("a", shape=(1,)) + pt.tensor("b", shape=(1,))).type.shape == (1,)
    assert (pt.tensor("a", shape=(0,)) + pt.tensor("b", shape=(1,))).type.shape == (0,)
