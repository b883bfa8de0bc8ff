"""Replacing and vectorizing graphs, at PyTensor's path ``pytensor.graph.replace``.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.graph.replace import graph_replace, vectorize_graph
>>> x = pt.dvector("x")
>>> y = pt.exp(x) / pt.exp(x).sum()
>>> xb = pt.dmatrix("xb")
>>> f = function([xb], vectorize_graph(y, {x: xb}))
>>> f(np.log([[1.0, 1.0], [1.0, 3.0]]))
array([[0.5 , 0.5 ],
       [0.25, 0.75]])
"""

from ..core.replace import clone_replace, convert_variable, graph_replace
from ..core.vectorize import BATCHING, NOT_BATCHED, batching_rule, vectorize_graph, vectorize_node

__all__ = [
    "BATCHING", "NOT_BATCHED", "batching_rule", "clone_replace", "convert_variable", "graph_replace", "vectorize_graph",
    "vectorize_node",
]
