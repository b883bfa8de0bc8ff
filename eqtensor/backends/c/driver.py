"""The runtime's loop driver: shapes, outputs and the loop nests around the loop kernels.

``eq_shape`` computes a loop's iteration shape from its inputs (the broadcast checks),
``eq_make`` allocates an elementwise output (or reuses a dead intermediate), ``eq_loop`` runs the
kernels of :mod:`eqtensor.backends.c.loops` over a loop nest (collapsing dimensions, gathering
strided operands, threads on the worker pool of :mod:`eqtensor.backends.c.pool`) and ``eq_copy``
copies a strided array. Part of the runtime text of :mod:`eqtensor.backends.c.prelude` (braces
doubled for ``str.format``; ``{pool}`` is the worker pool's text).

>>> "static int eq_loop(" in DRIVER
True
"""

DRIVER = r"""
/* drop length-1 dims and merge dims contiguous for every operand; returns the new rank */
static int eq_collapse(int nd, npy_intp *sh, int nops, npy_intp (*st)[EQ_MAXD])
{{
    int k, d, j = 0;
    for (d = 0; d < nd; d++) {{
        if (sh[d] == 1) continue;
        sh[j] = sh[d];
        for (k = 0; k < nops; k++) st[k][j] = st[k][d];
        j++;
    }}
    nd = j;
    if (nd == 0) return 0;
    j = 0;
    for (d = 1; d < nd; d++) {{
        int ok = 1;
        for (k = 0; k < nops; k++) if (st[k][j] != st[k][d] * sh[d]) {{ ok = 0; break; }}
        if (ok) {{
            sh[j] *= sh[d];
            for (k = 0; k < nops; k++) st[k][j] = st[k][d];
        }} else {{
            j++;
            sh[j] = sh[d];
            for (k = 0; k < nops; k++) st[k][j] = st[k][d];
        }}
    }}
    return j + 1;
}}

/* odometer step over the outer dims 0..nouter-1 */
static inline void eq_advance(int nouter, const npy_intp *sh, npy_intp *idx, int nops, char **p,
                              npy_intp (*st)[EQ_MAXD])
{{
    int d, k;
    for (d = nouter - 1; d >= 0; d--) {{
        if (++idx[d] < sh[d]) {{ for (k = 0; k < nops; k++) p[k] += st[k][d]; return; }}
        idx[d] = 0;
        for (k = 0; k < nops; k++) p[k] -= st[k][d] * (sh[d] - 1);
    }}
}}

/* iteration shape of a loop from its nin input operands (slots sl[k], dimension map dm[k * nd + d]:
   the operand's axis for loop axis d, or -1 where it broadcasts); lengths must agree */
static int eq_shape(const eq_arr *V, const char *name, int nd, int nin, const int *sl, const signed char *dm,
                    npy_intp *sh)
{{
    int d, k, first;
    for (d = 0; d < nd; d++) {{
        sh[d] = 1; first = 1;
        for (k = 0; k < nin; k++) {{
            npy_intp len;
            if (dm[k * nd + d] < 0) continue;
            len = V[sl[k]].shape[dm[k * nd + d]];
            if (first) {{ sh[d] = len; first = 0; }}
            else if (len != sh[d]) {{ eq_bcast_error(name, d, sh[d], len); return -1; }}
        }}
    }}
    return 0;
}}

/* the output slot o: the first reusable candidate (a dead intermediate of the same type, written in
   place) or a new array */
static int eq_make(eq_arr *V, int o, int nd, const npy_intp *sh, int typenum, const int *cands, int nc)
{{
    int c, d;
    for (c = 0; c < nc; c++) {{
        eq_arr *s = &V[cands[c]];
        if (!eq_reusable(s)) continue;
        eq_view(&V[o], s);
        V[o].nd = nd;
        for (d = 0; d < nd; d++) {{ V[o].shape[d] = s->shape[d]; V[o].strides[d] = s->strides[d]; }}
        return 0;
    }}
    return eq_new(&V[o], nd, sh, typenum);
}}

/* a kernel: one contiguous inner loop of n elements over operand pointers p (an operand the kernel
   treats as broadcast is read at p[k] only) */
typedef void (*eq_kern)(npy_intp n, char **p);

#define EQ_CHUNK 256

{pool}/* threads for large loops: the calling function's thread count (config.num_threads, read when it was
   compiled; set by the thunk on entry), used for loops of at least EQ_PAR_MIN elements, on the pool.
   Work is handed out in items of EQ_PAR_CHUNK elements (whole rows in row mode) from a shared counter:
   a thread that gets no core (another process is busy) delays only the item it holds, and item
   boundaries do not depend on the thread count, so results are the same for every thread count. */
#define EQ_PAR_MIN (1 << 18)
#define EQ_PAR_CHUNK 16384

typedef struct {{
    eq_kern kern;
    int nops, nd, rows;
    npy_intp n, total, step, next;  /* next: the first item not yet handed out (atomic) */
    char **p;
    npy_intp (*st)[EQ_MAXD];
    const npy_intp *sh, *s;
    const int *scal;
}} eq_par;

static void eq_par_work(void *arg, int t, int T)
{{
    eq_par *w = (eq_par *)arg;
    npy_intp a, b, r, rem, ix[EQ_MAXD];
    char *q[64];
    int d, k, nops = w->nops;
    (void)t; (void)T;
    for (;;) {{
        a = __atomic_fetch_add(&w->next, w->step, __ATOMIC_RELAXED);
        if (a >= w->total) return;
        b = w->total - a > w->step ? a + w->step : w->total;
        for (k = 0; k < nops; k++) q[k] = w->p[k];
        if (!w->rows) {{
            for (k = 0; k < nops; k++) if (!w->scal[k]) q[k] += a * w->s[k];
            w->kern(b - a, q);
            continue;
        }}
        rem = a;
        for (d = w->nd - 2; d >= 0; d--) {{
            ix[d] = rem % w->sh[d]; rem /= w->sh[d];
            for (k = 0; k < nops; k++) q[k] += ix[d] * w->st[k][d];
        }}
        for (r = a; r < b; r++) {{ w->kern(w->n, q); eq_advance(w->nd - 1, w->sh, ix, nops, q, w->st); }}
    }}
}}

/* run the items of w on the pool (the caller is one of the threads) */
static void eq_par_run(eq_par *w)
{{
    npy_intp items = (w->total + w->step - 1) / w->step;
    eq_pool_run(eq_pool_threads(items > EQ_POOL_MAX ? EQ_POOL_MAX : (int)items), eq_par_work, w);
}}

/* run a kernel over a loop nest. Operands: slots sl[k], dimension map dm[k * nd + d] (the operand's
   axis for loop axis d, or -1: stride 0), item sizes sz[k]; the last operand is the one written. The
   kernel reads an operand as broadcast (at p[k] only) when it has no axis at the last loop axis any
   operand moves along, else contiguously. acc >= 0 names a reduction accumulator (the last operand):
   kernel red (accumulator read as broadcast) runs when it does not move along the inner axis, map
   (accumulator contiguous) otherwise; operands after acc are accumulators of the same layout (the running
   sum of logsumexp after its running max); acc < 0: red is the only kernel. Dimensions contiguous for every
   operand are collapsed; an operand strided where the kernel expects it contiguous is gathered into
   chunks (the written operand scattered back); a broadcast-read operand that moves along the inner
   axis (a length-1 axis dropped at run time) makes the kernel run one element at a time. */
static int eq_loop(const eq_arr *V, eq_kern red, eq_kern map, int nd, const npy_intp *shape, int nops,
                   const int *sl, const signed char *dm, const signed char *sz, int acc)
{{
    npy_intp sh[EQ_MAXD], st[nops][EQ_MAXD], idx[EQ_MAXD], s[nops], n, outer = 1, it, i, i0, m;
    char *p[nops], *q[nops], *buf = NULL;
    int d, k, li = -1, nd0 = nd, scal[nops], gather[nops], mode = 0;
    eq_kern kern = red;
    if (nd == 0) {{  /* one element: what the general path below does then, without its set-up */
        for (k = 0; k < nops; k++) p[k] = V[sl[k]].data;
        red(1, p);
        return 0;
    }}
    for (d = 0; d < nd; d++) {{
        sh[d] = shape[d];
        if (sh[d] == 0) return 0;
        for (k = 0; k < nops; k++) if (dm[k * nd + d] >= 0) li = d;
    }}
    for (k = 0; k < nops; k++) {{
        p[k] = V[sl[k]].data;
        for (d = 0; d < nd; d++) st[k][d] = dm[k * nd + d] < 0 ? 0 : V[sl[k]].strides[dm[k * nd + d]];
    }}
    nd = eq_collapse(nd, sh, nops, st);
    n = nd ? sh[nd - 1] : 1;
    for (d = 0; d < nd - 1; d++) {{ outer *= sh[d]; idx[d] = 0; }}
    for (k = 0; k < nops; k++) s[k] = nd ? st[k][nd - 1] : 0;
    if (acc >= 0 && s[acc] != 0) kern = map;
    for (k = 0; k < nops; k++) {{
        scal[k] = acc >= 0 && k >= acc ? kern == red : (li < 0 || dm[k * nd0 + li] < 0);
        gather[k] = !scal[k] && n > 1 && s[k] != sz[k];
        if (scal[k] && n > 1 && s[k] != 0) mode = 2;
        else if (gather[k] && mode == 0) mode = 1;
    }}
    if (mode == 0 && eq_nthreads > 1 && n * outer >= EQ_PAR_MIN && nops <= 64) {{
        /* threads: over the outer rows when each row writes its own outputs, else over the inner
           axis when the written operand moves along it (never when rows share an accumulator) */
        int rows = outer > 1;
        for (d = 0; d < nd - 1; d++) if (st[nops - 1][d] == 0) rows = 0;
        if (rows || (outer == 1 && s[nops - 1] != 0)) {{
            eq_par w;
            w.kern = kern; w.nops = nops; w.nd = nd; w.rows = rows; w.n = n; w.next = 0;
            w.total = rows ? outer : n;
            w.step = rows ? (EQ_PAR_CHUNK / n > 1 ? EQ_PAR_CHUNK / n : 1) : EQ_PAR_CHUNK;
            w.p = p; w.st = st; w.sh = sh; w.s = s; w.scal = scal;
            eq_par_run(&w);
            return 0;
        }}
    }}
    if (mode == 1) {{
        buf = (char *)PyMem_Malloc((size_t)nops * EQ_CHUNK * 8);
        if (buf == NULL) {{ PyErr_NoMemory(); return -1; }}
    }}
    for (it = 0; it < outer; it++) {{
        if (mode == 0) kern(n, p);
        else if (mode == 2) {{
            for (i = 0; i < n; i++) {{
                for (k = 0; k < nops; k++) q[k] = p[k] + i * s[k];
                kern(1, q);
            }}
        }} else {{
            for (i0 = 0; i0 < n; i0 += EQ_CHUNK) {{
                m = n - i0 < EQ_CHUNK ? n - i0 : EQ_CHUNK;
                for (k = 0; k < nops; k++) {{
                    q[k] = scal[k] ? p[k] : p[k] + i0 * s[k];
                    if (!gather[k]) continue;
                    for (i = 0; i < m; i++) memcpy(buf + (size_t)k * EQ_CHUNK * 8 + i * sz[k], q[k] + i * s[k], sz[k]);
                    q[k] = buf + (size_t)k * EQ_CHUNK * 8;
                }}
                kern(m, q);
                k = nops - 1;
                if (gather[k])
                    for (i = 0; i < m; i++) memcpy(p[k] + (i0 + i) * s[k], buf + (size_t)k * EQ_CHUNK * 8 + i * sz[k], sz[k]);
            }}
        }}
        eq_advance(nd - 1, sh, idx, nops, p, st);
    }}
    PyMem_Free(buf);
    return 0;
}}

/* reductions over a short contiguous last axis: a kernel over a whole block of rows in one call,
   vectorized across rows (rows: how many, n: their length, p: the operands at the first row) */
typedef void (*eq_kern_rows)(npy_intp rows, npy_intp n, char **p);

#define EQ_SHORT 16

/* eq_loop, but when the loop collapses to rows of at most EQ_SHORT reduced elements (the
   accumulators, operands acc.., contiguous along the rows and still at their identity), every input
   the reducing kernel reads contiguously holds contiguous rows and every one it reads as broadcast is
   one value, all rows go to the short-row kernel blk in one call (one thread: a large loop on
   several threads goes to eq_loop, which shares its rows out) */
static int eq_loop_short(const eq_arr *V, eq_kern_rows blk, eq_kern red, eq_kern map, int nd,
                         const npy_intp *shape, int nops, const int *sl, const signed char *dm,
                         const signed char *sz, int acc)
{{
    npy_intp sh[EQ_MAXD], st[nops][EQ_MAXD];
    char *p[nops];
    int d, k, li = -1, m = nd, ok = 1;
    for (d = 0; d < nd; d++) {{
        sh[d] = shape[d];
        for (k = 0; k < nops; k++) if (dm[k * nd + d] >= 0) li = d;
    }}
    for (k = 0; k < nops; k++) {{
        p[k] = V[sl[k]].data;
        for (d = 0; d < nd; d++) st[k][d] = dm[k * nd + d] < 0 ? 0 : V[sl[k]].strides[dm[k * nd + d]];
    }}
    for (d = 0; d < nd; d++) if (sh[d] == 0) ok = 0;
    if (ok) m = eq_collapse(nd, sh, nops, st);
    ok = ok && li >= 0 && m == 2 && sh[1] <= EQ_SHORT && sh[0] > 1
         && !(eq_nthreads > 1 && sh[0] * sh[1] >= EQ_PAR_MIN);
    for (k = 0; ok && k < nops; k++) {{
        if (k >= acc) ok = st[k][1] == 0 && st[k][0] == sz[k];
        else if (dm[k * nd + li] < 0) ok = st[k][0] == 0 && st[k][1] == 0;
        else ok = st[k][1] == sz[k] && st[k][0] == sh[1] * sz[k];
    }}
    if (!ok) return eq_loop(V, red, map, nd, shape, nops, sl, dm, sz, acc);
    blk(sh[0], sh[1], p);
    return 0;
}}

/* copy src into dst (same shape; src strides may be 0 for broadcasting) */
static void eq_copy(const eq_arr *dst, const eq_arr *src, const npy_intp *src_strides, int itemsize)
{{
    npy_intp sh[EQ_MAXD], st[2][EQ_MAXD], idx[EQ_MAXD], outer = 1, n, i, it;
    char *p[2];
    int d, nd = dst->nd;
    for (d = 0; d < nd; d++) {{
        sh[d] = dst->shape[d]; st[0][d] = dst->strides[d]; st[1][d] = src_strides[d]; idx[d] = 0;
        if (sh[d] == 0) return;
    }}
    nd = eq_collapse(nd, sh, 2, st);
    p[0] = dst->data; p[1] = src->data;
    n = nd ? sh[nd - 1] : 1;
    for (d = 0; d < nd - 1; d++) outer *= sh[d];
    for (it = 0; it < outer; it++) {{
        npy_intp s0 = nd ? st[0][nd - 1] : 0, s1 = nd ? st[1][nd - 1] : 0;
        for (i = 0; i < n; i++) memcpy(p[0] + i * s0, p[1] + i * s1, itemsize);
        eq_advance(nd - 1, sh, idx, 2, p, st);
    }}
}}
"""

