"""Tests for sbir_lib.report: the paper-vs-ours table and the settings table."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sbir_lib.report import NOT_REPORTED, NOT_RUN, ComparisonTable, paper_vs_ours, settings_table

PAPER = {"BoW-HOG + rankSVM": {"acc@1": 0.1739, "acc@10": 0.6783},
         "Our model": {"acc@1": 0.3913, "acc@10": 0.8783}}
OURS = {"BoW-HOG + rankSVM": {"acc@1": 0.2, "acc@10": 0.6, "pct_correct": 0.61},
        "Our model": {"acc@1": 0.35, "acc@10": 0.9},
        "Dense-HOG, Euclidean": {"acc@1": 0.1, "acc@10": 0.5}}
ROWS = ["BoW-HOG + rankSVM", "Our model", "Dense-HOG, Euclidean", "3DS Deep + rankSVM"]


def body_rows(html: str) -> list[list[str]]:
    """The cells (inner HTML) of each <tbody> row, the method's <th> first."""
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def table(**kwargs) -> ComparisonTable:
    args = dict(columns=["acc@1", "acc@10"], paper=PAPER, ours=OURS)
    args.update(kwargs)
    return paper_vs_ours(ROWS, **args)


# ----------------------------------------------------------------------------- paper vs ours: HTML


def test_html_is_a_table_with_a_paper_and_ours_column_per_metric():
    html = table(caption="Table 1 (shoes)")._repr_html_()
    assert html.startswith('<table class="sbir-paper-vs-ours">') and html.endswith("</table>")
    assert "<caption>Table 1 (shoes)</caption>" in html
    assert ('<tr><th rowspan="2">method</th><th colspan="2">acc@1 (%)</th><th colspan="2">acc@10 (%)</th></tr>'
            in html)
    assert "<tr><th>paper</th><th>ours</th><th>paper</th><th>ours</th></tr>" in html
    assert [row[0] for row in body_rows(html)] == ROWS


def test_values_are_percentages_and_the_better_of_each_pair_is_bold():
    rows = body_rows(table()._repr_html_())
    # BoW-HOG: acc@1 ours 20.00 beats the paper's 17.39; acc@10 the paper's 67.83 beats our 60.00
    assert rows[0][1:] == ["17.39", "<strong>20.00</strong>", "<strong>67.83</strong>", "60.00"]
    assert rows[1][1:] == ["<strong>39.13</strong>", "35.00", "87.83", "<strong>90.00</strong>"]


def test_missing_paper_value_is_a_dash_and_missing_ours_is_not_run_and_neither_is_bold():
    rows = body_rows(table()._repr_html_())
    assert rows[2][1:] == [NOT_REPORTED, "10.00", NOT_REPORTED, "50.00"]  # not in the paper
    assert rows[3][1:] == [NOT_REPORTED, NOT_RUN, NOT_REPORTED, NOT_RUN]  # neither
    assert NOT_REPORTED == "—" and NOT_RUN == "not run"
    one_sided = paper_vs_ours(["a"], columns=["m"], paper={"a": {"m": 0.5}}, ours={})
    assert body_rows(one_sided._repr_html_())[0] == ["a", "50.00", "not run"]


def test_equal_displayed_values_are_both_bold():
    t = paper_vs_ours(["a"], columns=["m"], paper={"a": {"m": 0.31204}}, ours={"a": {"m": 0.31196}})
    assert body_rows(t._repr_html_())[0] == ["a", "<strong>31.20</strong>", "<strong>31.20</strong>"]


def test_lower_is_better_per_metric_flips_the_mark_and_is_marked_in_the_header():
    t = paper_vs_ours(["a"], columns=["acc@1", "rank"], paper={"a": {"acc@1": 0.3, "rank": 0.2}},
                      ours={"a": {"acc@1": 0.4, "rank": 0.1}}, higher_is_better={"acc@1": True, "rank": False})
    html = t._repr_html_()
    assert '<th colspan="2">rank (%) ↓</th>' in html and "↓: lower is better" in html
    assert body_rows(html)[0][1:] == ["30.00", "<strong>40.00</strong>", "20.00", "<strong>10.00</strong>"]


