"""The results-table contract: its columns, and the verdict vocabulary (one word, one meaning).

This module is the single source of the columns of ``results.csv``, the verdicts, their order
and their one-line definitions; reports, the index, the README and the results-table validation
all read them from here. It imports nothing heavy, so the build can use it without pandas.

A published result gets exactly one verdict:

- re-derived from study-level data: ``reproduced`` (estimate and both CI bounds round to the
  printed values) or ``discrepant`` (they do not);
- not re-derivable, checked against the other numbers printed with it: ``inconsistent`` (the
  printed numbers cannot all be true; the ``assumption`` column names the assumption the
  contradiction rests on, empty when it is firm), ``deviates`` (the numbers can all be true, but
  the analysis breaks the paper's own stated method) or ``consistent`` (every check that could
  fail passed, at least one);
- ``not_reproducible``: nothing could be re-derived or checked;
- ``new``: an analysis the paper did not report.

A result that fails an arithmetic check and also breaks a stated rule is ``inconsistent``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

COLUMNS: tuple[str, ...] = (
    "review", "analysis_id", "outcome", "analysis", "subgroup", "measure", "model", "k",
    "estimate", "ci_low", "ci_high", "p_value", "i2", "tau2", "q", "q_df", "q_pval",
    "published_estimate", "published_ci_low", "published_ci_high", "published_source",
    "verdict", "note", "assumption",
)
"""Columns of ``results.csv``, in order."""

VERDICTS: dict[str, str] = {
    "reproduced": "re-derived from study-level data; estimate and both CI bounds round to the "
                  "printed values",
    "discrepant": "re-derived from study-level data; the result does not round to the printed "
                  "values",
    "consistent": "not re-derivable; every check of the printed numbers that could fail passed",
    "inconsistent": "the printed numbers cannot all be true (conditional: only under an "
                    "assumption the paper does not state, which is named)",
    "deviates": "the numbers can be true, but the analysis breaks the paper's own stated method",
    "not_reproducible": "nothing could be re-derived or checked; the note says what is missing",
    "new": "an analysis the paper did not report (robustness re-runs, partial re-derivations)",
}
"""Verdict -> one-line definition, in the order tables and the index show them."""

SEVERITY: tuple[str, ...] = ("inconsistent", "discrepant", "deviates", "not_reproducible",
                             "consistent", "reproduced", "new")
"""Order in which findings are listed: contradictions first."""

LABELS: dict[str, str] = {verdict: verdict.replace("_", " ") for verdict in VERDICTS}
"""Verdict -> the words a reader sees."""

TALLY: dict[str, str] = {
    "reproduced": "reproduced", "discrepant": "discrepant", "consistent": "consistent",
    "firm": "inconsistent (firm)", "conditional": "inconsistent (conditional)",
    "deviates": "deviates", "not_reproducible": "not reproducible", "new": "new",
}
"""Keys of :func:`tally`, in order, with their column headings: the verdicts, with
``inconsistent`` split into firm contradictions and those that rest on a stated assumption."""


def tally(rows: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """Count results-table rows (mappings with ``verdict`` and ``assumption``) by :data:`TALLY`.

    Every count table (a report's, the index's and the README's) is computed by this function
    from ``results.csv``, so the three always agree.
    """
    counts = dict.fromkeys(TALLY, 0)
    for row in rows:
        verdict = str(row.get("verdict") or "")
        if verdict == "inconsistent":
            assumption = row.get("assumption")
            verdict = "conditional" if assumption not in (None, "") and assumption == assumption \
                else "firm"
        if verdict not in counts:
            raise ValueError(f"tally: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        counts[verdict] += 1
    return counts


def check_verdict(verdict: object, assumption: object = "", *, where: str = "row") -> str:
    """Validate one verdict (and its assumption) and return it.

    Raises
    ------
    ValueError
        If ``verdict`` is not in :data:`VERDICTS`, or an ``assumption`` is given for a verdict
        other than ``inconsistent``; the message starts with ``where``.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"{where}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    if assumption not in (None, "") and verdict != "inconsistent":
        raise ValueError(f"{where}: an assumption ({str(assumption)[:60]!r}) is only recorded "
                         f"for an inconsistent result, not for {verdict!r}")
    return str(verdict)
