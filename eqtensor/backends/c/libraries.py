"""The shared libraries every module uses: the runtime, built once per cache directory, and the loop
kernels, each compiled once and found again by its name (a hash of its text) in every later graph.

*The runtime* (``_eqrt_<hash>``, :func:`~eqtensor.backends.c.prelude.runtime`): slots, argument
checks, the loop driver, the worker pool, the structural ops, indexing and BLAS. A module links
against it (its ``DT_NEEDED`` names the runtime's ``soname``); eqtensor loads the verified runtime
by its full path first, so the dynamic loader finds it already loaded (no ``RPATH``, no search
path). One runtime per process means one worker pool per process, whatever the number of functions.

*Kernel libraries* (``_eqk_<hash>``): the kernels a compile needs and no library of the cache holds
yet, compiled together (in one translation unit per core) into one library exporting
``eq_k_<hash>`` for each. The entry ``<cache_dir>/c/kernels/<kernel name>`` (a file holding the
library's name) finds a kernel again; a module's table of kernel addresses is filled when it is
loaded (:func:`~eqtensor.backends.c.build.set_kernels`). A graph made of known kernels compiles only
its module. An index entry that is unreadable, someone else's or names a library that is missing,
damaged or lacks the kernel is ignored: the kernel is compiled again, into a new library.

Both kinds are entries of the disk cache of :mod:`eqtensor.backends.c.build` (owner-only, checked
by checksum and ownership before loading, built atomically under a lock, privately when the cache
cannot be written).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import stat
from dataclasses import dataclass
from functools import lru_cache

from ...core.cachedir import Unusable, private_dir
from ...core.locks import ForkSafeLock
from . import loops as L
from .build import Artifact, cached, private_root, shared_root
from .cache_entries import entry_state, so_name
from .prelude import runtime
from .toolchain import cflags, compile_library, key, runtime_flags

_NAME = re.compile(rb"_eqk_[0-9a-f]{32}")
_ADDRESSES: dict[str, int] = {}  # kernel name -> its address in a loaded library
_LIBS: dict[str, "Library"] = {}  # kernel libraries loaded through the index, by name
_KERNELS = ForkSafeLock()  # guards _ADDRESSES and _LIBS


@dataclass(frozen=True)
class Library:
    """A loaded library: its ``name``, the ``path`` of its shared object, the ``ctypes`` handle and,
    for the runtime, its ``image`` (the shared object's bytes: modules link against a copy, so a
    cache directory that vanishes after the runtime was loaded does not stop a build)."""

    name: str
    path: str
    handle: object
    image: bytes = b""


def _library_loader(python: bool):
    def load(path: str) -> Library:
        image = b""
        if python:
            with open(path, "rb") as fh:
                image = fh.read()
        handle = (ctypes.PyDLL if python else ctypes.CDLL)(path, mode=os.RTLD_LOCAL | os.RTLD_NOW)
        if python and handle.eq_rt_init() != 0:
            raise ImportError(f"{path}: NumPy's C API could not be imported")
        return Library(os.path.basename(path)[:-3], path, handle, image)
    return load


@lru_cache(maxsize=None)
def _runtime() -> Artifact:
    units = runtime()[1]
    flags = runtime_flags()
    name = key("_eqrt_", units, flags)
    return Artifact(name, lambda outdir: compile_library(name, units, outdir, flags, python=True),
                    _library_loader(True))


def runtime_name() -> str:
    """The name of the runtime library of this eqtensor, toolchain and platform."""
    return _runtime().name


def runtime_library(cache_dir: str) -> Library:
    """The runtime library, loaded (built into ``cache_dir`` when missing or damaged)."""
    return cached(_runtime(), cache_dir)[0]


def _roots(cache_dir: str) -> list[str]:
    """The directories whose kernel libraries this process may use: the cache's, this process's
    private one."""
    roots = []
    try:
        roots.append(shared_root(cache_dir))
    except Unusable:
        pass
    private = private_root(create=False)
    return roots + ([private] if private else [])


def _indexed(root: str, kname: str) -> str | None:
    """The library named by the index entry of kernel ``kname`` under ``root``, if the entry is a
    regular file of this user holding a library name."""
    try:
        fd = os.open(os.path.join(root, "kernels", kname), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        data = os.read(fd, 64).strip() if st.st_uid == os.geteuid() and stat.S_ISREG(st.st_mode) else b""
    except OSError:
        data = b""
    finally:
        os.close(fd)
    return data.decode() if _NAME.fullmatch(data) else None


def _address(lib: Library, kname: str) -> int | None:
    try:
        return ctypes.cast(getattr(lib.handle, kname), ctypes.c_void_p).value
    except AttributeError:
        return None


def _library(root: str, lib_name: str) -> Library | None:
    """The kernel library ``lib_name`` of ``root``, loaded once per process after its entry is
    verified; None when it is not a valid entry of this user or does not load."""
    lib = _LIBS.get(lib_name)
    if lib is None and entry_state(os.path.join(root, lib_name), lib_name) == "ok":
        try:
            lib = _LIBS[lib_name] = _library_loader(False)(os.path.join(root, lib_name, so_name(lib_name)))
        except OSError:
            return None
    return lib


def _find(cache_dir: str, knames) -> None:
    """Load the libraries the index names for ``knames``; their addresses go to ``_ADDRESSES``."""
    roots = _roots(cache_dir)
    for kname in knames:
        for root in roots:
            lib_name = _indexed(root, kname)
            lib = None if lib_name is None else _library(root, lib_name)
            if lib is not None and (address := _address(lib, kname)) is not None:
                _ADDRESSES[kname] = address
                break


def _index(path: str, knames) -> None:
    """Write the index entries of ``knames``, held by the library entry ``path`` (atomic renames;
    a failure only costs a later compile)."""
    try:
        index = private_dir(os.path.join(os.path.dirname(path), "kernels"))
        for kname in knames:
            tmp = os.path.join(index, f".{kname}.{os.getpid()}")
            with open(tmp, "w") as fh:
                fh.write(os.path.basename(path) + "\n")
            target = os.path.join(index, kname)
            if os.path.isdir(target) and not os.path.islink(target):  # damage in the way
                shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
    except (OSError, Unusable):
        pass


def _build(kernels: dict, cache_dir: str) -> None:
    """Compile ``kernels`` (name -> text) into a new library; their addresses go to ``_ADDRESSES``."""
    texts = [kernels[k] for k in sorted(kernels)]
    flags = L.kernel_flags(cflags(), texts)
    name = key("_eqk_", texts, flags)
    units = [L.kernel_unit(u) for u in L.split(texts, L.jobs())]
    lib, info = cached(Artifact(name, lambda outdir: compile_library(name, units, outdir, flags),
                                _library_loader(False)), cache_dir)
    _LIBS[name] = lib
    for kname in kernels:
        address = _address(lib, kname)
        if address is None:
            raise ImportError(f"{lib.path} lacks the kernel {kname}")
        _ADDRESSES[kname] = address
    if info["path"] and os.path.isdir(info["path"]):
        _index(info["path"], kernels)


def known(kernels) -> bool:
    """Every kernel of ``kernels`` is loaded in this process already."""
    return all(k in _ADDRESSES for k in kernels)


def kernel_addresses(kernels: dict, cache_dir: str) -> list[int]:
    """The addresses of ``kernels`` (name -> text, see
    :func:`~eqtensor.backends.c.codegen.kernel_names`), in order: from this process's libraries,
    the cache's (through the index) or a library compiled now for those still missing."""
    with _KERNELS:
        missing = [k for k in kernels if k not in _ADDRESSES]
        if missing:
            _find(cache_dir, missing)
        still = {k: kernels[k] for k in kernels if k not in _ADDRESSES}
        if still:
            _build(still, cache_dir)
        return [_ADDRESSES[k] for k in kernels]
