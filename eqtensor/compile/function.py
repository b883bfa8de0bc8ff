"""``function``: compile symbolic inputs → outputs (with updates) into a callable; :class:`FunctionMaker`
holds one compilation (optimizer, scan bodies, backend).

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> a, b = pt.dscalar("a"), pt.dscalar("b")
>>> f = function([a, b], a + b)
>>> f(1.5, 2.0)
array(3.5)
>>> function([a, b], [a + b, a * b])(2.0, 3.0)
[array(5.), array(6.)]
"""

from __future__ import annotations

import logging
import time
import warnings

from ..core.config import config, is_slow_compile, log_compile, logger
from ..core.errors import MissingInputError, UnusedInputError
from ..core.fgraph import FunctionGraph
from ..core.graph import Constant, SharedVariable, Variable, gc_paused
from ..core.traversal import ancestors, graph_inputs, toposort
from ..core.replace import clone_replace
from .mode import get_mode
from ..backends import compile_fgraph
from ..egraph import optimize_graph
from ..egraph.deadline import Deadline
from ..egraph.report import Budget
from ..core.dtypes import promote
from ..core.op import _cast_weak, as_tensor_variable
from ..core.ops.elemwise import cast
from ..core.ops.scan import specialize_scans
from .compiled_function import Function
from .io import In, InputSpec, Out
from .profile import ProfileStats


def _compile_scan_bodies(fgraph, mode):
    """``fgraph`` with each scan's inner graph compiled for this function (with its mode; the loop
    calls the compiled thunk) and told which outputs the function reads
    (:func:`~eqtensor.core.ops.scan.specialize_scans`)."""

    step_mode = mode.for_inner_graphs()

    def compile_inner(inputs, outputs, name):
        # one thread: a step is small and runs between BLAS calls; pool workers spinning between
        # steps took the cores from them (a tanh RNN's gradient ran 20x slower on 2 cores)
        with config.change_flags(num_threads=1):
            f = function(inputs, outputs, mode=step_mode, on_unused_input="ignore", name=name)
        # no shared inputs: the thunk takes the step's arrays, returns its outputs
        return f, f.maker.thunk, f.maker.backend

    return specialize_scans(fgraph, compile_inner)


#: seconds per node the backends need after the optimizer (scheduling and code generation, on the
#: 2-core reference machine with some margin; the C compiler's own run is not part of the budget)
_CODEGEN_SECONDS_PER_NODE = {"numpy": 25e-6, "c": 30e-6}


class FunctionMaker:
    """Holds everything about one compilation: graphs before/after, schedule, source, report."""

    def __init__(self, fgraph, mode, allow_input_downcast):

        self.original_fgraph = fgraph
        self.mode = mode
        self.allow_input_downcast = allow_input_downcast
        t0 = time.perf_counter()
        self.report = None
        self.fgraph = fgraph
        with gc_paused():  # a big graph's compile allocates much; full collections would walk it all
            if mode.optimize:
                # the budget's wall time covers the whole compile: the optimizer leaves the code
                # generation its share (see Budget.seconds)
                budget = mode.budget or Budget()
                deadline = Deadline(budget.seconds, start=t0,
                                    per_node=_CODEGEN_SECONDS_PER_NODE.get(mode.backend, 0.0))
                self.fgraph, self.report = optimize_graph(fgraph, rules=mode.rules, budget=budget,
                                                          cost_model=mode.cost_model, deadline=deadline)
            self.fgraph = _compile_scan_bodies(self.fgraph, mode)
            t1 = time.perf_counter()
            (self.thunk, self.schedule, self.backend_source, self.backend,
             self.first_output) = compile_fgraph(self.fgraph, mode)
            checked = mode.wrap_thunk(self, self.thunk)
            if checked is not self.thunk:  # a checking mode (NanGuardMode, DebugMode): every call goes through it
                self.thunk, self.first_output = checked, None
        self.timings = {"optimize": t1 - t0, "backend": time.perf_counter() - t1}

    def swapped(self, swap) -> "FunctionMaker":
        """The same compiled code reading (and updating) other shared variables."""
        new = object.__new__(FunctionMaker)
        new.__dict__.update(self.__dict__)
        fg = self.fgraph
        new.fgraph = FunctionGraph([swap.get(v, v) for v in fg.inputs], list(fg.outputs), fg.n_explicit,
                                   fg.n_outputs, [swap.get(t, t) for t in fg.update_targets])
        return new

    def without_updates(self) -> "FunctionMaker":
        """A new compilation of the outputs alone (reading this maker's shared variables)."""
        fg = self.original_fgraph
        outs = fg.outputs[:fg.n_outputs]
        used = {id(v) for v in ancestors(outs)}
        shared = [s for s in fg.shared_inputs if id(s) in used]
        new = FunctionMaker(FunctionGraph(fg.inputs[:fg.n_explicit] + shared, outs, fg.n_explicit, fg.n_outputs),
                            self.mode, self.allow_input_downcast)
        return new.swapped(dict(zip(fg.shared_inputs, self.fgraph.shared_inputs)))


