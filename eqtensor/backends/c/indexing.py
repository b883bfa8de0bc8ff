"""Advanced indexing in C: gather ``x[idx]`` and scatter ``set_subtensor``/``inc_subtensor`` on integer
index arrays, with NumPy's semantics (negative indices wrap, out-of-range indices raise
``IndexError``, repeated indices of ``inc_subtensor`` accumulate as ``np.add.at``, of
``set_subtensor`` the last write wins).

Two forms get C code (any other advanced index — boolean masks, integer scalars or basic slices
mixed in, arrays on non-adjacent axes — runs through NumPy):

- *one index array into a vector* (``mu[idx]``, ``inc_subtensor(g[idx], y)``), any index rank: the
  gather is an elementwise operation of the loop kernels (:mod:`eqtensor.backends.c.loops`), so it
  fuses with its consumers (``y - mu[idx]`` is one loop, ``sum(normal_logp(y, mu[idx]))`` one
  reduction) and its index's producers; the scatter is a loop kernel of its own that computes its
  value's elementwise producers in its loop. Index checks happen inside the loops: an out-of-range
  index is counted (and read as 0), and the counter is checked after the loop.
- *integer arrays on adjacent axes with full slices elsewhere* (``x[:, idx]``, ``lp[arange(n), y]``,
  an embedding lookup ``E[idx]``): the runtime's :data:`RUNTIME` ``eq_adv``, which broadcasts the
  index arrays, checks and wraps every index once into byte offsets, then copies or accumulates.

>>> from eqtensor import tensor as pt
>>> mu, idx = pt.dvector("mu"), pt.lvector("idx")
>>> gather1_ok(mu[idx].owner), adv_layout(mu[idx].owner)
(True, (0, 1))
>>> m = pt.dmatrix("m")
>>> gather1_ok(m[:, idx].owner), adv_layout(m[:, idx].owner)
(False, (1, 1))
>>> adv_layout(m[m > 0].owner) is None
True
"""

from __future__ import annotations

from . import kernels as K

#: the index entry of a full slice ``:``
FULL = ("slice", None, None, None)

#: the advanced indexing ops and the position of their first index input
INDEX_OPS = {"advanced_subtensor": 1, "set_subtensor": 2, "inc_subtensor": 2}


def adv_layout(node) -> tuple[int, int] | None:
    """``(a0, na)`` when the node indexes with ``na`` integer arrays on the adjacent axes ``a0 ..
    a0 + na - 1`` of its first input and full slices on every other axis (an ellipsis stands for
    full slices: ``x[..., arange(n), arange(n)]``, the diagonal), all dtypes native to the C code;
    else None."""
    first = INDEX_OPS.get(node.op.name)
    if first is None:
        return None
    entries, x = node.op.params["idx_list"], node.inputs[0]
    if entries.count(("ellipsis",)) == 1:  # not between index arrays (NumPy then moves their axes first)
        k = entries.index(("ellipsis",))
        if any(e[0] == "array" for e in entries[:k]) and any(e[0] == "array" for e in entries[k + 1:]):
            return None
        entries = entries[:k] + (FULL,) * (x.ndim - len(entries) + 1) + entries[k + 1:]
    if len(entries) != x.ndim or any(e != FULL and e[0] != "array" for e in entries):
        return None
    pos = [k for k, e in enumerate(entries) if e[0] == "array"]
    if not pos or pos != list(range(pos[0], pos[0] + len(pos))):
        return None
    idx = node.inputs[first:]
    if len(idx) != len(pos) or any(i.dtype not in K.C_TYPES or K.kind(i.dtype) != "int" for i in idx):
        return None
    if x.dtype not in K.C_TYPES or node.out.dtype != x.dtype:
        return None
    if first == 2 and node.inputs[1].dtype not in K.C_TYPES:
        return None
    return pos[0], len(pos)


def gather1_ok(node) -> bool:
    """``x[idx]`` of a vector ``x`` by one integer array: an elementwise op of the loop kernels."""
    return node.op.name == "advanced_subtensor" and node.inputs[0].ndim == 1 and adv_layout(node) == (0, 1)


