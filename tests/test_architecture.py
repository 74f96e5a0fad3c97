"""The shape of the code: no import cycle, no import hidden in a function, each layer below the last."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "db", "schemas")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = _project_modules()


def _resolve(name: str) -> str | None:
    """The project module an import name refers to (`api.services.feeds.Reader` →
    `api.services.feeds`), or None outside the project."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from api.services import feeds` imports the module api.services.feeds
                names = [f"{base}.{alias.name}" for alias in child.names]
            for name in names:
                target = _resolve(name)
                if target is not None and target != module:
                    yield Import(module, target, child.lineno, in_function)
            yield from visit(child, nested)

    yield from visit(tree, False)


# one entry per import statement and module (`from db.pool import a, b` is one import of db.pool)
IMPORTS = list(
    dict.fromkeys(imp for module, path in MODULES.items() for imp in _imports_of(module, path))
)


def _cycles() -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as sorted names."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for imp in IMPORTS:
        graph[imp.importer].add(imp.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def _where(imports: list[Import]) -> list[str]:
    return [
        f"{MODULES[imp.importer].relative_to(ROOT)}:{imp.line} imports {imp.imported}"
        for imp in imports
    ]


def test_the_import_graph_is_read_from_the_code():
    # guards the checks below against passing because they found nothing to check
    assert "api.routes.events" in MODULES
    assert any(
        imp.importer == "api.routes.events" and imp.imported == "api.services.events"
        for imp in IMPORTS
    )


def test_no_module_of_api_db_or_schemas_imports_itself_round_a_cycle():
    assert _cycles() == []


#: The command line loads only what the chosen command needs (`caravan openapi` starts no
#: database, `caravan migrate` builds no app): its deferred imports dodge no cycle.
DEFERRED_IMPORTS_ALLOWED = {"api.cli"}


def test_no_function_imports_a_project_module_inside_its_body():
    hidden = [
        imp for imp in IMPORTS if imp.in_function and imp.importer not in DEFERRED_IMPORTS_ALLOWED
    ]
    assert _where(hidden) == []


def _crossing(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    def under(module: str, prefixes: tuple[str, ...]) -> bool:
        return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)

    return _where(
        [
            imp
            for imp in IMPORTS
            if under(imp.importer, importers) and under(imp.imported, forbidden)
        ]
    )


def test_schemas_errors_and_config_import_nothing_from_services_routes_or_db():
    assert (
        _crossing(("schemas", "api.errors", "api.config"), ("api.services", "api.routes", "db"))
        == []
    )


def test_queries_import_no_service_and_no_route():
    assert _crossing(("db",), ("api.services", "api.routes")) == []


def test_services_import_no_route():
    assert _crossing(("api.services",), ("api.routes",)) == []
