"""Indexing with NumPy 2 semantics: ``x[idx]``, ``set_subtensor``, ``inc_subtensor``, ``take``.

Basic indexing (ints, slices, ``None``, ``...``) is the op ``subtensor`` and returns a view;
anything with an integer or boolean index array is ``advanced_subtensor`` (a copy), following
NumPy's rules for mixing advanced and basic indices (integer scalars then join the advanced
indices; the broadcast index dimensions go in place when the advanced indices are adjacent, first
otherwise). Slice bounds and integer indices may be symbolic integer scalars.

>>> from eqtensor import tensor as pt
>>> x = pt.matrix("x", shape=(5, 6))
>>> x[1:4, ::2].type.shape, x[0].type.shape, x[None, ..., -1].type.shape
((3, 3), (6,), (1, 5))
>>> x[[0, 2, 2]].type.shape, x[x > 0].type.shape
((3, 6), (None,))
>>> x[1:, ::2, None].owner.op, x[pt.lscalar("i"), [0, 1]].owner.op
(subtensor[1:, ::2, None], advanced_subtensor[?, [?]])
>>> x[7]
Traceback (most recent call last):
...
IndexError: index 7 is out of bounds for axis 0 with size 5

The index is stored in the op's ``idx_list`` parameter, one entry per index item:
``("int", v)``, ``("slice", start, stop, step)``, ``("new",)``, ``("ellipsis",)`` (kept only where it
stands for no dimension between advanced indices), ``("array",)`` and ``("mask", ndim)``; a ``v``,
``start``, ``stop`` or ``step`` equal to :data:`SYM` and every array or mask is the next index input.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT_DTYPES, promote
from ..graph import Constant, Variable
from ..op import OPS, Op, _cast_weak, _is_weak, as_tensor_variable, declare, normalize_axis
from ..graph import TensorType
from .elemwise import cast
from .shape import as_axis, dimshuffle, flatten, shape_i

#: marks an index component given by the next symbolic input
SYM = "?"


# ----------------------------------------------------------------------------- parsing
def _as_index_var(item):

    if isinstance(item, list) and len(item) == 0:
        return Constant(np.zeros(0, dtype="int64"))
    return as_tensor_variable(item)


def _slice_part(p, inputs):
    if p is None:
        return None
    if isinstance(p, (bool, np.bool_)):
        raise TypeError(f"slice indices must be integers, None or integer scalars, got {p!r}")
    if isinstance(p, (int, np.integer)):
        return int(p)
    v = _as_index_var(p)
    if v.ndim != 0 or v.dtype not in INT_DTYPES:
        raise TypeError(f"slice indices must be integers, None or integer scalars, got {v} of type {v.type}")
    if isinstance(v, Constant):
        return int(v.data)
    inputs.append(v)
    return SYM


def parse_index(x: Variable, idx) -> tuple[tuple, list]:
    """``(idx_list, index inputs)`` for ``x[idx]``; raises IndexError/TypeError as NumPy would."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    entries: list = []
    inputs: list = []
    ellipsis_at = None
    consumed = 0
    for item in idx:
        if item is None:
            entries.append(("new",))
        elif item is Ellipsis:
            if ellipsis_at is not None:
                raise IndexError("an index can only have a single ellipsis ('...')")
            ellipsis_at = len(entries)
        elif isinstance(item, slice):
            entries.append(("slice",) + tuple(_slice_part(p, inputs) for p in (item.start, item.stop, item.step)))
            consumed += 1
        elif isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            entries.append(("int", int(item)))
            consumed += 1
        else:
            v = Constant(np.asarray(item)) if isinstance(item, (bool, np.bool_)) else _as_index_var(item)
            if v.dtype == "bool":
                entries.append(("mask", v.ndim))
                inputs.append(v)
                consumed += v.ndim
            elif v.dtype in INT_DTYPES:
                consumed += 1
                if v.ndim == 0 and isinstance(v, Constant):
                    entries.append(("int", int(v.data)))
                elif v.ndim == 0:
                    entries.append(("int", SYM))
                    inputs.append(v)
                else:
                    entries.append(("array",))
                    inputs.append(v)
            else:
                raise IndexError(
                    f"only integers, slices, None, ..., and integer or boolean arrays are valid indices; "
                    f"got {item!r} of dtype {v.dtype}"
                )
    if consumed > x.ndim:
        raise IndexError(f"too many indices for {x}: it has {x.ndim} dimensions but {consumed} were indexed")
    fill = [("slice", None, None, None)] * (x.ndim - consumed)
    advanced = any(e[0] in ("array", "mask") for e in entries)
    if ellipsis_at is None:
        entries += fill
    elif fill or not advanced:
        entries[ellipsis_at:ellipsis_at] = fill
    else:
        entries.insert(ellipsis_at, ("ellipsis",))
    return tuple(entries), inputs


