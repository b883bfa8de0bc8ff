"""C code generation: one C function per compiled graph, called once per call.

The generated ``eq_thunk(state, args, nargs)`` is a CPython ``METH_FASTCALL`` function: it checks
its arguments (ndarray, dtype, rank, static shape), computes every shape at run time from the
input shapes, allocates intermediates and outputs with NumPy's allocator, runs one loop nest per
fused elementwise group (or reduction with its fused producers), emits the structural ops from
their table (:mod:`eqtensor.backends.c.structural`: views for dimshuffle/reshape without copying,
shape ops, alloc, SciPy's BLAS for ``dot``/``gemm``/…), and calls an op's NumPy ``perform`` for
nodes without a C kernel (:data:`~eqtensor.backends.c.kernels.FALLBACK`, float16/complex dtypes).
``state`` is a per-function list holding constants and those fallback callables.

>>> from eqtensor import tensor as pt
>>> from eqtensor.core.fgraph import FunctionGraph
>>> from eqtensor.backends.schedule import make_schedule
>>> x = pt.dvector("x")
>>> g = generate(make_schedule(FunctionGraph([x], [pt.exp(x) + 1], 1, 1)))
>>> "exp(" in g.source and g.n_fallbacks
0
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ...core.op import OPS
from ..fusion import fusion_groups
from . import indexing as IX
from . import kernels as K
from . import loops as L
from . import rows as R
from .build import threads
from .prelude import KERNEL_EXTERN, prelude
from .structural import STRUCTURAL, struct_ok


@dataclass
class Generated:
    source: str  # the module's C source (prelude + thunk + entry)
    parts: list  # sources of further translation units (loop kernels) linked into the module
    state: list  # the thread count, then constants and fallback callables, in slot order
    n_fallbacks: int
    fallback_ops: list  # names of the nodes that run through NumPy
    blas: bool


def _cstr(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def elem_compute(node):
    """(compute dtype, template) when the elementwise node has a C kernel, else None."""
    kern = K.ELEMWISE.get(node.op.name)
    dts = [i.dtype for i in node.inputs] + [node.out.dtype]
    if kern is None or any(d not in K.C_TYPES for d in dts):
        return None
    if kern.compute == "common":
        comp = np.result_type(*[np.dtype(i.dtype) for i in node.inputs]).name
        if comp not in K.C_TYPES:
            return None
    elif kern.compute == "own":
        comp = node.inputs[0].dtype if node.op.name in ("isnan", "isinf") else node.out.dtype
    else:
        comp = node.out.dtype
    tpl = kern.templates.get(K.kind(comp))
    return None if tpl is None else (comp, tpl)


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
    ex = f"(npy_bool)(({ex}) != 0)" if node.out.dtype == "bool" else f"({ot})({ex})"
    return f"const {ot} {local} = {ex};"


def reduce_ok(node) -> bool:
    """True when the reduction has a C kernel for its dtypes."""
    spec = K.REDUCE.get(node.op.name)
    dts = (node.inputs[0].dtype, node.out.dtype)
    return spec is not None and all(d in K.C_TYPES for d in dts) and K.kind(node.out.dtype) in spec[0]


def alloc_fusible(node) -> bool:
    """``alloc(value, *dims)`` as an elementwise op of the loops (the value broadcast to the loop):
    native dtypes, integer dims."""
    return node.op.name == "alloc" and node.out.dtype in K.C_TYPES and node.inputs[0].dtype == node.out.dtype \
        and STRUCTURAL["alloc"].ok(node)


def classify(node) -> str:
    """How a node is generated: ``elem`` (in a fused elementwise loop: elementwise ops, the gather
    ``x[idx]`` of a vector, ``alloc``), ``reduce``, ``rows`` (softmax, log_softmax, argmax, argmin:
    :mod:`~eqtensor.backends.c.rows`), ``scatter`` (``set/inc_subtensor`` of a vector by one index
    array: a loop kernel), ``index`` (other advanced indexing on adjacent integer arrays: the
    runtime's ``eq_adv``), ``struct`` (an entry of
    :data:`~eqtensor.backends.c.structural.STRUCTURAL`) or ``fallback`` (NumPy)."""
    kind = node.op.defn.kind
    if kind == "elemwise" and elem_compute(node) is not None:
        return "elem"
    if IX.gather1_ok(node) or alloc_fusible(node):
        return "elem"
    if kind == "reduce" and reduce_ok(node):
        return "reduce"
    if R.rows_ok(node):
        return "rows"
    if IX.scatter1_ok(node):
        return "scatter"
    if IX.adv_layout(node) is not None:
        return "index"
    if struct_ok(node):
        return "struct"
    return "fallback"


def loop_positions(node, mode: str) -> tuple:
    """The input positions a unit of ``mode`` rooted at (or computing) ``node`` reads elementwise in
    its loop — where a fused producer may be computed — as opposed to the table of a gather, the
    array a scatter copies, the value and dims of an alloc (read by the unit's glue)."""
    name = node.op.name
    if mode == "elem" and name == "advanced_subtensor":
        return (1,)
    if mode == "elem" and name == "alloc":
        return ()
    if mode == "scatter":
        return (1, 2)
    if mode in ("index", "struct", "fallback"):
        return ()
    return tuple(range(len(node.inputs)))


def _is_literal(v) -> bool:
    return hasattr(v, "data") and v.owner is None and v.data.size == 1 and v.dtype in K.C_TYPES \
        and not hasattr(v, "container")


def _in_operand(slot: int, v, nd: int) -> L.Operand:
    """Input ``v`` of an ``nd``-d loop, broadcast along its axes of static length 1."""
    return L.Operand(slot, v.dtype, [None if v.type.shape[d] == 1 else d for d in range(nd)], "in")


def _load_only(loads):
    """The body of a reduction without fused producers: its input as loaded."""
    return [], loads[0]


@dataclass
class Group:
    """The operands of a fused loop (:meth:`_Gen.group`): its leaves (in order, ``index``: id ->
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

    def add_leaf(self, gen, v):
        if id(v) in self.literal or any(v is w for w in self.leaves):
            return
        if _is_literal(v):
            self.literal[id(v)] = K.literal(v.data.reshape(()).item(), v.dtype)
        else:
            self.leaves.append(v)


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


def _alloc_blocks_scatter(ms) -> bool:
    """A group holding an alloc of a non-literal value is not computed inside a scatter's loop (the
    value's broadcast view would have to follow the index shape too)."""
    return any(m.op.name == "alloc" and not _is_literal(m.inputs[0]) for m in ms)


@dataclass
class Plan:
    """A schedule's nodes grouped into *units*, each generated as one C function.

    ``units``: the node index of each unit's root, in order; ``members[u]``: the nodes of unit
    ``u`` (its fused producers, then the root); ``mode[k]``: how node ``k`` is generated
    (:func:`classify`); ``reads[u]``: the variables unit ``u`` reads; ``last[id(v)]``: the position
    of the last unit reading ``v``."""

    units: list
    members: dict
    mode: dict
    reads: dict
    last: dict


def plan_units(nodes, outputs) -> Plan:
    """Classify the nodes and fuse elementwise chains (into each other and into reductions)."""
    mode = {k: classify(node) for k, node in enumerate(nodes)}
    idx = {id(n): k for k, n in enumerate(nodes)}
    def absorbs(n):
        m = mode[idx[id(n)]]
        return (m == "reduce" and n.op.name != "logsumexp") or m in ("rows", "scatter")

    groups = fusion_groups(nodes, outputs, lambda n: mode[idx[id(n)]] == "elem", absorbs,
                           lambda n, pos: pos in loop_positions(n, mode[idx[id(n)]]))
    members: dict[int, list] = {}
    for k, node in enumerate(nodes):
        members.setdefault(groups[k], []).append(node)
    for u, ms in list(members.items()):
        # a scatter broadcasts its value's leaves to the index shape; an alloc's loop length would
        # not follow: such a group is not fused
        if mode[u] == "scatter" and _alloc_blocks_scatter(ms[:-1]):
            for m in ms[:-1]:
                k = idx[id(m)]
                groups[k] = k
                members[k] = [m]
            members[u] = [ms[-1]]
    dissolved = _recompute_cheap(nodes, outputs, mode, members, idx)
    units = [k for k in range(len(nodes)) if groups[k] == k and k not in dissolved]
    reads: dict[int, list] = {}
    for u in units:
        produced = {id(m.out) for m in members[u]}
        reads[u] = [i for m in members[u] for i in m.inputs if id(i) not in produced]
    last = {id(i): pos for pos, u in enumerate(units) for i in reads[u]}
    return Plan(units, members, mode, reads, last)


#: a materialized elementwise value is recomputed in each of its consumers' loops instead when its
#: fused group costs at most this much arithmetic per element (the ops' ``cost``: add/mul 1, exp 10)
RECOMPUTE_COST = 12
#: and the consumers' groups stay below this many nodes
RECOMPUTE_MAX_NODES = 64


def _recompute_cheap(nodes, outputs, mode, members, idx) -> set:
    """Dissolve cheap elementwise groups read by several loops into each reader: a value (not an
    output) whose group costs at most :data:`RECOMPUTE_COST` per element and whose every consumer
    computes it in a loop (an elementwise node of its shape, or a reduction/row op/scatter at a loop
    input) is recomputed there instead of being written and read back, when the reads of its leaves
    cost no more memory traffic than materializing it: ``L (k - 1) <= k + 1`` for ``L`` full-size
    leaves read by ``k`` consumer loops. Processed producers first, so chains dissolve in turn.
    Updates ``members`` (a node may now belong to several groups); returns the dissolved roots."""
    out_ids = {id(o) for o in outputs}
    group_of = {id(m): u for u, ms in members.items() for m in ms}
    readers: dict[int, list] = {}
    for c in nodes:
        for pos, i in enumerate(c.inputs):
            readers.setdefault(id(i), []).append((c, pos))
    dissolved: set = set()
    for u in sorted(members):
        ms = members[u]
        p = ms[-1]
        if mode[u] != "elem" or id(p.out) in out_ids or u in dissolved or idx.get(id(p)) != u:
            continue
        if sum(OPS[m.op.name].cost for m in ms) > RECOMPUTE_COST:
            continue
        targets, ok = set(), True
        for c, pos in readers.get(id(p.out), []):
            r = group_of.get(id(c))
            rm = mode[r] if r is not None else None
            if r is None or r in dissolved or pos not in loop_positions(c, rm if c is members[r][-1] else "elem"):
                ok = False
            elif c is not members[r][-1] or rm == "elem":
                ok = ok and c.out.type.shape == p.out.type.shape and (rm != "scatter" or not _alloc_blocks_scatter(ms))
            else:
                ok = ok and rm in ("reduce", "rows", "scatter") and (rm != "scatter" or not _alloc_blocks_scatter(ms)) \
                    and (rm != "reduce" or c.op.name != "logsumexp")
            targets.add(r)
        if not ok or not targets or any(len(members[r]) + len(ms) > RECOMPUTE_MAX_NODES for r in targets):
            continue
        produced = {id(m.out) for m in ms}
        full = {id(i) for m in ms for pos, i in enumerate(m.inputs) if id(i) not in produced
                and pos in loop_positions(m, "elem") and not _is_literal(i) and i.type.shape == p.out.type.shape}
        k = len(targets)
        if len(full) * (k - 1) > k + 1:
            continue
        for r in targets:
            have = {id(m) for m in members[r]}
            members[r] = sorted(members[r] + [m for m in ms if id(m) not in have], key=lambda m: idx[id(m)])
        dissolved.add(u)
    return dissolved


class _Gen:
    """The generator of one schedule's module: slots, ``state``, the unit functions, the kernels."""

    def __init__(self, schedule):
        self.s = schedule
        self.out_ids = {id(o) for o in schedule.outputs}
        self.slot: dict[int, int] = {}
        self.vars: list = []
        # state[0]: the function's thread count (config.num_threads, resolved now); state[1]: its
        # buffer cache (a list made on the first call, see eq_new); then constants and fallback
        # callables
        self.state: list = [threads(), None]
        self.lines: list[str] = []
        self.fallback_ops: list[str] = []
        self.funcs: list[str] = []
        self.kernels: list[str] = []
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
        self.fail(f"eq_shape(V, {_cstr(name)}, {nd}, {len(ins)}, sl{tag}, dm{tag}, sh) < 0")
        self.emit("}")

    def call_loop(self, tag, operands, nd, km, ka):
        """Emit the operand tables of kernel ``eq_k<tag>`` and the ``eq_loop`` call running it
        (``km``: the row-updating kernel or ``NULL``, ``ka``: the first accumulator operand or -1)."""
        self.emit("{ " + L.tables(operands, nd, str(tag)))
        self.fail(f"eq_loop(V, eq_k{tag}, {km}, {nd}, sh, {len(operands)}, sl{tag}, dm{tag}, sz{tag}, {ka}) < 0")
        self.emit("}")

    def loop_lse(self, operands, nd, body, ct, fx, tg, movers=()):
        """A one-pass logsumexp loop: operands end with the running max and sum accumulators."""
        inner = L.normalize(operands, nd, movers)
        tag = len(self.kernels)
        for name, red in ((f"eq_k{tag}", True), (f"eq_k{tag}m", False)):
            self.kernels.append(L.lse_kernel_source(name, operands, L.scalars(operands, inner, red), body, ct,
                                                    fx, tg))
        self.call_loop(tag, operands, nd, f"eq_k{tag}m", len(operands) - 2)

    def loop(self, operands, nd, body, acc=None, comb=None, pragma="simd", movers=()):
        """Emit the kernel(s) of a loop nest over ``sh`` and the ``eq_loop`` call running them.

        ``operands``: :class:`~eqtensor.backends.c.loops.Operand` list, the written one last.
        ``body(loads)`` returns the statements computing ``res``; ``acc``/``comb`` describe a
        reduction (a reducing kernel and a row-updating kernel are generated); ``movers``: the
        dimension maps of the loop's shape-only operands (:meth:`group`)."""
        inner = L.normalize(operands, nd, movers)
        tag = len(self.kernels)
        self.kernels.append(L.kernel_source(f"eq_k{tag}", operands, L.scalars(operands, inner, True), body, acc,
                                            comb, pragma))
        if acc is None:
            self.call_loop(tag, operands, nd, "NULL", -1)
            return
        self.kernels.append(L.kernel_source(f"eq_k{tag}m", operands, L.scalars(operands, inner, False), body, acc,
                                            comb, pragma))
        self.call_loop(tag, operands, nd, f"eq_k{tag}m", acc[0])

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
                if _is_literal(v):
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
            if _is_literal(v):
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
        src = f"&V[{self.slot_of(i)}]" if id(i) in g.index and not _is_literal(i) else "NULL"
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

    # ------------------------------------------------------------------ units
    def unit_elemwise(self, members, reuse):
        """A fused elementwise group; its output may overwrite a dead input of ``reuse`` (ids)."""
        out = members[-1].out
        nd = out.ndim
        o = self.slot_of(out)
        name = "+".join(m.op.name for m in members)
        tn = K.typenum(out.dtype)
        self.emit("{ npy_intp sh[EQ_MAXD];")
        g = self.group(members, nd)
        ins, extra, shape_ins, movers = self.loop_operands(g, nd)
        cands = [str(op.slot) for op, v in zip(ins, g.leaves) if id(v) in reuse and v.dtype == out.dtype
                 and v.type.shape == out.type.shape]
        self.shape(name, shape_ins, nd)
        self.gather_glue(g, nd)
        if cands:
            self.emit(f"{{ static const int cand[] = {{{', '.join(cands)}}};")
            self.fail(f"eq_make(V, {o}, {nd}, sh, {tn}, cand, {len(cands)}) < 0")
            self.emit("}")
        else:
            self.fail(f"eq_new(&V[{o}], {nd}, sh, {tn}) < 0")
        self.loop(ins + extra + [L.Operand(o, out.dtype, list(range(nd)), "out")], nd, self.expr_body(members, g),
                  movers=movers)
        self.check_gathers(g)
        self.emit("}")

    def unit_reduce(self, members, node):
        """A reduction, computing its fused elementwise producers ``members`` in its input loop."""
        name, x, out = node.op.name, node.inputs[0], node.out
        nd, axes, keep = x.ndim, node.op.params["axis"], node.op.params["keepdims"]
        o = self.slot_of(out)
        kept = [d for d in range(nd) if d not in axes]
        acc_dims = [None if d in axes else (d if keep else kept.index(d)) for d in range(nd)]
        oshape = [f"({'1' if d in axes else f'sh[{d}]'})" for d in range(nd) if keep or d not in axes]
        self.emit("{ npy_intp sh[EQ_MAXD], osh[EQ_MAXD], insize = 1, osize = 1, i; int d;")
        if members:
            g = self.group(members, nd)
            ins, extra, shape_ins, movers = self.loop_operands(g, nd)
            body = self.expr_body(members, g)
        else:
            g, extra, movers = None, [], ()
            ins = shape_ins = [_in_operand(self.slot_of(x), x, nd)]
            body = _load_only
        self.shape(name, shape_ins, nd)
        if g is not None:
            self.gather_glue(g, nd)
        self.reduce_sizes(name, nd, oshape)
        self.fail(f"eq_new(&V[{o}], {len(oshape)}, osh, {K.typenum(out.dtype)}) < 0")
        if name == "logsumexp":
            self.reduce_logsumexp(ins + extra, acc_dims, o, out.dtype, len(oshape), body, movers)
        else:
            self.reduce_combine(name, ins + extra, acc_dims, o, out.dtype, body, movers)
        if g is not None:
            self.check_gathers(g)
        self.emit("}")

    def unit_rows(self, members, node):
        """softmax/log_softmax/argmax/argmin over the node's axes (:mod:`~eqtensor.backends.c.rows`),
        computing the fused elementwise producers ``members`` in the row kernel's first pass."""
        name, x, out = node.op.name, node.inputs[0], node.out
        nd = x.ndim
        kept, red = R.row_axes(node)
        perm = kept + red
        o = self.slot_of(out)
        self.emit("{ npy_intp sh[EQ_MAXD], osh[EQ_MAXD]; int d;")
        if members:
            g = self.group(members, nd, perm)
            ins, extra, shape_ins, movers = self.loop_operands(g, nd)
            body = self.expr_body(members, g)
        else:
            g, extra = None, []
            self.maxd = max(self.maxd, nd)
            ins = shape_ins = [L.Operand(self.slot_of(x), x.dtype, [None if x.type.shape[a] == 1 else a for a in perm],
                                         "in")]
            body = _load_only
        self.shape(name, shape_ins, nd)
        if g is not None:
            self.gather_glue(g, nd)
        nk = len(kept)
        if name in ("softmax", "log_softmax"):
            odims = list(perm)
            for L_, a in enumerate(perm):
                self.emit(f"osh[{a}] = sh[{L_}];")
            ond = nd
        else:
            keep = node.op.params["keepdims"]
            odims = [(a if keep else L_) if L_ < nk else None for L_, a in enumerate(perm)]
            ond = out.ndim
            for L_, a in enumerate(perm):
                if L_ < nk:
                    self.emit(f"osh[{a if keep else L_}] = sh[{L_}];")
                elif keep:
                    self.emit(f"osh[{a}] = 1;")
            if red:
                self.emit(f"{{ npy_intp rows = 1, n = 1; for (d = 0; d < {nk}; d++) rows *= sh[d]; "
                          f"for (d = {nk}; d < {nd}; d++) n *= sh[d]; if (rows > 0 && n == 0) {{ "
                          f"PyErr_SetString(PyExc_ValueError, \"attempt to get {name} of an empty sequence\"); "
                          f"goto fail; }} }}")
        self.fail(f"eq_new(&V[{o}], {ond}, osh, {K.typenum(out.dtype)}) < 0")
        operands = ins + extra + [L.Operand(o, out.dtype, odims, "out")]
        scal = [all(op.dims[L_] is None for L_ in range(nk, nd)) if op.role in ("in", "out") else True
                for op in operands]
        tag = len(self.kernels)
        self.kernels.append(R.row_kernel_source(f"eq_k{tag}", node, operands, scal, body))
        self.emit("{ " + L.tables(operands, nd, str(tag)))
        self.fail(f"eq_rows(V, eq_k{tag}, {nd}, {nk}, sh, {len(operands)}, sl{tag}, dm{tag}, sz{tag}) < 0")
        self.emit("}")
        if g is not None:
            self.check_gathers(g)
        self.rows = True
        self.emit("}")

    def unit_scatter(self, members, node, reuse: bool):
        """``set_subtensor``/``inc_subtensor`` of a vector by one index array: the output is a copy of
        the vector (or the vector itself when it is dead), then a loop over the index positions
        computes the value (its fused producers ``members`` included) and stores or adds it."""
        x, y, i = node.inputs
        o = self.slot_of(out := node.out)
        nd = i.ndim
        self.emit("{ npy_intp sh[EQ_MAXD];")
        self.fail(f"eq_scatter_base(V, {o}, {self.slot_of(x)}, {K.typenum(out.dtype)}, "
                  f"{np.dtype(out.dtype).itemsize}, {int(reuse)}) < 0")
        g = self.group(members, nd, root=node)
        ins, extra, shape_ins, movers = self.loop_operands(g, nd)
        # the index side gives the loop's shape; the value's leaves broadcast to it (NumPy rules)
        ileaves = _leaves_of(members, node, 2)
        yleaves = _leaves_of(members, node, 1)
        iside = _side_members(members, node, 2)
        iops = [op for op, v in zip(ins, g.leaves) if id(v) in ileaves]
        iops += [op for op, (_, _, m) in zip(shape_ins[len(ins):], g.shape_only) if id(m) in iside]
        self.shape(node.op.name, iops, nd)
        yops = [(op, v) for op, v in zip(ins, g.leaves) if id(v) in yleaves]
        yside = _side_members(members, node, 1)
        ypseudo = [ps for ps, _, m in g.shape_only if id(m) in yside]
        if yops or ypseudo:
            vn = y.ndim
            ws = [self.scratch(nd) for _ in yops]
            dm = ", ".join(str(-1 if v.type.shape[d] == 1 else d) for _, v in yops for d in range(vn)) or "-1"
            tag = f"{len(self.kernels)}_{len(self.lines)}"
            lists = [", ".join(map(str, xs)) or "0" for xs in ([op.slot for op, _ in yops], ws, ypseudo)]
            self.emit(f"{{ static const int l{tag}[] = {{{lists[0]}}}, w{tag}[] = {{{lists[1]}}}, "
                      f"q{tag}[] = {{{lists[2]}}}; static const signed char m{tag}[] = {{{dm}}};")
            self.fail(f"eq_bcast_leaves(V, \"{node.op.name}\", \"indexing result\", {vn}, {len(yops)}, l{tag}, w{tag}, "
                      f"m{tag}, {len(ypseudo)}, q{tag}, {nd}, sh) < 0")
            self.emit("}")
            for (op, _), w in zip(yops, ws):
                op.slot = w
            g.release += ws
        self.shape(node.op.name, shape_ins, nd)
        self.gather_glue(g, nd)
        info = self.scratch(1)
        self.fail(f"eq_index_info(&V[{info}], &V[{o}]) < 0")
        operands = ins + extra + [L.Operand(o, out.dtype, [None] * nd, "table"),
                                  L.Operand(info, "int64", [None] * nd, "info")]
        inner = L.normalize(operands, nd, movers)
        scal = L.scalars(operands, inner, True)
        expr = self.expr_body(members, g) if members else None

        def body(loads):
            stmts, local = [], {}
            if members:
                stmts, _ = expr(loads)
                local = {id(m.out): f"t{j}" for j, m in enumerate(members)}
            return stmts, self.value_of(y, g, local, loads), self.value_of(i, g, local, loads)

        tag = len(self.kernels)
        self.kernels.append(L.scatter_kernel_source(f"eq_k{tag}", operands, scal, body, node, len(operands) - 2,
                                                    len(operands) - 1))
        self.emit(f"{{ npy_intp z = 1; int d; for (d = 0; d < {nd}; d++) z *= sh[d]; if (z && V[{o}].shape[0] == 0) "
                  f"{{ {self.scatter_error(g, node, i, info)} goto fail; }} }}")
        self.call_loop(tag, operands, nd, "NULL", -1)
        self.emit(f"if (((npy_int64 *)V[{info}].data)[2]) {{ {self.scatter_error(g, node, i, info)} goto fail; }}")
        g.release.append(info)
        self.check_gathers(g)
        self.emit("}")

    def scatter_error(self, g, node, i, info) -> str:
        src = f"&V[{self.slot_of(i)}]" if id(i) in g.index else "NULL"
        return (f"eq_index_error(\"{node.op.name}\", {src}, {K.typenum(i.dtype)}, "
                f"(npy_intp)((npy_int64 *)V[{info}].data)[0], 0);")

    def unit_index(self, node, reuse: bool):
        """Other advanced indexing on adjacent integer arrays: the runtime's ``eq_adv``."""
        a0, na = IX.adv_layout(node)
        name, x, out = node.op.name, node.inputs[0], node.out
        first = IX.INDEX_OPS[name]
        idx = node.inputs[first:]
        o, xs = self.slot_of(out), self.slot_of(x)
        bnd = max(i.ndim for i in idx)
        self.maxd = max(self.maxd, a0 + bnd + x.ndim - a0 - na)
        op = {"advanced_subtensor": 0, "set_subtensor": 1, "inc_subtensor": 2}[name]
        self.emit("{ static const int isl[] = {" + ", ".join(str(self.slot_of(i)) for i in idx) + "}, ityp[] = {"
                  + ", ".join(str(K.typenum(i.dtype)) for i in idx) + "};")
        ys = -1
        release = []
        if op:
            y = node.inputs[1]
            ys = self.slot_of(y)
            if y.dtype != x.dtype:
                c = self.scratch(y.ndim)
                self.fail(f"eq_astype(&V[{c}], &V[{ys}], {K.typenum(y.dtype)}, {K.typenum(x.dtype)}) < 0")
                ys = c
                release.append(c)
        self.fail(f"eq_adv(V, {o}, {xs}, {ys}, {na}, isl, ityp, {a0}, {op}, {K.typenum(out.dtype)}, "
                  f"{np.dtype(out.dtype).itemsize}, {int(reuse)}, {_cstr(name)}) < 0")
        for c in release:
            self.emit(f"Py_CLEAR(V[{c}].obj);")
        self.emit("}")

    def reduce_sizes(self, name, nd, oshape):
        """Emit the output shape ``osh`` and the sizes ``insize``/``osize`` (``max``/``min`` of an
        empty axis is an error)."""
        for j, s in enumerate(oshape):
            self.emit(f"osh[{j}] = {s};")
        self.emit(f"for (d = 0; d < {nd}; d++) insize *= sh[d];")
        self.emit(f"for (d = 0; d < {len(oshape)}; d++) osize *= osh[d];")
        if name in ("max", "min"):
            self.emit(f"if (insize == 0 && osize > 0) {{ PyErr_SetString(PyExc_ValueError, \"{name}: zero-size "
                      f"reduction has no identity\"); goto fail; }}")

    def fill(self, slot, ct, value):
        """Emit: every element of slot (``osize`` of C type ``ct``) set to ``value``."""
        self.emit(f"{{ {ct} *q = ({ct} *)V[{slot}].data; for (i = 0; i < osize; i++) q[i] = {value}; }}")

    def reduce_combine(self, name, ins, acc_dims, o, odt, body, movers=()):
        """A reduction by its :data:`~eqtensor.backends.c.kernels.REDUCE` combine expression: slot ``o``
        starts at the identity and accumulates the loop's values."""
        ident, comb = K.REDUCE[name]
        ct, logical = K.c_type(odt), name in ("all", "any")
        lo, hi = K.int_bounds(odt) if K.kind(odt) == "int" else ("0", "0")
        self.fill(o, ct, f"({ct})({ident[K.kind(odt)].format(lo=lo, hi=hi)})")

        def value(loads):
            stmts, res = body(loads)
            return stmts, f"(({res}) != 0)" if logical else f"({ct})({res})"

        pragma = {"sum": "reduction(+:acc)", "prod": "reduction(*:acc)"}.get(name)
        self.loop(ins + [L.Operand(o, odt, list(acc_dims), "acc")], len(acc_dims), value,
                  acc=(len(ins), "npy_bool" if logical else ct), comb=comb, pragma=pragma, movers=movers)

    def reduce_logsumexp(self, ins, acc_dims, o, odt, ond, body, movers=()):
        """``logsumexp`` in one pass: a scratch slot of running maxima, slot ``o`` the running sums
        of ``exp(x - max)``, then ``o = log(o) + fin(max)``."""
        ct, fx, tg = K.c_type(odt), "f" if odt == "float32" else "", K.tag(odt)
        m = len(self.vars)
        self.vars.append(None)  # scratch slot for the maxima
        self.fail(f"eq_new(&V[{m}], {ond}, osh, {K.typenum(odt)}) < 0")
        self.fill(m, ct, "-INFINITY")
        self.fill(o, ct, "0")
        accs = [L.Operand(m, odt, list(acc_dims), "acc"), L.Operand(o, odt, list(acc_dims), "acc")]
        self.loop_lse(ins + accs, len(acc_dims), body, ct, fx, tg, movers)
        self.emit(f"{{ {ct} *q = ({ct} *)V[{o}].data, *mm = ({ct} *)V[{m}].data;")
        self.emit(f"for (i = 0; i < osize; i++) q[i] = log{fx}(q[i]) + eq_fin_{tg}(mm[i]); }}")
        self.emit(f"Py_CLEAR(V[{m}].obj);")

    def unit_struct(self, node):
        """A structural op: the code of its :data:`~eqtensor.backends.c.structural.STRUCTURAL` entry."""
        entry = STRUCTURAL[node.op.name]
        o = self.slot_of(node.out)
        self.lines += entry.code(node, o, [self.slot_of(i) for i in node.inputs])
        self.blas = self.blas or entry.blas

    def unit_fallback(self, node):
        """A call of the op's NumPy ``perform`` (a callable in ``state``) on views of its inputs."""
        defn = node.op.defn
        fn = functools.partial(defn.perform, **node.op.params) if node.op.params else defn.perform
        fi = len(self.state)
        self.state.append(fn)
        self.fallback_ops.append(node.op.name)
        o = self.slot_of(node.out)
        ins = [self.slot_of(i) for i in node.inputs]
        n = len(ins)
        e = self.emit
        e(f"{{ PyObject *a[{max(n, 1)}], *r; int j, bad = 0;")
        for j, (s, v) in enumerate(zip(ins, node.inputs)):
            e(f"a[{j}] = eq_output(&V[{s}], {K.typenum(v.dtype)}, 0); if (a[{j}] == NULL) bad = 1;")
        e(f"r = bad ? NULL : PyObject_Vectorcall(PyList_GET_ITEM(state, {fi}), a, {n}, NULL);")
        e(f"for (j = 0; j < {n}; j++) Py_XDECREF(a[j]);")
        self.fail("r == NULL")
        self.fail(f"eq_result(&V[{o}], r, {K.typenum(node.out.dtype)}, {node.out.ndim}, {_cstr(node.op.name)}) < 0")
        e("}")

    def emit_unit(self, plan, pos, u):
        """Emit unit ``u`` (at ``pos``) as its mode says; its root is the last of its members."""
        mode, node = plan.mode[u], plan.members[u][-1]
        if mode == "elem":
            reuse = {id(i) for i in plan.reads[u] if i.owner is not None and plan.last.get(id(i)) == pos
                     and id(i) not in self.out_ids}
            self.unit_elemwise(plan.members[u], reuse)
        elif mode == "reduce":
            self.unit_reduce(plan.members[u][:-1], node)
        elif mode == "rows":
            self.unit_rows(plan.members[u][:-1], node)
        elif mode == "scatter":
            self.unit_scatter(plan.members[u][:-1], node, self.base_reusable(plan, pos, u))
        elif mode == "index":
            self.index = True
            self.unit_index(node, self.base_reusable(plan, pos, u))
        elif mode == "struct":
            self.unit_struct(node)
        else:
            self.unit_fallback(node)

    def base_reusable(self, plan, pos, u) -> bool:
        """The array a scatter copies may be overwritten instead: an intermediate, not an output, read
        last by this unit and by nothing else of it (checked again at run time: nobody else holds its
        memory)."""
        x = plan.members[u][-1].inputs[0]
        others = [i for m in plan.members[u] for i in m.inputs]
        others.remove(x)
        return x.owner is not None and plan.last.get(id(x)) == pos and id(x) not in self.out_ids \
            and all(i is not x for i in others)

    def release(self, plan, pos, u):
        """Emit: the slots unit ``u`` (at ``pos``) is the last to read are cleared (outputs are kept)."""
        for i in {id(i): i for i in plan.reads[u]}.values():
            if plan.last.get(id(i)) == pos and id(i) not in self.out_ids and id(i) in self.slot:
                self.emit(f"eq_release(&V[{self.slot[id(i)]}]);")

    # ------------------------------------------------------------------ whole function
    def bind_constants(self, plan) -> list[tuple[int, int]]:
        """Put the constants and shared values the units read in ``state`` (a literal scalar of a
        fused loop is written into its kernel instead), then constant outputs; returns their
        (slot, state index) pairs."""
        const_slots = []
        for u in plan.units:
            fused = plan.mode[u] == "elem" or (plan.mode[u] == "reduce" and len(plan.members[u]) > 1)
            # the vector a fused gather reads is a slot even when it is a one-element constant
            tables = {id(m.inputs[0]) for m in plan.members[u] if m.op.name == "advanced_subtensor"}
            for i in plan.reads[u]:
                if i.owner is None and id(i) not in self.slot and not (fused and _is_literal(i)
                                                                       and id(i) not in tables):
                    const_slots.append((self.slot_of(i), len(self.state)))
                    self.state.append(i.data if hasattr(i, "data") else i.get_value(borrow=True))
        for o in self.s.outputs:
            if o.owner is None and id(o) not in self.slot:
                const_slots.append((self.slot_of(o), len(self.state)))
                self.state.append(o.data)
        return const_slots

    def run(self) -> Generated:
        """Generate every unit as a C function ``eq_u<pos>``, then the thunk calling them."""
        plan = plan_units(self.s.nodes, self.s.outputs)
        for v in self.s.inputs:
            self.slot_of(v)
        const_slots = self.bind_constants(plan)
        # one C function per unit: the compiler optimizes many small functions much faster than one
        # huge one
        attr = "__attribute__((noinline)) " if len(plan.units) > 4 else ""
        for pos, u in enumerate(plan.units):
            self.lines = []
            self.emit_unit(plan, pos, u)
            self.release(plan, pos, u)
            self.funcs.append(f"static {attr}int eq_u{pos}(PyObject *state, eq_arr *V)\n{{\n"
                              + "\n".join(self.lines) + "\nreturn 0;\nfail:\nreturn -1;\n}\n")
            self.calls.append(f"if (eq_u{pos}(state, V) < 0) goto fail;")
        return self.finish(len(self.s.inputs), const_slots)

    def thunk_head(self, ninp, const_slots) -> list[str]:
        """The thunk's opening: slots cleared, the thread count read, the arguments checked and
        bound, the constants bound."""
        nv = max(len(self.vars), 1)
        cacheable = ", ".join("1" if v is not None and v.owner is not None and id(v) not in self.out_ids else "0"
                              for v in self.vars) or "0"
        head = ["static PyObject *eq_thunk(PyObject *state, PyObject *const *args, Py_ssize_t nargs)", "{",
                f"static const unsigned char cacheable[] = {{{cacheable}}};",
                f"eq_arr V[{nv}]; PyObject *res = NULL, *cache = PyList_GET_ITEM(state, 1), *pcache = eq_cache; int k;",
                "eq_arr *pV = eq_V; int pnv = eq_nv; const unsigned char *pcb = eq_cacheable;",
                f"for (k = 0; k < {nv}; k++) V[k].obj = NULL;",
                "eq_nthreads = (int)PyLong_AsLong(PyList_GET_ITEM(state, 0));",
                f"if (nargs != {ninp}) {{ PyErr_Format(PyExc_TypeError, \"the compiled function takes {ninp} "
                f"arguments, got %zd\", nargs); return NULL; }}",
                f"if (cache == Py_None) {{ cache = PyList_New({nv}); if (cache == NULL) return NULL; "
                f"for (k = 0; k < {nv}; k++) {{ Py_INCREF(Py_None); PyList_SET_ITEM(cache, k, Py_None); }} "
                "PyList_SetItem(state, 1, cache); }",
                f"eq_V = V; eq_nv = {nv}; eq_cacheable = cacheable; eq_cache = cache;"]
        for k, v in enumerate(self.s.inputs):
            st = ", ".join(str(-1 if d is None else d) for d in v.type.shape) or "-1"
            label = _cstr(v.name or str(v.type))
            head.append(f"{{ static const npy_intp stat[] = {{{st}}};")
            head.append(f"if (eq_input(&V[{k}], args[{k}], {K.typenum(v.dtype)}, {v.ndim}, stat, {k}, {label}) < 0) "
                        "goto fail; }")
        for slot, si in const_slots:
            head.append(f"eq_bind(&V[{slot}], (PyArrayObject *)PyList_GET_ITEM(state, {si}));")
        return head

    def thunk_tail(self) -> list[str]:
        """The thunk's end: the output tuple (views or copies of the output slots), then the
        release of every slot."""
        s = self.s
        tail = [f"res = PyTuple_New({len(s.outputs)}); if (res == NULL) goto fail;"]
        for j, (o, copy) in enumerate(zip(s.outputs, s.copy_outputs)):
            tail.append(f"{{ PyObject *r = eq_output(&V[{self.slot[id(o)]}], {K.typenum(o.dtype)}, {int(copy)}); "
                        f"if (r == NULL) {{ Py_CLEAR(res); goto fail; }} PyTuple_SET_ITEM(res, {j}, r); }}")
        nv = max(len(self.vars), 1)
        return tail + ["fail:", f"for (k = 0; k < {nv}; k++) Py_XDECREF(V[k].obj);",
                       "eq_V = pV; eq_nv = pnv; eq_cacheable = pcb; eq_cache = pcache;", "return res;", "}"]

    def finish(self, ninp, const_slots) -> Generated:
        """The module's source: the runtime, the kernels' prototypes, the unit functions, the
        thunk and the entry points; the kernels go to translation units of their own."""
        maxd = max([v.ndim for v in self.vars if v is not None] + [self.maxd])
        glue = self.funcs + self.thunk_head(ninp, const_slots) + self.calls + self.thunk_tail()
        units = L.split(self.kernels, L.jobs())
        protos = [k[:k.index(")") + 1].replace("EQ_KFN", KERNEL_EXTERN) + ";" for k in self.kernels]
        body = "\n".join(protos + glue)
        index = self.index or any(f in body for f in ("eq_index_info", "eq_bcast_leaves", "eq_scatter_base"))
        src = prelude(maxd, blas=self.blas, rows=self.rows, index=index) + "\n" + body \
            + f"\n#define EQ_NINPUTS {ninp}\n" + ENTRY
        parts = [L.kernel_unit(u) for u in units]
        return Generated(src, parts, self.state, len(self.fallback_ops), self.fallback_ops, self.blas)


ENTRY = r"""
static PyMethodDef eq_def = {"thunk", (PyCFunction)(void (*)(void))eq_thunk, METH_FASTCALL,
                             "compiled eqtensor function"};

/* a new function object bound to a fresh state list (one per compiled Function); cffi calls this
   without the GIL, so take it */
void *eq_entry(void)
{
    PyObject *state, *fn = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    if (PyArray_API == NULL && _import_array() < 0) goto done;
    state = PyList_New(0);
    if (state == NULL) goto done;
    fn = PyCFunction_New(&eq_def, state);
    Py_DECREF(state);
done:
    if (fn == NULL) PyErr_Clear();
    PyGILState_Release(g);
    return fn;
}

/* the trusted fast path of a one-output Function: f(*inputs) returns the output itself, all in C.
   ``pair`` is (thunk, slow): keywords or another argument count go to the Python path ``slow``. */
static PyObject *eq_call1(PyObject *pair, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *r, *o;
    if (kwnames != NULL || nargs != EQ_NINPUTS)
        return PyObject_Vectorcall(PyTuple_GET_ITEM(pair, 1), args, (size_t)nargs, kwnames);
    r = eq_thunk(PyCFunction_GET_SELF(PyTuple_GET_ITEM(pair, 0)), args, nargs);
    if (r == NULL) return NULL;
    o = PyTuple_GET_ITEM(r, 0);
    Py_INCREF(o);
    Py_DECREF(r);
    return o;
}

static PyMethodDef eq_def1 = {"call", (PyCFunction)(void (*)(void))eq_call1, METH_FASTCALL | METH_KEYWORDS,
                              "compiled eqtensor function (trusted inputs, one output)"};

/* eq_call1 bound to (thunk, slow); thunk is an eq_entry result of this module */
void *eq_entry_call1(void *thunk, void *slow)
{
    PyObject *fn = NULL, *pair;
    PyGILState_STATE g = PyGILState_Ensure();
    pair = PyTuple_Pack(2, (PyObject *)thunk, (PyObject *)slow);
    if (pair != NULL) {
        fn = PyCFunction_New(&eq_def1, pair);
        Py_DECREF(pair);
    }
    if (fn == NULL) PyErr_Clear();
    PyGILState_Release(g);
    return fn;
}
"""


def generate(schedule) -> Generated:
    """Generate the C source of ``schedule`` (see the module docstring)."""
    return _Gen(schedule).run()
