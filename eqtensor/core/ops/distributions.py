"""The distributions of ``eqtensor.tensor.random``: one record per distribution (its NumPy or SciPy
sampler, its parameters' core dimensions, its support shape, its dtype) and one builder each, with
PyTensor 3.0.7's names, parameters and defaults.

Each sampler draws exactly as PyTensor's ``rng_fn`` does (the same NumPy ``Generator`` methods,
SciPy's ``rvs`` where PyTensor uses SciPy, the same loops over batched parameters), so a graph
gives the draws PyTensor gives for the same generator state. Every builder takes ``size=``,
``rng=``, ``dtype=``, ``name=`` and ``return_next_rng=`` (see
:func:`eqtensor.core.ops.random.random_variable`).

>>> import numpy as np
>>> from eqtensor.core.ops.random import shared_rng
>>> rng = shared_rng(np.random.default_rng(7))
>>> x = poisson(3.0, size=(2, 3), rng=rng)
>>> x.type, np.array_equal(x.eval(), np.random.default_rng(7).poisson(3.0, size=(2, 3)))
(TensorType(int64, shape=(2, 3)), True)
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from ..op import as_tensor_variable, constant_value
from .elemwise import sqrt, true_div
from .random import Distribution, install_methods, random_variable, register, register_family
from .shape import as_shape_vector, get_vector_length, shape, static_entries
from .shape_checks import specify_shape
from .subtensor import getitem

_REQUIRED = inspect.Parameter.empty


def _numpy(method):
    """The sampler ``Generator.<method>(*params, size=size)``."""
    def sample(gen, *params, size):
        return getattr(gen, method)(*params, size=size)
    return sample


def _scipy(dist, **fixed):
    """The sampler ``scipy.stats.<dist>.rvs(*params, size=, random_state=gen)`` (``fixed`` maps
    keyword names to parameter positions), broadcast back to the parameters' shape where SciPy
    drops dimensions (as PyTensor's ``ScipyRandomVariable``)."""
    def sample(gen, *params, size):
        import scipy.stats  # lazy: ~0.3 s of import time, needed by the first draw of these distributions

        pos = [p for k, p in enumerate(params) if k not in fixed.values()]
        kw = {name: params[k] for name, k in fixed.items()}
        res = np.asarray(getattr(scipy.stats, dist).rvs(*pos, **kw, size=size, random_state=gen))
        want = np.broadcast_shapes(*[np.shape(p) for p in params])
        if size is None and res.shape != want:
            res = np.broadcast_to(res, want).copy()
        return res
    return sample


def _gengamma(gen, alpha, p, lambd, *, size):
    import scipy.stats  # lazy (see _scipy)

    return scipy.stats.gengamma.rvs(alpha / p, p, scale=lambd, size=size, random_state=gen)


def _invgamma(gen, shape_, scale, *, size):
    return 1 / gen.gamma(shape_, 1 / scale, size)


def _mvnormal(method):
    def sample(gen, mean, cov, *, size):
        if size is None:
            size = np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2])
        if method == "cholesky":
            a = np.linalg.cholesky(cov)
        elif method == "svd":
            a, s, _ = np.linalg.svd(cov)
            a = a * np.sqrt(s)[..., None, :]
        else:
            w, a = np.linalg.eigh(cov)
            a = a * np.sqrt(w)[..., None, :]
        out = gen.normal(size=(*size, mean.shape[-1]))
        np.einsum("...ij,...j->...i", a, out, optimize=False, out=out)
        out += mean
        return out
    return sample


def _dirichlet(gen, alphas, *, size):
    if alphas.ndim == 1:
        return gen.dirichlet(alphas, size=size)
    if size is not None:
        alphas = np.broadcast_to(alphas, size + alphas.shape[-1:])
    out = np.empty(alphas.shape)
    for idx in np.ndindex(alphas.shape[:-1]):
        out[idx] = gen.dirichlet(alphas[idx])
    return out


def _multinomial(gen, n, p, *, size):
    if n.ndim == 0 and p.ndim <= 1:
        return gen.multinomial(n, p, size=size)
    if size is None:
        batch = np.broadcast_shapes(n.shape, p.shape[:-1])
    else:
        batch = size
    n, p = np.broadcast_to(n, batch), np.broadcast_to(p, batch + p.shape[-1:])
    out = np.empty(p.shape, dtype="int64")
    for idx in np.ndindex(batch):
        out[idx] = gen.multinomial(n[idx], p[idx])
    return out


