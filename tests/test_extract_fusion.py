"""Fusion-aware extraction: the exact DAG cost knows which elementwise nodes the scheduler computes
inside their consumer's kernel (no memory pass) and which it must materialize."""

import numpy as np
import pytest

from eqtensor import function, tensor as pt
from eqtensor.egraph import CostModel, graph_cost, optimize_graph
from eqtensor.egraph.extract import extract
from eqtensor.core.fgraph import FunctionGraph
from eqtensor.compile.mode import Mode
from eqtensor.core.op import OPS
from eqtensor.core.graph import TensorType
from eqtensor.rules import check, rewrite, var

N = 1000  # a dvector's unknown length counts config.unknown_dim_size (default 1000)


class NoFusion(CostModel):
    """The same model with fusion pricing off: every non-view node pays its memory pass."""

    fusion = False


def node_costs(outputs, model):
    from eqtensor.core.traversal import toposort

    return sum(model.node_cost(n.op.name, n.op.params, n.out.type, [i.type for i in n.inputs],
                               [getattr(i, "data", None) for i in n.inputs])
               for n in toposort(outputs))


def ops_of(outputs):
    from eqtensor.core.traversal import toposort

    return [n.op.name for n in toposort(outputs)]


@pytest.fixture(autouse=True)
def _default_size():
    from eqtensor.core.config import config

    assert config.unknown_dim_size == N


# (a) one fused kernel is cheaper than the same ops with an intermediate used twice ---------------

def test_fused_chain_is_cheaper_than_a_materialized_intermediate():
    m = CostModel()
    x = pt.dvector("x")
    e = pt.exp(x)
    fused = e * 2.0 + 1.0          # exp -> mul -> add: one kernel, one memory pass (the output's)
    shared = e * 2.0 + e           # exp has two consumers: written once, read twice
    assert ops_of([fused]) == ops_of([shared]) == ["exp", "mul", "add"]
    c_fused, c_shared = graph_cost([fused], m), graph_cost([shared], m)
    assert c_fused < c_shared
    # exactly: the fused chain pays only the output's pass; the shared one also pays exp's pass
    assert c_fused == node_costs([fused], m) - 2 * m.memory_pass * N
    assert c_shared == node_costs([shared], m) - 1 * m.memory_pass * N
    # without fusion pricing both pay every pass
    assert graph_cost([fused], NoFusion()) == node_costs([fused], m)
    assert graph_cost([shared], NoFusion()) == node_costs([shared], m)


def test_extraction_reports_the_fused_cost():
    x = pt.dvector("x")
    fg = FunctionGraph([x], [pt.exp(x) * 2.0 + 1.0], 1, 1)
    _, rep = optimize_graph(fg, rules=rewrite("noop_neg_neg", -(-_u), _u))
    m = CostModel()
    assert rep.fallback is None
    assert rep.cost_before == rep.cost_after == node_costs(fg.outputs, m) - 2 * m.memory_pass * N


# (b) an extraction choice flips because of fusion ---------------------------------------------------

_u = var("u")
SQR_TWICE = rewrite("sqr_times_two", pt.sqr(_u) * 2.0, _u * (_u + _u), why="2u^2 = u*(u+u): one rounding either way")


def test_user_rule_is_exact():
    assert check(SQR_TWICE).ok


def test_choice_flips_to_the_form_that_fuses():
    # sqr(x) feeds two outputs, so it is materialized. The rule offers u*(u+u) for sqr(u)*2: one
    # more add, but then sqr(x) has a single consumer and fuses into `+ 1`, and add(x, x) fuses
    # into the mul: no intermediate touches memory. Only a fusion-aware cost prefers it.
    x = pt.dvector("x")
    s = pt.sqr(x)
    outs = [s * 2.0, s + 1.0]
    fused = function([x], outs, mode=Mode(rules=SQR_TWICE, backend="numpy"))
    plain = function([x], outs, mode=Mode(rules=SQR_TWICE, cost_model=NoFusion(), backend="numpy"))
    assert fused.optimization_report().rules_fired == {"sqr_times_two": 1}
    assert [repr(o) for o in fused.maker.fgraph.outputs] == ["mul(x, add(x, x))", "add(sqr(x), 1.0)"]
    assert [repr(o) for o in plain.maker.fgraph.outputs] == ["mul(sqr(x), 2.0)", "add(sqr(x), 1.0)"]
    r = fused.optimization_report()
    assert r.cost_after < r.cost_before
    v = np.array([-3.0, 0.5, 2.0, 1e200])
    for a, b in zip(fused(v), plain(v)):
        np.testing.assert_array_equal(a, b)


