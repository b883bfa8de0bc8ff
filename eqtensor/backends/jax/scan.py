"""Lowering of ``scan`` to ``lax.scan`` (a known number of steps) or ``lax.while_loop`` (``until``).

The step is the scan's inner graph as the function's mode optimized it (the inner function the
compile layer made, :func:`~eqtensor.core.ops.scan.specialize_scans`), traced once as the loop's
body. The carry holds, per recurrent output, the window of its last ``L = -min(taps)`` values
(oldest first), or the current value of a ``last_only`` one (shared variables the step updates,
random generators threaded through the loop); the outputs whose history the function reads are
stacked by ``lax.scan`` (a recurrent one after its ``L`` initial rows, as on the other backends).
Sequences are read from their first ``n`` rows; non-sequences are closed over, so a value known
while tracing stays known inside the step (and may decide shapes there). One scan call is one
node per output: the first node traced lowers the loop for all of them.

``until`` (the number of steps depends on the values):

- when the function reads only final states (``last_only`` outputs), the loop is one
  ``lax.while_loop`` that stops after the step whose condition is true;
- otherwise the number of steps is the length of the outputs, a shape JAX must know when it
  traces: each call first runs a *probe*, the same program up to this scan with the loop as a
  while loop, returning the number of steps (:class:`~.errors.CountNeeded`); the program then
  runs with that number as a static argument, as a ``lax.scan`` of that many steps. Each new
  number of steps compiles the program again, and the part of the program before the scan runs
  twice.
"""

from __future__ import annotations

import numpy as np

from ...core.fgraph import FunctionGraph
from ...core.graph import Constant
from ...core.ops.scan import split_inputs
from ..schedule import make_schedule
from . import runtime as rt
from .casts import cast
from .errors import LoweringError


def inner_schedule(inner):
    """The schedule of the step: the inner function's (optimized with the function's mode) when the
    JAX backend compiled it, else a schedule of the inner graph as built."""
    f = inner.function
    if f is not None and f.maker.backend == "jax":
        return f.maker.schedule
    n_in, n_out = len(inner.inputs), len(inner.outputs)
    return make_schedule(FunctionGraph(list(inner.inputs), list(inner.outputs), n_in, n_out))


def _label(inner):
    return f"scan {inner.name!r}" if inner.name else "scan"


def needs_count(inner) -> bool:
    """True for an ``until`` scan of which the function reads a history (its length is a shape)."""
    used = range(inner.n_out) if inner.used is None else inner.used
    return inner.until and any(not (r is not None and r.last_only) for r in map(inner.recurrent_of, used))


def _length(inner, n_steps, seqs) -> int:
    lengths = [int(np.shape(s)[0]) for s in seqs]
    if n_steps is None:
        return min(lengths)
    n = int(n_steps)
    if n < 0:
        raise ValueError(f"{_label(inner)}: n_steps must be non-negative, got {n}")
    for k, m in enumerate(lengths):
        if m < n:
            raise ValueError(f"{_label(inner)}: sequence {k} has {m} elements, fewer than n_steps={n}")
    return n


def _as(value, var):
    """``value`` as a JAX array of ``var``'s dtype (a generator's key data as it is)."""
    return value if var.dtype == "object" else rt.jnp.asarray(cast(value, var.dtype))


def _initial_carry(inner, inits):
    carry = []
    for r, init in zip(inner.recurrent, inits):
        var = inner.outputs[r.index]
        if r.untraced:
            carry.append(init)
        elif r.last_only:
            carry.append(_as(init[0], var))
        else:
            if np.shape(init)[0] < r.lag:
                raise ValueError(f"{_label(inner)}: the initial buffer of output {r.index} has {np.shape(init)[0]} "
                                 f"rows, its taps {list(r.taps)} need {r.lag}")
            carry.append(_as(init[:r.lag], var))
    return tuple(carry)


