"""Random variables: draws from NumPy's ``Generator`` as pure functions of a generator state.

A generator is a value like any other: a variable of :data:`random_generator_type` holds a
``numpy.random.Generator`` (inside the IR and the backends, boxed in a 0-d object array, so every
value stays an ndarray: the schedule, the NumPy backend and the C backend's slots need nothing
new). A draw is two nodes over the same inputs ``(rng, size, *params)``:

- ``random{dist}`` computes the draws: a *copy* of the generator draws them (the input generator
  is never mutated);
- ``random_next{dist}`` computes the generator after that draw (a new generator object).

Both are pure functions of their inputs, so the e-graph may treat them like any op: two nodes
with the same generator and parameters are the same value (PyTensor gives equal draws too), a
node whose generator differs is a different value. Fresh randomness comes only from a different
generator state — another shared generator, or the ``random_next`` of an earlier draw (default
updates store it between calls). The generator input is never a constant (no constant of this
type can be built), so no draw is ever constant-folded.

For PyTensor's view of a node, ``x.owner.outputs`` (and ``next_rng.owner.outputs``) is the pair
``(next_rng, x)``; each variable's own node is the one computing it (``node.out``).

The distributions (samplers, parameters, builders) are in :mod:`eqtensor.core.ops.distributions`.

>>> import numpy as np
>>> from eqtensor.core.ops.distributions import normal
>>> rng = shared_rng(np.random.default_rng(42))
>>> next_rng, x = normal(0.0, 1.0, size=(2,), rng=rng, return_next_rng=True)
>>> x.owner.outputs == (next_rng, x), x.owner.op.name, next_rng.owner.op.name
(True, 'random', 'random_next')
>>> np.allclose(x.eval(), np.random.default_rng(42).normal(0.0, 1.0, size=2))
True
"""

from __future__ import annotations

import copy
import threading
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..config import config
from ..dtypes import INT_DTYPES
from ..graph import Apply, SharedVariable, TensorType, Variable
from ..op import OPS, Op, as_tensor_variable, declare
from .shape import as_shape_vector, dimshuffle, static_entries


# ---------------------------------------------------------------------------------------------
# the generator's type and values


def box(gen: np.random.Generator) -> np.ndarray:
    """A generator as the value the IR holds: a 0-d object array containing it."""
    out = np.empty((), dtype=object)
    out[()] = gen
    return out


def unbox(value) -> np.random.Generator:
    """The generator in ``value`` (a box, or a generator itself)."""
    return value[()] if isinstance(value, np.ndarray) else value


def generator_at(gen: np.random.Generator, state: dict) -> np.random.Generator:
    """A new generator of ``gen``'s kind in ``state`` (its seed sequence shared: values here are private)."""
    bg = gen.bit_generator
    new = type(bg)(bg.seed_seq)
    new.state = state
    return np.random.Generator(new)


def copy_generator(gen: np.random.Generator) -> np.random.Generator:
    """A new generator in the same state."""
    return generator_at(gen, gen.bit_generator.state)


_scratch = threading.local()


def _scratch_copy(gen: np.random.Generator) -> np.random.Generator:
    """A per-thread generator set to ``gen``'s state (reused: the draws of a ``random`` node need a
    generator in that state, not a new object)."""
    bg = gen.bit_generator
    pool = _scratch.__dict__
    g = pool.get(type(bg))
    if g is None:
        g = pool[type(bg)] = np.random.Generator(type(bg)())
    g.bit_generator.state = bg.state
    return g


