"""Elementwise ops: one row per op in :data:`TABLE` (arity, NumPy implementation, cost, doc,
mpmath reference, derivative domain, instability cost); the ops, their builders and exports are
derived from the rows.

Dtypes follow the NumPy function of the row; the special functions (SciPy's ``erf``, ``erfc``,
``erfcx``, ``erfinv``, ``gammaln``, ``psi``, ``sigmoid``, and ``softplus``, ``log1mexp``) compute in
:func:`special_float` of their input's dtype. SciPy is imported when one of them first runs.

>>> from eqtensor import tensor as pt
>>> pt.exp(pt.dvector("x")).type
TensorType(float64, shape=(None,))
>>> (pt.fvector("x") * 2.5).dtype
'float32'
"""

from __future__ import annotations

import builtins
import functools

import numpy as np

from ..dtypes import as_dtype, promote
from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, broadcast_static_shapes, constant_value, declare, elemwise_infer

_scipy_special = None


def _special(name):
    """``scipy.special.<name>``. SciPy's special functions are imported on first use: the import
    takes about 0.2 s, most of what ``import eqtensor`` would cost, and few graphs need them."""
    global _scipy_special
    if _scipy_special is None:
        import scipy.special  # lazy: see the docstring

        _scipy_special = scipy.special
    return getattr(_scipy_special, name)


def special_float(dtype) -> np.dtype:
    """Result dtype of the special functions (SciPy's rule): float32 and complex stay, others float64."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "c" or dtype == np.float32 else np.dtype("float64")


class _SpecialUfunc:
    """A ``scipy.special`` ufunc, loaded on its first call, computed in :func:`special_float` of its
    inputs' promoted dtype.

    Its dtype rule (:meth:`dtype`) needs no SciPy, so graphs using it are built without loading
    SciPy (the stability rules build some at import); the inputs are cast to that dtype before the
    call, so every SciPy version gives it (SciPy's own loop choice for integer inputs varies: erfinv
    of int8 was float32). ``complex_ok``: SciPy has complex loops for it (complex inputs of the
    others raise ``TypeError``). Keywords (``out=``, used by the NumPy backend in place) go to the
    ufunc.
    """

    __slots__ = ("name", "complex_ok", "fn")

    def __init__(self, name, complex_ok):
        self.name = name
        self.complex_ok = complex_ok
        self.fn = None

    @property
    def __name__(self):
        return self.name

    def dtype(self, *dtypes) -> np.dtype | None:
        """The result dtype for inputs of ``dtypes`` (None: unsupported)."""
        dt = special_float(promote(list(dtypes)) if len(dtypes) > 1 else dtypes[0])
        return None if dt.kind == "c" and not self.complex_ok else dt

    def __call__(self, *xs, **kwargs):
        fn = self.fn
        if fn is None:
            fn = self.fn = _special(self.name)
        if len(xs) == 1 and getattr(xs[0], "dtype", None) in (np.float64, np.float32):
            return fn(xs[0], **kwargs)
        xs = [np.asarray(x) for x in xs]
        dt = self.dtype(*[x.dtype for x in xs])
        if dt is None:
            raise TypeError(f"{self.name} does not support complex inputs")
        return fn(*[x.astype(dt, copy=False) for x in xs], **kwargs)

    def __reduce__(self):
        return (_SpecialUfunc, (self.name, self.complex_ok))

    def __repr__(self):
        return f"<scipy.special.{self.name} in special_float, loaded on first use>"


def _special_infer(op, inputs):
    """The dtype rule of the ops computed by a :class:`_SpecialUfunc` (no SciPy needed)."""
    dtype = _SPECIAL[op.name].dtype(*[x.dtype for x in inputs])
    if dtype is None:
        raise TypeError(f"{op.name} does not support inputs of dtype {', '.join(x.dtype for x in inputs)}")
    return TensorType(as_dtype(dtype), broadcast_static_shapes(op.name, inputs))


#: op name -> its SciPy function (complex loops: erf, erfc, erfcx and psi have them)
_SPECIAL = {name: _SpecialUfunc(fn, complex_ok) for name, fn, complex_ok in (
    ("sigmoid", "expit", False), ("erf", "erf", True), ("erfc", "erfc", True), ("erfinv", "erfinv", False),
    ("gammaln", "gammaln", False), ("psi", "psi", True), ("erfcx", "erfcx", True),
    # the special functions of pytensor.tensor.math (complex loops: gamma)
    *((name, name, name == "gamma") for name in (
        "gamma", "erfcinv", "j0", "j1", "i0", "i1", "gammainc", "gammaincc", "gammaincinv", "gammainccinv",
        "jv", "iv", "ive", "kv", "kve", "owens_t", "betainc", "betaincinv")))}


def _ufunc_perform(u):
    def perform(*arrays):
        return u(*arrays)

    perform.__name__ = getattr(u, "__name__", "perform")
    return perform


def _sigmoid(x):
    return _SPECIAL["sigmoid"](x)


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


def _polygamma_perform(x, n):
    return _special("polygamma")(n, x)  # not a ufunc: its dtype rule runs it (SciPy loads with the first node)


def _switch(c, a, b):
    return np.where(c, a, b)


def _real_branch(mp, z):
    """nan where a real function is undefined (mpmath answered with a complex number)."""
    return mp.nan if isinstance(z, mp.mpc) and z.imag != 0 else mp.re(z)


def _log_ref(base):
    return lambda mp, x: mp.log(x, base) if x >= 0 else mp.nan


def _mod_ref(mp, x, y):
    if y == 0:
        return mp.nan
    r = mp.fmod(x, y)  # exact; NumPy's remainder has the sign of y
    return r + y if r and (r < 0) != (y < 0) else r


def _trunc(mp, x):
    return mp.floor(x) if x >= 0 else mp.ceil(x)


def _round_half_away(x):
    """Round to nearest, ties away from zero (C's ``round``; PyTensor accepts floats only)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"round_half_away_from_zero: only float inputs are supported (as PyTensor), got {x.dtype}")
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)  # x - t is exact: no double rounding


