"""The e-graph optimizer: bridge to egglog, extraction, budgets and reports.

Only :mod:`eqtensor.egraph.bridge` imports egglog.

>>> from eqtensor.egraph import Budget
>>> Budget().iterations
30
"""

from .extract import CostModel, graph_cost
from .optimizer import optimize_graph
from .report import Budget, OptimizationReport

__all__ = ["Budget", "CostModel", "OptimizationReport", "graph_cost", "optimize_graph"]
