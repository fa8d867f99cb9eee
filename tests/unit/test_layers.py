"""DESIGN "Layers": services -> store -> repositories, never up, no two modules importing each other,
and no imports hidden inside functions to get around that (checked on the source, below the handlers)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOWER = ("bot.services", "bot.store", "bot.repositories", "bot.migrations")


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "bot").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("bot"))
    return out


def _lower(name: str) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in LOWER)


def test_services_store_and_repositories_import_only_downwards_and_never_in_a_function():
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if not _lower(name):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            assert not _imports(func, modules), f"{name}.{func.name} imports inside a function"
        graph[name] = {d for d in _imports(tree, modules) if d in modules and d != name}
    for name, deps in graph.items():
        up = {d for d in deps if d.startswith(("bot.handlers", "bot.flows", "bot.ui", "bot.notify", "bot.scheduler",
                                               "bot.app", "bot.sandbox"))}
        assert not up, f"{name} imports upwards: {up}"
        if name.startswith(("bot.repositories", "bot.migrations")):
            assert not {d for d in deps if d.startswith(("bot.store", "bot.services"))}, f"{name}: {deps}"
        if name == "bot.store":
            assert not {d for d in deps if d.startswith("bot.services")}, deps

    def on_a_cycle(start: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            name = todo.pop()
            if name == start:
                return True
            if name not in seen:
                seen.add(name)
                todo.extend(graph.get(name, ()))
        return False

    cycles = sorted(name for name in graph if on_a_cycle(name))
    assert not cycles, f"import cycles through {cycles}"
