"""Text views of graphs: ``debugprint`` (alias ``dprint``, one node per line) and ``pprint`` (infix).

>>> from eqtensor import tensor as pt
>>> from eqtensor.printing import pprint, debugprint
>>> x = pt.dvector("x")
>>> y = pt.exp(x) * 2.0 + 1.0
>>> pprint(y)
'exp(x) * 2.0 + 1.0'
>>> debugprint(y, print_type=True)
add [id A] float64[?]
 ├─ mul [id B] float64[?]
 │  ├─ exp [id C] float64[?]
 │  │  └─ x [id D] float64[?]
 │  └─ 2.0 [id E] float64[1]
 └─ 1.0 [id F] float64[1]
"""

from __future__ import annotations

import sys

from .fgraph import FunctionGraph
from .graph import Constant, SharedVariable, Variable

_ID_TYPES = ("CHAR", "int", "")


def _char_id(k: int) -> str:
    s = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        s = chr(65 + r) + s
    return s


def _leaf_label(v: Variable) -> str:
    if isinstance(v, Constant):
        return repr(v)
    return v.name or ("<shared>" if isinstance(v, SharedVariable) else "<input>")


def _label(v: Variable) -> str:
    if v.owner is not None:
        return str(v.owner.op) + (f" '{v.name}'" if v.name else "")
    return _leaf_label(v)


def _graph_of(obj):
    """``(outputs, updates, schedule)``: ``updates`` maps an output's position to the shared
    variable it updates; ``schedule`` is the compiled schedule (compiled functions only)."""
    from .function import Function

    schedule = None
    if isinstance(obj, Function):
        schedule = obj.maker.schedule
        obj = obj.maker.fgraph
    if isinstance(obj, FunctionGraph):
        return list(obj.outputs), {k + obj.n_outputs: t for k, t in enumerate(obj.update_targets)}, schedule
    if isinstance(obj, (list, tuple)):
        outs = list(obj)
    else:
        outs = [obj]
    for o in outs:
        if not isinstance(o, Variable):
            raise TypeError(f"can only print variables, lists of variables, FunctionGraphs and compiled functions, "
                            f"got {o!r}")
    return outs, {}, schedule


def debugprint(obj, depth=-1, print_type=False, file=None, id_type="CHAR", stop_on_name=False,
               print_destroy_map=False, print_view_map=False) -> str | None:
    """Print a graph (a variable, a list of them, a ``FunctionGraph`` or a compiled function) as a tree.

    Each node gets an id; a node printed before shows only its id and ``···``. For a compiled
    function the optimized graph is printed, each node followed by its position in the schedule,
    and update expressions are marked with the shared variable they update. ``depth`` limits the
    levels printed, ``stop_on_name`` stops at named intermediate variables, ``id_type`` is
    ``"CHAR"`` (A, B, …), ``"int"`` or ``""`` (no ids). ``print_view_map`` marks outputs that
    may be views of an input (``v={0: [input]}``), ``print_destroy_map`` those a compiled
    function computes in place, overwriting a dead input's buffer (``d={0: [input]}``).
    ``file="str"`` returns the text.

    >>> import numpy as np, eqtensor as et
    >>> from eqtensor import tensor as pt
    >>> s = et.shared(np.zeros(2), name="s")
    >>> x = pt.dvector("x")
    >>> f = et.function([x], x.sum(), updates={s: s + x}, mode="FAST_COMPILE")
    >>> et.dprint(f)
    sum{axis=(0,), keepdims=False} [id A] 0
     └─ x [id B]
    add [id C] 1 ← update of s
     ├─ s [id D]
     └─ x [id B]
    """
    if id_type not in _ID_TYPES:
        raise ValueError(f"debugprint: id_type must be one of {_ID_TYPES}, got {id_type!r}")
    outs, updates, schedule = _graph_of(obj)
    order = {} if schedule is None else {id(node): k for k, node in enumerate(schedule.nodes)}
    inplace = {} if schedule is None else schedule.inplace
    lines: list[str] = []
    ids: dict[int, str] = {}

    def visit(v, prefix, child_prefix, d, top):
        seen = id(v) in ids
        if not seen:
            ids[id(v)] = _char_id(len(ids)) if id_type == "CHAR" else str(len(ids))
        parts = [prefix + _label(v)]
        if id_type:
            parts.append(f"[id {ids[id(v)]}]")
        if print_type:
            parts.append(str(v.type))
        if v.owner is not None:
            k = order.get(id(v.owner))
            if print_destroy_map and k in inplace:
                parts.append(f"d={{0: [{inplace[k]}]}}")
            if print_view_map and v.owner.op.defn.view_of is not None:
                parts.append(f"v={{0: [{v.owner.op.defn.view_of}]}}")
            if k is not None:
                parts.append(str(k))
        if seen and v.owner is not None:
            parts.append("···")
        lines.append(" ".join(parts))
        if seen or v.owner is None or d == 0 or (stop_on_name and v.name and not top):
            return
        ins = v.owner.inputs
        for k, i in enumerate(ins):
            last = k == len(ins) - 1
            branch, indent = ("└─ ", "   ") if last else ("├─ ", "│  ")
            visit(i, child_prefix + branch, child_prefix + indent, d - 1, False)

    for k, o in enumerate(outs):
        start = len(lines)
        visit(o, "", " ", depth, True)
        if k in updates:
            lines[start] += f" ← update of {_leaf_label(updates[k])}"
    text = "\n".join(lines)
    if file == "str":
        return text
    print(text, file=file or sys.stdout)
    return None


