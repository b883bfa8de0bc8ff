"""Building generated C through cffi, with a disk cache safe across processes.

cffi (API mode, ``ffi.set_source``) turns the generated source into a CPython extension module
exporting ``eq_entry()``; we run the system compiler ourselves (one ``cc`` call, no setuptools)
so a cold build stays well under a second.

Cache layout: ``<config.cache_dir>/c/<module>/`` holding the shared object, the C source and a
``checksum`` file (SHA-256 of the shared object), where ``<module>`` is ``_eqc_`` plus a hash of
the source, flags, compiler version and platform. A build happens in a temporary directory next
to the cache entry and is renamed into place (atomic on POSIX), so concurrent processes compiling
the same module never see a half-written entry: the first rename wins and the others discard
their copy. An entry whose checksum does not match (truncated or corrupt) is moved aside and
rebuilt. A per-module ``flock`` avoids duplicate work; waiting for it times out (the build then
proceeds unlocked, which is still safe), so a stale lock never hangs a process.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from functools import lru_cache

import numpy as np

#: compiler flags: vectorize (-O3, native ISA, OpenMP SIMD pragmas with glibc's libmvec), keep IEEE
#: semantics (no -ffast-math: inf/nan propagate; no FMA contraction), wrap signed overflow as NumPy
CFLAGS = ("-O3", "-march=native", "-fno-math-errno", "-ffp-contract=off", "-fwrapv", "-fno-strict-aliasing",
          "-fopenmp-simd", "-fPIC", "-shared", "-w", "-D_CFFI_NO_LIMITED_API")
if platform.machine().lower() in ("x86_64", "amd64"):
    # GCC targets 256-bit vectors even on AVX-512 machines; 512 makes loops call libmvec's 8-wide
    # variants (_ZGVeN8v_exp, ...): elemwise_chain 4.9 -> 3.2 ms, softplus 5.3 -> 4.6 ms (one thread).
    # Without AVX-512 (-march=native) the flag changes nothing.
    CFLAGS = CFLAGS[:2] + ("-mprefer-vector-width=512",) + CFLAGS[2:]
LIBS = ("-lmvec", "-lm")
#: the optimization level of a module's own translation unit instead of -O3 (argument checks, shapes,
#: allocation, the runtime and its loop driver, which calls the kernels compiled with
#: :data:`CFLAGS`): -O3 there costs compile time and gains nothing measurable
GLUE_OPT = "-O1"


def threads() -> int:
    """The thread count of a function compiled now: ``config.num_threads``, whose default 0 means
    ``$EQTENSOR_NUM_THREADS`` when set, else the cores this process may run on. Loops of at least
    ``EQ_PAR_MIN`` elements then run on that many threads (see ``docs/c-backend.md``)."""
    from ...core.config import config

    n = config.num_threads
    if not n:
        try:
            n = int(os.environ.get("EQTENSOR_NUM_THREADS", "0"))
        except ValueError:
            n = 0
        if n < 1:
            n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(64, n))


def glue_flags(flags) -> list:
    """The flags of a module's own translation unit (and of the link) from the kernels' ``flags``."""
    return [GLUE_OPT if f == "-O3" else f for f in flags] + ["-pthread"]


def cflags() -> tuple:
    """:data:`CFLAGS` plus ``$EQTENSOR_CFLAGS_EXTRA`` (e.g. ``-fsanitize=address`` for
    ``tests/asan_run.sh``); part of the cache key."""
    return CFLAGS + tuple(os.environ.get("EQTENSOR_CFLAGS_EXTRA", "").split())
LOCK_TIMEOUT = 120.0
_LOADED: dict[str, object] = {}


class CompileError(RuntimeError):
    """The C compiler failed on generated code (a bug in eqtensor: please report it)."""


@lru_cache(maxsize=None)
def compiler() -> str | None:
    """The C compiler command (``$CC``, else ``gcc``/``cc`` on the PATH), or None."""
    for cand in (os.environ.get("CC"), "gcc", "cc"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


@lru_cache(maxsize=None)
def compiler_works() -> bool:
    """True when the compiler builds and links a trivial shared object with our flags."""
    cc = compiler()
    if cc is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as fh:
            fh.write("#include <math.h>\ndouble f(double x) { return exp(x); }\n")
        try:
            r = subprocess.run([cc, *CFLAGS, src, "-o", os.path.join(tmp, "t.so"), *LIBS],
                               capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
        return r.returncode == 0


@lru_cache(maxsize=None)
def _toolchain_id() -> str:
    cc = compiler() or ""
    try:
        ver = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        ver = ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        pass
    return "|".join([cc, ver, platform.platform(), platform.machine(), sys.version, np.__version__,
                     sysconfig.get_config_var("EXT_SUFFIX") or "", cpu])


def module_key(source: str, flags=None, parts=()) -> str:
    """The cache key (and module name) of ``source`` and its further translation units ``parts``
    built with ``flags`` (default :func:`cflags`) by this toolchain on this platform."""
    flags = cflags() if flags is None else flags
    h = hashlib.sha256()
    for part in (source, *parts, " ".join(glue_flags(flags)), " ".join(LIBS), _toolchain_id()):
        h.update(part.encode())
        h.update(b"\0")
    return "_eqc_" + h.hexdigest()[:32]


def _so_name(modname: str) -> str:
    return modname + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def _digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def entry_valid(path: str, modname: str) -> bool:
    """The cache entry exists and its shared object matches its checksum."""
    so = os.path.join(path, _so_name(modname))
    try:
        with open(os.path.join(path, "checksum")) as fh:
            want = fh.read().strip()
        return bool(want) and _digest(so) == want
    except OSError:
        return False


def _compile(source: str, modname: str, outdir: str, parts=()):
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("void *eq_entry(void); void *eq_entry_call1(void *, void *);")
    ffi.set_source(modname, source, py_limited_api=False, compiler_verbose=False)
    csrc = os.path.join(outdir, modname + ".c")
    ffi.emit_c_code(csrc)
    so = os.path.join(outdir, _so_name(modname))
    inc = ["-I", sysconfig.get_paths()["include"], "-I", np.get_include()]
    flags = cflags()
    glue = glue_flags(flags)
    if not parts:
        _run([[compiler(), *glue, *inc, csrc, "-o", so, *LIBS]])
    else:  # one compiler per translation unit, in parallel, then link
        cmds, objs = [[compiler(), *glue, *inc, "-c", csrc, "-o", csrc[:-2] + ".o"]], [csrc[:-2] + ".o"]
        for j, text in enumerate(parts):
            src = os.path.join(outdir, f"{modname}_k{j}.c")
            with open(src, "w") as fh:
                fh.write(text)
            objs.append(src[:-2] + ".o")
            cmds.append([compiler(), *flags, *inc, "-c", src, "-o", objs[-1]])
        _run(cmds)
        _run([[compiler(), *glue, *objs, "-o", so, *LIBS]])
    with open(os.path.join(outdir, "checksum.tmp"), "w") as fh:
        fh.write(_digest(so))
    os.replace(os.path.join(outdir, "checksum.tmp"), os.path.join(outdir, "checksum"))


def _run(cmds):
    """Run compiler commands concurrently; :class:`CompileError` when one fails."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    errs = [(c, p.communicate()[1], p.returncode) for c, p in zip(cmds, procs)]
    for cmd, err, rc in errs:
        if rc != 0:
            raise CompileError(f"C compilation failed ({' '.join(cmd)}):\n{err[-4000:]}")


