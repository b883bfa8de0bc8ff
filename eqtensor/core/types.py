"""Static tensor types: a dtype and a static shape (``None`` = unknown length, 1 = broadcastable).

>>> t = TensorType("float64", (None, 3))
>>> t.ndim, t.broadcastable
(2, (False, False))
>>> t
TensorType(float64, shape=(None, 3))
"""

from __future__ import annotations

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
        from .graph import Variable

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
