"""Every user mistake gives a Python exception whose message names the culprit and what was expected."""

import functools

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from eqtensor import In, MissingInputError, UnusedInputError, function, shared, tensor as pt


@pytest.fixture
def f():
    x, y = pt.dvector("x"), pt.dmatrix("y")
    return function([x, y], x + y, name="f")


# ---------------------------------------------------------------- arguments
def test_too_many_arguments(f):
    with pytest.raises(TypeError, match=r"function 'f' takes 2 argument\(s\) \(x, y\), got 3"):
        f(np.ones(3), np.ones((2, 3)), 1)


def test_missing_argument(f):
    with pytest.raises(TypeError, match=r"function 'f' is missing a value for input 1 \(y\), which has no default"):
        f(np.ones(3))


def test_unknown_keyword(f):
    with pytest.raises(TypeError, match=r"function 'f' got an unexpected keyword argument 'z' \(its inputs are x, y\)"):
        f(np.ones(3), z=1)


def test_duplicate_value(f):
    with pytest.raises(TypeError, match=r"function 'f' got multiple values for input 0 \(x\)"):
        f(np.ones(3), np.ones((2, 3)), x=np.ones(3))


def test_ambiguous_keyword():
    a, b = pt.dscalar("a"), pt.dscalar("a")
    g = function([a, b], a - b)
    assert g(3.0, 1.0) == 2.0
    with pytest.raises(TypeError, match="'a' is ambiguous"):
        g(a=1.0, b=2.0)


def test_unnamed_function_and_input_labels():
    x = pt.dvector()
    g = function([x], x * 2)
    with pytest.raises(TypeError, match=r"input 0 \(<float64\[\?\]>\) of function expects dtype float64"):
        g("abc")


def test_trust_input_still_checks_the_argument_count(f):
    f.trust_input = True
    with pytest.raises(TypeError, match=r"missing a value for input 1 \(y\)"):
        f(np.ones(3))


# ---------------------------------------------------------------- values
def test_wrong_ndim(f):
    with pytest.raises(TypeError, match=r"input 0 \(x\) of function 'f'.*expected 1 dim.*got 2 \(shape \(3, 3\)\)"):
        f(np.ones((3, 3)), np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"input 1 \(y\) of function 'f'.*expected 2 dim.*got 0"):
        f(np.ones(3), 1.0)


def test_lossy_float_downcast_is_refused():
    v = pt.fvector("v")
    g = function([v], v * 2, name="g")
    with pytest.raises(TypeError, match=r"input 0 \(v\) of function 'g' expects dtype float32; casting a value "
                                        r"of dtype float64 would lose information.*allow_input_downcast=True"):
        g(np.array([0.1, 0.2]))
    np.testing.assert_allclose(function([v], v * 2, allow_input_downcast=True)(np.array([0.1])),
                               np.float32(0.2))


@pytest.mark.parametrize("value", [1.5, np.float64(2.5), np.nan, 2**40, [1, 2.5]])
def test_lossy_scalar_into_int_input_is_refused(value):
    i = pt.ivector("i") if isinstance(value, list) else pt.iscalar("i")
    h = function([i], i * 2, name="h")
    with pytest.raises(TypeError, match=r"input 0 \(i\) of function 'h' expects dtype int32"):
        h(value)


def test_exact_python_values_are_accepted():
    d, i, f32 = pt.dscalar("d"), pt.iscalar("i"), pt.fscalar("s")
    assert function([d], d * 2)(3) == 6.0
    assert function([i], i * 2)(3.0) == 6
    assert function([i], i * 2)(True) == 2
    assert function([f32], f32 * 2)(0.5).dtype == np.float32
    assert function([d], d * 2)(np.int32(4)) == 8.0


def test_static_shape_mismatch():
    st_ = pt.tensor("st", dtype="float64", shape=(None, 3))
    k = function([st_], st_ * 2, name="k")
    with pytest.raises(ValueError, match=r"input 0 \(st\) of function 'k': expected static shape \(None, 3\), "
                                         r"got shape \(2, 4\)"):
        k(np.ones((2, 4)))
    np.testing.assert_array_equal(k(np.ones((5, 3))), np.full((5, 3), 2.0))


