"""A tanh RNN written with ``scan``: forward and gradient, eqtensor against PyTensor (C, Numba) and
JAX (``lax.scan`` under ``jit``), in one run.

``h_t = tanh(x_t @ U + h_{t-1} @ W + b)``, 200 steps, batch 32, hidden (and input) 128, float64.
*forward* returns every state ``(200, 32, 128)``; *gradient* returns the gradients of
``sum(h ** 2)`` with respect to ``W``, ``U``, ``b``, ``h0`` and the inputs ``x``.

Run: ``python benchmarks/bench_scan.py`` (``--steps 200 --batch 32 --hidden 128 --repeat 30``,
``--only eqtensor jax``, ``--threads 1``: every library on one thread, the process pinned to one
core). Prints the median and the interquartile range of the wall time of one call (ms) after
warm-up calls and the median CPU time of one call (the steadier figure on a shared machine), and
checks that every backend agrees with eqtensor's NumPy mode.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def data(steps, batch, hidden, seed=0):
    rng = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(hidden)
    return dict(x=rng.normal(size=(steps, batch, hidden)), h0=rng.normal(size=(batch, hidden)) * 0.1,
                W=rng.normal(size=(hidden, hidden)) * s, U=rng.normal(size=(hidden, hidden)) * s,
                b=rng.normal(size=hidden) * 0.1)


ORDER = ["x", "h0", "W", "U", "b"]

ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "EQTENSOR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


def one_thread(argv):
    """Run this script again with every library on one thread (the variables are read when the
    libraries load), then pin the process to one core."""
    if any(os.environ.get(k) != v for k, v in ONE_THREAD_ENV.items()):
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], {**os.environ, **ONE_THREAD_ENV})
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def eqtensor_fns(mode):
    import eqtensor as et
    from eqtensor import tensor as pt
    from eqtensor.scan import scan

    x, h0 = pt.tensor3("x"), pt.dmatrix("h0")
    W, U, b = pt.dmatrix("W"), pt.dmatrix("U"), pt.dvector("b")
    hs = scan(lambda x_t, h, W, U, b: pt.tanh(x_t @ U + h @ W + b), sequences=x, outputs_info=h0,
              non_sequences=[W, U, b], return_updates=False)
    cost = (hs ** 2).sum()
    grads = et.grad(cost, [W, U, b, h0, x])
    return et.function([x, h0, W, U, b], hs, mode=mode), et.function([x, h0, W, U, b], grads, mode=mode)


def pytensor_fns(mode):
    import pytensor
    import pytensor.tensor as pt

    x, h0 = pt.tensor3("x", dtype="float64"), pt.dmatrix("h0")
    W, U, b = pt.dmatrix("W"), pt.dmatrix("U"), pt.dvector("b")
    hs = pytensor.scan(lambda x_t, h, W, U, b: pt.tanh(x_t @ U + h @ W + b), sequences=x, outputs_info=h0,
                       non_sequences=[W, U, b], return_updates=False)
    cost = (hs ** 2).sum()
    grads = pytensor.grad(cost, [W, U, b, h0, x])
    return (pytensor.function([x, h0, W, U, b], hs, mode=mode),
            pytensor.function([x, h0, W, U, b], grads, mode=mode))


def jax_fns():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def forward(x, h0, W, U, b):
        def step(h, x_t):
            h = jnp.tanh(x_t @ U + h @ W + b)
            return h, h

        return jax.lax.scan(step, h0, x)[1]

    def cost(W, U, b, h0, x):
        return (forward(x, h0, W, U, b) ** 2).sum()

    fwd = jax.jit(forward)
    grad = jax.jit(jax.grad(cost, argnums=(0, 1, 2, 3, 4)))

    def run_fwd(*a):
        return np.asarray(fwd(*a).block_until_ready())

    def run_grad(x, h0, W, U, b):
        return [np.asarray(g) for g in jax.block_until_ready(grad(W, U, b, h0, x))]

    return run_fwd, run_grad


def timed(fn, args, repeat, warmup=3):
    """(median wall ms, its IQR, median CPU ms) of one call."""
    for _ in range(warmup):
        fn(*args)
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(*args)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    q1, med, q3 = np.percentile(np.array(times) * 1e3, [25, 50, 75])
    return med, q3 - q1, float(np.median(cpu)) * 1e3


def backends(only):
    out = {
        "eqtensor C": lambda: eqtensor_fns(None),
        "eqtensor NumPy": lambda: eqtensor_fns("NUMPY"),
        "pytensor C": lambda: pytensor_fns("FAST_RUN"),
        "pytensor Numba": lambda: pytensor_fns("NUMBA"),
        "jax lax.scan": jax_fns,
    }
    return {k: v for k, v in out.items() if not only or any(o.lower() in k.lower() for o in only)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--threads", choices=["1", "default"], default="default")
    a = p.parse_args(argv)
    if a.threads == "1":
        one_thread(sys.argv[1:] if argv is None else argv)
    warnings.simplefilter("ignore")
    d = data(a.steps, a.batch, a.hidden)
    args = [d[k] for k in ORDER]
    ref_f, ref_g = eqtensor_fns("NUMPY")
    ref = (ref_f(*args), ref_g(*args))
    print(f"tanh RNN: {a.steps} steps, batch {a.batch}, hidden {a.hidden}, float64, threads {a.threads}; "
          f"ms per call: wall median (IQR) / CPU median")
    print(f"{'backend':<16} {'compile s':>9} {'forward':>23} {'gradient':>23}")
    for name, make in backends(a.only).items():
        t0 = time.perf_counter()
        try:
            f, g = make()
            got = (f(*args), g(*args))
        except Exception as e:  # a backend missing on this machine
            print(f"{name:<16} unavailable: {type(e).__name__}: {str(e)[:80]}")
            continue
        compile_s = time.perf_counter() - t0
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-9, atol=1e-9)
        for x, y in zip(got[1], ref[1]):
            np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-8)
        fm, fi, fc = timed(f, args, a.repeat)
        gm, gi, gc = timed(g, args, a.repeat)
        print(f"{name:<16} {compile_s:9.2f} {fm:8.2f} ({fi:5.2f}) / {fc:6.2f} {gm:8.2f} ({gi:5.2f}) / {gc:6.2f}",
              flush=True)


if __name__ == "__main__":
    main()
