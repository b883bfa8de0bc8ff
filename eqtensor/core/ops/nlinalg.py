"""Linear algebra after ``numpy.linalg`` (PyTensor's ``nlinalg``): spectral decompositions, the
pseudo-inverse, the log-determinant, and the formulas ``norm``, ``matrix_power``, ``matrix_dot``,
``kron``.

Ops, each batched over leading dimensions:

- ``pinv{hermitian}`` — the Moore-Penrose pseudo-inverse, ``(..., m, n) -> (..., n, m)``.
- ``slogdet{which}`` — the sign (``which=0``) and the log of the absolute value (``which=1``) of the
  determinant, without the overflow of ``log(abs(det(A)))``; ``which=2`` is ``log(det(A))`` of real
  matrices (``nan`` where the determinant is negative), what the rule ``log_det_to_slogdet`` makes of
  ``log(det(A))`` (one node: the cost model sees one LU).
- ``eigh{which, lower}`` — eigenvalues (ascending) and eigenvectors of symmetric matrices, reading
  one triangle; a second input makes it the generalized problem ``A v = w B v``.
- ``eig{which}`` — eigenvalues and right eigenvectors of general matrices, always complex (not
  differentiable: eqtensor differentiates real values only).
- ``svd{which, full_matrices, compute_uv}`` — ``U``, ``s``, ``Vh`` (``s`` only without ``compute_uv``).

Several results are several nodes selected by ``which``; the decomposition runs once per distinct
input (:func:`eqtensor.core.ops.lapack.decomposition`). Dtypes are LAPACK's (see
:mod:`eqtensor.core.ops.lapack`).

>>> from eqtensor import tensor as pt
>>> A = pt.matrix("A", shape=(4, 3))
>>> [v.type.shape for v in svd(A, full_matrices=False)]
[(4, 3), (3,), (3, 3)]
>>> pinv(A).type.shape
(3, 4)
"""

from __future__ import annotations

import numpy as np

from ..graph import TensorType
from ..op import OPS, Op, as_tensor_variable, declare
from . import reduction
from .elemwise import abs as abs_, cast, neq, pow as pow_, sqr, sqrt
from .linalg import _known, dot, matmul
from .shape import as_axis, dimshuffle, expand_dims, reshape, shape_i, transpose
from .creation import eye, zeros
from .eigen import _eig_sym_infer, eigh_all
from .lapack import (
    _bool, _which, batch_size, cast as cast_array, check_square, decomposition, matrix_dims, real_dtype, work_dtype,
)


# ============================================================================ pinv
def _pinv_infer(op, inputs):
    (a,) = inputs
    m, n = matrix_dims("pinv", a, square=False)
    return TensorType(work_dtype(a.dtype), a.type.shape[:-2] + (n, m))


def _pinv(a, hermitian):
    a = cast_array(a, work_dtype(a.dtype))
    if a.ndim < 2:
        raise ValueError(f"pinv: expected a matrix, got an array of shape {a.shape}")
    return np.array(np.linalg.pinv(a, hermitian=hermitian), dtype=a.dtype)


def _svd_flops(shape, factor):
    m, n = _known(shape[-2]), _known(shape[-1])
    return batch_size(shape[:-2]) * factor * m * n * min(m, n)


declare("pinv", "linalg", 1, _pinv_infer, _pinv, params=("hermitian",),
        flops=lambda op, types, values: _svd_flops(types[0].shape, 12.0),
        doc="Moore-Penrose pseudo-inverse (np.linalg.pinv, singular values below max(m, n) eps cut)")


def pinv(x, hermitian=False):
    """The Moore-Penrose pseudo-inverse of ``x`` (``np.linalg.pinv``; ``hermitian`` uses the
    eigendecomposition of a symmetric ``x``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> pinv(A).eval({A: np.array([[2.0], [0.0]])})
    array([[0.5, 0. ]])
    """
    return Op(OPS["pinv"], {"hermitian": _bool("pinv", "hermitian", hermitian)})(as_tensor_variable(x))