def _log1mexp_ref(mp, x):
    return mp.nan if x > 0 else mp.log(-mp.expm1(x))


def _logaddexp_ref(mp, x, y):
    # mpmath's exponent range is unbounded: exp(1000) neither overflows nor underflows
    return mp.log(mp.exp(x) + mp.exp(y))


def _hypot_ref(mp, x, y):
    return mp.inf if mp.isinf(x) or mp.isinf(y) else mp.sqrt(x * x + y * y)


def _erfcx_ref(mp, x):
    return mp.mpf(0) if x == mp.inf else mp.exp(x * x) * mp.erfc(x)


def _gamma_ref(mp, x):
    return mp.nan if x <= 0 and x == mp.floor(x) else mp.gamma(x)  # poles: SciPy gives ±inf at ±0, nan below


def _erfcinv_ref(mp, y):
    if not 0 <= y <= 2:
        return mp.nan
    if y > 1:
        return -_erfcinv_ref(mp, 2 - y)
    if y == 0 or y == 1:
        return mp.inf if y == 0 else mp.mpf(0)
    # the root of -log erfc(x) = -log y (increasing, no underflow) in [0, 40]
    return mp.findroot(lambda x: mp.log(y) - mp.log(mp.erfc(x)), (0, 40), solver="anderson")


def _gammainc_ref(upper):
    def ref(mp, a, x):
        if a < 0 or x < 0 or (a == 0 and x == 0):
            return mp.nan
        if a == 0:  # the limit SciPy takes: all mass at 0
            return mp.mpf(0 if upper else 1)
        return mp.gammainc(a, x, mp.inf, regularized=True) if upper else mp.gammainc(a, 0, x, regularized=True)
    return ref


def _betainc_ref(mp, a, b, x):
    if a < 0 or b < 0 or (a == 0 and b == 0) or not 0 <= x <= 1:
        return mp.nan
    if a == 0 or b == 0:  # SciPy's limits: all mass at 0 (a = 0) or at 1 (b = 0)
        return mp.mpf(1 if a == 0 else 0) if 0 < x < 1 else mp.mpf(x)
    return mp.betainc(a, b, 0, x, regularized=True)


