"""The shape of the code: no import cycles, a classifier library that knows nothing of cases,
migrations that do not depend on app code that moves, and bench helpers outside tests/."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cases", "classifier", "cxrsite")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imported(path: Path, name: str, known: dict, *, top_level_only: bool) -> set[str]:
    """Project modules a file imports (relative imports resolved; `from pkg import mod` -> pkg.mod)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return {module for module in found if module in known}


def test_no_module_of_the_project_takes_part_in_an_import_cycle():
    known = modules()
    # Lazy imports inside functions count too: a cycle through them is still a cycle.
    graph = {name: imported(path, name, known, top_level_only=False) for name, path in known.items()}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in graph[node] - {node}:
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_classifier_imports_nothing_from_cases_or_the_site():
    known = modules()
    for name, path in known.items():
        if name.startswith("classifier"):
            outside = {m for m in imported(path, name, known, top_level_only=False) if not m.startswith("classifier")}
            assert outside == set(), name


def test_migrations_import_no_app_code():
    for path in (ROOT / "cases" / "migrations").glob("0*.py"):
        known = modules()
        assert imported(path, module_name(path), known, top_level_only=False) == set(), path.name


def test_benchmarks_import_nothing_from_the_tests():
    for path in (ROOT / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {n for n in names if n == "tests" or n.startswith("tests.")}, path.name
