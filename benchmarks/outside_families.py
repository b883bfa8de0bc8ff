"""Workloads outside bench_families' list: models PyMC/PyTensor/JAX users run, loss + gradient.

    python benchmarks/outside_families.py [--repeats 9] [--only logreg gmm ...]
                                          [--threads 1 default] [--json out.json]

Each workload is written once for eqtensor and PyTensor (C and Numba modes; they share the tensor
API), plus NumPy eager with a hand-written gradient and JAX ``jit`` of ``value_and_grad``. The method
is :mod:`bench_families`' (its ``Family`` record, its child process per system, its timing, its check
of every system against NumPy float64 before timing, its table):

- ``logreg``: logistic-regression log-likelihood ``sum(y z - softplus(z))``, ``z = X w + b``
  (1e5 x 50, float64) + gradients of w and b;
- ``poisson_glm``: Poisson GLM with log link, ``sum(y eta - exp(eta) - gammaln(y + 1))`` with integer
  counts (1e5 x 20, float64) + gradients of w and b;
- ``gmm``: 1-D Gaussian-mixture log-likelihood by ``logsumexp`` over 8 components of 1e5 points
  (an (N,1) x (1,K) broadcast) + gradients of the means, log-sigmas and weight logits;
- ``attention``: scaled dot-product attention ``softmax(Q K^T / sqrt d) V`` (float32, 8 heads of
  256 x 64, batched ``matmul``) and the gradients of ``sum(out * G)`` wrt Q, K, V;
- ``kalman``: local-level Kalman-filter log-likelihood of 1000 observations with ``scan`` (scalar
  state mean and variance) + gradients of the log state and observation noise variances;
- ``student_t``: Student-t log-density over 1e6 float64 observations (``gammaln``, ``log1p``) +
  gradients of mu, log sigma and log nu (``digamma`` in the gradient);
- ``rbf_kernel``: squared-exponential kernel matrix ``exp(-0.5 (x_i - z_j)^2 / l^2)`` over an
  (N,1) x (1,M) broadcast (2000 x 2000, float32) and the gradients of ``sum(K * G)`` wrt x and z.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import scipy.special as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_families import LOG2PI, Family, main as run_families  # noqa: E402


def _scan(T):
    """``eqtensor.scan`` or ``pytensor.scan``, for the package whose tensor module is ``T``."""
    return importlib.import_module(T.__name__.split(".")[0]).scan


def _values_and_grads(jax, fn, argnums):
    """``fn``'s value and gradients wrt ``argnums``, as one flat tuple."""
    vg = jax.value_and_grad(fn, argnums=argnums)

    def f(*args):
        v, g = vg(*args)
        return (v, *g)

    return f


# ----------------------------------------------------------------------------- logreg
def _logreg_data(rng):
    n, k = 100_000, 50
    X = rng.standard_normal((n, k))
    w_true = rng.standard_normal(k) * 0.3
    y = (rng.random(n) < sp.expit(X @ w_true + 0.2)).astype("float64")
    return {"X": X, "y": y, "w": rng.standard_normal(k) * 0.1, "b": np.array(0.1)}


def _logreg_graph(T, grad, i):
    X, y, w, b = i["X"], i["y"], i["w"], i["b"]
    z = T.dot(X, w) + b
    ll = T.sum(y * z - T.softplus(z))
    return [ll, *grad(ll, [w, b])]


def _logreg_numpy(d):
    X, y, w, b = d["X"], d["y"], d["w"], d["b"]
    z = X @ w + b
    r = y - sp.expit(z)
    return [np.sum(y * z - np.logaddexp(0, z)), X.T @ r, np.sum(r)]


def _logreg_jax(jax, jnp):
    def ll(X, y, w, b):
        z = X @ w + b
        return jnp.sum(y * z - jax.nn.softplus(z))

    return _values_and_grads(jax, ll, (2, 3))


logreg = Family(
    "logreg", _logreg_data,
    inputs=lambda T: {"X": T.dmatrix("X"), "y": T.dvector("y"), "w": T.dvector("w"), "b": T.dscalar("b")},
    graph=_logreg_graph, numpy=_logreg_numpy, jax=_logreg_jax, rtol=1e-9)


