"""The scan loop in C (eqtensor/backends/c/scan_loop.py): the step's C entry called per step by
the outer function, against NumPy loops; the cases the loop's C handles itself (taps, views of
sequences, last-state-only updates, until, zero steps, several outputs, nested scans, errors)."""

import numpy as np
import pytest

import eqtensor as et
from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.backends import c as cbackend
from eqtensor.scan import scan, until

pytestmark = pytest.mark.skipif(not cbackend.compiler_works(), reason="no C compiler")


def c_loop(f) -> bool:
    """The function runs a scan loop in C (not the op's Python loop)."""
    return f.maker.backend == "c" and "eq_scan_run(state, V" in f.maker.backend_source


def test_taps_sequence_views_and_nonsequence():
    # a transposed (strided) sequence read at taps -1 and +1, a two-tap state, a matrix non-sequence
    x, f0, w = pt.dmatrix("x"), pt.dmatrix("f0"), pt.dvector("w")
    out = scan(lambda a, b, p2, p1, w: p1 * w + p2 - a * b, sequences=dict(input=x.T, taps=[-1, 1]),
               outputs_info=dict(initial=f0, taps=[-2, -1]), non_sequences=w, return_updates=False)
    f = function([x, f0, w], out, mode="C")
    assert c_loop(f)
    rng = np.random.default_rng(0)
    xv, f0v, wv = rng.normal(size=(3, 7)), rng.normal(size=(2, 3)), rng.normal(size=3)
    seq = xv.T
    hist = [f0v[0], f0v[1]]
    for t in range(1, len(seq) - 1):
        hist.append(hist[-1] * wv + hist[-2] - seq[t - 1] * seq[t + 1])
    np.testing.assert_allclose(f(xv, f0v, wv), np.array(hist[2:]), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_dtypes_and_go_backwards(dtype):
    x = pt.vector("x", dtype=dtype)
    acc = scan(lambda v, s: s * 2 + v, sequences=x, outputs_info=np.zeros((), dtype), go_backwards=True,
               return_updates=False)
    f = function([x], acc, mode="C")
    assert c_loop(f)
    v = np.arange(1, 6).astype(dtype)
    s, expect = np.zeros((), dtype), []
    for e in v[::-1]:
        s = s * 2 + e
        expect.append(s)
    got = f(v)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, np.array(expect, dtype), rtol=1e-6)


def test_shared_updates_keep_only_the_last_state_and_swap():
    # fn updates two shared variables with each other's values (the two state buffers must not alias)
    a, b = et.shared(np.array([1.0, 2.0]), name="a"), et.shared(np.array([3.0, 4.0]), name="b")
    x = pt.dvector("x")
    out, upd = scan(lambda x_t: (a.sum() + x_t, {a: b + x_t, b: a}), sequences=x)
    f = function([x], out, updates=upd, mode="C")
    assert c_loop(f)
    av, bv, expect = np.array([1.0, 2.0]), np.array([3.0, 4.0]), []
    xv = np.array([0.5, -1.0, 2.0])
    for xt in xv:
        expect.append(av.sum() + xt)
        av, bv = bv + xt, av
    np.testing.assert_allclose(f(xv), expect)
    np.testing.assert_allclose(a.get_value(), av)
    np.testing.assert_allclose(b.get_value(), bv)


def test_last_states_taken_over_or_copied():
    # a state the step makes (c: b * 2 + x_t) is taken over, not copied; one the step does not make
    # is copied into the loop's own buffer: a strided view (a rotated: a.T[::-1]), the state of
    # another output (b: a), a non-sequence (d: w) and a constant of the step (e: zeros): none of
    # them may alias a state, an input or the step's constants once the loop is done
    a = et.shared(np.arange(9.0).reshape(3, 3), name="a")
    b, c = et.shared(np.arange(9.0).reshape(3, 3) ** 2, name="b"), et.shared(np.zeros((3, 3)), name="c")
    d, e = et.shared(np.zeros(3), name="d"), et.shared(np.ones(3), name="e")
    x, w = pt.dvector("x"), pt.dvector("w")
    out, upd = scan(lambda x_t, w: (c.sum() * x_t + a[0, 1] + e.sum(),
                                    {a: a.T[::-1], b: a, c: b * 2 + x_t, d: w, e: pt.zeros(3)}),
                    sequences=x, non_sequences=w)
    f = function([x, w], out, updates=upd, mode="C")
    assert c_loop(f)
    av, bv, cv, ev, expect = a.get_value(), b.get_value(), c.get_value(), e.get_value(), []
    xv, wv = np.array([0.5, -1.0, 2.0, 3.0, 1.5]), np.array([1.0, 2.0, 3.0])
    for xt in xv:
        expect.append(cv.sum() * xt + av[0, 1] + ev.sum())
        av, bv, cv, ev = av.T[::-1].copy(), av, bv * 2 + xt, np.zeros(3)
    np.testing.assert_allclose(f(xv, wv), expect)
    for shared, value in ((a, av), (b, bv), (c, cv), (d, wv), (e, ev)):
        np.testing.assert_allclose(shared.get_value(), value)
    assert not np.shares_memory(d.get_value(borrow=True), wv)
    e.get_value(borrow=True)[:] = 7.0  # the step's constant zeros stay zeros
    f(xv[:1], wv)
    np.testing.assert_array_equal(e.get_value(), np.zeros(3))


