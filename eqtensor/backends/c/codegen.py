"""C code generation: one C function per compiled graph, called once per call.

The generated ``eq_thunk(state, args, nargs)`` is a CPython ``METH_FASTCALL`` function: it checks
its arguments (ndarray, dtype, rank, static shape), computes every shape at run time from the
input shapes, allocates intermediates and outputs with NumPy's allocator, runs one loop nest per
fused elementwise group (or reduction with its fused producers), emits the structural ops from
their table (:mod:`eqtensor.backends.c.structural`: views for dimshuffle/reshape without copying,
shape ops, alloc, SciPy's BLAS for ``dot``/``gemm``/…), and calls an op's NumPy ``perform`` for
nodes without a C kernel (:data:`~eqtensor.backends.c.kernels.FALLBACK`, float16/complex dtypes).
``state`` is a per-function list holding constants and those fallback callables.

The body is ``eq_run(state, V)`` over the slots; the thunk (the Python entry) binds its arguments
to the input slots, runs it and returns the output tuple. A second entry, ``eq_c_entry(state, in,
out)``, runs the same body on slots given by C code and hands the output slots back: the scan
loop calls a step compiled as C through it (:mod:`eqtensor.backends.c.scan_loop`). A function whose
values are all 0-d has a third, ``eq_c_scalar(state, in, out)`` on bare data pointers
(:func:`~eqtensor.backends.c.scalar_step.scalar_entry`). Item 2 of ``state`` is the address of the
record of both C entries (``eq_entries``).

The nodes are first grouped into units (:mod:`eqtensor.backends.c.plan`), each generated as one C
function by the emitters of :mod:`eqtensor.backends.c.units` and
:mod:`eqtensor.backends.c.index_units` into an :class:`~eqtensor.backends.c.emitter.Emitter` — or,
from :data:`TABLE_FROM` units on, a plain elementwise unit as a row of data interpreted by the
runtime (:mod:`eqtensor.backends.c.unit_table`); this module binds the constants and assembles the
module: the units, the thunk calling them, the entry points.

>>> from eqtensor import tensor as pt
>>> from eqtensor.core.fgraph import FunctionGraph
>>> from eqtensor.backends.schedule import make_schedule
>>> x = pt.dvector("x")
>>> g = generate(make_schedule(FunctionGraph([x], [pt.exp(x) + 1], 1, 1)))
>>> "exp(" in g.source and g.n_fallbacks
0
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ...core.ops.ifelse import IFELSE
from . import kernels as K
from .branch_calls import thunk_calls
from . import loops as L
from .emitter import Emitter
from .index_units import unit_index, unit_scatter
from .plan import is_literal, plan_units
from .prelude import runtime
from .scalar_step import scalar_entry
from .scan_loop import unit_scan
from .unit_table import Program
from .units import elem_row, unit_elemwise, unit_fallback, unit_reduce, unit_reduce_siblings, unit_rows, unit_struct


@dataclass
class Generated:
    source: str  # the module's C source (the runtime's header, the kernel table, the units, the thunk, entry)
    parts: list  # further translation units of the module (unit functions of a big module, see split_glue)
    kernels: dict  # the loop kernels the module calls: name -> C text (see kernel_names)
    state: list  # the thread count, then constants and fallback callables, in slot order
    n_fallbacks: int
    fallback_ops: list  # names of the nodes that run through NumPy
    blas: bool


def _emit_unit(gen, plan, pos, u):
    """Emit unit ``u`` (at ``pos``) as its mode says; its root is the last of its members."""
    mode, node = plan.mode[u], plan.members[u][-1]
    if mode == "elem":
        reuse = {id(i) for i in plan.reads[u] if i.owner is not None and plan.last.get(id(i)) == pos
                 and id(i) not in gen.out_ids}
        unit_elemwise(gen, plan.members[u], reuse)
    elif mode == "reduce" and u in plan.siblings:
        roots = [*plan.siblings[u], node]
        unit_reduce_siblings(gen, [m for m in plan.members[u] if all(m is not r for r in roots)], roots)
    elif mode == "reduce":
        unit_reduce(gen, plan.members[u][:-1], node)
    elif mode == "rows":
        unit_rows(gen, plan.members[u][:-1], node)
    elif mode == "scatter":
        unit_scatter(gen, plan.members[u][:-1], node, _base_reusable(gen, plan, pos, u))
    elif mode == "index":
        gen.index = True
        unit_index(gen, node, _base_reusable(gen, plan, pos, u))
    elif mode == "struct":
        unit_struct(gen, node)
    elif mode == "scan":
        unit_scan(gen, node)
    else:
        unit_fallback(gen, node)


def _base_reusable(gen, plan, pos, u) -> bool:
    """The array a scatter copies may be overwritten instead: an intermediate, not an output, read
    last by this unit and by nothing else of it (checked again at run time: nobody else holds its
    memory)."""
    x = plan.members[u][-1].inputs[0]
    others = [i for m in plan.members[u] for i in m.inputs]
    others.remove(x)
    return x.owner is not None and plan.last.get(id(x)) == pos and id(x) not in gen.out_ids \
        and all(i is not x for i in others)


def _last_reads(gen, plan, pos, u) -> list[int]:
    """The slots unit ``u`` (at ``pos``) is the last to read (outputs are kept)."""
    return [gen.slot[id(i)] for i in {id(i): i for i in plan.reads[u]}.values()
            if plan.last.get(id(i)) == pos and id(i) not in gen.out_ids and id(i) in gen.slot]


def _release(gen, plan, pos, u):
    """Emit: the slots unit ``u`` (at ``pos``) is the last to read are cleared."""
    for slot in _last_reads(gen, plan, pos, u):
        gen.emit(f"eq_release(&V[{slot}]);")


def _bind_constants(gen, plan) -> list[tuple[int, int]]:
    """Put the constants and shared values the units read in ``state`` (a literal scalar of a
    fused loop is written into its kernel instead), then constant outputs; returns their
    (slot, state index) pairs."""
    const_slots = []
    for u in plan.units:
        fused = plan.mode[u] == "elem" or (plan.mode[u] == "reduce" and len(plan.members[u]) > 1)
        # the vector a fused gather reads is a slot even when it is a one-element constant
        tables = {id(m.inputs[0]) for m in plan.members[u] if m.op.name == "advanced_subtensor"}
        for i in plan.reads[u]:
            if i.owner is None and id(i) not in gen.slot and not (fused and is_literal(i)
                                                                  and id(i) not in tables):
                const_slots.append((gen.slot_of(i), len(gen.state)))
                gen.state.append(i.data if hasattr(i, "data") else i.get_value(borrow=True))
    for o in gen.s.outputs:
        if o.owner is None and id(o) not in gen.slot:
            const_slots.append((gen.slot_of(o), len(gen.state)))
            gen.state.append(o.data)
    return const_slots


#: slots of a function held on the C stack (an ``eq_arr`` is ~1 KB); more are allocated per call
STACK_SLOTS = 64


def _slots(nv: int, on_failure: str) -> str:
    """The declaration of the ``nv`` slots: on the C stack, or allocated (``on_failure`` when that fails)."""
    return (f"eq_arr V[{nv}];" if nv <= STACK_SLOTS else
            f"eq_arr *V = (eq_arr *)PyMem_Malloc({nv} * sizeof(eq_arr)); if (V == NULL) {{ PyErr_NoMemory(); "
            f"{on_failure} }}")


def _run_head(gen, const_slots) -> list[str]:
    """The opening of ``eq_run``, the function's body on its slots (the inputs bound by the caller,
    the other slots empty), called by both entries: the thread count read, the buffer cache's
    state set, the constants bound."""
    nv = max(len(gen.vars), 1)
    head = ["static int eq_run(PyObject *state, eq_arr *V)", "{", "int k, rc = -1;", *_cache_head(gen, nv)]
    if any(v is not None and v.ndim > 0 for v in gen.vars):  # all 0-d: nothing to run on threads
        head.append("eq_nthreads = (int)PyLong_AsLong(PyList_GET_ITEM(state, 0));")
    if _cached(gen):
        head.append(f"eq_V = V; eq_nv = {nv}; eq_cacheable = cacheable; eq_cache = cache;")
    return head + _bind_constants_lines(const_slots)


def _run_tail(gen) -> list[str]:
    """The end of ``eq_run``: the buffer cache's state restored."""
    restore = ["eq_V = pV; eq_nv = pnv; eq_cacheable = pcb; eq_cache = pcache;"] if _cached(gen) else []
    return ["rc = 0;", "fail:", *restore, "(void)k;", "return rc;", "}"]


