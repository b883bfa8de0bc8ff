"""Compiling in forked children, in fork-started pools and in several threads.

egglog's thread pool does not survive ``fork``: in a child of a process that had loaded egglog, every
``pop`` or drop of an e-graph waits forever (see :mod:`eqtensor.egraph.bridge`). Every scenario runs
in a fresh interpreter with a timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

#: run first in every scenario: compile helpers; ``check(f, ...)`` returns what the tests compare
PRELUDE = r"""
import json, os, sys, threading, time
import numpy as np
import eqtensor as et
from eqtensor import config, tensor as pt
from eqtensor.compile.mode import Mode
from eqtensor.egraph import Budget, bridge

config.optimizer_cache = False  # every compile below runs the e-graph
X = np.array([-3.0, 0.5, 1000.0])
# a loaded machine (or seven threads sharing a GIL) must not stop the e-graph before softplus appears
MODE = Mode(backend="numpy", budget=Budget(seconds=300.0))


def softplus_fn(k=1.0):
    x = pt.dvector("x")
    return et.function([x], pt.log(1 + pt.exp(x * k)), mode=MODE)


def check(f, k=1.0):
    r = f.optimization_report()
    want = np.logaddexp(0, X * k)
    return {"fallback": r.fallback, "stop": r.stop_reason, "ops": sorted({n.op.name for n in f.maker.fgraph.toposort()}),
            "ok": bool(np.allclose(f(X), want, rtol=1e-12)),  # 1000.0: only the optimized form is finite
            "ok_moderate": bool(np.allclose(f(X[:2]), want[:2], rtol=1e-12)), "pid": os.getpid()}


def emit(obj):
    print("RESULT " + json.dumps(obj), flush=True)
"""


def _run(body: str, timeout: float = 60):
    """Run ``PRELUDE + body`` in a fresh interpreter; the ``RESULT`` lines it printed (parsed) and its
    stderr. Fails on a hang (timeout), a non-zero exit or a message about unsendable e-graphs."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = PRELUDE + textwrap.dedent(body)
    try:
        p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung for {timeout} s:\n{(e.stdout or b'')[-2000:]}\n{(e.stderr or b'')[-4000:]}")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    assert "unsendable" not in p.stderr and "Traceback" not in p.stderr, p.stderr[-4000:]
    results = [json.loads(line[7:]) for line in p.stdout.splitlines() if line.startswith("RESULT ")]
    return results, p.stderr


def _optimized(r):
    return r["fallback"] is None and r["ok"] and "softplus" in r["ops"]


def test_os_fork_child_compiles_after_the_parent_did():
    (parent, child, status), _ = _run("""
        f = softplus_fn()
        emit(check(f))
        pid = os.fork()
        if pid == 0:
            t0 = time.monotonic()
            g = softplus_fn(2.0)  # a new graph: the e-graph runs in the child
            out = check(g, 2.0)
            out.update(seconds=time.monotonic() - t0, forked=bridge.forked_egglog(), before=check(f))
            emit(out)
            os._exit(0)
        _, st = os.waitpid(pid, 0)
        emit(os.waitstatus_to_exitcode(st))
    """)
    assert _optimized(parent)
    assert _optimized(child) and child["forked"] and child["pid"] != parent["pid"]
    assert _optimized(child["before"])  # a function compiled before the fork works in the child
    assert child["seconds"] < 30
    assert status == 0


def test_fork_pool_workers_compile():
    results, _ = _run("""
        import multiprocessing as mp

        def work(k):
            outs = [check(softplus_fn(k + 0.5 * i), k + 0.5 * i) for i in range(3)]
            return outs

        if __name__ == "__main__":
            emit(check(softplus_fn()))  # the parent loads egglog before the pool starts
            with mp.get_context("fork").Pool(2) as pool:
                for outs in pool.map(work, [1.0, 2.0, 3.0, 4.0]):
                    emit(outs)
            emit(check(softplus_fn(7.0), 7.0))  # the parent still compiles afterwards
    """, timeout=90)
    parent, *pools, after = results
    assert _optimized(parent) and _optimized(after)
    assert len(pools) == 4 and all(_optimized(r) for outs in pools for r in outs)
    assert {r["pid"] for outs in pools for r in outs} - {parent["pid"]}


def test_fork_while_other_threads_hold_e_graphs_then_exit_normally():
    """Sessions of the parent's threads (alive at the fork) are never dropped in the child: neither at
    the child's compiles nor when its interpreter exits (sys.exit runs the full shutdown)."""
    (child, status), stderr = _run("""
        ready, done = threading.Barrier(4), threading.Event()

        def hold(k):
            softplus_fn(k)
            ready.wait()
            done.wait()

        threads = [threading.Thread(target=hold, args=(k,)) for k in (1.0, 2.0, 3.0)]
        for t in threads:
            t.start()
        softplus_fn()
        ready.wait()
        pid = os.fork()
        if pid == 0:
            import gc
            gc.collect()
            out = check(softplus_fn(5.0), 5.0)
            box = []
            t = threading.Thread(target=lambda: box.append(check(softplus_fn(6.0), 6.0)))
            t.start()
            t.join()
            out["thread"] = box[0]
            emit(out)
            gc.collect()
            sys.exit(0)
        _, st = os.waitpid(pid, 0)
        done.set()
        for t in threads:
            t.join()
        emit(os.waitstatus_to_exitcode(st))
    """)
    assert _optimized(child) and _optimized(child["thread"])
    assert status == 0


