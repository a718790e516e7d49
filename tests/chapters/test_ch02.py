"""Chapter 2 (Sketch Me That Shoe): Table 1 and 2 on real QMUL Shoe V1 in ci; the full profile's code,
cut down, on the doodle world offline (the offline fallback and the full code path share that run)."""

import numpy as np
import pytest

from sbir_lib.backbones import LITE0_SHA256
from sbir_lib.reproducibility import margin_verdict

pytestmark = pytest.mark.chapter

BB = "Our model, ImageNet Lite0"
TABLE1_ROWS = {"BoW-HOG + rankSVM", "Dense-HOG + rankSVM", "Dense-HOG, Euclidean", "ISN Deep + rankSVM", "Our model", BB}
BASELINES = TABLE1_ROWS - {"Our model", BB}
# the paper's network and crops, every Table 2 row, two seeds -- but a few steps on 24 pairs
FULL_CUT_DOWN = {"step1_steps": 2, "step2_steps": 2, "step3_steps": 2, "step4_steps": 2, "eval_every": 2, "batch": 4,
                 "pre_batch": 4, "sketch_classes": 4, "photos_per_class": 2, "sketches_per_class": 3, "seeds": [0, 1],
                 "svm_alphas": [1e-2], "bow_words": 50, "max_pairs": 24, "n_val": 10,
                 "bb_steps": 2, "bb_eval_every": 2, "bb_batch": 4, "bb_seeds": [0, 1], "bb_ablation_seeds": [0, 1]}


def metric_keys(results: dict) -> tuple[str, ...]:
    """acc@1, acc@10 and -- where the data has triplet annotations (not ChairV2) -- % correct."""
    return ("acc@1", "acc@10") if results["extra"]["category"] == "chairv2" else ("acc@1", "acc@10", "pct_correct")


def check_structure(results: dict) -> None:
    metrics = results["metrics"]
    table1, table2 = metrics["table1"], metrics["table2"]
    assert set(table1) == TABLE1_ROWS
    assert set(table2) == {"Sketch-a-Net", "ImageNet Lite0"}
    rows = list(table1.items()) + [(f"{f}: {n}", r) for f, t in table2.items() for n, r in t.items()]
    keys = metric_keys(results)
    for name, row in rows:
        assert set(keys) <= set(row), (name, row)
        for key in keys:
            assert 0.0 <= row[key] <= 1.0, f"{name}: {key}={row[key]}"
        assert row["acc@1"] <= row["acc@10"], name
    config = results["extra"]["config"]
    full = table1[BB]
    assert full == metrics["full_model"] == table2["ImageNet Lite0"]["Our full model"]
    assert table1["Our model"] == metrics["sketchanet_model"]
    seeds = metrics["lite0_seeds"]
    assert [int(s) for s in seeds] == config["bb_seeds"] and full["n_seeds"] == len(seeds) >= 2
    for key in keys:                                                # the row is the seeds' mean and std
        values = [r[key] for r in seeds.values()]
        assert full[key] == pytest.approx(np.mean(values)) and full[f"{key}_std"] == pytest.approx(np.std(values))
    assert list(table2["ImageNet Lite0"]) == config["bb_table2_rows"] + ["Our full model"]
    for name, model in (("beats_every_baseline", BB), ("sketchanet_beats_every_baseline", "Our model")):
        assert metrics[name] == all(table1[model]["acc@1"] > table1[b]["acc@1"] and
                                    table1[model]["acc@10"] > table1[b]["acc@10"] for b in BASELINES)
    weights = results["extra"]["weights"]
    assert weights["ImageNet Lite0"]["sha256"] == LITE0_SHA256
    assert weights["Sketch-a-Net"]["backbone"] == "sketch-a-net" and weights["Step 4 only (Lite0)"]["weights"].startswith("random")


def check_beats(results: dict, model: str, keys, baselines) -> None:
    """``model`` beats each baseline on each metric: the seeds' mean by more than the seeds' spread (their std,
    the "±" the chapter prints) and more than one test sketch, and every seed on its own. (Float results of
    a training differ between CPUs of this machine kind: on 2026-12-02 two of them gave Lite0 acc@1 seeds
    44.3/44.3/46.1 and 43.5/44.3/47.0 for the same commit and seeds; the max - min range, 1.8 and 3.5 points,
    is no stable yardstick at 0.87 points per test sketch.)"""
    table1, seeds = results["metrics"]["table1"], results["metrics"]["lite0_seeds"]
    n_test = results["metrics"]["n_test_sketches"]
    for key in keys:
        values = [r[key] for r in seeds.values()]
        spread = float(np.std(values))
        for baseline in baselines:
            margin = table1[model][key] - table1[baseline][key]
            where = (f"{key}: {model} {table1[model][key]:.3f} (seeds {np.round(values, 3).tolist()}, std "
                     f"{spread:.3f}) vs {baseline} {table1[baseline][key]:.3f}")
            assert margin > max(spread, 1 / n_test), where
            assert min(values) > table1[baseline][key], where


