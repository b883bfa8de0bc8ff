"""C entries of the mask constructors ``eye`` and ``tri`` (``core/ops/creation.py``): one loop
filling the new ``n x m`` array, ``out[i, j] = (j - i == k)`` or ``(j - i <= k)`` in the output
dtype. The triangular masks of the linear-algebra gradients (``tril``, ``triu``, ``fold``) are
built from them.

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


def _mask(cmp: str):
    def code(node, o, ins):
        n, m, k = (f"(npy_intp)*(const {K.c_type(v.dtype)} *)V[{s}].data" for s, v in zip(ins, node.inputs))
        ct = K.c_type(node.out.dtype)
        return [f"{{ npy_intp sh[2], i, j, k = {k}; {ct} *o; sh[0] = {n}; sh[1] = {m};",
                f"if (sh[0] < 0 || sh[1] < 0) {{ PyErr_Format(PyExc_ValueError, \"{node.op.name}: negative "
                f"dimensions are not allowed (%zd, %zd)\", (Py_ssize_t)sh[0], (Py_ssize_t)sh[1]); goto fail; }}",
                f"if (eq_new(&V[{o}], 2, sh, {K.typenum(node.out.dtype)}) < 0) goto fail;",
                f"o = ({ct} *)V[{o}].data;",
                f"for (i = 0; i < sh[0]; i++) for (j = 0; j < sh[1]; j++) o[i * sh[1] + j] = ({ct})(j - i {cmp} k);",
                "}"]
    return code


#: op name -> ``(code, ok)`` of its structural entry (:data:`eqtensor.backends.c.structural.STRUCTURAL`)
MASK_OPS = {"eye": (_mask("=="), _mask_ok), "tri": (_mask("<="), _mask_ok)}
