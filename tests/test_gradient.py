"""The reverse-mode driver: grad's options and errors, jacobian, hessian, Lop, Rop, gradient markers."""

import warnings

import numpy as np
import pytest

import eqtensor as et
from eqtensor import function, tensor as pt
from eqtensor.core.errors import DisconnectedInputError
from eqtensor.core.traversal import toposort
from eqtensor.gradient import (
    DisconnectedType, GradientError, Lop, NullTypeGradError, Rop, disconnected_grad, grad, grad_clip,
    grad_scale, hessian, jacobian, undefined_grad, verify_grad, zero_grad,
)
from eqtensor.rules.vjp import NullGrad


def ev(v, inputs):
    return function(list(inputs), v, mode="FAST_COMPILE", on_unused_input="ignore")(*inputs.values())


def fd_jacobian(f, x, eps=1e-6):
    """Central finite-difference jacobian of the NumPy function f at x: shape f(x).shape + x.shape."""
    y0 = np.asarray(f(x))
    J = np.zeros(y0.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        J[(...,) + idx] = (np.asarray(f(xp)) - np.asarray(f(xm))) / (2 * eps)
    return J


# --------------------------------------------------------------------------- structure and sums
def test_result_structure_follows_wrt():
    x, y = pt.dscalar("x"), pt.dscalar("y")
    cost = x * y
    assert isinstance(grad(cost, x), pt.TensorVariable)
    assert isinstance(grad(cost, [x, y]), list)
    assert isinstance(grad(cost, (x, y)), tuple)


def test_cotangents_of_reused_variables_are_summed():
    x = pt.dvector("x")
    cost = (x * x + pt.sin(x) + x).sum()
    v = np.array([0.3, -1.2])
    np.testing.assert_allclose(ev(grad(cost, x), {x: v}), 2 * v + np.cos(v) + 1)


def test_grad_of_shared_variable_and_intermediate():
    w = et.shared(np.array([1.0, 2.0]), name="w")
    x = pt.dvector("x")
    h = x * w
    cost = pt.exp(h).sum()
    gw, gh = grad(cost, [w, h])
    v = np.array([0.5, -0.5])
    np.testing.assert_allclose(ev(gw, {x: v}), v * np.exp(v * [1.0, 2.0]))
    np.testing.assert_allclose(ev(gh, {x: v}), np.exp(v * [1.0, 2.0]))


def test_grad_wrt_cost_is_one_and_names_are_added():
    x = pt.dscalar("x")
    c = (x * 3.0)
    c.name = "c"
    assert float(ev(grad(c, c), {x: 2.0})) == 1.0  # the seed keeps the cost's inputs (PyTensor's second)
    d = pt.sin(x)
    d.name = "d"
    assert grad(d, x).name == "(dd/dx)"
    assert grad(d, x, add_names=False).name is None
    three = c.owner.inputs[1]
    g = grad(c, x)
    assert float(ev(g, {x: 2.0})) == 3.0 and g.dtype == "float64" and not getattr(g, "weak", False)
    assert three.name is None  # a variable of the user's graph is never renamed


def test_second_derivative_by_differentiating_the_gradient():
    x = pt.dscalar("x")
    g = grad(x ** 3 + pt.sin(x), x)
    g2 = grad(g, x)
    g3 = grad(g2, x)
    assert float(ev(g2, {x: 0.7})) == pytest.approx(6 * 0.7 - np.sin(0.7))
    assert float(ev(g3, {x: 0.7})) == pytest.approx(6 - np.cos(0.7))


def chain(x, n):
    y = x
    for _ in range(n):
        y = pt.sin(y) * 0.5 + y
    return y


def test_deep_graph_needs_no_recursion():
    x = pt.dscalar("x")
    g = grad(chain(x, 5000), x)  # deeper than Python's recursion limit
    assert len(toposort([g])) < 12 * 5000  # linear in the depth
    g = grad(chain(x, 200), x)
    val, d = 0.3, 1.0
    for _ in range(200):
        d *= 0.5 * np.cos(val) + 1
        val = np.sin(val) * 0.5 + val
    assert float(ev(g, {x: 0.3})) == pytest.approx(d, rel=1e-9)


def test_no_useless_nodes_for_simple_graphs():
    x = pt.dvector("x")
    g = grad(pt.exp(x).sum(), x)
    names = [n.op.name for n in toposort([g])]
    assert names.count("exp") == 1 and "mul" in names  # exp(x) of the forward pass is reused
    assert "add" not in names  # a single use adds nothing
    shapes = [n for n in toposort([g]) if n.op.name == "shape_i"]
    assert shapes and all(n.inputs[0] is x for n in shapes)  # lengths come from x, not from exp(x)


# --------------------------------------------------------------------------- options
def test_consider_constant_stops_the_gradient():
    x = pt.dvector("x")
    y = x ** 2
    cost = (y * x).sum()
    v = np.array([1.5, -2.0])
    np.testing.assert_allclose(ev(grad(cost, x, consider_constant=[y]), {x: v}), v ** 2)
    np.testing.assert_allclose(ev(grad(cost, x), {x: v}), 3 * v ** 2)


def test_known_grads_seed_the_backward_pass():
    x = pt.dvector("x")
    y = pt.exp(x)
    gy = pt.dvector("gy")
    g = grad(None, x, known_grads={y: gy})
    v, w = np.array([0.1, 0.2]), np.array([3.0, -1.0])
    np.testing.assert_allclose(ev(g, {x: v, gy: w}), w * np.exp(v))
    g2 = grad(y.sum(), x, known_grads={y: gy})  # added to the cost's cotangent
    np.testing.assert_allclose(ev(g2, {x: v, gy: w}), (w + 1) * np.exp(v))


def test_disconnected_inputs_raise_warn_ignore():
    x, z = pt.dvector("x"), pt.dvector("z")
    cost = x.sum()
    with pytest.raises(DisconnectedInputError, match=r"wrt\[1\] \(z\)"):
        grad(cost, [x, z])
    with pytest.warns(UserWarning, match="does not depend"):
        gz = grad(cost, z, disconnected_inputs="warn")
    np.testing.assert_array_equal(ev(gz, {z: np.ones(3)}), np.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert grad(cost, z, disconnected_inputs="ignore", return_disconnected="none") is None
    assert isinstance(grad(cost, z, disconnected_inputs="ignore", return_disconnected="disconnected"),
                      DisconnectedType)


def test_shape_use_is_disconnected_but_piecewise_constant_is_not():
    x = pt.dvector("x")
    with pytest.raises(DisconnectedInputError):
        grad(pt.cast(x.shape[0], "float64"), x)
    g = grad(pt.floor(x).sum(), x)
    np.testing.assert_array_equal(ev(g, {x: np.array([0.5, 1.5])}), [0.0, 0.0])


def test_integer_wrt_gets_pytensors_real_valued_gradient():
    """As PyTensor: the gradient flows into an integer wrt from float-valued ops (here a cast), and
    not through integer-valued ops (i ** 2 is an integer: zero)."""
    i = pt.ivector("i")
    x = pt.dvector("x")
    gi = grad((pt.cast(i, "float64") * x).sum(), i)
    assert gi.dtype == "float64"
    np.testing.assert_array_equal(ev(gi, {i: np.array([1, 2], "int32"), x: np.array([3.0, 4.0])}), [3.0, 4.0])
    gz = grad((i ** 2).sum(), i, disconnected_inputs="ignore")
    np.testing.assert_array_equal(ev(gz, {i: np.array([1, 2], "int32")}), [0.0, 0.0])


def test_broadcast_inputs_get_summed_cotangents():
    r = pt.row("r", dtype="float64")
    m = pt.dmatrix("m")
    g = grad((r * m).sum(), r)
    assert g.type.shape[0] == 1
    mv = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(ev(g, {r: np.ones((1, 2)), m: mv}), mv.sum(0, keepdims=True))


# --------------------------------------------------------------------------- errors
def test_errors_are_clear():
    x = pt.dvector("x")
    with pytest.raises(TypeError, match="cost must be a scalar"):
        grad(x, x)
    with pytest.raises(TypeError, match="wrt must be a symbolic variable"):
        grad(x.sum(), np.ones(2))
    with pytest.raises(ValueError, match="disconnected_inputs must be one of"):
        grad(x.sum(), x, disconnected_inputs="sometimes")
    with pytest.raises(ValueError, match="give a cost or known_grads"):
        grad(None, x)
    with pytest.raises(ValueError, match="has 2 dimensions, expected 1"):
        grad(None, x, known_grads={x: pt.dmatrix()})
    with pytest.raises(ValueError, match="lower_bound"):
        grad_clip(x, 1.0, -1.0)


def test_undefined_gradients_raise_or_are_returned():
    x = pt.dscalar("x")
    cost = undefined_grad(x) * 2 + x
    with pytest.raises(NullTypeGradError, match="undefined_grad"):
        grad(cost, x)
    assert isinstance(grad(cost, x, null_gradients="return"), NullGrad)


# --------------------------------------------------------------------------- markers
def test_gradient_markers():
    x = pt.dscalar("x")
    f = function([x], [zero_grad(x) * 2, disconnected_grad(x) + 1, grad_clip(x, -1, 1), grad_scale(x, 3.0)],
                 mode="FAST_COMPILE")
    assert [float(v) for v in f(2.0)] == [4.0, 3.0, 2.0, 2.0]  # identities in the forward graph
    assert float(ev(grad(zero_grad(x) * x, x), {x: 2.0})) == 2.0
    assert float(ev(grad(disconnected_grad(x) * x, x), {x: 2.0})) == 2.0
    with pytest.raises(DisconnectedInputError):
        grad(disconnected_grad(x) * 2, x)
    assert float(ev(grad(zero_grad(x) * 2, x), {x: 2.0})) == 0.0  # connected, zero
    assert float(ev(grad(grad_clip(x, -1.0, 1.0) ** 2, x), {x: 3.0})) == 1.0
    assert float(ev(grad(grad_clip(x, -1.0, 1.0) ** 2, x), {x: 0.25})) == 0.5
    assert float(ev(grad(grad_scale(x ** 2, 0.1), x), {x: 2.0})) == pytest.approx(0.4)


# --------------------------------------------------------------------------- jacobian / hessian
def test_jacobian_of_vector_function_matches_finite_differences():
    x = pt.vector("x", shape=(3,), dtype="float64")
    A = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 2.0]])
    y = pt.tanh(pt.dot(A, x)) * pt.sum(x ** 2)
    J = jacobian(y, x)
    assert J.type.shape == (2, 3)
    v = np.array([0.2, -0.4, 0.9])
    np.testing.assert_allclose(ev(J, {x: v}), fd_jacobian(lambda a: np.tanh(A @ a) * np.sum(a ** 2), v),
                               rtol=1e-6, atol=1e-8)


