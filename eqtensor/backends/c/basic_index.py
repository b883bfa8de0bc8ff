"""C entries of basic indexing (``th[1]``, ``x[1:, ::-1, None]``, ``x[..., 0]``): ``subtensor``, a
view of its input, and ``set_subtensor``/``inc_subtensor`` on such an index, a copy of ``x`` with
``y`` broadcast into that view (copied, or added). The view's data pointer, shape and strides are
computed from the index with NumPy's rules — negative integers wrap, an out-of-range integer
raises ``IndexError``, slice bounds clamp as Python's ``slice.indices`` (CPython's
``PySlice_AdjustIndices``), a zero step raises ``ValueError``. Integer components given by scalar
inputs are read from their slots; an index with a constant beyond +-2^62 or an unsigned 64-bit
input runs through NumPy.

>>> from eqtensor import tensor as pt
>>> x = pt.dmatrix("x")
>>> node = x[1, ::-1].owner
>>> code, ok = BASIC_INDEX_OPS["subtensor"]
>>> ok(node), code(node, 1, [0])[-1]
(True, '}')
"""

from __future__ import annotations

import numpy as np

from . import kernels as K

_INDEX_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
_BOUND = 1 << 62


def _index_ok(node, first: int) -> bool:
    """Index inputs (from ``first`` on) are integer scalars of a C type that fits ``npy_intp``, constants
    within +-2^62, the indexed array of a C type."""
    consts = [p for e in node.op.params["idx_list"] if e[0] in ("int", "slice") for p in e[1:]
              if isinstance(p, int)]
    return node.inputs[0].dtype in K.C_TYPES and all(-_BOUND < p < _BOUND for p in consts) \
        and all(i.ndim == 0 and i.dtype in _INDEX_DTYPES for i in node.inputs[first:])


def _subtensor_ok(node) -> bool:
    return _index_ok(node, 1)


class _Parts:
    """The C expressions of the index's components: constants, or the next scalar input's slot."""

    def __init__(self, slots, variables):
        self.inputs = iter(zip(slots, variables))

    def expr(self, p, default: str) -> str:
        if p is None:
            return default
        if isinstance(p, int):
            return f"(npy_intp){p}LL"
        slot, v = next(self.inputs)
        return f"(npy_intp)*(const {K.c_type(v.dtype)} *)V[{slot}].data"


def _int_entry(x: int, ax: int, value: str) -> list[str]:
    return [f"i_ = {value}; n_ = V[{x}].shape[{ax}];",
            f"if (i_ < -n_ || i_ >= n_) {{ PyErr_Format(PyExc_IndexError, \"index %zd is out of bounds for "
            f"axis {ax} with size %zd\", (Py_ssize_t)i_, (Py_ssize_t)n_); goto fail; }}",
            f"p_ += (i_ < 0 ? i_ + n_ : i_) * V[{x}].strides[{ax}];"]


def _slice_entry(x: int, ax: int, od: int, start: str, stop: str, step: str) -> list[str]:
    return [f"k_ = {step};",
            "if (k_ == 0) { PyErr_SetString(PyExc_ValueError, \"slice step cannot be zero\"); goto fail; }",
            f"a_ = {start}; b_ = {stop};",
            f"sh_[{od}] = (npy_intp)PySlice_AdjustIndices((Py_ssize_t)V[{x}].shape[{ax}], &a_, &b_, k_);",
            f"st_[{od}] = V[{x}].strides[{ax}] * k_; p_ += a_ * V[{x}].strides[{ax}];"]


def _view(node, x: int, first: int, ins) -> tuple[list[str], int]:
    """Statements opening a block with the view of slot ``x`` by the node's index (index inputs from
    ``first`` on): its pointer ``p_``, shape ``sh_`` and strides ``st_``; and its rank."""
    entries, nd_in = node.op.params["idx_list"], node.inputs[0].ndim
    parts = _Parts(ins[first:], node.inputs[first:])
    nd = max(nd_in + sum(e[0] == "new" for e in entries), 1)
    lines = [f"{{ char *p_ = V[{x}].data; npy_intp sh_[{nd}], st_[{nd}], i_, n_; Py_ssize_t a_, b_, k_;",
             "(void)i_; (void)n_; (void)a_; (void)b_; (void)k_;"]
    ax = od = 0
    n_ellipsis = nd_in - sum(e[0] in ("int", "slice") for e in entries)
    for e in entries:
        if e[0] == "int":
            lines += _int_entry(x, ax, parts.expr(e[1], ""))
            ax += 1
        elif e[0] == "slice":
            start = parts.expr(e[1], "(k_ < 0 ? PY_SSIZE_T_MAX : 0)")  # inputs in order: start, stop, step
            stop = parts.expr(e[2], "(k_ < 0 ? PY_SSIZE_T_MIN : PY_SSIZE_T_MAX)")
            lines += _slice_entry(x, ax, od, start, stop, parts.expr(e[3], "1"))
            ax, od = ax + 1, od + 1
        elif e[0] == "new":
            lines.append(f"sh_[{od}] = 1; st_[{od}] = 0;")
            od += 1
        else:  # an ellipsis: the axes no other entry consumes
            for _ in range(n_ellipsis):
                lines.append(f"sh_[{od}] = V[{x}].shape[{ax}]; st_[{od}] = V[{x}].strides[{ax}];")
                ax, od = ax + 1, od + 1
            n_ellipsis = 0
    for _ in range(nd_in - ax):
        lines.append(f"sh_[{od}] = V[{x}].shape[{ax}]; st_[{od}] = V[{x}].strides[{ax}];")
        ax, od = ax + 1, od + 1
    return lines, od


