"""Linear algebra as PyTensor users import it (``pt.linalg``, ``eqtensor.tensor.slinalg``/``nlinalg``).

Every name against NumPy/SciPy on both backends (stacks of matrices included), the static types,
PyTensor's failure semantics (``nan``), gradients by finite differences through compiled functions,
and the rules of :mod:`eqtensor.rules.linalg`: each fires in the compiled graph and keeps the values.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl

import eqtensor
from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.backends import c as cbackend
from eqtensor.core.traversal import toposort
from eqtensor.core.op import OPS, Op
from eqtensor.gradient import NullTypeGradError, grad, verify_grad
from eqtensor.rules import check
from eqtensor.rules.linalg import linalg as linalg_rules
from eqtensor.tensor import linalg as LA
from eqtensor.tensor import nlinalg, slinalg

MODES = ["NUMPY", pytest.param("C", marks=pytest.mark.skipif(not cbackend.compiler_works(), reason="no C compiler"))]


@pytest.fixture(scope="module", autouse=True)
def c_cache(tmp_path_factory):
    with eqtensor.config.change_flags(cache_dir=str(tmp_path_factory.mktemp("linalg-c-cache"))):
        yield


def spd(n, batch=(), seed=0, dtype="float64"):
    m = np.random.default_rng(seed).standard_normal(batch + (n, n))
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)


def gen(*shape, seed=1, dtype="float64"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def each(fn, *arrays, core=(2,)):
    """``fn`` over the leading dimensions of the arrays (``core[i]`` trailing dims of array i)."""
    core = core * len(arrays) if len(core) == 1 else core
    batch = np.broadcast_shapes(*(a.shape[:a.ndim - c] for a, c in zip(arrays, core)))
    arrays = [np.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, core)]
    res = [fn(*(a[i] for a in arrays)) for i in np.ndindex(*batch)]
    if isinstance(res[0], tuple):
        return tuple(np.stack(r).reshape(batch + r[0].shape) for r in zip(*res))
    return np.stack(res).reshape(batch + res[0].shape)


def op_names(f):
    return {n.op.name for n in toposort(f.maker.fgraph.outputs)}


# ============================================================================ values, both backends
A3, B3 = spd(3, (2,)), gen(2, 3, 2)  # a stack of SPD matrices and right-hand sides
R = gen(2, 4, 3, seed=5)  # a stack of tall matrices
PIV = np.array([[0.1, 2.0, 0.3], [1.5, 0.2, 0.4], [0.3, 0.5, 2.5]])

#: name -> (builder over symbolic inputs, reference over arrays, input arrays)
CASES = {
    "cholesky": (LA.cholesky, np.linalg.cholesky, [A3]),
    "cholesky_upper": (lambda a: LA.cholesky(a, lower=False), lambda a: each(lambda x: sl.cholesky(x), a), [A3]),
    "solve_gen": (LA.solve, np.linalg.solve, [A3, B3]),
    "solve_2d": (LA.solve, np.linalg.solve, [A3[0], B3[0]]),
    "solve_pos_lower": (lambda a, b: LA.solve(a, b, assume_a="pos", lower=True),
                        lambda a, b: each(lambda x, y: sl.solve(x, y, assume_a="pos", lower=True), a, b), [A3, B3]),
    "solve_sym_vectors": (lambda a, b: LA.solve(a, b, assume_a="symmetric", b_ndim=1),
                          lambda a, b: each(lambda x, y: sl.solve(x, y, assume_a="sym"), a, b, core=(2, 1)),
                          [A3, B3[:, :, 0]]),
    "solve_transposed": (lambda a, b: LA.solve(a, b, transposed=True),
                         lambda a, b: np.linalg.solve(np.swapaxes(a, -1, -2), b),
                         [gen(2, 3, 3, seed=2) + 3 * np.eye(3), B3]),
    "solve_lower_triangular": (lambda a, b: LA.solve(a, b, assume_a="lower triangular"),
                               lambda a, b: np.linalg.solve(np.tril(a), b), [A3, B3]),
    "solve_diagonal": (lambda a, b: LA.solve(a, b, assume_a="diagonal"),
                       lambda a, b: b / np.diagonal(a, axis1=-2, axis2=-1)[..., :, None], [A3, B3]),
    "solve_triangular": (lambda a, b: LA.solve_triangular(a, b, lower=True, trans="T"),
                         lambda a, b: each(lambda x, y: sl.solve_triangular(x, y, lower=True, trans="T"), a, b),
                         [A3, B3]),
    "solve_triangular_unit": (lambda a, b: LA.solve_triangular(a, b, unit_diagonal=True),
                              lambda a, b: each(lambda x, y: sl.solve_triangular(x, y, unit_diagonal=True), a, b),
                              [A3, B3[0]]),
    "cho_solve": (lambda c, b: LA.cho_solve((c, True), b),
                  lambda c, b: each(lambda x, y: sl.cho_solve((x, True), y), c, b),
                  [np.linalg.cholesky(A3), B3]),
    "lu": (lambda a: LA.lu(a), lambda a: each(lambda x: sl.lu(x), a), [A3]),
    "lu_p_indices": (lambda a: LA.lu(a, p_indices=True), lambda a: each(lambda x: sl.lu(x, p_indices=True), a),
                     [gen(2, 3, 3)]),
    "lu_permute_l": (lambda a: LA.lu(a, permute_l=True), lambda a: sl.lu(a, permute_l=True), [PIV]),
    "lu_factor": (lambda a: LA.lu_factor(a), lambda a: each(lambda x: sl.lu_factor(x), a), [gen(2, 3, 3, seed=3)]),
    "lu_solve": (lambda a, b: LA.lu_solve(LA.lu_factor(a), b), np.linalg.solve, [gen(2, 3, 3, seed=3), B3]),
    "lu_solve_trans": (lambda a, b: LA.lu_solve(LA.lu_factor(a), b, trans=True),
                       lambda a, b: np.linalg.solve(a.T, b), [PIV, B3[0]]),
    "pivot_to_permutation": (lambda a: LA.pivot_to_permutation(LA.lu_factor(a)[1]),
                             lambda a: each(lambda x: np.argmax(sl.lu(x)[0], axis=1), a), [gen(2, 4, 4)]),
    "qr_full": (lambda a: LA.qr(a), lambda a: each(lambda x: sl.qr(x), a), [R]),
    "qr_economic": (lambda a: LA.qr(a, mode="economic"), lambda a: each(lambda x: sl.qr(x, mode="economic"), a), [R]),
    "qr_r": (lambda a: LA.qr(a, mode="r"), lambda a: each(lambda x: sl.qr(x, mode="r")[0], a), [R]),
    "qr_raw": (lambda a: LA.qr(a, mode="raw"), lambda a: (lambda r: r[0] + (r[1],))(sl.qr(a, mode="raw")), [R[0]]),
    "expm": (LA.expm, sl.expm, [gen(2, 3, 3) / 2]),
    "eigvalsh": (LA.eigvalsh, np.linalg.eigvalsh, [A3]),
    "eigvalsh_generalized": (lambda a, b: LA.eigvalsh(a, b), lambda a, b: each(lambda x, y: sl.eigvalsh(x, y), a, b),
                             [gen(2, 3, 3), A3]),
    "eigh": (lambda a: LA.eigh(a, lower=False), lambda a: np.linalg.eigh(a, UPLO="U"), [A3]),
    "eigh_generalized": (lambda a, b: LA.eigh(a, b), lambda a, b: sl.eigh(a, b), [gen(3, 3), A3[0]]),
    "eig": (LA.eig, np.linalg.eig, [gen(2, 3, 3)]),
    "svd": (LA.svd, np.linalg.svd, [R]),
    "svd_economic": (lambda a: LA.svd(a, full_matrices=False), lambda a: np.linalg.svd(a, full_matrices=False), [R]),
    "svd_values": (lambda a: LA.svd(a, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False), [R]),
    "pinv": (LA.pinv, np.linalg.pinv, [R]),
    "slogdet": (LA.slogdet, np.linalg.slogdet, [gen(2, 3, 3)]),
    "det": (LA.det, np.linalg.det, [gen(2, 3, 3)]),
    "inv": (LA.inv, np.linalg.inv, [gen(2, 3, 3)]),
    "matrix_inverse": (nlinalg.matrix_inverse, np.linalg.inv, [gen(3, 3)]),
    "trace": (LA.trace, np.trace, [gen(3, 4)]),
    "kron": (LA.kron, np.kron, [gen(2, 3), gen(3, 2, seed=4)]),
    "kron_3d": (LA.kron, np.kron, [gen(2, 1, 3), gen(2, 2)]),
    "block_diag": (LA.block_diag, sl.block_diag, [gen(2, 3), gen(1, 1), gen(3, 2)]),
    "block_diag_stack": (LA.block_diag, lambda a, b: each(sl.block_diag, a, b), [gen(2, 2, 2), gen(2, 1, 3)]),
    "matrix_dot": (LA.matrix_dot, lambda a, b, c: a @ b @ c, [gen(2, 3), gen(3, 4), gen(4)]),
    "matrix_power": (lambda a: LA.matrix_power(a, 5), lambda a: np.linalg.matrix_power(a, 5), [gen(2, 3, 3) / 2]),
    "matrix_power_0": (lambda a: LA.matrix_power(a, 0), lambda a: np.linalg.matrix_power(a, 0), [gen(2, 3, 3)]),
    "matrix_power_neg": (lambda a: LA.matrix_power(a, -3), lambda a: np.linalg.matrix_power(a, -3), [A3[0]]),
    "norm_default": (LA.norm, lambda x: np.linalg.norm(x, axis=(-2, -1)), [R]),
    "norm_vector": (LA.norm, np.linalg.norm, [gen(5)]),
    "norm_nuc": (lambda x: LA.norm(x, "nuc"), lambda x: np.linalg.norm(x, "nuc", axis=(-2, -1)), [R]),
    "norm_2": (lambda x: LA.norm(x, 2, keepdims=True), lambda x: np.linalg.norm(x, 2, keepdims=True), [R[0]]),
    "norm_-2": (lambda x: LA.norm(x, -2), lambda x: np.linalg.norm(x, -2), [R[0]]),
    "norm_inf_matrix": (lambda x: LA.norm(x, np.inf, axis=(0, 2)), lambda x: np.linalg.norm(x, np.inf, axis=(0, 2)),
                        [R]),
    "norm_-inf_str": (lambda x: LA.norm(x, "-inf"), lambda x: np.linalg.norm(x, -np.inf), [R[0]]),
    "norm_1_matrix": (lambda x: LA.norm(x, 1, axis=(2, 1)), lambda x: np.linalg.norm(x, 1, axis=(2, 1)), [R]),
    "norm_-1": (lambda x: LA.norm(x, -1), lambda x: np.linalg.norm(x, -1), [R[0]]),
    "norm_fro_axis": (lambda x: LA.norm(x, "fro", axis=(0, 1)), lambda x: np.linalg.norm(x, "fro", axis=(0, 1)), [R]),
    "norm_vector_p": (lambda x: LA.norm(x, 3, axis=1), lambda x: np.linalg.norm(x, 3, axis=1), [R]),
    "norm_vector_0": (lambda x: LA.norm(x, 0, axis=-1, keepdims=True),
                      lambda x: np.linalg.norm(x, 0, axis=-1, keepdims=True), [np.array([[0.0, 1.0, -2.0]])]),
    "norm_vector_inf": (lambda x: LA.norm(x, np.inf, axis=0), lambda x: np.linalg.norm(x, np.inf, axis=0), [R[0]]),
    "norm_vector_1": (lambda x: LA.norm(x, 1), lambda x: np.linalg.norm(x, 1), [gen(4)]),
    "norm_int": (LA.norm, lambda x: np.linalg.norm(x), [np.array([3, 4])]),
}


def _as_list(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _inputs(arrays):
    return [pt.tensor(f"x{k}", dtype=a.dtype.name, shape=(None,) * a.ndim) for k, a in enumerate(arrays)]


_RESULTS: dict = {}


def _results(mode):
    """Every case compiled into one function per mode (one C module instead of one per case)."""
    if mode not in _RESULTS:
        ins, outs, vals, spans = [], [], [], {}
        for name, (build, _, arrays) in CASES.items():
            xs = _inputs(arrays)
            o = _as_list(build(*xs))
            spans[name] = (len(outs), len(outs) + len(o))
            ins += xs
            outs += o
            vals += arrays
        f = function(ins, outs, mode=mode)
        res = f(*vals)
        _RESULTS[mode] = {name: res[a:b] for name, (a, b) in spans.items()}
    return _RESULTS[mode]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_numpy_and_scipy(name, mode):
    build, ref, arrays = CASES[name]
    got = _results(mode)[name]
    expected = [np.asarray(e) for e in _as_list(ref(*arrays))]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape, (g.shape, e.shape)
        assert g.dtype == e.dtype or (g.dtype.kind == e.dtype.kind == "i"), (g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_types_agree_with_the_values(name):
    build, _, arrays = CASES[name]
    static = [pt.tensor(f"x{k}", dtype=a.dtype.name, shape=a.shape) for k, a in enumerate(arrays)]
    outs = _as_list(build(*static))
    for o, r in zip(outs, _results("NUMPY")[name]):
        assert o.type.shape == r.shape, f"{o.type} for a result of shape {r.shape}"
        assert o.dtype == r.dtype.name


def test_every_name_at_pytensor_paths():
    names = {"block_diag", "cho_solve", "cholesky", "det", "eig", "eigh", "eigvalsh", "expm", "inv", "kron", "lu",
             "lu_factor", "lu_solve", "matrix_dot", "matrix_power", "norm", "pinv", "pivot_to_permutation", "qr",
             "slogdet", "solve", "solve_triangular", "svd", "trace"}
    assert names <= set(LA.__all__) and all(callable(getattr(LA, n)) for n in names)
    assert set(slinalg.__all__) | set(nlinalg.__all__) <= set(LA.__all__)
    assert pt.linalg is LA and pt.slinalg is slinalg and pt.nlinalg is nlinalg
    for n in slinalg.__all__ + nlinalg.__all__:
        assert getattr(LA, n) is getattr(slinalg if n in slinalg.__all__ else nlinalg, n)


def test_dtypes_follow_lapack():
    """PyTensor's rule: float32 and types of at most 16 bits compute in float32, the rest in float64."""
    for dtype, expected in (("float32", "float32"), ("int8", "float32"), ("int16", "float32"), ("uint8", "float32"),
                            ("bool", "float32"), ("int32", "float64"), ("int64", "float64"), ("float64", "float64")):
        a = pt.matrix("a", dtype=dtype)
        assert LA.cholesky(a).dtype == expected and LA.svd(a, compute_uv=False).dtype == expected
        assert LA.solve(a, pt.vector("b", dtype="float32"), assume_a="pos").dtype == np.result_type(
            expected, "float32").name
    c = pt.matrix("c", dtype="complex64")
    assert LA.eigh(c)[0].dtype == "float32" and LA.eigh(c)[1].dtype == "complex64" and LA.eig(c)[0].dtype == "complex64"
    assert LA.eig(pt.dmatrix("d"))[0].dtype == "complex128"
    f = function([c], LA.svd(c, compute_uv=False), mode="NUMPY")
    assert f(np.eye(2, dtype="complex64")).dtype == np.float32


