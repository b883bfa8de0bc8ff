"""The workloads of benchmarks/outside_families.py: each one's hand-written NumPy gradient against
central finite differences of its NumPy value, eqtensor's C function against that NumPy reference,
and the rank-3 alloc rule those workloads needed (a batched gradient's seed ``alloc(1, shape) * g``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.rules import RuleSet, algebraic
from eqtensor.rules.checker import check

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import outside_families as of  # noqa: E402
from bench_families import check as check_outputs  # noqa: E402

#: family -> the inputs its scalar output is differentiated wrt, in the order of its gradient outputs
SCALAR_GRADS = {"logreg": ("w", "b"), "poisson_glm": ("w", "b"), "gmm": ("mu", "log_sigma", "w_logits"),
                "attention": ("Q", "K", "V"), "kalman": ("log_q", "log_r"),
                "student_t": ("mu", "log_sigma", "log_nu")}


#: family -> its data cut to a size where finite differences of the NumPy value are quick
SMALL = {"logreg": lambda d: dict(d, X=d["X"][:2000], y=d["y"][:2000]),
         "poisson_glm": lambda d: dict(d, X=d["X"][:2000], y=d["y"][:2000]),
         "gmm": lambda d: dict(d, x=d["x"][:2000]), "student_t": lambda d: dict(d, y=d["y"][:5000]),
         "attention": lambda d: {k: v[:2, :32] for k, v in d.items()}, "kalman": lambda d: d}


def _float64(data):
    return {k: v.astype("float64") if v.dtype.kind == "f" else v for k, v in
            ((k, np.asarray(v)) for k, v in data.items())}


@pytest.mark.parametrize("name", sorted(SCALAR_GRADS))
def test_the_hand_written_gradients_match_finite_differences(name):
    fam = next(f for f in of.FAMILIES if f.name == name)
    data = SMALL[name](_float64(fam.data(np.random.default_rng(0))))
    grads = fam.numpy(data)[1:]
    rng = np.random.default_rng(1)
    for wrt, g in zip(SCALAR_GRADS[name], grads):
        g = np.asarray(g)
        for flat in rng.choice(g.size, size=min(3, g.size), replace=False):
            idx = np.unravel_index(flat, g.shape)
            h = 1e-6 * max(1.0, abs(float(data[wrt][idx])))
            values = []
            for sign in (1, -1):
                d = dict(data, **{wrt: data[wrt].copy()})
                d[wrt][idx] += sign * h
                values.append(float(fam.numpy(d)[0]))
            fd = (values[0] - values[1]) / (2 * h)
            scale = max(abs(float(g[idx])), 1e-3 * float(np.max(np.abs(g))), 1e-8)
            assert abs(fd - float(g[idx])) / scale < 1e-4, (name, wrt, idx, fd, float(g[idx]))


def test_the_rbf_gradient_matches_finite_differences():
    d = _float64(of.rbf_kernel.data(np.random.default_rng(0)))
    d = {"x": d["x"][:30], "z": d["z"][:20], "G": d["G"][:30, :20]}
    _, gx, gz = of.rbf_kernel.numpy(d)
    h = 1e-6
    for wrt, g in (("x", gx), ("z", gz)):
        for i in (0, 7):
            vals = []
            for sign in (1, -1):
                e = dict(d, **{wrt: d[wrt].copy()})
                e[wrt][i] += sign * h
                vals.append(np.sum(of.rbf_kernel.numpy(e)[0] * d["G"]))
            np.testing.assert_allclose((vals[0] - vals[1]) / (2 * h), g[i], rtol=1e-6, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("fam", of.FAMILIES, ids=lambda f: f.name)
def test_eqtensor_c_matches_the_numpy_reference(fam):
    data = fam.data(np.random.default_rng(0))
    ins = fam.inputs(pt)
    f = et.function(list(ins.values()), fam.graph(pt, et.grad, ins), mode="C")
    ref = [np.asarray(r, dtype="float64") for r in fam.numpy(_float64(data))]
    check_outputs(fam, f(*[data[k] for k in ins]), ref)


def test_the_rank_3_alloc_rule_passes_the_checker():
    rules = {r.name: r for r in algebraic().rules}
    assert check(RuleSet([rules["alloc_scalar_mul_3d"]])).ok


def test_a_batched_gradient_seed_is_not_materialized():
    """``grad(sum(matmul(a, b) * g), a)`` of 3-d tensors is ``matmul(g, b^T)``: no alloc of ones."""
    a, b, g = (pt.tensor3(n) for n in "abg")
    f = et.function([a, b, g], et.grad(pt.sum(pt.matmul(a, b) * g), a), mode="C")
    names = [node.op.name for node in f.maker.fgraph.toposort()]
    assert "alloc" not in names and names.count("matmul") == 1
    rng = np.random.default_rng(0)
    av, bv, gv = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5)), rng.normal(size=(2, 3, 5))
    np.testing.assert_allclose(f(av, bv, gv), gv @ bv.transpose(0, 2, 1), rtol=1e-12)
