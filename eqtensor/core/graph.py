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
import threading

import numpy as np

from .dtypes import DTYPES, as_dtype

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
            name_ = _DTYPE_OF.get(data.dtype)  # np.dtype.name is slow; constants are built per node
            type = TensorType(name_ if name_ is not None else data.dtype, data.shape)
        if data.dtype != type.dtype:
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


_gc_lock = threading.Lock()
_gc_depth = 0
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
    global _gc_depth, _gc_restore
    with _gc_lock:
        if _gc_depth == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_restore:
                gc.enable()


# ---------------------------------------------------------------------------------------------
# Walking graphs: PyTensor's traversal helpers (faces: ``eqtensor.graph.traversal``). Every walk
# is iterative (an explicit stack or queue), so graphs thousands of nodes deep are fine.


def _variables(graphs) -> list:
    """``graphs`` (one variable or an iterable of them) as a list."""
    if isinstance(graphs, Variable):
        return [graphs]
    return list(graphs)


def walk(nodes, expand, bfs: bool = True, return_children: bool = False):
    """Yield every node reachable from ``nodes`` through ``expand`` once (breadth-first, or
    depth-first with ``bfs=False``); ``expand(node)`` returns the next nodes or None. With
    ``return_children=True`` each node comes with what ``expand`` returned for it.

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> z = x * y + x
    >>> [v for v in walk([z], lambda v: v.owner.inputs if v.owner else None) if v.owner is None]
    [x, y]
    """
    seen: set[int] = set()
    queue = list(nodes)
    head = 0
    while (head < len(queue)) if bfs else queue:
        if bfs:
            node = queue[head]
            head += 1
        else:
            node = queue.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        children = expand(node)
        yield (node, children) if return_children else node
        if children:
            queue.extend(children)


def iter_ancestors(graphs, blockers=None):
    """PyTensor's ``ancestors``: yield the variables ``graphs`` depend on, themselves included, in
    the order of a right-recursive depth-first search; the walk does not go above ``blockers``
    (they are yielded, their inputs are not).

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> z = pt.exp(x) + y
    >>> [v for v in iter_ancestors([z]) if v.owner is None]
    [y, x]
    >>> len(list(iter_ancestors([z], blockers=[z])))
    1
    """
    blocked = {id(b) for b in blockers} if blockers else ()
    seen: set[int] = set()
    stack = _variables(graphs)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        yield v
        if v.owner is not None and id(v) not in blocked:
            stack.extend(v.owner.inputs)


def apply_ancestors(graphs, blockers=None):
    """The :class:`Apply` nodes that ``graphs`` depend on (the owners of :func:`iter_ancestors`).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> [n.op.name for n in apply_ancestors([pt.exp(x) + 1])]
    ['add', 'exp']
    """
    for v in iter_ancestors(graphs, blockers):
        if v.owner is not None:
            yield v.owner  # one output per node: each node is reached through its only output


def iter_graph_inputs(graphs, blockers=None):
    """PyTensor's ``graph_inputs``: yield the variables without an owner (inputs, constants, shared
    variables) that ``graphs`` depend on, in :func:`iter_ancestors` order.

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> list(iter_graph_inputs([x * 2 + y]))
    [y, 2.0, x]
    """
    return (v for v in iter_ancestors(graphs, blockers) if v.owner is None)


def explicit_graph_inputs(graph):
    """The root variables a function computing ``graph`` must be given: the inputs without an
    owner that are neither constants nor shared variables (a generator).

    >>> import numpy as np, eqtensor as et
    >>> from eqtensor import tensor as pt
    >>> x, s = pt.dvector("x"), et.shared(np.ones(3), name="s")
    >>> z = x * 2 + s
    >>> inputs = list(explicit_graph_inputs(z))
    >>> inputs
    [x]
    >>> et.function(inputs, z)([1.0, 2.0, 3.0])
    array([3., 5., 7.])
    """
    return (v for v in iter_ancestors(_variables(graph))
            if v.owner is None and not isinstance(v, (Constant, SharedVariable)))


def vars_between(ins, outs):
    """The variables of the subgraph between ``ins`` and ``outs``, both included (a generator; the
    walk stops at ``ins``).

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> e = pt.exp(x)
    >>> [str(v) for v in vars_between([e], [e + y])]
    ['add(exp(x), y)', 'y', 'exp(x)']
    """
    return iter_ancestors(_variables(outs), _variables(ins))


def orphans_between(ins, outs):
    """The roots (no owner) that ``outs`` depend on outside ``ins`` (a generator).

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> list(orphans_between([x], [x + y]))
    [y]
    """
    ins = _variables(ins)
    ids = {id(i) for i in ins}
    return (v for v in iter_ancestors(_variables(outs), ins) if v.owner is None and id(v) not in ids)


