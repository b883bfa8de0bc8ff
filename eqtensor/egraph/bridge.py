"""The thin adapter over egglog — the only module of eqtensor that imports it.

One long-lived e-graph per thread (``bindings.EGraph`` is not sendable) with the declarations and
rules registered once; each compile runs between ``push`` and ``pop``. A graph is inserted as one
rule whose actions are local ``let``\\ s built directly as ``bindings`` objects (no text parsing, no
global lets). Everything that crosses this module's boundary is plain Python data, so a move to
egglog 14 only touches this file.

Threads: every thread gets its own e-graph (:func:`session`), created on first use and dropped on
that thread when it exits; an e-graph is never touched by another thread.

Fork: egglog runs on rayon's global thread pool, started when egglog's native module is loaded.
A forked child inherits that pool without its threads, and every ``pop`` or drop of an e-graph then
waits forever for them (egglog-core-relations' ``Database::drop`` broadcasts to the pool) — even for
an e-graph made in the child. So:

* at fork, every e-graph of the parent is kept alive in the child forever (never dropped: dropping
  one would hang, or report an unsendable object dropped on another thread), and not used again;
* a child whose parent had loaded egglog (checked with ``os.register_at_fork``) runs its e-graphs
  in a helper process (:class:`RemoteSession`): a fresh interpreter started with ``exec`` (so with a
  live thread pool) that loads only this file and egglog's native module and serves the same
  :class:`Session` calls over a pipe, one helper per thread that optimizes. It starts on the
  thread's first optimization (measured: ~0.2 s, then the rules are registered as in any new
  e-graph), costs a few milliseconds per compile in pipe traffic, and exits when the child closes
  the pipe or dies. A helper that dies (an egglog abort) costs one compile, which falls back to the
  unoptimized graph; the next one starts a new helper;
* a child of a process that never loaded egglog loads it itself and works in-process as usual.

(Leaking a fresh e-graph per compile instead of popping would also avoid the hang, but measured
~11-15 MB and ~0.15 s per compile.)

>>> s = session()
>>> s.push()
>>> s.insert([("let", "a", "Leaf", (("int", 0),)), ("set", "ty", (("var", "a"),), 0)])
>>> s.size()
1
>>> s.pop()
"""

from __future__ import annotations

import os
import sys
import threading
import weakref

try:
    from .program import declarations
except ImportError:  # loaded on its own by the helper process of a forked child (see RemoteSession)
    declarations = None


class EGraphError(RuntimeError):
    """egglog refused a command (e.g. an unsound union detected by the type analysis) or panicked."""


def _guard(fn, *args):
    try:
        return fn(*args)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as e:  # EggSmolError, and Rust panics (PanicException is a BaseException)
        raise EGraphError(f"{type(e).__name__}: {e}") from None