def scatter1_ok(node) -> bool:
    """``set_subtensor``/``inc_subtensor`` of ``x[idx]``, ``x`` a vector, one integer array: a loop
    kernel computing its value's fused producers."""
    return node.op.name in ("set_subtensor", "inc_subtensor") and node.inputs[0].ndim == 1 \
        and adv_layout(node) == (0, 1)


def index_read(idx_dtype: str, expr: str, n: str, bad: str, w: str) -> list[str]:
    """C statements: ``w`` (an ``npy_int64``) the index ``expr`` (of dtype ``idx_dtype``) wrapped as
    NumPy does into ``[0, n)``, ``bad`` incremented when it is out of range (``w`` is 0 then)."""
    if idx_dtype == "uint64":
        return [f"const npy_uint64 {w}u = (npy_uint64)({expr});",
                f"{bad} += {w}u >= (npy_uint64){n};",
                f"const npy_int64 {w} = {w}u < (npy_uint64){n} ? (npy_int64){w}u : 0;"]
    return [f"npy_int64 {w}r = (npy_int64)({expr});",
            f"{w}r += {w}r < 0 ? {n} : 0;",
            f"{bad} += (npy_uint64){w}r >= (npy_uint64){n};",
            f"const npy_int64 {w} = (npy_uint64){w}r < (npy_uint64){n} ? {w}r : 0;"]


def gather_statement(node, idx_expr: str, table: int, info: int, local: str) -> list[str]:
    """The statements of a fused ``x[idx]`` (vector ``x``): operand ``table`` is ``x``'s data,
    ``info`` its length and stride (``n<info>``, ``s<info>``) and the out-of-range counter
    ``bad<info>``."""
    ct = K.c_type(node.out.dtype)
    w = f"w{local}"
    return index_read(node.inputs[1].dtype, idx_expr, f"n{info}", f"bad{info}", w) + [
        f"const {ct} {local} = *(const {ct} *)(b{table} + {w} * s{info});"]


def flush_bad(infos) -> list[str]:
    """Statements adding each kernel's out-of-range counter to its info operand (atomically: loop
    threads share it)."""
    return [f"if (bad{k}) __atomic_fetch_add(&g{k}[2], (npy_int64)bad{k}, __ATOMIC_RELAXED);" for k in infos]


