"""The checks of a C module cache entry before it is loaded: ownership, checksum, ELF completeness.

An entry (``<cache_dir>/c/<module>/``, see :mod:`eqtensor.backends.c.build`) is loaded only when its
directory and files belong to the current (effective) user, the directory is writable by nobody
else, the files are regular files (not symbolic links), and the shared object matches the SHA-256
of its ``checksum`` file and is a complete ELF file. The checksum detects damage, not tampering.

>>> entry_state("/nonexistent/_eqc_0", "_eqc_0")
'absent'
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import struct
import sys
import sysconfig

_HEX64 = re.compile(rb"[0-9a-f]{64}")
#: the file name suffix of a Python extension module, read once, at import. ``sysconfig`` fills its
#: variables on first use and, before Python 3.12, without a lock: a thread reading one while another
#: thread's first read is filling them gets None (the kernels' library is compiled in a thread while
#: the module is), and every name derived from it would then differ between processes
EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def so_name(modname: str) -> str:
    """The file name of the shared object ``modname``: a Python extension module (``_eqc_…``) or a
    library (the runtime ``_eqrt_…``, kernels ``_eqk_…``)."""
    if not modname.startswith("_eqc_"):
        return modname + ".so"
    return modname + EXT_SUFFIX


class Foreign(Exception):
    """A cache entry (or part of one) owned by another user."""


def _open_owned(path: str):
    """``(fd, stat)`` of the regular file ``path`` owned by this user; :class:`Foreign` when another
    user owns it, ``OSError`` when it is missing, unreadable, a symbolic link or not a regular file
    (a FIFO, a device, a directory: opened without blocking and refused)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise Foreign(path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_owned(path: str, limit: int | None = None) -> bytes:
    """The contents of the regular file ``path`` owned by this user (see :func:`_open_owned`);
    ``ValueError`` when it holds more than ``limit`` bytes."""
    fd, _ = _open_owned(path)
    chunks, n = [], 0
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            n += len(chunk)
            if limit is not None and n > limit:
                raise ValueError(f"{path}: more than {limit} bytes")
    finally:
        os.close(fd)
    return b"".join(chunks)


def digest(path: str) -> str:
    """SHA-256 of the regular file ``path`` owned by this user."""
    return hashlib.sha256(read_owned(path)).hexdigest()


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


def entry_state(path: str, modname: str) -> str:
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
        data = b"" if want is None else read_owned(os.path.join(path, so_name(modname)))
        ok = want is not None and hashlib.sha256(data).hexdigest() == want and _elf_complete(data)
    except Foreign:
        return "foreign"
    except (OSError, ValueError):
        return "damaged"
    return "ok" if ok else "damaged"


def entry_valid(path: str, modname: str) -> bool:
    """The cache entry exists, belongs to this user, and its shared object matches its checksum."""
    return entry_state(path, modname) == "ok"

