"""Every differentiable op of the op table has a VJP rule that passes central finite differences.

The samples live in :mod:`eqtensor.rules.gradient_check`, keyed by op name;
``test_every_differentiable_op_has_rule_and_sample`` fails when an op declared differentiable has
no rule or no sample there.
"""

import zlib

import numpy as np
import pytest

import eqtensor as et

from eqtensor import tensor as pt
from eqtensor.core.graph import Variable
from eqtensor.core.traversal import toposort
from eqtensor.core.op import OPS
from eqtensor.gradient import grad, verify_grad
from eqtensor.rules.gradient_check import MARKERS, SAMPLES, check_vjp, draw, u, un
from eqtensor.rules.gradients import NOT_IMPLEMENTED, RULES


def test_every_differentiable_op_has_rule_and_sample():
    missing_rule = sorted(n for n, d in OPS.items() if d.differentiable and n not in RULES)
    missing_sample = sorted(n for n, d in OPS.items() if d.differentiable and n not in SAMPLES and n not in MARKERS
                            and n not in NOT_IMPLEMENTED)
    assert not missing_rule, f"differentiable ops without a VJP rule: {missing_rule}"
    assert not missing_sample, f"differentiable ops without a finite-difference sample: {missing_sample}"


def test_rules_name_declared_ops_and_have_samples():
    stale = sorted(n for n in RULES if n not in OPS)
    assert not stale, f"VJP rules for ops that are not in the op table: {stale}"
    unchecked = sorted(n for n in RULES if n not in SAMPLES and n not in MARKERS and n not in NOT_IMPLEMENTED)
    assert not unchecked, f"VJP rules without a finite-difference sample: {unchecked}"
    assert all(r.why for r in RULES.values())


def test_not_implemented_rules_are_exempt_only_while_they_raise():
    """The exemption list names differentiable ops with a rule, no sample, and a rule that raises."""
    for name, why in NOT_IMPLEMENTED.items():
        assert why and name in OPS and OPS[name].differentiable and name in RULES, name
        assert name not in SAMPLES, f"{name} has a sample: remove it from NOT_IMPLEMENTED"
    assert set(NOT_IMPLEMENTED) == set(), "add a check below that grad through the new entry raises"


CASES = [(name, k) for name, samples in SAMPLES.items() for k in range(len(samples))]


@pytest.mark.parametrize("name,k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_sample_uses_its_op(name, k):
    fun, specs = SAMPLES[name][k]
    point = draw(specs, np.random.default_rng(0))
    args = [Variable(pt.TensorType(p.dtype, tuple(1 if s == 1 else None for s in np.shape(p)))) for p in point]
    assert name in {n.op.name for n in toposort([fun(*args)])}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_vjp_matches_finite_differences(name):
    result = check_vjp([name], trials=2, seed=zlib.crc32(name.encode()))
    assert result.ok, str(result)


def test_check_vjp_reports_a_wrong_rule(monkeypatch):
    import dataclasses

    from eqtensor.rules import gradients

    wrong = dataclasses.replace(RULES["sin"], fn=lambda op, inputs, out, g: (g * out,))
    monkeypatch.setitem(gradients.RULES, "sin", wrong)
    result = check_vjp(["sin", "cos"], trials=1)
    assert not result.ok and len(result.failures) == 1 and result.failures[0].startswith("sin (sample 0)")


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


def test_max_ties_share_the_gradient():  # docs/derivatives.md, "Ties"
    x = pt.dvector("x")
    g = grad(x.max(), x)
    np.testing.assert_array_equal(g.eval({x: np.array([1.0, 3.0, 3.0, -1.0])}), [0.0, 0.5, 0.5, 0.0])
    g = grad(pt.maximum(x, 1.0).sum(), x)
    np.testing.assert_array_equal(g.eval({x: np.array([1.0, 3.0, 0.0])}), [0.5, 1.0, 0.0])


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
    verify_grad(lambda v: pt.tanh(v) * v, draw([u(-1, 1, 4, dtype="float32")], np.random.default_rng(1)),
                mode="FAST_COMPILE")


OPTIMIZED = ["pow", "true_div", "switch", "sum", "max", "logsumexp", "softmax", "dot", "matmul", "concatenate",
             "advanced_subtensor", "inc_subtensor", "alloc"]


@pytest.mark.parametrize("name", OPTIMIZED)
def test_vjp_survives_the_optimizer(name):
    result = check_vjp([name], trials=1, compile=lambda i, o: et.function(i, o, mode="NUMPY", on_unused_input="ignore"))
    assert result.ok, str(result)
