"""Symbolic differentiation, mirroring ``pytensor.gradient``.

The reverse pass and the VJP rules are in :mod:`eqtensor.rules` (``autodiff.py``,
``gradients.py``); this face adds :func:`verify_grad`, which compiles the graphs it checks.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.gradient import grad
>>> x = pt.dvector("x")
>>> function([x], grad(pt.exp(x).sum(), x))(np.zeros(2))
array([1., 1.])
"""

from .compile.function import function
from .core.errors import DisconnectedInputError
from .rules.autodiff import (
    DisconnectedType, GradientError, Lop, NullTypeGradError, Rop, disconnected_grad, grad, grad_clip,
    grad_scale, hessian, hessian_vector_product, jacobian, undefined_grad, verify_grad_with, zero_grad,
)


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, abs_tol=None, rel_tol=None, mode=None):
    """Check ``grad`` of ``fun`` at the point ``pt`` (a list of arrays) against central finite
    differences, compiling with ``mode`` (see :func:`~eqtensor.rules.autodiff.verify_grad_with`).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> verify_grad(lambda x: pt.tanh(x) * x, [np.array([0.5, -1.0])], rng=np.random.default_rng(0))
    >>> verify_grad(lambda x: zero_grad(x) * x, [np.array([0.5, 2.0])])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    eqtensor.rules.autodiff.GradientError: verify_grad: analytic and numeric gradients differ for argument 0 ...
    """

    def compile(inputs, outputs):
        return function(inputs, outputs, mode=mode, on_unused_input="ignore")

    verify_grad_with(compile, fun, pt, n_tests=n_tests, rng=rng, eps=eps, abs_tol=abs_tol, rel_tol=rel_tol)


__all__ = [
    "DisconnectedInputError", "DisconnectedType", "GradientError", "Lop", "NullTypeGradError", "Rop",
    "disconnected_grad", "grad", "grad_clip", "grad_scale", "hessian", "hessian_vector_product", "jacobian",
    "undefined_grad", "verify_grad", "zero_grad",
]
