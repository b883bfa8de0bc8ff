"""Issue 12: PyTensor gradient and compile API gaps.

- the gradient's seed keeps the cost's inputs (PyTensor's ``second(cost, 1)``): a function of a
  gradient takes the inputs the cost took, even when the derivative no longer reads them;
- ``In(variable, value=, update=)``: inputs that keep state between calls;
- ``subgraph_grad``, gradients with respect to integers and through ``consider_constant`` wrt;
- ``x.copy()``, ``.real``, ``.imag``, ``.conj()`` and the ops ``real``, ``imag``, ``conj``, ``angle``,
  ``complex``, ``tensor_copy``.

Expected values are the true derivatives (NumPy, finite differences); where PyTensor 3.0.7 raises
(``UnusedInputError`` for ``Lop`` of a linear expression), eqtensor raises the same error.
"""

import numpy as np
import pytest

import eqtensor
from eqtensor import In, function, shared
from eqtensor import tensor as pt
from eqtensor.core.errors import UnusedInputError
from eqtensor.core.ops.second import second
from eqtensor.gradient import (
    Lop, NullTypeGradError, Rop, grad, hessian, hessian_vector_product, jacobian, pullback, pushforward,
    subgraph_grad, verify_grad,
)

MODES = ["FAST_COMPILE", "NUMPY", "C"]


def _ops(f):
    return [n.op.name for n in f.maker.fgraph.toposort()]


# ============================================================================ the gradient's seed
@pytest.mark.parametrize("mode", MODES)
def test_gradient_of_a_linear_cost_compiles_over_its_input(mode):
    s = pt.dscalar("s")
    f = function([s], grad(2 * s, s), mode=mode)
    assert float(f(3.0)) == 2.0
    if mode != "FAST_COMPILE":
        assert "second" not in _ops(f)  # second_same_type dropped the seed's link to the cost


def test_seed_rule_fires_and_the_unoptimized_graph_holds_second():
    s = pt.dscalar("s")
    g = grad(2 * s, s)
    assert "second" in [n.op.name for n in eqtensor.graph.traversal.io_toposort([s], [g])]
    f = function([s], g, mode="NUMPY")
    assert f.maker.report.rules_fired.get("second_same_type", 0) >= 1
    assert _ops(f) == []  # the constant 2


def _static(name, n):
    return pt.tensor(name, dtype="float64", shape=(n,))


CASES = {
    # name: (inputs, build(inputs) -> outputs, argument values, expected)
    "grad of sum(2x), static shape": (
        lambda: [_static("x", 3)], lambda x: grad((2 * x).sum(), x),
        [np.array([1.0, 2.0, 3.0])], np.full(3, 2.0)),
    "grad of x * 2.5 wrt an integer": (
        lambda: [pt.iscalar("i")], lambda i: grad(i * 2.5, i), [np.int32(3)], 2.5),
    "grad of an integer-valued cost wrt an integer": (
        lambda: [pt.iscalar("i")], lambda i: grad(i * 2, i), [np.int32(3)], 0.0),
    "jacobian of a scalar": (
        lambda: [pt.dscalar("s")], lambda s: jacobian(2 * s, s), [3.0], 2.0),
    "jacobian, disconnected wrt ignored": (
        lambda: [_static("x", 2), _static("y", 3)],
        lambda x, y: jacobian(2 * x, [x, y], disconnected_inputs="ignore"),
        [np.ones(2), np.ones(3)], [2 * np.eye(2), np.zeros((2, 3))]),
    "hessian of a quadratic, static shape": (
        lambda: [_static("x", 2)], lambda x: hessian((x ** 2).sum(), x), [np.array([1.0, -2.0])], 2 * np.eye(2)),
    "hessian-vector product, several wrt": (
        lambda: [_static("x", 2), _static("y", 2), _static("p", 2), _static("q", 2)],
        lambda x, y, p, q: hessian_vector_product((x ** 2).sum() + 3 * (y ** 2).sum(), [x, y], [p, q]),
        [np.ones(2), np.ones(2), np.array([1.0, 2.0]), np.array([3.0, 4.0])],
        [np.array([2.0, 4.0]), np.array([18.0, 24.0])]),
    "grad, disconnected scalar wrt ignored": (
        lambda: [_static("x", 2), pt.dscalar("t")],
        lambda x, t: grad((2 * x).sum(), [x, t], disconnected_inputs="ignore"),
        [np.ones(2), 5.0], [np.full(2, 2.0), 0.0]),
    "pushforward, use_op_pushforward=True": (
        lambda: [pt.dvector("x"), pt.dvector("v")], lambda x, v: pushforward(2 * x, x, v, use_op_pushforward=True),
        [np.array([1.0, 2.0]), np.array([3.0, 4.0])], np.array([6.0, 8.0])),
    "Rop, use_op_rop_implementation=True": (
        lambda: [pt.dvector("x"), pt.dvector("v")], lambda x, v: Rop(3 * x, x, v, use_op_rop_implementation=True),
        [np.array([1.0, 2.0]), np.array([3.0, 4.0])], np.array([9.0, 12.0])),
}


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMPY"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_derivatives_compile_over_inputs_they_no_longer_read(name, mode):
    make, build, args, expected = CASES[name]
    ins = make()
    out = build(*ins)
    res = function(ins, out, mode=mode)(*args)  # on_unused_input="raise" (the default)
    if isinstance(expected, list):
        assert len(res) == len(expected)
        for r, e in zip(res, expected):
            np.testing.assert_allclose(r, e, rtol=1e-14)
    else:
        np.testing.assert_allclose(res, expected, rtol=1e-14)
        assert np.asarray(res).dtype == np.float64


