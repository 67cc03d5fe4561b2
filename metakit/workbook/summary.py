"""The findings summary at the top of every report, generated from the results table.

:func:`findings` reads a results frame (the ``results.csv`` contract) and the review's
``data/<review>/review.yaml`` and shows, before anything else: the paper (citation, DOI link),
what could be re-derived and what could only be audited, the verdict counts as a small inline
SVG chart, and the findings that matter most, one line each with its numbers and a link to its
row of the results table (``#result-<analysis_id>``, see
:func:`metakit.workbook.report.verdict_table`).

Findings are listed in this order: firm contradictions, conditional contradictions (with the
assumption they rest on), discrepancies, deviations from the paper's own stated method, and
conclusions that change under modern methods (``new`` rows whose note says
:data:`FLIP_MARKER`).

References
----------
Schünemann, H. J., et al. (2023). Completing 'Summary of findings' tables. Cochrane Handbook for
Systematic Reviews of Interventions, version 6.4, chapter 14 (main findings first, one line per
outcome, with numbers).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from metakit.workbook.contract import TALLY, tally
from metakit.workbook.yamlfile import load_yaml
from metakit.workbook.format import (
    CSS,
    VERDICT_COLOURS,
    Table,
    anchor_ids,
    decimals_of,
    is_missing,
    number,
    text,
    verdict_badge,
)

REVIEW_KEYS: tuple[str, ...] = ("title", "citation", "design")
"""Keys of ``review.yaml`` the summary needs (``doi``, ``studies`` and ``software`` are shown when
given; :class:`metakit.workbook.dossier.ReviewMeta` validates the whole file)."""

FLIP_MARKER = "significance changes"
"""Text in a ``new`` row's note that marks a conclusion changing under modern methods."""

LINE_CHARS = 170
"""A finding's note is cut (at a word) to this many characters; the linked row has it all."""

_ORDER = ("firm", "conditional", "discrepant", "deviates", "flips")
_HEADINGS = {"firm": "Printed numbers that cannot all be true",
             "conditional": "Contradictions that rest on an unstated assumption",
             "discrepant": "Re-derived results that differ from the printed ones",
             "deviates": "Analyses that break the paper's own stated method",
             "flips": "Conclusions that change under modern methods"}

_SUMMARY_CSS = """
.mk-summary { border: 1px solid #ccc; border-left: 4px solid #444; padding: 0.6em 1em;
  margin: 0.5em 0 1.2em; background: #fcfcfc; font-size: 14px; line-height: 1.45; }
.mk-summary h2 { margin: 0.1em 0 0.4em; font-size: 1.35em; }
.mk-summary h3 { margin: 0.8em 0 0.2em; font-size: 1.05em; }
.mk-summary p { margin: 0.3em 0; }
.mk-summary ul { margin: 0.2em 0; padding-left: 1.3em; }
.mk-summary li { margin: 0.15em 0; }
.mk-summary .mk-top { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }
.mk-summary .mk-top > div { flex: 1 1 28em; min-width: 0; }
.mk-summary svg { flex: 0 0 auto; }
"""


