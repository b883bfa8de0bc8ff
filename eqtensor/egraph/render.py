"""Graphviz (DOT text) rendering of a saturated e-graph (graphs themselves:
:func:`eqtensor.printing.pydotprint`).

>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> from eqtensor.core.fgraph import FunctionGraph
>>> from eqtensor.egraph import optimize_graph
>>> _, report = optimize_graph(FunctionGraph([x], [pt.log(1 + pt.exp(x))], 1, 1), keep_egraph=True)
>>> dot = egraph_to_dot(report)
>>> "cluster" in dot and "softplus" in dot
True
"""

from __future__ import annotations

from ..core.graph import Constant
from .program import PARAMS, TYPES


def _quote(s) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _leaf_label(v) -> str:
    if isinstance(v, Constant):
        return repr(v)
    return v.name or v.auto_name


def egraph_to_dot(report, name: str = "egraph") -> str:
    """DOT text of the e-graph kept in ``report.egraph`` (run ``optimize_graph(..., keep_egraph=True)``):
    one cluster per e-class labelled with its type, e-nodes inside, chosen e-nodes filled, edges from
    e-nodes to child e-classes."""
    snap = report.egraph
    if snap is None:
        raise ValueError("the report holds no e-graph: optimize with keep_egraph=True")
    chosen = set(snap.selection.values())
    by_class: dict[int, list[int]] = {}
    for k, e in enumerate(snap.enodes):
        by_class.setdefault(e[0], []).append(k)
    lines = [f"digraph {_quote(name)} {{", "  compound=true; rankdir=BT;", "  node [fontname=Helvetica];"]
    anchor = {}
    for cls in sorted(by_class):
        t = TYPES[snap.class_type[cls]] if cls in snap.class_type else "?"
        lines.append(f"  subgraph cluster_{cls} {{ label={_quote(f'e-class {cls}: {t}')}; style=dashed;")
        for k in by_class[cls]:
            _, op, pid, kids, leaf = snap.enodes[k]
            if op is None:
                label = _leaf_label(snap.leaves[leaf])
            else:
                params = ", ".join(f"{a}={b!r}" for a, b in PARAMS[pid])
                label = f"{op}{{{params}}}" if params else op
            style = ", style=filled, fillcolor=lightblue" if k in chosen else ""
            lines.append(f"    e{k} [shape=box, label={_quote(label)}{style}];")
            anchor.setdefault(cls, k)
        lines.append("  }")
    for k, (cls, op, pid, kids, leaf) in enumerate(snap.enodes):
        for c in kids:
            lines.append(f"  e{k} -> e{anchor[c]} [lhead=cluster_{c}];")
    for i, r in enumerate(snap.roots):
        lines.append(f"  out{i} [shape=plaintext, label={_quote(f'output {i}')}];")
        lines.append(f"  e{anchor[r]} -> out{i} [ltail=cluster_{r}];")
    lines.append("}")
    return "\n".join(lines)
