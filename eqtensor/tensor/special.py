"""Special functions, mirroring ``pytensor.tensor.special`` (plus the stable log-domain helpers and
the special functions of ``pytensor.tensor``, which are also here).

SciPy's ufuncs (``gamma``, ``gammainc``, ``jv``, ``betainc``, ``hyp2f1``…) are elementwise ops:
they compute in float64 (float32 stays float32), run on both backends (``gamma``, ``j0`` and
``j1`` in C with libm, the others through SciPy inside the compiled function) and have gradients,
also in the shape parameters of the incomplete gamma and beta functions and in all four arguments
of ``hyp2f1`` (series and continued fractions: :mod:`eqtensor.core.ops.special_functions`); with
respect to the order of a Bessel function, none (``grad`` raises ``NullTypeGradError`` if it
depends on a ``wrt``). The functions below are formulas of those ops, as in PyTensor.

>>> import numpy as np
>>> from eqtensor.tensor import special, dvector
>>> x = dvector("x")
>>> special.softmax(x).eval({x: np.log(np.array([1.0, 3.0]))})
array([0.25, 0.75])
>>> special.xlogy(np.array([0.0, 2.0]), np.array([0.0, np.e])).eval()
array([0., 2.])
"""

from ..core.ops.elemwise import (
    betainc, betaincinv, eq, erf, erfc, erfcinv, erfcx, erfinv, gamma, gammainc, gammaincc, gammainccinv,
    gammaincinv, gammaln, gt, i0, i1, iv, ive, j0, j1, jv, kv, kve, log, log1mexp, log1p, mul, owens_t, polygamma, psi,
    sigmoid, softplus, switch, true_div,
)
from ..core.ops.elemwise_formulas import chi2sf, gammal, gammau, isfinite, kn, log1pexp, tri_gamma
from ..core.ops.special_functions import hyp2f1
from ..core.ops.nnet import log_softmax, softmax
from ..core.ops.reduction import logsumexp
from ..core.op import as_tensor_variable

expit = sigmoid
digamma = psi


def betaln(a, b):
    """``log |B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``.

    >>> round(float(betaln(2.0, 3.0).eval()), 12)  # log(1/12)
    -2.484906649788
    """
    return gammaln(a) + gammaln(b) - gammaln(as_tensor_variable(a) + b)


def beta(a, b):
    """The beta function ``gamma(a) gamma(b) / gamma(a + b)`` (PyTensor's formula: it overflows
    where the gammas do; ``exp(betaln(a, b))`` does not, for positive arguments).

    >>> float(beta(2.0, 3.0).eval())
    0.08333333333333333
    """
    return true_div(mul(gamma(a), gamma(b)), gamma(as_tensor_variable(a) + b))


def factorial(n):
    """``n! = gamma(n + 1)`` for real ``n`` (a float result, as PyTensor's).

    >>> import numpy as np
    >>> factorial(np.array([0, 3, 5])).eval()
    array([  1.,   6., 120.])
    """
    return gamma(as_tensor_variable(n) + 1)


def poch(z, m):
    """The Pochhammer symbol (rising factorial) ``gamma(z + m) / gamma(z)``.

    >>> float(poch(3.0, 2.0).eval())  # 3 * 4
    12.0
    """
    return true_div(gamma(as_tensor_variable(z) + m), gamma(z))


def logit(x):
    """The inverse of the sigmoid: ``log(x / (1 - x))``.

    >>> round(float(logit(0.75).eval()), 12)  # log 3
    1.098612288668
    """
    x = as_tensor_variable(x)
    return log(x / (1 - x))


def xlogy(x, y):
    """``x * log(y)``, 0 where ``x == 0`` (also where ``y`` is 0), as ``scipy.special.xlogy``.

    A formula whose gradients are ``log(y)`` and ``x / y`` wherever those are finite, ``x == 0``
    included: only where ``x == 0`` and ``log(y)`` is not finite (``y <= 0``, ``inf`` or ``nan``) is ``y``
    replaced by 1, so the value there is 0, as PyTensor's (SciPy gives ``nan`` for a ``nan`` ``y``), and
    both gradients are 0 (PyTensor's op gives ``-inf`` and ``nan`` at ``x = y = 0``).

    >>> import numpy as np
    >>> xlogy(np.array([0.0, 2.0]), np.array([0.0, 1.0])).eval()
    array([0., 0.])
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return mul(x, log(switch(eq(x, 0) & ~(gt(y, 0) & isfinite(y)), 1, y)))


def xlog1py(x, y):
    """``x * log1p(y)``, 0 where ``x == 0``, as ``scipy.special.xlog1py``; a formula whose gradients are
    ``log1p(y)`` and ``x / (1 + y)`` wherever those are finite, ``x == 0`` included (where ``x == 0`` and
    ``log1p(y)`` is not finite, ``y`` is replaced by 0: value and gradients 0 there).

    >>> float(xlog1py(0.0, -1.0).eval())
    0.0
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return mul(x, log1p(switch(eq(x, 0) & ~(gt(y, -1) & isfinite(y)), 0, y)))


__all__ = ["beta", "betainc", "betaincinv", "betaln", "chi2sf", "digamma", "erf", "erfc", "erfcinv", "erfcx", "erfinv",
           "expit", "factorial", "gamma", "gammainc", "gammaincc", "gammainccinv", "gammaincinv", "gammal", "gammaln",
           "gammau", "hyp2f1", "i0", "i1", "iv", "ive", "j0", "j1", "jv", "kn", "kv", "kve", "log1mexp", "log1pexp", "log_softmax",
           "logit", "logsumexp", "owens_t", "poch", "polygamma", "psi", "sigmoid", "softmax", "softplus", "tri_gamma",
           "xlog1py", "xlogy"]
