"""PyTensor's API as eqtensor offers it (docs/porting.md): constructors and types, conversions,
tensor methods and indexing, the extra ops (``extra_ops``, ``sort``, ``einsum`` and the NumPy-like
helpers), build-time checks, and PyTensor-style snippets with only the imports changed.

Each name is checked against NumPy on both backends (modes ``"NUMPY"`` and ``"C"``), and against
central finite differences where it is differentiable.
"""

from __future__ import annotations

import numpy as np
import pytest

import eqtensor
import eqtensor.tensor as pt
from eqtensor import function
from eqtensor.core.traversal import toposort
from eqtensor.gradient import verify_grad
from eqtensor.tensor import TensorType

MODES = ["NUMPY", "C"]
RNG = np.random.default_rng(42)
A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(4, 5))
V = RNG.normal(size=4)
T = RNG.normal(size=(2, 3, 4))
I = np.array([[3, 0, 2], [1, 1, 0]], dtype="int32")


def _var(value, name):
    """A symbolic input with ``value``'s dtype and unknown lengths (but its broadcastable 1s)."""
    value = np.asarray(value)
    return pt.tensor(name, dtype=value.dtype.name, shape=tuple(1 if s == 1 else None for s in value.shape))


def run(build, *values, mode):
    """``build`` applied to symbolic inputs holding ``values``, compiled in ``mode`` and called."""
    ins = [_var(v, f"in{k}") for k, v in enumerate(values)]
    out = build(*ins)
    outs = list(out) if isinstance(out, (list, tuple)) else out
    return function(ins, outs, mode=mode, on_unused_input="ignore")(*values)


def same(got, expected, rtol=1e-12):
    """Equal values, shape and dtype (nan in the same places)."""
    expected = np.asarray(expected)
    got = np.asarray(got)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, equal_nan=True)


# ============================================================================ values against NumPy
def _sorted_rows_permuted(x, p):
    return np.take_along_axis(x, np.broadcast_to(p, x.shape), -1)


def _filled(a, v):
    out = a.copy()
    np.fill_diagonal(out, v)
    return out


def _offset_filled(a, v, k):
    out = a.copy()
    rows, cols = np.arange(a.shape[0]), np.arange(a.shape[1])
    mask = cols[None, :] - rows[:, None] == k
    out[mask] = v
    return out