def _thunk_head(gen, ninp) -> list[str]:
    """The thunk's opening (the Python entry): the argument count checked, slots cleared, the
    arguments checked and bound, the body run."""
    nv = max(len(gen.vars), 1)
    head = ["static PyObject *eq_thunk(PyObject *state, PyObject *const *args, Py_ssize_t nargs)", "{",
            "PyObject *res = NULL; int k;",
            f"if (nargs != {ninp}) {{ PyErr_Format(PyExc_TypeError, \"the compiled function takes {ninp} "
            f"arguments, got %zd\", nargs); return NULL; }}",
            _slots(nv, "return NULL;"),
            f"for (k = 0; k < {nv}; k++) V[k].obj = NULL;"]
    return head + _bind_inputs(gen.s.inputs) + ["if (eq_run(state, V) < 0) goto fail;"]


def _c_entry(gen, ninp) -> list[str]:
    """The C entry ``eq_c_entry(state, in, out)``: the body run on slots ``in[0 .. ninp-1]``
    (borrowed; the caller guarantees the inputs' dtypes, ranks and static shapes), the outputs
    handed to ``out[]`` (empty slots; new references, which may be views of the inputs or of each
    other). :mod:`eqtensor.backends.c.scan_loop` calls it once per step (its address: in the record
    at item 2 of the function's state)."""
    nv = max(len(gen.vars), 1)
    outs = [gen.slot[id(o)] for o in gen.s.outputs]
    free = ["PyMem_Free(V);"] if nv > STACK_SLOTS else []
    take = ("{ eq_arr *a = &dst, *b = &src; int d; a->data = b->data; a->nd = b->nd; for (d = 0; d < b->nd; d++) "
            "{ a->shape[d] = b->shape[d]; a->strides[d] = b->strides[d]; } a->obj = b->obj; Py_INCREF(a->obj); }")
    return ["static int eq_c_entry(PyObject *state, const eq_arr *in, eq_arr *out)", "{", "int k, rc = -1;",
            _slots(nv, "return -1;"), f"for (k = 0; k < {nv}; k++) V[k].obj = NULL;",
            f"for (k = 0; k < {ninp}; k++) " + take.replace("dst", "V[k]").replace("src", "in[k]"),
            "if (eq_run(state, V) < 0) goto fail;",
            "{ " + _table("os", "int", outs),
            f"for (k = 0; k < {len(outs)}; k++) " + take.replace("dst", "out[k]").replace("src", "V[os[k]]") + " }",
            "rc = 0;", "fail:", f"for (k = 0; k < {nv}; k++) Py_XDECREF(V[k].obj);", *free, "return rc;", "}"]