class RandomGeneratorType(TensorType):
    """The type of a random number generator (PyTensor's ``RandomGeneratorType``): one Python
    ``numpy.random.Generator``, held as a 0-d object array inside compiled functions.

    >>> random_generator_type, random_generator_type.ndim
    (RandomGeneratorType, 0)
    """

    __slots__ = ()

    def __init__(self):
        object.__setattr__(self, "dtype", "object")
        object.__setattr__(self, "shape", ())
        object.__setattr__(self, "_hash", hash(("object", ())))

    def clone(self, dtype=None, shape=None):
        if dtype not in (None, "object") or shape not in (None, ()):
            raise TypeError("a random generator type has no dtype or shape to change")
        return self

    def __call__(self, name=None):
        """A new symbolic generator input (``pt.random.rng``)."""
        return RandomGeneratorVariable(self, name=name)

    def __repr__(self):
        return "RandomGeneratorType"

    def __str__(self):
        return "RandomGenerator"

    def __reduce__(self):
        return (RandomGeneratorType, ())

    def describe_mismatch(self, value) -> str | None:
        if isinstance(unbox(value), np.random.Generator) and (not isinstance(value, np.ndarray) or value.ndim == 0):
            return None
        return f"expected a numpy.random.Generator, got {type(value).__name__}"

    def filter(self, value, *, name: str = "input", allow_downcast: bool = False) -> np.ndarray:
        """``value`` (a ``Generator`` or a box of one) as a box; TypeError for anything else."""
        if isinstance(value, np.random.RandomState):
            raise TypeError(f"{name}: numpy.random.RandomState is not supported; use numpy.random.default_rng()")
        problem = self.describe_mismatch(value)
        if problem:
            raise TypeError(f"bad value for {name}: {problem}")
        return value if isinstance(value, np.ndarray) else box(value)


#: the one generator type
random_generator_type = RandomGeneratorType()


def is_generator(v) -> bool:
    """True for a variable holding a random generator."""
    return isinstance(getattr(v, "type", None), RandomGeneratorType)


class RandomGeneratorVariable(Variable):
    """A symbolic generator. Every distribution is a method returning ``(next_rng, draws)``:
    ``next_rng, x = rng.normal(0, 1)`` (installed by :mod:`eqtensor.core.ops.distributions`).
    Using the same generator variable twice warns, as PyTensor: both uses draw the same values."""

    __slots__ = ()


def _method(fn):
    """``rng.<dist>(...)``: ``fn(..., rng=rng, return_next_rng=True)``, warning on reuse."""

    def method(self, *args, **kwargs):
        if self.tag.get("used"):
            warnings.warn(f"random generator {self} has already been used: it draws the same values again; use "
                          f"the next generator the first draw returned", UserWarning, stacklevel=2)
        return fn(*args, rng=self, return_next_rng=True, **kwargs)

    method.__name__ = method.__qualname__ = fn.__name__
    method.__doc__ = (f"``{fn.__name__}(..., rng=self, return_next_rng=True)``: ``(next_rng, draws)`` "
                      f"(see eqtensor.tensor.random.{fn.__name__}).")
    return method


def install_methods(functions: dict) -> None:
    """Give :class:`RandomGeneratorVariable` one method per distribution builder."""
    for name, fn in functions.items():
        setattr(RandomGeneratorVariable, name, _method(fn))


class RandomGeneratorSharedVariable(SharedVariable, RandomGeneratorVariable):
    """A shared generator (``shared(np.random.default_rng(seed))``, ``shared_rng``): its value is
    a ``Generator``; ``get_value()`` returns a copy unless ``borrow=True``."""

    __slots__ = ()

    def get_value(self, borrow: bool = False, return_internal_type: bool = False):
        gen = unbox(self.container[0])
        return gen if borrow else copy.deepcopy(gen)

    def set_value(self, value=None, borrow: bool = False, *, seed=None):
        """Store a new generator, or ``np.random.default_rng(seed)`` with ``seed=``."""
        if value is None:
            if seed is None:
                raise ValueError("set_value needs a numpy.random.Generator or seed=")
            value, borrow = np.random.default_rng(seed), True
        elif seed is not None:
            raise ValueError("set_value takes a generator or seed=, not both")
        value = self.type.filter(value, name=f"shared generator {self.name or self.auto_name}")
        self.container[0] = value if borrow else box(copy.deepcopy(unbox(value)))

    def __repr__(self):
        return self.name or f"RNG({unbox(self.container[0])!r})"


def shared_rng(value=None, *, seed=None, name=None, borrow=False) -> RandomGeneratorSharedVariable:
    """A shared generator (PyTensor's ``pt.random.shared_rng``): ``value`` (a ``Generator``,
    copied unless ``borrow=True``) or ``np.random.default_rng(seed)``.

    >>> import numpy as np
    >>> rng = shared_rng(seed=3, name="rng")
    >>> rng.get_value().normal() == np.random.default_rng(3).normal()
    True
    """
    if value is None:
        value, borrow = np.random.default_rng(seed), True
    elif seed is not None:
        raise ValueError("shared_rng takes a generator or seed=, not both")
    if isinstance(value, np.random.RandomState):
        raise TypeError("numpy.random.RandomState is not supported; use numpy.random.default_rng()")
    if not isinstance(value, np.random.Generator):
        raise TypeError(f"shared_rng expects a numpy.random.Generator, got {type(value).__name__}")
    return RandomGeneratorSharedVariable(random_generator_type, box(value if borrow else copy.deepcopy(value)),
                                         name=name)


