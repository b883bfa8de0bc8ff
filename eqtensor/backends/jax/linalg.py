"""Lowering of products, BLAS forms and linear algebra to ``jax.numpy.linalg`` / ``jax.scipy.linalg``.

Inputs are cast to the dtype LAPACK computes in (the node's static dtype rules); the solvers
run over stacks of matrices through ``jnp.vectorize``. Exactly singular LU factorizations give nan,
as on the other backends. QR in ``mode="raw"`` has no JAX counterpart: it runs SciPy through a host
callback (:func:`~.special.lower_host`).
"""

from __future__ import annotations

from ...core.ops.lapack import work_dtype
from . import runtime as rt
from .casts import cast
from .special import lower_host


def _work(node, *xs):
    dtype = work_dtype(*(i.dtype for i in node.inputs[:len(xs)]))
    return [cast(x, dtype) for x in xs]


def _is_transpose(v) -> bool:
    """True for a matrix computed as the transpose of another (a dimshuffle with order (1, 0))."""
    return v.owner is not None and v.owner.op.name == "dimshuffle" and tuple(v.owner.op.params["order"]) == (1, 0)


def _dot(a, b, a_var):
    """``dot(a, b)``. A matrix-vector product whose matrix is a transpose ``M.T`` is computed as the
    vector-matrix product ``dot(b, M)`` (the two transposes cancel: XLA reads ``M`` as it is): XLA's
    CPU backend copies a transposed matrix before a matrix-vector product (``dot(X.T, v)`` took
    3x as long as ``dot(v, X)``, the form ``jax.grad`` emits)."""
    if a.ndim == 2 and b.ndim == 1 and _is_transpose(a_var):
        return rt.jnp.dot(b, a.T)
    return rt.jnp.dot(a, b)


def _products(name):
    def lower(node, *xs):
        xs = [cast(x, node.out.dtype) for x in xs]
        jnp = rt.jnp
        if name == "dot":
            return _dot(*xs, node.inputs[0])
        if name == "matmul":
            return jnp.matmul(*xs)
        if name == "ger":
            c, alpha, x, y = xs
            return c + alpha.reshape(()) * jnp.outer(x, y)
        c, alpha, a, b, beta = xs  # gemm, gemv
        return alpha.reshape(()) * _dot(a, b, node.inputs[2]) + beta.reshape(()) * c
    return lower


def _solver(solve_one):
    """``lower(node, a, *pivots, b)`` solving each core system of the stacks ``a`` and ``b``."""
    def lower(node, a, *rest):
        p = node.op.params
        *pivots, b = rest
        a, b = cast(a, node.out.dtype), cast(b, node.out.dtype)
        pivots = [cast(v, "int32") for v in pivots]
        core_b = "(n)" if p["b_ndim"] == 1 else "(n,k)"
        sig = ",".join(["(n,n)"] + ["(n)"] * len(pivots) + [core_b]) + "->" + core_b
        if b.size == 0 or a.size == 0:
            return rt.jnp.zeros(b.shape, b.dtype)
        return rt.jnp.vectorize(lambda *xs: solve_one(p, *xs), signature=sig)(a, *pivots, b)
    return lower


def _full(a, lower, conj):
    """The symmetric (Hermitian when ``conj``) matrix read from one triangle of ``a``."""
    jnp = rt.jnp
    tri = jnp.tril(a) if lower else jnp.triu(a)
    off = jnp.tril(a, -1) if lower else jnp.triu(a, 1)
    off = off.conj() if conj else off
    diag = jnp.diagonal(a, axis1=-2, axis2=-1)
    tri = tri - jnp.einsum("...i,ij->...ij", diag - (diag.real if conj else diag), jnp.eye(a.shape[-1], dtype=a.dtype))
    return tri + jnp.swapaxes(off, -1, -2)


def _nan_if(bad, x):
    return rt.jnp.where(bad, rt.jnp.nan, x)


