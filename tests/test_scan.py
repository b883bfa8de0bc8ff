"""eqtensor.scan: PyTensor's interface (taps, updates, until, views), values against NumPy loops,
under every mode; the loop runs once for several outputs."""

from collections import OrderedDict

import numpy as np
import pytest

import eqtensor as et
from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.core.traversal import toposort
from eqtensor.scan import foldl, foldr, map as scan_map, reduce as scan_reduce, scan, until

MODES = ["FAST_COMPILE", "NUMPY", None]  # None: the default (FAST_RUN: e-graph + C)


@pytest.mark.parametrize("mode", MODES)
def test_cumulative_sum(mode):
    x = pt.dvector("x")
    acc, updates = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info=np.float64(0.0))
    assert updates == {} and acc.type.ndim == 1
    v = np.array([1.0, -2.0, 3.5, 4.0])
    f = function([x], acc, mode=mode)
    np.testing.assert_allclose(f(v), np.cumsum(v))
    assert "scan" in {n.op.name for n in toposort(f.maker.fgraph.outputs)}


@pytest.mark.parametrize("mode", MODES)
def test_tanh_recurrence(mode):
    W, u, x0 = pt.dmatrix("W"), pt.dmatrix("u"), pt.dvector("x0")
    xs, _ = scan(lambda u_t, x_prev, W: pt.tanh(pt.dot(W, x_prev) + u_t), sequences=u, outputs_info=x0,
                 non_sequences=W)
    rng = np.random.default_rng(0)
    Wv, uv, x0v = rng.normal(size=(3, 3)), rng.normal(size=(6, 3)), rng.normal(size=3)
    expected, x = [], x0v
    for t in range(6):
        x = np.tanh(Wv @ x + uv[t])
        expected.append(x)
    np.testing.assert_allclose(function([W, u, x0], xs, mode=mode)(Wv, uv, x0v), np.array(expected), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_n_steps_without_sequences_matrix_powers(mode):
    A, k = pt.dmatrix("A"), pt.lscalar("k")
    powers, _ = scan(lambda prev, A: pt.dot(prev, A), outputs_info=pt.eye(3), non_sequences=A, n_steps=k)
    Av = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.5, 0.0, 1.0]])
    res = function([A, k], powers, mode=mode)(Av, 4)
    assert res.shape == (4, 3, 3)
    for j in range(4):
        np.testing.assert_allclose(res[j], np.linalg.matrix_power(Av, j + 1))


def test_static_n_steps():
    A = pt.matrix("A", shape=(2, 2))
    powers, _ = scan(lambda prev: prev @ A, outputs_info=A, n_steps=5)
    assert powers.type.shape == (5, 2, 2)
    x = pt.matrix("x", shape=(7, 3))
    ys, _ = scan(lambda r: r.sum(), sequences=x)
    assert ys.type.shape == (7,)
    zs, _ = scan(lambda a, b: a + b, sequences=dict(input=x, taps=[-2, 0]))
    assert zs.type.shape == (5, 3)


@pytest.mark.parametrize("mode", MODES)
def test_non_sequences_free_variable_and_shared(mode):
    x, c = pt.dvector("x"), pt.dscalar("c")
    s = et.shared(np.float64(10.0), name="s")
    d = pt.dscalar("d")  # c is a non-sequence; s (shared) and d (an outer input) are free variables of fn
    ys, _ = scan(lambda x_t, prev, c: prev * c + x_t + d + s, sequences=x, outputs_info=np.float64(1.0),
                 non_sequences=c)
    f = function([x, c, d], ys, mode=mode)
    v = np.array([1.0, 2.0, 3.0])
    for sv in (10.0, 0.0):
        s.set_value(np.float64(sv))
        expected, h = [], 1.0
        for x_t in v:
            h = h * 0.5 + x_t + 2.0 + sv
            expected.append(h)
        np.testing.assert_allclose(f(v, 0.5, 2.0), expected)


