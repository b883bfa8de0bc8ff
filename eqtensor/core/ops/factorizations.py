"""The LU and QR factorizations of ``scipy.linalg``, batched over leading dimensions (dtypes and
batching: :mod:`.lapack`): ``lu{which, permute_l, p_indices}``, ``lu_factor{which}``,
``qr{which, mode}``, with ``pivot_to_permutation{inverse}`` (integer) and
``lu_solve{trans, b_ndim}``.

A decomposition has several results; eqtensor's nodes have one output, so each result is a node of
its own and ``which`` selects it (as ``scan`` does). The decomposition runs once per distinct input
and thread: the sibling nodes find it in a one-entry memo (:func:`.lapack.decomposition`), so
``P``, ``L`` and ``U`` of one ``lu`` come from a single LAPACK call and are mutually consistent.

>>> from eqtensor import tensor as pt
>>> A = pt.tensor3("A", shape=(5, 3, 3))
>>> [v.type.shape for v in lu(A)]
[(5, 3, 3), (5, 3, 3), (5, 3, 3)]
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, declare
from .lapack import (
    _bool, _check_solve_params, _nan_like, _which, batch_size, cast, check_aligned, check_square, core_b,
    decomposition, default_b_ndim, matrix_dims, per_matrix, real_dtype, work_dtype,
)
from .linalg import _known


# ============================================================================ LU
def _lu_outputs(permute_l):
    return 2 if permute_l else 3


def _lu_infer(op, inputs):
    (a,) = inputs
    p = op.params
    if p["permute_l"] and p["p_indices"]:
        raise ValueError("lu: permute_l and p_indices cannot both be true")
    _which("lu", p["which"], _lu_outputs(p["permute_l"]))
    n, _ = matrix_dims("lu", a)
    dtype = work_dtype(a.dtype)
    batch = a.type.shape[:-2]
    if p["which"] == 0 and p["p_indices"]:
        return TensorType("int32", batch + (n,))
    if p["which"] == 0 and not p["permute_l"]:
        return TensorType(real_dtype(dtype), batch + (n, n))
    return TensorType(dtype, batch + (n, n))


def _lu_all(a, permute_l, p_indices):
    import scipy.linalg  # lazy

    def one(a1):
        if a1.size == 0:
            outs = (np.zeros(a1.shape, a1.dtype),) * (2 if permute_l else 3)
            return (np.zeros(a1.shape[:1], "int32"),) + outs[1:] if p_indices else outs
        return tuple(scipy.linalg.lu(a1, permute_l=permute_l, p_indices=p_indices, check_finite=False))

    return per_matrix(one, [a], [2])


def _lu(a, which, permute_l, p_indices):
    a = cast(a, work_dtype(a.dtype))
    check_square("lu", a)
    outs = decomposition(("lu", permute_l, p_indices), lambda x: _lu_all(x, permute_l, p_indices), a)
    out = outs[which]
    if which == 0 and p_indices:
        return out.astype("int32")
    if which == 0 and not permute_l:
        return out.astype(real_dtype(a.dtype))
    return out.astype(a.dtype)


declare("lu", "linalg", 1, _lu_infer, _lu, params=("which", "permute_l", "p_indices"),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 2 * _known(types[0].shape[-1]) ** 3 / 3,
        doc="one result of the LU decomposition A = P L U (which: P or p or PL, L, U)")


def lu(a, permute_l=False, check_finite=True, p_indices=False, overwrite_a=False):
    """The LU decomposition ``a = P @ L @ U`` of square matrices (``scipy.linalg.lu``): ``(P, L, U)``
    with ``P`` a permutation matrix and ``L`` of unit diagonal; ``(p, L, U)`` with ``p_indices``
    (int32 row indices, ``a == (L @ U)[p]``); ``(P @ L, U)`` with ``permute_l``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> p, L, U = lu(A, p_indices=True)
    >>> p.eval({A: np.array([[1.0, 2.0], [3.0, 4.0]])})
    array([1, 0], dtype=int32)
    """
    a = as_tensor_variable(a)
    permute_l = _bool("lu", "permute_l", permute_l)
    p_indices = _bool("lu", "p_indices", p_indices)
    return tuple(Op(OPS["lu"], {"which": k, "permute_l": permute_l, "p_indices": p_indices})(a)
                 for k in range(_lu_outputs(permute_l)))


def _lu_factor_infer(op, inputs):
    (a,) = inputs
    _which("lu_factor", op.params["which"], 2)
    n, _ = matrix_dims("lu_factor", a)
    if op.params["which"] == 1:
        return TensorType("int32", a.type.shape[:-2] + (n,))
    return TensorType(work_dtype(a.dtype), a.type.shape[:-2] + (n, n))


def _lu_factor_all(a):
    import scipy.linalg.lapack  # lazy

    def one(a1):
        if a1.size == 0:
            return np.zeros(a1.shape, a1.dtype), np.zeros(a1.shape[:1], "int32")
        (getrf,) = scipy.linalg.lapack.get_lapack_funcs(("getrf",), (a1,))
        lu_, piv, info = getrf(a1, overwrite_a=False)
        if info > 0:  # exactly singular: nan, as PyTensor (scipy.linalg.lu_factor only warns)
            lu_ = _nan_like(lu_.shape, lu_.dtype)
        return lu_, piv.astype("int32")

    return per_matrix(one, [a], [2])


def _lu_factor(a, which):
    a = cast(a, work_dtype(a.dtype))
    check_square("lu_factor", a)
    out = decomposition(("lu_factor",), _lu_factor_all, a)[which]
    return out.astype("int32" if which else a.dtype)


declare("lu_factor", "linalg", 1, _lu_factor_infer, _lu_factor, params=("which",),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 2 * _known(types[0].shape[-1]) ** 3 / 3,
        doc="one result of scipy.linalg.lu_factor (which: 0 the packed LU, 1 the int32 pivots)")


def lu_factor(a, *, check_finite=True, overwrite_a=False):
    """LU factorization with partial pivoting (``scipy.linalg.lu_factor``): ``(LU, pivots)``, ``L``
    (unit diagonal, not stored) and ``U`` packed in one matrix, ``pivots`` int32 (row ``i`` was
    interchanged with row ``pivots[i]``). An exactly singular matrix gives a ``nan`` ``LU``
    (PyTensor's rule).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> LU, piv = lu_factor(A)
    >>> piv.eval({A: np.array([[1.0, 2.0], [3.0, 4.0]])})
    array([1, 1], dtype=int32)
    """
    a = as_tensor_variable(a)
    return tuple(Op(OPS["lu_factor"], {"which": k})(a) for k in range(2))


def _pivot_infer(op, inputs):
    (p,) = inputs
    if p.ndim < 1 or not (p.dtype.startswith("int") or p.dtype.startswith("uint")):
        raise TypeError(f"pivot_to_permutation: expected integer pivots (a vector or a stack), got {p.type}")
    return TensorType("int64", p.type.shape)


def _pivot_one(piv, inverse):
    p_inv = np.arange(len(piv), dtype="int64")
    for i, j in enumerate(piv):
        p_inv[i], p_inv[j] = p_inv[j], p_inv[i]
    return p_inv if inverse else np.argsort(p_inv).astype("int64")


def _pivot_to_permutation(piv, inverse):
    return per_matrix(lambda p: _pivot_one(p, inverse), [np.asarray(piv)], [1])


declare("pivot_to_permutation", "linalg", 1, _pivot_infer, _pivot_to_permutation, params=("inverse",),
        cost=4.0, differentiable=False,
        doc="LAPACK row interchanges as a permutation: a[perm] == (L @ U) (inverse: the inverse permutation)")


def pivot_to_permutation(p, inverse=False):
    """The permutation of LAPACK pivots ``p`` (row ``i`` interchanged with row ``p[i]``, in order):
    with ``perm = pivot_to_permutation(p)``, ``(L @ U)[perm] == a`` for ``LU, p = lu_factor(a)``;
    ``inverse=True`` gives the inverse permutation (``a[inv] == L @ U``). int64, batched.

    >>> from eqtensor import tensor as pt
    >>> import numpy as np
    >>> pivot_to_permutation(np.array([2, 2, 2], "int32")).eval()
    array([1, 2, 0])
    """
    return Op(OPS["pivot_to_permutation"], {"inverse": _bool("pivot_to_permutation", "inverse", inverse)})(
        as_tensor_variable(p))


def _lu_solve_infer(op, inputs):
    lu_, piv, b = inputs
    if not (piv.dtype.startswith("int") or piv.dtype.startswith("uint")):
        raise TypeError(f"lu_solve: pivots must be integers, got {piv.type}")
    shape = core_b("lu_solve", lu_, b, op.params["b_ndim"])
    return TensorType(work_dtype(lu_.dtype, b.dtype), shape)


def _lu_solve(lu_, piv, b, trans, b_ndim):
    import scipy.linalg  # lazy

    dtype = work_dtype(lu_.dtype, b.dtype)
    lu_, b = cast(lu_, dtype), cast(b, dtype)
    check_aligned("lu_solve", lu_, b, b_ndim)

    def one(l1, p1, b1):
        if b1.size == 0 or l1.size == 0:
            return np.zeros(b1.shape, dtype)
        return np.array(scipy.linalg.lu_solve((l1, p1), b1, trans=int(trans), check_finite=False), dtype=dtype)

    return per_matrix(one, [lu_, np.asarray(piv), b], [2, 1, b_ndim])


declare("lu_solve", "linalg", 3, _lu_solve_infer, _lu_solve, params=("trans", "b_ndim"),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 2.0 * _known(types[0].shape[-1]) ** 2
        * (_known(types[2].shape[-1]) if op.params["b_ndim"] == 2 else 1),
        doc="x with A @ x = b (A.mT @ x = b with trans) from the packed LU factors and pivots of A")


def lu_solve(LU_and_pivots, b, trans=False, b_ndim=None, check_finite=True, overwrite_b=False):
    """The solution of ``A @ x = b`` (``A.mT @ x = b`` with ``trans``) given ``lu_factor(A)``
    (``scipy.linalg.lu_solve``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A, b = pt.dmatrix("A"), pt.dvector("b")
    >>> lu_solve(lu_factor(A), b).eval({A: np.array([[1.0, 2.0], [3.0, 4.0]]), b: np.array([5.0, 11.0])})
    array([1., 2.])
    """
    lu_, piv = LU_and_pivots
    b = as_tensor_variable(b)
    b_ndim = default_b_ndim(b, b_ndim)
    _check_solve_params("lu_solve", False, b_ndim)
    return Op(OPS["lu_solve"], {"trans": _bool("lu_solve", "trans", bool(trans)), "b_ndim": b_ndim})(
        as_tensor_variable(lu_), as_tensor_variable(piv), b)


# ============================================================================ QR
QR_MODES = {"full": 2, "economic": 2, "r": 1, "raw": 3}


def _qr_infer(op, inputs):
    (a,) = inputs
    mode, which = op.params["mode"], op.params["which"]
    if mode not in QR_MODES:
        raise ValueError(f"qr: mode must be one of {list(QR_MODES)}, got {mode!r}")
    _which(f"qr(mode={mode!r})", which, QR_MODES[mode])
    m, n = matrix_dims("qr", a, square=False)
    k = min(m, n) if m is not None and n is not None else 0 if 0 in (m, n) else None
    shapes = {"full": [(m, m), (m, n)], "economic": [(m, k), (k, n)], "r": [(m, n)],
              "raw": [(m, n), (k,), (k, n)]}[mode]
    return TensorType(work_dtype(a.dtype), a.type.shape[:-2] + shapes[which])


def _qr_all(a, mode):
    import scipy.linalg  # lazy

    def one(a1):
        out = scipy.linalg.qr(a1, mode=mode, check_finite=False)
        if mode == "raw":
            (h, tau), r = out
            return h, tau, r
        return tuple(out)

    return per_matrix(one, [a], [2])


def _qr(a, which, mode):
    a = cast(a, work_dtype(a.dtype))
    if a.ndim < 2:
        raise ValueError(f"qr: expected a matrix, got an array of shape {a.shape}")
    if 0 in a.shape[-2:]:
        raise ValueError(f"qr: empty matrices are not supported (shape {a.shape})")
    out = decomposition(("qr", mode), lambda x: _qr_all(x, mode), a)[which]
    return out.astype(a.dtype)


declare("qr", "linalg", 1, _qr_infer, _qr, params=("which", "mode"),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 4.0 * _known(types[0].shape[-2])
        * _known(types[0].shape[-1]) * min(_known(types[0].shape[-2]), _known(types[0].shape[-1])),
        doc="one result of scipy.linalg.qr (full: Q, R; economic: Q, R; r: R; raw: H, tau, R)")


def qr(A, mode="full", overwrite_a=False, pivoting=False, lwork=None):
    """The QR decomposition ``A = Q @ R`` (``scipy.linalg.qr``): ``mode="full"`` (or ``"complete"``)
    gives ``Q`` (m, m) and ``R`` (m, n); ``"economic"`` (or ``"reduced"``) ``Q`` (m, k) and ``R``
    (k, n) with ``k = min(m, n)``; ``"r"`` only ``R`` (m, n), the bare ``R`` as PyTensor (SciPy
    returns a one-element tuple); ``"raw"`` the Householder matrix ``H`` (m, n), ``tau`` (k,) and
    ``R`` (k, n), SciPy's arrays. ``pivoting`` is not supported.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> Q, R = qr(A, mode="economic")
    >>> a = np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 1.0]])
    >>> np.allclose((Q @ R).eval({A: a}), a)
    True
    """
    if pivoting:
        raise NotImplementedError("qr: pivoting=True is not supported")
    mode = {"complete": "full", "reduced": "economic"}.get(mode, mode)
    if mode not in QR_MODES:
        raise ValueError(f"qr: mode must be 'full', 'economic', 'r', 'raw', 'complete' or 'reduced', got {mode!r}")
    A = as_tensor_variable(A)
    outs = tuple(Op(OPS["qr"], {"which": k, "mode": mode})(A) for k in range(QR_MODES[mode]))
    return outs[0] if mode == "r" else outs


__all__ = ["lu", "lu_factor", "lu_solve", "pivot_to_permutation", "qr"]
