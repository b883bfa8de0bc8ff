"""``map``, ``reduce``, ``foldl``, ``foldr``, ``filter``: common loops written with ``scan`` (PyTensor's
``pytensor.scan.views``).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> from eqtensor.scan.views import foldl, map
>>> x = pt.dvector("x")
>>> map(lambda v: v ** 2, x, return_updates=False).eval({x: np.array([1.0, 2.0, 3.0])})
array([1., 4., 9.])
>>> foldl(lambda v, acc: acc * 10 + v, x, np.float64(0.0), return_updates=False).eval({x: np.array([1.0, 2.0, 3.0])})
array(123.)
"""

from __future__ import annotations

from .basic import scan

__all__ = ["filter", "foldl", "foldr", "map", "reduce"]


def map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False, mode=None, name=None,
        return_updates=True):
    """``fn`` applied to each step of the sequences; the results stacked (``scan`` without
    recurrent outputs)."""
    return scan(fn, sequences=sequences, outputs_info=[], non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name,
                return_updates=return_updates)


def _last(result, return_updates):
    outs, updates = result if return_updates else (result, None)
    last = [o[-1] for o in outs] if isinstance(outs, (list, tuple)) else outs[-1]
    return (last, updates) if return_updates else last


def reduce(fn, sequences, outputs_info, non_sequences=None, go_backwards=False, mode=None, name=None,
           return_updates=True):
    """The final value of the recurrent outputs of ``scan`` (the whole loop, only the last step
    returned)."""
    return _last(scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                      go_backwards=go_backwards, mode=mode, name=name, return_updates=return_updates),
                 return_updates)


def foldl(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None, return_updates=True):
    """``reduce`` from the first step to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences=non_sequences, go_backwards=False, mode=mode,
                  name=name, return_updates=return_updates)


def foldr(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None, return_updates=True):
    """``reduce`` from the last step to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences=non_sequences, go_backwards=True, mode=mode,
                  name=name, return_updates=return_updates)


def filter(fn, sequences, non_sequences=None, go_backwards=False, mode=None, name=None):
    """The elements of the sequences where the predicate ``fn`` (a boolean per step) is true: one
    mask for all the sequences, or one per sequence when ``fn`` returns several (a list of
    sequences is returned for a list given)."""
    mask = scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences, go_backwards=go_backwards,
                mode=mode, name=name, return_updates=False)
    many = isinstance(sequences, (list, tuple))
    if isinstance(mask, (list, tuple)):
        if not many or len(mask) != len(sequences):
            raise ValueError(f"filter: fn returned {len(mask)} masks; give as many sequences in a list")
        return [s[m] for s, m in zip(sequences, mask)]
    return [s[mask] for s in sequences] if many else sequences[mask]
