"""Tables that every review notebook shows: sources, verdicts, provenance.

Kept here so that the five notebooks present their data and results the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from metakit.publish.provenance import file_checksums, git_commit, package_versions
from metakit.workbook.contract import TALLY, tally
from metakit.workbook.results import ResultsTable

VERDICT_COLOURS = {
    "reproduced": "#d9f2d9", "consistent": "#e8f4fb", "new": "#f2f2f2",
    "discrepant": "#fde2c8", "inconsistent": "#f8d0d0", "deviates": "#fff1c2",
    "not_reproducible": "#eeeeee",
}


def sources(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per data file: rows, columns and the distinct sources its values come from."""
    rows = []
    for name, frame in tables.items():
        cited = sorted({str(s) for s in frame["source"].dropna()})
        derived = int(frame["derivation"].notna().sum()) if "derivation" in frame else 0
        rows.append({"file": f"{name}.csv", "rows": len(frame), "derived values": derived,
                     "sources": "; ".join(cited[:6]) + (" …" if len(cited) > 6 else "")})
    return pd.DataFrame(rows).set_index("file")


def verdict_counts(results: ResultsTable | pd.DataFrame) -> pd.Series:
    """Number of results per verdict (:func:`metakit.workbook.contract.tally`: contradictions
    firm and conditional apart), in the order of :data:`~metakit.workbook.contract.TALLY`."""
    frame = results.frame() if isinstance(results, ResultsTable) else results
    counts = tally(frame.to_dict("records"))
    return pd.Series(counts.values(), index=list(TALLY.values()), name="results")


def verdict_table(results: ResultsTable | pd.DataFrame,
                  columns: tuple[str, ...] = ("analysis_id", "outcome", "subgroup", "model", "k",
                                              "estimate", "ci_low", "ci_high",
                                              "published_estimate", "published_ci_low",
                                              "published_ci_high", "verdict", "note"),
                  digits: int = 3) -> Any:
    """Published beside reproduced, one row per result, coloured by verdict (HTML-escaped)."""
    frame = results.frame() if isinstance(results, ResultsTable) else results
    shown = frame.loc[:, [c for c in columns if c in frame.columns]].copy()
    for column in ("estimate", "ci_low", "ci_high"):
        if column in shown:
            shown[column] = pd.to_numeric(shown[column], errors="coerce").round(digits)

    def colour(row: pd.Series) -> list[str]:
        return [f"background-color: {VERDICT_COLOURS.get(row['verdict'], 'white')}"] * len(row)

    return (shown.style.apply(colour, axis=1).format(na_rep="", escape="html", precision=digits)
            .hide(axis="index"))


def provenance(data_dir: str | Path, parameters: Mapping[str, Any]) -> pd.DataFrame:
    """Versions, git commit, parameter values and SHA-256 of every data file."""
    root = Path(__file__).resolve().parents[2]
    rows = [("git commit", git_commit(root) or "not a git checkout")]
    rows += [(f"version: {name}", version) for name, version in package_versions().items()]
    rows += [(f"parameter: {name}", repr(value)) for name, value in parameters.items()]
    rows += [(f"sha256: {name}", digest)
             for name, digest in file_checksums(Path(data_dir)).items()]
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")
