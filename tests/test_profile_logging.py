"""Feedback to the user: compile logging and ``config.verbose``, per-call profiles
(``function(..., profile=True)``), run-time errors that name the inputs, ``trust_input`` checks."""

from __future__ import annotations

import logging
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import eqtensor
import eqtensor.core.config as config_module
from eqtensor import config, function, shared
from eqtensor import tensor as pt
from eqtensor.backends import c as cbackend
from eqtensor.compile.compiled_function import Function
from eqtensor.compile.profile import ProfileStats
from eqtensor.core.ops.blas import gemm

ROOT = pathlib.Path(__file__).resolve().parent.parent
HAVE_CC = cbackend.compiler_works()
PY_MODES = ["NUMPY", "FAST_COMPILE"]  # the NumPy backend, optimized and not


@pytest.fixture
def always_slow(monkeypatch):
    """Every compile counts as slow (longer than VERBOSE_SECONDS)."""
    monkeypatch.setattr(config_module, "VERBOSE_SECONDS", -1.0)


def _compile_records(caplog):
    return [r for r in caplog.records if r.name == "eqtensor" and hasattr(r, "compile_seconds")]


# ---------------------------------------------------------------- logging
def test_each_compile_is_logged_with_its_phases(caplog):
    caplog.set_level(logging.DEBUG, logger="eqtensor")
    x = pt.dvector("x")
    f = function([x], pt.exp(x) * 2, mode="NUMPY", name="logged")
    (rec,) = _compile_records(caplog)
    assert rec.levelno == logging.DEBUG
    assert {"graph", "optimize", "backend", "function"} <= set(rec.compile_phases)
    assert rec.compile_seconds >= sum(rec.compile_phases.values()) - 1e-6
    msg = rec.getMessage()
    assert "compiled function 'logged'" in msg and "mode NUMPY" in msg and "numpy backend" in msg
    assert "optimize" in msg and "backend" in msg
    np.testing.assert_allclose(f(np.zeros(2)), [2.0, 2.0])


def test_slow_compiles_are_logged_at_info(caplog, always_slow):
    caplog.set_level(logging.INFO, logger="eqtensor")
    x = pt.dvector("x")
    function([x], x + 1, mode="FAST_COMPILE", name="slow")
    (rec,) = _compile_records(caplog)
    assert rec.levelno == logging.INFO


def test_nothing_is_logged_or_printed_by_default(caplog, capsys):
    caplog.set_level(logging.WARNING, logger="eqtensor")
    x = pt.dvector("x")
    function([x], x + 1, mode="FAST_COMPILE")
    assert not _compile_records(caplog)
    assert capsys.readouterr().err == ""


def test_verbose_prints_only_slow_compiles(capsys, monkeypatch):
    x = pt.dvector("x")
    with config.change_flags(verbose=True):
        assert config_module.VERBOSE_HANDLER in logging.getLogger("eqtensor").handlers
        function([x], x + 1, mode="FAST_COMPILE", name="quick")
        assert capsys.readouterr().err == ""  # under a second: quiet
        monkeypatch.setattr(config_module, "VERBOSE_SECONDS", -1.0)
        function([x], x + 2, mode="FAST_COMPILE", name="long")
        err = capsys.readouterr().err
        assert err.startswith("eqtensor: compiled function 'long' in ") and "optimize" in err
        assert err.count("\n") == 1
    assert config_module.VERBOSE_HANDLER not in logging.getLogger("eqtensor").handlers
    function([x], x + 3, mode="FAST_COMPILE", name="after")
    assert capsys.readouterr().err == ""


def test_verbose_flag_is_checked():
    with pytest.raises(ValueError, match="config.verbose must be True or False"):
        config.verbose = "yes"
    assert config.verbose is False


