"""Large matrix-vector products of the C backend split by rows of the matrix over the function's
threads (``eq_gemv_par`` in :mod:`eqtensor.backends.c.blas`): results against NumPy for every layout,
above and below the threshold (1 MiB of matrix), and bitwise the same for every thread count."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from eqtensor import config, function, tensor as pt
from eqtensor.backends.c.toolchain import compiler_works

pytestmark = pytest.mark.skipif(not compiler_works(), reason="no working C compiler")

THREADS = (1, 2, 3)


def _compile(inputs, output, threads):
    with config.change_flags(num_threads=threads):
        f = function(inputs, output, mode="C")
    assert f.maker.backend == "c"
    return f


def _tol(dt):
    return (1e-12, 1e-11) if dt == "float64" else (1e-5, 1e-4)


def _mats(rng, dt, big):
    """(name, matrix) in every layout: C, Fortran, row slice, column slice (ld > columns), strided rows,
    strided columns of a Fortran array, a transposed C array, strided both ways (copied first)"""
    r, c = (400, 784) if big else (60, 50)
    if big and dt == "float32":
        r = 700  # 2.2 MB
    X = rng.standard_normal((r, c)).astype(dt)
    W = rng.standard_normal((2 * r, c)).astype(dt)
    return [("C", X), ("F", np.asfortranarray(X)), ("rows", W[:r]), ("cols", W[:r, : c - 7]),
            ("strided rows", W[::2]), ("strided cols", np.ascontiguousarray(W[:, : c // 2 * 2].T).T[::1, ::2]),
            ("transposed", np.ascontiguousarray(X.T).T), ("copied", W[::2, ::2])]


def _vec(rng, n, dt, kind):
    v = rng.standard_normal(2 * n).astype(dt)
    return {"contiguous": v[:n], "strided": v[::2], "reversed": v[::-1][:n]}[kind]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("big", [True, False])
def test_dot_matrix_vector_matches_numpy_and_is_thread_count_independent(rng, dt, big):
    A, v = pt.matrix("A", dtype=dt), pt.vector("v", dtype=dt)
    outs = [pt.dot(A, v), pt.dot(A.T, v), pt.dot(v, A)]
    fs = {t: [_compile([A, v], o, t) for o in outs] for t in THREADS}
    rtol, atol = _tol(dt)
    for name, M in _mats(rng, dt, big):
        for kind in ("contiguous", "strided", "reversed"):
            vr, vc = _vec(rng, M.shape[1], dt, kind), _vec(rng, M.shape[0], dt, kind)
            M64 = M.astype("float64")
            wants = [M64 @ vr.astype("float64"), M64.T @ vc.astype("float64"), vc.astype("float64") @ M64]
            args = [(M, vr), (M, vc), (M, vc)]
            for i, want in enumerate(wants):
                got = {t: fs[t][i](*args[i]) for t in THREADS}
                for t in THREADS:
                    assert got[t].dtype == np.dtype(dt) and got[t].shape == want.shape
                    np.testing.assert_allclose(got[t], want, rtol=rtol, atol=atol * np.sqrt(M.shape[0] + M.shape[1]),
                                               err_msg=f"{name} {kind} out {i} threads {t}")
                    np.testing.assert_array_equal(got[t], got[1], err_msg=f"{name} {kind} out {i} threads {t}")


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_gemv_op_matches_numpy_and_is_thread_count_independent(rng, dt):
    from eqtensor.core.ops.blas import gemv

    A, x, y = pt.matrix("A", dtype=dt), pt.vector("x", dtype=dt), pt.vector("y", dtype=dt)
    a, b = pt.scalar("a", dtype=dt), pt.scalar("b", dtype=dt)
    y1 = pt.vector("y1", dtype=dt, shape=(1,))  # broadcast: static length 1 (PyTensor's static broadcasting)
    fs = {t: _compile([A, x, y, a, b], gemv(y, a, A, x, b), t) for t in THREADS}
    fs1 = {t: _compile([A, x, y1, a, b], gemv(y1, a, A, x, b), t) for t in THREADS}
    rtol, atol = _tol(dt)
    for name, M in _mats(rng, dt, True) + _mats(rng, dt, False)[:2]:
        xv = rng.standard_normal(M.shape[1]).astype(dt)
        for yv in (rng.standard_normal(M.shape[0]).astype(dt), np.ones(1, dt)):
            fy = fs if len(yv) == M.shape[0] else fs1
            for al, be in ((0.5, 2.0), (1.0, 0.0), (-1.5, 1.0), (0.0, 1.0)):
                al_, be_ = np.asarray(al, dt), np.asarray(be, dt)
                want = al * (M.astype("float64") @ xv.astype("float64")) + be * yv.astype("float64")
                got = {t: fy[t](M, xv, yv, al_, be_) for t in THREADS}
                for t in THREADS:
                    np.testing.assert_allclose(got[t], want, rtol=rtol, atol=atol * 100, err_msg=f"{name} {al} {be}")
                    np.testing.assert_array_equal(got[t], got[1])
    # alpha not finite: the product meets alpha as in the formula
    M = _mats(rng, dt, True)[0][1]
    xv, yv = rng.standard_normal(M.shape[1]).astype(dt), rng.standard_normal(M.shape[0]).astype(dt)
    with np.errstate(invalid="ignore", over="ignore"):
        want = np.inf * (M.astype("float64") @ xv.astype("float64")) + yv
        for t in THREADS:
            np.testing.assert_array_equal(fs[t](M, xv, yv, np.asarray(np.inf, dt), np.asarray(1, dt)), want.astype(dt))


@pytest.mark.parametrize("shape", [(0, 784), (400, 0), (1, 200_000), (200_000, 1), (2, 100_000), (100_000, 2),
                                   (15, 20_000), (20_000, 16)])
def test_edge_shapes(rng, shape):
    A, v = pt.dmatrix("A"), pt.dvector("v")
    for t in THREADS:
        f, g = _compile([A, v], pt.dot(A, v), t), _compile([A, v], pt.dot(A.T, v), t)
        for M in (rng.standard_normal(shape), np.asfortranarray(rng.standard_normal(shape))):
            vr, vc = rng.standard_normal(shape[1]), rng.standard_normal(shape[0])
            np.testing.assert_allclose(f(M, vr), M @ vr, rtol=1e-12, atol=1e-11)
            np.testing.assert_allclose(g(M, vc), M.T @ vc, rtol=1e-12, atol=1e-11)


def test_nan_inf_propagate(rng):
    A, v = pt.dmatrix("A"), pt.dvector("v")
    M = rng.standard_normal((400, 784))
    M[5, 3] = np.nan
    M[300, 700] = np.inf
    for t in THREADS:
        f, g = _compile([A, v], pt.dot(A, v), t), _compile([A, v], pt.dot(A.T, v), t)
        vr, vc = rng.standard_normal(784), rng.standard_normal(400)
        np.testing.assert_array_equal(np.isnan(f(M, vr)), np.isnan(M @ vr))
        np.testing.assert_array_equal(np.isinf(f(M, vr)), np.isinf(M @ vr))
        np.testing.assert_array_equal(np.isnan(g(M, vc)), np.isnan(M.T @ vc))


def test_workers_after_fork():
    """the persistent workers do not exist in a forked child: it runs without them (no hang)"""
    code = textwrap.dedent("""
        import os, numpy as np
        from eqtensor import config, function, tensor as pt
        A, v = pt.dmatrix("A"), pt.dvector("v")
        with config.change_flags(num_threads=2):
            f = function([A, v], [pt.dot(A, v), pt.dot(A.T, pt.dot(A, v))], mode="C")
        M, x = np.random.default_rng(0).standard_normal((400, 784)), np.ones(784)
        want = f(M, x)
        pid = os.fork()
        if pid == 0:
            ok = all(np.array_equal(a, b) for a, b in zip(f(M, x), want))
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, status
        assert all(np.array_equal(a, b) for a, b in zip(f(M, x), want))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_loops_and_gemv_share_the_pool_bitwise_for_every_thread_count(rng):
    """one function whose large loops (dynamic work items) and large gemv (static row blocks) run on
    the same worker pool, back to back in one call: bitwise the same for 1, 2 and 3 threads (3 is
    capped at the cores), and the same again on repeated calls (persistent workers)"""
    A, v, x = pt.dmatrix("A"), pt.dvector("v"), pt.dvector("x")
    h = pt.dot(A, pt.tanh(v) * 2)  # loop of 784, then a 400 x 784 gemv on the pool
    outs = [pt.exp(x) * pt.sin(x) + 1, pt.dot(A.T, pt.exp(h)), pt.log1p(x * x) + pt.sum(h)]
    M, vv = rng.standard_normal((400, 784)), rng.standard_normal(784)
    xv = rng.standard_normal(600_001)  # loops above EQ_PAR_MIN
    got = {}
    for t in THREADS:
        f = _compile([A, v, x], outs, t)
        got[t] = f(M, vv, xv)
        for _ in range(3):
            for a, b in zip(f(M, vv, xv), got[t]):
                np.testing.assert_array_equal(a, b)
    hv = M @ (np.tanh(vv) * 2)
    want = [np.exp(xv) * np.sin(xv) + 1, M.T @ np.exp(hv), np.log1p(xv * xv) + hv.sum()]
    for a, b in zip(got[1], want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())
    for t in THREADS[1:]:
        for a, b in zip(got[t], got[1]):
            np.testing.assert_array_equal(a, b)