@pytest.mark.parametrize("mode", MODES)
def test_go_backwards_and_several_outputs(mode):
    x = pt.dvector("x")
    (acc, sq), _ = scan(lambda x_t, prev: [prev + x_t, x_t ** 2], sequences=x,
                        outputs_info=[np.float64(0.0), None], go_backwards=True)
    v = np.array([1.0, 2.0, 4.0])
    a, b = function([x], [acc, sq], mode=mode)(v)
    np.testing.assert_allclose(a, np.cumsum(v[::-1]))
    np.testing.assert_allclose(b, v[::-1] ** 2)


@pytest.mark.parametrize("mode", MODES)
def test_shortest_sequence_and_n_steps_bounds(mode):
    x, y = pt.dvector("x"), pt.dvector("y")
    z, _ = scan(lambda a, b: a * b, sequences=[x, y])
    np.testing.assert_allclose(function([x, y], z, mode=mode)([1.0, 2.0, 3.0], [4.0, 5.0]), [4.0, 10.0])
    k = pt.lscalar("k")
    w, _ = scan(lambda a: a + 1, sequences=x, n_steps=k, return_list=True)
    f = function([x, k], w, mode=mode)
    np.testing.assert_allclose(f([1.0, 2.0, 3.0], 2)[0], [2.0, 3.0])
    with pytest.raises(ValueError, match="fewer than n_steps"):
        f([1.0, 2.0, 3.0], 5)


def _fib_numpy(init, n, taps_coef):
    vals = list(init)
    for _ in range(n):
        vals.append(sum(c * vals[t] for t, c in taps_coef))
    return np.array(vals[len(init):])


@pytest.mark.parametrize("mode", MODES)
def test_fibonacci_two_taps(mode):
    f0 = pt.dvector("f0")
    fib, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=f0, taps=[-2, -1]), n_steps=10)
    out = function([f0], fib, mode=mode)(np.array([0.0, 1.0]))
    np.testing.assert_allclose(out, _fib_numpy([0.0, 1.0], 10, [(-2, 1), (-1, 1)]))


def test_output_taps_any_order_and_gaps():
    # taps [-1, -3]: fn gets x[t-1] then x[t-3]; the initial value holds 3 values, oldest first
    init = pt.dvector("init")
    ys, _ = scan(lambda a, c: 2 * a - c, outputs_info=dict(initial=init, taps=[-1, -3]), n_steps=6)
    out = ys.eval({init: np.array([1.0, 4.0, 2.0])})
    np.testing.assert_allclose(out, _fib_numpy([1.0, 4.0, 2.0], 6, [(-1, 2), (-3, -1)]))
    # a longer initial value: only its first -min(taps) rows are used (as PyTensor)
    out = ys.eval({init: np.array([1.0, 4.0, 2.0, 99.0])})
    np.testing.assert_allclose(out, _fib_numpy([1.0, 4.0, 2.0], 6, [(-1, 2), (-3, -1)]))


@pytest.mark.parametrize("mode", MODES)
def test_sequence_taps(mode):
    x = pt.dvector("x")
    y, _ = scan(lambda a, b, c: a + 10 * b + 100 * c, sequences=dict(input=x, taps=[-1, 0, 2]))
    v = np.arange(8.0)
    expected = [v[t - 1] + 10 * v[t] + 100 * v[t + 2] for t in range(1, 6)]
    np.testing.assert_allclose(function([x], y, mode=mode)(v), expected)
    # only future or only past taps: the sequence is cut as if tap 0 were used too
    z, _ = scan(lambda a: a, sequences=dict(input=x, taps=[2]))
    np.testing.assert_allclose(z.eval({x: v}), v[2:])
    w, _ = scan(lambda a: a, sequences=dict(input=x, taps=[-3]))
    np.testing.assert_allclose(w.eval({x: v}), v[:5])


def test_sequence_taps_go_backwards():
    x = pt.dvector("x")
    y, _ = scan(lambda a, b: a - b, sequences=dict(input=x, taps=[0, 1]), go_backwards=True)
    v = np.array([1.0, 3.0, 7.0, 15.0])
    np.testing.assert_allclose(y.eval({x: v}), (v[:-1] - v[1:])[::-1])


