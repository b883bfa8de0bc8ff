"""``function``: compile symbolic inputs → outputs (with updates) into a callable.

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

import functools
import logging
import time
import warnings

import numpy as np

from ..core.config import config, is_slow_compile, log_compile, logger
from ..core.errors import MissingInputError, UnusedInputError
from ..core.fgraph import FunctionGraph
from ..core.graph import Constant, SharedVariable, Variable, ancestors, gc_paused, graph_inputs, toposort
from ..core.replace import clone_replace
from .mode import get_mode
from ..backends import compile_fgraph
from ..egraph import optimize_graph
from ..egraph.optimizer import Deadline
from ..egraph.report import Budget
from ..core.dtypes import promote
from ..core.op import _cast_weak, as_tensor_variable
from ..core.ops.elemwise import cast
from .profile import ProfileStats


class In:
    """An input with options: ``name`` (for keyword calls), default ``value``, ``borrow``.

    ``name`` defaults to the variable's name. The default ``value`` is copied at compile time
    unless ``borrow=True``.

    >>> from eqtensor import function, In, tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> f = function([x, In(y, value=1.0)], x + y)
    >>> float(f(2.0)), float(f(2.0, y=3.0)), float(f(y=4.0, x=1.0))
    (3.0, 5.0, 5.0)
    """

    def __init__(self, variable, name=None, value=None, borrow=False, mutable=False, update=None):
        if not isinstance(variable, Variable) or variable.owner is not None or isinstance(variable, Constant):
            what = (f"the constant {variable}" if isinstance(variable, Constant) else
                    f"the expression {variable}" if isinstance(variable, Variable) else
                    f"{variable!r} ({type(variable).__name__})")
            raise TypeError(f"In() wraps a symbolic input variable (e.g. pt.dvector('x')), not {what}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"In(name=) must be a string, got {name!r}")
        if mutable:
            raise NotImplementedError("In(mutable=True) is not supported: eqtensor never writes into inputs")
        if update is not None:
            raise NotImplementedError("In(update=) is not supported; use shared variables and updates=")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.borrow = borrow


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


class _Ambiguous:
    """Marks a keyword name shared by several inputs."""


class Function:
    """A compiled function. Call it with positional and keyword arguments.

    Attributes: ``name``, ``trust_input`` (skip the per-value checks for the lowest overhead;
    argument counts and keywords are still resolved, and arguments must be plain ``numpy.ndarray``),
    ``maker`` (``.fgraph``, ``.original_fgraph``, ``.mode``, ``.schedule``, ``.backend_source``,
    ``.report``, ``.timings``), ``profile`` (a :class:`~eqtensor.compile.profile.ProfileStats` when
    compiled with ``profile=True``, else None).

    >>> import numpy as np, eqtensor as et
    >>> from eqtensor import tensor as pt
    >>> x = pt.dvector("x")
    >>> f = et.function([x], x ** 2, name="square")
    >>> f.trust_input = True          # the caller promises float64 1-d arrays
    >>> f(np.array([1.0, 3.0]))
    array([1., 9.])
    """

    def __init__(self, maker, specs, single, name, output_keys=None, profile=None):
        self.maker = maker
        self.name = name
        self.profile = profile
        self._trust_input = False
        self._specs = specs
        self._single = single
        self.output_keys = output_keys  # the keys when outputs were given as a dict
        self._n_in = len(specs)
        self._names: dict = {}
        for k, s in enumerate(specs):
            if s.name:
                self._names[s.name] = _Ambiguous if s.name in self._names else k
        self._dtypes = [np.dtype(s.variable.dtype) for s in specs]
        self._valid = _make_validator([s.variable.type for s in specs])
        self._exact = _make_exact_check(len(specs))
        thunk = maker.thunk if profile is None else profile.timed_thunk()
        self._run = _make_runner(maker, single, self._label(), thunk, [s.label for s in specs])
        if output_keys is not None:
            run = self._run
            self._run = lambda args: dict(zip(output_keys, run(args)))
        # the trusted call of a one-output function without shared variables can be C end to end
        self._can_be_direct = (maker.first_output is not None and single and profile is None
                               and output_keys is None and not maker.fgraph.shared_inputs)
        self._direct_class = None
        self._plain_class = Function if profile is None else _ProfiledFunction
        self.__class__ = self._plain_class

    @property
    def trust_input(self) -> bool:
        """Skip the per-value checks and conversions in Python: arguments must be ``numpy.ndarray``
        of the declared dtype and rank (only the exact class is checked in Python: a subclass such as
        ``np.matrix`` or a list raises ``TypeError``; the compiled code still checks what it relies
        on). On the C backend, a one-output function without shared variables is then called
        straight in C: ``f(x)`` runs no Python code at all."""
        return self._trust_input

    @trust_input.setter
    def trust_input(self, value):
        self._trust_input = bool(value)
        cls = self._plain_class
        if self._trust_input and self._can_be_direct:
            if self._direct_class is None:
                direct = self.maker.first_output(functools.partial(Function.__call__, self))
                self._direct_class = type("Function", (Function,), {"__call__": staticmethod(direct),
                                                                    "__doc__": Function.__doc__})
            cls = self._direct_class
        self.__class__ = cls

    # ------------------------------------------------------------------ calling
    def __call__(self, /, *args, **kwargs):
        if kwargs or len(args) != self._n_in:
            args = self._bind(args, kwargs)
        if self._trust_input:
            if not self._exact(args):
                self._refuse(args)
        elif not self._valid(args):
            args = self._filter_all(args)
        return self._run(args)

    def _bind(self, args, kwargs):
        """Positional and keyword arguments → one value per input (defaults filled in)."""
        specs = self._specs
        if len(args) > len(specs):
            raise TypeError(f"{self._label()} takes {len(specs)} argument(s) ({self._arg_list()}), "
                            f"got {len(args)}")
        values = list(args) + [_MISSING] * (len(specs) - len(args))
        for key, val in kwargs.items():
            k = self._names.get(key)
            if k is None:
                raise TypeError(f"{self._label()} got an unexpected keyword argument {key!r} "
                                f"(its inputs are {self._arg_list()})")
            if k is _Ambiguous:
                raise TypeError(f"{self._label()}: keyword argument {key!r} is ambiguous: several inputs "
                                f"are named {key!r}; pass them by position")
            if values[k] is not _MISSING:
                raise TypeError(f"{self._label()} got multiple values for input {k} ({key})")
            values[k] = val
        for k, spec in enumerate(specs):
            if values[k] is _MISSING:
                if spec.value is None:
                    raise TypeError(f"{self._label()} is missing a value for input {k} ({spec.label}), "
                                    f"which has no default")
                values[k] = spec.value
        return values

    def _filter_all(self, args):
        """Convert every argument to its input's type, or raise an error naming the input."""
        out = []
        allow = self.maker.allow_input_downcast
        for k, (v, spec) in enumerate(zip(args, self._specs)):
            dt = self._dtypes[k]
            v = spec.variable.type.filter(v, name=f"input {k} ({spec.label}) of {self._label()}",
                                          allow_downcast=_downcast_ok(allow, v, dt.name))
            if v.__class__ is not np.ndarray or v.dtype != dt:  # subclasses (np.matrix…), non-native byte order
                v = np.asarray(v, dtype=dt)
            out.append(v)
        return out

    def _refuse(self, args):
        """With ``trust_input``, the ``TypeError`` for the first argument that is not exactly an ndarray."""
        for k, (v, spec) in enumerate(zip(args, self._specs)):
            if v.__class__ is not np.ndarray:
                cls = type(v)
                what = f"{cls.__module__}.{cls.__qualname__}"
                if isinstance(v, np.ndarray):
                    what += " (a subclass of numpy.ndarray)"
                raise TypeError(f"input {k} ({spec.label}) of {self._label()} must be a numpy.ndarray: "
                                f"trust_input=True passes arguments unconverted, got {what}; pass "
                                f"np.asarray(value) or set trust_input = False")

    def _label(self):
        return f"function {self.name!r}" if self.name else "function"

    def _arg_list(self):
        return ", ".join(s.label for s in self._specs) or "no inputs"

    # ------------------------------------------------------------------ helpers
    def copy(self, share_memory=False, swap=None, delete_updates=False, name=None):
        """A new function computing the same graph.

        Without ``share_memory`` the copy gets fresh shared variables holding copies of the current
        values, so updates of one function do not affect the other; with it both use the same
        shared variables. ``swap`` maps shared variables to replacements of the same type;
        ``delete_updates=True`` drops the updates.

        >>> import eqtensor as et
        >>> from eqtensor import tensor as pt
        >>> acc = et.shared(0.0, name="acc")
        >>> x = pt.dscalar("x")
        >>> f = et.function([x], acc, updates={acc: acc + x})
        >>> g = f.copy()
        >>> _ = g(5.0); float(acc.get_value())   # g has its own accumulator
        0.0
        """
        fg = self.maker.fgraph
        swap = dict(swap or {})
        for old, new in swap.items():
            if not isinstance(old, SharedVariable) or old not in fg.shared_inputs:
                raise ValueError(f"copy(swap=): {old} is not a shared variable used by {self._label()}")
            if not isinstance(new, SharedVariable) or new.type != old.type:
                raise TypeError(f"copy(swap=): {old} ({old.type}) must be replaced by a shared variable of the "
                                f"same type, got {new!r}" + (f" ({new.type})" if isinstance(new, Variable) else ""))
        maker = self.maker.without_updates() if delete_updates else self.maker
        if not share_memory:
            for s in maker.fgraph.shared_inputs:
                if s not in swap:
                    swap[s] = SharedVariable(s.type, s.get_value(), name=s.name)
        if swap:
            maker = maker.swapped(swap)
        name = self.name if name is None else name
        profile = None if self.profile is None else ProfileStats(name, maker, self.profile.compile_timings)
        f = Function(maker, self._specs, self._single, name, self.output_keys, profile=profile)
        f.trust_input = self.trust_input
        return f

    def get_shared(self):
        """The shared variables this function reads or updates."""
        return list(self.maker.fgraph.shared_inputs)

    def optimization_report(self):
        """What the optimizer did (None in modes without optimization)."""
        return self.maker.report

    def __repr__(self):
        return f"<eqtensor.Function {self.name or ''}({self._arg_list()})>"