# ---------------------------------------------------------------------------------------------
# function()


def _pairs(x, what):
    if x is None:
        return []
    items = list(x.items()) if isinstance(x, dict) else x
    try:
        out = [tuple(p) for p in items]
    except TypeError:
        out = None
    if out is None or any(len(p) != 2 for p in out):
        raise TypeError(f"function: {what} must be a dict or a list of (variable, expression) pairs, got {x!r}")
    return out


def _check_inputs(inputs):
    if isinstance(inputs, (Variable, In)):
        raise TypeError("function: inputs must be a list of variables, even for a single input: "
                        "function([x], ...)")
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"function: inputs must be a list of variables (or In instances), got {inputs!r}")
    ins = []
    seen: set[int] = set()
    for k, i in enumerate(inputs):
        if isinstance(i, SharedVariable) or isinstance(i, In) and isinstance(i.variable, SharedVariable):
            raise TypeError(f"function: input {k} ({i if isinstance(i, Variable) else i.variable}) is a shared "
                            f"variable; shared variables are implicit inputs and must not be listed "
                            f"(use givens= to substitute one)")
        if not isinstance(i, In):
            try:
                i = In(i)
            except TypeError as e:
                raise TypeError(f"function: input {k}: {e}") from None
        if id(i.variable) in seen:
            raise ValueError(f"function: input {k} ({i.variable}) is listed twice")
        seen.add(id(i.variable))
        ins.append(i)
    return ins


def _weak_like(v, dtype, what):
    """NEP 50: a Python scalar takes the dtype it meets (when that keeps its kind: not 1.5 → int)."""

    if isinstance(v, Constant) and v.weak and promote([type(v.data.item()), dtype]) == dtype:
        return _cast_weak(what, v, dtype)
    return v


def _check_updates(updates):

    targets, exprs = [], []
    for target, expr in _pairs(updates, "updates"):
        if not isinstance(target, SharedVariable):
            raise TypeError(f"function: update target {target!r} is not a shared variable")
        if target in targets:
            raise ValueError(f"function: shared variable {target} has more than one update")
        expr = _weak_like(as_tensor_variable(expr), target.dtype, f"the update of {target}")
        if expr.ndim != target.ndim:
            raise TypeError(f"function: the update of {target} ({target.type}) has {expr.ndim} dimension(s) "
                            f"({expr.type}), expected {target.ndim}")
        if any(s is not None and d is not None and s != d for s, d in zip(target.type.shape, expr.type.shape)):
            raise ValueError(f"function: the update of {target} has static shape {expr.type.shape}, "
                             f"incompatible with {target}'s static shape {target.type.shape}")
        if expr.dtype != target.dtype:
            if promote([expr.dtype, target.dtype]) != target.dtype:
                raise TypeError(f"function: the update of {target} (dtype {target.dtype}) has dtype {expr.dtype}; "
                                f"casting would lose information: cast it with .astype({target.dtype!r})")
            expr = cast(expr, target.dtype)
        targets.append(target)
        exprs.append(expr)
    return targets, exprs


def _with_default_updates(outputs, pairs, no_default_updates):
    """``pairs`` plus ``(v, v.default_update)`` for every shared variable ``v`` the graph reads that
    has one and no explicit update, unless ``no_default_updates`` is True or lists ``v``; the
    default updates' own shared variables are searched too (PyTensor's semantics)."""
    if no_default_updates is True:
        return pairs
    skip = {id(v) for v in (no_default_updates or ())}
    done = {id(t) for t, _ in pairs}
    pairs = list(pairs)
    frontier = [v for v in list(outputs) + [e for _, e in pairs] if isinstance(v, Variable)]
    while frontier:
        found = []
        for v in graph_inputs(frontier):
            upd = getattr(v, "default_update", None)
            if upd is not None and id(v) not in done and id(v) not in skip:
                done.add(id(v))
                pairs.append((v, upd))
                found.append(upd)
        frontier = found
    return pairs


