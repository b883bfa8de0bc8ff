"""The per-op test matrix, generated from the op table.

Every op in ``OPS`` must have an entry in :data:`SAMPLES` (a list of cases: input values, a graph
builder that uses the op, and an independently written NumPy/SciPy/mpmath reference). Each case is
compiled twice (inputs declared with their full static shapes, and with unknown lengths except the
broadcastable 1s) and checked for value, dtype, shape and agreement with the node's static type.
Dtype combinations that NumPy rejects must be rejected when the node is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import mpmath
import numpy as np
import pytest
import scipy.special as scipy_special

from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.core.traversal import toposort
from eqtensor.core.op import OPS, Op
from eqtensor.core.ops.elemwise import TABLE as ELEMWISE
from eqtensor.core.ops.shape import make_vector
from eqtensor.rules.reference import evaluate_mp

inf, nan = np.inf, np.nan
EDGE = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e3, -1e3, inf, -inf, nan])
INTS = np.array([0, 1, -1, 2, -3, 7, 100, -100, 127, -128, 5, -6])
TOL = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-12, "complex64": 2e-6, "complex128": 1e-12}


@dataclass
class Case:
    args: tuple  # input values (each becomes a symbolic input of its dtype)
    build: Callable  # symbolic inputs -> output variable (must use the op)
    ref: Callable  # input values -> expected ndarray (independent of eqtensor)
    rtol: float | None = None  # default: by result dtype (TOL); exact for ints and bools
    raises: type | None = None  # the build must raise this (NumPy rejects the dtypes)
    static_out: bool = True  # all-static input shapes give an all-static output shape
    label: str = ""


SAMPLES: dict[str, list[Case]] = {}


def add_case(op, *args, build, ref, **kw):
    SAMPLES.setdefault(op, []).append(Case(tuple(np.asarray(a) for a in args), build, ref, **kw))


def values(dtype, shape, shift=0):
    """Deterministic values of ``dtype`` and ``shape``, with edge values for floats."""
    n = math.prod(shape)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        base = np.array([True, False, False, True, True])
    elif dt.kind == "u":
        base = np.array([0, 1, 2, 3, 200, 7, 255, 9, 13])
    elif dt.kind == "i":
        base = INTS if dt.itemsize > 1 else INTS[INTS > -129]
    elif dt.kind == "c":
        base = EDGE[:9] + 1j * np.roll(EDGE[:9], 2)
    else:
        base = EDGE
    base = np.roll(base, shift)
    return np.resize(base, n).astype(dt).reshape(shape)


# ============================================================================ elementwise
# Derived from the op records: every elementwise op of the table gets cases for many dtypes and
# shapes, against its NumPy/SciPy implementation (dtype rules, broadcasting, both backends); the
# implementation itself is checked against the record's mpmath reference further below.
def _mp_vec(fn, x, out_dtype):
    def one(v):
        v = float(v)
        if math.isnan(v):
            return nan
        with mpmath.workdps(50):
            return float(fn(mpmath.mpf(v)))

    return np.vectorize(one, otypes=[np.float64])(x).astype(out_dtype)


def _float_of(x):
    """SciPy's result dtype for special functions: float32 and complex stay, everything else float64."""
    dt = np.asarray(x).dtype
    return dt if dt.kind == "c" or dt == np.float32 else np.dtype("float64")


UNARY_REF = {name: row[1] for name, row in ELEMWISE.items() if row[0] == 1}
BINARY_REF = {name: row[1] for name, row in ELEMWISE.items() if row[0] == 2}
UNARY_INPUTS = [  # dtype, shape
    ("float64", (3, 4)), ("float32", (12,)), ("float64", ()), ("float32", (0, 3)), ("float64", (1, 4)),
    ("float16", (2, 6)), ("int8", (2, 5)), ("int32", (10,)), ("uint8", (9,)), ("bool", (5,)),
    ("complex128", (3, 3)),
]
BINARY_INPUTS = [  # (dtype, shape), (dtype, shape)
    (("float64", (3, 4)), ("float64", (3, 4))), (("float32", (3, 4)), ("float32", (1, 4))),
    (("float64", ()), ("float32", (2, 3))), (("float32", (0, 3)), ("float32", (1, 3))),
    (("int8", (2, 5)), ("int8", (2, 5))), (("int32", (4, 1)), ("int8", (1, 3))),
    (("uint8", (6,)), ("int8", (6,))), (("bool", (5,)), ("bool", (5,))), (("int32", (3,)), ("float32", (3,))),
    (("complex128", (2, 3)), ("float64", (2, 3))),
]


def _expect(ref, *args):
    """The reference result, or the exception type NumPy raises for these dtypes."""
    try:
        with np.errstate(all="ignore"):
            return ref(*args), None
    except TypeError:
        return None, TypeError


def _unary_cases():
    for name, ref in UNARY_REF.items():
        op = getattr(pt, name)
        for dtype, shape in UNARY_INPUTS:
            x = values(dtype, shape)
            _, err = _expect(ref, x)
            add_case(name, x, build=op, ref=ref, raises=err, label=f"{dtype}{shape}")


def _binary_cases():
    for name, ref in BINARY_REF.items():
        op = getattr(pt, name)
        for (d1, s1), (d2, s2) in BINARY_INPUTS:
            x, y = values(d1, s1), values(d2, s2, shift=3)
            if name == "pow" and np.dtype(d2).kind in "iu":
                y = np.abs(y) % 5
            _, err = _expect(ref, x, y)
            add_case(name, x, y, build=op, ref=ref, raises=err, label=f"{d1}{s1},{d2}{s2}")
        # weak Python scalars take the tensor's dtype (NEP 50)
        x = values("float32", (4,))
        _, err = _expect(ref, x, np.float32(2))
        add_case(name, x, build=lambda a, op=op: op(a, 2), ref=lambda a, ref=ref: ref(a, np.float32(2)), raises=err,
                 label="float32,weak int")


_unary_cases()
_binary_cases()

for _dt in ("float64", "float32", "int8"):
    _c, _a, _b = values("bool", (3, 4)), values(_dt, (3, 4)), values(_dt, (1, 4), shift=5)
    add_case("switch", _c, _a, _b, build=pt.switch, ref=np.where, label=_dt)
add_case("switch", values("bool", (5,)), values("float32", (5,)), build=lambda c, a: pt.where(c, a, 0.5),
         ref=lambda c, a: np.where(c, a, np.float32(0.5)), label="weak float")
add_case("switch", values("bool", ()), values("float64", (0, 2)), values("float64", (1, 2)), build=pt.switch,
         ref=np.where, label="0-d cond, zero-size")
for _dt in ("float64", "float32", "int32"):
    add_case("clip", values(_dt, (3, 4)), np.zeros((), _dt), np.full((1, 4), 50, _dt), build=pt.clip,
             ref=np.clip, label=_dt)
add_case("clip", values("float32", (6,)), build=lambda a: pt.clip(a, -1, 2.5),
         ref=lambda a: np.clip(a, np.float32(-1), np.float32(2.5)), label="weak bounds")

for _src in ("float64", "float32", "int8", "int32", "uint8", "bool", "complex128"):
    for _dst in ("float64", "float32", "float16", "int8", "int64", "uint8", "bool", "complex128"):
        if _src == _dst or (_src.startswith("complex") and not _dst.startswith("complex")):
            continue
        _x = values(_src, (2, 3))
        if _src.startswith("float") and _dst not in ("float64", "float32", "float16", "bool", "complex128"):
            _x = np.where(np.isfinite(_x) & (np.abs(_x) < 100), _x, 7).astype(_src)
        add_case("cast", _x, build=lambda a, d=_dst: pt.cast(a, d), ref=lambda a, d=_dst: a.astype(d),
                 label=f"{_src}->{_dst}")


# ============================================================================ reductions
def _np_reduce(fn):
    def ref(x, axis, keepdims):
        return np.asarray(fn(x, axis=axis, keepdims=keepdims))

    return ref


def _argref(fn):
    def ref(x, axis, keepdims):
        return np.asarray(fn(x, axis=axis, keepdims=keepdims))

    return ref


def _lse_ref(x, axis, keepdims):
    x = x.astype(_float_of(x))
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros((), x.dtype)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


