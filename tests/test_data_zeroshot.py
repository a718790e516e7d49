"""Zero-shot splits and class semantics."""

from __future__ import annotations

import numpy as np
import pytest

from sbir_lib.data.semantics import WordVectors, class_name_words, load_class_vectors
from sbir_lib.data.zeroshot import quickdraw_extended_split, read_class_list, sketchy_split, tuberlin_split, ZeroShotSplit
from sbir_lib.errors import DataError


def test_splits_on_tiny_lists(tmp_path):
    (tmp_path / "vocab_sketchy.txt").write_text("\n".join(f"c{i}" for i in range(125)))
    (tmp_path / "zeroshot_classes_sketchy.txt").write_text("\n".join(f"c{i}" for i in range(21)) + "\n")
    split = sketchy_split(root=tmp_path)
    assert (len(split.seen), len(split.unseen)) == (104, 21) and split.is_unseen("c3") and not split.is_unseen("c50")
    with pytest.raises(DataError, match="class 'zebra' is not in the sketchy zero-shot split"):
        split.is_unseen("zebra")
    shen = sketchy_split("shen", seed=7, root=tmp_path)
    assert shen.unseen == sketchy_split("shen", seed=7, root=tmp_path).unseen
    assert shen.unseen != sketchy_split("shen", seed=8, root=tmp_path).unseen
    expected = [f"c{i}" for i in sorted(np.random.default_rng(7).choice(125, 25, replace=False))]
    assert list(shen.unseen) == expected and len(shen.seen) == 100
    (tmp_path / "zeroshot_classes_sketchy.txt").write_text("c1\nzebra\n")
    with pytest.raises(DataError, match=r"unseen classes not in the class list: \['zebra'\]"):
        sketchy_split(root=tmp_path)
    with pytest.raises(DataError, match="both seen and unseen"):
        ZeroShotSplit("x", ("a", "b"), ("b",), "test")


def test_real_splits(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(shared_data))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    qd = quickdraw_extended_split()
    assert len(qd.unseen) == 30 and len(qd.seen) == 81 and "palm_tree" in qd.unseen
    assert (len(sketchy_split().seen), len(sketchy_split().unseen)) == (104, 21)
    tu = tuberlin_split(seed=1)
    assert (len(tu.seen), len(tu.unseen)) == (220, 30) and set(tu.classes) == set(read_class_list(
        shared_data / "zeroshot" / "vocab_tuberlin.txt"))


def test_real_class_vectors(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(shared_data))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    for kind in ("word2vec", "glove", "fasttext"):
        cv = load_class_vectors("sketchy", kind)
        assert cv.vectors.shape == (125, 300)
    tu = load_class_vectors("tuberlin")
    assert tu.vectors.shape == (250, 300) and tu.matrix(["mailbox", "space_shuttle"]).shape == (2, 300)
    np.testing.assert_array_equal(tu.vector("mailbox"), np.load(shared_data / "zeroshot" / "semantic_labels_tuberlin.npy")[0])
    with pytest.raises(DataError, match="no semantic vector for class 'unicorn'"):
        tu.vector("unicorn")
    with pytest.raises(DataError, match="no 'glove' vectors for 'tuberlin'"):
        load_class_vectors("tuberlin", "glove")


def test_class_name_embedding_averages_words_with_stated_fallback(tmp_path):
    wv = WordVectors.from_arrays(["alarm", "clock", "bear", "animal"],
                                 [[1, 0], [3, 2], [0, 4], [2, 2]])
    assert class_name_words("bear_(animal)") == ["bear", "animal"]
    vec, missing = wv.embed_class("alarm_clock")
    np.testing.assert_allclose(vec, [2, 1])
    assert missing == []
    vec, missing = wv.embed_class("Alarm-Clock tower")
    np.testing.assert_allclose(vec, [2, 1])
    assert missing == ["tower"]
    with pytest.raises(DataError, match=r"none of its words \['zigzag'\] has a word vector"):
        wv.embed_class("zigzag")
    vec, missing = wv.embed_class("zigzag", on_missing="zeros")
    assert vec.tolist() == [0, 0] and missing == ["zigzag"]
    glove = tmp_path / "glove.txt"
    glove.write_text("the 0.5 1.5\ncat 1 2\n")
    np.testing.assert_allclose(WordVectors.from_glove_text(glove).embed_class("the cat")[0], [0.75, 1.75])
