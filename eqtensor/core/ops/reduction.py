"""Reductions with ``axis`` (None, int or tuple) and ``keepdims``, as NumPy.

>>> from eqtensor import tensor as pt
>>> x = pt.matrix("x", shape=(3, 4))
>>> x.sum(axis=0).type.shape, x.max(axis=1, keepdims=True).type.shape
((4,), (3, 1))
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from ..graph import Constant
from ..op import OPS, Op, as_tensor_variable, declare, normalize_axis, reduce_infer
from . import elemwise
from .elemwise import cast, mul, special_float, sqr, sqrt, sub, true_div
from .shape import length


def _argreduce(fn):
    def perform(x, axis, keepdims):
        x = np.asarray(x)
        rest = [d for d in range(x.ndim) if d not in axis]
        moved = np.transpose(x, rest + list(axis))
        flat = moved.reshape(moved.shape[: len(rest)] + (math.prod(x.shape[d] for d in axis),))
        res = fn(flat, axis=-1)
        if keepdims:
            res = res.reshape(tuple(1 if d in axis else s for d, s in enumerate(x.shape)))
        return np.asarray(res, dtype="int64")

    return perform


def _logsumexp(x, axis, keepdims):

    x = np.asarray(x)
    x = x.astype(special_float(x.dtype), copy=False)
    if x.size:
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    else:
        m = np.zeros(tuple(1 if d in axis else s for d, s in enumerate(x.shape)), x.dtype)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else out.reshape(tuple(s for d, s in enumerate(x.shape) if d not in axis))


def _np(fn):
    def perform(x, axis, keepdims):
        return fn(x, axis=axis, keepdims=keepdims)

    return perform


def _argref(pick):
    return lambda mp, vals: mp.mpf(vals.index(pick(vals)))


# name, NumPy implementation, cost per input element, template, doc, high-precision reference over
# the reduced values, whether a fused kernel computes its producers in its input loop
TABLE = {
    "sum": (_np(np.sum), 1, "np.sum({0}, axis={axis}, keepdims={keepdims})", "sum of elements",
            lambda mp, vals: mp.fsum(vals), True),
    "prod": (_np(np.prod), 1, "np.prod({0}, axis={axis}, keepdims={keepdims})", "product of elements",
             lambda mp, vals: mp.fprod(vals), True),
    "max": (_np(np.max), 1, "np.max({0}, axis={axis}, keepdims={keepdims})", "maximum (nan propagates)",
            lambda mp, vals: builtins.max(vals), True),
    "min": (_np(np.min), 1, "np.min({0}, axis={axis}, keepdims={keepdims})", "minimum (nan propagates)",
            lambda mp, vals: builtins.min(vals), True),
    "all": (_np(np.all), 1, "np.all({0}, axis={axis}, keepdims={keepdims})", "logical and",
            lambda mp, vals: builtins.all(vals), True),
    "any": (_np(np.any), 1, "np.any({0}, axis={axis}, keepdims={keepdims})", "logical or",
            lambda mp, vals: builtins.any(vals), True),
    "argmax": (_argreduce(np.argmax), 1, None, "index of the maximum (flattened over the axes)", _argref(builtins.max), True),
    "argmin": (_argreduce(np.argmin), 1, None, "index of the minimum (flattened over the axes)", _argref(builtins.min), True),
    # its one-pass C kernel reads a materialized input
    "logsumexp": (_logsumexp, 12, None, "log(sum(exp(x))), stable",
                  lambda mp, vals: mp.log(mp.fsum(mp.exp(v) for v in vals)), False),
}
#: reductions with a derivative
DIFFERENTIABLE = ("sum", "prod", "max", "min", "logsumexp")

for _name, (_fn, _cost, _tpl, _doc, _ref, _absorbs) in TABLE.items():
    declare(_name, "reduce", 1, reduce_infer, _fn, params=("axis", "keepdims"), cost=_cost, numpy=_tpl,
            differentiable=_name in DIFFERENTIABLE, doc=_doc, reference=_ref, absorbs_producers=_absorbs)


def reduce(name, x, axis=None, keepdims=False):
    """Apply the reduction op ``name`` (a row of :data:`TABLE`) over ``axis``."""

    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim, name)
    if name in ("max", "min", "argmax", "argmin"):
        for a in axes:
            if x.type.shape[a] == 0:
                raise ValueError(f"{name}: reduction over axis {a} of static length 0 has no identity")
    return Op(OPS[name], {"axis": axes, "keepdims": bool(keepdims)})(x)


def _in_dtypes(reduction, x, axis, dtype, keepdims, acc_dtype):
    """``reduction(x, axis, keepdims)`` accumulated in ``acc_dtype`` (else ``dtype``), with the
    dtype ``dtype`` (else the reduction's own): PyTensor's ``dtype=`` and ``acc_dtype=``."""
    if dtype is None and acc_dtype is None:
        return reduction(x, axis, keepdims)
    x = as_tensor_variable(x)
    out_dtype = dtype if dtype is not None else reduction(x, axis, keepdims).dtype
    return cast(reduction(cast(x, acc_dtype or dtype), axis, keepdims), out_dtype)


def sum(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Sum over ``axis`` (all axes when None), in ``dtype``/``acc_dtype`` when given (PyTensor's
    signature: the result has ``dtype``, the sum accumulates in ``acc_dtype``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.sum(np.arange(6).reshape(2, 3), axis=0).eval()
    array([3, 5, 7])
    >>> pt.sum(np.array([100, 100], dtype="int8"), dtype="int8", acc_dtype="int64").eval()
    array(-56, dtype=int8)
    """
    return _in_dtypes(_sum, x, axis, dtype, keepdims, acc_dtype)


def _sum(x, axis, keepdims):
    return reduce("sum", x, axis, keepdims)


def prod(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Product over ``axis``, in ``dtype``/``acc_dtype`` when given (as :func:`sum`).

    >>> from eqtensor import tensor as pt
    >>> pt.prod(pt.imatrix("m"), axis=1, keepdims=True).type
    TensorType(int64, shape=(None, 1))
    """
    return _in_dtypes(_prod, x, axis, dtype, keepdims, acc_dtype)


def _prod(x, axis, keepdims):
    return reduce("prod", x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.max(np.array([[1.0, 5.0], [7.0, 2.0]]), axis=1).eval()
    array([5., 7.])
    """
    return reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.min(np.array([[1.0, 5.0], [7.0, 2.0]])).eval()
    array(1.)
    """
    return reduce("min", x, axis, keepdims)


def all(x, axis=None, keepdims=False):
    """Logical and over ``axis``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.all(np.array([[True, False], [True, True]]), axis=1).eval()
    array([False,  True])
    """
    return reduce("all", x, axis, keepdims)


def any(x, axis=None, keepdims=False):
    """Logical or over ``axis``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.any(np.array([0, 0, 3])).eval()
    array(True)
    """
    return reduce("any", x, axis, keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum over ``axis`` (over the flattened axes when several).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.argmax(np.array([[1, 9], [8, 2]]), axis=0).eval()
    array([1, 0])
    """
    return reduce("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum over ``axis``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.argmin(np.array([[1, 9], [8, 2]]), axis=1).eval()
    array([0, 1])
    """
    return reduce("argmin", x, axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` computed stably.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> float(pt.logsumexp(np.array([1000.0, 1000.0])).eval())
    1000.6931471805599
    """
    return reduce("logsumexp", x, axis, keepdims)


def _count(x, axes, dtype, ddof=0):
    """Number of reduced elements minus ``ddof``, a ``dtype`` scalar (a constant when the lengths
    are static)."""

    static = [x.type.shape[a] for a in axes]
    if None not in static:
        return Constant(np.asarray(math.prod(static) - ddof, dtype=dtype))
    n = None
    for a in axes:
        d = length(x, a)
        n = d if n is None else mul(n, d)
    n = cast(n, dtype)
    return sub(n, Constant(np.asarray(ddof, dtype=dtype))) if ddof else n


#: float dtypes whose sums accumulate in float64 inside mean/var/std (as PyTensor): a float32 sum of
#: [1e8, 1, -1e8] is 0
WIDENED = ("float16", "float32")


def mean(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Arithmetic mean over ``axis`` (float result; ``sum / count``, float16/float32 inputs summed
    in float64 and the result cast back), in ``dtype``/``acc_dtype`` when given (as :func:`sum`).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.mean(np.array([[1, 2], [3, 5]]), axis=0).eval()
    array([2. , 3.5])
    >>> pt.mean(np.array([1e8, 1, -1e8], dtype="float32")).eval()
    array(0.33333334, dtype=float32)
    """

    return _in_dtypes(_mean, x, axis, dtype, keepdims, acc_dtype)


def _mean(x, axis, keepdims):
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim, "mean")
    out_dtype = "float64" if x.dtype.startswith(("int", "uint", "bool")) else x.dtype
    if out_dtype in WIDENED:
        s = _sum(cast(x, "float64"), axes, keepdims)
        return cast(true_div(s, _count(x, axes, "float64")), out_dtype)
    s = _sum(x, axes, keepdims)
    return true_div(cast(s, out_dtype), _count(x, axes, out_dtype))


def var(x, axis=None, ddof=0, keepdims=False, corrected=False):
    """Variance over ``axis`` with ``ddof`` (``mean(|x - mean(x)|**2)``; PyTensor's argument
    order). ``corrected=True``: the corrected two-pass algorithm, which subtracts
    ``|sum(x - mean(x))|**2 / n``, the rounding error of the mean, from the sum of squares.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> float(pt.var(np.array([1.0, 2.0, 3.0, 4.0]), ddof=1).eval())
    1.6666666666666667
    """

    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim, "var")
    m = mean(x, axes, keepdims=True)
    d = sub(x, m)
    is_complex = d.dtype.startswith("complex")
    sq = sqr(elemwise.abs(d) if is_complex else d)
    wide = sq.dtype in WIDENED
    ss = _sum(cast(sq, "float64") if wide else sq, axes, keepdims)
    if corrected:
        sd = _sum(cast(d, "float64") if wide else d, axes, keepdims)
        ss = sub(ss, true_div(sqr(elemwise.abs(sd) if is_complex else sd), _count(x, axes, ss.dtype, 0)))
    out = true_div(ss, _count(x, axes, ss.dtype, ddof))
    return cast(out, sq.dtype) if wide else out


def std(x, axis=None, ddof=0, keepdims=False, corrected=False):
    """Standard deviation over ``axis`` (the square root of :func:`var`).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> float(pt.std(np.array([1.0, 3.0])).eval())
    1.0
    """

    return sqrt(var(x, axis, ddof, keepdims, corrected))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element of ``a`` is close to ``b`` (:func:`isclose`), as ``np.allclose``.

    >>> from eqtensor import tensor as pt
    >>> bool(pt.allclose([1.0, 2.0], [1.0, 2.000001]).eval())
    True
    """

    return all(elemwise.isclose(a, b, rtol, atol, equal_nan))


__all__ = ["all", "allclose", "any", "argmax", "argmin", "logsumexp", "max", "mean", "min", "prod", "std", "sum", "var"]