REDUCE_REF = {
    "sum": _np_reduce(np.sum), "prod": _np_reduce(np.prod), "max": _np_reduce(np.max), "min": _np_reduce(np.min),
    "all": _np_reduce(np.all), "any": _np_reduce(np.any), "argmax": _argref(np.argmax),
    "argmin": _argref(np.argmin), "logsumexp": _lse_ref,
}
REDUCE_INPUTS = [  # dtype, shape, axis, keepdims
    ("float64", (3, 4), None, False), ("float64", (3, 4), 0, True), ("float32", (2, 3, 4), (0, 2), False),
    ("float32", (2, 3, 4), -1, False), ("float64", (), None, False), ("int8", (3, 4), 1, False),
    ("int32", (5,), 0, True), ("bool", (2, 3), None, False), ("float64", (0, 3), 1, False),
    ("float64", (0, 3), 0, False), ("uint8", (4, 1), (0, 1), True),
]


def _reduce_cases():
    for name, ref in REDUCE_REF.items():
        for dtype, shape, axis, keepdims in REDUCE_INPUTS:
            axes = (axis,) if isinstance(axis, int) else axis
            if name.startswith("arg") and isinstance(axis, tuple):
                continue  # NumPy's argmax takes one axis; several axes are tested in test_tensor_api
            if name in ("max", "min", "argmax", "argmin") and 0 in shape and (
                    axes is None or any(shape[a] == 0 for a in axes)):
                continue  # no identity: rejected at build time (test_reduce_empty_without_identity)
            x = values(dtype, shape)
            if name == "prod" and dtype in ("float64", "float32"):
                x = np.where(np.abs(x) > 10, 2.0, x).astype(dtype)  # keep the products finite
            _, err = _expect(lambda a: ref(a, axis, keepdims), x)
            op = getattr(pt, name)
            add_case(name, x, build=lambda a, op=op, ax=axis, k=keepdims: op(a, axis=ax, keepdims=k),
                     ref=lambda a, ref=ref, ax=axis, k=keepdims: ref(a, ax, k), raises=err,
                     label=f"{dtype}{shape} axis={axis} keepdims={keepdims}")


_reduce_cases()


def test_reduce_empty_without_identity():
    x = pt.matrix("x", shape=(0, 3))
    for fn in (pt.max, pt.min, pt.argmax, pt.argmin):
        with pytest.raises(ValueError, match="static length 0"):
            fn(x, axis=0)
    with pytest.raises(ValueError, match="out of bounds"):
        pt.sum(x, axis=2)


# ============================================================================ shape ops
_m34 = values("float64", (3, 4))
add_case("dimshuffle", _m34, build=lambda a: a.dimshuffle(1, 0), ref=lambda a: a.T, label="transpose")
add_case("dimshuffle", values("int8", (2, 3, 4)), build=lambda a: a.dimshuffle(2, "x", 0, 1),
         ref=lambda a: np.transpose(a, (2, 0, 1))[:, None], label="permute+x")
add_case("dimshuffle", values("float32", (3, 1)), build=lambda a: a.dimshuffle(0),
         ref=lambda a: a[:, 0], label="drop")
add_case("dimshuffle", values("bool", ()), build=lambda a: a.dimshuffle("x", "x"),
         ref=lambda a: a.reshape(1, 1), label="0-d")
add_case("dimshuffle", values("float64", (0, 3)), build=lambda a: a.T, ref=lambda a: a.T, label="zero-size")

add_case("reshape", _m34, build=lambda a: a.reshape((2, -1)), ref=lambda a: a.reshape(2, -1), label="-1")
add_case("reshape", _m34, build=lambda a: a.reshape((a.shape[1], a.shape[0])), ref=lambda a: a.reshape(4, 3),
         label="symbolic")
add_case("reshape", values("int32", (2, 3, 2)), build=lambda a: pt.flatten(a, 2), ref=lambda a: a.reshape(2, 6),
         label="flatten 2")
add_case("reshape", values("float32", ()), build=lambda a: a.reshape((1, 1)), ref=lambda a: a.reshape(1, 1),
         label="0-d")
add_case("reshape", values("float64", (0, 4)), build=lambda a: a.reshape((2, 0, 2)),
         ref=lambda a: a.reshape(2, 0, 2), label="zero-size")
add_case("reshape", values("float64", (1, 1)), build=lambda a: a.reshape(()), ref=lambda a: a.reshape(()),
         label="to 0-d")

add_case("shape", _m34, build=pt.shape, ref=lambda a: np.array(a.shape), label="2-d")
add_case("shape", values("bool", ()), build=pt.shape, ref=lambda a: np.array(a.shape, dtype="int64"), label="0-d")
add_case("shape", values("float32", (0, 2, 1)), build=pt.shape, ref=lambda a: np.array(a.shape), label="0-size")
add_case("shape_i", _m34, build=lambda a: pt.shape_i(a, 1), ref=lambda a: np.int64(a.shape[1]), label="2-d")
add_case("shape_i", values("int8", (0, 2)), build=lambda a: a.shape[0], ref=lambda a: np.int64(a.shape[0]), label="getitem")
add_case("make_vector", values("float64", (), 6), values("float64", (), 2), build=make_vector,
         ref=lambda a, b: np.array([a, b]), label="float scalars")
add_case("make_vector", values("int32", (), 3), values("int8", (), 4), values("bool", ()), build=make_vector,
         ref=lambda a, b, c: np.array([a, b, c], dtype="int32"), label="mixed dtypes")
add_case("make_vector", build=make_vector, ref=lambda: np.zeros(0, "int64"), label="empty")
add_case("make_vector", np.int32(3), np.int64(4), build=lambda a, b: pt.arange(12).reshape((a, b)),
         ref=lambda a, b: np.arange(12).reshape(int(a), int(b)), static_out=False, label="symbolic reshape")
add_case("alloc", values("float32", ()), build=lambda a: pt.alloc(a, 2, 3), ref=lambda a: np.full((2, 3), a),
         label="scalar")
add_case("alloc", values("int8", (1, 3)), build=lambda a: pt.broadcast_to(a, (4, 3)),
         ref=lambda a: np.broadcast_to(a, (4, 3)), label="broadcast_to")
add_case("alloc", values("float64", (3,)), build=lambda a: pt.alloc(a, 0, 3), ref=lambda a: np.zeros((0, 3)),
         label="zero-size")
add_case("concatenate", _m34, values("float64", (1, 4)), build=lambda a, b: pt.concatenate([a, b]),
         ref=lambda a, b: np.concatenate([a, b]), label="axis 0")
add_case("concatenate", values("int8", (2, 3)), values("int32", (2, 0)), values("int8", (2, 1)),
         build=lambda a, b, c: pt.concatenate([a, b, c], axis=-1), ref=lambda a, b, c: np.concatenate([a, b, c], -1),
         label="mixed dtypes, zero-size")
add_case("concatenate", values("float32", (3,)), values("float32", (3,)), build=lambda a, b: pt.stack([a, b], 1),
         ref=lambda a, b: np.stack([a, b], 1), label="stack")


# ============================================================================ linalg
def _lin(name, shapes, dtypes, fn, ref, **kw):
    for s1, s2 in shapes:
        for d1, d2 in dtypes:
            a, b = values(d1, s1, 1), values(d2, s2, 4)
            if np.dtype(d1).kind == "f":
                a = np.where(np.isfinite(a), a, 1.5).astype(d1)
            if np.dtype(d2).kind == "f":
                b = np.where(np.isfinite(b), b, -0.5).astype(d2)
            add_case(name, a, b, build=fn, ref=ref, label=f"{d1}{s1}@{d2}{s2}", **kw)


_DOT_SHAPES = [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((), (2, 3)), ((2, 3), ()),
               ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((0, 3), (3, 2)), ((3, 0), (0, 2))]
_LIN_DTYPES = [("float64", "float64"), ("float32", "float32"), ("int32", "int8"), ("bool", "bool"),
               ("float32", "int32")]
_lin("dot", _DOT_SHAPES, _LIN_DTYPES, pt.dot, np.dot, rtol=1e-5)
_lin("matmul", [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((5, 3, 4), (4, 2)),
                ((1, 3, 4), (2, 4, 2)), ((2, 1, 3, 4), (5, 4, 1)), ((0, 3), (3, 2))],
     _LIN_DTYPES, lambda a, b: a @ b, np.matmul, rtol=1e-5)


# ============================================================================ blas (made by the optimizer)
def _finite(dtype, shape, shift):
    v = values(dtype, shape, shift)
    return np.where(np.isfinite(v), v, 1.5).astype(dtype)


