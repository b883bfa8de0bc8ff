"""Cholesky and the structured solves of ``scipy.linalg`` (PyTensor's ``slinalg``), each batched over
leading dimensions (dtypes and batching: :mod:`.lapack`):

- ``cholesky`` — the lower factor ``L`` (``L @ L.T == A``), reading the lower triangle of ``A``;
  ``nan`` where ``A`` is not positive definite (PyTensor's ``on_error="nan"``). The upper factor is
  ``cholesky(A.mT).mT`` (:func:`cholesky` with ``lower=False`` builds that), so the op has no
  parameter and rules about it hold for both factors.
- ``cholesky_grad`` — the reverse pass of ``cholesky`` as one op (made by its VJP rule): the
  cotangent of ``A`` given ``L`` and the cotangent of ``L``.
- ``solve_triangular{lower, unit_diagonal, b_ndim}``, ``cho_solve{lower, b_ndim}``,
  ``blockwise_solve{assume_a, lower, b_ndim}`` (``scipy.linalg.solve`` for stacks of matrices or a
  structured ``assume_a``; the plain two-dimensional general case is the op ``solve`` of
  :mod:`.linalg`): ``b_ndim`` says whether the core of ``b`` is a vector (1) or a matrix (2), as in
  PyTensor. A singular system gives ``nan``, as in PyTensor.

:func:`solve` is PyTensor's dispatcher (a formula: ``assume_a``, ``transposed``, triangular and
diagonal shortcuts).

>>> from eqtensor import tensor as pt
>>> A = pt.tensor3("A", shape=(5, 3, 3))
>>> cholesky(A).type
TensorType(float64, shape=(5, 3, 3))
>>> solve_triangular(A, pt.dvector("b"), lower=True).type.shape
(5, 3)
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, declare
from . import linalg
from .creation import tril, triu
from .elemwise import true_div
from .lapack import (
    _bool, _check_solve_params, _nan_like, batch_shape, batch_size, cast, check_aligned, check_square, core_b,
    default_b_ndim, matrix_dims, per_matrix, swap_last, work_dtype,
)
from .linalg import _known, diagonal
from .shape import expand_dims


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


def _cholesky_grad_infer(op, inputs):
    ell, g = inputs
    n, _ = matrix_dims("cholesky_grad", ell)
    shape = core_b("cholesky_grad", ell, g, 2)
    k = g.type.shape[-1]
    if n is not None and k is not None and k != n:
        raise ValueError(f"cholesky_grad: the cotangent {g.type} does not match the factor {ell.type}")
    return TensorType(work_dtype(ell.dtype, g.dtype), shape)


def _cholesky_grad_one(ell, g):
    import scipy.linalg  # lazy: see eqtensor.core.ops.elemwise

    phi = np.tril(np.tril(ell).T @ g)
    phi[np.diag_indices_from(phi)] *= 0.5
    y = scipy.linalg.solve_triangular(ell.T, phi, lower=False, check_finite=False)  # L^-T Phi
    s = scipy.linalg.solve_triangular(ell.T, y.T, lower=False, check_finite=False).T  # L^-T Phi L^-1
    out = np.tril(s + s.T)
    out[np.diag_indices_from(out)] = np.diagonal(s)
    return out


def _cholesky_grad(ell, g):
    return _solve_blocks("cholesky_grad", _cholesky_grad_one, ell, g, 2)


declare("cholesky_grad", "linalg", 2, _cholesky_grad_infer, _cholesky_grad,
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 3.0 * _known(types[0].shape[-1]) ** 3,
        doc="the cotangent of A = L L^T (from A's lower triangle) given L (its lower triangle) and the "
            "cotangent G of L: tril-fold of L^-T Phi(L^T G) L^-1, Phi = lower triangle with the diagonal "
            "halved (Murray 2016); nan if L is singular. Made by the VJP of cholesky")


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
    upper triangle of ``a``), ``"lower triangular"``/``"upper triangular"`` (:func:`solve_triangular`),
    ``"diagonal"`` (a division by the diagonal), ``"tridiagonal"`` (reads only the three central
    diagonals of ``a``, as SciPy; solved as a general system of that band, without SciPy's O(n)
    tridiagonal solver) or ``"banded"`` (a general solve, as PyTensor; SciPy finds the band itself). ``transposed`` solves ``a.mT @ x = b``; ``b_ndim``
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
    if kind == "tridiagonal":
        a, kind = tril(triu(a, -1), 1), "gen"
    elif kind == "banded":
        kind = "gen"
    if kind not in ASSUME_A:
        raise ValueError(f"solve: invalid assume_a {assume_a!r}; use one of {list(ASSUME_A)}, "
                         f"{list(_LONG_NAMES)}, 'lower triangular', 'upper triangular', 'diagonal', 'tridiagonal' "
                         f"or 'banded'")
    lower = _bool("solve", "lower", lower)
    if transposed:
        a, lower = swap_last(a), not lower
    if kind == "gen" and a.ndim == 2 and b.ndim == b_ndim:
        return linalg.solve(a, b)
    return Op(OPS["blockwise_solve"], {"assume_a": kind, "lower": lower, "b_ndim": b_ndim})(a, b)


__all__ = ["cho_solve", "cholesky", "solve", "solve_triangular"]