def _bessel_ref(fn, scaled=False):
    """A Bessel function's real branch: nan where it is complex (negative x, non-integer order), by
    symmetry for integer orders (``f_n(-x) = (-1)^n f_n(x)``); ``scaled``: times ``exp(x)`` (kve).
    (iv, ive, owens_t and the inverse functions have no reference here: mpmath takes seconds on the
    grid of the per-op check; tests/test_special_functions.py checks them at chosen points.)"""
    def ref(mp, v, x):
        integer = v == mp.floor(v)
        if x < 0 and (fn == "besselk" or not integer):
            return mp.nan
        if fn == "besselk" and x == 0:
            return mp.inf
        if x == 0 and v < 0 and not integer:  # a pole
            return mp.inf
        sign = -1 if x < 0 and int(v) % 2 else 1
        r = sign * getattr(mp, fn)(int(v) if integer else v, mp.fabs(x))
        return r * mp.exp(x) if scaled else r
    return ref


def _real(x):
    return np.real(x).copy()  # NumPy's real (and imag of complex) is a view of x


def _copy(x):
    return np.array(x, copy=True)


def _imag(x):
    return np.imag(x).copy()


def _complex(re, im):
    """``re + 1j * im`` in the complex dtype of the inputs (complex64 from float32 or small ints)."""
    re, im = np.asarray(re), np.asarray(im)
    if re.dtype.kind == "c" or im.dtype.kind == "c":
        raise TypeError(f"complex: the real and imaginary parts must be real numbers, got {re.dtype} and {im.dtype}")
    out = np.empty(np.broadcast_shapes(re.shape, im.shape), np.result_type(re.dtype, im.dtype, np.complex64))
    out.real, out.imag = re, im
    return out


