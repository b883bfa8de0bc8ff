"""``einsum``: the subscripts parsed, repeated labels taken as diagonals, and the operands contracted
pairwise with ``matmul`` (summed labels reduced first).

>>> import numpy as np
>>> from eqtensor import tensor as pt
>>> pt.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((3, 4))).type.shape
(2, 4)
"""

from __future__ import annotations

from ..dtypes import promote
from ..op import as_tensor_variable
from . import elemwise as E
from . import reduction as R
from .dims import _dim, _prod, _sum
from .linalg import diagonal, matmul
from .shape import reshape, transpose


def _einsum_terms(subscripts: str, ndims):
    """The label lists of the operands and of the output; ``...`` becomes labels ``('...', k)``
    (aligned from the right across operands, as NumPy broadcasts)."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, rhs = s.split("->")
        if "->" in rhs:
            raise ValueError("einsum: more than one '->' in the subscripts")
    else:
        lhs, rhs = s, None
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the subscripts name {len(terms)} operands, {len(ndims)} were given")
    parsed, ell = [], 0
    for term, nd in zip(terms, ndims):
        if term.count("...") > 1:
            raise ValueError(f"einsum: more than one ellipsis in {term!r}")
        letters = term.replace("...", "")
        if not all(c.isalpha() for c in letters):
            raise ValueError(f"einsum: invalid subscript in {term!r} (letters and one '...' only)")
        n_ell = nd - len(letters)
        if n_ell < 0 or (n_ell and "..." not in term):
            raise ValueError(f"einsum: {term!r} does not match an operand of {nd} dimensions")
        ell = max(ell, n_ell)
        parsed.append((term, n_ell))
    labels_of = []
    for term, n_ell in parsed:
        labels = []
        for part_k, part in enumerate(term.split("...")):
            if part_k == 1:
                labels.extend(("...", k) for k in range(ell - n_ell, ell))
            labels.extend(part)
        labels_of.append(labels)
    ell_labels = [("...", k) for k in range(ell)]
    if rhs is None:
        counts = {}
        for labels in labels_of:
            for lab in labels:
                counts[lab] = counts.get(lab, 0) + 1
        out = ell_labels + sorted(c for c, n in counts.items() if n == 1 and isinstance(c, str))
    else:
        if rhs.count("...") > 1 or not all(c.isalpha() for c in rhs.replace("...", "")):
            raise ValueError(f"einsum: invalid output subscripts {rhs!r}")
        if ell and "..." not in rhs:
            raise ValueError("einsum: the inputs have dimensions under '...': the output needs '...' too (as NumPy)")
        out = []
        for part_k, part in enumerate(rhs.split("...")):
            if part_k == 1:
                out.extend(ell_labels)
            out.extend(part)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: repeated label in the output {rhs!r}")
        known = {lab for labels in labels_of for lab in labels}
        for lab in out:
            if lab not in known:
                raise ValueError(f"einsum: output label {lab!r} is not in any input")
    return labels_of, out


def _einsum_diagonals(x, labels):
    """Repeated labels of one operand: their diagonal (moved last)."""
    labels = list(labels)
    while len(set(labels)) != len(labels):
        lab = next(lb for lb in labels if labels.count(lb) > 1)
        p = labels.index(lab)
        q = labels.index(lab, p + 1)
        x = diagonal(x, 0, p, q)
        labels = [lb for k, lb in enumerate(labels) if k not in (p, q)] + [lab]
    return x, labels


def _einsum_pair(a, la, b, lb, keep):
    """Contract operands ``a`` (labels ``la``) and ``b`` (``lb``), keeping the labels of ``keep``,
    with one batched matrix product."""
    # a shared label to be summed where one side broadcasts (static 1): sum the other side first
    for lab in [lb_ for lb_ in la if lb_ in lb and lb_ not in keep]:
        da, db = a.type.shape[la.index(lab)], b.type.shape[lb.index(lab)]
        if da == 1 and db != 1:
            b, lb = R.sum(b, axis=lb.index(lab)), [x for x in lb if x != lab]
        elif db == 1 and da != 1:
            a, la = R.sum(a, axis=la.index(lab)), [x for x in la if x != lab]
    batch = [lab for lab in la if lab in lb and lab in keep]
    contracted = [lab for lab in la if lab in lb and lab not in keep]
    a_only = [lab for lab in la if lab not in lb]
    b_only = [lab for lab in lb if lab not in la]
    at = transpose(a, [la.index(lab) for lab in batch + a_only + contracted])
    bt = transpose(b, [lb.index(lab) for lab in batch + contracted + b_only])
    nb = len(batch)
    a_dims = [_dim(at, d) for d in range(at.ndim)]
    b_dims = [_dim(bt, d) for d in range(bt.ndim)]
    a2 = reshape(at, tuple(a_dims[:nb]) + (_prod(a_dims[nb:nb + len(a_only)]), _prod(a_dims[nb + len(a_only):])))
    b2 = reshape(bt, tuple(b_dims[:nb]) + (_prod(b_dims[nb:nb + len(contracted)]), _prod(b_dims[nb + len(contracted):])))
    c = matmul(a2, b2)
    c_dims = [_dim(c, d) for d in range(nb)] + a_dims[nb:nb + len(a_only)] + b_dims[nb + len(contracted):]
    return reshape(c, tuple(c_dims)), batch + a_only + b_only


def einsum(subscripts, *operands, optimize=None):
    """Einstein summation, as ``np.einsum``: ``"ij,jk->ik"``, implicit output (``"ij,jk"``), ``...``
    for broadcast dimensions, repeated labels in one operand for diagonals (``"ii->i"``, ``"ii"``).
    Operands are contracted from left to right, each pair with one (batched) matrix product;
    ``optimize`` is accepted and ignored (the e-graph optimizes the result). The result has the
    operands' promoted dtype, as NumPy.

    >>> import numpy as np
    >>> from eqtensor import tensor as pt
    >>> a = np.arange(6.0).reshape((2, 3))
    >>> pt.einsum("ij,ij->i", a, a).eval()
    array([ 5., 50.])
    >>> pt.einsum("ii", np.arange(4).reshape((2, 2))).eval()
    array(3)
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the subscripts must be a string (the interleaved form is not supported)")
    ops = [as_tensor_variable(o) for o in operands]
    if not ops:
        raise ValueError("einsum needs at least one operand")
    labels_of, out = _einsum_terms(subscripts, [o.ndim for o in ops])
    dtype = promote([o.dtype for o in ops])
    size = {}
    for o, labels in zip(ops, labels_of):
        for lab, s in zip(labels, o.type.shape):
            if s is not None and s != 1:
                if size.get(lab, s) != s:
                    raise ValueError(f"einsum: label {lab if isinstance(lab, str) else '...'} has lengths "
                                     f"{size[lab]} and {s}")
                size[lab] = s
    terms = []
    for k, (o, labels) in enumerate(zip(ops, labels_of)):
        o, labels = _einsum_diagonals(o, labels)
        later = set(out) | {lab for ls in labels_of[:k] + labels_of[k + 1:] for lab in ls}
        alone = [d for d, lab in enumerate(labels) if lab not in later]
        o, labels = _sum(o, alone), [lab for lab in labels if lab in later]
        terms.append((o, labels))
    acc, la = terms[0]
    for k in range(1, len(terms)):
        b, lb = terms[k]
        keep = set(out) | {lab for _, ls in terms[k + 1:] for lab in ls}
        acc, la = _einsum_pair(acc, la, b, lb, keep)
    acc = _sum(acc, [d for d, lab in enumerate(la) if lab not in out])
    la = [lab for lab in la if lab in out]
    acc = transpose(acc, [la.index(lab) for lab in out]) if acc.ndim else acc
    return E.cast(acc, dtype)


__all__ = ["einsum"]
