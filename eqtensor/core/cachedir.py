"""Cache directories that only their owner can use: created owner-only, refused when they are someone
else's, tightened when they are ours but open to others.

Both disk caches (the optimizer's recipes under ``<cache_dir>/optimizer`` and the C backend's
compiled code under ``<cache_dir>/c``) hold what eqtensor then runs in your process, so each keeps
its entries in such a directory (see the README's *Reliability* section for the trust model).

>>> import os, tempfile
>>> base = tempfile.mkdtemp()
>>> d = private_dir(os.path.join(base, "a", "b"))
>>> oct(os.stat(d).st_mode & 0o777), oct(os.stat(os.path.dirname(d)).st_mode & 0o777)
('0o700', '0o700')
"""

from __future__ import annotations

import os
import stat


class Unusable(Exception):
    """A cache directory that cannot be used (the message says why)."""


def owner_only_dirs(path: str):
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


def private_dir(path: str, create: bool = True) -> str:
    """``path`` (made absolute) when it is a directory of the current (effective) user that nobody
    else can use: created owner-only with its missing parents when ``create``, and set to mode 0o700
    when it is ours but open to others. Raises :class:`Unusable` (cannot be created, not a directory,
    another user's, cannot be made private), or ``FileNotFoundError`` when it is missing and not
    ``create``."""
    path = os.path.abspath(path)
    try:
        if create:
            owner_only_dirs(path)
        st = os.stat(path)
    except FileNotFoundError:
        if create:
            raise Unusable(f"cannot create {path}: it vanished") from None
        raise
    except OSError as e:
        raise Unusable(f"cannot {'create' if create else 'use'} {path}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise Unusable(f"{path} is not a directory")
    if st.st_uid != os.geteuid():
        raise Unusable(f"{path} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError as e:
            raise Unusable(f"{path} is open to other users and cannot be made private: {e.strerror}") from None
    return path