#: from this many inputs, constants, outputs or units on, the thunk runs a loop over static tables
#: instead of one statement each (units: the rows of a program, see unit_table.py): the C compiler's
#: time on one function grows faster than linearly with its size (3 000 inputs: 14 s at -O1)
TABLE_FROM = 16


def _table(name: str, ctype: str, values) -> str:
    return f"static const {ctype} {name}[] = {{{', '.join(map(str, values)) or '0'}}};"


def _bind_inputs(inputs) -> list[str]:
    """Check and bind argument ``k`` into slot ``k``, for every input."""
    stats = [", ".join(str(-1 if d is None else d) for d in v.type.shape) or "-1" for v in inputs]
    labels = [K.cstr(v.name or str(v.type)) for v in inputs]
    if len(inputs) < TABLE_FROM:
        return [f"{{ static const npy_intp stat[] = {{{st}}}; if (eq_input(&V[{k}], args[{k}], "
                f"{K.typenum(v.dtype)}, {v.ndim}, stat, {k}, {label}) < 0) goto fail; }}"
                for k, (v, st, label) in enumerate(zip(inputs, stats, labels))]
    offsets = [0]
    for v in inputs:
        offsets.append(offsets[-1] + max(1, v.ndim))
    return ["{ " + _table("ty", "int", [K.typenum(v.dtype) for v in inputs]),
            _table("nd", "int", [v.ndim for v in inputs]), _table("off", "int", offsets[:-1]),
            _table("st", "npy_intp", stats), _table("lb", "char *const", labels),
            f"for (k = 0; k < {len(inputs)}; k++) if (eq_input(&V[k], args[k], ty[k], nd[k], st + off[k], k, "
            "lb[k]) < 0) goto fail; }"]


def _bind_constants_lines(const_slots) -> list[str]:
    """Bind the constants (arrays in ``state``) to their slots."""
    if len(const_slots) < TABLE_FROM:
        return [f"eq_bind(&V[{slot}], (PyArrayObject *)PyList_GET_ITEM(state, {si}));" for slot, si in const_slots]
    return ["{ " + _table("cs", "int", [slot for slot, _ in const_slots]), _table("ci", "int", [si for _, si in const_slots]),
            f"for (k = 0; k < {len(const_slots)}; k++) eq_bind(&V[cs[k]], (PyArrayObject *)PyList_GET_ITEM(state, ci[k])); }}"]