# ============================================================================ failures, errors
@pytest.mark.parametrize("mode", MODES)
def test_failures_give_nan_as_pytensor(mode):
    a, b = pt.dtensor3("a"), pt.dmatrix("b")
    outs = [LA.cholesky(a), LA.solve(a, b, b_ndim=1), LA.solve_triangular(a, b, b_ndim=1),
            LA.solve(a, b, assume_a="pos", b_ndim=1), LA.lu_factor(a)[0]]
    f = function([a, b], outs, mode=mode)
    bad = np.stack([np.array([[0.0, 0.0], [0.0, 1.0]]), np.eye(2) * 2])  # singular (not positive definite), fine
    res = f(bad, np.ones((2, 2)))
    for r in res:
        assert np.isnan(r[0]).all() and np.isfinite(r[1]).all(), r
    np.testing.assert_allclose(res[0][1], np.sqrt(2) * np.eye(2))


def test_type_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"expected square matrices, got static shape \(2, 3\)"):
        LA.cholesky(pt.matrix("a", shape=(2, 3)))
    with pytest.raises(ValueError, match="not aligned"):
        LA.solve(pt.tensor3("a", shape=(None, 3, 3)), pt.tensor3("b", shape=(None, 4, 1)))
    with pytest.raises(ValueError, match="do not broadcast"):
        LA.solve_triangular(pt.tensor3("a", shape=(2, 3, 3)), pt.tensor3("b", shape=(4, 3, 1)))
    with pytest.raises(ValueError, match="expected a matrix"):
        LA.expm(pt.dvector("v"))
    with pytest.raises(ValueError, match="invalid assume_a"):
        LA.solve(pt.dmatrix("a"), pt.dvector("b"), assume_a="banana")
    with pytest.raises(ValueError, match="mode must be"):
        LA.qr(pt.dmatrix("a"), mode="fast")
    with pytest.raises(TypeError, match="sum to 3 or more"):
        LA.kron(pt.dvector("a"), pt.dvector("b"))
    with pytest.raises(ValueError, match="Invalid norm order 'nuc' for vectors"):  # PyTensor's wording
        LA.norm(pt.dvector("v"), "nuc")
    with pytest.raises(ValueError, match="permute_l and p_indices"):
        Op(OPS["lu"], {"which": 0, "permute_l": True, "p_indices": True})(pt.dmatrix("a"))
    f = function([a := pt.dmatrix("a")], LA.cholesky(a), mode="NUMPY")
    with pytest.raises(ValueError, match="expected square matrices"):
        f(np.ones((2, 3)))


