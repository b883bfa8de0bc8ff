"""``python -m eqtensor``: compile a few functions, run them, show what the optimizer did.

For each example: the graph before and after optimization and the optimizer's report (in the
main mode, ``--mode``, default ``config.mode``), then compile and run times and the largest error
against a NumPy/SciPy reference in every mode (``FAST_COMPILE`` = unoptimized, ``NUMPY``, ``C``),
next to NumPy eager. ``--size`` sets the length of the elementwise vectors.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.special

from . import config, debugprint, function, shared, tensor as pt
from .compile.mode import get_mode

MODES = ("FAST_COMPILE", "NUMPY", "C")


@dataclass
class Example:
    name: str
    title: str
    inputs: list
    outputs: object
    args: tuple
    reference: np.ndarray
    eager: Callable  # the same computation in NumPy, for timing
    updates: list = field(default_factory=list)
    reset: Callable = lambda: None  # restores shared state before a first call


def _median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def max_error(got, want) -> float:
    """Largest ``|got - want| / max(|want|, 1)`` (relative for large values, absolute near 0);
    inf where the reference is finite and the result is not."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if (np.isfinite(want) & ~np.isfinite(got)).any():
        return float("inf")
    with np.errstate(all="ignore"):
        err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    return float(np.max(np.where(np.isfinite(want), err, 0.0), initial=0.0))


def _ms(seconds):
    return f"{seconds * 1e3:.3g}"


def _examples(size, rng):
    x, y = pt.dvector("x"), pt.dvector("y")
    xv, yv = rng.uniform(-3, 3, size), rng.uniform(-3, 3, size)

    def chain_np():
        return np.exp(xv) * np.sin(yv) + np.log1p(xv * xv) - np.sqrt(np.abs(yv) + 1) / (1 + np.exp(-xv))

    yield Example(
        "elementwise chain",
        f"elementwise chain exp(x)*sin(y) + log1p(x*x) - sqrt(|y|+1)/(1+exp(-x)); x, y: {size} float64",
        [x, y], pt.exp(x) * pt.sin(y) + pt.log1p(x * x) - pt.sqrt(abs(y) + 1) / (1 + pt.exp(-x)), (xv, yv),
        chain_np(), chain_np)

    s = pt.dvector("s")
    sv = np.linspace(-1000, 1000, 100_001)

    def softplus_np():
        with np.errstate(over="ignore"):
            return np.log(1 + np.exp(sv))

    yield Example(
        "naive softplus",
        "naive softplus log(1 + exp(s)), s in [-1000, 1000]; NumPy eager overflows to inf "
        "(reference: np.logaddexp(0, s))",
        [s], pt.log(1 + pt.exp(s)), (sv,), np.logaddexp(0, sv), softplus_np)

    m = pt.dmatrix("m")
    mv = rng.uniform(790, 810, (500, 500))

    def lse_np():
        with np.errstate(over="ignore"):
            return np.log(np.sum(np.exp(mv), axis=1))

    yield Example(
        "naive logsumexp",
        "naive logsumexp log(sum(exp(m), axis=1)), m: 500x500, entries ~800; NumPy eager overflows "
        "(reference: scipy.special.logsumexp)",
        [m], pt.log(pt.sum(pt.exp(m), axis=1)), (mv,), scipy.special.logsumexp(mv, axis=1), lse_np)

    n, d = 200, 5
    xs = rng.normal(size=(n, d))
    ys = xs @ np.arange(1.0, d + 1)
    w = shared(np.zeros(d), name="w")
    steps = shared(0, name="steps")
    X, Y = pt.dmatrix("X"), pt.dvector("Y")
    resid = X @ w - Y
    grad_w = 2.0 * (X.T @ resid) / n

    def reset():
        w.set_value(np.zeros(d))
        steps.set_value(0)

    yield Example(
        "gradient step",
        "shared variables and updates: loss = mean((X @ w - Y)**2); w <- w - 0.1 * dloss/dw (by hand); "
        "steps <- steps + 1",
        [X, Y], (resid ** 2).mean(), (xs, ys), np.mean(ys ** 2), lambda: np.mean((xs @ np.zeros(d) - ys) ** 2),
        updates=[(w, w - 0.1 * grad_w), (steps, steps + 1)], reset=reset)


