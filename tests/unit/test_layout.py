"""The package's layout (docs/layout.md): subpackages in layers, imports only going down, no circle,
iadbench imports at module top (a function-level one names its reason), no oversized module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "iadbench"

# Low to high: a module may import its own subpackage and the layers below, never one above or beside.
LAYERS: list[set[str]] = [
    {"core"},
    {"datasets", "metrics"},
    {"models"},
    {"results", "config"},
    {"stats"},
    {"run"},
    {"report"},
    {"continual"},
    {"serve"},
    {"cli"},
]
FUNCTION_LEVEL_SHARE = 0.15
MAX_LINES = 350
ABOUT_MAX_LINES = 365
# Modules allowed over MAX_LINES, each with its reason.
LONG_MODULES: dict[str, str] = {
    # Within the "about 350" (at most 365): each is one job, with no second one to cut out.
    **dict.fromkeys(("iadbench.datasets.prepare", "iadbench.report.render", "iadbench.run.evaluate",
                     "iadbench.serve.predict"), "about 350 lines, one job"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"{module}: its subpackage {top!r} is in no layer of LAYERS")


class InternalImport(ast.NodeVisitor):
    """Every import of an iadbench module: (target module, line, whether at module level, the statement)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int, bool]] = []
        self.depth = 0

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, name: str, line: int) -> None:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            self.found.append((name, line, self.depth == 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("iadbench."):
                self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if not source.startswith("iadbench"):
            return
        submodules = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in MODULES]
        for target in submodules or [source]:
            self._add(target, node.lineno)


def internal_imports() -> dict[str, list[tuple[str, int, bool]]]:
    graph = {}
    for module, path in MODULES.items():
        visitor = InternalImport(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(), str(path)))
        graph[module] = [found for found in visitor.found if found[0] != module]
    return graph


GRAPH = internal_imports()


def test_every_subpackage_has_a_layer():
    for module in MODULES:
        if module != "iadbench":
            layer_of(module)


def test_imports_only_go_down():
    upward = []
    for module, imports in GRAPH.items():
        if module == "iadbench":
            continue
        own = module.split(".")[1]
        for target, line, _ in imports:
            if target == "iadbench":
                continue
            if target.split(".")[1] != own and layer_of(target) >= layer_of(module):
                upward.append(f"{module}:{line} imports {target}")
    assert not upward, "imports running up or sideways:\n" + "\n".join(upward)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for successor in sorted(edges.get(node, ())):
            if state.get(successor) == 1:
                return stack[stack.index(successor):] + [successor]
            if successor not in state and (cycle := visit(successor)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle():
    edges = {module: {target for target, _, _ in imports} for module, imports in GRAPH.items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_function_level_imports_are_few_and_give_their_reason():
    """A function-level iadbench import only keeps heavy third-party imports out of light jobs: it says
    so in a comment on its line or the line above, and such imports stay a small share."""
    function_level, total, silent = 0, 0, []
    for module, imports in GRAPH.items():
        lines = MODULES[module].read_text().splitlines()
        for _, line, top in imports:
            total += 1
            if top:
                continue
            function_level += 1
            if "#" not in lines[line - 1] and not lines[line - 2].strip().startswith("#"):
                silent.append(f"{module}:{line}")
    assert not silent, "function-level iadbench imports without a reason:\n" + "\n".join(silent)
    assert function_level <= FUNCTION_LEVEL_SHARE * total, f"{function_level} of {total} are function-level"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    lines = len(MODULES[module].read_text().splitlines())
    limit = ABOUT_MAX_LINES if module in LONG_MODULES else MAX_LINES
    assert lines <= limit, f"{module}: {lines} lines (split it, or give the reason)"


# Tests of the whole project rather than one subpackage: they stay at the top of tests/unit.
PROJECT_TESTS = {"test_envs.py", "test_installed_wheel.py", "test_layout.py", "test_paper_configs.py", "test_recipes.py"}


def test_unit_tests_mirror_the_package():
    """tests/unit/<subpackage>/ for each subpackage's tests; at the top only the whole project's."""
    unit = Path(__file__).resolve().parent
    subpackages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    folders = {path.name for path in unit.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert folders <= subpackages, f"tests/unit folders that are no subpackage: {sorted(folders - subpackages)}"
    assert {path.name for path in unit.glob("test_*.py")} == PROJECT_TESTS