# ----------------------------------------------------------------------------- static shapes
def _slice_len(n, parts):
    if parts[2] == 0:
        raise ValueError("slice step cannot be zero")
    if SYM in parts:
        return None
    if n is None:
        return _empty_slice_len(parts)
    return len(range(n)[slice(*parts)])


def _empty_slice_len(parts):
    """0 when the slice is empty whatever the length (``x[1:1]``, ``x[-1:-1:3]``), else None."""
    start, stop, step = parts
    step = 1 if step is None else step
    if step > 0 and start is None:
        start = 0
    if start is None or stop is None or (start < 0) != (stop < 0):
        return None
    return 0 if (stop <= start if step > 0 else stop >= start) else None


def _broadcast_index_shapes(shapes):
    nd = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded):
        known = {s for s in dims if s is not None and s != 1}
        if len(known) > 1:
            raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together with static "
                             f"shapes {' '.join(str(tuple(s)) for s in shapes)}")
        out.append(known.pop() if known else 1 if all(s == 1 for s in dims) else None)
    return tuple(out)


def index_shape(x_type: TensorType, entries, idx_inputs) -> tuple:
    """Static shape of ``x[idx]``; checks static bounds, mask shapes and index broadcasting."""
    xs = x_type.shape
    advanced = any(e[0] in ("array", "mask") for e in entries)
    it = iter(idx_inputs)
    d = 0
    parts: list[tuple] = []
    adv_shapes, adv_pos = [], []
    for k, e in enumerate(entries):
        kind = e[0]
        if kind in ("new", "ellipsis"):
            parts.append((1,) if kind == "new" else ())
            continue
        n = xs[d]
        if kind == "int":
            v = next(it) if e[1] == SYM else e[1]
            if not isinstance(v, Variable) and n is not None and not -n <= v < n:
                raise IndexError(f"index {v} is out of bounds for axis {d} with size {n}")
            parts.append(())
            if advanced:
                adv_shapes.append(())
                adv_pos.append(k)
            d += 1
        elif kind == "slice":
            for p in e[1:]:
                if p == SYM:
                    next(it)
            parts.append((_slice_len(n, e[1:]),))
            d += 1
        elif kind == "array":
            v = next(it)
            if isinstance(v, Constant) and n is not None and v.data.size:
                lo, hi = int(v.data.min()), int(v.data.max())
                if lo < -n or hi >= n:
                    raise IndexError(f"index {hi if hi >= n else lo} is out of bounds for axis {d} with size {n}")
            parts.append(())
            adv_shapes.append(v.type.shape)
            adv_pos.append(k)
            d += 1
        else:  # mask
            v = next(it)
            for j, (m, s) in enumerate(zip(v.type.shape, xs[d:d + e[1]])):
                if m is not None and s is not None and m != s:
                    raise IndexError(f"boolean index did not match indexed tensor along axis {d + j}; size of "
                                     f"axis is {s} but size of corresponding boolean axis is {m}")
            parts.append(())
            adv_shapes.append((int(np.count_nonzero(v.data)) if isinstance(v, Constant) else None,))
            adv_pos.append(k)
            d += e[1]
    if not advanced:
        return tuple(s for p in parts for s in p)
    bshape = _broadcast_index_shapes(adv_shapes)
    if adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1)):
        out = []
        for k, p in enumerate(parts):
            out.extend(bshape if k == adv_pos[0] else p)
        return tuple(out)
    return bshape + tuple(s for p in parts for s in p)


