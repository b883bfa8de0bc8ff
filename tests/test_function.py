"""``function`` semantics, checked against PyTensor's documented behaviour and NumPy results."""

import functools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import eqtensor as et
from eqtensor import In, Out, UnusedInputError, config, function, shared, tensor as pt
from eqtensor.compile.compiled_function import Function

# every semantic below must hold whatever the optimizer and the backend do
MODES = ["FAST_COMPILE", "NUMPY", "C"]


@pytest.fixture(params=MODES)
def mode(request):
    with config.change_flags(mode=request.param):
        yield request.param


# ---------------------------------------------------------------- outputs: one, many, 0-d
def test_single_output_returns_array_and_list_returns_list(mode):
    a, b = pt.dmatrix("a"), pt.dmatrix("b")
    x = np.arange(6.0).reshape(2, 3)
    y = np.full((2, 3), 0.5)
    r = function([a, b], a + b)(x, y)
    assert isinstance(r, np.ndarray)
    np.testing.assert_array_equal(r, x + y)
    rs = function([a, b], [a - b, abs(a - b), (a - b) ** 2])(x, y)
    assert isinstance(rs, list) and len(rs) == 3
    for got, want in zip(rs, [x - y, np.abs(x - y), (x - y) ** 2]):
        np.testing.assert_allclose(got, want)
    one = function([a, b], [a + b])(x, y)
    assert isinstance(one, list) and len(one) == 1
    np.testing.assert_array_equal(one[0], x + y)
    tup = function([a, b], (a + b, a * b))(x, y)
    assert isinstance(tup, list) and len(tup) == 2
    np.testing.assert_array_equal(tup[1], x * y)


def test_no_outputs_returns_empty_list():
    x = pt.dscalar("x")
    assert function([x], [], on_unused_input="ignore")(1.0) == []
    assert function([x], on_unused_input="ignore")(1.0) == []


def test_scalars_come_back_as_0d_arrays(mode):
    a, b = pt.dscalar("a"), pt.dscalar("b")
    r = function([a, b], a + b, mode=mode)(1.5, 2.0)
    assert type(r) is np.ndarray and r.shape == () and r.dtype == np.float64 and r == 3.5
    v = pt.ivector("v")
    s = function([v], v.sum(), mode=mode)(np.array([1, 2, 3], dtype="int32"))
    assert type(s) is np.ndarray and s.shape == () and s == 6
    both = function([a, b], [a * b, a - b], mode=mode)(2.0, 3.0)
    assert all(type(o) is np.ndarray and o.ndim == 0 for o in both)
    assert [float(o) for o in both] == [6.0, -1.0]


def test_constant_output(mode):
    x = pt.dscalar("x")
    f = function([x], [x + 1, pt.constant(np.array([1.0, 2.0]))])
    r = f(1.0)
    np.testing.assert_array_equal(r[1], [1.0, 2.0])
    r[1][0] = 7.0  # the caller owns the result
    np.testing.assert_array_equal(f(1.0)[1], [1.0, 2.0])


# ---------------------------------------------------------------- In: defaults, names, keywords
def _tutorial_defaults():
    x, y, w = pt.dscalar("x"), pt.dscalar("y"), pt.dscalar("w")
    z = (x + y) * w
    return function([x, In(y, value=1), In(w, value=2, name="w_by_name")], z)


def test_default_values_and_keywords_as_in_the_pytensor_tutorial(mode):
    f = _tutorial_defaults()
    assert f(33) == 68.0
    assert f(33, 2) == 70.0
    assert f(33, 0, 1) == 33.0
    assert f(33, w_by_name=1) == 34.0
    assert f(33, w_by_name=1, y=0) == 33.0


