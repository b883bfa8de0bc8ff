"""Every differentiable op of the op table has a VJP rule that passes central finite differences.

The samples below are keyed by op name; ``test_every_differentiable_op_has_rule_and_sample`` fails
when an op declared differentiable has no rule or no sample here.
"""

import numpy as np
import pytest

from eqtensor import tensor as pt
from eqtensor.core.graph import Constant
from eqtensor.core.op import OPS, Op
from eqtensor.core.ops.shape import make_vector
from eqtensor.gradient import grad, verify_grad
from eqtensor.rules.gradients import RULES, polygamma

R = np.random.default_rng(42)


def u(lo, hi, *shape):
    return R.uniform(lo, hi, size=shape)


def un(name):
    """Apply elemwise op ``name`` to one input."""
    return lambda x: Op(OPS[name])(x)


def bi(name):
    return lambda x, y: Op(OPS[name])(x, y)


MASK = np.array([[True, False, True], [False, True, True]])

# op name -> list of (fun, point); a point of shape (1, n) against (m, n) exercises broadcasting
SAMPLES = {
    "add": [(bi("add"), [u(-2, 2, 2, 3), u(-2, 2, 1, 3)])],
    "sub": [(bi("sub"), [u(-2, 2, 2, 3), u(-2, 2, 2, 1)])],
    "mul": [(bi("mul"), [u(-2, 2, 2, 3), u(-2, 2, 1, 3)]), (lambda x: x * x, [u(-2, 2, 4)])],
    "true_div": [(bi("true_div"), [u(-2, 2, 2, 3), u(0.5, 2, 1, 3)])],
    "mod": [(bi("mod"), [u(2.5, 2.9, 3), u(1.5, 1.6, 3)])],
    "pow": [(bi("pow"), [u(0.5, 2, 2, 3), u(-1.5, 1.5, 2, 3)]), (lambda x: x ** 3, [u(-2, 2, 3)]),
            (lambda x: x ** 2, [u(-2, 2, 3)])],
    "maximum": [(bi("maximum"), [np.array([0.3, -1.0, 2.0]), np.array([0.1, 0.5, 2.5])])],
    "minimum": [(bi("minimum"), [np.array([0.3, -1.0, 2.0]), np.array([0.1, 0.5, 2.5])])],
    "arctan2": [(bi("arctan2"), [u(-2, 2, 3), u(0.5, 2, 3)])],
    "neg": [(un("neg"), [u(-2, 2, 3)])],
    "abs": [(un("abs"), [np.array([-1.5, 0.7, 2.0])])],
    "exp": [(un("exp"), [u(-2, 2, 3)])],
    "exp2": [(un("exp2"), [u(-2, 2, 3)])],
    "expm1": [(un("expm1"), [u(-2, 2, 3)])],
    "log": [(un("log"), [u(0.5, 3, 3)])],
    "log2": [(un("log2"), [u(0.5, 3, 3)])],
    "log10": [(un("log10"), [u(0.5, 3, 3)])],
    "log1p": [(un("log1p"), [u(-0.5, 3, 3)])],
    "sqrt": [(un("sqrt"), [u(0.5, 3, 3)])],
    "sqr": [(un("sqr"), [u(-2, 2, 3)])],
    "reciprocal": [(un("reciprocal"), [u(0.5, 3, 3)])],
    "sin": [(un("sin"), [u(-3, 3, 3)])],
    "cos": [(un("cos"), [u(-3, 3, 3)])],
    "tan": [(un("tan"), [u(-1, 1, 3)])],
    "arcsin": [(un("arcsin"), [u(-0.8, 0.8, 3)])],
    "arccos": [(un("arccos"), [u(-0.8, 0.8, 3)])],
    "arctan": [(un("arctan"), [u(-3, 3, 3)])],
    "sinh": [(un("sinh"), [u(-2, 2, 3)])],
    "cosh": [(un("cosh"), [u(-2, 2, 3)])],
    "tanh": [(un("tanh"), [u(-2, 2, 3)])],
    "arcsinh": [(un("arcsinh"), [u(-2, 2, 3)])],
    "arccosh": [(un("arccosh"), [u(1.5, 3, 3)])],
    "arctanh": [(un("arctanh"), [u(-0.8, 0.8, 3)])],
    "sigmoid": [(un("sigmoid"), [u(-3, 3, 3)])],
    "softplus": [(un("softplus"), [u(-3, 3, 3)])],
    "log1mexp": [(un("log1mexp"), [u(-3, -0.1, 3)])],
    "erf": [(un("erf"), [u(-2, 2, 3)])],
    "erfc": [(un("erfc"), [u(-2, 2, 3)])],
    "erfinv": [(un("erfinv"), [u(-0.8, 0.8, 3)])],
    "gammaln": [(un("gammaln"), [u(0.5, 4, 3)])],
    "psi": [(un("psi"), [u(0.5, 4, 3)])],
    "polygamma": [(lambda x: polygamma(1, x), [u(0.5, 4, 3)])],
    "switch": [(lambda a, b: pt.switch(Constant(np.array([True, False, True])), a, b), [u(-2, 2, 3), u(-2, 2, 1)])],
    "clip": [(lambda x, lo, hi: pt.clip(x, lo, hi), [np.array([-2.0, 0.1, 2.0, 0.5]), np.array([-1.0]),
                                                      np.array([1.0])])],
    "cast": [(lambda x: pt.cast(x, "float32"), [u(-2, 2, 3)]),
             (lambda x: pt.cast(x, "float64"), [u(-2, 2, 3).astype("float32")])],
    "dimshuffle": [(lambda x: x.dimshuffle(1, "x", 0), [u(-2, 2, 2, 3)]),
                   (lambda x: x.dimshuffle(1), [u(-2, 2, 1, 3)])],
    "reshape": [(lambda x: x.reshape((3, 2)), [u(-2, 2, 2, 3)]), (lambda x: x.flatten(), [u(-2, 2, 2, 1)])],
    "alloc": [(lambda x: pt.alloc(x, 2, 3), [u(-2, 2, 3)]), (lambda x: pt.alloc(x, 4, 3), [u(-2, 2, 1, 3)]),
              (lambda x: pt.alloc(x, 2, 3), [u(-2, 2)])],
    "concatenate": [(lambda a, b: pt.concatenate([a, b], axis=1), [u(-2, 2, 2, 3), u(-2, 2, 2, 1)]),
                    (lambda a, b: pt.concatenate([a, b, a]), [u(-2, 2, 2), u(-2, 2, 3)])],
    "make_vector": [(lambda a, b: make_vector(a, b * 2), [u(-2, 2), u(-2, 2)])],
    "sum": [(lambda x: x.sum(), [u(-2, 2, 2, 3)]), (lambda x: x.sum(axis=0), [u(-2, 2, 2, 3)]),
            (lambda x: x.sum(axis=1, keepdims=True), [u(-2, 2, 2, 3)]), (lambda x: x.sum(axis=0), [u(-2, 2, 1, 3)])],
    "prod": [(lambda x: x.prod(axis=1), [u(0.5, 2, 2, 3)]),
             (lambda x: x.prod(axis=1), [np.array([[0.0, 1.5, 2.0], [0.0, 0.0, 3.0]])]),
             (lambda x: x.prod(), [np.array([0.7, -1.2, 0.0])])],
    "max": [(lambda x: x.max(axis=1), [np.array([[0.1, 0.9, -0.3], [1.2, -2.0, 0.4]])]),
            (lambda x: x.max(), [np.array([[0.1, 0.9, -0.3]])])],
    "min": [(lambda x: x.min(axis=0, keepdims=True), [np.array([[0.1, 0.9, -0.3], [1.2, -2.0, 0.4]])])],
    "logsumexp": [(lambda x: pt.logsumexp(x, axis=1), [u(-3, 3, 2, 3)]), (lambda x: pt.logsumexp(x), [u(-3, 3, 4)])],
    "softmax": [(lambda x: pt.special.softmax(x, axis=-1), [u(-3, 3, 2, 3)]),
                (lambda x: pt.special.softmax(x), [u(-3, 3, 4)])],
    "log_softmax": [(lambda x: pt.special.log_softmax(x, axis=1), [u(-3, 3, 2, 3)])],
    "dot": [(lambda a, b: pt.dot(a, b), [u(-1, 1, 2, 3), u(-1, 1, 3, 4)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 2, 3), u(-1, 1, 3)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 3), u(-1, 1, 3, 4)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 3), u(-1, 1, 3)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1), u(-1, 1, 2, 3)]),
            (lambda a, b: pt.dot(a, b), [u(-1, 1, 2, 2, 3), u(-1, 1, 4, 3, 2)])],
    "matmul": [(lambda a, b: a @ b, [u(-1, 1, 2, 3), u(-1, 1, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 2, 2, 3), u(-1, 1, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 1, 2, 3), u(-1, 1, 2, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 3), u(-1, 1, 2, 3, 4)]),
               (lambda a, b: a @ b, [u(-1, 1, 2, 3), u(-1, 1, 3)])],
    "matrix_inverse": [(lambda x: pt.linalg.inv(x), [np.eye(3) * 2 + u(-0.3, 0.3, 3, 3)])],
    "det": [(lambda x: pt.linalg.det(x), [np.eye(3) * 2 + u(-0.3, 0.3, 3, 3)])],
    "solve": [(lambda a, b: pt.linalg.solve(a, b), [np.eye(3) * 2 + u(-0.3, 0.3, 3, 3), u(-1, 1, 3)]),
              (lambda a, b: pt.linalg.solve(a, b), [np.eye(3) * 2 + u(-0.3, 0.3, 3, 3), u(-1, 1, 3, 2)])],
    "subtensor": [(lambda x: x[1:, ::2], [u(-2, 2, 3, 4)]), (lambda x: x[0], [u(-2, 2, 3, 4)]),
                  (lambda x: x[None, ..., -1], [u(-2, 2, 3, 4)])],
    "advanced_subtensor": [(lambda x: x[[0, 2, 0]], [u(-2, 2, 3, 2)]),
                           (lambda x: x[Constant(MASK)], [u(-2, 2, 2, 3)]),
                           (lambda x: x[:, [1, 1]], [u(-2, 2, 2, 3)])],
    "set_subtensor": [(lambda x, y: pt.set_subtensor(x[1:], y), [u(-2, 2, 3, 2), u(-2, 2, 2)]),
                      (lambda x, y: pt.set_subtensor(x[[0, 2]], y), [u(-2, 2, 3, 2), u(-2, 2, 2, 2)])],
    "inc_subtensor": [(lambda x, y: pt.inc_subtensor(x[1:], y), [u(-2, 2, 3, 2), u(-2, 2, 1, 2)]),
                      (lambda x, y: pt.inc_subtensor(x[[0, 0, 2]], y), [u(-2, 2, 3, 2), u(-2, 2, 2)])],
}

