"""DESIGN "Layers": imports go down the list and no two modules import each other.

Every import of bot/ is read with ast — at module level and inside functions alike (an import
moved into a function still ties the two modules together) — except those under
`if TYPE_CHECKING:`, which only annotate and never run. Below the handlers (services, store,
repositories, migrations) no import may sit inside a function at all; above them one may, with a
comment saying why."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOWER = ("bot.services", "bot.store", "bot.repositories", "bot.migrations")
BOT = ROOT / "bot"

# Lower number = lower layer. A module may import its own layer or below, never above.
LAYERS = {
    "bot.handlers": 5, "bot.flows": 5,
    "bot.ui": 4,
    "bot.notify": 3,
    "bot.services": 2,
    "bot.store": 1,
    "bot.repositories": 0, "bot.render": 0,
}
KNOWN_CYCLES: list[frozenset[str]] = []  # none: keep it that way


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in BOT.rglob("*.py") if "assets" not in p.parts}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported bot module, line, inside a function) for every runtime import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def target(mod: str) -> str | None:
        while mod and mod not in modules:  # `import bot.x.y` of a package attribute: its module
            mod = mod.rpartition(".")[0]
        return mod or None

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    visit(sub, in_function)
                continue
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("bot.") and (mod := target(alias.name)):
                        found.append((mod, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1]
                                    + ([child.module] if child.module else []))
                if not (base == "bot" or base.startswith("bot.")):
                    continue
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    mod = sub if sub in modules else target(base)
                    if mod:
                        found.append((mod, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return [f for f in found if f[0] != name]


def graph() -> dict[str, dict[str, list[tuple[int, bool]]]]:
    modules = all_modules()
    edges: dict[str, dict[str, list[tuple[int, bool]]]] = {m: {} for m in modules}
    for name, path in modules.items():
        for mod, line, in_function in imports_of(name, path, modules):
            edges[name].setdefault(mod, []).append((line, in_function))
    return edges


def strongly_connected(edges: dict[str, dict[str, list[tuple[int, bool]]]]) -> list[frozenset[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[frozenset[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, {}))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    result.append(frozenset(component))
    return result


def layer(module: str) -> int | None:
    for prefix, rank in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def test_the_import_reader_sees_imports_inside_functions(tmp_path):
    """The check itself: a function-level import is an edge, a TYPE_CHECKING one is not."""
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.store import Store\n"
              "def f():\n    from bot.services import orgs\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    modules = {"bot.services.orgs": path, "bot.store": path, "bot.probe": path}
    assert imports_of("bot.probe", path, modules) == [("bot.services.orgs", 5, True)]


def test_no_import_cycles():
    cycles = [sorted(c) for c in strongly_connected(graph()) if len(c) > 1 and c not in KNOWN_CYCLES]
    assert cycles == [], f"modules that import each other (directly or round a loop): {cycles}"


def test_imports_never_go_up_a_layer():
    upward = []
    for importer, targets in graph().items():
        low = layer(importer)
        if low is None:
            continue
        for imported, where in targets.items():
            high = layer(imported)
            if high is not None and high > low:
                upward += [f"{importer}:{line} imports {imported}" for line, _ in where]
    assert upward == []


def test_ui_and_the_lower_layers_never_import_handlers_or_flows():
    offenders = [f"{importer} imports {imported}" for importer, targets in graph().items()
                 if not importer.startswith(("bot.handlers", "bot.flows", "bot.app", "bot.cli", "bot.sandbox"))
                 for imported in targets if imported.startswith(("bot.handlers", "bot.flows"))]
    assert offenders == []


def test_an_import_inside_a_function_says_why():
    """Handlers, flows, ui and notify import at module level; an exception carries a comment."""
    unexplained = []
    for importer, targets in graph().items():
        if layer(importer) not in (3, 4, 5):
            continue
        lines = all_modules()[importer].read_text(encoding="utf-8").splitlines()
        for imported, where in targets.items():
            for line, in_function in where:
                if in_function and "#" not in lines[line - 1] and not lines[line - 2].strip().startswith("#"):
                    unexplained.append(f"{importer}:{line} imports {imported}")
    assert unexplained == []


# -- below the handlers ------------------------------------------------------------------------
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
