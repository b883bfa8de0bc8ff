"""Inputs and outputs of a compiled function: :class:`In` (an input with options), :class:`Out`,
and the validated form of an explicit input a :class:`~eqtensor.compile.compiled_function.Function`
binds its arguments to (:class:`InputSpec`)."""

from __future__ import annotations

import numpy as np

from ..core.config import config
from ..core.graph import Constant, Variable


class In:
    """An input with options: ``name`` (for keyword calls), default ``value``, ``borrow``,
    ``strict``, ``allow_downcast``, ``mutable``.

    ``name`` defaults to the variable's name. The default ``value`` is copied at compile time
    unless ``borrow=True``. ``strict=True``: a value must already have the input's dtype (no
    conversion, as PyTensor). ``allow_downcast``: this input's own ``allow_input_downcast`` (None:
    the function's). ``mutable=True`` lets the function overwrite the argument in PyTensor;
    eqtensor never writes into arguments, so it is accepted and changes nothing. ``update=`` (an
    input carrying state between calls) is not supported: use a shared variable and ``updates=``.

    >>> from eqtensor import function, In, tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> f = function([x, In(y, value=1.0)], x + y)
    >>> float(f(2.0)), float(f(2.0, y=3.0)), float(f(y=4.0, x=1.0))
    (3.0, 5.0, 5.0)
    >>> v = pt.fvector("v")
    >>> function([In(v, allow_downcast=True)], v * 2)([0.1])  # a Python float list into float32
    array([0.2], dtype=float32)
    """

    def __init__(self, variable, name=None, value=None, update=None, mutable=False, strict=False,
                 allow_downcast=None, borrow=False):
        if not isinstance(variable, Variable) or variable.owner is not None or isinstance(variable, Constant):
            what = (f"the constant {variable}" if isinstance(variable, Constant) else
                    f"the expression {variable}" if isinstance(variable, Variable) else
                    f"{variable!r} ({type(variable).__name__})")
            raise TypeError(f"In() wraps a symbolic input variable (e.g. pt.dvector('x')), not {what}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"In(name=) must be a string, got {name!r}")
        if update is not None:
            raise NotImplementedError("In(update=) is not supported; use a shared variable and updates=")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.borrow = borrow
        self.mutable = bool(mutable)
        self.strict = bool(strict)
        self.allow_downcast = allow_downcast


class Out:
    """An output with options. ``borrow=True`` would allow the result to alias internal memory;
    eqtensor always returns arrays the caller owns, so it is accepted and changes nothing.

    >>> from eqtensor import function, Out, tensor as pt
    >>> x = pt.dvector("x")
    >>> function([x], Out(x * 2, borrow=True))([1.0, 2.0])
    array([2., 4.])
    """

    def __init__(self, variable, borrow=False):
        self.variable = variable
        self.borrow = borrow


def downcast_ok(allow, value, dtype) -> bool:
    """``allow_input_downcast`` semantics: True = any cast; None = also Python floats into floatX."""
    return allow is True or (allow is None and isinstance(value, float) and dtype == config.floatX)


class InputSpec:
    """One explicit input: variable, keyword name, default value (validated), label for messages,
    ``strict`` and ``allow_downcast`` (the function's unless its :class:`In` sets it)."""

    __slots__ = ("variable", "name", "value", "label", "strict", "allow_downcast")

    def __init__(self, i: In, pos: int, allow_downcast):
        self.variable = i.variable
        self.name = i.name
        self.label = i.name or f"<{i.variable.type}>"
        self.strict = i.strict
        self.allow_downcast = allow_downcast if i.allow_downcast is None else i.allow_downcast
        if i.value is None:
            self.value = None
        else:
            v = self.filter(i.value, f"the default value of input {pos} ({self.label})")
            if v.__class__ is not np.ndarray:  # np.matrix…: defaults are passed unchecked with trust_input
                v = np.asarray(v)
            self.value = v if i.borrow or v is not i.value else v.copy()

    def filter(self, value, name: str):
        """``value`` converted to the input's type (``TypeError`` naming ``name`` otherwise)."""
        t = self.variable.type
        if self.strict and not (isinstance(value, np.ndarray) and value.dtype.name == t.dtype):
            got = value.dtype.name if isinstance(value, np.ndarray) else type(value).__name__
            raise TypeError(f"{name} is strict (In(strict=True)): it takes a numpy.ndarray of dtype {t.dtype}, "
                            f"got {got}")
        return t.filter(value, name=name, allow_downcast=downcast_ok(self.allow_downcast, value, t.dtype))
