"""Evenly spaced values, grids and windows: ``linspace``, ``logspace``, ``geomspace``, ``mgrid``,
``ogrid``, ``bartlett``; and ``empty``/``empty_like`` (zero-filled: eqtensor has no uninitialized
arrays).

>>> from eqtensor import tensor as pt
>>> pt.linspace(0.0, 1.0, 5).eval()
array([0.  , 0.25, 0.5 , 0.75, 1.  ])
"""

from __future__ import annotations

import numpy as np

from ..config import config
from ..dtypes import INT_DTYPES, as_dtype, promote
from ..graph import Constant
from ..op import _is_weak, as_tensor_variable
from . import elemwise as E
from .broadcast import alloc, broadcast_arrays
from .creation import arange, zeros, zeros_like
from .dims import _dim, _int_scalar, _one_axis
from .shape import dimshuffle, moveaxis, shape_padright
from .subtensor import set_subtensor


def _ends(start, stop):
    start, stop = as_tensor_variable(start), as_tensor_variable(stop)
    if _is_weak(start) and _is_weak(stop):
        start, stop = Constant(start.data), Constant(stop.data)
    dt = promote([start.dtype if not _is_weak(start) else type(start.data.item()),
                  stop.dtype if not _is_weak(stop) else type(stop.data.item()), float])
    start, stop = E.cast(start, dt), E.cast(stop, dt)
    start, stop = broadcast_arrays(start, stop)
    return start, stop, dt


def _linspace_core(start, stop, num, endpoint, axis, dt):
    """``num`` evenly spaced samples from ``start`` to ``stop`` along a new ``axis`` and the step,
    computed as NumPy's ``linspace``."""
    num = _int_scalar("linspace", "num", num)
    if isinstance(num, int) and num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    div = (num - 1 if endpoint else num) if isinstance(num, int) else (E.sub(num, 1) if endpoint else num)
    delta = E.sub(stop, start)
    steps = shape_padright(E.cast(arange(num), dt), delta.ndim)
    fdiv = np.asarray(div, dt) if isinstance(div, int) else E.cast(div, dt)
    step = E.true_div(delta, fdiv)
    scaled = E.switch(E.eq(step, 0), E.mul(E.true_div(steps, fdiv), delta), E.mul(steps, step))
    if isinstance(div, int):
        samples = E.add(scaled if div > 0 else E.mul(steps, delta), start)
        if div <= 0:
            step = E.mul(step, np.asarray(np.nan, dt))
        if endpoint and num > 1:
            samples = set_subtensor(samples[-1, ...], stop)
    else:
        samples = E.add(E.switch(E.gt(div, 0), scaled, E.mul(steps, delta)), start)
        if endpoint:
            samples = E.switch(E.gt(num, 1), set_subtensor(samples[-1, ...], stop), samples)
    if axis != 0:
        samples = moveaxis(samples, 0, axis)
    return samples, step


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (included when ``endpoint``), as
    ``np.linspace``; ``start`` and ``stop`` may be tensors (the samples go along a new ``axis``),
    ``num`` a symbolic integer. The dtype is NumPy's (float64 from integers) unless given.

    >>> from eqtensor import tensor as pt
    >>> pt.linspace(0, 1, 5).eval()
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    start, stop, dt = _ends(start, stop)
    axis = _one_axis(axis, start.ndim + 1, "linspace")
    samples, step = _linspace_core(start, stop, num, endpoint, axis, dt)
    samples = _to_dtype(samples, dtype)
    return (samples, step) if retstep else samples


def _to_dtype(x, dtype):
    """Samples in the requested dtype: rounded toward -inf for an integer dtype (NumPy's rule)."""
    if dtype is None:
        return x
    dtype = as_dtype(config.floatX if dtype == "floatX" else dtype)
    if dtype in INT_DTYPES and not x.dtype.startswith(("int", "uint")):
        x = E.floor(x)
    return E.cast(x, dtype)


