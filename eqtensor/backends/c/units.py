"""The C of one unit per mode: a fused elementwise loop, a reduction (its fused producers computed in
its input loop), a row op (softmax, log_softmax, argmax, argmin), a structural op, a NumPy fallback.

Each ``unit_*`` function emits into an :class:`~eqtensor.backends.c.emitter.Emitter` (``gen``) the
lines of its unit's C function and the loop kernels they call; the units of advanced indexing are
in :mod:`eqtensor.backends.c.index_units`.
"""

from __future__ import annotations

import functools

import numpy as np

from . import kernels as K
from . import loops as L
from . import rows as R
from .structural import STRUCTURAL


def _in_operand(slot: int, v, nd: int) -> L.Operand:
    """Input ``v`` of an ``nd``-d loop, broadcast along its axes of static length 1."""
    return L.Operand(slot, v.dtype, [None if v.type.shape[d] == 1 else d for d in range(nd)], "in")


def _load_only(loads):
    """The body of a reduction without fused producers: its input as loaded."""
    return [], loads[0]


#: members of a fused group that need glue around its loop (a gather's table checks, an alloc's dims)
_GLUE_OPS = ("advanced_subtensor", "alloc")


def elem_row(gen, program, members, reuse, releases, errors) -> int | None:
    """A fused elementwise group without gathers or allocs as a row of ``program`` (a
    :class:`~eqtensor.backends.c.unit_table.Program`; see :func:`unit_elemwise` for what it
    computes): returns its offset, or None for a group that needs a unit function. ``releases``:
    the slots read for the last time; ``errors()``: the operands a ``ValueError`` names."""
    if any(m.op.name in _GLUE_OPS for m in members):
        return None
    out = members[-1].out
    nd, o = out.ndim, gen.slot_of(out)
    g = gen.group(members, nd)
    ins, _, shape_ins, _ = gen.loop_operands(g, nd)
    shape_ops = [(op.slot, list(op.dims)) for op in shape_ins]
    operands = ins + [L.Operand(o, out.dtype, list(range(nd)), "out")]
    key = _kernel_key(members, g, operands)
    tag = gen.kernel_memo.get(key)
    if tag is None:
        tag = gen.kernel_memo[key] = gen.map_kernel(operands, nd, gen.expr_body(members, g))
    else:
        L.normalize(operands, nd)
    return program.elem(nd, f"eq_k{tag}", "+".join(m.op.name for m in members), shape_ops, o,
                        K.typenum(out.dtype), _reuse_candidates(ins, g, out, reuse),
                        [(op.slot, op.dims) for op in operands], [np.dtype(op.dtype).itemsize for op in operands],
                        releases, members[-1].op.name, errors())


def _kernel_key(members, g, operands) -> tuple:
    """What the kernel text of a fused group without gathers or allocs depends on: its operands'
    types, dimension maps and roles, and per member its op, dtypes and where each input comes from
    (an earlier member, a literal, a leaf); a big graph's repeated groups (a chain's steps) then
    write their kernel once (identical texts are merged anyway, see ``codegen.kernel_names``)."""
    local = {id(m.out): j for j, m in enumerate(members)}
    refs = lambda m: tuple(("t", local[id(i)]) if id(i) in local else ("c", g.literal[id(i)])  # noqa: E731
                           if id(i) in g.literal else ("l", g.index[id(i)]) for i in m.inputs)
    return (tuple((o.dtype, tuple(o.dims), o.role) for o in operands),
            tuple((m.op.name, tuple(i.dtype for i in m.inputs), m.out.dtype, refs(m)) for m in members))


def _reuse_candidates(ins, g, out, reuse) -> list[int]:
    """The slots of the leaves of ``reuse`` (ids) the output ``out`` may be written into."""
    return [op.slot for op, v in zip(ins, g.leaves) if id(v) in reuse and v.dtype == out.dtype
            and v.type.shape == out.type.shape]


