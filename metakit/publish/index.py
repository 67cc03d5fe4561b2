"""``index.html``: the front page of the workbook, one row per review.

Written in the build's host process from the build records, each review's ``results.csv`` and its
``data/<review>/review.yaml``, with the standard library and PyYAML only (no pandas, no scipy).
Counts are :func:`metakit.workbook.contract.tally` of ``results.csv`` (firm and conditional
contradictions apart), the top finding is the first of the report's findings summary
(:func:`metakit.workbook.summary.rank`), and every verdict is defined on the page from
:data:`metakit.workbook.contract.VERDICTS`.
"""

from __future__ import annotations

import csv
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from metakit.publish.report_html import report_names
from metakit.workbook.contract import TALLY, VERDICTS, tally
from metakit.workbook.format import CSS, tally_badge
from metakit.workbook.summary import finding_line, load_review_yaml, rank

if TYPE_CHECKING:
    from metakit.publish.build import Outcome

STATUS_LABELS = {"ok": "ok", "not_implemented": "not yet implemented", "failed": "failed",
                 "not_built": "not built"}

CONTRACTS = "CONTRACTS.md"
"""The repository's contracts document (results table, verdicts), linked when it exists."""

_INDEX_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #222; max-width: 1320px; }
h1 { margin: 0 0 0.3em; }
p.mk-lead { max-width: 60em; line-height: 1.45; }
table.mk-index { border-collapse: collapse; width: 100%; font-size: 14px; }
table.mk-index th, table.mk-index td { padding: 5px 7px; border-bottom: 1px solid #ddd;
  text-align: left; vertical-align: top; }