@pytest.mark.parametrize("value, what", [
    ("abc", "dtype <U3"), (None, "dtype object"), (object(), "dtype object"), ({1: 2}, "dtype object"),
    ([[1, 2], [3]], "not array-like"), (np.array([1 + 2j]), "complex128 would lose information"),
    (b"xy", "dtype |S2"),
])
def test_non_array_values(f, value, what):
    with pytest.raises(TypeError, match=r"input 0 \(x\) of function 'f'") as e:
        f(value, np.ones((2, 3)))
    assert what in str(e.value)


def test_symbolic_value_is_refused(f):
    x = pt.dvector("x")
    with pytest.raises(TypeError, match=r"input 0 \(x\) of function 'f' got a symbolic variable"):
        f(x, np.ones((2, 3)))


@functools.cache
def _double():
    x = pt.dvector("x")
    return function([x], x * 2, name="g")


@given(st.one_of(
    st.none(), st.text(max_size=3), st.floats(), st.integers(-2**70, 2**70), st.complex_numbers(),
    st.lists(st.one_of(st.floats(), st.integers(-5, 5), st.lists(st.floats(), max_size=2)), max_size=3),
    hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)),
))
def test_any_value_gives_a_result_or_a_clear_error(value):
    g = _double()
    try:
        r = g(value)
    except (TypeError, ValueError) as e:
        assert "input 0 (x) of function 'g'" in str(e)
    else:
        assert r.dtype == np.float64 and r.ndim == 1
        np.testing.assert_array_equal(r, np.asarray(value, dtype=np.float64) * 2)


def test_default_value_of_the_wrong_type():
    v = pt.dvector("v")
    with pytest.raises(TypeError, match=r"default value of input 0 \(v\).*expected 1 dim"):
        function([In(v, value=1.0)], v)


# ---------------------------------------------------------------- run-time broadcasting
def test_runtime_broadcast_mismatch_names_op_inputs_and_shapes():
    a, b = pt.dvector("a"), pt.dvector("b")
    g = function([a, b], a + b, name="bc", mode="NUMPY")
    with pytest.raises(ValueError, match=r"add: run-time lengths differ along axis 0 \(a: shape \(3,\), "
                                         r"b: shape \(1,\)\).*static length 1") as e:
        g(np.ones(3), np.ones(1))
    assert any("function 'bc'" in n for n in getattr(e.value, "__notes__", []))
    # declared broadcastable: fine
    c = pt.tensor("c", dtype="float64", shape=(1,))
    np.testing.assert_array_equal(function([a, c], a + c)(np.ones(3), np.full(1, 2.0)), np.full(3, 3.0))


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMPY", "C"])
def test_runtime_broadcast_mismatch_on_every_backend(mode):
    a, b = pt.dvector("a"), pt.dvector("b")
    g = function([a, b], pt.exp(a) + b, mode=mode, name="bc")
    with pytest.raises(ValueError, match=r"add: run-time lengths differ along axis 0 .*3.*1.*static length 1") as e:
        g(np.ones(3), np.ones(1))
    assert any("function 'bc'" in n for n in getattr(e.value, "__notes__", []))
    np.testing.assert_allclose(g(np.zeros(2), np.ones(2)), [2.0, 2.0])


def test_runtime_length_mismatch_2d():
    m, n = pt.dmatrix("m"), pt.dmatrix("n")
    g = function([m, n], m * n, mode="NUMPY")
    with pytest.raises(ValueError, match=r"mul: run-time lengths differ along axis 1 .*m: shape \(2, 3\).*"
                                         r"n: shape \(2, 1\)"):
        g(np.ones((2, 3)), np.ones((2, 1)))


# ---------------------------------------------------------------- building the function
def test_missing_input():
    a, y = pt.dvector("a"), pt.dmatrix("y")
    with pytest.raises(MissingInputError, match=r"needs the input y \(float64\[\?, \?\]\), used to compute "
                                                r"add\(.*\), which is not in the inputs list \[a\]"):
        function([a], a + y)


def test_unused_input():
    a, b = pt.dvector("a"), pt.dvector("b")
    with pytest.raises(UnusedInputError, match=r"input 1 \(b\) is not used.*on_unused_input="):
        function([a, b], a * 2)
    with pytest.raises(UnusedInputError, match=r"function 'named': input 0 \(a\)"):
        function([a, b], b * 2, name="named")


@pytest.mark.parametrize("inputs, match", [
    ("x", "inputs must be a list of variables, even for a single input"),
    (["+"], r"input 0: In\(\) wraps a symbolic input variable .* not '\+' \(str\)"),
    ([3], r"input 0: In\(\) wraps a symbolic input variable .* not 3 \(int\)"),
])
def test_bad_inputs_list(inputs, match):
    x = pt.dvector("x")
    with pytest.raises(TypeError, match=match):
        function(x if inputs == "x" else inputs, x)


