"""The JAX backend (``mode="JAX"``): every op lowered or listed, the per-op matrix and random graphs
equal to NumPy, stable forms where hand-written ``jax.jit`` overflows, eqtensor's gradients, shared
state, static shape inputs, sharding over simulated devices (in a subprocess), the error without
JAX, and ``EQTENSOR_FLAGS``.

JIT compiles cost ~0.1-0.5 s each: the matrix runs in batches of cases per compiled function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import eqtensor  # noqa: E402
from eqtensor import Mode, function, tensor as pt  # noqa: E402
from eqtensor.backends import jax as jax_backend  # noqa: E402
from eqtensor.core.op import OPS  # noqa: E402

from test_c_backend import _leaf_values, _leaves, _random_graph  # noqa: E402
from test_op_matrix import SAMPLES, TOL  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UNOPTIMIZED = Mode(optimize=False, backend="jax")

#: matrix cases where JAX's results differ from NumPy's by design: (op, dtype of first input) -> why
KNOWN_DIFFERENCES = {
    ("arcsinh", "complex128"): "XLA's branch cut of asinh on the imaginary axis (-1000j) differs from NumPy's",
    ("pow", "complex128"): "complex power with inf/nan exponents: XLA and NumPy differ in the nan/inf pattern",
    ("true_div", "complex128"): "complex division by -0.0: the sign of the infinite result differs",
    ("reciprocal", "int32"): "1 // 0 for int32 is INT_MIN in NumPy (C undefined behaviour); JAX gives 0",
}
#: looser tolerances: XLA's float32 special functions are accurate to a few float32 ulps, absolutely
ATOL = {("gammaln", "float32"): 2e-6}


def _known(name, case):
    if name == "ifelse" and case.label.startswith("taken="):  # branches x[:2] and x[:3] of one input
        return "branches of different shapes: JAX traces one static shape"
    return KNOWN_DIFFERENCES.get((name, case.args[0].dtype.name if case.args else None))


def test_every_op_is_lowered_or_listed():
    lowered = set(jax_backend.LOWERINGS) | set(jax_backend.IN_CONTEXT)
    missing = sorted(n for n in OPS if not jax_backend.lowers(n) and n not in jax_backend.NOT_LOWERED)
    assert not missing, f"ops neither lowered to JAX nor listed in NOT_LOWERED (with a reason): {missing}"
    stale = sorted(n for n in lowered | set(jax_backend.NOT_LOWERED) if n not in OPS)
    assert not stale, f"JAX lowerings of ops that are not in OPS: {stale}"
    assert not set(jax_backend.LOWERINGS) & set(jax_backend.IN_CONTEXT)
    assert not {n for n in OPS if jax_backend.lowers(n)} & set(jax_backend.NOT_LOWERED)
    assert all(isinstance(r, str) and r for r in jax_backend.NOT_LOWERED.values())


# ------------------------------------------------------------------------------ the per-op matrix
#: cases per op (spread over its list): XLA compiles cost, and ~1 100 cases would take minutes
PER_OP = 6


def _matrix_cases():
    out = []
    for name in sorted(SAMPLES):
        if not jax_backend.lowers(name) or OPS[name].kind == "random":
            continue  # listed as not lowered (or missing: the walk above fails); draws: tested statistically below
        cases = [(k, c) for k, c in enumerate(SAMPLES[name]) if c.raises is None and _known(name, c) is None]
        step = max(1, -(-len(cases) // PER_OP))
        out += [(f"{name}-{k}-{case.label}", name, case) for k, case in cases[::step]]
    return out


CASES = _matrix_cases()
_RESULTS: dict = {}


def _batch(chunk=120):
    """All matrix cases compiled into a few JAX functions (dynamic shapes); id -> (result, variable)."""
    if _RESULTS:
        return _RESULTS
    for start in range(0, len(CASES), chunk):
        ins, outs, vals, ids = [], [], [], []
        for cid, _, case in CASES[start:start + chunk]:
            vars_ = [pt.tensor(f"in{j}", dtype=a.dtype.name, shape=tuple(1 if s == 1 else None for s in a.shape))
                     for j, a in enumerate(case.args)]
            try:
                o = case.build(*vars_)
            except Exception as e:  # noqa: BLE001  (the op-matrix test owns build errors)
                _RESULTS[cid] = e
                continue
            ins += vars_
            outs.append(o)
            vals += list(case.args)
            ids.append(cid)
        try:
            results = function(ins, outs, mode=UNOPTIMIZED, on_unused_input="ignore")(*vals)
        except Exception as e:  # noqa: BLE001  (every case of the chunk reports it)
            results = [e] * len(outs)
        for cid, o, r in zip(ids, outs, results):
            _RESULTS[cid] = r if isinstance(r, Exception) else (np.asarray(r), o)
    return _RESULTS


@pytest.mark.slow
@pytest.mark.parametrize("cid, name, case", CASES, ids=[c[0] for c in CASES])
def test_jax_matches_numpy_reference(cid, name, case):
    got = _batch()[cid]
    if isinstance(got, Exception):
        raise got
    res, o = got
    with np.errstate(all="ignore"):
        expected = np.asarray(case.ref(*case.args))
    assert res.dtype == expected.dtype and res.dtype.name == o.dtype, (res.dtype, expected.dtype, o.dtype)
    assert res.shape == expected.shape
    if res.dtype.kind in "biu":
        np.testing.assert_array_equal(res, expected)
    else:
        rtol = (case.rtol or TOL[res.dtype.name]) * 4
        atol = ATOL.get((name, case.args[0].dtype.name if case.args else None), rtol * 1e-3)
        np.testing.assert_allclose(res, expected, rtol=rtol, atol=atol, equal_nan=True)


def test_known_differences_still_differ():
    """A listed difference is real: JAX gives another value (else the entry is stale)."""
    x = pt.ivector("x")
    got = np.asarray(function([x], pt.reciprocal(x), mode=UNOPTIMIZED)(np.array([0, 2], "int32")))
    ref = function([x], pt.reciprocal(x), mode=Mode(optimize=False, backend="numpy"))(np.array([0, 2], "int32"))
    assert got[0] == 0 and ref[0] != 0 and got[1] == ref[1] == 0


# ------------------------------------------------------------------------------ random graphs
@pytest.mark.slow
def test_random_graphs_equal_numpy():
    """Random float64 graphs (edge values included), optimized for JAX, against unoptimized NumPy."""
    rng = np.random.default_rng(11)
    leaves = _leaves()
    outs = [_random_graph(lambda n: int(rng.integers(n)), leaves, 5) for _ in range(60)]
    fj = function(leaves, outs, mode="JAX", on_unused_input="ignore")
    fn = function(leaves, outs, mode="FAST_COMPILE", on_unused_input="ignore")
    for m, n in [(3, 4), (1, 5), (0, 3), (7, 1)]:
        vals = _leaf_values(rng, m, n)
        with np.errstate(all="ignore"):
            try:
                rn = fn(*vals)
            except ValueError:  # max over a zero-size axis: JAX must refuse too
                with pytest.raises(ValueError, match="identity"):
                    fj(*vals)
                continue
            rj = fj(*vals)
        for k, (a, b) in enumerate(zip(rj, rn)):
            a = np.asarray(a)
            assert a.dtype == b.dtype and a.shape == b.shape, (k, outs[k])
            finite = np.isfinite(b)
            np.testing.assert_allclose(a[finite], b[finite], rtol=1e-7, atol=1e-9, err_msg=str(outs[k]))


# ------------------------------------------------------------------------------ stability
def test_stable_forms_where_hand_written_jax_overflows():
    import jax.numpy as jnp
    import mpmath

    x = pt.dvector("x")
    X = pt.dmatrix("X")
    f = function([x, X], [pt.log(1 + pt.exp(x)), pt.log(pt.sum(pt.exp(X), axis=1))], mode="JAX")
    xv = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    Xv = np.array([[1000.0, 1000.0, 0.0], [-1000.0, -1001.0, -2000.0]])
    soft, lse = (np.asarray(r) for r in f(xv, Xv))
    with jax.enable_x64(True):
        hand = jax.jit(lambda x, X: (jnp.log(1 + jnp.exp(x)), jnp.log(jnp.sum(jnp.exp(X), axis=1))))(xv, Xv)
    assert not np.all(np.isfinite(np.asarray(hand[0]))) and not np.all(np.isfinite(np.asarray(hand[1])))
    with mpmath.workdps(50):
        exact_soft = [float(mpmath.log1p(mpmath.exp(v))) for v in xv]
        exact_lse = [float(mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in row))) for row in Xv]
    np.testing.assert_allclose(soft, exact_soft, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(lse, exact_lse, rtol=1e-12)


# ------------------------------------------------------------------------------ gradients and state
def test_gradients_are_eqtensors_and_match_finite_differences():
    w, X, y = pt.dvector("w"), pt.dmatrix("X"), pt.dvector("y")
    loss = pt.sum(pt.softplus(-y * pt.dot(X, w)))  # logistic loss, labels in {-1, 1}
    g = eqtensor.grad(loss, w)
    rng = np.random.default_rng(0)
    Xv, yv, wv = rng.normal(size=(20, 3)), np.sign(rng.normal(size=20)), rng.normal(size=3)
    fj = function([w, X, y], [loss, g], mode="JAX")
    fn = function([w, X, y], [loss, g], mode="NUMPY")
    (lj, gj), (ln, gn) = fj(wv, Xv, yv), fn(wv, Xv, yv)
    np.testing.assert_allclose(np.asarray(lj), ln, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gj), gn, rtol=1e-10)
    eps = 1e-6
    fd = [(fn(wv + eps * e, Xv, yv)[0] - fn(wv - eps * e, Xv, yv)[0]) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(np.asarray(gj), fd, rtol=1e-6)


def test_shared_variables_updates_and_donation():
    w = eqtensor.shared(np.zeros(3), name="w")
    count = eqtensor.shared(np.int64(0), name="count")
    x = pt.dvector("x")
    f = function([x], pt.sum(w * x), updates=[(w, w + x), (count, count + 1)], mode="JAX")
    assert f.maker.backend == "jax"
    for k in range(1, 4):
        out = f(np.array([1.0, 2.0, 3.0]))
        np.testing.assert_allclose(np.asarray(out), 14.0 * (k - 1))  # w before the update
    np.testing.assert_allclose(np.asarray(w.get_value()), [3.0, 6.0, 9.0])
    assert int(np.asarray(count.get_value())) == 3
    assert f.maker.backend_source.startswith("# jax.jit")
    w.set_value(np.ones(3))
    np.testing.assert_allclose(np.asarray(f(np.ones(3))), 3.0)
    np.testing.assert_allclose(np.asarray(w.get_value()), 2.0)


def test_x64_is_scoped_and_float32_graphs_stay_float32():
    before = jax.config.jax_enable_x64
    x, xf = pt.dvector("x"), pt.fvector("xf")
    assert np.asarray(function([x], x * 2, mode="JAX")(np.ones(2))).dtype == np.float64
    assert np.asarray(function([xf], xf * 2, mode="JAX")(np.ones(2, "float32"))).dtype == np.float32
    assert jax.config.jax_enable_x64 == before


def test_shape_inputs_become_static_arguments():
    x, n = pt.dvector("x"), pt.lscalar("n")
    f = function([x, n], pt.sum(x[:n]) + pt.zeros((n,)).sum(), mode="JAX")
    v = np.arange(5.0)
    assert float(np.asarray(f(v, 2))) == 1.0 and float(np.asarray(f(v, 4))) == 6.0


def test_jax_arrays_pass_through_and_broadcast_errors():
    import jax.numpy as jnp

    x, y = pt.dvector("x"), pt.dvector("y")
    f = function([x, y], x + y, mode="JAX")
    with jax.enable_x64(True):
        a = jnp.arange(3.0)
    assert f(a, np.ones(3)).sharding == a.sharding  # passed as it is: same device(s)
    assert jax_backend.accepts(a, x.type) and not jax_backend.accepts(a, pt.fvector().type)
    with pytest.raises(ValueError, match="run-time lengths differ"):
        f(np.ones(3), np.ones(1))


# ------------------------------------------------------------------------------ subprocesses
def _run(code, env_extra=None, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=str(ROOT))


SHARDED = """
    import json, numpy as np, jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import eqtensor
    from eqtensor import Mode, function, tensor as pt
    assert len(jax.devices()) == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    rows = NamedSharding(mesh, P("batch"))
    X, y, w = pt.dmatrix("X"), pt.dvector("y"), pt.dvector("w")
    loss = pt.mean(pt.softplus(-y * pt.dot(X, w)))
    g = eqtensor.grad(loss, w)
    rng = np.random.default_rng(0)
    Xv, yv, wv = rng.normal(size=(64, 5)), np.sign(rng.normal(size=64)), rng.normal(size=5)
    fc = function([X, y, w], [loss, g, pt.exp(X)], mode="C")
    fs = function([X, y, w], [loss, g, pt.exp(X)], mode=Mode(backend="jax", sharding={"X": rows, "y": rows}))
    l, gr, e = fs(Xv, yv, wv)
    with jax.enable_x64(True):
        Xd = jax.device_put(Xv, rows)
        l2, g2, e2 = function([X, y, w], [loss, g, pt.exp(X)], mode="JAX")(Xd, yv, wv)
    ref = fc(Xv, yv, wv)
    from eqtensor.scan import scan  # a loop over a sharded input: the step is compiled without the sharding
    csum = scan(lambda x_t, acc: acc + x_t, sequences=X, outputs_info=pt.zeros((5,)), return_updates=False)
    sums = [function([X], csum, mode=m)(Xv) for m in (Mode(backend="jax", sharding={"X": rows}), "C")]
    print(json.dumps({
        "close": [bool(np.allclose(np.asarray(a), b, rtol=1e-12)) for a, b in zip((l, gr, e, l2, g2, e2), ref * 2)]
                 + [bool(np.allclose(np.asarray(sums[0]), sums[1], rtol=1e-12))],
        "in_devices": len(Xd.sharding.device_set),
        "out_devices": [len(e.sharding.device_set), len(e2.sharding.device_set)],
        "out_spec": str(e.sharding.spec) if hasattr(e.sharding, "spec") else "",
    }))
