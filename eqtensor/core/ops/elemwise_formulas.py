"""Elementwise formulas of ``pytensor.tensor`` built from the ops of :mod:`.elemwise`: ``sgn``,
``deg2rad``, ``rad2deg``, ``divmod``, ``ceil_intdiv``, ``largest``, ``smallest``, ``log1pexp``,
``iround``, the tests and replacements of non-finite values (``isposinf``, ``isneginf``,
``isfinite``, ``nan_to_num``) and special functions (``gammau``, ``gammal``, ``kn``, ``chi2sf``,
``tri_gamma``).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.nan_to_num(np.array([np.nan, 1.0])).eval()
array([0., 1.])
"""

from __future__ import annotations

import numpy as np

from ..op import as_tensor_variable
from . import elemwise as E


def sgn(a):
    """The sign of ``a`` (PyTensor's older name of :func:`sign`)."""
    return E.sign(a)


def deg2rad(x):
    """Degrees to radians (``np.deg2rad``; integers give float64).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.deg2rad(np.array([180])).eval()
    array([3.14159265])
    """
    return E.mul(_floating(x), np.pi / 180)


def rad2deg(x):
    """Radians to degrees (``np.rad2deg``; integers give float64)."""
    return E.mul(_floating(x), 180 / np.pi)


def _floating(x):
    x = as_tensor_variable(x)
    return x if x.dtype.startswith(("float", "complex")) else E.cast(x, "float64")


def divmod(x, y):  # noqa: A001  (PyTensor's name)
    """``(x // y, x % y)``, as Python's ``divmod`` and ``np.divmod``."""
    return E.floor_div(x, y), E.mod(x, y)


def ceil_intdiv(a, b):
    """``ceil(a / b)`` for integers, exactly (``a // b`` plus one where there is a remainder).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.ceil_intdiv(np.array([7, 8, -7]), 4).eval()
    array([ 2,  2, -1])
    """
    div = E.floor_div(a, b)
    return E.add(div, E.cast(E.neq(E.mod(a, b), 0), div.dtype))


def _fold(name, op, args):
    """``op`` applied pairwise over ``args``, left to right."""
    if not args:
        raise ValueError(f"{name} needs at least one tensor")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = op(out, a)
    return out


def largest(*args):
    """The elementwise maximum of all the arguments."""
    return _fold("largest", E.maximum, args)


def smallest(*args):
    """The elementwise minimum of all the arguments."""
    return _fold("smallest", E.minimum, args)


def log1pexp(x):
    """``log(1 + exp(x))`` computed stably (:func:`softplus`)."""
    return E.softplus(x)


def iround(a, mode=None):
    """``a`` rounded (half to even) and cast to int64."""
    if mode not in (None, "half_to_even"):
        raise NotImplementedError(f"iround: mode {mode!r} is not supported (only half_to_even)")
    return E.cast(E.round_half_to_even(a), "int64")


def isposinf(x):
    """``x == +inf`` elementwise.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.isposinf(np.array([np.inf, -np.inf, 1.0])).eval()
    array([ True, False, False])
    """
    return E.eq(x, np.inf)


def isneginf(x):
    """``x == -inf`` elementwise.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.isneginf(np.array([np.inf, -np.inf, 1.0])).eval()
    array([False,  True, False])
    """
    return E.eq(x, -np.inf)


def isfinite(x):
    """Neither nan nor infinite, elementwise (``~(isnan(x) | isinf(x))``).

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.isfinite(np.array([np.nan, np.inf, 1.0])).eval()
    array([False, False,  True])
    """
    return E.invert(E.or_(E.isnan(x), E.isinf(x)))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with nan replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (the largest
    finite values of the dtype by default), as ``np.nan_to_num``; integer tensors are returned as
    they are.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> pt.nan_to_num(np.array([np.nan, -np.inf, 2.0], "float32"), posinf=9.0).eval()
    array([ 0.0000000e+00, -3.4028235e+38,  2.0000000e+00], dtype=float32)
    """
    x = as_tensor_variable(x)
    if not x.dtype.startswith(("float", "complex")):
        return x
    if x.dtype.startswith("complex"):
        raise NotImplementedError("nan_to_num: complex tensors are not supported yet (no real/imag ops)")
    info = np.finfo(x.dtype)
    value = {k: np.asarray(info.max if v is None and k == "posinf" else info.min if v is None and k == "neginf"
                           else v).astype(x.dtype) for k, v in (("nan", nan), ("posinf", posinf), ("neginf", neginf))}
    x = E.switch(E.isnan(x), value["nan"], x)
    x = E.switch(isposinf(x), value["posinf"], x)
    return E.switch(isneginf(x), value["neginf"], x)



# special functions of pytensor.tensor that are formulas of the elementwise ops
def gammau(k, x):
    """The upper incomplete gamma function (not regularized): ``gammaincc(k, x) * gamma(k)``.

    >>> from eqtensor import tensor as pt
    >>> round(float(pt.gammau(1.0, 2.0).eval()), 12)  # exp(-2)
    0.135335283237
    """
    return E.mul(E.gammaincc(k, x), E.gamma(k))


def gammal(k, x):
    """The lower incomplete gamma function (not regularized): ``gammainc(k, x) * gamma(k)``."""
    return E.mul(E.gammainc(k, x), E.gamma(k))


def kn(n, x):
    """The modified Bessel function of the second kind of integer order ``n`` (:func:`kv`)."""
    return E.kv(n, x)


def chi2sf(x, k):
    """The survival function of the chi-squared distribution with ``k`` degrees of freedom:
    ``gammaincc(k / 2, x / 2)``.

    >>> from eqtensor import tensor as pt
    >>> round(float(pt.chi2sf(3.84, 1).eval()), 6)
    0.050044
    """
    return E.gammaincc(E.true_div(k, 2), E.true_div(x, 2))


def tri_gamma(x):
    """The trigamma function ``polygamma(1, x)``, the derivative of :func:`psi`."""
    return E.polygamma(1, x)

__all__ = [
    "ceil_intdiv", "deg2rad", "divmod", "iround", "isfinite", "isneginf", "isposinf", "largest", "log1pexp",
    "nan_to_num", "rad2deg", "sgn", "smallest", "gammau", "gammal", "kn", "chi2sf", "tri_gamma",
]
