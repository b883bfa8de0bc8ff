"""The VJP of ``scan``: a reverse scan over the stored states (backpropagation through time).

For the node selecting output ``k`` with cotangent ``g``, the rule builds a second scan that runs
the steps backwards (only the last ``truncate_gradient`` of them when it is set). Its sequences are
the forward sequences' slices, the stored values of every tap of every recurrent output (read
from the forward storages, initial rows included: nothing is recomputed) and ``g``'s rows; its
step differentiates the forward step (by the reverse pass that called the rule, which hands
itself over: an ``inner_graph`` rule) seeded with ``g``'s row and the pending cotangent of each
recurrent output. Its states are, per recurrent output, the
cotangents pending for its last ``L`` values (``L = -min(taps)``: later steps' taps add to them;
the oldest is complete when the step that produced it is reached), and per non-sequence the
accumulated cotangent. After the loop, the pending cotangents are those of the initial buffer,
the accumulators those of the non-sequences, and the per-step cotangents of the slices, reversed,
those of the sequences.

The reverse step is an ordinary graph: the backward scan is optimized, compiled and
differentiable again (second derivatives) like any scan.
"""

from __future__ import annotations

import numpy as np

from ..core.dtypes import FLOAT_DTYPES
from ..core.graph import TensorType, Variable
from ..core.op import constant_value
from ..core.ops.creation import zeros_like
from ..core.ops.elemwise import eq, minimum, switch
from ..core.ops.join import stack
from ..core.ops.scan import Recurrent, ScanInner, apply_scan, split_inputs
from ..core.ops.shape import expand_dims, shape_i
from ..core.ops.subtensor import set_subtensor
from ..core.replace import clone_replace
from ..core.traversal import ancestors
from .vjp import NullGrad, collector

VJPS: list = []
_vjp = collector(VJPS)


def _float(v) -> bool:
    return v.dtype in FLOAT_DTYPES


def _grads(backprop, seeds, wrt):
    """(cotangents of ``wrt`` by the reverse pass ``backprop``, zeros where unreached; {position: NullGrad})."""
    res = backprop(seeds, wrt) if seeds else ["unreached"] * len(wrt)
    out, nulls = [], {}
    for pos, (w, r) in enumerate(zip(wrt, res)):
        if isinstance(r, NullGrad):
            nulls[pos] = r
        out.append(r if isinstance(r, Variable) else zeros_like(w))
    return out, nulls


def _pending_type(out, rec):
    """The type of the pending cotangents of a recurrent output: one step's (``lag`` 1) or ``lag`` of them."""
    return out.type if rec.lag == 1 else TensorType(out.dtype, (rec.lag,) + out.type.shape)


def _pending_update(pending, dtaps, rec):
    """The pending cotangents after a step: shifted by one row, plus the step's tap cotangents."""
    lag = rec.lag
    if lag == 1:  # one tap, -1: the step's cotangent of its state is the pending one
        return dtaps[0]
    rows = []
    for i in range(lag):
        terms = ([pending[i - 1]] if i >= 1 else []) + [d for tap, d in zip(rec.taps, dtaps) if tap == i - lag]
        rows.append(sum(terms[1:], terms[0]) if terms else zeros_like(pending[0]))
    return stack(rows)


