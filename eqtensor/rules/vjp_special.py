"""VJP rules of SciPy's special functions (gamma, incomplete gamma and beta functions and their
inverses, Bessel functions, Owen's T, hyp2f1, polygamma of a symbolic order).

The derivatives of the incomplete gamma and beta functions in their shape parameters, and of
``hyp2f1`` in ``a``, ``b``, ``c``, are ops of their own (``gammainc_dk``, ``betainc_der``,
``hyp2f1_der``: series and continued fractions, :mod:`eqtensor.core.ops.special_functions`); the
inverse functions are differentiated implicitly (``x = P^-1(k, y)``: ``dx/dk = -(dP/dk) / (dP/dx)``
at ``x``). Where the derivative with respect to a parameter is not written (the order of a Bessel
function, the integer order of ``polygamma``), the rule returns a :class:`~eqtensor.rules.vjp.NullGrad`
for it, as PyTensor's ``grad_not_implemented``: ``grad`` raises
:class:`~eqtensor.rules.autodiff.NullTypeGradError` only when the parameter depends on a ``wrt``;
a constant parameter costs nothing.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> from eqtensor.gradient import grad
>>> x = pt.dscalar("x")
>>> round(float(grad(pt.gammainc(2.0, x), x).eval({x: 1.0})), 12)  # x exp(-x) / Gamma(2)
0.367879441171
"""

from __future__ import annotations

import numpy as np

from ..core.ops import elemwise as E
from ..core.ops import special_functions as S
from .vjp import NullGrad, VJPRule, collector, scaled

VJPS: list[VJPRule] = []
vjp = collector(VJPS)

_SQRT_PI_2 = float(np.sqrt(np.pi) / 2)


def _unary(name, why, fn):
    vjp(name, why)(lambda op, inputs, out, g: (fn(g, inputs[0], out),))


_unary("gamma", "d Gamma(x) = Gamma(x) psi(x) dx: reuse the output", lambda g, x, out: scaled(g, out * E.psi(x)))
_unary("erfcinv", "d erfcinv(y) = -sqrt(pi)/2 exp(erfcinv(y)^2) dy: reuse the output",
       lambda g, x, out: scaled(g, E.exp(E.sqr(out)) * -_SQRT_PI_2))
_unary("j0", "d J0(x) = -J1(x) dx", lambda g, x, out: -(g * E.j1(x)))
_unary("j1", "d J1(x) = (J0(x) - J2(x)) / 2 dx", lambda g, x, out: scaled(g, (E.j0(x) - E.jv(2.0, x)) * 0.5))
_unary("i0", "d I0(x) = I1(x) dx", lambda g, x, out: scaled(g, E.i1(x)))
_unary("i1", "d I1(x) = (I0(x) + I2(x)) / 2 dx", lambda g, x, out: scaled(g, (E.i0(x) + E.iv(2.0, x)) * 0.5))


def _not_written(what):
    return NullGrad(f"the derivative of {what} is not implemented in eqtensor")


def _log_gamma_density(k, x):
    """log of d P(k, x) / dx = x^(k-1) exp(-x) / Gamma(k)."""
    return E.log(x) * (k - 1.0) - x - E.gammaln(k)


@vjp("gammainc", "d P(k, x) = gammainc_dk(k, x) dk + x^(k-1) exp(-x) / Gamma(k) dx")
def _gammainc(op, inputs, out, g):
    k, x = inputs
    return scaled(g, S.gammainc_dk(k, x)), scaled(g, E.exp(_log_gamma_density(k, x)))


@vjp("gammaincc", "Q = 1 - P: d Q(k, x) = -gammainc_dk(k, x) dk - x^(k-1) exp(-x) / Gamma(k) dx")
def _gammaincc(op, inputs, out, g):
    k, x = inputs
    return -(g * S.gammainc_dk(k, x)), -(g * E.exp(_log_gamma_density(k, x)))


@vjp("gammaincinv", "x = P^-1(k, y): dx = (dy - gammainc_dk(k, x) dk) / (d P / dx at x) (reuse the output)")
def _gammaincinv(op, inputs, out, g):
    k, _ = inputs
    gx = scaled(g, E.exp(-_log_gamma_density(k, out)))
    return -(gx * S.gammainc_dk(k, out)), gx


@vjp("gammainccinv", "x = Q^-1(k, y): dx = -(dy + gammainc_dk(k, x) dk) / (d P / dx at x) (reuse the output)")
def _gammainccinv(op, inputs, out, g):
    k, _ = inputs
    gx = -(g * E.exp(-_log_gamma_density(k, out)))
    return gx * S.gammainc_dk(k, out), gx