# ============================================================================ slogdet
def _slogdet_infer(op, inputs):
    (a,) = inputs
    _which("slogdet", op.params["which"], 3)
    matrix_dims("slogdet", a)
    dtype = work_dtype(a.dtype)
    if op.params["which"] == 2 and dtype.startswith("complex"):
        raise TypeError(f"slogdet: which=2 (log(det)) is for real matrices, got {a.type}")
    return TensorType(dtype if op.params["which"] == 0 else real_dtype(dtype), a.type.shape[:-2])


def _slogdet(a, which):
    a = cast_array(a, work_dtype(a.dtype))
    check_square("slogdet", a)
    sign, logabs = decomposition(("slogdet",), lambda x: tuple(np.linalg.slogdet(x)), a)
    if which == 2:  # log(det): the log of a negative determinant is nan (sign nan: nan as well)
        return np.where(sign >= 0, logabs, np.nan).astype(a.dtype)
    return np.array(sign if which == 0 else logabs, dtype=a.dtype if which == 0 else real_dtype(a.dtype))


declare("slogdet", "linalg", 1, _slogdet_infer, _slogdet, params=("which",),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 0.7 * _known(types[0].shape[-1]) ** 3,
        doc="sign (which=0), log|det| (which=1) or log(det), nan where det < 0 (which=2), of square matrices "
            "(np.linalg.slogdet)")


def slogdet(x):
    """``(sign, logabsdet)`` of the determinant of square ``x`` (or of each matrix of a stack):
    ``det(x) == sign * exp(logabsdet)``, without the overflow of the determinant; a singular matrix
    gives ``(0, -inf)``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> sign, logabsdet = slogdet(A)
    >>> a = np.diag([-1e200, 1e200])
    >>> float(sign.eval({A: a})), float(logabsdet.eval({A: a}))
    (-1.0, 921.0340371976183)
    """
    x = as_tensor_variable(x)
    return tuple(Op(OPS["slogdet"], {"which": k})(x) for k in range(2))


# ============================================================================ eig
def _eig_dtype(dtype):
    return np.promote_types(work_dtype(dtype), np.complex64).name


def _eig_infer(op, inputs):
    (a,) = inputs
    _which("eig", op.params["which"], 2)
    n, _ = matrix_dims("eig", a)
    core = (n,) if op.params["which"] == 0 else (n, n)
    return TensorType(_eig_dtype(a.dtype), a.type.shape[:-2] + core)


def _eig(a, which):
    a = cast_array(a, work_dtype(a.dtype))
    check_square("eig", a)
    out = decomposition(("eig",), lambda x: tuple(np.linalg.eig(x)), a)[which]
    return np.array(out, dtype=_eig_dtype(a.dtype))


declare("eig", "linalg", 1, _eig_infer, _eig, params=("which",), differentiable=False,
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 25.0 * _known(types[0].shape[-1]) ** 3,
        doc="eigenvalues (which=0) or right eigenvectors (which=1) of square matrices, complex")


def eig(x):
    """``(w, v)``: the eigenvalues and right eigenvectors (columns) of square ``x``
    (``np.linalg.eig``), always complex, as in PyTensor. Not differentiable (eqtensor differentiates
    real values only; use :func:`eigh` for symmetric matrices).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> eig(A)[0].eval({A: np.array([[0.0, -1.0], [1.0, 0.0]])})
    array([0.+1.j, 0.-1.j])
    """
    x = as_tensor_variable(x)
    return tuple(Op(OPS["eig"], {"which": k})(x) for k in range(2))


# ============================================================================ eigh
def _eigh(*arrays, which, lower):
    dtype = work_dtype(*(a.dtype for a in arrays))
    out = decomposition(("eigh", lower), lambda *xs: eigh_all(xs, lower), *arrays)[which]
    return np.array(out, dtype=real_dtype(dtype) if which == 0 else dtype)


