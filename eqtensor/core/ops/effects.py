"""Ops with a side effect at run time: ``print`` (PyTensor's ``printing.Print``), the identity
that prints its input's value each time the compiled function computes it.

Its kind is ``effect``: never evaluated at compile time (not even on a constant input, see
:data:`~eqtensor.core.op.NEVER_FOLDED`), and no rule removes it, so the print survives the e-graph;
like any node, two prints of the same value with the same message are one node (PyTensor's merge
does the same). It runs its ``perform`` on every backend (the C backend calls it as a NumPy
fallback). Its gradient is the identity's.

>>> from eqtensor.core.op import OPS
>>> OPS["print"].params
('message', 'attrs')
"""

from __future__ import annotations

from ..op import declare


def _print_perform(x, message, attrs):
    for attr in attrs:
        value = getattr(x, attr)
        print(message, attr, "=", value() if callable(value) else value)
    return x


declare("print", "effect", 1, lambda op, inputs: inputs[0].type, _print_perform, params=("message", "attrs"),
        cost=0, view_of=0, doc="x, printing message and the attributes attrs of its value when computed")