def _thunk_tail(gen) -> list[str]:
    """The thunk's end: the output tuple (views or copies of the output slots), then the
    release of every slot."""
    s = gen.s
    tail = [f"res = PyTuple_New({len(s.outputs)}); if (res == NULL) goto fail;"]
    outs = [(gen.slot[id(o)], K.typenum(o.dtype), int(copy)) for o, copy in zip(s.outputs, s.copy_outputs)]
    if len(outs) < TABLE_FROM:
        tail += [f"{{ PyObject *r = eq_output(&V[{slot}], {ty}, {copy}); if (r == NULL) {{ Py_CLEAR(res); goto fail; }} "
                 f"PyTuple_SET_ITEM(res, {j}, r); }}" for j, (slot, ty, copy) in enumerate(outs)]
    else:
        tail += ["{ " + _table("os", "int", [o[0] for o in outs]), _table("ot", "int", [o[1] for o in outs]),
                 _table("oc", "unsigned char", [o[2] for o in outs]),
                 f"for (k = 0; k < {len(outs)}; k++) {{ PyObject *r = eq_output(&V[os[k]], ot[k], oc[k]); "
                 "if (r == NULL) { Py_CLEAR(res); goto fail; } PyTuple_SET_ITEM(res, k, r); } }"]
    nv = max(len(gen.vars), 1)
    free = ["PyMem_Free(V);"] if nv > STACK_SLOTS else []
    return tail + ["fail:", f"for (k = 0; k < {nv}; k++) Py_XDECREF(V[k].obj);", *free, "return res;", "}"]


def _cacheable(gen) -> list[bool]:
    """Per slot: it holds an intermediate (not an input, constant or output), whose array may wait
    in the buffer cache for the next call (see the runtime's ``eq_cache``)."""
    return [v is not None and v.owner is not None and id(v) not in gen.out_ids for v in gen.vars]


def _cached(gen) -> bool:
    return any(_cacheable(gen))


def _cache_head(gen, nv) -> list[str]:
    """The body's buffer-cache state (the runtime's thread-local ``eq_V``/``eq_nv``/
    ``eq_cacheable``/``eq_cache``, saved here and restored at the end): only when some slot is
    cacheable; without, the body touches none of it (each access of a thread-local variable of a
    shared object is a call: ~20 ns of a 0.17 µs scalar call)."""
    if not _cached(gen):
        return []
    flags = ", ".join("1" if c else "0" for c in _cacheable(gen))
    return [f"static const unsigned char cacheable[] = {{{flags}}};",
            "PyObject *cache = PyList_GET_ITEM(state, 1), *pcache = eq_cache;",
            "eq_arr *pV = eq_V; int pnv = eq_nv; const unsigned char *pcb = eq_cacheable;",
            f"if (cache == Py_None) {{ cache = PyList_New({nv}); if (cache == NULL) return -1; "
            f"for (k = 0; k < {nv}; k++) {{ Py_INCREF(Py_None); PyList_SET_ITEM(cache, k, Py_None); }} "
            "PyList_SetItem(state, 1, cache); }"]


def kernel_names(kernels: list[str]) -> tuple[dict, dict]:
    """Name each kernel by its text and optimization level: ``eq_k_<hash>`` (a kernel compiled once
    serves every function and every graph having it, see :mod:`eqtensor.backends.c.libraries`); the
    level is the one of the module's number of distinct kernels (:func:`~eqtensor.backends.c.loops.opt_level`),
    marked in the text. Returns ``({generated name: its kernel's index}, {kernel name: text})``,
    identical kernels once."""
    index, canonical = {}, {}
    for text in kernels:
        name = text[text.index("void ") + 5:text.index("(")]
        index[name] = canonical.setdefault(text.replace(name + "(", "EQ_KNAME(", 1), len(canonical))
    marker = L.opt_marker(L.opt_level(len(canonical)))
    unique = {}
    for text in canonical:
        final = "eq_k_" + hashlib.sha256((marker + text).encode()).hexdigest()[:24]
        unique[final] = marker + text.replace("EQ_KNAME(", final + "(", 1)
    return index, unique