def check_claims(results: dict) -> None:
    """The paper's central claim (Table 1) on QMUL Shoe V1, on the ImageNet family's seeds: the triplet model
    beats every baseline on acc@1 and acc@10 (:func:`check_beats`)."""
    table1 = results["metrics"]["table1"]
    full = table1[BB]
    assert results["data"]["name"] == "QMUL Shoe V1"
    assert results["data"]["n_items"]["test triplets"] == 5175 and results["metrics"]["n_test_sketches"] == 115
    check_beats(results, BB, ("acc@1", "acc@10"), BASELINES)
    # the 115 test sketches' 5,175 annotated triplets: 50 % is chance
    assert full["pct_correct"] > 0.5 and table1["Our model"]["pct_correct"] > 0.5
    # Table 2's starkest row: ImageNet weights against none (random weights, same network and training)
    scratch = results["metrics"]["table2"]["ImageNet Lite0"]["Step 4 only"]
    assert full["acc@10"] - scratch["acc@10"] > 0.2, (full["acc@10"], scratch["acc@10"])
    # the paper's full model (Table 1): the seeds' mean clears its value by more than their spread, every seed clears
    # it. In ci that holds for acc@1 (39.13 %) only. acc@10 is level with the paper's 87.83 % within the seeds'
    # spread (87.83 +- 1.2 at 100 steps on an AVX2 CPU, 89.9 +- 2.9 at 300 on an AVX-512 one, two seeds at 101/115), and
    # % corr. clears 69.49 % by 1.2-1.6 points, too thin between CPUs; no ci setting within the budget lifted
    # validation beyond noise (the profile's comment). The paper's settings (the full profile, GPU) must clear all
    # three.
    paper = dict(zip(("acc@1", "acc@10", "pct_correct"),
                     (v / 100 for v in results["extra"]["paper_table1"]["Our model"])))
    assert paper == pytest.approx({"acc@1": 0.3913, "acc@10": 0.8783, "pct_correct": 0.6949})
    floors = {"acc@1": 1 / results["metrics"]["n_test_sketches"], "acc@10": 1 / results["metrics"]["n_test_sketches"],
              "pct_correct": 1 / results["data"]["n_items"]["test triplets"]}
    for key in ("acc@1",) if results["profile"] == "ci" else tuple(paper):
        values = [r[key] for r in results["metrics"]["lite0_seeds"].values()]
        assert margin_verdict(values, paper[key], floor=floors[key]) == "reproduced", (key, values, paper[key])


@pytest.mark.shared_data
def test_ci_profile_on_qmul_shoe_v1(run_chapter, shared_data):
    results, _ = run_chapter("ch02", "ci")
    check_structure(results)
    check_claims(results)


def test_full_profile_code_runs_cut_down_offline_on_the_doodle_world(run_chapter, offline):
    results, _ = run_chapter("ch02", "full", FULL_CUT_DOWN)
    assert results["data"]["kind"] == "generated" and results["data"]["name"].startswith("doodle world")
    check_structure(results)
    config = results["extra"]["config"]
    assert (config["size"], config["stored"], config["width"]) == (225, 256, 1.0), "the paper's network and crops"
    table2 = results["metrics"]["table2"]["Sketch-a-Net"]
    assert list(table2) == config["table2_rows"] == list(results["extra"]["paper_table2"])
    assert (config["bb_size"], config["bb_start"]) == (224, 5)
    for name, row in list(table2.items()) + list(results["metrics"]["table2"]["ImageNet Lite0"].items()):
        assert row["n_seeds"] == 2, name
        for key in ("acc@1_std", "acc@10_std"):
            assert 0.0 <= row[key] <= 1.0, (name, key)


@pytest.mark.gpu
def test_full_profile(run_full_on_gpu, shared_data):
    results = run_full_on_gpu("ch02")
    check_structure(results)
    check_claims(results)


# QMUL-ChairV2 through the same chapter: Sketch-a-Net's pre-training cut to a few steps and the ImageNet
# family's ablations left out (CI time); the ImageNet family's full model at its ci settings, three seeds
CHAIRV2_SHORT = {"step1_steps": 2, "step2_steps": 2, "step3_steps": 2, "step4_steps": 2, "eval_every": 2,
                 "sketch_classes": 10, "sketches_per_class": 3, "photos_per_class": 2, "bow_words": 100,
                 "bb_table2_rows": []}


@pytest.mark.shared_data
def test_ci_profile_on_qmul_chairv2(run_chapter, shared_data):
    results, _ = run_chapter("ch02", "ci", CHAIRV2_SHORT, CATEGORY="chairv2")
    check_structure(results)
    data = results["data"]
    assert data["name"] == "QMUL-ChairV2" and data["kind"] == "real"
    assert (data["n_items"]["test sketches"], data["n_items"]["test photos"]) == (323, 100)
    assert results["metrics"]["n_test_sketches"] == 323
    assert "pct_correct" not in results["metrics"]["table1"][BB]               # no triplet annotations
    # the pretrained model beats dense HOG on acc@10 here too (the seeds' mean, by more than their spread)
    check_beats(results, BB, ("acc@10",), ["Dense-HOG + rankSVM", "Dense-HOG, Euclidean"])
