"""The printers on big graphs: heavily shared DAGs and very deep chains.

``debugprint``, ``pprint`` and ``pydotprint`` walk graphs without recursion (any depth prints) and
write each distinct node a bounded number of times (the text is linear in the number of distinct
nodes, however much the graph shares); small graphs print exactly as before.
"""

import contextlib
import re
import sys
import time

import numpy as np
import pytest

import eqtensor as et
from eqtensor import function, tensor as pt
from eqtensor.printing import debugprint, pprint, pydotprint

CHAIN = 10_000


def _doubled(x, times):
    """``e = e * e * 0.5 + e``, ``times`` times: 4 new nodes a step, 3 uses of the previous one."""
    e = x
    for _ in range(times):
        e = e * e * 0.5 + e
    return e


def _distinct(outs) -> int:
    seen, todo = set(), list(outs)
    while todo:
        v = todo.pop()
        if id(v) not in seen:
            seen.add(id(v))
            todo.extend(v.owner.inputs if v.owner is not None else ())
    return len(seen)


@contextlib.contextmanager
def _shallow_stack(extra=150):
    """A recursion limit a little above the current stack depth: printing must not recurse per level."""
    depth, f = 0, sys._getframe()
    while f is not None:
        depth, f = depth + 1, f.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + extra)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _rebuild(text, env):
    """The graph a ``pprint`` text with ``%k = ...`` bindings describes (arithmetic only)."""
    ns = dict(env)
    *bindings, last = text.splitlines()
    for line in bindings:
        name, expr = line.split(" = ", 1)
        assert re.fullmatch(r"%\d+", name), line
        ns["_" + name[1:]] = eval(re.sub(r"%(\d+)", r"_\1", expr), ns)
    return eval(re.sub(r"%(\d+)", r"_\1", last), ns)


# --- a shared DAG whose tree expansion is exponential ----------------------------------------------

def test_doubled_shared_graph_prints_fast_and_linear():
    x = pt.dvector("x")
    e = _doubled(x, 20)  # 81 distinct nodes; written out as a tree, about 7e9 of them
    n = _distinct([e])
    for printer in (lambda: pprint(e), lambda: debugprint(e, file="str"), lambda: pydotprint(e)):
        t0 = time.perf_counter()
        text = printer()
        assert time.perf_counter() - t0 < 0.5
        assert len(text) < 200 * n
    want = ["%1 = x * x * 0.5 + x"] + [f"%{k + 1} = %{k} * %{k} * 0.5 + %{k}" for k in range(1, 19)]
    assert pprint(e).splitlines() == want + ["%19 * %19 * 0.5 + %19"]
    lines = debugprint(e, file="str").splitlines()
    # each node once, then a line for each further use: 2 more of each inner `add` (`···`) and of x
    assert len(lines) == n + 2 * 19 + 2
    assert sum(ln.endswith("···") for ln in lines) == 2 * 19
    assert sum("[label=" in ln and "->" not in ln for ln in pydotprint(e).splitlines()) == n


def test_output_size_grows_linearly_with_the_graph():
    x = pt.dvector("x")
    # (past 100 levels of depth, where debugprint's indentation stops growing)
    sizes = {k: [len(pprint(e)), len(debugprint(e, file="str")), len(pydotprint(e))]
             for k in (40, 80, 160) for e in [_doubled(x, k)]}
    for small, big in [(40, 80), (80, 160)]:
        for a, b in zip(sizes[small], sizes[big]):
            assert b < 2.2 * a


def test_pprint_bindings_describe_the_same_graph():
    x = pt.dvector("x")
    e = _doubled(x, 6)
    text = pprint(e)
    assert text.startswith("%1 = x * x * 0.5 + x\n")
    again = _rebuild(text, {"x": x})
    assert pprint(again) == text
    f = function([x], [e, again], mode="FAST_COMPILE")
    r1, r2 = f(np.array([0.1, -0.3, 0.02]))
    np.testing.assert_array_equal(r1, r2)
    # bindings are numbered in order of definition, each defined before its first use
    defined = set()
    for line in text.splitlines():
        head, _, body = line.rpartition(" = ")
        assert set(re.findall(r"%\d+", body)) <= defined
        if head:
            defined.add(head)


def test_pprint_inlines_shared_subterms_of_small_expressions():
    x = pt.dscalar("x")
    e = pt.exp(x)
    assert pprint(e / (1 + e)) == "exp(x) / (1.0 + exp(x))"
    assert pprint(pt.exp(x) / (1 + pt.exp(x))) == "exp(x) / (1.0 + exp(x))"
    assert pprint([e / (1 + e), e]) == "exp(x) / (1.0 + exp(x))\nexp(x)"
    v = pt.dvector("x")
    # 79 nodes written out: inline, as before
    inner = "x * x * 0.5 + x"
    mid = f"({inner}) * ({inner}) * 0.5 + ({inner})"
    assert pprint(_doubled(v, 3)) == f"({mid}) * ({mid}) * 0.5 + ({mid})"
    # 241 nodes written out: bindings
    assert pprint(_doubled(v, 4)).splitlines() == [
        "%1 = x * x * 0.5 + x", "%2 = %1 * %1 * 0.5 + %1", "%3 = %2 * %2 * 0.5 + %2", "%3 * %3 * 0.5 + %3"]


