"""Big graphs compile in time linear in their size, correctly, and within the budget's wall time.

Moderate versions of the cases of ``benchmarks/bench_big_graphs.py`` (the full sizes are measured
there): a deep chain and its gradient, many scalar inputs, the gradient of a long sum, an exploding
user rule set, a random graph. ``Budget.seconds`` covers the whole compile (optimization and code
generation): a compile may overshoot it by at most half.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

import eqtensor as et
from eqtensor import config, tensor as pt
from eqtensor.backends import make_schedule
from eqtensor.backends import numpy_backend
from eqtensor.backends.c import compiler_works
from eqtensor.backends.c.plan import plan_units
from eqtensor.backends.fusion import MAX_GROUP_NODES
from eqtensor.compile.mode import Mode
from eqtensor.core.evaluate import evaluate
from eqtensor.core.fgraph import FunctionGraph
from eqtensor.core.traversal import toposort
from eqtensor.egraph import Budget, optimize_graph
from eqtensor.gradient import grad
from eqtensor.rules import default_rules, rewrite, var


@pytest.fixture(autouse=True)
def _no_optimizer_cache():
    with config.change_flags(optimizer_cache=False):  # every compile runs the e-graph: cold
        yield


def chain(x, n):
    e = x
    for _ in range(n):
        e = pt.tanh(e) * 0.5 + 0.1
    return e


def check(f, inputs, outputs, values):
    got = f(*values)
    got = got if isinstance(got, list) else [got]
    ref = evaluate(list(outputs), {v: np.asarray(a, dtype=v.dtype) for v, a in zip(inputs, values)})
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def depth(v) -> int:
    d = {}
    for node in toposort([v]):
        d[id(node.out)] = 1 + max((d.get(id(i), 0) for i in node.inputs), default=0)
    return d.get(id(v), 0)


def timed_compile(inputs, outputs, mode):
    t = time.perf_counter()
    f = et.function(inputs, outputs, mode=mode)
    return f, time.perf_counter() - t


# ------------------------------------------------------------------------------------ correctness
def test_deep_chain_and_its_gradient():
    x = pt.dvector("x")
    e = chain(x, 300)
    g = grad(e.sum(), x)
    v = np.linspace(-1, 1, 7)
    f = et.function([x], [e, g], mode="NUMPY")
    check(f, [x], [e, g], [v])
    assert f.optimization_report().fallback is None


def test_many_scalar_inputs():
    xs = [pt.dscalar(f"x{i}") for i in range(400)]
    total, prods = xs[0], xs[0] * xs[1]
    for v in xs[1:]:
        total = total + v
    for a, b in zip(xs[1:], xs[2:]):
        prods = prods + a * b
    f = et.function(xs, [total, prods], mode="NUMPY")
    check(f, xs, [total, prods], list(np.random.default_rng(0).random(len(xs))))


def test_gradient_of_a_long_sum():
    n = 1000
    ws = [pt.dscalar(f"w{i}") for i in range(n)]
    xs = [pt.dscalar(f"x{i}") for i in range(n)]
    cost = ws[0] * xs[0]
    for w, x in zip(ws[1:], xs[1:]):
        cost = cost + w * x
    t = time.perf_counter()
    gs = grad(cost, ws + xs)
    assert time.perf_counter() - t < 5.0
    f = et.function(ws + xs, gs, mode="NUMPY")
    values = list(np.random.default_rng(1).random(2 * n))
    got = f(*values)
    np.testing.assert_allclose(got[:n], values[n:])  # d/dw_i = x_i
    np.testing.assert_allclose(got[n:], values[:n])  # d/dx_i = w_i


def test_cotangents_of_a_variable_used_many_times_are_summed_as_a_balanced_tree():
    x = pt.dscalar("x")
    uses = 1024
    cost = x * 1.0
    for k in range(1, uses):
        cost = cost + pt.sin(x * float(k))  # every term reads x: 1024 cotangents for x
    g = grad(cost, x)
    sum_depth = depth(g) - depth(cost)  # the seed second(cost, 1) holds the forward chain, unread
    assert sum_depth < 40, sum_depth  # a left-to-right sum of the cotangents would be > 1024 deeper
    ref = 1.0 + sum(k * np.cos(0.3 * k) for k in range(1, uses))
    np.testing.assert_allclose(et.function([x], g, mode="FAST_COMPILE")(0.3), ref, rtol=1e-9)


def random_graph(n_ops: int, seed: int = 0):
    """The seeded random elementwise DAG of ``benchmarks/bench_optimize.py``."""
    rng = np.random.default_rng(seed)
    x, y = pt.dvector("x"), pt.dvector("y")
    pool, ops = [x, y], 0
    while ops < n_ops:
        a = pool[int(rng.integers(max(0, len(pool) - 20), len(pool)))]
        b = pool[int(rng.integers(0, len(pool)))]
        k = int(rng.integers(0, 9))
        e, d = [(lambda: (pt.exp(a * 0.01), 2)), (lambda: (pt.log(pt.sqr(a) + 1.0), 3)), (lambda: (-(-a), 2)),
                (lambda: (a * 1.0 + 0.0, 2)), (lambda: (pt.log(1 + pt.exp(a)), 3)), (lambda: (a - b, 1)),
                (lambda: (a * b, 1)), (lambda: (a / (pt.sqr(b) + 1.0), 3)), (lambda: (a + b, 1))][k]()
        pool.append(e)
        ops += d
    used = {id(i) for v in pool if v.owner is not None for i in v.owner.inputs}
    outs = [v for v in pool[2:] if id(v) not in used]
    return FunctionGraph([x, y], outs, 2, len(outs))


def test_random_graph():
    fg = random_graph(500)
    f = et.function(fg.inputs, fg.outputs, mode="NUMPY")
    rng = np.random.default_rng(2)
    check(f, fg.inputs, fg.outputs, [rng.random(4) for _ in fg.inputs])


# ------------------------------------------------------------------------- the numpy backend scales
def test_big_schedules_run_interpreted_with_the_same_results_and_errors():
    x, y = pt.dvector("x"), pt.dvector("y")
    e = chain(x, 40) * y
    fg = FunctionGraph([x, y], [e, e + 1.0], 2, 2)
    s = make_schedule(fg)
    src, ns = numpy_backend.generate(s)
    exec(compile(src, "<test>", "exec"), ns)
    straight = ns["thunk"]
    loop, listing = numpy_backend.interpreted(s)
    assert listing.startswith("# interpreted thunk")
    a, b = np.linspace(-1, 1, 5), np.arange(5.0)
    for u, v in zip(straight(a, b), loop(a, b)):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="run-time lengths differ"):  # PyTensor's static broadcasting
        loop(a, np.arange(4.0))


def test_generated_code_compiles_in_linear_time():
    # run-time broadcast checks used to hold a comprehension each: Python compiled the thunk in
    # time quadratic in its number of locals; checks implied by earlier ones are now left out
    x = pt.dvector("x")
    g = grad(chain(x, 800).sum(), x)
    s = make_schedule(FunctionGraph([x], [g], 1, 1))
    assert len(s.broadcast_checks()) <= 1
    src, _ = numpy_backend.generate(s)
    assert "for a in" not in src
    t = time.perf_counter()
    compile(src, "<test>", "exec")
    assert time.perf_counter() - t < 5.0


# ------------------------------------------------------------------------------------ the budget
def exploding_rules():
    a, b, c = var("a"), var("b"), var("c")
    return (rewrite("t_add_comm", a + b, b + a, why="commutativity")
            + rewrite("t_add_assoc", (a + b) + c, a + (b + c), why="associativity")
            + rewrite("t_mul_comm", a * b, b * a, why="commutativity")
            + rewrite("t_mul_assoc", (a * b) * c, a * (b * c), why="associativity")
            + rewrite("t_distribute", a * (b + c), a * b + a * c, why="distribution"))


def polynomial(n):
    ys = [pt.dvector(f"y{i}") for i in range(n)]
    poly = ys[0]
    for k, v in enumerate(ys[1:]):
        poly = poly * v + ys[k] if k % 3 == 0 else poly + v
    return ys, poly


@pytest.mark.parametrize("seconds", [0.5, 1.0])
def test_exploding_user_rules_stay_within_the_time_budget(seconds):
    mine = exploding_rules()
    mode = Mode(rules=default_rules() + mine, trusted=tuple(mine.names()), budget=Budget(seconds=seconds))
    zs, small = polynomial(3)
    et.function(zs, small, mode=mode)  # the first use of a rule registers it with egglog, once per process
    ys, poly = polynomial(30)
    f, elapsed = timed_compile(ys, poly, mode)
    assert elapsed <= 1.5 * seconds, (elapsed, str(f.optimization_report()))
    report = f.optimization_report()
    assert "time budget" in report.stop_reason or report.budget_notes or "e-node budget" in report.stop_reason
    check(f, ys, [poly], [np.random.default_rng(3).random(3) for _ in ys])


def test_a_graph_too_big_for_the_budget_compiles_unoptimized_and_says_so():
    x = pt.dvector("x")
    e = chain(x, 3000)  # 9000 nodes: a full optimization takes about a second
    _, floor = timed_compile([x], e, "FAST_COMPILE")  # no optimizer: what compiling the graph costs anyway
    f, elapsed = timed_compile([x], e, Mode(budget=Budget(seconds=0.5)))
    assert elapsed <= 1.5 * max(0.5, floor), (elapsed, floor)
    report = f.optimization_report()
    assert report.budget_notes and "time budget" in report.stop_reason
    assert "time budget:" in str(report)
    check(f, [x], [e], [np.linspace(-1, 1, 3)])


def test_extraction_out_of_time_keeps_the_input_graph():
    from eqtensor.egraph.extract import OutOfTime
    from eqtensor.egraph.deadline import Deadline

    class RunsOutDuringExtraction(Deadline):
        def check(self):  # called by the extraction and rebuilding loops only
            raise OutOfTime("for the test")

    x = pt.dvector("x")
    fg = FunctionGraph([x], [pt.log(1 + pt.exp(x)) * 1.0], 1, 1)
    new, report = optimize_graph(fg, deadline=RunsOutDuringExtraction(10.0))
    assert new is fg and report.fallback is None
    assert any("input graph is kept" in n for n in report.budget_notes)


@pytest.mark.slow
def test_deep_chain_optimizes_within_a_generous_budget():
    x = pt.dvector("x")
    e = chain(x, 3000)
    f, elapsed = timed_compile([x], e, Mode(budget=Budget(seconds=60.0)))
    report = f.optimization_report()
    assert report.stop_reason == "saturated" and not report.budget_notes, str(report)
    assert elapsed < 20.0
    check(f, [x], [e], [np.linspace(-1, 1, 3)])


def test_insertion_without_temporary_files_gives_the_same_result(monkeypatch):
    """The graph goes to egglog as rows of staging relations read from temporary files; where no
    temporary directory can be made, the same rows are inserted as the actions of one rule."""
    import tempfile

    from eqtensor.egraph import insertion

    monkeypatch.setattr(insertion, "ROWS_BY_FILE_FROM", 0)  # files even for a small graph
    x, y = pt.dvector("x"), pt.dvector("y")
    outs = [pt.log(1 + pt.exp(x * y)) * 1.0, pt.concatenate([x, -(-y)]), pt.sum(pt.alloc(2.0, 3, 4))]
    fg = FunctionGraph([x, y], outs, 2, len(outs))
    with_files, report = optimize_graph(fg)
    assert report.fallback is None

    def no_temp(*a, **k):
        raise OSError("no temporary directory")

    monkeypatch.setattr(tempfile, "mkdtemp", no_temp)
    without, report2 = optimize_graph(fg)
    assert report2.fallback is None
    assert [repr(o) for o in with_files.outputs] == [repr(o) for o in without.outputs]
    assert report.rules_fired == report2.rules_fired and report.enodes_inserted == report2.enodes_inserted


@pytest.mark.slow
def test_deep_chain_and_its_gradient_on_the_c_backend():
    x = pt.dvector("x")
    e = chain(x, 100)
    g = grad(e.sum(), x)
    f = et.function([x], [e, g], mode="C")
    check(f, [x], [e, g], [np.linspace(-1, 1, 7)])


# ------------------------------------------------------------------------------------- the C backend
needs_cc = pytest.mark.skipif(not compiler_works(), reason="no working C compiler")


def kernel_count(f) -> int:
    """The distinct loop kernels of a C function (its module lists them)."""
    line = next(ln for ln in f.maker.backend_source.splitlines() if ln.startswith("/* kernels:"))
    return len(line.split()) - 3


@needs_cc
@pytest.mark.slow
def test_a_long_chain_is_cut_into_identical_kernels_compiled_once():
    x = pt.dvector("x")
    e = chain(x, 1500)  # 4 500 elementwise nodes: one fused group would be a kernel of 4 500 lines
    fg = FunctionGraph([x], [e], 1, 1)
    plan = plan_units(make_schedule(fg).nodes, fg.outputs)
    sizes = [len(plan.members[u]) for u in plan.units]
    assert max(sizes) <= MAX_GROUP_NODES and sum(sizes) == 4500
    f, seconds = timed_compile([x], e, Mode(optimize=False, backend="c"))
    check(f, [x], [e], [np.linspace(-1, 1, 7)])
    # 18 groups of 256 nodes: they differ only in where they start in the chain's 3-op cycle
    assert kernel_count(f) <= 5, kernel_count(f)


@needs_cc
def test_many_inputs_and_outputs_are_bound_from_tables():
    n = 300
    xs = [pt.dscalar(f"x{i}") for i in range(n)]
    outs = [a * b + 1.0 for a, b in zip(xs, xs[1:] + xs[:1])]
    f = et.function(xs, outs, mode=Mode(optimize=False, backend="c"))
    assert f"for (k = 0; k < {n}; k++) if (eq_input(" in f.maker.backend_source  # not 300 statements
    values = list(np.random.default_rng(3).random(n))
    check(f, xs, outs, values)
    bad = values[:250] + [np.ones(2)] + values[251:]
    with pytest.raises(TypeError, match=r"input 250 \(x250\) must have 0 dimensions"):
        f.maker.thunk(*bad)  # the C function itself (the Function checks arguments before)


def unit_functions(f) -> int:
    """The unit functions a C function's module defines (the other units are rows of its program)."""
    return len(re.findall(r"^(?:static|EQ_UNIT) (?:__attribute__\(\(noinline\)\) )?int eq_u\d+\(PyObject \*state, "
                          r"eq_arr \*V\)$", f.maker.backend_source, re.M))