def test_keyword_only_and_mixed_calls():
    f = _tutorial_defaults()
    assert f(x=33) == 68.0
    assert f(y=0, x=33) == 66.0
    assert f(w_by_name=3, x=1, y=1) == 6.0
    assert f(1, 2, w_by_name=3) == 9.0
    # a keyword can fill an input without a default that comes before defaulted ones
    a, b = pt.dscalar("a"), pt.dscalar("b")
    g = function([a, In(b, value=10.0)], a - b)
    assert g(b=1.0, a=5.0) == 4.0
    assert g(5.0) == -5.0


def test_in_name_replaces_variable_name_for_keywords():
    f = _tutorial_defaults()
    with pytest.raises(TypeError, match="unexpected keyword argument 'w'"):
        f(1, w=2)


def test_default_value_is_copied_unless_borrowed():
    x, v = pt.dscalar("x"), pt.dvector("v")
    default = np.array([1.0, 2.0])
    f = function([x, In(v, value=default)], v * x)
    default[0] = 100.0
    np.testing.assert_array_equal(f(2.0), [2.0, 4.0])
    np.testing.assert_array_equal(f(2.0, [1.0, 1.0]), [2.0, 2.0])


def test_default_value_is_validated_at_compile_time():
    i = pt.iscalar("i")
    with pytest.raises(TypeError, match=r"default value of input 0 \(i\).*int32"):
        function([In(i, value=1.5)], i * 2)


def test_out_wrapper():
    x = pt.dvector("x")
    f = function([x], [Out(x * 2), Out(x + 1, borrow=True)])
    r = f([1.0, 2.0])
    np.testing.assert_array_equal(r[0], [2.0, 4.0])
    np.testing.assert_array_equal(r[1], [2.0, 3.0])
    np.testing.assert_array_equal(function([x], Out(x - 1))([1.0]), [0.0])


# ---------------------------------------------------------------- shared variables and updates
def test_shared_get_set_value_copies_unless_borrow():
    init = np.array([1.0, 2.0])
    s = shared(init, name="s")
    init[0] = 50.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])
    got = s.get_value()
    got[1] = 60.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])
    assert s.get_value(borrow=True) is s.get_value(borrow=True)
    new = np.array([3.0, 4.0])
    s.set_value(new)
    new[0] = -1.0
    np.testing.assert_array_equal(s.get_value(), [3.0, 4.0])
    s.set_value(new, borrow=True)
    assert s.get_value(borrow=True) is new
    b = shared(init, borrow=True)
    assert b.get_value(borrow=True) is init


def test_accumulator_from_the_tutorial(mode):
    state = shared(0)
    inc = pt.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)])
    assert accumulator(1) == 0  # the output is computed from the old value
    assert state.get_value() == 1
    assert accumulator(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    assert accumulator(3) == -1
    assert state.get_value() == 2
    decrementor = function([inc], state, updates={state: state - inc})
    assert decrementor(2) == 2
    assert state.get_value() == 0


def test_updates_use_old_values_swap(mode):
    a, b = shared(np.array([1.0, 2.0]), name="a"), shared(np.array([3.0, 4.0]), name="b")
    f = function([], [a, b], updates=[(a, b), (b, a)])
    ra, rb = f()
    np.testing.assert_array_equal(ra, [1.0, 2.0])
    np.testing.assert_array_equal(rb, [3.0, 4.0])
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    f()
    np.testing.assert_array_equal(a.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(b.get_value(), [3.0, 4.0])


def test_updates_chain_reads_old_values(mode):
    a, b = shared(1.0, name="a"), shared(10.0, name="b")
    f = function([], a + b, updates={a: a + 1, b: a * 100})
    assert f() == 11.0
    assert a.get_value() == 2.0 and b.get_value() == 100.0
    assert f() == 102.0
    assert a.get_value() == 3.0 and b.get_value() == 200.0


def test_update_upcast_is_allowed(mode):
    s = shared(np.zeros(2), name="s")  # float64
    k = pt.ivector("k")
    f = function([k], [], updates={s: k})
    f(np.array([1, 2], dtype="int32"))
    assert s.get_value().dtype == np.float64
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])