def _bessel(name, why, dx):
    """A Bessel function of order ``v``: its derivative in x; in v not written (as PyTensor)."""

    @vjp(name, why)
    def rule(op, inputs, out, g):
        v, x = inputs
        return _not_written(f"{name} with respect to its order v"), scaled(g, dx(v, x, out))

    return rule


_bessel("jv", "d J_v(x) = (J_(v-1)(x) - J_(v+1)(x)) / 2 dx", lambda v, x, out: (E.jv(v - 1.0, x) - E.jv(v + 1.0, x)) * 0.5)
_bessel("iv", "d I_v(x) = (I_(v-1)(x) + I_(v+1)(x)) / 2 dx", lambda v, x, out: (E.iv(v - 1.0, x) + E.iv(v + 1.0, x)) * 0.5)
_bessel("ive", "ive = I_v(x) exp(-|x|): d = ((ive_(v-1) + ive_(v+1)) / 2 - sign(x) ive_v) dx",
        lambda v, x, out: (E.ive(v - 1.0, x) + E.ive(v + 1.0, x)) * 0.5 - E.sign(x) * out)
_bessel("kv", "d K_v(x) = -(K_(v-1)(x) + K_(v+1)(x)) / 2 dx",
        lambda v, x, out: (E.kv(v - 1.0, x) + E.kv(v + 1.0, x)) * -0.5)
_bessel("kve", "kve = K_v(x) exp(x): d = (kve_v - (kve_(v-1) + kve_(v+1)) / 2) dx",
        lambda v, x, out: out - (E.kve(v - 1.0, x) + E.kve(v + 1.0, x)) * 0.5)


@vjp("owens_t", "d T(h, a) = -exp(-h^2/2) erf(a h / sqrt 2) / (2 sqrt(2 pi)) dh + "
                "exp(-h^2 (1 + a^2) / 2) / (2 pi (1 + a^2)) da")
def _owens_t(op, inputs, out, g):
    h, a = inputs
    h2 = E.sqr(h) * 0.5
    gh = E.exp(-h2) * E.erf(a * h * float(1 / np.sqrt(2))) * float(-1 / (2 * np.sqrt(2 * np.pi)))
    one_a2 = E.sqr(a) + 1.0
    ga = E.exp(-(h2 * one_a2)) / (one_a2 * float(2 * np.pi))
    return scaled(g, gh), scaled(g, ga)


def _log_beta_density(a, b, x):
    """log of d I_x(a, b) / dx = x^(a-1) (1-x)^(b-1) / B(a, b)."""
    log_beta = E.gammaln(a) + E.gammaln(b) - E.gammaln(a + b)
    return E.log(x) * (a - 1.0) + E.log1p(-x) * (b - 1.0) - log_beta


@vjp("betainc", "d I_x(a, b) = betainc_der(a, b, x, 0) da + betainc_der(a, b, x, 1) db "
                "+ x^(a-1) (1-x)^(b-1) / B(a, b) dx")
def _betainc(op, inputs, out, g):
    a, b, x = inputs
    return (scaled(g, S.betainc_der(a, b, x, 0)), scaled(g, S.betainc_der(a, b, x, 1)),
            scaled(g, E.exp(_log_beta_density(a, b, x))))


@vjp("betaincinv", "x = I^-1(a, b, y): dx = (dy - dI/da da - dI/db db) / (d I / dx at x) (reuse the output)")
def _betaincinv(op, inputs, out, g):
    a, b, _ = inputs
    gx = scaled(g, E.exp(-_log_beta_density(a, b, out)))
    return -(gx * S.betainc_der(a, b, out, 0)), -(gx * S.betainc_der(a, b, out, 1)), gx


@vjp("hyp2f1", "d 2F1(a, b; c; z) = hyp2f1_der(.., 0) da + hyp2f1_der(.., 1) db + hyp2f1_der(.., 2) dc "
               "+ a b / c 2F1(a+1, b+1; c+1; z) dz")
def _hyp2f1(op, inputs, out, g):
    a, b, c, z = inputs
    dz = a * b / c * S.hyp2f1(a + 1.0, b + 1.0, c + 1.0, z)
    return (*(scaled(g, S.hyp2f1_der(a, b, c, z, k)) for k in range(3)), scaled(g, dz))


@vjp("polygamma_n", "d polygamma(n, x) = polygamma(n + 1, x) dx; n is an integer order")
def _polygamma_n(op, inputs, out, g):
    n, x = inputs
    return NullGrad("polygamma is not differentiable in its integer order n"), scaled(g, E.polygamma(n + 1, x))
