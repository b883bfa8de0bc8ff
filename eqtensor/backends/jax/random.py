"""Random draws: ``jax.random`` with keys derived from the generators' states.

Inside the jitted program a generator is a JAX key's data (``uint32[2]``, threefry). At the call
boundary (:func:`key_data`), each NumPy ``Generator`` passed in (explicit or shared) becomes the
key data hashed from its bit generator's state (BLAKE2b of the state: the same state always gives
the same key, and the generator itself is not advanced); each generator the program returns (the
update of a shared generator, an output) becomes a new NumPy ``Generator`` seeded with the key's
data (:func:`generator_from`). ``random{dist}(rng, ...)`` draws with the first key of
``jax.random.split(key)``, ``random_next{dist}(rng, ...)`` is the second: both stay pure functions
of the generator, as on the other backends. The draws follow the same distributions as NumPy's
but are not the same numbers (docs/jax-backend.md).

:data:`SAMPLERS` maps a distribution name to ``sample(key, batch_shape, dtype, *params)``
(:data:`FAMILY_SAMPLERS` makes those of ``permutation:<rank>``); ``jax.random`` lacks von Mises and
hypergeometric samplers: they are NumPy's algorithms on ``jax.random`` uniforms, their rejection
or draw loops as ``lax.while_loop`` over all elements at once.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ...core.ops.random import box, distribution, unbox
from . import runtime as rt
from .casts import cast
from .errors import LoweringError


def key_data(value) -> np.ndarray:
    """The key data (``uint32[2]``) of a generator (or a box of one): a hash of its state."""
    state = repr(unbox(value).bit_generator.state).encode()
    return np.frombuffer(hashlib.blake2b(state, digest_size=8).digest(), dtype=np.uint32).copy()


def generator_from(data) -> np.ndarray:
    """A boxed NumPy generator (PCG64) seeded with key data: the generator a program returns."""
    seed = np.random.SeedSequence([int(d) for d in np.asarray(data).reshape(-1)])
    return box(np.random.Generator(np.random.PCG64(seed)))


def _r():
    return rt.jax.random


def _loc_scale(draw, positive=False):
    def sample(k, s, dt, loc, scale):
        x = draw(k, s, dt)
        return loc + scale * (rt.jnp.abs(x) if positive else x)
    return sample


def _wald(k, s, dt, mean, scale):
    """NumPy's algorithm (Michael, Schucany and Haas) on JAX draws."""
    jnp = rt.jnp
    k1, k2 = _r().split(k)
    y = _r().normal(k1, s, dt) ** 2
    mu_y = mean * y
    x = mean + mean * mu_y / (2 * scale) - mean / (2 * scale) * jnp.sqrt(4 * mu_y * scale + mu_y ** 2)
    return jnp.where(_r().uniform(k2, s, dt) <= mean / (mean + x), x, mean * mean / x)


def _two_stage(first, second):
    def sample(k, s, dt, *params):
        k1, k2 = _r().split(k)
        return second(k2, s, dt, params, first(k1, s, dt, params))
    return sample


def _known_n(x) -> int:
    """The ``n`` of a permutation of ``arange(n)``: it decides the shape, so it must be known (and one)."""
    if not rt.is_concrete(x):
        raise LoweringError("permutation of an integer n: n decides the shape; JAX needs it when tracing")
    ns = np.unique(np.asarray(x))
    if ns.size > 1:
        raise ValueError(f"permutation: the integers n differ ({ns.tolist()}): the permutations of a batch must "
                         f"have one length")
    return int(ns[0]) if ns.size else 0


def _permutation(core_ndims):
    """The sampler of ``permutation`` of an ``x`` of ``core`` dimensions: one permutation of the first
    core axis of each batch element (``size`` or ``x``'s leading dimensions), each with its own key."""
    core = core_ndims[0]

    def sample(k, s, dt, x):
        if not s:
            return _r().permutation(k, _known_n(x) if core == 0 else x)
        jnp = rt.jnp
        items = jnp.arange(_known_n(x)) if core == 0 else jnp.asarray(x)
        full = jnp.broadcast_to(items, s + items.shape[items.ndim - max(core, 1):])
        flat = full.reshape((-1,) + full.shape[len(s):])
        keys = _r().split(k, flat.shape[0])
        return rt.jax.vmap(_r().permutation)(keys, flat).reshape(full.shape)
    return sample