def unit_elemwise(gen, members, reuse):
    """A fused elementwise group; its output may overwrite a dead input of ``reuse`` (ids)."""
    out = members[-1].out
    nd = out.ndim
    o = gen.slot_of(out)
    name = "+".join(m.op.name for m in members)
    tn = K.typenum(out.dtype)
    gen.emit("{ npy_intp sh[EQ_MAXD];")
    g = gen.group(members, nd)
    ins, extra, shape_ins, movers = gen.loop_operands(g, nd)
    cands = [str(c) for c in _reuse_candidates(ins, g, out, reuse)]
    gen.shape(name, shape_ins, nd)
    gen.gather_glue(g, nd)
    if cands:
        gen.emit(f"{{ static const int cand[] = {{{', '.join(cands)}}};")
        gen.fail(f"eq_make(V, {o}, {nd}, sh, {tn}, cand, {len(cands)}) < 0")
        gen.emit("}")
    else:
        gen.fail(f"eq_new(&V[{o}], {nd}, sh, {tn}) < 0")
    gen.loop(ins + extra + [L.Operand(o, out.dtype, list(range(nd)), "out")], nd, gen.expr_body(members, g),
             movers=movers)
    gen.check_gathers(g)
    gen.emit("}")


def unit_reduce(gen, members, node):
    """A reduction, computing its fused elementwise producers ``members`` in its input loop."""
    name, x, out = node.op.name, node.inputs[0], node.out
    nd, o = x.ndim, gen.slot_of(out)
    acc_dims, oshape = _acc_layout(node)
    gen.emit("{ npy_intp sh[EQ_MAXD], osh[EQ_MAXD], insize = 1, osize = 1, i; int d;")
    if members:
        g = gen.group(members, nd)
        ins, extra, shape_ins, movers = gen.loop_operands(g, nd)
        body = gen.expr_body(members, g)
    else:
        g, extra, movers = None, [], ()
        ins = shape_ins = [_in_operand(gen.slot_of(x), x, nd)]
        body = _load_only
    gen.shape(name, shape_ins, nd)
    if g is not None:
        gen.gather_glue(g, nd)
    _reduce_sizes(gen, name, nd, oshape)
    gen.fail(f"eq_new(&V[{o}], {len(oshape)}, osh, {K.typenum(out.dtype)}) < 0")
    if name == "logsumexp":
        _reduce_logsumexp(gen, ins + extra, acc_dims, o, out.dtype, len(oshape), body, movers)
    else:
        _reduce_combine(gen, name, ins + extra, acc_dims, o, out.dtype, body, movers)
    if g is not None:
        gen.check_gathers(g)
    gen.emit("}")


def _acc_layout(node):
    """A reduction's accumulator dims per input axis (None: reduced) and its output shape's C
    expressions (of the loop shape ``sh``)."""
    nd, axes, keep = node.inputs[0].ndim, node.op.params["axis"], node.op.params["keepdims"]
    kept = [d for d in range(nd) if d not in axes]
    acc_dims = [None if d in axes else (d if keep else kept.index(d)) for d in range(nd)]
    oshape = [f"({'1' if d in axes else f'sh[{d}]'})" for d in range(nd) if keep or d not in axes]
    return acc_dims, oshape


def unit_reduce_siblings(gen, members, roots):
    """Sum/prod reductions of one shape over the same axes in one pass (multi-output fusion, see
    :func:`~eqtensor.backends.c.plan.plan_units`): their fused producers ``members`` computed once
    per element, one accumulator per root of ``roots``."""
    nd = roots[-1].inputs[0].ndim
    _, oshape = _acc_layout(roots[-1])
    gen.emit("{ npy_intp sh[EQ_MAXD], osh[EQ_MAXD], insize = 1, osize = 1, i; int d;")
    g = gen.group(members, nd)
    produced = {id(m.out) for m in members}
    for r in roots:
        if id(r.inputs[0]) not in produced:
            g.add_leaf(gen, r.inputs[0])
    ins, extra, shape_ins, movers = gen.loop_operands(g, nd)
    gen.shape("+".join(r.op.name for r in roots), shape_ins, nd)
    gen.gather_glue(g, nd)
    _reduce_sizes(gen, roots[-1].op.name, nd, oshape)
    accs, types = [], []
    for r in roots:  # keepdims may differ: each output has its rank, the same elements
        o, ct = gen.slot_of(r.out), K.c_type(r.out.dtype)
        rdims, rshape = _acc_layout(r)
        for j, e in enumerate(rshape):
            gen.emit(f"osh[{j}] = {e};")
        gen.fail(f"eq_new(&V[{o}], {len(rshape)}, osh, {K.typenum(r.out.dtype)}) < 0")
        _fill(gen, o, ct, f"({ct})({K.REDUCE[r.op.name][0][K.kind(r.out.dtype)]})")
        accs.append(L.Operand(o, r.out.dtype, rdims, "acc"))
        types.append((ct, "+" if r.op.name == "sum" else "*"))

    def body(loads):
        local, stmts = {}, []
        for j, m in enumerate(members):
            stmts += gen.member_statements(m, g, local, loads, f"t{j}")
            local[id(m.out)] = f"t{j}"
        return stmts, [f"({ct})({gen.value_of(r.inputs[0], g, local, loads)})" for r, (ct, _) in zip(roots, types)]

    gen.loop_accs(ins + extra + accs, nd, body, types, movers)
    gen.check_gathers(g)
    gen.emit("}")


