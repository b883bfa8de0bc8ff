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
from dataclasses import dataclass

import numpy as np

from ..fusion import fusion_groups
from . import kernels as K
from . import loops as L
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


def classify(node) -> str:
    """How a node is generated: ``elem`` (in a fused elementwise loop), ``reduce``, ``struct`` (an
    entry of :data:`~eqtensor.backends.c.structural.STRUCTURAL`) or ``fallback`` (NumPy)."""
    kind = node.op.defn.kind
    if kind == "elemwise" and elem_compute(node) is not None:
        return "elem"
    if kind == "reduce" and reduce_ok(node):
        return "reduce"
    if struct_ok(node):
        return "struct"
    return "fallback"


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
    groups = fusion_groups(
        nodes, outputs, lambda n: mode[idx[id(n)]] == "elem",
        lambda n: mode[idx[id(n)]] == "reduce" and n.op.name != "logsumexp")
    members: dict[int, list] = {}
    for k, node in enumerate(nodes):
        members.setdefault(groups[k], []).append(node)
    units = [k for k in range(len(nodes)) if groups[k] == k]
    reads: dict[int, list] = {}
    for u in units:
        produced = {id(m.out) for m in members[u]}
        reads[u] = [i for m in members[u] for i in m.inputs if id(i) not in produced]
    last = {id(i): pos for pos, u in enumerate(units) for i in reads[u]}
    return Plan(units, members, mode, reads, last)


