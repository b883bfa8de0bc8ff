"""BLAS ops the optimizer produces: ``gemm``, ``gemv`` and ``ger``.

Users rarely write them: the BLAS rules rewrite ``α·dot(A,B) + β·C``, ``α·dot(A,x) + β·y`` and
``C + α·outer(x,y)`` into them. ``alpha``/``beta`` are size-1 tensors of any rank whose static
dimensions are all 1 (a broadcast scalar, as elementwise graphs hold them). The accumulator
(``C``, ``y``) broadcasts only along its axes of static length 1, as the elementwise sum the op
replaces (PyTensor's static broadcasting; the backends check run-time lengths). The NumPy
implementation calls SciPy's BLAS (on the transposed problem, so C-ordered operands need no copy)
when dtypes agree, no broadcasting is involved and the scale factors are non-zero (BLAS skips a
term whose factor is 0, which would turn ``0 * inf = nan`` into 0), and the plain formula otherwise.

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> from eqtensor.core.ops.blas import gemm
>>> A, B, C = pt.dmatrix("A"), pt.dmatrix("B"), pt.dmatrix("C")
>>> g = gemm(C, 0.5, A, B, 2.0)
>>> g.type
TensorType(float64, shape=(None, None))
>>> a = np.arange(6.0).reshape(2, 3)
>>> g.eval({A: a, B: a.T, C: np.ones((2, 2))}).tolist()
[[4.5, 9.0], [9.0, 27.0]]
"""

from __future__ import annotations

import numpy as np

from ..config import config
from ..dtypes import as_dtype
from ..op import OPS, Op, as_tensor_variable, broadcast_static_shapes, declare
from ..graph import Constant, TensorType
from .shape import expand_left

_PREFIX = {"float64": "d", "float32": "s"}


def _scalar_like(opname, what, v):
    if any(d != 1 for d in v.type.shape):
        raise ValueError(f"{opname}: {what} must have static shape of all 1s (a broadcast scalar), got "
                         f"{v.type.shape}")


def _need(opname, v, ndim, what):
    if v.ndim != ndim:
        raise ValueError(f"{opname}: {what} must have {ndim} dimensions, got {v.type}")


def _agree(opname, n1, n2, what):
    if n1 is not None and n2 is not None and n1 != n2:
        raise ValueError(f"{opname}: {what} lengths differ ({n1} vs {n2})")
    return n1 if n1 is not None else n2


def _known(n):
    return config.unknown_dim_size if n is None else n


# ----------------------------------------------------------------------------- gemm
def _scaled_product_type(op, inputs, contraction, prod_shape):
    """The type of ``alpha * dot(A, B) + beta * acc`` (gemm, gemv; ``inputs`` = acc, alpha, A, B,
    beta): scalar-like factors, agreeing contraction lengths, the product's static shape broadcast
    with the accumulator's, NumPy's result dtype."""
    name = op.name
    acc, alpha, a, _, beta = inputs
    _scalar_like(name, "alpha", alpha)
    _scalar_like(name, "beta", beta)
    _agree(name, *contraction, "contraction")
    shape = broadcast_static_shapes(name, [TensorType(a.dtype, prod_shape)(), acc])
    return TensorType(_blas_dtype(inputs), shape)


def _gemm_infer(op, inputs):
    c, _, a, b, _ = inputs
    for v, nd, what in ((c, 2, "C"), (a, 2, "A"), (b, 2, "B")):
        _need("gemm", v, nd, what)
    return _scaled_product_type(op, inputs, (a.type.shape[1], b.type.shape[0]), (a.type.shape[0], b.type.shape[1]))


def _blas_dtype(inputs) -> str:
    """The dtype of gemm, gemv and ger: NumPy's promotion of all their inputs, what both the BLAS
    call and the plain formula return (a test checks it against ``dtype_by_numpy``). Running the op
    on dummies instead would load SciPy's BLAS when a node is built, and the BLAS rules build such
    nodes at import."""
    return as_dtype(np.result_type(*[i.dtype for i in inputs]))


_sblas = None


def _blas_fn(kind, dtype):
    global _sblas
    p = _PREFIX.get(np.dtype(dtype).name)
    if not p:
        return None
    if _sblas is None:
        import scipy.linalg.blas  # lazy: ~50 ms of import time, needed from the first gemm/gemv/ger on

        _sblas = scipy.linalg.blas
    return getattr(_sblas, p + kind)


def _operand(x):
    """``(array, trans)`` with array Fortran-ordered and op(array) == x, without copying if possible."""
    if x.flags.f_contiguous:
        return x, 0
    if x.flags.c_contiguous:
        return x.T, 1
    return np.asfortranarray(x), 0


def _gemm(c, alpha, a, b, beta):
    out_dtype = np.result_type(c, alpha, a, b, beta)
    fn = _blas_fn("gemm", out_dtype)
    shape = (a.shape[0], b.shape[1])
    if fn is not None and a.size and b.size and {c.dtype, alpha.dtype, a.dtype, b.dtype, beta.dtype} == {out_dtype} \
            and c.shape == shape and alpha.item() != 0 and beta.item() != 0:
        # (alpha A B + beta C)^T = alpha B^T A^T + beta C^T: C-ordered operands are F-ordered transposed
        bt, tb = _operand(b.T)
        at, ta = _operand(a.T)
        ct = np.array(c.T, order="F")
        return fn(alpha.item(), bt, at, beta=beta.item(), c=ct, trans_a=tb, trans_b=ta, overwrite_c=True).T
    return alpha.reshape(()) * np.dot(a, b) + beta.reshape(()) * c


