"""The table of audit checks, contradictions first (reports render it through
:func:`metakit.workbook.report.checks_table`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from metakit.audit._core import VERDICTS, Check, fmt

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("label", "name", "inputs", "recomputed", "verdict", "explanation")


def audit_table(checks: Iterable[Check]) -> pd.DataFrame:
    """Collect checks into a table, contradictions first.

    Parameters
    ----------
    checks : iterable of Check
        Results of the :mod:`metakit.audit` checks.

    Returns
    -------
    pandas.DataFrame
        Columns ``label, name, inputs, recomputed, verdict, explanation``; ``inputs`` reads
        ``key = value`` pairs as printed and ``recomputed`` the recomputed interval as text.
        Rows are ordered ``inconsistent``, ``not_checkable``, ``consistent``, keeping the given
        order within a verdict.

    Raises
    ------
    ValueError
        If an element of ``checks`` is not a :class:`Check`.
    """
    records = []
    for i, check in enumerate(checks):
        if not isinstance(check, Check):
            raise ValueError(f"checks: element {i} is {type(check).__name__}, not a Check")
        records.append({
            "label": check.label,
            "name": check.name,
            "inputs": "; ".join(f"{key} = {value}" for key, value in check.inputs.items()),
            "recomputed": ("" if check.recomputed is None else
                           f"{fmt(check.recomputed[0], 4)} to {fmt(check.recomputed[1], 4)}"),
            "verdict": check.verdict,
            "explanation": check.explanation,
        })
    import pandas as pd

    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    order = table["verdict"].map({verdict: i for i, verdict in enumerate(VERDICTS)})
    return table.iloc[order.argsort(kind="stable")].reset_index(drop=True)
