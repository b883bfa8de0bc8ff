"""The C runtime shared by every generated module: array slots, checks, loops helpers, BLAS.

Every value the generated function touches lives in an ``eq_arr`` *slot*: a data pointer, shape
and byte strides, plus a strong reference to the NumPy array that owns the memory (views share
their owner). Inputs are checked (type, dtype, ndim, static shape, alignment, byte order) before
anything is computed; every error becomes a Python exception.

The ``{maxd}`` placeholder is the largest rank in the function (at least 1).
"""

from __future__ import annotations

import numpy as np

from .blas import BLAS
from .pool import POOL

#: math functions glibc's libmvec provides SIMD variants for (double and float)
LIBMVEC_FUNCS = (
    "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "erf", "erfc", "exp", "exp2",
    "expm1", "log", "log10", "log1p", "log2", "sin", "sinh", "tan", "tanh",
)
LIBMVEC_FUNCS2 = ("atan2", "pow")


def libmvec_declarations() -> str:
    """Redeclare libm functions with ``omp declare simd`` so loops call libmvec's vector versions."""
    lines = []
    for name in LIBMVEC_FUNCS:
        lines.append(f"#pragma omp declare simd notinbranch\nextern double {name}(double);")
        lines.append(f"#pragma omp declare simd notinbranch\nextern float {name}f(float);")
    for name in LIBMVEC_FUNCS2:
        lines.append(f"#pragma omp declare simd notinbranch\nextern double {name}(double, double);")
        lines.append(f"#pragma omp declare simd notinbranch\nextern float {name}f(float, float);")
    return "\n".join(lines)


INT_TYPES = {
    "i8": "npy_int8", "i16": "npy_int16", "i32": "npy_int32", "i64": "npy_int64",
    "u8": "npy_uint8", "u16": "npy_uint16", "u32": "npy_uint32", "u64": "npy_uint64", "b": "npy_bool",
}


def _int_helpers() -> str:
    out = []
    for tag, ct in INT_TYPES.items():
        signed = tag.startswith("i")
        neg_one = (f"if (b == ({ct})-1) return ({ct})(0 - (npy_uint64)a);" if signed else "")
        adjust_q = "if ((a % b) != 0 && ((a < 0) != (b < 0))) q--;" if signed else ""
        mod_neg = "if (b == ({ct})-1) return 0;".format(ct=ct) if signed else ""
        adjust_r = "if (r != 0 && ((r < 0) != (b < 0))) r += b;" if signed else ""
        out.append(
            f"static inline {ct} eq_fdiv_{tag}({ct} a, {ct} b) {{ if (b == 0) return 0; {neg_one} "
            f"{ct} q = a / b; {adjust_q} return q; }}\n"
            f"static inline {ct} eq_mod_{tag}({ct} a, {ct} b) {{ if (b == 0) return 0; {mod_neg} "
            f"{ct} r = a % b; {adjust_r} return r; }}\n"
            f"static inline {ct} eq_max_{tag}({ct} a, {ct} b) {{ return a > b ? a : b; }}\n"
            f"static inline {ct} eq_min_{tag}({ct} a, {ct} b) {{ return a < b ? a : b; }}\n"
        )
    return "".join(out)


