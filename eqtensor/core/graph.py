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

import contextlib
import gc
import itertools
import os
import threading

import numpy as np

from .dtypes import DTYPES, as_dtype
from .locks import ForkSafeLock

_DTYPE_NAMES = frozenset(DTYPES)
_DTYPE_OF = {np.dtype(d): d for d in DTYPES}  # NumPy dtype -> canonical name


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
        # fast paths (a node is built per call of an op): a canonical dtype name, a shape of ints
        object.__setattr__(self, "dtype", dtype if dtype.__class__ is str and dtype in _DTYPE_NAMES
                           else as_dtype(dtype))
        if shape.__class__ is not tuple or not all(d is None or (d.__class__ is int and d >= 0) for d in shape):
            shape = tuple(_static_dim(d) for d in shape)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "_hash", hash((self.dtype, self.shape)))

    def __setattr__(self, name, value):
        raise AttributeError("TensorType is immutable")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(d == 1 for d in self.shape)

    @property
    def numpy_dtype(self) -> np.dtype:
        """The dtype as a ``numpy.dtype`` (``dtype`` is its name)."""
        return np.dtype(self.dtype)

    def is_super(self, otype) -> bool:
        """True when every value of type ``otype`` is a value of this type: same dtype and number of
        dimensions, and each static length of this type is also ``otype``'s."""
        return (isinstance(otype, TensorType) and otype.dtype == self.dtype and otype.ndim == self.ndim
                and all(s is None or s == o for s, o in zip(self.shape, otype.shape)))

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
        if isinstance(value, np.ma.MaskedArray):
            raise TypeError(f"{name} got a masked array: masks are not supported; pass value.filled(fill) or "
                            f"value.data (and the mask as another input)")
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
            name_ = _DTYPE_OF.get(data.dtype)  # np.dtype.name is slow; constants are built per node
            type = TensorType(name_ if name_ is not None else data.dtype, data.shape)
        if data.dtype != type.dtype:
            data = data.astype(type.dtype, copy=False)
        data.setflags(write=False)
        super().__init__(type, None, name)
        self.data = data
        self.weak = weak
        self._key = None

    @property
    def value(self) -> np.ndarray:
        """The constant's (read-only) array, ``data`` (PyTensor's ``Constant.value``)."""
        return self.data

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
    """A variable with a value stored across calls (``eqtensor.shared``). ``default_update``: an
    expression ``function`` uses as this variable's update when none is given (PyTensor's; the
    random streams set it)."""

    __slots__ = ("container", "default_update", "strict", "allow_downcast")

    def __init__(self, type: TensorType, value: np.ndarray, name=None, strict=False, allow_downcast=None):
        super().__init__(type, None, name)
        self.container = [value]
        self.default_update = None
        self.strict = strict  # set_value takes only ndarrays of the dtype (PyTensor's shared(strict=True))
        self.allow_downcast = allow_downcast  # set_value may downcast (True: any cast)

    def get_value(self, borrow: bool = False, return_internal_type: bool = False):
        """The current value (a copy unless ``borrow=True``). ``return_internal_type`` changes
        nothing: the value is stored as a NumPy array, the type it is returned as."""
        v = self.container[0]
        return v if borrow else v.copy()

    def set_value(self, value, borrow: bool = False):
        """Replace the value; it must have this variable's dtype (safe casts allowed, any cast with
        ``allow_downcast=True``, none with ``strict=True``) and ndim."""
        name = f"shared variable {self.name or self.auto_name}"
        if self.strict and not (isinstance(value, np.ndarray) and value.dtype.name == self.type.dtype):
            got = value.dtype.name if isinstance(value, np.ndarray) else type(value).__name__
            raise TypeError(f"{name} is strict: set_value takes a numpy.ndarray of dtype {self.type.dtype}, got {got}")
        arr = self.type.filter(value, name=name, allow_downcast=self.allow_downcast is True)
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


_gc_lock = ForkSafeLock()
_gc_depths: dict[int, int] = {}  # thread id -> depth of its gc_paused blocks
_gc_restore = False


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector inside the block (re-entrant, thread-safe: the
    collector is switched back on when the last block exits, if it was on before the first).

    Building, optimizing and compiling a big graph allocates hundreds of thousands of long-lived
    objects; every full collection then walks the whole heap, which made compiles of 30 000-node
    graphs about 30 % slower. Graph objects form reference cycles (a variable and its owner), so
    what a compile discards is freed by the first collection after the block.

    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    """
    global _gc_restore
    me = threading.get_ident()
    with _gc_lock:
        if not _gc_depths:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_depths[me] = _gc_depths.get(me, 0) + 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depths[me] -= 1
            if not _gc_depths[me]:
                del _gc_depths[me]
            if not _gc_depths and _gc_restore:
                gc.enable()


def _gc_after_fork_in_child():
    """In a forked child, the blocks other threads of the parent were in are over (those threads do
    not exist there): the collector is switched back on unless the forking thread is in one."""
    me = threading.get_ident()
    for t in [t for t in _gc_depths if t != me]:
        del _gc_depths[t]
    if not _gc_depths and _gc_restore:
        gc.enable()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_gc_after_fork_in_child)