def test_shared_used_only_in_update_is_an_input(mode):
    s, t = shared(1.0, name="s"), shared(5.0, name="t")
    x = pt.dscalar("x")
    f = function([x], x * 2, updates=[(s, t + x)])
    assert f(1.0) == 2.0
    assert s.get_value() == 6.0
    assert t in f.get_shared() and s in f.get_shared()


@functools.cache
def _int_accumulator():
    state = shared(np.int64(0))
    inc = pt.lscalar("inc")
    return state, function([inc], state * 1, updates=[(state, state + inc)])


@given(st.lists(st.integers(-1000, 1000), max_size=12))
def test_accumulator_property(incs):
    state, acc = _int_accumulator()
    state.set_value(7)
    total = 7
    for i in incs:
        assert acc(i) == total
        total += i
    assert state.get_value() == total


# ---------------------------------------------------------------- givens
def test_givens_replace_shared_without_touching_it(mode):
    state = shared(0)
    inc = pt.iscalar("inc")
    fn_of_state = state * 2 + inc
    foo = pt.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7
    assert state.get_value() == 0


def test_givens_with_expression_and_dict():
    x, y = pt.dvector("x"), pt.dvector("y")
    out = (x * 2).sum()
    f = function([y], out, givens={x: y + 1})
    assert f(np.array([1.0, 2.0])) == 10.0
    g = function([y], out, givens={x: np.array([1.0, 1.0])}, on_unused_input="ignore")
    assert g(np.zeros(3)) == 4.0


# ---------------------------------------------------------------- copy
def _acc():
    state = shared(0.0, name="state")
    inc = pt.dscalar("inc")
    return state, function([inc], state, updates=[(state, state + inc)], name="acc")


def test_copy_has_fresh_shared_state(mode):
    state, f = _acc()
    f(2.0)
    g = f.copy()
    assert g(10.0) == 2.0  # the copy starts from the value at copy time
    assert g(1.0) == 12.0
    assert state.get_value() == 2.0
    assert f(1.0) == 2.0
    assert state.get_value() == 3.0
    assert g.name == "acc" and f.copy(name="acc2").name == "acc2"


def test_copy_share_memory(mode):
    state, f = _acc()
    g = f.copy(share_memory=True)
    g(5.0)
    assert state.get_value() == 5.0
    assert f(1.0) == 5.0
    assert g(0.0) == 6.0


def test_copy_swap_and_delete_updates(mode):
    state, f = _acc()
    other = shared(100.0, name="other")
    g = f.copy(swap={state: other})
    assert g(1.0) == 100.0
    assert other.get_value() == 101.0 and state.get_value() == 0.0
    h = f.copy(share_memory=True, delete_updates=True)
    assert h(5.0) == 0.0
    assert state.get_value() == 0.0
    with pytest.raises(TypeError, match="same type"):
        f.copy(swap={state: shared(np.zeros(2))})
    with pytest.raises(ValueError, match="not a shared variable used by function 'acc'"):
        f.copy(swap={other: shared(1.0)})


def test_copy_keeps_trust_input_and_defaults():
    x, y = pt.dscalar("x"), pt.dscalar("y")
    f = function([x, In(y, value=3.0)], x * y)
    f.trust_input = True
    g = f.copy()
    assert g.trust_input
    assert g(np.array(2.0)) == 6.0


# ---------------------------------------------------------------- trust_input, maker, modes
def test_trust_input_gives_same_results_and_still_binds_arguments(mode):
    x, y = pt.dvector("x"), pt.dscalar("y")
    f = function([x, In(y, value=2.0)], x * y, trust_input=True)
    assert f.trust_input
    v = np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(v, np.array(3.0)), [3.0, 6.0])
    np.testing.assert_array_equal(f(v), [2.0, 4.0])
    np.testing.assert_array_equal(f(x=v, y=np.array(0.5)), [0.5, 1.0])
    f.trust_input = False
    np.testing.assert_array_equal(f([1, 2], 3), [3.0, 6.0])


