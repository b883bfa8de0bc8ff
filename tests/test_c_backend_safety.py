"""Nothing a caller passes to a C-compiled function may crash the interpreter.

Every check runs before computing, also with ``trust_input=True`` (the C entry point checks
arrays itself). Also: the no-compiler fallback warns once and uses NumPy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import eqtensor
import eqtensor.backends as backends
from eqtensor import function
from eqtensor import tensor as pt
from eqtensor.backends import c as cbackend

pytestmark = pytest.mark.skipif(not cbackend.compiler_works(), reason="no working C compiler")


@pytest.fixture(scope="module")
def fns(tmp_path_factory):
    d = tmp_path_factory.mktemp("eqtensor-c-safety")
    with eqtensor.config.change_flags(cache_dir=str(d)):
        x, y = pt.dmatrix("x"), pt.dmatrix("y")
        r = pt.dmatrix("r", shape=(1, None))
        s3 = pt.dvector("s3", shape=(3,))
        v = pt.dvector("v")
        fadd = function([x, y], pt.exp(x) + y * 2, mode="C")
        frow = function([x, r], (x + r).sum(axis=0), mode="C")
        fstat = function([s3], s3 * 2, mode="C")
        fresh = function([v], v.reshape((2, -1)), mode="C")
        fdot = function([x, y], pt.dot(x, y), mode="C")
        fmax = function([x], x.max(axis=1), mode="C")
        n = pt.lscalar("n")
        falloc = function([v, n], pt.alloc(v, n, n, v.shape[0]), mode="C")
    trusted = {}
    for name, f in dict(fadd=fadd, frow=frow, fstat=fstat, fresh=fresh, fdot=fdot, fmax=fmax, falloc=falloc).items():
        g = f.copy()
        g.trust_input = True
        trusted[name] = g
    return dict(fadd=fadd, frow=frow, fstat=fstat, fresh=fresh, fdot=fdot, fmax=fmax, falloc=falloc), trusted


@pytest.mark.parametrize("trust", [False, True])
def test_wrong_arguments_raise(fns, trust):
    f = fns[trust]
    a = np.ones((2, 3))
    bad_calls = [
        (f["fadd"], (a,), TypeError),
        (f["fadd"], (a, np.ones((2, 4))), ValueError),  # run-time broadcast mismatch
        (f["fadd"], (a, np.ones(3)), TypeError),  # wrong rank
        (f["frow"], (a, np.ones((2, 3))), ValueError),  # static shape (1, ?)
        (f["fstat"], (np.ones(4),), ValueError),  # static length 3
        (f["fresh"], (np.ones(5),), ValueError),  # cannot reshape
        (f["fdot"], (a, a), ValueError),  # not aligned
        (f["fmax"], (np.ones((2, 0)),), ValueError),  # empty max
    ]
    if trust:
        bad_calls += [(f["fadd"], (a, "no"), TypeError), (f["fadd"], (a, a.astype("float32")), TypeError),
                      (f["fadd"], (a, [[1.0]]), TypeError)]
    for fn, args, exc in bad_calls:
        with pytest.raises(exc):
            fn(*args)


def test_layouts_zero_size_unaligned_and_byteswapped(fns):
    f = fns[False]["fadd"]
    base = np.arange(24.0).reshape(4, 6) / 10
    ref = np.exp(base) + base * 2
    np.testing.assert_allclose(f(base, base), ref)
    np.testing.assert_allclose(f(base[::-1, ::-1], base[::-1, ::-1]), ref[::-1, ::-1])
    np.testing.assert_allclose(f(base[:, ::2], base[:, 1::2]), np.exp(base[:, ::2]) + base[:, 1::2] * 2)
    np.testing.assert_allclose(f(np.asfortranarray(base), base), ref)
    assert f(np.zeros((0, 6)), np.zeros((0, 6))).shape == (0, 6)
    assert f(np.zeros((3, 0)), np.zeros((3, 0))).shape == (3, 0)
    raw = np.zeros(24 * 8 + 1, dtype=np.uint8)
    unaligned = raw[1:].view(np.float64).reshape(4, 6)
    unaligned[...] = base
    assert not unaligned.flags.aligned
    np.testing.assert_allclose(fns[True]["fadd"](unaligned, base), ref)
    swapped = base.astype(">f8")
    np.testing.assert_allclose(fns[True]["fadd"](swapped, base), ref)


def test_huge_allocation_is_an_error_not_a_crash(fns):
    with pytest.raises((MemoryError, ValueError)):
        fns[True]["falloc"](np.ones(2), np.array(2**40))  # 2**81 bytes


def test_no_compiler_falls_back_to_numpy_with_one_warning(monkeypatch):
    monkeypatch.setattr(cbackend, "compiler_works", lambda: False)
    monkeypatch.setattr(backends, "_warned_no_compiler", False)
    x = pt.dvector("x")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        f1 = function([x], x + 1, mode="C")
        f2 = function([x], x * 2, mode="C")
    assert [str(w.message) for w in rec if "C compiler" in str(w.message)].__len__() == 1
    assert f1.maker.backend == f2.maker.backend == "numpy"
    np.testing.assert_allclose(f2(np.ones(2)), [2.0, 2.0])
