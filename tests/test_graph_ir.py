"""Graphs as an IR: ``eqtensor.graph`` (walking, replacing, copying and vectorizing graphs) with
PyTensor's names and semantics, checked on real computations (compiled with ``eqtensor.function``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.core.op import OPS
from eqtensor.core.ops.blas import gemm, gemv, ger
from eqtensor.rules import algebraic_assuming_finite
from eqtensor.graph import (
    Apply, Constant, Op, Variable, ancestors, clone, clone_replace, explicit_graph_inputs, graph_inputs,
    graph_replace, rewrite_graph, toposort, vectorize_graph,
)
from eqtensor.graph.basic import SharedVariable, clone_get_equiv, equal_computations
from eqtensor.graph.replace import BATCHING, NOT_BATCHED, batching_rule, vectorize_node
from eqtensor.graph.traversal import (
    apply_ancestors, apply_depends_on, applys_between, general_toposort, get_var_by_name, io_toposort,
    orphans_between, truncated_graph_inputs, variable_depends_on, vars_between, walk,
)

FAST = "FAST_COMPILE"  # no optimizer, NumPy backend: the reference, and most batched checks
rng = np.random.default_rng(20261125)


# ============================================================================ the public face
def test_public_names_at_pytensors_paths():
    import eqtensor.graph as g
    import eqtensor.graph.basic as basic
    import eqtensor.graph.replace as replace
    import eqtensor.graph.traversal as traversal

    # pytensor.graph's public names (PyTensor 3.0.7), FunctionGraph excepted (docs/graph-ir.md)
    for name in ["Apply", "Constant", "Variable", "ancestors", "clone", "clone_replace", "explicit_graph_inputs",
                 "graph_inputs", "graph_replace", "vectorize_graph", "Op"]:
        assert hasattr(g, name), name
    for name in ["walk", "ancestors", "graph_inputs", "explicit_graph_inputs", "vars_between", "orphans_between",
                 "applys_between", "apply_depends_on", "variable_depends_on", "truncated_graph_inputs",
                 "general_toposort", "io_toposort", "toposort", "get_var_by_name", "apply_ancestors"]:
        assert hasattr(traversal, name), name
    for name in ["Apply", "Variable", "Constant", "clone", "clone_get_equiv", "equal_computations", "io_toposort"]:
        assert hasattr(basic, name), name
    for name in ["clone_replace", "graph_replace", "vectorize_graph", "vectorize_node"]:
        assert hasattr(replace, name), name
    x = pt.dvector("x")
    y = pt.exp(x)
    assert isinstance(y, Variable) and isinstance(y.owner, Apply) and isinstance(y.owner.op, Op)
    assert isinstance(y.owner.inputs[0], Variable) and y.owner.op.defn is OPS["exp"]
    assert isinstance((x + 1).owner.inputs[1], Constant)


# ============================================================================ walking
def _chain():
    x, y, z = pt.dvector("x"), pt.dvector("y"), pt.dvector("z")
    e = pt.exp(x)
    out = e * y + pt.log(e) - z
    return x, y, z, e, out


def test_ancestors_graph_inputs_and_blockers():
    x, y, z, e, out = _chain()
    anc = list(ancestors([out]))
    assert anc[0] is out and len({id(v) for v in anc}) == len(anc)
    assert {id(v) for v in (x, y, z, e)} <= {id(v) for v in anc}
    assert [v.name for v in graph_inputs([out])] == ["z", "x", "y"]  # right-recursive depth-first
    assert [v.name for v in graph_inputs(out)] == ["z", "x", "y"]  # a single variable is accepted
    blocked = list(ancestors([out], blockers=[e]))
    assert e in blocked and x not in blocked
    assert [v.name for v in graph_inputs([out], blockers=[e])] == ["z", "y"]
    # generators, as in PyTensor
    assert not isinstance(ancestors([out]), list) and not isinstance(graph_inputs([out]), list)


def test_explicit_graph_inputs_skip_constants_and_shared():
    x = pt.dvector("x")
    s = et.shared(np.array([1.0, 2.0]), name="s")
    z = pt.mul(x, 2) + s
    inputs = list(explicit_graph_inputs(z))
    assert inputs == [x]
    np.testing.assert_allclose(et.function(inputs, z)([1.0, 2.0]), [3.0, 6.0])
    assert [v.name for v in explicit_graph_inputs([z, pt.dscalar("w")])] == ["w", "x"]


def test_between_helpers():
    x, y, z, e, out = _chain()
    between = list(vars_between([e], [out]))
    assert e in between and x not in between and y in between and out in between
    assert set(orphans_between([e], [out])) == {y, z}
    assert {n.op.name for n in applys_between([e], [out])} == {"mul", "log", "add", "sub"}
    assert e.owner not in set(applys_between([e], [out]))
    assert {n.op.name for n in apply_ancestors([out])} == {"exp", "mul", "log", "add", "sub"}
    assert variable_depends_on(out, x) and variable_depends_on(out, [z]) and not variable_depends_on(e, [y, z])
    assert apply_depends_on(out.owner, e.owner) and not apply_depends_on(e.owner, [out.owner])
    y.name = "yy"
    assert get_var_by_name([out], "yy") == (y,)
    assert get_var_by_name([out], e.auto_name) == (e,)


def test_toposort_orders():
    x, y, z, e, out = _chain()
    order = list(toposort([out]))
    pos = {id(n): k for k, n in enumerate(order)}
    for n in order:
        for i in n.inputs:
            if i.owner is not None:
                assert pos[id(i.owner)] < pos[id(n)]
    assert len(order) == 5
    assert [n.op.name for n in toposort([out], blockers=[e])][0] != "exp"
    assert io_toposort([x, y, z], [out]) == order
    assert e.owner not in io_toposort([e], [out])
    # orderings: extra constraints between nodes that do not depend on each other
    a, b = pt.exp(x), pt.log(y)
    s = a + b
    free = io_toposort([x, y], [s])
    forced = io_toposort([x, y], [s], orderings={a.owner: [b.owner]})
    assert forced.index(b.owner) < forced.index(a.owner) and set(free) == set(forced)


def test_general_toposort_like_pytensor():
    r1, r2, r5 = pt.dscalar("r1"), pt.dscalar("r2"), pt.dscalar("r5")
    o = r1 + r2
    o2 = o * r5

    def prenode(obj):
        if isinstance(obj, Variable):
            return [obj.owner] if obj.owner is not None else None
        return list(obj.inputs)

    assert general_toposort([o2], prenode) == [r5, r2, r1, o.owner, o, o2.owner, o2]

    def circular(obj):
        return [o2, *prenode(obj)] if obj is o else prenode(obj)

    with pytest.raises(ValueError, match="graph contains cycles"):
        general_toposort([o2], circular)
    assert io_toposort([r5], [o2]) == [o.owner, o2.owner]


def test_walk_bfs_and_dfs():
    r1, r2, r3 = pt.dscalar("r1"), pt.dscalar("r2"), pt.dscalar("r3")
    o1 = r1 + r2
    o1.name = "o1"
    o2 = r3 * o1
    o2.name = "o2"

    def expand(r):
        return r.owner.inputs if r.owner else None

    assert [v.name for v in walk([o2], expand, bfs=True)] == ["o2", "r3", "o1", "r1", "r2"]
    assert [v.name for v in walk([o2], expand, bfs=False)] == ["o2", "o1", "r2", "r1", "r3"]
    res = list(walk([o2], expand, return_children=True))
    assert res[0] == (o2, o2.owner.inputs) and res[1] == (r3, None)


def test_truncated_graph_inputs_like_pytensor():
    x = pt.dscalar("x")
    n = pt.exp(x)
    o = pt.log(n)
    assert truncated_graph_inputs([o]) == [o]  # nothing to include: the outputs
    assert truncated_graph_inputs([o], [n]) == [n]  # n - (c) - o
    c1 = pt.exp(x)
    c2 = pt.sin(c1)
    o = pt.cos(c2)
    assert set(truncated_graph_inputs([o], [c1, c2])) == {c1, c2}  # (c) - (c) - o
    y = pt.dscalar("y")
    ny = pt.exp(y)
    o = c1 * ny
    assert set(truncated_graph_inputs([o], [c1])) == {c1, ny}  # additional variables
    assert truncated_graph_inputs([o], [c1, pt.dscalar("disconnected")]) == truncated_graph_inputs([o], [c1])
    assert set(truncated_graph_inputs([o, ny], [c1])) == {c1, ny}


def test_equal_computations():
    x, y = pt.dvector("x"), pt.dvector("y")
    assert equal_computations([pt.exp(x) + 1.0], [pt.exp(x) + 1.0])
    assert not equal_computations([pt.exp(x) + 1.0], [pt.exp(x) + 2.0])
    assert not equal_computations([x.sum(axis=0)], [x.sum(axis=0, keepdims=True)])
    assert equal_computations([pt.exp(x)], [pt.exp(y)], in_xs=[x], in_ys=[y])
    assert equal_computations([pt.constant(np.arange(3))], [np.arange(3)])
    assert not equal_computations([x], [np.arange(3)])
    with pytest.raises(ValueError):
        equal_computations([x], [x, y])


# ============================================================================ replacing
def test_graph_replace_intermediate_then_compile():
    """An intermediate variable replaced by a new input: the compiled function computes the
    rest of the graph on the value given for it."""
    x = pt.dvector("x")
    h = pt.tanh(x) * 3.0  # the intermediate, e.g. a hidden layer
    out = (h ** 2).sum() + x.sum()
    h_new = pt.dvector("h_new")
    out2 = graph_replace(out, {h: h_new})
    assert x in set(graph_inputs([out2])) and h not in set(ancestors([out2]))
    f = et.function([x, h_new], out2)
    xv, hv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(f(xv, hv), (hv ** 2).sum() + xv.sum())
    # the original graph is untouched
    np.testing.assert_allclose(et.function([x], out)(xv), ((np.tanh(xv) * 3) ** 2).sum() + xv.sum())
    # a replacement by an expression of other variables
    w = pt.dscalar("w")
    out3 = graph_replace([out], {h: pt.exp(x) * w})[0]
    np.testing.assert_allclose(et.function([x, w], out3)(xv, 2.0), ((2 * np.exp(xv)) ** 2).sum() + xv.sum())


def test_graph_replace_like_pytensor():
    x, y, z = pt.dvector("x"), pt.dvector("y"), pt.dvector("w")
    out = x * z
    new_x = pt.exp(y)
    new_out = graph_replace([out], {x: new_x})[0]
    assert new_out.owner.inputs[0] is new_x and new_out.owner.inputs[1] is z
    # an output replaced itself
    assert graph_replace([out], {out: new_x})[0] is new_x
    # replacements needed in reverse topological order
    out2 = out - new_x
    new_x2, new_x22 = x.clone(name="new_x"), new_x.clone(name="new_x2")
    new_out2 = graph_replace([out2], {x: new_x2, new_x: new_x22})[0]
    assert new_out2.owner.inputs[1] is new_x22
    assert new_out2.owner.inputs[0].owner.inputs[0] is new_x2
    assert new_out2.owner.inputs[0].owner.inputs[1] is z
    # a single variable in, a single variable out
    oc = graph_replace(out, {x: new_x2, z: y})
    assert isinstance(oc, Variable) and oc.owner.inputs[0] is new_x2 and oc.owner.inputs[1] is y


def test_graph_replace_a_variable_introduced_by_a_previous_replacement():
    x, y, zz, w = (pt.dvector(n) for n in "xyzw")
    z_op, xw_op, y_op = pt.exp(zz), x * w, pt.exp(y)
    out = xw_op + y_op
    new_x = x.clone(name="new_x")
    new_yop = y_op.clone(name="new_yop")
    new_out = graph_replace([out], {x: new_x, y_op: pt.log(new_yop)})
    new_out = graph_replace(new_out, {new_yop: z_op})[0]
    assert new_out.owner.inputs[1].owner.inputs[0] is z_op
    assert new_out.owner.inputs[0].owner.inputs[0] is new_x and new_out.owner.inputs[0].owner.inputs[1] is w
    new_z = zz.clone(name="new_z")
    new_out = graph_replace([new_out], {zz: new_z})[0]
    assert new_out.owner.inputs[1].owner.inputs[0].owner.inputs[0] is new_z


def test_graph_replace_strict_unused_and_ancestor():
    x = pt.dvector("x")
    fake = pt.exp(x)
    out = pt.log(x)
    assert graph_replace([out], {fake: x.clone()}, strict=False)[0] is out
    with pytest.raises(ValueError, match="Some replacements were not used"):
        graph_replace([out], {fake: x.clone()}, strict=True)
    # a variable and its ancestor both replaced: the ancestor's replacement has nothing left to do
    a = pt.dvector("a")
    xa = pt.exp(a)
    ya = pt.sin(xa)
    new_a, new_x = pt.dvector("new_a"), pt.dvector("new_x")
    [new_y] = graph_replace([ya], {a: new_a, xa: new_x})
    assert new_y.owner.inputs[0] is new_x and equal_computations([new_y], [pt.sin(new_x)])
    # pairs instead of a dict
    assert graph_replace(ya, [(xa, new_x)]).owner.inputs[0] is new_x


def test_graph_replace_types():
    x = pt.dvector("x")
    out = pt.exp(x).sum()
    with pytest.raises(TypeError, match="dtypes differ"):
        graph_replace(out, {x: pt.fvector("f")})
    with pytest.raises(TypeError, match="numbers of dimensions differ"):
        graph_replace(out, {x: pt.dmatrix("m")})
    fixed = pt.tensor("fixed", shape=(3,))
    with pytest.raises(TypeError, match="static lengths 4 and 3 differ"):
        graph_replace(pt.exp(fixed), {fixed: pt.tensor("four", shape=(4,))})
    # a more specific static shape is accepted and propagates
    three = pt.tensor("three", shape=(3,))
    assert graph_replace(pt.exp(x), {x: three}).type.shape == (3,)
    # a value becomes a constant of the replaced variable's type
    np.testing.assert_allclose(graph_replace(out, {x: [0.0, 0.0]}).eval(), 2.0)
    # static lengths the replacement does not know are specified (checked at run time): types and
    # broadcasting are kept
    assert graph_replace(pt.exp(fixed), {fixed: x}).type.shape == (3,)
    row = pt.tensor("row", shape=(1, None))
    m = pt.dmatrix("m")
    v = pt.dmatrix("v")
    s2 = graph_replace(row + m, {row: v})
    assert [n.op.name for n in toposort([s2])] == ["specify_shape", "add"]
    f = et.function([v, m], s2)
    np.testing.assert_allclose(f(np.ones((1, 3)), np.zeros((2, 3))), np.ones((2, 3)))
    with pytest.raises(AssertionError, match="specify_shape"):
        f(np.ones((2, 3)) * 5, np.zeros((3, 3)))


class TestCloneReplace:
    """PyTensor's clone_replace tests, on eqtensor."""

    def _graph(self, y_dtype="float64"):
        x = pt.vector("x", dtype="float64")
        y = pt.vector("y", dtype=y_dtype)
        z = et.shared(np.asarray(0.25), name="z")
        return x, y, z, z * (x + y) ** 2 + 5

    def test_no_replace_copy_inputs(self):
        x, y, z, f1 = self._graph()
        f2 = clone_replace(f1, replace=None, rebuild_strict=True, copy_inputs_over=True)
        inputs = tuple(graph_inputs([f2]))
        assert z in inputs and x in inputs and y in inputs

    def test_no_replace_not_copy_inputs(self):
        x, y, z, f1 = self._graph()
        f2 = clone_replace(f1, replace=None, rebuild_strict=True, copy_inputs_over=False)
        inputs = tuple(graph_inputs([f2]))
        assert z not in inputs and x not in inputs and y not in inputs
        # the copy of the shared variable shares its storage
        [z2] = [v for v in inputs if isinstance(v, SharedVariable)]
        z.set_value(np.asarray(0.5))
        assert z2.get_value() == 0.5

    def test_replace_copy_inputs(self):
        x, y, z, f1 = self._graph()
        y2 = pt.dvector("y2")
        f2 = clone_replace(f1, replace={y: y2}, rebuild_strict=True, copy_inputs_over=True)
        inputs = tuple(graph_inputs([f2]))
        assert z in inputs and x in inputs and y2 in inputs and y not in inputs

    def test_replace_not_strict(self):
        x, y, z, f1 = self._graph(y_dtype="float32")
        y2 = pt.dvector("y2")
        with pytest.raises(TypeError):
            clone_replace(f1, replace={y: y2}, rebuild_strict=True)
        f2 = clone_replace(f1, replace={y: y2}, rebuild_strict=False, copy_inputs_over=True)
        assert y2 in tuple(graph_inputs([f2])) and f2.dtype == "float64"

    def test_replace_pairs_not_copy_inputs(self):
        x, y, z, f1 = self._graph()
        y2 = pt.dvector("y2")
        f2 = clone_replace(f1, replace=[(y, y2)], rebuild_strict=True, copy_inputs_over=False)
        inputs = tuple(graph_inputs([f2]))
        assert z not in inputs and x not in inputs and y2 not in inputs

    @pytest.mark.parametrize("mention_y", [False, True])
    def test_clone_of_shared_expression(self, mention_y):
        x = et.shared(np.asarray(0.0), name="x")
        y = pt.sum((x + 1) ** 2)
        d = 0.1 + 0 * y if mention_y else 0.1
        out = clone_replace(y, replace={x: x + d})
        np.testing.assert_allclose(et.function([], out)(), 1.21)

    def test_list_in_list_out(self):
        x, y = pt.dscalar("x"), pt.dscalar("y")
        outs = clone_replace([x * 2, x + y], {x: y})
        assert isinstance(outs, list) and len(outs) == 2
        np.testing.assert_allclose(et.function([y], outs)(3.0), [6.0, 6.0])


