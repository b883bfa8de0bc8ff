"""Random variables (``eqtensor.tensor.random``): draws equal to NumPy's ``Generator`` (and SciPy's
samplers where PyTensor uses them) for the same seed and call order, sample statistics of every
distribution, shapes and dtypes, default updates and reseeding, and the optimizer's treatment of
draws (never merged when their generators differ, never constant-folded), in both backends."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.core.traversal import toposort
from eqtensor.graph import vectorize_graph
from eqtensor.tensor import random as ptr
from eqtensor.tensor.random import RandomStream

MODES = ["NUMPY", "C"]


def _gen(seed):
    return np.random.default_rng(seed)


def _random_nodes(f):
    return [n for n in toposort(f.maker.fgraph.outputs) if n.op.name in ("random", "random_next")]


# ------------------------------------------------------------------------- equal to NumPy
# name: (parameters, the expected draws from a Generator ``g`` with size ``s``)
SAME_AS_NUMPY = {
    "normal": ((1.0, 2.0), lambda g, s: g.normal(1.0, 2.0, s)),
    "uniform": ((-1.0, 3.0), lambda g, s: g.uniform(-1.0, 3.0, s)),
    "integers": ((3, 17), lambda g, s: g.integers(3, 17, s)),
    "poisson": ((4.0,), lambda g, s: g.poisson(4.0, s)),
    "binomial": ((12, 0.3), lambda g, s: g.binomial(12, 0.3, s)),
    "exponential": ((2.0,), lambda g, s: g.exponential(2.0, s)),
    "gamma": ((2.5,), lambda g, s: g.gamma(2.5, 1.5, s)),
    "beta": ((2.0, 5.0), lambda g, s: g.beta(2.0, 5.0, s)),
    "lognormal": ((0.5, 0.25), lambda g, s: g.lognormal(0.5, 0.25, s)),
    "laplace": ((1.0, 0.5), lambda g, s: g.laplace(1.0, 0.5, s)),
    "logistic": ((1.0, 0.5), lambda g, s: g.logistic(1.0, 0.5, s)),
    "geometric": ((0.25,), lambda g, s: g.geometric(0.25, s)),
    "hypergeometric": ((7, 5, 4), lambda g, s: g.hypergeometric(7, 5, 4, s)),
    "vonmises": ((0.5, 2.0), lambda g, s: g.vonmises(0.5, 2.0, s)),
    "wald": ((1.5, 2.0), lambda g, s: g.wald(1.5, 2.0, s)),
    "weibull": ((1.5,), lambda g, s: g.weibull(1.5, s)),
    "triangular": ((0.0, 1.0, 3.0), lambda g, s: g.triangular(0.0, 1.0, 3.0, s)),
    "chisquare": ((3.0,), lambda g, s: g.gamma(1.5, 2.0, s)),  # PyTensor's construction
    "invgamma": ((3.0, 2.0), lambda g, s: 1 / g.gamma(3.0, 0.5, s)),
    "halfnormal": ((1.0, 2.0), lambda g, s: st.halfnorm.rvs(1.0, 2.0, size=s, random_state=g)),
    "cauchy": ((1.0, 2.0), lambda g, s: st.cauchy.rvs(loc=1.0, scale=2.0, size=s, random_state=g)),
    "halfcauchy": ((1.0, 2.0), lambda g, s: st.halfcauchy.rvs(loc=1.0, scale=2.0, size=s, random_state=g)),
    "gumbel": ((1.0, 2.0), lambda g, s: st.gumbel_r.rvs(loc=1.0, scale=2.0, size=s, random_state=g)),
    "pareto": ((3.0, 2.0), lambda g, s: st.pareto.rvs(3.0, scale=2.0, size=s, random_state=g)),
    "t": ((4.0, 1.0, 2.0), lambda g, s: st.t.rvs(4.0, loc=1.0, scale=2.0, size=s, random_state=g)),
    "truncexpon": ((2.0, 1.0, 0.5), lambda g, s: st.truncexpon.rvs(2.0, loc=1.0, scale=0.5, size=s, random_state=g)),
    "bernoulli": ((0.3,), lambda g, s: st.bernoulli.rvs(0.3, size=s, random_state=g)),
    "negative_binomial": ((5, 0.4), lambda g, s: st.nbinom.rvs(5, 0.4, size=s, random_state=g)),
    "betabinom": ((10, 2.0, 3.0), lambda g, s: st.betabinom.rvs(10, 2.0, 3.0, size=s, random_state=g)),
    "gengamma": ((2.0, 1.5, 3.0), lambda g, s: st.gengamma.rvs(2.0 / 1.5, 1.5, scale=3.0, size=s, random_state=g)),
}


def _build(name, params, size, rng):
    fn = getattr(ptr, name)
    if name == "gamma":
        return fn(params[0], scale=1.5, size=size, rng=rng, return_next_rng=True)
    return fn(*params, size=size, rng=rng, return_next_rng=True)


@pytest.mark.parametrize("mode", MODES)
def test_draws_equal_numpy_for_the_same_seed_and_call_order(mode):
    names = sorted(SAME_AS_NUMPY)
    rngs = [et.shared(_gen(11 + k)) for k in range(len(names))]
    pairs = [_build(name, SAME_AS_NUMPY[name][0], (2, 3), rng) for name, rng in zip(names, rngs)]
    f = et.function([], [x for _, x in pairs], updates=[(r, nxt) for r, (nxt, _) in zip(rngs, pairs)], mode=mode)
    gens = [_gen(11 + k) for k in range(len(names))]
    for _ in range(2):  # the second call continues each stream
        for name, g, got in zip(names, gens, f()):
            np.testing.assert_allclose(got, SAME_AS_NUMPY[name][1](g, (2, 3)), rtol=1e-13, err_msg=name)


def test_both_backends_draw_the_same_values():
    outs = {}
    for mode in ["NUMPY", "C", "FAST_COMPILE"]:
        rng = et.shared(_gen(5))
        n1, a = ptr.normal(np.arange(3.0), 1.0, rng=rng, return_next_rng=True)
        n2, b = ptr.poisson(a.clip(0.1, 10.0) * 2, rng=n1, return_next_rng=True)
        f = et.function([], [a, b, (a * b).sum()], updates={rng: n2}, mode=mode)
        outs[mode] = [f(), f()]
    for mode in ("C", "FAST_COMPILE"):
        for got, want in zip(outs[mode], outs["NUMPY"]):
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
    g = _gen(5)
    a0 = g.normal(np.arange(3.0), 1.0)
    np.testing.assert_array_equal(outs["NUMPY"][0][0], a0)
    np.testing.assert_array_equal(outs["NUMPY"][0][1], g.poisson(np.clip(a0, 0.1, 10.0) * 2))


def test_generator_methods_chain_like_numpy():
    rng = ptr.shared_rng(seed=3)
    r1, x = rng.normal(0.0, 1.0, size=2)
    r2, k = r1.integers(0, 100, size=3)
    r3, u = r2.uniform()
    f = et.function([], [x, k, u], updates={rng: r3})
    g = _gen(3)
    for _ in range(2):
        xv, kv, uv = f()
        np.testing.assert_array_equal(xv, g.normal(0.0, 1.0, 2))
        np.testing.assert_array_equal(kv, g.integers(0, 100, 3))
        assert uv == g.uniform()
    with pytest.warns(UserWarning, match="already been used"):
        rng.normal()


def test_symbolic_generator_input_is_not_mutated_and_returns_generators():
    r = ptr.rng("r")
    nxt, x = r.normal(size=3)
    for mode in MODES:
        f = et.function([r], [nxt, x], mode=mode)
        g = _gen(0)
        state = g.bit_generator.state
        g2, draws = f(g)
        assert g.bit_generator.state == state  # copy-on-use: the argument is untouched
        assert isinstance(g2, np.random.Generator)
        np.testing.assert_array_equal(draws, _gen(0).normal(size=3))
        _, again = f(g2)
        ref = _gen(0)
        ref.normal(size=3)
        np.testing.assert_array_equal(again, ref.normal(size=3))


# ------------------------------------------------------------------------- statistics
N = 20_000  # draws per distribution (a symbolic size: see the test)


def _moments(n):
    """name -> (draw builder given rng, expected mean, expected variance) for scalar distributions."""
    s = st
    return {
        "uniform": (lambda r: ptr.uniform(2.0, 5.0, size=n, rng=r), s.uniform(2, 3)),
        "triangular": (lambda r: ptr.triangular(0.0, 1.0, 3.0, size=n, rng=r), s.triang(1 / 3, 0, 3)),
        "beta": (lambda r: ptr.beta(2.0, 3.0, size=n, rng=r), s.beta(2, 3)),
        "normal": (lambda r: ptr.normal(1.0, 2.0, size=n, rng=r), s.norm(1, 2)),
        "standard_normal": (lambda r: ptr.standard_normal(size=n, rng=r), s.norm()),
        "halfnormal": (lambda r: ptr.halfnormal(1.0, 2.0, size=n, rng=r), s.halfnorm(1, 2)),
        "lognormal": (lambda r: ptr.lognormal(0.0, 0.5, size=n, rng=r), s.lognorm(0.5)),
        "gamma": (lambda r: ptr.gamma(2.0, scale=3.0, size=n, rng=r), s.gamma(2, scale=3)),
        "chisquare": (lambda r: ptr.chisquare(4.0, size=n, rng=r), s.chi2(4)),
        "rayleigh": (lambda r: ptr.rayleigh(2.0, size=n, rng=r), s.rayleigh(scale=2)),
        "pareto": (lambda r: ptr.pareto(10.0, 2.0, size=n, rng=r), s.pareto(10, scale=2)),
        "gumbel": (lambda r: ptr.gumbel(1.0, 2.0, size=n, rng=r), s.gumbel_r(1, 2)),
        "exponential": (lambda r: ptr.exponential(2.0, size=n, rng=r), s.expon(scale=2)),
        "weibull": (lambda r: ptr.weibull(2.0, size=n, rng=r), s.weibull_min(2)),
        "logistic": (lambda r: ptr.logistic(1.0, 2.0, size=n, rng=r), s.logistic(1, 2)),
        "vonmises": (lambda r: ptr.vonmises(0.0, 2.0, size=n, rng=r), s.vonmises(2)),
        "poisson": (lambda r: ptr.poisson(3.0, size=n, rng=r), s.poisson(3)),
        "geometric": (lambda r: ptr.geometric(0.3, size=n, rng=r), s.geom(0.3)),
        "hypergeometric": (lambda r: ptr.hypergeometric(10, 5, 6, size=n, rng=r), s.hypergeom(15, 10, 6)),
        "invgamma": (lambda r: ptr.invgamma(6.0, 5.0, size=n, rng=r), s.invgamma(6, scale=5)),
        "wald": (lambda r: ptr.wald(1.0, 2.0, size=n, rng=r), s.invgauss(0.5, scale=2)),
        "truncexpon": (lambda r: ptr.truncexpon(2.0, 1.0, 0.5, size=n, rng=r), s.truncexpon(2, 1, 0.5)),
        "t": (lambda r: ptr.t(6.0, 1.0, 2.0, size=n, rng=r), s.t(6, 1, 2)),
        "bernoulli": (lambda r: ptr.bernoulli(0.3, size=n, rng=r), s.bernoulli(0.3)),
        "laplace": (lambda r: ptr.laplace(1.0, 2.0, size=n, rng=r), s.laplace(1, 2)),
        "binomial": (lambda r: ptr.binomial(10, 0.3, size=n, rng=r), s.binom(10, 0.3)),
        "negative_binomial": (lambda r: ptr.negative_binomial(5, 0.4, size=n, rng=r), s.nbinom(5, 0.4)),
        "betabinom": (lambda r: ptr.betabinom(10, 2.0, 3.0, size=n, rng=r), s.betabinom(10, 2, 3)),
        "gengamma": (lambda r: ptr.gengamma(2.0, 1.5, 1.0, size=n, rng=r), s.gengamma(2 / 1.5, 1.5)),
        "integers": (lambda r: ptr.integers(0, 10, size=n, rng=r), s.randint(0, 10)),
        "categorical": (lambda r: ptr.categorical([0.2, 0.3, 0.5], size=n, rng=r), s.rv_discrete(
            values=([0, 1, 2], [0.2, 0.3, 0.5]))),
        "choice": (lambda r: ptr.choice(5, size=n, rng=r), s.randint(0, 5)),
    }


def test_sample_statistics_of_every_scalar_distribution():
    n = pt.lscalar("n")  # symbolic: static int vectors of 20 000 entries make the optimizer's type tables slow
    moments = _moments(n)
    rng = et.shared(_gen(2024))
    outs = [build(rng) for build, _ in moments.values()]  # one generator: each node copies it
    draws = et.function([n], outs, mode="NUMPY")(N)  # the C backend's draws are equal (tests above)
    for (name, (_, ref)), x in zip(moments.items(), draws):
        assert x.shape == (N,), name
        mean, var, kurt = (float(v) for v in ref.stats(moments="mvk"))  # kurt: excess kurtosis
        assert abs(x.mean() - mean) < 5 * np.sqrt(var / N), (name, x.mean(), mean)
        # the sample variance has a relative standard error of sqrt((kurt + 2) / N)
        assert abs(x.var() / var - 1) < 5 * np.sqrt((kurt + 2) / N), (name, x.var(), var)


def test_heavy_tailed_distributions_by_quantiles():
    rng = et.shared(_gen(9))
    c, h = ptr.cauchy(1.0, 2.0, size=N, rng=rng), ptr.halfcauchy(1.0, 2.0, size=N, rng=rng)
    cv, hv = et.function([], [c, h])()
    for x, ref in ((cv, st.cauchy(1, 2)), (hv, st.halfcauchy(1, 2))):
        for q in (0.25, 0.5, 0.75):
            assert abs(np.mean(x <= ref.ppf(q)) - q) < 0.015


def test_multivariate_distributions():
    rng = et.shared(_gen(4))
    mean, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 1.0]])
    outs = [ptr.multivariate_normal(mean, cov, size=N, rng=rng),
            ptr.multivariate_normal(mean, cov, size=N, method="eigh", rng=rng),
            ptr.dirichlet([1.0, 2.0, 3.0], size=N, rng=rng),
            ptr.multinomial(10, [0.2, 0.3, 0.5], size=N, rng=rng)]
    mv, mv_eigh, d, m = et.function([], outs, mode="C")()
    for x in (mv, mv_eigh):
        assert x.shape == (N, 2)
        np.testing.assert_allclose(x.mean(0), mean, atol=0.06)
        np.testing.assert_allclose(np.cov(x.T), cov, atol=0.08)
    np.testing.assert_allclose(d.sum(1), 1.0)
    np.testing.assert_allclose(d.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.01)
    assert m.dtype == np.int64 and (m.sum(1) == 10).all()
    np.testing.assert_allclose(m.mean(0), [2.0, 3.0, 5.0], atol=0.06)
    g = _gen(4)  # first output: PyTensor's construction from standard normals
    z = g.normal(size=(N, 2))
    np.testing.assert_allclose(mv, z @ np.linalg.cholesky(cov).T + mean, rtol=1e-12)


def test_batched_multivariate_parameters_loop_as_pytensor():
    rng = et.shared(_gen(8))
    alphas = np.array([[1.0, 2.0], [5.0, 1.0], [2.0, 2.0]])
    d = ptr.dirichlet(alphas, rng=rng)
    m = ptr.multinomial(np.array([3, 7]), np.array([0.5, 0.5]), rng=rng)
    dv, mv = et.function([], [d, m])()
    g = _gen(8)
    np.testing.assert_array_equal(dv, np.stack([g.dirichlet(a) for a in alphas]))
    g = _gen(8)
    np.testing.assert_array_equal(mv, np.stack([g.multinomial(n, [0.5, 0.5]) for n in (3, 7)]))


def test_choice_and_permutation():
    rng = et.shared(_gen(6))
    a = np.array([10.0, 20.0, 30.0, 40.0])
    outs = [ptr.permutation(7, rng=rng), ptr.permutation(a, rng=rng), ptr.choice(a, size=(2, 3), rng=rng),
            ptr.choice(10, size=(4,), replace=False, rng=rng),
            ptr.choice(a, size=(3,), replace=False, p=[0.1, 0.2, 0.3, 0.4], rng=rng),
            ptr.choice(a, size=(100, N // 100), p=[0.1, 0.2, 0.3, 0.4], rng=rng)]  # 2-d: see the statistics test
    p7, pa, ca, c10, cp, cfreq = et.function([], outs)()
    g = lambda: _gen(6)  # noqa: E731  (every node draws from the same state)
    np.testing.assert_array_equal(p7, g().permutation(7))
    np.testing.assert_array_equal(pa, g().permutation(a))
    np.testing.assert_array_equal(ca, a[g().integers(0, 4, size=(2, 3))])
    np.testing.assert_array_equal(c10, g().choice(10, size=(4,), replace=False))
    np.testing.assert_array_equal(cp, g().choice(a, size=(3,), replace=False, p=[0.1, 0.2, 0.3, 0.4]))
    assert len(set(cp)) == 3
    np.testing.assert_allclose([np.mean(cfreq == v) for v in a], [0.1, 0.2, 0.3, 0.4], atol=0.015)


# ------------------------------------------------------------------------- shapes and dtypes
def test_shapes_size_and_broadcasting():
    rng = et.shared(_gen(1))
    loc, scale = pt.dcol("loc"), pt.dvector("scale")
    x = ptr.normal(loc, scale, rng=rng)
    assert x.type.shape == (None, None)
    lv, sv = np.arange(3.0)[:, None], np.array([1.0, 2.0, 3.0, 4.0])
    out = et.function([loc, scale], x)(lv, sv)
    np.testing.assert_array_equal(out, _gen(1).normal(lv, sv))
    y = ptr.normal(np.zeros(4), 1.0, size=(2, 3, 4), rng=rng)
    assert y.type.shape == (2, 3, 4) and y.eval().shape == (2, 3, 4)
    n = pt.lscalar("n")
    z = ptr.uniform(size=(n, 2), rng=rng)
    assert z.type.shape == (None, 2) and et.function([n], z)(5).shape == (5, 2)
    assert ptr.multivariate_normal(np.zeros(3), np.eye(3), size=(4,), rng=rng).type.shape == (4, 3)
    with pytest.raises(ValueError, match="size has length 1"):
        ptr.normal(np.zeros((2, 3)), 1.0, size=(3,), rng=rng)
    with pytest.raises(ValueError, match="do not broadcast"):
        ptr.normal(np.zeros(3), np.ones(4), rng=rng)
    with pytest.raises(TypeError, match="size must be"):
        ptr.normal(size=1.5, rng=rng)


def test_dtypes():
    rng = et.shared(_gen(1))
    assert ptr.normal(rng=rng).dtype == et.config.floatX
    assert ptr.normal(rng=rng, dtype="float32").eval().dtype == np.float32
    assert ptr.poisson(2.0, rng=rng).dtype == "int64"
    assert ptr.integers(0, 5, rng=rng, dtype="int32").eval().dtype == np.int32
    assert ptr.permutation(np.arange(4, dtype="int16"), rng=rng).dtype == "int16"
    with pytest.raises(ValueError, match="cannot change the dtype"):
        ptr.normal(rng=rng, dtype="int64")
    with pytest.raises(TypeError, match="generator variable"):
        ptr.normal(rng=_gen(1))


# ------------------------------------------------------------------------- streams and updates
def test_random_stream_default_updates_and_no_default_updates():
    srng = RandomStream(seed=7)
    x = srng.normal(0.0, 1.0, size=3)
    f = et.function([], x)
    a, b = f(), f()
    assert not np.array_equal(a, b)
    (child,) = np.random.SeedSequence(7).spawn(1)  # the stream's seeding: one child per draw
    g = np.random.default_rng(child)
    np.testing.assert_array_equal(a, g.normal(0.0, 1.0, 3))
    np.testing.assert_array_equal(b, g.normal(0.0, 1.0, 3))
    frozen = et.function([], x, no_default_updates=True)
    np.testing.assert_array_equal(frozen(), frozen())
    rng = srng.updates()[0][0]
    frozen_list = et.function([], x, no_default_updates=[rng])
    np.testing.assert_array_equal(frozen_list(), frozen_list())
    explicit = et.function([], x, updates={rng: rng})  # an explicit update wins over the default one
    np.testing.assert_array_equal(explicit(), explicit())


def test_random_stream_seed_and_reproducibility():
    def stream(seed):
        srng = RandomStream(seed)
        return srng, et.function([], [srng.normal(size=2), srng.uniform(size=2), srng.integers(0, 9, size=2)])

    s1, f1 = stream(3)
    _, f2 = stream(3)
    first = f1()
    for u, v in zip(first, f2()):
        np.testing.assert_array_equal(u, v)
    f1()
    s1.seed(3)
    for u, v in zip(first, f1()):
        np.testing.assert_array_equal(u, v)
    s1.seed(4)
    assert not np.array_equal(f1()[0], first[0])
    x = s1.gen(ptr.poisson, 5.0, size=4)
    assert x.dtype == "int64" and len(s1.updates()) == 4
    with pytest.raises(ValueError, match="rng"):
        s1.normal(rng=ptr.shared_rng(seed=1))


def test_reseeding_a_shared_generator():
    rng = et.shared(_gen(1), name="rng")
    nxt, x = ptr.normal(size=2, rng=rng, return_next_rng=True)
    f = et.function([], x, updates={rng: nxt})
    a = f()
    rng.set_value(_gen(1))
    np.testing.assert_array_equal(f(), a)
    rng.set_value(seed=1)
    np.testing.assert_array_equal(f(), a)
    state = rng.get_value().bit_generator.state
    rng.get_value().normal()  # get_value returns a copy: drawing from it leaves the shared state
    assert rng.get_value().bit_generator.state == state
    assert rng.get_value(borrow=True) is rng.get_value(borrow=True)


def test_eval_draws_anew_with_default_updates():
    srng = RandomStream(1)
    x = srng.uniform()
    assert x.eval() != x.eval()


# ------------------------------------------------------------------------- the optimizer
@pytest.mark.parametrize("mode", MODES)
def test_separate_draws_are_never_merged(mode):
    srng = RandomStream(0)
    a, b = srng.normal(0.0, 1.0, size=5), srng.normal(0.0, 1.0, size=5)
    f = et.function([], [a, b, a - b], mode=mode)
    av, bv, dv = f()
    assert not np.array_equal(av, bv)
    np.testing.assert_array_equal(dv, av - bv)
    assert len({n.inputs[0] for n in _random_nodes(f) if n.op.name == "random"}) == 2


@pytest.mark.parametrize("mode", MODES)
def test_one_variable_used_twice_is_drawn_once(mode):
    srng = RandomStream(0)
    x = srng.normal(0.0, 1.0, size=5)
    f = et.function([], [x - x, x + x, x], mode=mode)
    zero, twice, xv = f()
    np.testing.assert_array_equal(zero, np.zeros(5))
    np.testing.assert_array_equal(twice, 2 * xv)
    assert sum(n.op.name == "random" for n in _random_nodes(f)) == 1


def test_the_same_generator_twice_draws_the_same_values_as_pytensor():
    rng = et.shared(_gen(1))
    x, y = ptr.normal(rng=rng), ptr.normal(rng=rng)
    xv, yv = et.function([], [x, y])()
    assert xv == yv == _gen(1).normal()


def test_draws_with_constant_parameters_are_never_folded():
    srng = RandomStream(2)
    x = srng.normal(3.0, 0.0, size=3) * 0.0 + srng.uniform(1.0, 1.0)  # constant values, random nodes
    f = et.function([], x)
    assert _random_nodes(f)
    np.testing.assert_array_equal(f(), np.ones(3))
    y = srng.normal(0.0, 1.0)
    g = et.function([], y)
    assert g() != g()


# ------------------------------------------------------------------------- graphs
def test_gradient_through_draws_is_zero_for_their_parameters_and_flows_around_them():
    rng = et.shared(_gen(0))
    w = pt.dscalar("w")
    x = ptr.normal(0.0, 1.0, size=4, rng=rng)
    cost = ((w * x) ** 2).sum()
    g = et.function([w], et.grad(cost, w))
    xv = _gen(0).normal(size=4)
    np.testing.assert_allclose(g(1.5), 2 * 1.5 * (xv ** 2).sum())


def test_vectorize_graph_of_a_draw():
    rng = et.shared(_gen(3))
    mu = pt.dvector("mu")
    x = ptr.normal(mu, 1.0, size=(2, 3), rng=rng)
    mub = pt.dmatrix("mub")
    xb = vectorize_graph(x, {mu: mub})
    assert xb.ndim == 3
    v = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(et.function([mub], xb)(v), _gen(3).normal(v[:, None, :], 1.0, size=(4, 2, 3)))


def test_graph_views_of_a_draw():
    rng = et.shared(_gen(0))
    nxt, x = ptr.normal(size=2, rng=rng, return_next_rng=True)
    assert x.owner.outputs == (nxt, x) == nxt.owner.outputs
    assert x.owner.inputs[0] is rng and nxt.type == ptr.type.random_generator_type
    assert "normal_rv" in et.pprint(x) or "normal" in str(x.owner.op)
    with pytest.raises(TypeError, match="RandomState"):
        et.shared(np.random.RandomState(0))


# ------------------------------------------------------------------------- one sampling per draw
@pytest.mark.parametrize("mode", MODES)
def test_draws_and_their_next_generator_are_sampled_once(mode, monkeypatch):
    from eqtensor.core.ops import random as rnd

    calls = []
    real = rnd._sample
    monkeypatch.setattr(rnd, "_sample", lambda *a: calls.append(1) or real(*a))
    srng = RandomStream(seed=9)
    x = srng.normal(0.0, 1.0, size=(4,))
    f = et.function([], [x, x * 2], mode=mode)  # the draw and its default update
    (child,) = np.random.SeedSequence(9).spawn(1)
    g = np.random.default_rng(child)
    for _ in range(3):
        calls.clear()
        a, b = f()
        assert len(calls) == 1
        np.testing.assert_array_equal(a, g.normal(0.0, 1.0, size=4))
        np.testing.assert_array_equal(b, 2 * a)
    (gen,) = [s for s, _ in srng.updates()]
    assert gen.get_value().bit_generator.state == g.bit_generator.state


def test_a_value_left_for_the_other_node_is_never_stale():
    # the next-generator node alone leaves its draws behind; the draw node of another function on
    # the same generator state but with a parameter changed in place must draw anew
    r, mu = ptr.rng("r"), pt.dvector("mu")
    nxt, x = ptr.normal(mu, 1.0, rng=r, return_next_rng=True)
    only_next, only_draws = et.function([r, mu], nxt, mode="NUMPY"), et.function([r, mu], x, mode="NUMPY")
    gen, m = _gen(3), np.zeros(3)
    only_next(gen, m)
    m += 100.0
    np.testing.assert_array_equal(only_draws(gen, m), _gen(3).normal(m, 1.0))