def test_pytensor_keywords_are_accepted():
    a, b = pt.dmatrix("a"), pt.dvector("b")
    LA.cholesky(a, lower=True, check_finite=False, overwrite_a=True)
    LA.solve(a, b, lower=False, overwrite_a=True, overwrite_b=True, check_finite=False, assume_a="gen",
             transposed=False, b_ndim=1)
    LA.solve_triangular(a, b, trans="N", lower=True, unit_diagonal=False, check_finite=False, b_ndim=1)
    LA.lu(a, permute_l=False, check_finite=True, p_indices=False, overwrite_a=False)
    LA.lu_factor(a, check_finite=True, overwrite_a=False)
    LA.lu_solve(LA.lu_factor(a), b, trans=False, b_ndim=None, check_finite=True, overwrite_b=False)
    LA.eigh(a, None, lower=True, UPLO=None, driver="evd")
    LA.qr(a, mode="complete", overwrite_a=False, pivoting=False, lwork=None)
    LA.svd(a, full_matrices=True, compute_uv=True)
    LA.pinv(a, hermitian=False)
    LA.norm(a, ord=None, axis=None, keepdims=False)
    with pytest.raises(NotImplementedError, match="pivoting"):
        LA.qr(a, pivoting=True)


# ============================================================================ several results, one decomposition
@pytest.mark.parametrize("mode", MODES)
def test_a_decomposition_runs_once_for_all_its_results(mode, monkeypatch):
    calls = []
    svd = np.linalg.svd

    def counting(*args, **kwargs):
        calls.append(1)
        return svd(*args, **kwargs)

    a = pt.dmatrix("a")
    u, s, vh = LA.svd(a, full_matrices=False)
    f = function([a], [u, s, vh, (u * s) @ vh], mode=mode)
    monkeypatch.setattr(np.linalg, "svd", counting)
    x = gen(5, 3, seed=len(mode))  # a new input in each mode: the memo outlives functions
    res = f(x)
    assert len(calls) == 1
    np.testing.assert_allclose(res[3], x, atol=1e-12)
    f(x + 1)
    assert len(calls) == 2  # a new input is a new decomposition
    res2 = f(x)
    assert len(calls) == 3
    for r, r2 in zip(res, res2):
        np.testing.assert_array_equal(r, r2)


