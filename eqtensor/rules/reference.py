"""High-precision evaluation of graphs from the op table's mpmath references.

Each op's ``reference`` (see :mod:`eqtensor.core.op`) defines it in exact arithmetic; this module
evaluates a whole graph with them, element by element, at a chosen precision. The rule checker
uses it as the truth when both sides of a rule disagree, and the tests use it to check every op's
NumPy implementation and the optimizer's stable rewrites. Shape, indexing and creation ops need no
reference: their NumPy implementation moves the exact values around as they are.

A value is ``None`` where the reference is undefined (nan, a pole, a domain error). A reference
that answers with a complex number is a bug in the reference (``cbrt(-8)`` is -2, not mpmath's
principal root): it raises :class:`ReferenceError` naming the op and the input, instead of
quietly counting as undefined.

mpmath is needed only here, and imported when a reference is evaluated: a plain install without
the ``test`` extra compiles and runs functions without it.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> [v] = evaluate_mp([pt.log1p(pt.exp(x))], {x: np.array([-800.0, 0.0])}, digits=30)
>>> [float(e) for e in v]
[0.0, 0.6931471805599453]
"""

from __future__ import annotations

import numpy as np

from ..core.graph import Constant, SharedVariable
from ..core.traversal import toposort

#: op kinds whose NumPy implementation is exact on object arrays of mpmath numbers
STRUCTURAL = frozenset({"shape", "creation", "index", "other"})


class ReferenceError(ValueError):
    """An op's reference gave a complex number for real inputs (see the module docstring)."""


class NoReference(LookupError):
    """An op of the graph has no high-precision reference."""


def has_reference(defn) -> bool:
    """Whether :func:`evaluate_mp` can evaluate nodes of this op."""
    return defn.reference is not None or (defn.kind in STRUCTURAL and defn.name != "scan")


def evaluate_mp(outputs, values: dict, digits: int = 60) -> list[np.ndarray]:
    """``outputs`` evaluated with ``digits`` significant digits from ``values`` ({input: array}).

    Returns object arrays of mpmath numbers (None where undefined). Raises :class:`NoReference`
    for an op without a reference and :class:`ReferenceError` for a complex answer.
    """
    import mpmath

    with mpmath.workdps(digits):
        env = {id(v): _to_mp(mpmath, a) for v, a in values.items()}

        def value(v):
            if id(v) not in env:
                data = v.data if isinstance(v, Constant) else v.value if isinstance(v, SharedVariable) else None
                if data is None:
                    raise ValueError(f"evaluate_mp: no value given for the input {v}")
                env[id(v)] = _to_mp(mpmath, data)
            return env[id(v)]

        for node in toposort(outputs):
            args = [value(i) for i in node.inputs]
            env[id(node.out)] = np.asarray(_apply(mpmath, node.op, args), dtype=object)
        return [np.asarray(value(o), dtype=object) for o in outputs]


def _apply(mp, op, args):
    defn = op.defn
    if defn.reference is None:
        if not has_reference(defn):
            raise NoReference(f"op {defn.name} has no high-precision reference (OpDef.reference)")
        return op.perform(*args)
    if defn.kind == "elemwise":
        return np.frompyfunc(_scalar(mp, op), len(args), 1)(*args)
    if defn.kind == "reduce":
        return _reduce(mp, op, args[0])
    return _checked_array(mp, op, defn.reference(mp, *args, **op.params))


def _scalar(mp, op):
    ref, params = op.defn.reference, op.params

    def one(*xs):
        if any(x is None for x in xs):
            return None
        try:
            out = ref(mp, *xs, **params)
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
        return _real(mp, op, out, xs)

    return one


def _real(mp, op, out, xs):
    if isinstance(out, (bool, np.bool_)):
        return mp.mpf(int(out))
    if isinstance(out, mp.mpc):
        if out.imag != 0:
            raise ReferenceError(f"the reference of {op.name} gave the complex value {out} for the real inputs "
                                 f"{[str(x) for x in xs]}: return nan where the op is undefined, or the real "
                                 f"branch NumPy computes")
        out = out.real
    out = mp.mpf(out)
    return None if mp.isnan(out) else out


def _checked_array(mp, op, res):
    res = np.asarray(res, dtype=object)
    out = np.empty(res.shape, dtype=object)
    for i, v in np.ndenumerate(res):
        out[i] = None if v is None else _real(mp, op, v, ())
    return out


def _reduce(mp, op, x):
    axes, keep = op.params["axis"], op.params["keepdims"]
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    lead = moved.shape[: x.ndim - len(axes)]
    flat = moved.reshape(lead + (-1,))
    out = np.empty(lead, dtype=object)
    for i in np.ndindex(*lead):
        vals = list(flat[i])
        out[i] = None if any(v is None for v in vals) else _real(mp, op, op.defn.reference(mp, vals), vals)
    if keep:
        out = out.reshape(tuple(1 if d in axes else s for d, s in enumerate(x.shape)))
    return out


def _to_mp(mp, a):
    a = np.asarray(a)
    out = np.empty(a.shape, dtype=object)
    for i, v in np.ndenumerate(a):
        if a.dtype.kind == "c":
            out[i] = None if v != v else mp.mpc(complex(v))
        else:
            out[i] = None if v != v else mp.mpf(float(v)) if a.dtype.kind == "f" else mp.mpf(int(v))
    return out
