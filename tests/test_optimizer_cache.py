"""The optimizer cache: a graph of the same structure is not optimized twice, and what is replayed is
exactly what the e-graph produced."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import eqtensor as et
from eqtensor import config, tensor as pt
from eqtensor.egraph import Budget, cache as opt_cache, cache_codec, cache_key
from eqtensor.egraph.optimizer import optimize_graph
from eqtensor.core.fgraph import FunctionGraph
from eqtensor.compile.mode import Mode
from eqtensor.printing import debugprint
from eqtensor.rules import algebraic, default_rules


@pytest.fixture
def fresh_cache(tmp_path):
    opt_cache.clear_memory()
    with config.change_flags(cache_dir=str(tmp_path), optimizer_cache=True):
        yield tmp_path
    opt_cache.clear_memory()


def _logreg(x, y, w):
    p = 1 / (1 + pt.exp(-pt.dot(x, w)))
    return -y * pt.log(p) - (1 - y) * pt.log(1 - p)


def _report(f):
    return f.optimization_report()


def test_same_structure_replays_the_e_graph_result(fresh_cache, rng):
    xs = [(pt.dmatrix("x"), pt.dvector("y"), pt.dvector("w")) for _ in range(2)]
    fs = [et.function(list(v), _logreg(*v), mode="NUMPY") for v in xs]
    first, second = _report(fs[0]), _report(fs[1])
    assert first.cached is None and "saturate" in first.times
    assert second.cached == "memory" and set(second.times) == {"cache"}
    assert "from the optimizer cache (memory)" in str(second)
    # the same optimized graph, built over the second function's own inputs
    assert debugprint(fs[0].maker.fgraph.outputs, file="str").replace("x", "") == \
        debugprint(fs[1].maker.fgraph.outputs, file="str").replace("x", "")
    assert second.rules_fired == first.rules_fired and second.stop_reason == first.stop_reason
    assert set(fs[1].maker.fgraph.inputs) == set(xs[1])
    x, y, w = rng.standard_normal((5, 3)), rng.integers(0, 2, 5).astype(float), rng.standard_normal(3) * 40
    np.testing.assert_array_equal(fs[0](x, y, w), fs[1](x, y, w))
    assert np.all(np.isfinite(fs[1](x, y, w)))  # the stable form was replayed, not the naive one


def test_a_different_constant_type_or_rule_set_is_a_miss(fresh_cache):
    x = pt.dvector("x")
    et.function([x], pt.exp(x) * 2.0 + 1.0, mode="NUMPY")
    v = pt.dvector()
    assert _report(et.function([v], pt.exp(v) * 2.0 + 1.0, mode="NUMPY")).cached == "memory"
    for other in (pt.exp(v) * 3.0 + 1.0, pt.exp(v) * 2.0 - 1.0):
        assert _report(et.function([v], other, mode="NUMPY")).cached is None
    m = pt.dmatrix()
    assert _report(et.function([m], pt.exp(m) * 2.0 + 1.0, mode="NUMPY")).cached is None
    f32 = pt.fvector()
    assert _report(et.function([f32], pt.exp(f32) * 2.0 + 1.0, mode="NUMPY")).cached is None
    custom = Mode(rules=algebraic(), backend="numpy")
    assert _report(et.function([v], pt.exp(v) * 2.0 + 1.0, mode=custom)).cached is None
    assert _report(et.function([v], pt.exp(v) * 2.0 + 1.0, mode=custom)).cached == "memory"


def test_disk_entries_serve_a_new_process(fresh_cache):
    code = textwrap.dedent("""
        import eqtensor as et, numpy as np
        from eqtensor import tensor as pt
        x = pt.dvector("x")
        f = et.function([x], pt.log(1 + pt.exp(x)), mode="NUMPY")
        print(f.optimization_report().cached, f.maker.fgraph.outputs[0].owner.op.name,
              float(f(np.array([1000.0]))[0]))
    """)
    env = {**os.environ, "EQTENSOR_CACHE_DIR": str(fresh_cache)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            .stdout.split() for _ in range(2)]
    assert runs[0] == ["None", "softplus", "1000.0"]
    assert runs[1] == ["disk", "softplus", "1000.0"]
    assert list((fresh_cache / "optimizer").glob("*.json"))


def _ops(data):
    payload = json.loads(data.partition(b"\n")[2])
    return [s[:2] for s in payload["steps"]], cache_codec.decode_value(dict(payload["summary"])["rule_matches"])


def test_a_corrupt_or_truncated_entry_is_optimized_again(fresh_cache):
    x = pt.dvector("x")
    et.function([x], pt.log(1 + pt.exp(x)), mode="NUMPY")
    (entry,) = (fresh_cache / "optimizer").glob("*.json")
    good = entry.read_bytes()
    for bad in (good[: len(good) // 2], b"not an entry", b""):
        entry.write_bytes(bad)
        opt_cache.clear_memory()
        f = et.function([x], pt.log(1 + pt.exp(x)), mode="NUMPY")
        assert _report(f).cached is None
        assert f.maker.fgraph.outputs[0].owner.op.name == "softplus"
        assert _ops(entry.read_bytes()) == _ops(good)  # rewritten by the new run
        opt_cache.clear_memory()
        assert _report(et.function([x], pt.log(1 + pt.exp(x)), mode="NUMPY")).cached == "disk"


def test_switched_off_kept_egraph_and_time_budget_runs_are_not_cached(fresh_cache):
    x = pt.dvector("x")
    with config.change_flags(optimizer_cache=False):
        for _ in range(2):
            assert _report(et.function([x], pt.exp(x) + 1, mode="NUMPY")).cached is None
    assert not (fresh_cache / "optimizer").exists()
    fg = FunctionGraph([x], [pt.log(1 + pt.exp(x))], 1, 1)
    for _ in range(2):
        _, report = optimize_graph(fg, keep_egraph=True)
        assert report.cached is None and report.egraph is not None
    zero_time = Budget(seconds=0.0)
    for _ in range(2):
        _, report = optimize_graph(FunctionGraph([x], [pt.exp(x) * 1.0], 1, 1), budget=zero_time)
        assert "time budget" in report.stop_reason and report.cached is None


def test_scan_graphs_run_the_e_graph_every_time(fresh_cache):
    x = pt.dvector("x")
    out, _ = et.scan(lambda v, acc: acc + v, sequences=[x], outputs_info=[pt.constant(0.0)])
    for _ in range(2):
        f = et.function([x], out[-1], mode="NUMPY")
        assert _report(f).cached is None
        assert f(np.arange(4.0)) == 6.0


def test_replay_rebuilds_on_new_leaves_for_random_graphs(fresh_cache, rng):
    """Many structures: the replayed graph computes what a fresh e-graph run computes."""
    unary = [pt.exp, pt.tanh, lambda v: pt.log(1 + pt.exp(v)), lambda v: v * 1.0, lambda v: -(-v)]

    def build(seed, x, y):
        r = np.random.default_rng(seed)
        vals = [x, y]
        for _ in range(8):
            a, b = (vals[int(k)] for k in r.integers(0, len(vals), 2))
            vals.append(unary[int(r.integers(len(unary)))](a) if r.random() < 0.5 else a * b - b)
        return vals[-1]

    data = rng.standard_normal(6), rng.standard_normal(6)
    for seed in range(12):
        outs = []
        for _ in range(2):
            x, y = pt.dvector("x"), pt.dvector("y")
            f = et.function([x, y], build(seed, x, y), mode="NUMPY", on_unused_input="ignore")
            outs.append((f(*data), _report(f).cached))
        (a, first), (b, second) = outs
        assert first is None and second == "memory"
        np.testing.assert_array_equal(a, b)
        with config.change_flags(optimizer_cache=False):
            x, y = pt.dvector("x"), pt.dvector("y")
            np.testing.assert_array_equal(et.function([x, y], build(seed, x, y), mode="NUMPY", on_unused_input="ignore")(*data), a)


def test_the_key_covers_rules_and_library_source(fresh_cache, monkeypatch):
    x = pt.dvector("x")
    fg = FunctionGraph([x], [pt.exp(x) + 1], 1, 1)
    leaves, nodes, outs = cache_key.leaves_and_nodes(fg.outputs)
    from eqtensor.egraph.extract import CostModel
    from eqtensor.rules.language import as_schedule

    k = lambda rules, budget=Budget(): opt_cache.key(leaves, nodes, outs, as_schedule(rules), budget, CostModel())
    assert k(default_rules()) == k(default_rules())
    assert k(default_rules()) != k(default_rules().without("neg_neg"))
    assert k(default_rules()) != k(default_rules(), Budget(iterations=3))
    before = k(default_rules())
    monkeypatch.setattr(cache_key, "_source_hash", "0" * 64)  # as if eqtensor's source had changed
    assert k(default_rules()) != before


def test_custom_cost_models_are_not_cached(fresh_cache):
    from eqtensor.egraph.extract import CostModel

    class Flat(CostModel):
        def node_cost(self, opname, params, out_type, in_types, in_values):
            return 0.0 if opname is None else 1.0

    x = pt.dvector("x")
    mode = Mode(cost_model=Flat(), backend="numpy")
    for _ in range(2):
        assert _report(et.function([x], pt.exp(x) + 1, mode=mode)).cached is None
