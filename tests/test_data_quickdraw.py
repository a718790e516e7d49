"""QuickDraw loaders: ndjson (raw/simplified), sketch-rnn .npz (restricted reader), numpy_bitmap."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from sbir_lib.data.quickdraw import (QUICKDRAW_CLASSES, check_classes, load_numpy_bitmap, load_quickdraw,
                                     load_quickdraw_ndjson, load_raw_and_simplified, load_sketchrnn_npz)
from sbir_lib.errors import DataError

RAW = {"word": "cat", "countrycode": "US", "timestamp": "2017", "recognized": True, "key_id": "11",
       "drawing": [[[10.5, 20.5, 30.5], [5, 5, 15], [0, 16, 40]], [[40, 40], [0, 10], [100, 120]]]}
SIMPLE = {"word": "cat", "recognized": False, "key_id": "22", "drawing": [[[0, 255], [0, 0]]]}


def _write_ndjson(path, records, extra_lines=()):
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_raw_and_simplified_to_stroke3(tmp_path):
    path = _write_ndjson(tmp_path / "cat.ndjson", [RAW, SIMPLE])
    s = load_quickdraw_ndjson(path)
    assert len(s) == 2 and s.classes == QUICKDRAW_CLASSES
    first = s[0]
    assert first.label == "cat" and first.instance_id == "11" and first.split == "all"
    # stroke 1 absolute (10.5,5) (20.5,5) (30.5,15); stroke 2 (40,0) (40,10): offsets, pen lifted at stroke ends
    np.testing.assert_allclose(first.strokes, [[10.5, 5, 0], [10, 0, 0], [10, 10, 1], [9.5, -15, 0], [0, 10, 1]])
    assert first.strokes.dtype == np.float32
    np.testing.assert_array_equal(s[1].strokes, [[0, 0, 0], [255, 0, 1]])
    assert s.labels.tolist() == [QUICKDRAW_CLASSES.index("cat")] * 2
    assert len(load_quickdraw_ndjson(path, recognized_only=True)) == 1


def test_raw_and_simplified_are_paired_by_key_id(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "simple").mkdir()
    _write_ndjson(tmp_path / "raw" / "cat.ndjson", [dict(RAW, key_id=k) for k in ("1", "2", "3")])
    _write_ndjson(tmp_path / "simple" / "cat.ndjson", [dict(SIMPLE, key_id=k) for k in ("3", "9", "1")])
    raw, simple, pairs = load_raw_and_simplified(["cat"], raw_root=tmp_path / "raw",
                                                 simplified_root=tmp_path / "simple", progress=False)
    assert len(raw) == 3 and len(simple) == 3
    assert pairs == [(2, 0), (0, 2)]  # key_id 3 and 1; key_id 9 has no raw drawing
    assert all(raw.instance_ids[i] == simple.instance_ids[j] for i, j in pairs)
    np.testing.assert_array_equal(simple.sketch(0), [[0, 0, 0], [255, 0, 1]])
    with pytest.raises(DataError):
        load_raw_and_simplified(["cat"], raw_root=tmp_path / "raw", simplified_root=tmp_path / "none", progress=False)


def test_integer_drawings_are_packed_as_int16(tmp_path):
    path = _write_ndjson(tmp_path / "cat.ndjson", [SIMPLE] * 3)
    s = load_quickdraw_ndjson(path)
    assert s.strokes.dtype == np.int16 and s.sketch(2).dtype == np.float32


def test_malformed_line_names_file_and_line_or_is_skipped(tmp_path):
    path = _write_ndjson(tmp_path / "cat.ndjson", [SIMPLE], extra_lines=['{"word": "cat", "drawing": [[[1,2]', ])
    with pytest.raises(DataError, match=r"cat\.ndjson, line 2: malformed JSON"):
        load_quickdraw_ndjson(path)
    s = load_quickdraw_ndjson(path, on_error="skip")
    assert len(s) == 1 and s.skipped == 1
    bad = _write_ndjson(tmp_path / "dog.ndjson", [{"word": "dog", "drawing": [[[1, 2], [3]]]}])
    with pytest.raises(DataError, match=r"dog\.ndjson, line 1: bad drawing"):
        load_quickdraw_ndjson(bad)
    nan = tmp_path / "ant.ndjson"
    nan.write_text('{"drawing": [[[NaN, 1], [0, 1]]]}\n')
    with pytest.raises(DataError, match=r"ant\.ndjson, line 1: bad drawing.*NaN|inf"):
        load_quickdraw_ndjson(nan)


def test_subsampling_is_seeded_and_without_replacement(tmp_path):
    recs = [dict(SIMPLE, key_id=str(i)) for i in range(50)]
    path = _write_ndjson(tmp_path / "cat.ndjson", recs)
    a = load_quickdraw_ndjson(path, max_drawings=10, seed=3)
    b = load_quickdraw_ndjson(path, max_drawings=10, seed=3)
    c = load_quickdraw_ndjson(path, max_drawings=10, seed=4)
    ids = a.instance_ids.tolist()
    assert ids == b.instance_ids.tolist() and len(set(ids)) == 10
    assert ids != c.instance_ids.tolist()
    expected = sorted(np.random.default_rng(3).choice(50, size=10, replace=False).tolist())
    assert [int(i) for i in ids] == expected
    assert len(load_quickdraw_ndjson(path, max_drawings=500)) == 50


def test_unknown_class_names():
    with pytest.raises(DataError, match=r"unknown class name\(s\) \['eiffel tower'\]"):
        check_classes(["cat", "eiffel tower"])
    with pytest.raises(DataError, match="duplicate"):
        check_classes(["cat", "cat"])


def test_load_quickdraw_from_a_folder(tmp_path):
    _write_ndjson(tmp_path / "cat.ndjson", [SIMPLE] * 4)
    _write_ndjson(tmp_path / "The Eiffel Tower.ndjson", [dict(SIMPLE, word="The Eiffel Tower")] * 2)
    s = load_quickdraw(["The Eiffel Tower", "cat"], root=tmp_path, max_per_class=3, progress=False)
    assert s.classes == ("The Eiffel Tower", "cat")
    assert s.labels.tolist() == [0, 0, 1, 1, 1]
    assert [it.label for it in s][-1] == "cat"


def _npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _obj_array(sketches):
    arr = np.empty(len(sketches), dtype=object)
    for i, s in enumerate(sketches):
        arr[i] = np.asarray(s, dtype=np.int16)
    return arr


def _write_npz(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_sketchrnn_npz_is_read_without_allow_pickle(tmp_path):
    train = [[[1, 2, 0], [3, 4, 1]], [[5, 6, 1]]]
    path = tmp_path / "cat.npz"
    np.savez(path, train=_obj_array(train), valid=_obj_array(train[:1]), test=_obj_array(train[1:]))
    out = load_sketchrnn_npz(path)
    assert set(out) == {"train", "valid", "test"}
    assert len(out["train"]) == 2 and out["train"].split == "train"
    np.testing.assert_array_equal(out["train"][0].strokes, [[1, 2, 0], [3, 4, 1]])
    np.testing.assert_array_equal(out["test"][0].strokes, [[5, 6, 1]])
    assert out["train"][1].label == "cat"
    import hashlib
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(load_sketchrnn_npz(path, sha256=digest)["valid"]) == 1
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_sketchrnn_npz(path, sha256="f" * 64)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_npz_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    evil_npy = header.getvalue()  # magic + header of a (1,) object array
    evil_npy += pickle.dumps(np.array([_Evil(marker)], dtype=object), protocol=3)
    path = _write_npz(tmp_path / "cat.npz", {"train.npy": evil_npy, "valid.npy": evil_npy, "test.npy": evil_npy})
    with pytest.raises(DataError, match=r"refusing to unpickle global (posix|os|nt)\.system"):
        load_sketchrnn_npz(path)
    assert not marker.exists()


def test_truncated_or_incomplete_npz(tmp_path):
    path = tmp_path / "cat.npz"
    np.savez(path, train=_obj_array([[[1, 2, 1]]]), valid=_obj_array([[[1, 2, 1]]]), test=_obj_array([[[1, 2, 1]]]))
    cut = tmp_path / "dog.npz"
    cut.write_bytes(path.read_bytes()[:-60])
    with pytest.raises(DataError, match=r"dog\.npz: not a readable \.npz"):
        load_sketchrnn_npz(cut)
    only_train = tmp_path / "ant.npz"
    np.savez(only_train, train=_obj_array([[[1, 2, 1]]]))
    with pytest.raises(DataError, match=r"ant\.npz: no 'valid' array"):
        load_sketchrnn_npz(only_train)
    wrong = tmp_path / "bee.npz"
    np.savez(wrong, train=_obj_array([[[1, 2]]]), valid=_obj_array([[[1, 2]]]), test=_obj_array([[[1, 2]]]))
    with pytest.raises(DataError, match=r"bee\.npz\[train\]\[0\]"):
        load_sketchrnn_npz(wrong)


def test_numpy_bitmap(tmp_path):
    data = np.arange(3 * 784, dtype=np.int64).astype(np.uint8).reshape(3, 784)
    path = tmp_path / "cat.npy"
    np.save(path, data)
    bitmaps = load_numpy_bitmap(path)
    assert bitmaps.shape == (3, 28, 28) and bitmaps[1, 0, 5] == data[1, 5]
    assert load_numpy_bitmap(path, max_drawings=2, seed=0).shape == (2, 28, 28)
    np.save(tmp_path / "bad.npy", np.zeros((2, 10), np.uint8))
    with pytest.raises(DataError, match=r"bad\.npy: expected \(N, 784\) uint8"):
        load_numpy_bitmap(tmp_path / "bad.npy")


def test_class_list_matches_the_shared_files(quickdraw_dir):
    names = sorted(p.stem for p in (quickdraw_dir / "raw").glob("*.ndjson"))
    assert sorted(QUICKDRAW_CLASSES) == names and len(QUICKDRAW_CLASSES) == 345


def test_real_raw_and_simplified_pairs(quickdraw_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(quickdraw_dir.parent))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    raw = load_quickdraw(["The Eiffel Tower"], fmt="raw", progress=False)
    simple = load_quickdraw(["The Eiffel Tower"], fmt="simplified", progress=False)
    assert len(simple) == 25 and simple.strokes.dtype == np.int16
    common = set(raw.instance_ids.tolist()) & set(simple.instance_ids.tolist())
    assert common
    # simplified coordinates lie in 0..255 (absolute positions = cumulative offsets)
    for item in simple:
        xy = np.cumsum(item.strokes[:, :2], axis=0)
        assert xy.min() >= 0 and xy.max() <= 255
    assert not (tmp_path / "cache").exists()
