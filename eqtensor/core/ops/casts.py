"""Checked conversions: :func:`cast` (which refuses complex to real, unlike the op ``cast`` of
:mod:`.elemwise`), ``scalar_from_tensor`` and ``tensor_from_scalar`` (eqtensor has no separate
scalar type: they check for 0-d).

>>> from eqtensor import tensor as pt
>>> pt.cast(pt.ivector("i"), "float32").dtype
'float32'
"""

from __future__ import annotations

from ..config import config
from ..dtypes import as_dtype
from ..op import as_tensor_variable
from . import elemwise as E


def cast(x, dtype):
    """Convert ``x`` to ``dtype`` (NumPy's ``astype``; ``"floatX"`` is ``config.floatX``). A complex
    tensor is not cast to a real dtype (ambiguous: take ``abs`` or a part first), as PyTensor.

    >>> from eqtensor import tensor as pt
    >>> pt.cast(pt.ivector("i"), "floatX").dtype
    'float64'
    >>> pt.cast(pt.zvector("z"), "int64")
    Traceback (most recent call last):
    ...
    TypeError: cast: casting complex128 to int64 is ambiguous; take abs() or a part of the number first
    """
    x = as_tensor_variable(x)
    dtype = as_dtype(config.floatX if isinstance(dtype, str) and dtype == "floatX" else dtype)
    if x.dtype.startswith("complex") and not dtype.startswith("complex"):
        raise TypeError(f"cast: casting {x.dtype} to {dtype} is ambiguous; take abs() or a part of the number first")
    return E.cast(x, dtype)


def scalar_from_tensor(t):
    """PyTensor's conversion of a 0-d tensor to a scalar: eqtensor has no separate scalar type, so
    this checks that ``t`` is 0-d and returns it.

    >>> from eqtensor import tensor as pt
    >>> pt.scalar_from_tensor(pt.dscalar("s")).type
    TensorType(float64, shape=())
    """
    t = as_tensor_variable(t)
    if t.ndim != 0:
        raise TypeError(f"scalar_from_tensor: the input must be a 0-d tensor, got {t.type}")
    return t


tensor_from_scalar = scalar_from_tensor


__all__ = ["cast", "scalar_from_tensor", "tensor_from_scalar"]