def test_pool_after_fork_runs_loops_and_gemv():
    """a forked child of a process whose pool has workers starts a fresh pool (its parent's workers do
    not exist there) and runs threaded loops and gemvs correctly, several times"""
    code = textwrap.dedent("""
        import os, numpy as np
        from eqtensor import config, function, tensor as pt
        A, v, x = pt.dmatrix("A"), pt.dvector("v"), pt.dvector("x")
        with config.change_flags(num_threads=2):
            f = function([A, v, x], [pt.dot(A, v), pt.exp(x) * 2 + 1], mode="C")
        rng = np.random.default_rng(0)
        M, vv, xv = rng.standard_normal((400, 784)), np.ones(784), rng.standard_normal(1_000_000)
        want = f(M, vv, xv)
        pid = os.fork()
        if pid == 0:
            ok = all(all(np.array_equal(a, b) for a, b in zip(f(M, vv, xv), want)) for _ in range(5))
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, status
        assert all(np.array_equal(a, b) for a, b in zip(f(M, vv, xv), want))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


# ----------------------------------------------------------------------------- matrix-matrix products
@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_dot_and_gemm_split_over_threads_match_numpy(rng, dt):
    """matrix products above the split threshold (cut into one chunk a thread along C's longer
    dimension) and below it, every operand layout, against NumPy for 1, 2 and 3 threads"""
    from eqtensor.core.ops.blas import gemm

    A, B, C = pt.matrix("A", dtype=dt), pt.matrix("B", dtype=dt), pt.matrix("C", dtype=dt)
    a, b = pt.scalar("a", dtype=dt), pt.scalar("b", dtype=dt)
    fs = {t: (_compile([A, B], pt.dot(A, B), t), _compile([C, a, A, B, b], gemm(C, a, A, B, b), t)) for t in THREADS}
    rtol, atol = _tol(dt)
    for m, k, n in ((300, 200, 100), (100, 200, 300), (7, 3, 5), (130, 40, 2000)):
        x = rng.standard_normal((m, k)).astype(dt)
        y = rng.standard_normal((2 * k, n + 3)).astype(dt)
        cv = rng.standard_normal((m, n)).astype(dt)
        for xa in (x, np.asfortranarray(x), np.ascontiguousarray(x.T).T):
            for ya in (y[:k, :n], y[::2, :n], np.asfortranarray(y[:k, :n]), y[:k, 1:n + 1]):
                want = xa.astype("float64") @ ya.astype("float64")
                for t in THREADS:
                    dot_f, gemm_f = fs[t]
                    np.testing.assert_allclose(dot_f(xa, ya), want, rtol=rtol, atol=atol * 10)
                    got = gemm_f(cv, np.asarray(0.5, dt), xa, ya, np.asarray(-2.0, dt))
                    np.testing.assert_allclose(got, 0.5 * want - 2.0 * cv, rtol=rtol, atol=atol * 10)


def test_openblas_thread_count_is_restored_after_a_call(rng):
    """the BLAS calls run OpenBLAS on one thread and restore its (process-wide) thread count after"""
    import ctypes
    import glob
    import os

    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "libscipy_openblas64_*.so"))
    if not libs:
        pytest.skip("NumPy's bundled OpenBLAS not found")
    lib = ctypes.CDLL(libs[0])
    get, put = lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
    before = get()
    try:
        put(2)
        A, B = pt.dmatrix("A"), pt.dmatrix("B")
        f = _compile([A, B], pt.dot(A, B), 2)
        x, y = rng.standard_normal((300, 200)), rng.standard_normal((200, 400))
        np.testing.assert_allclose(f(x, y), x @ y, rtol=1e-12, atol=1e-10)
        assert get() == 2
    finally:
        put(before)


def test_idle_core_count_reads_the_runnable_threads(tmp_path):
    """the pool's idle-core cap (``eq_pool_free``, used by the split matrix products) parses the
    instantaneous runnable count of /proc/loadavg and never returns more threads than asked or fewer
    than one; built standalone from the pool's C text"""
    import os

    from eqtensor.backends.c.pool import POOL
    from eqtensor.backends.c.toolchain import compiler

    if not os.path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg")
    src = tmp_path / "pool.c"
    src.write_text("#include <pthread.h>\n#include <signal.h>\n#include <sched.h>\n#include <time.h>\n"
                   "#include <unistd.h>\n#include <stdlib.h>\n#include <stdio.h>\n" + POOL.format()
                   + "int main(void) { int T; printf(\"%d\", eq_runnable_now());"
                   " for (T = 1; T <= 4; T++) printf(\" %d\", eq_pool_free(T)); return 0; }\n")
    exe = tmp_path / "pool"
    subprocess.run([compiler(), "-O1", "-pthread", str(src), "-o", str(exe)], check=True, timeout=120)
    with open("/proc/loadavg") as fh:
        total = int(fh.read().split()[3].split("/")[1])  # threads on the machine
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    runnable, free = int(out[0]), [int(v) for v in out[1:]]
    assert 1 <= runnable <= total + 1000  # the caller itself runs; a count, not a load average
    # one reading serves the four calls (re-read at most once a millisecond): free = min(T, 1 + idle)
    idle = free[-1] - 1
    assert free == [min(T, 1 + idle) for T in range(1, 5)] and 0 <= idle <= os.cpu_count()
