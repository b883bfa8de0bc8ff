"""Linear algebra rules: solve instead of inverting, log-determinants without overflow, cheap
determinants of triangular and diagonal matrices, triangular and Cholesky solves.

Each rule is sound wherever its pattern is defined (``docs/linear-algebra.md`` gives each
condition): a replacement that would differ where the pattern is ``nan`` returns ``nan`` there too
(``log(det(A))`` of a negative determinant), and the structure a rule relies on is written in its
pattern (a ``tril``/``triu`` result, a ``cholesky`` result, a diagonal built by ``diag``), never
assumed. Patterns with ``det``, ``matrix_inverse`` or ``solve`` are checked where both sides agree;
those ops have no high-precision reference, so disagreements (e.g. the replacement not overflowing
where the pattern does) leave the rule *unchecked*, and ``tests/test_linalg.py`` compares the sides
on well-conditioned inputs.

Two conventions of the rule language matter here. An op parameter tuple written on both sides is
generalized to any value (the rules below never rely on a literal parameter that also occurs on
the other side with the same value, except where any value is right). Constants a rule creates
take the dtype of the matched term, so the integer 0 a diagonal mask needs is ``n - n``.

>>> sorted(linalg().names())[:4]
['det_cholesky', 'det_diag', 'det_inverse', 'det_transpose']
"""

from __future__ import annotations

import numpy as np

from ..core.graph import Constant
from ..core.op import OPS, Op
from ..core.ops import elemwise as E
from ..core.ops import reduction as R
from ..core.ops.creation import arange, eye
from ..core.ops.linalg import det, dot, matmul, matrix_inverse, solve
from ..core.ops.nlinalg import slogdet
from ..core.ops.broadcast import alloc
from ..core.ops.shape import dimshuffle, shape_i
from ..core.ops.solvers import cholesky
from ..core.ops.subtensor import getitem, set_subtensor
from .language import RuleSet, positive, rewrite, var


#: agreement the checker asks of solves and determinants, in units of the dtype's epsilon: the sides
#: round differently, solves by up to the condition number, and NumPy's det is exp(log|det|), off by
#: up to eps * |log det| (~1000 eps for the checker's values near 1e300); beyond this the rule is
#: judged against a reference, and reported unchecked where an op has none
_SOLVE_ULPS = 1 << 12
_DET_ULPS = 1 << 12


def linalg() -> RuleSet:
    """The linear-algebra rule set (part of :func:`eqtensor.rules.default_rules`)."""
    return _LINALG


def _diag_product(m, rows=None, cols=None):
    """``prod(diagonal(m))`` of a square matrix as ``prod(where(eye, m, 1))`` (O(n^2), exact: the other
    factors are ones). Written for the e-graph: the integer 0 of ``eye`` is ``rows - rows`` (a constant
    the rule created would take the determinant's float dtype), and the product reduces a matrix of
    ``m``'s type (the optimizer types unary results only for types of the graph). ``rows``/``cols``:
    the pattern's lengths of ``m`` if it has them, else ``shape_i(m, 0)``, ``shape_i(m, 1)``."""
    rows = shape_i(m, 0) if rows is None else rows
    cols = shape_i(m, 1) if cols is None else cols
    mask = eye(rows, cols, rows - rows, dtype="bool")
    return R.prod(E.switch(mask, m, 1.0), axis=None)


def _triangle(x, lower):
    """``tril(x)`` or ``triu(x)`` (``k=0``) as ``pt.tril``/``pt.triu`` build them for a matrix of unknown
    shape, and its lengths ``shape_i(x, 0)``, ``shape_i(x, 1)``. (With static shapes the lengths are
    constants and these patterns do not match; free length variables would match them, but a
    pattern is also a graph the test suite instantiates with independent random inputs.)"""
    rows, cols = shape_i(x, 0), shape_i(x, 1)
    tri = Op(OPS["tri"], {"dtype": "bool"})
    t = E.switch(tri(rows, cols, 0), x, 0) if lower else E.switch(tri(rows, cols, -1), 0, x)
    return t, rows, cols


