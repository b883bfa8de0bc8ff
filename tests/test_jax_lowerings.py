"""The JAX backend's lowerings of the ops that depend on values at run time (``check``: checkify;
``unique``: probes) and of the draws ``jax.random`` has no sampler for (von Mises,
hypergeometric, batched permutations): each against the NumPy backend (same values, or the same
law for draws, with fixed seeds), and the errors against the C backend's (same types, messages).
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import eqtensor  # noqa: E402
from eqtensor import function, tensor as pt  # noqa: E402
from eqtensor.backends import jax as jax_backend  # noqa: E402
from eqtensor.core.op import OPS, Op  # noqa: E402
from eqtensor.scan import scan  # noqa: E402
from eqtensor.tensor import random as ptr  # noqa: E402


def _check(x, cond, message):
    return Op(OPS["check"], {"message": message})(x, cond)


def _equal(got, ref):
    got, ref = (got, ref) if isinstance(ref, list) else ([got], [ref])
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        a = np.asarray(a)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)


def _same_error(functions, *args):
    """Each function raises; the types and messages are the same. Returns the message."""
    errors = []
    for f in functions:
        with pytest.raises(Exception) as info:
            f(*args)
        errors.append((type(info.value), str(info.value)))
    assert len(set(errors)) == 1, errors
    return errors[0][1]


def test_nothing_is_left_unlowered():
    assert jax_backend.NOT_LOWERED == {}
    assert all(jax_backend.lowers(name) for name in OPS)


# ------------------------------------------------------------------------------ check
def test_bincount_assert_nonneg_equals_numpy_and_raises_as_c():
    x, w = pt.lvector("x"), pt.dvector("w")
    outs = [pt.bincount(x, assert_nonneg=True), pt.bincount(x, w, minlength=7, assert_nonneg=True)]
    fj, fn, fc = (function([x, w], outs, mode=m) for m in ("JAX", "NUMPY", "C"))
    xv, wv = np.array([0, 2, 2, 5]), np.array([0.5, 1.0, 2.0, -1.0])
    _equal(fj(xv, wv), fn(xv, wv))
    for bad in (np.array([1, -1, 0, 0]), np.array([-5, -3, 0, 1])):  # the second: a negative length after it
        assert _same_error([fj, fc], bad, wv) == "bincount: the input has negative values"
    _equal(fj(xv[::-1].copy(), wv), fn(xv[::-1].copy(), wv))


def test_sort_along_a_run_time_axis_checks_it_inside_the_program():
    m, a = pt.dtensor3("m"), pt.lscalar("a")
    outs = [pt.sort(m, axis=a), pt.argsort(m, axis=a)]
    fj, fc = function([m, a], outs, mode="JAX"), function([m, a], outs, mode="C")
    assert "checkify" in fj.maker.backend_source and "static arguments []" in fj.maker.backend_source
    v = np.random.default_rng(0).normal(size=(3, 4, 2))
    for axis in (0, 1, 2, -1, -3):
        _equal(fj(v, axis), fc(v, axis))
    for axis in (3, -4):
        assert "axis is out of bounds" in _same_error([fj, fc], v, axis)


def test_failed_check_in_a_scan_step_or_a_branch_leaves_shared_state_alone():
    """Checks on traced values inside a loop and in one side of an ifelse: raised when (and only
    when) they run, with their message (braces included); the shared variable is not updated and
    its buffer is not donated (it stays readable)."""
    from eqtensor.ifelse import ifelse

    xs, c = pt.dvector("xs"), pt.dscalar("c")
    total = eqtensor.shared(np.float64(1.0), name="total")
    acc = scan(lambda x_t, s: s + _check(x_t, x_t < 10.0, "step {t}: x_t >= 10"), sequences=xs,
               outputs_info=pt.constant(0.0), return_updates=False)
    chosen = ifelse(c > 0, _check(c, c < 5.0, "then: c >= 5"), -c)
    outs, updates = [acc, chosen], [(total, total + acc[-1])]
    fj = function([xs, c], outs, updates=updates, mode="JAX")
    assert fj.maker.backend_source.startswith("# jax.jit") and "donated []" in fj.maker.backend_source
    fc = function([xs, c], outs, updates=updates, mode="C")
    _equal(fj(np.arange(4.0), 3.0), fc(np.arange(4.0), 3.0))
    _equal(fj(np.arange(4.0), -7.0), fc(np.arange(4.0), -7.0))  # the check of the branch not taken: no error
    before = float(np.asarray(total.get_value()))
    assert _same_error([fj, fc], np.array([1.0, 12.0, 3.0]), 3.0) == "step {t}: x_t >= 10"
    assert _same_error([fj, fc], np.arange(4.0), 7.0) == "then: c >= 5"
    assert float(np.asarray(total.get_value())) == before == 1.0 + 4 * 6.0


def test_check_of_a_random_draw_and_in_a_probed_program():
    """A check on a draw (only known on the device) and one before an until scan: the probe raises it."""
    from eqtensor.scan.utils import until

    r = ptr.shared_rng(seed=3)
    z = ptr.normal(0.0, 1.0, size=(50,), rng=r)
    lim = pt.dscalar("lim")
    f = function([lim], _check(z, pt.all(pt.abs(z) < lim), "a draw beyond lim").sum(), mode="JAX")
    drawn = float(np.asarray(function([], z.sum(), mode="JAX")()))
    np.testing.assert_allclose(np.asarray(f(100.0)), drawn, rtol=1e-12)
    with pytest.raises(AssertionError, match="^a draw beyond lim"):
        f(1e-3)
    a = pt.dscalar("a")
    checked = _check(a, a > 0, "a must be positive")
    xs = scan(lambda x, a: (x / 2, until(x < a)), outputs_info=checked * 8, non_sequences=a, n_steps=20,
              return_updates=False)
    g, gn = function([a], xs, mode="JAX"), function([a], xs, mode="NUMPY")
    _equal(g(1.0), gn(1.0))
    assert _same_error([g, gn], -1.0) == "a must be positive"


# ------------------------------------------------------------------------------ unique
@pytest.mark.slow
def test_unique_every_output_equals_numpy():
    y, m, e = pt.dvector("y"), pt.lmatrix("m"), pt.dvector("e")
    for inputs, outs, cases in (
            ([y, e], [*pt.unique(y, return_index=True, return_inverse=True, return_counts=True), pt.unique(e),
                      pt.unique(pt.complex(y, 1.0 - e.sum()), return_counts=True)[1]],
             [np.array([3.0, 1.0, 3.0, np.nan, np.nan, -0.0, 0.0, 2.0]), np.array([1.5, 4.5, 0.0, 1.5, 4.5, 4.5,
                                                                                   3.0, 0.0]), np.full(8, 7.0)]),
            ([m], [*pt.unique(m, return_inverse=True, return_counts=True, axis=0), *pt.unique(m, return_index=True,
                                                                                               axis=1)],
             [np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 1, 1], [0, 0, 1]]), np.zeros((5, 3), "int64")])):
        fj, fn = function(inputs, outs, mode="JAX"), function(inputs, outs, mode="NUMPY")
        for v in cases:
            args = (v, np.zeros(0))[:len(inputs)]
            _equal(fj(*args), fn(*args))


def test_unique_probes_once_per_number_of_distinct_values():
    x = pt.lvector("x")
    values, counts = pt.unique(x, return_counts=True)
    f = function([x], [values, counts, pt.sum(values * counts)], mode="JAX")
    assert "static arguments []" in f.maker.backend_source  # the values stay traced
    program = f.maker.thunk.jitted
    for xv in ([4, 1, 4, 4], [9, 9, 2, 2], [0, 5, 5, 5], [2, 2, 2, 2], [3, 1, 2, 1], [7, 7, 7, 7]):
        got = [np.asarray(r) for r in f(np.array(xv))]
        want = np.unique(xv, return_counts=True)
        _equal(got, [want[0], want[1], np.asarray(np.dot(*want))])
    assert program._cache_size() == 4  # the probe, and one program per number of distinct values (2, 1, 3)


def test_unique_of_a_draw_and_where_no_probe_can_stop():
    r = ptr.shared_rng(seed=4)
    draws = ptr.integers(0, 6, size=(40,), rng=r)
    f = function([], [pt.unique(draws), draws], mode="JAX")
    values, drawn = (np.asarray(v) for v in f())
    np.testing.assert_array_equal(values, np.unique(drawn))
    xs = pt.dmatrix("xs")
    inside = scan(lambda row: pt.unique(row).sum(), sequences=xs, return_updates=False)
    with pytest.raises(jax_backend.LoweringError, match="unique of .* inside an ifelse branch or a scan's step"):
        function([xs], inside, mode="JAX")(np.ones((2, 3)))
    known = scan(lambda row: row + pt.unique(np.array([3.0, 1.0, 3.0])).sum(), sequences=xs, return_updates=False)
    _equal(function([xs], known, mode="JAX")(np.ones((2, 3))), np.full((2, 3), 5.0))


# ------------------------------------------------------------------------------ draws
def _circular_moments(a):
    return np.array([np.cos(a).mean(0), np.sin(a).mean(0), np.cos(2 * a).mean(0), np.sin(2 * a).mean(0)])


@pytest.mark.slow
def test_vonmises_and_hypergeometric_follow_numpys_laws():
    """JAX's draws against the NumPy backend's: the laws (not the numbers) are the same. Von Mises:
    a two-sample Kolmogorov-Smirnov test and the first two circular moments within 5 standard
    errors, for a peaked, a wrapped, a uniform (kappa < 1e-8) and a normal-approximation
    (kappa > 1e6) case; hypergeometric: the frequencies of each value (a chi-square test)."""
    from scipy import stats

    n = 20000
    vm = [(0.5, 2.0), (-3.0, 0.3), (1.0, 0.0), (3.0, 1e7)]
    hg = [(10, 5, 7), (np.array([3, 50, 100]), np.array([8, 40, 5]), np.array([5, 60, 90]))]
    draws = [ptr.vonmises(mu, kappa, size=(n,), rng=ptr.shared_rng(seed=k)) for k, (mu, kappa) in enumerate(vm)]
    draws += [ptr.hypergeometric(*p, size=(n, np.size(p[0])), rng=ptr.shared_rng(seed=9 + k)) for k, p in enumerate(hg)]
    draws.append(ptr.vonmises(np.array([0.0, 2.0]), np.array([[5.0], [0.5]]), rng=ptr.shared_rng(seed=20)))
    got = [np.asarray(v) for v in function([], draws, mode="JAX")()]
    ref = function([], draws, mode="NUMPY")()
    for a, b in zip(got, ref):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    for (mu, kappa), a, b in zip(vm, got, ref):
        assert np.all(np.abs(a) <= np.pi) and stats.ks_2samp(a, b).pvalue > 1e-4, (mu, kappa)
        ma, mb = _circular_moments(a), _circular_moments(b)
        se = np.sqrt((np.var([np.cos(a), np.sin(a), np.cos(2 * a), np.sin(2 * a)], axis=1)
                      + np.var([np.cos(b), np.sin(b), np.cos(2 * b), np.sin(2 * b)], axis=1)) / n)
        assert np.all(np.abs(ma - mb) < 5 * se + 1e-12), (mu, kappa, ma, mb)
    for a, b in zip(got[4:6], ref[4:6]):
        a, b = a.reshape(n, -1), b.reshape(n, -1)
        for j in range(a.shape[1]):
            support = np.union1d(a[:, j], b[:, j])
            table = np.array([[np.sum(a[:, j] == v), np.sum(b[:, j] == v)] for v in support])
            table = table[table.sum(1) >= 10]  # rare values: too few for the chi-square approximation
            assert stats.chi2_contingency(table).pvalue > 1e-4, (j, table)
    assert np.all(np.abs(got[-1]) <= np.pi) and got[-1].shape == (2, 2)


@pytest.mark.slow
def test_batched_permutations_are_uniform_permutations():
    """Each row a permutation of x (or of arange(n)), rows independent, every item equally likely
    at every position (chi-square); shapes and dtypes as NumPy's; unequal n raise as on NumPy."""
    from scipy import stats

    n = 4000
    x = pt.dvector("x")
    outs = [ptr.permutation(x, size=(n,), rng=ptr.shared_rng(seed=1)),
            ptr.permutation(5, size=(n,), rng=ptr.shared_rng(seed=2)),
            ptr.permutation(np.arange(6).reshape(3, 2), size=(n, 2), rng=ptr.shared_rng(seed=3))]
    xv = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    got = [np.asarray(v) for v in function([x], outs, mode="JAX")(xv)]
    ref = function([x], outs, mode="NUMPY")(xv)
    for a, b in zip(got, ref):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    rows = [got[0], got[1], got[2].reshape(2 * n, 3, 2)[:, :, 0] // 2]
    for items, r in zip((xv, np.arange(5), np.arange(3)), rows):
        assert np.all(np.sort(r, axis=1) == np.sort(items))
        freq = np.array([[np.sum(r[:, pos] == v) for v in items] for pos in range(len(items))])
        assert stats.chisquare(freq.ravel()).pvalue > 1e-4, freq
    assert np.all(got[2][..., 1] == got[2][..., 0] + 1)  # rows of x moved whole
    assert len({tuple(row) for row in got[1]}) == 120  # 4000 draws cover the 5! permutations
    from eqtensor.core.vectorize import vectorize_graph  # a batch of integers n: permutations of arange(n)

    n, ns = pt.lscalar("n"), pt.lvector("ns")
    batched = vectorize_graph(ptr.permutation(n, rng=ptr.shared_rng(seed=4)), {n: ns})
    fj, fn = function([ns], batched, mode="JAX"), function([ns], batched, mode="NUMPY")
    r = np.asarray(fj(np.array([6, 6, 6])))
    assert r.shape == fn(np.array([6, 6, 6])).shape == (3, 6) and np.all(np.sort(r, axis=1) == np.arange(6))
    assert "static arguments [0]" in fj.maker.backend_source  # n decides the shape
    for f in (fj, fn):
        with pytest.raises(ValueError):
            f(np.array([3, 4]))
    a = pt.lscalar("a")  # a choice's integer population decides its values' range: static as well
    pick = function([a], ptr.choice(a, size=(3,), replace=False, rng=ptr.shared_rng(seed=6)), mode="JAX")
    for population in (3, 10):
        drawn = np.asarray(pick(population))
        assert drawn.dtype == np.int64 and len(set(drawn.tolist())) == 3 and drawn.min() >= 0
        assert drawn.max() < population
