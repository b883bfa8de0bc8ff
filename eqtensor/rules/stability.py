"""Stability rules: naive formulas become their numerically stable ops.

All are ``exact=False``: the checker compares both sides against an mpmath reference and requires
the replacement to be at least as accurate.

>>> "softplus" in stability().names()
True
"""

from __future__ import annotations

from functools import partial

from ..core.ops.elemwise import exp, expm1, log, log1mexp, log1p, sigmoid, softplus
from ..core.ops.nnet import log_softmax, softmax
from ..core.ops.reduction import logsumexp, sum

from .language import RuleSet, rewrite as _rewrite, var

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
    ]
    e = exp(m)
    rules += [
        rewrite("log_softmax", log(softmax(m, axis=1)), log_softmax(m, axis=1),
                why="softmax underflows to 0, log of it to -inf (any axis)", exact=False),
        rewrite("softmax_formula", e / sum(e, axis=1, keepdims=True), softmax(m, axis=1),
                why="exp overflows: softmax subtracts the max", exact=False),
    ]
    return RuleSet(rules)


_STABILITY = _build()