def _build() -> RuleSet:
    rules = []

    # ------------------------------------------------------------------ inverse times b -> solve
    a, b, bv = var("A", 2), var("b", 2), var("b", 1)
    why_solve = "solving is cheaper (LU once, no inverse) and more accurate than inverting and multiplying"
    for k, prod_ in enumerate((dot, matmul)):
        name = ("dot", "matmul")[k]
        rules.append(rewrite(f"inv_{name}_to_solve", prod_(matrix_inverse(a), b), solve(a, b), why=why_solve,
                             exact=False, ulps=_SOLVE_ULPS))
        rules.append(rewrite(f"inv_{name}_to_solve_vector", prod_(matrix_inverse(a), bv), solve(a, bv), why=why_solve,
                             exact=False, ulps=_SOLVE_ULPS))
        rules.append(rewrite(f"{name}_inv_to_solve", prod_(b, matrix_inverse(a)), solve(a.T, b.T).T,
                             why=why_solve + " (b inv(A) = solve(A^T, b^T)^T)", exact=False, ulps=_SOLVE_ULPS))
    sa, sb = var("A", 3), var("B", 3)
    rules.append(rewrite("inv_matmul_to_batched_solve", matmul(matrix_inverse(sa), sb),
                         Op(OPS["blockwise_solve"], {"assume_a": "gen", "lower": False, "b_ndim": 2})(sa, sb),
                         why=why_solve + " (stacks: b's core is a matrix, as in matmul)", exact=False,
                         ulps=_SOLVE_ULPS))
    ai = var("A", 2)
    rules.append(rewrite("inv_inv", matrix_inverse(matrix_inverse(ai)), ai,
                         why="inversion is an involution (where the inverse exists)", exact=False, ulps=_SOLVE_ULPS))

    # ------------------------------------------------------------------ log-determinants
    ad = var("A", 2)
    rules.append(rewrite("log_det_to_slogdet", E.log(det(ad)), Op(OPS["slogdet"], {"which": 2})(ad),
                         why="det overflows and underflows where its log does not; slogdet{which=2} is log|det| where "
                             "the sign is >= 0 and nan where det < 0, as the log of a negative number",
                         stabilizes=True, ulps=_DET_ULPS))
    aa = var("A", 2)
    rules.append(rewrite("log_abs_det_to_slogdet", E.log(E.abs(det(aa))), slogdet(aa)[1],
                         why="det overflows and underflows where log|det| does not", stabilizes=True, ulps=_DET_ULPS))

    # ------------------------------------------------------------------ determinants of structured matrices
    for name, low in (("det_tril", True), ("det_triu", False)):
        t, rows, cols = _triangle(var("X", 2), low)
        rules.append(rewrite(name, det(t), _diag_product(t, rows, cols),
                             why="the determinant of a triangular matrix is the product of its diagonal (O(n), no LU)",
                             exact=False, ulps=_DET_ULPS))
    ac = var("A", 2)
    lc = cholesky(ac)
    rules.append(rewrite("det_cholesky", det(lc), _diag_product(lc),
                         why="a Cholesky factor is triangular: its determinant is the product of its diagonal",
                         exact=False, ulps=_DET_ULPS))
    v = var("v", 1)
    n = shape_i(v, 0)
    i = arange(0, n, 1, dtype="int64")
    diag_v = set_subtensor(getitem(alloc(Constant(np.float64(0.0)), n, n), (i, i)), v)  # pt.diag(v), k=0
    rules.append(rewrite("det_diag", det(diag_v), R.prod(v, axis=0),
                         why="diag(v) is diagonal with v on its diagonal: the determinant is prod(v)", exact=False,
                         ulps=_DET_ULPS, domain={"v": "finite"}))  # LU turns inf into nan where prod(v) does not
    at = var("A", 2)
    rules.append(rewrite("det_transpose", det(at.T), det(at), why="det(A^T) = det(A)", exact=False, ulps=_DET_ULPS))
    av = var("A", 2)
    rules.append(rewrite("det_inverse", det(matrix_inverse(av)), E.reciprocal(det(av)),
                         why="det(inv(A)) = 1 / det(A): one LU instead of an inverse and an LU", exact=False,
                         ulps=_SOLVE_ULPS))

    # ------------------------------------------------------------------ structured solves
    tril_x, triu_x = _triangle(var("X", 2), True)[0], _triangle(var("X", 2), False)[0]
    al = var("A", 2)
    chol = cholesky(al)
    why_tri = "a triangular system is solved by substitution (O(n^2) per column) instead of an LU"
    for name, t, low in (("solve_tril", tril_x, True), ("solve_triu", triu_x, False),
                         ("solve_cholesky_factor", chol, True)):
        st = lambda bb, t=t, low=low: Op(OPS["solve_triangular"], {"lower": low, "unit_diagonal": False,
                                                                   "b_ndim": 2})(t, bb)
        rules.append(rewrite(name, solve(t, b), st(b), why=why_tri, exact=False, ulps=_SOLVE_ULPS))
        rules.append(rewrite(f"{name}_vector", solve(t, bv), dimshuffle(st(dimshuffle(bv, 0, "x")), 0),
                             why=why_tri + " (a vector as a one-column matrix)", exact=False, ulps=_SOLVE_ULPS))
    ap = var("A", 2)
    lp = cholesky(ap)
    cs = lambda bb: Op(OPS["cho_solve"], {"lower": True, "b_ndim": 2})(lp, bb)  # noqa: E731
    why_cho = "L L^T with L = cholesky(A) is A: two triangular solves with L instead of forming L L^T and an LU"
    for name, gram in (("solve_llt_matmul", matmul(lp, lp.T)), ("solve_llt_dot", dot(lp, lp.T))):
        rules.append(rewrite(name, solve(gram, b), cs(b), why=why_cho, exact=False, ulps=_SOLVE_ULPS))
        rules.append(rewrite(f"{name}_vector", solve(gram, bv), dimshuffle(cs(dimshuffle(bv, 0, "x")), 0),
                             why=why_cho + " (a vector as a one-column matrix)", exact=False, ulps=_SOLVE_ULPS))

    # ------------------------------------------------------------------ log of a product
    # (written for rows of a matrix: the axis and keepdims, on both sides, match any value)
    xp = var("x", 2)
    rules.append(rewrite("log_prod_pos", E.log(R.prod(xp, axis=1)), R.sum(E.log(xp), axis=1), when=[positive(xp)],
                         why="the product overflows or underflows where the sum of logs does not (x > 0); the sum "
                             "is exact to eps * sum(|log x|) in absolute terms", domain={"x": "positive"},
                         stabilizes=True, ulps=_SOLVE_ULPS))
    return RuleSet(rules)


_LINALG = _build()