for _d in ("float64", "float32"):
    from eqtensor.core.ops.blas import gemm, gemv, ger

    add_case("gemm", _finite(_d, (3, 2), 3), _finite(_d, (3, 4), 1), _finite(_d, (4, 2), 2),
             build=lambda c, a, b: gemm(c, 0.5, a, b, 2.0), ref=lambda c, a, b: 0.5 * np.dot(a, b) + 2 * c,
             rtol=1e-5, label=_d)
    add_case("gemv", _finite(_d, (3,), 3), _finite(_d, (3, 4), 1), _finite(_d, (4,), 2),
             build=lambda y, a, x: gemv(y, -1.5, a, x, 0.5), ref=lambda y, a, x: -1.5 * np.dot(a, x) + 0.5 * y,
             rtol=1e-5, label=_d)
    add_case("ger", _finite(_d, (3, 4), 3), _finite(_d, (3,), 1), _finite(_d, (4,), 2),
             build=lambda c, x, y: ger(c, 2.0, x, y), ref=lambda c, x, y: c + 2 * np.outer(x, y), rtol=1e-5,
             label=_d)


def _well_conditioned(n, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, n)) + n * np.eye(n)).astype(dtype)


for _dt in ("float64", "float32"):
    _A = _well_conditioned(4, _dt, 0)
    add_case("matrix_inverse", _A, build=pt.linalg.inv, ref=lambda a: np.linalg.solve(a, np.eye(len(a), dtype=a.dtype)),
             rtol=1e-4, label=_dt)
    add_case("det", _A, build=pt.linalg.det, ref=lambda a: np.prod(np.linalg.eigvals(a)).real.astype(a.dtype),
             rtol=1e-4, label=_dt)
    add_case("solve", _A, np.arange(4, dtype=_dt), build=pt.linalg.solve,
             ref=lambda a, b: np.linalg.inv(a) @ b, rtol=1e-4, label=f"{_dt} vector")
    add_case("solve", _A, np.ones((4, 2), _dt), build=pt.linalg.solve, ref=lambda a, b: np.linalg.inv(a) @ b,
             rtol=1e-4, label=f"{_dt} matrix")
add_case("matrix_inverse", np.stack([_well_conditioned(3, "float64", s) for s in range(2)]), build=pt.linalg.inv,
         ref=lambda a: np.stack([np.linalg.solve(m, np.eye(3)) for m in a]), rtol=1e-10, label="stack")
add_case("matrix_inverse", np.array([[2, 0], [0, 4]], "int32"), build=pt.linalg.inv,
         ref=lambda a: np.diag([0.5, 0.25]), label="int")
add_case("det", np.zeros((0, 0)), build=pt.linalg.det, ref=lambda a: np.float64(1.0), label="0x0")


# ============================================================================ indexing
def _idx(name, x, idx, static_out=True, label=""):
    add_case(name, x, build=lambda a: a[idx], ref=lambda a: a[idx], static_out=static_out, label=label or repr(idx))


_t = values("float64", (4, 5, 6))
for _i in [(1,), (slice(1, 3),), (slice(None, None, -2), 0), (Ellipsis, -1), (None, 2, Ellipsis, None),
           (slice(-10, 10), slice(3, 1, -1), slice(None, None, 4)), (1, 2, 3), ()]:
    _idx("subtensor", _t, _i)
_idx("subtensor", values("int8", ()), (), label="0-d")
_idx("subtensor", values("bool", (0, 3)), (slice(None), 1), label="zero-size")
_idx("subtensor", values("float32", (3,)), (slice(5, None),), label="empty slice")
add_case("subtensor", _t, np.int64(-2), np.int32(4),
         build=lambda a, i, j: a[i, :j:2], ref=lambda a, i, j: a[i, :j:2], static_out=False, label="symbolic")
for _i in [([0, 2, 2],), (slice(None), [[1, 0], [4, 4]]), ([0, 1], slice(None), 0), (slice(1, None), [1, 2], [3, 4]),
           ([0, 1], None, [1, 2]), (slice(None), [0, 1], Ellipsis, [0, 1]), (np.array([True, False, True, True]),),
           (1, np.array([True, False, True, False, True]), slice(None, 2)), (True,), ([],)]:
    _idx("advanced_subtensor", _t, _i, static_out=not any(isinstance(i, (bool, np.ndarray)) for i in _i))
add_case("advanced_subtensor", _t, np.array([3, -1, 0], "int32"), build=lambda a, i: a[:, i],
         ref=lambda a, i: a[:, i], label="symbolic array")
add_case("advanced_subtensor", _t, build=lambda a: a[a > 0], ref=lambda a: a[a > 0], static_out=False, label="mask")
add_case("advanced_subtensor", values("int32", (5,)), build=lambda a: pt.take(a, [4, 0]),
         ref=lambda a: np.take(a, [4, 0]), label="take")
add_case("advanced_subtensor", _t, build=lambda a: pt.take(a, [[1, 0]], axis=-1),
         ref=lambda a: np.take(a, [[1, 0]], axis=-1), label="take axis")


def _set_ref(idx, inc, adv):
    def ref(a, y):
        out = a.copy()
        if inc and adv:
            np.add.at(out, idx, y)
        elif inc:
            out[idx] += y
        else:
            out[idx] = y
        return out

    return ref


for _name, _fn in (("set_subtensor", pt.set_subtensor), ("inc_subtensor", pt.inc_subtensor)):
    for _i, _y, _adv in [((1,), values("float64", (5, 6), 2), False),
                         ((slice(None), 0), values("float64", (1,), 3), False),
                         ((Ellipsis, slice(1, 3)), values("float32", (2,), 3), False),
                         (([0, 0, 3],), values("float64", (3, 5, 6), 1), True),
                         ((slice(None), [1, 1], 2), values("int8", (2,)), True),
                         ((np.arange(4) % 2 == 0,), values("float64", (1, 6), 5), True)]:
        add_case(_name, _t, _y, build=lambda a, y, i=_i, f=_fn: f(a[i], y), ref=_set_ref(_i, _name == "inc_subtensor", _adv),
                 label=repr(_i))
    add_case(_name, values("int32", ()), build=lambda a, f=_fn: f(a[()], 7),
             ref=lambda a, inc=_name == "inc_subtensor": np.asarray(a + 7 if inc else 7, "int32"), label="0-d weak")


# ============================================================================ creation
for _args, _dt in [((5,), None), ((1, 2, 0.25), None), ((3, -3, -2), "int8"), ((2, 2), None), ((0, 1, 0.1), "float32")]:
    add_case("arange", build=lambda a=_args, d=_dt: pt.arange(*a, dtype=d),
             ref=lambda a=_args, d=_dt: np.arange(*a, dtype=d), label=f"{_args} {_dt}")
add_case("arange", np.int32(2), np.int64(9), np.int8(3), build=pt.arange, ref=lambda a, b, c: np.arange(a, b, c),
         static_out=False, label="symbolic int")
add_case("arange", np.float32(1), build=lambda a: pt.arange(a, 2, 0.25), ref=lambda a: np.arange(a, 2, 0.25),
         static_out=False, label="symbolic float")
for _args, _dt in [((3,), None), ((2, 4, 1), "int32"), ((3, 2, -1), "bool"), ((0,), "float32")]:
    add_case("eye", build=lambda a=_args, d=_dt: pt.eye(*a, dtype=d),
             ref=lambda a=_args, d=_dt: np.eye(*a, dtype=d or "float64"), label=f"{_args} {_dt}")
    add_case("tri", build=lambda a=_args, d=_dt: pt.tri(*a, dtype=d),
             ref=lambda a=_args, d=_dt: np.tri(*a, dtype=d or "float64"), label=f"{_args} {_dt}")
add_case("eye", np.int64(3), build=lambda n: pt.eye(n, k=1), ref=lambda n: np.eye(n, k=1), static_out=False,
         label="symbolic")
add_case("tri", _m34, build=lambda a: pt.tril(a, -1), ref=lambda a: np.tril(a, -1), label="tril")
add_case("tri", values("int8", (2, 3, 4)), build=lambda a: pt.triu(a, 1), ref=lambda a: np.triu(a, 1), label="triu")
add_case("tri", values("bool", (3, 3)), build=pt.tril, ref=np.tril, label="tril bool")
add_case("eye", _m34, build=pt.identity_like, ref=lambda a: np.eye(3, 4), label="identity_like")
add_case("alloc", build=lambda: pt.zeros((2, 3), dtype="int8"), ref=lambda: np.zeros((2, 3), "int8"), label="zeros")
add_case("alloc", build=lambda: pt.ones(4), ref=lambda: np.ones(4), label="ones")
add_case("alloc", build=lambda: pt.full((2, 2), 7), ref=lambda: np.full((2, 2), 7), label="full")
add_case("alloc", values("float32", (0, 3)), build=pt.ones_like, ref=np.ones_like, label="ones_like zero-size")
add_case("alloc", values("int8", (2, 1)), build=pt.zeros_like, ref=np.zeros_like, label="zeros_like")
add_case("alloc", _m34, build=lambda a: pt.full_like(a, 2.5, dtype="float32"),
         ref=lambda a: np.full_like(a, 2.5, dtype="float32"), label="full_like")


