"""The C runtime shared by every generated module, assembled from its parts.

Every value the generated function touches lives in an ``eq_arr`` *slot*: a data pointer, shape
and byte strides, plus a strong reference to the NumPy array that owns the memory (views share
their owner). Inputs are checked (type, dtype, ndim, static shape, alignment, byte order) before
anything is computed; every error becomes a Python exception. This module holds that part
(:data:`SLOTS`); the runtime continues with the loop driver (:mod:`eqtensor.backends.c.driver`,
with the worker pool of :mod:`eqtensor.backends.c.pool`), the structural ops' functions
(:mod:`eqtensor.backends.c.structural`), the interpreter of unit rows
(:mod:`eqtensor.backends.c.unit_table`), the scalar helpers (:mod:`eqtensor.backends.c.scalar_math`),
the row driver (:mod:`eqtensor.backends.c.driver`), the indexing runtime
(:mod:`eqtensor.backends.c.indexing`) and BLAS (:mod:`eqtensor.backends.c.blas`).

The runtime is compiled once per cache directory into a shared library of two translation units
(:func:`runtime`); each generated module includes its header and links against it.
"""

from __future__ import annotations

from functools import lru_cache

from .blas import BLAS
from .declarations import split
from .driver import DRIVER, ROWS_DRIVER
from .indexing import RUNTIME as INDEXING_RUNTIME
from .lapack_calls import RUNTIME as LAPACK_RUNTIME
from .pool import POOL
from .scalar_math import float_helpers, int_helpers, libmvec_declarations
from .scan_loop import RUNTIME as SCAN_RUNTIME
from .structural import RUNTIME as STRUCTURAL_RUNTIME
from .unit_table import RUNTIME as UNITS_RUNTIME

