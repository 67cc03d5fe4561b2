"""``index.html``: the scoreboard of every review, from the records of the last builds."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from metakit.publish.report_html import report_names
from metakit.workbook.contract import TALLY

if TYPE_CHECKING:
    from pathlib import Path

    from metakit.publish.build import Outcome

STATUS_LABELS = {"ok": "ok", "not_implemented": "not yet implemented", "failed": "failed",
                 "not_built": "not built"}


_INDEX_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top;
  white-space: nowrap; }
td.error { white-space: normal; }
td.n { text-align: right; }
.status-ok { color: #176317; font-weight: bold; }
.status-failed { color: #b00020; font-weight: bold; }
.status-not_implemented, .status-not_built { color: #8a6d00; }
pre { margin: 0; font-size: 85%; white-space: pre-wrap; max-width: 60em; }
"""


def _index_row(review: str, record: Outcome | None, out: Path) -> str:
    status = record.status if record else "not_built"
    counts = record.counts if record and record.status == "ok" else {}
    links = [f'<a href="{html.escape(review)}/{html.escape(name)}">'
             f'{"with code" if name.endswith("-with-code.html") else "report"}</a>'
             for name in report_names(review, True) if (out / review / name).is_file()]
    prefix = "last good: " if links and status == "failed" else ""
    built = record.finished[:16].replace("T", " ") if record else ""
    error = f"<pre>{html.escape(record.error)}</pre>" if record and record.error else ""
    cells = [
        f"<td>{html.escape(review)}</td>",
        f'<td class="status-{status}">{STATUS_LABELS[status]}</td>',
        *(f'<td class="n">{counts.get(v, "")}</td>' for v in TALLY),
        f"<td>{prefix}{' · '.join(links)}</td>",
        f'<td class="n">{f"{record.seconds:.1f} s" if record else ""}</td>',
        f"<td>{html.escape(built)}</td>",
        f'<td class="error">{error}</td>',
    ]
    return f'<tr id="review-{html.escape(review)}">{"".join(cells)}</tr>'


def index_html(reviews: Sequence[str], records: Mapping[str, Outcome | None], out: Path,
               commit: str | None, written: str) -> str:
    """The scoreboard: one row per review of ``reviews`` from its build record."""
    rows = "\n".join(_index_row(review, records.get(review), out) for review in reviews)
    heads = "".join(f"<th>{h}</th>" for h in (
        "review", "status", *TALLY.values(), "reports",
        "run time", "built", "error"))
    commit = commit or "not a git checkout"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>metakit reports</title>"
        f"<style>{_INDEX_CSS}</style></head><body>"
        "<h1>metakit: where each review stands</h1>"
        "<p>Counts are rows of each review's <code>results.csv</code> per verdict "
        "(see CONTRACTS.md in the repository, results table). A review is <em>ok</em> when "
        "its notebook ran and "
        "wrote a valid results table; <em>not yet implemented</em> reviews have a placeholder "
        "notebook.</p>"
        f"<table><thead><tr>{heads}</tr></thead><tbody>\n{rows}\n</tbody></table>"
        f"<p>Index written {html.escape(written)} from commit "
        f"<code>{html.escape(commit)}</code>.</p>"
        "</body></html>\n"
    )