def test_jacobian_of_matrix_expression_and_several_wrt():
    x = pt.vector("x", shape=(2,), dtype="float64")
    w = pt.matrix("w", shape=(2, 2), dtype="float64")
    y = pt.exp(w * x)  # (2, 2)
    Jx, Jw = jacobian(y, [x, w])
    vx, vw = np.array([0.5, -1.0]), np.array([[0.1, 0.2], [0.3, -0.4]])
    np.testing.assert_allclose(ev(Jx, {x: vx, w: vw}), fd_jacobian(lambda a: np.exp(vw * a), vx), rtol=1e-6)
    np.testing.assert_allclose(ev(Jw, {x: vx, w: vw}), fd_jacobian(lambda b: np.exp(b * vx), vw), rtol=1e-6)


def test_hessian_of_scalar_function_of_vector_matches_finite_differences():
    x = pt.vector("x", shape=(4,), dtype="float64")
    cost = pt.logsumexp(x) + (x[0] * x[1]) ** 2 + pt.sum(pt.sin(x) * x)
    H = hessian(cost, x)
    v = np.array([0.3, -0.7, 1.1, 0.05])

    def g(a):
        sm = np.exp(a - np.log(np.sum(np.exp(a))))
        out = sm + np.sin(a) + a * np.cos(a)
        out[0] += 2 * a[0] * a[1] ** 2
        out[1] += 2 * a[1] * a[0] ** 2
        return out

    Hv = ev(H, {x: v})
    np.testing.assert_allclose(Hv, fd_jacobian(g, v), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(Hv, Hv.T, atol=1e-12)


def test_scalar_jacobian_is_grad():  # symbolic shapes: tests/test_jacobian.py
    s = pt.dscalar("s")
    assert float(ev(jacobian(s ** 2, s), {s: 3.0})) == 6.0


# --------------------------------------------------------------------------- Lop / Rop
def test_lop_and_rop_are_transposes_through_the_jacobian():
    x = pt.vector("x", shape=(3,), dtype="float64")
    A = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 2.0]])
    y = pt.sin(pt.dot(A, x * x))
    u, v = pt.dvector("u"), pt.dvector("v")
    vx, vu, vv = np.array([0.2, -0.4, 0.9]), np.array([1.0, -2.0]), np.array([0.5, 1.0, -1.0])
    J = fd_jacobian(lambda a: np.sin(A @ (a * a)), vx)
    np.testing.assert_allclose(ev(Lop(y, x, u), {x: vx, u: vu}), vu @ J, rtol=1e-6)
    np.testing.assert_allclose(ev(Rop(y, x, v), {x: vx, v: vv}), J @ vv, rtol=1e-6)


