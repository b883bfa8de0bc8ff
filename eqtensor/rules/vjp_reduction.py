"""VJP rules of the reductions (``sum``, ``max``, ``prod``, ``logsumexp``…), softmaxes and cumulative ops.
"""

from __future__ import annotations

from ..core.ops import elemwise as E
from ..core.ops import cumulative as CU
from ..core.ops import reduction as R
from ..core.ops.subtensor import getitem
from .vjp import VJPRule, broadcast_like, collector, expand_reduced

VJPS: list[VJPRule] = []
vjp = collector(VJPS)


def _reduce_parts(op, inputs, out, g):
    x = inputs[0]
    axes, keep = op.params["axis"], op.params["keepdims"]
    return x, axes, expand_reduced(g, x, axes, keep), expand_reduced(out, x, axes, keep)


@vjp("sum", "each summed element receives the cotangent: broadcast it back")
def _sum(op, inputs, out, g):
    x, axes, ge, _ = _reduce_parts(op, inputs, out, g)
    return (broadcast_like(ge, x, axes),)


def _to_extrema(x, axes, ge, oe):
    """The cotangent of ``max``/``min``: shared equally by the elements equal to the result, so it
    is counted once however many there are (``max(stack([x, x]), axis=0)`` has derivative 1)."""
    hit = E.eq(x, oe)
    n = E.cast(R.sum(hit, axis=axes, keepdims=True), ge.dtype)
    return E.switch(hit, ge / n, 0)


@vjp("max", "the cotangent goes to the maximal element, shared equally by ties (as JAX)")
def _max(op, inputs, out, g):
    x, axes, ge, oe = _reduce_parts(op, inputs, out, g)
    return (_to_extrema(x, axes, ge, oe),)


@vjp("min", "the cotangent goes to the minimal element, shared equally by ties (as JAX)")
def _min(op, inputs, out, g):
    x, axes, ge, oe = _reduce_parts(op, inputs, out, g)
    return (_to_extrema(x, axes, ge, oe),)


@vjp("logsumexp", "d logsumexp(x) = softmax(x) dx = exp(x - logsumexp(x)) dx")
def _logsumexp(op, inputs, out, g):
    x, axes, ge, oe = _reduce_parts(op, inputs, out, g)
    return (ge * E.exp(x - oe),)


@vjp("prod", "d prod(x) / dx_i = product of the others: prod/x_i without zeros, exact with zeros")
def _prod(op, inputs, out, g):
    x, axes, ge, oe = _reduce_parts(op, inputs, out, g)
    is_zero = E.eq(x, 0)
    n_zero = R.sum(is_zero, axis=axes, keepdims=True)
    prod_nonzero = R.prod(E.switch(is_zero, 1, x), axis=axes, keepdims=True)
    # no zero: prod / x; exactly one zero: the zero gets the product of the others; else 0
    d = E.switch(E.eq(n_zero, 0), oe / x, E.switch(E.and_(E.eq(n_zero, 1), is_zero), prod_nonzero, 0))
    return (ge * d,)


@vjp("softmax", "d softmax = softmax (dx - sum(softmax dx)): the cotangent is s (g - sum(g s))")
def _softmax(op, inputs, out, g):
    return (out * (g - R.sum(g * out, axis=op.params["axis"], keepdims=True)),)


@vjp("log_softmax", "d log_softmax = dx - sum(softmax dx): the cotangent is g - exp(out) sum(g)")
def _log_softmax(op, inputs, out, g):
    return (g - E.exp(out) * R.sum(g, axis=op.params["axis"], keepdims=True),)

def _reversed(x, axis):
    """``x`` reversed along ``axis``."""
    return getitem(x, (slice(None),) * axis + (slice(None, None, -1),))


@vjp("cumsum", "out_i = sum of x_j for j <= i: x_j gets the sum of the cotangents at i >= j (a reversed cumsum)")
def _cumsum(op, inputs, out, g):
    axis = op.params["axis"]
    return (_reversed(CU.cumsum(_reversed(g, axis), axis), axis),)


@vjp("cumprod", "out_i = prod of x_j for j <= i: x_j gets sum over i >= j of g_i out_i / x_j (x_j nonzero, as "
                "PyTensor)")
def _cumprod(op, inputs, out, g):
    axis = op.params["axis"]
    return (_reversed(CU.cumsum(_reversed(g * out, axis), axis), axis) / inputs[0],)

