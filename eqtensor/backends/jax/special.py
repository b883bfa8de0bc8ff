"""Special functions: ``jax.scipy.special`` where it has them (edge values made SciPy's), the others
through a host callback to the op's NumPy ``perform``.

:data:`SPECIAL` maps elementwise op names to functions of inputs already cast to the computing
dtype (merged into :data:`~eqtensor.backends.jax.elemwise.ELEMWISE`). :data:`HOST` lists the
elementwise ops JAX has no accurate function for (Bessel functions of real order; inverse
regularized incomplete gamma and beta; ``j0``/``j1``, whose ``jax.scipy.special.bessel_jn`` loses
all accuracy past x ~ 30; ``owens_t``, nan in JAX at an infinite ``a``): they run as
``jax.pure_callback`` to SciPy on the host, inside the jitted program (the values go to the host
and back: slower than XLA code, and a transfer per call on an accelerator).
"""

from __future__ import annotations

import math

import numpy as np

from . import runtime as rt
from .casts import cast


def _fn(name):
    return lambda *xs: getattr(rt.special, name)(*xs)


def _erfcinv(x):
    """erfcinv(x) = -ndtri(x / 2) / sqrt(2): accurate for tiny x, where erfinv(1 - x) is not."""
    return -rt.special.ndtri(x / 2) / math.sqrt(2)


def _incomplete_gamma(name, at_inf):
    """gammainc / gammaincc with SciPy's values at a = inf (``at_inf`` for finite x >= 0, nan at x = inf)."""
    def lower(a, x):
        jnp = rt.jnp
        res = getattr(rt.special, name)(a, x)
        edge = jnp.where((x >= 0) & (x < jnp.inf), jnp.asarray(at_inf, res.dtype), jnp.asarray(jnp.nan, res.dtype))
        return jnp.where(a == jnp.inf, edge, res)
    return lower


def _round_half_away(x):
    """C's round: the truncation, one further from zero where the dropped part is at least 1/2."""
    jnp = rt.jnp
    t = jnp.trunc(x)
    return jnp.where(jnp.abs(x - t) >= 0.5, t + jnp.sign(x), t)


#: elementwise op name -> lowering on inputs cast to the computing dtype
SPECIAL = {
    "round_half_away_from_zero": _round_half_away,
    "gamma": _fn("gamma"),
    "erfcinv": _erfcinv,
    "i0": _fn("i0"),
    "i1": _fn("i1"),
    "gammainc": _incomplete_gamma("gammainc", 0.0),
    "gammaincc": _incomplete_gamma("gammaincc", 1.0),
    "betainc": _fn("betainc"),
}

#: elementwise ops run through a host callback (SciPy): JAX has no accurate function for them
HOST = ("j0", "j1", "jv", "iv", "ive", "kv", "kve", "gammaincinv", "gammainccinv", "betaincinv", "owens_t", "hyp2f1",
        "polygamma_n", "gammainc_dk", "betainc_der", "hyp2f1_der")


def _to_words(x):
    """An 8-byte array as ``uint32`` pairs (last axis), bit for bit; others as they are."""
    x = rt.jnp.asarray(x)
    return rt.lax.bitcast_convert_type(x, np.uint32) if x.dtype.itemsize == 8 else x


def _from_words(words, dtype):
    return np.ascontiguousarray(words).view(dtype)[..., 0] if np.dtype(dtype).itemsize == 8 else words


def lower_host(node, *args):
    """``node``'s NumPy ``perform`` called from the jitted program (``jax.pure_callback``). Values of
    8-byte items cross as ``uint32`` pairs, bit-cast on both sides: the callback runs in a thread
    outside the call's x64 scope, where JAX would narrow float64 values to float32."""
    jax = rt.jax
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    dtype = np.dtype(node.out.dtype)
    wide = dtype.itemsize == 8
    out = jax.ShapeDtypeStruct(shape + (2,) if wide else shape, np.dtype("uint32") if wide else dtype)
    dtypes = [np.dtype(i.dtype) for i in node.inputs]

    def host(*words):
        arrays = [_from_words(w, d) for w, d in zip(words, dtypes)]
        with np.errstate(all="ignore"):
            res = np.ascontiguousarray(np.broadcast_to(node.op.perform(*arrays), shape), dtype=dtype)
        return res.view(np.uint32).reshape(out.shape) if wide else res

    args = [_to_words(cast(a, d)) for a, d in zip(args, dtypes)]
    res = jax.pure_callback(host, out, *args, vmap_method="broadcast_all")
    return rt.lax.bitcast_convert_type(res, dtype) if wide else res
