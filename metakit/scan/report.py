"""What a scan writes: ``scan.csv``, ``summary.csv``, a draft ``published.csv`` and ``scan.html``.

- ``scan.csv``: one row per extracted result (:data:`metakit.scan.runner.COLUMNS`);
- ``summary.csv``: one row per paper (results found, read, checks run, contradictions, the
  reason a file could not be read);
- a draft ``published.csv`` per paper in the dossier schema (:data:`PUBLISHED_COLUMNS`), one row
  per distinct result (a result printed in the abstract and again in the results is one row
  with both sources), so that a reviewer can correct it and build a workbook from it;
- ``scan.html``: self-contained, contradictions first, each quoting its sentence (for a folder,
  consistent rows are counted, not listed).

Every file is written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from metakit.publish.build import atomic_write
from metakit.scan.runner import COLUMNS, STATISTICS, FileScan

PUBLISHED_COLUMNS: tuple[str, ...] = (
    "analysis_id", "outcome", "measure", "estimate", "ci_low", "ci_high", "i2", "k", "source",
    "subgroup", "model", "n", "p_value", "z", "q", "q_df", "q_pval", "tau2", "ci_level", "note",
)
"""Columns of the draft ``published.csv`` (the dossier schema of ``data/<review>/``)."""
SUMMARY_COLUMNS: tuple[str, ...] = (
    "file", "results", "read", "unread", "checks", "inconsistent", "conditional", "deviates",
    "consistent", "seconds", "error",
)
"""Columns of ``summary.csv``."""


def _csv(rows: Iterable[dict[str, object]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_scan_csv(scans: Sequence[FileScan], path: Path) -> None:
    """``scan.csv`` of every paper's rows, in input order."""
    atomic_write(path, _csv((row for scan in scans for row in scan.rows), COLUMNS))


def write_summary_csv(scans: Sequence[FileScan], path: Path) -> None:
    """``summary.csv``: one row per paper, with the reason a file could not be read."""
    rows = [{"file": s.file, **(s.counts if not s.error else {}), "seconds": f"{s.seconds:.3f}",
             "error": s.error} for s in scans]
    atomic_write(path, _csv(rows, SUMMARY_COLUMNS))


def _slug(text: str) -> str:
    words = re.sub(r"^[\d.\s]+", "", text.split(" > ")[-1]).lower()
    return "_".join(re.findall(r"[a-z0-9]+", words))[:40].strip("_") or "result"