def test_choice_does_not_flip_when_the_intermediate_is_an_output():
    # sqr(x) is an output itself: it is materialized whatever the first output does, so the
    # extra add of u*(u+u) buys nothing
    x = pt.dvector("x")
    s = pt.sqr(x)
    f = function([x], [s * 2.0, s], mode=Mode(rules=SQR_TWICE, backend="numpy"))
    assert [repr(o) for o in f.maker.fgraph.outputs] == ["mul(sqr(x), 2.0)", "sqr(x)"]


def test_extract_on_a_hand_built_egraph():
    # class 0: leaf x; class 1: sqr(x); class 2: {mul(1, 1) | exp(0)}; class 3: neg(2)
    v = TensorType("float64", (None,))
    types, class_type = {0: v}, {c: 0 for c in range(4)}
    enodes = [(0, None, 0, (), 0), (1, "sqr", 0, (0,), None), (2, "mul", 0, (1, 1), None),
              (2, "exp", 0, (0,), None), (3, "neg", 0, (2,), None)]
    params = {0: {}}

    class CheapExp(CostModel):   # exp: 3 per element of arithmetic, no instability penalty
        def node_cost(self, opname, params, out_type, in_types, in_values):
            c = super().node_cost(opname, params, out_type, in_types, in_values)
            return c - (7 + OPS["exp"].unstable) * N if opname == "exp" else c

    class CheapExpNoFusion(CheapExp):
        fusion = False

    # sqr feeds only the mul (one consumer node, used twice) and the mul only the neg: with fusion
    # sqr + mul cost 1 + 1 per element (no passes), exp 3 -> mul(sqr, sqr)
    assert extract(enodes, class_type, [3], CheapExp(), types, params) == {3: 4, 2: 2, 1: 1, 0: 0}
    # without fusion sqr + mul cost (1 + 2) + (1 + 2), exp 3 + 2 -> exp
    assert extract(enodes, class_type, [3], CheapExpNoFusion(), types, params) == {3: 4, 2: 3, 0: 0}
    # the default model's exp (10 + 20 instability per element) loses either way
    assert extract(enodes, class_type, [3], NoFusion(), types, params)[2] == 2
    # sqr an output too: it pays its pass in both selections; the mul still fuses into neg
    assert extract(enodes, class_type, [3, 1], CheapExp(), types, params)[2] == 2


# (c) graph_cost of a chain: lower with fusion; where fusion stops -------------------------------------

def test_graph_cost_of_a_chain_with_and_without_fusion():
    x = pt.dvector("x")
    y = x
    for _ in range(5):
        y = pt.sin(y) * 1.5 + 0.25
    m = CostModel()
    total = node_costs([y], m)
    assert graph_cost([y], NoFusion()) == total
    # 15 elementwise nodes in one kernel: all but the output skip their memory pass
    assert graph_cost([y], m) == total - 14 * m.memory_pass * N


def test_fusion_stops_where_the_scheduler_stops():
    m = CostModel()
    pas = m.memory_pass * N
    x = pt.dvector("x")
    # a reduction absorbs its elementwise producer...
    s = pt.sum(pt.exp(x))
    assert graph_cost([s], m) == node_costs([s], m) - pas
    # ...but logsumexp does not (its C kernel reads a materialized input)
    assert OPS["logsumexp"].kind == "reduce"
    lse = pt.logsumexp(pt.exp(x))
    assert graph_cost([lse], m) == node_costs([lse], m)
    am = pt.argmax(pt.exp(x))     # the C argmax kernel computes its producer in its first pass
    assert graph_cost([am], m) == node_costs([am], m) - pas
    # an output is materialized even with a single consumer
    e = pt.exp(x)
    assert graph_cost([e + 1.0, e], m) == node_costs([e + 1.0, e], m)
    # a producer of another static shape (broadcast into a matrix) is not fused
    row, mat = pt.tensor("row", dtype="float64", shape=(1, 50)), pt.tensor("mat", dtype="float64", shape=(40, 50))
    b = pt.exp(row) + mat
    assert graph_cost([b], m) == node_costs([b], m)
    same = pt.exp(mat) + mat
    assert graph_cost([same], m) == node_costs([same], m) - m.memory_pass * 40 * 50
    # a view consumer is not elementwise: the producer is materialized
    t = pt.exp(mat).T
    assert graph_cost([t], m) == node_costs([t], m)


