"""Shared pytest fixtures: where the real data lives, and a results folder per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests: reproducible in CI (same examples every run), random locally.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Unit tests draw figures off-screen. (tests/chapters/conftest.py removes this for the notebook kernels.)
os.environ.setdefault("MPLBACKEND", "Agg")
# Notebooks executed headless (papermill) save a widget bar's first state only: no progress bars there.
os.environ.setdefault("SBIR_NO_PROGRESS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SBIR_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()

# Tests (and the chapters they execute) read the real data through the mirror mechanism of
# sbir_lib.data, as `make test` and .ci/run do.
if (SHARED_DATA / "README.md").is_file():
    os.environ.setdefault("SBIR_DATA_MIRROR", str(SHARED_DATA))
# Tests never download from a dataset's real host (downloads are tested against a local server):
# without the mirror, chapters fall back to the generated doodle world.
os.environ["SBIR_OFFLINE"] = "1"

NO_SHARED_DATA_REASON = (
    f"real data folder {SHARED_DATA} is absent (it sits beside the repository as ../shared/data "
    "on the developers' and CI machines; set SBIR_SHARED_DATA to point elsewhere)"
)


def pytest_collection_modifyitems(config, items):
    """The book's build and browser check (marker ``book``) run last: they read what the chapter tests executed."""
    items.sort(key=lambda item: item.get_closest_marker("book") is not None)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder ``../shared/data``; skips the test with a stated reason when absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(NO_SHARED_DATA_REASON)
    return SHARED_DATA


@pytest.fixture(scope="session")
def quickdraw_dir(shared_data: Path) -> Path:
    path = shared_data / "quickdraw"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path