def _apply_givens(outs, givens):

    replace = {}
    for old, new in _pairs(givens, "givens"):
        if not isinstance(old, Variable) or isinstance(old, Constant):
            raise TypeError(f"function: givens: {old!r} is not a variable that can be replaced")
        new_v = _weak_like(as_tensor_variable(new), old.dtype, f"givens for {old}")
        if new_v.dtype != old.dtype or new_v.ndim != old.ndim:
            raise TypeError(f"function: givens: cannot replace {old} ({old.type}) by {new_v} ({new_v.type}): "
                            f"dtype and number of dimensions must match")
        if any(s is not None and d is not None and s != d for s, d in zip(old.type.shape, new_v.type.shape)):
            raise ValueError(f"function: givens: cannot replace {old} ({old.type}) by {new_v} ({new_v.type}): "
                             f"static shapes differ")
        replace[old] = new_v
    return clone_replace(outs, replace) if replace else outs


def _find_shared(all_outs, input_vars, targets):
    """The shared variables the graph reads (plus update targets); raise on missing inputs."""
    input_ids = {id(v) for v in input_vars}
    shared = []
    for leaf in graph_inputs(all_outs):
        if isinstance(leaf, SharedVariable):
            shared.append(leaf)
        elif not isinstance(leaf, Constant) and id(leaf) not in input_ids:
            user = next((node for node in toposort(all_outs) if any(i is leaf for i in node.inputs)), None)
            used = f", used to compute {user.out}," if user is not None else ""
            raise MissingInputError(
                f"function: the graph needs the input {leaf} ({leaf.type}){used} which is not in the inputs "
                f"list [{', '.join(map(str, input_vars))}] (nor a shared variable or a constant)")
    return shared + [t for t in targets if t not in shared]


def function(inputs, outputs=None, mode=None, updates=None, givens=None, *, name=None,
             allow_input_downcast=None, on_unused_input=None, trust_input=False, profile=False,
             no_default_updates=False, accept_inplace=False):
    """Compile a function from symbolic ``inputs`` to ``outputs`` (PyTensor's ``function``).

    ``inputs`` is a list of input variables or :class:`In`. ``outputs`` may be one variable (the
    call returns one array), a list (the call returns a list) or a dict with string keys (the
    call returns a dict). ``updates`` (dict or list of
    pairs) sets shared variables after each call, computed from the values before it. ``givens``
    substitutes variables before compilation. ``mode`` defaults to ``config.mode``.
    ``allow_input_downcast``: ``True`` accepts any cast of arguments, ``False`` only safe casts
    and exact Python scalars, ``None`` additionally Python floats into ``config.floatX`` inputs.
    ``on_unused_input``: ``"raise"`` (default, ``config.on_unused_input``), ``"warn"`` or ``"ignore"``.
    ``trust_input``: see :attr:`Function.trust_input`. ``profile=True`` records the calls in
    ``f.profile`` (:mod:`eqtensor.compile.profile`; ``f.profile.summary()`` reads it).
    ``accept_inplace`` is accepted and changes nothing: PyTensor needs it to compile graphs that
    already hold in-place ops, which may overwrite their inputs; eqtensor graphs have none and a
    compiled function never writes into its arguments.
    Shared variables with a ``default_update`` (random generators of a ``RandomStream``) are
    updated with it unless given an explicit update or ``no_default_updates`` is True or lists them.

    Each compile is logged on the ``eqtensor`` logger with its phases and their times (see
    :mod:`eqtensor.core.config`; ``config.verbose`` prints compiles slower than a second).

    >>> import eqtensor as et
    >>> from eqtensor import tensor as pt
    >>> a, b = et.shared(1.0, name="a"), et.shared(2.0, name="b")
    >>> swap = et.function([], [], updates=[(a, b), (b, a)])
    >>> swap()
    []
    >>> float(a.get_value()), float(b.get_value())
    (2.0, 1.0)
    """

    t_start = time.perf_counter()
    ins = _check_inputs(inputs)
    output_keys = None
    if isinstance(outputs, dict):
        if not all(isinstance(k, str) for k in outputs):
            raise TypeError(f"function: the keys of a dict of outputs must be strings, got {list(outputs)}")
        output_keys = tuple(sorted(outputs))
        outputs = [outputs[k] for k in output_keys]
    single = outputs is not None and not isinstance(outputs, (list, tuple))
    outs = [] if outputs is None else list(outputs) if not single else [outputs]
    out_vars = []
    for k, o in enumerate(outs):
        try:
            out_vars.append(as_tensor_variable(o.variable if isinstance(o, Out) else o))
        except TypeError as e:
            raise TypeError(f"function: output {k} is not a tensor expression: {e}") from None
    targets, upd_exprs = _check_updates(_with_default_updates(out_vars, _pairs(updates, "updates"),
                                                              no_default_updates))
    state_exprs = [i.update for i in ins if i.update is not None]  # In(update=): after the outputs
    all_outs = _apply_givens(out_vars + state_exprs + upd_exprs, givens)
    input_vars = [i.variable for i in ins]
    shared = _find_shared(all_outs, input_vars, targets)
    on_unused = on_unused_input or config.on_unused_input
    if on_unused not in ("raise", "warn", "ignore"):
        raise ValueError(f"function: on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused!r}")
    used = {id(v) for v in ancestors(all_outs)}
    for k, v in enumerate(input_vars):
        if id(v) not in used and on_unused != "ignore" and ins[k].update is None:
            msg = (f"function{f' {name!r}' if name else ''}: input {k} ({v}) is not used to compute any output "
                   f"or update; pass on_unused_input='warn' or 'ignore' to allow it")
            if on_unused == "raise":
                raise UnusedInputError(msg)
            warnings.warn(msg, stacklevel=2)
    fgraph = FunctionGraph(input_vars + shared, all_outs, len(input_vars), len(out_vars) + len(state_exprs), targets)
    t_graph = time.perf_counter()
    maker = FunctionMaker(fgraph, get_mode(mode), allow_input_downcast)
    t_maker = time.perf_counter()
    specs = [InputSpec(i, k, allow_input_downcast) for k, i in enumerate(ins)]
    timings = {"graph": t_graph - t_start, **getattr(maker, "timings", {})}
    f = Function(maker, specs, single, name, output_keys,
                 profile=ProfileStats(name, maker, timings) if profile else None)
    f.trust_input = bool(trust_input)
    t_end = time.perf_counter()
    timings["function"] = t_end - t_maker
    _log_compile(f, timings, t_end - t_start)
    return f


