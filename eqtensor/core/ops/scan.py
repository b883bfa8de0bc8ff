"""The ``scan`` op: a loop over the steps of an inner graph.

The user-facing builder is :func:`eqtensor.scan.scan`; it normalizes PyTensor's interface (taps of
sequences, ``go_backwards``, shared-variable updates) into this op's simpler form:

- **sequences** are read at tap 0 (the face slices a sequence once per tap, and reverses it for
  ``go_backwards``); the loop runs ``n_steps`` steps, or as many as the shortest sequence has;
- **recurrent outputs** (:class:`Recurrent`) read their own past values at negative ``taps``;
  the node input is the initial buffer of shape ``(L, *step)`` with ``L = -min(taps)`` (row 0 is
  the value at ``t - L``), and the node output is the whole storage ``(L + n, *step)``, initial
  rows included (the face returns the view ``storage[L:]``; the gradient reads the states from
  it); a ``last_only`` recurrent output (tap ``-1`` only) returns just the final state; an
  ``untraced`` one (a value that cannot be stacked: a random generator, PyTensor's untraced
  sit-sot) is also ``last_only``, and its node input is the initial value itself, not a buffer;
- **other outputs** (not fed back) are ``(n, *step)``;
- **non-sequences** are passed unchanged to every step (the explicit ones, then the free
  variables of the inner graph: outer inputs and shared variables);
- with ``until``, the inner graph's last output is a boolean scalar; the loop stops after the
  first step where it is true and the outputs keep only the steps run.

Node inputs, in order: ``[n_steps]`` (int64 scalar, when given), sequences, initial buffers of the
recurrent outputs, non-sequences. One scan call builds one node per output,
``scan{inner, which}(*inputs)``, all with the same inputs; the loop runs once per call of the
compiled function for all of them: the compile layer gives each function its own copy of the
inner graph (:func:`specialize_scans`) that knows which outputs the function uses, and the first
of them to run computes all and leaves the others' values for them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..evaluate import evaluate
from ..fgraph import FunctionGraph
from ..graph import TensorType, Variable
from ..locks import ForkSafeLock
from ..op import OPS, Op, constant_value, declare
from ..replace import clone_replace
from ..traversal import ancestors, toposort


@dataclass(frozen=True)
class Recurrent:
    """A recurrent output: the inner output ``index`` fed back at ``taps`` (negative ints);
    ``last_only``: only the final state is returned; ``untraced``: its states are never stored
    (a random generator: the initial value is given as it is, and gradients do not trace it)."""

    index: int
    taps: tuple
    last_only: bool = False
    untraced: bool = False

    @property
    def lag(self) -> int:
        return -min(self.taps)


class ScanInner:
    """The inner graph of a scan: hashable by identity, immutable after construction.

    ``seq_ph``: one placeholder per sequence (a slice); ``state_ph``: one per tap of each recurrent
    output, in order; ``nonseq_ph``: one per non-sequence; ``outputs``: the inner outputs, then
    the ``until`` condition when ``until`` is true; ``recurrent``: :class:`Recurrent` records;
    ``has_n_steps``: the node's first input is ``n_steps``; ``truncate_gradient``: steps the
    gradient goes back (-1: all). ``used`` (set by :func:`specialize_scans`) is the set of outputs
    one compiled function reads; ``function`` and ``backend`` say what compiled the step (the
    C backend runs the loop of a step it compiled in C: :mod:`eqtensor.backends.c.scan_loop`).
    """

    __slots__ = ("seq_ph", "state_ph", "nonseq_ph", "outputs", "recurrent", "until", "has_n_steps",
                 "truncate_gradient", "name", "used", "function", "backend", "_fn", "_lock", "_memo", "_traced")

    def __init__(self, seq_ph, state_ph, nonseq_ph, outputs, recurrent, *, until=False, has_n_steps=False,
                 truncate_gradient=-1, name=None):
        self.seq_ph = tuple(seq_ph)
        self.state_ph = tuple(state_ph)
        self.nonseq_ph = tuple(nonseq_ph)
        self.outputs = tuple(outputs)
        self.recurrent = tuple(recurrent)
        self.until = bool(until)
        self.has_n_steps = bool(has_n_steps)
        self.truncate_gradient = int(truncate_gradient)
        self.name = name
        self.used = None
        self.function = None
        self.backend = None
        self._fn = None
        self._lock = ForkSafeLock()
        self._memo = threading.local()
        self._traced = None
        if sum(len(r.taps) for r in self.recurrent) != len(self.state_ph):
            raise ValueError("ScanInner: one state placeholder per tap of each recurrent output")

    def copy(self) -> "ScanInner":
        """The same inner graph, not compiled (a function's own copy)."""
        return ScanInner(self.seq_ph, self.state_ph, self.nonseq_ph, self.outputs, self.recurrent,
                         until=self.until, has_n_steps=self.has_n_steps,
                         truncate_gradient=self.truncate_gradient, name=self.name)

    def traced(self) -> "ScanInner":
        """The forward of this scan's gradient: every recurrent output traced but the ``untraced``
        ones, and the draws made from a generator threaded through the loop appended as outputs
        (before the ``until`` condition: the backward pass reads them, it has no generator states).
        Itself when nothing changes; one copy per inner graph, so the nodes several gradients build
        are merged."""
        if self._traced is not None:
            return self._traced
        draws = _generator_draws(self)
        if not draws and not any(r.last_only and not r.untraced for r in self.recurrent):
            self._traced = self
        else:
            outputs = self.outputs[:self.n_out] + tuple(draws) + self.outputs[self.n_out:]
            self._traced = ScanInner(self.seq_ph, self.state_ph, self.nonseq_ph, outputs,
                                     [r if r.untraced else Recurrent(r.index, r.taps) for r in self.recurrent],
                                     until=self.until,
                                     has_n_steps=self.has_n_steps, truncate_gradient=self.truncate_gradient,
                                     name=self.name)
        return self._traced

    @property
    def n_out(self) -> int:
        """The number of outputs (the ``until`` condition excluded)."""
        return len(self.outputs) - self.until

    @property
    def n_inputs(self) -> int:
        return int(self.has_n_steps) + len(self.seq_ph) + len(self.recurrent) + len(self.nonseq_ph)

    @property
    def inputs(self) -> tuple:
        """The inner placeholders in call order: sequences, recurrent states, non-sequences."""
        return self.seq_ph + self.state_ph + self.nonseq_ph

    def recurrent_of(self, k: int):
        """The :class:`Recurrent` record of output ``k``, or None."""
        for r in self.recurrent:
            if r.index == k:
                return r
        return None

    def step(self):
        """The inner function ``step(*slices, *states, *nonseqs) -> outputs``: what
        :meth:`compile_with` made, else the reference interpreter over the inner graph."""
        fn = self._fn
        if fn is None:
            inputs, outputs = self.inputs, list(self.outputs)

            def fn(*values):
                return evaluate(outputs, dict(zip(inputs, values)))

        return fn

    def compile_with(self, compile) -> None:
        """Compile the inner graph once: ``compile(inputs, outputs, name)`` returns the compiled
        function (kept as :attr:`function`, to inspect), the callable the loop calls per step
        (with the arrays as they are: the compiled code checks what it relies on) and the name of
        the backend that compiled it (:attr:`backend`)."""
        with self._lock:
            if self._fn is None:
                self.function, self._fn, self.backend = compile(
                    list(self.inputs), list(self.outputs), f"scan {self.name!r} inner" if self.name else "scan inner")

    def __repr__(self):
        return f"<scan inner {self.name or hex(id(self))}>"


def _generator_draws(inner: ScanInner) -> list:
    """The draws of the step from a generator threaded through the loop (an ``untraced`` state)."""
    gens, pos = set(), 0
    for r in inner.recurrent:
        if r.untraced:
            gens.add(id(inner.state_ph[pos]))
        pos += len(r.taps)
    outputs = {id(o) for o in inner.outputs}
    return [n.out for n in toposort(inner.outputs) if gens and n.op.name == "random" and id(n.out) not in outputs
            and any(id(v) in gens for v in ancestors([n.inputs[0]]))]


def split_inputs(inner: ScanInner, items):
    """``(n_steps or None, sequences, initial buffers, non-sequences)`` of a node's inputs."""
    items = list(items)
    k = 0
    n_steps = None
    if inner.has_n_steps:
        n_steps, k = items[0], 1
    ns, nr = len(inner.seq_ph), len(inner.recurrent)
    return n_steps, items[k:k + ns], items[k + ns:k + ns + nr], items[k + ns + nr:]


def static_n_steps(inner: ScanInner, inputs):
    """The number of steps if statically known (never with ``until``), else None."""
    if inner.until:
        return None
    n_steps, seqs, _, _ = split_inputs(inner, inputs)
    if n_steps is not None:
        v = constant_value(n_steps)
        return None if v is None else int(v)
    lengths = [s.type.shape[0] for s in seqs]
    if lengths and None not in lengths:
        return min(lengths)
    return None


def _check_inputs(inner: ScanInner, inputs):
    n_steps, seqs, inits, nonseqs = split_inputs(inner, inputs)
    if n_steps is not None and (n_steps.ndim != 0 or n_steps.dtype != "int64"):
        raise TypeError(f"scan: n_steps must be an int64 scalar, got {n_steps.type}")
    for ph, s in zip(inner.seq_ph, seqs):
        if s.ndim != ph.ndim + 1 or s.dtype != ph.dtype:
            raise TypeError(f"scan: sequence {s} ({s.type}) does not fit the inner slice type {ph.type}")
    pos = 0
    for r, init in zip(inner.recurrent, inits):
        ph = inner.state_ph[pos]
        pos += len(r.taps)
        if r.untraced:
            if init.type != ph.type:
                raise TypeError(f"scan: the initial value {init} ({init.type}) of output {r.index} does not fit the "
                                f"inner state type {ph.type}")
        elif init.ndim != ph.ndim + 1 or init.dtype != ph.dtype:
            raise TypeError(f"scan: the initial buffer {init} ({init.type}) of output {r.index} does not fit "
                            f"the inner state type {ph.type} (one more leading dimension, of length {r.lag})")
    for ph, v in zip(inner.nonseq_ph, nonseqs):
        if v.ndim != ph.ndim or v.dtype != ph.dtype:
            raise TypeError(f"scan: non-sequence {v} ({v.type}) does not fit the inner placeholder type {ph.type}")


def _infer(op, inputs):
    inner: ScanInner = op.params["inner"]
    which = op.params["which"]
    if len(inputs) != inner.n_inputs:
        raise TypeError(f"scan takes {inner.n_inputs} inputs, got {len(inputs)}")
    if which not in range(inner.n_out):
        raise ValueError(f"scan: which must be in 0..{inner.n_out - 1}, got {which!r}")
    _check_inputs(inner, inputs)
    out = inner.outputs[which]
    n = static_n_steps(inner, inputs)
    rec = inner.recurrent_of(which)
    if rec is not None and rec.last_only:
        return out.type
    lead = n if rec is None or n is None else n + rec.lag
    return TensorType(out.dtype, (lead,) + tuple(out.type.shape))


def _label(inner):
    return f"scan {inner.name!r}" if inner.name else "scan"


def _n_steps(inner, n_steps, seqs) -> int:
    label = _label(inner)
    if n_steps is None:
        return min(len(s) for s in seqs)
    n = int(n_steps)
    if n < 0:
        raise ValueError(f"{label}: n_steps must be non-negative, got {n}")
    for k, s in enumerate(seqs):
        if len(s) < n:
            raise ValueError(f"{label}: sequence {k} has {len(s)} elements, fewer than n_steps={n}")
    return n


class _Loop:
    """The storage of one run: recurrent storages (initial rows first), other outputs' traces."""

    def __init__(self, inner, inits, n):
        self.inner, self.n = inner, n
        self.store = {}  # output index -> array (traced) or current value (last_only)
        for r, init in zip(inner.recurrent, inits):
            dtype = inner.outputs[r.index].dtype
            if r.untraced:
                self.store[r.index] = init
            elif r.last_only:
                self.store[r.index] = np.array(init[0], dtype=dtype)
            else:
                buf = np.empty((r.lag + n,) + init.shape[1:], dtype=dtype)
                if len(init) < r.lag:
                    raise ValueError(f"{_label(inner)}: the initial buffer of output {r.index} has {len(init)} "
                                     f"rows, its taps {list(r.taps)} need {r.lag}")
                buf[:r.lag] = init[:r.lag]
                self.store[r.index] = buf
        self.offsets = {r.index: (0 if r.last_only else r.lag) for r in inner.recurrent}
        self.last_only = {r.index for r in inner.recurrent if r.last_only}
        self.reads = [(r.index, r.last_only, [r.lag + tap for tap in r.taps]) for r in inner.recurrent]

    def states(self, t):
        out = []
        store = self.store
        for k, last_only, rows in self.reads:
            buf = store[k]
            if last_only:
                out.append(buf)
            else:
                out.extend(buf[row + t, ...] for row in rows)
        return out

    def write(self, k, t, value):
        inner = self.inner
        buf = self.store.get(k)
        if k in self.last_only:
            value = np.asarray(value, dtype=inner.outputs[k].dtype)
            if value.shape != buf.shape:
                raise ValueError(f"{_label(inner)}: output {k} has shape {value.shape} at step {t}, "
                                 f"its state has shape {buf.shape}")
            self.store[k] = value
            return
        if buf is None:
            buf = self.store[k] = np.empty((self.n,) + np.shape(value), dtype=inner.outputs[k].dtype)
        off = self.offsets.get(k, 0)
        if np.shape(value) != buf.shape[1:]:
            before = "its initial state" if t == 0 else "before"
            raise ValueError(f"{_label(inner)}: output {k} has shape {np.shape(value)} at step {t}, "
                             f"{buf.shape[1:]} {before}")
        buf[off + t] = value

    def results(self, n_run):
        out = []
        for k in range(self.inner.n_out):
            rec = self.inner.recurrent_of(k)
            buf = self.store.get(k)
            if buf is None:
                buf = _empty_output(self.inner, k)
            if rec is None or not rec.last_only:
                buf = buf[:self.offsets.get(k, 0) + n_run]
            out.append(buf)
        return out


def _empty_output(inner, k):
    var = inner.outputs[k]
    if None in var.type.shape:
        raise ValueError(f"{_label(inner)}: zero steps and output {k} has no static shape ({var.type}): "
                         f"its per-step shape is unknown")
    return np.empty((0,) + tuple(var.type.shape), dtype=var.dtype)


def run(inner: ScanInner, arrays) -> list:
    """Every output of the scan node (``which`` = position) for the input ``arrays``."""
    n_steps, seqs, inits, nonseqs = split_inputs(inner, arrays)
    n = _n_steps(inner, n_steps, seqs)
    loop = _Loop(inner, inits, n)
    fn = inner.step()
    n_out = inner.n_out
    n_run = n
    for t in range(n):
        res = fn(*[s[t, ...] for s in seqs], *loop.states(t), *nonseqs)
        for k in range(n_out):
            loop.write(k, t, res[k])
        if inner.until and bool(res[n_out]):
            n_run = t + 1
            break
    return loop.results(n_run)


def _identity(arrays) -> tuple:
    """The buffers of ``arrays`` (a backend may wrap one buffer in a new array object per call site)."""
    return tuple((a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str) if isinstance(a, np.ndarray)
                 else id(a) for a in arrays)


def _perform(*arrays, inner, which):
    """One output of the loop; with :attr:`ScanInner.used` known, the loop runs once for all: the
    first node of the group to run (always the same one: a function's schedule is fixed) computes
    every output and leaves the others' values, each taken once, by the node that reads it."""
    if inner.used is None:
        return run(inner, arrays)[which]
    memo = inner._memo
    entry = getattr(memo, "entry", None)
    if entry is not None and which in entry[2] and entry[0] == _identity(arrays):
        entry[2].discard(which)
        if not entry[2]:
            memo.entry = None
        return entry[1][which]
    results = run(inner, arrays)
    rest = set(inner.used) - {which}
    memo.entry = (_identity(arrays), results, rest) if rest else None
    return results[which]


def _format(params):
    inner = params["inner"]
    return f"scan{{{inner.name + ', ' if inner.name else ''}which={params['which']}}}"


declare("scan", "other", None, _infer, _perform, params=("inner", "which"), cost=100,
        differentiable=True, format=_format,
        doc="a loop over the steps of an inner graph (eqtensor.scan); one node per output")


def apply_scan(inner: ScanInner, inputs) -> list[Variable]:
    """The outputs of a scan node over ``inputs`` (one node per output, :mod:`eqtensor.core.ops.scan`)."""
    return [Op(OPS["scan"], {"inner": inner, "which": k})(*inputs) for k in range(inner.n_out)]


def specialize_scans(fgraph: FunctionGraph, compile_inner) -> FunctionGraph:
    """``fgraph`` with each scan's inner graph replaced by the function's own copy, compiled with
    ``compile_inner(inputs, outputs, name)`` and told which outputs the function reads (so the
    loop runs once per call for all of them). Scans inside inner graphs are handled when the
    inner graph is compiled (``compile_inner`` compiles a function)."""
    outs, changed = list(fgraph.outputs), False
    while True:  # one group at a time, in order: a scan reading another scan's outputs sees the new nodes
        nodes = [n for n in toposort(outs) if n.op.name == "scan"]
        todo = [n for n in nodes if n.op.params["inner"].used is None]
        if not todo:
            break
        first = todo[0]
        inner = first.op.params["inner"]
        key = tuple(id(i) for i in first.inputs)
        members = [n for n in todo if n.op.params["inner"] is inner and tuple(id(i) for i in n.inputs) == key]
        own = inner.copy()
        own.used = frozenset(m.op.params["which"] for m in members)
        own.compile_with(compile_inner)
        new = {w: Op(OPS["scan"], {"inner": own, "which": w})(*first.inputs) for w in own.used}
        outs, changed = clone_replace(outs, {m.out: new[m.op.params["which"]] for m in members}), True
    return fgraph.replace_outputs(outs) if changed else fgraph
