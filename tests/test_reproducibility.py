"""The reproducibility report's framework: verdicts from per-seed values, claims, loading the results files."""

from __future__ import annotations

import json

import pytest

from sbir_lib.reproducibility import (CHAPTER_PAPERS, VERDICTS, Claim, claims_table, load_report, margin_verdict,
                                      reproduction)


def test_margin_verdict_against_one_value():
    # margins 0.10, 0.12, 0.14: mean 0.12, std 0.0163 -> beyond the spread on every seed
    assert margin_verdict([0.50, 0.52, 0.54], 0.40) == "reproduced"
    # margins 0.05, -0.01, 0.02: mean 0.02 > 0 but one seed is behind
    assert margin_verdict([0.45, 0.39, 0.42], 0.40) == "direction only"
    assert margin_verdict([0.35, 0.39, 0.38], 0.40) == "not reproduced"
    # lower is better: a distance
    assert margin_verdict([0.10, 0.11, 0.12], 0.30, higher_is_better=False) == "reproduced"


def test_margin_verdict_floor_and_given_spread():
    # margins 0.01 each (std 0): beyond the spread, but not beyond a one-item floor of 1/115
    assert margin_verdict([0.41, 0.41, 0.41], 0.40) == "reproduced"
    assert margin_verdict([0.405, 0.405, 0.405], 0.40, floor=1 / 115) == "direction only"
    # a given spread (e.g. the larger std of two rows) replaces the margins' own
    assert margin_verdict([0.50, 0.52, 0.54], 0.40, spread=0.2) == "direction only"


def test_margin_verdict_paired_by_seed():
    # seed by seed 0.02 ahead, although the means' difference (0.02) is smaller than either row's spread
    assert margin_verdict([0.30, 0.40, 0.50], [0.28, 0.38, 0.48]) == "reproduced"
    with pytest.raises(ValueError, match="3 values against 2 references"):
        margin_verdict([0.3, 0.4, 0.5], [0.3, 0.4])
    with pytest.raises(ValueError, match="no per-seed values"):
        margin_verdict([], 0.1)
    with pytest.raises(ValueError, match="finite"):
        margin_verdict([float("nan")], 0.1)


def test_claim_checks_its_verdict_and_reason():
    assert Claim("a", "reproduced", "because").verdict in VERDICTS
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("a", "mostly", "because")
    with pytest.raises(ValueError, match="a reason"):
        Claim("a", "not run here", "")


def test_claims_table_renders_html_and_markdown():
    class Rep:
        chapter, claims = "ch09", [Claim("x < y", "not reproduced", "0.3 vs 0.2 & more")]

    table = claims_table([Rep()])
    assert table.rows == [{"chapter": "ch09", "claim": "x < y", "verdict": "not reproduced", "why": "0.3 vs 0.2 & more"}]
    html = table._repr_html_()
    assert html.startswith('<table class="claims">') and "x &lt; y" in html and "0.3 vs 0.2 &amp; more" in html
    assert 'class="verdict verdict-not-reproduced"' in html
    assert repr(table).splitlines()[2] == "| ch09 | x < y | not reproduced | 0.3 vs 0.2 & more |"


def test_reproduction_needs_a_paper_chapter():
    with pytest.raises(KeyError, match="reproduces no paper"):
        reproduction({"chapter": "ch01"})


def test_load_report_lists_the_missing_chapters_and_names_a_bad_file(tmp_path):
    reps, missing = load_report(tmp_path)
    assert reps == [] and missing == sorted(CHAPTER_PAPERS)
    (tmp_path / "ch03.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ch03\.json: not valid JSON"):
        load_report(tmp_path)
    (tmp_path / "ch00.json").write_text(json.dumps({"chapter": "ch00"}), encoding="utf-8")   # not a paper: ignored
    (tmp_path / "ch03.json").unlink()
    assert load_report(tmp_path) == ([], sorted(CHAPTER_PAPERS))
