"""The tensor API, mirroring ``pytensor.tensor``: types, constructors and ops.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> x = pt.dvector("x")
>>> f = function([x], pt.switch(x > 0, x, 0.0))
>>> f(np.array([-1.0, 2.0]))
array([0., 2.])
"""

from numpy import e, euler_gamma, inf, nan, newaxis, pi  # noqa: F401  (as pytensor.tensor)

from ..core.basic import (
    PLURAL as _PLURAL, TYPE_TUPLES as _TYPE_TUPLES, TYPED as _TYPED, TypedTensorType, as_tensor_variable, col,
    constant, matrix, row, scalar, shared, tensor, tensor3, tensor4, tensor5, tensor6, tensor7, vector,
)
from ..core.graph import Constant, TensorType, Variable
from ..core.ops.creation import *  # noqa: F403  (each family's __all__)
from ..core.ops.elemwise import *  # noqa: F403
from ..core.ops.linalg import diag, diagonal, dot, matmul, outer, tensordot, trace
from ..core.ops.reduction import *  # noqa: F403
from ..core.ops.shape import *  # noqa: F403
from ..core.ops.broadcast import *  # noqa: F403
from ..core.ops.join import *  # noqa: F403
from ..core.ops.shape_checks import *  # noqa: F403
from ..core.ops.subtensor import *  # noqa: F403
from ..core.ops.casts import *  # noqa: F403  (after elemwise: its checked cast wins)
from ..core.ops.cumulative import *  # noqa: F403
from ..core.ops.sorting import *  # noqa: F403
from ..core.ops.repetition import *  # noqa: F403
from ..core.ops.selection import *  # noqa: F403  (where(cond) is nonzero)
from ..core.ops.statistics import *  # noqa: F403
from ..core.ops.elemwise_formulas import *  # noqa: F403
from ..core.ops.special_functions import *  # noqa: F403
from ..core.ops.products import *  # noqa: F403
from ..core.ops.einsum import *  # noqa: F403
from ..core.ops.ranges import *  # noqa: F403
from ..core.ops.diagonals import *  # noqa: F403
from ..core.ops.rearranging import *  # noqa: F403
from ..core.ops.flat_indices import *  # noqa: F403
from ..core.ops.static_values import *  # noqa: F403
from . import extra_ops, linalg, random, special  # noqa: E402  (pt.extra_ops, pt.linalg, pt.random, pt.special)

globals().update(_TYPED)
globals().update(_PLURAL)
globals().update(_TYPE_TUPLES)

TensorVariable = Variable
TensorConstant = Constant
as_tensor = as_tensor_variable
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
digamma = psi
second = fill
round = round_half_to_even
less, less_equal, greater, greater_equal, equal, not_equal = lt, le, gt, ge, eq, neq
from ..gradient import grad, hessian, jacobian  # noqa: E402,F401  (as pytensor.tensor)
