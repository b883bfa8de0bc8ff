"""Compile time of each benchmark workload in a fresh process: cold (an empty cache directory, the
first process to compile it) and warm (a new process compiling the same graph against the cache the
cold process filled), as a markdown table.

    python benchmarks/bench_compile_process.py [--repeats 3] [--only mlp_grad ...] [--mode C]
        [--profile mlp_grad] [--root DIR]

Each time is that of building the function (graph, gradient, ``function()``) inside the child
process, after ``import eqtensor``; the warm columns are the medians of ``repeats`` new processes
(wall time, and the process's CPU time, which a loaded machine disturbs less).
``--profile NAME`` prints the ``cProfile`` of one warm compile of workload ``NAME`` instead;
``--root DIR`` imports eqtensor from ``DIR`` (default: this checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import sys, time, json
sys.path.insert(0, {root!r}); sys.path.insert(0, {here!r})
import numpy as np
import eqtensor as et
from eqtensor import tensor as ept
from workloads import WORKLOADS, eq_grad
et.config.cache_dir = {cache!r}
wl = next(w for w in WORKLOADS if w.name == {name!r})
data = wl.data(np.random.default_rng(0))
def build():
    return wl.build_function(ept, eq_grad, et.function, et.shared, {mode!r}, data)
if {profile!r}:
    import cProfile, pstats
    cProfile.run("build()", "/tmp/eqprof.out")
    pstats.Stats("/tmp/eqprof.out").sort_stats("cumulative").print_stats(45)
else:
    t0, c0 = time.perf_counter(), time.process_time()
    build()
    print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]))
"""


def child(name, cache, mode, profile=False, root=str(HERE.parent)):
    code = CHILD.format(root=root, here=str(HERE), cache=cache, name=name, mode=mode,
                        profile=profile)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return out.stdout if profile else json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    sys.path.insert(0, str(HERE))
    from timing import fmt_time
    from workloads import WORKLOADS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--mode", default="C")
    ap.add_argument("--profile")
    ap.add_argument("--root", default=str(HERE.parent))
    args = ap.parse_args(argv)
    caches = tempfile.mkdtemp(prefix="eqcompile-")
    if args.profile:
        cache = os.path.join(caches, args.profile)
        child(args.profile, cache, args.mode, root=args.root)
        print(child(args.profile, cache, args.mode, profile=True, root=args.root))
        return
    print("| workload | compile cold (new cache) | compile warm (new process) | its CPU time |\n|---|---|---|---|")
    for wl in WORKLOADS:
        if (args.only and wl.name not in args.only) or wl.skip_reason:
            continue
        cache = os.path.join(caches, wl.name)
        cold = child(wl.name, cache, args.mode, root=args.root)[0]
        warm = [child(wl.name, cache, args.mode, root=args.root) for _ in range(args.repeats)]
        wall, cpu = (statistics.median(t[j] for t in warm) for j in (0, 1))
        print(f"| {wl.name} | {fmt_time(cold)} | {fmt_time(wall)} | {fmt_time(cpu)} |", flush=True)


if __name__ == "__main__":
    main()
