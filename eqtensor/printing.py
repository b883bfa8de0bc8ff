"""Views of graphs (``pytensor.printing``): ``debugprint`` (alias ``dprint``, one node per line),
``pprint`` (alias ``pp``, infix), ``pydotprint`` (graphviz DOT), ``Print`` (an identity that prints
a value when the compiled function computes it), and ``egraph_to_dot`` (DOT text of a saturated
e-graph, from a report made with ``keep_egraph=True``). Each takes a variable, a list of them, a
:class:`~eqtensor.core.fgraph.FunctionGraph` or a compiled function.

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

from .compile.compiled_function import Function
from .core.fgraph import FunctionGraph
from .core.graph import Constant, SharedVariable, Variable
from .core.op import OPS, Op, as_tensor_variable
from .core.ops.subtensor import SYM
from .egraph.render import egraph_to_dot

__all__ = ["Print", "debugprint", "dprint", "egraph_to_dot", "pp", "pprint", "pydotprint"]

_ID_TYPES = ("CHAR", "int", "")

# debugprint draws at most this many levels below a tree's root; a deeper branch is cut there and
# continued as a tree of its own below, so a line's indentation (and the text) stays linear in size
_MAX_LEVELS = 100

# pprint writes shared subterms inline while the expanded text has at most this many nodes
_PPRINT_INLINE_NODES = 100


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


def _postorder(roots, done: set) -> list:
    """The variables reachable from ``roots`` and not in ``done`` (ids), each once, every variable
    after its inputs (depth first, inputs in order, as a recursive walk would list them); their ids
    are added to ``done``. Iterative: graphs deeper than Python's recursion limit are fine."""
    order = []
    for r in roots:
        if id(r) in done:
            continue
        done.add(id(r))
        stack = [(r, 0)]
        while stack:
            v, k = stack[-1]
            ins = v.owner.inputs if v.owner is not None else ()
            if k < len(ins):
                stack[-1] = (v, k + 1)
                i = ins[k]
                if id(i) not in done:  # a DAG: a variable on the stack is never reached again from above it
                    done.add(id(i))
                    stack.append((i, 0))
            else:
                stack.pop()
                order.append(v)
    return order