def logspace(start, stop, num=50, base=10.0, endpoint=True, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``, as ``np.logspace``.

    >>> from eqtensor import tensor as pt
    >>> pt.logspace(0, 2, 3).eval()
    array([  1.,  10., 100.])
    """
    start, stop, dt = _ends(start, stop)
    axis = _one_axis(axis, start.ndim + 1, "logspace")
    samples, _ = _linspace_core(start, stop, num, endpoint, axis, dt)
    return _to_dtype(E.pow(base, samples), dtype)


def geomspace(start, stop, num=50, base=10.0, endpoint=True, dtype=None, axis=0):
    """A geometric progression from ``start`` to ``stop`` (same sign, nonzero), as ``np.geomspace``:
    evenly spaced in log space (``base`` is PyTensor's extra parameter: the log base used), the
    ends exact.

    >>> from eqtensor import tensor as pt
    >>> pt.geomspace(1, 1000, 4).eval()
    array([   1.,   10.,  100., 1000.])
    """
    start, stop, dt = _ends(start, stop)
    axis = _one_axis(axis, start.ndim + 1, "geomspace")
    sign = E.sign(start)
    log_base = E.log(np.asarray(base, dt))
    lo, hi = (E.true_div(E.log(E.mul(v, sign)), log_base) for v in (start, stop))
    logs, _ = _linspace_core(lo, hi, num, endpoint, 0, dt)
    out = E.pow(np.asarray(base, dt), logs)
    n = _int_scalar("geomspace", "num", num)
    if not isinstance(n, int) or n > 0:
        first = set_subtensor(out[0, ...], E.mul(start, sign))
        out = first if isinstance(n, int) else E.switch(E.gt(n, 0), first, out)
    if endpoint and (not isinstance(n, int) or n > 1):
        last = set_subtensor(out[-1, ...], E.mul(stop, sign))
        out = last if isinstance(n, int) else E.switch(E.gt(n, 1), last, out)
    out = E.mul(out, sign)
    if axis != 0:
        out = moveaxis(out, 0, axis)
    return _to_dtype(out, dtype)


def bartlett(M):
    """The Bartlett (triangular) window of ``M`` points (``np.bartlett``), float64.

    >>> from eqtensor import tensor as pt
    >>> pt.bartlett(5).eval()
    array([0. , 0.5, 1. , 0.5, 0. ])
    """
    M = _int_scalar("bartlett", "M", M)
    if isinstance(M, int):
        return as_tensor_variable(np.bartlett(M))
    n = E.cast(arange(E.sub(1, M), M, 2), "float64")
    half = E.cast(E.sub(M, 1), "float64")
    window = E.switch(E.le(n, 0), E.add(1, E.true_div(n, half)), E.sub(1, E.true_div(n, half)))
    return E.switch(E.eq(M, 1), np.ones((), "float64"), window)


class _NDGrid:
    """``mgrid[0:5, 0:3]`` (dense grids) and ``ogrid[...]`` (broadcastable ones), as PyTensor: a
    list of tensors, one per slice (a single slice gives ``arange``)."""

    def __init__(self, sparse=False):
        self.sparse = sparse

    def __getitem__(self, key):
        if isinstance(key, slice):
            return arange(key.start if key.start is not None else 0, key.stop, key.step if key.step is not None else 1)
        key = tuple(key)
        for sl in key:
            if not isinstance(sl, slice):
                raise TypeError(f"{'ogrid' if self.sparse else 'mgrid'}: index with slices, got {sl!r}")
            if isinstance(sl.step, complex):
                raise NotImplementedError("mgrid/ogrid: a complex step (a number of points) is not supported")
        nd = len(key)
        ranges = [arange(sl.start if sl.start is not None else 0, sl.stop, sl.step if sl.step is not None else 1)
                  for sl in key]
        grids = [dimshuffle(r, *(["x"] * j + [0] + ["x"] * (nd - j - 1))) for j, r in enumerate(ranges)]
        if self.sparse:
            return grids
        shape = [_dim(r, 0) for r in ranges]
        return [alloc(g, *shape) for g in grids]

    def __repr__(self):
        return "ogrid" if self.sparse else "mgrid"


#: dense and open grids (``mgrid[0:3, 0:2]``), as PyTensor's
mgrid = _NDGrid()
ogrid = _NDGrid(sparse=True)


def empty(shape, dtype=None):
    """A new tensor of ``shape`` (its values are zeros here: there is no uninitialized memory)."""
    return zeros(shape, dtype)


def empty_like(prototype, dtype=None):
    """A new tensor shaped like ``prototype`` (zeros, see :func:`empty`)."""
    return zeros_like(prototype, dtype)


__all__ = ["bartlett", "empty", "empty_like", "geomspace", "linspace", "logspace", "mgrid", "ogrid"]
