"""Tables a chapter shows its reader: the paper's numbers beside ours, and the settings of a run.

:func:`paper_vs_ours` and :func:`settings_table` return small objects that Jupyter and the static
book render as an HTML ``<table>`` (``_repr_html_``), that a terminal prints as a Markdown table
(``repr``), and that keep their content as data (``.rows``) for a later report page.

Only the standard library is imported: no torch, no pandas.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NOT_REPORTED",
    "NOT_RUN",
    "ComparisonTable",
    "paper_vs_ours",
    "SettingsTable",
    "settings_table",
    "summarise_runs",
    "table_stds",
]

#: Shown where the paper gives no value for a method and metric.
NOT_REPORTED = "—"
#: Shown where we have no value (the method was not run in this profile).
NOT_RUN = "not run"


# --------------------------------------------------------------------------- paper vs ours


@dataclass(frozen=True)
class _Cell:
    """One metric of one method, as displayed: the text and the marks."""

    paper: str
    ours: str
    paper_bold: bool = False
    ours_bold: bool = False
    ours_best: bool = False


@dataclass(frozen=True)
class ComparisonTable:
    """The paper's numbers beside ours: one row per method, a (paper, ours) pair per metric.

    Attributes:
        rows: one dict per method, in display order, with raw values (fractions when ``percent``):
            ``{"method": str, "<metric> paper": float | None, "<metric> ours": float | None,
            "<metric> ours std": float | None, ..., "note": str}`` (``None``: missing).
            ``pandas.DataFrame(table.rows)`` makes a data frame of it.
        columns: the metric names, in display order.
        higher_is_better: ``{metric: bool}``.
        percent: values are fractions shown as percentages.
        decimals: decimals shown (of the percentage when ``percent``).
        mark_best_ours: underline our best method in each metric.
        caption: shown above the table (``None``: none).

    In each pair the better of the paper's and our value is bold (both when they are equal as
    displayed); nothing is marked when either is missing.
    """

    rows: list[dict[str, Any]]
    columns: tuple[str, ...]
    higher_is_better: dict[str, bool]
    percent: bool = True
    decimals: int = 2
    mark_best_ours: bool = False
    caption: str | None = None

    # ------------------------------------------------------------------ formatting
    def _shown(self, value: float) -> float:
        """The number as displayed (percent, rounded): what "better" and "best" compare."""
        return round(value * 100 if self.percent else value, self.decimals)

    def _text(self, value: float) -> str:
        return f"{self._shown(value):.{self.decimals}f}"

    def _better(self, metric: str, a: float, b: float) -> bool:
        """True when displayed value ``a`` is better than ``b`` for ``metric``."""
        return a > b if self.higher_is_better[metric] else a < b

    def _best_ours(self, metric: str) -> float | None:
        shown = [self._shown(row[f"{metric} ours"]) for row in self.rows if row[f"{metric} ours"] is not None]
        if not self.mark_best_ours or len(shown) < 2:
            return None
        return max(shown) if self.higher_is_better[metric] else min(shown)

    def _cells(self) -> list[list[_Cell]]:
        """Display text and marks of every (method, metric)."""
        best = {metric: self._best_ours(metric) for metric in self.columns}
        table = []
        for row in self.rows:
            cells = []
            for metric in self.columns:
                paper, ours, std = row[f"{metric} paper"], row[f"{metric} ours"], row[f"{metric} ours std"]
                paper_text = NOT_REPORTED if paper is None else self._text(paper)
                ours_text = NOT_RUN if ours is None else self._text(ours)
                if std is not None:
                    ours_text += f" ± {self._text(std)}"
                paper_bold = ours_bold = ours_best = False
                if paper is not None and ours is not None:
                    p, o = self._shown(paper), self._shown(ours)
                    paper_bold = not self._better(metric, o, p)
                    ours_bold = not self._better(metric, p, o)
                if ours is not None and best[metric] is not None:
                    ours_best = self._shown(ours) == best[metric]
                cells.append(_Cell(paper_text, ours_text, paper_bold, ours_bold, ours_best))
            table.append(cells)
        return table

    def _header(self, metric: str) -> str:
        unit = " (%)" if self.percent else ""
        arrow = "" if self.higher_is_better[metric] else " ↓"
        return f"{metric}{unit}{arrow}"

    def _legend(self) -> str:
        parts = ["bold: the better of the paper's value and ours"]
        if self.mark_best_ours:
            parts.append("underlined: our best method")
        if any(row[f"{m} ours std"] is not None for row in self.rows for m in self.columns):
            parts.append("ours: mean ± std over seeds")
        if not all(self.higher_is_better.values()):
            parts.append("↓: lower is better")
        if any(row[f"{m} paper"] is None for row in self.rows for m in self.columns):
            parts.append(f"{NOT_REPORTED}: not in the paper")
        if any(row[f"{m} ours"] is None for row in self.rows for m in self.columns):
            parts.append(f"{NOT_RUN}: not run here")
        return "; ".join(parts) + "."

    @property
    def has_notes(self) -> bool:
        return any(row["note"] for row in self.rows)

    # ------------------------------------------------------------------ rendering
    def _repr_html_(self) -> str:
        esc = html.escape
        n_cols = 1 + 2 * len(self.columns) + self.has_notes
        out = ['<table class="sbir-paper-vs-ours">']
        if self.caption:
            out.append(f"<caption>{esc(self.caption)}</caption>")
        out.append("<thead>")
        top = ['<th rowspan="2">method</th>']
        top += [f'<th colspan="2">{esc(self._header(m))}</th>' for m in self.columns]
        if self.has_notes:
            top.append('<th rowspan="2">note</th>')
        out.append("<tr>" + "".join(top) + "</tr>")
        out.append("<tr>" + "<th>paper</th><th>ours</th>" * len(self.columns) + "</tr>")
        out.append("</thead>")
        out.append("<tbody>")
        for row, cells in zip(self.rows, self._cells()):
            tds = [f"<th>{esc(row['method'])}</th>"]
            for cell in cells:
                tds.append(f"<td>{_html_marked(cell.paper, cell.paper_bold, False)}</td>")
                tds.append(f"<td>{_html_marked(cell.ours, cell.ours_bold, cell.ours_best)}</td>")
            if self.has_notes:
                tds.append(f"<td>{esc(row['note'])}</td>")
            out.append("<tr>" + "".join(tds) + "</tr>")
        out.append("</tbody>")
        out.append(f'<tfoot><tr><td colspan="{n_cols}"><small>{esc(self._legend())}</small></td></tr></tfoot>')
        out.append("</table>")
        return "\n".join(out)

    def to_markdown(self) -> str:
        """A Markdown table (bold ``**x**``, our best ``<u>x</u>``), the caption above, the legend below."""
        header = ["method"]
        for metric in self.columns:
            header += [f"{self._header(metric)} paper", f"{self._header(metric)} ours"]
        if self.has_notes:
            header.append("note")
        lines = [_md_row(header), _md_row(["---"] + ["---:"] * (len(header) - 1 - self.has_notes) + ["---"] * self.has_notes)]
        for row, cells in zip(self.rows, self._cells()):
            values = [row["method"]]
            for cell in cells:
                values.append(_md_marked(cell.paper, cell.paper_bold, False))
                values.append(_md_marked(cell.ours, cell.ours_bold, cell.ours_best))
            if self.has_notes:
                values.append(row["note"])
            lines.append(_md_row(values))
        text = "\n".join(lines) + "\n\n" + self._legend()
        return f"{self.caption}\n\n{text}" if self.caption else text

    def __repr__(self) -> str:
        return self.to_markdown()


def _html_marked(text: str, bold: bool, underline: bool) -> str:
    text = html.escape(text)
    if underline:
        text = f"<u>{text}</u>"
    if bold:
        text = f"<strong>{text}</strong>"
    return text


def _md_marked(text: str, bold: bool, underline: bool) -> str:
    if underline:
        text = f"<u>{text}</u>"
    if bold:
        text = f"**{text}**"
    return text


def _md_row(values: Sequence[str]) -> str:
    return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"


def _names(values, what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"paper_vs_ours: {what} must be a sequence of names, got {type(values).__name__}")
    names = tuple(values)
    if not names:
        raise ValueError(f"paper_vs_ours: {what} is empty")
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"paper_vs_ours: {what} must hold non-empty str names, got {name!r}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"paper_vs_ours: {what} has duplicates: {', '.join(map(repr, duplicates))}")
    return names


def _value(table: Mapping | None, name: str, method: str, metric: str, *, percent: bool,
           negative_ok: bool = False) -> float | None:
    """``table[method][metric]`` as a float, or None when missing; checked."""
    if table is None:
        return None
    per_method = table.get(method)
    if per_method is None:
        return None
    if not isinstance(per_method, Mapping):
        raise TypeError(f"paper_vs_ours: {name}[{method!r}] must be a mapping metric -> value, "
                        f"got {type(per_method).__name__}")
    value = per_method.get(metric)
    if value is None:
        return None
    where = f"{name}[{method!r}][{metric!r}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"paper_vs_ours: {where} must be a number or None, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"paper_vs_ours: {where} is NaN; pass None for a missing value")
    if not math.isfinite(value):
        raise ValueError(f"paper_vs_ours: {where} is {value}, not a finite number")
    if not negative_ok and value < 0:
        raise ValueError(f"paper_vs_ours: {where} = {value:g} is negative")
    if percent and not (0.0 <= value <= 1.0):
        raise ValueError(f"paper_vs_ours: {where} = {value:g} is not a fraction in [0, 1] (percent=True shows "
                         f"fractions as percentages: divide a percentage by 100, or pass percent=False)")
    return value


def _check_table(table, name: str, *, optional: bool) -> None:
    if table is None and optional:
        return
    if not isinstance(table, Mapping):
        raise TypeError(f"paper_vs_ours: {name} must be a mapping method -> {{metric: value}}, "
                        f"got {type(table).__name__}")


def paper_vs_ours(
    rows: Sequence[str],
    *,
    columns: Sequence[str],
    paper: Mapping[str, Mapping[str, float | None]],
    ours: Mapping[str, Mapping[str, float | None]],
    stds: Mapping[str, Mapping[str, float | None]] | None = None,
    higher_is_better: bool | Mapping[str, bool] = True,
    percent: bool = True,
    decimals: int = 2,
    mark_best_ours: bool = False,
    caption: str | None = None,
    notes: Mapping[str, str] | None = None,
) -> ComparisonTable:
    """The paper-vs-ours table of a chapter: one row per method, a (paper, ours) column pair per metric.

    Args:
        rows: the methods to show, in order (names as used in ``paper`` and ``ours``).
        columns: the metrics to show, in order. Other methods and metrics in ``paper``/``ours`` are
            left out, so a chapter can pass its whole results dict.
        paper: ``{method: {metric: value}}`` from the paper; a missing method or metric, or ``None``,
            shows :data:`NOT_REPORTED` ("—").
        ours: ``{method: {metric: value}}`` from our runs; missing shows :data:`NOT_RUN` ("not run").
        stds: ``{method: {metric: std}}`` over seeds, shown as ``ours ± std`` (same units as ``ours``).
        higher_is_better: one bool for all metrics, or ``{metric: bool}`` for every metric in ``columns``.
        percent: values are fractions in [0, 1], shown as percentages (papers report %).
        decimals: decimals shown (of the percentage when ``percent``).
        mark_best_ours: also underline our best method in each metric (when two or more ran).
        caption: text above the table.
        notes: ``{method: text}`` shown in a last "note" column.

    Returns:
        a :class:`ComparisonTable`: an HTML table in Jupyter and the book, Markdown in a terminal,
        the values in ``.rows``.

    Raises:
        TypeError / ValueError: naming the argument (and the method and metric) that is wrong:
            a value that is not a number, NaN, outside [0, 1] with ``percent``, a negative std,
            a std without our value, an unknown metric in ``higher_is_better``.
    """
    methods = _names(rows, "rows")
    metrics = _names(columns, "columns")
    _check_table(paper, "paper", optional=False)
    _check_table(ours, "ours", optional=False)
    _check_table(stds, "stds", optional=True)
    if isinstance(higher_is_better, Mapping):
        unknown = [m for m in higher_is_better if m not in metrics]
        missing = [m for m in metrics if m not in higher_is_better]
        if unknown or missing:
            raise ValueError(f"paper_vs_ours: higher_is_better must give every column; "
                             f"missing {missing}, not columns {unknown}")
        direction = {m: bool(higher_is_better[m]) for m in metrics}
    elif isinstance(higher_is_better, bool):
        direction = dict.fromkeys(metrics, higher_is_better)
    else:
        raise TypeError(f"paper_vs_ours: higher_is_better must be a bool or a mapping metric -> bool, "
                        f"got {type(higher_is_better).__name__}")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise ValueError(f"paper_vs_ours: decimals must be an int in 0..6, got {decimals!r}")
    if notes is not None and not isinstance(notes, Mapping):
        raise TypeError(f"paper_vs_ours: notes must be a mapping method -> text, got {type(notes).__name__}")

    table_rows = []
    for method in methods:
        row: dict[str, Any] = {"method": method}
        for metric in metrics:
            ours_value = _value(ours, "ours", method, metric, percent=percent, negative_ok=not percent)
            std = _value(stds, "stds", method, metric, percent=percent)
            if std is not None and ours_value is None:
                raise ValueError(f"paper_vs_ours: stds[{method!r}][{metric!r}] is given but ours has no value for it")
            row[f"{metric} paper"] = _value(paper, "paper", method, metric, percent=percent, negative_ok=not percent)
            row[f"{metric} ours"] = ours_value
            row[f"{metric} ours std"] = std
        note = "" if notes is None else notes.get(method, "")
        if not isinstance(note, str):
            raise TypeError(f"paper_vs_ours: notes[{method!r}] must be a str, got {type(note).__name__}")
        row["note"] = note
        table_rows.append(row)
    return ComparisonTable(rows=table_rows, columns=metrics, higher_is_better=direction, percent=bool(percent),
                           decimals=decimals, mark_best_ours=bool(mark_best_ours), caption=caption)


# --------------------------------------------------------------------------- settings


def _setting_text(value: Any) -> str:
    """A setting value as a reader would write it: ``0.001``, ``adam``, ``[1, 2]``, ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_setting_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_setting_text(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


@dataclass(frozen=True)
class SettingsTable:
    """A two-column table (setting, value) of a run's settings.

    Attributes:
        rows: ``[(name, value), ...]`` in display order, the values as given.
        title: shown above the table (``None``: none).
    """

    rows: list[tuple[str, Any]]
    title: str | None = None

    def _repr_html_(self) -> str:
        esc = html.escape
        out = ['<table class="sbir-settings">']
        if self.title:
            out.append(f"<caption>{esc(self.title)}</caption>")
        out.append("<thead><tr><th>setting</th><th>value</th></tr></thead>")
        out.append("<tbody>")
        for name, value in self.rows:
            out.append(f"<tr><td><code>{esc(name)}</code></td><td>{esc(_setting_text(value))}</td></tr>")
        out.append("</tbody>")
        out.append("</table>")
        return "\n".join(out)

    def to_markdown(self) -> str:
        """A Markdown table, the title above."""
        lines = [_md_row(["setting", "value"]), _md_row(["---", "---"])]
        lines += [_md_row([f"`{name}`", _setting_text(value)]) for name, value in self.rows]
        text = "\n".join(lines)
        return f"{self.title}\n\n{text}" if self.title else text

    def __repr__(self) -> str:
        return self.to_markdown()


def settings_table(config: Mapping[str, Any], keys: Sequence[str] | None = None, *,
                   title: str | None = None) -> SettingsTable:
    """The settings that matter, as a short (setting, value) table instead of a long dict echo.

    Args:
        config: the run's settings, e.g. a chapter's ``CONFIG``.
        keys: the names to show, in order (default: all, in the config's order).
        title: text above the table.

    Raises:
        KeyError: names in ``keys`` that ``config`` does not have (all of them, and what it has).
        TypeError: ``config`` is not a mapping, or ``keys`` is a single str.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"settings_table: config must be a mapping name -> value, got {type(config).__name__}")
    if keys is None:
        names = list(config)
    else:
        if isinstance(keys, str) or not isinstance(keys, Sequence):
            raise TypeError(f"settings_table: keys must be a sequence of names (e.g. [{keys!r}]), "
                            f"got {type(keys).__name__}")
        names = list(keys)
        unknown = [k for k in names if k not in config]
        if unknown:
            raise KeyError(f"settings_table: config has no {', '.join(map(repr, unknown))}; "
                           f"it has {', '.join(map(repr, config))}")
    if not names:
        raise ValueError("settings_table: nothing to show (config is empty or keys is empty)")
    return SettingsTable(rows=[(str(name), config[name]) for name in names], title=title)


# --------------------------------------------------------------------------- several runs of one row


def summarise_runs(runs: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None, *,
                   count_key: str = "n_runs") -> dict[str, Any]:
    """Mean and (population) std of each metric over ``runs`` (one metrics dict per seed or split):
    ``{key: mean, key + "_std": std, count_key: len(runs)}``. ``keys``: the metrics to summarise
    (default: every numeric, non-bool key the first run has)."""
    if not runs:
        raise ValueError("summarise_runs needs at least one run")
    if keys is None:
        keys = [k for k, v in runs[0].items() if isinstance(v, numbers.Real) and not isinstance(v, bool)]
    missing = [(i, k) for i, r in enumerate(runs) for k in keys if k not in r]
    if missing:
        raise ValueError(f"run {missing[0][0]} has no value for {missing[0][1]!r}")
    out: dict[str, Any] = {}
    for k in keys:
        values = [float(r[k]) for r in runs]
        out[k] = sum(values) / len(values)
        out[f"{k}_std"] = math.sqrt(sum((v - out[k]) ** 2 for v in values) / len(values))
    out[count_key] = len(runs)
    return out


def table_stds(table: Mapping[str, Mapping[str, Any]], count_key: str = "n_runs") -> dict[str, dict[str, float]]:
    """``{row: {metric: std}}`` of the rows of ``table`` summarised over several runs (for ``paper_vs_ours``)."""
    return {name: {k[:-4]: v for k, v in row.items() if k.endswith("_std")} for name, row in table.items()
            if row.get(count_key, 1) > 1}