class _Gen:
    """The generator of one schedule's module: slots, ``state``, the unit functions, the kernels."""

    def __init__(self, schedule):
        self.s = schedule
        self.out_ids = {id(o) for o in schedule.outputs}
        self.slot: dict[int, int] = {}
        self.vars: list = []
        # state[0]: the function's thread count (config.num_threads, resolved now); then constants
        # and fallback callables
        self.state: list = [threads()]
        self.lines: list[str] = []
        self.fallback_ops: list[str] = []
        self.funcs: list[str] = []
        self.kernels: list[str] = []
        self.calls: list[str] = []
        self.blas = False

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

    def loop_lse(self, operands, nd, body, ct, fx, tg):
        """A one-pass logsumexp loop: operands end with the running max and sum accumulators."""
        inner = L.normalize(operands, nd)
        tag = len(self.kernels)
        for name, red in ((f"eq_k{tag}", True), (f"eq_k{tag}m", False)):
            self.kernels.append(L.lse_kernel_source(name, operands, L.scalars(operands, inner, red), body, ct,
                                                    fx, tg))
        self.call_loop(tag, operands, nd, f"eq_k{tag}m", len(operands) - 2)

    def loop(self, operands, nd, body, acc=None, comb=None, pragma="simd"):
        """Emit the kernel(s) of a loop nest over ``sh`` and the ``eq_loop`` call running them.

        ``operands``: :class:`~eqtensor.backends.c.loops.Operand` list, the written one last.
        ``body(loads)`` returns the statements computing ``res``; ``acc``/``comb`` describe a
        reduction (a reducing kernel and a row-updating kernel are generated)."""
        inner = L.normalize(operands, nd)
        tag = len(self.kernels)
        self.kernels.append(L.kernel_source(f"eq_k{tag}", operands, L.scalars(operands, inner, True), body, acc,
                                            comb, pragma))
        if acc is None:
            self.call_loop(tag, operands, nd, "NULL", -1)
            return
        self.kernels.append(L.kernel_source(f"eq_k{tag}m", operands, L.scalars(operands, inner, False), body, acc,
                                            comb, pragma))
        self.call_loop(tag, operands, nd, f"eq_k{tag}m", acc[0])

    # ------------------------------------------------------------------ expressions
    def expr_body(self, members, leaf_index, literal):
        """``body(loads)`` for :meth:`loop`: statements computing each member node in a local
        ``t<j>`` (its inputs: earlier locals, literals, or the loads of the leaves), and the last."""

        def body(loads):
            local: dict[int, str] = {}
            stmts = []
            for j, node in enumerate(members):
                args = [local.get(id(i)) or literal.get(id(i)) or loads[leaf_index[id(i)]] for i in node.inputs]
                stmts.append(_elem_statement(node, args, f"t{j}"))
                local[id(node.out)] = f"t{j}"
            return stmts, f"t{len(members) - 1}"

        return body

    def leaves(self, members):
        """The variables a fused group reads (its leaves), and the C literals of its literal scalars."""
        produced = {id(m.out) for m in members}
        leaves, literal, seen = [], {}, set()
        for m in members:
            for i in m.inputs:
                if id(i) in produced or id(i) in seen:
                    continue
                seen.add(id(i))
                if _is_literal(i):
                    literal[id(i)] = K.literal(i.data.reshape(()).item(), i.dtype)
                else:
                    leaves.append(i)
        return leaves, literal

    # ------------------------------------------------------------------ units
    def unit_elemwise(self, members, reuse):
        """A fused elementwise group; its output may overwrite a dead input of ``reuse`` (ids)."""
        out = members[-1].out
        nd = out.ndim
        leaves, literal = self.leaves(members)
        o = self.slot_of(out)
        lslots = [self.slot_of(v) for v in leaves]
        name = "+".join(m.op.name for m in members)
        ins = [_in_operand(s, v, nd) for s, v in zip(lslots, leaves)]
        cands = [str(s) for s, v in zip(lslots, leaves) if id(v) in reuse and v.dtype == out.dtype
                 and v.type.shape == out.type.shape]
        tn = K.typenum(out.dtype)
        self.emit("{ npy_intp sh[EQ_MAXD];")
        self.shape(name, ins, nd)
        if cands:
            self.emit(f"{{ static const int cand[] = {{{', '.join(cands)}}};")
            self.fail(f"eq_make(V, {o}, {nd}, sh, {tn}, cand, {len(cands)}) < 0")
            self.emit("}")
        else:
            self.fail(f"eq_new(&V[{o}], {nd}, sh, {tn}) < 0")
        index = {id(v): k for k, v in enumerate(leaves)}
        self.loop(ins + [L.Operand(o, out.dtype, list(range(nd)), "out")], nd,
                  self.expr_body(members, index, literal))
        self.emit("}")

    def unit_reduce(self, members, node):
        """A reduction, computing its fused elementwise producers ``members`` in its input loop."""
        name, x, out = node.op.name, node.inputs[0], node.out
        nd, axes, keep = x.ndim, node.op.params["axis"], node.op.params["keepdims"]
        o = self.slot_of(out)
        leaves, literal = self.leaves(members) if members else ([x], {})
        lslots = [self.slot_of(v) for v in leaves]
        kept = [d for d in range(nd) if d not in axes]
        acc_dims = [None if d in axes else (d if keep else kept.index(d)) for d in range(nd)]
        oshape = [f"({'1' if d in axes else f'sh[{d}]'})" for d in range(nd) if keep or d not in axes]
        ins = [_in_operand(s, v, nd) for s, v in zip(lslots, leaves)]
        self.emit("{ npy_intp sh[EQ_MAXD], osh[EQ_MAXD], insize = 1, osize = 1, i; int d;")
        self.shape(name, ins, nd)
        self.reduce_sizes(name, nd, oshape)
        index = {id(v): k for k, v in enumerate(leaves)}
        body = self.expr_body(members, index, literal) if members else _load_only
        self.fail(f"eq_new(&V[{o}], {len(oshape)}, osh, {K.typenum(out.dtype)}) < 0")
        if name == "logsumexp":
            self.reduce_logsumexp(ins, acc_dims, o, out.dtype, len(oshape), body)
        else:
            self.reduce_combine(name, ins, acc_dims, o, out.dtype, body)
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

    def reduce_combine(self, name, ins, acc_dims, o, odt, body):
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
                  acc=(len(ins), "npy_bool" if logical else ct), comb=comb, pragma=pragma)

    def reduce_logsumexp(self, ins, acc_dims, o, odt, ond, body):
        """``logsumexp`` in one pass: a scratch slot of running maxima, slot ``o`` the running sums
        of ``exp(x - max)``, then ``o = log(o) + fin(max)``."""
        ct, fx, tg = K.c_type(odt), "f" if odt == "float32" else "", K.tag(odt)
        m = len(self.vars)
        self.vars.append(None)  # scratch slot for the maxima
        self.fail(f"eq_new(&V[{m}], {ond}, osh, {K.typenum(odt)}) < 0")
        self.fill(m, ct, "-INFINITY")
        self.fill(o, ct, "0")
        accs = [L.Operand(m, odt, list(acc_dims), "acc"), L.Operand(o, odt, list(acc_dims), "acc")]
        self.loop_lse(ins + accs, len(acc_dims), body, ct, fx, tg)
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
        elif mode == "struct":
            self.unit_struct(node)
        else:
            self.unit_fallback(node)

    def release(self, plan, pos, u):
        """Emit: the slots unit ``u`` (at ``pos``) is the last to read are cleared (outputs are kept)."""
        for i in {id(i): i for i in plan.reads[u]}.values():
            if plan.last.get(id(i)) == pos and id(i) not in self.out_ids and id(i) in self.slot:
                self.emit(f"Py_CLEAR(V[{self.slot[id(i)]}].obj);")

    # ------------------------------------------------------------------ whole function
    def bind_constants(self, plan) -> list[tuple[int, int]]:
        """Put the constants and shared values the units read in ``state`` (a literal scalar of a
        fused loop is written into its kernel instead), then constant outputs; returns their
        (slot, state index) pairs."""
        const_slots = []
        for u in plan.units:
            fused = plan.mode[u] == "elem" or (plan.mode[u] == "reduce" and len(plan.members[u]) > 1)
            for i in plan.reads[u]:
                if i.owner is None and id(i) not in self.slot and not (fused and _is_literal(i)):
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
        head = ["static PyObject *eq_thunk(PyObject *state, PyObject *const *args, Py_ssize_t nargs)", "{",
                f"eq_arr V[{nv}]; PyObject *res = NULL; int k;",
                f"for (k = 0; k < {nv}; k++) V[k].obj = NULL;",
                "eq_nthreads = (int)PyLong_AsLong(PyList_GET_ITEM(state, 0));",
                f"if (nargs != {ninp}) {{ PyErr_Format(PyExc_TypeError, \"the compiled function takes {ninp} "
                f"arguments, got %zd\", nargs); return NULL; }}"]
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
        return tail + ["fail:", f"for (k = 0; k < {nv}; k++) Py_XDECREF(V[k].obj);", "return res;", "}"]

    def finish(self, ninp, const_slots) -> Generated:
        """The module's source: the runtime, the kernels' prototypes, the unit functions, the
        thunk and the entry points; the kernels go to translation units of their own."""
        maxd = max([v.ndim for v in self.vars if v is not None] + [1])
        glue = self.funcs + self.thunk_head(ninp, const_slots) + self.calls + self.thunk_tail()
        units = L.split(self.kernels, L.jobs())
        protos = [k[:k.index(")") + 1].replace("EQ_KFN", KERNEL_EXTERN) + ";" for k in self.kernels]
        body = "\n".join(protos + glue)
        src = prelude(maxd, blas=self.blas) + "\n" + body + f"\n#define EQ_NINPUTS {ninp}\n" + ENTRY
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
