"""``debugprint``/``dprint`` and ``pprint`` of variables, lists, graphs and compiled functions."""

import io

import numpy as np
import pytest
from hypothesis import given, strategies as st

import eqtensor as et
from eqtensor import function, tensor as pt
from eqtensor.printing import debugprint, dprint, pprint


def test_debugprint_tree_and_shared_nodes():
    x, y = pt.dvector("x"), pt.dvector("y")
    e = pt.exp(x)
    out = e * y + e
    assert debugprint(out, file="str") == "\n".join([
        "add [id A]",
        " ├─ mul [id B]",
        " │  ├─ exp [id C]",
        " │  │  └─ x [id D]",
        " │  └─ y [id E]",
        " └─ exp [id C] ···",
    ])


def test_debugprint_types_names_constants_and_shared():
    x = pt.dmatrix("x")
    s = et.shared(np.zeros(3), name="s")
    z = (x + s).sum(axis=0)
    z.name = "z"
    text = debugprint(z, print_type=True, file="str")
    assert text.splitlines() == [
        "sum{axis=(0,), keepdims=False} 'z' [id A] float64[?]",
        " └─ add [id B] float64[?, ?]",
        "    ├─ x [id C] float64[?, ?]",
        "    └─ dimshuffle{order=('x', 0)} [id D] float64[1, ?]",
        "       └─ s [id E] float64[?]",
    ]
    c = debugprint(x * 3.0, file="str")
    assert "3.0 [id C]" in c


def test_debugprint_list_depth_stop_on_name_and_ids():
    x = pt.dscalar("x")
    a = pt.exp(pt.sin(x))
    a.name = "a"
    b = pt.log(a)
    text = debugprint([b, a], file="str")
    assert text.splitlines() == [
        "log [id A]",
        " └─ exp 'a' [id B]",
        "    └─ sin [id C]",
        "       └─ x [id D]",
        "exp 'a' [id B] ···",
    ]
    assert debugprint(b, depth=2, file="str").splitlines() == ["log [id A]", " └─ exp 'a' [id B]"]
    assert debugprint(b, stop_on_name=True, file="str").splitlines() == ["log [id A]", " └─ exp 'a' [id B]"]
    assert debugprint(b, id_type="int", file="str").splitlines()[1] == " └─ exp 'a' [id 1]"
    assert debugprint(b, id_type="", file="str").splitlines()[:2] == ["log", " └─ exp 'a'"]
    with pytest.raises(ValueError, match="id_type must be one of"):
        debugprint(b, id_type="hex")
    with pytest.raises(TypeError, match="can only print variables"):
        debugprint([b, 3])


def test_debugprint_to_file_and_stdout(capsys):
    x = pt.dscalar("x")
    buf = io.StringIO()
    assert debugprint(x + 1, file=buf) is None
    assert buf.getvalue() == "add [id A]\n ├─ x [id B]\n └─ 1.0 [id C]\n"
    assert dprint is debugprint and et.dprint is debugprint and et.debugprint is debugprint
    dprint(x * 2)
    assert capsys.readouterr().out == "mul [id A]\n ├─ x [id B]\n └─ 2.0 [id C]\n"


def test_debugprint_compiled_function_marks_updates_and_prints_the_optimized_graph():
    x = pt.dvector("x")
    s = et.shared(np.zeros(2), name="s")
    f = function([x], pt.exp(x).sum(), updates={s: s + x}, mode="FAST_COMPILE")
    assert debugprint(f, file="str").splitlines() == [
        "sum{axis=(0,), keepdims=False} [id A] 1",
        " └─ exp [id B] 0",
        "    └─ x [id C]",
        "add [id D] 2 ← update of s",
        " ├─ s [id E]",
        " └─ x [id C]",
    ]
    assert debugprint(f.maker.fgraph, file="str").splitlines()[3] == "add [id D] ← update of s"
    # the printed graph is the optimized one: every node of maker.fgraph appears, in schedule order
    g = function([x], pt.log(1 + pt.exp(x)), mode="NUMPY")
    lines = debugprint(g, file="str").splitlines()
    nodes = g.maker.schedule.nodes
    for k, node in enumerate(nodes):
        assert any(line.lstrip(" │├└─").startswith(f"{node.op} [id") and line.split()[-1] == str(k)
                   for line in lines), (node, lines)
    assert len([ln for ln in lines if ln.split()[-1].isdigit()]) == len(nodes)


