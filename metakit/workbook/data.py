"""Load and validate a review's data folder (the data contract of ``DESIGN.md``).

Every CSV in ``data/<review>/`` is read as text and validated against its schema
(:mod:`metakit.workbook.schema`: the column-name rules of ``data/README.md`` plus the folder's
``schema.yaml``); numbers, counts and sizes come back converted, text and ``published.csv`` as
printed. A file that breaks the contract raises :class:`DataError` with one line naming file,
row (as a spreadsheet numbers it: header = row 1), column and the offending value (quoted, at most
:data:`QUOTE_CHARS` characters), and how many more problems the file has.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrorReason

from metakit.engine._text import quote
from metakit.workbook.schema import (
    MISSING_TEXT, PUBLISHED_FILE, SCHEMA_FILE, DataError, FileSchema, TableSchema, load_schema,
    table_schema,
)

DATA_ENV = "METAKIT_DATA"
"""Environment variable naming the project's data folder (see :func:`data_root`)."""


def _where(path: Path, row: int | None = None, column: str | None = None) -> str:
    parts = [f"{path.parent.name}/{path.name}" if path.parent.name else path.name]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {quote(column)}")
    return ", ".join(parts)


def _missing_column(column: str, path: Path) -> str:
    if column == "source":
        return "missing: every data file needs a source column"
    if path.name == PUBLISHED_FILE:
        return f"missing: every {PUBLISHED_FILE} needs it"
    return f"missing: {SCHEMA_FILE} requires it"


def _empty_cell(column: str) -> str:
    if column == "source":
        return "(empty) is not allowed: every row needs its source"
    return f"(empty) is not allowed: {SCHEMA_FILE} requires a value in every row"


def _problems(errors: pa.errors.SchemaErrors, table: TableSchema,
              path: Path) -> list[tuple[int, int, int, str, str]]:
    """``(row index, column position, rank, column, phrase)`` of every failure pandera reports.

    A column missing from the file has row index -1; of two failures of one cell, an empty cell
    or one that is not a number (rank 0) comes before a repeated key (1) and a broken rule (2).
    """
    order = {column: i for i, column in enumerate(table.types)}
    found = []
    for error in errors.schema_errors:
        reason = error.reason_code
        if reason == SchemaErrorReason.COLUMN_NOT_IN_DATAFRAME:
            column = str(error.failure_cases)
            found.append((-1, order.get(column, 0), 0, column, _missing_column(column, path)))
            continue
        if reason == SchemaErrorReason.SERIES_CONTAINS_NULLS:
            rank, column = 0, error.schema.name
            phrase = _empty_cell(column)
        elif reason == SchemaErrorReason.DUPLICATES:
            rule = table.rules["multiple_fields_uniqueness"]
            rank, column, phrase = rule.rank, rule.column, rule.phrase
        elif getattr(error.check, "name", None) in table.rules:
            rule = table.rules[error.check.name]
            rank, column, phrase = rule.rank, rule.column, rule.phrase
        else:
            continue
        for index in dict.fromkeys(error.failure_cases["index"]):
            if index is not None and not pd.isna(index):
                found.append((int(index), order.get(column, 0), rank, column, phrase))
    return found


def validate(frame: pd.DataFrame, path: Path, spec: FileSchema | None = None) -> pd.DataFrame:
    """Check ``frame`` (read as text from ``path``) and return it with numbers converted.

    Parameters
    ----------
    frame : pandas.DataFrame
        The file's cells as text, empty cells as missing.
    path : Path
        Where it was read (named in messages; ``published.csv`` keeps its printed text).
    spec : FileSchema, optional
        The file's entry in its folder's ``schema.yaml``.

    Raises
    ------
    DataError
        The first problem (by row, then column) with file, row, column and quoted value.
    """
    table = table_schema(path.name, list(frame.columns), spec)
    try:
        valid = table.schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        problems = sorted(set(_problems(errors, table, path)))
        if not problems:  # not expected: every check of the schema has a phrase
            first = errors.schema_errors[0]
            raise DataError(f"{_where(path)}: breaks its schema ({first.reason_code.name})") \
                from None
        index, _, _, column, phrase = problems[0]
        more = f" (and {len(problems) - 1} more problem(s) in this file)" if len(problems) > 1 \
            else ""
        if index < 0:
            raise DataError(f"{_where(path, None, column)}: {phrase}{more}") from None
        value = frame[column].iloc[index]
        shown = "" if phrase.startswith("(empty)") else f"{quote(value)} "
        raise DataError(f"{_where(path, index + 2, column)}: {shown}{phrase}{more}") from None
    return table.convert(valid)


