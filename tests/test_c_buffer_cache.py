"""The C backend's buffer cache: an intermediate released by its last reader waits for the next
call's allocation of its dtype and shape, also when that last reader was a view of it (a transpose
read by a matrix product), so repeated calls allocate no new large arrays (NumPy reports its
allocations to ``tracemalloc``)."""

import tracemalloc

import numpy as np
import pytest

import eqtensor as et
from eqtensor import tensor as pt


def _peak_bytes(f, *args):
    """The peak of memory traced while ``f(*args)`` runs, above what was allocated before, and the
    result."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    out = f(*args)
    return tracemalloc.get_traced_memory()[1] - before, out


@pytest.mark.parametrize("build, reference, x_shape", [
    (lambda X, W: pt.dot(pt.exp(X).T, W).sum(), lambda x, w: (np.exp(x).T @ w).sum(), (300, 200)),
    (lambda X, W: pt.dot(pt.exp(X), W.T).sum(), lambda x, w: (np.exp(x) @ w.T).sum(), (200, 300)),
], ids=["view-read-last", "array-read-last"])
def test_a_released_intermediate_is_reused_by_the_next_call(build, reference, x_shape):
    X, W = pt.dmatrix("X"), pt.dmatrix("W")
    f = et.function([X, W], build(X, W), mode="C")
    rng = np.random.default_rng(0)
    x, w = rng.random(x_shape), rng.random((50, 300)).T.copy() if x_shape[0] == 300 else rng.random((50, 300))
    f(x, w)
    tracemalloc.start()
    try:
        peaks = [_peak_bytes(f, x, w) for _ in range(3)]
    finally:
        tracemalloc.stop()
    for peak, out in peaks:
        np.testing.assert_allclose(out, reference(x, w), rtol=1e-12)
        assert peak < x.nbytes // 4, peak  # exp(X), x.nbytes, comes from the cache