def test_results_of_the_memo_are_fresh_arrays():
    a = pt.dmatrix("a")
    w, v = LA.eigh(a)
    f = function([a], [w, v], mode="NUMPY")
    x = spd(3)
    w1, v1 = f(x)
    w1[:] = 0
    v1[:] = 0
    w2, v2 = f(x)
    np.testing.assert_allclose(w2, np.linalg.eigvalsh(x))


# ============================================================================ gradients
GRADS = [
    ("cholesky logdet", lambda a: 2 * pt.log(pt.diagonal(LA.cholesky(a @ a.T + 3 * pt.eye(3)))).sum(), [gen(3, 3)]),
    ("solve", lambda a, b: LA.solve(a + 3 * pt.eye(3), b).sum(), [gen(3, 3), gen(3, 2)]),
    ("solve pos stack", lambda a, b: LA.solve(a @ a.mT + 3 * pt.eye(3), b, assume_a="pos").sum(),
     [gen(2, 3, 3), gen(2, 3, 2)]),
    ("cho_solve", lambda a, b: (LA.cho_solve((LA.cholesky(a @ a.T + 3 * pt.eye(3)), True), b) ** 2).sum(),
     [gen(3, 3), gen(3)]),
    ("lu_solve", lambda a, b: LA.lu_solve(LA.lu_factor(a), b).sum(), [PIV, gen(3)]),
    ("slogdet", lambda a: LA.slogdet(a)[1], [gen(3, 3, seed=3)]),
    ("log det (the rule)", lambda a: pt.log(LA.det(a @ a.T + pt.eye(3))), [gen(3, 3)]),
    ("eigh", lambda a: (LA.eigh(a + a.T)[0] * np.arange(1.0, 4.0)).sum()
     + (LA.eigh(a + a.T)[1] ** 2 * np.arange(9.0).reshape(3, 3)).sum(),
     [gen(3, 3, seed=6)]),
    ("svd", lambda a: (LA.svd(a, compute_uv=False) * np.array([1.0, 2.0])).sum(), [gen(3, 2)]),
    ("norm nuc", lambda a: LA.norm(a, "nuc"), [gen(3, 4)]),
    ("qr", lambda a: (LA.qr(a, mode="economic")[1] ** 2).sum() + LA.qr(a, mode="economic")[0][0, 0], [gen(4, 3)]),
    ("expm", lambda a: (LA.expm(a) * np.arange(9.0).reshape(3, 3)).sum(), [gen(3, 3) / 3]),
    ("pinv", lambda a: (LA.pinv(a) * np.arange(6.0).reshape(2, 3)).sum(), [gen(3, 2)]),
    ("matrix_power", lambda a: LA.matrix_power(a, 3).sum(), [gen(3, 3) / 2]),
    ("kron block_diag", lambda a, b: (LA.kron(a, b) ** 2).sum() + LA.block_diag(a, b).sum(), [gen(2, 2), gen(1, 3)]),
    ("det of tril (the rule)", lambda a: LA.det(pt.tril(a + 2 * pt.eye(3))), [gen(3, 3)]),
]


