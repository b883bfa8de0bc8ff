"""``scan``: loops in the graph (PyTensor's ``pytensor.scan.basic.scan``).

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.scan import scan
>>> x = pt.dvector("x")
>>> acc, updates = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info=np.float64(0.0))
>>> updates
{}
>>> function([x], acc)(np.array([1.0, 2.0, 3.0]))
array([1., 3., 6.])

Everything of PyTensor's interface: sequences with taps (``dict(input=x, taps=[-1, 0, 2])``),
``outputs_info`` entries that are ``None`` (an output not fed back), an initial value (tap ``-1``)
or ``dict(initial=v, taps=[-2, -1])`` (any negative taps: ``v`` holds the ``-min(taps)`` values
before the first step, oldest first), non-sequences (and free variables of ``fn``: outer inputs,
shared variables), ``n_steps`` (int or symbolic), ``go_backwards``, ``truncate_gradient``,
``strict``, updates of shared variables returned by ``fn``, ``until`` conditions, and
``return_updates`` (``True``, the default: ``(outputs, updates)``; ``False``: the outputs alone).
The graph of one step goes through the same optimizer as the rest of the function; the gradient
runs a reverse scan over the stored states (:mod:`eqtensor.rules.vjp_scan`).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..core.errors import MissingInputError
from ..core.graph import Constant, SharedVariable, TensorType, Variable
from ..core.op import as_tensor_variable
from ..core.ops.elemwise import cast
from ..core.ops.random import is_generator
from ..core.ops.scan import Recurrent, ScanInner, apply_scan
from ..core.ops.shape import expand_dims
from ..core.replace import clone_replace
from ..core.traversal import graph_inputs
from .utils import until

__all__ = ["scan"]


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _taps(taps, what):
    taps = _as_list(taps)
    if not taps or not all(isinstance(t, (numbers.Integral, np.integer)) and not isinstance(t, bool) for t in taps):
        raise ValueError(f"scan: {what}: taps must be a non-empty list of ints, got {taps!r}")
    if len(set(taps)) != len(taps):
        raise ValueError(f"scan: {what}: taps must be different, got {taps!r}")
    return [int(t) for t in taps]


def _sequences(sequences, go_backwards):
    """(outer sliced sequences, inner placeholders), one pair per (sequence, tap), in fn's order."""
    outer, inner = [], []
    for k, s in enumerate(_as_list(sequences)):
        taps = [0]
        if isinstance(s, dict):
            if "input" not in s:
                raise ValueError(f"scan: sequences[{k}] is a dict without 'input'")
            if s.get("taps") is not None:
                taps = _taps(s["taps"], f"sequences[{k}]")
            s = s["input"]
        s = as_tensor_variable(s)
        if s.ndim == 0:
            raise ValueError(f"scan: sequence {k} ({s}) is a scalar ({s.type}); sequences are iterated over "
                             f"their first dimension")
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        for tap in taps:
            start, end = tap - lo, (tap - hi) or None
            piece = s[start:end] if (start or end is not None) else s
            if go_backwards:
                piece = piece[::-1]
            outer.append(piece)
            suffix = "[t]" if tap == 0 else f"[t{tap:+d}]"
            inner.append(Variable(TensorType(s.dtype, s.type.shape[1:]), name=s.name and s.name + suffix))
    return outer, inner


def _initial_value(o):
    if isinstance(o, numbers.Number) and not isinstance(o, bool):
        return as_tensor_variable(np.asarray(o))  # a strong constant: the state's dtype is the value's
    return as_tensor_variable(o)