def test_trusted_c_function_is_called_straight_in_c():
    import gc
    import weakref

    x, y = pt.dvector("x"), pt.dscalar("y")
    f = function([x, In(y, value=2.0)], x * y, mode="C")
    assert type(f).__call__ is Function.__call__
    f.trust_input = True
    assert type(f).__call__ is not Function.__call__ and isinstance(f, Function)
    assert type(type(f).__dict__["__call__"].__func__).__name__ == "builtin_function_or_method"
    v = np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(v, np.array(3.0)), [3.0, 6.0])
    np.testing.assert_array_equal(f(v), [2.0, 4.0])  # defaults and keywords go through Python
    np.testing.assert_array_equal(f(x=v, y=np.array(0.5)), [0.5, 1.0])
    with pytest.raises(TypeError, match="input 0 .* must be a numpy.ndarray|ndarray"):
        f([1.0, 2.0], np.array(3.0))  # the C entry still checks what it relies on
    with pytest.raises(TypeError, match="takes 2 argument"):
        f(v, np.array(3.0), v)
    g = f.copy()
    np.testing.assert_array_equal(g(v, np.array(3.0)), [3.0, 6.0])
    f.trust_input = False
    assert type(f) is Function
    np.testing.assert_array_equal(f([1, 2], 3), [3.0, 6.0])
    f.trust_input = True
    ref = weakref.ref(f)
    del f, g
    gc.collect()
    assert ref() is None  # the per-function class and C callable do not keep it alive


def test_trusted_call_keeps_python_semantics_where_it_must():
    """Several outputs, shared variables and output dicts keep the Python runner."""
    x = pt.dvector("x")
    s = shared(np.zeros(2), name="s")
    fs = [function([x], [x * 2, x + 1], mode="C"), function([x], x * 2, updates={s: s + x}, mode="C"),
          function([x], {"a": x * 2}, mode="C")]
    for f in fs:
        f.trust_input = True
        assert type(f) is Function
    v = np.array([1.0, 2.0])
    assert [list(r) for r in fs[0](v)] == [[2.0, 4.0], [2.0, 3.0]]
    fs[1](v)
    np.testing.assert_array_equal(s.get_value(), v)
    assert list(fs[2](v)["a"]) == [2.0, 4.0]


def test_maker_exposes_graphs_and_source():
    x = pt.dvector("x")
    s = shared(np.zeros(2), name="s")
    f = function([x], x.sum(), updates={s: s + x}, mode="NUMPY")
    fg = f.maker.fgraph
    assert fg.inputs[: fg.n_explicit] == [x]
    assert fg.shared_inputs == [s]
    assert fg.n_outputs == 1 and len(fg.outputs) == 2
    assert fg.update_targets == [s]
    assert f.maker.original_fgraph.outputs[0].owner.op.name == "sum"
    assert "def thunk" in f.maker.backend_source
    assert set(f.maker.timings) == {"optimize", "backend"} and all(t >= 0 for t in f.maker.timings.values())
    assert f.maker.mode.name == "NUMPY"


def test_config_mode_is_the_default():
    x = pt.dscalar("x")
    with config.change_flags(mode="FAST_COMPILE"):
        f = function([x], x + 1)
    assert f.maker.mode.name == "FAST_COMPILE"
    assert f.optimization_report() is None
    assert f(1.0) == 2.0
    g = function([x], x + 1)
    assert g.maker.mode.name == config.mode


# ---------------------------------------------------------------- no aliasing
def test_identity_returns_a_copy(mode):
    x = pt.dvector("x")
    v = np.array([1.0, 2.0])
    r = function([x], x)(v)
    assert not np.shares_memory(r, v)
    r[0] = 9.0
    assert v[0] == 1.0


def test_view_outputs_do_not_alias_inputs(mode):
    m = pt.dmatrix("m")
    v = np.arange(6.0).reshape(2, 3)
    t, flat = function([m], [m.T, m.reshape((6,))])(v)
    np.testing.assert_array_equal(t, v.T)
    assert not np.shares_memory(t, v) and not np.shares_memory(flat, v)


