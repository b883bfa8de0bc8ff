"""``pytensor.tensor.random``: random variables drawn from NumPy generators (see ``docs/random.md``).

>>> import numpy as np
>>> import eqtensor as et
>>> from eqtensor.tensor.random import RandomStream
>>> srng = RandomStream(seed=42)
>>> x = srng.normal(0.0, 1.0, size=(2,))
>>> f = et.function([], x)
>>> a, b = f(), f()            # the default update advances the generator: new draws each call
>>> bool((a != b).all())
True
>>> srng.seed(42)              # reseed: the same stream again
>>> np.array_equal(f(), a)
True
"""

from ...core.ops.distributions import *  # noqa: F403  (every distribution)
from ...core.ops.random import rng, shared_rng  # noqa: F401
from . import basic, type, utils  # noqa: F401  (pytensor.tensor.random.basic, .type, .utils)
from .utils import RandomStream  # noqa: F401
