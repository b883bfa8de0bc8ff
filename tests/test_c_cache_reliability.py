"""The C module cache when things go wrong: damaged entries, unwritable or vanishing cache
directories, a lock held by another live process, entries owned by another user.

Everything runs in real child processes on real files (see ``CHILD``); permission checks run as an
unprivileged user because root ignores permission bits (as ``nobody`` when the suite runs as root,
through ``setpriv`` with read-only access to the interpreter when it lives under ``/root``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import child_env, chown_tree

from eqtensor.backends.c import build, cache_entries, compiler_works, toolchain

pytestmark = pytest.mark.skipif(not compiler_works(), reason="no working C compiler")

#: for each cache directory in ``argv[3:]``: compile ``n`` (1 or 2) functions with mode="C" into it
#: (as a fresh process would: nothing loaded yet) and report, as a JSON list, what happened
CHILD = r"""
import json, os, shutil, sys, time, warnings
import numpy as np
import eqtensor
from eqtensor import tensor as pt
from eqtensor.backends.c import build

scenario, n, caches = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
try:
    eqtensor.config.optimizer_cache = False  # only the C module cache is under test
except AttributeError:
    pass
if scenario.startswith("vanish"):  # the cache directory disappears during the first build
    real_compile, done = build.compile_module, []

    def _compile(*args, **kwargs):
        if scenario == "vanish-after-compile":
            real_compile(*args, **kwargs)
        if not done:
            done.append(True)
            shutil.rmtree(caches[0])
        if scenario == "vanish-before-compile":
            real_compile(*args, **kwargs)

    build.compile_module = _compile


def loaded():
    with open("/proc/self/maps") as fh:
        return {f[5].strip() for f in (line.split(None, 5) for line in fh) if len(f) == 6 and "_eqc_" in f[5]}


