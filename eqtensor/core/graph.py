"""The symbolic graph: variables, applications of ops, constants, shared variables.

Nodes are immutable; a graph is a DAG of :class:`Apply` nodes whose single output is a
:class:`Variable`. Operators on variables (``+``, ``*``, ``.sum()``, ``.T``…) live in
:mod:`eqtensor.core.tensor_methods` and are mixed into :class:`Variable`.

>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> y = (x + 1).sum()
>>> y.owner.op.name, y.type
('sum', TensorType(float64, shape=()))
"""

from __future__ import annotations

import itertools

import numpy as np

from .tensor_methods import TensorMethods
from .types import TensorType

_ids = itertools.count()


class Variable(TensorMethods):
    """A symbolic tensor: an input (no owner), a constant, a shared variable or an op's output."""

    __slots__ = ("type", "owner", "name", "auto_name", "tag", "__weakref__")

    def __init__(self, type: TensorType, owner: "Apply | None" = None, name: str | None = None):
        if not isinstance(type, TensorType):
            raise TypeError(f"Variable type must be a TensorType, got {type!r}")
        self.type = type
        self.owner = owner
        self.name = name
        self.auto_name = f"v{next(_ids)}"
        self.tag = {}

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self):
        return self.type.broadcastable

    @property
    def static_shape(self):
        return self.type.shape

    def __repr__(self):
        return self._render(3)

    def _render(self, depth: int) -> str:
        """Functional rendering cut at ``depth`` levels (deep graphs print as ``op(...)``)."""
        if self.name:
            return self.name
        if self.owner is not None:
            if depth <= 0:
                return f"{self.owner.op}(...)"
            return f"{self.owner.op}({', '.join(i._render(depth - 1) for i in self.owner.inputs)})"
        if type(self).__repr__ is not Variable.__repr__:  # constants and shared variables
            return repr(self)
        return f"<{self.type}>"

    def __str__(self):
        return repr(self)

    # Variables are graph nodes: identity, not value, equality.
    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __bool__(self):
        raise TypeError(
            "a symbolic variable has no truth value; use eqtensor.tensor.switch / eq / lt for "
            "symbolic conditions"
        )

    def eval(self, inputs_to_values: dict | None = None, **kwargs):
        """Compile (unoptimised, NumPy backend) and evaluate this variable.

        >>> from eqtensor import tensor as pt
        >>> x = pt.dscalar("x")
        >>> float((x * 2).eval({x: 3.0}))
        6.0
        """
        from .function import function

        inputs_to_values = dict(inputs_to_values or {})
        inputs = list(inputs_to_values)
        f = function(inputs, self, mode="FAST_COMPILE", on_unused_input="ignore", **kwargs)
        return f(*[inputs_to_values[i] for i in inputs])

    def clone(self, name=None):
        """A fresh input variable of the same type (``owner`` is dropped)."""
        return Variable(self.type, name=self.name if name is None else name)


class Constant(Variable):
    """A constant leaf. ``weak`` marks a Python scalar that takes its partner's dtype (NEP 50)."""

    __slots__ = ("data", "weak", "_key")

    def __init__(self, data, type: TensorType | None = None, name=None, weak: bool = False):
        data = np.array(data, copy=True)
        if type is None:
            type = TensorType(data.dtype, data.shape)
        data = data.astype(type.dtype, copy=False)
        data.setflags(write=False)
        super().__init__(type, None, name)
        self.data = data
        self.weak = weak
        self._key = None

    def signature(self):
        """A hashable key equal for constants with equal dtype, shape and bits."""
        if self._key is None:
            self._key = (self.type, self.data.tobytes())
        return self._key

    def __repr__(self):
        if self.name:
            return self.name
        if self.data.size == 1:
            return repr(self.data.item())
        if self.data.size <= 6:
            return np.array2string(self.data, separator=", ") if self.data.ndim else repr(self.data.item())
        return f"Constant{{{self.type}}}"

    def clone(self, name=None):
        return self


class SharedVariable(Variable):
    """A variable with a value stored across calls (``eqtensor.shared``)."""

    __slots__ = ("container",)

    def __init__(self, type: TensorType, value: np.ndarray, name=None):
        super().__init__(type, None, name)
        self.container = [value]

    def get_value(self, borrow: bool = False):
        """The current value (a copy unless ``borrow=True``)."""
        v = self.container[0]
        return v if borrow else v.copy()

    def set_value(self, value, borrow: bool = False):
        """Replace the value; it must have this variable's dtype (safe casts allowed) and ndim."""
        arr = self.type.filter(value, name=f"shared variable {self.name or self.auto_name}")
        if arr is value and not borrow:
            arr = arr.copy()
        self.container[0] = arr

    @property
    def value(self):
        return self.container[0]

    def clone(self, name=None):
        return self

    def __repr__(self):
        return self.name or f"<shared {self.type}>"


class Apply:
    """One application of an op to input variables, producing one output variable."""

    __slots__ = ("op", "inputs", "outputs")

    def __init__(self, op, inputs, out_type: TensorType):
        self.op = op
        self.inputs = tuple(inputs)
        self.outputs = (Variable(out_type, self),)

    @property
    def out(self) -> Variable:
        return self.outputs[0]

    def __repr__(self):
        return f"Apply({self.op}, {list(self.inputs)})"


def is_leaf(v: Variable) -> bool:
    return v.owner is None


def toposort(outputs) -> list[Apply]:
    """Apply nodes needed for ``outputs``, each after its inputs (iterative, deterministic)."""
    order: list[Apply] = []
    seen: set[int] = set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            v, expanded = stack.pop()
            node = v.owner
            if node is None:
                continue
            if expanded:
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
                continue
            if id(node) in seen:
                continue
            stack.append((v, True))
            for i in reversed(node.inputs):
                if i.owner is not None and id(i.owner) not in seen:
                    stack.append((i, False))
    return order


def ancestors(outputs) -> list[Variable]:
    """All variables the outputs depend on (including themselves), leaves included."""
    seen: dict[int, Variable] = {}
    stack = list(outputs)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen[id(v)] = v
        if v.owner is not None:
            stack.extend(v.owner.inputs)
    return list(seen.values())


def graph_inputs(outputs) -> list[Variable]:
    """Leaves (inputs, constants, shared variables) that the outputs depend on, in first-seen order."""
    leaves = []
    seen = set()
    for node in toposort(outputs):
        for i in node.inputs:
            if i.owner is None and id(i) not in seen:
                seen.add(id(i))
                leaves.append(i)
    for o in outputs:
        if o.owner is None and id(o) not in seen:
            seen.add(id(o))
            leaves.append(o)
    return leaves


def clone_replace(outputs, replace: dict) -> list[Variable]:
    """Rebuild ``outputs`` with variables substituted per ``replace`` (types must match).

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> [z] = clone_replace([x * 2], {x: y})
    >>> z.owner.inputs[0] is y
    True
    """
    from .basic import as_tensor_variable

    memo: dict[int, Variable] = {}
    for old, new in replace.items():
        new = as_tensor_variable(new)
        if new.type.dtype != old.type.dtype or new.type.ndim != old.type.ndim:
            raise TypeError(f"cannot replace {old} of type {old.type} by {new} of type {new.type}")
        memo[id(old)] = new
    for node in toposort(outputs):
        if any(id(o) in memo for o in node.outputs):
            continue
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        memo[id(node.out)] = node.op(*new_inputs)
    return [memo.get(id(o), o) for o in outputs]

