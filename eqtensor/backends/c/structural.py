"""The C backend's table of structural ops: views, shape ops, allocation and BLAS calls.

:data:`STRUCTURAL` maps an op name to a :class:`Structural` entry: ``ok(node)`` says whether the
node gets C code (else it runs through NumPy inside the compiled function), ``code(node, out, ins)``
returns its C statements, ``out`` and ``ins`` being the slots of the node's output and inputs
(the generated function's ``eq_arr V[]``). A statement that fails jumps to ``fail``. Adding a
structural op is adding one entry here (and, if its code calls one, a runtime function to
:data:`RUNTIME` or to :mod:`eqtensor.backends.c.blas`).

>>> from eqtensor import tensor as pt
>>> x = pt.dmatrix("x")
>>> node = x.T.owner
>>> STRUCTURAL[node.op.name].ok(node)
True
>>> STRUCTURAL[node.op.name].code(node, 1, [0])[0]
'eq_view(&V[1], &V[0]); V[1].nd = 2;'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import kernels as K
from .basic_index import BASIC_INDEX_OPS
from .lapack_calls import LAPACK_OPS
from .masks import MASK_OPS


def _always(node) -> bool:
    return True


@dataclass(frozen=True)
class Structural:
    """How a structural op is generated: ``code(node, out, ins)`` returns the C statements
    computing slot ``out`` from slots ``ins``; ``ok(node)`` is true when they handle the node's
    dtypes; ``blas`` when they call the runtime's BLAS part."""

    code: Callable
    ok: Callable = _always
    blas: bool = False


def _fail(cond: str) -> str:
    return f"if ({cond}) goto fail;"


def _dbl(node) -> int:
    """1 when a BLAS node computes in float64, 0 in float32 (the runtime's ``dbl`` argument)."""
    return int(node.out.dtype == "float64")


# ---------------------------------------------------------------------------- support conditions
def _same_type(node) -> bool:
    return node.out.type == node.inputs[0].type


def _int64_shape(node) -> bool:
    return node.inputs[1].dtype == "int64"


def _c_scalars(node) -> bool:
    return all(i.dtype in K.C_TYPES for i in node.inputs) and node.out.dtype in K.C_TYPES


def _int_dims(node) -> bool:
    return all(i.dtype in K.C_TYPES and K.kind(i.dtype) == "int" for i in node.inputs[1:])


def _blas_operands(node) -> bool:
    """Every operand has the output's float dtype."""
    return node.out.dtype in ("float32", "float64") and all(i.dtype == node.out.dtype for i in node.inputs)


def _blas_product(node) -> bool:
    """Operands of the output's float dtype, each a vector or a matrix (``dot`` and ``matmul``
    agree there)."""
    a, b = node.inputs
    return (a.dtype == b.dtype == node.out.dtype and a.dtype in ("float32", "float64")
            and a.ndim in (1, 2) and b.ndim in (1, 2))


# ---------------------------------------------------------------------------- code templates
def _dimshuffle(node, o, ins):
    """A view: each output axis is an input axis or a new broadcast axis (``x``)."""
    order, i = node.op.params["order"], ins[0]
    lines = [f"eq_view(&V[{o}], &V[{i}]); V[{o}].nd = {len(order)};"]
    for j, d in enumerate(order):
        if d == "x":
            lines.append(f"V[{o}].shape[{j}] = 1; V[{o}].strides[{j}] = 0;")
        else:
            lines.append(f"V[{o}].shape[{j}] = V[{i}].shape[{d}]; V[{o}].strides[{j}] = V[{i}].strides[{d}];")
    return lines


def _identity_view(node, o, ins):
    """The input itself, as a view (gradient markers are the identity in the forward graph)."""
    i = ins[0]
    return [f"eq_view(&V[{o}], &V[{i}]); V[{o}].nd = V[{i}].nd;",
            f"memcpy(V[{o}].shape, V[{i}].shape, sizeof V[{o}].shape); "
            f"memcpy(V[{o}].strides, V[{i}].strides, sizeof V[{o}].strides);"]


def _reshape(node, o, ins):
    out = node.out
    return [_fail(f"eq_reshape(&V[{o}], &V[{ins[0]}], &V[{ins[1]}], {out.ndim}, {K.typenum(out.dtype)}, "
                  f"{np.dtype(out.dtype).itemsize}) < 0")]


def _shape(node, o, ins):
    nd = node.inputs[0].ndim
    return [f"{{ npy_intp n1 = {nd}; int d; if (eq_new(&V[{o}], 1, &n1, {K.typenum(node.out.dtype)}) < 0) goto fail;",
            f"for (d = 0; d < {nd}; d++) ((npy_int64 *)V[{o}].data)[d] = V[{ins[0]}].shape[d]; }}"]


def _shape_i(node, o, ins):
    return [f"if (eq_new(&V[{o}], 0, NULL, {K.typenum(node.out.dtype)}) < 0) goto fail;",
            f"*(npy_int64 *)V[{o}].data = V[{ins[0]}].shape[{node.op.params['i']}];"]


