"""The ``scan`` op: a loop over the steps of an inner graph (forward only).

The user-facing builder is :func:`eqtensor.scan.scan`. One scan call builds one node per inner
output: ``scan{inner, which}(*inputs)`` where ``inner`` (:class:`ScanInner`) holds the inner graph
(placeholders and outputs) and compiles it lazily, and ``which`` selects the returned output.
Several outputs of one scan therefore run the loop once each (a known cost: the loop is
recomputed per output node).

Node inputs, in order: ``[n_steps]`` (an int64 scalar, only when given explicitly), the
sequences, the initial values of the recurrent outputs, then the non-sequences (the explicit ones
followed by the free variables the inner graph uses from outside).

The gradient of scan is not implemented yet (its VJP rule raises ``NotImplementedError``).
"""

from __future__ import annotations

import threading

import numpy as np

from ..evaluate import evaluate
from ..op import constant_value, declare
from ..graph import TensorType


class ScanInner:
    """The inner graph of a scan: hashable by identity, immutable after construction.

    ``seq_ph``: one placeholder per sequence (a slice); ``rec_ph``: one per recurrent output (its
    previous value); ``nonseq_ph``: one per non-sequence (explicit and free); ``outputs``: the inner
    outputs; ``rec_index``: for each recurrent placeholder, the inner output feeding it back;
    ``has_n_steps``: the node's first input is ``n_steps``.
    """

    __slots__ = ("seq_ph", "rec_ph", "nonseq_ph", "outputs", "rec_index", "has_n_steps", "go_backwards",
                 "name", "_fn", "_lock")

    def __init__(self, seq_ph, rec_ph, nonseq_ph, outputs, rec_index, has_n_steps, go_backwards, name=None):
        self.seq_ph = tuple(seq_ph)
        self.rec_ph = tuple(rec_ph)
        self.nonseq_ph = tuple(nonseq_ph)
        self.outputs = tuple(outputs)
        self.rec_index = tuple(rec_index)
        self.has_n_steps = bool(has_n_steps)
        self.go_backwards = bool(go_backwards)
        self.name = name
        self._fn = None
        self._lock = threading.Lock()

    @property
    def n_inputs(self) -> int:
        return int(self.has_n_steps) + len(self.seq_ph) + len(self.rec_ph) + len(self.nonseq_ph)

    @property
    def inputs(self) -> tuple:
        """The inner placeholders in call order: sequences, recurrent states, non-sequences."""
        return self.seq_ph + self.rec_ph + self.nonseq_ph

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
        """Compile the inner graph once with ``compile(inputs, outputs, name)`` (the compile layer
        does this when it compiles a function containing the scan)."""
        with self._lock:
            if self._fn is None:
                self._fn = compile(list(self.inputs), list(self.outputs),
                                   f"scan {self.name!r} inner" if self.name else "scan inner")

    def __repr__(self):
        return f"<scan inner {self.name or hex(id(self))}>"


def _split(inner: ScanInner, items):
    items = list(items)
    k = 0
    n_steps = None
    if inner.has_n_steps:
        n_steps, k = items[0], 1
    ns, nr = len(inner.seq_ph), len(inner.rec_ph)
    return n_steps, items[k:k + ns], items[k + ns:k + ns + nr], items[k + ns + nr:]


def static_n_steps(inner: ScanInner, inputs):
    """The number of steps if statically known, else None."""
    n_steps, seqs, _, _ = _split(inner, inputs)
    if n_steps is not None:
        v = constant_value(n_steps)
        return None if v is None else int(v)
    lengths = [s.type.shape[0] for s in seqs]
    if lengths and None not in lengths:
        return min(lengths)
    return None


def _infer(op, inputs):
    inner: ScanInner = op.params["inner"]
    which = op.params["which"]
    if len(inputs) != inner.n_inputs:
        raise TypeError(f"scan takes {inner.n_inputs} inputs, got {len(inputs)}")
    n_steps, seqs, inits, nonseqs = _split(inner, inputs)
    if n_steps is not None and (n_steps.ndim != 0 or n_steps.dtype != "int64"):
        raise TypeError(f"scan: n_steps must be an int64 scalar, got {n_steps.type}")
    for ph, s in zip(inner.seq_ph, seqs):
        if s.ndim != ph.ndim + 1 or s.dtype != ph.dtype:
            raise TypeError(f"scan: sequence {s} ({s.type}) does not fit the inner slice type {ph.type}")
    for ph, v in zip(inner.rec_ph + inner.nonseq_ph, inits + nonseqs):
        if v.ndim != ph.ndim or v.dtype != ph.dtype:
            raise TypeError(f"scan: input {v} ({v.type}) does not fit the inner placeholder type {ph.type}")
    out = inner.outputs[which]
    return TensorType(out.dtype, (static_n_steps(inner, inputs),) + tuple(out.type.shape))


def _perform(*arrays, inner, which):
    n_steps, seqs, inits, nonseqs = _split(inner, arrays)
    label = f"scan {inner.name!r}" if inner.name else "scan"
    if inner.go_backwards:
        seqs = [s[::-1] for s in seqs]
    if n_steps is None:
        n = min(len(s) for s in seqs)
    else:
        n = int(n_steps)
        if n < 0:
            raise ValueError(f"{label}: n_steps must be non-negative, got {n}")
        for k, s in enumerate(seqs):
            if len(s) < n:
                raise ValueError(f"{label}: sequence {k} has {len(s)} elements, fewer than n_steps={n}")
    out_var = inner.outputs[which]
    if n == 0:
        if which in inner.rec_index:
            shape = np.shape(inits[inner.rec_index.index(which)])
        elif None in out_var.type.shape:
            raise ValueError(f"{label}: zero steps and output {which} has no static shape "
                             f"({out_var.type}): its per-step shape is unknown")
        else:
            shape = out_var.type.shape
        return np.empty((0,) + tuple(shape), dtype=out_var.dtype)
    fn = inner.step()
    states = list(inits)
    result = None
    for t in range(n):
        res = fn(*[s[t] for s in seqs], *states, *nonseqs)
        step = res[which]
        if result is None:
            result = np.empty((n,) + np.shape(step), dtype=out_var.dtype)
        elif np.shape(step) != result.shape[1:]:
            raise ValueError(f"{label}: output {which} has shape {np.shape(step)} at step {t}, "
                             f"{result.shape[1:]} before")
        result[t] = step
        states = [res[i] for i in inner.rec_index]
    return result


def _format(params):
    inner = params["inner"]
    return f"scan{{{inner.name + ', ' if inner.name else ''}which={params['which']}}}"


declare("scan", "other", None, _infer, _perform, params=("inner", "which"), cost=100,
        differentiable=True, format=_format,
        doc="a loop over the steps of an inner graph (eqtensor.scan); one node per inner output")