def _subtensor(node, o, ins):
    """The view: ``V[o]`` shares ``x``'s array, with the index's pointer, shape and strides."""
    lines, nd = _view(node, ins[0], 1, ins)
    lines.append(f"eq_view(&V[{o}], &V[{ins[0]}]); V[{o}].data = p_; V[{o}].nd = {nd};")
    lines += [f"V[{o}].shape[{d}] = sh_[{d}]; V[{o}].strides[{d}] = st_[{d}];" for d in range(nd)]
    return lines + ["}"]


def _update_ok(node) -> bool:
    """Basic indices (no index array), ``y`` of ``x``'s dtype, a number type (bool ``+`` is ``or``)."""
    return not any(e[0] in ("array", "mask") for e in node.op.params["idx_list"]) and _index_ok(node, 2) \
        and node.inputs[1].dtype == node.out.dtype and K.kind(node.out.dtype) in ("int", "float")


def _update(node, o, ins):
    """A copy of ``x``, then ``y`` broadcast into its view: copied (``set_subtensor``) or added row by row
    (``inc_subtensor``)."""
    x, y, dt = ins[0], ins[1], node.out.dtype
    ct, isz, ynd = K.c_type(dt), np.dtype(dt).itemsize, node.inputs[1].ndim
    lines = [f"if (eq_new(&V[{o}], {node.out.ndim}, V[{x}].shape, {K.typenum(dt)}) < 0) goto fail;",
             f"eq_copy(&V[{o}], &V[{x}], V[{x}].strides, {isz});"]
    view, nd = _view(node, o, 2, ins)
    lines += view + [f"{{ eq_arr v_; npy_intp ys_[{max(nd, 1)}]; int d_;",
                     f"v_.obj = NULL; v_.data = p_; v_.nd = {nd};",
                     f"for (d_ = 0; d_ < {nd}; d_++) {{",
                     "v_.shape[d_] = sh_[d_]; v_.strides[d_] = st_[d_]; ys_[d_] = 0; }"]
    for d in range(ynd):
        vd = nd - ynd + d
        lines.append(f"if (V[{y}].shape[{d}] != 1 && V[{y}].shape[{d}] != sh_[{vd}]) {{ PyErr_Format(PyExc_ValueError, "
                     f"\"{node.op.name}: y has length %zd along its axis {d}, the indexed part %zd\", "
                     f"(Py_ssize_t)V[{y}].shape[{d}], (Py_ssize_t)sh_[{vd}]); goto fail; }}")
        lines.append(f"ys_[{vd}] = V[{y}].shape[{d}] == 1 ? 0 : V[{y}].strides[{d}];")
    if node.op.name == "set_subtensor":
        lines.append(f"eq_copy(&v_, &V[{y}], ys_, {isz});")
    else:
        lines += _add_rows(ct, nd, y)
    return lines + ["}", "}"]


def _add_rows(ct: str, nd: int, y: int) -> list[str]:
    """``v_ += y`` (strides ``ys_``): a loop over the rows (all axes but the last), then along the row."""
    last = max(nd - 1, 0)
    n_last = f"v_.shape[{last}]" if nd else "1"
    s_v, s_y = (f"v_.strides[{last}]", f"ys_[{last}]") if nd else ("0", "0")
    return [f"{{ npy_intp q_, r_, c_, j_, ov_, oy_, rows_ = 1;",
            f"for (d_ = 0; d_ < {last}; d_++) rows_ *= v_.shape[d_];",
            "for (q_ = 0; q_ < rows_; q_++) {",
            "r_ = q_; ov_ = 0; oy_ = 0;",
            f"for (d_ = {last} - 1; d_ >= 0; d_--) {{ c_ = r_ % v_.shape[d_]; r_ /= v_.shape[d_]; "
            "ov_ += c_ * v_.strides[d_]; oy_ += c_ * ys_[d_]; }",
            f"for (j_ = 0; j_ < {n_last}; j_++) *({ct} *)(v_.data + ov_ + j_ * {s_v}) += "
            f"*(const {ct} *)(V[{y}].data + oy_ + j_ * {s_y});",
            "}", "}"]


#: op name -> ``(code, ok)`` of its structural entry (:data:`eqtensor.backends.c.structural.STRUCTURAL`)
BASIC_INDEX_OPS = {"subtensor": (_subtensor, _subtensor_ok), "set_subtensor": (_update, _update_ok),
                   "inc_subtensor": (_update, _update_ok)}