def test_output_listed_twice_gives_independent_arrays(mode):
    x = pt.dvector("x")
    y = pt.exp(x)
    a, b = function([x], [y, y])(np.zeros(3))
    assert not np.shares_memory(a, b)
    a[0] = 5.0
    np.testing.assert_array_equal(b, np.ones(3))


def test_outputs_never_alias_shared_storage(mode):
    s = shared(np.array([1.0, 2.0]), name="s")
    x = pt.dvector("x")
    f = function([x], [s, s * 1.0, x], updates={s: x})
    got_s, got_s1, got_x = f(np.array([5.0, 6.0]))
    got_s[:] = -1.0
    got_s1[:] = -1.0
    got_x[:] = -1.0
    np.testing.assert_array_equal(s.get_value(), [5.0, 6.0])
    got2 = f(np.array([7.0, 8.0]))
    np.testing.assert_array_equal(got2[0], [5.0, 6.0])
    np.testing.assert_array_equal(s.get_value(), [7.0, 8.0])


def test_update_value_does_not_alias_returned_output(mode):
    s = shared(np.zeros(2), name="s")
    x = pt.dvector("x")
    y = x * 2
    f = function([x], y, updates={s: y})
    r = f(np.array([1.0, 2.0]))
    r[:] = 0.0
    np.testing.assert_array_equal(s.get_value(), [2.0, 4.0])


def test_mutating_results_does_not_change_later_results(mode):
    x = pt.dvector("x")
    c = pt.constant(np.array([1.0, 2.0]))
    f = function([x], [x + c, c])
    r1 = f(np.zeros(2))
    r1[0][:] = 100.0
    r1[1][:] = 100.0
    r2 = f(np.zeros(2))
    np.testing.assert_array_equal(r2[0], [1.0, 2.0])
    np.testing.assert_array_equal(r2[1], [1.0, 2.0])


# ---------------------------------------------------------------- on_unused_input, downcast
def test_on_unused_input():
    x, y = pt.dscalar("x"), pt.dscalar("y")
    with pytest.raises(UnusedInputError, match=r"input 1 \(y\)"):
        function([x, y], x * 2)
    with pytest.warns(UserWarning, match=r"input 1 \(y\) is not used"):
        f = function([x, y], x * 2, on_unused_input="warn")
    assert f(2.0, 100.0) == 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = function([x, y], x * 2, on_unused_input="ignore")
    assert g(3.0, 1.0) == 6.0
    with config.change_flags(on_unused_input="ignore"):
        assert function([x, y], x)(1.0, 2.0) == 1.0


def test_allow_input_downcast():
    v = pt.fvector("v")
    f = function([v], v * 2, allow_input_downcast=True)
    r = f(np.array([0.1, 0.2]))
    assert r.dtype == np.float32
    np.testing.assert_array_equal(r, np.array([0.1, 0.2], dtype=np.float32) * 2)
    i = pt.iscalar("i")
    assert function([i], i + 1, allow_input_downcast=True)(2.9) == 3  # truncation, as NumPy's astype
    with pytest.raises(TypeError, match="lose information"):
        function([v], v * 2)(np.array([0.1, 0.2]))
    with pytest.raises(TypeError, match="lose information"):
        function([v], v * 2, allow_input_downcast=False)(np.array([0.1]))


def test_python_float_into_floatx_input():
    s = pt.fscalar("s")
    # default (None): a Python float is accepted for a floatX input
    with config.change_flags(floatX="float32"):
        f = function([s], s * 2)
        assert f(0.1) == np.float32(0.1) * 2
    g = function([s], s * 2, allow_input_downcast=False)
    with config.change_flags(floatX="float32"):
        with pytest.raises(TypeError, match="lose information"):
            g(0.1)
    assert g(0.5) == 1.0  # exact values are always accepted