#: the gradients also checked through the C backend (each check compiles a few C modules: ~5 s)
GRADS_C = ("solve pos stack", "cho_solve", "eigh", "qr", "log det (the rule)")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [g[0] for g in GRADS])
def test_gradients_match_finite_differences(name, mode):
    if mode == "C" and name not in GRADS_C:
        pytest.skip("checked on the NumPy backend (the C backend runs these ops through NumPy too)")
    _, fun, point = next(g for g in GRADS if g[0] == name)
    verify_grad(fun, point, rng=np.random.default_rng(0), mode=mode)


def test_undefined_gradients_are_reported():
    a = pt.dmatrix("a", shape=(4, 3))
    with pytest.raises(NullTypeGradError, match="qr"):
        grad(LA.qr(a)[0].sum(), a)
    with pytest.raises(NullTypeGradError, match="full_matrices"):
        grad(LA.svd(a)[0].sum(), a)
    grad(LA.svd(a)[1].sum(), a)  # the singular values are fine


# ============================================================================ rules
X, Y, V = pt.dmatrix("X"), pt.dmatrix("Y"), pt.dvector("v")
M = gen(4, 4, seed=7) + 4 * np.eye(4)
S = spd(4, seed=8)
RHS, RHS_V = gen(4, 2, seed=9), gen(4, seed=10)