def build_index(entries, values, traced: bool = False) -> tuple:
    """The NumPy index tuple for ``entries`` with the run-time values of the index inputs.

    ``traced``: the values may be traced arrays (the JAX backend): integer and integer-array
    indices are used as they are; slice bounds and boolean masks must be known values."""
    it = iter(values)
    out = []
    for e in entries:
        kind = e[0]
        if kind == "new":
            out.append(None)
        elif kind == "ellipsis":
            out.append(Ellipsis)
        elif kind == "int":
            out.append((next(it) if traced else int(next(it))) if e[1] == SYM else e[1])
        elif kind == "slice":
            out.append(slice(*(int(next(it)) if p == SYM else p for p in e[1:])))
        else:
            v = next(it)
            out.append(v if traced and kind != "mask" else np.asarray(v))
    return tuple(out)


def _is_advanced(entries) -> bool:
    return any(e[0] in ("array", "mask") for e in entries)


# ----------------------------------------------------------------------------- ops
def _subtensor_infer(op, inputs):
    x = inputs[0]
    return TensorType(x.dtype, index_shape(x.type, op.params["idx_list"], inputs[1:]))


def _subtensor_perform(x, *idx, idx_list):
    return np.asarray(x[build_index(idx_list, idx)])


def _fmt_entry(e):
    kind = e[0]
    if kind in ("int", "slice"):
        parts = ["" if p is None else str(p) for p in e[1:]]
        return parts[0] if kind == "int" else ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    return {"new": "None", "ellipsis": "...", "array": "[?]", "mask": "<mask>"}[kind]


def _formatter(name):
    def fmt(params):
        return f"{name}[{', '.join(_fmt_entry(e) for e in params['idx_list'])}]"

    return fmt


declare("subtensor", "index", None, _subtensor_infer, _subtensor_perform, params=("idx_list",), cost=0,
        view_of=0, doc="basic indexing x[ints, slices, None, ...] (a view)",
        format=_formatter("subtensor"))
declare("advanced_subtensor", "index", None, _subtensor_infer, _subtensor_perform, params=("idx_list",),
        cost=1, doc="indexing with integer or boolean index arrays (a copy)",
        format=_formatter("advanced_subtensor"))


def _check_update_value(opname, x, y, sub_shape):
    if y.ndim > len(sub_shape):  # more dimensions than the indexed part: a TypeError, as PyTensor's
        raise TypeError(f"{opname}: y of static shape {y.type.shape} cannot be broadcast to the indexed "
                        f"shape {sub_shape}")
    for ys, ss in zip(reversed(y.type.shape), reversed(sub_shape)):
        if ys is not None and ss is not None and ys != 1 and ys != ss:
            raise ValueError(f"{opname}: y of static shape {y.type.shape} cannot be broadcast to the indexed "
                             f"shape {sub_shape}")
    if not np.can_cast(y.dtype, x.dtype, "safe"):
        raise TypeError(f"{opname}: y of dtype {y.dtype} cannot be stored in x of dtype {x.dtype} without "
                        f"losing information; cast y first")


def _update_infer(op, inputs):
    x, y = inputs[:2]
    sub = index_shape(x.type, op.params["idx_list"], inputs[2:])
    _check_update_value(op.name, x, y, sub)
    return x.type


def _set_perform(x, y, *idx, idx_list):
    out = np.array(x, copy=True)
    out[build_index(idx_list, idx)] = y
    return out


def _inc_perform(x, y, *idx, idx_list):
    out = np.array(x, copy=True)
    key = build_index(idx_list, idx)
    if _is_advanced(idx_list):
        np.add.at(out, key, y)
    else:
        out[key] += y
    return out


