"""Tests of sbir_lib.runtime (profile, device, seeds) and sbir_lib.results (the results file)."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from sbir_lib import results, runtime


def test_select_profile_returns_a_copy_of_the_profile_settings():
    settings = {"ci": {"epochs": 1}, "full": {"epochs": 50}}
    chosen = runtime.select_profile("full", settings)
    assert chosen == {"epochs": 50}
    chosen["epochs"] = 2
    assert settings["full"]["epochs"] == 50


@pytest.mark.parametrize("bad, message", [("fast", "PROFILE must be one of"), ("CI", "PROFILE must be one of")])
def test_select_profile_rejects_unknown_profiles(bad, message):
    with pytest.raises(ValueError, match=message):
        runtime.select_profile(bad, {"ci": {}, "full": {}})


def test_select_profile_needs_settings_for_the_profile():
    with pytest.raises(ValueError, match="no settings for profile 'full'"):
        runtime.select_profile("full", {"ci": {}})


def test_select_profile_applies_overrides_by_name_without_touching_the_settings():
    settings = {"ci": {"steps": 300, "lr": 1e-3}, "full": {"steps": 40000, "lr": 1e-3}}
    chosen = runtime.select_profile("full", settings, overrides={"steps": 3})
    assert chosen == {"steps": 3, "lr": 1e-3}
    assert settings["full"] == {"steps": 40000, "lr": 1e-3}
    assert runtime.select_profile("full", settings, overrides={}) == {"steps": 40000, "lr": 1e-3}
    assert runtime.select_profile("full", settings, overrides=None) == {"steps": 40000, "lr": 1e-3}


def test_select_profile_rejects_overrides_of_settings_the_profile_lacks():
    settings = {"ci": {"steps": 300}, "full": {"steps": 40000, "lr": 1e-3}}
    # a typo must not pass silently: the run would use the profile's value and say it was overridden
    with pytest.raises(ValueError, match=r"profile 'full' does not have: \['step'\] \(it has \['lr', 'steps'\]\)"):
        runtime.select_profile("full", settings, overrides={"step": 3})
    with pytest.raises(ValueError, match="OVERRIDES must be a dict"):
        runtime.select_profile("ci", settings, overrides=[("steps", 3)])


def test_resolve_device_auto_and_explicit():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert runtime.resolve_device("auto").type == expected
    assert runtime.resolve_device(None).type == expected
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="not a torch device name"):
        runtime.resolve_device("gpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised on a machine without CUDA")
def test_resolve_device_refuses_cuda_without_a_gpu():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        runtime.resolve_device("cuda")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    runtime.seed_everything(123)
    first = draw()
    runtime.seed_everything(123)
    assert draw() == first
    runtime.seed_everything(124)
    assert draw() != first
    with pytest.raises(TypeError, match="SEED must be an int"):
        runtime.seed_everything(1.5)


def test_environment_report_names_versions_and_device():
    report = runtime.environment_report(torch.device("cpu"))
    assert report["torch"] == torch.__version__
    assert report["numpy"] == np.__version__
    assert report["device"] == "cpu"
    assert {"ipywidgets", "ipycanvas", "python", "sbir_lib"} <= set(report)


def test_stopwatch_measures_elapsed_time():
    sw = runtime.Stopwatch()
    assert 0 <= sw.elapsed < 5


def test_write_results_round_trip_with_numpy_values(tmp_path):
    src = results.data_source("real", "QMUL Shoe V1", split="test", n_items={"sketches": 115, "photos": 115},
                              location="/data/qmul")
    path = results.write_results(
        "ch02", metrics={"acc@1": np.float32(0.25), "table": {"rows": [1, 2]}, "n": np.int64(3), "ok": np.bool_(True)},
        data=src, profile="ci", seed=0, wall_time_s=1.5, device="cpu", directory=tmp_path,
        extra={"paper": {"acc@1": 39.13}},
    )
    assert path == tmp_path / "ch02.json"
    record = json.loads(path.read_text())
    assert record["metrics"] == {"acc@1": 0.25, "table": {"rows": [1, 2]}, "n": 3, "ok": True}
    assert record["data"]["n_items"] == {"sketches": 115, "photos": 115}
    assert record["extra"]["paper"]["acc@1"] == 39.13
    assert record["overrides"] == {}, "a run of the profile as written records no overrides"
    assert record["environment"]["device"] == "cpu"
    assert results.read_results("ch02", directory=tmp_path) == record
    assert [p.name for p in tmp_path.iterdir()] == ["ch02.json"], "no temporary file may be left behind"


def test_write_results_records_the_overrides(tmp_path):
    src = results.data_source("generated", "doodle world")
    path = results.write_results("ch02", metrics={"acc@1": 0.1}, data=src, profile="full", seed=0, wall_time_s=1.0,
                                 overrides={"step4_steps": np.int64(4), "seeds": (0, 1)}, directory=tmp_path)
    assert json.loads(path.read_text())["overrides"] == {"step4_steps": 4, "seeds": [0, 1]}


def test_write_results_refuses_nan_and_leaves_no_file(tmp_path):
    src = results.data_source("generated", "doodle world")
    with pytest.raises(ValueError, match=r"metrics\.map is nan"):
        results.write_results("ch01", metrics={"map": math.nan}, data=src, profile="ci", seed=0, wall_time_s=1.0,
                              directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"chapter_id": "Chapter 1"}, ValueError, "chapter id must match"),
        ({"profile": "fast"}, ValueError, "profile must be one of"),
        ({"data": {"name": "x"}}, ValueError, "data must come from"),
        ({"metrics": {"x": object()}}, TypeError, r"metrics\.x has type object"),
        ({"metrics": {1: 2}}, TypeError, "must be a string"),
    ],
)
def test_write_results_errors(tmp_path, kwargs, error, message):
    args = dict(chapter_id="ch01", metrics={"m": 1.0}, data=results.data_source("example", "stored examples"),
                profile="ci", seed=0, wall_time_s=1.0, directory=tmp_path)
    args.update(kwargs)
    chapter_id = args.pop("chapter_id")
    with pytest.raises(error, match=message):
        results.write_results(chapter_id, **args)


def test_data_source_validation_and_description():
    with pytest.raises(ValueError, match="data kind must be one of"):
        results.data_source("synthetic", "x")
    src = results.data_source("real", "QuickDraw", split="train", n_items=200, location="../shared/data",
                              note="A subset.")
    assert results.describe_data(src) == (
        "Data: QuickDraw (real data); split train; 200 items; from ../shared/data. A subset."
    )


def test_results_dir_finds_the_book_root(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "_config.yml").write_text("title: x\n")
    (tmp_path / "chapters").mkdir()
    monkeypatch.delenv("SBIR_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path / "chapters")
    assert results.results_dir() == tmp_path / "_build" / "results"
    monkeypatch.setenv("SBIR_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert results.results_dir() == tmp_path / "elsewhere"


def test_read_results_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="ch05.json does not exist"):
        results.read_results("ch05", directory=tmp_path)


def test_import_is_fast_and_lazy():
    """`import sbir_lib` must not pull in torch, numba, faiss, umap or matplotlib."""
    code = (
        "import sys, time; t = time.perf_counter(); import sbir_lib; dt = time.perf_counter() - t; "
        "heavy = [m for m in ('torch', 'numba', 'faiss', 'umap', 'matplotlib', 'sklearn', 'skimage') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import sbir_lib imported heavy modules: {out}"


def test_use_data_root_sets_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SBIR_DATA", raising=False)
    default = runtime.use_data_root(None)
    assert "SBIR_DATA" not in __import__("os").environ
    assert runtime.use_data_root(tmp_path / "datasets") == (tmp_path / "datasets").resolve()
    assert __import__("os").environ["SBIR_DATA"] == str((tmp_path / "datasets").resolve())
    assert default != tmp_path / "datasets"
