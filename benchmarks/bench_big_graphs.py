"""Compile time of big graphs, phase by phase, on the NumPy and C backends.

Run: ``python benchmarks/bench_big_graphs.py`` (``--quick`` for smaller sizes, ``--only chain
sum_grad``, ``--modes NUMPY``, ``--timeout 300``, ``--json FILE``, ``--budget 60`` to compile with
``Budget(seconds=60, max_graph_nodes=200_000)`` instead of the mode's default budget of 2 s, which
covers the whole compile and so leaves the biggest graphs unoptimized). Every (case, mode) runs in
its own process with a fresh cache directory and the optimizer cache off (a cold compile), after a
tiny warm-up compile that pays importing egglog and registering the default rules. One run each.

Cases (full size; ``--quick`` in brackets):

- ``chain``: ``e = tanh(e) * 0.5 + 0.1`` repeated 10 000 [1 000] times over a vector;
- ``chain_grad``: the gradient of ``chain(x).sum()`` with respect to ``x``;
- ``inputs``: 3 000 [300] scalar inputs, outputs ``x0 + x1 + …`` and ``x0*x1 + x1*x2 + …``;
- ``sum_grad``: the gradient of ``w0*x0 + … + w9999*x9999`` [1 000 terms] (separate scalars) with
  respect to every ``w`` and ``x``;
- ``user_rules``: a 40-variable [20] polynomial with commutativity, associativity and distribution
  of add/mul added to the default rules as user rules (they explode), default budget (2 s);
- ``random``: the seeded 2 000-op [500] random elementwise graph of ``bench_optimize.py``.

Columns (seconds): ``build`` the graph, ``grad``, then inside ``function()``: ``fold``, ``setup``,
``insert``, ``saturate``, ``extract`` (the optimizer report's phases), ``opt-other`` (the rest of
the optimizer: costs, cache key, rebuilding the graph), ``sched`` (schedule), ``codegen`` (backend
source generation; NumPy: also Python's ``compile``), ``gcc`` (building and loading the C module
and the library of its new kernels, concurrently: compiler processes, cffi, the disk cache; the
runtime library is built by the warm-up compile), ``mk-other`` (the rest of ``FunctionMaker``), ``fn-other``
(``function()`` outside ``FunctionMaker``: argument checks, finding shared variables, building the
``Function``), ``total`` (``function()`` wall time), ``cpu`` (its CPU time in this process: without
the compiler processes, and less sensitive to a loaded machine), ``run`` (one call), ``ok`` (result
agrees with the reference interpreter), ``MB`` (peak RSS of the process), ``stop`` (the optimizer's
stop reason or fallback; then the target and the machine's load average over the last minute when the
case ended: the machine may be shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

SIZES = {  # case -> (full, quick)
    "chain": (10_000, 1_000),
    "chain_grad": (10_000, 1_000),
    "inputs": (3_000, 300),
    "sum_grad": (10_000, 1_000),
    "user_rules": (40, 20),
    "random": (2_000, 500),
}
TARGETS = {"chain": 10.0, "chain_grad": 10.0, "inputs": 5.0, "sum_grad": 10.0, "random": 3.0}
COLUMNS = ["build", "grad", "fold", "setup", "insert", "saturate", "extract", "opt-other", "sched", "codegen",
           "gcc", "mk-other", "fn-other", "total", "cpu", "run"]


# ------------------------------------------------------------------------------------------- cases
def case_chain(pt, grad, n):
    x = pt.dvector("x")
    e = x
    for _ in range(n):
        e = pt.tanh(e) * 0.5 + 0.1
    return [x], [e], {x: np.linspace(-1, 1, 5)}, None


def case_chain_grad(pt, grad, n, timings):
    x = pt.dvector("x")
    e = x
    for _ in range(n):
        e = pt.tanh(e) * 0.5 + 0.1
    t = time.perf_counter()
    g = grad(e.sum(), x)
    timings["grad"] = time.perf_counter() - t
    return [x], [g], {x: np.linspace(-1, 1, 5)}, None


def case_inputs(pt, grad, n):
    xs = [pt.dscalar(f"x{i}") for i in range(n)]
    total = xs[0]
    for v in xs[1:]:
        total = total + v
    prods = xs[0] * xs[1]
    for a, b in zip(xs[1:], xs[2:]):
        prods = prods + a * b
    rng = np.random.default_rng(0)
    return xs, [total, prods], {v: rng.random() for v in xs}, None


def case_sum_grad(pt, grad, n, timings):
    ws = [pt.dscalar(f"w{i}") for i in range(n)]
    xs = [pt.dscalar(f"x{i}") for i in range(n)]
    cost = ws[0] * xs[0]
    for w, x in zip(ws[1:], xs[1:]):
        cost = cost + w * x
    t = time.perf_counter()
    gs = grad(cost, ws + xs)
    timings["grad"] = time.perf_counter() - t
    rng = np.random.default_rng(0)
    return ws + xs, gs, {v: rng.random() for v in ws + xs}, None


def case_user_rules(pt, grad, n):
    from eqtensor.rules import default_rules, rewrite, var
    from eqtensor.compile.mode import Mode

    a, b, c = var("a"), var("b"), var("c")
    mine = (rewrite("user_add_comm", a + b, b + a, why="commutativity")
            + rewrite("user_add_assoc", (a + b) + c, a + (b + c), why="associativity")
            + rewrite("user_mul_comm", a * b, b * a, why="commutativity")
            + rewrite("user_mul_assoc", (a * b) * c, a * (b * c), why="associativity")
            + rewrite("user_distribute", a * (b + c), a * b + a * c, why="distribution"))
    ys = [pt.dvector(f"y{i}") for i in range(n)]
    poly = ys[0]
    for k, v in enumerate(ys[1:]):
        poly = poly * v + ys[k] if k % 3 == 0 else poly + v
    rng = np.random.default_rng(0)
    extra = dict(rules=default_rules() + mine)
    if "trusted" in {f.name for f in dataclasses.fields(Mode)}:  # the rule checker refuses reassociation
        extra["trusted"] = tuple(mine.names())
    return ys, [poly], {v: rng.random(3) for v in ys}, extra


def case_random(pt, grad, n):
    from bench_optimize import random_graph

    fg = random_graph(n)
    rng = np.random.default_rng(0)
    return fg.inputs, fg.outputs, {v: rng.random(4) for v in fg.inputs}, None


# ----------------------------------------------------------------------------------- instrumentation
def _instrument(acc):
    """Wrap backend phases to accumulate their time into ``acc`` (names may move while the C
    backend is being refactored: missing ones are skipped)."""
    import eqtensor.backends as backends
    import eqtensor.backends.numpy_backend as nb

    def wrap(owner, name, key):
        fn = getattr(owner, name, None)
        if fn is None:
            return

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[key] = acc.get(key, 0.0) + time.perf_counter() - t
        setattr(owner, name, timed)

    fn = importlib.import_module("eqtensor.compile.function")  # the package exports a function of that name

    wrap(backends, "make_schedule", "sched")
    maker_init = fn.FunctionMaker.__init__

    def timed_init(self, *a, **k):
        t = time.perf_counter()
        try:
            return maker_init(self, *a, **k)
        finally:
            acc["maker"] = acc.get("maker", 0.0) + time.perf_counter() - t
    fn.FunctionMaker.__init__ = timed_init
    wrap(nb, "compile_schedule", "numpy_backend")
    try:
        import eqtensor.backends.c as cb
    except Exception:  # noqa: BLE001
        return
    wrap(cb, "generate", "codegen")
    wrap(cb, "compile_schedule", "c_backend")


def worker(case: str, mode: str, n: int, budget: float) -> dict:
    import eqtensor as et
    from eqtensor import config, tensor as pt
    from eqtensor.compile.mode import Mode, get_mode
    from eqtensor.core.evaluate import evaluate
    from eqtensor.gradient import grad

    config.optimizer_cache = False
    config.cache_dir = tempfile.mkdtemp(prefix="eqt-bench-")
    w = pt.dvector("w")
    et.function([w], pt.log(1 + pt.exp(w)) * 2.0, mode=mode)  # warm-up: egglog, rules, compiler check
    timings: dict = {}
    t = time.perf_counter()
    builder = globals()[f"case_{case}"]
    if case in ("chain_grad", "sum_grad"):
        inputs, outputs, values, extra = builder(pt, grad, n, timings)
    else:
        inputs, outputs, values, extra = builder(pt, grad, n)
    timings["build"] = time.perf_counter() - t - timings.get("grad", 0.0)
    m = get_mode(mode)
    if extra or budget:
        from eqtensor.egraph import Budget

        m = Mode(optimize=True, backend=m.backend, **(extra or {}),
                 budget=Budget(seconds=budget, max_graph_nodes=200_000) if budget else None)
    acc: dict = {}
    _instrument(acc)
    t, c = time.perf_counter(), time.process_time()
    f = et.function(inputs, outputs, mode=m)
    total = time.perf_counter() - t
    timings["total"] = total
    timings["cpu"] = time.process_time() - c
    rep = f.maker.report
    opt = f.maker.timings.get("optimize", 0.0)
    if rep is not None:
        for k in ("fold", "setup", "insert", "saturate", "extract"):
            if k in rep.times:
                timings[k] = rep.times[k]
        timings["opt-other"] = opt - sum(rep.times.get(k, 0.0) for k in ("fold", "setup", "insert", "saturate",
                                                                          "extract"))
    timings["sched"] = acc.get("sched", 0.0)
    if "numpy_backend" in acc:
        timings["codegen"] = acc["numpy_backend"]
    else:
        timings["codegen"] = acc.get("codegen", 0.0)
        timings["gcc"] = acc.get("c_backend", 0.0) - acc.get("codegen", 0.0)
    maker = acc.get("maker", total)
    timings["mk-other"] = maker - opt - sum(timings.get(k, 0.0) for k in ("sched", "codegen", "gcc"))
    timings["fn-other"] = total - maker
    args = [values[v] for v in inputs]
    t = time.perf_counter()
    got = f(*args)
    timings["run"] = time.perf_counter() - t
    got = got if isinstance(got, list) else [got]
    ref = evaluate(list(outputs), {v: np.asarray(values[v], dtype=v.dtype) for v in inputs})
    ok = all(np.allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True) for a, b in zip(got, ref))
    stop = "" if rep is None else (f"FALLBACK {rep.fallback}" if rep.fallback else rep.stop_reason)
    info = {"nodes": rep.nodes_before if rep else None, "after": rep.nodes_after if rep else None,
            "budget": m.budget.seconds if (m.budget is not None) else 2.0}
    return {"case": case, "mode": mode, "n": n, "t": timings, "ok": ok, "stop": stop, "info": info,
            "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load": os.getloadavg()[0]}


# -------------------------------------------------------------------------------------------- main
def run_one(case, mode, n, timeout, budget=0.0):
    cmd = [sys.executable, __file__, "--worker", case, mode, str(n), str(budget)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        p = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its compiler processes
        proc.communicate()
        return {"case": case, "mode": mode, "n": n, "t": {"total": float("nan")}, "ok": None,
                "stop": f"TIMEOUT after {timeout:.0f} s", "info": {}, "rss": float("nan")}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"case": case, "mode": mode, "n": n, "t": {}, "ok": None,
                "stop": f"ERROR rc={p.returncode}: {p.stderr.strip().splitlines()[-1:] or ''}", "info": {},
                "rss": float("nan"), "wall": time.perf_counter() - t}
    return json.loads(lines[-1])


def fmt(v):
    if v is None:
        return "-"
    if v != v:
        return "nan"
    return f"{v:.2f}" if v >= 0.995 else f"{v:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--modes", nargs="*", default=["NUMPY", "C"])
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--budget", type=float, default=0.0,
                    help="Budget(seconds=...) for every compile (default: the mode's budget, 2 s)")
    ap.add_argument("--worker", nargs=4, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        case, mode, n, budget = a.worker
        print(json.dumps(worker(case, mode, int(n), float(budget))))
        return
    cases = a.only or list(SIZES)
    results = []
    head = f"{'case':11} {'mode':5} {'n':>6} " + " ".join(f"{c:>8}" for c in COLUMNS) + f" {'ok':>3} {'MB':>5}  stop"
    print(head, flush=True)
    for case in cases:
        n = SIZES[case][1 if a.quick else 0]
        for mode in a.modes:
            r = run_one(case, mode, n, a.timeout, a.budget)
            results.append(r)
            t = r["t"]
            ok = {True: "yes", False: "NO", None: "?"}[r["ok"]]
            target = TARGETS.get(case)
            budget = r["info"].get("budget")
            note = r["stop"]
            if case == "user_rules" and budget and t.get("total") == t.get("total"):
                note += f" | total/budget {t.get('total', 0) / budget:.1f}x"
            elif target and not a.quick:
                note += f" | target {target:g} s"
            if "load" in r:
                note += f" | load {r['load']:.1f}"
            print(f"{case:11} {mode:5} {n:>6} " + " ".join(f"{fmt(t.get(c)):>8}" for c in COLUMNS)
                  + f" {ok:>3} {r['rss']:>5.0f}  {note}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