#: rule -> (output over X, Y, v; the values of X; ops the compiled graph must use; ops it must not use)
RULE_CASES = {
    "inv_dot_to_solve": (lambda: pt.dot(LA.inv(X), Y), M, {"solve"}, {"matrix_inverse", "dot"}),
    "inv_dot_to_solve_vector": (lambda: pt.dot(LA.inv(X), V), M, {"solve"}, {"matrix_inverse"}),
    "inv_matmul_to_solve_vector": (lambda: LA.inv(X) @ V, M, {"solve"}, {"matrix_inverse"}),
    "matmul_inv_to_solve": (lambda: Y @ LA.inv(X), M, {"solve"}, {"matrix_inverse"}),
    "dot_inv_to_solve": (lambda: pt.dot(Y, LA.inv(X)), M, {"solve"}, {"matrix_inverse"}),
    "inv_inv": (lambda: LA.inv(LA.inv(X)) + Y.sum(), M, set(), {"matrix_inverse"}),
    "log_det_to_slogdet": (lambda: pt.log(LA.det(X)), S, {"slogdet"}, {"det", "log"}),
    "log_abs_det_to_slogdet": (lambda: pt.log(pt.abs(LA.det(X))), M, {"slogdet"}, {"det"}),
    "det_tril": (lambda: LA.det(pt.tril(X)), M, {"prod"}, {"det"}),
    "det_triu": (lambda: LA.det(pt.triu(X)), M, {"prod"}, {"det"}),
    "det_cholesky": (lambda: LA.det(LA.cholesky(X)) ** 2, S, {"prod", "cholesky"}, {"det"}),
    "det_diag": (lambda: LA.det(pt.diag(V)), M, {"prod"}, {"det", "set_subtensor"}),
    "det_transpose": (lambda: LA.det(X.T), M, {"det"}, {"dimshuffle"}),
    "det_inverse": (lambda: LA.det(LA.inv(X)), M, {"det", "reciprocal"}, {"matrix_inverse"}),
    "solve_tril": (lambda: LA.solve(pt.tril(X), Y), M, {"solve_triangular"}, {"solve"}),
    "solve_triu_vector": (lambda: LA.solve(pt.triu(X), V), M, {"solve_triangular"}, {"solve"}),
    "solve_cholesky_factor": (lambda: LA.solve(LA.cholesky(X), Y), S, {"solve_triangular"}, {"solve"}),
    "solve_llt_matmul": (lambda: LA.solve(LA.cholesky(X) @ LA.cholesky(X).T, Y), S, {"cho_solve"}, {"solve", "matmul"}),
    "solve_llt_dot_vector": (lambda: LA.solve(pt.dot(LA.cholesky(X), LA.cholesky(X).T), V), S, {"cho_solve"},
                             {"solve", "dot"}),
    "log_prod_pos": (lambda: pt.log(pt.prod(pt.exp(X), axis=1)), M, {"sum"}, {"prod", "log", "exp"}),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_rule_fires_and_keeps_the_values(rule, mode):
    build, xval, present, absent = RULE_CASES[rule]
    out = build()
    ins = [X, Y, V]
    vals = [xval, RHS.T if "inv_to_solve" in rule else RHS, RHS_V]
    f = function(ins, out, mode=mode, on_unused_input="ignore")
    ops = op_names(f)
    assert rule in f.optimization_report().rules_fired, f.optimization_report().rules_fired
    assert present <= ops and not absent & ops, ops
    naive = function(ins, out, mode="FAST_COMPILE", on_unused_input="ignore")
    np.testing.assert_allclose(f(*vals), naive(*vals), rtol=1e-9, atol=1e-12)


def test_batched_inverse_times_matrix_becomes_a_batched_solve():
    a, b = pt.dtensor3("a"), pt.dtensor3("b")
    f = function([a, b], LA.inv(a) @ b, mode="NUMPY")
    assert "blockwise_solve" in op_names(f) and "matrix_inverse" not in op_names(f)
    x, y = spd(3, (2,)), gen(2, 3, 2)
    np.testing.assert_allclose(f(x, y), np.linalg.solve(x, y), rtol=1e-10)
    # a stack of vectors is not rewritten (matmul would read it as a matrix)
    g = function([a, b], LA.inv(a) @ b[0, :, 0], mode="NUMPY")
    np.testing.assert_allclose(g(x, y), np.linalg.inv(x) @ y[0, :, 0], rtol=1e-10)


def test_log_det_is_exact_where_the_determinant_is_out_of_range():
    f = function([X], pt.log(LA.det(X)), mode="NUMPY")
    assert "slogdet" in op_names(f)
    assert f(np.diag([1e200, 1e200, 1.0, 1.0])) == pytest.approx(400 * np.log(10))  # det overflows: log is inf
    assert np.isnan(f(np.diag([-1.0, 2.0, 3.0, 1.0])))  # log of a negative determinant
    assert f(np.diag([0.0, 2.0, 3.0, 1.0])) == -np.inf  # singular
    assert np.isnan(f(np.diag([-1e-200, 1e-200, 1.0, 1.0])))  # det underflows to -0.0: log(-0.0) is -inf, exactly nan


def test_log_prod_needs_positive_factors():
    f = function([X], pt.log(pt.prod(X, axis=1)), mode="NUMPY")  # x may be negative: not rewritten
    assert "prod" in op_names(f)
    g = function([X], pt.log(pt.prod(pt.exp(X * 300), axis=1)), mode="NUMPY")  # exp(x) > 0
    assert "prod" not in op_names(g)
    np.testing.assert_allclose(g(np.full((2, 4), 3.0)), [3600.0, 3600.0])  # the product overflows


def test_structured_determinants_with_static_shapes_keep_det():
    """The tril/triu/diag patterns are the graphs built for unknown lengths: with static shapes the
    lengths are constants and det is kept (right, and for small matrices cheaper by the cost model)."""
    a, v = pt.matrix("a", shape=(3, 3)), pt.vector("v", shape=(3,))
    f = function([a, v], [LA.det(pt.tril(a)), LA.det(pt.diag(v))], mode="NUMPY")
    assert "det" in op_names(f)
    x, y = np.random.default_rng(3).uniform(0.9, 1.1, (3, 3)), np.array([2.0, -3.0, 0.5])
    r1, r2 = f(x, y)
    np.testing.assert_allclose([r1, r2], [np.prod(np.diag(x)), -3.0], rtol=1e-12)


def test_det_of_a_structure_the_rules_do_not_know_is_kept():
    """tril(X, 1) is not triangular; diag(v, k=1) is not diagonal (det 0): the rules keep det."""
    f = function([X, V], [LA.det(pt.tril(X, 1)), LA.det(pt.diag(V, k=1))], mode="NUMPY")
    x, v = gen(4, 4, seed=3), gen(3, seed=4)
    r1, r2 = f(x, v)
    np.testing.assert_allclose(r1, np.linalg.det(np.tril(x, 1)), rtol=1e-10)
    assert r2 == 0.0


def test_every_linalg_rule_passes_the_checker():
    res = check(linalg_rules(), trials=40, seed=1)
    assert res.ok, str(res)
    assert all(r.why for r in linalg_rules())
    assert set(RULE_CASES) | {"inv_matmul_to_batched_solve"} <= set(linalg_rules().names())