#: name -> (arity, NumPy/SciPy implementation (a ufunc where possible), cost per element, doc,
#: high-precision reference, finite-difference domain per input or None when not differentiable,
#: extra cost per element of an unstable form). Derived from it: the op, its builder (exported
#: under the op's name), the per-op test cases and the gradient samples.
TABLE = {
    "add": (2, np.add, 1, "x + y", lambda mp, x, y: x + y, ((-2, 2), (-2, 2)), 0),
    "sub": (2, np.subtract, 1, "x - y", lambda mp, x, y: x - y, ((-2, 2), (-2, 2)), 0),
    "mul": (2, np.multiply, 1, "x * y", lambda mp, x, y: x * y, ((-2, 2), (-2, 2)), 0),
    "true_div": (2, np.true_divide, 4, "x / y", lambda mp, x, y: x / y, ((-2, 2), (0.5, 2)), 0),
    "floor_div": (2, np.floor_divide, 6, "x // y", lambda mp, x, y: mp.floor(x / y), None, 0),
    "mod": (2, np.mod, 6, "x % y (sign of y, as NumPy)", _mod_ref,
            ((2.5, 2.9), (1.5, 1.6)), 0),
    "pow": (2, np.power, 20, "x ** y", lambda mp, x, y: _real_branch(mp, mp.power(x, y)), ((0.5, 2), (-1.5, 1.5)), 0),
    "maximum": (2, np.maximum, 1, "elementwise maximum (nan propagates)", lambda mp, x, y: mp.mpf(builtins.max(x, y)),
                ((-2, 2), (-2, 2)), 0),
    "minimum": (2, np.minimum, 1, "elementwise minimum (nan propagates)", lambda mp, x, y: mp.mpf(builtins.min(x, y)),
                ((-2, 2), (-2, 2)), 0),
    "logaddexp": (2, np.logaddexp, 16, "log(exp(x) + exp(y)), stable (max(x, y) + log1p(exp(-|x - y|)))",
                  _logaddexp_ref, ((-2, 2), (-2, 2)), 0),
    "hypot": (2, np.hypot, 10, "sqrt(x**2 + y**2) without overflow or underflow", _hypot_ref,
              ((0.5, 2), (-2, 2)), 0),
    "arctan2": (2, np.arctan2, 25, "arctan(y / x) with quadrant", lambda mp, y, x: mp.atan2(y, x),
                ((-2, 2), (0.5, 2)), 0),
    "neg": (1, np.negative, 1, "-x", lambda mp, x: -x, ((-2, 2),), 0),
    "abs": (1, np.abs, 1, "|x|", lambda mp, x: mp.fabs(x), ((0.3, 2),), 0),
    "sign": (1, np.sign, 1, "sign of x", lambda mp, x: mp.sign(x), None, 0),
    "exp": (1, np.exp, 10, "e ** x", lambda mp, x: mp.exp(x), ((-2, 2),), 20),
    "exp2": (1, np.exp2, 10, "2 ** x", lambda mp, x: mp.power(2, x), ((-2, 2),), 0),
    "expm1": (1, np.expm1, 12, "exp(x) - 1, accurate near 0", lambda mp, x: mp.expm1(x), ((-2, 2),), 0),
    "log": (1, np.log, 10, "natural log", _log_ref(None), ((0.5, 3),), 20),
    "log2": (1, np.log2, 10, "base-2 log", _log_ref(2), ((0.5, 3),), 0),
    "log10": (1, np.log10, 10, "base-10 log", _log_ref(10), ((0.5, 3),), 0),
    "log1p": (1, np.log1p, 12, "log(1 + x), accurate near 0", lambda mp, x: mp.log1p(x) if x >= -1 else mp.nan,
              ((-0.5, 3),), 0),
    "sqrt": (1, np.sqrt, 4, "square root", lambda mp, x: mp.sqrt(x) if x >= 0 else mp.nan, ((0.5, 3),), 0),
    "cbrt": (1, np.cbrt, 6, "cube root (real, also of negative numbers)",
             lambda mp, x: mp.sign(x) * mp.cbrt(mp.fabs(x)), ((0.5, 3),), 0),
    "sqr": (1, np.square, 1, "x * x", lambda mp, x: x * x, ((-2, 2),), 0),
    "reciprocal": (1, np.reciprocal, 4, "1 / x", lambda mp, x: 1 / x, ((0.5, 3),), 0),
    "sin": (1, np.sin, 10, "sine", lambda mp, x: mp.sin(x), ((-3, 3),), 0),
    "cos": (1, np.cos, 10, "cosine", lambda mp, x: mp.cos(x), ((-3, 3),), 0),
    "tan": (1, np.tan, 12, "tangent", lambda mp, x: mp.tan(x), ((-1, 1),), 0),
    "arcsin": (1, np.arcsin, 15, "inverse sine", lambda mp, x: mp.asin(x) if mp.fabs(x) <= 1 else mp.nan,
               ((-0.8, 0.8),), 0),
    "arccos": (1, np.arccos, 15, "inverse cosine", lambda mp, x: mp.acos(x) if mp.fabs(x) <= 1 else mp.nan,
               ((-0.8, 0.8),), 0),
    "arctan": (1, np.arctan, 15, "inverse tangent", lambda mp, x: mp.atan(x), ((-3, 3),), 0),
    "sinh": (1, np.sinh, 12, "hyperbolic sine", lambda mp, x: mp.sinh(x), ((-2, 2),), 0),
    "cosh": (1, np.cosh, 12, "hyperbolic cosine", lambda mp, x: mp.cosh(x), ((-2, 2),), 0),
    "tanh": (1, np.tanh, 12, "hyperbolic tangent", lambda mp, x: mp.tanh(x), ((-2, 2),), 0),
    "arcsinh": (1, np.arcsinh, 15, "inverse hyperbolic sine", lambda mp, x: mp.asinh(x), ((-2, 2),), 0),
    "arccosh": (1, np.arccosh, 15, "inverse hyperbolic cosine", lambda mp, x: mp.acosh(x) if x >= 1 else mp.nan,
                ((1.5, 3),), 0),
    "arctanh": (1, np.arctanh, 15, "inverse hyperbolic tangent",
                lambda mp, x: mp.atanh(x) if mp.fabs(x) <= 1 else mp.nan, ((-0.8, 0.8),), 0),
    "sigmoid": (1, _sigmoid, 12, "1 / (1 + exp(-x))", lambda mp, x: 1 / (1 + mp.exp(-x)), ((-3, 3),), 0),
    "softplus": (1, _softplus, 14, "log(1 + exp(x)), stable", lambda mp, x: mp.log1p(mp.exp(x)), ((-3, 3),), 0),
    "log1mexp": (1, _log1mexp, 14, "log(1 - exp(x)) for x <= 0, stable", _log1mexp_ref, ((-3, -0.1),), 0),
    "erf": (1, _SPECIAL["erf"], 15, "error function", lambda mp, x: mp.erf(x), ((-2, 2),), 0),
    "erfc": (1, _SPECIAL["erfc"], 15, "complementary error function", lambda mp, x: mp.erfc(x),
             ((-2, 2),), 0),
    "erfcx": (1, _SPECIAL["erfcx"], 20, "scaled complementary error function exp(x**2) erfc(x)", _erfcx_ref,
              ((-2, 2),), 0),
    "erfinv": (1, _SPECIAL["erfinv"], 20, "inverse error function",
               lambda mp, x: mp.erfinv(x) if mp.fabs(x) <= 1 else mp.nan, ((-0.8, 0.8),), 0),
    "gammaln": (1, _SPECIAL["gammaln"], 25, "log |Gamma(x)|", lambda mp, x: mp.log(mp.fabs(mp.gamma(x))),
                ((0.5, 4),), 0),
    "psi": (1, _SPECIAL["psi"], 25, "digamma", lambda mp, x: mp.digamma(x), ((0.5, 4),), 0),
    "gamma": (1, _SPECIAL["gamma"], 25, "the gamma function", _gamma_ref, ((0.5, 4),), 0),
    "erfcinv": (1, _SPECIAL["erfcinv"], 20, "inverse complementary error function", _erfcinv_ref, ((0.2, 1.8),), 0),
    "j0": (1, _SPECIAL["j0"], 25, "Bessel function of the first kind of order 0",
           lambda mp, x: mp.besselj(0, x), ((-3, 3),), 0),
    "j1": (1, _SPECIAL["j1"], 25, "Bessel function of the first kind of order 1",
           lambda mp, x: mp.besselj(1, x), ((-3, 3),), 0),
    "i0": (1, _SPECIAL["i0"], 25, "modified Bessel function of the first kind of order 0",
           lambda mp, x: mp.besseli(0, x), ((-3, 3),), 0),
    "i1": (1, _SPECIAL["i1"], 25, "modified Bessel function of the first kind of order 1",
           lambda mp, x: mp.besseli(1, x), ((-3, 3),), 0),
    "gammainc": (2, _SPECIAL["gammainc"], 60, "regularized lower incomplete gamma function P(k, x)",
                 _gammainc_ref(False), ((0.5, 3), (0.2, 3)), 0),
    "gammaincc": (2, _SPECIAL["gammaincc"], 60, "regularized upper incomplete gamma function Q(k, x)",
                  _gammainc_ref(True), ((0.5, 3), (0.2, 3)), 0),
    "gammaincinv": (2, _SPECIAL["gammaincinv"], 120, "x such that gammainc(k, x) = y",
                    None, ((0.5, 3), (0.1, 0.9)), 0),
    "gammainccinv": (2, _SPECIAL["gammainccinv"], 120, "x such that gammaincc(k, x) = y",
                     None, ((0.5, 3), (0.1, 0.9)), 0),
    "jv": (2, _SPECIAL["jv"], 60, "Bessel function of the first kind of real order v", _bessel_ref("besselj"),
           ((0.5, 2), (0.5, 3)), 0),
    "iv": (2, _SPECIAL["iv"], 60, "modified Bessel function of the first kind of real order v",
           None, ((0.5, 2), (0.5, 3)), 0),
    "ive": (2, _SPECIAL["ive"], 60, "exponentially scaled iv: iv(v, x) exp(-|x|)", None,
            ((0.5, 2), (0.5, 3)), 0),
    "kv": (2, _SPECIAL["kv"], 60, "modified Bessel function of the second kind of real order v",
           _bessel_ref("besselk"), ((0.5, 2), (0.5, 3)), 0),
    "kve": (2, _SPECIAL["kve"], 60, "exponentially scaled kv: kv(v, x) exp(x)", _bessel_ref("besselk", scaled=True),
            ((0.5, 2), (0.5, 3)), 0),
    "owens_t": (2, _SPECIAL["owens_t"], 60, "Owen's T function T(h, a)", None, ((-2, 2), (-2, 2)), 0),
    "betainc": (3, _SPECIAL["betainc"], 80, "regularized incomplete beta function I_x(a, b)", _betainc_ref,
                ((0.5, 3), (0.5, 3), (0.1, 0.9)), 0),
    "betaincinv": (3, _SPECIAL["betaincinv"], 160, "x such that betainc(a, b, x) = y", None,
                   ((0.5, 3), (0.5, 3), (0.1, 0.9)), 0),
    "tensor_copy": (1, _copy, 0, "a copy of x (a new variable; the optimizer removes it)", lambda mp, x: x,
                    ((-2, 2),), 0),
    "real": (1, _real, 1, "real part", lambda mp, x: x, ((-2, 2),), 0),
    "imag": (1, _imag, 1, "imaginary part (0 for real numbers)", lambda mp, x: mp.mpf(0), ((-2, 2),), 0),
    "conj": (1, np.conjugate, 1, "complex conjugate", lambda mp, x: x, ((-2, 2),), 0),
    "angle": (1, np.angle, 25, "argument of a complex number (0 or pi for real numbers)", None, ((0.5, 2),), 0),
    "complex": (2, _complex, 2, "real + 1j * imag", None, None, 0),
    "floor": (1, np.floor, 1, "round toward -inf", lambda mp, x: mp.floor(x), None, 0),
    "ceil": (1, np.ceil, 1, "round toward +inf", lambda mp, x: mp.ceil(x), None, 0),
    "trunc": (1, np.trunc, 1, "round toward 0", _trunc, None, 0),
    "round_half_to_even": (1, np.round, 1, "round to nearest, ties to even (np.round)",
                           lambda mp, x: mp.nint(x), None, 0),
    "round_half_away_from_zero": (1, _round_half_away, 1, "round to nearest, ties away from zero (C round)",
                                  lambda mp, x: mp.sign(x) * mp.floor(mp.fabs(x) + 0.5), None, 0),
    "isnan": (1, np.isnan, 1, "x is nan", lambda mp, x: mp.isnan(x), None, 0),
    "isinf": (1, np.isinf, 1, "x is ±inf", lambda mp, x: mp.isinf(x), None, 0),
    "eq": (2, np.equal, 1, "x == y", lambda mp, x, y: x == y, None, 0),
    "neq": (2, np.not_equal, 1, "x != y", lambda mp, x, y: x != y, None, 0),
    "lt": (2, np.less, 1, "x < y", lambda mp, x, y: x < y, None, 0),
    "le": (2, np.less_equal, 1, "x <= y", lambda mp, x, y: x <= y, None, 0),
    "gt": (2, np.greater, 1, "x > y", lambda mp, x, y: x > y, None, 0),
    "ge": (2, np.greater_equal, 1, "x >= y", lambda mp, x, y: x >= y, None, 0),
    "and_": (2, np.bitwise_and, 1, "x & y: bitwise and (logical for bool)", None, None, 0),
    "or_": (2, np.bitwise_or, 1, "x | y: bitwise or (logical for bool)", None, None, 0),
    "xor": (2, np.bitwise_xor, 1, "x ^ y: bitwise xor (logical for bool)", None, None, 0),
    "invert": (1, np.invert, 1, "~x: bitwise not (logical for bool)", None, None, 0),
    "switch": (3, _switch, 1, "where(cond, x, y)", lambda mp, c, x, y: x if c else y, ((0, 1), (-2, 2), (-2, 2)), 0),
    "clip": (3, np.clip, 2, "min(max(x, lo), hi)", lambda mp, x, lo, hi: builtins.min(builtins.max(x, lo), hi),
             ((-2, 2), (-3, -2.5), (2.5, 3)), 0),
}

