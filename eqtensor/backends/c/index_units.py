"""The C of the advanced indexing units: a scatter (``set_subtensor``/``inc_subtensor`` of a vector by
one index array: a loop kernel computing its value's fused producers) and the other forms on
adjacent integer arrays (the runtime's ``eq_adv``; :mod:`eqtensor.backends.c.indexing`).

Like :mod:`eqtensor.backends.c.units`, each ``unit_*`` function emits into an
:class:`~eqtensor.backends.c.emitter.Emitter` (``gen``).
"""

from __future__ import annotations

import numpy as np

from . import indexing as IX
from . import kernels as K
from . import loops as L
from .kernels import cstr
from .plan import loop_positions


def _leaves_of(members, root, pos) -> set:
    """The ids of the variables outside ``members`` that input ``pos`` of ``root`` is computed from
    (through the fused members, at their loop positions)."""
    produced = {id(m.out): m for m in members}
    out, todo = set(), [root.inputs[pos]]
    while todo:
        v = todo.pop()
        m = produced.get(id(v))
        if m is None:
            out.add(id(v))
            continue
        todo += [m.inputs[p] for p in loop_positions(m, "elem")]
    return out


def _side_members(members, root, pos) -> set:
    """The ids of the members input ``pos`` of ``root`` is computed from."""
    produced = {id(m.out): m for m in members}
    out, todo = set(), [root.inputs[pos]]
    while todo:
        m = produced.get(id(todo.pop()))
        if m is not None and id(m) not in out:
            out.add(id(m))
            todo += [m.inputs[p] for p in loop_positions(m, "elem")]
    return out


def unit_scatter(gen, members, node, reuse: bool):
    """``set_subtensor``/``inc_subtensor`` of a vector by one index array: the output is a copy of
    the vector (or the vector itself when it is dead), then a loop over the index positions
    computes the value (its fused producers ``members`` included) and stores or adds it."""
    x, y, i = node.inputs
    o = gen.slot_of(out := node.out)
    nd = i.ndim
    gen.emit("{ npy_intp sh[EQ_MAXD];")
    gen.fail(f"eq_scatter_base(V, {o}, {gen.slot_of(x)}, {K.typenum(out.dtype)}, "
             f"{np.dtype(out.dtype).itemsize}, {int(reuse)}) < 0")
    g = gen.group(members, nd, root=node)
    ins, extra, shape_ins, movers = gen.loop_operands(g, nd)
    # the index side gives the loop's shape; the value's leaves broadcast to it (NumPy rules)
    _index_shape(gen, g, members, node, ins, shape_ins, nd)
    _broadcast_value(gen, g, members, node, ins, nd)
    gen.shape(node.op.name, shape_ins, nd)
    gen.gather_glue(g, nd)
    info = gen.scratch(1)
    gen.fail(f"eq_index_info(&V[{info}], &V[{o}]) < 0")
    operands = ins + extra + [L.Operand(o, out.dtype, [None] * nd, "table"),
                              L.Operand(info, "int64", [None] * nd, "info")]
    inner = L.normalize(operands, nd, movers)
    scal = L.scalars(operands, inner, True)
    expr = gen.expr_body(members, g) if members else None

    def body(loads):
        stmts, local = [], {}
        if members:
            stmts, _ = expr(loads)
            local = {id(m.out): f"t{j}" for j, m in enumerate(members)}
        return stmts, gen.value_of(y, g, local, loads), gen.value_of(i, g, local, loads)

    tag = len(gen.kernels)
    gen.kernels.append(L.scatter_kernel_source(f"eq_k{tag}", operands, scal, body, node, len(operands) - 2,
                                               len(operands) - 1))
    gen.emit(f"{{ npy_intp z = 1; int d; for (d = 0; d < {nd}; d++) z *= sh[d]; if (z && V[{o}].shape[0] == 0) "
             f"{{ {_scatter_error(gen, g, node, i, info)} goto fail; }} }}")
    gen.call_loop(tag, operands, nd, "NULL", -1)
    gen.emit(f"if (((npy_int64 *)V[{info}].data)[2]) {{ {_scatter_error(gen, g, node, i, info)} goto fail; }}")
    g.release.append(info)
    gen.check_gathers(g)
    gen.emit("}")


