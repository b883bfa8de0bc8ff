"""eqtensor.scan: forward loops (PyTensor's scan), under every mode."""

import numpy as np
import pytest

import eqtensor as et
from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.core.graph import toposort
from eqtensor.scan import scan

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


@pytest.mark.parametrize("mode", MODES)
def test_non_sequences_free_variable_and_shared(mode):
    x, c = pt.dvector("x"), pt.dscalar("c")
    s = et.shared(np.float64(10.0), name="s")
    # c is a non-sequence, s (shared) and d (an outer input) are free variables of fn
    d = pt.dscalar("d")
    ys, _ = scan(lambda x_t, prev, c: prev * c + x_t + d + s, sequences=x, outputs_info=np.float64(1.0),
                 non_sequences=c)
    f = function([x, c, d], ys, mode=mode)
    v = np.array([1.0, 2.0, 3.0])
    expected, h = [], 1.0
    for x_t in v:
        h = h * 0.5 + x_t + 2.0 + 10.0
        expected.append(h)
    np.testing.assert_allclose(f(v, 0.5, 2.0), expected)
    s.set_value(np.float64(0.0))
    expected, h = [], 1.0
    for x_t in v:
        h = h * 0.5 + x_t + 2.0
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


def test_zero_steps():
    x0 = pt.dvector("x0")
    ys, _ = scan(lambda h: h * 2, outputs_info=x0, n_steps=0)
    assert ys.eval({x0: np.ones(3)}).shape == (0, 3)


def test_dict_outputs_info():
    x = pt.dvector("x")
    acc, _ = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info={"initial": np.float64(1.0), "taps": [-1]})
    np.testing.assert_allclose(acc.eval({x: np.array([1.0, 2.0])}), [2.0, 4.0])


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
    with pytest.raises(NotImplementedError, match="taps"):
        scan(lambda a, b: a + b, outputs_info={"initial": pt.dvector("h"), "taps": [-2]}, n_steps=3)
    s = et.shared(np.float64(0.0), name="s")
    with pytest.raises(NotImplementedError, match="updates"):
        scan(lambda x_t: (x_t * 2, {s: s + x_t}), sequences=pt.dvector("x"))
    with pytest.raises(ValueError, match="outputs_info has 2 entries"):
        scan(lambda x_t, a: x_t + a, sequences=pt.dvector("x"), outputs_info=[np.float64(0.0), None])


def test_gradient_not_implemented():
    x = pt.dvector("x")
    acc, _ = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info=np.float64(0.0))
    with pytest.raises(NotImplementedError, match="gradient of scan"):
        et.grad(acc.sum(), x)


def test_default_mode_keeps_scan_in_the_egraph_and_optimizes_around_it():
    x = pt.dvector("x")
    acc, _ = scan(lambda x_t, prev: prev + pt.exp(pt.log(x_t)), sequences=x, outputs_info=np.float64(0.0))
    f = function([x], pt.log(pt.exp(acc)))
    assert f.optimization_report() is not None and not f.optimization_report().fallback
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [1.0, 3.0])


def test_zero_steps_with_unknown_step_shape_is_a_clear_error():
    x = pt.dmatrix("x")
    ys, _ = scan(lambda r: r * 2, sequences=x)
    with pytest.raises(ValueError, match="zero steps"):
        ys.eval({x: np.zeros((0, 3))})
    xs = pt.matrix("xs", shape=(None, 3))
    zs, _ = scan(lambda r: r * 2, sequences=xs)
    assert zs.eval({xs: np.zeros((0, 3))}).shape == (0, 3)
