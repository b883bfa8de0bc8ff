"""The units of a big module as rows of static tables, interpreted by the runtime's ``eq_units``.

Most units of a big graph are elementwise loops whose C function would only say: compute the
iteration shape from these operand slots, allocate the output (or reuse a dead input), run this
kernel over these operands, release these slots, and on a ``ValueError`` name these operands. Such
a unit is a *row* of the module's program ``eq_prog`` (integers; dimension maps and item sizes in
``eq_dm``, names in ``eq_str``) instead of a C function, so the module's C does not grow with the
number of such units (a chain's gradient of 10 000 units was 10 000 functions: ~15 s of compiler
time even at ``-O0``). The other units stay functions, called from the program through ``eq_fns``.

A row: ``0, f`` calls ``eq_fns[f]``; ``1, nd, kernel, name, nin, shape maps, sl[nin], out, type,
ncand, cand[ncand], nops, loop maps, sizes, sl[nops], nrel, rel[nrel], op, nerr, esl[nerr],
elb[nerr]`` is an elementwise unit (maps and sizes are offsets into ``eq_dm``; ``name``, ``op`` and
``elb`` index ``eq_str``).

>>> t = Program()
>>> t.function("eq_u3"), t.function("eq_u7")
(0, 2)
>>> t.prog, t.statement(0, 2)
([0, 0, 0, 1], 'if (eq_units(state, V, eq_prog + 0, 2, eq_fns, eq_dm, eq_kt, eq_str) < 0) goto fail;')
"""

from __future__ import annotations

from .kernels import cstr

#: the runtime's interpreter of the rows (part of the runtime text; braces doubled for str.format)
RUNTIME = r"""
/* a unit function of a module (see eq_units) */
typedef int (*eq_unit_fn)(PyObject *, eq_arr *);

/* an elementwise unit given as a row r of a module's program (see unit_table.py); *end: the next row */
static int eq_elem_row(eq_arr *V, const int *r, const int **end, const signed char *dm, const eq_kern *kt,
                       const char *const *str)
{{
    npy_intp sh[EQ_MAXD];
    const char *lb[8];
    const int nd = r[1], kern = r[2], name = r[3], nin = r[4], *sl = r + 6;
    const signed char *sdm = dm + r[5];
    const int *q = sl + nin, out = q[0], type = q[1], nc = q[2], *cand = q + 3;
    int nops, nrel, op, nerr, k;
    const int *lsl, *rel, *esl, *elb;
    const signed char *ldm, *lsz;
    q = cand + nc;
    nops = q[0]; ldm = dm + q[1]; lsz = dm + q[2]; lsl = q + 3;
    q = lsl + nops;
    nrel = q[0]; rel = q + 1;
    q = rel + nrel;
    op = q[0]; nerr = q[1]; esl = q + 2; elb = esl + nerr;
    *end = elb + nerr;
    if (eq_shape(V, str[name], nd, nin, sl, sdm, sh) < 0 || eq_make(V, out, nd, sh, type, cand, nc) < 0
        || eq_loop(V, kt[kern], NULL, nd, sh, nops, lsl, ldm, lsz, -1) < 0) {{
        for (k = 0; k < nerr && k < 8; k++) lb[k] = str[elb[k]];
        eq_operands(V, str[op], nerr < 8 ? nerr : 8, esl, lb);
        return -1;
    }}
    for (k = 0; k < nrel; k++) eq_release(&V[rel[k]]);
    return 0;
}}

/* run the n units of a module's program from row p: unit functions (fns) and elementwise rows (their
   dimension maps and sizes in dm, kernels in kt, names in str) */
static int eq_units(PyObject *state, eq_arr *V, const int *p, int n, eq_unit_fn const *fns,
                    const signed char *dm, const eq_kern *kt, const char *const *str)
{{
    int u;
    for (u = 0; u < n; u++) {{
        if (p[0] == 0) {{
            if (fns[p[1]](state, V) < 0) return -1;
            p += 2;
        }} else if (eq_elem_row(V, p, &p, dm, kt, str) < 0) return -1;
    }}
    return 0;
}}
"""


class Program:
    """A module's program being built: the rows (``prog``), dimension maps and item sizes (``dm``),
    strings (``strings``, each once) and the unit functions the rows call (``fns``)."""

    def __init__(self):
        self.prog: list[int] = []
        self.dm: list[int] = []
        self._seen: dict[tuple, int] = {}
        self.strings: dict[str, int] = {}
        self.fns: list[str] = []
        self.ends: dict[int, int] = {}  # row offset -> the next row's
        self.kernels: set[str] = set()  # the generated names of the kernels rows run

    def _row(self, values) -> int:
        at = len(self.prog)
        self.prog += values
        self.ends[at] = len(self.prog)
        return at

    def _str(self, s: str) -> int:
        return self.strings.setdefault(s, len(self.strings))

    def _maps(self, values) -> int:
        """The offset of ``values`` in ``dm`` (each sequence once)."""
        values = tuple(values)
        at = self._seen.get(values)
        if at is None:
            at = self._seen[values] = len(self.dm)
            self.dm += values
        return at

    def function(self, name: str) -> int:
        """A row calling the unit function ``name``; returns its offset."""
        self.fns.append(name)
        return self._row([0, len(self.fns) - 1])

    def elem(self, nd, kernel, name, shape_ops, out, typenum, cands, loop_ops, sizes, releases, op, errors) -> int:
        """A row of an elementwise unit (see the module docstring); ``shape_ops``/``loop_ops``:
        ``(slot, dims)`` pairs (dims: the slot's axis per loop axis, None where it broadcasts),
        ``errors``: ``(slot, label)`` pairs; returns its offset."""
        self.kernels.add(kernel)
        dims = lambda ops: self._maps(-1 if d is None else d for _, ds in ops for d in ds)  # noqa: E731
        return self._row([1, nd, kernel, self._str(name), len(shape_ops), dims(shape_ops),
                          *(s for s, _ in shape_ops), out, typenum, len(cands), *cands,
                          len(loop_ops), dims(loop_ops), self._maps(sizes), *(s for s, _ in loop_ops),
                          len(releases), *releases, self._str(op), len(errors), *(s for s, _ in errors),
                          *(self._str(lb) for _, lb in errors)])

    def statement(self, at: int, n: int) -> str:
        """The C statement running ``n`` rows from offset ``at``."""
        return f"if (eq_units(state, V, eq_prog + {at}, {n}, eq_fns, eq_dm, eq_kt, eq_str) < 0) goto fail;"

    def tables(self, kernels: dict) -> list[str]:
        """The module's static tables (after the unit functions' prototypes); ``kernels``: each
        kernel's position in the module's kernel table ``eq_kt`` by generated name."""
        strings = ", ".join(cstr(s) for s in self.strings) or "0"
        prog = ", ".join(str(kernels[v] if isinstance(v, str) else v) for v in self.prog) or "0"
        return [f"static const int eq_prog[] = {{{prog}}};",
                f"static const signed char eq_dm[] = {{{', '.join(map(str, self.dm)) or '0'}}};",
                f"static const char *const eq_str[] = {{{strings}}};",
                f"static eq_unit_fn const eq_fns[] = {{{', '.join(self.fns) or '0'}}};"]