def test_gradients_wrt_integers_match_pytensor():
    i, iv = pt.iscalar("i"), pt.ivector("iv")
    assert float(function([i], grad(i ** 2, i), mode="NUMPY")(3)) == 0.0  # i ** 2 is an integer: no gradient
    assert float(function([i], grad(pt.cast(i, "float64") * 3, i), mode="NUMPY")(3)) == 3.0
    g = grad((iv ** 2).sum() + (iv * 1.5).sum(), iv)
    assert g.dtype == "float64"
    np.testing.assert_array_equal(function([iv], g, mode="NUMPY")(np.array([1, 2], "int32")), [1.5, 1.5])


def test_lop_and_rop_of_a_linear_expression_are_as_pytensor():
    """PyTensor 3.0.7 raises UnusedInputError for these (its Lop and default Rop read only v)."""
    x, v = pt.dvector("x"), pt.dvector("v")
    for build in (lambda: Lop(2 * x, x, v), lambda: pullback(2 * x, x, v), lambda: Rop(2 * x, x, v),
                  lambda: pushforward(2 * x, x, v)):
        with pytest.raises(UnusedInputError):
            function([x, v], build(), mode="NUMPY")
        f = function([x, v], build(), mode="NUMPY", on_unused_input="ignore")
        np.testing.assert_array_equal(f(np.ones(2), np.array([3.0, 4.0])), [6.0, 8.0])


