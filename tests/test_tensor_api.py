"""The methods and operators of symbolic tensors, and the tensor-level helpers, against NumPy."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eqtensor import function
from eqtensor import tensor as pt

RNG = np.random.default_rng(42)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4)) + 2.0
I8 = np.array([[3, -7, 0, 5], [1, 2, -3, 4], [-8, 9, 6, 7]], dtype="int8")
I8b = np.array([[2, 3, -1, 5], [1, -4, 3, 2], [7, 2, 6, -3]], dtype="int8")


def run(build, *arrays):
    """Compile ``build`` applied to inputs typed like ``arrays`` and run it on them."""
    ins = [pt.tensor(f"x{k}", dtype=a.dtype.name, shape=(None,) * a.ndim) for k, a in enumerate(arrays)]
    out = build(*ins)
    res = function(ins, out, mode="FAST_COMPILE")(*arrays)
    assert res.dtype.name == out.dtype
    assert out.type.is_compatible(res.shape)
    return res


def same(res, expected):
    expected = np.asarray(expected)
    assert res.dtype == expected.dtype, (res.dtype, expected.dtype)
    assert res.shape == expected.shape
    if res.dtype.kind in "biu":
        np.testing.assert_array_equal(res, expected)
    else:
        tol = 1e-6 if res.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(res, expected, rtol=tol, atol=tol, equal_nan=True)


BINOPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
          operator.pow, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", BINOPS, ids=lambda o: o.__name__)
@pytest.mark.parametrize("a, b", [(A, B), (I8, I8b), (A.astype("float32"), I8b)], ids=["f64", "i8", "f32-i8"])
def test_binary_operators(op, a, b):
    if op is operator.pow and b.dtype.kind == "i":
        b = np.abs(b)
    with np.errstate(all="ignore"):
        same(run(op, a, b), op(a, b))


@pytest.mark.parametrize("op", BINOPS, ids=lambda o: o.__name__)
def test_operators_with_python_and_numpy_values(op):
    with np.errstate(all="ignore"):
        same(run(lambda x: op(x, 3), I8), op(I8, 3))
        same(run(lambda x: op(2.5, x), A.astype("float32")), op(2.5, A.astype("float32")))
        same(run(lambda x: op(x, B), A), op(A, B))  # a NumPy array is lifted to a constant
        same(run(lambda x: op(B, x), A), op(B, A))  # ndarray op tensor defers to the tensor


def test_unary_operators_and_bitwise():
    same(run(operator.neg, A), -A)
    same(run(abs, I8), np.abs(I8))
    bits = np.array([True, False, True])
    same(run(lambda x, y: (x & y, x | y, x ^ y, ~x)[0], bits, bits[::-1].copy()), bits & bits[::-1])
    same(run(lambda x, y: x | y, I8, I8b), I8 | I8b)
    same(run(lambda x, y: x ^ y, I8, I8b), I8 ^ I8b)
    same(run(operator.invert, I8), ~I8)
    same(run(lambda x: ~x, bits), ~bits)
    with pytest.raises(TypeError, match="dtype float64"):
        pt.dvector("x") & pt.dvector("y")
    same(run(lambda x, y: pt.logical_and(x, y), A, I8), np.logical_and(A, I8))
    same(run(lambda x: pt.logical_not(x), I8), np.logical_not(I8))
    same(run(lambda x, y: pt.logical_or(x, y), I8, I8b), np.logical_or(I8, I8b))
    same(run(lambda x, y: pt.logical_xor(x, y), I8, I8b), np.logical_xor(I8, I8b))


def test_comparison_functions_and_identity_equality():
    x = pt.dmatrix("x")
    assert (x == x) is True and x != pt.dmatrix("y")  # Python equality is identity, as in PyTensor
    same(run(lambda a, b: pt.eq(a, b), I8, I8b), I8 == I8b)
    same(run(lambda a, b: pt.neq(a, b), I8, I8b), I8 != I8b)
    same(run(lambda a: pt.lt(a, 0), I8), I8 < 0)
    same(run(lambda a: pt.eq(a, 200), I8), I8 == 200)  # out-of-range Python int: exact comparison
    same(run(lambda a: a < 1000, I8), I8 < 1000)


def test_matmul_operator_and_dot_method():
    C = RNG.standard_normal((4, 2))
    same(run(lambda a, c: a @ c, A, C), A @ C)
    same(run(lambda a, c: a.dot(c), A, C), A.dot(C))
    same(run(lambda a: C.T @ a.T, A), C.T @ A.T)  # ndarray @ tensor
    v = RNG.standard_normal(4)
    same(run(lambda a, w: a @ w, A, v), A @ v)
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(3, 4\)"):
        pt.matrix("a", shape=(3, 4)) @ pt.matrix("b", shape=(3, 4))


def test_transpose_dimshuffle_reshape_flatten_squeeze():
    T = RNG.standard_normal((2, 3, 4))
    same(run(lambda t: t.T, T), T.T)
    same(run(lambda t: t.transpose(1, 0, 2), T), T.transpose(1, 0, 2))
    same(run(lambda t: t.transpose((2, 0, 1)), T), T.transpose(2, 0, 1))
    same(run(lambda t: pt.transpose(t, (-1, 0, 1)), T), np.transpose(T, (2, 0, 1)))
    same(run(lambda t: t.swapaxes(0, -1), T), T.swapaxes(0, -1))
    same(run(lambda t: pt.swapaxes(t, 1, 1), T), T)
    same(run(lambda t: t.diagonal(1, 2, 1), T), T.diagonal(1, 2, 1))
    same(run(lambda t: t[0].trace(-1), T), np.asarray(T[0].trace(-1)))
    same(run(lambda t: t.dimshuffle(2, "x", 0, 1), T), T.transpose(2, 0, 1)[:, None])
    same(run(lambda t: t.reshape(4, 6), T), T.reshape(4, 6))
    same(run(lambda t: t.reshape((-1, 2)), T), T.reshape(-1, 2))
    same(run(lambda t: t.reshape((t.shape[2], -1)), T), T.reshape(4, -1))
    same(run(lambda t: t.flatten(), T), T.flatten())
    same(run(lambda t: t.flatten(2), T), T.reshape(2, -1))
    same(run(lambda t: pt.flatten(t, 3), T), T)
    same(run(lambda s: s.flatten(), np.array(5.0)), np.array([5.0]))
    x = pt.tensor("x", shape=(1, None, 1))
    assert x.squeeze().type.shape == (None,)
    assert x.squeeze(axis=-1).type.shape == (1, None)
    assert pt.expand_dims(pt.dvector("v"), (0, 2)).type.shape == (1, None, 1)
    same(run(lambda t: pt.expand_dims(t, -1), T), np.expand_dims(T, -1))
    with pytest.raises(ValueError, match="static length 1"):
        pt.squeeze(pt.dmatrix("m"), axis=0)
    with pytest.raises(ValueError, match="cannot reshape"):
        pt.tensor("y", shape=(2, 3)).reshape((4, 2))
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        pt.dmatrix("m").reshape((-1, -1))
    with pytest.raises(ValueError, match="flatten"):
        pt.dmatrix("m").flatten(3)


REDUCTIONS = ["sum", "prod", "max", "min", "mean", "var", "std", "argmax", "argmin", "all", "any"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data", [A, I8, A.astype("float32"), A > 0], ids=["f64", "i8", "f32", "bool"])
def test_reduction_methods(name, axis, keepdims, data):
    if name.startswith("arg") and isinstance(axis, tuple):
        flat = np.moveaxis(data, (0, 1), (0, 1)).reshape(-1)
        expected = getattr(np, name)(flat).astype("int64")
        if keepdims:
            expected = expected.reshape(1, 1)
    else:
        with np.errstate(all="ignore"):
            expected = getattr(np, name)(data, axis=axis, keepdims=keepdims)
    if name in ("var", "std", "mean") and data.dtype == np.bool_:
        expected = np.asarray(expected)  # NumPy: float64, as ours
    same(run(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), data), expected)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_ddof(name):
    same(run(lambda x: getattr(x, name)(axis=1, ddof=1), A), getattr(np, name)(A, axis=1, ddof=1))
    same(run(lambda x: getattr(pt, name)(x, ddof=2), A.astype("float32")), getattr(np, name)(A.astype("float32"), ddof=2))


def test_size_shape_ndim_dtype_astype():
    x = pt.tensor("x", dtype="float32", shape=(None, 4))
    assert x.ndim == 2 and x.dtype == "float32" and x.broadcastable == (False, False)
    np.testing.assert_array_equal(x.shape.eval({x: np.zeros((3, 4), "float32")}), [3, 4])
    assert int(x.size.eval({x: np.zeros((3, 4), "float32")})) == 12
    same(run(lambda t: t.astype("int8"), A * 10), (A * 10).astype("int8"))
    same(run(lambda t: t.astype("float32"), I8), I8.astype("float32"))
    assert x.astype("float32") is x


def test_elementwise_methods():
    P = np.abs(A) + 0.1
    same(run(lambda x: x.exp(), A), np.exp(A))
    same(run(lambda x: x.log(), P), np.log(P))
    same(run(lambda x: x.sqrt(), P), np.sqrt(P))
    same(run(lambda x: x.clip(-0.5, 0.5), A), np.clip(A, -0.5, 0.5))
    same(run(lambda x: x.round(), np.array([0.5, 1.5, 2.5, -0.5, -2.5])), np.round([0.5, 1.5, 2.5, -0.5, -2.5]))
    same(run(lambda x: pt.round(x), I8), np.round(I8))


def test_eval():
    x, y = pt.dscalar("x"), pt.dvector("y")
    assert float((x * 2).eval({x: 3.0})) == 6.0
    np.testing.assert_array_equal((x + y).eval({x: 1.0, y: np.array([1.0, 2.0])}), [2.0, 3.0])
    np.testing.assert_array_equal(pt.constant(np.arange(3)).sum().eval(), 3)


def test_symbolic_tensors_have_no_truth_length_or_iteration():
    x = pt.dvector("x")
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)
    with pytest.raises(TypeError, match="len"):
        len(x)
    with pytest.raises(TypeError, match="iterated"):
        list(x)


def test_join_and_broadcast_helpers():
    v, w = RNG.standard_normal(3), RNG.standard_normal(3)
    same(run(lambda a, b: pt.stack([a, b]), v, w), np.stack([v, w]))
    same(run(lambda a, b: pt.stack([a, b], axis=-1), v, w), np.stack([v, w], axis=-1))
    same(run(lambda a, b: pt.concatenate([a, b, a]), v, w), np.concatenate([v, w, v]))
    same(run(lambda a: pt.broadcast_to(a, (2, 3)), v), np.broadcast_to(v, (2, 3)))
    same(run(lambda a: pt.as_tensor_variable([a[0], 2.0, a[1]]), v), np.array([v[0], 2.0, v[1]]))
    with pytest.raises(ValueError, match="differ along axis 1"):
        pt.concatenate([pt.matrix("a", shape=(2, 3)), pt.matrix("b", shape=(2, 4))])
    with pytest.raises(ValueError, match="cannot be broadcast"):
        pt.broadcast_to(pt.vector("a", shape=(3,)), (2, 4))


def test_linalg_faces():
    M = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    b = RNG.standard_normal(3)
    same(run(lambda m: pt.linalg.inv(m) @ m, M), np.eye(3))
    same(run(lambda m, c: pt.linalg.solve(m, c), M, b), np.linalg.solve(M, b))
    same(run(pt.outer, b, b[:2].copy()), np.outer(b, b[:2]))
    T1, T2 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 3, 5))
    same(run(lambda p, q: pt.tensordot(p, q, axes=[[1, 2], [1, 0]]), T1, T2), np.tensordot(T1, T2, axes=[[1, 2], [1, 0]]))
    same(run(lambda p, q: pt.tensordot(p, q, axes=1), T1, T2), np.tensordot(T1, T2, axes=1))
    same(run(lambda p, q: pt.tensordot(p, q, axes=0), T1[0, 0], T2[0, 0]), np.tensordot(T1[0, 0], T2[0, 0], axes=0))
    with pytest.raises(ValueError, match="not aligned"):
        pt.tensordot(pt.tensor3("p", shape=(2, 3, 4)), pt.tensor3("q", shape=(5, 3, 5)), axes=[[2], [0]])
    with pytest.raises(ValueError, match="square"):
        pt.linalg.det(pt.matrix("r", shape=(2, 3)))


@given(a_shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       b_extra=st.lists(st.integers(1, 3), max_size=2), n=st.integers(0, 2), seed=st.integers(0, 99))
def test_tensordot_int_axes_property(a_shape, b_extra, n, seed):
    n = min(n, len(a_shape))
    b_shape = a_shape[len(a_shape) - n:] + b_extra
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    same(run(lambda p, q: pt.tensordot(p, q, axes=n), a, b), np.tensordot(a, b, axes=n))


def test_creation_helpers():
    n = pt.lscalar("n")
    np.testing.assert_array_equal(pt.arange(n).eval({n: 4}), np.arange(4))
    same(function([n], pt.zeros((n, 2), dtype="int32"), mode="FAST_COMPILE")(3), np.zeros((3, 2), "int32"))
    same(function([n], pt.eye(n), mode="FAST_COMPILE")(2), np.eye(2))
    assert pt.zeros(3).dtype == "float64" and pt.ones((2, 2), dtype="bool").dtype == "bool"
    assert pt.zeros(pt.tensor("s", dtype="int64", shape=(2,))).type.shape == (None, None)
    same(run(lambda x: pt.full_like(x, 7), I8), np.full_like(I8, 7))
    same(run(lambda x: pt.zeros_like(x, dtype="float32"), I8), np.zeros_like(I8, dtype="float32"))
    with pytest.raises(ValueError, match="step must not be zero"):
        pt.arange(0, 5, 0)
    assert pt.arange(10**13).type.shape == (10**13,)  # the static length is computed, not allocated
    for args in [(0, 7.3, 0.5), (2.5, -4, -0.7), (3, -4, -3), (-2, 5, 2), (5, 0)]:
        assert pt.arange(*args).type.shape == (len(np.arange(*args)),)
    with pytest.raises(TypeError, match="integer scalar"):
        pt.eye(2.5)
    with pytest.raises(ValueError, match="negative dimension"):
        pt.eye(-1)
    with pytest.raises(TypeError, match="integer scalar"):
        pt.zeros((2.0, 3))


def test_special_face():
    X = np.array([[1.0, 2.0, 3.0], [-1000.0, 0.0, 1000.0]])
    sm = run(lambda x: pt.special.softmax(x, axis=1), X)
    np.testing.assert_allclose(sm.sum(axis=1), 1.0)
    lsm = run(lambda x: pt.special.log_softmax(x, axis=-1), X)
    np.testing.assert_allclose(np.exp(lsm), sm, rtol=1e-12)
    assert np.isfinite(lsm[0]).all() and lsm[1, 2] == 0.0
    same(run(lambda x: pt.special.logsumexp(x, axis=1), X), np.array([3 + np.log(np.exp(-2) + np.exp(-1) + 1), 1000.0]))
    same(run(pt.special.expit, X), 1 / (1 + np.exp(-X)))
    with pytest.raises(ValueError, match="out of bounds"):
        pt.special.softmax(pt.dmatrix("m"), axis=2)


def test_unary_plus_take_method_and_complex_var():
    same(run(lambda x: +x, A), A)
    same(run(lambda x: x.take([2, 0], axis=1), A), A.take([2, 0], axis=1))
    Z = A[0] + 1j * B[0]
    same(run(lambda z: z.var(), Z), np.var(Z))
    same(run(lambda z: z.std(axis=0), Z), np.std(Z, axis=0))


def test_printing_of_indexing_ops():
    from eqtensor.printing import pprint

    x = pt.dmatrix("x")
    i = pt.lscalar("i")
    assert pprint(x[1:, ::-1]) == "x[1:, ::-1]"
    assert pprint(x[i, [0, 1]]) == "x[i, [0, 1]]"
    assert pprint(pt.set_subtensor(x[:i], 0.0)) == "set_subtensor(x[:i], 0.0)"


@given(shape=st.lists(st.integers(0, 4), max_size=3), dtype=st.sampled_from(["float64", "float32", "int16", "uint8", "bool"]),
       name=st.sampled_from(["sum", "prod", "max", "min", "mean", "var", "std", "all", "any"]),
       axes=st.lists(st.integers(-3, 2), max_size=3, unique=True), whole=st.booleans(), keepdims=st.booleans(),
       seed=st.integers(0, 99))
def test_reductions_property(shape, dtype, name, axes, whole, keepdims, seed):
    nd = len(shape)
    axes = [a for a in axes if -nd <= a < nd]
    if len({a % nd for a in axes}) != len(axes):
        return
    axis = None if whole else tuple(axes)
    data = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    reduced = range(nd) if axis is None else [a % nd for a in axis]
    if name in ("max", "min") and any(shape[a] == 0 for a in reduced):
        with pytest.raises(ValueError, match="no identity"):
            getattr(pt, name)(pt.tensor("x", dtype=dtype, shape=tuple(shape)), axis=axis)
        return
    with np.errstate(all="ignore"):
        expected = np.asarray(getattr(np, name)(data, axis=axis, keepdims=keepdims))
    x = pt.tensor("x", dtype=dtype, shape=(None,) * nd)
    out = getattr(pt, name)(x, axis=axis, keepdims=keepdims)
    res = function([x], out, mode="FAST_COMPILE")(data)
    assert res.dtype == expected.dtype and res.shape == expected.shape
    tol = 1e-4 if res.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(res, expected, rtol=tol, atol=tol, equal_nan=True)


EDGE = np.array([0.0, -0.0, 1.0, 1.0 + 1e-9, -1.0, 1e10, 1.00001e10, np.inf, -np.inf, np.nan, 1e-9, 2e-8])


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
@pytest.mark.parametrize("kw", [{}, {"equal_nan": True}, {"rtol": 0.0, "atol": 1e-8}, {"rtol": 0.1}])
def test_isclose_allclose(dtype, kw):
    a = EDGE.astype(dtype) if dtype.startswith("float") else np.arange(-3, 9, dtype=dtype)
    b = np.roll(EDGE, 3).astype("float64")
    for x, y in ((a, b), (b, a), (a, a), (a, np.float32(1.0))):
        y = np.asarray(y)
        with np.errstate(all="ignore"):
            same(run(lambda p, q: pt.isclose(p, q, **kw), x, y), np.isclose(x, y, **kw))
            same(run(lambda p, q: pt.allclose(p, q, **kw), x, y), np.asarray(np.allclose(x, y, **kw)))


@given(shape=st.lists(st.integers(0, 4), min_size=2, max_size=4), offset=st.integers(-5, 5),
       axes=st.lists(st.integers(-4, 3), min_size=2, max_size=2, unique=True), static=st.booleans())
def test_diagonal_property(shape, offset, axes, static):
    nd = len(shape)
    a1, a2 = (a for a in axes)
    if not (-nd <= a1 < nd and -nd <= a2 < nd) or a1 % nd == a2 % nd:
        return
    data = np.arange(int(np.prod(shape))).reshape(shape).astype("int16")
    x = pt.tensor("x", dtype="int16", shape=tuple(shape) if static else (None,) * nd)
    out = pt.diagonal(x, offset, a1, a2)
    res = function([x], out, mode="FAST_COMPILE")(data)
    expected = np.diagonal(data, offset, a1, a2)
    same(res, expected)
    if static:
        assert out.type.shape == expected.shape


@given(n=st.integers(0, 4), k=st.integers(-4, 4), dtype=st.sampled_from(["float64", "int8", "bool"]))
def test_diag_and_trace_property(n, k, dtype):
    v = (np.arange(n) % 3).astype(dtype)
    same(run(lambda t: pt.diag(t, k), v), np.diag(v, k))
    m = np.arange(n * (n + 1)).reshape(n, n + 1).astype(dtype)
    same(run(lambda t: pt.diag(t, k), m), np.diag(m, k))
    if dtype != "bool":
        same(run(lambda t: pt.trace(t, k), m), np.asarray(np.trace(m, k)))


@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), shift=st.integers(-9, 9),
       axis=st.one_of(st.none(), st.integers(-3, 2)), symbolic=st.booleans())
def test_roll_property(shape, shift, axis, symbolic):
    if axis is not None and not -len(shape) <= axis < len(shape):
        return
    data = np.arange(int(np.prod(shape))).reshape(shape)
    x = pt.tensor("x", dtype="int64", shape=tuple(shape))
    s = pt.lscalar("s")
    out = pt.roll(x, s if symbolic else shift, axis)
    res = function([x, s], out, mode="FAST_COMPILE", on_unused_input="ignore")(data, shift)
    with np.errstate(all="ignore"):
        same(res, np.roll(data, shift, axis))
    assert out.type.is_compatible(res.shape)


def test_formula_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        pt.diagonal(pt.dvector("v"))
    with pytest.raises(ValueError, match="must differ"):
        pt.diagonal(pt.dmatrix("m"), 0, 1, -1)
    with pytest.raises(ValueError, match="vector or a matrix"):
        pt.diag(pt.dtensor3("t"))
    with pytest.raises(TypeError, match="integer scalar"):
        pt.roll(pt.dvector("v"), pt.dscalar("s"))