def _solve_structured(p, a, b):
    """``scipy.linalg.solve(a, b, assume_a, lower)`` for one system; nan when ``a`` is singular."""
    jnp, sl, assume = rt.jnp, rt.slinalg, p["assume_a"]
    if assume != "gen":
        a = _full(a, p["lower"], conj=assume in ("her", "pos") and jnp.iscomplexobj(a))
    if assume == "pos":
        return sl.cho_solve((_cholesky(a), True), b)
    lu_, piv, _ = rt.lax.linalg.lu(a)
    return _nan_if(jnp.any(jnp.diagonal(lu_) == 0), sl.lu_solve((lu_, piv), b))


def _solve_triangular(p, a, b):
    x = rt.slinalg.solve_triangular(a, b, lower=p["lower"], unit_diagonal=p["unit_diagonal"])
    return x if p["unit_diagonal"] else _nan_if(rt.jnp.any(rt.jnp.diagonal(a) == 0), x)


def _cholesky_grad(ell, g):
    """fold(L^-T Phi(L^T G) L^-1) (the op's formula, :mod:`eqtensor.core.ops.solvers`)."""
    jnp, tri = rt.jnp, rt.slinalg.solve_triangular
    lt = jnp.swapaxes(jnp.tril(ell), -1, -2)
    p = jnp.tril(lt @ g)
    d = jnp.diagonal(p, axis1=-2, axis2=-1)
    p = p - 0.5 * d[..., None] * jnp.eye(p.shape[-1], dtype=p.dtype)
    y = jnp.swapaxes(tri(lt, p, lower=False), -1, -2)
    s = jnp.swapaxes(tri(lt, y, lower=False), -1, -2)
    ds = jnp.diagonal(s, axis1=-2, axis2=-1)
    return jnp.tril(s + jnp.swapaxes(s, -1, -2)) - ds[..., None] * jnp.eye(s.shape[-1], dtype=s.dtype)


def _cholesky(a):
    """The lower Cholesky factor; nan where the matrix is not positive definite (as LAPACK fails)."""
    jnp = rt.jnp
    ell = jnp.linalg.cholesky(a)
    diag = jnp.diagonal(ell, axis1=-2, axis2=-1)
    bad = jnp.any(~(diag.real > 0) | ~jnp.isfinite(diag), axis=-1)
    return jnp.where(bad[..., None, None], jnp.nan, ell)


def _generalized_eigh(a, b, lower):
    """``(w, v)`` of ``a v = w b v`` (b positive definite), through the Cholesky factor of ``b``."""
    jnp, sl = rt.jnp, rt.slinalg
    if not lower:
        a, b = jnp.swapaxes(a, -1, -2).conj(), jnp.swapaxes(b, -1, -2).conj()
    ell = jnp.linalg.cholesky(jnp.tril(b) + jnp.swapaxes(jnp.tril(b, -1), -1, -2).conj())
    full_a = jnp.tril(a) + jnp.swapaxes(jnp.tril(a, -1), -1, -2).conj()
    c = sl.solve_triangular(ell, jnp.swapaxes(sl.solve_triangular(ell, full_a, lower=True), -1, -2).conj(),
                            lower=True)
    w, u = jnp.linalg.eigh(c)
    return w, sl.solve_triangular(jnp.swapaxes(ell, -1, -2).conj(), u, lower=False)


def _eigh(node, *xs):
    xs = _work(node, *xs)
    lower = node.op.params["lower"]
    if len(xs) == 1:
        w, v = rt.jnp.linalg.eigh(xs[0], UPLO="L" if lower else "U", symmetrize_input=False)
    else:
        w, v = _generalized_eigh(xs[0], xs[1], lower)
    return w if node.op.name == "eigvalsh" or node.op.params["which"] == 0 else v


def _qr(node, a):
    (a,) = _work(node, a)
    mode = node.op.params["mode"]
    if mode == "raw":  # jax.scipy.linalg.qr has no raw mode (LAPACK's geqrf output): SciPy on the host
        m, n = a.shape[-2:]
        k = min(m, n)
        return lower_host(node, a, shape=a.shape[:-2] + [(m, n), (k,), (k, n)][node.op.params["which"]])
    out = rt.slinalg.qr(a, mode=mode)
    return out[0] if mode == "r" else out[node.op.params["which"]]


