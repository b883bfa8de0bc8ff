"""The import graph is the pipeline (docs/architecture.md, *Layers*).

Every import statement of the package is parsed, function-local ones included, and each edge
between eqtensor modules must point down the layers:

    core (IR)  <-  rules  <-  egraph  <-  backends (core only)  <-  compile  <-  faces

No module imports eqtensor inside a function, there is no cycle among modules, only the e-graph
bridge imports egglog, and third-party modules are imported inside functions only when they are
optional at run time (the allow-list below).
"""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "eqtensor"

#: layer name -> the layers it may import (besides itself)
ALLOWED = {
    "core": set(),
    "rules": {"core"},
    "egraph": {"core", "rules"},
    "backends": {"core"},
    "compile": {"core", "rules", "egraph", "backends"},
    "faces": {"core", "rules", "egraph", "backends", "compile"},
}

#: third-party modules that may be imported inside a function (the standard library may always be)
LOCAL_IMPORT_ALLOWED = {
    "mpmath",  # optional: high-precision references, needed only by the rule checker (test extra)
    "egglog",  # slow to import (~0.25 s) and configured by the environment first: loaded on first optimize
    "cffi",  # needed only when a C module is built
    "scipy",  # scipy.special/linalg are ~0.25 s of import time: loaded by the first node that runs them
    "jax",  # optional (the "jax" extra): loaded when the first mode="JAX" function is compiled
}

#: of those, the ones a plain install may lack (never imported at module level below the faces)
OPTIONAL = {"mpmath", "jax"}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("core", "rules", "egraph", "backends", "compile"):
        return parts[1]
    return "faces"  # eqtensor, eqtensor.tensor, gradient, printing, scan, ifelse, __main__, ...


def imports():
    """``(module, target, local, lineno)`` for every import in the package (targets resolved)."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))

        def visit(node, local):
            for child in ast.iter_child_nodes(node):
                inside = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, ast.Import):
                    out.extend((module, a.name, local, child.lineno) for a in child.names)
                elif isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = package.split(".")[: len(package.split(".")) - child.level + 1]
                        target = ".".join(base + ([child.module] if child.module else []))
                    else:
                        target = child.module
                    # ``from pkg import submodule`` is an edge to the submodule
                    for a in child.names:
                        sub = f"{target}.{a.name}"
                        is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists() or \
                            (PACKAGE.parent / sub.replace(".", "/") / "__init__.py").exists()
                        out.append((module, sub if is_module else target, local, child.lineno))
                visit(child, inside)

        visit(tree, False)
    return out


def internal(edges):
    return [e for e in edges if e[1] == "eqtensor" or e[1].startswith("eqtensor.")]


def test_the_parser_sees_the_package():
    edges = imports()
    assert len(internal(edges)) > 150
    assert ("eqtensor.compile.function", "eqtensor.egraph", False) in {e[:3] for e in edges}


def test_edges_point_down_the_layers():
    bad = []
    for module, target, _, line in internal(imports()):
        a, b = layer_of(module), layer_of(target)
        if a != b and b not in ALLOWED[a]:
            bad.append(f"{module}:{line} ({a}) imports {target} ({b})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_function_local_imports():
    """A function-local import that breaks a cycle is still a cycle: only lazy third-party loads."""
    bad = [f"{m}:{line} imports {t} inside a function" for m, t, local, line in imports()
           if local and t.split(".")[0] not in LOCAL_IMPORT_ALLOWED | set(sys.stdlib_module_names)]
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for module, target, _, _ in internal(imports()):
        if target != module:
            graph.setdefault(module, set()).add(target)
    # Tarjan-free check: depth-first search for a back edge, reporting the cycle it closes
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(root):
        work = [(root, iter(sorted(graph.get(root, ()))))]
        state[root] = 1
        stack.append(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                work.pop()
            elif state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                stack.append(nxt)
                work.append((nxt, iter(sorted(graph.get(nxt, ())))))
        return None

    for m in sorted(graph):
        if m not in state:
            cycle = dfs(m)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_bridge_imports_egglog():
    users = {m for m, t, _, _ in imports() if t.split(".")[0] == "egglog"}
    assert users == {"eqtensor.egraph.bridge"}


@pytest.mark.parametrize("layer", ["core", "rules", "backends"])
def test_lower_layers_import_no_optional_dependency_at_load(layer):
    """A plain install (no test extra) can import every module below the compile layer."""
    bad = [f"{m}:{line} imports {t}" for m, t, local, line in imports()
           if layer_of(m) == layer and not local and t.split(".")[0] in OPTIONAL]
    assert not bad, "\n".join(bad)
