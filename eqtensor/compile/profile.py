"""Per-call profiles of compiled functions: ``function(..., profile=True)``, as in PyTensor.

``f.profile`` (a :class:`ProfileStats`) counts the calls and their input shapes and times them:

- the whole call (argument binding and checks, the compiled code, storing updates), and
- the compiled code alone;
- on the NumPy backend, each scheduled node (its generated statement is timed);
- on the C backend, the compiled function runs as one C call: only its total is measured, and
  the summary lists the kernels (fused loops, reductions, structural ops, NumPy fallbacks) that
  call runs, without per-kernel times.

Timing adds about a microsecond per call (two clock reads per timed statement), so profile only
while investigating.

>>> import numpy as np, eqtensor as et
>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> f = et.function([x], pt.exp(x) * 2, mode="NUMPY", profile=True, name="f")
>>> _ = f(np.ones(3)); _ = f(np.ones(5))
>>> f.profile.calls, sorted(f.profile.input_shapes.values())
(2, [1, 1])
>>> print(f.profile.summary())  # doctest: +ELLIPSIS
profile of function 'f' (NumPy backend): 2 calls
...
"""

from __future__ import annotations

import ast
import collections
import inspect
import time

from ..backends.c.plan import plan_units

_pc = time.perf_counter


class ProfileStats:
    """What the calls of one profiled function cost. Fields:

    ``calls`` (calls that ran the compiled code), ``errors`` (of those, calls that raised),
    ``call_time`` (seconds in :class:`~eqtensor.compile.compiled_function.Function` calls, Python side
    included), ``run_time`` (seconds in the compiled code), ``node_time`` (NumPy backend: seconds
    per scheduled node, in schedule order; None on the C backend), ``input_shapes`` (a Counter of
    the tuple of explicit input shapes of each call), ``compile_timings`` (seconds per compile
    phase) and ``nodes`` (the schedule's nodes).
    """

    def __init__(self, name, maker, compile_timings):
        self.name = name
        self.backend = maker.backend
        self.nodes = list(maker.schedule.nodes)
        self.n_explicit = maker.fgraph.n_explicit
        self.compile_timings = compile_timings  # shared with copies; function() adds its last phase
        self.calls = 0
        self.errors = 0
        self.call_time = 0.0
        self.run_time = 0.0
        self.node_time: list[float] | None = None
        self.input_shapes: collections.Counter = collections.Counter()
        self._labels = {id(v): (v.name or f"input {k}") for k, v in enumerate(maker.fgraph.inputs)}
        self._outputs = list(maker.schedule.outputs)
        self._thunk = maker.thunk
        self._source = maker.backend_source

    def reset(self):
        """Forget the calls recorded so far (compile timings stay)."""
        self.calls = self.errors = 0
        self.call_time = self.run_time = 0.0
        self.input_shapes.clear()
        if self.node_time is not None:
            self.node_time[:] = [0.0] * len(self.node_time)

    # ------------------------------------------------------------------ the timed thunk
    def timed_thunk(self):
        """The compiled thunk, wrapped to record calls, shapes and times into this profile."""
        thunk = self._per_node_thunk() if self.backend == "numpy" else None
        if thunk is None:
            thunk = self._thunk
        shapes, n = self.input_shapes, self.n_explicit

        def profiled(*args):
            shapes[tuple(getattr(a, "shape", None) for a in args[:n])] += 1
            t0 = _pc()
            try:
                return thunk(*args)
            except BaseException:
                self.errors += 1
                raise
            finally:
                self.run_time += _pc() - t0
                self.calls += 1

        return profiled

    def _per_node_thunk(self):
        """The NumPy backend's generated function with each node's statement timed (None when the
        source does not have one assignment per scheduled node, as the backend writes it)."""
        fn = getattr(inspect.unwrap(self._thunk), "__globals__", None)  # under @np.errstate
        try:
            tree = ast.parse(self._source)
        except SyntaxError:
            return None
        defs = [d for d in tree.body if isinstance(d, ast.FunctionDef) and d.name == "thunk"]
        if fn is None or len(defs) != 1:
            return None
        owner = defs[0]
        if len(owner.body) == 1 and isinstance(owner.body[0], ast.Try):
            owner = owner.body[0]
        stmts = owner.body
        if sum(isinstance(s, ast.Assign) for s in stmts) != len(self.nodes):
            return None
        new, k = [], 0
        for s in stmts:
            if isinstance(s, ast.Assign):
                before = ast.parse("_prof_t = _prof_pc()").body[0]
                after = ast.parse(f"_prof_nt[{k}] += _prof_pc() - _prof_t").body[0]
                for extra in (before, after):  # keep the line numbers: run-time errors map lines to nodes
                    for sub in ast.walk(extra):
                        ast.copy_location(sub, s)
                new += [before, s, after]
                k += 1
            else:
                new.append(s)
        owner.body = new
        self.node_time = [0.0] * len(self.nodes)
        ns = dict(fn)
        ns.update(_prof_pc=_pc, _prof_nt=self.node_time)
        exec(compile(tree, "<eqtensor-numpy-profiled>", "exec"), ns)
        return ns["thunk"]

    # ------------------------------------------------------------------ reading it
    def _label(self, v):
        got = self._labels.get(id(v))
        if got is not None:
            return got
        text = repr(v)
        return text if len(text) <= 60 else text[:59] + "…"

    def _node_text(self, node):
        return f"{node.op!r}({', '.join(self._label(i) for i in node.inputs)}) -> {node.out.type}"

    def summary(self, n_nodes: int = 20, n_shapes: int = 5) -> str:
        """Readable text: calls, times per call, the costliest nodes (NumPy backend) or the kernels
        the single C call runs (C backend), the most frequent input shapes, compile phases."""
        name = f"function {self.name!r}" if self.name else "function"
        backend = {"numpy": "NumPy backend", "c": "C backend"}.get(self.backend, f"{self.backend} backend")
        lines = [f"profile of {name} ({backend}): {self.calls} call{'s' if self.calls != 1 else ''}"
                 + (f", {self.errors} raised" if self.errors else "")]
        per = (lambda t: t / self.calls * 1e6) if self.calls else (lambda t: 0.0)
        lines.append(f"  time in calls:         {self.call_time:.6f} s  ({per(self.call_time):.1f} us per call)")
        lines.append(f"  time in compiled code: {self.run_time:.6f} s  ({per(self.run_time):.1f} us per call)")
        overhead = self.call_time - self.run_time
        lines.append(f"  Python call overhead:  {overhead:.6f} s  ({per(overhead):.1f} us per call: binding, "
                     f"checks, updates)")
        if self.node_time is not None:
            total = sum(self.node_time) or 1.0
            order = sorted(range(len(self.nodes)), key=lambda k: -self.node_time[k])
            lines.append(f"  nodes by time ({len(self.nodes)} scheduled; each statement of the generated "
                         f"code timed):")
            lines.append("    <% time> <seconds> <us/call> <#> <node>")
            for k in order[:n_nodes]:
                t = self.node_time[k]
                lines.append(f"    {100 * t / total:6.1f}% {t:10.6f} {per(t):9.1f} {k:4d} "
                             f"{self._node_text(self.nodes[k])}")
            if len(order) > n_nodes:
                rest = sum(self.node_time[k] for k in order[n_nodes:])
                lines.append(f"    ... {len(order) - n_nodes} more nodes, {rest:.6f} s")
        else:
            lines.append("  per-kernel times: not measured (the C backend runs the whole function as one C "
                         "call; its time is the 'compiled code' line)")
            lines.extend("  " + line for line in self._kernels())
        if self.input_shapes:
            lines.append(f"  input shapes ({len(self.input_shapes)} distinct; calls, shapes of the explicit "
                         f"inputs):")
            for shapes, count in self.input_shapes.most_common(n_shapes):
                lines.append(f"    {count:6d}  {', '.join(str(s) for s in shapes) or '(no inputs)'}")
            if len(self.input_shapes) > n_shapes:
                lines.append(f"    ... {len(self.input_shapes) - n_shapes} more")
        if self.compile_timings:
            phases = ", ".join(f"{k} {v:.3f} s" for k, v in self.compile_timings.items())
            lines.append(f"  compile: {phases}")
        return "\n".join(lines)

    def _kernels(self):
        """The C function's units in call order, each with the nodes it computes."""
        try:
            plan = plan_units(self.nodes, self._outputs)
        except Exception:  # noqa: BLE001  (the listing is informative only)
            plan = None
        if plan is None:
            return [f"nodes ({len(self.nodes)}, in call order):"] + [
                f"  {k:4d} {self._node_text(n)}" for k, n in enumerate(self.nodes)]
        out = [f"kernels ({len(plan.units)} units for {len(self.nodes)} nodes, in call order; "
               f"elem = fused loop, reduce, struct = structural, fallback = NumPy call):"]
        for pos, u in enumerate(plan.units):
            members = plan.members[u]
            root = members[-1]
            kind = plan.mode.get(u, "?")
            fused = f" + {len(members) - 1} fused" if len(members) > 1 else ""
            out.append(f"  {pos:4d} {kind:8s} {self._node_text(root)}{fused}")
        return out