#: comparisons: a Python int out of the tensor's range is compared exactly (NumPy 2), not refused
COMPARISONS = ("eq", "neq", "lt", "le", "gt", "ge")

for _name, (_nin, _fn, _cost, _doc, _ref, _domain, _unstable) in TABLE.items():
    _is_ufunc = isinstance(_fn, (np.ufunc, _SpecialUfunc))
    declare(_name, "elemwise", _nin, _special_infer if _name in _SPECIAL else elemwise_infer,
            _ufunc_perform(_fn) if _is_ufunc else _fn, cost=_cost,
            ufunc=_fn if _is_ufunc else None, differentiable=_domain is not None, doc=_doc, reference=_ref,
            grad_domain=_domain, unstable=_unstable, compare=_name in COMPARISONS)


def _cast_perform(x, dtype):
    return np.asarray(x).astype(dtype)


def _cast_infer(op, inputs):

    return TensorType(op.params["dtype"], inputs[0].type.shape)


def _cast_ref(mp, x, dtype):
    """The exact cast: the value itself into a float or complex dtype, truncated toward 0 into an
    integer one (in range), nonzero-ness into bool."""
    kind = np.dtype(dtype).kind
    if kind in "fc":
        return x
    return mp.mpf(x != 0) if kind == "b" else mp.mpf(int(x))


