"""Lowering of elementwise ops, reductions and softmax to ``jax.numpy`` / ``jax.scipy.special``.

Each entry of :data:`ELEMWISE` computes the op on inputs already cast to the dtype NumPy computes
in: the promotion of the inputs' dtypes and the node's static result dtype (:func:`lower_elemwise`
does the casts: JAX's promotion differs from NumPy's, e.g. int32 with float32 is float32 in JAX and
float64 in NumPy); the result is cast to the node's static dtype. Integer division, remainder and
reciprocal by zero give 0, as NumPy does for the small integer types (XLA gives -1 and x); casts
from floats to integers go through int64, so out-of-range values wrap as in NumPy (XLA saturates).
The special functions of ``jax.scipy.special`` take real inputs only: complex erf, erfc, erfcx and
psi run SciPy through a host callback (:mod:`.special`).
"""

from __future__ import annotations

import math

import numpy as np

from . import runtime as rt
from .casts import cast
from .special import COMPLEX_ON_HOST, SPECIAL, lower_host


def _fn(name):
    return lambda *xs: getattr(rt.jnp, name)(*xs)


def _special(name):
    def lower(x):
        if np.dtype(x.dtype).kind == "c":
            raise NotImplementedError(f"jax.scipy.special.{name} takes real inputs only: a complex {name} is not "
                                      f"lowered to JAX (use another backend)")
        return getattr(rt.special, name)(x)
    return lower


def _gammaln(x):
    return rt.jnp.where(x == -np.inf, -np.inf, _special("gammaln")(x))


def _psi(x):
    """digamma; at ±0 the pole's sign (-inf at +0, +inf at -0), as SciPy (JAX gives nan)."""
    jnp = rt.jnp
    return jnp.where(x == 0, jnp.where(jnp.signbit(x), jnp.inf, -jnp.inf), _special("digamma")(x))


def _reciprocal(x):
    if np.dtype(x.dtype).kind in "biu":
        one = rt.jnp.ones((), x.dtype)
        return rt.jnp.where(x == 0, rt.jnp.zeros((), x.dtype), rt.lax.div(one, rt.jnp.where(x == 0, one, x)))
    return rt.jnp.reciprocal(x)


def _int_safe(name):
    """NumPy's integer division and remainder: 0 where the divisor is 0."""
    def lower(x, y):
        r = getattr(rt.jnp, name)(x, y)
        if np.dtype(r.dtype).kind in "iu":
            r = rt.jnp.where(y == 0, rt.jnp.zeros((), r.dtype), r)
        return r
    return lower


