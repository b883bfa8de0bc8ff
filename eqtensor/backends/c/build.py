"""Building generated C, with a disk cache safe across processes (and against damage), and loading it.

The compiler and the build of one module are :mod:`eqtensor.backends.c.toolchain`; the checks of
an entry before it is loaded, :mod:`eqtensor.backends.c.cache_entries`.

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
import importlib.util
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Callable

from ...core.cachedir import Unusable, private_dir
from ...core.locks import ForkSafeLock
from .cache_entries import entry_state, so_name
from .toolchain import CompileError, compile_module, module_key

#: seconds a process waits for another process's lock on a cache entry before building privately
LOCK_TIMEOUT = 3.0
_LOADED: dict[str, object] = {}
_WARNED: set[str] = set()  # cache directories already warned about in this process
_PRIVATE: list[str] = []  # this process's private build directory, once made
_STATE = ForkSafeLock()  # guards _WARNED and _PRIVATE
#: errors of writing into the cache directory that a private build avoids
_CACHE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}

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


def shared_root(cache_dir: str) -> str:
    """``<cache_dir>/c``, created owner-only when missing; :class:`~eqtensor.core.cachedir.Unusable`
    when it cannot be created or is not a directory of this user's that only this user can use (see
    :func:`~eqtensor.core.cachedir.private_dir`)."""
    return private_dir(os.path.join(os.path.abspath(cache_dir), "c"))


def private_root(create: bool = True) -> str | None:
    """This process's private build directory (``tempfile.mkdtemp``: owner-only), made on first use
    (again if it vanished) and removed at exit; None when it was never made and not ``create``."""
    with _STATE:
        if _PRIVATE and os.path.isdir(_PRIVATE[0]):
            return _PRIVATE[0]
        if not create:
            return None
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


@dataclass(frozen=True)
class Artifact:
    """A shared object of the cache: its ``name`` (the entry's directory and the object's stem),
    ``compile(outdir)`` building it (and its ``checksum``) into a directory, and ``load(path)``
    loading it from the shared object file ``path`` (``ImportError``/``OSError`` when it does not
    load)."""

    name: str
    compile: Callable[[str], None]
    load: Callable[[str], object]


def _load(path: str, art: Artifact):
    """``art`` loaded from the entry directory ``path``."""
    return art.load(os.path.join(path, so_name(art.name)))


def _try_load(path: str, art: Artifact):
    """``art`` loaded from a verified entry, or None when it does not load (damaged consistently
    with its checksum, or removed meanwhile)."""
    try:
        return _load(path, art)
    except (ImportError, OSError):
        return None


def _publish(tmp: str, final: str, name: str, replace: bool) -> bool:
    """Rename the build ``tmp`` to ``final``; True when ``final`` then holds a valid entry of this
    user (ours, or an equivalent one another process renamed first). A damaged entry in the way is
    moved aside only when ``replace`` (we hold the lock)."""
    for attempt in range(2):
        try:
            os.rename(tmp, final)
            return True
        except OSError:
            if not os.path.isdir(tmp):
                raise Unusable(f"{os.path.dirname(final)} vanished during a build") from None
            state = entry_state(final, name)
            if state == "ok":
                return True
            if state == "foreign" or not replace or attempt:
                return False
            _discard(final)
    return False


def _compile_into(root: str, tmp: str, art: Artifact):
    """``art.compile(tmp)``, its failures to write ``root`` as :class:`Unusable`."""
    try:
        art.compile(tmp)
    except (OSError, CompileError) as e:
        if not os.path.isdir(tmp):
            raise Unusable(f"{root} vanished during a build") from None
        if isinstance(e, OSError) and e.errno in _CACHE_ERRNOS:
            raise Unusable(f"cannot write to {root}: {e.strerror}") from None
        if isinstance(e, CompileError) and ("No space left" in str(e) or "quota exceeded" in str(e)):
            raise Unusable(f"cannot write to {root}: no space left") from None
        raise


def _build_into(root: str, final: str, art: Artifact, replace: bool):
    """Build ``art`` in a fresh owner-only temporary directory under ``root``, publish it as
    ``final`` (see :func:`_publish`) and load it; ``(object, path)``. When it cannot be published
    it is loaded from the temporary directory, which is removed (the loaded object stays mapped).
    :class:`Unusable` when ``root`` cannot be written or vanished; :class:`CompileError` when the
    compiler fails."""
    try:
        tmp = tempfile.mkdtemp(prefix=".tmp-" + art.name[:12], dir=root)
    except OSError as e:
        raise Unusable(f"cannot write to {root}: {e.strerror or e}") from None
    try:
        _compile_into(root, tmp, art)
        if not _publish(tmp, final, art.name, replace):
            return _load(tmp, art), tmp
        try:
            return _load(final, art), final
        except (ImportError, OSError):
            if not os.path.exists(os.path.join(final, so_name(art.name))):
                raise Unusable(f"{root} vanished during a build") from None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_cache(art: Artifact, cache_dir: str, timeout: float):
    """``(object, info)`` from the shared cache, built into it when missing or damaged; None to
    build privately (an entry of another user); :class:`Unusable` when the cache cannot be written
    or vanished."""
    root = shared_root(cache_dir)
    final = os.path.join(root, art.name)
    state = entry_state(final, art.name)
    if state == "foreign":
        return None
    if state == "ok" and (obj := _try_load(final, art)) is not None:
        return obj, {"key": art.name, "path": final, "cached": True}
    with _Lock(final + ".lock", timeout) as lock:
        # after a timeout another process still holds the lock (normally building this object)
        state = entry_state(final, art.name)  # it may have been built or replaced meanwhile
        if state == "foreign":
            return None
        if state == "ok" and (obj := _try_load(final, art)) is not None:
            return obj, {"key": art.name, "path": final, "cached": True}
        if state != "absent" and not lock.timed_out:
            _discard(final)
        # without the lock: build privately next to the entry, publish only into an empty slot
        obj, path = _build_into(root, final, art, replace=not lock.timed_out)
    return obj, {"key": art.name, "path": path, "cached": False}


def _build_private(art: Artifact):
    """Build ``art`` into this process's private directory (see :func:`private_root`) and load."""
    for attempt in range(2):
        root = private_root()
        final = os.path.join(root, art.name)
        if entry_state(final, art.name) == "ok" and (obj := _try_load(final, art)) is not None:
            return obj, {"key": art.name, "path": final, "cached": True}
        try:
            obj, path = _build_into(root, final, art, replace=True)
            return obj, {"key": art.name, "path": path, "cached": False}
        except Unusable as e:
            if attempt or os.path.isdir(root):  # not just a vanished private directory: give up
                raise OSError(f"eqtensor: cannot build {art.name} in the private directory {root}: {e}") from None
    raise AssertionError("not reached")


