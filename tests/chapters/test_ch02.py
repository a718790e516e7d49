"""Chapter 2 (Sketch Me That Shoe): Table 1 and 2 on real QMUL Shoe V1 in ci; the full profile's code,
cut down, on the doodle world offline (the offline fallback and the full code path share that run)."""

import pytest

pytestmark = pytest.mark.chapter

TABLE1_ROWS = {"BoW-HOG + rankSVM", "Dense-HOG + rankSVM", "Dense-HOG, Euclidean", "ISN Deep + rankSVM", "Our model"}
# the paper's network and crops, every Table 2 row, two seeds -- but a few steps on 40 pairs
FULL_CUT_DOWN = {"step1_steps": 2, "step2_steps": 2, "step3_steps": 2, "step4_steps": 2, "eval_every": 2, "batch": 4,
                 "pre_batch": 4, "sketch_classes": 4, "photos_per_class": 2, "sketches_per_class": 3, "seeds": [0, 1],
                 "svm_alphas": [1e-2], "bow_words": 50, "max_pairs": 40, "n_val": 10}


def check_structure(results: dict) -> None:
    metrics = results["metrics"]
    table1, table2 = metrics["table1"], metrics["table2"]
    assert set(table1) == TABLE1_ROWS
    for name, row in list(table1.items()) + list(table2.items()):
        for key in ("acc@1", "acc@10", "pct_correct"):
            assert 0.0 <= row[key] <= 1.0, f"{name}: {key}={row[key]}"
        assert row["acc@1"] <= row["acc@10"], name
    full = table1["Our model"]
    assert full == metrics["full_model"]
    assert metrics["beats_every_baseline"] == all(
        full["acc@1"] > row["acc@1"] and full["acc@10"] > row["acc@10"] for name, row in table1.items() if name != "Our model")


def check_claims(results: dict) -> None:
    """The paper's comparisons, on QMUL Shoe V1."""
    table1 = results["metrics"]["table1"]
    full = table1["Our model"]
    assert results["data"]["name"] == "QMUL Shoe V1"
    assert results["data"]["n_items"]["test triplets"] == 5175
    # the 115 test sketches' 5,175 annotated triplets: 50 % is chance
    assert full["pct_correct"] > 0.5
    # the learned model beats the bag-of-words baseline on acc@10
    assert full["acc@10"] > table1["BoW-HOG + rankSVM"]["acc@10"]
    # The paper's claim (Table 1): the triplet model beats dense HOG + RankSVM on acc@10. Not met by the
    # 5-minute CPU Sketch-a-Net (issue #14 brings the pretrained backbone): an expected failure until it
    # is, then this check fails loudly (strict), so that the known gap is removed from here.
    beats_dense_hog = full["acc@10"] > table1["Dense-HOG + rankSVM"]["acc@10"]
    if results["profile"] == "ci":
        if beats_dense_hog:
            pytest.fail("the ci model now beats dense HOG + RankSVM on acc@10: turn the known gap into an assert")
        pytest.xfail(f"known gap (issue #14): ci full model acc@10 {full['acc@10']:.3f} <= dense HOG + RankSVM "
                     f"{table1['Dense-HOG + rankSVM']['acc@10']:.3f}")
    assert beats_dense_hog


@pytest.mark.shared_data
def test_ci_profile_on_qmul_shoe_v1(run_chapter, shared_data):
    results, _ = run_chapter("ch02", "ci")
    check_structure(results)
    assert {"Step 4 only", "Pairwise alternative", "Our full model"} <= set(results["metrics"]["table2"])
    check_claims(results)


def test_full_profile_code_runs_cut_down_offline_on_the_doodle_world(run_chapter, offline):
    results, _ = run_chapter("ch02", "full", FULL_CUT_DOWN)
    assert results["data"]["kind"] == "generated" and results["data"]["name"].startswith("doodle world")
    check_structure(results)
    config = results["extra"]["config"]
    assert (config["size"], config["stored"], config["width"]) == (225, 256, 1.0), "the paper's network and crops"
    table2 = results["metrics"]["table2"]
    assert list(table2) == config["table2_rows"] == list(results["extra"]["paper_table2"])
    for name, row in table2.items():
        assert row["n_seeds"] == 2, name
        for key in ("acc@1_std", "acc@10_std"):
            assert 0.0 <= row[key] <= 1.0, (name, key)


@pytest.mark.gpu
def test_full_profile(run_full_on_gpu, shared_data):
    results = run_full_on_gpu("ch02")
    check_structure(results)
    check_claims(results)
