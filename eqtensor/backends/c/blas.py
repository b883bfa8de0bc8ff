"""The runtime's BLAS ops: ``dot``/``matmul`` of float32/float64 vectors and matrices, ``gemm``,
``gemv`` and ``ger``, through the BLAS functions of :mod:`eqtensor.backends.c.blas_library`
(NumPy's or SciPy's OpenBLAS, no system BLAS); large matrix products split over the function's
threads. Part of the runtime text of :mod:`eqtensor.backends.c.prelude` (braces doubled for
``str.format``).

>>> "eq_dot" in BLAS
True
"""

from .blas_library import LIBRARY

BLAS = LIBRARY + r"""
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

/* large matrix-vector products over the function's threads. S is the stored column-major matrix
   (ir x ic, leading dimension ld; its columns are the rows of a row-major matrix, contiguous in
   memory). From EQ_GV_MIN matrix bytes on, S is cut into nb column blocks (a multiple of 4 from one
   block per EQ_GV_BLOCK_BYTES, 4 to EQ_GV_MAXB) whose bounds depend on the shape only, and thread t
   always gets blocks [t nb / T, (t + 1) nb / T) (the caller is t = 0): each core keeps its part of a
   matrix too large for one core's L2 in its own L2 across calls. trans 'T' (y = alpha S^T x + beta y):
   each block is one BLAS call writing its own slice of y. trans 'N' (y = alpha S x + beta y): block 0
   writes y, the others a partial in scratch, added to y in block order afterwards. The calls are the
   same for every thread count (1 included), so results are bitwise the same for every thread count.
   The groups run on the runtime's worker pool (eq_pool_run), whose worker t always runs group t. */
#define EQ_GV_MIN ((npy_intp)1 << 20)
#define EQ_GV_BLOCK_BYTES ((npy_intp)1 << 19)
#define EQ_GV_MAXB 64

typedef struct {{
    int dbl, nb, ir, ld, ix;
    npy_intp ic;
    char trans, *a, *x, *y, *scratch;
    double alpha, beta;
}} eq_gv;

static void eq_gv_block(eq_gv *g, int b)
{{
    int isz = g->dbl ? 8 : 4, n;
    npy_intp j0 = g->ic * b / g->nb, j1 = g->ic * (b + 1) / g->nb;
    char *a = g->a + j0 * g->ld * isz, *x = g->x, *y = g->y;
    double al = g->alpha, be = g->beta;
    n = (int)(j1 - j0);
    if (g->trans == 'T') y += j0 * isz;
    else {{
        x += j0 * g->ix * isz;
        if (b > 0) {{ y = g->scratch + (npy_intp)(b - 1) * g->ir * isz; be = 0.0; }}
    }}
    eq_gemv_call(g->dbl, g->trans, g->ir, n, al, a, g->ld, x, g->ix, be, y, 1);
}}

static void eq_gv_group(void *arg, int t, int T)
{{
    eq_gv *g = (eq_gv *)arg;
    int b, b1 = (t + 1) * g->nb / T;
    for (b = t * g->nb / T; b < b1; b++) eq_gv_block(g, b);
}}

/* y = alpha op(S) x + beta y, BLAS beta 0 or 1. Returns 1 when done, 0 when the product is small (the
   caller makes its one BLAS call), -1 on error */
static int eq_gemv_par(int dbl, char trans, int ir, int ic, char *a, int ld, char *x, int ix, double alpha,
                       double beta, char *y)
{{
    eq_gv g;
    int isz = dbl ? 8 : 4, b;
    npy_intp i, bytes = (npy_intp)ir * ic * isz, nb;
    if (bytes < EQ_GV_MIN || ic < 16) return 0;
    nb = bytes / EQ_GV_BLOCK_BYTES / 4 * 4;
    if (nb < 4) nb = 4;
    if (nb > EQ_GV_MAXB) nb = EQ_GV_MAXB;
    if (nb > ic / 4) nb = ic / 16 * 4;  /* at least 4 rows a block */
    g.dbl = dbl; g.trans = trans; g.ir = ir; g.ic = ic; g.a = a; g.ld = ld; g.x = x; g.ix = ix; g.y = y;
    g.alpha = alpha; g.beta = beta; g.scratch = NULL; g.nb = (int)nb;
    if (trans == 'N') {{
        g.scratch = (char *)PyMem_Malloc((size_t)(nb - 1) * (size_t)ir * isz);
        if (g.scratch == NULL) {{ PyErr_NoMemory(); return -1; }}
    }}
    /* threads: the function's count, at most one a block and one a core idle now */
    eq_pool_run(eq_pool_free(eq_pool_threads((int)nb)), eq_gv_group, &g);
    if (trans == 'N') {{
        for (b = 1; b < nb; b++) {{
            if (dbl) {{ double *o = (double *)y; const double *s = (const double *)g.scratch + (npy_intp)(b - 1) * ir;
                        for (i = 0; i < ir; i++) o[i] += s[i]; }}
            else {{ float *o = (float *)y; const float *s = (const float *)g.scratch + (npy_intp)(b - 1) * ir;
                    for (i = 0; i < ir; i++) o[i] += s[i]; }}
        }}
        PyMem_Free(g.scratch);
    }}
    return 1;
}}

/* y = alpha op(S) x + beta y (BLAS beta 0 or 1): eq_gemv_par when large, else one BLAS call; OpenBLAS on
   one thread. Returns -1 on error */
static int eq_gemv_blas(int dbl, char t, int ir, int ic, double alpha, char *a, int ld, char *x, int ix,
                        double beta, char *y)
{{
    int nt = eq_blas_single(EQ_BLAS_BIG2(ir, ic)), res;
    res = eq_gemv_par(dbl, t, ir, ic, a, ld, x, ix, alpha, beta, y);
    if (res == 0) eq_gemv_call(dbl, t, ir, ic, alpha, a, ld, x, ix, beta, y, 1);
    eq_blas_restore(nt);
    return res < 0 ? -1 : 0;
}}

/* rows [r0, r1) x columns [c0, c1) of the row-major out (rows of cc elements) = scale * c, c broadcast
   along its length-1 axes (nd 1: c a vector along out's rows); scale applied elementwise, as the
   formula does (0 * inf = nan). A contiguous or broadcast row of c is a SIMD loop (the runtime is
   built at -O2, which vectorizes neither a loop of run-time stride nor one that may alias) */
static void eq_blas_fill(char *out, npy_intp cc, npy_intp r0, npy_intp r1, npy_intp c0, npy_intp c1,
                         const eq_arr *c, int nd, double scale, int dbl)
{{
    npy_intp i, j, s0 = c->shape[0] == 1 ? 0 : c->strides[0], s1 = nd == 2 && c->shape[1] != 1 ? c->strides[1] : 0;
    float f = (float)scale;
    for (i = r0; i < r1; i++) {{
        const char *src = c->data + i * s0;
        if (dbl) {{
            double *o = (double *)out + i * cc, v;
            const double *s = (const double *)src;
            if (s1 == 8) {{
                #pragma omp simd
                for (j = c0; j < c1; j++) o[j] = scale * s[j];
            }} else if (s1 == 0 && c1 > c0) {{
                v = scale * *s;
                #pragma omp simd
                for (j = c0; j < c1; j++) o[j] = v;
            }} else for (j = c0; j < c1; j++) o[j] = scale * *(const double *)(src + j * s1);
        }} else {{
            float *o = (float *)out + i * cc, v;
            const float *s = (const float *)src;
            if (s1 == 4) {{
                #pragma omp simd
                for (j = c0; j < c1; j++) o[j] = f * s[j];
            }} else if (s1 == 0 && c1 > c0) {{
                v = f * *s;
                #pragma omp simd
                for (j = c0; j < c1; j++) o[j] = v;
            }} else for (j = c0; j < c1; j++) o[j] = f * *(const float *)(src + j * s1);
        }}
    }}
}}

/* column-major C^T (n x m, ld n) = alpha op(B) op(A) + beta C^T, the BLAS form of the row-major
   C = alpha A B + beta C; with acc, C's part is first set to scale * acc (broadcast; beta is then 1),
   right before its product, while it is in cache. From EQ_GM_MIN multiply-adds on, the longer of C's
   two dimensions is cut into one chunk per thread of the function's count (eq_pool_threads: capped at
   the online cores, and at EQ_GM_WIDTH rows or columns a chunk; more chunks would each pack the operand
   they do not cut again), so the BLAS calls, and the results, depend on the shape and that count only,
   not on the load. The chunks are handed out one at a time from a shared counter to the caller and the
   workers (eq_gm_part): a worker that is not scheduled takes none, the caller computes what is left.
   They run on the cores idle at call time only (eq_pool_free): on a busy machine the caller computes
   them all (one pass of a few chunks costs ~2% more than one BLAS call), as a worker would wait for a
   core and the caller for it. */
#define EQ_GM_MIN 1048576.0
#define EQ_GM_WIDTH 64

typedef struct {{
    int dbl, n, m, k, lb, la, nc, split_m, next;
    char tb, ta, *pb, *pa, *c;
    double alpha, beta, scale;
    const eq_arr *acc;
    int acc_nd;
}} eq_gm;

static void eq_gm_chunk(eq_gm *g, int j)
{{
    int isz = g->dbl ? 8 : 4, n = g->n, m = g->m, ldc = g->n;
    npy_intp m0 = 0, n0 = 0;
    char *pa = g->pa, *pb = g->pb, *c = g->c;
    if (g->split_m) {{  /* columns [m0, m1) of C^T: rows of the row-major C */
        npy_intp m1 = (npy_intp)g->m * (j + 1) / g->nc;
        m0 = (npy_intp)g->m * j / g->nc;
        m = (int)(m1 - m0);
        pa += m0 * (g->ta == 'N' ? g->la : 1) * isz;
        c += m0 * ldc * isz;
    }} else {{  /* rows [n0, n1) of C^T: columns of C */
        npy_intp n1 = (npy_intp)g->n * (j + 1) / g->nc;
        n0 = (npy_intp)g->n * j / g->nc;
        n = (int)(n1 - n0);
        pb += n0 * (g->tb == 'N' ? 1 : g->lb) * isz;
        c += n0 * isz;
    }}
    if (g->acc != NULL) eq_blas_fill(g->c, ldc, m0, m0 + m, n0, n0 + n, g->acc, g->acc_nd, g->scale, g->dbl);
    eq_gemm_call(g->dbl, g->tb, g->ta, n, m, g->k, g->alpha, pb, g->lb, pa, g->la, g->beta, c, ldc);
}}

static void eq_gm_part(void *arg, int t, int T)
{{
    eq_gm *g = (eq_gm *)arg;
    int j;
    (void)t; (void)T;
    while ((j = __atomic_fetch_add(&g->next, 1, __ATOMIC_RELAXED)) < g->nc) eq_gm_chunk(g, j);
}}

/* column-major c (n x m) = alpha op(B) op(A) + beta c; acc (row-major m x n, broadcast along its
   length-1 axes, vector when acc_nd is 1) scaled by scale is written into c chunk by chunk first (beta
   is then 1), or acc NULL */
static void eq_gemm_blas(int dbl, char tb, char ta, int n, int m, int k, double alpha, char *pb, int lb, char *pa,
                         int la, double beta, char *c, const eq_arr *acc, int acc_nd, double scale)
{{
    eq_gm g;
    int T = 1, nt, nc = 1;
    g.dbl = dbl; g.tb = tb; g.ta = ta; g.n = n; g.m = m; g.k = k; g.alpha = alpha; g.pb = pb; g.lb = lb; g.pa = pa;
    g.la = la; g.beta = acc != NULL ? 1.0 : beta; g.c = c; g.next = 0; g.split_m = m >= n;
    g.acc = acc; g.acc_nd = acc_nd; g.scale = scale;
    if ((double)m * n * k >= EQ_GM_MIN) {{
        nc = eq_pool_threads((g.split_m ? m : n) / EQ_GM_WIDTH);
        T = eq_pool_free(nc);
    }}
    g.nc = nc;
    nt = eq_blas_single(EQ_BLAS_BIG3(m, n, k));
    if (T > 1) eq_pool_run(T, eq_gm_part, &g);
    else eq_gm_part(&g, 0, 1);
    eq_blas_restore(nt);
}}

/* out = dot(a, b) for float32/float64 vectors and matrices, through SciPy's BLAS */
static int eq_dot(eq_arr *out, const eq_arr *a, const eq_arr *b, int dbl, int typenum)
{{
    int itemsize = dbl ? 8 : 4, ia = 0, ib = 0, la = 0, lb = 0, res = -1, nt;
    char ta = 'N', tb = 'N', *pa = NULL, *pb = NULL;
    eq_arr tA, tB;
    npy_intp osh[2];
    tA.obj = NULL; tB.obj = NULL;
    if (eq_load_blas() < 0) return -1;
    if (a->nd == 2 && b->nd == 2) {{
        npy_intp m = a->shape[0], k = a->shape[1], n = b->shape[1];
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
        eq_gemm_blas(dbl, tb, ta, (int)n, (int)m, (int)k, 1.0, pb, lb, pa, la, 0.0, out->data, NULL, 0, 0.0);
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
        res = eq_gemv_blas(dbl, t, ir, ic, 1.0, pa, la, pb, ib, 0.0, out->data);
    }} else {{
        npy_intp n = a->shape[0];
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
        nt = eq_blas_single(n > 10000);
        if (dbl) *(double *)out->data = eq_dot_call(1, (int)n, pa, ia, pb, ib);
        else *(float *)out->data = (float)eq_dot_call(0, (int)n, pa, ia, pb, ib);
        eq_blas_restore(nt);
        res = 0;
    }}
done:
    Py_XDECREF(tA.obj);
    Py_XDECREF(tB.obj);
    return res;
}}

/* c's lengths against the output's osh: PyTensor's static broadcasting, c broadcasts only along the
   axes d whose static length is 1 (bit d of bc); elsewhere the lengths must agree */
static int eq_blas_shape(const eq_arr *c, int nd, const npy_intp *osh, int bc, const char *opname)
{{
    int d;
    for (d = 0; d < nd; d++)
        if (c->shape[d] != osh[d] && !(bc >> d & 1)) {{ eq_bcast_error(opname, d, osh[d], c->shape[d]); return -1; }}
    return 0;
}}

/* out = fresh array of shape (osh) holding scale * c, c broadcast along the axes of bc (eq_blas_shape) */
static int eq_blas_init(eq_arr *out, const eq_arr *c, int nd, const npy_intp *osh, int bc, double scale, int dbl,
                        int typenum, const char *opname)
{{
    npy_intp cc = nd == 2 ? osh[1] : 1;
    if (eq_blas_shape(c, nd, osh, bc, opname) < 0) return -1;
    if (eq_new(out, nd, osh, typenum) < 0) return -1;
    eq_blas_fill(out->data, cc, 0, osh[0], 0, cc, c, nd, scale, dbl);
    return 0;
}}

static double eq_scalar_of(const eq_arr *a, int dbl) {{ return dbl ? *(const double *)a->data : *(const float *)a->data; }}

/* out = alpha * out + scale * c after the product was written into out (alpha zero or not finite:
   then the product's inf/nan must meet alpha as in the formula) */
static void eq_blas_finish(eq_arr *out, const eq_arr *c, int nd, double alpha, double scale, int dbl)
{{
    npy_intp i, j, r = out->shape[0], cc = nd == 2 ? out->shape[1] : 1;
    npy_intp s0 = c->shape[0] == 1 ? 0 : c->strides[0], s1 = nd == 2 && c->shape[1] != 1 ? c->strides[1] : 0;
    for (i = 0; i < r; i++) {{
        const char *src = c->data + i * s0;
        for (j = 0; j < cc; j++) {{
            if (dbl) {{ double *o = (double *)out->data + i * cc + j; *o = alpha * *o + scale * *(const double *)(src + j * s1); }}
            else {{ float *o = (float *)out->data + i * cc + j; *o = (float)alpha * *o + (float)scale * *(const float *)(src + j * s1); }}
        }}
    }}
}}

/* gemm op: out = alpha * dot(A, B) + beta * C writing a fresh array (C is only read): each chunk of
   out (eq_gemm_blas) set to beta * C, then out += alpha * A B (BLAS beta = 1). alpha zero or not
   finite: out = A B, then alpha * out + beta * C elementwise (the formula's 0 * inf = nan) */
static int eq_gemm(eq_arr *out, const eq_arr *c, const eq_arr *al, const eq_arr *a, const eq_arr *b,
                   const eq_arr *be, int bc, int dbl, int typenum)
{{
    int itemsize = dbl ? 8 : 4, la = 0, lb = 0, res = -1, fast;
    double alpha = eq_scalar_of(al, dbl), beta = eq_scalar_of(be, dbl);
    char ta = 'N', tb = 'N', *pa = NULL, *pb = NULL;
    eq_arr tA, tB;
    npy_intp osh[2], m = a->shape[0], k = a->shape[1], n = b->shape[1];
    tA.obj = NULL; tB.obj = NULL;
    if (b->shape[0] != k) {{
        PyErr_Format(PyExc_ValueError, "gemm: shapes (%zd,%zd) and (%zd,%zd) not aligned", (Py_ssize_t)m,
                     (Py_ssize_t)k, (Py_ssize_t)b->shape[0], (Py_ssize_t)n);
        return -1;
    }}
    if (eq_too_big(m, k, n)) return -1;
    if (eq_load_blas() < 0) return -1;
    osh[0] = m; osh[1] = n;
    fast = alpha != 0 && isfinite(alpha);
    if (eq_blas_shape(c, 2, osh, bc, "gemm") < 0 || eq_new(out, 2, osh, typenum) < 0) return -1;
    if (m == 0 || n == 0) return 0;
    if (k == 0) {{
        if (fast) eq_blas_fill(out->data, n, 0, m, 0, n, c, 2, beta, dbl);
        else memset(out->data, 0, (size_t)(m * n * itemsize));
    }} else {{
        if (eq_blas_mat(a, itemsize, typenum, &tA, &pa, &ta, &la) < 0) goto done;
        if (eq_blas_mat(b, itemsize, typenum, &tB, &pb, &tb, &lb) < 0) goto done;
        /* row-major out = A B  <=>  column-major out^T = B^T A^T */
        ta = ta == 'T' ? 'N' : 'T'; tb = tb == 'T' ? 'N' : 'T';
        eq_gemm_blas(dbl, tb, ta, (int)n, (int)m, (int)k, fast ? alpha : 1.0, pb, lb, pa, la, 0.0, out->data,
                     fast ? c : NULL, 2, beta);
    }}
    if (!fast) eq_blas_finish(out, c, 2, alpha, beta, dbl);
    res = 0;
done:
    Py_XDECREF(tA.obj);
    Py_XDECREF(tB.obj);
    return res;
}}

/* gemv op: out = alpha * dot(A, x) + beta * y, as eq_gemm */
static int eq_gemv(eq_arr *out, const eq_arr *y, const eq_arr *al, const eq_arr *a, const eq_arr *x,
                   const eq_arr *be, int bc, int dbl, int typenum)
{{
    int itemsize = dbl ? 8 : 4, la = 0, ix = 0, res = -1, ir, ic, fast;
    double alpha = eq_scalar_of(al, dbl), beta = eq_scalar_of(be, dbl);
    char ta = 'N', t, *pa = NULL, *px = NULL;
    eq_arr tA, tX;
    npy_intp osh[1], r = a->shape[0], c = a->shape[1];
    tA.obj = NULL; tX.obj = NULL;
    if (x->shape[0] != c) {{
        PyErr_Format(PyExc_ValueError, "gemv: shapes (%zd,%zd) and (%zd,) not aligned", (Py_ssize_t)r,
                     (Py_ssize_t)c, (Py_ssize_t)x->shape[0]);
        return -1;
    }}
    if (eq_too_big(r, c, 1)) return -1;
    if (eq_load_blas() < 0) return -1;
    osh[0] = r;
    fast = alpha != 0 && isfinite(alpha);
    if (fast) {{ if (eq_blas_init(out, y, 1, osh, bc, beta, dbl, typenum, "gemv") < 0) return -1; }}
    else {{
        if (eq_blas_shape(y, 1, osh, bc, "gemv") < 0) return -1;
        if (eq_new(out, 1, osh, typenum) < 0) return -1;
        if (r > 0) memset(out->data, 0, (size_t)(r * itemsize));
    }}
    if (r == 0) return 0;
    if (c > 0) {{
        if (eq_blas_mat(a, itemsize, typenum, &tA, &pa, &ta, &la) < 0) goto done;
        if (eq_blas_vec(x, itemsize, typenum, &tX, &px, &ix) < 0) goto done;
        /* stored column-major S: ta == 'N' -> S = A (r x c), else S = A^T (c x r) */
        ir = (int)(ta == 'N' ? r : c); ic = (int)(ta == 'N' ? c : r);
        t = ta == 'N' ? 'N' : 'T';
        if (eq_gemv_blas(dbl, t, ir, ic, fast ? alpha : 1.0, pa, la, px, ix, fast ? 1.0 : 0.0, out->data) < 0)
            goto done;
    }}
    if (!fast) eq_blas_finish(out, y, 1, alpha, beta, dbl);
    res = 0;
done:
    Py_XDECREF(tA.obj);
    Py_XDECREF(tX.obj);
    return res;
}}

/* ger op: out = C + alpha * outer(x, y) into a fresh array (alpha zero or not finite: elementwise, as
   the formula) */
static int eq_ger(eq_arr *out, const eq_arr *c, const eq_arr *al, const eq_arr *x, const eq_arr *y, int bc,
                  int dbl, int typenum)
{{
    int itemsize = dbl ? 8 : 4, ix = 0, iy = 0, res = -1, nt;
    double alpha = eq_scalar_of(al, dbl);
    float f1 = (float)alpha;
    char *px = NULL, *py = NULL;
    eq_arr tX, tY;
    npy_intp osh[2], m = x->shape[0], n = y->shape[0], i, j;
    tX.obj = NULL; tY.obj = NULL;
    if (eq_too_big(m, n, 1)) return -1;
    osh[0] = m; osh[1] = n;
    if (eq_blas_init(out, c, 2, osh, bc, 1.0, dbl, typenum, "ger") < 0) return -1;
    if (m == 0 || n == 0) return 0;
    if (!(alpha != 0 && isfinite(alpha))) {{
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) {{
                if (dbl) ((double *)out->data)[i * n + j] += alpha * (*(const double *)(x->data + i * x->strides[0])
                                                                      * *(const double *)(y->data + j * y->strides[0]));
                else ((float *)out->data)[i * n + j] += f1 * (*(const float *)(x->data + i * x->strides[0])
                                                                * *(const float *)(y->data + j * y->strides[0]));
            }}
        return 0;
    }}
    if (eq_load_blas() < 0) return -1;
    if (eq_blas_vec(x, itemsize, typenum, &tX, &px, &ix) < 0) goto done;
    if (eq_blas_vec(y, itemsize, typenum, &tY, &py, &iy) < 0) goto done;
    /* row-major out (m x n) is column-major out^T (n x m): out^T += alpha y x^T */
    nt = eq_blas_single(EQ_BLAS_BIG2(m, n));
    eq_ger_call(dbl, (int)n, (int)m, alpha, py, iy, px, ix, out->data, (int)n);
    eq_blas_restore(nt);
    res = 0;
done:
    Py_XDECREF(tX.obj);
    Py_XDECREF(tY.obj);
    return res;
}}
"""
