"""VJP rules of the linear-algebra ops declared in :mod:`eqtensor.core.ops.solvers`, ``factorizations``,
``matrix_functions``, ``eigen`` and ``nlinalg``: factorizations, structured solves, ``expm``, eigen- and
singular-value decompositions, ``pinv``, ``slogdet``.

Decompositions with several results are one node per result (``which``): each node's rule gives its
result's share of the cotangent, and the driver sums the shares. Ops reading one triangle of a symmetric
input fold the cotangent of the symmetric matrix onto that triangle (``_la_fold``).
"""

from __future__ import annotations

from ..core.op import OPS, Op
from ..core.ops import creation as LC
from ..core.ops import elemwise as E
from ..core.ops import factorizations as FA
from ..core.ops import join as J
from ..core.ops import matrix_functions as MF
from ..core.ops import nlinalg as NL
from ..core.ops import shape as S
from ..core.ops import solvers as SV
from ..core.ops.linalg import diagonal as _la_diagonal
from ..core.ops.linalg import matmul, matrix_inverse
from ..core.ops.subtensor import getitem
from .vjp import ZERO, NullGrad, VJPRule, collector, dims, sum_leading, swap_last, zeros_like

VJPS: list[VJPRule] = []
vjp = collector(VJPS)


def _la_eye(x, dtype="bool"):
    """The identity of ``x``'s last dimension (a mask by default); it broadcasts over batch dims."""
    return LC.eye(dims(x)[-1], dtype=dtype)


def _la_fold(s, lower):
    """The cotangent of ``A`` given the cotangent ``s`` of ``S``, the symmetric matrix built from the
    lower (or upper) triangle of ``A``: ``s_ij + s_ji`` on that triangle, ``s_ii`` on the diagonal."""
    full = s + swap_last(s)
    return E.switch(_la_eye(s), s, LC.tril(full) if lower else LC.triu(full))


def _la_outer(u, v, b_ndim):
    """``u @ v.mT`` for matrices, the outer product of the last axes for vectors (``b_ndim=1``)."""
    if b_ndim == 2:
        return matmul(u, swap_last(v))
    return S.expand_dims(u, u.ndim) * S.expand_dims(v, v.ndim - 1)


def _la_cols(v, d):
    """``v @ diag(d)``: column ``j`` of ``v`` scaled by ``d[..., j]``."""
    return v * S.expand_dims(d, d.ndim - 1)


def _cholesky_formula(ell, g):
    """``fold(L^-T Phi(L^T G) L^-1)``, ``Phi`` = lower triangle with the diagonal halved (Murray 2016): what
    ``cholesky_grad`` computes (reading the lower triangle of ``L``), built from differentiable ops."""
    lt = swap_last(LC.tril(ell))
    p = matmul(lt, g)
    phi = E.switch(_la_eye(p), p * 0.5, LC.tril(p))
    y = SV.solve_triangular(lt, phi, lower=False)  # L^-T Phi
    s = swap_last(SV.solve_triangular(lt, swap_last(y), lower=False))  # L^-T Phi L^-1
    return _la_fold(s, True)


@vjp("cholesky", "A = L L^T from A's lower triangle: dA = fold(L^-T Phi(L^T dL) L^-1), Phi = tril with the "
                 "diagonal halved (Murray 2016), as one op (cholesky_grad: a triangular product and two "
                 "triangular solves)")
def _cholesky_vjp(op, inputs, out, g):
    return (Op(OPS["cholesky_grad"])(out, g),)


@vjp("cholesky_grad", "linear in G, smooth in L: differentiated through its formula (fold, tril, two "
                      "triangular solves and a product)", inner_graph=True)
def _cholesky_grad_vjp(op, inputs, out, g, backprop):
    got = backprop([(_cholesky_formula(*inputs), g)], list(inputs))
    return [{"unreached": None, "zero": ZERO}[r] if isinstance(r, str) else r for r in got]


@vjp("solve_triangular", "x = A^-1 b on one triangle of A: db = A^-T g, dA = -db x^T on that triangle (strictly, "
                         "with unit_diagonal)")
