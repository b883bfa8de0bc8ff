"""The NumPy backend: one generated straight-line Python function per compiled graph.

Each node becomes one line (a ufunc call, an inline NumPy expression from the op's template,
or a call of the op's ``perform``); dead intermediates are overwritten through ``out=`` when the
schedule allows it, and PyTensor's static-broadcasting rule is checked where a run-time length
could differ.

>>> from eqtensor import tensor as pt, function
>>> x = pt.dvector("x")
>>> f = function([x], pt.exp(x) + 1, mode="NUMPY")
>>> print(f.maker.backend_source)  # doctest: +ELLIPSIS
@np.errstate(all='ignore')
def thunk(x):
...
"""

from __future__ import annotations

import functools
import keyword
import re

import numpy as np

from ..core.op import runtime_broadcast_checks
from .schedule import Schedule


def _broadcast_error(opname, axis, names, shapes):
    desc = ", ".join(f"{n}: shape {s}" for n, s in zip(names, shapes))
    return ValueError(
        f"{opname}: run-time lengths differ along axis {axis} ({desc}). Only dimensions declared with "
        f"static length 1 broadcast (PyTensor semantics); declare the input with shape=(..., 1, ...) "
        f"to broadcast it"
    )


class _Names:
    def __init__(self):
        self.names: dict[int, str] = {}
        self.used: set[str] = {"np", "thunk", "tuple"}
        self.counters: dict[str, int] = {}

    def fresh(self, base: str, internal: bool = False) -> str:
        base = re.sub(r"\W", "_", base) or "v"
        if base[0].isdigit() or keyword.iskeyword(base) or (base.startswith("_") and not internal):
            base = "v_" + base
        name, k = base, self.counters.get(base, 1)
        while name in self.used:
            name = f"{base}_{k}"
            k += 1
        self.counters[base] = k
        self.used.add(name)
        return name

    def of(self, v) -> str:
        return self.names[id(v)]


def generate(schedule: Schedule) -> tuple[str, dict]:
    """Python source of ``thunk(*inputs) -> tuple(outputs)`` and the namespace it needs."""
    ns: dict = {"np": np, "_bcast_error": _broadcast_error}
    names = _Names()
    for v in schedule.inputs:
        names.names[id(v)] = names.fresh(v.name or "inp")
    lines = ["@np.errstate(all='ignore')", f"def thunk({', '.join(names.of(v) for v in schedule.inputs)}):"]
    body: list[str] = []
    consts: dict = {}
    for k, node in enumerate(schedule.nodes):
        ins = []
        for i in node.inputs:
            if id(i) not in names.names:
                if i.owner is not None:
                    raise RuntimeError(f"schedule order broken at {node}")
                cname = names.fresh("c")
                names.names[id(i)] = cname
                ns[cname] = i.data if hasattr(i, "data") else i.get_value(borrow=True)
                consts[cname] = i
            ins.append(names.of(i))
        out = node.out
        oname = names.fresh(out.name or node.op.name)
        names.names[id(out)] = oname
        defn = node.op.defn
        if defn.kind == "elemwise":
            for axis, idx in runtime_broadcast_checks(node.inputs):
                idx = [j for n, j in enumerate(idx) if ins[j] not in [ins[i] for i in idx[:n]]]
                if len(idx) < 2:
                    continue
                first = ins[idx[0]]
                conds = " or ".join(f"{ins[j]}.shape[{axis}] != {first}.shape[{axis}]" for j in idx[1:])
                args = ", ".join(ins[j] for j in idx)
                labels = tuple(node.inputs[j].name or ins[j] for j in idx)
                body.append(
                    f"if {conds}: raise _bcast_error({node.op.name!r}, {axis}, "
                    f"{labels!r}, [np.shape(a) for a in ({args},)])"
                )
        if defn.ufunc is not None:
            uname = f"_u_{defn.name}"
            ns[uname] = defn.ufunc
            if k in schedule.inplace:
                expr = f"{uname}({', '.join(ins)}, out={ins[schedule.inplace[k]]})"
            else:
                expr = f"{uname}({', '.join(ins)})"
        elif defn.numpy is not None:
            expr = defn.numpy.format(*ins, **node.op.params)
        else:
            pname = names.fresh(f"_p_{defn.name}", internal=True)
            ns[pname] = functools.partial(defn.perform, **node.op.params) if node.op.params else defn.perform
            expr = f"{pname}({', '.join(ins)})"
        body.append(f"{oname} = {expr}")
    outs = []
    for o, copy in zip(schedule.outputs, schedule.copy_outputs):
        if id(o) not in names.names:  # an output that is a constant or an unused leaf
            cname = names.fresh("c")
            names.names[id(o)] = cname
            ns[cname] = o.data if hasattr(o, "data") else None
        n = names.of(o)
        if copy:
            outs.append(f"np.array({n}, copy=True)")
        elif o.ndim == 0:
            outs.append(f"np.asarray({n})")
        else:
            outs.append(n)
    body.append(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    lines.extend("    " + b for b in body)
    return "\n".join(lines) + "\n", ns


def compile_schedule(schedule: Schedule):
    """Build the Python callable for ``schedule``; returns ``(thunk, source)``."""
    src, ns = generate(schedule)
    code = compile(src, "<eqtensor-numpy>", "exec")
    exec(code, ns)
    return ns["thunk"], src
