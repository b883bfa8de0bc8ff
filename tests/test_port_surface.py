"""The rest of PyTensor's porting surface (docs/porting.md): ``OpFromGraph``, the checking modes
``NanGuardMode`` and ``DebugMode``, PyTensor's mode names, ``pprint``'s notation, and the
signatures, error types and messages PyTensor's own tests match, each checked against NumPy or
finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import eqtensor
import eqtensor.tensor as pt
from eqtensor import function
from eqtensor.compile.builders import OpFromGraph
from eqtensor.compile.debug.debugmode import DebugMode, DebugModeError
from eqtensor.compile.mode import Mode, get_mode
from eqtensor.compile.debug.nanguardmode import NanGuardMode
from eqtensor.core.errors import MissingInputError
from eqtensor.core.traversal import toposort
from eqtensor.gradient import grad, verify_grad
from eqtensor.printing import pprint

RNG = np.random.default_rng(7)


# ----------------------------------------------------------------------------- OpFromGraph
def test_op_from_graph_inlines_and_differentiates():
    x, y, z = pt.dscalars("x", "y", "z")
    op = OpFromGraph([x, y, z], [pt.sigmoid((x + y + z) ** 2)], inline=False)
    e2 = op(x, y, z) + op(z, y, 2 * x)
    f = function([x, y, z], [e2, grad(e2, x)])
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    for xv, yv, zv in [(0.1, -0.2, 0.3), (-0.4, 0.2, 0.1)]:
        val, gx = f(xv, yv, zv)
        s1, s2 = (xv + yv + zv) ** 2, (zv + yv + 2 * xv) ** 2
        np.testing.assert_allclose(val, sig(s1) + sig(s2))
        d = lambda s, t: sig(s) * (1 - sig(s)) * 2 * t  # noqa: E731
        np.testing.assert_allclose(gx, d(s1, xv + yv + zv) + 2 * d(s2, zv + yv + 2 * xv))
    # the graph is inlined: no node of the op, and the e-graph sees through it
    assert all(not isinstance(n.op, OpFromGraph) for n in toposort([e2]))


def test_op_from_graph_several_outputs_shared_and_arguments():
    x = pt.dvector("x")
    s = eqtensor.shared(np.array([1.0, 2.0]), name="s")
    op = OpFromGraph([x], [x + s, (x * s).sum()])
    a = pt.dvector("a")
    out1, out2 = op(a)
    f = function([a], [out1, out2])
    av = np.array([3.0, -1.0])
    r1, r2 = f(av)
    np.testing.assert_allclose(r1, av + [1.0, 2.0])
    np.testing.assert_allclose(r2, av @ [1.0, 2.0])
    np.testing.assert_allclose(op(np.array([1.0, 1.0]))[1].eval(), 3.0)  # a NumPy argument
    verify_grad(lambda v: op(v)[1] * op(v)[0].sum(), [av], rng=np.random.default_rng(0))


def test_op_from_graph_errors():
    x, y = pt.dvector("x"), pt.dvector("y")
    with pytest.raises(MissingInputError, match="not one of the inputs"):
        OpFromGraph([x], [x + y])
    with pytest.raises(TypeError, match="root variable"):
        OpFromGraph([x + 1], [x])
    with pytest.raises(NotImplementedError, match="pullback"):
        OpFromGraph([x], [x * 2], pullback=lambda *a: a)
    op = OpFromGraph([x], [x * 2])
    with pytest.raises(TypeError, match="takes 1 inputs, got 2"):
        op(x, y)
    with pytest.raises(TypeError, match="2 dimensions"):
        op(pt.dmatrix("m"))
    with pytest.raises(TypeError, match="dtype int64"):
        op(pt.lvector("i"))
    assert eqtensor.compile.builders.OpFromGraph is OpFromGraph is eqtensor.OpFromGraph  # PyTensor's paths


# ----------------------------------------------------------------------------- modes
def test_nan_guard_mode_names_the_node_and_checks_intermediates():
    x = pt.dvector("x")
    f = function([x], pt.log(x).sum(), mode=NanGuardMode(nan_is_error=True, inf_is_error=True, big_is_error=True))
    np.testing.assert_allclose(f(np.array([1.0, np.e])), 1.0)
    with pytest.raises(AssertionError, match=r"NaN in the output of log\(x\)"):
        f(np.array([-1.0, 1.0]))
    with pytest.raises(AssertionError, match="Inf in the output of log"):
        f(np.array([0.0, 1.0]))
    # an intermediate NaN that a switch hides from the output is still found (as PyTensor's)
    g = function([x], pt.switch(x > 0, pt.sqrt(x), 0.0), mode="NanGuardMode")
    with pytest.raises(AssertionError, match="NaN in the output of sqrt"):
        g(np.array([-1.0, 4.0]))
    big = function([x], x * 1e12, mode=NanGuardMode(big_is_error=True))
    with pytest.raises(AssertionError, match="above 1e"):
        big(np.array([1.0]))
    lenient = function([x], pt.log(x), mode=NanGuardMode(nan_is_error=False, inf_is_error=False))
    assert np.isnan(lenient(np.array([-1.0]))[0])
    # integer values are not checked; updates are
    s = eqtensor.shared(np.array([1.0]), name="s")
    h = function([x], x.argmax(), updates={s: s / x}, mode="NanGuardMode")
    assert h(np.array([2.0])) == 0
    with pytest.raises(AssertionError, match="Inf"):
        h(np.array([0.0]))


def test_debug_mode_compares_backends_and_the_unoptimized_graph():
    x = pt.dvector("x")
    s = eqtensor.shared(np.ones(3), name="s")
    f = function([x], [(x * s).sum(), pt.log(1 + pt.exp(x))], updates={s: s + x}, mode="DebugMode")
    xv = np.array([0.5, -2.0, 800.0])
    tot, sp = f(xv)
    np.testing.assert_allclose(tot, xv.sum())
    np.testing.assert_allclose(sp, np.logaddexp(0, xv))  # finite where the naive graph overflows
    np.testing.assert_allclose(s.get_value(), 1 + xv)
    assert get_mode("DebugMode") == DebugMode() and DebugMode(optimizer=None).optimize is False
    py_only = function([x], 10 * x, mode=DebugMode(check_c_code=False))  # PyTensor's flag: no C to compare
    assert py_only.maker.backend == "numpy" and np.allclose(py_only(np.array([5.0])), 50.0)
    assert eqtensor.compile.debug.DebugMode is DebugMode  # pytensor.compile.debug's path


def test_debug_mode_reports_a_disagreement():
    x = pt.dvector("x")
    f = function([x], pt.exp(x) * 2, mode=DebugMode())
    # a backend that computes something else: the optimized graph's value is compared
    maker = f.maker
    wrong = maker.mode.wrap_thunk(maker, lambda *a: (np.exp(a[0]) * 2 + 1e-3,))
    with pytest.raises(DebugModeError, match="output 0 .* differs between the c backend and the NumPy backend"):
        wrong(np.array([1.0, 2.0]))


@pytest.mark.parametrize("name, backend, optimize", [
    ("NUMBA", "c", True), ("FAST_RUN", "c", True), ("FAST_COMPILE", "numpy", False), ("fast_run", "c", True),
    ("DebugMode", "c", True), ("NanGuardMode", "c", True)])
def test_pytensor_mode_names(name, backend, optimize):
    mode = get_mode(name)
    assert (mode.backend, mode.optimize) == (backend, optimize)
    x = pt.dvector("x")
    np.testing.assert_allclose(function([x], pt.exp(x) - 1, mode=name)(np.array([1e-10, 1.0])),
                               np.expm1([1e-10, 1.0]), rtol=1e-12 if optimize else 1e-6)  # expm1: optimized


def test_mode_names_in_config_and_errors():
    with eqtensor.config.change_flags(mode="NUMBA"):
        assert get_mode(None).backend == "c"
    with pytest.raises(ValueError, match="unknown mode 'PYTORCH'"):
        get_mode("PYTORCH")
    assert isinstance(NanGuardMode(), Mode) and NanGuardMode(linker="py").backend == "numpy"


# ----------------------------------------------------------------------------- pprint
@pytest.mark.parametrize("build, text", [
    (lambda x, i, z: x[0], "x[0]"), (lambda x, i, z: x[:2], "x[:2]"), (lambda x, i, z: x[0:], "x[0:]"),
    (lambda x, i, z: x[0:2:2], "x[0:2:2]"), (lambda x, i, z: x[0:2, 0, 0:2], "x[0:2, 0, 0:2]"),
    (lambda x, i, z: x[i], "x[idx]"), (lambda x, i, z: x[i, 0:5], "x[idx, 0:5]"),
    (lambda x, i, z: pt.inc_subtensor(x[0], z), "inc_subtensor(x[0], z)"),
    (lambda x, i, z: pt.set_subtensor(x[0:2], z), "set_subtensor(x[0:2], z)"),
    (lambda x, i, z: pt.set_subtensor(x[i, :5], z), "set_subtensor(x[idx, :5], z)"),
    (lambda x, i, z: x.sum(axis=0), "sum(x, axis=(0,))"),
    (lambda x, i, z: x[0, 0].T, "x[0, 0].T"), (lambda x, i, z: (x + 1)[1], "(x + 1.0)[1]"),
    (lambda x, i, z: pt.exp(x[pt.lscalar("k"):]) * 2, "exp(x[k:]) * 2.0"),
])
def test_pprint_notation_as_pytensor(build, text):
    x, i, z = pt.tensor4("x"), pt.ivector("idx"), pt.tensor3("z")
    assert pprint(build(x, i, z)) == text


# ----------------------------------------------------------------------------- signatures and errors
def test_errors_pytensor_tests_match():
    with pytest.raises(ValueError, match=r"Input must be 1- or 2-d\."):
        pt.diag(pt.dtensor3())
    for args in ((2, 0, 1), ([2, 1], 0, 1), ([[2, 1], [3, 4]], 3, 4)):
        with pytest.raises(IndexError):
            pt.swapaxes(*args)
    with pytest.raises(ValueError, match="out of bounds"):  # NumPy's AxisError is both
        pt.swapaxes(pt.dvector(), 0, 1)
    for reps in (2.5, pt.fscalar(), pt.vector(shape=(3,), dtype="float64"), [2, pt.fscalar()]):
        with pytest.raises(ValueError):
            pt.tile(pt.arange(3), reps)
    with pytest.raises(ValueError, match="Use specify_shape to set the length"):
        pt.tile(pt.arange(3), pt.ivector())
    with pytest.raises(ValueError, match="^Length of "):
        pt.get_vector_length(pt.arange(4)[pt.lscalar():])


def test_signatures_pytensor_code_uses():
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(pt.trace(x).eval(), np.trace(x))
    np.testing.assert_allclose(pt.trace(x, offset=1, axis1=1, axis2=2).eval(), np.trace(x, 1, 1, 2))
    np.testing.assert_allclose(pt.trace(x, offset=-1, axis1=0, axis2=-1).eval(), np.trace(x, -1, 0, -1))
    np.testing.assert_array_equal(pt.take(np.arange(5.0), [3, 1], mode=None).eval(), [3.0, 1.0])
    a, b, c = (RNG.normal(size=3) * 300 for _ in range(3))
    np.testing.assert_allclose(pt.logaddexp(a, b, c).eval(), np.logaddexp(np.logaddexp(a, b), c))
    np.testing.assert_allclose(pt.add(a, b, c).eval(), a + b + c)
    np.testing.assert_allclose(pt.mul(a, b, c, a).eval(), a * b * c * a)
    v = pt.lvector("v")
    assert pt.get_vector_length(v[1:1]) == 0 and pt.get_vector_length(v[-1:-1:3]) == 0
    assert pt.get_vector_length(v[:0]) == 0
    with pytest.raises(ValueError, match="cannot be determined"):
        pt.get_vector_length(v[1:-1])
    assert pt.get_vector_length(pt.as_tensor(np.arange(4))[1:10:2]) == 2
    m = pt.dmatrix("x2")
    assert m.T.name == "x2.T" and m.transpose().name == "x2.T" and pt.dmatrix().T.name is None
    assert pt.dvector("v").T.name == "v"  # the transpose of a vector is the vector itself
    assert pt.extra_ops.ravel_multi_index is eqtensor.tensor.extra_ops.ravel_multi_index
    np.testing.assert_array_equal(pt.extra_ops.unravel_index(np.array([5, 7]), (3, 4))[1].eval(), [1, 3])


def test_tridiagonal_solve_matches_scipy_and_its_gradient_is_banded():
    n = 5
    A = np.diag(RNG.normal(size=n) + 4) + np.diag(RNG.normal(size=n - 1), 1) + np.diag(RNG.normal(size=n - 1), -1)
    b = RNG.normal(size=(n, 2))
    a_, b_ = pt.dmatrix("a"), pt.dmatrix("b")
    x = pt.linalg.solve(a_, b_, assume_a="tridiagonal")
    f = function([a_, b_], [x, grad(x.sum(), a_)])
    noisy = A + np.triu(RNG.normal(size=(n, n)), 2)  # only the three diagonals are read
    xv, ga = f(noisy, b)
    np.testing.assert_allclose(xv, np.linalg.solve(A, b), rtol=1e-10)
    band = lambda M: np.triu(np.tril(M, 1), -1)  # noqa: E731
    eps, fd = 1e-6, np.zeros_like(A)
    for i in range(n):
        for j in range(n):
            e = np.zeros_like(A)
            e[i, j] = eps
            fd[i, j] = (np.linalg.solve(band(A + e), b).sum() - np.linalg.solve(band(A - e), b).sum()) / (2 * eps)
    np.testing.assert_allclose(ga, fd, atol=1e-7)


def test_bincount_assert_nonneg_checks_at_run_time():
    x, w = pt.lvector("x"), pt.dvector("w")
    for mode in ("FAST_COMPILE", "NUMPY", "C"):
        f = function([x, w], [pt.bincount(x, assert_nonneg=True), pt.bincount(x, w, minlength=7, assert_nonneg=True)],
                     mode=mode)
        xv, wv = np.array([0, 2, 2, 5]), np.array([0.5, 1.0, 2.0, -1.0])
        counts, sums = f(xv, wv)
        np.testing.assert_array_equal(counts, np.bincount(xv))
        np.testing.assert_allclose(sums, np.bincount(xv, wv, minlength=7))
        with pytest.raises(AssertionError, match="negative values"):
            f(np.array([1, -1, 0, 0]), wv)
    g = function([x, w], grad(pt.bincount(x, w, assert_nonneg=True).sum() * 3, w))
    np.testing.assert_allclose(g(np.array([0, 1]), np.ones(2)), [3.0, 3.0])


@pytest.mark.parametrize("mode", ["NUMPY", "C"])
def test_sort_along_an_axis_known_at_run_time(mode):
    m, a = pt.dtensor3("m"), pt.lscalar("a")
    f = function([m, a], [pt.sort(m, axis=a), pt.argsort(m, axis=a)], mode=mode)
    v = RNG.normal(size=(3, 4, 2))
    for axis in (0, 1, 2, -1, -3):
        s, i = f(v, axis)
        np.testing.assert_array_equal(s, np.sort(v, axis=axis))
        np.testing.assert_array_equal(i, np.argsort(v, axis=axis))
    with pytest.raises(AssertionError, match="axis is out of bounds"):
        f(v, 3)
    weights = np.arange(4.0)[None, :, None]  # the weight of each rank along axis 1
    g = function([m, a], grad((pt.sort(m, axis=a) * weights).sum(), m), mode=mode)
    order = np.argsort(v, axis=1)
    expected = np.zeros_like(v)
    np.put_along_axis(expected, order, np.broadcast_to(weights, v.shape), axis=1)
    np.testing.assert_allclose(g(v, 1), expected)
    with pytest.raises(ValueError, match="Sort axis must have an integer dtype, got float32"):
        pt.sort(pt.dmatrix(), pt.fscalar())


def test_eval_by_name_by_intermediate_and_with_a_mode():
    a = np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(pt.tile(a, [2, pt.iscalar("3"), 4]).eval({"3": 3}), np.tile(a, [2, 3, 4]))
    X, Y = pt.dmatrices("X", "Y")
    Z = X.dot(Y)
    np.testing.assert_allclose((Z + 1).eval({Z: np.ones((2, 2))}), np.full((2, 2), 2.0))
    x = pt.dscalar("x")
    assert float((x * 2).eval({x: 3.0}, mode="C")) == 6.0
    with pytest.raises(ValueError, match="named 'y'"):
        (x * 2).eval({"y": 1.0})


def test_reductions_take_dtype_and_acc_dtype():
    v = np.array([100, 100, 100], dtype="int8")
    assert pt.sum(v, dtype="int8", acc_dtype="int64").eval() == np.int8(np.int64(300).astype("int8"))
    assert pt.sum(v).eval() == 300 and pt.sum(v, dtype="float32").eval().dtype == np.float32
    m = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(pt.sum(m, 0, None, True).eval(), m.sum(0, keepdims=True))  # PyTensor's positions
    np.testing.assert_allclose(pt.prod(m, axis=1, acc_dtype="float64").eval(), m.prod(1))
    assert pt.mean(m.astype("float32"), dtype="float64").eval().dtype == np.float64
    np.testing.assert_allclose(pt.as_tensor(m).mean(axis=0, dtype="float32").eval(), m.mean(0), rtol=1e-6)


def test_more_errors_as_pytensor():
    with pytest.raises(TypeError):  # a value with more dimensions than the indexed part
        pt.set_subtensor(pt.dmatrix()[0], pt.dmatrix())
    with pytest.raises(ValueError):
        pt.tensordot(pt.dmatrix(), pt.dmatrix(), (0, 1, 2))
    with pytest.raises(ValueError, match=r"Incompatible Elemwise input shapes \[\(2,\), \(3,\)\]"):
        pt.tensor(dtype="float64", shape=(2,)) + pt.tensor(dtype="float64", shape=(3,))
    with pytest.raises(ValueError, match="Invalid norm order 'fro' for vectors"):
        pt.linalg.norm([2.0, 1.0], "fro")
    with pytest.raises(ValueError, match="Invalid norm order for matrices: 0"):
        pt.linalg.norm([[2.0, 1.0], [3.0, 4.0]], 0)
    with pytest.raises(ValueError, match="either both"):
        pt.where(pt.dvector() > 0, pt.dvector())
    with pytest.warns(FutureWarning, match="Gamma rate argument is deprecated"):
        draws = pt.random.gamma([5.0, 10.0], 2.0, size=None)
    assert draws.type.shape == (2,)
    with pytest.raises(ValueError, match="Cannot specify both rate and scale"):
        pt.random.gamma(5.0, rate=2.0, scale=0.5)


def test_checking_modes_compile_scans():
    # the C loop of a scan calls its step's compiled entry: the step runs in the plain mode
    x, n = pt.dvector("x"), pt.lscalar("n")
    out, updates = eqtensor.scan(lambda prev: prev * 2, outputs_info=[x], n_steps=n)
    for mode in ("NanGuardMode", "DebugMode"):
        f = function([x, n], out[-1], updates=updates, mode=mode)
        np.testing.assert_allclose(f(np.ones(2), 3), [8.0, 8.0])
    g = function([x, n], pt.log(out[-1]), updates=updates, mode="NanGuardMode")
    with pytest.raises(AssertionError, match="NaN in the output of log"):
        g(-np.ones(2), 3)


def test_function_dprint_method(capsys):
    x = pt.dvector("x")
    f = function([x], pt.exp(x) * 2, mode="FAST_COMPILE")
    f.dprint()
    assert capsys.readouterr().out.splitlines() == ["mul [id A] 1", " ├─ exp [id B] 0", " │  └─ x [id C]",
                                                    " └─ 2.0 [id D]"]
    assert f.dprint(file="str") == eqtensor.printing.debugprint(f, file="str")