def test_rop_with_several_outputs_and_disconnection():
    x, v = pt.dvector("x"), pt.dvector("v")
    z = pt.dvector("z")
    r = Rop([x * 2, pt.exp(x)], x, v)
    a, b = ev(r[0], {x: np.ones(2), v: np.array([1.0, 3.0])}), ev(r[1], {x: np.zeros(2), v: np.array([1.0, 3.0])})
    np.testing.assert_allclose(a, [2.0, 6.0])
    np.testing.assert_allclose(b, [1.0, 3.0])
    with pytest.raises(DisconnectedInputError, match="does not depend"):
        Rop(z * 2, x, v)
    zero = Rop(z * 2, x, v, disconnected_outputs="ignore")
    np.testing.assert_array_equal(ev(zero, {z: np.ones(2)}), [0.0, 0.0])


# --------------------------------------------------------------------------- verify_grad
def test_verify_grad_reports_mismatch_with_location():
    with pytest.raises(GradientError, match=r"argument 1 \(shape \(2,\)\) at index \(\d,\)") as info:
        verify_grad(lambda a, b: a * zero_grad(b) + b, [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
                    mode="FAST_COMPILE")
    assert info.value.arg == 1 and info.value.abs_err.max() > 0.5
    verify_grad(lambda a, b: a * b + b, [np.array([1.0, 2.0]), np.array([3.0, 4.0])], mode="FAST_COMPILE")
    with pytest.raises(TypeError, match="floating-point"):
        verify_grad(lambda a: a * 2, [np.array([1, 2])])


def test_hessian_of_several_wrt():
    a = pt.vector("a", shape=(2,), dtype="float64")
    s = pt.dscalar("s")
    Ha, Hs = hessian((a ** 2).sum() * s ** 3, [a, s])
    assert Ha.type.shape == (2, 2) and Hs.ndim == 0
    np.testing.assert_allclose(ev(Ha, {a: np.array([1.0, 2.0]), s: 2.0}), 16 * np.eye(2))
    assert float(ev(Hs, {a: np.array([1.0, 2.0]), s: 2.0})) == pytest.approx(6 * 5 * 2.0)


# --------------------------------------------------------------------------- random expressions
UNARY = [pt.tanh, pt.sin, pt.sigmoid, pt.softplus, lambda v: v * v, lambda v: pt.exp(v * 0.3), pt.arctan]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: a / (b * b + 1)]


