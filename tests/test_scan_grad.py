"""Gradients through ``scan`` (backpropagation through time), checked by finite differences; the
jacobian-by-scan idiom; truncated gradients against a hand-written NumPy reference."""

import numpy as np
import pytest

import eqtensor as et
from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.core.traversal import toposort
from eqtensor.scan import scan, until


def numeric_grad(f, args, i, eps=1e-6):
    args = [np.array(a, dtype=float) for a in args]
    g = np.zeros_like(args[i])
    for idx in np.ndindex(args[i].shape):
        plus = [a.copy() for a in args]
        minus = [a.copy() for a in args]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
    return g


def check_grads(inputs, cost, values, mode="NUMPY", wrt=None, rtol=1e-6, atol=1e-8):
    wrt = inputs if wrt is None else wrt
    grads = function(inputs, et.grad(cost, wrt), mode=mode)(*values)
    c = function(inputs, cost, mode="NUMPY")
    for k, w in enumerate(wrt):
        i = inputs.index(w)
        np.testing.assert_allclose(grads[k], numeric_grad(c, values, i), rtol=rtol, atol=atol,
                                   err_msg=f"gradient with respect to {w}")


RNG = np.random.default_rng(42)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMPY", None])
def test_rnn_sequences_initial_state_non_sequences(mode):
    W, u, h0 = pt.dmatrix("W"), pt.dmatrix("u"), pt.dvector("h0")
    hs, _ = scan(lambda u_t, h, W: pt.tanh(pt.dot(W, h) + u_t), sequences=u, outputs_info=h0, non_sequences=W)
    cost = (hs ** 2).sum() + hs[-1].sum()
    check_grads([W, u, h0], cost, [RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=(5, 3)), RNG.normal(size=3)],
                mode=mode)


def test_two_taps_initial_values_and_a_non_sequence():
    f0, a = pt.dvector("f0"), pt.dscalar("a")
    fib, _ = scan(lambda x2, x1, a: a * x2 + 0.5 * x1 * x1, outputs_info=dict(initial=f0, taps=[-2, -1]),
                  non_sequences=a, n_steps=6)
    cost = (fib * np.arange(1.0, 7.0)).sum()
    check_grads([f0, a], cost, [np.array([0.3, 0.5]), 0.7])


def test_gapped_taps_and_a_longer_initial_value():
    init, x = pt.dvector("init"), pt.dvector("x")
    ys, _ = scan(lambda x_t, a, c: a * x_t - pt.sin(c), sequences=x, outputs_info=dict(initial=init, taps=[-1, -3]))
    cost = (ys ** 2).sum()
    check_grads([init, x], cost, [RNG.normal(size=4), RNG.normal(size=5)])


def test_sequence_taps():
    x, w = pt.dvector("x"), pt.dscalar("w")
    y, _ = scan(lambda a, b, c, w: a * b + w * pt.cos(c), sequences=dict(input=x, taps=[-1, 0, 2]), non_sequences=w)
    check_grads([x, w], (y ** 2).sum(), [RNG.normal(size=7), 0.3])


def test_go_backwards_and_n_steps_shorter_than_the_sequence():
    x, h0 = pt.dvector("x"), pt.dscalar("h0")
    ys, _ = scan(lambda x_t, h: pt.sin(h) * x_t + h, sequences=x, outputs_info=h0, go_backwards=True, n_steps=3)
    check_grads([x, h0], (ys * np.array([1.0, 2.0, 3.0])).sum(), [RNG.normal(size=5), 0.4])


def test_several_outputs_in_the_cost():
    x, h0 = pt.dvector("x"), pt.dscalar("h0")
    (h, s), _ = scan(lambda x_t, h: [pt.tanh(h + x_t), h * x_t], sequences=x, outputs_info=[h0, None])
    check_grads([x, h0], (h ** 2).sum() + s.sum(), [RNG.normal(size=4), 0.2])


def test_shared_and_free_variables():
    W = et.shared(RNG.normal(size=(2, 2)) * 0.5, name="W")
    b = pt.dvector("b")
    x0 = pt.dvector("x0")
    hs, _ = scan(lambda h: pt.tanh(pt.dot(W, h) + b), outputs_info=x0, n_steps=4)
    cost = (hs[-1] ** 2).sum()
    gW, gb = function([x0, b], et.grad(cost, [W, b]), mode="NUMPY")(np.array([0.5, -1.0]), np.array([0.1, 0.2]))
    Wv = W.get_value()

    def c(Wm, bv):
        h = np.array([0.5, -1.0])
        for _ in range(4):
            h = np.tanh(Wm @ h + bv)
        return (h ** 2).sum()

    np.testing.assert_allclose(gW, numeric_grad(c, [Wv, np.array([0.1, 0.2])], 0), rtol=1e-6)
    np.testing.assert_allclose(gb, numeric_grad(c, [Wv, np.array([0.1, 0.2])], 1), rtol=1e-6)


