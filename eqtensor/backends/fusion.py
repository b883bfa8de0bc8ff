"""Scheduler-level fusion of elementwise chains into kernels.

A node joins its consumer's group when it is fusible, has a single consumer node, is not a
function output, is read by the consumer only at inputs its loop computes elementwise
(``loop_input``: not the table of a gather, the array a scatter copies, the value or dims of an
alloc), and has the consumer's output shape (elementwise consumer) or is the input of a consumer
that accepts fused producers of any shape (``absorbs``: a reduction, a softmax or argmax row
kernel, a scatter-add) — unless the group has :data:`MAX_GROUP_NODES` nodes already. The e-graph
optimizer's cost model may later decide fusion itself (by emitting fused ops); this pass then only
groups what is left.

>>> from eqtensor import tensor as pt
>>> from eqtensor.core.fgraph import FunctionGraph
>>> x = pt.dvector("x")
>>> y = pt.exp(x) * 2 + 1
>>> fg = FunctionGraph([x], [y], 1, 1)
>>> nodes = fg.toposort()
>>> groups = fusion_groups(nodes, fg.outputs, lambda n: True, lambda n: False)
>>> sorted(set(groups.values())) == [len(nodes) - 1]
True
"""

from __future__ import annotations


#: nodes of one group at most: the C compiler's time grows faster than linearly with a kernel's size
#: (a 30 000-op chain fused whole took minutes); a longer chain is cut into groups of this size
#: (each cut materializes one value), whose kernels are often identical and then compiled once
MAX_GROUP_NODES = 256


def _everywhere(node, pos) -> bool:
    return True


def fusion_groups(nodes, outputs, fusible, absorbs, loop_input=_everywhere) -> dict[int, int]:
    """Map each node index to the index of its group's root (the node emitted for the group).

    ``fusible(node)``: the node may be computed inside a fused loop. ``absorbs(node)``: the node
    (a reduction, a row kernel) may compute fused producers in its input loop.
    ``loop_input(node, pos)``: input ``pos`` of the node is read elementwise by its loop (a fused
    producer may compute it there); default: every input.
    """
    clients: dict[int, set[int]] = {}
    for k, node in enumerate(nodes):
        for i in node.inputs:
            clients.setdefault(id(i), set()).add(k)
    out_ids = {id(o) for o in outputs}
    root: dict[int, int] = {}
    size: dict[int, int] = {}  # group root -> its nodes so far
    for k in range(len(nodes) - 1, -1, -1):
        node = nodes[k]
        root[k] = k
        size[k] = 1
        out = node.out
        users = clients.get(id(out), set())
        if not fusible(node) or id(out) in out_ids or len(users) != 1:
            continue
        (c,) = users
        consumer = nodes[c]
        if not all(loop_input(consumer, pos) for pos, i in enumerate(consumer.inputs) if i is out):
            continue
        if fusible(consumer) and consumer.out.type.shape == out.type.shape:
            target = root[c]
        elif absorbs(consumer):
            target = c
        else:
            continue
        if size[target] < MAX_GROUP_NODES:
            root[k] = target
            size[target] += 1
    return root
