"""Lowering of shape, creation, indexing, sorting and marker ops.

JAX traces with static shapes: the inputs that decide a shape (a reshape's target, an alloc's
dimensions, slice bounds, a boolean mask, repeat counts, arange/eye/tri arguments) must be known
when the graph is traced. :data:`STATIC` says which input positions of an op are such inputs; the
tracer (:mod:`eqtensor.backends.jax.trace`) passes them as NumPy values (computed from constants and
static shapes, or from function inputs made static arguments of the jitted function).
"""

from __future__ import annotations

import numpy as np

from ...core.ops.subtensor import build_index
from . import runtime as rt
from .casts import cast


def _ints(values):
    return tuple(int(v) for v in values)


def _dimshuffle(node, x):
    order = node.op.params["order"]
    kept = [d for d in order if d != "x"]
    dropped = tuple(d for d in range(x.ndim) if d not in kept)
    if dropped:
        x = rt.lax.squeeze(x, dropped)
        kept = [k - sum(1 for d in dropped if d < k) for k in kept]
    x = rt.jnp.transpose(x, kept)
    it = iter(x.shape)
    return x.reshape(tuple(1 if d == "x" else next(it) for d in order))


def _make_vector(node, *xs):
    dtype = node.out.dtype
    if not xs:
        return rt.jnp.zeros((0,), dtype)
    return rt.jnp.stack([rt.jnp.asarray(cast(x, dtype)) for x in xs])


def _specify_shape(node, x, *dims):
    it = iter(dims)
    want = [int(next(it)) if s == "?" else s for s in node.op.params["shape"]]
    if x.ndim != len(want) or any(w is not None and w != n for w, n in zip(want, x.shape)):
        raise AssertionError(f"specify_shape: got shape {tuple(x.shape)}, expected {tuple(want)}")
    return x


def _subtensor(node, x, *idx):
    return rt.jnp.asarray(x)[build_index(node.op.params["idx_list"], idx, traced=True)]


def _update(node, x, y, *idx):
    at = rt.jnp.asarray(x).at[build_index(node.op.params["idx_list"], idx, traced=True)]
    y = cast(y, node.out.dtype)
    return at.set(y) if node.op.name == "set_subtensor" else at.add(y)


def _index_static(first):
    """Positions of an indexing node's inputs that decide shapes: slice bounds and masks."""
    def positions(node):
        out, k = [], first
        for e in node.op.params["idx_list"]:
            if e[0] == "int" and e[1] == "?" or e[0] == "array":
                k += 1
            elif e[0] == "slice":
                for p in e[1:]:
                    if p == "?":
                        out.append(k)
                        k += 1
            elif e[0] == "mask":
                out.append(k)
                k += 1
        return out
    return positions


def _repeat(node, x, reps):
    axis = node.op.params["axis"]
    reps = np.asarray(reps)
    total = int(reps.sum()) if reps.size > 1 else int(reps.reshape(-1)[0]) * x.shape[axis] if reps.size else 0
    return rt.jnp.repeat(x, reps, axis=axis, total_repeat_length=total)


def _identity(node, x):
    return x


def _concatenate(node, *xs):
    return rt.jnp.concatenate([cast(x, node.out.dtype) for x in xs], axis=node.op.params["axis"])


def _searchsorted(node, x, v):
    common = np.result_type(np.dtype(node.inputs[0].dtype), np.dtype(node.inputs[1].dtype))
    return rt.jnp.searchsorted(cast(x, common), cast(v, common), side=node.op.params["side"]).astype("int64")


def _print(node, x):
    """The value, printed by the op's ``perform`` on the host each time the program computes it."""
    rt.jax.debug.callback(lambda v: node.op.perform(np.asarray(v)), x)
    return x


def _creation(fn):
    return lambda node, *args: fn(*_ints(args), dtype=node.op.params["dtype"])


#: op name -> lowering(node, *values)
STRUCTURAL = {
    "dimshuffle": _dimshuffle,
    "shape": lambda node, x: np.array(np.shape(x), dtype="int64"),
    "shape_i": lambda node, x: np.array(np.shape(x)[node.op.params["i"]], dtype="int64"),
    "make_vector": _make_vector,
    "reshape": lambda node, x, shp: rt.jnp.reshape(x, _ints(shp)),
    "specify_shape": _specify_shape,
    "concatenate": _concatenate,
    "alloc": lambda node, v, *dims: rt.jnp.broadcast_to(cast(v, node.out.dtype), _ints(dims)),
    "arange": lambda node, a, b, c: rt.jnp.arange(a.item(), b.item(), c.item(), dtype=node.op.params["dtype"]),
    "eye": _creation(lambda n, m, k, dtype: rt.jnp.eye(n, m, k, dtype=dtype)),
    "tri": _creation(lambda n, m, k, dtype: rt.jnp.tri(n, m, k, dtype=dtype)),
    "subtensor": _subtensor,
    "advanced_subtensor": _subtensor,
    "set_subtensor": _update,
    "inc_subtensor": _update,
    "sort": lambda node, x: rt.jnp.sort(x, axis=node.op.params["axis"]),
    "argsort": lambda node, x: rt.jnp.argsort(x, axis=node.op.params["axis"], stable=True).astype("int64"),
    "cumsum": lambda node, x: rt.jnp.cumsum(x, axis=node.op.params["axis"], dtype=node.out.dtype),
    "cumprod": lambda node, x: rt.jnp.cumprod(x, axis=node.op.params["axis"], dtype=node.out.dtype),
    "repeat": _repeat,
    "searchsorted": _searchsorted,
    "print": _print,
    **{name: _identity for name in ("disconnected_grad", "grad_clip", "grad_scale", "undefined_grad", "zero_grad")},
}

#: op name -> positions of the inputs that must be known while tracing (they decide shapes)
STRUCTURAL_STATIC = {
    "reshape": lambda node: (1,),
    "specify_shape": lambda node: range(1, len(node.inputs)),
    "alloc": lambda node: range(1, len(node.inputs)),
    "arange": lambda node: (0, 1, 2),
    "eye": lambda node: (0, 1, 2),
    "tri": lambda node: (0, 1, 2),
    "subtensor": _index_static(1),
    "advanced_subtensor": _index_static(1),
    "set_subtensor": _index_static(2),
    "inc_subtensor": _index_static(2),
    "repeat": lambda node: (1,),
}
