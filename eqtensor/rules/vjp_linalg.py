"""VJP rules of the linear-algebra core ops (``dot``, ``matmul``, ``matrix_inverse``, ``det``, ``solve``)
and of the BLAS ops the optimizer makes (``gemm``, ``gemv``, ``ger``).
"""

from __future__ import annotations

from ..core.ops import reduction as R
from ..core.ops import shape as S
from ..core.ops.linalg import dot, matmul, matrix_inverse, solve, tensordot
from .vjp import VJPRule, collector, sum_leading, swap_last

VJPS: list[VJPRule] = []
vjp = collector(VJPS)


def _dot(a, b):

    return dot(a, b)


def _matmul(a, b):

    return matmul(a, b)


@vjp("dot", "d(a . b) = da . b + a . db: contract the cotangent with the other operand")
def _dot_vjp(op, inputs, out, g):

    a, b = inputs
    if a.ndim == 0 or b.ndim == 0:
        s, t = (a, b) if a.ndim == 0 else (b, a)
        gs, gt = R.sum(g * t), g * s
        return (gs, gt) if a.ndim == 0 else (gt, gs)
    if a.ndim <= 2 and b.ndim <= 2:
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        if b.ndim == 1:  # (m, n) . (n,)
            return S.dimshuffle(g, 0, "x") * S.dimshuffle(b, "x", 0), _dot(a.T, g)
        if a.ndim == 1:  # (n,) . (n, k)
            return _dot(b, g), S.dimshuffle(a, 0, "x") * S.dimshuffle(g, "x", 0)
        return _dot(g, b.T), _dot(a.T, g)
    kb = max(b.ndim - 2, 0)
    a_free = list(range(a.ndim - 1))
    b_free = [d for d in range(b.ndim) if d != kb]
    g_b = list(range(len(a_free), g.ndim))
    ga = tensordot(g, b, axes=(g_b, b_free))
    gb = tensordot(a, g, axes=(a_free, list(range(len(a_free)))))
    order = list(range(1, b.ndim))
    order.insert(kb, 0)
    return ga, S.dimshuffle(gb, *order)


@vjp("matmul", "d(A @ B) = dA @ B + A @ dB, summed over broadcast batch dims")
def _matmul_vjp(op, inputs, out, g):
    a, b = inputs
    A = S.dimshuffle(a, "x", 0) if a.ndim == 1 else a
    B = S.dimshuffle(b, 0, "x") if b.ndim == 1 else b
    G = g
    if b.ndim == 1:
        G = S.expand_dims(G, G.ndim)
    if a.ndim == 1:
        G = S.expand_dims(G, G.ndim - 1)
    gA = sum_leading(_matmul(G, swap_last(B)), A.ndim)
    gB = sum_leading(_matmul(swap_last(A), G), B.ndim)
    for d in range(A.ndim - 2):  # batch dims where A broadcast
        if A.type.shape[d] == 1 and gA.type.shape[d] != 1:
            gA = R.sum(gA, axis=d, keepdims=True)
    for d in range(B.ndim - 2):
        if B.type.shape[d] == 1 and gB.type.shape[d] != 1:
            gB = R.sum(gB, axis=d, keepdims=True)
    if a.ndim == 1:
        gA = S.dimshuffle(gA, 1)
    if b.ndim == 1:
        gB = S.dimshuffle(gB, 0)
    return gA, gB


@vjp("matrix_inverse", "d inv(X) = -inv(X) dX inv(X): the cotangent is -inv(X)^T G inv(X)^T")
def _inverse(op, inputs, out, g):
    t = swap_last(out)
    return (-_matmul(_matmul(t, g), t),)


@vjp("det", "d det(X) = det(X) tr(inv(X) dX): the cotangent is g det(X) inv(X)^T")
def _det(op, inputs, out, g):

    x = inputs[0]
    scale = S.expand_dims(g * out, (out.ndim, out.ndim + 1))
    return (scale * swap_last(matrix_inverse(x)),)


@vjp("solve", "x = solve(A, b): db gets solve(A^T, g), dA gets -db x^T")
def _solve(op, inputs, out, g):

    a, b = inputs
    gb = solve(a.T, g)
    if b.ndim == 1:
        ga = -(S.dimshuffle(gb, 0, "x") * S.dimshuffle(out, "x", 0))
    else:
        ga = -_dot(gb, out.T)
    return ga, gb


# --------------------------------------------------------------------------- BLAS (made by the optimizer)
def _scal(s, ndim):
    """The broadcast scalar ``s`` (static shape all 1s) with at most ``ndim`` dimensions."""
    return S.dimshuffle(s, *range(s.ndim - ndim, s.ndim)) if s.ndim > ndim else s


def _total_like(v, s):
    """``sum(v)`` shaped like the broadcast scalar ``s``."""
    t = R.sum(v)
    return S.dimshuffle(t, *["x"] * s.ndim) if s.ndim else t


@vjp("gemm", "alpha dot(A, B) + beta C: the dot rule scaled by alpha; C scaled by beta")
def _gemm(op, inputs, out, g):
    c, alpha, a, b, beta = inputs
    return (g * _scal(beta, c.ndim), _total_like(g * _dot(a, b), alpha), _dot(g, b.T) * _scal(alpha, 2),
            _dot(a.T, g) * _scal(alpha, 2), _total_like(g * c, beta))


@vjp("gemv", "alpha dot(A, x) + beta y: the dot rule scaled by alpha; y scaled by beta")
def _gemv(op, inputs, out, g):
    y, alpha, a, x, beta = inputs
    ga = S.dimshuffle(g, 0, "x") * S.dimshuffle(x, "x", 0) * _scal(alpha, 2)
    return (g * _scal(beta, y.ndim), _total_like(g * _dot(a, x), alpha), ga, _dot(a.T, g) * _scal(alpha, 1),
            _total_like(g * y, beta))


@vjp("ger", "A + alpha outer(x, y): A gets the cotangent, x and y the outer-product rule scaled by alpha")
def _ger(op, inputs, out, g):
    c, alpha, x, y = inputs
    outer = S.dimshuffle(x, 0, "x") * S.dimshuffle(y, "x", 0)
    return g, _total_like(g * outer, alpha), _dot(g, y) * _scal(alpha, 1), _dot(g.T, x) * _scal(alpha, 1)
