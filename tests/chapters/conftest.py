"""What every chapter test shares: executing a chapter with papermill, and the checks on its results file.

Each chapter has its own test module here (``test_chNN.py``) with its claims and its cut-down ``full``
settings. CI budget: a chapter costs at most 8 minutes of CI in all (its ``ci`` run, its ``full`` code
path cut down to <= 2 minutes, its offline fallback -- which may share the cut-down run), plus a
shortened run per extra dataset its issue asks to be tested. Measured in the clean-clone CI run of 2026-12-04
(2-core AMD EPYC, AVX2; OpenMP's default wait policy): Chapter 1 ci 2.1 min and cut-down full 0.9; Chapter 2 ci
3.1, QMUL-ChairV2 2.6, cut-down full 2.2; Chapter 3 ci 2.9, cut-down full 1.2; Chapter 4 ci 3.5, cut-down full 0.8;
Chapter 5 ci 1.8, cut-down full 0.7; Chapter 6 ci 2.4, QMUL-ChairV2 1.7, cut-down full 1.0; the book and its
browser check 1.0. The whole CI run took 33:23 (the install included; pytest 30:19) against the 60-minute limit.
On an AVX-512 EPYC (2026-12-05) the same run took 25:48 (pytest 23:47); Chapter 2's cut-down full run, now on 24
pairs, 1.4 min.
The default ci run of each chapter is also the one the book shows: ``keep_for_the_book`` saves it, and
test_book_build.py (run last) builds the book from those copies and checks it in Chromium, so no chapter executes
twice.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAPTERS_DIR = REPO_ROOT / "chapters"
_spec = importlib.util.spec_from_file_location("book_build", REPO_ROOT / "book" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

papermill = pytest.importorskip("papermill", reason="papermill is installed by `make test` (the dev extra)")


def chapter_notebook(chapter_id: str) -> Path:
    """``chapters/<chapter_id>_*.ipynb`` (exactly one)."""
    found = sorted(CHAPTERS_DIR.glob(f"{chapter_id}_*.ipynb"))
    assert len(found) == 1, f"expected one notebook chapters/{chapter_id}_*.ipynb, found {found}"
    return found[0]


def check_common(results: dict, chapter_id: str, profile: str, overrides: dict | None = None) -> None:
    assert results["chapter"] == chapter_id
    assert results["profile"] == profile
    assert results["overrides"] == (overrides or {}), "the results must say which profile settings were changed"
    assert results["seed"] == 0
    assert results["data"]["kind"] in ("real", "generated", "example")
    assert results["data"]["name"]
    assert results["wall_time_s"] > 0
    assert results["metrics"], "a chapter must record its metrics"


@pytest.fixture
def offline(tmp_path: Path, monkeypatch):
    """No real data: no mirror, an empty cache, downloads disabled (chapters fall back to the doodle world)."""
    monkeypatch.setenv("SBIR_OFFLINE", "1")
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "empty-cache"))


@pytest.fixture(scope="session")
def chapter_runs() -> dict:
    """The results of every chapter run of this session with no overrides, by ``"<chapter>/<profile>/<params>"``
    (``params``: the extra parameter values, ``k=v`` joined by ``,``), for claims that compare two chapters
    (Chapter 6's model against Chapter 2's)."""
    return {}


def keep_for_the_book(executed: Path, results: Path) -> None:
    """A chapter's default ``ci`` run, executed by its test, saved where the book is built from (book/build.py:
    ``_build/executed/chapters/`` and ``_build/results/``), so that CI executes each chapter once."""
    target = build.EXECUTED / "chapters" / executed.name
    target.parent.mkdir(parents=True, exist_ok=True)
    build.RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(results, build.RESULTS / results.name)
    shutil.copy2(executed, target)


def run_key(chapter_id: str, profile: str, **parameters) -> str:
    return f"{chapter_id}/{profile}/" + ",".join(f"{k}={v}" for k, v in sorted(parameters.items()))


@pytest.fixture
def run_chapter(tmp_path: Path, monkeypatch, chapter_runs):
    """``run_chapter(chapter_id, profile, overrides=None, **parameters) -> (results dict, seconds)``: executes
    the chapter with papermill (SEED 0, and any other ``parameters`` cell values) into ``tmp_path`` and reads
    the results file it wrote."""

    def run(chapter_id: str, profile: str, overrides: dict | None = None, **parameters) -> tuple[dict, float]:
        notebook = chapter_notebook(chapter_id)
        results_dir = tmp_path / "results"
        monkeypatch.setenv("SBIR_RESULTS_DIR", str(results_dir))
        # the kernel must use matplotlib's inline backend, so that figures land in the notebook
        monkeypatch.delenv("MPLBACKEND", raising=False)
        start = time.perf_counter()
        papermill.execute_notebook(
            str(notebook), str(tmp_path / notebook.name),
            parameters={"PROFILE": profile, "SEED": 0, "OVERRIDES": overrides or {}, **parameters},
            cwd=str(notebook.parent), kernel_name="python3", progress_bar=False, request_save_on_cell_execute=False,
        )
        elapsed = time.perf_counter() - start
        path = results_dir / f"{chapter_id}.json"
        assert path.is_file(), f"{notebook.name} did not write its results file {path}"
        results = json.loads(path.read_text(encoding="utf-8"))
        check_common(results, chapter_id, profile, overrides)
        if not overrides:
            chapter_runs[run_key(chapter_id, profile, **parameters)] = results
        if profile == "ci" and not overrides and not parameters:  # the run the book shows: kept for its build
            keep_for_the_book(tmp_path / notebook.name, path)
        print(f"{notebook.name}: profile {profile}, overrides {overrides or {}}: {elapsed:.1f} s")
        return results, elapsed

    return run


@pytest.fixture
def cuda():
    """Skips the test, with the reason, where no CUDA GPU is present (the full profile runs on GPU runners)."""
    try:
        import torch
    except ImportError:
        pytest.skip("torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("the full profile needs a CUDA GPU (runs on the GPU runners only)")


@pytest.fixture
def run_full_on_gpu(run_chapter, cuda):
    """``run_full_on_gpu(chapter_id) -> results``: the chapter's full profile, checked to have run on CUDA
    (skipped, with the reason, without a GPU)."""

    def run(chapter_id: str) -> dict:
        results, _ = run_chapter(chapter_id, "full")
        assert results["environment"]["device"].startswith("cuda")
        return results

    return run