class _Backward:
    """The reverse step of ``inner`` (the gradient's forward: :meth:`ScanInner.traced`) for the
    cotangent rows of output ``k`` (its VJP by ``backprop``, the reverse pass that called the rule).
    A generator threaded through the loop (an ``untraced`` state) is not read: the draws made
    from it are outputs of ``inner``, read back as sequences like the other reused outputs."""

    def __init__(self, inner: ScanInner, k: int, backprop):
        out = inner.outputs
        self.recs = [r for r in inner.recurrent if _float(out[r.index])]
        self.seqs = [p for p in inner.seq_ph if _float(p)]
        self.nonseq = [p for p in inner.nonseq_ph if _float(p)]
        states = _states(inner)
        self.states = [p for r in inner.recurrent if not r.untraced for p in states[r.index]]
        g_ph = Variable(out[k].type, name="g[t]")
        pend_ph = [Variable(_pending_type(out[r.index], r), name=f"pending[{r.index}]") for r in self.recs]
        acc_ph = [Variable(p.type, name=f"acc[{p.name}]") for p in self.nonseq]
        seeds = [(out[k], g_ph)] + [(out[r.index], p if r.lag == 1 else p[r.lag - 1])
                                    for r, p in zip(self.recs, pend_ph)]
        grads, self.nulls = _grads(backprop, seeds, self.seqs + self.states + self.nonseq)
        ns, nst = len(self.seqs), len(self.states)
        dstate = dict(zip((id(p) for p in self.states), grads[ns:ns + nst]))
        outputs = (grads[:ns] + [_pending_update(p, [dstate[id(s)] for s in states[r.index]], r)
                                 for r, p in zip(self.recs, pend_ph)]
                   + [a + d for a, d in zip(acc_ph, grads[ns + nst:])])
        outputs, y_ph = _reuse_outputs(inner, outputs)
        recurrent = [Recurrent(ns + j, (-1,), last_only=True) for j in range(len(pend_ph) + len(acc_ph))]
        self.inner = ScanInner(list(inner.seq_ph) + self.states + [g_ph] + [p for _, p in y_ph], pend_ph + acc_ph,
                               inner.nonseq_ph, outputs, recurrent, has_n_steps=True,
                               name=f"grad of {inner.name}" if inner.name else None)
        self.wrt_kinds = (ns, nst)
        self.reused = [j for j, _ in y_ph]  # forward outputs read as sequences


def _states(inner):
    """{recurrent output: its state placeholders, one per tap}."""
    states, pos = {}, 0
    for r in inner.recurrent:
        states[r.index] = inner.state_ph[pos:pos + len(r.taps)]
        pos += len(r.taps)
    return states


def _reuse_outputs(inner, outputs):
    """The reverse step reading the forward step's outputs (stored by the forward loop) instead of
    recomputing them: rules like tanh's reuse their output, and the draws from a threaded generator
    are never drawn again."""
    used = {id(v) for v in ancestors(outputs)}
    untraced = {r.index for r in inner.recurrent if r.untraced}
    y_ph = [(j, Variable(o.type, name=f"y{j}[t]")) for j, o in enumerate(inner.outputs[:inner.n_out])
            if id(o) in used and o.owner is not None and j not in untraced]
    if not y_ph:
        return outputs, []
    return clone_replace(outputs, {inner.outputs[j]: p for j, p in y_ph}), y_ph


def _trace_cotangent(inner, k, g, trace):
    """The cotangent of output ``k``'s trace (initial rows first for a recurrent output)."""
    rec = inner.recurrent_of(k)
    if rec is not None and rec.last_only:
        return set_subtensor(zeros_like(trace)[-1], g)
    return g


def _zeros(v) -> bool:
    """``v`` is an ``alloc`` of the constant 0 (``zeros_like``)."""
    if v.owner is None or v.owner.op.name != "alloc":
        return False
    fill = constant_value(v.owner.inputs[0])
    return fill is not None and np.ndim(fill) == 0 and fill == 0


def _trace_rows(g, lag):
    """``(rows lag: of the trace cotangent g, whether its rows :lag are known zero)``. The cotangent
    of the usual ``storage[lag:]`` (what ``scan`` returns) is ``inc_subtensor(zeros[lag:], v)``:
    its rows are ``v`` itself, read without building the zero-filled storage-sized array (``v``
    has their shape: a dimension with no static length does not broadcast at run time)."""
    node = g.owner
    if lag == 0:
        return g, False
    if node is None or node.op.name not in ("inc_subtensor", "set_subtensor") or len(node.inputs) != 2:
        return g[lag:], False
    base, v = node.inputs
    entries = node.op.params["idx_list"]
    rows = g.type.shape[0] - lag if g.type.shape[0] is not None else None
    whole = [("slice", None, None, None)] * (g.ndim - 1)
    fits = v.ndim == g.ndim and all(b != 1 or a == 1 for a, b in zip((rows,) + g.type.shape[1:], v.type.shape))
    if _zeros(base) and fits and tuple(entries) == (("slice", lag, None, None), *whole):
        return v, True
    return g[lag:], False