def _load_bindings(path: str | None = None):
    """egglog's native module. Importing ``egglog`` runs its high-level Python API (~0.3 s), which we
    do not use: load the extension alone (~15 ms) and register it under its name, so a later
    ``import egglog`` reuses it. Falls back to the ordinary import. ``path``: the extension's file
    (the helper process loads the one its parent uses, wherever ``sys.path`` points)."""
    import importlib.machinery
    import importlib.util

    if "egglog.bindings" in sys.modules:
        return sys.modules["egglog.bindings"]
    try:
        if path is None:
            pkg = importlib.util.find_spec("egglog")
            folder = os.path.dirname(pkg.origin)
            (fname,) = [f for f in os.listdir(folder) if f.startswith("bindings.") and f.endswith((".so", ".pyd"))]
            path = os.path.join(folder, fname)
        loader = importlib.machinery.ExtensionFileLoader("egglog.bindings", path)
        spec = importlib.util.spec_from_file_location("egglog.bindings", loader.path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules["egglog.bindings"] = module
        loader.exec_module(module)
        return module
    except Exception:
        sys.modules.pop("egglog.bindings", None)
        from egglog import bindings

        return bindings


def _int(v) -> int:
    s = str(v)
    return int(s[6:-1])


class Session:
    """A long-lived e-graph with rules registered once. Methods raise :class:`EGraphError`.
    ``decls``: the declarations (default: :func:`~eqtensor.egraph.program.declarations`)."""

    def __init__(self, decls: str | None = None):
        bindings = _load_bindings()
        self._b = bindings
        self._span = bindings.PanicSpan()
        self._eg = bindings.EGraph()
        self._registered: set[str] = set()
        self._depth = 0
        self._inserts = 0
        _track(self)
        for line in (declarations() if decls is None else decls).split("\n"):
            self.command(line)

    def command(self, text: str):
        """Run one egglog command given as text (declarations, rules, schedules)."""
        eg = self._eg
        return _guard(lambda: eg.run_program(*eg.parse_program(text)))

    def register(self, key: str, text: str):
        """Run ``text`` once per process (keyed by ``key``); must happen outside push/pop."""
        if key in self._registered:
            return
        if self._depth:
            raise EGraphError("rules must be registered before push()")
        self.command(text)
        self._registered.add(key)

    def push(self):
        _guard(self._eg.run_program, self._b.Push(1))
        self._depth += 1

    def pop(self):
        if self._depth:
            self._depth -= 1
            _guard(self._eg.run_program, self._b.Pop(self._span, 1))

    def insert(self, actions):
        """Run ``actions`` as the head of one body-less rule, once.

        Actions: ``("let", name, fn, args)``, ``("set", fn, args, int)``, ``("call", fn, args)``,
        ``("union", name, name)``, where an arg is ``("var", name)`` or ``("int", n)``.
        """
        b, S = self._b, self._span
        actions = dict.fromkeys(actions)  # repeated facts (e.g. one float type per entry) added once

        def arg(a):
            return b.Var(S, a[1]) if a[0] == "var" else b.Lit(S, b.Int(a[1]))

        acts = []
        for a in actions:
            if a[0] == "let":
                acts.append(b.Let(S, a[1], b.Call(S, a[2], [arg(x) for x in a[3]])))
            elif a[0] == "set":
                acts.append(b.Set(S, a[1], [arg(x) for x in a[2]], b.Lit(S, b.Int(a[3]))))
            elif a[0] == "union":
                acts.append(b.Union(S, b.Var(S, a[1]), b.Var(S, a[2])))
            else:
                acts.append(b.Expr_(S, b.Call(S, a[1], [arg(x) for x in a[2]])))
        self._inserts += 1
        name = f"insert{self._inserts}"
        _guard(self._eg.run_program, b.AddRuleset(S, name), b.RuleCommand(b.Rule(S, acts, [], name, name)))
        self.command(f"(run-schedule (run {name}))")

    def combine(self, name: str, rulesets) -> None:
        """Declare ruleset ``name`` as the union of ``rulesets`` (inside push/pop: popped with it)."""
        self.command(f"(unstable-combined-ruleset {name} {' '.join(rulesets)})")

    def run_once(self, ruleset: str):
        """One iteration of ``ruleset``; returns ``(updated, new matches per rule)``. (egglog's own
        back-off scheduler is not used: it costs milliseconds per call on small graphs and seconds
        on large ones, searching the matches it then skips.)"""
        out = self.command(f"(run-schedule (run {ruleset}))")
        report = out[-1].report
        return bool(report.updated), dict(report.num_matches_per_rule)

    def _sizes(self):
        return _guard(self._eg.run_program, self._b.PrintSize(self._span, None))[0].sizes

    def size(self) -> int:
        """Number of e-nodes (rows of the constructor tables ``op_*`` and ``Leaf``)."""
        return sum(n for name, n in self._sizes() if name.startswith("op_") or name == "Leaf")

    def tables(self) -> list[str]:
        """The names of the e-graph's tables (functions and constructors)."""
        return [name for name, _ in self._sizes()]

    def freeze(self, keep=None) -> dict[str, list[tuple[tuple[int, ...], int]]]:
        """``{table: [(inputs, output), ...]}`` with e-classes and i64s as ints (live rows only), for
        the tables for which ``keep(name)`` is true (all when ``keep`` is None; ``keep`` may also be
        a collection of names)."""
        if keep is not None and not callable(keep):
            keep = frozenset(keep).__contains__
        fr = _guard(self._eg.freeze)
        out = {}
        for name, f in fr.functions.items():
            if f.is_let_binding or (keep is not None and not keep(name)):
                continue
            out[name] = [(tuple(_int(i) for i in r.inputs), _int(r.output)) for r in f.rows if not r.subsumed]
        return out


# --- forked children: a session in a helper process ------------------------------------------------

#: the helper's program: load this file on its own (not the eqtensor package) and serve
_HELPER = r"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_eqtensor_egglog_helper", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module._serve(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] or None)
"""

#: the calls a helper serves
_REMOTE_CALLS = frozenset({"command", "register", "push", "pop", "insert", "combine", "run_once", "size", "tables",
                           "freeze"})


def _serve(rfd: int, wfd: int, bindings_path: str | None):
    """The helper process's loop: ``(call, args)`` requests in, ``("ok", value)`` or ``("err", text)``
    out. The first request is ``("open", (declarations,))``. Returns when the pipe closes."""
    import signal
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C interrupts the child, which then closes the pipe
    requests, replies = Connection(rfd, writable=False), Connection(wfd, readable=False)
    _load_bindings(bindings_path)
    s = None
    while True:
        try:
            call, args = requests.recv()
        except (EOFError, OSError):
            return
        try:
            if call == "open":
                s = Session(*args)
                value = None
            elif call in _REMOTE_CALLS and s is not None:
                value = getattr(s, call)(*args)
                if call == "command":  # egglog's output objects stay here; their text crosses
                    value = [str(o) for o in value]
            else:
                raise EGraphError(f"unknown call {call!r}")
            reply = ("ok", value)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # noqa: BLE001  (EGraphError, and anything else: the child decides)
            reply = ("err", str(e) if isinstance(e, EGraphError) else f"{type(e).__name__}: {e}")
        try:
            replies.send(reply)
        except OSError:
            return


class RemoteSession:
    """A :class:`Session` in a helper process, for a forked child whose egglog thread pool is gone
    (see the module docstring). Same methods; ``command`` returns the outputs' text."""

    def __init__(self, decls: str | None = None):
        import subprocess
        from multiprocessing.connection import Connection

        self._registered: set[str] = set()
        self._depth = 0
        self._pid = os.getpid()
        self._conn = None
        mod = sys.modules.get("egglog.bindings")
        so = getattr(mod, "__file__", None) or ""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _HELPER, os.path.abspath(__file__), str(req_r), str(rep_w), so],
                pass_fds=(req_r, rep_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True)
        except OSError as e:
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            raise EGraphError(f"cannot start the e-graph helper process of this forked child: {e}") from None
        os.close(req_r)
        os.close(rep_w)
        self._conn = (Connection(req_w, readable=False), Connection(rep_r, writable=False))
        self._finalizer = weakref.finalize(self, _close_remote, self._conn, self._proc, self._pid)
        _track(self)
        self._call("open", declarations() if decls is None else decls)

    def _call(self, call, *args):
        if self._conn is None or os.getpid() != self._pid:
            raise EGraphError("this e-graph session is closed or belongs to another process")
        requests, replies = self._conn
        try:
            requests.send((call, args))
            status, value = replies.recv()
        except (EOFError, OSError) as e:
            self.close()
            raise EGraphError(f"the e-graph helper process died ({type(e).__name__}: {e})") from None
        if status != "ok":
            raise EGraphError(value)
        return value

    def close(self):
        """Stop the helper (it exits when the pipe closes)."""
        self._conn = None
        self._finalizer()

    def _forget(self):
        """In a forked child of this process: close the inherited pipe ends, leave the helper alone."""
        if self._conn is not None:
            for c in self._conn:
                c.close()
        self._conn = None
        self._finalizer.detach()

    def command(self, text: str):
        return self._call("command", text)

    def register(self, key: str, text: str):
        if key in self._registered:
            return
        if self._depth:
            raise EGraphError("rules must be registered before push()")
        self._call("register", key, text)
        self._registered.add(key)

    def push(self):
        self._call("push")
        self._depth += 1

    def pop(self):
        if self._depth:
            self._depth -= 1
            self._call("pop")

    def insert(self, actions):
        self._call("insert", actions if isinstance(actions, list) else list(actions))

    def combine(self, name: str, rulesets) -> None:
        self._call("combine", name, tuple(rulesets))

    def run_once(self, ruleset: str):
        return self._call("run_once", ruleset)

    def size(self) -> int:
        return self._call("size")

    def tables(self) -> list[str]:
        return self._call("tables")

    def freeze(self, keep=None):
        names = None
        if keep is not None:
            names = sorted(keep) if not callable(keep) else [n for n in self.tables() if keep(n)]
        return self._call("freeze", names)