def test_clone_and_clone_get_equiv():
    x, y = pt.dvector("x"), pt.dvector("y")
    c = pt.constant(np.array([1.0, 2.0]))
    out = pt.exp(x) * y + c
    [x2], [out2] = clone([x], [out])
    assert x2 is not x and out2 is not out and out2.type == out.type
    roots = set(graph_inputs([out2]))
    assert x2 in roots and y not in roots and c in roots  # orphans copied, constants never
    assert equal_computations([out2], [out], in_xs=[x2, *[r for r in roots if r.name == "y"]], in_ys=[x, y])
    [x3], [out3] = clone([x], [out], copy_inputs=False, copy_orphans=False)
    assert x3 is x and out3 is not out and y in set(graph_inputs([out3]))
    equiv = clone_get_equiv([x], [out])
    assert equiv[out.owner] is equiv[out].owner and equiv[x] is not x
    f = et.function([x2, *[r for r in roots if r.name == "y"]], out2, mode=FAST)
    np.testing.assert_allclose(f([0.0, 1.0], [2.0, 3.0]), [3.0, 3 * np.e + 2])


def test_rewrite_graph():
    x = pt.dvector("x")
    s = et.shared(np.array([1.0, 2.0]), name="s")
    assert rewrite_graph(pt.log(pt.exp(x)) * 1.0) is x
    [a, b] = rewrite_graph([pt.log(pt.exp(x)) * 1.0, (x * 1.0) + s])
    assert a is x and equal_computations([b], [x + s])
    np.testing.assert_allclose(et.function([x], b)([1.0, 1.0]), [2.0, 3.0])
    stable = rewrite_graph(pt.log(1 + pt.exp(x)), include=("canonicalize", "stabilize"))
    assert stable.owner.op.name == "softplus"
    np.testing.assert_allclose(et.function([x], stable)([1000.0]), [1000.0])
    assert rewrite_graph(pt.log(1 + pt.exp(x))).owner.op.name == "log"  # canonicalize only
    kept = rewrite_graph(x - x, exclude=[n for n in algebraic_assuming_finite().names() if n.startswith("sub_self")])
    assert kept.owner is not None and kept.owner.op.name == "sub"
    with pytest.raises(ValueError, match="unknown rewrite tags"):
        rewrite_graph(x, include=("nope",))


