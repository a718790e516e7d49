"""Every chapter is in the book's table of contents and has its own test module with a cut-down full run."""

import ast
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with jupyter-book (the book extra)")

REPO_ROOT = Path(__file__).resolve().parents[2]


def toc_chapter_ids() -> list[str]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [entry["file"] for part in toc.get("parts", []) for entry in part.get("chapters", [])]
    return [Path(f).name.split("_")[0] for f in files
            if f.startswith("chapters/") and (REPO_ROOT / (f + ".ipynb")).is_file()]  # not the report page (book/)


def test_every_notebook_is_in_the_toc():
    on_disk = sorted(p.name.split("_")[0] for p in (REPO_ROOT / "chapters").glob("*.ipynb"))
    assert on_disk == sorted(toc_chapter_ids()), "every notebook in chapters/ must be listed in _toc.yml"


@pytest.mark.parametrize("chapter_id", toc_chapter_ids())
def test_every_chapter_has_its_test_module(chapter_id):
    path = REPO_ROOT / "tests" / "chapters" / f"test_{chapter_id}.py"
    assert path.is_file(), f"{chapter_id} needs tests/chapters/test_{chapter_id}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    tests = {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    assert "FULL_CUT_DOWN" in names, f"{path.name}: the full profile's code must run cut down on the CPU"
    assert any(t.startswith("test_ci_profile") for t in tests), f"{path.name}: no ci-profile test"
    assert any("cut_down" in t for t in tests), f"{path.name}: no cut-down full-profile test"