def _solve_triangular_vjp(op, inputs, out, g):
    a, b = inputs
    lower, unit, b_ndim = op.params["lower"], op.params["unit_diagonal"], op.params["b_ndim"]
    gb = SV.solve_triangular(swap_last(a), g, lower=not lower, unit_diagonal=unit, b_ndim=b_ndim)
    ga = -_la_outer(gb, out, b_ndim)
    k = (-1 if lower else 1) if unit else 0
    ga = LC.tril(ga, k) if lower else LC.triu(ga, k)
    return sum_leading(ga, a.ndim), sum_leading(gb, b.ndim)


@vjp("cho_solve", "x = (C C^T)^-1 b: db = cho_solve(C, g), dA = -db x^T, and A = C C^T gives dC = tril((dA + "
                  "dA^T) C) (C^T C: triu(C (dA + dA^T)))")
def _cho_solve_vjp(op, inputs, out, g):
    c, b = inputs
    lower, b_ndim = op.params["lower"], op.params["b_ndim"]
    gb = SV.cho_solve((c, lower), g, b_ndim=b_ndim)
    ga = -_la_outer(gb, out, b_ndim)
    sym = ga + swap_last(ga)
    gc = LC.tril(matmul(sym, LC.tril(c))) if lower else LC.triu(matmul(LC.triu(c), sym))
    return sum_leading(gc, c.ndim), sum_leading(gb, b.ndim)


@vjp("blockwise_solve", "x = A^-1 b: db = A^-T g, dA = -db x^T (structured solvers read one triangle of a "
                        "symmetric A: the cotangent is folded onto it)")
def _blockwise_solve_vjp(op, inputs, out, g):
    a, b = inputs
    p = op.params
    if p["assume_a"] == "gen":
        gb = Op(OPS["blockwise_solve"], p)(swap_last(a), g)
        ga = -_la_outer(gb, out, p["b_ndim"])
    else:  # the solver's matrix is symmetric: its transpose is itself, read from the same triangle
        gb = Op(OPS["blockwise_solve"], p)(a, g)
        ga = _la_fold(-_la_outer(gb, out, p["b_ndim"]), p["lower"])
    return sum_leading(ga, a.ndim), sum_leading(gb, b.ndim)


def _lu_factors(a):
    """``P, L, U`` with ``a = P @ L @ U`` (the ``lu`` nodes of ``a``)."""
    return [Op(OPS["lu"], {"which": k, "permute_l": False, "p_indices": False})(a) for k in range(3)]


def _lu_backward(p, lo, up, g_lo, g_up):
    """The cotangent of ``A = P L U`` from those of ``L`` (unit lower) and ``U`` (either may be None):
    ``P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T`` (de Hoog, Anderssen and Lukas)."""
    terms = []
    if g_lo is not None:
        terms.append(LC.tril(matmul(swap_last(lo), g_lo), -1))
    if g_up is not None:
        terms.append(LC.triu(matmul(g_up, swap_last(up))))
    x = terms[0] if len(terms) == 1 else terms[0] + terms[1]
    y = SV.solve_triangular(swap_last(lo), x, lower=False, unit_diagonal=True)
    return matmul(p, swap_last(SV.solve_triangular(up, swap_last(y), lower=False)))


@vjp("lu", "A = P L U: P is piecewise constant; L and U give their share of P L^-T (tril(L^T gL, -1) + triu(gU "
           "U^T)) U^-T (P L: gL = P^T g)")
def _lu_vjp(op, inputs, out, g):
    which, permute_l = op.params["which"], op.params["permute_l"]
    if which == 0 and not permute_l:
        return (ZERO,)
    p, lo, up = _lu_factors(inputs[0])
    if permute_l:
        return (_lu_backward(p, lo, up, matmul(swap_last(p), g), None) if which == 0
                else _lu_backward(p, lo, up, None, g),)
    return (_lu_backward(p, lo, up, g if which == 1 else None, g if which == 2 else None),)


def _la_permutation_matrix(piv, like):
    """``P`` with ``P[i, j] = (perm[i] == j)`` for ``perm = pivot_to_permutation(piv)``: ``A = P L U``."""
    perm = FA.pivot_to_permutation(piv)
    return E.cast(E.eq(S.expand_dims(perm, perm.ndim), LC.arange(dims(like)[-1])), like.dtype)


