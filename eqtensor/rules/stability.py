"""Stability rules: naive formulas become their numerically stable ops.

All are ``exact=False``: the checker compares both sides against an mpmath reference and requires
the replacement to be at least as accurate.

>>> "softplus" in stability().names()
True
"""

from __future__ import annotations

from functools import partial

import math

from ..core.ops.elemwise import (
    abs, cast, cosh, erf, erfc, erfcx, exp, expm1, gt, hypot, log, log1mexp, log1p, logaddexp, lt,
    sigmoid, sinh, softplus, sqr, sqrt, switch, tanh,
)
from ..core.ops.nnet import log_softmax, softmax
from ..core.ops.reduction import logsumexp, max, sum
from ..core.ops.shape import shape_i

from .language import RuleSet, positive, rewrite as _rewrite, var

#: the checker draws x finite for rules whose pattern is nan at ±inf (inf/inf, inf*0) where the stable
#: replacement gives the limit
FINITE = {"x": "finite"}

#: every stability rule marks its pattern as an unstable form (see ``rewrite(stabilizes=)``)
rewrite = partial(_rewrite, stabilizes=True)


def stability() -> RuleSet:
    """The stability rule set."""
    return _STABILITY


def _build() -> RuleSet:
    x = var("x")
    m = var("m", ndim=2)
    rules = [
        rewrite("log1p", log(1 + x), log1p(x), why="log(1+x) loses all digits of small x", exact=False),
        rewrite("log1p_r", log(x + 1), log1p(x), why="log(x+1) loses all digits of small x", exact=False),
        rewrite("expm1", exp(x) - 1, expm1(x), why="exp(x)-1 cancels for small x", exact=False),
        rewrite("softplus", log(1 + exp(x)), softplus(x), why="exp overflows for large x", exact=False),
        rewrite("softplus_log1p", log1p(exp(x)), softplus(x), why="exp overflows for large x", exact=False),
        rewrite("log_sigmoid", log(sigmoid(x)), -softplus(-x), why="sigmoid underflows to 0 for x << 0",
                exact=False),
        rewrite("log1m_sigmoid", log(1 - sigmoid(x)), -softplus(x), why="1-sigmoid cancels for x >> 0",
                exact=False),
        rewrite("log1p_neg_sigmoid", log1p(-sigmoid(x)), -softplus(x), why="1-sigmoid cancels for x >> 0",
                exact=False),
        rewrite("sigmoid_formula", 1 / (1 + exp(-x)), sigmoid(x), why="one stable op", exact=False),
        rewrite("sigmoid_formula_neg", 1 / (1 + exp(x)), sigmoid(-x),
                why="one stable op; its log becomes a softplus", exact=False),
        rewrite("one_minus_sigmoid", 1 - sigmoid(x), sigmoid(-x), why="1-sigmoid cancels for x >> 0",
                exact=False),
        rewrite("log1p_neg", log(1 - x), log1p(-x), why="log(1-x) loses all digits of small x", exact=False),
        rewrite("expm1_r", -1 + exp(x), expm1(x), why="exp(x)-1 cancels for small x", exact=False),
        rewrite("log1mexp", log(1 - exp(x)), log1mexp(x), why="1-exp(x) cancels near 0", exact=False),
        rewrite("log1mexp_log1p", log1p(-exp(x)), log1mexp(x), why="exp(x) is inaccurate near 0 here",
                exact=False),
        rewrite("logsumexp", log(sum(exp(m), axis=1)), logsumexp(m, axis=1),
                why="exp overflows; logsumexp shifts by the max (any axis, keepdims)", exact=False),
    ] + _log_mean_exp_forms(m)
    e = exp(m)
    shifted = exp(m - max(m, axis=1, keepdims=True))
    rules += [
        rewrite("log_softmax", log(softmax(m, axis=1)), log_softmax(m, axis=1),
                why="softmax underflows to 0, log of it to -inf (any axis)", exact=False),
        rewrite("softmax_formula", e / sum(e, axis=1, keepdims=True), softmax(m, axis=1),
                why="exp overflows: softmax subtracts the max", exact=False),
        rewrite("softmax_formula_shifted", shifted / sum(shifted, axis=1, keepdims=True), softmax(m, axis=1),
                why="the hand-shifted softmax; its log still underflows to -inf (any axis)", exact=False,
                domain={"m": "finite"}),
    ]
    return RuleSet(rules + _exp_log_forms() + _error_function_forms() + _hyperbolic_forms())


