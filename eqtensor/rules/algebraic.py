"""Algebraic and canonical rules: identities, cancellations, exp/log, transposes.

Every rule of :func:`algebraic` is exact (both sides agree to rounding) unless marked
``exact=False``, in which case the replacement is the more accurate side. The rules of
:func:`algebraic_assuming_finite` are PyTensor's default cancellations (``x - x → 0``,
``x*y/x → y``): exact only for finite (non-zero) ``x``, which they *assume* (the report says so
when they fire; leave the group out to keep IEEE semantics). Associativity, commutativity and
distribution are *not* rules here: they explode the e-graph; targeted rules cover the useful cases.

>>> "mul_one" in algebraic().names(), "mul_div_cancel_assumed" in algebraic_assuming_finite().names()
(True, True)
"""

from __future__ import annotations

from ..core.ops.creation import ones_like, zeros_like
from ..core.ops.elemwise import (
    add, exp, expm1, log, log1p, mul, pow, reciprocal, sqr, sqrt, sub, tensor_copy, true_div,
)
from ..core.ops.second import second
from ..core.ops.linalg import dot
from ..core.ops.reduction import max, min, sum
from ..core.ops.broadcast import alloc
from ..core.ops.shape import dimshuffle, reshape, shape
from .language import RuleSet, finite, finite_nonzero, integral_const, no_overflow, nonzero_const, positive, rewrite, var


def algebraic() -> RuleSet:
    """The algebraic/canonical rule set (a fresh value each call; rule objects are cached)."""
    return _ALGEBRAIC


def algebraic_assuming_finite() -> RuleSet:
    """Cancellations that assume the cancelled term is finite (and non-zero for divisions), as
    PyTensor does by default: ``x - x → zeros_like(x)``, ``x / x → ones_like(x)``, ``x*y/x → y``,
    ``x * 0 → zeros_like(x)``, and factoring ``a*b + a*c → a*(b+c)`` (assuming no overflow, as
    PyTensor's canonicalizer does). Part of ``default_rules()``; a mode without this group keeps IEEE
    semantics (``inf - inf`` is nan).

    >>> {"div_self_0d", "add_sub_cancel", "div_common_factor"} <= set(algebraic_assuming_finite().names())
    True
    """
    return _ASSUMING_FINITE


def _build_assuming_finite() -> RuleSet:
    x, y = var("x"), var("y")
    rules = [
        rewrite("mul_div_cancel_assumed", x * y / x, y, assumes=[finite_nonzero(x)],
                why="x/x = 1 assuming x finite and non-zero (PyTensor's default)"),
        rewrite("mul_div_cancel_assumed_r", y * x / x, y, assumes=[finite_nonzero(x)],
                why="x/x = 1 assuming x finite and non-zero (PyTensor's default)"),
    ]
    a, b, c = var("a"), var("b"), var("c")
    why = "factoring: one multiply fewer, no cancellation of rounded products (assuming b+c does not overflow)"
    rules += [
        rewrite(f"factor_{name}", pattern, repl, assumes=[no_overflow(a, b, c)], why=why, exact=False)
        for name, pattern, repl in [
            ("mul_add", a * b + a * c, a * (b + c)), ("mul_add_r", b * a + c * a, (b + c) * a),
            ("mul_sub", a * b - a * c, a * (b - c)), ("mul_sub_r", b * a - c * a, (b - c) * a),
        ]
    ]
    rules += _cancellations()
    c, n1, n2 = var("c", ndim=0), var("n1", ndim=0, dtype="int64"), var("n2", ndim=0, dtype="int64")
    rules += [
        rewrite("sum_alloc", sum(alloc(c, n1)), c * n1, assumes=[finite(c)], exact=False, dtypes=("float64",),
                why="the sum of n copies of c is c*n (for c = inf and n = 0 it is 0, not nan)"),
        rewrite("sum_alloc_2d", sum(alloc(c, n1, n2)), c * (n1 * n2), assumes=[finite(c)], exact=False, dtypes=("float64",),
                why="the sum of n1*n2 copies of c is c*n1*n2 (for c = inf and n1*n2 = 0 it is 0, not nan)"),
    ]
    col = var("c", shape=(None, 1))
    rules.append(rewrite("sum_alloc_rows", sum(alloc(col, n1, n2), axis=1, keepdims=True), col * n2,
                         assumes=[finite(col)], exact=False, dtypes=("float64",), domain={"n1": "length_of:c:0"},
                         why="each row of a broadcast column holds n2 copies of its value: c*n2 (0, not nan, "
                             "for c = inf and n2 = 0)"))
    for nd in range(3):  # zeros_like/ones_like are written per rank (their shape comes from x)
        v = var("x", ndim=nd)
        rules += [
            rewrite(f"sub_self_{nd}d", v - v, zeros_like(v), assumes=[finite(v)],
                    why="x - x = 0 assuming x finite (inf - inf is nan)"),
            rewrite(f"div_self_{nd}d", v / v, ones_like(v), assumes=[finite_nonzero(v)],
                    why="x / x = 1 assuming x finite and non-zero"),
            rewrite(f"mul_zero_{nd}d", v * 0, zeros_like(v), assumes=[finite(v)],
                    why="x * 0 = 0 assuming x finite (inf * 0 is nan); the type guard keeps broadcasting"),
        ]
    return RuleSet(rules)