def _lu(node, a):
    (a,) = _work(node, a)
    p = node.op.params
    lu_, _, perm = rt.lax.linalg.lu(a)
    n = a.shape[-1]
    ell = rt.jnp.tril(lu_, -1) + rt.jnp.eye(n, dtype=a.dtype)
    u = rt.jnp.triu(lu_)
    inv = rt.jnp.argsort(perm, axis=-1)
    if p["p_indices"]:
        pmat = inv
    else:
        pmat = rt.jnp.swapaxes(rt.jax.nn.one_hot(perm, n, dtype=a.dtype), -1, -2)
    if p["permute_l"]:
        outs = (rt.jnp.take_along_axis(ell, inv[..., :, None], axis=-2), u)
    else:
        outs = (pmat, ell, u)
    return outs[p["which"]]


def _lu_factor(node, a):
    (a,) = _work(node, a)
    lu_, piv, _ = rt.lax.linalg.lu(a)
    if node.op.params["which"] == 1:
        return piv.astype("int32")
    singular = rt.jnp.any(rt.jnp.diagonal(lu_, axis1=-2, axis2=-1) == 0, axis=-1)
    return rt.jnp.where(singular[..., None, None], rt.jnp.nan, lu_)


def _pivot_to_permutation(node, piv):
    perm = rt.lax.linalg.lu_pivots_to_permutation(cast(piv, "int32"), piv.shape[-1])
    out = perm if node.op.params["inverse"] else rt.jnp.argsort(perm, axis=-1)
    return out.astype("int64")


def _slogdet(node, a):
    (a,) = _work(node, a)
    sign, logabs = rt.jnp.linalg.slogdet(a)
    which = node.op.params["which"]
    if which == 2:
        return rt.jnp.where(sign.real >= 0, logabs, rt.jnp.nan).astype(node.out.dtype)
    return sign if which == 0 else logabs


def _decomposition(fn):
    def lower(node, *xs):
        return cast(fn(node, *_work(node, *xs)), node.out.dtype)
    return lower


#: op name -> lowering(node, *values)
LINALG = {
    **{name: _products(name) for name in ("dot", "matmul", "gemm", "gemv", "ger")},
    "matrix_inverse": _decomposition(lambda node, a: rt.jnp.linalg.inv(a)),
    "det": _decomposition(lambda node, a: rt.jnp.linalg.det(a)),
    "solve": _decomposition(lambda node, a, b: rt.jnp.linalg.solve(a, b)),
    "pinv": _decomposition(lambda node, a: rt.jnp.linalg.pinv(a, hermitian=node.op.params["hermitian"])),
    "slogdet": _decomposition(_slogdet),
    "eig": lambda node, a: cast(rt.jnp.linalg.eig(_work(node, a)[0])[node.op.params["which"]], node.out.dtype),
    "eigh": _decomposition(_eigh),
    "eigvalsh": _decomposition(_eigh),
    "svd": _decomposition(lambda node, a: rt.jnp.linalg.svd(
        a, full_matrices=node.op.params["full_matrices"], compute_uv=node.op.params["compute_uv"])
        if not node.op.params["compute_uv"] else rt.jnp.linalg.svd(
        a, full_matrices=node.op.params["full_matrices"])[node.op.params["which"]]),
    "cholesky": _decomposition(lambda node, a: _cholesky(a)),
    "cholesky_grad": _decomposition(lambda node, ell, g: _cholesky_grad(ell, g)),
    "expm": _decomposition(lambda node, a: rt.jnp.vectorize(rt.slinalg.expm, signature="(n,n)->(n,n)")(a)),
    "qr": _decomposition(_qr),
    "lu": _decomposition(_lu),
    "lu_factor": lambda node, a: cast(_lu_factor(node, a), node.out.dtype),
    "pivot_to_permutation": _pivot_to_permutation,
    "solve_triangular": _solver(_solve_triangular),
    "cho_solve": _solver(lambda p, c, b: rt.slinalg.cho_solve((c, p["lower"]), b)),
    "blockwise_solve": _solver(_solve_structured),
    "lu_solve": _solver(lambda p, lu_, piv, b: rt.slinalg.lu_solve((lu_, piv), b, trans=int(p["trans"]))),
}
