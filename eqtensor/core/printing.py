"""Text views of graphs: ``debugprint`` (one node per line, shared nodes shown once) and ``pprint``.

>>> from eqtensor import tensor as pt
>>> from eqtensor.printing import pprint, debugprint
>>> x = pt.dvector("x")
>>> pprint(pt.exp(x) * 2.0)
'mul(exp(x), 2.0)'
>>> print(debugprint(pt.exp(x) * 2.0, file="str"))
mul [id A] float64[?]
 ├─ exp [id B] float64[?]
 │   └─ x [id C] float64[?]
 └─ 2.0 [id D] float64[1]
"""

from __future__ import annotations

import io
import sys

from .graph import Constant, SharedVariable, Variable


def _ident(k: int) -> str:
    s = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        s = chr(65 + r) + s
    return s


def _label(v: Variable) -> str:
    if v.owner is not None:
        return str(v.owner.op) + (f" '{v.name}'" if v.name else "")
    if isinstance(v, Constant):
        return repr(v)
    if isinstance(v, SharedVariable):
        return f"{v.name or 'shared'} (shared)"
    return v.name or "<input>"


def debugprint(obj, file=None, print_type=True, ids="id", depth=-1) -> str | None:
    """Print a graph (a variable, a list of them, or a compiled function) as an indented tree.

    ``file="str"`` returns the text instead of printing it. Nodes seen before are printed once,
    later references show only their ``[id X]``.
    """
    from .function import Function

    if isinstance(obj, Function):
        outs = list(obj.maker.fgraph.outputs)
    elif isinstance(obj, (list, tuple)):
        outs = list(obj)
    else:
        outs = [obj]
    buf = io.StringIO()
    names: dict[int, str] = {}

    def visit(v, prefix, child_prefix, d):
        seen = id(v) in names
        if not seen:
            names[id(v)] = _ident(len(names))
        line = f"{prefix}{_label(v)} [id {names[id(v)]}]"
        if print_type:
            line += f" {v.type}"
        buf.write(line + ("" if not seen or v.owner is None else " ···") + "\n")
        if seen or v.owner is None or d == 0:
            return
        ins = v.owner.inputs
        for k, i in enumerate(ins):
            last = k == len(ins) - 1
            visit(i, child_prefix + (" └─ " if last else " ├─ "), child_prefix + ("    " if last else " │  "), d - 1)

    for o in outs:
        visit(o, "", "", depth)
    text = buf.getvalue().rstrip("\n")
    if file == "str":
        return text
    print(text, file=file or sys.stdout)
    return None


def pprint(v: Variable) -> str:
    """A one-line functional rendering of an expression (shared subexpressions repeated)."""
    memo: dict[int, str] = {}

    def go(x):
        if id(x) in memo:
            return memo[id(x)]
        if x.owner is None:
            s = _label(x) if not isinstance(x, SharedVariable) else (x.name or "shared")
        else:
            s = f"{x.owner.op}({', '.join(go(i) for i in x.owner.inputs)})"
        memo[id(x)] = s
        return s

    return go(v)


dprint = debugprint
