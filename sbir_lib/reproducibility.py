"""The reproducibility report: for every paper chapter, the paper's table rows beside ours and a verdict per claim.

Each paper module has a ``reproduction(results) -> Reproduction`` that reads its chapter's results file
(``_build/results/chNN.json``, written by :func:`sbir_lib.results.write_results`) and says what the run
reproduced: its tables through :func:`sbir_lib.report.paper_vs_ours` (the helper the chapters use) and
one :class:`Claim` per claim of the paper with a verdict from :data:`VERDICTS`. :func:`load_report`
collects them for the book's report page (``book/reproducibility.ipynb``).

Only the standard library is imported here: no torch (the report page reads JSON files).
"""

from __future__ import annotations

import html
import importlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .report import ComparisonTable

__all__ = ["VERDICTS", "Claim", "Reproduction", "ClaimsTable", "CHAPTER_PAPERS", "margin_verdict", "run_summary",
           "reproduction", "load_report", "claims_table"]

#: A claim's verdict: reproduced (holds on the seeds' mean by more than their spread), direction only (the
#: ordering holds, but within the spread, or far from the paper's values), not reproduced, not run here.
VERDICTS = ("reproduced", "direction only", "not reproduced", "not run here")

#: Chapter id -> the module in :mod:`sbir_lib.papers` with its ``reproduction``. Chapters 0 and 1 reproduce
#: no paper.
CHAPTER_PAPERS = {"ch02": "sketch_me_that_shoe", "ch03": "manifold_alignment", "ch04": "doodle_to_search",
                  "ch05": "livesketch", "ch06": "stroke_recovery"}


@dataclass(frozen=True)
class Claim:
    """One claim of a paper and what our run says about it.

    ``text``: the claim, in the paper's terms; ``verdict``: one of :data:`VERDICTS`; ``why``: one line with the
    numbers behind the verdict (or the reason it was not run)."""

    text: str
    verdict: str
    why: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r} (claim {self.text!r})")
        if not self.text or not self.why:
            raise ValueError(f"a claim needs its text and a reason, got text={self.text!r}, why={self.why!r}")


@dataclass(frozen=True)
class Reproduction:
    """What one chapter's run reproduced of its paper.

    ``run``: ``{"profile", "data", "backbone", "seeds", "device", "wall_time_s"}`` (:func:`run_summary`);
    ``tables``: the paper's table rows beside ours (:func:`sbir_lib.report.paper_vs_ours`, values with the
    seeds' std); ``claims``: one :class:`Claim` per claim."""

    chapter: str
    paper: str
    run: Mapping[str, Any]
    tables: Sequence[ComparisonTable] = field(default_factory=list)
    claims: Sequence[Claim] = field(default_factory=list)


def margin_verdict(ours: Sequence[float], reference: float | Sequence[float], *, spread: float | None = None,
                   floor: float = 0.0, higher_is_better: bool = True) -> str:
    """The verdict on "ours beats the reference" from per-seed values.

    ``ours``: one value per seed; ``reference``: one value, or one per seed (paired). ``spread``: the yardstick
    (default: the std of the per-seed margins, or of ``ours`` against a single value); ``floor``: the smallest
    margin that counts (e.g. one test item). ``reproduced``: the mean margin exceeds ``max(spread, floor)`` and
    every seed beats the reference; ``direction only``: the mean margin is positive, but not by that much or
    not on every seed; ``not reproduced``: otherwise."""
    values = [float(v) for v in ours]
    if not values:
        raise ValueError("margin_verdict: no per-seed values")
    refs = ([float(reference)] * len(values) if isinstance(reference, (int, float))
            else [float(r) for r in reference])
    if len(refs) != len(values):
        raise ValueError(f"margin_verdict: {len(values)} values against {len(refs)} references")
    if not all(math.isfinite(v) for v in values + refs):
        raise ValueError("margin_verdict: values must be finite")
    sign = 1.0 if higher_is_better else -1.0
    margins = [sign * (v - r) for v, r in zip(values, refs)]
    mean = sum(margins) / len(margins)
    std = spread if spread is not None else math.sqrt(sum((m - mean) ** 2 for m in margins) / len(margins))
    if mean > max(std, floor) and min(margins) > 0:
        return "reproduced"
    return "direction only" if mean > 0 else "not reproduced"