class _Lock:
    """An exclusive ``flock`` on ``path`` that gives up after ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float):
        self.path, self.timeout, self.fd = path, timeout, None

    def __enter__(self):
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError:
            return self
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return self
                time.sleep(0.01)

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _discard(path: str):
    """Move a (broken) directory aside, then delete it."""
    trash = f"{path}.trash-{os.getpid()}-{time.monotonic_ns()}"
    try:
        os.rename(path, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def build_module(source: str, cache_dir: str, lock_timeout: float | None = None, parts=()):
    """The compiled, loaded cffi module for ``source`` and its further translation units ``parts``
    (from the cache when possible).

    Returns ``(module, info)`` with ``info`` a dict: ``key``, ``path``, ``cached`` (bool).
    """
    modname = module_key(source, parts=parts)
    if modname in _LOADED:
        return _LOADED[modname], {"key": modname, "path": None, "cached": True}
    root = os.path.join(cache_dir, "c")
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, modname)
    cached = entry_valid(final, modname)
    if not cached:
        with _Lock(final + ".lock", LOCK_TIMEOUT if lock_timeout is None else lock_timeout):
            cached = entry_valid(final, modname)
            if not cached:
                if os.path.exists(final):
                    _discard(final)
                tmp = tempfile.mkdtemp(prefix=".tmp-" + modname[:12], dir=root)
                try:
                    _compile(source, modname, tmp, parts)
                    try:
                        os.rename(tmp, final)
                    except OSError:  # another process won the race
                        if not entry_valid(final, modname):
                            _discard(final)
                            os.rename(tmp, final)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    spec = importlib.util.spec_from_file_location(modname, os.path.join(final, _so_name(modname)))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _LOADED[modname] = module
    return module, {"key": modname, "path": final, "cached": cached}


def _take(module, ptr, failure: str):
    """The Python object behind ``ptr``, a new reference handed over by one of the module's entry
    functions (which return NULL on failure)."""
    if ptr == module.ffi.NULL:
        raise RuntimeError(f"eqtensor: {failure}")
    obj = ctypes.cast(int(module.ffi.cast("uintptr_t", ptr)), ctypes.py_object).value
    ctypes.pythonapi.Py_DecRef(ctypes.py_object(obj))  # the reference the entry function handed over
    return obj


def new_function(module, state: list):
    """A fresh compiled function object from ``module`` bound to its own ``state`` list."""
    fn = _take(module, module.lib.eq_entry(), "could not initialise a compiled module (NumPy C API import failed)")
    fn.__self__.extend(state)
    return fn


def first_output_function(module, thunk, slow):
    """A C function (bound to ``(thunk, slow)``) returning the first output of ``thunk(*args)``
    itself: the trusted call of a one-output function without shared variables. Calls with keywords
    or another argument count go to ``slow``."""
    ffi = module.ffi
    return _take(module, module.lib.eq_entry_call1(ffi.cast("void *", id(thunk)), ffi.cast("void *", id(slow))),
                 "could not create the trusted call of a compiled function")
