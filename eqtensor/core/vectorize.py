"""Vectorizing graphs: :func:`vectorize_graph` rebuilds a graph over new leading (batch)
dimensions, node by node, with a **batching rule** per op, keyed by op name (:data:`BATCHING`).

A batched variable has ``b >= 0`` extra leading dimensions; a rule gets the node, its batched
inputs and their batch ranks, and returns the batched output (its batch dimensions in front).
Inputs of different batch ranks broadcast against each other from the right of the batch
dimensions, as in NumPy (``(5,)`` and ``(4, 5)`` batch shapes give ``(4, 5)``). Nodes whose inputs
are not batched are kept (or rebuilt on their replaced inputs); ops whose output shape would
depend on the values of a batched input (``arange``'s bounds, ``alloc``'s or ``reshape``'s target
shape, slice bounds) raise ``NotImplementedError`` naming the op, as do the ops of
:data:`NOT_BATCHED`. A test checks that every op of :data:`~eqtensor.core.op.OPS` is in exactly
one of the two tables: adding an op means deciding how it batches.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> y = pt.exp(x) / pt.exp(x).sum()
>>> xb = pt.dmatrix("xb")
>>> yb = vectorize_graph(y, {x: xb})
>>> yb.eval({xb: np.log([[1.0, 3.0], [1.0, 1.0]])})
array([[0.25, 0.75],
       [0.5 , 0.5 ]])
"""

from __future__ import annotations

import math

import numpy as np

from .graph import Constant, Variable
from .traversal import iter_toposort
from .op import OPS, Op
from . import ops  # noqa: F401  (declares every op family: OPS is complete when the tables are built)
from .ops.broadcast import alloc
from .ops.shape import as_shape_vector, reshape, shape_i, static_entries
from .ops.subtensor import SYM, getitem, index_shape

#: the full slice ``:`` as an ``idx_list`` entry
_FULL = ("slice", None, None, None)


# ----------------------------------------------------------------------------- helpers
def _op(name, *inputs, **params) -> Variable:
    return Op(OPS[name], params)(*inputs)


def _ds(x: Variable, order) -> Variable:
    """``x.dimshuffle(order)`` (``x`` itself for the identity)."""
    order = tuple(order)
    if order == tuple(range(x.ndim)):
        return x
    return _op("dimshuffle", x, order=order)


def _pad(x: Variable, b: int, B: int) -> Variable:
    """``x`` with ``b`` batch dimensions given ``B``: broadcastable ones added in front."""
    return _ds(x, ("x",) * (B - b) + tuple(range(x.ndim)))


def _dim(x: Variable, d: int):
    """The static length of axis ``d`` of ``x``, or its symbolic length."""
    s = x.type.shape[d]
    return s if s is not None else shape_i(x, d)


def _is_one(s) -> bool:
    return isinstance(s, int) and s == 1


def _batch_shape(xs, B: int) -> list:
    """The broadcast shape of the first ``B`` axes of ``xs`` (each with ``B`` batch dimensions):
    a known length where one is known, else the symbolic length of an input not statically 1."""
    out = []
    for d in range(B):
        dims = [x.type.shape[d] for x in xs]
        known = [s for s in dims if s is not None and s != 1]
        if known:
            out.append(known[0])
        elif None in dims:
            out.append(shape_i(xs[dims.index(None)], d))
        else:
            out.append(1)
    return out


def _broadcast_batch(x: Variable, batch_shape) -> Variable:
    """``x`` with its leading ``len(batch_shape)`` axes broadcast to ``batch_shape`` (a copy, only
    where ``x`` is broadcastable and the target is not)."""
    need = any(x.type.shape[d] == 1 and not _is_one(s) for d, s in enumerate(batch_shape))
    if not need:
        return x
    return alloc(x, *batch_shape, *[_dim(x, d) for d in range(len(batch_shape), x.ndim)])


def _cast(x: Variable, dtype: str) -> Variable:
    return x if x.dtype == dtype else _op("cast", x, dtype=dtype)


def _strong(v: Variable) -> Variable:
    """A weak Python-scalar constant made strong (its dtype no longer adapts to a partner)."""
    return Constant(v.data) if isinstance(v, Constant) and v.weak else v


