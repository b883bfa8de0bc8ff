"""``scan``: loops in the graph (PyTensor's ``pytensor.scan``), forward only.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.scan import scan
>>> x = pt.dvector("x")
>>> acc, updates = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info=np.float64(0.0))
>>> updates
{}
>>> function([x], acc)(np.array([1.0, 2.0, 3.0]))
array([1., 3., 6.])

Supported: sequences (taps ``[0]``), recurrent outputs with taps ``[-1]``, outputs that are not
fed back (``None`` in ``outputs_info``), non-sequences, free variables of ``fn`` (outer inputs,
shared variables: they become inputs of the op), ``n_steps`` (int or symbolic int scalar) and
``go_backwards``. Not supported yet: other taps, updates of shared variables returned by ``fn``,
``until`` conditions, and the gradient (``grad`` through a scan raises ``NotImplementedError``).

Each output of a scan is its own node, and each node runs the whole loop: several outputs of one
scan recompute the loop once per output used (a known cost).
"""

from __future__ import annotations

import numbers

import numpy as np

from .core.op import as_tensor_variable
from .core.graph import Constant, Variable, graph_inputs
from .core.replace import clone_replace
from .core.op import OPS, Op
from .core.graph import TensorType
from .core.ops.elemwise import cast
from .core.ops.scan import ScanInner

__all__ = ["scan"]


def _placeholder(type_: TensorType, name: str) -> Variable:
    return Variable(type_, name=name)


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _sequence(k, s):
    if isinstance(s, dict):
        taps = s.get("taps", [0])
        if list(taps) != [0]:
            raise NotImplementedError(f"scan: sequence {k}: taps {list(taps)} are not supported (only [0])")
        s = s.get("input")
    s = as_tensor_variable(s)
    if s.ndim == 0:
        raise ValueError(f"scan: sequence {k} ({s}) is a scalar ({s.type}); sequences are iterated over "
                         f"their first dimension")
    return s


def _initial(k, o):
    """(initial variable or None) for one ``outputs_info`` entry."""
    if o is None:
        return None
    if isinstance(o, dict):
        if "initial" not in o:
            raise ValueError(f"scan: outputs_info[{k}] is a dict without 'initial'")
        taps = o.get("taps", [-1])
        if list(taps) != [-1]:
            raise NotImplementedError(f"scan: outputs_info[{k}]: taps {list(taps)} are not supported (only [-1])")
        o = o["initial"]
        if o is None:
            return None
    if isinstance(o, numbers.Number) and not isinstance(o, bool):
        o = np.asarray(o)  # a strong constant: scan's recurrent dtype is the initial value's dtype
    return as_tensor_variable(o)


def _split_result(res):
    """fn's return value -> (list of outputs, updates)."""
    if isinstance(res, dict):
        return [], res
    if isinstance(res, (list, tuple)):
        res = list(res)
        if len(res) == 2 and isinstance(res[1], dict):
            return _as_list(res[0]), res[1]
        if res and isinstance(res[-1], dict):
            return res[:-1], res[-1]
        return res, {}
    return [res], {}


