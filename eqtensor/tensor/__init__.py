"""The tensor API, mirroring ``pytensor.tensor``: types, constructors and ops.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> x = pt.dvector("x")
>>> f = function([x], pt.switch(x > 0, x, 0.0))
>>> f(np.array([-1.0, 2.0]))
array([0., 2.])
"""

from ..core.basic import (
    TYPED as _TYPED, col, constant, matrix, row, scalar, shared, tensor, tensor3, tensor4, vector,
)
from ..core.graph import Constant, TensorType, Variable
from ..core.op import as_tensor_variable
from ..core.ops.creation import *  # noqa: F403  (each family's __all__)
from ..core.ops.elemwise import *  # noqa: F403
from ..core.ops.linalg import diag, diagonal, dot, matmul, outer, tensordot, trace
from ..core.ops.reduction import *  # noqa: F403
from ..core.ops.shape import *  # noqa: F403
from ..core.ops.subtensor import *  # noqa: F403
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
