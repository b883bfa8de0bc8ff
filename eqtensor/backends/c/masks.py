"""C entries of the creation ops from scalars (``core/ops/creation.py``): the mask constructors
``eye`` and ``tri`` — one loop over the rows of the new ``n x m`` array, ``out[i, j] = (j - i == k)``
or ``(j - i <= k)`` in the output dtype, each row a ``memset`` and a run of ones; the triangular
masks of the linear-algebra gradients (``tril``, ``triu``, ``fold``) are built from them — and
``arange`` of signed integers into int64 (the index vectors of ``diagonal``, ``fill_diagonal``,
``diag``): its length ``max(0, ceil((stop - start) / step))`` computed exactly, a zero step a
``ZeroDivisionError`` as in NumPy.

>>> from eqtensor import tensor as pt
>>> node = pt.tri(pt.lscalar("n"), dtype="bool").owner
>>> code, ok = MASK_OPS["tri"]
>>> ok(node), code(node, 3, [0, 0, 1])[-1]
(True, '}')
"""

from __future__ import annotations

from . import kernels as K

_SIGNED = ("int8", "int16", "int32", "int64")


def _mask_ok(node) -> bool:
    """Signed integer dimensions and a C output dtype."""
    return node.out.dtype in K.C_TYPES and all(i.dtype in _SIGNED for i in node.inputs)


def _mask(fill: list[str]):
    """The code of a mask constructor: the checks and allocation, then the row loop ``fill`` (``o`` the
    data, ``sh`` the shape, ``k`` the offset, ``i`` the row, ``t`` the row's start)."""
    def code(node, o, ins):
        n, m, k = (f"(npy_intp)*(const {K.c_type(v.dtype)} *)V[{s}].data" for s, v in zip(ins, node.inputs))
        ct = K.c_type(node.out.dtype)
        return [f"{{ npy_intp sh[2], i, j, k = {k}; {ct} *o, *t; sh[0] = {n}; sh[1] = {m};",
                f"if (sh[0] < 0 || sh[1] < 0) {{ PyErr_Format(PyExc_ValueError, \"{node.op.name}: negative "
                f"dimensions are not allowed (%zd, %zd)\", (Py_ssize_t)sh[0], (Py_ssize_t)sh[1]); goto fail; }}",
                f"if (eq_new(&V[{o}], 2, sh, {K.typenum(node.out.dtype)}) < 0) goto fail;",
                f"o = ({ct} *)V[{o}].data; (void)j;",
                "for (i = 0; i < sh[0]; i++) {", "t = o + i * sh[1];", *fill, "}", "}"]
    return code


#: eye: the row zeroed, its one on column i + k when there is one
_EYE = ["memset(t, 0, (size_t)sh[1] * sizeof *t);", "if (k >= -i && k < sh[1] - i) t[i + k] = 1;"]
#: tri: ones on columns j <= i + k (min(max(i + k + 1, 0), m) of them, without overflow), zeros after
_TRI = ["npy_intp e = k < -i ? 0 : k >= sh[1] - i - 1 ? sh[1] : i + k + 1;",
        "for (j = 0; j < e; j++) t[j] = 1;", "memset(t + e, 0, (size_t)(sh[1] - e) * sizeof *t);"]


def _arange_ok(node) -> bool:
    """Signed integer bounds and step, an int64 result (other dtypes run through NumPy)."""
    return node.out.dtype == "int64" and all(i.dtype in _SIGNED for i in node.inputs)


def _arange(node, o, ins):
    a, b, s = (f"(npy_int64)*(const {K.c_type(v.dtype)} *)V[{k}].data" for k, v in zip(ins, node.inputs))
    return [f"{{ npy_int64 a = {a}, s = {s}, *o; __int128 d = (__int128){b} - a; npy_intp sh[1], i;",
            "if (s == 0) { PyErr_SetString(PyExc_ZeroDivisionError, \"division by zero\"); goto fail; }",
            "d = s > 0 ? (d > 0 ? (d + s - 1) / s : 0) : (d < 0 ? (d + s + 1) / s : 0);",
            "if (d > NPY_MAX_INTP) { PyErr_SetString(PyExc_ValueError, \"arange: Maximum allowed size exceeded\"); "
            "goto fail; }",
            f"sh[0] = (npy_intp)d; if (eq_new(&V[{o}], 1, sh, {K.typenum('int64')}) < 0) goto fail;",
            f"o = (npy_int64 *)V[{o}].data;",  # modular: i * s may overflow where a + i * s does not
            "for (i = 0; i < sh[0]; i++) o[i] = (npy_int64)((npy_uint64)a + (npy_uint64)i * (npy_uint64)s);",
            "}"]


#: op name -> ``(code, ok)`` of its structural entry (:data:`eqtensor.backends.c.structural.STRUCTURAL`)
MASK_OPS = {"eye": (_mask(_EYE), _mask_ok), "tri": (_mask(_TRI), _mask_ok), "arange": (_arange, _arange_ok)}
