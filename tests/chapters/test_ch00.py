"""Chapter 0 (the template): its ci run, its offline fallback, its full code path cut down."""

import pytest

pytestmark = pytest.mark.chapter

FULL_CUT_DOWN = {"per_class": 4}


def check(results: dict) -> None:
    metrics = results["metrics"]
    assert metrics["n_sketches"] >= 20
    # raw-pixel nearest neighbour over several classes must beat chance on mAP
    assert 0.0 <= metrics["map_chance"] < metrics["map_raw_pixel"] <= 1.0
    assert metrics["stroke_formats_round_trip"] is True


def test_ci_profile(run_chapter):
    results, _ = run_chapter("ch00", "ci")
    check(results)


def test_falls_back_to_the_doodle_world_offline(run_chapter, offline):
    results, _ = run_chapter("ch00", "ci")
    assert results["data"]["kind"] == "generated" and results["data"]["name"].startswith("doodle world")
    check(results)


def test_full_profile_code_runs_cut_down_on_cpu(run_chapter):
    run_chapter("ch00", "full", FULL_CUT_DOWN)


@pytest.mark.gpu
def test_full_profile(run_full_on_gpu):
    check(run_full_on_gpu("ch00"))