"""


@pytest.mark.slow
def test_sharded_over_eight_simulated_devices_equals_c():
    r = _run(SHARDED, {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"})
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert all(out["close"]), out
    assert out["in_devices"] == 8 and out["out_devices"] == [8, 8], out


def test_without_jax_mode_jax_names_the_extra():
    r = _run("""
        import sys
        sys.modules["jax"] = None   # makes `import jax` fail
        import numpy as np
        from eqtensor import function, tensor as pt
        x = pt.dvector("x")
        print(function([x], x + 1, mode="NUMPY")(np.ones(2)))
        try:
            function([x], x + 1, mode="JAX")
        except ImportError as e:
            print("ERROR", type(e).__name__, e)
    """)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[2. 2.]" in r.stdout
    assert "ERROR JaxUnavailable" in r.stdout and 'pip install "eqtensor[jax]"' in r.stdout


def test_eqtensor_flags_from_the_environment():
    code = """
        import eqtensor
        c = eqtensor.config
        print(c.mode, c.floatX, c.unknown_dim_size, c.optimizer_cache, c.on_unused_input, c.num_threads)
    """
    r = _run(code, {"EQTENSOR_FLAGS": "mode=JAX, floatX=float32,unknown_dim_size=64,optimizer_cache=False,"
                                      "on_unused_input=warn,num_threads=2"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["JAX", "float32", "64", "False", "warn", "2"]
    for flags, message in (("floatx=float32", "no flag 'floatx'"), ("floatX=float16", "floatX"),
                           ("unknown_dim_size=many", "unknown_dim_size"), ("mode", "name=value")):
        r = _run("import eqtensor", {"EQTENSOR_FLAGS": flags})
        assert r.returncode != 0 and "EQTENSOR_FLAGS" in r.stderr and message in r.stderr, (flags, r.stderr[-800:])


# ------------------------------------------------------------------------------ control flow
def _both(inputs, outputs, args, updates=None, rtol=1e-12):
    """The JAX function's results equal the NumPy backend's (fresh compiles of both)."""
    fj = function(inputs, outputs, mode="JAX", updates=updates)
    fn = function(inputs, outputs, mode="NUMPY", updates=updates)
    rj, rn = fj(*args), fn(*args)
    rj, rn = (rj, rn) if isinstance(rn, list) else ([rj], [rn])
    for a, b in zip(rj, rn):
        a = np.asarray(a)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-300)
    return fj


def test_scan_taps_backwards_and_several_outputs_equal_numpy():
    from eqtensor.scan import scan

    x, w, n = pt.dvector("x"), pt.dscalar("w"), pt.lscalar("n")

    def step(x_prev, x_t, x_next, f2, f1, w):
        out = f1 + f2 * w + x_t
        return out, x_prev * x_next + out  # one fed back at taps [-2, -1], one not fed back

    (fib, other), _ = scan(step, sequences=dict(input=x, taps=[-1, 0, 1]),
                           outputs_info=[dict(initial=pt.as_tensor_variable(np.array([0.0, 1.0])), taps=[-2, -1]),
                                         None],
                           non_sequences=w, go_backwards=True)
    powers = scan(lambda p, A: p * A, outputs_info=pt.ones((2,)), non_sequences=x[:2], n_steps=n,
                  return_updates=False)
    xv = np.linspace(-1.0, 2.0, 9)
    f = _both([x, w, n], [fib, other, powers, pt.sum(fib) * 2], [xv, 0.5, 4])
    assert "static arguments [2]" in f.maker.backend_source  # n decides a shape: a static argument
    f(xv, 0.5, 3)  # another n: traced again


def test_scan_shared_updates_and_gradient_equal_numpy():
    from eqtensor.scan import scan

    count = eqtensor.shared(np.float64(0.0), name="count")
    x, h0, W = pt.dmatrix("x"), pt.dvector("h0"), pt.dmatrix("W")

    def step(x_t, h, W):
        return pt.tanh(pt.dot(W, h) + x_t), {count: count + pt.sum(x_t)}

    hs, upd = scan(step, sequences=x, outputs_info=h0, non_sequences=W)
    loss = pt.sum(hs[-1] ** 2)
    g = eqtensor.grad(loss, [h0, W])
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=(3, 3)) * 0.5]
    _both([x, h0, W], [hs, loss, *g], args, updates=upd, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(count.get_value()), 2 * args[0].sum(), rtol=1e-12)  # both functions ran


def test_scan_until_equal_numpy_probe_and_while_loop():
    from eqtensor.scan import scan
    from eqtensor.scan.utils import until

    a, x0 = pt.dscalar("a"), pt.dscalar("x0")
    # Newton's iteration for sqrt(a): stops when the step is small (the number of steps depends on a)
    xs = scan(lambda x, a: (x - (x * x - a) / (2 * x), until(pt.abs(x * x - a) < 1e-10 * a)),
              outputs_info=x0, non_sequences=a, n_steps=50, return_updates=False)
    f = _both([a, x0], [xs, xs[-1] * 2], [2.0, 1.0])
    assert f.maker.backend_source and f(9.0, 1.0)[0].shape != f(2.0, 1.0)[0].shape  # histories of other lengths
    np.testing.assert_allclose(np.asarray(f(1e6, 1.0)[1]), 2000.0, rtol=1e-12)
    # only a final state is read (a shared variable updated by the step): one lax.while_loop, no probe
    v = pt.dvector("v")
    totals = {}
    for mode in ("JAX", "NUMPY"):
        total = eqtensor.shared(np.float64(0.0), name="total")
        _, upd = scan(lambda x: ({total: total + x}, until(total + x > 10.0)), sequences=v)
        f = function([v], [], updates=upd, mode=mode)
        f(np.arange(1.0, 9.0))
        totals[mode] = float(np.asarray(total.get_value()))
        if mode == "JAX":
            assert f.maker.backend_source and "probes" not in f.maker.backend_source
    assert totals["JAX"] == totals["NUMPY"] == 15.0  # 1+2+3+4+5: stops after the step passing 10


# ------------------------------------------------------------------------------ random draws
#: (distribution, parameters, keyword arguments): drawn by both backends, compared statistically
DRAWS = [("uniform", (0.5, 2.0), {}), ("normal", (1.0, 2.0), {}), ("halfnormal", (0.0, 1.5), {}),
         ("lognormal", (0.1, 0.3), {}), ("exponential", (2.0,), {}), ("beta", (2.0, 3.0), {}),
         ("triangular", (0.0, 1.0, 3.0), {}), ("pareto", (5.0, 2.0), {}), ("gumbel", (1.0, 2.0), {}),
         ("weibull", (1.5,), {}), ("logistic", (1.0, 2.0), {}), ("laplace", (1.0, 2.0), {}),
         ("cauchy", (0.0, 1.0), {}), ("halfcauchy", (0.0, 1.0), {}), ("invgamma", (5.0, 2.0), {}),
         ("wald", (1.5, 2.0), {}), ("truncexpon", (2.0, 0.5, 1.5), {}), ("t", (5.0, 1.0, 2.0), {}),
         ("gengamma", (2.0, 1.5, 1.2), {}), ("gamma", (2.0,), {"scale": 3.0}), ("poisson", (3.5,), {}),
         ("geometric", (0.3,), {}), ("bernoulli", (0.3,), {}), ("binomial", (10, 0.3), {}),
         ("negative_binomial", (5, 0.4), {}), ("betabinom", (10, 2.0, 3.0), {}), ("integers", (2, 9), {}),
         ("categorical", (np.array([0.2, 0.3, 0.5]),), {}), ("dirichlet", (np.array([1.0, 2.0, 3.0]),), {}),
         ("multinomial", (10, np.array([0.2, 0.3, 0.5])), {}),
         ("multivariate_normal", (np.zeros(2), np.array([[2.0, 0.5], [0.5, 1.0]])), {})]


@pytest.mark.slow
def test_random_draws_follow_numpys_distributions():
    """Each distribution's JAX draws against the NumPy backend's (other numbers, same law): means and
    variances within 5 standard errors (not for the Cauchy laws, which have none), and a two-sample
    Kolmogorov-Smirnov test for the continuous scalar ones. Seeds are fixed: the test is deterministic."""
    from scipy import stats

    from eqtensor.tensor import random as ptr

    n = 20000
    draws = [ptr.__dict__[name](*params, size=(n,), rng=ptr.shared_rng(seed=k), **kw)
             for k, (name, params, kw) in enumerate(DRAWS)]
    got = [np.asarray(v) for v in function([], draws, mode="JAX")()]
    ref = function([], draws, mode="NUMPY")()
    for (name, _, _), a, b in zip(DRAWS, got, ref):
        assert a.dtype == b.dtype and a.shape == b.shape, (name, a.dtype, b.dtype, a.shape, b.shape)
        if a.ndim == 1 and a.dtype.kind == "f":
            assert stats.ks_2samp(a, b).pvalue > 1e-4, name
        if name in ("cauchy", "halfcauchy"):  # no mean: the KS test above
            continue
        se_mean = np.sqrt((a.var(0) + b.var(0)) / n)
        assert np.all(np.abs(a.mean(0) - b.mean(0)) < 5 * se_mean + 1e-12), (name, a.mean(0), b.mean(0))
        se_var = np.sqrt((((a - a.mean(0)) ** 2).var(0) + ((b - b.mean(0)) ** 2).var(0)) / n)
        assert np.all(np.abs(a.var(0) - b.var(0)) < 5 * se_var + 1e-12), (name, a.var(0), b.var(0))


def test_random_reproducible_by_seed_and_advancing():
    from eqtensor.tensor import random as ptr

    r = ptr.shared_rng(seed=1, name="r")
    nxt, x = ptr.normal(0.0, 1.0, size=(5,), rng=r, return_next_rng=True)
    f = function([], x, updates=[(r, nxt)], mode="JAX")
    first, second = np.asarray(f()), np.asarray(f())
    assert not np.array_equal(first, second)  # the update advanced the generator
    assert isinstance(r.get_value(), np.random.Generator)
    r.set_value(seed=1)
    assert np.array_equal(np.asarray(f()), first) and np.array_equal(np.asarray(f()), second)
    r.set_value(seed=2)
    assert not np.array_equal(np.asarray(f()), first)
    g = ptr.rng("g")  # an explicit generator: the input is not advanced, the next one is returned
    nxt_g, y = g.uniform(size=(3,))
    h = function([g], [y, nxt_g], mode="JAX")
    gen = np.random.default_rng(7)
    y1, g1 = h(gen)
    y2, _ = h(gen)
    assert np.array_equal(np.asarray(y1), np.asarray(y2)) and isinstance(g1, np.random.Generator)
    assert not np.array_equal(np.asarray(h(g1)[0]), np.asarray(y1))


def test_random_inside_scan():
    from eqtensor.scan import scan
    from eqtensor.tensor import random as ptr

    def step(mu, prev):
        nxt, x = ptr.normal(mu, 1.0, rng=prev, return_next_rng=True)
        return x, nxt

    mus, r = pt.dvector("mus"), ptr.rng("r")
    (xs, last), _ = scan(step, sequences=mus, outputs_info=[None, r])
    f = function([mus, r], [xs, last], mode="JAX")
    draws, final = f(np.array([0.0, 1000.0, -1000.0] * 400), np.random.default_rng(1))
    draws = np.asarray(draws).reshape(400, 3)
    assert len(np.unique(draws)) == draws.size  # every step drew anew
    np.testing.assert_allclose(draws.mean(0), [0.0, 1000.0, -1000.0], atol=5 / np.sqrt(400))
    np.testing.assert_allclose(draws.std(0), 1.0, atol=0.15)
    assert isinstance(final, np.random.Generator)


def test_shared_state_moves_between_jax_c_and_numpy_functions():
    """A shared variable (and a shared generator) updated by a JAX function holds a jax.Array (a
    NumPy Generator); C and NumPy functions read and update it, and the JAX function reads theirs."""
    from eqtensor.tensor import random as ptr

    w = eqtensor.shared(np.zeros(3), name="w")
    r = ptr.shared_rng(seed=0, name="r")
    x = pt.dvector("x")
    nxt, noise = ptr.normal(0.0, 1.0, size=(3,), rng=r, return_next_rng=True)
    fj = function([x], noise, updates=[(w, w + x), (r, nxt)], mode="JAX")
    others = {mode: function([x], [pt.sum(w * x), noise], updates=[(w, pt.inc_subtensor(w[0], 10.0)), (r, nxt)],
                             mode=mode) for mode in ("C", "NUMPY")}
    expected = np.zeros(3)
    for mode in ("C", "NUMPY", "C"):
        fj(np.arange(3.0))
        expected += np.arange(3.0)
        assert isinstance(w.get_value(borrow=True), jax.Array)
        assert isinstance(r.get_value(), np.random.Generator)
        gen = r.get_value()
        total, draws = others[mode](np.ones(3))
        assert float(total) == expected.sum()
        np.testing.assert_array_equal(draws, gen.normal(0.0, 1.0, size=3))  # the NumPy law of that generator
        expected[0] += 10.0
        np.testing.assert_array_equal(np.asarray(w.get_value()), expected)
        assert isinstance(w.get_value(borrow=True), np.ndarray)
