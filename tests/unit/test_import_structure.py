"""The import graph of Cashline's own code: no cycles, and imports inside functions only to defer.

A cycle means a helper lives in the wrong module; an import hidden inside a function to dodge one
keeps the cycle and hides it. Imports inside functions are kept for one reason only, deferring a
heavy dependency past cold start, and each says so in a comment containing "defer" on its line or
the line above. `if TYPE_CHECKING:` imports never run and are left out of the graph.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"cashline": ROOT / "shared" / "cashline", "chalicelib": ROOT / "functions" / "chalicelib"}
OWN = ("cashline", "chalicelib", "app")


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    path: Path
    line: int
    deferred: bool  # inside a function


def _module_name(path: Path) -> str:
    for package, folder in SOURCES.items():
        if path.is_relative_to(folder):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return path.stem


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for folder in SOURCES.values() for p in folder.rglob("*.py")}
    found["app"] = ROOT / "functions" / "app.py"
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def resolve(module: str | None, level: int, names: list[str]) -> list[str]:
        base = module or ""
        if level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - level + 1]
            base = ".".join([*anchor, *([module] if module else [])])
        targets = []
        for n in names:
            candidate = f"{base}.{n}" if base else n
            targets.append(candidate if candidate in known else base)
        return targets

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, in_function)
                continue
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                targets = resolve(child.module, child.level, [a.name for a in child.names])
            else:
                inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(child, inner)
                continue
            for target in targets:
                found.append(Import(name, target, path, child.lineno, in_function))

    visit(tree, False)
    return found


def _all_imports() -> list[Import]:
    known = _modules()
    return [i for name, path in known.items() for i in _imports(name, path, known)]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def test_no_import_cycles_among_own_modules() -> None:
    known = _modules()
    edges: dict[str, set[str]] = {}
    for i in _all_imports():
        if i.target in known and i.target != i.source:
            edges.setdefault(i.source, set()).add(i.target)
    assert _cycles(edges) == []


def test_imports_inside_functions_only_defer_and_say_so() -> None:
    unexplained = []
    for i in _all_imports():
        if not i.deferred:
            continue
        lines = i.path.read_text().splitlines()
        near = " ".join(lines[max(0, i.line - 3) : i.line]).lower()
        if "defer" not in near:
            unexplained.append(f"{i.path.relative_to(ROOT)}:{i.line} imports {i.target}")
    assert unexplained == []