def _unit_calls(calls: list[str], program) -> list[str]:
    """The thunk's calls of the units: consecutive rows of the program (``program``, see
    :mod:`~eqtensor.backends.c.unit_table`) run by one statement (all of them when no ``ifelse``
    block comes between)."""
    if program is None:
        return calls
    lines, run = [], None  # run: (indentation, first row, rows, next row)
    pattern = re.compile(r"( *)if \(eq_units\(state, V, eq_prog \+ (\d+), 1, .*")
    for line in calls + [""]:
        m = pattern.fullmatch(line)
        if m and run and run[0] == m.group(1) and run[3] == int(m.group(2)):
            run = (run[0], run[1], run[2] + 1, program.ends[int(m.group(2))])
            continue
        if run:
            lines.append(run[0] + program.statement(run[1], run[2]))
        run = (m.group(1), int(m.group(2)), 1, program.ends[int(m.group(2))]) if m else None
        if not m and line:
            lines.append(line)
    return lines


#: unit functions of a module beyond which they are spread over several translation units (one per
#: core, compiled concurrently)
GLUE_SPLIT_UNITS = 128


def split_glue(funcs: list[str], head: list[str], n: int) -> tuple[list[str], list[str]]:
    """``(funcs kept, further translation units)``: with more than :data:`GLUE_SPLIT_UNITS` unit
    functions, those are spread over ``n`` units (balanced by lines) of their own, each starting
    with ``head`` (the runtime's header and the kernel table's names); the module keeps their
    prototypes."""
    if len(funcs) <= GLUE_SPLIT_UNITS or n < 2:
        return funcs, []
    bins, weight = [[] for _ in range(n)], [0] * n
    for f in funcs:
        j = weight.index(min(weight))
        bins[j].append(f.replace("static ", "EQ_UNIT ", 1))
        weight[j] += f.count("\n")
    protos = [f[:f.index("\n")].replace("static ", "EQ_UNIT ", 1) + ";" for f in funcs]
    return protos, ["\n".join(head + b) for b in bins]


def _finish(gen, plan, ninp, const_slots, program) -> Generated:
    """The module's source: the runtime's header, the kernel table (its entries set when the module
    is loaded), the unit functions (in further translation units when there are many), the
    program's tables (when its units are rows of one), the thunk and the entry points (the C entries:
    ``eq_c_entry``, and ``eq_c_scalar`` when the function has one, see
    :func:`~eqtensor.backends.c.scalar_step.scalar_entry`)."""
    scalar = scalar_entry(gen, plan, const_slots)
    index, kernels = kernel_names(gen.kernels)
    rows = program.kernels if program is not None else ()
    names = [f"#define {name} eq_kt[{k}]" for name, k in index.items() if name not in rows]
    hidden = '#define EQ_UNIT __attribute__((visibility("hidden")))'
    funcs, parts = split_glue(gen.funcs, [runtime()[0], hidden, "extern eq_kern eq_kt[];", *names], L.jobs())
    tables = program.tables(index) if program is not None else []
    entries = f"static const eq_entries eq_c_entries = {{eq_c_entry, {'eq_c_scalar' if scalar else 'NULL'}}};"
    glue = funcs + tables + _run_head(gen, const_slots) + _unit_calls(gen.calls, program) + _run_tail(gen) \
        + _thunk_head(gen, ninp) + _thunk_tail(gen) + _c_entry(gen, ninp) + scalar + [entries]
    table = [f"/* kernels: {' '.join(kernels)} */", hidden,
             f"EQ_UNIT eq_kern eq_kt[{max(1, len(kernels))}];", *names]
    src = runtime()[0] + "\n" + "\n".join(table + glue) \
        + f"\n#define EQ_NINPUTS {ninp}\n#define EQ_NKERNELS {len(kernels)}\n" + ENTRY
    return Generated(src, parts, kernels, gen.state, len(gen.fallback_ops), gen.fallback_ops, gen.blas)


ENTRY = r"""
static PyMethodDef eq_def = {"thunk", (PyCFunction)(void (*)(void))eq_thunk, METH_FASTCALL,
                             "compiled eqtensor function"};

/* the address of the module's C entries (eq_c_entry, eq_c_scalar or NULL; kept in the function's state, item 2) */
void *eq_c_entry_address(void)
{
    return (void *)&eq_c_entries;
}

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

/* the kernel table: the addresses of the kernels (in the kernel libraries), set when the module is loaded */
void eq_set_kernels(void **k)
{
    int i;
    for (i = 0; i < EQ_NKERNELS; i++) eq_kt[i] = (eq_kern)k[i];
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


#: operands a run-time error of a unit lists at most
ERROR_OPERANDS = 6


def describe(v, inputs) -> str:
    """How a run-time error names value ``v``: the user's name, else its position among the
    function's ``inputs`` (a list), else what it is."""
    if v.name:
        return v.name
    pos = next((k for k, i in enumerate(inputs) if i is v), None)
    if pos is not None:
        return f"input {pos}"
    if v.owner is None:
        return "a shared variable" if hasattr(v, "get_value") else "a constant"
    return f"the result of {v.owner.op.name}"


