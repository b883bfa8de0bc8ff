"""Random numbers inside scan: a generator threaded through outputs_info, a shared generator
updated by fn, a RandomStream drawn inside fn (its default updates become the scan's updates);
draws against NumPy loops over the same Generator, new draws at every step and every call; gradients
through the draws (stored by the forward loop, constants of the backward pass) by finite differences."""

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.scan import scan, until
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


def test_generator_taps_are_a_clear_error():
    r = rng("r")
    with pytest.raises(ValueError, match="random generator is fed back at tap -1 only"):
        scan(lambda a, b: (b, a), outputs_info=[dict(initial=r, taps=[-2, -1])], n_steps=2)


# gradients: the draws are constants of the backward pass, stored by the forward loop (the same
# generator states give the same draws), so the gradient is the finite difference of the cost at a
# fixed generator value


def numeric_grad(cost, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        out[i] = (cost(plus) - cost(minus)) / (2 * eps)
    return out


W_VALUE = np.random.default_rng(0).normal(size=(3, 3)) * 0.5
H0_VALUE = np.array([0.1, -0.2, 0.3])


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_gradient_through_the_draws_of_a_generator_threaded_through_outputs_info(mode):
    r, W, h0 = rng("r"), pt.dmatrix("W"), pt.dvector("h0")

    def step(h, gen, W):
        nxt, e = normal(0.0, 1.0, size=(3,), rng=gen, return_next_rng=True)
        return pt.tanh(h @ W + e) * e, nxt

    (hs, _), _ = scan(step, outputs_info=[h0, r], non_sequences=W, n_steps=5)
    cost = (hs ** 2).sum()
    f = et.function([W, h0, r], cost, mode=mode)
    g = et.function([W, h0, r], et.grad(cost, [W, h0]), mode=mode)
    gen, h, expected = np.random.default_rng(5), H0_VALUE, 0.0
    for _ in range(5):  # the cost in NumPy, same draws
        e = gen.normal(0.0, 1.0, size=3)
        h = np.tanh(h @ W_VALUE + e) * e
        expected += (h ** 2).sum()
    np.testing.assert_allclose(f(W_VALUE, H0_VALUE, np.random.default_rng(5)), expected, rtol=1e-13)
    gW, gh0 = g(W_VALUE, H0_VALUE, np.random.default_rng(5))
    np.testing.assert_allclose(gW, numeric_grad(lambda w: f(w, H0_VALUE, np.random.default_rng(5)), W_VALUE),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gh0, numeric_grad(lambda v: f(W_VALUE, v, np.random.default_rng(5)), H0_VALUE),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_gradient_with_a_random_stream_inside_fn_follows_the_stream_across_calls(mode):
    srng = RandomStream(seed=11)
    W, h0 = pt.dmatrix("W"), pt.dvector("h0")
    hs, updates = scan(lambda h, W: pt.tanh(h @ W + srng.normal(0.0, 1.0, size=(3,))), outputs_info=h0,
                       non_sequences=W, n_steps=4)
    cost = (hs ** 2).sum()
    (gen,) = updates
    grad = et.function([W, h0], et.grad(cost, W), updates=updates, mode=mode)  # advances the stream
    f = et.function([W, h0], cost, mode=mode)  # no update: the draws of the stream's current state
    seen = []
    for _ in range(2):
        before = gen.get_value()
        expected = numeric_grad(lambda w: f(w, H0_VALUE), W_VALUE)
        assert gen.get_value().bit_generator.state == before.bit_generator.state
        got = grad(W_VALUE, H0_VALUE)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
        assert gen.get_value().bit_generator.state != before.bit_generator.state
        seen.append(got)
    assert not np.allclose(seen[0], seen[1])  # new draws at the second call


def test_gradient_with_taps_a_sequence_until_and_a_shared_generator_updated_by_fn():
    s = shared_rng(seed=3)
    x, init, w = pt.dvector("x"), pt.dvector("init"), pt.dscalar("w")

    def step(x_t, h2, h1, w, gen):
        nxt, u = uniform(-1.0, 1.0, rng=gen, return_next_rng=True)
        h = pt.sin(w * h2 + u * h1) + x_t * u
        return h, {gen: nxt}, until(h > 0.5)

    hs, updates = scan(step, sequences=x, outputs_info=dict(initial=init, taps=[-2, -1]), non_sequences=[w, s])
    cost = (hs ** 2).sum() + hs[-1]
    f = et.function([x, init, w], cost, mode="C")
    grads = et.function([x, init, w], et.grad(cost, [x, init, w]), mode="C")
    values = [np.array([0.3, -0.7, 1.1, 0.2, -0.4]), np.array([0.5, -0.25]), np.array(0.8)]
    assert et.function([x, init, w], hs, mode="C")(*values).shape == (3,)  # stopped by until after 3 of 5 steps
    got = grads(*values)
    for i, g in enumerate(got):
        def cost_at(v, i=i):
            args = list(values)
            args[i] = v
            return f(*args)
        np.testing.assert_allclose(g, numeric_grad(cost_at, np.asarray(values[i], dtype=float)), rtol=1e-6,
                                   atol=1e-8, err_msg=f"gradient {i}")


def test_draws_depending_on_the_state_are_constants_as_in_the_unrolled_loop():
    # a draw is not differentiated in its parameters (random is not differentiable): the scan's
    # gradient is the gradient of the same loop unrolled
    r, W, h0 = rng("r"), pt.dmatrix("W"), pt.dvector("h0")

    def step(h, gen, W):
        nxt, e = normal(h * 0.5, 1.0, rng=gen, return_next_rng=True)
        return pt.tanh(h @ W + e), nxt

    (hs, _), _ = scan(step, outputs_info=[h0, r], non_sequences=W, n_steps=4)
    h, gen, unrolled = h0, r, 0.0
    for _ in range(4):
        h, gen = step(h, gen, W)
        unrolled = unrolled + (h ** 2).sum()
    g_scan = et.function([W, h0, r], et.grad((hs ** 2).sum(), [W, h0]), mode="C")
    g_unrolled = et.function([W, h0, r], et.grad(unrolled, [W, h0]), mode="NUMPY")
    for a, b in zip(g_scan(W_VALUE, H0_VALUE, np.random.default_rng(9)),
                    g_unrolled(W_VALUE, H0_VALUE, np.random.default_rng(9))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