@needs_cc
def test_elementwise_units_of_a_big_module_are_rows_of_a_table():
    x = pt.dvector("x")
    mode = Mode(optimize=False, backend="c")
    sources = {}
    for n in (40, 80):
        e = chain(x, n)
        g = grad(e.sum(), x)  # the forward values are read twice: one unit per step
        f = et.function([x], [e, g], mode=mode)
        check(f, [x], [e, g], [np.linspace(-1, 1, 7)])
        assert "static const int eq_prog[]" in f.maker.backend_source
        sources[n] = f
    # twice the units, not more unit functions (only the reduction's and the like are functions)
    assert unit_functions(sources[40]) == unit_functions(sources[80]) < 10
    # a ValueError raised in a row names the unit's operands
    xs = [pt.dvector(f"x{i}") for i in range(20)]
    outs = [a * b + 1.0 for a, b in zip(xs, xs[1:])]
    f = et.function(xs, outs, mode=mode)
    assert unit_functions(f) == 0
    args = [np.arange(3.0)] * 20
    np.testing.assert_array_equal(f(*args)[4], np.arange(3.0) ** 2 + 1)
    args[5] = np.ones(4)
    with pytest.raises(ValueError, match=re.escape("[in add of x4 (shape (3,)), x5 (shape (4,))]")):
        f.maker.thunk(*args)


