"""Special functions beyond SciPy's ufuncs: ``hyp2f1``, ``polygamma`` of a symbolic order, and the
derivatives SciPy does not have (of the incomplete gamma and beta functions in their shape
parameters, of ``hyp2f1`` in ``a``, ``b``, ``c``), which the VJP rules of :mod:`eqtensor.rules.vjp_special`
apply.

The derivatives are computed in float64 by vectorized NumPy loops over the elements still
converging (float32 inputs give float32 results):

- ``gammainc_dk(k, x)`` = d P(k, x) / dk. Below ``x < k + 1``, the series
  ``P = sum_n x^(k+n) e^-x / Gamma(k+n+1)`` differentiated term by term (every term carries
  ``log x - psi(k+n+1)``; for k >= 20 the first term's logarithm by Stirling's series, not as a
  difference of numbers ~k log k); above, ``-Q d log Q / dk`` with Legendre's continued fraction of
  ``Gamma(k, x)`` differentiated along its Wallis recurrence (forward mode), Q from SciPy.
- ``betainc_der(a, b, x, wrt)`` = d I_x(a, b) / da (``wrt=0``) or db (``wrt=1``): ``I d log I`` with the
  continued fraction of the incomplete beta function differentiated the same way, on the side of
  ``x`` where it converges (``I_x(a, b) = 1 - I_(1-x)(b, a)`` above ``(a+1)/(a+b+2)``).
- ``hyp2f1_der(a, b, c, z, wrt)``: the hypergeometric series differentiated term by term for
  ``0 <= z < 1``; for ``z < 0``, after Pfaff's transformation to ``z / (z - 1)`` in ``(0, 1)``;
  nan for ``z >= 1``.

A loop that has not converged after :data:`MAX_TERMS` terms gives nan (the number of terms grows like
``sqrt(k)`` or ``sqrt(max(a, b))`` for large shape parameters and like ``1 / (1 - z)`` for hyp2f1).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> round(float(pt.hyp2f1(1.0, 1.0, 2.0, 0.5).eval()), 12)  # -log(1 - z) / z = 2 log 2
1.38629436112
>>> n = pt.iscalar("n")
>>> round(float(pt.polygamma(n, 1.0).eval({n: 1})), 12)  # pi**2 / 6
1.644934066848
"""

from __future__ import annotations

import numpy as np

from ..dtypes import as_dtype, promote
from ..graph import TensorType
from ..op import OPS, Op, broadcast_static_shapes, declare
from .elemwise import special_float

#: the most terms a series or continued fraction may take before its elements give nan
MAX_TERMS = 100_000
_EPS = 2.0 ** -53

_scipy_special = None


def _sp():
    """``scipy.special``, imported on first use (as the elementwise table's special functions)."""
    global _scipy_special
    if _scipy_special is None:
        import scipy.special  # lazy: about 0.2 s of import time

        _scipy_special = scipy.special
    return _scipy_special


def _float_args(*xs):
    """The inputs broadcast and as float64, and the result dtype (:func:`special_float`)."""
    xs = [np.asarray(x) for x in xs]
    dtype = special_float(promote([x.dtype for x in xs]) if len(xs) > 1 else xs[0].dtype)
    return [np.asarray(x, dtype="float64") for x in np.broadcast_arrays(*xs)], dtype


def _converge(state, step, done, results):
    """Iterate ``live = step(live, n)`` (``n`` the term index) over the elements of ``state`` (a dict of
    arrays, the elements along the last axis: leading axes hold derivatives by parameter) until
    ``done(live, n)`` holds for each, at most :data:`MAX_TERMS` times. The arrays named in ``results``
    of converged elements are written back to ``state``, and those elements dropped from ``live``,
    once enough of them have converged (a converged element may run a few more terms first, which
    moves it by less than its tolerance). Returns ``state`` and the mask of the elements that did
    not converge."""
    size = next(iter(state.values())).shape[-1]
    idx = np.arange(size)
    live = {k: v.copy() for k, v in state.items()}
    for n in range(MAX_TERMS):
        if not idx.size:
            break
        live = step(live, n)
        fin = done(live, n)
        count = np.count_nonzero(fin)
        if count and (count * 8 >= idx.size or n % 16 == 15):  # compact when it pays (copies cost a step)
            for k in results:
                state[k][..., idx[fin]] = live[k][..., fin]
            keep = ~fin
            idx = idx[keep]
            live = {k: v[..., keep] for k, v in live.items()}
    failed = np.zeros(size, dtype=bool)
    failed[idx] = True
    return state, failed