def load_review_yaml(review: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The dossier's ``review.yaml``: a mapping as is, a path, or a review id (``data/<id>``).

    Raises
    ------
    ValueError
        The file is missing, is not a mapping, or lacks one of :data:`REVIEW_KEYS`.
    """
    if isinstance(review, Mapping):
        meta, where = dict(review), "review"
    else:
        path = Path(review)
        if path.suffix not in (".yaml", ".yml"):
            from metakit.workbook.data import review_dir
            path = review_dir(str(review)) / "review.yaml"
        where = str(path)
        if not path.is_file():
            raise ValueError(f"review: {where} does not exist")
        meta = load_yaml(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError(f"review: {where} is not a mapping of keys to values")
    missing = [key for key in REVIEW_KEYS if is_missing(meta.get(key))]
    if missing:
        raise ValueError(f"review: {where} lacks {missing[0]!r} (needs {', '.join(REVIEW_KEYS)})")
    return meta


def _records(results: Any) -> list[dict[str, Any]]:
    frame = results.frame() if hasattr(results, "frame") and callable(results.frame) else results
    if not hasattr(frame, "to_dict"):
        raise ValueError("results: expected a ResultsTable or a DataFrame of results.csv")
    missing = [c for c in ("analysis_id", "verdict") if c not in frame.columns]
    if missing:
        raise ValueError(f"results: no column {missing[0]!r} (the results.csv contract)")
    return frame.reset_index(drop=True).to_dict("records")


def kind(record: Mapping[str, Any]) -> str | None:
    """Which list of findings a results row belongs to (``firm`` ... ``flips``), else ``None``."""
    verdict = record.get("verdict")
    if verdict == "inconsistent":
        return "firm" if is_missing(record.get("assumption")) else "conditional"
    if verdict in ("discrepant", "deviates"):
        return str(verdict)
    if verdict == "new" and FLIP_MARKER in text(record.get("note")).lower():
        return "flips"
    return None


def _numbers(record: Mapping[str, Any]) -> str:
    printed = [text(record.get(c)) for c in ("published_estimate", "published_ci_low",
                                             "published_ci_high")]
    parts = []
    if printed[0]:
        ci = f" ({printed[1]} to {printed[2]})" if printed[1] and printed[2] else ""
        parts.append(f"printed {printed[0]}{ci}")
    if not is_missing(record.get("estimate")):
        digits = decimals_of(printed[0]) if printed[0] else None
        digits = 2 if digits is None else digits
        est = number(float(record["estimate"]), digits)
        bounds = [record.get("ci_low"), record.get("ci_high")]
        ci = (f" ({number(float(bounds[0]), digits)} to {number(float(bounds[1]), digits)})"
              if not any(is_missing(b) for b in bounds) else "")
        parts.append(f"{'re-derived' if printed[0] else 'estimate'} {est}{ci}")
    return "; ".join(parts)


def _shorten(note: str, limit: int = LINE_CHARS) -> str:
    if len(note) <= limit:
        return note
    cut = note.rfind(" ", 0, limit)
    return note[:cut if cut > 0 else limit].rstrip(" ,;:") + " …"


def rank(records: Sequence[Mapping[str, Any]]) -> list[int]:
    """Positions of the rows that are findings, most important first (firm contradictions,
    conditional ones, discrepancies, deviations, significance flips; then table order)."""
    kinds = [kind(record) for record in records]
    return [i for _, i in sorted((_ORDER.index(k), i) for i, k in enumerate(kinds)
                                 if k is not None)]


def finding_line(record: Mapping[str, Any], href: str, chars: int = LINE_CHARS) -> str:
    """One finding as an HTML list item: badge, what, numbers, the note's start, a link to
    ``href`` (its results-table row); the note is cut at a word to ``chars`` characters."""
    what = text(record.get("outcome")) or text(record.get("analysis_id"))
    if not is_missing(record.get("subgroup")) and text(record["subgroup"]) != "overall":
        what += f", {text(record['subgroup'])}"
    numbers = _numbers(record)
    note = _shorten(text(record.get("note")), chars)
    assumption = text(record.get("assumption"))
    pieces = [verdict_badge(record.get("verdict"), assumption),
              f"<strong>{html.escape(what)}</strong>"]
    if numbers:
        pieces.append(html.escape(numbers))
    line = " ".join(pieces[:2]) + (f": {pieces[2]}" if len(pieces) > 2 else "")
    if note:
        line += f". {html.escape(note)}"
    if assumption:
        line += f" <em>Assumes: {html.escape(_shorten(assumption, 120))}.</em>"
    return f'<li>{line} <a href="{html.escape(href)}">row</a></li>'


def verdict_chart(counts: Mapping[str, int], width: int = 360) -> str:
    """The verdict counts (:func:`~metakit.workbook.contract.tally`) as an inline SVG bar chart."""
    row, label_w, count_w = 18, 176, 34
    top = max(max(counts.values(), default=0), 1)
    bar_w = width - label_w - count_w
    height = row * len(counts) + 4
    described = ", ".join(f"{TALLY[key]} {n}" for key, n in counts.items())
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="Verdict counts: '
             f'{html.escape(described)}" font-family="system-ui, sans-serif" font-size="12">',
             f"<title>Verdict counts: {html.escape(described)}</title>"]
    for i, (key, n) in enumerate(counts.items()):
        verdict = "inconsistent" if key in ("firm", "conditional") else key
        background, ink = VERDICT_COLOURS[verdict]
        y = 2 + i * row
        length = 0 if n == 0 else max(2.0, bar_w * n / top)
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" '
                     f'fill="#222">{html.escape(TALLY[key])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row - 5}" '
                     f'fill="{background}" stroke="{ink}" stroke-width="0.8"/>')
        parts.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 12}" fill="#222">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _scope(counts: Mapping[str, int]) -> str:
    rederived = counts["reproduced"] + counts["discrepant"]
    audited = counts["consistent"] + counts["firm"] + counts["conditional"] + counts["deviates"]
    printed = rederived + audited + counts["not_reproducible"]
    contradictions = counts["firm"] + counts["conditional"]
    return (
        f"<p>Of <strong>{printed}</strong> printed results, <strong>{rederived}</strong> could "
        f"be re-derived from study-level data ({counts['reproduced']} reproduced, "
        f"{counts['discrepant']} discrepant); <strong>{audited}</strong> could only be audited "
        f"against the other numbers printed with them ({counts['consistent']} consistent, "
        f"{contradictions} inconsistent, {counts['deviates']} deviating from the stated "
        f"method); {counts['not_reproducible']} could be neither. This report adds "
        f"{counts['new']} analyses of its own.</p>")


def findings(results: Any, review: str | Path | Mapping[str, Any], *, limit: int = 12) -> Table:
    """The findings summary of one review, for the first cell of its report.

    Parameters
    ----------
    results : ResultsTable or pandas.DataFrame
        The results table (``results.csv`` columns; at least ``analysis_id`` and ``verdict``).
    review : str, path or mapping
        The review's ``review.yaml`` (a review id reads ``data/<id>/review.yaml``), with keys
        :data:`REVIEW_KEYS`.
    limit : int, default 12
        Most findings listed; the rest are counted, and all are in the results table.

    Returns
    -------
    metakit.workbook.format.Table
        HTML (a ``<section id="findings">``) that shows itself in notebooks and reports.

    Raises
    ------
    ValueError
        Results without the contract's columns or with an unknown verdict, or an incomplete
        ``review.yaml``.
    """
    meta = load_review_yaml(review)
    records = _records(results)
    counts = tally(records)
    anchors = anchor_ids(r.get("analysis_id") for r in records)
    ranked = rank(records)
    doi = text(meta.get("doi"))
    link = (f' <a href="https://doi.org/{html.escape(doi)}">doi:{html.escape(doi)}</a>.'
            if doi else "")
    described = "; ".join(html.escape(text(meta.get(key))) for key in ("studies", "software")
                          if not is_missing(meta.get(key)))
    paper = (f"<p>{html.escape(text(meta['citation']))}{link} "
             f"{html.escape(text(meta['design']).capitalize())}"
             f"{'; ' + described if described else ''}.</p>")
    sections, shown, current = [], 0, None
    for i in ranked[:limit]:
        if kind(records[i]) != current:
            if current is not None:
                sections.append("</ul>")
            current = kind(records[i])
            sections.append(f"<h3>{_HEADINGS[current]}</h3><ul>")
        sections.append(finding_line(records[i], f"#{anchors[i]}"))
        shown += 1
    if sections:
        sections.append("</ul>")
    rest = len(ranked) - shown
    if rest:
        sections.append(f"<p>… and {rest} more in the results table.</p>")
    if not ranked:
        sections.append("<p>No contradiction, discrepancy or deviation was found.</p>")
    body = (f'<style>{CSS}{_SUMMARY_CSS}</style><section id="findings" class="mk-summary">'
            f'<h2 id="findings-summary">Findings: {html.escape(text(meta["title"]))}</h2>'
            f'<div class="mk-top"><div>{paper}{_scope(counts)}</div>'
            f"{verdict_chart(counts)}</div>{''.join(sections)}</section>")
    return Table(body)


__all__ = ["FLIP_MARKER", "REVIEW_KEYS", "finding_line", "findings", "kind", "load_review_yaml",
           "rank", "verdict_chart"]
