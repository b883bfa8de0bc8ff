"""The JAX backend beside hand-written ``jax.jit`` code on the same workloads (CPU, float64).

Each workload is compiled once both ways, warmed up, then timed call by call (results blocked
until ready); the table shows medians and interquartile ranges in microseconds and the ratio
eqtensor / hand-written (goal: within 10 %). The hand-written softplus and logsumexp are the naive
formulas a user writes; the "finite" column says whether each result is finite.

    python benchmarks/bench_jax.py            # ~1 minute
    python benchmarks/bench_jax.py --quick    # fewer repetitions
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import eqtensor
from eqtensor import function, tensor as pt


def _time(fn, args, reps):
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return med * 1e6, (q3 - q1) * 1e6


def _mlp_loss(W1, b1, W2, X, y, *, lib):
    h = lib.tanh(X @ W1 + b1)
    return lib.mean((h @ W2 - y) ** 2)


def workloads(rng):
    """``(name, eqtensor function, hand-written jitted function, arguments)``."""
    out = []
    n = 1_000_000
    x = pt.dvector("x")
    xv = rng.normal(0, 50, n)
    out.append(("elementwise chain", function([x], pt.exp(-x * x) * pt.sin(x) + pt.sqrt(pt.abs(x) + 1.0), mode="JAX"),
                jax.jit(lambda x: jnp.exp(-x * x) * jnp.sin(x) + jnp.sqrt(jnp.abs(x) + 1.0)), (xv,)))
    out.append(("softplus (naive formula)", function([x], pt.log(1 + pt.exp(x)), mode="JAX"),
                jax.jit(lambda x: jnp.log(1 + jnp.exp(x))), (xv * 20,)))
    X = pt.dmatrix("X")
    Xv = rng.normal(0, 400, (2000, 500))
    out.append(("logsumexp rows (naive)", function([X], pt.log(pt.sum(pt.exp(X), axis=1)), mode="JAX"),
                jax.jit(lambda X: jnp.log(jnp.sum(jnp.exp(X), axis=1))), (Xv,)))
    W1, b1, W2, y = pt.dmatrix("W1"), pt.dvector("b1"), pt.dmatrix("W2"), pt.dmatrix("y")
    loss = _mlp_loss(W1, b1, W2, X, y, lib=pt)
    params = [W1, b1, W2]
    f_mlp = function(params + [X, y], eqtensor.grad(loss, params), mode="JAX")
    g_mlp = jax.jit(jax.grad(lambda W1, b1, W2, X, y: _mlp_loss(W1, b1, W2, X, y, lib=jnp), argnums=(0, 1, 2)))
    args = (rng.normal(0, 0.1, (256, 512)), np.zeros(512), rng.normal(0, 0.1, (512, 10)), rng.normal(size=(1024, 256)),
            rng.normal(size=(1024, 10)))
    out.append(("MLP gradient", f_mlp, g_mlp, args))
    w, yv = pt.dvector("w"), pt.dvector("yv")
    lr_loss = pt.mean(pt.log(1 + pt.exp(-yv * pt.dot(X, w))))
    f_lr = function([w, X, yv], w - 0.1 * eqtensor.grad(lr_loss, w), mode="JAX")

    def lr_step(w, X, y):
        return w - 0.1 * jax.grad(lambda w: jnp.mean(jnp.log(1 + jnp.exp(-y * (X @ w)))))(w)

    args = (rng.normal(size=100), rng.normal(size=(20000, 100)), np.sign(rng.normal(size=20000)))
    out.append(("logistic regression step", f_lr, jax.jit(lr_step), args))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    opts = ap.parse_args()
    reps = 15 if opts.quick else 60
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        rows = workloads(rng)
        print(f"{'workload':28s} {'eqtensor JAX µs (IQR)':>24s} {'jax.jit µs (IQR)':>20s} {'ratio':>6s}  finite (eq/jax)")
        for name, f, g, args in rows:
            (me, ie), (mh, ih) = _time(f, args, reps), _time(g, args, reps)
            fin = [bool(np.all(np.isfinite(np.asarray(jax.tree_util.tree_leaves(r)[0])))) for r in (f(*args), g(*args))]
            print(f"{name:28s} {me:14.0f} ({ie:6.0f}) {mh:12.0f} ({ih:6.0f}) {me / mh:6.2f}  {fin[0]}/{fin[1]}")


if __name__ == "__main__":
    main()
