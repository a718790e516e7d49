"""PairedSplit (sbir_lib.data.paired): validation, subsets with photo renumbering, class cuts; Sketchy and
zero-shot splits as PairedSplits."""

from __future__ import annotations

import numpy as np
import pytest

from sbir_lib.data.paired import PairedSplit
from sbir_lib.data.sketchy import load_sketchy
from sbir_lib.data.zeroshot import ZeroShotSplit
from sbir_lib.errors import DataError


def small(**changes) -> PairedSplit:
    """4 stroke-3 sketches, 5 RGB photos, classes cat (0) / dog (1); photo 4 is a distractor (-1).

    sketch:        0    1    2    3
    class:         cat  cat  dog  dog
    drawn from:    0    1    3    -1
    """
    fields = dict(
        name="toy", split="test",
        sketches=[np.array([[float(i), 0, 1]], np.float32) for i in range(4)],
        photos=np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3), photo_kind="rgb",
        sketch_labels=[0, 0, 1, 1], photo_labels=[0, 0, 1, 1, -1], classes=("cat", "dog"),
        sketch_photo=[0, 1, 3, -1],
        triplets=(np.array([[0, 1], [0, 4], [2, 1]]), np.array([[1, 0]]), np.zeros((0, 2), np.int64),
                  np.array([[3, 2]])),
        meta={"sketch_names": ("s0", "s1", "s2", "s3"), "photo_names": ("p0", "p1", "p2", "p3", "p4"), "source": "toy"},
    )
    fields.update(changes)
    return PairedSplit(**fields)


def test_fields_are_normalised():
    s = small(sketch_labels=np.array([0, 0, 1, 1], np.int32), sketches=[[[0, 0, 1]], [[1, 0, 1]], [[2, 0, 1]], [[3, 0, 1]]])
    assert len(s) == 4 and s.sketch_format == "stroke3"
    assert s.sketch_labels.dtype == np.int64 and s.sketch_photo.dtype == np.int64
    assert s.sketches[2].dtype == np.float32 and s.sketches[2].tolist() == [[2, 0, 1]]
    assert repr(s) == "PairedSplit(toy/test: 4 stroke3 sketches, 5 rgb photos, 2 classes)"
    none = small(triplets=None)
    assert len(none.triplets) == 4 and all(t.shape == (0, 2) and t.dtype == np.int64 for t in none.triplets)
    raster = small(sketches=np.full((4, 2, 2), 255, np.uint8))
    assert raster.sketch_format == "raster"


@pytest.mark.parametrize(("changes", "message"), [
    (dict(photo_kind="sketch"), r"photo_kind must be one of \('edges', 'rgb', 'raster'\), got 'sketch'"),
    (dict(photo_kind="edges"), r"'edges' photos must be a \(P, H, W\) uint8 array, got \(5, 2, 2, 3\) uint8"),
    (dict(photos=np.zeros((5, 2, 2, 3), np.float32)), r"'rgb' photos must be a \(P, H, W, 3\) uint8 array"),
    (dict(photos=[1, 2]), r"'rgb' photos must be a \(P, H, W, 3\) uint8 array, got list"),
    (dict(sketches=np.zeros((4, 2, 2), np.float32)), r"raster sketches must be an \(N, H, W\) uint8 array"),
    (dict(sketches=[np.zeros((2, 3))] * 3 + [np.zeros((2, 2))]), r"sketches\[3\] must be a non-empty \(n, 3\) stroke-3"),
    (dict(sketches="abc"), r"sketches must be an \(N, H, W\) uint8 array or a list"),
    (dict(sketch_labels=[0, 0, 1]), r"sketch_labels must have shape \(4,\), got \(3,\)"),
    (dict(sketch_labels=[0, 0, 1, 2]), r"sketch_labels\[3\] = 2 is outside 0\.\.1"),
    (dict(sketch_labels=[0.0, 0.0, 1.0, 1.0]), r"sketch_labels must hold integers, got dtype float64"),
    (dict(photo_labels=[0, 0, 1, 1, -2]), r"photo_labels\[4\] = -2 is outside -1\.\.1"),
    (dict(sketch_photo=[0, 1, 3, 5]), r"sketch_photo\[3\] = 5 is outside -1\.\.4"),
    (dict(sketch_photo=[0, 3, 3, -1]), r"sketch 1 \(class 0\) is paired with photo 3 of class 1"),
    (dict(classes=("cat", "cat")), r"classes must be distinct names"),
    (dict(triplets=(np.zeros((0, 2)),) * 3), r"3 triplet arrays for 4 sketches"),
    (dict(triplets=(np.array([[0, 5]]),) + (np.zeros((0, 2)),) * 3), r"triplets\[0\] index photos outside 0\.\.4"),
    (dict(triplets=(np.array([0, 1, 2]),) + (np.zeros((0, 2)),) * 3), r"triplets\[0\] must be a \(K, 2\) integer array"),
    (dict(meta={"photo_names": ("a",)}), r"meta\['photo_names'\] has 1 entries for 5 photos"),
])
def test_invalid_splits_are_refused_with_the_field_named(changes, message):
    with pytest.raises(ValueError, match=r"PairedSplit 'toy'/'test': " + message):
        small(**changes)


