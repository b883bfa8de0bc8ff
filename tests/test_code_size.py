"""Size budgets of the code base (the architecture issue's bar).

A module over ``MAX_MODULE_LINES`` holds more than one thing: split it by what it holds. A function
of the compiler paths (the e-graph layer, the backends, the compile layer, the rule language) over
``MAX_FUNCTION_LINES`` lines of code (its docstring not counted) hides steps that deserve names.
Rule and op tables (``_build`` functions of rule sets, declarations) are data and are not in the
compiler paths.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "eqtensor"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
COMPILER_PATHS = ("egraph", "backends", "compile", "rules/language.py")


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _code_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    total = fn.end_lineno - fn.lineno + 1
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        total -= first.end_lineno - first.lineno + 1
    return total


def _in_compiler_paths(path: Path) -> bool:
    rel = path.relative_to(PACKAGE).as_posix()
    return any(rel == p or rel.startswith(p + "/") for p in COMPILER_PATHS)


def test_no_module_over_budget():
    over = {}
    for path in _modules():
        n = len(path.read_text().splitlines())
        if n > MAX_MODULE_LINES:
            over[path.relative_to(PACKAGE).as_posix()] = n
    assert not over, f"modules over {MAX_MODULE_LINES} lines (split them by what they hold): {over}"


def test_no_long_function_in_compiler_paths():
    over = {}
    for path in _modules():
        if not _in_compiler_paths(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _code_lines(node)
                if n > MAX_FUNCTION_LINES:
                    over[f"{path.relative_to(PACKAGE).as_posix()}:{node.name}"] = n
    assert not over, f"compiler-path functions over {MAX_FUNCTION_LINES} lines: {over}"


def test_the_budgets_see_the_package():
    """The walk finds the package and its compiler paths (a moved package would make both tests vacuous)."""
    modules = _modules()
    assert len(modules) > 50
    assert sum(_in_compiler_paths(p) for p in modules) > 15