# ============================================================================ vectorizing
def _check_vectorized(build, core_shapes, batch_shapes, mode=FAST, dtype="float64", gen=None):
    """vectorize_graph of ``build(*inputs)`` over ``batch_shapes``, compiled in ``mode``, against
    the original graph compiled and called on each batch element (batch shapes broadcast)."""
    ins = [pt.tensor(f"i{k}", shape=(None,) * len(s), dtype=dtype) for k, s in enumerate(core_shapes)]
    out = build(*ins)
    bins = [pt.tensor(f"b{k}", shape=(None,) * (len(b) + len(s)), dtype=dtype)
            for k, (s, b) in enumerate(zip(core_shapes, batch_shapes))]
    bout = vectorize_graph(out, dict(zip(ins, bins)))
    make = gen or (lambda shape: rng.normal(size=shape))
    vals = [np.asarray(make(tuple(b) + tuple(s))).astype(dtype) for s, b in zip(core_shapes, batch_shapes)]
    got = et.function(bins, bout, mode=mode)(*vals)
    f = et.function(ins, out, mode=FAST)
    batch = np.broadcast_shapes(*[tuple(b) for b in batch_shapes])
    rows = []
    for idx in np.ndindex(*batch):
        args = []
        for v, b in zip(vals, batch_shapes):
            own = idx[len(idx) - len(b):] if b else ()
            args.append(v[tuple(0 if n == 1 else i for i, n in zip(own, b))])
        rows.append(f(*args))
    expected = np.stack(rows).reshape(batch + np.shape(rows[0]))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    return bout