def test_name_must_be_given():
    with pytest.raises(ValueError, match="PairedSplit: name must be a non-empty string, got ''"):
        small(name="")


def test_subset_keeping_every_photo():
    s = small().subset([2, 0])
    assert [int(x[0, 0]) for x in s.sketches] == [2, 0]
    np.testing.assert_array_equal(s.sketch_labels, [1, 0])
    np.testing.assert_array_equal(s.sketch_photo, [3, 0])           # photo indices unchanged
    assert len(s.photos) == 5 and s.meta["photo_names"] == ("p0", "p1", "p2", "p3", "p4")
    assert s.meta["sketch_names"] == ("s2", "s0") and s.meta["source"] == "toy"
    assert s.triplets[0].shape == (0, 2) and s.triplets[1].tolist() == [[0, 1], [0, 4], [2, 1]]
    mask = small().subset(np.array([False, True, False, True]))
    assert mask.meta["sketch_names"] == ("s1", "s3")


def test_subset_restricting_photos_renumbers_and_drops_pairs():
    s = small().subset([0, 2, 3], restrict_photos=True)
    # kept photos: those of sketches 0 and 2 -> old photos 0, 3 (sketch 3 has none) -> new 0, 1
    assert s.meta["photo_names"] == ("p0", "p3")
    np.testing.assert_array_equal(s.photos, small().photos[[0, 3]])
    np.testing.assert_array_equal(s.photo_labels, [0, 1])
    np.testing.assert_array_equal(s.sketch_photo, [0, 1, -1])
    # sketch 0's pairs [0, 1], [0, 4], [2, 1] all name a photo that is gone; sketch 3's [3, 2] too
    assert [t.tolist() for t in s.triplets] == [[], [], []]
    two = small().subset([0, 1], restrict_photos=True)
    # photos 0 and 1 stay: sketch 0 keeps [0, 1], drops [0, 4] and [2, 1]; sketch 1 keeps [1, 0]
    assert [t.tolist() for t in two.triplets] == [[[0, 1]], [[1, 0]]]
    raster = small(sketches=np.arange(16, dtype=np.uint8).reshape(4, 2, 2)).subset([3, 1], restrict_photos=True)
    np.testing.assert_array_equal(raster.sketches, np.arange(16, dtype=np.uint8).reshape(4, 2, 2)[[3, 1]])
    np.testing.assert_array_equal(raster.sketch_photo, [-1, 0])


