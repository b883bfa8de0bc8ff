"""Public printing face (``pytensor.printing``): ``debugprint``/``dprint``, ``pprint``, ``pydotprint``,
and ``egraph_to_dot`` (DOT text of a saturated e-graph, from a report made with ``keep_egraph=True``).

>>> from eqtensor import tensor as pt
>>> from eqtensor.printing import dprint, pprint
>>> x = pt.dscalar("x")
>>> pprint(pt.exp(x) / (1 + pt.exp(x)))
'exp(x) / (1.0 + exp(x))'
>>> dprint(pt.log1p(x))
log1p [id A]
 └─ x [id B]
"""

from .core.egraph.render import egraph_to_dot
from .core.printing import debugprint, dprint, pprint, pydotprint

__all__ = ["debugprint", "dprint", "egraph_to_dot", "pprint", "pydotprint"]
