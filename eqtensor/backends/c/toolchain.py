"""The C toolchain: the compiler and its flags, the cache key of a module, and compiling one.

cffi (API mode, ``ffi.set_source``) turns the generated source into a CPython extension module
exporting ``eq_entry()``; we run the system compiler ourselves (one ``cc`` call per translation
unit, no setuptools) so a cold build stays well under a second. Where the result is cached and how
it is loaded: :mod:`eqtensor.backends.c.build`.

>>> key = module_key("int x;")
>>> key.startswith("_eqc_") and key == module_key("int x;") != module_key("int y;")
True
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from functools import lru_cache

import numpy as np

from ...core.config import config
from .cache_entries import EXT_SUFFIX, digest, so_name
from .toolchain_record import read_record, record_path, write_record

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


class CompileError(RuntimeError):
    """The C compiler failed on generated code (a bug in eqtensor: please report it)."""


@lru_cache(maxsize=None)
def compiler() -> str | None:
    """The C compiler command (``$CC``, else ``gcc``/``cc`` on the PATH), or None."""
    for cand in (os.environ.get("CC"), "gcc", "cc"):
        path = shutil.which(cand) if cand else None
        if path:
            return path
    return None


@lru_cache(maxsize=None)
def compiler_works() -> bool:
    """True when the compiler builds and links a trivial shared object with our flags (probed once
    per compiler, see :func:`_toolchain`)."""
    return _toolchain()[1]


def _probe(cc: str) -> bool:
    """Compile and link a trivial shared object with ``cc`` and our flags."""
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


def _version(cc: str) -> str:
    try:
        return subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


@lru_cache(maxsize=None)
def _toolchain() -> tuple[str, bool]:
    """``(version text, works)`` of :func:`compiler`: read from its record in the disk cache when
    one is there for the compiler as it is now (see :mod:`.toolchain_record`), else asked of the
    compiler (``--version`` and a trial build, ~50 ms) and recorded when it works."""
    cc = compiler()
    if cc is None:
        return "", False
    path = record_path(cc, config.cache_dir, (*CFLAGS, *LIBS))
    found = read_record(path) if path else None
    if found is not None and found.get("compiler") == cc and found.get("works") is True:
        return str(found.get("version", "")), True
    version, works = _version(cc), _probe(cc)
    if works and path:
        write_record(path, {"compiler": cc, "version": version, "works": True})
    return version, works


@lru_cache(maxsize=None)
def _toolchain_id() -> str:
    cc = compiler() or ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        pass
    libc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in os.confstr_names else ""
    u = os.uname()  # and confstr, not platform.platform(): that one reads the Python binary (~10 ms)
    return "|".join([cc, _toolchain()[0], u.sysname, u.release, u.machine, libc or "", sys.version, np.__version__,
                     EXT_SUFFIX, cpu])


def key(prefix: str, texts, flags) -> str:
    """The cache key (and name) of a shared object built from ``texts`` with ``flags`` by this
    toolchain on this platform: ``prefix`` and 32 hex digits."""
    h = hashlib.sha256()
    for part in (*texts, " ".join(flags), " ".join(LIBS), _toolchain_id()):
        h.update(part.encode())
        h.update(b"\0")
    return prefix + h.hexdigest()[:32]


def module_key(source: str, flags=None, parts=()) -> str:
    """The cache key (and module name) of the module ``source`` built with ``flags`` (default
    :func:`cflags`) against the libraries named ``parts``."""
    return key("_eqc_", (source, *parts), glue_flags(cflags() if flags is None else flags))


def runtime_flags(flags=None) -> list:
    """The flags of the runtime library (compiled once: ``-O2``) from the kernels' ``flags``."""
    return ["-O2" if f == "-O3" else f for f in (cflags() if flags is None else flags)] + ["-pthread"]


def _unoptimized(flags) -> list:
    """``flags`` at ``-O0``: the unit functions of a big module (thin calls into the runtime and the
    kernels; 659 of them took 1.65 s of compiler time at -O1, 0.71 s at -O0)."""
    return ["-O0" if f == GLUE_OPT else f for f in flags]


#: the include directories of a translation unit using Python's and NumPy's C API, read at import
#: (``sysconfig`` is not thread-safe before its first use completes, see ``cache_entries.EXT_SUFFIX``)
INCLUDES = ("-I", sysconfig.get_paths()["include"], "-I", np.get_include())


def _write_checksum(outdir: str, so: str):
    with open(os.path.join(outdir, "checksum.tmp"), "w") as fh:
        fh.write(digest(so))
    os.replace(os.path.join(outdir, "checksum.tmp"), os.path.join(outdir, "checksum"))


def compile_module(source: str, modname: str, outdir: str, runtime_name: str, runtime_image: bytes, parts=()):
    """Compile the module ``source`` and its further translation units ``parts`` (concurrently) into
    the shared object of module ``modname`` in ``outdir``, linked against the runtime library
    ``runtime_name`` (a copy of its shared object ``runtime_image``, removed after linking), then
    write its ``checksum`` file; :class:`CompileError` when the compiler fails."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("void *eq_entry(void); void *eq_entry_call1(void *, void *); void eq_set_kernels(void **); "
             "void *eq_c_entry_address(void);")
    ffi.set_source(modname, source, py_limited_api=False, compiler_verbose=False)
    csrc = os.path.join(outdir, modname + ".c")
    ffi.emit_c_code(csrc)
    so = os.path.join(outdir, so_name(modname))
    runtime_so = os.path.join(outdir, so_name(runtime_name))
    with open(runtime_so, "wb") as fh:
        fh.write(runtime_image)
    glue = glue_flags(cflags())
    cmds, objs = [], []
    for j, text in enumerate([None, *parts]):
        src = csrc if text is None else os.path.join(outdir, f"{modname}_{j}.c")
        if text is not None:
            with open(src, "w") as fh:
                fh.write(text)
        objs.append(src[:-2] + ".o")
        cmds.append([compiler(), *(glue if text is None else _unoptimized(glue)), *INCLUDES, "-c", src, "-o",
                     objs[-1]])
    try:
        run_compilers(cmds)
        run_compilers([[compiler(), *glue, *objs, "-o", so, runtime_so, *LIBS]])
    finally:
        os.unlink(runtime_so)
    _write_checksum(outdir, so)


def compile_library(name: str, texts, outdir: str, flags, python: bool = False):
    """Compile the translation units ``texts`` (concurrently) and link them into the shared library
    ``name`` in ``outdir`` (its ``soname`` is its file name), then write its ``checksum`` file;
    ``python``: the units include Python's and NumPy's headers. :class:`CompileError` when the
    compiler fails."""
    cmds, objs = [], []
    for j, text in enumerate(texts):
        src = os.path.join(outdir, f"{name}_{j}.c")
        with open(src, "w") as fh:
            fh.write(text)
        objs.append(src[:-2] + ".o")
        cmds.append([compiler(), *flags, *(INCLUDES if python else ()), "-c", src, "-o", objs[-1]])
    run_compilers(cmds)
    so = os.path.join(outdir, so_name(name))
    run_compilers([[compiler(), *flags, *objs, "-o", so, f"-Wl,-soname,{so_name(name)}", *LIBS]])
    _write_checksum(outdir, so)


def run_compilers(cmds):
    """Run compiler commands concurrently; :class:`CompileError` when one fails."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    errs = [(c, p.communicate()[1], p.returncode) for c, p in zip(cmds, procs)]
    for cmd, err, rc in errs:
        if rc != 0:
            raise CompileError(f"C compilation failed ({' '.join(cmd)}):\n{err[-4000:]}")
