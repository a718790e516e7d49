"""``python -m sbir_lib.data`` list / fetch / info, and the folder datasets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sbir_lib.data.__main__ import main
from sbir_lib.data.sketchy import sketchy_items
from sbir_lib.data.tuberlin import photo_folder_class, tuberlin_items
from sbir_lib.errors import DataError


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("SBIR_DATA_MIRROR", "")
    return tmp_path


def test_info_and_list(env, capsys):
    assert main(["info", "quickdraw/raw/The Eiffel Tower.ndjson"]) == 0
    out = capsys.readouterr().out
    assert "https://storage.googleapis.com/quickdraw_dataset/full/raw/The%20Eiffel%20Tower.ndjson" in out
    assert "CC BY 4.0" in out and "location: not present" in out
    assert f"cache: {env / 'cache' / 'quickdraw' / 'raw' / 'The Eiffel Tower.ndjson'}" in out
    assert main(["info", "qmul_v1"]) == 0
    assert "Sketch Me That Shoe. CVPR 2016" in capsys.readouterr().out
    assert main(["list", "zeroshot"]) == 0
    assert "zeroshot/vocab_sketchy.txt  (manual)" in capsys.readouterr().out


def test_fetch_without_network_fails_cleanly(env, capsys):
    assert main(["fetch", "--no-download", "quickdraw/simplified/cat.ndjson"]) == 1
    err = capsys.readouterr().err
    assert "downloads are disabled" in err and "quickdraw/simplified/cat.ndjson" in err
    assert main(["info", "nonsense"]) == 1


def test_module_entry_point_fetches_from_mirror(shared_data, repo_root, tmp_path):
    env = dict(os.environ, SBIR_DATA=str(tmp_path / "cache"), SBIR_DATA_MIRROR=str(shared_data))
    res = subprocess.run([sys.executable, "-m", "sbir_lib.data", "fetch", "--no-download", "zeroshot"],
                         capture_output=True, text=True, env=env, cwd=repo_root, timeout=60)
    assert res.returncode == 0, res.stderr
    assert f"zeroshot/vocab_sketchy.txt: {shared_data / 'zeroshot' / 'vocab_sketchy.txt'}" in res.stdout


def test_sketchy_and_tuberlin_folders(tmp_path):
    root = tmp_path / "256x256"
    for mod, name in (("sketch", "n1_10-1.png"), ("sketch", "n1_10-2.png"), ("photo", "n1_10.jpg")):
        d = root / mod / "tx_000000000000" / "hot-air_balloon"
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text("x")
    items = sketchy_items(root)
    assert [(it.label, it.modality, it.pair_id) for it in items] == [
        ("hot_air_balloon", "sketch", "hot_air_balloon/n1_10"), ("hot_air_balloon", "sketch", "hot_air_balloon/n1_10"),
        ("hot_air_balloon", "photo", None)]
    assert items[2].instance_id == "hot_air_balloon/n1_10"
    with pytest.raises(DataError, match="missing"):
        sketchy_items(tmp_path)
    tu = tmp_path / "tu" / "png" / "alarm clock"
    tu.mkdir(parents=True)
    (tu / "1.png").write_text("x")
    assert [it.label for it in tuberlin_items(tmp_path / "tu")] == ["alarm_clock"]
    assert photo_folder_class("alarmclock", ["alarm_clock", "bear_(animal)"]) == "alarm_clock"
    assert photo_folder_class("griaffe", ["giraffe"]) == "giraffe"
    with pytest.raises(DataError, match="matches no class"):
        photo_folder_class("unicorn", ["giraffe"])
