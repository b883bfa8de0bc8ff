"""Walking graphs: topological orders, ancestors, leaves, and PyTensor's traversal helpers (faces:
``eqtensor.graph.traversal``), and the comparison of two graphs (:func:`equal_computations`).

Every walk is iterative (an explicit stack or queue), so graphs thousands of nodes deep are fine.

>>> from eqtensor import tensor as pt
>>> x = pt.dvector("x")
>>> [n.op.name for n in toposort([pt.exp(x).sum()])]
['exp', 'sum']
>>> graph_inputs([pt.exp(x) + 1])
[x, 1.0]
"""

from __future__ import annotations

import numpy as np

from .graph import Apply, Constant, SharedVariable, Variable


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
