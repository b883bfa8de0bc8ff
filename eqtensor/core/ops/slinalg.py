"""Linear algebra after ``scipy.linalg`` (PyTensor's ``slinalg``): factorizations and structured solves.

Ops, each batched over leading dimensions (a stack of matrices ``(..., m, m)``; batch dimensions of
several inputs broadcast as in ``np.matmul``):

- ``cholesky`` — the lower factor ``L`` (``L @ L.T == A``), reading the lower triangle of ``A``;
  ``nan`` where ``A`` is not positive definite (PyTensor's ``on_error="nan"``). The upper factor is
  ``cholesky(A.mT).mT`` (:func:`cholesky` with ``lower=False`` builds that), so the op has no
  parameter and rules about it hold for both factors.
- ``solve_triangular{lower, unit_diagonal, b_ndim}``, ``cho_solve{lower, b_ndim}``,
  ``blockwise_solve{assume_a, lower, b_ndim}`` (``scipy.linalg.solve`` for stacks of matrices or a
  structured ``assume_a``; the plain two-dimensional general case is the op ``solve`` of
  :mod:`.linalg`), ``lu_solve{trans, b_ndim}``: ``b_ndim`` says whether the core of ``b`` is a
  vector (1) or a matrix (2), as in PyTensor. A singular system gives ``nan``, as in PyTensor.
- ``lu{which, permute_l, p_indices}``, ``lu_factor{which}``, ``qr{which, mode}``: decompositions with
  several results. eqtensor's nodes have one output, so each result is a node of its own and
  ``which`` selects it (as ``scan`` does). The decomposition runs once per distinct input and thread:
  the sibling nodes find it in a one-entry memo (:func:`decomposition`), so ``P``, ``L`` and ``U`` of
  one ``lu`` come from a single LAPACK call and are mutually consistent.
- ``pivot_to_permutation{inverse}`` (integer), ``expm``, ``eigvalsh{lower}`` (one input, or two for
  the generalized problem ``A v = w B v``).

Formulas (no op of their own): :func:`solve` (PyTensor's dispatcher: ``assume_a``, ``transposed``,
triangular and diagonal shortcuts), :func:`block_diag`.

Dtypes follow LAPACK (PyTensor's ``linalg_output_dtype``): float64 and integers wider than 16 bits
compute in float64, float32 and narrower types in float32, complex stays complex; the
implementations cast their inputs to that dtype, so the static dtype is the result's.

>>> from eqtensor import tensor as pt
>>> A = pt.tensor3("A", shape=(5, 3, 3))
>>> cholesky(A).type
TensorType(float64, shape=(5, 3, 3))
>>> [v.type.shape for v in lu(A)]
[(5, 3, 3), (5, 3, 3), (5, 3, 3)]
>>> solve_triangular(A, pt.dvector("b"), lower=True).type.shape
(5, 3)
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, declare
from . import linalg
from .creation import zeros
from .elemwise import true_div
from .linalg import _known, diagonal
from .shape import dimshuffle, expand_dims, shape_i
from .subtensor import set_subtensor


# ============================================================================ shared helpers
def work_dtype(*dtypes) -> str:
    """The dtype LAPACK computes in for inputs of these dtypes (PyTensor's ``linalg_output_dtype``).

    >>> work_dtype("int8"), work_dtype("int64"), work_dtype("float32", "float64"), work_dtype("complex64")
    ('float32', 'float64', 'float64', 'complex64')
    """

    def one(dt):
        dt = np.dtype(dt)
        if dt.kind == "c":
            return np.dtype("complex64" if dt.itemsize <= 8 else "complex128")
        if dt.kind not in "biuf":
            raise TypeError(f"linear algebra does not support inputs of dtype {dt}")
        if (dt.kind == "f" and dt.itemsize > 4) or (dt.kind in "iub" and dt.itemsize > 2):
            return np.dtype("float64")
        return np.dtype("float32")

    return np.result_type(*(one(d) for d in dtypes)).name


def real_dtype(dtype: str) -> str:
    """The real dtype of the same precision (singular values, eigenvalues of Hermitian matrices)."""
    dt = np.dtype(dtype)
    return np.finfo(dt).dtype.name if dt.kind == "c" else dt.name


def _fmt(shape):
    return str(tuple(shape))


def matrix_dims(opname, x, square=True):
    """The static ``(rows, cols)`` of ``x``'s core matrices; errors name the shape."""
    if x.ndim < 2:
        raise ValueError(f"{opname}: expected a matrix (or a stack of matrices), got {x.type}")
    n, m = x.type.shape[-2:]
    if square and n is not None and m is not None and n != m:
        raise ValueError(f"{opname}: expected square matrices, got static shape {_fmt(x.type.shape)}")
    if square:
        n = m = n if n is not None else m
    return n, m


def batch_shape(opname, *shapes) -> tuple:
    """Static broadcast of batch shapes (length 1 broadcasts; an unknown length takes a known one)."""
    nd = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    out = []
    for d, dims in enumerate(zip(*padded)):
        known = {x for x in dims if x is not None and x != 1}
        if len(known) > 1:
            raise ValueError(f"{opname}: batch dimensions {[_fmt(s) for s in shapes]} do not broadcast "
                             f"(batch axis {d}: {sorted(known)})")
        out.append(known.pop() if known else 1 if all(x == 1 for x in dims) else None)
    return tuple(out)


def core_b(opname, a, b, b_ndim):
    """Check ``b`` against the square ``a`` for a solve; returns the static shape of the solution."""
    if b_ndim not in (1, 2):
        raise ValueError(f"{opname}: b_ndim must be 1 or 2, got {b_ndim!r}")
    n, _ = matrix_dims(opname, a)
    if b.ndim < b_ndim:
        raise ValueError(f"{opname}: b must have at least b_ndim={b_ndim} dimensions, got {b.type}")
    k = b.type.shape[b.ndim - b_ndim]
    if n is not None and k is not None and n != k:
        raise ValueError(f"{opname}: shapes {_fmt(a.type.shape)} and {_fmt(b.type.shape)} are not aligned: a "
                         f"has {n} rows but the core of b has {k}")
    core = (n if n is not None else k,) + b.type.shape[b.ndim - b_ndim + 1:]
    return batch_shape(opname, a.type.shape[:-2], b.type.shape[:b.ndim - b_ndim]) + core


def batch_size(shape) -> float:
    return float(math.prod(_known(s) for s in shape))


def cast(a, dtype):
    return np.asarray(a).astype(dtype, copy=False)


def check_square(opname, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{opname}: expected square matrices, got an array of shape {a.shape}")


def check_aligned(opname, a, b, b_ndim):
    check_square(opname, a)
    if b.ndim < b_ndim or b.shape[b.ndim - b_ndim] != a.shape[-1]:
        raise ValueError(f"{opname}: shapes {a.shape} and {b.shape} are not aligned (b_ndim={b_ndim})")


def per_matrix(fn, arrays, cores):
    """``fn`` applied to the core blocks of ``arrays`` (``cores[i]`` trailing dimensions of array
    ``i``), over their broadcast batch dimensions; ``fn`` returns an array or a tuple of arrays,
    stacked the same way. An empty batch calls ``fn`` once on zeros for the result shapes."""
    shapes = [a.shape[:a.ndim - c] for a, c in zip(arrays, cores)]
    batch = np.broadcast_shapes(*shapes)
    if not batch:
        return fn(*arrays)
    arrays = [np.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, cores)]
    results = [fn(*(a[i] for a in arrays)) for i in np.ndindex(*batch)]
    if not results:
        probe = fn(*(np.zeros(a.shape[a.ndim - c:], a.dtype) for a, c in zip(arrays, cores)))
        many = isinstance(probe, tuple)
        outs = [np.empty(batch + p.shape, p.dtype) for p in (probe if many else (probe,))]
        return tuple(outs) if many else outs[0]
    if isinstance(results[0], tuple):
        return tuple(np.stack(r).reshape(batch + r[0].shape) for r in zip(*results))
    return np.stack(results).reshape(batch + results[0].shape)


_MEMO = threading.local()


def decomposition(key, fn, *arrays):
    """Every result of the decomposition ``fn(*arrays)``, remembered for the last inputs of ``key``
    (op name and parameters other than ``which``) in this thread: the sibling nodes selecting the
    other results of the same input reuse the call. The inputs are compared bit for bit with a
    copy, so a hit returns exactly what a new call would; callers return copies of the results
    (the schedule may overwrite an op's output in place)."""
    memo = getattr(_MEMO, "entries", None)
    if memo is None:
        memo = _MEMO.entries = {}
    arrays = [np.ascontiguousarray(a) for a in arrays]
    hit = memo.get(key)
    if hit is not None and len(hit[0]) == len(arrays) and all(
            p.shape == a.shape and p.dtype == a.dtype and np.array_equal(p.view(np.uint8), a.view(np.uint8))
            for p, a in zip(hit[0], arrays)):
        return hit[1]
    outs = fn(*arrays)
    memo[key] = ([a.copy() for a in arrays], outs)
    return outs


def _nan_like(shape, dtype):
    return np.full(shape, np.nan, dtype)


def _which(opname, which, n):
    if which not in range(n):
        raise ValueError(f"{opname}: which must be in 0..{n - 1}, got {which!r}")


def _bool(opname, what, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{opname}: {what} must be a bool, got {v!r}")
    return bool(v)


def swap_last(x):
    """``x.mT``: the last two axes swapped."""
    order = list(range(x.ndim))
    order[-2], order[-1] = order[-1], order[-2]
    return dimshuffle(x, *order)


def default_b_ndim(b, b_ndim):
    """PyTensor's rule: the core of ``b`` is a matrix when ``b`` has 2 or more dimensions."""
    if b_ndim is None:
        return min(as_tensor_variable(b).ndim, 2)
    if b_ndim not in (1, 2):
        raise ValueError(f"b_ndim must be None, 1 or 2, got {b_ndim!r}")
    return b_ndim


# ============================================================================ cholesky
def _cholesky_infer(op, inputs):
    (a,) = inputs
    n, _ = matrix_dims("cholesky", a)
    return TensorType(work_dtype(a.dtype), a.type.shape[:-2] + (n, n))


def _cholesky_one(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return _nan_like(a.shape, a.dtype)


def _cholesky(a):
    a = cast(a, work_dtype(a.dtype))
    check_square("cholesky", a)
    if a.size == 0:
        return np.empty(a.shape, a.dtype)
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:  # some matrix of the stack is not positive definite: nan for it only
        return per_matrix(_cholesky_one, [a], [2])


declare("cholesky", "linalg", 1, _cholesky_infer, _cholesky,
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * _known(types[0].shape[-1]) ** 3 / 3,
        doc="lower Cholesky factor of positive-definite matrices (reads the lower triangle; nan if not "
            "positive definite)")


def cholesky(x, lower=True, *, check_finite=True, overwrite_a=False, on_error="nan"):
    """The Cholesky factor of positive-definite ``x`` (a matrix or a stack): ``L @ L.mT == x`` with
    ``L`` lower triangular (``lower=True``, reading the lower triangle of ``x``), or ``U.mT @ U == x``
    with ``U`` upper triangular (``lower=False``, reading the upper triangle). Where ``x`` is not
    positive definite the factor is ``nan`` (PyTensor's default ``on_error="nan"``; ``"raise"`` is
    deprecated there and not supported here). ``check_finite`` and ``overwrite_a`` are accepted and
    ignored, as in PyTensor.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> cholesky(A).eval({A: np.array([[4.0, 2.0], [2.0, 5.0]])})
    array([[2., 0.],
           [1., 2.]])
    """
    if on_error != "nan":
        raise ValueError(f"cholesky: only on_error='nan' is supported (got {on_error!r}); test the result "
                         f"with isnan instead")
    x = as_tensor_variable(x)
    if _bool("cholesky", "lower", lower):
        return Op(OPS["cholesky"])(x)
    return swap_last(Op(OPS["cholesky"])(swap_last(x)))


# ============================================================================ triangular / Cholesky solves
def _solve_infer(opname):
    def infer(op, inputs):
        a, b = inputs
        shape = core_b(opname, a, b, op.params["b_ndim"])
        return TensorType(work_dtype(a.dtype, b.dtype), shape)

    return infer


def _solve_flops(factor_cube):
    def flops(op, types, values):
        a, b = types
        n = _known(a.shape[-1])
        k = _known(b.shape[-1]) if op.params["b_ndim"] == 2 else 1
        batch = batch_size(batch_shape("flops", a.shape[:-2], b.shape[:b.ndim - op.params["b_ndim"]]))
        return batch * (factor_cube * n ** 3 + 2.0 * n * n * k)

    return flops


def _solve_blocks(opname, solve_one, a, b, b_ndim):
    """Cast, check, and solve each core system (``solve_one(a, b) -> x``, nan when it fails)."""
    dtype = work_dtype(a.dtype, b.dtype)
    a, b = cast(a, dtype), cast(b, dtype)
    check_aligned(opname, a, b, b_ndim)

    def one(a1, b1):
        if b1.size == 0 or a1.size == 0:
            return np.zeros(b1.shape, dtype)
        try:
            x = solve_one(a1, b1)
        except np.linalg.LinAlgError:
            return _nan_like(b1.shape, dtype)
        return np.array(x, dtype=dtype)

    return per_matrix(one, [a, b], [2, b_ndim])


def _solve_triangular(a, b, lower, unit_diagonal, b_ndim):
    import scipy.linalg  # lazy: see eqtensor.core.ops.elemwise

    return _solve_blocks("solve_triangular", lambda a1, b1: scipy.linalg.solve_triangular(
        a1, b1, lower=lower, unit_diagonal=unit_diagonal, check_finite=False), a, b, b_ndim)


def _cho_solve(c, b, lower, b_ndim):
    import scipy.linalg  # lazy

    return _solve_blocks("cho_solve", lambda c1, b1: scipy.linalg.cho_solve((c1, lower), b1, check_finite=False),
                         c, b, b_ndim)


#: assume_a values of blockwise_solve (PyTensor's long names are normalized by :func:`solve`)
ASSUME_A = ("gen", "sym", "her", "pos")


def _blockwise_solve(a, b, assume_a, lower, b_ndim):
    import scipy.linalg  # lazy

    if assume_a == "gen" and a.size and b.size:  # the whole stack in one call (the same LAPACK gesv)
        dtype = work_dtype(a.dtype, b.dtype)
        a2, b2 = cast(a, dtype), cast(b, dtype)
        check_aligned("blockwise_solve", a2, b2, b_ndim)
        try:
            return np.linalg.solve(a2, b2[..., None])[..., 0] if b_ndim == 1 else np.linalg.solve(a2, b2)
        except np.linalg.LinAlgError:  # some matrix is singular: solve one by one, nan for those
            pass
    return _solve_blocks("blockwise_solve", lambda a1, b1: scipy.linalg.solve(
        a1, b1, assume_a=assume_a, lower=lower, check_finite=False), a, b, b_ndim)


declare("solve_triangular", "linalg", 2, _solve_infer("solve_triangular"), _solve_triangular,
        params=("lower", "unit_diagonal", "b_ndim"), flops=_solve_flops(0.0),
        doc="x with a @ x = b for triangular a (reads the lower or upper triangle; nan if singular)")
declare("cho_solve", "linalg", 2, _solve_infer("cho_solve"), _cho_solve, params=("lower", "b_ndim"),
        flops=_solve_flops(0.0), doc="x with (c @ c.mT) @ x = b (lower) or (c.mT @ c) @ x = b (upper)")
declare("blockwise_solve", "linalg", 2, _solve_infer("blockwise_solve"), _blockwise_solve,
        params=("assume_a", "lower", "b_ndim"), flops=_solve_flops(0.7),
        doc="scipy.linalg.solve over stacks of matrices, general or structured (nan if singular)")


def _check_solve_params(opname, lower, b_ndim):
    _bool(opname, "lower", lower)
    if b_ndim not in (1, 2):
        raise ValueError(f"{opname}: b_ndim must be 1 or 2, got {b_ndim!r}")


def solve_triangular(a, b, *, trans=0, lower=False, unit_diagonal=False, check_finite=True, b_ndim=None):
    """The solution ``x`` of ``a @ x = b`` for triangular ``a`` (``scipy.linalg.solve_triangular``):
    only the lower (``lower=True``) or upper triangle of ``a`` is read, its diagonal taken as ones with
    ``unit_diagonal``; ``trans`` 0/``"N"``, 1/``"T"`` or 2/``"C"`` solves ``a.mT @ x = b`` or
    ``a.mT.conj() @ x = b``. ``b_ndim`` says whether the core of ``b`` is a vector or a matrix
    (default: a matrix when ``b`` has 2 or more dimensions). Singular systems give ``nan``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> L, b = pt.dmatrix("L"), pt.dvector("b")
    >>> solve_triangular(L, b, lower=True).eval({L: np.array([[2.0, 9.0], [1.0, 1.0]]), b: np.array([2.0, 3.0])})
    array([1., 2.])
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    b_ndim = default_b_ndim(b, b_ndim)
    lower = _bool("solve_triangular", "lower", lower)
    if trans in (1, "T", True):
        a, lower = swap_last(a), not lower
    elif trans == 2 or trans == "C":
        a, lower = swap_last(a), not lower
        if a.dtype.startswith("complex"):
            raise NotImplementedError("solve_triangular: trans='C' of complex matrices needs conj (not an op "
                                      "of eqtensor yet)")
    elif trans not in (0, "N", False):
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    _check_solve_params("solve_triangular", lower, b_ndim)
    params = {"lower": lower, "unit_diagonal": _bool("solve_triangular", "unit_diagonal", unit_diagonal),
              "b_ndim": b_ndim}
    return Op(OPS["solve_triangular"], params)(a, b)


def cho_solve(c_and_lower, b, *, check_finite=True, b_ndim=None):
    """The solution ``x`` of ``A @ x = b`` given the Cholesky factor of ``A`` as ``(c, lower)``
    (``scipy.linalg.cho_solve``): ``A = c @ c.mT`` when ``lower``, else ``A = c.mT @ c``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A, b = pt.dmatrix("A"), pt.dvector("b")
    >>> x = cho_solve((cholesky(A), True), b)
    >>> x.eval({A: np.array([[4.0, 2.0], [2.0, 5.0]]), b: np.array([6.0, 7.0])})
    array([1., 1.])
    """
    c, lower = c_and_lower
    b = as_tensor_variable(b)
    b_ndim = default_b_ndim(b, b_ndim)
    _check_solve_params("cho_solve", lower, b_ndim)
    return Op(OPS["cho_solve"], {"lower": bool(lower), "b_ndim": b_ndim})(as_tensor_variable(c), b)


_LONG_NAMES = {"general": "gen", "symmetric": "sym", "hermitian": "her", "positive definite": "pos"}


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True, assume_a="gen",
          transposed=False, b_ndim=None):
    """The solution ``x`` of ``a @ x = b`` for square ``a`` (or a stack), PyTensor's ``solve``.

    ``assume_a`` chooses the solver: ``"gen"``/``"general"``, ``"sym"``/``"symmetric"``,
    ``"her"``/``"hermitian"``, ``"pos"``/``"positive definite"`` (these read only the ``lower`` or
    upper triangle of ``a``), ``"lower triangular"``/``"upper triangular"`` (:func:`solve_triangular`)
    or ``"diagonal"`` (a division by the diagonal). ``transposed`` solves ``a.mT @ x = b``; ``b_ndim``
    says whether the core of ``b`` is a vector or a matrix (default: a matrix when ``b`` has 2 or more
    dimensions). ``overwrite_*`` and ``check_finite`` are accepted and ignored.

    The plain case — one general matrix ``a`` and a vector or matrix ``b`` — is the op ``solve``
    (``np.linalg.solve``, which raises ``LinAlgError`` for an exactly singular ``a``); stacks and
    structured solvers are the op ``blockwise_solve`` (``scipy.linalg.solve``, ``nan`` where a system
    is singular, as PyTensor).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A, b = pt.dmatrix("A"), pt.dvector("b")
    >>> solve(A, b, assume_a="pos").eval({A: np.array([[4.0, 2.0], [2.0, 5.0]]), b: np.array([6.0, 7.0])})
    array([1., 1.])
    >>> solve(A, b).owner.op.name, solve(A, b, assume_a="pos").owner.op
    ('solve', blockwise_solve{assume_a='pos', lower=False, b_ndim=1})
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    kind = assume_a.lower() if isinstance(assume_a, str) else assume_a
    kind = _LONG_NAMES.get(kind, kind)
    if kind in ("lower triangular", "upper triangular"):
        return solve_triangular(a, b, lower=kind == "lower triangular", trans=1 if transposed else 0,
                                b_ndim=b_ndim)
    b_ndim = default_b_ndim(b, b_ndim)
    if kind == "diagonal":
        d = diagonal(a, axis1=a.ndim - 2, axis2=a.ndim - 1)
        return true_div(b, d) if b_ndim == 1 else true_div(b, expand_dims(d, d.ndim))
    if kind not in ASSUME_A:
        raise ValueError(f"solve: invalid assume_a {assume_a!r}; use one of {list(ASSUME_A)}, "
                         f"{list(_LONG_NAMES)}, 'lower triangular', 'upper triangular' or 'diagonal'")
    lower = _bool("solve", "lower", lower)
    if transposed:
        a, lower = swap_last(a), not lower
    if kind == "gen" and a.ndim == 2 and b.ndim == b_ndim:
        return linalg.solve(a, b)
    return Op(OPS["blockwise_solve"], {"assume_a": kind, "lower": lower, "b_ndim": b_ndim})(a, b)


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


# ============================================================================ expm
def _expm_infer(op, inputs):
    (a,) = inputs
    n, _ = matrix_dims("expm", a)
    return TensorType(work_dtype(a.dtype), a.type.shape[:-2] + (n, n))


def _expm(a):
    import scipy.linalg  # lazy

    a = cast(a, work_dtype(a.dtype))
    check_square("expm", a)
    if a.size == 0:
        return np.zeros(a.shape, a.dtype)
    return np.array(scipy.linalg.expm(a), dtype=a.dtype)


declare("expm", "linalg", 1, _expm_infer, _expm,
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 20.0 * _known(types[0].shape[-1]) ** 3,
        doc="matrix exponential (scipy.linalg.expm: Pade approximation with scaling and squaring)")


def expm(A):
    """The matrix exponential of square ``A`` (or of each matrix of a stack), ``scipy.linalg.expm``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> expm(A).eval({A: np.array([[0.0, 1.0], [0.0, 0.0]])})
    array([[1., 1.],
           [0., 1.]])
    """
    return Op(OPS["expm"])(as_tensor_variable(A))


# ============================================================================ eigvalsh
def _eig_sym_infer(opname):
    def infer(op, inputs):
        if len(inputs) not in (1, 2):
            raise TypeError(f"{opname} takes a matrix and optionally a second one (generalized problem), "
                            f"got {len(inputs)} inputs")
        a = inputs[0]
        n, _ = matrix_dims(opname, a)
        batch = a.type.shape[:-2]
        if len(inputs) == 2:
            nb, _ = matrix_dims(opname, inputs[1])
            if n is not None and nb is not None and n != nb:
                raise ValueError(f"{opname}: a {_fmt(a.type.shape)} and b {_fmt(inputs[1].type.shape)} differ in size")
            n = n if n is not None else nb
            batch = batch_shape(opname, batch, inputs[1].type.shape[:-2])
        dtype = work_dtype(*(i.dtype for i in inputs))
        which = op.params.get("which", 0)
        _which(opname, which, 2)
        if which == 0:  # eigenvalues of Hermitian matrices are real
            return TensorType(real_dtype(dtype), batch + (n,))
        return TensorType(dtype, batch + (n, n))

    return infer


def eigh_all(arrays, lower):
    """``(w, v)`` of the symmetric (or generalized symmetric-definite) eigenproblem of ``arrays``."""
    dtype = work_dtype(*(a.dtype for a in arrays))
    arrays = [cast(a, dtype) for a in arrays]
    for a in arrays:
        check_square("eigh", a)
    if len(arrays) == 1:
        w, v = np.linalg.eigh(arrays[0], UPLO="L" if lower else "U")
        return w, v
    import scipy.linalg  # lazy

    def one(a1, b1):
        if a1.size == 0:
            return np.zeros(a1.shape[:1], real_dtype(dtype)), np.zeros(a1.shape, dtype)
        try:
            return tuple(scipy.linalg.eigh(a1, b1, lower=lower, check_finite=False))
        except np.linalg.LinAlgError:  # b not positive definite
            return _nan_like(a1.shape[:1], real_dtype(dtype)), _nan_like(a1.shape, dtype)

    return per_matrix(one, arrays, [2, 2])


def _eigvalsh(*arrays, lower):
    dtype = work_dtype(*(a.dtype for a in arrays))
    if len(arrays) == 1:  # no eigenvectors
        a = cast(arrays[0], dtype)
        check_square("eigvalsh", a)
        return np.array(np.linalg.eigvalsh(a, UPLO="L" if lower else "U"), dtype=real_dtype(dtype))
    w, _ = decomposition(("eigh", lower), lambda *xs: eigh_all(xs, lower), *arrays)
    return w.astype(real_dtype(dtype))


declare("eigvalsh", "linalg", None, _eig_sym_infer("eigvalsh"), _eigvalsh, params=("lower",),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 4.0 * _known(types[0].shape[-1]) ** 3,
        doc="eigenvalues (ascending) of symmetric matrices, reading one triangle; optionally of A v = w B v")


def eigvalsh(a, b=None, lower=True):
    """The eigenvalues, ascending, of symmetric ``a`` (reading its ``lower`` or upper triangle), or
    of the generalized problem ``a @ v = w * (b @ v)`` with ``b`` positive definite.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> eigvalsh(A).eval({A: np.array([[2.0, 1.0], [1.0, 2.0]])})
    array([1., 3.])
    """
    ins = [as_tensor_variable(a)] + ([] if b is None else [as_tensor_variable(b)])
    return Op(OPS["eigvalsh"], {"lower": _bool("eigvalsh", "lower", lower)})(*ins)


# ============================================================================ block_diag (a formula)
def block_diag(*matrices):
    """The block-diagonal matrix with ``matrices`` on its diagonal (``scipy.linalg.block_diag`` over the
    last two axes; inputs of the same rank with broadcasting batch dimensions), in the inputs'
    promoted dtype; built from ``alloc`` and ``set_subtensor``.

    >>> import numpy as np
    >>> block_diag(np.array([[1, 2], [3, 4]]), np.array([[5]])).eval()
    array([[1, 2, 0],
           [3, 4, 0],
           [0, 0, 5]])
    """
    if not matrices:
        raise TypeError("block_diag needs at least one matrix")
    ms = [as_tensor_variable(m) for m in matrices]
    if len(ms) == 1:
        return ms[0]
    if any(m.ndim < 2 for m in ms) or len({m.ndim for m in ms}) != 1:
        raise TypeError(f"block_diag: all inputs must be matrices (or stacks of the same rank), got "
                        f"{[str(m.type) for m in ms]}")
    batch_shape("block_diag", *(m.type.shape[:-2] for m in ms))
    dtype = np.result_type(*(np.dtype(m.dtype) for m in ms)).name
    nd = ms[0].ndim

    def length(m, d):
        s = m.type.shape[d]
        return s if s is not None else shape_i(m, d)

    batch = []
    for d in range(nd - 2):
        src = next((m for m in ms if m.type.shape[d] != 1), ms[0])  # (only static 1s broadcast)
        batch.append(length(src, d))
    rows, cols = [length(m, nd - 2) for m in ms], [length(m, nd - 1) for m in ms]
    out = zeros(tuple(batch) + (_sum(rows), _sum(cols)), dtype=dtype)
    r0 = c0 = 0
    for m, r, c in zip(ms, rows, cols):
        r1, c1 = _add(r0, r), _add(c0, c)
        out = set_subtensor(out[(Ellipsis, slice(r0, r1), slice(c0, c1))], m)
        r0, c0 = r1, c1
    return out


def _add(a, b):
    """``a + b`` for lengths that are ints or int64 scalars (an int when both are)."""
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    if isinstance(a, int) and a == 0:
        return b
    return as_tensor_variable(a) + b


def _sum(xs):
    out = 0
    for x in xs:
        out = _add(out, x)
    return out


__all__ = ["block_diag", "cho_solve", "cholesky", "eigvalsh", "expm", "lu", "lu_factor", "lu_solve",
           "pivot_to_permutation", "qr", "solve", "solve_triangular"]