def _wallis(state, a, da, b, db):
    """One step of the Wallis recurrence of a continued fraction ``b0 + a1/(b1 + a2/(b2 + ...))`` and of
    its derivatives (``d*``: one array per parameter, stacked on the first axis), renormalized so that
    the current denominator is 1: the current approximant is then ``state["A"]``, its derivative
    ``state["dA"] - A * state["dB"]``. Updates ``state`` in place."""
    A, A1, B, B1 = state["A"], state["A1"], state["B"], state["B1"]
    dA, dA1, dB, dB1 = state["dA"], state["dA1"], state["dB"], state["dB1"]
    An, Bn = b * A + a * A1, b * B + a * B1
    dAn = db * A + b * dA + da * A1 + a * dA1
    dBn = db * B + b * dB + da * B1 + a * dB1
    scale = 1.0 / np.where(Bn == 0, 1e-300, Bn)
    state.update(A=An * scale, A1=A * scale, B=np.ones_like(Bn), B1=B * scale, dA=dAn * scale, dA1=dA * scale,
                 dB=dBn * scale, dB1=dB * scale)
    return state


def _wallis_start(b0, db0, nparams):
    """The Wallis state after ``b0`` (its derivatives ``db0``, shape ``(nparams, n)``)."""
    one, zero = np.ones_like(b0), np.zeros_like(b0)
    dzero = np.zeros((nparams,) + b0.shape)
    return {"A": b0.copy(), "A1": one, "B": one.copy(), "B1": zero, "dA": db0.copy(), "dA1": dzero,
            "dB": dzero.copy(), "dB1": dzero.copy(), "G": b0.copy(), "dG": db0.copy()}


def _cf_settled(s, n):
    """The approximant and its derivatives moved by less than a few ulps in this step."""
    G, dG = s["A"], s["dA"] - s["A"] * s["dB"]
    moved = np.abs(dG - s["dG"]) <= 4 * _EPS * np.abs(dG) + 1e-300
    settled = (np.abs(G - s["G"]) <= 4 * _EPS * np.abs(G)) & np.all(moved, axis=0)
    s["G"], s["dG"] = G, dG
    return settled & (n > 1)


def _log_minus_psi(m):
    """``log m - psi(m)`` for ``m >= 20`` by its asymptotic series (truncation error below 1e-17)."""
    u = 1 / (m * m)
    return 0.5 / m + u * (1 / 12 - u * (1 / 120 - u * (1 / 252 - u * (1 / 240 - u / 132))))


def _log1pmx(t):
    """``log1p(t) - t`` without cancellation: with ``u = t / (2 + t)``, ``log1p(t) = 2 atanh(u)`` and
    ``t = 2u / (1 - u)``, so it is ``2 (u^3/3 + u^5/5 + ...) - 2u^2 / (1 - u)`` (terms of one sign)."""
    t = np.asarray(t, dtype="float64")
    out = np.log1p(t) - t
    near = np.abs(t) < 0.6
    u = t[near] / (2 + t[near])
    u2, term, acc = u * u, u * u * u, np.zeros_like(u)
    for j in range(1, 40):  # |u| < 0.43: 40 terms reach 1e-30
        acc += term / (2 * j + 1)
        term = term * u2
    out[near] = 2 * acc - 2 * u2 / (1 - u)
    return out


def _log_poisson(k, x):
    """``k log x - x - gammaln(k + 1)`` for ``k >= 20`` without its large terms cancelling: with Stirling's
    series, ``k log1pmx((x - k)/k) - log(2 pi k)/2 - stirlerr(k)``."""
    u = 1 / (k * k)
    stirlerr = (1 / 12 - u * (1 / 360 - u * (1 / 1260 - u * (1 / 1680 - u / 1188)))) / k
    return k * _log1pmx((x - k) / k) - 0.5 * np.log(2 * np.pi * k) - stirlerr