#: gradient-marker ops: identities whose gradient is deliberately not the identity's (tested in
#: test_gradient.py)
MARKERS = {"zero_grad", "disconnected_grad", "undefined_grad", "grad_clip", "grad_scale"}


def test_every_differentiable_op_has_rule_and_sample():
    missing_rule = sorted(n for n, d in OPS.items() if d.differentiable and n not in RULES)
    missing_sample = sorted(n for n, d in OPS.items() if d.differentiable and n not in SAMPLES and n not in MARKERS)
    assert not missing_rule, f"differentiable ops without a VJP rule: {missing_rule}"
    assert not missing_sample, f"differentiable ops without a finite-difference sample: {missing_sample}"


def test_rules_name_declared_ops_and_have_samples():
    stale = sorted(n for n in RULES if n not in OPS)
    assert not stale, f"VJP rules for ops that are not in the op table: {stale}"
    unchecked = sorted(n for n in RULES if n not in SAMPLES and n not in MARKERS)
    assert not unchecked, f"VJP rules without a finite-difference sample: {unchecked}"
    assert all(r.why for r in RULES.values())


CASES = [(name, k) for name, samples in SAMPLES.items() for k in range(len(samples))]


@pytest.mark.parametrize("name,k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_vjp_matches_finite_differences(name, k):
    fun, point = SAMPLES[name][k]
    # the sample must exercise the op it is filed under
    from eqtensor.core.graph import Variable, toposort

    args = [Variable(pt.TensorType(p.dtype, tuple(1 if s == 1 else None for s in np.shape(p)))) for p in point]
    assert name in {n.op.name for n in toposort([fun(*args)])}
    verify_grad(fun, point, rng=np.random.default_rng(k), mode="FAST_COMPILE")


NON_DIFF_FLOAT = ["floor", "ceil", "trunc", "round_half_to_even", "sign"]


@pytest.mark.parametrize("name", NON_DIFF_FLOAT)
def test_piecewise_constant_ops_have_zero_gradient(name):
    assert not OPS[name].differentiable
    x = pt.dvector("x")
    g = grad((un(name)(x) * x).sum(), x)
    v = np.array([-1.7, 0.2, 2.5])
    np.testing.assert_allclose(g.eval({x: v}), getattr(np, {"round_half_to_even": "rint"}.get(name, name))(v))


def test_comparisons_and_argmax_contribute_zero():
    x = pt.dvector("x")
    cost = (pt.cast(x > 0, "float64") * x).sum() + pt.cast(pt.argmax(x), "float64")
    v = np.array([-1.0, 2.0, 3.0])
    np.testing.assert_array_equal(grad(cost, x).eval({x: v}), (v > 0).astype(float))


def test_max_ties_give_gradient_to_every_maximum():
    x = pt.dvector("x")
    g = grad(x.max(), x)
    np.testing.assert_array_equal(g.eval({x: np.array([1.0, 3.0, 3.0, -1.0])}), [0.0, 1.0, 1.0, 0.0])
    g = grad(pt.maximum(x, 1.0).sum(), x)
    np.testing.assert_array_equal(g.eval({x: np.array([1.0, 3.0, 0.0])}), [1.0, 1.0, 0.0])


def test_prod_with_zeros_is_exact():
    x = pt.dvector("x")
    g = grad(x.prod(), x)
    np.testing.assert_array_equal(g.eval({x: np.array([2.0, 0.0, 3.0])}), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(g.eval({x: np.array([2.0, 0.0, 0.0])}), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g.eval({x: np.array([2.0, 4.0, 3.0])}), [12.0, 6.0, 8.0])


def test_pow_gradient_at_zero_base_is_finite():
    x, y = pt.dvector("x"), pt.dvector("y")
    gx, gy = grad((x ** y).sum(), [x, y])
    vx, vy = np.array([0.0, 2.0]), np.array([2.0, 3.0])
    np.testing.assert_allclose(gx.eval({x: vx, y: vy}), vy * vx ** (vy - 1))
    np.testing.assert_allclose(gy.eval({x: vx, y: vy}), [0.0, 8.0 * np.log(2.0)])


def test_float32_gradients_stay_float32():
    x = pt.fvector("x")
    g = grad((pt.exp(x) * 2.5 + pt.cast(x, "float64")).sum(), x)
    assert g.dtype == "float32"
    np.testing.assert_allclose(g.eval({x: np.zeros(2, "float32")}), [3.5, 3.5], rtol=1e-6)
    verify_grad(lambda v: pt.tanh(v) * v, [u(-1, 1, 4).astype("float32")], mode="FAST_COMPILE")


OPTIMIZED = ["pow", "true_div", "switch", "sum", "max", "logsumexp", "softmax", "dot", "matmul", "concatenate",
             "advanced_subtensor", "inc_subtensor", "alloc"]


@pytest.mark.parametrize("name", OPTIMIZED)
def test_vjp_survives_the_optimizer(name):
    for k, (fun, point) in enumerate(SAMPLES[name]):
        verify_grad(fun, point, rng=np.random.default_rng(k), mode="NUMPY")
