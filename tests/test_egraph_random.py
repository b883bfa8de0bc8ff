"""Random graphs: the optimized function computes what the unoptimized one computes."""

import mpmath
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from eqtensor import function, tensor as pt
from eqtensor.core.traversal import toposort
from eqtensor.rules import default_rules

UNARY = ["neg", "exp", "log", "log1p", "sigmoid", "softplus", "sqr", "sqrt", "abs", "tanh", "expm1"]
BINARY = ["add", "sub", "mul", "true_div"]
CONSTS = [0.0, 1.0, -1.0, 2.0, 0.5]
STABILIZING = {r.name for r in default_rules() if r.stabilizes}


@st.composite
def graphs(draw):
    """A random expression DAG with up to 12 ops over two float vectors, a broadcastable (1,)
    vector, an int vector, and constants (some of shape (6,), so types differ and guards matter)."""
    x, y = pt.dvector("x"), pt.dvector("y")
    r, i = pt.tensor("r", dtype="float64", shape=(1,)), pt.lvector("i")
    pool = [x, y, r, i]
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["u", "b", "b", "c", "pattern"]))
        a = draw(st.sampled_from(pool))
        if kind == "u":
            e = getattr(pt, draw(st.sampled_from(UNARY)))(a)
        elif kind == "b":
            e = getattr(pt, draw(st.sampled_from(BINARY)))(a, draw(st.sampled_from(pool)))
        elif kind == "c":
            c = draw(st.sampled_from(CONSTS))
            if draw(st.booleans()):
                c = np.full(6, c)  # a constant vector: x*ones(6) is not x when x has shape (1,)
            op = draw(st.sampled_from(BINARY))
            e = getattr(pt, op)(a, c) if draw(st.booleans()) else getattr(pt, op)(c, a)
        else:  # shapes the default rules look for
            e = draw(st.sampled_from([
                lambda v: pt.log(1 + pt.exp(v)), lambda v: -(-v), lambda v: pt.exp(pt.log(v)),
                lambda v: pt.log(pt.sigmoid(v)), lambda v: pt.exp(v) - 1, lambda v: v * 1.0 + 0.0,
                lambda v: pt.log(pt.exp(v)), lambda v: pt.exp(v) * pt.exp(v), lambda v: 2.0 * v / 2.0,
            ]))(a)
        pool.append(e)
    outs = draw(st.lists(st.sampled_from(pool[4:]), min_size=1, max_size=3))
    return (x, y, r, i), outs


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**31 - 1))
def test_optimized_equals_unoptimized(g, seed):
    ins, outs = g
    rng = np.random.default_rng(seed)
    vals = [rng.normal(0, 2, 6), rng.normal(0, 2, 6), rng.normal(0, 2, 1), rng.integers(-4, 5, 6)]
    f_ref = function(list(ins), outs, mode="FAST_COMPILE", on_unused_input="ignore")
    f_opt = function(list(ins), outs, mode="NUMPY", on_unused_input="ignore")
    report = f_opt.optimization_report()
    assert report.fallback is None, str(report)
    assert report.stop_reason == "saturated", str(report)  # iterations and e-nodes suffice: deterministic
    if not set(report.rules_fired) & STABILIZING:  # otherwise a stable form may cost more arithmetic
        assert report.cost_after <= report.cost_before * (1 + 1e-9)
    assert report.nodes_after == len(toposort(f_opt.maker.fgraph.outputs))
    with np.errstate(all="ignore"):
        ref, got = f_ref(*vals), f_opt(*vals)
    for r, o, var in zip(ref, got, outs):
        assert r.dtype == o.dtype and r.shape == o.shape
        finite = np.isfinite(r) & (np.abs(r) < 1e200)
        # where the naive graph is finite, the optimized one agrees with it, or (where cancellation
        # in the naive graph amplified its rounding) is at least as close to the exact value
        close = np.isclose(o, r, rtol=1e-6, atol=1e-9)
        if not np.all(close[finite]):
            exact = _exact(var, dict(zip(ins, vals)))
            bad = finite & ~close
            err_opt, err_naive = np.abs(o - exact)[bad], np.abs(r - exact)[bad]
            assert np.all(err_opt <= err_naive + 1e-6 * np.abs(exact[bad]) + 1e-9), (o, r, exact)
        # a nan of the naive graph stays nan unless it came from overflow (inf/inf, inf-inf, 0*inf)
        assert not np.any(np.isnan(o) & finite)


