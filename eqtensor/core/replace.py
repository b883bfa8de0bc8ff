"""Rebuilding graphs with substitutions: :func:`clone_replace`, :func:`graph_replace`,
:func:`clone` (PyTensor's semantics; the faces are :mod:`eqtensor.graph.replace` and
:mod:`eqtensor.graph.basic`).

Graphs are immutable, so "replacing" builds new nodes for everything between the replaced
variables and the outputs; subgraphs that do not depend on a replaced variable are shared with
the original graph, not copied (a copy would be indistinguishable; :func:`clone` copies when asked
to). Nodes are rebuilt by calling their op, so every rebuilt node's type is inferred again.
Replacement values are used as they are: variables they contain are not replaced in turn.

>>> from eqtensor import tensor as pt
>>> x, y = pt.dscalar("x"), pt.dscalar("y")
>>> [z] = clone_replace([x * 2], {x: y})
>>> z.owner.inputs[0] is y
True
"""

from __future__ import annotations

from .graph import Constant, SharedVariable, Variable
from .traversal import iter_ancestors, iter_toposort
from .ops.shape_checks import specify_shape


def _pairs(replace) -> list[tuple[Variable, object]]:
    """``replace`` (a dict, pairs or None) as a list of ``(variable, replacement)``."""
    if replace is None:
        return []
    if isinstance(replace, dict):
        items = list(replace.items())
    else:
        try:
            items = [tuple(p) for p in replace]
        except TypeError:
            raise ValueError(f"replace must be a dict, a sequence of (old, new) pairs or None; got "
                             f"{type(replace).__name__} {replace!r}") from None
    for item in items:
        if len(item) != 2 or not isinstance(item[0], Variable):
            raise TypeError(f"replace keys must be symbolic variables; got {item[0]!r}")
    return items


def _as_replacement(old: Variable, new) -> Variable:
    """``new`` as a variable; a value becomes a constant of ``old``'s dtype (checked as a function
    input would be)."""
    if isinstance(new, Variable):
        return new
    return Constant(old.type.filter(new, name=f"the replacement of {old}"))


def convert_variable(old: Variable, new: Variable) -> Variable:
    """``new`` made usable in place of ``old`` (PyTensor's ``filter_variable`` with conversion).

    The dtype and number of dimensions must agree and known static lengths must not contradict
    each other (``TypeError`` otherwise). A replacement with a more specific static shape is used
    as it is (the types downstream are inferred again). Where ``old`` has a static length that
    ``new`` does not know, ``new`` goes through ``specify_shape`` (checked at run time), so the
    graph keeps its static shapes, and its broadcasting where a length is 1.

    >>> from eqtensor import tensor as pt
    >>> row, v = pt.tensor("row", shape=(1, None)), pt.dmatrix("v")
    >>> c = convert_variable(row, v)
    >>> c.type.shape, c.owner.op.name
    ((1, None), 'specify_shape')
    >>> convert_variable(pt.dvector("x"), pt.fvector("y"))
    Traceback (most recent call last):
    ...
    TypeError: Cannot convert Type float32[?] (of Variable y) into Type float64[?] (of Variable x): the dtypes differ
    """
    if new.type == old.type:
        return new
    problem = None
    if new.type.dtype != old.type.dtype:
        problem = "the dtypes differ"
    elif new.type.ndim != old.type.ndim:
        problem = "the numbers of dimensions differ"
    else:
        for d, (so, sn) in enumerate(zip(old.type.shape, new.type.shape)):
            if so is not None and sn is not None and so != sn:
                problem = f"static lengths {sn} and {so} differ along axis {d}"
                break
    if problem:
        raise TypeError(f"Cannot convert Type {new.type} (of Variable {new}) into Type {old.type} (of Variable "
                        f"{old}): {problem}")
    if all(so is None or sn is not None for so, sn in zip(old.type.shape, new.type.shape)):
        return new
    return specify_shape(new, tuple(so if sn is None else sn for so, sn in zip(old.type.shape, new.type.shape)))


def _rebuild(outputs: list, memo: dict) -> list:
    """``outputs`` with the variables whose ids are in ``memo`` replaced by their values; nodes
    between them and the outputs are rebuilt by calling their ops, the rest is shared."""
    keys = [v for v in iter_ancestors(outputs) if id(v) in memo] if memo else []
    for node in iter_toposort(outputs, blockers=keys):
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        try:
            memo[id(node.out)] = node.op(*new_inputs)
        except (TypeError, ValueError) as e:
            e.add_note(f"while rebuilding {node.op}({', '.join(str(i) for i in node.inputs)}) on the inputs "
                       f"{', '.join(f'{i} ({i.type})' for i in new_inputs)}")
            raise
    return [memo.get(id(o), o) for o in outputs]


def _fresh(v: Variable) -> Variable:
    """A new root standing for ``v``: constants are kept, a shared variable's copy shares its
    storage, any other variable becomes a new input of the same type and name."""
    if isinstance(v, Constant):
        return v
    if isinstance(v, SharedVariable):
        copy = SharedVariable(v.type, v.container[0], v.name)
        copy.container = v.container
        return copy
    return Variable(v.type, name=v.name)


