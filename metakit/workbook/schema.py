"""The data contract of a review's CSV files: what each file must hold, as pandera schemas.

Every column of every file is checked by the column-name rules of ``data/README.md`` (a column
called ``n`` holds a size, ``events`` a count, ``sd`` a positive number, ...). A review's
``data/<review>/schema.yaml`` adds, per file, only what differs from those rules or what the
analyses need::

    studies.csv:
      columns:
        study_id: {type: text, blank: false}   # must be present and filled in every row
        n_total: size                          # must be present; type of its own
        hr_pfs: number
      key: [study_id]                          # no two rows share these values
      one_to_one: [[study_id, study]]          # an id names one study, a study has one id

A column listed under ``columns`` must be present; ``blank: false`` forbids empty cells; ``key``
replaces the default key (the columns of :data:`KEY_COLUMNS` present, when ``study`` is one of
them); ``one_to_one`` pairs are added to the default pair (``study_id``, ``study``). A file
listed in ``schema.yaml`` must exist; a file not listed is checked by the rules alone.

The column types (:data:`TYPES`) are

========== ================================================================================
text        any text (kept as text)
count       a whole number >= 0 (nullable integer)
size        a whole number >= 1 (nullable integer)
number      a finite number
percent     a finite number from 0 to 100; a trailing ``%`` is allowed
probability a number from 0 to 1; a leading ``<`` or ``>`` is allowed (``<0.001``)
sd          a finite number > 0
printed     text kept exactly as printed that reads as a number (bound signs allowed):
            every number column of ``published.csv``
========== ================================================================================

Every file needs a ``source`` column filled in every row; events may not exceed their totals
(:data:`PAIRS`, and ``events_X`` against ``n_X``); where ``estimate``, ``ci_low`` and ``ci_high``
are numbers the interval must bracket the estimate (not in ``published.csv``: a printed CI that
fails to bracket is a finding for the audit).

References
----------
.. [1] Bantilan N. pandera: Statistical data validation of pandas dataframes. Proceedings of the
   19th Python in Science Conference (SciPy 2020), 116-124. doi:10.25080/Majora-342d178e-010
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from metakit.workbook.yamlfile import load_yaml

SCHEMA_FILE = "schema.yaml"
PUBLISHED_FILE = "published.csv"

ColumnType = Literal["text", "count", "size", "number", "percent", "probability", "sd", "printed"]
TYPES: tuple[str, ...] = ColumnType.__args__
"""The column types a schema may name."""

KEY_COLUMNS = ("study", "figure", "outcome", "timepoint", "timepoint_months", "arm", "subgroup",
               "domain", "measure")
"""The default key: those of these columns a file has, when ``study`` is one of them."""
PUBLISHED_COLUMNS = ("analysis_id", "outcome", "measure", "estimate", "ci_low", "ci_high", "i2",
                     "k", "source")
"""Columns every ``published.csv`` has; ``analysis_id`` is its key."""
PUBLISHED_NUMBERS = ("estimate", "ci_low", "ci_high", "i2", "k", "p_value", "z", "q", "q_df",
                     "tau2")
"""Columns of ``published.csv`` holding printed numbers (type ``printed``)."""
PAIRS = {"ai": "n1i", "ci": "n2i", "xi": "ni", "events": "n"}
"""Events column -> the total it may not exceed (plus every ``events_X`` -> ``n_X``)."""
ONE_TO_ONE = (("study_id", "study"),)
"""Identifier pairs that must map one-to-one wherever a file has both."""
MISSING_TEXT = ("", "NA", "na", "n/a", "N/A")
"""Cell texts read as empty ("not reported")."""

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(ai|ci|xi|events|events_\w+)$"), "count"),
    (re.compile(r"^(n1i|n2i|ni|n|n_\w+)$"), "size"),
    (re.compile(r"^(sd1i|sd2i|sd|sd_\w+)$"), "sd"),
    (re.compile(r"^(weight|pct|pct_\w+|i2)$"), "percent"),
    (re.compile(r"^p_value$"), "probability"),
    (re.compile(r"^(estimate|ci_low|ci_high|mean\w*|m1i|m2i|yi|vi|se\w*)$"), "number"),
)
_BOUND_SIGNS = "<>≤≥="
_INTEGER_TYPES = ("count", "size")


class DataError(ValueError):
    """A data file breaks the data contract, or ``schema.yaml`` is unusable; the message is one
    line naming the file (and row, column or entry)."""


class Column(BaseModel):
    """One column a file must have."""

    model_config = ConfigDict(extra="forbid")
    type: ColumnType | None = None
    blank: bool = True


class FileSchema(BaseModel):
    """What one CSV file must hold beyond the column-name rules."""

    model_config = ConfigDict(extra="forbid")
    columns: dict[str, ColumnType | Column] = {}
    key: list[str] | None = None
    one_to_one: list[tuple[str, str]] = []

    def column(self, name: str) -> Column | None:
        spec = self.columns.get(name)
        return Column(type=spec) if isinstance(spec, str) else spec


_SCHEMA_ADAPTER: TypeAdapter[dict[str, FileSchema]] | None = None


def load_schema(folder: Path) -> dict[str, FileSchema]:
    """The file schemas of a data folder's ``schema.yaml`` (``{}`` when it has none).

    Raises
    ------
    DataError
        The file is not YAML, or an entry is not a file schema (the message names the entry).
    """
    global _SCHEMA_ADAPTER
    path = folder / SCHEMA_FILE
    if not path.is_file():
        return {}
    where = f"{folder.name}/{SCHEMA_FILE}"
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DataError(f"{where}: not valid YAML ({type(error).__name__})") from None
    if _SCHEMA_ADAPTER is None:
        _SCHEMA_ADAPTER = TypeAdapter(dict[str, FileSchema])
    try:
        schemas = _SCHEMA_ADAPTER.validate_python(raw)
    except ValidationError as error:
        first = error.errors()[0]
        entry = " > ".join(str(part) for part in first["loc"])
        raise DataError(f"{where}: {entry}: {first['msg']}") from None
    for name in schemas:
        if not name.endswith(".csv") or "/" in name:
            raise DataError(f"{where}: {name!r} is not a CSV file of the folder")
    return schemas


def column_type(name: str, spec: FileSchema | None, published: bool) -> str:
    """The type of column ``name``: the schema's, else the column-name rule's, else ``text``."""
    declared = spec.column(name) if spec else None
    if declared is not None and declared.type is not None:
        return declared.type
    if published:
        return "printed" if name in PUBLISHED_NUMBERS else "text"
    return next((kind for pattern, kind in _RULES if pattern.match(name)), "text")


# --------------------------------------------------------------------------------------------
# The pandera schema of one file
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """What a failed check means, for the message: the column to name, the phrase, and its rank
    among failures of one cell (a value that is not a number comes before a broken rule)."""

    column: str
    phrase: str
    rank: int = 2


def _text(series: pd.Series) -> pd.Series:
    text = series.str.strip().str.replace("−", "-", regex=False)
    return text.mask(text == "")


def _number_text(series: pd.Series, bounds: bool) -> pd.Series:
    """Cell texts as numbers read: trimmed, Unicode minus, no trailing ``%`` (nor bound sign)."""
    text = _text(series)
    if bounds:
        text = text.str.lstrip(_BOUND_SIGNS).str.strip()
    return text.str.rstrip("%")


def _numbers(series: pd.Series) -> pd.Series:
    """Cells as numbers, those that are not numbers (``nan`` and words included) as NaN."""
    return pd.to_numeric(series, errors="coerce")


def _reads(series: pd.Series) -> pd.Series:
    return _numbers(series).notna()


def _finite(series: pd.Series) -> pd.Series:
    values = _numbers(series)
    return values.isna() | np.isfinite(values)


def _holds(test: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series], pd.Series]:
    """``test`` on the cells that are numbers (the others fail :func:`_reads` on their own)."""
    def check(series: pd.Series) -> pd.Series:
        values = _numbers(series)
        return values.isna() | test(values)
    return check


_READS = [(_reads, "is not a number", 0), (_finite, "is not a finite number", 0)]
_CHECKS: dict[str, list[tuple[Callable[[pd.Series], pd.Series], str, int]]] = {
    "count": [*_READS, (_holds(lambda v: v == v.round()), "is not a whole number", 2),
              (_holds(lambda v: v >= 0), "must be >= 0", 2)],
    "size": [*_READS, (_holds(lambda v: v == v.round()), "is not a whole number", 2),
             (_holds(lambda v: v >= 1), "must be >= 1", 2)],
    "number": _READS,
    "percent": [*_READS, (_holds(lambda v: (v >= 0) & (v <= 100)), "must be within 0-100", 2)],
    "probability": [*_READS, (_holds(lambda v: (v >= 0) & (v <= 1)), "must be within 0-1", 2)],
    "sd": [*_READS, (_holds(lambda v: v > 0), "must be > 0", 2)],
    "printed": [(lambda s: _reads(_number_text(s, bounds=True)), "is not a number", 0)],
}


@dataclass(frozen=True)
class TableSchema:
    """A file's pandera schema, with what its checks mean and its columns' types."""

    schema: pa.DataFrameSchema
    rules: dict[str, Rule]
    types: dict[str, str]
    key: tuple[str, ...]

    def convert(self, valid: pd.DataFrame) -> pd.DataFrame:
        """The validated frame with numbers as :func:`pandas.to_numeric` reads them (``int64``
        where every cell is a whole number) and counts and sizes as nullable integers."""
        for name, kind in self.types.items():
            if name in valid.columns and kind not in ("text", "printed"):
                values = pd.to_numeric(valid[name])
                valid[name] = values.astype("Int64") if kind in _INTEGER_TYPES else values
        return valid


def table_schema(name: str, columns: Sequence[str], spec: FileSchema | None) -> TableSchema:
    """The pandera schema of file ``name`` with header ``columns`` under its ``schema.yaml`` entry.

    Parameters
    ----------
    name : str
        File name (``published.csv`` is kept as printed text).
    columns : sequence of str
        The file's header.
    spec : FileSchema, optional
        The file's entry in ``schema.yaml``.
    """
    published = name == PUBLISHED_FILE
    rules: dict[str, Rule] = {}

    def check(column: str, test: Callable[..., pd.Series], phrase: str, rank: int = 2,
              rows: bool = False) -> pa.Check:
        check_name = f"{column}: {phrase}"
        rules[check_name] = Rule(column, phrase, rank)
        # a row check sees every row: pandera would otherwise pass rows with any empty cell
        return pa.Check(test, name=check_name, error=phrase, ignore_na=not rows)

    required = [*(spec.columns if spec else ()), "source",
                *(PUBLISHED_COLUMNS if published else ())]
    types = {c: column_type(c, spec, published) for c in dict.fromkeys([*columns, *required])}
    filled = {"source", *(["analysis_id"] if published else [])}
    filled |= {c for c in types if spec and spec.column(c) and not spec.column(c).blank}
    schema_columns = {}
    for column, kind in types.items():
        numeric = kind not in ("text", "printed")
        schema_columns[column] = pa.Column(
            None, nullable=column not in filled, required=column in required,
            parsers=pa.Parser(lambda s, b=kind == "probability": _number_text(s, b))
            if numeric else None,
            checks=[check(column, test, phrase, rank)
                    for test, phrase, rank in _CHECKS.get(kind, ())])

    frame_checks = []
    pairs = dict(PAIRS) | {c: "n_" + c[len("events_"):] for c in types if c.startswith("events_")}
    for events, total in pairs.items():
        if not published and events in types and total in types:
            frame_checks.append(check(events, lambda d, e=events, t=total:
                                      ~(_numbers(d[e]) > _numbers(d[t])), f"exceeds {total}",
                                      rows=True))
    if not published and {"estimate", "ci_low", "ci_high"} <= set(types) and all(
            types[c] == "number" for c in ("estimate", "ci_low", "ci_high")):
        frame_checks.append(check("estimate", lambda d: ~(
            (_numbers(d["ci_low"]) > _numbers(d["estimate"]))
            | (_numbers(d["estimate"]) > _numbers(d["ci_high"]))),
            "is outside its CI [ci_low, ci_high]", rows=True))
    for left, right in [*ONE_TO_ONE, *(spec.one_to_one if spec else ())]:
        if left in types and right in types:
            for one, other in ((left, right), (right, left)):
                frame_checks.append(check(one, lambda d, a=one, b=other: _one_to_one(d, a, b),
                                          f"is paired with another {other} in an earlier row",
                                          rows=True))

    if spec and spec.key is not None:
        key = tuple(spec.key)
    elif published:
        key = ("analysis_id",)
    else:
        present = tuple(c for c in KEY_COLUMNS if c in types)
        key = present if "study" in present else ()
    rules["multiple_fields_uniqueness"] = Rule(key[0] if key else "",
                                               f"repeats the key {list(key)}", rank=1)
    schema = pa.DataFrameSchema(schema_columns, checks=frame_checks, unique=list(key) or None,
                                report_duplicates="exclude_first", name=name)
    return TableSchema(schema, rules, types, key)


def _one_to_one(frame: pd.DataFrame, left: str, right: str) -> pd.Series:
    """False where a row pairs its ``left`` value with another ``right`` than an earlier row."""
    pairs = frame[[left, right]].dropna()
    first = pairs.groupby(left, sort=False)[right].transform("first")
    return (pairs[right] == first).reindex(frame.index, fill_value=True).astype(bool)
