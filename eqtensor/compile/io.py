"""Inputs and outputs of a compiled function: :class:`In` (an input with options), :class:`Out`,
and the validated form of an explicit input a :class:`~eqtensor.compile.compiled_function.Function`
binds its arguments to (:class:`InputSpec`)."""

from __future__ import annotations

import numpy as np

from ..core.config import config
from ..core.dtypes import promote
from ..core.graph import Constant, SharedVariable, Variable
from ..core.op import as_tensor_variable
from ..core.ops.elemwise import cast


class In:
    """An input with options: ``name`` (for keyword calls), default ``value``, ``update``,
    ``borrow``, ``strict``, ``allow_downcast``, ``mutable``, ``implicit``.

    ``name`` defaults to the variable's name. The default ``value`` is copied at compile time
    unless ``borrow=True``. ``strict=True``: a value must already have the input's dtype (no
    conversion, as PyTensor). ``allow_downcast``: this input's own ``allow_input_downcast`` (None:
    the function's). ``mutable=True`` lets the function overwrite the argument in PyTensor;
    eqtensor never writes into arguments, so it changes nothing (as PyTensor, it defaults to
    ``update is not None``, ``borrow`` defaults to it, and ``mutable=True, borrow=False`` is refused).

    ``update`` (an expression of the function's inputs, of the variable's type) makes the input
    *stateful*, as PyTensor: the function keeps its value between calls, starting from ``value``
    (an array, or a shared variable whose storage is then the state), and sets it to ``update``
    (computed from the call's values) after each call. ``implicit=True`` (the default when
    ``value`` is a shared variable) forbids passing it; otherwise a value passed for the input is
    used for that call, then replaced by the update. ``f[name]`` reads (and ``f[name] = v`` sets)
    the value an input takes when it is not passed.

    >>> from eqtensor import function, In, tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> f = function([x, In(y, value=1.0)], x + y)
    >>> float(f(2.0)), float(f(2.0, y=3.0)), float(f(y=4.0, x=1.0))
    (3.0, 5.0, 5.0)
    >>> v = pt.fvector("v")
    >>> function([In(v, allow_downcast=True)], v * 2)([0.1])  # a Python float list into float32
    array([0.2], dtype=float32)
    >>> acc = pt.dscalar("acc")
    >>> total = function([x, In(acc, value=0.0, update=acc + x)], acc)
    >>> [float(total(v)) for v in (1.0, 2.0, 3.0)], float(total["acc"])
    ([0.0, 1.0, 3.0], 6.0)
    """

    def __init__(self, variable, name=None, value=None, update=None, mutable=None, strict=False,
                 allow_downcast=None, borrow=None, implicit=None):
        if not isinstance(variable, Variable) or variable.owner is not None or isinstance(variable, Constant):
            what = (f"the constant {variable}" if isinstance(variable, Constant) else
                    f"the expression {variable}" if isinstance(variable, Variable) else
                    f"{variable!r} ({type(variable).__name__})")
            raise TypeError(f"In() wraps a symbolic input variable (e.g. pt.dvector('x')), not {what}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"In(name=) must be a string, got {name!r}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.update = None if update is None else _checked_update(variable, update)
        self.mutable = self.update is not None if mutable is None else bool(mutable)
        self.borrow = self.mutable if borrow is None else bool(borrow)
        if self.mutable and not self.borrow:
            raise ValueError(f"In({variable}): mutable=True with borrow=False is contradictory: a mutable input "
                             f"may be overwritten, so it may also be aliased (as PyTensor)")
        self.value = value
        self.implicit = isinstance(value, SharedVariable) if implicit is None else bool(implicit)
        if self.implicit and value is None:
            raise TypeError(f"In({variable}, implicit=True): an implicit input must be given a default value")
        if isinstance(value, SharedVariable) and value.type != variable.type:
            raise TypeError(f"In({variable}, value=): the shared variable {value} ({value.type}) must have the "
                            f"input's type {variable.type}")
        self.strict = bool(strict)
        self.allow_downcast = allow_downcast


def _checked_update(variable, update):
    """``update`` as an expression of ``variable``'s type (a safe cast is added; an unsafe one, or
    another number of dimensions, is a ``TypeError`` as in PyTensor)."""
    expr = as_tensor_variable(update)
    if isinstance(expr, Constant) and expr.weak:
        expr = Constant(expr.data.astype(variable.dtype)) if promote([type(expr.data.item()), variable.dtype]) == \
            variable.dtype else expr
    if expr.ndim != variable.ndim or promote([expr.dtype, variable.dtype]) != variable.dtype or any(
            s is not None and d is not None and s != d for s, d in zip(variable.type.shape, expr.type.shape)):
        raise TypeError(f"In({variable}, update=): {variable} has type {variable.type} but its update {expr} has type "
                        f"{expr.type}; the update must have the input's number of dimensions and a dtype that "
                        f"casts safely to {variable.dtype}")
    return expr if expr.dtype == variable.dtype else cast(expr, variable.dtype)


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
    ``strict`` and ``allow_downcast`` (the function's unless its :class:`In` sets it), ``implicit``,
    and ``stateful`` (an :class:`In` with ``update``: the function stores the update's value in
    ``storage`` after each call, the storage of the shared variable given as ``value`` if any)."""

    __slots__ = ("variable", "name", "storage", "required", "label", "strict", "allow_downcast", "implicit",
                 "stateful")

    def __init__(self, i: In, pos: int, allow_downcast):
        self.variable = i.variable
        self.name = i.name
        self.label = i.name or f"<{i.variable.type}>"
        self.strict = i.strict
        self.allow_downcast = allow_downcast if i.allow_downcast is None else i.allow_downcast
        self.implicit = i.implicit
        self.stateful = i.update is not None
        self.required = i.value is None  # every call passes it (a stateful one too, as PyTensor)
        if isinstance(i.value, SharedVariable):
            self.storage = i.value.container
        elif i.value is None:
            self.storage = [None]
        else:
            v = self.filter(i.value, f"the default value of input {pos} ({self.label})")
            if v.__class__ is not np.ndarray:  # np.matrix…: defaults are passed unchecked with trust_input
                v = np.asarray(v)
            self.storage = [v if i.borrow or v is not i.value else v.copy()]

    @property
    def value(self):
        """The input's default or state (what a call that does not pass it uses, unless ``required``)."""
        return self.storage[0]

    def copied(self) -> "InputSpec":
        """This spec with its own storage (a copy of the current state) if it is stateful."""
        if not self.stateful:
            return self
        new = object.__new__(InputSpec)
        for slot in InputSpec.__slots__:
            setattr(new, slot, getattr(self, slot))
        v = self.storage[0]
        new.storage = [None if v is None else np.array(v, copy=True)]
        return new

    def filter(self, value, name: str):
        """``value`` converted to the input's type (``TypeError`` naming ``name`` otherwise)."""
        t = self.variable.type
        if self.strict and not (isinstance(value, np.ndarray) and value.dtype.name == t.dtype):
            got = value.dtype.name if isinstance(value, np.ndarray) else type(value).__name__
            raise TypeError(f"{name} is strict (In(strict=True)): it takes a numpy.ndarray of dtype {t.dtype}, "
                            f"got {got}")
        return t.filter(value, name=name, allow_downcast=downcast_ok(self.allow_downcast, value, t.dtype))
