"""The compiled function: :class:`Function` binds and checks its arguments (generated checks for
the common case), calls the backend's thunk once, stores the updates of shared variables and
shapes the result."""

from __future__ import annotations

import copy
import functools
import time

import numpy as np

from ..core.graph import SharedVariable, Variable
from ..core.ops.random import is_generator, unbox
from .profile import ProfileStats


class _Ambiguous:
    """Marks a keyword name shared by several inputs."""


class Function:
    """A compiled function. Call it with positional and keyword arguments.

    Attributes: ``name``, ``trust_input`` (skip the per-value checks for the lowest overhead;
    argument counts and keywords are still resolved, and arguments must be plain ``numpy.ndarray``;
    on the C backend a 0-d input also takes a NumPy scalar of its dtype, and a ``float`` if float64),
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
        # -1: every call binds its arguments (where passing an implicit input is refused)
        self._n_in = -1 if any(sp.implicit for sp in specs) else len(specs)
        self._names: dict = {}
        for k, s in enumerate(specs):
            if s.name:
                self._names[s.name] = _Ambiguous if s.name in self._names else k
        self._dtypes = [np.dtype(s.variable.dtype) for s in specs]
        types = [s.variable.type for s in specs]
        scalars = maker.backend == "c"  # its entry binds NumPy scalars and floats of 0-d inputs itself
        self._scalar_classes = [_scalar_classes(t, scalars) for t in types]
        self._valid = _make_validator(types, scalars)
        self._exact = _make_exact_check(types, scalars)
        thunk = maker.thunk if profile is None else profile.timed_thunk()
        states = [sp.storage for sp in specs if sp.stateful]  # In(update=): their updates follow the outputs
        inner_single = single and not states
        self._run = _make_runner(maker, inner_single, self._label(), thunk, [s.label for s in specs])
        self._run = _generators_returned(self._run, maker.fgraph.outputs[:maker.fgraph.n_outputs], inner_single)
        if states:
            self._run = _states_stored(self._run, states, single)
        if output_keys is not None:
            run = self._run
            self._run = lambda args: dict(zip(output_keys, run(args)))
        # the trusted call of a one-output function without shared variables can be C end to end
        self._can_be_direct = (maker.first_output is not None and inner_single and profile is None
                               and output_keys is None and not maker.fgraph.shared_inputs and self._n_in >= 0)
        self._direct_class = None
        self._plain_class = Function if profile is None else _ProfiledFunction
        self.__class__ = self._plain_class

    @property
    def trust_input(self) -> bool:
        """Skip the per-value checks and conversions in Python: arguments must be ``numpy.ndarray``
        of the declared dtype and rank (only the exact class is checked in Python: a subclass such as
        ``np.matrix`` or a list raises ``TypeError``; the compiled code still checks what it relies
        on). On the C backend a 0-d input also takes a NumPy scalar of its dtype (``np.float64(2.0)``)
        and, if float64, a Python ``float``, bound without conversion; a one-output function without
        shared variables is then called straight in C: ``f(x)`` runs no Python code at all."""
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
            if spec.implicit and values[k] is not _MISSING:
                raise TypeError(f"{self._label()}: input {k} ({spec.label}) is implicit (In(implicit=True) or a "
                                f"shared variable as its value): it takes no argument")
            if values[k] is _MISSING:
                if spec.required:
                    raise TypeError(f"{self._label()} is missing a value for input {k} ({spec.label}), "
                                    f"which has no default")
                values[k] = spec.value
        return values

    def _filter_all(self, args):
        """Convert every argument to its input's type, or raise an error naming the input."""
        out = []
        native = getattr(self.maker.thunk, "accepts", None)  # the JAX backend takes its jax.Arrays as they are
        for k, (v, spec) in enumerate(zip(args, self._specs)):
            dt = self._dtypes[k]
            if native is not None and native(v, spec.variable.type):
                out.append(v)
                continue
            v = spec.filter(v, f"input {k} ({spec.label}) of {self._label()}")
            if v.__class__ is not np.ndarray or v.dtype != dt:  # subclasses (np.matrix…), non-native byte order
                v = np.asarray(v, dtype=dt)
            out.append(v)
        return out

    def _refuse(self, args):
        """With ``trust_input``, the ``TypeError`` for the first argument that is not exactly an ndarray."""
        for k, (v, spec) in enumerate(zip(args, self._specs)):
            ok = self._scalar_classes[k]
            if v.__class__ is not np.ndarray and v.__class__ not in ok:
                cls = type(v)
                what = f"{cls.__module__}.{cls.__qualname__}"
                if isinstance(v, np.ndarray):
                    what += " (a subclass of numpy.ndarray)"
                alt = "".join(f" or {'float' if c is float else 'numpy.' + c.__name__}" for c in ok)
                raise TypeError(f"input {k} ({spec.label}) of {self._label()} must be a numpy.ndarray{alt}: "
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
        specs = self._specs if share_memory else [sp.copied() for sp in self._specs]
        f = Function(maker, specs, self._single, name, self.output_keys, profile=profile)
        f.trust_input = self.trust_input
        return f

    def _spec_of(self, key):
        """The input named ``key`` (a variable, its keyword name or its position)."""
        if isinstance(key, str):
            k = self._names.get(key)
            if k is _Ambiguous:
                raise KeyError(f"{self._label()}: several inputs are named {key!r}; use the variable")
        elif isinstance(key, Variable):
            k = next((j for j, sp in enumerate(self._specs) if sp.variable is key), None)
        else:
            k = key if isinstance(key, int) and 0 <= key < len(self._specs) else None
        if k is None:
            raise KeyError(f"{self._label()} has no input {key!r} (its inputs are {self._arg_list()})")
        return self._specs[k], k

    def __getitem__(self, key):
        """The default of input ``key`` (variable, name or position), or the state of an
        ``In(..., update=)`` input (None if it has neither)."""
        return self._spec_of(key)[0].value

    def __setitem__(self, key, value):
        """Set the value input ``key`` takes when a call does not pass it (a stateful input's state)."""
        spec, k = self._spec_of(key)
        v = spec.filter(value, f"the value of input {k} ({spec.label})")
        spec.storage[0] = v if v.__class__ is np.ndarray else np.asarray(v)
        spec.required = False

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


def _scalar_classes(t, scalars: bool) -> tuple:
    """The argument classes a 0-d input of type ``t`` takes unconverted when the backend binds
    scalars itself (``scalars``: the C backend): NumPy's scalar of its dtype, and ``float`` for
    float64."""
    if not scalars or t.ndim:
        return ()
    dt = np.dtype(t.dtype)
    return (dt.type, float) if dt == np.float64 else (dt.type,)


def _make_validator(types, scalars=False):
    """``valid(args)``: True when every argument is already a plain ndarray of its input's dtype,
    ndim and static shape, or (``scalars``) a scalar a 0-d input takes as it is (see
    :func:`_scalar_classes`); the common case, checked without a loop by generated code."""
    ns = {"ndarray": np.ndarray, "_fits": _fits}
    lines = ["def valid(args):"]
    for k, t in enumerate(types):
        ns[f"d{k}"] = np.dtype(t.dtype)
        cond = f"a.__class__ is ndarray and (a.dtype is d{k} or a.dtype == d{k}) and a.ndim == {t.ndim}"
        if any(d is not None for d in t.shape):
            ns[f"s{k}"] = t.shape
            cond += f" and _fits(s{k}, a.shape)"
        for j, cls in enumerate(_scalar_classes(t, scalars)):
            ns[f"c{k}_{j}"] = cls
            cond = f"a.__class__ is c{k}_{j} or " + cond
        lines += [f"    a = args[{k}]", f"    if not ({cond}):", "        return False"]
    lines.append("    return True")
    exec("\n".join(lines), ns)
    return ns["valid"]


def _make_exact_check(types, scalars=False):
    """``exact(args)``: True when every argument is exactly ``numpy.ndarray`` or (``scalars``) a
    scalar class its 0-d input takes (the one check made with ``trust_input``; generated without a
    loop)."""
    ns = {"ndarray": np.ndarray}
    conds = []
    for k, t in enumerate(types):
        alts = [f"args[{k}].__class__ is ndarray"]
        for j, cls in enumerate(_scalar_classes(t, scalars)):
            ns[f"c{k}_{j}"] = cls
            alts.append(f"args[{k}].__class__ is c{k}_{j}")
        conds.append(alts[0] if len(alts) == 1 else "(" + " or ".join(alts) + ")")
    exec(f"def exact(args):\n    return {' and '.join(conds) or 'True'}\n", ns)
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
    host = maker.backend != "jax"  # C/NumPy thunks take ndarrays: a value a JAX function stored is converted once

    def run(args):
        if host:
            for c in containers:
                if not isinstance(c[0], np.ndarray):
                    c[0] = np.asarray(c[0])
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


def _generators_returned(run, outputs, single):
    """``run`` returning its random generator outputs as ``numpy.random.Generator`` objects (copies;
    inside a compiled function a generator is a 0-d object array holding it)."""
    pos = [k for k, o in enumerate(outputs) if is_generator(o)]
    if not pos:
        return run

    def returns_generators(args):
        outs = run(args)
        if single:
            return copy.deepcopy(unbox(outs))
        for k in pos:
            outs[k] = copy.deepcopy(unbox(outs[k]))
        return outs
    return returns_generators


def _states_stored(run, states, single):
    """``run`` storing the values of the stateful inputs' updates (the last ``len(states)`` of its
    outputs) in their storage, returning the other outputs."""
    n = len(states)

    def stores_states(args):
        outs = run(args)
        for storage, v in zip(states, outs[-n:]):
            storage[0] = v
        return outs[0] if single else outs[:-n]
    return stores_states


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()