def _la_unpack_lu(lu_):
    """The unit lower ``L`` and upper ``U`` packed in ``lu_``."""
    return LC.tril(lu_, -1) + _la_eye(lu_, lu_.dtype), LC.triu(lu_)


@vjp("lu_factor", "LU packs L (strictly lower, unit diagonal) and U of A = P L U: the LU rule with gL = tril(g, "
                  "-1), gU = triu(g); the integer pivots have none")
def _lu_factor_vjp(op, inputs, out, g):
    if op.params["which"] == 1:
        return (ZERO,)
    piv = Op(OPS["lu_factor"], {"which": 1})(inputs[0])
    lo, up = _la_unpack_lu(out)
    return (_lu_backward(_la_permutation_matrix(piv, out), lo, up, LC.tril(g, -1), LC.triu(g)),)


@vjp("lu_solve", "x = A^-1 b with A = P L U: db = A^-T g, dA = -db x^T (-x db^T with trans), then gL = P^T dA "
                 "U^T and gU = L^T P^T dA packed as LU", only=(0, 2))
def _lu_solve_vjp(op, inputs, out, g):
    lu_, piv, b = inputs
    trans, b_ndim = op.params["trans"], op.params["b_ndim"]
    gb = FA.lu_solve((lu_, piv), g, trans=not trans, b_ndim=b_ndim)
    ga = -(_la_outer(out, gb, b_ndim) if trans else _la_outer(gb, out, b_ndim))
    lo, up = _la_unpack_lu(lu_)
    pt_ga = matmul(swap_last(_la_permutation_matrix(piv, lu_)), ga)
    glu = LC.tril(matmul(pt_ga, swap_last(up)), -1) + LC.triu(matmul(swap_last(lo), pt_ga))
    return sum_leading(glu, lu_.ndim), None, sum_leading(gb, b.ndim)


def _la_copyltu(m):
    return LC.tril(m) + swap_last(LC.tril(m, -1))


def _la_total(terms):
    """The sum of the cotangent terms present (None when there are none)."""
    terms = [t for t in terms if t is not None]
    return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _qr_backward(a, q, r, g_q, g_r):
    """The cotangent of ``A = Q R`` (economic, or full with m <= n) from those of ``Q`` and ``R``
    (either may be None). With ``A = [X | Y]``, ``R = [U | V]`` (``X``, ``U`` of ``m`` columns):
    ``dX = (U^-1 (dQ' + Q copyltu(M))^T)^T`` with ``dQ' = dQ + Y dV^T``, ``M = U dU^T - dQ'^T Q``, and
    ``dY = Q dV`` (Liao, Liu, Wang and Xiang 2019); for m >= n there is no ``Y`` (``U = R``)."""
    m, n = a.type.shape[-2:]
    tall = m is not None and n is not None and m >= n  # statically no Y (else the slices are empty)
    rows = dims(a)[-2]
    left, right = (Ellipsis, slice(None), slice(None, rows)), (Ellipsis, slice(None), slice(rows, None))
    u = r if tall else getitem(r, left)
    g_u = g_v = y = None
    if g_r is not None:
        g_u = g_r if tall else getitem(g_r, left)
        if not tall:
            g_v, y = getitem(g_r, right), getitem(a, right)
    dq = _la_total([g_q, matmul(y, swap_last(g_v)) if g_v is not None else None])
    mm = _la_total([matmul(u, swap_last(g_u)) if g_u is not None else None,
                    -matmul(swap_last(dq), q) if dq is not None else None])
    k = _la_total([dq, matmul(q, _la_copyltu(mm))])
    gx = swap_last(SV.solve_triangular(u, swap_last(k), lower=False))
    if tall:
        return gx
    gy = matmul(q, g_v) if g_v is not None else zeros_like(getitem(a, right), gx.dtype)
    return J.concatenate([gx, gy], axis=a.ndim - 1)


@vjp("qr", "A = Q R: Q and R give their share of the QR pullback (mode r: through the economic Q, R; no "
           "gradient for mode raw, nor mode full with m > n, as PyTensor)")