def _make_vector(node, o, ins):
    """A new vector of the scalar inputs, each converted to the output's dtype."""
    odt = node.out.dtype
    ct = K.c_type(odt)
    lines = [f"{{ npy_intp n1 = {len(ins)}; if (eq_new(&V[{o}], 1, &n1, {K.typenum(odt)}) < 0) goto fail; }}"]
    for j, (s, v) in enumerate(zip(ins, node.inputs)):
        val = f"*(const {K.c_type(v.dtype)} *)V[{s}].data"
        val = f"(({val}) != 0)" if odt == "bool" else f"({ct})({val})"
        lines.append(f"(({ct} *)V[{o}].data)[{j}] = {val};")
    return lines


def _alloc(node, o, ins):
    """A new array of the given dims (integer scalar slots; a uint64 beyond ``NPY_MAX_INTP`` is an
    invalid -1) filled with the broadcast value."""
    out = node.out
    lines = ["{ npy_intp dims[EQ_MAXD];"]
    for j, (s, v) in enumerate(zip(ins[1:], node.inputs[1:])):
        lines.append(f"dims[{j}] = (npy_intp)*(const {K.c_type(v.dtype)} *)V[{s}].data;")
        if v.dtype == "uint64":
            lines.append(f"if (*(const npy_uint64 *)V[{s}].data > (npy_uint64)NPY_MAX_INTP) dims[{j}] = -1;")
    lines.append(_fail(f"eq_alloc(&V[{o}], &V[{ins[0]}], dims, {out.ndim}, {K.typenum(out.dtype)}, "
                       f"{np.dtype(out.dtype).itemsize}) < 0"))
    lines.append("}")
    return lines


def _dot(node, o, ins):
    return [_fail(f"eq_dot(&V[{o}], &V[{ins[0]}], &V[{ins[1]}], {_dbl(node)}, {K.typenum(node.out.dtype)}) < 0")]


def _static_ones(v) -> int:
    """The axes of ``v`` of static length 1 as a bit mask (bit d: axis d): the only axes along which
    the accumulator of gemm/gemv/ger may broadcast (PyTensor's static broadcasting)."""
    return sum(1 << d for d, n in enumerate(v.type.shape) if n == 1)


def _gemm_gemv(node, o, ins):
    """``eq_gemm``/``eq_gemv`` (the op's name) of c, alpha, a, b, beta."""
    c, al, a, b, be = ins
    return [_fail(f"eq_{node.op.name}(&V[{o}], &V[{c}], &V[{al}], &V[{a}], &V[{b}], &V[{be}], "
                  f"{_static_ones(node.inputs[0])}, {_dbl(node)}, {K.typenum(node.out.dtype)}) < 0")]


def _ger(node, o, ins):
    c, al, x, y = ins
    return [_fail(f"eq_ger(&V[{o}], &V[{c}], &V[{al}], &V[{x}], &V[{y}], {_static_ones(node.inputs[0])}, "
                  f"{_dbl(node)}, {K.typenum(node.out.dtype)}) < 0")]


#: a gradient marker (the identity in the forward graph): a view of its input
_GRAD_MARKER = Structural(_identity_view, ok=_same_type)

#: structural op name -> its entry
STRUCTURAL: dict[str, Structural] = {
    "dimshuffle": Structural(_dimshuffle),
    "reshape": Structural(_reshape, ok=_int64_shape),
    "shape": Structural(_shape),
    "shape_i": Structural(_shape_i),
    "make_vector": Structural(_make_vector, ok=_c_scalars),
    "alloc": Structural(_alloc, ok=_int_dims),
    "zero_grad": _GRAD_MARKER,
    "disconnected_grad": _GRAD_MARKER,
    "undefined_grad": _GRAD_MARKER,
    "grad_clip": _GRAD_MARKER,
    "grad_scale": _GRAD_MARKER,
    "dot": Structural(_dot, ok=_blas_product, blas=True),
    "matmul": Structural(_dot, ok=_blas_product, blas=True),
    "gemm": Structural(_gemm_gemv, ok=_blas_operands, blas=True),
    "gemv": Structural(_gemm_gemv, ok=_blas_operands, blas=True),
    "ger": Structural(_ger, ok=_blas_operands, blas=True),
    **{name: Structural(code, ok=ok, blas=True) for name, (code, ok) in LAPACK_OPS.items()},
    **{name: Structural(code, ok=ok) for name, (code, ok) in MASK_OPS.items()},
    **{name: Structural(code, ok=ok) for name, (code, ok) in BASIC_INDEX_OPS.items()},
}


def struct_ok(node) -> bool:
    """True when the node is a structural op whose entry handles it."""
    entry = STRUCTURAL.get(node.op.name)
    return entry is not None and entry.ok(node)


#: the runtime functions of the entries' code (part of the runtime text of
#: :mod:`eqtensor.backends.c.prelude`, braces doubled for ``str.format``; ``eq_copy`` is in
#: :mod:`eqtensor.backends.c.driver`)
RUNTIME = r"""
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
