"""Locks that a forked child gets back unlocked.

``os.fork`` copies a lock in whatever state it is: held by a thread of the parent, it stays held
forever in the child, where that thread does not exist, and the child's first compile that needs it
hangs. A :class:`ForkSafeLock` is a ``threading.Lock`` replaced by a fresh one in every forked child
(``os.register_at_fork``). It guards eqtensor's process-wide tables (the e-graph interners, the
garbage-collector pause, the C module cache's bookkeeping, a scan's compiled inner function), whose
critical sections are short and never fork: the state they protect is consistent whenever the lock
is free, and a section another thread had started in the parent is simply not continued in the
child.

>>> lock = ForkSafeLock()
>>> with lock:
...     lock.locked()
True
>>> lock.locked()
False
"""

from __future__ import annotations

import os
import threading
import weakref

_LOCKS: "weakref.WeakSet[ForkSafeLock]" = weakref.WeakSet()


class ForkSafeLock:
    """A ``threading.Lock`` (``with``, ``acquire``, ``release``, ``locked``) that is free again in a
    forked child."""

    __slots__ = ("_lock", "__weakref__")

    def __init__(self):
        self._lock = threading.Lock()
        _LOCKS.add(self)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self):
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()


def _after_fork_in_child():
    for lock in list(_LOCKS):
        lock._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
