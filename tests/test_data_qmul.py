"""QMUL V1 (.mat + json), V2 coordinate pickles (restricted unpickler) and the V2 paired loader."""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import numpy as np
import pytest

from sbir_lib.data.paired import PairedSplit
from sbir_lib.data.qmul import (load_qmul_v1, load_qmul_v1_votes, load_qmul_v2, load_qmul_v2_coordinates, majority_pairs,
                                qmul_v2_items)
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
    assert isinstance(split, PairedSplit) and (split.name, split.split) == ("qmul_chairs_v1", "test")
    assert len(split) == 3 and split.sketches.shape == (3, 256, 256) and split.photos.dtype == np.uint8
    assert split.photo_kind == "edges" and split.sketch_format == "raster" and split.classes == ("chair",)
    np.testing.assert_array_equal(split.sketch_photo, [0, 1, 2])
    np.testing.assert_array_equal(split.sketch_labels, [0, 0, 0])
    np.testing.assert_array_equal(split.triplets[1], [[0, 1], [0, 2], [2, 1]])
    import scipy.io
    np.testing.assert_array_equal(split.photos, scipy.io.loadmat(root / "chairs_edge_db_test.mat")["data"])
    assert split.meta["sketch_names"] == ("1.png", "2.png", "3.png")
    assert split.meta["photo_names"] == ("1.jpg", "2.jpg", "3.jpg") and split.meta["votes"] == "as published"


def test_majority_pairs_merges_votes():
    # {1, 2}: 2 votes for 1 closer, 1 for 2 -> [1, 2]; {0, 3}: 1 - 1 tie -> dropped
    pairs = [[1, 2], [2, 1], [1, 2], [0, 3], [3, 0]]
    assert majority_pairs(pairs).tolist() == [[1, 2]]
    assert majority_pairs([[5, 0], [5, 0], [0, 5]]).tolist() == [[5, 0]]
    # sorted by (min, max); an empty list stays a (0, 2) array
    assert majority_pairs([[4, 2], [0, 1], [4, 2]]).tolist() == [[0, 1], [4, 2]]
    assert majority_pairs([]).shape == (0, 2)


def test_v1_majority_vote(tmp_path):
    votes = [[[0, 1], [1, 0], [0, 1], [2, 1], [2, 1], [1, 2]] for _ in range(3)]
    root = _write_v1(tmp_path / "v1", triplets=votes)
    raw = load_qmul_v1("chairs", "train", root=root)
    merged = load_qmul_v1("chairs", "train", root=root, majority_vote=True)
    assert raw.triplets[0].shape == (6, 2) and merged.meta["votes"] == "majority"
    assert merged.triplets[0].tolist() == [[0, 1], [2, 1]]


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
    ann = json.loads((root / "chairs_annotation.json").read_text())
    ann["test"]["sketches"] = ann["test"]["sketches"][:2]
    (root / "chairs_annotation.json").write_text(json.dumps(ann))
    scipy.io.savemat(root / "chairs_edge_db_test.mat", {"data": np.zeros((3, 256, 256), np.uint8)})
    with pytest.raises(DataError, match=r"chairs_annotation\.json: 2 sketch names for 3 sketches in 'test'"):
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
    assert train.photos.shape == (304, 256, 256) and test.meta["sketch_names"][0] == "305.png"
    # train: every unordered pair three times (one vote per annotator) -> 45 pairs after majority voting
    merged = load_qmul_v1("shoes", "train", majority_vote=True)
    assert {len(t) for t in merged.triplets} == {45}
    assert {frozenset(p) for p in merged.triplets[0].tolist()} == {frozenset(p) for p in train.triplets[0].tolist()}
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


# --------------------------------------------------------------------------- QMUL V2 as a PairedSplit


def _write_v2(root, coords, photos):
    from PIL import Image

    (root / "photo").mkdir(parents=True, exist_ok=True)
    (root / "ChairV2_Coordinate").write_bytes(pickle.dumps(coords, protocol=2))
    for name, array in photos.items():
        Image.fromarray(array).save(root / "photo" / f"{name}.png")
    return root


