"""``eqtensor.ifelse.ifelse``: results against NumPy, laziness (evaluations counted, branches that
would raise are not run) in the interpreter and both backends, shapes, dtypes, nesting, gradients,
type rules and errors."""

import contextlib
import functools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from eqtensor import function, tensor as pt
from eqtensor.compile.mode import Mode
from eqtensor.core.evaluate import evaluate
from eqtensor.core.op import OPS
from eqtensor.gradient import grad
from eqtensor.ifelse import ifelse

MODES = ["FAST_COMPILE", "NUMPY", "C", Mode(optimize=False, backend="c", name="C_UNOPTIMIZED")]


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
    c, v = pt.bscalar("c"), pt.fscalar("v")
    out = ifelse(c, v, 0.5)
    assert out.dtype == "float32" and out.ndim == 0
    f = function([c, v], out)
    assert f(0, 3.0) == np.float32(0.5) and f(0, 3.0).dtype == "float32"
    assert f(1, 3.0) == np.float32(3.0)
    k = pt.bscalar("k")
    assert ifelse(c, 2, k).dtype == "int8"
    assert ifelse(c, 1, 2.5).dtype == "float64"
    with pytest.raises(TypeError, match="same dtype and number of dimensions"):
        ifelse(c, pt.fvector("w"), 0.5)  # as PyTensor: a scalar does not broadcast to the other branch


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
    assert ifelse(c, b, x).type.shape == (None,)  # branches of different static shapes are fine
    s3 = pt.tensor("s3", dtype="float64", shape=(3,))
    assert ifelse(c, s3, s3 * 2).type.shape == (3,)
    with pytest.raises(TypeError, match="real or bool"):
        ifelse(pt.zscalar("z"), x, x)


# --------------------------------------------------------------------------- laziness
@contextlib.contextmanager
def counting(opname):
    """Count the calls of op ``opname``'s NumPy implementation (which every backend calls for it)."""
    defn = OPS[opname]
    perform, calls = defn.perform, []

    def counted(*args, **kw):
        calls.append(1)
        return perform(*args, **kw)

    object.__setattr__(defn, "perform", counted)
    try:
        yield calls
    finally:
        object.__setattr__(defn, "perform", perform)


def _inv_graph():
    c, m = pt.bscalar("c"), pt.dmatrix("m")
    then = pt.linalg.inv(m).sum() * 2  # only the then branch inverts
    other = m.sum()
    return c, m, ifelse(pt.neq(c, 0), then, other) + 1


@pytest.mark.parametrize("mode", MODES)
def test_only_the_taken_branch_runs(mode):
    mv = np.array([[2.0, 1.0], [1.0, 3.0]])
    with counting("matrix_inverse") as calls:
        c, m, out = _inv_graph()
        f = function([c, m], out, mode=mode)
        assert f(0, mv) == pytest.approx(mv.sum() + 1)
        assert len(calls) == 0
        assert f(1, mv) == pytest.approx(np.linalg.inv(mv).sum() * 2 + 1)
        assert len(calls) == 1
        f(0, mv)
        assert len(calls) == 1


def test_reference_interpreter_is_lazy():
    mv = np.eye(2)
    with counting("matrix_inverse") as calls:
        c, m, out = _inv_graph()
        assert evaluate([out], {c: np.int8(0), m: mv})[0] == pytest.approx(3.0)
        assert len(calls) == 0
        assert evaluate([out], {c: np.int8(1), m: mv})[0] == pytest.approx(5.0)
        assert len(calls) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_branch_that_would_raise_is_not_run(mode):
    c, x = pt.bscalar("c"), pt.dvector("x")
    bad = pt.reshape(x, (7,)) * 2  # fails at run time unless x has 7 elements
    f = function([c, x], ifelse(pt.neq(c, 0), bad, pt.exp(x)), mode=mode)
    v = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(f(0, v), np.exp(v))
    with pytest.raises(ValueError):
        f(1, v)
    np.testing.assert_allclose(f(1, np.arange(7.0)), np.arange(7.0) * 2)


@pytest.mark.parametrize("mode", MODES)
def test_a_value_used_by_both_branches_and_after_is_computed_once(mode):
    mv = np.array([[2.0, 1.0], [1.0, 3.0]])
    with counting("matrix_inverse") as calls:
        c, m = pt.bscalar("c"), pt.dmatrix("m")
        inv = pt.linalg.inv(m)
        out = ifelse(pt.neq(c, 0), inv * 2, inv + 1)
        f = function([c, m], [out, inv.sum()], mode=mode)
        a, s = f(1, mv)
        np.testing.assert_allclose(a, np.linalg.inv(mv) * 2)
        assert s == pytest.approx(np.linalg.inv(mv).sum())
        assert len(calls) == 1


@pytest.mark.parametrize("mode", MODES)
def test_branches_of_different_shapes(mode):
    c, x = pt.dscalar("c"), pt.dmatrix("x")
    out = ifelse(pt.gt(c, 0), x[:1].T @ x[:1], x[:, ::2])
    f = function([c, x], out, mode=mode)
    v = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(f(1.0, v), v[:1].T @ v[:1])
    np.testing.assert_allclose(f(-1.0, v), v[:, ::2])


