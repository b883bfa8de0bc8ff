"""Special functions: ``jax.scipy.special`` where it has them (edge values made SciPy's), the others
through a host callback to the op's NumPy ``perform``.

:data:`SPECIAL` maps elementwise op names to functions of inputs already cast to the computing
dtype (merged into :data:`~eqtensor.backends.jax.elemwise.ELEMWISE`). :data:`HOST` lists the
elementwise ops JAX has no accurate function for (Bessel functions of real order; inverse
regularized incomplete gamma and beta; ``j0``/``j1``, whose ``jax.scipy.special.bessel_jn`` loses
all accuracy past x ~ 30; ``owens_t``, nan in JAX at an infinite ``a``): they run as
``jax.pure_callback`` to SciPy on the host, inside the jitted program (the values go to the host
and back: slower than XLA code, and a transfer per call on an accelerator). So do complex values of
the functions :data:`COMPLEX_ON_HOST`, which ``jax.scipy.special`` computes for real inputs only.
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

#: elementwise ops whose ``jax.scipy.special`` function takes real inputs only: complex values go to
#: SciPy through the host callback
COMPLEX_ON_HOST = ("erf", "erfc", "erfcx", "psi")

#: elementwise ops run through a host callback (SciPy): JAX has no accurate function for them
HOST = ("j0", "j1", "jv", "iv", "ive", "kv", "kve", "gammaincinv", "gammainccinv", "betaincinv", "owens_t", "hyp2f1",
        "polygamma_n", "gammainc_dk", "betainc_der", "hyp2f1_der")


def _to_words(x):
    """A value as it crosses to the host: complex values as (real, imaginary) pairs (last axis), and
    8-byte reals as ``uint32`` pairs (last axis), bit for bit; others as they are."""
    x = rt.jnp.asarray(x)
    if x.dtype.kind == "c":
        x = rt.jnp.stack([rt.jnp.real(x), rt.jnp.imag(x)], axis=-1)
    return rt.lax.bitcast_convert_type(x, np.uint32) if x.dtype.itemsize == 8 else x


def _part(dtype) -> np.dtype:
    """The real dtype a value of ``dtype`` crosses as (a complex one's parts)."""
    return np.finfo(dtype).dtype if dtype.kind == "c" else dtype


def _from_words(words, dtype):
    """:func:`_to_words` undone on the host (NumPy views)."""
    x = np.ascontiguousarray(words).view(_part(dtype))[..., 0] if _part(dtype).itemsize == 8 else np.asarray(words)
    return np.ascontiguousarray(x).view(dtype)[..., 0] if dtype.kind == "c" else x


def _words_of(res, dtype, struct):
    """A host result as :func:`_to_words` makes it (NumPy), of the callback's declared ``struct``."""
    if dtype.kind == "c":
        res = np.stack([res.real, res.imag], axis=-1)
    res = np.ascontiguousarray(res)
    return (res.view(np.uint32) if res.dtype.itemsize == 8 else res).reshape(struct.shape)


def _words_struct(shape, dtype):
    part = _part(dtype)
    shape = shape + (2,) if dtype.kind == "c" else shape
    return rt.jax.ShapeDtypeStruct(shape + (2,), np.dtype("uint32")) if part.itemsize == 8 else \
        rt.jax.ShapeDtypeStruct(shape, part)


def _from_device_words(words, dtype):
    """:func:`_to_words` undone in the program."""
    part = _part(dtype)
    x = rt.lax.bitcast_convert_type(words, part) if part.itemsize == 8 else words
    return rt.lax.complex(x[..., 0], x[..., 1]) if dtype.kind == "c" else x


def lower_host(node, *args, shape=None):
    """``node``'s NumPy ``perform`` called from the jitted program (``jax.pure_callback``); its result
    has ``shape`` (by default, the inputs' broadcast shape: an elementwise op). Values of 8-byte
    items (or parts, for complex values) cross as ``uint32`` pairs, bit-cast on both sides: the
    callback runs in a thread outside the call's x64 scope, where JAX would narrow float64 values
    to float32."""
    jax = rt.jax
    if shape is None:
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    dtype = np.dtype(node.out.dtype)
    dtypes = [np.dtype(i.dtype) for i in node.inputs]
    struct = _words_struct(shape, dtype)

    def host(*words):
        arrays = [_from_words(w, d) for w, d in zip(words, dtypes)]
        with np.errstate(all="ignore"):
            res = np.ascontiguousarray(np.broadcast_to(node.op.perform(*arrays), shape), dtype=dtype)
        return _words_of(res, dtype, struct)

    args = [_to_words(cast(a, d)) for a, d in zip(args, dtypes)]
    res = jax.pure_callback(host, struct, *args, vmap_method="broadcast_all")
    return _from_device_words(res, dtype)
