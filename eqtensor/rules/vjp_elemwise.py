"""VJP rules of the elementwise ops: arithmetic, comparisons' users (``switch``, ``clip``), casts and
the unary functions (one row of ``UNARY`` each).
"""

from __future__ import annotations

import numpy as np

from ..core.ops import elemwise as E
from .vjp import ZERO, VJPRule, collector, folded, scaled

VJPS: list[VJPRule] = []
vjp = collector(VJPS)


@vjp("add", "d(x + y) = dx + dy")
def _add(op, inputs, out, g):
    return g, g


@vjp("sub", "d(x - y) = dx - dy")
def _sub(op, inputs, out, g):
    return g, -g


@vjp("mul", "d(x y) = y dx + x dy")
def _mul(op, inputs, out, g):
    x, y = inputs
    return scaled(g, y), scaled(g, x)


@vjp("true_div", "d(x / y) = dx / y - (x / y) dy / y")
def _true_div(op, inputs, out, g):
    x, y = inputs
    return g / y, -(g * out) / y


@vjp("mod", "x % y = x - y floor(x / y): d = dx - floor(x / y) dy")
def _mod(op, inputs, out, g):
    x, y = inputs
    return g, -(g * E.floor_div(x, y))


@vjp("pow", "d(x^y) = y x^(y-1) dx + log(x) x^y dy (0 where x = 0)")
def _pow(op, inputs, out, g):
    x, y = inputs
    ym1 = folded(y, lambda v: v - 1)
    if ym1 is None:
        gx = g * y * x ** (y - 1)
    elif np.all(ym1.data == 1):
        gx = g * y * x
    else:
        gx = g * y * x ** ym1
    gy = E.switch(E.eq(x, 0), 0, g * out * E.log(x))
    return gx, gy


def _tie_split(x, y, out, g):
    """The cotangents of ``maximum``/``minimum``: all of ``g`` to the selected input, half to each
    at a tie, so the chain rule stays exact when both inputs are one function (``maximum(x, x)``
    has derivative 1) and the result does not depend on the order of the inputs."""
    gs = E.switch(E.eq(x, y), g * 0.5, g)
    return gs * E.eq(out, x), gs * E.eq(out, y)


@vjp("maximum", "the gradient goes to the larger input (half to each at ties, as JAX)")
def _maximum(op, inputs, out, g):
    return _tie_split(*inputs, out, g)


@vjp("minimum", "the gradient goes to the smaller input (half to each at ties, as JAX)")
def _minimum(op, inputs, out, g):
    return _tie_split(*inputs, out, g)


@vjp("logaddexp", "d log(e^x + e^y) = sigmoid(x - y) dx + sigmoid(y - x) dy (half each at ties)")
def _logaddexp(op, inputs, out, g):
    x, y = inputs
    return scaled(g, E.sigmoid(x - y)), scaled(g, E.sigmoid(y - x))


@vjp("hypot", "d hypot(x, y) = (x dx + y dy) / hypot(x, y): reuse the output (x / out is in [-1, 1])")
def _hypot(op, inputs, out, g):
    x, y = inputs
    return scaled(g, x / out), scaled(g, y / out)


@vjp("arctan2", "d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)")
def _arctan2(op, inputs, out, g):
    y, x = inputs
    r = g / (E.sqr(x) + E.sqr(y))
    return r * x, -(r * y)


@vjp("switch", "the cotangent goes to the branch that was taken; the condition is discrete")
def _switch(op, inputs, out, g):
    c = inputs[0]
    return None, E.switch(c, g, 0), E.switch(c, 0, g)


@vjp("clip", "d clip(x, lo, hi) = dx inside [lo, hi], dlo below, dhi above")
def _clip(op, inputs, out, g):
    x, lo, hi = inputs
    return g * E.and_(E.ge(x, lo), E.le(x, hi)), g * E.lt(x, lo), g * E.gt(x, hi)


@vjp("second", "second(a, b) copies b: a's values are not read (disconnected)", only=(1,))
def _second(op, inputs, out, g):
    return None, g


@vjp("cast", "a cast is linear: cast the cotangent back (the driver casts to the input's dtype)")
def _cast(op, inputs, out, g):
    return (g,)


# unary functions
_LOG2, _LOG10 = float(np.log(2.0)), float(np.log(10.0))
_ERF = float(2 / np.sqrt(np.pi))

