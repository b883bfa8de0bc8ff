"""Fixes from the QA pass against PyTensor 3.0.7 (helper-briefs/QA_REPORT.md): subgradients at
ties, clone_replace of specify_shape, attributes and functions PyTensor code uses, polygamma's
order, log(mean(exp(x))), solve(assume_a="tridiagonal"/"banded"). Values against NumPy/SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.special import logsumexp, polygamma, softmax

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.compile import SharedVariable
from eqtensor.compile.sharedvalue import SharedVariable as SharedVariableAtPyTensorsPath, shared
from eqtensor.core.traversal import toposort
from eqtensor.graph.basic import SharedVariable as SharedVariableOfGraph
from eqtensor.graph.replace import clone_replace
from eqtensor.rules import autodiff
from eqtensor.tensor import extra_ops


def _fd(f, v, eps=1e-6):
    """Central finite differences of the scalar function ``f`` at ``v``."""
    out = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        d = np.zeros_like(v)
        d[i] = eps
        out[i] = (f(v + d) - f(v - d)) / (2 * eps)
    return out


# ----------------------------------------------------------------------------- ties (docs/derivatives.md)
@pytest.mark.parametrize("grad", [et.grad, autodiff.grad], ids=["stable", "as_written"])
def test_maximum_of_a_variable_with_itself_has_derivative_one(grad):
    x = pt.dvector("x")
    for op in (pt.maximum, pt.minimum):
        g = et.function([x], grad(op(x, x).sum(), x), mode="NUMPY")(np.array([1.0, 2.0]))
        np.testing.assert_array_equal(g, [1.0, 1.0])


def test_ties_split_the_cotangent_and_do_not_depend_on_the_order():
    x = pt.dvector("x")
    v = np.array([1.0, 2.0, 0.0])
    for y in (pt.maximum(x, 2 * x - 1), pt.maximum(2 * x - 1, x)):
        g = et.function([x], autodiff.grad(y.sum(), x), mode="NUMPY")(v)
        # at 1 (a tie) the mean of the one-sided derivatives 1 and 2; elsewhere the derivative
        np.testing.assert_array_equal(g, [1.5, 2.0, 1.0])
    y = pt.minimum(x, 2 * x - 1).sum()
    np.testing.assert_array_equal(et.function([x], et.grad(y, x), mode="C")(v), [1.5, 1.0, 2.0])
    # away from ties: finite differences
    w = np.array([0.3, 2.5, -1.0])
    g = et.function([x], et.grad(y, x), mode="NUMPY")(w)
    np.testing.assert_allclose(g, _fd(lambda u: np.minimum(u, 2 * u - 1).sum(), w), rtol=1e-7)


def test_max_and_min_reductions_share_the_cotangent_among_ties():
    x, m = pt.dvector("x"), pt.dmatrix("m")
    for mode in ("NUMPY", "C"):
        g = et.function([x], et.grad(pt.max(pt.stack([x, x])), x), mode=mode)(np.array([1.0, 2.0]))
        np.testing.assert_array_equal(g, [0.0, 1.0])  # max(stack([x, x])) is max(x): derivative 1
        g = et.function([x], et.grad(pt.min(x), x), mode=mode)(np.array([2.0, 1.0, 1.0, 1.0]))
        np.testing.assert_allclose(g, [0.0, 1 / 3, 1 / 3, 1 / 3], rtol=1e-15)
        g = et.function([m], et.grad(pt.max(m, axis=1).sum(), m), mode=mode)(np.array([[1.0, 1, 0], [3, 2, 1]]))
        np.testing.assert_array_equal(g, [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
        g = et.function([x], et.grad(pt.max(x), x), mode=mode)(np.array([1.0, np.nan]))
        np.testing.assert_array_equal(g, [0.0, 0.0])  # a nan maximum: no element receives it
    f = pt.fvector("f")
    assert et.grad(pt.max(f), f).dtype == "float32" and et.grad(pt.maximum(f, 0).sum(), f).dtype == "float32"


def test_clip_gives_the_cotangent_to_exactly_one_input():
    x, lo = pt.dvector("x"), pt.dscalar("lo")
    y = pt.clip(x, lo, 2.0).sum()
    gx, glo = et.function([x, lo], et.grad(y, [x, lo]), mode="NUMPY")(np.array([1.0, 2.0, 3.0, 0.5]), 1.0)
    np.testing.assert_array_equal(gx, [1.0, 1.0, 0.0, 0.0])
    assert float(glo) == 1.0  # only the element below lo
    g = et.function([x], et.grad(pt.clip(x, x, x).sum(), x), mode="NUMPY")(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(g, [1.0, 1.0])


# ----------------------------------------------------------------------------- clone_replace of specify_shape
def test_clone_replace_recomputes_the_static_shape_of_specify_shape():
    x = pt.as_tensor_variable(50)
    i = pt.dmatrix("i")
    y = pt.specify_shape(i, (None, x))
    assert y.type.shape == (None, 50)
    y_new = clone_replace(y, {x: pt.as_tensor_variable(100)}, rebuild_strict=False)
    assert y_new.type.shape == (None, 100)
    assert tuple(y_new.shape.eval({i: np.zeros((4, 100))})) == (4, 100)
    assert y_new.eval({i: np.zeros((4, 100))}).shape == (4, 100)
    with pytest.raises(AssertionError, match="expected"):
        et.function([i], y_new * 2, mode="C")(np.zeros((4, 50)))
    # a known entry equal to the static length adds no node; a symbolic one is checked
    assert pt.specify_shape(pt.tensor("q", shape=(None, 3)), (None, pt.as_tensor_variable(3))).owner is None
    n = pt.lscalar("n")
    assert pt.specify_shape(i, (None, n)).owner is not None


# ----------------------------------------------------------------------------- attributes and signatures
def test_types_variables_and_shared_have_pytensors_attributes():
    t = pt.dvector("x").type
    assert t.numpy_dtype == np.dtype("float64") and isinstance(t.numpy_dtype, np.dtype)
    assert t.is_super(pt.tensor(shape=(3,), dtype="float64").type)
    assert not pt.tensor(shape=(3,), dtype="float64").type.is_super(t)
    assert not t.is_super(pt.fvector().type)
    c = pt.constant(np.array([1.0, 2.0]))
    assert c.value is c.data
    w = et.shared(np.arange(3.0))
    np.testing.assert_array_equal(w.get_value(return_internal_type=True), np.arange(3.0))
    assert SharedVariable is SharedVariableAtPyTensorsPath is SharedVariableOfGraph
    assert isinstance(shared(1.0), SharedVariable)
    rng = pt.random.shared_rng(np.random.default_rng(1))
    assert isinstance(rng.get_value(borrow=True, return_internal_type=True), np.random.Generator)


def test_function_accepts_accept_inplace_and_leaves_arguments_alone():
    x = pt.dvector("x")
    v = np.ones(3)
    f = et.function([x], 2 * x, accept_inplace=True)
    np.testing.assert_array_equal(f(v), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(v, [1.0, 1.0, 1.0])


def test_var_and_std_take_pytensors_argument_order_and_corrected():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4, 5)) + 1e8  # the mean's rounding error is what `corrected` removes
    t = pt.dtensor3("t")
    np.testing.assert_allclose(pt.var(t, 2, 1).eval({t: a}), np.var(a, axis=2, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(pt.var(t, axis=2, ddof=1, corrected=True).eval({t: a}), np.var(a, axis=2, ddof=1),
                               rtol=1e-6)
    np.testing.assert_allclose(pt.std(t, None, 0, True, True).eval({t: a}), np.std(a, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(t.var(axis=1, corrected=True).eval({t: a}), np.var(a, axis=1), rtol=1e-6)


# ----------------------------------------------------------------------------- new functions
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(3,), (3, 4), (3, 4, 5)])
def test_unravel_index_and_ravel_multi_index_match_numpy(shape, order):
    flat = np.arange(np.prod(shape))
    for ind in (flat, flat[-1], flat[:, None]):
        ref = np.unravel_index(ind, shape, order=order)
        for dims in (shape, np.array(shape), et.shared(np.array(shape), shape=(len(shape),)),
                     et.shared(np.zeros(shape)).shape):
            got = et.function([], list(pt.unravel_index(et.shared(ind), dims, order=order)), mode="NUMPY")()
            np.testing.assert_equal(got, ref)
    for mode in ("raise", "wrap", "clip"):
        mi = np.unravel_index(flat, shape, order=order)
        if mode != "raise":
            mi = (mi[0] - 1, *mi[1:])
        got = pt.ravel_multi_index([et.shared(i) for i in mi], et.shared(np.array(shape)), mode, order).eval()
        np.testing.assert_equal(got, np.ravel_multi_index(mi, shape, mode=mode, order=order))


def test_flat_index_errors():
    with pytest.raises(ValueError, match="must be known"):
        pt.unravel_index(pt.ivector(), pt.ivector())
    with pytest.raises(TypeError):
        pt.unravel_index(pt.fvector(), (3, 4))
    with pytest.raises(TypeError):
        pt.unravel_index((3, 4), (3.4, 3.2))
    with pytest.raises(TypeError):
        pt.unravel_index((3, 4), 3)
    for bad in (12, -1):  # out of range for (3, 4): numpy raises too
        with pytest.raises(IndexError, match="out of bounds"):
            pt.unravel_index(np.array([bad]), (3, 4))[0].eval()
    for bad in ([3], [-1]):
        with pytest.raises(IndexError, match="out of bounds"):
            pt.ravel_multi_index((bad, [0]), (3, 4)).eval()
    with pytest.raises(ValueError, match="mode"):
        pt.ravel_multi_index(([1], [0]), (3, 4), mode="nope")


def test_broadcast_shape():
    x, y = np.array([[1], [2], [3]]), np.array([4, 5, 6])
    b = pt.broadcast_shape(pt.as_tensor_variable(x), pt.as_tensor_variable(y))
    assert [int(z.eval()) for z in b] == list(np.broadcast(x, y).shape)
    b = pt.broadcast_shape(np.empty((1, 2, 3)), np.array(1))
    assert [int(v.value) for v in b] == [1, 2, 3]
    a, c = pt.iscalar("a"), pt.iscalar("c")
    assert [int(v.value) for v in pt.broadcast_shape((a, 2), (3, c), arrays_are_shapes=True)] == [3, 2]
    assert [int(v.value) for v in pt.broadcast_shape((1,), (1, 1), arrays_are_shapes=True)] == [1, 1]
    m, v = pt.dmatrix("m"), pt.dvector("v")
    f = et.function([m, v], list(pt.broadcast_shape(m, v)), mode="NUMPY")
    assert [int(d) for d in f(np.ones((2, 5)), np.ones(5))] == [2, 5]
    with pytest.raises(ValueError, match="cannot be broadcast"):
        pt.broadcast_shape((2, 3), (4, 3), arrays_are_shapes=True)
    assert extra_ops.broadcast_shape is pt.broadcast_shape and extra_ops.unravel_index is pt.unravel_index


def test_get_scalar_constant_value():
    g, err = pt.get_underlying_scalar_constant_value, pt.NotScalarConstantError
    with pytest.raises(err):
        g(pt.lscalar())
    assert g(pt.as_tensor(10)) == 10 and isinstance(g(np.array(10)), np.ndarray)
    b = pt.iscalar()
    a = pt.stack([b, 2, 3])
    with pytest.raises(err):
        g(a[0])
    assert g(a[1]) == 2 and g(a[2]) == 3
    with pytest.raises(err):
        g(pt.stack([pt.ivector(), [2], [3]])[1])
    assert g(pt.row().shape[0]) == 1 and g(pt.as_tensor([10, 20]).shape[0]) == 2
    assert g(9 + pt.as_tensor([1.0]).shape[0]) == 10
    c = pt.constant(np.random.default_rng(0).random((3, 3)))
    assert all(g(c[i, j]) == c.value[i, j] for i in range(3) for j in range(3))
    with pytest.raises(err):
        g(np.array([0, 1]))
    with pytest.raises(err):
        g(np.array([]))
    k = pt.constant(0.3)
    assert g(k + 1) == 1.3 and g(k < 0.5) and g(pt.second(k, 0.4)) == 0.4 and g(pt.second(pt.dvector(), k)) == 0.3
    with pytest.raises(err):
        g(k + 1, elemwise=False)
    assert pt.get_scalar_constant_value(pt.constant(2.5) * 2) == 5.0
    with pytest.raises(err):
        pt.get_scalar_constant_value(pt.as_tensor([1, 1]))
    v = pt.dscalar()
    assert pt.get_scalar_constant_value(v, raise_not_constant=False) is v


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((4,), (4, 3)), ((4, 2, 3), (4,)), ((4, 3), (4, 3)),
                                   ((4, 2, 3), (4, 3)), ((4, 3), (4, 3, 5)), ((4, 2, 3), (4, 3, 5))])
def test_batched_dot_is_dot_per_batch(sa, sb):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    with pytest.warns(FutureWarning, match="deprecated"):
        out = pt.batched_dot(a, b)
    np.testing.assert_allclose(out.eval(), np.stack([np.dot(a[i], b[i]) for i in range(4)]), rtol=1e-12)


def test_slice_at_axis_indexes_like_numpy():
    x = np.arange(24.0).reshape(2, 3, 4)
    for axis in (0, 1, 2, -1, -2):
        idx = pt.slice_at_axis(slice(None, 2), axis)
        np.testing.assert_array_equal(pt.as_tensor_variable(x)[idx].eval(), x[idx])


def test_polygamma_order_may_be_symbolic_but_not_fractional():
    x, n = pt.dvector("x"), pt.lscalar("n")
    f = et.function([n, x], pt.polygamma(n, x))
    v = np.array([0.5, 2.0, 7.5])
    for k in (0, 1, 3):
        np.testing.assert_allclose(f(k, v), polygamma(k, v), rtol=1e-12)
    with pytest.raises(TypeError):
        pt.polygamma(1.5, x)
    with pytest.raises(ValueError, match="non-negative"):
        pt.polygamma(-1, x)
    v = np.array([0.5, 2.0])
    np.testing.assert_allclose(pt.polygamma(pt.constant(2), x).eval({x: v}), polygamma(2, v), rtol=1e-14)
    np.testing.assert_allclose(pt.polygamma(np.int32(1), x).eval({x: v}), polygamma(1, v), rtol=1e-14)


# ----------------------------------------------------------------------------- log(mean(exp(x)))
@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_log_mean_exp_of_static_length_is_stable(mode):
    """The count is a constant here (rule log_mean_exp); the corpus covers run-time lengths."""
    x = pt.vector("x", shape=(3,), dtype="float64")
    y = pt.log(pt.mean(pt.exp(x)))
    f = et.function([x], [y, et.grad(y, x)], mode=mode)
    assert "logsumexp" in {n.op.name for o in f.maker.fgraph.outputs for n in toposort([o])}
    v = np.array([800.0, 801.0, -1000.0])
    val, g = f(v)
    np.testing.assert_allclose(val, logsumexp(v) - np.log(3), rtol=1e-14)
    np.testing.assert_allclose(g, softmax(v), rtol=1e-12)


# ----------------------------------------------------------------------------- solve with structure
def test_solve_tridiagonal_reads_three_diagonals_and_banded_is_general():
    a_ = np.array([[4.0, 1, 7, 2], [2, 5, 1, 3], [9, 3, 6, 1], [1, 8, 2, 5]])
    b_ = np.array([1.0, 2, 3, 4])
    A, b = pt.dmatrix("A"), pt.dvector("b")
    for kind in ("tridiagonal", "banded"):
        for transposed in (False, True):
            x = pt.linalg.solve(A, b, assume_a=kind, transposed=transposed)
            ref = scipy.linalg.solve(a_.T if transposed else a_, b_, assume_a=kind)
            np.testing.assert_allclose(et.function([A, b], x, mode="NUMPY")(a_, b_), ref, rtol=1e-12)
        g = et.function([A, b], et.grad(pt.linalg.solve(A, b, assume_a=kind).sum(), A), mode="NUMPY")(a_, b_)
        fd = _fd(lambda m: scipy.linalg.solve(m, b_, assume_a=kind).sum(), a_)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)  # zero off the band for tridiagonal
    with pytest.raises(ValueError, match="invalid assume_a"):
        pt.linalg.solve(A, b, assume_a="nope")