# ----------------------------------------------------------------------------- poisson_glm
def _poisson_data(rng):
    n, k = 100_000, 20
    X = rng.standard_normal((n, k)) * 0.3
    y = rng.poisson(np.exp(X @ (rng.standard_normal(k) * 0.3) + 0.5)).astype("int64")
    return {"X": X, "y": y, "w": rng.standard_normal(k) * 0.1, "b": np.array(0.3)}


def _poisson_graph(T, grad, i):
    X, y, w, b = i["X"], i["y"], i["w"], i["b"]
    eta = T.dot(X, w) + b
    ll = T.sum(y * eta - T.exp(eta) - T.gammaln(y + 1))
    return [ll, *grad(ll, [w, b])]


def _poisson_numpy(d):
    X, y, w, b = d["X"], d["y"], d["w"], d["b"]
    eta = X @ w + b
    lam = np.exp(eta)
    r = y - lam
    return [np.sum(y * eta - lam - sp.gammaln(y + 1)), X.T @ r, np.sum(r)]


def _poisson_jax(jax, jnp):
    def ll(X, y, w, b):
        eta = X @ w + b
        return jnp.sum(y * eta - jnp.exp(eta) - jax.scipy.special.gammaln(y + 1))

    return _values_and_grads(jax, ll, (2, 3))


poisson_glm = Family(
    "poisson_glm", _poisson_data,
    inputs=lambda T: {"X": T.dmatrix("X"), "y": T.lvector("y"), "w": T.dvector("w"), "b": T.dscalar("b")},
    graph=_poisson_graph, numpy=_poisson_numpy, jax=_poisson_jax, rtol=1e-9)


# ----------------------------------------------------------------------------- gmm
def _gmm_data(rng):
    n, k = 100_000, 8
    centers = np.linspace(-4, 4, k)
    x = centers[rng.integers(0, k, n)] + rng.standard_normal(n) * 0.6
    return {"x": x, "mu": centers + rng.standard_normal(k) * 0.3, "log_sigma": np.full(k, -0.3) + rng.random(k) * 0.2,
            "w_logits": rng.standard_normal(k) * 0.1}


def _gmm_terms(M, log_softmax, x, mu, ls, wl):
    """Per point and component: log weight + normal log-density, shape (N, K)."""
    z = (x[:, None] - mu[None, :]) * M.exp(-ls)[None, :]
    return log_softmax(wl)[None, :] - 0.5 * z * z - ls[None, :] - 0.5 * LOG2PI


def _gmm_graph(T, grad, i):
    x, mu, ls, wl = i["x"], i["mu"], i["log_sigma"], i["w_logits"]
    lp = _gmm_terms(T, lambda v: T.special.log_softmax(v, axis=-1), x, mu, ls, wl)
    ll = T.sum(T.logsumexp(lp, axis=1))
    return [ll, *grad(ll, [mu, ls, wl])]


def _gmm_numpy(d):
    x, mu, ls, wl = d["x"], d["mu"], d["log_sigma"], d["w_logits"]
    lp = _gmm_terms(np, lambda v: v - sp.logsumexp(v), x, mu, ls, wl)
    lse = sp.logsumexp(lp, axis=1, keepdims=True)
    r = np.exp(lp - lse)  # responsibilities
    z = (x[:, None] - mu) * np.exp(-ls)
    return [np.sum(lse), np.sum(r * z, axis=0) * np.exp(-ls), np.sum(r * (z * z - 1), axis=0),
            np.sum(r, axis=0) - len(x) * sp.softmax(wl)]


def _gmm_jax(jax, jnp):
    def ll(x, mu, ls, wl):
        lp = _gmm_terms(jnp, jax.nn.log_softmax, x, mu, ls, wl)
        return jnp.sum(jax.scipy.special.logsumexp(lp, axis=1))

    return _values_and_grads(jax, ll, (1, 2, 3))


gmm = Family(
    "gmm", _gmm_data,
    inputs=lambda T: {"x": T.dvector("x"), "mu": T.dvector("mu"), "log_sigma": T.dvector("log_sigma"),
                      "w_logits": T.dvector("w_logits")},
    graph=_gmm_graph, numpy=_gmm_numpy, jax=_gmm_jax, rtol=1e-8)


# ----------------------------------------------------------------------------- attention
def _attention_data(rng):
    shape = (8, 256, 64)
    return {k: rng.standard_normal(shape).astype("float32") for k in ("Q", "K", "V", "G")}


