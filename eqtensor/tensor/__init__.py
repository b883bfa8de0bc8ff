"""The tensor API, mirroring ``pytensor.tensor``: types, constructors and ops.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> x = pt.dvector("x")
>>> f = function([x], pt.switch(x > 0, x, 0.0))
>>> f(np.array([-1.0, 2.0]))
array([0., 2.])
"""

from ..core import ops as _ops  # noqa: F401  (registers the op table)
from ..core.basic import (
    TYPED as _TYPED, as_tensor_variable, col, constant, matrix, row, scalar, shared, tensor, tensor3,
    tensor4, vector,
)
from ..core.graph import Constant, Variable
from ..core.ops.creation import (
    arange, eye, full, full_like, identity_like, ones, ones_like, tri, tril, triu, zeros, zeros_like,
)
from ..core.ops.elemwise import (
    abs, add, allclose, and_, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cast, ceil, clip, cos,
    cosh, eq, erf, erfc, erfinv, exp, exp2, expm1, floor, floor_div, gammaln, ge, gt, invert, isinf,
    isclose, isnan, le, log, log1mexp, log1p, log2, log10, logical_and, logical_not, logical_or, logical_xor, lt,
    maximum, minimum, mod, mul, neg, neq, or_, pow, psi, reciprocal, round_half_to_even, sigmoid, sign,
    sin, sinh, softplus, sqr, sqrt, sub, switch, tan, tanh, true_div, trunc, xor,
)
from ..core.ops.linalg import diag, diagonal, dot, matmul, outer, tensordot, trace
from ..core.ops.reduction import (
    all, any, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var,
)
from ..core.ops.shape import (
    alloc, broadcast_to, concatenate, dimshuffle, expand_dims, flatten, reshape, roll, shape, shape_i, squeeze,
    stack, swapaxes, transpose,
)
from ..core.ops.subtensor import inc_subtensor, set_subtensor, take
from ..core.types import TensorType
from . import linalg, special  # noqa: E402  (pt.linalg, pt.special)

globals().update(_TYPED)

TensorVariable = Variable
TensorConstant = Constant
as_tensor = as_tensor_variable
where = switch
divide = true_div
true_divide = true_div
int_div = floor_div
floor_divide = floor_div
multiply = mul
subtract = sub
negative = neg
power = pow
square = sqr
bitwise_and, bitwise_or, bitwise_xor, bitwise_not = and_, or_, xor, invert
expit = sigmoid
round = round_half_to_even
less, less_equal, greater, greater_equal, equal, not_equal = lt, le, gt, ge, eq, neq
from ..gradient import grad, hessian, jacobian  # noqa: E402,F401  (as pytensor.tensor)
