"""The runtime's BLAS calls: ``dot``/``matmul`` of float32/float64 vectors and matrices through
SciPy's exported BLAS (``scipy.linalg.cython_blas`` capsules, no system BLAS). Part of the runtime
text of :mod:`eqtensor.backends.c.prelude` (braces doubled for ``str.format``).

>>> "eq_dot" in BLAS
True
"""

BLAS = r"""
typedef void (*eq_dgemm_t)(char *, char *, int *, int *, int *, double *, double *, int *, double *, int *,
                           double *, double *, int *);
typedef void (*eq_sgemm_t)(char *, char *, int *, int *, int *, float *, float *, int *, float *, int *,
                           float *, float *, int *);
typedef void (*eq_dgemv_t)(char *, int *, int *, double *, double *, int *, double *, int *, double *,
                           double *, int *);
typedef void (*eq_sgemv_t)(char *, int *, int *, float *, float *, int *, float *, int *, float *, float *,
                           int *);
typedef double (*eq_ddot_t)(int *, double *, int *, double *, int *);
typedef float (*eq_sdot_t)(int *, float *, int *, float *, int *);
static void *eq_blas[6];  /* dgemm sgemm dgemv sgemv ddot sdot */

static int eq_load_blas(void)
{{
    static const char *names[6] = {{"dgemm", "sgemm", "dgemv", "sgemv", "ddot", "sdot"}};
    PyObject *mod, *capi; int k;
    if (eq_blas[0] != NULL) return 0;
    mod = PyImport_ImportModule("scipy.linalg.cython_blas");
    if (mod == NULL) return -1;
    capi = PyObject_GetAttrString(mod, "__pyx_capi__");
    Py_DECREF(mod);
    if (capi == NULL) return -1;
    for (k = 0; k < 6; k++) {{
        PyObject *cap = PyDict_GetItemString(capi, names[k]);
        if (cap == NULL) {{ Py_DECREF(capi); PyErr_Format(PyExc_ImportError, "cython_blas has no %s", names[k]); return -1; }}
        eq_blas[k] = PyCapsule_GetPointer(cap, PyCapsule_GetName(cap));
        if (eq_blas[k] == NULL) {{ Py_DECREF(capi); return -1; }}
    }}
    Py_DECREF(capi);
    return 0;
}}

/* a BLAS view of a 2-d slot: 'N' when column-major, 'T' when row-major (as column-major), else copy */
static int eq_blas_mat(const eq_arr *m, int itemsize, int typenum, eq_arr *tmp, char **ptr, char *trans, int *ld)
{{
    npy_intp r = m->shape[0], c = m->shape[1];
    npy_intp s0 = r <= 1 ? c * itemsize : m->strides[0], s1 = c <= 1 ? itemsize : m->strides[1];
    if (s1 == itemsize && s0 % itemsize == 0 && s0 >= (c > 1 ? c : 1) * itemsize && s0 / itemsize <= INT_MAX) {{
        *ptr = m->data; *trans = 'T'; *ld = (int)(s0 / itemsize); if (*ld < 1) *ld = 1; return 0;
    }}
    if (s0 == itemsize && s1 % itemsize == 0 && s1 >= (r > 1 ? r : 1) * itemsize && s1 / itemsize <= INT_MAX) {{
        *ptr = m->data; *trans = 'N'; *ld = (int)(s1 / itemsize); if (*ld < 1) *ld = 1; return 0;
    }}
    if (eq_new(tmp, 2, m->shape, typenum) < 0) return -1;
    eq_copy(tmp, m, m->strides, itemsize);
    *ptr = tmp->data; *trans = 'T'; *ld = (int)(c > 1 ? c : 1);
    return 0;
}}

static int eq_blas_vec(const eq_arr *v, int itemsize, int typenum, eq_arr *tmp, char **ptr, int *inc)
{{
    npy_intp n = v->shape[0], s = n <= 1 ? itemsize : v->strides[0];
    if (s > 0 && s % itemsize == 0 && s / itemsize <= INT_MAX) {{ *ptr = v->data; *inc = (int)(s / itemsize); return 0; }}
    if (eq_new(tmp, 1, v->shape, typenum) < 0) return -1;
    eq_copy(tmp, v, v->strides, itemsize);
    *ptr = tmp->data; *inc = 1;
    return 0;
}}

static int eq_too_big(npy_intp a, npy_intp b, npy_intp c)
{{
    if (a > INT_MAX || b > INT_MAX || c > INT_MAX) {{
        PyErr_SetString(PyExc_ValueError, "dot: dimensions above 2**31-1 are not supported by BLAS");
        return 1;
    }}
    return 0;
}}

/* out = dot(a, b) for float32/float64 vectors and matrices, through SciPy's BLAS */
static int eq_dot(eq_arr *out, const eq_arr *a, const eq_arr *b, int dbl, int typenum)
{{
    int itemsize = dbl ? 8 : 4, one = 1, ia = 0, ib = 0, la = 0, lb = 0, res = -1;
    double d1 = 1.0, d0 = 0.0; float f1 = 1.0f, f0 = 0.0f;
    char ta = 'N', tb = 'N', *pa = NULL, *pb = NULL;
    eq_arr tA, tB;
    npy_intp osh[2];
    tA.obj = NULL; tB.obj = NULL;
    if (eq_load_blas() < 0) return -1;
    if (a->nd == 2 && b->nd == 2) {{
        npy_intp m = a->shape[0], k = a->shape[1], n = b->shape[1];
        int im, ik, in_;
        if (b->shape[0] != k) {{
            PyErr_Format(PyExc_ValueError, "dot: shapes (%zd,%zd) and (%zd,%zd) not aligned", (Py_ssize_t)m,
                         (Py_ssize_t)k, (Py_ssize_t)b->shape[0], (Py_ssize_t)n);
            return -1;
        }}
        if (eq_too_big(m, k, n)) return -1;
        osh[0] = m; osh[1] = n;
        if (eq_new(out, 2, osh, typenum) < 0) return -1;
        if (m == 0 || n == 0) return 0;
        if (k == 0) {{ memset(out->data, 0, (size_t)(m * n * itemsize)); return 0; }}
        if (eq_blas_mat(a, itemsize, typenum, &tA, &pa, &ta, &la) < 0) goto done;
        if (eq_blas_mat(b, itemsize, typenum, &tB, &pb, &tb, &lb) < 0) goto done;
        /* row-major C = A B  <=>  column-major C^T = B^T A^T */
        ta = ta == 'T' ? 'N' : 'T'; tb = tb == 'T' ? 'N' : 'T';
        im = (int)m; ik = (int)k; in_ = (int)n;
        if (dbl) ((eq_dgemm_t)eq_blas[0])(&tb, &ta, &in_, &im, &ik, &d1, (double *)pb, &lb, (double *)pa, &la,
                                          &d0, (double *)out->data, &in_);
        else ((eq_sgemm_t)eq_blas[1])(&tb, &ta, &in_, &im, &ik, &f1, (float *)pb, &lb, (float *)pa, &la,
                                      &f0, (float *)out->data, &in_);
        res = 0;
    }} else if (a->nd == 2 || b->nd == 2) {{
        const eq_arr *mat = a->nd == 2 ? a : b, *vec = a->nd == 2 ? b : a;
        npy_intp r = mat->shape[0], c = mat->shape[1], k = a->nd == 2 ? c : r, n = a->nd == 2 ? r : c;
        int ir, ic;
        char t;
        if (vec->shape[0] != k) {{
            PyErr_Format(PyExc_ValueError, "dot: shapes not aligned (%zd vs %zd)", (Py_ssize_t)vec->shape[0],
                         (Py_ssize_t)k);
            return -1;
        }}
        if (eq_too_big(r, c, 1)) return -1;
        osh[0] = n;
        if (eq_new(out, 1, osh, typenum) < 0) return -1;
        if (n == 0) return 0;
        if (k == 0) {{ memset(out->data, 0, (size_t)(n * itemsize)); return 0; }}
        if (eq_blas_mat(mat, itemsize, typenum, &tA, &pa, &ta, &la) < 0) goto done;
        if (eq_blas_vec(vec, itemsize, typenum, &tB, &pb, &ib) < 0) goto done;
        /* stored column-major matrix S: ta=='N' -> S = M (r x c); ta=='T' -> S = M^T (c x r) */
        ir = (int)(ta == 'N' ? r : c); ic = (int)(ta == 'N' ? c : r);
        /* want M v (a is the matrix) or M^T v (b is the matrix) */
        if (a->nd == 2) t = ta == 'N' ? 'N' : 'T'; else t = ta == 'N' ? 'T' : 'N';
        if (dbl) ((eq_dgemv_t)eq_blas[2])(&t, &ir, &ic, &d1, (double *)pa, &la, (double *)pb, &ib, &d0,
                                          (double *)out->data, &one);
        else ((eq_sgemv_t)eq_blas[3])(&t, &ir, &ic, &f1, (float *)pa, &la, (float *)pb, &ib, &f0,
                                      (float *)out->data, &one);
        res = 0;
    }} else {{
        npy_intp n = a->shape[0];
        int in_;
        if (b->shape[0] != n) {{
            PyErr_Format(PyExc_ValueError, "dot: shapes (%zd,) and (%zd,) not aligned", (Py_ssize_t)n,
                         (Py_ssize_t)b->shape[0]);
            return -1;
        }}
        if (eq_too_big(n, 1, 1)) return -1;
        if (eq_new(out, 0, osh, typenum) < 0) return -1;
        if (n == 0) {{ memset(out->data, 0, itemsize); return 0; }}
        if (eq_blas_vec(a, itemsize, typenum, &tA, &pa, &ia) < 0) goto done;
        if (eq_blas_vec(b, itemsize, typenum, &tB, &pb, &ib) < 0) goto done;
        in_ = (int)n;
        if (dbl) *(double *)out->data = ((eq_ddot_t)eq_blas[4])(&in_, (double *)pa, &ia, (double *)pb, &ib);
        else *(float *)out->data = ((eq_sdot_t)eq_blas[5])(&in_, (float *)pa, &ia, (float *)pb, &ib);
        res = 0;
    }}
done:
    Py_XDECREF(tA.obj);
    Py_XDECREF(tB.obj);
    return res;
}}
"""