def _gammainc_series_dk(k, x, large):
    """d P(k, x) / dk by the series (``x < k + 1``). Every term carries ``log x - psi(k+n+1)``: for
    ``large`` k (>= 20) it is ``log1p((x - m)/m) + (log m - psi(m))``, both parts accurate where
    ``log x`` and ``psi(m)`` nearly cancel; for small k, ``psi`` by its recurrence."""
    sp = _sp()
    logx = np.log(x)
    state = {"r": np.ones_like(k), "d": logx - sp.psi(k + 1), "m": k + 1, "x": x, "S": np.zeros_like(k),
             "D": np.zeros_like(k)}

    def step(s, n):
        s["S"] += s["r"]
        s["D"] += s["r"] * s["d"]
        m = s["m"]
        s["r"] = s["r"] * (s["x"] / m)
        m = s["m"] = m + 1
        s["d"] = np.log1p((s["x"] - m) / m) + _log_minus_psi(m) if large else s["d"] - 1 / (m - 1)
        return s

    def done(s, n):
        room = 1 - s["x"] / s["m"]
        return (s["r"] <= _EPS * s["S"] * room) & (s["r"] * (np.abs(s["d"]) + 1) <= _EPS * np.abs(s["D"]) * room)

    if large:
        state["d"] = np.log1p((x - state["m"]) / state["m"]) + _log_minus_psi(state["m"])
    s, failed = _converge(state, step, done, ("D",))
    log_first = _log_poisson(k, x) if large else k * logx - x - sp.gammaln(k + 1)
    return np.where(failed, np.nan, np.exp(log_first) * s["D"])


def _gammaincc_cf_dlogq(k, x):
    """d log Q(k, x) / dk by Legendre's continued fraction of Gamma(k, x) (``x >= k + 1``)."""
    state = _wallis_start(x + 1 - k, -np.ones((1,) + k.shape), 1)
    state.update(k=k, x=x)

    def step(s, n):
        j = n + 1
        a, b = j * (s["k"] - j), s["x"] + 2 * j + 1 - s["k"]
        return _wallis(s, a, np.full((1,) + a.shape, float(j)), b, -np.ones((1,) + a.shape))

    s, failed = _converge(state, step, _cf_settled, ("G", "dG"))
    out = np.log(x) - _sp().psi(k) - s["dG"][0] / s["G"]
    return np.where(failed, np.nan, out)


def _gammainc_dk(k, x):
    """d P(k, x) / dk (the derivative of ``scipy.special.gammainc`` in its first argument)."""
    (k, x), dtype = _float_args(k, x)
    shape = k.shape
    k, x = k.ravel(), x.ravel()
    out = np.full(k.shape, np.nan)
    ok = (k > 0) & (x >= 0) & np.isfinite(k)
    out[ok & ((x == 0) | (x == np.inf))] = 0.0
    ser = ok & (x > 0) & (x < k + 1)
    cf = ok & (x >= k + 1) & (x < np.inf)
    with np.errstate(all="ignore"):
        for large in (False, True):
            part = ser & ((k >= 20) == large)
            if part.any():
                out[part] = _gammainc_series_dk(k[part], x[part], large)
        if cf.any():
            out[cf] = -_sp().gammaincc(k[cf], x[cf]) * _gammaincc_cf_dlogq(k[cf], x[cf])
    return out.reshape(shape).astype(dtype, copy=False)


def _beta_cf_dlog(p, q, y, log_y, log_1my, wrt):
    """d log J / dp (``wrt=0``) or / dq (``wrt=1``) of ``J = I_y(p, q) = y^p (1-y)^q / (p B(p, q)) / H``
    where ``H = 1 + d1/(1 + d2/(1 + ...))`` is the continued fraction of the incomplete beta function
    (fast where ``y < (p+1)/(p+q+2)``), differentiated along its Wallis recurrence."""
    sp = _sp()
    state = _wallis_start(np.ones_like(p), np.zeros((1,) + p.shape), 1)
    state.update(p=p, q=q, y=y)

    def step(s, n):
        j = n + 1
        m = j // 2
        p, q, y = s["p"], s["q"], s["y"]
        if j % 2:
            d = -(p + m) * (p + q + m) * y / ((p + 2 * m) * (p + 2 * m + 1))
            dd = d * (1 / (p + m) + 1 / (p + q + m) - 1 / (p + 2 * m) - 1 / (p + 2 * m + 1)) if wrt == 0 \
                else d / (p + q + m)
        else:
            c = m * y / ((p + 2 * m - 1) * (p + 2 * m))
            d = c * (q - m)
            dd = -d * (1 / (p + 2 * m - 1) + 1 / (p + 2 * m)) if wrt == 0 else c
        return _wallis(s, d, dd[None], 1.0, 0.0)

    s, failed = _converge(state, step, _cf_settled, ("G", "dG"))
    if wrt == 0:
        out = log_y - sp.psi(p + 1) + sp.psi(p + q) - s["dG"][0] / s["G"]
    else:
        out = log_1my - sp.psi(q) + sp.psi(p + q) - s["dG"][0] / s["G"]
    return np.where(failed, np.nan, out)