def test_pprint_bindings_in_lists_and_compiled_functions():
    x = pt.dvector("x")
    s = et.shared(np.zeros(3), name="s")
    e = _doubled(x, 4)
    # an op application used by two outputs is named too; leaves never are
    assert pprint([e, pt.exp(e)]).splitlines() == [
        "%1 = x * x * 0.5 + x", "%2 = %1 * %1 * 0.5 + %1", "%3 = %2 * %2 * 0.5 + %2", "%4 = %3 * %3 * 0.5 + %3",
        "%4", "exp(%4)"]
    f = function([x], e.sum(), updates={s: s + e}, mode="FAST_COMPILE")
    assert pprint(f).splitlines()[-2:] == ["sum(%4, axis=(0,))", "s ← s + %4"]
    assert debugprint(f, file="str").splitlines()[-3:] == ["add [id S] 13 ← update of s", " ├─ s [id T]",
                                                           " └─ add [id B] 11 ···"]


def test_small_graphs_print_as_before():
    x = pt.dvector("x")
    e = _doubled(x, 2)
    assert debugprint(e, file="str") == "\n".join([
        "add [id A]",
        " ├─ mul [id B]",
        " │  ├─ mul [id C]",
        " │  │  ├─ add [id D]",
        " │  │  │  ├─ mul [id E]",
        " │  │  │  │  ├─ mul [id F]",
        " │  │  │  │  │  ├─ x [id G]",
        " │  │  │  │  │  └─ x [id G]",
        " │  │  │  │  └─ 0.5 [id H]",
        " │  │  │  └─ x [id G]",
        " │  │  └─ add [id D] ···",
        " │  └─ 0.5 [id I]",
        " └─ add [id D] ···",
    ])
    assert pydotprint(e, print_type=False).splitlines() == [
        "digraph eqtensor {",
        "  rankdir=BT;",
        '  n0 [label="x", shape=ellipse, style=filled, fillcolor="#c8e6c9"];',
        '  n1 [label="mul", shape=box, style=rounded];',
        '  n0 -> n1 [label="0"];',
        '  n0 -> n1 [label="1"];',
        '  n2 [label="0.5", shape=box, style=filled, fillcolor="#eeeeee"];',
        '  n3 [label="mul", shape=box, style=rounded];',
        '  n1 -> n3 [label="0"];',
        '  n2 -> n3 [label="1"];',
        '  n4 [label="add", shape=box, style=rounded];',
        '  n3 -> n4 [label="0"];',
        '  n0 -> n4 [label="1"];',
        '  n5 [label="mul", shape=box, style=rounded];',
        '  n4 -> n5 [label="0"];',
        '  n4 -> n5 [label="1"];',
        '  n6 [label="0.5", shape=box, style=filled, fillcolor="#eeeeee"];',
        '  n7 [label="mul", shape=box, style=rounded];',
        '  n5 -> n7 [label="0"];',
        '  n6 -> n7 [label="1"];',
        '  n8 [label="add", shape=box, style=rounded, peripheries=2];',
        '  n7 -> n8 [label="0"];',
        '  n4 -> n8 [label="1"];',
        "}",
    ]
    s = et.shared(np.zeros(2), name="s")
    y = pt.exp(x) * pt.exp(x)
    f = function([x], y.sum(), updates={s: s + y}, mode="FAST_COMPILE")
    assert pprint(f) == "sum(exp(x) * exp(x), axis=(0,))\ns ← s + exp(x) * exp(x)"
    assert debugprint(f, file="str").splitlines() == [
        "sum{axis=(0,), keepdims=False} [id A] 3",
        " └─ mul [id B] 2",
        "    ├─ exp [id C] 0",
        "    │  └─ x [id D]",
        "    └─ exp [id E] 1",
        "       └─ x [id D]",
        "add [id F] 4 ← update of s",
        " ├─ s [id G]",
        " └─ mul [id B] 2 ···",
    ]


# --- chains far deeper than Python's recursion limit ----------------------------------------------

@pytest.fixture(scope="module")
def exp_chain():
    x = pt.dvector("x")
    e = x
    for _ in range(CHAIN):
        e = pt.exp(e)
    return e


@pytest.fixture(scope="module")
def add_chain():
    x = pt.dvector("x")
    e = x
    for _ in range(CHAIN):
        e = e + 1
    return e


def test_deep_chains_pprint(exp_chain, add_chain):
    with _shallow_stack():
        assert pprint(exp_chain) == "exp(" * CHAIN + "x" + ")" * CHAIN
        assert pprint(add_chain) == "x" + " + 1.0" * CHAIN


