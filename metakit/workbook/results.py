"""The results table: one row per analysis a notebook computes.

The columns and verdicts are those of :mod:`metakit.workbook.contract`. :func:`verdict` decides
``reproduced`` against ``discrepant`` from the printed precision of the published value;
:class:`ResultsTable` collects rows and writes ``<out>/<review>/results.csv`` atomically.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from metakit.audit import Printed
from metakit.audit._core import is_missing
from metakit.workbook.contract import COLUMNS, check_verdict

if TYPE_CHECKING:
    import pandas as pd



def rounds_to(value: float, printed: str | float | None) -> bool:
    """True when ``value`` is printed as ``printed`` at the printed precision.

    The printed text stands for its rounding interval (``"0.40"`` for [0.395, 0.405], ``"<0.001"``
    for values below 0.001), read by :class:`metakit.audit.Printed`. The interval is closed, so
    a value on a rounding boundary matches either way it may be printed (half up as Stata and
    RevMan, half even as R). Empty or missing text matches nothing.
    """
    if is_missing(printed) or value is None or not math.isfinite(value):
        return False
    interval = Printed.parse(str(printed), name="published value")
    return interval.low <= value <= interval.high


def verdict(estimate: float, ci_low: float, ci_high: float,
            published: tuple[Any, Any, Any]) -> str:
    """``reproduced`` if estimate and both bounds round to the published ones, else ``discrepant``.

    Published values that are empty are not compared (e.g. a rate printed without a CI).
    """
    pairs = [(v, p) for v, p in zip((estimate, ci_low, ci_high), published)
             if not is_missing(p)]
    if not pairs:
        raise ValueError("published: no printed value to compare against")
    return "reproduced" if all(rounds_to(v, p) for v, p in pairs) else "discrepant"


def fit_summary(fit: Any, *, scale: float = 1.0) -> dict[str, Any]:
    """Results-table columns of a fitted model on the scale a paper prints.

    Ratio and proportion estimates are back-transformed (``fit.back_transform()``); ``scale=100``
    turns proportions into percentages.
    """
    natural = fit.back_transform() if getattr(fit, "measure", None) else {
        "estimate": fit.estimate, "ci_low": fit.ci_low, "ci_high": fit.ci_high}
    return {
        "model": getattr(fit, "model_label", getattr(fit, "method", "")), "k": fit.k,
        "estimate": natural["estimate"] * scale, "ci_low": natural["ci_low"] * scale,
        "ci_high": natural["ci_high"] * scale, "p_value": fit.pval, "i2": fit.i2,
        "tau2": fit.tau2, "q": fit.q, "q_df": fit.q_df, "q_pval": fit.q_pval,
    }


def _published(row: Mapping[str, Any]) -> dict[str, Any]:
    def text(key: str) -> Any:
        value = row.get(key)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) \
            else value
    return {"analysis_id": row["analysis_id"], "outcome": text("outcome"),
            "measure": text("measure"), "subgroup": text("subgroup"),
            "published_estimate": text("estimate"), "published_ci_low": text("ci_low"),
            "published_ci_high": text("ci_high"), "published_source": text("source")}


def audit_verdict(checks: Iterable[Any]) -> tuple[str, str]:
    """The verdict of a published result checked only by :mod:`metakit.audit`, and its assumption.

    In order: ``inconsistent`` if an arithmetic check that rests on no assumption fails (firm);
    else ``inconsistent`` with the assumptions named if a check that rests on one fails
    (conditional); else ``deviates`` if a ``rule`` check fails (the numbers can be true but the
    analysis breaks the paper's stated method); else ``consistent`` if at least one check passed
    (checks that could not fail are ``not_checkable`` and do not count); else
    ``not_reproducible``. The assumption is empty unless the verdict is a conditional
    contradiction.
    """
    checks = list(checks)
    failed = [c for c in checks if c.verdict == "inconsistent"]
    arithmetic = [c for c in failed if getattr(c, "kind", "arithmetic") != "rule"]
    if any(not getattr(c, "assumption", "") for c in arithmetic):
        return "inconsistent", ""
    if arithmetic:
        return "inconsistent", "; ".join(dict.fromkeys(c.assumption for c in arithmetic))
    if failed:
        return "deviates", ""
    if any(c.verdict == "consistent" for c in checks):
        return "consistent", ""
    return "not_reproducible", ""


def join_notes(parts: Iterable[str]) -> str:
    """Non-empty note parts, joined by ``"; "``, or by a space after a full stop."""
    joined = ""
    for part in (p.strip() for p in parts if p and p.strip()):
        joined = part if not joined else joined + (" " if joined.endswith(".") else "; ") + part
    return joined


def failure_note(checks: Iterable[Any]) -> str:
    """The explanations of the failed checks, contradictions before rule breaches."""
    failed = [c for c in checks if c.verdict == "inconsistent"]
    failed.sort(key=lambda c: getattr(c, "kind", "arithmetic") == "rule")
    return join_notes(f"{c.name}: {c.explanation}" for c in failed)


@dataclass
class ResultsTable:
    """Rows of the results table of one review, in the order they are added.

    Each ``*_row`` method builds and validates one row without adding it (so a caller can order
    rows before adding them); the method of the same name without ``_row`` adds it and returns
    the verdict.
    """

    review: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def row(self, **row: Any) -> dict[str, Any]:
        """One validated row; unknown column names or verdicts raise ``ValueError``."""
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"results row: unknown column(s) {sorted(unknown)}")
        check_verdict(row.get("verdict"), row.get("assumption", ""),
                      where=f"results row {row.get('analysis_id')!r}")
        return {"review": self.review, **row}

    def add(self, **row: Any) -> None:
        """Add one analysis (see :meth:`row`)."""
        self.rows.append(self.row(**row))

    def compare_row(self, published: Mapping[str, Any], *, analysis: str, note: str = "",
                    checks: Iterable[Any] = (), **values: Any) -> dict[str, Any]:
        """A re-derived result beside its published row.

        ``values`` holds the results-table columns (``estimate``, ``ci_low``, ``ci_high``, and
        usually the output of :func:`fit_summary`). The verdict is ``reproduced`` when every
        printed value is matched at its printed precision, else ``discrepant`` (``note`` should
        say why). ``checks`` are audit checks of the same row (e.g. the stated model rule): a
        reproduced result whose analysis breaks the paper's stated method is ``deviates``, and
        every failed check is added to the note.
        """
        pub = _published(published)
        outcome = verdict(values.get("estimate", math.nan), values.get("ci_low", math.nan),
                          values.get("ci_high", math.nan),
                          (pub["published_estimate"], pub["published_ci_low"],
                           pub["published_ci_high"]))
        checks = list(checks)
        if outcome == "reproduced" and audit_verdict(checks)[0] == "deviates":
            outcome = "deviates"
        note = join_notes((note, failure_note(checks)))
        return self.row(**pub, analysis=analysis, verdict=outcome, note=note, **values)

    def compare(self, published: Mapping[str, Any], *, analysis: str, note: str = "",
                checks: Iterable[Any] = (), **values: Any) -> str:
        """Add :meth:`compare_row`'s row and return its verdict."""
        self.rows.append(self.compare_row(published, analysis=analysis, note=note,
                                          checks=checks, **values))
        return self.rows[-1]["verdict"]

    def compare_p_row(self, published: Mapping[str, Any], p: float, *, analysis: str,
                      note: str = "", **values: Any) -> dict[str, Any]:
        """A re-derived p-value (e.g. of a test of subgroup differences) beside the printed one
        (``published["p_value"]``): ``reproduced`` when it rounds to it, else ``discrepant``."""
        printed = published.get("p_value")
        outcome = "reproduced" if rounds_to(p, printed) else "discrepant"
        if outcome == "discrepant" and not note:
            note = f"re-derived p = {p:.4f}, printed {printed}"
        pub = {**_published(published), "published_estimate": printed}
        return self.row(**pub, analysis=analysis, p_value=p, verdict=outcome, note=note,
                        **values)

    def audited_row(self, published: Mapping[str, Any], checks: Iterable[Any], *,
                    analysis: str, note: str = "", **values: Any) -> dict[str, Any]:
        """A published result checked only by :mod:`metakit.audit`.

        The verdict and assumption are :func:`audit_verdict`'s; the note lists each failed
        check's explanation, then ``note``.
        """
        checks = list(checks)
        outcome, assumption = audit_verdict(checks)
        note = join_notes((failure_note(checks), note))
        return self.row(**_published(published), analysis=analysis, verdict=outcome,
                        assumption=assumption, note=note, **values)

    def audited(self, published: Mapping[str, Any], checks: Iterable[Any], *, analysis: str,
                note: str = "", **values: Any) -> str:
        """Add :meth:`audited_row`'s row and return its verdict."""
        self.rows.append(self.audited_row(published, checks, analysis=analysis, note=note,
                                          **values))
        return self.rows[-1]["verdict"]

    def missing_row(self, published: Mapping[str, Any], *, analysis: str,
                    note: str) -> dict[str, Any]:
        """A published result that can be neither re-derived nor checked."""
        return self.row(**_published(published), analysis=analysis,
                        verdict="not_reproducible", note=note)

    def missing(self, published: Mapping[str, Any], *, analysis: str, note: str) -> None:
        """Add :meth:`missing_row`'s row."""
        self.rows.append(self.missing_row(published, analysis=analysis, note=note))

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(**row)

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the contract's columns, in order."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def write(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``results.csv`` into ``out_dir`` atomically and return its path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        target = out / "results.csv"
        handle, tmp = tempfile.mkstemp(dir=out, prefix=".results-", suffix=".csv")
        try:
            with os.fdopen(handle, "w", newline="") as stream:
                self.frame().to_csv(stream, index=False)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