def test_until_several_outputs_and_outputs_not_read():
    n = pt.lscalar("n")
    (v, sq, unused), _ = scan(lambda p: ([p * 2, (p * 2) ** 2, p - 1], until(p * 2 > 40)),
                              outputs_info=[np.float64(1.0), None, None], n_steps=n)
    f = function([n], [v, sq], mode="C")
    assert c_loop(f)
    got_v, got_sq = f(100)
    np.testing.assert_allclose(got_v, [2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
    np.testing.assert_allclose(got_sq, np.array([2.0, 4.0, 8.0, 16.0, 32.0, 64.0]) ** 2)
    np.testing.assert_allclose(f(3)[0], [2.0, 4.0, 8.0])


def test_zero_steps_and_n_steps_errors():
    x, k = pt.dmatrix("x"), pt.lscalar("k")
    ys = scan(lambda r: r * 2, sequences=x, n_steps=k, return_updates=False)
    f = function([x, k], ys, mode="C")
    assert c_loop(f)
    np.testing.assert_allclose(f(np.ones((4, 3)), 2), 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="fewer than n_steps"):
        f(np.ones((2, 3)), 3)
    with pytest.raises(ValueError, match="n_steps must be non-negative"):
        f(np.ones((2, 3)), -1)
    with pytest.raises(ValueError, match="zero steps and output 0 has no static shape"):
        f(np.ones((4, 3)), 0)
    zs = pt.tensor("zs", shape=(None, 3), dtype="float64")
    g = function([zs], scan(lambda r: r * 2, sequences=zs, return_updates=False), mode="C")
    assert c_loop(g) and g(np.zeros((0, 3))).shape == (0, 3)


def test_step_shape_change_is_a_clear_error():
    x = pt.dvector("x")
    grow = scan(lambda p: pt.concatenate([p, p[:1]]), outputs_info=x, n_steps=3, return_updates=False)
    f = function([x], grow, mode="C")
    assert c_loop(f)
    with pytest.raises(ValueError, match=r"scan: output 0 has shape \(3,\) at step 0, \(2,\) its initial state"):
        f(np.ones(2))


def test_errors_inside_the_step_propagate():
    x, A = pt.dmatrix("x"), pt.dmatrix("A")
    ys = scan(lambda r, A: A @ r, sequences=x, non_sequences=A, return_updates=False)
    f = function([x, A], ys, mode="C")
    assert c_loop(f)
    with pytest.raises(ValueError):
        f(np.ones((3, 4)), np.ones((2, 3)))
    np.testing.assert_allclose(f(np.ones((3, 4)), np.ones((2, 4))), 4 * np.ones((3, 2)))


def test_nested_scan_runs_both_loops_in_c():
    x = pt.dmatrix("x")

    def row_cumsum(r):
        return scan(lambda v, s: s + v, sequences=r, outputs_info=np.float64(0.0), return_updates=False)

    out = scan(row_cumsum, sequences=x, return_updates=False)
    f = function([x], out, mode="C")
    assert c_loop(f)
    inner = next(n for n in f.maker.fgraph.toposort() if n.op.name == "scan").op.params["inner"]
    assert c_loop(inner.function)
    v = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(f(v), np.cumsum(v, axis=1))


def test_loop_results_equal_numpy_mode_and_gradient():
    rng = np.random.default_rng(1)
    x, h0, W = pt.tensor3("x"), pt.dmatrix("h0"), pt.dmatrix("W")
    hs = scan(lambda x_t, h, W: pt.tanh(x_t + h @ W), sequences=x, outputs_info=h0, non_sequences=W,
              return_updates=False)
    g = et.grad((hs ** 2).sum(), [W, h0])
    args = rng.normal(size=(6, 3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(4, 4)) * 0.5
    fc, fn = function([x, h0, W], [hs, *g], mode="C"), function([x, h0, W], [hs, *g], mode="NUMPY")
    assert c_loop(fc)
    for a, b in zip(fc(*args), fn(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


# ----------------------------------------------------------------------------- scalar steps
def scalar_steps(f) -> list[bool]:
    """Per scan of ``f`` (one node per output, one step each): its step has a scalar entry (every
    value 0-d: run on data pointers)."""
    steps = {id(n.op.params["inner"]): n.op.params["inner"] for n in f.maker.fgraph.toposort() if n.op.name == "scan"}
    return ["eq_c_entries = {eq_c_entry, eq_c_scalar}" in inner.function.maker.backend_source
            for inner in steps.values()]


def kalman_loglik(y, lq, lr):
    """Local-level Kalman filter log-likelihood (scalar mean and variance carried by scan)."""
    def step(yt, m, P, q, r):
        Pp = P + q
        S = Pp + r
        v = yt - m
        K = Pp / S
        return m + K * v, Pp * (1 - K), -0.5 * (np.log(2 * np.pi) + pt.log(S) + v * v / S)

    _, _, lls = scan(step, sequences=y, outputs_info=[np.float64(0.0), np.float64(1.0), None],
                     non_sequences=[pt.exp(lq), pt.exp(lr)], return_updates=False)
    return lls.sum()


def kalman_numpy(y, lq, lr):
    q, r, m, P, ll = np.exp(lq), np.exp(lr), 0.0, 1.0, 0.0
    for yt in y:
        Pp = P + q
        S = Pp + r
        v = yt - m
        K = Pp / S
        ll += -0.5 * (np.log(2 * np.pi) + np.log(S) + v * v / S)
        m, P = m + K * v, Pp * (1 - K)
    return ll


def test_scalar_step_kalman_value_and_gradient_against_numpy_and_finite_differences():
    y, lq, lr = pt.dvector("y"), pt.dscalar("lq"), pt.dscalar("lr")
    ll = kalman_loglik(y, lq, lr)
    f = function([y, lq, lr], [ll, *et.grad(ll, [lq, lr])], mode="C")
    assert c_loop(f) and all(scalar_steps(f)) and len(scalar_steps(f)) == 2  # forward and backward
    rng = np.random.default_rng(3)
    yv = np.cumsum(rng.normal(size=200) * 0.3) + rng.normal(size=200) * 0.8
    val, gq, gr = f(yv, np.array(-2.0), np.array(-0.5))
    np.testing.assert_allclose(val, kalman_numpy(yv, -2.0, -0.5), rtol=1e-12)
    h = 1e-6
    for got, (dq, dr) in ((gq, (h, 0.0)), (gr, (0.0, h))):
        fd = (kalman_numpy(yv, -2.0 + dq, -0.5 + dr) - kalman_numpy(yv, -2.0 - dq, -0.5 - dr)) / (2 * h)
        np.testing.assert_allclose(got, fd, rtol=1e-6)
    fn = function([y, lq, lr], [ll, *et.grad(ll, [lq, lr])], mode="NUMPY")
    for a, b in zip(f(yv, np.array(0.3), np.array(-1.0)), fn(yv, np.array(0.3), np.array(-1.0))):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_scalar_step_taps_until_identity_duplicate_and_constant_outputs():
    # a two-tap state (AR(2)), a sequence read at two taps, an output that is the step's input, one
    # listed twice, a constant one, an int64 counter and a boolean state; until stops the loop
    x, a1, a2 = pt.dvector("x"), pt.dscalar("a1"), pt.dscalar("a2")

    def step(x0, x1, s2, s1, c, flag, a1, a2):
        s = a1 * s1 + a2 * s2 + x0 * x1
        return [s, x1, s, pt.constant(np.float64(4.0)), c + 1, pt.gt(s, flag)], until(pt.gt(abs(s), 5.0))

    out = scan(step, sequences=dict(input=x, taps=[0, 1]), non_sequences=[a1, a2],
               outputs_info=[dict(initial=pt.as_tensor(np.array([0.5, -0.25])), taps=[-2, -1]), None, None,
                             None, np.int64(0), np.bool_(False)], return_updates=False)
    f = function([x, a1, a2], out, mode="C")
    assert c_loop(f) and scalar_steps(f) == [True]
    xv = np.linspace(-1.0, 2.0, 30)
    s2, s1, c, flag, rows = 0.5, -0.25, 0, False, []
    for t in range(len(xv) - 1):
        s = 0.9 * s1 - 0.2 * s2 + xv[t] * xv[t + 1]
        c, flag = c + 1, s > flag
        rows.append((s, xv[t + 1], s, 4.0, c, flag))
        s2, s1 = s1, s
        if abs(s) > 5.0:
            break
    got = f(xv, np.array(0.9), np.array(-0.2))
    expect = [np.array(col) for col in zip(*rows)]
    assert got[4].dtype == np.int64 and got[5].dtype == np.bool_ and len(got[0]) == 24 < len(xv) - 1
    for g, e in zip(got, expect):
        np.testing.assert_allclose(g, e, rtol=1e-13)
    fn = function([x, a1, a2], out, mode="NUMPY")
    for g, e in zip(got, fn(xv, np.array(0.9), np.array(-0.2))):
        np.testing.assert_array_equal(g, e)


def test_scalar_step_states_do_not_share_memory_with_inputs():
    # the step returns its non-sequence and its state unchanged: the results are the loop's own memory
    s0, w, x = pt.dscalar("s0"), pt.dscalar("w"), pt.dvector("x")
    (keep, same, acc), _ = scan(lambda xt, s, a, w: [s, w, a + xt], sequences=x, non_sequences=w,
                                outputs_info=[s0, None, np.float64(0.0)])
    last = acc[-1]
    f = function([x, s0, w], [keep, same, acc, last], mode="C")
    assert c_loop(f) and scalar_steps(f) == [True]
    xv, s0v, wv = np.arange(4.0), np.array(1.5), np.array(-2.0)
    got = f(xv, s0v, wv)
    np.testing.assert_array_equal(got[0], np.full(4, 1.5))
    np.testing.assert_array_equal(got[1], np.full(4, -2.0))
    np.testing.assert_array_equal(got[2], np.cumsum(xv))
    for g in got:
        for i in (xv, s0v, wv):
            assert not np.shares_memory(g, i)
    got[0][:] = 9.0
    got[1][:] = 9.0
    assert s0v == 1.5 and wv == -2.0 and f(xv, s0v, wv)[0][0] == 1.5


def test_scalar_step_of_many_units_and_a_last_only_state():
    # a step of more than codegen.TABLE_FROM units (its units are rows of a program) and a shared
    # variable updated per step (a state whose history is not kept, in two buffers used in turn)
    total = et.shared(np.float64(0.0), name="total")
    x = pt.dvector("x")

    def step(xt, s):
        outs = [pt.sin(s * k + xt) for k in range(20)]
        return outs + [s + sum(outs) * 0.01], {total: total + xt}

    res, upd = scan(step, sequences=x, outputs_info=[None] * 20 + [np.float64(0.1)])
    f = function([x], res, updates=upd, mode="C")
    assert c_loop(f) and scalar_steps(f) == [True]
    inner = next(n for n in f.maker.fgraph.toposort() if n.op.name == "scan").op.params["inner"]
    assert "eq_units(state, V, eq_prog" in inner.function.maker.backend_source
    xv = np.linspace(0.0, 1.0, 7)
    fn = function([x], res, mode="NUMPY")
    for a, b in zip(f(xv), fn(xv)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    np.testing.assert_allclose(total.get_value(), xv.sum())


def test_the_scalar_entry_is_left_out_of_functions_fusing_many_nodes():
    """A few units fusing hundreds of nodes (a sum of many scalar inputs) get no scalar entry: its C
    would repeat their bodies in the module (3 000 inputs: 4.5 s of compiler time)."""
    from eqtensor.backends.c.scalar_step import SCALAR_MAX_NODES
    for n, expected in ((8, True), (SCALAR_MAX_NODES + 50, False)):
        xs = [pt.dscalar(f"x{k}") for k in range(n)]
        total = xs[0]
        for k, x in enumerate(xs[1:]):
            total = total + x * float(k + 1)
        f = function(xs, total, mode="C")
        assert ("eq_c_entries = {eq_c_entry, eq_c_scalar}" in f.maker.backend_source) is expected, n
        vals = np.arange(n, dtype="float64") / n
        assert np.isclose(f(*vals), vals[0] + sum(v * (k + 1) for k, v in enumerate(vals[1:])))
