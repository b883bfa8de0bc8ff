"""Gradients of whole models against NumPy hand-written backprop: the PyTensor tutorial's logistic
regression (shared weights, updates) and a tanh MLP with softmax cross-entropy (``mlp_grad`` at
small sizes; the full size is measured in benchmarks/bench_grad.py)."""

import numpy as np
import pytest

import eqtensor as et
from eqtensor import function, tensor as pt
from eqtensor.gradient import grad

MODES = ["FAST_COMPILE", "NUMPY"]


# --------------------------------------------------------------------------- logistic regression
def logreg_graph(w0, b0):
    x, y = pt.dmatrix("x"), pt.dvector("y")
    w = et.shared(w0.copy(), name="w")
    b = et.shared(b0, name="b")
    p_1 = 1 / (1 + pt.exp(-pt.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * pt.log(p_1) - (1 - y) * pt.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = grad(cost, [w, b])
    return x, y, w, b, prediction, xent, gw, gb


def logreg_numpy_step(X, Y, w, b):
    p = 1 / (1 + np.exp(-(X @ w) - b))
    gw = X.T @ (p - Y) / len(Y) + 0.02 * w
    gb = np.mean(p - Y)
    return w - 0.1 * gw, b - 0.1 * gb


@pytest.mark.parametrize("mode", MODES)
def test_logistic_regression_training_matches_numpy(mode):
    rng = np.random.default_rng(2882)
    N, feats = 60, 20
    X = rng.standard_normal((N, feats)) / np.sqrt(feats)
    Y = rng.integers(size=N, low=0, high=2).astype("float64")
    w0 = rng.standard_normal(feats)
    x, y, w, b, prediction, xent, gw, gb = logreg_graph(w0, 0.0)
    train = function([x, y], [prediction, xent], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], mode=mode)
    wn, bn = w0.copy(), 0.0
    for _ in range(20):
        pred, err = train(X, Y)
        p = 1 / (1 + np.exp(-(X @ wn) - bn))
        np.testing.assert_array_equal(pred, p > 0.5)
        np.testing.assert_allclose(err, -Y * np.log(p) - (1 - Y) * np.log(1 - p), rtol=1e-10)
        wn, bn = logreg_numpy_step(X, Y, wn, bn)
    np.testing.assert_allclose(w.get_value(), wn, rtol=1e-10)
    assert float(b.get_value()) == pytest.approx(bn, rel=1e-10)


# --------------------------------------------------------------------------- MLP
def mlp_graph(n_in, n_hidden, n_out, one_hot=True):
    X = pt.dmatrix("X")
    W1, b1 = pt.dmatrix("W1"), pt.dvector("b1")
    W2, b2 = pt.dmatrix("W2"), pt.dvector("b2")
    h = pt.tanh(pt.dot(X, W1) + b1)
    z = pt.dot(h, W2) + b2
    if one_hot:
        Y = pt.dmatrix("Y")
        loss = -(Y * pt.special.log_softmax(z, axis=1)).sum(axis=1).mean()
    else:
        Y = pt.lvector("y")
        loss = -pt.special.log_softmax(z, axis=1)[pt.arange(X.shape[0]), Y].mean()
    params = [W1, b1, W2, b2]
    return [X, Y] + params, [loss] + grad(loss, params)


def mlp_numpy(X, Y, W1, b1, W2, b2):
    """Loss and gradients by hand (Y one-hot)."""
    B = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    zs = z - z.max(axis=1, keepdims=True)
    logp = zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))
    loss = -(Y * logp).sum() / B
    dz = (np.exp(logp) - Y) / B
    dW2, db2 = h.T @ dz, dz.sum(0)
    da = (dz @ W2.T) * (1 - h ** 2)
    return loss, X.T @ da, da.sum(0), dW2, db2


def mlp_data(rng, B, n_in, n_hidden, n_out, scale=1.0):
    X = rng.standard_normal((B, n_in))
    labels = rng.integers(0, n_out, size=B)
    Y = np.eye(n_out)[labels]
    W1 = rng.standard_normal((n_in, n_hidden)) * scale / np.sqrt(n_in)
    W2 = rng.standard_normal((n_hidden, n_out)) * scale / np.sqrt(n_hidden)
    return X, Y, labels, W1, rng.standard_normal(n_hidden) * 0.1, W2, rng.standard_normal(n_out) * 0.1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("one_hot", [True, False])
def test_mlp_grad_matches_numpy_backprop(mode, one_hot):
    rng = np.random.default_rng(7)
    X, Y, labels, W1, b1, W2, b2 = mlp_data(rng, 16, 12, 8, 5)
    inputs, outputs = mlp_graph(12, 8, 5, one_hot)
    f = function(inputs, outputs, mode=mode)
    got = f(X, Y if one_hot else labels, W1, b1, W2, b2)
    want = mlp_numpy(X, Y, W1, b1, W2, b2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_mlp_grad_is_finite_where_logits_are_huge(mode):
    rng = np.random.default_rng(3)
    X, Y, labels, W1, b1, W2, b2 = mlp_data(rng, 8, 6, 5, 4, scale=1e4)  # logits ~ 1e4: exp overflows
    inputs, outputs = mlp_graph(6, 5, 4)
    got = function(inputs, outputs, mode=mode)(X, Y, W1, b1, W2, b2)
    want = mlp_numpy(X, Y, W1, b1, W2, b2)
    for g, w in zip(got, want):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)



@pytest.mark.parametrize("mode", MODES)
def test_logistic_regression_with_softplus_is_finite_at_tutorial_scale(mode):
    rng = np.random.default_rng(2882)
    N, feats = 400, 784
    X = rng.standard_normal((N, feats))  # w . x reaches about +-80: 1 - sigmoid rounds to 0
    Y = rng.integers(size=N, low=0, high=2).astype("float64")
    w0 = rng.standard_normal(feats)
    x, y = pt.dmatrix("x"), pt.dvector("y")
    w = et.shared(w0.copy(), name="w")
    b = et.shared(0.0, name="b")
    z = pt.dot(x, w) + b
    cost = (pt.softplus(-z) * y + pt.softplus(z) * (1 - y)).mean() + 0.01 * (w ** 2).sum()
    gw, gb = grad(cost, [w, b])
    function([x, y], [], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], mode=mode)(X, Y)
    want_w, want_b = logreg_numpy_step(X, Y, w0, 0.0)
    np.testing.assert_allclose(w.get_value(), want_w, rtol=1e-10)
    assert float(b.get_value()) == pytest.approx(want_b, rel=1e-10)

def test_logistic_regression_at_tutorial_scale_is_finite_when_optimized():
    rng = np.random.default_rng(2882)
    N, feats = 400, 784
    X = rng.standard_normal((N, feats))
    Y = rng.integers(size=N, low=0, high=2).astype("float64")
    w0 = rng.standard_normal(feats)
    x, y, w, b, prediction, xent, gw, gb = logreg_graph(w0, 0.0)
    got_w, got_b = function([x, y], [gw, gb], mode="NUMPY")(X, Y)
    want_w, want_b = logreg_numpy_step(X, Y, w0, 0.0)
    np.testing.assert_allclose(w0 - 0.1 * got_w, want_w, rtol=1e-9)
    assert -0.1 * float(got_b) == pytest.approx(want_b, rel=1e-9)
