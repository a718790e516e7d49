"""QMUL V1 (.mat + json) and V2 coordinate pickles (restricted unpickler)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from sbir_lib.data.qmul import load_qmul_v1, load_qmul_v1_votes, load_qmul_v2_coordinates, qmul_v2_items
from sbir_lib.data.safe_pickle import restricted_load, restricted_loads
from sbir_lib.errors import DataError


def _write_v1(root, n=3, triplets=None):
    import scipy.io
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for kind in ("sketch", "edge"):
        for split in ("train", "test"):
            scipy.io.savemat(root / f"chairs_{kind}_db_{split}.mat",
                             {"data": rng.integers(0, 256, (n, 256, 256), dtype=np.uint8)})
    trip = triplets or [[[0, 1], [0, 2], [2, 1]] for _ in range(n)]
    ann = {s: {"images": [f"{i + 1}.jpg" for i in range(n)], "sketches": [f"{i + 1}.png" for i in range(n)],
               "triplets": trip} for s in ("train", "test")}
    (root / "chairs_annotation.json").write_text(json.dumps(ann))
    return root


def test_v1_tiny_fixture(tmp_path):
    root = _write_v1(tmp_path / "v1")
    split = load_qmul_v1("chairs", "test", root=root)
    assert len(split) == 3 and split.sketches.shape == (3, 256, 256) and split.edges.dtype == np.uint8
    np.testing.assert_array_equal(split.triplets[1], [[0, 1], [0, 2], [2, 1]])
    items = split.items()
    assert [it.modality for it in items] == ["sketch"] * 3 + ["photo"] * 3
    assert items[1].pair_id == "test/photo/1" and items[0].label == "chair"
    np.testing.assert_array_equal(items[4].raster, split.edges[1])


def test_v1_bad_input(tmp_path):
    root = _write_v1(tmp_path / "v1", triplets=[[[0, 5]]] * 3)
    with pytest.raises(DataError, match=r"triplets of sketch 0 index photos outside 0\.\.2"):
        load_qmul_v1("chairs", "train", root=root)
    mat = root / "chairs_sketch_db_train.mat"
    mat.write_bytes(mat.read_bytes()[:300])
    with pytest.raises(DataError, match=r"chairs_sketch_db_train\.mat: cannot read \.mat file"):
        load_qmul_v1("chairs", "train", root=root)
    with pytest.raises(DataError, match="unknown QMUL V1 category 'boots'"):
        load_qmul_v1("boots")
    import scipy.io
    scipy.io.savemat(root / "chairs_edge_db_test.mat", {"data": np.zeros((3, 64, 64), np.uint8)})
    with pytest.raises(DataError, match=r"expected data of shape \(N, 256, 256\) uint8, got \(3, 64, 64\)"):
        load_qmul_v1("chairs", "test", root=root)


def test_v1_real_shoes(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(shared_data))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    train, test = load_qmul_v1("shoes", "train"), load_qmul_v1("shoes", "test")
    assert (len(train), len(test)) == (304, 115)
    assert {len(t) for t in train.triplets} == {135} and {len(t) for t in test.triplets} == {45}
    # README: each test sketch has 10 candidate photos including its true match -> 45 unordered pairs
    for i in (0, 57, 114):
        cands = np.unique(test.triplets[i])
        assert len(cands) == 10 and i in cands
    votes = load_qmul_v1_votes("shoes")
    assert votes.shape == (3, 419, 45, 2) and votes.min() >= 0 and votes.max() < 419
    assert not (tmp_path / "cache").exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_admits_arrays_and_builtins(tmp_path):
    coords = {"train/2429245009_1": np.array([[10, 10, 0], [20, 15, 1], [5, 5, 0], [6, 9, 1]], np.float64),
              "test/111_2": np.array([[1, 1, 1]], np.int32)}
    path = tmp_path / "ShoeV2_Coordinate"
    for protocol in (2, 4):
        path.write_bytes(pickle.dumps(coords, protocol=protocol))
        loaded = restricted_load(path)
        np.testing.assert_array_equal(loaded["train/2429245009_1"], coords["train/2429245009_1"])
    out = load_qmul_v2_coordinates(path)
    np.testing.assert_array_equal(out["train/2429245009_1"], [[10, 10, 0], [10, 5, 1], [-15, -10, 0], [1, 4, 1]])
    assert out["test/111_2"].dtype == np.float32


@pytest.mark.parametrize("payload", ["os_system", "eval", "nested"])
def test_restricted_unpickler_refuses_malicious_pickles(tmp_path, payload):
    marker = tmp_path / "pwned"
    if payload == "os_system":
        data = pickle.dumps(_Evil(marker))
    elif payload == "eval":
        data = b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode() + b"')\ntR."
    else:
        data = pickle.dumps({"train/1": np.zeros((2, 3)), "x": [_Evil(marker)]})
    with pytest.raises(DataError, match=r"refusing to unpickle global (posix|os|nt|builtins)\.(system|eval)"):
        restricted_loads(data, source="ShoeV2_Coordinate")
    path = tmp_path / "ChairV2_Coordinate"
    path.write_bytes(data)
    with pytest.raises(DataError, match=r"ChairV2_Coordinate: refusing"):
        load_qmul_v2_coordinates(path)
    assert not marker.exists()


def test_truncated_pickle_and_wrong_shapes(tmp_path):
    with pytest.raises(DataError, match="malformed or truncated pickle"):
        restricted_loads(pickle.dumps({"a": np.zeros(3)})[:-10])
    path = tmp_path / "coords"
    path.write_bytes(pickle.dumps({"train/1": np.zeros((4, 2))}))
    with pytest.raises(DataError, match=r"entry 'train/1' must be a non-empty \(N, 3\) array, got shape \(4, 2\)"):
        load_qmul_v2_coordinates(path)


def test_v2_folder_items(tmp_path):
    for sub, name in (("trainA", "2429245009_1.svg"), ("trainB", "2429245009.png"), ("testA", "77_3.svg"),
                      ("testB", "77.png")):
        (tmp_path / sub).mkdir(exist_ok=True)
        (tmp_path / sub / name).write_text("x")
    items = qmul_v2_items(tmp_path)
    sketches = [it for it in items if it.modality == "sketch"]
    assert [(it.split, it.pair_id) for it in sketches] == [("train", "train/2429245009"), ("test", "test/77")]
    assert {it.instance_id for it in items if it.modality == "photo"} == {"train/2429245009", "test/77"}