def _categorical(gen, p, *, size):
    if size is None:
        size = p.shape[:-1]
    elif len(size) < p.ndim - 1 or any(s == 1 and q != 1 for s, q in zip(reversed(size), reversed(p.shape[:-1]))):
        raise ValueError(f"categorical: size {size} is incompatible with p of shape {p.shape}")
    u = gen.uniform(size=size)
    cdf = np.cumsum(p, axis=-1)
    return np.vectorize(np.searchsorted, otypes=["int64"], signature="(n),()->()")(cdf, u)


def _permutation(core):
    """The sampler of ``permutation`` for an ``x`` of ``core`` dimensions (all core: PyTensor's
    signature), looping over the batch dimensions ``size`` adds, as PyTensor's ``rng_fn``."""
    def sample(gen, x, *, size):
        batch = x.ndim - core
        if not batch:
            return gen.permutation(x.item() if core == 0 else x)
        if size is None:
            size = x.shape[:batch]
        else:
            x = np.broadcast_to(x, size + x.shape[batch:])
        supp = x.shape[batch:] if core else (int(x.flat[0]),)
        out = np.empty(size + supp, dtype=x.dtype)
        for idx in np.ndindex(size):
            out[idx] = gen.permutation(x[idx].item() if core == 0 else x[idx])
        return out
    return sample


def _choice_wo(gen, a, *rest, size):
    """``Generator.choice(a, p=p, size=core shape, replace=False)``: every dimension of ``a`` is a
    core one (PyTensor's ``ChoiceWithoutReplacement``), so there is no batch."""
    p, core = (None, rest[0]) if len(rest) == 1 else rest
    core = tuple(int(c) for c in core)
    return gen.choice(a, p=p, size=core or None, replace=False)


def _last(k):
    """The support shape ``(params[k]'s last static length,)``."""
    return lambda params: (params[k].type.shape[-1],)


def _mv_support(params):
    mean, cov = params
    n = mean.type.shape[-1] if mean.type.shape[-1] is not None else cov.type.shape[-1]
    return (n,)


def _perm_support(core):
    """The support of ``permutation`` of an ``x`` of ``core`` dimensions: ``x``'s own shape, or
    ``(x,)`` for an integer scalar."""
    def support(params):
        (x,) = params
        if core:
            return x.type.shape[x.ndim - core:]
        v = constant_value(x)
        return (None if v is None or v.size != 1 else int(v.reshape(-1)[0]),)
    return support


def _choice_support(params):
    a, core = params[0], params[-1]
    return tuple(static_entries(core)) + tuple(a.type.shape[1:])


_F = "floatX"
_I = "int64"
# name: (sampler, ((param, default), ...), core ndims, dtype, support)
_TABLE = {
    "uniform": (_numpy("uniform"), (("low", 0.0), ("high", 1.0))),
    "triangular": (_numpy("triangular"), (("left", _REQUIRED), ("mode", _REQUIRED), ("right", _REQUIRED))),
    "beta": (_numpy("beta"), (("alpha", _REQUIRED), ("beta", _REQUIRED))),
    "normal": (_numpy("normal"), (("loc", 0.0), ("scale", 1.0))),
    "halfnormal": (_scipy("halfnorm"), (("loc", 0.0), ("scale", 1.0))),
    "lognormal": (_numpy("lognormal"), (("mean", 0.0), ("sigma", 1.0))),
    "gamma": (_numpy("gamma"), (("shape", _REQUIRED), ("scale", _REQUIRED))),
    "pareto": (_scipy("pareto", scale=1), (("b", _REQUIRED), ("scale", 1.0))),
    "gumbel": (_scipy("gumbel_r", loc=0, scale=1), (("loc", _REQUIRED), ("scale", 1.0))),
    "exponential": (_numpy("exponential"), (("scale", 1.0),)),
    "weibull": (_numpy("weibull"), (("shape", _REQUIRED),)),
    "logistic": (_numpy("logistic"), (("loc", 0.0), ("scale", 1.0))),
    "vonmises": (_numpy("vonmises"), (("mu", _REQUIRED), ("kappa", _REQUIRED))),
    "poisson": (_numpy("poisson"), (("lam", 1.0),), None, _I),
    "geometric": (_numpy("geometric"), (("p", _REQUIRED),), None, _I),
    "hypergeometric": (_numpy("hypergeometric"), (("ngood", _REQUIRED), ("nbad", _REQUIRED),
                                                  ("nsample", _REQUIRED)), None, _I),
    "cauchy": (_scipy("cauchy", loc=0, scale=1), (("loc", 0.0), ("scale", 1.0))),
    "halfcauchy": (_scipy("halfcauchy", loc=0, scale=1), (("loc", 0.0), ("scale", 1.0))),
    "invgamma": (_invgamma, (("shape", _REQUIRED), ("scale", _REQUIRED))),
    "wald": (_numpy("wald"), (("mean", 1.0), ("scale", 1.0))),
    "truncexpon": (_scipy("truncexpon", loc=1, scale=2), (("b", _REQUIRED), ("loc", 0.0), ("scale", 1.0))),
    "t": (_scipy("t", loc=1, scale=2), (("df", _REQUIRED), ("loc", 0.0), ("scale", 1.0))),
    "bernoulli": (_scipy("bernoulli"), (("p", _REQUIRED),), None, _I),
    "laplace": (_numpy("laplace"), (("loc", 0.0), ("scale", 1.0))),
    "binomial": (_numpy("binomial"), (("n", _REQUIRED), ("p", _REQUIRED)), None, _I),
    "negative_binomial": (_scipy("nbinom"), (("n", _REQUIRED), ("p", _REQUIRED)), None, _I),
    "betabinom": (_scipy("betabinom"), (("n", _REQUIRED), ("a", _REQUIRED), ("b", _REQUIRED)), None, _I),
    "gengamma": (_gengamma, (("alpha", 1.0), ("p", 1.0), ("lambd", 1.0))),
    "integers": (_numpy("integers"), (("low", _REQUIRED), ("high", None)), None, _I),
    "multivariate_normal": (_mvnormal("cholesky"), (("mean", _REQUIRED), ("cov", _REQUIRED)), (1, 2), _F,
                            _mv_support),
    "dirichlet": (_dirichlet, (("alphas", _REQUIRED),), (1,), _F, _last(0)),
    "multinomial": (_multinomial, (("n", _REQUIRED), ("p", _REQUIRED)), (0, 1), _I, _last(1)),
    "categorical": (_categorical, (("p", _REQUIRED),), (1,), _I),
}
for _name, _row in _TABLE.items():
    _sampler, _params, _core, _dtype, _support = _row + (None, _F, None)[len(_row) - 2:]
    register(Distribution(_name, _sampler, _core or (0,) * len(_params), _dtype, _support))
