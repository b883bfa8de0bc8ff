"""The optimizer cache's directory, ``<cache_dir>/optimizer``: created owner-only, used only when it is
this user's and nobody else can write it; entries read only when they are regular files of this user
(see *Trust model* in :mod:`eqtensor.egraph.cache`)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

from ..core.cachedir import private_dir
from ..core.config import config
from .cache_codec import Damaged


#: entries larger than this are neither written nor read
MAX_ENTRY_BYTES = 64 << 20


def cache_root(create: bool) -> str:
    """``<cache_dir>/optimizer``: a directory of this user's that nobody else can use (see
    :func:`~eqtensor.core.cachedir.private_dir`), created owner-only with its missing parents when
    ``create``. Raises :class:`~eqtensor.core.cachedir.Unusable`, or ``FileNotFoundError`` when it
    is missing and not ``create``."""
    return private_dir(os.path.join(config.cache_dir, "optimizer"), create)


def remove(path: str, ino: int | None = None):
    """Remove the entry at ``path`` (only if it is still the file ``ino``, when given)."""
    try:
        st = os.lstat(path)
        if ino is not None and st.st_ino != ino:
            return  # replaced meanwhile (by a process storing a good entry)
        if stat.S_ISDIR(st.st_mode):
            if st.st_uid == os.geteuid():
                shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def read_entry(path: str):
    """``(bytes, inode)`` of the entry file ``path``; None when absent. Raises :class:`Damaged` (not a
    regular file, too large, unreadable) or :class:`Foreign` (owned by another user)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Damaged("a symbolic link") from None
        raise Damaged(f"unreadable: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise Foreign(st.st_uid)
        if not stat.S_ISREG(st.st_mode):
            raise Damaged("not a regular file")
        if st.st_size > MAX_ENTRY_BYTES:
            raise Damaged("too large")
        chunks, n = [], 0
        while n <= MAX_ENTRY_BYTES and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            n += len(chunk)
        if n > MAX_ENTRY_BYTES:
            raise Damaged("too large")
        return b"".join(chunks), st.st_ino
    except OSError as e:
        raise Damaged(f"unreadable: {e.strerror}") from None
    finally:
        os.close(fd)


def write_atomic(root: str, name: str, data: bytes) -> None:
    """Write ``data`` to the file ``name`` in ``root`` through a temporary file renamed into place
    (atomic on POSIX); raises ``OSError``."""
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, os.path.join(root, name))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def writable(path: str) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, os.W_OK | os.X_OK, effective_ids=True)
    return os.access(path, os.W_OK | os.X_OK)


class Foreign(Exception):
    """An entry owned by another user (its uid is the argument)."""
