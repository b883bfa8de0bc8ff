"""The emitter of one generated C module: value slots, the ``state`` list, loop kernels, fused groups.

:class:`Emitter` holds what the unit emitters (:mod:`eqtensor.backends.c.units`,
:mod:`eqtensor.backends.c.index_units`) share: the slot of each value, the lines of the unit being
generated, the loop kernels (:mod:`eqtensor.backends.c.loops`) and the operands of a fused group
(:class:`Group`: its leaves, literals, fused gathers and allocs). :mod:`eqtensor.backends.c.codegen`
assembles the module from it.

>>> from eqtensor import tensor as pt
>>> from eqtensor.core.fgraph import FunctionGraph
>>> from eqtensor.backends.schedule import make_schedule
>>> x = pt.dvector("x")
>>> e = pt.exp(x)
>>> gen = Emitter(make_schedule(FunctionGraph([x], [e], 1, 1)))
>>> g = gen.group([e.owner], 1)
>>> [v.name for v in g.leaves], gen.slot_of(x), gen.slot_of(e)
(['x'], 0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import indexing as IX
from . import kernels as K
from . import loops as L
from .plan import classify, elem_compute, is_literal, loop_positions
from .toolchain import threads


def _elem_statement(node, args, local: str) -> str:
    """``const <type> <local> = <the node's template over the C expressions args>;``, each operand
    converted to the compute type first unless its kernel keeps its own type (``own``, the
    condition of ``switch``)."""
    comp, tpl = elem_compute(node)
    compute = K.ELEMWISE[node.op.name].compute
    cty = K.c_type(comp)
    args = [f"(({cty})({a}))" if compute in ("out", "common") or (compute == "switch" and pos > 0) else a
            for pos, a in enumerate(args)]
    ex = tpl.format(*args, T=cty, f="f" if comp == "float32" else "", t=K.tag(comp))
    ot = K.c_type(node.out.dtype)
    if node.out.dtype == "bool":  # an int local: GCC 12 vectorizes no loop converting an npy_bool to float
        return f"const int {local} = (({ex}) != 0);"
    return f"const {ot} {local} = ({ot})({ex});"


@dataclass
class Group:
    """The operands of a fused loop (:meth:`Emitter.group`): its leaves (in order, ``index``: id ->
    operand position), literal scalars and alloc values (``literal``: id -> C literal), the fused
    gathers (``tables``: id -> (table position, info position, info slot)) and allocs (their
    broadcast value views: ``views`` id -> (slot, value), ``view_pos`` id -> operand position; dims:
    the ``shape_only`` slots), the loop axis order ``perm``, and the scratch slots to release."""

    perm: list
    leaves: list = field(default_factory=list)
    index: dict = field(default_factory=dict)
    literal: dict = field(default_factory=dict)
    gathers: list = field(default_factory=list)
    allocs: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    views: dict = field(default_factory=dict)
    view_pos: dict = field(default_factory=dict)
    shape_only: list = field(default_factory=list)
    release: list = field(default_factory=list)
    seen: set = field(default_factory=set)  # ids of the leaves and literals

    def add_leaf(self, gen, v):
        if id(v) in self.seen:
            return
        self.seen.add(id(v))
        if is_literal(v):
            self.literal[id(v)] = K.literal(v.data.reshape(()).item(), v.dtype)
        else:
            self.leaves.append(v)


class Emitter:
    """The generator of one schedule's module: slots, ``state``, the unit functions, the kernels."""

    def __init__(self, schedule):
        self.s = schedule
        self.out_ids = {id(o) for o in schedule.outputs}
        self.slot: dict[int, int] = {}
        self.vars: list = []
        # state[0]: the function's thread count (config.num_threads, resolved now); state[1]: its
        # buffer cache (a list made on the first call, see eq_new); state[2]: the address of its C
        # entries' record (set when the module is loaded); then constants and fallback callables
        self.state: list = [threads(), None, None]
        self.lines: list[str] = []
        self.fallback_ops: list[str] = []
        self.funcs: list[str] = []
        self.kernels: list[str] = []
        self.kernel_memo: dict = {}  # a plain elementwise group's kernel key -> its kernel's position
        self.calls: list[str] = []
        self.blas = False
        self.rows = False  # the function uses the row driver (eq_rows)
        self.index = False  # the function uses the indexing runtime (eq_adv, index errors)
        self.maxd = 1  # the largest rank of a loop or an indexing result (beyond the slots' ranks)

    # ------------------------------------------------------------------ slots
    def slot_of(self, v) -> int:
        k = self.slot.get(id(v))
        if k is None:
            k = self.slot[id(v)] = len(self.vars)
            self.vars.append(v)
        return k

    def emit(self, line: str):
        self.lines.append(line)

    def fail(self, cond: str):
        self.emit(f"if ({cond}) goto fail;")

    # ------------------------------------------------------------------ loops
    def shape(self, name, ins, nd):
        """Emit the run-time iteration shape ``sh`` from the input operands (broadcast checks)."""
        tag = f"s{len(self.kernels)}_{len(self.lines)}"
        sl = ", ".join(str(o.slot) for o in ins) or "0"
        dm = ", ".join(str(-1 if d is None else d) for o in ins for d in o.dims) or "-1"
        self.emit(f"{{ static const int sl{tag}[] = {{{sl}}}; static const signed char dm{tag}[] = {{{dm}}};")
        self.fail(f"eq_shape(V, {K.cstr(name)}, {nd}, {len(ins)}, sl{tag}, dm{tag}, sh) < 0")
        self.emit("}")

    def call_loop(self, tag, operands, nd, km, ka):
        """Emit the operand tables of kernel ``eq_k<tag>`` and the ``eq_loop`` call running it
        (``km``: the row-updating kernel or ``NULL``, ``ka``: the first accumulator operand or -1)."""
        self.emit("{ " + L.tables(operands, nd, str(tag)))
        self.fail(f"eq_loop(V, eq_k{tag}, {km}, {nd}, sh, {len(operands)}, sl{tag}, dm{tag}, sz{tag}, {ka}) < 0")
        self.emit("}")

    def loop_lse(self, operands, nd, body, ct, fx, tg, movers=()):
        """A one-pass logsumexp loop: operands end with the running max and sum accumulators (fresh:
        -inf and 0). ``eq_loop_short`` runs its short-row kernel when the reduced axis is short and
        the rows contiguous, else ``eq_loop``."""
        inner = L.normalize(operands, nd, movers)
        tag = len(self.kernels)
        for name, red in ((f"eq_k{tag}", True), (f"eq_k{tag}m", False)):
            self.kernels.append(L.lse_kernel_source(name, operands, L.scalars(operands, inner, red), body, ct,
                                                    fx, tg))
        self.kernels.append(L.lse_short_source(f"eq_k{tag}r", operands, L.scalars(operands, inner, True), body, ct,
                                               fx, tg))
        self.emit("{ " + L.tables(operands, nd, str(tag)))
        self.fail(f"eq_loop_short(V, eq_k{tag}r, eq_k{tag}, eq_k{tag}m, {nd}, sh, {len(operands)}, sl{tag}, dm{tag}, "
                  f"sz{tag}, {len(operands) - 2}) < 0")
        self.emit("}")

    def loop(self, operands, nd, body, acc=None, comb=None, pragma="simd", movers=()):
        """Emit the kernel(s) of a loop nest over ``sh`` and the ``eq_loop`` call running them.

        ``operands``: :class:`~eqtensor.backends.c.loops.Operand` list, the written one last.
        ``body(loads)`` returns the statements computing ``res``; ``acc``/``comb`` describe a
        reduction (a reducing kernel and a row-updating kernel are generated); ``movers``: the
        dimension maps of the loop's shape-only operands (:meth:`group`)."""
        if acc is None:
            self.call_loop(self.map_kernel(operands, nd, body, movers), operands, nd, "NULL", -1)
            return
        inner = L.normalize(operands, nd, movers)
        tag = len(self.kernels)
        self.kernels.append(L.kernel_source(f"eq_k{tag}", operands, L.scalars(operands, inner, True), body, acc,
                                            comb, pragma))
        self.kernels.append(L.kernel_source(f"eq_k{tag}m", operands, L.scalars(operands, inner, False), body, acc,
                                            comb, pragma))
        self.call_loop(tag, operands, nd, f"eq_k{tag}m", acc[0])

    def map_kernel(self, operands, nd, body, movers=()) -> int:
        """The kernel of an elementwise loop nest (see :meth:`loop`; the operands' dims normalized in
        place): its position ``tag`` (the kernel is ``eq_k<tag>``)."""
        inner = L.normalize(operands, nd, movers)
        self.kernels.append(L.kernel_source(f"eq_k{len(self.kernels)}", operands, L.scalars(operands, inner, True),
                                            body))
        return len(self.kernels) - 1

    def loop_accs(self, operands, nd, body, accs, movers=()):
        """Several sum/prod reductions in one loop: ``operands`` end with their accumulators (one
        layout), ``accs`` gives each one's (C type, operator), ``body`` one result each (see
        :func:`~eqtensor.backends.c.loops.accs_kernel_source`)."""
        inner = L.normalize(operands, nd, movers)
        tag, first = len(self.kernels), len(operands) - len(accs)
        for name, red in ((f"eq_k{tag}", True), (f"eq_k{tag}m", False)):
            self.kernels.append(L.accs_kernel_source(name, operands, L.scalars(operands, inner, red), body, first,
                                                     accs))
        self.call_loop(tag, operands, nd, f"eq_k{tag}m", first)

    # ------------------------------------------------------------------ fused groups
    def scratch(self, nd: int = 0) -> int:
        """A new slot for the unit's own use (released by the unit)."""
        self.vars.append(None)
        self.maxd = max(self.maxd, nd)
        return len(self.vars) - 1

    def group(self, members, nd, perm=None, root=None) -> "Group":
        """The loop of a fused group over ``nd`` axes: ``members`` (elementwise ops, gathers of
        vectors, allocs) in order; ``root`` (a row op or a scatter) reads their values, or the
        group's leaves directly. Loop axis ``L`` is axis ``perm[L]`` of the group's values (all of
        rank ``nd``). Emits the glue that must precede the loop's shape computation (an alloc's dims,
        the broadcast views of its value) and returns the :class:`Group`."""
        perm = list(range(nd)) if perm is None else perm
        self.maxd = max(self.maxd, nd)
        g = Group(perm=perm)
        produced = {id(m.out) for m in members}
        mode_of = {id(m): "elem" for m in members}
        if root is not None:
            mode_of[id(root)] = classify(root)
        for m in members + ([root] if root is not None else []):
            loop_pos = loop_positions(m, mode_of[id(m)])
            for pos, i in enumerate(m.inputs):
                if pos in loop_pos and id(i) not in produced:
                    g.add_leaf(self, i)
            if m.op.name == "advanced_subtensor" and m is not root:
                g.gathers.append(m)
            elif m.op.name == "alloc" and m is not root:
                g.allocs.append(m)
        self.alloc_glue(g, nd)
        return g

    def alloc_glue(self, g, nd):
        """Emit, for each fused alloc: its dims into a shape-only slot (an operand of the loop's shape,
        checked against the other operands' lengths), and a view of its value broadcast to them."""
        for m in g.allocs:
            an = m.out.ndim
            ps = self.scratch(an)
            g.shape_only.append((ps, an, m))
            self.emit(f"V[{ps}].nd = {an};")
            for j, v in enumerate(m.inputs[1:]):
                if is_literal(v):
                    self.emit(f"V[{ps}].shape[{j}] = (npy_intp){int(v.data.reshape(()).item())}LL;")
                else:
                    s = self.slot_of(v)
                    self.emit(f"V[{ps}].shape[{j}] = (npy_intp)*(const {K.c_type(v.dtype)} *)V[{s}].data;")
                    if v.dtype == "uint64":
                        self.emit(f"if (*(const npy_uint64 *)V[{s}].data > (npy_uint64)NPY_MAX_INTP) "
                                  f"V[{ps}].shape[{j}] = -1;")
                self.emit(f"if (V[{ps}].shape[{j}] < 0) {{ PyErr_Format(PyExc_ValueError, \"alloc: negative "
                          f"dimension %zd\", (Py_ssize_t)V[{ps}].shape[{j}]); goto fail; }}")
            v = m.inputs[0]
            if is_literal(v):
                g.literal[id(m)] = K.literal(v.data.reshape(()).item(), v.dtype)
                continue
            vs, ws = self.slot_of(v), self.scratch(v.ndim)
            dm = ", ".join(str(-1 if v.type.shape[d] == 1 else d) for d in range(v.ndim)) or "-1"
            tag = f"{len(self.kernels)}_{len(self.lines)}"
            self.emit(f"{{ static const int l{tag}[] = {{{vs}}}, w{tag}[] = {{{ws}}}; "
                      f"static const signed char m{tag}[] = {{{dm}}};")
            self.fail(f"eq_bcast_leaves(V, \"alloc\", \"shape\", {v.ndim}, 1, l{tag}, w{tag}, m{tag}, 0, NULL, "
                      f"{an}, V[{ps}].shape) < 0")
            self.emit("}")
            g.views[id(m)] = (ws, v)
            g.release.append(ws)

    def loop_operands(self, g, nd):
        """The group's loop operands (leaves, alloc value views, then each gather's table and info)
        and the operands of its shape (those plus the allocs' dims)."""
        off = lambda v: nd - v.ndim  # noqa: E731  (values right-aligned to the loop's rank)
        ins = []
        for v in g.leaves:
            dims = [None if g.perm[L_] - off(v) < 0 or v.type.shape[g.perm[L_] - off(v)] == 1
                    else g.perm[L_] - off(v) for L_ in range(nd)]
            g.index[id(v)] = len(ins)
            ins.append(L.Operand(self.slot_of(v), v.dtype, dims, "in"))
        for m in g.allocs:
            if id(m) in g.views:
                ws, v = g.views[id(m)]
                dims = [None if g.perm[L_] - off(v) < 0 or v.type.shape[g.perm[L_] - off(v)] == 1
                        else g.perm[L_] - off(v) for L_ in range(nd)]
                g.view_pos[id(m)] = len(ins)
                ins.append(L.Operand(ws, v.dtype, dims, "in"))
        extra = []
        for m in g.gathers:
            t = m.inputs[0]
            info = self.scratch(1)
            g.tables[id(m)] = (len(ins) + len(extra), len(ins) + len(extra) + 1, info)
            extra += [L.Operand(self.slot_of(t), t.dtype, [None] * nd, "table"),
                      L.Operand(info, "int64", [None] * nd, "info")]
            g.release.append(info)
        movers = [[None if g.perm[L_] - (nd - an) < 0 else g.perm[L_] - (nd - an) for L_ in range(nd)]
                  for _, an, _ in g.shape_only]
        shape_ins = ins + [L.Operand(ps, "int64", list(dims), "in") for (ps, _, _), dims in zip(g.shape_only, movers)]
        return ins, extra, shape_ins, movers

    def gather_glue(self, g, nd):
        """Emit after the loop's shape ``sh``: each gather's info (its vector's length and stride), and
        the error of a non-empty loop reading an empty vector."""
        for m in g.gathers:
            _, _, info = g.tables[id(m)]
            t = self.slot_of(m.inputs[0])
            self.fail(f"eq_index_info(&V[{info}], &V[{t}]) < 0")
            self.emit(f"{{ npy_intp z = 1; int d; for (d = 0; d < {nd}; d++) z *= sh[d]; "
                      f"if (z && V[{t}].shape[0] == 0) {{ {self.index_error(g, m, info)} goto fail; }} }}")

    def index_error(self, g, m, info) -> str:
        """The C statement raising the IndexError of gather ``m`` (NumPy's message when its index is a
        leaf of the loop)."""
        i = m.inputs[1]
        src = f"&V[{self.slot_of(i)}]" if id(i) in g.index and not is_literal(i) else "NULL"
        return (f"eq_index_error(\"{m.op.name}\", {src}, {K.typenum(i.dtype)}, "
                f"(npy_intp)((npy_int64 *)V[{info}].data)[0], 0);")

    def check_gathers(self, g):
        """Emit after the loop: the out-of-range check of each gather, then the release of the unit's
        scratch slots."""
        for m in g.gathers:
            _, _, info = g.tables[id(m)]
            self.emit(f"if (((npy_int64 *)V[{info}].data)[2]) {{ {self.index_error(g, m, info)} goto fail; }}")
        for s in g.release:
            self.emit(f"Py_CLEAR(V[{s}].obj);")

    def expr_body(self, members, g):
        """``body(loads)`` for :meth:`loop`: statements computing each member node in a local
        ``t<j>`` (its inputs: earlier locals, literals, or the loads of the leaves), and the last."""

        def body(loads):
            local: dict[int, str] = {}
            stmts = []
            for j, node in enumerate(members):
                stmts += self.member_statements(node, g, local, loads, f"t{j}")
                local[id(node.out)] = f"t{j}"
            return stmts, f"t{len(members) - 1}"

        return body

    def value_of(self, v, g, local, loads) -> str:
        """The C expression of a value read by a fused member: an earlier member's local, a literal,
        or a leaf's load."""
        return local.get(id(v)) or g.literal.get(id(v)) or loads[g.index[id(v)]]

    def member_statements(self, node, g, local, loads, name) -> list[str]:
        """The statements computing member ``node`` of a fused group into the local ``name``."""
        if node.op.name == "advanced_subtensor":
            tk, ik, _ = g.tables[id(node)]
            return IX.gather_statement(node, self.value_of(node.inputs[1], g, local, loads), tk, ik, name)
        if node.op.name == "alloc":
            val = g.literal.get(id(node)) or loads[g.view_pos[id(node)]]
            return [f"const {K.c_type(node.out.dtype)} {name} = {val};"]
        return [_elem_statement(node, [self.value_of(i, g, local, loads) for i in node.inputs], name)]