_MP = {
    "neg": lambda a: -a, "exp": mpmath.exp, "log": mpmath.log, "log1p": mpmath.log1p,
    "sigmoid": lambda a: 1 / (1 + mpmath.exp(-a)), "softplus": lambda a: mpmath.log1p(mpmath.exp(a)),
    "sqr": lambda a: a * a, "sqrt": mpmath.sqrt, "abs": abs, "tanh": mpmath.tanh, "expm1": mpmath.expm1,
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "true_div": lambda a, b: a / b,
}


def _mp_apply(name, *args):
    try:
        v = _MP[name](*args)
    except ZeroDivisionError:
        a, b = args
        return mpmath.nan if a == 0 or mpmath.isnan(a) else mpmath.inf * mpmath.sign(a)
    return mpmath.nan if isinstance(v, mpmath.mpc) and v.imag != 0 else mpmath.re(v)


def _exact(out, env):
    """``out`` evaluated elementwise with 60-digit mpmath (the unoptimized graph's exact value)."""
    with mpmath.workdps(60):
        vals = {id(k): np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(v, dtype=float))
                for k, v in env.items()}
        for node in toposort([out]):
            ins = []
            for i in node.inputs:
                if id(i) not in vals:
                    vals[id(i)] = np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(i.data, dtype=float))
                ins.append(vals[id(i)])
            if node.op.name == "dimshuffle":
                res = node.op.perform(*ins)
            else:
                res = np.vectorize(lambda *a, n=node.op.name: _mp_apply(n, *a), otypes=[object])(*ins)
            vals[id(node.out)] = res
        return np.vectorize(float, otypes=[float])(vals[id(out)])


@st.composite
def matrix_graphs(draw):
    """Random graphs over matrices: reductions, transposes, products and the patterns rules target."""
    A, B = pt.dmatrix("A"), pt.dmatrix("B")
    pool = [A, B]
    for _ in range(draw(st.integers(1, 8))):
        a, b = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        axis = draw(st.sampled_from([0, 1]))
        e = draw(st.sampled_from([
            lambda: pt.log(pt.sum(pt.exp(a), axis=axis, keepdims=True)) + b,
            lambda: pt.exp(a) / pt.sum(pt.exp(a), axis=1, keepdims=True),
            lambda: pt.log(pt.special.softmax(a, axis=axis)),
            lambda: pt.sum(-a, axis=axis, keepdims=True) * b,
            lambda: a.T.T + b,
            lambda: 0.5 * pt.dot(a, b) + 2.0 * b,
            lambda: pt.tanh(a) * b - a,
            lambda: pt.log1p(pt.exp(a)) / (1.0 + pt.sqr(b)),
            lambda: b + 1.5 * pt.outer(pt.sum(a, axis=0), pt.sum(b, axis=1)),
        ]))()
        pool.append(e)
    return A, B, pool[2:][-draw(st.integers(1, 3)):]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrix_graphs(), st.integers(0, 2**31 - 1))
def test_optimized_matrix_graphs_equal_unoptimized(g, seed):
    A, B, outs = g
    rng = np.random.default_rng(seed)
    av, bv = rng.normal(0, 1, (4, 4)), rng.normal(0, 1, (4, 4))
    f_ref = function([A, B], outs, mode="FAST_COMPILE", on_unused_input="ignore")
    f_opt = function([A, B], outs, mode="NUMPY", on_unused_input="ignore")
    assert f_opt.optimization_report().fallback is None
    assert f_opt.optimization_report().stop_reason == "saturated", str(f_opt.optimization_report())
    with np.errstate(all="ignore"):
        ref, got = f_ref(av, bv), f_opt(av, bv)
    for r, o in zip(ref, got):
        assert r.dtype == o.dtype and r.shape == o.shape
        finite = np.isfinite(r)
        np.testing.assert_allclose(o[finite], r[finite], rtol=1e-7, atol=1e-9)
