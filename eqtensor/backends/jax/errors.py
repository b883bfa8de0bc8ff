"""The errors of the JAX backend: a graph it cannot trace, and the end of a probe's trace."""


class LoweringError(NotImplementedError):
    """A graph the JAX backend cannot trace (an op it does not lower, a shape JAX cannot make static)."""


class CountNeeded(Exception):
    """Raised while tracing a probe: ``count`` is a traced length the program needs as a static
    number (the steps of an ``until`` scan, the number of ``unique`` values)."""

    def __init__(self, count, what):
        super().__init__(f"{what} is needed when tracing")
        self.count = count
