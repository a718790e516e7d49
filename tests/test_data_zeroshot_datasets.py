"""The zero-shot benchmarks read from their class folders: a small Sketchy-like tree with the real class lists
and word vectors of the Doodle-to-Search release."""

import numpy as np
import pytest
from PIL import Image

from sbir_lib.data.items import PHOTO, SKETCH, Item
from sbir_lib.data.zeroshot_datasets import load_zero_shot_dataset, read_class_images
from sbir_lib.errors import DataError
from sbir_lib.papers.doodle_to_search import published_splits


def write_image(path, value, mode="L", size=(20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)


def sketchy_tree(root, classes, n_sketches=3, n_photos=2):
    for k, c in enumerate(classes):
        for i in range(n_sketches):
            write_image(root / "sketchy" / "sketch" / "tx_000000000000" / c / f"p{i}-1.png", 10 * k + i)
        write_image(root / "sketchy" / "photo" / "tx_000000000000" / c / "p0.jpg", 0, "RGB")
        for i in range(n_photos):
            write_image(root / "photos" / c / f"e{i}.png", 20 * k + i, "RGB")


def test_sketchy_extended_from_its_folders_with_the_published_split(shared_data, tmp_path):
    classes = ["airplane", "bat", "cow", "alarm_clock"]          # bat and cow are unseen in Yelamarthi's split
    sketchy_tree(tmp_path, classes)
    split, zs, vectors, source = load_zero_shot_dataset(
        "sketchy_extended", size=16, sketches_per_class=2, photos_per_class=5, seed=0,
        roots={"sketchy": tmp_path / "sketchy", "photos": tmp_path / "photos"})
    assert split.classes == tuple(sorted(classes))                           # class folders in file-system order
    assert split.sketches.shape == (8, 16, 16) and split.photos.shape == (8, 16, 16, 3)
    assert np.bincount(split.sketch_labels).tolist() == [2] * 4 and np.bincount(split.photo_labels).tolist() == [2] * 4
    bat = split.sketches[split.sketch_labels == split.classes.index("bat")]  # its files hold grey 10, 11, 12
    assert bat.min() >= 10 and bat.max() <= 12
    assert vectors.shape == (4, 300) and source["name"] == "Sketchy-Extended" and "Yelamarthi" in source["split"]
    (s,) = published_splits(split.classes, zs.unseen, n_val=1, seeds=[0])
    assert [split.classes[i] for i in s.unseen] == ["bat", "cow"]
    assert len(s.val) == 1 and len(s.train) == 1 and set(s.val) | set(s.train) == {0, 1}


def test_class_folders_outside_the_split_and_unreadable_images_are_named(shared_data, tmp_path):
    sketchy_tree(tmp_path, ["airplane", "not_a_sketchy_class"])
    roots = {"sketchy": tmp_path / "sketchy", "photos": tmp_path / "photos"}
    with pytest.raises(DataError, match="not_a_sketchy_class"):
        load_zero_shot_dataset("sketchy_extended", size=8, sketches_per_class=1, photos_per_class=1, roots=roots)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    items = [Item("a", "a/0", "all", SKETCH, path=bad)], [Item("a", "a/1", "all", PHOTO, path=bad)]
    with pytest.raises(DataError, match="broken.png: cannot read image"):
        read_class_images(*items, size=8, sketches_per_class=1, photos_per_class=1)
    with pytest.raises(DataError, match="unknown zero-shot dataset"):
        load_zero_shot_dataset("imagenet", size=8, sketches_per_class=1, photos_per_class=1)


def test_read_class_images_keeps_classes_with_both_domains_and_chooses_by_seed(tmp_path):
    for i in range(5):
        write_image(tmp_path / f"s{i}.png", i)
    write_image(tmp_path / "p.png", 0, "RGB")
    sk = [Item("a", f"a/{i}", "all", SKETCH, path=tmp_path / f"s{i}.png") for i in range(5)]
    sk.append(Item("b", "b/0", "all", SKETCH, path=tmp_path / "s0.png"))      # b has no photo: left out
    ph = [Item("a", "a/p", "all", PHOTO, path=tmp_path / "p.png")]
    one = read_class_images(sk, ph, size=4, sketches_per_class=3, photos_per_class=1, seed=1)
    two = read_class_images(sk, ph, size=4, sketches_per_class=3, photos_per_class=1, seed=1)
    assert one.classes == ("a",) and len(one.sketches) == 3 and one.meta["sketch_names"] == two.meta["sketch_names"]
    with pytest.raises(DataError, match="no class has both"):
        read_class_images(sk[5:], ph, size=4, sketches_per_class=1, photos_per_class=1)


def test_quickdraw_extended_and_tuberlin_extended_from_their_folders(shared_data, tmp_path):
    # QuickDraw-Extended: class folders spelt with spaces, read with underscores (the split's spelling)
    for k, c in enumerate(["airplane", "alarm clock"]):
        for i in range(2):
            write_image(tmp_path / "qd" / "QuickDraw_sketches_final" / c / f"s{i}.png", 50 * k + i)
            write_image(tmp_path / "qdp" / "QuickDraw_images_final" / c / f"p{i}.jpg", 50 * k + i, "RGB")
    split, zs, vectors, source = load_zero_shot_dataset(
        "quickdraw_extended", size=8, sketches_per_class=2, photos_per_class=2,
        roots={"sketches": tmp_path / "qd", "photos": tmp_path / "qdp"})
    assert split.classes == ("airplane", "alarm_clock") and vectors.shape == (2, 50)        # GloVe 6B 50-d
    assert source["name"] == "QuickDraw-Extended" and len(zs.unseen) == 30
    # TU-Berlin-Extended: the photo folders' own spellings are matched to the 250 class names
    for k, (c, folder) in enumerate([("airplane", "airplane"), ("alarm_clock", "alarmclock")]):
        write_image(tmp_path / "tu" / "png" / c / "1.png", 100 + k)
        write_image(tmp_path / "tup" / folder / "1.jpg", 100 + k, "RGB")
    split, zs, vectors, source = load_zero_shot_dataset(
        "tuberlin_extended", size=8, sketches_per_class=1, photos_per_class=1,
        roots={"sketches": tmp_path / "tu", "photos": tmp_path / "tup"})
    assert split.classes == ("airplane", "alarm_clock") and vectors.shape == (2, 300)        # word2vec
    assert split.photo_labels.tolist() == [0, 1] and len(zs.unseen) == 30