def _random_expression(draw, leaves):
    from hypothesis import strategies as st

    nodes = list(leaves)
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            nodes.append(draw(st.sampled_from(UNARY))(draw(st.sampled_from(nodes))))
        else:
            nodes.append(draw(st.sampled_from(BINARY))(draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))))
    return nodes[-1]


def test_random_elementwise_graphs_match_finite_differences():
    from hypothesis import HealthCheck, given, settings, strategies as st

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data(), st.integers(0, 2**32 - 1))
    def check(data, seed):
        rng = np.random.default_rng(seed)
        point = [rng.uniform(-1.5, 1.5, (2, 3)), rng.uniform(-1.5, 1.5, (1, 3)), rng.uniform(-1.5, 1.5, ())]

        def fun(m, r, s):
            return _random_expression(data.draw, [m, r, s]) + m * 0.0  # every leaf shaped like m

        verify_grad(fun, point, n_tests=1, rng=rng, mode="FAST_COMPILE")

    check()


def test_hessian_vector_product_matches_hessian():
    from eqtensor.gradient import hessian_vector_product

    x = pt.vector("x", shape=(3,), dtype="float64")
    p = pt.dvector("p")
    cost = pt.logsumexp(x * x) + pt.prod(x)
    vx, vp = np.array([0.3, -0.5, 1.2]), np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(ev(hessian_vector_product(cost, x, p), {x: vx, p: vp}),
                               ev(hessian(cost, x), {x: vx}) @ vp, rtol=1e-12)