def _vonmises_reject(k, s, dt, kappa, done):
    """``cos`` of the angle of Best and Fisher's (1979) rejection sampler for the von Mises law, for the
    elements not ``done``: all drawn together, redrawn until each is accepted."""
    jnp = rt.jnp
    r = 1 + jnp.sqrt(1 + 4 * kappa * kappa)
    rho = (r - jnp.sqrt(2 * r)) / (2 * kappa)
    sk = jnp.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho * rho) / (2 * rho))  # rho loses all digits there

    def body(state):
        key, w, done = state
        key, k1, k2 = _r().split(key, 3)
        z = jnp.cos(np.pi * _r().uniform(k1, s, dt))
        wn = (1 + sk * z) / (sk + z)
        y = kappa * (sk - wn)
        u = _r().uniform(k2, s, dt)
        ok = (y * (2 - y) - u >= 0) | (jnp.log(y / u) + 1 - y >= 0)
        return key, jnp.where(ok & ~done, wn, w), done | ok

    return rt.lax.while_loop(lambda state: ~jnp.all(state[2]), body, (k, jnp.zeros(s, dt), done))[1]


def _vonmises(k, s, dt, mu, kappa):
    """NumPy's cases: uniform for ``kappa < 1e-8``, a wrapped normal for ``kappa > 1e6``, else
    Best and Fisher's rejection sampler; the angle ``mu`` +- ``acos(w)`` wrapped into [-pi, pi]."""
    jnp = rt.jnp
    mu, kappa = jnp.broadcast_to(mu, s), jnp.broadcast_to(kappa, s)
    k1, k2, k3 = _r().split(k, 3)
    flat, sharp = kappa < 1e-8, kappa > 1e6
    w = _vonmises_reject(k1, s, dt, jnp.where(flat | sharp, 1.0, kappa).astype(dt), flat | sharp)
    u = _r().uniform(k2, s, dt)
    angle = jnp.where(u < 0.5, -1, 1) * jnp.arccos(jnp.clip(w, -1, 1))
    angle = jnp.where(sharp, jnp.sqrt(1 / kappa) * _r().normal(k3, s, dt), angle) + mu
    wrapped = jnp.sign(angle) * (jnp.fmod(jnp.abs(angle) + np.pi, 2 * np.pi) - np.pi)
    return jnp.where(flat, np.pi * (2 * u - 1), wrapped)


def _hypergeometric(k, s, dt, ngood, nbad, nsample):
    """The number of good items among ``nsample`` drawn without replacement, drawn one by one (all
    elements together; of the ``total - nsample`` left out when fewer: ``ngood`` minus their good ones).
    The loop runs ``max(min(nsample, total - nsample))`` steps."""
    jnp = rt.jnp
    good, bad, n = (jnp.broadcast_to(p, s) for p in (ngood, nbad, nsample))
    flip = 2 * n > good + bad
    m = jnp.where(flip, good + bad - n, n)

    def body(state):
        t, key, g, b, drawn = state
        key, sub = _r().split(key)
        picked = (t < m) & (_r().uniform(sub, s, dt) * (g + b) < g)
        missed = (t < m) & ~picked
        return t + 1, key, g - picked, b - missed, drawn + picked

    state = (jnp.zeros((), dt), k, good, bad, jnp.zeros(s, dt))
    drawn = rt.lax.while_loop(lambda st: st[0] < jnp.max(m, initial=0), body, state)[4]
    return jnp.where(flip, good - drawn, drawn)


def _choice(k, s, dt, a, *rest):
    p, core = (None, rest[0]) if len(rest) == 1 else rest
    if not rt.is_concrete(core) or (np.ndim(a) == 0 and not rt.is_concrete(a)):
        raise LoweringError("choice without replacement: the sample's shape (and an integer population) must be "
                            "known when JAX traces")
    a = int(a) if np.ndim(a) == 0 else a
    return _r().choice(k, a, shape=tuple(int(c) for c in core), replace=False, p=p)


def _mvnormal(method):
    return lambda k, s, dt, mean, cov: _r().multivariate_normal(k, mean, cov, s, dt, method=method)