declare("eigh", "linalg", None, _eig_sym_infer("eigh"), _eigh, params=("which", "lower"),
        flops=lambda op, types, values: batch_size(types[0].shape[:-2]) * 9.0 * _known(types[0].shape[-1]) ** 3,
        doc="eigenvalues (which=0, ascending) or eigenvectors (which=1) of symmetric matrices, reading one "
            "triangle; optionally of A v = w B v")


def eigh(a, b=None, lower=True, UPLO=None, driver="evr"):
    """``(w, v)``: the eigenvalues (ascending) and orthonormal eigenvectors (columns) of symmetric
    ``a``, reading its ``lower`` (or upper) triangle; with ``b`` (positive definite), of the
    generalized problem ``a @ v = w * (b @ v)`` (``v.mT @ b @ v == I``). ``UPLO="L"``/``"U"`` is
    PyTensor's deprecated spelling of ``lower``; ``driver`` is accepted and ignored (NumPy's driver
    for one matrix, SciPy's for two).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> w, v = eigh(A)
    >>> w.eval({A: np.array([[2.0, 1.0], [1.0, 2.0]])})
    array([1., 3.])
    """
    if UPLO is not None:
        if UPLO not in ("L", "U"):
            raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
        lower = UPLO == "L"
    if driver not in ("evr", "evd"):
        raise ValueError(f"eigh: driver must be 'evr' or 'evd', got {driver!r}")
    lower = _bool("eigh", "lower", lower)
    ins = [as_tensor_variable(a)] + ([] if b is None else [as_tensor_variable(b)])
    return tuple(Op(OPS["eigh"], {"which": k, "lower": lower})(*ins) for k in range(2))


# ============================================================================ svd
def _svd_infer(op, inputs):
    (a,) = inputs
    p = op.params
    _which("svd", p["which"], 3 if p["compute_uv"] else 1)
    m, n = matrix_dims("svd", a, square=False)
    k = min(m, n) if m is not None and n is not None else 0 if 0 in (m, n) else None
    dtype = work_dtype(a.dtype)
    if not p["compute_uv"] or p["which"] == 1:
        return TensorType(real_dtype(dtype), a.type.shape[:-2] + (k,))
    full = p["full_matrices"]
    core = ((m, m) if full else (m, k)) if p["which"] == 0 else ((n, n) if full else (k, n))
    return TensorType(dtype, a.type.shape[:-2] + core)


def _svd(a, which, full_matrices, compute_uv):
    a = cast_array(a, work_dtype(a.dtype))
    if a.ndim < 2:
        raise ValueError(f"svd: expected a matrix, got an array of shape {a.shape}")
    if not compute_uv:
        return np.array(np.linalg.svd(a, compute_uv=False), dtype=real_dtype(a.dtype))
    out = decomposition(("svd", full_matrices),
                        lambda x: tuple(np.linalg.svd(x, full_matrices=full_matrices)), a)[which]
    return np.array(out, dtype=real_dtype(a.dtype) if which == 1 else a.dtype)


declare("svd", "linalg", 1, _svd_infer, _svd, params=("which", "full_matrices", "compute_uv"),
        flops=lambda op, types, values: _svd_flops(types[0].shape, 12.0 if op.params["compute_uv"] else 4.0),
        doc="one result of the singular value decomposition A = U diag(s) Vh (which: U, s, Vh; s only "
            "without compute_uv)")


def svd(a, full_matrices=True, compute_uv=True):
    """The singular value decomposition ``a = U @ diag(s) @ Vh`` (``np.linalg.svd``): ``(U, s, Vh)``,
    with ``U`` (m, m) and ``Vh`` (n, n) when ``full_matrices``, else (m, k) and (k, n), ``k = min(m,
    n)``; only ``s`` (descending) without ``compute_uv``.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> A = pt.dmatrix("A")
    >>> svd(A, compute_uv=False).eval({A: np.array([[0.0, 2.0], [1.0, 0.0]])})
    array([2., 1.])
    """
    a = as_tensor_variable(a)
    fm, uv = _bool("svd", "full_matrices", full_matrices), _bool("svd", "compute_uv", compute_uv)
    if not uv:
        return Op(OPS["svd"], {"which": 0, "full_matrices": fm, "compute_uv": False})(a)
    return tuple(Op(OPS["svd"], {"which": k, "full_matrices": fm, "compute_uv": True})(a) for k in range(3))