def _outputs_info(outputs_info):
    """One ``(initial variable, taps)`` per entry (``(None, None)``: not fed back)."""
    infos = []
    for k, o in enumerate(_as_list(outputs_info)):
        taps = [-1]
        if isinstance(o, dict):
            unknown = set(o) - {"initial", "taps", "inplace"}
            if unknown:
                raise ValueError(f"scan: unexpected keys in outputs_info[{k}]: {sorted(unknown)}")
            if o.get("initial") is None:
                if o.get("taps"):
                    raise ValueError(f"scan: outputs_info[{k}] has taps {o['taps']} but no initial value")
                infos.append((None, None))
                continue
            if o.get("taps") is not None:
                taps = _taps(o["taps"], f"outputs_info[{k}]")
                if max(taps) >= 0:
                    raise ValueError(f"scan: outputs_info[{k}]: the taps of an output must be negative, got {taps}")
            o = o["initial"]
        if o is None:
            infos.append((None, None))
            continue
        init = _initial_value(o)
        if is_generator(init) and taps != [-1]:
            raise ValueError(f"scan: outputs_info[{k}]: a random generator is fed back at tap -1 only (its past "
                             f"values are not kept), got taps {taps}")
        if taps != [-1] and init.ndim == 0:
            raise ValueError(f"scan: outputs_info[{k}]: taps {taps} need an initial value with a leading "
                             f"dimension of length {-min(taps)} (the values before the first step), got a scalar")
        infos.append((init, taps))
    return infos


def _state_placeholders(infos):
    """Placeholders given to fn for the past values of each recurrent output, in fn's order."""
    phs = []
    for init, taps in infos:
        if init is None:
            continue
        step_type = init.type if taps == [-1] else TensorType(init.dtype, init.type.shape[1:])
        for tap in taps:
            phs.append(step_type(init.name and f"{init.name}[t{tap:+d}]"))  # a generator's: a generator variable
    return phs


def _parse_result(res, label):
    """fn's return value -> (outputs, updates as pairs, condition or None)."""
    def is_updates(x):
        if isinstance(x, dict):
            return True
        return isinstance(x, (list, tuple)) and len(x) > 0 and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], SharedVariable) for p in x)

    if res is None:
        return [], [], None
    if isinstance(res, until):
        return [], [], res.condition
    if is_updates(res):
        return [], list(res.items()) if isinstance(res, dict) else list(res), None
    if not isinstance(res, (list, tuple)):
        return [res], [], None
    items = list(res)
    cond = None
    if items and isinstance(items[-1], until):
        cond = items.pop().condition
    updates = []
    if items and is_updates(items[-1]) and not (len(items) == 1 and cond is None):
        u = items.pop()
        updates = list(u.items()) if isinstance(u, dict) else list(u)
    if len(items) == 1 and isinstance(items[0], (list, tuple)) and (updates or cond is not None):
        items = list(items[0])
    if any(isinstance(i, (until, dict)) for i in items):
        raise ValueError(f"{label}: cannot parse fn's return value {res!r}: return the outputs, then the updates, "
                         f"then until(condition)")
    return items, updates, cond


def _n_steps_input(n_steps):
    if n_steps is None:
        return None
    if isinstance(n_steps, (numbers.Integral, np.integer)) and not isinstance(n_steps, bool):
        if n_steps < 0:
            raise ValueError(f"scan: n_steps must be non-negative, got {n_steps}")
        return Constant(np.int64(n_steps))
    n = as_tensor_variable(n_steps)
    if n.ndim != 0 or not n.dtype.startswith(("int", "uint")):
        raise ValueError(f"scan: n_steps must be an integer scalar, got {n} ({n.type})")
    return n if n.dtype == "int64" else cast(n, "int64")


def _check_recurrent(label, k, out, init):
    if out.dtype != init.dtype or out.ndim != init.ndim:
        raise TypeError(
            f"{label}: the recurrent output {k} ({out}) has type {out.type}, but its initial value "
            f"({init}) has type {init.type}; the output of each step must keep the dtype and number of "
            f"dimensions of the initial value (cast the initial value or the step's output)")


def _update_states(updates, label):
    """(shared variables, their new values, placeholders) of the updates fn returned."""
    targets, values, phs = [], [], []
    for s, u in updates:
        if not isinstance(s, SharedVariable):
            raise TypeError(f"{label}: fn returned an update of {s}, which is not a shared variable")
        u = as_tensor_variable(u)
        if u.dtype != s.dtype:
            u = cast(u, s.dtype)
        if u.ndim != s.ndim:
            raise TypeError(f"{label}: the update of {s} ({s.type}) has type {u.type}")
        targets.append(s)
        values.append(u)
        phs.append(s.type(s.name and f"{s.name}[t-1]"))
    return targets, values, phs


