"""``python -m eqtensor``: compile a few functions, run them, show what the optimizer did.

For each example: the graph before and after optimization, the optimizer's report, compile and
run times (with NumPy eager for comparison) and the largest error against a NumPy/SciPy
reference. ``--mode`` picks the compilation mode (default: ``config.mode``); ``--size`` scales
the data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import scipy.special

from . import config, debugprint, function, shared, tensor as pt


def _time_calls(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _max_rel_error(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    bad = ~np.isfinite(got) & np.isfinite(want)
    if bad.any():
        return float("inf")
    with np.errstate(all="ignore"):
        err = np.abs(got - want) / np.maximum(np.abs(want), np.finfo(np.float64).tiny)
    return float(np.max(np.where(np.isfinite(want), err, 0.0), initial=0.0))


def _ms(seconds):
    return f"{seconds * 1e3:.2f} ms"


def _show(title, inputs, outputs, args, reference, eager, mode, updates=None, repeat=5, out=sys.stdout):
    """Compile, run, print graphs/report/timings/errors for one example; returns the max error."""
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"\n{'=' * 100}\n{title}\n{'=' * 100}")
    t0 = time.perf_counter()
    f = function(inputs, outputs, mode=mode, updates=updates)
    compile_s = time.perf_counter() - t0
    maker = f.maker
    p("-- graph before optimization")
    debugprint(maker.original_fgraph, file=out)
    p(f"-- graph after optimization ({maker.mode.name} mode, {maker.backend} backend), schedule order")
    debugprint(f, file=out)
    report = f.optimization_report()
    if report is not None:
        p("-- optimization report")
        p(str(report))
    got = f(*args)
    err = max(_max_rel_error(g, r) for g, r in zip(got if isinstance(got, list) else [got], reference))
    run_s = _time_calls(lambda: f(*args), repeat)
    eager_s = _time_calls(eager, repeat)
    timings = ", ".join(f"{k} {_ms(v)}" for k, v in maker.timings.items())  # optimize, backend
    p("-- timings")
    p(f"compile {_ms(compile_s)} ({timings}); run {_ms(run_s)} per call (median of {repeat}); "
      f"NumPy eager {_ms(eager_s)}")
    p(f"-- max relative error vs reference: {err:.3g}")
    return err


def main(argv=None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m eqtensor", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default=None, help="compilation mode (default: config.mode = %(default)s)")
    parser.add_argument("--size", type=int, default=1_000_000, help="length of the elementwise vectors")
    opts = parser.parse_args(argv)
    mode = opts.mode or config.mode
    rng = np.random.default_rng(0)
    print(f"eqtensor demo: mode {mode}", file=out)
    errors = {}

    # 1. a fusable elementwise chain
    x, y = pt.dvector("x"), pt.dvector("y")
    chain = pt.exp(x) * pt.sin(y) + pt.log1p(x * x) - pt.sqrt(abs(y) + 1) / (1 + pt.exp(-x))
    xv, yv = rng.uniform(-3, 3, opts.size), rng.uniform(-3, 3, opts.size)

    def chain_np():
        return np.exp(xv) * np.sin(yv) + np.log1p(xv * xv) - np.sqrt(np.abs(yv) + 1) / (1 + np.exp(-xv))

    errors["elementwise chain"] = _show(
        f"1. elementwise chain exp(x)*sin(y) + log1p(x*x) - sqrt(|y|+1)/(1+exp(-x)), x, y: {opts.size} float64",
        [x, y], chain, (xv, yv), [chain_np()], chain_np, mode, out=out)

    # 2. the naive softplus, far outside exp's range
    s = pt.dvector("s")
    sv = np.linspace(-1000, 1000, 100_001)

    def softplus_np():
        with np.errstate(over="ignore"):
            return np.log(1 + np.exp(sv))

    errors["naive softplus"] = _show(
        "2. naive softplus log(1 + exp(s)), s in [-1000, 1000] (NumPy eager overflows to inf; reference: "
        "np.logaddexp(0, s))", [s], pt.log(1 + pt.exp(s)), (sv,), [np.logaddexp(0, sv)], softplus_np, mode, out=out)

    # 3. a naive log-sum-exp over rows
    m = pt.dmatrix("m")
    mv = rng.uniform(790, 810, (500, 500))

    def lse_np():
        with np.errstate(over="ignore"):
            return np.log(np.sum(np.exp(mv), axis=1))

    errors["naive logsumexp"] = _show(
        "3. naive logsumexp log(sum(exp(m), axis=1)), m: 500x500 entries ~800 (NumPy eager overflows; reference: "
        "scipy.special.logsumexp)", [m], pt.log(pt.sum(pt.exp(m), axis=1)), (mv,),
        [scipy.special.logsumexp(mv, axis=1)], lse_np, mode, out=out)

    # 4. shared variables and updates: one gradient-descent step of least squares, written by hand
    n, d = 200, 5
    xs = rng.normal(size=(n, d))
    true_w = np.arange(1.0, d + 1)
    ys = xs @ true_w
    w = shared(np.zeros(d), name="w")
    steps = shared(0, name="steps")
    X, Y = pt.dmatrix("X"), pt.dvector("Y")
    resid = X @ w - Y
    loss = (resid ** 2).mean()
    grad_w = 2.0 * (X.T @ resid) / n
    w0 = np.zeros(d)

    def step_np():
        r = xs @ w0 - ys
        return (r ** 2).mean()

    errors["gradient step"] = _show(
        "4. shared variables and updates: loss = mean((X @ w - Y)**2); w <- w - 0.1 * dloss/dw; steps <- steps + 1",
        [X, Y], loss, (xs, ys), [step_np()], step_np, mode,
        updates=[(w, w - 0.1 * grad_w), (steps, steps + 1)], out=out)
    train = function([X, Y], loss, updates=[(w, w - 0.1 * grad_w), (steps, steps + 1)], mode=mode)
    w.set_value(np.zeros(d))
    steps.set_value(0)
    losses = [float(train(xs, ys)) for _ in range(200)]
    print(f"after {int(steps.get_value())} steps (one more function sharing w and steps): loss "
          f"{losses[0]:.3g} -> {losses[-1]:.3g}, w = {np.round(w.get_value(), 4)} (true {true_w})", file=out)

    print(f"\n{'=' * 100}\nsummary: max relative error vs reference", file=out)
    for name, err in errors.items():
        print(f"  {name:<20} {err:.3g}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