def _n_steps_input(n_steps):
    if n_steps is None:
        return None
    if isinstance(n_steps, (numbers.Integral, np.integer)) and not isinstance(n_steps, bool):
        if n_steps < 0:
            raise ValueError(f"scan: n_steps must be non-negative, got {n_steps}")
        return Constant(np.int64(n_steps))
    n = as_tensor_variable(n_steps)
    if n.ndim != 0 or not n.dtype.startswith(("int", "uint")):
        raise TypeError(f"scan: n_steps must be an integer scalar, got {n} ({n.type})")
    if n.dtype != "int64":

        n = cast(n, "int64")
    return n


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, go_backwards=False,
         name=None, return_list=False):
    """Apply ``fn`` step by step (PyTensor's ``scan``); returns ``(outputs, updates)``.

    ``fn`` is called once, symbolically, with one slice per sequence, then the previous value of
    each recurrent output (``outputs_info`` entries that are not ``None``), then the
    ``non_sequences``. It returns the step's outputs (one variable or a list), in the order of
    ``outputs_info``. ``outputs`` is one variable of shape ``(n_steps, *step shape)``, or a list
    when there are several outputs or ``return_list=True``; ``updates`` is always an empty dict.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> from eqtensor.scan import scan
    >>> A, k = pt.dmatrix("A"), pt.iscalar("k")
    >>> powers, _ = scan(lambda prev, A: prev @ A, outputs_info=pt.eye(2), non_sequences=A, n_steps=k)
    >>> powers.eval({A: np.array([[1.0, 1.0], [0.0, 1.0]]), k: 3})[-1]
    array([[1., 3.],
           [0., 1.]])
    """
    label = f"scan {name!r}" if name else "scan"
    seqs = [_sequence(k, s) for k, s in enumerate(_as_list(sequences))]
    infos = outputs_info if isinstance(outputs_info, (list, tuple)) else [outputs_info] if outputs_info is not None \
        else None
    inits_all = None if infos is None else [_initial(k, o) for k, o in enumerate(infos)]
    nonseqs = [as_tensor_variable(v) for v in _as_list(non_sequences)]
    n_var = _n_steps_input(n_steps)
    if n_var is None and not seqs:
        raise ValueError(f"{label}: the number of steps is unknown: pass sequences or n_steps")

    seq_ph = [_placeholder(TensorType(s.dtype, s.type.shape[1:]), f"{s.name}[t]" if s.name else None)
              for s in seqs]
    rec_ph = [_placeholder(i.type, f"{i.name}[t-1]" if i.name else None)
              for i in (inits_all or []) if i is not None]
    nonseq_ph = [_placeholder(v.type, v.name) for v in nonseqs]

    res = fn(*seq_ph, *rec_ph, *nonseq_ph)
    outs, updates = _split_result(res)
    if updates:
        raise NotImplementedError(f"{label}: fn returned updates of shared variables "
                                  f"({', '.join(map(str, updates))}); updates inside scan are not supported")
    try:
        outs = [as_tensor_variable(o) for o in outs]
    except TypeError as e:
        raise TypeError(f"{label}: fn must return tensor expressions: {e}") from None
    if not outs:
        raise ValueError(f"{label}: fn returned no outputs")
    if inits_all is None:
        inits_all = [None] * len(outs)
    if len(inits_all) != len(outs):
        raise ValueError(f"{label}: fn returned {len(outs)} output(s) but outputs_info has {len(inits_all)} entries")

    rec_index = []
    inits = []
    for k, (init, out) in enumerate(zip(inits_all, outs)):
        if init is None:
            continue
        if out.dtype != init.dtype or out.ndim != init.ndim:
            raise TypeError(
                f"{label}: the recurrent output {k} ({out}) has type {out.type}, but its initial value "
                f"(outputs_info[{k}] = {init}) has type {init.type}; the output of each step must keep the dtype and "
                f"number of dimensions of the initial value (cast the initial value or the step's output)")
        rec_index.append(k)
        inits.append(init)

    # free variables: leaves of the inner graph that are not placeholders or constants
    own = {id(v) for v in seq_ph + rec_ph + nonseq_ph}
    free = [v for v in graph_inputs(outs) if id(v) not in own and not isinstance(v, Constant)]
    free_ph = [_placeholder(v.type, v.name) for v in free]
    if free:
        outs = clone_replace(outs, dict(zip(free, free_ph)))


    inner = ScanInner(seq_ph, rec_ph, nonseq_ph + free_ph, outs, rec_index, n_var is not None, go_backwards, name)
    inputs = ([n_var] if n_var is not None else []) + seqs + inits + nonseqs + free
    results = [Op(OPS["scan"], {"inner": inner, "which": k})(*inputs) for k in range(len(outs))]
    if name:
        for k, r in enumerate(results):
            r.name = name if len(results) == 1 else f"{name}[{k}]"
    if len(results) == 1 and not return_list:
        return results[0], {}
    return results, {}
