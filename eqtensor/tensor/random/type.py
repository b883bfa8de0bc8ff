"""``pytensor.tensor.random.type``: the type of random generators.

>>> import numpy as np, eqtensor as et
>>> from eqtensor.tensor.random.type import random_generator_type
>>> et.shared(np.random.default_rng(1)).type == random_generator_type
True
"""

from ...core.ops.random import RandomGeneratorType, random_generator_type  # noqa: F401

__all__ = ["RandomGeneratorType", "random_generator_type"]