def _product(dims):
    """The product of lengths (ints and int64 scalars): an int when all are known."""
    known = math.prod(d for d in dims if isinstance(d, int))
    out = None
    for d in dims:
        if not isinstance(d, int):
            out = d if out is None else _op("mul", out, d)
    if out is None:
        return known
    return out if known == 1 else _op("mul", out, Constant(np.int64(known)))


def _unsupported(name: str, what: str):
    return NotImplementedError(
        f"vectorize_graph: op {name!r} cannot be batched over {what} (the shape of its output would depend "
        f"on the batched values)")


# ----------------------------------------------------------------------------- rules
def _same_op(node, inputs, bdims):
    """Ops that batch natively: elementwise ops (their builder left-pads inputs of lower rank, which
    aligns batch dimensions) and gradient markers (identities)."""
    return node.op(*inputs)


def _reduce(node, inputs, bdims):
    """Reductions: the reduced axes shift by the batch rank."""
    b = bdims[0]
    params = dict(node.op.params, axis=tuple(a + b for a in node.op.params["axis"]))
    return Op(node.op.defn, params)(inputs[0])


def _axis_op(node, inputs, bdims):
    """softmax, log_softmax: the normalized axes shift by the batch rank."""
    b = bdims[0]
    return Op(node.op.defn, {"axis": tuple(a + b for a in node.op.params["axis"])})(inputs[0])


def _one_axis(node, inputs, bdims):
    """cumsum, cumprod, sort, argsort: the axis (one non-negative int) shifts by the batch rank."""
    return Op(node.op.defn, dict(node.op.params, axis=node.op.params["axis"] + bdims[0]))(inputs[0])


def _repeat(node, inputs, bdims):
    """repeat by a vector of counts: the axis shifts (batched counts would make a ragged batch)."""
    if bdims[1]:
        raise _unsupported("repeat", "its repeats")
    return Op(node.op.defn, {"axis": node.op.params["axis"] + bdims[0]})(*inputs)


def _specify_shape(node, inputs, bdims):
    """specify_shape: the batch dimensions are not specified."""
    if any(bdims[1:]):
        raise _unsupported("specify_shape", "its shape")
    return Op(node.op.defn, {"shape": (None,) * bdims[0] + tuple(node.op.params["shape"])})(*inputs)


def _dimshuffle(node, inputs, bdims):
    """The batch dimensions stay in front; the order of the others shifts."""
    b = bdims[0]
    order = node.op.params["order"]
    return _ds(inputs[0], tuple(range(b)) + tuple(d if d == "x" else d + b for d in order))


def _shape_entries(shp: Variable) -> list:
    """The entries of an integer shape vector: ints where static, else scalars."""
    node = shp.owner
    out = []
    for i, s in enumerate(static_entries(shp)):
        if s is not None:
            out.append(s)
        elif node is not None and node.op.name == "make_vector":
            out.append(node.inputs[i])
        else:
            out.append(getitem(shp, i))
    return out


def _reshape(node, inputs, bdims):
    """The batch shape is prepended to the target shape."""
    x, shp = inputs
    if bdims[1]:
        raise _unsupported("reshape", "its target shape")
    b = bdims[0]
    entries = [_dim(x, d) for d in range(b)] + _shape_entries(shp)
    return _op("reshape", x, as_shape_vector(entries))


def _shape(node, inputs, bdims):
    """The shape of one batch element: the trailing entries (not batched)."""
    return _op("subtensor", _op("shape", inputs[0]), idx_list=(("slice", bdims[0], None, None),))


def _shape_i(node, inputs, bdims):
    """The length of a core axis of one batch element (not batched)."""
    return _op("shape_i", inputs[0], i=node.op.params["i"] + bdims[0])


def _alloc(node, inputs, bdims):
    """The value's batch dimensions are prepended to the allocated shape."""
    value, dims = inputs[0], inputs[1:]
    if any(bdims[1:]):
        raise _unsupported("alloc", "its shape")
    bv, nv, n = bdims[0], node.inputs[0].ndim, len(dims)
    value = _ds(value, tuple(range(bv)) + ("x",) * (n - nv) + tuple(range(bv, bv + nv)))
    return alloc(value, *[_dim(value, d) for d in range(bv)], *dims)


