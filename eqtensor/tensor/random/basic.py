"""``pytensor.tensor.random.basic``: the distributions (see ``docs/random.md``).

Each builder draws as PyTensor's does (NumPy's ``Generator``, SciPy where PyTensor uses it) and
takes ``size=``, ``rng=``, ``dtype=``, ``name=`` and ``return_next_rng=``.

>>> import numpy as np
>>> import eqtensor as et
>>> from eqtensor.tensor.random.basic import normal
>>> rng = et.shared(np.random.default_rng(0))
>>> next_rng, x = normal(10.0, 2.0, size=3, rng=rng, return_next_rng=True)
>>> f = et.function([], x, updates={rng: next_rng})
>>> np.allclose(np.concatenate([f(), f()]), np.random.default_rng(0).normal(10.0, 2.0, size=6))
True
"""

from ...core.ops.distributions import *  # noqa: F403  (every builder: the module's __all__)
from ...core.ops.distributions import __all__  # noqa: F401
