"""The formatting layer: every table a report shows is turned into HTML here.

One set of rules for every cell, so that no report prints ``NaN``, ``None``, ``True``, a Python
list, a row index or a number in scientific notation:

- missing values (``None``, NaN, ``pd.NA``, ``NaT``, empty text) are empty cells;
- integers (and float columns that hold only whole numbers, such as ``k``) print as integers;
- p-values print with three decimals, four below 0.001, and ``< 0.0001`` below that;
- τ² and other floats print in fixed notation (never ``1.7e-11``); printed values (text as the
  paper printed it) keep their decimals, and re-derived values are rounded to the decimals of the
  printed value they are compared with (:func:`decimals_of`);
- booleans print as ``yes``/``no``, sequences as comma-separated text;
- a verdict is a coloured badge with its word, the same colour and word in every report and on
  the index (:data:`VERDICT_COLOURS`, words from :mod:`metakit.workbook.contract`);
- long notes are wrapped, and folded into ``<details>`` beyond :data:`NOTE_FOLD` characters;
- tables with a ``group`` column show one header row per group (section), verdict first.

The output is deterministic (no random element ids), so two builds give identical bytes. Only the
standard library is imported at module level (the index is written without pandas).

References
----------
Cochrane Handbook for Systematic Reviews of Interventions, version 6.4 (2023), chapter 15.3
(presenting results: decimals, P values "P < 0.0001" rather than exponents).
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metakit.workbook.contract import LABELS, TALLY

VERDICT_COLOURS: dict[str, tuple[str, str]] = {
    "reproduced": ("#d4edda", "#155724"),
    "consistent": ("#dbe9f6", "#0b3d6b"),
    "discrepant": ("#fde2c8", "#7a3b00"),
    "inconsistent": ("#f5c6cb", "#721c24"),
    "deviates": ("#fff1c2", "#6b5000"),
    "not_reproducible": ("#e9e9e9", "#3d3d3d"),
    "new": ("#ece6f5", "#3f2a66"),
    "not_checkable": ("#e9e9e9", "#3d3d3d"),
}
"""Verdict -> (background, text colour): one colour per verdict in every report and the index.
``not_checkable`` is the audit checks' word for a check that could not fail."""

NOTE_FOLD = 160
"""Notes longer than this many characters are folded into ``<details>``."""

LONG_WORD = 24
"""A text cell with a word longer than this (a DOI, a URL) may break inside words; other cells
break only between words, so short headers and labels stay whole."""

P_COLUMNS = frozenset({"p", "p_value", "pval", "q_pval", "qm_pval", "q_between_pval",
                       "p-value", "p value"})
"""Column names holding p-values (also any name ending in ``_pval`` or `` p``)."""

TAU2_COLUMNS = frozenset({"tau2", "tau²", "τ²", "tau2_reml", "tau^2"})

CSS = """
table.mk-table { border-collapse: collapse; width: 100%; max-width: 100%; table-layout: auto;
  font-size: 13px; line-height: 1.35; margin: 0.5em 0 1em; }
table.mk-table caption { caption-side: top; text-align: left; font-weight: 600;
  padding: 0 0 0.4em; }
table.mk-table th, table.mk-table td, .jp-RenderedHTMLCommon table.mk-table th,
.jp-RenderedHTMLCommon table.mk-table td { padding: 3px 7px; border-bottom: 1px solid #ddd;
  text-align: left; vertical-align: top; overflow-wrap: break-word; white-space: normal;
  max-width: none; }
table.mk-table td.mk-note, table.mk-table td.mk-long { overflow-wrap: anywhere; }
table.mk-table thead th { border-bottom: 2px solid #555; vertical-align: bottom; background: #fff; }
table.mk-table td.mk-num, table.mk-table th.mk-num, .jp-RenderedHTMLCommon table.mk-table td.mk-num,
.jp-RenderedHTMLCommon table.mk-table th.mk-num { text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; overflow-wrap: normal; }
table.mk-table td.mk-note { min-width: 16em; }
table.mk-table tr.mk-group th { background: #f3f3f3; border-bottom: 1px solid #bbb;
  font-weight: 600; padding-top: 6px; }
table.mk-table details summary { cursor: pointer; }
table.mk-table .mk-sub { color: #555; font-size: 92%; }
table.mk-table tr:target td { outline: 2px solid #444; }
.mk-verdict { display: inline-block; padding: 1px 6px; border-radius: 3px; font-weight: 600;
  white-space: nowrap; font-size: 92%; }
""" + "".join(
    f".mk-v-{verdict} {{ background: {bg}; color: {ink}; }}\n"
    for verdict, (bg, ink) in VERDICT_COLOURS.items())