def _concatenate(node, inputs, bdims):
    """Inputs are broadcast to one batch shape (a copy where needed); the axis shifts."""
    B = max(bdims)
    padded = [_pad(x, b, B) for x, b in zip(inputs, bdims)]
    batch = _batch_shape(padded, B)
    full = [_broadcast_batch(x, batch) for x in padded]
    return _op("concatenate", *full, axis=node.op.params["axis"] + B)


def _make_vector(node, inputs, bdims):
    """Scalars broadcast to one batch shape and joined along a new last axis."""
    B = max(bdims)
    padded = [_pad(x, b, B) for x, b in zip(inputs, bdims)]
    batch = _batch_shape(padded, B)
    cols = [_ds(_broadcast_batch(x, batch), tuple(range(B)) + ("x",)) for x in padded]
    out = cols[0] if len(cols) == 1 else _op("concatenate", *cols, axis=B)
    return _cast(out, node.out.dtype)


def _advanced_layout(entries):
    """``(advanced, contiguous, first)``: whether the index is advanced, whether its advanced
    entries (integers count among them then) are adjacent, and the position of the first one."""
    if not any(e[0] in ("array", "mask") for e in entries):
        return False, True, None
    pos = [k for k, e in enumerate(entries) if e[0] in ("int", "array", "mask")]
    return True, pos == list(range(pos[0], pos[-1] + 1)), pos[0]


def _entry_inputs(entries) -> list[list[int]]:
    """For each entry of an ``idx_list``, the positions of the index inputs it reads."""
    out, at = [], 0
    for e in entries:
        kind = e[0]
        n = (1 if e[1] == SYM else 0) if kind == "int" else sum(p == SYM for p in e[1:]) if kind == "slice" \
            else 1 if kind in ("array", "mask") else 0
        out.append(list(range(at, at + n)))
        at += n
    return out


def _advanced_ndim(entries, idx_inputs) -> int:
    """Dimensions of the broadcast advanced index (integers 0, arrays their rank, masks 1)."""
    nd = 0
    for e, pos in zip(entries, _entry_inputs(entries)):
        if e[0] == "array":
            nd = max(nd, idx_inputs[pos[0]].ndim)
        elif e[0] == "mask":
            nd = max(nd, 1)
    return nd


def _index(node, inputs, bdims):
    """subtensor, advanced_subtensor. A batched tensor: full slices are prepended to the index
    (non-adjacent advanced indices put their dimensions first: the batch dimensions are moved back
    to the front). Batched integer indices or index arrays (tensor not batched): they become index
    arrays whose leading dimensions are the batch."""
    name = node.op.name
    x, idx = inputs[0], inputs[1:]
    bx, bidx = bdims[0], bdims[1:]
    entries = node.op.params["idx_list"]
    if not any(bidx):
        out = _op(name, x, *idx, idx_list=(_FULL,) * bx + entries)
        advanced, contiguous, _ = _advanced_layout(entries)
        if advanced and not contiguous:
            A = _advanced_ndim(entries, node.inputs[1:])
            out = _ds(out, tuple(range(A, A + bx)) + tuple(range(A)) + tuple(range(A + bx, out.ndim)))
        return out
    if bx:
        raise NotImplementedError(f"vectorize_graph: op {name!r} with both the indexed tensor and its indices "
                                  f"batched is not supported")
    B = max(bidx)
    S = _advanced_ndim(entries, node.inputs[1:])
    new_entries, new_idx = [], list(idx)
    for e, pos in zip(entries, _entry_inputs(entries)):
        if not any(bidx[p] for p in pos):
            new_entries.append(e)
        elif e[0] in ("int", "array"):
            p = pos[0]
            b, c = bidx[p], node.inputs[1 + p].ndim
            new_idx[p] = _ds(idx[p], ("x",) * (B - b) + tuple(range(b)) + ("x",) * (S - c) + tuple(range(b, b + c)))
            new_entries.append(("array",))
        else:
            raise _unsupported(name, "slice bounds" if e[0] == "slice" else "a boolean mask")
    out = _op("advanced_subtensor", x, *new_idx, idx_list=tuple(new_entries))
    _, contiguous, first = _advanced_layout(new_entries)
    if contiguous and first:
        pre = sum(1 for e in new_entries[:first] if e[0] in ("slice", "new"))
        out = _ds(out, tuple(range(pre, pre + B)) + tuple(range(pre)) + tuple(range(pre + B, out.ndim)))
    return out


