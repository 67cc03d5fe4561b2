"""Tables that every review notebook shows: its sources, the verdicts and their counts.

Kept here so that the five notebooks present their data and results the same way.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from metakit.audit import Check, audit_table
from metakit.audit.report import COLUMNS as AUDIT_COLUMNS
from metakit.workbook.contract import tally
from metakit.workbook.format import (
    Table,
    anchor_ids,
    decimals_of,
    is_missing,
    number,
    table,
    tally_badge,
    text,
)
from metakit.workbook.results import ResultsTable

def sources(tables: Mapping[str, pd.DataFrame]) -> Table:
    """One row per data file: rows, derived values and the distinct sources its values come from."""
    rows = []
    for name, frame in tables.items():
        cited = sorted({str(s) for s in frame["source"].dropna()})
        derived = int(frame["derivation"].notna().sum()) if "derivation" in frame else 0
        rows.append({"file": f"{name}.csv", "rows": len(frame), "derived values": derived,
                     "sources": "; ".join(cited[:6]) + (" …" if len(cited) > 6 else "")})
    return table(pd.DataFrame(rows), verdict=None)


def verdict_counts(results: ResultsTable | pd.DataFrame) -> Table:
    """Number of results per verdict (:func:`metakit.workbook.contract.tally`: firm and
    conditional contradictions apart), in the contract's order, each verdict as its badge."""
    frame = results.frame() if isinstance(results, ResultsTable) else results
    counts = tally(frame.to_dict("records"))
    shown = pd.DataFrame({"verdict": [tally_badge(key) for key in counts],
                          "results": list(counts.values())})
    return table(shown, verdict=None, html_columns=("verdict",))


def _estimate_text(est: Any, low: Any, high: Any, decimals: int | None) -> str:
    """``est [low, high]`` of re-derived numbers at ``decimals`` (default 2)."""
    if is_missing(est):
        return ""
    digits = 2 if decimals is None else decimals
    bounds = [number(float(v), digits) for v in (low, high) if not is_missing(v)]
    interval = f" [{', '.join(bounds)}]" if len(bounds) == 2 else ""
    return number(float(est), digits) + interval


def _printed_text(est: Any, low: Any, high: Any) -> str:
    """``est [low, high]`` as printed (text kept as it is)."""
    parts = [text(v) for v in (est, low, high)]
    if not parts[0] and not any(parts[1:]):
        return ""
    interval = f" [{parts[1]}, {parts[2]}]" if parts[1] or parts[2] else ""
    return parts[0] + interval


def verdict_table(results: ResultsTable | pd.DataFrame, columns: Sequence[str] | None = None,
                  digits: int | None = None) -> Table:
    """Published beside re-derived, one row per result, verdict first, grouped by outcome.

    Each row is ``verdict | result (analysis, subgroup, model) | k | published as printed |
    re-derived at the printed precision | note`` and has ``id="result-<analysis_id>"``, the
    target of the findings summary's links. Re-derived numbers are rounded to the decimals of
    the printed estimate they answer (``digits``, default 2, where nothing was printed).

    Parameters
    ----------
    results : ResultsTable or DataFrame
        The results table (columns of :data:`metakit.workbook.contract.COLUMNS`).
    columns : sequence of str, optional
        Show these results-table columns instead (verdict first, same formatting).
    digits : int, optional
        Decimals of re-derived values that answer no printed value.
    """
    frame = results.frame() if isinstance(results, ResultsTable) else results
    frame = frame.reset_index(drop=True)
    ids = anchor_ids(frame["analysis_id"])
    order = list(dict.fromkeys(frame["outcome"].fillna("")))
    position = frame["outcome"].fillna("").map({o: i for i, o in enumerate(order)})
    frame = frame.iloc[position.argsort(kind="stable")]
    ids = [ids[i] for i in frame.index]
    if columns is not None:
        keep = [c for c in columns if c in frame.columns]
        extra = [c for c in ("outcome", "verdict", "assumption") if c not in keep]
        return table(frame.loc[:, keep + extra].reset_index(drop=True), group="outcome",
                     row_ids=ids)
    rows = []
    for record in frame.to_dict("records"):
        decimals = decimals_of(record.get("published_estimate"))
        described = [html.escape(text(record.get("analysis_id")))]
        if not is_missing(record.get("subgroup")):
            described.append(html.escape(text(record["subgroup"])))
        details = " · ".join(html.escape(text(record.get(c))) for c in ("analysis", "model")
                             if not is_missing(record.get(c)))
        result = f"<strong>{' · '.join(described)}</strong>"
        if details:
            result += f'<br><span class="mk-sub">{details}</span>'
        note = text(record.get("note"))
        if not is_missing(record.get("assumption")):
            note = f"{note} (assumes: {text(record['assumption'])})".strip()
        rows.append({
            "outcome": text(record.get("outcome")),
            "verdict": record.get("verdict"),
            "assumption": record.get("assumption"),
            "result": result,
            "k": record.get("k"),
            "published": _printed_text(record.get("published_estimate"),
                                       record.get("published_ci_low"),
                                       record.get("published_ci_high")),
            "re-derived": _estimate_text(record.get("estimate"), record.get("ci_low"),
                                         record.get("ci_high"),
                                         decimals if decimals is not None else digits),
            "note": note,
        })
    shown = pd.DataFrame(rows, columns=["outcome", "verdict", "assumption", "result", "k",
                                        "published", "re-derived", "note"])
    shown["k"] = pd.to_numeric(shown["k"], errors="coerce")
    empty = [c for c in ("k", "published", "re-derived", "note") if shown[c].map(is_missing).all()]
    shown = shown.drop(columns=empty)
    return table(shown, group="outcome", row_ids=ids, html_columns=("result",),
                 numeric=("published", "re-derived"))


def checks_table(checks: Iterable[Check]) -> Table:
    """Audit checks (:func:`metakit.audit.audit_table`) through the formatting layer.

    Contradictions first, each verdict a badge in the colour every report uses; cell text is
    escaped (printed numbers such as ``<0.001`` show as written) and long explanations fold into
    ``<details>``.
    """
    frame = audit_table(checks)
    frame["verdict"] = [tally_badge(v) for v in frame["verdict"]]
    shown = frame[["verdict", *(c for c in AUDIT_COLUMNS if c != "verdict")]]
    return table(shown, verdict=None, html_columns=("verdict",), notes=("explanation", "inputs"))
