"""The library's layout: every module imports on its own, top-level imports form no cycle, and the data
layer draws nothing (no sbir_lib.viz, sbir_lib.widgets or matplotlib anywhere under sbir_lib/data).

The import graph is read from the source (AST) of every file under ``sbir_lib/``, so the tests follow
whatever modules exist.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "sbir_lib"
#: Imports the data layer must never make, directly or through other sbir_lib modules.
DRAWING_MODULES = ("sbir_lib.viz", "sbir_lib.widgets", "matplotlib")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    """``{dotted name: file}`` of every module and package under sbir_lib/ (``__main__`` entry points excluded)."""
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))
            if "__pycache__" not in p.parts and p.name != "__main__.py"}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """``(imported module, at top level)`` for every import statement in the file.

    Relative imports are resolved against the module's package; ``from pkg import x`` names the module
    ``pkg.x`` when that is a module of sbir_lib, else ``pkg``. "Top level" means executed on import: in
    the module body (also inside ``if``/``try``), not inside a function and not under ``if TYPE_CHECKING``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                continue
            elif isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    found.append((sub if sub in known else target, top))
            else:
                visit(child, top)

    visit(tree, True)
    return found


def import_graph() -> dict[str, list[tuple[str, bool]]]:
    """``{module: [(imported module, top level), ...]}`` for every sbir_lib module (all imports kept)."""
    modules = all_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of a directed graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(edges):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(edges[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def test_the_helpers_on_a_made_up_graph(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nimport numpy as np\nfrom .. import errors\nfrom . import paired, fetch\n"
        "if TYPE_CHECKING:\n    from ..viz import x\n"
        "try:\n    import sbir_lib.render\nexcept ImportError:\n    pass\n"
        "class A:\n    from ..index import build\n"
        "def f():\n    from ..metrics import top_k\n    import matplotlib.pyplot as plt\n")
    known = {"sbir_lib.errors", "sbir_lib.data.paired", "sbir_lib.metrics"}
    assert imports_of("sbir_lib.data.mod", source, known) == [
        ("typing", True), ("numpy", True), ("sbir_lib.errors", True),
        ("sbir_lib.data.paired", True), ("sbir_lib.data", True),        # fetch: an attribute of the package
        ("sbir_lib.render", True), ("sbir_lib.index", True),             # a class body runs on import
        ("sbir_lib.metrics", False), ("matplotlib.pyplot", False)]       # inside a function: lazy


def test_top_level_imports_between_sbir_lib_modules_form_no_cycle():
    graph = import_graph()
    top = {name: {m for m, is_top in deps if is_top and m in graph and m != name} for name, deps in graph.items()}
    cycle = find_cycle(top)
    assert cycle is None, "import cycle between sbir_lib modules (top-level imports): " + " -> ".join(cycle)


def test_the_data_layer_imports_no_figures():
    graph = import_graph()
    data = sorted(name for name in graph if name == "sbir_lib.data" or name.startswith("sbir_lib.data."))
    assert "sbir_lib.data.paired" in data and "sbir_lib.data.doodleworld.splits" in data
    offenders = []
    for name in data:  # direct imports, at top level or inside functions
        offenders += [f"{name} imports {m}" for m, _ in graph[name]
                      if any(m == bad or m.startswith(bad + ".") for bad in DRAWING_MODULES)]
    assert not offenders, "; ".join(offenders)
    # nor through other sbir_lib modules (any import, top level or lazy)
    reach, todo = {}, [(name, name) for name in data]
    while todo:
        name, via = todo.pop()
        for m, _ in graph.get(name, ()):
            if m.startswith("sbir_lib") and m in graph and m not in reach:
                reach[m] = via
                todo.append((m, via))
    drawing = sorted(f"{reach[m]} reaches {m}" for m in reach if m in DRAWING_MODULES)
    assert not drawing, "; ".join(drawing)


FRESH_IMPORTS = r"""
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "sbir_lib" or m.startswith("sbir_lib.")]:
        del sys.modules[loaded]           # every sbir_lib module is imported first, as its own entry point
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ":\n" + traceback.format_exc(limit=-3))
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_as_the_first_sbir_lib_module(repo_root):
    """One fresh interpreter; before each module, every sbir_lib module is dropped from ``sys.modules``
    (third-party packages stay loaded, so this takes seconds, not minutes)."""
    names = sorted(all_modules())
    res = subprocess.run([sys.executable, "-c", FRESH_IMPORTS, *names], capture_output=True, text=True,
                         cwd=repo_root, timeout=600)
    assert res.returncode == 0, f"modules that fail to import on their own:\n{res.stdout}\n{res.stderr[-2000:]}"


@pytest.mark.parametrize("name", ["sbir_lib", "sbir_lib.data", "sbir_lib.data.paired", "sbir_lib.trace"])
def test_light_modules_stay_light(name, repo_root):
    code = (f"import sys, {name}; print(sorted(m for m in ('matplotlib', 'torch', 'numba', 'sklearn', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo_root,
                         timeout=120).stdout.strip()
    assert out == "[]"
