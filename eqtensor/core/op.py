"""The op table: every operation is declared once, as an :class:`OpDef`.

An ``OpDef`` says what an op *is*:

- its name, kind and parameters, its type rule (``infer``) and its NumPy implementation
  (``perform``, plus an optional inline template for the generated NumPy backend, or a ufunc);
- its cost: ``cost`` per output element (per input element for reductions), or ``flops`` for ops
  whose work is not proportional to their output (``flops(op, input_types, input_values)``, where
  ``input_values`` holds the NumPy value of each constant input, else None); ``unstable``, an
  extra cost per element for ops whose naive compositions overflow or cancel (``exp``, ``log``);
  ``absorbs_producers`` for reductions and row ops (``nnet``) whose kernel computes fused producers in
  its input loop;
- how it is checked: ``reference``, a high-precision definition in mpmath (an elementwise op:
  ``reference(mp, *scalars, **params)``; a reduction: ``reference(mp, values)`` over the reduced
  values; other ops: ``reference(mp, *object_arrays, **params)``), used by the rule checker and
  the per-op tests; ``grad_domain``, one ``(low, high)`` interval per input where its derivative
  is checked by finite differences;
- which input its output may be a view of, whether it is differentiable, its doc and how it prints.

An :class:`Op` is an ``OpDef`` with bound parameter values; calling it on variables builds a node.
The C kernels (:mod:`eqtensor.backends.c`) and VJP rules (:mod:`eqtensor.rules.gradients`) are
tables keyed by the op name; tests derived from :data:`OPS` fail when an op lacks one of its pieces.

>>> OPS["exp"].kind, OPS["exp"].nin, OPS["exp"].grad_domain
('elemwise', 1, ((-2.0, 2.0),))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .config import config
from .dtypes import as_dtype, promote
from .graph import Apply, Constant, TensorType, Variable

#: name -> OpDef, the single table of every op
OPS: dict[str, "OpDef"] = {}


#: op kinds never evaluated at compile time, even on constant inputs: ``creation`` (their outputs
#: may be large) and ``effect`` (a side effect at run time, e.g. ``printing.Print``)
NEVER_FOLDED = ("creation", "effect")


@dataclass(frozen=True)
class OpDef:
    """Declaration of one op. See the module docstring."""

    name: str
    kind: str  # elemwise | reduce | shape | linalg | creation | nnet | index | blas | effect | other
    nin: int | None  # number of inputs; None = variadic
    infer: Callable[["Op", tuple[Variable, ...]], TensorType]
    perform: Callable[..., Any]  # perform(*arrays, **params) -> ndarray
    cost: float = 1.0
    flops: Callable | None = None  # flops(op, input_types, input_values) -> total cost
    unstable: float = 0.0
    absorbs_producers: bool = True
    params: tuple[str, ...] = ()
    numpy: str | None = None  # inline template, e.g. "np.sum({0}, axis={axis})"
    ufunc: Any = None  # NumPy ufunc computing the op elementwise (enables out=)
    view_of: int | None = None  # output may share memory with this input
    differentiable: bool = True
    reference: Callable | None = None
    grad_domain: tuple | None = None
    compare: bool = False  # a comparison: out-of-range Python ints compare exactly (NumPy 2)
    format: Callable | None = None  # format(params) -> how the op prints
    doc: str = ""

    def __call__(self, **params) -> "Op":
        return Op(self, params)


class Op:
    """An op with bound parameters; calling it on inputs builds a graph node."""

    __slots__ = ("defn", "params", "_key")

    def __init__(self, defn: OpDef, params: dict | None = None):
        params = dict(params or {})
        unknown = set(params) - set(defn.params)
        missing = set(defn.params) - set(params)
        if unknown or missing:
            raise TypeError(
                f"op {defn.name} takes parameters {defn.params}; unknown {sorted(unknown)}, "
                f"missing {sorted(missing)}"
            )
        object.__setattr__(self, "defn", defn)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "_key", (defn.name, tuple((k, params[k]) for k in defn.params)))

    def __setattr__(self, name, value):
        raise AttributeError("Op is immutable")

    @property
    def name(self) -> str:
        return self.defn.name

    @property
    def key(self):
        return self._key

    def __eq__(self, other):
        return isinstance(other, Op) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        fmt = self.defn.format
        if fmt is not None:
            return fmt(self.params)
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v!r}" for k, v in self._key[1])
        return f"{self.name}{{{inner}}}"

    def __getattr__(self, item):
        params = object.__getattribute__(self, "params")
        if item in params:
            return params[item]
        raise AttributeError(item)

    def __call__(self, *inputs) -> Variable:
        defn = self.defn
        if defn.nin is not None and len(inputs) != defn.nin:
            raise TypeError(f"{self.name} takes {defn.nin} inputs, got {len(inputs)}")
        inputs = tuple(as_tensor_variable(i) for i in inputs)
        if defn.kind == "elemwise":
            inputs = prepare_elemwise_inputs(self.name, inputs)
        out_type = defn.infer(self, inputs)
        return Apply(self, inputs, out_type).out

    def perform(self, *arrays):
        return self.defn.perform(*arrays, **self.params)


def exact(mp, *arrays):
    """Object arrays of mpmath numbers with undefined entries (None) as nan, for array-level
    references (``OpDef.reference`` of ops that are not elementwise)."""
    return [np.vectorize(lambda v: mp.nan if v is None else v, otypes=[object])(a) for a in arrays]


def declare(name, kind, nin, infer, perform, **kw) -> OpDef:
    """Register an op in :data:`OPS` (each name once) and return its definition."""
    if name in OPS:
        raise ValueError(f"op {name!r} is declared twice")
    domain = kw.get("grad_domain")
    if domain is not None:
        kw["grad_domain"] = tuple((float(lo), float(hi)) for lo, hi in domain)
    d = OpDef(name=name, kind=kind, nin=nin, infer=infer, perform=perform, **kw)
    OPS[name] = d
    return d


# ---------------------------------------------------------------------------------------------
# values as variables

_PY_SCALARS = (bool, int, float, complex)


def as_tensor_variable(x, name=None, ndim=None, dtype=None) -> Variable:
    """Return ``x`` if it is a variable, else a constant holding it (PyTensor's ``as_tensor_variable``).

    Python scalars become *weak* constants (NEP 50): they take the dtype of the tensor they are
    combined with; ``dtype=`` makes a constant of that dtype instead (a variable keeps its dtype).
    Lists/tuples containing variables are stacked; an empty list is a ``config.floatX`` vector; a
    masked array is refused. With ``ndim=``, leading dimensions of static length 1 are dropped, or
    broadcastable dimensions added on the left, to reach ``ndim`` (ValueError when that is not
    possible). The public face (``eqtensor.tensor.as_tensor_variable``) also refuses a Python bool,
    as PyTensor; here it is a weak scalar, so ``x + True`` follows NumPy.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> as_tensor_variable([[1.0, 2.0]], ndim=1).type, as_tensor_variable([]).dtype
    (TensorType(float64, shape=(2,)), 'float64')
    >>> as_tensor_variable(pt.matrix("r", shape=(1, None)), ndim=1).type
    TensorType(float64, shape=(None,))
    >>> as_tensor_variable(3, dtype="int8").type
    TensorType(int8, shape=())
    """
    if isinstance(x, Variable):
        v = x
    elif isinstance(x, range) and ndim not in (None, 1):
        raise ValueError(f"as_tensor_variable: ndim for range must be 1, got ndim={ndim}")
    elif isinstance(x, np.ma.MaskedArray):
        raise NotImplementedError("MaskedArrays are not supported (a masked array: pass x.filled(value) or x.data "
                                  "and the mask)")
    elif isinstance(x, _PY_SCALARS) and not isinstance(x, np.generic):
        if isinstance(x, int) and not -(2**63) <= x < 2**63:
            raise OverflowError(f"Python integer {x} does not fit in int64")
        if dtype is None:
            v = Constant(np.asarray(x), name=name, weak=True)
        else:
            v = Constant(_cast_value(x, dtype), name=name)
    elif isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in _flatten(x)):
        v = _stack([as_tensor_variable(e) for e in x])
        if dtype is not None and v.dtype != as_dtype(dtype):
            v = Op(OPS["cast"], {"dtype": as_dtype(dtype)})(v)
    else:
        try:
            arr = np.asarray(x) if dtype is None else _cast_value(x, dtype)
        except Exception as e:
            raise TypeError(f"cannot convert {x!r} to a tensor: {e}") from e
        if arr.dtype.kind in "OUSVMm":
            raise TypeError(f"cannot convert {type(x).__name__} value {x!r} to a tensor (dtype {arr.dtype})")
        if dtype is None and arr.size == 0 and isinstance(x, (list, tuple)):
            arr = arr.astype(config.floatX)  # no element says what it holds (PyTensor's rule)
        v = Constant(arr, name=name)
    if ndim is not None and v.ndim != ndim:
        v = _with_ndim(v, int(ndim))
    return v


def _cast_value(x, dtype):
    """``x`` as an array of ``dtype`` (NumPy's ``astype``: the caller asked for that dtype)."""
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(as_dtype(dtype))


def _with_ndim(v: Variable, ndim: int) -> Variable:
    """``v`` with leading static-1 dimensions dropped, or broadcastable ones added on the left, to
    have ``ndim`` dimensions (``as_tensor_variable(..., ndim=)``)."""
    if v.ndim < ndim:
        if isinstance(v, Constant):
            return Constant(v.data.reshape((1,) * (ndim - v.ndim) + v.data.shape), name=v.name)
        return _expand_left(v, ndim)
    extra = v.ndim - ndim
    if any(s != 1 for s in v.type.shape[:extra]):
        raise ValueError(f"Tensor of type {v.type} cannot be made {ndim}-dimensional: only leading dimensions of "
                         f"static length 1 can be dropped")
    if isinstance(v, Constant):
        return Constant(v.data.reshape(v.data.shape[extra:]), name=v.name)
    return Op(OPS["dimshuffle"], {"order": tuple(range(extra, v.ndim))})(v)


def _flatten(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flatten(e)
        else:
            yield e


def _stack(items):
    """``items`` joined along a new first axis (the ``stack`` of lists holding variables)."""
    nd = max(i.ndim for i in items)
    if any(i.ndim != nd for i in items):
        raise ValueError(f"cannot stack tensors of different ranks: {[i.type for i in items]}")
    lifted = [Op(OPS["dimshuffle"], {"order": ("x",) + tuple(range(nd))})(i) for i in items]
    return lifted[0] if len(lifted) == 1 else Op(OPS["concatenate"], {"axis": 0})(*lifted)


# ---------------------------------------------------------------------------------------------
# type rules shared by many ops


def prepare_elemwise_inputs(opname, inputs):
    """Left-pad lower-rank inputs with broadcastable dims and give weak constants their dtype."""
    kinds = [type(i.data.item()) if _is_weak(i) else i.dtype for i in inputs]
    strong = [k for k in kinds if isinstance(k, str)]
    target = _promoted(tuple(kinds)) if strong else None
    out = []
    for i, k in zip(inputs, kinds):
        if _is_weak(i) and target is not None and i.dtype != target:
            try:
                i = _cast_weak(opname, i, target)
            except OverflowError:
                if not OPS[opname].compare:
                    raise
                # NumPy 2 compares with an out-of-range Python int exactly: keep it as a strong int64
                i = Constant(i.data, weak=False)
        out.append(i)
    nd = max(i.ndim for i in out)
    return tuple(i if i.ndim == nd else _expand_constant(i, nd) if isinstance(i, Constant) else _expand_left(i, nd)
                 for i in out)


_PROMOTED: dict = {}


def _promoted(kinds: tuple) -> str:
    """:func:`~eqtensor.core.dtypes.promote`, remembered (asking NumPy costs microseconds per node)."""
    r = _PROMOTED.get(kinds)
    if r is None:
        r = _PROMOTED[kinds] = promote(kinds)
    return r


def _expand_left(v: Variable, ndim: int) -> Variable:
    order = ("x",) * (ndim - v.ndim) + tuple(range(v.ndim))
    return Op(OPS["dimshuffle"], {"order": order})(v)


def _expand_constant(c: Constant, ndim: int) -> Constant:
    return Constant(c.data.reshape((1,) * (ndim - c.ndim) + c.data.shape))


def _is_weak(v) -> bool:
    return isinstance(v, Constant) and v.weak


def _cast_weak(opname, c: Constant, dtype: str) -> Constant:
    value = c.data.item()
    with np.errstate(all="ignore"):
        cast = np.asarray(value).astype(dtype)
    if np.dtype(dtype).kind in "iub" and cast.item() != value:
        raise OverflowError(f"Python integer {value} is out of bounds for {dtype} in {opname}")
    return Constant(cast, weak=False)


_DTYPE_CACHE: dict = {}


def dtype_by_numpy(op: Op, dtypes, ndims=None) -> str:
    """The dtype NumPy's implementation gives for inputs of these dtypes (cached per op)."""
    ndims = ndims or (1,) * len(dtypes)
    key = (op.key, tuple(dtypes), tuple(ndims))
    hit = _DTYPE_CACHE.get(key)
    if hit is not None:
        return hit
    dummies = [np.ones((1,) * max(n, 0), dtype=d) for d, n in zip(dtypes, ndims)]
    try:
        with np.errstate(all="ignore"):
            res = op.perform(*dummies)
    except (TypeError, np.exceptions.DTypePromotionError) as e:
        raise TypeError(f"{op.name} does not support inputs of dtype {', '.join(dtypes)}") from e
    dt = as_dtype(np.asarray(res).dtype)
    _DTYPE_CACHE[key] = dt
    return dt


def broadcast_static_shapes(opname, inputs) -> tuple:
    """PyTensor static broadcasting: only dims statically 1 broadcast; known lengths must agree."""
    shapes = [i.type.shape for i in inputs]
    out = []
    for d, dims in enumerate(zip(*shapes)):
        known = {s for s in dims if s is not None and s != 1}
        if len(known) > 1:
            desc = ", ".join(f"{i}: shape {i.type.shape}" for i in inputs)
            raise ValueError(
                f"{opname}: Incompatible Elemwise input shapes {shapes} along axis {d} ({desc}); only dimensions of "
                f"static length 1 broadcast"
            )
        if known:
            out.append(known.pop())
        elif all(s == 1 for s in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def elemwise_infer(op: Op, inputs) -> TensorType:
    shape = broadcast_static_shapes(op.name, inputs)
    dtype = dtype_by_numpy(op, [i.dtype for i in inputs])
    return TensorType(dtype, shape)


def runtime_broadcast_checks(inputs) -> list[tuple[int, list[int]]]:
    """Axes where several inputs are not statically broadcastable and some length is unknown.

    At run time all those inputs must have the same length there (a length-1 dimension that was
    not declared broadcastable is an error, as in PyTensor). Returns ``(axis, input positions)``.
    """
    checks = []
    if not inputs:
        return checks
    for d in range(inputs[0].ndim):
        idx = [k for k, i in enumerate(inputs) if i.type.shape[d] != 1]
        if len(idx) > 1 and any(inputs[k].type.shape[d] is None for k in idx):
            checks.append((d, idx))
    return checks


def normalize_axis(axis, ndim: int, opname: str) -> tuple[int, ...]:
    """``None`` → all axes; ints (Python, NumPy, 0-d or 1-d integer arrays) → sorted tuple of
    non-negative axes; clear errors otherwise."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, np.ndarray) and axis.dtype.kind in "iu" and axis.ndim <= 1:
        axis = axis.tolist()  # a 0-d or 1-d integer array (PyTensor accepts them)
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axis = (int(axis),)
    try:
        axes = [int(a) for a in axis]
    except TypeError as e:
        raise TypeError(f"{opname}: axis must be None, an int or a tuple of ints, got {axis!r}") from e
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            # NumPy's AxisError is both a ValueError and an IndexError (PyTensor raises the latter)
            raise np.exceptions.AxisError(f"{opname}: axis {a} is out of bounds for array of dimension {ndim}")
        a %= ndim
        if a in out:
            raise ValueError(f"{opname}: repeated axis {a}")
        out.append(a)
    return tuple(sorted(out))


def reduce_infer(op: Op, inputs) -> TensorType:
    (x,) = inputs
    axes = op.params["axis"]
    keep = op.params["keepdims"]
    if keep:
        shape = tuple(1 if d in axes else s for d, s in enumerate(x.type.shape))
    else:
        shape = tuple(s for d, s in enumerate(x.type.shape) if d not in axes)
    dtype = dtype_by_numpy(op, [x.dtype], [x.ndim])
    return TensorType(dtype, shape)


def constant_value(v: Variable):
    """The NumPy value of ``v`` if it is statically known (a constant or a static shape), else None."""
    if isinstance(v, Constant):
        return v.data
    node = v.owner
    if node is None:
        return None
    if node.op.name == "shape":
        s = node.inputs[0].type.shape
        return None if None in s else np.array(s, dtype="int64")
    if node.op.name == "shape_i":
        s = node.inputs[0].type.shape[node.op.params["i"]]
        return None if s is None else np.array(s, dtype="int64")
    if node.op.name in ("make_vector", "cast", "dimshuffle", "subtensor"):
        vals = [constant_value(i) for i in node.inputs]
        if all(val is not None for val in vals):
            return np.asarray(node.op.perform(*vals))
    return None