def test_std_over_seeds_is_shown_after_our_value_in_the_same_units():
    t = table(stds={"Our model": {"acc@1": 0.0125}})
    rows = body_rows(t._repr_html_())
    assert rows[1][2] == "35.00 ± 1.25"  # 1.25 = 0.0125 in percent, 2 decimals
    assert "ours: mean ± std over seeds" in t._repr_html_()
    assert t.rows[1]["acc@1 ours std"] == 0.0125 and t.rows[0]["acc@1 ours std"] is None


def test_best_ours_per_metric_is_underlined_only_when_asked():
    rows = body_rows(table(mark_best_ours=True)._repr_html_())
    assert rows[1][2] == "<u>35.00</u>"  # best acc@1 of ours (20, 35, 10), and the paper's 39.13 is better
    assert rows[1][4] == "<strong><u>90.00</u></strong>"
    assert [r[2] for r in rows].count("<u>35.00</u>") == 1 and "<u>" not in rows[0][2] + rows[2][2]
    assert "<u>" not in table()._repr_html_()


def test_notes_add_a_last_column_and_text_is_html_escaped():
    t = paper_vs_ours(["A<B>"], columns=["m"], paper={}, ours={"A<B>": {"m": 0.5}},
                      notes={"A<B>": "ours: 1 seed & a CPU"}, caption="x < y")
    html = t._repr_html_()
    assert '<th rowspan="2">note</th>' in html
    assert body_rows(html)[0] == ["A&lt;B&gt;", NOT_REPORTED, "50.00", "ours: 1 seed &amp; a CPU"]
    assert "<caption>x &lt; y</caption>" in html


def test_percent_false_shows_the_values_as_given():
    t = paper_vs_ours(["a"], columns=["mAP"], paper={"a": {"mAP": 31.2}}, ours={"a": {"mAP": 30.456}},
                      percent=False, decimals=1)
    html = t._repr_html_()
    assert '<th colspan="2">mAP</th>' in html
    assert body_rows(html)[0] == ["a", "<strong>31.2</strong>", "30.5"]


# ----------------------------------------------------------------------------- data and text


def test_rows_keep_the_raw_values_for_a_report_page():
    t = table(notes={"Our model": "CPU-sized"})
    assert t.columns == ("acc@1", "acc@10")
    assert t.rows[0] == {"method": "BoW-HOG + rankSVM", "acc@1 paper": 0.1739, "acc@1 ours": 0.2,
                         "acc@1 ours std": None, "acc@10 paper": 0.6783, "acc@10 ours": 0.6,
                         "acc@10 ours std": None, "note": ""}
    assert t.rows[1]["note"] == "CPU-sized"
    assert t.rows[3]["acc@1 ours"] is None and t.rows[3]["acc@1 paper"] is None
    assert "pct_correct ours" not in t.rows[0]  # only the asked columns


def test_repr_is_a_markdown_table_with_the_same_marks():
    text = repr(table(caption="Table 1", mark_best_ours=True))
    lines = text.splitlines()
    assert lines[0] == "Table 1"
    assert lines[2] == "| method | acc@1 (%) paper | acc@1 (%) ours | acc@10 (%) paper | acc@10 (%) ours |"
    assert lines[3] == "| --- | ---: | ---: | ---: | ---: |"
    assert lines[4] == "| BoW-HOG + rankSVM | 17.39 | **20.00** | **67.83** | 60.00 |"
    assert lines[5] == "| Our model | **39.13** | <u>35.00</u> | 87.83 | **<u>90.00</u>** |"
    assert lines[7] == "| 3DS Deep + rankSVM | — | not run | — | not run |"
    assert lines[-1].startswith("bold: the better of the paper's value and ours; underlined: our best method")


