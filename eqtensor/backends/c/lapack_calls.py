"""The C kernels of the Cholesky family: ``cholesky`` (LAPACK ``potrf``), ``solve_triangular``
(BLAS-3 ``trsm``) and ``cholesky_grad`` (the reverse pass of ``cholesky``: one ``trmm``, two
``trsm`` and the masks as C loops), in float64 and float32.

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
    static const char *names[6] = {"dpotrf", "spotrf", "dtrsm", "strsm", "dtrmm", "strmm"}, *pre[2] = {"scipy_", ""};
    char name[64];
    Dl_info info;
    void *h, *f[6];
    int p, k;
    if (!dladdr((void *)&PyArray_Type, &info) || info.dli_fname == NULL) return 0;
    h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL) return 0;
    for (p = 0; p < 2; p++) {
        for (k = 0; k < 6; k++) {
            snprintf(name, sizeof name, "%s%s_64_", pre[p], names[k]);
            if ((f[k] = dlsym(h, name)) == NULL) break;
        }
        if (k < 6) continue;
        for (k = 0; k < 6; k++) eq_lapack[k] = f[k];
        eq_lapack64 = 1;
        return 1;
    }
    return 0;
}

/* the functions `names` of the capsules of a SciPy Cython module (LP64) */
static int eq_capsules(const char *module, const char **names, int n, void **out)
{
    PyObject *mod = PyImport_ImportModule(module), *capi;
    int k;
    if (mod == NULL) return -1;
    capi = PyObject_GetAttrString(mod, "__pyx_capi__");
    Py_DECREF(mod);
    if (capi == NULL) return -1;
    for (k = 0; k < n; k++) {
        PyObject *cap = PyDict_GetItemString(capi, names[k]);
        if (cap == NULL) {
            Py_DECREF(capi);
            PyErr_Format(PyExc_ImportError, "%s has no %s", module, names[k]);
            return -1;
        }
        out[k] = PyCapsule_GetPointer(cap, PyCapsule_GetName(cap));
        if (out[k] == NULL) { Py_DECREF(capi); return -1; }
    }
    Py_DECREF(capi);
    return 0;
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

/* the lower Cholesky factor of each matrix of the stack a (reading its lower triangle); nan where a matrix is
   not positive definite. A's lower triangle goes to the row-major upper one, the lower triangle of the
   column-major matrix: potrf 'L' (faster than 'U' in OpenBLAS), then L is transposed into place. */
static int eq_cholesky(eq_arr *out, const eq_arr *a, int dbl, int typenum)
{
    int isz = dbl ? 8 : 4, d, nt;
    npy_intp n = a->shape[a->nd - 1], nb = 1, b, r, c, s0 = a->strides[a->nd - 2], s1 = a->strides[a->nd - 1];
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
        if (dbl) {
            double *o = (double *)dst;
            for (r = 0; r < n; r++) for (c = 0; c <= r; c++) o[c * n + r] = *(const double *)(src + r * s0 + c * s1);
        } else {
            float *o = (float *)dst;
            for (r = 0; r < n; r++) for (c = 0; c <= r; c++) o[c * n + r] = *(const float *)(src + r * s0 + c * s1);
        }
        if (eq_potrf_call(dbl, 'L', (int)n, dst) != 0) { eq_fill_nan(dst, n * n, dbl); continue; }
        if (dbl) {
            double *o = (double *)dst;
            for (r = 0; r < n; r++) for (c = 0; c < r; c++) { o[r * n + c] = o[c * n + r]; o[c * n + r] = 0.0; }
        } else {
            float *o = (float *)dst;
            for (r = 0; r < n; r++) for (c = 0; c < r; c++) { o[r * n + c] = o[c * n + r]; o[c * n + r] = 0.0f; }
        }
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

/* the cotangent of A = L L^T (from A's lower triangle) given that of L: with P = L^T G and Phi(P) its lower
   triangle with the diagonal halved, S = L^-T Phi L^-1 and dA = S + S^T below the diagonal, S on it, 0 above.
   Row-major P is column-major P^T = G^T L (G copied, then trmm: L's lower triangle only); then
   S^T = L^-T (Phi^T L^-1), two trsm in place. */
static int eq_cholesky_grad(eq_arr *out, const eq_arr *l, const eq_arr *g, int dbl, int typenum)
{
    int isz = dbl ? 8 : 4, ll = 0, nt, res = -1;
    npy_intp n = l->shape[0], r, c;
    char tl = 'N', *pl = NULL, up;
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
    if (eq_blas_mat(l, isz, typenum, &tL, &pl, &tl, &ll) < 0) goto done;
    up = tl == 'N' ? 'L' : 'U';  /* the triangle of the stored L (or L^T) */
    eq_copy(out, g, g->strides, isz);
    nt = eq_blas_single(EQ_BLAS_BIG3(n, n, n));
    eq_trsm_call(1, dbl, 'R', up, tl, 'N', (int)n, (int)n, pl, ll, out->data, (int)n);
    for (r = 0; r < n; r++) {  /* Phi, row-major */
        if (dbl) { double *o = (double *)out->data + r * n; o[r] *= 0.5; for (c = r + 1; c < n; c++) o[c] = 0.0; }
        else { float *o = (float *)out->data + r * n; o[r] *= 0.5f; for (c = r + 1; c < n; c++) o[c] = 0.0f; }
    }
    eq_trsm_call(0, dbl, 'R', up, tl, 'N', (int)n, (int)n, pl, ll, out->data, (int)n);
    eq_trsm_call(0, dbl, 'L', up, tl == 'T' ? 'N' : 'T', 'N', (int)n, (int)n, pl, ll, out->data, (int)n);
    eq_blas_restore(nt);
    for (r = 0; r < n; r++) {  /* fold S onto the lower triangle */
        if (dbl) {
            double *o = (double *)out->data;
            for (c = 0; c < r; c++) { o[r * n + c] += o[c * n + r]; o[c * n + r] = 0.0; }
        } else {
            float *o = (float *)out->data;
            for (c = 0; c < r; c++) { o[r * n + c] += o[c * n + r]; o[c * n + r] = 0.0f; }
        }
    }
    res = 0;
done:
    Py_XDECREF(tL.obj);
    return res;
}
"""

#: the runtime functions of the kernels (part of the runtime text of :mod:`eqtensor.backends.c.prelude`,
#: after the BLAS part; braces doubled for ``str.format``)
RUNTIME = _TEXT.replace("{", "{{").replace("}", "}}")