@_vjp("scan", "backpropagation through time: a reverse scan over the stored states and the step's VJP",
      inner_graph=True)
def _scan(op, inputs, out, g, backprop):
    inner: ScanInner = op.params["inner"]
    k = op.params["which"]
    fwd = inner.traced()
    traces = apply_scan(fwd, inputs)  # siblings of the differentiated node: the e-graph merges them
    if fwd is inner:
        traces[k] = out
    lag_k = fwd.recurrent_of(k).lag if fwd.recurrent_of(k) else 0
    gk = _trace_cotangent(inner, k, g, traces[k])
    n = shape_i(traces[k], 0) - lag_k
    n_b = n if inner.truncate_gradient < 0 else minimum(n, inner.truncate_gradient)
    start = n - n_b
    back = _Backward(fwd, k, backprop)
    _, seqs, _, nonseqs = split_inputs(inner, inputs)
    b_seqs = [s[start:n][::-1] for s in seqs]
    for r in fwd.recurrent:
        if not r.untraced:
            b_seqs += [traces[r.index][r.lag + tap + start:r.lag + tap + n][::-1] for tap in r.taps]
    rows_k, zero_init = _trace_rows(gk, lag_k)
    b_seqs.append(rows_k[start:n][::-1])
    for j in back.reused:
        lag = fwd.recurrent_of(j).lag if fwd.recurrent_of(j) else 0
        b_seqs.append(traces[j][lag + start:lag + n][::-1])
    b_inits = [zeros_like(traces[r.index][:1]) if r.lag == 1 else expand_dims(zeros_like(traces[r.index][:r.lag]), 0)
               for r in back.recs]
    b_inits += [expand_dims(zeros_like(v), 0) for v, p in zip(nonseqs, inner.nonseq_ph) if _float(p)]
    res = apply_scan(back.inner, [n_b] + b_seqs + b_inits + list(nonseqs))
    return _assemble(inner, inputs, back, res, start, n, None if zero_init or not lag_k else gk[:lag_k], k)


def _assemble(inner, inputs, back, res, start, n, g_init, k):
    """One cotangent per node input from the backward scan's outputs."""
    _, seqs, inits, nonseqs = split_inputs(inner, inputs)
    ns = len(back.seqs)
    dseqs = iter(res[:ns])
    pend = dict(zip((r.index for r in back.recs), res[ns:ns + len(back.recs)]))
    accs = iter(res[ns + len(back.recs):])
    whole = inner.truncate_gradient < 0 and not inner.has_n_steps and not inner.until and len(seqs) == 1
    out = [None] if inner.has_n_steps else []
    for s, p in zip(seqs, inner.seq_ph):
        if _float(p):
            d = next(dseqs)[::-1]
            out.append(d if whole else set_subtensor(zeros_like(s)[start:n], d))
        else:
            out.append(None)
    for r in inner.recurrent:
        d = pend.get(r.index)
        if d is not None:
            if r.lag == 1:
                d = expand_dims(d, 0)
            if inner.truncate_gradient >= 0:
                d = switch(eq(start, 0), d, zeros_like(d))
            if r.index == k and g_init is not None:
                d = d + g_init
        out.append(d)
    out += [next(accs) if _float(p) else None for p in inner.nonseq_ph]
    _undefined(inner, back, out, len(out) - len(inner.nonseq_ph) - len(inner.recurrent) - len(seqs))
    return out


def _undefined(inner, back, out, first_seq):
    """Undefined inner gradients (``undefined_grad`` in the step) make the outer ones undefined."""
    if not back.nulls:
        return
    ns, nst = back.wrt_kinds
    float_seq = [pos for pos, p in enumerate(inner.seq_ph) if _float(p)]
    float_non = [pos for pos, p in enumerate(inner.nonseq_ph) if _float(p)]
    first_rec = first_seq + len(inner.seq_ph)
    first_non = first_rec + len(inner.recurrent)
    for pos, null in back.nulls.items():
        if pos < ns:
            out[first_seq + float_seq[pos]] = null
        elif pos >= ns + nst:
            out[first_non + float_non[pos - ns - nst]] = null
        else:
            out[first_rec:first_non] = [null] * len(inner.recurrent)
