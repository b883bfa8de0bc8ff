"""What eqtensor learned about a C compiler, kept on disk: its ``--version`` text and that it builds
with our flags (asking the compiler costs ~50 ms, in every process that compiles C).

A record is the file ``<cache_dir>/c/toolchain/<hash>.json``, where the hash covers the compiler's
command, its resolved path, the device, inode, size and modification time of that file, and the
flags: installing another compiler (or another version under the same name) changes the name, and
the compiler is asked again. A compiler driver that stays the same file while what it runs changes
(a wrapper such as ``ccache``) keeps its record: remove ``<cache_dir>/c/toolchain`` after such an
upgrade. Only a compiler that works is recorded; one that does not is asked again in every process.

The file holds a header line ``eqtensor-toolchain 1 sha256=<hex>`` (SHA-256 of the rest) and a JSON
object. It is read only when it is a regular file of the current (effective) user in a directory
only that user can use (see :mod:`eqtensor.core.cachedir`), and ignored (then rewritten) when its
checksum, header or JSON is wrong. It is written to a temporary file and renamed into place; a cache
directory that cannot be written just means the compiler is asked again in the next process.

>>> import tempfile
>>> cache, cc = tempfile.mkdtemp(), tempfile.mkstemp()[1]  # a cache directory, a "compiler" file
>>> path = record_path(cc, cache, ("-O3",))
>>> read_record(path) is None
True
>>> write_record(path, {"version": "1.0", "works": True})
>>> read_record(path)
{'version': '1.0', 'works': True}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile

from ...core.cachedir import Unusable, private_dir
from .cache_entries import Foreign, read_owned

#: the format of a record: part of its header and of its name
FORMAT = 1
_HEADER = re.compile(rb"eqtensor-toolchain (\d+) sha256=([0-9a-f]{64})\n")
_MAX_BYTES = 1 << 16


def record_path(cc: str, cache_dir: str, flags) -> str | None:
    """The record's file for compiler ``cc`` (a path) as it is now and ``flags``; None when ``cc``
    cannot be examined."""
    try:
        real = os.path.realpath(cc)
        st = os.stat(real)
    except OSError:
        return None
    ident = repr((FORMAT, cc, real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, tuple(flags)))
    name = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return os.path.join(os.path.abspath(cache_dir), "c", "toolchain", name + ".json")


def _root(path: str, create: bool) -> str:
    """The directory of the record ``path``, checked (and created when ``create``) owner-only, as
    is its parent ``<cache_dir>/c``."""
    root = os.path.dirname(path)
    private_dir(os.path.dirname(root), create)
    return private_dir(root, create)


def read_record(path: str) -> dict | None:
    """The record at ``path``, or None (absent, someone else's, damaged, in a directory others can
    use)."""
    try:
        _root(path, create=False)
        data = read_owned(path, _MAX_BYTES)
    except (Unusable, Foreign, OSError, ValueError):
        return None
    m = _HEADER.match(data)
    body = data[m.end():] if m else b""
    if m is None or int(m.group(1)) != FORMAT or hashlib.sha256(body).hexdigest().encode() != m.group(2):
        return None
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def write_record(path: str, record: dict) -> None:
    """Write ``record`` to ``path`` atomically (nothing happens when the directory is unusable)."""
    body = json.dumps(record, sort_keys=True).encode()
    data = b"eqtensor-toolchain %d sha256=%s\n" % (FORMAT, hashlib.sha256(body).hexdigest().encode()) + body
    tmp = None
    try:
        root = _root(path, create=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        tmp = None
    except (Unusable, OSError):
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