def test_pprint_infix_and_precedence():
    a, b, c = pt.dscalar("a"), pt.dscalar("b"), pt.dscalar("c")
    cases = [
        (a + b * c, "a + b * c"), ((a + b) * c, "(a + b) * c"), (a - (b - c), "a - (b - c)"),
        ((a - b) - c, "a - b - c"), (a + (b + c), "a + (b + c)"), (a ** (b ** c), "a ** b ** c"),
        ((a ** b) ** c, "(a ** b) ** c"), (-(a ** 2), "-a ** 2.0"), ((-a) ** 2, "(-a) ** 2.0"),
        (a / (b * c), "a / (b * c)"), (pt.exp(a + 1) / 2, "exp(a + 1.0) / 2.0"),
        (pt.lt(a, b) & pt.gt(b, c), "(a < b) & (b > c)"), (a * -1.0, "a * (-1.0)"),
        (pt.maximum(a, b) + pt.exp(c), "maximum(a, b) + exp(c)"),
    ]
    for expr, want in cases:
        assert pprint(expr) == want


def test_pprint_lists_and_functions():
    a = pt.dscalar("a")
    acc = et.shared(0.0, name="acc")
    assert pprint([a + 1, a * 2]) == "a + 1.0\na * 2.0"
    f = function([a], [acc * a], updates={acc: acc + a}, mode="FAST_COMPILE")
    assert pprint(f) == "acc * a\nacc ← acc + a"
    assert et.pprint is pprint


_OPS = [lambda p, q: p + q, lambda p, q: p - q, lambda p, q: p * q, lambda p, q: p / q, lambda p, q: p ** q,
        lambda p, q: pt.maximum(p, q)]


@st.composite
def _expr(draw, leaves, depth=0):
    if depth >= 4 or draw(st.booleans()) and depth > 0:
        return draw(st.sampled_from(leaves + [0.5, 2.0, -1.5]))
    kind = draw(st.integers(0, len(_OPS)))
    if kind == len(_OPS):
        return -draw(_expr(leaves, depth + 1))
    p, q = draw(_expr(leaves, depth + 1)), draw(_expr(leaves, depth + 1))
    if not any(isinstance(v, pt.Variable) for v in (p, q)):
        p = leaves[0]
    return _OPS[kind](p, q)


@given(st.data())
def test_pprint_round_trips_through_python(data):
    a, b = pt.dscalar("a"), pt.dscalar("b")
    e = data.draw(_expr([a, b]))
    if not isinstance(e, pt.Variable):
        e = pt.as_tensor_variable(e) + a
    text = pprint(e)
    again = eval(text, {"a": a, "b": b, "maximum": pt.maximum})
    assert pprint(again) == text
    f = function([a, b], [e, again], mode="FAST_COMPILE", on_unused_input="ignore")
    r1, r2 = f(0.7, 1.3)
    np.testing.assert_array_equal(r1, r2)


def test_pydotprint_text_file_and_missing_graphviz(tmp_path, monkeypatch):
    from eqtensor.printing import pydotprint

    x = pt.dvector("x")
    s = et.shared(np.zeros(2), name='s"q')
    f = function([x], (x * s).sum(), updates={s: s + x}, mode="FAST_COMPILE")
    text = pydotprint(f)
    lines = text.splitlines()
    assert lines[0] == "digraph eqtensor {" and lines[-1] == "}"
    assert '  n0 [label="x\\nfloat64[?]", shape=ellipse, style=filled, fillcolor="#c8e6c9"];' in lines
    assert '  n1 [label="s\\"q\\nfloat64[?]", shape=ellipse, style=filled, fillcolor="#bbdefb"];' in lines
    assert sum("peripheries=2" in ln for ln in lines) == 1  # one output; the update is not an output
    assert any("sum{" in ln and "peripheries=2" in ln for ln in lines)
    assert '  n4 -> n1 [style=dashed, label="update", constraint=false];' in lines
    nodes = [ln for ln in lines if "[label=" in ln and "->" not in ln]
    assert len(nodes) == 5  # x, s, mul, sum, add
    out = tmp_path / "g.dot"
    assert pydotprint(f, outfile=out) == text
    assert out.read_text() == text + "\n"
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="needs Graphviz's 'dot' program"):
        pydotprint(f, outfile=tmp_path / "g.png")


def test_debugprint_destroy_and_view_maps():
    x = pt.dmatrix("x")
    f = function([x], (pt.exp(x) + 1).T * 2, mode="FAST_COMPILE")
    lines = debugprint(f, print_destroy_map=True, print_view_map=True, file="str").splitlines()
    sched = f.maker.schedule
    for k, node in enumerate(sched.nodes):
        line = next(ln for ln in lines if ln.endswith(f" {k}") or f" {k} ···" in ln)
        assert ("d={0: [" in line) == (k in sched.inplace), line
        if k in sched.inplace:
            assert f"d={{0: [{sched.inplace[k]}]}}" in line
        assert ("v={0: [0]}" in line) == (node.op.name == "dimshuffle"), line
    assert any("d={0: [0]}" in ln for ln in lines)  # exp's dead buffer is reused
    assert "d=" not in debugprint(f, file="str") and "v=" not in debugprint(f, file="str")
    r = f(np.zeros((2, 3)))
    np.testing.assert_array_equal(r, np.full((3, 2), 4.0))
