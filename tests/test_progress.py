"""Tests for sbir_lib.progress: bars for a reader, none in headless runs ($SBIR_NO_PROGRESS)."""

from __future__ import annotations

import io

import pytest

from sbir_lib.progress import NO_PROGRESS_VARIABLE, progress_bar, progress_shown


@pytest.mark.parametrize("value, shown", [(None, True), ("", True), ("0", True), ("no", True),
                                          ("1", False), ("true", False), (" YES ", False)])
def test_progress_shown_reads_the_environment(monkeypatch, value, shown):
    if value is None:
        monkeypatch.delenv(NO_PROGRESS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(NO_PROGRESS_VARIABLE, value)
    assert NO_PROGRESS_VARIABLE == "SBIR_NO_PROGRESS"
    assert progress_shown() is shown


def run_bar(**kwargs) -> str:
    out = io.StringIO()
    bar = progress_bar(range(3), desc="training", file=out, mininterval=0, **kwargs)
    seen = []
    for step in bar:
        seen.append(step)
        bar.set_postfix(loss="0.123")  # refreshes the bar: fit() does this every 10 steps
    bar.close()
    assert seen == [0, 1, 2]
    return out.getvalue()


def test_a_bar_is_drawn_for_a_reader(monkeypatch):
    monkeypatch.delenv(NO_PROGRESS_VARIABLE, raising=False)
    text = run_bar()
    assert "training: 100%" in text and "3/3" in text and "loss=0.123" in text


def test_no_bar_in_a_headless_run_even_with_set_postfix(monkeypatch):
    monkeypatch.setenv(NO_PROGRESS_VARIABLE, "1")
    assert run_bar() == ""


def test_enabled_false_draws_no_bar_and_disable_is_refused(monkeypatch):
    monkeypatch.delenv(NO_PROGRESS_VARIABLE, raising=False)
    assert run_bar(enabled=False) == ""
    with pytest.raises(TypeError, match="pass enabled=False instead of disable=True"):
        progress_bar(range(3), disable=True)
