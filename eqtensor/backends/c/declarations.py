"""C texts as one shared library and the header of its users.

The runtime (:mod:`eqtensor.backends.c.prelude`) is written as C texts of ``static`` functions and
variables, as if each generated module held its own copy. :func:`split` turns them into the header a
generated module includes instead and, for each text, the definitions the library exports from it
(each text is compiled as its own translation unit: the header, then its definitions):

- preprocessor lines, type definitions and ``static inline`` functions go to the header;
- every other ``static`` function is exported by the library, the header declares its prototype;
- a ``static`` variable (``static __thread int eq_nthreads = 1;``, ``static void *eq_blas[8];``)
  is exported by the library and declared ``extern`` in the header, unless its type is an unnamed
  ``struct``: it then stays private to its translation unit.

Items are found at the top level of the text (outside braces, comments, strings and character
literals); a function definition is an item whose body follows a closing parenthesis.

>>> header, (first, second) = split([
...     "#include <math.h>\\n"
...     "static __thread int eq_n = 1;\\n"
...     "static inline int eq_twice(int x) { return 2 * x; }\\n",
...     "static int eq_f(int x) /* { */\\n{\\n    return eq_twice(x) + eq_n;\\n}\\n"])
>>> print(header, end="")
#include <math.h>
extern __thread int eq_n;
static inline int eq_twice(int x) { return 2 * x; }
int eq_f(int x) /* { */;
>>> first
'__thread int eq_n = 1;\\n'
>>> second
'int eq_f(int x) /* { */\\n{\\n    return eq_twice(x) + eq_n;\\n}\\n'
"""

from __future__ import annotations

import re

_UNNAMED_TYPE = re.compile(r"static\s+(?:struct|union|enum)\s*\{")


#: what the scan of :func:`items` stops at: comments, string and character literals, braces, and
#: at the top level semicolons and ``#`` (everything else is copied as it is)
_TOKEN = re.compile(r"/\*|//|[\"'{};#]")
_BODY_TOKEN = re.compile(r"/\*|//|[\"'{}]")
_LITERAL_END = {q: re.compile(rf"(?:[^{q}\\]|\\.)*{q}", re.S) for q in "\"'"}
_FUNCTION_HEAD = re.compile(r"\)\s*(?:/\*.*?\*/\s*)*$", re.S)


def _skip_literal(text: str, i: int, token: str) -> int:
    """The index after the comment, string or character literal ``token`` starts at ``i``."""
    if token == "/*":
        return text.index("*/", i + 2) + 2
    if token == "//":
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    end = _LITERAL_END[token].match(text, i + 1)
    if end is None:
        raise ValueError(f"unterminated C literal: {text[i:i + 80]!r}")
    return end.end()


def _preprocessor_end(text: str, i: int) -> int:
    """The end of the preprocessor line starting at ``i`` (with its continuation lines)."""
    while True:
        end = text.find("\n", i)
        if end < 0:
            return len(text)
        if text[end - 1] != "\\":
            return end + 1
        i = end + 1


def items(text: str):
    """The top-level items of C ``text``: ``(kind, text)`` with kind ``pre`` (a preprocessor line),
    ``function`` (a definition: its text up to the body, and the body) or ``declaration``."""
    i, start, depth, head_end = 0, 0, 0, None
    while (m := (_BODY_TOKEN if depth else _TOKEN).search(text, i)) is not None:
        i, c = m.start(), m.group()
        if c == "#":
            if depth == 0 and not text[start:i].strip():
                end = _preprocessor_end(text, i)
                yield "pre", text[i:end].rstrip("\n")
                i = start = end
            else:
                i += 1
            continue
        if c in ("/*", "//", '"', "'"):
            j = _skip_literal(text, i, c)
            if depth == 0 and not text[start:i].strip():  # a comment between items: dropped
                start = j
            i = j
            continue
        if c == "{":
            if depth == 0 and _FUNCTION_HEAD.search(text, start, i):
                head_end = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and head_end is not None:
                yield "function", (text[start:head_end].strip(), text[head_end:i + 1])
                start, head_end = i + 1, None
        elif depth == 0:  # ";"
            yield "declaration", text[start:i + 1].strip()
            start = i + 1
        i += 1
    if text[start:].strip():
        raise ValueError(f"unterminated C item: {text[start:start + 80]!r}")


def _without_initializer(declaration: str) -> str:
    """``declaration`` (one declarator, ending with ``;``) without its ``= initializer``."""
    depth = 0
    for k, c in enumerate(declaration):
        depth += c in "([{"
        depth -= c in ")]}"
        if c == "=" and depth == 0:
            return declaration[:k].rstrip() + ";"
    return declaration


_STATIC = re.compile(r"static\s+")
_STATIC_INLINE = re.compile(r"static\s+inline\b")


def _unstatic(head: str) -> str:
    return _STATIC.sub("", head, count=1) if _STATIC.match(head) else head


def split(texts) -> tuple[str, list[str]]:
    """``(header, definitions)`` of the runtime ``texts``: the header of them all and, for each
    text, the definitions its translation unit exports (see the module docstring)."""
    header, units = [], []
    for text in texts:
        defs = []
        for kind, item in items(text):
            if kind == "pre":
                header.append(item)
            elif kind == "function":
                head, body = item
                if _STATIC_INLINE.match(head):
                    header.append(f"{head} {body}" if "\n" not in body else f"{head}\n{body}")
                else:
                    header.append(_unstatic(head) + ";")
                    defs.append(f"{_unstatic(head)}\n{body}")
            elif not item.startswith("static"):  # typedefs, prototypes
                header.append(item)
            elif _UNNAMED_TYPE.match(item):  # private to its translation unit
                defs.append(item)
            else:
                header.append("extern " + _unstatic(_without_initializer(item)))
                defs.append(_unstatic(item))
        units.append("".join(d + "\n" for d in defs))
    return "\n".join(header) + "\n", units