#: the row driver of the row kernels (softmax, log_softmax, argmax, argmin; plain C, no ``str.format``
#: fields): loop axes 0 .. nk-1 are kept (one row per index), nk .. nd-1 reduced (a row, flattened in
#: C order). The kernel gets whole rows: ``kern(n, p)`` with each operand at the row's start, read
#: contiguously when it moves along the reduced axes (gathered into a scratch row when its row is not
#: contiguous; the written operand, the last, scattered back) or as broadcast when it does not. Rows
#: are independent: from EQ_PAR_MIN elements on they run on the pool, handed out in items of whole
#: rows (results do not depend on the thread count).
ROWS_DRIVER = r"""
typedef struct {
    eq_kern kern;
    int nops, nd, nk, fail;
    npy_intp n, rows, step, next;
    char **p;
    npy_intp (*st)[EQ_MAXD];
    const npy_intp *sh;
    const int *mov, *contig;
    const signed char *sz;
} eq_rw;

/* copy one row of operand k between its strided layout (base, strides over the reduced axes) and a
   contiguous buffer (dir 0: gather into buf, 1: scatter from buf) */
static void eq_row_copy(const eq_rw *w, int k, char *base, char *buf, int dir)
{
    npy_intp ix[EQ_MAXD], i;
    int d, nr = w->nd - w->nk, s = w->sz[k];
    char *q = base;
    for (d = 0; d < nr; d++) ix[d] = 0;
    for (i = 0; i < w->n; i++) {
        if (dir == 0) memcpy(buf + i * s, q, (size_t)s); else memcpy(q, buf + i * s, (size_t)s);
        for (d = nr - 1; d >= 0; d--) {
            const npy_intp len = w->sh[w->nk + d], step = w->st[k][w->nk + d];
            if (++ix[d] < len) { q += step; break; }
            ix[d] = 0; q -= step * (len - 1);
        }
    }
}

/* rows [a, b) */
static void eq_rows_range(eq_rw *w, npy_intp a, npy_intp b)
{
    npy_intp ix[EQ_MAXD], rem = a, r;
    char *base[w->nops], *q[w->nops], *scratch = NULL;
    int d, k, nops = w->nops, last = nops - 1, need = 0;
    for (k = 0; k < nops; k++) { base[k] = w->p[k]; if (w->mov[k] && !w->contig[k]) need = 1; }
    if (need) {
        scratch = (char *)PyMem_RawMalloc((size_t)nops * (size_t)w->n * 8 + 64);
        if (scratch == NULL) { __atomic_store_n(&w->fail, 1, __ATOMIC_RELAXED); return; }
    }
    for (d = w->nk - 1; d >= 0; d--) {
        ix[d] = rem % w->sh[d]; rem /= w->sh[d];
        for (k = 0; k < nops; k++) base[k] += ix[d] * w->st[k][d];
    }
    for (r = a; r < b; r++) {
        for (k = 0; k < nops; k++) {
            q[k] = base[k];
            if (w->mov[k] && !w->contig[k]) {
                q[k] = scratch + (size_t)k * (size_t)w->n * 8;
                if (k != last) eq_row_copy(w, k, base[k], q[k], 0);
            }
        }
        w->kern(w->n, q);
        if (w->mov[last] && !w->contig[last]) eq_row_copy(w, last, base[last], q[last], 1);
        eq_advance(w->nk, w->sh, ix, nops, base, w->st);
    }
    PyMem_RawFree(scratch);
}

static void eq_rows_work(void *arg, int t, int T)
{
    eq_rw *w = (eq_rw *)arg;
    (void)t; (void)T;
    for (;;) {
        npy_intp a = __atomic_fetch_add(&w->next, w->step, __ATOMIC_RELAXED);
        if (a >= w->rows) return;
        eq_rows_range(w, a, w->rows - a > w->step ? a + w->step : w->rows);
    }
}

/* run a row kernel over the loop nest sh (operands: slots sl, dimension maps dm, item sizes sz, the
   last one written) */
static int eq_rows(const eq_arr *V, eq_kern kern, int nd, int nk, const npy_intp *sh, int nops, const int *sl,
                   const signed char *dm, const signed char *sz)
{
    npy_intp st[nops][EQ_MAXD], rows = 1, n = 1;
    char *p[nops];
    int mov[nops], contig[nops], d, k;
    eq_rw w;
    for (d = 0; d < nk; d++) rows *= sh[d];
    for (d = nk; d < nd; d++) n *= sh[d];
    if (rows == 0 || n == 0) return 0;
    for (k = 0; k < nops; k++) {
        npy_intp expect = sz[k];
        p[k] = V[sl[k]].data;
        mov[k] = 0; contig[k] = 1;
        for (d = 0; d < nd; d++) {
            st[k][d] = dm[k * nd + d] < 0 ? 0 : V[sl[k]].strides[dm[k * nd + d]];
            if (d >= nk && dm[k * nd + d] >= 0) mov[k] = 1;
        }
        for (d = nd - 1; d >= nk; d--) {
            if (sh[d] == 1) continue;
            if (st[k][d] != expect) contig[k] = 0;
            expect *= sh[d];
        }
    }
    w.kern = kern; w.nops = nops; w.nd = nd; w.nk = nk; w.fail = 0; w.n = n; w.rows = rows; w.next = 0;
    w.p = p; w.st = st; w.sh = sh; w.mov = mov; w.contig = contig; w.sz = sz;
    w.step = EQ_PAR_CHUNK / n > 1 ? EQ_PAR_CHUNK / n : 1;
    if (eq_nthreads > 1 && rows > 1 && rows * n >= EQ_PAR_MIN) {
        npy_intp items = (rows + w.step - 1) / w.step;
        eq_pool_run(eq_pool_threads(items > EQ_POOL_MAX ? EQ_POOL_MAX : (int)items), eq_rows_work, &w);
    } else eq_rows_range(&w, 0, rows);
    if (w.fail) { PyErr_NoMemory(); return -1; }
    return 0;
}
"""