# ============================================================================ formulas
def matrix_dot(*args):
    """``dot(dot(a0, a1), a2)...``: the product of several matrices, left to right (PyTensor's
    ``matrix_dot``, with ``np.dot`` semantics).

    >>> import numpy as np
    >>> matrix_dot(np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0])).eval()
    array([3., 7.])
    """
    if not args:
        raise TypeError("matrix_dot needs at least one argument")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = dot(out, a)
    return out


def matrix_power(M, n):
    """``M`` raised to the integer power ``n`` by repeated squaring (``np.linalg.matrix_power``,
    batched): ``n = 0`` gives the identity in ``M``'s dtype; a negative ``n`` uses the
    pseudo-inverse of ``M``, as PyTensor (NumPy uses the inverse, and raises for singular ``M``).

    >>> import numpy as np
    >>> matrix_power(np.array([[1, 1], [0, 1]]), 5).eval()
    array([[1, 5],
           [0, 1]])
    """
    M = as_tensor_variable(M)
    rows, _ = matrix_dims("matrix_power", M)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: the exponent must be a Python int, got {n!r}")
    n = int(n)
    if n < 0:
        M, n = pinv(M), -n
    if n == 0:
        k = rows if rows is not None else shape_i(M, M.ndim - 1)
        return eye(k, dtype=M.dtype) + zeros(tuple(_dims(M)), dtype=M.dtype)
    result = square = None
    while n:
        square = M if square is None else matmul(square, square)
        n, bit = divmod(n, 2)
        if bit:
            result = square if result is None else matmul(result, square)
    return result


def _dims(x):
    return [s if s is not None else shape_i(x, d) for d, s in enumerate(x.type.shape)]