x = pt.dvector("x")
v = np.arange(5.0)
cases = [(x * 2 + 1, v * 2 + 1), (x * 3 - 1, v * 3 - 1)][:n]
report = []
for cache in caches:
    eqtensor.config.cache_dir = cache
    build._LOADED.clear()
    seconds, ok, backends, maps = [], True, [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for expr, want in cases:
            before = loaded()
            t0 = time.monotonic()
            f = eqtensor.function([x], expr, mode="C")
            seconds.append(time.monotonic() - t0)
            ok = ok and bool(np.allclose(f(v), want))
            backends.append(f.maker.backend)
            maps.append(sorted(loaded() - before))  # the shared object this function loaded
    private = (getattr(build, "_PRIVATE", None) or [None])[0]  # this process's private build directory
    report.append(dict(
        ok=ok, backends=backends, seconds=seconds, maps=maps, euid=os.geteuid(), private=private,
        private_mode=oct(os.stat(private).st_mode & 0o777) if private else None,
        cache_warnings=[str(w.message) for w in caught if "C module cache" in str(w.message)],
        other_warnings=[str(w.message) for w in caught if "C module cache" not in str(w.message)]))
print(json.dumps(report))
"""

#: hold an exclusive flock on each path in argv[1:] until killed
LOCKER = r"""
import fcntl, os, sys, time
fds = [os.open(p, os.O_CREAT | os.O_RDWR, 0o600) for p in sys.argv[1:]]
for fd in fds:
    fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""

#: a shared object that leaves a marker file behind when anything loads it
EVIL_C = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void eq_loaded(void) {
    int fd = open(MARKER, O_CREAT | O_WRONLY, 0666);
    if (fd >= 0) close(fd);
}
"""


def _spawn(caches, scenario="plain", n=1, user=None):
    """Start the child compiling ``n`` functions into each of ``caches`` (a path or a list of paths),
    as ``user`` (see :func:`unprivileged`) or else as the current user."""
    caches = [caches] if isinstance(caches, (str, os.PathLike)) else caches
    prefix, kwargs, env = (), {}, child_env()
    if user is not None:
        prefix, kwargs, env = user.prefix, user.popen_kwargs, child_env(HOME=user.home)
    return subprocess.Popen([*prefix, sys.executable, "-c", CHILD, scenario, str(n), *map(str, caches)], env=env,
                            cwd=tempfile.gettempdir(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def _results(p, what=""):
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, f"{what}: child failed:\n{err[-4000:]}"
    return json.loads(out.strip().splitlines()[-1])


def _result(p, what=""):
    (r,) = _results(p, what)
    return r


def _run_all(jobs, user=None):
    """Run ``{name: (cache, scenario, n[, user])}`` children (as ``user`` unless the job names one), a
    few at a time; ``{name: result}``."""
    def one(item):
        name, (cache, scenario, n, *who) = item
        return name, _result(_spawn(cache, scenario, n, who[0] if who else user), name)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, jobs.items()))


def _entries(root, prefix="_eqc_"):
    """The entries of ``root`` (``<cache>/c``) whose names start with ``prefix`` (modules by
    default; ``_eqrt_``: the runtime, ``_eqk_``: kernel libraries)."""
    return sorted(n for n in os.listdir(root) if n.startswith(prefix) and not n.endswith(".lock"))


def _leftovers(root):
    """What ``root`` holds besides entries, their locks, the kernel index and the toolchain records:
    temporary or trash directories."""
    return [n for n in os.listdir(root) if n not in ("kernels", "toolchain")
            and not re.fullmatch(r"_eq(c|rt|k)_[0-9a-f]{32}(\.lock)?", n)]


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """A cache holding the valid entry of the first CHILD function: ``(cache, key)``. Made in a cache
    directory that did not exist, so it also shows the directories eqtensor creates."""
    cache = tmp_path_factory.mktemp("golden") / "new" / "cache"
    r = _result(_spawn(cache), "golden")
    assert r["ok"] and r["backends"] == ["c"] and not r["cache_warnings"]
    (key,) = _entries(cache / "c")
    return cache, key


def _copy_entry(golden, cache, uid=None, gid=None, c_mode=0o700):
    """A cache directory ``cache`` holding a copy of the golden cache (the module entry, the runtime,
    the kernel library and its index); ``(entry, so, checksum)`` of the module entry."""
    src, key = golden
    root = cache / "c"
    os.makedirs(cache, mode=0o700, exist_ok=True)
    shutil.copytree(src / "c", root, ignore=shutil.ignore_patterns("*.lock"))
    if uid is not None:
        chown_tree(cache, uid, gid)
    os.chmod(root, c_mode)
    entry = root / key
    so = next(p for p in entry.iterdir() if p.name.endswith(".so"))
    return entry, so, entry / "checksum"


def _evil_so(path, marker):
    """Write a shared object to ``path`` that creates ``marker`` when loaded; its SHA-256."""
    src = str(path) + ".c"
    with open(src, "w") as fh:
        fh.write(EVIL_C)
    subprocess.run([toolchain.compiler(), "-shared", "-fPIC", f'-DMARKER="{marker}"', src, "-o", str(path)], check=True,
                   capture_output=True)
    os.unlink(src)
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# --- damaged entries ---------------------------------------------------------------------------


def _damage(kind, entry, so, checksum, golden_entry):
    data = so.read_bytes()
    digest = checksum.read_text()
    if kind == "checksum-garbage-bytes":
        checksum.write_bytes(b"\xff\xfe\x00\x80 not a checksum \xc3\x28")
    elif kind == "checksum-empty":
        checksum.write_bytes(b"")
    elif kind == "checksum-truncated":
        checksum.write_text(digest[:31])
    elif kind == "checksum-wrong":
        checksum.write_text(hashlib.sha256(b"something else").hexdigest())
    elif kind == "checksum-missing":
        checksum.unlink()
    elif kind == "checksum-fifo":  # opening it for reading would block forever
        checksum.unlink()
        os.mkfifo(checksum)
    elif kind == "checksum-directory":
        checksum.unlink()
        checksum.mkdir()
    elif kind == "checksum-symlink-to-dev-zero":  # reading it would never end
        checksum.unlink()
        checksum.symlink_to("/dev/zero")
    elif kind == "so-truncated":
        so.write_bytes(data[: len(data) // 3])
    elif kind == "so-garbage":
        so.write_bytes(os.urandom(len(data)))
    elif kind == "so-missing":
        so.unlink()
    elif kind == "so-garbage-matching-checksum":
        junk = os.urandom(len(data))
        so.write_bytes(junk)
        checksum.write_text(hashlib.sha256(junk).hexdigest())
    elif kind == "so-truncated-matching-checksum":  # loading it could crash with SIGBUS
        cut = data[: len(data) * 9 // 10]
        so.write_bytes(cut)
        checksum.write_text(hashlib.sha256(cut).hexdigest())
    elif kind == "entry-is-a-file":
        shutil.rmtree(entry)
        entry.write_bytes(b"not a directory")
    elif kind == "entry-empty":
        shutil.rmtree(entry)
        entry.mkdir(mode=0o700)
    elif kind == "entry-symlink":  # to a valid entry elsewhere: not followed
        shutil.rmtree(entry)
        entry.symlink_to(golden_entry)
    else:
        raise AssertionError(kind)


DAMAGE = ["checksum-garbage-bytes", "checksum-empty", "checksum-truncated", "checksum-wrong", "checksum-missing",
          "checksum-fifo", "checksum-directory", "checksum-symlink-to-dev-zero", "so-truncated", "so-garbage",
          "so-missing", "so-garbage-matching-checksum", "so-truncated-matching-checksum", "entry-is-a-file",
          "entry-empty", "entry-symlink"]


def test_entry_checks_never_raise_or_block(tmp_path, golden):
    key = golden[1]
    t0 = time.monotonic()
    for kind in DAMAGE:
        entry, so, checksum = _copy_entry(golden, tmp_path / kind)
        assert cache_entries.entry_valid(str(entry), key)
        _damage(kind, entry, so, checksum, golden[0] / "c" / key)
        assert not cache_entries.entry_valid(str(entry), key), kind
    assert not cache_entries.entry_valid(str(tmp_path / "missing"), key)
    assert time.monotonic() - t0 < 10


def test_damaged_entries_are_rebuilt(tmp_path, golden):
    key = golden[1]
    for kind in DAMAGE:
        entry, so, checksum = _copy_entry(golden, tmp_path / kind)
        _damage(kind, entry, so, checksum, golden[0] / "c" / key)
    halves = [DAMAGE[::2], DAMAGE[1::2]]  # two processes, each going through its caches in turn
    with ThreadPoolExecutor(max_workers=2) as pool:
        out = list(pool.map(lambda kinds: _results(_spawn([tmp_path / k for k in kinds]), "damage"), halves))
    results = {k: r for kinds, rs in zip(halves, out) for k, r in zip(kinds, rs)}
    for kind, r in results.items():
        root = tmp_path / kind / "c"
        assert r["ok"] and r["backends"] == ["c"], kind
        assert not r["cache_warnings"], (kind, r["cache_warnings"])
        assert r["maps"] == [[str(root / key / cache_entries.so_name(key))]], (kind, r["maps"])  # the rebuilt entry
        assert cache_entries.entry_valid(str(root / key), key), kind
        assert _entries(root) == [key] and not _leftovers(root), (kind, "no temporary or trash directories left")
    assert cache_entries.entry_valid(str(golden[0] / "c" / key), key)  # the target of "entry-symlink" untouched


def test_cache_directories_are_created_owner_only(golden):
    cache, key = golden
    c = cache / "c"
    (rt,), (kl,) = _entries(c, "_eqrt_"), _entries(c, "_eqk_")  # one runtime, one kernel library
    for d in (cache, c, c / key, c / rt, c / kl, c / "kernels"):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert not _leftovers(c)
    assert stat.S_IMODE(os.stat(cache / "c" / (key + ".lock")).st_mode) == 0o600


def test_a_group_writable_cache_of_ours_is_tightened(tmp_path, golden):
    entry, _, _ = _copy_entry(golden, tmp_path / "cache", c_mode=0o777)
    r = _result(_spawn(tmp_path / "cache"))
    assert r["ok"] and not r["cache_warnings"]
    assert stat.S_IMODE(os.stat(tmp_path / "cache" / "c").st_mode) == 0o700
    assert r["maps"] == [[str(entry / cache_entries.so_name(golden[1]))]]  # still loaded from the cache


# --- unwritable and vanishing cache directories -------------------------------------------------


def test_unwritable_cache_falls_back_with_one_warning(unprivileged, golden):
    u, key = unprivileged, golden[1]
    base = tempfile.mkdtemp(prefix="unwritable-", dir=u.base)
    os.chmod(base, 0o755)
    readonly = os.path.join(base, "readonly")  # the user's own cache directory, mode 0o500
    os.mkdir(readonly, 0o500)
    os.chown(readonly, u.uid, u.gid)
    others = os.path.join(base, "others")  # a directory of root's (else read-only) the user cannot write
    os.mkdir(others, 0o755 if u.uid != os.geteuid() else 0o555)
    populated = os.path.join(base, "populated")  # a read-only cache holding the first function's entry
    entry, _, _ = _copy_entry(golden, Path(populated), u.uid, u.gid, c_mode=0o500)
    afile = os.path.join(base, "afile")
    with open(afile, "w") as fh:
        fh.write("a file, not a directory")
    below_file = os.path.join(afile, "cache")
    try:
        results = _run_all({"readonly": (readonly, "plain", 2), "others": (others, "plain", 2),
                            "populated": (populated, "plain", 2), "below-file": (below_file, "plain", 2)}, u)
    finally:
        os.chmod(os.path.join(populated, "c"), 0o700)
    for name, r in results.items():
        assert r["euid"] == u.uid and u.uid != 0, "the child must not run as root"
        assert r["ok"] and r["backends"] == ["c", "c"], name
        assert len(r["cache_warnings"]) == 1, (name, r["cache_warnings"])  # two builds, one warning
        assert "private temporary directory" in r["cache_warnings"][0]
        assert r["private"] and r["private_mode"] == "0o700", name
        assert r["maps"][1][0].startswith(r["private"] + os.sep), (name, r["maps"])
    assert os.listdir(readonly) == [] and os.listdir(others) == []
    # the valid entry of the read-only cache is still loaded from it; the others are built privately
    assert results["populated"]["maps"][0] == [str(entry / cache_entries.so_name(key))]
    for name in ("readonly", "others", "below-file"):
        assert results[name]["maps"][0][0].startswith(results[name]["private"] + os.sep), name


@pytest.mark.parametrize("scenario", ["vanish-before-compile", "vanish-after-compile"])
def test_vanished_cache_falls_back_with_one_warning(tmp_path, scenario):
    cache = tmp_path / "cache"
    r = _result(_spawn(cache, scenario, 2))
    assert r["ok"] and r["backends"] == ["c", "c"]
    assert len(r["cache_warnings"]) == 1, r["cache_warnings"]
    assert r["maps"][0][0].startswith(r["private"] + os.sep), r["maps"]  # the first build: private
    # the second build recreated the cache directory and went back into it
    entry = _entries(cache / "c")[0]
    assert r["maps"][1] == [str(cache / "c" / entry / cache_entries.so_name(entry))]
    assert len(_entries(cache / "c")) == 1


# --- a lock held by another live process --------------------------------------------------------


def test_a_lock_held_by_a_live_process_does_not_stall(tmp_path, golden):
    assert build.LOCK_TIMEOUT <= 5
    key = golden[1]
    missing = tmp_path / "missing"  # no entry yet
    os.makedirs(missing / "c", mode=0o700)
    damaged = tmp_path / "damaged"  # a damaged entry the lock holder would rebuild
    entry, _, checksum = _copy_entry(golden, damaged)
    checksum.write_bytes(b"\xff garbage")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(missing / "c" / (key + ".lock")),
                               str(damaged / "c" / (key + ".lock"))], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        results = _run_all({"missing": (missing, "plain", 1), "damaged": (damaged, "plain", 1)})
        elapsed = time.monotonic() - t0
        assert locker.poll() is None, "the lock was held by a live process all along"
    finally:
        locker.kill()
        locker.wait()
    for name, r in results.items():
        assert r["ok"] and r["backends"] == ["c"] and not r["cache_warnings"], name
        assert build.LOCK_TIMEOUT <= r["seconds"][0] < build.LOCK_TIMEOUT + 8, (name, r["seconds"])
    assert elapsed < build.LOCK_TIMEOUT + 15
    # an empty slot gets the private build; a damaged entry is left to the lock holder
    assert results["missing"]["maps"] == [[str(missing / "c" / key / cache_entries.so_name(key))]]
    assert cache_entries.entry_valid(str(missing / "c" / key), key)
    (m,) = results["damaged"]["maps"][0]
    assert "(deleted)" in m and str(entry) not in m, m  # loaded from its own copy, removed since
    assert not cache_entries.entry_valid(str(entry), key)
    assert _entries(missing / "c") == [key] and _entries(damaged / "c") == [key]


# --- entries of other users ---------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="creating files owned by another user needs root")
def test_entries_of_other_users_are_not_loaded(unprivileged, golden):
    u, key = unprivileged, golden[1]
    base = tempfile.mkdtemp(prefix="foreign-", dir=u.base)
    os.chmod(base, 0o755)
    markers = os.path.join(base, "markers")
    os.mkdir(markers)
    os.chmod(markers, 0o777)

    def plant(name, entry_owner, c_owner, c_mode):
        """A cache whose entry for the first function is a valid-looking, malicious shared object."""
        cache = Path(base) / name
        entry, so, checksum = _copy_entry(golden, cache)
        checksum.write_text(_evil_so(so, os.path.join(markers, name)))
        chown_tree(cache, u.uid, u.gid)
        chown_tree(entry, *entry_owner)
        os.chown(cache / "c", *c_owner)
        os.chmod(cache / "c", c_mode)
        return cache, entry, so.read_bytes()

    user, root = (u.uid, u.gid), (0, 0)
    planted = {
        # the unprivileged user's own cache holding an entry of root's (e.g. written through sudo)
        "root-entry": plant("root-entry", root, user, 0o700),
        # the unprivileged user's cache directory whose ``c`` belongs to root
        "root-c": plant("root-c", root, root, 0o755),
        # root using its own cache holding an entry of the unprivileged user's
        "user-entry": plant("user-entry", user, root, 0o700),
    }
    results = _run_all({"root-entry": (planted["root-entry"][0], "plain", 1, u),
                        "root-c": (planted["root-c"][0], "plain", 1, u),
                        "user-entry": (planted["user-entry"][0], "plain", 1, None)})
    assert results["root-entry"]["euid"] == results["root-c"]["euid"] == u.uid != 0
    for name, (cache, entry, evil) in planted.items():
        r = results[name]
        assert r["ok"] and r["backends"] == ["c"], name
        assert not os.path.exists(os.path.join(markers, name)), f"{name}: the foreign shared object was loaded"
        (m,) = r["maps"][0]
        assert m.startswith(r["private"] + os.sep), (name, m)  # built privately, the planted entry not loaded
        assert (entry / cache_entries.so_name(key)).read_bytes() == evil, f"{name}: the foreign entry was touched"
        assert len(r["cache_warnings"]) == (1 if name == "root-c" else 0), (name, r["cache_warnings"])


# --- the runtime and the kernel libraries -----------------------------------------------------------

#: compile the functions named in argv[2:] into the cache argv[1] (a fresh process); report the kernel
#: libraries this process built or loaded, the runtimes mapped, and the threads started
LIBS_CHILD = r"""
import json, os, sys, threading
import numpy as np
import eqtensor
from eqtensor import config, tensor as pt
from eqtensor.backends.c import libraries, toolchain

config.optimizer_cache = False
config.cache_dir = sys.argv[1]
config.num_threads = 2
built = []
real = toolchain.compile_library
libraries.compile_library = lambda name, *a, **k: (built.append(name), real(name, *a, **k))[1]
x = pt.dvector("x")
GRAPHS = {"a": (lambda: pt.exp(x) * 2 + 1, lambda v: np.exp(v) * 2 + 1),
          "b": (lambda: pt.exp(x * 2 + 1) * 2 + 1, lambda v: np.exp(v * 2 + 1) * 2 + 1),
          "c": (lambda: pt.sin(x) - 3, lambda v: np.sin(v) - 3)}
ok = True
v = np.linspace(-1, 1, 1 << 19)  # big enough for the loop to run on the worker pool
tasks = len(os.listdir("/proc/self/task"))
for name in sys.argv[2:]:
    build, want = GRAPHS[name]
    f = eqtensor.function([x], build(), mode=eqtensor.Mode(optimize=False, backend="c"))
    for _ in range(3):
        ok = ok and bool(np.allclose(f(v), want(v)))
with open("/proc/self/maps") as fh:
    runtimes = sorted({line.split()[-1] for line in fh if "_eqrt_" in line})
print(json.dumps({"ok": ok, "built": built, "runtimes": runtimes,
                  "threads": len(os.listdir("/proc/self/task")) - tasks}))
"""


def _kinds(names):
    """``_eqrt_`` or ``_eqk_`` for each library name, sorted (the kernels' library is built while
    the module is)."""
    return sorted(n[:n.index("_", 1) + 1] for n in names)


def _kernel_libs(r):
    """The kernel libraries a child built (a runtime built too only means that eqtensor's runtime
    source changed between the children: the tree is being edited)."""
    return [k for k in _kinds(r["built"]) if k == "_eqk_"]


def _libs(cache, *graphs):
    p = subprocess.run([sys.executable, "-c", LIBS_CHILD, str(cache), *graphs], env=child_env(),
                       capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
    assert p.returncode == 0, p.stderr[-4000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_one_runtime_and_one_worker_pool_per_process(tmp_path):
    r = _libs(tmp_path / "cache", "a", "b", "c")
    assert r["ok"]
    (runtime,) = r["runtimes"]  # three modules, one runtime mapped
    assert os.path.basename(runtime).startswith("_eqrt_")
    assert r["threads"] <= 1, r  # one pool worker (2 threads: the caller and one worker), not one per module


def test_kernels_are_compiled_once_across_graphs_and_processes(tmp_path):
    cache = tmp_path / "cache"
    first = _libs(cache, "a")
    assert first["ok"] and _kinds(first["built"]) == ["_eqk_", "_eqrt_"]
    # a new process compiling a again builds nothing (its module and kernel are in the cache); c has
    # a kernel of its own
    again = _libs(cache, "a")
    assert again["ok"] and _kernel_libs(again) == []
    other = _libs(cache, "c")
    assert other["ok"] and _kernel_libs(other) == ["_eqk_"]
    index = cache / "c" / "kernels"
    assert len(os.listdir(index)) == 2 and len(_entries(cache / "c", "_eqk_")) == 2
    assert stat.S_IMODE(os.stat(index).st_mode) == 0o700


#: the names of the runtime, a kernel library and a module's shared object, as a JSON list, in a process
#: that first (``argv[2]``) compiled a graph (its kernels' library in a thread while the module is, as
#: in :func:`eqtensor.backends.c.compile_schedule`), or did nothing, or sees ``sysconfig``'s variables
#: empty: what a thread reading them sees while another thread's first read fills them (Python 3.11)
NAMES_CHILD = r"""
import json, sys, sysconfig
import numpy as np
import eqtensor
from eqtensor import config, tensor as pt
from eqtensor.backends.c import cache_entries, libraries, toolchain

config.optimizer_cache = False
config.cache_dir = sys.argv[1]
if sys.argv[2] == "compiled":
    x = pt.dvector("x")
    f = eqtensor.function([x], pt.exp(x) * 2 + 1, mode=eqtensor.Mode(optimize=False, backend="c"))
    assert np.allclose(f(np.arange(3.0)), np.exp(np.arange(3.0)) * 2 + 1)
elif sys.argv[2] == "sysconfig-empty":
    sysconfig._CONFIG_VARS = {}
print(json.dumps([libraries.runtime_name(), toolchain.key("_eqk_", ["void k(void) {}"], toolchain.cflags()),
                  cache_entries.so_name("_eqc_0")]))
"""


def test_library_names_do_not_depend_on_the_process_state(tmp_path):
    """The runtime's and a kernel library's names are a function of what is compiled: equal in a
    process that compiled a graph before, one that did nothing and one whose ``sysconfig`` variables
    look unset (a fresh process builds the runtime and the kernels' library in two threads that both
    read them first; a name taking ``EXT_SUFFIX`` from a half-filled table missed the cache)."""
    names = {}
    for state in ("fresh", "compiled", "sysconfig-empty"):
        p = subprocess.run([sys.executable, "-c", NAMES_CHILD, str(tmp_path / state), state], env=child_env(),
                           capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
        assert p.returncode == 0, p.stderr[-4000:]
        names[state] = json.loads(p.stdout.strip().splitlines()[-1])
    assert names["fresh"][2].endswith(sysconfig.get_config_var("EXT_SUFFIX")), names
    assert names["fresh"] == names["compiled"] == names["sysconfig-empty"], names
    (runtime,) = _entries(tmp_path / "compiled" / "c", "_eqrt_")
    assert runtime == names["fresh"][0]


def _one_kernel_library(cache):
    (lib,) = _entries(cache / "c", "_eqk_")
    return cache / "c" / lib


@pytest.fixture(scope="module")
def libs_cache(tmp_path_factory):
    """A cache built by a fresh process compiling graph ``a`` (its runtime, kernel library, index and
    module: ~4 s of compiler time), copied by each test that damages one."""
    cache = tmp_path_factory.mktemp("libs") / "cache"
    assert _libs(cache, "a")["ok"]
    return cache


@pytest.mark.parametrize("damage", ["runtime-checksum", "runtime-so-truncated-matching-checksum", "kernels-so-garbage",
                                    "kernels-entry-missing", "index-garbage", "index-symlink", "index-directory",
                                    "index-names-missing-library", "index-names-library-without-the-kernel"])
def test_damaged_runtime_kernel_library_or_index_is_rebuilt(tmp_path, damage, libs_cache):
    cache = tmp_path / "cache"
    shutil.copytree(libs_cache, cache, symlinks=True)
    c = cache / "c"
    (rt,) = _entries(c, "_eqrt_")
    lib = _one_kernel_library(cache)
    (kname,) = os.listdir(c / "kernels")
    target = c / rt if damage.startswith("runtime") else lib
    so = next(p for p in target.iterdir() if p.name.endswith(".so"))
    if damage == "runtime-checksum":
        (target / "checksum").write_bytes(b"\xff\xfe garbage")
    elif damage == "runtime-so-truncated-matching-checksum":
        cut = so.read_bytes()[: so.stat().st_size * 9 // 10]
        so.write_bytes(cut)
        (target / "checksum").write_text(hashlib.sha256(cut).hexdigest())
    elif damage == "kernels-so-garbage":
        so.write_bytes(os.urandom(so.stat().st_size))
    elif damage == "kernels-entry-missing":
        shutil.rmtree(lib)
    elif damage == "index-garbage":
        (c / "kernels" / kname).write_bytes(b"\x00\xff not a library name")
    elif damage == "index-symlink":
        (c / "kernels" / kname).unlink()
        (c / "kernels" / kname).symlink_to(lib)
    elif damage == "index-directory":
        (c / "kernels" / kname).unlink()
        (c / "kernels" / kname).mkdir()
    elif damage == "index-names-missing-library":
        (c / "kernels" / kname).write_text("_eqk_" + "0" * 32 + "\n")
    elif damage == "index-names-library-without-the-kernel":
        assert _libs(tmp_path / "other", "c")["ok"]  # a valid library holding another kernel
        (other,) = _entries(tmp_path / "other" / "c", "_eqk_")
        shutil.copytree(tmp_path / "other" / "c" / other, c / other)
        (c / "kernels" / kname).write_text(other + "\n")
    r = _libs(cache, "a")
    assert r["ok"], damage
    if damage.startswith("runtime"):
        assert _kinds(r["built"]) == ["_eqrt_"], r["built"]  # the kernel library is intact
        assert cache_entries.entry_valid(str(c / rt), rt)
    elif damage.startswith("kernels"):  # the kernel is compiled again
        assert _kernel_libs(r) == ["_eqk_"], (damage, r["built"])
    else:  # the index entry is ignored; the kernel is indexed anew (in the library its compile names,
        # loaded when it exists, else compiled)
        named = (c / "kernels" / kname).read_text().strip()
        assert (c / "kernels" / kname).is_file() and cache_entries.entry_valid(str(c / named), named)
    assert not _leftovers(c)
    assert _kernel_libs(_libs(cache, "a")) == []  # repaired for the next process


@pytest.mark.skipif(os.geteuid() != 0, reason="creating files owned by another user needs root")
def test_runtime_and_kernel_libraries_of_other_users_are_not_loaded(unprivileged, tmp_path):
    """A cache of the user's whose runtime and kernel library were replaced by malicious shared objects
    of root's (with matching checksums and an index naming them): neither is loaded."""
    u = unprivileged
    base = tempfile.mkdtemp(prefix="foreign-libs-", dir=u.base)
    os.chmod(base, 0o755)
    cache = Path(base) / "cache"
    assert _libs(cache, "a")["ok"]
    markers = Path(base) / "markers"
    markers.mkdir(mode=0o777)
    os.chmod(markers, 0o777)
    chown_tree(cache, u.uid, u.gid)
    c = cache / "c"
    for prefix in ("_eqrt_", "_eqk_"):
        (entry,) = _entries(c, prefix)
        so = next(p for p in (c / entry).iterdir() if p.name.endswith(".so"))
        (c / entry / "checksum").write_text(_evil_so(so, str(markers / prefix)))
        chown_tree(c / entry, 0, 0)
    p = subprocess.run([*u.prefix, sys.executable, "-c", LIBS_CHILD, str(cache), "a"], env=child_env(HOME=u.home),
                       capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(), **u.popen_kwargs)
    assert p.returncode == 0, p.stderr[-4000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["ok"] and not os.listdir(markers), "a foreign shared object was loaded"
    assert _kinds(r["built"]) == ["_eqk_", "_eqrt_"], r["built"]  # both built privately