def _load_v2(root, category="chair", split="train", **kw):
    """load_qmul_v2 on a constructed folder, with its own pickle's checksum (the published one is for the release)."""
    sha = hashlib.sha256((root / "ChairV2_Coordinate").read_bytes()).hexdigest()
    return load_qmul_v2(root, category, split, sha256=sha, **kw)


def test_v2_tiny_fixture(tmp_path):
    red = np.zeros((10, 20, 3), np.uint8)
    red[..., 0] = 255                                            # 20 wide x 10 high: padded top and bottom
    blue = np.zeros((4, 4, 3), np.uint8)
    blue[..., 2] = 255
    coords = {
        "/train/chairB_2": np.array([[5, 5, 0], [6, 9, 1]], np.float64),
        "/train/chairA_10": np.array([[1, 1, 1]], np.float64),
        "/train/chairA_2": np.array([[10, 10, 0], [20, 15, 1], [5, 5, 0], [6, 9, 1]], np.float64),
        "/test/chairC_1": np.array([[0, 0, 1]], np.float64),
    }
    root = _write_v2(tmp_path / "v2", coords, {"chairA": red, "chairB": blue, "chairC": blue})
    split = _load_v2(root, "chair", "train", image_size=20)
    assert (split.name, split.split, split.classes, split.photo_kind) == ("qmul_chairv2", "train", ("chair",), "rgb")
    # sketches ordered by photo, then n as a number (2 before 10)
    assert split.meta["sketch_names"] == ("/train/chairA_2", "/train/chairA_10", "/train/chairB_2")
    assert split.meta["photo_names"] == ("chairA", "chairB")
    np.testing.assert_array_equal(split.sketch_photo, [0, 0, 1])
    assert split.sketch_format == "stroke3" and split.sketches[0].dtype == np.float32
    # absolute (x, y, pen) -> stroke-3 offsets, the first row absolute
    np.testing.assert_array_equal(split.sketches[0], [[10, 10, 0], [10, 5, 1], [-15, -10, 0], [1, 4, 1]])
    assert len(split.triplets) == 3 and all(t.shape == (0, 2) for t in split.triplets)   # no annotations
    # photo 0: 20 x 10 red -> 20 x 20 with 5 white rows above and below; photo 1: 4 x 4 blue upscaled
    assert split.photos.shape == (2, 20, 20, 3) and split.photos.dtype == np.uint8
    np.testing.assert_array_equal(split.photos[0, :5], 255)
    np.testing.assert_array_equal(split.photos[0, 15:], 255)
    np.testing.assert_array_equal(split.photos[0, 7:13], np.broadcast_to([255, 0, 0], (6, 20, 3)))
    np.testing.assert_array_equal(split.photos[1], np.broadcast_to([0, 0, 255], (20, 20, 3)))
    test = _load_v2(root, "chair", "test", image_size=20)
    assert len(test) == 1 and test.meta["photo_names"] == ("chairC",)