def kron(a, b):
    """The Kronecker product (``np.kron``): inputs of fewer dimensions are padded on the left, and
    block ``(i, j, ...)`` of the result is ``a[i, j, ...] * b``. The ranks must sum to 3 or more, as
    in PyTensor. Built from broadcasting products and a reshape.

    >>> import numpy as np
    >>> kron(np.array([[1, 2]]), np.array([[1], [10]])).eval()
    array([[ 1,  2],
           [10, 20]])
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim + b.ndim <= 2:
        raise TypeError(f"kron: the inputs' dimensions must sum to 3 or more, got {a.ndim} and {b.ndim}")
    nd = max(a.ndim, b.ndim)
    a = expand_dims(a, tuple(range(nd - a.ndim))) if a.ndim < nd else a
    b = expand_dims(b, tuple(range(nd - b.ndim))) if b.ndim < nd else b
    # a with a new axis after each of its axes, b with one before each: their product is (..., ai, bi, ...)
    ea = dimshuffle(a, *[e for d in range(nd) for e in (d, "x")])
    eb = dimshuffle(b, *[e for d in range(nd) for e in ("x", d)])
    out_shape = []
    for d in range(nd):
        sa, sb = a.type.shape[d], b.type.shape[d]
        if sa is not None and sb is not None:
            out_shape.append(sa * sb)
        else:
            out_shape.append((sa if sa is not None else shape_i(a, d)) * (sb if sb is not None else shape_i(b, d)))
    return reshape(ea * eb, tuple(out_shape))


_STR_ORDS = ("fro", "f", "nuc", "inf", "-inf")


def norm(x, ord=None, axis=None, keepdims=False):
    """Matrix or vector norm (``np.linalg.norm``), batched as PyTensor: with ``axis=None`` the norm is
    taken over the last dimension of a vector and the last two of a matrix or stack (every leading
    dimension is a batch). ``ord``: for vectors ``None``/2, ``inf``, ``-inf``, 0 (count of non-zeros),
    1 and any real ``p`` (``sum(|x|^p)^(1/p)``); for matrices ``None``/``"fro"``/``"f"``, ``"nuc"``,
    ``inf``, ``-inf``, 1, -1, 2, -2 (``"inf"``/``"-inf"`` strings too). An explicit ``axis`` (an int:
    vector norm; two ints: matrix norm) names axes of ``x`` as NumPy does. Integer inputs compute in
    float64, as NumPy.

    >>> import numpy as np
    >>> float(norm(np.array([3.0, -4.0])).eval()), float(norm(np.array([[1.0, -2.0], [3.0, 4.0]]), ord=1).eval())
    (5.0, 6.0)
    """
    x = as_tensor_variable(x)
    if x.dtype.startswith(("int", "uint", "bool")):
        x = cast(x, "float64")
    if x.ndim == 0:
        raise ValueError("norm: expected at least one dimension (Cannot compute norm when core_dims < 1 or "
                         "core_dims > 3, found: core_dims = 0)")
    if isinstance(ord, str) and ord not in _STR_ORDS:
        raise ValueError(f"norm: Invalid norm order {ord!r}")
    if ord in ("inf", "-inf"):
        ord = float(ord)
    if axis is None:
        axes = (x.ndim - 1,) if x.ndim == 1 else (x.ndim - 2, x.ndim - 1)
    else:
        axis = as_axis(axis)
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        try:
            axes = tuple(int(a) for a in axes)
        except TypeError as e:
            raise TypeError(f"norm: axis must be None, an int or a tuple of ints, got {axis!r}") from e
        for a in axes:
            if not -x.ndim <= a < x.ndim:
                raise ValueError(f"norm: axis {a} is out of bounds for a tensor of {x.ndim} dimensions")
        axes = tuple(a % x.ndim for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"norm: repeated axis in {axis!r}")
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes[0])
    elif len(axes) == 2:
        out = _matrix_norm(x, ord, *axes)
    else:
        raise ValueError(f"norm: axis must name one or two axes, got {axis!r}")
    return expand_dims(out, axes) if keepdims else out


def _abs_sq(x):
    return sqr(abs_(x)) if x.dtype.startswith("complex") else sqr(x)


def _vector_norm(x, ord, axis):
    if ord is None or ord == 2:
        return sqrt(reduction.sum(_abs_sq(x), axis=axis))
    if isinstance(ord, str):
        raise ValueError(f"norm: Invalid norm order {ord!r} for vectors")
    if ord == np.inf:
        return reduction.max(abs_(x), axis=axis)
    if ord == -np.inf:
        return reduction.min(abs_(x), axis=axis)
    if ord == 0:
        return cast(reduction.sum(neq(x, 0), axis=axis), real_dtype(x.dtype))
    if ord == 1:
        return reduction.sum(abs_(x), axis=axis)
    p = float(ord)
    return pow_(reduction.sum(pow_(abs_(x), p), axis=axis), 1.0 / p)


def _matrix_norm(x, ord, row, col):
    if ord in (None, "fro", "f"):
        return sqrt(reduction.sum(_abs_sq(x), axis=(row, col)))
    if ord == "nuc" or ord in (2, -2):
        rest = [d for d in range(x.ndim) if d not in (row, col)]
        s = svd(transpose(x, rest + [row, col]), compute_uv=False)
        return {"nuc": reduction.sum, 2: reduction.max, -2: reduction.min}[ord](s, axis=-1)
    if ord in (np.inf, -np.inf):  # max/min over rows of the row sums
        reduce = reduction.max if ord > 0 else reduction.min
        return reduce(reduction.sum(abs_(x), axis=col), axis=row - (col < row))
    if ord in (1, -1):  # max/min over columns of the column sums
        reduce = reduction.max if ord > 0 else reduction.min
        return reduce(reduction.sum(abs_(x), axis=row), axis=col - (row < col))
    raise ValueError(f"norm: Invalid norm order for matrices: {ord!r}")


__all__ = ["eig", "eigh", "kron", "matrix_dot", "matrix_power", "norm", "pinv", "slogdet", "svd"]
