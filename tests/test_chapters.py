"""Execute every chapter listed in `_toc.yml` end to end with papermill and check its results file.

The `ci` profile runs on every machine; the `full` profile only where CUDA is available (the GPU
runners), through the `gpu` marker. Chapter issues add their assertions to `CHAPTER_CHECKS`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT

papermill = pytest.importorskip("papermill", reason="papermill is installed by `make test` (the dev extra)")
yaml = pytest.importorskip("yaml", reason="PyYAML comes with jupyter-book (the book extra)")


def toc_chapters() -> list[Path]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    notebooks = []
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            path = REPO_ROOT / (entry["file"] + ".ipynb")
            if path.is_file():
                notebooks.append(path)
    return notebooks


CHAPTERS = toc_chapters()
# The id of a chapter is the part of its file name before the first underscore: ch00_template -> ch00.
IDS = [nb.stem.split("_")[0] for nb in CHAPTERS]


def check_ch00(results: dict) -> None:
    metrics = results["metrics"]
    assert metrics["n_sketches"] >= 20
    # raw-pixel nearest neighbour over several classes must beat chance on mAP
    assert 0.0 <= metrics["map_chance"] < metrics["map_raw_pixel"] <= 1.0
    assert metrics["stroke_formats_round_trip"] is True


def check_ch01(results: dict) -> None:
    retrieval = results["metrics"]["category_retrieval"]
    chance, hog, triplet = retrieval["chance"], retrieval["hog"], retrieval["triplet"]
    # the assertion: the learned embedding beats HOG, which beats chance, on mAP@all
    assert triplet["map_all"] > hog["map_all"] > chance["map_all"]
    for row in (chance, hog, triplet):
        assert 0.0 <= row["map_all"] <= 1.0 and 0.0 <= row["p_at_200"] <= 1.0
        # with at most 200 retrieved items, Yelamarthi's mAP@200 can never exceed P@200
        assert row["map_at_200_yelamarthi"] <= row["p_at_200"] + 1e-12
    assert results["data"]["kind"] in ("generated", "real")
    assert results["metrics"]["training"]["steps"] >= 1


def check_ch02(results: dict) -> None:
    metrics = results["metrics"]
    table1, table2 = metrics["table1"], metrics["table2"]
    expected = {"BoW-HOG + rankSVM", "Dense-HOG + rankSVM", "Dense-HOG, Euclidean", "ISN Deep + rankSVM", "Our model"}
    assert set(table1) == expected
    assert {"Step 4 only", "Pairwise alternative", "Our full model"} <= set(table2)
    for name, row in list(table1.items()) + list(table2.items()):
        for key in ("acc@1", "acc@10", "pct_correct"):
            assert 0.0 <= row[key] <= 1.0, f"{name}: {key}={row[key]}"
        assert row["acc@1"] <= row["acc@10"], name
    full = table1["Our model"]
    assert full == metrics["full_model"]
    assert metrics["beats_every_baseline"] == all(
        full["acc@1"] > row["acc@1"] and full["acc@10"] > row["acc@10"] for name, row in table1.items() if name != "Our model")
    if results["data"]["kind"] != "real":
        # the doodle world's shoes (no ../shared/data and no download): the chapter runs end to end, but
        # the paper's comparisons below are about QMUL Shoe V1
        return
    assert results["data"]["name"] == "QMUL Shoe V1"
    assert results["data"]["n_items"]["test triplets"] == 5175
    # the 115 test sketches' 5,175 annotated triplets: 50 % is chance
    assert full["pct_correct"] > 0.5
    # the learned model beats the bag-of-words baseline on both accuracies
    assert full["acc@1"] > table1["BoW-HOG + rankSVM"]["acc@1"]
    assert full["acc@10"] > table1["BoW-HOG + rankSVM"]["acc@10"]
    # The paper's claim (Table 1): the triplet model beats dense HOG + RankSVM on acc@10. Not met by the
    # 5-minute CPU model (issue #7): reported as an expected failure until it is, then this check fails
    # loudly (strict), so that the known gap is removed from here.
    beats_dense_hog = full["acc@10"] > table1["Dense-HOG + rankSVM"]["acc@10"]
    if results["profile"] == "ci":
        if beats_dense_hog:
            pytest.fail("the ci model now beats dense HOG + RankSVM on acc@10: turn the known gap below into an assert")
        pytest.xfail(f"known gap (issue #7): ci full model acc@10 {full['acc@10']:.3f} <= dense HOG + RankSVM "
                     f"{table1['Dense-HOG + rankSVM']['acc@10']:.3f}")
    assert beats_dense_hog


CHAPTER_CHECKS = {"ch00": check_ch00, "ch01": check_ch01, "ch02": check_ch02}


def run_chapter(notebook: Path, profile: str, tmp_path: Path, monkeypatch, overrides: dict | None = None
                ) -> tuple[dict, float]:
    results_dir = tmp_path / "results"
    monkeypatch.setenv("SBIR_RESULTS_DIR", str(results_dir))
    # the kernel must use matplotlib's inline backend, so that figures land in the notebook
    monkeypatch.delenv("MPLBACKEND", raising=False)
    output = tmp_path / notebook.name
    start = time.perf_counter()
    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters={"PROFILE": profile, "SEED": 0, "OVERRIDES": overrides or {}},
        cwd=str(notebook.parent),
        kernel_name="python3",
        progress_bar=False,
        request_save_on_cell_execute=False,
    )
    elapsed = time.perf_counter() - start
    chapter_id = notebook.stem.split("_")[0]
    path = results_dir / f"{chapter_id}.json"
    assert path.is_file(), f"{notebook.name} did not write its results file {path}"
    return json.loads(path.read_text(encoding="utf-8")), elapsed


def check_common(results: dict, chapter_id: str, profile: str, overrides: dict | None = None) -> None:
    assert results["chapter"] == chapter_id
    assert results["profile"] == profile
    assert results["overrides"] == (overrides or {}), "the results must say which profile settings were changed"
    assert results["seed"] == 0
    assert results["data"]["kind"] in ("real", "generated", "example")
    assert results["data"]["name"]
    assert results["wall_time_s"] > 0
    assert results["metrics"], "a chapter must record its metrics"


def test_every_chapter_is_in_the_toc():
    on_disk = sorted(p.name for p in (REPO_ROOT / "chapters").glob("*.ipynb"))
    assert on_disk == sorted(p.name for p in CHAPTERS), "every notebook in chapters/ must be listed in _toc.yml"
    assert set(IDS) <= set(CHAPTER_CHECKS), f"chapters without results checks: {set(IDS) - set(CHAPTER_CHECKS)}"


@pytest.mark.chapter
@pytest.mark.parametrize("notebook", CHAPTERS, ids=IDS)
def test_chapter_ci_profile(notebook: Path, tmp_path: Path, monkeypatch):
    chapter_id = notebook.stem.split("_")[0]
    results, elapsed = run_chapter(notebook, "ci", tmp_path, monkeypatch)
    check_common(results, chapter_id, "ci")
    CHAPTER_CHECKS[chapter_id](results)
    # The 5-minute budget of the ci profile is measured by benchmarks/chapter_times.py, not here.
    print(f"{notebook.name}: ci profile ran in {elapsed:.1f} s")


@pytest.mark.chapter
@pytest.mark.parametrize("stem", ["ch00_template", "ch02_sketch_me_that_shoe"], ids=["ch00", "ch02"])
def test_chapter_falls_back_to_the_doodle_world_offline(stem: str, tmp_path: Path, monkeypatch):
    """Without real data (no mirror, empty cache, downloads disabled) a chapter runs on generated data."""
    monkeypatch.setenv("SBIR_OFFLINE", "1")
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "empty-cache"))
    results, _ = run_chapter(REPO_ROOT / "chapters" / f"{stem}.ipynb", "ci", tmp_path, monkeypatch)
    assert results["data"]["kind"] == "generated"
    assert results["data"]["name"].startswith("doodle world")
    CHAPTER_CHECKS[stem.split("_")[0]](results)


# The `full` profile's code on a CPU, with step counts and data sizes cut down so that it runs in minutes:
# the paper's resolution and network, every Table-2 row, several seeds. Without it that code would only
# ever run on a GPU runner, and a slip in it would surface hours into a run. The numbers of such a run
# mean nothing, so only the structure of the results is checked.
FULL_CODE_PATH_OVERRIDES = {
    "ch00": {"per_class": 4},
    "ch01": {"train_per_class": 6, "val_per_class": 2, "test_per_class": 4, "steps": 3, "umap_classes": 4,
             "umap_per_class": 3},
    "ch02": {"step1_steps": 2, "step2_steps": 2, "step3_steps": 2, "step4_steps": 2, "eval_every": 2, "batch": 4,
             "pre_batch": 4, "sketch_classes": 4, "photos_per_class": 2, "sketches_per_class": 3, "seeds": [0, 1],
             "svm_alphas": [1e-2], "bow_words": 50},
}


def check_full_code_path_ch02(results: dict) -> None:
    config = results["extra"]["config"]
    assert (config["size"], config["stored"], config["width"]) == (225, 256, 1.0), "the paper's network and crops"
    table2 = results["metrics"]["table2"]
    assert list(table2) == config["table2_rows"] == list(results["extra"]["paper_table2"])
    for name, row in table2.items():
        assert row["n_seeds"] == 2, name
        for key in ("acc@1", "acc@10", "pct_correct", "acc@1_std", "acc@10_std"):
            assert 0.0 <= row[key] <= 1.0, (name, key)
    assert set(results["metrics"]["table1"]) == {"BoW-HOG + rankSVM", "Dense-HOG + rankSVM", "Dense-HOG, Euclidean",
                                                 "ISN Deep + rankSVM", "Our model"}


FULL_CODE_PATH_CHECKS = {"ch02": check_full_code_path_ch02}


def test_every_chapter_has_a_cut_down_full_profile():
    assert set(IDS) <= set(FULL_CODE_PATH_OVERRIDES), "chapters without FULL_CODE_PATH_OVERRIDES"


@pytest.mark.chapter
@pytest.mark.parametrize("notebook", CHAPTERS, ids=IDS)
def test_chapter_full_profile_code_runs_cut_down_on_cpu(notebook: Path, tmp_path: Path, monkeypatch):
    chapter_id = notebook.stem.split("_")[0]
    overrides = FULL_CODE_PATH_OVERRIDES[chapter_id]
    results, elapsed = run_chapter(notebook, "full", tmp_path, monkeypatch, overrides=overrides)
    check_common(results, chapter_id, "full", overrides)
    FULL_CODE_PATH_CHECKS.get(chapter_id, lambda r: None)(results)
    print(f"{notebook.name}: full profile cut down by {overrides} ran in {elapsed:.1f} s")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="the full profile needs a CUDA GPU (runs on the GPU runners only)")
@pytest.mark.parametrize("notebook", CHAPTERS, ids=IDS)
def test_chapter_full_profile(notebook: Path, tmp_path: Path, monkeypatch):
    chapter_id = notebook.stem.split("_")[0]
    results, _ = run_chapter(notebook, "full", tmp_path, monkeypatch)
    check_common(results, chapter_id, "full")
    assert results["environment"]["device"].startswith("cuda")
    CHAPTER_CHECKS[chapter_id](results)