def draft_published(rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The draft ``published.csv`` rows of one paper's scan rows (see the module docstring).

    Rows that print the same measure, estimate and interval are merged: their sources are
    joined, and a statistic printed at one place only is kept; one printed differently at two
    places is noted.
    """
    merged: dict[tuple[str, ...], dict[str, str]] = {}
    order: list[dict[str, str]] = []
    for row in rows:
        key = tuple(row[k] for k in ("measure", "estimate", "ci_low", "ci_high"))
        source = f"{row['section'] or 'text'} (offset {row['offset']})"
        if row["verdict"] != "unread" and all(key[1:]) and key in merged:
            target = merged[key]
            target["source"] += f"; {source}"
            for name in STATISTICS:
                mine, theirs = target.get(name, ""), row[name]
                if theirs and not mine:
                    target[name] = theirs
                elif theirs and mine != theirs:
                    target["note"] = "; ".join(filter(None, [
                        target["note"], f"{name} printed as {theirs} at offset {row['offset']}"]))
            continue
        draft = {name: row[name] for name in STATISTICS}
        draft.update(outcome=row["section"].split(" > ")[-1], source=source, subgroup="",
                     note="; ".join(filter(None, [
                         "unread: " + row["note"] if row["verdict"] == "unread" else "",
                         f"scan verdict: {row['verdict']}" if row["verdict"] != "unread" else "",
                         f"quote: {row['quote'][:300]}"])))
        order.append(draft)
        if row["verdict"] != "unread" and all(key[1:]):
            merged[key] = draft
    seen: dict[str, int] = {}
    for draft in order:
        stem = f"{_slug(draft['outcome'])}_{draft['measure'].lower() or 'unread'}"
        seen[stem] = seen.get(stem, 0) + 1
        draft["analysis_id"] = f"{stem}_{seen[stem]}"
    return order


def write_published_csv(scan: FileScan, path: Path) -> None:
    """The draft ``published.csv`` of one paper."""
    atomic_write(path, _csv(draft_published(scan.rows), PUBLISHED_COLUMNS))


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 80em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; }
td.numbers { min-width: 11em; max-width: 16em; font: 90% ui-monospace, monospace; }
blockquote { margin: 0; color: #444; font-style: italic; }
td.quote { min-width: 24em; max-width: 34em; }
td.why { min-width: 18em; }
.inconsistent { color: #b00020; font-weight: bold; }
.conditional { color: #c25e00; font-weight: bold; }
.deviates { color: #8a6d00; font-weight: bold; }
.consistent { color: #176317; }
.unread, .not_reproducible { color: #666; }
.error { color: #b00020; }
small { color: #666; }
"""
_GROUPS = (
    ("inconsistent", "Contradictions: the printed numbers cannot all be true"),
    ("conditional", "Contradictions that rest on an assumption the paper does not state"),
    ("deviates", "Deviations from the paper's stated method"),
    ("unread", "Unread: measure or interval could not be read (not checked)"),
    ("not_reproducible", "Read, but nothing the printed numbers allow could be checked"),
    ("consistent", "Consistent: every check that could fail passed"),
)


_LISTED_FOR_ONE_PAPER = frozenset({"not_reproducible", "consistent"})


def _group(row: dict[str, str]) -> str:
    if row["verdict"] == "inconsistent" and row["assumption"]:
        return "conditional"
    return row["verdict"]


def _numbers(row: dict[str, str]) -> str:
    parts = [f"{row['measure'] or '?'} {row['estimate'] or '?'}"]
    if row["ci_low"] or row["ci_high"]:
        level = f"{row['ci_level']}% " if row["ci_level"] else ""
        parts.append(f"({level}CI {row['ci_low']} to {row['ci_high']})")
    for name, label in (("p_value", "p"), ("z", "z"), ("i2", "I²"), ("q", "Q"), ("q_df", "df"),
                        ("q_pval", "p(Q)"), ("tau2", "τ²"), ("k", "k"), ("model", "model")):
        if row[name]:
            parts.append(f"{label} {row[name]}")
    return " ".join(parts)


def scan_html(scans: Sequence[FileScan], *, title: str = "metakit scan") -> str:
    """The self-contained report of a scan (see the module docstring)."""
    esc = html.escape
    failed = [s for s in scans if s.error]
    body = [f"<h1>{esc(title)}</h1>",
            "<p>Every pooled result printed in the text, checked against the other numbers "
            "printed with it (CI symmetry on the measure's scale, p or z against the CI, I² "
            "against Q or its p). Numbers are quoted as printed; offsets are character "
            "offsets in the file's text.</p>"]
    heads = "".join(f"<th>{h}</th>" for h in ("paper", "results", "read", "unread",
                                              "checks run", "contradictions", "of them conditional",
                                              "deviations", "consistent"))
    lines = []
    for s in scans:
        if s.error:
            lines.append(f'<tr><td>{esc(s.file)}</td><td class="error" colspan="8">'
                         f"could not be read: {esc(s.error)}</td></tr>")
            continue
        c = s.counts
        lines.append(f"<tr><td>{esc(s.file)}</td>" + "".join(
            f'<td class="n">{c[k]}</td>' for k in ("results", "read", "unread", "checks",
                                                    "inconsistent", "conditional", "deviates",
                                                    "consistent")) + "</tr>")
    body.append(f"<table><thead><tr>{heads}</tr></thead><tbody>{''.join(lines)}</tbody>"
                "</table>")
    if failed:
        body.append(f'<p class="error">{len(failed)} file(s) could not be read.</p>')
    rows = [row for s in scans for row in s.rows]
    for group, heading in _GROUPS:
        members = [r for r in rows if _group(r) == group]
        if not members:
            continue
        body.append(f'<h2 class="{group}">{esc(heading)} ({len(members)})</h2>')
        if len(scans) > 1 and group in _LISTED_FOR_ONE_PAPER:
            body.append("<p>Listed in <code>scan.csv</code> (a folder's report lists only the "
                        "rows that need a reader's eye).</p>")
            continue
        cells = []
        for r in members:
            where = f"{esc(r['file'])}<br><small>{esc(r['section'])}, offset {r['offset']}</small>"
            assumes = f"<br><small>assumes: {esc(r['assumption'])}</small>" \
                if r["assumption"] else ""
            cells.append(
                f"<tr><td>{where}</td><td class=\"quote\"><blockquote>{esc(r['quote'])}"
                "</blockquote></td>"
                f'<td class="numbers">{esc(_numbers(r))}</td>'
                f'<td><span class="{group}">{esc(r["verdict"])}</span>{assumes}'
                f"</td><td class=\"why\">{esc(r['note'])}</td></tr>")
        body.append("<table><thead><tr><th>where</th><th>sentence</th><th>as read</th>"
                    f"<th>verdict</th><th>why</th></tr></thead><tbody>{''.join(cells)}</tbody>"
                    "</table>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_html(scans: Sequence[FileScan], path: Path, *, title: str = "metakit scan") -> None:
    """``scan.html`` (see :func:`scan_html`)."""
    atomic_write(path, scan_html(scans, title=title))


def write_outputs(scans: Sequence[FileScan], out: Path) -> list[Path]:
    """Every output of a scan into ``out``; returns the files written.

    One paper: ``scan.csv``, ``published.csv``, ``scan.html`` and ``summary.csv``; several:
    ``scan.csv``, ``summary.csv``, ``scan.html`` and ``published/<paper>.csv`` for each paper
    that could be read.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "scan.csv", out / "summary.csv", out / "scan.html"]
    write_scan_csv(scans, written[0])
    write_summary_csv(scans, written[1])
    title = f"metakit scan of {Path(scans[0].file).name}" if len(scans) == 1 else \
        f"metakit scan of {len(scans)} papers"
    write_html(scans, written[2], title=title)
    readable = [s for s in scans if not s.error]
    if len(scans) == 1 and readable:
        written.append(out / "published.csv")
        write_published_csv(readable[0], written[-1])
    elif readable:
        names: dict[str, int] = {}
        for scan in readable:
            stem = Path(scan.file).stem
            names[stem] = names.get(stem, 0) + 1
            name = stem if names[stem] == 1 else f"{stem}-{names[stem]}"
            written.append(out / "published" / f"{name}.csv")
            write_published_csv(scan, written[-1])
    return written