def _cancellations() -> list:
    """Cancellation inside sums and products, whatever their order (``add_comm``/``mul_comm`` put
    both orders in one e-class) and association up to depth two: ``(a*b)*c / (c*a) → b``,
    ``(a*b + a*c) - a*c → a*b``. Associativity itself is not a rule (it explodes the e-graph);
    these rules reach one level into a nested sum or product instead. The replacement is exact
    where the pattern rounds or overflows (``(x + 1e20) - 1e20`` is 0), so they are checked as the
    more accurate side (``exact=False``)."""
    x, y, z, w = var("x"), var("y"), var("z"), var("w")
    nz, fin = [finite_nonzero(x)], [finite(y)]
    why_mul = "a factor in both numerator and denominator cancels (assuming it finite and non-zero)"
    why_add = "a term added and subtracted cancels (assuming it finite)"
    # the checker's 60-digit reference cannot resolve x + 1e300 - 1e300: it draws the terms below 1e30
    sums = {"assumes": fin, "why": why_add, "exact": False, "domain": dict.fromkeys("xyzw", "moderate")}
    return [
        rewrite("div_common_factor", (x * y) / (x * z), y / z, assumes=nz, why=why_mul, exact=False),
        rewrite("div_common_factor_num", x / (x * z), 1 / z, assumes=nz, why=why_mul, exact=False),
        rewrite("div_common_factor_deep", ((x * y) * z) / (x * w), (y * z) / w, assumes=nz, why=why_mul,
                exact=False),
        rewrite("div_common_factor_deep_den", (x * w) / ((x * y) * z), w / (y * z), assumes=nz, why=why_mul,
                exact=False),
        rewrite("div_common_factor_deep_one", ((x * y) * z) / x, y * z, assumes=nz, why=why_mul, exact=False),
        rewrite("add_sub_cancel", (x + y) - y, x, **sums),
        rewrite("sub_add_cancel", (x - y) + y, x, **sums),
        rewrite("sub_sub_cancel", y - (y - x), x, **sums),
        rewrite("add_sub_cancel_both", (x + y) - (y + z), x - z, **sums),
        rewrite("add_sub_cancel_deep", ((x + y) + z) - y, x + z, **sums),
    ]


def _dimshuffle_lifts(x, y) -> list:
    """A dimshuffle of an elementwise result is the elementwise op of the dimshuffled inputs (any
    order: the parameter is generalized), so terms that differ only by where a dimshuffle sits
    meet: ``(x*y)[None] / x[None]`` cancels to ``y[None]``."""
    out = []
    for name, op in (("add", add), ("sub", sub), ("mul", mul), ("true_div", true_div)):
        out.append(rewrite(f"dimshuffle_lift_{name}", dimshuffle(op(x, y), "x", 0),
                           op(dimshuffle(x, "x", 0), dimshuffle(y, "x", 0)),
                           why="dimshuffles commute with elementwise ops: cancellations meet"))
    out.append(rewrite("dimshuffle_lift_neg", dimshuffle(-x, "x", 0), -dimshuffle(x, "x", 0),
                       why="dimshuffles commute with elementwise ops: cancellations meet"))
    return out


