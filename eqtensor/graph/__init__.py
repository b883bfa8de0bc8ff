"""Graphs as an IR, with PyTensor's names (``pytensor.graph``): walk a user's graph, replace
variables in it, copy it, vectorize it over new leading dimensions.

The submodules sit at PyTensor's paths: :mod:`eqtensor.graph.basic` (``Variable``, ``Apply``,
``Constant``, ``clone``, ``equal_computations``), :mod:`eqtensor.graph.traversal` (``ancestors``,
``graph_inputs``, ``toposort``, ...), :mod:`eqtensor.graph.replace` (``clone_replace``,
``graph_replace``, ``vectorize_graph``), :mod:`eqtensor.graph.op` (``Op``),
:mod:`eqtensor.graph.rewriting` (``rewrite_graph``). See ``docs/graph-ir.md``.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.graph import explicit_graph_inputs, graph_replace
>>> x, y = pt.dvector("x"), pt.dvector("y")
>>> e = pt.exp(x)
>>> z = (e * y).sum()
>>> list(explicit_graph_inputs(z))
[y, x]
>>> w = pt.dvector("w")
>>> z2 = graph_replace(z, {e: w})
>>> function([w, y], z2)([1.0, 2.0], [3.0, 4.0])
array(11.)
"""

from .basic import Apply, Constant, Variable, clone
from .op import Op
from .replace import clone_replace, graph_replace, vectorize_graph
from .rewriting import rewrite_graph
from .traversal import ancestors, explicit_graph_inputs, graph_inputs, toposort

__all__ = [
    "Apply", "Constant", "Op", "Variable", "ancestors", "clone", "clone_replace", "explicit_graph_inputs",
    "graph_inputs", "graph_replace", "rewrite_graph", "toposort", "vectorize_graph",
]
