"""Chapter 5 (LiveSketch): the ci run on real Quick, Draw! strokes against the doodle world's photos (the
doodle world's own sketches where the mirror is absent), and the full profile's code (the sketch-rnn files,
GoogLeNet and ResNet-50) cut down on the CPU, offline."""

import numpy as np
import pytest

from sbir_lib.backbones import LITE0_SHA256
from sbir_lib.papers.livesketch import PAPER_TABLE2, PERTURBATIONS

pytestmark = pytest.mark.chapter

# GoogLeNet for R and ResNet-50 for Z with random weights (their ImageNet files cannot be fetched offline: the code
# path only) at 112 px; offline, so the doodle world's sketches; a tiny VAE; two seeds and a shuffled one
FULL_CUT_DOWN = {"pretrained": False, "image_size": 112, "train_per_class": 3, "raster_train_per_class": 2,
                 "eval_per_class": 2, "photos_train_per_class": 1, "photos_gallery_per_class": 2,
                 "vae": {"enc_hidden": 16, "dec_hidden": 32, "bottleneck": 16, "z_dim": 8, "n_mixtures": 3},
                 "vae_steps": 5, "vae_batch": 16, "raster_steps": 5, "joint_steps": 5, "batch": 16, "k": 40,
                 "study_queries": 3, "ap_steps": 10, "seeds": [0, 1], "shuffle_seeds": [0],
                 "index": {"kind": "ivfpq", "nlist": 2, "m": 8, "nbits": 4, "nprobe": 2}}
SS_ROWS = ("V-R", "R-V", "V-R-shuffle", "R-V-shuffle")
SI_ROWS = ("LS (ours)", "LS-R", "LS-R-I [6]")


def check_structure(results: dict) -> None:
    metrics, config = results["metrics"], results["extra"]["config"]
    table, seeds = metrics["table2"], metrics["seeds"]
    assert set(table) == {*SS_ROWS, *SI_ROWS, "chance (S-S)", "chance (S-I)"}
    assert table["chance (S-S)"] == metrics["chance"]["S-S"] and table["chance (S-I)"] == metrics["chance"]["S-I"]
    for name in SS_ROWS + SI_ROWS:
        runs = seeds[name]
        n = len(config["shuffle_seeds"] if name.endswith("shuffle") else config["seeds"])
        assert table[name]["n_seeds"] == len(runs) == n
        for key, value in runs[0].items():
            assert 0.0 < value <= 1.0, (name, key, value)
            assert table[name][key] == pytest.approx(np.mean([r[key] for r in runs]))
            assert table[name][key + "_std"] == pytest.approx(np.std([r[key] for r in runs]))
    study = metrics["study"]
    assert set(study) == {"unperturbed", *PERTURBATIONS}
    assert len(metrics["study_seeds"]) == len(config["seeds"])
    for name, row in study.items():
        assert row["to_target"] >= 0 and 0 < row["confidence"] <= 1 and row["dV"] >= 0, (name, row)
    assert study["unperturbed"]["dV"] == 0.0
    assert set(metrics["claims"]) >= {"f_AP closer than f_linear (drawn)", "f_AP closer than the query (before drawing)"}
    costs = metrics["costs"]
    assert costs["bytes_per_image"] > 0 and costs["query_ms"] > 0 and costs["vae_ms_per_sketch"] > 0
    assert results["extra"]["paper_table2"]["S-S"]["V-R"] == list(PAPER_TABLE2["S-S"]["V-R"])


