"""The ``gp`` family of :mod:`bench_families`: the log marginal likelihood of a Gaussian process with a
squared-exponential kernel (300 points in 3 dimensions) and its gradient wrt the 3 log-hyperparameters,
through ``cholesky`` and ``solve_triangular``; NumPy eager with SciPy and the hand-written gradient
``0.5 tr((alpha alpha^T - K^-1) dK)``, and JAX ``value_and_grad``."""

from __future__ import annotations

import importlib

import numpy as np

LOG2PI = float(np.log(2 * np.pi))



def data(rng):
    n, d = 300, 3
    Z = rng.standard_normal((n, d))
    return {"Z": Z, "t": np.sin(Z.sum(axis=1)) + 0.1 * rng.standard_normal(n), "th": np.array([0.1, -0.2, -1.5])}


def kernel(M, Z, th, eye):
    """Squared-exponential kernel: log lengthscale th[0], log signal variance th[1], log noise variance th[2]."""
    sq = M.sum(Z * Z, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * (Z @ Z.T)
    return M.exp(th[1]) * M.exp(-0.5 * d2 / M.exp(2 * th[0])) + M.exp(th[2]) * eye


def graph(T, grad, i):
    """eqtensor's or PyTensor's graph (``T`` is ``eqtensor.tensor`` or ``pytensor.tensor``)."""
    sl = importlib.import_module(T.__name__ + ".slinalg")
    Z, t, th = i["Z"], i["t"], i["th"]
    L = sl.cholesky(kernel(T, Z, th, T.eye(Z.shape[0])))
    a = sl.solve_triangular(L, t, lower=True)
    lml = -0.5 * T.sum(a ** 2) - T.sum(T.log(T.diagonal(L))) - 0.5 * LOG2PI * t.shape[0]
    return [lml, grad(lml, th)]


def numpy_eager(d):
    import scipy.linalg as sl

    Z, t, th = d["Z"], d["t"], d["th"]
    n = len(t)
    sq = np.sum(Z * Z, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * (Z @ Z.T)
    kse = np.exp(th[1]) * np.exp(-0.5 * d2 / np.exp(2 * th[0]))
    L = sl.cholesky(kse + np.exp(th[2]) * np.eye(n), lower=True)
    a = sl.solve_triangular(L, t, lower=True)
    alpha = sl.solve_triangular(L.T, a, lower=False)
    lml = -0.5 * a @ a - np.sum(np.log(np.diag(L))) - 0.5 * LOG2PI * n
    W = np.outer(alpha, alpha) - sl.cho_solve((L, True), np.eye(n))  # d lml / dK = W / 2
    grads = [0.5 * np.sum(W * kse * d2) / np.exp(2 * th[0]), 0.5 * np.sum(W * kse), 0.5 * np.trace(W) * np.exp(th[2])]
    return [lml, np.array(grads)]


def jax_fn(jax, jnp):
    def lml(Z, t, th):
        L = jnp.linalg.cholesky(kernel(jnp, Z, th, jnp.eye(Z.shape[0])))
        a = jax.scipy.linalg.solve_triangular(L, t, lower=True)
        return -0.5 * jnp.sum(a ** 2) - jnp.sum(jnp.log(jnp.diagonal(L))) - 0.5 * LOG2PI * t.shape[0]

    vg = jax.value_and_grad(lml, argnums=2)
    return lambda Z, t, th: vg(Z, t, th)