def rng(name=None) -> RandomGeneratorVariable:
    """A symbolic generator input (PyTensor's ``pt.random.rng``): pass a ``Generator`` when calling.

    >>> import numpy as np, eqtensor as et
    >>> r = rng("r")
    >>> next_r, x = r.uniform(size=3)
    >>> f = et.function([r], [next_r, x])
    >>> g, draws = f(np.random.default_rng(0))
    >>> np.allclose(draws, np.random.default_rng(0).uniform(size=3)), type(g).__name__
    (True, 'Generator')
    """
    return RandomGeneratorVariable(random_generator_type, name=name)


def as_rng(x) -> Variable:
    """``x`` if it is a generator variable; a clear TypeError otherwise."""
    if is_generator(x):
        return x
    if isinstance(x, np.random.Generator):
        raise TypeError("rng= takes a generator variable, not a numpy Generator: wrap it with "
                        "eqtensor.shared(generator) or eqtensor.tensor.random.shared_rng(generator)")
    raise TypeError(f"rng= takes a random generator variable (shared_rng, rng()), got {x!r}")


# ---------------------------------------------------------------------------------------------
# the distributions' records


@dataclass(frozen=True)
class Distribution:
    """One distribution: how it draws and what it returns.

    ``sample(gen, *params, size)`` draws with NumPy (``size`` None or a tuple); ``core_ndims``:
    the number of core (non-batch) dimensions of each parameter; ``support(params)``: the static
    support shape (a tuple, None for unknown lengths); ``dtype``: the default dtype (``"floatX"``,
    an int dtype, or None: the first parameter's).
    """

    name: str
    sample: Callable
    core_ndims: tuple
    dtype: str | None = "floatX"
    support: Callable | None = None

    def out_dtype(self, params, dtype):
        base = self.default_dtype(params)
        if dtype is None:
            return base
        dtype = config.floatX if dtype == "floatX" else np.dtype(dtype).name
        if base is not None and base.startswith("float") != dtype.startswith("float"):
            raise ValueError(f"cannot change the dtype of a {self.name} draw from {base} to {dtype}")
        return dtype

    def default_dtype(self, params):
        if self.dtype == "floatX":
            return config.floatX
        return self.dtype if self.dtype is not None else params[0].dtype


#: dist name -> its record (filled by :mod:`eqtensor.core.ops.distributions`)
DISTRIBUTIONS: dict[str, Distribution] = {}
#: family -> ``make(arg)``, the record of ``"<family>:<arg>"`` (a distribution per rank of a parameter)
_FAMILIES: dict[str, Callable] = {}


def register(dist: Distribution) -> Distribution:
    DISTRIBUTIONS[dist.name] = dist
    return dist


def register_family(family: str, make: Callable) -> None:
    _FAMILIES[family] = make


def distribution(name: str) -> Distribution:
    """The record of ``name`` (``"normal"``, or ``"permutation:2"`` made by its family on first use)."""
    dist = DISTRIBUTIONS.get(name)
    if dist is None:
        family, _, arg = name.partition(":")
        if family not in _FAMILIES or not arg:
            raise ValueError(f"unknown distribution {name!r}")
        dist = register(_FAMILIES[family](arg))
    return dist


# ---------------------------------------------------------------------------------------------
# the ops


def _check_inputs(op, inputs):
    dist = distribution(op.params["dist"])
    if len(inputs) != 2 + len(dist.core_ndims):
        raise TypeError(f"{dist.name}: expects a generator, a size and {len(dist.core_ndims)} parameter(s), "
                        f"got {len(inputs)} inputs")
    rng_, size = inputs[:2]
    if not is_generator(rng_):
        raise TypeError(f"{dist.name}: the first input must be a random generator, got {rng_.type}")
    if size.ndim != 1 or size.dtype != "int64" or size.type.shape[0] is None:
        raise TypeError(f"{dist.name}: size must be an int64 vector of static length, got {size.type}")
    for k, (p, core) in enumerate(zip(inputs[2:], dist.core_ndims)):
        if p.ndim < core:
            raise TypeError(f"{dist.name}: parameter {k} needs at least {core} dimension(s), got {p.type}")
    return dist