table.mk-index thead th { border-bottom: 2px solid #555; vertical-align: bottom; }
table.mk-index th.count { width: 4.6em; padding: 5px 3px; }
table.mk-index th .mk-verdict { white-space: normal; font-size: 80%; }
table.mk-index td.review { width: 13em; }
table.mk-index td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.mk-index td.finding { width: 36%; font-size: 13px; line-height: 1.4; }
table.mk-index td.status { width: 8em; }
table.mk-index td.finding ul { margin: 0; padding: 0; list-style: none; }
table.mk-index td.links { white-space: nowrap; }
.mk-slug { color: #666; font-size: 90%; }
.mk-when { color: #666; font-size: 85%; white-space: nowrap; }
.status-ok { color: #176317; font-weight: bold; }
.status-failed { color: #b00020; font-weight: bold; }
.status-not_implemented, .status-not_built { color: #8a6d00; }
pre { margin: 0.3em 0 0; font-size: 85%; white-space: pre-wrap; max-width: 48em; }
dl.mk-verdicts { display: grid; grid-template-columns: max-content 1fr; gap: 0.3em 1em;
  max-width: 70em; }
dl.mk-verdicts dd { margin: 0; }
footer { margin-top: 2em; color: #555; font-size: 90%; }
"""

_ABOUT = (
    "metakit re-checks published meta-analyses. Where a paper's study-level data survive, each "
    "pooled result is <em>re-derived</em> with the authors' own model; every other printed "
    "number is <em>audited</em>: can it be true together with the numbers printed beside it, "
    "given their rounding? Each report then re-runs the analyses with modern methods. Every "
    "report opens with its findings; the table counts each review's results by verdict.")


def read_results(path: Path) -> list[dict[str, str]]:
    """Rows of a ``results.csv`` as text (``[]`` when the file is missing)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _title(root: Path, review: str) -> str:
    try:
        return str(load_review_yaml(root / "data" / review / "review.yaml")["title"])
    except (ValueError, OSError):
        return review


def _link(href: str, label: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(label)}</a>'


def _index_row(review: str, record: Outcome | None, out: Path, root: Path) -> str:
    status = record.status if record else "not_built"
    rows = read_results(out / review / "results.csv")
    counts = tally(rows) if rows else (record.counts if record and record.counts else {})
    links = [_link(f"{review}/{name}", "with code" if name.endswith("-with-code.html")
                   else "report")
             for name in report_names(review, True) if (out / review / name).is_file()]
    if rows:
        links.append(_link(f"{review}/results.csv", "results.csv"))
    data = root / "data" / review
    if data.is_dir():
        links.append(_link(Path(os.path.relpath(data, out)).as_posix() + "/", "data"))
    prefix = "last good: " if links and status == "failed" else ""
    when = ""
    if record:
        when = (f'<br><span class="mk-when">{record.seconds:.1f} s, '
                f'{html.escape(record.finished[:16].replace("T", " "))}</span>')
    top = rank(rows)[:1]
    finding = ""
    if top:
        href = f"{review}/{review}.html#result-{rows[top[0]]['analysis_id']}"
        finding = f"<ul>{finding_line(rows[top[0]], href, chars=110)}</ul>"
    elif rows:
        finding = "no contradiction, discrepancy or deviation"
    error = f"<pre>{html.escape(record.error)}</pre>" if record and record.error else ""
    cells = [
        f'<td class="review"><strong>{html.escape(_title(root, review))}</strong><br>'
        f'<span class="mk-slug">{html.escape(review)}</span></td>',
        f'<td class="status"><span class="status-{status}">{STATUS_LABELS[status]}</span>'
        f"{when}</td>",
        *(f'<td class="n">{counts.get(key, "")}</td>' for key in TALLY),
        f'<td class="finding">{finding}{error}</td>',
        f'<td class="links">{prefix}{"<br>".join(links)}</td>',
    ]
    return f'<tr id="review-{html.escape(review)}">{"".join(cells)}</tr>'


def verdict_definitions() -> str:
    """Every verdict with its badge and its one-line definition, from the contract."""
    items = []
    for verdict, definition in VERDICTS.items():
        if verdict == "inconsistent":
            badges = f"{tally_badge('firm')} {tally_badge('conditional')}"
        else:
            badges = tally_badge(verdict)
        items.append(f"<dt>{badges}</dt><dd>{html.escape(definition)}</dd>")
    return f'<dl class="mk-verdicts">{"".join(items)}</dl>'


def index_html(reviews: Sequence[str], records: Mapping[str, Outcome | None], out: Path,
               commit: str | None, written: str, *, root: Path) -> str:
    """The front page: what the project is, one row per review of ``reviews``, the verdicts.

    Parameters
    ----------
    reviews : sequence of str
        Review ids, in the order to list them.
    records : mapping
        Review -> its last build record (``None`` when never built).
    out : Path
        The output folder (``index.html`` is written there; links are relative to it).
    commit : str or None
        Git commit of the build, shown once in the footer.
    written : str
        Time the index was written.
    root : Path
        Project root with ``data/<review>/review.yaml`` and ``CONTRACTS.md``.
    """
    rows = "\n".join(_index_row(review, records.get(review), out, root) for review in reviews)
    heads = "".join(
        [f"<th>{h}</th>" for h in ("review", "status")]
        + [f'<th class="count">{tally_badge(key)}</th>' for key in TALLY]
        + ["<th>top finding</th>", "<th>files</th>"])
    contracts = ""
    if (root / CONTRACTS).is_file():
        href = Path(os.path.relpath(root / CONTRACTS, out)).as_posix()
        contracts = f" The full rules are in {_link(href, CONTRACTS)}."
    commit = commit or "not a git checkout"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>metakit: where each review stands</title>"
        f"<style>{CSS}{_INDEX_CSS}</style></head><body>"
        "<h1>metakit: where each review stands</h1>"
        f'<p class="mk-lead">{_ABOUT}</p>'
        f'<table class="mk-index"><thead><tr>{heads}</tr></thead><tbody>\n{rows}\n'
        "</tbody></table>"
        "<h2>What the verdicts mean</h2>"
        "<p>Counts are rows of each review's <code>results.csv</code>. A contradiction is "
        "<em>firm</em> when it needs no assumption, <em>conditional</em> when it holds only "
        f"under an assumption the paper does not state (the row names it).{contracts}</p>"
        f"{verdict_definitions()}"
        "<p>A review is <em>ok</em> when its notebook ran and wrote a valid results table; "
        "<em>not yet implemented</em> reviews have a placeholder notebook.</p>"
        f"<footer>Index written {html.escape(written)} from commit "
        f"<code>{html.escape(commit)}</code>.</footer>"
        "</body></html>\n"
    )