def _log_compile(f, timings, total):
    """One record per compile on the ``eqtensor`` logger: DEBUG, or INFO when it was slow (the
    record ``config.verbose`` prints)."""
    slow = is_slow_compile(total)
    level = logging.INFO if slow else logging.DEBUG
    if not (logger.isEnabledFor(level) or slow and config.verbose):
        return
    maker = f.maker
    phases = ", ".join(f"{k} {v:.3f} s" for k, v in timings.items())
    try:
        nodes = f" ({len(maker.original_fgraph.toposort())} -> {len(maker.fgraph.toposort())} nodes)"
    except Exception:  # noqa: BLE001  (informative only)
        nodes = ""
    log_compile(level, "compiled %s in %.3f s, mode %s, %s backend%s: %s", f._label(), total,
                getattr(maker.mode, "name", maker.mode), maker.backend, nodes, phases,
                seconds=total, phases=dict(timings))


def _eval(self, inputs_to_values: dict | None = None, **kwargs):
    """Compile (unoptimised, NumPy backend, unless ``kwargs`` say otherwise: they go to
    ``function``) and evaluate this variable. Values are keyed by variable (an intermediate one
    replaces its expression) or by input name.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> y = x * 2
    >>> float(y.eval({x: 3.0})), float(y.eval({"x": 4.0})), float((y + 1).eval({y: 5.0}))
    (6.0, 8.0, 6.0)
    """
    named = {}
    for v in graph_inputs([self]):
        named.setdefault(v.name, []).append(v)
    values = {}
    for k, value in (inputs_to_values or {}).items():
        if isinstance(k, str):
            if len(named.get(k, ())) != 1:
                raise ValueError(f"eval: {len(named.get(k, ()))} inputs of {self} are named {k!r}; key the value "
                                 f"by the variable")
            k = named[k][0]
        values[k] = value
    leaves = [k if k.owner is None else k.type(k.name) for k in values]
    kwargs = {"mode": "FAST_COMPILE", "on_unused_input": "ignore", **kwargs}
    givens = [(k, leaf) for k, leaf in zip(values, leaves) if leaf is not k] or None
    f = function(leaves, self, givens=givens, **kwargs)
    return f(*values.values())


#: ``Variable.eval`` compiles, so the compile layer gives it to the IR's variables
Variable.eval = _eval
