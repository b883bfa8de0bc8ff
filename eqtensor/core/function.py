"""``function``: compile symbolic inputs → outputs (with updates) into a callable.

>>> import numpy as np
>>> from eqtensor import function, tensor as pt
>>> a, b = pt.dscalar("a"), pt.dscalar("b")
>>> f = function([a, b], a + b)
>>> f(1.5, 2.0)
array(3.5)
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .config import config
from .errors import MissingInputError, UnusedInputError
from .fgraph import FunctionGraph
from .graph import Constant, SharedVariable, Variable, ancestors, clone_replace, graph_inputs
from .mode import get_mode


class In:
    """An input with options: ``name`` (keyword), default ``value``, ``borrow``, ``mutable``.

    >>> from eqtensor import function, In, tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> f = function([x, In(y, value=1.0)], x + y)
    >>> float(f(2.0)), float(f(2.0, y=3.0))
    (3.0, 5.0)
    """

    def __init__(self, variable, name=None, value=None, borrow=False, mutable=False, update=None):
        if not isinstance(variable, Variable) or variable.owner is not None or isinstance(variable, Constant):
            raise TypeError(f"In() wraps an input variable (not a constant or an expression), got {variable!r}")
        if mutable:
            raise NotImplementedError("In(mutable=True) is not supported: eqtensor never writes into inputs")
        if update is not None:
            raise NotImplementedError("In(update=) is not supported; use shared variables and updates=")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.borrow = borrow


class Out:
    """An output with options: ``borrow=True`` lets it alias internal memory."""

    def __init__(self, variable, borrow=False):
        self.variable = variable
        self.borrow = borrow


class Function:
    """A compiled function. Call it with positional and keyword arguments.

    Attributes: ``trust_input`` (skip argument checks for the lowest overhead), ``maker``
    (``.fgraph``, ``.original_fgraph``, ``.schedule``, ``.backend_source``, ``.report``).
    """

    def __init__(self, maker, specs, thunk, single, name):
        self.maker = maker
        self.name = name
        self.trust_input = False
        self._specs = specs
        self._thunk = thunk
        self._single = single
        fg = maker.fgraph
        self._shared = fg.shared_inputs
        self._n_out = fg.n_outputs
        self._targets = fg.update_targets
        self._names = {s.name: k for k, s in enumerate(specs) if s.name}
        self._dtypes = [np.dtype(s.variable.dtype) for s in specs]
        self._ndims = [s.variable.ndim for s in specs]
        self._static = [None if all(d is None for d in s.variable.type.shape) else s.variable.type.shape
                        for s in specs]

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if self.trust_input:
            values = args
        else:
            values = self._check_args(args, kwargs)
        outs = self._thunk(*values, *[s.container[0] for s in self._shared])
        n = self._n_out
        for target, val in zip(self._targets, outs[n:]):
            target.container[0] = val
        if self._single:
            return outs[0]
        return list(outs[:n])

    def _check_args(self, args, kwargs):
        specs = self._specs
        if len(args) > len(specs):
            raise TypeError(
                f"{self._label()} takes {len(specs)} argument(s) ({self._arg_list()}), got {len(args)}"
            )
        values = list(args) + [_MISSING] * (len(specs) - len(args))
        for key, val in kwargs.items():
            k = self._names.get(key)
            if k is None:
                raise TypeError(f"{self._label()} got an unexpected keyword argument {key!r} "
                                f"(its inputs are {self._arg_list()})")
            if values[k] is not _MISSING:
                raise TypeError(f"{self._label()} got multiple values for argument {key!r}")
            values[k] = val
        for k, spec in enumerate(specs):
            v = values[k]
            if v is _MISSING:
                if spec.value is None:
                    raise TypeError(f"{self._label()} is missing a value for input {k} ({spec.label})")
                v = spec.value
            if (isinstance(v, np.ndarray) and v.dtype is self._dtypes[k] or
                    isinstance(v, np.ndarray) and v.dtype == self._dtypes[k]) and v.ndim == self._ndims[k]:
                st = self._static[k]
                if st is not None and any(s is not None and s != d for s, d in zip(st, v.shape)):
                    raise ValueError(f"{self._label()}: bad value for input {k} ({spec.label}): expected "
                                     f"static shape {st}, got shape {v.shape}")
            else:
                v = spec.variable.type.filter(v, name=f"input {k} ({spec.label}) of {self._label()}",
                                              allow_downcast=self.maker.allow_input_downcast)
            values[k] = v
        return values

    def _label(self):
        return f"function {self.name!r}" if self.name else "function"

    def _arg_list(self):
        return ", ".join(s.label for s in self._specs) or "no inputs"

    # ------------------------------------------------------------------ helpers
    def copy(self, share_memory=False, swap=None, name=None):
        """A new function with the same graph; ``swap`` maps shared variables to replacements.

        Without ``share_memory`` or ``swap`` the copy uses fresh shared variables holding copies of
        the current values, so updates of one function do not affect the other.
        """
        swap = dict(swap or {})
        if not share_memory:
            for s in self.maker.fgraph.shared_inputs:
                if s not in swap:
                    swap[s] = SharedVariable(s.type, s.get_value(), name=s.name)
        maker = self.maker
        if swap:
            maker = maker.swapped(swap)
        f = Function(maker, self._specs, maker.thunk, self._single, name or self.name)
        f.trust_input = self.trust_input
        return f

    def optimization_report(self):
        """What the optimizer did (None in modes without optimization)."""
        return self.maker.report

    def __repr__(self):
        return f"<eqtensor.Function {self.name or ''}({self._arg_list()})>"


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


class _Spec:
    __slots__ = ("variable", "name", "value", "borrow", "label")

    def __init__(self, i: In, pos: int):
        self.variable = i.variable
        self.name = i.name
        self.value = None if i.value is None else i.variable.type.filter(
            i.value, name=f"default value of input {i.name or pos}")
        self.borrow = i.borrow
        self.label = i.name or f"<{i.variable.type}>"


class FunctionMaker:
    """Holds everything about one compilation: graphs before/after, schedule, source, report."""

    def __init__(self, fgraph, mode, allow_input_downcast):
        from ..backends import compile_fgraph

        self.original_fgraph = fgraph
        self.mode = mode
        self.allow_input_downcast = bool(allow_input_downcast)
        self.timings = {}
        t0 = time.perf_counter()
        self.report = None
        self.fgraph = fgraph
        if mode.optimize:
            from .optimize import optimize

            self.fgraph, self.report = optimize(fgraph, mode)
        t1 = time.perf_counter()
        self.thunk, self.schedule, self.backend_source, self.backend = compile_fgraph(self.fgraph, mode)
        self.timings = {"optimize": t1 - t0, "compile": time.perf_counter() - t1}

    def swapped(self, swap):
        new = object.__new__(FunctionMaker)
        new.__dict__.update(self.__dict__)
        fg = self.fgraph
        inputs = [swap.get(v, v) for v in fg.inputs]
        new.fgraph = FunctionGraph(inputs, list(fg.outputs), fg.n_explicit, fg.n_outputs,
                                   [swap.get(t, t) for t in fg.update_targets])
        return new


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def function(inputs, outputs=None, mode=None, updates=None, givens=None, no_default_updates=False,
             accept_inplace=False, name=None, rebuild_strict=True, allow_input_downcast=None,
             profile=None, on_unused_input=None, trust_input=False):
    """Compile a function from symbolic ``inputs`` to ``outputs`` (PyTensor's ``function``).

    ``outputs`` may be one variable (the call returns one array) or a list (the call returns a
    list). ``updates`` (dict or list of pairs) sets shared variables after each call, computed
    from the values before it. ``givens`` substitutes variables before compilation.
    """
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("function: inputs must be a list of variables (or In instances)")
    ins = [i if isinstance(i, In) else In(i) for i in inputs]
    seen = set()
    for k, i in enumerate(ins):
        if isinstance(i.variable, SharedVariable):
            raise TypeError(f"function: input {k} ({i.variable}) is a shared variable; shared variables "
                            f"are implicit inputs and must not be listed")
        if i.variable in seen:
            raise ValueError(f"function: input {k} ({i.variable}) is listed twice")
        seen.add(i.variable)
    single = outputs is not None and not isinstance(outputs, (list, tuple))
    outs = [] if outputs is None else _as_list(outputs)
    out_vars = []
    from .basic import as_tensor_variable

    for k, o in enumerate(outs):
        v = o.variable if isinstance(o, Out) else o
        try:
            out_vars.append(as_tensor_variable(v))
        except TypeError as e:
            raise TypeError(f"function: output {k} is not a tensor expression: {e}") from e
    # updates
    if updates is None:
        updates = []
    elif isinstance(updates, dict):
        updates = list(updates.items())
    else:
        updates = list(updates)
    targets, upd_exprs = [], []
    for target, expr in updates:
        if not isinstance(target, SharedVariable):
            raise TypeError(f"function: update target {target} is not a shared variable")
        if target in targets:
            raise ValueError(f"function: shared variable {target} has more than one update")
        expr = as_tensor_variable(expr)
        if expr.ndim != target.ndim:
            raise TypeError(f"function: update of {target} has {expr.ndim} dimensions, expected {target.ndim}")
        if expr.dtype != target.dtype:
            from .dtypes import promote
            from .ops.elemwise import cast

            if promote([expr.dtype, target.dtype]) != target.dtype and not allow_input_downcast:
                raise TypeError(f"function: update of {target} (dtype {target.dtype}) has dtype {expr.dtype}; "
                                f"cast it explicitly with .astype({target.dtype!r})")
            expr = cast(expr, target.dtype)
        targets.append(target)
        upd_exprs.append(expr)
    all_outs = out_vars + upd_exprs
    # givens
    if givens:
        pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
        replace = {}
        for old, new in pairs:
            if not isinstance(old, Variable):
                raise TypeError(f"givens: {old!r} is not a variable")
            new_v = as_tensor_variable(new)
            if new_v.dtype != old.dtype or new_v.ndim != old.ndim:
                raise TypeError(f"givens: cannot replace {old} ({old.type}) by {new_v} ({new_v.type})")
            replace[old] = new_v
        all_outs = clone_replace(all_outs, replace)
    # inputs the graph needs
    input_vars = [i.variable for i in ins]
    input_set = set(input_vars)
    leaves = graph_inputs(all_outs)
    shared_used = []
    for leaf in leaves:
        if isinstance(leaf, SharedVariable):
            shared_used.append(leaf)
        elif isinstance(leaf, Constant) or leaf in input_set:
            continue
        else:
            raise MissingInputError(
                f"function: the graph needs the input {leaf} ({leaf.type}) that is not in the inputs list "
                f"[{', '.join(map(str, input_vars))}]"
            )
    for t in targets:
        if t not in shared_used:
            shared_used.append(t)
    on_unused = on_unused_input or config.on_unused_input
    if on_unused not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused!r}")
    used = {id(v) for v in ancestors(all_outs)}
    for k, v in enumerate(input_vars):
        if id(v) not in used and on_unused != "ignore":
            msg = (f"function: input {k} ({v}) is not used to compute any output; pass "
                   f"on_unused_input='ignore' (or 'warn') to allow it")
            if on_unused == "raise":
                raise UnusedInputError(msg)
            warnings.warn(msg, stacklevel=2)
    fgraph = FunctionGraph(input_vars + shared_used, all_outs, len(input_vars), len(out_vars), targets)
    maker = FunctionMaker(fgraph, get_mode(mode), allow_input_downcast)
    specs = [_Spec(i, k) for k, i in enumerate(ins)]
    f = Function(maker, specs, maker.thunk, single, name)
    f.trust_input = bool(trust_input)
    return f
