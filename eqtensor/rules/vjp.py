"""The VJP rule type and the helpers the rules of :mod:`eqtensor.rules.gradients` share.

A rule is a function ``(op, inputs, out, g)`` returning one cotangent per input: an expression, ``None``
(the input is disconnected, e.g. a shape argument), :data:`ZERO` (connected, zero gradient) or a
:class:`NullGrad` (undefined). Each family module (``vjp_elemwise``, ``vjp_reduction``, ``vjp_shape``,
``vjp_linalg``, ``vjp_decompositions``, ``vjp_markers``) collects its rules in a list ``VJPS`` with the
decorator :func:`collector` makes; :mod:`eqtensor.rules.gradients` assembles them into the one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.graph import Constant
from ..core.ops import broadcast as B
from ..core.ops import reduction as R
from ..core.ops import shape as S


class _Zero:
    """A connected input whose gradient is zero (no term is added)."""

    def __repr__(self):
        return "ZERO"


ZERO = _Zero()


@dataclass(frozen=True)
class NullGrad:
    """An undefined gradient (``undefined_grad``); it propagates and makes ``grad`` raise
    :class:`NullTypeGradError` (or be returned with ``null_gradients='return'``)."""

    reason: str


@dataclass(frozen=True)
class VJPRule:
    """A named gradient rule: the op it rewrites, why it holds, which inputs it connects to.

    ``fn(op, inputs, out, g)`` returns one cotangent per input. A rule that differentiates an
    inner graph (``scan``'s step) has ``inner_graph=True``: its ``fn`` takes the reverse pass
    as a fifth argument, ``backprop(seeds, wrt)`` (the driver calling the rule passes itself)."""

    name: str
    fn: Callable
    why: str
    only: tuple[int, ...] | None = None  # inputs connected to the output (None: all)
    inner_graph: bool = False

    def connected(self, pos: int) -> bool:
        return self.only is None or pos in self.only

    def __call__(self, op, inputs, out, g, backprop):
        """The cotangents of ``inputs``; ``backprop`` is the reverse pass calling the rule."""
        if self.inner_graph:
            return list(self.fn(op, inputs, out, g, backprop))
        return list(self.fn(op, inputs, out, g))



def collector(rules: list[VJPRule]):
    """The decorator ``vjp(name, why, only=None, inner_graph=False)`` appending the decorated function
    to ``rules`` as the VJP rule of op ``name`` (``only``: the inputs connected to the output, None
    for all; ``inner_graph``: see :class:`VJPRule`)."""

    def vjp(name: str, why: str, only=None, inner_graph=False):
        def register(fn):
            rules.append(VJPRule(name, fn, why, None if only is None else tuple(only), inner_graph))
            return fn

        return register

    return vjp


def dims(x):
    """Per-dimension lengths of ``x``: static ints where known, else ``shape_i`` of the earliest variable
    with that length (through elementwise ops and dimshuffles), so a gradient does not keep a forward
    intermediate alive just for its shape."""
    return [s if s is not None else S.length(x, d) for d, s in enumerate(x.type.shape)]


def zeros_like(x, dtype=None):
    """A zero tensor with ``x``'s run-time shape (a constant when ``x`` is 0-d)."""
    zero = Constant(np.zeros((), dtype or x.dtype))
    return zero if x.ndim == 0 else B.alloc(zero, *dims(x))


def expand_reduced(v, x, axes, keepdims):
    """Re-insert the reduced ``axes`` (as broadcastable dims) into a reduction's result ``v``."""
    if keepdims or not axes:
        return v
    if isinstance(v, Constant):
        return Constant(np.expand_dims(v.data, axes))
    order, it = [], iter(range(v.ndim))
    for d in range(x.ndim):
        order.append("x" if d in axes else next(it))
    return S.dimshuffle(v, *order)


def broadcast_like(v, x, axes):
    """``v`` (``x``'s rank, length 1 along ``axes``) broadcast to ``x``'s shape."""
    if all(x.type.shape[a] == 1 for a in axes):
        return v
    return B.alloc(v, *dims(x))


def swap_last(x):
    """Swap the last two axes."""
    order = list(range(x.ndim))
    order[-2], order[-1] = order[-1], order[-2]
    return S.dimshuffle(x, *order)


def sum_leading(v, ndim):
    """Sum away leading axes of ``v`` so it has ``ndim`` dimensions."""
    extra = v.ndim - ndim
    return R.sum(v, axis=tuple(range(extra))) if extra > 0 else v


def scaled(g, e):
    """``g * e``, or ``e`` itself when ``g`` is the 0-d constant 1 (the seed of a scalar cost)."""
    if isinstance(g, Constant) and g.ndim == 0 and e.ndim == 0 and g.data.item() == 1:
        return e
    return g * e


def folded(x, fn):
    """``fn(x)`` as a constant when ``x`` is a constant, else ``None``."""
    if isinstance(x, Constant):
        return Constant(np.asarray(fn(x.data), dtype=x.dtype))
    return None
