"""Load and validate a review's data folder (the data contract of ``DESIGN.md``).

Every CSV in ``data/<review>/`` is read as text, then checked by column-name rules (listed in
``data/README.md``): counts are whole and non-negative, events do not exceed their totals, SDs
are positive, CIs bracket their estimates, percentages lie in 0-100, every row names its
``source``, and study keys are unique. A file that breaks a rule raises :class:`DataError`
naming file, row (as a spreadsheet numbers it: header = row 1) and column. ``published.csv``
keeps every value as printed text, so that its precision is known to the audit.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

DATA_ROOT = Path(__file__).resolve().parents[2] / "data"
PUBLISHED_COLUMNS = ("analysis_id", "outcome", "measure", "estimate", "ci_low", "ci_high", "i2",
                     "k", "source")
KEY_COLUMNS = ("study", "figure", "outcome", "timepoint", "timepoint_months", "arm", "subgroup",
               "domain", "measure")
TEXT_MISSING = ("", "NA", "na", "n/a", "N/A")
COUNT = re.compile(r"^(ai|ci|xi|events|events_\w+)$")
SIZE = re.compile(r"^(n1i|n2i|ni|n|n_\w+)$")
SD = re.compile(r"^(sd1i|sd2i|sd|sd_\w+)$")
PERCENT = re.compile(r"^(weight|pct|pct_\w+|i2)$")
NUMERIC = re.compile(r"^(estimate|ci_low|ci_high|p_value|mean\w*|m1i|m2i|yi|vi|se\w*)$")
PAIRS = {"ai": "n1i", "ci": "n2i", "xi": "ni", "events": "n"}


class DataError(ValueError):
    """A data file breaks the data contract; the message names file, row and column."""


def _where(path: Path, row: int | None, column: str | None) -> str:
    parts = [path.name if path.parent.name == "" else f"{path.parent.name}/{path.name}"]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)


def _spreadsheet_row(index: int) -> int:
    return index + 2


def _numeric(path: Path, frame: pd.DataFrame, column: str, *, allow_bound: bool) -> pd.Series:
    text = frame[column].fillna("").astype(str).str.strip().str.replace("−", "-", regex=False)
    if allow_bound:
        text = text.str.lstrip("<>≤≥=").str.strip()
    text = text.str.rstrip("%")
    values = pd.to_numeric(text.where(text != "", None), errors="coerce")
    bad = values.isna() & (text != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{_where(path, _spreadsheet_row(i), column)}: "
                        f"{frame[column].iloc[i]!r} is not a number")
    return values


def _check(path: Path, frame: pd.DataFrame, column: str, mask: pd.Series, rule: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask.to_numpy())[0])
        value = frame[column].iloc[i]
        shown = "(empty)" if pd.isna(value) else repr(value)
        raise DataError(f"{_where(path, _spreadsheet_row(i), column)}: {shown} {rule}")


def validate(frame: pd.DataFrame, path: Path, *, published: bool = False) -> pd.DataFrame:
    """Check ``frame`` (read as text from ``path``) and return it with numeric columns converted.

    ``published.csv`` (``published=True``) keeps its text and is only checked for numbers that
    parse and for its required columns; its CIs may fail to bracket (that is a finding).
    """
    if "source" not in frame.columns:
        raise DataError(f"{_where(path, None, 'source')}: every data file needs a source column")
    empty_source = frame["source"].fillna("").str.strip() == ""
    _check(path, frame, "source", empty_source, "is not allowed: every row needs its source")
    if published:
        missing = [c for c in PUBLISHED_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"{_where(path, None, None)}: missing column(s) {missing}")
        ids = frame["analysis_id"].fillna("")
        _check(path, frame, "analysis_id", ids.str.strip() == "", "is empty")
        _check(path, frame, "analysis_id", ids.duplicated(), "is not unique")
        for column in ("estimate", "ci_low", "ci_high", "i2", "k", "p_value", "z", "q", "q_df",
                       "tau2"):
            if column in frame.columns:
                _numeric(path, frame, column, allow_bound=True)
        return frame

    out = frame.copy()
    for column in frame.columns:
        name = column.strip()
        if COUNT.match(name) or SIZE.match(name):
            values = _numeric(path, frame, column, allow_bound=False)
            _check(path, frame, column, values.notna() & (values != values.round()),
                   "is not a whole number")
            lower = 1 if SIZE.match(name) else 0
            _check(path, frame, column, values < lower, f"must be >= {lower}")
            out[column] = values.astype("Int64")
        elif SD.match(name):
            values = _numeric(path, frame, column, allow_bound=False)
            _check(path, frame, column, values <= 0, "must be > 0")
            out[column] = values
        elif PERCENT.match(name):
            values = _numeric(path, frame, column, allow_bound=False)
            _check(path, frame, column, (values < 0) | (values > 100), "must be within 0-100")
            out[column] = values
        elif NUMERIC.match(name):
            out[column] = _numeric(path, frame, column, allow_bound=name == "p_value")
    for events, total in list(PAIRS.items()) + [
            (c, "n_" + c[len("events_"):]) for c in frame.columns if c.startswith("events_")]:
        if events in out.columns and total in out.columns:
            _check(path, frame, events, (out[events] > out[total]).fillna(False),
                   f"exceeds {total}")
    if {"estimate", "ci_low", "ci_high"} <= set(out.columns):
        outside = (out["ci_low"] > out["estimate"]) | (out["estimate"] > out["ci_high"])
        _check(path, frame, "estimate", outside.fillna(False),
               "is outside its CI [ci_low, ci_high]")
    keys = [c for c in KEY_COLUMNS if c in out.columns]
    if "study" in keys:
        duplicated = out.duplicated(subset=keys, keep="first")
        _check(path, frame, "study", duplicated, f"repeats the key {keys}")
    return out


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one CSV of a review's data folder and validate it (see :func:`validate`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=list(TEXT_MISSING))
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{_where(path, None, None)}: not a readable CSV ({error})") from None
    frame.columns = [c.strip() for c in frame.columns]
    return validate(frame, path, published=path.name == "published.csv")


def review_dir(review: str, data_dir: str | Path | None = None) -> Path:
    """The data folder of ``review`` (``data/<review>`` unless ``data_dir`` is given)."""
    folder = Path(data_dir) if data_dir else DATA_ROOT / review
    if not folder.is_dir():
        raise DataError(f"{folder}: no data folder for review {review!r}")
    return folder


def load_review(review: str, data_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """All validated tables of a review, keyed by file stem (``published`` included)."""
    folder = review_dir(review, data_dir)
    return {path.stem: read_table(path) for path in sorted(folder.glob("*.csv"))}