def _broadcast(shapes, what):
    """NumPy broadcasting of static batch shapes (None = unknown length)."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(nd):
        dims = [s[len(s) - nd + d] for s in shapes if len(s) - nd + d >= 0]
        known = {x for x in dims if x is not None and x != 1}
        if len(known) > 1:
            raise ValueError(f"{what}: parameters with batch shapes {shapes} do not broadcast")
        out.append(known.pop() if known else 1 if all(x == 1 for x in dims) else None)
    return tuple(out)


def _batch_shape(dist, size, params, sized):
    batch = [p.type.shape[:p.ndim - c] for p, c in zip(params, dist.core_ndims)]
    if not sized:
        return _broadcast(batch, dist.name)
    n = size.type.shape[0]
    for k, b in enumerate(batch):
        if len(b) > n:
            raise ValueError(f"{dist.name}: size has length {n}, fewer than the {len(b)} batch dimension(s) of "
                             f"parameter {k} ({params[k].type}); size must be None or have length >= {len(b)}")
    return tuple(static_entries(size))


def _draw_infer(op, inputs):
    dist = _check_inputs(op, inputs)
    params = inputs[2:]
    shape = _batch_shape(dist, inputs[1], params, op.params["sized"])
    support = dist.support(params) if dist.support is not None else ()
    return TensorType(op.params["dtype"], shape + tuple(support))


def _next_infer(op, inputs):
    _check_inputs(op, inputs)
    return random_generator_type


def _sample(gen, size, params, dist, dtype, sized):
    shape = tuple(int(s) for s in size) if sized else None
    return np.asarray(distribution(dist).sample(gen, *params, size=shape), dtype=dtype)


class _Pending(threading.local):
    """Per thread: what the node of a draw that ran first left for the other one, by generator
    object: ``(kind wanted, generator, its state, (dist, dtype, sized, size), parameters, value)``
    (the value: the draws, or the generator's state after them)."""

    def __init__(self):
        self.entries: dict = {}


_PENDING = _Pending()
#: draws whose other node has not run yet, kept per thread (the oldest is dropped beyond)
MAX_PENDING = 8
_DRAW, _NEXT = 0, 1


def _same_params(kept, params) -> bool:
    return all(a.shape == np.shape(b) and a.dtype == np.asarray(b).dtype and np.array_equal(a, b, equal_nan=True)
               for a, b in zip(kept, params))


def _pair_perform(kind, rng_, size, params, dist, dtype, sized):
    """The value of the ``random`` (``kind`` 0: the draws) or ``random_next`` (1: the generator
    after them) node of one draw, both computed by one sampling: the node that runs first draws
    from a copy of the generator, returns its value and leaves the other's for it, which takes it
    when its inputs are equal in value (same generator object and state, size, parameters: a draw
    is a pure function of them, so an entry is never stale). A function using both nodes (draws
    with their default update) samples once per call instead of twice."""
    gen = unbox(rng_)
    state = gen.bit_generator.state
    key = (dist, dtype, sized, tuple(int(s) for s in size))
    entries = _PENDING.entries
    e = entries.get(id(gen))
    if e is not None and e[0] == kind and e[1] is gen and e[3] == key and e[2] == state and _same_params(e[4], params):
        del entries[id(gen)]
        return e[5] if kind == _DRAW else box(generator_at(gen, e[5]))
    # the draws need a generator in gen's state, not a new object (setting a state costs ~2 µs,
    # building a generator ~13 µs): the next generator is built when its node asks for it
    g = _scratch_copy(gen) if kind == _DRAW else copy_generator(gen)
    draws = _sample(g, size, params, dist, dtype, sized)
    entries.pop(id(gen), None)
    if len(entries) >= MAX_PENDING:
        del entries[next(iter(entries))]
    kept = tuple(np.array(p, copy=True) for p in params)
    entries[id(gen)] = (1 - kind, gen, state, key, kept, g.bit_generator.state if kind == _DRAW else draws)
    return draws if kind == _DRAW else box(g)


def _draw_perform(rng_, size, *params, dist, dtype, sized):
    return _pair_perform(_DRAW, rng_, size, params, dist, dtype, sized)


def _next_perform(rng_, size, *params, dist, dtype, sized):
    return _pair_perform(_NEXT, rng_, size, params, dist, dtype, sized)


def _flops(op, input_types, input_values):
    out = 1
    for d in input_types[1].shape:
        out = out * 8 if d is None else out * max(int(d), 1)
    return 30.0 * out


def _format(suffix):
    return lambda params: f"{params['dist']}_{suffix}{{{params['dtype']}}}"


_PARAMS = ("dist", "dtype", "sized")
declare("random", "random", None, _draw_infer, _draw_perform, params=_PARAMS, flops=_flops, differentiable=False,
        format=_format("rv"), doc="draws of a distribution from a copy of a generator (random{dist}(rng, size, "
                                  "*params)); see eqtensor.tensor.random")
declare("random_next", "random", None, _next_infer, _next_perform, params=_PARAMS, flops=_flops,
        differentiable=False, format=_format("next"),
        doc="the generator after the draw of random{dist} on the same inputs (its default update)")


class _RandomApply(Apply):
    """A random node as PyTensor shows it: ``outputs`` is the pair ``(next_rng, draws)`` both
    nodes of a draw share; ``out`` is the node's own variable (what the IR uses)."""

    __slots__ = ("own",)

    @property
    def out(self):
        return self.own


def _node(op, inputs, var_class):
    node = _RandomApply(op, inputs, op.defn.infer(op, inputs))
    node.own = var_class(node.outputs[0].type, node)
    return node


def _size_vector(size):
    """``size`` (None, an int, a sequence, an int vector) as ``(int64 vector, sized)``."""
    if size is None:
        return as_tensor_variable(np.zeros(0, dtype="int64")), False
    if isinstance(size, Variable) and size.ndim == 0:
        size = (size,)
    if isinstance(size, Variable) and size.dtype not in INT_DTYPES:
        raise TypeError(f"size must be None, an int or a sequence of ints, got {size.type}")
    try:
        return as_shape_vector(size, "size"), True
    except TypeError as e:
        raise TypeError(f"size must be None, an int or a sequence of ints: {e}") from None


def _expand_batch(params, core_ndims, size_len):
    """Parameters given the same number of batch dimensions (broadcastable ones added on the
    left), as PyTensor makes them explicit."""
    batch = [p.ndim - c for p, c in zip(params, core_ndims)]
    n = size_len if size_len is not None else max(batch, default=0)
    return [p if b >= n else dimshuffle(p, *(["x"] * (n - b) + list(range(p.ndim))))
            for p, b in zip(params, batch)]


def random_variable(dist_name, params, size=None, rng=None, dtype=None, name=None, return_next_rng=False):
    """The draw of distribution ``dist_name`` with ``params``: the draws (and, with
    ``return_next_rng=True``, ``(next_rng, draws)``). Without ``rng`` a new shared generator
    seeded from the operating system is used (PyTensor's behaviour)."""
    dist = distribution(dist_name)
    params = [as_tensor_variable(p) for p in params]
    rng_ = shared_rng(np.random.default_rng()) if rng is None else as_rng(rng)
    size_v, sized = _size_vector(size)
    params = _expand_batch(params, dist.core_ndims, size_v.type.shape[0] if sized else None)
    attrs = {"dist": dist_name, "dtype": dist.out_dtype(params, dtype), "sized": sized}
    inputs = (rng_, size_v, *params)
    draw = _node(Op(OPS["random"], attrs), inputs, Variable)
    nxt = _node(Op(OPS["random_next"], attrs), inputs, RandomGeneratorVariable)
    draw.outputs = nxt.outputs = (nxt.own, draw.own)
    rng_.tag["used"] = True
    x = draw.own
    if name is not None:
        x.name = name
    return (nxt.own, x) if return_next_rng else x


__all__ = ["RandomGeneratorSharedVariable", "RandomGeneratorType", "RandomGeneratorVariable", "random_generator_type",
           "rng", "shared_rng"]