def test_until_gradient():
    c, x0 = pt.dscalar("c"), pt.dscalar("x0")
    v = scan(lambda prev, c: (prev * c, until(prev * c > 40)), outputs_info=x0, non_sequences=c, n_steps=100,
             return_updates=False)
    check_grads([c, x0], v.sum() + v[-1], [3.0, 1.0])


def test_integer_sequence_in_the_step():
    x = pt.dvector("x")
    ys, _ = scan(lambda i, h, x: h * x[i] + pt.cast(i, "float64"), sequences=pt.arange(x.shape[0]),
                 outputs_info=np.float64(1.0), non_sequences=x)
    check_grads([x], ys.sum(), [RNG.normal(size=4)])


def test_truncate_gradient_against_numpy_bptt():
    x, a, h0 = pt.dvector("x"), pt.dscalar("a"), pt.dscalar("h0")
    k = 3
    hs, _ = scan(lambda x_t, h, a: a * h + x_t * x_t, sequences=x, outputs_info=h0, non_sequences=a,
                 truncate_gradient=k)
    cost = hs.sum()
    xv, av, h0v = RNG.normal(size=6), 0.8, 0.5
    gx, ga, gh0 = function([x, a, h0], et.grad(cost, [x, a, h0]), mode="NUMPY")(xv, av, h0v)
    n = len(xv)
    h = [h0v]
    for t in range(n):
        h.append(av * h[-1] + xv[t] ** 2)
    pending, egx, ega = 0.0, np.zeros(n), 0.0  # the backward loop over the last k steps only
    for t in range(n - 1, n - k - 1, -1):
        ct = 1.0 + pending
        egx[t] = ct * 2 * xv[t]
        ega += ct * h[t]
        pending = ct * av
    np.testing.assert_allclose(gx, egx)
    np.testing.assert_allclose(ga, ega)
    assert float(gh0) == 0.0
    full, _ = scan(lambda x_t, h, a: a * h + x_t * x_t, sequences=x, outputs_info=h0, non_sequences=a)
    check_grads([x, a, h0], full.sum(), [xv, av, h0v])


def test_second_derivative_through_scan():
    x, a = pt.dvector("x"), pt.dscalar("a")
    hs, _ = scan(lambda x_t, h: pt.sin(h) * x_t, sequences=x, outputs_info=a)
    ga = et.grad(hs.sum(), a)
    check_grads([x, a], ga, [RNG.normal(size=3), 0.3], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["NUMPY", None])
def test_jacobian_by_scan_idiom(mode):
    x = pt.dvector("x")
    y = x ** 2 * pt.sin(x).sum()
    J, _ = scan(lambda i, y, x: et.grad(y[i], x), sequences=pt.arange(y.shape[0]), non_sequences=[y, x])
    v = np.array([0.3, 1.2, -0.5, 2.0])
    expected = np.diag(2 * v * np.sin(v).sum()) + np.outer(v ** 2, np.cos(v))
    np.testing.assert_allclose(function([x], J, mode=mode)(v), expected, rtol=1e-12)
    # the Hessian the same way
    g = et.grad((x ** 3).sum() * x[0], x)
    H = scan(lambda i, g, x: et.grad(g[i], x), sequences=pt.arange(g.shape[0]), non_sequences=[g, x],
             return_updates=False)
    num = np.array([numeric_grad(lambda vv: (3 * vv ** 2 * vv[0])[i] + (i == 0) * (vv ** 3).sum(), [v], 0)
                    for i in range(4)])
    np.testing.assert_allclose(function([x], H, mode=mode)(v), num, rtol=1e-6, atol=1e-6)


def test_backward_loop_builds_no_storage_sized_cotangent_and_no_per_step_indexing():
    # the cotangent of `outputs = storage[1:]` is read from its rows (no zero-filled storage and
    # inc_subtensor), and the pending cotangent of a tap -1 state has one step's shape (no
    # subtensor in the backward step)
    W, x, h0 = pt.dmatrix("W"), pt.dtensor3("x"), pt.dmatrix("h0")
    hs = scan(lambda x_t, h, W: pt.tanh(x_t + h @ W), sequences=x, outputs_info=h0, non_sequences=W,
              return_updates=False)
    cost = (hs ** 2).sum()
    f = function([W, x, h0], et.grad(cost, [W, x, h0]), mode="C")
    nodes = toposort(f.maker.fgraph.outputs)
    assert not {"inc_subtensor", "set_subtensor"} & {n.op.name for n in nodes}
    (backward,) = {id(i): i for n in nodes if n.op.name == "scan" for i in [n.op.params["inner"]]
                   if i.n_out > 1}.values()
    assert "subtensor" not in {n.op.name for n in toposort(backward.function.maker.fgraph.outputs)}
    values = [RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=(4, 2, 3)), RNG.normal(size=(2, 3))]
    check_grads([W, x, h0], cost, values, mode="C")