def _reduce_sizes(gen, name, nd, oshape):
    """Emit the output shape ``osh`` and the sizes ``insize``/``osize`` (``max``/``min`` of an
    empty axis is an error)."""
    for j, s in enumerate(oshape):
        gen.emit(f"osh[{j}] = {s};")
    gen.emit(f"for (d = 0; d < {nd}; d++) insize *= sh[d];")
    gen.emit(f"for (d = 0; d < {len(oshape)}; d++) osize *= osh[d];")
    if name in ("max", "min"):
        gen.emit(f"if (insize == 0 && osize > 0) {{ PyErr_SetString(PyExc_ValueError, \"{name}: zero-size "
                 f"reduction has no identity\"); goto fail; }}")


def _fill(gen, slot, ct, value):
    """Emit: every element of slot (``osize`` of C type ``ct``) set to ``value``."""
    gen.emit(f"{{ {ct} *q = ({ct} *)V[{slot}].data; for (i = 0; i < osize; i++) q[i] = {value}; }}")


def _reduce_combine(gen, name, ins, acc_dims, o, odt, body, movers=()):
    """A reduction by its :data:`~eqtensor.backends.c.kernels.REDUCE` combine expression: slot ``o``
    starts at the identity and accumulates the loop's values."""
    ident, comb = K.REDUCE[name]
    ct, logical = K.c_type(odt), name in ("all", "any")
    lo, hi = K.int_bounds(odt) if K.kind(odt) == "int" else ("0", "0")
    _fill(gen, o, ct, f"({ct})({ident[K.kind(odt)].format(lo=lo, hi=hi)})")

    def value(loads):
        stmts, res = body(loads)
        return stmts, f"(({res}) != 0)" if logical else f"({ct})({res})"

    pragma = {"sum": "reduction(+:acc)", "prod": "reduction(*:acc)"}.get(name)
    gen.loop(ins + [L.Operand(o, odt, list(acc_dims), "acc")], len(acc_dims), value,
             acc=(len(ins), "npy_bool" if logical else ct), comb=comb, pragma=pragma, movers=movers)


def _reduce_logsumexp(gen, ins, acc_dims, o, odt, ond, body, movers=()):
    """``logsumexp`` in one pass: a scratch slot of running maxima, slot ``o`` the running sums
    of ``exp(x - max)``, then ``o = log(o) + fin(max)``."""
    ct, fx, tg = K.c_type(odt), "f" if odt == "float32" else "", K.tag(odt)
    m = len(gen.vars)
    gen.vars.append(None)  # scratch slot for the maxima
    gen.fail(f"eq_new(&V[{m}], {ond}, osh, {K.typenum(odt)}) < 0")
    _fill(gen, m, ct, "-INFINITY")
    _fill(gen, o, ct, "0")
    accs = [L.Operand(m, odt, list(acc_dims), "acc"), L.Operand(o, odt, list(acc_dims), "acc")]
    gen.loop_lse(ins + accs, len(acc_dims), body, ct, fx, tg, movers)
    gen.emit(f"{{ {ct} *q = ({ct} *)V[{o}].data, *mm = ({ct} *)V[{m}].data;")
    gen.emit(f"for (i = 0; i < osize; i++) q[i] = log{fx}(q[i]) + eq_fin_{tg}(mm[i]); }}")
    gen.emit(f"Py_CLEAR(V[{m}].obj);")