declare("cast", "elemwise", 1, _cast_infer, _cast_perform, params=("dtype",), cost=1, reference=_cast_ref,
        numpy="{0}.astype({dtype!r})", doc="convert to another dtype (C casting rules, as NumPy astype)")


#: binary ops whose builders take more inputs, folded from the left: PyTensor's ``add``, ``mul``,
#: ``and_``, ``or_``, ``xor`` are variadic, and its ``logaddexp(*xs)`` a formula
FOLDED = ("add", "mul", "and_", "or_", "xor", "logaddexp")


def _make(name):
    op = Op(OPS[name])

    def build(*args):
        if name in FOLDED and len(args) > 2:
            return functools.reduce(op, args)
        return op(*args)

    build.__name__ = name
    build.__doc__ = f"Elementwise {name}: {op.defn.doc}."
    return build


#: the builders, one per row of TABLE (``add(x, y)``, ``exp(x)``, …), exported under the op's name
for _name in TABLE:
    globals()[_name] = _make(_name)


def cast(x, dtype):
    """Convert ``x`` to ``dtype`` (no-op when it already has it).

    >>> from eqtensor import tensor as pt
    >>> pt.cast(pt.ivector("i"), "float32").dtype
    'float32'
    """

    x = as_tensor_variable(x)
    dtype = as_dtype(dtype)
    if x.dtype == dtype:
        return x
    return Op(OPS["cast"], {"dtype": dtype})(x)


