"""Fault injection, data files: edits a user could make to a review's CSV files (in a copy of the
repository's own data folders), each rejected at loading with one line naming file, row and column
and quoting at most a short value; and a broken data file met by a build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from faults import quick_project, reports, run
from metakit.engine._text import QUOTE_CHARS
from metakit.workbook.data import DataError, load_review

from conftest import REPO

DATA = REPO / "data"


@pytest.fixture
def copy(tmp_path: Path):
    """``copy(review)``: a copy of ``data/<review>`` to edit."""
    def make(review: str) -> Path:
        return Path(shutil.copytree(DATA / review, tmp_path / review))
    return make


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def rejected(review: str, folder: Path) -> str:
    with pytest.raises(DataError) as info:
        load_review(review, folder)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    assert "dtype:" not in message and "Name:" not in message  # no pandas Series echo
    return message


def test_study_id_repeated_with_another_name_is_rejected(copy):
    """The issue: a row whose study id repeats another row's, with a different study name, passed
    validation and changed three verdicts of the ovarian review."""
    folder = copy("ovarian")
    edit(folder / "studies.csv", "Muller2022", "Tew2020")
    assert rejected("ovarian", folder).startswith(
        "ovarian/studies.csv, row 4, column 'study_id': 'Tew2020' repeats the key ['study_id']")


def test_same_study_under_two_ids_is_rejected(copy):
    folder = copy("iua")
    edit(folder / "emt.csv", "Singh et al. (2020),Singh2020,6 months",
         "Singh et al. (2020),Singh2014,6 months")
    assert rejected("iua", folder).startswith(
        "iua/emt.csv, row 8, column 'study': 'Singh et al. (2020)' is paired with another "
        "study_id in an earlier row")


def test_missing_column_the_analysis_needs(copy):
    """The issue: KeyError: 'n_total' inside the notebook."""
    folder = copy("nonunion")
    edit(folder / "studies.csv", ",n_total,", ",total,")
    assert rejected("nonunion", folder) == (
        "nonunion/studies.csv, column 'n_total': missing: schema.yaml requires it")


def test_empty_file(copy):
    """The issue: pandas' EmptyDataError."""
    folder = copy("por")
    (folder / "complications.csv").write_text("")
    assert rejected("por", folder) == "por/complications.csv: empty file (no header row)"


def test_blank_count(copy):
    """The issue: 'cannot convert NA to integer' inside the notebook."""
    folder = copy("cirrhosis")
    lines = (folder / "outcomes.csv").read_text().splitlines()
    cells = lines[2].split(",")
    header = lines[0].split(",")
    cells[header.index("n_msc")] = ""
    lines[2] = ",".join(cells)
    (folder / "outcomes.csv").write_text("\n".join(lines) + "\n")
    assert rejected("cirrhosis", folder) == (
        "cirrhosis/outcomes.csv, row 3, column 'n_msc': (empty) is not allowed: schema.yaml requires "
        "a value in every row")


def test_text_in_a_2000_row_column_names_the_row_and_value(tmp_path):
    """The issue: a truncated pandas Series was echoed instead of the row and value."""
    folder = tmp_path / "big"
    folder.mkdir()
    rows = [f"S{i},{i % 7},{10 + i % 5},T1" for i in range(2000)]
    rows[1731] = "S1731,three," + "x" * 10_000 + ",T1"
    (folder / "counts.csv").write_text("study,events,n,source\n" + "\n".join(rows) + "\n")
    message = rejected("big", folder)
    assert message == "big/counts.csv, row 1733, column 'events': 'three' is not a number " \
                      "(and 1 more problem(s) in this file)"


def test_long_value_is_quoted_short(tmp_path):
    folder = tmp_path / "long"
    folder.mkdir()
    (folder / "counts.csv").write_text(f"study,n,source\nA,{'9' * 4_000_000}x,T1\n")
    message = rejected("long", folder)
    assert message.startswith("long/counts.csv, row 2, column 'n': '999")
    assert message.endswith(" is not a number") and len(message) < 60 + QUOTE_CHARS


@pytest.mark.parametrize("name, text, message", [
    ("a.csv", b"study,n,source\nA,1\xe9,T1\n", "r/a.csv: not UTF-8 text (byte 18)"),
    ("a.csv", b"study,n,source\nA,1,T1,extra\n", "r/a.csv, row 2: 4 fields, the header has 3"),
    ("a.csv", b"study,n,source\nA,1,T1\nB,2\n", "r/a.csv, row 3: 2 fields, the header has 3"),
    ("a.csv", b'study,n,source\n"A,1,T1\n', "r/a.csv, row 2: 1 fields, the header has 3"),
    ("a.csv", b"study,n,n,source\nA,1,2,T1\n", "r/a.csv, row 1, column 'n': the header names this column twice"),
    ("a.csv", b"study,n,source\nA,1,T1\n\nB,2,T1\n",
     "r/a.csv, row 3, column 'source': (empty) is not allowed: every row needs its source"),
    ("a.csv", b"study,events,n,source\nA,7,5,T1\n", "r/a.csv, row 2, column 'events': '7' exceeds n"),
    ("a.csv", b"study,p_value,source\nA,1.5,T1\n", "r/a.csv, row 2, column 'p_value': '1.5' must be within 0-1"),
    ("a.csv", b"study,sd,source\nA,nan,T1\n", "r/a.csv, row 2, column 'sd': 'nan' is not a number"),
    ("a.csv", b"study,mean,source\nA,-inf,T1\n", "r/a.csv, row 2, column 'mean': '-inf' is not a finite number"),
    ("published.csv", b"analysis_id,outcome,measure,estimate,ci_low,ci_high,i2,k,source\na,x,OR,0.4O,0.2,0.8,0,3,T2\n",
     "r/published.csv, row 2, column 'estimate': '0.4O' is not a number"),
])
def test_malformed_file(tmp_path, name, text, message):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / name).write_bytes(text)
    assert rejected("r", folder) == message


def test_schema_listing_a_missing_file(copy):
    folder = copy("ovarian")
    (folder / "study_search.csv").unlink()
    assert rejected("ovarian", folder) == (
        "ovarian/study_search.csv: no such data file (schema.yaml lists it)")


@pytest.mark.slow
def test_broken_data_file_fails_the_review_with_its_location(tmp_path):
    """Through the build: the notebook's load_review fails; exit 1, the progress line and the
    index name file, row and column, and the last good report stays."""
    review = "iua"
    cells = ("# Loads its data", "from metakit.workbook.data import load_review\n"
             "load_review(review, data_dir)\n"
             "import json, pathlib\n"
             "pathlib.Path(output_dir, 'status.json').write_text("
             "json.dumps({'status': 'not_implemented'}))")
    root = quick_project(tmp_path / "project", review, cells=cells)
    out = tmp_path / "out"
    assert run(root, out, "--only", review).returncode == 0
    good = reports(out)[f"{review}/{review}.html"]
    (root / "data" / review / "studies.csv").write_text("study,n,source\nA 2020,ten,T1\n")
    result = run(root, out, "--only", review)
    assert result.returncode == 1 and result.stderr == ""
    location = f"DataError: {review}/studies.csv, row 2, column 'n': 'ten' is not a number"
    assert location in result.stdout
    assert location.replace("'", "&#x27;") in (out / "index.html").read_text()
    assert reports(out)[f"{review}/{review}.html"] == good
