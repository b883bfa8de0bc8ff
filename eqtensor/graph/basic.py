"""Graph objects and copying, at PyTensor's path ``pytensor.graph.basic``.

eqtensor's nodes have one output: ``Apply(op, inputs, out_type)`` builds a node and its output
variable (``node.out``, also ``node.outputs[0]``); ops are called on variables to build nodes
(``node.op(*inputs)``, PyTensor's ``op.make_node``). The walking functions PyTensor moved to
:mod:`eqtensor.graph.traversal` are importable from here too, as they were in PyTensor.

>>> from eqtensor import tensor as pt
>>> from eqtensor.graph.basic import Apply, Variable, clone, equal_computations
>>> x = pt.dvector("x")
>>> y = pt.exp(x) + 1
>>> isinstance(y, Variable) and isinstance(y.owner, Apply), y.owner.op.name, y.owner.inputs[1]
(True, 'add', 1.0)
>>> [x2], [y2] = clone([x], [y])
>>> y2 is y, equal_computations([y2], [y], in_xs=[x2], in_ys=[x])
(False, True)
"""

from ..core.graph import Apply, Constant, SharedVariable, TensorType, Variable
from ..core.traversal import equal_computations
from ..core.replace import clone, clone_get_equiv
from .traversal import (
    ancestors, applys_between, explicit_graph_inputs, general_toposort, get_var_by_name, graph_inputs, io_toposort,
    orphans_between, truncated_graph_inputs, vars_between, walk,
)

__all__ = [
    "Apply", "Constant", "SharedVariable", "TensorType", "Variable", "ancestors", "applys_between", "clone",
    "clone_get_equiv", "equal_computations", "explicit_graph_inputs", "general_toposort", "get_var_by_name",
    "graph_inputs", "io_toposort", "orphans_between", "truncated_graph_inputs", "vars_between", "walk",
]