#: (name, graph builder, core input shapes, batch shapes of the replacements)
CASES = [
    ("exp", lambda x: pt.exp(x), [(3,)], [(4,)]),
    ("add_batch_ranks", lambda x, y: x + y, [(3,), (3,)], [(4,), (2, 4)]),
    ("mul_unbatched", lambda x, y: x * y, [(3,), (3,)], [(4,), ()]),
    ("switch", lambda x, y: pt.switch(x > 0, x, y), [(3,), (3,)], [(4,), ()]),
    ("cast", lambda x: pt.cast(x * 3, "int32") * 2, [(3,)], [(4,)]),
    ("sum_axis", lambda x: x.sum(axis=0), [(3, 5)], [(4,)]),
    ("sum_all_two_batch_dims", lambda x: x.sum(), [(3, 5)], [(2, 4)]),
    ("max_keepdims", lambda x: x.max(axis=1, keepdims=True), [(3, 5)], [(4,)]),
    ("argmax", lambda x: x.argmax(axis=0), [(3, 5)], [(4,)]),
    ("mean_var", lambda x: x.mean() + x.var(axis=0), [(3, 5)], [(4,)]),
    ("logsumexp", lambda x: pt.logsumexp(x, axis=0), [(3, 2)], [(4,)]),
    ("softmax_axis", lambda x: pt.special.softmax(x, axis=-1), [(3, 5)], [(4,)]),
    ("softmax_all_axes", lambda x: pt.special.softmax(x), [(3, 5)], [(4,)]),
    ("log_softmax", lambda x: pt.special.log_softmax(x, axis=0), [(3, 5)], [(4,)]),
    ("softmax_formula", lambda x: pt.exp(x) / pt.exp(x).sum(), [(5,)], [(4,)]),
    ("transpose", lambda x: x.T, [(3, 5)], [(4,)]),
    ("dimshuffle", lambda x: x.dimshuffle(1, "x", 0), [(3, 5)], [(4,)]),
    ("reshape", lambda x: x.reshape((5, 3)), [(3, 5)], [(4,)]),
    ("reshape_minus_one", lambda x: x.reshape((-1,)), [(3, 5)], [(2, 4)]),
    ("reshape_symbolic", lambda x: x.reshape((x.shape[1], x.shape[0])), [(3, 5)], [(4,)]),
    ("flatten", lambda x: pt.flatten(x), [(3, 5)], [(4,)]),
    ("slices", lambda x: x[1:, ::2], [(3, 5)], [(4,)]),
    ("int_index", lambda x: x[0], [(3, 5)], [(4,)]),
    ("newaxis", lambda x: x[-1, None], [(3, 5)], [(4,)]),
    ("advanced_rows", lambda x: x[[0, 2, 2]], [(3, 5)], [(4,)]),
    ("advanced_cols", lambda x: x[:, [0, 2]], [(3, 5)], [(4,)]),
    ("advanced_non_adjacent", lambda x: x[[0, 1], :, [2, 0]], [(3, 5, 4)], [(2,)]),
    ("take", lambda x: pt.take(x, [2, 0], axis=1), [(3, 4)], [(4,)]),
    ("diagonal", lambda x: pt.diagonal(x), [(3, 3)], [(5,)]),
    ("matmul_mm", lambda a, b: a @ b, [(3, 4), (4, 2)], [(5,), (5,)]),
    ("matmul_mv", lambda a, b: a @ b, [(3, 4), (4,)], [(5,), (5,)]),
    ("matmul_vm", lambda a, b: a @ b, [(4,), (4, 2)], [(5,), ()]),
    ("matmul_vv", lambda a, b: a @ b, [(4,), (4,)], [(5,), (5,)]),
    ("matmul_vv_right", lambda a, b: a @ b, [(4,), (4,)], [(), (5,)]),
    ("matmul_stack", lambda a, b: a @ b, [(2, 3, 4), (4, 2)], [(5,), (5,)]),
    ("matmul_core_batch_alignment", lambda a, b: a @ b, [(3, 4), (2, 4, 2)], [(5,), (5,)]),
    ("dot_mm", lambda a, b: pt.dot(a, b), [(3, 4), (4, 2)], [(5,), (5,)]),
    ("dot_mv_right_only", lambda a, b: pt.dot(a, b), [(3, 4), (4,)], [(), (5,)]),
    ("dot_vv", lambda a, b: pt.dot(a, b), [(4,), (4,)], [(5,), (5,)]),
    ("dot_nd_left_only", lambda a, b: pt.dot(a, b), [(2, 3, 4), (4, 2)], [(5,), ()]),
    ("dot_nd_both", lambda a, b: pt.dot(a, b), [(2, 3, 4), (4, 2)], [(5,), (5,)]),
    ("dot_nd_right", lambda a, b: pt.dot(a, b), [(3, 4), (2, 4, 6)], [(5,), (5,)]),
    ("dot_vector_nd_right_only", lambda a, b: pt.dot(a, b), [(4,), (2, 4, 6)], [(), (5,)]),
    ("dot_scalar", lambda a, b: pt.dot(a, b), [(), (4,)], [(5,), (5,)]),
    ("tensordot", lambda a, b: pt.tensordot(a, b, axes=[[1], [0]]), [(3, 4), (4, 2)], [(5,), (5,)]),
    ("outer", lambda a, b: pt.outer(a, b), [(3,), (4,)], [(5,), ()]),
    ("alloc", lambda x: pt.alloc(x, 2, 3), [(3,)], [(4,)]),
    ("alloc_scalar", lambda x: pt.alloc(x, 2, 3), [()], [(4,)]),
    ("zeros_like", lambda x: pt.zeros_like(x) + x, [(3,)], [(4,)]),
    ("concatenate", lambda x, y: pt.concatenate([x, y], axis=0), [(3, 2), (2, 2)], [(4,), ()]),
    ("concatenate_axis1", lambda x, y: pt.concatenate([x, y], axis=1), [(3, 2), (3, 1)], [(4,), (4,)]),
    ("stack", lambda x, y: pt.stack([x, y]), [(3,), (3,)], [(4,), ()]),
    ("make_vector", lambda x, y: pt.stack([x, y]), [(), ()], [(4,), ()]),
    ("set_subtensor", lambda x, y: pt.set_subtensor(x[1:], y), [(3,), ()], [(4,), ()]),
    ("set_subtensor_value_batched", lambda x, y: pt.set_subtensor(x[1:], y), [(3,), ()], [(), (4,)]),
    ("set_subtensor_column", lambda x, y: pt.set_subtensor(x[:, 0], y), [(3, 2), (3,)], [(4,), (4,)]),
    ("inc_subtensor_repeated", lambda x, y: pt.inc_subtensor(x[[0, 0, 2]], y), [(3,), (3,)], [(4,), (4,)]),
    ("inc_subtensor_non_adjacent", lambda x, y: pt.inc_subtensor(x[[0, 1], :, [1, 0]], y), [(2, 3, 2), (2, 3)],
     [(4,), (4,)]),
    ("cumsum", lambda x: pt.cumsum(x, axis=0), [(3, 2)], [(4,)]),
    ("cumprod_flat", lambda x: pt.cumprod(x), [(3, 2)], [(4,)]),
    ("sort_argsort", lambda x: pt.sort(x, axis=0) + pt.argsort(x, axis=-1), [(3, 2)], [(4,)]),
    ("repeat", lambda x: pt.repeat(x, [1, 0, 2], axis=0), [(3, 2)], [(4,)]),
    ("specify_shape", lambda x: pt.specify_shape(x, (None, 2)) * 2, [(3, 2)], [(4,)]),
    ("matrix_inverse", lambda x: pt.linalg.inv(x + 3 * pt.eye(3)), [(3, 3)], [(4,)]),
    ("det", lambda x: pt.linalg.det(x), [(3, 3)], [(4,)]),
    ("gradient_markers", lambda x: et.gradient.zero_grad(x) * et.gradient.grad_clip(x, -1.0, 1.0), [(3,)], [(4,)]),
    ("gemm", lambda c, a, b: gemm(c, 0.5, a, b, 2.0), [(3, 2), (3, 4), (4, 2)], [(), (5,), ()]),
    ("gemv", lambda y, a, x: gemv(y, 0.5, a, x, 2.0), [(3,), (3, 4), (4,)], [(5,), (), (5,)]),
    ("ger", lambda c, x, y: ger(c, 0.5, x, y), [(3, 4), (3,), (4,)], [(), (), (5,)]),
]


