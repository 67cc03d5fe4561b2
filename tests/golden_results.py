"""Golden results: each review's verdicts pinned, so that no change to one goes unnoticed.

``tests/golden/<review>.csv`` holds, per row of the review's ``results.csv``: ``analysis_id``,
``verdict``, ``assumption`` and the re-derived ``estimate``, ``ci_low``, ``ci_high`` rounded to
4 significant digits. A deliberate change of a verdict updates the golden file in the same commit
(``pytest tests/test_golden.py --update-golden``), with the reason in the commit message.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).parent / "golden"
COLUMNS = ("analysis_id", "verdict", "assumption", "estimate", "ci_low", "ci_high")
NUMBERS = ("estimate", "ci_low", "ci_high")


def _significant(value: object) -> str:
    """A number to 4 significant digits (``""`` when empty)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if math.isnan(x):
        return ""
    return f"{x:.4g}"


def golden_frame(results: pd.DataFrame) -> pd.DataFrame:
    """The golden columns of a results table, numbers as 4-significant-digit text."""
    frame = results.loc[:, list(COLUMNS)].copy()
    for column in NUMBERS:
        frame[column] = frame[column].map(_significant)
    frame["assumption"] = frame["assumption"].fillna("").astype(str)
    return frame.astype(str).reset_index(drop=True)


def read_golden(review: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / f"{review}.csv", dtype=str, keep_default_na=False)


def write_golden(review: str, results: pd.DataFrame) -> None:
    GOLDEN.mkdir(exist_ok=True)
    golden_frame(results).to_csv(GOLDEN / f"{review}.csv", index=False)


def differences(expected: pd.DataFrame, actual: pd.DataFrame) -> list[str]:
    """Every difference between two golden frames, one line each, naming row and column."""
    lines = []
    expected = expected.set_index("analysis_id")
    actual = actual.set_index("analysis_id")
    for key in actual.index.difference(expected.index, sort=False):
        lines.append(f"{key}: new row (verdict {actual.loc[key, 'verdict']})")
    for key in expected.index.difference(actual.index, sort=False):
        lines.append(f"{key}: row missing (was {expected.loc[key, 'verdict']})")
    for key in expected.index.intersection(actual.index, sort=False):
        for column in COLUMNS[1:]:
            was, now = expected.loc[key, column], actual.loc[key, column]
            if was != now:
                lines.append(f"{key}: {column} {was!r} -> {now!r}")
    return lines