def _attention_graph(T, grad, i):
    Q, K, V, G = i["Q"], i["K"], i["V"], i["G"]
    scale = np.float32(1 / np.sqrt(64))
    P = T.special.softmax(T.matmul(Q, K.transpose(0, 2, 1)) * scale, axis=-1)
    loss = T.sum(T.matmul(P, V) * G)
    return [loss, *grad(loss, [Q, K, V])]


def _attention_numpy(d):
    Q, K, V, G = d["Q"], d["K"], d["V"], d["G"]
    c = 1 / np.sqrt(Q.shape[-1])
    P = sp.softmax(Q @ K.transpose(0, 2, 1) * c, axis=-1)
    gP = G @ V.transpose(0, 2, 1)
    gS = P * (gP - np.sum(gP * P, axis=-1, keepdims=True)) * c
    return [np.sum((P @ V) * G), gS @ K, gS.transpose(0, 2, 1) @ Q, P.transpose(0, 2, 1) @ G]


def _attention_jax(jax, jnp):
    def loss(Q, K, V, G):
        P = jax.nn.softmax(Q @ jnp.swapaxes(K, 1, 2) * jnp.float32(1 / np.sqrt(64)), axis=-1)
        return jnp.sum((P @ V) * G)

    return _values_and_grads(jax, loss, (0, 1, 2))


attention = Family(
    "attention", _attention_data,
    inputs=lambda T: {k: T.tensor3(k, dtype="float32") for k in ("Q", "K", "V", "G")},
    graph=_attention_graph, numpy=_attention_numpy, jax=_attention_jax, rtol=1e-4)


# ----------------------------------------------------------------------------- kalman
def _kalman_data(rng):
    steps = 1000
    level = np.cumsum(rng.standard_normal(steps) * 0.3)
    return {"y": level + rng.standard_normal(steps) * 0.8, "log_q": np.array(-2.0), "log_r": np.array(-0.5)}


def _kalman_step(M, y, m, P, q, r):
    """One filter step of the local-level model: next mean, next variance, log-likelihood term."""
    Pp = P + q
    S = Pp + r
    v = y - m
    K = Pp / S
    return m + K * v, Pp * (1 - K), -0.5 * (LOG2PI + M.log(S) + v * v / S)


def _kalman_graph(T, grad, i):
    y, lq, lr = i["y"], i["log_q"], i["log_r"]
    _, _, lls = _scan(T)(lambda yt, m, P, q, r: _kalman_step(T, yt, m, P, q, r), sequences=[y],
                         outputs_info=[T.constant(np.float64(0.0)), T.constant(np.float64(1.0)), None],
                         non_sequences=[T.exp(lq), T.exp(lr)], return_updates=False)
    ll = T.sum(lls)
    return [ll, *grad(ll, [lq, lr])]


def _kalman_numpy(d):
    """The filter in Python floats with forward-mode derivatives wrt (log q, log r) carried along."""
    q, r = float(np.exp(d["log_q"])), float(np.exp(d["log_r"]))
    m, P, ll = 0.0, 1.0, 0.0
    dm, dP, dll = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    dq, dr = (q, 0.0), (0.0, r)
    for yt in d["y"].tolist():
        Pp = P + q
        S = Pp + r
        v = yt - m
        K = Pp / S
        ll += -0.5 * (LOG2PI + np.log(S) + v * v / S)
        for j in (0, 1):
            dPp = dP[j] + dq[j]
            dS = dPp + dr[j]
            dv = -dm[j]
            dK = (dPp * S - Pp * dS) / (S * S)
            dll[j] += -0.5 * (dS / S + 2 * v * dv / S - v * v * dS / (S * S))
            dm[j] += dK * v + K * dv
            dP[j] = dPp * (1 - K) - Pp * dK
        m, P = m + K * v, Pp * (1 - K)
    return [ll, dll[0], dll[1]]


def _kalman_jax(jax, jnp):
    def ll(y, lq, lr):
        q, r = jnp.exp(lq), jnp.exp(lr)

        def step(carry, yt):
            m, P, lls = _kalman_step(jnp, yt, *carry, q, r)
            return (m, P), lls

        _, lls = jax.lax.scan(step, (jnp.zeros_like(lq), jnp.ones_like(lq)), y)
        return jnp.sum(lls)

    return _values_and_grads(jax, ll, (1, 2))