def _describe_weights(weights: Any) -> str:
    if isinstance(weights, Mapping):
        name = weights.get("backbone") or weights.get("name") or ""
        file = weights.get("file") or weights.get("weights") or ""
        sha = weights.get("sha256")
        return ", ".join(str(x) for x in (name, file, f"sha256 {sha[:12]}" if sha else "") if x)
    return str(weights)


def run_summary(results: Mapping[str, Any], *, backbone: str | None = None, seeds: Sequence[int] | None = None) -> dict:
    """The run's settings for the report: profile (and overrides), data, backbone/weights, seeds, device, time."""
    from .results import describe_data

    extra = results.get("extra", {}) or {}
    config = extra.get("config", {}) or {}
    profile = results["profile"] + (f" (changed: {results['overrides']})" if results.get("overrides") else "")
    return {"profile": profile, "data": describe_data(results["data"]),
            "backbone": backbone or _describe_weights(extra.get("weights", config.get("backbone", "?"))),
            "seeds": list(seeds if seeds is not None else config.get("seeds", [results["seed"]])),
            "device": results.get("environment", {}).get("device", "?"),
            "wall_time_s": results.get("wall_time_s")}


def reproduction(results: Mapping[str, Any]) -> Reproduction:
    """The :class:`Reproduction` of one chapter's results (its paper module's ``reproduction``)."""
    chapter = results["chapter"]
    if chapter not in CHAPTER_PAPERS:
        raise KeyError(f"chapter {chapter!r} reproduces no paper; paper chapters: {sorted(CHAPTER_PAPERS)}")
    module = importlib.import_module(f"sbir_lib.papers.{CHAPTER_PAPERS[chapter]}")
    return module.reproduction(results)


def load_report(directory: str | Path) -> tuple[list[Reproduction], list[str]]:
    """``(reproductions, missing)``: the :class:`Reproduction` of every paper chapter whose results file is in
    ``directory``, in chapter order, and the paper chapters without one. A file that is not valid JSON raises,
    naming it."""
    directory = Path(directory)
    found, missing = [], []
    for chapter in sorted(CHAPTER_PAPERS):
        path = directory / f"{chapter}.json"
        if not path.is_file():
            missing.append(chapter)
            continue
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        found.append(reproduction(results))
    return found, missing


@dataclass(frozen=True)
class ClaimsTable:
    """Claims with their verdicts, one row each: HTML in Jupyter and the book, Markdown in a terminal."""

    rows: Sequence[Mapping[str, str]]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("chapter", "claim", "verdict", "why"))
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(r[k])}</td>" for k in ("chapter", "claim")) +
            f'<td class="verdict verdict-{r["verdict"].replace(" ", "-")}"><b>{html.escape(r["verdict"])}</b></td>'
            f"<td>{html.escape(r['why'])}</td></tr>" for r in self.rows)
        return f'<table class="claims"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        lines = ["| chapter | claim | verdict | why |", "|---|---|---|---|"]
        lines += [f"| {r['chapter']} | {r['claim']} | {r['verdict']} | {r['why']} |" for r in self.rows]
        return "\n".join(lines)


def claims_table(reproductions: Sequence[Reproduction]) -> ClaimsTable:
    """Every claim of ``reproductions`` in one table (chapter, claim, verdict, why)."""
    return ClaimsTable([{"chapter": r.chapter, "claim": c.text, "verdict": c.verdict, "why": c.why}
                        for r in reproductions for c in r.claims])