#: includes, the slot type and the slot functions: binding, allocation, views, input checks,
#: outputs and fallback results (``{maxd}``: :data:`MAXD`)
SLOTS = r"""
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>
#include <math.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>

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

/* the buffer cache of the running function: its slots V[0 .. nv-1], which of them hold intermediates
   (never outputs, inputs or constants), and its cache list (in its state, nv entries). An
   intermediate's array, released when nobody else holds it, waits in the cache (at its slot's entry,
   or any free one) for the next allocation of an intermediate of its dtype and shape — the same slot
   in the next call, or another (an array reused in place moves from slot to slot): no allocation, no
   page faults, no zeroing by the kernel. At most nv arrays are kept, the last call's. */
static __thread eq_arr *eq_V = NULL;
static __thread int eq_nv = 0;
static __thread const unsigned char *eq_cacheable = NULL;
static __thread PyObject *eq_cache = NULL;
/* arrays cached: from EQ_CACHE_MIN bytes (NumPy caches smaller ones itself) to EQ_CACHE_MAX bytes */
#define EQ_CACHE_MIN ((npy_intp)4096)
#define EQ_CACHE_MAX ((npy_intp)64 << 20)

static int eq_cache_slot(const eq_arr *a)
{{
    return eq_cache != NULL && a >= eq_V && a < eq_V + eq_nv && eq_cacheable[a - eq_V] ? (int)(a - eq_V) : -1;
}}

static int eq_cache_fits(PyObject *c, int nd, const npy_intp *shape, int typenum)
{{
    PyArrayObject *o = (PyArrayObject *)c;
    int d;
    if (c == Py_None || Py_REFCNT(c) != 1 || PyArray_NDIM(o) != nd || PyArray_TYPE(o) != typenum) return 0;
    for (d = 0; d < nd; d++) if (PyArray_DIM(o, d) != shape[d]) return 0;
    return 1;
}}

/* take a cached array of this dtype and shape (slot k's entry first) */
static int eq_cache_take(eq_arr *a, int k, int nd, const npy_intp *shape, int typenum)
{{
    npy_intp bytes;
    int d, j = k;
    PyObject *c;
    switch (typenum) {{
    case NPY_BOOL: case NPY_BYTE: case NPY_UBYTE: bytes = 1; break;
    case NPY_SHORT: case NPY_USHORT: case NPY_HALF: bytes = 2; break;
    case NPY_INT: case NPY_UINT: case NPY_FLOAT: bytes = 4; break;
    default: bytes = 8;
    }}
    for (d = 0; d < nd; d++) bytes *= shape[d];
    if (bytes < EQ_CACHE_MIN) return 0;
    if (!eq_cache_fits(PyList_GET_ITEM(eq_cache, k), nd, shape, typenum)) {{
        for (j = 0; j < eq_nv; j++) if (eq_cache_fits(PyList_GET_ITEM(eq_cache, j), nd, shape, typenum)) break;
        if (j == eq_nv) return 0;
    }}
    c = PyList_GET_ITEM(eq_cache, j);
    Py_INCREF(Py_None);
    PyList_SET_ITEM(eq_cache, j, Py_None);
    eq_bind(a, (PyArrayObject *)c);
    Py_DECREF(c);
    return 1;
}}

static int eq_new(eq_arr *a, int nd, const npy_intp *shape, int typenum)
{{
    PyArrayObject *o;
    int k = nd == 0 ? -1 : eq_cache_slot(a);  /* a 0-d array is never cached (nor its thread-local state read) */
    if (k >= 0 && eq_cache_take(a, k, nd, shape, typenum)) return 0;
    o = (PyArrayObject *)PyArray_EMPTY(nd, (npy_intp *)shape, typenum, 0);
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

/* a slot read for the last time: its array goes to the buffer cache when the slot is an intermediate
   and nobody else holds the array (see eq_cache; the slot may be a view of it, released after the
   array's own slot), else the slot's reference is dropped */
static void eq_release(eq_arr *a)
{{
    int k;
    PyArrayObject *o = a->obj;
    if (o == NULL) return;
    k = a->nd == 0 ? -1 : eq_cache_slot(a);
    if (k >= 0 && Py_REFCNT(o) == 1 && PyArray_IS_C_CONTIGUOUS(o) && PyArray_ISWRITEABLE(o) && PyArray_BASE(o) == NULL
        && PyArray_NDIM(o) > 0 && PyArray_NBYTES(o) >= EQ_CACHE_MIN && PyArray_NBYTES(o) <= EQ_CACHE_MAX) {{
        PyObject *old;
        int j;
        if (PyList_GET_ITEM(eq_cache, k) != Py_None)
            for (j = 0; j < eq_nv; j++) if (PyList_GET_ITEM(eq_cache, j) == Py_None) {{ k = j; break; }}
        old = PyList_GET_ITEM(eq_cache, k);
        PyList_SET_ITEM(eq_cache, k, (PyObject *)a->obj);
        a->obj = NULL;
        Py_DECREF(old);
        return;
    }}
    Py_CLEAR(a->obj);
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

/* bind a scalar argument's value in place: a read-only 0-d array over it, the scalar its base */
static int eq_scalar_view(eq_arr *a, PyObject *o, void *value, int typenum)
{{
    PyArrayObject *v = (PyArrayObject *)PyArray_NewFromDescr(&PyArray_Type, PyArray_DescrFromType(typenum), 0,
                                                             NULL, NULL, value, 0, NULL);
    if (v == NULL) return -1;
    Py_INCREF(o);
    if (PyArray_SetBaseObject(v, o) < 0) {{ Py_DECREF(v); return -1; }}
    eq_bind(a, v);
    Py_DECREF(v);
    return 0;
}}

/* check an argument and bind it: ndarray, dtype, ndim, static shape; copies unaligned/swapped data */
static int eq_input(eq_arr *a, PyObject *o, int typenum, int nd, const npy_intp *stat, int pos,
                    const char *label)
{{
    PyArrayObject *arr; int d;
    if (nd == 0 && typenum == NPY_DOUBLE && PyFloat_Check(o))  /* a Python float or np.float64 */
        return eq_scalar_view(a, o, &((PyFloatObject *)o)->ob_fval, NPY_DOUBLE);
    if (nd == 0 && typenum == NPY_FLOAT && PyArray_IsScalar(o, Float))
        return eq_scalar_view(a, o, &PyArrayScalar_VAL(o, Float32), NPY_FLOAT);
    if (nd == 0 && !PyArray_Check(o) && PyArray_IsScalar(o, Generic)) {{
        /* a NumPy scalar (np.float64(1.5)) for a 0-d input: a 0-d array of it, when its dtype is the input's */
        PyArray_Descr *have = PyArray_DescrFromScalar(o);
        int same = have != NULL && PyArray_EquivTypenums(have->type_num, typenum);
        Py_XDECREF(have);
        if (same) {{
            PyObject *c = PyArray_FromScalar(o, NULL);
            if (c == NULL) return -1;
            eq_bind(a, (PyArrayObject *)c);
            Py_DECREF(c);
            return 0;
        }}
    }}
    if (!PyArray_CheckExact(o)) {{  /* a subclass (np.matrix, a masked array) may not behave as an ndarray */
        PyErr_Format(PyExc_TypeError, "input %d (%s) must be a numpy.ndarray, got %s%s", pos, label,
                     Py_TYPE(o)->tp_name, PyArray_Check(o) ? " (a subclass of numpy.ndarray: pass np.asarray(x))" : "");
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

/* a ValueError raised while computing a unit of op ``op`` gets the unit's operands appended: the names
   of the user's variables (or input positions) and their run-time shapes */
static void eq_operands(const eq_arr *V, const char *op, int n, const int *sl, const char *const *lb)
{{
    PyObject *type, *value, *tb, *msg;
    char buf[1024];
    size_t used = 0;
    int k, d;
    if (!PyErr_ExceptionMatches(PyExc_ValueError)) return;
    for (k = 0; k < n && used < sizeof buf - 128; k++) {{
        const eq_arr *a = &V[sl[k]];
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s (shape (", k ? ", " : "", lb[k]);
        for (d = 0; a->obj != NULL && d < a->nd && used < sizeof buf - 64; d++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%zd", d ? ", " : "", (Py_ssize_t)a->shape[d]);
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s))", a->obj != NULL && a->nd == 1 ? "," : "");
    }}
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    msg = PyUnicode_FromFormat("%S [in %s of %s]", value, op, buf);
    Py_XDECREF(tb);
    if (msg == NULL) {{ Py_XDECREF(type); Py_XDECREF(value); return; }}
    PyErr_SetObject(type, msg);
    Py_DECREF(msg);
    Py_XDECREF(type);
    Py_XDECREF(value);
}}

static void eq_bcast_error(const char *opname, int axis, Py_ssize_t a, Py_ssize_t b)
{{
    PyErr_Format(PyExc_ValueError, "%s: run-time lengths differ along axis %d (%zd and %zd). Only "
                 "dimensions declared with static length 1 broadcast (PyTensor semantics); declare the "
                 "input with shape=(..., 1, ...) to broadcast it", opname, axis, a, b);
}}
"""