@needs_cc
def test_rows_and_unit_functions_inside_ifelse_branches():
    from eqtensor.ifelse import ifelse

    c, x = pt.bscalar("c"), pt.dvector("x")
    a = x
    for k in range(12):  # each value read twice: twelve units per branch
        a = a * pt.exp(a * 0.01) + float(k)
    b = pt.sum(x) * x  # a reduction: a unit function
    for k in range(12):
        b = pt.tanh(b) * b - float(k)
    out = ifelse(c, a, b) + x
    f = et.function([c, x], out, mode=Mode(optimize=False, backend="c"))
    src = f.maker.backend_source
    assert "static const int eq_prog[]" in src and src.count("if (eq_units(state, V, eq_prog + ") >= 3
    v = np.linspace(-1, 1, 5)
    for cond in (1, 0):
        np.testing.assert_allclose(f(cond, v), evaluate([out], {c: np.int8(cond), x: v})[0], rtol=1e-12)


@needs_cc
def test_many_distinct_kernels_compile_at_a_lower_level():
    from eqtensor.backends.c import loops

    x = pt.dvector("x")
    many = [pt.exp(x * float(k)) for k in range(1, 41)]  # 40 distinct kernels
    f = et.function([x], many, mode=Mode(optimize=False, backend="c"))
    few = et.function([x], many[:3], mode=Mode(optimize=False, backend="c"))
    many_level, few_level = loops.opt_level(40), loops.opt_level(3)
    assert few_level == "-O3" and many_level != "-O3"
    assert kernel_count(f) == 40 and f.maker.backend_source.count(loops.opt_marker(many_level)) == 40
    assert loops.opt_marker(few_level) in few.maker.backend_source
    v = np.linspace(-1, 1, 9)
    for got, k in zip(f(v), range(1, 41)):
        np.testing.assert_allclose(got, np.exp(v * k), rtol=1e-15)
    assert loops.kernel_flags(["-O3", "-march=native"], [loops.opt_marker(many_level) + "void k(void);"]) \
        == [many_level, "-march=native"]
