"""Ops with a side effect at run time: ``print`` (PyTensor's ``printing.Print``), the identity
that prints its input's value each time the compiled function computes it, and ``check``
(PyTensor's ``Assert``): ``check(x, cond)`` is ``x``, raising ``AssertionError`` with the op's
message when the boolean ``cond`` is false anywhere (``bincount(..., assert_nonneg=True)``).

Their kind is ``effect``: never evaluated at compile time (not even on a constant input, see
:data:`~eqtensor.core.op.NEVER_FOLDED`), and no rule removes them, so they survive the e-graph;
like any node, two prints of the same value with the same message are one node (PyTensor's merge
does the same). They run their ``perform`` on every backend (the C backend calls it as a NumPy
fallback; the JAX backend prints through a host callback and checks through checkify). Their
gradient with respect to ``x`` is the identity's.

>>> from eqtensor.core.op import OPS
>>> OPS["print"].params
('message', 'attrs')
"""

from __future__ import annotations

import numpy as np

from ..op import declare


def _print_perform(x, message, attrs):
    for attr in attrs:
        value = getattr(x, attr)
        print(message, attr, "=", value() if callable(value) else value)
    return x


declare("print", "effect", 1, lambda op, inputs: inputs[0].type, _print_perform, params=("message", "attrs"),
        cost=0, view_of=0, doc="x, printing message and the attributes attrs of its value when computed")


def _check_infer(op, inputs):
    x, cond = inputs
    if cond.dtype != "bool":
        raise TypeError(f"check: the condition must be boolean, got {cond.type}")
    return x.type


def _check_perform(x, cond, message):
    if not np.all(cond):
        raise AssertionError(message)
    return x


declare("check", "effect", 2, _check_infer, _check_perform, params=("message",), cost=0, view_of=0,
        doc="x, raising AssertionError(message) at run time when the boolean cond is false anywhere")