def _betainc_der(a, b, x, wrt):
    """d I_x(a, b) / da (``wrt=0``) or / db (``wrt=1``): the derivatives of ``scipy.special.betainc``
    in its shape parameters."""
    (a, b, x), dtype = _float_args(a, b, x)
    shape = a.shape
    a, b, x = a.ravel(), b.ravel(), x.ravel()
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b) & (x >= 0) & (x <= 1)
    out[ok & ((x == 0) | (x == 1))] = 0.0
    inner = ok & (x > 0) & (x < 1)
    low = inner & (x < (a + 1) / (a + b + 2))
    high = inner & ~low
    sp = _sp()
    with np.errstate(all="ignore"):
        if low.any():
            al, bl, xl = a[low], b[low], x[low]
            out[low] = sp.betainc(al, bl, xl) * _beta_cf_dlog(al, bl, xl, np.log(xl), np.log1p(-xl), wrt)
        if high.any():
            ah, bh, xh = a[high], b[high], x[high]
            y = 1 - xh
            out[high] = -sp.betainc(bh, ah, y) * _beta_cf_dlog(bh, ah, y, np.log1p(-xh), np.log(xh), 1 - wrt)
    return out.reshape(shape).astype(dtype, copy=False)


def _hyp2f1_series_der(a, b, c, w):
    """The hypergeometric series at ``0 <= w < 1`` and its derivatives in ``a``, ``b``, ``c`` (shape
    ``(3, n)``), term by term: each term is the previous one times ``r = (a+n)(b+n) w / ((c+n)(n+1))``
    and its derivative follows by the product rule (no pole where ``a`` or ``b`` is a non-positive
    integer: the series is then a polynomial, its derivative not)."""
    state = {"t": np.ones_like(a), "dt": np.zeros((3,) + a.shape), "S": np.zeros_like(a),
             "dS": np.zeros((3,) + a.shape), "a": a, "b": b, "c": c, "w": w, "r": np.zeros_like(a)}

    def step(s, n):
        s["S"] += s["t"]
        s["dS"] += s["dt"]
        a, b, c, w, t = s["a"], s["b"], s["c"], s["w"], s["t"]
        base = w / ((c + n) * (n + 1))
        r = (a + n) * (b + n) * base
        dr = np.stack([(b + n) * base, (a + n) * base, -r / (c + n)])
        s["dt"] = s["dt"] * r + t * dr
        s["t"], s["r"] = t * r, r
        return s

    def done(s, n):
        room = 1 - np.abs(s["r"])
        small = (np.abs(s["t"]) <= _EPS * np.abs(s["S"]) * room) & np.all(
            np.abs(s["dt"]) <= _EPS * np.abs(s["dS"]) * room + 1e-300, axis=0)
        return small & (room > 0) & (n > 10)

    s, failed = _converge(state, step, done, ("S", "dS"))
    return np.where(failed, np.nan, s["S"]), np.where(failed, np.nan, s["dS"])


def _hyp2f1_der(a, b, c, z, wrt):
    """d 2F1(a, b; c; z) / da, db or dc (``wrt`` 0, 1, 2) for ``z < 1`` (nan elsewhere)."""
    (a, b, c, z), dtype = _float_args(a, b, c, z)
    shape = a.shape
    a, b, c, z = a.ravel(), b.ravel(), c.ravel(), z.ravel()
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(c) & np.isfinite(z) & (z < 1)
    pos, neg = ok & (z >= 0), ok & (z < 0)
    with np.errstate(all="ignore"):
        if pos.any():
            out[pos] = _hyp2f1_series_der(a[pos], b[pos], c[pos], z[pos])[1][wrt]
        if neg.any():  # Pfaff: 2F1(a, b; c; z) = (1-z)^-a 2F1(a, c-b; c; z/(z-1))
            an, bn, cn, zn = a[neg], b[neg], c[neg], z[neg]
            G, dG = _hyp2f1_series_der(an, cn - bn, cn, zn / (zn - 1))
            log1mz = np.log1p(-zn)
            scale = np.exp(-an * log1mz)
            out[neg] = scale * (dG[0] - log1mz * G, -dG[1], dG[1] + dG[2])[wrt]
    return out.reshape(shape).astype(dtype, copy=False)