def cached(art: Artifact, cache_dir: str, lock_timeout: float | None = None):
    """``art`` loaded, from the cache when possible (see the module docstring for what happens
    when the cache is damaged, unwritable, locked or someone else's); once per process.

    Returns ``(object, info)`` with ``info`` a dict: ``key``, ``path`` (the directory it was
    loaded from: the entry under ``cache_dir``, one in this process's private directory, or a
    temporary copy removed after loading; None when already loaded in this process), ``cached``
    (bool). Raises :class:`CompileError` when the compiler fails, and ``OSError`` only when not
    even a private temporary directory can be written.
    """
    if art.name in _LOADED:
        return _LOADED[art.name], {"key": art.name, "path": None, "cached": True}
    timeout = LOCK_TIMEOUT if lock_timeout is None else lock_timeout
    try:
        got = _from_cache(art, cache_dir, timeout)
    except Unusable as e:
        _warn_unusable(cache_dir, str(e), private_root())
        got = None
    if got is None:
        got = _build_private(art)
    _LOADED[art.name] = got[0]
    return got


def _load_module(path: str):
    """Import the compiled module ``path``; ImportError/OSError when it does not load."""
    modname = os.path.basename(path).split(".")[0]
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "lib") or not hasattr(module, "ffi"):
        raise ImportError(f"{path} is not a compiled eqtensor module")
    return module


def build_module(source: str, cache_dir: str, runtime, lock_timeout: float | None = None, parts=()):
    """The compiled, loaded cffi module for ``source`` and its further translation units ``parts``,
    linked against the ``runtime`` library (a loaded
    :class:`~eqtensor.backends.c.libraries.Library`); see :func:`cached`."""
    modname = module_key(source, parts=(runtime.name, *parts))
    return cached(Artifact(modname, lambda outdir: compile_module(source, modname, outdir, runtime.name,
                                                                  runtime.image, parts), _load_module),
                  cache_dir, lock_timeout)


def set_kernels(module, addresses: list[int]):
    """Fill the kernel table of ``module`` (see :func:`~eqtensor.backends.c.codegen.kernel_names`)
    with the kernels' addresses, in the module's order."""
    ffi = module.ffi
    module.lib.eq_set_kernels(ffi.new("void *[]", [ffi.cast("void *", a) for a in addresses] or [ffi.NULL]))


def _take(module, ptr, failure: str):
    """The Python object behind ``ptr``, a new reference handed over by one of the module's entry
    functions (which return NULL on failure)."""
    if ptr == module.ffi.NULL:
        raise RuntimeError(f"eqtensor: {failure}")
    obj = ctypes.cast(int(module.ffi.cast("uintptr_t", ptr)), ctypes.py_object).value
    ctypes.pythonapi.Py_DecRef(ctypes.py_object(obj))  # the reference the entry function handed over
    return obj


def new_function(module, state: list):
    """A fresh compiled function object from ``module`` bound to its own ``state`` list, whose item
    2 is set to the address of the record of the module's C entries (``eq_c_entry``, ``eq_c_scalar``;
    an ``int``; see :mod:`eqtensor.backends.c.scan_loop`)."""
    fn = _take(module, module.lib.eq_entry(), "could not initialise a compiled module (NumPy C API import failed)")
    fn.__self__.extend(state)
    fn.__self__[2] = int(module.ffi.cast("uintptr_t", module.lib.eq_c_entry_address()))
    return fn


def first_output_function(module, thunk, slow):
    """A C function (bound to ``(thunk, slow)``) returning the first output of ``thunk(*args)``
    itself: the trusted call of a one-output function without shared variables. Calls with keywords
    or another argument count go to ``slow``."""
    ffi = module.ffi
    return _take(module, module.lib.eq_entry_call1(ffi.cast("void *", id(thunk)), ffi.cast("void *", id(slow))),
                 "could not create the trusted call of a compiled function")