def test_v2_bad_input(tmp_path):
    blue = np.full((4, 4, 3), 200, np.uint8)
    root = _write_v2(tmp_path / "bad", {"/train/chairA_1": np.zeros((2, 3)), "/train/nounderscore": np.zeros((2, 3))},
                     {"chairA": blue})
    with pytest.raises(DataError, match=r"ChairV2_Coordinate: malformed sketch key '/train/nounderscore'; expected "
                                        r"'/train/<photo>_<n>'"):
        _load_v2(root, "chair", "train")
    root = _write_v2(tmp_path / "valid", {"/train/chairA_1": np.zeros((2, 3)), "/validation/chairA_2": np.zeros((2, 3))},
                     {"chairA": blue})
    with pytest.raises(DataError, match=r"malformed sketch key '/validation/chairA_2'"):
        _load_v2(root, "chair", "train")
    root = _write_v2(tmp_path / "nophoto", {"/train/chairA_1": np.zeros((2, 3)), "/train/chairZ_1": np.zeros((2, 3))},
                     {"chairA": blue})
    with pytest.raises(DataError, match=r"nophoto: no photo 'chairZ' \(looked for chairZ\.png/\.jpg/\.jpeg in photo/ and trainB/\)"):
        _load_v2(root, "chair", "train")
    with pytest.raises(DataError, match=r"nophoto.*: no 'test' sketches"):
        _load_v2(root, "chair", "test")
    with pytest.raises(DataError, match=r"ShoeV2_Coordinate: no such file"):
        load_qmul_v2(root, "shoe", "train")
    with pytest.raises(DataError, match="unknown QMUL V2 category 'sofa'"):
        load_qmul_v2(root, "sofa")
    with pytest.raises(DataError, match="QMUL V2 split must be 'train' or 'test', got 'val'"):
        load_qmul_v2(root, "chair", "val")
    # the pickle is read only once verified: the release's checksum (default) or the one passed
    with pytest.raises(DataError, match=r"nophoto/ChairV2_Coordinate: sha256 mismatch \(expected a22925201f3f"):
        load_qmul_v2(root, "chair", "train")
    with pytest.raises(DataError, match=r"ChairV2_Coordinate: sha256 mismatch \(expected 00000"):
        load_qmul_v2(root, "chair", "train", sha256="0" * 64)
    (root / "ShoeV2_Coordinate").write_bytes((root / "ChairV2_Coordinate").read_bytes())
    with pytest.raises(DataError, match=r"ShoeV2_Coordinate: no known SHA-256 for the QMUL ShoeV2 coordinate pickle"):
        load_qmul_v2(root, "shoe", "train")
    (root / "photo" / "chairZ.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"chairZ\.png: cannot read photo"):
        _load_v2(root, "chair", "train")


def test_v2_real_chairs(shared_data):
    root = shared_data / "qmul_chairv2"
    train, test = load_qmul_v2(root, "chair", "train"), load_qmul_v2(root, "chair", "test")
    # README: 952 train / 323 test sketches; 300 train / 100 test photos, no overlap
    assert (len(train), len(test)) == (952, 323)
    assert train.photos.shape == (300, 256, 256, 3) and test.photos.shape == (100, 256, 256, 3)
    assert not set(train.meta["photo_names"]) & set(test.meta["photo_names"])
    # every key names its photo; about 3 sketches per photo; 40-519 points per sketch
    for split in (train, test):
        for key, p in zip(split.meta["sketch_names"], split.sketch_photo):
            assert key.startswith(f"/{split.split}/{split.meta['photo_names'][p]}_")
        assert set(split.sketch_photo.tolist()) == set(range(len(split.photos)))
    lengths = [len(s) for s in train.sketches + test.sketches]
    assert (min(lengths), max(lengths)) == (40, 519)
    # stroke-3 on the 256 canvas: absolute positions are the running sum, the pen column is 0/1
    points = np.cumsum(train.sketches[0][:, :2], axis=0)
    assert points.min() >= 0 and points.max() <= 256 and set(np.unique(train.sketches[0][:, 2])) <= {0.0, 1.0}
    # the three sketches keyed by an annotator id instead of a number follow the numbered one
    assert [k for k in test.meta["sketch_names"] if "sdich070-laque-rouge" in k][0] == "/test/sdich070-laque-rouge_1"


def test_qmul_v2_root_looks_in_mirrors_then_the_cache(tmp_path, monkeypatch):
    from sbir_lib.data.qmul import qmul_v2_root

    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("SBIR_DATA", str(cache))
    mirror.mkdir()
    with pytest.raises(DataError, match=r"QMUL-ChairV2 not found \(looked for ChairV2_Coordinate in .*"
                                        r"unzip it to .*cache/qmul_v2/ChairV2"):
        qmul_v2_root("chair")
    (cache / "qmul_v2" / "ChairV2").mkdir(parents=True)
    (cache / "qmul_v2" / "ChairV2" / "ChairV2_Coordinate").write_bytes(b"")
    assert qmul_v2_root("chair") == cache / "qmul_v2" / "ChairV2"
    (mirror / "qmul_chairv2").mkdir()
    (mirror / "qmul_chairv2" / "ChairV2_Coordinate").write_bytes(b"")
    assert qmul_v2_root("chair") == mirror / "qmul_chairv2"          # a mirror comes first
    with pytest.raises(DataError, match="unknown QMUL V2 category 'bag'"):
        qmul_v2_root("bag")