def _float_helpers() -> str:
    out = []
    for tag, ct, f, lim, zlim, tiny in (("d", "double", "", 708, 746, "0x1p-54"), ("f", "float", "f", 87, 104, "0x1p-25f")):
        scale = float(np.exp(np.array(-lim, dtype="float64" if tag == "d" else "float32"))).hex()
        out.append(f"""
/* as NumPy: NaN propagates, and of two equal values (-0.0 and 0.0) the second is returned */
static inline {ct} eq_max_{tag}({ct} a, {ct} b) {{ return (a > b || a != a) ? a : b; }}
static inline {ct} eq_min_{tag}({ct} a, {ct} b) {{ return (a < b || a != a) ? a : b; }}
static inline {ct} eq_mod_{tag}({ct} a, {ct} b) {{
    {ct} m = fmod{f}(a, b);
    if (b == 0) return m;
    if (m != 0) {{ if ((b < 0) != (m < 0)) m += b; }} else m = copysign{f}(0, b);
    return m;
}}
static inline {ct} eq_fdiv_{tag}({ct} a, {ct} b) {{
    {ct} m, d, fd;
    if (b == 0) return a / b;
    m = fmod{f}(a, b);
    d = (a - m) / b;
    if (m != 0 && ((b < 0) != (m < 0))) d -= 1;
    if (d != 0) {{ fd = floor{f}(d); if (d - fd > ({ct})0.5) fd += 1; }}
    else fd = copysign{f}(0, a / b);
    return fd;
}}
static inline {ct} eq_sign_{tag}({ct} x) {{ return x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : x)); }}
/* exp(t) for t <= 0 with the argument of exp kept in its normal range (vector exp stays on its fast
   path): exp(t) = exp(t + L) * exp(-L) below -L. The clamp is z - L with z = (t != t), not the
   constant -L: GCC turns exp(c ? -L : a) into c ? exp(-L) : exp(a), calling exp on the unclamped
   value (its slow scalar path, ~10x slower for out-of-range lanes) */
static inline {ct} eq_expneg_{tag}({ct} t) {{
    const {ct} L = {lim}, C = {scale}, z = ({ct})(t != t);
    {ct} a = t < -L ? t + L : t;
    return exp{f}(a < -L ? z - L : a) * (t < -L ? C : 1);
}}
static inline {ct} eq_sigmoid_{tag}({ct} x) {{
    {ct} e = eq_expneg_{tag}(-fabs{f}(x));
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}}
/* softplus(x) = max(x, 0) + log1p(exp(-|x|)) with every vector math call on its fast path: the
   argument of exp is clamped to [-L, 0] without a constant arm (see eq_expneg); t = exp(-|x|) is
   zeroed where it cannot matter (x > L: the result is x; x < -Z: the result rounds to 0) and scaled
   by exp(-L) for -Z <= x < -L (exp(x), subnormal below ~-708), so no lane multiplies into
   underflow (a microcode assist). Below 2^-54 (2^-25 for float) log1p(t) rounds to t: log1p gets 0
   there and t is added instead (the vector log1p's polynomial underflows into subnormals, and
   assists, for t around e^-100..e^-400). Lanes are selected by 0/1 factors, not ?: (GCC threads
   conditionals through the call and then emits it twice per vector). ~3x faster than
   max(x, 0) + log1p(eq_expneg(-|x|)) on x in [-1000, 1000]. */
static inline {ct} eq_softplus_{tag}({ct} x) {{
    const {ct} L = {lim}, Z = {zlim}, C = {scale}, z = ({ct})(x != x);
    const {ct} m = -fabs{f}(x), a = m < -L ? m + L : m;
    const {ct} e = exp{f}(a < -L ? z - L : a);
    const {ct} lo = ({ct})(x < -L), keep = ({ct})(x <= L) * ({ct})(x >= -Z);
    const {ct} t = e * (keep * (lo * C + (1 - lo)));
    const {ct} sk = ({ct})(t < {tiny});
    return (x > 0 ? x : 0) + log1p{f}(t * (1 - sk)) + t * sk;
}}
static inline {ct} eq_log1mexp_{tag}({ct} x) {{
    return x > ({ct})-0.6931471805599453 ? log{f}(-expm1{f}(x)) : log1p{f}(-exp{f}(x));
}}
static inline {ct} eq_fin_{tag}({ct} x) {{ return isfinite(x) ? x : 0; }}
""")
    return "".join(out)


