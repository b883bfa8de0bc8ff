"""The JAX backend: the scheduled graph traced into one ``jax.jit`` function (``mode="JAX"``).

Each op is lowered by the tables of :mod:`~eqtensor.backends.jax.trace` (``LOWERINGS`` and
``IN_CONTEXT``; the ops it does not lower would be in ``NOT_LOWERED`` with the reason). The compiled
thunk takes the explicit inputs then the shared values and returns the outputs then the update
values, as the other backends do, but as ``jax.Array``s: they stay on their devices (and keep their
sharding) until the caller converts them (``np.asarray``).

- **64-bit**: a graph with a 64-bit value is traced and called inside ``jax.enable_x64(True)``;
  the process-wide ``jax_enable_x64`` flag is never changed (:mod:`.runtime`).
- **Static inputs**: JAX traces with static shapes. Function inputs that decide a shape (a reshape
  target, slice bounds, a mask, repeat counts) are passed as static arguments: each new value of
  them traces and compiles again.
- **Shared state**: shared values come in as arguments and their updates go out as results; the
  buffers of updated shared variables are donated to the call (XLA may write the new value in
  place), except when the same buffer is also passed as another argument.
- **Run-time checks**: a program with a ``check`` is traced through ``checkify``; a failed check
  raises ``AssertionError`` after the call, and the program donates no buffer (:mod:`.checks`).
- **Probes**: the lengths decided by values (an ``until`` scan's steps, a ``unique``'s length) are
  found by probe calls before the program runs (:mod:`.scan`, :mod:`.unique`).
- **Sharding**: ``compile_schedule(..., sharding={input name or variable: jax.sharding.Sharding})``
  places those inputs (explicit or shared) with ``jax.device_put`` before each call; ``jax.Array``
  inputs that are already sharded keep their sharding, and XLA propagates it to the outputs.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> x = pt.dvector("x")
>>> f = function([x], pt.log(1 + pt.exp(x)), mode="JAX")   # doctest: +SKIP
>>> np.asarray(f(np.array([-1000.0, 0.0, 1000.0])))         # doctest: +SKIP
array([0.        , 0.69314718, 1000.        ])
"""

from __future__ import annotations

import numpy as np

from ..schedule import Schedule
from . import runtime
from .runtime import EXTRA, JaxUnavailable, available
from ...core.ops.random import is_generator
from .checks import checked, has_checks, raise_failed
from .errors import CountNeeded, LoweringError
from .random import generator_from, key_data
from .scan import inner_schedule, needs_count
from .static import static_leaves
from .trace import IN_CONTEXT, LOWERINGS, NOT_LOWERED, Trace, lowers, run_schedule, value


class _Static:
    """A value passed to the jitted function as a static argument (hashable by content)."""

    __slots__ = ("value", "_key")

    def __init__(self, value):
        self.value = np.asarray(value)
        self._key = (self.value.dtype.str, self.value.shape, self.value.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _Static) and self._key == other._key


def resolve_sharding(sharding, inputs) -> dict:
    """``{input position: jax.sharding.Sharding}`` from a mapping keyed by input names or variables."""
    if not sharding:
        return {}
    out = {}
    items = sharding.items() if hasattr(sharding, "items") else sharding
    for key, where in items:
        hits = [k for k, v in enumerate(inputs) if v is key or (isinstance(key, str) and v.name == key)]
        if not hits:
            names = [v.name or str(v) for v in inputs]
            raise ValueError(f"sharding: {key!r} is not an input of the function (its inputs, shared ones "
                             f"included: {names})")
        if not isinstance(where, runtime.jax.sharding.Sharding):
            raise TypeError(f"sharding: the value for {key!r} must be a jax.sharding.Sharding (e.g. "
                            f"NamedSharding(mesh, PartitionSpec('batch'))), got {type(where).__name__}")
        for k in hits:
            out[k] = where
    return out


def _traced(schedule: Schedule, static: tuple, check: bool):
    """The function JAX traces: ``traced(*inputs, counts)`` (``counts``: the numbers found by probes,
    :class:`Trace`) returns the outputs, or ``{"count": n}`` from a probe; with ``check``, as
    ``(error, results)`` (:mod:`.checks`)."""
    inputs, outputs = list(schedule.inputs), list(schedule.outputs)
    static_set = set(static)

    def traced(*args):
        *args, counts = args

        def run(*dynamic):
            it = iter(dynamic)
            env = {id(v): (a.value if k in static_set else next(it)) for k, (v, a) in enumerate(zip(inputs, args))}
            try:
                run_schedule(schedule, env, Trace(counts))
            except CountNeeded as probe:
                return {"count": probe.count}
            return tuple(value(env, o) for o in outputs)

        return (checked(run) if check else run)(*(a for k, a in enumerate(args) if k not in static_set))

    return traced


def _listing(schedule: Schedule, static, donate, x64, check) -> str:
    names = {id(v): v.name or f"in{k}" for k, v in enumerate(schedule.inputs)}
    lines = [f"# jax.jit of {len(schedule.nodes)} nodes; static arguments {list(static)}, donated {list(donate)}, "
             f"x64 {'on' if x64 else 'off'}{', checkify' if check else ''}",
             f"def traced({', '.join(names[id(v)] for v in schedule.inputs)}):"]
    for k, node in enumerate(schedule.nodes):
        names[id(node.out)] = f"v{k}"
        args = ", ".join(names.get(id(i), repr(i)) for i in node.inputs)
        lines.append(f"    v{k} = {node.op!r}({args})")
    lines.append(f"    return ({', '.join(names.get(id(o), repr(o)) for o in schedule.outputs)},)")
    return "\n".join(lines) + "\n"


