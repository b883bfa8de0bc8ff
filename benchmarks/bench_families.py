"""Workload families PyMC/PyTensor/JAX users run: loss + gradient of common models.

    python benchmarks/bench_families.py [--repeats 9] [--only softmax_xent hierarchical ...]
                                        [--threads 1 default] [--json out.json]

Families (each written once for eqtensor and PyTensor, which share the tensor API, plus NumPy eager
with hand-written gradients and JAX ``value_and_grad``):

- ``softmax_xent``: float32 softmax cross-entropy with integer labels of a linear head
  (batch 512, 128 features, 1000 classes), loss + gradients of W and b;
- ``hierarchical``: ``mu[idx]`` normal log-density over 1e6 float64 observations in 1000 groups
  with a normal prior on ``mu``, + gradients of mu, mu0, log sigma, log tau;
- ``normal_logp``: PyMC-style normal log-density over 1e6 float64 observations + gradients of mu
  and log sigma;
- ``rownorm``: float32 row normalization ``(x - mean) / sqrt(var + eps)`` (4096 x 256) and the
  gradient of ``sum(out * g)``;
- ``mlp``: float32 relu MLP (256 x 784 -> 512 -> 10) cross-entropy loss + gradients of the four
  parameters;
- ``rnn``: a tanh RNN with ``scan`` (100 steps, batch 32, 32 inputs, 64 hidden units, float64),
  forward: the last state and the sum of all states;
- ``gp``: Gaussian-process log marginal likelihood with a squared-exponential kernel (300 points in 3
  dimensions; ``cholesky``, ``solve_triangular``) + gradient of the 3 log-hyperparameters;
- ``scalar20``: a 20-op float64 scalar expression called with ``np.float64`` arguments.

Each system (eqtensor C, NumPy eager, PyTensor C/Numba and JAX jit when importable) runs in its own
process, on the same data (one seed): with several systems in one process, JAX's CPU runtime keeps
worker threads spinning after its calls, which slowed the next system's multi-threaded calls by
~25% (softmax_xent, eqtensor C with default threads: 2.33 -> 2.91 ms); every system's outputs are checked against NumPy eager (float64) before it is
timed. Times: median, interquartile range and minimum of the wall time per call over ``repeats``
runs (each run long enough to time), and the median process CPU time per call (on a loaded machine
the steadier figure for one-thread runs; with several threads it adds up the threads).
Thread settings run in separate child processes (``--threads 1``: every library limited to one
thread through its environment variables, set before import, and the process pinned to one core —
JAX 0.10's CPU runtime runs a second thread whatever ``XLA_FLAGS`` say, which made its
"one-thread" wall times two-thread ones; ``default``: nothing set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import eqtensor as et  # noqa: E402
from eqtensor import tensor as ept  # noqa: E402
import gp_family  # noqa: E402
from timing import fmt_time, summary  # noqa: E402

ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "EQTENSOR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}

LOG2PI = float(np.log(2 * np.pi))


def _one_core():
    """Pin the calling (child) process to one core of those it may use."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


@dataclass
class Family:
    name: str
    data: Callable          # rng -> dict of arrays (the order of ``inputs``)
    inputs: Callable        # T -> dict name -> symbolic input
    graph: Callable         # (T, grad, inputs) -> list of outputs
    numpy: Callable         # dict -> list of outputs (hand-written gradients)
    jax: Callable           # (jax, jnp) -> function of the inputs returning the outputs (to jit)
    rtol: float = 1e-9
    scalar_args: bool = False  # call with np.float64 scalars instead of 0-d arrays


# ----------------------------------------------------------------------------- softmax_xent
def _xent_data(rng):
    n, k, c = 512, 128, 1000
    return {"X": rng.standard_normal((n, k)).astype("float32"),
            "W": (rng.standard_normal((k, c)) * 0.1).astype("float32"),
            "b": (rng.standard_normal(c) * 0.1).astype("float32"),
            "y": rng.integers(0, c, n).astype("int64")}


def _xent_graph(T, grad, i):
    X, W, b, y = i["X"], i["W"], i["b"], i["y"]
    lp = T.special.log_softmax(T.dot(X, W) + b, axis=1)
    loss = -T.mean(lp[T.arange(y.shape[0]), y])
    return [loss, *grad(loss, [W, b])]