@pytest.mark.parametrize("name, build, core, batch", CASES, ids=[c[0] for c in CASES])
def test_vectorize_matches_a_loop_over_the_batch(name, build, core, batch):
    _check_vectorized(build, core, batch)


#: compiled with the default mode (optimizer + best backend): elementwise, reduction, dot,
#: indexing, softmax
OPTIMIZED = ["add_batch_ranks", "sum_axis", "mean_var", "softmax_axis", "softmax_formula", "dot_mm", "dot_nd_right",
             "advanced_non_adjacent", "slices", "set_subtensor_column"]


@pytest.mark.parametrize("name", OPTIMIZED)
def test_vectorize_compiled_with_the_default_mode(name):
    [(_, build, core, batch)] = [c for c in CASES if c[0] == name]
    _check_vectorized(build, core, batch, mode=None)


@pytest.mark.parametrize("case", ["int", "column_int", "int_then_slice", "int_after_int", "array", "array_columns",
                                  "array_with_int"])
def test_vectorize_batched_indices(case):
    x = pt.dmatrix("x")
    xv = np.arange(12.0).reshape(3, 4)
    t = pt.tensor3("t")
    tv = np.arange(24.0).reshape(2, 3, 4)
    i, ib = pt.lscalar("i"), pt.lvector("ib")
    iv = np.array([2, 0, 1, 1])
    a, ab = pt.lvector("a"), pt.lmatrix("ab")
    av = np.array([[0, 2], [1, 1], [2, 0]])
    out, rep, given, expected = {
        "int": (x[i], {i: ib}, {x: xv, ib: iv}, [xv[k] for k in iv]),
        "column_int": (x[:, i], {i: ib}, {x: xv, ib: iv}, [xv[:, k] for k in iv]),
        "int_then_slice": (x[i, 1:], {i: ib}, {x: xv, ib: iv}, [xv[k, 1:] for k in iv]),
        "int_after_int": (t[:, 1, i], {i: ib}, {t: tv, ib: iv}, [tv[:, 1, k] for k in iv]),
        "array": (x[a], {a: ab}, {x: xv, ab: av}, [xv[k] for k in av]),
        "array_columns": (t[:, a, [0, 1]], {a: ab}, {t: tv, ab: av}, [tv[:, k, [0, 1]] for k in av]),
        "array_with_int": (x[i, a], {i: ib}, {x: xv, a: np.array([0, 3]), ib: iv}, [xv[k, [0, 3]] for k in iv]),
    }[case]
    got = et.function(list(given), vectorize_graph(out, rep), mode=FAST)(*given.values())
    np.testing.assert_array_equal(got, np.stack(expected))