def test_subset_errors():
    with pytest.raises(ValueError, match=r"sketch_indices\[1\] = 4 is outside 0\.\.3"):
        small().subset([0, 4])
    with pytest.raises(ValueError, match=r"sketch_indices must be a 1-D array of integers or a boolean mask"):
        small().subset([0.5])
    with pytest.raises(ValueError, match=r"a boolean sketch mask must have shape \(4,\), got \(2,\)"):
        small().subset([True, False])


def test_of_classes_and_zero_shot_partition():
    dogs = small().of_classes(["dog"])
    assert dogs.meta["sketch_names"] == ("s2", "s3") and dogs.meta["photo_names"] == ("p2", "p3")
    assert dogs.classes == ("cat", "dog")                             # label numbers keep their meaning
    np.testing.assert_array_equal(dogs.sketch_labels, [1, 1])
    np.testing.assert_array_equal(dogs.sketch_photo, [1, -1])       # old photo 3 -> new 1; distractor dropped
    assert [t.tolist() for t in dogs.triplets] == [[], [[1, 0]]]     # sketch 3's [3, 2] -> [1, 0]
    with pytest.raises(ValueError, match=r"unknown classes \['cow'\]"):
        small().of_classes(["cow"])
    zs = ZeroShotSplit("toyset", seen=("cat", "bird"), unseen=("dog",), source="test")
    seen, unseen = zs.partition(small())
    assert seen.meta["sketch_names"] == ("s0", "s1") and seen.meta["photo_names"] == ("p0", "p1")
    assert unseen.meta["photo_names"] == ("p2", "p3")
    with pytest.raises(DataError, match=r"toy: classes \['dog'\] are not in the toyset zero-shot split"):
        ZeroShotSplit("toyset", seen=("cat",), unseen=("cow",), source="test").partition(small())


def _sketchy_tree(root, size=8):
    from PIL import Image

    images = {
        ("sketch", "hot-air_balloon", "n1_10-1.png"): np.full((size, size), 0, np.uint8),
        ("sketch", "hot-air_balloon", "n1_10-2.png"): np.full((size, size), 50, np.uint8),
        ("sketch", "hot-air_balloon", "n1_99-1.png"): np.full((size, size), 100, np.uint8),   # its photo is missing
        ("sketch", "zebra", "n2_5-1.png"): np.full((size, size), 150, np.uint8),
        ("photo", "hot-air_balloon", "n1_10.jpg"): np.full((size, size, 3), 255, np.uint8),
        ("photo", "zebra", "n2_5.jpg"): np.full((size, size, 3), 0, np.uint8),
    }
    for (modality, cls, name), array in images.items():
        folder = root / modality / "tx_000000000000" / cls
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(folder / name)
    return root


def test_load_sketchy(tmp_path):
    root = _sketchy_tree(tmp_path / "256x256")
    s = load_sketchy(root)
    assert (s.name, s.split, s.photo_kind, s.classes) == ("sketchy", "all", "rgb", ("hot_air_balloon", "zebra"))
    assert s.sketches.shape == (4, 8, 8) and s.sketches.dtype == np.uint8 and s.photos.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(s.sketches[:, 0, 0], [0, 50, 100, 150])   # PNG: exact grey values
    np.testing.assert_array_equal(s.sketch_labels, [0, 0, 0, 1])
    np.testing.assert_array_equal(s.sketch_photo, [0, 0, -1, 1])
    assert s.meta["photo_names"] == ("hot_air_balloon/n1_10", "zebra/n2_5")
    assert s.photos[0].min() > 240 and s.photos[1].max() < 15              # JPEG: white and black, nearly exact
    assert load_sketchy(root, classes=["zebra"]).classes == ("zebra",)
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "sketch" / "tx_000000000000" / "zebra" / "n2_5-2.png")
    with pytest.raises(DataError, match=r"n2_5-2\.png: image of shape \(4, 4\), but the others have \(8, 8\)"):
        load_sketchy(root)
    with pytest.raises(DataError, match="missing"):
        load_sketchy(tmp_path)