def _serial(v) -> int:
    """The creation number of a variable (``auto_name`` is ``v<n>``, numbered in creation order)."""
    return int(v.auto_name[1:])


def _local_default_updates(values, updates, marker):
    """``updates`` plus ``(s, s.default_update)`` for each shared variable of the step's graph
    created while ``fn`` ran (after ``marker``) that has a default update and no update from
    ``fn``: the generators of a ``RandomStream`` drawn inside ``fn`` then advance at every step
    (PyTensor's rule). The default update is taken off the variable: it is an expression of the
    step, the scan's update replaces it."""
    done = {id(t) for t, _ in updates}
    found = []
    for v in graph_inputs([v for v in values if isinstance(v, Variable)]):
        if isinstance(v, SharedVariable) and v.default_update is not None and id(v) not in done \
                and _serial(v) > _serial(marker):
            found.append((v, v.default_update))
            v.default_update = None
            done.add(id(v))
    return list(updates) + found


def _nonsequences(non_sequences, inner_outs, own, strict, label):
    """(outer non-sequences, their placeholders, the inner outputs rewritten over the placeholders).

    The explicit non-sequences come first, then the free variables of the inner graph (outer
    inputs, shared variables); constants stay in the inner graph."""
    given = [as_tensor_variable(v) for v in _as_list(non_sequences)]
    outer = [v for v in given if not isinstance(v, Constant) and id(v) not in own]
    phs = [Variable(v.type, name=v.name) for v in outer]
    inner_outs = clone_replace(inner_outs, dict(zip(outer, phs))) if outer else inner_outs
    known = own | {id(p) for p in phs}
    free = [v for v in graph_inputs(inner_outs) if id(v) not in known and not isinstance(v, Constant)]
    if strict:
        missing = [v for v in free if isinstance(v, SharedVariable)]
        if missing:
            raise MissingInputError(f"{label}: strict=True and fn uses the shared variable(s) "
                                    f"{', '.join(map(str, missing))} not given in non_sequences")
    free_phs = [Variable(v.type, name=v.name) for v in free]
    if free:
        inner_outs = clone_replace(inner_outs, dict(zip(free, free_phs)))
    return outer + free, phs + free_phs, inner_outs