# op, why, cotangent of x as a function of (g, x, out, op)
UNARY = [
    ("neg", "d(-x) = -dx", lambda g, x, out, op: -g),
    ("tensor_copy", "a copy passes the cotangent", lambda g, x, out, op: g),
    # of real inputs; for a complex x the rule's result only marks x as reached (the reverse pass makes
    # it undefined: it does not differentiate through complex values, see autodiff.py)
    ("real", "d real(x) = dx for real x", lambda g, x, out, op: g),
    ("imag", "d imag(x) = 0 for real x", lambda g, x, out, op: g if x.dtype.startswith("complex") else ZERO),
    ("conj", "d conj(x) = dx for real x", lambda g, x, out, op: g),
    ("angle", "d angle(x) = 0 for real x (0 or pi)",
     lambda g, x, out, op: g if x.dtype.startswith("complex") else ZERO),
    ("abs", "d|x| = sign(x) dx", lambda g, x, out, op: scaled(g, E.sign(x))),
    ("exp", "d exp(x) = exp(x) dx: reuse the output", lambda g, x, out, op: scaled(g, out)),
    ("exp2", "d 2^x = log(2) 2^x dx", lambda g, x, out, op: scaled(g, out * _LOG2)),
    ("expm1", "d (exp(x) - 1) = (expm1(x) + 1) dx", lambda g, x, out, op: scaled(g, (out + 1))),
    ("log", "d log(x) = dx / x", lambda g, x, out, op: g / x),
    ("log2", "d log2(x) = dx / (x log 2)", lambda g, x, out, op: g / (x * _LOG2)),
    ("log10", "d log10(x) = dx / (x log 10)", lambda g, x, out, op: g / (x * _LOG10)),
    ("log1p", "d log(1 + x) = dx / (1 + x)", lambda g, x, out, op: g / (x + 1)),
    ("sqrt", "d sqrt(x) = dx / (2 sqrt(x)): reuse the output", lambda g, x, out, op: g / (out * 2)),
    ("cbrt", "d cbrt(x) = dx / (3 cbrt(x)^2): reuse the output", lambda g, x, out, op: g / (E.sqr(out) * 3)),
    ("sqr", "d x^2 = 2 x dx", lambda g, x, out, op: scaled(g, x * 2)),
    ("reciprocal", "d (1/x) = -(1/x)^2 dx: reuse the output", lambda g, x, out, op: -(g * E.sqr(out))),
    ("sigmoid", "d sigmoid(x) = sigmoid(x) (1 - sigmoid(x)) dx", lambda g, x, out, op: scaled(g, out * (1 - out))),
    ("softplus", "d log(1 + exp(x)) = sigmoid(x) dx", lambda g, x, out, op: scaled(g, E.sigmoid(x))),
    ("log1mexp", "d log(1 - exp(x)) = -exp(x) / (1 - exp(x)) dx = -exp(x - log1mexp(x)) dx: reuse the output "
     "(-inf at x = 0, whatever the sign of the zero)", lambda g, x, out, op: -scaled(g, E.exp(x - out))),
    ("sin", "d sin(x) = cos(x) dx", lambda g, x, out, op: scaled(g, E.cos(x))),
    ("cos", "d cos(x) = -sin(x) dx", lambda g, x, out, op: -(g * E.sin(x))),
    ("tan", "d tan(x) = (1 + tan(x)^2) dx: reuse the output", lambda g, x, out, op: scaled(g, (E.sqr(out) + 1))),
    ("arcsin", "d asin(x) = dx / sqrt(1 - x^2)", lambda g, x, out, op: g / E.sqrt(1 - E.sqr(x))),
    ("arccos", "d acos(x) = -dx / sqrt(1 - x^2)", lambda g, x, out, op: -(g / E.sqrt(1 - E.sqr(x)))),
    ("arctan", "d atan(x) = dx / (1 + x^2)", lambda g, x, out, op: g / (E.sqr(x) + 1)),
    ("sinh", "d sinh(x) = cosh(x) dx", lambda g, x, out, op: scaled(g, E.cosh(x))),
    ("cosh", "d cosh(x) = sinh(x) dx", lambda g, x, out, op: scaled(g, E.sinh(x))),
    ("tanh", "d tanh(x) = (1 - tanh(x)^2) dx: reuse the output", lambda g, x, out, op: scaled(g, (1 - E.sqr(out)))),
    ("arcsinh", "d asinh(x) = dx / sqrt(x^2 + 1)", lambda g, x, out, op: g / E.sqrt(E.sqr(x) + 1)),
    ("arccosh", "d acosh(x) = dx / sqrt(x^2 - 1)", lambda g, x, out, op: g / E.sqrt(E.sqr(x) - 1)),
    ("arctanh", "d atanh(x) = dx / (1 - x^2)", lambda g, x, out, op: g / (1 - E.sqr(x))),
    ("erf", "d erf(x) = 2/sqrt(pi) exp(-x^2) dx", lambda g, x, out, op: scaled(g, E.exp(-E.sqr(x)) * _ERF)),
    ("erfc", "d erfc(x) = -2/sqrt(pi) exp(-x^2) dx", lambda g, x, out, op: scaled(g, E.exp(-E.sqr(x)) * -_ERF)),
    ("erfcx", "d erfcx(x) = (2 x erfcx(x) - 2/sqrt(pi)) dx: reuse the output",
     lambda g, x, out, op: scaled(g, out * x * 2.0 - _ERF)),
    ("erfinv", "d erfinv(x) = sqrt(pi)/2 exp(erfinv(x)^2) dx: reuse the output",
     lambda g, x, out, op: scaled(g, E.exp(E.sqr(out)) * (1 / _ERF))),
    ("gammaln", "d log|Gamma(x)| = psi(x) dx", lambda g, x, out, op: scaled(g, E.psi(x))),
    ("psi", "d psi(x) = polygamma(1, x) dx", lambda g, x, out, op: scaled(g, E.polygamma(1, x))),
    ("polygamma", "d polygamma(n, x) = polygamma(n + 1, x) dx",
     lambda g, x, out, op: scaled(g, E.polygamma(op.params["n"] + 1, x))),
]


def _unary(fn):
    def rule(op, inputs, out, g):
        return (fn(g, inputs[0], out, op),)

    return rule


for _name, _why, _fn in UNARY:
    vjp(_name, _why)(_unary(_fn))