def test_grandchild_and_a_dead_helper():
    """A child of a forked child gets its own helper; a helper that dies costs one compile (it falls
    back to the unoptimized graph, still correct) and the next one starts a new helper."""
    (child, grandchild), _ = _run("""
        softplus_fn()
        pid = os.fork()
        if pid == 0:
            out = check(softplus_fn(2.0), 2.0)
            s = bridge.session()
            s._proc.kill()
            s._proc.wait()
            broken = check(softplus_fn(3.0), 3.0)
            again = check(softplus_fn(4.0), 4.0)
            out.update(broken=broken, again=again, new_helper=bridge.session()._proc.pid != s._proc.pid)
            emit(out)
            gpid = os.fork()
            if gpid == 0:
                emit(check(softplus_fn(8.0), 8.0))
                os._exit(0)
            os.waitpid(gpid, 0)
            os._exit(0)
        os.waitpid(pid, 0)
    """)
    assert _optimized(child) and _optimized(child["again"]) and child["new_helper"]
    assert child["broken"]["ok_moderate"] and "helper process died" in child["broken"]["fallback"]
    assert _optimized(grandchild) and grandchild["pid"] != child["pid"]


def test_child_of_a_process_that_never_loaded_egglog_works_in_process():
    (child,), _ = _run("""
        assert "egglog.bindings" not in sys.modules
        pid = os.fork()
        if pid == 0:
            out = check(softplus_fn())
            out.update(forked=bridge.forked_egglog(), remote=type(bridge.session()).__name__)
            emit(out)
            os._exit(0)
        os.waitpid(pid, 0)
    """)
    assert _optimized(child) and not child["forked"] and child["remote"] == "Session"


def test_helpers_exit_with_their_child():
    (helpers, alive), _ = _run("""
        softplus_fn()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            check(softplus_fn(2.0), 2.0)
            os.write(w, str(bridge.session()._proc.pid).encode())
            os._exit(0)  # no clean-up at all: the helper sees the pipe close
        os.close(w)
        helper = int(os.read(r, 100))
        os.waitpid(pid, 0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{helper}/stat") as fh:
                    gone = fh.read().split(") ")[1].startswith("Z")
            except FileNotFoundError:
                gone = True
            if gone:
                break
            time.sleep(0.05)
        emit([helper])
        emit(not gone)
    """)
    assert helpers and alive is False


def test_threads_compile_concurrently_without_panics():
    (result,), _ = _run("""
        from concurrent.futures import ThreadPoolExecutor
        unraisable = []
        sys.unraisablehook = lambda u: unraisable.append(repr(u.exc_value))

        def work(k):
            return [check(softplus_fn(k + i), k + i) for i in range(3)]

        threads, outs = [], []
        for k in range(4):
            t = threading.Thread(target=lambda k=k: outs.append(work(10.0 * k + 1)))
            threads.append(t)
            t.start()
        for t in threads:
            t.join()
        with ThreadPoolExecutor(3) as pool:
            outs += list(pool.map(work, [100.0, 200.0, 300.0]))
        import gc
        gc.collect()
        emit({"outs": outs, "unraisable": unraisable, "main": check(softplus_fn(0.5), 0.5)})
    """, timeout=120)
    outs = [r for group in result["outs"] for r in group]
    assert len(outs) == 21 and all(_optimized(r) for r in outs)
    assert _optimized(result["main"]) and result["unraisable"] == []


def test_locks_held_by_other_threads_at_fork_are_free_in_the_child():
    """A thread of the parent sits inside the interners' lock, the optimizer cache's lock, the C
    module cache's lock and a ``gc_paused`` block when the main thread forks: the child compiles new
    types (interning them, in C and NumPy) with the collector back on; the parent is unaffected."""
    (child, parent), _ = _run("""
        import gc
        from eqtensor.backends.c import build
        from eqtensor.core.graph import gc_paused
        from eqtensor.egraph import cache as opt_cache
        from eqtensor.egraph.program import PARAMS, TYPES, VALUES

        config.optimizer_cache = True
        softplus_fn()  # the parent has loaded egglog and interned its types
        held, release = threading.Event(), threading.Event()

        def hold():
            with TYPES._lock, PARAMS._lock, VALUES._lock, opt_cache._lock, build._STATE, gc_paused():
                held.set()
                release.wait()

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            out = {"gc_at_fork": gc.isenabled()}
            x = pt.tensor("x", dtype="float64", shape=(7, None))  # a type the parent never interned
            for mode in (MODE, "C"):
                f = et.function([x], pt.log(1 + pt.exp(x * 3.5)), mode=mode)
                out[str(mode)] = bool(np.allclose(f(np.full((7, 2), 1000.0)), 3500.0))
            with gc_paused():
                out["gc_in_block"] = gc.isenabled()
            out["gc_after"] = gc.isenabled()
            emit(out)
            os._exit(0)
        _, st = os.waitpid(pid, 0)
        during = gc.isenabled()
        release.set()
        holder.join()
        emit({"status": os.waitstatus_to_exitcode(st), "gc_during": during, "gc_after": gc.isenabled()})
    """, timeout=120)
    assert child["gc_at_fork"] and child["gc_after"] and not child["gc_in_block"]
    assert all(v for k, v in child.items() if not k.startswith("gc_")) and len(child) == 5
    assert parent == {"status": 0, "gc_during": False, "gc_after": True}