def _update(node, inputs, bdims):
    """set_subtensor, inc_subtensor: full slices are prepended to the index; the tensor is broadcast
    to the batch shape, the value's batch dimensions are aligned with it."""
    name = node.op.name
    x, y, idx = inputs[0], inputs[1], inputs[2:]
    bx, by, bidx = bdims[0], bdims[1], bdims[2:]
    if any(bidx):
        raise NotImplementedError(f"vectorize_graph: op {name!r} with batched indices is not supported")
    B = max(bx, by)
    entries = node.op.params["idx_list"]
    x = _pad(x, bx, B)
    x = _broadcast_batch(x, _batch_shape([x, _pad(y, by, B)], B))
    sub = len(index_shape(node.inputs[0].type, entries, node.inputs[2:]))
    yc = node.inputs[1].ndim
    y = _ds(y, ("x",) * (B - by) + tuple(range(by)) + ("x",) * (sub - yc) + tuple(range(by, by + yc)))
    advanced, contiguous, _ = _advanced_layout(entries)
    if advanced and not contiguous:  # the indexed region is (advanced dims, batch dims, the rest)
        A = _advanced_ndim(entries, node.inputs[2:])
        y = _ds(y, tuple(range(B, B + A)) + tuple(range(B)) + tuple(range(B + A, B + sub)))
    return _op(name, x, y, *idx, idx_list=(_FULL,) * B + entries)


def _batched_matmul(a, ba, na, b, bb, nb):
    """``matmul`` of ``a`` (``ba`` batch dims, ``na`` core dims) and ``b``: batched vectors become
    1-row / 1-column matrices, the core batch dimensions of both operands are aligned behind the
    new batch dimensions, and the added axes are dropped from the result."""
    B = max(ba, bb)
    drop_m = drop_n = False
    if na == 1 and ba:
        a, na, drop_m = _ds(a, tuple(range(ba)) + ("x", ba)), 2, True
    if nb == 1 and bb:
        b, nb, drop_n = _ds(b, tuple(range(bb)) + (bb, "x")), 2, True
    cb = max(n - 2 for n in (na, nb) if n >= 2)

    def lift(v, bv, nv):
        if nv == 1:  # an unbatched vector: matmul broadcasts it
            return v
        return _ds(v, ("x",) * (B - bv) + tuple(range(bv)) + ("x",) * (cb - nv + 2) + tuple(range(bv, bv + nv)))

    out = _op("matmul", lift(a, ba, na), lift(b, bb, nb))
    drop = set()
    if drop_n:
        drop.add(out.ndim - 1)
    if drop_m:
        drop.add(out.ndim - 2 if nb >= 2 else out.ndim - 1)
    return _ds(out, [d for d in range(out.ndim) if d not in drop]) if drop else out


def _matmul(node, inputs, bdims):
    """matmul batches natively once vectors are made matrices and core batch dims are aligned."""
    (a, b), (ba, bb) = inputs, bdims
    return _batched_matmul(a, ba, node.inputs[0].ndim, b, bb, node.inputs[1].ndim)


