"""Row kernels: ``softmax``, ``log_softmax``, ``argmax`` and ``argmin`` over any axes.

The reduced axes are a *row* (flattened in C order, as the ops' NumPy implementations do); the
runtime's ``eq_rows`` (:mod:`eqtensor.backends.c.driver`) hands each kernel whole rows, contiguous
(gathered into a scratch row when the input's row is strided), on the worker pool when large. A row
kernel computes its input's fused elementwise producers in its first pass (``softmax(x @ W + b)``
reads the product and ``b``; ``argmax(a * x)`` never writes ``a * x``).

Numerics, as the NumPy implementations (``eqtensor.core.ops.nnet``): the row's maximum ``m`` is
subtracted when finite (0 otherwise, so an all ``-inf`` row gives ``nan`` and a row with ``+inf``
gives ``nan`` where NumPy does); ``exp`` and the division in the output's dtype, the sum of the
exponentials in double (float32 included: a wider accumulator). A NaN anywhere in a row makes the
whole row NaN through the sum, whatever the shift, as in NumPy. ``argmax``/``argmin``: the first
occurrence of the extreme value, or the index of the first NaN.

>>> from eqtensor import tensor as pt
>>> x = pt.matrix("x", dtype="float32")
>>> rows_ok(pt.special.softmax(x, axis=1).owner), rows_ok(pt.argmax(x, axis=0).owner)
(True, True)
"""

from __future__ import annotations

from . import kernels as K
from .loops import declare_operands, with_bad_counters

#: the ops of the row kernels
ROWS = {
    "softmax": "exp(x - max) / sum(exp(x - max)) per row",
    "log_softmax": "x - max - log(sum(exp(x - max))) per row",
    "argmax": "index of the first maximum (or first NaN) per row",
    "argmin": "index of the first minimum (or first NaN) per row",
}

#: elements per block of the argmax/argmin search (the block's extreme value, vectorized, then the
#: first position holding it when it beats the running one)
ARG_BLOCK = 256


def rows_ok(node) -> bool:
    """True when the node is a row op whose dtypes the C code handles."""
    if node.op.name not in ROWS:
        return False
    x, out = node.inputs[0], node.out
    if x.dtype not in K.C_TYPES or out.dtype not in K.C_TYPES:
        return False
    if node.op.name in ("softmax", "log_softmax"):
        return out.dtype in ("float32", "float64")
    return out.dtype == "int64"


def row_axes(node) -> tuple[list[int], list[int]]:
    """(kept axes, reduced axes) of the node's input, in loop order: kept axes first (ascending),
    then the reduced axes in the order of the op's ``axis``."""
    nd = node.inputs[0].ndim
    axes = list(node.op.params["axis"])
    return [d for d in range(nd) if d not in axes], axes


def _softmax_lines(stmts, result, ct, fx, log: bool) -> list[str]:
    """Three passes over a row held in the output (``o``): the values and their maximum, the sum of
    the shifted exponentials (written for softmax), then the normalisation."""
    first = ["#pragma omp simd reduction(max:m)", "for (i = 0; i < n; i++) {", *stmts,
             f"const {ct} x = ({ct})({result});", "o[i] = x;", "m = x > m ? x : m;", "}",
             f"const {ct} c = isfinite(m) ? m : 0;", "double s = 0;"]
    if log:
        return first + ["#pragma omp simd reduction(+:s)", "for (i = 0; i < n; i++) s += exp" + fx + "(o[i] - c);",
                        f"const {ct} ls = log{fx}(({ct})s);", "#pragma omp simd",
                        "for (i = 0; i < n; i++) o[i] = (o[i] - c) - ls;"]
    return first + ["#pragma omp simd reduction(+:s)",
                    f"for (i = 0; i < n; i++) {{ const {ct} e = exp{fx}(o[i] - c); o[i] = e; s += e; }}",
                    f"const {ct} sc = ({ct})s;", "#pragma omp simd", "for (i = 0; i < n; i++) o[i] = o[i] / sc;"]


