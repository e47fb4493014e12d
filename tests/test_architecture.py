"""The architecture drawn from the imports (at the top of a module or inside a function alike): no import
circle; rag/cli.py imports nothing below rag/api.py except types and errors; no function over 60 lines in rag/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ingest", "vectorstore", "queries", "rag")
MAX_LINES = 60


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph[name].add(target if target in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names)
        graph[name] = {m for m in graph[name] if m in modules and m != name}
    return graph


def _below(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for m in graph[todo.pop()]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_no_import_circle():
    graph = _graph()
    circles = sorted(m for m in graph if m in _below(graph, m))
    assert circles == []


def test_the_packages_below_rag_do_not_import_it():
    graph = _graph()
    upward = sorted((m, t) for m, targets in graph.items() if not m.startswith("rag") for t in targets if t.startswith("rag"))
    assert upward == []


def test_the_cli_imports_nothing_below_the_api_but_types_and_errors():
    graph = _graph()
    below = _below(graph, "rag.api")
    allowed = {m for m in below if m.rsplit(".", 1)[-1] in {"types", "errors"}}
    assert sorted(graph["rag.cli"] & below - allowed) == []


def test_no_function_in_rag_is_over_60_lines():
    long = []
    for path in sorted((ROOT / "rag").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long == []