def _log_softmax_np(z):
    m = z.max(axis=1, keepdims=True)
    t = z - m
    return t - np.log(np.exp(t).sum(axis=1, keepdims=True))


def _xent_numpy(d):
    X, W, b, y = d["X"], d["W"], d["b"], d["y"]
    n = len(y)
    lp = _log_softmax_np(X @ W + b)
    loss = -lp[np.arange(n), y].mean()
    g = np.exp(lp)
    g[np.arange(n), y] -= 1
    g /= n
    return [loss, X.T @ g, g.sum(axis=0)]


def _xent_jax(jax, jnp):
    def loss(W, b, X, y):
        lp = jax.nn.log_softmax(X @ W + b, axis=1)
        return -jnp.mean(lp[jnp.arange(y.shape[0]), y])

    vg = jax.value_and_grad(loss, argnums=(0, 1))

    def f(X, W, b, y):
        v, (gw, gb) = vg(W, b, X, y)
        return v, gw, gb

    return f


softmax_xent = Family(
    "softmax_xent", _xent_data,
    inputs=lambda T: {"X": T.matrix("X", dtype="float32"), "W": T.matrix("W", dtype="float32"),
                      "b": T.vector("b", dtype="float32"), "y": T.vector("y", dtype="int64")},
    graph=_xent_graph, numpy=_xent_numpy, jax=_xent_jax, rtol=2e-4)


# ----------------------------------------------------------------------------- hierarchical
def _hier_data(rng):
    n, g = 1_000_000, 1000
    idx = rng.integers(0, g, n).astype("int64")
    mu_true = rng.standard_normal(g)
    return {"mu": rng.standard_normal(g) * 0.5, "mu0": np.array(0.1), "log_sigma": np.array(-0.2),
            "log_tau": np.array(0.3), "y": mu_true[idx] + rng.standard_normal(n) * 0.8, "idx": idx}


def _normal_lp(M, x, mu, log_s):
    z = (x - mu) * M.exp(-log_s)
    return -0.5 * z * z - log_s - 0.5 * LOG2PI


def _hier_graph(T, grad, i):
    mu, mu0, ls, lt, y, idx = (i[k] for k in ("mu", "mu0", "log_sigma", "log_tau", "y", "idx"))
    logp = T.sum(_normal_lp(T, y, mu[idx], ls)) + T.sum(_normal_lp(T, mu, mu0, lt))
    return [logp, *grad(logp, [mu, mu0, ls, lt])]


def _hier_numpy(d):
    mu, mu0, ls, lt, y, idx = (d[k] for k in ("mu", "mu0", "log_sigma", "log_tau", "y", "idx"))
    s, t = np.exp(ls), np.exp(lt)
    r = (y - mu[idx]) / s
    q = (mu - mu0) / t
    logp = np.sum(-0.5 * r * r - ls - 0.5 * LOG2PI) + np.sum(-0.5 * q * q - lt - 0.5 * LOG2PI)
    gmu = np.bincount(idx, weights=r / s, minlength=len(mu)) - q / t
    return [logp, gmu, np.sum(q / t), np.sum(r * r) - len(y), np.sum(q * q) - len(mu)]


def _hier_jax(jax, jnp):
    def logp(mu, mu0, ls, lt, y, idx):
        return jnp.sum(_normal_lp(jnp, y, mu[idx], ls)) + jnp.sum(_normal_lp(jnp, mu, mu0, lt))

    vg = jax.value_and_grad(logp, argnums=(0, 1, 2, 3))

    def f(mu, mu0, ls, lt, y, idx):
        v, g = vg(mu, mu0, ls, lt, y, idx)
        return (v, *g)

    return f


hierarchical = Family(
    "hierarchical", _hier_data,
    inputs=lambda T: {"mu": T.dvector("mu"), "mu0": T.dscalar("mu0"), "log_sigma": T.dscalar("log_sigma"),
                      "log_tau": T.dscalar("log_tau"), "y": T.dvector("y"), "idx": T.lvector("idx")},
    graph=_hier_graph, numpy=_hier_numpy, jax=_hier_jax, rtol=1e-8)