@pytest.mark.parametrize("value, on", [("1", True), ("0", False), ("", False)])
def test_environment_variable_turns_verbose_on(tmp_path, value, on):
    code = textwrap.dedent("""
        import eqtensor, eqtensor.core.config as c
        from eqtensor import tensor as pt
        print(eqtensor.config.verbose)
        c.VERBOSE_SECONDS = -1.0
        x = pt.dvector("x")
        eqtensor.function([x], x * 2, mode="FAST_COMPILE", name="env")
    """)
    env = dict(os.environ, EQTENSOR_VERBOSE=value, EQTENSOR_CACHE_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(on)
    assert ("eqtensor: compiled function 'env'" in res.stderr) == on


# ---------------------------------------------------------------- profiles
@pytest.mark.parametrize("mode", PY_MODES)
def test_profile_on_the_numpy_backend_times_each_node(mode):
    x, W = pt.dmatrix("x"), pt.dmatrix("W")
    expr = pt.tanh(pt.dot(x, W)).sum(axis=1)
    f = function([x, W], expr, mode=mode, profile=True, name="layer")
    plain = function([x, W], expr, mode=mode)
    assert isinstance(f.profile, ProfileStats) and plain.profile is None
    a, w = np.ones((3, 4)), np.full((4, 2), 0.1)
    for _ in range(3):
        np.testing.assert_array_equal(f(a, w), plain(a, w))
    f(np.ones((5, 4)), w)
    p = f.profile
    assert p.calls == 4 and p.errors == 0
    assert p.input_shapes == {((3, 4), (4, 2)): 3, ((5, 4), (4, 2)): 1}
    assert len(p.node_time) == len(f.maker.schedule.nodes) and all(t > 0 for t in p.node_time)
    assert sum(p.node_time) <= p.run_time <= p.call_time
    text = p.summary()
    assert text.startswith("profile of function 'layer' (NumPy backend): 4 calls")
    assert "each statement of the generated code timed" in text and "dot(x, W)" in text
    assert "(3, 4), (4, 2)" in text and "compile:" in text and "optimize" in text
    p.reset()
    assert p.calls == 0 and not p.input_shapes and sum(p.node_time) == 0


@pytest.mark.skipif(not HAVE_CC, reason="no working C compiler")
def test_profile_on_the_c_backend_times_the_call_and_lists_kernels():
    x = pt.dvector("x")
    f = function([x], (pt.exp(x) * 2 + 1).sum(), mode="C", profile=True, name="k")
    f.trust_input = True  # a profiled function keeps the Python call path (it is timed there)
    direct = function([x], x * 2, mode="C", trust_input=True)
    assert isinstance(f, Function) and type(f).__call__ is not type(direct).__call__
    assert float(f(np.zeros(4))) == 12.0
    f(np.zeros(7))
    p = f.profile
    assert p.calls == 2 and p.node_time is None and p.input_shapes == {((4,),): 1, ((7,),): 1}
    text = p.summary()
    assert "(C backend): 2 calls" in text and "per-kernel times: not measured" in text
    assert "kernels" in text or "nodes" in text


def test_profile_counts_errors_updates_and_copies():
    x = pt.dvector("x")
    acc = shared(np.zeros(2), name="acc")
    f = function([x], (x * acc).sum(), updates={acc: acc + x}, mode="NUMPY", profile=True, name="upd")
    f(np.ones(2))
    with pytest.raises(ValueError, match="run-time lengths differ"):
        f(np.ones(3))
    assert f.profile.calls == 2 and f.profile.errors == 1
    np.testing.assert_array_equal(acc.get_value(), [1.0, 1.0])
    g = f.copy()
    g(np.ones(2))
    assert g.profile is not f.profile and g.profile.calls == 1 and f.profile.calls == 2
    assert "1 raised" in f.profile.summary()


def test_errors_in_a_profiled_function_still_name_the_inputs():
    x, W = pt.dmatrix("x"), pt.dmatrix("W")
    f = function([x, W], pt.dot(x, W), mode="NUMPY", profile=True)
    with pytest.raises(ValueError, match=r"dot\(x, W\): x has shape \(2, 4\) and W has shape \(3, 5\)"):
        f(np.ones((2, 4)), np.ones((3, 5)))


# ---------------------------------------------------------------- run-time errors name the inputs
@pytest.mark.parametrize("mode", PY_MODES)
def test_dot_shape_error_names_inputs_and_axes(mode):
    x, W = pt.dmatrix("x"), pt.dmatrix("W")
    f = function([x, W], pt.dot(x, W), mode=mode, name="lin")
    with pytest.raises(ValueError, match=r"(?m)^dot\(x, W\): x has shape \(2, 4\) and W has shape \(3, 5\); axis 1 "
                                         r"of x \(4\) must equal axis 0 of W \(3\)$") as e:
        f(np.ones((2, 4)), np.ones((3, 5)))
    assert any("function 'lin' with x: shape (2, 4) float64, W: shape (3, 5) float64" in n
               for n in e.value.__notes__)
    v = pt.dvector()  # unnamed: named by position
    g = function([x, v], pt.dot(x, v), mode=mode)
    with pytest.raises(ValueError, match=r"axis 1 of x \(4\) must equal axis 0 of input 1 \(3\)"):
        g(np.ones((2, 4)), np.ones(3))


@pytest.mark.parametrize("mode", PY_MODES)
def test_matmul_batch_error_and_intermediate_labels(mode):
    a, b = pt.tensor3("a"), pt.tensor3("b")
    f = function([a, b], pt.matmul(pt.exp(a), b), mode=mode)
    with pytest.raises(ValueError, match=r"matmul\(exp\(a\), b\): .*batch\) dimensions \(2,\) of exp\(a\) and "
                                         r"\(3,\) of b do not broadcast"):
        f(np.ones((2, 2, 3)), np.ones((3, 3, 2)))


def test_gemm_error_is_explained_as_a_formula():
    c, a, b = pt.dmatrix("C"), pt.dmatrix("A"), pt.dmatrix("B")
    f = function([c, a, b], gemm(c, 0.5, a, b, 2.0), mode="FAST_COMPILE")
    with pytest.raises(ValueError, match=r"0.5 \* dot\(A, B\) \+ 2.0 \* C \(one gemm call\): .*axis 1 of A \(3\) "
                                         r"must equal axis 0 of B \(4\)"):
        f(np.ones((2, 2)), np.ones((2, 3)), np.ones((4, 2)))


@pytest.mark.parametrize("mode", PY_MODES)
def test_other_errors_keep_numpys_words_and_add_the_shapes(mode):
    v = pt.dvector("v")
    f = function([v], v.reshape((2, -1)), mode=mode)
    with pytest.raises(ValueError, match=r"reshape.*\(v, .*cannot reshape.*\(v has shape \(5,\)"):
        f(np.ones(5))


@pytest.mark.parametrize("mode", PY_MODES)
def test_broadcast_error_names_intermediates_by_expression(mode):
    a, b = pt.dvector("a"), pt.dvector("b")
    f = function([a, b], pt.exp(a) + b, mode=mode)
    with pytest.raises(ValueError, match=r"add: run-time lengths differ along axis 0 \(exp\(a\): shape \(3,\), "
                                         r"b: shape \(2,\)\)"):
        f(np.ones(3), np.ones(2))


@pytest.mark.parametrize("mode", PY_MODES + (["C"] if HAVE_CC else []))
def test_every_backend_notes_the_argument_shapes(mode):
    x, W = pt.dmatrix("x"), pt.dmatrix("W")
    f = function([x, W], pt.dot(x, W), mode=mode, name="any")
    with pytest.raises(ValueError) as e:
        f(np.ones((2, 4)), np.ones((3, 5)))
    assert any("x: shape (2, 4) float64, W: shape (3, 5) float64" in n for n in e.value.__notes__)


# ---------------------------------------------------------------- trust_input checks the class
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
@pytest.mark.parametrize("mode", PY_MODES + (["C"] if HAVE_CC else []))
def test_trust_input_refuses_array_subclasses_by_name(mode):
    """The Python call path (NumPy backend; several outputs on C) checks ``type(a) is np.ndarray``."""
    x = pt.dmatrix("x")
    f = function([x], [x[0].sum(), x * 2], mode=mode, trust_input=True, name="t")
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match=r"input 0 \(x\) of function 't' must be a numpy.ndarray: trust_input=True "
                                        r"passes arguments unconverted, got numpy.matrix \(a subclass of "
                                        r"numpy.ndarray\)"):
        f(m)
    with pytest.raises(TypeError, match=r"input 0 \(x\) .* got builtins.list"):
        f([[1.0]])
    r = f(np.asarray(m))
    assert float(r[0]) == 3.0
    f.trust_input = False
    assert float(f(m)[0]) == 3.0  # converted


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_trust_input_defaults_are_plain_arrays():
    x, y = pt.dmatrix("x"), pt.dmatrix("y")
    f = function([x, eqtensor.In(y, value=np.matrix([[1.0]]))], x + y, mode="NUMPY", trust_input=True)
    assert type(f(np.ones((1, 1)))) is np.ndarray
