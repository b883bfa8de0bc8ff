"""Counts and gradient shapes take their run-time lengths from the earliest variable that has them
(``core.ops.shape.length``), so that a ``mean``/``var`` over an intermediate, or its gradient, does
not keep that intermediate as a full array in memory just for its shape."""

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.backends.c.plan import plan_units
from eqtensor.core.ops.shape import length


def _full_size_units(f, shape):
    """The roots of the C plan's units that write a value of ``shape`` and are not outputs."""
    plan = plan_units(f.profile.nodes, f.profile._outputs)
    outs = {id(o) for o in f.profile._outputs}
    roots = [plan.members[u][-1] for u in plan.units]
    return [r for r in roots if r.outputs[0].type.shape == shape and id(r.outputs[0]) not in outs]


def _centred(x):
    return x - x.mean(axis=1, keepdims=True)


@pytest.mark.parametrize("build, reference", [
    (lambda x: x.var(axis=1), lambda x: x.var(axis=1)),
    (lambda x: _centred(x).std(axis=1), lambda x: _centred(x).std(axis=1)),
    (lambda x: pt.sqr(_centred(x)).mean(axis=1), lambda x: (_centred(x) ** 2).mean(axis=1)),
])
def test_a_reduction_over_an_intermediate_does_not_materialize_it(build, reference):
    x = pt.matrix("x", dtype="float32", shape=(None, None))
    f = et.function([x], build(x), mode="C", profile=True)
    v = np.random.default_rng(0).normal(size=(64, 33)).astype("float32")
    np.testing.assert_allclose(f(v), reference(v.astype("float64")), rtol=1e-5)
    assert _full_size_units(f, (None, None)) == []


def test_row_normalization_and_its_gradient_keep_no_full_size_intermediate():
    x, g = pt.fmatrix("x"), pt.fmatrix("g")
    mean = x.mean(axis=1, keepdims=True)
    out = (x - mean) / pt.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + np.float32(1e-5))
    f = et.function([x, g], [out, et.grad((out * g).sum(), x)], mode="C", profile=True)
    rng = np.random.default_rng(1)
    xv, gv = rng.normal(size=(40, 17)).astype("float32"), rng.normal(size=(40, 17)).astype("float32")
    o, gx = f(xv, gv)
    xd, gd = xv.astype("float64"), gv.astype("float64")
    c = xd - xd.mean(axis=1, keepdims=True)
    inv = 1 / np.sqrt((c * c).mean(axis=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(o, c * inv, rtol=1e-5, atol=1e-6)
    ref = inv * (gd - gd.mean(axis=1, keepdims=True) - c * inv * (gd * c * inv).mean(axis=1, keepdims=True))
    np.testing.assert_allclose(gx, ref, rtol=1e-4, atol=1e-5)
    assert _full_size_units(f, (None, None)) == []


def test_length_follows_elementwise_ops_and_dimshuffles_only_where_the_length_is_the_same():
    x, c, r = pt.dmatrix("x"), pt.dcol("c"), pt.drow("r")
    assert length(pt.exp(x) + c, 1).owner.inputs[0] is x
    assert length((c + r).T, 0).owner.inputs[0] is r  # dimension 1 of c + r is r's
    assert length(c + r, 0).owner.inputs[0] is c
    assert length(pt.sum(x, axis=0), 0).owner.inputs[0].owner.op.name == "sum"  # not through a reduction
