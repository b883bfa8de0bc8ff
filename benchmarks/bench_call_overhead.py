"""Call overhead of a compiled scalar ``a + b`` (0-d float64 inputs), per mode, with and without
``trust_input``, against NumPy's own ``np.add(a, b)``.

Each row: ``repeats`` runs of ``number`` calls; the per-call time of each run is collected and the
median, interquartile range and minimum are reported in µs, as a markdown table.

    python benchmarks/bench_call_overhead.py [--repeats 20] [--number 10000] [--modes NUMPY C]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import eqtensor as et  # noqa: E402
from eqtensor import tensor as pt  # noqa: E402


def measure(call, number, repeats):
    """Per-call times in µs of ``repeats`` runs of ``number`` calls."""
    timer = timeit.Timer(call)
    timer.timeit(min(number, 1000))  # warm up
    return [t / number * 1e6 for t in timer.repeat(repeat=repeats, number=number)]


def row(label, times):
    q1, med, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else (times[0],) * 3
    return f"| {label} | {med:.3f} | {q1:.3f} – {q3:.3f} | {min(times):.3f} |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--number", type=int, default=10000)
    parser.add_argument("--modes", nargs="+", default=["NUMPY", "C"])
    opts = parser.parse_args(argv)
    a, b = pt.dscalar("a"), pt.dscalar("b")
    x, y = np.array(1.0), np.array(2.0)
    lines = ["| call | median µs | IQR µs | min µs |", "|---|---:|---:|---:|"]
    skipped = []
    for mode in opts.modes:
        try:
            f = et.function([a, b], a + b, mode=mode)
            if f(x, y) != 3.0:
                raise RuntimeError(f"wrong result {f(x, y)!r}")
        except Exception as e:  # a backend that is not available on this machine
            skipped.append(f"mode {mode}: {type(e).__name__}: {e}")
            continue
        backend = f.maker.backend
        lines.append(row(f"`f(a, b)`, mode {mode} ({backend})", measure(lambda: f(x, y), opts.number, opts.repeats)))
        g = f.copy()
        g.trust_input = True
        lines.append(row(f"`f(a, b)`, mode {mode} ({backend}), `trust_input`",
                         measure(lambda: g(x, y), opts.number, opts.repeats)))
    lines.append(row("`np.add(a, b)`", measure(lambda: np.add(x, y), opts.number, opts.repeats)))
    print(f"scalar a + b, 0-d float64 inputs; {opts.repeats} runs of {opts.number} calls\n")
    print("\n".join(lines))
    for s in skipped:
        print(f"\nskipped {s}")


if __name__ == "__main__":
    main()