def _arg_lines(stmts, result, ct, dtype, is_max: bool) -> list[str]:
    """Blocks of :data:`ARG_BLOCK`: the block's values go to a buffer while its extreme value and
    whether it holds a NaN are taken (vectorized). The first NaN ends the search; a block whose
    extreme beats the running one (strictly: the first occurrence wins) keeps its buffer, and at the
    end the kept block is searched once for the first position holding the extreme — in the buffer,
    not recomputed (a fused producer's vector and scalar math may round differently)."""
    cmp, red = (">", "max") if is_max else ("<", "min")
    k = K.kind(dtype)
    if k == "float":
        init = "-INFINITY" if is_max else "INFINITY"
    elif k == "bool":
        init = "0" if is_max else "1"
    else:
        lo, hi = K.int_bounds(dtype)
        init = f"({ct})({lo if is_max else hi})"
    nan = k == "float"

    def first(buf, cond):  # the first position of a block holding a value: a vectorized min
        return ["{ int j, fj = (int)(e - i0);", "#pragma omp simd reduction(min:fj)",
                f"for (j = 0; j < (int)(e - i0); j++) fj = ({cond.format(b=buf)}) && j < fj ? j : fj;"]

    lines = ["npy_intp i0, e, kb = 0, ke = 0;",
             f"{ct} m = {init}, b0[{ARG_BLOCK}], b1[{ARG_BLOCK}], *cur = b0, *keep = b1;",
             "for (i0 = 0; i0 < n; i0 = e) {", f"{ct} bm = {init}; int hn = 0;",
             f"e = n - i0 > {ARG_BLOCK} ? i0 + {ARG_BLOCK} : n;",
             f"#pragma omp simd reduction({red}:bm) reduction(|:hn)", "for (i = i0; i < e; i++) {", *stmts,
             f"const {ct} x = ({ct})({result});", "cur[i - i0] = x;",
             f"bm = x {cmp} bm ? x : bm;", "hn |= x != x;" if nan else "", "}"]
    if nan:
        lines += ["if (hn) {", *first("cur", "{b}[j] != {b}[j]"), "*o = i0 + fj; goto done; }", "}"]
    lines += [f"if (i0 == 0 || bm {cmp} m) {{ {ct} *t = keep; keep = cur; cur = t; m = bm; kb = i0; ke = e; }}", "}",
              "i0 = kb; e = ke;", "if (n > 0) {", *first("keep", "{b}[j] == m"), "*o = kb + fj; }", "}", "done: ;"]
    return [ln for ln in lines if ln]


def row_kernel_source(kname, node, operands, scal, body) -> str:
    """The row kernel ``kname`` of a softmax/log_softmax/argmax/argmin node: ``operands`` are the
    loop operands (the written one last), ``scal`` which of them are read as broadcast within a row,
    ``body(loads)`` the statements and expression of the input's value at position ``i``."""
    loads, pre = declare_operands(operands[:-1], scal[:-1])
    stmts, result = body(loads)
    name, out = node.op.name, node.out
    ko = len(operands) - 1
    if name in ("softmax", "log_softmax"):
        ct = K.c_type(out.dtype)
        fx = "f" if out.dtype == "float32" else ""
        lines = [f"{ct} *o = ({ct} *)p[{ko}];", f"{ct} m = -INFINITY;",
                 *_softmax_lines(stmts, result, ct, fx, name == "log_softmax")]
    else:
        dt = node.inputs[0].dtype
        ct = K.c_type(dt)
        lines = [f"npy_int64 *o = (npy_int64 *)p[{ko}];", *_arg_lines(stmts, result, ct, dt, name == "argmax")]
    lines = with_bad_counters(lines, operands)  # flushed after ``done:`` (an early exit at a NaN)
    return "\n".join([f"EQ_KFN void {kname}(npy_intp n, char **p)", "{", "npy_intp i;", *pre, *lines, "}"]) + "\n"