def test_safe_and_exact_values_are_accepted():
    d, i = pt.dvector("d"), pt.ivector("i")
    np.testing.assert_array_equal(function([d], d + 0)([1, 2]), [1.0, 2.0])
    np.testing.assert_array_equal(function([d], d + 0)(np.array([1, 2], dtype="int32")), [1.0, 2.0])
    np.testing.assert_array_equal(function([i], i + 0)([1.0, 2.0]), [1, 2])
    assert function([d], d + 0)(np.array([1.0], dtype=">f8")).dtype == np.float64


def test_non_contiguous_and_readonly_inputs(mode):
    m = pt.dmatrix("m")
    v = np.arange(12.0).reshape(3, 4)[:, ::2]
    ro = np.arange(4.0).reshape(2, 2)
    ro.setflags(write=False)
    f = function([m], pt.exp(m) + m)
    np.testing.assert_allclose(f(v), np.exp(v) + v)
    np.testing.assert_allclose(f(ro), np.exp(ro) + ro)


def test_input_named_self_can_be_passed_by_keyword():
    s = pt.dscalar("self")
    assert function([s], s * 2)(self=2.0) == 4.0


def test_public_faces():
    assert et.function is function and et.In is In and et.Out is Out and et.shared is shared
    from eqtensor.compile import function as cf

    assert cf is function


def test_config_flags_are_validated_and_restored():
    before = (config.mode, config.floatX)
    for flag, value, match in [("mode", "BOGUS", "unknown mode 'BOGUS'"), ("floatX", "float16", "floatX must be"),
                               ("on_unused_input", "loud", "on_unused_input must be"),
                               ("unknown_dim_size", 0, "positive int")]:
        with pytest.raises(ValueError, match=match):
            setattr(config, flag, value)
    with pytest.raises(AttributeError, match="no flag 'floatx'"):
        config.floatx = "float32"
    with pytest.raises(RuntimeError):
        with et.change_flags(mode="FAST_COMPILE", floatX="float32"):
            assert pt.dscalar().dtype == "float64" and pt.scalar().dtype == "float32"
            raise RuntimeError
    assert (config.mode, config.floatX) == before


def test_copy_of_a_copy_without_updates_reads_the_copys_state(mode):
    state, f = _acc()
    g = f.copy()
    g(7.0)
    h = g.copy(share_memory=True, delete_updates=True)
    assert h(1.0) == 7.0
    assert state.get_value() == 0.0
    g(1.0)
    assert h(0.0) == 8.0


def test_python_float_default_for_floatx_input():
    s = pt.fscalar("s")
    with config.change_flags(floatX="float32"):
        f = function([In(s, value=0.1)], s * 1)
    assert f() == np.float32(0.1)
    with pytest.raises(TypeError, match="lose information"):
        function([In(s, value=0.1)], s * 1, allow_input_downcast=False)


def test_array_subclasses_are_computed_as_plain_arrays(mode):
    a, b = pt.dmatrix("a"), pt.dmatrix("b")
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    r = function([a, b], a * b)(m, m)
    assert type(r) is np.ndarray
    np.testing.assert_array_equal(r, np.asarray(m) * np.asarray(m))  # elementwise, not a matrix product


def test_python_scalars_in_updates_and_givens_take_the_target_dtype():
    f32 = shared(np.float32(1.0), name="f32")
    i8 = shared(np.int8(1), name="i8")
    function([], [], updates={f32: 0.1, i8: 5})()
    assert f32.get_value().dtype == np.float32 and f32.get_value() == np.float32(0.1)
    assert i8.get_value().dtype == np.int8 and i8.get_value() == 5
    with pytest.raises(TypeError, match=r"update of i8 \(dtype int8\) has dtype float64"):
        function([], [], updates={i8: 1.5})
    with pytest.raises(OverflowError, match="300 is out of bounds for int8"):
        function([], [], updates={i8: 300})
    s = pt.fscalar("s")
    assert function([], s * 2, givens={s: 0.5})().dtype == np.float32