def test_vectorize_static_broadcastable_batch_dims():
    p, q = pt.tensor("p", shape=(2,)), pt.tensor("q", shape=(3,))
    pb, qb = pt.tensor("pb", shape=(1, 2)), pt.tensor("qb", shape=(4, 3))
    out = vectorize_graph(pt.concatenate([p, q]), {p: pb, q: qb})
    assert out.type.shape == (4, 5)
    pv, qv = np.ones((1, 2)), np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(et.function([pb, qb], out)(pv, qv),
                                  np.concatenate([np.broadcast_to(pv, (4, 2)), qv], axis=1))
    # static shapes flow through the rules
    x = pt.tensor("x", shape=(3, 5))
    xb = pt.tensor("xb", shape=(7, 3, 5))
    assert vectorize_graph(x.sum(axis=0), {x: xb}).type.shape == (7, 5)
    assert vectorize_graph(x.reshape((5, 3)), {x: xb}).type.shape == (7, 5, 3)
    assert vectorize_graph(x[1:, 0], {x: xb}).type.shape == (7, 2)
    assert vectorize_graph(x.T @ x, {x: xb}).type.shape == (7, 5, 5)


def test_vectorize_like_pytensor():
    x = pt.vector("x")
    y = pt.exp(x) / pt.sum(pt.exp(x))
    new_x = pt.matrix("new_x")
    [new_y] = vectorize_graph([y], {x: new_x})
    assert equal_computations([new_y], [vectorize_graph(y, {x: new_x})])
    value = np.array([[0, 1, 2], [2, 1, 0]], dtype=new_x.dtype)
    np.testing.assert_allclose(et.function([new_x], new_y)(value), scipy.special.softmax(value, axis=-1))
    # several outputs
    y1, y2 = x[0], x[-1]
    new_y1, new_y2 = vectorize_graph([y1, y2], {x: new_x})
    r1, r2 = et.function([new_x], [new_y1, new_y2])(np.arange(9.0).reshape(3, 3))
    np.testing.assert_allclose(r1, [0, 3, 6])
    np.testing.assert_allclose(r2, [2, 5, 8])
    # an intermediate variable replaced, outputs that do not depend on the replacement kept
    e = pt.exp(x)
    out = e.sum()
    other = x.sum()
    eb = pt.dmatrix("eb")
    vb, same = vectorize_graph([out, other], {e: eb})
    assert same is other and x not in set(ancestors([vb]))
    np.testing.assert_allclose(vb.eval({eb: np.ones((2, 3))}), [3.0, 3.0])


