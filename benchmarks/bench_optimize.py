"""Optimize time of the e-graph optimizer for elementwise graphs of 10, 100, 500 and 5000 ops.

Run: ``python benchmarks/bench_optimize.py`` (prints one line per size; median of a few runs, after
one warm-up compile that pays the one-time egglog import and rule registration). The optimizer cache
is switched off: every run is a real e-graph run.
The graph is random but seeded: a DAG over two vectors mixing add/sub/mul/div, exp/log/neg,
identities (``*1``, ``+0``, ``-(-x)``) and naive ``log(1+exp(.))`` that the rules rewrite.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eqtensor import config, tensor as pt  # noqa: E402
from eqtensor.egraph import optimize_graph  # noqa: E402
from eqtensor.core.fgraph import FunctionGraph  # noqa: E402


def random_graph(n_ops: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = pt.dvector("x"), pt.dvector("y")
    pool = [x, y]
    ops = 0
    while ops < n_ops:  # ``d``: nodes the step adds
        a = pool[int(rng.integers(max(0, len(pool) - 20), len(pool)))]
        b = pool[int(rng.integers(0, len(pool)))]
        k = int(rng.integers(0, 9))
        if k == 0:
            e, d = pt.exp(a * 0.01), 2
        elif k == 1:
            e, d = pt.log(pt.sqr(a) + 1.0), 3
        elif k == 2:
            e, d = -(-a), 2
        elif k == 3:
            e, d = a * 1.0 + 0.0, 2
        elif k == 4:
            e, d = pt.log(1 + pt.exp(a)), 3
        elif k == 5:
            e, d = a - b, 1
        elif k == 6:
            e, d = a * b, 1
        elif k == 7:
            e, d = a / (pt.sqr(b) + 1.0), 3
        else:
            e, d = a + b, 1
        pool.append(e)
        ops += d
    used = {id(i) for v in pool if v.owner is not None for i in v.owner.inputs}
    outs = [v for v in pool[2:] if id(v) not in used]  # every sink is an output: no dead nodes
    return FunctionGraph([x, y], outs, 2, len(outs))


def bench(n_ops: int, repeat: int = 3):
    fg = random_graph(n_ops)
    times, report = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        _, report = optimize_graph(fg)
        times.append(time.perf_counter() - t)
    return statistics.median(times), fg.size(), report


def pathological():
    """Graphs that would explode or recurse: they must stay within the default budget."""
    from eqtensor.rules import RuleSet, rewrite, var

    xs = [pt.dscalar(f"x{i}") for i in range(5000)]
    total = xs[0]
    for v in xs[1:]:
        total = total + v
    x = pt.dvector("x")
    chain = x
    for _ in range(5000):
        chain = chain * 1.0 + 0.0
    a, b, c = var("a"), var("b"), var("c")
    ac = RuleSet([rewrite("add_comm", a + b, b + a, why="explosive on purpose"),
                  rewrite("add_assoc", (a + b) + c, a + (b + c), why="explosive on purpose"),
                  rewrite("mul_comm", a * b, b * a, why="explosive on purpose"),
                  rewrite("distribute", a * (b + c), a * b + a * c, why="explosive on purpose")])
    ys = [pt.dvector(f"y{i}") for i in range(40)]
    poly = ys[0]
    for k, v in enumerate(ys[1:]):
        poly = poly * v + ys[k] if k % 3 == 0 else poly + v
    cases = [("5000-term sum", FunctionGraph(xs, [total], len(xs), 1), None),
             ("x*1+0 chain, depth 5000", FunctionGraph([x], [chain], 1, 1), None),
             ("AC + distribution rules, 40-var polynomial", FunctionGraph(ys, [poly], len(ys), 1), ac)]
    print(f"\n{'pathological case':45} {'time (s)':>8} {'nodes':>6} {'after':>6} {'peak e-nodes':>12}  stop")
    for label, fg, rules in cases:
        t = time.perf_counter()
        _, r = optimize_graph(fg, rules=rules)
        dt = time.perf_counter() - t
        peak = max([s.enodes for s in r.iterations] or [r.enodes_inserted])
        print(f"{label:45} {dt:>8.3f} {fg.size():>6} {r.nodes_after:>6} {peak:>12}  {r.fallback or r.stop_reason}")
    import resource

    print(f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main():
    config.optimizer_cache = False  # time the e-graph, not the replay of a remembered result
    optimize_graph(random_graph(10))  # warm-up: import egglog, register rules
    print(f"{'ops':>6} {'nodes':>6} {'optimize (s)':>13} {'after':>6} {'iters':>5} {'e-nodes':>8}  phases (ms)  stop")
    for n in (10, 100, 500, 5000):
        t, size, r = bench(n, repeat=3 if n < 5000 else 1)
        phases = " ".join(f"{k}={v * 1e3:.0f}" for k, v in r.times.items())
        peak = max([s.enodes for s in r.iterations] or [r.enodes_inserted])
        print(f"{n:>6} {size:>6} {t:>13.3f} {r.nodes_after:>6} {len(r.iterations):>5} {peak:>8}  {phases}  "
              f"{r.fallback or r.stop_reason}")
    pathological()


if __name__ == "__main__":
    main()