def _build(fn, sequences, outputs_info, non_sequences, n_steps, go_backwards, truncate_gradient, strict,
           label, name):
    """(user outputs, updates dict) of one scan."""
    seqs, seq_ph = _sequences(sequences, go_backwards)
    infos = _outputs_info(outputs_info)
    n_var = _n_steps_input(n_steps)
    if n_var is None and not seqs:
        raise ValueError(f"{label}: the number of steps is unknown: pass sequences or n_steps")
    state_ph = _state_placeholders(infos)
    given = [v if isinstance(v, Variable) else as_tensor_variable(v) for v in _as_list(non_sequences)]
    marker = Variable(TensorType("bool", ()), name="scan: variables made by fn come after this one")
    outs, updates, cond = _parse_result(fn(*seq_ph, *state_ph, *given), label)
    updates = _local_default_updates(outs + [u for _, u in updates] + [cond], updates, marker)
    try:
        outs = [as_tensor_variable(o) for o in outs]
    except TypeError as e:
        raise TypeError(f"{label}: fn must return tensor expressions: {e}") from None
    if not infos:
        infos = [(None, None)] * len(outs)
    if len(infos) != len(outs):
        raise ValueError(f"{label}: fn returned {len(outs)} output(s) but outputs_info has {len(infos)} entries "
                         f"(give None for an output that is not fed back)")
    recurrent, inits = [], []
    for k, ((init, taps), out) in enumerate(zip(infos, outs)):
        if init is None:
            continue
        step_init = init if taps == [-1] else init[0]
        _check_recurrent(label, k, out, step_init)
        if is_generator(init):  # not stacked: only its last value is returned (PyTensor's untraced sit-sot)
            recurrent.append(Recurrent(k, (-1,), last_only=True, untraced=True))
            inits.append(init)
            continue
        recurrent.append(Recurrent(k, tuple(taps)))
        inits.append(expand_dims(init, 0) if taps == [-1] else init[:-min(taps)])
    targets, new_values, upd_ph = _update_states(updates, label)
    for j, s in enumerate(targets):
        untraced = is_generator(s)
        recurrent.append(Recurrent(len(outs) + j, (-1,), last_only=True, untraced=untraced))
        inits.append(s if untraced else expand_dims(s, 0))
    inner_outs = outs + new_values + ([cond] if cond is not None else [])
    if targets:
        inner_outs = clone_replace(inner_outs, dict(zip(targets, upd_ph)))
    own = {id(v) for v in seq_ph + state_ph + upd_ph}
    target_ids = {id(s) for s in targets}
    nonseqs, nonseq_ph, inner_outs = _nonsequences([v for v in given if id(v) not in target_ids], inner_outs, own,
                                                   strict, label)
    inner = ScanInner(seq_ph, state_ph + upd_ph, nonseq_ph, inner_outs, recurrent, until=cond is not None,
                      has_n_steps=n_var is not None, truncate_gradient=truncate_gradient, name=name)
    nodes = apply_scan(inner, ([n_var] if n_var is not None else []) + seqs + inits + nonseqs)
    results = []
    for k in range(len(outs)):
        rec = inner.recurrent_of(k)
        r = nodes[k] if rec is None or rec.last_only else nodes[k][rec.lag:]
        if name:
            r.name = name if len(outs) == 1 else f"{name}[{k}]"
        results.append(r)
    return results, dict(zip(targets, nodes[len(outs):]))


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, mode=None, name=None, profile=False, allow_gc=None, strict=False,
         return_list=False, return_updates=True):
    """Apply ``fn`` step by step (PyTensor's ``scan``).

    ``fn`` is called once, symbolically, with the slices of the sequences (one per tap, in order),
    then the past values of the recurrent outputs (one per tap), then the ``non_sequences`` (the
    variables given, as given). It returns the step's outputs (one variable or a list, in the order
    of ``outputs_info``), optionally followed by a dict (or list of pairs) of shared-variable
    updates and by ``until(condition)``. An output fed back at taps ``[-1]`` has ``outputs_info``
    of the step's type; at other taps, ``dict(initial=v, taps=[...])`` with ``v[0]`` the oldest
    value. A shared variable updated by ``fn`` is updated at every step; ``updates`` maps it to
    its final value (pass it to ``function(updates=...)``).

    Returns ``(outputs, updates)`` (``return_updates=True``, PyTensor 3's default) or the outputs
    alone (``return_updates=False``; then ``fn`` may not return updates). ``outputs`` is one
    variable of shape ``(n_steps, *step shape)``, or a list for several outputs or with
    ``return_list=True``. ``truncate_gradient=k`` (k > 0) back-propagates through the last ``k``
    steps only. ``strict=True`` refuses shared variables that ``fn`` uses without their being in
    ``non_sequences``. ``mode``, ``profile`` and ``allow_gc`` are accepted for compatibility: the
    step is compiled with the mode of the function that contains the scan.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> from eqtensor.scan import scan
    >>> A, k = pt.dmatrix("A"), pt.iscalar("k")
    >>> powers = scan(lambda prev, A: prev @ A, outputs_info=pt.eye(2), non_sequences=A, n_steps=k,
    ...               return_updates=False)
    >>> powers.eval({A: np.array([[1.0, 1.0], [0.0, 1.0]]), k: 3})[-1]
    array([[1., 3.],
           [0., 1.]])
    """
    label = f"scan {name!r}" if name else "scan"
    if not isinstance(truncate_gradient, (numbers.Integral, np.integer)) or truncate_gradient == 0 \
            or truncate_gradient < -1:
        raise ValueError(f"{label}: truncate_gradient must be -1 (no truncation) or a positive int, "
                         f"got {truncate_gradient!r}")
    outputs, updates = _build(fn, sequences, outputs_info, non_sequences, n_steps, go_backwards,
                              int(truncate_gradient), strict, label, name)
    if not outputs:
        outputs = None
    elif len(outputs) == 1 and not return_list:
        outputs = outputs[0]
    if not return_updates:
        if updates:
            raise ValueError(f"{label}: return_updates=False but fn returned updates of "
                             f"{', '.join(map(str, updates))}; use return_updates=True and pass the updates "
                             f"to function(updates=...)")
        return outputs
    return outputs, updates