def test_vectorize_errors():
    x = pt.dvector("x")
    n, nb = pt.lscalar("n"), pt.lvector("nb")
    with pytest.raises(ValueError, match="Some of the replaced items are not Variables"):
        vectorize_graph(pt.exp(x), {x: np.ones((2, 3))})
    with pytest.raises(ValueError, match="fewer dimensions"):
        vectorize_graph(pt.exp(x), {x: pt.dscalar("s")})
    # shapes given by batched values: a batch would be ragged
    with pytest.raises(NotImplementedError, match="'arange'"):
        vectorize_graph(pt.arange(n), {n: nb})
    with pytest.raises(NotImplementedError, match="'alloc'"):
        vectorize_graph(pt.zeros((n, 2)), {n: nb})
    with pytest.raises(NotImplementedError, match="'reshape'"):
        vectorize_graph(pt.dmatrix("m").reshape((n, -1)), {n: nb})
    with pytest.raises(NotImplementedError, match="'subtensor'"):
        vectorize_graph(x[n:], {n: nb})
    with pytest.raises(NotImplementedError, match="'advanced_subtensor'"):
        vectorize_graph(x[x > 0], {x: pt.dmatrix("xb")})
    r = pt.lvector("r")
    with pytest.raises(NotImplementedError, match="'repeat'"):
        vectorize_graph(pt.repeat(x, r, axis=0), {r: pt.lmatrix("rb")})
    # unbatched uses of the same ops are kept
    assert vectorize_graph(pt.arange(n) + x, {x: pt.dmatrix("xb")}).ndim == 2


def test_every_op_has_a_batching_rule_or_a_reason():
    """Adding an op is a conscious decision: it batches (a rule in BATCHING) or it does not (a
    reason in NOT_BATCHED). Elementwise ops and reductions get their family's rule."""
    rules, reasons = set(BATCHING), set(NOT_BATCHED)
    assert not rules & reasons
    missing = set(OPS) - rules - reasons
    assert not missing, f"ops without a batching decision: {sorted(missing)}"
    assert not (rules | reasons) - set(OPS), "tables name ops that do not exist"
    for name, why in NOT_BATCHED.items():
        assert isinstance(why, str) and len(why) > 20
        with pytest.raises(NotImplementedError, match=name):
            batching_rule(name)
    assert {n for n, d in OPS.items() if d.kind in ("elemwise", "reduce")} <= rules
    assert sorted(NOT_BATCHED) == ["arange", "check", "eye", "scan", "searchsorted", "tri", "unique"]


def _spd(*batch):
    a = rng.normal(size=batch + (3, 3))
    return a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)


@pytest.mark.parametrize("case", ["solve_a", "solve_b", "solve_both", "cholesky", "slogdet", "solve_triangular",
                                  "eigh", "lu_solve_b", "lu_solve_a", "stack_solve", "stack_solve_b"])
