"""What the benchmark scripts share for reporting times: median and interquartile range, and a
human unit."""

from __future__ import annotations

import statistics


def summary(times):
    """``(median, interquartile range)`` of ``times``."""
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return statistics.median(times), q[2] - q[0]


def fmt_time(t):
    """``t`` seconds in µs, ms or s (``—`` for None)."""
    if t is None:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.2f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"
