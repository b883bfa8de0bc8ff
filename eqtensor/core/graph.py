"""The typed symbolic graph: static types, variables, applications of ops, constants, shared variables.

A :class:`TensorType` is a dtype and a static shape (``None`` = unknown length, 1 = broadcastable).
Nodes are immutable; a graph is a DAG of :class:`Apply` nodes whose single output is a
:class:`Variable`. Operators on variables (``+``, ``*``, ``.sum()``, ``.T``…) are installed on
:class:`Variable` by :mod:`eqtensor.core.tensor_methods`, which sits above the op declarations.

>>> t = TensorType("float64", (None, 3))
>>> t.ndim, t.broadcastable
(2, (False, False))

>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> y = (x + 1).sum()
>>> y.owner.op.name, y.type
('sum', TensorType(float64, shape=()))
"""

from __future__ import annotations

import itertools

import numpy as np

from .dtypes import as_dtype

def _static_dim(d):
    if d is None:
        return None
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
        raise TypeError(f"a static dimension must be None or a non-negative int, got {d!r}")
    return int(d)


class TensorType:
    """The static type of a symbolic tensor: dtype and per-dimension static length."""

    __slots__ = ("dtype", "shape", "_hash")

    def __init__(self, dtype, shape=None, *, broadcastable=None):
        if broadcastable is not None:
            if shape is not None:
                raise TypeError("give either shape= or broadcastable=, not both")
            shape = tuple(1 if b else None for b in broadcastable)
        if shape is None:
            raise TypeError("TensorType needs shape= (a tuple with one entry per dimension)")
        object.__setattr__(self, "dtype", as_dtype(dtype))
        object.__setattr__(self, "shape", tuple(_static_dim(d) for d in shape))
        object.__setattr__(self, "_hash", hash((self.dtype, self.shape)))

    def __setattr__(self, name, value):
        raise AttributeError("TensorType is immutable")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(d == 1 for d in self.shape)

    def clone(self, dtype=None, shape=None) -> "TensorType":
        return TensorType(self.dtype if dtype is None else dtype, self.shape if shape is None else shape)

    def __eq__(self, other):
        return isinstance(other, TensorType) and self.dtype == other.dtype and self.shape == other.shape

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"TensorType({self.dtype}, shape={self.shape})"

    def __str__(self):
        return f"{self.dtype}{list(self.shape)}".replace("None", "?")

    def __call__(self, name=None):
        """A new input variable of this type (``TensorType('float64', (None,))('x')``)."""
        return Variable(self, name=name)

    def is_compatible(self, shape) -> bool:
        """True when a run-time ``shape`` fits this type's static shape."""
        return len(shape) == self.ndim and all(s is None or s == d for s, d in zip(self.shape, shape))

    def describe_mismatch(self, value: np.ndarray) -> str | None:
        """Why ``value`` (already of the right dtype) does not fit, or None if it does."""
        if value.ndim != self.ndim:
            return f"expected {self.ndim} dimensions (type {self}), got {value.ndim} (shape {value.shape})"
        if not self.is_compatible(value.shape):
            return f"expected static shape {self.shape}, got shape {value.shape}"
        return None

    def filter(self, value, *, name: str = "input", allow_downcast: bool = False) -> np.ndarray:
        """Convert ``value`` to an array of this type or raise a clear TypeError/ValueError.

        Casting follows NumPy's ``safe`` rule; Python scalars are accepted when the cast keeps their
        value exactly; ``allow_downcast=True`` accepts any cast.
        """
        if isinstance(value, np.ndarray) and value.dtype.name == self.dtype:
            arr = value
        else:
            arr = _cast(value, self.dtype, name, allow_downcast)
        problem = self.describe_mismatch(arr)
        if problem:
            kind = TypeError if arr.ndim != self.ndim else ValueError
            raise kind(f"bad value for {name}: {problem}")
        return arr


def _cast(value, dtype: str, name: str, allow_downcast: bool) -> np.ndarray:
    if hasattr(value, "type") and hasattr(value, "owner"):
        raise TypeError(f"{name} got a symbolic variable {value}; pass a numeric value (NumPy array or scalar)")
    try:
        src = np.asarray(value)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{name} got a value that is not array-like: {e}") from e
    if src.dtype.kind in "OUSVMm":
        raise TypeError(f"{name} expects dtype {dtype}, got a value of dtype {src.dtype}")
    if allow_downcast or np.can_cast(src.dtype, dtype, "safe"):
        with np.errstate(all="ignore"):
            return src.astype(dtype)
    if isinstance(value, (bool, int, float, complex, np.generic, list, tuple)):
        with np.errstate(all="ignore"):
            cast = src.astype(dtype)
            same = np.array_equal(cast.astype(src.dtype), src, equal_nan=src.dtype.kind in "fc")
        if same:
            return cast
    raise TypeError(
        f"{name} expects dtype {dtype}; casting a value of dtype {src.dtype} would lose information "
        f"(pass allow_input_downcast=True to function() to allow it)"
    )


_ids = itertools.count()


class Variable:
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


def uniform_value(c: Constant):
    """The single value of a constant whose elements are all equal (None otherwise)."""
    d = c.data
    if d.size == 0 or d.dtype.kind not in "biuf":
        return None
    flat = d.reshape(-1)
    first = flat[0]
    if d.size > 1 and not (np.all(flat == first) or (first != first and np.all(flat != flat))):
        return None
    if d.size > 1 and first == 0 and d.dtype.kind == "f" and not np.all(np.signbit(flat) == np.signbit(first)):
        return None
    return first.item()


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
