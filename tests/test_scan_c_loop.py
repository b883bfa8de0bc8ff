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