declare("set_subtensor", "index", None, _update_infer, _set_perform, params=("idx_list",), cost=1,
        doc="a copy of x with x[idx] replaced by y (broadcast)", format=_formatter("set_subtensor"))
declare("inc_subtensor", "index", None, _update_infer, _inc_perform, params=("idx_list",), cost=1,
        doc="a copy of x with y added at x[idx] (repeated advanced indices accumulate)",
        format=_formatter("inc_subtensor"))


# ----------------------------------------------------------------------------- builders
def getitem(x, idx):
    """``x[idx]`` with NumPy 2 semantics (see the module docstring).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> x[::-2].eval({x: np.arange(5.0)})
    array([4., 2., 0.])
    """

    x = as_tensor_variable(x)
    key = idx[0] if isinstance(idx, tuple) and len(idx) == 1 else idx
    if x.owner is not None and x.owner.op.name == "shape":
        if isinstance(key, Constant) and key.ndim == 0 and key.dtype in INT_DTYPES:
            key = int(key.data)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            src = x.owner.inputs[0]
            if not -src.ndim <= key < src.ndim:
                raise IndexError(f"index {key} is out of bounds for axis 0 with size {src.ndim}")
            return shape_i(src, key)
    entries, inputs = parse_index(x, idx)
    if any(e[0] == "new" for e in entries) and all(e[0] == "new" or e == _FULL for e in entries):
        # only new axes and full slices (x[None], x[:, None]): a dimshuffle, as PyTensor
        return dimshuffle(x, *_new_axes_order(entries))
    name = "advanced_subtensor" if _is_advanced(entries) else "subtensor"
    return Op(OPS[name], {"idx_list": entries})(x, *inputs)


_FULL = ("slice", None, None, None)


def _new_axes_order(entries) -> list:
    """The dimshuffle order of an index made of new axes and full slices."""
    order, axis = [], 0
    for e in entries:
        if e[0] == "new":
            order.append("x")
        else:
            order.append(axis)
            axis += 1
    return order


def _update(opname, x, y):

    node = x.owner if isinstance(x, Variable) else None
    if node is not None and node.op.name == "dimshuffle" and _only_new_axes(node.op.params["order"]):
        entries = tuple(("new",) if d == "x" else _FULL for d in node.op.params["order"])  # x[:, None]
        return _updated(opname, node.inputs[0], y, entries, ())
    if node is None or node.op.name not in ("subtensor", "advanced_subtensor"):
        raise TypeError(f"{opname}: the first argument must be an indexed tensor x[idx], got {x!r}")
    return _updated(opname, node.inputs[0], y, node.op.params["idx_list"], node.inputs[1:])


def _only_new_axes(order) -> bool:
    return [d for d in order if d != "x"] == list(range(len([d for d in order if d != "x"])))


def _updated(opname, base, y, idx_list, idx_inputs):
    y = as_tensor_variable(y)
    if _is_weak(y):
        kind = type(y.data.item())
        if promote([base.dtype, kind]) != base.dtype:
            raise TypeError(f"{opname}: a Python {kind.__name__} cannot be stored in x of dtype {base.dtype} "
                            f"without losing information; cast it first")
        y = _cast_weak(opname, y, base.dtype)
    return Op(OPS[opname], {"idx_list": idx_list})(base, y, *idx_inputs)


def set_subtensor(x, y, inplace=False, tolerate_inplace_aliasing=False):
    """A copy of the tensor indexed by ``x`` (which must be ``t[idx]``) with ``t[idx] = y``
    (``x.set(y)``). A ``y`` whose static shape cannot broadcast to ``t[idx]`` is refused when the
    graph is built. ``inplace`` and ``tolerate_inplace_aliasing`` are accepted for PyTensor
    compatibility: the backends decide what runs in place.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> t = pt.dvector("t")
    >>> pt.set_subtensor(t[1:], 5.0).eval({t: np.zeros(3)})
    array([0., 5., 5.])
    """
    return _update("set_subtensor", x, y)