"""Style sheet of the tables and verdict badges (included once per table, and on the index)."""


# ------------------------------------------------------------------------------ cell text
def is_missing(value: object) -> bool:
    """``None``, NaN, ``pd.NA``, ``NaT`` or blank text."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(value != value)  # NaN, NaT and pd.NA (pd.NA != pd.NA is NA -> TypeError)
    except TypeError:
        return True


_PRINTED_NUMBER = re.compile(r"^[-+\u2212\u2013]?(\d*)(?:\.(\d+))?%?$")


def decimals_of(printed: object) -> int | None:
    """Number of decimals of a printed number (``"0.40"`` -> 2, ``"44.0%"`` -> 1), ``None``
    for a bound (``"<0.001"``) or anything that is not a plain decimal number.

    Only the standard library is used, so that the index (written without numpy) can call it;
    the rounding interval of a printed number is :class:`metakit.audit.Printed`'s job.
    """
    if is_missing(printed) or not isinstance(printed, str):
        return None
    match = _PRINTED_NUMBER.match(printed.strip().replace(" ", ""))
    if not match or not (match.group(1) or match.group(2)):
        return None
    return len(match.group(2) or "")


def number(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, fixed notation, a true minus sign; no ``-0.00``."""
    text = f"{float(value):.{max(decimals, 0)}f}"
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


def p_value(p: object) -> str:
    """A p-value: three decimals, four below 0.001, ``< 0.0001`` below that."""
    if is_missing(p):
        return ""
    if isinstance(p, str):
        return p
    p = float(p)  # type: ignore[arg-type]
    if p < 0.0001:
        return "< 0.0001"
    return number(p, 3 if p >= 0.001 else 4)


