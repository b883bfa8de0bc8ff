"""The JAX backend beside hand-written ``jax.jit`` code on the same workloads (CPU, float64).

Each workload is compiled once both ways, warmed up, then timed call by call, the two versions
called in turn (results blocked until ready). The table shows medians and interquartile ranges in
microseconds; ``ratio`` is eqtensor / hand-written of the medians, ``paired`` the median of the
per-round ratios (less sensitive to the machine's load drifting), ``min`` the ratio of the fastest
calls (the least sensitive to other processes on a loaded machine); goal: within 10 %. The
hand-written softplus and logsumexp are the naive formulas a user writes (one pass, overflowing);
logsumexp is then compared with ``jax.nn.logsumexp`` too (the stable two-pass form eqtensor's rewrite
computes). The "finite" column says whether each result is finite.

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
from eqtensor.scan import scan


def _time_pair(f, g, args, reps):
    """Medians and IQRs (µs) of ``f`` and ``g``, called in turn (alternating which goes first) so
    that both see the same machine load; also the median of the per-round ratios f/g."""
    jax.block_until_ready(f(*args))
    jax.block_until_ready(g(*args))
    tf, tg = [], []
    for k in range(reps):
        for fn, times in ((f, tf), (g, tg)) if k % 2 == 0 else ((g, tg), (f, tf)):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times.append(time.perf_counter() - t0)
    stats = [(np.median(t) * 1e6, (np.percentile(t, 75) - np.percentile(t, 25)) * 1e6) for t in (tf, tg)]
    return stats[0], stats[1], float(np.median(np.array(tf) / np.array(tg))), min(tf) / min(tg)


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
    out.append(("logsumexp rows (vs stable)", out[-1][1], jax.jit(lambda X: jax.nn.logsumexp(X, axis=1)), (Xv,)))
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
    xs, h0, Wh = pt.dmatrix("xs"), pt.dvector("h0"), pt.dmatrix("Wh")
    hs = scan(lambda x_t, h, W: pt.tanh(pt.dot(W, h) + x_t), sequences=xs, outputs_info=h0, non_sequences=Wh,
              return_updates=False)
    rnn_loss = pt.sum(hs[-1] ** 2)
    f_rnn = function([xs, h0, Wh], [rnn_loss, *eqtensor.grad(rnn_loss, [h0, Wh])], mode="JAX")

    def rnn(xs, h0, W):
        return jnp.sum(jax.lax.scan(lambda h, x: (jnp.tanh(W @ h + x),) * 2, h0, xs)[0] ** 2)

    g_rnn = jax.jit(jax.value_and_grad(rnn, argnums=(1, 2)))
    args = (rng.normal(size=(300, 64)), rng.normal(size=64), rng.normal(0, 0.1, (64, 64)))
    out.append(("scan RNN loss + gradient", f_rnn, g_rnn, args))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    opts = ap.parse_args()
    reps = 15 if opts.quick else 60
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        rows = workloads(rng)
        print(f"{'workload':28s} {'eqtensor JAX µs (IQR)':>24s} {'jax.jit µs (IQR)':>20s} {'ratio':>6s} "
              f"{'paired':>6s} {'min':>5s}  finite (eq/jax)")
        for name, f, g, args in rows:
            (me, ie), (mh, ih), paired, fastest = _time_pair(f, g, args, reps)
            fin = [bool(np.all(np.isfinite(np.asarray(jax.tree_util.tree_leaves(r)[0])))) for r in (f(*args), g(*args))]
            print(f"{name:28s} {me:14.0f} ({ie:6.0f}) {mh:12.0f} ({ih:6.0f}) {me / mh:6.2f} {paired:6.2f} "
                  f"{fastest:5.2f}  {fin[0]}/{fin[1]}")

if __name__ == "__main__":
    main()