def _close_remote(conn, proc, pid):
    for c in conn:
        try:
            c.close()
        except OSError:
            pass
    if os.getpid() != pid:
        return
    try:
        proc.wait(timeout=2)
    except Exception:  # noqa: BLE001  (a helper still busy with an interrupted call: stop it)
        proc.kill()
        proc.wait()


# --- sessions per thread, and what happens at fork --------------------------------------------------

_local = threading.local()
_SESSIONS: weakref.WeakSet = weakref.WeakSet()  # every live session of this process
_SESSIONS_LOCK = threading.Lock()
_KEPT: list = []  # e-graphs inherited through fork: kept alive forever, never used (dropping one hangs)
_at_fork: list = []
_forked_egglog = False  # egglog was loaded before this process was forked: its thread pool is gone


def _track(s):
    with _SESSIONS_LOCK:
        _SESSIONS.add(s)


def _keep_forever(obj):
    """Never free ``obj``, not even when the interpreter exits (then module globals are cleared)."""
    _KEPT.append(obj)
    try:
        import ctypes

        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    except Exception:  # noqa: BLE001  (not CPython: the list above keeps it until exit)
        pass


def _before_fork():
    _SESSIONS_LOCK.acquire()
    _at_fork[:] = list(_SESSIONS)  # strong references, so that none is dropped in the child


def _after_fork_in_parent():
    _at_fork.clear()
    _SESSIONS_LOCK.release()


def _after_fork_in_child():
    global _local, _SESSIONS_LOCK, _forked_egglog
    _SESSIONS_LOCK = threading.Lock()
    for s in _at_fork:
        if isinstance(s, RemoteSession):
            s._forget()  # the helper belongs to the parent
        else:
            _keep_forever(s)
    _at_fork.clear()
    _SESSIONS.clear()
    _local = threading.local()  # this thread's old session is in _KEPT; the next call makes a new one
    if "egglog.bindings" in sys.modules:
        _forked_egglog = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


def forked_egglog() -> bool:
    """True in a forked child of a process that had loaded egglog: e-graphs then run in a helper
    process (:class:`RemoteSession`)."""
    return _forked_egglog


def session() -> Session | RemoteSession:
    """This thread's e-graph (created on first use, or again if left inside a push)."""
    s = getattr(_local, "session", None)
    if s is None or s._depth:
        _local.session = None
        s = _local.session = RemoteSession() if _forked_egglog else Session()
    return s


def discard_session():
    """Drop this thread's e-graph (after an error left it in an unknown state)."""
    _local.session = None