@pytest.mark.parametrize("mode", MODES)
def test_tuples_of_mixed_dtypes_share_one_condition(mode):
    c, x, k = pt.bscalar("c"), pt.fvector("x"), pt.ivector("k")
    shared_work = pt.exp(x)
    outs = ifelse(pt.neq(c, 0), [shared_work.sum(), k * 2, pt.lt(x, 1.0)], [x.max(), k[:1], pt.gt(x, 1.0)])
    assert [o.dtype for o in outs] == ["float32", "int32", "bool"]
    f = function([c, x, k], outs, mode=mode)
    xv, kv = np.array([0.5, 2.0], dtype="float32"), np.array([1, 2, 3], dtype="int32")
    s, kk, b = f(1, xv, kv)
    assert s.dtype == np.float32 and s == pytest.approx(np.exp(xv).sum(), rel=1e-6)
    np.testing.assert_array_equal(kk, kv * 2)
    np.testing.assert_array_equal(b, xv < 1.0)
    s, kk, b = f(0, xv, kv)
    assert s == np.float32(2.0)
    np.testing.assert_array_equal(kk, kv[:1])
    np.testing.assert_array_equal(b, xv > 1.0)


@pytest.mark.parametrize("mode", MODES)
def test_nested_ifelse(mode):
    a, b, x = pt.dscalar("a"), pt.dscalar("b"), pt.dvector("x")
    inner = ifelse(pt.gt(b, 0), pt.sin(x), pt.cos(x)[:2])
    out = ifelse(pt.gt(a, 0), inner * 2, ifelse(pt.gt(b, 0), x[::-1], x + 1))
    f = function([a, b, x], out, mode=mode)
    v = np.array([0.1, 0.2, 0.3])
    for av, bv in [(1, 1), (1, -1), (-1, 1), (-1, -1)]:
        inner_v = np.sin(v) if bv > 0 else np.cos(v)[:2]
        want = inner_v * 2 if av > 0 else (v[::-1] if bv > 0 else v + 1)
        np.testing.assert_allclose(f(av, bv, v), want)


@pytest.mark.parametrize("mode", MODES)
def test_same_condition_twice_in_a_chain(mode):
    c, x = pt.bscalar("c"), pt.dvector("x")
    cond = pt.neq(c, 0)
    first = ifelse(cond, x * 2, x - 1)
    second = ifelse(cond, first * 3, first[:1])  # depends on an ifelse of the same condition
    f = function([c, x], [first, second], mode=mode)
    v = np.array([1.0, 2.0])
    a, b = f(1, v)
    np.testing.assert_allclose(a, v * 2)
    np.testing.assert_allclose(b, v * 6)
    a, b = f(0, v)
    np.testing.assert_allclose(b, (v - 1)[:1])


@pytest.mark.parametrize("mode", MODES)
def test_outputs_do_not_alias_inputs(mode):
    c, x, y = pt.bscalar("c"), pt.dvector("x"), pt.dvector("y")
    f = function([c, x, y], [ifelse(pt.neq(c, 0), x, y), ifelse(pt.neq(c, 0), x, y) + 1], mode=mode)
    xv, yv = np.array([1.0, 2.0]), np.array([3.0])
    out, plus = f(1, xv, yv)
    out[0] = 100.0
    assert xv[0] == 1.0
    np.testing.assert_allclose(plus, [2.0, 3.0])


# --------------------------------------------------------------------------- gradients
def _fd(fn, v, eps=1e-6):
    g = np.zeros_like(v)
    for i in range(v.size):
        e = np.zeros_like(v)
        e.flat[i] = eps
        g.flat[i] = (fn(v + e) - fn(v - e)) / (2 * eps)
    return g


@pytest.mark.parametrize("mode", ["NUMPY", None])
def test_gradient_with_branches_of_different_shapes(mode):
    c, x = pt.dscalar("c"), pt.dvector("x")
    out = ifelse(pt.gt(c, 0), pt.tanh(x[:2]) * x[1:3], pt.exp(x) / 3)
    cost = (out ** 2).sum()
    f = function([c, x], grad(cost, x), mode=mode)
    v = np.array([0.3, -0.7, 1.1])
    for cv, fn in [(1.0, lambda a: ((np.tanh(a[:2]) * a[1:3]) ** 2).sum()),
                   (-1.0, lambda a: ((np.exp(a) / 3) ** 2).sum())]:
        np.testing.assert_allclose(f(cv, v), _fd(fn, v), rtol=1e-6, atol=1e-9)


def test_gradient_of_tuple_and_nested_ifelse():
    a, b, x, y = pt.dscalar("a"), pt.dscalar("b"), pt.dvector("x"), pt.dscalar("y")
    p, q = ifelse(pt.gt(a, 0), [x * y, y ** 2], [ifelse(pt.gt(b, 0), pt.sin(x), x[:1] * 3), pt.exp(y)])
    cost = p.sum() * q
    gx, gy = grad(cost, [x, y])
    f = function([a, b, x, y], [gx, gy])
    v, w = np.array([0.4, -1.2]), 0.7

    def ref(av, bv, xv, yv):
        if av > 0:
            return (xv * yv).sum() * yv ** 2
        return (np.sin(xv) if bv > 0 else xv[:1] * 3).sum() * np.exp(yv)

    for av, bv in [(1, 1), (-1, 1), (-1, -1)]:
        got_x, got_y = f(av, bv, v, w)
        np.testing.assert_allclose(got_x, _fd(lambda t: ref(av, bv, t, w), v), rtol=1e-6, atol=1e-9)
        assert got_y == pytest.approx(_fd(lambda t: ref(av, bv, v, t[0]), np.array([w]))[0], rel=1e-6)