def test_ci_profile(run_chapter):
    results, seconds = run_chapter("ch05", "ci")
    check_structure(results)
    metrics, table = results["metrics"], results["metrics"]["table2"]
    assert results["extra"]["weights"]["R"]["sha256"] == LITE0_SHA256
    chance = metrics["chance"]
    real = results["data"]["kind"] == "real"
    if real:
        assert results["data"]["n_items"]["queries"] >= 300                      # one per Quick, Draw! class
    # vector-to-raster class-level retrieval well above chance: the seeds' mean at twice chance or more, every seed
    # above chance by more than the seeds' spread
    vr = [r["class mAP"] for r in metrics["seeds"]["V-R"]]
    assert np.mean(vr) > 2 * chance["S-S"]["class mAP"], (vr, chance)
    assert min(vr) - chance["S-S"]["class mAP"] > table["V-R"]["class mAP_std"], (vr, chance)
    for name in SI_ROWS:
        assert table[name]["class mAP"] > chance["S-I"]["class mAP"] + table[name]["class mAP_std"], name
    # Eq. 11-13 move the code towards the targets in S (before drawing): measured +0.11 to +0.16 per seed, the
    # differences' std 0.02
    claim = metrics["claims"]["f_AP closer than the query (before drawing)"]
    assert claim["margin"] > 2 * claim["spread"] and min(claim["per_seed"]) > 0, claim
    # Not asserted, because it is not robust here: the *drawn* suggestions of f_AP nearer the targets than linear
    # interpolation's. Measured +0.084 (per seed +0.093 / +0.027 / +0.133, std 0.044) with these settings, +0.073
    # (+0.018 / +0.010 / +0.192, std 0.084) with 25 % longer raster / joint training, +0.032 (-0.047 / +0.064 /
    # +0.079, std 0.056) with the VAE trained 3x longer (vae_steps 480: the unperturbed round trip's distance to the
    # targets went from 0.44 to 0.53, not down). Those were an AVX2 CPU's; on an AVX-512 one the same seeds give
    # +0.051 / +0.041 / +0.131 and seeds 3-5 +0.016 / +0.007 / -0.022, so over seeds 0-5 the margin is +0.037 +- 0.053,
    # level with its spread. Neither a weaker KL term (kl final 0.1: +0.065 +- 0.040), a wider decoder (dec_hidden
    # 256, z_dim 64: +0.093 +- 0.097, one seed below 0) nor both a weaker KL and 5x the steps (-0.006 +- 0.047: lower
    # NLL, but a round trip 0.61 away) steadies it. In ci the round trip through V_D and V_E costs more than any
    # perturbation gains (#17).
    # What is asserted of the drawn suggestions: f_AP's stay near the unperturbed round trip, it moves the code
    # less than linear interpolation (dV), and its drawings are no less plausible to the VAE.
    study = metrics["study"]
    assert study["f_AP"]["dV"] < 0.5 * study["f_linear"]["dV"], study
    assert abs(study["f_AP"]["to_target"] - study["unperturbed"]["to_target"]) < 0.1, study


def test_full_profile_code_runs_cut_down_offline(run_chapter, offline):
    results, _ = run_chapter("ch05", "full", FULL_CUT_DOWN)
    check_structure(results)
    config = results["extra"]["config"]
    assert (config["backbone"], config["z_backbone"], config["source"]) == ("googlenet", "resnet50", "sketchrnn")
    assert config["vae"]["bottleneck"] == 16 and config["alpha"] == 0.1 and config["margin"] == 0.2
    assert results["extra"]["weights"] == "random (torch seed)"
    assert results["data"]["kind"] == "generated" and "Quick, Draw! not available" in results["data"]["note"]


@pytest.mark.gpu
def test_full_profile(run_full_on_gpu):
    results = run_full_on_gpu("ch05")
    check_structure(results)
    # with the paper's SketchRNN (trained on Quick, Draw! at full size, the round trip through V_D and V_E cheap),
    # the claim ci cannot show (test_ci_profile's comment): f_AP's drawn suggestions land nearer the targets than
    # f_linear's, the seeds' mean by more than their spread and every seed; and before drawing, as in ci
    claims = results["metrics"]["claims"]
    for name in ("f_AP closer than f_linear (drawn)", "f_AP closer than the query (before drawing)"):
        claim = claims[name]
        assert claim["margin"] > claim["spread"] and min(claim["per_seed"]) > 0, (name, claim)
