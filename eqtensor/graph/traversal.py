"""Walking graphs, at PyTensor's path ``pytensor.graph.traversal``.

Every walk is iterative (graphs thousands of nodes deep are fine). As in PyTensor, ``ancestors``,
``graph_inputs``, ``explicit_graph_inputs``, ``vars_between``, ``orphans_between``,
``applys_between`` and ``toposort`` return generators; ``io_toposort``, ``general_toposort`` and
``truncated_graph_inputs`` return lists.

>>> from eqtensor import tensor as pt
>>> from eqtensor.graph.traversal import ancestors, graph_inputs, toposort
>>> x, y = pt.dvector("x"), pt.dvector("y")
>>> z = pt.exp(x) * y
>>> list(graph_inputs([z]))
[y, x]
>>> [node.op.name for node in toposort([z])]
['exp', 'mul']
"""

from ..core.traversal import (
    apply_ancestors, apply_depends_on, explicit_graph_inputs, general_toposort, get_var_by_name, io_toposort,
    orphans_between, truncated_graph_inputs, variable_depends_on, vars_between, walk,
)
from ..core.traversal import applys_between
from ..core.traversal import iter_ancestors as ancestors
from ..core.traversal import iter_graph_inputs as graph_inputs
from ..core.traversal import iter_toposort as toposort

#: PyTensor's alias of :func:`ancestors`
variable_ancestors = ancestors

__all__ = [
    "ancestors", "apply_ancestors", "apply_depends_on", "applys_between", "explicit_graph_inputs", "general_toposort",
    "get_var_by_name", "graph_inputs", "io_toposort", "orphans_between", "toposort", "truncated_graph_inputs",
    "variable_ancestors", "variable_depends_on", "vars_between", "walk",
]