# ============================================================================ nnet
def _softmax_ref(x, axis):
    x = x.astype(_float_of(x))
    m = np.max(x, axis=axis, keepdims=True) if x.size else 0
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax_ref(x, axis):
    x = x.astype(_float_of(x))
    m = np.max(x, axis=axis, keepdims=True) if x.size else 0
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


_SM = np.array([[0.0, 1.0, -1.0, 2.0], [1000.0, 999.0, -1000.0, 1000.0], [-inf, 0.0, 3.0, -inf]])
for _name, _ref in (("softmax", _softmax_ref), ("log_softmax", _log_softmax_ref)):
    _op = getattr(pt.special, _name)
    for _x, _ax in [(_SM, -1), (_SM.astype("float32"), 1), (_SM, None), (np.linspace(-4, 4, 18).reshape(2, 3, 3), (0, 2)),
                    (np.array([-3, 0, 5], "int8"), 0), (np.zeros((0, 3)), 1), (np.array(2.0), None), (_SM[:2], 0)]:
        add_case(_name, _x, build=lambda a, op=_op, ax=_ax: op(a, axis=ax), ref=lambda a, r=_ref, ax=_ax: r(a, ax),
                 rtol=1e-6 if _x.dtype == np.float64 else None, label=f"{_x.dtype}{_x.shape} axis={_ax}")


# ============================================================================ gradient machinery
# (declared in eqtensor/rules/gradients.py: polygamma, psi's derivative; the gradient markers, identities)
from eqtensor import gradient as _gr  # noqa: E402
from eqtensor.core.ops.elemwise import polygamma as _polygamma  # noqa: E402

_PG = np.array([0.5, 1.0, 2.5, 10.0, 0.1, 3.0])
for _n in (1, 2):
    add_case("polygamma", _PG, build=lambda a, n=_n: _polygamma(n, a),
             ref=lambda a, n=_n: _mp_vec(lambda v: mpmath.psi(n, v), a, "float64"), rtol=1e-10, label=f"n={_n}")
# second (core/ops/second.py): b broadcast against a, whose values are not read (the gradient's seed)
from eqtensor.core.ops.second import second as _second  # noqa: E402

add_case("second", values("float64", (2, 3)), values("float32", (1, 3)), build=_second,
         ref=lambda a, b: np.array(np.broadcast_to(b, (2, 3))), label="broadcast, b's dtype")
add_case("second", values("int64", (3,)), values("int8", ()), build=_second,
         ref=lambda a, b: np.full(3, b, dtype=np.int8), label="scalar b")
# print (core/ops/effects.py): the identity, printing when computed
add_case("print", values("float32", (2, 3)), build=lambda a: Op(OPS["print"], {"message": "sample", "attrs": ("shape",)})(a),
         ref=lambda a: a)
# check (core/ops/effects.py): the identity when the condition holds (its failure: tests/test_port_surface.py)
add_case("check", values("float64", (2, 3)), np.array([True, True]),
         build=lambda a, c: Op(OPS["check"], {"message": "sample"})(a, c), ref=lambda a, c: a)
# searchsorted and unique (core/ops/sorting.py)
_sorted = np.array([1.0, 2.0, 2.0, 5.0, np.nan])
for _side in ("left", "right"):
    add_case("searchsorted", _sorted, np.array([[2.0, 0.0], [6.0, np.nan]]),
             build=lambda x, v, s=_side: pt.searchsorted(x, v, side=s),
             ref=lambda x, v, s=_side: np.searchsorted(x, v, side=s).astype("int64"), static_out=True, label=_side)
add_case("searchsorted", np.array([3, 1, 2], "int32"), np.array(2.5, "float32"), build=pt.searchsorted,
         ref=lambda x, v: np.asarray(np.searchsorted(x, v)), label="int32 x, float32 0-d v")
_u = np.array([[3, 1, 3], [2, 1, 3]], "int32")
for _k, _flags in enumerate([{}, {"return_index": True}, {"return_inverse": True}, {"return_counts": True}]):
    add_case("unique", _u, build=lambda a, f=_flags: pt.unique(a, **f)[-1] if f else pt.unique(a),
             ref=lambda a, k=_k, f=_flags: np.asarray(np.unique(a, **f)[-1] if f else np.unique(a)).reshape(-1)
             .astype("int64" if k else "int32"), static_out=_k == 2, label=f"output {_k}")
    add_case("unique", _u, build=lambda a, f=_flags: pt.unique(a, axis=1, **f)[-1] if f else pt.unique(a, axis=1),
             ref=lambda a, k=_k, f=_flags: (np.unique(a, axis=1, **f)[-1].astype("int64") if f
                                            else np.unique(a, axis=1)), static_out=_k == 2, label=f"axis 1, output {_k}")
# the ternary special functions (the unary and binary ones come from the elementwise table)
for _dt in ("float64", "float32"):
    _ab = np.array([[0.5, 2.0, 1.0], [3.0, 0.0, 7.5]], _dt)
    _xs = np.array([[0.0, 0.3, 1.0], [0.5, 0.9, 0.1]], _dt)
    add_case("betainc", _ab, _ab[::-1], _xs, build=pt.betainc, ref=lambda a, b, x: scipy_special.betainc(a, b, x),
             label=_dt)
    add_case("betaincinv", _ab, _ab[::-1], _xs, build=pt.betaincinv,
             ref=lambda a, b, y: scipy_special.betaincinv(a, b, y), label=_dt)
add_case("betainc", np.array([2.0, 0.5]), build=lambda a: pt.betainc(a, 2, 0.25),
         ref=lambda a: scipy_special.betainc(a, 2.0, 0.25), label="weak scalars")
# hyp2f1, polygamma of a tensor order and the parameter derivatives (core/ops/special_functions.py);
# the derivatives against mpmath's numerical derivative of the function (tests/test_special_gradients.py: grids)
from eqtensor.core.ops import special_functions as _sf  # noqa: E402


def _mp_diff(fn, wrt):
    def ref(*args):
        def one(*v):
            with mpmath.workdps(30):
                p = [mpmath.mpf(float(t)) for t in v]
                return float(mpmath.diff(lambda t: fn(*p[:wrt], t, *p[wrt + 1:]), p[wrt]))
        return np.vectorize(one, otypes=[np.float64])(*args).astype(_float_of(args[0]))
    return ref


def _mp_p(k, x):  # the smaller of P and Q differentiates without cancellation (dQ = -dP)
    up = x > k
    return (-1 if up else 1) * mpmath.gammainc(k, x, mpmath.inf, regularized=True) if up else \
        mpmath.gammainc(k, 0, x, regularized=True)


for _dt in ("float64", "float32"):
    _a4 = np.array([[0.5, 2.0, -1.5]], _dt)
    _z4 = np.array([[0.0], [0.4], [-2.0]], _dt)
    add_case("hyp2f1", _a4, np.array([[1.5]], _dt), np.array([[3.0, 2.5, 4.0]], _dt), _z4, build=pt.hyp2f1,
             ref=lambda a, b, c, z: scipy_special.hyp2f1(a, b, c, z).astype(_float_of(a)), label=_dt)
    add_case("gammainc_dk", np.array([[0.5, 3.0, 20.0]], _dt), np.array([[0.3], [4.0]], _dt), build=_sf.gammainc_dk,
             ref=_mp_diff(_mp_p, 0), rtol=1e-10 if _dt == "float64" else None, label=_dt)
    for _w in (0, 1):
        add_case("betainc_der", np.array([[0.5, 3.0, 20.0]], _dt), np.array([[2.0], [0.7]], _dt),
                 np.array([[0.2, 0.6, 0.9]], _dt), build=lambda a, b, x, w=_w: _sf.betainc_der(a, b, x, w),
                 ref=_mp_diff(lambda a, b, x: mpmath.betainc(a, b, 0, x, regularized=True), _w),
                 rtol=1e-10 if _dt == "float64" else None, label=f"{_dt} wrt {_w}")
    for _w in (0, 1, 2):
        add_case("hyp2f1_der", np.array([[0.5, -2.0, 1.5]], _dt), np.array([[0.7]], _dt), np.array([[2.5], [1.2]], _dt),
                 np.array([[-3.0, 0.3, 0.9]], _dt), build=lambda a, b, c, z, w=_w: _sf.hyp2f1_der(a, b, c, z, w),
                 ref=_mp_diff(mpmath.hyp2f1, _w), rtol=1e-10 if _dt == "float64" else None, label=f"{_dt} wrt {_w}")
    add_case("polygamma_n", np.array([[0, 1, 3]], "int32"), np.array([[0.5], [2.5]], _dt), build=pt.polygamma,
             ref=lambda n, x: scipy_special.polygamma(n, x.astype("float64")).astype(_float_of(x)), rtol=1e-12
             if _dt == "float64" else None, label=_dt)