def inc_subtensor(x, y, inplace=False, set_instead_of_inc=False, tolerate_inplace_aliasing=False,
                  ignore_duplicates=False):
    """A copy of the tensor indexed by ``x`` (``t[idx]``) with ``y`` added at ``idx`` (``x.inc(y)``);
    repeated advanced indices accumulate (``np.add.at``) unless ``ignore_duplicates=True`` (then
    ``t[idx] += y`` as NumPy computes it: the last write wins). ``set_instead_of_inc=True`` is
    :func:`set_subtensor`.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> t = pt.dvector("t")
    >>> pt.inc_subtensor(t[[0, 0, 2]], 1.0).eval({t: np.zeros(3)})
    array([2., 0., 1.])
    >>> pt.inc_subtensor(t[[0, 0, 2]], 1.0, ignore_duplicates=True).eval({t: np.zeros(3)})
    array([1., 0., 1.])
    """
    if set_instead_of_inc:
        return _update("set_subtensor", x, y)
    node = x.owner if isinstance(x, Variable) else None
    if ignore_duplicates and node is not None and node.op.name == "advanced_subtensor":
        return _update("set_subtensor", x, _add_to(x, y))  # x is t[idx]: t[idx] = t[idx] + y
    return _update("inc_subtensor", x, y)


def _add_to(picked, y):
    """``picked + y`` in ``picked``'s dtype (the value an increment stores)."""
    y = as_tensor_variable(y)
    if _is_weak(y):
        y = _cast_weak("inc_subtensor", y, picked.dtype)
    return cast(Op(OPS["add"])(picked, y), picked.dtype)


def take(a, indices, axis=None, mode="raise"):
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened ``a`` when None), as
    ``np.take``; ``mode`` is ``"raise"`` (out-of-range indices are an error; None too, as PyTensor),
    ``"wrap"`` or ``"clip"``.

    >>> from eqtensor import tensor as pt
    >>> pt.take(pt.matrix("a", shape=(3, 4)), [2, 0], axis=1).type.shape
    (3, 2)
    >>> import numpy as np
    >>> pt.take(np.arange(4), [5, -6], mode="wrap").eval()
    array([1, 2])
    """

    a = as_tensor_variable(a)
    indices = _as_index_var(indices)
    if indices.dtype == "bool":
        indices = cast(indices, "int64")
    elif indices.dtype not in INT_DTYPES:
        raise TypeError(f"take: indices must be integers, got dtype {indices.dtype}")
    if mode is None:  # PyTensor's default indexing
        mode = "raise"
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if axis is None:
        a, axis = flatten(a), 0
    else:
        (axis,) = normalize_axis(as_axis(axis), a.ndim, "take")
    if mode != "raise":
        n = a.type.shape[axis] if a.type.shape[axis] is not None else shape_i(a, axis)
        idx = cast(indices, "int64")
        if mode == "wrap":
            indices = Op(OPS["mod"])(idx, n)
        else:
            indices = Op(OPS["clip"])(idx, 0, Op(OPS["sub"])(n, 1) if isinstance(n, Variable) else n - 1)
    return getitem(a, (slice(None),) * axis + (indices,))


def slice_at_axis(sl, axis: int) -> tuple:
    """An index applying ``sl`` along ``axis`` and ``:`` along the others (PyTensor's and NumPy's
    helper): ``x[slice_at_axis(sl, 1)]`` is ``x[:, sl]``, ``x[slice_at_axis(sl, -1)]`` is ``x[..., sl]``.

    >>> slice_at_axis(slice(None, 3, 2), 1)
    (slice(None, None, None), slice(None, 3, 2), Ellipsis)
    """
    axis = int(axis)
    if axis >= 0:
        return (slice(None),) * axis + (sl,) + (...,)
    return (..., sl) + (slice(None),) * (-axis - 1)


__all__ = ["inc_subtensor", "set_subtensor", "slice_at_axis", "take"]