def applys_between(ins, outs):
    """The :class:`Apply` nodes between ``ins`` and ``outs``: the owners of ``outs`` and of the
    intermediate variables, not those of ``ins`` (a generator).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> e = pt.exp(x)
    >>> [n.op.name for n in applys_between([e], [pt.log(e)])]
    ['log']
    """
    ins = _variables(ins)
    ids = {id(i) for i in ins}
    return (v.owner for v in iter_ancestors(_variables(outs), ins) if v.owner is not None and id(v) not in ids)


def variable_depends_on(variable, depends_on) -> bool:
    """Whether ``variable`` is, or is computed from, one of ``depends_on`` (a variable or several).

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> variable_depends_on(pt.exp(x), x), variable_depends_on(pt.exp(x), [y])
    (True, False)
    """
    targets = {id(v) for v in _variables(depends_on)}
    return any(id(v) in targets for v in iter_ancestors([variable]))


def apply_depends_on(apply, depends_on) -> bool:
    """Whether the node ``apply`` is, or is computed from, one of the nodes ``depends_on``.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> e = pt.exp(x)
    >>> apply_depends_on(pt.log(e).owner, e.owner), apply_depends_on(e.owner, pt.log(x).owner)
    (True, False)
    """
    targets = {id(depends_on)} if isinstance(depends_on, Apply) else {id(n) for n in depends_on}
    return id(apply) in targets or any(id(n) in targets for n in apply_ancestors(apply.inputs))


def truncated_graph_inputs(outputs, ancestors_to_include=None) -> list:
    """The variables closest to ``outputs`` that are enough to compute them without going through
    ``ancestors_to_include``; the variables of ``ancestors_to_include`` the outputs depend on are
    listed too (PyTensor's semantics). Without ``ancestors_to_include``: the distinct outputs.

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> e = pt.exp(y)
    >>> truncated_graph_inputs([x * e], [x])
    [exp(y), x]
    """
    outputs = _variables(outputs)
    result: list[Variable] = []
    seen: set[int] = set()
    if not ancestors_to_include:
        for v in outputs:
            if id(v) not in seen:
                seen.add(id(v))
                result.append(v)
        return result
    include = {id(v) for v in ancestors_to_include}
    depends = _depends_on_any(outputs, include)
    candidates = list(outputs)
    while candidates:
        v = candidates.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if id(v) in include:
            result.append(v)  # and look above it for the others it depends on
            if v.owner is not None and any(depends[id(i)] for i in v.owner.inputs):
                candidates.extend(i for i in v.owner.inputs if id(i) not in seen)
        elif depends[id(v)]:
            candidates.extend(v.owner.inputs)
        else:
            result.append(v)
    return result


def _depends_on_any(outputs, targets: set) -> dict[int, bool]:
    """For every ancestor of ``outputs`` (by id): whether it is, or is computed from, a variable
    whose id is in ``targets`` (one iterative post-order pass)."""
    out: dict[int, bool] = {}
    stack = [(v, False) for v in outputs]
    while stack:
        v, expanded = stack.pop()
        if id(v) in out:
            continue
        if v.owner is None:
            out[id(v)] = id(v) in targets
        elif expanded:
            out[id(v)] = id(v) in targets or any(out[id(i)] for i in v.owner.inputs)
        else:
            stack.append((v, True))
            stack.extend((i, False) for i in v.owner.inputs if id(i) not in out)
    return out


def iter_toposort(graphs, blockers=None):
    """PyTensor's ``toposort``: yield the :class:`Apply` nodes between ``blockers`` and
    ``graphs``, each after the nodes computing its inputs (a generator).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> e = pt.exp(x)
    >>> [n.op.name for n in iter_toposort([pt.log(e) + e])]
    ['exp', 'log', 'add']
    >>> [n.op.name for n in iter_toposort([pt.log(e) + e], blockers=[e])]
    ['log', 'add']
    """
    done = {id(b) for b in blockers} if blockers else set()
    todo = list(reversed(_variables(graphs)))
    while todo:
        v = todo.pop()
        node = v.owner
        if node is None or id(v) in done:
            continue
        pending = [i for i in node.inputs if i.owner is not None and id(i) not in done]
        if pending:
            todo.append(v)
            todo.extend(reversed(pending))
            continue
        done.add(id(v))
        yield node


