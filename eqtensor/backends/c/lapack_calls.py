"""The C kernels of the Cholesky family: ``cholesky`` (LAPACK ``potrf``), ``solve_triangular``
(BLAS-3 ``trsm``) and ``cholesky_grad`` (the reverse pass of ``cholesky``, blocked: ``gemm`` and
``trsm`` on blocks of 48 rows, ~2n^3/3 flops, a third of the unblocked formula's), in float64 and
float32.

The functions come from the BLAS/LAPACK library the runtime's BLAS calls already use
(:mod:`eqtensor.backends.c.blas_library`): NumPy's bundled OpenBLAS (64-bit integers,
``scipy_dpotrf_64_``…), else SciPy's ``cython_lapack``/``cython_blas`` capsules (32-bit integers).
They run on one thread (OpenBLAS's threads set to 1 around a call it would thread, as for the
products); a NumPy fallback called inside a compiled function ran them on OpenBLAS's threads.

Row-major arrays are column-major transposes: each kernel states the column-major system it
solves. Semantics are those of the ops' NumPy ``perform`` (:mod:`eqtensor.core.ops.solvers`):
``nan`` for a matrix that is not positive definite and for an exactly singular triangular system.

>>> from eqtensor import tensor as pt
>>> from eqtensor.tensor import slinalg
>>> a = pt.dmatrix("a")
>>> node = slinalg.cholesky(a).owner
>>> code, ok = LAPACK_OPS["cholesky"]
>>> ok(node), code(node, 1, [0])
(True, ['if (eq_cholesky(&V[1], &V[0], 1, 12) < 0) goto fail;'])
"""

from __future__ import annotations

from . import kernels as K


def _floats(node) -> bool:
    """Every input has the output's float dtype (integer inputs cast through the NumPy fallback)."""
    return node.out.dtype in ("float32", "float64") and all(i.dtype == node.out.dtype for i in node.inputs)


def _cholesky_ok(node) -> bool:
    return _floats(node) and node.inputs[0].ndim >= 2


def _trsolve_ok(node) -> bool:
    a, b = node.inputs
    return _floats(node) and a.ndim == 2 and b.ndim == node.op.params["b_ndim"]


def _cholesky_grad_ok(node) -> bool:
    return _floats(node) and all(i.ndim == 2 for i in node.inputs)


def _dbl(node) -> int:
    return int(node.out.dtype == "float64")


def _call(fn, node, o, ins, *flags) -> list[str]:
    args = ", ".join([f"&V[{o}]"] + [f"&V[{i}]" for i in ins] + [str(int(f)) for f in flags]
                     + [str(_dbl(node)), str(K.typenum(node.out.dtype))])
    return [f"if ({fn}({args}) < 0) goto fail;"]


def _cholesky(node, o, ins):
    return _call("eq_cholesky", node, o, ins)


def _trsolve(node, o, ins):
    p = node.op.params
    return _call("eq_trsolve", node, o, ins, p["lower"], p["unit_diagonal"])


def _cholesky_grad(node, o, ins):
    return _call("eq_cholesky_grad", node, o, ins)


#: op name -> ``(code, ok)`` of its structural entry (:data:`eqtensor.backends.c.structural.STRUCTURAL`,
#: which calls the runtime's BLAS part)
LAPACK_OPS = {
    "cholesky": (_cholesky, _cholesky_ok),
    "solve_triangular": (_trsolve, _trsolve_ok),
    "cholesky_grad": (_cholesky_grad, _cholesky_grad_ok),
}

