"""Which BLAS the runtime calls and how: the first part of the runtime's BLAS text
(:data:`eqtensor.backends.c.blas.BLAS`; braces doubled for ``str.format``).

The functions come from NumPy's own OpenBLAS when it is the ``scipy-openblas64`` build NumPy's
wheels bundle (64-bit integers, ``scipy_sgemm_64_``…; found through the symbols of NumPy's
``_multiarray_umath``), else from SciPy's ``scipy.linalg.cython_blas`` capsules (32-bit integers).
NumPy's build is the one NumPy's ``@`` runs, usually the newer OpenBLAS (0.3.31 against SciPy's
0.3.30 here: 5–10% faster ``sgemm`` on the benchmark families' shapes). The call sites use the
typed wrappers ``eq_gemm_call``, ``eq_gemv_call``, ``eq_dot_call``, ``eq_ger_call`` and never see
the integer width.

eqtensor's BLAS calls run OpenBLAS on one thread: OpenBLAS's threads busy-wait after each call and,
on a loaded machine, fight for the cores (one threaded ``sgemm`` took ten times its one-thread
time); large products are split over the function's own threads instead
(:mod:`eqtensor.backends.c.blas`). OpenBLAS's thread count is process-wide, so it is set to 1
around a call that OpenBLAS would thread and restored after; nothing changes when the library has
no such setting.

>>> "eq_gemm_call(" in LIBRARY and "scipy_openblas_set_num_threads64_" in LIBRARY
True
"""

def _signatures(I: str, suffix: str) -> str:
    """The typedefs of the Fortran BLAS functions the runtime calls, with integer type ``I``
    (``eq_sgemm_t``… for 32-bit integers, ``eq_sgemm_64``… for 64-bit)."""
    lines = [f"/* the Fortran BLAS signatures, {I} integers */"]
    for t in ("double", "float"):
        c = {"double": "d", "float": "s"}[t]
        lines += [f"typedef void (*eq_{c}gemm{suffix})(char *, char *, {I} *, {I} *, {I} *, {t} *, {t} *, {I} *, {t} *, "
                  f"{I} *, {t} *, {t} *, {I} *);",
                  f"typedef void (*eq_{c}gemv{suffix})(char *, {I} *, {I} *, {t} *, {t} *, {I} *, {t} *, {I} *, {t} *, "
                  f"{t} *, {I} *);",
                  f"typedef {t} (*eq_{c}dot{suffix})({I} *, {t} *, {I} *, {t} *, {I} *);",
                  f"typedef void (*eq_{c}ger{suffix})({I} *, {I} *, {t} *, {t} *, {I} *, {t} *, {I} *, {t} *, {I} *);"]
    return "\n".join(lines) + "\n"


