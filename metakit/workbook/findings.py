"""The findings of a review: what a reader should know first, from its results table.

One line per finding, in :data:`metakit.workbook.contract.SEVERITY` order: firm contradictions,
then those that rest on an assumption, discrepancies, deviations from the paper's stated method,
and conclusions that change under modern methods (robustness rows whose note carries
:data:`metakit.workbook.robustness.SIGNIFICANCE_CHANGES`). Each line says what was printed and
what the check or the re-derivation found, with the numbers.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from metakit.workbook.robustness import SIGNIFICANCE_CHANGES

COLUMNS = ("kind", "analysis_id", "outcome", "finding", "assumption")
KINDS = {
    "firm": "contradiction",
    "conditional": "contradiction under an assumption",
    "discrepant": "discrepancy",
    "deviates": "deviation from the stated method",
    "robustness": "conclusion changes under modern methods",
}
"""Kinds of finding, in the order they are listed, with the words a reader sees."""


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _printed(row: pd.Series) -> str:
    estimate = _text(row.get("published_estimate"))
    low, high = _text(row.get("published_ci_low")), _text(row.get("published_ci_high"))
    if not estimate:
        return ""
    return f"{estimate} ({low} to {high})" if low and high else estimate


_CHECK_NAME = re.compile(r"^[a-z0-9_]+: ")


def _first(note: str) -> str:
    """The first failed check's explanation, without its check name (notes join
    ``name: explanation`` parts with '; ')."""
    return _CHECK_NAME.sub("", note.split("; ")[0])


def findings(results: pd.DataFrame) -> pd.DataFrame:
    """The findings of a results table (the ``results.csv`` contract), most important first.

    Parameters
    ----------
    results : DataFrame
        The review's results table.

    Returns
    -------
    DataFrame
        Columns ``kind`` (a key of :data:`KINDS`), ``analysis_id``, ``outcome``, ``finding``
        (one line with its numbers) and ``assumption``.
    """
    lines = []
    for _, row in results.iterrows():
        verdict, note = _text(row["verdict"]), _text(row["note"])
        assumption = _text(row.get("assumption"))
        printed = _printed(row)
        lead = f"printed {printed}: " if printed else ""
        if verdict == "inconsistent":
            kind = "conditional" if assumption else "firm"
            lines.append((kind, row, lead + _first(note)))
        elif verdict == "discrepant":
            derived = "" if pd.isna(row.get("estimate")) else (
                f"re-derived {float(row['estimate']):.4g}"
                + ("" if pd.isna(row.get("ci_low")) else
                   f" ({float(row['ci_low']):.4g} to {float(row['ci_high']):.4g})"))
            lines.append(("discrepant", row, "; ".join(p for p in (lead + derived, note) if p)))
        elif verdict == "deviates":
            lines.append(("deviates", row, lead + note))
        elif verdict == "new" and SIGNIFICANCE_CHANGES in note:
            lines.append(("robustness", row, f"{_text(row['analysis'])}: {note}"))
    order = list(KINDS)
    lines.sort(key=lambda item: order.index(item[0]))
    return pd.DataFrame([(kind, row["analysis_id"], _text(row["outcome"]), text.strip(),
                          _text(row.get("assumption"))) for kind, row, text in lines],
                        columns=list(COLUMNS))
