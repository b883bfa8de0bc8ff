"""Loop kernels: the C text of fused elementwise and reduction loops.

A *kernel* is one ``EQ_KFN void eq_k<N>(npy_intp n, char **p)`` function (``static``, or hidden
in a translation unit of its own) holding a single
contiguous inner loop (``#pragma omp simd``) over its operands: an operand is either read as
broadcast (``*p[k]``, hoisted) or contiguous (``p[k][i]``). Everything else — shapes, collapsing
dimensions, the outer loops, strided operands (gathered into contiguous chunks) — is done at run
time by the runtime's ``eq_loop`` driver (:mod:`eqtensor.backends.c.driver`), so each loop is
compiled once and the generated source stays small.

>>> from eqtensor.backends.c.loops import Operand, kernel_source
>>> ops = [Operand(0, "float64", [0], "in"), Operand(1, "float64", [0], "out")]
>>> src = kernel_source("eq_k0", ops, [False, False], lambda ld: ([], f"2 * {ld[0]}"))
>>> "q1[i] = 2 * q0[i];" in src
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from . import kernels as K
from .indexing import flush_bad, index_read
from .prelude import kernel_prelude


@dataclass
class Operand:
    """A loop operand: its slot, dtype, the slot's axis for each loop axis (None: broadcast) and role
    (``in``, ``out`` or ``acc``, a reduction accumulator; ``table``: the vector a fused gather or
    scatter indexes, read through its base pointer ``b<k>``; ``info``: that vector's length
    ``n<k>``, byte stride ``s<k>`` and out-of-range counter ``bad<k>``, see
    :mod:`eqtensor.backends.c.indexing`)."""

    slot: int
    dtype: str
    dims: list
    role: str


def normalize(operands, nd, movers=()) -> int | None:
    """Drop loop axes of static length 1 (no input moves along them) from every operand, in place;
    returns the last remaining axis (the kernel's inner axis), or None. ``movers``: the dimension
    maps of shape-only operands (an alloc's dims), which give the loop a length where no input
    moves."""
    ins = [o.dims for o in operands if o.role == "in"] + list(movers)
    inner = None
    for d in range(nd):
        if all(dims[d] is None for dims in ins):
            for o in operands:
                o.dims[d] = None
        else:
            inner = d
    return inner


def tables(operands, nd, tag: str) -> str:
    """The static operand tables ``eq_loop`` reads: slots, dimension maps, item sizes."""
    sl = ", ".join(str(o.slot) for o in operands)
    dm = ", ".join(str(-1 if d is None else d) for o in operands for d in o.dims) or "-1"
    sz = ", ".join(str(np.dtype(o.dtype).itemsize) for o in operands)
    return (f"static const int sl{tag}[] = {{{sl}}}; "
            f"static const signed char dm{tag}[] = {{{dm}}}, sz{tag}[] = {{{sz}}};")


def scalars(operands, inner, red: bool) -> list[bool]:
    """Which operands a kernel reads as broadcast: no axis at the inner loop axis (an accumulator:
    in the reducing kernel)."""
    return [red if o.role == "acc" else (inner is None or o.dims[inner] is None) for o in operands]


def infos(operands) -> list[int]:
    """The positions of the operands holding a fused gather's or scatter's out-of-range counter."""
    return [k for k, o in enumerate(operands) if o.role == "info"]


def with_bad_counters(lines, operands) -> list[str]:
    """Kernel lines counting out-of-range indices: each ``#pragma omp simd`` gets a ``+`` reduction
    of every counter, and the counters are flushed to their info operands at the end."""
    ks = infos(operands)
    if not ks:
        return lines
    clause = " ".join(f"reduction(+:bad{k})" for k in ks)
    return [f"{ln} {clause}" if ln.startswith("#pragma omp simd") else ln for ln in lines] + flush_bad(ks)


#: partial accumulators of a reduction without an OpenMP reduction clause: several vectors' worth
#: (independent dependency chains: max/min with NaN checks ran at a quarter of the memory speed with
#: one vector), then blocks of :data:`LANES_TAIL` of them for the remainder
LANES = 64
LANES_TAIL = 8


def _load_input(k: int, ct: str, broadcast: bool, loads: dict, pre: list) -> None:
    """Declare input operand ``k`` (C type ``ct``): hoisted when read as broadcast, else a pointer
    indexed by ``i``; its load expression goes to ``loads[k]``."""
    if broadcast:
        pre.append(f"const {ct} h{k} = *(const {ct} *)p[{k}];")
        loads[k] = f"h{k}"
    else:
        pre.append(f"const {ct} *q{k} = (const {ct} *)p[{k}];")
        loads[k] = f"q{k}[i]"


def declare_operands(operands, scal) -> tuple[dict, list]:
    """Each operand's load expression (an lvalue for the written ones) and the declarations it
    needs."""
    loads, pre = {}, []
    for k, (o, sc) in enumerate(zip(operands, scal)):
        ct = K.c_type(o.dtype)
        if o.role == "in":
            _load_input(k, ct, sc, loads, pre)
        elif o.role == "table":
            pre.append(f"char *b{k} = p[{k}];")
            loads[k] = f"b{k}"
        elif o.role == "info":
            pre.append(f"npy_int64 *g{k} = (npy_int64 *)p[{k}]; const npy_int64 n{k} = g{k}[0], s{k} = g{k}[1]; "
                       f"npy_intp bad{k} = 0;")
            loads[k] = f"g{k}"
        elif sc:
            loads[k] = f"*({ct} *)p[{k}]"
        else:
            pre.append(f"{ct} *q{k} = ({ct} *)p[{k}];")
            loads[k] = f"q{k}[i]"
    return loads, pre


def _map_loop(stmts, result, out: str, simd: bool) -> list[str]:
    """``out = result`` for each element (vectorized unless the output is read as broadcast)."""
    return [*(["#pragma omp simd"] if simd else []), "for (i = 0; i < n; i++) {", *stmts, f"{out} = {result};", "}"]


def _clause_reduction(stmts, result, acc: str, act: str, comb: str, clause: str) -> list[str]:
    """A reduction into the broadcast accumulator ``acc`` with an OpenMP reduction ``clause``."""
    return [f"{act} acc = {acc};", f"#pragma omp simd {clause}", "for (i = 0; i < n; i++) {",
            *stmts, f"{act} x = {result}; acc = {comb};", "}", f"{acc} = acc;"]


def _lanes_reduction(stmts, result, acc: str, act: str, comb: str) -> list[str]:
    """A reduction into the broadcast accumulator ``acc`` without an OpenMP reduction (max/min
    propagate NaN, all/any): :data:`LANES` partial accumulators updated elementwise vectorize (then
    the first :data:`LANES_TAIL` of them over the remainder); the last elements fold in one by one,
    the lanes pairwise (vectorized: a row of a row reduction ends in a few vector steps). A row
    shorter than ``LANES`` uses only the first ``LANES_TAIL`` lanes, one shorter than twice that
    none (max over 1e5 rows of 8: setting up and folding 64 lanes per row took 6.3 ms, one by one
    0.6 ms, their sum 0.9 ms)."""
    def block(width):
        return [f"for (; i0 + {width} <= n; i0 += {width}) {{", "#pragma omp simd",
                f"for (j = 0; j < {width}; j++) {{", "const npy_intp i = i0 + j;", *stmts,
                f"{act} x = {result}, acc = lane[j]; lane[j] = {comb};", "}", "}"]
    return [f"{act} acc = {acc}, lane[{LANES}];", "i0 = 0;",
            f"w = n >= {LANES} ? {LANES} : n >= {2 * LANES_TAIL} ? {LANES_TAIL} : 0;",
            "if (w > 0) {", "for (j = 0; j < w; j++) lane[j] = acc;",
            *block(LANES), *block(LANES_TAIL),
            "for (w /= 2; w > 0; w /= 2) {", "#pragma omp simd",
            f"for (j = 0; j < w; j++) {{ {act} x = lane[j + w], acc = lane[j]; lane[j] = {comb}; }}", "}",
            f"{{ {act} x = lane[0]; acc = {comb}; }}", "}",
            "for (i = i0; i < n; i++) {", *stmts, f"{act} x = {result}; acc = {comb};", "}", f"{acc} = acc;"]


def _row_update(stmts, result, acc: str, act: str, comb: str) -> list[str]:
    """A reduction step along a kept axis: each element of the contiguous accumulator row combines
    one value."""
    return ["#pragma omp simd", "for (i = 0; i < n; i++) {", *stmts,
            f"{act} x = {result}; {act} acc = {acc}; {acc} = {comb};", "}"]


def kernel_source(kname, operands, scal, body, acc=None, comb=None, pragma="simd") -> str:
    """The kernel function ``kname``. ``body(loads)`` returns (statements, result expression) from
    the operand loads; ``acc`` = (operand index, C type) and ``comb`` (of ``acc`` and ``x``) make it
    a reduction into that operand (``pragma``: its OpenMP reduction clause, or None)."""
    loads, pre = declare_operands(operands, scal)
    stmts, result = body(loads)
    decl = "npy_intp i;"
    if acc is None:
        (ok,) = [k for k, o in enumerate(operands) if o.role == "out"]
        loop = _map_loop(stmts, result, loads[ok], bool(pragma) and not scal[ok])
    else:
        ka, act = acc
        if not scal[ka]:
            loop = _row_update(stmts, result, loads[ka], act, comb)
        elif pragma:
            loop = _clause_reduction(stmts, result, loads[ka], act, comb, pragma)
        else:
            decl = "npy_intp i, i0, j, w;"
            loop = _lanes_reduction(stmts, result, loads[ka], act, comb)
    loop = with_bad_counters(loop, operands)
    return "\n".join([f"EQ_KFN void {kname}(npy_intp n, char **p)", "{", decl, *pre, *loop, "}"]) + "\n"


def accs_kernel_source(kname, operands, scal, body, first: int, accs) -> str:
    """The kernel of several sum/prod reductions in one pass (multi-output fusion): accumulators
    ``operands[first:]``, all of one layout, one ``(C type, operator + or *)`` each in ``accs``;
    ``body(loads)`` returns the statements and one result per accumulator. Read as broadcast, the
    accumulators are OpenMP reduction variables; else each element of their rows combines one value."""
    loads, pre = declare_operands(operands, scal)
    stmts, results = body(loads)
    xs = [f"const {ct} x{j} = {res};" for j, ((ct, _), res) in enumerate(zip(accs, results))]
    if scal[first]:
        clause = " ".join(f"reduction({op}:acc{j})" for j, (_, op) in enumerate(accs))
        loop = [*(f"{ct} acc{j} = {loads[first + j]};" for j, (ct, _) in enumerate(accs)),
                f"#pragma omp simd {clause}", "for (i = 0; i < n; i++) {", *stmts, *xs,
                *(f"acc{j} {op}= x{j};" for j, (_, op) in enumerate(accs)), "}",
                *(f"{loads[first + j]} = acc{j};" for j in range(len(accs)))]
    else:
        loop = ["#pragma omp simd", "for (i = 0; i < n; i++) {", *stmts, *xs,
                *(f"{loads[first + j]} {op}= x{j};" for j, (_, op) in enumerate(accs)), "}"]
    loop = with_bad_counters(loop, operands)
    return "\n".join([f"EQ_KFN void {kname}(npy_intp n, char **p)", "{", "npy_intp i;", *pre, *loop, "}"]) + "\n"


def scatter_kernel_source(kname, operands, scal, body, node, table: int, info: int) -> str:
    """A scatter loop kernel: ``body(loads)`` gives (statements, value expression, index
    expression); the value is added to (``inc_subtensor``) or stored into (``set_subtensor``)
    element ``index`` of the vector ``table``, in loop order (repeated indices accumulate; the last
    store wins). Not vectorized: two positions may name one element."""
    loads, pre = declare_operands(operands, scal)
    stmts, value, index = body(loads)
    ct = K.c_type(node.out.dtype)
    dst = f"(({ct} *)(b{table} + w * s{info}))"
    if node.op.name == "set_subtensor":
        new = f"(npy_bool)(({value}) != 0)" if ct == "npy_bool" else f"({ct})({value})"
    elif ct == "npy_bool":
        new = f"(npy_bool)(*{dst} || ({value}) != 0)"
    else:
        new = f"({ct})(*{dst} + ({ct})({value}))"
    read = index_read(node.inputs[2].dtype, index, f"n{info}", f"bad{info}", "w")
    return "\n".join([f"EQ_KFN void {kname}(npy_intp n, char **p)", "{", "npy_intp i;", *pre,
                      "for (i = 0; i < n; i++) {", *stmts, *read, f"*{dst} = {new};", "}",
                      *flush_bad([info]), "}"]) + "\n"


#: elements per block of a row logsumexp: the block's max and its sum of exp(x - max) are taken while
#: the block is in L1 (32 KB of float64)
LSE_BLOCK = 4096
#: partial maxima and sums of a logsumexp block (two AVX-512 vectors of float64: one is latency-bound;
#: 16 with a plain max (NaN caught by the sum) measured 2.6 ms against 3.0 ms for 32 NaN-aware lanes)
LSE_LANES = 16
#: a block is summed in the same pass as its max, shifted by the running max (or the row's first
#: value), while its max stays within this much above the shift; else a second pass over the block
LSE_SLACK = 64
#: prefetch distance of the one-pass logsumexp, in elements (4 KB of float64)
LSE_PREFETCH = 512
#: a block shorter than this is not summed in one pass: its max, then its (vectorized) sum of
#: exp(x - max) (1e5 rows of 8: 8.7 ms in one pass, whose exps of a short row run one by one)
LSE_SHORT = 2 * LSE_LANES


def _lse_prefetch(inputs, scal) -> list[str]:
    """Software prefetch :data:`LSE_PREFETCH` elements ahead, one per cache line, for every
    contiguous input: the one pass is latency-bound on its loads otherwise (2000x2000 rows: 3.7 ->
    3.2 ms, one core)."""
    return [f"__builtin_prefetch(q{k} + i + {LSE_PREFETCH + off});"
            for k, (o, sc) in enumerate(zip(inputs, scal)) if not sc
            for off in range(0, LSE_LANES, max(1, 64 // np.dtype(o.dtype).itemsize))]


def _lse_one_pass(stmts, result, ct, fx, tg, prefetch) -> list[str]:
    """A block's max ``bm`` and its sum ``acc`` of ``exp(x - sh)`` in one pass (partial maxima and
    sums of :data:`LSE_LANES` lanes), added to the running ``S``/``M`` when the max stays within
    :data:`LSE_SLACK` of the shift and the sum is not NaN (the partial maxima skip a NaN: it shows
    in the sum, and the slow path then sums it into ``S``)."""
    return [
        f"if (isfinite(sh) && e - i0 >= {LSE_SHORT}) {{",
        f"for (j = 0; j < {LSE_LANES}; j++) {{ lane[j] = -INFINITY; part[j] = 0; }}",
        f"for (i = i0; i + {LSE_LANES} <= e; i += {LSE_LANES}) {{",
        "const npy_intp ib = i;",
        *prefetch,
        "#pragma omp simd",
        f"for (j = 0; j < {LSE_LANES}; j++) {{", "const npy_intp i = ib + j;", *stmts,
        f"const {ct} x = ({ct})({result}); lane[j] = x > lane[j] ? x : lane[j]; part[j] += exp{fx}(x - sh);",
        "}", "}",
        "const npy_intp itail = i;",
        "for (i = itail; i < e; i++) {", *stmts,
        f"const {ct} x = ({ct})({result}); bm = eq_max_{tg}(bm, x); acc += exp{fx}(x - sh);", "}",
        f"for (j = 0; j < {LSE_LANES}; j++) {{ bm = eq_max_{tg}(bm, lane[j]); acc += part[j]; }}",
        f"if (bm <= sh + {LSE_SLACK} && acc == acc) {{ S += acc; M = eq_max_{tg}(M, bm); continue; }}",
        "}",
    ]


def _lse_rescan(stmts, result, ct, fx, tg) -> list[str]:
    """The slow path of a block whose max is far above the shift, or with something not finite,
    or short: the block's max (already taken by the one pass; vectorized, NaN skipped: the sum
    shows it), then its sum of ``exp(x - max)``
    (the block is in L1), the running sum rescaled to the new shift."""
    return [
        f"if (!isfinite(sh) || e - i0 < {LSE_SHORT}) {{", "#pragma omp simd reduction(max:bm)",
        "for (i = i0; i < e; i++) {", *stmts, f"const {ct} x = ({ct})({result}); bm = x > bm ? x : bm;", "}", "}",
        f"c1 = eq_fin_{tg}(eq_max_{tg}(M, bm));",
        f"if (S != 0 && c1 != sh) S *= exp{fx}(sh - c1);",
        f"M = eq_max_{tg}(M, bm); sh = c1; acc = 0;",
        "#pragma omp simd reduction(+:acc)",
        "for (i = i0; i < e; i++) {", *stmts, f"acc += exp{fx}(({ct})({result}) - c1);", "}",
        "S += acc;",
    ]


def _lse_reduce(stmts, result, ct, fx, tg, prefetch) -> list[str]:
    """The reducing kernel's body: the running max ``M`` and sum ``S`` (kept relative to the shift
    ``sh``) over blocks of :data:`LSE_BLOCK` elements; a row's first block, with nothing summed
    yet, is shifted by its first value."""
    return [
        "npy_intp i, i0, j, e;",
        f"{ct} M = *qm, S = *qs, sh = eq_fin_{tg}(M);",
        "for (i0 = 0; i0 < n; i0 = e) {",
        f"{ct} bm = -INFINITY, c1, acc = 0, lane[{LSE_LANES}], part[{LSE_LANES}];",
        f"e = n - i0 > {LSE_BLOCK} ? i0 + {LSE_BLOCK} : n;",
        "if (S == 0 && M == -INFINITY) {",
        "const npy_intp i = i0;", *stmts, f"sh = ({ct})({result});", "}",
        *_lse_one_pass(stmts, result, ct, fx, tg, prefetch),
        *_lse_rescan(stmts, result, ct, fx, tg),
        "}",
        f"if (S != 0 && sh != eq_fin_{tg}(M)) S *= exp{fx}(sh - eq_fin_{tg}(M));",
        "*qm = M; *qs = S;",
    ]


def _lse_row_update(stmts, result, ct, fx, tg) -> list[str]:
    """The row-updating kernel's body: per element, ``s = s * exp(fin(m) - fin(m')) + exp(x -
    fin(m'))`` with ``m' = max(m, x)``. A zero sum (nothing but -inf so far) is not rescaled:
    ``fin(-inf)`` is 0, so ``exp(c0 - c1)`` overflows for ``|x| > ~709`` and ``0 * inf`` would be
    NaN."""
    return ["npy_intp i;", "#pragma omp simd", "for (i = 0; i < n; i++) {", *stmts,
            f"const {ct} x = ({ct})({result}), mo = qm[i], mn = eq_max_{tg}(mo, x);",
            f"const {ct} c0 = eq_fin_{tg}(mo), c1 = eq_fin_{tg}(mn);",
            f"qs[i] = (qs[i] == 0 ? 0 : qs[i] * exp{fx}(c0 - c1)) + exp{fx}(x - c1);",
            "qm[i] = mn;", "}"]


def lse_kernel_source(kname, operands, scal, body, ct: str, fx: str, tg: str) -> str:
    """A one-pass ``logsumexp`` kernel. The last two operands are the running max ``m`` and the
    running sum ``s`` of ``exp(x - fin(m))`` (``fin``: non-finite -> 0, as SciPy). Reducing kernel
    (both read as broadcast), per block of :data:`LSE_BLOCK` elements: the block's max and its sum
    of ``exp(x - sh)`` in one pass, ``sh`` the running max (or the row's first value); when the
    block's max exceeds ``sh`` by more than :data:`LSE_SLACK` or is not finite, the block is summed
    again (from L1) shifted by the new max, and the running sum rescaled. Row-updating kernel
    (reduced axis outer): per element, ``s = s * exp(fin(m) - fin(m')) + exp(x - fin(m'))`` with
    ``m' = max(m, x)``. 2000x2000 rows: 5.0 ms (max pass over the array, then exp pass) -> ~3.6 ms
    on one core."""
    km, ks = len(operands) - 2, len(operands) - 1
    loads, pre = {}, []
    for k, (o, sc) in enumerate(zip(operands[:km], scal[:km])):
        _load_input(k, K.c_type(o.dtype), sc, loads, pre)
    stmts, result = body(loads)
    if scal[ks]:
        inner = _lse_reduce(stmts, result, ct, fx, tg, _lse_prefetch(operands[:km], scal[:km]))
    else:
        inner = _lse_row_update(stmts, result, ct, fx, tg)
    lines = [f"EQ_KFN void {kname}(npy_intp n, char **p)", "{", *pre,
             f"{ct} *qm = ({ct} *)p[{km}], *qs = ({ct} *)p[{ks}];", *inner, "}"]
    return "\n".join(lines) + "\n"


def lse_short_source(kname, operands, scal, body, ct: str, fx: str, tg: str) -> str:
    """The short-row ``logsumexp`` kernel ``kname(rows, n, p)``: ``rows`` contiguous rows of ``n``
    elements (``n`` at most ``EQ_SHORT`` of the driver, :mod:`eqtensor.backends.c.driver`) in one
    call, vectorized across rows (each lane a row: its max, then its sum of ``exp(x - fin(max))``)
    rather than within a row. An input read as broadcast is one value; a contiguous one holds row
    ``r`` at ``r * n``; the running max and sum (the last two operands, contiguous, one per row)
    start at -inf and 0 and each row is reduced whole, so both are written once. NaN is skipped by
    the max and shows in the sum, as in :func:`lse_kernel_source` (1e5 rows of 8, float64: one call
    per row 1.9 ms, this kernel ~0.5 ms, one core)."""
    km, ks = len(operands) - 2, len(operands) - 1
    loads, pre = {}, []
    for k, (o, sc) in enumerate(zip(operands[:km], scal[:km])):
        _load_input(k, K.c_type(o.dtype), sc, loads, pre)
    stmts, result = body(loads)
    lines = [f"EQ_KFN void {kname}(npy_intp rows, npy_intp n, char **p)", "{", "npy_intp r, j;", *pre,
             f"{ct} *qm = ({ct} *)p[{km}], *qs = ({ct} *)p[{ks}];",
             "#pragma omp simd", "for (r = 0; r < rows; r++) {", f"{ct} mx = -INFINITY, sh, acc = 0;",
             "for (j = 0; j < n; j++) {", "const npy_intp i = r * n + j;", *stmts,
             f"const {ct} x = ({ct})({result}); mx = x > mx ? x : mx;", "}",
             f"sh = eq_fin_{tg}(mx);",
             "for (j = 0; j < n; j++) {", "const npy_intp i = r * n + j;", *stmts,
             f"acc += exp{fx}(({ct})({result}) - sh);", "}",
             "qm[r] = mx; qs[r] = acc;", "}", "}"]
    return "\n".join(lines) + "\n"


#: kernel lines per translation unit above which a module's kernels are split over several units
#: compiled in parallel (one per available core)
SPLIT_LINES = 1500


#: the optimization level of a module's kernels by their number (``(at most this many, level)``, then
#: :data:`OPT_MANY`): a big graph's many distinct kernels compile at a lower level (every level
#: vectorizes the ``omp simd`` loops; see docs/c-backend.md for the measurements)
OPT_LEVELS = ((32, "-O3"),)
OPT_MANY = "-O1"


def opt_level(n: int) -> str:
    """The optimization level of the kernels of a module with ``n`` distinct kernels.

    >>> opt_level(5), opt_level(500)
    ('-O3', '-O1')
    """
    return next((level for most, level in OPT_LEVELS if n <= most), OPT_MANY)


_MARKER = re.compile(r"/\* eqtensor kernel (-O\w) \*/\n")


def opt_marker(level: str) -> str:
    """The first line of a kernel's text naming the level it is compiled at (part of the kernel's
    identity: one text at two levels is two kernels)."""
    return f"/* eqtensor kernel {level} */\n"


def kernel_flags(flags, texts) -> list:
    """The compiler flags of a library of the kernels ``texts``: ``flags`` at the level their
    :func:`opt_marker` names (the kernels of one compile share it), else unchanged.

    >>> kernel_flags(["-O3", "-g"], [opt_marker("-O1") + "void f(void) {}"])
    ['-O1', '-g']
    """
    levels = {m.group(1) if (m := _MARKER.match(t)) else None for t in texts}
    if len(levels) != 1 or None in levels:
        return list(flags)
    (level,) = levels
    return [level if f == "-O3" else f for f in flags]


def jobs() -> int:
    """Cores this process may run compilers on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def split(kernels: list[str], n: int) -> list[list[str]]:
    """Kernels grouped into translation units: one, or up to ``n`` (balanced by line count) when
    they are longer than :data:`SPLIT_LINES`.

    >>> [len(u) for u in split([("x" + chr(10)) * 500] * 4, 2)]
    [2, 2]
    >>> [len(u) for u in split([("x" + chr(10)) * 500] * 2, 2)]
    [2]
    """
    if not kernels:
        return []
    lines = [k.count("\n") for k in kernels]
    n = max(1, min(n, -(-sum(lines) // SPLIT_LINES)))
    bins, weight = [[] for _ in range(n)], [0] * n
    for k, w in sorted(zip(kernels, lines), key=lambda kw: -kw[1]):
        j = weight.index(min(weight))
        bins[j].append(k)
        weight[j] += w
    return bins


def kernel_unit(kernels: list[str]) -> str:
    """The source of a translation unit holding ``kernels``."""
    return kernel_prelude() + "\n" + "\n".join(kernels)
