"""Symbolic differentiation, mirroring ``pytensor.gradient`` (a face over :mod:`eqtensor.core.gradient`).

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> from eqtensor.gradient import grad
>>> x = pt.dvector("x")
>>> function([x], grad(pt.exp(x).sum(), x))(np.zeros(2))
array([1., 1.])
"""

from .core.errors import DisconnectedInputError
from .core.gradient import (
    DisconnectedType, GradientError, Lop, NullTypeGradError, Rop, disconnected_grad, grad, grad_clip,
    grad_scale, hessian, hessian_vector_product, jacobian, undefined_grad, verify_grad, zero_grad,
)

__all__ = [
    "DisconnectedInputError", "DisconnectedType", "GradientError", "Lop", "NullTypeGradError", "Rop",
    "disconnected_grad", "grad", "grad_clip", "grad_scale", "hessian", "hessian_vector_product", "jacobian",
    "undefined_grad", "verify_grad", "zero_grad",
]