class _ProfiledFunction(Function):
    """A function compiled with ``profile=True``: each call is also timed as a whole."""

    __doc__ = Function.__doc__

    def __call__(self, /, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return Function.__call__(self, *args, **kwargs)
        finally:
            self.profile.call_time += time.perf_counter() - t0


def _downcast_ok(allow, value, dtype) -> bool:
    """``allow_input_downcast`` semantics: True = any cast; None = also Python floats into floatX."""
    return allow is True or (allow is None and isinstance(value, float) and dtype == config.floatX)


def _make_validator(types):
    """``valid(args)``: True when every argument is already a plain ndarray of its input's dtype,
    ndim and static shape (the common case, checked without a loop by generated code)."""
    ns = {"ndarray": np.ndarray, "_fits": _fits}
    lines = ["def valid(args):"]
    for k, t in enumerate(types):
        ns[f"d{k}"] = np.dtype(t.dtype)
        cond = f"a.__class__ is ndarray and (a.dtype is d{k} or a.dtype == d{k}) and a.ndim == {t.ndim}"
        if any(d is not None for d in t.shape):
            ns[f"s{k}"] = t.shape
            cond += f" and _fits(s{k}, a.shape)"
        lines += [f"    a = args[{k}]", f"    if not ({cond}):", "        return False"]
    lines.append("    return True")
    exec("\n".join(lines), ns)
    return ns["valid"]


def _make_exact_check(n):
    """``exact(args)``: True when all ``n`` arguments are exactly ``numpy.ndarray`` (the one check
    made with ``trust_input``; generated without a loop)."""
    ns = {"ndarray": np.ndarray}
    cond = " and ".join(f"args[{k}].__class__ is ndarray" for k in range(n)) or "True"
    exec(f"def exact(args):\n    return {cond}\n", ns)
    return ns["exact"]


def _describe_args(arg_labels, args) -> str:
    parts = []
    for lab, a in zip(arg_labels, args):
        shape = getattr(a, "shape", None)
        parts.append(f"{lab}: {type(a).__name__}" if shape is None else
                     f"{lab}: shape {tuple(shape)} {getattr(a, 'dtype', '')}".rstrip())
    return ", ".join(parts)


def _fits(static, shape):
    """True when ``shape`` (run-time, or static with None = unknown) always fits ``static``."""
    return all(s is None or s == d for s, d in zip(static, shape))


def _make_runner(maker, single, label, thunk=None, arg_labels=()):
    """``run(values)``: call the thunk with the shared values, store the updates, shape the result.
    An exception gets a note naming the function and the arguments' shapes and dtypes."""
    thunk = maker.thunk if thunk is None else thunk
    fg = maker.fgraph
    containers = [s.container for s in fg.shared_inputs]
    n = fg.n_outputs
    if not containers:
        def run(args):
            try:
                outs = thunk(*args)
            except Exception as e:
                e.add_note(f"(raised while running {label} with {_describe_args(arg_labels, args)})"
                           if args else f"(raised while running {label})")
                raise
            return outs[0] if single else list(outs)
        return run
    targets = [t.container for t in fg.update_targets]
    # updates whose static shape the graph does not guarantee are checked before any is stored
    checks = [(n + k, t) for k, t in enumerate(fg.update_targets)
              if not _fits(t.type.shape, fg.outputs[n + k].type.shape)]

    def run(args):
        try:
            outs = thunk(*args, *[c[0] for c in containers])
        except Exception as e:
            e.add_note(f"(raised while running {label} with {_describe_args(arg_labels, args)})"
                       if args else f"(raised while running {label})")
            raise
        for k, t in checks:
            problem = t.type.describe_mismatch(outs[k])
            if problem:
                raise ValueError(f"{label}: the update of shared variable {t} does not fit it: {problem}")
        for c, v in zip(targets, outs[n:]):
            c[0] = v
        return outs[0] if single else list(outs[:n])
    return run


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


class _Spec:
    """One explicit input: variable, keyword name, default value (validated), label for messages."""

    __slots__ = ("variable", "name", "value", "label")

    def __init__(self, i: In, pos: int, allow_downcast):
        self.variable = i.variable
        self.name = i.name
        self.label = i.name or f"<{i.variable.type}>"
        if i.value is None:
            self.value = None
        else:
            v = i.variable.type.filter(i.value, name=f"the default value of input {pos} ({self.label})",
                                       allow_downcast=_downcast_ok(allow_downcast, i.value, i.variable.dtype))
            if v.__class__ is not np.ndarray:  # np.matrix…: defaults are passed unchecked with trust_input
                v = np.asarray(v)
            self.value = v if i.borrow or v is not i.value else v.copy()


def _compile_scan_bodies(fgraph) -> None:
    """Compile the inner graph of each scan (NumPy backend, optimized) before the backend runs it."""

    def compile_inner(inputs, outputs, name):
        return function(inputs, outputs, mode="NUMPY", on_unused_input="ignore", name=name)

    for node in fgraph.toposort():
        if node.op.name == "scan":
            node.op.params["inner"].compile_with(compile_inner)


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
            _compile_scan_bodies(self.fgraph)
            t1 = time.perf_counter()
            (self.thunk, self.schedule, self.backend_source, self.backend,
             self.first_output) = compile_fgraph(self.fgraph, mode)
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
             allow_input_downcast=None, on_unused_input=None, trust_input=False, profile=False):
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
    targets, upd_exprs = _check_updates(updates)
    all_outs = _apply_givens(out_vars + upd_exprs, givens)
    input_vars = [i.variable for i in ins]
    shared = _find_shared(all_outs, input_vars, targets)
    on_unused = on_unused_input or config.on_unused_input
    if on_unused not in ("raise", "warn", "ignore"):
        raise ValueError(f"function: on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused!r}")
    used = {id(v) for v in ancestors(all_outs)}
    for k, v in enumerate(input_vars):
        if id(v) not in used and on_unused != "ignore":
            msg = (f"function{f' {name!r}' if name else ''}: input {k} ({v}) is not used to compute any output "
                   f"or update; pass on_unused_input='warn' or 'ignore' to allow it")
            if on_unused == "raise":
                raise UnusedInputError(msg)
            warnings.warn(msg, stacklevel=2)
    fgraph = FunctionGraph(input_vars + shared, all_outs, len(input_vars), len(out_vars), targets)
    t_graph = time.perf_counter()
    maker = FunctionMaker(fgraph, get_mode(mode), allow_input_downcast)
    t_maker = time.perf_counter()
    specs = [_Spec(i, k, allow_input_downcast) for k, i in enumerate(ins)]
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
    """Compile (unoptimised, NumPy backend) and evaluate this variable (``kwargs`` go to ``function``).

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> float((x * 2).eval({x: 3.0}))
    6.0
    """
    inputs_to_values = dict(inputs_to_values or {})
    inputs = list(inputs_to_values)
    f = function(inputs, self, mode="FAST_COMPILE", on_unused_input="ignore", **kwargs)
    return f(*[inputs_to_values[i] for i in inputs])


#: ``Variable.eval`` compiles, so the compile layer gives it to the IR's variables
Variable.eval = _eval