def _dot(node, inputs, bdims):
    """dot: a scalar operand is a product; a batched left operand alone batches natively (np.dot
    keeps all of its free axes in front); 1-d/2-d operands are a matmul; otherwise the
    tensordot-style contraction: reshape to matrices, batched matmul, reshape back."""
    a, b = (_strong(v) for v in inputs)
    ba, bb = bdims
    na, nb = node.inputs[0].ndim, node.inputs[1].ndim
    dtype = node.out.dtype
    if na == 0 or nb == 0:
        if na == 0:
            a = _ds(a, tuple(range(ba)) + ("x",) * nb)
        if nb == 0:
            b = _ds(b, tuple(range(bb)) + ("x",) * na)
        return _cast(_op("mul", a, b), dtype)
    if bb == 0:
        return _op("dot", a, b)
    if na <= 2 and nb <= 2:
        return _cast(_batched_matmul(a, ba, na, b, bb, nb), dtype)
    # a: (batch, free..., k); b: (batch, pre..., k, n)
    a_free = [_dim(a, ba + i) for i in range(na - 1)]
    b_pre = [_dim(b, bb + i) for i in range(nb - 2)]
    n = _dim(b, bb + nb - 1)
    a2 = reshape(a, [_dim(a, d) for d in range(ba)] + [_product(a_free), _dim(a, ba + na - 1)])
    bt = _ds(b, tuple(range(bb)) + (bb + nb - 2,) + tuple(range(bb, bb + nb - 2)) + (bb + nb - 1,))
    b2 = reshape(bt, [_dim(bt, d) for d in range(bb)] + [_dim(bt, bb), _product(b_pre + [n])])
    c = _batched_matmul(a2, ba, 2, b2, bb, 2)
    B = max(ba, bb)
    return _cast(reshape(c, [_dim(c, d) for d in range(B)] + a_free + b_pre + [n]), dtype)


def _core_ranks(node) -> tuple:
    """The core rank of each input of an op over stacks of matrices."""
    name, params = node.op.name, node.op.params
    if name in ("solve", "solve_triangular", "cho_solve", "blockwise_solve"):
        return 2, params.get("b_ndim", node.inputs[1].ndim)
    if name == "lu_solve":
        return 2, 1, params["b_ndim"]
    if name == "pivot_to_permutation":
        return (1,)
    return (2,) * len(node.inputs)


def _lift_stacks(node, inputs, bdims) -> list:
    """The inputs of an op over stacks with the new batch dimensions in front of the operands' own
    stack dimensions, both aligned across operands (broadcastable dimensions where missing)."""
    stacks = [i.ndim - c for i, c in zip(node.inputs, _core_ranks(node))]
    B, S = max(bdims), max(stacks)
    return [_ds(v, ("x",) * (B - b) + tuple(range(b)) + ("x",) * (S - s) + tuple(range(b, v.ndim)))
            for v, b, s in zip(inputs, bdims, stacks)]


def _stacked(node, inputs, bdims):
    """Ops over stacks of matrices whose stack dimensions broadcast as in ``np.matmul``
    (``matrix_inverse``, ``det``, ``cholesky``, ``solve_triangular``, ``qr``, ``svd``...): the op on
    the operands with their stack dimensions aligned."""
    lifted = _lift_stacks(node, inputs, bdims)
    if node.op.name == "lu_solve" and bdims[1] > bdims[0]:
        # the static batch shape of lu_solve comes from the factors and b: give the factors the pivots' batch
        lifted[0] = _broadcast_batch(lifted[0], _batch_shape(lifted, lifted[1].ndim - 1))
    return node.op(*lifted)


def _solve(node, inputs, bdims):
    """solve (one general matrix): batched as ``blockwise_solve``, scipy.linalg.solve over stacks
    (``nan`` for a singular system where ``solve`` raises, as PyTensor's batched solve)."""
    op = Op(OPS["blockwise_solve"], {"assume_a": "gen", "lower": False, "b_ndim": node.inputs[1].ndim})
    return _cast(op(*_lift_stacks(node, inputs, bdims)), node.out.dtype)


def _gemm(node, inputs, bdims):
    """gemm (``beta*C + alpha*dot(A, B)``) as its formula over a batched matmul."""
    c, alpha, a, b, beta = inputs
    prod = _batched_matmul(a, bdims[2], 2, b, bdims[3], 2)
    out = _op("add", _op("mul", alpha, prod), _op("mul", beta, c))
    return _cast(out, node.out.dtype)


