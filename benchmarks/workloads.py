"""The workloads of design.md's bar, each written once for eqtensor and PyTensor (same tensor API),
NumPy eager and JAX. Used by ``benchmarks/run.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.special as sps

try:
    from eqtensor.gradient import grad as eq_grad
except ImportError:  # the gradient module is optional while it is being built
    eq_grad = None


@dataclass
class Workload:
    name: str
    data: Callable  # rng -> dict of arrays
    graph: Callable  # (tensor module, grad, inputs dict, shared dict) -> (outputs, updates)
    inputs: Callable  # (T) -> dict name -> symbolic input
    numpy_eager: Callable | None = None  # data -> zero-argument call
    jax_function: Callable | None = None  # (jax, jnp, data) -> zero-argument call (jitted)
    error: Callable | None = None  # call -> worst relative error vs an accurate reference
    shared: tuple = ()  # names of data entries that are shared variables
    trust_input: bool = False
    calls: int = 1  # calls per timed unit
    min_time: float = 0.05
    compile_only: bool = False
    skip_reason: str = ""

    def build_function(self, T, grad, function, shared, mode, data):
        ins = self.inputs(T)
        sh = {k: shared(data[k].copy(), name=k) for k in self.shared}
        outs, updates = self.graph(T, grad, ins, sh)
        f = function(list(ins.values()), outs, updates=updates, mode=mode)
        f.trust_input = self.trust_input
        self._names = list(ins)
        return f

    def caller(self, f, data):
        args = [data[k] for k in self._names]
        if self.calls == 1:
            return lambda: f(*args)

        def many():
            for _ in range(self.calls):
                f(*args)

        return many


def _rel_err(got, ref):
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    if not np.all(np.isfinite(got)):
        return float("inf")
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)))


# ----------------------------------------------------------------------------- scalar_add
def _scalar_data(rng):
    return {"a": np.array(1.5), "b": np.array(2.25)}


def _scalar_jax(jax, jnp, d):
    f = jax.jit(lambda a, b: a + b)
    a, b = jnp.asarray(d["a"]), jnp.asarray(d["b"])
    return lambda: f(a, b).block_until_ready()


scalar_add = Workload(
    "scalar_add", _scalar_data,
    graph=lambda T, G, i, s: (i["a"] + i["b"], None),
    inputs=lambda T: {"a": T.dscalar("a"), "b": T.dscalar("b")},
    numpy_eager=lambda d: (lambda a=d["a"], b=d["b"]: np.add(a, b)),
    jax_function=_scalar_jax, trust_input=True, min_time=0.02)


# ----------------------------------------------------------------------------- elemwise_chain
def _chain(M, x, y):
    return M.exp(x) * M.sin(y) + M.log1p(x * x) - M.sqrt(abs(y) + 1) / (1 + M.exp(-x))


def _two_vectors(rng):
    return {"x": rng.standard_normal(1_000_000), "y": rng.standard_normal(1_000_000)}


def _jax_xy(expr):
    def make(jax, jnp, d):
        f = jax.jit(lambda x, y: expr(jnp, x, y))
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
        return lambda: f(x, y).block_until_ready()

    return make


elemwise_chain = Workload(
    "elemwise_chain", _two_vectors,
    graph=lambda T, G, i, s: (_chain(T, i["x"], i["y"]), None),
    inputs=lambda T: {"x": T.dvector("x"), "y": T.dvector("y")},
    numpy_eager=lambda d: (lambda: _chain(np, d["x"], d["y"])),
    jax_function=_jax_xy(_chain))


# ----------------------------------------------------------------------------- softplus
def _softplus_data(rng):
    return {"x": rng.uniform(-1000, 1000, 1_000_000)}


def _softplus_err(call):
    return _rel_err(call(), np.logaddexp(0.0, _softplus_data(np.random.default_rng(0))["x"]))


def _softplus_jax(jax, jnp, d):
    f = jax.jit(lambda x: jnp.log(1 + jnp.exp(x)))
    x = jnp.asarray(d["x"])
    return lambda: f(x).block_until_ready()


softplus = Workload(
    "softplus", _softplus_data,
    graph=lambda T, G, i, s: (T.log(1 + T.exp(i["x"])), None),
    inputs=lambda T: {"x": T.dvector("x")},
    numpy_eager=lambda d: (lambda: np.log(1 + np.exp(d["x"]))),
    jax_function=_softplus_jax, error=_softplus_err)


# ----------------------------------------------------------------------------- logsumexp_rows
def _lse_data(rng):
    return {"X": 800 + rng.standard_normal((2000, 2000))}


def _lse_err(call):
    return _rel_err(call(), sps.logsumexp(_lse_data(np.random.default_rng(0))["X"], axis=1))


def _lse_jax(jax, jnp, d):
    f = jax.jit(lambda X: jnp.log(jnp.sum(jnp.exp(X), axis=1)))
    X = jnp.asarray(d["X"])
    return lambda: f(X).block_until_ready()


logsumexp_rows = Workload(
    "logsumexp_rows", _lse_data,
    graph=lambda T, G, i, s: (T.log(T.sum(T.exp(i["X"]), axis=1)), None),
    inputs=lambda T: {"X": T.dmatrix("X")},
    numpy_eager=lambda d: (lambda: np.log(np.sum(np.exp(d["X"]), axis=1))),
    jax_function=_lse_jax, error=_lse_err)


# ----------------------------------------------------------------------------- gemm_like
def _gemm_data(rng):
    return {k: rng.standard_normal((500, 500)) for k in "ABC"}


def _gemm_jax(jax, jnp, d):
    f = jax.jit(lambda A, B, C: 0.5 * jnp.dot(A, B) + 2 * C)
    A, B, C = (jnp.asarray(d[k]) for k in "ABC")
    return lambda: f(A, B, C).block_until_ready()


gemm_like = Workload(
    "gemm_like", _gemm_data,
    graph=lambda T, G, i, s: (0.5 * T.dot(i["A"], i["B"]) + 2 * i["C"], None),
    inputs=lambda T: {k: T.dmatrix(k) for k in "ABC"},
    numpy_eager=lambda d: (lambda: 0.5 * np.dot(d["A"], d["B"]) + 2 * d["C"]),
    jax_function=_gemm_jax)


# ----------------------------------------------------------------------------- mlp_grad
def _mlp_data(rng):
    y = np.zeros((256, 10))
    y[np.arange(256), rng.integers(0, 10, 256)] = 1
    return {"X": rng.standard_normal((256, 784)), "Y": y, "W1": rng.standard_normal((784, 512)) * 0.03,
            "b1": np.zeros(512), "W2": rng.standard_normal((512, 10)) * 0.05, "b2": np.zeros(10)}


def _mlp_loss(M, X, Y, W1, b1, W2, b2, dot, mx, lse_sum):
    h = M.tanh(dot(X, W1) + b1)
    z = dot(h, W2) + b2
    z = z - mx(z)
    logp = z - M.log(lse_sum(M.exp(z)))
    return -M.mean(M.sum(Y * logp, axis=1))


def _mlp_graph(T, grad, i, s):
    loss = _mlp_loss(T, i["X"], i["Y"], i["W1"], i["b1"], i["W2"], i["b2"], T.dot,
                     lambda z: z.max(axis=1, keepdims=True), lambda e: e.sum(axis=1, keepdims=True))
    return [loss] + list(grad(loss, [i["W1"], i["b1"], i["W2"], i["b2"]])), None


def _mlp_jax(jax, jnp, d):
    def loss(W1, b1, W2, b2, X, Y):
        return _mlp_loss(jnp, X, Y, W1, b1, W2, b2, jnp.dot, lambda z: jnp.max(z, axis=1, keepdims=True),
                         lambda e: jnp.sum(e, axis=1, keepdims=True))

    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
    args = [jnp.asarray(d[k]) for k in ("W1", "b1", "W2", "b2", "X", "Y")]
    return lambda: jax.block_until_ready(f(*args))


mlp_grad = Workload(
    "mlp_grad", _mlp_data, graph=_mlp_graph,
    inputs=lambda T: {"X": T.dmatrix("X"), "Y": T.dmatrix("Y"), "W1": T.dmatrix("W1"), "b1": T.dvector("b1"),
                      "W2": T.dmatrix("W2"), "b2": T.dvector("b2")},
    jax_function=_mlp_jax)


# ----------------------------------------------------------------------------- logreg_train
def _logreg_data(rng):
    n, feats = 400, 784
    return {"x": rng.standard_normal((n, feats)) / np.sqrt(feats), "y": rng.integers(0, 2, n).astype(float),
            "w": rng.standard_normal(feats) * 0.01, "b": np.array(0.0)}


def _logreg_graph(T, grad, i, s):
    x, y, w, b = i["x"], i["y"], s["w"], s["b"]
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = grad(cost, [w, b])
    return [prediction, xent], [(w, w - 0.1 * gw), (b, b - 0.1 * gb)]


def _logreg_jax(jax, jnp, d):
    def cost(w, b, x, y):
        p_1 = 1 / (1 + jnp.exp(-jnp.dot(x, w) - b))
        xent = -y * jnp.log(p_1) - (1 - y) * jnp.log(1 - p_1)
        return xent.mean() + 0.01 * (w**2).sum(), (p_1 > 0.5, xent)

    @jax.jit
    def step(w, b, x, y):
        (_, aux), (gw, gb) = jax.value_and_grad(cost, argnums=(0, 1), has_aux=True)(w, b, x, y)
        return w - 0.1 * gw, b - 0.1 * gb, aux

    x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
    state = [jnp.asarray(d["w"]), jnp.asarray(d["b"])]

    def run():
        for _ in range(100):
            state[0], state[1], aux = step(state[0], state[1], x, y)
        jax.block_until_ready(state)

    return run


logreg_train = Workload(
    "logreg_train (100 calls)", _logreg_data, graph=_logreg_graph,
    inputs=lambda T: {"x": T.dmatrix("x"), "y": T.dvector("y")}, shared=("w", "b"), calls=100,
    jax_function=_logreg_jax)


# ----------------------------------------------------------------------------- compile_500
def _big_graph(T, x, y, n=500):
    unary = [T.exp, T.sin, T.tanh, T.cos, lambda v: v * 0.5, lambda v: v + 1.0]
    vals = [x, y]
    k = 0
    while k < n:
        a = vals[(k * 7) % len(vals)]
        b = vals[(k * 13 + 1) % len(vals)]
        if k % 3 == 0:
            v = unary[k % len(unary)](a)
        elif k % 3 == 1:
            v = a * b
        else:
            v = a - b * 0.25
        vals.append(v)
        vals = vals[-40:]
        k += 1
    return T.tanh(vals[-1]) + T.tanh(vals[-2])


compile_500 = Workload(
    "compile_500_ops", lambda rng: {"x": rng.standard_normal(1000), "y": rng.standard_normal(1000)},
    graph=lambda T, G, i, s: (_big_graph(T, i["x"], i["y"]), None),
    inputs=lambda T: {"x": T.dvector("x"), "y": T.dvector("y")},
    jax_function=_jax_xy(lambda M, x, y: _big_graph(M, x, y)), compile_only=True)

WORKLOADS = [scalar_add, elemwise_chain, softplus, logsumexp_rows, gemm_like, mlp_grad, logreg_train, compile_500]
if eq_grad is None:
    for _w in (mlp_grad, logreg_train):
        _w.skip_reason = "needs eqtensor.gradient.grad"