add_case("polygamma_n", np.array([-1, 2], "int64"), np.array([1.5, 1.5]), build=pt.polygamma,
         ref=lambda n, x: np.where(n < 0, np.nan, scipy_special.polygamma(np.maximum(n, 0), x)), label="n < 0: nan")
for _name, _build in (("zero_grad", _gr.zero_grad), ("disconnected_grad", _gr.disconnected_grad),
                      ("undefined_grad", _gr.undefined_grad), ("grad_clip", lambda a: _gr.grad_clip(a, -1, 1)),
                      ("grad_scale", lambda a: _gr.grad_scale(a, 0.5))):
    add_case(_name, values("float64", (2, 3)), build=_build, ref=lambda a: a)


# ============================================================================ scan (eqtensor.scan)
from eqtensor.scan import scan as _scan  # noqa: E402


def _halving_ref(s, h0):
    out, h = [], h0
    for s_t in s:
        h = h * 0.5 + s_t
        out.append(h)
    return np.array(out)


add_case("scan", values("float64", (5, 3)), values("float64", (3,), 2),
         build=lambda s, h0: _scan(lambda s_t, h: h * 0.5 + s_t, sequences=s, outputs_info=h0)[0],
         ref=_halving_ref, label="recurrence over a sequence")
add_case("scan", values("int32", (4,)), build=lambda s: _scan(lambda s_t: s_t * 2, sequences=s)[0],
         ref=lambda s: s * 2, label="int map")


# ============================================================================ ifelse (eqtensor.ifelse)
from eqtensor.ifelse import ifelse as _ifelse  # noqa: E402

for _taken in (True, False):
    add_case("ifelse", values("float64", (2, 3)), values("float64", (4, 3), 1),
             build=lambda a, b, t=_taken: _ifelse(t, a * 2, b[1:]),
             ref=lambda a, b, t=_taken: a * 2 if t else b[1:], static_out=False, label=f"taken={_taken}")
add_case("ifelse", values("int8", (3,)), values("int8", (3,), 1), build=lambda a, b: _ifelse(False, a, b),
         ref=lambda a, b: b, label="int8")


# ============================================================================ random variables (eqtensor.tensor.random)
from eqtensor.tensor import random as _ptr  # noqa: E402


def _rng(seed=3):
    return _ptr.shared_rng(np.random.default_rng(seed))


def _second_draw(lam, loc):
    """A draw from the generator ``random_next`` returns (the second draw of the stream)."""
    nxt, first = _ptr.poisson(lam, rng=_rng(), return_next_rng=True)
    return _ptr.normal(loc, first.astype("float64") + 1.0, rng=nxt)


def _second_draw_ref(lam, loc):
    g = np.random.default_rng(3)
    first = g.poisson(lam)
    return g.normal(loc, first + 1.0)


add_case("random", values("float64", (2, 3)), build=lambda m: _ptr.normal(m, 2.0, rng=_rng()),
         ref=lambda m: np.random.default_rng(3).normal(m, 2.0), label="normal, broadcast")
add_case("random", np.array([1.5, 4.0]), np.array([2.0, 4.5]), build=lambda lo, hi: _ptr.uniform(lo, hi, rng=_rng()),
         ref=lambda lo, hi: np.random.default_rng(3).uniform(lo, hi), label="uniform, parameters as they are")
add_case("random", np.array([1.5, 4.0]), build=lambda lam: _ptr.poisson(lam, size=(3, 2), rng=_rng()),
         ref=lambda lam: np.random.default_rng(3).poisson(lam, size=(3, 2)), label="poisson, size")
add_case("random", np.array([1.0, 2.0, 3.0]), build=lambda a: _ptr.dirichlet(a, size=(4,), rng=_rng()),
         ref=lambda a: (lambda g: np.stack([g.dirichlet(a) for _ in range(4)]))(np.random.default_rng(3)),
         label="dirichlet, size (one draw per row, as PyTensor)")
add_case("random_next", np.array([2.0, 5.0]), values("float64", (2,)), build=_second_draw, ref=_second_draw_ref,
         label="the draw after another")


# ============================================================================ extra ops (core/ops/cumulative.py, sorting.py…)
for _dt in ("float64", "float32", "int8", "bool", "uint8"):
    _x = values(_dt, (3, 4))
    add_case("cumsum", _x, build=lambda a: pt.cumsum(a, axis=1), ref=lambda a: np.cumsum(a, axis=1), label=f"{_dt} axis 1")
    add_case("cumprod", _x, build=lambda a: pt.cumprod(a, axis=0), ref=lambda a: np.cumprod(a, axis=0),
             label=f"{_dt} axis 0")
    add_case("sort", _x, build=lambda a: pt.sort(a, axis=0), ref=lambda a: np.sort(a, axis=0), label=f"{_dt} axis 0")
    add_case("argsort", _x, build=lambda a: pt.argsort(a, kind="stable"),
             ref=lambda a: np.argsort(a, kind="stable"), label=f"{_dt} stable")
add_case("cumsum", values("float64", (2, 3)), build=pt.cumsum, ref=np.cumsum, label="flattened")
add_case("cumsum", values("int32", (0, 2)), build=lambda a: a.cumsum(axis=0), ref=lambda a: np.cumsum(a, axis=0),
         label="zero-size")
add_case("cumprod", values("float32", (1, 4)), build=lambda a: pt.cumprod(a, axis=-1),
         ref=lambda a: np.cumprod(a, axis=-1), label="broadcastable dim")
add_case("sort", values("float64", (2, 3, 2)), build=lambda a: pt.sort(a, axis=None), ref=lambda a: np.sort(a, None),
         label="flattened")
add_case("sort", values("complex128", (5,)), build=pt.sort, ref=np.sort, label="complex")
add_case("sort", values("float64", (4, 6)), build=lambda a: pt.median(a, axis=1), ref=lambda a: np.median(a, axis=1),
         label="median (even)", rtol=1e-12)
add_case("sort", values("int32", (3, 5)), build=lambda a: pt.median(a, axis=-1), ref=lambda a: np.median(a, axis=-1),
         label="median (odd, int)")
add_case("argsort", values("float64", (0, 3)), build=lambda a: a.argsort(axis=0), ref=lambda a: np.argsort(a, axis=0),
         label="zero-size")
add_case("argsort", values("float64", (2, 5)), build=lambda a: pt.argsort(a, axis=None, kind="mergesort"),
         ref=lambda a: np.argsort(a, axis=None, kind="mergesort"), label="flattened")
for _dt in ("float64", "int8", "bool"):
    add_case("repeat", values(_dt, (3, 2)), build=lambda a: pt.repeat(a, [2, 0, 3], axis=0),
             ref=lambda a: np.repeat(a, [2, 0, 3], axis=0), label=f"{_dt} axis 0")
add_case("repeat", values("float32", (2, 3)), build=lambda a: pt.repeat(a, [1, 2, 3, 0, 1, 1]),
         ref=lambda a: np.repeat(a, [1, 2, 3, 0, 1, 1]), label="flattened")
add_case("repeat", values("float64", (2, 3)), np.array([3, 1, 2]), build=lambda a, r: pt.repeat(a, r, axis=1),
         ref=lambda a, r: np.repeat(a, r, axis=1), static_out=False, label="symbolic repeats")
add_case("specify_shape", values("float64", (3, 4)), np.int64(3),
         build=lambda a, n: pt.specify_shape(a, (n, None)), ref=lambda a, n: a, label="symbolic length")
add_case("specify_shape", values("float64", (3, 4)), build=lambda a: pt.specify_shape(a[a > 0], 5) * 2,
         ref=lambda a: a[a > 0] * 2, static_out=False, label="data-dependent length")


