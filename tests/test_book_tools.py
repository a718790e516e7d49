"""book/build.py (the book from chapters executed once) and book/browser_check.py (the book in Chromium)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import REPO_ROOT


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "book" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("build")
browser_check = _load("browser_check")

BADGE = ('<a href="https://colab.research.google.com/github/o/r/blob/main/chapters/x.ipynb" target="_parent">'
         '<img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>\n\n')


def notebook(*, params=None, executed=True, error=False) -> dict:
    code = {"cell_type": "code", "metadata": {}, "source": ["x = 1\n"], "execution_count": 1 if executed else None,
            "outputs": [{"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}] if error
            else []}
    injected = {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": ['PROFILE = "ci"\n'],
                "execution_count": 1, "outputs": []}
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", BADGE, "Text."]}, injected, code],
            "metadata": {"papermill": {"parameters": params if params is not None else dict(build.DEFAULTS)},
                         "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
            "nbformat": 4, "nbformat_minor": 5}


def write(path: Path, nb: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_toc_notebooks_puts_the_report_after_the_chapters():
    stems = build.toc_notebooks()
    assert stems[-1] == build.REPORT
    assert [s for s in stems if s.startswith("chapters/")] == [s for s in build.toc_files() if s.startswith("chapters/")]


def test_check_executed_accepts_a_default_ci_run(tmp_path):
    assert build.check_executed(write(tmp_path / "a.ipynb", notebook()))["cells"]


@pytest.mark.parametrize("nb, message", [
    (notebook(params={"PROFILE": "full", "SEED": 0, "OVERRIDES": {}}), "executed with PROFILE='full'"),
    (notebook(params={"PROFILE": "ci", "SEED": 0, "OVERRIDES": {"steps": 2}}), "executed with OVERRIDES"),
    (notebook(executed=False), "code cell 2 was not executed"),
    (notebook(error=True), "code cell 2 raised ValueError: bad"),
])
def test_check_executed_refuses_what_the_book_must_not_show(tmp_path, nb, message):
    path = write(tmp_path / "chapter.ipynb", nb)
    with pytest.raises(ValueError, match=message) as err:
        build.check_executed(path)
    assert str(path) in str(err.value)


def test_check_executed_names_a_missing_copy(tmp_path):
    with pytest.raises(FileNotFoundError, match="no executed copy"):
        build.check_executed(tmp_path / "chapters" / "ch09.ipynb")


def test_for_the_page_hides_the_parameters_and_drops_widget_state_and_the_badge_image():
    page = build.for_the_page(notebook())
    assert "remove-cell" in page["cells"][1]["metadata"]["tags"]
    assert "widgets" not in page["metadata"]
    assert page["cells"][0]["source"] == "# Title\nText."


def test_stage_uses_the_executed_copies_and_names_a_missing_one(tmp_path):
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    (root / "_config.yml").write_text("title: t\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n  - chapters:\n"
                                   "      - file: chapters/ch09_x\n")
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "book" / "build.py").write_text("# not part of the book\n")
    write(root / "chapters" / "ch09_x.ipynb", notebook(executed=False))          # the repository's: no outputs
    executed = tmp_path / "executed"
    with pytest.raises(FileNotFoundError, match="ch09_x.ipynb: no executed copy"):
        build.stage(root=root, executed=executed, target=tmp_path / "source")
    write(executed / "chapters" / "ch09_x.ipynb", notebook())
    source = build.stage(root=root, executed=executed, target=tmp_path / "source")
    staged = json.loads((source / "chapters" / "ch09_x.ipynb").read_text())
    assert staged["cells"][2]["execution_count"] == 1                           # the executed copy
    assert (source / "book" / "intro.md").is_file() and not (source / "book" / "build.py").exists()
    assert (source / "_toc.yml").read_text() == (root / "_toc.yml").read_text()


# --------------------------------------------------------------------------- the browser check

SITE = {
    "index.html": '<html><body><main><p>Home <a href="chapters/good.html#fig">ok</a> <a href="gone.html">x</a>'
                  '<a href="chapters/good.html#nowhere">y</a></p></main></body></html>',
    "chapters/good.html": '<html><body><main><div class="cell_output"><img id="fig" src="../pic.svg"></div>'
                          "<table><tr><td>1</td></tr></table></main></body></html>",
    "chapters/bad.html": '<html><body><main><img src="../missing.png"><pre>Traceback (most recent call last):\n'
                         "</pre><pre>  0%|          | 0/35</pre><pre>| a | b |\n| --- | --- |</pre>"
                         "<script>undefinedFunction()</script></main></body></html>",
    "pic.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>',
}


def test_broken_links_finds_missing_pages_and_anchors(tmp_path):
    for rel, text in SITE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    problems = browser_check.broken_links(tmp_path, tmp_path / "index.html")
    assert len(problems) == 2
    assert "'gone.html'" in problems[0] and "no anchor #nowhere in good.html" in problems[1]


def test_frozen_bar_and_markdown_table_patterns():
    assert browser_check.FROZEN_BAR.search("step 4:   0%|          | 0/100")
    assert not browser_check.FROZEN_BAR.search("step 4: 100%|##########| 100/100")
    assert not browser_check.FROZEN_BAR.search("10%|#") and not browser_check.FROZEN_BAR.search("1.0%|")
    assert browser_check.MARKDOWN_TABLE.search("| a | b |\n| --- | ---: |")
    assert not browser_check.MARKDOWN_TABLE.search("a - b | c")


def test_check_book_reports_what_a_reader_would_see(tmp_path):
    if browser_check.find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    pytest.importorskip("playwright", reason="playwright is installed by `make test` (the dev extra)")
    for rel, text in SITE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    report = browser_check.check_book(tmp_path, tmp_path / "screens")
    assert set(report) == {"index.html", "chapters/good.html", "chapters/bad.html"}
    assert report["chapters/good.html"] == ["a chapter page without typeset math"]
    bad = "\n".join(report["chapters/bad.html"])
    for expected in ("JavaScript error", "image does not load: ../missing.png", "Python traceback",
                     "progress bar frozen at 0 %", "Markdown table is shown as text", "without figures",
                     "without an HTML table", "HTTP 404"):
        assert expected in bad, (expected, bad)
    assert len(report["index.html"]) == 2                                       # the two broken links
    assert len(list((tmp_path / "screens").glob("*.png"))) == 3


def test_the_report_page_is_in_the_toc_and_committed_without_outputs():
    assert build.REPORT in build.toc_files()
    nb = json.loads((REPO_ROOT / f"{build.REPORT}.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "load_report(results_dir())" in "".join("".join(c["source"]) for c in code)