def _gemv(node, inputs, bdims):
    """gemv (``beta*y + alpha*dot(A, x)``) as its formula over a batched matmul."""
    y, alpha, a, x, beta = inputs
    prod = _batched_matmul(a, bdims[2], 2, x, bdims[3], 1)
    out = _op("add", _op("mul", alpha, prod), _op("mul", beta, y))
    return _cast(out, node.out.dtype)


def _ger(node, inputs, bdims):
    """ger (``C + alpha*outer(x, y)``) as its formula with a batched outer product."""
    c, alpha, x, y = inputs
    bx, by = bdims[2], bdims[3]
    outer = _op("mul", _ds(x, tuple(range(bx)) + (bx, "x")), _ds(y, tuple(range(by)) + ("x", by)))
    return _cast(_op("add", c, _op("mul", alpha, outer)), node.out.dtype)


def _ifelse(node, inputs, bdims):
    """ifelse: an unbatched condition chooses lazily between the branches brought to one batch
    shape; a batched condition chooses per batch element (``switch``: both branches computed, so
    their per-element shapes must agree)."""
    cond, then, other = inputs
    big = max(bdims)
    t, e = _pad(then, bdims[1], big), _pad(other, bdims[2], big)
    batch = _batch_shape([t, e], big)
    t, e = _broadcast_batch(t, batch), _broadcast_batch(e, batch)
    if bdims[0] == 0:
        return node.op(cond, t, e)
    c = _ds(_pad(cond, bdims[0], big), tuple(range(big)) + ("x",) * node.out.ndim)
    return _op("switch", c, t, e)


def _random(node, inputs, bdims):
    """random, random_next: the parameters' new batch dimensions go in front, and in front of a
    given size (PyTensor's rule), so one generator draws the whole batch; the generator and the
    size themselves cannot be batched."""
    if bdims[0] or bdims[1]:
        raise NotImplementedError(f"vectorize_graph: op {node.op.name!r} cannot be batched over its generator or "
                                  f"its size (one generator draws the whole batch)")
    big = max(bdims)
    params = [_pad(p, b, big) for p, b in zip(inputs[2:], bdims[2:])]
    size = inputs[1]
    if node.op.params["sized"]:
        size = as_shape_vector(_batch_shape(params, big) + _shape_entries(size), "size")
    return node.op(inputs[0], size, *params)


#: op name -> batching rule ``rule(node, batched_inputs, batch_ranks) -> batched output``.
#: Elementwise ops and reductions get theirs from their family.
BATCHING: dict = {
    **{name: _same_op for name, d in OPS.items() if d.kind == "elemwise"},
    **{name: _reduce for name, d in OPS.items() if d.kind == "reduce"},
    "softmax": _axis_op, "log_softmax": _axis_op,
    "cumsum": _one_axis, "cumprod": _one_axis, "sort": _one_axis, "argsort": _one_axis, "repeat": _repeat,
    "dimshuffle": _dimshuffle, "reshape": _reshape, "shape": _shape, "shape_i": _shape_i,
    "specify_shape": _specify_shape,
    "alloc": _alloc, "concatenate": _concatenate, "make_vector": _make_vector,
    "subtensor": _index, "advanced_subtensor": _index, "set_subtensor": _update, "inc_subtensor": _update,
    "matmul": _matmul, "dot": _dot, "solve": _solve,
    **{name: _stacked for name in ("matrix_inverse", "det", "cholesky", "cholesky_grad", "solve_triangular", "cho_solve",
                                   "blockwise_solve", "lu", "lu_factor", "lu_solve", "pivot_to_permutation", "qr",
                                   "expm", "eigvalsh", "pinv", "slogdet", "eig", "eigh", "svd")},
    "gemm": _gemm, "gemv": _gemv, "ger": _ger, "ifelse": _ifelse, "random": _random, "random_next": _random,
    **{name: _same_op for name in ("zero_grad", "disconnected_grad", "undefined_grad", "grad_clip", "grad_scale",
                                   "print")},
}