def text(value: object, *, decimals: int | None = None, kind: str = "") -> str:
    """The text of one cell (not yet HTML-escaped).

    Parameters
    ----------
    value : object
        Any cell value.
    decimals : int, optional
        Decimals of a float; default 4 for ``kind="tau2"``, else 3 significant digits
        (at least 2 decimals below 10, fixed notation).
    kind : {"", "p", "tau2", "int"}
        ``p`` formats p-values (:func:`p_value`); ``int`` whole numbers.
    """
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(text(v, decimals=decimals, kind=kind) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {text(v, decimals=decimals)}" for k, v in value.items())
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if _is_bool(value):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isinf(x):
            return "\u221e" if x > 0 else "\u2212\u221e"
        if kind == "p":
            return p_value(x)
        if kind == "int" and x.is_integer():
            return str(int(x))
        if decimals is None:
            decimals = 4 if kind == "tau2" else _default_decimals(x)
        return number(x, decimals)
    return str(value)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b"


def _default_decimals(x: float) -> int:
    if x == 0 or abs(x) >= 10:
        return 2 if abs(x) < 1000 else 0
    return min(4, max(2, 2 - math.floor(math.log10(abs(x)))))


def column_kind(name: object, values: Iterable[object]) -> str:
    """``p``, ``tau2``, ``int`` (every value a whole number), ``num`` or ``text`` for a column."""
    label = str(name).strip().lower()
    if label in P_COLUMNS or label.endswith(("_pval", " p", "p-value")):
        return "p"
    if label in TAU2_COLUMNS:
        return "tau2"
    present = [v for v in values if not is_missing(v)]
    if not present or not all(isinstance(v, numbers.Real) and not _is_bool(v)
                              for v in present):
        return "text"
    if all(float(v).is_integer() for v in present):  # type: ignore[arg-type]
        return "int"
    return "num"


# ------------------------------------------------------------------------------ HTML
def tally_badge(key: str, title: str = "") -> str:
    """HTML badge of a :data:`~metakit.workbook.contract.TALLY` key (a verdict, or ``firm`` /
    ``conditional`` for the two kinds of contradiction): its words on its verdict's colour."""
    verdict = "inconsistent" if key in ("firm", "conditional") else key
    label = TALLY.get(key, LABELS.get(key, key.replace("_", " ")))
    css = f" mk-v-{verdict}" if verdict in VERDICT_COLOURS else ""
    tip = f' title="{html.escape(title)}"' if title else ""
    return f'<span class="mk-verdict{css}"{tip}>{html.escape(label)}</span>'


def verdict_badge(verdict: object, assumption: object = "") -> str:
    """HTML badge of a verdict; a contradiction is marked firm, or conditional on its
    ``assumption`` (shown as the badge's tooltip)."""
    key = str(verdict)
    if key == "inconsistent":
        conditional = not is_missing(assumption)
        return tally_badge("conditional" if conditional else "firm",
                           f"assumes: {assumption}" if conditional else "")
    return tally_badge(key)


def note_html(note: object, fold: int = NOTE_FOLD) -> str:
    """An escaped note; beyond ``fold`` characters its start is the summary of a ``<details>``."""
    body = text(note)
    if len(body) <= fold:
        return html.escape(body)
    cut = body.rfind(" ", 0, fold * 2 // 3)
    cut = cut if cut > 0 else fold * 2 // 3
    return (f"<details><summary>{html.escape(body[:cut])} …</summary>"
            f"{html.escape(body[cut:].lstrip())}</details>")


def anchor_ids(values: Iterable[object], prefix: str = "result-") -> list[str]:
    """Element ids ``<prefix><value>``, a repeated value suffixed ``-2``, ``-3`` ... (unique)."""
    seen: dict[str, int] = {}
    out = []
    for value in values:
        key = text(value)
        seen[key] = seen.get(key, 0) + 1
        out.append(f"{prefix}{key}" + ("" if seen[key] == 1 else f"-{seen[key]}"))
    return out


@dataclass(frozen=True)
class Table:
    """A formatted table: shows itself in notebooks and reports (``_repr_html_``).

    Attributes
    ----------
    html : str
        The ``<table>`` with its style sheet.
    frame : object
        The data shown (a pandas DataFrame, columns as displayed), for tests and re-use.
    """

    html: str
    frame: Any = None

    def _repr_html_(self) -> str:
        return self.html

    def to_html(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


def _heading(name: object) -> str:
    label = str(name)
    return label.replace("_", " ") if label.isidentifier() else label


def table(frame: Any, *, verdict: str | None = "verdict", group: str | None = None,
          notes: Sequence[str] = ("note", "notes", "explanation"),
          decimals: Mapping[str, int] | None = None, row_ids: Sequence[str] | None = None,
          caption: str | None = None, html_columns: Sequence[str] = (),
          numeric: Sequence[str] = ()) -> Table:
    """Any DataFrame (or Series) as a formatted HTML table.

    Parameters
    ----------
    frame : pandas.DataFrame or pandas.Series
        The data. A meaningful index (not a plain 0..n-1 range) becomes the first column(s);
        a plain range index is dropped.
    verdict : str, optional
        Column holding a verdict: shown first, as a coloured badge (an ``assumption`` column, if
        present, marks conditional contradictions). ``None``: no verdict column.
    group : str, optional
        Column whose values head groups of rows (one header row per value, in order of first
        appearance); the column itself is not repeated in the rows.
    notes : sequence of str
        Columns of free text, wrapped and folded into ``<details>`` when long.
    decimals : mapping of str to int, optional
        Decimals of float columns by name (default: see :func:`text`).
    row_ids : sequence of str, optional
        An ``id`` per row (link targets such as ``result-<analysis_id>``).
    caption : str, optional
        Caption above the table.
    html_columns : sequence of str
        Columns whose values are already HTML (built by the caller from escaped text).
    numeric : sequence of str
        Text columns to right-align as numbers (e.g. estimates with their CI).

    Returns
    -------
    Table
    """
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else "value")
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame: expected a pandas DataFrame or Series, "
                         f"got {type(frame).__name__}")
    shown = frame.copy()
    unnamed = all(name is None for name in shown.index.names)
    if not (unnamed and pd.api.types.is_integer_dtype(shown.index.dtype)):
        names = [n if n is not None else ("" if shown.index.nlevels == 1 else f"level {i}")
                 for i, n in enumerate(shown.index.names)]
        shown.index = shown.index.set_names(names)
        shown = shown.reset_index()
    shown.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c)
                     for c in shown.columns]
    if row_ids is not None and len(row_ids) != len(shown):
        raise ValueError(f"row_ids: {len(row_ids)} ids for {len(shown)} rows")
    has_verdict = verdict is not None and verdict in shown.columns
    assumption = shown["assumption"] if has_verdict and "assumption" in shown.columns else None
    drop = {c for c in (group, "assumption" if assumption is not None else None) if c}
    columns = [c for c in shown.columns if c not in drop and c != verdict]
    if has_verdict:
        columns = [verdict, *columns]
    decimals = dict(decimals or {})
    kinds = {c: ("html" if c in html_columns else "note" if c in notes else
                 "verdict" if has_verdict and c == verdict else column_kind(c, shown[c]))
             for c in columns}

    def cell(column: str, value: object, row: int) -> str:
        kind = kinds[column]
        if kind == "html":
            return f"<td>{'' if is_missing(value) else value}</td>"
        if kind == "verdict":
            extra = assumption.iloc[row] if assumption is not None else ""
            return f"<td>{verdict_badge(value, extra)}</td>" if not is_missing(value) \
                else "<td></td>"
        if kind == "note":
            return f'<td class="mk-note">{note_html(value)}</td>'
        body = html.escape(text(value, decimals=decimals.get(column),
                                kind=kind if kind in ("p", "tau2", "int") else ""))
        if is_num(column):
            return f'<td class="mk-num">{body}</td>'
        long = any(len(word) > LONG_WORD for word in body.split())
        return f'<td class="mk-long">{body}</td>' if long else f"<td>{body}</td>"

    def is_num(column: str) -> bool:
        return kinds[column] in ("p", "tau2", "int", "num") or column in numeric

    head = "".join(f'<th class="mk-num">{html.escape(_heading(c))}</th>' if is_num(c)
                   else f"<th>{html.escape(_heading(c))}</th>" for c in columns)
    body = []
    current: object = object()
    records = shown.to_dict("records")
    for i, record in enumerate(records):
        if group and record[group] != current:
            current = record[group]
            body.append(f'<tr class="mk-group"><th colspan="{len(columns)}">'
                        f"{html.escape(text(current)) or 'other'}</th></tr>")
        row_id = f' id="{html.escape(row_ids[i])}"' if row_ids is not None else ""
        body.append(f"<tr{row_id}>" + "".join(cell(c, record[c], i) for c in columns)
                    + "</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    markup = (f"<style>{CSS}</style>\n<table class=\"mk-table\">{title}<thead><tr>{head}</tr>"
              f"</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody></table>\n")
    return Table(markup, shown.loc[:, columns])


