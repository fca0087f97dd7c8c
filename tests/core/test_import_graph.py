"""The package's import graph, read from the source (function-level imports included, since a lazy import
is still a dependency): no module imports itself back through others, no subpackage imports itself back
through others (generation -> data -> generation is a circle even when no single module closes it), and no
library module imports the CLI (the CLI calls the library, never the reverse)."""

import ast
import functools
from pathlib import Path

import genrobust_fast

PACKAGE = Path(genrobust_fast.__file__).parent
NAME = "genrobust_fast"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _lazy_exports(tree: ast.Module) -> dict[str, str]:
    """A package facade's `_EXPORTS = {"name": "submodule"}` table (resolved by __getattr__ at run time)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, anywhere in its source (parsed once per session; callers
    do not change it)."""
    trees = {_module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in PACKAGE.rglob("*.py")}
    exports = {name: _lazy_exports(tree) for name, (_, tree) in trees.items()}
    graph: dict[str, set[str]] = {name: set() for name in trees}
    for name, (path, tree) in trees.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = []
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if sub in trees:
                        targets.append(sub)  # `from . import build`: the submodule itself
                    elif alias.name in exports.get(base, {}):
                        targets.append(f"{base}.{exports[base][alias.name]}")  # through the lazy facade
                    else:
                        targets.append(base)
            else:
                continue
            graph[name].update(t for t in targets if t in trees and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
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
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """The subpackage a module belongs to (`genrobust_fast.data.sources` -> `genrobust_fast.data`); a module
    directly under the package (`genrobust_fast.errors`) is its own node."""
    parts = module.split(".")
    if len(parts) >= 2 and (PACKAGE / parts[1] / "__init__.py").is_file():
        return ".".join(parts[:2])
    return module


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """subpackage -> the subpackages its modules import."""
    packages: dict[str, set[str]] = {package_of(name): set() for name in graph}
    for name, targets in graph.items():
        packages[package_of(name)].update(package_of(t) for t in targets if package_of(t) != package_of(name))
    return packages


def test_the_checker_sees_function_level_and_facade_imports():
    graph = import_graph()
    # select.py imports the TensorRT runtime only inside create_runners; generation/job.py reaches
    # create_runners through the engines facade.
    assert f"{NAME}.engines.trt_runtime" in graph[f"{NAME}.engines.select"]
    assert f"{NAME}.engines.select" in graph[f"{NAME}.generation.job"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back():
    assert cycles(import_graph()) == []


def test_no_library_module_imports_the_cli():
    cli = f"{NAME}.cli"
    wrong = {
        name: sorted(t for t in targets if t == cli or t.startswith(cli + "."))
        for name, targets in import_graph().items()
        if not (name == cli or name.startswith(cli + ".")) and name != f"{NAME}.__main__"
    }
    assert {name: targets for name, targets in wrong.items() if targets} == {}


def test_the_package_checker_sees_a_circle_no_module_closes():
    # The circle of 7dd3eb8: data.generated_check imported generation.writers (inside functions) while
    # generation.dedup imported data.sources; no module imports itself back, the packages do.
    modules = {
        f"{NAME}.data.generated_check": {f"{NAME}.generation.writers"},
        f"{NAME}.data.sources": {f"{NAME}.data.generated_check"},
        f"{NAME}.generation.writers": set(),
        f"{NAME}.generation.dedup": {f"{NAME}.data.sources", f"{NAME}.generation.writers"},
    }
    assert cycles(modules) == []
    assert cycles(package_graph(modules)) == [[f"{NAME}.data", f"{NAME}.generation"]]


def test_no_package_imports_itself_back():
    packages = package_graph(import_graph())
    assert f"{NAME}.generation" not in packages[f"{NAME}.data"]  # the circle of 7dd3eb8 is gone
    assert cycles(packages) == []


def test_the_generated_set_owner_sits_below_its_readers_and_writers():
    packages = package_graph(import_graph())
    below = {f"{NAME}.{m}" for m in ("constants", "errors", "fileio", "labels", "paths")}
    assert packages[f"{NAME}.genset"] <= below
    for user in ("generation", "data", "evaluation", "bench"):
        assert f"{NAME}.genset" in packages[f"{NAME}.{user}"], user
