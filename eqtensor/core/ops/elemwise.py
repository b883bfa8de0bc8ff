"""Elementwise ops: one row per op in :data:`TABLE` (name, arity, NumPy ufunc, cost, doc).

Dtypes follow the NumPy (or SciPy) function of the row; the special functions without a NumPy
ufunc (``sigmoid``, ``softplus``, ``log1mexp``) follow SciPy's rule (:func:`special_float`).

>>> from eqtensor import tensor as pt
>>> pt.exp(pt.dvector("x")).type
TensorType(float64, shape=(None,))
>>> (pt.fvector("x") * 2.5).dtype
'float32'
"""

from __future__ import annotations

import numpy as np
import scipy.special as sps

from ..op import OPS, Op, declare, elemwise_infer

def _ufunc_perform(u):
    def perform(*arrays):
        return u(*arrays)

    perform.__name__ = getattr(u, "__name__", "perform")
    return perform


def special_float(dtype) -> np.dtype:
    """Result dtype of the special functions (SciPy's rule): float32 and complex stay, others float64."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "c" or dtype == np.float32 else np.dtype("float64")


def _sigmoid(x):
    x = np.asarray(x)
    return sps.expit(x.astype(special_float(x.dtype), copy=False))


def _softplus(x):
    # stable log(1 + exp(x))
    x = np.asarray(x)
    x = x.astype(special_float(x.dtype), copy=False)
    return np.logaddexp(np.zeros((), x.dtype), x)


def _log1mexp(x):
    # log(1 - exp(x)) for x <= 0, stable on both sides of -log 2
    x = np.asarray(x)
    x = x.astype(special_float(x.dtype), copy=False)
    with np.errstate(all="ignore"):
        return np.where(x > -np.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _switch(c, a, b):
    return np.where(c, a, b)


# name, nin, numpy callable (a ufunc where possible), cost per element, differentiable, doc
TABLE = [
    ("add", 2, np.add, 1, True, "x + y"),
    ("sub", 2, np.subtract, 1, True, "x - y"),
    ("mul", 2, np.multiply, 1, True, "x * y"),
    ("true_div", 2, np.true_divide, 4, True, "x / y"),
    ("floor_div", 2, np.floor_divide, 6, False, "x // y"),
    ("mod", 2, np.mod, 6, True, "x % y (sign of y, as NumPy)"),
    ("pow", 2, np.power, 20, True, "x ** y"),
    ("maximum", 2, np.maximum, 1, True, "elementwise maximum (nan propagates)"),
    ("minimum", 2, np.minimum, 1, True, "elementwise minimum (nan propagates)"),
    ("arctan2", 2, np.arctan2, 25, True, "arctan(y / x) with quadrant"),
    ("neg", 1, np.negative, 1, True, "-x"),
    ("abs", 1, np.abs, 1, True, "|x|"),
    ("sign", 1, np.sign, 1, False, "sign of x"),
    ("exp", 1, np.exp, 10, True, "e ** x"),
    ("exp2", 1, np.exp2, 10, True, "2 ** x"),
    ("expm1", 1, np.expm1, 12, True, "exp(x) - 1, accurate near 0"),
    ("log", 1, np.log, 10, True, "natural log"),
    ("log2", 1, np.log2, 10, True, "base-2 log"),
    ("log10", 1, np.log10, 10, True, "base-10 log"),
    ("log1p", 1, np.log1p, 12, True, "log(1 + x), accurate near 0"),
    ("sqrt", 1, np.sqrt, 4, True, "square root"),
    ("sqr", 1, np.square, 1, True, "x * x"),
    ("reciprocal", 1, np.reciprocal, 4, True, "1 / x"),
    ("sin", 1, np.sin, 10, True, "sine"),
    ("cos", 1, np.cos, 10, True, "cosine"),
    ("tan", 1, np.tan, 12, True, "tangent"),
    ("arcsin", 1, np.arcsin, 15, True, "inverse sine"),
    ("arccos", 1, np.arccos, 15, True, "inverse cosine"),
    ("arctan", 1, np.arctan, 15, True, "inverse tangent"),
    ("sinh", 1, np.sinh, 12, True, "hyperbolic sine"),
    ("cosh", 1, np.cosh, 12, True, "hyperbolic cosine"),
    ("tanh", 1, np.tanh, 12, True, "hyperbolic tangent"),
    ("arcsinh", 1, np.arcsinh, 15, True, "inverse hyperbolic sine"),
    ("arccosh", 1, np.arccosh, 15, True, "inverse hyperbolic cosine"),
    ("arctanh", 1, np.arctanh, 15, True, "inverse hyperbolic tangent"),
    ("sigmoid", 1, _sigmoid, 12, True, "1 / (1 + exp(-x))"),
    ("softplus", 1, _softplus, 14, True, "log(1 + exp(x)), stable"),
    ("log1mexp", 1, _log1mexp, 14, True, "log(1 - exp(x)) for x <= 0, stable"),
    ("erf", 1, sps.erf, 15, True, "error function"),
    ("erfc", 1, sps.erfc, 15, True, "complementary error function"),
    ("erfinv", 1, sps.erfinv, 20, True, "inverse error function"),
    ("gammaln", 1, sps.gammaln, 25, True, "log |Gamma(x)|"),
    ("psi", 1, sps.psi, 25, True, "digamma"),
    ("floor", 1, np.floor, 1, False, "round toward -inf"),
    ("ceil", 1, np.ceil, 1, False, "round toward +inf"),
    ("trunc", 1, np.trunc, 1, False, "round toward 0"),
    ("round_half_to_even", 1, np.round, 1, False, "round to nearest, ties to even (np.round)"),
    ("isnan", 1, np.isnan, 1, False, "x is nan"),
    ("isinf", 1, np.isinf, 1, False, "x is ±inf"),
    ("eq", 2, np.equal, 1, False, "x == y"),
    ("neq", 2, np.not_equal, 1, False, "x != y"),
    ("lt", 2, np.less, 1, False, "x < y"),
    ("le", 2, np.less_equal, 1, False, "x <= y"),
    ("gt", 2, np.greater, 1, False, "x > y"),
    ("ge", 2, np.greater_equal, 1, False, "x >= y"),
    ("and_", 2, np.bitwise_and, 1, False, "x & y: bitwise and (logical for bool)"),
    ("or_", 2, np.bitwise_or, 1, False, "x | y: bitwise or (logical for bool)"),
    ("xor", 2, np.bitwise_xor, 1, False, "x ^ y: bitwise xor (logical for bool)"),
    ("invert", 1, np.invert, 1, False, "~x: bitwise not (logical for bool)"),
    ("switch", 3, _switch, 1, True, "where(cond, x, y)"),
    ("clip", 3, np.clip, 2, True, "min(max(x, lo), hi)"),
]

#: comparisons: a Python int out of the tensor's range is compared exactly (NumPy 2), not refused
COMPARISONS = ("eq", "neq", "lt", "le", "gt", "ge")

for _name, _nin, _fn, _cost, _diff, _doc in TABLE:
    _is_ufunc = isinstance(_fn, np.ufunc)
    declare(
        _name, "elemwise", _nin, elemwise_infer,
        _ufunc_perform(_fn) if _is_ufunc else _fn,
        cost=_cost, ufunc=_fn if _is_ufunc else None, differentiable=_diff, doc=_doc,
        extra={"compare": True} if _name in COMPARISONS else {},
    )


def _cast_perform(x, dtype):
    return np.asarray(x).astype(dtype)


def _cast_infer(op, inputs):
    from ..types import TensorType

    return TensorType(op.params["dtype"], inputs[0].type.shape)


declare("cast", "elemwise", 1, _cast_infer, _cast_perform, params=("dtype",), cost=1,
        numpy="{0}.astype({dtype!r})", doc="convert to another dtype (C casting rules, as NumPy astype)")


def _make(name):
    op = Op(OPS[name])

    def build(*args):
        return op(*args)

    build.__name__ = name
    build.__doc__ = f"Elementwise {name}: {op.defn.doc}."
    return build


add, sub, mul, true_div, floor_div, mod, pow, maximum, minimum, arctan2 = (
    _make(n) for n in ("add", "sub", "mul", "true_div", "floor_div", "mod", "pow", "maximum", "minimum", "arctan2")
)
neg, abs, sign, exp, exp2, expm1, log, log2, log10, log1p, sqrt, sqr, reciprocal = (
    _make(n) for n in ("neg", "abs", "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "sqr", "reciprocal")
)
sin, cos, tan, arcsin, arccos, arctan, sinh, cosh, tanh, arcsinh, arccosh, arctanh = (
    _make(n) for n in ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh")
)
sigmoid, softplus, log1mexp, erf, erfc, erfinv, gammaln, psi = (
    _make(n) for n in ("sigmoid", "softplus", "log1mexp", "erf", "erfc", "erfinv", "gammaln", "psi")
)
floor, ceil, trunc, round_half_to_even, isnan, isinf = (
    _make(n) for n in ("floor", "ceil", "trunc", "round_half_to_even", "isnan", "isinf")
)
eq, neq, lt, le, gt, ge, and_, or_, xor, invert, switch, clip = (
    _make(n) for n in ("eq", "neq", "lt", "le", "gt", "ge", "and_", "or_", "xor", "invert", "switch", "clip")
)


def cast(x, dtype):
    """Convert ``x`` to ``dtype`` (no-op when it already has it).

    >>> from eqtensor import tensor as pt
    >>> pt.cast(pt.ivector("i"), "float32").dtype
    'float32'
    """
    from ..basic import as_tensor_variable
    from ..dtypes import as_dtype

    x = as_tensor_variable(x)
    dtype = as_dtype(dtype)
    if x.dtype == dtype:
        return x
    return Op(OPS["cast"], {"dtype": dtype})(x)


def _truth(x):
    from ..basic import as_tensor_variable

    return cast(as_tensor_variable(x), "bool")


def logical_and(x, y):
    """Truth of ``x and y`` elementwise (``np.logical_and``: nonzero is true, result bool).

    >>> from eqtensor import tensor as pt
    >>> pt.logical_and(pt.dvector("x"), 1).dtype
    'bool'
    """
    return and_(_truth(x), _truth(y))


def logical_or(x, y):
    """Truth of ``x or y`` elementwise (``np.logical_or``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.logical_or(np.array([0, 2]), np.array([0, 0])).eval()
    array([False,  True])
    """
    return or_(_truth(x), _truth(y))


def logical_xor(x, y):
    """Truth of ``x xor y`` elementwise (``np.logical_xor``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.logical_xor(np.array([1, 2]), np.array([0, 3])).eval()
    array([ True, False])
    """
    return xor(_truth(x), _truth(y))


def logical_not(x):
    """Truth of ``not x`` elementwise (``np.logical_not``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.logical_not(np.array([0.0, 0.5])).eval()
    array([ True, False])
    """
    return invert(_truth(x))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|a - b| <= atol + rtol * |b|`` (equal infinities are close), as ``np.isclose``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.isclose(np.array([1.0, np.inf, np.nan]), np.array([1.0 + 1e-9, np.inf, np.nan])).eval()
    array([ True,  True, False])
    """
    from ..basic import as_tensor_variable
    from ..dtypes import promote

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if not b.dtype.startswith(("float", "complex")):
        b = cast(b, promote([b.dtype, float]))
    close = or_(and_(le(abs(sub(a, b)), add(atol, mul(rtol, abs(b)))), invert(or_(isnan(b), isinf(b)))), eq(a, b))
    if equal_nan:
        close = or_(close, and_(isnan(a), isnan(b)))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element of ``a`` is close to ``b`` (:func:`isclose`), as ``np.allclose``.

    >>> from eqtensor import tensor as pt
    >>> bool(pt.allclose([1.0, 2.0], [1.0, 2.000001]).eval())
    True
    """
    from .reduction import all as all_

    return all_(isclose(a, b, rtol, atol, equal_nan))