def clone_replace(output, replace=None, rebuild_strict: bool = True, copy_inputs_over: bool = True):
    """``output`` (a variable or a list of them) rebuilt with the substitutions of ``replace`` (a
    dict ``{old: new}``, a sequence of pairs, or None). Returns a variable or a list, as given.

    ``rebuild_strict=True``: each replacement must fit its variable's type
    (:func:`convert_variable`: same dtype and dimensions, compatible static shapes), so the rebuilt
    graph computes the same kind of values. ``rebuild_strict=False``: any replacement is accepted
    and the nodes above it are rebuilt with whatever types it gives (an op that cannot take them
    raises). ``copy_inputs_over=False``: the roots of the result (constants excepted) are new
    variables (shared variables keep their storage).

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> z = clone_replace(x * 2 + 1, {x: y})
    >>> z.owner.inputs[0].owner.inputs[0] is y
    True
    >>> clone_replace(pt.exp(x), {x: pt.fscalar("f")}, rebuild_strict=False).dtype
    'float32'
    """
    single = isinstance(output, Variable)
    outputs = [output] if single else list(output)
    memo: dict[int, Variable] = {}
    for old, new in _pairs(replace):
        new = _as_replacement(old, new)
        memo[id(old)] = convert_variable(old, new) if rebuild_strict else new
    result = _rebuild(outputs, memo)
    if not copy_inputs_over:
        roots = {id(v): _fresh(v) for v in iter_ancestors(result) if v.owner is None}
        result = _rebuild(result, roots)
    return result[0] if single else result


def graph_replace(outputs, replace=None, *, strict: bool = True):
    """Replace variables (inputs or intermediate ones) in ``outputs`` (a variable or a list; the
    result has the same form). Every replacement must fit the type of what it replaces
    (:func:`convert_variable`; ``TypeError`` otherwise). ``strict=True`` raises ``ValueError`` when
    a replaced variable is not part of the graph of ``outputs``; ``strict=False`` ignores it.

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dvector("x"), pt.dvector("y")
    >>> e = pt.exp(x)
    >>> out = graph_replace(e.sum() + x.sum(), {e: y})
    >>> str(out)
    'add(sum{axis=(0,), keepdims=False}(y), sum{axis=(0,), keepdims=False}(x))'
    >>> graph_replace(x.sum(), {pt.exp(y): x})
    Traceback (most recent call last):
    ...
    ValueError: Some replacements were not used: {exp(y): x}
    """
    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    pairs = _pairs(replace)
    if strict and pairs:
        reached = {id(v) for v in iter_ancestors(outs)}
        unused = {old: new for old, new in pairs if id(old) not in reached}
        if unused:
            raise ValueError(f"Some replacements were not used: {unused}")
    memo = {id(old): convert_variable(old, _as_replacement(old, new)) for old, new in pairs}
    result = _rebuild(outs, memo)
    return result[0] if single else result


def clone_get_equiv(inputs, outputs, copy_inputs: bool = True, copy_orphans: bool = True, memo=None) -> dict:
    """A copy of the graph between ``inputs`` and ``outputs``: a dict from each original variable
    and :class:`Apply` node to its copy. Every node is copied; ``copy_inputs`` copies ``inputs``,
    ``copy_orphans`` the other roots (constants are never copied). Entries already in ``memo`` are
    used instead of copies.

    >>> from eqtensor import tensor as pt
    >>> x = pt.dscalar("x")
    >>> y = pt.exp(x)
    >>> equiv = clone_get_equiv([x], [y])
    >>> equiv[y] is y, equiv[y].owner.inputs[0] is equiv[x], equiv[y.owner] is equiv[y].owner
    (False, True, True)
    """
    memo = {} if memo is None else memo
    inputs = list(inputs)
    for i in inputs:
        if i not in memo:
            memo[i] = _fresh(i) if copy_inputs else i
    outputs = list(outputs)
    for node in iter_toposort(outputs, blockers=inputs):
        for i in node.inputs:
            if i not in memo:  # an orphan: a root that is not one of ``inputs``
                memo[i] = _fresh(i) if copy_orphans else i
        if node.out in memo:
            continue
        new = node.op(*[memo[i] for i in node.inputs])
        memo[node] = new.owner
        memo[node.out] = new
    for o in outputs:
        if o not in memo:
            memo[o] = _fresh(o) if copy_orphans else o
    return memo


def clone(inputs, outputs, copy_inputs: bool = True, copy_orphans=None) -> tuple[list, list]:
    """Copy the graph between ``inputs`` and ``outputs``; returns ``(new_inputs, new_outputs)``.
    ``copy_orphans`` (default: ``copy_inputs``) says whether roots outside ``inputs`` are copied.

    >>> from eqtensor import tensor as pt
    >>> x, y = pt.dscalar("x"), pt.dscalar("y")
    >>> [x2], [z2] = clone([x], [x + y])
    >>> x2 is x, z2.owner.inputs[0] is x2, z2.owner.inputs[1] is y
    (False, True, False)
    >>> [x3], [z3] = clone([x], [x + y], copy_orphans=False)
    >>> z3.owner.inputs[1] is y
    True
    """
    if copy_orphans is None:
        copy_orphans = copy_inputs
    equiv = clone_get_equiv(inputs, outputs, copy_inputs=copy_inputs, copy_orphans=copy_orphans)
    return [equiv[i] for i in inputs], [equiv[o] for o in outputs]


__all__ = ["clone", "clone_get_equiv", "clone_replace", "convert_variable", "graph_replace"]
