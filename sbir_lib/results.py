"""The results file every chapter writes as its last step: ``_build/results/<chapter-id>.json``.

The papermill tests and the book read these files; one helper writes them all, so they share
one layout::

    {
      "chapter": "ch01", "profile": "ci", "seed": 0, "wall_time_s": 123.4,
      "data": {"kind": "real", "name": "...", "split": "...", "n_items": {...}, ...},
      "metrics": {...},            # nested dicts of finite numbers / strings / lists
      "environment": {...},        # versions and device
      "written_at": "2026-11-22T01:53:21+00:00"
    }
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATA_KINDS",
    "results_dir",
    "data_source",
    "describe_data",
    "write_results",
    "read_results",
]

#: ``real``: a published dataset; ``generated``: the offline doodle world or other synthetic data;
#: ``example``: the few stored example sketches shipped with ``sbir_lib``.
DATA_KINDS = ("real", "generated", "example")

_CHAPTER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _book_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    return None


def results_dir() -> Path:
    """Where results files go.

    ``$SBIR_RESULTS_DIR`` if set; else ``<book root>/_build/results`` where the book root is the
    nearest folder above the working directory holding ``_toc.yml`` and ``_config.yml``; else
    ``./_build/results`` (e.g. in Colab).
    """
    env = os.environ.get("SBIR_RESULTS_DIR")
    if env:
        return Path(env)
    root = _book_root(Path.cwd().resolve())
    return (root if root is not None else Path.cwd()) / "_build" / "results"


def data_source(kind: str, name: str, *, split: str | None = None, n_items: Mapping[str, int] | int | None = None,
                location: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Describe the data a chapter ran on.

    Args:
        kind: one of :data:`DATA_KINDS`.
        name: the dataset, e.g. ``"QMUL Shoe V1"`` or ``"doodle world (difficulty 1.0)"``.
        split: e.g. ``"test"`` or ``"zero-shot 80/30"``.
        n_items: number of items, or a mapping such as ``{"sketches": 115, "photos": 115}``.
        location: where it was read from (a path) or ``"generated in memory"``.
        note: anything a reader must know (e.g. what replaces a dataset we cannot download).
    """
    if kind not in DATA_KINDS:
        raise ValueError(f"data kind must be one of {DATA_KINDS}, got {kind!r}")
    if not name:
        raise ValueError("data source needs a name")
    out: dict[str, Any] = {"kind": kind, "name": name}
    for key, value in (("split", split), ("n_items", n_items), ("location", location), ("note", note)):
        if value is not None:
            out[key] = dict(value) if isinstance(value, Mapping) else value
    return out


def describe_data(source: Mapping[str, Any]) -> str:
    """One sentence for the chapter's output: which data it ran on."""
    kind = {"real": "real data", "generated": "generated data", "example": "stored example sketches"}[source["kind"]]
    parts = [f"Data: {source['name']} ({kind})"]
    if "split" in source:
        parts.append(f"split {source['split']}")
    if "n_items" in source:
        n = source["n_items"]
        parts.append(", ".join(f"{v} {k}" for k, v in n.items()) if isinstance(n, Mapping) else f"{n} items")
    if "location" in source:
        parts.append(f"from {source['location']}")
    text = "; ".join(parts) + "."
    if "note" in source:
        text += f" {source['note']}"
    return text


def _to_json(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"results: key {k!r} at {path} must be a string")
            out[k] = _to_json(v, f"{path}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist(), path)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"results: {path} is {float(value)}; a chapter must not record NaN or infinite metrics")
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and callable(value.item):  # 0-d torch tensors
        return _to_json(value.item(), path)
    raise TypeError(f"results: {path} has type {type(value).__name__}, which cannot be written to JSON")


def write_results(chapter_id: str, *, metrics: Mapping[str, Any], data: Mapping[str, Any], profile: str,
                  seed: int, wall_time_s: float, device=None, extra: Mapping[str, Any] | None = None,
                  overrides: Mapping[str, Any] | None = None, directory: str | os.PathLike | None = None) -> Path:
    """Write ``<results_dir>/<chapter_id>.json`` atomically and return its path.

    Args:
        chapter_id: e.g. ``"ch01"`` (lower case letters, digits, ``-`` and ``_``).
        metrics: nested mapping of numbers (finite), strings and lists.
        data: from :func:`data_source`.
        profile, seed: the chapter's parameters.
        wall_time_s: seconds the chapter took (see :class:`sbir_lib.runtime.Stopwatch`).
        device: the torch device the chapter ran on.
        extra: anything else worth keeping (e.g. the paper's numbers for the table).
        overrides: the chapter's ``OVERRIDES`` parameter (profile settings changed by name); stored as
            ``"overrides"``, ``{}`` for a run of the profile as written.
        directory: overrides :func:`results_dir`.
    """
    from .runtime import PROFILES, environment_report

    if not isinstance(chapter_id, str) or not _CHAPTER_ID.match(chapter_id):
        raise ValueError(f"chapter id must match {_CHAPTER_ID.pattern}, got {chapter_id!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    if not isinstance(data, Mapping) or data.get("kind") not in DATA_KINDS or not data.get("name"):
        raise ValueError("data must come from sbir_lib.results.data_source(kind, name, ...)")
    record = {
        "chapter": chapter_id,
        "profile": profile,
        "seed": _to_json(seed, "seed"),
        "overrides": _to_json(dict(overrides or {}), "overrides"),
        "wall_time_s": _to_json(float(wall_time_s), "wall_time_s"),
        "data": _to_json(data, "data"),
        "metrics": _to_json(metrics, "metrics"),
        "environment": _to_json(environment_report(device), "environment"),
        "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if extra is not None:
        record["extra"] = _to_json(extra, "extra")
    folder = Path(directory) if directory is not None else results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{chapter_id}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{chapter_id}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"Results written to {target}")
    return target


def read_results(chapter_id: str, directory: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read a chapter's results file (raises ``FileNotFoundError`` naming the path when absent)."""
    folder = Path(directory) if directory is not None else results_dir()
    path = folder / f"{chapter_id}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results for chapter {chapter_id!r}: {path} does not exist (run the chapter first)")
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)
