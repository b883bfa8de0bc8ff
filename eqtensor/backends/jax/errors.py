"""The error of a graph the JAX backend cannot trace."""


class LoweringError(NotImplementedError):
    """A graph the JAX backend cannot trace (an op it does not lower, a shape JAX cannot make static)."""
