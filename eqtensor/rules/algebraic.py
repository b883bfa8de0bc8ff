"""Algebraic and canonical rules: identities, cancellations, exp/log, transposes.

Every rule here is exact (both sides agree to rounding) unless marked ``exact=False``, in which
case the replacement is the more accurate side. Associativity, commutativity and distribution are
*not* rules here: they explode the e-graph; targeted rules cover the useful cases instead.

>>> "mul_one" in algebraic().names()
True
"""

from __future__ import annotations

from ..tensor import dimshuffle, exp, expm1, log, log1p, pow, reciprocal, sqr, sqrt, sum
from .language import RuleSet, nonzero_const, positive, rewrite, var


def algebraic() -> RuleSet:
    """The algebraic/canonical rule set (a fresh value each call; rule objects are cached)."""
    return _ALGEBRAIC


def _build() -> RuleSet:
    x, y, a, b = var("x"), var("y"), var("a"), var("b")
    m = var("m", ndim=2)
    rules = [
        rewrite("neg_neg", -(-x), x, why="negation is an involution"),
        rewrite("mul_one", x * 1, x, why="1 is the identity of *; the type guard keeps broadcasting"),
        rewrite("one_mul", 1 * x, x, why="1 is the identity of *"),
        rewrite("add_zero", x + 0, x, why="0 is the identity of + (x + 0.0 is x, also for x = -0.0 up to sign)"),
        rewrite("zero_add", 0 + x, x, why="0 is the identity of +"),
        rewrite("sub_zero", x - 0, x, why="subtracting 0 changes nothing"),
        rewrite("div_one", x / 1, x, why="dividing by 1 changes nothing"),
        rewrite("pow_one", x ** 1, x, why="x**1 is x"),
        rewrite("pow_two", x ** 2, sqr(x), why="a multiply instead of a pow"),
        rewrite("pow_minus_one", x ** -1, reciprocal(x), why="a divide instead of a pow"),
        rewrite("sub_neg", x - (-y), x + y, why="one op instead of two"),
        rewrite("add_neg", x + (-y), x - y, why="one op instead of two"),
        rewrite("neg_add", (-y) + x, x - y, why="one op instead of two"),
        rewrite("neg_mul_neg", (-x) * (-y), x * y, why="the signs cancel"),
        rewrite("neg_div_neg", (-x) / (-y), x / y, why="the signs cancel"),
        rewrite("mul_div_cancel", x * y / x, y, when=[nonzero_const(x)],
                why="x/x = 1 for a finite non-zero constant", domain={"x": "nonzero"}),
        rewrite("mul_div_cancel_r", y * x / x, y, when=[nonzero_const(x)],
                why="x/x = 1 for a finite non-zero constant", domain={"x": "nonzero"}),
        rewrite("log_exp", log(exp(x)), x, why="log inverts exp (and exp may overflow)", exact=False),
        rewrite("exp_log", exp(log(x)), x, when=[positive(x)], why="exp inverts log on x > 0",
                domain={"x": "positive"}),
        rewrite("exp_mul", exp(a) * exp(b), exp(a + b), why="one exp instead of two; no spurious overflow",
                exact=False, ulps=2048),
        rewrite("sqrt_sqr", sqrt(sqr(x)), abs(x), why="|x| without overflow of x*x", exact=False),
        rewrite("pow_pow", pow(pow(x, a), b), pow(x, a * b), when=[positive(x)],
                why="(x^a)^b = x^(ab) for x > 0 (rounding of a*b is amplified by |ab log x|)",
                domain={"x": "positive", "a": "small", "b": "small"}, exact=False, ulps=16384),
        rewrite("transpose_transpose", dimshuffle(dimshuffle(m, 1, 0), 1, 0), m,
                why="two transposes cancel"),
        rewrite("neg_sub", -(x - y), y - x, why="one op instead of two"),
        rewrite("abs_abs", abs(abs(x)), abs(x), why="abs is idempotent"),
        rewrite("abs_neg", abs(-x), abs(x), why="abs ignores the sign"),
        rewrite("sqr_neg", sqr(-x), sqr(x), why="sqr ignores the sign"),
        rewrite("sqr_abs", sqr(abs(x)), sqr(x), why="sqr ignores the sign"),
        rewrite("sum_neg", sum(-m, axis=1), -sum(m, axis=1),
                why="negate the (smaller) result instead of every input (any axis)"),
        rewrite("sum_of_broadcast_row", sum(dimshuffle(x, "x", 0), axis=0), x,
                why="summing over an added length-1 axis is the identity"),
        rewrite("sum_of_broadcast_col", sum(dimshuffle(x, 0, "x"), axis=1), x,
                why="summing over an added length-1 axis is the identity"),
        rewrite("log1p_expm1", log1p(expm1(x)), x, why="log1p inverts expm1 (and expm1 may overflow)",
                exact=False),
    ]
    return RuleSet(rules)


_ALGEBRAIC = _build()
