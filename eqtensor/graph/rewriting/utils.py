"""Rewriting a graph outside a compile, at PyTensor's path ``pytensor.graph.rewriting.utils``.

eqtensor has no rewrite database of node rewriters: its rewrites are rules of the rule language
(``docs/writing-rules.md``), run by the e-graph optimizer. :func:`rewrite_graph` runs them on a
graph and returns the extracted equivalent graph; PyTensor's ``include`` tags select rule sets.

>>> from eqtensor import tensor as pt
>>> from eqtensor.graph.rewriting.utils import rewrite_graph
>>> x = pt.dvector("x")
>>> rewrite_graph(pt.log(pt.exp(x)) * 1.0)
x
>>> rewrite_graph(pt.log(1 + pt.exp(x)), include=("stabilize",)).owner.op.name
'softplus'
"""

from ...core.fgraph import FunctionGraph
from ...core.graph import Constant, SharedVariable, Variable
from ...core.traversal import iter_graph_inputs as graph_inputs
from ...egraph import optimize_graph
from ...rules import algebraic, algebraic_assuming_finite, blas, stability
from ...rules.language import RuleSet

#: PyTensor's rewrite tags -> the rule sets they select (each includes the previous ones)
TAGS = {
    "canonicalize": lambda: algebraic() + algebraic_assuming_finite(),
    "stabilize": lambda: algebraic() + algebraic_assuming_finite() + stability(),
    "specialize": lambda: algebraic() + algebraic_assuming_finite() + stability() + blas(),
    "fast_run": lambda: algebraic() + algebraic_assuming_finite() + stability() + blas(),
}


def rewrite_graph(graph, *args, include=("canonicalize",), exclude=(), rules=None, clone=False, **kwargs):
    """``graph`` (a variable or a sequence of them) rewritten by the e-graph optimizer: with
    ``rules`` (a Rule, RuleSet or Schedule) if given, else with the rule sets of the ``include`` tags
    (:data:`TAGS`: ``"canonicalize"`` the algebraic rules, ``"stabilize"`` plus the stability rules,
    ``"specialize"``/``"fast_run"`` plus BLAS), without the rules named in ``exclude``. Returns the
    same form as given. The input graph is not modified (``clone`` is accepted for PyTensor's
    signature: graphs are immutable here). If the optimizer fails, the graph comes back as it was.
    """
    single = isinstance(graph, Variable)
    outs = [graph] if single else list(graph)
    if rules is None:
        unknown = [t for t in include if t not in TAGS]
        if unknown:
            raise ValueError(f"rewrite_graph: unknown rewrite tags {unknown}; known: {sorted(TAGS)}")
        selected = RuleSet()
        for tag in include:
            names = set(selected.names())
            selected = selected + RuleSet([r for r in TAGS[tag]() if r.name not in names])
        rules = selected.without(*exclude) if exclude else selected
    leaves = [v for v in graph_inputs(outs) if not isinstance(v, Constant)]
    explicit = [v for v in leaves if not isinstance(v, SharedVariable)]
    shared = [v for v in leaves if isinstance(v, SharedVariable)]
    fgraph = FunctionGraph(explicit + shared, outs, len(explicit), len(outs))
    optimized, _ = optimize_graph(fgraph, rules=rules)
    result = list(optimized.outputs)
    return result[0] if single else result


__all__ = ["TAGS", "rewrite_graph"]