# --------------------------------------------------------------------------- formulas over primitives
_R = np.random.default_rng(11)
COMPOSITES = {
    "tensordot": (lambda a, b: pt.tensordot(a, b, axes=[[1, 2], [1, 0]]),
                  [_R.standard_normal((2, 3, 4)), _R.standard_normal((4, 3, 5))]),
    "take": (lambda a: pt.take(a, [2, 0, 2], axis=1), [_R.standard_normal((3, 4))]),
    "take_flat": (lambda a: pt.take(a, [5, 0]), [_R.standard_normal((3, 4))]),
    "mean": (lambda a: a.mean(axis=0), [_R.standard_normal((3, 4))]),
    "var": (lambda a: a.var(axis=1, ddof=1), [_R.standard_normal((3, 4))]),
    "std": (lambda a: a.std(), [_R.standard_normal((3, 4))]),
    "flatten": (lambda a: a.flatten(), [_R.standard_normal((3, 4))]),
    "squeeze": (lambda a: a.squeeze(), [_R.standard_normal((3, 1))]),
    "broadcast_to": (lambda a: pt.broadcast_to(a, (4, 3)), [_R.standard_normal(3)]),
    "outer": (lambda a, b: pt.outer(a, b), [_R.standard_normal(3), _R.standard_normal(2)]),
    "stack": (lambda a, b: pt.stack([a, b], axis=1), [_R.standard_normal(3), _R.standard_normal(3)]),
    "roll": (lambda a: pt.roll(a, 1, axis=1), [_R.standard_normal((3, 4))]),
    "trace": (lambda a: pt.trace(a), [_R.standard_normal((3, 3))]),
    "diagonal": (lambda a: pt.diagonal(a), [_R.standard_normal((3, 4))]),
    "diag": (lambda a: pt.diag(a), [_R.standard_normal(3)]),
    "tril": (lambda a: pt.tril(a), [_R.standard_normal((3, 3))]),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_gradients_of_formulas_over_primitives(name):
    fun, point = COMPOSITES[name]
    verify_grad(fun, point, rng=np.random.default_rng(0), mode="FAST_COMPILE")


@pytest.mark.parametrize("fun, point", [
    (lambda x: pt.log(x).sum(), [np.array([1.0, -1.0])]),          # nan value and gradient at -1
    (lambda x: pt.sqrt(x).sum(), [np.array([4.0, 0.0])]),          # infinite derivative at 0
])
def test_verify_grad_refuses_a_point_where_the_gradients_are_not_finite(fun, point):
    """A NaN or infinite gradient compares as 'not greater than the tolerance': a check there would
    pass whatever the rule computes (PyTensor raises ValueError too)."""
    from eqtensor.gradient import verify_grad
    with pytest.raises(ValueError, match="not finite at index"):
        verify_grad(fun, point, mode="NUMPY")