def _alloc_broadcasts() -> list:
    """An ``alloc`` feeding an elementwise op whose other operand has the result's type already: the
    op broadcasts its value anyway, so the materialized copy goes (gradients build
    ``alloc(1.0, shape) * g``; ``1.0 * g`` then loses the multiply by ``one_mul``). The type guard
    keeps the rule from firing where the alloc sets the result's shape; dimensions without a
    static length do not broadcast at run time (PyTensor semantics), so the alloc's lengths are
    the other operand's."""
    out = []
    n1, n2, n3 = (var(f"n{k}", ndim=0, dtype="int64") for k in (1, 2, 3))
    why = "the elementwise op broadcasts the value itself: no materialized copy"
    why_lift = "the op runs once on the scalar before it is broadcast (and the broadcast may then go)"
    for rank, lengths in ((1, (n1,)), (2, (n1, n2)), (3, (n1, n2, n3))):  # 3: batched (attention) gradients
        y = var("y", ndim=rank)
        domain = {f"n{k + 1}": f"length_of:y:{k}" for k in range(rank)}
        for kind, c in (("scalar", var("c", ndim=0)), ("value", var("c", ndim=rank))):
            filled = alloc(c, *lengths)
            for name, op, mirrored in _ELEMWISE_BINARY:  # mul_comm/add_comm give the mirrored mul, add
                out.append(rewrite(f"alloc_{kind}_{name}_{rank}d", op(filled, y), op(c, y), domain=domain, why=why))
                if mirrored:
                    out.append(rewrite(f"{name}_alloc_{kind}_{rank}d", op(y, filled), op(y, c), domain=domain, why=why))
        c, s = var("c", ndim=0), var("s", ndim=0)
        filled = alloc(c, *lengths)
        # only past a 0-d operand: lifting past a full operand loops, and lifting past a (1, ..., 1)
        # constant (the form `alloc(1.0, n) * -0.5` takes) made the saturation of a 1 000-step chain's
        # gradient 6x slower (5.4 s against 0.9 s; cause not found)
        for name, op, mirrored in _ELEMWISE_BINARY:
            out.append(rewrite(f"lift_alloc_{name}_scalar_{rank}d", op(filled, s), alloc(op(c, s), *lengths),
                               why=why_lift))
            if mirrored:
                out.append(rewrite(f"lift_scalar_{name}_alloc_{rank}d", op(s, filled), alloc(op(s, c), *lengths),
                                   why=why_lift))
    out += _dimshuffled_alloc_broadcasts(n1, why)
    c = var("c", ndim=0)
    why_sum = "the sum of n copies of a finite constant c is c*n (exactly 0 for n = 0)"
    out += [rewrite("sum_alloc_const", sum(alloc(c, n1)), c * n1, when=[nonzero_const(c)], why=why_sum,
                    exact=False, dtypes=("float64",), domain={"c": "nonzero"}),
            rewrite("sum_alloc_const_keepdims", sum(alloc(c, n1), axis=0, keepdims=True), dimshuffle(c * n1, "x"),
                    when=[nonzero_const(c)], why=why_sum, exact=False, dtypes=("float64",), domain={"c": "nonzero"})]
    c1 = var("c", shape=(1,))  # a scalar made a vector (a gradient's seed broadcast to a vector)
    out += [rewrite("sum_alloc_const_vector", sum(alloc(c1, n1)), dimshuffle(c1 * n1), when=[nonzero_const(c1)],
                    why=why_sum, exact=False, dtypes=("float64",), domain={"c": "nonzero"}),
            rewrite("sum_alloc_const_vector_keepdims", sum(alloc(c1, n1), axis=0, keepdims=True), c1 * n1,
                    when=[nonzero_const(c1)], why=why_sum, exact=False, dtypes=("float64",), domain={"c": "nonzero"})]
    return out


def _dimshuffled_alloc_broadcasts(n, why) -> list:
    """A vector alloc made a column or a row, feeding an elementwise op with a matrix: the same
    without the alloc (gradients of row-wise means build ``alloc(v, n)[:, None] * g``)."""
    out = []
    c, y = var("c", shape=(1,)), var("y", ndim=2)  # (any length matches: alloc(c, n) is c for c of length n)
    for where, order, axis in (("col", (0, "x"), 0), ("row", ("x", 0), 1)):
        filled, plain = dimshuffle(alloc(c, n), *order), dimshuffle(c, *order)
        domain = {n.tag["pattern"]: f"length_of:y:{axis}"}
        for name, op, mirrored in _ELEMWISE_BINARY:
            out.append(rewrite(f"alloc_{where}_{name}", op(filled, y), op(plain, y), domain=domain, why=why))
            if mirrored:
                out.append(rewrite(f"{name}_alloc_{where}", op(y, filled), op(y, plain), domain=domain, why=why))
    return out