def _qr_vjp(op, inputs, out, g):
    a = inputs[0]
    mode, which = op.params["mode"], op.params["which"]
    m, n = a.type.shape[-2:]
    if mode == "raw":
        return (NullGrad("the gradient of qr(mode='raw') is not implemented"),)
    if mode == "full" and m is not None and n is not None and m > n:
        return (NullGrad("the gradient of qr(mode='full') of a matrix with more rows than columns is not "
                         "defined (Q's last columns are arbitrary); use mode='economic'"),)
    if mode == "r":
        q, r = (Op(OPS["qr"], {"which": k, "mode": "economic"})(a) for k in range(2))
        k = min(m, n) if m is not None and n is not None else E.minimum(dims(a)[-2], dims(a)[-1])
        return (_qr_backward(a, q, r, None, getitem(g, (Ellipsis, slice(None, k), slice(None)))),)
    q, r = (out if k == which else Op(OPS["qr"], {"which": k, "mode": mode})(a) for k in range(2))
    return (_qr_backward(a, q, r, g if which == 0 else None, g if which == 1 else None),)


@vjp("expm", "d expm(A)[E] is the upper-right block of expm([[A, E], [0, A]]): the cotangent is that block of "
             "expm([[A^T, G], [0, A^T]]) (Mathias 1996)")
def _expm_vjp(op, inputs, out, g):
    a = inputs[0]
    at = swap_last(a if a.dtype == out.dtype else E.cast(a, out.dtype))
    n = dims(a)[-1]
    top = J.concatenate([at, g], axis=a.ndim - 1)
    bottom = J.concatenate([zeros_like(at), at], axis=a.ndim - 1)
    big = MF.expm(J.concatenate([top, bottom], axis=a.ndim - 2))
    return (getitem(big, (Ellipsis, slice(None, n), slice(n, None))),)


def _eigvals_vjp(inputs, g, w, v, lower):
    """The eigenvalues' share: dA = fold(V diag(g) V^T); dB = fold(-V diag(g w) V^T)."""
    vt = swap_last(v)
    ga = _la_fold(matmul(_la_cols(v, g), vt), lower)
    if len(inputs) == 1:
        return (ga,)
    gb = _la_fold(-matmul(_la_cols(v, g * w), vt), lower)
    return sum_leading(ga, inputs[0].ndim), sum_leading(gb, inputs[1].ndim)


@vjp("eigvalsh", "A V = V diag(w): dA = fold(V diag(g) V^T) on the triangle read; B (A V = B V diag(w)) gets "
                 "fold(-V diag(g w) V^T)")
def _eigvalsh_vjp(op, inputs, out, g):
    w, v = NL.eigh(*inputs, lower=op.params["lower"])
    return _eigvals_vjp(inputs, g, w, v, op.params["lower"])


@vjp("eigh", "A V = V diag(w): w gives fold(V diag(g) V^T); V gives fold(V (F * V^T G) V^T), F_ij = 1/(w_j - "
             "w_i) off the diagonal (distinct eigenvalues); with B, PyTensor's generalized formulas")
def _eigh_vjp(op, inputs, out, g):
    which, lower = op.params["which"], op.params["lower"]
    w, v = (out if k == which else Op(OPS["eigh"], {"which": k, "lower": lower})(*inputs) for k in range(2))
    if which == 0:
        return _eigvals_vjp(inputs, g, w, v, lower)
    vt = swap_last(v)
    c = matmul(vt, g)
    diff = S.expand_dims(w, w.ndim - 1) - S.expand_dims(w, w.ndim)  # [i, j] = w_j - w_i
    eye = _la_eye(v)
    f = E.switch(eye, 0, 1 / E.switch(eye, 1, diff))
    inner = f * c
    ga = _la_fold(matmul(matmul(v, inner), vt), lower)
    if len(inputs) == 1:
        return (ga,)
    gb = -matmul(matmul(v, _la_cols(inner, w)), vt) - matmul(_la_cols(v, _la_diagonal(c, 0, -2, -1)), vt) * 0.5
    return sum_leading(ga, inputs[0].ndim), sum_leading(_la_fold(gb, lower), inputs[1].ndim)