# ----------------------------------------------------------------------------- normal_logp
def _normal_data(rng):
    return {"mu": np.array(0.3), "log_sigma": np.array(0.1), "y": rng.standard_normal(1_000_000) * 1.2 + 0.2}


def _normal_graph(T, grad, i):
    mu, ls, y = i["mu"], i["log_sigma"], i["y"]
    logp = T.sum(_normal_lp(T, y, mu, ls))
    return [logp, *grad(logp, [mu, ls])]


def _normal_numpy(d):
    mu, ls, y = d["mu"], d["log_sigma"], d["y"]
    s = np.exp(ls)
    r = (y - mu) / s
    return [np.sum(-0.5 * r * r - ls - 0.5 * LOG2PI), np.sum(r) / s, np.sum(r * r) - len(y)]


def _normal_jax(jax, jnp):
    vg = jax.value_and_grad(lambda mu, ls, y: jnp.sum(_normal_lp(jnp, y, mu, ls)), argnums=(0, 1))

    def f(mu, ls, y):
        v, g = vg(mu, ls, y)
        return (v, *g)

    return f


normal_logp = Family(
    "normal_logp", _normal_data,
    inputs=lambda T: {"mu": T.dscalar("mu"), "log_sigma": T.dscalar("log_sigma"), "y": T.dvector("y")},
    graph=_normal_graph, numpy=_normal_numpy, jax=_normal_jax, rtol=1e-8)


# ----------------------------------------------------------------------------- rownorm
EPS = 1e-5


def _rownorm_data(rng):
    return {"x": (rng.standard_normal((4096, 256)) * 2 + 1).astype("float32"),
            "g": rng.standard_normal((4096, 256)).astype("float32")}


def _rownorm_graph(T, grad, i):
    x, g = i["x"], i["g"]
    mean = T.mean(x, axis=1, keepdims=True)
    var = T.var(x, axis=1, keepdims=True)
    out = (x - mean) / T.sqrt(var + np.float32(EPS))
    return [out, grad(T.sum(out * g), x)]


def _rownorm_numpy(d):
    x, g = d["x"], d["g"]
    n = x.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    inv = 1 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + np.float32(EPS))
    out = xc * inv
    gx = inv * (g - g.mean(axis=1, keepdims=True) - out * (g * out).sum(axis=1, keepdims=True) / n)
    return [out, gx]


def _rownorm_jax(jax, jnp):
    def norm(x):
        mean = jnp.mean(x, axis=1, keepdims=True)
        var = jnp.var(x, axis=1, keepdims=True)
        return (x - mean) / jnp.sqrt(var + jnp.float32(EPS))

    def f(x, g):
        out, vjp = jax.vjp(norm, x)
        return out, vjp(g)[0]

    return f


rownorm = Family(
    "rownorm", _rownorm_data,
    inputs=lambda T: {"x": T.matrix("x", dtype="float32"), "g": T.matrix("g", dtype="float32")},
    graph=_rownorm_graph, numpy=_rownorm_numpy, jax=_rownorm_jax, rtol=1e-3)


# ----------------------------------------------------------------------------- mlp
def _mlp_data(rng):
    return {"X": rng.standard_normal((256, 784)).astype("float32"), "y": rng.integers(0, 10, 256).astype("int64"),
            "W1": (rng.standard_normal((784, 512)) * 0.03).astype("float32"), "b1": np.zeros(512, "float32"),
            "W2": (rng.standard_normal((512, 10)) * 0.05).astype("float32"), "b2": np.zeros(10, "float32")}


def _mlp_graph(T, grad, i):
    X, y, W1, b1, W2, b2 = (i[k] for k in ("X", "y", "W1", "b1", "W2", "b2"))
    h = T.maximum(T.dot(X, W1) + b1, 0)
    lp = T.special.log_softmax(T.dot(h, W2) + b2, axis=1)
    loss = -T.mean(lp[T.arange(y.shape[0]), y])
    return [loss, *grad(loss, [W1, b1, W2, b2])]


