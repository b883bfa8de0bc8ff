"""The thin adapter over egglog — the only module of eqtensor that imports it.

One long-lived e-graph per thread (``bindings.EGraph`` is not sendable) with the declarations and
rules registered once; each compile runs between ``push`` and ``pop``. A graph is inserted as one
rule whose actions are local ``let``\\ s built directly as ``bindings`` objects (no text parsing, no
global lets). Everything that crosses this module's boundary is plain Python data, so a move to
egglog 14 only touches this file.

>>> s = session()
>>> s.push()
>>> s.insert([("let", "a", "Leaf", (("int", 0),)), ("set", "ty", (("var", "a"),), 0)])
>>> s.size()
1
>>> s.pop()
"""

from __future__ import annotations

import threading

from .program import declarations


class EGraphError(RuntimeError):
    """egglog refused a command (e.g. an unsound union detected by the type analysis) or panicked."""


def _guard(fn, *args):
    try:
        return fn(*args)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as e:  # EggSmolError, and Rust panics (PanicException is a BaseException)
        raise EGraphError(f"{type(e).__name__}: {e}") from None


def _load_bindings():
    """egglog's native module. Importing ``egglog`` runs its high-level Python API (~0.3 s), which we
    do not use: load the extension alone (~15 ms) and register it under its name, so a later
    ``import egglog`` reuses it. Falls back to the ordinary import."""
    import importlib.machinery
    import importlib.util
    import os
    import sys

    if "egglog.bindings" in sys.modules:
        return sys.modules["egglog.bindings"]
    try:
        pkg = importlib.util.find_spec("egglog")
        folder = os.path.dirname(pkg.origin)
        (fname,) = [f for f in os.listdir(folder) if f.startswith("bindings.") and f.endswith((".so", ".pyd"))]
        loader = importlib.machinery.ExtensionFileLoader("egglog.bindings", os.path.join(folder, fname))
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
    """A long-lived e-graph with rules registered once. Methods raise :class:`EGraphError`."""

    def __init__(self):
        bindings = _load_bindings()
        self._b = bindings
        self._span = bindings.PanicSpan()
        self._eg = bindings.EGraph()
        self._registered: set[str] = set()
        self._depth = 0
        self._inserts = 0
        for line in declarations().split("\n"):
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

    def size(self) -> int:
        """Number of e-nodes (rows of the constructor tables ``op_*`` and ``Leaf``)."""
        out = _guard(self._eg.run_program, self._b.PrintSize(self._span, None))
        return sum(n for name, n in out[0].sizes if name.startswith("op_") or name == "Leaf")

    def freeze(self, keep=None) -> dict[str, list[tuple[tuple[int, ...], int]]]:
        """``{table: [(inputs, output), ...]}`` with e-classes and i64s as ints (live rows only), for
        the tables for which ``keep(name)`` is true (all when ``keep`` is None)."""
        fr = _guard(self._eg.freeze)
        out = {}
        for name, f in fr.functions.items():
            if f.is_let_binding or (keep is not None and not keep(name)):
                continue
            out[name] = [(tuple(_int(i) for i in r.inputs), _int(r.output)) for r in f.rows if not r.subsumed]
        return out


_local = threading.local()


def session() -> Session:
    """This thread's e-graph (created on first use, or again if left inside a push)."""
    s = getattr(_local, "session", None)
    if s is None or s._depth:
        s = _local.session = Session()
    return s


def discard_session():
    """Drop this thread's e-graph (after an error left it in an unknown state)."""
    _local.session = None
