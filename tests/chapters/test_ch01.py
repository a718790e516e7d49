"""Chapter 1 (foundations): learned embedding > HOG > chance; its full code path cut down."""

import pytest

pytestmark = pytest.mark.chapter

FULL_CUT_DOWN = {"train_per_class": 6, "val_per_class": 2, "test_per_class": 4, "steps": 3, "umap_classes": 4,
                 "umap_per_class": 3}


def check(results: dict) -> None:
    retrieval = results["metrics"]["category_retrieval"]
    chance, hog, triplet = retrieval["chance"], retrieval["hog"], retrieval["triplet"]
    # the learned embedding beats HOG, which beats chance, on mAP@all
    assert triplet["map_all"] > hog["map_all"] > chance["map_all"]
    for row in (chance, hog, triplet):
        assert 0.0 <= row["map_all"] <= 1.0 and 0.0 <= row["p_at_200"] <= 1.0
        # with at most 200 retrieved items, Yelamarthi's mAP@200 can never exceed P@200
        assert row["map_at_200_yelamarthi"] <= row["p_at_200"] + 1e-12
    assert results["data"]["kind"] in ("generated", "real")
    assert results["metrics"]["training"]["steps"] >= 1


def test_ci_profile(run_chapter):
    results, _ = run_chapter("ch01", "ci")
    check(results)


def test_full_profile_code_runs_cut_down_on_cpu(run_chapter):
    run_chapter("ch01", "full", FULL_CUT_DOWN)


@pytest.mark.gpu
def test_full_profile(run_full_on_gpu):
    check(run_full_on_gpu("ch01"))
