"""The optimizer slot of the pipeline: ``optimize(fgraph, mode) -> (fgraph, report)``.

It runs the e-graph optimizer (:mod:`eqtensor.core.egraph`) with the mode's rules, budget and
cost model.

>>> from eqtensor import function, tensor as pt
>>> x = pt.dvector("x")
>>> f = function([x], pt.log(1 + pt.exp(x)))
>>> f.maker.fgraph.outputs[0].owner.op.name
'softplus'
"""

from __future__ import annotations


def optimize(fgraph, mode):
    from .egraph import optimize_graph

    return optimize_graph(fgraph, rules=mode.rules, budget=mode.budget, cost_model=mode.cost_model)