def _mlp_numpy(d):
    X, y, W1, b1, W2, b2 = (d[k] for k in ("X", "y", "W1", "b1", "W2", "b2"))
    n = len(y)
    a = X @ W1 + b1
    h = np.maximum(a, 0)
    lp = _log_softmax_np(h @ W2 + b2)
    loss = -lp[np.arange(n), y].mean()
    gz = np.exp(lp)
    gz[np.arange(n), y] -= 1
    gz /= n
    gh = (gz @ W2.T) * (a > 0)
    return [loss, X.T @ gh, gh.sum(axis=0), h.T @ gz, gz.sum(axis=0)]


def _mlp_jax(jax, jnp):
    def loss(W1, b1, W2, b2, X, y):
        h = jnp.maximum(X @ W1 + b1, 0)
        lp = jax.nn.log_softmax(h @ W2 + b2, axis=1)
        return -jnp.mean(lp[jnp.arange(y.shape[0]), y])

    vg = jax.value_and_grad(loss, argnums=(0, 1, 2, 3))

    def f(X, y, W1, b1, W2, b2):
        v, g = vg(W1, b1, W2, b2, X, y)
        return (v, *g)

    return f


mlp = Family(
    "mlp", _mlp_data,
    inputs=lambda T: {"X": T.matrix("X", dtype="float32"), "y": T.vector("y", dtype="int64"),
                      "W1": T.matrix("W1", dtype="float32"), "b1": T.vector("b1", dtype="float32"),
                      "W2": T.matrix("W2", dtype="float32"), "b2": T.vector("b2", dtype="float32")},
    graph=_mlp_graph, numpy=_mlp_numpy, jax=_mlp_jax, rtol=1e-3)


# ----------------------------------------------------------------------------- rnn
def _rnn_data(rng):
    steps, batch, nin, nh = 100, 32, 32, 64
    return {"xs": rng.standard_normal((steps, batch, nin)), "h0": np.zeros((batch, nh)),
            "W": rng.standard_normal((nin, nh)) * 0.2, "U": rng.standard_normal((nh, nh)) * 0.1,
            "b": rng.standard_normal(nh) * 0.1}


def _rnn_graph(T, grad, i):
    scan = sys.modules[T.__name__.split(".")[0]].scan  # eqtensor.scan / pytensor.scan

    def step(x, h, W, U, b):
        return T.tanh(T.dot(x, W) + T.dot(h, U) + b)

    hs = scan(step, sequences=[i["xs"]], outputs_info=[i["h0"]], non_sequences=[i["W"], i["U"], i["b"]],
              return_updates=False)
    return [hs[-1], T.sum(hs)]


def _rnn_numpy(d):
    h, total = d["h0"], 0.0
    for x in d["xs"]:
        h = np.tanh(x @ d["W"] + h @ d["U"] + d["b"])
        total += h.sum()
    return [h, total]


def _rnn_jax(jax, jnp):
    def f(xs, h0, W, U, b):
        def step(h, x):
            h = jnp.tanh(x @ W + h @ U + b)
            return h, h

        h, hs = jax.lax.scan(step, h0, xs)
        return h, jnp.sum(hs)

    return f


rnn = Family(
    "rnn", _rnn_data,
    inputs=lambda T: {"xs": T.tensor3("xs"), "h0": T.dmatrix("h0"), "W": T.dmatrix("W"), "U": T.dmatrix("U"),
                      "b": T.dvector("b")},
    graph=_rnn_graph, numpy=_rnn_numpy, jax=_rnn_jax, rtol=1e-9)


# ----------------------------------------------------------------------------- gp (benchmarks/gp_family.py)
gp = Family(
    "gp", gp_family.data, inputs=lambda T: {"Z": T.dmatrix("Z"), "t": T.dvector("t"), "th": T.dvector("th")},
    graph=gp_family.graph, numpy=gp_family.numpy_eager, jax=gp_family.jax_fn, rtol=1e-7)


# ----------------------------------------------------------------------------- scalar20
def _scalar20(M, a, b, c):
    u = a * b + c                      # 2
    v = M.exp(-a) * u                  # 3
    w = M.sin(b) * M.cos(c)            # 3
    z = M.log1p(a * a) / (1 + b * b)   # 5
    t = M.sqrt(c * c + 1) * M.tanh(a - b)  # 5
    return v + w - z + t               # 3 -> 21 ops


