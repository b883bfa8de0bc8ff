"""Loops in the graph, at PyTensor's paths: ``scan`` (:mod:`eqtensor.scan.basic`), ``until``
(:mod:`eqtensor.scan.utils`) and the views ``map``, ``reduce``, ``foldl``, ``foldr``, ``filter``
(:mod:`eqtensor.scan.views`).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> from eqtensor.scan import scan
>>> x = pt.dvector("x")
>>> acc = scan(lambda x_t, prev: prev + x_t, sequences=x, outputs_info=np.float64(0.0), return_updates=False)
>>> acc.eval({x: np.array([1.0, 2.0, 3.0])})
array([1., 3., 6.])
"""

from .basic import scan
from .utils import until
from .views import filter, foldl, foldr, map, reduce

__all__ = ["filter", "foldl", "foldr", "map", "reduce", "scan", "until"]