#: the binary elementwise ops of the alloc rules: (name, builder, whether the mirrored form needs a
#: rule of its own — the commutative ones meet it through add_comm/mul_comm)
_ELEMWISE_BINARY = (("mul", mul, False), ("add", add, False), ("sub", sub, True), ("true_div", true_div, True))


def _build() -> RuleSet:
    x, y, a, b = var("x"), var("y"), var("a"), var("b")
    m, n, s = var("m", ndim=2), var("n", ndim=2), var("s", ndim=0)
    sh, sh2 = var("sh", dtype="int64", shape=(2,)), var("sh2", dtype="int64", shape=(2,))
    rules = [
        rewrite("neg_neg", -(-x), x, why="negation is an involution"),
        rewrite("tensor_copy", tensor_copy(x), x, why="compiled functions never alias their outputs: a copy is x"),
        rewrite("second_same_type", second(x, y), y,
                why="second(a, b) is b when b has the result's type (the type guard): a's values are never read "
                    "(a gradient's seed second(cost, 1) keeps the cost's inputs in the graph until here)"),
        rewrite("add_comm", x + y, y + x,
                why="+ commutes: both orders in one e-class, so equal terms meet whatever the order written "
                    "(no associativity: it explodes the e-graph)"),
        rewrite("mul_comm", x * y, y * x,
                why="* commutes: both orders in one e-class (exp(a*b) + exp(b*a) computes one exp)"),
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
        rewrite("pow_pow_int", pow(pow(x, a), b), pow(x, a * b), when=[integral_const(a), integral_const(b)],
                why="(x^a)^b = x^(ab) for integral a, b (any x; a*b is folded)",
                domain={"a": "integer", "b": "integer"}, exact=False),
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
        rewrite("add_self", x + x, x * 2, why="canonical form: x + x is exactly 2x (a new constant)"),
        rewrite("neg_one_mul", x * -1, -x, why="a negation instead of a multiply"),
        rewrite("sub_self_neg", (-x) - x, x * -2, why="-x - x is exactly -2x"),
        rewrite("reshape_reshape", reshape(reshape(m, sh), sh2), reshape(m, sh2),
                why="only the last reshape's shape matters (one view instead of two)",
                domain={"sh": "shape_of:m", "sh2": "shape_of:m"}),
        rewrite("reshape_to_own_shape", reshape(m, shape(m)), m, why="reshaping to its own shape is the identity"),
        rewrite("row_transpose", dimshuffle(dimshuffle(x, "x", 0), 1, 0), dimshuffle(x, 0, "x"),
                why="a transposed row is a column: one dimshuffle instead of two"),
        rewrite("col_transpose", dimshuffle(dimshuffle(x, 0, "x"), 1, 0), dimshuffle(x, "x", 0),
                why="a transposed column is a row: one dimshuffle instead of two"),
        rewrite("drop_added_axis", dimshuffle(dimshuffle(x, "x", 0), 1), x,
                why="adding then dropping a broadcastable axis cancels"),
        rewrite("dot_transposes", dot(dimshuffle(m, 1, 0), dimshuffle(n, 1, 0)), dimshuffle(dot(n, m), 1, 0),
                why="A.T @ B.T = (B @ A).T: one transposed view instead of two"),
        rewrite("max_of_broadcast_row", max(dimshuffle(x, "x", 0), axis=0), x,
                why="the max over an added length-1 axis is the identity"),
        rewrite("min_of_broadcast_row", min(dimshuffle(x, "x", 0), axis=0), x,
                why="the min over an added length-1 axis is the identity"),
        rewrite("sum_of_scalar_broadcast", sum(dimshuffle(s, "x")), s,
                why="the sum of a scalar made a length-1 vector is the scalar"),
    ]
    rules += _dimshuffle_lifts(x, y)
    rules += _alloc_broadcasts()
    return RuleSet(rules)


_ALGEBRAIC = _build()
_ASSUMING_FINITE = _build_assuming_finite()