# ============================================================================ linear algebra (core/ops/solvers.py, …, nlinalg.py)
# References call NumPy/SciPy matrix by matrix, in LAPACK's dtype (PyTensor's rule: float32 and
# narrow types compute in float32, wider ints in float64).
import scipy.linalg as _sl  # noqa: E402


def _spd(n, dtype="float64", seed=0, batch=()):
    m = np.random.default_rng(seed).standard_normal(batch + (n, n))
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)


def _gen(shape, dtype="float64", seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _each(fn, *arrays, core=2):
    """``fn`` over the leading dimensions of ``arrays`` (stacked; tuples of results stacked alike)."""
    batch = arrays[0].shape[:arrays[0].ndim - core]
    if not batch:
        return fn(*arrays)
    res = [fn(*(a[i] for a in arrays)) for i in np.ndindex(*batch)]
    if isinstance(res[0], tuple):
        return tuple(np.stack(r).reshape(batch + r[0].shape) for r in zip(*res))
    return np.stack(res).reshape(batch + res[0].shape)


def _cholesky_grad_ref(ell, g):
    """fold(L^-T Phi(L^T G) L^-1) with explicit inverses (the op: two triangular solves)."""
    li = np.linalg.inv(np.tril(ell))
    p = np.tril(np.tril(ell).T @ g)
    s = li.T @ (p - np.diag(np.diag(p)) / 2) @ li
    return np.tril(s + s.T) - np.diag(np.diag(s))


for _dt, _tol in (("float64", 1e-10), ("float32", 1e-4)):
    add_case("cholesky_grad", np.linalg.cholesky(_spd(4, _dt)), _gen((4, 4), _dt),
             build=lambda ell, g: Op(OPS["cholesky_grad"])(ell, g), ref=_cholesky_grad_ref, rtol=_tol, label=_dt)
add_case("cholesky_grad", np.linalg.cholesky(_spd(3, batch=(2,))), _gen((2, 3, 3)),
         build=lambda ell, g: Op(OPS["cholesky_grad"])(ell, g), ref=lambda ell, g: _each(_cholesky_grad_ref, ell, g),
         rtol=1e-10, label="stack")
_NPD = np.array([[1.0, 2.0], [2.0, 1.0]])  # symmetric, not positive definite
_SING = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
_PIV = np.array([[0.1, 2.0, 0.3], [1.5, 0.2, 0.4], [0.3, 0.5, 2.5]])
_LA = pt.linalg
for _dt, _tol in (("float64", 1e-10), ("float32", 1e-4)):
    add_case("cholesky", _spd(4, _dt), build=_LA.cholesky, ref=np.linalg.cholesky, rtol=_tol, label=_dt)
    add_case("solve_triangular", _spd(4, _dt), _gen((4,), _dt),
             build=lambda a, b: _LA.solve_triangular(a, b, lower=True),
             ref=lambda a, b: _sl.solve_triangular(a, b, lower=True), rtol=_tol, label=f"{_dt} lower")
    add_case("cho_solve", np.linalg.cholesky(_spd(3, _dt)), _gen((3, 2), _dt),
             build=lambda c, b: _LA.cho_solve((c, True), b), ref=lambda c, b: _sl.cho_solve((c, True), b),
             rtol=_tol, label=_dt)
    add_case("blockwise_solve", _spd(3, _dt, batch=(2,)), _gen((2, 3, 2), _dt), build=_LA.solve,
             ref=lambda a, b: np.linalg.solve(a, b), rtol=_tol, label=f"{_dt} stack")
    add_case("expm", _gen((3, 3), _dt) / 3, build=_LA.expm, ref=_sl.expm, rtol=_tol, label=_dt)
    add_case("slogdet", _spd(3, _dt), build=lambda a: _LA.slogdet(a)[1], ref=lambda a: np.linalg.slogdet(a)[1],
             rtol=_tol, label=f"{_dt} logabsdet")
    add_case("eigvalsh", _spd(4, _dt), build=_LA.eigvalsh, ref=np.linalg.eigvalsh, rtol=_tol, label=_dt)
    add_case("eigh", _spd(3, _dt), build=lambda a: _LA.eigh(a)[1], ref=lambda a: np.linalg.eigh(a)[1], rtol=_tol,
             label=f"{_dt} vectors")
    add_case("svd", _gen((4, 3), _dt), build=lambda a: _LA.svd(a)[0], ref=lambda a: np.linalg.svd(a)[0], rtol=_tol,
             label=f"{_dt} U")
    add_case("pinv", _gen((4, 3), _dt), build=_LA.pinv, ref=np.linalg.pinv, rtol=_tol, label=_dt)
    add_case("qr", _gen((4, 3), _dt), build=lambda a: _LA.qr(a)[0], ref=lambda a: _sl.qr(a)[0], rtol=_tol,
             label=f"{_dt} full Q")
    add_case("lu", _gen((3, 3), _dt), build=lambda a: _LA.lu(a)[1], ref=lambda a: _sl.lu(a)[1], rtol=_tol,
             label=f"{_dt} L")
    add_case("eig", _gen((3, 3), _dt), build=lambda a: _LA.eig(a)[0], ref=lambda a: np.linalg.eig(a)[0].astype(
        np.promote_types(a.dtype, "complex64")), rtol=_tol, label=f"{_dt} values")
# cholesky: upper factor, stacks, failure, integer inputs (LAPACK's dtypes)
add_case("cholesky", _spd(3), build=lambda a: _LA.cholesky(a, lower=False), ref=lambda a: _sl.cholesky(a, lower=False),
         rtol=1e-10, label="upper")
add_case("cholesky", _spd(3, batch=(2, 2)), build=_LA.cholesky, ref=np.linalg.cholesky, rtol=1e-10, label="stack")
add_case("cholesky", np.stack([_spd(2), _NPD]), build=_LA.cholesky,
         ref=lambda a: np.stack([np.linalg.cholesky(a[0]), np.full((2, 2), np.nan)]), rtol=1e-10,
         label="not positive definite: nan")
add_case("cholesky", np.array([[4, 2], [2, 5]], "int64"), build=_LA.cholesky,
         ref=lambda a: np.linalg.cholesky(a.astype("float64")), label="int64 -> float64")
add_case("cholesky", np.array([[4, 2], [2, 5]], "int8"), build=_LA.cholesky,
         ref=lambda a: np.linalg.cholesky(a.astype("float32")), label="int8 -> float32")
add_case("cholesky", np.zeros((0, 0)), build=_LA.cholesky, ref=lambda a: np.zeros((0, 0)), label="0x0")
# triangular solves: upper, unit diagonal, transposed, stacks with broadcasting, vector cores, singular
add_case("solve_triangular", _spd(3), _gen((3, 2)),
         build=lambda a, b: _LA.solve_triangular(a, b, unit_diagonal=True, trans="T"),
         ref=lambda a, b: _sl.solve_triangular(a, b, unit_diagonal=True, trans="T"), rtol=1e-10,
         label="upper unit trans")
add_case("solve_triangular", _spd(3, batch=(2,)), _gen((3, 2)), build=_LA.solve_triangular,
         ref=lambda a, b: _each(lambda a1: _sl.solve_triangular(a1, b), a), rtol=1e-10, label="stack, broadcast b")
add_case("solve_triangular", _spd(3), _gen((2, 3)), build=lambda a, b: _LA.solve_triangular(a, b, lower=True, b_ndim=1),
         ref=lambda a, b: _sl.solve_triangular(a, b.T, lower=True).T, rtol=1e-10, label="stack of vectors")
add_case("solve_triangular", np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0], [0.0, 0.0, 1.0]]), _gen((3,)),
         build=_LA.solve_triangular,
         ref=lambda a, b: np.full(3, np.nan), label="singular: nan")
add_case("cho_solve", _sl.cholesky(_spd(3, batch=()), lower=False), _gen((3,)),
         build=lambda c, b: _LA.cho_solve((c, False), b), ref=lambda c, b: _sl.cho_solve((c, False), b), rtol=1e-10,
         label="upper")
add_case("cho_solve", np.linalg.cholesky(_spd(3, batch=(2,))), _gen((2, 3)),
         build=lambda c, b: _LA.cho_solve((c, True), b, b_ndim=1),
         ref=lambda c, b: _each(lambda c1, b1: _sl.cho_solve((c1, True), b1), c, b), rtol=1e-10,
         label="stack of vectors")