class _Step:
    """The traced step: ``(carry, slices) -> (new carry, outputs, stop condition or None)``."""

    def __init__(self, inner, nonseqs, trace, run):
        self.inner, self.nonseqs, self.trace, self.run = inner, list(nonseqs), trace, run
        self.schedule = inner_schedule(inner)

    def _states(self, carry):
        out = []
        for r, c in zip(self.inner.recurrent, carry):
            out.extend([c] if r.last_only else [c[r.lag + tap] for tap in r.taps])
        return out

    def __call__(self, carry, slices):
        inner, sched = self.inner, self.schedule
        values = list(slices) + self._states(carry) + self.nonseqs
        env = self.run(sched, {id(v): a for v, a in zip(sched.inputs, values)}, self.trace.inside())
        outs = [o.data if isinstance(o, Constant) and id(o) not in env else env[id(o)] for o in sched.outputs]
        outs = [_as(o, var) for o, var in zip(outs, inner.outputs)]
        new = []
        for r, c in zip(inner.recurrent, carry):
            out = outs[r.index]
            want = tuple(np.shape(c)) if r.last_only else tuple(np.shape(c))[1:]
            if tuple(out.shape) != want:
                raise ValueError(f"{_label(inner)}: output {r.index} has shape {tuple(out.shape)} at each step, its "
                                 f"state has shape {want}: a recurrent output must keep its shape")
            new.append(out if r.last_only else rt.jnp.concatenate([c[1:], out[None]], axis=0))
        return tuple(new), outs, (outs[inner.n_out] if inner.until else None)


def _scan(step, carry, seqs, n, stacked):
    def body(carry, slices):
        new, outs, _ = step(carry, slices)
        return new, tuple(outs[k] for k in stacked)

    return rt.lax.scan(body, carry, tuple(s[:n] for s in seqs), length=n)


def _while(step, carry, seqs, n):
    """``(final carry, steps run)`` of the loop stopping after the first step whose condition holds."""
    jnp, lax = rt.jnp, rt.lax
    if n == 0:
        return carry, jnp.asarray(0)
    seqs = [jnp.asarray(s) for s in seqs]

    def cond(state):
        t, stop, _ = state
        return (t < n) & ~stop

    def body(state):
        t, _, carry = state
        new, _, stop = step(carry, [lax.dynamic_index_in_dim(s, t, keepdims=False) for s in seqs])
        return t + 1, jnp.asarray(stop, bool).reshape(()), new

    t, _, final = lax.while_loop(cond, body, (jnp.asarray(0), jnp.asarray(False), carry))
    return final, t


def _loop(node, values, trace, run) -> list:
    """Every output of the scan (``None`` for those the function does not read)."""
    inner = node.op.params["inner"]
    n_steps, seqs, inits, nonseqs = split_inputs(inner, values)
    n = _length(inner, n_steps, seqs)
    step = _Step(inner, nonseqs, trace, run)
    carry = _initial_carry(inner, inits)
    used = range(inner.n_out) if inner.used is None else sorted(inner.used)
    if inner.until and not needs_count(inner):
        final, _ = _while(step, carry, seqs, n)
        stacked, ys = (), ()
    else:
        if inner.until:
            n = _counted(inner, step, carry, seqs, n, trace)
        stacked = [k for k in used if not (inner.recurrent_of(k) and inner.recurrent_of(k).last_only)]
        final, ys = _scan(step, carry, seqs, n, stacked)
    results = [None] * inner.n_out
    for r, c, c0 in zip(inner.recurrent, final, carry):
        results[r.index] = c if r.last_only else c0
    for k, y in zip(stacked, ys):
        r = inner.recurrent_of(k)
        results[k] = y if r is None else rt.jnp.concatenate([results[k], y], axis=0)
    return results


def _counted(inner, step, carry, seqs, n, trace) -> int:
    """The number of steps of an ``until`` scan whose history is read: known from an earlier probe,
    or found now (:class:`~.errors.CountNeeded` ends this trace, a probe)."""
    if trace.nested:
        raise LoweringError(f"{_label(inner)} with until inside an ifelse branch or another scan's step: the "
                            f"number of steps it runs is the length of its outputs, which JAX must know when "
                            f"tracing; read only its final states there, or use another backend")
    return trace.count(lambda: _while(step, carry, seqs, n)[1], f"the number of steps of {_label(inner)}")


def lower_scan(node, values, env, trace, run):
    """The value of the scan ``node``: the loop is lowered once for the nodes of one scan call (same
    inner graph and inputs) and remembered in ``env``."""
    inner = node.op.params["inner"]
    key = ("scan", id(inner), tuple(id(i) for i in node.inputs))
    results = env.get(key)
    if results is None:
        results = env[key] = _loop(node, values, trace, run)
    return results[node.op.params["which"]]
