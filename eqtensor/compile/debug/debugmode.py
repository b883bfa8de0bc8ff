"""``DebugMode`` (``pytensor.compile.debug.debugmode``): a mode whose functions compute every call three
ways and compare them: the optimized graph compiled by the C backend, the same graph on the NumPy
backend, and the graph as the user built it (before the e-graph optimizer) evaluated node by node
with the NumPy implementations. A difference in any output or update raises
:class:`DebugModeError` naming the output and the two implementations that disagree: a bug of a
rewrite rule (optimized against unoptimized) or of a backend (C against NumPy).

Values agree when their shapes and dtypes are equal, NaN sit at the same places and the numbers
are close (relative 1e-6, absolute 1e-9 in float64; 1e-3 and 1e-5 in lower precisions; exact for
integers and booleans); where the unoptimized graph overflows to an infinity or a NaN, the optimized
one may be finite (the stability rewrites). The result returned is the C backend's. About three
times as slow as the NumPy backend alone: a debugging mode.

>>> import numpy as np
>>> import eqtensor as et
>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> f = et.function([x], pt.log(1 + pt.exp(x)), mode="DebugMode")
>>> f(np.array([0.0, 800.0])).tolist()
[0.6931471805599453, 800.0]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...backends import compile_fgraph
from ...core.evaluate import evaluate
from ..mode import Mode, register_mode


class DebugModeError(Exception):
    """Two implementations of a compiled function disagree (see :mod:`eqtensor.compile.debug.debugmode`)."""


@dataclass(frozen=True, init=False)
class DebugMode(Mode):
    """A :class:`~eqtensor.compile.mode.Mode` comparing the C backend, the NumPy backend and the
    unoptimized graph on every call (see the module), with PyTensor's signature.

    ``optimizer=`` and ``linker=`` as :class:`Mode` maps them (``optimizer=None`` compares the
    backends on the unoptimized graph); ``check_c_code=False`` runs the NumPy backend alone (no C
    to compare), ``check_py_code=False`` skips the unoptimized graph. ``check_isfinite``,
    ``stability_patience``, ``check_preallocated_output`` and ``require_matching_strides`` are
    accepted and unused (eqtensor's ops have no in-place or stride variants to check; NaN and
    infinities: :class:`~eqtensor.compile.debug.NanGuardMode`). Other keywords (``rules=``,
    ``budget=``…) are :class:`Mode`'s."""

    check_c_code: bool = True
    check_py_code: bool = True

    def __init__(self, optimizer="default", stability_patience=None, check_c_code=None, check_py_code=None,
                 check_isfinite=None, check_preallocated_output=None, require_matching_strides=None, linker=None,
                 **mode_fields):
        compare_c = check_c_code is not False
        mode_fields.setdefault("backend", "c" if compare_c else "numpy")
        mode_fields.setdefault("name", "DebugMode")
        Mode.__init__(self, linker=linker, optimizer=optimizer, **mode_fields)
        object.__setattr__(self, "check_c_code", compare_c)
        object.__setattr__(self, "check_py_code", check_py_code is not False)

    def wrap_thunk(self, maker, thunk):
        others = []  # (what, thunk of the same arrays, may it be non-finite where this one is finite)
        if maker.backend != "numpy":
            graph = "optimized" if self.optimize else "unoptimized"
            others.append((f"the NumPy backend ({graph} graph)",
                           compile_fgraph(maker.fgraph, dataclasses.replace(self, backend="numpy", sharding=None))[0],
                           False))
        original = maker.original_fgraph
        if self.check_py_code:
            others.append(("the unoptimized graph (reference interpreter)",
                           lambda *arrays: evaluate(list(original.outputs), dict(zip(original.inputs, arrays))), True))

        def compared(*args):
            outs = thunk(*args)
            arrays = [np.asarray(a, dtype=v.dtype) for v, a in zip(maker.fgraph.inputs, args)]
            for other, run, stabilized in others:
                for k, (mine, their) in enumerate(zip(outs, run(*arrays))):
                    problem = _difference(np.asarray(mine), np.asarray(their), stabilized)
                    if problem:
                        raise DebugModeError(f"DebugMode: {_label(original, k)} differs between the "
                                             f"{maker.backend} backend and {other}: {problem}")
            return outs

        return compared


def _label(fgraph, k) -> str:
    if k < fgraph.n_outputs:
        return f"output {k} ({fgraph.outputs[k]})"
    return f"the update of {fgraph.update_targets[k - fgraph.n_outputs]}"


def _difference(a: np.ndarray, b: np.ndarray, stabilized: bool = False) -> str | None:
    """How ``a`` and ``b`` differ (shape, dtype, values), or None when they agree; ``stabilized``:
    ``a`` may be finite where ``b`` is not (the optimizer's stability rewrites)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape/dtype {a.shape} {a.dtype} against {b.shape} {b.dtype}"
    if a.dtype.kind not in "fc":
        if a.dtype == object or np.array_equal(a, b):
            return None
        return f"{int(np.sum(a != b))} of {a.size} values differ"
    rtol, atol = (1e-6, 1e-9) if a.dtype.itemsize >= (16 if a.dtype.kind == "c" else 8) else (1e-3, 1e-5)
    if stabilized:
        keep = np.isfinite(b)
        a, b = a[keep], b[keep]
    with np.errstate(all="ignore"):
        if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return None
        worst = np.nanmax(np.abs(a - b)) if a.size else 0.0
    return f"max |difference| {worst:.3g} (rtol {rtol:g}, atol {atol:g})"


register_mode("DebugMode", DebugMode())