_TEXT = r"""
/* ---- LAPACK: potrf, trsm and trmm from the runtime's BLAS library (dpotrf spotrf dtrsm strsm dtrmm strmm) */
typedef void (*eq_potrf_t)(char *, int *, void *, int *, int *);
typedef void (*eq_potrf_64)(char *, int64_t *, void *, int64_t *, int64_t *);
typedef void (*eq_trsm_t)(char *, char *, char *, char *, int *, int *, void *, void *, int *, void *, int *);
typedef void (*eq_trsm_64)(char *, char *, char *, char *, int64_t *, int64_t *, void *, void *, int64_t *, void *,
                           int64_t *);
static void *eq_lapack[6];
static int eq_lapack64 = 0;

/* NumPy's OpenBLAS (ILP64); 0 when its symbols are not found */
static int eq_lapack_from_numpy(void)
{
    static const char *names[6] = {"dpotrf", "spotrf", "dtrsm", "strsm", "dtrmm", "strmm"};
    if (eq_numpy_openblas(names, 6, eq_lapack, NULL) == NULL) return 0;
    eq_lapack64 = 1;
    return 1;
}

static int eq_load_lapack(void)
{
    static const char *potrf[2] = {"dpotrf", "spotrf"}, *blas3[4] = {"dtrsm", "strsm", "dtrmm", "strmm"};
    void *f[6];
    int k;
    if (eq_lapack[5] != NULL) return 0;
    if (eq_load_blas() < 0) return -1;  /* the thread setting of eq_blas_single */
    if (eq_lapack_from_numpy()) return 0;
    if (eq_capsules("scipy.linalg.cython_lapack", potrf, 2, f) < 0) return -1;
    if (eq_capsules("scipy.linalg.cython_blas", blas3, 4, f + 2) < 0) return -1;
    for (k = 0; k < 6; k++) eq_lapack[k] = f[k];
    return 0;
}

/* potrf of the column-major n x n matrix a (leading dimension n); returns LAPACK's info */
static int eq_potrf_call(int dbl, char uplo, int n, char *a)
{
    int lda = n > 1 ? n : 1, info = 0;
    if (eq_lapack64) {
        int64_t N = n, LA = lda, INFO = 0;
        ((eq_potrf_64)eq_lapack[dbl ? 0 : 1])(&uplo, &N, a, &LA, &INFO);
        return (int)INFO;
    }
    ((eq_potrf_t)eq_lapack[dbl ? 0 : 1])(&uplo, &n, a, &lda, &info);
    return info;
}

/* trsm (mul 0): B = op(A)^-1 B (side 'L') or B op(A)^-1 (side 'R'); trmm (mul 1): B = op(A) B or B op(A);
   column-major, B m x n, A triangular */
static void eq_trsm_call(int mul, int dbl, char side, char uplo, char ta, char diag, int m, int n, char *a, int lda,
                         char *b, int ldb)
{
    int k = 2 + 2 * mul + (dbl ? 0 : 1);
    double one = 1.0;
    float fone = 1.0f;
    void *al = dbl ? (void *)&one : (void *)&fone;
    if (eq_lapack64) {
        int64_t M = m, N = n, LA = lda, LB = ldb;
        ((eq_trsm_64)eq_lapack[k])(&side, &uplo, &ta, &diag, &M, &N, al, a, &LA, b, &LB);
    } else ((eq_trsm_t)eq_lapack[k])(&side, &uplo, &ta, &diag, &m, &n, al, a, &lda, b, &ldb);
}

static void eq_fill_nan(char *p, npy_intp n, int dbl)
{
    npy_intp i;
    if (dbl) for (i = 0; i < n; i++) ((double *)p)[i] = NAN;
    else for (i = 0; i < n; i++) ((float *)p)[i] = NAN;
}

/* 1 when the diagonal of the 2-d a holds an exact zero */
static int eq_zero_diagonal(const eq_arr *a, int dbl)
{
    npy_intp i, n = a->shape[0], s = a->strides[0] + a->strides[1];
    for (i = 0; i < n; i++)
        if (dbl ? *(const double *)(a->data + i * s) == 0.0 : *(const float *)(a->data + i * s) == 0.0f) return 1;
    return 0;
}

static int eq_square(const char *op, const eq_arr *a)
{
    if (a->shape[a->nd - 1] != a->shape[a->nd - 2]) {
        PyErr_Format(PyExc_ValueError, "%s: expected square matrices, got an array with core shape (%zd, %zd)", op,
                     (Py_ssize_t)a->shape[a->nd - 2], (Py_ssize_t)a->shape[a->nd - 1]);
        return -1;
    }
    if (a->shape[a->nd - 1] > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: matrices of order %zd are too large for LAPACK", op,
                     (Py_ssize_t)a->shape[a->nd - 1]);
        return -1;
    }
    return 0;
}

/* the statements __VA_ARGS__ with eq_t the float type of dbl */
#define EQ_TYPED(dbl, ...) \
    do { if (dbl) { typedef double eq_t; __VA_ARGS__ } else { typedef float eq_t; __VA_ARGS__ } } while (0)

/* tiles of EQ_TILE x EQ_TILE elements: a transposing copy reads and writes each tile within the L1 cache */
#define EQ_TILE 32

/* the lower triangle of the n x n src (byte strides s0, s1) into the column-major lower triangle of dst (leading
   dimension n): dst[c * n + r] = src[r, c] for c <= r */
static void eq_lower_to_colmajor(char *dst, const char *src, npy_intp n, npy_intp s0, npy_intp s1, int dbl)
{
    npy_intp r0, c0, r, c;
    EQ_TYPED(dbl, {
        eq_t *o = (eq_t *)dst;
        for (r0 = 0; r0 < n; r0 += EQ_TILE) for (c0 = 0; c0 <= r0; c0 += EQ_TILE)
            for (r = r0; r < n && r < r0 + EQ_TILE; r++) for (c = c0; c <= r && c < c0 + EQ_TILE; c++)
                o[c * n + r] = *(const eq_t *)(src + r * s0 + c * s1);
    });
}

/* the column-major lower triangle of the n x n p moved to its row-major lower triangle, zero above */
static void eq_colmajor_to_lower(char *p, npy_intp n, int dbl)
{
    npy_intp r0, c0, r, c;
    EQ_TYPED(dbl, {
        eq_t *o = (eq_t *)p;
        for (r0 = 0; r0 < n; r0 += EQ_TILE) for (c0 = 0; c0 <= r0; c0 += EQ_TILE)
            for (r = r0; r < n && r < r0 + EQ_TILE; r++) for (c = c0; c < r && c < c0 + EQ_TILE; c++) {
                o[r * n + c] = o[c * n + r];
                o[c * n + r] = 0;
            }
    });
}

/* row-major dst (n x n) = the lower triangle of src (byte strides s0, s1), zero above */
static void eq_copy_lower(char *dst, const char *src, npy_intp n, npy_intp s0, npy_intp s1, int dbl)
{
    npy_intp r, c;
    EQ_TYPED(dbl, {
        eq_t *o = (eq_t *)dst;
        for (r = 0; r < n; r++, o += n) {
            if (s1 == (npy_intp)sizeof(eq_t)) memcpy(o, src + r * s0, (size_t)(r + 1) * sizeof(eq_t));
            else for (c = 0; c <= r; c++) o[c] = *(const eq_t *)(src + r * s0 + c * s1);
            for (c = r + 1; c < n; c++) o[c] = 0;
        }
    });
}

/* the lower Cholesky factor of each matrix of the stack a (reading its lower triangle); nan where a matrix is
   not positive definite. A's lower triangle goes to the row-major upper one, the lower triangle of the
   column-major matrix: potrf 'L' (faster than 'U' in OpenBLAS), then L is transposed into place. */
static int eq_cholesky(eq_arr *out, const eq_arr *a, int dbl, int typenum)
{
    int isz = dbl ? 8 : 4, d, nt;
    npy_intp n = a->shape[a->nd - 1], nb = 1, b, s0 = a->strides[a->nd - 2], s1 = a->strides[a->nd - 1];
    if (eq_square("cholesky", a) < 0 || eq_load_lapack() < 0) return -1;
    if (eq_new(out, a->nd, a->shape, typenum) < 0) return -1;
    for (d = 0; d < a->nd - 2; d++) nb *= a->shape[d];
    if (n == 0) return 0;
    nt = eq_blas_single(EQ_BLAS_BIG3(n, n, n));
    for (b = 0; b < nb; b++) {
        const char *src = a->data;
        char *dst = out->data + b * n * n * isz;
        npy_intp rem = b;
        for (d = a->nd - 3; d >= 0; d--) { src += (rem % a->shape[d]) * a->strides[d]; rem /= a->shape[d]; }
        eq_lower_to_colmajor(dst, src, n, s0, s1, dbl);
        if (eq_potrf_call(dbl, 'L', (int)n, dst) != 0) { eq_fill_nan(dst, n * n, dbl); continue; }
        eq_colmajor_to_lower(dst, n, dbl);
    }
    eq_blas_restore(nt);
    return 0;
}

/* x with a x = b for the triangular 2-d a (its lower or upper triangle, unit diagonal or not) and b a vector or
   a matrix; nan when a has an exact zero on its diagonal. Row-major X (n x k) is column-major X^T:
   X^T A^T = B^T, one trsm from the right. */
static int eq_trsolve(eq_arr *out, const eq_arr *a, const eq_arr *b, int lower, int unit, int dbl, int typenum)
{
    int isz = dbl ? 8 : 4, la = 0, nt;
    npy_intp n = a->shape[0], k = b->nd == 2 ? b->shape[1] : 1;
    char ta = 'N', *pa = NULL, t, up;
    eq_arr tA;
    tA.obj = NULL;
    if (eq_square("solve_triangular", a) < 0) return -1;
    if (b->shape[0] != n) {
        PyErr_Format(PyExc_ValueError, "solve_triangular: shapes (%zd, %zd) and (%zd%s) are not aligned: a has %zd "
                     "rows but the core of b has %zd", (Py_ssize_t)n, (Py_ssize_t)n, (Py_ssize_t)b->shape[0],
                     b->nd == 2 ? ", ..." : ",", (Py_ssize_t)n, (Py_ssize_t)b->shape[0]);
        return -1;
    }
    if (k > INT_MAX || eq_load_lapack() < 0) return -1;
    if (eq_new(out, b->nd, b->shape, typenum) < 0) return -1;
    if (n == 0 || k == 0) return 0;
    if (!unit && eq_zero_diagonal(a, dbl)) { eq_fill_nan(out->data, n * k, dbl); return 0; }
    eq_copy(out, b, b->strides, isz);
    if (eq_blas_mat(a, isz, typenum, &tA, &pa, &ta, &la) < 0) return -1;
    t = ta == 'T' ? 'N' : 'T';  /* op(S) = A^T */
    up = (ta == 'N' ? lower : !lower) ? 'L' : 'U';  /* the triangle of the stored S */
    nt = eq_blas_single(EQ_BLAS_BIG3(n, n, k));
    eq_trsm_call(0, dbl, 'R', up, t, unit ? 'U' : 'N', (int)k, (int)n, pa, la, out->data, (int)k);
    eq_blas_restore(nt);
    Py_XDECREF(tA.obj);
    return 0;
}

/* row-major c (m x n) = alpha op(a) op(b) + beta c: the column-major c^T = op(b)^T op(a)^T */
static void eq_rm_gemm(int dbl, char ta, char tb, int m, int n, int k, double alpha, char *a, int lda, char *b,
                       int ldb, double beta, char *c, int ldc)
{
    if (m > 0 && n > 0) eq_gemm_call(dbl, tb, ta, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
}

/* row-major b (m x n) = op(a)^-1 b (side 'L') or b op(a)^-1 (side 'R'), a triangular on its triangle uplo;
   trmm (mul 1): b = op(a) b or b op(a). The column-major b^T: side and triangle swap, op stays */
static void eq_rm_trsm(int mul, int dbl, char side, char uplo, char ta, int m, int n, char *a, int lda, char *b,
                       int ldb)
{
    if (m > 0 && n > 0)
        eq_trsm_call(mul, dbl, side == 'L' ? 'R' : 'L', uplo == 'L' ? 'U' : 'L', ta, 'N', n, m, a, lda, b, ldb);
}

/* the unblocked reverse pass on a diagonal block: ab (b x b, row stride n, lower triangle; zero above) becomes
   fold(D^-T Phi(D^T ab) D^-1), D the lower triangular block d (row stride ld); Phi keeps the lower triangle and
   halves the diagonal, fold adds the transpose below the diagonal. w: b x b workspace */
static void eq_chol_rev_diag(int dbl, int b, char *d, int ld, char *ab, int n, char *w)
{
    int isz = dbl ? 8 : 4, r, c;
    for (r = 0; r < b; r++) memcpy(w + (npy_intp)r * b * isz, ab + (npy_intp)r * n * isz, (size_t)b * isz);
    eq_rm_trsm(1, dbl, 'L', 'L', 'T', b, b, d, ld, w, b);
    EQ_TYPED(dbl, {
        eq_t *o = (eq_t *)w;
        for (r = 0; r < b; r++) { o[r * b + r] *= (eq_t)0.5; for (c = r + 1; c < b; c++) o[r * b + c] = 0; }
    });
    eq_rm_trsm(0, dbl, 'L', 'L', 'T', b, b, d, ld, w, b);
    eq_rm_trsm(0, dbl, 'R', 'L', 'N', b, b, d, ld, w, b);
    EQ_TYPED(dbl, {
        const eq_t *s = (const eq_t *)w;
        eq_t *o = (eq_t *)ab;
        for (r = 0; r < b; r++) for (c = 0; c <= r; c++)
            o[(npy_intp)r * n + c] = c < r ? s[r * b + c] + s[c * b + r] : s[r * b + r];
    });
}

/* row-major a (n x n, lower triangle, zero above) holding the cotangent of the lower Cholesky factor l (row
   stride ll) becomes that of the matrix (its lower triangle): the blocked reverse pass of the left-looking
   factorization, last block row first. With the block row [j, k) of l split into R = l[j:k, :j], its diagonal
   block D, B = l[k:, :j] and C = l[k:, j:k], and the same blocks of a: Cb = Cb D^-1, Bb -= Cb R,
   Db -= tril(Cb^T C), Db = the unblocked pass on D, Rb -= Cb^T B + (Db + Db^T) R. ~2n^3/3 flops in products
   (the unblocked formula on the whole matrix: 3n^3). w: EQ_CHOL_NB^2 workspace */
#define EQ_CHOL_NB 48
static void eq_chol_rev(int dbl, int n, char *l, int ll, char *a, char *w)
{
    int isz = dbl ? 8 : 4, j, k, b, m, r, c;
    for (k = n; k > 0; k = j) {
        char *R, *D, *B, *C, *Rb, *Db, *Bb, *Cb;
        j = k > EQ_CHOL_NB ? k - EQ_CHOL_NB : 0;
        b = k - j; m = n - k;
        R = l + (npy_intp)j * ll * isz; D = R + (npy_intp)j * isz;
        B = l + (npy_intp)k * ll * isz; C = B + (npy_intp)j * isz;
        Rb = a + (npy_intp)j * n * isz; Db = Rb + (npy_intp)j * isz;
        Bb = a + (npy_intp)k * n * isz; Cb = Bb + (npy_intp)j * isz;
        if (m > 0) {
            eq_rm_trsm(0, dbl, 'R', 'L', 'N', m, b, D, ll, Cb, n);
            eq_rm_gemm(dbl, 'N', 'N', m, j, b, -1.0, Cb, n, R, ll, 1.0, Bb, n);
            eq_rm_gemm(dbl, 'T', 'N', b, b, m, 1.0, Cb, n, C, ll, 0.0, w, b);
            EQ_TYPED(dbl, {
                const eq_t *s = (const eq_t *)w;
                for (r = 0; r < b; r++) for (c = 0; c <= r; c++) ((eq_t *)Db)[(npy_intp)r * n + c] -= s[r * b + c];
            });
            eq_rm_gemm(dbl, 'T', 'N', b, j, m, -1.0, Cb, n, B, ll, 1.0, Rb, n);
        }
        eq_chol_rev_diag(dbl, b, D, ll, Db, n, w);
        if (j == 0) continue;
        EQ_TYPED(dbl, {
            const eq_t *s = (const eq_t *)Db;
            eq_t *o = (eq_t *)w;
            for (r = 0; r < b; r++) for (c = 0; c <= r; c++)
                o[r * b + c] = o[c * b + r] = s[(npy_intp)r * n + c] * (c < r ? 1 : 2);
        });
        eq_rm_gemm(dbl, 'N', 'N', b, j, b, -1.0, w, b, R, ll, 1.0, Rb, n);
    }
}

/* the cotangent of A = L L^T (from A's lower triangle) given L (its lower triangle) and the cotangent G of L
   (its lower triangle: the upper one does not reach Phi(L^T G)): fold(L^-T Phi(L^T G) L^-1), computed by
   eq_chol_rev; nan when L has an exact zero on its diagonal. A non row-major L is copied. */
static int eq_cholesky_grad(eq_arr *out, const eq_arr *l, const eq_arr *g, int dbl, int typenum)
{
    int isz = dbl ? 8 : 4, ll = 0, nt;
    npy_intp n = l->shape[0];
    char tl = 'N', *pl = NULL, *w;
    eq_arr tL;
    tL.obj = NULL;
    if (eq_square("cholesky_grad", l) < 0) return -1;
    if (g->shape[0] != n || g->shape[1] != n) {
        PyErr_Format(PyExc_ValueError, "cholesky_grad: the cotangent has shape (%zd, %zd), the factor (%zd, %zd)",
                     (Py_ssize_t)g->shape[0], (Py_ssize_t)g->shape[1], (Py_ssize_t)n, (Py_ssize_t)n);
        return -1;
    }
    if (eq_load_lapack() < 0 || eq_new(out, 2, l->shape, typenum) < 0) return -1;
    if (n == 0) return 0;
    if (eq_zero_diagonal(l, dbl)) { eq_fill_nan(out->data, n * n, dbl); return 0; }
    if (eq_blas_mat(l, isz, typenum, &tL, &pl, &tl, &ll) < 0) return -1;
    if (tl == 'N') {  /* column-major: a row-major copy */
        Py_XDECREF(tL.obj);
        tL.obj = NULL;
        if (eq_new(&tL, 2, l->shape, typenum) < 0) return -1;
        eq_copy(&tL, l, l->strides, isz);
        pl = tL.data; ll = (int)n;
    }
    w = PyMem_Malloc((size_t)EQ_CHOL_NB * EQ_CHOL_NB * isz);
    if (w == NULL) { Py_XDECREF(tL.obj); PyErr_NoMemory(); return -1; }
    eq_copy_lower(out->data, g->data, n, g->strides[0], g->strides[1], dbl);
    nt = eq_blas_single(EQ_BLAS_BIG3(n, n, n));
    eq_chol_rev(dbl, (int)n, pl, ll, out->data, w);
    eq_blas_restore(nt);
    PyMem_Free(w);
    Py_XDECREF(tL.obj);
    return 0;
}
"""

#: the runtime functions of the kernels (part of the runtime text of :mod:`eqtensor.backends.c.prelude`,
#: after the BLAS part; braces doubled for ``str.format``)
RUNTIME = _TEXT.replace("{", "{{").replace("}", "}}")