def _header(path: Path) -> list[str]:
    """The stripped header of a CSV file, after checking that every row has as many fields.

    Raises
    ------
    DataError
        A row with more or fewer fields than the header (pandas would shift or pad it).
    StopIteration
        The file is empty.
    """
    limit = csv.field_size_limit(2**31 - 1)  # a cell may be long: the schema quotes it short
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            rows = csv.reader(stream)
            header = [name.strip() for name in next(rows)]
            for number, row in enumerate(rows, start=2):
                if row and len(row) != len(header):
                    raise DataError(f"{_where(path, number)}: {len(row)} fields, the header has "
                                    f"{len(header)}")
    finally:
        csv.field_size_limit(limit)
    return header


def read_table(path: str | Path, spec: FileSchema | None = None) -> pd.DataFrame:
    """Read one CSV of a review's data folder and validate it (see :func:`validate`).

    Parameters
    ----------
    path : path-like
        The CSV file.
    spec : FileSchema, optional
        Its ``schema.yaml`` entry; by default read from the ``schema.yaml`` beside the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    if spec is None:
        spec = load_schema(path.parent).get(path.name)
    try:
        header = _header(path)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=list(MISSING_TEXT),
                            skip_blank_lines=False, encoding="utf-8")
    except (pd.errors.EmptyDataError, StopIteration):
        raise DataError(f"{_where(path)}: empty file (no header row)") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{_where(path)}: not UTF-8 text (byte {error.start})") from None
    except (pd.errors.ParserError, csv.Error) as error:
        reason = str(error).strip().splitlines()[-1][:200]
        raise DataError(f"{_where(path)}: not a readable CSV ({reason})") from None
    repeated = next((name for i, name in enumerate(header) if name in header[:i]), None)
    if repeated is not None:
        raise DataError(f"{_where(path, 1, repeated)}: the header names this column twice")
    frame.columns = header
    return validate(frame, path, spec)


def data_root() -> Path:
    """The project's data folder, where a review given by id alone is looked for.

    ``$METAKIT_DATA`` when set, else the first of ``./data`` and ``../data`` that exists (a
    notebook opened in JupyterLab runs in ``notebooks/``). The package itself names no folder,
    so that it works installed outside a checkout.

    Raises
    ------
    DataError
        No such folder; the message says where it looked.
    """
    named = os.environ.get(DATA_ENV)
    candidates = [Path(named)] if named else [Path.cwd() / "data", Path.cwd().parent / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise DataError(f"no data folder (looked in {', '.join(map(str, candidates))}): give "
                    f"data_dir, or set {DATA_ENV}")


def review_dir(review: str, data_dir: str | Path | None = None) -> Path:
    """The data folder of ``review`` (``<data root>/<review>`` unless ``data_dir`` is given;
    see :func:`data_root`)."""
    folder = Path(data_dir) if data_dir else data_root() / review
    if not folder.is_dir():
        raise DataError(f"{folder}: no data folder for review {review!r}")
    return folder


def load_review(review: str, data_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """All validated tables of a review, keyed by file stem (``published`` included).

    Raises
    ------
    DataError
        No such folder, a ``schema.yaml`` that is unusable or lists a missing file, or a file
        that breaks the contract.
    """
    folder = review_dir(review, data_dir)
    schemas = load_schema(folder)
    missing = [name for name in schemas if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{_where(folder / missing[0])}: no such data file "
                        f"({SCHEMA_FILE} lists it)")
    return {path.stem: read_table(path, schemas.get(path.name, FileSchema()))
            for path in sorted(folder.glob("*.csv"))}