def test_go_backwards_with_n_steps_takes_the_last_elements():
    x = pt.dvector("x")
    y, _ = scan(lambda a: a * 1.0, sequences=x, n_steps=2, go_backwards=True)
    np.testing.assert_allclose(y.eval({x: np.array([1.0, 2.0, 3.0])}), [3.0, 2.0])


def test_zero_steps():
    x0 = pt.dvector("x0")
    ys, _ = scan(lambda h: h * 2, outputs_info=x0, n_steps=0)
    assert ys.eval({x0: np.ones(3)}).shape == (0, 3)


def test_dict_outputs_info_and_none_entries():
    x = pt.dvector("x")
    acc, _ = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info={"initial": np.float64(1.0), "taps": [-1]})
    np.testing.assert_allclose(acc.eval({x: np.array([1.0, 2.0])}), [2.0, 4.0])
    acc2, _ = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info={"initial": np.float64(1.0)})
    np.testing.assert_allclose(acc2.eval({x: np.array([1.0, 2.0])}), [2.0, 4.0])
    (sq, tot), _ = scan(lambda x_t, prev: (x_t ** 2, prev + x_t), sequences=x,
                        outputs_info=[{}, np.float64(0.0)])
    np.testing.assert_allclose(sq.eval({x: np.array([1.0, 2.0])}), [1.0, 4.0])
    np.testing.assert_allclose(tot.eval({x: np.array([1.0, 2.0])}), [1.0, 3.0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("form", ["dict", "ordered", "pairs", "updates_only"])
def test_shared_updates_from_fn(mode, form):
    x = pt.dvector("x")
    s = et.shared(np.float64(1.0), name="s")
    n = et.shared(np.int64(0), name="n")

    def step(x_t):
        ups = [(s, s * 2 + x_t), (n, n + 1)]
        ups = {"dict": dict(ups), "ordered": OrderedDict(ups), "pairs": ups, "updates_only": dict(ups)}[form]
        return ups if form == "updates_only" else (s * 10 + x_t, ups)

    out, upd = scan(step, sequences=x)
    assert set(upd) == {s, n}
    f = function([x], out, updates=upd, mode=mode) if out is not None else function([x], [], updates=upd, mode=mode)
    v = np.array([1.0, 2.0, 3.0])
    res = f(v)
    sv, expected = 1.0, []
    for x_t in v:
        expected.append(sv * 10 + x_t)
        sv = sv * 2 + x_t
    if form != "updates_only":
        np.testing.assert_allclose(res, expected)
    assert float(s.get_value()) == sv and int(n.get_value()) == 3
    f(v)  # the next call starts from the updated values
    assert int(n.get_value()) == 6


def test_updates_and_return_updates_false():
    s = et.shared(np.float64(0.0), name="s")
    x = pt.dvector("x")
    with pytest.raises(ValueError, match="return_updates=False"):
        scan(lambda x_t: (x_t, {s: s + x_t}), sequences=x, return_updates=False)
    y = scan(lambda x_t: x_t * 3, sequences=x, return_updates=False)
    assert isinstance(y, et.tensor.Variable)
    assert scan(lambda x_t: x_t * 3, sequences=x, return_updates=False, return_list=True)[0].ndim == 1


@pytest.mark.parametrize("mode", MODES)
def test_until(mode):
    c = pt.dscalar("c")
    v = scan(lambda prev, c: (prev * c, until(prev * c > 40)), outputs_info=np.float64(1.0), non_sequences=c,
             n_steps=100, return_updates=False)
    f = function([c], v, mode=mode)
    np.testing.assert_allclose(f(3.0), [3.0, 9.0, 27.0, 81.0])
    np.testing.assert_allclose(f(1.5), 1.5 ** np.arange(1, 11))  # 1.5**10 = 57.7 > 40 stops at step 10
    assert f(1.0).shape == (100,)  # never true: n_steps bounds the loop


def test_until_with_sequences_updates_and_several_outputs():
    x = pt.dvector("x")
    s = et.shared(np.float64(0.0), name="s")

    def step(x_t, tot):
        return [tot + x_t, x_t * 2], {s: s + 1}, until(tot + x_t >= 6)

    (tot, dbl), upd = scan(step, sequences=x, outputs_info=[np.float64(0.0), None])
    f = function([x], [tot, dbl], updates=upd)
    a, b = f(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_allclose(a, [1.0, 3.0, 6.0])
    np.testing.assert_allclose(b, [2.0, 4.0, 6.0])
    assert float(s.get_value()) == 3.0


def test_strict():
    w = et.shared(np.eye(2), name="w")
    x0 = pt.dvector("x0")
    with pytest.raises(et.MissingInputError, match="strict"):
        scan(lambda x: pt.dot(x, w), outputs_info=x0, n_steps=3, strict=True)
    ys, _ = scan(lambda x, w: pt.dot(x, w), outputs_info=x0, non_sequences=w, n_steps=3, strict=True)
    np.testing.assert_allclose(ys.eval({x0: np.array([1.0, 2.0])}), [[1.0, 2.0]] * 3)


def test_views():
    x = pt.dvector("x")
    v = np.array([1.0, 2.0, 3.0, 4.0])
    sq, upd = scan_map(lambda a: a ** 2, x)
    assert upd == {}
    np.testing.assert_allclose(sq.eval({x: v}), v ** 2)
    tot, _ = scan_reduce(lambda a, acc: acc + a, x, np.float64(0.0))
    assert tot.ndim == 0 and float(tot.eval({x: v})) == 10.0
    digits = foldl(lambda a, acc: acc * 10 + a, x, np.float64(0.0), return_updates=False)
    assert float(digits.eval({x: v})) == 1234.0
    digits_r = foldr(lambda a, acc: acc * 10 + a, x, np.float64(0.0), return_updates=False)
    assert float(digits_r.eval({x: v})) == 4321.0
    both = scan_reduce(lambda a, s1, s2: [s1 + a, s2 * a], x, [np.float64(0.0), np.float64(1.0)],
                       return_updates=False)
    assert [float(b.eval({x: v})) for b in both] == [10.0, 24.0]
    from eqtensor.scan.views import filter as scan_filter

    np.testing.assert_allclose(scan_filter(lambda a: a > 2, x).eval({x: v}), [3.0, 4.0])
    y = pt.dvector("y")
    kept = scan_filter(lambda a, b: [a > 1, b < 0], [x, y])
    np.testing.assert_allclose(function([x, y], kept)(v, np.array([-1.0, 1.0, -2.0, 3.0]))[1], [-1.0, -2.0])


def test_until_utils_path():
    from eqtensor.scan.utils import until as until2

    assert until2 is until
    assert until(pt.dscalar("a")).condition.dtype == "bool"
    with pytest.raises(TypeError, match="scalar"):
        until(pt.dvector("a") > 0)


def test_recurrent_type_mismatch_names_the_output():
    x = pt.dvector("x")
    with pytest.raises(TypeError, match=r"recurrent output 0 .*float64.*initial value .*int64"):
        scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info=np.int64(0))
    with pytest.raises(TypeError, match="number of dimensions"):
        scan(lambda x_t, prev: prev.sum() + x_t, sequences=x, outputs_info=pt.dvector("h"))


def test_errors():
    with pytest.raises(ValueError, match="number of steps is unknown"):
        scan(lambda h: h * 2, outputs_info=pt.dscalar("h"))
    with pytest.raises(ValueError, match="non-negative"):
        scan(lambda h: h * 2, outputs_info=pt.dscalar("h"), n_steps=-1)
    with pytest.raises(ValueError, match="must be negative"):
        scan(lambda a: a, outputs_info={"initial": pt.dvector("h"), "taps": [1]}, n_steps=3)
    with pytest.raises(ValueError, match="no initial value"):
        scan(lambda a: a, outputs_info={"taps": [-1]}, n_steps=3)
    with pytest.raises(ValueError, match="leading dimension"):
        scan(lambda a, b: a + b, outputs_info={"initial": pt.dscalar("h"), "taps": [-2, -1]}, n_steps=3)
    with pytest.raises(ValueError, match="outputs_info has 2 entries"):
        scan(lambda x_t, a: x_t * 2, sequences=pt.dvector("x"), outputs_info=[np.float64(0.0), None])
    with pytest.raises(ValueError, match="n_steps must be an integer"):
        scan(lambda h: h * 2, outputs_info=pt.dscalar("h"), n_steps=pt.dscalar("k"))
    with pytest.raises(ValueError, match="truncate_gradient"):
        scan(lambda x_t: x_t, sequences=pt.dvector("x"), truncate_gradient=0)


def test_initial_buffer_too_short_is_a_clear_error():
    init = pt.dvector("init")
    ys, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=init, taps=[-3, -1]), n_steps=2)
    with pytest.raises(ValueError, match=r"initial .* 2 rows, its taps \[-3, -1\] need 3"):
        ys.eval({init: np.zeros(2)})