def test_vectorize_linear_algebra(case):
    """Ops over stacks of matrices: the batch goes in front of the operands' own stack dimensions;
    ``solve`` (one matrix) batches as ``blockwise_solve``."""
    L = pt.linalg
    A, b, Ab, bb = pt.dmatrix("A"), pt.dvector("b"), pt.tensor3("Ab"), pt.dmatrix("bb")
    A3, A4 = pt.tensor3("A3"), pt.tensor4("A4")
    Av, bv, A3v = _spd(4), rng.normal(size=(4, 3)), _spd(4, 2)
    lu_piv = L.lu_factor(A)

    def stack_solve(a, r):
        return np.linalg.solve(a, r[None, :, None])[..., 0]

    out, rep, given, expected = {
        "solve_a": (L.solve(A, b), {A: Ab}, {Ab: Av, b: bv[0]}, [np.linalg.solve(a, bv[0]) for a in Av]),
        "solve_b": (L.solve(A, b), {b: bb}, {A: Av[0], bb: bv}, [np.linalg.solve(Av[0], r) for r in bv]),
        "solve_both": (L.solve(A, b), {A: Ab, b: bb}, {Ab: Av, bb: bv}, [np.linalg.solve(a, r) for a, r in zip(Av, bv)]),
        "cholesky": (L.cholesky(A), {A: Ab}, {Ab: Av}, [np.linalg.cholesky(a) for a in Av]),
        "slogdet": (L.slogdet(A)[1], {A: Ab}, {Ab: Av}, [np.linalg.slogdet(a)[1] for a in Av]),
        "solve_triangular": (L.solve_triangular(A, b, lower=True), {b: bb}, {A: np.tril(Av[0]), bb: bv},
                             [scipy.linalg.solve_triangular(np.tril(Av[0]), r, lower=True) for r in bv]),
        "eigh": (L.eigh(A)[0], {A: Ab}, {Ab: Av}, [np.linalg.eigh(a)[0] for a in Av]),
        "lu_solve_b": (L.lu_solve(lu_piv, b), {b: bb}, {A: Av[0], bb: bv}, [np.linalg.solve(Av[0], r) for r in bv]),
        "lu_solve_a": (L.lu_solve(lu_piv, b), {A: Ab}, {Ab: Av, b: bv[0]}, [np.linalg.solve(a, bv[0]) for a in Av]),
        "stack_solve": (L.solve(A3, b, b_ndim=1), {A3: A4}, {A4: A3v, b: bv[0]}, [stack_solve(a, bv[0]) for a in A3v]),
        "stack_solve_b": (L.solve(A3, b, b_ndim=1), {b: bb}, {A3: A3v[0], bb: bv}, [stack_solve(A3v[0], r) for r in bv]),
    }[case]
    got = et.function(list(given), vectorize_graph(out, rep), mode=FAST)(*given.values())
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-9, atol=1e-12)


def test_vectorize_node():
    x = pt.dmatrix("x")
    node = x.sum(axis=1).owner
    assert vectorize_node(node, x) is node.out  # nothing batched: the node itself
    out = vectorize_node(node, pt.tensor3("xb"))
    assert out.owner.op.params["axis"] == (2,)
    with pytest.raises(ValueError):
        vectorize_node(node, pt.dvector("v"))


# ============================================================================ deep graphs
DEPTH = 10_000


@pytest.fixture(scope="module")
def deep():
    x = pt.dvector("x")
    y = x
    for k in range(DEPTH):
        y = y * 0.5 + 1.0 if k % 2 else pt.sin(y)
    return x, y


def test_deep_graph_walks(deep):
    x, y = deep
    assert sum(1 for _ in toposort([y])) == DEPTH + DEPTH // 2
    assert io_toposort([x], [y])[0].inputs[0] is x
    assert next(v for v in graph_inputs([y]) if v.name == "x") is x
    assert list(explicit_graph_inputs(y)) == [x]
    assert len(list(ancestors([y]))) > 2 * DEPTH
    assert variable_depends_on(y, x)
    assert x in truncated_graph_inputs([y], [x])
    assert sum(1 for _ in applys_between([x], [y])) == DEPTH + DEPTH // 2


def test_deep_graph_replace_clone_and_vectorize(deep):
    x, y = deep
    z = pt.dvector("z")
    y2 = graph_replace(y, {x: z})
    assert equal_computations([y2], [y], in_xs=[z], in_ys=[x])
    assert not equal_computations([y2], [y])
    [x3], [y3] = clone([x], [y])
    assert equal_computations([y3], [y], in_xs=[x3], in_ys=[x])
    assert clone_replace(y, {x: z}).type == y.type
    xb = pt.dmatrix("xb")
    yb = vectorize_graph(y, {x: xb})
    v = rng.normal(size=(3, 4))
    f = et.function([x], y, mode=FAST)
    np.testing.assert_allclose(et.function([xb], yb, mode=FAST)(v), np.stack([f(r) for r in v]))


# ============================================================================ building on graphs
def test_derive_a_log_density_from_a_user_graph():
    """A PyMC-like use: find the inputs of a user's expression marked as random variables, build
    the sum of their normal log-densities plus the likelihood, vectorize it over draws."""
    mu = pt.dscalar("mu")
    mu.tag["prior"] = (0.0, 10.0)
    log_sigma = pt.dscalar("log_sigma")
    log_sigma.tag["prior"] = (0.0, 1.0)
    data = pt.dvector("data")
    resid = (data - mu) / pt.exp(log_sigma)  # the user's expression

    def normal_logpdf(v, m, s):
        return -0.5 * ((v - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)

    rvs = [v for v in explicit_graph_inputs(resid) if "prior" in v.tag]
    assert {v.name for v in rvs} == {"mu", "log_sigma"}
    logp = sum(normal_logpdf(v, *v.tag["prior"]) for v in rvs)
    loglik = (-0.5 * resid ** 2 - log_sigma - 0.5 * np.log(2 * np.pi)).sum()
    total = logp + loglik
    mus, lss = pt.dvector("mus"), pt.dvector("lss")
    batched = vectorize_graph(total, {mu: mus, log_sigma: lss})
    f = et.function([mus, lss, data], batched)
    d = np.array([0.5, 1.5, 2.0])
    m_draws, ls_draws = np.array([0.0, 1.0, 2.0]), np.array([0.0, -0.5, 0.3])
    expected = [scipy.stats.norm.logpdf(m, 0, 10) + scipy.stats.norm.logpdf(ls, 0, 1)
                + scipy.stats.norm.logpdf(d, m, np.exp(ls)).sum() for m, ls in zip(m_draws, ls_draws)]
    np.testing.assert_allclose(f(m_draws, ls_draws, d), expected)
    # conditioning: a random variable fixed to a value by graph_replace
    fixed = graph_replace(total, {mu: pt.constant(1.0)})
    assert mu not in set(graph_inputs([fixed]))
    np.testing.assert_allclose(et.function([log_sigma, data], fixed)(-0.5, d), expected[1])