#: distribution name -> sample(key, batch shape, float dtype, *params)
SAMPLERS = {
    "uniform": lambda k, s, dt, lo, hi: lo + (hi - lo) * _r().uniform(k, s, dt),
    "normal": _loc_scale(lambda k, s, dt: _r().normal(k, s, dt)),
    "halfnormal": _loc_scale(lambda k, s, dt: _r().normal(k, s, dt), positive=True),
    "lognormal": lambda k, s, dt, mean, sigma: rt.jnp.exp(mean + sigma * _r().normal(k, s, dt)),
    "gamma": lambda k, s, dt, shape, scale: _r().gamma(k, shape, s, dt) * scale,
    "exponential": lambda k, s, dt, scale: _r().exponential(k, s, dt) * scale,
    "beta": lambda k, s, dt, a, b: _r().beta(k, a, b, s, dt),
    "triangular": lambda k, s, dt, left, mode, right: _r().triangular(k, left, mode, right, s, dt),
    "pareto": lambda k, s, dt, b, scale: _r().pareto(k, b, s, dt) * scale,
    "gumbel": _loc_scale(lambda k, s, dt: _r().gumbel(k, s, dt)),
    "weibull": lambda k, s, dt, a: _r().weibull_min(k, 1.0, a, s, dt),
    "logistic": _loc_scale(lambda k, s, dt: _r().logistic(k, s, dt)),
    "laplace": _loc_scale(lambda k, s, dt: _r().laplace(k, s, dt)),
    "cauchy": _loc_scale(lambda k, s, dt: _r().cauchy(k, s, dt)),
    "halfcauchy": _loc_scale(lambda k, s, dt: _r().cauchy(k, s, dt), positive=True),
    "invgamma": lambda k, s, dt, shape, scale: scale / _r().gamma(k, shape, s, dt),
    "wald": _wald,
    "truncexpon": lambda k, s, dt, b, loc, scale: loc - scale * rt.jnp.log1p(
        _r().uniform(k, s, dt) * rt.jnp.expm1(-b)),
    "t": lambda k, s, dt, df, loc, scale: loc + scale * _r().t(k, df, s, dt),
    "gengamma": lambda k, s, dt, alpha, p, lambd: lambd * _r().gamma(k, alpha / p, s, dt) ** (1 / p),
    "poisson": lambda k, s, dt, lam: _r().poisson(k, lam, s),
    "geometric": lambda k, s, dt, p: _r().geometric(k, p, s),
    "bernoulli": lambda k, s, dt, p: _r().bernoulli(k, p, s),
    "binomial": lambda k, s, dt, n, p: _r().binomial(k, n, p, s, dt),
    "negative_binomial": _two_stage(lambda k, s, dt, q: _r().gamma(k, q[0], s, dt) * (1 - q[1]) / q[1],
                                    lambda k, s, dt, q, lam: _r().poisson(k, lam, s)),
    "betabinom": _two_stage(lambda k, s, dt, q: _r().beta(k, q[1], q[2], s, dt),
                            lambda k, s, dt, q, p: _r().binomial(k, q[0], p, s, dt)),
    "integers": lambda k, s, dt, low, high: _r().randint(k, s, low, high, "int64"),
    "multivariate_normal": _mvnormal("cholesky"),
    "multivariate_normal_svd": _mvnormal("svd"),
    "multivariate_normal_eigh": _mvnormal("eigh"),
    "dirichlet": lambda k, s, dt, alphas: _r().dirichlet(k, alphas, s, dt),
    "multinomial": lambda k, s, dt, n, p: _r().multinomial(k, n, p, shape=s + p.shape[-1:]),
    "categorical": lambda k, s, dt, p: _r().categorical(k, rt.jnp.log(p), shape=s),
    "choice_without_replacement": _choice,
    "vonmises": _vonmises,
    "hypergeometric": _hypergeometric,
}

#: family -> make(core ndims): the sampler of a family whose records differ by their parameters' core ranks
FAMILY_SAMPLERS = {"permutation": _permutation}


def _batch(node, size, params):
    if node.op.params["sized"]:
        return tuple(int(d) for d in size)
    dist = distribution(node.op.params["dist"])
    return np.broadcast_shapes(*(np.shape(p)[:np.ndim(p) - c] for p, c in zip(params, dist.core_ndims)))


def _draw(node, rng, size, *params):
    name = node.op.params["dist"]
    family = name.partition(":")[0]
    sample = SAMPLERS.get(family)
    if sample is None and family in FAMILY_SAMPLERS:
        sample = FAMILY_SAMPLERS[family](distribution(name).core_ndims)
    if sample is None:
        raise LoweringError(f"random draws of {name!r} are not lowered to JAX: no JAX sampler")
    out = np.dtype(node.out.dtype)
    dt = out if out.kind == "f" else np.result_type(np.float32, *(np.dtype(i.dtype) for i in node.inputs[2:]))
    params = [rt.jnp.asarray(cast(p, dt)) if np.dtype(i.dtype).kind == "f" or family not in ("integers",
              "permutation", "choice_without_replacement") else p for p, i in zip(params, node.inputs[2:])]
    key = _r().split(_r().wrap_key_data(rng))[0]
    return cast(rt.jnp.asarray(sample(key, _batch(node, size, params), dt, *params)), out)


def _next(node, rng, size, *params):
    return _r().key_data(_r().split(_r().wrap_key_data(rng))[1])


#: op name -> lowering(node, rng key data, size, *params)
RANDOM = {"random": _draw, "random_next": _next}
