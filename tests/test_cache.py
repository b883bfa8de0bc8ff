"""The on-disk cache of compiled C modules, exercised with real processes."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time

import pytest

from eqtensor import tensor as pt
from eqtensor.backends.c import build, cache_entries, compiler_works, libraries, toolchain
from eqtensor.backends.c.codegen import generate
from eqtensor.backends.schedule import make_schedule
from eqtensor.core.fgraph import FunctionGraph

pytestmark = pytest.mark.skipif(not compiler_works(), reason="no working C compiler")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = """
import json, sys, numpy as np
from eqtensor.backends.c import build
build.LOCK_TIMEOUT = float(sys.argv[1])
from eqtensor import function, tensor as pt
x = pt.dvector("x")
f = function([x], pt.exp(x) * 3 + 1, mode=__import__("eqtensor").Mode(optimize=False, backend="c"))
v = np.arange(4.0)
print(json.dumps({"ok": bool(np.allclose(f(v), np.exp(v) * 3 + 1)), "backend": f.maker.backend}))
"""


def _key():
    x = pt.dvector("x")
    fg = FunctionGraph([x], [pt.exp(x) * 3 + 1], 1, 1)
    gen = generate(make_schedule(fg))
    return toolchain.module_key(gen.source, parts=(libraries.runtime_name(), *gen.parts))


def _spawn(cache, timeout=120.0):
    env = dict(os.environ, EQTENSOR_CACHE_DIR=str(cache), PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(timeout)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(p):
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _entries(cache):
    """The module entries (and anything else that is neither the runtime, a kernel library, the
    kernel index, the toolchain records nor a lock)."""
    root = cache / "c"
    return sorted(n for n in os.listdir(root) if not n.endswith(".lock") and n not in ("kernels", "toolchain")
                  and not n.startswith(("_eqrt_", "_eqk_")))


@pytest.mark.slow
def test_concurrent_processes_share_one_valid_entry(tmp_path):
    procs = [_spawn(tmp_path) for _ in range(4)]
    results = [_result(p) for p in procs]
    assert all(r["ok"] and r["backend"] == "c" for r in results)
    key = _key()
    assert _entries(tmp_path) == [key], "one entry, no temporary or trash directories left"
    libs = sorted(n for n in os.listdir(tmp_path / "c") if n.startswith(("_eqrt_", "_eqk_")) and "." not in n)
    assert [n[:5] for n in libs] == ["_eqk_", "_eqrt"], "one runtime, one kernel library"
    assert cache_entries.entry_valid(str(tmp_path / "c" / key), key)


@pytest.mark.slow
def test_truncated_or_corrupt_entry_is_rebuilt(tmp_path):
    assert _result(_spawn(tmp_path))["ok"]
    key = _key()
    entry = tmp_path / "c" / key
    so = next(p for p in entry.iterdir() if p.name.endswith(".so"))
    data = so.read_bytes()
    so.write_bytes(data[: len(data) // 3])  # truncated
    assert not cache_entries.entry_valid(str(entry), key)
    assert _result(_spawn(tmp_path))["ok"]
    assert cache_entries.entry_valid(str(entry), key)
    (entry / "checksum").write_text("garbage")  # corrupt checksum
    assert _result(_spawn(tmp_path))["ok"]
    assert cache_entries.entry_valid(str(entry), key)
    assert _entries(tmp_path) == [key]


@pytest.mark.slow
def test_a_held_lock_times_out_instead_of_hanging(tmp_path):
    key = _key()
    os.makedirs(tmp_path / "c")
    fd = os.open(tmp_path / "c" / (key + ".lock"), os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another "process" holds the lock forever
    try:
        t0 = time.monotonic()
        assert _result(_spawn(tmp_path, timeout=0.5))["ok"]
        assert time.monotonic() - t0 < 60
    finally:
        os.close(fd)
    assert cache_entries.entry_valid(str(tmp_path / "c" / key), key)


def test_warm_cache_is_reused_in_a_new_process(tmp_path):
    assert _result(_spawn(tmp_path))["ok"]
    key = _key()
    so = next(p for p in (tmp_path / "c" / key).iterdir() if p.name.endswith(".so"))
    mtime = so.stat().st_mtime_ns
    assert _result(_spawn(tmp_path))["ok"]
    assert so.stat().st_mtime_ns == mtime


def test_key_depends_on_source_and_flags():
    a = toolchain.module_key("int x;")
    assert a == toolchain.module_key("int x;")
    assert a != toolchain.module_key("int y;")
    assert a != toolchain.module_key("int x;", flags=toolchain.CFLAGS + ("-O1",))
    assert a != toolchain.module_key("int x;", parts=("int z;",))