#: op name -> why it has no batching rule (a use whose inputs are not batched is kept as it is)
NOT_BATCHED: dict[str, str] = {
    "arange": "the length of the result is the value of its inputs: a batch would be ragged",
    "eye": "the shape of the result is the value of its inputs: a batch would be ragged",
    "tri": "the shape of the result is the value of its inputs: a batch would be ragged",
    "scan": "the inner graph would have to be vectorized (not implemented)",
    "searchsorted": "one sorted vector per search: a batch of vectors needs a loop (not implemented)",
    "unique": "the length of the result depends on the values: a batch would be ragged",
    "check": "a run-time assertion on a condition of its own (not implemented)",
}


def batching_rule(name: str):
    """The batching rule of op ``name``; ``NotImplementedError`` naming the op if it has none.

    >>> batching_rule("exp").__name__, batching_rule("sum").__name__
    ('_same_op', '_reduce')
    >>> batching_rule("arange")
    Traceback (most recent call last):
    ...
    NotImplementedError: vectorize_graph: op 'arange' has no batching rule: the length of the result is the value of \
its inputs: a batch would be ragged
    """
    rule = BATCHING.get(name)
    if rule is not None:
        return rule
    why = NOT_BATCHED.get(name, "none was written (add one to eqtensor.core.vectorize.BATCHING)")
    raise NotImplementedError(f"vectorize_graph: op {name!r} has no batching rule: {why}")


def vectorize_node(node, *batched_inputs) -> Variable:
    """The output of ``node`` computed on ``batched_inputs`` (its inputs with extra leading
    dimensions, possibly none): the node rebuilt, or its op's batching rule applied.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dmatrix("x")
    >>> s = x.sum(axis=1)
    >>> vectorize_node(s.owner, pt.tensor3("xb")).owner.op
    sum{axis=(2,), keepdims=False}
    """
    if len(batched_inputs) != len(node.inputs):
        raise ValueError(f"vectorize_node: {node.op} takes {len(node.inputs)} inputs, got {len(batched_inputs)}")
    bdims = [v.ndim - i.ndim for v, i in zip(batched_inputs, node.inputs)]
    for v, i, b in zip(batched_inputs, node.inputs, bdims):
        if b < 0:
            raise ValueError(f"vectorize_node: {v} ({v.type}) has fewer dimensions than the input {i} ({i.type}) "
                             f"of {node.op} it replaces")
    if not any(bdims):
        if all(v is i for v, i in zip(batched_inputs, node.inputs)):
            return node.out
        return node.op(*batched_inputs)
    out = batching_rule(node.op.name)(node, list(batched_inputs), bdims)
    assert out.ndim >= node.out.ndim, (node.op, out.type, node.out.type)
    return out


def vectorize_graph(outputs, replace):
    """``outputs`` (a variable or a sequence) computed from ``replace``'s values, which have extra
    leading (batch) dimensions: ``vectorize_graph(y, {x: xb})`` with ``xb`` of shape
    ``(batch..., *x.shape)`` gives ``yb[i] == y(x=xb[i])``. Replaced variables may be intermediate
    ones; inputs with different batch shapes broadcast. Outputs that do not depend on a replaced
    variable are returned as they are. Returns a variable or a list, as given.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> first, last = x[0], x[-1]
    >>> xb = pt.dmatrix("xb")
    >>> fb, lb = vectorize_graph([first, last], {x: xb})
    >>> fb.eval({xb: np.arange(6.0).reshape(2, 3)}), lb.eval({xb: np.arange(6.0).reshape(2, 3)})
    (array([0., 3.]), array([2., 5.]))
    """
    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    if not all(isinstance(k, Variable) and isinstance(v, Variable) for k, v in replace.items()):
        raise ValueError(f"Some of the replaced items are not Variables: {replace}")
    memo: dict[int, Variable] = {}
    for old, new in replace.items():
        if new.ndim < old.ndim:
            raise ValueError(f"vectorize_graph: the replacement {new} ({new.type}) of {old} ({old.type}) has fewer "
                             f"dimensions; batch dimensions are added in front")
        memo[id(old)] = new
    for node in iter_toposort(outs, blockers=list(replace)):
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        memo[id(node.out)] = vectorize_node(node, *new_inputs)
    result = [memo.get(id(o), o) for o in outs]
    return result[0] if single else result


__all__ = ["BATCHING", "NOT_BATCHED", "batching_rule", "vectorize_graph", "vectorize_node"]
