"""Exceptions raised by eqtensor, named as in PyTensor where the concept exists there."""


class MissingInputError(ValueError):
    """A graph needs a variable that was not given as an input of ``function``."""


class UnusedInputError(ValueError):
    """An input of ``function`` is not used to compute any output or update."""


class ShapeError(ValueError):
    """Static or run-time shapes are incompatible."""


class NotScalarConstantError(TypeError):
    """A value was required to be a scalar constant but is symbolic."""


class DisconnectedInputError(ValueError):
    """``grad`` was asked for the gradient with respect to a variable the cost does not depend on."""