def general_toposort(outputs, deps) -> list:
    """Every object reachable from ``outputs`` through ``deps(obj)`` (its dependencies, or None),
    each after its dependencies; ``ValueError`` on a cycle.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> y = pt.exp(x)
    >>> def deps(o):
    ...     if isinstance(o, Variable):
    ...         return [o.owner] if o.owner is not None else None
    ...     return list(o.inputs)
    >>> [type(o).__name__ for o in general_toposort([y], deps)]
    ['Variable', 'Apply', 'Variable']
    """
    cache: dict[int, list] = {}

    def expand(o):
        cache[id(o)] = list(deps(o) or ())
        return cache[id(o)]

    objs: dict[int, object] = {}
    clients: dict[int, dict[int, object]] = {}
    for node, children in walk(outputs, expand, bfs=False, return_children=True):
        objs[id(node)] = node
        for c in children:
            clients.setdefault(id(c), {})[id(node)] = node
    remaining = {k: len({id(c) for c in v}) for k, v in cache.items()}
    order = [objs[k] for k, n in remaining.items() if n == 0]
    head = 0
    while head < len(order):
        node = order[head]
        head += 1
        for k, client in clients.get(id(node), {}).items():
            remaining[k] -= 1
            if remaining[k] == 0:
                order.append(client)
    if len(order) != len(objs):
        raise ValueError("graph contains cycles")
    return order


def io_toposort(inputs, outputs, orderings=None) -> list:
    """The :class:`Apply` nodes between ``inputs`` and ``outputs`` in an order that computes each
    after its inputs; ``orderings`` maps a node to nodes that must come before it as well.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> e = pt.exp(x)
    >>> [n.op.name for n in io_toposort([x], [pt.log(e)])], [n.op.name for n in io_toposort([e], [pt.log(e)])]
    (['exp', 'log'], ['log'])
    """
    if not orderings:
        return list(iter_toposort(_variables(outputs), blockers=_variables(inputs)))
    blocked = {id(i) for i in _variables(inputs)}

    def deps(o):
        if isinstance(o, Apply):
            return [*o.inputs, *orderings.get(o, ())]
        if id(o) in blocked or o.owner is None:
            return None
        return [o.owner]

    return [o for o in general_toposort(_variables(outputs), deps) if isinstance(o, Apply)]


def get_var_by_name(graphs, target_var_id: str) -> tuple:
    """The variables of ``graphs`` whose ``name`` (or ``auto_name``) is ``target_var_id``.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> y = pt.exp(x)
    >>> y.name = "y"
    >>> get_var_by_name([y + 1], "x")
    (x,)
    """
    return tuple(v for v in iter_ancestors(_variables(graphs))
                 if v.name == target_var_id or v.auto_name == target_var_id)


def equal_computations(xs, ys, in_xs=None, in_ys=None, strict_dtype: bool = True) -> bool:
    """Whether each ``xs[i]`` computes the same thing as ``ys[i]``: equal ops applied to equal
    inputs, where roots are equal when identical, equal constants, or paired by ``in_xs``/``in_ys``.
    NumPy values compare with constants by value; ``strict_dtype=False`` lets constants of different
    dtypes with equal values match. Iterative.

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dvector("x"), pt.dvector("y")
    >>> equal_computations([pt.exp(x) + 1], [pt.exp(x) + 1]), equal_computations([pt.exp(x)], [pt.exp(y)])
    (True, False)
    >>> equal_computations([pt.exp(x)], [pt.exp(y)], in_xs=[x], in_ys=[y])
    True
    """
    xs, ys = list(xs), list(ys)
    if len(xs) != len(ys):
        raise ValueError("The number of graphs/Variables in each argument must match.")
    in_xs, in_ys = list(in_xs or ()), list(in_ys or ())
    if len(in_xs) != len(in_ys):
        return False
    if any(a.type.dtype != b.type.dtype or a.type.ndim != b.type.ndim for a, b in zip(in_xs, in_ys)):
        return False
    common = {(id(a), id(b)) for a, b in zip(in_xs, in_ys)}
    stack = []
    for x, y in zip(xs, ys):
        if isinstance(x, Variable) and isinstance(y, Variable):
            stack.append((x, y))
            continue
        for v in (x, y):
            if isinstance(v, Variable) and not isinstance(v, Constant):
                return False
        if not _same_values(x.data if isinstance(x, Constant) else x, y.data if isinstance(y, Constant) else y):
            return False
    seen: set[tuple[int, int]] = set()
    while stack:
        x, y = stack.pop()
        key = (id(x), id(y))
        if x is y or key in common or key in seen:
            continue
        seen.add(key)
        if (x.owner is None) != (y.owner is None):
            return False
        if x.owner is None:
            if not (isinstance(x, Constant) and isinstance(y, Constant)):
                return False
            if (strict_dtype and x.type != y.type) or not _same_values(x.data, y.data):
                return False
            continue
        nx, ny = x.owner, y.owner
        if nx.op != ny.op or len(nx.inputs) != len(ny.inputs):
            return False
        stack.extend(zip(nx.inputs, ny.inputs))
    return True


def _same_values(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    nan = a.dtype.kind in "fc" and b.dtype.kind in "fc"
    return bool(np.array_equal(a, b, equal_nan=nan))