for _method in ("svd", "eigh"):
    register(Distribution(f"multivariate_normal_{_method}", _mvnormal(_method), (1, 2), _F, _mv_support))
# families with one record per rank of their array parameter: "permutation:2", "choice_without_replacement:1p"
register_family("permutation", lambda arg: Distribution(f"permutation:{arg}", _permutation(int(arg)), (int(arg),),
                                                        None, _perm_support(int(arg))))
register_family("choice_without_replacement", lambda arg: Distribution(
    f"choice_without_replacement:{arg}", _choice_wo, (int(arg.rstrip("p")),) + (1,) * (1 + arg.endswith("p")), None,
    _choice_support))


def _builder(name, params):
    """The builder of distribution ``name`` with PyTensor's signature ``(*params, size=None, *,
    rng=None, dtype=None, name=None, return_next_rng=False)``."""
    sig = inspect.Signature(
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for p, d in params]
        + [inspect.Parameter("size", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
        + [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=d)
           for k, d in (("rng", None), ("dtype", None), ("name", None), ("return_next_rng", False))])

    def build(*args, **kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{name}: {e}") from None
        bound.apply_defaults()
        a = bound.arguments
        values = [a[p] for p, _ in params]
        return random_variable(name, values, a["size"], a["rng"], a["dtype"], a["name"], a["return_next_rng"])

    build.__name__ = build.__qualname__ = name
    build.__signature__ = sig
    build.__doc__ = (f"Draws of the {name} distribution (``numpy.random.Generator``'s, as PyTensor's "
                     f"``{name}``); parameters {', '.join(p for p, _ in params)} broadcast, ``size=`` gives the "
                     f"batch shape. Returns the draws, or ``(next_rng, draws)`` with ``return_next_rng=True``.")
    return build


_BUILDERS = {n: _builder(n, row[1]) for n, row in _TABLE.items() if n not in ("gamma", "integers",
                                                                                 "multivariate_normal")}
globals().update(_BUILDERS)
_gamma_builder = _builder("gamma", _TABLE["gamma"][1])
_integers_builder = _builder("integers", _TABLE["integers"][1])
nbinom = _BUILDERS["negative_binomial"]


def gamma(shape, rate=None, scale=None, **kwargs):
    """Draws of the gamma distribution with ``shape`` and ``scale`` (``rate``, the second positional
    parameter as in PyTensor, is deprecated there: ``scale = 1 / rate``).

    >>> import numpy as np
    >>> from eqtensor.core.ops.random import shared_rng
    >>> x = gamma(2.0, scale=3.0, size=4, rng=shared_rng(np.random.default_rng(1)))
    >>> np.allclose(x.eval(), np.random.default_rng(1).gamma(2.0, 3.0, size=4))
    True
    """
    if rate is not None and scale is not None:
        raise ValueError("gamma: Cannot specify both rate and scale")
    if rate is None and scale is None:
        raise ValueError("gamma: Must specify scale")
    if rate is not None:
        warnings.warn("gamma: Gamma rate argument is deprecated and will stop working, use scale instead "
                      "(as in PyTensor)", FutureWarning, stacklevel=2)
        scale = true_div(1.0, as_tensor_variable(rate))
    return _gamma_builder(shape, scale, **kwargs)


def integers(low, high=None, size=None, **kwargs):
    """Integers in ``[low, high)`` (``[0, low)`` when ``high`` is omitted), as ``Generator.integers``."""
    if high is None:
        low, high = 0, low
    return _integers_builder(low, high, size, **kwargs)


def multivariate_normal(mean, cov, size=None, method="cholesky", **kwargs):
    """Draws of a multivariate normal (``cov`` factored by ``method``: cholesky, svd or eigh), as
    PyTensor: ``normal(size=(*batch, n))`` mapped through the factor, plus ``mean``."""
    if method not in ("cholesky", "svd", "eigh"):
        raise ValueError(f"multivariate_normal: unknown method {method!r}: use 'cholesky', 'svd' or 'eigh'")
    dist = "multivariate_normal" if method == "cholesky" else f"multivariate_normal_{method}"
    return _builder(dist, _TABLE["multivariate_normal"][1])(mean, cov, size, **kwargs)


def standard_normal(*, size=None, rng=None, dtype=None, return_next_rng=False):
    """``normal(0, 1, size=size)``."""
    return _BUILDERS["normal"](0.0, 1.0, size=size, rng=rng, dtype=dtype, return_next_rng=return_next_rng)


def chisquare(df, size=None, rng=None, return_next_rng=False):
    """Chi-square draws, as PyTensor: ``gamma(df / 2, scale=2)``."""
    return gamma(true_div(as_tensor_variable(df), 2.0), scale=2.0, size=size, rng=rng,
                 return_next_rng=return_next_rng)


def rayleigh(scale=1.0, *, size=None, rng=None, return_next_rng=False):
    """Rayleigh draws, as PyTensor: ``sqrt(chisquare(2)) * scale``."""
    scale = as_tensor_variable(scale)
    nxt, c = chisquare(2, size=shape(scale) if size is None else size, rng=rng, return_next_rng=True)
    out = sqrt(c) * scale
    return (nxt, out) if return_next_rng else out


def permutation(x, size=None, rng=None, return_next_rng=False):
    """A random permutation of ``x`` (of ``arange(x)`` for an integer scalar), as ``Generator.permutation``."""
    x = as_tensor_variable(x)
    return random_variable(f"permutation:{x.ndim}", [x], size, rng, None, None, return_next_rng)


def choice(a, size=None, replace=True, p=None, rng=None, return_next_rng=False):
    """Elements of ``a`` (of ``arange(a)`` for a scalar) drawn with or without replacement, with
    probabilities ``p`` — PyTensor's construction: with replacement, ``integers``/``categorical``
    indices into ``a``; without, ``Generator.choice(a, p=p, size=size, replace=False)``."""
    a = as_tensor_variable(a)
    n = a if a.ndim == 0 else shape(a)[0]
    if p is not None:
        p = specify_shape(as_tensor_variable(p), (a.type.shape[0] if a.ndim else constant_value(a),))
    if replace or size is None:
        if p is None:
            nxt, idx = integers(0, n, size=size, rng=rng, return_next_rng=True)
        else:
            nxt, idx = _BUILDERS["categorical"](p, size=size, rng=rng, return_next_rng=True)
        out = idx if a.ndim == 0 else getitem(a, idx)
        return (nxt, out) if return_next_rng else out
    core = as_shape_vector(size, "size")
    get_vector_length(core)
    name = f"choice_without_replacement:{a.ndim}{'p' if p is not None else ''}"
    params = [a, p, core] if p is not None else [a, core]
    return random_variable(name, params, None, rng, None, None, return_next_rng)


#: every public builder, by name (PyTensor's ``pytensor.tensor.random.basic.__all__``)
BUILDERS = {**_BUILDERS, "gamma": gamma, "integers": integers, "multivariate_normal": multivariate_normal,
            "standard_normal": standard_normal, "chisquare": chisquare, "rayleigh": rayleigh,
            "permutation": permutation, "choice": choice, "nbinom": nbinom}
install_methods(BUILDERS)

__all__ = sorted(BUILDERS)
