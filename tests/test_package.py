"""The package as users install it: metadata, a plain install (no test extra), import time.

A plain ``pip install eqtensor`` has no mpmath (the test extra): compiling and running must not
need it. ``import eqtensor`` must not load SciPy (most of its import time): SciPy is loaded by the
first node that runs one of its functions.
"""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import pickle
import re
import subprocess
import sys
import textwrap
import tomllib

import numpy as np
import pytest
import scipy.special

import eqtensor
from eqtensor import tensor as pt
from eqtensor.backends import c as cbackend
from eqtensor.core.op import OPS, Op, dtype_by_numpy
from eqtensor.core.ops.elemwise import TABLE, special_float

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


_NO_MPMATH = """
import sys
sys.modules["mpmath"] = None  # as in a plain install: `import mpmath` raises ImportError
"""


def _run(code: str, tmp_path, timeout=300) -> str:
    """Run ``code`` without mpmath in a fresh interpreter (own cache directory); return its stdout."""
    env = dict(os.environ, EQTENSOR_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("EQTENSOR_VERBOSE", None)
    res = subprocess.run([sys.executable, "-c", _NO_MPMATH + textwrap.dedent(code)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"subprocess failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout


# ---------------------------------------------------------------- metadata
def test_version_has_one_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "eqtensor.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", eqtensor.__version__)
    installed = importlib.metadata.version("eqtensor")  # the metadata pip wrote from the same attribute
    assert installed == eqtensor.__version__, "reinstall (pip install -e .) after changing the version"


def test_license_and_metadata():
    project = PYPROJECT["project"]
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Copyright (c) 2026, the eqtensor developers" in text
    # PEP 639: the SPDX expression replaces license classifiers (setuptools refuses both)
    assert not any(c.startswith("License ::") for c in project["classifiers"])
    assert project["authors"] and project["description"] and project["readme"] == "README.md"
    assert int(re.search(r"setuptools>=(\d+)", " ".join(PYPROJECT["build-system"]["requires"])).group(1)) >= 77
    for url in project.get("urls", {}).values():  # real addresses only, no placeholders
        assert "example" not in url and "TODO" not in url


def test_sdist_carries_docs_tests_and_benchmarks():
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    for folder in ("docs", "tests", "benchmarks"):
        assert ("graft", folder) in zip(manifest, manifest[1:]), f"MANIFEST.in does not graft {folder}/"


# ---------------------------------------------------------------- plain install
@pytest.mark.slow
def test_compiles_and_runs_without_mpmath(tmp_path):
    out = _run("""
    import numpy as np, scipy.special
    import eqtensor as et
    from eqtensor import tensor as pt
    from eqtensor.backends import c

    x, W, b = pt.dvector("x"), pt.dmatrix("W"), pt.dvector("b")
    # a stability rewrite (softplus), a BLAS rule (gemv), special functions (SciPy, loaded lazily)
    expr = pt.log(1 + pt.exp(pt.dot(W, x) + b)) + pt.erf(x).sum() + pt.sigmoid(b)
    xv, Wv, bv = np.array([0.5, -1.0, 800.0]), np.arange(6.0).reshape(2, 3) / 10, np.array([0.1, -0.2])
    z = Wv @ xv + bv
    ref = np.logaddexp(0, z) + scipy.special.erf(xv).sum() + scipy.special.expit(bv)
    modes = ["NUMPY", "FAST_COMPILE"] + (["FAST_RUN"] if c.compiler_works() else [])
    for mode in modes:
        f = et.function([x, W, b], expr, mode=mode)
        np.testing.assert_allclose(f(xv, Wv, bv), ref, rtol=1e-12)
        print(mode, f.maker.backend)
    assert sys.modules["mpmath"] is None
    """, tmp_path)
    assert "NUMPY numpy" in out and "FAST_COMPILE numpy" in out
    if cbackend.compiler_works():
        assert "FAST_RUN c" in out


def test_import_loads_no_scipy_and_no_optional_dependency(tmp_path):
    out = _run("""
    import numpy as np
    import eqtensor
    from eqtensor import tensor as pt
    heavy = lambda: sorted(m for m in ("scipy", "scipy.special", "scipy.linalg", "egglog", "cffi") if m in sys.modules)
    print(heavy())
    x = pt.dvector("x")
    for fn in (pt.sigmoid, pt.softplus, pt.erf, pt.erfc, pt.erfinv, pt.gammaln, pt.psi):
        fn(x)                            # dtype rules of their own: building needs no SciPy
    from eqtensor.core.ops.blas import gemm, gemv, ger
    gemm(pt.dmatrix("c"), 1.0, pt.dmatrix("a"), pt.dmatrix("b"), 1.0)
    print(heavy())
    f = eqtensor.function([x], pt.erf(x), mode="FAST_COMPILE")
    print(heavy())
    f(np.zeros(2))                       # running erf loads scipy.special
    print(heavy())
    """, tmp_path)
    assert out.split("\n")[:4] == ["[]", "[]", "[]", "['scipy', 'scipy.special']"], out


# ---------------------------------------------------------------- dtype rules that avoid SciPy
_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64", "complex64",
           "complex128"]


@pytest.mark.parametrize("name, scipy_name", [("sigmoid", "expit"), ("erf", "erf"), ("erfc", "erfc"),
                                              ("erfinv", "erfinv"), ("gammaln", "gammaln"), ("psi", "psi")])
@pytest.mark.parametrize("dtype", _DTYPES)
def test_special_function_dtype_rules_match_scipy(name, scipy_name, dtype):
    """The declared dtype is what SciPy's function gives on the input cast to special_float, and
    what the op's NumPy implementation returns (the NumPy backend's dtype)."""
    op = Op(OPS[name])
    cast = np.ones(2, dtype=dtype).astype(special_float(dtype))
    try:
        scipy_dtype = getattr(scipy.special, scipy_name)(cast).dtype
    except TypeError:
        with pytest.raises(TypeError, match=f"{name} does not support inputs of dtype {dtype}"):
            op(pt.tensor("x", dtype=dtype, shape=(None,)))
        return
    declared = op(pt.tensor("x", dtype=dtype, shape=(None,))).dtype
    assert declared == scipy_dtype.name == dtype_by_numpy(op, [dtype])
    assert OPS[name].perform(np.ones(3, dtype=dtype)).dtype == declared


@pytest.mark.parametrize("name", ["gemm", "gemv", "ger"])
@pytest.mark.parametrize("dtypes", [("float64",) * 5, ("float32",) * 5, ("float32", "float64", "float32",
                                                                        "float32", "float32"),
                                    ("int32", "int32", "int64", "int8", "int32"), ("bool",) * 5,
                                    ("complex64", "float32", "complex64", "float64", "float32"),
                                    ("float16", "float16", "float16", "float16", "float16")])
def test_blas_dtype_rule_matches_numpy(name, dtypes):
    ndims = {"gemm": (2, 2, 2, 2, 2), "gemv": (1, 1, 2, 1, 1), "ger": (2, 2, 1, 1)}[name]
    dtypes = dtypes[:len(ndims)]
    inputs = [pt.tensor(f"i{k}", dtype=d, shape=(1,) * n if k in (1, 4) else (None,) * n)
              for k, (d, n) in enumerate(zip(dtypes, ndims))]
    op = Op(OPS[name])
    assert op(*inputs).dtype == dtype_by_numpy(op, list(dtypes), list(ndims))


def test_lazy_special_functions_compute_and_pickle():
    x = pt.dvector("x")
    v = np.array([0.25, 0.5, 1.5])
    for name in ("erf", "erfc", "erfinv", "gammaln", "psi"):
        fn = TABLE[name][1]
        assert pickle.loads(pickle.dumps(fn)).__name__ == name == OPS[name].perform.__name__
        for mode in ("NUMPY", "FAST_COMPILE"):
            got = eqtensor.function([x], getattr(pt, name)(x), mode=mode)(v)
            np.testing.assert_array_equal(got, getattr(scipy.special, name)(v))
    out = np.empty(3)
    assert TABLE["erf"][1](v, out=out) is out  # the NumPy backend's in-place calls pass out=