def test_pushforward_by_op_keeps_f_only_as_a_dependency():
    x, W, V = pt.dvector("x"), pt.dmatrix("W"), pt.dmatrix("V")
    jvp = pushforward(pt.dot(x, W), W, V, use_op_pushforward=True)
    f = function([x, W, V], jvp, mode="NUMPY")
    X, Wv, Vv = np.array([1.0, 2.0]), np.arange(4.0).reshape(2, 2), np.array([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_allclose(f(X, Wv, Vv), X @ Vv, rtol=1e-14)
    assert "second" not in _ops(f)


def test_consider_constant_wrt_gets_its_gradient_not_passed_further():
    x = pt.dscalar("x")
    y = x * 2
    gy, gx = grad(y ** 2, [y, x], consider_constant=[y], disconnected_inputs="ignore")
    assert float(gy.eval({x: 3.0})) == 12.0 and float(gx.eval({x: 3.0})) == 0.0


# ============================================================================ subgraph_grad
def test_subgraph_grad_backpropagates_layer_by_layer_as_one_grad():
    rng = np.random.default_rng(0)
    x, t = pt.dvector("x"), pt.dvector("t")
    w1, w2 = shared(rng.standard_normal((3, 4)), name="w1"), shared(rng.standard_normal((4, 2)), name="w2")
    a1 = pt.tanh(pt.dot(x, w1))
    a2 = pt.tanh(pt.dot(a1, w2))
    cost2 = pt.sqr(a2 - t).sum() + pt.sqr(w2.sum())
    cost1 = pt.sqr(w1.sum())
    params, costs, ends = [[w2], [w1]], [cost2, cost1], [[a1], [x]]
    next_grad, param_grads = None, []
    for k in range(2):
        pg, eg = subgraph_grad(wrt=params[k], end=ends[k], start=next_grad, cost=costs[k])
        next_grad = dict(zip(ends[k], eg))
        param_grads.extend(pg)
    full = grad(cost1 + cost2, [w2, w1])
    vals = [rng.standard_normal(3), rng.standard_normal(2)]
    got = function([x, t], param_grads, mode="NUMPY")(*vals)
    want = function([x, t], full, mode="NUMPY")(*vals)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_subgraph_grad_details_and_errors():
    x = pt.dscalar("x")
    h = pt.tanh(x)
    (gx,), (gh,), start_grads, cost_grads = subgraph_grad([x], [h], cost=h ** 2, details=True)
    assert start_grads is None and len(cost_grads) == 2
    v = 0.7
    assert float(gx.eval({x: v})) == 0.0  # stopped at h
    np.testing.assert_allclose(gh.eval({x: v}), 2 * np.tanh(v), rtol=1e-14)
    (gx2,), _ = subgraph_grad([x], [], start={h: gh}, cost=x ** 2)  # start and cost summed
    np.testing.assert_allclose(gx2.eval({x: v}), 2 * np.tanh(v) / np.cosh(v) ** 2 + 2 * v, rtol=1e-13)
    with pytest.raises(ValueError, match="give a cost or start"):
        subgraph_grad([x], [h])
    with pytest.raises(TypeError, match="wrt must be a list"):
        subgraph_grad(x, [h], cost=h)
    with pytest.raises(TypeError, match="start must be a dict"):
        subgraph_grad([x], [h], start=[gh])


# ============================================================================ In(update=)
@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_in_update_accumulates_state(mode):
    x, acc = pt.dscalar("x"), pt.dscalar("acc")
    f = function([x, In(acc, value=0.0, update=acc + x)], acc * 10, mode=mode)
    assert [float(f(v)) for v in (1.0, 2.0, 3.0)] == [0.0, 10.0, 30.0]
    assert float(f["acc"]) == 6.0 and float(f[acc]) == 6.0 and float(f[1]) == 6.0
    assert float(f(0.0, acc=100.0)) == 1000.0  # a passed value is used, then updated
    assert float(f[acc]) == 100.0
    f[acc] = 5.0
    assert float(f(1.0)) == 50.0 and float(f[acc]) == 6.0


def test_in_update_with_a_shared_value_is_implicit_and_updates_it():
    x, s = pt.dscalar("x"), pt.dscalar("s")
    store = shared(np.array(4.0))
    f = function([x, In(s, value=store, update=s + x)], s * 2, mode="NUMPY")
    assert float(f(1.0)) == 8.0 and float(store.get_value()) == 5.0
    assert float(f(1.0)) == 10.0 and float(store.get_value()) == 6.0
    for call in (lambda: f(1.0, 3.0), lambda: f(1.0, s=3.0)):
        with pytest.raises(TypeError, match="implicit"):
            call()
    with pytest.raises(TypeError, match="implicit input must be given a default value"):
        In(s, implicit=True)
    g = function([x, In(s, value=store)], x * s, mode="C")  # implicit without update: reads the shared value
    g.trust_input = True
    assert float(g(np.array(3.0))) == 18.0
    with pytest.raises(TypeError, match="implicit"):
        g(np.array(3.0), np.array(1.0))


def test_in_update_without_value_must_be_passed_every_call():
    x, s = pt.dscalar("x"), pt.dscalar("s")
    f = function([x, In(s, update=s + x)], s * 2, mode="NUMPY")
    assert float(f(1.0, 5.0)) == 10.0 and float(f(1.0, 5.0)) == 10.0
    with pytest.raises(TypeError, match="missing a value for input 1"):
        f(1.0)


def test_in_update_vector_state_outputs_copy_and_trust_input():
    x, v = pt.dscalar("x"), pt.dvector("v")
    f = function([x, In(v, value=np.zeros(3), update=v + x)], {"total": v.sum(), "x": x}, mode="NUMPY")
    assert float(f(1.0)["total"]) == 0.0 and float(f(2.0)["total"]) == 3.0
    np.testing.assert_array_equal(f[v], [3.0, 3.0, 3.0])
    g = f.copy()  # its own state
    g(1.0)
    np.testing.assert_array_equal(f[v], [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(g[v], [4.0, 4.0, 4.0])
    f.trust_input = True
    assert float(f(np.array(1.0))["total"]) == 9.0
    np.testing.assert_array_equal(f[v], [4.0, 4.0, 4.0])


def test_in_update_types_flags_and_unused_check():
    x, s, k = pt.dscalar("x"), pt.dscalar("s"), pt.lscalar("k")
    with pytest.raises(TypeError, match="number of dimensions"):
        In(s, update=pt.dvector("w"))
    with pytest.raises(TypeError, match="casts safely to int64"):
        In(k, update=x)
    f = function([x, In(k, value=0, update=k + 1)], x, mode="NUMPY")  # k unused by the output: fine (PyTensor)
    f(1.0)
    f(1.0)
    assert int(f[k]) == 2 and f[k].dtype == np.int64
    up = In(s, value=1.0, update=pt.cast(k, "int32"))  # int32 -> float64 is safe: cast
    assert up.update.dtype == "float64"
    with pytest.raises(ValueError, match="mutable=True with borrow=False"):
        In(s, mutable=True, borrow=False)
    assert In(s, update=s + 1).mutable and In(s, update=s + 1).borrow and not In(s).mutable
    with pytest.raises(KeyError, match="has no input 'nope'"):
        f["nope"]


# ============================================================================ copy, complex parts
def test_copy_is_a_named_tensor_copy_removed_by_the_optimizer():
    x = pt.dvector("x")
    y = x.copy(name="y")
    assert y.name == "y" and y.owner.op.name == "tensor_copy" and x.name == "x"
    f = function([x], y * 2, mode="NUMPY")
    assert _ops(f) == ["mul"]
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 4.0])
    np.testing.assert_array_equal(grad((y ** 2).sum(), x).eval({x: np.array([1.0, -2.0])}), [2.0, -4.0])


@pytest.mark.parametrize("mode", MODES)
def test_complex_parts_match_numpy(mode):
    x, z, i = pt.dvector("x"), pt.zvector("z"), pt.ivector("i")
    xv = np.array([-0.0, 0.0, np.nan, -1.5, 2.0, -np.inf, np.inf])
    zv = np.empty(len(xv), complex)  # xv + 1j * xv[::-1] would make nan of 1j * inf
    zv.real, zv.imag = xv, xv[::-1]
    iv = np.array([1, -2, 0, 3, 4, 5, -6], "int32")
    outs = [x.real, x.imag, x.conj(), pt.angle(x), pt.conj(z), z.real, z.imag, pt.angle(z), z.conjugate(),
            pt.complex(x, x[::-1]), pt.angle(i), i.imag, pt.real(i), pt.complex(i, i)]
    refs = [np.real(xv), np.imag(xv), xv, np.angle(xv), np.conj(zv), zv.real, zv.imag, np.angle(zv), np.conj(zv),
            zv, np.angle(iv), np.imag(iv), iv, iv + 1j * iv]
    res = function([x, z, i], outs, mode=mode)(xv, zv, iv)
    for r, ref, o in zip(res, refs, outs):
        assert r.dtype == ref.dtype == np.dtype(o.dtype), (o, r.dtype, ref.dtype)
        np.testing.assert_array_equal(r, ref)
    assert x.conj() is x  # a real variable is its own conjugate (PyTensor)


def test_complex_dtypes_follow_pytensor():
    assert pt.complex(pt.fvector(), pt.fvector()).dtype == "complex64"
    assert pt.complex(pt.bvector(), pt.bvector()).dtype == "complex64"
    assert pt.complex(pt.ivector(), pt.ivector()).dtype == "complex128"
    assert pt.complex(pt.fvector(), pt.dvector()).dtype == "complex128"
    assert pt.real(pt.cvector()).dtype == "float32"
    with pytest.raises(TypeError, match="complex does not support inputs of dtype complex128"):
        pt.complex(pt.zvector(), pt.dvector())


def test_gradients_of_complex_parts_on_real_inputs():
    rng = np.random.default_rng(1)
    for fun in (lambda x: pt.real(x) * x, lambda x: pt.conj(x) ** 2, lambda x: pt.imag(x) + x,
                lambda x: pt.angle(x) * 3 + x, lambda x: x.copy() * x):
        verify_grad(fun, [rng.uniform(0.5, 2.0, 4)], rng=rng)
    x = pt.dvector("x")
    np.testing.assert_array_equal(grad(pt.imag(x).sum(), x, disconnected_inputs="ignore").eval(
        {x: np.array([1.0, 2.0])}), [0.0, 0.0])


def test_gradients_through_complex_values_raise():
    x = pt.dvector("x")
    for cost in (pt.real(pt.complex(x, 2 * x)), pt.imag(pt.complex(x, x) ** 2), pt.abs(pt.complex(x, x))):
        with pytest.raises(NullTypeGradError, match="does not differentiate through complex values"):
            grad(cost.sum(), x)


def test_second_keeps_a_but_reads_only_b():
    a, b = pt.dvector("a"), pt.dscalar("b")
    y = second(a, b)
    assert y.type.shape == (None,) and y.dtype == "float64"
    for mode in MODES:
        f = function([a, b], y, mode=mode)
        np.testing.assert_array_equal(f(np.array([np.nan, 1.0, 2.0]), 7.0), [7.0, 7.0, 7.0])