CASES = {
    # name: (eqtensor builder, NumPy reference, inputs)
    "cumsum": (lambda x: pt.cumsum(x, axis=1), lambda x: np.cumsum(x, axis=1), (A,)),
    "cumsum flat int8": (pt.cumsum, np.cumsum, (I.astype("int8"),)),
    "cumprod": (lambda x: pt.cumprod(x, axis=-1), lambda x: np.cumprod(x, axis=-1), (T,)),
    "cumprod flat": (pt.cumprod, np.cumprod, (A,)),
    "diff": (lambda x: pt.diff(x), np.diff, (A,)),
    "diff n=2 axis 0": (lambda x: pt.diff(x, n=2, axis=0), lambda x: np.diff(x, n=2, axis=0), (T[0].T,)),
    "sort": (pt.sort, np.sort, (A,)),
    "sort axis None": (lambda x: pt.sort(x, axis=None), lambda x: np.sort(x, axis=None), (T,)),
    "sort int stable": (lambda x: pt.sort(x, axis=0, stable=True), lambda x: np.sort(x, axis=0, stable=True), (I,)),
    "argsort": (pt.argsort, np.argsort, (A,)),
    "argsort mergesort axis 0": (lambda x: pt.argsort(x, axis=0, kind="mergesort"),
                                 lambda x: np.argsort(x, axis=0, kind="mergesort"), (I,)),
    "repeat scalar": (lambda x: pt.repeat(x, 3, axis=1), lambda x: np.repeat(x, 3, axis=1), (A,)),
    "repeat flat": (lambda x: pt.repeat(x, 2), lambda x: np.repeat(x, 2), (A,)),
    "repeat vector": (lambda x: pt.repeat(x, [1, 0, 2], axis=0), lambda x: np.repeat(x, [1, 0, 2], axis=0), (A,)),
    "repeat symbolic": (lambda x, r: pt.repeat(x, r, axis=1), lambda x, r: np.repeat(x, r, axis=1),
                        (A, np.array([2, 1, 0, 3]))),
    "tile int": (lambda x: pt.tile(x, 2), lambda x: np.tile(x, 2), (A,)),
    "tile tuple": (lambda x: pt.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), (A,)),
    "tile short reps": (lambda x: pt.tile(x, (2,)), lambda x: np.tile(x, (2,)), (T,)),
    "tile symbolic": (lambda x, r: pt.tile(x, (r, 2)), lambda x, r: np.tile(x, (int(r), 2)), (V, np.int64(3))),
    "broadcast_to": (lambda x: pt.broadcast_to(x, (3, 4)), lambda x: np.broadcast_to(x, (3, 4)).copy(), (V,)),
    "einsum matmul": (lambda a, b: pt.einsum("ij,jk->ik", a, b), lambda a, b: np.einsum("ij,jk->ik", a, b), (A, B)),
    "einsum implicit": (lambda a, b: pt.einsum("ij,jk", a, b), lambda a, b: np.einsum("ij,jk", a, b), (A, B)),
    "einsum batch": (lambda t: pt.einsum("bij,bkj->bik", t, t), lambda t: np.einsum("bij,bkj->bik", t, t), (T,)),
    "einsum ellipsis": (lambda t, v: pt.einsum("...j,j->...", t, v), lambda t, v: np.einsum("...j,j->...", t, v),
                        (T, V)),
    "einsum trace": (lambda a: pt.einsum("ii", a), lambda a: np.einsum("ii", a), (A[:, :3],)),
    "einsum diagonal": (lambda a: pt.einsum("ii->i", a), lambda a: np.einsum("ii->i", a), (A[:, :3],)),
    "einsum outer": (lambda v: pt.einsum("i,j->ji", v, v), lambda v: np.einsum("i,j->ji", v, v), (V,)),
    "einsum three": (lambda a, b, v: pt.einsum("ij,jk,i->k", a, b, a[:, 0]),
                     lambda a, b, v: np.einsum("ij,jk,i->k", a, b, a[:, 0]), (A, B, V)),
    "einsum sum int8": (lambda x: pt.einsum("ij->j", x), lambda x: np.einsum("ij->j", x), (I.astype("int8"),)),
    "linspace": (lambda a: pt.linspace(a[0, 0], a[0, 1], 7), lambda a: np.linspace(a[0, 0], a[0, 1], 7), (A,)),
    "linspace tensors axis -1": (lambda a: pt.linspace(a[0], a[1], 5, axis=-1),
                                 lambda a: np.linspace(a[0], a[1], 5, axis=-1), (A,)),
    "linspace no endpoint": (lambda a: pt.linspace(a[0], a[1], 4, endpoint=False),
                             lambda a: np.linspace(a[0], a[1], 4, endpoint=False), (A,)),
    "linspace symbolic num": (lambda n: pt.linspace(0.0, 1.0, n), lambda n: np.linspace(0.0, 1.0, int(n)),
                              (np.int64(6),)),
    "logspace": (lambda a: pt.logspace(a[0], a[1], 3), lambda a: np.logspace(a[0], a[1], 3), (A,)),
    "geomspace": (lambda a: pt.geomspace(pt.abs(a[0]), pt.abs(a[1]), 4),
                  lambda a: np.geomspace(np.abs(a[0]), np.abs(a[1]), 4), (A,)),
    "mgrid": (lambda: pt.stack(pt.mgrid[0:3, 1:5:2]), lambda: np.mgrid[0:3, 1:5:2], ()),
    "ogrid": (lambda: pt.ogrid[0:3, 0:4][0] + pt.ogrid[0:3, 0:4][1], lambda: np.ogrid[0:3, 0:4][0] + np.ogrid[0:3, 0:4][1],
              ()),
    "join": (lambda a, b: pt.join(0, a, b.T), lambda a, b: np.concatenate([a, b.T[:, :4]]) if False else
             np.concatenate([a, b.T], axis=0), (A, B)),
    "stack": (lambda a: pt.stack([a, a * 2], axis=1), lambda a: np.stack([a, a * 2], axis=1), (A,)),
    "stacklists": (lambda a: pt.stacklists([[a[0, 0], a[0, 1]], [a[1, 0], a[1, 1]]]), lambda a: a[:2, :2], (A,)),
    "horizontal_stack": (lambda a: pt.horizontal_stack(a, a[:, :1]), lambda a: np.hstack([a, a[:, :1]]), (A,)),
    "vertical_stack": (lambda a: pt.vertical_stack(a, a[:1]), lambda a: np.vstack([a, a[:1]]), (A,)),
    "atleast_1d": (pt.atleast_1d, np.atleast_1d, (np.float64(2.0),)),
    "atleast_2d": (pt.atleast_2d, np.atleast_2d, (V,)),
    "atleast_3d (left)": (pt.atleast_3d, lambda v: v[None, None], (V,)),
    "moveaxis": (lambda t: pt.moveaxis(t, 0, -1), lambda t: np.moveaxis(t, 0, -1), (T,)),
    "moveaxis several": (lambda t: pt.moveaxis(t, [0, 1], [2, 0]), lambda t: np.moveaxis(t, [0, 1], [2, 0]), (T,)),
    "swapaxes": (lambda t: pt.swapaxes(t, 0, 2), lambda t: np.swapaxes(t, 0, 2), (T,)),
    "median": (pt.median, np.median, (A,)),
    "median axis": (lambda a: pt.median(a, axis=0), lambda a: np.median(a, axis=0), (A,)),
    "median axes": (lambda t: pt.median(t, axis=(0, 2)), lambda t: np.median(t, axis=(0, 2)), (T,)),
    "median int": (lambda i: pt.median(i, axis=1), lambda i: np.median(i, axis=1), (I,)),
    "median nan": (pt.median, np.median, (np.array([1.0, np.nan, 3.0]),)),
    "ptp": (lambda a: pt.ptp(a, axis=1), lambda a: np.ptp(a, axis=1), (A,)),
    "cov": (pt.cov, np.cov, (A,)),
    "cov rowvar bias": (lambda a: pt.cov(a, rowvar=False, bias=True), lambda a: np.cov(a, rowvar=False, bias=True),
                        (A,)),
    "cov y ddof": (lambda a: pt.cov(a, a * 2 + 1, ddof=0), lambda a: np.cov(a, a * 2 + 1, ddof=0), (A,)),
    "cov vector": (pt.cov, np.cov, (V,)),
    "nan_to_num": (lambda a: pt.nan_to_num(pt.log(a)), lambda a: np.nan_to_num(np.log(a)), (A,)),
    "nan_to_num values": (lambda a: pt.nan_to_num(pt.log(a), nan=-1.0, posinf=5.0, neginf=-5.0),
                          lambda a: np.nan_to_num(np.log(a), nan=-1.0, posinf=5.0, neginf=-5.0),
                          (np.array([0.0, -1.0, np.inf, 2.0]),)),
    "nan_to_num int": (pt.nan_to_num, np.nan_to_num, (I,)),
    "isposinf": (pt.isposinf, np.isposinf, (np.array([np.inf, -np.inf, np.nan, 1.0]),)),
    "isneginf": (pt.isneginf, np.isneginf, (np.array([np.inf, -np.inf, np.nan, 1.0]),)),
    "isfinite": (pt.isfinite, np.isfinite, (np.array([np.inf, -np.inf, np.nan, 1.0]),)),
    "isfinite int": (pt.isfinite, np.isfinite, (I,)),
    "permute_row_elements": (lambda a, p: pt.permute_row_elements(a, p), _sorted_rows_permuted,
                             (A, np.array([2, 0, 3, 1]))),
    "permute_row_elements inverse": (lambda a, p: pt.permute_row_elements(a, p, inverse=True),
                                     lambda a, p: _sorted_rows_permuted(a, np.argsort(p)), (A, np.array([2, 0, 3, 1]))),
    "permute_row_elements rows": (lambda v, p: pt.permute_row_elements(v, p), lambda v, p: v[p],
                                  (V, np.array([[3, 2, 1, 0], [0, 2, 1, 3]]))),
    "inverse_permutation": (pt.inverse_permutation, lambda p: np.argsort(p).astype(p.dtype),
                            (np.array([[2, 0, 1], [0, 2, 1]], "int32"),)),
    "fill": (lambda a: pt.fill(a, 3), lambda a: np.full_like(a, 3), (A,)),
    "fill method": (lambda a, v: a.fill(v), lambda a, v: np.broadcast_to(v, a.shape).copy(), (A, np.float64(2.5))),
    "vecdot": (pt.vecdot, np.vecdot, (A, V)),
    "vecdot dtype": (lambda a, b: pt.vecdot(a, b, dtype="float32"), lambda a, b: np.vecdot(a, b).astype("float32"),
                     (A, A)),
    "matrix_dot": (lambda a, b: pt.linalg.matrix_dot(a, b, b.T), lambda a, b: a @ b @ b.T, (A, B)),
    "dense_dot": (pt.dense_dot, np.dot, (T, B)),
    "dense_dot scalar": (pt.dense_dot, np.dot, (np.float64(2.0), A)),
    "take_along_axis": (lambda a: pt.take_along_axis(a, pt.argsort(a, axis=0), axis=0),
                        lambda a: np.take_along_axis(a, np.argsort(a, axis=0), axis=0), (A,)),
    "take_along_axis broadcast": (lambda a, i: pt.take_along_axis(a, i, axis=1),
                                  lambda a, i: np.take_along_axis(a, i, axis=1), (A, np.array([[3, 0]]))),
    "take_along_axis None": (lambda t, i: pt.take_along_axis(t, i, axis=None),
                             lambda t, i: np.take_along_axis(t, i, axis=None), (T, np.array([5, 0, 23]))),
    "where one argument": (lambda a: pt.where(a > 0), lambda a: np.where(a > 0), (A,)),
    "nonzero": (lambda t: pt.nonzero(t > 0), lambda t: np.nonzero(t > 0), (T,)),
    "nonzero matrix": (lambda t: pt.nonzero(t, return_matrix=True), lambda t: np.array(np.nonzero(t)), (I,)),
    "flatnonzero": (lambda t: pt.flatnonzero(t > 0), lambda t: np.flatnonzero(t > 0), (T,)),
    "nonzero_values": (pt.nonzero_values, lambda i: i[np.nonzero(i)], (I,)),
    "compress": (lambda c, a: pt.compress(c, a, axis=1), lambda c, a: np.compress(c, a, axis=1),
                 (np.array([1, 0, 0, 1]), A)),
    "flip": (lambda t: pt.flip(t, axis=(0, 2)), lambda t: np.flip(t, axis=(0, 2)), (T,)),
    "matrix_transpose": (pt.matrix_transpose, lambda t: np.swapaxes(t, -1, -2), (T,)),
    "broadcast_arrays": (lambda a, v: pt.broadcast_arrays(a, v), lambda a, v: [np.broadcast_to(x, (3, 4)).copy()
                                                                             for x in (a, v)],
                         (A, V.reshape(1, 4))),
    "shape_padleft": (lambda v: pt.shape_padleft(v, 2), lambda v: v[None, None], (V,)),
    "shape_padright": (lambda v: pt.shape_padright(v), lambda v: v[:, None], (V,)),
    "shape_padaxis": (lambda a: pt.shape_padaxis(a, 1), lambda a: a[:, None], (A,)),
    "specify_shape": (lambda a: pt.specify_shape(a, (3, None)) * 2, lambda a: a * 2, (A,)),
    "specify_broadcastable": (lambda a: pt.specify_broadcastable(a[:1], 0) + a, lambda a: a[:1] + a, (A,)),
    "set": (lambda a: a[1].set(0.0), lambda a: np.where(np.arange(3)[:, None] == 1, 0.0, a), (A,)),
    "inc": (lambda a: a[:, [0, 0]].inc(1.0), lambda a: a + np.array([2.0, 0, 0, 0]), (A,)),
    "inc set_instead_of_inc": (lambda a: pt.inc_subtensor(a[0], 5.0, set_instead_of_inc=True),
                               lambda a: np.concatenate([np.full((1, 4), 5.0), a[1:]]), (A,)),
    "inc ignore_duplicates": (lambda a: pt.inc_subtensor(a[[0, 0]], 1.0, ignore_duplicates=True),
                              lambda a: np.concatenate([a[:1] + 1, a[1:]]), (A,)),
    "norm": (lambda a: a.norm(2, axis=1), lambda a: np.linalg.norm(a, axis=1), (A,)),
    "norm L1 keepdims": (lambda a: a.norm(1, axis=0, keepdims=True),
                         lambda a: np.linalg.norm(a, 1, axis=0, keepdims=True), (A,)),
    "axis as 0-d array": (lambda t: (t.sum(axis=np.array(1)), pt.cumsum(t, axis=np.array(-1)),
                                     pt.sort(t, axis=np.int32(0)), pt.squeeze(pt.shape_padaxis(t, 1), axis=np.array(1)),
                                     pt.expand_dims(t, np.int64(0)), t.max(axis=(np.int8(0), np.array(2)))),
                          lambda t: (t.sum(axis=1), np.cumsum(t, axis=-1), np.sort(t, axis=0), t, t[None],
                                     t.max(axis=(0, 2))), (T,)),
    "take wrap": (lambda v: pt.take(v, [5, -6], mode="wrap"), lambda v: np.take(v, [5, -6], mode="wrap"), (V,)),
    "take clip": (lambda v: pt.take(v, [5, -6], mode="clip"), lambda v: np.take(v, [5, -6], mode="clip"), (V,)),
    "sgn deg2rad rad2deg": (lambda a: (pt.sgn(a), pt.deg2rad(a), pt.rad2deg(a), pt.deg2rad(pt.cast(a, "int32"))),
                            lambda a: (np.sign(a), np.deg2rad(a), np.rad2deg(a), np.deg2rad(a.astype("int32"))), (A,)),
    "divmod ceil_intdiv": (lambda i: (*pt.divmod(i, 2), pt.ceil_intdiv(i - 1, 2)),
                           lambda i: (*np.divmod(i, 2), -((1 - i) // 2)), (I,)),
    "largest smallest": (lambda a, b: (pt.largest(a, b, 0.0), pt.smallest(a, b)),
                         lambda a, b: (np.maximum(np.maximum(a, b), 0.0), np.minimum(a, b)), (A, A[::-1])),
    "log1pexp iround": (lambda a: (pt.log1pexp(a), pt.iround(a * 3)),
                        lambda a: (np.logaddexp(0, a), np.round(a * 3).astype("int64")), (A,)),
    "max_and_argmax": (lambda a: pt.max_and_argmax(a, axis=1), lambda a: (a.max(axis=1), a.argmax(axis=1)), (A,)),
    "matvec vecmat": (lambda t, v, b: (pt.matvec(t, v), pt.vecmat(v[:3], t[0])),
                      lambda t, v, b: (np.matvec(t, v), np.vecmat(v[:3], t[0])), (T, V, B)),
    "empty extract_diag": (lambda a: (pt.empty((2, 3)), pt.empty_like(a, "int8"), pt.extract_diag(a)),
                           lambda a: (np.zeros((2, 3)), np.zeros_like(a, "int8"), np.diagonal(a)), (A,)),
    "tril_indices triu_indices": (lambda a, n: (*pt.tril_indices(3, -1), *pt.triu_indices(n, 1, 5),
                                                *pt.tril_indices_from(a), *pt.triu_indices_from(a, 2)),
                                  lambda a, n: (*np.tril_indices(3, -1), *np.triu_indices(int(n), 1, 5),
                                                *np.tril_indices_from(a), *np.triu_indices_from(a, 2)),
                                  (A, np.int64(4))),
    "fill_diagonal": (lambda a, t: (pt.fill_diagonal(a, 7.0), pt.fill_diagonal(pt.stack([t[0, :2, :2]] * 2), -1.0),
                                    pt.fill_diagonal_offset(a, 2.0, -1), pt.fill_diagonal_offset(a, 3.0, 2)),
                      lambda a, t: [_filled(a, 7.0), _filled(np.stack([t[0, :2, :2]] * 2), -1.0),
                                    _offset_filled(a, 2.0, -1), _offset_filled(a, 3.0, 2)], (A, T)),
    "bincount": (lambda i, w: (pt.bincount(i), pt.bincount(i, minlength=9), pt.bincount(i, weights=w)),
                 lambda i, w: (np.bincount(i), np.bincount(i, minlength=9), np.bincount(i, weights=w)),
                 (np.array([3, 0, 3, 5], "int32"), np.array([0.5, 1.0, 2.0, 4.0]))),
    "concat_with_broadcast": (lambda a, c: pt.concat_with_broadcast([a, c], axis=1),
                              lambda a, c: np.concatenate([a, np.broadcast_to(c, (3, 1))], axis=1),
                              (A, np.ones((1, 1)))),
    "bartlett": (lambda m: (pt.bartlett(m), pt.bartlett(6)), lambda m: (np.bartlett(int(m)), np.bartlett(6)),
                 (np.int64(7),)),
    "split": (lambda t, s: pt.split(t, s, n_splits=2, axis=2), lambda t, s: np.split(t, [int(s[0])], axis=2),
              (T, np.array([1, 3]))),
    "split static": (lambda a: pt.split(a, [1, 0, 3]), lambda a: np.split(a, [1, 1]), (A[:, 0],)),
    "methods": (lambda a: (a.ravel(), a.sort(axis=0), a.argsort(), a.cumsum(), a.cumprod(axis=1), a.ptp(),
                           a.repeat(2, axis=0), a.nonzero_values(), a.mT, a.exp(), a.arccos(), a.trunc(),
                           a.sum(axis=0, dtype="float32"), a.var(0, 1), a.zeros_like(), a.ones_like("int8")),
                lambda a: (a.ravel(), np.sort(a, 0), np.argsort(a), np.cumsum(a), np.cumprod(a, 1), np.ptp(a),
                           np.repeat(a, 2, 0), a[a != 0], a.T, np.exp(a), np.arccos(a), np.trunc(a),
                           a.astype("float32").sum(axis=0), a.var(0, ddof=1), np.zeros_like(a),
                           np.ones_like(a, "int8")), (A,)),
}


#: a C function of several cases is kept under the C backend's table threshold (TABLE_FROM: 16 inputs or
#: outputs), so that each case still goes through the code path of a small function
_BATCH_LIMIT = 15
_C_RESULTS: dict = {}


def _c_results(names):
    """The C backend's results of the cases ``names``, several independent cases per compiled function
    (one C module costs ~0.3 s of compiler time, a case's share of it ~0.02 s): name -> result. A case
    that does not build, or whose batch does not compile or run, is left out: its test compiles it
    alone (and reports its own error)."""
    if _C_RESULTS:
        return _C_RESULTS
    batches, current, n_in, n_out = [], [], 0, 0
    for name in sorted(names):
        build, _, values = CASES[name]
        ins = [_var(v, f"in{k}") for k, v in enumerate(values)]
        try:
            out = build(*ins)
        except Exception:  # noqa: BLE001  (the case's own test reports it)
            continue
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        if current and (n_in + len(ins) > _BATCH_LIMIT or n_out + len(outs) > _BATCH_LIMIT):
            batches.append(current)
            current, n_in, n_out = [], 0, 0
        current.append((name, ins, outs, isinstance(out, (list, tuple))))
        n_in, n_out = n_in + len(ins), n_out + len(outs)
    if current:
        batches.append(current)
    for batch in batches:
        ins = [i for _, case_ins, _, _ in batch for i in case_ins]
        outs = [o for _, _, case_outs, _ in batch for o in case_outs]
        values = [v for name, _, _, _ in batch for v in CASES[name][2]]
        try:
            with np.errstate(all="ignore"):
                got = function(ins, outs, mode="C", on_unused_input="ignore")(*values)
        except Exception:  # noqa: BLE001  (each case of the batch is then compiled alone by its test)
            continue
        for name, _, case_outs, several in batch:
            _C_RESULTS[name] = got[:len(case_outs)] if several else got[0]
            got = got[len(case_outs):]
    _C_RESULTS[None] = "computed"
    return _C_RESULTS


@pytest.fixture(scope="module")
def selected_c_cases(request):
    """The names of the cases that ``test_matches_numpy`` checks on C in this session (after ``-k``)."""
    return {item.callspec.params["name"] for item in request.session.items
            if getattr(item, "originalname", None) == "test_matches_numpy" and item.module is request.module
            and item.callspec.params["mode"] == "C"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy(name, mode, selected_c_cases):
    build, ref, values = CASES[name]
    with np.errstate(all="ignore"):
        batched = _c_results(selected_c_cases) if mode == "C" else {}
        got = batched[name] if name in batched else run(build, *values, mode=mode)
        expected = ref(*values)
    if isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            same(g, e, rtol=1e-6 if np.asarray(e).dtype == np.float32 else 1e-12)
    else:
        same(got, expected)


def test_static_shapes_follow_the_inputs():
    m = pt.matrix("m", shape=(2, 3))
    assert pt.tile(m, (2, 1, 2)).type.shape == (2, 2, 6)
    assert pt.repeat(m, 2, axis=0).type.shape == (4, 3)
    assert pt.repeat(m, [1, 2, 0], axis=1).type.shape == (2, 3)
    assert pt.cumsum(m).type.shape == (6,)
    assert pt.sort(m).type.shape == (2, 3) and pt.argsort(m).type.shape == (2, 3)
    assert pt.diff(m, axis=1).type.shape == (2, 2)
    assert pt.median(m, axis=1).type.shape == (2,)
    assert pt.linspace(0, 1, 5).type.shape == (5,)
    assert pt.einsum("ij,jk->ki", m, pt.matrix("n", shape=(3, 4))).type.shape == (4, 2)
    assert pt.mgrid[0:3, 0:4][0].type.shape == (3, 4) and pt.ogrid[0:3, 0:4][1].type.shape == (1, 4)
    assert pt.cov(m).type.shape == (2, 2) and pt.cov(pt.vector("v", shape=(5,))).type.shape == ()
    # data-dependent lengths are unknown
    assert pt.nonzero(m)[0].type.shape == (None,)
    assert pt.flatnonzero(m).type.shape == (None,) and pt.nonzero_values(m).type.shape == (None,)
    assert pt.where(m > 0)[1].type.shape == (None,)


# ============================================================================ derivatives
GRADS = {
    "cumsum": (lambda x: pt.cumsum(x, axis=0), [A]),
    "cumsum flat": (pt.cumsum, [A]),
    "cumprod": (lambda x: pt.cumprod(x, axis=1), [np.abs(A) + 0.5]),
    "sort": (lambda x: pt.sort(x, axis=0), [A]),
    "sort flat": (lambda x: pt.sort(x, axis=None), [A]),
    "median": (lambda x: pt.median(x, axis=1), [A]),
    "median odd": (pt.median, [T[0]]),
    "repeat vector": (lambda x: pt.repeat(x, [2, 1, 0], axis=0), [A]),
    "repeat scalar": (lambda x: pt.repeat(x, 2, axis=1), [A]),
    "tile": (lambda x: pt.tile(x, (2, 3)), [A]),
    "diff": (lambda x: pt.diff(x, n=2), [A]),
    "einsum": (lambda a, b: pt.einsum("ij,jk->ik", a, b), [A, B]),
    "einsum diagonal": (lambda a: pt.einsum("ii->i", a), [A[:, :3]]),
    "einsum batch": (lambda t: pt.einsum("bij,bkj->bki", t, t), [T]),
    "take_along_axis": (lambda x: pt.take_along_axis(x, np.array([[0, 2], [1, 1], [3, 0]]), axis=1), [A]),
    "permute_row_elements": (lambda x: pt.permute_row_elements(x, np.array([[1, 0, 3, 2]]), inverse=True), [A]),
    "nonzero_values": (lambda x: pt.nonzero_values(x * (np.abs(A) > 0.5)), [A]),
    "cov": (pt.cov, [A]),
    "ptp": (lambda x: pt.ptp(x, axis=0), [A]),
    "vecdot": (pt.vecdot, [A, V]),
    "matrix_dot": (pt.linalg.matrix_dot, [A, B, B.T]),
    "linspace ends": (lambda a, b: pt.linspace(a, b, 5), [V, V + 1]),
    "norm": (lambda x: x.norm(3, axis=1), [A]),
    "fill": (lambda x, v: pt.fill(x, v) * x, [A, np.float64(2.0)]),
    "nan_to_num": (lambda x: pt.nan_to_num(x), [A]),
    "specify_shape": (lambda x: pt.specify_shape(x, (3, 4)) ** 2, [A]),
    "moveaxis and atleast": (lambda t: pt.atleast_3d(pt.moveaxis(t, 0, -1)[0]), [T]),
    "stacklists": (lambda x: pt.stacklists([[x[0, 0], x[1, 1]], [x[2, 2], x[0, 3]]]), [A]),
}


#: checked on the C backend too: the new ops (the formulas are made of ops the per-op tests compile for C)
GRADS_ON_C = ("cumsum", "cumprod", "sort", "repeat vector", "specify_shape", "einsum", "median")


@pytest.mark.parametrize("name, mode", [(n, "NUMPY") for n in sorted(GRADS)] + [(n, "C") for n in GRADS_ON_C])
def test_gradient_matches_finite_differences(name, mode):
    fun, point = GRADS[name]
    verify_grad(fun, [np.array(p, dtype="float64") for p in point], rng=np.random.default_rng(1), mode=mode)


# ============================================================================ constructors and types
def test_typed_constructors_are_tensor_types():
    assert pt.dscalar == TensorType("float64", ()) and TensorType("float64", (None, None)) == pt.dmatrix
    assert pt.fvector == TensorType("float32", (None,)) and pt.lrow == TensorType("int64", (1, None))
    assert pt.zcol == TensorType("complex128", (None, 1)) and pt.btensor7 == TensorType("int8", (None,) * 7)
    x = pt.dmatrix("x")
    assert x.type == pt.dmatrix and x.name == "x" and isinstance(pt.dmatrix, TensorType)
    assert pt.dvector("v", shape=(3,)).type == TensorType("float64", (3,))
    assert pt.imatrix(shape=(None, 2)).type.shape == (None, 2)
    with pytest.raises(ValueError, match="incompatible"):
        pt.drow("r", shape=(2, 3))
    with pytest.raises(ValueError, match="incompatible"):
        pt.dvector(shape=(2, 3))
    assert {pt.dmatrix, TensorType("float64", (None, None))} == {pt.dmatrix}
    assert pt.tensor5("t").type.shape == (None,) * 5 and pt.tensor7(dtype="int8").dtype == "int8"
    import pickle

    again = pickle.loads(pickle.dumps(pt.dmatrix))
    assert again == pt.dmatrix and again("y").type == pt.dmatrix
    assert pt.int_types == (pt.bscalar, pt.wscalar, pt.iscalar, pt.lscalar) and pt.float_vector_types[1] == pt.dvector
    with pytest.raises(ValueError):
        pt.row(shape=(2, None))


def test_plural_constructors():
    x, y = pt.dscalars("x", "y")
    assert (x.name, y.name, x.type) == ("x", "y", pt.dscalar)
    a, b, c = pt.matrices("abc")  # one string: one variable per letter, as PyTensor
    assert [v.name for v in (a, b, c)] == ["a", "b", "c"] and a.type == pt.matrix().type
    single = pt.fvectors("v")  # a single one-letter name: the variable itself
    assert single.name == "v" and single.type == pt.fvector
    assert [v.type for v in pt.lscalars(3)] == [pt.lscalar] * 3
    assert [v.name for v in pt.itensor3s(["p", "q"])] == ["p", "q"]
    for name in ("scalars", "fscalars", "dscalars", "iscalars", "lscalars", "vectors", "fvectors", "dvectors",
                 "ivectors", "lvectors", "matrices", "fmatrices", "dmatrices", "imatrices", "lmatrices", "rows",
                 "frows", "drows", "irows", "lrows", "cols", "fcols", "dcols", "icols", "lcols", "tensor3s",
                 "dtensor3s", "tensor4s", "ftensor4s", "tensor5s", "dtensor5s", "tensor6s", "tensor7s", "ltensor7s"):
        u, w = getattr(pt, name)("u", "w")
        assert u.ndim == w.ndim == {"scalars": 0, "vectors": 1, "matrices": 2, "rows": 2, "cols": 2}.get(
            name.lstrip("fdil") if not name.startswith("tensor") else name, None) or u.ndim == int(name[-2])
    assert pt.drows("r").type == pt.drow and pt.icols("c").type == pt.icol


def test_as_tensor_variable():
    with pytest.raises(TypeError, match="Python bool"):
        pt.as_tensor_variable(True)
    assert (pt.dvector("x") + False).dtype == "float64"  # in arithmetic a Python bool is a weak scalar (NumPy)
    assert pt.as_tensor_variable(np.array(True)).dtype == "bool"
    with eqtensor.config.change_flags(floatX="float32"):
        assert pt.as_tensor_variable([]).type == TensorType("float32", (0,))
    assert pt.as_tensor_variable([]).dtype == eqtensor.config.floatX
    assert pt.as_tensor_variable([1, 2], dtype="int8").type == pt.bvector.clone(shape=(2,))
    assert pt.as_tensor_variable(3, dtype="float32").type == TensorType("float32", ())
    assert pt.as_tensor_variable(np.ones((1, 1, 3)), ndim=1).type.shape == (3,)
    assert pt.as_tensor_variable(np.ones(3), ndim=2).type.shape == (1, 3)
    r = pt.drow("r")
    assert pt.as_tensor_variable(r, ndim=1).type == pt.dvector
    assert pt.as_tensor_variable(pt.dvector("v"), ndim=3).type.shape == (1, 1, None)
    with pytest.raises(ValueError, match="cannot be made 1-dimensional"):
        pt.as_tensor_variable(pt.dmatrix("m"), ndim=1)
    with pytest.raises(ValueError):
        pt.as_tensor_variable(np.ones((2, 3)), ndim=1)
    with pytest.raises(NotImplementedError, match="masked"):
        pt.as_tensor_variable(np.ma.masked_array([1.0, 2.0], mask=[0, 1]))
    with pytest.raises(NotImplementedError, match="masked"):
        eqtensor.shared(np.ma.masked_array([1.0, 2.0], mask=[0, 1]))
    assert pt.constant([[1, 2]], ndim=1).type == pt.lvector.clone(shape=(2,))
    assert pt.constant(True).dtype == "bool" and pt.constant(1.5).dtype == eqtensor.config.floatX


def test_flatten_keeps_static_lengths():
    assert pt.flatten(pt.tensor("t", shape=(None, 1, 1)), 2).type.shape == (None, 1)
    assert pt.flatten(pt.tensor("t", shape=(1, 1))).type.shape == (1,)
    assert pt.flatten(pt.tensor("t", shape=(2, None, 3)), 2).type.shape == (2, None)
    assert pt.flatten(pt.dscalar("s")).type.shape == (1,)
    m = pt.dmatrix("m")
    assert pt.flatten(m, 2) is m and m.flatten().type.shape == (None,)


def test_shape_helpers():
    assert pt.get_vector_length(pt.dtensor3("t").shape) == 3
    assert pt.get_vector_length(pt.vector("v", shape=(4,))) == 4
    with pytest.raises(ValueError, match="cannot be determined"):
        pt.get_vector_length(pt.dvector("v"))
    with pytest.raises(TypeError, match="must be a vector"):
        pt.get_vector_length(pt.dmatrix("m"))
    s = pt.dscalar("s")
    assert pt.scalar_from_tensor(s) is s and pt.tensor_from_scalar(s) is s
    with pytest.raises(TypeError):
        pt.scalar_from_tensor(pt.dvector("v"))
    x = pt.dmatrix("x")
    assert pt.specify_shape(x, (2, 3)).type.shape == (2, 3)
    assert pt.specify_shape(x, (..., 3)).type.shape == (None, 3)
    assert pt.specify_shape(pt.specify_shape(x, (2, 3)), (None, 3)).type.shape == (2, 3)
    n = pt.lscalar("n")
    assert pt.specify_shape(x, (n, 3)).type.shape == (None, 3)
    assert pt.specify_shape(x, pt.as_tensor_variable([4, 5])).type.shape == (4, 5)
    assert pt.specify_broadcastable(x, 1).type.shape == (None, 1)
    with pytest.raises(ValueError, match="never match"):
        pt.specify_shape(x, (2,))
    with pytest.raises(ValueError, match="can never be"):
        pt.specify_shape(pt.specify_shape(x, (2, 3)), (4, 3))
    for mode in MODES:
        f = function([x, n], pt.specify_shape(x, (n, 3)).sum(), mode=mode)
        assert float(f(np.ones((2, 3)), 2)) == 6.0
        with pytest.raises(AssertionError, match="specify_shape"):
            f(np.ones((2, 3)), 4)
        with pytest.raises(AssertionError, match="specify_shape"):
            function([x], pt.specify_shape(x, (None, 3)), mode=mode)(np.ones((2, 2)))
    # a vector of known length iterates (PyTensor's __iter__), others do not
    a, b = pt.vector("v", shape=(2,))
    assert a.type == b.type == pt.dscalar
    rows, cols = x.shape
    assert rows.type == pt.lscalar
    with pytest.raises(TypeError, match="iterated"):
        list(pt.dvector("v"))
    assert pt.broadcast_to(pt.dvector("v"), x.shape).type.shape == (None, None)


def test_stack_helpers_refuse_what_pytensor_refuses():
    with pytest.raises(ValueError, match="two dimensions"):
        pt.horizontal_stack(pt.dvector("v"), pt.dvector("w"))
    with pytest.raises(ValueError, match="at least two"):
        pt.vertical_stack(pt.dmatrix("m"))
    with pytest.raises(TypeError, match="list or tuple"):
        pt.concatenate(pt.dvector("v"), pt.dvector("w"))
    v = pt.dvector("v")
    assert pt.join(0, v) is v
    with pytest.raises(IndexError):
        pt.shape_padaxis(v, 3)


def test_sort_arguments():
    x = pt.dmatrix("x")
    assert pt.sort(x, kind="mergesort").owner.op.params["kind"] == "mergesort"
    assert pt.sort(x, stable=True).owner.op.params["kind"] == "stable"
    with pytest.raises(ValueError, match="kind"):
        pt.sort(x, kind="bogo")
    with pytest.raises(ValueError, match="not both"):
        pt.argsort(x, kind="heapsort", stable=True)
    with pytest.raises(ValueError, match="order"):
        pt.sort(x, order="f")
    with pytest.raises(ValueError):
        pt.sort(x, axis=2)
    with pytest.raises(ValueError):
        pt.cumsum(pt.dtensor3("t"), axis=-4)
    assert pt.sort(pt.dscalar("s"), axis=None).type.shape == (1,)
    with pytest.raises(ValueError, match="0-d"):
        pt.sort(pt.dscalar("s"))


def test_cast_refuses_complex_to_real():
    z = pt.zvector("z")
    for dtype in ("int64", "float64", "bool"):
        with pytest.raises(TypeError, match="ambiguous"):
            pt.cast(z, dtype)
    with pytest.raises(TypeError, match="ambiguous"):
        z.astype("int32")
    assert pt.cast(z, "complex64").dtype == "complex64"
    assert pt.cast(pt.ivector("i"), "floatX").dtype == eqtensor.config.floatX


def test_set_subtensor_refuses_static_mismatch():
    x = pt.vector("x", shape=(5,))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        pt.set_subtensor(x[:3], np.ones(4))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        x[[0, 1]].set(pt.vector("y", shape=(3,)))
    with pytest.raises(TypeError, match="cannot be broadcast"):  # more dimensions: PyTensor's TypeError
        pt.inc_subtensor(x[1:], np.ones((2, 4)))
    with pytest.raises(TypeError, match="indexed tensor"):
        x.set(1.0)


def test_einsum_errors():
    a = pt.matrix("a", shape=(2, 3))
    with pytest.raises(ValueError, match="operands"):
        pt.einsum("ij,jk", a)
    with pytest.raises(ValueError, match="does not match"):
        pt.einsum("ijk", a)
    with pytest.raises(ValueError, match="lengths"):
        pt.einsum("ij,ij", a, pt.matrix("b", shape=(2, 4)))
    with pytest.raises(ValueError, match="not in any input"):
        pt.einsum("ij->k", a)
    with pytest.raises(ValueError, match="repeated"):
        pt.einsum("ij->ii", a)
    with pytest.raises(ValueError, match="needs '...' too"):
        pt.einsum("i...->i", a)


def test_repeat_and_tile_errors():
    m = pt.matrix("m", shape=(2, 3))
    with pytest.raises(ValueError, match="repeats for an axis of length"):
        pt.repeat(m, [1, 2], axis=1)
    with pytest.raises(TypeError, match="integers"):
        pt.repeat(m, 1.5)
    with pytest.raises(ValueError, match="negative"):
        pt.repeat(m, -1)
    with pytest.raises(ValueError, match="length of reps"):
        pt.tile(m, pt.lvector("r"))
    assert pt.tile(m, pt.specify_shape(pt.lvector("r"), (2,))).type.shape == (None, None)
    assert pt.tile(m, (1, 1)) is m


def test_where_and_fill():
    c = pt.dvector("c") > 0
    assert isinstance(pt.where(c), tuple)
    assert pt.where(c, 1.0, 0.0).owner.op.name == "switch"
    with pytest.raises(ValueError, match="both"):
        pt.where(c, 1.0)
    x = pt.fmatrix("x")
    assert pt.fill(x, 0).dtype == "float32" and x.fill(2.5).dtype == "float32"
    assert pt.fill(pt.imatrix("i"), 0.5).dtype == "float64"  # a float does not fit int32 (NEP 50)
    assert pt.second(x, pt.dvector("v")).type == pt.dmatrix


# ============================================================================ PyTensor-style snippets
def test_snippet_cumop():
    """As PyTensor's TestCumOp, with eqtensor's imports."""
    from eqtensor import function
    from eqtensor.tensor import tensor3
    from eqtensor.tensor.extra_ops import cumprod, cumsum

    x = tensor3("x")
    a = np.random.default_rng(0).random((3, 5, 2))
    for axis in (3, -4):
        with pytest.raises(ValueError):
            cumsum(x, axis=axis)
        with pytest.raises(ValueError):
            cumprod(x, axis=axis)
    f = function([x], [cumsum(x), cumprod(x)])
    s, p = f(a)
    assert np.allclose(np.cumsum(a), s) and np.allclose(np.cumprod(a), p)
    for axis in range(-len(a.shape), len(a.shape)):
        f = function([x], [cumsum(x, axis=axis), cumprod(x, axis=axis)])
        s, p = f(a)
        assert np.allclose(np.cumsum(a, axis=axis), s) and np.allclose(np.cumprod(a, axis=axis), p)


def test_snippet_stacklists():
    from numpy import ones

    from eqtensor import function
    from eqtensor.tensor import stacklists
    from eqtensor.tensor import matrices, scalars

    a, b, c, d = scalars("abcd")
    X = stacklists([[a, b], [c, d]])
    f = function([a, b, c, d], X)
    np.testing.assert_array_equal(f(1, 2, 3, 4), [[1.0, 2.0], [3.0, 4.0]])
    a, b, c, d = matrices("abcd")
    X = stacklists([[a, b], [c, d]])
    f = function([a, b, c, d], X)
    x = ones((4, 4), "float64")
    assert f(x, x, x, x).shape == (2, 2, 4, 4)


def test_snippet_tile_and_repeat_docs():
    import eqtensor.tensor as pt

    A = pt.matrix("A", dtype=int)
    A_tiled = pt.tile(A, 2)
    np.testing.assert_array_equal(A_tiled.eval({A: [[1, 2], [3, 4]]}), [[1, 2, 1, 2], [3, 4, 3, 4]])
    rep0 = pt.scalar("rep0", dtype=int)
    A_tiled = pt.tile(A, (rep0, 1))
    np.testing.assert_array_equal(A_tiled.eval({A: [[1, 2], [3, 4]], rep0: 2}), [[1, 2], [3, 4], [1, 2], [3, 4]])
    reps = pt.vector("reps", dtype=int, shape=(2,))
    np.testing.assert_array_equal(pt.tile(A, reps).eval({A: [[1, 2], [3, 4]], reps: [1, 2]}),
                                  [[1, 2, 1, 2], [3, 4, 3, 4]])
    reps = pt.specify_shape(pt.vector("reps", dtype=int), (2,))
    assert pt.tile(A, reps).eval({A: [[1, 2], [3, 4]], reps.owner.inputs[0]: [2, 2]}).shape == (4, 4)
    a = pt.arange(4).reshape((2, 2))
    np.testing.assert_array_equal(pt.repeat(a, repeats=[2, 3], axis=0).eval(),
                                  [[0, 1], [0, 1], [2, 3], [2, 3], [2, 3]])
    np.testing.assert_array_equal(pt.repeat(a, repeats=[2, 3, 0, 1], axis=None).eval(), [0, 0, 1, 1, 1, 3])


def test_snippet_set_inc_and_grids():
    import eqtensor.tensor as pt

    x = pt.ones((3,))
    np.testing.assert_array_equal(x[1].set(2).eval(), [1.0, 2.0, 1.0])
    np.testing.assert_array_equal(x[1].inc(2).eval(), [1.0, 3.0, 1.0])
    a = pt.mgrid[0:5, 0:3]
    np.testing.assert_array_equal(a[0].eval(), np.mgrid[0:5, 0:3][0])
    b = pt.ogrid[0:5, 0:3]
    np.testing.assert_array_equal(b[1].eval(), [[0, 1, 2]])


@pytest.mark.parametrize("op", ["linspace", "logspace", "geomspace"])
@pytest.mark.parametrize("dtype", [None, "int64", "floatX"])
@pytest.mark.parametrize("start, stop, num_samples, endpoint, axis", [
    (1, 10, 50, True, 0), (1, 10, 1, True, 0),
    (np.array([5, 6]), np.array([[10, 10], [10, 10]]), 25, True, 0),
    (np.array([5, 6]), np.array([[10, 10], [10, 10]]), 25, True, 1),
    (np.array([5, 6]), np.array([[10, 10], [10, 10]]), 25, False, -1),
    (1, np.array([5, 6]), 30, True, 0), (1, np.array([5, 6]), 30, False, -1),
])
def test_snippet_space_ops(op, dtype, start, stop, num_samples, endpoint, axis):
    """As PyTensor's test_space_ops, with eqtensor's imports (integer dtypes round toward -inf, as NumPy)."""
    from eqtensor import config, function

    dtype = dtype if dtype != "floatX" else config.floatX
    z = getattr(pt, op)(start, stop, num_samples, endpoint=endpoint, axis=axis, dtype=dtype)
    numpy_res = getattr(np, op)(start, stop, num=num_samples, endpoint=endpoint, dtype=dtype, axis=axis)
    res = function(inputs=[], outputs=z, mode="FAST_COMPILE")()
    np.testing.assert_allclose(res, numpy_res, atol=1e-6, rtol=1e-6)


def test_snippet_linspace_retstep():
    samples, step = pt.linspace(0, 1, num=3, retstep=True)
    expected_samples, expected_step = np.linspace(0, 1, num=3, retstep=True)
    actual_samples, actual_step = function([], [samples, step])()
    np.testing.assert_allclose(actual_samples, expected_samples)
    np.testing.assert_allclose(actual_step, expected_step)
    assert step.dtype == expected_step.dtype


def test_snippet_einsum_and_sort():
    import eqtensor.tensor as pt
    from eqtensor import function

    x, y = pt.dmatrices("x", "y")
    out = pt.einsum("ij,jk->ik", x, y)
    f = function([x, y], out)
    xv, yv = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(f(xv, yv), xv @ yv)
    a = pt.dmatrix()
    w = pt.sort(a, axis=None)
    np.testing.assert_array_equal(function([a], w)(xv[::-1]), np.sort(xv, axis=None))
    idx = pt.argsort(a)
    assert function([a], idx)(xv[:, ::-1]).tolist() == [[2, 1, 0], [2, 1, 0]]


def test_every_op_of_this_module_is_used_by_a_case():
    """The ops declared for this API are exercised above (the per-op tests cover the rest)."""
    used = set()
    for build, _, values in CASES.values():
        ins = [_var(v, f"in{k}") for k, v in enumerate(values)]
        out = build(*ins)
        used |= {n.op.name for n in toposort(list(out) if isinstance(out, (list, tuple)) else [out])}
    assert {"cumsum", "cumprod", "sort", "argsort", "repeat", "specify_shape"} <= used


# ============================================================================ compile API (In, shared, Mode)
def test_in_strict_allow_downcast_and_mutable():
    x, v = pt.dvector("x"), pt.fvector("v")
    f = function([eqtensor.In(x, strict=True)], x * 2)
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    for bad in ([1.0, 2.0], np.ones(2, "float32")):
        with pytest.raises(TypeError, match="strict"):
            f(bad)
    g = function([eqtensor.In(v, allow_downcast=True)], v * 2)
    assert g(np.full(2, 0.1)).dtype == np.float32
    h = function([eqtensor.In(v, allow_downcast=False)], v * 2, allow_input_downcast=True)
    with pytest.raises(TypeError, match="lose information"):
        h(np.full(2, 0.1))
    m = function([eqtensor.In(x, mutable=True)], x + 1)  # allowed to overwrite: eqtensor never does
    arg = np.zeros(2)
    np.testing.assert_array_equal(m(arg), [1.0, 1.0])
    np.testing.assert_array_equal(arg, [0.0, 0.0])


def test_shared_strict_and_allow_downcast():
    s = eqtensor.shared(np.zeros(2), strict=True)
    with pytest.raises(TypeError, match="strict"):
        s.set_value([1.0, 2.0])
    with pytest.raises(TypeError, match="strict"):
        eqtensor.shared(1.0, strict=True)
    s.set_value(np.ones(2))
    np.testing.assert_array_equal(s.get_value(), [1.0, 1.0])
    d = eqtensor.shared(np.zeros(2, "float32"), allow_downcast=True)
    d.set_value(np.full(2, 0.1))
    assert d.get_value().dtype == np.float32
    with pytest.raises(TypeError, match="lose information"):
        eqtensor.shared(np.zeros(2, "float32")).set_value(np.full(2, 0.1))


@pytest.mark.parametrize("linker, optimizer, backend, optimize", [
    ("py", None, "numpy", False), ("c", "fast_run", "c", True), ("cvm", "o2", "c", False), ("c|py", "o4", "c", True),
    ("vm", "None", "c", False), ("numba", "merge", "c", False), (None, "fast_compile", "numpy", False)])
def test_mode_linker_and_optimizer_strings(linker, optimizer, backend, optimize):
    mode = eqtensor.Mode(linker=linker, optimizer=optimizer)
    assert (mode.backend, mode.optimize) == (backend, optimize)
    x = pt.dvector("x")
    np.testing.assert_allclose(function([x], pt.log(1 + pt.exp(x)), mode=mode)(np.array([0.0, 2.0])),
                               np.log1p(np.exp([0.0, 2.0])))
    with pytest.raises(ValueError, match="unknown or unsupported linker"):
        eqtensor.Mode(linker="pytorch")
    with pytest.raises(ValueError, match="unknown optimizer"):
        eqtensor.Mode(optimizer="fastest")


def test_function_profile():
    x = pt.dvector("x")
    f = function([x], x * 2, profile=True)
    f(np.ones(3))
    assert f.profile is not None


# ============================================================================ printing
@pytest.mark.parametrize("mode", ["FAST_COMPILE", *MODES])
def test_print_prints_at_run_time_and_survives_the_optimizer(mode, capsys):
    from eqtensor.printing import Print

    x = pt.dvector("x")
    f = function([x], Print("x is", attrs=("__str__", "shape"))(x) * 2, mode=mode)
    assert capsys.readouterr().out == ""  # nothing at compile time
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 4.0])
    assert capsys.readouterr().out == "x is __str__ = [1. 2.]\nx is shape = (2,)\n"
    c = function([], Print("c")(np.ones(2)) + 1, mode=mode)  # a constant input is not folded away
    assert capsys.readouterr().out == ""
    c()
    assert capsys.readouterr().out == "c __str__ = [1. 1.]\n"
    g = eqtensor.grad(Print("y")(x).sum(), x)  # the gradient of the identity
    np.testing.assert_array_equal(function([x], g, mode=mode)(np.ones(2)), [1.0, 1.0])


def test_pp_pydotprint_names_and_debugprint_depth():
    from eqtensor.printing import debugprint, pp, pprint, pydotprint

    x = pt.dvector("x")
    y = (pt.exp(x * 2) + 1).sum()
    assert pp(y) == pprint(y)
    dot = pydotprint(pt.exp(x), var_with_name_simple=True)
    assert 'label="x"' in dot and 'label="exp\\nfloat64[?]"' in dot
    assert 'label="x\\nfloat64[?]"' in pydotprint(pt.exp(x))
    # PyTensor's depth: the output is level 1
    assert debugprint(y, depth=0, file="str") == ""
    assert debugprint(y, depth=1, file="str").splitlines() == ["sum{axis=(0,), keepdims=False} [id A]"]
    assert len(debugprint(y, depth=2, file="str").splitlines()) == 2
    assert len(debugprint(y, file="str").splitlines()) == 7  # sum, add, exp, mul, x, 2.0, 1.0


# ============================================================================ gradients
def test_pushforward_pullback_lop_rop_at_top_level():
    x, W, V = pt.dvector("x"), pt.dmatrix("W"), pt.dmatrix("V")
    xv, Vv = np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
    for fn in (eqtensor.pushforward, eqtensor.Rop, eqtensor.gradient.pushforward):
        np.testing.assert_allclose(fn(pt.dot(x, W), W, V).eval({x: xv, V: Vv}), xv @ Vv)
    # as PyTensor: the Jacobian-vector product no longer uses W, and listing it raises
    with pytest.raises(eqtensor.UnusedInputError):
        function([x, W, V], eqtensor.Rop(pt.dot(x, W), W, V))
    u = pt.dvector("u")
    for fn in (eqtensor.pullback, eqtensor.Lop, eqtensor.gradient.pullback):
        np.testing.assert_allclose(fn(pt.dot(x, W), W, u).eval({x: xv, u: np.array([3.0, 4.0])}),
                                   np.outer(xv, [3.0, 4.0]))
    y = pt.dvector("y")
    [g] = eqtensor.pullback([x * 2], [y], [u], disconnected_inputs="ignore", return_disconnected="none")
    assert g is None
    out = eqtensor.pushforward(y * 0 + 1, x, u, disconnected_outputs="ignore", return_disconnected="disconnected")
    assert isinstance(out, eqtensor.gradient.DisconnectedType)


def test_grad_with_respect_to_an_integer_input_as_pytensor():
    i, x = pt.iscalar("i"), pt.dvector("x")
    cases = [(i ** 2, [i], [3], 0.0), (i * 2.5, [i], [3], 2.5), (pt.cast(i, "float64") ** 2, [i], [3], 6.0),
             (pt.sin(i), [i], [3], np.cos(3)), ((i * x).sum(), [i, x], [3, np.array([1.0, 2.0])], 0.0)]
    for cost, ins, vals, want in cases:
        g = eqtensor.grad(cost, i)
        assert g.dtype == "float64"
        assert float(function(ins, g, on_unused_input="ignore")(*vals)) == pytest.approx(want, rel=1e-12)


# ============================================================================ axis as NumPy values, build-time checks
@pytest.mark.parametrize("axis", [np.array(1), np.int64(1), np.int32(-1), np.array([1])])
def test_axis_given_as_numpy_values(axis):
    m = pt.dmatrix("m")
    v = RNG.normal(size=(2, 3))
    for build, ref in ((lambda a: pt.sum(m, axis=a), lambda a: v.sum(axis=1)),
                       (lambda a: pt.max(m, axis=a), lambda a: v.max(axis=1)),
                       (lambda a: pt.mean(m, axis=a), lambda a: v.mean(axis=1)),
                       (lambda a: pt.argmax(m, axis=a), lambda a: v.argmax(axis=1)),
                       (lambda a: pt.cumsum(m, axis=a), lambda a: v.cumsum(axis=1)),
                       (lambda a: pt.special.softmax(m, axis=a), lambda a: np.exp(v) / np.exp(v).sum(1, keepdims=True)),
                       (lambda a: pt.linalg.norm(m, axis=a), lambda a: np.linalg.norm(v, axis=1)),
                       (lambda a: m.sum(axis=a), lambda a: v.sum(axis=1))):
        np.testing.assert_allclose(build(axis).eval({m: v}), ref(axis), rtol=1e-12)


def test_build_time_checks_pytensor_makes():
    x = pt.dvector("x")
    s = eqtensor.shared(np.zeros(3))
    with pytest.raises(TypeError, match="not a shared variable"):
        function([x], x, updates=[(x, x + 1)])
    with pytest.raises(TypeError, match="dimension"):
        function([x], x, updates=[(s, pt.dmatrix("m"))])
    with pytest.raises(TypeError, match="lose information"):
        function([x], x, updates=[(s, pt.cast(x, "complex128"))])
    with pytest.raises(TypeError, match="updates must be"):
        function([x], x, updates=[s])
    with pytest.raises(TypeError, match="bool"):
        pt.as_tensor_variable(True)
    with pytest.raises(TypeError, match="complex"):
        pt.cast(pt.zvector("z"), "int32")
    masked = np.ma.masked_array([1.0, 2.0], mask=[0, 1])
    with pytest.raises(NotImplementedError, match="masked"):
        pt.as_tensor_variable(masked)
    with pytest.raises(NotImplementedError, match="masked"):
        eqtensor.shared(masked)
    with pytest.raises(TypeError, match="masked array"):
        function([x], x * 2)(masked)
    m = pt.tensor("m", shape=(3, 4), dtype="float64")
    with pytest.raises(ValueError, match="cannot be broadcast"):
        pt.set_subtensor(m[0], np.ones(5))