# ----------------------------------------------------------------------------- paper vs ours: errors


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(ours={"Our model": {"acc@1": 35.0}}), ValueError,
         r"ours\['Our model'\]\['acc@1'\] = 35 is not a fraction in \[0, 1\].*divide a percentage by 100"),
        (dict(paper={"Our model": {"acc@10": float("nan")}}), ValueError,
         r"paper\['Our model'\]\['acc@10'\] is NaN; pass None for a missing value"),
        (dict(ours={"Our model": {"acc@1": "0.3"}}), TypeError,
         r"ours\['Our model'\]\['acc@1'\] must be a number or None, got '0.3'"),
        (dict(ours={"Our model": [0.3, 0.9]}), TypeError, r"ours\['Our model'\] must be a mapping metric -> value"),
        (dict(stds={"3DS Deep + rankSVM": {"acc@1": 0.01}}), ValueError,
         r"stds\['3DS Deep \+ rankSVM'\]\['acc@1'\] is given but ours has no value for it"),
        (dict(stds={"Our model": {"acc@1": -0.01}}), ValueError, r"stds\['Our model'\]\['acc@1'\] = -0.01 is negative"),
        (dict(higher_is_better={"acc@1": True}), ValueError,
         r"higher_is_better must give every column; missing \['acc@10'\]"),
        (dict(columns=["acc@1", "acc@1"]), ValueError, r"columns has duplicates: 'acc@1'"),
        (dict(columns="acc@1"), TypeError, r"columns must be a sequence of names, got str"),
        (dict(columns=[]), ValueError, r"columns is empty"),
        (dict(paper=None), TypeError, r"paper must be a mapping method -> \{metric: value\}, got NoneType"),
        (dict(decimals=9), ValueError, r"decimals must be an int in 0..6, got 9"),
    ],
)
def test_bad_arguments_name_the_argument_and_the_problem(kwargs, error, message):
    with pytest.raises(error, match=message):
        table(**kwargs)


# ----------------------------------------------------------------------------- settings table


CONFIG = {"size": 80, "lr": 1e-3, "optimizer": "adam", "seeds": [0, 1], "crop": (80, 80), "dropout": 0.2,
          "batch_norm": True, "photo_classes": None}


def test_settings_table_shows_the_chosen_keys_in_order():
    t = settings_table(CONFIG, ["optimizer", "lr", "seeds", "crop", "batch_norm", "photo_classes"], title="Run settings")
    html = t._repr_html_()
    assert html.startswith('<table class="sbir-settings">') and "<caption>Run settings</caption>" in html
    assert re.findall(r"<tr><td><code>(.*?)</code></td><td>(.*?)</td></tr>", html) == [
        ("optimizer", "adam"), ("lr", "0.001"), ("seeds", "[0, 1]"), ("crop", "(80, 80)"),
        ("batch_norm", "True"), ("photo_classes", "None")]
    assert t.rows[1] == ("lr", 1e-3)
    assert repr(t).splitlines()[:5] == ["Run settings", "", "| setting | value |", "| --- | --- |",
                                        "| `optimizer` | adam |"]


def test_settings_table_defaults_to_every_key():
    assert [name for name, _ in settings_table(CONFIG).rows] == list(CONFIG)


def test_settings_table_unknown_keys_raise_key_error_naming_them_and_what_exists():
    with pytest.raises(KeyError, match=r"config has no 'lr2', 'epochs'; it has 'size', 'lr', 'optimizer'"):
        settings_table(CONFIG, ["lr2", "size", "epochs"])


def test_settings_table_argument_errors():
    with pytest.raises(TypeError, match=r"keys must be a sequence of names \(e.g. \['lr'\]\), got str"):
        settings_table(CONFIG, "lr")
    with pytest.raises(TypeError, match="config must be a mapping name -> value, got list"):
        settings_table([("lr", 1)])
    with pytest.raises(ValueError, match="nothing to show"):
        settings_table({})


def test_report_module_imports_neither_torch_nor_pandas():
    code = "import sys, sbir_lib.report; print('torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_summarise_runs_gives_mean_population_std_and_count():
    from sbir_lib.report import summarise_runs, table_stds

    runs = [{"mAP": 0.2, "P@200": 0.1, "name": "a", "ok": True}, {"mAP": 0.4, "P@200": 0.3, "name": "b", "ok": False}]
    row = summarise_runs(runs)
    assert row == pytest.approx({"mAP": 0.3, "mAP_std": 0.1, "P@200": 0.2, "P@200_std": 0.1, "n_runs": 2})
    assert summarise_runs(runs, ["mAP"], count_key="n_seeds") == pytest.approx({"mAP": 0.3, "mAP_std": 0.1,
                                                                                "n_seeds": 2})
    assert table_stds({"x": row, "single": summarise_runs(runs[:1])}) == {"x": pytest.approx({"mAP": 0.1,
                                                                                              "P@200": 0.1})}
    with pytest.raises(ValueError, match="run 1 has no value for 'mAP'"):
        summarise_runs([{"mAP": 1.0}, {"P@200": 1.0}])
    with pytest.raises(ValueError, match="at least one run"):
        summarise_runs([])