def _scalar_data(rng):
    return {"a": np.float64(0.7), "b": np.float64(-1.3), "c": np.float64(2.1)}


scalar20 = Family(
    "scalar20", _scalar_data,
    inputs=lambda T: {"a": T.dscalar("a"), "b": T.dscalar("b"), "c": T.dscalar("c")},
    graph=lambda T, grad, i: [_scalar20(T, i["a"], i["b"], i["c"])],
    numpy=lambda d: [_scalar20(np, d["a"], d["b"], d["c"])],
    jax=lambda jax, jnp: (lambda a, b, c: _scalar20(jnp, a, b, c)), rtol=1e-12, scalar_args=True)

FAMILIES = [softmax_xent, hierarchical, normal_logp, rownorm, mlp, rnn, gp, scalar20]


# ----------------------------------------------------------------------------- timing
def timed(call, repeats, min_time=0.05):
    """Per-call wall times and process CPU times (s) of ``repeats`` runs, each of enough calls to
    last ``min_time``. On a loaded machine the CPU time of a one-thread run is the steadier figure."""
    call()
    t0 = time.perf_counter()
    call()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_time / one))
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(number):
            call()
        wall.append((time.perf_counter() - t0) / number)
        cpu.append((time.process_time() - c0) / number)
    return wall, cpu


def check(fam, got, ref):
    """Raise when an output differs from the NumPy reference beyond the family's tolerance (relative
    to the reference's largest magnitude)."""
    if len(got) != len(ref):
        raise AssertionError(f"{len(got)} outputs, expected {len(ref)}")
    worst = 0.0
    for k, (g, r) in enumerate(zip(got, ref)):
        g, r = np.asarray(g, dtype="float64"), np.asarray(r, dtype="float64")
        if g.shape != r.shape:
            raise AssertionError(f"output {k}: shape {g.shape}, expected {r.shape}")
        err = float(np.max(np.abs(g - r)) / max(float(np.max(np.abs(r))), 1e-300)) if r.size else 0.0
        if not err <= fam.rtol:
            raise AssertionError(f"output {k}: relative error {err:.2e} > {fam.rtol:.0e}")
        worst = max(worst, err)
    return worst


#: the systems measured, each in its own child process
SYSTEMS = ("eqtensor C", "NumPy eager", "PyTensor C", "PyTensor Numba", "JAX jit")


def _systems():
    """name -> maker(fam, data) returning a zero-argument call, for every importable system."""
    out = {}

    def eq_maker(fam, data):
        ins = fam.inputs(ept)
        f = et.function(list(ins.values()), fam.graph(ept, et.grad, ins), mode="C")
        args = [data[k] for k in ins]
        return lambda: f(*args), f

    out["eqtensor C"] = eq_maker
    out["NumPy eager"] = lambda fam, data: ((lambda: fam.numpy(data)), None)
    try:
        import pytensor
        import pytensor.tensor as ppt

        def pt_maker(mode):
            def make(fam, data):
                ins = fam.inputs(ppt)
                f = pytensor.function(list(ins.values()), fam.graph(ppt, pytensor.grad, ins), mode=mode)
                args = [data[k] for k in ins]
                return lambda: f(*args), f

            return make

        out["PyTensor C"] = pt_maker("FAST_RUN")
        try:
            import numba  # noqa: F401  (PyTensor's NUMBA mode needs it)

            out["PyTensor Numba"] = pt_maker("NUMBA")
        except ImportError:
            pass
    except Exception:  # noqa: BLE001  (optional peer)
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        def jax_maker(fam, data):
            f = jax.jit(fam.jax(jax, jnp))
            args = list(data.values()) if fam.scalar_args else [jnp.asarray(v) for v in data.values()]

            def call():
                r = jax.block_until_ready(f(*args))
                return list(r) if isinstance(r, (tuple, list)) else [r]

            return call, None

        out["JAX jit"] = jax_maker
    except Exception:  # noqa: BLE001  (optional peer)
        pass
    return out