def fit_table(fit: Any) -> Table:
    """A fitted model (:class:`metakit.engine.models.RMAResult`) as a formatted table: the
    model and heterogeneity in one line, then the coefficients (no ``nan``, no exponents)."""
    kind = "Equal-effects model" if fit.is_fixed else "Random-effects model"
    parts = [f"{kind} (k = {fit.k}; method: {fit.method}; test: {fit.test})"]
    if not fit.is_fixed:
        lo, hi = fit.tau2_ci
        parts.append(f"\u03c4\u00b2 = {text(fit.tau2, kind='tau2')} ({fit.level:g}% CI "
                     f"{text(lo, kind='tau2')} to {text(hi, kind='tau2')})")
    parts.append(f"I\u00b2 = {number(fit.i2, 1)}%, H\u00b2 = {number(fit.h2, 2)}")
    parts.append(f"Q({fit.q_df} df) = {number(fit.q, 2)}, p {_p_phrase(fit.q_pval)}")
    if getattr(fit, "is_regression", False):
        parts.append(f"QM = {number(fit.qm, 2)}, p {_p_phrase(fit.qm_pval)}; "
                     f"R\u00b2 = {number(fit.r2, 1)}%")
    frame = fit.summary_frame()
    frame.index.name = "coefficient"
    return table(frame, verdict=None, caption="; ".join(parts))


def _p_phrase(p: float) -> str:
    shown = p_value(p)
    return shown if shown.startswith("<") else f"= {shown}"


def install() -> None:
    """Show every pandas DataFrame and Series (and every fitted model, :func:`fit_table`) of
    this IPython session through :func:`table`.

    Call once at the top of a notebook; afterwards a bare ``frame`` in a cell is formatted like
    every other table (no NaN, no index, no ``dtype:`` footer). Does nothing outside IPython.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    shell = get_ipython()
    if shell is None:
        return
    import pandas as pd

    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, lambda frame: table(frame).html)
    formatter.for_type(pd.Series, lambda series: table(series).html)
    formatter.for_type_by_name("metakit.engine.models", "RMAResult",
                               lambda fit: fit_table(fit).html)
