"""Indexing, set_subtensor and inc_subtensor against NumPy 2, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eqtensor import function
from eqtensor import tensor as pt


def _compile(x, out, *extra):
    return function([x, *extra], out, mode="FAST_COMPILE")


# ----------------------------------------------------------------------------- strategies
@st.composite
def shapes(draw, min_dims=0, max_dims=4):
    return tuple(draw(st.lists(st.integers(0, 5), min_size=min_dims, max_size=max_dims)))


def _basic_items(draw, dims):
    items = []
    for n in dims:
        kind = draw(st.sampled_from(["int", "slice", "slice"] if n else ["slice"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.one_of(st.none(), st.integers(-7, 7))
            step = draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
            items.append(slice(draw(bound), draw(bound), step))
        if draw(st.integers(0, 5)) == 0:
            items.append(None)
    return items


@st.composite
def basic_index(draw, shape):
    """A random basic index (ints, slices, None, an optional Ellipsis) valid for ``shape``."""
    p = draw(st.integers(0, len(shape)))
    if not draw(st.booleans()):
        return tuple(_basic_items(draw, shape[:p]))
    q = draw(st.integers(0, len(shape) - p))
    return tuple(_basic_items(draw, shape[:p]) + [Ellipsis] + _basic_items(draw, shape[len(shape) - q:]))


@st.composite
def array_and_basic_index(draw):
    shape = draw(shapes())
    return shape, draw(basic_index(shape))


@st.composite
def array_and_advanced_index(draw):
    """Shape and an index mixing integer arrays (broadcastable), ints, slices and None."""
    shape = draw(shapes(min_dims=1))
    idx_shape = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    items = []
    n_adv = 0
    for n in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["array", "int", "slice"] if n else ["slice"]))
        if kind == "array":
            sub = idx_shape[draw(st.integers(0, len(idx_shape))):]
            sub = tuple(1 if draw(st.booleans()) else s for s in sub)
            items.append(np.asarray(draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(sub)),
                                                  max_size=int(np.prod(sub))))).reshape(sub).astype("int64"))
            n_adv += 1
        elif kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        else:
            items.append(slice(draw(st.one_of(st.none(), st.integers(-4, 4))), None, draw(st.sampled_from([None, 1, -1, 2]))))
        if draw(st.integers(0, 6)) == 0:
            items.append(None)
    if n_adv == 0:
        n = shape[0]
        items[0] = np.arange(n)[::-1].astype("int32")
    return shape, tuple(items)


def _data(shape, dtype="float64"):
    return (np.arange(int(np.prod(shape))) * 3 % 17 - 5).reshape(shape).astype(dtype)


# ----------------------------------------------------------------------------- getitem
@given(case=array_and_basic_index(), static=st.booleans())
def test_basic_indexing_matches_numpy(case, static):
    shape, idx = case
    a = _data(shape)
    x = pt.tensor("x", shape=shape if static else (None,) * len(shape))
    out = x[idx]
    # an index of new axes and full slices only is a dimshuffle (as in PyTensor)
    assert out.owner.op.name in ("subtensor", "dimshuffle")
    res = _compile(x, out)(a)
    expected = a[idx]
    np.testing.assert_array_equal(res, expected)
    assert res.dtype == expected.dtype
    if static:
        assert out.type.shape == expected.shape
    else:
        assert out.type.is_compatible(expected.shape)


@given(case=array_and_basic_index())
def test_symbolic_slice_bounds_and_ints(case):
    shape, idx = case
    a = _data(shape, "int32")
    x = pt.tensor("x", dtype="int32", shape=(None,) * len(shape))
    scalars, values, sym_idx = [], [], []
    for item in idx:
        if isinstance(item, int):
            s = pt.lscalar(f"i{len(scalars)}")
            scalars.append(s)
            values.append(item)
            sym_idx.append(s)
        elif isinstance(item, slice):
            parts = []
            for p in (item.start, item.stop, item.step):
                if p is None:
                    parts.append(None)
                else:
                    s = pt.iscalar(f"s{len(scalars)}")
                    scalars.append(s)
                    values.append(p)
                    parts.append(s)
            sym_idx.append(slice(*parts))
        else:
            sym_idx.append(item)
    out = x[tuple(sym_idx)]
    res = _compile(x, out, *scalars)(a, *values)
    np.testing.assert_array_equal(res, a[idx])
    assert out.type.is_compatible(res.shape)


@given(case=array_and_advanced_index(), static=st.booleans())
def test_advanced_indexing_matches_numpy(case, static):
    shape, idx = case
    a = _data(shape, "float32")
    expected = a[idx]
    x = pt.tensor("x", dtype="float32", shape=shape if static else (None,) * len(shape))
    out = x[idx]
    has_array = any(isinstance(i, np.ndarray) and i.ndim for i in idx)  # 0-d arrays index like ints
    assert out.owner.op.name == ("advanced_subtensor" if has_array else "subtensor")
    res = _compile(x, out)(a)
    np.testing.assert_array_equal(res, expected)
    assert res.dtype == expected.dtype
    if static:
        assert out.type.shape == expected.shape
    assert out.type.is_compatible(expected.shape)


@given(case=array_and_advanced_index())
def test_symbolic_index_arrays(case):
    shape, idx = case
    a = _data(shape, "int8")
    arrays = [i for i in idx if isinstance(i, np.ndarray)]
    sym = [pt.tensor(f"k{j}", dtype=i.dtype.name, shape=tuple(1 if s == 1 else None for s in i.shape))
           for j, i in enumerate(arrays)]
    it = iter(sym)
    sym_idx = tuple(next(it) if isinstance(i, np.ndarray) else i for i in idx)
    x = pt.tensor("x", dtype="int8", shape=(None,) * len(shape))
    out = x[sym_idx]
    res = _compile(x, out, *sym)(a, *arrays)
    np.testing.assert_array_equal(res, a[idx])
    assert out.type.is_compatible(res.shape)


@given(shape=shapes(min_dims=1, max_dims=3), k=st.integers(1, 3), seed=st.integers(0, 1000), lead=st.booleans())
def test_boolean_masks(shape, k, seed, lead):
    k = min(k, len(shape))
    a = _data(shape)
    rng = np.random.default_rng(seed)
    start = 0 if lead else len(shape) - k
    mask = rng.random(shape[start:start + k]) < 0.5
    idx = (mask,) if lead else (Ellipsis, mask)
    x = pt.tensor("x", shape=(None,) * len(shape))
    m = pt.tensor("m", dtype="bool", shape=(None,) * k)
    out = x[(m,) if lead else (Ellipsis, m)]
    res = _compile(x, out, m)(a, mask)
    np.testing.assert_array_equal(res, a[idx])
    # a constant mask gives a static length
    out_c = pt.tensor("x", shape=shape)[idx]
    assert out_c.type.shape == a[idx].shape


def test_mask_of_comparison_and_zero_d_bool():
    x = pt.dmatrix("x")
    a = np.array([[1.0, -2.0], [-3.0, 4.0]])
    np.testing.assert_array_equal(x[x < 0].eval({x: a}), a[a < 0])
    np.testing.assert_array_equal(x[True].eval({x: a}), a[True])
    np.testing.assert_array_equal(x[False].eval({x: a}), a[False])
    assert x[True].type.shape == (1, None, None)


def test_indexing_shape_gives_shape_i():
    x = pt.tensor("x", shape=(3, None, 5))
    s1 = x.shape[1]
    assert s1.owner.op.name == "shape_i" and s1.owner.op.params["i"] == 1
    assert x.shape[-1].owner.op.params["i"] == 2
    assert pt.zeros((x.shape[0], x.shape[2])).type.shape == (3, 5)
    assert pt.reshape(pt.dvector("v"), x.shape[::2]).type.shape == (3, 5)
    with pytest.raises(IndexError, match="out of bounds"):
        x.shape[3]


def test_basic_indexing_is_a_view_but_outputs_do_not_alias_inputs():
    x = pt.dmatrix("x")
    f = function([x], x[1:, ::2], mode="FAST_COMPILE")
    a = np.arange(12.0).reshape(3, 4)
    out = f(a)
    out[...] = -1
    assert a[2, 2] == 10.0
    assert pt.dmatrix("y")[0].owner.op.defn.view_of == 0


# ----------------------------------------------------------------------------- set / inc
@st.composite
def update_case(draw):
    if draw(st.booleans()):
        shape, idx = draw(array_and_basic_index())
    else:
        shape, idx = draw(array_and_advanced_index())
    sub = np.zeros(shape)[idx].shape
    nd = draw(st.integers(0, len(sub)))
    yshape = tuple(1 if draw(st.booleans()) else s for s in sub[len(sub) - nd:])
    return shape, idx, yshape


@given(case=update_case(), inc=st.booleans(), ydtype=st.sampled_from(["float64", "float32", "int8", "bool"]))
def test_set_and_inc_subtensor_match_numpy(case, inc, ydtype):
    shape, idx, yshape = case
    a = _data(shape)
    y = (_data(yshape, "float64") + 0.5).astype(ydtype)
    x = pt.tensor("x", shape=(None,) * len(shape))
    yv = pt.tensor("y", dtype=ydtype, shape=tuple(1 if s == 1 else None for s in yshape))
    out = (pt.inc_subtensor if inc else pt.set_subtensor)(x[idx], yv)
    assert out.type == x.type
    res = _compile(x, out, yv)(a, y)
    expected = a.copy()
    advanced = any(isinstance(i, np.ndarray) for i in idx)
    if inc and advanced:
        np.add.at(expected, idx, y)
    elif inc:
        expected[idx] += y
    else:
        expected[idx] = y
    np.testing.assert_array_equal(res, expected)
    assert a.tolist() == _data(shape).tolist()  # the input was not modified


def test_inc_subtensor_accumulates_repeated_indices():
    x = pt.dvector("x")
    out = pt.inc_subtensor(x[[0, 0, 2, 0]], pt.dvector("y"))
    f = function([x, out.owner.inputs[1]], out, mode="FAST_COMPILE")
    np.testing.assert_array_equal(f(np.zeros(3), np.array([1.0, 2.0, 3.0, 4.0])), [7.0, 0.0, 3.0])


def test_set_subtensor_weak_scalars_and_dtypes():
    x = pt.bvector("x")
    assert pt.set_subtensor(x[0], 5).dtype == "int8"
    with pytest.raises(OverflowError, match="1000"):
        pt.set_subtensor(x[0], 1000)
    with pytest.raises(TypeError, match="cannot be stored"):
        pt.set_subtensor(pt.fvector("f")[0], pt.dscalar("d"))
    assert pt.inc_subtensor(pt.dvector("v")[1:], pt.fvector("f")).dtype == "float64"
    assert pt.set_subtensor(pt.fvector("f")[0], 2.5).dtype == "float32"
    with pytest.raises(TypeError, match="Python float cannot be stored in x of dtype int8"):
        pt.inc_subtensor(x[0], 2.5)


# ----------------------------------------------------------------------------- errors
def test_static_index_errors():
    x = pt.tensor("x", shape=(3, None))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="index -4 is out of bounds"):
        x[-4]
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        x[[0, 5]]
    x[:, 100]  # unknown length: checked at run time
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[::0]
    with pytest.raises(IndexError, match="valid indices"):
        x[1.5]
    with pytest.raises(IndexError, match="valid indices"):
        x[pt.dscalar("f")]
    with pytest.raises(TypeError, match="slice indices"):
        x[pt.dscalar("f"):]
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])]
    with pytest.raises(IndexError, match="could not be broadcast"):
        x[[0, 1], [[0, 1, 2]] * 2]


def test_update_errors():
    x = pt.dmatrix("x")
    with pytest.raises(TypeError, match="indexed tensor"):
        pt.set_subtensor(x, 1.0)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        pt.set_subtensor(pt.tensor("z", shape=(3, 4))[0], pt.tensor("y", shape=(5,)))
    with pytest.raises(TypeError, match="cannot be broadcast"):  # more dimensions than x[0]: PyTensor's TypeError
        pt.inc_subtensor(x[0], pt.dmatrix("y"))


def test_runtime_index_errors():
    x = pt.dvector("x")
    i = pt.lscalar("i")
    f = function([x, i], x[i], mode="FAST_COMPILE")
    assert f(np.arange(3.0), -1) == 2.0
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.arange(3.0), 3)
    g = function([x], x[[0, 7]], mode="FAST_COMPILE")
    with pytest.raises(IndexError, match="out of bounds"):
        g(np.arange(3.0))


def test_take():
    a = np.arange(24).reshape(2, 3, 4)
    x = pt.tensor("x", dtype="int64", shape=(None, None, None))
    for idx, axis in [([0, 2], 1), (np.array([[3, 0], [1, 1]]), -1), (5, None), ([True, False], 0)]:
        res = pt.take(x, idx, axis=axis).eval({x: a})
        np.testing.assert_array_equal(res, np.take(a, idx, axis=axis))
    with pytest.raises(TypeError, match="integers"):
        pt.take(x, [0.5])