def test_deep_chains_pydotprint(exp_chain, add_chain):
    with _shallow_stack():
        lines = pydotprint(exp_chain, print_type=False).splitlines()
        lines2 = pydotprint(add_chain).splitlines()
    assert len(lines) == 3 + (CHAIN + 1) + CHAIN  # header, nodes, edges, "}"
    assert lines[2] == '  n0 [label="x", shape=ellipse, style=filled, fillcolor="#c8e6c9"];'
    assert lines[-3:] == [f'  n{CHAIN} [label="exp", shape=box, style=rounded, peripheries=2];',
                          f"  n{CHAIN - 1} -> n{CHAIN};", "}"]
    assert len(lines2) == 3 + (2 * CHAIN + 1) + 2 * CHAIN


def test_deep_chains_debugprint_cuts_branches_at_100_levels(exp_chain, add_chain):
    with _shallow_stack():
        text = debugprint(exp_chain, file="str")
        text2 = debugprint(add_chain, file="str", id_type="int")
    lines = text.splitlines()
    cuts = [k for k, ln in enumerate(lines) if ln.endswith(" ···")]
    assert len(cuts) == CHAIN // 100 - 1  # the exps at levels 100, 200, … (x, at level 10 000, is a leaf)
    assert len(lines) == CHAIN + 1 + len(cuts)
    assert max(len(ln) - len(ln.lstrip(" │├└─")) for ln in lines) == 3 * 100 + 1
    # a cut node heads its own tree, printed right after the one it was cut from
    for k in cuts:
        cut = lines[k].strip(" │├└─·")
        assert lines[k + 1] == cut and lines[k + 2].startswith(" └─ exp [id ")
    assert lines[:3] == ["exp [id A]", " └─ exp [id B]", "    └─ exp [id C]"]
    assert lines[-1] == " " * 298 + "└─ x [id NTQ]"  # at level 100 of the last tree
    assert len(set(re.findall(r"\[id (\w+)\]", text))) == CHAIN + 1
    lines2 = text2.splitlines()
    assert len(set(re.findall(r"\[id (\d+)\]", text2))) == 2 * CHAIN + 1
    assert len(lines2) == 2 * CHAIN + 1 + sum(ln.endswith(" ···") for ln in lines2)
    assert len(text) < 400 * len(lines) and len(text2) < 400 * len(lines2)


def test_debugprint_depth_limits_levels_also_across_cuts(exp_chain):
    lines = debugprint(exp_chain, depth=4, file="str").splitlines()
    assert lines == ["exp [id A]", " └─ exp [id B]", "    └─ exp [id C]", "       └─ exp [id D]"]
    assert len(debugprint(exp_chain, depth=1, file="str").splitlines()) == 1
    assert len(debugprint(exp_chain, depth=151, file="str").splitlines()) == 151 + 1  # levels 0..150, one cut
    assert debugprint(exp_chain, depth=101, file="str").splitlines()[-1].endswith("exp [id CW]")  # no cut: no ···


def test_debugprint_depth_cut_node_is_expanded_where_it_occurs_again():
    x = pt.dscalar("x")
    e = pt.exp(pt.sin(x))
    y = pt.log(pt.cos(e)) + e
    assert debugprint(y, depth=3, file="str").splitlines() == [
        "add [id A]",
        " ├─ log [id B]",
        " │  └─ cos [id C]",
        " └─ exp [id D]",
        "    └─ sin [id E]",
    ]
    a = pt.exp(pt.sin(x))
    a.name = "a"
    assert debugprint([pt.log(a), a], stop_on_name=True, file="str").splitlines() == [
        "log [id A]",
        " └─ exp 'a' [id B]",
        "exp 'a' [id B]",
        " └─ sin [id C]",
        "    └─ x [id D]",
    ]


def test_debugprint_of_compiled_functions_of_big_graphs():
    x = pt.dvector("x")
    e = _doubled(x, 20)
    f = function([x], e, mode="FAST_COMPILE")
    lines = debugprint(f, file="str").splitlines()
    assert lines[0] == f"add [id A] {len(f.maker.schedule.nodes) - 1}"
    assert len(lines) == _distinct([e]) + 2 * 19 + 2
    assert pprint(f).splitlines()[-1] == "%19 * %19 * 0.5 + %19"
    want = np.array([0.01])
    for _ in range(20):
        want = want * want * 0.5 + want
    np.testing.assert_allclose(f(np.array([0.01])), want)
    h_in = pt.dvector("h")
    h = h_in
    for _ in range(CHAIN):
        h = pt.exp(h)
    hf = function([h_in], h, mode="FAST_COMPILE")
    with _shallow_stack():
        lines = debugprint(hf, file="str").splitlines()
    assert lines[0] == f"exp [id A] {CHAIN - 1}" and lines[-1].strip(" │├└─").startswith("h [id ")
    assert len(lines) == CHAIN + 1 + CHAIN // 100 - 1