kalman = Family(
    "kalman", _kalman_data,
    inputs=lambda T: {"y": T.dvector("y"), "log_q": T.dscalar("log_q"), "log_r": T.dscalar("log_r")},
    graph=_kalman_graph, numpy=_kalman_numpy, jax=_kalman_jax, rtol=1e-9)


# ----------------------------------------------------------------------------- student_t
def _student_data(rng):
    return {"y": rng.standard_t(4.0, 1_000_000) * 1.5 + 0.3, "mu": np.array(0.2), "log_sigma": np.array(0.3),
            "log_nu": np.array(1.2)}


def _student_lp(M, gammaln, y, mu, ls, lnu):
    nu = M.exp(lnu)
    z = (y - mu) * M.exp(-ls)
    return (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * M.log(nu * np.pi) - ls
            - (nu + 1) / 2 * M.log1p(z * z / nu))


def _student_graph(T, grad, i):
    lp = T.sum(_student_lp(T, T.gammaln, i["y"], i["mu"], i["log_sigma"], i["log_nu"]))
    return [lp, *grad(lp, [i["mu"], i["log_sigma"], i["log_nu"]])]


def _student_numpy(d):
    y, mu, ls, lnu = d["y"], d["mu"], d["log_sigma"], d["log_nu"]
    nu, s, n = np.exp(lnu), np.exp(ls), len(y)
    z = (y - mu) / s
    a = z * z / nu
    w = (nu + 1) / (nu * (1 + a))
    lp = np.sum(_student_lp(np, sp.gammaln, y, mu, ls, lnu))
    dnu = (n * 0.5 * (sp.digamma((nu + 1) / 2) - sp.digamma(nu / 2) - 1 / nu)
           + np.sum(0.5 * (w * a - np.log1p(a))))
    return [lp, np.sum(w * z) / s, np.sum(w * z * z) - n, dnu * nu]


def _student_jax(jax, jnp):
    def lp(y, mu, ls, lnu):
        return jnp.sum(_student_lp(jnp, jax.scipy.special.gammaln, y, mu, ls, lnu))

    return _values_and_grads(jax, lp, (1, 2, 3))


student_t = Family(
    "student_t", _student_data,
    inputs=lambda T: {"y": T.dvector("y"), "mu": T.dscalar("mu"), "log_sigma": T.dscalar("log_sigma"),
                      "log_nu": T.dscalar("log_nu")},
    graph=_student_graph, numpy=_student_numpy, jax=_student_jax, rtol=1e-8)


# ----------------------------------------------------------------------------- rbf_kernel
INV_L2 = np.float32(1 / 0.7 ** 2)


def _rbf_data(rng):
    n = 2000
    return {"x": rng.standard_normal(n).astype("float32"), "z": rng.standard_normal(n).astype("float32"),
            "G": rng.standard_normal((n, n)).astype("float32")}


def _rbf(M, x, z):
    d = x[:, None] - z[None, :]
    return M.exp(np.float32(-0.5) * INV_L2 * d * d)


def _rbf_graph(T, grad, i):
    K = _rbf(T, i["x"], i["z"])
    return [K, *grad(T.sum(K * i["G"]), [i["x"], i["z"]])]


def _rbf_numpy(d):
    x, z = d["x"], d["z"]
    K = _rbf(np, x, z)
    gd = -d["G"] * K * (x[:, None] - z[None, :]) * INV_L2
    return [K, gd.sum(axis=1), -gd.sum(axis=0)]


def _rbf_jax(jax, jnp):
    def f(x, z, G):
        K, vjp = jax.vjp(lambda x, z: _rbf(jnp, x, z), x, z)
        return (K, *vjp(G))

    return f


rbf_kernel = Family(
    "rbf_kernel", _rbf_data,
    inputs=lambda T: {"x": T.vector("x", dtype="float32"), "z": T.vector("z", dtype="float32"),
                      "G": T.matrix("G", dtype="float32")},
    graph=_rbf_graph, numpy=_rbf_numpy, jax=_rbf_jax, rtol=1e-4)

FAMILIES = [logreg, poisson_glm, gmm, attention, kalman, student_t, rbf_kernel]

if __name__ == "__main__":
    run_families(families=FAMILIES, script=__file__, description=__doc__)