def test_default_mode_keeps_scan_in_the_egraph_and_optimizes_inside_and_around_it():
    x = pt.dvector("x")
    acc, _ = scan(lambda x_t, prev: prev + pt.log(pt.exp(x_t)), sequences=x, outputs_info=np.float64(0.0))
    f = function([x], pt.log(pt.exp(acc)))
    assert f.optimization_report() is not None and not f.optimization_report().fallback
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [1.0, 3.0])
    [node] = [n for n in toposort(f.maker.fgraph.outputs) if n.op.name == "scan"]
    step = node.op.params["inner"].function
    inner_ops = {n.op.name for n in toposort(step.maker.fgraph.outputs)}
    assert not inner_ops & {"exp", "log"}, inner_ops


def test_zero_steps_with_unknown_step_shape_is_a_clear_error():
    x = pt.dmatrix("x")
    ys, _ = scan(lambda r: r * 2, sequences=x)
    with pytest.raises(ValueError, match="zero steps"):
        ys.eval({x: np.zeros((0, 3))})
    xs = pt.matrix("xs", shape=(None, 3))
    zs, _ = scan(lambda r: r * 2, sequences=xs)
    assert zs.eval({xs: np.zeros((0, 3))}).shape == (0, 3)


@pytest.mark.parametrize("mode", MODES)
def test_several_outputs_run_the_loop_once(mode, capsys):
    # each step prints once (an effect op in the step: every backend runs it, the C loop included)
    from eqtensor.printing import Print

    x = pt.dvector("x")
    (a, b, c), _ = scan(lambda x_t, p, q: [p + Print("step")(x_t), q * x_t, x_t - 1], sequences=x,
                        outputs_info=[np.float64(0.0), np.float64(1.0), None])
    f = function([x], [a, b, c * 2], mode=mode)
    v = np.array([1.0, 2.0, 3.0])
    capsys.readouterr()
    for _ in range(3):
        r = f(v)
        assert capsys.readouterr().out.count("step") == len(v)
        np.testing.assert_allclose(r[0], np.cumsum(v))
        np.testing.assert_allclose(r[1], np.cumprod(v))
        np.testing.assert_allclose(r[2], (v - 1) * 2)
        v = v + 1.0
    g = function([x], b, mode=mode)  # one output used: no value is kept for the others
    capsys.readouterr()
    np.testing.assert_allclose(g(v), np.cumprod(v))
    assert capsys.readouterr().out.count("step") == len(v)


def test_inputs_changed_in_place_between_calls_are_seen():
    x = pt.dvector("x")
    (a, b), _ = scan(lambda x_t: [x_t + 1, x_t * 2], sequences=x)
    fa, fb = function([x], a), function([x], b)
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(fa(v), [2.0, 3.0])
    v[:] = [5.0, 6.0]
    np.testing.assert_allclose(fb(v), [10.0, 12.0])
    np.testing.assert_allclose(fa(v), [6.0, 7.0])