def _error_operands(gen, plan, u) -> list[tuple[int, str]]:
    """The operands a ``ValueError`` of unit ``u`` names (see the runtime's ``eq_operands``): their
    slots and labels."""
    reads = [v for v in {id(v): v for v in plan.reads[u]}.values() if id(v) in gen.slot][:ERROR_OPERANDS]
    return [(gen.slot[id(v)], describe(v, gen.s.inputs)) for v in reads]


def _operands_on_error(gen, plan, u) -> str:
    """The statement of unit ``u``'s error path appending its operands (names and run-time shapes)
    to a ``ValueError``."""
    reads = _error_operands(gen, plan, u)
    if not reads:
        return ""
    slots = ", ".join(str(slot) for slot, _ in reads)
    labels = ", ".join(K.cstr(label) for _, label in reads)
    return (f"eq_operands(V, {K.cstr(plan.members[u][-1].op.name)}, {len(reads)}, (const int[]){{{slots}}}, "
            f"(const char *const[]){{{labels}}});")


def generate(schedule) -> Generated:
    """Generate the C source of ``schedule`` (see the module docstring): every unit as a C function
    ``eq_u<pos>`` or, in a module of many units, a plain elementwise unit as a row of the module's
    program (:mod:`~eqtensor.backends.c.unit_table`); then the thunk running them."""
    gen = Emitter(schedule)
    plan = plan_units(gen.s.nodes, gen.s.outputs)
    for v in gen.s.inputs:
        gen.slot_of(v)
    const_slots = _bind_constants(gen, plan)
    # from TABLE_FROM units on, they are rows of a program (unit_table.py): elementwise units as
    # data, the others as calls of their functions
    program = Program() if len(plan.units) >= TABLE_FROM else None
    calls, releases = {}, {}  # unit root -> its call in the thunk; ifelse node -> its slot releases
    for pos, u in enumerate(plan.units):
        gen.lines = []
        if plan.members[u][-1].op.name == IFELSE:  # no function: the thunk takes the chosen input
            _release(gen, plan, pos, u)
            releases[u] = gen.lines
            continue
        at = _unit_row(gen, plan, pos, u, program) if program is not None else None
        if at is None:
            at = _unit_function(gen, plan, pos, u, program)
        calls[u] = f"if (eq_u{pos}(state, V) < 0) goto fail;" if program is None else program.statement(at, 1)
    gen.calls += thunk_calls(gen, gen.s, calls, releases)  # lazy ifelse groups as if/else blocks
    return _finish(gen, plan, len(gen.s.inputs), const_slots, program)


def _unit_row(gen, plan, pos, u, program) -> int | None:
    """Unit ``u`` (at ``pos``) as a row of ``program`` when it is a plain elementwise loop (see
    :func:`~eqtensor.backends.c.units.elem_row`): its offset, else None."""
    if plan.mode[u] != "elem":
        return None
    reuse = {id(i) for i in plan.reads[u] if i.owner is not None and plan.last.get(id(i)) == pos
             and id(i) not in gen.out_ids}
    return elem_row(gen, program, plan.members[u], reuse, _last_reads(gen, plan, pos, u),
                    lambda: _error_operands(gen, plan, u))


def _unit_function(gen, plan, pos, u, program) -> int | None:
    """Unit ``u`` (at ``pos``) as the C function ``eq_u<pos>``; its row of ``program`` (when there
    is one). One function per unit: the compiler optimizes many small functions much faster than
    one huge one."""
    attr = "__attribute__((noinline)) " if len(plan.units) > 4 else ""
    _emit_unit(gen, plan, pos, u)
    _release(gen, plan, pos, u)
    gen.funcs.append(f"static {attr}int eq_u{pos}(PyObject *state, eq_arr *V)\n{{\n" + "\n".join(gen.lines)
                     + f"\nreturn 0;\nfail:\n{_operands_on_error(gen, plan, u)}\nreturn -1;\n}}\n")
    return program.function(f"eq_u{pos}") if program is not None else None
