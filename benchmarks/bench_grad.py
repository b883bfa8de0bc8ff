"""Gradient workloads of the bar, eqtensor per mode against NumPy hand-written backprop.

- ``mlp_grad``: 784 -> 512 tanh -> 10, softmax cross-entropy (``log_softmax``), batch 256; one call
  returns the loss and the 4 parameter gradients.
- ``logreg_train``: the PyTensor tutorial's logistic-regression training step (400 x 784, shared
  ``w``/``b`` updated in place by the function), 100 calls per run.

Each result is checked against NumPy before timing. Each row: ``repeats`` runs; median, interquartile
range and minimum per run in ms, as a markdown table. The inputs of ``logreg_train`` are scaled by
1/sqrt(784) so that the NumPy reference, which evaluates the tutorial's naive cross-entropy as written,
stays finite; whether the unscaled tutorial data gives finite weights is reported per mode.

    python benchmarks/bench_grad.py [--repeats 15] [--modes NUMPY C]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import eqtensor as et  # noqa: E402
from eqtensor import tensor as pt  # noqa: E402
from eqtensor.gradient import grad  # noqa: E402


def measure(run, repeats):
    run()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def row(label, times, compile_s=None):
    q1, med, q3 = statistics.quantiles(times, n=4)
    c = "" if compile_s is None else f"{compile_s * 1e3:.0f}"
    return f"| {label} | {med:.2f} | {q1:.2f} – {q3:.2f} | {min(times):.2f} | {c} |"


# --------------------------------------------------------------------------- mlp_grad
def mlp_function(mode):
    X, Y = pt.dmatrix("X"), pt.dmatrix("Y")
    W1, b1, W2, b2 = pt.dmatrix("W1"), pt.dvector("b1"), pt.dmatrix("W2"), pt.dvector("b2")
    h = pt.tanh(pt.dot(X, W1) + b1)
    z = pt.dot(h, W2) + b2
    loss = -(Y * pt.special.log_softmax(z, axis=1)).sum(axis=1).mean()
    return et.function([X, Y, W1, b1, W2, b2], [loss] + grad(loss, [W1, b1, W2, b2]), mode=mode)


def mlp_numpy(X, Y, W1, b1, W2, b2):
    B = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    zs = z - z.max(axis=1, keepdims=True)
    logp = zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))
    loss = -(Y * logp).sum() / B
    dz = (np.exp(logp) - Y) / B
    da = (dz @ W2.T) * (1 - h * h)
    return [loss, X.T @ da, da.sum(0), h.T @ dz, dz.sum(0)]


def mlp_data(rng, B=256, n_in=784, n_hidden=512, n_out=10):
    return (rng.standard_normal((B, n_in)), np.eye(n_out)[rng.integers(0, n_out, B)],
            rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), np.zeros(n_hidden),
            rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden), np.zeros(n_out))


# --------------------------------------------------------------------------- logreg_train
def logreg_function(mode, w0):
    x, y = pt.dmatrix("x"), pt.dvector("y")
    w = et.shared(w0.copy(), name="w")
    b = et.shared(0.0, name="b")
    p_1 = 1 / (1 + pt.exp(-pt.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * pt.log(p_1) - (1 - y) * pt.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = grad(cost, [w, b])
    train = et.function([x, y], [prediction, xent], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], mode=mode)
    return train, w, b


def logreg_numpy_train(X, Y, w, b):
    p = 1 / (1 + np.exp(-(X @ w) - b))
    xent = -Y * np.log(p) - (1 - Y) * np.log(1 - p)
    w = w - 0.1 * (X.T @ (p - Y) / len(Y) + 0.02 * w)
    b = b - 0.1 * np.mean(p - Y)
    return (p > 0.5, xent), w, b


def logreg_data(rng, N=400, feats=784):
    return rng.standard_normal((N, feats)), rng.integers(size=N, low=0, high=2).astype("float64"), \
        rng.standard_normal(feats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--modes", nargs="+", default=["NUMPY", "C"])
    opts = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    mlp_args = mlp_data(rng)
    X_raw, Y, w0 = logreg_data(rng)
    X = X_raw / np.sqrt(X_raw.shape[1])
    lines = ["| workload | median ms | IQR ms | min ms | compile ms |", "|---|---:|---:|---:|---:|"]
    notes = []
    want_mlp = mlp_numpy(*mlp_args)
    for mode in opts.modes:
        try:
            t0 = time.perf_counter()
            f = mlp_function(mode)
            compile_s = time.perf_counter() - t0
            for g, w in zip(f(*mlp_args), want_mlp):
                np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
        except Exception as e:  # a backend that is not available, or a wrong result
            notes.append(f"mlp_grad, mode {mode}: {type(e).__name__}: {str(e).splitlines()[0]}")
            continue
        lines.append(row(f"mlp_grad, eqtensor {mode} ({f.maker.backend})", measure(lambda: f(*mlp_args), opts.repeats),
                         compile_s))
    lines.append(row("mlp_grad, NumPy by hand", measure(lambda: mlp_numpy(*mlp_args), opts.repeats)))

    for mode in opts.modes:
        try:
            t0 = time.perf_counter()
            train, w, b = logreg_function(mode, w0)
            compile_s = time.perf_counter() - t0
            wn, bn = w0.copy(), 0.0
            for _ in range(3):
                got = train(X, Y)
                want, wn, bn = logreg_numpy_train(X, Y, wn, bn)
                np.testing.assert_array_equal(got[0], want[0])
                np.testing.assert_allclose(got[1], want[1], rtol=1e-9)
            np.testing.assert_allclose(w.get_value(), wn, rtol=1e-9)
            raw, _, _ = logreg_function(mode, w0)
            raw(X_raw, Y)
            notes.append(f"logreg_train, mode {mode}: unscaled tutorial data gives finite weights after one step: "
                         f"{bool(np.all(np.isfinite(raw.maker.fgraph.update_targets[0].get_value())))}")
        except Exception as e:
            notes.append(f"logreg_train, mode {mode}: {type(e).__name__}: {str(e).splitlines()[0]}")
            continue

        def run_eq(train=train):
            for _ in range(100):
                train(X, Y)

        lines.append(row(f"logreg_train x100, eqtensor {mode} ({train.maker.backend})", measure(run_eq, opts.repeats),
                         compile_s))

    def run_np():
        w, b = w0.copy(), 0.0
        for _ in range(100):
            _, w, b = logreg_numpy_train(X, Y, w, b)

    lines.append(row("logreg_train x100, NumPy by hand", measure(run_np, opts.repeats)))
    print(f"gradient workloads; {opts.repeats} runs each\n")
    print("\n".join(lines))
    for n in notes:
        print(f"\n- {n}")


if __name__ == "__main__":
    main()