def _log_mean_exp_forms(m) -> list:
    """log(mean(exp(m))): ``mean`` divides the sum by its count, a positive constant for static
    lengths, else the run-time length ``shape_i`` of the one reduced axis (>= 0, so never -0.0,
    where ``log(a / n) = log(a) - log(n)`` would fail), taken on ``m`` in the replacement so that
    ``exp(m)`` is not kept for its length. A mean over every axis of a vector divides by the
    scalar, a mean over one axis of a matrix by it broadcast (``s / count`` broadcasts it). The
    length is matched on ``m`` (what ``mean`` divides by) and on ``exp(m)`` (``exp(m).shape[i]``)."""
    n, v = var("n"), var("v", ndim=1)
    why = "exp overflows: log(sum(exp(m)) / n) is logsumexp(m) - log(n) (any axis, keepdims)"
    rules = [rewrite("log_mean_exp", log(sum(exp(m), axis=1) / n), logsumexp(m, axis=1) - log(n),
                     when=[positive(n)], domain={"n": "positive"}, why=why, exact=False)]
    for name, x, axis in (("log_mean_exp_length", v, 0), ("log_mean_exp_length_axis", m, 1)):
        length = cast(shape_i(x, axis), "float64")
        for suffix, of in (("", x), ("_of_exp", exp(x))):  # mean's count (shape.length) or exp(x).shape
            count = cast(shape_i(of, axis), "float64")
            rules.append(rewrite(name + suffix, log(sum(exp(x), axis=axis) / count),
                                 logsumexp(x, axis=axis) - log(length), exact=False,
                                 why=f"{why}; n the run-time length of the reduced axis"
                                     f"{'' if axis == 0 else ', broadcast'}"))
    return rules


def _exp_log_forms() -> list:
    x, a, b = var("x"), var("a"), var("b")
    return [
        rewrite("log1mexp_expm1", log(-expm1(x)), log1mexp(x), why="-expm1(x) rounds to 1 for x << 0",
                exact=False),
        rewrite("sigmoid_exp_ratio", exp(x) / (1 + exp(x)), sigmoid(x), why="inf/inf for large x", exact=False,
                domain=FINITE),
        rewrite("sigmoid_exp_ratio_r", exp(x) / (exp(x) + 1), sigmoid(x), why="inf/inf for large x", exact=False,
                domain=FINITE),
        rewrite("sigmoid_exp_times", exp(x) * sigmoid(-x), sigmoid(x), why="inf*0 for large x", exact=False,
                domain=FINITE),
        rewrite("logit_sigmoid", log(sigmoid(x) / sigmoid(-x)), x,
                why="log of the odds of sigmoid(x) is x; the ratio overflows and underflows", exact=False),
        rewrite("exp_div", exp(a) / exp(b), exp(a - b), why="inf/inf where a and b are both large",
                exact=False, ulps=2048, domain={"a": "finite", "b": "finite"}),
        rewrite("logaddexp_formula", log(exp(a) + exp(b)), logaddexp(a, b),
                why="exp overflows (and underflows to log 0) where a and b are both large (small)", exact=False),
        rewrite("logsubexp_formula", log(exp(a) - exp(b)), a + log1mexp(b - a),
                why="exp overflows, and the difference cancels near a = b", exact=False, ulps=2048),
    ]


def _error_function_forms() -> list:
    x = var("x")
    big = gt(x, 0.5)  # the branches clamp with switch, which gives x the whole gradient at x = 0.5
    return [
        rewrite("log_erfc", log(erfc(x)),
                switch(big, log(erfcx(switch(big, x, 0.5))) - sqr(x), log1p(-erf(switch(big, 0.5, x)))),
                why="erfc underflows to 0 beyond x = 26.5 (log -> -inf): log(erfcx(x)) - x^2 there; below 0.5, "
                    "log1p(-erf(x)) (each branch clamps its input, so neither is inf or nan where it is not "
                    "taken, nor is its gradient)", exact=False),
        rewrite("erfc_formula", 1 - erf(x), erfc(x), why="1 - erf(x) cancels to 0 for x >> 0", exact=False),
        rewrite("erfc_neg_formula", 1 + erf(x), erfc(-x), why="1 + erf(x) cancels to 0 for x << 0",
                exact=False),
        rewrite("erfc_neg_formula_r", erf(x) + 1, erfc(-x), why="erf(x) + 1 cancels to 0 for x << 0",
                exact=False),
        rewrite("neg_erfc_formula", erf(x) - 1, -erfc(x), why="erf(x) - 1 cancels to 0 for x >> 0",
                exact=False),
    ]


def _hyperbolic_forms() -> list:
    x, y = var("x"), var("y")
    ax = abs(x)
    return [
        rewrite("hypot_formula", sqrt(sqr(x) + sqr(y)), hypot(x, y),
                why="x^2 overflows beyond 1e154 (and underflows below 1e-154): hypot scales", exact=False),
        rewrite("hypot_formula_mul", sqrt(x * x + y * y), hypot(x, y),
                why="x*x overflows beyond 1e154 (and underflows below 1e-154): hypot scales", exact=False),
        rewrite("log_cosh", log(cosh(x)),
                switch(lt(ax, 1.0), log1p(2.0 * sqr(sinh(x / 2.0))), ax + softplus(-2.0 * ax) - math.log(2.0)),
                why="cosh overflows beyond 710; near 0 log(1 + (cosh x - 1)) keeps the digits", exact=False),
        rewrite("tanh_formula", (exp(x) - exp(-x)) / (exp(x) + exp(-x)), tanh(x),
                why="inf/inf for |x| > 710", exact=False, domain=FINITE),
        rewrite("tanh_sigmoid_formula", 2.0 * sigmoid(2.0 * x) - 1.0, tanh(x),
                why="cancels near 0", exact=False),
    ]


_STABILITY = _build()