def _hyp2f1(a, b, c, z):
    """``scipy.special.hyp2f1`` in :func:`special_float` of the inputs (SciPy computes in float64)."""
    args, dtype = _float_args(a, b, c, z)
    return np.asarray(_sp().hyp2f1(*args)).astype(dtype, copy=False)


def _polygamma_n(n, x):
    """``scipy.special.polygamma(n, x)`` with ``n`` an integer array (nan where ``n < 0``)."""
    n, x = np.asarray(n), np.asarray(x)
    negative = n < 0
    with np.errstate(all="ignore"):
        out = np.asarray(_sp().polygamma(np.maximum(n, 0) if negative.any() else n, x.astype("float64", copy=False)))
    if negative.any():
        out = np.where(negative, np.nan, out)
    return out.astype(special_float(x.dtype), copy=False)


def _float_infer(op, inputs):
    """Real inputs broadcast; the result in :func:`special_float` of their promoted dtype."""
    dtypes = [x.dtype for x in inputs]
    if any(d.startswith("complex") for d in dtypes):
        raise TypeError(f"{op.name} does not support complex inputs (got {', '.join(dtypes)})")
    dt = special_float(promote(dtypes))
    return TensorType(as_dtype(dt), broadcast_static_shapes(op.name, inputs))


def _polygamma_n_infer(op, inputs):
    n, x = inputs
    if n.dtype[0] not in "iu":
        raise TypeError(f"polygamma: the order n must be an integer tensor, got {n.type}")
    if x.dtype.startswith("complex"):
        raise TypeError(f"polygamma does not support complex x (got {x.type})")
    return TensorType(as_dtype(special_float(x.dtype)), broadcast_static_shapes(op.name, inputs))


declare("hyp2f1", "elemwise", 4, _float_infer, _hyp2f1, cost=100,
        grad_domain=((0.5, 2), (0.5, 2), (2.5, 4), (-0.5, 0.5)),
        doc="Gauss' hypergeometric function 2F1(a, b; c; z), as scipy.special.hyp2f1")
declare("polygamma_n", "elemwise", 2, _polygamma_n_infer, _polygamma_n, cost=40,
        doc="polygamma(n, x) with the order n an integer tensor (nan where n < 0)")
declare("gammainc_dk", "elemwise", 2, _float_infer, _gammainc_dk, cost=400, differentiable=False,
        doc="d gammainc(k, x) / dk (series below x = k + 1, continued fraction above)")
declare("betainc_der", "elemwise", 3, _float_infer, _betainc_der, params=("wrt",), cost=400, differentiable=False,
        doc="d betainc(a, b, x) / da (wrt=0) or / db (wrt=1) (differentiated continued fraction)")
declare("hyp2f1_der", "elemwise", 4, _float_infer, _hyp2f1_der, params=("wrt",), cost=400, differentiable=False,
        doc="d hyp2f1(a, b, c, z) / da, db or dc (wrt=0, 1, 2) for z < 1 (differentiated series)")


def hyp2f1(a, b, c, z):
    """Gauss' hypergeometric function ``2F1(a, b; c; z)`` (``scipy.special.hyp2f1``), differentiable
    in all four arguments (in ``a``, ``b``, ``c`` for ``z < 1``: see the module docstring).

    >>> from eqtensor import tensor as pt
    >>> round(float(pt.hyp2f1(0.5, 0.5, 1.5, 0.25).eval()), 12)  # arcsin(1/2) / (1/2)
    1.047197551197
    """
    return Op(OPS["hyp2f1"])(a, b, c, z)


def gammainc_dk(k, x):
    """``d gammainc(k, x) / dk`` (the VJP rules of ``gammainc`` and ``gammaincc`` use it)."""
    return Op(OPS["gammainc_dk"])(k, x)


def betainc_der(a, b, x, wrt: int):
    """``d betainc(a, b, x) / da`` (``wrt=0``) or ``/ db`` (``wrt=1``)."""
    return Op(OPS["betainc_der"], {"wrt": int(wrt)})(a, b, x)


def hyp2f1_der(a, b, c, z, wrt: int):
    """``d hyp2f1(a, b, c, z) / da``, ``db`` or ``dc`` (``wrt`` 0, 1 or 2)."""
    return Op(OPS["hyp2f1_der"], {"wrt": int(wrt)})(a, b, c, z)


__all__ = ["hyp2f1"]