def _measure(ex: Example, mode, repeat):
    """Compile ``ex`` in ``mode``; returns ``(function, compile seconds, run seconds, max error)``."""
    ex.reset()
    t0 = time.perf_counter()
    f = function(ex.inputs, ex.outputs, mode=mode, updates=ex.updates)
    compile_s = time.perf_counter() - t0
    err = max_error(f(*ex.args), ex.reference)
    return f, compile_s, _median_time(lambda: f(*ex.args), repeat), err


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m eqtensor",
                                     description="Compile a few functions, run them, show what the optimizer did.")
    parser.add_argument("--mode", default=None, help="mode whose graphs and report are shown (default: config.mode)")
    parser.add_argument("--size", type=int, default=1_000_000, help="length of the elementwise vectors")
    parser.add_argument("--repeat", type=int, default=5, help="calls timed per measurement (median)")
    opts = parser.parse_args(argv)
    main_mode = opts.mode or config.mode
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"eqtensor demo: graphs and report in mode {main_mode}; timings in modes {', '.join(MODES)}")
    rows = []
    for k, ex in enumerate(_examples(opts.size, np.random.default_rng(0)), 1):
        p(f"\n{'=' * 100}\n{k}. {ex.title}\n{'=' * 100}")
        f, compile_s, run_s, err = _measure(ex, main_mode, opts.repeat)
        p("-- graph before optimization")
        debugprint(f.maker.original_fgraph, file=out)
        p(f"-- graph after optimization ({f.maker.mode.name} mode, {f.maker.backend} backend); "
          f"numbers: schedule order")
        debugprint(f, file=out)
        src = f.maker.backend_source.rstrip("\n").splitlines()
        if len(src) <= 30:
            p(f"-- generated {f.maker.backend} code (f.maker.backend_source)")
            p("\n".join(src))
        else:
            p(f"-- generated {f.maker.backend} code: {len(src)} lines in f.maker.backend_source")
        report = f.optimization_report()
        if report is not None:
            p("-- optimization report")
            p(str(report))
        eager_s = _median_time(ex.eager, opts.repeat)
        p(f"-- timings in ms (NumPy eager: {_ms(eager_s)} per call)")
        for mode in dict.fromkeys((main_mode,) + MODES):
            if mode != main_mode and get_mode(mode) == get_mode(main_mode):
                continue  # e.g. FAST_RUN is C when a compiler is available
            if mode != main_mode:
                try:
                    f, compile_s, run_s, err = _measure(ex, mode, opts.repeat)
                except Exception as e:  # e.g. no C compiler on this machine
                    p(f"{mode:>12}: unavailable ({type(e).__name__}: {e})")
                    continue
            phases = ", ".join(f"{name} {_ms(t)}" for name, t in f.maker.timings.items())
            p(f"{mode:>12} ({f.maker.backend}): compile {_ms(compile_s)} ({phases}); run {_ms(run_s)} per call; "
              f"max error {err:.3g}")
            rows.append((ex.name, f"{mode} ({f.maker.backend})", _ms(compile_s), _ms(run_s), _ms(eager_s),
                         f"{err:.3g}"))
    w = ex.updates[0][0]  # the last example's weights
    ex.reset()
    train = function(ex.inputs, ex.outputs, mode=main_mode, updates=ex.updates)
    losses = [float(train(*ex.args)) for _ in range(200)]
    p(f"\n200 training steps in mode {main_mode}: loss {losses[0]:.3g} -> {losses[-1]:.3g}, "
      f"w = {np.round(w.get_value(), 4)}")
    p(f"\n{'=' * 100}\nsummary (max error: |got - ref| / max(|ref|, 1))\n")
    p("| example | mode | compile ms | run ms | NumPy eager ms | max error |")
    p("|---|---|---:|---:|---:|---:|")
    for r in rows:
        p("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
