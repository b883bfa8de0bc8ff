"""The scalar entry of a compiled function whose values are all 0-d: ``eq_c_scalar(state, in, out)``
on bare data pointers, the units' kernel bodies one after the other in one C function.

The scan loop in C (:mod:`eqtensor.backends.c.scan_loop`) calls it once per step of a step on
scalar states (a Kalman filter, an AR or GARCH recursion) with pointers into the rows of the
sequences and of the stored outputs: no array, slot or reference count per step.

>>> from eqtensor import function, tensor as pt
>>> from eqtensor.scan import scan
>>> x = pt.dvector("x")
>>> f = function([x], scan(lambda v, s: s * 0.5 + v, sequences=x, outputs_info=0.0, return_updates=False), mode="C")
>>> step = next(n for n in f.maker.fgraph.toposort() if n.op.name == "scan").op.params["inner"].function
>>> "eq_c_entries = {eq_c_entry, eq_c_scalar}" in step.maker.backend_source, f(np.array([1.0, 2.0, 4.0]))
(True, array([1.  , 2.5 , 5.25]))
"""

from __future__ import annotations

import numpy as np

from . import kernels as K
from . import loops as L

#: units beyond which a function gets no scalar entry: its C is one function, whose compile time grows
#: faster than linearly (1 000 scalar units: +2.1 s over the module's 5.0 s; 300: +0.25 s) — a step of
#: that size does enough work per step that the C entry's set-up matters less
SCALAR_MAX_UNITS = 200

#: nodes (summed over the units) beyond which a function gets no scalar entry, for the same reason: a
#: few units fusing thousands of nodes (a sum of 3 000 scalar inputs) made 4.5 s of compiler time
SCALAR_MAX_NODES = 400


def _scalar_unit(gen, members) -> str:
    """The C block computing the fused elementwise group ``members`` of a scalar step from the data
    pointers ``P``: its kernel's body without the loop (the same loads, statements and store, so
    the same results as the kernel run on one element)."""
    out = members[-1].out
    g = gen.group(members, 0)
    operands = gen.loop_operands(g, 0)[0] + [L.Operand(gen.slot_of(out), out.dtype, [], "out")]
    loads, pre = L.declare_operands(operands, [True] * len(operands))
    stmts, result = gen.expr_body(members, g)(loads)
    return "\n".join([f"{{ char *const p[] = {{{', '.join(f'P[{o.slot}]' for o in operands)}}};", *pre, *stmts,
                      f"{loads[len(operands) - 1]} = {result}; }}"])


def scalar_entry(gen, plan, const_slots) -> list[str]:
    """The scalar entry ``eq_c_scalar(state, in, out)`` of a function whose values are all 0-d and
    whose units are all plain fused elementwise loops (a scan step on scalar states: a Kalman
    filter, an AR or GARCH recursion), else no lines. ``in``/``out`` are data pointers (the caller
    guarantees the dtypes; an output never overlaps an input): each unit's kernel body runs on them
    and on locals for the intermediates, an output computed by a unit is written in place, any other
    (an input, a constant, an output listed twice) copied. No Python object is touched:
    the scan loop's C calls it per step with pointers into the rows of the storage."""
    units = [plan.members[u] for u in plan.units]
    if not 0 < len(units) <= SCALAR_MAX_UNITS or sum(map(len, units)) > SCALAR_MAX_NODES \
            or any(plan.mode[u] != "elem" for u in plan.units) \
            or any(v is None or v.ndim != 0 or v.dtype not in K.C_TYPES for v in gen.vars) \
            or any(m.op.name in ("advanced_subtensor", "alloc") for ms in units for m in ms):
        return []
    nv, ninp = len(gen.vars), len(gen.s.inputs)
    made = {gen.slot_of(ms[-1].out) for ms in units}
    direct, copies = {}, []
    for j, o in enumerate(gen.s.outputs):
        s = gen.slot_of(o)
        if s in made and s not in direct:
            direct[s] = j
        else:
            copies.append(f"memcpy(out[{j}], P[{s}], {np.dtype(o.dtype).itemsize});")
    ptrs = [f"P[{s}] = (char *)PyArray_BYTES((PyArrayObject *)PyList_GET_ITEM(state, {si}));"
            for s, si in const_slots]
    ptrs += [f"P[{s}] = out[{direct[s]}];" if s in direct else f"P[{s}] = b[{s}].c;" for s in sorted(made)]
    return ["static void eq_c_scalar(PyObject *state, char *const *in, char *const *out)", "{",
            f"union {{ npy_longdouble l; npy_int64 i; char c[16]; }} b[{nv}]; char *P[{nv}]; int k;",
            f"for (k = 0; k < {ninp}; k++) P[k] = in[k];", *ptrs,
            *(_scalar_unit(gen, ms) for ms in units), *copies, "(void)b;", "}"]