#: the runtime part (plain C, no ``str.format`` fields): index errors, the broadcast views of a
#: scattered value's leaves, the general gather/scatter
RUNTIME = r"""
/* NumPy's message for the first out-of-range index of the integer array idx (a slot of dtype ityp)
   along an axis of length len, or a generic one when idx was computed inside the loop (NULL) */
static npy_int64 eq_index_value(const char *p, int ityp, int *over)
{
    *over = 0;
    switch (ityp) {
    case NPY_BYTE: return *(const npy_int8 *)p;
    case NPY_UBYTE: return *(const npy_uint8 *)p;
    case NPY_SHORT: return *(const npy_int16 *)p;
    case NPY_USHORT: return *(const npy_uint16 *)p;
    case NPY_INT: return *(const npy_int32 *)p;
    case NPY_UINT: return *(const npy_uint32 *)p;
    case NPY_ULONG: case NPY_ULONGLONG:
        if (*(const npy_uint64 *)p > (npy_uint64)NPY_MAX_INT64) { *over = 1; return NPY_MAX_INT64; }
        return (npy_int64)*(const npy_uint64 *)p;
    default: return *(const npy_int64 *)p;
    }
}

static void eq_index_error(const char *op, const eq_arr *idx, int ityp, npy_intp len, int axis)
{
    npy_intp ix[EQ_MAXD], k, total = 1;
    int d, over;
    if (idx != NULL) {
        for (d = 0; d < idx->nd; d++) { ix[d] = 0; total *= idx->shape[d]; }
        for (k = 0; k < total; k++) {
            const char *p = idx->data;
            npy_int64 v;
            for (d = 0; d < idx->nd; d++) p += ix[d] * idx->strides[d];
            v = eq_index_value(p, ityp, &over);
            if (over) {
                PyErr_Format(PyExc_IndexError, "index %llu is out of bounds for axis %d with size %zd",
                             (unsigned long long)*(const npy_uint64 *)p, axis, (Py_ssize_t)len);
                return;
            }
            if (v < -(npy_int64)len || v >= (npy_int64)len) {
                PyErr_Format(PyExc_IndexError, "index %lld is out of bounds for axis %d with size %zd",
                             (long long)v, axis, (Py_ssize_t)len);
                return;
            }
            for (d = idx->nd - 1; d >= 0; d--) { if (++ix[d] < idx->shape[d]) break; ix[d] = 0; }
        }
    }
    PyErr_Format(PyExc_IndexError, "%s: an index is out of bounds for axis %d with size %zd", op, axis,
                 (Py_ssize_t)len);
}

/* the info operand of a fused gather or scatter on the vector t: {length, byte stride, out-of-range count} */
static int eq_index_info(eq_arr *info, const eq_arr *t)
{
    npy_intp one = 3;
    if (eq_new(info, 1, &one, NPY_INT64) < 0) return -1;
    ((npy_int64 *)info->data)[0] = t->shape[0];
    ((npy_int64 *)info->data)[1] = t->strides[0];
    ((npy_int64 *)info->data)[2] = 0;
    return 0;
}

/* shape text "(a, b)" of n lengths into buf (for error messages) */
static const char *eq_shape_text(char *buf, size_t size, int n, const npy_intp *sh)
{
    size_t used = 0; int d;
    used += (size_t)snprintf(buf + used, size - used, "(");
    for (d = 0; d < n && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %zd" : "%zd", (Py_ssize_t)sh[d]);
    if (used < size) snprintf(buf + used, size - used, n == 1 ? ",)" : ")");
    return buf;
}

/* a value of rank vn (its leaves: slots ls[k], dimension maps dm[k * vn + d]) broadcast as NumPy does to
   the target shape tsh of rank tn >= vn (right-aligned; "what" names it in the error): the leaves'
   lengths must agree (as the value's own loop checks), then a value axis of length 1 broadcasts.
   Views of the leaves go to slots vs[k] (length and stride 0 along the broadcast axes); the np
   shape-only slots ps[k] (an alloc's dims, of rank vn) take part in the value's shape and follow the
   broadcast. */
static int eq_bcast_leaves(eq_arr *V, const char *name, const char *what, int vn, int nl, const int *ls,
                           const int *vs, const signed char *dm, int np, const int *ps, int tn, const npy_intp *tsh)
{
    npy_intp cs[EQ_MAXD];
    int d, k, off = tn - vn, sl[nl + np + 1];
    signed char dm2[(nl + np) * vn + 1];
    for (k = 0; k < nl; k++) { sl[k] = ls[k]; for (d = 0; d < vn; d++) dm2[k * vn + d] = dm[k * vn + d]; }
    for (k = 0; k < np; k++) { sl[nl + k] = ps[k]; for (d = 0; d < vn; d++) dm2[(nl + k) * vn + d] = (signed char)d; }
    if (eq_shape(V, name, vn, nl + np, sl, dm2, cs) < 0) return -1;
    for (d = 0; d < vn; d++) {
        if (cs[d] != tsh[d + off] && cs[d] != 1) {
            char a[160], b[160];
            PyErr_Format(PyExc_ValueError, "%s: shape mismatch: value array of shape %s could not be broadcast "
                         "to %s of shape %s", name, eq_shape_text(a, sizeof a, vn, cs), what,
                         eq_shape_text(b, sizeof b, tn, tsh));
            return -1;
        }
    }
    for (k = 0; k < nl; k++) {
        eq_arr *v = &V[vs[k]];
        const eq_arr *l = &V[ls[k]];
        eq_view(v, l);
        v->nd = l->nd;
        for (d = 0; d < l->nd; d++) { v->shape[d] = l->shape[d]; v->strides[d] = l->strides[d]; }
        for (d = 0; d < vn; d++) {
            int a = dm[k * vn + d];
            if (a >= 0 && cs[d] == 1 && tsh[d + off] != 1) { v->shape[a] = tsh[d + off]; v->strides[a] = 0; }
        }
    }
    for (k = 0; k < np; k++)  /* shape-only operands (an alloc's dims, rank vn) follow the broadcast */
        for (d = 0; d < vn; d++) if (cs[d] == 1 && tsh[d + off] != 1) V[ps[k]].shape[d] = tsh[d + off];
    return 0;
}

/* the output of a scatter: x itself when reuse (x is dead after this op and nobody else holds its
   memory), else a copy */
static int eq_scatter_base(eq_arr *V, int o, int x, int typenum, int itemsize, int reuse)
{
    int d;
    if (reuse && eq_reusable(&V[x])) {
        eq_view(&V[o], &V[x]);
        V[o].nd = V[x].nd;
        for (d = 0; d < V[x].nd; d++) { V[o].shape[d] = V[x].shape[d]; V[o].strides[d] = V[x].strides[d]; }
        return 0;
    }
    if (eq_new(&V[o], V[x].nd, V[x].shape, typenum) < 0) return -1;
    eq_copy(&V[o], &V[x], V[x].strides, itemsize);
    return 0;
}

/* advanced indexing by na integer arrays (slots isl, types ityp) on the adjacent axes a0 .. a0+na-1 of
   slot x, full slices elsewhere. op 0: o = x[idx] (a new array); op 1: o = x with o[idx] = y; op 2:
   o = x with y added at idx (repeated indices accumulate, as np.add.at); y (slot yv, of x's dtype)
   broadcasts to the indexed shape as NumPy does. The index arrays broadcast together; each index is
   checked and wrapped once, into a byte offset. */
#define EQ_ADV_LOOP(BODY) \
    for (pi = 0; pi < npre; pi++) { \
        const char *xb = V[x].data; char *ob = V[o].data; const char *yb = ypt; npy_intp rem = pi; \
        for (d = a0 - 1; d >= 0; d--) { npy_intp j = rem % xs->shape[d]; rem /= xs->shape[d]; \
            xb += j * xs->strides[d]; ob += j * V[o].strides[d]; yb += j * yst[d]; } \
        for (b = 0; b < nb; b++) { \
            const char *yb2 = yb; npy_intp rb = b; \
            for (d = bnd - 1; d >= 0; d--) { yb2 += (rb % bsh[d]) * yst[a0 + d]; rb /= bsh[d]; } \
            for (q = 0; q < npost; q++) { \
                npy_intp rq = q, xo = 0, yo = 0; \
                for (d = postn - 1; d >= 0; d--) { npy_intp j = rq % psh[d]; rq /= psh[d]; \
                    xo += j * pst[d]; yo += j * yst[a0 + bnd + d]; } \
                { char *dst = ob + off[b] + xo; const char *src = yb2 + yo; BODY } \
            } \
        } \
    }

static int eq_adv(eq_arr *V, int o, int x, int yv, int na, const int *isl, const int *ityp, int a0, int op,
                  int typenum, int itemsize, int reuse, const char *name)
{
    const eq_arr *xs = &V[x];
    npy_intp bsh[EQ_MAXD], ist[EQ_MAXD][EQ_MAXD], osh[EQ_MAXD], psh[EQ_MAXD], pst[EQ_MAXD], yst[EQ_MAXD];
    npy_intp nb = 1, npre = 1, npost = 1, b, pi, q, *off = NULL, ix[EQ_MAXD];
    const char *ypt = NULL;
    int bnd = 0, d, j, ond, postn = xs->nd - a0 - na, res = -1, contig = 1;
    for (j = 0; j < na; j++) if (V[isl[j]].nd > bnd) bnd = V[isl[j]].nd;
    for (d = 0; d < bnd; d++) bsh[d] = 1;
    for (j = 0; j < na; j++) {
        const eq_arr *a = &V[isl[j]];
        int sh = bnd - a->nd;
        for (d = sh; d < bnd; d++) {
            npy_intp len = a->shape[d - sh];
            if (len == 1 || len == bsh[d]) continue;
            if (bsh[d] != 1) {
                PyErr_Format(PyExc_IndexError, "%s: shape mismatch: indexing arrays could not be broadcast "
                             "together (lengths %zd and %zd along axis %d)", name, (Py_ssize_t)bsh[d],
                             (Py_ssize_t)len, d);
                return -1;
            }
            bsh[d] = len;
        }
    }
    for (j = 0; j < na; j++) {
        const eq_arr *a = &V[isl[j]];
        int sh = bnd - a->nd;
        for (d = 0; d < bnd; d++) ist[j][d] = d < sh || a->shape[d - sh] == 1 ? 0 : a->strides[d - sh];
    }
    for (d = 0; d < bnd; d++) { nb *= bsh[d]; ix[d] = 0; }
    for (d = 0; d < a0; d++) npre *= xs->shape[d];
    for (d = 0; d < postn; d++) {
        psh[d] = xs->shape[a0 + na + d]; pst[d] = xs->strides[a0 + na + d]; npost *= psh[d];
    }
    ond = a0 + bnd + postn;
    if (ond > EQ_MAXD) { PyErr_Format(PyExc_ValueError, "%s: too many dimensions", name); return -1; }
    for (d = 0; d < a0; d++) osh[d] = xs->shape[d];
    for (d = 0; d < bnd; d++) osh[a0 + d] = bsh[d];
    for (d = 0; d < postn; d++) osh[a0 + bnd + d] = psh[d];
    off = (npy_intp *)PyMem_Malloc((size_t)(nb > 0 ? nb : 1) * sizeof(npy_intp));
    if (off == NULL) { PyErr_NoMemory(); return -1; }
    for (b = 0; b < nb; b++) {
        npy_intp o1 = 0;
        for (j = 0; j < na; j++) {
            const char *p = V[isl[j]].data;
            npy_intp len = xs->shape[a0 + j];
            npy_int64 v; int over;
            for (d = 0; d < bnd; d++) p += ix[d] * ist[j][d];
            v = eq_index_value(p, ityp[j], &over);
            if (!over && v < 0) v += len;
            if (over || v < 0 || v >= len) {
                if (over) PyErr_Format(PyExc_IndexError, "index %llu is out of bounds for axis %d with size %zd",
                                       (unsigned long long)*(const npy_uint64 *)p, a0 + j, (Py_ssize_t)len);
                else PyErr_Format(PyExc_IndexError, "index %lld is out of bounds for axis %d with size %zd",
                                  (long long)eq_index_value(p, ityp[j], &over), a0 + j, (Py_ssize_t)len);
                goto done;
            }
            o1 += (npy_intp)v * xs->strides[a0 + j];
        }
        off[b] = o1;
        for (d = bnd - 1; d >= 0; d--) { if (++ix[d] < bsh[d]) break; ix[d] = 0; }
    }
    if (op == 0) {
        npy_intp s = itemsize, bytes;
        if (eq_new(&V[o], ond, osh, typenum) < 0) goto done;
        for (d = postn - 1; d >= 0; d--) { if (psh[d] != 1 && pst[d] != s) contig = 0; s *= psh[d]; }
        bytes = npost * itemsize;
        if (npre * nb * npost == 0) { res = 0; goto done; }
        for (pi = 0; pi < npre; pi++) {
            const char *xb = xs->data; char *ob = V[o].data + pi * nb * bytes; npy_intp rem = pi;
            for (d = a0 - 1; d >= 0; d--) { xb += (rem % xs->shape[d]) * xs->strides[d]; rem /= xs->shape[d]; }
            if (postn == 0 && itemsize == 8) for (b = 0; b < nb; b++) ((npy_int64 *)ob)[b] = *(const npy_int64 *)(xb + off[b]);
            else if (postn == 0 && itemsize == 4) for (b = 0; b < nb; b++) ((npy_int32 *)ob)[b] = *(const npy_int32 *)(xb + off[b]);
            else if (contig) for (b = 0; b < nb; b++) memcpy(ob + b * bytes, xb + off[b], (size_t)bytes);
            else for (b = 0; b < nb; b++) {
                for (q = 0; q < npost; q++) {
                    npy_intp rq = q, xo = 0;
                    for (d = postn - 1; d >= 0; d--) { xo += (rq % psh[d]) * pst[d]; rq /= psh[d]; }
                    memcpy(ob + b * bytes + q * itemsize, xb + off[b] + xo, (size_t)itemsize);
                }
            }
        }
        res = 0;
        goto done;
    }
    /* set / inc: y broadcast to the indexed shape osh (right-aligned, NumPy rules) */
    {
        const eq_arr *y = &V[yv];
        int sh = ond - y->nd;
        if (sh < 0) {
            PyErr_Format(PyExc_ValueError, "%s: value array has more dimensions (%d) than the indexing result (%d)",
                         name, y->nd, ond);
            goto done;
        }
        for (d = 0; d < ond; d++) {
            npy_intp len = d < sh ? 1 : y->shape[d - sh];
            if (len != osh[d] && len != 1) {
                char a[160], c[160];
                PyErr_Format(PyExc_ValueError, "%s: shape mismatch: value array of shape %s could not be broadcast "
                             "to indexing result of shape %s", name, eq_shape_text(a, sizeof a, y->nd, y->shape),
                             eq_shape_text(c, sizeof c, ond, osh));
                goto done;
            }
            yst[d] = d < sh || len == 1 ? 0 : y->strides[d - sh];
        }
        ypt = y->data;
    }
    if (eq_scatter_base(V, o, x, typenum, itemsize, reuse) < 0) goto done;
    if (npre * nb * npost == 0) { res = 0; goto done; }
    if (op == 1) { EQ_ADV_LOOP(memcpy(dst, src, (size_t)itemsize);) }
    else switch (typenum) {
    case NPY_DOUBLE: EQ_ADV_LOOP(*(double *)dst += *(const double *)src;) break;
    case NPY_FLOAT: EQ_ADV_LOOP(*(float *)dst += *(const float *)src;) break;
    case NPY_BOOL: EQ_ADV_LOOP(*(npy_bool *)dst = (npy_bool)(*(npy_bool *)dst || *(const npy_bool *)src);) break;
    case NPY_BYTE: case NPY_UBYTE: EQ_ADV_LOOP(*(npy_uint8 *)dst = (npy_uint8)(*(npy_uint8 *)dst + *(const npy_uint8 *)src);) break;
    case NPY_SHORT: case NPY_USHORT: EQ_ADV_LOOP(*(npy_uint16 *)dst = (npy_uint16)(*(npy_uint16 *)dst + *(const npy_uint16 *)src);) break;
    case NPY_INT: case NPY_UINT: EQ_ADV_LOOP(*(npy_uint32 *)dst = *(npy_uint32 *)dst + *(const npy_uint32 *)src;) break;
    default: EQ_ADV_LOOP(*(npy_uint64 *)dst = *(npy_uint64 *)dst + *(const npy_uint64 *)src;) break;
    }
    res = 0;
done:
    PyMem_Free(off);
    return res;
}

/* slot dst: the array of slot src converted to dtype typenum (a new array; NumPy's casting) */
static int eq_astype(eq_arr *dst, const eq_arr *src, int srctype, int typenum)
{
    PyObject *a = eq_output(src, srctype, 0), *c;
    if (a == NULL) return -1;
    c = PyArray_FromAny(a, PyArray_DescrFromType(typenum), 0, 0,
                        NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED | NPY_ARRAY_FORCECAST | NPY_ARRAY_ENSURECOPY, NULL);
    Py_DECREF(a);
    if (c == NULL) return -1;
    eq_bind(dst, (PyArrayObject *)c);
    Py_DECREF(c);
    return 0;
}
"""