LIBRARY = r"""
#include <dlfcn.h>
#include <stdint.h>
typedef void (*eq_setnt_t)(int);
typedef int (*eq_getnt_t)(void);
/* dgemm sgemm dgemv sgemv ddot sdot dger sger, then set/get thread count (NULL: none) */
static void *eq_blas[10];
static int eq_blas64 = 0;  /* the functions take 64-bit integers */

/* the functions `names` of NumPy's OpenBLAS (ILP64: `<prefix><name>_64_`, prefix "scipy_" or none),
   through the dependencies of NumPy's _multiarray_umath, into out (all or none); the library's handle
   and, in *prefix, the prefix's index, else NULL */
static void *eq_numpy_openblas(const char **names, int n, void **out, int *prefix)
{{
    static const char *pre[2] = {{"scipy_", ""}};
    char name[64];
    Dl_info info;
    void *h, *f[16];
    int p, k;
    if (n > 16 || !dladdr((void *)&PyArray_Type, &info) || info.dli_fname == NULL) return NULL;
    h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL) return NULL;
    for (p = 0; p < 2; p++) {{
        for (k = 0; k < n; k++) {{
            snprintf(name, sizeof name, "%s%s_64_", pre[p], names[k]);
            if ((f[k] = dlsym(h, name)) == NULL) break;
        }}
        if (k < n) continue;
        for (k = 0; k < n; k++) out[k] = f[k];
        if (prefix != NULL) *prefix = p;
        return h;
    }}
    return NULL;
}}

/* the functions `names` of the capsules of a SciPy Cython module (LP64) into out; -1 with ImportError */
static int eq_capsules(const char *module, const char **names, int n, void **out)
{{
    PyObject *mod = PyImport_ImportModule(module), *capi;
    int k;
    if (mod == NULL) return -1;
    capi = PyObject_GetAttrString(mod, "__pyx_capi__");
    Py_DECREF(mod);
    if (capi == NULL) return -1;
    for (k = 0; k < n; k++) {{
        PyObject *cap = PyDict_GetItemString(capi, names[k]);
        if (cap == NULL) {{
            Py_DECREF(capi);
            PyErr_Format(PyExc_ImportError, "%s has no %s", module, names[k]);
            return -1;
        }}
        out[k] = PyCapsule_GetPointer(cap, PyCapsule_GetName(cap));
        if (out[k] == NULL) {{ Py_DECREF(capi); return -1; }}
    }}
    Py_DECREF(capi);
    return 0;
}}

static const char *eq_blas_names[8] = {{"dgemm", "sgemm", "dgemv", "sgemv", "ddot", "sdot", "dger", "sger"}};

/* the thread setting of the OpenBLAS of handle h: its set/get functions named thr[k], the first pair found */
static void eq_blas_threads(void *h, const char *(*thr)[2], int from, int to)
{{
    int k;
    for (k = from; k < to && eq_blas[8] == NULL; k++) {{
        eq_blas[8] = dlsym(h, thr[k][0]); eq_blas[9] = dlsym(h, thr[k][1]);
        if (eq_blas[8] == NULL || eq_blas[9] == NULL) eq_blas[8] = eq_blas[9] = NULL;
    }}
}}

/* NumPy's OpenBLAS (ILP64); 0 when not found */
static int eq_blas_from_numpy(void)
{{
    static const char *thr[2][2] = {{{{"scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"}},
                                    {{"openblas_set_num_threads64_", "openblas_get_num_threads64_"}}}};
    int p;
    void *h = eq_numpy_openblas(eq_blas_names, 8, eq_blas, &p);
    if (h == NULL) return 0;
    eq_blas_threads(h, thr, p, p + 1);
    eq_blas64 = 1;
    return 1;
}}

/* SciPy's cython_blas capsules (LP64), and the thread setting of the library behind them */
static int eq_blas_from_scipy(void)
{{
    static const char *thr[2][2] = {{{{"scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"}},
                                    {{"openblas_set_num_threads", "openblas_get_num_threads"}}}};
    Dl_info info;
    void *h;
    if (eq_capsules("scipy.linalg.cython_blas", eq_blas_names, 8, eq_blas) < 0) return -1;
    /* cython_blas's module, whose dependencies hold SciPy's BLAS */
    if (!dladdr(eq_blas[1], &info) || info.dli_fname == NULL || (h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) == NULL)
        return 0;
    eq_blas_threads(h, thr, 0, 2);
    return 0;
}}

static int eq_load_blas(void)
{{
    if (eq_blas[7] != NULL) return 0;
    if (eq_blas_from_numpy()) return 0;
    return eq_blas_from_scipy();
}}

/* before a BLAS call that OpenBLAS would thread (big): its thread count set to 1; returns the count to
   restore (eq_blas_restore), 0 when nothing was changed */
static int eq_blas_single(int big)
{{
    int n;
    if (!big || eq_blas[8] == NULL) return 0;
    n = ((eq_getnt_t)eq_blas[9])();
    if (n <= 1) return 0;
    ((eq_setnt_t)eq_blas[8])(1);
    return n;
}}

static void eq_blas_restore(int n) {{ if (n > 1) ((eq_setnt_t)eq_blas[8])(n); }}

/* a product from which OpenBLAS threads: gemm m n k multiply-adds, gemv/ger m n elements */
#define EQ_BLAS_BIG3(m, n, k) ((double)(m) * (double)(n) * (double)(k) > 262144.0)
#define EQ_BLAS_BIG2(m, n) ((double)(m) * (double)(n) > 8192.0)

""" + _signatures("int", "_t") + _signatures("int64_t", "_64") + r"""
/* C = alpha op(A) op(B) + beta C, column-major (Fortran) arguments */
static void eq_gemm_call(int dbl, char ta, char tb, int m, int n, int k, double alpha, char *a, int lda, char *b,
                         int ldb, double beta, char *c, int ldc)
{{
    float fa = (float)alpha, fb = (float)beta;
    if (eq_blas64) {{
        int64_t M = m, N = n, K = k, LA = lda, LB = ldb, LC = ldc;
        if (dbl) ((eq_dgemm_64)eq_blas[0])(&ta, &tb, &M, &N, &K, &alpha, (double *)a, &LA, (double *)b, &LB, &beta,
                                           (double *)c, &LC);
        else ((eq_sgemm_64)eq_blas[1])(&ta, &tb, &M, &N, &K, &fa, (float *)a, &LA, (float *)b, &LB, &fb, (float *)c, &LC);
    }} else if (dbl) ((eq_dgemm_t)eq_blas[0])(&ta, &tb, &m, &n, &k, &alpha, (double *)a, &lda, (double *)b, &ldb, &beta,
                                              (double *)c, &ldc);
    else ((eq_sgemm_t)eq_blas[1])(&ta, &tb, &m, &n, &k, &fa, (float *)a, &lda, (float *)b, &ldb, &fb, (float *)c, &ldc);
}}

/* y = alpha op(A) x + beta y */
static void eq_gemv_call(int dbl, char t, int m, int n, double alpha, char *a, int lda, char *x, int incx,
                         double beta, char *y, int incy)
{{
    float fa = (float)alpha, fb = (float)beta;
    if (eq_blas64) {{
        int64_t M = m, N = n, LA = lda, IX = incx, IY = incy;
        if (dbl) ((eq_dgemv_64)eq_blas[2])(&t, &M, &N, &alpha, (double *)a, &LA, (double *)x, &IX, &beta, (double *)y, &IY);
        else ((eq_sgemv_64)eq_blas[3])(&t, &M, &N, &fa, (float *)a, &LA, (float *)x, &IX, &fb, (float *)y, &IY);
    }} else if (dbl) ((eq_dgemv_t)eq_blas[2])(&t, &m, &n, &alpha, (double *)a, &lda, (double *)x, &incx, &beta,
                                              (double *)y, &incy);
    else ((eq_sgemv_t)eq_blas[3])(&t, &m, &n, &fa, (float *)a, &lda, (float *)x, &incx, &fb, (float *)y, &incy);
}}

static double eq_dot_call(int dbl, int n, char *x, int incx, char *y, int incy)
{{
    if (eq_blas64) {{
        int64_t N = n, IX = incx, IY = incy;
        return dbl ? ((eq_ddot_64)eq_blas[4])(&N, (double *)x, &IX, (double *)y, &IY)
                   : ((eq_sdot_64)eq_blas[5])(&N, (float *)x, &IX, (float *)y, &IY);
    }}
    return dbl ? ((eq_ddot_t)eq_blas[4])(&n, (double *)x, &incx, (double *)y, &incy)
               : ((eq_sdot_t)eq_blas[5])(&n, (float *)x, &incx, (float *)y, &incy);
}}

/* A += alpha x y^T */
static void eq_ger_call(int dbl, int m, int n, double alpha, char *x, int incx, char *y, int incy, char *a, int lda)
{{
    float fa = (float)alpha;
    if (eq_blas64) {{
        int64_t M = m, N = n, IX = incx, IY = incy, LA = lda;
        if (dbl) ((eq_dger_64)eq_blas[6])(&M, &N, &alpha, (double *)x, &IX, (double *)y, &IY, (double *)a, &LA);
        else ((eq_sger_64)eq_blas[7])(&M, &N, &fa, (float *)x, &IX, (float *)y, &IY, (float *)a, &LA);
    }} else if (dbl) ((eq_dger_t)eq_blas[6])(&m, &n, &alpha, (double *)x, &incx, (double *)y, &incy, (double *)a, &lda);
    else ((eq_sger_t)eq_blas[7])(&m, &n, &fa, (float *)x, &incx, (float *)y, &incy, (float *)a, &lda);
}}
"""
