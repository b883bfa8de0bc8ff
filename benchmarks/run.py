"""The benchmark suite of design.md's bar: one command, one markdown table.

    python benchmarks/run.py [--repeats 15] [--quick] [--only scalar_add elemwise_chain ...]

Systems (each when importable): eqtensor C (mode "C"), eqtensor NumPy (mode "NUMPY"), NumPy eager,
PyTensor C ("FAST_RUN") and Numba ("NUMBA"), JAX ``jit`` (float64). Every system runs the same
graph in the same process; the table gives the median and interquartile range of ``repeats`` timed
runs (each run long enough to be timed reliably), the compile time cold (fresh caches: a new cache
directory, no module or kernel library in memory; the runtime library, built once per cache directory
and loaded once per process, is built first and its build time printed above the table) and warm
(eqtensor: a rebuild reading the disk caches — optimizer recipes and compiled modules; PyTensor: its
second compile; JAX: a new ``jit``), for eqtensor the warm compile with the e-graph run again
(``config.optimizer_cache = False``: only the compiled module comes from the cache), and for the
stability workloads the worst relative error against an accurate reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

_TMP = tempfile.mkdtemp(prefix="eqbench-")
os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={_TMP}/pytensor")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import eqtensor as et  # noqa: E402
from eqtensor import tensor as ept  # noqa: E402
from eqtensor.backends.c import build as cbuild  # noqa: E402
from eqtensor.backends.c import libraries as clibs  # noqa: E402
from eqtensor.egraph import cache as opt_cache  # noqa: E402

from timing import fmt_time, summary  # noqa: E402
from workloads import WORKLOADS, eq_grad  # noqa: E402

try:
    import pytensor
    import pytensor.tensor as ppt
except Exception:  # noqa: BLE001  (optional peer)
    pytensor = None
try:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
except Exception:  # noqa: BLE001  (optional peer)
    jax = None


def timed(call, repeats, min_time=0.05):
    """Per-call times (s) of ``repeats`` runs, each of enough calls to last ``min_time``."""
    call()
    t0 = time.perf_counter()
    call()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_time / one))
    return [t / number for t in timeit.Timer(call).repeat(repeat=repeats, number=number)]


# ----------------------------------------------------------------------------- systems
def runtime_build_seconds() -> float:
    """The one-time cost: building the C runtime library in a fresh cache directory (s)."""
    t0 = time.perf_counter()
    clibs.runtime_library(tempfile.mkdtemp(prefix="eqtensor-rt-", dir=_TMP))
    return time.perf_counter() - t0


def forget_compiled():
    """Forget every compiled module and kernel library of this process (the runtime stays loaded)."""
    runtime = clibs.runtime_name()
    for name in [n for n in cbuild._LOADED if n != runtime]:
        del cbuild._LOADED[name]
    clibs._ADDRESSES.clear()
    clibs._LIBS.clear()


def eq_system(mode):
    def compile_(wl, data):
        # cold: empty caches (a fresh cache directory, nothing in memory)
        et.config.cache_dir = tempfile.mkdtemp(prefix="eqtensor-", dir=_TMP)
        opt_cache.clear_memory()
        forget_compiled()
        t0 = time.perf_counter()
        f = wl.build_function(ept, eq_grad, et.function, et.shared, mode, data)
        cold = time.perf_counter() - t0
        # warm: a rebuild that reads both disk caches (optimizer recipes and compiled modules)
        opt_cache.clear_memory()
        forget_compiled()
        t0 = time.perf_counter()
        wl.build_function(ept, eq_grad, et.function, et.shared, mode, data)
        warm = time.perf_counter() - t0
        # warm, e-graph run again: the module cache only (what a graph never compiled before but
        # whose C module exists pays; the e-graph's own time)
        forget_compiled()
        with et.config.change_flags(optimizer_cache=False):
            t0 = time.perf_counter()
            wl.build_function(ept, eq_grad, et.function, et.shared, mode, data)
            rerun = time.perf_counter() - t0
        return f, cold, warm, rerun

    return compile_


def pytensor_system(mode):
    def compile_(wl, data):
        t0 = time.perf_counter()
        f = wl.build_function(ppt, pytensor.grad, pytensor.function, pytensor.shared, mode, data)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        wl.build_function(ppt, pytensor.grad, pytensor.function, pytensor.shared, mode, data)
        warm = time.perf_counter() - t0
        return f, cold, warm, None

    return compile_


def jax_system(wl, data):
    f = wl.jax_function(jax, jnp, data)
    t0 = time.perf_counter()
    f()
    cold = time.perf_counter() - t0
    g = wl.jax_function(jax, jnp, data)
    t0 = time.perf_counter()
    g()
    warm = time.perf_counter() - t0
    return f, cold, warm, None


def systems():
    out = {"eqtensor C": eq_system("C"), "eqtensor NumPy": eq_system("NUMPY"), "NumPy eager": None}
    if pytensor is not None:
        out["PyTensor C"] = pytensor_system("FAST_RUN")
        try:
            import numba  # noqa: F401

            out["PyTensor Numba"] = pytensor_system("NUMBA")
        except ImportError:
            pass
    if jax is not None:
        out["JAX jit"] = jax_system
    return out


def run_workload(wl, repeats):
    rows = []
    rng = np.random.default_rng(0)
    data = wl.data(rng)
    for name, comp in systems().items():
        try:
            if comp is None:
                if wl.numpy_eager is None:
                    continue
                call, cold, warm, rerun = wl.numpy_eager(data), None, None, None
            elif name == "JAX jit":
                if wl.jax_function is None:
                    continue
                call, cold, warm, rerun = comp(wl, data)
            else:
                call, cold, warm, rerun = comp(wl, data)
                call = wl.caller(call, data)
            err = wl.error(call) if wl.error is not None else None
            med, iqr = summary(timed(call, repeats, wl.min_time))
            if wl.compile_only:
                med = iqr = None
            rows.append((wl.name, name, med, iqr, cold, warm, rerun, err, ""))
        except Exception as e:  # noqa: BLE001  (a peer failing is reported, not fatal)
            rows.append((wl.name, name, None, None, None, None, None, None, f"failed: {type(e).__name__}: {e}"[:90]))
    return rows


def table(rows):
    lines = ["| workload | system | median | IQR | compile cold | compile warm | warm, e-graph re-run | max rel err "
             "| note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for wl, sysname, med, iqr, cold, warm, rerun, err, note in rows:
        e = "—" if err is None else f"{err:.1e}"
        lines.append(f"| {wl} | {sysname} | {fmt_time(med)} | {fmt_time(iqr)} | {fmt_time(cold)} | "
                     f"{fmt_time(warm)} | {fmt_time(rerun)} | {e} | {note} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="5 repeats, shorter runs")
    ap.add_argument("--only", nargs="*", help="workload names")
    args = ap.parse_args(argv)
    repeats = 5 if args.quick else args.repeats
    rows = []
    runtime = runtime_build_seconds()
    for wl in WORKLOADS:
        if args.only and wl.name not in args.only:
            continue
        if wl.skip_reason:
            rows.append((wl.name, "—", None, None, None, None, None, None, wl.skip_reason))
            continue
        rows.extend(run_workload(wl, repeats))
        print(f"done {wl.name}", file=sys.stderr, flush=True)
    peers = ", ".join(p for p, m in (("PyTensor " + pytensor.__version__ if pytensor else "", pytensor),
                                     ("JAX " + jax.__version__ if jax else "", jax)) if m) or "no peers"
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, {peers}; {os.cpu_count()} cores")
    print(f"eqtensor's C runtime library: built in {runtime:.2f} s (once per cache directory)\n")
    print(table(rows))


if __name__ == "__main__":
    main()
