"""The book as a reader meets it, built from this session's chapter runs (each chapter executes once in CI).

Runs after every chapter test (tests/conftest.py puts ``book`` tests last): the report page is executed over the
chapters' results, Jupyter Book renders the executed copies (execution off, Sphinx warnings as errors), and
headless Chromium reads every page with the network cut (book/browser_check.py), screenshots in _build/screens.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.book
REPO_ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "book" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build, browser_check = _load("build"), _load("browser_check")


@pytest.fixture(scope="module")
def built_book(chapter_runs):
    """``_build/html``, built from the executed copies the chapter tests of this session kept (their default ci
    runs: tests/chapters/conftest.py's ``keep_for_the_book``); skipped, naming the chapters that did not run in
    this session (e.g. ``-k`` picked a few, or ../shared/data is absent)."""
    chapters = [Path(stem).name for stem in build.toc_notebooks() if stem != build.REPORT]
    missing = [name for name in chapters if f"{name.split('_')[0]}/ci/" not in chapter_runs]
    if missing:
        pytest.skip(f"the book is built from this session's default ci chapter runs; not run in this session: "
                    f"{', '.join(missing)}")
    build.execute(build.REPORT)
    return build.build_html()


def test_the_book_builds_from_the_executed_chapters_without_warnings(built_book):
    for stem in build.toc_files():
        assert (built_book / f"{stem}.html").is_file(), stem


def test_every_page_in_chromium_with_the_network_cut(built_book):
    if browser_check.find_chromium() is None:
        pytest.skip("no Chromium on this machine: `make setup` installs Debian's chromium where apt-get is allowed")
    report = browser_check.check_book(built_book, REPO_ROOT / "_build" / "screens")
    assert {f"{stem}.html" for stem in build.toc_files()} <= set(report)
    bad = {page: problems for page, problems in report.items() if problems}
    assert not bad, "\n".join(f"{page}: {'; '.join(problems)}" for page, problems in bad.items())
