"""Random numbers inside scan: a generator threaded through outputs_info, a shared generator
updated by fn, a RandomStream drawn inside fn (its default updates become the scan's updates);
draws against NumPy loops over the same Generator, new draws at every step and every call."""

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.scan import scan
from eqtensor.tensor.random import RandomStream, normal, rng, shared_rng, uniform

MODES = ["FAST_COMPILE", "NUMPY", "C"]


@pytest.mark.parametrize("mode", MODES)
def test_generator_threaded_through_outputs_info(mode):
    r = rng("r")

    def step(mu, prev):
        nxt, x = normal(mu, 1.0, size=(2,), rng=prev, return_next_rng=True)
        return x, nxt

    mus = pt.dvector("mus")
    (xs, last), updates = scan(step, sequences=mus, outputs_info=[None, r])
    assert updates == {} and last.type == r.type
    f = et.function([mus, r], [xs, last], mode=mode)
    muv = np.array([0.0, 10.0, -5.0, 2.5])
    got, final = f(muv, np.random.default_rng(7))
    g = np.random.default_rng(7)
    expected = np.array([g.normal(m, 1.0, size=2) for m in muv])
    np.testing.assert_array_equal(got, expected)
    assert final.bit_generator.state == g.bit_generator.state  # the generator after the last draw


@pytest.mark.parametrize("mode", MODES)
def test_shared_generator_updated_by_fn(mode):
    s = shared_rng(seed=3)
    x = pt.dvector("x")

    def step(x_t, gen):
        nxt, u = uniform(size=(3,), rng=gen, return_next_rng=True)
        return x_t + u, {gen: nxt}

    ys, updates = scan(step, sequences=x, non_sequences=s)
    assert list(updates) == [s]
    f = et.function([x], ys, updates=updates, mode=mode)
    xv = np.arange(4.0)
    g = np.random.default_rng(3)
    for _ in range(2):  # each call continues the stream
        np.testing.assert_array_equal(f(xv), xv[:, None] + np.array([g.uniform(size=3) for _ in xv]))
    assert s.get_value().bit_generator.state == g.bit_generator.state


@pytest.mark.parametrize("mode", MODES)
def test_random_stream_inside_fn_draws_anew_at_every_step_and_call(mode):
    # PyTensor's Gibbs-sampling idiom: the stream's generators made inside fn advance at every step
    srng = RandomStream(seed=11)
    h0 = pt.dvector("h0")

    def step(h):
        return h + srng.normal(0.0, 1.0, size=(2,))

    hs, updates = scan(step, outputs_info=h0, n_steps=5)
    assert len(updates) == 1
    (gen,) = updates
    assert gen.default_update is None  # the scan's update replaces it
    f = et.function([h0], hs, updates=updates, mode=mode)
    (child,) = np.random.SeedSequence(11).spawn(1)
    g = np.random.default_rng(child)
    start = np.array([1.0, -1.0])
    for _ in range(2):
        draws = g.normal(size=(5, 2))
        got = f(start)
        np.testing.assert_allclose(got, start + np.cumsum(draws, axis=0), rtol=1e-13)
        assert len({tuple(row) for row in np.diff(np.vstack([start, got]), axis=0)}) == 5  # not one draw reused


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_a_draw_not_depending_on_the_state_is_not_hoisted(mode):
    srng = RandomStream(seed=2)
    us, updates = scan(lambda: srng.uniform(size=(3,)), n_steps=4)
    f = et.function([], us, updates=updates, mode=mode)
    (child,) = np.random.SeedSequence(2).spawn(1)
    g = np.random.default_rng(child)
    np.testing.assert_array_equal(f(), g.uniform(size=(4, 3)))
    np.testing.assert_array_equal(f(), g.uniform(size=(4, 3)))


def test_generator_non_sequence_without_update_draws_the_same_values_each_step():
    # PyTensor's semantics: a generator that is not advanced gives the same draws
    s = shared_rng(seed=4)
    zs = scan(lambda gen: normal(size=(2,), rng=gen), non_sequences=s, n_steps=3, return_updates=False)
    got = et.function([], zs)()
    np.testing.assert_array_equal(got, np.tile(np.random.default_rng(4).normal(size=2), (3, 1)))


def test_generator_taps_and_gradient_are_clear_errors():
    r = rng("r")
    with pytest.raises(ValueError, match="random generator is fed back at tap -1 only"):
        scan(lambda a, b: (b, a), outputs_info=[dict(initial=r, taps=[-2, -1])], n_steps=2)
    srng = RandomStream(seed=0)
    W = pt.dmatrix("W")
    hs, _ = scan(lambda h, W: pt.tanh(h @ W + srng.normal(size=(2,))), outputs_info=pt.zeros(2), non_sequences=W,
                 n_steps=3)
    with pytest.raises(NotImplementedError, match="draw the values outside the scan"):
        et.grad(hs.sum(), W)