dprint = debugprint

# infix rendering: op name -> (symbol, precedence); higher binds tighter (Python's table)
_BINARY = {
    "pow": ("**", 7), "mul": ("*", 5), "true_div": ("/", 5), "floor_div": ("//", 5), "mod": ("%", 5),
    "add": ("+", 4), "sub": ("-", 4), "and_": ("&", 3), "xor": ("^", 2), "or_": ("|", 1),
    "lt": ("<", 0), "le": ("<=", 0), "gt": (">", 0), "ge": (">=", 0), "eq": ("==", 0), "neq": ("!=", 0),
}
_UNARY = {"neg": "-", "invert": "~"}
_ATOM = 9


def _render(v: Variable, memo: dict) -> tuple[str, int]:
    """``(text, precedence)`` of an expression."""
    key = id(v)
    if key in memo:
        return memo[key]
    node = v.owner
    if node is None:
        text = _leaf_label(v)
        res = (f"({text})" if isinstance(v, Constant) and text.startswith("-") else text, _ATOM)
    elif node.op.name in _BINARY and len(node.inputs) == 2:
        sym, prec = _BINARY[node.op.name]
        (lt, lp), (rt, rp) = (_render(i, memo) for i in node.inputs)
        right_assoc = node.op.name == "pow"
        if lp < prec or (lp == prec and (right_assoc or prec == 0)):
            lt = f"({lt})"
        if rp < prec or (rp == prec and not right_assoc):
            rt = f"({rt})"
        res = (f"{lt} {sym} {rt}", prec)
    elif node.op.name in _UNARY:
        t, p = _render(node.inputs[0], memo)
        res = (_UNARY[node.op.name] + (t if p >= 6 else f"({t})"), 6)
    else:
        res = (f"{node.op}({', '.join(_render(i, memo)[0] for i in node.inputs)})", _ATOM)
    memo[key] = res
    return res


