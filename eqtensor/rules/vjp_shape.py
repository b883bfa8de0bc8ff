"""VJP rules of the shape ops (dimshuffle, reshape, alloc, concatenate, repeat…), indexing and sort.
"""

from __future__ import annotations

from ..core.op import OPS, Op
from ..core.ops import repetition as RP
from ..core.ops import shape as S
from ..core.ops import sorting as SO
from ..core.ops.creation import arange
from ..core.ops.subtensor import getitem, inc_subtensor
from .vjp import VJPRule, collector, dims, sum_leading, zeros_like

VJPS: list[VJPRule] = []
vjp = collector(VJPS)


@vjp("dimshuffle", "a permutation with broadcastable dims: apply the inverse permutation")
def _dimshuffle(op, inputs, out, g):
    x = inputs[0]
    order = op.params["order"]
    back = [order.index(d) if d in order else "x" for d in range(x.ndim)]
    return (S.dimshuffle(g, *back),)


@vjp("reshape", "reshape is a relabelling of elements: reshape the cotangent back", only=(0,))
def _reshape(op, inputs, out, g):
    x = inputs[0]
    return S.reshape(g, tuple(dims(x))), None


@vjp("alloc", "alloc broadcasts its value: sum the cotangent over the broadcast dims", only=(0,))
def _alloc(op, inputs, out, g):
    value = inputs[0]
    return (sum_leading(g, value.ndim),) + (None,) * (len(inputs) - 1)


@vjp("concatenate", "each input receives its slice of the cotangent along the axis")
def _concatenate(op, inputs, out, g):

    axis = op.params["axis"]
    lead = (slice(None),) * axis
    start, grads = 0, []
    for x in inputs:
        n = x.type.shape[axis] if x.type.shape[axis] is not None else S.shape_i(x, axis)
        stop = start + n
        grads.append(getitem(g, lead + (slice(start, stop),)))
        start = stop
    return grads


@vjp("make_vector", "element k of the vector is input k")
def _make_vector(op, inputs, out, g):

    return [getitem(g, k) for k in range(len(inputs))]

def _indexed(opname, base, value, idx_inputs, op):
    return Op(OPS[opname], {"idx_list": op.params["idx_list"]})(base, value, *idx_inputs)


def _subtensor_vjp(op, inputs, out, g):
    x, idx = inputs[0], inputs[1:]
    return [_indexed("inc_subtensor", zeros_like(x), g, idx, op)] + [None] * len(idx)


vjp("subtensor", "x[idx] picks elements: scatter the cotangent into zeros at idx", only=(0,))(_subtensor_vjp)
vjp("advanced_subtensor", "x[idx] picks elements (maybe repeatedly): scatter-add the cotangent into zeros",
    only=(0,))(_subtensor_vjp)


def _value_grad(op, g, y, idx):
    picked = Op(OPS["advanced_subtensor" if _advanced(op) else "subtensor"], {"idx_list": op.params["idx_list"]})(
        g, *idx)
    return sum_leading(picked, y.ndim)


def _advanced(op):
    return any(e[0] in ("array", "mask") for e in op.params["idx_list"])


@vjp("set_subtensor", "x[idx] = y: y gets the cotangent at idx, x everywhere else", only=(0, 1))
def _set_subtensor(op, inputs, out, g):
    y, idx = inputs[1], inputs[2:]
    gx = _indexed("set_subtensor", g, zeros_like(y, g.dtype), idx, op)
    return [gx, _value_grad(op, g, y, idx)] + [None] * len(idx)


@vjp("inc_subtensor", "x[idx] += y: x gets the whole cotangent, y its part at idx", only=(0, 1))
def _inc_subtensor(op, inputs, out, g):
    y, idx = inputs[1], inputs[2:]
    return [g, _value_grad(op, g, y, idx)] + [None] * len(idx)


@vjp("sort", "sort permutes x: each element gets the cotangent at its sorted position (ties: one of them)")
def _sort(op, inputs, out, g):
    x, axis, kind = inputs[0], op.params["axis"], op.params["kind"]
    rank = SO.argsort(SO.argsort(x, axis, kind), axis, kind)  # the sorted position of each element
    return (SO.take_along_axis(g, rank, axis),)


@vjp("repeat", "the output holds r_j copies of x_j along the axis: x_j gets the sum of their cotangents",
     only=(0,))
def _repeat(op, inputs, out, g):
    x, reps = inputs
    axis = op.params["axis"]
    source = RP.repeat(arange(dims(x)[axis]), reps, axis=0)  # the element each output position copies
    front = S.moveaxis(zeros_like(x, g.dtype), axis, 0)
    gx = inc_subtensor(front[source], S.moveaxis(g, axis, 0))
    return S.moveaxis(gx, 0, axis), None


@vjp("specify_shape", "specify_shape(x) is x (with a checked shape): the cotangent passes through", only=(0,))
def _specify_shape(op, inputs, out, g):
    return (g,) + (None,) * (len(inputs) - 1)