#: the largest rank of a value in the C backend (NumPy's ``NPY_MAXDIMS``): the slots' size, fixed
#: so that one runtime library serves every module
MAXD = 64

#: the runtime library's initialisation, called once after it is loaded: imports NumPy's C API into
#: the table every translation unit of the library shares (:func:`runtime`)
INIT = r"""
int eq_rt_init(void)
{
    if (PyArray_API == NULL && _import_array() < 0) return -1;
    return 0;
}
"""

#: NumPy's C API table shared by the runtime's translation units (imported by the first one's
#: :data:`INIT`)
_NUMPY_TABLE = "#define PY_ARRAY_UNIQUE_SYMBOL eq_rt_PyArray_API\n"


@lru_cache(maxsize=None)
def runtime() -> tuple[str, tuple[str, ...]]:
    """``(header, units)``: the header a generated module includes (see
    :mod:`eqtensor.backends.c.declarations`) and the translation units of the shared library every
    module links against (built once per cache directory: one worker pool per process). Two units,
    compiled concurrently, of about equal compile time: the slots, the loop and row drivers with the
    worker pool and scan's loop; indexing, BLAS and LAPACK.

    >>> header, units = runtime()
    >>> "int eq_loop(" in header and "#define EQ_MAXD 64" in header and "eq_pool_run(int T" in units[0]
    True
    """
    header, defs = split([
        "\n".join([SLOTS.format(maxd=MAXD), DRIVER.format(pool=POOL.format()), UNITS_RUNTIME.format(),
                   STRUCTURAL_RUNTIME.format(), int_helpers(), float_helpers(), ROWS_DRIVER, SCAN_RUNTIME,
                   INIT]),
        "\n".join([INDEXING_RUNTIME, BLAS.format(), LAPACK_RUNTIME.format()])])
    return header, tuple(_NUMPY_TABLE + ("" if k == 0 else "#define NO_IMPORT_ARRAY\n") + header + d
                         for k, d in enumerate(defs))


#: the attributes of a loop kernel: exported by the kernel library holding it
KERNEL_EXTERN = '__attribute__((visibility("default")))'

#: NumPy's scalar types for the kernels (the kernel libraries do not parse Python's and NumPy's
#: headers, ~0.15 s per translation unit): the same C types as ``numpy/npy_common.h``
KERNEL_TYPES = r"""#include <stddef.h>
#include <stdint.h>
typedef intptr_t npy_intp;
typedef uintptr_t npy_uintp;
typedef unsigned char npy_bool;
typedef int8_t npy_int8;
typedef int16_t npy_int16;
typedef int32_t npy_int32;
typedef int64_t npy_int64;
typedef uint8_t npy_uint8;
typedef uint16_t npy_uint16;
typedef uint32_t npy_uint32;
typedef uint64_t npy_uint64;
"""


def kernel_prelude() -> str:
    """The header of a translation unit of a kernel library: NumPy's scalar types, math and the
    inline helpers the kernels call.

    >>> "eq_softplus_d" in kernel_prelude()
    True
    """
    return "\n".join([KERNEL_TYPES, libmvec_declarations(), "#include <math.h>",
                      f"#define EQ_KFN {KERNEL_EXTERN}", int_helpers(), float_helpers()])
