"""Evidence tables: the GRADE summary-of-findings table.

References
----------
Guyatt, G. H., Oxman, A. D., Vist, G. E., et al. (2008). GRADE: an emerging consensus on rating
quality of evidence and strength of recommendations. BMJ, 336, 924-926.
Schünemann, H. J., Higgins, J. P. T., Vist, G. E., et al. (2023). Completing 'Summary of
findings' tables and grading the certainty of the evidence. Cochrane Handbook, chapter 14.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

#: Input columns, in display order, with their headers.
COLUMNS = {
    "outcome": "Outcome",
    "studies": "No. of studies",
    "design": "Study design",
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
    "effect": "Effect (95% CI)",
    "certainty": "Certainty of the evidence (GRADE)",
}
#: GRADE certainty levels and their symbols (filled and open circled plus).
CERTAINTY = {
    "high": "\u2295\u2295\u2295\u2295",
    "moderate": "\u2295\u2295\u2295\u25ef",
    "low": "\u2295\u2295\u25ef\u25ef",
    "very low": "\u2295\u25ef\u25ef\u25ef",
}


def _certainty(value: Any, row: int) -> str:
    word = " ".join(str(value).replace("_", " ").replace("-", " ").strip().lower().split())
    if word not in CERTAINTY:
        raise ValueError(f"certainty: {value!r} in row {row} is not a GRADE level; expected one "
                         f"of {list(CERTAINTY)}")
    return f"{CERTAINTY[word]} {word.capitalize()}"


def grade_frame(rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """The summary-of-findings table as a DataFrame with display headers and symbols.

    Parameters
    ----------
    rows : list of dict or DataFrame
        One entry per outcome with the keys of :data:`COLUMNS` (``outcome, studies, design,
        risk_of_bias, inconsistency, indirectness, imprecision, publication_bias, effect,
        certainty``); further keys (e.g. ``importance``, ``comments``) are kept, after them.

    Returns
    -------
    DataFrame
        Columns renamed to their headers; ``certainty`` as symbols plus the word, e.g.
        ``⊕⊕⊕◯ Moderate``.
    """
    if isinstance(rows, pd.DataFrame):
        frame = rows.reset_index(drop=True).copy()
    else:
        if isinstance(rows, (Mapping, str, bytes)):
            raise ValueError("rows: expected a list of dicts (one per outcome) or a DataFrame")  # noqa: TRY004
        rows = list(rows)
        if any(not isinstance(r, Mapping) for r in rows):
            raise ValueError("rows: every entry must be a dict")
        frame = pd.DataFrame(rows)
    if frame.empty:
        raise ValueError("rows: no outcomes given (empty data)")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"rows: missing column {missing[0]!r}; required {list(COLUMNS)}")
    frame["certainty"] = [_certainty(v, i) for i, v in enumerate(frame["certainty"])]
    extra = [c for c in frame.columns if c not in COLUMNS]
    out = frame[list(COLUMNS) + extra].rename(columns=COLUMNS)
    return out.astype(object).where(out.notna(), "")


def grade_table(rows: Sequence[Mapping[str, Any]] | pd.DataFrame, *,
                caption: str | None = "Summary of findings (GRADE)") -> Any:
    """GRADE summary-of-findings table, through the report formatting layer.

    Parameters
    ----------
    rows : list of dict or DataFrame
        See :func:`grade_frame`. ``certainty`` is one of ``high``, ``moderate``, ``low``,
        ``very low`` (case-insensitive; ``very_low`` accepted).
    caption : str or None, default "Summary of findings (GRADE)"

    Returns
    -------
    metakit.workbook.format.Table
        Every cell is HTML-escaped; no index. ``.to_html()`` gives the table.

    Raises
    ------
    ValueError
        On a missing column or an unknown certainty word (naming it and its row).

    References
    ----------
    Guyatt et al. (2008), BMJ 336:924-926; Cochrane Handbook, chapter 14.
    """
    from metakit.workbook.format import table

    return table(grade_frame(rows), verdict=None, caption=caption or None,
                 notes=("Effect (95% CI)",))
