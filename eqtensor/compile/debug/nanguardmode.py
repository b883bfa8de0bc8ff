"""``NanGuardMode`` (``pytensor.compile.debug.nanguardmode``): a mode whose functions check every value
they compute for NaN, infinities and huge magnitudes, and name the node that produced the first one.

Each call runs the compiled function, then evaluates the optimized graph once more node by node
with the NumPy implementations (the reference interpreter), checking every intermediate value and
every output: a debugging mode, about as slow as the NumPy backend on top of the compiled code.
The first bad value in the order of evaluation is reported with its node and the values its
inputs had, as an ``AssertionError`` (PyTensor's). Only floating-point (and complex) values are
checked; the branch of an ``ifelse`` that is not taken is not evaluated.

>>> import numpy as np
>>> import eqtensor as et
>>> from eqtensor import tensor as pt
>>> from eqtensor.compile.debug.nanguardmode import NanGuardMode
>>> x = pt.dvector("x")
>>> f = et.function([x], pt.log(x).sum(), mode=NanGuardMode(nan_is_error=True, inf_is_error=True))
>>> float(f(np.array([1.0, np.e])))
1.0
>>> f(np.array([-1.0, 1.0]))
Traceback (most recent call last):
...
AssertionError: NanGuardMode: NaN in the output of log(x) (input values: x = [-1.  1.])...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.evaluate import evaluate
from ...core.traversal import toposort
from ..mode import Mode, register_mode

#: PyTensor's threshold for "big" values (``big_is_error``)
BIG = 1e10


@dataclass(frozen=True, init=False)
class NanGuardMode(Mode):
    """A :class:`~eqtensor.compile.mode.Mode` that checks every computed value (see the module).

    ``nan_is_error``, ``inf_is_error``, ``big_is_error`` (magnitudes above 1e10) say what is an
    error (None: True, PyTensor's configuration defaults); ``optimizer=`` and ``linker=`` as
    :class:`Mode` maps them, other keywords (``backend=``, ``rules=``…) are :class:`Mode`'s.
    """

    nan_is_error: bool = True
    inf_is_error: bool = True
    big_is_error: bool = True

    def __init__(self, nan_is_error=None, inf_is_error=None, big_is_error=None, optimizer="default", linker=None,
                 **mode_fields):
        mode_fields.setdefault("backend", "c")
        mode_fields.setdefault("name", "NanGuardMode")
        Mode.__init__(self, linker=linker, optimizer=optimizer, **mode_fields)
        for flag, value in (("nan_is_error", nan_is_error), ("inf_is_error", inf_is_error),
                            ("big_is_error", big_is_error)):
            object.__setattr__(self, flag, True if value is None else bool(value))

    def wrap_thunk(self, maker, thunk):
        fgraph = maker.fgraph
        checked = _always_computed(fgraph.outputs)

        def guarded(*args):
            outs = thunk(*args)
            values = {v: np.asarray(a, dtype=v.dtype) for v, a in zip(fgraph.inputs, args)}
            for v, value in zip(checked, evaluate(checked, values)):
                self._check(v, value, values)
            for k, value in enumerate(outs):
                if self._problem(value):
                    raise AssertionError(f"NanGuardMode: {self._problem(value)} in output {k} of the compiled "
                                         f"function ({maker.backend} backend), not in the NumPy evaluation")
            return outs

        return guarded

    def _problem(self, value) -> str | None:
        """What is wrong with ``value`` ('NaN', 'Inf', 'a value above 1e10'), or None."""
        a = np.asarray(value)
        if a.dtype.kind not in "fc" or a.size == 0:
            return None
        with np.errstate(all="ignore"):
            if self.nan_is_error and np.isnan(a).any():
                return "NaN"
            if self.inf_is_error and np.isinf(a).any():
                return "Inf"
            if self.big_is_error and (np.abs(a[np.isfinite(a)]) > BIG).any():
                return f"a value above {BIG:g}"
        return None

    def _check(self, v, value, values) -> None:
        problem = self._problem(value)
        if problem is None:
            return
        node = v.owner
        if node is None:
            raise AssertionError(f"NanGuardMode: {problem} in the input {v}")
        inputs = evaluate(list(node.inputs), values)
        shown = "; ".join(f"{i} = {_short(a)}" for i, a in zip(node.inputs, inputs))
        raise AssertionError(f"NanGuardMode: {problem} in the output of {node.op}"
                             f"({', '.join(map(str, node.inputs))}) (input values: {shown})")


def _always_computed(outputs) -> list:
    """Every variable the outputs need whatever the conditions of ``ifelse`` nodes (their branches
    are left out: only the chosen one runs), inputs included, in an order where inputs come first."""
    order = toposort(outputs)
    needed = {id(o) for o in outputs}
    for node in reversed(order):
        if not any(id(o) in needed for o in node.outputs):
            continue
        ins = node.inputs[:1] if node.op.name == "ifelse" else node.inputs
        needed.update(id(i) for i in ins)
    leaves, seen = [], set()
    for node in order:
        for i in node.inputs:
            if i.owner is None and id(i) in needed and id(i) not in seen:
                seen.add(id(i))
                leaves.append(i)
    inner = [o for node in order for o in node.outputs if id(o) in needed]
    return leaves + inner + [o for o in outputs if o.owner is None and id(o) not in seen]


def _short(a) -> str:
    return np.array2string(np.asarray(a), threshold=10, precision=4)


register_mode("NanGuardMode", NanGuardMode())
