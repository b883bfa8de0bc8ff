"""BLAS rules: scaled products and sums become gemm/gemv/ger (filled in once those ops exist).

>>> isinstance(blas().names(), list)
True
"""

from __future__ import annotations

from .language import RuleSet


def blas() -> RuleSet:
    """The BLAS rule set."""
    return RuleSet()
