"""Tables of audit checks for notebooks and reports: contradictions first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from metakit.audit._core import VERDICTS, Check, fmt

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

COLUMNS = ("label", "name", "inputs", "recomputed", "verdict", "explanation")
_COLOURS = {"inconsistent": "#f8d7da", "not_checkable": "#fff3cd", "consistent": "#d1e7dd"}


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
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    order = table["verdict"].map({verdict: i for i, verdict in enumerate(VERDICTS)})
    return table.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def audit_styler(checks: Iterable[Check]) -> Styler:
    """Render :func:`audit_table` as a pandas Styler, each row coloured by its verdict.

    Cell text is HTML-escaped, so printed numbers such as ``<0.001`` display as written.

    Parameters
    ----------
    checks : iterable of Check
        Results of the :mod:`metakit.audit` checks.

    Returns
    -------
    pandas.io.formats.style.Styler
        Red rows for ``inconsistent``, amber for ``not_checkable``, green for ``consistent``.
    """
    table = audit_table(checks)

    def colour(row: pd.Series) -> list[str]:
        return [f"background-color: {_COLOURS[row['verdict']]}"] * len(row)

    return (table.style.apply(colour, axis=1).format(escape="html").hide(axis="index")
            .set_properties(**{"text-align": "left", "vertical-align": "top"}))
