"""Exceptions raised by eqtensor, named as in PyTensor where the concept exists there.

>>> import eqtensor as et
>>> from eqtensor import tensor as pt
>>> x, y = pt.dscalar("x"), pt.dscalar("y")
>>> try:
...     et.function([x], x + y)
... except et.MissingInputError as e:
...     print(type(e).__name__, isinstance(e, ValueError))
MissingInputError True
"""


class MissingInputError(ValueError):
    """A graph needs a variable that was not given as an input of ``function``."""


class UnusedInputError(ValueError):
    """An input of ``function`` is not used to compute any output or update."""


class DisconnectedInputError(ValueError):
    """``grad`` was asked for the gradient with respect to a variable the cost does not depend on."""


class NotScalarConstantError(ValueError):
    """``get_scalar_constant_value``: the variable's value is not one scalar known when the graph is built."""