declare("polygamma", "elemwise", 1, elemwise_infer, _polygamma_perform, params=("n",), cost=40,
        reference=lambda mp, x, n: mp.polygamma(n, x), grad_domain=((0.5, 4),),
        doc="the n-th derivative of psi (digamma)")



def polygamma(n: int, x):
    """``psi^(n)(x)``, the ``n``-th derivative of the digamma function.

    >>> from eqtensor import tensor as pt
    >>> round(float(pt.polygamma(1, 1.0).eval()), 12)  # pi**2 / 6
    1.644934066848

    An order known when the graph is built (an int or a 0-d integer constant) is a parameter of the
    op; any other integer tensor is an input of ``polygamma_n`` (core/ops/special_functions.py; nan
    where ``n < 0``), as PyTensor's ``polygamma``. A non-integer order raises ``TypeError``.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        v = as_tensor_variable(n)
        if v.dtype[0] not in "iu":
            raise TypeError(f"polygamma: the order n must be an integer, got {n!r} of type {v.type}")
        c = constant_value(v)
        if c is None or v.ndim != 0:
            return Op(OPS["polygamma_n"])(v, x)
        n = int(c)
    if n < 0:
        raise ValueError(f"polygamma: the order n must be non-negative, got {n}")
    return Op(OPS["polygamma"], {"n": int(n)})(x)


def _truth(x):

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

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if not b.dtype.startswith(("float", "complex")):
        b = cast(b, promote([b.dtype, float]))
    close = or_(and_(le(abs(sub(a, b)), add(atol, mul(rtol, abs(b)))), invert(or_(isnan(b), isinf(b)))), eq(a, b))
    if equal_nan:
        close = or_(close, and_(isnan(a), isnan(b)))
    return close


__all__ = list(TABLE) + ["cast", "isclose", "polygamma", "logical_and", "logical_not", "logical_or", "logical_xor"]