# blockwise_solve: structured solvers read one triangle; singular systems give nan
_TRI_ONLY = np.tril(_spd(3)) + np.triu(_gen((3, 3)), 1) * 100  # garbage above the diagonal
for _kind in ("sym", "pos", "her"):
    add_case("blockwise_solve", _TRI_ONLY, _gen((3,)),
             build=lambda a, b, k=_kind: _LA.solve(a, b, assume_a=k, lower=True),
             ref=lambda a, b, k=_kind: _sl.solve(a, b, assume_a=k, lower=True), rtol=1e-10, label=f"{_kind} lower")
add_case("blockwise_solve", _spd(3), _gen((3, 2)), build=lambda a, b: _LA.solve(a, b, assume_a="positive definite",
                                                                               transposed=True),
         ref=lambda a, b: _sl.solve(a.T, b, assume_a="pos", lower=True), rtol=1e-10, label="pos transposed")
add_case("blockwise_solve", np.stack([_SING, _spd(3)]), _gen((3,)), build=lambda a, b: _LA.solve(a, b, b_ndim=1),
         ref=lambda a, b: np.stack([np.full(3, np.nan), np.linalg.solve(a[1], b)]), rtol=1e-10,
         label="stack, one singular: nan")
add_case("blockwise_solve", _spd(3), _gen((2, 3)), build=lambda a, b: _LA.solve(a, b, b_ndim=1),
         ref=lambda a, b: np.linalg.solve(a, b.T).T, rtol=1e-10, label="gen, stack of vectors")
add_case("blockwise_solve", np.array([[2, 1], [1, 3]], "int32"), np.array([1, 2], "int8"),
         build=lambda a, b: _LA.solve(a, b, assume_a="sym"), ref=lambda a, b: np.linalg.solve(a, b),
         rtol=1e-12, label="int -> float64")
# LU
for _k, _name in enumerate(("P", "L", "U")):
    add_case("lu", _PIV, build=lambda a, k=_k: _LA.lu(a)[k], ref=lambda a, k=_k: _sl.lu(a)[k], rtol=1e-12,
             label=f"{_name} (pivoting)")
add_case("lu", _gen((2, 3, 3)), build=lambda a: _LA.lu(a, p_indices=True)[0],
         ref=lambda a: _each(lambda a1: _sl.lu(a1, p_indices=True)[0], a), label="p_indices, stack")
add_case("lu", _PIV, build=lambda a: _LA.lu(a, permute_l=True)[0], ref=lambda a: _sl.lu(a, permute_l=True)[0],
         rtol=1e-12, label="permute_l PL")
add_case("lu", _PIV.astype("float32"), build=lambda a: _LA.lu(a)[0], ref=lambda a: _sl.lu(a)[0], label="float32 P")
add_case("lu_factor", _PIV, build=lambda a: _LA.lu_factor(a)[0], ref=lambda a: _sl.lu_factor(a)[0], rtol=1e-12,
         label="LU")
add_case("lu_factor", _gen((2, 3, 3)), build=lambda a: _LA.lu_factor(a)[1],
         ref=lambda a: _each(lambda a1: _sl.lu_factor(a1)[1], a), label="pivots, stack")
add_case("lu_factor", _SING, build=lambda a: _LA.lu_factor(a)[0], ref=lambda a: np.full((3, 3), np.nan),
         label="singular: nan")
add_case("lu_factor", _PIV.astype("float32"), build=lambda a: _LA.lu_factor(a)[0],
         ref=lambda a: _sl.lu_factor(a)[0], label="float32")
add_case("lu_solve", _PIV, _gen((3,)), build=lambda a, b: _LA.lu_solve(_LA.lu_factor(a), b),
         ref=lambda a, b: np.linalg.solve(a, b), rtol=1e-10, label="vector")
add_case("lu_solve", _PIV, _gen((3, 2)), build=lambda a, b: _LA.lu_solve(_LA.lu_factor(a), b, trans=True),
         ref=lambda a, b: np.linalg.solve(a.T, b), rtol=1e-10, label="trans")
add_case("lu_solve", _sl.lu_factor(_PIV)[0], _sl.lu_factor(_PIV)[1], _gen((2, 3)),
         build=lambda lu_, piv, b: _LA.lu_solve((lu_, piv), b, b_ndim=1),
         ref=lambda lu_, piv, b: _sl.lu_solve((lu_, piv), b.T).T, rtol=1e-10, label="stack of vectors")
add_case("pivot_to_permutation", np.array([2, 2, 2], "int32"), build=_LA.pivot_to_permutation,
         ref=lambda p: np.array([1, 2, 0]), label="perm")
add_case("pivot_to_permutation", np.array([[1, 1, 2], [2, 2, 2]], "int32"),
         build=lambda p: _LA.pivot_to_permutation(p, inverse=True), ref=lambda p: np.array([[1, 0, 2], [2, 0, 1]]),
         label="inverse, stack")
add_case("pivot_to_permutation", _PIV, build=lambda a: _LA.pivot_to_permutation(_LA.lu_factor(a)[1]),
         ref=lambda a: np.argmax(_sl.lu(a)[0], axis=1), label="matches lu's P")
# QR
for _mode, _n in (("full", 2), ("economic", 2), ("raw", 3)):
    for _k in range(_n):
        for _shape in ((4, 3), (3, 5)):
            add_case("qr", _gen(_shape), build=lambda a, m=_mode, k=_k: _LA.qr(a, mode=m)[k],
                     ref=lambda a, m=_mode, k=_k: (lambda r: (r[0] + (r[1],) if m == "raw" else r)[k])(
                         _sl.qr(a, mode=m)),
                     rtol=1e-10, label=f"{_mode} {_k} {_shape}")
add_case("qr", _gen((2, 4, 3)), build=lambda a: _LA.qr(a, mode="r"),
         ref=lambda a: _each(lambda a1: _sl.qr(a1, mode="r")[0], a),
         rtol=1e-10, label="r, stack")
add_case("qr", _gen((4, 3)), build=lambda a: _LA.qr(a, mode="reduced")[0], ref=lambda a: np.linalg.qr(a)[0], rtol=1e-10,
         label="reduced (numpy's name)")
# expm, eigen- and singular values
add_case("expm", _gen((2, 3, 3)) / 3, build=_LA.expm, ref=_sl.expm, rtol=1e-10, label="stack")
add_case("expm", np.array([[0, 1], [0, 0]], "int64"), build=_LA.expm, ref=lambda a: np.array([[1.0, 1.0], [0.0, 1.0]]),
         label="int")
add_case("eigvalsh", _TRI_ONLY, build=lambda a: _LA.eigvalsh(a), ref=lambda a: _sl.eigvalsh(a, lower=True), rtol=1e-10,
         label="reads the lower triangle")
add_case("eigvalsh", _gen((2, 3, 3)), _spd(3), build=lambda a, b: _LA.eigvalsh(a, b, lower=False),
         ref=lambda a, b: _each(lambda a1: _sl.eigvalsh(a1, b, lower=False), a), rtol=1e-10, label="generalized, stack")
add_case("eigh", _spd(3, batch=(2,)), build=lambda a: _LA.eigh(a)[0], ref=lambda a: np.linalg.eigh(a)[0], rtol=1e-10,
         label="values, stack")
add_case("eigh", _TRI_ONLY.T, _spd(3), build=lambda a, b: _LA.eigh(a, b, lower=False)[0],
         ref=lambda a, b: _sl.eigh(a, b, lower=False)[0], rtol=1e-10, label="generalized values")
add_case("eigh", _TRI_ONLY.T, build=lambda a: _LA.eigh(a, UPLO="U")[1] ** 2,
         ref=lambda a: np.linalg.eigh(a, UPLO="U")[1] ** 2, rtol=1e-10, label="vectors, UPLO=U")
add_case("eig", np.array([[0.0, -1.0], [1.0, 0.0]]), build=lambda a: _LA.eig(a)[1], ref=lambda a: np.linalg.eig(a)[1],
         rtol=1e-12, label="complex vectors")
add_case("eig", np.diag([1, 2]).astype("int32"), build=lambda a: _LA.eig(a)[0],
         ref=lambda a: np.array([1, 2], "complex128"), label="int -> complex128")
for _k in range(3):
    add_case("svd", _gen((2, 3, 5)), build=lambda a, k=_k: _LA.svd(a, full_matrices=False)[k],
             ref=lambda a, k=_k: np.linalg.svd(a, full_matrices=False)[k], rtol=1e-10, label=f"economic {_k}, stack")
add_case("svd", _gen((3, 4)), build=lambda a: _LA.svd(a, compute_uv=False),
         ref=lambda a: np.linalg.svd(a, compute_uv=False),
         rtol=1e-12, label="values only")