def _log1mexp(x):
    jnp = rt.jnp
    return jnp.where(x > -math.log(2), jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


def _square(x):
    return rt.jnp.logical_and(x, x) if x.dtype == np.bool_ else rt.jnp.square(x)


#: op name -> lowering of the op on inputs cast to its computing dtype; an elementwise op named as
#: its ``jax.numpy`` function (``exp``, ``cbrt``, ``hypot``, ...) needs no entry (:func:`by_name`)
ELEMWISE = {
    **{name: _fn(jname) for name, jname in (
        ("sub", "subtract"), ("mul", "multiply"), ("true_div", "true_divide"), ("pow", "power"),
        ("neg", "negative"), ("round_half_to_even", "round"), ("eq", "equal"), ("neq", "not_equal"),
        ("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
        ("and_", "bitwise_and"), ("or_", "bitwise_or"), ("xor", "bitwise_xor"), ("switch", "where"))},
    "floor_div": _int_safe("floor_divide"),
    "mod": _int_safe("remainder"),
    "sqr": _square,
    "reciprocal": _reciprocal,
    "sigmoid": _special("expit"),
    "softplus": lambda x: rt.jnp.logaddexp(rt.jnp.zeros((), x.dtype), x),
    "log1mexp": _log1mexp,
    "erf": _special("erf"),
    "erfc": _special("erfc"),
    "erfinv": _special("erfinv"),
    "gammaln": _gammaln,
    "erfcx": _special("erfcx"),
    "psi": _psi,
    "tensor_copy": lambda x: x,  # JAX arrays are immutable
    # both come cast to the complex result dtype; re + 1j * im would make nan of 1j * inf
    "complex": lambda re, im: rt.lax.complex(rt.jnp.real(re), rt.jnp.real(im)),
    "second": lambda a, b: rt.jnp.broadcast_to(b, rt.jnp.broadcast_shapes(a.shape, b.shape)),
    **SPECIAL,
}

def by_name(name):
    """The lowering of an elementwise op that has no :data:`ELEMWISE` entry: the ``jax.numpy``
    function of the same name (elementwise ops follow NumPy's names and semantics), or None."""
    return _fn(name) if callable(getattr(rt.jnp, name, None)) else None


def lower_elemwise(node, *args):
    """The elementwise ``node`` on JAX values ``args`` (casts as NumPy, then the table's entry)."""
    name, out = node.op.name, node.out.dtype
    if name == "cast":
        return cast(args[0], node.op.params["dtype"])
    if name == "polygamma":
        x = cast(args[0], out)
        return rt.special.polygamma(node.op.params["n"], x)
    if name == "switch":
        return rt.jnp.where(cast(args[0], "bool"), cast(args[1], out), cast(args[2], out))
    common = np.result_type(*[np.dtype(i.dtype) for i in node.inputs], np.dtype(out))
    if common.kind == "c" and name in COMPLEX_ON_HOST:
        return lower_host(node, *args)
    fn = ELEMWISE.get(name) or by_name(name)
    return cast(fn(*[cast(a, common) for a in args]), out)


# ---------------------------------------------------------------------------------------------
# reductions


def _argreduce(name):
    def lower(x, axis, keepdims):
        jnp = rt.jnp
        rest = [d for d in range(x.ndim) if d not in axis]
        moved = jnp.transpose(x, rest + list(axis))
        flat = moved.reshape(moved.shape[:len(rest)] + (math.prod(x.shape[d] for d in axis),))
        res = getattr(jnp, name)(flat, axis=-1)
        if keepdims:
            res = res.reshape(tuple(1 if d in axis else s for d, s in enumerate(x.shape)))
        return res
    return lower


def _logsumexp(x, axis, keepdims):
    jnp = rt.jnp
    if x.size:
        m = jnp.max(x, axis=axis, keepdims=True)
        m = jnp.where(jnp.isfinite(m), m, jnp.zeros((), x.dtype))
    else:
        m = jnp.zeros(tuple(1 if d in axis else s for d, s in enumerate(x.shape)), x.dtype)
    out = jnp.log(jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else out.reshape(tuple(s for d, s in enumerate(x.shape) if d not in axis))


def _reduction(name):
    def lower(x, axis, keepdims):
        if name in ("max", "min") and any(x.shape[a] == 0 for a in axis):
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
        return getattr(rt.jnp, name)(x, axis=axis, keepdims=keepdims)
    return lower


#: reduction name -> lowering(x, axis, keepdims) (input cast to the result dtype first, except arg*)
REDUCE = {
    **{name: _reduction(name) for name in ("sum", "prod", "max", "min", "all", "any")},
    "argmax": _argreduce("argmax"),
    "argmin": _argreduce("argmin"),
    "logsumexp": _logsumexp,
}


def lower_reduce(node, x):
    name, p = node.op.name, node.op.params
    if name not in ("argmax", "argmin", "all", "any"):
        x = cast(x, node.out.dtype)
    return cast(REDUCE[name](x, tuple(p["axis"]), p["keepdims"]), node.out.dtype)


# ---------------------------------------------------------------------------------------------
# softmax


def _shifted(x, axis):
    jnp = rt.jnp
    m = jnp.max(x, axis=axis, keepdims=True) if x.size else jnp.zeros((), x.dtype)
    return x - jnp.where(jnp.isfinite(m), m, jnp.zeros((), x.dtype))


def lower_softmax(node, x):
    jnp, axis = rt.jnp, node.op.params["axis"]
    t = _shifted(cast(x, node.out.dtype), axis)
    if node.op.name == "softmax":
        e = jnp.exp(t)
        return e / jnp.sum(e, axis=axis, keepdims=True)
    return t - jnp.log(jnp.sum(jnp.exp(t), axis=axis, keepdims=True))