def run_child(names, repeats, threads, system, families=FAMILIES):
    """Measure ``families`` with ``system`` in this process; returns result rows (dicts)."""
    rows = []
    systems = {k: v for k, v in _systems().items() if k == system}
    for fam in families:
        if names and fam.name not in names:
            continue
        data = fam.data(np.random.default_rng(0))
        ref = [np.asarray(r, dtype="float64") for r in fam.numpy({k: (np.float64(v) if fam.scalar_args else
                                                                      np.asarray(v, dtype="float64")
                                                                      if np.asarray(v).dtype.kind == "f" else v)
                                                                  for k, v in data.items()})]
        for sysname, make in systems.items():
            row = {"family": fam.name, "system": sysname, "threads": threads}
            try:
                call, f = make(fam, data)
                row["max_rel_err"] = check(fam, call(), ref)
                wall, cpu = timed(call, repeats)
                med, iqr = summary(wall)
                row.update(median=med, iqr=iqr, min=min(wall), cpu=statistics.median(cpu))
                if sysname == "eqtensor C":
                    row["fallbacks"] = _fallbacks(f)
            except Exception as e:  # noqa: BLE001  (a system failing is reported, not fatal)
                row["note"] = f"failed: {type(e).__name__}: {e}"[:120]
            rows.append(row)
            print(f"[threads={threads}] {fam.name} / {sysname}: {fmt_time(row.get('median'))} "
                  f"{row.get('note', '')}", file=sys.stderr, flush=True)
    return rows


def _fallbacks(f):
    """The ops the compiled C function runs through NumPy, from the generated source's fallback calls
    (their names are the error labels of ``eq_result``)."""
    src = getattr(f.maker, "backend_source", "") or ""
    return sorted(set(re.findall(r'eq_result\(&V\[\d+\], r, \d+, \d+, "([^"]+)"\)', src)))


def table(rows):
    lines = ["| family | threads | system | median | IQR | min | CPU/call | vs NumPy eager | max rel err "
             "| NumPy fallbacks in C / note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    eager = {(r["family"], r["threads"]): r.get("median") for r in rows if r["system"] == "NumPy eager"}
    for r in rows:
        base, med = eager.get((r["family"], r["threads"])), r.get("median")
        ratio = f"{base / med:.2f}x" if base and med else "—"
        err = r.get("max_rel_err")
        note = r.get("note") or (", ".join(r["fallbacks"]) if r.get("fallbacks") else "")
        err = "—" if err is None else f"{err:.1e}"
        lines.append(f"| {r['family']} | {r['threads']} | {r['system']} | {fmt_time(r.get('median'))} | "
                     f"{fmt_time(r.get('iqr'))} | {fmt_time(r.get('min'))} | {fmt_time(r.get('cpu'))} | {ratio} | "
                     f"{err} | {note} |")
    return "\n".join(lines)


def main(argv=None, families=FAMILIES, script=__file__, description=__doc__):
    """Run ``families`` (each system in a child process running ``script``) and print the table."""
    ap = argparse.ArgumentParser(description=description.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--only", nargs="*", help="family names")
    ap.add_argument("--threads", nargs="*", default=["1", "default"], help="thread settings: 1 and/or default")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--system", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:  # measure in this process, rows as JSON on stdout
        rows = run_child(args.only, args.repeats, args.child, args.system, families)
        print(json.dumps(rows))
        return
    rows = []
    for th in args.threads:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        if th == "1":
            env.update(ONE_THREAD_ENV)
        for system in SYSTEMS:  # one process per system: a peer's idle worker threads (JAX's spin)
            cmd = [sys.executable, script, "--child", th, "--system", system, "--repeats", str(args.repeats)]
            if args.only:
                cmd += ["--only", *args.only]
            res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True,
                                 preexec_fn=_one_core if th == "1" else None)
            rows.extend(json.loads(res.stdout.strip().splitlines()[-1]))
    order = {f.name: k for k, f in enumerate(families)}
    rows.sort(key=lambda r: (order[r["family"]], r["threads"] != "1", SYSTEMS.index(r["system"])))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"Python {platform.python_version()}, NumPy {np.__version__}; {os.cpu_count()} cores\n")
    print(table(rows))


if __name__ == "__main__":
    main()