add_case("svd", np.array([[3, 0], [0, 4]], "int16"), build=lambda a: _LA.svd(a, compute_uv=False),
         ref=lambda a: np.array([4.0, 3.0], "float32"), label="int16 -> float32")
add_case("pinv", _spd(3), build=lambda a: _LA.pinv(a, hermitian=True), ref=lambda a: np.linalg.pinv(a, hermitian=True),
         rtol=1e-10, label="hermitian")
add_case("pinv", _gen((2, 2, 3)), build=_LA.pinv, ref=np.linalg.pinv, rtol=1e-10, label="stack")
add_case("slogdet", np.stack([_gen((3, 3)), -np.eye(3), _SING]), build=lambda a: _LA.slogdet(a)[0],
         ref=lambda a: np.linalg.slogdet(a)[0], rtol=1e-12, label="sign, stack with singular")
add_case("slogdet", np.diag([1e200, 1e200, -1e-300]), build=lambda a: _LA.slogdet(a)[1],
         ref=lambda a: np.linalg.slogdet(a)[1], rtol=1e-12, label="beyond det's range")


# ============================================================================ the tests
def test_every_op_has_samples():
    missing = sorted(set(OPS) - set(SAMPLES))
    assert not missing, f"ops without test samples in tests/test_op_matrix.py: {missing}"
    stale = sorted(set(SAMPLES) - set(OPS))
    assert not stale, f"samples for ops that are not in OPS: {stale}"


def _case_params():
    for name in sorted(SAMPLES):
        for k, case in enumerate(SAMPLES[name]):
            yield pytest.param(name, case, id=f"{name}-{k}-{case.label}")


def _inputs(case, static):
    out = []
    for k, a in enumerate(case.args):
        shape = a.shape if static else tuple(1 if s == 1 else None for s in a.shape)
        out.append(pt.tensor(f"in{k}", dtype=a.dtype.name, shape=shape))
    return out


def _check(name, case, static):
    ins = _inputs(case, static)
    if case.raises is not None:
        with pytest.raises(case.raises):
            case.build(*ins)
        return
    out = case.build(*ins)
    used = {node.op.name for node in toposort([out])}
    assert name in used, f"the sample graph does not use op {name} (uses {sorted(used)})"
    f = function(ins, out, mode="FAST_COMPILE", on_unused_input="ignore")
    res = f(*case.args)
    with np.errstate(all="ignore"):
        expected = np.asarray(case.ref(*case.args))
    assert isinstance(res, np.ndarray)
    assert res.dtype == expected.dtype, f"dtype {res.dtype}, NumPy gives {expected.dtype}"
    assert res.shape == expected.shape
    assert res.dtype.name == out.dtype, f"static dtype {out.dtype} but the result has {res.dtype}"
    assert out.type.is_compatible(res.shape), f"static shape {out.type.shape} but the result has {res.shape}"
    if static and case.static_out:
        assert None not in out.type.shape, f"static shape {out.type.shape} should be fully known"
    if res.dtype.kind in "biu":
        np.testing.assert_array_equal(res, expected)
    else:
        rtol = case.rtol or TOL[res.dtype.name]
        np.testing.assert_allclose(res, expected, rtol=rtol, atol=rtol * 1e-3, equal_nan=True)


@pytest.mark.parametrize("name, case", _case_params())
def test_op_matches_reference(name, case):
    _check(name, case, static=True)
    _check(name, case, static=False)


def test_contraction_flops():
    from eqtensor.core.config import config
    from eqtensor.core.graph import TensorType

    def flops(name, *shapes):
        a, b = (TensorType("float64", s) for s in shapes)
        node = getattr(pt, name)(a(), b()).owner
        return OPS[name].flops(node.op, [a, b], [None, None])

    assert flops("dot", (3, 4), (4, 2)) == 2 * 3 * 4 * 2
    assert flops("dot", (4,), (4,)) == 2 * 4
    assert flops("dot", (2, 3, 4), (5, 4, 6)) == 2 * (2 * 3) * (5 * 6) * 4
    assert flops("dot", (), (4, 5)) == 20
    assert flops("matmul", (7, 3, 4), (4, 2)) == 2 * 7 * 3 * 2 * 4
    assert flops("matmul", (1, 3, 4), (5, 4, 2)) == 2 * 5 * 3 * 2 * 4
    n = config.unknown_dim_size
    assert flops("dot", (None, 4), (4, None)) == 2 * n * 4 * n
    assert flops("dot", (3, None), (None, 2)) == 2 * 3 * n * 2


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_ops_without_view_of_never_alias_their_inputs(name):
    """The schedule may write into a non-view op's output in place: it must be fresh memory."""
    if OPS[name].view_of is not None:
        pytest.skip("declared as a view")
    checked = 0
    for case in SAMPLES[name]:
        if case.raises is not None:
            continue
        ins = _inputs(case, static=False)
        values = {id(v): np.array(a) for v, a in zip(ins, case.args)}
        for node in toposort([case.build(*ins)]):
            args = [values.get(id(i), getattr(i, "data", getattr(i, "value", None))) for i in node.inputs]  # shared: .value
            if node.op.name != name or any(a is None for a in args):
                continue
            with np.errstate(all="ignore"):
                out = np.asarray(node.op.perform(*args))
            for a in args:
                assert not np.shares_memory(out, a), f"{node.op} returns memory of an input"
            checked += 1
    assert checked, f"no sample of {name} applies the op directly to inputs"


# ============================================================================ high-precision references
#: float64 points where the elementwise implementations are checked against their references
#: (finite: infinities, nan and the sign of zero are IEEE conventions, checked against NumPy above)
MP_POINTS = np.concatenate([np.linspace(-6, 6, 49), [1e-300, -1e-300, 1e-8, -1e-8, 0.999999, -0.999999, 30.0, -30.0,
                                                     700.0, -700.0, 1e4, -1e4]])
#: ops with parameters: the parameter values the reference check uses
MP_PARAMS = {"polygamma": {"n": 1}, "cast": {"dtype": "float64"}}
#: relative tolerance of the NumPy/SciPy implementation against the exact value
MP_RTOL = {"j0": 1e-12, "j1": 1e-12, "jv": 1e-11, "gammainc": 1e-13, "gammaincc": 1e-13, "kv": 1e-13,
           "kve": 1e-13, "arccos": 1e-12, "arcsin": 1e-12, "erfinv": 1e-11, "gammaln": 1e-11, "psi": 1e-11, "polygamma": 1e-11,
           "tan": 1e-12, "pow": 1e-12, "arctanh": 1e-12, "arccosh": 1e-12}
#: absolute tolerance near the zeros of a function, where relative accuracy is not defined
MP_ATOL = {"gammaln": 1e-15}


@pytest.mark.parametrize("name", sorted(n for n, d in OPS.items() if d.kind == "elemwise" and d.reference))
def test_elemwise_implementation_matches_its_reference(name):
    """Each op's NumPy/SciPy implementation against its record's mpmath reference (float64): equal
    within a few ulps where the exact value is finite, nan where it is undefined (a reference that
    answers with a complex number fails loudly, see eqtensor.rules.reference)."""
    d = OPS[name]
    grids = np.meshgrid(*[np.roll(MP_POINTS, 7 * k) for k in range(d.nin)], indexing="ij") if d.nin > 1 \
        else [MP_POINTS]
    args = [g.reshape(-1)[:2000] for g in grids]
    ins = [pt.dvector(f"x{k}") for k in range(d.nin)]
    if name == "switch":
        ins[0], args[0] = pt.vector("c", dtype="bool"), args[0] > 0
    out = Op(d, MP_PARAMS.get(name, {}))(*ins)
    (exact,) = evaluate_mp([out], dict(zip(ins, args)), digits=40)
    with np.errstate(all="ignore"):
        got = np.asarray(out.owner.op.perform(*args), dtype="float64")
    rtol = MP_RTOL.get(name, 4e-15)
    for k in range(got.size):
        truth = exact[k]
        if truth is None:  # undefined: nan, or ±inf at a pole
            assert not np.isfinite(got[k]), f"{name}{tuple(a[k] for a in args)} = {got[k]}, undefined exactly"
            continue
        t = float(truth)
        if np.isinf(t) or abs(t) > 1e300:
            assert got[k] == t or abs(got[k]) > 1e300, f"{name}{tuple(a[k] for a in args)} = {got[k]}, exactly {t}"
        else:
            assert abs(got[k] - t) <= rtol * abs(t) + MP_ATOL.get(name, 1e-300), \
                f"{name}{tuple(a[k] for a in args)} = {got[k]!r}, exactly {truth}"