def test_graph_cost_counts_equal_nodes_once():
    # the e-graph merges structurally equal nodes on insertion, and graph_cost prices the graph
    # the same way: the two sqr(x) are one value with two consumers (materialized)
    m = CostModel()
    x, y = pt.dvector("x"), pt.dvector("y")
    a, b = pt.sqr(x) + y, pt.sqr(x) * y
    one = pt.sqr(x)
    assert graph_cost([a, b], m) == graph_cost([one + y, one * y], m)
    f = function([x, y], [a, b], mode=Mode(backend="numpy"))
    r = f.optimization_report()
    assert r.cost_after <= r.cost_before


# (d) cost models users plug in keep working ----------------------------------------------------------

def test_subclass_overriding_node_cost_still_works():
    class HateSqr(CostModel):
        def node_cost(self, opname, params, out_type, in_types, in_values):
            c = super().node_cost(opname, params, out_type, in_types, in_values)
            return c * 1e6 if opname == "sqr" else c

    x = pt.dvector("x")
    f = function([x], [pt.sqr(x) * 2.0], mode=Mode(rules=SQR_TWICE, cost_model=HateSqr(), backend="numpy"))
    assert [repr(o) for o in f.maker.fgraph.outputs] == ["mul(x, add(x, x))"]
    g = function([x], [pt.sqr(x) * 2.0], mode=Mode(rules=SQR_TWICE, backend="numpy"))
    assert [repr(o) for o in g.maker.fgraph.outputs] == ["mul(sqr(x), 2.0)"]   # one op fewer
    np.testing.assert_array_equal(f(np.array([1.5, -2.0]))[0], [4.5, 8.0])


def test_subclass_overriding_the_fusion_hooks():
    class NoSaving(CostModel):
        def fused_memory_saving(self, opname, params, out_type, in_types, in_values):
            return 0.0

    class NeverAbsorbs(CostModel):
        def fusion_consumer(self, opname):
            return None

    x = pt.dvector("x")
    y = pt.exp(x) * 2.0 + 1.0
    base = node_costs([y], CostModel())
    assert graph_cost([y], NoSaving()) == graph_cost([y], NeverAbsorbs()) == graph_cost([y], NoFusion()) == base
    assert graph_cost([y], CostModel()) < base
    s = pt.dvector("s")
    outs = [pt.sqr(s) * 2.0, pt.sqr(s) + 1.0]
    for model in (NoSaving(), NeverAbsorbs()):
        f = function([s], outs, mode=Mode(rules=SQR_TWICE, cost_model=model, backend="numpy"))
        assert repr(f.maker.fgraph.outputs[0]) == "mul(sqr(s), 2.0)"


def test_tiny_custom_costs_never_go_negative():
    class PerNode(CostModel):   # a model without memory passes: one unit per node
        def node_cost(self, opname, params, out_type, in_types, in_values):
            return 0.0 if opname is None else 1.0

    x = pt.dvector("x")
    y = pt.exp(x) * 2.0 + 1.0
    # exp and mul fuse and save at most their own cost (clamped): only the add is paid
    assert graph_cost([y], PerNode()) == 1.0
    f = function([x], y, mode=Mode(cost_model=PerNode(), backend="numpy"))
    assert f.optimization_report().cost_after >= 0


def test_duck_typed_cost_model_has_no_fusion_pricing():
    class Plain:   # not a CostModel: anything with node_cost is accepted (unstable forms pay
        # CostModel.unstable_penalty, so the stability rules still win)
        def node_cost(self, opname, params, out_type, in_types, in_values):
            return CostModel().node_cost(opname, params, out_type, in_types, in_values)

    x = pt.dvector("x")
    y = pt.exp(x) * 2.0 + 1.0
    assert graph_cost([y], Plain()) == node_costs([y], CostModel())
    f = function([x], pt.log(1 + pt.exp(x)), mode=Mode(cost_model=Plain(), backend="numpy"))
    assert ops_of(f.maker.fgraph.outputs) == ["softplus"]


# softmax/log_softmax take their elementwise producers into their row kernel -------------------------

@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_row_ops_absorb_their_elementwise_producers(op):
    m = CostModel()
    assert m.fusion_consumer(op) == "reduce"
    x, b = pt.dmatrix("x"), pt.dvector("b")
    z = pt.exp(x) * 2.0 + b               # exp -> mul -> add, all computed in the row kernel's loop
    out = getattr(pt.special, op)(z, axis=1)
    nodes = ops_of([out])
    assert nodes[-1] == op and nodes.count("dimshuffle") == 1
    # the three elementwise producers pay no memory pass (the broadcast view of b pays none anyway)
    assert graph_cost([out], m) == node_costs([out], m) - 3 * m.memory_pass * N * N
    assert graph_cost([out], NoFusion()) == node_costs([out], m)