def debugprint(obj, depth=-1, print_type=False, file=None, id_type="CHAR", stop_on_name=False,
               print_destroy_map=False, print_view_map=False) -> str | None:
    """Print a graph (a variable, a list of them, a ``FunctionGraph`` or a compiled function) as a tree.

    Each node gets an id; a node whose inputs were already shown shows only its id and ``···``, so
    the text is linear in the number of distinct nodes however much the graph shares. For a compiled
    function the optimized graph is printed, each node followed by its position in the schedule,
    and update expressions are marked with the shared variable they update. ``depth=n`` prints
    ``n`` levels, each output being level 1 (as PyTensor: ``1``, the outputs alone; ``0`` nothing;
    negative, the default: no limit); a
    node cut off by ``depth`` (or by ``stop_on_name``) is shown without ``···`` and is expanded
    where it occurs again within the limit. ``stop_on_name`` stops at named intermediate
    variables, ``id_type`` is ``"CHAR"`` (A, B, …), ``"int"`` or ``""`` (no ids).
    ``print_view_map`` marks outputs that may be views of an input (``v={0: [input]}``),
    ``print_destroy_map`` those a compiled function computes in place, overwriting a dead input's
    buffer (``d={0: [input]}``). ``file="str"`` returns the text.

    Branches deeper than 100 levels are cut: the node at level 100 shows ``···`` and heads a tree
    of its own, printed after its output's tree, so no line is indented by more than 100 levels.
    The graph is walked without recursion, so any depth prints.

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
    expanded: set[int] = set()  # nodes whose inputs are (or, when cut at _MAX_LEVELS, will be) shown

    def head(v, prefix) -> list[str]:
        if id(v) not in ids:
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
        return parts

    for k, o in enumerate(outs):
        start = len(lines)
        if depth == 0:
            continue  # PyTensor's depth counts the output as level 1: 0 prints nothing
        trees = [(o, depth - 1 if depth > 0 else -1, False)]  # (root, levels left below it, continues a cut
        # branch); grows while printing
        for root, root_depth, continued in trees:
            stack = [(root, "", " ", root_depth, 0)]  # pre-order: the top of the stack prints next
            while stack:
                v, prefix, child_prefix, d, level = stack.pop()
                parts = head(v, prefix)
                if v.owner is not None and not (continued and level == 0):
                    if id(v) in expanded:
                        parts.append("···")
                        v = None
                    elif d == 0 or (stop_on_name and v.name and level > 0):
                        v = None
                    else:
                        expanded.add(id(v))
                        if level >= _MAX_LEVELS:
                            parts.append("···")
                            trees.append((v, d, True))
                            v = None
                lines.append(" ".join(parts))
                if v is None or v.owner is None:
                    continue
                ins = v.owner.inputs
                for j in range(len(ins) - 1, -1, -1):
                    branch, indent = ("└─ ", "   ") if j == len(ins) - 1 else ("├─ ", "│  ")
                    stack.append((ins[j], child_prefix + branch, child_prefix + indent, d - 1, level + 1))
        if k in updates:
            lines[start] += f" ← update of {_leaf_label(updates[k])}"
    text = "\n".join(lines)
    if file == "str":
        return text
    print(text, file=file or sys.stdout)
    return None


dprint = debugprint


def _function_dprint(self, **kwargs):
    """``debugprint`` of this compiled function (PyTensor's ``Function.dprint``; keywords as
    :func:`debugprint`'s)."""
    return debugprint(self, **kwargs)


#: PyTensor's ``Function.dprint``: the compile layer cannot import the printers, so they give it
Function.dprint = _function_dprint

# infix rendering: op name -> (symbol, precedence); higher binds tighter (Python's table)
_BINARY = {
    "pow": ("**", 7), "mul": ("*", 5), "true_div": ("/", 5), "floor_div": ("//", 5), "mod": ("%", 5),
    "add": ("+", 4), "sub": ("-", 4), "and_": ("&", 3), "xor": ("^", 2), "or_": ("|", 1),
    "lt": ("<", 0), "le": ("<=", 0), "gt": (">", 0), "ge": (">=", 0), "eq": ("==", 0), "neq": ("!=", 0),
}
_UNARY = {"neg": "-", "invert": "~"}
_UNARY_PREC = 6
_ATOM = 9


def _precedence(v: Variable, names: dict) -> int:
    node = v.owner
    if node is None or id(v) in names:
        return _ATOM
    if node.op.name in _BINARY and len(node.inputs) == 2:
        return _BINARY[node.op.name][1]
    if node.op.name in _UNARY:
        return _UNARY_PREC
    return _ATOM


def _infix(root: Variable, names: dict, define: bool = False) -> str:
    """Infix text of ``root``; a subterm named in ``names`` (id -> name) is written as its name
    (``root`` itself too unless ``define``). Iterative, and linear in the size of the text."""
    out: list[str] = []
    stack: list = [root]  # strings are written as they are, variables rendered; the top comes next
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
            continue
        node = v.owner
        if id(v) in names and not (define and v is root):
            out.append(names[id(v)])
        elif node is None:
            text = _leaf_label(v)
            out.append(f"({text})" if isinstance(v, Constant) and text.startswith("-") else text)
        elif node.op.name in _BINARY and len(node.inputs) == 2:
            sym, prec = _BINARY[node.op.name]
            left, right = node.inputs
            lp, rp = _precedence(left, names), _precedence(right, names)
            right_assoc = node.op.name == "pow"
            items: list = [left]
            if lp < prec or (lp == prec and (right_assoc or prec == 0)):
                items = ["(", left, ")"]
            items.append(f" {sym} ")
            items += ["(", right, ")"] if rp < prec or (rp == prec and not right_assoc) else [right]
            stack.extend(reversed(items))
        elif node.op.name in _UNARY:
            arg = node.inputs[0]
            if _precedence(arg, names) >= _UNARY_PREC:
                stack.extend([arg, _UNARY[node.op.name]])
            else:
                stack.extend([")", arg, _UNARY[node.op.name] + "("])
        else:
            items = _notation(node, names)
            if items is None:
                items = [f"{node.op}("]
                for k, i in enumerate(node.inputs):
                    items += [", ", i] if k else [i]
                items.append(")")
            stack.extend(reversed(items))
    return "".join(out)


def _operand(v: Variable, names: dict) -> list:
    """``v`` as the operand of a subscript or an attribute: parenthesized unless an atom."""
    return [v] if _precedence(v, names) >= _ATOM else ["(", v, ")"]


def _notation(node, names: dict) -> list | None:
    """PyTensor's notation of indexing (``x[0, 1:]``, ``set_subtensor(x[i], y)``), transposes
    (``x.T``) and reductions (``sum(x, axis=(0,))``) as text and variables, or None."""
    name, params = node.op.name, node.op.params
    if name in ("subtensor", "advanced_subtensor"):
        return _subscript(node.inputs[0], params["idx_list"], node.inputs[1:], names)
    if name in ("set_subtensor", "inc_subtensor"):
        return [f"{name}("] + _subscript(node.inputs[0], params["idx_list"], node.inputs[2:], names) + [
            ", ", node.inputs[1], ")"]
    if name == "dimshuffle" and len(params["order"]) > 1 and params["order"] == tuple(
            reversed(range(node.inputs[0].ndim))):
        return _operand(node.inputs[0], names) + [".T"]
    if node.op.defn.kind == "reduce" and set(params) == {"axis", "keepdims"}:
        return [f"{name}(", node.inputs[0], f", axis={params['axis']}",
                ", keepdims=True)" if params["keepdims"] else ")"]
    return None


def _subscript(base: Variable, entries, idx_inputs, names: dict) -> list:
    """``base[entries]``, symbolic parts taken from ``idx_inputs`` in order; trailing full slices
    are left out (``x[0]`` of a matrix, as written)."""
    it = iter(idx_inputs)
    parts = []
    for e in entries:
        if e[0] == "int":
            parts.append([next(it) if e[1] == SYM else str(e[1])])
        elif e[0] == "slice":
            start, stop, step = ([] if p is None else [next(it)] if p == SYM else [str(p)] for p in e[1:])
            parts.append(start + [":"] + stop + ([":"] + step if step else []))
        elif e[0] in ("array", "mask"):
            parts.append([next(it)])
        else:
            parts.append(["None" if e[0] == "new" else "..."])
    while len(parts) > 1 and parts[-1] == [":"]:
        parts.pop()
    items = _operand(base, names) + ["["]
    for k, p in enumerate(parts):
        items += ([", "] if k else []) + p
    return items + ["]"]


def pprint(obj) -> str:
    """A readable infix rendering of an expression, in PyTensor's notation for indexing
    (``x[0, 1:]``, ``set_subtensor(x[i], y)``), transposes (``x.T``) and reductions
    (``sum(x, axis=(0,))``), with Python's operator precedence (no redundant parentheses).

    Lists give one line per output; compiled functions and ``FunctionGraph`` s show the optimized
    outputs followed by ``shared ← expression`` lines for the updates.

    Shared subterms (one variable object used several times) are written out at each use as long
    as the whole text, so expanded, has at most 100 nodes (op applications, inputs and constants):
    ``e = pt.exp(x); pprint(e / (1 + e))`` is ``'exp(x) / (1.0 + exp(x))'``, and a graph without
    sharing prints inline whatever its size. Past that bound, where repeating would make the text
    grow (up to exponentially), every op application used more than once (by other nodes or as
    several outputs) is named ``%1``, ``%2``, … on a line ``%k = expression`` of its own, printed
    before the outputs, inputs before their users; the text is then linear in the number of
    distinct nodes. Inputs and constants are never named. The graph is walked without recursion,
    so any depth prints.

    >>> import eqtensor as et
    >>> from eqtensor import tensor as pt
    >>> a, b = pt.dscalar("a"), pt.dscalar("b")
    >>> print(pprint((a - (b - 1.0)) ** 2 / -a))
    (a - (b - 1.0)) ** 2.0 / -a
    >>> acc = et.shared(0.0, name="acc")
    >>> print(pprint(et.function([a], acc, updates={acc: acc + a}, mode="FAST_COMPILE")))
    acc
    acc ← acc + a
    >>> e = a
    >>> for _ in range(4):
    ...     e = pt.exp(e) * e + e
    >>> print(pprint(e))
    %1 = exp(a) * a + a
    %2 = exp(%1) * %1 + %1
    %3 = exp(%2) * %2 + %2
    exp(%3) * %3 + %3
    """
    outs, updates, _ = _graph_of(obj)
    nodes = _postorder(outs, set())
    uses: dict[int, int] = {}
    for o in outs:
        uses[id(o)] = uses.get(id(o), 0) + 1
    size: dict[int, int] = {}  # nodes of the expanded text, capped past the bound
    cap = _PPRINT_INLINE_NODES + 1
    for v in nodes:
        if v.owner is None:
            size[id(v)] = 1
            continue
        n = 1
        for i in v.owner.inputs:
            uses[id(i)] = uses.get(id(i), 0) + 1
            n += size[id(i)]
        size[id(v)] = min(n, cap)
    names: dict[int, str] = {}
    if sum(size[id(o)] for o in outs) > _PPRINT_INLINE_NODES:
        for v in nodes:
            if v.owner is not None and uses[id(v)] > 1:
                names[id(v)] = f"%{len(names) + 1}"
    lines = [f"{names[id(v)]} = {_infix(v, names, define=True)}" for v in nodes if id(v) in names]
    for k, o in enumerate(outs):
        text = _infix(o, names)
        lines.append(f"{_leaf_label(updates[k])} ← {text}" if k in updates else text)
    return "\n".join(lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def pydotprint(obj, outfile=None, format=None, print_type=True, var_with_name_simple=False) -> str:
    """The graph in Graphviz's DOT language; written to ``outfile`` if given.

    Nodes are op applications (boxes), inputs (green), shared variables (blue) and constants
    (grey); edges go from an input to its consumer and are labelled with the input position when
    a node has several inputs. Outputs have a double border; an update is a dashed edge to the
    shared variable it updates. Each distinct node is written once, inputs first, and the graph
    is walked without recursion, so the text is linear in the size of the graph, whatever its
    depth. ``format`` (default: ``outfile``'s extension) other than ``"dot"`` renders through
    Graphviz's ``dot`` program, which must then be installed. ``var_with_name_simple=True`` labels
    a named variable with its name alone (no type), as PyTensor's.

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
    done: set[int] = set()
    lines = ["digraph eqtensor {", "  rankdir=BT;"]

    def write(roots) -> None:
        for v in _postorder(roots, done):
            name = names[id(v)] = f"n{len(names)}"
            ins = [names[id(i)] for i in v.owner.inputs] if v.owner is not None else []
            simple = var_with_name_simple and v.name is not None
            label = _dot_escape(_label(v)) + (f"\\n{v.type}" if print_type and not simple else "")
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

    for k, o in enumerate(outs):
        write([o])
        if k in updates:
            write([updates[k]])
            lines.append(f'  {names[id(o)]} -> {names[id(updates[k])]} [style=dashed, label="update", '
                         f'constraint=false];')
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


class Print:
    """An identity that prints its input's value each time a compiled function computes it, on every
    backend: ``Print("x")(x)`` prints ``x __str__ = <value>`` (one line per name of ``attrs``,
    attributes of the value, called if callable). It is an op of kind ``effect``: never folded at
    compile time, kept by the optimizer (two identical prints of one value are one node, as with
    PyTensor's merge); its gradient is the identity's. PyTensor's ``global_fn`` is not supported.

    >>> import numpy as np, eqtensor as et
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> f = et.function([x], Print("x is", attrs=("__str__", "shape"))(x) * 2)
    >>> f(np.array([1.0, 2.0]))
    x is __str__ = [1. 2.]
    x is shape = (2,)
    array([2., 4.])
    """

    def __init__(self, message="", attrs=("__str__",), global_fn=None):
        if global_fn is not None:
            raise NotImplementedError("Print(global_fn=...) is not supported: use attrs= (names of attributes or "
                                      "methods of the value)")
        if isinstance(attrs, str) or not all(isinstance(a, str) for a in attrs):
            raise TypeError(f"Print(attrs=...) takes a tuple of attribute names, got {attrs!r}")
        self.message = str(message)
        self.attrs = tuple(attrs)

    def __call__(self, x) -> Variable:
        return Op(OPS["print"], {"message": self.message, "attrs": self.attrs})(as_tensor_variable(x))


pp = pprint