RUNTIME = r"""
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <math.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>

#define EQ_MAXD {maxd}

typedef struct {{
    char *data;
    int nd;
    npy_intp shape[EQ_MAXD];
    npy_intp strides[EQ_MAXD];
    PyArrayObject *obj;  /* strong reference to the array owning the memory */
}} eq_arr;

static void eq_bind(eq_arr *a, PyArrayObject *o)
{{
    int d;
    Py_INCREF(o);
    Py_XDECREF(a->obj);
    a->obj = o;
    a->data = PyArray_BYTES(o);
    a->nd = PyArray_NDIM(o);
    for (d = 0; d < a->nd; d++) {{ a->shape[d] = PyArray_DIM(o, d); a->strides[d] = PyArray_STRIDE(o, d); }}
}}

static int eq_new(eq_arr *a, int nd, const npy_intp *shape, int typenum)
{{
    PyArrayObject *o = (PyArrayObject *)PyArray_EMPTY(nd, (npy_intp *)shape, typenum, 0);
    if (o == NULL) return -1;
    eq_bind(a, o);
    Py_DECREF(o);
    return 0;
}}

static void eq_view(eq_arr *dst, const eq_arr *src)
{{
    Py_INCREF(src->obj);
    Py_XDECREF(dst->obj);
    dst->obj = src->obj;
    dst->data = src->data;
}}

static npy_intp eq_size(const eq_arr *a)
{{
    npy_intp n = 1; int d;
    for (d = 0; d < a->nd; d++) n *= a->shape[d];
    return n;
}}

/* the slot is exactly its owner (same data, shape and strides) */
static int eq_is_owner(const eq_arr *a)
{{
    int d; PyArrayObject *o = a->obj;
    if (PyArray_BYTES(o) != a->data || PyArray_NDIM(o) != a->nd) return 0;
    for (d = 0; d < a->nd; d++)
        if (PyArray_DIM(o, d) != a->shape[d] || PyArray_STRIDE(o, d) != a->strides[d]) return 0;
    return 1;
}}

/* the owner may be overwritten: nobody else holds it and the slot covers it contiguously */
static int eq_reusable(const eq_arr *a)
{{
    return Py_REFCNT(a->obj) == 1 && eq_is_owner(a) && PyArray_IS_C_CONTIGUOUS(a->obj)
        && PyArray_ISWRITEABLE(a->obj) && PyArray_BASE(a->obj) == NULL;
}}

static int eq_is_c_contiguous(const eq_arr *a, int itemsize)
{{
    npy_intp s = itemsize; int d;
    for (d = a->nd - 1; d >= 0; d--) {{
        if (a->shape[d] == 0) return 1;
        if (a->shape[d] != 1 && a->strides[d] != s) return 0;
        s *= a->shape[d];
    }}
    return 1;
}}

/* a NumPy array for the slot: its owner itself, a view of it, or (copy) a new C-ordered copy */
static PyObject *eq_output(const eq_arr *a, int typenum, int copy)
{{
    PyObject *v, *c;
    int flags = PyArray_ISWRITEABLE(a->obj) ? NPY_ARRAY_WRITEABLE : 0;
    if (!copy && eq_is_owner(a)) {{ Py_INCREF(a->obj); return (PyObject *)a->obj; }}
    v = PyArray_NewFromDescr(&PyArray_Type, PyArray_DescrFromType(typenum), a->nd, (npy_intp *)a->shape,
                             (npy_intp *)a->strides, a->data, flags, NULL);
    if (v == NULL) return NULL;
    Py_INCREF(a->obj);
    if (PyArray_SetBaseObject((PyArrayObject *)v, (PyObject *)a->obj) < 0) {{ Py_DECREF(v); return NULL; }}
    if (!copy) return v;
    c = PyArray_NewCopy((PyArrayObject *)v, NPY_CORDER);
    Py_DECREF(v);
    return c;
}}

/* check an argument and bind it: ndarray, dtype, ndim, static shape; copies unaligned/swapped data */
static int eq_input(eq_arr *a, PyObject *o, int typenum, int nd, const npy_intp *stat, int pos,
                    const char *label)
{{
    PyArrayObject *arr; int d;
    if (!PyArray_Check(o)) {{
        PyErr_Format(PyExc_TypeError, "input %d (%s) must be a numpy.ndarray, got %s", pos, label,
                     Py_TYPE(o)->tp_name);
        return -1;
    }}
    arr = (PyArrayObject *)o;
    if (!PyArray_EquivTypenums(PyArray_TYPE(arr), typenum)) {{
        PyArray_Descr *want = PyArray_DescrFromType(typenum);
        PyErr_Format(PyExc_TypeError, "input %d (%s) must have dtype %S, got %S", pos, label,
                     (PyObject *)want, (PyObject *)PyArray_DESCR(arr));
        Py_DECREF(want);
        return -1;
    }}
    if (PyArray_NDIM(arr) != nd) {{
        PyErr_Format(PyExc_TypeError, "input %d (%s) must have %d dimensions, got %d", pos, label, nd,
                     PyArray_NDIM(arr));
        return -1;
    }}
    for (d = 0; d < nd; d++) {{
        if (stat[d] >= 0 && PyArray_DIM(arr, d) != stat[d]) {{
            PyErr_Format(PyExc_ValueError, "input %d (%s) must have length %zd along axis %d (static "
                         "shape), got %zd", pos, label, (Py_ssize_t)stat[d], d, (Py_ssize_t)PyArray_DIM(arr, d));
            return -1;
        }}
    }}
    if (!PyArray_ISALIGNED(arr) || !PyArray_ISNOTSWAPPED(arr)) {{
        PyObject *c = PyArray_FromAny(o, PyArray_DescrFromType(typenum), 0, 0,
                                      NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED | NPY_ARRAY_ENSURECOPY, NULL);
        if (c == NULL) return -1;
        eq_bind(a, (PyArrayObject *)c);
        Py_DECREF(c);
        return 0;
    }}
    eq_bind(a, arr);
    return 0;
}}

/* the result of a NumPy fallback call: an ndarray of the declared dtype and rank */
static int eq_result(eq_arr *a, PyObject *r, int typenum, int nd, const char *opname)
{{
    PyObject *c = PyArray_FromAny(r, PyArray_DescrFromType(typenum), 0, 0,
                                  NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED | NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(r);
    if (c == NULL) return -1;
    if (PyArray_NDIM((PyArrayObject *)c) != nd) {{
        PyErr_Format(PyExc_RuntimeError, "%s returned %d dimensions, expected %d", opname,
                     PyArray_NDIM((PyArrayObject *)c), nd);
        Py_DECREF(c);
        return -1;
    }}
    eq_bind(a, (PyArrayObject *)c);
    Py_DECREF(c);
    return 0;
}}

static void eq_bcast_error(const char *opname, int axis, Py_ssize_t a, Py_ssize_t b)
{{
    PyErr_Format(PyExc_ValueError, "%s: run-time lengths differ along axis %d (%zd and %zd). Only "
                 "dimensions declared with static length 1 broadcast (PyTensor semantics); declare the "
                 "input with shape=(..., 1, ...) to broadcast it", opname, axis, a, b);
}}

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

/* reshape: target shape from an int64 vector slot (one -1 allowed); a view when src is C-contiguous */
static int eq_reshape(eq_arr *out, const eq_arr *src, const eq_arr *shp, int nd, int typenum, int itemsize)
{{
    npy_intp sh[EQ_MAXD], size = eq_size(src), known = 1;
    int d, neg = -1;
    for (d = 0; d < nd; d++) {{
        npy_int64 v = *(npy_int64 *)(shp->data + d * shp->strides[0]);
        if (v == -1 && neg < 0) {{ neg = d; sh[d] = 1; continue; }}
        if (v < 0) {{ PyErr_Format(PyExc_ValueError, "reshape: invalid dimension %lld", (long long)v); return -1; }}
        sh[d] = (npy_intp)v;
        if (__builtin_mul_overflow(known, sh[d], &known)) {{
            PyErr_SetString(PyExc_ValueError, "reshape: target shape is too large");
            return -1;
        }}
    }}
    if (neg >= 0) {{
        if (known == 0 || size % known) {{
            PyErr_Format(PyExc_ValueError, "reshape: cannot reshape an array of size %zd into a shape "
                         "with known size %zd and one -1", (Py_ssize_t)size, (Py_ssize_t)known);
            return -1;
        }}
        sh[neg] = size / known;
        known = size;
    }}
    if (known != size) {{
        PyErr_Format(PyExc_ValueError, "reshape: cannot reshape an array of size %zd into a shape of "
                     "size %zd", (Py_ssize_t)size, (Py_ssize_t)known);
        return -1;
    }}
    if (eq_is_c_contiguous(src, itemsize)) {{
        npy_intp s = itemsize;
        eq_view(out, src);
        out->nd = nd;
        for (d = nd - 1; d >= 0; d--) {{ out->shape[d] = sh[d]; out->strides[d] = s; s *= sh[d]; }}
        return 0;
    }} else {{
        eq_arr tmp; npy_intp s = itemsize;
        tmp.obj = NULL;
        if (eq_new(&tmp, src->nd, src->shape, typenum) < 0) return -1;
        eq_copy(&tmp, src, src->strides, itemsize);
        eq_view(out, &tmp);
        Py_DECREF(tmp.obj);
        out->nd = nd;
        for (d = nd - 1; d >= 0; d--) {{ out->shape[d] = sh[d]; out->strides[d] = s; s *= sh[d]; }}
        return 0;
    }}
}}

/* alloc: dims from int scalar slots, value broadcast with NumPy rules */
static int eq_alloc(eq_arr *out, const eq_arr *val, const npy_intp *dims, int nd, int typenum, int itemsize)
{{
    npy_intp vst[EQ_MAXD];
    int d, off = nd - val->nd;
    for (d = 0; d < nd; d++) if (dims[d] < 0) {{
        PyErr_Format(PyExc_ValueError, "alloc: negative dimension %zd", (Py_ssize_t)dims[d]);
        return -1;
    }}
    for (d = 0; d < nd; d++) {{
        if (d < off) {{ vst[d] = 0; continue; }}
        if (val->shape[d - off] == dims[d]) vst[d] = val->strides[d - off];
        else if (val->shape[d - off] == 1) vst[d] = 0;
        else {{
            PyErr_Format(PyExc_ValueError, "alloc: value of length %zd along axis %d cannot be broadcast to "
                         "length %zd", (Py_ssize_t)val->shape[d - off], d - off, (Py_ssize_t)dims[d]);
            return -1;
        }}
    }}
    if (eq_new(out, nd, dims, typenum) < 0) return -1;
    eq_copy(out, val, vst, itemsize);
    return 0;
}}
"""



def prelude(maxd: int, blas: bool) -> str:
    """The runtime source for a function whose largest rank is ``maxd`` (its loop kernels are in
    translation units of their own, see :func:`kernel_prelude`)."""
    parts = [RUNTIME.format(maxd=max(1, maxd), pool=POOL.format()), _int_helpers(), _float_helpers()]
    if blas:
        parts.append(BLAS.format())
    return "\n".join(parts)


#: the attributes of a loop kernel compiled in its own translation unit (linked into the module)
KERNEL_EXTERN = '__attribute__((visibility("hidden")))'


def kernel_prelude() -> str:
    """The header of a translation unit holding only loop kernels: NumPy's scalar types, math and
    the inline helpers the kernels call; its kernels are ``hidden`` (visible to the module only).

    >>> "eq_softplus_d" in kernel_prelude()
    True
    """
    return "\n".join(["#include <Python.h>", "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION",
                      "#include <numpy/npy_common.h>", libmvec_declarations(), "#include <math.h>",
                      f"#define EQ_KFN {KERNEL_EXTERN}", _int_helpers(), _float_helpers()])
