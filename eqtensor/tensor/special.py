"""Special functions, mirroring ``pytensor.tensor.special`` (plus the stable log-domain helpers).

>>> import numpy as np
>>> from eqtensor.tensor import special, dvector
>>> x = dvector("x")
>>> special.softmax(x).eval({x: np.log(np.array([1.0, 3.0]))})
array([0.25, 0.75])
"""

from ..core.ops.elemwise import erf, erfc, erfinv, gammaln, log1mexp, psi, sigmoid, softplus
from ..core.ops.nnet import log_softmax, softmax
from ..core.ops.reduction import logsumexp

expit = sigmoid
digamma = psi

__all__ = ["digamma", "erf", "erfc", "erfinv", "expit", "gammaln", "log1mexp", "log_softmax", "logsumexp",
           "psi", "sigmoid", "softmax", "softplus"]
