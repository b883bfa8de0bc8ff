"""Run-time shape errors name the user's variables (or input positions) and their full shapes, on
the C and NumPy backends; a trusted call with an ndarray subclass is a TypeError."""

from __future__ import annotations

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt
from eqtensor.backends.c import compiler_works
from eqtensor.compile.mode import Mode

BACKENDS = ["numpy"] + (["c"] if compiler_works() else [])


def compiled(inputs, output, backend):
    return et.function(inputs, output, mode=Mode(optimize=False, backend=backend))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dot_names_both_operands_and_their_shapes(backend):
    x, W = pt.dmatrix("x"), pt.dmatrix("W")
    f = compiled([x, W], pt.dot(x, W), backend)
    with pytest.raises(ValueError) as e:
        f(np.ones((4, 3)), np.ones((4, 5)))
    msg = str(e.value)
    assert "x" in msg and "W" in msg and "(4, 3)" in msg and "(4, 5)" in msg, msg


@pytest.mark.parametrize("backend", BACKENDS)
def test_broadcast_error_names_operands_and_shapes(backend):
    x, y = pt.dmatrix("x"), pt.dmatrix("y")
    f = compiled([x, y], pt.exp(x) * y + 1, backend)
    with pytest.raises(ValueError) as e:
        f(np.ones((4, 3)), np.ones((4, 5)))
    msg = str(e.value)
    assert "x" in msg and "y" in msg and "(4, 3)" in msg and "(4, 5)" in msg, msg
    np.testing.assert_allclose(f(np.zeros((2, 3)), np.ones((2, 3))), np.full((2, 3), 2.0))  # still works


@pytest.mark.skipif(not compiler_works(), reason="no working C compiler")
def test_unnamed_inputs_are_named_by_position():
    a, b = pt.dvector(), pt.dvector()
    f = compiled([a, b], a + b, "c")
    with pytest.raises(ValueError) as e:
        f(np.ones(3), np.ones(4))
    msg = str(e.value)
    assert "input 0 (shape (3,))" in msg and "input 1 (shape (4,))" in msg, msg


@pytest.mark.skipif(not compiler_works(), reason="no working C compiler")
class Sub(np.ndarray):
    """An ndarray subclass of the user's."""


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
@pytest.mark.parametrize("kind", ["matrix", "subclass"])
def test_trusted_call_with_an_ndarray_subclass_is_a_type_error(kind):
    value = np.matrix(np.ones((2, 3))) if kind == "matrix" else np.ones((2, 3)).view(Sub)
    x, y = pt.dmatrix("x"), pt.dmatrix("y")
    f = compiled([x, y], x[0] + y[0], "c")
    np.testing.assert_allclose(f(value, np.ones((2, 3))), [2.0, 2.0, 2.0])  # checked: converted
    f.trust_input = True
    with pytest.raises(TypeError, match=r"input 0 \(x\) must be a numpy.ndarray, got .*subclass"):
        f(value, np.ones((2, 3)))
    np.testing.assert_allclose(f(np.asarray(value), np.ones((2, 3))), [2.0, 2.0, 2.0])
