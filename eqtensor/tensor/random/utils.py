"""``pytensor.tensor.random.utils``: :class:`RandomStream`, a source of random variables whose
generators are shared variables updated by default after every call.

>>> import numpy as np, eqtensor as et
>>> srng = RandomStream(seed=1)
>>> u = srng.uniform(size=3)
>>> f = et.function([], u)
>>> g = et.function([], u, no_default_updates=True)   # reads the stream without advancing it
>>> np.array_equal(g(), g()), np.array_equal(f(), f())
(True, False)
"""

from __future__ import annotations

import functools

import numpy as np

from ...core.basic import shared
from . import basic


class RandomStream:
    """Random variables with NumPy's interface, each drawn from a shared generator of its own,
    seeded from ``numpy.random.SeedSequence(seed).spawn`` (as PyTensor's ``RandomStream``).

    ``srng.normal(...)`` (any function of ``namespace``, default :mod:`eqtensor.tensor.random.basic`)
    creates the generator, draws, and sets the generator's ``default_update`` to the next
    generator, so every call of a function using the draws draws anew. ``updates()`` lists the
    ``(generator, next generator)`` pairs; ``seed(s)`` reseeds every generator of the stream as a
    new stream with seed ``s`` would; ``gen(fn, ...)`` draws with any builder taking ``rng=``.
    """

    def __init__(self, seed=None, namespace=None, rng_ctor=np.random.default_rng):
        ns = basic if namespace is None else namespace
        self.namespaces = [(ns, set(ns.__all__))]
        self.default_instance_seed = seed
        self.state_updates: list = []
        self.gen_seedgen = np.random.SeedSequence(seed)
        self.rng_ctor = rng_ctor

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        fn = next((getattr(ns, name) for ns, names in self.namespaces if name in names and hasattr(ns, name)), None)
        if fn is None:
            raise AttributeError(f"RandomStream has no distribution {name!r}")

        @functools.wraps(fn)
        def draw(*args, **kwargs):
            return self.gen(fn, *args, **kwargs)

        setattr(self, name, draw)
        return draw

    def updates(self) -> list:
        """The ``(shared generator, next generator)`` pairs of every draw of this stream."""
        return list(self.state_updates)

    def seed(self, seed=None) -> None:
        """Reseed the stream (with its initial seed when ``seed`` is None): every generator
        gets the state a new ``RandomStream(seed)`` would give it."""
        if seed is None:
            seed = self.default_instance_seed
        self.gen_seedgen = np.random.SeedSequence(seed)
        for (old, _), child in zip(self.state_updates, self.gen_seedgen.spawn(len(self.state_updates))):
            old.set_value(self.rng_ctor(child), borrow=True)

    def gen(self, op, *args, **kwargs):
        """Draw with ``op(*args, rng=<a new shared generator>, **kwargs)`` and register the
        generator's default update."""
        if "rng" in kwargs:
            raise ValueError("the rng= option cannot be used with a variate of a RandomStream")
        want_next = kwargs.pop("return_next_rng", False)
        (child,) = self.gen_seedgen.spawn(1)
        rng = shared(self.rng_ctor(child), borrow=True)
        new_rng, out = op(*args, rng=rng, return_next_rng=True, **kwargs)
        self.state_updates.append((rng, new_rng))
        rng.default_update = new_rng
        return (new_rng, out) if want_next else out


__all__ = ["RandomStream"]