def unit_rows(gen, members, node):
    """softmax/log_softmax/argmax/argmin over the node's axes (:mod:`~eqtensor.backends.c.rows`),
    computing the fused elementwise producers ``members`` in the row kernel's first pass."""
    name, x, out = node.op.name, node.inputs[0], node.out
    nd = x.ndim
    kept, red = R.row_axes(node)
    perm = kept + red
    o = gen.slot_of(out)
    gen.emit("{ npy_intp sh[EQ_MAXD], osh[EQ_MAXD]; int d;")
    if members:
        g = gen.group(members, nd, perm)
        ins, extra, shape_ins, movers = gen.loop_operands(g, nd)
        body = gen.expr_body(members, g)
    else:
        g, extra = None, []
        gen.maxd = max(gen.maxd, nd)
        ins = shape_ins = [L.Operand(gen.slot_of(x), x.dtype, [None if x.type.shape[a] == 1 else a for a in perm],
                                     "in")]
        body = _load_only
    gen.shape(name, shape_ins, nd)
    if g is not None:
        gen.gather_glue(g, nd)
    nk = len(kept)
    if name in ("softmax", "log_softmax"):
        odims = list(perm)
        for L_, a in enumerate(perm):
            gen.emit(f"osh[{a}] = sh[{L_}];")
        ond = nd
    else:
        keep = node.op.params["keepdims"]
        odims = [(a if keep else L_) if L_ < nk else None for L_, a in enumerate(perm)]
        ond = out.ndim
        for L_, a in enumerate(perm):
            if L_ < nk:
                gen.emit(f"osh[{a if keep else L_}] = sh[{L_}];")
            elif keep:
                gen.emit(f"osh[{a}] = 1;")
        if red:
            gen.emit(f"{{ npy_intp rows = 1, n = 1; for (d = 0; d < {nk}; d++) rows *= sh[d]; "
                     f"for (d = {nk}; d < {nd}; d++) n *= sh[d]; if (rows > 0 && n == 0) {{ "
                     f"PyErr_SetString(PyExc_ValueError, \"attempt to get {name} of an empty sequence\"); "
                     f"goto fail; }} }}")
    gen.fail(f"eq_new(&V[{o}], {ond}, osh, {K.typenum(out.dtype)}) < 0")
    operands = ins + extra + [L.Operand(o, out.dtype, odims, "out")]
    scal = [all(op.dims[L_] is None for L_ in range(nk, nd)) if op.role in ("in", "out") else True
            for op in operands]
    tag = len(gen.kernels)
    gen.kernels.append(R.row_kernel_source(f"eq_k{tag}", node, operands, scal, body))
    gen.emit("{ " + L.tables(operands, nd, str(tag)))
    gen.fail(f"eq_rows(V, eq_k{tag}, {nd}, {nk}, sh, {len(operands)}, sl{tag}, dm{tag}, sz{tag}) < 0")
    gen.emit("}")
    if g is not None:
        gen.check_gathers(g)
    gen.rows = True
    gen.emit("}")


def unit_struct(gen, node):
    """A structural op: the code of its :data:`~eqtensor.backends.c.structural.STRUCTURAL` entry."""
    entry = STRUCTURAL[node.op.name]
    o = gen.slot_of(node.out)
    gen.lines += entry.code(node, o, [gen.slot_of(i) for i in node.inputs])
    gen.blas = gen.blas or entry.blas


def unit_fallback(gen, node):
    """A call of the op's NumPy ``perform`` (a callable in ``state``) on views of its inputs."""
    defn = node.op.defn
    fn = functools.partial(defn.perform, **node.op.params) if node.op.params else defn.perform
    fi = len(gen.state)
    gen.state.append(fn)
    gen.fallback_ops.append(node.op.name)
    o = gen.slot_of(node.out)
    ins = [gen.slot_of(i) for i in node.inputs]
    n = len(ins)
    e = gen.emit
    e(f"{{ PyObject *a[{max(n, 1)}], *r; int j, bad = 0;")
    for j, (s, v) in enumerate(zip(ins, node.inputs)):
        e(f"a[{j}] = eq_output(&V[{s}], {K.typenum(v.dtype)}, 0); if (a[{j}] == NULL) bad = 1;")
    e(f"r = bad ? NULL : PyObject_Vectorcall(PyList_GET_ITEM(state, {fi}), a, {n}, NULL);")
    e(f"for (j = 0; j < {n}; j++) Py_XDECREF(a[j]);")
    gen.fail("r == NULL")
    gen.fail(f"eq_result(&V[{o}], r, {K.typenum(node.out.dtype)}, {node.out.ndim}, {K.cstr(node.op.name)}) < 0")
    e("}")
