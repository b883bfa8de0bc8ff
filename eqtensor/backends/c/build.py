"""Building generated C through cffi, with a disk cache safe across processes (and against damage).

cffi (API mode, ``ffi.set_source``) turns the generated source into a CPython extension module
exporting ``eq_entry()``; we run the system compiler ourselves (one ``cc`` call, no setuptools)
so a cold build stays well under a second.

Cache layout: ``<config.cache_dir>/c/<module>/`` holding the shared object, the C source and a
``checksum`` file (SHA-256 of the shared object, written last), where ``<module>`` is ``_eqc_`` plus
a hash of the source, flags, compiler version and platform. A build happens in a temporary
directory next to the cache entry and is renamed into place (atomic on POSIX), so concurrent
processes compiling the same module never see a half-written entry.

Trust model: the cache holds native code that eqtensor loads into your process, so anyone who can
write to the cache directory can run code as you. eqtensor creates a missing ``cache_dir`` (and
missing parents) and ``<cache_dir>/c`` owner-only (mode 0o700), tightens a ``c`` of yours that
others can write to 0o700, and loads an entry only when ``c``, the entry's directory and its files
belong to the current (effective) user, the directories are writable by nobody else and the files
are regular files (not symbolic links). An entry owned by another user (for instance written by
``sudo``) is never loaded: it is treated as absent, left alone, and the module is built privately.
A ``c`` directory owned by another user is not used at all. The checksum detects damage, not
tampering: do not share a cache directory with users you would not let run code as you.

What goes wrong, and what happens then (nothing raises, nothing damaged is loaded):

* A damaged entry (checksum file missing, empty, truncated, not hexadecimal, unreadable or not a
  regular file; shared object missing, truncated, garbage, an incomplete ELF file or failing to
  load) is moved aside and rebuilt.
* A cache that cannot be written (read-only, owned by another user, below a file) or that vanishes
  during a build: the module is built in a private temporary directory of this process
  (``tempfile.mkdtemp``, owner-only, removed at exit), with one ``RuntimeWarning`` per process and
  cache directory. Valid entries of a read-only cache are still loaded.
* A per-module ``flock`` avoids duplicate work between processes. Its holder is normally compiling
  the same module, which the waiter then loads; a process waits at most :data:`LOCK_TIMEOUT`
  seconds (a lock held by a hung process costs each function at most that long), then builds
  privately without the lock, in its own owner-only temporary directory next to the entry, and
  publishes the result only if the entry is still missing (an atomic rename never replaces an
  entry; a damaged one is left to the lock holder and the module is loaded from the private copy).
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import fcntl
import hashlib
import importlib.util
import os
import platform
import re
import shutil
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from functools import lru_cache

import numpy as np
from ...core.config import config

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
#: seconds a process waits for another process's lock on a cache entry before building privately
LOCK_TIMEOUT = 3.0
_LOADED: dict[str, object] = {}
_WARNED: set[str] = set()  # cache directories already warned about in this process
_PRIVATE: list[str] = []  # this process's private build directory, once made
_STATE = threading.Lock()  # guards _WARNED and _PRIVATE
_HEX64 = re.compile(rb"[0-9a-f]{64}")
#: errors of writing into the cache directory that a private build avoids
_CACHE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


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


class _Foreign(Exception):
    """A cache entry (or part of one) owned by another user."""


def _open_owned(path: str):
    """``(fd, stat)`` of the regular file ``path`` owned by this user; :class:`_Foreign` when another
    user owns it, ``OSError`` when it is missing, unreadable, a symbolic link or not a regular file
    (a FIFO, a device, a directory: opened without blocking and refused)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise _Foreign(path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _read_owned(path: str) -> bytes:
    """The contents of the regular file ``path`` owned by this user (see :func:`_open_owned`)."""
    fd, _ = _open_owned(path)
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _digest(path: str) -> str:
    """SHA-256 of the regular file ``path`` owned by this user."""
    return hashlib.sha256(_read_owned(path)).hexdigest()


def _elf_complete(data: bytes) -> bool:
    """``data`` is an ELF file whose header tables and segments lie inside it (a truncated shared
    object can crash ``dlopen`` with SIGBUS even when its checksum was rewritten to match).
    True on platforms whose shared objects are not ELF."""
    if not sys.platform.startswith(("linux", "freebsd")):
        return True
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return False
    end = "<" if data[5] == 1 else ">"
    try:
        if data[4] == 2:
            phoff, shoff = struct.unpack_from(end + "QQ", data, 32)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", data, 54)
            ph, ph_off, ph_size = end + "IIQQQQQQ", 2, 5
        else:
            phoff, shoff = struct.unpack_from(end + "II", data, 28)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", data, 42)
            ph, ph_off, ph_size = end + "IIIIIIII", 1, 4
        if phoff + phnum * phentsize > len(data) or shoff + shnum * shentsize > len(data):
            return False
        for k in range(phnum):
            fields = struct.unpack_from(ph, data, phoff + k * phentsize)
            if fields[ph_off] + fields[ph_size] > len(data):
                return False
    except struct.error:
        return False
    return True


def _checksum(path: str) -> str | None:
    """The SHA-256 recorded in the checksum file ``path``, or None when it is not 64 hex digits."""
    fd, _ = _open_owned(path)
    try:
        data = os.read(fd, 256).strip()
    finally:
        os.close(fd)
    return data.decode() if _HEX64.fullmatch(data) else None


def _entry_state(path: str, modname: str) -> str:
    """``"ok"`` (loadable), ``"absent"``, ``"foreign"`` (owned by another user: never loaded, never
    touched) or ``"damaged"`` (to be moved aside and rebuilt). Never raises."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "absent"
    except OSError:
        return "damaged"
    if st.st_uid != os.geteuid():
        return "foreign"
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022:
        return "damaged"
    try:
        want = _checksum(os.path.join(path, "checksum"))
        data = b"" if want is None else _read_owned(os.path.join(path, _so_name(modname)))
        ok = want is not None and hashlib.sha256(data).hexdigest() == want and _elf_complete(data)
    except _Foreign:
        return "foreign"
    except (OSError, ValueError):
        return "damaged"
    return "ok" if ok else "damaged"


def entry_valid(path: str, modname: str) -> bool:
    """The cache entry exists, belongs to this user, and its shared object matches its checksum."""
    return _entry_state(path, modname) == "ok"


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
    """An exclusive ``flock`` on ``path`` that gives up after ``timeout`` seconds (``timed_out``
    then says another process holds it). When the lock file cannot be opened (a read-only or
    vanished directory) it holds nothing and does not wait."""

    def __init__(self, path: str, timeout: float):
        self.path, self.timeout, self.fd, self.timed_out = path, timeout, None, False

    def __enter__(self):
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
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
                    self.timed_out = True
                    return self
                time.sleep(0.01)

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class _Unusable(Exception):
    """The cache directory cannot be written or vanished (the message says why)."""


def _discard(path: str):
    """Move a (broken) entry aside, then delete it."""
    trash = f"{path}.trash-{os.getpid()}-{time.monotonic_ns()}"
    try:
        os.rename(path, trash)
    except OSError:
        return
    if os.path.isdir(trash) and not os.path.islink(trash):
        shutil.rmtree(trash, ignore_errors=True)
    else:
        try:
            os.unlink(trash)
        except OSError:
            pass


def _owner_only_dirs(path: str):
    """Create ``path`` and its missing parents with mode 0o700 (existing ones are left as they are)."""
    missing = []
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass


def _shared_root(cache_dir: str) -> str:
    """``<cache_dir>/c``, created owner-only when missing; :class:`_Unusable` when it cannot be
    created or is not a directory of this user's that only this user can write."""
    root = os.path.join(os.path.abspath(cache_dir), "c")
    try:
        _owner_only_dirs(root)
        st = os.stat(root)
    except OSError as e:
        raise _Unusable(f"cannot create {root}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise _Unusable(f"{root} is not a directory")
    if st.st_uid != os.geteuid():
        raise _Unusable(f"{root} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o022:
        try:
            os.chmod(root, 0o700)
        except OSError as e:
            raise _Unusable(f"{root} is writable by other users and cannot be made private: {e.strerror}") from None
    return root


def _private_root() -> str:
    """This process's private build directory (``tempfile.mkdtemp``: owner-only), made on first use
    (again if it vanished) and removed at exit."""
    with _STATE:
        if _PRIVATE and os.path.isdir(_PRIVATE[0]):
            return _PRIVATE[0]
        path = tempfile.mkdtemp(prefix="eqtensor-c-")
        _PRIVATE[:] = [path]
        atexit.register(_remove_private, path, os.getpid())
        return path


def _remove_private(path: str, pid: int):
    if os.getpid() == pid:  # not in a forked child that exits through the interpreter
        shutil.rmtree(path, ignore_errors=True)


def _warn_unusable(cache_dir: str, reason: str, private: str):
    key = os.path.abspath(cache_dir)
    with _STATE:
        if key in _WARNED:
            return
        _WARNED.add(key)
    warnings.warn(f"eqtensor: C module cache {cache_dir!r} unusable ({reason}); compiling into the private "
                  f"temporary directory {private!r} for this process instead", RuntimeWarning, stacklevel=3)


def _load(path: str, modname: str):
    """Import the compiled module of the entry ``path``; ImportError/OSError when it does not load."""
    spec = importlib.util.spec_from_file_location(modname, os.path.join(path, _so_name(modname)))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "lib") or not hasattr(module, "ffi"):
        raise ImportError(f"{path} is not a compiled eqtensor module")
    return module


def _try_load(path: str, modname: str):
    """The module of a verified entry, or None when it does not load (damaged consistently with its
    checksum, or removed meanwhile)."""
    try:
        return _load(path, modname)
    except (ImportError, OSError):
        return None


def _publish(tmp: str, final: str, modname: str, replace: bool) -> bool:
    """Rename the build ``tmp`` to ``final``; True when ``final`` then holds a valid entry of this
    user (ours, or an equivalent one another process renamed first). A damaged entry in the way is
    moved aside only when ``replace`` (we hold the lock)."""
    for attempt in range(2):
        try:
            os.rename(tmp, final)
            return True
        except OSError:
            if not os.path.isdir(tmp):
                raise _Unusable(f"{os.path.dirname(final)} vanished during a build") from None
            state = _entry_state(final, modname)
            if state == "ok":
                return True
            if state == "foreign" or not replace or attempt:
                return False
            _discard(final)
    return False


def _build_into(root: str, final: str, source: str, modname: str, parts, replace: bool):
    """Build in a fresh owner-only temporary directory under ``root``, publish it as ``final`` (see
    :func:`_publish`) and load it; ``(module, path)``. When it cannot be published the module is
    loaded from the temporary directory, which is removed (the loaded module stays mapped).
    :class:`_Unusable` when ``root`` cannot be written or vanished; :class:`CompileError` when the
    compiler fails."""
    try:
        tmp = tempfile.mkdtemp(prefix=".tmp-" + modname[:12], dir=root)
    except OSError as e:
        raise _Unusable(f"cannot write to {root}: {e.strerror or e}") from None
    try:
        try:
            _compile(source, modname, tmp, parts)
        except (OSError, CompileError) as e:
            if not os.path.isdir(tmp):
                raise _Unusable(f"{root} vanished during a build") from None
            if isinstance(e, OSError) and e.errno in _CACHE_ERRNOS:
                raise _Unusable(f"cannot write to {root}: {e.strerror}") from None
            if isinstance(e, CompileError) and ("No space left" in str(e) or "quota exceeded" in str(e)):
                raise _Unusable(f"cannot write to {root}: no space left") from None
            raise
        if not _publish(tmp, final, modname, replace):
            return _load(tmp, modname), tmp
        try:
            return _load(final, modname), final
        except (ImportError, OSError):
            if not os.path.exists(os.path.join(final, _so_name(modname))):
                raise _Unusable(f"{root} vanished during a build") from None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_cache(source: str, modname: str, cache_dir: str, timeout: float, parts):
    """``(module, info)`` from the shared cache, built into it when missing or damaged; None to build
    privately (an entry of another user); :class:`_Unusable` when the cache cannot be written or
    vanished."""
    root = _shared_root(cache_dir)
    final = os.path.join(root, modname)
    state = _entry_state(final, modname)
    if state == "foreign":
        return None
    if state == "ok" and (module := _try_load(final, modname)) is not None:
        return module, {"key": modname, "path": final, "cached": True}
    with _Lock(final + ".lock", timeout) as lock:
        # after a timeout another process still holds the lock (normally building this module)
        state = _entry_state(final, modname)  # it may have been built or replaced meanwhile
        if state == "foreign":
            return None
        if state == "ok" and (module := _try_load(final, modname)) is not None:
            return module, {"key": modname, "path": final, "cached": True}
        if state != "absent" and not lock.timed_out:
            _discard(final)
        # without the lock: build privately next to the entry, publish only into an empty slot
        module, path = _build_into(root, final, source, modname, parts, replace=not lock.timed_out)
    return module, {"key": modname, "path": path, "cached": False}


def _build_private(source: str, modname: str, parts):
    """Build into this process's private directory (see :func:`_private_root`) and load."""
    for attempt in range(2):
        root = _private_root()
        try:
            module, path = _build_into(root, os.path.join(root, modname), source, modname, parts, replace=True)
            return module, {"key": modname, "path": path, "cached": False}
        except _Unusable as e:
            if attempt or os.path.isdir(root):  # not just a vanished private directory: give up
                raise OSError(f"eqtensor: cannot build {modname} in the private directory {root}: {e}") from None
    raise AssertionError("not reached")


def build_module(source: str, cache_dir: str, lock_timeout: float | None = None, parts=()):
    """The compiled, loaded cffi module for ``source`` and its further translation units ``parts``
    (from the cache when possible; see the module docstring for what happens when the cache is
    damaged, unwritable, locked or someone else's).

    Returns ``(module, info)`` with ``info`` a dict: ``key``, ``path`` (the directory the module was
    loaded from: the entry under ``cache_dir``, one in this process's private directory, or a
    temporary copy removed after loading; None when already loaded in this process), ``cached``
    (bool). Raises :class:`CompileError` when the compiler fails, and ``OSError`` only when not even
    a private temporary directory can be written.
    """
    modname = module_key(source, parts=parts)
    if modname in _LOADED:
        return _LOADED[modname], {"key": modname, "path": None, "cached": True}
    timeout = LOCK_TIMEOUT if lock_timeout is None else lock_timeout
    try:
        got = _from_cache(source, modname, cache_dir, timeout, parts)
    except _Unusable as e:
        _warn_unusable(cache_dir, str(e), _private_root())
        got = None
    if got is None:
        got = _build_private(source, modname, parts)
    _LOADED[modname] = got[0]
    return got


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