def _gemm_flops(op, types, values):
    c, _, a, b, _ = types
    m, k, n = _known(a.shape[0]), _known(a.shape[1]), _known(b.shape[1])
    return 2.0 * m * k * n + 2.0 * m * n


declare("gemm", "blas", 5, _gemm_infer, _gemm, cost=2.0, differentiable=False,
        doc="alpha * dot(A, B) + beta * C (inputs C, alpha, A, B, beta); made by the BLAS rules",
        flops=_gemm_flops)


# ----------------------------------------------------------------------------- gemv
def _gemv_infer(op, inputs):
    y, _, a, x, _ = inputs
    for v, nd, what in ((y, 1, "y"), (a, 2, "A"), (x, 1, "x")):
        _need("gemv", v, nd, what)
    return _scaled_product_type(op, inputs, (a.type.shape[1], x.type.shape[0]), (a.type.shape[0],))


def _gemv(y, alpha, a, x, beta):
    out_dtype = np.result_type(y, alpha, a, x, beta)
    fn = _blas_fn("gemv", out_dtype)
    if fn is not None and a.size and {y.dtype, alpha.dtype, a.dtype, x.dtype, beta.dtype} == {out_dtype} \
            and y.shape == (a.shape[0],) and alpha.item() != 0 and beta.item() != 0:
        af, trans = _operand(a)
        return fn(alpha.item(), af, x, beta=beta.item(), y=np.array(y), trans=trans, overwrite_y=True)
    return alpha.reshape(()) * np.dot(a, x) + beta.reshape(()) * y


def _gemv_flops(op, types, values):
    _, _, a, _, _ = types
    return 2.0 * _known(a.shape[0]) * _known(a.shape[1]) + 2.0 * _known(a.shape[0])


declare("gemv", "blas", 5, _gemv_infer, _gemv, cost=2.0, differentiable=False,
        doc="alpha * dot(A, x) + beta * y (inputs y, alpha, A, x, beta); made by the BLAS rules",
        flops=_gemv_flops)


# ----------------------------------------------------------------------------- ger
def _ger_infer(op, inputs):
    c, alpha, x, y = inputs
    for v, nd, what in ((c, 2, "A"), (x, 1, "x"), (y, 1, "y")):
        _need("ger", v, nd, what)
    _scalar_like("ger", "alpha", alpha)
    shape = broadcast_static_shapes("ger", [TensorType(x.dtype, (x.type.shape[0], y.type.shape[0]))(), c])
    return TensorType(_blas_dtype(inputs), shape)


def _ger(c, alpha, x, y):
    out_dtype = np.result_type(c, alpha, x, y)
    fn = _blas_fn("ger", out_dtype)
    if fn is not None and x.size and y.size and {c.dtype, alpha.dtype, x.dtype, y.dtype} == {out_dtype} \
            and c.shape == (x.shape[0], y.shape[0]) and alpha.item() != 0:
        # (A + alpha x y^T)^T = A^T + alpha y x^T
        return fn(alpha.item(), y, x, a=np.array(c.T, order="F"), overwrite_a=True).T
    return c + alpha.reshape(()) * np.multiply.outer(x, y)


def _ger_flops(op, types, values):
    c, _, x, y = types
    return 2.0 * _known(x.shape[0]) * _known(y.shape[0])


declare("ger", "blas", 4, _ger_infer, _ger, cost=2.0, differentiable=False,
        doc="A + alpha * outer(x, y) (inputs A, alpha, x, y); made by the BLAS rules",
        flops=_ger_flops)


def _lift(v):

    return as_tensor_variable(v)


def _scalar_arg(v, like):
    """Python/0-d scalars become size-1 tensors of ``like``'s rank (as elementwise graphs hold them)."""

    v = _lift(v)
    if v.ndim == 0:

        if isinstance(v, Constant):
            return Constant(np.asarray(v.data, dtype=like.dtype if v.weak else v.dtype).reshape((1,) * like.ndim))
        return expand_left(v, like.ndim)
    return v


def gemm(c, alpha, a, b, beta):
    """``alpha * dot(a, b) + beta * c`` as one BLAS call."""
    c = _lift(c)
    return Op(OPS["gemm"])(c, _scalar_arg(alpha, c), _lift(a), _lift(b), _scalar_arg(beta, c))


def gemv(y, alpha, a, x, beta):
    """``alpha * dot(a, x) + beta * y`` as one BLAS call."""
    y = _lift(y)
    return Op(OPS["gemv"])(y, _scalar_arg(alpha, y), _lift(a), _lift(x), _scalar_arg(beta, y))


def ger(c, alpha, x, y):
    """``c + alpha * outer(x, y)`` as one BLAS call."""
    c = _lift(c)
    return Op(OPS["ger"])(c, _scalar_arg(alpha, c), _lift(x), _lift(y))


__all__ = ["gemm", "gemv", "ger"]