def _index_shape(gen, g, members, node, ins, shape_ins, nd):
    """Emit the loop's shape ``sh`` from the operands of the index side of scatter ``node`` (its
    leaves, the dims of its fused allocs)."""
    ileaves = _leaves_of(members, node, 2)
    iside = _side_members(members, node, 2)
    iops = [op for op, v in zip(ins, g.leaves) if id(v) in ileaves]
    iops += [op for op, (_, _, m) in zip(shape_ins[len(ins):], g.shape_only) if id(m) in iside]
    gen.shape(node.op.name, iops, nd)


def _broadcast_value(gen, g, members, node, ins, nd):
    """Emit the views of the value side's leaves of scatter ``node`` broadcast to the loop's shape
    (the index shape), checked against its fused allocs' dims; the loop reads the views instead."""
    y = node.inputs[1]
    yleaves = _leaves_of(members, node, 1)
    yops = [(op, v) for op, v in zip(ins, g.leaves) if id(v) in yleaves]
    yside = _side_members(members, node, 1)
    ypseudo = [ps for ps, _, m in g.shape_only if id(m) in yside]
    if not (yops or ypseudo):
        return
    vn = y.ndim
    ws = [gen.scratch(nd) for _ in yops]
    dm = ", ".join(str(-1 if v.type.shape[d] == 1 else d) for _, v in yops for d in range(vn)) or "-1"
    tag = f"{len(gen.kernels)}_{len(gen.lines)}"
    lists = [", ".join(map(str, xs)) or "0" for xs in ([op.slot for op, _ in yops], ws, ypseudo)]
    gen.emit(f"{{ static const int l{tag}[] = {{{lists[0]}}}, w{tag}[] = {{{lists[1]}}}, "
             f"q{tag}[] = {{{lists[2]}}}; static const signed char m{tag}[] = {{{dm}}};")
    gen.fail(f"eq_bcast_leaves(V, \"{node.op.name}\", \"indexing result\", {vn}, {len(yops)}, l{tag}, w{tag}, "
             f"m{tag}, {len(ypseudo)}, q{tag}, {nd}, sh) < 0")
    gen.emit("}")
    for (op, _), w in zip(yops, ws):
        op.slot = w
    g.release += ws


def _scatter_error(gen, g, node, i, info) -> str:
    src = f"&V[{gen.slot_of(i)}]" if id(i) in g.index else "NULL"
    return (f"eq_index_error(\"{node.op.name}\", {src}, {K.typenum(i.dtype)}, "
            f"(npy_intp)((npy_int64 *)V[{info}].data)[0], 0);")


def unit_index(gen, node, reuse: bool):
    """Other advanced indexing on adjacent integer arrays: the runtime's ``eq_adv``."""
    a0, na = IX.adv_layout(node)
    name, x, out = node.op.name, node.inputs[0], node.out
    first = IX.INDEX_OPS[name]
    idx = node.inputs[first:]
    o, xs = gen.slot_of(out), gen.slot_of(x)
    bnd = max(i.ndim for i in idx)
    gen.maxd = max(gen.maxd, a0 + bnd + x.ndim - a0 - na)
    op = {"advanced_subtensor": 0, "set_subtensor": 1, "inc_subtensor": 2}[name]
    gen.emit("{ static const int isl[] = {" + ", ".join(str(gen.slot_of(i)) for i in idx) + "}, ityp[] = {"
             + ", ".join(str(K.typenum(i.dtype)) for i in idx) + "};")
    ys = -1
    release = []
    if op:
        y = node.inputs[1]
        ys = gen.slot_of(y)
        if y.dtype != x.dtype:
            c = gen.scratch(y.ndim)
            gen.fail(f"eq_astype(&V[{c}], &V[{ys}], {K.typenum(y.dtype)}, {K.typenum(x.dtype)}) < 0")
            ys = c
            release.append(c)
    gen.fail(f"eq_adv(V, {o}, {xs}, {ys}, {na}, isl, ityp, {a0}, {op}, {K.typenum(out.dtype)}, "
             f"{np.dtype(out.dtype).itemsize}, {int(reuse)}, {cstr(name)}) < 0")
    for c in release:
        gen.emit(f"Py_CLEAR(V[{c}].obj);")
    gen.emit("}")