@functools.cache
def _four_inputs(with_default):
    xs = [pt.dscalar(f"x{k}") for k in range(4)]
    ins = [In(x, value=float(-(k + 1))) if d else x for k, (x, d) in enumerate(zip(xs, with_default))]
    return function(ins, xs[0] + 10 * xs[1] + 100 * xs[2] + 1000 * xs[3])


@given(st.tuples(*[st.booleans()] * 4), st.integers(0, 4), st.lists(st.sampled_from(["kw", "omit"]), min_size=4,
                                                                    max_size=4), st.randoms())
def test_positional_keyword_and_default_binding(with_default, n_pos, rest, rnd):
    f = _four_inputs(with_default)
    values = [float(k + 1) for k in range(4)]
    kwargs, expected, missing = {}, [], None
    for k in range(4):
        if k < n_pos or rest[k] == "kw":
            expected.append(values[k])
            if k >= n_pos:
                kwargs[f"x{k}"] = values[k]
        elif with_default[k]:
            expected.append(-(k + 1.0))
        else:
            expected.append(None)
            missing = k if missing is None else missing
    items = list(kwargs.items())
    rnd.shuffle(items)
    if missing is not None:
        with pytest.raises(TypeError, match=rf"missing a value for input {missing} \(x{missing}\)"):
            f(*values[:n_pos], **dict(items))
    else:
        assert f(*values[:n_pos], **dict(items)) == sum(v * 10 ** k for k, v in enumerate(expected))


_CANDIDATES = [
    lambda x, s: x, lambda x, s: x.T, lambda x, s: x * 2, lambda x, s: s, lambda x, s: s.T,
    lambda x, s: (x * 2).T, lambda x, s: x.reshape((6,)), lambda x, s: s + x,
]
_UPDATES = [lambda x, s: x, lambda x, s: x * 2, lambda x, s: s * 1, lambda x, s: s + x, lambda x, s: s]


@settings(max_examples=15)
@given(st.lists(st.integers(0, len(_CANDIDATES) - 1), min_size=1, max_size=4),
       st.integers(0, len(_UPDATES) - 1), st.sampled_from(MODES))
def test_no_output_aliases_inputs_shared_values_or_other_outputs(picks, upd, mode):
    x = pt.dmatrix("x")
    s = shared(np.arange(6.0).reshape(2, 3), name="s")
    f = function([x], [_CANDIDATES[k](x, s) for k in picks], updates={s: _UPDATES[upd](x, s)}, mode=mode,
                 on_unused_input="ignore")
    xv = np.full((2, 3), 10.0)
    old = s.get_value(borrow=True)
    outs = f(xv)
    new = s.get_value(borrow=True)
    assert len(outs) == len(picks)
    for i, o in enumerate(outs):
        assert not np.shares_memory(o, xv) and not np.shares_memory(o, old) and not np.shares_memory(o, new)
        for p in outs[i + 1:]:
            assert not np.shares_memory(o, p)
    assert not np.shares_memory(new, xv)
    snapshot = new.copy()
    for o in outs:
        o[...] = -1.0
    np.testing.assert_array_equal(s.get_value(), snapshot)
    np.testing.assert_array_equal(xv, np.full((2, 3), 10.0))


def test_dict_of_outputs_returns_a_dict(mode):
    x = pt.dvector("x")
    s = shared(0.0, name="s")
    f = function([x], {"total": x.sum(), "double": x * 2, "acc": s}, updates={s: s + x.sum()})
    assert f.output_keys == ("acc", "double", "total")
    r = f(np.array([1.0, 2.0]))
    assert isinstance(r, dict) and list(r) == ["acc", "double", "total"]
    assert r["total"] == 3.0 and r["acc"] == 0.0
    np.testing.assert_array_equal(r["double"], [2.0, 4.0])
    g = f.copy()
    assert g(np.array([1.0]))["acc"] == 3.0 and s.get_value() == 3.0
    with pytest.raises(TypeError, match="keys of a dict of outputs must be strings"):
        function([x], {1: x})