def _la_h(t):
    """``t`` kept away from 0 (magnitude at least 1e-8, sign kept, 0 taken as positive): the
    regularized ``s_i^2 - s_j^2`` of repeated singular values (Seeger et al. 2017)."""
    return E.maximum(E.abs(t), 1e-8) * E.switch(E.eq(t, 0), 1, E.sign(t))


@vjp("svd", "A = U diag(s) Vh: s gives U diag(g) Vh; U and Vh their shares of the SVD pullback (Seeger et al. "
            "2017; no gradient of U, Vh with full_matrices of a non-square matrix, as PyTensor)")
def _svd_vjp(op, inputs, out, g):
    a = inputs[0]
    which, full, uv = op.params["which"], op.params["full_matrices"], op.params["compute_uv"]
    m, n = a.type.shape[-2:]
    if not uv or which == 1:
        u, _, vh = (Op(OPS["svd"], {"which": k, "full_matrices": False, "compute_uv": True})(a) for k in range(3))
        return (matmul(_la_cols(u, g), vh),)
    if full and m is not None and n is not None and m != n:  # (unknown lengths: a shape error if not square)
        return (NullGrad("the gradient of U or Vh of svd(full_matrices=True) is implemented for square matrices "
                         "only (their extra columns are arbitrary); use full_matrices=False"),)
    u, s, vh = (out if k == which else Op(OPS["svd"], dict(op.params, which=k))(a) for k in range(3))
    rows, cols = dims(a)[-2:]
    eye_k = LC.eye(dims(s)[-1], dtype="bool")
    sj, si = S.expand_dims(s, s.ndim - 1), S.expand_dims(s, s.ndim)  # [i, j]: s_j and s_i
    e = E.switch(eye_k, 0, 1 / (_la_h(sj - si) * _la_h(sj + si)))
    if which == 0:
        utgu = matmul(swap_last(u), g)
        core = _la_cols(e * (utgu - swap_last(utgu)), s)
        ga = matmul(matmul(u, core), vh)
        # m > n: the part of g outside U's columns, (V diag(1/s) g^T (I - U U^T))^T
        extra = swap_last(matmul(matmul(_la_cols(swap_last(vh), 1 / s), swap_last(g)),
                                 LC.eye(rows, dtype=u.dtype) - matmul(u, swap_last(u))))
        known, needed = m is not None and n is not None, E.gt(rows, cols)
        has_extra = known and m > n
    else:
        vtgv = matmul(vh, swap_last(g))
        core = S.expand_dims(s, s.ndim) * (e * (vtgv - swap_last(vtgv)))
        ga = matmul(matmul(u, core), vh)
        # m < n: U diag(1/s) g (I - V V^T)
        extra = matmul(matmul(_la_cols(u, 1 / s), g), LC.eye(cols, dtype=u.dtype) - matmul(swap_last(vh), vh))
        known, needed = m is not None and n is not None, E.lt(rows, cols)
        has_extra = known and m < n
    if known:  # static shapes say whether the extra term applies
        return (ga + extra if has_extra else ga,)
    return (ga + E.switch(needed, extra, 0),)


@vjp("pinv", "d pinv: -Z G^T Z + Z Z^T G (I - X Z) + (I - Z X) G Z^T Z, transposed (Golub and Pereyra; X of "
             "constant rank)")
def _pinv_vjp(op, inputs, out, g):
    x, z = inputs[0], out
    rows, cols = dims(x)[-2:]
    gt, zt = swap_last(g), swap_last(z)
    t1 = -matmul(matmul(z, gt), z)
    t2 = matmul(matmul(matmul(z, zt), g), LC.eye(rows, dtype=z.dtype) - matmul(x, z))
    t3 = matmul(matmul(matmul(LC.eye(cols, dtype=z.dtype) - matmul(z, x), g), zt), z)
    return (swap_last(t1 + t2 + t3),)


@vjp("slogdet", "d log|det X| = tr(X^-1 dX): logabsdet (and log det) give g X^-T; the sign is piecewise constant")
def _slogdet_vjp(op, inputs, out, g):
    if op.params["which"] == 0:
        return (ZERO,)
    return (S.expand_dims(g, (g.ndim, g.ndim + 1)) * swap_last(matrix_inverse(inputs[0])),)