def test_bad_inputs_expression_shared_duplicate():
    x = pt.dvector("x")
    with pytest.raises(TypeError, match=r"input 0: In\(\) wraps .* not the expression add\(x, 1.0\)"):
        function([x + 1], x)
    s = shared(np.zeros(2), name="s")
    with pytest.raises(TypeError, match=r"input 0 \(s\) is a shared variable.*givens="):
        function([s], x)
    with pytest.raises(ValueError, match=r"input 1 \(x\) is listed twice"):
        function([x, x], x)
    with pytest.raises(TypeError, match="not the constant 1.0"):
        function([pt.constant(1.0)], x)


def test_bad_outputs():
    x = pt.dvector("x")
    with pytest.raises(TypeError, match="output 0 is not a tensor expression"):
        function([x], "foo")
    with pytest.raises(TypeError, match="output 1 is not a tensor expression"):
        function([x], [x, None])


def test_bad_updates():
    a = pt.dvector("a")
    s = shared(np.zeros(3), name="s")
    with pytest.raises(TypeError, match="update target a is not a shared variable"):
        function([a], a, updates={a: a})
    with pytest.raises(TypeError, match=r"update of s \(float64\[\?\]\) has 0 dimension\(s\).*expected 1"):
        function([a], a, updates={s: a.sum()})
    i = pt.iscalar("i")
    small = shared(np.int8(1), name="small")
    with pytest.raises(TypeError, match=r"update of small \(dtype int8\) has dtype int32.*astype\('int8'\)"):
        function([i], i, updates={small: i})
    with pytest.raises(TypeError, match="updates must be a dict or a list of"):
        function([a], a, updates=[s, a])
    with pytest.raises(ValueError, match="s has more than one update"):
        function([a], a, updates=[(s, a), (s, a)])
    fixed = shared(np.zeros(3), name="fixed", shape=(3,))
    with pytest.raises(ValueError, match=r"static shape \(2,\), incompatible with fixed's static shape \(3,\)"):
        function([], [], updates={fixed: pt.constant(np.zeros(2))})


def test_update_of_wrong_runtime_shape_is_refused_and_nothing_is_stored():
    a = pt.dvector("a")
    fixed = shared(np.zeros(3), name="fixed", shape=(3,))
    other = shared(np.zeros(2), name="other")
    g = function([a], [], updates=[(other, a * 0 + 1), (fixed, a)], name="upd")
    with pytest.raises(ValueError, match=r"function 'upd': the update of shared variable fixed does not fit it: "
                                         r"expected static shape \(3,\), got shape \(2,\)"):
        g(np.ones(2))
    np.testing.assert_array_equal(fixed.get_value(), np.zeros(3))
    np.testing.assert_array_equal(other.get_value(), np.zeros(2))
    g(np.full(3, 2.0))
    np.testing.assert_array_equal(fixed.get_value(), np.full(3, 2.0))


def test_bad_givens():
    a, y = pt.dvector("a"), pt.dmatrix("y")
    with pytest.raises(TypeError, match=r"givens: cannot replace a \(float64\[\?\]\) by y .*must match"):
        function([a], a, givens={a: y})
    c = pt.tensor("c", dtype="float64", shape=(3,))
    with pytest.raises(ValueError, match="static shapes differ"):
        function([a], c * 2, givens={c: pt.constant(np.zeros(2))}, on_unused_input="ignore")
    with pytest.raises(TypeError, match="givens must be a dict or a list of"):
        function([a], a, givens=[a])


def test_bad_mode_and_flags():
    a = pt.dvector("a")
    with pytest.raises(ValueError, match="unknown mode 'BOGUS'"):
        function([a], a, mode="BOGUS")
    with pytest.raises(ValueError, match="on_unused_input must be 'raise', 'warn' or 'ignore', got 'bogus'"):
        function([a], a, on_unused_input="bogus")


def test_in_misuse():
    x = pt.dvector("x")
    with pytest.raises(TypeError, match="In\\(name=\\) must be a string"):
        In(x, name=3)
    with pytest.raises(TypeError, match="the update must have the input's number of dimensions"):
        In(x, value=np.zeros(2), update=pt.dmatrix("m"))
