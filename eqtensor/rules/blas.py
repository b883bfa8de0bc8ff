"""BLAS rules: scaled matrix products plus scaled matrices become one ``gemm``/``gemv``/``ger``.

``α`` and ``β`` are whatever size-1 tensors the graph holds (a broadcast constant or a
dimshuffled scalar); products and sums are matched in both operand orders.

>>> sorted(blas().names())[:3]
['gemm', 'gemm_1', 'gemm_2']
"""

from __future__ import annotations

from itertools import product

from ..core.ops.blas import gemm, gemv, ger
from ..core.ops.linalg import dot
from ..core.ops.shape import dimshuffle
from .language import RuleSet, rewrite, var


def blas() -> RuleSet:
    """The BLAS rule set (empty if the BLAS ops are not declared)."""
    return _BLAS


def _orders(name, scaled, other, replacement, why):
    """One rule per operand order of ``a*P + b*Q`` (both products and the sum)."""
    out = []
    (a, p), (b, q) = scaled, other
    for k, (swap_p, swap_q, swap_sum) in enumerate(product((False, True), repeat=3)):
        ap = p * a if swap_p else a * p
        bq = q * b if swap_q else b * q
        pattern = bq + ap if swap_sum else ap + bq
        out.append(rewrite(name if k == 0 else f"{name}_{k}", pattern, replacement, why=why, exact=False,
                           ulps=64))
    return out


def _unscaled(name, a, p, q, replace_a, replace_b, replace_1, why):
    """The forms of ``a*P + b*Q`` with a factor of 1: ``a*P + Q``, ``P + b*Q``, ``P + Q`` (each order)."""
    out = []
    b = a.clone(name="b")
    b.tag["pattern"] = "b"
    forms = [((a * p, q), replace_a), ((p * a, q), replace_a), ((p, b * q), replace_b), ((p, q * b), replace_b),
             ((p, q), replace_1)]
    for k, ((left, right), replacement) in enumerate(forms):
        for j, pattern in enumerate([left + right, right + left]):
            out.append(rewrite(f"{name}_unscaled_{2 * k + j}", pattern, replacement(b), why=why, exact=False,
                               ulps=64))
    return out


def _build() -> RuleSet:
    A, B, C = var("A", 2), var("B", 2), var("C", 2)
    a, b = var("a", shape=(1, 1)), var("b", shape=(1, 1))
    x, y, v = var("x", 1), var("y", 1), var("v", 1)
    a1, b1 = var("a1", shape=(1,)), var("b1", shape=(1,))
    rules = _orders("gemm", (a, dot(A, B)), (b, C), gemm(C, a, A, B, b),
                    "one BLAS call, no temporaries for the scaled product and sum")
    rules += _unscaled("gemm", a, dot(A, B), C, lambda b_: gemm(C, a, A, B, 1.0), lambda b_: gemm(C, 1.0, A, B, b_),
                       lambda b_: gemm(C, 1.0, A, B, 1.0), "one BLAS call (factors of 1): no temporary for the product")
    rules += _orders("gemv", (a1, dot(A, v)), (b1, y), gemv(y, a1, A, v, b1),
                     "one BLAS call, no temporaries for the scaled product and sum")
    outer = dimshuffle(x, 0, "x") * dimshuffle(y, "x", 0)
    for k, pattern in enumerate([C + a * outer, a * outer + C, C + outer * a, outer * a + C]):
        rules.append(rewrite("ger" if k == 0 else f"ger_{k}", pattern, ger(C, a, x, y),
                             why="rank-1 update in one BLAS call", exact=False, ulps=64))
    return RuleSet(rules)


_BLAS = _build()