def _all_nodes(schedule) -> list:
    """The nodes of the schedule and of its scans' steps."""
    out = []
    for node in schedule.nodes:
        out.append(node)
        if node.op.name == "scan":
            out += _all_nodes(inner_schedule(node.op.params["inner"]))
    return out


def _graph_variables(schedule):
    """Every variable of the schedule and of its scans' steps (they decide whether x64 is on)."""
    out = list(schedule.inputs) + list(schedule.outputs)
    for node in _all_nodes(schedule):
        out += [node.out, *node.inputs]
    return out


def _probes(schedule) -> int:
    """At most how many probes a call runs: one per ``until`` scan call whose number of steps is
    needed, one per input (and axis) of a ``unique`` (fewer when values are known while tracing)."""
    keys = set()
    for n in schedule.nodes:
        if n.op.name == "scan" and needs_count(n.op.params["inner"]):
            keys.add((id(n.op.params["inner"]), tuple(map(id, n.inputs))))
        elif n.op.name == "unique":
            keys.add((id(n.inputs[0]), n.op.params["axis"]))
    return len(keys)


def compile_schedule(schedule: Schedule, sharding=None):
    """``(thunk, source, info)`` for ``schedule``; ``sharding`` as in the module docstring."""
    jax = runtime.load()
    fg = schedule.fgraph
    static = tuple(sorted(k for k, v in enumerate(fg.inputs) if id(v) in static_leaves(schedule.nodes)))
    targets = {id(t) for t in fg.update_targets}
    check = has_checks(_all_nodes(schedule))
    donate = () if check else tuple(k for k, v in enumerate(fg.inputs)
                                    if k >= fg.n_explicit and id(v) in targets and k not in static)
    x64 = runtime.needs_x64(_graph_variables(schedule))
    traced = _traced(schedule, static, check)
    counts_arg = (len(fg.inputs),)
    jitted = jax.jit(traced, static_argnums=static + counts_arg, donate_argnums=donate)
    plain = jax.jit(traced, static_argnums=static + counts_arg) if donate else jitted
    thunk = _Thunk(jitted, plain, static, tuple(resolve_sharding(sharding, fg.inputs).items()), x64,
                   [k for k, v in enumerate(fg.inputs) if is_generator(v)],
                   [k for k, v in enumerate(fg.outputs) if is_generator(v)], _probes(schedule), check)
    info = {"static": static, "donated": donate, "x64": x64, "probes": thunk.probes, "checked": check}
    return thunk, _listing(schedule, static, donate, x64, check), info


class _Thunk:
    """The compiled function: arguments made static, placed or turned into keys, probes run,
    then one call of the jitted program, failed checks raised; generator results made NumPy
    generators again."""

    def __init__(self, jitted, plain, static, placements, x64, rng_in, rng_out, probes, check):
        self.jitted, self.plain, self.static, self.placements = jitted, plain, static, placements
        self.x64, self.rng_in, self.rng_out, self.probes, self.check = x64, rng_in, rng_out, probes, check
        self.prepare = bool(static or placements or rng_in)
        self.Array, self.device_put = runtime.jax.Array, runtime.jax.device_put

    def _arguments(self, args):
        args = list(args)
        for k in self.static:
            args[k] = _Static(args[k])
        for k in self.rng_in:
            args[k] = key_data(args[k])
        for k, where in self.placements:
            a = args[k]
            if not (isinstance(a, self.Array) and a.sharding == where):
                args[k] = self.device_put(a, where)
        return args

    def __call__(self, *args):
        fn = self.jitted
        if fn is not self.plain and len({id(a) for a in args}) != len(args):
            fn = self.plain  # one buffer passed twice: donating it would delete it under the other argument
        with runtime.jax.enable_x64(self.x64):  # placing a float64 value outside it would make it float32
            if self.prepare:
                args = self._arguments(args)
            counts, out = (), None
            for _ in range(self.probes):
                out = self._run(self.plain, args, counts)
                if not isinstance(out, dict):
                    break  # no more count needed (values known while tracing): that call ran the program
                counts, out = counts + (int(out["count"]),), None
            if out is None:
                out = self._run(fn, args, counts)
        if self.rng_out:
            out = list(out)
            for k in self.rng_out:
                out[k] = generator_from(out[k])
        return out

    def _run(self, fn, args, counts):
        out = fn(*args, counts)
        if self.check:
            error, out = out
            raise_failed(error)
        return out

    def accepts(self, value, type) -> bool:
        return accepts(value, type)


def accepts(value, type) -> bool:
    """True when ``value`` is a ``jax.Array`` the thunk takes as it is for an input of ``type``
    (same dtype and rank, static lengths respected): it is not copied to NumPy, and keeps its devices."""
    Array = runtime.jax.Array
    return (isinstance(value, Array) and value.dtype == type.dtype and value.ndim == type.ndim
            and all(s is None or s == d for s, d in zip(type.shape, value.shape)))


__all__ = ["EXTRA", "IN_CONTEXT", "JaxUnavailable", "LOWERINGS", "LoweringError", "NOT_LOWERED", "accepts", "available",
           "lowers", "compile_schedule", "resolve_sharding"]
