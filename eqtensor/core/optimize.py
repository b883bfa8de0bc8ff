"""The optimizer slot of the pipeline: ``optimize(fgraph, mode) -> (fgraph, report)``.

Until the e-graph optimizer lands this returns the graph unchanged with a report that says so.
"""

from __future__ import annotations


def optimize(fgraph, mode):
    return fgraph, {"optimizer": None, "stop_reason": "no optimizer installed", "nodes_before": fgraph.size(),
                    "nodes_after": fgraph.size()}
