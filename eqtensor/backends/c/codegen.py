"""C code generation: one C function per compiled graph, called once per call.

The generated ``eq_thunk(state, args, nargs)`` is a CPython ``METH_FASTCALL`` function: it checks
its arguments (ndarray, dtype, rank, static shape), computes every shape at run time from the
input shapes, allocates intermediates and outputs with NumPy's allocator, runs one loop nest per
fused elementwise group (or reduction with its fused producers), calls SciPy's BLAS for ``dot``,
creates views for dimshuffle/reshape without copying, and calls an op's NumPy ``perform`` for
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


@dataclass
class Generated:
    source: str  # the module's C source (prelude + thunk + entry)
    parts: list  # sources of further translation units (loop kernels) linked into the module
    state: list  # the thread count, then constants and fallback callables, in slot order
    n_fallbacks: int
    fallback_ops: list  # names of the nodes that run through NumPy
    blas: bool


def _num(dtype) -> int:
    return np.dtype(dtype).num


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


def reduce_ok(node) -> bool:
    spec = K.REDUCE.get(node.op.name)
    dts = (node.inputs[0].dtype, node.out.dtype)
    return spec is not None and all(d in K.C_TYPES for d in dts) and K.kind(node.out.dtype) in spec[0]


def struct_ok(node) -> bool:
    name = node.op.name
    if name in ("dimshuffle", "shape", "shape_i"):
        return True
    if name in K.IDENTITY:
        return node.out.type == node.inputs[0].type
    if name == "reshape":
        return node.inputs[1].dtype == "int64"
    if name == "make_vector":
        return all(i.dtype in K.C_TYPES for i in node.inputs) and node.out.dtype in K.C_TYPES
    if name == "alloc":
        return all(i.dtype in K.C_TYPES and K.kind(i.dtype) == "int" for i in node.inputs[1:])
    if name in ("gemm", "gemv", "ger"):  # BLAS calls when every operand has the output's float dtype
        return node.out.dtype in ("float32", "float64") and all(i.dtype == node.out.dtype for i in node.inputs)
    if name in ("dot", "matmul"):  # equal for 1-d and 2-d operands
        a, b = node.inputs
        return (a.dtype == b.dtype == node.out.dtype and a.dtype in ("float32", "float64")
                and a.ndim in (1, 2) and b.ndim in (1, 2))
    return False


def _is_literal(v) -> bool:
    return hasattr(v, "data") and v.owner is None and v.data.size == 1 and v.dtype in K.C_TYPES \
        and not hasattr(v, "container")


class _Gen:
    def __init__(self, schedule):
        self.s = schedule
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

    def loop_lse(self, operands, nd, body, ct, fx, tg):
        """A one-pass logsumexp loop: operands end with the running max and sum accumulators."""
        inner = L.normalize(operands, nd)
        tag = len(self.kernels)
        kr, km = f"eq_k{tag}", f"eq_k{tag}m"
        for name, red in ((kr, True), (km, False)):
            self.kernels.append(L.lse_kernel_source(name, operands, L.scalars(operands, inner, red), body, ct,
                                                    fx, tg))
        self.emit("{ " + L.tables(operands, nd, str(tag)))
        self.fail(f"eq_loop(V, {kr}, {km}, {nd}, sh, {len(operands)}, sl{tag}, dm{tag}, sz{tag}, "
                  f"{len(operands) - 2}) < 0")
        self.emit("}")

    def loop(self, operands, nd, body, acc=None, comb=None, pragma="simd"):
        """Emit the kernel(s) of a loop nest over ``sh`` and the ``eq_loop`` call running them.

        ``operands``: :class:`~eqtensor.backends.c.loops.Operand` list, the written one last.
        ``body(loads)`` returns the statements computing ``res``; ``acc``/``comb`` describe a
        reduction (a reducing kernel and a row-updating kernel are generated)."""
        inner = L.normalize(operands, nd)
        tag = len(self.kernels)
        kr, km, ka = f"eq_k{tag}", "NULL", -1
        self.kernels.append(L.kernel_source(kr, operands, L.scalars(operands, inner, True), body, acc, comb,
                                            pragma))
        if acc is not None:
            km, ka = f"eq_k{tag}m", acc[0]
            self.kernels.append(L.kernel_source(km, operands, L.scalars(operands, inner, False), body, acc,
                                                comb, pragma))
        self.emit("{ " + L.tables(operands, nd, str(tag)))
        self.fail(f"eq_loop(V, {kr}, {km}, {nd}, sh, {len(operands)}, sl{tag}, dm{tag}, sz{tag}, {ka}) < 0")
        self.emit("}")

    # ------------------------------------------------------------------ expressions
    def expr_body(self, members, leaf_index, literal):
        """Statements computing each member node in a local; returns (body(loads), )."""

        def body(loads):
            local: dict[int, str] = {}
            stmts = []
            for j, node in enumerate(members):
                comp, tpl = elem_compute(node)
                kern = K.ELEMWISE[node.op.name]
                cty = K.c_type(comp)
                args = []
                for pos, i in enumerate(node.inputs):
                    if id(i) in local:
                        a = local[id(i)]
                    elif id(i) in literal:
                        a = literal[id(i)]
                    else:
                        a = loads[leaf_index[id(i)]]
                    if kern.compute in ("out", "common") or (kern.compute == "switch" and pos > 0):
                        a = f"(({cty})({a}))"
                    args.append(a)
                ex = tpl.format(*args, T=cty, f="f" if comp == "float32" else "", t=K.tag(comp))
                ot = K.c_type(node.out.dtype)
                ex = f"(npy_bool)(({ex}) != 0)" if node.out.dtype == "bool" else f"({ot})({ex})"
                stmts.append(f"const {ot} t{j} = {ex};")
                local[id(node.out)] = f"t{j}"
            return stmts, f"t{len(members) - 1}"

        return body

    def leaves(self, members):
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
        out = members[-1].out
        nd = out.ndim
        leaves, literal = self.leaves(members)
        o = self.slot_of(out)
        lslots = [self.slot_of(v) for v in leaves]
        name = "+".join(m.op.name for m in members)
        ins = [L.Operand(s, v.dtype, [None if v.type.shape[d] == 1 else d for d in range(nd)], "in")
               for s, v in zip(lslots, leaves)]
        cands = [str(s) for s, v in zip(lslots, leaves) if id(v) in reuse and v.dtype == out.dtype
                 and v.type.shape == out.type.shape]
        tn = _num(out.dtype)
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
        name = node.op.name
        x = node.inputs[0]
        nd = x.ndim
        axes = node.op.params["axis"]
        keep = node.op.params["keepdims"]
        out = node.out
        o = self.slot_of(out)
        tn, odt = _num(out.dtype), out.dtype
        kept = [d for d in range(nd) if d not in axes]
        odim = {d: (d if keep else kept.index(d)) for d in kept}
        if members:
            leaves, literal = self.leaves(members)
        else:
            leaves, literal = [x], {}
        lslots = [self.slot_of(v) for v in leaves]

        def ins():
            return [L.Operand(s, v.dtype, [None if v.type.shape[d] == 1 else d for d in range(nd)], "in")
                    for s, v in zip(lslots, leaves)]

        def acc_op(slot, role="acc"):
            return L.Operand(slot, odt, [None if d in axes else odim[d] for d in range(nd)], role)

        oshape = [f"({'1' if d in axes else f'sh[{d}]'})" for d in range(nd) if keep or d not in axes]
        ident, comb = K.REDUCE[name]
        k = K.kind(odt)
        lo, hi = K.int_bounds(odt) if k == "int" else ("0", "0")
        init = ident[k].format(lo=lo, hi=hi)
        e = self.emit
        e("{ npy_intp sh[EQ_MAXD], osh[EQ_MAXD], insize = 1, osize = 1, i; int d;")
        self.shape(name, ins(), nd)
        for j, s in enumerate(oshape):
            e(f"osh[{j}] = {s};")
        e(f"for (d = 0; d < {nd}; d++) insize *= sh[d];")
        e(f"for (d = 0; d < {len(oshape)}; d++) osize *= osh[d];")
        if name in ("max", "min"):
            e(f"if (insize == 0 && osize > 0) {{ PyErr_SetString(PyExc_ValueError, \"{name}: zero-size "
              f"reduction has no identity\"); goto fail; }}")
        index = {id(v): kk for kk, v in enumerate(leaves)}
        nin = len(leaves)
        ct = K.c_type(odt)
        fx = "f" if odt == "float32" else ""
        tg = K.tag(odt)
        if members:
            body = self.expr_body(members, index, literal)
        else:
            def body(loads):
                return [], loads[0]

        def fill(slot, value):
            e(f"{{ {ct} *q = ({ct} *)V[{slot}].data; for (i = 0; i < osize; i++) q[i] = {value}; }}")

        self.fail(f"eq_new(&V[{o}], {len(oshape)}, osh, {tn}) < 0")
        if name == "logsumexp":
            m = len(self.vars)
            self.vars.append(None)  # scratch slot for the maxima
            self.fail(f"eq_new(&V[{m}], {len(oshape)}, osh, {tn}) < 0")
            fill(m, "-INFINITY")
            fill(o, "0")
            self.loop_lse(ins() + [acc_op(m), acc_op(o)], nd, body, ct, fx, tg)
            e(f"{{ {ct} *q = ({ct} *)V[{o}].data, *mm = ({ct} *)V[{m}].data;")
            e(f"for (i = 0; i < osize; i++) q[i] = log{fx}(q[i]) + eq_fin_{tg}(mm[i]); }}")
            e(f"Py_CLEAR(V[{m}].obj);")
        else:
            fill(o, f"({ct})({init})")
            pragma = {"sum": "reduction(+:acc)", "prod": "reduction(*:acc)"}.get(name)

            def body3(loads):
                stmts, res = body(loads)
                return stmts, f"(({res}) != 0)" if name in ("all", "any") else f"({ct})({res})"

            act = ct if name not in ("all", "any") else "npy_bool"
            self.loop(ins() + [acc_op(o)], nd, body3, acc=(nin, act), comb=comb, pragma=pragma)
        e("}")

    def unit_struct(self, node):
        name, e = node.op.name, self.emit
        out = node.out
        o = self.slot_of(out)
        ins = [self.slot_of(i) for i in node.inputs]
        tn, isz = _num(out.dtype), np.dtype(out.dtype).itemsize
        if name == "dimshuffle":
            order = node.op.params["order"]
            e(f"eq_view(&V[{o}], &V[{ins[0]}]); V[{o}].nd = {len(order)};")
            for j, d in enumerate(order):
                if d == "x":
                    e(f"V[{o}].shape[{j}] = 1; V[{o}].strides[{j}] = 0;")
                else:
                    e(f"V[{o}].shape[{j}] = V[{ins[0]}].shape[{d}]; V[{o}].strides[{j}] = V[{ins[0]}].strides[{d}];")
        elif name in K.IDENTITY:
            e(f"eq_view(&V[{o}], &V[{ins[0]}]); V[{o}].nd = V[{ins[0]}].nd;")
            e(f"memcpy(V[{o}].shape, V[{ins[0]}].shape, sizeof V[{o}].shape); "
              f"memcpy(V[{o}].strides, V[{ins[0]}].strides, sizeof V[{o}].strides);")
        elif name == "reshape":
            self.fail(f"eq_reshape(&V[{o}], &V[{ins[0]}], &V[{ins[1]}], {out.ndim}, {tn}, {isz}) < 0")
        elif name == "shape":
            nd = node.inputs[0].ndim
            e(f"{{ npy_intp n1 = {nd}; int d; if (eq_new(&V[{o}], 1, &n1, {tn}) < 0) goto fail;")
            e(f"for (d = 0; d < {nd}; d++) ((npy_int64 *)V[{o}].data)[d] = V[{ins[0]}].shape[d]; }}")
        elif name == "shape_i":
            e(f"if (eq_new(&V[{o}], 0, NULL, {tn}) < 0) goto fail;")
            e(f"*(npy_int64 *)V[{o}].data = V[{ins[0]}].shape[{node.op.params['i']}];")
        elif name == "make_vector":
            ct = K.c_type(out.dtype)
            e(f"{{ npy_intp n1 = {len(ins)}; if (eq_new(&V[{o}], 1, &n1, {tn}) < 0) goto fail; }}")
            for j, (s, v) in enumerate(zip(ins, node.inputs)):
                val = f"*(const {K.c_type(v.dtype)} *)V[{s}].data"
                val = f"(({val}) != 0)" if out.dtype == "bool" else f"({ct})({val})"
                e(f"(({ct} *)V[{o}].data)[{j}] = {val};")
        elif name == "alloc":
            nd = out.ndim
            e("{ npy_intp dims[EQ_MAXD];")
            for j, (s, v) in enumerate(zip(ins[1:], node.inputs[1:])):
                e(f"dims[{j}] = (npy_intp)*(const {K.c_type(v.dtype)} *)V[{s}].data;")
                if v.dtype == "uint64":
                    e(f"if (*(const npy_uint64 *)V[{s}].data > (npy_uint64)NPY_MAX_INTP) dims[{j}] = -1;")
            self.fail(f"eq_alloc(&V[{o}], &V[{ins[0]}], dims, {nd}, {tn}, {isz}) < 0")
            e("}")
        elif name in ("gemm", "gemv"):
            self.blas = True
            c, al, a, b, be = ins
            self.fail(f"eq_{name}(&V[{o}], &V[{c}], &V[{al}], &V[{a}], &V[{b}], &V[{be}], "
                      f"{int(out.dtype == 'float64')}, {tn}) < 0")
        elif name == "ger":
            self.blas = True
            c, al, x, y = ins
            self.fail(f"eq_ger(&V[{o}], &V[{c}], &V[{al}], &V[{x}], &V[{y}], {int(out.dtype == 'float64')}, {tn}) < 0")
        elif name in ("dot", "matmul"):
            self.blas = True
            self.fail(f"eq_dot(&V[{o}], &V[{ins[0]}], &V[{ins[1]}], {int(out.dtype == 'float64')}, {tn}) < 0")

    def unit_fallback(self, node):
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
            e(f"a[{j}] = eq_output(&V[{s}], {_num(v.dtype)}, 0); if (a[{j}] == NULL) bad = 1;")
        e(f"r = bad ? NULL : PyObject_Vectorcall(PyList_GET_ITEM(state, {fi}), a, {n}, NULL);")
        e(f"for (j = 0; j < {n}; j++) Py_XDECREF(a[j]);")
        self.fail("r == NULL")
        self.fail(f"eq_result(&V[{o}], r, {_num(node.out.dtype)}, {node.out.ndim}, {_cstr(node.op.name)}) < 0")
        e("}")

    # ------------------------------------------------------------------ whole function
    def run(self) -> Generated:
        s = self.s
        nodes = s.nodes
        mode = {}
        for k, node in enumerate(nodes):
            kind = node.op.defn.kind
            if kind == "elemwise" and elem_compute(node) is not None:
                mode[k] = "elem"
            elif kind == "reduce" and reduce_ok(node):
                mode[k] = "reduce"
            elif struct_ok(node):
                mode[k] = "struct"
            else:
                mode[k] = "fallback"
        idx = {id(n): k for k, n in enumerate(nodes)}
        groups = fusion_groups(
            nodes, s.outputs, lambda n: mode[idx[id(n)]] == "elem",
            lambda n: mode[idx[id(n)]] == "reduce" and n.op.name != "logsumexp")
        members: dict[int, list] = {}
        for k in range(len(nodes)):
            members.setdefault(groups[k], []).append(nodes[k])
        units = [k for k in range(len(nodes)) if groups[k] == k]
        # which variables each unit reads (leaves of fused groups) -> last use per slot variable
        reads: dict[int, list] = {}
        for u in units:
            produced = {id(m.out) for m in members[u]}
            reads[u] = [i for m in members[u] for i in m.inputs if id(i) not in produced]
        last: dict[int, int] = {}
        for pos, u in enumerate(units):
            for i in reads[u]:
                last[id(i)] = pos
        out_ids = {id(o) for o in s.outputs}
        ninp = len(s.inputs)
        for v in s.inputs:
            self.slot_of(v)
        const_slots = []
        for u in units:
            for i in reads[u]:
                fused = mode[u] == "elem" or (mode[u] == "reduce" and len(members[u]) > 1)
                if i.owner is None and id(i) not in self.slot and not (fused and _is_literal(i)):
                    const_slots.append((self.slot_of(i), len(self.state)))
                    self.state.append(i.data if hasattr(i, "data") else i.get_value(borrow=True))
        for o in s.outputs:
            if o.owner is None and id(o) not in self.slot:
                const_slots.append((self.slot_of(o), len(self.state)))
                self.state.append(o.data)
        for pos, u in enumerate(units):
            self.lines = []
            node = nodes[u]
            m = mode[u]
            if m == "elem":
                reuse = {id(i) for i in reads[u] if i.owner is not None and last.get(id(i)) == pos
                         and id(i) not in out_ids}
                self.unit_elemwise(members[u], reuse)
            elif m == "reduce":
                self.unit_reduce(members[u][:-1], node)
            elif m == "struct":
                self.unit_struct(node)
            else:
                self.unit_fallback(node)
            for i in {id(i): i for i in reads[u]}.values():
                if last.get(id(i)) == pos and id(i) not in out_ids and id(i) in self.slot:
                    self.emit(f"Py_CLEAR(V[{self.slot[id(i)]}].obj);")
            # one C function per unit: the compiler optimizes many small functions much faster
            # than one huge one
            attr = "__attribute__((noinline)) " if len(units) > 4 else ""
            self.funcs.append(f"static {attr}int eq_u{pos}(PyObject *state, eq_arr *V)\n{{\n"
                              + "\n".join(self.lines) + "\nreturn 0;\nfail:\nreturn -1;\n}\n")
            self.calls.append(f"if (eq_u{pos}(state, V) < 0) goto fail;")
        return self.finish(ninp, const_slots)

    def finish(self, ninp, const_slots) -> Generated:
        s = self.s
        head = []
        h = head.append
        nv = max(len(self.vars), 1)
        h("static PyObject *eq_thunk(PyObject *state, PyObject *const *args, Py_ssize_t nargs)")
        h("{")
        h(f"eq_arr V[{nv}]; PyObject *res = NULL; int k;")
        h(f"for (k = 0; k < {nv}; k++) V[k].obj = NULL;")
        h("eq_nthreads = (int)PyLong_AsLong(PyList_GET_ITEM(state, 0));")
        h(f"if (nargs != {ninp}) {{ PyErr_Format(PyExc_TypeError, \"the compiled function takes {ninp} "
          f"arguments, got %zd\", nargs); return NULL; }}")
        for k, v in enumerate(s.inputs):
            st = ", ".join(str(-1 if d is None else d) for d in v.type.shape) or "-1"
            label = _cstr(v.name or str(v.type))
            h(f"{{ static const npy_intp stat[] = {{{st}}};")
            h(f"if (eq_input(&V[{k}], args[{k}], {_num(v.dtype)}, {v.ndim}, stat, {k}, {label}) < 0) goto fail; }}")
        for slot, si in const_slots:
            h(f"eq_bind(&V[{slot}], (PyArrayObject *)PyList_GET_ITEM(state, {si}));")
        tail = [f"res = PyTuple_New({len(s.outputs)}); if (res == NULL) goto fail;"]
        for j, (o, copy) in enumerate(zip(s.outputs, s.copy_outputs)):
            tail.append(f"{{ PyObject *r = eq_output(&V[{self.slot[id(o)]}], {_num(o.dtype)}, {int(copy)}); "
                        f"if (r == NULL) {{ Py_CLEAR(res); goto fail; }} PyTuple_SET_ITEM(res, {j}, r); }}")
        tail += ["fail:", f"for (k = 0; k < {nv}; k++) Py_XDECREF(V[k].obj);", "return res;", "}"]
        maxd = max([v.ndim for v in self.vars if v is not None] + [1])
        glue = self.funcs + head + self.calls + tail
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