def pprint(obj) -> str:
    """A readable infix rendering of an expression (shared subexpressions are repeated).

    Lists give one line per output; compiled functions and ``FunctionGraph`` s show the optimized
    outputs followed by ``shared ← expression`` lines for the updates.

    >>> import eqtensor as et
    >>> from eqtensor import tensor as pt
    >>> a, b = pt.dscalar("a"), pt.dscalar("b")
    >>> print(pprint((a - (b - 1.0)) ** 2 / -a))
    (a - (b - 1.0)) ** 2.0 / -a
    >>> acc = et.shared(0.0, name="acc")
    >>> print(pprint(et.function([a], acc, updates={acc: acc + a}, mode="FAST_COMPILE")))
    acc
    acc ← acc + a
    """
    outs, updates, _ = _graph_of(obj)
    memo: dict = {}
    lines = []
    for k, o in enumerate(outs):
        text = _render(o, memo)[0]
        lines.append(f"{_leaf_label(updates[k])} ← {text}" if k in updates else text)
    return "\n".join(lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def pydotprint(obj, outfile=None, format=None, print_type=True) -> str:
    """The graph in Graphviz's DOT language; written to ``outfile`` if given.

    Nodes are op applications (boxes), inputs (green), shared variables (blue) and constants
    (grey); edges go from an input to its consumer and are labelled with the input position when
    a node has several inputs. Outputs have a double border; an update is a dashed edge to the
    shared variable it updates. ``format`` (default: ``outfile``'s extension) other than ``"dot"``
    renders through Graphviz's ``dot`` program, which must then be installed.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> print(pydotprint(pt.exp(x) + 1.0, print_type=False))
    digraph eqtensor {
      rankdir=BT;
      n0 [label="x", shape=ellipse, style=filled, fillcolor="#c8e6c9"];
      n1 [label="exp", shape=box, style=rounded];
      n0 -> n1;
      n2 [label="1.0", shape=box, style=filled, fillcolor="#eeeeee"];
      n3 [label="add", shape=box, style=rounded, peripheries=2];
      n1 -> n3 [label="0"];
      n2 -> n3 [label="1"];
    }
    """
    import os
    import shutil
    import subprocess

    outs, updates, _ = _graph_of(obj)
    out_ids = {id(o) for k, o in enumerate(outs) if k not in updates}
    names: dict[int, str] = {}
    lines = ["digraph eqtensor {", "  rankdir=BT;"]

    def node(v) -> str:
        if id(v) in names:
            return names[id(v)]
        ins = [node(i) for i in v.owner.inputs] if v.owner is not None else []
        name = names[id(v)] = f"n{len(names)}"
        label = _dot_escape(_label(v)) + (f"\\n{v.type}" if print_type else "")
        if v.owner is not None:
            attrs = "shape=box, style=rounded"
        elif isinstance(v, Constant):
            attrs = 'shape=box, style=filled, fillcolor="#eeeeee"'
        elif isinstance(v, SharedVariable):
            attrs = 'shape=ellipse, style=filled, fillcolor="#bbdefb"'
        else:
            attrs = 'shape=ellipse, style=filled, fillcolor="#c8e6c9"'
        if id(v) in out_ids:
            attrs += ", peripheries=2"
        lines.append(f'  {name} [label="{label}", {attrs}];')
        for k, i in enumerate(ins):
            lines.append(f"  {i} -> {name}" + (f' [label="{k}"]' if len(ins) > 1 else "") + ";")
        return name

    for k, o in enumerate(outs):
        src = node(o)
        if k in updates:
            lines.append(f'  {src} -> {node(updates[k])} [style=dashed, label="update", constraint=false];')
    lines.append("}")
    text = "\n".join(lines)
    if outfile is not None:
        fmt = format or os.path.splitext(str(outfile))[1].lstrip(".") or "dot"
        if fmt == "dot":
            with open(outfile, "w") as fh:
                fh.write(text + "\n")
        else:
            exe = shutil.which("dot")
            if exe is None:
                raise RuntimeError(f"pydotprint: rendering to {fmt!r} needs Graphviz's 'dot' program, which is not "
                                   f"installed; write the DOT text with outfile='graph.dot' instead")
            subprocess.run([exe, f"-T{fmt}", "-o", str(outfile)], input=text, text=True, check=True)
    return text
